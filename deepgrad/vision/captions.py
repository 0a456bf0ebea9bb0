"""Image-caption data sets: images with several reference captions each, read from the standard
formats.

- COCO: ``annotations/captions_train2014.json`` (``images`` with ``id`` and ``file_name``,
  ``annotations`` with ``image_id`` and ``caption``) and the image folder (``train2014/``).
- Karpathy's splits (Flickr8k, Flickr30k, COCO): ``dataset_flickr8k.json`` whose ``images`` have
  ``filename`` (and ``filepath`` for COCO), ``split`` ('train', 'val', 'test', 'restval') and
  ``sentences`` with ``tokens`` and ``raw``.

Images are decoded with Pillow when it is installed (it comes with matplotlib), otherwise with
matplotlib (PNG only), resized to ``image_size`` x ``image_size`` and kept as uint8 in memory.

Example::

    train = load_caption_data("data/flickr8k", split="train", image_size=64)
    len(train), train.images.shape, train.captions[0][:2]
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import deepgrad as dg
from deepgrad import Tensor

from .transforms import Resize, ToTensor

__all__ = ["CaptionCorpus", "read_image", "write_image", "load_coco_captions", "load_karpathy_split",
           "load_caption_data"]

KARPATHY_SPLITS = ("train", "val", "test", "restval")


@dataclass
class CaptionCorpus:
    """Images (N, 3, S, S) uint8 with ``captions[i]`` (a list of reference strings) and ``names[i]``
    (the file name or an id) for image i."""

    images: Tensor
    captions: list
    names: list

    def __post_init__(self):
        if not (len(self.images) == len(self.captions) == len(self.names)):
            raise ValueError(f"CaptionCorpus: {len(self.images)} images, {len(self.captions)} caption lists "
                             f"and {len(self.names)} names; expected one of each per image")

    def __len__(self) -> int:
        return len(self.captions)

    def subset(self, indices: Sequence[int]) -> "CaptionCorpus":
        """The corpus of the images at ``indices`` (in that order)."""
        idx = [int(i) for i in indices]
        values = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Tensor):
                v = v.index_select(0, dg.tensor(idx, dtype=dg.int64))
            elif isinstance(v, list):
                v = [v[i] for i in idx]
            values[f.name] = v
        return type(self)(**values)

    def float_images(self, indices: Sequence[int] | Tensor | None = None) -> Tensor:
        """Float32 images in [0, 1], all or those at ``indices``."""
        images = self.images if indices is None else self.images.index_select(
            0, indices if isinstance(indices, Tensor) else dg.tensor(list(indices), dtype=dg.int64))
        return images.float() / 255


def _imread(path: Path):
    """The decoded pixels of an image file (a PIL image or a numpy array H x W [x C])."""
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        with Image.open(path) as im:
            return im.convert("RGB")
    try:
        from matplotlib import image as mpimg
    except ImportError:
        raise ImportError("reading image files needs Pillow (pip install pillow) or matplotlib "
                          "(pip install 'deepgrad[viz]')") from None
    return mpimg.imread(path)


def read_image(path: str | os.PathLike, image_size: int) -> Tensor:
    """The image file at ``path`` as a uint8 (3, image_size, image_size) tensor (RGB; grey images are
    repeated over the channels, an alpha channel is dropped), resized with bilinear antialiasing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        pixels = _imread(path)
    except (OSError, ValueError, SyntaxError) as e:
        raise ValueError(f"{path}: not a readable image ({e})") from None
    img = ToTensor()(pixels)
    if img.shape[0] == 1:
        img = img.expand(3, *img.shape[1:])
    img = Resize((image_size, image_size))(img[:3].float())
    if not img.is_floating_point() or img.max().item() > 1.0:
        raise ValueError(f"{path}: unexpected pixel values after decoding (dtype {img.dtype})")
    return (img.clamp(0, 1) * 255).round().to(dg.uint8)


def write_image(image: Tensor, path: str | os.PathLike) -> None:
    """Write a (3, H, W) image (uint8, or float in [0, 1]) as a PNG file."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"write_image: expected a (3, H, W) image, got shape {tuple(image.shape)}")
    pixels = image if image.dtype == dg.uint8 else (image.clamp(0, 1) * 255).round().to(dg.uint8)
    pixels = pixels.permute(1, 2, 0).contiguous().numpy()
    try:
        from PIL import Image
        Image.fromarray(pixels).save(path)
    except ImportError:
        from ..viz._plot import pyplot
        pyplot().imsave(path, pixels)


def _read_json(path: Path, kind: str) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{kind} file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a JSON file ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(f"{path}: not a {kind} file (expected a JSON object with an 'images' list)")
    return data


def _find_image_dir(relative: str, candidates: Sequence[Path], source: Path) -> Path:
    """The first candidate folder holding ``relative`` (an image path from the annotations)."""
    for d in candidates:
        if (d / relative).is_file():
            return d
    where = ", ".join(str(d) for d in candidates)
    raise FileNotFoundError(f"{source}: image {relative!r} not found in {where}; pass the image folder "
                            "explicitly (image_dir / --images)")


def _load_images(paths: Sequence[Path], image_size: int) -> Tensor:
    if not paths:
        return dg.zeros(0, 3, image_size, image_size, dtype=dg.uint8)
    return dg.stack([read_image(p, image_size) for p in paths])


def _entry(item: dict, key: str, source: Path, index: int):
    if key not in item:
        raise ValueError(f"{source}: entry {index} of {item!r:.80} lacks the field {key!r}")
    return item[key]


def load_coco_captions(annotations: str | os.PathLike, image_dir: str | os.PathLike | None = None,
                       image_size: int = 64, limit: int | None = None) -> CaptionCorpus:
    """A COCO captions file (``captions_<split>.json``) with its images. Without ``image_dir`` the
    images are looked for in ``<split>/`` next to the annotations folder, ``images/`` and the
    annotations' own folder. Images without a caption are left out; ``limit`` keeps the first
    ``limit`` images."""
    source = Path(annotations)
    data = _read_json(source, "COCO captions")
    if not isinstance(data.get("annotations"), list):
        raise ValueError(f"{source}: not a COCO captions file (no 'annotations' list)")
    captions: dict = {}
    for i, ann in enumerate(data["annotations"]):
        captions.setdefault(_entry(ann, "image_id", source, i), []).append(
            str(_entry(ann, "caption", source, i)).strip())
    files = [(_entry(im, "file_name", source, i), _entry(im, "id", source, i))
             for i, im in enumerate(data["images"])]
    files = [(name, ident) for name, ident in files if ident in captions][:limit]
    if image_dir is not None:
        candidates = [Path(image_dir)]
    else:
        split = source.stem.split("captions_", 1)[-1]
        candidates = [source.parent.parent / split, source.parent / split, source.parent.parent / "images",
                      source.parent / "images", source.parent]
    root = _find_image_dir(files[0][0], candidates, source) if files else source.parent
    return CaptionCorpus(_load_images([root / name for name, _ in files], image_size),
                         [captions[ident] for _, ident in files], [name for name, _ in files])


def load_karpathy_split(dataset: str | os.PathLike, split: str = "train",
                        image_dir: str | os.PathLike | None = None, image_size: int = 64,
                        limit: int | None = None, include_restval: bool = True) -> CaptionCorpus:
    """One split of a Karpathy-format file (``dataset_flickr8k.json``, ``dataset_coco.json``): the
    images whose ``split`` is ``split`` ('train' also takes 'restval' unless ``include_restval`` is
    False, as in Karpathy's setup), with the sentences' ``tokens`` joined by spaces as captions.
    Without ``image_dir`` the images (``filepath/filename``) are looked for next to the file, in
    ``images/``, ``Images/`` and ``Flicker8k_Dataset/``."""
    if split not in KARPATHY_SPLITS:
        raise ValueError(f"load_karpathy_split: split must be one of {', '.join(KARPATHY_SPLITS)}, "
                         f"got {split!r}")
    source = Path(dataset)
    data = _read_json(source, "Karpathy split")
    wanted = {split, "restval"} if split == "train" and include_restval else {split}
    rows = []
    for i, im in enumerate(data["images"]):
        if _entry(im, "split", source, i) not in wanted:
            continue
        sentences = [" ".join(s["tokens"]) if s.get("tokens") else str(s.get("raw", "")).strip()
                     for s in _entry(im, "sentences", source, i)]
        rows.append((str(Path(im.get("filepath", "")) / _entry(im, "filename", source, i)), sentences))
    rows = rows[:limit]
    candidates = [Path(image_dir)] if image_dir is not None else [
        source.parent / d for d in ("", "images", "Images", "Flicker8k_Dataset", "Flickr8k_Dataset")]
    root = _find_image_dir(rows[0][0], candidates, source) if rows else source.parent
    return CaptionCorpus(_load_images([root / name for name, _ in rows], image_size),
                         [s for _, s in rows], [name for name, _ in rows])


def load_caption_data(path: str | os.PathLike, split: str = "train", image_size: int = 64,
                      image_dir: str | os.PathLike | None = None, limit: int | None = None) -> CaptionCorpus:
    """Load ``split`` ('train', 'val' or 'test') of a caption data set from a file or a folder,
    recognising the format: a Karpathy ``dataset_*.json``, or COCO ``captions_<split>*.json`` (in the
    folder or its ``annotations/``). Raises FileNotFoundError when the folder has no such file for
    ``split``."""
    path = Path(path)
    if path.is_file():
        data = _read_json(path, "caption annotations")
        if "annotations" in data:
            return load_coco_captions(path, image_dir, image_size, limit)
        return load_karpathy_split(path, split, image_dir, image_size, limit)
    if not path.is_dir():
        raise FileNotFoundError(f"caption data not found: {path}")
    karpathy = sorted(path.glob("dataset_*.json"))
    if karpathy:
        return load_karpathy_split(karpathy[0], split, image_dir, image_size, limit)
    coco = sorted(path.glob(f"captions_{split}*.json")) + sorted(
        path.glob(f"annotations/captions_{split}*.json"))
    if coco:
        return load_coco_captions(coco[0], image_dir, image_size, limit)
    raise FileNotFoundError(f"{path}: no caption annotations for split {split!r} (expected dataset_*.json in "
                            f"Karpathy's format, or COCO captions_{split}*.json here or in annotations/)")
