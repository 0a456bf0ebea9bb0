"""Where a captioner looked: each generated word's attention map drawn over the image (the figures of
Show, Attend and Tell)."""
from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence

import deepgrad as dg
from deepgrad import Tensor

from ._plot import pyplot

__all__ = ["plot_attention", "plot_attention_rows"]


def _pixels(image: Tensor):
    """An (H, W, 3) float array in [0, 1] for imshow, from a (3, H, W) uint8 or float image."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"plot_attention: expected a (3, H, W) image, got shape {tuple(image.shape)}")
    img = image.float() / 255 if image.dtype == dg.uint8 else image.detach().float()
    return img.clamp(0, 1).permute(1, 2, 0).numpy()


def plot_attention_rows(rows: Sequence[tuple], path: str | os.PathLike, max_words: int | None = None,
                        panel: float = 1.6, dpi: int = 110) -> None:
    """One row per (image, words, alphas): the image with its caption, then one panel per word
    showing the image darkened where the attention weight is low (the map upsampled bilinearly).
    ``alphas`` is (len(words), h, w); ``max_words`` caps the panels per row; ``panel`` is the side of
    a panel in inches."""
    if not rows:
        raise ValueError("plot_attention_rows: no rows to draw")
    for _, words, alphas in rows:
        if alphas is None or alphas.ndim != 3 or alphas.shape[0] != len(words):
            got = None if alphas is None else tuple(alphas.shape)
            raise ValueError(f"plot_attention: expected attention maps of shape ({len(words)}, h, w), "
                             f"one per word, got {got}")
    counts = [len(w) if max_words is None else min(len(w), max_words) for _, w, _ in rows]
    cols = 1 + max(counts)
    plt = pyplot()
    fig, axes = plt.subplots(len(rows), cols, figsize=(panel * cols, panel * 1.35 * len(rows)), squeeze=False)
    for r, ((image, words, alphas), count) in enumerate(zip(rows, counts)):
        pixels = _pixels(image)
        h, w = pixels.shape[:2]
        axes[r][0].imshow(pixels)
        caption = " ".join(x for x in words if not x.startswith("<"))
        axes[r][0].set_title(textwrap.fill(caption, 24), fontsize=7)
        for k in range(count):
            ax = axes[r][k + 1]
            ax.imshow(pixels)
            amap = alphas[k].detach().double()
            amap = (amap / amap.max().clamp(min=1e-12)).numpy()
            # a black veil whose opacity falls where the weight is high: the attended region stays visible
            ax.imshow(1 - amap, cmap="gray_r", alpha=0.75, vmin=0, vmax=1, interpolation="bilinear",
                      extent=(-0.5, w - 0.5, h - 0.5, -0.5))
            ax.set_title(words[k], fontsize=9)
        for ax in axes[r]:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def plot_attention(image: Tensor, words: Sequence[str], alphas: Tensor, path: str | os.PathLike,
                   max_words: int | None = None) -> None:
    """Draw one image's caption ``words`` with each word's attention map ``alphas`` (len(words), h, w)
    over the image, and save the figure to ``path`` (PNG)."""
    plot_attention_rows([(image, list(words), alphas)], path, max_words)
