"""RNN, LSTM, GRU layers and cells against PyTorch (copied weights, float64): values and gradients
w.r.t. inputs, initial states and every parameter, for every option; the fused kernels against the
composition of their cells; gradchecks; float32; initialisation; forget bias; truncated BPTT."""
import gc
import math

import numpy as np
import pytest
import torch

import deepgrad as dg
import deepgrad.nn as nn
from deepgrad.autograd import Function, gradcheck
from deepgrad.ops import recurrent as R
from tests.helpers import assert_close, rand

MODES = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})]
MODE_IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
CONFIGS = [  # num_layers, bidirectional, batch_first, bias, initial state given
    dict(num_layers=1, bidirectional=False, batch_first=False, bias=True, hx=False),
    dict(num_layers=2, bidirectional=True, batch_first=True, bias=True, hx=True),
    dict(num_layers=2, bidirectional=False, batch_first=False, bias=False, hx=True),
    dict(num_layers=1, bidirectional=True, batch_first=False, bias=False, hx=False),
]
T, B, I, H = 4, 3, 5, 6


def pair(name, kwargs, dtype=torch.float64, **opts):
    """The same layer in PyTorch and deepgrad, deepgrad loaded from PyTorch's state_dict."""
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(I, H, **kwargs, **opts).to(dtype)
    dm = getattr(nn, name)(I, H, **kwargs, **opts).to(dg.float64 if dtype == torch.float64 else dg.float32)
    dm.load_state_dict(tm.state_dict())
    return tm, dm


def run_both(tm, dm, x, hx, is_lstm, seed=1):
    """Forward both, backward a random weighting of every output, return (outputs, grads) per lib."""
    results = []
    for lib, module in (("torch", tm), ("dg", dm)):
        mk = (lambda a: torch.tensor(a, requires_grad=True)) if lib == "torch" else \
             (lambda a: dg.tensor(a, requires_grad=True))
        xin = mk(x)
        h = None if hx is None else tuple(mk(a) for a in hx)
        out, state = module(xin, None if h is None else (h if is_lstm else h[0]))
        outs = [out] + (list(state) if is_lstm else [state])
        rng = np.random.default_rng(seed)
        loss = sum((o * mk(rng.standard_normal(tuple(o.shape))).detach()).sum() for o in outs)
        loss.backward()
        leaves = [xin] + list(h or [])
        grads = [t.grad for t in leaves] + [p.grad for _, p in module.named_parameters()]
        results.append((outs, grads))
    return results


def check_against_torch(tm, dm, x, hx, is_lstm, atol=1e-10):
    (t_outs, t_grads), (d_outs, d_grads) = run_both(tm, dm, x, hx, is_lstm)
    for k, (d, t) in enumerate(zip(d_outs, t_outs)):
        assert d.dtype.name == str(t.dtype).replace("torch.", "")
        assert_close(d, t, atol=atol, rtol=1e-6, what=f"output {k}")
    names = ["input"] + [f"hx[{k}]" for k in range(len(hx or []))] + [n for n, _ in tm.named_parameters()]
    for name, d, t in zip(names, d_grads, t_grads):
        assert d is not None, f"no gradient for {name}"
        assert_close(d, t, atol=atol, rtol=1e-6, what=f"grad of {name}")


@pytest.mark.parametrize("mode,kwargs", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=["plain", "2layer-bidir-bfirst-hx", "2layer-nobias-hx",
                                              "bidir-nobias"])
def test_layer_matches_torch(mode, kwargs, cfg):
    cfg = dict(cfg)
    with_hx = cfg.pop("hx")
    tm, dm = pair(mode, kwargs, **cfg)
    x = rand(B, T, I, seed=2) if cfg["batch_first"] else rand(T, B, I, seed=2)
    n_states = cfg["num_layers"] * (2 if cfg["bidirectional"] else 1)
    hx = None
    if with_hx:
        hx = [rand(n_states, B, H, seed=3 + k) for k in range(2 if mode == "LSTM" else 1)]
    check_against_torch(tm, dm, x, hx, mode == "LSTM")


@pytest.mark.parametrize("mode,kwargs", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("with_hx", [False, True])
def test_unbatched_input_matches_torch(mode, kwargs, with_hx):
    tm, dm = pair(mode, kwargs, num_layers=2, bidirectional=True)
    hx = [rand(4, H, seed=5 + k) for k in range(2 if mode == "LSTM" else 1)] if with_hx else None
    check_against_torch(tm, dm, rand(T, I, seed=4), hx, mode == "LSTM")


@pytest.mark.parametrize("mode,kwargs", MODES, ids=MODE_IDS)
def test_state_dict_names_shapes_and_round_trip(mode, kwargs):
    tm, dm = pair(mode, kwargs, num_layers=2, bidirectional=True)
    t_sd, d_sd = tm.state_dict(), dm.state_dict()
    assert list(d_sd) == list(t_sd)
    for k in t_sd:
        assert tuple(d_sd[k].shape) == tuple(t_sd[k].shape), k
    # deepgrad -> torch as well: a fresh torch module loads deepgrad's values exactly
    dg.manual_seed(7)
    other = getattr(nn, mode)(I, H, num_layers=2, bidirectional=True, **kwargs).double()
    fresh = getattr(torch.nn, mode)(I, H, num_layers=2, bidirectional=True, **kwargs).double()
    fresh.load_state_dict({k: torch.tensor(v.numpy()) for k, v in other.state_dict().items()})
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k].numpy(), v.numpy())
    assert [len(w) for w in dm.all_weights] == [len(w) for w in tm.all_weights]


@pytest.mark.parametrize("cls,gates", [("RNN", 1), ("LSTM", 4), ("GRU", 3), ("RNNCell", 1), ("LSTMCell", 4),
                                       ("GRUCell", 3)])
def test_default_initialisation_is_pytorchs(cls, gates):
    dg.manual_seed(0)
    hidden = 400
    m = getattr(nn, cls)(7, hidden)
    bound = 1 / math.sqrt(hidden)
    for name, p in m.named_parameters():
        a = p.numpy(force=True)
        assert a.dtype == np.float32
        assert a.shape[0] == gates * hidden, name
        assert np.abs(a).max() <= bound
        assert abs(a.std() - bound / math.sqrt(3)) < 0.05 * bound, name  # uniform, not normal
    dg.manual_seed(0)
    again = getattr(nn, cls)(7, hidden)
    for (name, p), q in zip(m.named_parameters(), again.parameters()):
        np.testing.assert_array_equal(p.numpy(force=True), q.numpy(force=True), err_msg=name)


@pytest.mark.parametrize("name,kwargs,gates", [("RNNCell", {}, 1), ("RNNCell", {"nonlinearity": "relu"}, 1),
                                               ("LSTMCell", {}, 4), ("GRUCell", {}, 3)])
@pytest.mark.parametrize("batched,with_hx,bias", [(True, True, True), (True, False, False),
                                                  (False, True, True), (False, False, True)])
def test_cells_match_torch(name, kwargs, gates, batched, with_hx, bias):
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(I, H, bias=bias, **kwargs).double()
    dm = getattr(nn, name)(I, H, bias=bias, **kwargs).double()
    dm.load_state_dict(tm.state_dict())
    assert list(dm.state_dict()) == list(tm.state_dict())
    lead = (B,) if batched else ()
    x = rand(*lead, I, seed=1)
    is_lstm = name == "LSTMCell"
    hx = [rand(*lead, H, seed=2 + k) for k in range(2 if is_lstm else 1)] if with_hx else None
    results = []
    for module, mk in ((tm, lambda a: torch.tensor(a, requires_grad=True)),
                       (dm, lambda a: dg.tensor(a, requires_grad=True))):
        xin = mk(x)
        h = None if hx is None else [mk(a) for a in hx]
        out = module(xin, None if h is None else (tuple(h) if is_lstm else h[0]))
        outs = list(out) if is_lstm else [out]
        rng = np.random.default_rng(3)
        sum((o * mk(rng.standard_normal(tuple(o.shape))).detach()).sum() for o in outs).backward()
        results.append((outs, [xin.grad] + [t.grad for t in h or []] + [p.grad for p in module.parameters()]))
    (t_outs, t_grads), (d_outs, d_grads) = results
    for d, t in zip(d_outs, t_outs):
        assert_close(d, t, atol=1e-12)
    for d, t in zip(d_grads, t_grads):
        assert_close(d, t, atol=1e-12)


# ---------------------------------------------------------------------------- fused kernels
def _layer_args(gates, bias=True, seed=0, dtype=np.float64, steps=T):
    rng = np.random.default_rng(seed)

    def mk(*shape):
        return dg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    w = [mk(steps, B, I), mk(gates * H, I), mk(gates * H, H)]
    w += [mk(gates * H), mk(gates * H)] if bias else [None, None]
    return w, mk(B, H), mk(B, H)


FUSED = [("lstm", R.lstm_layer, R.lstm_cell, 4), ("gru", R.gru_layer, R.gru_cell, 3),
         ("rnn_tanh", R.rnn_layer, R.rnn_tanh_cell, 1),
         ("rnn_relu", lambda *a, **k: R.rnn_layer(*a, nonlinearity="relu", **k), R.rnn_relu_cell, 1)]


def _outputs(result):
    out, state = result
    return [out] + (list(state) if isinstance(state, tuple) else [state])


@pytest.mark.parametrize("name,fused,cell,gates", FUSED, ids=[f[0] for f in FUSED])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_layer_equals_composed_cells(name, fused, cell, gates, reverse, bias):
    (x, w_ih, w_hh, b_ih, b_hh), h0, c0 = _layer_args(gates, bias)
    hx = (h0, c0) if gates == 4 else h0
    params = [x, w_ih, w_hh, h0] + ([c0] if gates == 4 else []) + ([b_ih, b_hh] if bias else [])
    got = []
    for run in (lambda: fused(x, hx, w_ih, w_hh, b_ih, b_hh, reverse=reverse),
                lambda: R.recurrent_layer(cell, x, hx, w_ih, w_hh, b_ih, b_hh, reverse=reverse)):
        for p in params:
            p.grad = None
        outs = _outputs(run())
        rng = np.random.default_rng(1)
        sum((o * dg.tensor(rng.standard_normal(tuple(o.shape)))).sum() for o in outs).backward()
        got.append(([o.detach() for o in outs], [p.grad for p in params]))
    for a, b in zip(got[0][0], got[1][0]):
        assert_close(a, b, atol=1e-12)
    for a, b in zip(got[0][1], got[1][1]):
        assert_close(a, b, atol=1e-12)


@pytest.mark.parametrize("name,fused,cell,gates", FUSED, ids=[f[0] for f in FUSED])
def test_fused_layer_inference_path_equals_training_path(name, fused, cell, gates):
    (x, w_ih, w_hh, b_ih, b_hh), h0, c0 = _layer_args(gates, seed=3)
    hx = (h0, c0) if gates == 4 else h0
    train = _outputs(fused(x, hx, w_ih, w_hh, b_ih, b_hh, reverse=True))
    with dg.no_grad():
        infer = _outputs(fused(x, hx, w_ih, w_hh, b_ih, b_hh, reverse=True))
    for a, b in zip(infer, train):
        assert not a.requires_grad
        np.testing.assert_array_equal(a.numpy(), b.numpy(force=True))


@pytest.mark.parametrize("name,fused,cell,gates", FUSED, ids=[f[0] for f in FUSED])
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_layer_gradcheck(name, fused, cell, gates, reverse):
    rng = np.random.default_rng(5)

    def mk(*shape):
        return dg.tensor(rng.standard_normal(shape) * 0.7, requires_grad=True)
    steps, batch, size, hidden = 3, 2, 2, 2
    x, w_ih, w_hh = mk(steps, batch, size), mk(gates * hidden, size), mk(gates * hidden, hidden)
    b_ih, b_hh, h0, c0 = mk(gates * hidden), mk(gates * hidden), mk(batch, hidden), mk(batch, hidden)

    def fn(x, w_ih, w_hh, b_ih, b_hh, h0, c0):
        hx = (h0, c0) if gates == 4 else h0
        return tuple(_outputs(fused(x, hx, w_ih, w_hh, b_ih, b_hh, reverse=reverse)))
    inputs = (x, w_ih, w_hh, b_ih, b_hh, h0, c0)
    if gates != 4:
        c0.requires_grad_(False)
    assert gradcheck(fn, inputs)


def test_fused_layer_retain_graph_and_inplace_check():
    lstm = nn.LSTM(3, 4)
    x = dg.randn(5, 2, 3, requires_grad=True)
    out, (_, c_n) = lstm(x)
    loss = out.sum() + c_n.sum()
    loss.backward(retain_graph=True)  # the saved per-step state is not consumed by a backward
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-6)
    out, _ = lstm(x)
    out.mul_(2)  # backward reads the outputs (the previous hidden states), so this must be caught
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.sum().backward()


def test_lstm_cell_state_grows_at_most_linearly():
    """|c_t| <= t from c_0 = 0, since |f|, |i| <= 1 and |g| <= 1; saturated gates reach the bound."""
    rng = np.random.default_rng(0)
    steps, hidden = 30, 8
    w_ih = dg.tensor(rng.standard_normal((4 * hidden, 3)) * 20)
    w_hh = dg.tensor(rng.standard_normal((4 * hidden, hidden)) * 20)
    b = dg.tensor(rng.standard_normal(4 * hidden) * 20)
    x = dg.tensor(rng.standard_normal((steps, 2, 3)) * 10)
    state = (dg.zeros(2, hidden, dtype=dg.float64), dg.zeros(2, hidden, dtype=dg.float64))
    for t in range(1, steps + 1):
        state = R.lstm_cell(x[t - 1], state, w_ih, w_hh, b, b * 0)
        assert np.abs(state[1].numpy()).max() <= t + 1e-12
        _, (_, c_n) = R.lstm_layer(x[:t], None, w_ih, w_hh, b, b * 0)
        assert np.abs(c_n.numpy()).max() <= t + 1e-12
    # all gates saturated open (i, f, o -> 1, g -> 1): c_t = t, the bound is reached, nothing overflows
    big = dg.full((4 * hidden,), 1e4, dtype=dg.float64)
    _, (h_n, c_n) = R.lstm_layer(x, None, w_ih * 0, w_hh * 0, big, big * 0)
    np.testing.assert_allclose(c_n.numpy(), steps)
    np.testing.assert_allclose(h_n.numpy(), math.tanh(steps))


@pytest.mark.parametrize("mode,kwargs", MODES, ids=MODE_IDS)
def test_float32_is_preserved_and_close_to_torch(mode, kwargs):
    tm, dm = pair(mode, kwargs, dtype=torch.float32, num_layers=2, bidirectional=True)
    x = rand(T, B, I, seed=1, dtype=np.float32)
    (t_outs, t_grads), (d_outs, d_grads) = run_both(tm, dm, x, None, mode == "LSTM")
    for d, t in zip(d_outs, t_outs):
        assert d.dtype == dg.float32
        assert_close(d, t, atol=2e-5, rtol=1e-4)
    for d, t in zip(d_grads, t_grads):
        assert d.dtype == dg.float32
        assert_close(d, t, atol=5e-5, rtol=1e-4)


def test_dropout_between_layers_train_and_eval():
    tm, dm = pair("LSTM", {}, num_layers=3, dropout=0.5)
    x = rand(T, B, I, seed=1)
    # evaluation: dropout does nothing, so deepgrad matches torch exactly
    tm.eval()
    dm.eval()
    check_against_torch(tm, dm, x, None, True)
    dm.train()
    dg.manual_seed(3)
    a, _ = dm(dg.tensor(x))
    dg.manual_seed(3)
    b, _ = dm(dg.tensor(x))
    dm.eval()
    c, _ = dm(dg.tensor(x))
    np.testing.assert_array_equal(a.numpy(force=True), b.numpy(force=True))  # deepgrad's generator
    assert not np.allclose(a.numpy(force=True), c.numpy(force=True))
    # dropout 1 zeroes the inputs of the layers above the first: deterministic, comparable with torch
    tm1, dm1 = pair("GRU", {}, num_layers=2, dropout=1.0)
    check_against_torch(tm1.train(), dm1.train(), x, None, False)


def test_forget_bias_option_and_helper():
    hidden = 4
    lstm = nn.LSTM(3, hidden, num_layers=2, bidirectional=True, forget_bias=1.0)
    for name, p in lstm.named_parameters():
        if name.startswith("bias"):
            f = p.numpy(force=True)[hidden:2 * hidden]
            np.testing.assert_array_equal(f, 1.0 if name.startswith("bias_ih") else 0.0)
            assert np.abs(np.delete(p.numpy(force=True), np.s_[hidden:2 * hidden])).max() <= 0.5
    # the total forget bias is what the gate sees: with zero weights and state, f = sigmoid(1)
    cell = nn.LSTMCell(3, hidden, forget_bias=2.5)
    total = (cell.bias_ih + cell.bias_hh).numpy(force=True)
    np.testing.assert_allclose(total[hidden:2 * hidden], 2.5)
    lstm.reset_parameters()  # re-initialising keeps the requested forget bias
    np.testing.assert_array_equal(lstm.bias_ih_l1_reverse.numpy(force=True)[hidden:2 * hidden], 1.0)
    model = nn.Sequential(nn.Linear(3, 3), nn.LSTM(3, hidden))
    assert nn.init_forget_bias_(model, 1.0) is model
    np.testing.assert_array_equal(model[1].bias_ih_l0.numpy(force=True)[hidden:2 * hidden], 1.0)
    np.testing.assert_array_equal(model[1].bias_hh_l0.numpy(force=True)[hidden:2 * hidden], 0.0)
    with pytest.raises(ValueError, match="contains no LSTM-kind layer"):
        nn.init_forget_bias_(nn.GRU(3, 4), 1.0)
    with pytest.raises(ValueError, match="bias=False"):
        nn.init_forget_bias_(nn.LSTM(3, 4, bias=False), 1.0)
    with pytest.raises(ValueError, match="no forget gate"):
        nn.GRU(3, 4, forget_bias=1.0)


def _live_graph_objects() -> int:
    """Live tensors and graph nodes (type() rather than isinstance: some modules' objects warn when
    their __class__ is read)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if issubclass(type(o), (dg.Tensor, Function)))


def test_detach_state_keeps_memory_flat_over_1000_steps():
    dg.manual_seed(0)
    lstm = nn.LSTM(3, 4)
    x = dg.randn(2, 2, 3)
    state, counts = None, []
    for step in range(1000):
        out, state = lstm(x, state)
        (out.sum() + state[1].sum()).backward()
        state = nn.detach_state(state)
        for p in lstm.parameters():
            p.grad = None
        if step in (9, 999):
            counts.append(_live_graph_objects())
    assert counts[0] == counts[1]
    assert not state[0].requires_grad and state[0]._ctx is None
    # without detaching, every step's graph stays reachable from the carried state
    state, before = None, _live_graph_objects()
    for _ in range(20):
        out, state = lstm(x, state)
    assert _live_graph_objects() - before > 100


def test_detach_state_forms():
    a = dg.ones(2, requires_grad=True) * 2
    b = dg.ones(2, requires_grad=True) * 3
    assert nn.detach_state(None) is None
    assert not nn.detach_state(a).requires_grad
    pair_ = nn.detach_state((a, b))
    assert isinstance(pair_, tuple) and not any(t.requires_grad for t in pair_)
    nested = nn.detach_state([a, (b,)])
    assert isinstance(nested, list) and not nested[1][0].requires_grad
    np.testing.assert_array_equal(pair_[1].numpy(), 3.0)
    with pytest.raises(TypeError, match="detach_state: expected a Tensor"):
        nn.detach_state(3.0)


def test_inference_under_no_grad_keeps_no_graph():
    lstm = nn.GRU(3, 4, num_layers=2)
    with dg.no_grad():
        out, h = lstm(dg.randn(5, 2, 3))
    assert out._ctx is None and h._ctx is None and not out.requires_grad


# ---------------------------------------------------------------------------- errors
def test_layer_errors_name_expected_and_given():
    lstm = nn.LSTM(4, 3, num_layers=2)
    with pytest.raises(RuntimeError, match=r"LSTM: input.size\(-1\) must be equal to input_size. Expected 4, "
                                           r"got 5"):
        lstm(dg.zeros(2, 2, 5))
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D"):
        lstm(dg.zeros(2, 2, 2, 4))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 2, 3\), got \[1, 2, 3\]"):
        lstm(dg.zeros(2, 2, 4), (dg.zeros(1, 2, 3), dg.zeros(2, 2, 3)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(2, 2, 3\), got \[2, 1, 3\]"):
        lstm(dg.zeros(2, 2, 4), (dg.zeros(2, 2, 3), dg.zeros(2, 1, 3)))
    with pytest.raises(TypeError, match=r"LSTM: expected hx to be a tuple \(h_0, c_0\)"):
        lstm(dg.zeros(2, 2, 4), dg.zeros(2, 2, 3))
    with pytest.raises(RuntimeError, match="for unbatched 2-D input, hx should also be 2-D"):
        lstm(dg.zeros(2, 4), (dg.zeros(2, 2, 3), dg.zeros(2, 2, 3)))
    with pytest.raises(ValueError, match=r"input dtype \(deepgrad.float64\) does not match weight dtype"):
        lstm(dg.zeros(2, 2, 4, dtype=dg.float64))
    with pytest.raises(RuntimeError, match="sequence length to be larger than 0"):
        lstm(dg.zeros(0, 2, 4))
    with pytest.raises(RuntimeError, match=r"GRU: Expected hidden\[0\] size \(1, 2, 3\)"):
        nn.GRU(4, 3)(dg.zeros(2, 2, 4), dg.zeros(2, 2, 3))


def test_constructor_errors():
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(4, 3, dropout=2)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(4, 3, dropout=0.5)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sig'"):
        nn.RNN(4, 3, nonlinearity="sig")
    with pytest.raises(ValueError, match="hidden_size must be an integer greater than zero, got 0"):
        nn.LSTM(4, 0)
    with pytest.raises(ValueError, match="num_layers must be an integer greater than zero, got 0"):
        nn.GRU(4, 3, 0)
    with pytest.raises(ValueError, match="unknown recurrent mode 'XYZ'"):
        nn.RNNBase("XYZ", 4, 3)
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        nn.LSTM(4, 3, device="cuda")
    assert nn.GRUCell(4, 3, device="cpu", dtype=dg.float64).weight_hh.dtype == dg.float64


def test_cell_errors_name_expected_and_given():
    cell = nn.LSTMCell(4, 3)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 4"):
        cell(dg.zeros(2, 5))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0"):
        cell(dg.zeros(2, 4), (dg.zeros(3, 3), dg.zeros(3, 3)))
    with pytest.raises(ValueError, match="LSTMCell: Expected input to be 1D or 2D, got 3D"):
        cell(dg.zeros(2, 2, 4))
    with pytest.raises(RuntimeError, match="hidden0 has inconsistent hidden_size: got 5, expected 3"):
        nn.GRUCell(4, 3)(dg.zeros(2, 4), dg.zeros(2, 5))


def test_functional_layer_errors():
    (x, w_ih, w_hh, b_ih, b_hh), h0, c0 = _layer_args(4)
    with pytest.raises(ValueError, match=r"lstm_layer: expected weight_ih of shape \(24, 5\)"):
        R.lstm_layer(x, None, w_hh, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match="expected input of shape"):
        R.gru_layer(x[0], None, w_ih, w_hh)
    with pytest.raises(TypeError, match="input's dtype"):
        R.lstm_layer(x.float(), None, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match="give both bias_ih and bias_hh"):
        R.lstm_layer(x, None, w_ih, w_hh, b_ih, None)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        R.rnn_layer(x, None, w_ih, w_hh, nonlinearity="gelu")


def test_repr_matches_torch():
    assert repr(nn.LSTM(4, 3, 2, bias=False, batch_first=True, dropout=0.1, bidirectional=True)) == \
        "LSTM(4, 3, num_layers=2, bias=False, batch_first=True, dropout=0.1, bidirectional=True)"
    assert repr(nn.RNNCell(4, 3, nonlinearity="relu")) == "RNNCell(4, 3, nonlinearity=relu)"
    assert repr(nn.GRU(4, 3)) == "GRU(4, 3)"
