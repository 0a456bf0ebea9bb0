"""deepgrad.vision.transforms: values against torch.nn.functional and torchvision's rules."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepgrad as dg
from deepgrad.utils.data import TensorDataset
from deepgrad.vision import transforms as T
from tests.helpers import assert_close, compare


def gen(seed=0):
    return dg.Generator().manual_seed(seed)


def image(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random(shape).astype(dtype)


def uint8_image(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


def windows(padded, h, w):
    """Every (h, w) window of an array (..., H, W)."""
    H, W = padded.shape[-2:]
    return [padded[..., i:i + h, j:j + w] for i in range(H - h + 1) for j in range(W - w + 1)]


def window_index(out, padded):
    hits = [k for k, win in enumerate(windows(padded, *out.shape[-2:])) if np.array_equal(win, out)]
    assert hits, "the crop is not a window of the (padded) input"
    return hits[0]


# ---------------------------------------------------------------------------- ToTensor / ToDtype
def test_to_tensor_scales_uint8_hwc_to_chw():
    img = uint8_image((5, 4, 3))
    out = T.ToTensor()(img)
    assert out.dtype == dg.float32 and out.shape == (3, 5, 4)
    np.testing.assert_allclose(out.numpy(), img.transpose(2, 0, 1) / 255, rtol=1e-6)
    gray = T.ToTensor()(uint8_image((6, 7)))
    assert gray.shape == (1, 6, 7) and float(gray.max()) <= 1.0


def test_to_tensor_keeps_other_dtypes_unscaled():
    img = image((2, 3, 2), dtype=np.float64) * 10
    out = T.ToTensor()(img)
    assert out.dtype == dg.float64 and np.array_equal(out.numpy(), img.transpose(2, 0, 1))


def test_to_tensor_errors():
    with pytest.raises(TypeError, match="got a deepgrad Tensor; tensors are already"):
        T.ToTensor()(dg.zeros(1, 2, 2))
    with pytest.raises(ValueError, match=r"2 or 3 dimensional .* got shape \(1, 2, 2, 3\)"):
        T.ToTensor()(np.zeros((1, 2, 2, 3), np.uint8))
    with pytest.raises(TypeError, match="pic should be a numpy array or a PIL image, got list"):
        T.ToTensor()([[1, 2]])


def test_to_dtype_rescales_like_torchvision():
    x = dg.tensor(np.array([[[0, 128, 255]]], np.uint8))
    f = T.ToDtype(dg.float32, scale=True)(x)
    assert f.dtype == dg.float32
    np.testing.assert_allclose(f.numpy(), [[[0, 128 / 255, 1]]], rtol=1e-6)
    back = T.ToDtype(dg.uint8, scale=True)(dg.tensor([[[0.0, 0.5, 1.0]]]))
    assert back.dtype == dg.uint8 and back.tolist() == [[[0, 127, 255]]]
    wide = T.ToDtype(dg.int16, scale=True)(x)
    assert wide.dtype == dg.int16 and wide.tolist() == [[[0, 128 << 7, 255 << 7]]]
    assert T.ToDtype(dg.uint8, scale=True)(wide).tolist() == x.tolist()
    assert T.ToDtype(dg.float64)(x).tolist() == [[[0.0, 128.0, 255.0]]]
    with pytest.raises(RuntimeError, match="from deepgrad.float32 to deepgrad.int32 cannot be performed"):
        T.ToDtype(dg.int32, scale=True)(dg.zeros(1, 1, 1))
    with pytest.raises(TypeError, match="expected a deepgrad Tensor, got ndarray"):
        T.ToDtype(dg.float32)(np.zeros((1, 1, 1)))


# ---------------------------------------------------------------------------- Normalize / statistics
def test_normalize_values_and_gradient_match_torch():
    mean, std = (0.5, 0.25, 0.1), (0.2, 0.5, 2.0)
    x = image((2, 3, 4, 5), dtype=np.float64)
    m = torch.tensor(mean, dtype=torch.float64).view(-1, 1, 1)
    s = torch.tensor(std, dtype=torch.float64).view(-1, 1, 1)
    compare(lambda t: T.Normalize(mean, std)(t), x, torch_fn=lambda t: (t - m) / s)
    out = T.Normalize(mean, std)(dg.tensor(x[0].astype(np.float32)))
    assert out.dtype == dg.float32 and out.shape == (3, 4, 5)


def test_normalize_inplace_and_single_value():
    x = dg.ones(2, 3, 3)
    out = T.Normalize([0.5], [0.5], inplace=True)(x)
    assert out is x and x.tolist() == dg.ones(2, 3, 3).tolist()


@pytest.mark.parametrize("arg,kwargs,exc,match", [
    (dg.zeros(3, 2, 2, dtype=dg.uint8), {}, TypeError, "should be a float tensor, got deepgrad.uint8"),
    (dg.zeros(2, 2), {}, ValueError, r"shape \(\.\.\., C, H, W\), got shape \(2, 2\)"),
    (np.zeros((3, 2, 2)), {}, TypeError, "apply ToTensor"),
    (dg.zeros(3, 2, 2), {"std": (1.0, 0.0, 1.0)}, ValueError, "std evaluated to zero"),
    (dg.zeros(4, 2, 2), {}, ValueError, "need 1 or 4 values for an image of 4 channels, got 3 and 3"),
])
def test_normalize_errors(arg, kwargs, exc, match):
    t = T.Normalize(kwargs.get("mean", (0.0, 0.0, 0.0)), kwargs.get("std", (1.0, 1.0, 1.0)))
    with pytest.raises(exc, match=match):
        t(arg)


def test_compute_mean_std_of_tensor_and_dataset():
    x = image((10, 3, 4, 5), dtype=np.float32) * np.array([1, 5, 10], np.float32)[:, None, None] + 2
    expected_mean = x.astype(np.float64).mean(axis=(0, 2, 3))
    expected_std = x.astype(np.float64).std(axis=(0, 2, 3))
    mean, std = T.compute_mean_std(dg.tensor(x))
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(std, expected_std, rtol=1e-12)
    ds = TensorDataset(dg.tensor(x), dg.arange(10))
    mean_ds, std_ds = T.compute_mean_std(ds, batch_size=3)  # four batches merged
    np.testing.assert_allclose(mean_ds, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(std_ds, expected_std, rtol=1e-12)
    z = T.Normalize(mean, std)(dg.tensor(x)).numpy().astype(np.float64)
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, atol=1e-5)


def test_compute_mean_std_errors():
    with pytest.raises(TypeError, match=r"got a batch that is a deepgrad.uint8 tensor of shape "
                                        r"\(2, 1, 2, 2\); give image datasets transform=ToTensor"):
        T.compute_mean_std(dg.zeros(2, 1, 2, 2, dtype=dg.uint8))
    with pytest.raises(TypeError, match=r"shape \(3, 2, 2\)"):
        T.compute_mean_std(dg.zeros(3, 2, 2))
    with pytest.raises(ValueError, match="no pixels"):
        T.compute_mean_std(TensorDataset())


# ---------------------------------------------------------------------------- Resize
@pytest.mark.parametrize("hw,out_hw", [((8, 8), (28, 28)), ((7, 13), (3, 5)), ((9, 6), (9, 4)),
                                       ((5, 4), (16, 2)), ((12, 12), (5, 7))])
@pytest.mark.parametrize("antialias", [False, True])
def test_resize_bilinear_matches_interpolate(hw, out_hw, antialias):
    x = image((2, 3) + hw, dtype=np.float64)
    compare(lambda t: T.Resize(out_hw, antialias=antialias)(t), x, grad=False,
            torch_fn=lambda t: TF.interpolate(t, size=out_hw, mode="bilinear", align_corners=False,
                                              antialias=antialias), atol=1e-12)
    out = T.Resize(out_hw, antialias=antialias)(dg.tensor(x[0].astype(np.float32)))
    ref = TF.interpolate(torch.tensor(x[:1].astype(np.float32)), size=out_hw, mode="bilinear",
                         align_corners=False, antialias=antialias)[0]
    assert out.dtype == dg.float32
    assert_close(out, ref, atol=2e-6)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("out_hw", [(3, 5), (16, 9), (7, 13), (21, 39)])
def test_resize_nearest_matches_interpolate(mode, out_hw):
    x = image((1, 2, 7, 13))
    out = T.Resize(out_hw, interpolation=mode)(dg.tensor(x))
    ref = TF.interpolate(torch.tensor(x), size=out_hw, mode=mode)
    assert np.array_equal(out.numpy(), ref.numpy())
    assert T.Resize(out_hw, interpolation=T.InterpolationMode(mode))(dg.tensor(x)).tolist() == out.tolist()


@pytest.mark.parametrize("hw,size,max_size,expected", [
    ((10, 20), 5, None, (5, 10)), ((20, 10), 5, None, (10, 5)), ((7, 10), 5, None, (5, 7)),
    ((10, 40), 8, 20, (5, 20)), ((6, 6), [4], None, (4, 4)),
])
def test_resize_int_size_keeps_aspect_ratio(hw, size, max_size, expected):
    assert T.Resize(size, max_size=max_size)(dg.zeros((1,) + hw)).shape == (1,) + expected


def test_resize_uint8_rounds_and_numpy_hwc_layout():
    img = uint8_image((9, 11, 3))
    out = T.Resize((5, 6))(img)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (5, 6, 3)
    ref = TF.interpolate(torch.tensor(img.transpose(2, 0, 1)[None].astype(np.float32)), size=(5, 6),
                         mode="bilinear", antialias=True)[0].round().clamp(0, 255).to(torch.uint8)
    assert np.array_equal(out.transpose(2, 0, 1), ref.numpy())
    t = T.Resize((5, 6))(dg.tensor(img.transpose(2, 0, 1).copy()))
    assert t.dtype == dg.uint8 and np.array_equal(t.numpy(), ref.numpy())


def test_resize_same_size_returns_input_and_errors():
    x = dg.zeros(1, 4, 4)
    assert T.Resize(4)(x) is x
    with pytest.raises(ValueError, match="size should be a positive int or a sequence of 1 or 2"):
        T.Resize(0)
    with pytest.raises(ValueError, match="interpolation should be one of nearest, nearest-exact, bilinear, "
                                         "got 'bicubic'"):
        T.Resize(4, interpolation="bicubic")
    with pytest.raises(ValueError, match="max_size=3 needs size to be an int"):
        T.Resize(4, max_size=3)
    with pytest.raises(TypeError, match="Resize: expected a deepgrad Tensor .* got list"):
        T.Resize(4)([[1.0]])


# ---------------------------------------------------------------------------- Pad / crops
@pytest.mark.parametrize("padding,torch_pad", [(2, (2, 2, 2, 2)), ((1, 3), (1, 1, 3, 3)),
                                               ((1, 2, 3, 0), (1, 3, 2, 0))])
@pytest.mark.parametrize("mode,torch_mode", [("constant", "constant"), ("edge", "replicate"),
                                             ("reflect", "reflect")])
def test_pad_matches_torch_pad(padding, torch_pad, mode, torch_mode):
    x = image((2, 5, 6))
    out = T.Pad(padding, padding_mode=mode)(dg.tensor(x))
    ref = TF.pad(torch.tensor(x)[None], torch_pad, mode=torch_mode)[0]
    assert np.array_equal(out.numpy(), ref.numpy())


def test_pad_fill_symmetric_negative_and_errors():
    x = image((3, 2, 2))
    out = T.Pad(1, fill=(1.0, 2.0, 3.0))(dg.tensor(x)).numpy()
    assert out.shape == (3, 4, 4) and out[2, 0, 0] == 3.0 and out[0, 3, 3] == 1.0
    assert np.array_equal(out[:, 1:3, 1:3], x)
    sym = T.Pad((2, 0), padding_mode="symmetric")(dg.tensor(x)).numpy()
    assert np.array_equal(sym, np.pad(x, [(0, 0), (0, 0), (2, 2)], mode="symmetric"))
    assert np.array_equal(T.Pad((-1, 0, 0, 0))(dg.tensor(x)).numpy(), x[..., 1:])
    hwc = T.Pad(1, fill=(7, 8, 9))(uint8_image((2, 2, 3)))
    assert hwc.shape == (4, 4, 3) and hwc[0, 0].tolist() == [7, 8, 9]
    with pytest.raises(ValueError, match="padding must be an int or a 1, 2, or 4 element sequence"):
        T.Pad((1, 2, 3))
    with pytest.raises(ValueError, match="padding_mode should be one of constant, edge, reflect, symmetric"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match="fill has 2 values for an image with 3 channels"):
        T.Pad(1, fill=(1, 2))(dg.tensor(x))


def test_random_crop_with_padding_covers_every_window():
    x = image((1, 4, 4))
    padded = np.pad(x, [(0, 0), (2, 2), (2, 2)])
    crop = T.RandomCrop(4, padding=2, generator=gen(1))
    seen = np.zeros(25, int)
    for _ in range(500):
        out = crop(dg.tensor(x))
        assert out.shape == (1, 4, 4) and out.dtype == dg.float32
        seen[window_index(out.numpy(), padded)] += 1
    assert seen.min() > 5, "every one of the 5 x 5 offsets is drawn"


def test_random_crop_is_reproducible_and_shares_window_over_batch():
    x = image((3, 2, 9, 9))
    a = T.RandomCrop((4, 5), generator=gen(3))(dg.tensor(x)).numpy()
    b = T.RandomCrop((4, 5), generator=gen(3))(dg.tensor(x)).numpy()
    assert np.array_equal(a, b)
    k = window_index(a[0, 0], x[0, 0])
    assert all(np.array_equal(a[n, c], windows(x[n, c], 4, 5)[k]) for n in range(3) for c in range(2))
    dg.manual_seed(5)
    c = T.RandomCrop(4)(dg.tensor(x[0]))
    dg.manual_seed(5)
    assert T.RandomCrop(4)(dg.tensor(x[0])).tolist() == c.tolist()


def test_random_crop_pad_if_needed_fill_and_same_size():
    x = uint8_image((3, 5, 3))  # H x W x C numpy image
    out = T.RandomCrop(6, pad_if_needed=True, fill=9, generator=gen())(x)
    assert isinstance(out, np.ndarray) and out.shape == (6, 6, 3)
    padded = np.pad(x, [(3, 3), (1, 1), (0, 0)], constant_values=9)
    window_index(out.transpose(2, 0, 1), padded.transpose(2, 0, 1))
    g = gen(2)
    state = g.get_state().tolist()
    same = T.RandomCrop(5, generator=g)(dg.tensor(image((1, 5, 5))))
    assert same.shape == (1, 5, 5) and g.get_state().tolist() == state, "no draw when the crop is the image"
    with pytest.raises(ValueError, match=r"required crop size \(6, 6\) is larger than input image size "
                                         r"\(3, 5\)"):
        T.RandomCrop(6)(x)
    with pytest.raises(RuntimeError, match="requires grad; pass tensor.detach"):
        T.RandomCrop(2)(dg.zeros(1, 3, 3, requires_grad=True))


@pytest.mark.parametrize("hw,size", [((6, 7), (3, 4)), ((5, 5), (2, 2)), ((4, 4), (4, 4))])
def test_center_crop_position(hw, size):
    x = image((2,) + hw)
    top, left = int(round((hw[0] - size[0]) / 2)), int(round((hw[1] - size[1]) / 2))
    out = T.CenterCrop(size)(dg.tensor(x)).numpy()
    assert np.array_equal(out, x[:, top:top + size[0], left:left + size[1]])


def test_center_crop_pads_smaller_images():
    x = image((1, 2, 2)) + 1
    out = T.CenterCrop((5, 4))(dg.tensor(x)).numpy()
    assert out.shape == (1, 5, 4)
    assert np.array_equal(out[:, 1:3, 1:3], x) and out.sum() == pytest.approx(x.sum())


# ---------------------------------------------------------------------------- flips
def test_flips_match_torch_flip():
    x = image((2, 3, 4))
    h = T.RandomHorizontalFlip(p=1.0)(dg.tensor(x))
    v = T.RandomVerticalFlip(p=1.0)(dg.tensor(x))
    assert np.array_equal(h.numpy(), torch.flip(torch.tensor(x), [-1]).numpy())
    assert np.array_equal(v.numpy(), torch.flip(torch.tensor(x), [-2]).numpy())
    hwc = uint8_image((2, 3, 3))
    assert np.array_equal(T.RandomHorizontalFlip(p=1.0)(hwc), hwc[:, ::-1])
    t = dg.tensor(x)
    assert T.RandomHorizontalFlip(p=0.0)(t) is t


@pytest.mark.parametrize("cls", [T.RandomHorizontalFlip, T.RandomVerticalFlip])
def test_flip_probability(cls):
    x = dg.tensor(image((1, 3, 3)))
    flip = cls(p=0.3, generator=gen(9))
    flipped = sum(flip(x) is not x for _ in range(2000))
    assert abs(flipped / 2000 - 0.3) < 0.041  # 4 standard deviations of a binomial proportion
    with pytest.raises(ValueError, match="p should be a probability in"):
        cls(p=1.5)


# ---------------------------------------------------------------------------- composition
def test_compose_applies_in_order_and_lambda():
    pipeline = T.Compose([T.ToTensor(), T.Lambda(lambda t: t * 2), T.Normalize((1.0,), (0.5,))])
    img = np.full((2, 2), 255, np.uint8)
    assert pipeline(img).tolist() == [[[2.0, 2.0], [2.0, 2.0]]]
    assert "ToTensor()" in repr(pipeline) and "Normalize(mean=(1.0,)" in repr(pipeline)
    with pytest.raises(TypeError, match="argument lambd should be callable, got int"):
        T.Lambda(3)
    with pytest.raises(TypeError, match="every transform must be callable, got str"):
        T.Compose(["flip"])


def test_cifar_style_pipeline_on_numpy_images():
    pipeline = T.Compose([T.RandomCrop(8, padding=2, generator=gen()),
                          T.RandomHorizontalFlip(generator=gen()), T.ToTensor(),
                          T.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
    out = pipeline(uint8_image((8, 8, 3)))
    assert out.shape == (3, 8, 8) and out.dtype == dg.float32
