"""Convolutions (conv1d/2d, transposed, unfold/fold, locally connected) against PyTorch: values and
gradients for input, weight and bias, layers with copied weights, float32, gradcheck, errors."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.nn.functional as F
from deepgrad.autograd import gradcheck
from deepgrad.ops import conv as conv_ops
from tests.helpers import assert_close, compare, rand, to_dg

# (N, C, H, W, O, kernel, stride, padding, dilation, groups, bias)
CONV2D_CASES = [
    (2, 3, 7, 7, 4, 3, 1, 0, 1, 1, True),
    (2, 3, 8, 7, 4, 3, 2, 1, 1, 1, True),          # (H + 2p - k) % s != 0
    (1, 2, 9, 8, 3, 5, 3, 2, 1, 1, False),         # batch 1, stride 3
    (2, 4, 7, 9, 6, 3, 2, 2, 2, 2, True),          # dilation 2, groups 2
    (2, 4, 6, 6, 4, 3, 1, 1, 1, 4, True),          # depthwise
    (2, 4, 6, 6, 8, 3, 1, 1, 1, 4, False),         # depthwise with channel multiplier 2
    (2, 3, 5, 6, 5, 1, 1, 0, 1, 1, True),          # 1x1 fast path
    (2, 3, 5, 6, 5, 1, 2, 0, 1, 1, True),          # 1x1 strided
    (2, 3, 5, 6, 5, 1, 1, 1, 1, 1, True),          # 1x1 padded
    (2, 2, 9, 9, 3, 7, 1, 2, 1, 1, True),          # kernel 7
    (2, 3, 8, 9, 4, (2, 5), (1, 2), (0, 2), (2, 1), 1, True),  # rectangular everything
    (2, 3, 7, 7, 4, 3, 1, "same", 1, 1, True),
    (2, 3, 7, 8, 4, (2, 4), 1, "same", (2, 1), 1, True),     # even kernel: extra padding at the end
    (2, 3, 7, 7, 4, 3, 1, "valid", 1, 1, False),
]


def _ids(cases):
    return [f"case{i}" for i in range(len(cases))]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case", CONV2D_CASES, ids=_ids(CONV2D_CASES))
def test_conv2d_matches_torch(case):
    n, c, h, w, o, k, s, p, d, g, has_bias = case
    kh, kw = (k, k) if isinstance(k, int) else k
    args = [rand(n, c, h, w), rand(o, c // g, kh, kw, seed=1)] + ([rand(o, seed=2)] if has_bias else [])
    kw_ = dict(stride=s, padding=p, dilation=d, groups=g)
    compare(lambda x, wt, *b: F.conv2d(x, wt, *b, **kw_), *args,
            torch_fn=lambda x, wt, *b: TF.conv2d(x, wt, *b, **kw_))


@pytest.mark.parametrize("case", [
    (2, 3, 11, 4, 3, 1, 0, 1, 1), (1, 4, 10, 6, 5, 2, 2, 2, 2), (2, 4, 9, 4, 3, 3, 1, 1, 4),
    (2, 3, 8, 5, 1, 1, 0, 1, 1), (2, 3, 8, 5, 4, 1, "same", 2, 1)])
def test_conv1d_matches_torch(case):
    n, c, length, o, k, s, p, d, g = case
    kw_ = dict(stride=s, padding=p, dilation=d, groups=g)
    compare(lambda x, wt, b: F.conv1d(x, wt, b, **kw_), rand(n, c, length), rand(o, c // g, k, seed=1),
            rand(o, seed=2), torch_fn=lambda x, wt, b: TF.conv1d(x, wt, b, **kw_))


# (N, C_in, H, W, C_out, kernel, stride, padding, output_padding, dilation, groups, bias)
TRANSPOSE_CASES = [
    (2, 3, 4, 5, 4, 3, 1, 0, 0, 1, 1, True),
    (2, 3, 4, 4, 2, 3, 2, 1, 1, 1, 1, True),       # output_padding 1
    (1, 4, 3, 5, 6, 3, (2, 3), (1, 0), (1, 2), 1, 2, True),
    (2, 4, 4, 3, 4, (2, 3), 2, 1, 0, 2, 4, False),  # dilation, depthwise
    (2, 2, 3, 3, 3, 4, 3, 2, 2, 1, 1, True),       # output_padding past the last window
    (2, 3, 4, 4, 2, 1, 1, 0, 0, 1, 1, True),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=_ids(TRANSPOSE_CASES))
def test_conv_transpose2d_matches_torch(case):
    n, ci, h, w, co, k, s, p, op, d, g, has_bias = case
    kh, kw = (k, k) if isinstance(k, int) else k
    args = [rand(n, ci, h, w), rand(ci, co // g, kh, kw, seed=1)] + ([rand(co, seed=2)] if has_bias else [])
    kw_ = dict(stride=s, padding=p, output_padding=op, dilation=d, groups=g)
    compare(lambda x, wt, *b: F.conv_transpose2d(x, wt, *b, **kw_), *args,
            torch_fn=lambda x, wt, *b: TF.conv_transpose2d(x, wt, *b, **kw_))


def test_conv_transpose1d_matches_torch():
    kw_ = dict(stride=3, padding=1, output_padding=2, groups=2, dilation=1)
    compare(lambda x, wt, b: F.conv_transpose1d(x, wt, b, **kw_), rand(2, 4, 5), rand(4, 3, 4, seed=1),
            rand(6, seed=2), torch_fn=lambda x, wt, b: TF.conv_transpose1d(x, wt, b, **kw_))


def test_unbatched_inputs_match_torch():
    compare(lambda x, wt: F.conv2d(x, wt, padding=1), rand(3, 5, 5), rand(2, 3, 3, 3, seed=1),
            torch_fn=lambda x, wt: TF.conv2d(x, wt, padding=1))
    compare(lambda x, wt: F.conv1d(x, wt), rand(3, 6), rand(2, 3, 3, seed=1),
            torch_fn=lambda x, wt: TF.conv1d(x, wt))
    compare(lambda x, wt: F.conv_transpose2d(x, wt, stride=2), rand(3, 3, 3), rand(3, 2, 2, 2, seed=1),
            torch_fn=lambda x, wt: TF.conv_transpose2d(x, wt, stride=2))


@pytest.mark.parametrize("fn,tfn,wshape", [(F.conv2d, TF.conv2d, (4, 3, 3, 3)),
                                            (F.conv_transpose2d, TF.conv_transpose2d, (3, 4, 3, 3))])
def test_empty_batch(fn, tfn, wshape):
    x = dg.zeros(0, 3, 5, 5, requires_grad=True)
    w = to_dg(rand(*wshape, dtype=np.float32), requires_grad=True)
    b = dg.zeros(4, requires_grad=True)
    y = fn(x, w, b, padding=1)
    assert tuple(y.shape) == tuple(tfn(torch.zeros(0, 3, 5, 5), torch.zeros(wshape), padding=1).shape)
    y.sum().backward()
    assert x.grad.shape == x.shape
    assert not w.grad.numpy().any() and not b.grad.numpy().any()


def test_overlapping_windows_accumulate_input_gradient():
    # every input pixel of a 3x3 all-ones stride-1 conv on 4x4 is covered by 1, 2 or 4 windows
    x = dg.ones(1, 1, 4, 4, requires_grad=True)
    F.conv2d(x, dg.ones(1, 1, 3, 3)).sum().backward()
    expected = np.outer([1, 2, 2, 1], [1, 2, 2, 1])
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)


def test_gradcheck_conv2d_and_transpose():
    x = to_dg(rand(1, 2, 4, 5), requires_grad=True)
    w = to_dg(rand(4, 1, 2, 3, seed=1), requires_grad=True)
    b = to_dg(rand(4, seed=2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
                     (x, w, b))
    wt = to_dg(rand(2, 2, 3, 2, seed=3), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                     (x, wt, to_dg(rand(2, seed=4), requires_grad=True)))


@pytest.mark.parametrize("fn,wshape,bias", [
    (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), (4, 3, 3, 3), 4),
    (lambda x, w, b: F.conv2d(x, w, b), (4, 3, 1, 1), 4),
    (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, output_padding=1), (3, 4, 3, 3), 4),
    (lambda x, w, b: F.locally_connected2d(x, w, b), (4, 4, 2, 3, 3, 3), (2, 4, 4)),
])
def test_float32_is_preserved(fn, wshape, bias):
    x = to_dg(rand(2, 3, 6, 6, dtype=np.float32), requires_grad=True)
    w = to_dg(rand(*wshape, seed=1, dtype=np.float32), requires_grad=True)
    b = to_dg(rand(*np.atleast_1d(bias), seed=2, dtype=np.float32), requires_grad=True)
    y = fn(x, w, b)
    assert y.dtype == dg.float32
    y.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == dg.float32


def test_float32_matches_torch_within_float32_precision():
    x, w = rand(4, 8, 12, 12, dtype=np.float32), rand(16, 8, 3, 3, seed=1, dtype=np.float32)
    compare(lambda x, w: F.conv2d(x, w, padding=1), x, w, torch_fn=lambda x, w: TF.conv2d(x, w, padding=1),
            atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------------------- workspace
@pytest.fixture
def eager_workspace():
    """Every array of the conv kernels from the workspace cache (normally only large ones)."""
    ws = conv_ops.workspace
    saved = ws.min_bytes
    ws.min_bytes = 0
    yield ws
    ws.min_bytes = saved
    ws.clear()


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case", [CONV2D_CASES[i] for i in (1, 3, 8, 12)])
def test_cached_paths_match_torch(case, eager_workspace):
    test_conv2d_matches_torch(case)


@pytest.mark.parametrize("case", [TRANSPOSE_CASES[i] for i in (1, 3)])
def test_cached_transpose_matches_torch(case, eager_workspace):
    test_conv_transpose2d_matches_torch(case)


def test_workspace_never_hands_out_an_array_still_in_use(eager_workspace):
    w = to_dg(rand(4, 3, 3, 3, seed=1))
    y1 = F.conv2d(to_dg(rand(2, 3, 6, 6)), w, padding=1)
    before = y1.numpy().copy()
    F.conv2d(to_dg(rand(2, 3, 6, 6, seed=5)), w, padding=1)  # same shapes: would reuse y1's buffer
    np.testing.assert_array_equal(y1.numpy(), before)
    count = len(eager_workspace._buffers)
    for seed in range(3):  # arrays dropped after each call: their buffers come back, none added
        F.conv2d(to_dg(rand(2, 3, 6, 6, seed=seed)), w, padding=1)
    assert len(eager_workspace._buffers) == count
    eager_workspace.clear()  # keeps only the buffer y1 still uses
    assert len(eager_workspace._buffers) == 1
    del y1
    eager_workspace.clear()
    assert not eager_workspace._buffers


def test_second_backward_with_retain_graph_matches_first(eager_workspace):
    x = to_dg(rand(2, 3, 6, 6), requires_grad=True)
    w = to_dg(rand(4, 3, 3, 3, seed=1), requires_grad=True)
    loss = (F.conv2d(x, w, padding=1) ** 2).sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy(), w.grad.numpy().copy()
    x.grad = w.grad = None
    F.conv2d(to_dg(rand(2, 3, 6, 6, seed=7)), w.detach(), padding=1).sum()  # churn the workspace
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), first[0], rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), first[1], rtol=1e-12)


# ---------------------------------------------------------------------------- unfold / fold
@pytest.mark.parametrize("kw_", [dict(kernel_size=3), dict(kernel_size=(2, 3), dilation=(2, 1), padding=1,
                                                             stride=(2, 1)),
                                 dict(kernel_size=2, stride=2)])
def test_unfold_matches_torch(kw_):
    compare(lambda x: F.unfold(x, **kw_), rand(2, 3, 6, 7), torch_fn=lambda x: TF.unfold(x, **kw_))
    compare(lambda x: F.unfold(x, **kw_), rand(3, 6, 7), torch_fn=lambda x: TF.unfold(x, **kw_))


@pytest.mark.parametrize("kw_", [dict(kernel_size=3), dict(kernel_size=(3, 2), padding=1, stride=(1, 2)),
                                 dict(kernel_size=2, dilation=2, stride=2)])
def test_fold_matches_torch(kw_):
    size = (6, 7)
    blocks = TF.unfold(torch.zeros(1, 2, *size), **kw_).shape[-1]
    k = kw_["kernel_size"]
    kk = k * k if isinstance(k, int) else k[0] * k[1]
    for shape in [(2, 2 * kk, blocks), (2 * kk, blocks)]:
        compare(lambda c: F.fold(c, size, **kw_), rand(*shape), torch_fn=lambda c: TF.fold(c, size, **kw_))


def test_unfold_then_matmul_is_conv2d():
    x, w = rand(2, 3, 6, 6), rand(4, 3, 3, 3, seed=1)
    cols = F.unfold(to_dg(x), 3, padding=1)
    y = (to_dg(w).reshape(4, -1) @ cols).reshape(2, 4, 6, 6)
    assert_close(y, F.conv2d(to_dg(x), to_dg(w), padding=1))


def test_unfold_fold_modules_match_torch():
    for dm, tm in [(nn.Unfold(3, padding=1), torch.nn.Unfold(3, padding=1)),
                   (nn.Fold((4, 5), 2), torch.nn.Fold((4, 5), 2))]:
        assert repr(dm) == repr(tm)
    x = rand(2, 8, 12)
    assert_close(nn.Fold((4, 5), 2)(to_dg(x)), torch.nn.Fold((4, 5), 2)(torch.tensor(x)))


# ---------------------------------------------------------------------------- locally connected
def _torch_locally_connected(x, w, b, stride, padding):
    oh, ow, o, c, kh, kw = w.shape
    cols = TF.unfold(x, (kh, kw), padding=padding, stride=stride)  # (N, C*kh*kw, L)
    y = torch.einsum("nkl,lok->nol", cols, w.reshape(oh * ow, o, c * kh * kw))
    y = y.reshape(x.shape[0], o, oh, ow)
    return y + b


def test_locally_connected2d_matches_unfold_einsum_in_torch():
    x = rand(2, 3, 7, 6)
    w = rand(4, 4, 5, 3, 3, 2, seed=1)  # out grid 4x4 for kernel (3, 2), stride 2, padding 1
    b = rand(5, 4, 4, seed=2)
    compare(lambda x, w, b: F.locally_connected2d(x, w, b, stride=2, padding=1), x, w, b,
            torch_fn=lambda x, w, b: _torch_locally_connected(x, w, b, 2, 1))


def test_locally_connected2d_against_explicit_loop():
    x, w = rand(1, 2, 4, 4), rand(2, 2, 3, 2, 3, 3, seed=1)
    y = F.locally_connected2d(to_dg(x), to_dg(w)).numpy()
    for i in range(2):
        for j in range(2):
            patch = x[0, :, i:i + 3, j:j + 3]
            np.testing.assert_allclose(y[0, :, i, j], np.einsum("ocab,cab->o", w[i, j], patch), rtol=1e-12)


def test_locally_connected2d_module():
    m = nn.LocallyConnected2d(3, 4, input_size=(8, 7), kernel_size=3, stride=2, padding=1)
    assert m.output_size == (4, 4)
    assert tuple(m.weight.shape) == (4, 4, 4, 3, 3, 3) and tuple(m.bias.shape) == (4, 4, 4)
    bound = 1 / math.sqrt(3 * 9)
    assert np.abs(m.weight.numpy(force=True)).max() <= bound
    x = dg.randn(2, 3, 8, 7)
    y = m(x)
    assert tuple(y.shape) == (2, 4, 4, 4)
    expected = _torch_locally_connected(torch.tensor(x.numpy()), torch.tensor(m.weight.numpy(force=True)),
                                        torch.tensor(m.bias.numpy(force=True)), 2, 1)
    assert_close(y, expected, atol=1e-5)
    assert repr(m) == ("LocallyConnected2d(3, 4, input_size=(8, 7), kernel_size=(3, 3), stride=(2, 2), "
                       "padding=(1, 1), output_size=(4, 4))")
    with pytest.raises(RuntimeError, match=r"4x4 output grid.*gives 5x5"):
        m(dg.randn(2, 3, 10, 9))


# ---------------------------------------------------------------------------- modules
@pytest.mark.parametrize("make", [
    lambda m: m.Conv2d(4, 6, 3, stride=2, padding=1, groups=2),
    lambda m: m.Conv2d(3, 5, (3, 2), padding="same", dilation=2, bias=False),
    lambda m: m.Conv2d(3, 4, 3, padding=2, padding_mode="reflect"),
    lambda m: m.Conv2d(3, 4, 3, padding=(1, 2), padding_mode="replicate"),
    lambda m: m.Conv2d(3, 4, 3, padding=1, padding_mode="circular", stride=2),
    lambda m: m.Conv2d(3, 4, 4, padding="same", padding_mode="reflect"),
    lambda m: m.Conv1d(3, 4, 5, dilation=2, padding=3, padding_mode="circular"),
    lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
    lambda m: m.ConvTranspose1d(3, 2, 4, stride=2, bias=False),
])
def test_layers_match_torch_with_copied_weights(make):
    tm, dm = make(torch.nn), make(nn)
    assert repr(dm) == repr(tm)
    t_state = tm.state_dict()
    assert list(dm.state_dict()) == list(t_state)
    for k, v in dm.state_dict().items():
        assert tuple(v.shape) == tuple(t_state[k].shape), k
    tm.double()
    dm.double()
    dm.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    nd = 1 if "1d" in type(tm).__name__ else 2
    x = rand(2, tm.in_channels, *(7,) * nd)
    xd, xt = to_dg(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = dm(xd), tm(xt)
    assert_close(yd, yt)
    g = rand(*yt.shape, seed=5)
    (yd * to_dg(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    assert_close(xd.grad, xt.grad, what="input grad")
    for (name, p), tp in zip(dm.named_parameters(), tm.parameters()):
        assert_close(p.grad, tp.grad, what=f"grad of {name}")


def test_conv_transpose2d_output_size_argument():
    tm = torch.nn.ConvTranspose2d(3, 2, 3, stride=3, padding=1).double()
    dm = nn.ConvTranspose2d(3, 2, 3, stride=3, padding=1).double()
    dm.load_state_dict({k: dg.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = rand(1, 3, 4, 4)
    for size in [(10, 10), (11, 12), (2, 3, 12, 10)]:
        assert_close(dm(to_dg(x), output_size=size), tm(torch.tensor(x), output_size=size))
    with pytest.raises(ValueError, match=r"output size of \[13, 10\].*from \[10, 10\] to \[12, 12\]"):
        dm(to_dg(x), output_size=(13, 10))


@pytest.mark.parametrize("layer,fan_in", [(nn.Conv2d(8, 6, (3, 5), groups=2), 4 * 15),
                                          (nn.Conv1d(5, 7, 3), 15),
                                          (nn.ConvTranspose2d(6, 8, 3, groups=2), 4 * 9)])
def test_default_initialisation_is_pytorch_s(layer, fan_in):
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) and the bias rule both give this
    w, b = layer.weight.numpy(force=True), layer.bias.numpy(force=True)
    assert w.dtype == b.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.8 * bound and abs(w.mean()) < 0.25 * bound  # spread over the whole range


def test_float64_layer():
    m = nn.Conv2d(2, 3, 3, dtype=dg.float64)
    assert m.weight.dtype == m.bias.dtype == dg.float64
    assert m(dg.randn(1, 2, 4, 4, dtype=dg.float64)).dtype == dg.float64


# ---------------------------------------------------------------------------- user errors
def test_error_wrong_channel_count_names_expected_and_given():
    with pytest.raises(RuntimeError, match=r"expected input\[1, 4, 5, 5\] to have 3 channels, but got 4"):
        F.conv2d(dg.randn(1, 4, 5, 5), dg.randn(8, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"to have 6 channels, but got 4"):
        nn.Conv2d(6, 2, 3)(dg.randn(2, 4, 5, 5))
    with pytest.raises(RuntimeError, match=r"transposed=1.*to have 3 channels, but got 4"):
        F.conv_transpose2d(dg.randn(1, 4, 5, 5), dg.randn(3, 2, 3, 3))
    with pytest.raises(RuntimeError, match=r"locally_connected2d.*to have 3 channels, but got 2"):
        F.locally_connected2d(dg.randn(1, 2, 5, 5), dg.randn(3, 3, 4, 3, 3, 3))


def test_error_kernel_larger_than_padded_input():
    with pytest.raises(RuntimeError, match=r"padded input size per channel \(4, 4\).*kernel size \(5, 5\)"):
        F.conv2d(dg.randn(1, 3, 2, 2), dg.randn(8, 3, 5, 5), padding=1)
    with pytest.raises(RuntimeError, match=r"\(5, 5\)"):
        F.conv2d(dg.randn(1, 3, 4, 4), dg.randn(8, 3, 3, 3), dilation=2)  # dilated kernel 5x5
    with pytest.raises(RuntimeError, match="sliding blocks"):
        F.unfold(dg.randn(1, 2, 3, 3), 4)


def test_error_groups_not_dividing_channels():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(5, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(RuntimeError, match=r"groups=2, expected weight to be divisible by 2.*\[3, 2, 3, 3\]"):
        F.conv2d(dg.randn(1, 4, 5, 5), dg.randn(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="groups must be a positive"):
        F.conv2d(dg.randn(1, 4, 5, 5), dg.randn(4, 4, 3, 3), groups=0)


def test_error_bad_arguments():
    x, w = dg.randn(1, 3, 5, 5), dg.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        F.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="invalid padding string 'full'"):
        F.conv2d(x, w, padding="full")
    with pytest.raises(RuntimeError, match=r"3D \(unbatched\) or 4D \(batched\) input to conv2d.*\[5, 5\]"):
        F.conv2d(dg.randn(5, 5), w)
    with pytest.raises(RuntimeError, match=r"4-D weight.*\(4, 3, 3\)"):
        F.conv2d(x, dg.randn(4, 3, 3))
    with pytest.raises(RuntimeError, match=r"input dtype deepgrad.float64 and weight dtype deepgrad.float32"):
        F.conv2d(x.double(), w)
    with pytest.raises(RuntimeError, match=r"expected bias of shape \(4,\), got \(3,\)"):
        F.conv2d(x, w, dg.randn(3))
    with pytest.raises(ValueError, match="stride must be positive"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="padding must be non-negative"):
        F.conv2d(x, w, padding=-1)
    with pytest.raises(TypeError, match="floating-point input"):
        F.conv2d(dg.ones(1, 3, 5, 5, dtype=dg.int64), w)
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(dg.randn(1, 4, 5, 5), dg.randn(4, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(RuntimeError, match=r"reflect padding \(3, 3\) must be smaller than the input dim"):
        nn.Conv2d(3, 4, 3, padding=3, padding_mode="reflect")(dg.randn(1, 3, 3, 3))
    with pytest.raises(RuntimeError, match="sliding blocks 2 \\* 2 = 4, but got 5"):
        F.fold(dg.randn(1, 8, 5), (3, 3), 2)
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        F.fold(dg.randn(1, 5, 4), (3, 3), 2)
