"""What a trained image classifier looks at, from gradients with respect to its input (Simonyan,
Vedaldi & Zisserman 2014, "Deep Inside Convolutional Networks: Visualising Image Classification
Models and Saliency Maps"):

- ``saliency_map``: the image-specific class saliency M[i, j] = max_c |dS_k / dI[c, i, j]|, where
  S_k is the unnormalised score (logit) of class k; optionally SmoothGrad (Smilkov et al. 2017),
  the gradient averaged over noisy copies of the image;
- ``class_model``: the class model visualisation, an image found by gradient ascent on
  S_k(I) - l2_reg * ||I||^2 from a near-zero image, with optional jitter and blur regularisers;
- ``plot_saliency`` and ``plot_class_models`` draw them into PNG files.

The model is put in eval mode (batch norm uses its running statistics, dropout is off) and its
parameters are frozen while the gradients are taken; both are restored afterwards.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import Tensor, nn

from ._plot import pyplot

__all__ = ["frozen_eval", "input_gradient", "saliency_map", "ClassModelResult", "class_model",
           "plot_saliency", "plot_class_models"]


@contextmanager
def frozen_eval(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode with every parameter's ``requires_grad`` off, both restored on exit.
    Gradients then flow to the input only: no parameter gradient is computed or accumulated.

    Example::

        with frozen_eval(net):
            (g,) = deepgrad.autograd.grad(net(x).sum(), x)
    """
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training
        for p, flag in flags:
            p.requires_grad_(flag)


def _as_batch(images: Tensor, op: str) -> Tensor:
    if images.ndim == 3:
        return images.unsqueeze(0)
    if images.ndim != 4:
        raise ValueError(f"{op}: expected an image (C, H, W) or a batch (N, C, H, W), got shape "
                         f"{tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{op}: expected a float image, got {images.dtype}")
    return images


def _scores(model: nn.Module, x: Tensor, preprocess: Callable | None, op: str) -> Tensor:
    scores = model(preprocess(x) if preprocess is not None else x)
    if scores.ndim != 2 or scores.shape[0] != x.shape[0]:
        raise ValueError(f"{op}: the model should return class scores of shape (N, classes) = ({x.shape[0]}, "
                         f"classes), got {tuple(scores.shape)}")
    return scores


def _targets(target, n: int, classes: int, op: str) -> Tensor:
    t = dg.tensor([target] * n if isinstance(target, int) else target, dtype=dg.int64).reshape(-1)
    if t.shape[0] != n:
        raise ValueError(f"{op}: expected one target class per image ({n}), got {t.shape[0]}")
    if n and (t.min().item() < 0 or t.max().item() >= classes):
        raise ValueError(f"{op}: target classes must be in [0, {classes}) for a model with {classes} scores, "
                         f"got {t.tolist()}")
    return t


def _score_gradient(model: nn.Module, x: Tensor, target, preprocess: Callable | None, op: str) -> Tensor:
    x = x.detach().requires_grad_(True)
    scores = _scores(model, x, preprocess, op)
    picked = scores.gather(1, _targets(target, x.shape[0], scores.shape[1], op).unsqueeze(1))
    (grad,) = dg.autograd.grad(picked.sum(), x)
    return grad


def input_gradient(model: nn.Module, images: Tensor, target=None,
                   preprocess: Callable | None = None) -> Tensor:
    """dS_k / dI: the gradient of the class score S_k (the model's output before any softmax) with
    respect to each input image, of the images' shape.

    ``images`` is (C, H, W) or (N, C, H, W); ``target`` the class k, an int, one per image (a sequence
    or an int64 tensor), or None for each image's predicted class. ``preprocess`` (for instance
    ``transforms.Normalize(mean, std)``) is applied inside the differentiated function, so the
    gradient is with respect to the pixels given.

    Example::

        g = input_gradient(net, x, target=3)   # x (1, 28, 28) -> g (1, 28, 28)
    """
    batch = _as_batch(images, "input_gradient")
    with frozen_eval(model):
        if target is None:
            with dg.no_grad():
                target = _scores(model, batch, preprocess, "input_gradient").argmax(1)
        grad = _score_gradient(model, batch, target, preprocess, "input_gradient")
    return grad if images.ndim == 4 else grad[0]


def saliency_map(model: nn.Module, images: Tensor, target=None, preprocess: Callable | None = None,
                 smooth_samples: int = 0, noise_level: float = 0.15,
                 generator: dg.Generator | None = None) -> Tensor:
    """The class saliency map of Simonyan et al. (sec. 3.1): M[i, j] = max over channels c of
    |dS_k / dI[c, i, j]|, shape (H, W) for an image (C, H, W), (N, H, W) for a batch. ``target`` and
    ``preprocess`` are as in ``input_gradient`` (None: the predicted class of each clean image).

    ``smooth_samples`` > 0 gives SmoothGrad (Smilkov et al. 2017): the gradient is averaged over that
    many copies of the image with Gaussian noise of standard deviation ``noise_level * (max - min)``
    of each image's values (drawn from ``generator``), before the absolute value and the channel max.

    Example::

        m = saliency_map(net, x, target=7)                       # (H, W)
        m = saliency_map(net, x, smooth_samples=25)              # SmoothGrad
    """
    if smooth_samples < 0:
        raise ValueError(f"saliency_map: smooth_samples must be >= 0, got {smooth_samples}")
    batch = _as_batch(images, "saliency_map")
    with frozen_eval(model):
        if target is None:
            with dg.no_grad():
                target = _scores(model, batch, preprocess, "saliency_map").argmax(1)
        if smooth_samples == 0:
            grad = _score_gradient(model, batch, target, preprocess, "saliency_map")
        else:
            flat = batch.detach().reshape(batch.shape[0], -1)
            sigma = (noise_level * (flat.max(1).values - flat.min(1).values)).reshape(-1, 1, 1, 1)
            grad = dg.zeros_like(batch)
            for _ in range(smooth_samples):
                noise = dg.randn(*batch.shape, generator=generator, dtype=batch.dtype)
                noisy = batch + sigma * noise
                grad = grad + _score_gradient(model, noisy, target, preprocess, "saliency_map")
            grad = grad / smooth_samples
    saliency = grad.abs().amax(dim=1)
    return saliency if images.ndim == 4 else saliency[0]


def _roll(x: Tensor, dy: int, dx: int) -> Tensor:
    """``x`` shifted circularly by dy rows and dx columns (differentiable: slices and a cat)."""
    h, w = x.shape[-2:]
    dy, dx = dy % h, dx % w
    if dy:
        x = dg.cat([x[..., h - dy:, :], x[..., :h - dy, :]], dim=-2)
    if dx:
        x = dg.cat([x[..., w - dx:], x[..., :w - dx]], dim=-1)
    return x


def _gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Each channel of ``x`` (N, C, H, W) blurred by a Gaussian of ``sigma`` pixels; near the
    borders the kernel is renormalised over the pixels inside the image, so edges do not darken."""
    radius = max(1, math.ceil(2 * sigma))
    taps = dg.exp(-(dg.arange(-radius, radius + 1, dtype=x.dtype) ** 2) / (2 * sigma ** 2))
    taps = taps / taps.sum()
    channels = x.shape[1]
    rows = taps.reshape(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    cols = taps.reshape(1, 1, 1, -1).repeat(channels, 1, 1, 1)

    def separable(a: Tensor) -> Tensor:
        a = F.conv2d(a, rows, padding=(radius, 0), groups=channels)
        return F.conv2d(a, cols, padding=(0, radius), groups=channels)

    return separable(x) / separable(dg.ones_like(x))


@dataclass
class ClassModelResult:
    """``images`` (N, C, H, W), one per target class; ``scores`` (steps, N), the target class scores
    at every step of the ascent (taken on the jittered image when ``jitter`` > 0)."""

    images: Tensor
    scores: Tensor


def class_model(model: nn.Module, targets: int | Sequence[int], shape: Sequence[int], steps: int = 200,
                lr: float = 1.0, l2_reg: float = 1e-3, jitter: int = 0, blur_every: int = 0,
                blur_sigma: float = 0.5, preprocess: Callable | None = None,
                clamp: tuple[float, float] | None = None, init: Tensor | None = None,
                generator: dg.Generator | None = None) -> ClassModelResult:
    """Class model visualisation (Simonyan et al. sec. 2): for each class k in ``targets``, the image
    I of ``shape`` (C, H, W) maximising S_k(x) - l2_reg * ||x||^2 with x = preprocess(I) (x = I without
    ``preprocess``), found by ``steps`` steps of gradient ascent I <- I + lr * gradient. The L2 term
    acts on what the model sees, so with ``Normalize`` it pulls towards the mean image, as the paper's
    zero-centred images.

    The ascent starts from ``init`` (N, C, H, W) or (C, H, W), by default Gaussian noise of standard
    deviation 0.01 (Simonyan et al. start from the zero image; the noise only breaks ties). Optional
    regularisers that make the images look more natural (Yosinski et al. 2015):

    - ``jitter`` J > 0: each step shifts the image circularly by a random offset in [-J, J] along each
      axis before the forward pass, so no single pixel grid is optimised;
    - ``blur_every`` B > 0: every B steps the image is blurred by a Gaussian of ``blur_sigma`` pixels,
      damping the high frequencies gradient ascent favours;
    - ``clamp`` (low, high): the pixels are kept in that range after every step, e.g. (0, 1) for
      images in [0, 1] given with a ``preprocess`` that normalises them.

    Random draws come from ``generator`` (default: deepgrad's global generator).

    Example::

        result = class_model(net, targets=list(range(10)), shape=(1, 8, 8), steps=100, lr=0.1,
                             preprocess=transforms.Normalize(mean, std), clamp=(0, 1))
        result.images   # (10, 1, 8, 8)
    """
    targets = [targets] if isinstance(targets, int) else list(targets)
    if len(shape) != 3:
        raise ValueError(f"class_model: shape is the image shape (C, H, W), got {tuple(shape)}")
    if steps < 1 or jitter < 0 or blur_every < 0 or blur_sigma <= 0:
        raise ValueError(f"class_model: need steps >= 1, jitter >= 0, blur_every >= 0 and blur_sigma > 0; "
                         f"got steps={steps}, jitter={jitter}, blur_every={blur_every}, "
                         f"blur_sigma={blur_sigma}")
    n = len(targets)
    if init is None:
        dtype = next(iter(model.parameters()), dg.tensor(0.0)).dtype
        image = 0.01 * dg.randn(n, *shape, generator=generator, dtype=dtype)
    else:
        image = _as_batch(init, "class_model").detach().expand(n, *shape).clone()
    history = []
    with frozen_eval(model):
        for step in range(steps):
            image.requires_grad_(True)
            dy, dx = dg.randint(-jitter, jitter + 1, (2,), generator=generator).tolist() if jitter else (0, 0)
            x = preprocess(image) if preprocess is not None else image
            scores = _scores(model, _roll(x, dy, dx), None, "class_model")
            picked = scores.gather(1, _targets(targets, n, scores.shape[1], "class_model").unsqueeze(1))[:, 0]
            objective = picked.sum() - l2_reg * (x * x).sum()
            (grad,) = dg.autograd.grad(objective, image)
            history.append(picked.detach())
            with dg.no_grad():
                image = image.detach() + lr * grad
                if blur_every and (step + 1) % blur_every == 0:
                    image = _gaussian_blur(image, blur_sigma)
                if clamp is not None:
                    image = image.clamp(*clamp)
    return ClassModelResult(image.detach(), dg.stack(history))


def _pixels(image: Tensor, rescale: bool):
    """An array for imshow from (C, H, W): (H, W) for one channel, (H, W, C) otherwise; values
    clamped to [0, 1], or first stretched to it with ``rescale``."""
    img = image.detach().float()
    if rescale:
        img = (img - img.min()) / (img.max() - img.min()).clamp(min=1e-12)
    img = img.clamp(0, 1)
    return img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()


def _check_images(images: Tensor, op: str) -> None:
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"{op}: expected images of shape (N, C, H, W) with 1 or 3 channels, got "
                         f"{tuple(images.shape)}")


def plot_saliency(images: Tensor, maps: Tensor, path: str | os.PathLike, titles: Sequence[str] | None = None,
                  panel: float = 1.8) -> None:
    """A PNG with one column per image: the image (N, C, H, W) on top, values in [0, 1], and its
    saliency map (N, H, W) below, each map scaled to its own maximum."""
    _check_images(images, "plot_saliency")
    n = images.shape[0]
    if tuple(maps.shape) != (n, *images.shape[2:]):
        raise ValueError(f"plot_saliency: expected maps of shape {(n, *images.shape[2:])} for images "
                         f"{tuple(images.shape)}, got {tuple(maps.shape)}")
    plt = pyplot()
    fig, axes = plt.subplots(2, n, figsize=(panel * n, panel * 2.2), squeeze=False)
    for i in range(n):
        axes[0][i].imshow(_pixels(images[i], rescale=False), cmap="gray", vmin=0, vmax=1)
        axes[1][i].imshow(_pixels(maps[i:i + 1], rescale=True), cmap="hot", vmin=0, vmax=1)
        if titles is not None:
            axes[0][i].set_title(titles[i], fontsize=8)
        for ax in axes[:, i]:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_class_models(images: Tensor, path: str | os.PathLike, titles: Sequence[str] | None = None,
                      panel: float = 1.5) -> None:
    """A PNG with the class model images (N, C, H, W) side by side, each stretched to [0, 1]."""
    _check_images(images, "plot_class_models")
    n = images.shape[0]
    plt = pyplot()
    fig, axes = plt.subplots(1, n, figsize=(panel * n, panel * 1.2), squeeze=False)
    for i in range(n):
        axes[0][i].imshow(_pixels(images[i], rescale=True), cmap="gray", vmin=0, vmax=1)
        axes[0][i].axis("off")
        if titles is not None:
            axes[0][i].set_title(titles[i], fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
