"""The auto-encoder of the lectures: a network trained to reproduce its input through a narrow code,
with the loss L = ||f(x) - x||^2."""
from __future__ import annotations

from collections.abc import Sequence

from deepgrad import Tensor, nn

from .mlp import MLP, ActivationSpec, activation_factory, check_sizes, make_activation

__all__ = ["Autoencoder"]


class Autoencoder(nn.Module):
    """Fully connected auto-encoder: ``encoder = MLP(sizes)`` maps ``sizes[0]`` inputs to a
    ``sizes[-1]``-dimensional code and ``decoder = MLP(reversed(sizes))`` maps the code back; the
    activation sits between hidden layers of each, the code and the reconstruction are linear
    (``output_activation``, e.g. 'sigmoid' for pixels in [0, 1], is appended to the decoder).

    The lectures write the one-hidden-layer case as f(x) = sigma(W_2 sigma(W_1 x)) trained on
    L = ||f(x) - x||^2, and note that with sigma = I the network performs an SVD of the data
    X = U Sigma V^*: a linear auto-encoder (``activation='identity'``) trained on squared error
    learns a code whose decoder columns span the top principal subspace of the (centred) data, the
    span of the first ``sizes[-1]`` right singular vectors (the biases absorb the mean).

    State-dict keys are 'encoder.0.weight', ..., 'decoder.0.weight', ... as PyTorch gives
    ``encoder``/``decoder`` Sequentials of the same layers.

    Example::

        ae = Autoencoder([784, 128, 32], activation="relu", output_activation="sigmoid")
        code = ae.encode(x)            # (N, 32)
        loss = F.mse_loss(ae(x), x)    # ae(x) == ae.decode(ae.encode(x))
    """

    def __init__(self, sizes: Sequence[int], activation: ActivationSpec = "relu",
                 output_activation: ActivationSpec = None):
        super().__init__()
        sizes = check_sizes(sizes, "Autoencoder")
        activation_factory(activation, "Autoencoder")
        output_factory = activation_factory(output_activation, "Autoencoder")
        self.encoder = MLP(sizes, activation)
        self.decoder = MLP(sizes[::-1], activation)
        if output_factory is not None:
            self.decoder.append(make_activation(output_factory, "Autoencoder"))
        self.sizes = sizes

    def encode(self, x: Tensor) -> Tensor:
        """The code of ``x``: (..., sizes[0]) -> (..., sizes[-1])."""
        if x.ndim == 0 or x.shape[-1] != self.sizes[0]:
            raise ValueError(f"Autoencoder.encode: expected inputs with {self.sizes[0]} features in the last "
                             f"dim, got shape {tuple(x.shape)}")
        return self.encoder(x)

    def decode(self, code: Tensor) -> Tensor:
        """The reconstruction from a code: (..., sizes[-1]) -> (..., sizes[0])."""
        if code.ndim == 0 or code.shape[-1] != self.sizes[-1]:
            raise ValueError(f"Autoencoder.decode: expected codes with {self.sizes[-1]} features in the last "
                             f"dim, got shape {tuple(code.shape)}")
        return self.decoder(code)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}"
