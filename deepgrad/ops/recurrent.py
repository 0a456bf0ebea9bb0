"""Recurrent primitives: fused whole-layer passes through time (Elman RNN, LSTM, GRU) and the cell
functions (one time step, composed from differentiable ops) of those and of the lecture variants.

A fused layer is ONE graph node per layer and direction. Its forward projects the inputs of all time
steps with one matrix product, (T*B, in) @ (in, G*H), then loops over time with one (B, H) @ (H, G*H)
product per step, writing into preallocated buffers. Its backward runs back through time by hand and
ends with one matrix product per weight over all steps (the stacked pre-activation gradients against
the stacked inputs, or the stacked previous hidden states). Under ``no_grad`` (or when nothing needs
a gradient) the forward keeps no per-step state beyond the outputs.

Gates are activated with one exp per step: sigmoid(a) = 1 / (1 + exp(-a)) and, for the LSTM's g,
tanh(a) = 2 sigmoid(2a) - 1. The gate rows of the weights and biases are pre-scaled by -1 (g: -2),
which is exact in floating point, so one exp, +1 and 1/x over the whole (B, G*H) block activate every
gate of a step. NumPy's float32 exp is about twice as fast as its tanh, and an exp that overflows to
inf gives the exact limit 0.

Packed output: a fused layer's graph node produces one array Y of shape (T + 1, B, H), or (T + 2, B, H)
for the LSTM, holding the initial hidden state, the T hidden states in time order and (LSTM) the final
cell state. The output sequence, the previous hidden states read by backward, h_n and c_n are then all
views of Y. With rev = 1 for a reverse-direction layer, 0 otherwise::

    Y[1 - rev : T + 1 - rev]   outputs, h_t at time t       Y[rev : T + rev]   h_{t-1} of each step
    Y[T * (1 - rev)]           h_n                           Y[T * rev]         h_0
    Y[T + 1]                   c_n (LSTM)
"""
from __future__ import annotations

from functools import lru_cache

from ..autograd import grad_mode
from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor
from . import elementwise as ew
from .linalg import linear
from .shape import stack, unbind

__all__ = ["rnn_layer", "lstm_layer", "gru_layer", "recurrent_layer", "rnn_tanh_cell", "rnn_relu_cell",
           "lstm_cell", "gru_cell", "mut1_cell", "mut2_cell", "mut3_cell", "peephole_lstm_cell",
           "coupled_lstm_cell"]


# ---------------------------------------------------------------------------- fused layers
@lru_cache(maxsize=64)
def _row_scale(scales: tuple, hidden: int, dtype):
    """The per-row scale of a (G*H, ...) weight whose gate blocks are scaled by ``scales``."""
    return xp.repeat(xp.asarray(scales, dtype=dtype), hidden)


def _scaled(scale, w_ih, w_hh, b):
    """Copies of the weights (and bias) with their rows scaled; the recurrent one transposed (a
    view), as the per-step products read it."""
    b = None if b is None else b * scale
    return w_ih * scale[:, None], (w_hh * scale[:, None]).T, b


def _sigmoid_of_negated_(a):
    """In place: a <- 1 / (1 + exp(a)), the sigmoid of -a (the gate rows come pre-negated)."""
    xp.exp(a, out=a)
    a += 1
    xp.divide(1, a, out=a)  # faster than xp.reciprocal for float32


def _project(x, w, b):
    """The input projections of all time steps in one product: (T, B, in) -> (T, B, G*H)."""
    steps, batch, size = x.shape
    x2 = x.reshape(steps * batch, size)
    out = xp.matmul(x2, w.T)
    if b is not None:
        out += b
    return x2, out.reshape(steps, batch, -1)


class _FusedLayer(Function):
    """What the fused layers share: the direction bookkeeping and the parameter gradients.

    Positional arguments of every subclass start with (x, w_ih, w_hh, b_ih, b_hh, h0, ...)."""

    saves_output = True

    def _start(self, x, h0, w_hh, reverse, extra_rows):
        steps, batch, _ = x.shape
        hidden = w_hh.shape[1]
        self.rev, self.steps = int(reverse), steps
        y = xp.empty((steps + 1 + extra_rows, batch, hidden), dtype=x.dtype)
        y[steps * self.rev] = 0 if h0 is None else h0
        return hidden, y

    def _times(self):
        """(t, position of h_{t-1} in Y, position of h_t in Y), in processing order."""
        rev, steps = self.rev, self.steps
        order = range(steps - 1, -1, -1) if rev else range(steps)
        return [(t, t + rev, t + 1 - rev) for t in order]

    def _save(self, x2, x_shape, y, w_ih, w_hh, has_bias):
        self.x2, self.x_shape, self.y = x2, x_shape, y
        self.w_ih, self.w_hh, self.has_bias = w_ih, w_hh, has_bias

    def _needs_dh0(self):
        return self.needs_input_grad[5]

    def _recurrent_grad(self, d_pre, out):
        """out <- (d_pre @ W_hh)^T, the gradient reaching h_{t-1} through the recurrent product, as
        an (H, B) array: products with B columns split better over BLAS threads than with B rows."""
        xp.matmul(self.w_hh.T, d_pre.T, out=out)

    def _weight_grads(self, d_x, d_h):
        """(dx, dW_ih, dW_hh, db_ih, db_hh) from the pre-activation gradients of all steps: ``d_x``
        (T, B, G*H) of the input projection and ``d_h`` of the recurrent product."""
        need, rev, steps = self.needs_input_grad, self.rev, self.steps
        rows = self.x2.shape[0]
        dx2, dh2 = d_x.reshape(rows, -1), d_h.reshape(rows, -1)
        dx = (dx2 @ self.w_ih).reshape(self.x_shape) if need[0] else None
        dw_ih = dx2.T @ self.x2 if need[1] else None
        dw_hh = dh2.T @ self.y[rev:steps + rev].reshape(rows, -1) if need[2] else None
        db_ih = dx2.sum(0) if self.has_bias and need[3] else None
        db_hh = None
        if self.has_bias and need[4]:
            db_hh = db_ih.copy() if d_h is d_x and db_ih is not None else dh2.sum(0)
        return dx, dw_ih, dw_hh, db_ih, db_hh


class RNNLayer(_FusedLayer):
    """h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) over a whole sequence, act = tanh or relu."""

    def forward(self, x, w_ih, w_hh, b_ih, b_hh, h0, reverse, keep, relu):
        hidden, y = self._start(x, h0, w_hh, reverse, 0)
        x2, gx = _project(x, w_ih, None if b_ih is None else b_ih + b_hh)
        w_hh_t = w_hh.T
        for t, p, o in self._times():
            h = y[o]
            xp.matmul(y[p], w_hh_t, out=h)
            h += gx[t]
            if relu:
                xp.maximum(h, 0, out=h)
            else:
                xp.tanh(h, out=h)
        if keep:
            self.relu = relu
            self._save(x2, x.shape, y, w_ih, w_hh, b_ih is not None)
        return y

    def backward(self, dy):
        rev, steps = self.rev, self.steps
        out = self.y[1 - rev:steps + 1 - rev]
        fac = (out > 0).astype(out.dtype) if self.relu else 1 - out * out
        d = xp.empty_like(out)
        dh_rec = xp.zeros_like(out[0].T)
        for k, (t, _, o) in enumerate(reversed(self._times())):
            dt = d[t]
            xp.add(dy[o], dh_rec.T, out=dt)
            dt *= fac[t]
            if k < steps - 1 or self._needs_dh0():
                self._recurrent_grad(dt, dh_rec)
        return (*self._weight_grads(d, d), dh_rec.T if self._needs_dh0() else None, None, None, None)


class LSTMLayer(_FusedLayer):
    """PyTorch's LSTM over a whole sequence (gate blocks i, f, g, o)::

        i, f, o = sigmoid(.), g = tanh(.)   of   W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
        c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
    """

    def forward(self, x, w_ih, w_hh, b_ih, b_hh, h0, c0, reverse, keep):
        hidden, y = self._start(x, h0, w_hh, reverse, 1)
        h2, h3 = 2 * hidden, 3 * hidden
        scale = _row_scale((-1.0, -1.0, -2.0, -1.0), hidden, x.dtype)
        w_ih_s, w_hh_t, bias = _scaled(scale, w_ih, w_hh, None if b_ih is None else b_ih + b_hh)
        x2, gates = _project(x, w_ih_s, bias)
        steps, batch = gates.shape[:2]
        # with keep, every c_t and tanh(c_t) stays for backward; without, two alternating buffers
        cells = xp.empty((steps + 1 if keep else 2, batch, hidden), dtype=x.dtype)
        tanh_c = xp.empty((steps if keep else 1, batch, hidden), dtype=x.dtype)
        first = steps * self.rev if keep else 0
        cells[first] = 0 if c0 is None else c0
        rec = xp.empty((batch, 4 * hidden), dtype=x.dtype)
        ig = xp.empty((batch, hidden), dtype=x.dtype)
        c = cells[first]
        with xp.errstate(over="ignore"):
            for k, (t, p, o) in enumerate(self._times()):
                c_prev, c = (cells[p], cells[o]) if keep else (cells[k % 2], cells[(k + 1) % 2])
                tc = tanh_c[t] if keep else tanh_c[0]
                a = gates[t]
                xp.matmul(y[p], w_hh_t, out=rec)
                a += rec
                _sigmoid_of_negated_(a)
                g = a[:, h2:h3]  # holds sigmoid(2 a_g): tanh(a_g) = 2 sigmoid(2 a_g) - 1
                g *= 2
                g -= 1
                xp.multiply(a[:, hidden:h2], c_prev, out=c)
                xp.multiply(a[:, :hidden], g, out=ig)
                c += ig
                xp.tanh(c, out=tc)
                xp.multiply(a[:, h3:], tc, out=y[o])
        y[steps + 1] = c
        if keep:
            self.gates, self.cells, self.tanh_c = gates, cells, tanh_c
            self._save(x2, x.shape, y, w_ih, w_hh, b_ih is not None)
        return y

    def backward(self, dy):
        gates, cells, tanh_c, steps = self.gates, self.cells, self.tanh_c, self.steps
        batch, hidden = cells.shape[1:]
        h2, h3 = 2 * hidden, 3 * hidden
        d = xp.empty_like(gates)  # pre-activation gradients of every step
        dc = xp.array(dy[steps + 1])
        dh, tmp = xp.empty_like(dc), xp.empty_like(dc)
        dsig = xp.empty_like(gates[0])
        dh_rec = xp.zeros_like(dc.T)
        for k, (t, p, o) in enumerate(reversed(self._times())):
            a, tc, dt = gates[t], tanh_c[t], d[t]
            i, f, g, og = a[:, :hidden], a[:, hidden:h2], a[:, h2:h3], a[:, h3:]
            xp.add(dy[o], dh_rec.T, out=dh)
            xp.multiply(tc, tc, out=tmp)  # dc += dh * o * (1 - tanh(c)^2)
            xp.subtract(1, tmp, out=tmp)
            tmp *= og
            tmp *= dh
            dc += tmp
            xp.subtract(1, a, out=dsig)  # sigmoid' = s (1 - s); the g block is unused
            dsig *= a
            xp.multiply(dc, g, out=dt[:, :hidden])
            xp.multiply(dc, cells[p], out=dt[:, hidden:h2])
            xp.multiply(dh, tc, out=dt[:, h3:])
            dt[:, :h2] *= dsig[:, :h2]
            dt[:, h3:] *= dsig[:, h3:]
            dg = dt[:, h2:h3]  # dc * i * (1 - g^2)
            xp.multiply(g, g, out=dg)
            xp.subtract(1, dg, out=dg)
            dg *= i
            dg *= dc
            dc *= f
            if k < steps - 1 or self._needs_dh0():
                self._recurrent_grad(dt, dh_rec)
        need = self.needs_input_grad
        return (*self._weight_grads(d, d), dh_rec.T if need[5] else None, dc if need[6] else None,
                None, None)


class GRULayer(_FusedLayer):
    """PyTorch's GRU over a whole sequence (gate blocks r, z, n)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h_t = (1 - z) * n + z * h_{t-1}
    """

    def forward(self, x, w_ih, w_hh, b_ih, b_hh, h0, reverse, keep):
        hidden, y = self._start(x, h0, w_hh, reverse, 0)
        h2 = 2 * hidden
        scale = _row_scale((-1.0, -1.0, 1.0), hidden, x.dtype)
        w_ih_s, w_hh_t, b_x = _scaled(scale, w_ih, w_hh, b_ih)
        b_h = None if b_hh is None else b_hh * scale
        x2, gx = _project(x, w_ih_s, b_x)
        steps, batch = gx.shape[:2]
        gh = xp.empty((steps if keep else 1, batch, 3 * hidden), dtype=x.dtype)
        tmp = xp.empty((batch, hidden), dtype=x.dtype)
        with xp.errstate(over="ignore"):
            for t, p, o in self._times():
                a = gh[t] if keep else gh[0]
                xp.matmul(y[p], w_hh_t, out=a)
                if b_h is not None:
                    a += b_h
                g = gx[t]
                rz, n = g[:, :h2], g[:, h2:]
                rz += a[:, :h2]
                _sigmoid_of_negated_(rz)
                xp.multiply(rz[:, :hidden], a[:, h2:], out=tmp)
                n += tmp
                xp.tanh(n, out=n)
                h = y[o]
                xp.subtract(y[p], n, out=h)
                h *= rz[:, hidden:]
                h += n
        if keep:
            self.gx, self.gh = gx, gh
            self._save(x2, x.shape, y, w_ih, w_hh, b_ih is not None)
        return y

    def backward(self, dy):
        gx, gh, y, steps = self.gx, self.gh, self.y, self.steps
        hidden = y.shape[2]
        h2 = 2 * hidden
        r, z, n, hn = gx[..., :hidden], gx[..., hidden:h2], gx[..., h2:], gh[..., h2:]
        drz_fac = gx[..., :h2] * (1 - gx[..., :h2])
        dn_fac = (1 - n * n) * (1 - z)
        d_h = xp.empty_like(gh)  # pre-activation gradients of the recurrent product (r, z, hn)
        d_n = xp.empty_like(n)  # and of the input projection's n block
        dh = xp.empty_like(y[0])
        dh_rec = xp.zeros_like(dh.T)  # through the recurrent product, (H, B)
        dh_z = xp.zeros_like(dh)  # through h_t = ... + z * h_{t-1}
        for k, (t, p, o) in enumerate(reversed(self._times())):
            xp.add(dy[o], dh_rec.T, out=dh)
            dh += dh_z
            dn = d_n[t]
            xp.multiply(dh, dn_fac[t], out=dn)
            dt = d_h[t]
            xp.multiply(dn, r[t], out=dt[:, h2:])
            xp.multiply(dn, hn[t], out=dt[:, :hidden])
            dz = dt[:, hidden:h2]
            xp.subtract(y[p], n[t], out=dz)
            dz *= dh
            dt[:, :h2] *= drz_fac[t]
            if k < steps - 1 or self._needs_dh0():
                xp.multiply(dh, z[t], out=dh_z)
                self._recurrent_grad(dt, dh_rec)
        d_x = xp.concatenate([d_h[..., :h2], d_n], axis=2)
        dh0 = dh_rec.T + dh_z if self._needs_dh0() else None
        return (*self._weight_grads(d_x, d_h), dh0, None, None)


def _records(*tensors) -> bool:
    """Whether a Function applied to ``tensors`` will be recorded for backward."""
    return grad_mode.state.enabled and any(isinstance(t, Tensor) and t._requires_grad for t in tensors)


def _check_layer(op: str, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih, b_hh, gates: int, states) -> None:
    hidden = w_hh.shape[-1]
    if x.ndim != 3:
        raise ValueError(f"{op}: expected input of shape (T, B, input_size), got shape {tuple(x.shape)}")
    if tuple(w_ih.shape) != (gates * hidden, x.shape[2]) or tuple(w_hh.shape) != (gates * hidden, hidden):
        raise ValueError(f"{op}: expected weight_ih of shape ({gates * hidden}, {x.shape[2]}) and weight_hh "
                         f"of shape ({gates * hidden}, {hidden}) for input {tuple(x.shape)}, got "
                         f"{tuple(w_ih.shape)} and {tuple(w_hh.shape)}")
    if (b_ih is None) != (b_hh is None):
        raise ValueError(f"{op}: give both bias_ih and bias_hh, or neither")
    for name, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if b is not None and tuple(b.shape) != (gates * hidden,):
            raise ValueError(f"{op}: expected {name} of shape ({gates * hidden},), got {tuple(b.shape)}")
    for s in states:
        if s is not None and tuple(s.shape) != (x.shape[1], hidden):
            raise ValueError(f"{op}: expected initial states of shape ({x.shape[1]}, {hidden}), got "
                             f"{tuple(s.shape)}")
    for t in (w_ih, w_hh, b_ih, b_hh, *states):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{op}: all tensors must have the input's dtype {x.dtype}, got {t.dtype}")


def _views(y: Tensor, steps: int, reverse: bool):
    """(output, h_n) views of a fused layer's packed array."""
    rev = int(reverse)
    return y[1 - rev:steps + 1 - rev], y[steps * (1 - rev)]


def rnn_layer(input: Tensor, hx: Tensor | None, weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Tensor | None = None, bias_hh: Tensor | None = None, nonlinearity: str = "tanh",
              reverse: bool = False) -> tuple[Tensor, Tensor]:
    """An Elman RNN layer over a time-major sequence, as one fused graph node.

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh or relu. ``input`` (T, B, in),
    ``hx`` (B, H) or None for zeros; ``reverse`` runs from the last step to the first. Returns
    (output (T, B, H), h_n (B, H)).

    Example::

        out, h_n = rnn_layer(x, None, w_ih, w_hh, b_ih, b_hh)
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_layer: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    _check_layer("rnn_layer", input, weight_ih, weight_hh, bias_ih, bias_hh, 1, (hx,))
    args = (input, weight_ih, weight_hh, bias_ih, bias_hh, hx)
    y = RNNLayer.apply(*args, bool(reverse), _records(*args), nonlinearity == "relu")
    return _views(y, input.shape[0], reverse)


def lstm_layer(input: Tensor, hx: tuple | None, weight_ih: Tensor, weight_hh: Tensor,
               bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
               reverse: bool = False) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """An LSTM layer over a time-major sequence, as one fused graph node (PyTorch's gate order
    i, f, g, o; see ``LSTMLayer``). ``hx`` is (h0, c0), each (B, H), or None for zeros.
    Returns (output (T, B, H), (h_n, c_n)).

    Example::

        out, (h_n, c_n) = lstm_layer(x, (h0, c0), w_ih, w_hh, b_ih, b_hh)
    """
    h0, c0 = (None, None) if hx is None else hx
    _check_layer("lstm_layer", input, weight_ih, weight_hh, bias_ih, bias_hh, 4, (h0, c0))
    args = (input, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0)
    y = LSTMLayer.apply(*args, bool(reverse), _records(*args))
    steps = input.shape[0]
    out, h_n = _views(y, steps, reverse)
    return out, (h_n, y[steps + 1])


def gru_layer(input: Tensor, hx: Tensor | None, weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
              reverse: bool = False) -> tuple[Tensor, Tensor]:
    """A GRU layer over a time-major sequence, as one fused graph node (PyTorch's gate order r, z, n
    with n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); see ``GRULayer``). Returns (output, h_n).

    Example::

        out, h_n = gru_layer(x, None, w_ih, w_hh, b_ih, b_hh)
    """
    _check_layer("gru_layer", input, weight_ih, weight_hh, bias_ih, bias_hh, 3, (hx,))
    args = (input, weight_ih, weight_hh, bias_ih, bias_hh, hx)
    y = GRULayer.apply(*args, bool(reverse), _records(*args))
    return _views(y, input.shape[0], reverse)


def recurrent_layer(cell, input: Tensor, hx, *weights, reverse: bool = False):
    """Run a cell function ``cell(x_t, state, *weights) -> state`` over the time steps of ``input``
    (T, B, in), one autograd-composed step at a time. ``state`` is a tensor h or a tuple whose first
    element is h; ``hx`` is the initial state. Returns (output (T, B, H) of the h's, final state).

    Example::

        out, (h_n, c_n) = recurrent_layer(peephole_lstm_cell, x, (h0, c0), w_ih, w_hh, b_ih, b_hh, w_ch)
    """
    steps = unbind(input, 0)
    if reverse:
        steps = steps[::-1]
    state, outputs = hx, []
    for x in steps:
        state = cell(x, state, *weights)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    if reverse:
        outputs.reverse()
    return stack(outputs, 0), state


# ---------------------------------------------------------------------------- cells
def _chunks(t: Tensor | None, n: int) -> list:
    """``n`` equal blocks of the first dim of a weight or bias (None gives Nones)."""
    if t is None:
        return [None] * n
    size = t.shape[0] // n
    return [t[k * size:(k + 1) * size] for k in range(n)]


def _gates(t: Tensor, n: int) -> list:
    """``n`` equal blocks of the last dim of a pre-activation."""
    size = t.shape[-1] // n
    return [t[..., k * size:(k + 1) * size] for k in range(n)]


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One Elman step: h' = tanh(W_ih x + b_ih + W_hh h + b_hh)."""
    return ew.tanh(ew.add(linear(input, w_ih, b_ih), linear(hx, w_hh, b_hh)))


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One Elman step with relu: h' = relu(W_ih x + b_ih + W_hh h + b_hh)."""
    return ew.relu(ew.add(linear(input, w_ih, b_ih), linear(hx, w_hh, b_hh)))


def lstm_cell(input: Tensor, hx: tuple, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step, PyTorch's equations and gate order (rows of W: i, f, g, o)::

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)    f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)       o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g                            h' = o * tanh(c')

    Example::

        h, c = lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh)
    """
    h, c = hx
    i, f, g, o = _gates(ew.add(linear(input, w_ih, b_ih), linear(h, w_hh, b_hh)), 4)
    c = ew.add(ew.mul(ew.sigmoid(f), c), ew.mul(ew.sigmoid(i), ew.tanh(g)))
    return ew.mul(ew.sigmoid(o), ew.tanh(c)), c


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """One GRU step, PyTorch's equations and gate order (rows of W: r, z, n)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))  h' = (1 - z) * n + z * h
    """
    xr, xz, xn = _gates(linear(input, w_ih, b_ih), 3)
    hr, hz, hn = _gates(linear(hx, w_hh, b_hh), 3)
    r, z = ew.sigmoid(ew.add(xr, hr)), ew.sigmoid(ew.add(xz, hz))
    n = ew.tanh(ew.add(xn, ew.mul(r, hn)))
    return ew.add(ew.mul(ew.sub(1, z), n), ew.mul(z, hx))


def _mix(candidate: Tensor, z: Tensor, h: Tensor) -> Tensor:
    """h' = candidate * z + h * (1 - z), the update of the MUT cells."""
    return ew.add(ew.mul(candidate, z), ew.mul(h, ew.sub(1, z)))


def mut1_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> Tensor:
    """One step of MUT1 (Jozefowicz, Zaremba & Sutskever, 2015); needs input size == hidden size::

        z  = sigmoid(W_xz x + b_z)
        r  = sigmoid(W_xr x + W_hr h + b_r)
        h' = tanh(W_hh (r * h) + tanh(x) + b_h) * z + h * (1 - z)

    Layout: w_ih rows (z, r); w_hh rows (r, h); b_ih (b_z, b_r'), b_hh (b_r'', b_h) with
    b_r = b_r' + b_r'' (PyTorch's two-bias convention).
    """
    xz, xr = _gates(linear(input, w_ih, b_ih), 2)
    (w_hr, w_hc), (b_hr, b_hc) = _chunks(w_hh, 2), _chunks(b_hh, 2)
    z = ew.sigmoid(xz)
    r = ew.sigmoid(ew.add(xr, linear(hx, w_hr, b_hr)))
    return _mix(ew.tanh(ew.add(linear(ew.mul(r, hx), w_hc, b_hc), ew.tanh(input))), z, hx)


def mut2_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> Tensor:
    """One step of MUT2 (Jozefowicz, Zaremba & Sutskever, 2015); needs input size == hidden size::

        z  = sigmoid(W_xz x + W_hz h + b_z)
        r  = sigmoid(x + W_hr h + b_r)
        h' = tanh(W_hh (r * h) + W_xh x + b_h) * z + h * (1 - z)

    Layout: w_ih rows (z, h); w_hh rows (z, r, h); b_ih (z, h), b_hh (z, r, h), summed per gate.
    """
    xz, xc = _gates(linear(input, w_ih, b_ih), 2)
    w_hz, w_hr, w_hc = _chunks(w_hh, 3)
    b_hz, b_hr, b_hc = _chunks(b_hh, 3)
    z = ew.sigmoid(ew.add(xz, linear(hx, w_hz, b_hz)))
    r = ew.sigmoid(ew.add(input, linear(hx, w_hr, b_hr)))
    return _mix(ew.tanh(ew.add(linear(ew.mul(r, hx), w_hc, b_hc), xc)), z, hx)


def mut3_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> Tensor:
    """One step of MUT3 (Jozefowicz, Zaremba & Sutskever, 2015)::

        z  = sigmoid(W_xz x + W_hz tanh(h) + b_z)
        r  = sigmoid(W_xr x + W_hr h + b_r)
        h' = tanh(W_hh (r * h) + W_xh x + b_h) * z + h * (1 - z)

    Layout: w_ih and w_hh rows (z, r, h); b_ih and b_hh (z, r, h), summed per gate.
    """
    xz, xr, xc = _gates(linear(input, w_ih, b_ih), 3)
    w_hz, w_hr, w_hc = _chunks(w_hh, 3)
    b_hz, b_hr, b_hc = _chunks(b_hh, 3)
    z = ew.sigmoid(ew.add(xz, linear(ew.tanh(hx), w_hz, b_hz)))
    r = ew.sigmoid(ew.add(xr, linear(hx, w_hr, b_hr)))
    return _mix(ew.tanh(ew.add(linear(ew.mul(r, hx), w_hc, b_hc), xc)), z, hx)


def peephole_lstm_cell(input: Tensor, hx: tuple, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                       b_hh: Tensor | None, w_ch: Tensor) -> tuple[Tensor, Tensor]:
    """One step of the peephole LSTM (Gers & Schmidhuber, 2000): the gates also look at the cell,
    through one peephole weight per cell (``w_ch``, blocks p_i, p_f, p_o); the input and forget gates
    see c_{t-1}, the output gate sees the new c_t::

        i  = sigmoid(W_ii x + W_hi h + p_i * c + b_i)   f = sigmoid(W_if x + W_hf h + p_f * c + b_f)
        g  = tanh(W_ig x + W_hg h + b_g)                c' = f * c + i * g
        o  = sigmoid(W_io x + W_ho h + p_o * c' + b_o)  h' = o * tanh(c')

    Layout: w_ih, w_hh, b_ih, b_hh as PyTorch's LSTM (rows i, f, g, o); w_ch (3H,) rows (i, f, o).
    """
    h, c = hx
    i, f, g, o = _gates(ew.add(linear(input, w_ih, b_ih), linear(h, w_hh, b_hh)), 4)
    p_i, p_f, p_o = _chunks(w_ch, 3)
    i = ew.sigmoid(ew.add(i, ew.mul(p_i, c)))
    f = ew.sigmoid(ew.add(f, ew.mul(p_f, c)))
    c = ew.add(ew.mul(f, c), ew.mul(i, ew.tanh(g)))
    o = ew.sigmoid(ew.add(o, ew.mul(p_o, c)))
    return ew.mul(o, ew.tanh(c)), c


def coupled_lstm_cell(input: Tensor, hx: tuple, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                      b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One step of the LSTM with coupled forget and input gates: what is written is exactly what is
    forgotten (input gate = 1 - f)::

        f = sigmoid(W_if x + W_hf h + b_f)   g = tanh(W_ig x + W_hg h + b_g)
        o = sigmoid(W_io x + W_ho h + b_o)
        c' = f * c + (1 - f) * g             h' = o * tanh(c')

    Layout: w_ih, w_hh rows (f, g, o); b_ih, b_hh (f, g, o), summed per gate.
    """
    h, c = hx
    f, g, o = _gates(ew.add(linear(input, w_ih, b_ih), linear(h, w_hh, b_hh)), 3)
    f = ew.sigmoid(f)
    c = ew.add(ew.mul(f, c), ew.mul(ew.sub(1, f), ew.tanh(g)))
    return ew.mul(ew.sigmoid(o), ew.tanh(c)), c
