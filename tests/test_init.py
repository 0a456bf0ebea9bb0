"""nn.init against PyTorch's formulas. The two libraries draw from different generators, so the
checks compare distributions (bounds, moments, a two-sample KS statistic), never values."""
import math

import numpy as np
import pytest
import torch

import deepgrad as dg
import deepgrad.nn as nn

init = nn.init


def _param(*shape, dtype=dg.float32):
    return nn.Parameter(dg.empty(*shape, dtype=dtype))


def _values(t):
    return t.detach().numpy().astype(np.float64).ravel()


def _ks_statistic(a, b):
    """Largest distance between the empirical CDFs of two samples."""
    grid = np.sort(np.concatenate([a, b]))
    cdf = lambda s: np.searchsorted(np.sort(s), grid, side="right") / s.size  # noqa: E731
    return np.abs(cdf(a) - cdf(b)).max()


def _ks_limit(n, m):
    return 1.95 * math.sqrt((n + m) / (n * m))  # the 0.1 % critical value


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose2d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
    ("leaky_relu", 0), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope True is not a valid number"):
        init.calculate_gain("leaky_relu", True)


INITIALISERS = [
    ("uniform_", lambda t: init.uniform_(t, -0.5, 0.5)),
    ("normal_", lambda t: init.normal_(t, 1.0, 0.1)),
    ("trunc_normal_", lambda t: init.trunc_normal_(t, std=0.5)),
    ("constant_", lambda t: init.constant_(t, 0.3)),
    ("zeros_", init.zeros_),
    ("ones_", init.ones_),
    ("eye_", init.eye_),
    ("xavier_uniform_", init.xavier_uniform_),
    ("xavier_normal_", init.xavier_normal_),
    ("kaiming_uniform_", init.kaiming_uniform_),
    ("kaiming_normal_", init.kaiming_normal_),
    ("orthogonal_", init.orthogonal_),
]


@pytest.mark.parametrize("name,fn", INITIALISERS, ids=[n for n, _ in INITIALISERS])
@pytest.mark.parametrize("dtype", [dg.float32, dg.float64])
def test_initialisers_fill_in_place_without_grad_and_bump_versions(name, fn, dtype):
    p = _param(4, 6, dtype=dtype)
    version = p._version[0]
    assert fn(p) is p
    assert p.is_leaf and p.requires_grad and p.grad is None and p.dtype == dtype
    assert p._version[0] > version
    assert np.isfinite(_values(p)).all()
    fn(p).sum().backward()  # still a usable leaf afterwards
    assert p.grad is not None and p.grad.shape == (4, 6)


RANDOM_ARGS = {"uniform_": (-0.5, 0.5), "normal_": (1.0, 0.1), "trunc_normal_": (0.0, 0.5),
               "xavier_uniform_": (), "xavier_normal_": (), "kaiming_uniform_": (), "kaiming_normal_": (),
               "orthogonal_": ()}


@pytest.mark.parametrize("name", sorted(RANDOM_ARGS))
def test_random_initialisers_follow_the_global_seed_or_their_generator(name):
    def draw(**kwargs):
        return _values(getattr(init, name)(_param(5, 7), *RANDOM_ARGS[name], **kwargs))

    dg.manual_seed(3)
    first = draw()
    dg.manual_seed(3)
    np.testing.assert_array_equal(draw(), first)
    dg.manual_seed(3)
    own = draw(generator=dg.Generator().manual_seed(11))
    np.testing.assert_array_equal(draw(), first)  # the global generator was left alone
    np.testing.assert_array_equal(draw(generator=dg.Generator().manual_seed(11)), own)
    assert not np.array_equal(own, first)


def test_constant_zeros_ones_eye_values():
    t = _param(2, 3)
    assert set(_values(init.constant_(t, 0.25))) == {0.25}
    assert set(_values(init.zeros_(t))) == {0.0}
    assert set(_values(init.ones_(t))) == {1.0}
    np.testing.assert_array_equal(init.eye_(t).detach().numpy(), np.eye(2, 3))
    with pytest.raises(ValueError, match=r"eye_: only 2-D tensors are supported, got shape \(2, 3, 1\)"):
        init.eye_(_param(2, 3, 1))


def test_uniform_and_normal_moments():
    dg.manual_seed(0)
    u = _values(init.uniform_(_param(200, 100), -1.0, 3.0))
    assert u.min() >= -1.0 and u.max() < 3.0 and u.min() < -0.99 and u.max() > 2.99
    assert u.mean() == pytest.approx(1.0, abs=0.03)
    assert u.var() == pytest.approx(16 / 12, rel=0.04)
    n = _values(init.normal_(_param(200, 100), -2.0, 0.5))
    assert n.mean() == pytest.approx(-2.0, abs=0.01)
    assert n.std() == pytest.approx(0.5, rel=0.03)
    ks = _ks_statistic(n, torch.nn.init.normal_(torch.empty(20000), -2.0, 0.5).numpy())
    assert ks < _ks_limit(20000, 20000)
    with pytest.raises(ValueError, match="uniform_: expected a <= b, got a=1, b=0"):
        init.uniform_(_param(2), 1, 0)
    with pytest.raises(ValueError, match="normal_: expected std >= 0, got -1"):
        init.normal_(_param(2), 0, -1)


def _check_uniform(values, bound):
    assert np.abs(values).max() <= bound * (1 + 1e-6)
    assert np.abs(values).max() > 0.98 * bound  # the bound is reached, not undershot
    assert values.var() == pytest.approx(bound ** 2 / 3, rel=0.05)


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier_bounds_and_std(shape, gain):
    dg.manual_seed(1)
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    _check_uniform(_values(init.xavier_uniform_(_param(*shape), gain)),
                   gain * math.sqrt(6 / (fan_in + fan_out)))
    std = gain * math.sqrt(2 / (fan_in + fan_out))
    assert _values(init.xavier_normal_(_param(*shape), gain)).std() == pytest.approx(std, rel=0.03)
    t = torch.empty(shape)
    torch.nn.init.xavier_normal_(t, gain)
    assert t.std().item() == pytest.approx(std, rel=0.03)


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)),
                                            ("tanh", 0), ("linear", 0)])
def test_kaiming_bounds_and_std(shape, mode, nonlinearity, a):
    dg.manual_seed(2)
    fan = (shape[1] if mode == "fan_in" else shape[0]) * math.prod(shape[2:])
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    _check_uniform(_values(init.kaiming_uniform_(_param(*shape), a, mode, nonlinearity)), math.sqrt(3) * std)
    normal = _values(init.kaiming_normal_(_param(*shape), a, mode, nonlinearity))
    assert normal.std() == pytest.approx(std, rel=0.03) and abs(normal.mean()) < 0.05 * std
    ref = torch.empty(shape)
    torch.nn.init.kaiming_normal_(ref, a, mode, nonlinearity)
    assert _ks_statistic(normal, ref.numpy().ravel()) < _ks_limit(normal.size, ref.numel())


def test_fan_errors_and_empty_tensors():
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(shape \(5,\)\)"):
        init.xavier_uniform_(_param(5))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_normal_(_param(3, 3), mode="fan_avg")
    empty = _param(0, 3)
    assert init.kaiming_uniform_(empty) is empty and init.kaiming_normal_(empty) is empty
    assert init.orthogonal_(empty) is empty


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (6, 6), (4, 2, 3)])
@pytest.mark.parametrize("gain", [1.0, 1.5])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape, gain):
    w = init.orthogonal_(_param(*shape, dtype=dg.float64), gain).detach().numpy().reshape(shape[0], -1)
    small = min(w.shape)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(small), atol=1e-12)
    with pytest.raises(ValueError, match="orthogonal_: only tensors with 2 or more dimensions"):
        init.orthogonal_(_param(3))


def test_orthogonal_is_haar_distributed():
    """A row of a uniformly random 3x3 orthogonal matrix is uniform on the sphere, so each entry is
    uniform on [-1, 1] (Archimedes); without the sign fix of the QR factor it would not be."""
    dg.manual_seed(4)
    entries = np.sort([init.orthogonal_(_param(3, 3, dtype=dg.float64)).detach().numpy()[0, 0]
                       for _ in range(1000)])
    ks = np.abs(np.arange(1, 1001) / 1000 - (entries + 1) / 2).max()
    assert ks < 1.95 / math.sqrt(1000)


def _truncated_moments(mean, std, a, b):
    pdf = lambda x: 0.0 if math.isinf(x) else math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    lo, hi = (a - mean) / std, (b - mean) / std
    z = cdf(hi) - cdf(lo)
    m = (pdf(lo) - pdf(hi)) / z
    lo_term = 0.0 if math.isinf(lo) else lo * pdf(lo)
    hi_term = 0.0 if math.isinf(hi) else hi * pdf(hi)
    var = 1 + (lo_term - hi_term) / z - m * m
    return mean + std * m, std * math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [
    (0.0, 1.0, -2.0, 2.0),         # the default: plain rejection
    (0.0, 0.02, -0.04, 0.04),      # transformer-style init
    (1.0, 2.0, -1.0, 0.5),         # an interval on one side of the mean
    (0.0, 1.0, 3.0, 4.0),          # a far tail: exponential proposal
    (0.0, 1.0, 5.0, math.inf),     # an unbounded far tail
    (0.0, 1.0, 2.5, 2.6),          # a narrow tail interval: uniform proposal
    (0.0, 1.0, -4.0, -3.0),        # the mirrored far tail
    (0.0, 1.0, -0.1, 0.2),         # a narrow interval around the mean
])
def test_trunc_normal_bounds_and_moments(mean, std, a, b):
    dg.manual_seed(5)
    v = _values(init.trunc_normal_(_param(200, 100, dtype=dg.float64), mean, std, a, b))
    assert v.min() >= a and v.max() <= b
    exp_mean, exp_std = _truncated_moments(mean, std, a, b)
    assert v.mean() == pytest.approx(exp_mean, abs=0.03 * exp_std)
    assert v.std() == pytest.approx(exp_std, rel=0.03)


def test_trunc_normal_matches_torch_distribution_and_float32_bounds():
    dg.manual_seed(6)
    ours = _values(init.trunc_normal_(_param(20000), 0.5, 1.0, -1.0, 1.5))
    theirs = torch.nn.init.trunc_normal_(torch.empty(20000), 0.5, 1.0, -1.0, 1.5).numpy()
    assert _ks_statistic(ours, theirs) < _ks_limit(20000, 20000)
    assert ours.min() >= -1.0 and ours.max() <= 1.5
    assert set(_values(init.trunc_normal_(_param(3), 0.3, 0.0))) == {np.float32(0.3)}
    with pytest.raises(ValueError, match="trunc_normal_: expected a < b, got a=1, b=1"):
        init.trunc_normal_(_param(2), a=1, b=1)
    with pytest.raises(ValueError, match="trunc_normal_: expected std >= 0, got -0.1"):
        init.trunc_normal_(_param(2), std=-0.1)


def test_initialising_slices_of_a_parameter_writes_through():
    """Recurrent layers initialise per-gate blocks of one weight: the slices are views."""
    p = _param(6, 3, dtype=dg.float64)
    init.zeros_(p)
    version = p._version[0]
    init.orthogonal_(p[:3])
    init.ones_(p[3:])
    w = p.detach().numpy()
    np.testing.assert_allclose(w[:3] @ w[:3].T, np.eye(3), atol=1e-12)
    assert (w[3:] == 1).all() and p._version[0] > version and p.is_leaf and p.grad_fn is None
