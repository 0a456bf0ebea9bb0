"""What the lectures do with trained networks: feature vectors from hidden layers, nearest neighbours,
PCA pictures, and transfer learning by freezing and replacing layers."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.models import MLP
from deepgrad.train.transfer import (
    count_trainable, digits_cnn, fine_tune_last, freeze, parameterised_layers, replace_head,
    transfer_experiment, unfreeze)
from deepgrad.utils.data import DataLoader, TensorDataset
from deepgrad.vision.embed import PCA, Img2Vec, embed, nearest_neighbours, pca, plot_embeddings

from .test_monitor_viz import assert_png


# ------------------------------------------------------------------------- embeddings
def test_embed_returns_the_hooked_layer_outputs():
    dg.manual_seed(0)
    net = MLP([6, 5, 4, 3])
    x, y = dg.randn(10, 6), dg.randint(0, 3, (10,))
    feats, labels = embed(net, DataLoader(TensorDataset(x, y), batch_size=4), layer="1")
    expected = net[1](net[0](x))
    assert feats.tolist() == expected.tolist() and labels.tolist() == y.tolist()
    assert not feats.requires_grad and net.training  # the model's mode is restored
    out, _ = embed(net, DataLoader(TensorDataset(x, y), batch_size=3))
    np.testing.assert_array_equal(out.numpy(), net(x).detach().numpy())


def test_embed_conv_layer_is_flattened_and_labels_optional():
    dg.manual_seed(0)
    net = digits_cnn(5)
    x = dg.rand(7, 1, 8, 8)
    feats, labels = embed(net, [x[:4], x[4:]], layer="features.2")
    assert labels is None and tuple(feats.shape) == (7, 16 * 4 * 4)
    with dg.no_grad():
        # batch by batch, as embed runs it (a different batch size may round differently)
        expected = dg.cat([net.features[:3](b) for b in (x[:4], x[4:])]).reshape(7, -1)
    np.testing.assert_array_equal(feats.numpy(), expected.numpy())
    np.testing.assert_array_equal(Img2Vec(net, "features")(x).numpy(), net.features(x).detach().numpy())


def test_embed_errors():
    net = MLP([3, 2])
    with pytest.raises(ValueError, match=r"no submodule 'fc9'; its submodules are \['0'\]"):
        embed(net, [dg.zeros(1, 3)], layer="fc9")
    with pytest.raises(TypeError, match="must yield input tensors or \\(inputs, labels\\) batches, got str"):
        embed(net, ["abc"])
    with pytest.raises(ValueError, match="yielded no batches"):
        embed(net, [])


def brute_force_neighbours(F_, Q, k, metric):
    if metric == "cosine":
        Fn = F_ / np.linalg.norm(F_, axis=1, keepdims=True)
        Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
        d = 1 - Qn @ Fn.T
    else:
        d = np.sqrt(((Q[:, None, :] - F_[None, :, :]) ** 2).sum(-1))
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(d, idx, 1)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_nearest_neighbours_vs_brute_force(metric):
    rng = np.random.default_rng(0)
    F_, Q = rng.standard_normal((60, 7)), rng.standard_normal((5, 7))
    idx, dist = nearest_neighbours(dg.tensor(F_), dg.tensor(Q), k=6, metric=metric)
    ref_idx, ref_dist = brute_force_neighbours(F_, Q, 6, metric)
    assert idx.dtype == dg.int64 and tuple(idx.shape) == (5, 6)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    np.testing.assert_allclose(dist.numpy(), ref_dist, atol=1e-10)
    one_idx, one_dist = nearest_neighbours(dg.tensor(F_), dg.tensor(F_[17]), k=3, metric=metric)
    assert tuple(one_idx.shape) == (3,) and one_idx[0].item() == 17 and abs(one_dist[0].item()) < 1e-7


def test_nearest_neighbours_ties_and_errors():
    F_ = dg.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [2.0, 0.0]])
    idx, dist = nearest_neighbours(F_, dg.tensor([3.0, 0.0]), k=3, metric="cosine")
    # equal distances: lower index first
    assert idx.tolist() == [0, 2, 3] and dist.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"k must be in \[1, 4\], got 5"):
        nearest_neighbours(F_, F_[0], k=5)
    with pytest.raises(ValueError, match="metric must be 'cosine' or 'euclidean', got 'l1'"):
        nearest_neighbours(F_, F_[0], k=1, metric="l1")
    with pytest.raises(ValueError, match="query has 3 features, the features have 2"):
        nearest_neighbours(F_, dg.zeros(3), k=1)


def numpy_pca(X, k):
    Xc = X - X.mean(0)
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    signs = np.sign(Vt[np.arange(k), np.abs(Vt[:k]).argmax(1)])
    return Vt[:k] * signs[:, None], S[:k], Xc @ (Vt[:k] * signs[:, None]).T


@pytest.mark.parametrize("n,d,k", [(80, 12, 2), (15, 40, 3), (30, 1, 1)])
def test_pca_matches_numpy_svd(n, d, k):
    rng = np.random.default_rng(n)
    X = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + 3.0
    p = PCA(k).fit(dg.tensor(X))
    comps, sing, proj = numpy_pca(X, k)
    np.testing.assert_allclose(p.components.numpy(), comps, atol=1e-8)
    np.testing.assert_allclose(p.singular_values.numpy(), sing, rtol=1e-8)
    np.testing.assert_allclose(p.explained_variance.numpy(), sing ** 2 / (n - 1), rtol=1e-8)
    np.testing.assert_allclose(pca(dg.tensor(X), k).numpy(), proj, atol=1e-7)


def test_pca_float32_and_errors():
    X = np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32)
    out = pca(dg.tensor(X), 2)
    assert out.dtype == dg.float32
    np.testing.assert_allclose(np.abs(out.numpy()), np.abs(numpy_pca(X.astype(np.float64), 2)[2]), atol=1e-4)
    with pytest.raises(ValueError, match=r"n_components=7 exceeds min\(N, D\) = 6"):
        PCA(7).fit(dg.tensor(X))
    with pytest.raises(RuntimeError, match="call fit first"):
        PCA(2).transform(dg.tensor(X))
    with pytest.raises(ValueError, match="fitted on 6 features, got 5"):
        PCA(2).fit(dg.tensor(X)).transform(dg.zeros(3, 5))


def test_plot_embeddings(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 80)
    pts = rng.standard_normal((80, 2)) + labels[:, None] * 2.0
    plot_embeddings(dg.tensor(pts), dg.tensor(labels), tmp_path / "e.png", class_names=["a", "b", "c", "d"])
    assert_png(tmp_path / "e.png")
    plot_embeddings(pts, None, tmp_path / "u.png")
    assert_png(tmp_path / "u.png")
    with pytest.raises(ValueError, match=r"expected \(N, 2\) points, got shape \(80, 3\)"):
        plot_embeddings(dg.zeros(80, 3), labels, tmp_path / "x.png")
    with pytest.raises(ValueError, match="80 points but 3 labels"):
        plot_embeddings(pts, [0, 1, 2], tmp_path / "x.png")


# ------------------------------------------------------------------------- freezing and heads
def test_freeze_unfreeze_and_count():
    net = digits_cnn(5)
    total = sum(p.numel() for p in net.parameters())
    assert freeze(net.features) is net.features
    assert all(not p.requires_grad for p in net.features.parameters())
    assert count_trainable(net) == 64 * 5 + 5
    unfreeze(net)
    assert count_trainable(net) == total


def test_replace_head():
    dg.manual_seed(0)
    mlp = MLP([4, 6, 3])
    old = mlp[2]
    assert replace_head(mlp, nn.Linear(6, 7)) is old  # default: the last layer with parameters
    assert tuple(mlp(dg.randn(2, 4)).shape) == (2, 7)
    net = digits_cnn(5)
    new = nn.Linear(64, 2)
    replace_head(net, new, "head")
    assert net.head is new and tuple(net(dg.rand(3, 1, 8, 8)).shape) == (3, 2)
    replace_head(net, nn.Linear(128, 32), "features.7")  # a dotted name inside a Sequential
    assert net.features[7].out_features == 32
    with pytest.raises(ValueError, match="no submodule 'fc3'"):
        replace_head(net, nn.Linear(2, 2), "fc3")
    with pytest.raises(TypeError, match="new_head must be an nn.Module, got function"):
        replace_head(net, lambda x: x, "head")


def test_fine_tune_last():
    net = digits_cnn(5)
    assert [n for n, _ in parameterised_layers(net)] == ["features.0", "features.3", "features.7", "head"]
    assert fine_tune_last(net, 2) == ["features.7", "head"]
    trainable = [n for n, p in net.named_parameters() if p.requires_grad]
    assert trainable == ["features.7.weight", "features.7.bias", "head.weight", "head.bias"]
    assert fine_tune_last(net, 0) == [] and count_trainable(net) == 0
    with pytest.raises(ValueError, match=r"k must be an int in \[0, 4\]"):
        fine_tune_last(net, 5)


@pytest.mark.parametrize("make_opt", [lambda ps: dg.optim.Adam(ps, lr=1e-2, weight_decay=0.1),
                                      lambda ps: dg.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1)])
def test_frozen_parameters_are_bit_identical_after_fine_tuning(make_opt):
    dg.manual_seed(0)
    net = digits_cnn(5)
    fine_tune_last(net, 2)
    before = {n: p.detach().numpy().copy() for n, p in net.named_parameters()}
    opt = make_opt(net.parameters())  # every parameter, frozen ones included: they get no gradient
    x, y = dg.rand(16, 1, 8, 8), dg.randint(0, 5, (16,))
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    for n, p in net.named_parameters():
        if p.requires_grad:
            assert not np.array_equal(p.detach().numpy(), before[n]), f"{n} was not trained"
        else:
            assert p.grad is None
            assert np.array_equal(p.detach().numpy(), before[n]), f"frozen {n} changed"


# ------------------------------------------------------------------------- the experiment
def test_transfer_experiment_small_budget(capsys):
    pytest.importorskip("sklearn")
    # a budget of 6 steps on the new classes: the pretrained network has a head start
    r = transfer_experiment(shots=20, pretrain_epochs=2, epochs=(3,), batch_size=64, seed=0)
    assert r["epochs"] == [3] and r["n_test"] > 150
    assert set(r["accuracy"]) == {"linear", "linear_conv2", "linear_conv1", "finetune", "scratch"}
    assert all(0.0 <= r[k] <= 1.0 for k in ("linear", "finetune", "scratch"))
    assert r["pretrain"] > 0.7
    assert min(r["linear"], r["finetune"]) > r["scratch"] + 0.15
    assert r["trainable"]["linear"] == 64 * 5 + 5 and r["trainable"]["finetune"] == r["trainable"]["scratch"]
    out = capsys.readouterr().out
    assert "(c) train from scratch on the 100 examples" in out and "Use Linear Classifier on top layer" in out
