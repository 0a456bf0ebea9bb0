"""Monitoring pictures: history curves and their diagnosis, filters, confusion matrices, the learning-rate
finder, per-layer statistics, and decision boundaries."""
from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.metrics import confusion_matrix
from deepgrad.models import MLP
from deepgrad.viz.boundary import plot_decision_boundary
from deepgrad.viz.monitor import (
    LayerStatsRecorder, _normalise_per_filter, diagnose, plot_confusion, plot_filters, plot_history,
    plot_lr_find)

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_bytes: int = 5000):
    """``path`` is a PNG with real content: the signature, a few KB, and pixels that are not all alike."""
    import matplotlib.image as mpimg
    data = open(path, "rb").read()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert len(data) > min_bytes, f"{path} has only {len(data)} bytes"
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 100
    assert pixels[..., :3].std() > 0.02, f"{path} is (nearly) blank"


HISTORY = {"loss": [1.5, 0.9, 0.5, 0.3, 0.2], "val_loss": [1.6, 1.1, 0.9, 0.95, 1.05],
           "accuracy": [0.5, 0.7, 0.85, 0.93, 0.97], "val_accuracy": [0.45, 0.62, 0.72, 0.73, 0.74],
           "lr": [0.1] * 5}


class HistoryObject:
    def __init__(self, d):
        self.d = d

    def to_dict(self):
        return dict(self.d)


# ------------------------------------------------------------------------- history
def test_plot_history_dict_and_object(tmp_path):
    verdict = plot_history(HISTORY, tmp_path / "h.png")
    assert_png(tmp_path / "h.png")
    assert verdict["gap"] == pytest.approx(0.97 - 0.74)
    assert verdict["best_epoch"] == 3
    assert verdict["verdict"].startswith("big gap: overfitting")
    assert plot_history(HistoryObject(HISTORY), tmp_path / "o.png") == verdict
    assert_png(tmp_path / "o.png")


def test_diagnose_no_gap_and_loss_only(tmp_path):
    close = dict(HISTORY, val_accuracy=[0.5, 0.69, 0.84, 0.92, 0.95])
    assert diagnose(close)["verdict"].startswith("no gap: underfitting (increase model capacity")
    loss_only = {"loss": [1.0, 0.5], "val_loss": [1.1, 1.0]}
    d = diagnose(loss_only)
    assert d["gap"] == pytest.approx((1.0 - 0.5) / 1.0) and d["verdict"].startswith("big gap")
    plot_history(loss_only, tmp_path / "l.png")
    assert_png(tmp_path / "l.png")
    assert diagnose({"loss": [1.0, 0.5]})["gap"] is None


def test_history_errors(tmp_path):
    with pytest.raises(TypeError, match="expected a history: a dict of per-epoch lists or an object with"):
        plot_history([1.0, 2.0], tmp_path / "x.png")
    with pytest.raises(ValueError, match="no 'loss' values"):
        plot_history({"accuracy": [0.5]}, tmp_path / "x.png")


# ------------------------------------------------------------------------- filters
def test_normalise_per_filter_spans_zero_to_one():
    w = dg.tensor(np.random.default_rng(0).standard_normal((4, 3, 5, 5)).astype(np.float32))
    w[3] = 2.0  # a constant filter shows mid-grey
    out = _normalise_per_filter(w).numpy()
    for i in range(3):
        assert out[i].min() == 0.0 and out[i].max() == pytest.approx(1.0)
        ref = (w[i].numpy() - w[i].numpy().min()) / np.ptp(w[i].numpy())
        np.testing.assert_allclose(out[i], ref, rtol=1e-5, atol=1e-6)
    assert np.all(out[3] == 0.5)


@pytest.mark.parametrize("shape,kwargs", [
    ((16, 3, 5, 5), {}), ((6, 1, 5, 5), {"ncols": 3}), ((8, 4, 3, 3), {}), ((10, 64), {}),
    ((5, 48), {"image_shape": (3, 4, 4)})])
def test_plot_filters(tmp_path, shape, kwargs):
    dg.manual_seed(0)
    plot_filters(dg.randn(*shape), tmp_path / "f.png", **kwargs)
    assert_png(tmp_path / "f.png", min_bytes=3000)


def test_plot_filters_of_a_layer_parameter(tmp_path):
    conv = nn.Conv2d(3, 6, 5)
    plot_filters(conv.weight, tmp_path / "f.png")  # a Parameter that requires grad
    assert_png(tmp_path / "f.png", min_bytes=3000)


def test_plot_filters_errors(tmp_path):
    with pytest.raises(ValueError, match=r"a \(out, 50\) weight is not square images; give image_shape"):
        plot_filters(dg.randn(4, 50), tmp_path / "f.png")
    with pytest.raises(ValueError, match=r"image_shape \(5, 5\) does not hold 64 weights"):
        plot_filters(dg.randn(4, 64), tmp_path / "f.png", image_shape=(5, 5))
    with pytest.raises(ValueError, match=r"expected a conv weight .* got shape \(4, 5, 6\)"):
        plot_filters(dg.randn(4, 5, 6), tmp_path / "f.png")


# ------------------------------------------------------------------------- confusion, lr finder
def test_plot_confusion(tmp_path):
    pred = dg.tensor([0, 1, 2, 2, 1, 0, 2, 1])
    target = dg.tensor([0, 1, 2, 1, 1, 0, 2, 2])
    m = confusion_matrix(pred, target, 3)
    plot_confusion(m, tmp_path / "c.png", class_names=["cat", "dog", "ship"])
    assert_png(tmp_path / "c.png")
    plot_confusion(m, tmp_path / "n.png", normalize=True)
    assert_png(tmp_path / "n.png")
    with pytest.raises(ValueError, match="2 class names for a 3x3 matrix"):
        plot_confusion(m, tmp_path / "x.png", class_names=["a", "b"])
    with pytest.raises(ValueError, match=r"expected a square \(C, C\) matrix, got shape \(2, 3\)"):
        plot_confusion(dg.zeros(2, 3), tmp_path / "x.png")


def test_plot_lr_find(tmp_path):
    lrs = [10 ** (-6 + 6 * i / 49) for i in range(50)]
    # a sigmoid drop around 1e-3, then divergence past 0.3
    losses = [2.3 - 1.5 / (1 + math.exp(-3 * (math.log10(lr) + 3))) + 5.0 * (lr > 0.3) for lr in lrs]
    plot_lr_find(lrs, losses, tmp_path / "lr.png", suggestion=1e-3)
    assert_png(tmp_path / "lr.png")
    plot_lr_find(dg.tensor(lrs), dg.tensor(losses[:-1] + [float("inf")]), tmp_path / "t.png")
    assert_png(tmp_path / "t.png")
    with pytest.raises(ValueError, match="got 50 rates and 49 losses"):
        plot_lr_find(lrs, losses[:-1], tmp_path / "x.png")
    with pytest.raises(ValueError, match="learning rates must be positive"):
        plot_lr_find([0.0, 1.0], [1.0, 2.0], tmp_path / "x.png")


# ------------------------------------------------------------------------- layer statistics
def test_layer_stats_steps_and_layers(tmp_path):
    dg.manual_seed(0)
    net = MLP([4, 8, 8, 3])
    rec = LayerStatsRecorder(net, every=2)
    assert rec.layers == ["0", "2", "4"]
    opt = dg.optim.SGD(net.parameters(), lr=0.1)
    x, y = dg.randn(16, 4), dg.randint(0, 3, (16,))
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
        with dg.no_grad():  # evaluation passes are not steps
            net(x)
    net.eval()
    net(x)
    net.train()
    assert rec.step == 4 and rec.steps == [0, 2, 4]
    for name in rec.layers:
        for key in ("act_mean", "act_std", "grad_norm"):
            assert len(rec.stats[name][key]) == 3 and all(math.isfinite(v) for v in rec.stats[name][key])
    rec.plot(tmp_path / "stats.png")
    assert_png(tmp_path / "stats.png")


def test_layer_stats_match_manual_computation():
    dg.manual_seed(1)
    net = MLP([5, 7, 6, 2], activation="tanh")
    x, y = dg.randn(9, 5), dg.randint(0, 2, (9,))
    with LayerStatsRecorder(net) as rec:
        F.cross_entropy(net(x), y).backward()
    # the same network by hand, keeping the gradients of each Linear's output
    h, outs = x, []
    for i in (0, 2, 4):
        h = F.linear(h, net[i].weight, net[i].bias)
        h.retain_grad()
        outs.append(h)
        if i < 4:
            h = dg.tanh(h)
    F.cross_entropy(h, y).backward()
    for name, out in zip(("0", "2", "4"), outs):
        s = rec.stats[name]
        a = out.detach().numpy().astype(np.float64)
        assert s["act_mean"][0] == pytest.approx(a.mean(), rel=1e-6, abs=1e-7)
        assert s["act_std"][0] == pytest.approx(a.std(), rel=1e-6)
        grad = out.grad.numpy().astype(np.float64)
        assert s["grad_norm"][0] == pytest.approx(np.linalg.norm(grad), rel=1e-6)
    # leaving the with-block removed the hooks
    assert not net._forward_pre_hooks
    assert not any(m._forward_hooks or m._backward_hooks for m in net.modules())
    F.cross_entropy(net(x), y).backward()
    assert rec.steps == [0]


def test_layer_stats_named_layers_and_errors(tmp_path):
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    rec = LayerStatsRecorder(net, layers=["0", "1"])
    net(dg.randn(2, 1, 8, 8)).sum().backward()
    assert rec.stats["1"]["act_mean"][0] >= 0  # after the ReLU
    assert rec.stats["1"]["grad_norm"][0] > 0
    rec.remove()
    with pytest.raises(ValueError, match=r"no submodules named \['9'\]"):
        LayerStatsRecorder(net, layers=["9"])
    with pytest.raises(ValueError, match="every must be a positive int, got 0"):
        LayerStatsRecorder(net, every=0)
    with pytest.raises(ValueError, match="nothing recorded yet"):
        LayerStatsRecorder(net).plot(tmp_path / "x.png")


# ------------------------------------------------------------------------- decision boundary
def test_plot_decision_boundary(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 2)).astype(np.float32)
    y = np.where(X[:, 0] > X[:, 1], 1, -1)
    seen = []

    def predict(points):
        seen.append(tuple(points.shape))
        return (points[:, 0] > points[:, 1]).long() * 2 - 1

    plot_decision_boundary(predict, dg.tensor(X), dg.tensor(y), tmp_path / "b.png", resolution=50)
    assert seen == [(2500, 2)]
    assert_png(tmp_path / "b.png")
    # class scores: the argmax is taken; three classes
    dg.manual_seed(0)
    clf = nn.Linear(2, 3)
    plot_decision_boundary(clf, X, rng.integers(0, 3, 40), tmp_path / "m.png", resolution=40)
    assert_png(tmp_path / "m.png")
    with pytest.raises(ValueError, match=r"X must be \(N, 2\) points, got shape \(40, 3\)"):
        plot_decision_boundary(predict, dg.zeros(40, 3), y, tmp_path / "x.png")
    with pytest.raises(ValueError, match="returned 1 predictions for 100 grid points"):
        plot_decision_boundary(lambda p: dg.zeros(1), X, y, tmp_path / "x.png", resolution=10)


def test_with_the_trainer(tmp_path):
    from deepgrad.train import Trainer
    from deepgrad.utils.data import DataLoader, TensorDataset
    dg.manual_seed(0)
    x = dg.randn(48, 4)
    y = (x[:, 0] + x[:, 1] > 0).long()
    net = MLP([4, 8, 2])
    rec = LayerStatsRecorder(net)
    trainer = Trainer(net, dg.optim.SGD(net.parameters(), lr=0.1), F.cross_entropy, progress=False,
                      verbose=False)
    history = trainer.fit(DataLoader(TensorDataset(x, y), batch_size=16),
                          DataLoader(TensorDataset(x, y), batch_size=16), epochs=2)
    assert rec.steps == list(range(6))  # 3 training batches per epoch; validation passes do not count
    assert all(not math.isnan(v) for v in rec.stats["2"]["grad_norm"])
    verdict = plot_history(history, tmp_path / "h.png")
    assert verdict["best_epoch"] in (1, 2) and verdict["gap"] is not None
    assert_png(tmp_path / "h.png")


def test_diagnose_non_finite_values():
    d = diagnose({"loss": [1.0, float("nan")], "val_loss": [1.0, float("nan")]})
    assert d["gap"] is None and d["best_epoch"] == 1 and "not finite" in d["verdict"]
