"""deepgrad.nn.utils against torch.nn.utils (and torch.renorm for the max-norm constraint)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import deepgrad as dg
from deepgrad.nn import utils as U
from tests.helpers import assert_close, compare, rand

SHAPES = [(4, 3), (5,), (2, 3, 2)]


def _params_with_grads(dtype=np.float64, scale=1.0, seed=0, without_grad=True):
    """The same parameters with the same gradients in both libraries (the last one has no grad)."""
    d, t = [], []
    for i, shape in enumerate(SHAPES):
        dp = dg.nn.Parameter(dg.tensor(rand(*shape, seed=seed + i, dtype=dtype)))
        tp = torch.nn.Parameter(torch.tensor(rand(*shape, seed=seed + i, dtype=dtype)))
        g = rand(*shape, seed=seed + 10 + i, dtype=dtype) * scale
        dp.grad, tp.grad = dg.tensor(g), torch.tensor(g)
        d.append(dp)
        t.append(tp)
    if without_grad:
        d.append(dg.nn.Parameter(dg.ones(2, dtype=dg.float64 if dtype == np.float64 else dg.float32)))
        t.append(torch.nn.Parameter(torch.ones(2)))
    return d, t


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, 0.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    d, t = _params_with_grads()
    d_total = U.clip_grad_norm_(d, max_norm, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(t, max_norm, norm_type)
    assert isinstance(d_total, dg.Tensor) and d_total.shape == ()
    assert_close(d_total, t_total, atol=1e-12, rtol=1e-12, what="total norm")
    for dp, tp in zip(d[:-1], t[:-1]):
        assert_close(dp.grad, tp.grad, atol=1e-12, rtol=1e-12, what="clipped grad")
    assert d[-1].grad is None


def test_clip_grad_norm_leaves_small_gradients_untouched_and_clips_to_max_norm():
    d, _ = _params_with_grads(without_grad=False)
    before = [p.grad.numpy().copy() for p in d]
    total = float(U.clip_grad_norm_(d, max_norm=100.0))
    for p, b in zip(d, before):
        np.testing.assert_array_equal(p.grad.numpy(), b)
    U.clip_grad_norm_(iter(d), max_norm=total / 4)
    clipped = math.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in d))
    assert clipped == pytest.approx(total / 4, rel=1e-5)


def test_clip_grad_norm_float32_keeps_dtype():
    d, t = _params_with_grads(np.float32, without_grad=False)
    d_total = U.clip_grad_norm_(d, 0.3)
    t_total = torch.nn.utils.clip_grad_norm_(t, 0.3)
    assert d_total.dtype == dg.float32
    assert_close(d_total, t_total, atol=1e-6, rtol=1e-6)
    for dp, tp in zip(d, t):
        assert dp.grad.dtype == dg.float32
        assert_close(dp.grad, tp.grad, atol=1e-7, rtol=1e-6)


def test_clip_grad_norm_single_tensor_and_empty():
    w = dg.nn.Parameter(dg.tensor([3.0, 4.0]))
    w.grad = dg.tensor([3.0, 4.0])
    assert float(U.clip_grad_norm_(w, 1.0)) == 5.0
    np.testing.assert_allclose(w.grad.numpy(), [0.6, 0.8], rtol=1e-6)
    assert float(U.clip_grad_norm_([], 1.0)) == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        U.clip_grad_norm_((p for p in []), 1.0)


def test_clip_grad_norm_nonfinite():
    d, t = _params_with_grads(without_grad=False)
    d[0].grad._data[0, 0] = np.inf
    t[0].grad[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="non-finite.*error_if_nonfinite=False"):
        U.clip_grad_norm_(d, 1.0, error_if_nonfinite=True)
    d_total = U.clip_grad_norm_(d, 1.0)
    t_total = torch.nn.utils.clip_grad_norm_(t, 1.0)
    assert float(d_total) == float(t_total) == math.inf
    for dp, tp in zip(d, t):  # scaled by 0 as PyTorch does (inf * 0 = nan)
        np.testing.assert_array_equal(dp.grad.numpy(), tp.grad.numpy())


def test_get_total_norm_and_clip_grads_with_norm_match_torch():
    d, t = _params_with_grads(without_grad=False)
    d_total = U.get_total_norm([p.grad for p in d], norm_type=3.0)
    t_total = torch.nn.utils.get_total_norm([p.grad for p in t], norm_type=3.0)
    assert_close(d_total, t_total, atol=1e-12, rtol=1e-12)
    U.clip_grads_with_norm_(d, 0.7, d_total)
    torch.nn.utils.clip_grads_with_norm_(t, 0.7, t_total)
    for dp, tp in zip(d, t):
        assert_close(dp.grad, tp.grad, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_value_matches_torch(dtype):
    d, t = _params_with_grads(dtype, scale=2.0)
    U.clip_grad_value_(d, 0.8)
    torch.nn.utils.clip_grad_value_(t, 0.8)
    for dp, tp in zip(d[:-1], t[:-1]):
        assert dp.grad.numpy().dtype == dtype
        assert_close(dp.grad, tp.grad, atol=0, rtol=0)
    assert d[-1].grad is None


def test_clip_bumps_gradient_version():
    w = dg.nn.Parameter(dg.tensor([3.0, 4.0]))
    w.grad = dg.tensor([3.0, 4.0])
    v = w.grad._version[0]
    U.clip_grad_value_(w, 1.0)
    U.clip_grad_norm_(w, 0.1)
    assert w.grad._version[0] == v + 2


@pytest.mark.parametrize("shape,dim", [((6, 4), 0), ((6, 4), 1), ((3, 2, 3, 3), 0), ((3, 2, 3, 3), -1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_norm_matches_torch_renorm(shape, dim, dtype):
    w = rand(*shape, seed=3, dtype=dtype)
    axes = tuple(i for i in range(len(shape)) if i != dim % len(shape))
    c = float(np.median(np.sqrt((w.astype(np.float64) ** 2).sum(axis=axes))))  # clip about half
    p = dg.nn.Parameter(dg.tensor(w))
    version = p._version[0]
    U.max_norm_(p, c, dim=dim)
    expected = torch.renorm(torch.tensor(w), 2, dim, c)
    assert p.dtype == dg.tensor(w).dtype
    assert_close(p, expected, atol=1e-6 if dtype == np.float32 else 1e-12,
                 rtol=1e-6 if dtype == np.float32 else 1e-12)
    norms = np.sqrt((p.detach().numpy().astype(np.float64) ** 2).sum(axis=axes))
    assert (norms <= c * (1 + 1e-5)).all()
    untouched = np.sqrt((w.astype(np.float64) ** 2).sum(axis=axes)) <= c
    assert untouched.any() and not untouched.all()
    kept = np.flatnonzero(untouched)
    np.testing.assert_array_equal(np.take(p.detach().numpy(), kept, axis=dim % len(shape)),
                                  np.take(w, kept, axis=dim % len(shape)))
    assert p._version[0] == version + 1


def test_max_norm_on_a_list_of_weights():
    a, b = rand(4, 3, seed=1) * 3, rand(2, 4, seed=2) * 3
    pa, pb = dg.nn.Parameter(dg.tensor(a)), dg.nn.Parameter(dg.tensor(b))
    U.max_norm_([pa, pb], 2.0)
    assert_close(pa, torch.renorm(torch.tensor(a), 2, 0, 2.0), atol=1e-12)
    assert_close(pb, torch.renorm(torch.tensor(b), 2, 0, 2.0), atol=1e-12)


def test_max_norm_errors():
    w = dg.nn.Parameter(dg.zeros(3, 2))
    with pytest.raises(IndexError, match=r"dim 2 is out of range for a weight of shape \(3, 2\)"):
        U.max_norm_(w, 1.0, dim=2)
    with pytest.raises(ValueError, match="max_norm must be >= 0, got -1"):
        U.max_norm_(w, -1.0)
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*shape \(3,\); pass weights only"):
        U.max_norm_(dg.nn.Parameter(dg.zeros(3)), 1.0)
    with pytest.raises(TypeError, match="max_norm_: expected Tensors"):
        U.max_norm_([np.zeros(3)], 1.0)


def test_l1_penalty_value_and_gradient_match_torch():
    a, b = rand(3, 4, seed=0), rand(5, seed=1)
    a[0, 0] = 0.0  # |w| at 0: gradient 0, as PyTorch

    def fn(x, y, l1):
        return l1([x, y]) * 0.5

    compare(lambda x, y: fn(x, y, U.l1_penalty), a, b,
            torch_fn=lambda x, y: fn(x, y, lambda ps: sum(p.abs().sum() for p in ps)))
    compare(lambda x, y: U.l2_penalty([x, y]), a, b,
            torch_fn=lambda x, y: sum((p ** 2).sum() for p in [x, y]))


def test_penalties_gradcheck_float32_and_edge_cases():
    x = dg.tensor(rand(2, 3, seed=4) + 0.1, requires_grad=True)
    assert dg.autograd.gradcheck(lambda t: U.l2_penalty(t), (x,))
    w = dg.nn.Parameter(dg.tensor(rand(3, seed=5, dtype=np.float32)))
    out = U.l1_penalty(w)
    assert out.dtype == dg.float32 and out.shape == ()
    out.backward()
    assert w.grad.dtype == dg.float32
    np.testing.assert_array_equal(w.grad.numpy(), np.sign(w.detach().numpy()))
    assert float(U.l1_penalty([])) == 0.0
    with pytest.raises(TypeError, match="l1_penalty: expected Tensors"):
        U.l1_penalty([1.0])


def test_parameters_to_vector_matches_torch_and_is_differentiable():
    arrays = [rand(3, 2, seed=0), rand(4, seed=1), rand(1, 2, 2, seed=2)]
    compare(lambda *ps: U.parameters_to_vector(ps) * 2, *arrays,
            torch_fn=lambda *ps: torch.nn.utils.parameters_to_vector(ps) * 2)


def test_vector_to_parameters_round_trip():
    d, t = _params_with_grads(without_grad=False)
    vec = rand(sum(int(np.prod(s)) for s in SHAPES), seed=9)
    versions = [p._version[0] for p in d]
    U.vector_to_parameters(dg.tensor(vec), d)
    torch.nn.utils.vector_to_parameters(torch.tensor(vec), t)
    for dp, tp, v in zip(d, t, versions):
        assert_close(dp, tp, atol=0, rtol=0)
        assert dp._version[0] == v + 1
    np.testing.assert_array_equal(U.parameters_to_vector(d).detach().numpy(), vec)
    f32 = dg.nn.Parameter(dg.zeros(2, dtype=dg.float32))
    U.vector_to_parameters(dg.tensor([1.5, 2.5]), [f32])
    assert f32.dtype == dg.float32 and f32.tolist() == [1.5, 2.5]


def test_vector_to_parameters_errors():
    p = dg.nn.Parameter(dg.zeros(2, 2))
    with pytest.raises(TypeError, match="expected vec to be a Tensor, got ndarray"):
        U.vector_to_parameters(np.zeros(4), [p])
    with pytest.raises(ValueError, match=r"expected a 1-D vector, got shape \(2, 2\)"):
        U.vector_to_parameters(dg.zeros(2, 2), [p])
    with pytest.raises(ValueError, match="the vector has 5 elements but the parameters hold 4"):
        U.vector_to_parameters(dg.zeros(5), [p])
