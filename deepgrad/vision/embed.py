"""What a trained network is good for besides its own task: its hidden layers as feature vectors
("Img2Vec"), nearest-neighbour search among them, and a 2-D picture of them through PCA.

    feats, labels = embed(model, loader, layer="features")
    idx, dist = nearest_neighbours(feats, feats[0], k=5)
    plot_embeddings(pca(feats, 2), labels, "embeddings.png")
"""
from __future__ import annotations

from typing import Sequence

import deepgrad as dg
from deepgrad import Tensor, nn

from ..viz._plot import pyplot

__all__ = ["Img2Vec", "embed", "nearest_neighbours", "PCA", "pca", "plot_embeddings"]


class Img2Vec:
    """Feature vectors of images: the output of ``model``'s submodule ``layer`` (a dotted name from
    ``named_modules()``; None for the model's own output), captured by a forward hook and flattened
    to one row per image. The model runs in eval mode without gradients; its mode is restored after.

    Example::

        to_vec = Img2Vec(net, layer="fc2")
        vectors = to_vec(images)            # (N, 84) for LeNet
    """

    def __init__(self, model: nn.Module, layer: str | None = None):
        self.model, self.layer = model, layer
        if layer is None:
            self.module = model
        else:
            names = [n for n, _ in model.named_modules() if n]
            if layer not in names:
                raise ValueError(f"Img2Vec: the model has no submodule {layer!r}; its submodules are {names}")
            self.module = model.get_submodule(layer)

    def __call__(self, images: Tensor) -> Tensor:
        captured: list[Tensor] = []

        def hook(module, args, out) -> None:
            if not isinstance(out, Tensor):
                raise TypeError(f"Img2Vec: layer {self.layer!r} returned {type(out).__name__}, not a tensor")
            captured.append(out)

        was_training = self.model.training
        handle = self.module.register_forward_hook(hook)
        try:
            self.model.eval()
            with dg.no_grad():
                self.model(images)
        finally:
            handle.remove()
            self.model.train(was_training)
        if not captured:
            raise RuntimeError(f"Img2Vec: layer {self.layer!r} was not called by the model's forward")
        out = captured[0]
        return out.reshape(out.shape[0], -1)


def embed(model: nn.Module, loader, layer: str | None = None) -> tuple[Tensor, Tensor | None]:
    """The feature vectors of every example of ``loader`` at ``layer`` (see ``Img2Vec``), stacked
    into an (N, D) tensor, with the labels (N,) when the loader yields (inputs, labels) batches
    (None when it yields bare input tensors).

    Example::

        feats, labels = embed(net, DataLoader(test_set, batch_size=256), layer="fc2")
    """
    to_vec = Img2Vec(model, layer)
    feats, labels = [], []
    for batch in loader:
        if isinstance(batch, Tensor):
            x, y = batch, None
        elif isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
            x, y = batch[0], (batch[1] if len(batch) > 1 else None)
        else:
            raise TypeError(f"embed: the loader must yield input tensors or (inputs, labels) batches, got "
                            f"{type(batch).__name__}")
        feats.append(to_vec(x))
        if y is not None:
            labels.append(y if isinstance(y, Tensor) else dg.tensor(y))
    if not feats:
        raise ValueError("embed: the loader yielded no batches")
    if labels and len(labels) != len(feats):
        raise ValueError("embed: some batches had labels and others did not")
    return dg.cat(feats), (dg.cat(labels) if labels else None)


def _rows(x, name: str, op: str) -> Tensor:
    x = (x if isinstance(x, Tensor) else dg.tensor(x)).detach()
    if not x.is_floating_point():
        x = x.float()
    if x.ndim != 2:
        raise ValueError(f"{op}: {name} must be (N, D), got shape {tuple(x.shape)}")
    return x


def nearest_neighbours(features, query, k: int = 5, metric: str = "cosine") -> tuple[Tensor, Tensor]:
    """The ``k`` rows of ``features`` (N, D) nearest to each query (D,) or (Q, D), closest first.

    ``metric`` is 'cosine' (distance 1 - cos(angle), in [0, 2]) or 'euclidean'. Returns
    ``(indices, distances)``, int64 and float, of shape (k,) for one query and (Q, k) for several;
    equal distances keep the lower index first.

    Example::

        idx, dist = nearest_neighbours(feats, feats[17], k=6)   # idx[0] == 17, dist[0] == 0
    """
    feats = _rows(features, "features", "nearest_neighbours")
    query = query if isinstance(query, Tensor) else dg.tensor(query)
    single = query.ndim == 1
    q = _rows(query.unsqueeze(0) if single else query, "query", "nearest_neighbours").to(feats.dtype)
    if q.shape[1] != feats.shape[1]:
        raise ValueError(f"nearest_neighbours: query has {q.shape[1]} features, the features have "
                         f"{feats.shape[1]}")
    if not 1 <= k <= feats.shape[0]:
        raise ValueError(f"nearest_neighbours: k must be in [1, {feats.shape[0]}], got {k}")
    if metric == "cosine":
        unit_f = feats / feats.norm(dim=1, keepdim=True).clamp(min=1e-12)
        unit_q = q / q.norm(dim=1, keepdim=True).clamp(min=1e-12)
        dist = (1 - unit_q @ unit_f.T).clamp(min=0.0)
    elif metric == "euclidean":
        sq = (q * q).sum(1, keepdim=True) + (feats * feats).sum(1).unsqueeze(0) - 2 * (q @ feats.T)
        dist = sq.clamp(min=0.0).sqrt()
    else:
        raise ValueError(f"nearest_neighbours: metric must be 'cosine' or 'euclidean', got {metric!r}")
    # k rounds of argmin (first minimum wins ties) rather than a full sort: k is small
    idx, best = [], []
    remaining = dist
    for _ in range(k):
        j = remaining.argmin(1)
        idx.append(j)
        best.append(dist.gather(1, j.unsqueeze(1)).squeeze(1))
        remaining = remaining.scatter(1, j.unsqueeze(1), float("inf"))
    indices, distances = dg.stack(idx, dim=1), dg.stack(best, dim=1)
    return (indices[0], distances[0]) if single else (indices, distances)


def _jacobi_eigh(a: Tensor, tol: float = 1e-13, max_sweeps: int = 60) -> tuple[Tensor, Tensor]:
    """Eigenvalues and eigenvectors (columns) of the symmetric float64 matrix ``a``, by cyclic Jacobi
    rotations in round-robin order: each round zeroes n/2 disjoint off-diagonal pairs at once with
    O(n^2) row and column updates, and sweeps repeat until the off-diagonal part is negligible."""
    n = a.shape[0]
    v = dg.eye(n, dtype=dg.float64)
    if n == 1:
        return a.reshape(1), v
    players = list(range(n)) + ([-1] if n % 2 else [])  # -1 sits out a round when n is odd
    m = len(players)
    off_diagonal = 1 - dg.eye(n, dtype=dg.float64)
    scale = a.norm().item() or 1.0
    for _ in range(max_sweeps):
        if (a * off_diagonal).norm().item() <= tol * scale:
            break
        for _round in range(m - 1):
            pairs = [(players[i], players[m - 1 - i]) for i in range(m // 2)]
            pairs = [(min(p, q), max(p, q)) for p, q in pairs if p >= 0 and q >= 0]
            a, v = _rotate(a, v, pairs)
            players = [players[0], players[-1]] + players[1:-1]
    diag = dg.arange(n)
    return a[diag, diag], v


def _rotate(a: Tensor, v: Tensor, pairs: list) -> tuple[Tensor, Tensor]:
    """Apply the Jacobi rotations that zero a[p, q] for each disjoint pair: a <- J^T a J, v <- v J."""
    p = dg.tensor([i for i, _ in pairs])
    q = dg.tensor([j for _, j in pairs])
    app, aqq, apq = a[p, p], a[q, q], a[p, q]
    small = apq.abs() <= 1e-300
    # Golub & Van Loan, Algorithm 8.5.1 (sym.schur2), vectorised over the pairs
    tau = (aqq - app) / (2 * dg.where(small, dg.ones_like(apq), apq))
    t = dg.where(tau >= 0, dg.ones_like(tau), -dg.ones_like(tau)) / (tau.abs() + (1 + tau * tau).sqrt())
    t = dg.where(small, dg.zeros_like(t), t)
    c = 1 / (1 + t * t).sqrt()
    s = t * c
    a = _rotate_columns(a, p, q, c, s)
    a = _rotate_columns(a.T, p, q, c, s).T
    return a, _rotate_columns(v, p, q, c, s)


def _rotate_columns(x: Tensor, p: Tensor, q: Tensor, c: Tensor, s: Tensor) -> Tensor:
    xp, xq = x[:, p], x[:, q]
    x = x.clone()
    x[:, p] = c * xp - s * xq
    x[:, q] = s * xp + c * xq
    return x


class PCA:
    """Principal component analysis: the top ``n_components`` right singular vectors of the centred
    data, found as the eigenvectors of its (D, D) covariance (or, when N < D, from the (N, N) Gram
    matrix) by Jacobi rotations in float64: exact to rounding, at O(m^3) per sweep for m = min(N, D)
    (about a second for m = 100, several for m = 200).

    After ``fit``: ``mean`` (D,), ``components`` (k, D) (rows, unit length, sign fixed so that each
    row's largest-magnitude entry is positive, as scikit-learn does), ``singular_values`` (k,) and
    ``explained_variance`` (k,) (singular value^2 / (N - 1)).

    Example::

        points = PCA(2).fit(feats).transform(feats)   # (N, 2)
    """

    def __init__(self, n_components: int = 2):
        if not isinstance(n_components, int) or n_components < 1:
            raise ValueError(f"PCA: n_components must be a positive int, got {n_components!r}")
        self.n_components = n_components

    def fit(self, features) -> "PCA":
        x = _rows(features, "features", "PCA.fit")
        n, d = x.shape
        k = self.n_components
        if k > min(n, d):
            raise ValueError(f"PCA: n_components={k} exceeds min(N, D) = {min(n, d)} for data of shape "
                             f"{(n, d)}")
        self.dtype = x.dtype
        x64 = x.to(dg.float64)
        self.mean = x64.mean(0)
        xc = x64 - self.mean
        if n >= d:
            evals, evecs = _jacobi_eigh(xc.T @ xc)
        else:
            evals, evecs = _jacobi_eigh(xc @ xc.T)
        order = sorted(range(evals.shape[0]), key=lambda i: -evals[i].item())[:k]
        idx = dg.tensor(order)
        sing = evals[idx].clamp(min=0.0).sqrt()
        if n >= d:
            comps = evecs[:, idx].T
        else:
            # v_i = X^T u_i / sigma_i turns the Gram matrix's eigenvectors into the covariance's
            comps = (xc.T @ evecs[:, idx] / sing.clamp(min=1e-300)).T
        pivot = comps.abs().argmax(1, keepdim=True)
        signs = 1 - 2 * (comps.gather(1, pivot) < 0).to(dg.float64)
        self.components = comps * signs
        self.singular_values = sing
        self.explained_variance = sing * sing / max(n - 1, 1)
        return self

    def transform(self, features) -> Tensor:
        """Project (N, D) features on the components: (N, k) in the features' dtype."""
        if not hasattr(self, "components"):
            raise RuntimeError("PCA.transform: call fit first")
        x = _rows(features, "features", "PCA.transform").to(dg.float64)
        if x.shape[1] != self.mean.shape[0]:
            raise ValueError(f"PCA.transform: fitted on {self.mean.shape[0]} features, got {x.shape[1]}")
        return ((x - self.mean) @ self.components.T).to(self.dtype)


def pca(features, k: int = 2) -> Tensor:
    """The (N, k) coordinates of ``features`` (N, D) on their top ``k`` principal components
    (``PCA(k).fit(features).transform(features)``)."""
    return PCA(k).fit(features).transform(features)


def plot_embeddings(points2d, labels, path, class_names: Sequence[str] | None = None,
                    title: str = "Embeddings (PCA)") -> None:
    """Scatter (N, 2) points coloured by their integer labels (or in one colour when ``labels`` is
    None), with a legend; saved as a PNG at ``path``."""
    pts = _rows(points2d, "points2d", "plot_embeddings")
    if pts.shape[1] != 2:
        raise ValueError(f"plot_embeddings: expected (N, 2) points, got shape {tuple(pts.shape)}")
    xs, ys = pts[:, 0].tolist(), pts[:, 1].tolist()
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    if labels is None:
        ax.scatter(xs, ys, s=10)
    else:
        lab = (labels if isinstance(labels, Tensor) else dg.tensor(labels)).reshape(-1).tolist()
        if len(lab) != len(xs):
            raise ValueError(f"plot_embeddings: {len(xs)} points but {len(lab)} labels")
        classes = sorted(set(lab))
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        for i, c in enumerate(classes):
            sel = [j for j, v in enumerate(lab) if v == c]
            name = class_names[int(c)] if class_names is not None else str(c)
            ax.scatter([xs[j] for j in sel], [ys[j] for j in sel], s=10, color=cmap(i % cmap.N), label=name)
        ax.legend(markerscale=2, fontsize=8, loc="best")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
