"""Batch norm, layer norm and local response norm against PyTorch: values, gradients, running
statistics, state_dict layout, float32 preservation and user errors."""
import numpy as np
import pytest
import torch

import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.nn.functional as F
from deepgrad.autograd import gradcheck
from tests.helpers import assert_close, compare, rand, to_dg, to_torch

TF = torch.nn.functional


def _copy_params(dmod, tmod):
    """Copy torch's parameters and buffers into the deepgrad module (via its state_dict)."""
    dmod.load_state_dict({k: v.detach().numpy().copy() for k, v in tmod.state_dict().items()})


def _randomise(tmod, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in tmod.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))


def _run_step(dmod, tmod, x, seed):
    """One forward/backward with the same input and output weights in both libraries; compares the
    output and the gradients of the input and of every parameter."""
    dx, tx = to_dg(x, True), to_torch(x, True)
    dy, ty = dmod(dx), tmod(tx)
    assert_close(dy, ty, 1e-9, 1e-7, "forward")
    w = rand(*ty.shape, seed=seed)
    (dy * to_dg(w)).sum().backward()
    (ty * to_torch(w)).sum().backward()
    assert_close(dx.grad, tx.grad, 1e-9, 1e-7, "input grad")
    for (name, dp), tp in zip(dmod.named_parameters(), tmod.parameters()):
        assert_close(dp.grad, tp.grad, 1e-9, 1e-7, f"grad of {name}")
        dp.grad, tp.grad = None, None


def _assert_state_equal(dmod, tmod):
    dsd, tsd = dmod.state_dict(), tmod.state_dict()
    assert list(dsd) == list(tsd)
    for k in tsd:
        assert dsd[k].dtype.name == str(tsd[k].dtype).replace("torch.", ""), k
        assert_close(dsd[k], tsd[k], 1e-9, 1e-7, k)


# ---------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 3, 4, 2), (2, 3, 2, 2, 3)])
def test_batch_norm_functional_training_matches_torch(shape):
    w, b = rand(3, seed=3), rand(3, seed=4)
    compare(lambda x, w, b: F.batch_norm(x, None, None, w, b, True, 0.1, 1e-3), rand(*shape), w, b,
            torch_fn=lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, True, 0.1, 1e-3),
            atol=1e-9, rtol=1e-7)


def test_batch_norm_functional_eval_uses_running_stats():
    rm, rv = rand(3, seed=1), np.abs(rand(3, seed=2)) + 0.5
    compare(lambda x, w, b: F.batch_norm(x, to_dg(rm), to_dg(rv), w, b, False),
            rand(4, 3, 5), rand(3, seed=3), rand(3, seed=4),
            torch_fn=lambda x, w, b: TF.batch_norm(x, to_torch(rm), to_torch(rv), w, b, False),
            atol=1e-9, rtol=1e-7)


def test_batch_norm_functional_updates_running_stats_in_place():
    x = rand(5, 3, 4)
    drm, drv = dg.zeros(3, dtype=dg.float64), dg.ones(3, dtype=dg.float64)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    F.batch_norm(to_dg(x), drm, drv, training=True, momentum=0.3)
    torch.nn.functional.batch_norm(to_torch(x), trm, trv, training=True, momentum=0.3)
    assert_close(drm, trm, 1e-12, 1e-10, "running_mean")
    assert_close(drv, trv, 1e-12, 1e-10, "running_var")  # unbiased variance in the update


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)),
                                        ("BatchNorm2d", (4, 3, 3, 2)), ("BatchNorm3d", (2, 3, 2, 2, 2))])
def test_batch_norm_module_several_steps_then_eval(cls, shape, momentum):
    tmod = getattr(torch.nn, cls)(3, momentum=momentum).double()
    _randomise(tmod)
    dmod = getattr(nn, cls)(3, momentum=momentum).double()
    _copy_params(dmod, tmod)
    for step in range(3):
        _run_step(dmod, tmod, rand(*shape, seed=10 + step) * (step + 1) + step, seed=step)
        _assert_state_equal(dmod, tmod)
    assert int(dmod.num_batches_tracked) == 3 and dmod.num_batches_tracked.dtype == dg.int64
    dmod.eval(), tmod.eval()
    _run_step(dmod, tmod, rand(*shape, seed=20), seed=5)
    _assert_state_equal(dmod, tmod)  # evaluation leaves the statistics alone


@pytest.mark.parametrize("kwargs", [dict(affine=False), dict(bias=False), dict(track_running_stats=False),
                                    dict(affine=False, track_running_stats=False)])
def test_batch_norm_options_match_torch(kwargs):
    tmod = torch.nn.BatchNorm2d(3, **kwargs).double()
    _randomise(tmod, seed=1)
    dmod = nn.BatchNorm2d(3, **kwargs).double()
    _copy_params(dmod, tmod)
    assert list(dmod.state_dict()) == list(tmod.state_dict())
    assert repr(dmod) == repr(tmod)
    _run_step(dmod, tmod, rand(3, 3, 2, 2), seed=0)
    dmod.eval(), tmod.eval()  # without running statistics, evaluation also uses the batch's
    _run_step(dmod, tmod, rand(3, 3, 2, 2, seed=1), seed=1)
    _assert_state_equal(dmod, tmod)


def test_batch_norm_state_dict_layout_and_defaults():
    d, t = nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)
    _assert_state_equal(d, t)
    assert [n for n, _ in d.named_parameters()] == ["weight", "bias"]
    assert d.num_batches_tracked.shape == () and d.num_batches_tracked.dtype == dg.int64
    d.load_state_dict(t.state_dict())  # a torch checkpoint loads as is


def test_batch_norm_reset_running_stats():
    m = nn.BatchNorm1d(2)
    m(dg.randn(4, 2) * 3 + 1)
    m.reset_running_stats()
    assert m.running_mean.tolist() == [0, 0] and m.running_var.tolist() == [1, 1]
    assert int(m.num_batches_tracked) == 0


def test_batch_norm_output_modified_in_place_keeps_gradient_correct():
    x = rand(4, 3, 2, 2)
    dm, tm = nn.BatchNorm2d(3, affine=False).double(), torch.nn.BatchNorm2d(3, affine=False).double()
    compare(lambda v: dm(v).relu_(), x, torch_fn=lambda v: tm(v).relu_(), atol=1e-9, rtol=1e-7)


def test_batch_norm_gradcheck_float64():
    x = dg.tensor(rand(3, 2, 2), requires_grad=True)
    w = dg.tensor(rand(2, seed=1), requires_grad=True)
    b = dg.tensor(rand(2, seed=2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, True), (x, w, b))
    rm, rv = dg.tensor(rand(2, seed=3)), dg.tensor(np.abs(rand(2, seed=4)) + 0.5)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, False), (x, w, b))


def test_batch_norm_float32_stays_float32():
    m = nn.BatchNorm2d(3)
    x = dg.randn(4, 3, 2, 2, requires_grad=True)
    y = m(x)
    y.sum().backward()
    assert y.dtype == dg.float32 and x.grad.dtype == dg.float32 and m.weight.grad.dtype == dg.float32
    assert m.running_mean.dtype == dg.float32 and m.running_var.dtype == dg.float32
    m.eval()
    assert m(x).dtype == dg.float32


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 3 channels .* got 4 .*\(2, 4, 5, 5\)"):
        nn.BatchNorm2d(3)(dg.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected a 4D .* got a 3D input .* \(2, 3, 5\)"):
        nn.BatchNorm2d(3)(dg.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected a 2D .* or 3D .* got a 4D"):
        nn.BatchNorm1d(3)(dg.randn(2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"more than 1 value per channel .* \(1, 3\)"):
        nn.BatchNorm1d(3)(dg.randn(1, 3))
    with pytest.raises(RuntimeError, match="running_mean and running_var must be given"):
        F.batch_norm(dg.randn(4, 3), None, None, training=False)
    with pytest.raises(TypeError, match="batch_norm: expected a floating-point input, got deepgrad.int64"):
        F.batch_norm(dg.tensor([[1, 2], [3, 4]]), None, None, training=True)
    with pytest.raises(RuntimeError, match=r"running_mean should have 3 elements .* got shape \(4,\)"):
        F.batch_norm(dg.randn(4, 3), dg.zeros(4), dg.ones(3), training=True)


# ---------------------------------------------------------------------------- layer norm
@pytest.mark.parametrize("shape, normalized", [((4, 5), (5,)), ((2, 3, 6), (6,)), ((2, 3, 4), (3, 4)),
                                               ((5,), (5,))])
def test_layer_norm_matches_torch(shape, normalized):
    compare(lambda x, w, b: F.layer_norm(x, normalized, w, b, 1e-4), rand(*shape),
            rand(*normalized, seed=1), rand(*normalized, seed=2),
            torch_fn=lambda x, w, b: torch.nn.functional.layer_norm(x, normalized, w, b, 1e-4),
            atol=1e-9, rtol=1e-7)


@pytest.mark.parametrize("kwargs", [{}, dict(elementwise_affine=False), dict(bias=False)])
def test_layer_norm_module_matches_torch(kwargs):
    tmod = torch.nn.LayerNorm((3, 4), **kwargs).double()
    _randomise(tmod, seed=2)
    dmod = nn.LayerNorm((3, 4), **kwargs).double()
    _copy_params(dmod, tmod)
    assert list(dmod.state_dict()) == list(tmod.state_dict()) and repr(dmod) == repr(tmod)
    _run_step(dmod, tmod, rand(2, 5, 3, 4), seed=3)


def test_layer_norm_gradcheck_and_float32():
    x = dg.tensor(rand(2, 3, 2), requires_grad=True)
    w = dg.tensor(rand(3, 2, seed=1), requires_grad=True)
    b = dg.tensor(rand(3, 2, seed=2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (3, 2), w, b), (x, w, b))
    m = nn.LayerNorm(4)
    x32 = dg.randn(3, 4, requires_grad=True)
    y = m(x32)
    (y * y).sum().backward()
    assert y.dtype == dg.float32 and x32.grad.dtype == dg.float32 and m.weight.grad.dtype == dg.float32


def test_layer_norm_errors():
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[4\], expected .*\[\*, 4\], got \(2, 3\)"):
        nn.LayerNorm(4)(dg.randn(2, 3))
    with pytest.raises(RuntimeError, match=r"expected weight of shape \(3,\), got \(4,\)"):
        F.layer_norm(dg.randn(2, 3), (3,), dg.ones(4))


# ---------------------------------------------------------------------------- local response norm
@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("shape", [(2, 6, 3), (2, 6, 3, 2)])
def test_local_response_norm_matches_torch(size, shape):
    compare(lambda x: F.local_response_norm(x, size, 0.5, 0.75, 2.0), rand(*shape),
            torch_fn=lambda x: torch.nn.functional.local_response_norm(x, size, 0.5, 0.75, 2.0),
            atol=1e-9, rtol=1e-7)


def test_local_response_norm_module_gradcheck_and_float32():
    m, t = nn.LocalResponseNorm(3, alpha=0.2, beta=0.6, k=1.5), torch.nn.LocalResponseNorm(3, 0.2, 0.6, 1.5)
    assert repr(m) == repr(t)
    compare(m, rand(2, 5, 2, 2), torch_fn=t, atol=1e-9, rtol=1e-7)
    x = dg.tensor(rand(1, 4, 3), requires_grad=True)
    assert gradcheck(lambda x: F.local_response_norm(x, 3, 0.3, 0.75, 1.0), (x,))
    x32 = dg.randn(2, 4, 3, requires_grad=True)
    y = m(x32)
    y.sum().backward()
    assert y.dtype == dg.float32 and x32.grad.dtype == dg.float32


def test_local_response_norm_errors():
    with pytest.raises(ValueError, match=r"3 or more dims .* got shape \(4, 5\)"):
        F.local_response_norm(dg.randn(4, 5), 2)
    with pytest.raises(ValueError, match="size must be a positive integer, got 0"):
        F.local_response_norm(dg.randn(1, 4, 5), 0)
