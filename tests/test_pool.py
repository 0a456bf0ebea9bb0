"""Pooling against PyTorch: max (tie rule, overlapping windows, indices), average (padding counts,
ceil mode, divisor override), adaptive average and max, the layers, float32, gradcheck, errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.nn.functional as F
from deepgrad.autograd import gradcheck
from tests.helpers import assert_close, compare, rand, to_dg, to_torch
from tests.test_conv import eager_workspace  # noqa: F401  (a fixture)

MAX_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),                        # overlapping windows
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
    dict(kernel_size=2, stride=2, ceil_mode=True),          # odd size: a last, partial window
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, stride=3, dilation=2, padding=1, ceil_mode=True),
]


def _both(name, **kw):
    return (lambda x: getattr(F, name)(x, **kw)), (lambda x: getattr(TF, name)(x, **kw))


def _check_indices(name, x, **kw):
    _, di = getattr(F, name)(to_dg(x), return_indices=True, **kw)
    _, ti = getattr(TF, name)(to_torch(x), return_indices=True, **kw)
    assert di.dtype == dg.int64
    np.testing.assert_array_equal(di.numpy(), ti.numpy())


@pytest.mark.parametrize("kw", MAX_CASES)
def test_max_pool2d_matches_torch(kw):
    x = rand(2, 3, 7, 8)
    fn, tfn = _both("max_pool2d", **kw)
    compare(fn, x, torch_fn=tfn)
    _check_indices("max_pool2d", x, **kw)


@pytest.mark.parametrize("kw", MAX_CASES)
def test_max_pool2d_ties_match_torch(kw):
    # values from {0, 1}: almost every window has tied maxima; overlapping windows share elements
    x = np.random.default_rng(3).integers(0, 2, (2, 2, 7, 8)).astype(np.float64)
    fn, tfn = _both("max_pool2d", **kw)
    compare(fn, x, torch_fn=tfn)
    _check_indices("max_pool2d", x, **kw)


def test_max_pool_tie_rule_is_first_in_row_major_order():
    x = dg.ones(1, 1, 2, 2, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 0], [0, 0]])
    # overlapping windows over a constant image: window (i, j) picks its top-left element
    x = dg.ones(1, 1, 3, 3, requires_grad=True)
    y, idx = F.max_pool2d(x, 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[0, 1], [3, 4]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_overlapping_windows_accumulate_gradient_on_a_shared_maximum():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # the centre is the maximum of all four 2x2 windows
    xd = to_dg(x, requires_grad=True)
    F.max_pool2d(xd, 2, stride=1).sum().backward()
    assert xd.grad.numpy()[0, 0, 1, 1] == 4.0 and xd.grad.numpy().sum() == 4.0


def test_max_pool_nan_and_all_minus_inf_windows_match_torch():
    x = np.array([[[[np.nan, 1, np.nan, 5], [2, np.nan, 0, 1], [0, 0, 3, 3], [np.nan, 1, 7, np.nan]]]])
    for kw in [dict(kernel_size=2, stride=1), dict(kernel_size=2)]:  # overlapping, tiling
        fn, tfn = _both("max_pool2d", **kw)
        compare(fn, x, torch_fn=tfn)  # NaN outputs equal, the gradient at each window's last NaN
        _check_indices("max_pool2d", x, **kw)
    # padded positions never win, even against real -inf elements
    x = np.full((1, 1, 3, 3), -np.inf)
    _check_indices("max_pool2d", x, kernel_size=3, stride=2, padding=1)


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=2, stride=1, padding=1),
                                dict(kernel_size=3, stride=2, dilation=2, ceil_mode=True)])
def test_max_pool1d_matches_torch(kw):
    fn, tfn = _both("max_pool1d", **kw)
    compare(fn, rand(2, 3, 11), torch_fn=tfn)
    _check_indices("max_pool1d", rand(2, 3, 11), **kw)


def test_max_pool_integer_input_matches_torch():
    x = np.random.default_rng(0).integers(-5, 5, (2, 2, 5, 5))
    y = F.max_pool2d(to_dg(x), 3, stride=2, padding=1)
    assert y.dtype == dg.int64
    np.testing.assert_array_equal(y.numpy(), TF.max_pool2d(torch.tensor(x), 3, stride=2, padding=1).numpy())


AVG_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, stride=3, ceil_mode=True),
    dict(kernel_size=3, padding=1, divisor_override=2),
]


@pytest.mark.parametrize("kw", AVG_CASES)
def test_avg_pool2d_matches_torch(kw):
    fn, tfn = _both("avg_pool2d", **kw)
    compare(fn, rand(2, 3, 7, 8), torch_fn=tfn)


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=4, stride=2, padding=2, count_include_pad=False)])
def test_avg_pool1d_matches_torch(kw):
    fn, tfn = _both("avg_pool1d", **kw)
    compare(fn, rand(2, 3, 10), torch_fn=tfn)


@pytest.mark.parametrize("name,kw", [("max_pool2d", MAX_CASES[5]), ("max_pool2d", MAX_CASES[1]),
                                     ("avg_pool2d", AVG_CASES[5])])
def test_cached_paths_match_torch(name, kw, eager_workspace):  # noqa: F811
    fn, tfn = _both(name, **kw)
    compare(fn, rand(2, 3, 7, 8), torch_fn=tfn)


@pytest.mark.parametrize("size", [(3, 2), 1, (5, 4), (None, 3), (7, 7), (4, 6)])
def test_adaptive_avg_pool2d_matches_torch(size):
    # (7, 5) into 3 or 4 rows / 2, 3, 4 columns: windows of unequal length that overlap
    fn, tfn = _both("adaptive_avg_pool2d", output_size=size)
    compare(fn, rand(2, 3, 7, 5), torch_fn=tfn)


@pytest.mark.parametrize("size", [(3, 2), 1, (5, 4), (None, 3), (4, 6)])
def test_adaptive_max_pool2d_matches_torch(size):
    x = rand(2, 3, 7, 5)
    fn, tfn = _both("adaptive_max_pool2d", output_size=size)
    compare(fn, x, torch_fn=tfn)
    _check_indices("adaptive_max_pool2d", x, output_size=size)
    ties = np.random.default_rng(1).integers(0, 2, (2, 3, 7, 5)).astype(np.float64)
    compare(fn, ties, torch_fn=tfn)
    _check_indices("adaptive_max_pool2d", ties, output_size=size)


@pytest.mark.parametrize("size", [3, 4, 1])
def test_adaptive_pool1d_matches_torch(size):
    for name in ("adaptive_avg_pool1d", "adaptive_max_pool1d"):
        fn, tfn = _both(name, output_size=size)
        compare(fn, rand(2, 3, 10), torch_fn=tfn)
    _check_indices("adaptive_max_pool1d", rand(2, 3, 10), output_size=size)


def test_unbatched_and_empty_batch_inputs():
    for name, kw in [("max_pool2d", dict(kernel_size=2)), ("avg_pool2d", dict(kernel_size=2)),
                     ("adaptive_avg_pool2d", dict(output_size=2)),
                     ("adaptive_max_pool2d", dict(output_size=2))]:
        fn, tfn = _both(name, **kw)
        compare(fn, rand(3, 5, 4), torch_fn=tfn)
        x = dg.zeros(0, 3, 4, 4, requires_grad=True)
        y = fn(x)
        assert tuple(y.shape) == tuple(tfn(torch.zeros(0, 3, 4, 4)).shape)
        y.sum().backward()
        assert x.grad.shape == x.shape


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 3, stride=2, padding=1),
    lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
    lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
    lambda x: F.adaptive_max_pool2d(x, (3, 2)),
])
def test_float32_is_preserved(fn):
    x = to_dg(rand(2, 3, 7, 6, dtype=np.float32), requires_grad=True)
    y = fn(x)
    assert y.dtype == dg.float32
    y.sum().backward()
    assert x.grad.dtype == dg.float32


def test_gradcheck_pools():
    x = to_dg(rand(1, 2, 5, 4), requires_grad=True)  # distinct values: max pooling is differentiable
    assert gradcheck(lambda x: F.max_pool2d(x, 2, stride=1, padding=1), (x,))
    assert gradcheck(lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                                            count_include_pad=False), (x,))
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 3)), (x,))
    assert gradcheck(lambda x: F.adaptive_max_pool2d(x, (3, 3)), (x,))


# ---------------------------------------------------------------------------- modules
@pytest.mark.parametrize("make", [
    lambda m: m.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
    lambda m: m.MaxPool2d((2, 3), dilation=(2, 1)),
    lambda m: m.MaxPool1d(3, 2),
    lambda m: m.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
    lambda m: m.AvgPool2d(2, divisor_override=3),
    lambda m: m.AvgPool1d(3, stride=2, padding=1),
    lambda m: m.AdaptiveAvgPool2d((3, None)),
    lambda m: m.AdaptiveAvgPool1d(4),
    lambda m: m.AdaptiveMaxPool2d(3),
    lambda m: m.AdaptiveMaxPool1d(4),
])
def test_layers_match_torch(make):
    dm, tm = make(nn), make(torch.nn)
    assert repr(dm) == repr(tm)
    nd = 1 if "1d" in type(tm).__name__ else 2
    compare(dm, rand(2, 3, *(9,) * nd), torch_fn=tm)


def test_maxpool_layer_return_indices():
    x = rand(2, 3, 6, 6)
    (dy, di), (ty, ti) = nn.MaxPool2d(2, return_indices=True)(to_dg(x)), \
        torch.nn.MaxPool2d(2, return_indices=True)(to_torch(x))
    assert_close(dy, ty)
    np.testing.assert_array_equal(di.numpy(), ti.numpy())
    (dy, di), (ty, ti) = nn.AdaptiveMaxPool2d(4, return_indices=True)(to_dg(x)), \
        torch.nn.AdaptiveMaxPool2d(4, return_indices=True)(to_torch(x))
    np.testing.assert_array_equal(di.numpy(), ti.numpy())


# ---------------------------------------------------------------------------- user errors
def test_errors():
    x = dg.randn(1, 2, 4, 4)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size.*pad=2"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="pad should be at most half of kernel size.*pad=2"):
        F.avg_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match=r"input size \(2, 2, 2\).*output size \(2, 0, 0\) is too small"):
        F.max_pool2d(dg.randn(1, 2, 2, 2), 3)
    with pytest.raises(RuntimeError, match=r"3D \(unbatched\) or 4D \(batched\) input to max_pool2d"):
        F.max_pool2d(dg.randn(4, 4), 2)
    with pytest.raises(TypeError, match="avg_pool2d: expected a floating-point input, got.*int64"):
        F.avg_pool2d(dg.ones(1, 1, 4, 4, dtype=dg.int64), 2)
    with pytest.raises(TypeError, match="max_pool2d: expected a numeric input"):
        F.max_pool2d(dg.ones(1, 1, 4, 4, dtype=dg.bool), 2)
    with pytest.raises(ValueError, match="divisor_override must not be zero"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="stride must be positive"):
        F.max_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match=r"output_size must be positive, got \(0, 2\)"):
        F.adaptive_avg_pool2d(x, (0, 2))
    with pytest.raises(ValueError, match="output_size must be an int or a sequence of 2"):
        F.adaptive_max_pool2d(x, (1, 2, 3))
    with pytest.raises(ValueError, match="kernel_size must be an int or a sequence of 2 ints"):
        F.max_pool2d(x, (2, 2, 2))
