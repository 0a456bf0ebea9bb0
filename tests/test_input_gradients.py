"""Gradients with respect to the input: saliency maps, class models, style transfer, and their CLI."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import deepgrad as dg
import deepgrad.nn as nn
from deepgrad.viz.saliency import class_model, input_gradient, saliency_map
from deepgrad.viz.style import FeatureExtractor, gram_matrix, style_transfer

ROOT = Path(__file__).resolve().parents[1]


def _tiny_cnn(dtype=dg.float64):
    dg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    return net.to(dtype)


def test_saliency_equals_finite_differences():
    net = _tiny_cnn()
    x = dg.randn(1, 6, 6, dtype=dg.float64)
    grad = input_gradient(net, x, target=2)
    eps = 1e-6
    flat = x.numpy().reshape(-1)
    numeric = np.zeros_like(flat)
    with dg.no_grad():
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = net(x.unsqueeze(0))[0, 2].item()
            flat[i] = old - eps
            down = net(x.unsqueeze(0))[0, 2].item()
            flat[i] = old
            numeric[i] = (up - down) / (2 * eps)
    np.testing.assert_allclose(grad.numpy().reshape(-1), numeric, atol=1e-7, rtol=1e-6)
    smap = saliency_map(net, x, target=2)
    assert smap.shape == (6, 6)
    np.testing.assert_allclose(smap.numpy(), np.abs(grad.numpy()).max(0))


def test_class_model_raises_the_class_score():
    net = _tiny_cnn(dg.float32)
    result = class_model(net, [0, 1], (1, 6, 6), steps=30, lr=0.1, l2_reg=1e-3)
    assert result.images.shape == (2, 1, 6, 6)
    scores = result.scores
    assert (scores[-1] > scores[0]).all().item()


def test_gram_matrix_matches_torch():
    f = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    g = gram_matrix(dg.tensor(f)).numpy()
    t = torch.tensor(f).reshape(2, 3, 20)
    expected = (t @ t.transpose(1, 2)).numpy()
    assert g.shape == (2, 3, 3)
    scale = expected[0, 0, 0] / g[0, 0, 0]
    np.testing.assert_allclose(g * scale, expected, rtol=1e-10)   # same matrix up to normalisation


def test_style_transfer_lowers_both_losses_and_approaches_the_style_grams():
    dg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
    g = dg.Generator().manual_seed(1)
    content = dg.rand(3, 16, 16, generator=g)
    style = dg.rand(3, 16, 16, generator=g) ** 3
    result = style_transfer(net, content, style, content_layers=["2"], style_layers=["1", "3"], steps=60,
                            lr=0.05, style_weight=10.0)
    h = result.history
    assert h["style"][-1] < h["style"][0] and h["total"][-1] < h["total"][0]

    def gram_distance(img):
        with FeatureExtractor(net, ["3"]) as extract:
            a = gram_matrix(extract(img.unsqueeze(0))["3"])
            b = gram_matrix(extract(style.unsqueeze(0))["3"])
        return ((a - b) ** 2).sum().item()

    with dg.no_grad():
        assert gram_distance(result.image) < 0.8 * gram_distance(content)


def test_cli_saliency_on_a_trained_digits_classifier(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = [sys.executable, "-m", "deepgrad.cli"]
    r = subprocess.run(run + ["train-images", "--dataset", "digits", "--model", "mlp", "--epochs", "1",
                              "--out", "run"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    img = np.zeros((8, 8, 3))
    img[2:6, 3:5] = 1.0
    plt.imsave(tmp_path / "digit.png", img)
    r = subprocess.run(run + ["saliency", "run/best.ckpt", "digit.png", "--out", "sal.png"], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "sal.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
