"""Gradients with respect to the input: saliency maps (against finite differences and PyTorch),
SmoothGrad, class model visualisation, Gram matrices and the style-transfer losses, the feature
extractor, image files, and the saliency / class-model / style-transfer commands."""
from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad import nn
from deepgrad.models import VGG, LeNet, resnet20
from deepgrad.vision import transforms as T
from deepgrad.vision.images import read_image, write_image
from deepgrad.viz.saliency import class_model, frozen_eval, input_gradient, saliency_map
from deepgrad.viz.style import (
    FeatureExtractor, content_loss, default_feature_layers, gram_matrix, style_loss, style_transfer,
    total_variation, vgg_layer_names)

from .helpers import assert_close, compare, rand

pytest.importorskip("matplotlib")


def small_net(dtype=dg.float64, seed=0) -> nn.Sequential:
    """conv - tanh - avg-pool - linear on (2, 6, 6) images, 4 classes: smooth, so finite differences
    are accurate."""
    dg.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(2, 5, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                        nn.Linear(5 * 3 * 3, 4))
    return net.to(dtype)


def torch_small_net(net: nn.Sequential) -> torch.nn.Sequential:
    t = torch.nn.Sequential(torch.nn.Conv2d(2, 5, 3, padding=1), torch.nn.Tanh(), torch.nn.AvgPool2d(2),
                            torch.nn.Flatten(), torch.nn.Linear(5 * 3 * 3, 4)).double()
    t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in net.state_dict().items()})
    return t


def finite_difference_saliency(net, x: np.ndarray, k: int, preprocess=None, eps: float = 1e-6) -> np.ndarray:
    """max_c |dS_k/dx[c, i, j]| by central differences, one pixel and channel at a time."""
    def score(a):
        t = dg.tensor(a[None])
        with dg.no_grad():
            return net(preprocess(t) if preprocess else t)[0, k].item()
    grad = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        grad[idx] = (score(up) - score(down)) / (2 * eps)
    return np.abs(grad).max(axis=0)


# ------------------------------------------------------------------------- saliency
@pytest.mark.parametrize("normalize", [False, True])
def test_saliency_equals_finite_differences(normalize):
    net = small_net()
    x = rand(2, 6, 6, seed=1)
    pre = T.Normalize((0.3, -0.2), (0.5, 2.0)) if normalize else None
    for k in (0, 3):
        m = saliency_map(net, dg.tensor(x), target=k, preprocess=pre)
        assert m.shape == (6, 6) and m.dtype == dg.float64
        expected = finite_difference_saliency(net, x, k, pre)
        np.testing.assert_allclose(m.numpy(), expected, rtol=1e-6, atol=1e-9)


def test_input_gradient_matches_torch_batch_and_predicted_targets():
    net = small_net()
    tnet = torch_small_net(net)
    x = rand(3, 2, 6, 6, seed=2)
    tx = torch.tensor(x, requires_grad=True)
    scores = tnet(tx)
    predicted = scores.argmax(1)
    scores.gather(1, predicted[:, None]).sum().backward()
    assert_close(input_gradient(net, dg.tensor(x)), tx.grad, atol=1e-10)
    assert_close(saliency_map(net, dg.tensor(x)), tx.grad.abs().amax(1), atol=1e-10)
    targets = [1, 0, 2]
    tx.grad = None
    tnet(tx).gather(1, torch.tensor(targets)[:, None]).sum().backward()
    assert_close(input_gradient(net, dg.tensor(x), targets), tx.grad, atol=1e-10)


def test_saliency_float32_restores_model_and_leaves_no_parameter_grads():
    net = small_net(dg.float32)
    net.train()
    m = saliency_map(net, dg.rand(2, 2, 6, 6), target=[0, 1])
    assert m.dtype == dg.float32 and m.shape == (2, 6, 6)
    assert net.training and all(p.requires_grad and p.grad is None for p in net.parameters())


def test_frozen_eval_restores_even_after_an_error():
    net = small_net()
    net.train()
    net[0].weight.requires_grad_(False)
    with pytest.raises(RuntimeError, match="boom"), frozen_eval(net):
        assert not net.training and not any(p.requires_grad for p in net.parameters())
        raise RuntimeError("boom")
    assert net.training and [p.requires_grad for p in net.parameters()] == [False, True, True, True]


def test_smoothgrad_is_the_mean_gradient_over_the_same_noise():
    net = small_net()
    x = dg.tensor(rand(2, 6, 6, seed=3))
    m = saliency_map(net, x, target=2, smooth_samples=4, noise_level=0.2,
                     generator=dg.Generator().manual_seed(5))
    gen = dg.Generator().manual_seed(5)
    sigma = 0.2 * (x.max() - x.min())
    grads = [input_gradient(net, x + sigma * dg.randn(1, 2, 6, 6, generator=gen, dtype=dg.float64)[0], 2)
             for _ in range(4)]
    assert_close(m, (sum(grads) / 4).abs().amax(0), atol=1e-12)
    plain = saliency_map(net, x, target=2)
    assert_close(saliency_map(net, x, target=2, smooth_samples=3, noise_level=0.0), plain, atol=1e-12)


def test_saliency_errors():
    net = small_net()
    with pytest.raises(ValueError, match=r"target classes must be in \[0, 4\).*got \[4\]"):
        saliency_map(net, dg.rand(2, 6, 6, dtype=dg.float64), target=4)
    with pytest.raises(ValueError, match=r"one target class per image \(2\), got 3"):
        saliency_map(net, dg.rand(2, 2, 6, 6, dtype=dg.float64), target=[0, 1, 2])
    with pytest.raises(ValueError, match=r"expected an image \(C, H, W\) or a batch .* got shape \(6, 6\)"):
        saliency_map(net, dg.rand(6, 6, dtype=dg.float64))
    with pytest.raises(ValueError, match="smooth_samples must be >= 0"):
        saliency_map(net, dg.rand(2, 6, 6, dtype=dg.float64), smooth_samples=-1)
    with pytest.raises(ValueError, match=r"class scores of shape \(N, classes\)"):
        saliency_map(nn.Conv2d(2, 2, 1).double(), dg.rand(2, 6, 6, dtype=dg.float64), target=0)


# ------------------------------------------------------------------------- class model visualisation
def test_class_model_increases_the_class_score():
    net = small_net(dg.float32)
    result = class_model(net, [0, 3], (2, 6, 6), steps=30, lr=0.5, l2_reg=1e-3,
                         generator=dg.Generator().manual_seed(0))
    assert result.images.shape == (2, 2, 6, 6) and result.scores.shape == (30, 2)
    assert (result.scores[-1] > result.scores[0] + 0.3).all()
    assert (result.scores[1:] >= result.scores[:-1] - 1e-4).all()  # small steps: the ascent is monotone


def test_class_model_of_a_linear_model_reaches_the_closed_form():
    """S_k(x) = w_k . x + b_k: the regularised objective w_k . x - l2 ||x||^2 peaks at w_k / (2 l2)."""
    dg.manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3)).double()
    result = class_model(net, 1, (3, 2, 2), steps=60, lr=0.5, l2_reg=0.5,
                         init=dg.zeros(3, 2, 2, dtype=dg.float64))
    assert_close(result.images.reshape(-1), net[1].weight[1] / (2 * 0.5), atol=1e-12)


def test_class_model_regularisers():
    net = small_net(dg.float32)
    gen = dg.Generator().manual_seed(0)
    jittered = class_model(net, 2, (2, 6, 6), steps=40, lr=0.5, jitter=1, blur_every=4, clamp=(-0.5, 0.5),
                           generator=gen)
    assert jittered.scores[-5:].mean() > jittered.scores[:5].mean() + 0.2
    assert jittered.images.min() >= -0.5 and jittered.images.max() <= 0.5
    flat = class_model(net, 2, (2, 6, 6), steps=3, lr=0.0, blur_every=1, init=dg.full((2, 6, 6), 0.3))
    assert_close(flat.images, dg.full((1, 2, 6, 6), 0.3), atol=1e-6)  # the blur keeps flat images flat
    spot = dg.zeros(2, 6, 6)
    spot[:, 2, 3] = 1.0
    blurred = class_model(net, 2, (2, 6, 6), steps=1, lr=0.0, blur_every=1, blur_sigma=0.6,
                          init=spot).images[0]
    taps = np.exp(-np.arange(-2, 3) ** 2 / (2 * 0.36))
    taps /= taps.sum()
    inner = np.outer(taps, taps)[2:4, 1:3]  # pixels whose whole 5x5 window is inside the image
    assert_close(blurred[:, 2:4, 2:4], np.stack([inner, inner]).astype(np.float32), atol=1e-6)
    assert blurred[0, 2, 3] == blurred.max()
    assert blurred[0, 2, 3].item() == pytest.approx(taps[2] ** 2, rel=1e-5)


def test_class_model_errors():
    net = small_net()
    with pytest.raises(ValueError, match=r"shape is the image shape \(C, H, W\), got \(6, 6\)"):
        class_model(net, 0, (6, 6))
    with pytest.raises(ValueError, match="need steps >= 1"):
        class_model(net, 0, (2, 6, 6), steps=0)
    with pytest.raises(ValueError, match=r"target classes must be in \[0, 4\)"):
        class_model(net, 7, (2, 6, 6), steps=1)


# ------------------------------------------------------------------------- Gram matrices and losses
def test_gram_matrix_against_torch():
    def torch_gram(f):
        flat = f.reshape(f.shape[0], f.shape[1], -1)
        return flat @ flat.transpose(1, 2) / (f.shape[1] * flat.shape[2])

    compare(gram_matrix, rand(2, 4, 3, 5), torch_fn=torch_gram, atol=1e-12)
    compare(lambda f: gram_matrix(f, normalize=False), rand(4, 3, 5, seed=2),
            torch_fn=lambda f: f.reshape(4, -1) @ f.reshape(4, -1).T, atol=1e-12)
    g = gram_matrix(dg.rand(1, 3, 4, 4))
    assert g.dtype == dg.float32 and g.shape == (1, 3, 3)
    with pytest.raises(ValueError, match=r"gram_matrix: expected features of shape .* got \(3, 4\)"):
        gram_matrix(dg.rand(3, 4))


def test_losses_against_torch():
    target, style = rand(1, 3, 4, 4, seed=4), rand(1, 3, 5, 5, seed=5)
    t_style = torch.tensor(style)
    a = t_style.reshape(1, 3, -1) @ t_style.reshape(1, 3, -1).transpose(1, 2) / 75

    def torch_losses(f):
        flat = f.reshape(1, 3, -1)
        g = flat @ flat.transpose(1, 2) / 48
        tv = ((f[..., 1:, :] - f[..., :-1, :]) ** 2).mean() + ((f[..., :, 1:] - f[..., :, :-1]) ** 2).mean()
        return torch.stack([((f - torch.tensor(target)) ** 2).mean(), ((g - a) ** 2).mean(), tv])

    def dg_losses(f):
        return dg.stack([content_loss(f, dg.tensor(target)), style_loss(f, gram_matrix(dg.tensor(style))),
                         total_variation(f)])

    compare(dg_losses, rand(1, 3, 4, 4, seed=6), torch_fn=torch_losses, atol=1e-12)
    with pytest.raises(ValueError, match=r"content_loss: the features \(1, 3, 4, 4\) and the content target"):
        content_loss(dg.rand(1, 3, 4, 4), dg.rand(1, 3, 5, 5))
    with pytest.raises(ValueError, match="style_loss: the features have 3 channels but the target Gram"):
        style_loss(dg.rand(1, 3, 4, 4), dg.rand(1, 4, 4))


# ------------------------------------------------------------------------- feature extraction
def test_feature_extractor_captures_named_layers_and_stops_early():
    dg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.Flatten(), nn.Linear(1, 1))
    x = dg.rand(2, 3, 8, 8)
    with FeatureExtractor(net, ["2", "1", "1"]) as extract:
        feats = extract(x)  # the Linear(1, 1) would fail on these features: never reached
        assert list(feats) == ["2", "1"]
        assert_close(feats["1"], net[1](net[0](x)))
        assert_close(feats["2"], net[2](net[1](net[0](x))))
        assert_close(extract(x[:1])["2"], feats["2"][:1])
    assert not any(m._forward_hooks for m in net.modules())
    with pytest.raises(ValueError, match=r"Sequential has no submodule named 'conv9'; its submodules are"):
        FeatureExtractor(net, ["conv9"])
    with pytest.raises(ValueError, match="no layers named"):
        FeatureExtractor(net, [])


def test_feature_extractor_reports_layers_that_did_not_run():
    class TwoPaths(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Identity(), nn.Identity()

        def forward(self, x):
            return self.used(x)

    with pytest.raises(RuntimeError, match=r"layers 'unused' did not run in the forward pass of TwoPaths"):
        FeatureExtractor(TwoPaths(), ["used", "unused"])(dg.rand(1, 1, 2, 2))


def test_vgg_layer_names_point_at_the_right_modules():
    names = vgg_layer_names(16)
    feats = VGG(16, input_size=32).features
    assert names["relu4_2"] == "20" and names["pool5"] == "30" and names["conv5_3"] == "28"
    for name, index in names.items():
        kind = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}[name.rstrip("0123456789_")]
        assert isinstance(feats[int(index)], kind), name
    bn = vgg_layer_names(19, batch_norm=True)
    assert bn["bn1_1"] == "1" and bn["relu1_1"] == "2" and bn["relu5_1"] == str(VGG_BN_19_RELU5_1)
    with pytest.raises(ValueError, match=r"config must be one of \[11, 13, 16, 19\], got 12"):
        vgg_layer_names(12)


VGG_BN_19_RELU5_1 = 3 * (2 + 2 + 4 + 4) + 4 + 3 - 1  # 12 conv/bn/relu triples, 4 pools, then conv5_1 bn relu


def test_default_feature_layers():
    vgg = VGG(11, input_size=32)
    network, content, style = default_feature_layers(vgg)
    assert network is vgg.features and content == [vgg_layer_names(11)["relu4_2"]] and len(style) == 5
    net = resnet20()
    assert default_feature_layers(net) == (net, ["layer2"], ["relu", "layer1", "layer2", "layer3"])
    lenet = LeNet()
    assert default_feature_layers(lenet) == (lenet, ["conv2"], ["conv1", "conv2"])
    with pytest.raises(ValueError, match="has no Conv2d layer"):
        default_feature_layers(nn.Linear(2, 2))


# ------------------------------------------------------------------------- style transfer
def stripes(size: int, period: int, horizontal: bool) -> dg.Tensor:
    i = dg.arange(size, dtype=dg.float32)
    wave = 0.5 + 0.5 * dg.sin(2 * 3.14159 * i / period)
    red = wave.reshape(-1, 1).expand(size, size) if horizontal else wave.reshape(1, -1).expand(size, size)
    return dg.stack([red, 1 - red, dg.full((size, size), 0.3)])


def gram_distance(network, layers, image, style) -> list[float]:
    with frozen_eval(network), FeatureExtractor(network, layers) as extract, dg.no_grad():
        a, b = extract(image[None]), extract(style[None])
        grams = [(gram_matrix(a[n]), gram_matrix(b[n])) for n in layers]
        return [((g - target).norm() / target.norm()).item() for g, target in grams]


@pytest.mark.parametrize("normalize_layers, style_weight", [(True, 1.0), (False, 1e3)])
def test_style_transfer_losses_fall_and_grams_approach_the_style(normalize_layers, style_weight):
    dg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
    content = dg.rand(3, 16, 16, generator=dg.Generator().manual_seed(1))
    style = stripes(20, 5, horizontal=True)
    result = style_transfer(net, content, style, ["3"], ["1", "3", "6"], steps=60,
                            style_weight=style_weight, normalize_layers=normalize_layers, lr=0.03,
                            init="noise", generator=dg.Generator().manual_seed(2))
    h = result.history
    assert result.image.shape == (3, 16, 16) and len(h["total"]) == 60
    assert h["content"][-1] < 0.5 * h["content"][0] and h["style"][-1] < 0.5 * h["style"][0]
    assert h["total"][-1] < 0.5 * h["total"][0]
    start = dg.rand(3, 16, 16, generator=dg.Generator().manual_seed(2))  # the same noise init
    before = gram_distance(net, ["1", "3", "6"], start, style)
    after = gram_distance(net, ["1", "3", "6"], result.image, style)
    assert all(a < 0.7 * b for a, b in zip(after, before)), (before, after)
    assert result.image.min() >= 0 and result.image.max() <= 1
    assert net.training and all(p.grad is None for p in net.parameters())


def test_style_transfer_normalised_losses_are_relative_errors():
    dg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 5, 3))
    content, style, init = dg.rand(3, 9, 9), dg.rand(3, 11, 11), dg.rand(3, 9, 9)
    result = style_transfer(net, content, style, ["2"], ["0", "2"], steps=1, content_weight=2.0,
                            style_weight=3.0, tv_weight=0.5, style_layer_weights=[0.25, 0.75], init=init)
    with dg.no_grad():
        x0, c0, st0 = (net[0](img[None]) for img in (init, content, style))
        x2, p, st2 = (net[2](net[1](f)) for f in (x0, c0, st0))
        a0, a2 = gram_matrix(st0), gram_matrix(st2)
    c = content_loss(x2, p).item() / (p * p).mean().item()
    s0 = style_loss(x0, a0).item() / (a0 * a0).mean().item()
    s2 = style_loss(x2, a2).item() / (a2 * a2).mean().item()
    h = result.history
    assert h["content"][0] == pytest.approx(c, rel=1e-5)
    assert h["style"][0] == pytest.approx(0.25 * s0 + 0.75 * s2, rel=1e-5)
    assert h["tv"][0] == pytest.approx(total_variation(init).item(), rel=1e-6)
    weighted = 2 * h["content"][0] + 3 * h["style"][0] + 0.5 * h["tv"][0]
    assert h["total"][0] == pytest.approx(weighted, rel=1e-5)


def test_style_transfer_with_a_zoo_network_and_default_layers():
    dg.manual_seed(0)
    net = resnet20()
    content, style = dg.rand(3, 16, 16), stripes(16, 4, horizontal=False)
    result = style_transfer(net, content, style, steps=15, style_weight=1e3, lr=0.05, tv_weight=0.1)
    h = result.history
    assert h["content"][0] == 0.0  # starting from the content image
    assert h["style"][-1] < 0.5 * h["style"][0]
    _, _, style_layers = default_feature_layers(net)
    before = gram_distance(net, style_layers, content, style)
    after = gram_distance(net, style_layers, result.image, style)
    assert sum(after) < 0.7 * sum(before), (before, after)


def test_style_transfer_errors():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    c = dg.rand(3, 8, 8)
    with pytest.raises(ValueError, match="name both content_layers and style_layers, or neither"):
        style_transfer(net, c, c, content_layers=["0"])
    with pytest.raises(ValueError, match="the content image has 3 channels and the style image 1"):
        style_transfer(net, c, dg.rand(1, 8, 8), ["0"], ["1"])
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd'"):
        style_transfer(net, c, c, ["0"], ["1"], optimizer="lbfgs")
    with pytest.raises(ValueError, match="init must be 'content', 'noise' or an image tensor"):
        style_transfer(net, c, c, ["0"], ["1"], init="zeros")
    with pytest.raises(ValueError, match="2 style layer weights for 1 style layers"):
        style_transfer(net, c, c, ["0"], ["1"], style_layer_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"expected the style image as \(C, H, W\)"):
        style_transfer(net, c, dg.rand(2, 3, 8, 8), ["0"], ["1"])


# ------------------------------------------------------------------------- image files
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_image_round_trip(tmp_path, channels):
    x = (dg.rand(channels, 5, 7) * 255).round() / 255
    write_image(x, tmp_path / "a.png")
    y = read_image(tmp_path / "a.png")
    assert y.dtype == dg.float32 and y.shape == (channels, 5, 7)
    assert_close(y, x, atol=1e-7)
    write_image(x[0], tmp_path / "b.png")
    assert_close(read_image(tmp_path / "b.png"), x[:1], atol=1e-7)
    write_image((x * 255).round().to(dg.uint8), tmp_path / "c.png")
    assert_close(read_image(tmp_path / "c.png"), x, atol=1e-7)


def test_read_image_modes_and_resize(tmp_path):
    rgb = dg.stack([dg.full((4, 6), 1.0), dg.zeros(4, 6), dg.zeros(4, 6)])
    write_image(rgb, tmp_path / "red.png")
    grey = read_image(tmp_path / "red.png", mode="L")
    assert grey.shape == (1, 4, 6) and grey[0, 0, 0].item() == pytest.approx(76 / 255)  # ITU-R 601 luma
    assert read_image(tmp_path / "red.png", size=8).shape == (3, 8, 12)
    assert read_image(tmp_path / "red.png", mode="RGB", size=(3, 3)).shape == (3, 3, 3)
    write_image(rgb, tmp_path / "red.jpg")
    assert_close(read_image(tmp_path / "red.jpg"), rgb, atol=0.05)


def test_image_file_errors(tmp_path):
    (tmp_path / "note.png").write_text("not an image")
    with pytest.raises(ValueError, match="note.png is not an image file Pillow can read"):
        read_image(tmp_path / "note.png")
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="mode must be one of L, RGB, RGBA or None, got 'CMYK'"):
        read_image(tmp_path / "note.png", mode="CMYK")
    with pytest.raises(ValueError, match=r"expected an image of shape \(C, H, W\) with C in 1, 3, 4"):
        write_image(dg.rand(2, 4, 4), tmp_path / "x.png")
    with pytest.raises(ValueError, match="cannot tell an image format from the file name"):
        write_image(dg.rand(3, 4, 4), tmp_path / "x.unknown")
    with pytest.raises(TypeError, match=r"a float image in \[0, 1\] or a uint8 one, got deepgrad.int64"):
        write_image(dg.zeros(3, 4, 4, dtype=dg.int64), tmp_path / "x.png")


# ------------------------------------------------------------------------- command line
def run_cli(argv) -> int:
    from deepgrad.viz.input_grads_cli import add_parsers
    parser = argparse.ArgumentParser(prog="deepgrad")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


def assert_png(path, min_side: int = 50) -> dg.Tensor:
    image = read_image(path)
    assert min(image.shape[1:]) >= min_side and image[:3].std().item() > 0.02, f"{path} is (nearly) blank"
    return image


@pytest.fixture(scope="module")
def digits_checkpoint(tmp_path_factory):
    """A train-images checkpoint of the digits CNN, trained for a few steps (enough to predict)."""
    import deepgrad.nn.functional as F
    from deepgrad.train.images import FORMAT, ImageConfig, build_model
    from deepgrad.vision.datasets import Digits
    config = ImageConfig(dataset="digits", model="lenet").resolve()
    dg.manual_seed(0)
    model = build_model("lenet", "digits")
    data = Digits(train=True)
    x, y = T.Normalize(config.mean, config.std)(data.data[:256]), data.targets[:256]
    opt = dg.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(30):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    path = tmp_path_factory.mktemp("ckpt") / "best.ckpt"
    dg.save({"format": "deepgrad-trainer", "model": model.state_dict(), "epoch": 1,
             "config": {"format": FORMAT, **asdict(config)}}, path)
    test = Digits(train=False)
    images = []
    for i in range(3):
        images.append(path.parent / f"digit{i}.png")
        write_image(test.data[i, 0], images[-1])
    return path, images, test.targets[:3].tolist()


def test_cli_saliency_on_a_train_images_checkpoint(digits_checkpoint, tmp_path, capsys):
    ckpt, images, labels = digits_checkpoint
    assert run_cli(["saliency", ckpt, *images, "--out", tmp_path / "s.png"]) == 0
    out = capsys.readouterr().out.splitlines()
    predicted = [int(line.split("predicted ")[1].split(" ")[0]) for line in out[:3]]
    assert predicted == labels  # the briefly trained CNN reads these three test digits right
    assert out[-1] == f"wrote {tmp_path / 's.png'}"
    assert_png(tmp_path / "s.png")
    argv = ["saliency", ckpt, images[0], "--class", 5, "--smooth", 3, "--out", tmp_path / "t.png"]
    assert run_cli(argv) == 0
    assert "saliency of class 5" in capsys.readouterr().out
    assert_png(tmp_path / "t.png")


def test_cli_class_model(digits_checkpoint, tmp_path, capsys):
    ckpt, _, _ = digits_checkpoint
    assert run_cli(["class-model", ckpt, "--classes", "0,7", "--steps", 20, "--jitter", 1,
                    "--out", tmp_path / "c.png"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for line in lines[:2]:
        before, after = (float(v) for v in line.split("score ")[1].split(" -> "))
        assert after > before + 1.0, line
    assert_png(tmp_path / "c.png")


def test_cli_saliency_on_a_plain_state_dict(tmp_path, capsys):
    dg.manual_seed(0)
    net = LeNet(num_classes=3, in_channels=1, input_size=16)
    dg.save(net.state_dict(), tmp_path / "lenet.safetensors")
    write_image(dg.rand(1, 20, 20), tmp_path / "x.png")
    assert run_cli(["saliency", tmp_path / "lenet.safetensors", tmp_path / "x.png", "--mean", "0.5",
                    "--std", "0.25", "--out", tmp_path / "s.png"]) == 0
    assert "x.png: predicted" in capsys.readouterr().out
    assert_png(tmp_path / "s.png")
    with pytest.raises(ValueError, match="--mean and --std go together"):
        run_cli(["saliency", tmp_path / "lenet.safetensors", tmp_path / "x.png", "--mean", "0.5"])
    dg.save({"w": dg.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not a state dict of a known architecture"):
        run_cli(["saliency", tmp_path / "other.safetensors", tmp_path / "x.png"])


def test_cli_style_transfer_with_converted_vgg_weights(tmp_path, capsys):
    """A features-only VGG-11 state dict written by safetensors.torch, as a torchvision conversion
    would write it (torchvision is not needed): recognised as vgg11 from its keys."""
    import safetensors.torch
    dg.manual_seed(0)
    feats = VGG(11, input_size=32).features.state_dict()
    converted = {f"features.{k}": torch.from_numpy(v.numpy().copy()) for k, v in feats.items()}
    safetensors.torch.save_file(converted, str(tmp_path / "vgg11.safetensors"))
    write_image(dg.rand(3, 20, 24), tmp_path / "content.png")
    write_image(stripes(20, 5, horizontal=True), tmp_path / "style.png")
    assert run_cli(["style-transfer", "--content", tmp_path / "content.png", "--style",
                    tmp_path / "style.png", "--weights", tmp_path / "vgg11.safetensors", "--size", 16,
                    "--steps", 4, "--print-every", 2, "--out", tmp_path / "out.png"]) == 0
    out = capsys.readouterr().out
    names = vgg_layer_names(11)
    content, style = [names["relu4_2"]], [names[f"relu{b}_1"] for b in range(1, 6)]
    assert f"style transfer with vgg11: content layers {content}, style layers {style}" in out
    assert "image (3, 16, 19)" in out and out.count("\nstep ") == 3  # steps 1, 2 and 4
    assert read_image(tmp_path / "out.png").shape == (3, 16, 19)


def test_cli_style_transfer_random_resnet_and_named_layers(tmp_path, capsys):
    write_image(dg.rand(3, 16, 16), tmp_path / "a.png")
    write_image(stripes(16, 4, horizontal=False), tmp_path / "b.png")
    assert run_cli(["style-transfer", "--content", tmp_path / "a.png", "--style", tmp_path / "b.png",
                    "--weights", "random", "--model", "resnet20", "--size", 16, "--steps", 3,
                    "--content-layers", "layer1", "--style-layers", "relu,layer1",
                    "--out", tmp_path / "o.png"]) == 0
    assert "style layers ['relu', 'layer1']" in capsys.readouterr().out
    assert read_image(tmp_path / "o.png").shape == (3, 16, 16)
    with pytest.raises(ValueError, match="--content-layers and --style-layers go together"):
        run_cli(["style-transfer", "--content", tmp_path / "a.png", "--style", tmp_path / "b.png",
                 "--weights", "random", "--content-layers", "layer1"])
