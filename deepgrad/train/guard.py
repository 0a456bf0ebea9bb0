"""The NaN / exploding-loss policy shared by every training loop: never lose hours of training."""
from __future__ import annotations

import math


class DivergenceGuard:
    """Watches each step's loss (and gradient norm) and decides what to do with a bad step.

    A step is bad when the loss or the gradient norm is not finite, or when the loss exceeds both
    ``explode_factor`` times its running average and that average plus ``margin`` (after ``warmup``
    good steps; the margin keeps ordinary noise near a loss of zero from counting as an explosion).
    For a bad step the loop skips the update and multiplies the learning rate by ``lr_factor``;
    after ``max_failures`` bad steps in a row it restores the last good checkpoint (``restore``).
    ``check`` returns 'ok', 'skip' or 'restore'.

    Example::

        verdict = guard.check(loss.item(), grad_norm)
        if verdict == "ok":
            opt.step()
        else:
            guard.lower_lr(opt)
            if verdict == "restore":
                load_last_good_checkpoint()
    """

    def __init__(self, explode_factor: float = 4.0, lr_factor: float = 0.5, max_failures: int = 3,
                 warmup: int = 20, ema: float = 0.98, margin: float = 1.0):
        if not 0 < lr_factor < 1:
            raise ValueError(f"lr_factor must be in (0, 1), got {lr_factor}")
        self.explode_factor, self.lr_factor = explode_factor, lr_factor
        self.max_failures, self.warmup, self.ema, self.margin = max_failures, warmup, ema, margin
        self.average = None
        self.good_steps = 0
        self.failures = 0
        self.total_skipped = 0

    def check(self, loss: float, grad_norm: float | None = None) -> str:
        bad = not math.isfinite(loss) or (grad_norm is not None and not math.isfinite(grad_norm))
        if not bad and self.average is not None and self.good_steps >= self.warmup:
            bad = loss > self.explode_factor * self.average and loss > self.average + self.margin
        if bad:
            self.failures += 1
            self.total_skipped += 1
            if self.failures >= self.max_failures:
                self.failures = 0
                return "restore"
            return "skip"
        self.failures = 0
        self.good_steps += 1
        self.average = loss if self.average is None else self.ema * self.average + (1 - self.ema) * loss
        return "ok"

    def lower_lr(self, optimizer) -> float:
        """Multiply every parameter group's learning rate by ``lr_factor``; returns the first."""
        for group in optimizer.param_groups:
            group["lr"] *= self.lr_factor
        return optimizer.param_groups[0]["lr"]

    def update(self, loss: float, optimizer, params, clip: float, model, checkpoint, log=print) -> str:
        """One guarded optimizer update, after ``loss.backward()``: clip the gradients to global norm
        ``clip`` (0 disables), check the step, then apply it, or skip it and lower the learning rate,
        restoring ``checkpoint`` after repeated failures. Returns the verdict."""
        from ..nn.utils import clip_grad_norm_
        norm = float(clip_grad_norm_(params, clip if clip > 0 else math.inf))
        verdict = self.check(loss, norm)
        if verdict == "ok":
            optimizer.step()
            return verdict
        lr = self.lower_lr(optimizer)
        log(f"loss {loss:.4g}, gradient norm {norm:.4g}: step skipped, learning rate lowered to {lr:.3g}")
        if verdict == "restore":
            self.restore(checkpoint, model, optimizer)
            log("repeated failures: restored the last good checkpoint")
        return verdict

    def restore(self, path, model, optimizer) -> bool:
        """Reload weights, optimizer state and this guard's running statistics from the checkpoint
        at ``path`` (a dict with 'model', 'optimizer' and 'guard'), keeping the lowered learning
        rate and the count of skipped steps. Returns False when there is no checkpoint yet."""
        from pathlib import Path

        from ..io import load
        lrs = [group["lr"] for group in optimizer.param_groups]
        if not Path(path).exists():
            return False
        ckpt = load(path)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        for group, lr in zip(optimizer.param_groups, lrs):
            group["lr"] = lr
        if "guard" in ckpt:
            skipped = self.total_skipped
            self.load_state_dict(ckpt["guard"])
            self.total_skipped = skipped
        return True

    def state_dict(self) -> dict:
        return {"average": self.average, "good_steps": self.good_steps, "failures": self.failures,
                "total_skipped": self.total_skipped}

    def load_state_dict(self, state: dict) -> None:
        self.average = state["average"]
        self.good_steps, self.failures = state["good_steps"], state["failures"]
        self.total_skipped = state["total_skipped"]
