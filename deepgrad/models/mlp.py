"""The multi-layer perceptron: fully connected layers with a nonlinearity between them.

    f(x) = W_L sigma(... sigma(W_2 sigma(W_1 x + b_1) + b_2) ...) + b_L
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Callable, Union

from deepgrad import nn

__all__ = ["MLP"]

ActivationSpec = Union[str, Callable[[], nn.Module], None]

# activation names accepted by MLP and Autoencoder -> the deepgrad.nn module class
ACTIVATIONS: dict[str, type] = {
    "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU, "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid, "softplus": nn.Softplus,
}


def activation_factory(activation: ActivationSpec, owner: str) -> Callable[[], nn.Module] | None:
    """What builds one activation module: a class from ``ACTIVATIONS`` for a name, the given module
    class (or any zero-argument callable returning a Module, e.g. ``functools.partial(nn.LeakyReLU,
    0.2)``) unchanged, or None for the identity ('identity' or None)."""
    if activation is None or activation == "identity":
        return None
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"{owner}: unknown activation {activation!r}; use one of "
                             f"{', '.join(map(repr, ACTIVATIONS))}, 'identity' (or None), "
                             "or an nn.Module class")
        return ACTIVATIONS[activation]
    if isinstance(activation, nn.Module):
        raise TypeError(f"{owner}: activation must be a name or a module class (e.g. nn.ReLU), got the "
                        f"instance {activation!r}; pass {type(activation).__name__} itself")
    if not callable(activation):
        raise TypeError(f"{owner}: activation must be a name, a module class or None, got "
                        f"{type(activation).__name__}")
    return activation


def make_activation(factory: Callable[[], nn.Module], owner: str) -> nn.Module:
    """Call ``factory`` and check that it built an ``nn.Module``."""
    module = factory()
    if not isinstance(module, nn.Module):
        raise TypeError(f"{owner}: the activation factory {factory!r} returned a "
                        f"{type(module).__name__}, not an nn.Module")
    return module


def check_sizes(sizes: Sequence[int], owner: str) -> list[int]:
    """``sizes`` as a list of at least two positive ints, or a ValueError naming ``owner``."""
    sizes = list(sizes)
    if len(sizes) < 2 or any(not isinstance(n, int) or isinstance(n, bool) or n <= 0 for n in sizes):
        raise ValueError(f"{owner}: sizes must be at least two positive ints (input, ..., output), got "
                         f"{sizes}")
    return sizes


class MLP(nn.Sequential):
    """Multi-layer perceptron: ``Linear(sizes[i], sizes[i + 1])`` for each consecutive pair, each
    hidden layer followed by the activation and then, when ``dropout > 0``, ``Dropout(dropout)``;
    nothing follows the last Linear (it gives logits or regression outputs).

    It is an ``nn.Sequential``, so its state-dict keys are PyTorch's for the same stack:
    ``MLP([4, 8, 3])`` has the keys of ``torch.nn.Sequential(Linear(4, 8), ReLU(), Linear(8, 3))``
    ('0.weight', '0.bias', '2.weight', '2.bias'); with ``activation='identity'`` (or None) no
    activation modules are inserted.

    Args:
        sizes: layer widths, input first: ``[in, hidden_1, ..., out]`` (at least two).
        activation: 'relu', 'leaky_relu', 'elu', 'gelu', 'tanh', 'sigmoid', 'softplus',
            'identity'/None, or an ``nn.Module`` class (or zero-argument factory) built once per layer.
        dropout: dropout probability after each hidden activation (0 inserts no Dropout).

    Example::

        net = MLP([784, 256, 10], activation="relu", dropout=0.2)
        logits = net(deepgrad.randn(32, 784))   # (32, 10)
    """

    def __init__(self, sizes: Sequence[int], activation: ActivationSpec = "relu", dropout: float = 0.0):
        sizes = check_sizes(sizes, "MLP")
        factory = activation_factory(activation, "MLP")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i == len(sizes) - 2:
                break
            if factory is not None:
                layers.append(make_activation(factory, "MLP"))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        super().__init__(*layers)
        self.sizes = sizes

    def __getitem__(self, idx):
        # a slice is a plain Sequential (an MLP cannot be rebuilt from a subset of its modules)
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self.named_children())[idx]))
        return super().__getitem__(idx)
