"""Residual networks (He et al. 2015, "Deep Residual Learning for Image Recognition"): very deep
networks made trainable by residual connections, y = relu(F(x) + shortcut(x)). The ImageNet models
have torchvision's module layout (conv1, bn1, layer1..4, fc; blocks with conv1/bn1/conv2/bn2 and a
``downsample`` Sequential(1x1 conv, BN)), so torchvision state dicts load unchanged."""
from __future__ import annotations

from collections.abc import Sequence

import deepgrad as dg
from deepgrad import Tensor, nn
from deepgrad.nn import functional as F

from .convnets import check_image_input, kaiming_init_convs

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50", "cifar_resnet",
           "resnet20"]

SHORTCUTS = ("A", "B")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (batch norm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias (batch norm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class PadShortcut(nn.Module):
    """Option A shortcut of He et al. (their CIFAR networks): parameter-free, it keeps every
    ``stride``-th pixel and pads the new channels with zeros, half before and half after the
    existing ones."""

    def __init__(self, in_planes: int, out_planes: int, stride: int):
        super().__init__()
        if out_planes < in_planes:
            raise ValueError(f"PadShortcut: cannot shrink {in_planes} channels to {out_planes} "
                             f"with zero padding")
        self.stride = stride
        self.pad = ((out_planes - in_planes) // 2, out_planes - in_planes - (out_planes - in_planes) // 2)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, *self.pad))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad={self.pad}"


def make_shortcut(kind: str, in_planes: int, out_planes: int, stride: int) -> nn.Module | None:
    """The shortcut of a block whose input (in_planes, H, W) becomes (out_planes, H / stride,
    W / stride): None (identity) when the shape is kept, else option A (``PadShortcut``) or option
    B (a projection: 1x1 convolution with that stride, then batch norm)."""
    if stride == 1 and in_planes == out_planes:
        return None
    if kind == "A":
        return PadShortcut(in_planes, out_planes, stride)
    return nn.Sequential(conv1x1(in_planes, out_planes, stride), nn.BatchNorm2d(out_planes))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a residual connection:
    ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``, the first convolution carrying the
    stride; ``downsample`` is the shortcut when the shape changes (None is the identity)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride, as torchvision's "ResNet v1.5"), 1x1 expand to
    ``planes * 4`` channels, each with batch norm, plus the residual connection."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv1x1(in_planes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNet(nn.Module):
    """ResNet (He et al. 2015), in the lectures' words "very deep networks using residual
    connections" (the 152-layer model won ILSVRC'15 with 3.57% top-5 error): each block learns a
    residual F(x) added to its input, so a deep stack can fall back to the identity.

    The network: a stem, stages ``layer1``, ``layer2``, ... of residual blocks (stage i
    has ``layers[i]`` blocks of width ``widths[i]``; every stage after the first halves the
    resolution in its first block), global average pooling and a linear classifier ``fc``.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: number of blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
        num_classes: outputs of ``fc``.
        widths: channels of each stage (before the block's expansion).
        stem: 'imagenet' -- conv1 7x7 at stride 2 to widths[0] channels, bn1, ReLU, max-pool 3x3
            at stride 2 -- or 'cifar' -- conv1 3x3 at stride 1, bn1, ReLU, no pooling.
        shortcut: 'B' -- a 1x1 convolution + batch norm projection where the shape changes
            (torchvision's ``downsample``) -- or 'A' -- zero-padding the new channels after
            subsampling, no parameters (He et al.'s CIFAR networks).
        in_channels: channels of the input images.

    Initialisation as torchvision: convolutions N(0, 2 / fan_out), batch norm 1 and 0, ``fc`` the
    Linear default. Any input size works (the pooling before ``fc`` is adaptive).

    Example::

        net = ResNet(BasicBlock, [2, 2, 2, 2], num_classes=1000)   # = resnet18()
        logits = net(deepgrad.randn(2, 3, 224, 224))              # (2, 1000)
    """

    def __init__(self, block: type = BasicBlock, layers: Sequence[int] = (2, 2, 2, 2),
                 num_classes: int = 1000, widths: Sequence[int] = (64, 128, 256, 512),
                 stem: str = "imagenet", shortcut: str = "B", in_channels: int = 3):
        super().__init__()
        if len(layers) != len(widths) or not layers:
            raise ValueError(f"ResNet: layers and widths must give one entry per stage, got "
                             f"layers={list(layers)} and widths={list(widths)}")
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"ResNet: stem must be 'imagenet' or 'cifar', got {stem!r}")
        if shortcut not in SHORTCUTS:
            raise ValueError(f"ResNet: shortcut must be 'A' (zero padding) or 'B' (projection), "
                             f"got {shortcut!r}")
        self.in_channels = in_channels
        self.in_planes = widths[0]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = conv3x3(in_channels, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.maxpool = (nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if stem == "imagenet"
                        else nn.Identity())
        for i, (n_blocks, width) in enumerate(zip(layers, widths)):
            self.add_module(f"layer{i + 1}", self._make_layer(block, width, n_blocks, 1 if i == 0 else 2,
                                                              shortcut))
        self.n_stages = len(layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1] * block.expansion, num_classes)
        kaiming_init_convs(self)

    def _make_layer(self, block: type, planes: int, n_blocks: int, stride: int, kind: str) -> nn.Sequential:
        blocks = []
        for i in range(n_blocks):
            s = stride if i == 0 else 1
            blocks.append(block(self.in_planes, planes, s,
                                make_shortcut(kind, self.in_planes, planes * block.expansion, s)))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        check_image_input("ResNet", x, self.in_channels)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.n_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(dg.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000) -> ResNet:
    """ResNet-18 for ImageNet (torchvision's ``resnet18`` layout): BasicBlocks (2, 2, 2, 2), widths
    64-128-256-512, 11.7 million parameters with 1000 classes."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes)


def resnet34(num_classes: int = 1000) -> ResNet:
    """ResNet-34 for ImageNet: BasicBlocks (3, 4, 6, 3)."""
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes)


def resnet50(num_classes: int = 1000) -> ResNet:
    """ResNet-50 for ImageNet: Bottlenecks (3, 4, 6, 3), 25.6 million parameters with 1000 classes."""
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes)


def cifar_resnet(depth: int, num_classes: int = 10, shortcut: str = "A") -> ResNet:
    """He et al.'s CIFAR-10 network of ``depth`` = 6n + 2 layers (20, 32, 44, 56, 110): a 3x3
    convolution with 16 channels, three stages of n BasicBlocks with 16, 32 and 64 channels (on
    32x32, 16x16 and 8x8 maps), global average pooling and ``fc``. The paper uses option A
    shortcuts (zero padding, parameter-free), the default here; 'B' uses projections."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"cifar_resnet: depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110...), "
                         f"got {depth}")
    n = (depth - 2) // 6
    return ResNet(BasicBlock, (n, n, n), num_classes, widths=(16, 32, 64), stem="cifar", shortcut=shortcut)


def resnet20(num_classes: int = 10, shortcut: str = "A") -> ResNet:
    """ResNet-20 for 32x32 images (CIFAR-10): ``cifar_resnet(20)``, three stages of 3 BasicBlocks
    with 16/32/64 channels; 0.27 million parameters with option A shortcuts."""
    return cifar_resnet(20, num_classes, shortcut)
