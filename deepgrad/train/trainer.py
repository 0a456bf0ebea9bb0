"""``Trainer``: the epoch loop for supervised models (image classifiers and any ``loss_fn(output,
target)`` problem), with validation, metrics, a learning-rate scheduler, callbacks and the divergence
guard shared with the language-model loop.

Each step: forward, loss, backward, gradient norm (clipped with ``clip_grad_norm``), then the
``DivergenceGuard`` judges the loss and the norm: a good step updates the weights; a bad one (NaN or
infinite loss or gradient, or an exploding loss) is skipped and the learning rate lowered, and after
several bad steps in a row the weights and optimizer state of the last good epoch are restored (kept
in memory), keeping the lowered rate.

Example::

    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.05, momentum=0.9), F.cross_entropy,
                      callbacks=[EarlyStopping(patience=3), ModelCheckpoint("runs/a")])
    history = trainer.fit(train_loader, val_loader, epochs=20)
    print(history.best("val_accuracy", "max"), trainer.evaluate(test_loader))
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence

import deepgrad as dg
from deepgrad import Tensor, nn
from deepgrad.metrics import accuracy
from deepgrad.nn.utils import clip_grad_norm_, get_total_norm

from .callbacks import Callback, LRSchedulerCallback, copy_state
from .guard import DivergenceGuard
from .progress import Progress

__all__ = ["History", "Trainer", "LRFindResult", "lr_find"]

Metric = Callable[[Tensor, Tensor], float]


class History:
    """What ``Trainer.fit`` records.

    ``epochs`` maps each name to its per-epoch list: ``epoch`` (1-based), ``loss`` (mean training
    loss over the epoch's steps that were taken), each metric, ``val_loss`` and ``val_<metric>``
    (with validation data), ``lr`` (the learning rate at the end of the epoch's steps, before the
    scheduler moves it) and ``time`` (seconds). ``steps`` holds the per-step ``loss`` and ``lr``
    lists (a skipped step's loss included, so NaNs show). ``history["val_loss"]`` reads a list.

    Example::

        epoch, acc = history.best("val_accuracy", mode="max")
    """

    def __init__(self):
        self.epochs: dict[str, list] = {}
        self.steps: dict[str, list] = {"loss": [], "lr": []}

    def __len__(self) -> int:
        return len(self.epochs.get("epoch", []))

    def __getitem__(self, key: str) -> list:
        if key not in self.epochs:
            raise KeyError(f"History: no {key!r} values; recorded: {', '.join(self.epochs) or 'nothing yet'}")
        return self.epochs[key]

    def __contains__(self, key: str) -> bool:
        return key in self.epochs

    def keys(self) -> list[str]:
        return list(self.epochs)

    def add_epoch(self, logs: dict) -> None:
        """Append one epoch's values; a name missing from this epoch (or new in it) gets NaN where
        it has no value, so all lists keep the same length."""
        n = len(self)
        for key in list(self.epochs) + [k for k in logs if k not in self.epochs]:
            values = self.epochs.setdefault(key, [math.nan] * n)
            values.append(logs.get(key, math.nan))

    def add_step(self, loss: float, lr: float) -> None:
        self.steps["loss"].append(loss)
        self.steps["lr"].append(lr)

    def best(self, key: str, mode: str = "min") -> tuple[int, float]:
        """(epoch, value) of the lowest (``mode='min'``) or highest (``'max'``) finite value of
        ``key``; the earliest epoch wins a tie."""
        if mode not in ("min", "max"):
            raise ValueError(f"History.best: mode must be 'min' or 'max', got {mode!r}")
        pairs = [(e, v) for e, v in zip(self["epoch"], self[key]) if math.isfinite(v)]
        if not pairs:
            raise ValueError(f"History.best: {key!r} has no finite value")
        pick = min if mode == "min" else max
        return pick(pairs, key=lambda ev: ev[1])

    def to_dict(self) -> dict:
        """The per-epoch lists at the top level (what ``deepgrad.viz.monitor.plot_history`` reads)
        plus ``"steps"``: ``{"loss": [...], "lr": [...]}``; plain lists, ready for ``deepgrad.save``."""
        return {
            **{k: list(v) for k, v in self.epochs.items()},
            "steps": {k: list(v) for k, v in self.steps.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        h = cls()
        h.epochs = {k: list(v) for k, v in d.items() if k != "steps"}
        h.steps = {k: list(v) for k, v in d.get("steps", {"loss": [], "lr": []}).items()}
        return h


def _split_batch(batch, where: str) -> tuple:
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError(
        f"Trainer.{where}: each batch must be (inputs, targets), got "
        f"{type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
    )


def _batch_size(target) -> int:
    return target.shape[0] if isinstance(target, Tensor) and target.ndim else len(target)


class Trainer:
    """Fits ``model`` with ``optimizer`` on ``loss_fn(output, target)`` (a mean over the batch).

    Args:
        metrics: name -> ``fn(output, target)`` returning a float; default ``{'accuracy':
            deepgrad.metrics.accuracy}``; ``{}`` for none (e.g. regression). Training values are
            the batch values averaged with batch-size weights, computed on the training-mode outputs;
            ``evaluate`` computes each metric once over all the outputs of the loader.
        scheduler: a learning-rate scheduler stepped once per epoch (``ReduceLROnPlateau`` gets
            ``val_loss``, or ``loss`` without validation data); for another monitor or per-step
            stepping pass ``LRSchedulerCallback(scheduler, monitor, interval)`` in ``callbacks``.
        callbacks: ``Callback`` objects, called in order.
        guard: a ``DivergenceGuard``, True for a default one, False or None to take every step.
        clip_grad_norm: clip the global gradient norm to this value (None: no clipping).
        progress: a per-step bar (tqdm on a terminal, periodic lines otherwise).
        verbose: print one line per epoch and the callbacks' and guard's messages.
        config: a dict stored in checkpoints (``ModelCheckpoint``), e.g. what rebuilds the model.

    After ``fit``: ``history`` (a ``History``), ``epoch`` (epochs done, counting across ``fit``
    calls), ``global_step``. ``stop_training`` ends the current ``fit`` after the current batch.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        metrics: dict[str, Metric] | None = None,
        scheduler=None,
        callbacks: Sequence[Callback] = (),
        guard: DivergenceGuard | bool | None = True,
        clip_grad_norm: float | None = None,
        progress: bool = True,
        verbose: bool = True,
        config: dict | None = None,
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"Trainer: model must be an nn.Module, got {type(model).__name__}")
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Trainer: callbacks must be Callback instances, got {type(cb).__name__}")
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValueError(f"Trainer: clip_grad_norm must be positive or None, got {clip_grad_norm}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.metrics = {"accuracy": accuracy} if metrics is None else dict(metrics)
        self.scheduler = scheduler
        self.callbacks = ([LRSchedulerCallback(scheduler)] if scheduler is not None else []) + list(callbacks)
        self.guard = DivergenceGuard() if guard is True else (guard or None)
        self.clip_grad_norm = clip_grad_norm
        self.progress, self.verbose = progress, verbose
        self.config = dict(config or {})
        self.history = History()
        self.epoch = self.global_step = 0
        self.stop_training = False
        self._bar: Progress | None = None
        self._last_good: dict | None = None

    # ------------------------------------------------------------------ messages and state
    def log(self, message: str) -> None:
        """Print ``message`` (above the progress bar when one is drawn) when ``verbose``."""
        if not self.verbose:
            return
        if self._bar is not None:
            self._bar.write(message)
        else:
            print(message, flush=True)

    @property
    def lr(self) -> float:
        """The first parameter group's learning rate."""
        return float(self.optimizer.param_groups[0]["lr"])

    def checkpoint(self, **extra) -> dict:
        """What ``ModelCheckpoint`` saves: model and optimizer state dicts, ``epoch``,
        ``global_step``, ``history``, ``config``, the global random-generator state ``rng``, plus
        ``extra``. Tensors are the live ones (``deepgrad.save`` writes them out)."""
        return {
            "format": "deepgrad-trainer",
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "history": self.history.to_dict(),
            "config": self.config,
            "rng": dg.get_rng_state(),
            **extra,
        }

    def _snapshot(self) -> dict:
        return {
            "model": copy_state(self.model.state_dict()),
            "optimizer": copy_state(self.optimizer.state_dict()),
        }

    def _restore_last_good(self) -> None:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.model.load_state_dict(self._last_good["model"])
        self.optimizer.load_state_dict(self._last_good["optimizer"])
        for group, lr in zip(self.optimizer.param_groups, lrs):  # keep the lowered learning rate
            group["lr"] = lr

    def _call(self, hook: str, logs: dict) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, logs)

    # ------------------------------------------------------------------ the loop
    def fit(self, train_loader: Iterable, val_loader: Iterable | None = None, epochs: int = 1) -> History:
        """Train for ``epochs`` passes over ``train_loader`` (batches of (inputs, targets)),
        evaluating on ``val_loader`` after each; returns ``self.history``. The model is left in the
        mode (train/eval) it had before."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be a non-negative int, got {epochs!r}")
        was_training = self.model.training
        self.stop_training = False
        self._last_good = self._snapshot() if self.guard is not None else None
        self._call("on_train_begin", {})
        logs: dict = {}
        last_epoch = self.epoch + epochs
        for _ in range(epochs):
            epoch = self.epoch + 1
            self._call("on_epoch_begin", {"epoch": epoch})
            start = time.perf_counter()
            logs = self._train_epoch(train_loader, epoch)
            if val_loader is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(val_loader).items()})
            logs["lr"] = self.lr
            logs["time"] = time.perf_counter() - start
            self.epoch = epoch
            self.history.add_epoch(logs)
            self.log(
                f"epoch {epoch}/{last_epoch}: "
                + ", ".join(f"{k} {v:.4g}" for k, v in logs.items() if k not in ("epoch", "time"))
                + f" ({logs['time']:.1f} s)"
            )
            self._call("on_epoch_end", logs)
            if self.guard is not None and math.isfinite(logs["loss"]):
                self._last_good = self._snapshot()
            if self.stop_training:
                break
        self._call("on_train_end", logs)
        self.model.train(was_training)
        return self.history

    def _train_epoch(self, loader: Iterable, epoch: int) -> dict:
        self.model.train()
        try:
            total = len(loader)
        except TypeError:
            total = None
        self._bar = Progress(total, f"epoch {epoch}") if self.progress else None
        loss_sum, count = 0.0, 0
        metric_sums = dict.fromkeys(self.metrics, 0.0)
        try:
            for index, batch in enumerate(loader, 1):
                x, y = _split_batch(batch, "fit")
                output = self.model(x)
                loss = self.loss_fn(output, y)
                value = loss.item()
                verdict = self._step(loss, value)
                if verdict == "ok":
                    n = _batch_size(y)
                    loss_sum, count = loss_sum + value * n, count + n
                    for name, fn in self.metrics.items():
                        metric_sums[name] += float(fn(output, y)) * n
                self.global_step += 1
                self.history.add_step(value, self.lr)
                if self._bar is not None:
                    self._bar.update(1, loss=value)
                self._call(
                    "on_batch_end",
                    {"epoch": epoch, "batch": index, "loss": value, "lr": self.lr, "verdict": verdict},
                )
                if self.stop_training:
                    break
        finally:
            if self._bar is not None:
                self._bar.close()
            self._bar = None
        logs = {"epoch": epoch, "loss": loss_sum / count if count else math.nan}
        logs.update({name: s / count if count else math.nan for name, s in metric_sums.items()})
        return logs

    def _step(self, loss: Tensor, value: float) -> str:
        """Backward and update unless the guard refuses the step; returns the guard's verdict."""
        if self.guard is not None and not math.isfinite(value):
            verdict = self.guard.check(value)  # the gradient of a non-finite loss is not worth computing
        else:
            self.optimizer.zero_grad()
            loss.backward()
            verdict = "ok"
            if self.guard is not None or self.clip_grad_norm is not None:
                norm = float(self._grad_norm())
                if self.guard is not None:
                    verdict = self.guard.check(value, norm)
        if verdict == "ok":
            self.optimizer.step()
            return verdict
        lr = self.guard.lower_lr(self.optimizer)
        self.log(
            f"step {self.global_step + 1}: loss {value:.4g}: step skipped, learning rate lowered to {lr:.3g}"
        )
        if verdict == "restore":
            self._restore_last_good()
            self.log(
                f"step {self.global_step + 1}: repeated bad steps, restored the weights of the last "
                f"good epoch ({self.epoch})"
            )
        return verdict

    def _grad_norm(self) -> Tensor:
        params = [p for p in self.model.parameters() if p.grad is not None]
        if self.clip_grad_norm is not None:
            return clip_grad_norm_(params, self.clip_grad_norm)
        return get_total_norm([p.grad for p in params])

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, loader: Iterable) -> dict:
        """``{'loss': ..., <metric>: ...}`` over all batches of ``loader``, in eval mode without
        gradients: the loss averaged with batch-size weights, each metric computed once on all the
        outputs. The model's mode is restored afterwards."""
        was_training = self.model.training
        self.model.eval()
        outputs, targets = [], []
        loss_sum, count = 0.0, 0
        try:
            with dg.no_grad():
                for batch in loader:
                    x, y = _split_batch(batch, "evaluate")
                    output = self.model(x)
                    n = _batch_size(y)
                    loss_sum, count = loss_sum + self.loss_fn(output, y).item() * n, count + n
                    if self.metrics:
                        outputs.append(output)
                        targets.append(y)
        finally:
            self.model.train(was_training)
        if not count:
            raise ValueError("Trainer.evaluate: the loader gave no samples")
        results = {"loss": loss_sum / count}
        if self.metrics:
            output, target = dg.cat(outputs), dg.cat(targets)
            results.update({name: float(fn(output, target)) for name, fn in self.metrics.items()})
        return results

    def predict(self, data: Tensor | Iterable, batch_size: int = 256) -> Tensor:
        """The model's outputs for a tensor of inputs (in chunks of ``batch_size``) or for every
        batch of a loader (its inputs: a batch is (inputs, ...) or a tensor), concatenated; in eval
        mode without gradients, the model's mode restored afterwards."""
        if isinstance(data, Tensor):
            chunks = (data[i : i + batch_size] for i in range(0, data.shape[0], batch_size))
        else:
            chunks = (b if isinstance(b, Tensor) else b[0] for b in data)
        was_training = self.model.training
        self.model.eval()
        try:
            with dg.no_grad():
                outputs = [self.model(x) for x in chunks]
        finally:
            self.model.train(was_training)
        if not outputs:
            raise ValueError("Trainer.predict: no inputs")
        return dg.cat(outputs)


# ---------------------------------------------------------------------------- learning-rate finder
class LRFindResult:
    """The outcome of ``lr_find``: ``lrs`` (one per step taken), ``raw_losses`` (each step's batch
    loss), ``losses`` (the same smoothed by a centred moving average, so the curve is not shifted
    towards high rates as an exponential average would shift it), ``steepest_lr`` (where the
    smoothed loss falls fastest against log(lr), searched up to the minimum; None when the curve has
    fewer than 5 points), ``min_loss_lr`` (where the smoothed loss is lowest), and ``suggestion``:
    ``steepest_lr``, or ``min_loss_lr / 10`` when there is no steepest point."""

    def __init__(self, lrs: list[float], raw_losses: list[float], window: int):
        if not lrs:
            raise ValueError("lr_find: no step gave a finite loss; lower start_lr")
        self.lrs, self.raw_losses = lrs, raw_losses
        n = len(raw_losses)
        self.losses = [
            sum(raw_losses[max(0, i - window) : i + window + 1])
            / (min(n, i + window + 1) - max(0, i - window))
            for i in range(n)
        ]
        lowest = min(range(n), key=self.losses.__getitem__)
        self.min_loss_lr = lrs[lowest]
        self.steepest_lr = None
        if n >= 5:
            logs = [math.log(lr) for lr in lrs]
            slopes = {
                i: (self.losses[i + 1] - self.losses[i - 1]) / (logs[i + 1] - logs[i - 1])
                for i in range(1, min(lowest + 1, n - 1))
            }
            if slopes:
                self.steepest_lr = lrs[min(slopes, key=slopes.__getitem__)]
        self.suggestion = self.steepest_lr if self.steepest_lr is not None else self.min_loss_lr / 10


def lr_find(
    model: nn.Module,
    optimizer,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    loader: Iterable,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int | None = None,
    diverge_factor: float = 4.0,
    smooth_window: int | None = None,
) -> LRFindResult:
    """The learning-rate range test (Smith 2017; the lectures' "find a learning rate"): train with a
    rate growing exponentially from ``start_lr`` to ``end_lr`` over ``num_steps`` steps, recording
    each batch's loss, and stop early once the loss is not finite or exceeds ``diverge_factor`` times
    the lowest one. The default is one pass over ``loader`` but at least 100 steps (the loader is
    restarted when it has fewer batches): a shorter sweep has too few points per decade, and its
    loss lags behind the rate, which pushes the steepest point towards the divergence.

    The model's weights, its train/eval mode and the optimizer's state (learning rates included) are
    restored afterwards, so the same model and optimizer can then be trained for real. The smoothing
    window is ``smooth_window`` steps on each side (default ``max(1, steps // 25)``).

    Example::

        result = lr_find(model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), F.cross_entropy, loader)
        plot_lr_find(result.lrs, result.losses, "lr.png", suggestion=result.suggestion)
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_find: need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    steps = num_steps if num_steps is not None else max(len(loader), 100)
    if steps < 2:
        raise ValueError(f"lr_find: need at least 2 steps, got {steps}")
    gamma = (end_lr / start_lr) ** (1 / (steps - 1))
    saved = {"model": copy_state(model.state_dict()), "optimizer": copy_state(optimizer.state_dict())}
    was_training = model.training
    model.train()
    lrs, losses = [], []
    try:
        batches = _cycle(loader)
        for i in range(steps):
            lr = start_lr * gamma**i
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = _split_batch(next(batches), "lr_find")
            loss = loss_fn(model(x), y)
            value = loss.item()
            if not math.isfinite(value):
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            lrs.append(lr)
            losses.append(value)
            if value > diverge_factor * min(losses):
                break
    finally:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        model.train(was_training)
    return LRFindResult(lrs, losses, smooth_window if smooth_window is not None else max(1, steps // 25))


def _cycle(loader: Iterable):
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("lr_find: the loader gave no batches")
