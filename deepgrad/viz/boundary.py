"""Decision boundaries of 2-D classifiers: the regions phi(x) . w >= 0 and < 0 of the lectures, or the
class regions of any predictor, drawn over a grid with the training points on top."""
from __future__ import annotations

from typing import Callable

import deepgrad as dg
from deepgrad import Tensor

from ._plot import pyplot

__all__ = ["plot_decision_boundary"]


def _labels_of(out, n: int) -> Tensor:
    out = out if isinstance(out, Tensor) else dg.tensor(out)
    if out.ndim == 2 and out.shape[1] > 1:
        out = out.argmax(1)
    out = out.reshape(-1)
    if out.shape[0] != n:
        raise ValueError(f"plot_decision_boundary: predict_fn returned {out.shape[0]} predictions for {n} "
                         "grid points; it must return one label (or one row of class scores) per point")
    return out


def plot_decision_boundary(predict_fn: Callable, X, y, path, resolution: int = 200, padding: float = 0.1,
                           title: str = "Decision boundary") -> None:
    """Colour the plane by ``predict_fn``'s class and scatter the points ``X`` (N, 2) coloured by ``y``;
    save a PNG at ``path``.

    ``predict_fn`` gets an (M, 2) float32 tensor of grid points and returns their labels (M,), e.g.
    ``Perceptron.predict``, or class scores (M, C), of which the argmax is taken. The grid covers the
    points' bounding box widened by ``padding`` times its size on each side.

    Example::

        plot_decision_boundary(perceptron.predict, X, y, "boundary.png")
    """
    X = X if isinstance(X, Tensor) else dg.tensor(X)
    X = X.detach().float()
    y = (y if isinstance(y, Tensor) else dg.tensor(y)).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must be (N, 2) points, got shape {tuple(X.shape)}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"plot_decision_boundary: X has {X.shape[0]} points but y has {y.shape[0]} labels")
    lo, hi = X.amin(0), X.amax(0)
    margin = (hi - lo).clamp(min=1e-3) * padding
    lo, hi = (lo - margin).tolist(), (hi + margin).tolist()
    xs, ys = dg.linspace(lo[0], hi[0], resolution), dg.linspace(lo[1], hi[1], resolution)
    gx = xs.unsqueeze(0).expand(resolution, resolution)
    gy = ys.unsqueeze(1).expand(resolution, resolution)
    grid = dg.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    with dg.no_grad():
        regions = _labels_of(predict_fn(grid), grid.shape[0]).reshape(resolution, resolution)
    classes = sorted(set(regions.reshape(-1).tolist()) | set(y.tolist()))
    index = {c: i for i, c in enumerate(classes)}
    region_idx = [[index[v] for v in row] for row in regions.tolist()]
    point_idx = [index[v] for v in y.tolist()]

    plt = pyplot()
    palette = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    colours = [palette(i % palette.N) for i in range(len(classes))]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.contourf(xs.tolist(), ys.tolist(), region_idx, levels=[i - 0.5 for i in range(len(classes) + 1)],
                colors=colours, alpha=0.3)
    pts = X.tolist()
    for c, i in index.items():
        sel = [p for p, k in zip(pts, point_idx) if k == i]
        if sel:
            ax.scatter([p[0] for p in sel], [p[1] for p in sel], color=colours[i], edgecolors="k",
                       linewidths=0.5, s=25, label=str(c))
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title)
    ax.legend(title="label", loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
