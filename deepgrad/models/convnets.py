"""Classic convolutional networks of the lectures: LeNet (the PyTorch tutorial ``Net``), AlexNet and
VGG. Attribute names follow the lectures' code and torchvision, so the same architecture written in
PyTorch has the same state-dict keys and its weights load with ``load_state_dict``."""
from __future__ import annotations

import deepgrad as dg
from deepgrad import Tensor, nn
from deepgrad.nn import functional as F

__all__ = ["LeNet", "AlexNet", "VGG", "VGG_CONFIGS"]


def check_image_input(model: str, x: Tensor, channels: int, size: int | None = None, hint: str = "") -> None:
    """Raise a ValueError naming ``model``, the expected (N, channels, size, size) shape and the
    given one unless ``x`` is a batch of images of that shape (any H, W when ``size`` is None)."""
    spatial_ok = size is None or tuple(x.shape[2:]) == (size, size)
    if x.ndim != 4 or x.shape[1] != channels or not spatial_ok:
        side = "H, W" if size is None else f"{size}, {size}"
        raise ValueError(f"{model}: expected an input of shape (N, {channels}, {side}), got {tuple(x.shape)}"
                         + (f"; {hint}" if hint else ""))


def kaiming_init_convs(model: nn.Module) -> None:
    """torchvision's initialisation for VGG and ResNet: convolution weights from
    N(0, 2 / fan_out) (He et al. 2015, fan_out = out_channels * kh * kw) and zero biases, batch-norm
    scales 1 and shifts 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class LeNet(nn.Module):
    """The lectures' convolutional network (the PyTorch CIFAR-10 tutorial's ``Net``, a LeNet-5)::

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(3, 6, 5)
                self.pool = nn.MaxPool2d(2, 2)
                self.conv2 = nn.Conv2d(6, 16, 5)
                self.fc1 = nn.Linear(16 * 5 * 5, 120)
                self.fc2 = nn.Linear(120, 84)
                self.fc3 = nn.Linear(84, 10)

            def forward(self, x):
                x = self.pool(F.relu(self.conv1(x)))
                x = self.pool(F.relu(self.conv2(x)))
                x = torch.flatten(x, 1)
                x = F.relu(self.fc1(x))
                x = F.relu(self.fc2(x))
                return self.fc3(x)

    ``LeNet()`` is exactly that network for 3x32x32 images, with the same attribute names, so its
    state dict is the tutorial net's. ``in_channels`` and ``input_size`` adapt it to other square
    images: ``LeNet(in_channels=1, input_size=28)`` for MNIST has conv1 1->6 and, since the maps
    shrink 28 -> 24 -> 12 -> 8 -> 4, fc1 with 16 * 4 * 4 inputs. ``input_size`` must be at least 16.

    Example::

        net = LeNet()                       # (N, 3, 32, 32) -> (N, 10)
        mnist = LeNet(num_classes=10, in_channels=1, input_size=28)
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, input_size: int = 32):
        super().__init__()
        side = ((input_size - 4) // 2 - 4) // 2  # two (conv 5x5 valid, pool 2x2) stages
        if side < 1:
            raise ValueError(f"LeNet: input_size must be at least 16 (two 5x5 convolutions and 2x2 "
                             f"poolings), got {input_size}")
        self.in_channels, self.input_size = in_channels, input_size
        self.conv1 = nn.Conv2d(in_channels, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        check_image_input("LeNet", x, self.in_channels, self.input_size,
                          "build LeNet(in_channels=C, input_size=S) for C x S x S images")
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = dg.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class AlexNet(nn.Module):
    """AlexNet (Krizhevsky et al. 2012) as the lectures list it, for 227x227x3 inputs::

        [227x227x3]  INPUT
        [55x55x96]   CONV1: 96 11x11 filters at stride 4, pad 0
        [27x27x96]   MAX POOL1: 3x3 filters at stride 2
        [27x27x96]   NORM1: normalization layer
        [27x27x256]  CONV2: 256 5x5 filters at stride 1, pad 2
        [13x13x256]  MAX POOL2: 3x3 filters at stride 2
        [13x13x256]  NORM2: normalization layer
        [13x13x384]  CONV3: 384 3x3 filters at stride 1, pad 1
        [13x13x384]  CONV4: 384 3x3 filters at stride 1, pad 1
        [13x13x256]  CONV5: 256 3x3 filters at stride 1, pad 1
        [6x6x256]    MAX POOL3: 3x3 filters at stride 2
        [4096]       FC6: 4096 neurons
        [4096]       FC7: 4096 neurons
        [1000]       FC8: 1000 neurons (class scores)

    ReLU after every convolution and hidden fully connected layer; the normalisation layers are
    local response normalisation with the paper's constants (size 5, alpha 1e-4, beta 0.75, k 2);
    the max-poolings overlap (3x3 windows at stride 2); dropout 0.5 before FC6 and FC7. This is
    the single-tower ("simplified") network: the paper split conv2, conv4, conv5 across two GPUs
    and normalised before pooling; the lectures' listing pools first, which is what is built here.
    About 62.4 million parameters with 1000 classes. Layout as torchvision's ``features`` /
    ``classifier`` Sequentials (``features.0`` is CONV1, ``classifier.1`` FC6, ``classifier.6``
    FC8); PyTorch's default initialisation.

    Example::

        net = AlexNet(num_classes=1000)
        scores = net(deepgrad.randn(1, 3, 227, 227))   # (1, 1000)
    """

    input_size = 227

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
            nn.Conv2d(96, 256, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
            nn.Conv2d(256, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        check_image_input("AlexNet", x, 3, self.input_size)
        return self.classifier(dg.flatten(self.features(x), 1))


# VGG configurations (Simonyan & Zisserman 2014, table 1, columns A, B, D, E): output channels of
# each 3x3 convolution, "M" a 2x2 max-pooling at stride 2
VGG_CONFIGS: dict[int, list] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512,
         "M"],
}


class VGG(nn.Module):
    """VGGNet (Simonyan & Zisserman 2014): "small filters, deeper networks" -- only 3x3
    convolutions at stride 1, pad 1 (each followed by ReLU, or batch norm then ReLU with
    ``batch_norm=True``) and 2x2 max-pooling at stride 2, 11, 13, 16 or 19 weight layers
    (configurations A, B, D, E of the paper; ``VGG_CONFIGS``).

    ``input_size=224`` (ImageNet): the five poolings leave 7x7x512, then the classifier
    FC 4096 - ReLU - dropout - FC 4096 - ReLU - dropout - FC num_classes. The modules are
    torchvision's (``features``, ``avgpool`` = AdaptiveAvgPool2d(7), ``classifier``), index for
    index, so weights converted from ``torchvision.models.vgg16`` (or ``vgg16_bn``) load with
    ``load_state_dict``. ``input_size=32`` (CIFAR): the poolings leave 1x1x512 and the classifier is
    one ``Linear(512, num_classes)`` (``dropout`` is then unused). Initialised as torchvision does:
    convolutions N(0, 2 / fan_out), linear layers N(0, 0.01^2), zero biases.

    Example::

        vgg16 = VGG(16, num_classes=1000)                       # (N, 3, 224, 224) -> (N, 1000)
        cifar = VGG(11, num_classes=10, batch_norm=True, input_size=32)
    """

    def __init__(self, config: int = 16, num_classes: int = 1000, batch_norm: bool = False,
                 input_size: int = 224, dropout: float = 0.5):
        super().__init__()
        if config not in VGG_CONFIGS:
            raise ValueError(f"VGG: config must be one of {sorted(VGG_CONFIGS)} (weight layers), "
                             f"got {config!r}")
        if input_size not in (224, 32):
            raise ValueError(f"VGG: input_size must be 224 (ImageNet) or 32 (CIFAR), got {input_size!r}")
        self.config, self.input_size = config, input_size
        layers: list[nn.Module] = []
        channels = 3
        for v in VGG_CONFIGS[config]:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            layers.append(nn.Conv2d(channels, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU())
            channels = v
        self.features = nn.Sequential(*layers)
        if input_size == 224:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(4096, 4096),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(4096, num_classes),
            )
        else:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.classifier = nn.Linear(512, num_classes)
        kaiming_init_convs(self)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        check_image_input(f"VGG-{self.config}", x, 3, self.input_size,
                          "input_size is 224 (ImageNet) or 32 (CIFAR), chosen when the model is built")
        return self.classifier(dg.flatten(self.avgpool(self.features(x)), 1))
