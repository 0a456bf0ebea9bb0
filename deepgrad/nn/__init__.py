"""Neural-network building blocks (``import deepgrad.nn as nn``)."""
from . import functional, init  # noqa: F401
from .activation import (  # noqa: F401
    ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh)
from .container import ModuleDict, ModuleList, ParameterList, Sequential  # noqa: F401
from .linear import Flatten, Identity, Linear, Unflatten  # noqa: F401
from .module import Module  # noqa: F401
from .parameter import Buffer, Parameter  # noqa: F401
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
from . import utils  # noqa: F401,E402
