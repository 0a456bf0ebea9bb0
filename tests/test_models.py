"""The model zoo against the same architectures written by hand in PyTorch: state-dict keys and
shapes, outputs (and for ResNet-20 gradients and running statistics) after loading PyTorch's
weights, forward shapes and dtypes, training steps that lower the loss, the linear auto-encoder
finding the PCA subspace, and the errors for wrong inputs and settings."""
import functools
import math

import numpy as np
import pytest
import torch
from torch import nn as tnn

import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.nn.functional as F
from deepgrad.models import (
    MLP, VGG, AlexNet, Autoencoder, Bottleneck, LeNet, ResNet, cifar_resnet, resnet18, resnet20, resnet50)
from deepgrad.models.convnets import VGG_CONFIGS
from deepgrad.models.resnet import PadShortcut
from tests.helpers import assert_close, rand, to_dg, to_torch

TF = torch.nn.functional


# ------------------------------------------------------------------ the architectures in PyTorch
class TorchNet(tnn.Module):
    """The lectures' Net, verbatim."""

    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 6, 5)
        self.pool = tnn.MaxPool2d(2, 2)
        self.conv2 = tnn.Conv2d(6, 16, 5)
        self.fc1 = tnn.Linear(16 * 5 * 5, 120)
        self.fc2 = tnn.Linear(120, 84)
        self.fc3 = tnn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(TF.relu(self.conv1(x)))
        x = self.pool(TF.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = TF.relu(self.fc1(x))
        x = TF.relu(self.fc2(x))
        return self.fc3(x)


class TorchVGG(tnn.Module):
    """torchvision's VGG (features / avgpool / classifier) and the usual CIFAR variant."""

    def __init__(self, cfg, num_classes, batch_norm, input_size):
        super().__init__()
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(tnn.MaxPool2d(2, 2))
                continue
            layers.append(tnn.Conv2d(c, v, 3, padding=1))
            layers += [tnn.BatchNorm2d(v)] if batch_norm else []
            layers.append(tnn.ReLU(inplace=True))
            c = v
        self.features = tnn.Sequential(*layers)
        if input_size == 224:
            self.avgpool = tnn.AdaptiveAvgPool2d((7, 7))
            self.classifier = tnn.Sequential(
                tnn.Linear(512 * 7 * 7, 4096), tnn.ReLU(True), tnn.Dropout(),
                tnn.Linear(4096, 4096), tnn.ReLU(True), tnn.Dropout(), tnn.Linear(4096, num_classes))
        else:
            self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
            self.classifier = tnn.Linear(512, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


class TorchPadShortcut(tnn.Module):
    """He et al.'s option A, as the common PyTorch CIFAR ResNets write it."""

    def __init__(self, planes):
        super().__init__()
        self.planes = planes

    def forward(self, x):
        return TF.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.planes // 4, self.planes // 4))


class TorchBasicBlock(tnn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchBottleneck(tnn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchResNet(tnn.Module):
    """torchvision's ResNet layout; ``cifar`` switches to the 3x3 stem without max-pooling."""

    def __init__(self, block, layers, widths, num_classes, cifar=False, option="B"):
        super().__init__()
        self.inplanes = widths[0]
        self.conv1 = (tnn.Conv2d(3, widths[0], 3, 1, 1, bias=False) if cifar
                      else tnn.Conv2d(3, widths[0], 7, 2, 3, bias=False))
        self.bn1 = tnn.BatchNorm2d(widths[0])
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.Identity() if cifar else tnn.MaxPool2d(3, 2, 1)
        self.stages = len(layers)
        for i, (n, w) in enumerate(zip(layers, widths)):
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                down = None
                if stride != 1 or self.inplanes != w * block.expansion:
                    down = (TorchPadShortcut(w) if option == "A" else tnn.Sequential(
                        tnn.Conv2d(self.inplanes, w * block.expansion, 1, stride, bias=False),
                        tnn.BatchNorm2d(w * block.expansion)))
                blocks.append(block(self.inplanes, w, stride, down))
                self.inplanes = w * block.expansion
            setattr(self, f"layer{i + 1}", tnn.Sequential(*blocks))
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(widths[-1] * block.expansion, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def torch_alexnet(num_classes=1000, device=None):
    """The lectures' AlexNet layout in PyTorch (on ``device='meta'`` nothing is allocated)."""
    lrn = functools.partial(tnn.LocalResponseNorm, 5, alpha=1e-4, beta=0.75, k=2.0)
    return tnn.ModuleDict({
        "features": tnn.Sequential(
            tnn.Conv2d(3, 96, 11, 4, device=device), tnn.ReLU(), tnn.MaxPool2d(3, 2), lrn(),
            tnn.Conv2d(96, 256, 5, padding=2, device=device), tnn.ReLU(), tnn.MaxPool2d(3, 2), lrn(),
            tnn.Conv2d(256, 384, 3, padding=1, device=device), tnn.ReLU(),
            tnn.Conv2d(384, 384, 3, padding=1, device=device), tnn.ReLU(),
            tnn.Conv2d(384, 256, 3, padding=1, device=device), tnn.ReLU(), tnn.MaxPool2d(3, 2)),
        "classifier": tnn.Sequential(
            tnn.Dropout(), tnn.Linear(9216, 4096, device=device), tnn.ReLU(), tnn.Dropout(),
            tnn.Linear(4096, 4096, device=device), tnn.ReLU(), tnn.Linear(4096, num_classes, device=device)),
    })


# ------------------------------------------------------------------ helpers
def _shapes(state_dict):
    return {k: tuple(v.shape) for k, v in state_dict.items()}


def _assert_same_layout(dmodel, tmodel):
    """Same keys in the same order, same shapes."""
    dsd, tsd = dmodel.state_dict(), tmodel.state_dict()
    assert list(dsd) == list(tsd)
    assert _shapes(dsd) == _shapes(tsd)


def _randomise_bn(tmodel, seed=0):
    """Non-trivial batch-norm scales, shifts and running statistics, so that eval mode tests them."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in tmodel.modules():
            if isinstance(m, tnn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(1 + 0.2 * torch.randn(n, generator=g, dtype=m.weight.dtype))
                m.bias.copy_(0.2 * torch.randn(n, generator=g, dtype=m.bias.dtype))
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g, dtype=m.running_mean.dtype))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g, dtype=m.running_var.dtype))


def _assert_eval_outputs_match(dmodel, tmodel, x, atol=1e-9):
    """Load torch's weights into the deepgrad model (both float64, eval mode) and compare outputs."""
    tmodel.double().eval()
    dmodel.double().eval()
    dmodel.load_state_dict(tmodel.state_dict())
    with torch.no_grad():
        expected = tmodel(to_torch(x))
    assert_close(dmodel(to_dg(x)), expected, atol, 1e-7, "eval output")


def _assert_sgd_steps_reduce_loss(model, x, target, lr, steps=5):
    """Every step of SGD with momentum on a fixed batch lowers the loss, by 10% in all."""
    opt = dg.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for _ in range(steps + 1):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), target)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 0.9 * losses[0], losses


# ------------------------------------------------------------------ MLP
def test_mlp_layout_and_outputs_match_torch_sequential():
    dg.manual_seed(0)
    net = MLP([5, 8, 7, 3], activation="tanh")
    tnet = tnn.Sequential(tnn.Linear(5, 8), tnn.Tanh(), tnn.Linear(8, 7), tnn.Tanh(), tnn.Linear(7, 3))
    _assert_same_layout(net, tnet)
    assert [type(m).__name__ for m in net] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    _assert_eval_outputs_match(net, tnet, rand(4, 5))


def test_mlp_dropout_sits_after_each_hidden_activation_only():
    net = MLP([4, 6, 6, 2], activation=nn.ReLU, dropout=0.3)
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout",
                                               "Linear"]
    assert list(net.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"]
    x = dg.randn(64, 4)
    net.eval()
    assert_close(net(x), net(x), 0, 0, "eval is deterministic")
    net.train()
    assert not np.allclose(net(x).numpy(force=True), net(x).numpy(force=True))


@pytest.mark.parametrize("activation, expected", [
    ("relu", ["Linear", "ReLU", "Linear"]), ("gelu", ["Linear", "GELU", "Linear"]),
    (nn.Sigmoid, ["Linear", "Sigmoid", "Linear"]), (None, ["Linear", "Linear"]),
    ("identity", ["Linear", "Linear"]),
    (functools.partial(nn.LeakyReLU, 0.2), ["Linear", "LeakyReLU", "Linear"]),
])
def test_mlp_activation_by_name_class_or_factory(activation, expected):
    net = MLP([3, 4, 2], activation=activation)
    assert [type(m).__name__ for m in net] == expected
    assert net(dg.randn(5, 3)).shape == (5, 2)


def test_mlp_activation_modules_are_distinct_and_factory_arguments_kept():
    net = MLP([3, 4, 4, 2], activation=functools.partial(nn.LeakyReLU, 0.2))
    assert net[1] is not net[3] and net[1].negative_slope == 0.2


def test_mlp_slice_is_a_plain_sequential_keeping_names():
    net = MLP([3, 4, 2])
    head = net[:2]
    assert type(head) is nn.Sequential and list(head._modules) == ["0", "1"]
    assert head[0] is net[0]
    assert head(dg.randn(2, 3)).shape == (2, 4)


def test_mlp_float32_forward_and_gradients_stay_float32():
    net = MLP([3, 5, 2])
    x = dg.randn(4, 3, requires_grad=True)
    y = net(x)
    y.sum().backward()
    assert y.dtype == dg.float32 and x.grad.dtype == dg.float32 and net[0].weight.grad.dtype == dg.float32


def test_mlp_sgd_steps_reduce_the_loss():
    dg.manual_seed(1)
    net = MLP([6, 16, 3])
    x, y = dg.randn(16, 6), dg.randint(0, 3, (16,))
    _assert_sgd_steps_reduce_loss(net, x, y, lr=0.1)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"sizes": [4]}, ValueError, r"MLP: sizes must be at least two positive ints .* got \[4\]"),
    ({"sizes": [4, 0, 2]}, ValueError, r"MLP: sizes must be at least two positive ints"),
    ({"sizes": [4, 2.5]}, ValueError, r"MLP: sizes must be"),
    ({"sizes": [4, 2], "activation": "swish"}, ValueError,
     r"MLP: unknown activation 'swish'; use one of 'relu'"),
    ({"sizes": [4, 2], "activation": nn.ReLU()}, TypeError,
     r"MLP: activation must be a name or a module class \(e.g. nn.ReLU\), got the instance ReLU\(\)"),
    ({"sizes": [4, 2, 2], "activation": lambda: 3}, TypeError,
     r"MLP: the activation factory .* returned a int, not an nn.Module"),
    ({"sizes": [4, 2], "dropout": 1.0}, ValueError, r"MLP: dropout must be in \[0, 1\), got 1.0"),
])
def test_mlp_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        MLP(**kwargs)


# ------------------------------------------------------------------ LeNet
def test_lenet_is_the_lectures_net():
    dg.manual_seed(0)
    net, tnet = LeNet(), TorchNet()
    _assert_same_layout(net, tnet)
    _assert_eval_outputs_match(net, tnet, rand(3, 3, 32, 32))


def test_lenet_mnist_variant():
    net = LeNet(num_classes=7, in_channels=1, input_size=28)
    assert net.conv1.weight.shape == (6, 1, 5, 5) and net.fc1.in_features == 16 * 4 * 4
    out = net(dg.randn(2, 1, 28, 28))
    assert out.shape == (2, 7) and out.dtype == dg.float32


def test_lenet_wrong_input_size_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"LeNet: expected an input of shape \(N, 3, 32, 32\), got "
                                         r"\(2, 1, 28, 28\); build LeNet\(in_channels=C, input_size=S\)"):
        LeNet()(dg.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"expected an input of shape \(N, 1, 28, 28\), got \(1, 28, 28\)"):
        LeNet(in_channels=1, input_size=28)(dg.randn(1, 28, 28))
    with pytest.raises(ValueError, match=r"LeNet: input_size must be at least 16 .* got 15"):
        LeNet(input_size=15)


def test_lenet_sgd_steps_reduce_the_loss():
    dg.manual_seed(2)
    net = LeNet()
    x, y = dg.randn(8, 3, 32, 32), dg.randint(0, 10, (8,))
    _assert_sgd_steps_reduce_loss(net, x, y, lr=0.05)


# ------------------------------------------------------------------ AlexNet
@pytest.fixture(scope="module")
def alexnet():
    dg.manual_seed(0)
    return AlexNet()


def test_alexnet_parameters_match_torch(alexnet):
    tnet = torch_alexnet(device="meta")
    _assert_same_layout(alexnet, tnet)
    count = sum(p.numel() for p in alexnet.parameters())
    assert count == sum(p.numel() for p in tnet.parameters()) == 62_378_344


def test_alexnet_layers_and_forward_shape(alexnet):
    lrn = [m for m in alexnet.features if isinstance(m, nn.LocalResponseNorm)]
    assert [(m.size, m.alpha, m.beta, m.k) for m in lrn] == [(5, 1e-4, 0.75, 2.0)] * 2
    pools = [m for m in alexnet.features if isinstance(m, nn.MaxPool2d)]
    assert [(m.kernel_size, m.stride) for m in pools] == [(3, 2)] * 3
    assert [m.p for m in alexnet.classifier if isinstance(m, nn.Dropout)] == [0.5, 0.5]
    alexnet.eval()
    x = dg.randn(1, 3, 227, 227)
    with dg.no_grad():
        h, shapes = x, []
        for m in alexnet.features:
            h = m(h)
            if not isinstance(m, nn.ReLU):
                shapes.append(tuple(h.shape[1:]))
        out = alexnet(x)
    # the lectures' listing: CONV1, POOL1, NORM1, CONV2, POOL2, NORM2, CONV3, CONV4, CONV5, POOL3
    assert shapes == [(96, 55, 55), (96, 27, 27), (96, 27, 27), (256, 27, 27), (256, 13, 13), (256, 13, 13),
                      (384, 13, 13), (384, 13, 13), (256, 13, 13), (256, 6, 6)]
    assert out.shape == (1, 1000) and out.dtype == dg.float32
    assert_close(out, alexnet.classifier(dg.flatten(h, 1)), 0, 0, "forward = classifier(features)")
    with pytest.raises(ValueError, match=r"AlexNet: expected an input of shape \(N, 3, 227, 227\), got "
                                         r"\(1, 3, 224, 224\)"):
        alexnet(dg.randn(1, 3, 224, 224))


# ------------------------------------------------------------------ VGG
@pytest.mark.parametrize("batch_norm", [False, True])
def test_vgg11_cifar_matches_torch(batch_norm):
    dg.manual_seed(0)
    net, tnet = VGG(11, 10, batch_norm=batch_norm, input_size=32), TorchVGG(VGG11, 10, batch_norm, 32)
    _assert_same_layout(net, tnet)
    _randomise_bn(tnet)
    _assert_eval_outputs_match(net, tnet, rand(2, 3, 32, 32))


def test_vgg11_imagenet_has_torchvisions_layout_and_initialisation():
    dg.manual_seed(0)
    net = VGG(11, num_classes=10)
    with torch.device("meta"):
        tnet = TorchVGG(VGG11, 10, False, 224)
    _assert_same_layout(net, tnet)
    w = net.classifier[0].weight.detach().numpy()
    assert abs(w.std() - 0.01) < 1e-4 and not net.classifier[0].bias.detach().numpy().any()
    conv = net.features[3].weight.detach().numpy()  # 128 x 64 x 3 x 3: std sqrt(2 / fan_out)
    assert abs(conv.std() - math.sqrt(2 / (128 * 9))) < 0.02 * math.sqrt(2 / (128 * 9))
    out = net.eval()(dg.randn(1, 3, 224, 224))
    assert out.shape == (1, 10) and out.dtype == dg.float32


def test_vgg_configurations():
    for config, layers in VGG_CONFIGS.items():  # the name counts the 224 network's 3 FC layers too
        assert sum(v != "M" for v in layers) == config - 3 and layers.count("M") == 5
    net = VGG(16, num_classes=4, batch_norm=True, input_size=32)
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [v for v in VGG_CONFIGS[16] if v != "M"]
    assert all(m.kernel_size == (3, 3) and m.stride == (1, 1) and m.padding == (1, 1) for m in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.features) == 13
    pools = [m for m in net.features if isinstance(m, nn.MaxPool2d)]
    assert [(m.kernel_size, m.stride) for m in pools] == [(2, 2)] * 5
    assert net.eval()(dg.randn(1, 3, 32, 32)).shape == (1, 4)


def test_vgg_errors():
    with pytest.raises(ValueError, match=r"VGG: config must be one of \[11, 13, 16, 19\] .* got 12"):
        VGG(12)
    with pytest.raises(ValueError, match=r"VGG: input_size must be 224 \(ImageNet\) or 32 \(CIFAR\), got 64"):
        VGG(11, input_size=64)
    with pytest.raises(ValueError, match=r"VGG-11: expected an input of shape \(N, 3, 32, 32\), got "
                                         r"\(1, 3, 64, 64\); input_size is 224"):
        VGG(11, 10, input_size=32)(dg.randn(1, 3, 64, 64))


# ------------------------------------------------------------------ ResNet
def test_resnet20_option_a_train_step_matches_torch():
    """Train mode: outputs, batch-norm running statistics and gradients of the input and of every
    parameter equal PyTorch's, through the zero-padding shortcuts."""
    dg.manual_seed(0)
    net = resnet20()
    tnet = TorchResNet(TorchBasicBlock, (3, 3, 3), (16, 32, 64), 10, cifar=True, option="A").double()
    _assert_same_layout(net, tnet)
    assert sum(p.numel() for p in net.parameters()) == 269_722  # the paper's 0.27M
    assert isinstance(net.layer2[0].downsample, PadShortcut) and net.layer2[1].downsample is None
    _randomise_bn(tnet)
    net.double().load_state_dict(tnet.state_dict())
    x = rand(2, 3, 16, 16)
    dx, tx = to_dg(x, True), to_torch(x, True)
    dy, ty = net(dx), tnet(tx)
    assert_close(dy, ty, 1e-9, 1e-7, "train output")
    w = rand(2, 10, seed=1)
    (dy * to_dg(w)).sum().backward()
    (ty * to_torch(w)).sum().backward()
    assert_close(dx.grad, tx.grad, 1e-9, 1e-6, "input grad")
    tparams = dict(tnet.named_parameters())
    for name, p in net.named_parameters():
        assert_close(p.grad, tparams[name].grad, 1e-9, 1e-6, f"grad of {name}")
    tstate = tnet.state_dict()
    for name, b in net.named_buffers():
        assert_close(b, tstate[name], 1e-12, 1e-9, name)


def test_resnet20_option_b_matches_torch():
    dg.manual_seed(0)
    net = resnet20(num_classes=5, shortcut="B")
    tnet = TorchResNet(TorchBasicBlock, (3, 3, 3), (16, 32, 64), 5, cifar=True, option="B")
    _assert_same_layout(net, tnet)
    assert "layer2.0.downsample.0.weight" in net.state_dict()
    _randomise_bn(tnet)
    _assert_eval_outputs_match(net, tnet, rand(2, 3, 32, 32))


def test_resnet18_matches_torchvision_layout_and_outputs():
    dg.manual_seed(0)
    net = resnet18(num_classes=10)
    tnet = TorchResNet(TorchBasicBlock, (2, 2, 2, 2), (64, 128, 256, 512), 10)
    _assert_same_layout(net, tnet)
    # torchvision's resnet18 has 11,689,512 parameters with 1000 classes, 990 * 513 fewer with 10
    assert sum(p.numel() for p in net.parameters()) == 11_689_512 - 990 * 513
    _randomise_bn(tnet)
    _assert_eval_outputs_match(net, tnet, rand(2, 3, 32, 32))


def test_resnet50_bottleneck_layout():
    net = resnet50(num_classes=10)
    with torch.device("meta"):
        tnet = TorchResNet(TorchBottleneck, (3, 4, 6, 3), (64, 128, 256, 512), 10)
    _assert_same_layout(net, tnet)
    assert isinstance(net.layer1[0], Bottleneck) and net.fc.in_features == 2048


def test_resnet_forward_shapes_dtype_and_any_image_size():
    net = cifar_resnet(32, num_classes=3)
    assert len(net.layer1) == len(net.layer2) == len(net.layer3) == 5
    x = dg.randn(1, 3, 8, 8, requires_grad=True)
    y = net(x)
    y.sum().backward()
    assert y.shape == (1, 3) and y.dtype == dg.float32 and x.grad.dtype == dg.float32
    custom = ResNet(layers=(1, 1), widths=(8, 16), num_classes=2, stem="imagenet", in_channels=1)
    assert custom.eval()(dg.randn(1, 1, 40, 40)).shape == (1, 2)


def test_resnet_errors():
    with pytest.raises(ValueError, match=r"cifar_resnet: depth must be 6n \+ 2 .* got 21"):
        cifar_resnet(21)
    with pytest.raises(ValueError, match=r"ResNet: shortcut must be 'A' \(zero padding\) or 'B'"):
        resnet20(shortcut="C")
    with pytest.raises(ValueError, match=r"ResNet: stem must be 'imagenet' or 'cifar', got 'tiny'"):
        ResNet(stem="tiny")
    with pytest.raises(ValueError, match=r"ResNet: layers and widths must give one entry per stage"):
        ResNet(layers=(2, 2), widths=(8, 16, 32))
    with pytest.raises(ValueError, match=r"ResNet: expected an input of shape \(N, 3, H, W\), "
                                         r"got \(2, 1, 32, 32\)"):
        resnet20()(dg.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"PadShortcut: cannot shrink 32 channels to 16"):
        PadShortcut(32, 16, 2)


# ------------------------------------------------------------------ Autoencoder
def test_autoencoder_structure_and_shapes():
    ae = Autoencoder([6, 4, 2], activation="relu", output_activation="sigmoid")
    assert [type(m).__name__ for m in ae.encoder] == ["Linear", "ReLU", "Linear"]
    assert [type(m).__name__ for m in ae.decoder] == ["Linear", "ReLU", "Linear", "Sigmoid"]
    assert list(ae.state_dict()) == [f"{part}.{i}.{p}" for part in ("encoder", "decoder") for i in (0, 2)
                                     for p in ("weight", "bias")]
    x = dg.randn(5, 6)
    code = ae.encode(x)
    out = ae(x)
    assert code.shape == (5, 2) and out.shape == (5, 6) and out.dtype == dg.float32
    assert_close(out, ae.decode(code), 0, 0, "forward = decode(encode)")
    assert ((out.detach().numpy() > 0) & (out.detach().numpy() < 1)).all()


def test_linear_autoencoder_finds_the_pca_subspace():
    """The lectures: with sigma = I the auto-encoder performs an SVD. The decoder's column space
    must be the span of the top-2 right singular vectors of the centred data."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    data = (rng.standard_normal((200, 8)) * [3.0, 2.0, 0.5, 0.4, 0.3, 0.3, 0.2, 0.1]) @ q.T + 1.5
    dg.manual_seed(0)
    ae = Autoencoder([8, 2], activation="identity").double()
    opt = dg.optim.Adam(ae.parameters(), lr=0.05)
    x = to_dg(data)
    for _ in range(400):
        opt.zero_grad()
        loss = F.mse_loss(ae(x), x)
        loss.backward()
        opt.step()
    centred = data - data.mean(0)
    v = np.linalg.svd(centred, full_matrices=False)[2][:2].T
    w = ae.decoder[0].weight.detach().numpy()  # 8 x 2
    p_learned = w @ np.linalg.solve(w.T @ w, w.T)
    np.testing.assert_allclose(p_learned, v @ v.T, atol=1e-2)
    best = (np.linalg.svd(centred, compute_uv=False)[2:] ** 2).sum() / data.size
    assert loss.item() == pytest.approx(best, rel=1e-2)


def test_autoencoder_errors():
    ae = Autoencoder([6, 3])
    with pytest.raises(ValueError, match=r"Autoencoder.encode: expected inputs with 6 features .* "
                                         r"got shape \(2, 5\)"):
        ae.encode(dg.randn(2, 5))
    with pytest.raises(ValueError, match=r"Autoencoder.decode: expected codes with 3 features .* "
                                         r"got shape \(2, 6\)"):
        ae.decode(dg.randn(2, 6))
    with pytest.raises(ValueError, match=r"Autoencoder: sizes must be at least two positive ints"):
        Autoencoder([6])
    with pytest.raises(ValueError, match=r"Autoencoder: unknown activation 'sine'"):
        Autoencoder([6, 3], output_activation="sine")
