"""Image files as tensors: ``read_image`` gives a float32 C x H x W tensor in [0, 1] from a PNG, JPEG (or
any format Pillow reads), ``write_image`` writes one back. Pillow is installed with matplotlib
(``pip install 'deepgrad[viz]'``).

Example::

    img = read_image("cat.jpg", mode="RGB", size=128)   # (3, 128, h * 128 / w) or (3, w * 128 / h, 128)
    write_image(img.flip(-1), "cat_mirrored.png")
"""
from __future__ import annotations

import os

import deepgrad as dg
from deepgrad import Tensor

from .transforms import Resize

__all__ = ["read_image", "write_image"]

_MODES = {"L": 1, "RGB": 3, "RGBA": 4}


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading and writing images needs Pillow (installed with matplotlib): "
                          "pip install 'deepgrad[viz]'") from None
    return Image


def read_image(path: str | os.PathLike, mode: str | None = None, size=None) -> Tensor:
    """The image in the file ``path`` as a float32 tensor (C, H, W) with values in [0, 1].

    ``mode`` 'L' gives one grey channel (ITU-R 601 luma, as Pillow converts), 'RGB' three and
    'RGBA' four; None keeps grey images grey (1 channel), drops nothing from RGBA (4) and turns
    every other kind (palette, CMYK, 16-bit grey...) into RGB. ``size`` resizes bilinearly with
    antialiasing, with ``transforms.Resize``'s meaning: an int sets the shorter side keeping the
    aspect ratio, (h, w) sets both.

    Example::

        x = read_image("digit.png", mode="L", size=(8, 8))   # (1, 8, 8)
    """
    if mode is not None and mode not in _MODES:
        raise ValueError(f"read_image: mode must be one of {', '.join(_MODES)} or None, got {mode!r}")
    Image = _pillow()
    try:
        with Image.open(path) as im:
            im.load()
            target = mode or (im.mode if im.mode in _MODES else "L" if im.mode in ("1", "LA") else "RGB")
            im = im.convert(target)
    except Image.UnidentifiedImageError:
        raise ValueError(f"read_image: {os.fspath(path)} is not an image file Pillow can read") from None
    pixels = dg.tensor(im, dtype=dg.uint8)
    image = (pixels.reshape(im.height, im.width, -1).permute(2, 0, 1).float() / 255).contiguous()
    return image if size is None else Resize(size)(image)


def write_image(image: Tensor, path: str | os.PathLike) -> None:
    """Write ``image`` -- (C, H, W) with 1, 3 or 4 channels, or (H, W) -- to ``path``, in the format
    its suffix names (.png, .jpg, ...). Float images are clamped to [0, 1] and scaled to 0..255
    (rounded); uint8 images are written as they are.

    Example::

        write_image(deepgrad.rand(3, 16, 16), "noise.png")
    """
    if image.ndim == 2:
        image = image.unsqueeze(0)
    if image.ndim != 3 or image.shape[0] not in (1, 3, 4):
        raise ValueError(f"write_image: expected an image of shape (C, H, W) with C in 1, 3, 4 or (H, W), "
                         f"got shape {tuple(image.shape)}")
    if image.dtype != dg.uint8:
        if not image.is_floating_point():
            raise TypeError(f"write_image: expected a float image in [0, 1] or a uint8 one, got "
                            f"{image.dtype}")
        image = (image.detach().clamp(0, 1) * 255).round().to(dg.uint8)
    pixels = image.permute(1, 2, 0).contiguous().numpy()
    Image = _pillow()
    picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    try:
        picture.save(path)
    except (KeyError, ValueError):
        raise ValueError(f"write_image: cannot tell an image format from the file name {os.fspath(path)!r}; "
                         f"end it with .png or .jpg") from None
