"""Linear, Identity, Flatten, Unflatten and the activation modules: values and gradients against
PyTorch (float64, weights copied), float32 preservation, reprs, errors and Linear's default init."""
import math

import numpy as np
import pytest
import torch

import deepgrad as dg
import deepgrad.nn as nn
from deepgrad.autograd import gradcheck
from tests.helpers import assert_close, compare, rand

tnn = torch.nn


def _linear_pair(in_f, out_f, bias=True):
    t = tnn.Linear(in_f, out_f, bias=bias).double()
    d = nn.Linear(in_f, out_f, bias=bias, dtype=dg.float64)
    d.load_state_dict(t.state_dict())
    return t, d


# ---------------------------------------------------------------------------- Linear
def test_linear_parameter_names_shapes_and_repr_match_torch():
    for bias in (True, False):
        t, d = tnn.Linear(5, 3, bias=bias), nn.Linear(5, 3, bias=bias)
        assert [(n, tuple(p.shape)) for n, p in d.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in t.named_parameters()]
        assert repr(d) == repr(t)
        assert (d.in_features, d.out_features) == (5, 3)
        assert all(p.dtype == dg.float32 and p.requires_grad for p in d.parameters())
    assert nn.Linear(2, 2, bias=False).bias is None
    assert nn.Linear(2, 2, dtype=dg.float64).weight.dtype == dg.float64


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5), (5,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_value_and_grads_match_torch(shape, bias):
    t, d = _linear_pair(5, 3, bias)
    x = rand(*shape)
    compare(lambda v: d(v), x, torch_fn=lambda v: t(v))
    w = rand(*(shape[:-1] + (3,)), seed=2)
    tx, dx = torch.tensor(x, requires_grad=True), dg.tensor(x, requires_grad=True)
    (t(tx) * torch.tensor(w)).sum().backward()
    (d(dx) * dg.tensor(w)).sum().backward()
    assert_close(d.weight.grad, t.weight.grad, what="weight grad")
    if bias:
        assert_close(d.bias.grad, t.bias.grad, what="bias grad")


def test_linear_gradcheck_and_float32():
    d = nn.Linear(3, 2, dtype=dg.float64)
    x = dg.tensor(rand(2, 3), requires_grad=True)
    assert gradcheck(lambda v, w, b: dg.nn.functional.linear(v, w, b), (x, d.weight, d.bias))
    f = nn.Linear(3, 2)
    xf = dg.tensor(rand(4, 3, dtype=np.float32), requires_grad=True)
    out = f(xf)
    out.sum().backward()
    assert out.dtype == dg.float32 and xf.grad.dtype == dg.float32 and f.weight.grad.dtype == dg.float32


def test_linear_errors_name_the_shapes():
    with pytest.raises(RuntimeError, match=r"linear: input of shape \(2, 4\) does not match weight of "
                                           r"shape \(3, 5\)"):
        nn.Linear(5, 3)(dg.zeros(2, 4))
    with pytest.raises(ValueError, match="Linear: in_features must be a non-negative int, got 2.5"):
        nn.Linear(2.5, 3)
    with pytest.raises(RuntimeError, match="not available"):
        nn.Linear(2, 2, device="cuda")


def test_linear_default_init_follows_torchs_distribution():
    """kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in)) for the weight; the bias uses the
    same bound. Checked by bounds and variance over many draws, and against torch's own draws."""
    dg.manual_seed(0)
    in_f = 50
    bound = 1 / math.sqrt(in_f)
    weights = np.concatenate([nn.Linear(in_f, 40).weight.detach().numpy().ravel() for _ in range(10)])
    biases = np.concatenate([nn.Linear(in_f, 400).bias.detach().numpy() for _ in range(10)])
    torch.manual_seed(0)
    t_weights = np.concatenate([tnn.Linear(in_f, 40).weight.detach().numpy().ravel() for _ in range(10)])
    for v in (weights, biases, t_weights):
        assert np.abs(v).max() <= bound and np.abs(v).max() > 0.99 * bound
        assert v.var() == pytest.approx(bound ** 2 / 3, rel=0.05)
        assert abs(v.mean()) < 0.03 * bound
    lin = nn.Linear(3, 2)
    before = lin.weight.detach().numpy().copy()
    lin.reset_parameters()
    assert not np.array_equal(before, lin.weight.detach().numpy())
    empty = nn.Linear(0, 2)
    assert empty.weight.shape == (2, 0) and not empty.bias.detach().numpy().any()


# ---------------------------------------------------------------------------- shape layers
@pytest.mark.parametrize("make", [
    lambda lib: lib.Identity(3, unused=True),
    lambda lib: lib.Flatten(),
    lambda lib: lib.Flatten(0, 1),
    lambda lib: lib.Flatten(-2),
    lambda lib: lib.Unflatten(1, (2, 6)),
    lambda lib: lib.Unflatten(-1, [3, -1]),
], ids=["identity", "flatten", "flatten01", "flatten-2", "unflatten", "unflatten_list"])
def test_shape_layers_match_torch(make):
    d, t = make(nn), make(tnn)
    assert repr(d) == repr(t)
    compare(lambda v: d(v), rand(3, 12) if "Unflatten" in repr(d) else rand(3, 2, 2, 3),
            torch_fn=lambda v: t(v))


def test_unflatten_argument_errors():
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints, got int"):
        nn.Unflatten(1, 6)
    with pytest.raises(TypeError, match="got an element of type float at position 1"):
        nn.Unflatten(1, (2, 3.0))


# ---------------------------------------------------------------------------- activations
ACTIVATIONS = [
    lambda lib: lib.ReLU(),
    lambda lib: lib.LeakyReLU(),
    lambda lib: lib.LeakyReLU(0.2),
    lambda lib: lib.ELU(),
    lambda lib: lib.ELU(alpha=0.5),
    lambda lib: lib.GELU(),
    lambda lib: lib.GELU(approximate="tanh"),
    lambda lib: lib.Sigmoid(),
    lambda lib: lib.Tanh(),
    lambda lib: lib.Softplus(),
    lambda lib: lib.Softplus(beta=2.0, threshold=1.0),
    lambda lib: lib.Softmax(dim=1),
    lambda lib: lib.Softmax(dim=-1),
    lambda lib: lib.LogSoftmax(dim=1),
    lambda lib: lib.LogSoftmax(dim=0),
]
IDS = [repr(make(tnn)) for make in ACTIVATIONS]

# bugs in deepgrad/ops/elementwise.py (reported, not owned here); each reproduction is in the reason
def _activation_input():
    x = rand(3, 4, 5) * 3
    x[0, 0, :3] = [0.0, 1e-9, -1e-9]  # values at the kink
    x[1, 1, :2] = [30.0, -30.0]       # saturated regions
    return x


@pytest.mark.parametrize("make", ACTIVATIONS, ids=IDS)
def test_activation_value_grad_and_repr_match_torch(make):
    d, t = make(nn), make(tnn)
    assert repr(d) == repr(t)
    compare(lambda v: d(v), _activation_input(), torch_fn=lambda v: t(v), atol=1e-10, rtol=1e-7)


@pytest.mark.parametrize("make", ACTIVATIONS, ids=IDS)
def test_activation_gradcheck_and_float32(make):
    d = make(nn)
    x = dg.tensor(rand(2, 3, seed=4) + 0.05, requires_grad=True)  # away from the kink at 0
    assert gradcheck(lambda v: d(v), (x,))
    xf = dg.tensor(_activation_input().astype(np.float32), requires_grad=True)
    out = d(xf)
    (out * out).sum().backward()
    assert out.dtype == dg.float32 and xf.grad.dtype == dg.float32
    assert np.isfinite(out.detach().numpy()).all() and np.isfinite(xf.grad.numpy()).all()


@pytest.mark.parametrize("make", [lambda lib: lib.ReLU(inplace=True),
                                  lambda lib: lib.LeakyReLU(0.1, inplace=True),
                                  lambda lib: lib.ELU(0.7, inplace=True)],
                         ids=["relu", "leaky_relu", "elu"])
def test_inplace_activations_overwrite_their_input_with_correct_gradients(make):
    d, t = make(nn), make(tnn)
    assert repr(d) == repr(t)
    x = _activation_input()
    dx, tx = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    dh, th = dx * 2, tx * 2  # a non-leaf input, as after a Linear
    d_out, t_out = d(dh), t(th)
    assert d_out is dh and t_out is th  # the input itself is returned, modified
    assert_close(dh, th, what="overwritten input")
    w = rand(*x.shape, seed=9)
    (d_out * dg.tensor(w)).sum().backward()
    (t_out * torch.tensor(w)).sum().backward()
    assert_close(dx.grad, tx.grad, what="grad through the in-place activation")

    plain = dg.tensor(x)  # without autograd the array is modified directly
    expected = t(torch.tensor(x)).numpy()
    assert d(plain) is plain and np.allclose(plain.numpy(), expected)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        d(dg.tensor(x, requires_grad=True))


def test_inplace_relu_in_a_network_trains_like_torch():
    t = tnn.Sequential(tnn.Linear(3, 4), tnn.ReLU(inplace=True), tnn.Linear(4, 1)).double()
    d = nn.Sequential(nn.Linear(3, 4), nn.ReLU(inplace=True), nn.Linear(4, 1))
    d.load_state_dict(t.state_dict())
    d.double()
    x = rand(6, 3)
    t(torch.tensor(x)).pow(2).sum().backward()
    d(dg.tensor(x)).pow(2).sum().backward()
    for (name, dp), tp in zip(d.named_parameters(), t.parameters()):
        assert_close(dp.grad, tp.grad, what=name)


def test_activation_argument_errors_and_softmax_default_dim():
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh', got 'fast'"):
        nn.GELU("fast")
    x = rand(2, 3)
    with pytest.warns(UserWarning, match="implicit dimension choice"):
        out = nn.Softmax()(dg.tensor(x))
    with pytest.warns(UserWarning):
        ref = tnn.Softmax()(torch.tensor(x))
    assert_close(out, ref)
    with pytest.raises(IndexError, match="dimension 2 is out of range"):
        nn.LogSoftmax(dim=2)(dg.tensor(x))
