"""Recurrent layers and cells: RNN, LSTM, GRU (PyTorch's API, parameter names, gate order and
initialisation, so state_dicts interchange) and the lecture variants MUT1, MUT2, MUT3 (Jozefowicz,
Zaremba & Sutskever, 2015), the peephole LSTM (Gers & Schmidhuber, 2000) and the coupled-gate LSTM.

Every layer class is ``RNNBase`` with a mode that names its cell; the multi-layer, bidirectional,
batch_first, dropout and initial-state machinery is shared. RNN, LSTM and GRU layers run each layer
and direction as one fused graph node (``deepgrad.ops.recurrent``); the variants step their cell
function, composed from differentiable ops, through time. The cell equations are in the docstrings
of the cell functions in ``deepgrad.ops.recurrent`` (``lstm_cell``, ``mut1_cell``...).

Truncated backpropagation through time: carry the final state of one chunk into the next with
``detach_state`` so the graph (and memory) does not grow with the length of the stream::

    state = None
    for x, y in chunks:
        out, state = lstm(x, state)
        loss = loss_fn(head(out), y)
        loss.backward()
        state = detach_state(state)
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import partial
from typing import Callable

from .. import creation
from ..ops import recurrent as R
from ..ops import shape as S
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "MUT1", "MUT2", "MUT3", "PeepholeLSTM", "CoupledLSTM",
           "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "MUT1Cell", "MUT2Cell", "MUT3Cell",
           "PeepholeLSTMCell", "CoupledLSTMCell", "init_forget_bias_", "detach_state"]


@dataclass(frozen=True)
class _Kind:
    """What distinguishes one recurrent cell type from another."""

    name: str
    gates_ih: int  # weight_ih has gates_ih * H rows, bias_ih as many entries
    gates_hh: int
    cell: Callable  # one step: cell(x, state, w_ih, w_hh, b_ih, b_hh, *extras) -> state
    fused: Callable | None = None  # a whole layer as one node: fused(x, hx, w_ih, ..., reverse=)
    has_cell_state: bool = False  # the state is (h, c) rather than h
    forget_gate: int | None = None  # block of the forget gate in bias_ih and bias_hh
    extras: tuple = ()  # (name, gates): more weights of shape (gates * H,) after the biases
    square: bool = False  # x_t is added to hidden-size vectors: input size must equal hidden size


_KINDS = {
    "RNN_TANH": _Kind("RNN", 1, 1, R.rnn_tanh_cell, fused=partial(R.rnn_layer, nonlinearity="tanh")),
    "RNN_RELU": _Kind("RNN", 1, 1, R.rnn_relu_cell, fused=partial(R.rnn_layer, nonlinearity="relu")),
    "LSTM": _Kind("LSTM", 4, 4, R.lstm_cell, fused=R.lstm_layer, has_cell_state=True, forget_gate=1),
    "GRU": _Kind("GRU", 3, 3, R.gru_cell, fused=R.gru_layer),
    "MUT1": _Kind("MUT1", 2, 2, R.mut1_cell, square=True),
    "MUT2": _Kind("MUT2", 2, 3, R.mut2_cell, square=True),
    "MUT3": _Kind("MUT3", 3, 3, R.mut3_cell),
    "PEEPHOLE_LSTM": _Kind("PeepholeLSTM", 4, 4, R.peephole_lstm_cell, has_cell_state=True, forget_gate=1,
                           extras=(("weight_ch", 3),)),
    "COUPLED_LSTM": _Kind("CoupledLSTM", 3, 3, R.coupled_lstm_cell, has_cell_state=True, forget_gate=0),
}


def _kind(mode: str) -> _Kind:
    try:
        return _KINDS[mode.upper()]
    except (KeyError, AttributeError):
        raise ValueError(f"unknown recurrent mode {mode!r}; expected one of {sorted(_KINDS)}") from None


def _check_sizes(owner: str, input_size: int, hidden_size: int, kind: _Kind) -> None:
    if not isinstance(hidden_size, int) or hidden_size <= 0:
        raise ValueError(f"{owner}: hidden_size must be an integer greater than zero, got {hidden_size!r}")
    if not isinstance(input_size, int) or input_size < 0:
        raise ValueError(f"{owner}: input_size must be a non-negative integer, got {input_size!r}")
    if kind.square and input_size != hidden_size:
        raise ValueError(f"{owner}: the {kind.name} equations add x_t to hidden-size vectors, so every "
                         f"layer's input size must equal hidden_size; got input size {input_size} and "
                         f"hidden_size {hidden_size} (bidirectional layers above the first see 2 * "
                         f"hidden_size inputs)")


class _Recurrent(Module):
    """Parameter creation and PyTorch's initialisation, shared by layers and cells."""

    def _add_weights(self, kind: _Kind, input_size: int, suffix: str, device, dtype) -> None:
        h = self.hidden_size
        shapes = [("weight_ih", (kind.gates_ih * h, input_size)), ("weight_hh", (kind.gates_hh * h, h))]
        if self.bias:
            shapes += [("bias_ih", (kind.gates_ih * h,)), ("bias_hh", (kind.gates_hh * h,))]
        shapes += [(name, (gates * h,)) for name, gates in kind.extras]
        for name, shape in shapes:
            setattr(self, name + suffix, Parameter(creation.empty(*shape, device=device, dtype=dtype)))

    def _weights(self, suffix: str) -> tuple:
        """(w_ih, w_hh, b_ih, b_hh, *extras) of one layer and direction (biases None without bias)."""
        p = self._parameters
        b_ih, b_hh = (p["bias_ih" + suffix], p["bias_hh" + suffix]) if self.bias else (None, None)
        extras = tuple(p[name + suffix] for name, _ in self._kind.extras)
        return (p["weight_ih" + suffix], p["weight_hh" + suffix], b_ih, b_hh) + extras

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch; then the
        forget-gate bias, if the module was built with ``forget_bias``."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)
        if self.forget_bias is not None:
            init_forget_bias_(self, self.forget_bias)

    def _zeros(self, batch: int, dtype) -> tuple:
        count = 2 if self._kind.has_cell_state else 1
        return tuple(creation.zeros(batch, self.hidden_size, dtype=dtype) for _ in range(count))

    def _check_dtype(self, input: Tensor) -> None:
        w = self._parameters[next(iter(self._parameters))]
        if input.dtype != w.dtype:
            raise ValueError(f"{type(self).__name__}: input dtype ({input.dtype}) does not match weight "
                             f"dtype ({w.dtype}). Convert the input: input.to({w.dtype}), or the model: "
                             f"model.to({input.dtype})")


def _state_tuple(owner: str, kind: _Kind, hx) -> tuple | None:
    """``hx`` as a tuple of tensors: (h,) or (h, c)."""
    if hx is None:
        return None
    if kind.has_cell_state:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{owner}: expected hx to be a tuple (h_0, c_0), got {type(hx).__name__}")
        return tuple(hx)
    if not isinstance(hx, Tensor):
        raise TypeError(f"{owner}: expected hx to be a Tensor, got {type(hx).__name__}")
    return (hx,)


class RNNBase(_Recurrent):
    """A multi-layer recurrent network whose cell is named by ``mode``: 'RNN_TANH', 'RNN_RELU',
    'LSTM', 'GRU', 'MUT1', 'MUT2', 'MUT3', 'PEEPHOLE_LSTM' or 'COUPLED_LSTM' (the classes RNN,
    LSTM, GRU, MUT1, ... fix it).

    Shapes as PyTorch: input (T, B, input_size), or (B, T, input_size) with ``batch_first``, or
    unbatched (T, input_size). The initial state h_0 (and c_0 for the LSTM kinds) has shape
    (num_layers * D, B, hidden_size), D = 2 if ``bidirectional`` else 1, zeros if not given. Returns
    (output (T, B, D * hidden_size), h_n) or (output, (h_n, c_n)). ``dropout`` is applied to the
    outputs of every layer but the last, in training mode only. Parameters per layer k and
    direction: weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} (suffix ``_reverse`` for
    the backward direction), as PyTorch; the peephole LSTM adds weight_ch_l{k}. ``forget_bias``, for
    the LSTM kinds, sets the forget-gate bias after initialisation (see ``init_forget_bias_``).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, forget_bias: float | None = None):
        super().__init__()
        kind = _kind(mode)
        owner = kind.name
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"{owner}: num_layers must be an integer greater than zero, got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{owner}: dropout should be a number in range [0, 1] representing the "
                             f"probability of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{owner}: dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got dropout={dropout} "
                          f"and num_layers={num_layers}", stacklevel=3)
        _check_forget_bias(owner, kind, forget_bias)
        self.mode, self._kind = mode.upper(), kind
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.forget_bias = bidirectional, forget_bias
        directions = 2 if bidirectional else 1
        self._suffixes = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            _check_sizes(owner, layer_input, hidden_size, kind)
            for d in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                self._add_weights(kind, layer_input, suffix, device, dtype)
                self._suffixes.append(suffix)
        self._flat_weights_names = list(self._parameters)
        self.reset_parameters()

    @property
    def all_weights(self) -> list:
        """The parameters grouped per layer and direction, as PyTorch's ``all_weights``."""
        return [[w for w in self._weights(s) if w is not None] for s in self._suffixes]

    def forward(self, input: Tensor, hx=None):
        kind, owner = self._kind, self._kind.name
        if not isinstance(input, Tensor) or input.ndim not in (2, 3):
            got = f"{input.ndim}D" if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{owner}: Expected input to be 2D or 3D, got {got} instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{owner}: input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]} (input shape {tuple(input.shape)})")
        self._check_dtype(input)
        batched = input.ndim == 3
        state = _state_tuple(owner, kind, hx)
        if not batched:
            if state is not None and any(s.ndim != 2 for s in state):
                dims = ", ".join(f"{s.ndim}-D" for s in state)
                raise RuntimeError(f"{owner}: for unbatched 2-D input, hx should also be 2-D but got "
                                   f"({dims})")
            input = S.unsqueeze(input, 1)
            state = None if state is None else tuple(S.unsqueeze(s, 1) for s in state)
        elif self.batch_first:
            input = S.transpose(input, 0, 1)
        steps, batch = input.shape[:2]
        if steps == 0:
            raise RuntimeError(f"{owner}: expected sequence length to be larger than 0, got input of shape "
                               f"{tuple(input.shape)}")
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions, batch, self.hidden_size)
        for k, s in enumerate(state or ()):
            if tuple(s.shape) != expected:
                raise RuntimeError(f"{owner}: Expected hidden[{k}] size {expected}, got {list(s.shape)}")
            if s.dtype != input.dtype:
                raise ValueError(f"{owner}: hx dtype ({s.dtype}) does not match input dtype ({input.dtype})")
        finals = []
        x = input
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                index = layer * directions + d
                init_state = None if state is None else tuple(s[index] for s in state)
                out, final = self._run_layer(x, init_state, self._suffixes[index], bool(d))
                outs.append(out)
                finals.append(final)
            x = S.cat(outs, 2) if directions == 2 else outs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        result = [S.stack([f[k] for f in finals], 0) for k in range(len(finals[0]))]
        if not batched:
            x = S.squeeze(x, 1)
            result = [S.squeeze(r, 1) for r in result]
        elif self.batch_first:
            x = S.transpose(x, 0, 1)
        return x, (tuple(result) if kind.has_cell_state else result[0])

    def _run_layer(self, x: Tensor, state: tuple | None, suffix: str, reverse: bool):
        """One layer in one direction: (output (T, B, H), final state tuple)."""
        kind, weights = self._kind, self._weights(suffix)
        if kind.fused is not None:
            hx = state if state is None or kind.has_cell_state else state[0]
            out, final = kind.fused(x, hx, *weights, reverse=reverse)
        else:
            if state is None:
                state = self._zeros(x.shape[1], x.dtype)
            hx = state if kind.has_cell_state else state[0]
            out, final = R.recurrent_layer(kind.cell, x, hx, *weights, reverse=reverse)
        return out, (final if kind.has_cell_state else (final,))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        if self.forget_bias is not None:
            s += f", forget_bias={self.forget_bias}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or relu), stacked
    ``num_layers`` deep. Returns (output, h_n). See ``RNNBase`` for shapes and options.

    Example::

        rnn = nn.RNN(10, 20, num_layers=2)
        output, h_n = rnn(deepgrad.randn(5, 3, 10))   # (5, 3, 20), (2, 3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, device, dtype)
        self.nonlinearity = nonlinearity


class _Layer(RNNBase):
    """A layer class that fixes the mode (``_mode``); PyTorch's LSTM/GRU constructor."""

    _mode = ""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, forget_bias: float | None = None):
        super().__init__(self._mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, forget_bias=forget_bias)


class LSTM(_Layer):
    """Long short-term memory, PyTorch's equations and gate order (i, f, g, o), one fused graph
    node per layer and direction (see ``LSTMCell`` for the equations, ``RNNBase`` for shapes and
    options). Returns (output, (h_n, c_n)).

    ``forget_bias``: if given, the forget-gate bias is set so that bias_ih + bias_hh equals it (e.g.
    1.0, Jozefowicz et al. 2015); PyTorch's initialisation otherwise.

    Example::

        lstm = nn.LSTM(10, 20, num_layers=2, batch_first=True)
        output, (h_n, c_n) = lstm(deepgrad.randn(3, 5, 10))   # (3, 5, 20), (2, 3, 20), (2, 3, 20)
    """

    _mode = "LSTM"


class GRU(_Layer):
    """Gated recurrent unit, PyTorch's equations and gate order (r, z, n), one fused graph node per
    layer and direction (see ``GRUCell``, ``RNNBase``). Returns (output, h_n).

    Example::

        gru = nn.GRU(10, 20, bidirectional=True)
        output, h_n = gru(deepgrad.randn(5, 3, 10))   # (5, 3, 40), (2, 3, 20)
    """

    _mode = "GRU"


class MUT1(_Layer):
    """Multi-layer MUT1 (see ``MUT1Cell`` for the equations, ``RNNBase`` for shapes and options);
    every layer's input size must equal hidden_size. Returns (output, h_n)."""

    _mode = "MUT1"


class MUT2(_Layer):
    """Multi-layer MUT2 (see ``MUT2Cell``, ``RNNBase``); every layer's input size must equal
    hidden_size. Returns (output, h_n)."""

    _mode = "MUT2"


class MUT3(_Layer):
    """Multi-layer MUT3 (see ``MUT3Cell``, ``RNNBase``). Returns (output, h_n)."""

    _mode = "MUT3"


class PeepholeLSTM(_Layer):
    """Multi-layer peephole LSTM (see ``PeepholeLSTMCell``, ``RNNBase``); parameters as LSTM's plus
    weight_ch_l{k}. ``forget_bias`` as in ``LSTM``. Returns (output, (h_n, c_n))."""

    _mode = "PEEPHOLE_LSTM"


class CoupledLSTM(_Layer):
    """Multi-layer coupled-gate LSTM (see ``CoupledLSTMCell``, ``RNNBase``). ``forget_bias`` as in
    ``LSTM``. Returns (output, (h_n, c_n))."""

    _mode = "COUPLED_LSTM"


# ---------------------------------------------------------------------------- cells
class RNNCellBase(_Recurrent):
    """One time step of the cell named by ``mode`` (see ``RNNBase``), with parameters weight_ih,
    weight_hh, bias_ih, bias_hh (and weight_ch for the peephole LSTM), as PyTorch's cells.

    Input (B, input_size) or unbatched (input_size,); state h (B, hidden_size), or (h, c) for the
    LSTM kinds, zeros if not given. Returns the new state.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None, *, forget_bias: float | None = None):
        super().__init__()
        kind = _kind(mode)
        owner = kind.name + "Cell"
        _check_sizes(owner, input_size, hidden_size, kind)
        _check_forget_bias(owner, kind, forget_bias)
        self._kind, self.input_size, self.hidden_size = kind, input_size, hidden_size
        self.bias, self.forget_bias = bias, forget_bias
        self._add_weights(kind, input_size, "", device, dtype)
        self.reset_parameters()

    def forward(self, input: Tensor, hx=None):
        kind, owner = self._kind, type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in (1, 2):
            got = f"{input.ndim}D" if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{owner}: Expected input to be 1D or 2D, got {got} instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{owner}: input has inconsistent input_size: got {input.shape[-1]} expected "
                               f"{self.input_size} (input shape {tuple(input.shape)})")
        self._check_dtype(input)
        state = _state_tuple(owner, kind, hx)
        batched = input.ndim == 2
        if not batched:
            input = S.unsqueeze(input, 0)
            state = None if state is None else tuple(S.unsqueeze(s, 0) for s in state)
        batch = input.shape[0]
        if state is None:
            state = self._zeros(batch, input.dtype)
        for k, s in enumerate(state):
            if s.ndim != 2 or s.shape[0] != batch:
                raise RuntimeError(f"{owner}: Input batch size {batch} doesn't match hidden{k} of shape "
                                   f"{tuple(s.shape)}")
            if s.shape[1] != self.hidden_size:
                raise RuntimeError(f"{owner}: hidden{k} has inconsistent hidden_size: got {s.shape[1]}, "
                                   f"expected {self.hidden_size}")
            if s.dtype != input.dtype:
                raise ValueError(f"{owner}: hx dtype ({s.dtype}) does not match input dtype ({input.dtype})")
        out = kind.cell(input, state if kind.has_cell_state else state[0], *self._weights(""))
        if not batched:
            out = tuple(S.squeeze(o, 0) for o in out) if kind.has_cell_state else S.squeeze(out, 0)
        return out

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        if self.forget_bias is not None:
            s += f", forget_bias={self.forget_bias}"
        return s


class RNNCell(RNNCellBase):
    """One Elman step: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu).

    Example::

        cell = nn.RNNCell(10, 20)
        h = cell(deepgrad.randn(3, 10))          # (3, 20)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity


class _Cell(RNNCellBase):
    """A cell class that fixes the mode (``_mode``); PyTorch's LSTMCell/GRUCell constructor."""

    _mode = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None, *,
                 forget_bias: float | None = None):
        super().__init__(self._mode, input_size, hidden_size, bias, device, dtype, forget_bias=forget_bias)


class LSTMCell(_Cell):
    """One LSTM step, PyTorch's equations; weight rows in blocks (i, f, g, o)::

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)    f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)       o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g                            h' = o * tanh(c')

    Returns (h', c'). ``forget_bias`` as in ``LSTM``.

    Example::

        cell = nn.LSTMCell(10, 20)
        h, c = cell(deepgrad.randn(3, 10))       # zeros initial state
        h, c = cell(deepgrad.randn(3, 10), (h, c))
    """

    _mode = "LSTM"


class GRUCell(_Cell):
    """One GRU step, PyTorch's equations; weight rows in blocks (r, z, n)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))  h' = (1 - z) * n + z * h

    Example::

        cell = nn.GRUCell(10, 20)
        h = cell(deepgrad.randn(3, 10))
    """

    _mode = "GRU"


class MUT1Cell(_Cell):
    """One step of MUT1 (Jozefowicz, Zaremba & Sutskever, 2015); input_size must equal hidden_size::

        z  = sigmoid(W_xz x + b_z)
        r  = sigmoid(W_xr x + W_hr h + b_r)
        h' = tanh(W_hh (r * h) + tanh(x) + b_h) * z + h * (1 - z)

    Parameters: weight_ih (2H, H) rows (z, r); weight_hh (2H, H) rows (r, h); bias_ih (b_z, b_r'),
    bias_hh (b_r'', b_h), with b_r = b_r' + b_r'' (PyTorch's two-bias convention).
    """

    _mode = "MUT1"


class MUT2Cell(_Cell):
    """One step of MUT2 (Jozefowicz, Zaremba & Sutskever, 2015); input_size must equal hidden_size::

        z  = sigmoid(W_xz x + W_hz h + b_z)
        r  = sigmoid(x + W_hr h + b_r)
        h' = tanh(W_hh (r * h) + W_xh x + b_h) * z + h * (1 - z)

    Parameters: weight_ih (2H, H) rows (z, h); weight_hh (3H, H) rows (z, r, h); bias_ih (z, h),
    bias_hh (z, r, h), summed where a gate has both.
    """

    _mode = "MUT2"


class MUT3Cell(_Cell):
    """One step of MUT3 (Jozefowicz, Zaremba & Sutskever, 2015)::

        z  = sigmoid(W_xz x + W_hz tanh(h) + b_z)
        r  = sigmoid(W_xr x + W_hr h + b_r)
        h' = tanh(W_hh (r * h) + W_xh x + b_h) * z + h * (1 - z)

    Parameters: weight_ih (3H, in) and weight_hh (3H, H) rows (z, r, h); bias_ih and bias_hh
    (z, r, h), summed per gate.
    """

    _mode = "MUT3"


class PeepholeLSTMCell(_Cell):
    """One step of the peephole LSTM (Gers & Schmidhuber, 2000): the gates also look at the cell
    through one peephole weight per cell unit (weight_ch, blocks p_i, p_f, p_o); the input and
    forget gates see c_{t-1}, the output gate sees the new c_t::

        i  = sigmoid(W_ii x + W_hi h + p_i * c + b_i)   f = sigmoid(W_if x + W_hf h + p_f * c + b_f)
        g  = tanh(W_ig x + W_hg h + b_g)                c' = f * c + i * g
        o  = sigmoid(W_io x + W_ho h + p_o * c' + b_o)  h' = o * tanh(c')

    Parameters: as LSTMCell (rows i, f, g, o) plus weight_ch (3H,) in blocks (i, f, o). Returns
    (h', c'). ``forget_bias`` as in ``LSTM``.
    """

    _mode = "PEEPHOLE_LSTM"


class CoupledLSTMCell(_Cell):
    """One step of the LSTM with coupled forget and input gates (input gate = 1 - f)::

        f = sigmoid(W_if x + W_hf h + b_f)   g = tanh(W_ig x + W_hg h + b_g)
        o = sigmoid(W_io x + W_ho h + b_o)
        c' = f * c + (1 - f) * g             h' = o * tanh(c')

    Parameters: weight_ih (3H, in), weight_hh (3H, H), bias_ih, bias_hh in blocks (f, g, o).
    Returns (h', c'). ``forget_bias`` as in ``LSTM``.
    """

    _mode = "COUPLED_LSTM"


# ---------------------------------------------------------------------------- helpers
def _check_forget_bias(owner: str, kind: _Kind, forget_bias) -> None:
    if forget_bias is not None and kind.forget_gate is None:
        raise ValueError(f"{owner}: forget_bias applies to the LSTM kinds only ({kind.name} has no "
                         f"forget gate)")


def init_forget_bias_(module: Module, value: float = 1.0) -> Module:
    """Set the forget-gate bias of every LSTM-kind layer or cell in ``module`` (LSTM, LSTMCell,
    PeepholeLSTM(Cell), CoupledLSTM(Cell)) so that the gate's total bias is ``value``: with
    PyTorch's two biases, the forget block of bias_ih is set to ``value`` and that of bias_hh to 0.
    A forget bias of 1 keeps the cell remembering early in training (Gers et al. 2000; Jozefowicz
    et al. 2015). Returns ``module``.

    Example::

        lstm = init_forget_bias_(nn.LSTM(10, 20, num_layers=2), 1.0)
    """
    from ..autograd.grad_mode import no_grad

    found = 0
    for m in module.modules():
        if not isinstance(m, _Recurrent) or m._kind.forget_gate is None:
            continue
        kind = m._kind
        if not m.bias:
            raise ValueError(f"init_forget_bias_: {type(m).__name__} was built with bias=False, so it has no "
                             f"forget-gate bias to set")
        h, gate = m.hidden_size, kind.forget_gate
        with no_grad():
            for name, p in m.named_parameters(recurse=False):
                if name.startswith("bias_ih"):
                    p[gate * h:(gate + 1) * h] = float(value)
                    found += 1
                elif name.startswith("bias_hh"):
                    p[gate * h:(gate + 1) * h] = 0.0
    if not found:
        raise ValueError(f"init_forget_bias_: {type(module).__name__} contains no LSTM-kind layer or cell "
                         f"(LSTM, LSTMCell, PeepholeLSTM, CoupledLSTM and their cells have forget gates)")
    return module


def detach_state(state):
    """A recurrent state cut from its graph, for truncated backpropagation through time: a tensor is
    detached, a tuple or list (e.g. LSTM's (h, c)) is detached element by element (recursively), and
    None stays None. Carrying ``detach_state(state)`` from one chunk to the next keeps the values but
    stops gradients (and the graph's memory) from reaching back into earlier chunks.

    Example::

        out, state = lstm(chunk, state)
        state = detach_state(state)
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected a Tensor, a tuple/list of Tensors or None, got "
                    f"{type(state).__name__}")
