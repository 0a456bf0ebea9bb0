"""The image-classification workflow behind ``deepgrad train-images``, ``eval``, ``lr-find`` and
``tune``: datasets and their preprocessing, the model choices, a training run with checkpoints,
history CSV and plots, evaluation of a checkpoint, the learning-rate finder, and hyper-parameter
search.

Model choices (``--model``), for every dataset (see docs/training.md):

- ``mlp``: ``MLP([C*H*W, 256, 128, classes])`` after a Flatten, ReLU, dropout after each hidden layer;
- ``lenet``: on 8x8 digits a LeNet-style CNN sized for 8x8 inputs (conv3x3 32 - ReLU - conv3x3 64 -
  ReLU - maxpool 2 - FC 128 - ReLU - dropout - FC 10; ``digits_cnn``); on 28x28 and 32x32 images the
  lectures' LeNet (``deepgrad.models.LeNet``: conv5x5 6, pool, conv5x5 16, pool, FC 120, 84);
- ``vgg``: ``VGG(11, batch_norm=True, input_size=32)``, images resized to 32x32 and grey ones
  repeated to three channels;
- ``resnet``: the CIFAR ResNet-20 (3 stages of 3 BasicBlocks, 16/32/64 channels, option A
  shortcuts) on 32x32 images (resized when needed), with the dataset's channel count.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import metrics, nn, optim
from deepgrad.models import MLP, VGG, BasicBlock, LeNet, ResNet
from deepgrad.utils.data import DataLoader, Dataset, Subset
from deepgrad.vision import datasets as vdatasets
from deepgrad.vision import transforms as T

from .callbacks import CSVLogger, EarlyStopping, ModelCheckpoint
from .trainer import Trainer, lr_find
from ..cli import positive_int

FORMAT = "deepgrad-image-classifier"
MODELS = ("mlp", "lenet", "vgg", "resnet")


# ---------------------------------------------------------------------------- datasets
@dataclass(frozen=True)
class DatasetSpec:
    """What the workflow needs to know about a dataset: image channels and side, number of classes,
    normalisation statistics (None: computed on the training split) and the augmentation it
    tolerates (horizontal flips change the meaning of digits, not of clothes or CIFAR objects)."""

    channels: int
    size: int
    classes: int
    mean: tuple | None
    std: tuple | None
    crop_padding: int
    flip: bool


DATASETS = {
    "digits": DatasetSpec(1, 8, 10, None, None, 1, False),
    "mnist": DatasetSpec(1, 28, 10, (0.1307,), (0.3081,), 2, False),
    "fashion-mnist": DatasetSpec(1, 28, 10, (0.2860,), (0.3530,), 2, True),
    "cifar10": DatasetSpec(3, 32, 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), 4, True),
}


def _check_choice(what: str, value: str, choices) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")


def input_geometry(model: str, dataset: str) -> tuple[int, int]:
    """(channels, side) of the images ``model`` is fed on ``dataset``: the dataset's own for mlp and
    lenet, 32x32 for vgg (three channels) and resnet."""
    _check_choice("model", model, MODELS)
    _check_choice("dataset", dataset, DATASETS)
    spec = DATASETS[dataset]
    if model == "vgg":
        return 3, 32
    return spec.channels, 32 if model == "resnet" else spec.size


def _gray_to_rgb(img: dg.Tensor) -> dg.Tensor:
    return img.repeat(3, 1, 1)


def image_transform(dataset: str, model: str, mean, std, augment: bool) -> T.Compose:
    """The per-sample pipeline: to a float tensor (MNIST/CIFAR files hold uint8 pixels), resize to
    the model's side, then with ``augment`` a random crop after padding (shifts of up to
    ``crop_padding`` pixels) and, where it keeps the label, a random horizontal flip; then
    ``Normalize(mean, std)``, and grey images repeated to three channels for vgg."""
    spec = DATASETS[dataset]
    channels, size = input_geometry(model, dataset)
    steps: list = [] if dataset == "digits" else [T.ToTensor()]
    if dataset != "digits" and size != spec.size:
        steps.append(T.Resize(size))
    if augment:
        steps.append(T.RandomCrop(size, padding=spec.crop_padding * size // spec.size))
        if spec.flip:
            steps.append(T.RandomHorizontalFlip())
    steps.append(T.Normalize(mean, std))
    if channels != spec.channels:
        steps.append(T.Lambda(_gray_to_rgb))
    return T.Compose(steps)


def _base_dataset(
    dataset: str, root: str | None, train: bool, size: int, transform, download: bool
) -> Dataset:
    if dataset == "digits":
        return vdatasets.Digits(train=train, transform=transform, image_size=size)
    if root is None:
        raise ValueError(
            f"--root is needed for {dataset}: the folder holding its files (or where --download puts them)"
        )
    cls = {"mnist": vdatasets.MNIST, "fashion-mnist": vdatasets.FashionMNIST, "cifar10": vdatasets.CIFAR10}
    return cls[dataset](root, train=train, transform=transform, download=download)


def normalization(dataset: str, root: str | None = None) -> tuple[tuple, tuple]:
    """(mean, std) per channel: the usual constants for MNIST, Fashion-MNIST and CIFAR-10; for digits
    computed on its training split (they depend only on the fixed split)."""
    spec = DATASETS[dataset]
    if spec.mean is not None:
        return spec.mean, spec.std
    return T.compute_mean_std(_base_dataset(dataset, root, True, spec.size, None, False).data)


def load_splits(config: "ImageConfig") -> tuple[Dataset, Dataset, Dataset]:
    """(train, validation, test) datasets. Validation is a random ``val_fraction`` of the training
    set (drawn with ``Generator().manual_seed(seed)``), seen without augmentation; test is the
    dataset's test set (for digits the fixed stratified 20% of ``Digits(train=False)``)."""
    _, size = input_geometry(config.model, config.dataset)
    plain = image_transform(config.dataset, config.model, config.mean, config.std, augment=False)
    train_tf = image_transform(config.dataset, config.model, config.mean, config.std, config.augment)
    train_full = _base_dataset(config.dataset, config.root, True, size, train_tf, config.download)
    val_full = _base_dataset(config.dataset, config.root, True, size, plain, False)
    test = _base_dataset(config.dataset, config.root, False, size, plain, False)
    n = len(train_full)
    n_val = int(round(config.val_fraction * n))
    if not 0 < n_val < n:
        raise ValueError(
            f"val_fraction {config.val_fraction} leaves no validation or no training samples out of {n}"
        )
    order = dg.randperm(n, generator=dg.Generator().manual_seed(config.seed)).tolist()
    return Subset(train_full, order[n_val:]), Subset(val_full, order[:n_val]), test


# ---------------------------------------------------------------------------- models
def digits_cnn(dropout: float = 0.25, classes: int = 10) -> nn.Sequential:
    """The LeNet-style CNN for 8x8 digits: two 3x3 convolutions (32 and 64 channels, padding 1,
    ReLU), a 2x2 max-pooling to 4x4, then FC 128 - ReLU - dropout - FC ``classes``. LeNet's 5x5
    valid convolutions and two poolings would shrink 8x8 to nothing; this keeps LeNet's
    conv-conv-pool-FC-FC shape at the scale of the input."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 4 * 4, 128),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(128, classes),
    )


def model_uses_dropout(model: str, dataset: str) -> bool:
    """Whether ``--dropout`` changes ``model`` on ``dataset`` (the lectures' LeNet and the CIFAR VGG
    and ResNet have no dropout layer)."""
    return model == "mlp" or (model == "lenet" and dataset == "digits")


def build_model(model: str, dataset: str, dropout: float = 0.0) -> nn.Module:
    """The network named ``model`` for ``dataset``'s images (see the module docstring), initialised
    from deepgrad's global generator."""
    channels, size = input_geometry(model, dataset)
    classes = DATASETS[dataset].classes
    if dropout and not model_uses_dropout(model, dataset):
        raise ValueError(
            f"--dropout: the {model} model for {dataset} has no dropout layer (dropout is used by "
            f"mlp, and by lenet on digits)"
        )
    if model == "mlp":
        return nn.Sequential(
            OrderedDict(
                flatten=nn.Flatten(), mlp=MLP([channels * size * size, 256, 128, classes], dropout=dropout)
            )
        )
    if model == "lenet":
        return digits_cnn(dropout, classes) if dataset == "digits" else LeNet(classes, channels, size)
    if model == "vgg":
        return VGG(11, num_classes=classes, batch_norm=True, input_size=32)
    return ResNet(
        BasicBlock, (3, 3, 3), classes, widths=(16, 32, 64), stem="cifar", shortcut="A", in_channels=channels
    )


def first_layer_weight(model: nn.Module) -> dg.Tensor:
    """The weight of the first Conv2d or Linear layer (what ``plot_filters`` draws)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            return m.weight
    raise ValueError("the model has no Conv2d or Linear layer")


# ---------------------------------------------------------------------------- configuration
@dataclass
class ImageConfig:
    """Everything that defines an image-classification run (stored in its checkpoints). ``lr``
    None means the optimizer's default here (SGD 0.05, Adam 1e-3); ``mean``/``std`` None are filled
    by ``resolve``."""

    dataset: str = "digits"
    model: str = "mlp"
    root: str | None = None
    download: bool = False
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 0.0
    dropout: float = 0.0
    augment: bool = False
    scheduler: str = "plateau"
    patience: int = 0
    clip: float | None = None
    val_fraction: float = 0.1
    seed: int = 0
    mean: tuple | None = None
    std: tuple | None = None

    @classmethod
    def from_dict(cls, d: dict) -> "ImageConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def resolve(self) -> "ImageConfig":
        """Check the choices and fill ``lr``, ``mean`` and ``std``; returns self."""
        _check_choice("dataset", self.dataset, DATASETS)
        _check_choice("model", self.model, MODELS)
        _check_choice("optimizer", self.optimizer, ("sgd", "adam"))
        _check_choice("scheduler", self.scheduler, ("none", "plateau", "cosine"))
        if not 0 <= self.dropout < 1:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.lr is None:
            self.lr = 0.05 if self.optimizer == "sgd" else 1e-3
        if self.mean is None or self.std is None:
            self.mean, self.std = normalization(self.dataset, self.root)
        self.mean, self.std = tuple(self.mean), tuple(self.std)
        return self


def make_optimizer(config: ImageConfig, params) -> optim.Optimizer:
    if config.optimizer == "sgd":
        return optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def make_scheduler(config: ImageConfig, optimizer):
    if config.scheduler == "plateau":
        return optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=2)
    if config.scheduler == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(config.epochs, 1))
    return None


def make_loaders(config: ImageConfig, splits) -> tuple[DataLoader, DataLoader, DataLoader]:
    """Shuffled training batches (order drawn from ``Generator().manual_seed(seed)``) and
    sequential validation and test batches."""
    train, val, test = splits
    gen = dg.Generator().manual_seed(config.seed)
    return (
        DataLoader(train, batch_size=config.batch_size, shuffle=True, generator=gen),
        DataLoader(val, batch_size=256),
        DataLoader(test, batch_size=256),
    )


# ---------------------------------------------------------------------------- train, evaluate
def train_images(config: ImageConfig, out: str | Path, progress: bool = True, verbose: bool = True) -> dict:
    """One run: train ``config.epochs`` epochs with validation, checkpoints ``best.ckpt`` (highest
    validation accuracy) and ``last.ckpt`` in ``out``, ``history.csv`` (one row per epoch), and,
    when matplotlib is installed, ``history.png``, ``filters.png``, ``confusion.png`` and
    ``layer_stats.png``. The best checkpoint's weights are then evaluated on the test set.

    Returns ``{"history", "test", "best_epoch", "seconds", "plots"}`` with ``test`` as
    ``evaluate_classifier`` gives it.
    """
    config.resolve()
    out = Path(out)
    splits = load_splits(config)
    train_loader, val_loader, test_loader = make_loaders(config, splits)
    dg.manual_seed(config.seed)
    model = build_model(config.model, config.dataset, config.dropout)
    optimizer = make_optimizer(config, model.parameters())
    checkpoint = ModelCheckpoint(out, monitor="val_accuracy", mode="max")
    callbacks = [checkpoint, CSVLogger(out / "history.csv")]
    if config.patience > 0:
        callbacks.append(EarlyStopping("val_accuracy", mode="max", patience=config.patience))
    trainer = Trainer(
        model,
        optimizer,
        F.cross_entropy,
        scheduler=make_scheduler(config, optimizer),
        callbacks=callbacks,
        clip_grad_norm=config.clip,
        progress=progress,
        verbose=verbose,
        config={"format": FORMAT, **asdict(config)},
    )
    recorder = _layer_stats_recorder(model, len(train_loader))
    start = time.perf_counter()
    try:
        history = trainer.fit(train_loader, val_loader, config.epochs)
    finally:
        if recorder is not None:
            recorder.remove()
    seconds = time.perf_counter() - start
    best_epoch = None
    if checkpoint.best_path is not None:  # None when no epoch had a finite validation accuracy
        best = dg.load(checkpoint.best_path)
        model.load_state_dict(best["model"])
        best_epoch = best["epoch"]
    test = evaluate_classifier(model, test_loader)
    plots = _write_plots(out, model, history, test["confusion"], recorder)
    return {"history": history, "test": test, "best_epoch": best_epoch, "seconds": seconds, "plots": plots}


def _layer_stats_recorder(model: nn.Module, steps_per_epoch: int):
    try:
        from deepgrad.viz.monitor import LayerStatsRecorder
    except ImportError:
        return None
    return LayerStatsRecorder(model, every=max(1, steps_per_epoch // 10))


def _write_plots(out: Path, model: nn.Module, history, confusion: dg.Tensor, recorder) -> list[Path]:
    """The monitoring PNGs, when deepgrad.viz.monitor and matplotlib are available; the filters plot
    shows the first 64 units or filters of the first layer."""
    try:
        import matplotlib  # noqa: F401
        from deepgrad.viz import monitor
    except ImportError:
        return []
    weight = first_layer_weight(model)
    if weight.ndim == 2 and math.isqrt(weight.shape[1]) ** 2 != weight.shape[1]:
        weight = None  # a fully connected layer on colour images: rows are not square grey images
    paths = {
        "history.png": lambda p: monitor.plot_history(history, p),
        "confusion.png": lambda p: monitor.plot_confusion(confusion, p),
    }
    if weight is not None:
        paths["filters.png"] = lambda p: monitor.plot_filters(weight[:64], p)  # an 8x8 grid at most
    if recorder is not None and recorder.steps:
        paths["layer_stats.png"] = recorder.plot
    for name, draw in paths.items():
        draw(out / name)
    return [out / name for name in paths]


@dg.no_grad()
def evaluate_classifier(model: nn.Module, loader) -> dict:
    """Accuracy, zero-one error, confusion matrix (rows true, columns predicted) and sample count of
    ``model`` over ``loader``, in eval mode."""
    was_training = model.training
    model.eval()
    outputs, targets = [], []
    for x, y in loader:
        outputs.append(model(x))
        targets.append(y)
    model.train(was_training)
    output, target = dg.cat(outputs), dg.cat(targets)
    return {
        "accuracy": metrics.accuracy(output, target),
        "zero_one_error": metrics.zero_one_error(output, target),
        "confusion": metrics.confusion_matrix(output, target, num_classes=output.shape[1]),
        "samples": target.shape[0],
    }


def load_classifier(path: str | Path) -> tuple[nn.Module, ImageConfig, dict]:
    """(model in eval mode, its config, the checkpoint dict) from a ``train-images`` checkpoint."""
    ckpt = dg.load(path)
    if not isinstance(ckpt, dict) or ckpt.get("config", {}).get("format") != FORMAT:
        raise ValueError(f"{path}: not an image-classifier checkpoint (written by deepgrad train-images)")
    config = ImageConfig.from_dict(ckpt["config"])
    model = build_model(config.model, config.dataset, config.dropout)
    model.load_state_dict(ckpt["model"])
    return model.eval(), config, ckpt


def format_confusion(matrix: dg.Tensor) -> str:
    """The confusion matrix as text: a header of predicted classes, one row per true class."""
    rows = matrix.tolist()
    width = max(3, len(str(max(max(r) for r in rows))))
    lines = ["true\\pred " + " ".join(f"{j:>{width}}" for j in range(len(rows)))]
    lines += [f"{i:>9} " + " ".join(f"{v:>{width}}" for v in row) for i, row in enumerate(rows)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- hyper-parameter search
@dataclass(frozen=True)
class Range:
    """A search interval: ``log=True`` samples log-uniformly (learning rates, weight decay)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self):
        if not self.low < self.high or (self.log and self.low <= 0):
            raise ValueError(f"Range: need low < high (and low > 0 with log=True), got {self}")

    def sample(self, u: float) -> float:
        """The value at quantile ``u`` in [0, 1)."""
        if self.log:
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)


@dataclass
class Trial:
    number: int
    params: dict
    results: dict


def tune(
    objective: Callable[[dict], dict],
    space: dict[str, Range],
    n_trials: int,
    key: str = "val_accuracy",
    direction: str = "max",
    seed: int = 0,
    sampler: str = "auto",
) -> tuple[list[Trial], str]:
    """Search ``space`` with ``n_trials`` calls of ``objective(params) -> results dict``, judged by
    ``results[key]``. ``sampler``: 'tpe' (Optuna's TPE sampler, seeded), 'random' (independent
    uniform / log-uniform draws from ``Generator().manual_seed(seed)``) or 'auto' (TPE when
    ``import optuna`` works, else random). Returns the trials sorted best first (NaN results last)
    and the sampler used.

    Example::

        trials, used = tune(lambda p: {"val_accuracy": score(p)}, {"lr": Range(1e-4, 1e-1, log=True)}, 20)
    """
    _check_choice("direction", direction, ("max", "min"))
    _check_choice("sampler", sampler, ("auto", "tpe", "random"))
    if sampler == "auto":
        try:
            import optuna  # noqa: F401

            sampler = "tpe"
        except ImportError:
            sampler = "random"
    run = _optuna_search if sampler == "tpe" else _random_search
    trials = run(objective, space, n_trials, key, direction, seed)
    sign = -1 if direction == "max" else 1
    trials.sort(
        key=lambda t: (
            not math.isfinite(t.results[key]),
            sign * t.results[key] if math.isfinite(t.results[key]) else 0.0,
            t.number,
        )
    )
    return trials, sampler


def _random_search(objective, space, n_trials, key, direction, seed) -> list[Trial]:
    gen = dg.Generator().manual_seed(seed)
    trials = []
    for number in range(n_trials):
        draws = dg.rand(len(space), generator=gen, dtype=dg.float64).tolist()
        params = {name: r.sample(u) for (name, r), u in zip(space.items(), draws)}
        trials.append(Trial(number, params, objective(params)))
    return trials


def _optuna_search(objective, space, n_trials, key, direction, seed) -> list[Trial]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if direction == "max" else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
    )
    trials = []

    def wrapped(trial) -> float:
        params = {name: trial.suggest_float(name, r.low, r.high, log=r.log) for name, r in space.items()}
        results = objective(params)
        trials.append(Trial(trial.number, params, results))
        return results[key]

    study.optimize(wrapped, n_trials=n_trials)
    return trials


def format_trials(trials: list[Trial]) -> str:
    """A text table of the trials, one row each in the given order, with a rank column."""
    if not trials:
        return "(no trials)"
    names = list(trials[0].params) + list(trials[0].results)
    header = ["rank", "trial"] + names
    rows = [
        [str(i + 1), str(t.number)] + [_cell({**t.params, **t.results}[n]) for n in names]
        for i, t in enumerate(trials)
    ]
    widths = [max(len(r[c]) for r in rows + [header]) for c in range(len(header))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in [header] + rows)


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.3e}"
    return str(v)


def tune_images(
    config: ImageConfig, n_trials: int, space: dict[str, Range], sampler: str = "auto", verbose: bool = True
) -> tuple[list[Trial], str]:
    """Random (or TPE) search over ``space`` (names among lr, weight_decay, dropout): each trial
    trains ``config`` with those values for ``config.epochs`` epochs and is judged by its last
    epoch's validation accuracy. The data splits and the initial weights' seed are the same for
    every trial."""
    config.resolve()
    unknown = [n for n in space if n not in ("lr", "weight_decay", "dropout")]
    if unknown:
        raise ValueError(f"tune: cannot search {unknown}; the space may hold lr, weight_decay, dropout")
    splits = load_splits(config)

    def objective(params: dict) -> dict:
        trial_config = ImageConfig.from_dict({**asdict(config), **params})
        train_loader, val_loader, _ = make_loaders(trial_config, splits)
        dg.manual_seed(trial_config.seed)
        model = build_model(trial_config.model, trial_config.dataset, trial_config.dropout)
        opt = make_optimizer(trial_config, model.parameters())
        trainer = Trainer(
            model,
            opt,
            F.cross_entropy,
            scheduler=make_scheduler(trial_config, opt),
            progress=False,
            verbose=False,
        )
        start = time.perf_counter()
        history = trainer.fit(train_loader, val_loader, trial_config.epochs)
        results = {
            "val_accuracy": history["val_accuracy"][-1],
            "val_loss": history["val_loss"][-1],
            "seconds": time.perf_counter() - start,
        }
        if verbose:
            print(", ".join(f"{k} {_cell(v)}" for k, v in {**params, **results}.items()), flush=True)
        return results

    return tune(objective, space, n_trials, "val_accuracy", "max", config.seed, sampler)


# ---------------------------------------------------------------------------- command line


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", choices=list(DATASETS))
    p.add_argument("--root", default=None, help="folder of the dataset files (not needed for digits)")
    p.add_argument("--download", action="store_true", help="fetch the dataset files into --root")
    p.add_argument("--model", default="mlp", choices=MODELS)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: SGD 0.05, Adam 1e-3)")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--dropout", type=float, default=0.0, help="used by mlp, and by lenet on digits")
    p.add_argument(
        "--augment", action="store_true", help="random shifts (and flips where they keep the label)"
    )
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of the training set held out")
    p.add_argument("--seed", type=int, default=0)


def _config_from_args(args) -> ImageConfig:
    return ImageConfig(
        dataset=args.dataset,
        model=args.model,
        root=args.root,
        download=args.download,
        epochs=getattr(args, "epochs", 10),
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        dropout=args.dropout,
        augment=args.augment,
        scheduler=getattr(args, "scheduler", "none"),
        patience=getattr(args, "patience", 0),
        clip=getattr(args, "clip", None),
        val_fraction=args.val_fraction,
        seed=args.seed,
    )


def add_parsers(sub) -> None:
    """Register ``train-images``, ``eval``, ``lr-find`` and ``tune`` on an argparse subparsers
    object (``parser.add_subparsers()``); each sets ``func`` to a function of the parsed args
    returning an exit code."""
    p = sub.add_parser(
        "train-images",
        help="train an image classifier (digits, MNIST, CIFAR-10...)",
        description="Train an image classifier with validation, checkpoints (best.ckpt, "
        "last.ckpt), a history CSV and monitoring plots in --out; prints one "
        "line per epoch and the test accuracy of the best checkpoint.",
    )
    _add_data_args(p)
    p.add_argument("--epochs", type=positive_int, default=10)
    p.add_argument(
        "--scheduler",
        default="plateau",
        choices=["none", "plateau", "cosine"],
        help="plateau: halve the rate after 2 epochs without a lower validation loss",
    )
    p.add_argument("--patience", type=int, default=0, help="early stopping patience in epochs (0: off)")
    p.add_argument("--clip", type=float, default=None, help="clip the gradient norm to this value")
    p.add_argument("--out", default="runs/images", help="run directory")
    p.add_argument("--no-progress", action="store_true", help="no per-step progress bar")
    p.set_defaults(func=_cmd_train_images)

    p = sub.add_parser(
        "eval",
        help="evaluate an image-classifier checkpoint",
        description="Accuracy, zero-one error and confusion matrix of a train-images "
        "checkpoint on a dataset's test split (by default the one it was "
        "trained on).",
    )
    p.add_argument("checkpoint")
    p.add_argument("--dataset", default=None, choices=list(DATASETS), help="default: the checkpoint's")
    p.add_argument("--root", default=None, help="default: the checkpoint's")
    p.add_argument("--split", default="test", choices=["test", "train"])
    p.add_argument("--plot", default=None, help="also write the confusion matrix as a PNG here")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser(
        "lr-find",
        help="learning-rate range test",
        description="Train one pass with an exponentially growing learning rate and report "
        "the loss against the rate; the suggestion is the steepest descent "
        "point of the smoothed curve (or the minimum's rate / 10). The model "
        "is restored afterwards.",
    )
    _add_data_args(p)
    p.add_argument("--start-lr", type=float, default=1e-6)
    p.add_argument("--end-lr", type=float, default=10.0)
    p.add_argument(
        "--steps", type=positive_int, default=None, help="default: one pass over the training set"
    )
    p.add_argument("--out", default="lr_find.png", help="plot of loss against learning rate")
    p.set_defaults(func=_cmd_lr_find)

    p = sub.add_parser(
        "tune",
        help="random search over learning rate, weight decay and dropout",
        description="Each trial trains --epochs epochs with a learning rate (log-uniform), "
        "weight decay (log-uniform) and dropout (uniform) drawn from the "
        "ranges; prints the trials sorted by validation accuracy. Uses "
        "Optuna's TPE sampler when Optuna is installed.",
    )
    _add_data_args(p)
    p.add_argument("--trials", type=positive_int, default=10)
    p.add_argument("--epochs", type=positive_int, default=3)
    p.add_argument("--lr-range", type=float, nargs=2, default=[1e-3, 0.3], metavar=("LOW", "HIGH"))
    p.add_argument("--wd-range", type=float, nargs=2, default=[1e-6, 1e-2], metavar=("LOW", "HIGH"))
    p.add_argument("--dropout-range", type=float, nargs=2, default=[0.0, 0.5], metavar=("LOW", "HIGH"))
    p.add_argument("--sampler", default="auto", choices=["auto", "tpe", "random"])
    p.add_argument("--out", default=None, help="also write the table as CSV here")
    p.set_defaults(func=_cmd_tune)


def _cmd_train_images(args) -> int:
    config = _config_from_args(args).resolve()
    print(
        f"training {config.model} on {config.dataset} for {config.epochs} epochs "
        f"({config.optimizer}, lr {config.lr:g}); run directory {args.out}",
        flush=True,
    )
    result = train_images(config, args.out, progress=not args.no_progress)
    test = result["test"]
    print(
        f"best epoch {result['best_epoch']} (validation accuracy); test accuracy {test['accuracy']:.4f} "
        f"({test['samples']} images), zero-one error {test['zero_one_error']:.4f}; "
        f"training took {result['seconds']:.1f} s"
    )
    print(
        "wrote "
        + ", ".join(
            str(p)
            for p in [Path(args.out) / n for n in ("best.ckpt", "last.ckpt", "history.csv")] + result["plots"]
        )
    )
    return 0


def _cmd_eval(args) -> int:
    model, config, ckpt = load_classifier(args.checkpoint)
    if args.dataset is not None:
        config.dataset = args.dataset
    if args.root is not None:
        config.root = args.root
    channels, size = input_geometry(config.model, config.dataset)
    transform = image_transform(config.dataset, config.model, config.mean, config.std, augment=False)
    data = _base_dataset(config.dataset, config.root, args.split == "train", size, transform, False)
    result = evaluate_classifier(model, DataLoader(data, batch_size=256))
    print(
        f"{args.checkpoint}: {config.model} trained {ckpt['epoch']} epochs on {ckpt['config']['dataset']}; "
        f"{config.dataset} {args.split} split, {result['samples']} images"
    )
    print(f"accuracy {result['accuracy']:.4f}   zero-one error {result['zero_one_error']:.4f}")
    print("confusion matrix (rows: true class, columns: predicted class)")
    print(format_confusion(result["confusion"]))
    if args.plot:
        from deepgrad.viz.monitor import plot_confusion

        plot_confusion(result["confusion"], args.plot)
        print(f"wrote {args.plot}")
    return 0


def _cmd_lr_find(args) -> int:
    config = _config_from_args(args).resolve()
    train_loader, _, _ = make_loaders(config, load_splits(config))
    dg.manual_seed(config.seed)
    model = build_model(config.model, config.dataset, config.dropout)
    optimizer = make_optimizer(config, model.parameters())
    result = lr_find(model, optimizer, F.cross_entropy, train_loader, args.start_lr, args.end_lr, args.steps)
    print(f"{len(result.lrs)} steps from lr {result.lrs[0]:.3g} to {result.lrs[-1]:.3g}")
    steepest = f"{result.steepest_lr:.3g}" if result.steepest_lr is not None else "none"
    print(
        f"lowest loss at lr {result.min_loss_lr:.3g} (/10: {result.min_loss_lr / 10:.3g}); steepest descent "
        f"at lr {steepest}"
    )
    print(f"suggested learning rate: {result.suggestion:.3g}")
    try:
        from deepgrad.viz.monitor import plot_lr_find
    except ImportError:
        return 0
    plot_lr_find(result.lrs, result.losses, args.out, suggestion=result.suggestion)
    print(f"wrote {args.out}")
    return 0


def _cmd_tune(args) -> int:
    config = _config_from_args(args).resolve()
    space = {"lr": Range(*args.lr_range, log=True), "weight_decay": Range(*args.wd_range, log=True)}
    if model_uses_dropout(config.model, config.dataset):
        space["dropout"] = Range(*args.dropout_range)
    trials, used = tune_images(config, args.trials, space, args.sampler)
    print(
        f"{len(trials)} trials ({'Optuna TPE' if used == 'tpe' else 'random search'}), "
        f"{config.epochs} epochs each, sorted by validation accuracy:"
    )
    table = format_trials(trials)
    print(table)
    if args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            names = list(trials[0].params) + list(trials[0].results)
            writer.writerow(["rank", "trial"] + names)
            for i, t in enumerate(trials):
                writer.writerow([i + 1, t.number] + [{**t.params, **t.results}[n] for n in names])
        print(f"wrote {args.out}")
    return 0
