"""deepgrad.nn.functional core functions against torch.nn.functional: activations, softmax family
(stable at extreme logits), dropout, pad, and the losses with every reduction."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.autograd import gradcheck
from tests.helpers import compare, rand

REDUCTIONS = ["mean", "sum", "none"]


def _both(fn_name, *args, **kwargs):
    """(deepgrad fn, torch fn) taking the same tensor arguments, with fixed extra arguments."""
    def convert(lib, v):
        if isinstance(v, np.ndarray):
            return (dg.tensor if lib is dg else torch.tensor)(v)
        return v
    dkw = {k: convert(dg, v) for k, v in kwargs.items()}
    tkw = {k: convert(torch, v) for k, v in kwargs.items()}
    dargs = [convert(dg, a) for a in args]
    targs = [convert(torch, a) for a in args]
    return (lambda *xs: getattr(F, fn_name)(*xs, *dargs, **dkw),
            lambda *xs: getattr(TF, fn_name)(*xs, *targs, **tkw))


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activations(name):
    d, t = _both(name)
    compare(d, rand(3, 4), torch_fn=t)
    compare(d, np.array([-1e4, -50.0, 0.0, 50.0, 1e4]), torch_fn=t)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family(name, dim):
    d, t = _both(name, dim=dim)
    compare(d, rand(3, 4, 2), torch_fn=t)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_is_stable_at_extreme_and_equal_logits(name):
    d, t = _both(name, dim=1)
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [3.0, 3.0, 3.0], [1e4, 1e4, -1e4]])
    for dtype in (np.float64, np.float32):
        out = compare(d, logits.astype(dtype), torch_fn=t, atol=1e-5)
        assert np.isfinite(out.detach().numpy()).all()
    compare(lambda x: dg.softmax(x, 0), rand(5), torch_fn=lambda x: torch.softmax(x, 0))
    compare(lambda x: x.log_softmax(-1), rand(2, 5), torch_fn=lambda x: x.log_softmax(-1))
    compare(d, rand(0, 3), torch_fn=t)


def test_softmax_dtype_argument_and_int_input():
    x = dg.tensor(rand(2, 3, dtype=np.float32))
    assert F.softmax(x, 1, dtype=dg.float64).dtype == dg.float64
    assert F.log_softmax(dg.tensor([[1, 2, 3]]), 1).dtype == dg.float32
    with pytest.warns(UserWarning, match="softmax: implicit dimension choice is deprecated"):
        F.softmax(x)


def test_dropout_is_inverted_and_respects_training_flag():
    x = dg.ones(200, 100, requires_grad=True)
    dg.manual_seed(0)
    y = F.dropout(x, 0.3)
    kept = y.detach().numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.01  # each element dropped with probability p
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.7, rtol=1e-6)  # survivors scaled 1/(1-p)
    assert abs(y.mean().item() - 1.0) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, kept)  # the gradient uses the same mask
    assert y.dtype == dg.float32 and x.grad.dtype == dg.float32
    assert F.dropout(x, 0.3, training=False) is x
    assert F.dropout(x, 0.0) is x
    z = F.dropout(x, 1.0)
    assert (z.detach().numpy() == 0).all() and z.requires_grad
    dg.manual_seed(5)
    a = F.dropout(x, 0.5).detach().numpy()
    dg.manual_seed(5)
    assert np.array_equal(F.dropout(x, 0.5).detach().numpy(), a)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


@pytest.mark.parametrize("widths", [(1, 2), (0, 0, 2, 1), (-1, 1), (1, -2, -1, 0), (1, 1, 1, 1, 1, 1)],
                         ids=str)
def test_pad_constant_and_negative_crops(widths):
    d, t = _both("pad", widths, value=0.5)
    compare(d, rand(2, 3, 4), torch_fn=t)


def test_pad_errors():
    with pytest.raises(ValueError,
                       match=r"pad: expected an even number of widths for at most 2 dims, got \(1,\)"):
        F.pad(dg.ones(2, 2), (1,))


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(name, reduction):
    d, t = _both(name, reduction=reduction)
    compare(d, rand(3, 4), rand(3, 4, seed=1), torch_fn=t)
    compare(d, rand(0, 2), rand(0, 2, seed=1), torch_fn=t)


def test_regression_loss_warns_on_broadcast_target():
    with pytest.warns(UserWarning,
                      match=r"mse_loss: using a target size \(3, 1\) that is different to the input "
                            r"size \(3, 4\)"):
        F.mse_loss(dg.ones(3, 4), dg.ones(3, 1))
    with pytest.raises(ValueError, match="mse_loss: reduction must be one of"):
        F.mse_loss(dg.ones(3), dg.ones(3), reduction="avg")


KDIM_TARGET = [[[0, 1], [2, 2], [1, 0], [0, 0]], [[2, 2], [1, 1], [0, 2], [1, 0]]]
CE_CASES = {
    "plain": ({}, (4, 5), [1, 0, 4, 2]),
    "ignore_index": ({"ignore_index": 2}, (4, 5), [1, 2, 4, 2]),
    "all_ignored": ({"ignore_index": 1}, (2, 5), [1, 1]),
    "label_smoothing": ({"label_smoothing": 0.2}, (4, 5), [1, 0, 4, 2]),
    "weights": ({"weight": np.array([0.5, 1.0, 2.0, 0.1, 3.0])}, (4, 5), [1, 0, 4, 2]),
    "weights_smoothing_ignore": ({"weight": np.array([0.5, 1.0, 2.0, 0.1, 3.0]), "label_smoothing": 0.1,
                                  "ignore_index": 0}, (4, 5), [1, 0, 4, 2]),
    "kdim": ({}, (2, 3, 4, 2), KDIM_TARGET),
    "kdim_weights_ignore": ({"weight": np.array([1.0, 2.0, 0.5]), "ignore_index": 1, "label_smoothing": 0.05},
                            (2, 3, 4, 2), KDIM_TARGET),
    "unbatched": ({}, (5,), 3),
    "unbatched_smoothing": ({"label_smoothing": 0.3}, (5,), 3),
}


@pytest.mark.parametrize("case", sorted(CE_CASES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_class_indices(case, reduction):
    kwargs, shape, target = CE_CASES[case]
    d, t = _both("cross_entropy", np.array(target), reduction=reduction, **kwargs)
    compare(d, rand(*shape), torch_fn=t, out_grad=None)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.2}, {"weight": np.array([0.5, 2.0, 1.0])}],
                         ids=str)
def test_cross_entropy_with_probability_targets(reduction, kwargs):
    probs = np.random.default_rng(3).dirichlet(np.ones(3), size=4)
    d, t = _both("cross_entropy", reduction=reduction, **kwargs)
    compare(d, rand(4, 3), probs, torch_fn=t)
    kd = np.random.default_rng(4).dirichlet(np.ones(3), size=(2, 2)).transpose(0, 2, 1)
    d, t = _both("cross_entropy", kd, reduction=reduction)
    compare(d, rand(2, 3, 2), torch_fn=t)


def test_cross_entropy_is_stable_at_extreme_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [0.0, 0.0, 0.0]])
    for dtype in (np.float64, np.float32):
        d, t = _both("cross_entropy", np.array([1, 0, 2]))
        out = compare(d, logits.astype(dtype), torch_fn=t, atol=1e-4)
        assert np.isfinite(out.detach().numpy()).all()


def test_cross_entropy_errors():
    x = dg.ones(2, 3)
    with pytest.raises(IndexError, match=r"cross_entropy|nll_loss: target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, dg.tensor([0, 3]))
    with pytest.raises(ValueError,
                       match=r"nll_loss: input of shape \(2, 3\) expects a target of shape \(2,\), got "
                             r"\(3,\)"):
        F.cross_entropy(x, dg.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError,
                       match="expected class-index targets of dtype int64, got deepgrad.float32"):
        F.nll_loss(x, dg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError,
                       match=r"cross_entropy: probability targets must have the input's shape \(2, 3\)"):
        F.cross_entropy(x, dg.ones(2, 4))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        F.cross_entropy(x, dg.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"nll_loss: weight must have shape \(3,\), got \(2,\)"):
        F.nll_loss(x, dg.tensor([0, 1]), weight=dg.ones(2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", [{}, {"ignore_index": 0}, {"weight": np.array([1.0, 0.2, 3.0])}], ids=str)
def test_nll_loss(reduction, kwargs):
    d, t = _both("nll_loss", np.array([2, 0, 1, 0]), reduction=reduction, **kwargs)
    compare(lambda x: d(x.log_softmax(1)), rand(4, 3), torch_fn=lambda x: t(x.log_softmax(1)))
    d, t = _both("nll_loss", np.array([[2, 0], [1, 1]]), reduction=reduction, **kwargs)
    compare(d, rand(2, 3, 2), torch_fn=t)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(reduction, weighted):
    extra = {"weight": np.abs(rand(4, seed=7))} if weighted else {}
    d, t = _both("binary_cross_entropy", reduction=reduction, **extra)
    p = 1 / (1 + np.exp(-rand(3, 4)))
    y = (rand(3, 4, seed=1) > 0).astype(np.float64)
    compare(d, p, y, torch_fn=t)
    compare(d, p, np.abs(np.sin(rand(3, 4, seed=2))), torch_fn=t)  # soft targets get gradients too


def test_binary_cross_entropy_at_0_and_1_is_clamped_like_torch():
    d, t = _both("binary_cross_entropy")
    p, y = np.array([0.0, 1.0, 0.0, 1.0, 0.5]), np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    compare(d, p, y, torch_fn=t, grad=False)
    with pytest.raises(RuntimeError, match="binary_cross_entropy: all input values must be between 0 and 1"):
        F.binary_cross_entropy(dg.tensor([1.5]), dg.tensor([1.0]))
    with pytest.raises(ValueError, match=r"target size \(2,\) must be the same as input size \(1,\)"):
        F.binary_cross_entropy(dg.tensor([0.5]), dg.tensor([1.0, 0.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kwargs", [
    {}, {"pos_weight": np.array([0.5, 2.0, 1.0, 3.0])},
    {"weight": np.array([1.0, 0.5, 2.0, 0.1]), "pos_weight": np.array([2.0])}], ids=str)
def test_binary_cross_entropy_with_logits(reduction, kwargs):
    d, t = _both("binary_cross_entropy_with_logits", reduction=reduction, **kwargs)
    y = (rand(3, 4, seed=1) > 0).astype(np.float64)
    compare(d, rand(3, 4) * 3, y, torch_fn=t)
    extreme = np.array([[1e4, -1e4, 100.0, -100.0], [0.0, 50.0, -50.0, 1e4], [-1e4, 1.0, -1.0, 0.5]])
    out = compare(d, extreme, y, torch_fn=t)
    assert np.isfinite(out.detach().numpy()).all()


@pytest.mark.parametrize("fn", [
    lambda x, y: F.cross_entropy(x, dg.tensor([1, 0, 2]), label_smoothing=0.1,
                                 weight=dg.tensor([1.0, 2.0, 0.5])),
    lambda x, y: F.cross_entropy(x, y.softmax(1)),
    lambda x, y: F.nll_loss(x.log_softmax(1), dg.tensor([2, 2, 0]), ignore_index=0),
    lambda x, y: F.binary_cross_entropy(x.sigmoid(), y.sigmoid()),
    lambda x, y: F.binary_cross_entropy_with_logits(x, y.sigmoid(), pos_weight=dg.tensor([1.0, 2.0, 3.0])),
    lambda x, y: F.mse_loss(x, y) + F.l1_loss(x, y, reduction="sum"),
    lambda x, y: F.pad(x, (1, -1)).softmax(0) * F.log_softmax(y, 1),
    lambda x, y: F.linear(x, y, y[0]).tanh(),
])
def test_gradcheck_functional(fn):
    x = dg.tensor(rand(3, 3, seed=8), requires_grad=True)
    y = dg.tensor(rand(3, 3, seed=9), requires_grad=True)
    assert gradcheck(fn, (x, y))
