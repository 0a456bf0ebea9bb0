"""Training loops and their safety nets."""
from .guard import DivergenceGuard  # noqa: F401
from .progress import Progress  # noqa: F401
from .callbacks import (  # noqa: F401
    Callback, CSVLogger, EarlyStopping, LRSchedulerCallback, ModelCheckpoint, TerminateOnNaN)
from .trainer import History, LRFindResult, Trainer, lr_find  # noqa: F401
