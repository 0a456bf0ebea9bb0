"""Transfer learning (lecture 004, after Donahue et al. 2014 and Razavian et al. 2014): reuse a network
trained on one task for another by freezing its layers, replacing its head and training only part of
it; and the experiment that shows why, on the 8x8 digits.

    freeze(model.features)
    replace_head(model, nn.Linear(64, 5), "head")
    optimizer = deepgrad.optim.Adam([p for p in model.parameters() if p.requires_grad])
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Sequence

import deepgrad as dg
from deepgrad import Tensor, nn
from deepgrad.nn import functional as F

__all__ = ["freeze", "unfreeze", "replace_head", "parameterised_layers", "fine_tune_last", "count_trainable",
           "digits_cnn", "transfer_experiment", "LECTURE_TABLE", "PROBE_STAGES"]

# the lectures' advice, rows: amount of data, columns: similarity to the pretraining data
LECTURE_TABLE = {
    ("very little data", "very similar dataset"): "Use Linear Classifier on top layer",
    ("very little data", "very different dataset"):
        "You're in trouble... Try linear classifier from different stages",
    ("quite a lot of data", "very similar dataset"): "Finetune a few layers",
    ("quite a lot of data", "very different dataset"): "Finetune a larger number of layers",
}


def freeze(module: nn.Module) -> nn.Module:
    """Stop gradients for every parameter of ``module`` (``requires_grad_(False)``); returns it.
    An optimizer given only the parameters that still require grad leaves the frozen ones unchanged."""
    return module.requires_grad_(False)


def unfreeze(module: nn.Module) -> nn.Module:
    """Make every parameter of ``module`` trainable again; returns it."""
    return module.requires_grad_(True)


def parameterised_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The (dotted name, module) pairs of ``model``'s submodules that hold parameters of their own
    (Linear, Conv2d, BatchNorm2d, ...), in registration order, which for the usual models is the
    order the input flows through them."""
    return [(n, m) for n, m in model.named_modules() if next(m.parameters(recurse=False), None) is not None]


def replace_head(model: nn.Module, new_head: nn.Module, attr: str | None = None) -> nn.Module:
    """Put ``new_head`` in place of the submodule named ``attr`` (a dotted name such as 'fc3',
    'head' or, in a Sequential, '2'; default: the last layer with parameters) and return the old one.

    Example::

        old = replace_head(net, nn.Linear(84, 5), "fc3")   # LeNet with a 5-class classifier
    """
    if not isinstance(new_head, nn.Module):
        raise TypeError(f"replace_head: new_head must be an nn.Module, got {type(new_head).__name__}")
    if attr is None:
        layers = parameterised_layers(model)
        if not layers or not layers[-1][0]:
            raise ValueError("replace_head: the model has no submodule with parameters; name the head "
                             "with attr=")
        attr = layers[-1][0]
    names = [n for n, _ in model.named_modules() if n]
    if attr not in names:
        raise ValueError(f"replace_head: the model has no submodule {attr!r}; its submodules are {names}")
    parent_name, _, leaf = attr.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = parent.get_submodule(leaf)
    setattr(parent, leaf, new_head)
    return old


def fine_tune_last(model: nn.Module, k: int) -> list[str]:
    """Freeze ``model`` except its last ``k`` layers with parameters (see ``parameterised_layers``);
    return the names of the layers left trainable. ``k = 1`` trains the classifier alone."""
    layers = parameterised_layers(model)
    if not isinstance(k, int) or not 0 <= k <= len(layers):
        raise ValueError(f"fine_tune_last: k must be an int in [0, {len(layers)}] (the model's layers with "
                         f"parameters), got {k!r}")
    freeze(model)
    chosen = layers[len(layers) - k:]
    for _, layer in chosen:
        for p in layer.parameters(recurse=False):
            p.requires_grad_(True)
    return [n for n, _ in chosen]


def count_trainable(model: nn.Module) -> int:
    """How many parameter values require grad."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def digits_cnn(num_classes: int = 10, width: int = 16, hidden: int = 64) -> nn.Sequential:
    """A LeNet-style network for 1x8x8 digits, split into ``features`` (two 3x3 convolution + ReLU +
    2x2 max-pool stages, 8 -> 4 -> 2, then a fully connected layer of ``hidden`` units) and ``head``
    (the linear classifier on those features), so ``model.features`` is the part transfer learning
    reuses."""
    features = nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * 4, hidden), nn.ReLU())
    return nn.Sequential(OrderedDict([("features", features), ("head", nn.Linear(hidden, num_classes))]))


def _train(model: nn.Module, x: Tensor, y: Tensor, epochs: Sequence[int], lr: float, batch_size: int,
           generator: dg.Generator, test: tuple[Tensor, Tensor] | None = None) -> list[float]:
    """Adam on cross-entropy over shuffled mini-batches, updating only the parameters that require
    grad, for max(epochs) epochs; returns the accuracy on ``test`` after each epoch in ``epochs``."""
    from deepgrad.utils.data import DataLoader, TensorDataset

    optimizer = dg.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=generator)
    accuracies = []
    for epoch in range(1, max(epochs) + 1):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            optimizer.step()
        if epoch in epochs and test is not None:
            accuracies.append(_accuracy(model, *test))
    return accuracies


@dg.no_grad()
def _accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    model.eval()
    return (model(x).argmax(1) == y).float().mean().item()


def _select(data: Tensor, targets: Tensor, classes: range, shots: int | None, generator: dg.Generator):
    """The examples of ``classes`` relabelled 0, 1, ...; with ``shots``, that many random ones per class."""
    xs, ys = [], []
    for new_label, c in enumerate(classes):
        idx = dg.tensor([i for i, t in enumerate(targets.tolist()) if t == c], dtype=dg.int64)
        if shots is not None:
            if shots > idx.shape[0]:
                raise ValueError(f"transfer_experiment: class {c} has {idx.shape[0]} training images, fewer "
                                 f"than shots={shots}")
            idx = idx[dg.randperm(idx.shape[0], generator=generator)[:shots]]
        xs.append(data[idx])
        ys.append(dg.full((idx.shape[0],), new_label, dtype=dg.int64))
    return dg.cat(xs), dg.cat(ys)


# the frozen stages a linear classifier is tried on: key -> (layer of digits_cnn, description)
PROBE_STAGES = {
    "linear": ("features", "top layer (fc, 64)"),
    "linear_conv2": ("features.5", "conv stage 2 (32x2x2)"),
    "linear_conv1": ("features.2", "conv stage 1 (16x4x4)"),
}


def transfer_experiment(shots: int = 20, pretrain_epochs: int = 15, epochs: Sequence[int] = (5, 10, 20, 40),
                        lr: float = 1e-3, linear_lr: float = 1e-2, batch_size: int = 32, seed: int = 0,
                        verbose: bool = True) -> dict:
    """Does a network trained on digits 0-4 help to learn digits 5-9 from ``shots`` examples each?

    1. Train ``digits_cnn`` on every training image of 0-4 (``pretrain_epochs`` epochs).
    2. On 5-9 with ``shots`` random training images per class (the same ones for every method), train
       (a) a linear classifier on the frozen pretrained features: the top layer ('linear') and, as the
           lectures suggest when the new task differs, earlier stages ('linear_conv2', 'linear_conv1');
       (b) the whole pretrained network with a new classifier (fine-tuning, 'finetune');
       (c) the same architecture from a fresh initialisation (training from scratch, 'scratch').
    3. Evaluate each on every held-out test image of 5-9 after each number of epochs in ``epochs``.

    Adam with mini-batches of ``batch_size``: ``lr`` for the networks, ``linear_lr`` for the linear
    classifiers (a convex problem on fixed features, which takes larger steps); seeded by ``seed``.
    Prints the comparison table when ``verbose``. Returns {'pretrain': accuracy on the 0-4 test
    images, 'n_test': number of 5-9 test images, 'epochs': the checkpoints, 'accuracy': {method: one
    accuracy per checkpoint}, 'trainable': {method: trainable parameter count}, 'models': the
    'pretrained', 'finetune' and 'scratch' networks, and 'linear', 'finetune', 'scratch': the
    accuracies of (a) on the top layer, (b) and (c) at the last checkpoint}.
    """
    from deepgrad.vision.datasets import Digits
    from deepgrad.vision.embed import Img2Vec

    epochs = sorted(set(epochs))
    if not epochs or epochs[0] < 1:
        raise ValueError(f"transfer_experiment: epochs must be positive checkpoints, got {epochs}")
    train, test = Digits(train=True), Digits(train=False)
    g = dg.Generator().manual_seed(seed)
    x_old, y_old = _select(train.data, train.targets, range(0, 5), None, g)
    x_old_test, y_old_test = _select(test.data, test.targets, range(0, 5), None, g)
    x_new, y_new = _select(train.data, train.targets, range(5, 10), shots, g)
    x_test, y_test = _select(test.data, test.targets, range(5, 10), None, g)

    dg.manual_seed(seed)
    pretrained = digits_cnn(5)
    _train(pretrained, x_old, y_old, [pretrain_epochs], lr, batch_size, g)
    accuracy, trainable = {}, {}
    for key, (layer, _) in PROBE_STAGES.items():
        # a frozen network feeds the classifier the same vectors every step: compute them once
        to_vec = Img2Vec(pretrained, layer)
        feats, feats_test = to_vec(x_new), to_vec(x_test)
        classifier = nn.Linear(feats.shape[1], 5)
        trainable[key] = count_trainable(classifier)
        accuracy[key] = _train(classifier, feats, y_new, epochs, linear_lr, batch_size, g,
                               (feats_test, y_test))

    finetuned = copy.deepcopy(pretrained)
    replace_head(finetuned, nn.Linear(finetuned.head.in_features, 5), "head")
    scratch = digits_cnn(5)
    for key, model in (("finetune", finetuned), ("scratch", scratch)):
        trainable[key] = count_trainable(model)
        accuracy[key] = _train(model, x_new, y_new, epochs, lr, batch_size, g, (x_test, y_test))
    results = {"pretrain": _accuracy(pretrained, x_old_test, y_old_test), "n_test": y_test.shape[0],
               "epochs": epochs, "accuracy": accuracy, "trainable": trainable,
               "models": {"pretrained": pretrained, "finetune": finetuned, "scratch": scratch},
               **{key: accuracy[key][-1] for key in ("linear", "finetune", "scratch")}}
    if verbose:
        _print_table(results, shots, x_old.shape[0])
    return results


def _print_table(results: dict, shots: int, n_pretrain: int) -> None:
    rows = [(f"(a) linear classifier on frozen {desc}", key) for key, (_, desc) in PROBE_STAGES.items()]
    rows += [("(b) fine-tune the whole network", "finetune"),
             (f"(c) train from scratch on the {5 * shots} examples", "scratch")]
    print(f"Transfer learning on 8x8 digits: pretrained on 0-4 ({n_pretrain} images, test accuracy "
          f"{results['pretrain']:.3f}); new task 5-9 from {shots} examples per class")
    header = "".join(f"{f'{e} epochs':>11}" for e in results["epochs"])
    print(f"{'method':<56}{'trainable':>10}{header}")
    for label, key in rows:
        accs = "".join(f"{a:>11.3f}" for a in results["accuracy"][key])
        print(f"{label:<56}{results['trainable'][key]:>10}{accs}")
    print(f"(accuracy on all {results['n_test']} held-out test images of 5-9)")
    for (data, similarity), advice in LECTURE_TABLE.items():
        if data == "very little data":
            print(f"Lecture, {data} + {similarity}: \"{advice}\"")
