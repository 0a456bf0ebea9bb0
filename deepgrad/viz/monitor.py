"""Babysitting the learning process (lecture 004, "visualize as you go"): loss and accuracy curves with
the train/validation gap, the learning-rate finder's curve, first-layer weights, the confusion matrix,
and per-layer activation and gradient statistics over training. Every plot is saved as a PNG."""
from __future__ import annotations

import math
from typing import Sequence

import deepgrad as dg
from deepgrad import Tensor, nn

from ._plot import pyplot

__all__ = ["diagnose", "plot_history", "plot_filters", "plot_confusion", "plot_lr_find", "LayerStatsRecorder"]


def _history_dict(history) -> dict:
    if hasattr(history, "to_dict"):
        history = history.to_dict()
    if not isinstance(history, dict):
        raise TypeError(f"expected a history: a dict of per-epoch lists or an object with to_dict(), got "
                        f"{type(history).__name__}")
    if not history.get("loss"):
        raise ValueError(f"the history has no 'loss' values to plot (keys: {sorted(history)})")
    return history


def diagnose(history, tol: float = 0.05) -> dict:
    """The lectures' reading of the train/validation curves at the end of training.

    Returns ``gap`` (final train minus validation accuracy, or, without accuracies, the final
    validation loss minus the training loss, relative to the validation loss; None when unknown),
    ``best_epoch`` (the 1-based epoch of the lowest validation loss, None without validation) and
    ``verdict``:
    "big gap: overfitting (increase regularization)" when the gap exceeds ``tol``, else
    "no gap: underfitting (increase model capacity, make layers bigger or decrease regularization)".
    """
    h = _history_dict(history)
    val_loss = h.get("val_loss") or []
    finite = [i for i, v in enumerate(val_loss) if math.isfinite(v)]
    if not finite:
        return {"gap": None, "best_epoch": None, "verdict": "no validation data: the gap is unknown"}
    if h.get("accuracy") and h.get("val_accuracy"):
        gap = h["accuracy"][-1] - h["val_accuracy"][-1]
    else:
        gap = (val_loss[-1] - h["loss"][-1]) / max(abs(val_loss[-1]), 1e-12)
    best = min(finite, key=val_loss.__getitem__) + 1
    if not math.isfinite(gap):
        return {"gap": None, "best_epoch": best,
                "verdict": "the last epoch's values are not finite: the gap is unknown"}
    verdict = ("big gap: overfitting (increase regularization)" if gap > tol else
               "no gap: underfitting (increase model capacity, make layers bigger or decrease "
               "regularization)")
    return {"gap": gap, "best_epoch": best, "verdict": verdict}


def plot_history(history, path, title: str = "Training history", tol: float = 0.05) -> dict:
    """Loss curves (train and validation) and, when the history has them, accuracy curves, annotated
    with the gap at the end and ``diagnose``'s verdict; saved as a PNG at ``path``. Returns the
    diagnosis.

    ``history`` is a dict of per-epoch lists ('loss', 'val_loss', 'accuracy', 'val_accuracy') or an
    object with ``to_dict()`` returning one (``deepgrad.train.History``).

    Example::

        plot_history({"loss": [1.2, 0.8], "val_loss": [1.3, 1.0]}, "history.png")
    """
    h = _history_dict(history)
    verdict = diagnose(h, tol)
    has_acc = bool(h.get("accuracy"))
    plt = pyplot()
    fig, axes = plt.subplots(1, 2 if has_acc else 1, figsize=(11 if has_acc else 6, 4), squeeze=False)
    panels = [("loss", "val_loss", "loss")] + ([("accuracy", "val_accuracy", "accuracy")] if has_acc else [])
    for ax, (train_key, val_key, label) in zip(axes[0], panels):
        epochs = range(1, len(h[train_key]) + 1)
        ax.plot(epochs, h[train_key], "o-", ms=3, label="train")
        if h.get(val_key):
            ax.plot(range(1, len(h[val_key]) + 1), h[val_key], "s-", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
    if verdict["gap"] is not None:
        what = "train - val accuracy" if has_acc else "relative val - train loss"
        last = axes[0][-1]
        if has_acc and h.get("val_accuracy"):
            n = len(h["accuracy"])
            last.annotate("", xy=(n, h["val_accuracy"][-1]), xytext=(n, h["accuracy"][-1]),
                          arrowprops={"arrowstyle": "<->", "color": "red"})
        last.text(0.02, 0.02, f"gap at the end ({what}): {verdict['gap']:.3f}\n{verdict['verdict']}",
                  transform=last.transAxes, fontsize=8, va="bottom",
                  bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "red"})
        axes[0][0].axvline(verdict["best_epoch"], color="gray", ls=":", lw=1)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return verdict


def _normalise_per_filter(w: Tensor) -> Tensor:
    flat = w.reshape(w.shape[0], -1)
    lo, hi = flat.amin(1, keepdim=True), flat.amax(1, keepdim=True)
    span = hi - lo
    # a constant filter has no contrast to stretch: show it mid-grey
    scaled = dg.where(span > 0, (flat - lo) / span.clamp(min=1e-30), dg.full_like(flat, 0.5))
    return scaled.reshape(w.shape)


def plot_filters(weight, path, ncols: int = 8, image_shape: Sequence[int] | None = None,
                 title: str = "First-layer filters") -> None:
    """A grid of first-layer filters (the lectures' "visualize the weights"), each min-max normalised
    to [0, 1] on its own; saved as a PNG at ``path``.

    ``weight`` is a convolution weight (out, in, kh, kw), drawn in colour when in = 3 and in grey
    otherwise (the mean over the input channels when in is not 1 or 3), or a fully connected weight
    (out, features) whose rows are images of ``image_shape`` ((H, W) or (3, H, W); default a square
    H = W = sqrt(features)), e.g. the hidden units of an MLP on 8x8 digits.

    Example::

        plot_filters(model.conv1.weight, "filters.png")
        plot_filters(mlp[0].weight, "units.png", image_shape=(8, 8))
    """
    w = (weight if isinstance(weight, Tensor) else dg.tensor(weight)).detach().float()
    if w.ndim == 2:
        features = w.shape[1]
        if image_shape is None:
            side = math.isqrt(features)
            if side * side != features:
                raise ValueError(f"plot_filters: a (out, {features}) weight is not square images; give "
                                 "image_shape=(H, W) or (3, H, W)")
            image_shape = (side, side)
        image_shape = tuple(image_shape)
        if math.prod(image_shape) != features or len(image_shape) not in (2, 3):
            raise ValueError(f"plot_filters: image_shape {image_shape} does not hold {features} weights")
        w = w.reshape(w.shape[0], *((1,) + image_shape if len(image_shape) == 2 else image_shape))
    if w.ndim != 4:
        raise ValueError(f"plot_filters: expected a conv weight (out, in, kh, kw) or a linear weight "
                         f"(out, features), got shape {tuple(w.shape)}")
    if w.shape[1] not in (1, 3):
        w = w.mean(1, keepdim=True)
    w = _normalise_per_filter(w)
    n = w.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    plt = pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.2 * nrows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        if w.shape[1] == 3:
            ax.imshow(w[i].permute(1, 2, 0).tolist(), interpolation="nearest")
        else:
            ax.imshow(w[i, 0].tolist(), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(matrix, path, class_names: Sequence[str] | None = None, normalize: bool = False,
                   title: str = "Confusion matrix") -> None:
    """A confusion matrix (rows: true class, columns: predicted class, as ``metrics.confusion_matrix``
    returns it) with each cell's count written in it; ``normalize=True`` shows each row as fractions
    of that class. Saved as a PNG at ``path``."""
    m = (matrix if isinstance(matrix, Tensor) else dg.tensor(matrix)).detach().double()
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"plot_confusion: expected a square (C, C) matrix, got shape {tuple(m.shape)}")
    c = m.shape[0]
    names = [str(i) for i in range(c)] if class_names is None else [str(n) for n in class_names]
    if len(names) != c:
        raise ValueError(f"plot_confusion: {len(names)} class names for a {c}x{c} matrix")
    if normalize:
        m = m / m.sum(1, keepdim=True).clamp(min=1)
    values = m.tolist()
    vmax = max(max(row) for row in values) or 1.0
    plt = pyplot()
    size = max(4.0, 0.45 * c + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(values, cmap="Blues", vmin=0, vmax=vmax)
    fig.colorbar(im, ax=ax, fraction=0.046)
    for i in range(c):
        for j in range(c):
            v = values[i][j]
            ax.text(j, i, f"{v:.2f}" if normalize else f"{int(round(v))}", ha="center", va="center",
                    fontsize=7 if c > 10 else 9, color="white" if v > 0.5 * vmax else "black")
    ax.set_xticks(range(c), names, rotation=45 if max(map(len, names)) > 2 else 0)
    ax.set_yticks(range(c), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_lr_find(lrs: Sequence[float], losses: Sequence[float], path, suggestion: float | None = None,
                 title: str = "Learning-rate finder") -> None:
    """Loss against learning rate on a log axis (the learning-rate range test), with the suggested
    rate marked; saved as a PNG at ``path``."""
    lrs = [float(v) for v in (lrs.tolist() if isinstance(lrs, Tensor) else lrs)]
    losses = [float(v) for v in (losses.tolist() if isinstance(losses, Tensor) else losses)]
    if len(lrs) != len(losses) or not lrs:
        raise ValueError(f"plot_lr_find: need as many losses as learning rates (at least one), got "
                         f"{len(lrs)} rates and {len(losses)} losses")
    if min(lrs) <= 0:
        raise ValueError(f"plot_lr_find: learning rates must be positive for the log axis, got {min(lrs)}")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogx(lrs, losses, "-", lw=1.5)
    if suggestion is not None:
        ax.axvline(suggestion, color="red", ls="--", label=f"suggested lr = {suggestion:.2g}")
        ax.legend()
    finite = [v for v in losses if math.isfinite(v)]
    if finite:
        # a diverging tail would squash the useful part of the curve
        lo, first = min(finite), finite[0]
        ax.set_ylim(lo - 0.05 * abs(lo), max(first, lo) + 0.5 * (abs(first - lo) + 1e-8) + abs(first) * 0.1)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


class LayerStatsRecorder:
    """Per-layer activation and gradient statistics over training: the vanishing/exploding-gradient
    diagnostic.

    Forward hooks record the mean and (population) standard deviation of each layer's output, full
    backward hooks the L2 norm of the gradient of the loss with respect to that output (||dL/d out||).
    A step is a forward pass of ``model`` in training mode with gradients enabled (evaluation passes
    are ignored); every ``every``-th step (0, every, 2 every, ...) is recorded. The gradient of a
    step is the one of the backward pass that follows its forward pass; a layer called several times
    in one step keeps the activations of its first call and the first gradient reported for it.

    ``layers`` are dotted names from ``model.named_modules()``; by default every module holding
    parameters of its own (Linear, Conv2d, ...), in registration order.

    Results: ``steps`` (the recorded step numbers) and ``stats[name]`` with the lists 'act_mean',
    'act_std' and 'grad_norm' aligned with ``steps`` (NaN where no backward pass came).

    Example::

        rec = LayerStatsRecorder(model, every=10)
        ...train...
        rec.plot("layer_stats.png")
        rec.remove()
    """

    def __init__(self, model: nn.Module, every: int = 1, layers: Sequence[str] | None = None):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"LayerStatsRecorder: every must be a positive int, got {every!r}")
        modules = dict(model.named_modules())
        if layers is None:
            layers = [n for n, m in modules.items()
                      if n and next(m.parameters(recurse=False), None) is not None]
        missing = [n for n in layers if n not in modules]
        if missing:
            raise ValueError(f"LayerStatsRecorder: no submodules named {missing}; names: "
                             f"{[n for n in modules if n]}")
        if not layers:
            raise ValueError("LayerStatsRecorder: the model has no layers with parameters; name layers=")
        self.model, self.every, self.layers = model, every, list(layers)
        self._kinds = {n: type(modules[n]).__name__ for n in self.layers}
        self.step = -1
        self.steps: list[int] = []
        self.stats = {n: {"act_mean": [], "act_std": [], "grad_norm": []} for n in self.layers}
        self._handles = [model.register_forward_pre_hook(self._count_step)]
        for name in self.layers:
            self._handles.append(modules[name].register_forward_hook(self._forward_hook(name)))
            self._handles.append(modules[name].register_full_backward_hook(self._backward_hook(name)))

    def _count_step(self, module, args) -> None:
        if self.model.training and dg.is_grad_enabled():
            self.step += 1
            if self.step % self.every == 0:
                self.steps.append(self.step)

    def _forward_hook(self, name: str):
        def hook(module, args, out) -> None:
            s = self.stats[name]
            # one record per recorded step: a layer called twice in a step keeps its first call
            if not isinstance(out, Tensor) or len(s["act_mean"]) >= len(self.steps) or \
                    not (self.model.training and dg.is_grad_enabled()):
                return
            with dg.no_grad():
                data = out.detach().double()
                s["act_mean"].append(data.mean().item())
                s["act_std"].append(data.std(unbiased=False).item())
                s["grad_norm"].append(math.nan)
        return hook

    def _backward_hook(self, name: str):
        def hook(module, grad_input, grad_output) -> None:
            s = self.stats[name]
            if not grad_output or grad_output[0] is None or len(s["grad_norm"]) != len(self.steps):
                return
            if self.step == self.steps[-1] and math.isnan(s["grad_norm"][-1]):
                s["grad_norm"][-1] = grad_output[0].double().norm().item()
        return hook

    def remove(self) -> None:
        """Unregister every hook; the recorded statistics stay."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> "LayerStatsRecorder":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def plot(self, path, title: str = "Per-layer statistics over training") -> None:
        """Three panels, one line per layer against the step: activation mean, activation standard
        deviation, and gradient norm on a log scale (shrinking towards the first layers: vanishing
        gradients; growing: exploding). Saved as a PNG at ``path``."""
        if not self.steps:
            raise ValueError("LayerStatsRecorder.plot: nothing recorded yet; run training steps first")
        plt = pyplot()
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        panels = [("act_mean", "activation mean"), ("act_std", "activation std"),
                  ("grad_norm", "||dL/d output|| (log)")]
        for ax, (key, label) in zip(axes, panels):
            for name in self.layers:
                values = self.stats[name][key]
                label = f"{name} ({self._kinds[name]})"
                if key == "grad_norm":
                    ax.semilogy(self.steps[:len(values)], [max(v, 1e-30) for v in values], label=label)
                else:
                    ax.plot(self.steps[:len(values)], values, label=label)
            ax.set_xlabel("step")
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
        axes[0].legend(fontsize=7)
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
