"""Image classification datasets with torchvision's names and arguments: the 8 x 8 ``Digits`` bundled
with scikit-learn, and ``MNIST``, ``FashionMNIST`` and ``CIFAR10`` read from their standard files.

A sample is ``(image, target)`` with ``target`` an int, after ``transform`` / ``target_transform``.
``Digits`` images are ready tensors (1 x S x S float32 in [0, 1]); ``MNIST``-style and ``CIFAR10``
images are numpy uint8 arrays H x W and H x W x 3, the pixels of torchvision's PIL images, so that
torchvision pipelines (``RandomCrop``, ``RandomHorizontalFlip``, ``ToTensor``, ``Normalize``) work as
written.

Without transforms, a ``DataLoader`` with the default collate takes whole batches from these
datasets with one gather (``_collated_batch``) instead of sample by sample.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import os
import pickle
import struct
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from .. import backend as B
from ..backend import xp
from ..creation import from_numpy, tensor
from ..random import Generator, permutation_array
from ..tensor import Tensor
from ..utils.data import Dataset
from .transforms import Resize

__all__ = ["VisionDataset", "Digits", "MNIST", "FashionMNIST", "CIFAR10"]


class VisionDataset(Dataset):
    """Base of the image datasets: ``data`` (the images), ``targets`` (the labels), ``classes``
    (label names), ``transform`` applied to each image and ``target_transform`` to each label."""

    classes: list = []

    def __init__(self, root: str | os.PathLike | None, transform: Callable | None = None,
                 target_transform: Callable | None = None):
        self.root = None if root is None else Path(root).expanduser()
        self.transform = transform
        self.target_transform = target_transform

    @property
    def class_to_idx(self) -> dict:
        return {name: i for i, name in enumerate(self.classes)}

    def _image(self, index: int):
        """A copy of the image at ``index`` (so an in-place transform cannot change the dataset)."""
        return self.data[index].clone()

    def _images(self, index) -> Tensor:
        """The images at an int64 index array as one tensor (what default_collate makes of them)."""
        return self.data[from_numpy(index)]

    def __getitem__(self, index: int):
        img, target = self._image(index), int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)

    def _collated_batch(self, indices: Sequence[int]):
        """What default_collate makes of the samples at ``indices``, in one gather; None when
        transforms (or a subclass's ``__getitem__``) must see each sample."""
        if self.transform is not None or self.target_transform is not None \
                or type(self).__getitem__ is not VisionDataset.__getitem__:
            return None
        index = xp.asarray([int(i) for i in indices], dtype=xp.int64)
        targets = self.targets
        labels = (targets[from_numpy(index)] if isinstance(targets, Tensor)
                  else tensor([int(targets[i]) for i in index], dtype=B.int64))
        return [self._images(index), labels]

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"    Root location: {self.root}")
        for name in ("transform", "target_transform"):
            if getattr(self, name) is not None:
                lines.append(f"    {name}: {getattr(self, name)!r}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- Digits (scikit-learn)
def _bundled_digits_csv() -> Path | None:
    """scikit-learn's copy of the digits table, found without importing scikit-learn (importing
    ``sklearn.datasets`` takes seconds; the table loads in milliseconds); None if it moved."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ImportError("Digits needs scikit-learn, which bundles the 8x8 digit images: "
                          "pip install 'deepgrad[data]'")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def _sklearn_digits() -> tuple:
    """(pixels (1797, 8, 8) float32 in [0, 1], labels int64), read-only."""
    path = _bundled_digits_csv()
    if path is not None:
        # The table load_digits parses: one row per image, 64 pixel values then the label.
        table = xp.loadtxt(path, delimiter=",")
        pixels, labels = table[:, :-1].reshape(-1, 8, 8), table[:, -1]
    else:
        from sklearn.datasets import load_digits
        bunch = load_digits()
        pixels, labels = bunch.images, bunch.target
    images = (pixels / 16).astype(xp.float32)
    labels = labels.astype(xp.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def _stratified_split(labels, fraction: float, seed: int) -> tuple:
    """Sorted (train, test) indices: in each class, a permutation drawn from Generator(seed) puts
    round(fraction * class size) samples in train and the rest in test."""
    gen = Generator().manual_seed(seed)
    train = []
    for c in range(int(labels.max()) + 1):
        members = xp.flatnonzero(labels == c)
        shuffled = members[permutation_array(len(members), gen)]
        train.append(shuffled[:int(round(fraction * len(members)))])
    is_train = xp.zeros(len(labels), dtype=bool)
    is_train[xp.concatenate(train)] = True
    return xp.flatnonzero(is_train), xp.flatnonzero(~is_train)


class Digits(VisionDataset):
    """The 1797 handwritten digits (8 x 8, 10 classes) bundled with scikit-learn (UCI optdigits test
    set), split once into train and test, stratified: in each class, ``round(split * n)`` samples
    drawn with ``Generator().manual_seed(seed)`` go to train, the others to test (1438 / 359 with the
    defaults). The same arguments always give the same split, and train and test never overlap.

    ``data`` is a float32 tensor (N, 1, S, S) of pixel values / 16 in [0, 1], bilinearly resized
    (antialiased) to ``image_size`` S when it is not 8; ``targets`` an int64 tensor. A sample is a
    (1, S, S) tensor and an int. Needs scikit-learn: ``pip install 'deepgrad[data]'``.

    Example::

        train = Digits(train=True)
        loader = DataLoader(train, batch_size=64, shuffle=True)
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, train: bool = True, split: float = 0.8, seed: int = 0,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 image_size: int = 8):
        super().__init__(None, transform, target_transform)
        if not 0 < split < 1:
            raise ValueError(f"Digits: split is the training fraction, in (0, 1); got {split}")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"Digits: image_size should be a positive int, got {image_size!r}")
        images, labels = _sklearn_digits()
        train_idx, test_idx = _stratified_split(labels, split, seed)
        idx = train_idx if train else test_idx
        data = from_numpy(images[idx][:, None])
        self.data = Resize((image_size, image_size))(data)
        self.targets = from_numpy(labels[idx])
        self.train, self.split, self.seed, self.image_size = train, split, seed, image_size


# ---------------------------------------------------------------------------- downloads
def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, path: Path, md5: str) -> None:
    """Fetch ``url`` into ``path`` (through a temporary file, renamed once the md5 matches)."""
    part = path.with_name(path.name + ".part")
    with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as f:
        for block in iter(lambda: response.read(1 << 20), b""):
            f.write(block)
    got = _md5(part)
    if got != md5:
        part.unlink()
        raise ValueError(f"md5 mismatch: expected {md5}, got {got}")
    os.replace(part, path)


def _download_any(name: str, urls: Sequence[str], path: Path, md5: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        try:
            _download(url, path, md5)
            return
        except (urllib.error.URLError, OSError, ValueError) as e:
            errors.append(f"{url}: {e}")
    raise RuntimeError(f"{name}: could not download {path.name}:\n  " + "\n  ".join(errors)
                       + f"\nWithout a network, copy the file into {path.parent} by hand.")


# ---------------------------------------------------------------------------- MNIST-style (IDX files)
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_idx(path: Path):
    """An IDX file (raw or gzipped) as an array: magic 0x00 0x00, a type code, the number of
    dimensions, big-endian uint32 sizes, then the values."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path}: corrupt gzip file ({e}); delete it and fetch it again") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic number {raw[:4].hex() or 'missing'}; expected 0000 "
                         f"then a type code and the number of dimensions)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes for {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = xp.dtype(_IDX_DTYPES[raw[2]])
    expected = int(xp.prod(shape, dtype=xp.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: corrupt or truncated IDX file: the header announces shape {shape} "
                         f"({expected} bytes of values) but the file holds {len(raw) - header}")
    return xp.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


class MNIST(VisionDataset):
    """MNIST handwritten digits (60000 train / 10000 test, 28 x 28) from the four standard IDX files
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
    ``t10k-labels-idx1-ubyte``, each raw or gzipped (``.gz``), looked for in
    ``root/<ClassName>/raw/`` (torchvision's layout, where ``download=True`` puts them) and then in
    ``root/`` itself.

    ``data`` is a uint8 tensor (N, 28, 28), ``targets`` an int64 tensor; a sample is a uint8 numpy
    image (28, 28) and an int: use ``transform=ToTensor()`` for a (1, 28, 28) float tensor.

    ``download=True`` fetches the gzipped files from the mirrors (md5-checked) unless they are there.

    Example::

        train = MNIST("data", train=True, transform=ToTensor())
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]

    def __init__(self, root: str | os.PathLike, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False):
        super().__init__(root, transform, target_transform)
        self.train = train
        if download:
            self.download()
        prefix = "train" if train else "t10k"
        images_path, labels_path = self._find(f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
        images, labels = _read_idx(images_path), _read_idx(labels_path)
        if images.ndim != 3 or images.dtype != xp.uint8:
            raise ValueError(f"{type(self).__name__}: {images_path} should hold uint8 images (N, H, W), got "
                             f"{images.dtype} values of shape {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(f"{type(self).__name__}: {labels_path} should hold one label per image of "
                             f"{images_path} ({len(images)}), got shape {labels.shape}")
        if len(labels) and labels.max() >= len(self.classes):
            raise ValueError(f"{type(self).__name__}: {labels_path} holds label {int(labels.max())}, but "
                             f"there are {len(self.classes)} classes")
        self.data = from_numpy(images)
        self.targets = from_numpy(labels.astype(xp.int64))

    @property
    def raw_folder(self) -> Path:
        return self.root / type(self).__name__ / "raw"

    def _find(self, *names: str) -> list:
        """Each file's path, raw or gzipped, in raw_folder or root; one error naming all missing ones."""
        found, missing = [], []
        for name in names:
            candidates = [folder / f for folder in (self.raw_folder, self.root) for f in (name, name + ".gz")]
            path = next((c for c in candidates if c.is_file()), None)
            found.append(path)
            if path is None:
                missing.append(name)
        if missing:
            expected = ", ".join(r[0].removesuffix(".gz") for r in self.resources)
            raise FileNotFoundError(
                f"{type(self).__name__}: cannot find {' and '.join(missing)} (raw or .gz) in "
                f"{self.raw_folder} or {self.root}. Put the IDX files ({expected}) in one of these "
                f"folders, raw or gzipped, or pass download=True on a machine with a network.")
        return found

    def download(self) -> None:
        """Fetch the gzipped IDX files into raw_folder, unless each is already in raw_folder or root."""
        folders = (self.raw_folder, self.root)
        for filename, md5 in self.resources:
            name = filename.removesuffix(".gz")
            if any((folder / f).is_file() for folder in folders for f in (name, filename)):
                continue
            urls = [m + filename for m in self.mirrors]
            _download_any(type(self).__name__, urls, self.raw_folder / filename, md5)

    def _image(self, index: int):
        return self.data.numpy()[index].copy()


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando's 28 x 28 clothing images, 10 classes), in MNIST's file format and
    layout: see ``MNIST`` (files go in ``root/FashionMNIST/raw/`` or ``root/``)."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


# ---------------------------------------------------------------------------- CIFAR-10 (python pickles)
class _BatchUnpickler(pickle.Unpickler):
    """Unpickler for the CIFAR python batches that refuses every global except those needed to rebuild
    numpy arrays (a pickle's globals are what lets it run code). The batches are dicts of strings,
    lists of ints and uint8 arrays; an array pickles as ``_reconstruct(ndarray, ...)`` plus its dtype
    and raw bytes. Python 2 pickles (the official files) name ``numpy.core.multiarray``, which numpy 2
    moved to ``numpy._core.multiarray``; Python 3 pickles written with protocol 2 store bytes as
    ``_codecs.encode(text, 'latin1')``."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"): ("numpy", "ndarray"),
        ("numpy", "dtype"): ("numpy", "dtype"),
        ("_codecs", "encode"): ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(*self._ALLOWED[(module, name)])


def _load_batch(path: Path) -> dict:
    """A CIFAR batch file as a dict with str keys."""
    try:
        with open(path, "rb") as f:
            # latin1 turns Python 2 byte strings into str (and array bytes back into bytes, in numpy).
            content = _BatchUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"{path}: not a readable CIFAR batch ({type(e).__name__}: {e})") from None
    if not isinstance(content, dict):
        raise ValueError(f"{path}: a CIFAR batch should hold a dict, got {type(content).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in content.items()}


class CIFAR10(VisionDataset):
    """CIFAR-10 (50000 train / 10000 test colour images, 32 x 32, 10 classes) from the python
    version's files in ``root/cifar-10-batches-py/``: ``data_batch_1`` ... ``data_batch_5`` (train),
    ``test_batch`` and ``batches.meta`` (class names). They are pickles; they are read with an
    unpickler that only accepts the numpy names an array needs (see ``_BatchUnpickler``), so a
    tampered file cannot run code.

    ``data`` is a uint8 numpy array (N, 32, 32, 3) and ``targets`` a list of ints, as in
    torchvision; a sample is a uint8 numpy image (32, 32, 3) and an int: use ``transform=ToTensor()``
    for a (3, 32, 32) float tensor.

    ``download=True`` fetches ``cifar-10-python.tar.gz`` (md5-checked) into ``root`` and extracts it,
    unless the batches are there.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [f"data_batch_{i}" for i in range(1, 6)]
    test_list = ["test_batch"]
    meta_file = "batches.meta"

    def __init__(self, root: str | os.PathLike, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False):
        super().__init__(root, transform, target_transform)
        self.train = train
        if download:
            self.download()
        names = self.train_list if train else self.test_list
        folder = self.root / self.base_folder
        missing = [n for n in names + [self.meta_file] if not (folder / n).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{type(self).__name__}: cannot find {', '.join(missing)} in {folder}. Extract "
                f"{self.filename} in {self.root} (it holds {self.base_folder}/ with "
                f"{', '.join(self.train_list + self.test_list + [self.meta_file])}), or pass download=True "
                f"on a machine with a network.")
        images, labels = [], []
        for name in names:
            batch = _load_batch(folder / name)
            data, batch_labels = batch.get("data"), batch.get("labels")
            if not isinstance(data, xp.ndarray) or data.dtype != xp.uint8 or data.ndim != 2 \
                    or data.shape[1] != 3 * 32 * 32 or not isinstance(batch_labels, list) \
                    or len(batch_labels) != len(data):
                raise ValueError(f"{folder / name}: a CIFAR batch should hold 'data', a uint8 array "
                                 f"(N, 3072), and 'labels', a list of N ints")
            images.append(data)
            labels.extend(int(v) for v in batch_labels)
        meta = _load_batch(folder / self.meta_file)
        if not isinstance(meta.get("label_names"), list):
            raise ValueError(f"{folder / self.meta_file}: should hold 'label_names', a list of class names")
        self.classes = list(meta["label_names"])
        if labels and not 0 <= min(labels) <= max(labels) < len(self.classes):
            raise ValueError(f"{type(self).__name__}: labels should be in [0, {len(self.classes)}), got "
                             f"{min(labels)}..{max(labels)}")
        # Stored channel-first per image; kept as H x W x C like torchvision (and PIL).
        self.data = xp.ascontiguousarray(xp.concatenate(images).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        self.targets = labels

    def download(self) -> None:
        """Fetch and extract the archive into root, unless the batches are already there."""
        folder = self.root / self.base_folder
        if all((folder / n).is_file() for n in self.train_list + self.test_list + [self.meta_file]):
            return
        archive = self.root / self.filename
        if not (archive.is_file() and _md5(archive) == self.tgz_md5):
            _download_any(type(self).__name__, [self.url], archive, self.tgz_md5)
        self._extract(archive)

    def _extract(self, archive: Path) -> None:
        """Write the archive's regular files under base_folder/ into root; anything else (links,
        absolute or '..' paths) is skipped, so the archive cannot write outside root."""
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                parts = PurePosixPath(member.name).parts
                if not member.isfile() or not parts or parts[0] != self.base_folder or ".." in parts:
                    continue
                dest = self.root.joinpath(*parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src:
                    dest.write_bytes(src.read())

    def _image(self, index: int):
        return self.data[index].copy()

    def _images(self, index) -> Tensor:
        return from_numpy(self.data[index])
