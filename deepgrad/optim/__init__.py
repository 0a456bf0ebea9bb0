"""Optimisation algorithms (``import deepgrad.optim as optim``) and learning-rate schedules
(``deepgrad.optim.lr_scheduler``), with PyTorch's names, arguments, defaults and update rules."""
from . import lr_scheduler  # noqa: F401
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "lr_scheduler"]
