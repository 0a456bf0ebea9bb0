"""Neural style transfer (Gatys, Ecker & Bethge 2016, "Image Style Transfer Using Convolutional Neural
Networks"): an image is optimised so that the features a CNN computes from it match those of a
content image at some layers (the content loss) and the feature correlations -- Gram matrices -- of a
style image at others (the style loss).

For a layer's feature maps F (C channels of H x W positions, flattened to C x HW):

- ``gram_matrix``: G = F F^T / (C H W), the channel correlations, independent of the image size;
- ``content_loss``: mean((F - P)^2), P the content image's features at that layer;
- ``style_loss``: mean((G - A)^2), A the style image's Gram matrix at that layer;
- ``total_variation``: the mean squared difference of neighbouring pixels, an optional smoothness
  term (Mahendran & Vedaldi 2015; Johnson et al. 2016).

These are Gatys et al.'s losses (eq. 1, 4, 5) up to a constant factor per layer; ``style_transfer``
by default divides each layer's loss by the mean square of its target, so that layers count by their
relative error whatever the network's activation scale. ``FeatureExtractor`` taps named layers of
any deepgrad model with forward hooks; ``style_transfer`` runs the optimisation with Adam (or plain
gradient descent) on the pixels.

Any network works: torchvision's VGG-16/19 weights converted to safetensors (docs/input_gradients.md),
a classifier trained with ``deepgrad train-images``, or randomly initialised convolutions.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import Tensor, nn, optim
from deepgrad.models import VGG, ResNet
from deepgrad.models.convnets import VGG_CONFIGS

from .saliency import frozen_eval

__all__ = ["gram_matrix", "content_loss", "style_loss", "total_variation", "FeatureExtractor",
           "vgg_layer_names", "default_feature_layers", "StyleTransferResult", "style_transfer"]


def gram_matrix(features: Tensor, normalize: bool = True) -> Tensor:
    """The Gram matrix G[i, j] = sum_p F[i, p] F[j, p] of feature maps (C, H, W) -> (C, C), or of a
    batch (N, C, H, W) -> (N, C, C), divided by C * H * W when ``normalize`` (so that images of
    different sizes are comparable).

    Example::

        g = gram_matrix(deepgrad.rand(1, 64, 32, 32))   # (1, 64, 64)
    """
    if features.ndim not in (3, 4):
        raise ValueError(f"gram_matrix: expected features of shape (C, H, W) or (N, C, H, W), got "
                         f"{tuple(features.shape)}")
    c, h, w = features.shape[-3:]
    flat = features.reshape(*features.shape[:-3], c, h * w)
    gram = flat @ flat.transpose(-1, -2)
    return gram / (c * h * w) if normalize else gram


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """mean((features - target)^2): how far a layer's features are from the content image's."""
    if features.shape != target.shape:
        raise ValueError(f"content_loss: the features {tuple(features.shape)} and the content target "
                         f"{tuple(target.shape)} must have the same shape (same image size)")
    return F.mse_loss(features, target.detach())


def style_loss(features: Tensor, target_gram: Tensor) -> Tensor:
    """mean((gram_matrix(features) - target_gram)^2): how far a layer's channel correlations are from
    the style image's. ``target_gram`` is (C, C), or (N, C, C) for a batch of features."""
    gram = gram_matrix(features)
    if target_gram.shape[-2:] != gram.shape[-2:]:
        raise ValueError(f"style_loss: the features have {gram.shape[-1]} channels but the target Gram "
                         f"matrix is {tuple(target_gram.shape)}")
    return F.mse_loss(gram, target_gram.detach().expand(*gram.shape))


def total_variation(image: Tensor) -> Tensor:
    """The mean squared difference between vertically and horizontally neighbouring pixels of an
    image (..., H, W), summed over the two directions."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return (dy * dy).mean() + (dx * dx).mean()


class _Captured(Exception):
    """Raised by the last hook to fire, to skip the rest of the forward pass."""


class FeatureExtractor:
    """The outputs of the submodules of ``model`` named in ``layers`` (paths as in
    ``model.named_modules()``, e.g. 'features.3' or 'layer2.0.conv1'; '' is the model itself),
    captured by forward hooks. Calling it runs ``model`` on an input and returns {name: output};
    the forward pass stops as soon as every named layer has produced its output, so layers past the
    deepest one cost nothing (and a classifier head sized for another input never runs). A module
    called several times in one pass is captured at its first call. ``remove()`` (or leaving a
    ``with`` block) unregisters the hooks.

    Example::

        with FeatureExtractor(vgg.features, ["3", "8"]) as extract:
            feats = extract(images)          # {"3": (N, 64, H, W), "8": (N, 128, H/2, W/2)}
    """

    def __init__(self, model: nn.Module, layers: Sequence[str]):
        self.model = model
        self.layers = list(dict.fromkeys(layers))
        if not self.layers:
            raise ValueError("FeatureExtractor: no layers named")
        modules = dict(model.named_modules())
        missing = [name for name in self.layers if name not in modules]
        if missing:
            known = ", ".join(repr(n) for n in modules if n)
            raise ValueError(f"FeatureExtractor: {type(model).__name__} has no submodule named "
                             f"{', '.join(map(repr, missing))}; its submodules are {known}")
        self._outputs: dict | None = None
        self._handles = [modules[name].register_forward_hook(self._hook(name)) for name in self.layers]

    def _hook(self, name: str) -> Callable:
        def hook(module, args, output):
            if self._outputs is None or name in self._outputs:
                return None
            if not isinstance(output, Tensor):
                raise TypeError(f"FeatureExtractor: layer {name!r} ({type(module).__name__}) returned a "
                                f"{type(output).__name__}, not a Tensor of feature maps")
            self._outputs[name] = output
            if len(self._outputs) == len(self.layers):
                raise _Captured
            return None
        return hook

    def __call__(self, x: Tensor) -> dict[str, Tensor]:
        self._outputs = {}
        try:
            self.model(x)
        except _Captured:
            pass
        finally:
            outputs, self._outputs = self._outputs, None
        missing = [name for name in self.layers if name not in outputs]
        if missing:
            raise RuntimeError(f"FeatureExtractor: the layers {', '.join(map(repr, missing))} did not run in "
                               f"the forward pass of {type(self.model).__name__}")
        return {name: outputs[name] for name in self.layers}

    def remove(self) -> None:
        """Unregister the hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> "FeatureExtractor":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def vgg_layer_names(config: int = 16, batch_norm: bool = False) -> dict[str, str]:
    """The conventional names of a VGG's feature layers -- 'conv3_1' (block 3, convolution 1),
    'bn3_1', 'relu3_1', 'pool3' -- mapped to their index in ``VGG(config, batch_norm=...).features``
    (torchvision's layout), as strings ready for ``FeatureExtractor(vgg.features, ...)``.

    Example::

        vgg_layer_names(16)["relu4_2"]   # '20'
    """
    if config not in VGG_CONFIGS:
        raise ValueError(f"vgg_layer_names: config must be one of {sorted(VGG_CONFIGS)}, got {config!r}")
    names: dict[str, str] = {}
    block, conv = 1, 0
    for v in VGG_CONFIGS[config]:
        if v == "M":
            names[f"pool{block}"] = str(len(names))
            block, conv = block + 1, 0
            continue
        conv += 1
        kinds = ("conv", "bn", "relu") if batch_norm else ("conv", "relu")
        for kind in kinds:
            names[f"{kind}{block}_{conv}"] = str(len(names))
    return names


def _evenly(items: list, k: int) -> list:
    if len(items) <= k:
        return items
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


def default_feature_layers(model: nn.Module) -> tuple[nn.Module, list[str], list[str]]:
    """(network to run, content layers, style layers) for style transfer with ``model``:

    - a ``VGG``: its ``features`` (so any image size works) with Gatys et al.'s choice, content
      relu4_2 and style relu1_1, relu2_1, relu3_1, relu4_1, relu5_1;
    - a ``ResNet``: the model, content the second-to-last stage, style the stem's ReLU and every stage;
    - any other model: the model, style at up to five of its Conv2d layers spread over the depth,
      content at the last one.
    """
    if isinstance(model, VGG):
        batch_norm = any(isinstance(m, nn.BatchNorm2d) for m in model.features.modules())
        names = vgg_layer_names(model.config, batch_norm)
        return (model.features, [names["relu4_2"]],
                [names[f"relu{b}_1"] for b in range(1, 6)])
    if isinstance(model, ResNet):
        stages = [f"layer{i + 1}" for i in range(model.n_stages)]
        return model, [stages[max(len(stages) - 2, 0)]], ["relu"] + stages
    convs = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"default_feature_layers: {type(model).__name__} has no Conv2d layer; name the "
                         f"content and style layers")
    return model, [convs[-1]], _evenly(convs, 5)


@dataclass
class StyleTransferResult:
    """``image`` (C, H, W), the stylised image; ``history`` the losses before each step:
    'content' (sum over layers of c_l content_loss), 'style' (sum of w_l s_l style_loss), 'tv'
    (total variation), each without its ``*_weight``, and 'total', the weighted sum that is
    minimised (see ``style_transfer``)."""

    image: Tensor
    history: dict[str, list[float]]


def _as_image_batch(image: Tensor, name: str) -> Tensor:
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(f"style_transfer: expected the {name} image as (C, H, W) or (1, C, H, W), got "
                         f"{tuple(image.shape)}")
    if not image.is_floating_point():
        raise TypeError(f"style_transfer: expected a float {name} image, got {image.dtype}")
    return image.detach()


def _inverse_mean_square(t: Tensor) -> float:
    """1 / mean(t^2), or 1 for an all-zero target (a layer whose units are all off)."""
    m = (t * t).mean().item()
    return 1.0 / m if m > 0 else 1.0


def style_transfer(model: nn.Module, content: Tensor, style: Tensor,
                   content_layers: Sequence[str] | None = None, style_layers: Sequence[str] | None = None,
                   steps: int = 300, content_weight: float = 1.0,
                   style_weight: float = 100.0, tv_weight: float = 0.0,
                   style_layer_weights: Sequence[float] | None = None, normalize_layers: bool = True,
                   lr: float = 0.03,
                   optimizer: str = "adam", init: str | Tensor = "content",
                   preprocess: Callable | None = None, clamp: tuple[float, float] | None = (0.0, 1.0),
                   generator: dg.Generator | None = None,
                   callback: Callable[[int, dict], None] | None = None) -> StyleTransferResult:
    """Gatys et al.'s style transfer: starting from ``init``, ``steps`` updates of the pixels of an
    image x minimising

        content_weight * sum_l c_l content_loss(F_l(x), P_l)         over ``content_layers``
      + style_weight * sum_l w_l s_l style_loss(F_l(x), A_l)         over ``style_layers``
      + tv_weight * total_variation(x)

    where F_l are the outputs of the named layers of ``model`` (``FeatureExtractor``) on
    ``preprocess(image)`` (for instance ``transforms.Normalize`` with the statistics the network was
    trained with), P_l = F_l(content), A_l = gram_matrix(F_l(style)), and w_l are
    ``style_layer_weights`` (default 1 / number of style layers). With the layers None,
    ``default_feature_layers(model)`` chooses them (for a VGG, relu4_2 and relu1_1 ... relu5_1 of its
    ``features``, run on their own so any image size works).

    With ``normalize_layers`` (the default) c_l = 1 / mean(P_l^2) and s_l = 1 / mean(A_l^2): every
    layer counts by its relative error, whatever the scale of its activations. Gatys et al. get the
    same effect by rescaling VGG's weights so that each filter's mean activation is 1; without it the
    loss of the first layer, whose activations are largest, drowns the deeper ones (in random and
    trained networks alike), and the weights that work change from network to network. With
    ``normalize_layers=False``, c_l = s_l = 1 (the plain losses).

    ``content`` and ``style`` are (C, H, W) (or (1, C, H, W)) images; they may differ in size, the
    result has the content's. ``init`` is 'content' (the content image, the usual fast start),
    'noise' (uniform in [0, 1), Gatys et al.'s white noise, drawn from ``generator``) or an image.
    ``optimizer`` is 'adam' or 'sgd' (plain gradient descent) with learning rate ``lr``; after every
    step the pixels are clamped to ``clamp`` (None: not clamped). The model is in eval mode with
    frozen parameters meanwhile, restored afterwards. ``callback(step, losses)`` is called after each
    step with that step's losses (the c_l and s_l factors included, as in ``history``).

    Example::

        vgg = VGG(16, input_size=224); vgg.load_state_dict(deepgrad.load("vgg16.safetensors"))
        result = style_transfer(vgg, content, style, steps=300,
                                preprocess=Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))
        write_image(result.image, "stylised.png")
    """
    if (content_layers is None) != (style_layers is None):
        raise ValueError("style_transfer: name both content_layers and style_layers, or neither (defaults)")
    if content_layers is None:
        network, content_layers, style_layers = default_feature_layers(model)
    else:
        network = model
    content_layers, style_layers = list(content_layers), list(style_layers)
    if not content_layers or not style_layers:
        raise ValueError(f"style_transfer: need at least one content and one style layer, got "
                         f"{content_layers} and {style_layers}")
    if style_layer_weights is None:
        style_layer_weights = [1.0 / len(style_layers)] * len(style_layers)
    if len(style_layer_weights) != len(style_layers):
        raise ValueError(f"style_transfer: {len(style_layer_weights)} style layer weights for "
                         f"{len(style_layers)} style layers")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"style_transfer: optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    if steps < 0:
        raise ValueError(f"style_transfer: steps must be >= 0, got {steps}")
    content = _as_image_batch(content, "content")
    style = _as_image_batch(style, "style").to(content.dtype)
    if style.shape[1] != content.shape[1]:
        raise ValueError(f"style_transfer: the content image has {content.shape[1]} channels and the style "
                         f"image {style.shape[1]}")
    if isinstance(init, Tensor):
        image = _as_image_batch(init, "init").to(content.dtype)
        if image.shape != content.shape:
            raise ValueError(f"style_transfer: the init image {tuple(image.shape)} must have the content "
                             f"image's shape {tuple(content.shape)}")
        image = image.clone()
    elif init == "content":
        image = content.clone()
    elif init == "noise":
        image = dg.rand(*content.shape, generator=generator, dtype=content.dtype)
    else:
        raise ValueError(f"style_transfer: init must be 'content', 'noise' or an image tensor, got {init!r}")
    image.requires_grad_(True)

    def prepared(x: Tensor) -> Tensor:
        return preprocess(x) if preprocess is not None else x

    history: dict[str, list[float]] = {"content": [], "style": [], "tv": [], "total": []}
    with frozen_eval(network), FeatureExtractor(network, content_layers + style_layers) as extract:
        with dg.no_grad():
            content_targets = extract(prepared(content))
            style_grams = {name: gram_matrix(f) for name, f in extract(prepared(style)).items()}
        content_scale = {name: _inverse_mean_square(content_targets[name]) if normalize_layers else 1.0
                         for name in content_layers}
        style_scale = {name: _inverse_mean_square(style_grams[name]) if normalize_layers else 1.0
                       for name in style_layers}
        opt = (optim.Adam if optimizer == "adam" else optim.SGD)([image], lr=lr)
        for step in range(steps):
            feats = extract(prepared(image))
            c_loss = sum(content_scale[name] * content_loss(feats[name], content_targets[name])
                         for name in content_layers)
            s_loss = sum(w * style_scale[name] * style_loss(feats[name], style_grams[name])
                         for name, w in zip(style_layers, style_layer_weights))
            tv = total_variation(image)
            total = content_weight * c_loss + style_weight * s_loss + tv_weight * tv
            opt.zero_grad()
            total.backward()
            opt.step()
            if clamp is not None:
                with dg.no_grad():
                    image.clamp_(*clamp)
            losses = {"content": c_loss.item(), "style": s_loss.item(), "tv": tv.item(),
                      "total": total.item()}
            for key, value in losses.items():
                history[key].append(value)
            if callback is not None:
                callback(step, losses)
    return StyleTransferResult(image.detach()[0], history)
