"""Callbacks: small objects that the ``Trainer`` calls at fixed points of ``fit`` (Keras' design).

Each hook receives the trainer and a dict of logs:

- ``on_train_begin(trainer, logs)``: ``{}``;
- ``on_epoch_begin(trainer, logs)``: ``{"epoch": e}`` (1-based);
- ``on_batch_end(trainer, logs)``: ``{"epoch", "batch", "loss", "lr", "verdict"}`` where verdict is
  the divergence guard's 'ok', 'skip' or 'restore' (always 'ok' without a guard);
- ``on_epoch_end(trainer, logs)``: the epoch's row of the history (``epoch``, ``loss``, each
  metric, ``val_loss`` and ``val_<metric>`` with validation data, ``lr``, ``time``);
- ``on_train_end(trainer, logs)``: the last epoch's row (``{}`` if no epoch finished).

A callback stops training by setting ``trainer.stop_training = True``; the trainer finishes the
current batch, then the epoch's bookkeeping (validation, on_epoch_end), and returns.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import deepgrad as dg
from deepgrad.optim.lr_scheduler import ReduceLROnPlateau

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "LRSchedulerCallback", "TerminateOnNaN",
           "CSVLogger", "copy_state", "is_improvement"]


def copy_state(obj):
    """A deep copy of a state (nested dicts, lists and tuples of tensors and plain values) whose
    tensors own their memory: what ``model.state_dict()`` and ``optimizer.state_dict()`` return shares
    memory with the live model, so a snapshot must copy it."""
    if isinstance(obj, dg.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: copy_state(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(copy_state(v) for v in obj)
    return obj


def is_improvement(value: float, best: float, mode: str, min_delta: float = 0.0) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` (lower in mode 'min', higher in
    'max'); a non-finite value never does."""
    if not math.isfinite(value):
        return False
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _check_mode(owner: str, mode: str) -> str:
    if mode not in ("min", "max"):
        raise ValueError(f"{owner}: mode must be 'min' or 'max', got {mode!r}")
    return mode


def _monitored(owner: str, monitor: str, logs: dict) -> float:
    if monitor not in logs:
        raise KeyError(f"{owner}: the monitored value {monitor!r} is not in the epoch logs "
                       f"(available: {', '.join(sorted(logs))}); 'val_*' values need validation data")
    return float(logs[monitor])


class Callback:
    """Base class: every hook does nothing; override the ones you need."""

    def on_train_begin(self, trainer, logs: dict) -> None:
        pass

    def on_epoch_begin(self, trainer, logs: dict) -> None:
        pass

    def on_batch_end(self, trainer, logs: dict) -> None:
        pass

    def on_epoch_end(self, trainer, logs: dict) -> None:
        pass

    def on_train_end(self, trainer, logs: dict) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model gets the weights of its best epoch back when training
    ends, whether it stopped early or ran all its epochs (the last epoch is not necessarily the best).
    The best weights are kept in memory. After ``fit``: ``best``, ``best_epoch``, ``stopped_epoch``
    (0 when it did not stop training).

    Example::

        trainer = Trainer(model, opt, F.cross_entropy,
                          callbacks=[EarlyStopping("val_accuracy", mode="max", patience=3)])
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", patience: int = 5,
                 min_delta: float = 0.0, restore_best_weights: bool = True):
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be a positive int, got {patience!r}")
        if min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta}")
        self.monitor, self.mode = monitor, _check_mode("EarlyStopping", mode)
        self.patience, self.min_delta = patience, min_delta
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, trainer, logs: dict) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = self.stopped_epoch = self.wait = 0
        self.best_weights = None

    def on_epoch_end(self, trainer, logs: dict) -> None:
        value = _monitored("EarlyStopping", self.monitor, logs)
        if is_improvement(value, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch, self.wait = value, logs["epoch"], 0
            if self.restore_best_weights:
                self.best_weights = copy_state(trainer.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = logs["epoch"]
            trainer.stop_training = True
            trainer.log(f"early stopping at epoch {self.stopped_epoch}: {self.monitor} has not improved "
                        f"for {self.patience} epochs (best {self.best:.4g} at epoch {self.best_epoch})")

    def on_train_end(self, trainer, logs: dict) -> None:
        if self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)
            trainer.log(f"restored the weights of epoch {self.best_epoch} ({self.monitor} {self.best:.4g})")


class ModelCheckpoint(Callback):
    """Write checkpoints into ``dirpath`` at the end of each epoch: ``last.ckpt`` every epoch (with
    ``save_last``) and ``best.ckpt`` when ``monitor`` improves (with ``save_best``).

    A checkpoint is a ``deepgrad.save`` file (atomic: a crash mid-write keeps the previous file)
    holding ``model`` and ``optimizer`` state dicts, ``epoch``, ``history`` (``History.to_dict()``),
    ``config`` (the trainer's ``config`` dict, e.g. what rebuilds the model), ``monitor`` and
    ``value`` (the monitored value of that epoch). After each save, ``best_path`` / ``last_path`` and
    ``best`` hold where and what.

    Example::

        ckpt = deepgrad.load("runs/a/best.ckpt")
        model.load_state_dict(ckpt["model"])
    """

    def __init__(self, dirpath: str | Path, monitor: str = "val_loss", mode: str = "min",
                 save_best: bool = True, save_last: bool = True):
        self.dirpath = Path(dirpath)
        self.monitor, self.mode = monitor, _check_mode("ModelCheckpoint", mode)
        self.save_best, self.save_last = save_best, save_last
        self.best = math.inf if mode == "min" else -math.inf
        self.best_path = self.last_path = None

    def on_train_begin(self, trainer, logs: dict) -> None:
        self.dirpath.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, trainer, logs: dict) -> None:
        value = _monitored("ModelCheckpoint", self.monitor, logs) if self.save_best else math.nan
        payload = trainer.checkpoint(monitor=self.monitor, value=value)
        if self.save_last:
            self.last_path = self.dirpath / "last.ckpt"
            dg.save(payload, self.last_path)
        if self.save_best and is_improvement(value, self.best, self.mode):
            self.best = value
            self.best_path = self.dirpath / "best.ckpt"
            dg.save(payload, self.best_path)


class LRSchedulerCallback(Callback):
    """Step a learning-rate scheduler: after every epoch (``interval='epoch'``) or after every
    optimizer step that was taken (``interval='step'``, for e.g. ``OneCycleLR``).

    ``ReduceLROnPlateau`` is given the epoch's ``monitor`` value; by default ``val_loss`` when there
    is validation data, else the training ``loss``. ``Trainer(scheduler=s)`` adds
    ``LRSchedulerCallback(s)`` before the other callbacks, so the epoch's logs show the rate the
    epoch was trained with and checkpoints hold the next one.
    """

    def __init__(self, scheduler, monitor: str | None = None, interval: str = "epoch"):
        if interval not in ("epoch", "step"):
            raise ValueError(f"LRSchedulerCallback: interval must be 'epoch' or 'step', got {interval!r}")
        if interval == "step" and isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError("LRSchedulerCallback: ReduceLROnPlateau watches an epoch metric; use "
                             "interval='epoch'")
        self.scheduler, self.monitor, self.interval = scheduler, monitor, interval

    def on_batch_end(self, trainer, logs: dict) -> None:
        if self.interval == "step" and logs["verdict"] == "ok":
            self.scheduler.step()

    def on_epoch_end(self, trainer, logs: dict) -> None:
        if self.interval != "epoch":
            return
        if isinstance(self.scheduler, ReduceLROnPlateau):
            monitor = self.monitor or ("val_loss" if "val_loss" in logs else "loss")
            self.scheduler.step(_monitored("ReduceLROnPlateau", monitor, logs))
        else:
            self.scheduler.step()


class TerminateOnNaN(Callback):
    """Stop training at the first step whose loss is NaN or infinite: the hard-stop alternative to
    the divergence guard, which skips such a step and lowers the learning rate (the two combine: the
    guard keeps the bad step out of the weights, this callback then ends the run)."""

    def on_batch_end(self, trainer, logs: dict) -> None:
        if not math.isfinite(logs["loss"]):
            self.stopped = (logs["epoch"], logs["batch"])
            trainer.stop_training = True
            trainer.log(f"epoch {logs['epoch']} batch {logs['batch']}: the loss is {logs['loss']}; "
                        f"terminating training")


class CSVLogger(Callback):
    """One CSV row per epoch (the epoch's logs, columns in the order of the first row), appended
    and flushed as each epoch ends, so the file is complete up to the last finished epoch even if the
    run is killed. ``append=True`` continues an existing file instead of starting a new one."""

    def __init__(self, path: str | Path, append: bool = False):
        self.path, self.append = Path(path), append
        self.columns: list[str] | None = None

    def on_train_begin(self, trainer, logs: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.append and self.path.exists() and self.path.stat().st_size:
            with open(self.path, newline="", encoding="utf-8") as f:
                self.columns = next(csv.reader(f), None)
        else:
            self.path.write_text("", encoding="utf-8")
            self.columns = None

    def on_epoch_end(self, trainer, logs: dict) -> None:
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            if self.columns is None:
                self.columns = list(logs)
                writer.writerow(self.columns)
            writer.writerow([_csv_value(logs.get(c, "")) for c in self.columns])
            f.flush()


def _csv_value(v):
    return repr(v) if isinstance(v, float) else v
