"""The lecture variants MUT1, MUT2, MUT3 (Jozefowicz et al. 2015), peephole LSTM (Gers & Schmidhuber
2000) and coupled-gate LSTM: cells against NumPy transcriptions of their equations, float64
gradchecks, and the shared multi-layer machinery against stepping the cells by hand."""
import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn as nn
from deepgrad.autograd import gradcheck
from deepgrad.ops import recurrent as R
from tests.helpers import assert_close, rand


def sig(a):
    return 1 / (1 + np.exp(-a))


def blocks(a, n):
    return np.split(a, n, axis=-1)


def mut1_ref(x, h, w_ih, w_hh, b_ih, b_hh):
    xz, xr = blocks(x @ w_ih.T + b_ih, 2)
    (w_hr, w_hc), (b_hr, b_hc) = np.split(w_hh, 2), np.split(b_hh, 2)
    z = sig(xz)
    r = sig(xr + h @ w_hr.T + b_hr)
    return np.tanh((r * h) @ w_hc.T + b_hc + np.tanh(x)) * z + h * (1 - z)


def mut2_ref(x, h, w_ih, w_hh, b_ih, b_hh):
    xz, xc = blocks(x @ w_ih.T + b_ih, 2)
    hz, hr, _ = blocks(h @ w_hh.T + b_hh, 3)
    w_hc, b_hc = np.split(w_hh, 3)[2], np.split(b_hh, 3)[2]
    z = sig(xz + hz)
    r = sig(x + hr)
    return np.tanh((r * h) @ w_hc.T + b_hc + xc) * z + h * (1 - z)


def mut3_ref(x, h, w_ih, w_hh, b_ih, b_hh):
    xz, xr, xc = blocks(x @ w_ih.T + b_ih, 3)
    (w_hz, w_hr, w_hc), (b_hz, b_hr, b_hc) = np.split(w_hh, 3), np.split(b_hh, 3)
    z = sig(xz + np.tanh(h) @ w_hz.T + b_hz)
    r = sig(xr + h @ w_hr.T + b_hr)
    return np.tanh((r * h) @ w_hc.T + b_hc + xc) * z + h * (1 - z)


def peephole_ref(x, state, w_ih, w_hh, b_ih, b_hh, w_ch):
    h, c = state
    i, f, g, o = blocks(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4)
    p_i, p_f, p_o = np.split(w_ch, 3)
    i, f = sig(i + p_i * c), sig(f + p_f * c)
    c = f * c + i * np.tanh(g)
    o = sig(o + p_o * c)
    return o * np.tanh(c), c


def coupled_ref(x, state, w_ih, w_hh, b_ih, b_hh):
    h, c = state
    f, g, o = blocks(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 3)
    f = sig(f)
    c = f * c + (1 - f) * np.tanh(g)
    return sig(o) * np.tanh(c), c


VARIANTS = {  # name: (cell class, layer class, numpy reference, has cell state, square)
    "mut1": (nn.MUT1Cell, nn.MUT1, mut1_ref, False, True),
    "mut2": (nn.MUT2Cell, nn.MUT2, mut2_ref, False, True),
    "mut3": (nn.MUT3Cell, nn.MUT3, mut3_ref, False, False),
    "peephole": (nn.PeepholeLSTMCell, nn.PeepholeLSTM, peephole_ref, True, False),
    "coupled": (nn.CoupledLSTMCell, nn.CoupledLSTM, coupled_ref, True, False),
}
NAMES = list(VARIANTS)
H = 4


def sizes(name):
    return (H, H) if VARIANTS[name][4] else (3, H)


def make_cell(name, bias=True, dtype=dg.float64):
    dg.manual_seed(0)
    return VARIANTS[name][0](*sizes(name), bias=bias).to(dtype)


def initial_state(name, lead, seed=1):
    arrays = [rand(*lead, H, seed=seed + k) for k in range(2 if VARIANTS[name][3] else 1)]
    return arrays


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batched", [True, False])
def test_cell_matches_equations(name, batched):
    cell = make_cell(name)
    ref, has_c = VARIANTS[name][2], VARIANTS[name][3]
    lead = (3,) if batched else ()
    x = rand(*lead, sizes(name)[0], seed=0)
    state = initial_state(name, lead)
    weights = [p.numpy(force=True) for p in cell.parameters()]
    expected = ref(x, tuple(state) if has_c else state[0], *weights)
    got = cell(dg.tensor(x), tuple(dg.tensor(s) for s in state) if has_c else dg.tensor(state[0]))
    for g, e in zip(got if has_c else (got,), expected if has_c else (expected,)):
        assert_close(g, e, atol=1e-12)
    # no state given means zeros
    zeros = tuple(np.zeros_like(s) for s in state)
    expected0 = ref(x, zeros if has_c else zeros[0], *weights)
    got0 = cell(dg.tensor(x))
    assert_close(got0[0] if has_c else got0, expected0[0] if has_c else expected0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bias", [True, False])
def test_cell_gradcheck(name, bias):
    cell = make_cell(name, bias=bias)
    fn = {"mut1": R.mut1_cell, "mut2": R.mut2_cell, "mut3": R.mut3_cell,
          "peephole": R.peephole_lstm_cell, "coupled": R.coupled_lstm_cell}[name]
    has_c = VARIANTS[name][3]
    params = [dg.tensor(p.numpy(force=True), requires_grad=True) for p in cell.parameters()]
    x = dg.tensor(rand(2, sizes(name)[0], seed=3), requires_grad=True)
    state = [dg.tensor(s, requires_grad=True) for s in initial_state(name, (2,), seed=4)]
    w_ih, w_hh, *rest = params
    b_ih, b_hh = (rest[0], rest[1]) if bias else (None, None)
    extra = rest[2:] if bias else rest

    def run(x, *tensors):
        st = tensors[:len(state)]
        args = tensors[len(state):]
        return fn(x, tuple(st) if has_c else st[0], *args)
    inputs = [x, *state, w_ih, w_hh] + ([b_ih, b_hh] if bias else [None, None]) + list(extra)
    assert gradcheck(run, inputs)


@pytest.mark.parametrize("name", NAMES)
def test_parameter_names_and_shapes(name):
    cell_cls, layer_cls, _, has_c, square = VARIANTS[name]
    layer = layer_cls(*sizes(name), num_layers=2, bidirectional=not square)
    names = [n for n, _ in layer.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert ("weight_ch_l0" in names) == (name == "peephole")
    if not square:
        assert "weight_ih_l1_reverse" in names
        assert tuple(layer.weight_ih_l1.shape)[1] == 2 * H  # fed both directions of layer 0
    cell = cell_cls(*sizes(name), bias=False)
    assert not any(n.startswith("bias") for n, _ in cell.named_parameters())
    assert all(np.abs(p.numpy(force=True)).max() <= 1 / np.sqrt(H) for p in layer.parameters())


CELL_FNS = {"MUT1": R.mut1_cell, "MUT2": R.mut2_cell, "MUT3": R.mut3_cell,
            "PeepholeLSTM": R.peephole_lstm_cell, "CoupledLSTM": R.coupled_lstm_cell}


def manual_layer(layer, x, state, has_c):
    """What the multi-layer machinery must compute, stepping the cell function by hand with the
    layer's own parameters: time-major x (T, B, in), state a list of (L * D, B, H) tensors."""
    directions = 2 if layer.bidirectional else 1
    cell = CELL_FNS[type(layer).__name__]
    inp, finals = x, []
    for k in range(layer.num_layers):
        outs = []
        for d in range(directions):
            suffix = f"_l{k}" + ("_reverse" if d else "")
            names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
            if type(layer).__name__ == "PeepholeLSTM":
                names.append("weight_ch")
            weights = [getattr(layer, n + suffix) for n in names]
            st = tuple(s[k * directions + d] for s in state)
            hs = {}
            for t in (range(inp.shape[0] - 1, -1, -1) if d else range(inp.shape[0])):
                st = cell(inp[t], st if has_c else st[0], *weights)
                st = st if has_c else (st,)
                hs[t] = st[0]
            outs.append(dg.stack([hs[t] for t in range(inp.shape[0])]))
            finals.append(st)
        inp = dg.cat(outs, 2) if directions == 2 else outs[0]
    return inp, [dg.stack([f[j] for f in finals]) for j in range(len(finals[0]))]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bidirectional,batch_first", [(False, False), (True, True)])
def test_layer_machinery_equals_stepping_the_cells(name, bidirectional, batch_first):
    _, layer_cls, _, has_c, square = VARIANTS[name]
    if square and bidirectional:  # layer 1 would see 2 * H inputs: refused, tested below
        bidirectional = False
    dg.manual_seed(1)
    layer = layer_cls(*sizes(name), num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    layer.double()
    n_states = 2 * (2 if bidirectional else 1)
    x_np = rand(5, 2, sizes(name)[0], seed=5)
    state_np = [rand(n_states, 2, H, seed=6 + k) for k in range(2 if has_c else 1)]
    results = []
    for run in ("layer", "manual"):
        x = dg.tensor(x_np, requires_grad=True)
        state = [dg.tensor(s, requires_grad=True) for s in state_np]
        layer.zero_grad()
        if run == "layer":
            xin = x.transpose(0, 1) if batch_first else x
            out, final = layer(xin, tuple(state) if has_c else state[0])
            out = out.transpose(0, 1) if batch_first else out
            final = list(final) if has_c else [final]
        else:
            out, final = manual_layer(layer, x, state, has_c)
        outs = [out] + final
        rng = np.random.default_rng(2)
        sum((o * dg.tensor(rng.standard_normal(tuple(o.shape)))).sum() for o in outs).backward()
        grads = [x.grad] + [s.grad for s in state] + [p.grad.numpy().copy() for p in layer.parameters()]
        results.append(([o.detach() for o in outs], grads))
    for a, b in zip(results[0][0], results[1][0]):
        assert_close(a, b, atol=1e-12)
    for a, b in zip(results[0][1], results[1][1]):
        assert_close(a, b, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_layer_unbatched_and_zero_state(name):
    _, layer_cls, _, has_c, _ = VARIANTS[name]
    dg.manual_seed(2)
    layer = layer_cls(*sizes(name)).double()
    x = dg.tensor(rand(4, sizes(name)[0], seed=1))
    out, final = layer(x)
    batched_out, batched_final = layer(x.unsqueeze(1))
    assert tuple(out.shape) == (4, H)
    assert_close(out, batched_out[:, 0], atol=0)
    h_n = final[0] if has_c else final
    assert tuple(h_n.shape) == (1, H)
    assert_close(h_n, out[-1:], atol=0)
    zeros = tuple(dg.zeros(1, 1, H, dtype=dg.float64) for _ in range(2 if has_c else 1))
    explicit, _ = layer(x.unsqueeze(1), zeros if has_c else zeros[0])
    assert_close(explicit, batched_out, atol=0)
    assert_close(batched_final[0] if has_c else batched_final, h_n.unsqueeze(1), atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_float32_preserved(name):
    _, layer_cls, _, has_c, square = VARIANTS[name]
    layer = layer_cls(*sizes(name), num_layers=2)
    x = dg.randn(3, 2, sizes(name)[0], requires_grad=True)
    out, final = layer(x)
    (out.sum() + (final[1] if has_c else final).sum()).backward()
    assert out.dtype == dg.float32 and x.grad.dtype == dg.float32
    assert all(p.grad.dtype == dg.float32 for p in layer.parameters())


def test_dropout_between_variant_layers():
    layer = nn.MUT3(3, H, num_layers=2, dropout=1.0).double()
    x = dg.tensor(rand(4, 2, 3, seed=0))
    out, _ = layer(x)
    # dropout 1 zeroes the second layer's input: its output is the second layer run on zeros
    second = nn.MUT3(H, H).double()
    second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in layer.state_dict().items() if "_l1" in k})
    expected, _ = second(dg.zeros(4, 2, H, dtype=dg.float64))
    assert_close(out, expected, atol=0)
    layer.eval()
    kept, _ = layer(x)
    assert not np.allclose(kept.numpy(force=True), out.numpy(force=True))


@pytest.mark.parametrize("cls,gate,gates", [(nn.PeepholeLSTM, 1, 4), (nn.CoupledLSTM, 0, 3),
                                            (nn.PeepholeLSTMCell, 1, 4), (nn.CoupledLSTMCell, 0, 3)])
def test_forget_bias(cls, gate, gates):
    m = cls(3, H, forget_bias=1.0)
    ih = [p for n, p in m.named_parameters() if n.startswith("bias_ih")]
    hh = [p for n, p in m.named_parameters() if n.startswith("bias_hh")]
    for b_ih, b_hh in zip(ih, hh):
        assert tuple(b_ih.shape) == (gates * H,)
        total = (b_ih + b_hh).numpy(force=True)
        np.testing.assert_array_equal(total[gate * H:(gate + 1) * H], 1.0)
    with pytest.raises(ValueError, match="MUT3: forget_bias applies to the LSTM kinds only"):
        nn.MUT3(3, H, forget_bias=1.0)


def test_coupled_forget_gate_of_one_keeps_the_cell():
    """With f saturated at 1 the coupled cell copies c_{t-1} (nothing written), with f at 0 it
    replaces it by g: the coupling c = f c + (1 - f) g."""
    cell = nn.CoupledLSTMCell(2, 3).double()
    c = dg.tensor(rand(1, 3, seed=1))
    h = dg.zeros(1, 3, dtype=dg.float64)
    with dg.no_grad():
        cell.bias_ih[0:3] = 100.0
    x = rand(1, 2, seed=2)
    _, c_keep = cell(dg.tensor(x), (h, c))
    assert_close(c_keep, c, atol=1e-12)
    with dg.no_grad():
        cell.bias_ih[0:3] = -100.0
    _, c_new = cell(dg.tensor(x), (h, c))
    bias = (cell.bias_ih + cell.bias_hh).numpy(force=True)
    g = np.tanh(x @ cell.weight_ih.numpy(force=True)[3:6].T + bias[3:6])
    assert_close(c_new, g, atol=1e-12)


def test_square_variants_refuse_other_input_sizes():
    with pytest.raises(ValueError, match="MUT1Cell: the MUT1 equations add x_t to hidden-size vectors.*"
                                         "got input size 3 and hidden_size 4"):
        nn.MUT1Cell(3, 4)
    with pytest.raises(ValueError, match="MUT2: .*got input size 8 and hidden_size 4"):
        nn.MUT2(4, 4, num_layers=2, bidirectional=True)
    with pytest.raises(RuntimeError, match=r"MUT3: input.size\(-1\) must be equal to input_size. Expected 3, "
                                           r"got 2"):
        nn.MUT3(3, 4)(dg.zeros(2, 1, 2))
    with pytest.raises(RuntimeError, match="PeepholeLSTMCell: input has inconsistent input_size: got 2 "
                                           "expected 3"):
        nn.PeepholeLSTMCell(3, 4)(dg.zeros(1, 2))
    with pytest.raises(TypeError, match=r"CoupledLSTM: expected hx to be a tuple \(h_0, c_0\)"):
        nn.CoupledLSTM(3, 4)(dg.zeros(2, 1, 3), dg.zeros(1, 1, 4))
