"""The commands built on gradients with respect to the input: ``deepgrad saliency``, ``deepgrad
class-model`` and ``deepgrad style-transfer`` (see docs/input_gradients.md).

A network is given as a file: a checkpoint written by ``deepgrad train-images`` (it names its
architecture and dataset, so nothing else is needed), or a plain state dict -- a safetensors file of
{name: tensor}, or a deepgrad checkpoint holding one under 'model' -- of one of the zoo's
architectures, recognised from its keys or named with ``--model``: lenet, resnet20, vgg11, vgg13,
vgg16, vgg19 (torchvision's VGG weights converted to safetensors load as vgg16 / vgg19).
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass

import deepgrad as dg
from deepgrad import nn
from deepgrad.models import VGG, BasicBlock, LeNet, ResNet, resnet20
from deepgrad.train.images import DATASETS, FORMAT, input_geometry, load_classifier
from deepgrad.vision import datasets as vdatasets
from deepgrad.vision import transforms as T
from deepgrad.vision.images import read_image, write_image

from .saliency import class_model, plot_class_models, plot_saliency, saliency_map
from .style import default_feature_layers, style_transfer, vgg_layer_names
from ..cli import positive_int

__all__ = ["ZOO", "LoadedNetwork", "detect_architecture", "model_from_state_dict", "load_network",
           "add_parsers"]

ZOO = ("lenet", "resnet20", "vgg11", "vgg13", "vgg16", "vgg19")
# Input statistics assumed for plain state dicts (a train-images checkpoint stores its own):
# torchvision's ImageNet weights for VGG, CIFAR-10 for the CIFAR ResNet-20, none for LeNet.
IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CIFAR10_STATS = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
_VGG_CONVS = {8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}
_CLASS_NAMES = {"digits": vdatasets.Digits, "mnist": vdatasets.MNIST, "fashion-mnist": vdatasets.FashionMNIST}


@dataclass
class LoadedNetwork:
    """A network read from a file, with what is needed to feed it image files: ``channels`` to read
    (1 grey, 3 RGB), ``size`` the side the images are resized to (None: kept), ``preprocess`` applied
    to [0, 1] pixels before the network (normalisation, grey to RGB), ``mean`` the pixel mean per
    channel (the neutral image) and ``classes`` the class names when known."""

    model: nn.Module
    name: str
    channels: int
    size: int | None
    preprocess: Callable | None
    mean: tuple | None
    classes: list[str] | None


def detect_architecture(state: dict) -> str:
    """The zoo architecture whose state dict ``state`` is (one of ``ZOO``), from its keys."""
    if any(k.startswith("features.") for k in state):
        convs = sum(1 for k, v in state.items() if k.startswith("features.") and k.endswith(".weight")
                    and v.ndim == 4)
        if convs in _VGG_CONVS:
            return _VGG_CONVS[convs]
    if "layer3.2.conv1.weight" in state and "layer3.3.conv1.weight" not in state and "layer4.0.conv1.weight" \
            not in state:
        return "resnet20"
    if "conv2.weight" in state and "fc3.weight" in state:
        return "lenet"
    raise ValueError(f"the weights are not a state dict of a known architecture ({', '.join(ZOO)}); "
                     f"name it with --model")


def _shape(state: dict, key: str, name: str) -> tuple:
    if key not in state:
        raise ValueError(f"the weights have no {key!r} entry: they are not a {name} state dict")
    return tuple(state[key].shape)


def model_from_state_dict(name: str, state: dict, features_only: bool = False) -> nn.Module:
    """The zoo network ``name`` (one of ``ZOO``) sized from the shapes in ``state`` (input channels,
    classes, LeNet's input size, VGG's batch norm and 224 or 32 input) with those weights loaded.
    ``features_only`` loads only a VGG's ``features`` (its classifier, unused by style transfer,
    keeps random weights and is built small)."""
    if name == "lenet":
        side = math.isqrt(_shape(state, "fc1.weight", name)[1] // 16)
        model = LeNet(_shape(state, "fc3.weight", name)[0], _shape(state, "conv1.weight", name)[1],
                      4 * side + 12)
    elif name == "resnet20":
        shortcut = "B" if "layer2.0.downsample.0.weight" in state else "A"
        model = ResNet(BasicBlock, (3, 3, 3), _shape(state, "fc.weight", name)[0], widths=(16, 32, 64),
                       stem="cifar", shortcut=shortcut, in_channels=_shape(state, "conv1.weight", name)[1])
    elif name in ZOO:
        config = int(name[3:])
        batch_norm = "features.1.running_mean" in state
        if features_only:
            model = VGG(config, batch_norm=batch_norm, input_size=32)
            model.features.load_state_dict({k[len("features."):]: v for k, v in state.items()
                                            if k.startswith("features.")})
            return model.eval()
        head = "classifier.6.weight" if "classifier.0.weight" in state else "classifier.weight"
        model = VGG(config, num_classes=_shape(state, head, name)[0], batch_norm=batch_norm,
                    input_size=224 if head == "classifier.6.weight" else 32)
    else:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(ZOO)}")
    model.load_state_dict(state)
    return model.eval()


def _expand_to(channels: int) -> Callable:
    def expand(x: dg.Tensor) -> dg.Tensor:
        return x.expand(*x.shape[:-3], channels, *x.shape[-2:])
    return expand


def _preprocess(mean, std, expand_to: int | None = None) -> Callable | None:
    steps = [T.Normalize(mean, std)] if mean is not None else []
    if expand_to is not None:
        steps.append(T.Lambda(_expand_to(expand_to)))
    return T.Compose(steps) if steps else None


def _trainer_network(path: str, mean, std, size: int | None) -> LoadedNetwork:
    model, config, _ = load_classifier(path)
    channels, side = input_geometry(config.model, config.dataset)
    spec = DATASETS[config.dataset]
    mean, std = (mean, std) if mean is not None else (config.mean, config.std)
    names = getattr(_CLASS_NAMES.get(config.dataset), "classes", None)
    return LoadedNetwork(model, f"{config.model} trained on {config.dataset}", spec.channels, size or side,
                         _preprocess(mean, std, channels if channels != spec.channels else None),
                         tuple(mean), list(names) if names else None)


def load_network(weights: str, model: str | None = None, mean=None, std=None, size: int | None = None,
                 features_only: bool = False, seed: int = 0) -> LoadedNetwork:
    """The network in the file ``weights`` (see the module docstring), or with ``weights`` 'random'
    the zoo network ``model`` initialised from ``seed``. ``model`` None or 'ckpt' accepts a
    train-images checkpoint; for a plain state dict None recognises the architecture from its keys.
    ``mean``/``std`` override the input normalisation; ``size`` overrides the image side."""
    if weights == "random":
        name = model or "vgg16"
        if name not in ZOO:
            raise ValueError(f"--weights random needs a zoo --model ({', '.join(ZOO)}), got {name!r}")
        dg.manual_seed(seed)
        net = (LeNet() if name == "lenet" else resnet20() if name == "resnet20"
               else VGG(int(name[3:]), input_size=32)).eval()
    else:
        ckpt = dg.load(weights)
        if not isinstance(ckpt, dict):
            raise ValueError(f"{weights}: expected a state dict or a train-images checkpoint")
        config = ckpt.get("config")
        if model in (None, "ckpt") and isinstance(config, dict) and config.get("format") == FORMAT:
            return _trainer_network(weights, mean, std, size)
        if model == "ckpt":
            raise ValueError(f"{weights}: not a train-images checkpoint; name the architecture with --model")
        state = ckpt["model"] if isinstance(ckpt.get("model"), dict) else ckpt
        name = model or detect_architecture(state)
        net = model_from_state_dict(name, state, features_only)
    default_mean, default_std = (IMAGENET_STATS if name.startswith("vgg") else CIFAR10_STATS
                                 if name == "resnet20" else (None, None))
    mean, std = (mean, std) if mean is not None else (default_mean, default_std)
    channels = 3 if name.startswith("vgg") else net.conv1.weight.shape[1]
    return LoadedNetwork(net, name, channels, size or getattr(net, "input_size", 32), _preprocess(mean, std),
                         tuple(mean) if mean else None, None)


# ---------------------------------------------------------------------------- command line


def _floats(s: str) -> tuple:
    try:
        return tuple(float(v) for v in s.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {s!r}") from None


def _network_args(p: argparse.ArgumentParser, models: tuple) -> None:
    p.add_argument("--model", default=None, choices=models,
                   help="architecture of a plain state dict (default: recognised from its keys)")
    p.add_argument("--mean", type=_floats, default=None,
                   help="input normalisation mean per channel, e.g. 0.5,0.5,0.5")
    p.add_argument("--std", type=_floats, default=None, help="input normalisation std per channel")


def _check_stats(args) -> None:
    if (args.mean is None) != (args.std is None):
        raise ValueError("--mean and --std go together")


def add_parsers(sub) -> None:
    """Register ``saliency``, ``class-model`` and ``style-transfer`` on an argparse subparsers
    object; each sets ``func`` to a function of the parsed args returning an exit code."""
    p = sub.add_parser("saliency", help="saliency maps |dscore/dx| of an image classifier (PNG)",
                       description="For each image, the gradient of a class score with respect to the "
                                   "pixels: the map max over channels of |dS_k/dx| (Simonyan et al. 2014), "
                                   "drawn under the image. The class is the predicted one unless --class is "
                                   "given.")
    p.add_argument("checkpoint", help="train-images checkpoint, or a zoo state dict (see --model)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    p.add_argument("--class", dest="target", type=int, default=None,
                   help="class k (default: the predicted one)")
    p.add_argument("--smooth", type=int, default=0, metavar="N",
                   help="SmoothGrad: average over N noisy copies")
    p.add_argument("--noise", type=float, default=0.15,
                   help="SmoothGrad noise std as a fraction of the range")
    p.add_argument("--size", type=positive_int, default=None, help="resize images to this side")
    _network_args(p, ZOO)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="saliency.png")
    p.set_defaults(func=_cmd_saliency)

    p = sub.add_parser("class-model", help="class model visualisation by gradient ascent on the input (PNG)",
                       description="For each class k, the image maximising S_k(x) - l2 * ||x||^2 found "
                                   "by gradient ascent from the mean image (Simonyan et al. 2014), with "
                                   "optional jitter and blur regularisers; pixels kept in [0, 1].")
    p.add_argument("checkpoint", help="train-images checkpoint, or a zoo state dict (see --model)")
    p.add_argument("--classes", default=None, help="comma-separated class indices (default: all)")
    p.add_argument("--steps", type=positive_int, default=200)
    p.add_argument("--lr", type=float, default=0.01, help="gradient ascent step size")
    p.add_argument("--l2", type=float, default=0.05, help="L2 regularisation weight")
    p.add_argument("--jitter", type=int, default=0, help="random circular shifts of up to this many pixels")
    p.add_argument("--blur-every", type=int, default=0,
                   help="blur the image every this many steps (0: never)")
    p.add_argument("--blur-sigma", type=float, default=0.5)
    p.add_argument("--size", type=positive_int, default=None, help="image side (default: the network's)")
    _network_args(p, ZOO)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="class_models.png")
    p.set_defaults(func=_cmd_class_model)

    p = sub.add_parser("style-transfer", help="neural style transfer (Gatys et al.)",
                       description="Optimise an image so that a CNN's features match the content image's "
                                   "(content loss) and their Gram matrices the style image's (style loss). "
                                   "--weights: torchvision VGG weights converted to safetensors, a zoo state "
                                   "dict, a train-images checkpoint, or 'random' (random initial weights).")
    p.add_argument("--content", required=True, help="content image file")
    p.add_argument("--style", required=True, help="style image file")
    p.add_argument("--weights", required=True, help="network weights file, or 'random'")
    p.add_argument("--model", default=None, choices=ZOO + ("ckpt",),
                   help="architecture (default: recognised from the weights; vgg16 for random)")
    p.add_argument("--mean", type=_floats, default=None, help="input normalisation mean per channel")
    p.add_argument("--std", type=_floats, default=None, help="input normalisation std per channel")
    p.add_argument("--size", type=positive_int, default=128, help="shorter side of the images")
    p.add_argument("--steps", type=positive_int, default=300)
    p.add_argument("--lr", type=float, default=0.03, help="Adam learning rate on the pixels")
    p.add_argument("--content-weight", type=float, default=1.0)
    p.add_argument("--style-weight", type=float, default=100.0)
    p.add_argument("--plain-losses", action="store_true",
                   help="do not divide each layer's loss by the mean square of its target")
    p.add_argument("--tv-weight", type=float, default=0.0, help="total variation weight")
    p.add_argument("--init", default="content", choices=["content", "noise"])
    p.add_argument("--content-layers", default=None,
                   help="comma-separated layers: module paths, or for VGG names such as relu4_2")
    p.add_argument("--style-layers", default=None,
                   help="comma-separated layers (default: relu1_1 ... relu5_1 for VGG)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--print-every", type=int, default=20, help="steps between loss lines (0: none)")
    p.add_argument("--out", default="stylized.png")
    p.set_defaults(func=_cmd_style_transfer)


def _class_name(net: LoadedNetwork, k: int) -> str:
    return net.classes[k] if net.classes and k < len(net.classes) else str(k)


def _read(path: str, net: LoadedNetwork, size) -> dg.Tensor:
    return read_image(path, mode="L" if net.channels == 1 else "RGB", size=size)


def _cmd_saliency(args) -> int:
    _check_stats(args)
    net = load_network(args.checkpoint, args.model, args.mean, args.std, args.size)
    size = (net.size, net.size) if net.size else None
    images = dg.stack([_read(path, net, size) for path in args.images])
    with dg.no_grad():
        probs = dg.softmax(net.model.eval()(net.preprocess(images) if net.preprocess else images), dim=1)
    predicted = probs.argmax(1).tolist()
    targets = [args.target if args.target is not None else k for k in predicted]
    maps = saliency_map(net.model, images, targets, net.preprocess, args.smooth, args.noise,
                        dg.Generator().manual_seed(args.seed))
    titles = []
    for path, k, t, p in zip(args.images, predicted, targets, probs.tolist()):
        pred, name = _class_name(net, k), _class_name(net, t)
        print(f"{path}: predicted {pred} (p={p[k]:.3f}); saliency of class {name}")
        titles.append(f"pred {pred} ({p[k]:.0%})" + (f"\nmap: {name}" if t != k else ""))
    plot_saliency(images, maps, args.out, titles)
    print(f"wrote {args.out}")
    return 0


def _cmd_class_model(args) -> int:
    _check_stats(args)
    net = load_network(args.checkpoint, args.model, args.mean, args.std, args.size)
    classes = ([int(k) for k in args.classes.split(",")] if args.classes
               else list(range(_num_classes(net))))
    shape = (net.channels, net.size, net.size)
    mean = dg.tensor(net.mean if net.mean else (0.0,) * net.channels).reshape(-1, 1, 1)
    result = class_model(net.model, classes, shape, args.steps, args.lr, args.l2, args.jitter,
                         args.blur_every, args.blur_sigma, net.preprocess, clamp=(0.0, 1.0),
                         init=mean.expand(*shape), generator=dg.Generator().manual_seed(args.seed))
    first, last = result.scores[0].tolist(), result.scores[-1].tolist()
    for k, a, b in zip(classes, first, last):
        print(f"class {_class_name(net, k)}: score {a:.3f} -> {b:.3f}")
    plot_class_models(result.images, args.out, [_class_name(net, k) for k in classes])
    print(f"wrote {args.out}")
    return 0


def _num_classes(net: LoadedNetwork) -> int:
    x = dg.zeros(1, net.channels, net.size, net.size)
    with dg.no_grad():
        return net.model.eval()(net.preprocess(x) if net.preprocess else x).shape[1]


def _layers(spec: str | None, model: nn.Module) -> list[str] | None:
    if spec is None:
        return None
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if isinstance(model, VGG):
        batch_norm = any(isinstance(m, nn.BatchNorm2d) for m in model.features.modules())
        aliases = vgg_layer_names(model.config, batch_norm)
        return [aliases.get(n, n) for n in names]
    return names


def _cmd_style_transfer(args) -> int:
    _check_stats(args)
    if (args.content_layers is None) != (args.style_layers is None):
        raise ValueError("--content-layers and --style-layers go together")
    net = load_network(args.weights, args.model, args.mean, args.std, features_only=True, seed=args.seed)
    content, style = _read(args.content, net, args.size), _read(args.style, net, args.size)
    model, content_layers, style_layers = net.model, _layers(args.content_layers, net.model), \
        _layers(args.style_layers, net.model)
    if content_layers is None:
        model, content_layers, style_layers = default_feature_layers(net.model)
    elif isinstance(model, VGG):
        model = model.features
    print(f"style transfer with {net.name}: content layers {content_layers}, style layers {style_layers}, "
          f"image {tuple(content.shape)}, {args.steps} steps")

    def report(step: int, losses: dict) -> None:
        if args.print_every and ((step + 1) % args.print_every == 0 or step == 0):
            print(f"step {step + 1:5d}  content {losses['content']:.4g}  style {losses['style']:.4g}  "
                  f"total {losses['total']:.4g}", flush=True)

    result = style_transfer(model, content, style, content_layers, style_layers, args.steps,
                            args.content_weight, args.style_weight, args.tv_weight,
                            normalize_layers=not args.plain_losses, lr=args.lr,
                            init=args.init, preprocess=net.preprocess,
                            generator=dg.Generator().manual_seed(args.seed), callback=report)
    write_image(result.image, args.out)
    print(f"wrote {args.out}")
    return 0
