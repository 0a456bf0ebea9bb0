"""Stateless neural-network functions (``import deepgrad.nn.functional as F``).

The functions live beside their primitives in ``deepgrad.ops``; this module gathers them under
PyTorch's names."""
from __future__ import annotations

from ..ops import elementwise as ew
from ..ops.linalg import linear  # noqa: F401
from ..ops.nn import log_softmax, pad, softmax  # noqa: F401

relu = ew.relu
sigmoid = ew.sigmoid
tanh = ew.tanh
leaky_relu = ew.leaky_relu
elu = ew.elu
gelu = ew.gelu
softplus = ew.softplus

from ..ops.conv import *  # noqa: E402,F401,F403
from ..ops.pool import *  # noqa: E402,F401,F403
from ..ops.norm import *  # noqa: E402,F401,F403
from ..ops.loss import *  # noqa: E402,F401,F403
from ..ops.embedding import *  # noqa: E402,F401,F403
from ..ops.dropout import *  # noqa: E402,F401,F403
from ..ops.recurrent import *  # noqa: E402,F401,F403
