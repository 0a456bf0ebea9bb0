"""Loss functions and modules against PyTorch (and the hinge loss against a NumPy formula): values
and gradients for every reduction, weights, buffers in state_dict, dtypes and user errors."""
import warnings

import numpy as np
import pytest
import torch

import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.nn.functional as F
from deepgrad.autograd import gradcheck
from tests.helpers import assert_close, compare, rand, to_dg, to_torch

REDUCTIONS = ["mean", "sum", "none"]
TF = torch.nn.functional


def _both(name, *args, **kwargs):
    """The same functional loss in each library, with extra non-differentiable arguments given as
    NumPy arrays (converted for each side)."""
    def conv(lib_tensor, a):
        return lib_tensor(a) if isinstance(a, np.ndarray) else a
    return (lambda *x: getattr(F, name)(*x, *[conv(to_dg, a) for a in args], **kwargs),
            lambda *x: getattr(TF, name)(*x, *[conv(to_torch, a) for a in args], **kwargs))


# ---------------------------------------------------------------------------- regression losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, kwargs", [
    ("smooth_l1_loss", dict(beta=1.0)), ("smooth_l1_loss", dict(beta=0.3)),
    ("smooth_l1_loss", dict(beta=0.0)), ("huber_loss", dict(delta=1.0)), ("huber_loss", dict(delta=0.4))])
def test_smooth_l1_and_huber_match_torch(name, kwargs, reduction):
    a, b = rand(4, 5), rand(4, 5, seed=1)
    d, t = _both(name, reduction=reduction, **kwargs)
    compare(d, a, b, torch_fn=t)  # gradients for both input and target


def test_huber_is_delta_times_smooth_l1_and_gradchecks():
    a, b = to_dg(rand(3, 4)), to_dg(rand(3, 4, seed=1))
    assert_close(F.huber_loss(a, b, delta=0.5), 0.5 * F.smooth_l1_loss(a, b, beta=0.5).item(), 1e-12)
    x = dg.tensor(rand(6), requires_grad=True)
    assert gradcheck(lambda x: F.huber_loss(x, b.reshape(-1)[:6], reduction="none", delta=0.7), (x,))


@pytest.mark.parametrize("cls, kwargs", [("MSELoss", {}), ("L1Loss", {}), ("SmoothL1Loss", dict(beta=0.5)),
                                         ("HuberLoss", dict(delta=2.0))])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_loss_modules_match_torch(cls, kwargs, reduction):
    d = getattr(nn, cls)(reduction=reduction, **kwargs)
    t = getattr(torch.nn, cls)(reduction=reduction, **kwargs)
    compare(d, rand(3, 4) * 2, rand(3, 4, seed=1), torch_fn=t)


# ---------------------------------------------------------------------------- classification losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p, margin, weighted", [(1, 1.0, False), (2, 1.0, False), (1, 0.5, True),
                                                 (2, 2.0, True)])
def test_multi_margin_loss_matches_torch(p, margin, weighted, reduction):
    target = np.array([0, 3, 2, 3, 1])
    w = np.array([0.5, 1.0, 2.0, 0.3]) if weighted else None
    d, t = _both("multi_margin_loss", target, p, margin, w, reduction=reduction)
    compare(d, rand(5, 4), torch_fn=t)


def test_multi_margin_loss_single_sample_and_module():
    d, t = _both("multi_margin_loss", np.array(2), reduction="none")
    compare(d, rand(4), torch_fn=t)
    target = np.array([1, 0, 2])
    w = np.array([1.0, 2.0, 0.5])
    dm = nn.MultiMarginLoss(p=2, margin=0.7, weight=to_dg(w))
    tm = torch.nn.MultiMarginLoss(2, 0.7, to_torch(w))
    assert list(dm.state_dict()) == list(tm.state_dict()) == ["weight"]
    compare(lambda x: dm(x, to_dg(target)), rand(3, 3), torch_fn=lambda x: tm(x, to_torch(target)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss_matches_torch(reduction):
    target = np.array([[1, -1, -1], [-1, 1, -1]])
    for margin in (1.0, 0.3):
        d, t = _both("hinge_embedding_loss", target, margin, reduction=reduction)
        compare(d, rand(2, 3), torch_fn=t)
    dm = nn.HingeEmbeddingLoss(0.5, reduction=reduction)
    tm = torch.nn.HingeEmbeddingLoss(0.5, reduction=reduction)
    compare(lambda x: dm(x, to_dg(target)), rand(2, 3, seed=1), torch_fn=lambda x: tm(x, to_torch(target)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_loss_matches_numpy_formula(reduction):
    s = rand(7)
    s[0] = 1.0  # exactly at the margin for y = +1: the subgradient taken is 0
    y = np.array([1, -1, 1, 1, -1, -1, 1])
    per = np.maximum(0, 1 - y * s)
    expected = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    scale = {"mean": 1 / 7, "sum": 1.0, "none": 1.0}[reduction]
    expected_grad = np.where(1 - y * s > 0, -y, 0.0) * scale
    x = to_dg(s, True)
    out = F.hinge_loss(x, to_dg(y), reduction)
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected_grad, atol=1e-12)
    module = nn.HingeLoss(reduction)
    np.testing.assert_allclose(module(to_dg(s), to_dg(y.astype(np.float64))).numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("cls", ["CrossEntropyLoss", "NLLLoss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_class_loss_modules_match_torch(cls, reduction):
    target = np.array([0, 2, -100, 1, 2])
    w = np.array([0.2, 1.0, 3.0])
    extra = dict(label_smoothing=0.1) if cls == "CrossEntropyLoss" else {}
    dm = getattr(nn, cls)(weight=to_dg(w), ignore_index=-100, reduction=reduction, **extra)
    tm = getattr(torch.nn, cls)(weight=to_torch(w), ignore_index=-100, reduction=reduction, **extra)
    assert list(dm.state_dict()) == list(tm.state_dict()) == ["weight"]
    x = rand(5, 3) if cls == "CrossEntropyLoss" else np.log(np.random.default_rng(0).dirichlet(np.ones(3), 5))
    compare(lambda v: dm(v, to_dg(target)), x, torch_fn=lambda v: tm(v, to_torch(target)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_modules_match_torch(reduction):
    y = (rand(4, 3, seed=2) > 0).astype(np.float64)
    w, pw = np.array([1.0, 0.5, 2.0]), np.array([3.0, 1.0, 0.2])
    dm, tm = nn.BCELoss(to_dg(w), reduction=reduction), torch.nn.BCELoss(to_torch(w), reduction=reduction)
    p = 1 / (1 + np.exp(-rand(4, 3)))
    compare(lambda v: dm(v, to_dg(y)), p, torch_fn=lambda v: tm(v, to_torch(y)))
    dm = nn.BCEWithLogitsLoss(to_dg(w), reduction=reduction, pos_weight=to_dg(pw))
    tm = torch.nn.BCEWithLogitsLoss(to_torch(w), reduction=reduction, pos_weight=to_torch(pw))
    assert list(dm.state_dict()) == list(tm.state_dict()) == ["weight", "pos_weight"]
    compare(lambda v: dm(v, to_dg(y)), rand(4, 3) * 3, torch_fn=lambda v: tm(v, to_torch(y)))


def test_unweighted_loss_has_no_state():
    assert list(nn.CrossEntropyLoss().state_dict()) == list(torch.nn.CrossEntropyLoss().state_dict()) == []
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"


# ---------------------------------------------------------------------------- KL divergence, cosine
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    rng = np.random.default_rng(0)
    logq = np.log(rng.dirichlet(np.ones(4), 3))
    p = rng.dirichlet(np.ones(4), 3)
    target = np.log(p) if log_target else p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reduction='mean' warns in both libraries
        compare(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target), logq, target,
                torch_fn=lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target))


def test_kl_div_zero_target_probability_contributes_nothing():
    logq = np.log(np.full((2, 3), 1 / 3))
    p = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    # d/dp of p log p is -inf at p = 0 (PyTorch returns nan there): only the input gradient is compared
    compare(lambda a: F.kl_div(a, to_dg(p), reduction="none"), logq,
            torch_fn=lambda a: TF.kl_div(a, to_torch(p), reduction="none"))


def test_kl_div_module_and_mean_warning():
    logq, p = np.log(np.full((2, 3), 1 / 3)), np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    dm, tm = nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean")
    compare(lambda a: dm(a, to_dg(p)), logq, torch_fn=lambda a: tm(a, to_torch(p)))
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(to_dg(logq), to_dg(p))


@pytest.mark.parametrize("dim, shapes", [(1, [(4, 5), (4, 5)]), (-1, [(2, 3, 4), (3, 4)]), (0, [(3,), (3,)])])
def test_cosine_similarity_matches_torch(dim, shapes):
    compare(lambda a, b: F.cosine_similarity(a, b, dim), rand(*shapes[0]), rand(*shapes[1], seed=1),
            torch_fn=lambda a, b: TF.cosine_similarity(a, b, dim))


# ---------------------------------------------------------------------------- dtypes, legacy flags, errors
@pytest.mark.parametrize("fn", [
    lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), lambda x, y: F.huber_loss(x, y),
    lambda x, y: F.multi_margin_loss(x, dg.tensor([0, 1, 2]), p=2),
    lambda x, y: F.hinge_embedding_loss(x, dg.tensor([[1, -1, 1, -1]] * 3)),
    lambda x, y: F.hinge_loss(x, dg.tensor([[1, -1, 1, -1]] * 3)),
    lambda x, y: F.kl_div(x, y.abs(), reduction="batchmean"),
    lambda x, y: F.cosine_similarity(x, y).sum()])
def test_losses_keep_float32(fn):
    x = dg.randn(3, 4, requires_grad=True)
    out = fn(x, dg.randn(3, 4))
    out.backward()
    assert out.dtype == dg.float32 and x.grad.dtype == dg.float32


def test_legacy_size_average_and_reduce_map_like_torch():
    for size_average, reduce, expected in [(False, None, "sum"), (None, False, "none"), (True, True, "mean")]:
        with pytest.warns(UserWarning, match=f"reduction='{expected}'"):
            assert nn.MSELoss(size_average, reduce).reduction == expected
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert torch.nn.MSELoss(size_average, reduce).reduction == expected


def test_loss_errors():
    x, y = dg.randn(3, 4), dg.randn(3, 4)
    with pytest.raises(ValueError, match=r"MSELoss: reduction must be one of .* got 'avg'"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"smooth_l1_loss: reduction must be one of .* got 'avg'"):
        F.smooth_l1_loss(x, y, reduction="avg")
    with pytest.raises(ValueError, match=r"kl_div: reduction must be one of .* got 'avg'"):
        F.kl_div(x, y, reduction="avg")
    with pytest.raises(ValueError, match="beta must be non-negative, got -1"):
        F.smooth_l1_loss(x, y, beta=-1)
    with pytest.raises(ValueError, match="delta must be positive, got 0"):
        F.huber_loss(x, y, delta=0)
    with pytest.raises(ValueError, match="only p == 1 and p == 2 are supported, got p=3"):
        F.multi_margin_loss(x, dg.tensor([0, 1, 2]), p=3)
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.multi_margin_loss(x, dg.tensor([0, 4, 2]))
    with pytest.raises(ValueError, match=r"expects a target of shape \(3,\), got \(2,\)"):
        F.multi_margin_loss(x, dg.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"weight must have shape \(4,\), got \(3,\)"):
        F.multi_margin_loss(x, dg.tensor([0, 1, 2]), weight=dg.ones(3))
    with pytest.raises(ValueError, match=r"labels must be -1 or \+1, got values \[0, 1\] .*2 \* y - 1"):
        F.hinge_loss(dg.randn(3), dg.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"labels of shape \(3, 1\) must have the scores' shape \(3,\)"):
        F.hinge_loss(dg.randn(3), dg.tensor([[1], [-1], [1]]))
