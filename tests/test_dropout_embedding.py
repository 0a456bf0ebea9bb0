"""Dropout layers (train/eval, mask statistics, channel-wise masks) and embeddings (lookup,
padding_idx, max_norm, gradients against PyTorch), one_hot, dtypes and user errors."""
import numpy as np
import pytest
import torch

import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.nn.functional as F
from tests.helpers import assert_close, compare, rand, to_dg, to_torch


# ---------------------------------------------------------------------------- dropout
def test_dropout_eval_is_identity_and_train_scales_kept_elements():
    m = nn.Dropout(0.3)
    assert repr(m) == repr(torch.nn.Dropout(0.3))
    x = dg.ones(200, 50, requires_grad=True)
    dg.manual_seed(0)
    y = m(x)
    kept = y.detach().numpy() != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02  # 10000 Bernoulli draws: 0.3 +- 0.005 std
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7, rtol=1e-6)  # gradient through the same mask
    m.eval()
    assert m(x) is x


@pytest.mark.parametrize("cls, shape, lead", [
    ("Dropout1d", (40, 30, 7), 2), ("Dropout1d", (300, 7), 1), ("Dropout2d", (40, 30, 3, 4), 2),
    ("Dropout3d", (30, 40, 2, 2, 2), 2), ("Dropout3d", (300, 2, 3, 2), 1)])
def test_channel_dropout_zeroes_whole_channels(cls, shape, lead):
    m = getattr(nn, cls)(0.4)
    assert repr(m) == repr(getattr(torch.nn, cls)(0.4))
    x = dg.tensor(np.abs(rand(*shape, dtype=np.float32)) + 0.1, requires_grad=True)
    y = m(x)
    ratio = (y.detach().numpy() / x.detach().numpy()).reshape(shape[:lead] + (-1,))
    per_channel = ratio[..., 0]
    assert np.allclose(ratio, per_channel[..., None])  # one decision per channel
    assert np.all((per_channel == 0) | np.isclose(per_channel, 1 / 0.6, rtol=1e-6))
    assert abs((per_channel == 0).mean() - 0.4) < 0.05
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(ratio, ratio.shape).reshape(shape), rtol=1e-6)
    assert y.dtype == dg.float32 and x.grad.dtype == dg.float32
    m.eval()
    assert m(x) is x


def test_dropout2d_three_dims_is_channel_dropout_with_warning():
    with pytest.warns(UserWarning, match=r"3-D input, read as \(N, C, L\)"):
        y = F.dropout2d(dg.ones(20, 30, 5), 0.5)
    rows = y.numpy()
    assert np.all(rows == rows[..., :1])
    with pytest.warns(UserWarning, match="received a 5-D input"):
        F.dropout2d(dg.ones(2, 3, 2, 2, 2), 0.5)


def test_dropout_extremes_seed_and_inplace():
    x = dg.randn(4, 3, 2, 2)
    assert F.dropout2d(x, 0.0) is x
    assert not F.dropout2d(x, 1.0).numpy().any()
    dg.manual_seed(7)
    a = F.dropout2d(x, 0.5).numpy()
    dg.manual_seed(7)
    np.testing.assert_array_equal(F.dropout2d(x, 0.5).numpy(), a)  # seeded runs repeat
    z = x.clone()
    dg.manual_seed(7)
    out = nn.Dropout2d(0.5, inplace=True)(z)
    assert out is z
    np.testing.assert_array_equal(z.numpy(), a)


def test_dropout_inplace_keeps_gradient():
    x = dg.randn(6, 4, 3, requires_grad=True)
    h = x * 2
    y = F.dropout1d(h, 0.5, inplace=True)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (y.detach().numpy() != 0) * 2.0, rtol=1e-6)


def test_dropout_errors():
    with pytest.raises(ValueError, match="Dropout2d: dropout probability has to be between 0 and 1, .* 1.5"):
        nn.Dropout2d(1.5)
    with pytest.raises(ValueError, match="dropout1d: dropout probability .* got -0.1"):
        F.dropout1d(dg.randn(2, 3, 4), -0.1)
    with pytest.raises(RuntimeError, match=r"dropout1d: expected a 2-D .* got shape \(2, 3, 4, 5\)"):
        nn.Dropout1d()(dg.randn(2, 3, 4, 5))
    with pytest.raises(RuntimeError, match=r"at least 2 dims .* got shape \(5,\)"):
        F.feature_dropout(dg.randn(5), 0.5)


# ---------------------------------------------------------------------------- embedding
IDX = np.array([[0, 2, 4], [4, 4, 1]])


@pytest.mark.parametrize("padding_idx", [None, 4, -1, 0])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_embedding_values_and_grads_match_torch(padding_idx, scale_grad_by_freq):
    compare(lambda w: F.embedding(to_dg(IDX), w, padding_idx, scale_grad_by_freq=scale_grad_by_freq),
            rand(5, 3),
            torch_fn=lambda w: torch.nn.functional.embedding(to_torch(IDX), w, padding_idx,
                                                             scale_grad_by_freq=scale_grad_by_freq))


def test_embedding_module_padding_row_and_grads():
    m = nn.Embedding(6, 4, padding_idx=2)
    t = torch.nn.Embedding(6, 4, padding_idx=2)
    assert repr(m) == repr(t) and list(m.state_dict()) == list(t.state_dict()) == ["weight"]
    assert not m.weight.detach().numpy()[2].any()  # the padding row starts at zero
    t.load_state_dict({"weight": torch.tensor(m.weight.detach().numpy())})
    idx = np.array([[2, 1, 1], [5, 2, 0]])
    compare(lambda: m(to_dg(idx)), torch_fn=lambda: t(to_torch(idx)))
    out_grad = rand(2, 3, 4)
    (m(to_dg(idx)) * to_dg(out_grad.astype(np.float32))).sum().backward()
    (t(to_torch(idx)) * to_torch(out_grad.astype(np.float32))).sum().backward()
    assert_close(m.weight.grad, t.weight.grad, 1e-6)
    assert not m.weight.grad.numpy()[2].any()
    assert m.weight.grad.dtype == dg.float32


def test_embedding_default_init_is_standard_normal():
    dg.manual_seed(0)
    w = nn.Embedding(400, 50).weight.detach().numpy()
    assert w.dtype == np.float32
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02  # 20000 draws


def test_embedding_max_norm_renormalises_looked_up_rows_like_torch():
    w = rand(5, 3) * 3
    dw, tw = dg.tensor(w.copy()), torch.tensor(w.copy())
    idx = np.array([[0, 2], [2, 3]])
    out = F.embedding(to_dg(idx), dw, max_norm=1.5, norm_type=1.0)
    expected = torch.nn.functional.embedding(to_torch(idx), tw, max_norm=1.5, norm_type=1.0)
    assert_close(out, expected, 1e-9)
    assert_close(dw, tw, 1e-9, what="weight after renormalisation")
    np.testing.assert_array_equal(dw.numpy()[[1, 4]], w[[1, 4]])  # rows not looked up are untouched


def test_embedding_from_pretrained_freeze():
    table = dg.tensor(rand(4, 2))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and frozen.weight.shape == (4, 2)
    np.testing.assert_array_equal(frozen(dg.tensor([3, 1])).numpy(), table.numpy()[[3, 1]])
    trainable = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=0)
    trainable(dg.tensor([0, 1, 1])).sum().backward()
    np.testing.assert_array_equal(trainable.weight.grad.numpy()[:, 0], [0, 2, 0, 0])


def test_embedding_errors():
    m = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"index 12 is out of range for num_embeddings=10 \(valid.* 0..9\)"):
        m(dg.tensor([1, 12]))
    with pytest.raises(IndexError, match="index -1 is out of range for num_embeddings=10"):
        m(dg.tensor([-1]))
    with pytest.raises(TypeError, match="expected indices of an integer dtype .* got deepgrad.float32"):
        m(dg.tensor([1.0]))
    with pytest.raises(ValueError, match="padding_idx 10 must be within num_embeddings=10"):
        nn.Embedding(10, 3, padding_idx=10)
    with pytest.raises(ValueError, match="sparse gradients are not supported"):
        F.embedding(dg.tensor([1]), m.weight, sparse=True)
    with pytest.raises(ValueError, match=r"from_pretrained: embeddings must be 2-D, got shape \(4,\)"):
        nn.Embedding.from_pretrained(dg.zeros(4))


# ---------------------------------------------------------------------------- one_hot
def test_one_hot_matches_torch():
    idx = np.array([[0, 3], [2, 1]])
    for n in (-1, 5):
        out = F.one_hot(to_dg(idx), n)
        expected = torch.nn.functional.one_hot(to_torch(idx), n)
        assert out.dtype == dg.int64
        np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_one_hot_errors():
    with pytest.raises(RuntimeError, match="class value 3 is out of range for num_classes=3"):
        F.one_hot(dg.tensor([0, 3]), 3)
    with pytest.raises(RuntimeError, match="class values must be non-negative, got -1"):
        F.one_hot(dg.tensor([0, -1]))
    with pytest.raises(TypeError, match="one_hot: expected indices of an integer dtype"):
        F.one_hot(dg.tensor([0.0]))
