"""deepgrad.vision.datasets: Digits, and MNIST / FashionMNIST / CIFAR10 read from small files written in
the real formats (IDX with its magic numbers, raw and gzipped; CIFAR's pickled dicts of numpy arrays)."""
import gzip
import hashlib
import importlib.util
import io
import os
import pickle
import struct
import tarfile
import urllib.error

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepgrad as dg
from deepgrad.utils.data import DataLoader, default_collate
from deepgrad.vision import datasets as D
from deepgrad.vision import transforms as T


def gen(seed=0):
    return dg.Generator().manual_seed(seed)


def same_batches(a, b):
    for x, y in zip(a, b, strict=True):
        assert len(x) == len(y) == 2
        for u, v in zip(x, y):
            assert u.dtype == v.dtype and u.shape == v.shape and np.array_equal(u.numpy(), v.numpy())


def loader_pair(make):
    """Batches through the one-gather path and through sample-by-sample collation."""
    fast = list(DataLoader(make(), batch_size=4, shuffle=True, generator=gen(1)))
    slow = list(DataLoader(make(), batch_size=4, shuffle=True, generator=gen(1),
                           collate_fn=lambda b: default_collate(b)))
    return fast, slow


# ---------------------------------------------------------------------------- Digits
@pytest.fixture(scope="module")
def sk_digits():
    from sklearn.datasets import load_digits
    return load_digits()


def test_digits_shapes_labels_and_values():
    train, test = D.Digits(train=True), D.Digits(train=False)
    assert (len(train), len(test)) == (1438, 359)
    assert train.data.shape == (1438, 1, 8, 8) and train.data.dtype == dg.float32
    assert train.targets.dtype == dg.int64 and sorted(set(train.targets.tolist())) == list(range(10))
    pixels = train.data.numpy() * 16
    assert pixels.min() == 0 and pixels.max() == 16 and np.array_equal(pixels, np.round(pixels))
    img, label = train[3]
    assert img.shape == (1, 8, 8) and isinstance(label, int) and label == train.targets[3].item()
    assert train.classes == [str(d) for d in range(10)] and train.class_to_idx["7"] == 7


def test_digits_split_is_stratified_disjoint_and_fixed(sk_digits):
    train, test = D.Digits(train=True), D.Digits(train=False)
    full = np.concatenate([train.data.numpy(), test.data.numpy()]).reshape(-1, 64) * 16
    assert sorted(map(tuple, full)) == sorted(map(tuple, sk_digits.data)), "train + test = the whole set"
    class_sizes = np.bincount(sk_digits.target)
    assert np.array_equal(np.bincount(train.targets.numpy()), np.round(0.8 * class_sizes))
    assert np.array_equal(D.Digits(train=True).data.numpy(), train.data.numpy())
    other = D.Digits(train=True, seed=1)
    assert len(other) == len(train) and not np.array_equal(other.data.numpy(), train.data.numpy())
    assert len(D.Digits(train=False, split=0.5)) == sum(c - round(0.5 * c) for c in class_sizes)


def test_digits_image_size_and_transforms():
    small = D.Digits(train=False)
    big = D.Digits(train=False, image_size=28)
    assert big.data.shape == (359, 1, 28, 28)
    ref = TF.interpolate(torch.tensor(small.data.numpy()), size=(28, 28), mode="bilinear",
                         align_corners=False)
    np.testing.assert_allclose(big.data.numpy(), ref.numpy(), atol=1e-6)
    normed = D.Digits(train=False, transform=T.Normalize((0.5,), (0.5,)), target_transform=lambda y: y + 100)
    img, label = normed[0]
    np.testing.assert_allclose(img.numpy(), (small[0][0].numpy() - 0.5) / 0.5)
    assert label == small[0][1] + 100
    inplace = D.Digits(train=False, transform=T.Normalize((0.5,), (0.5,), inplace=True))
    assert inplace[0][0].tolist() == inplace[0][0].tolist() == img.tolist(), "samples are copies"


def test_digits_loader_fast_path_equals_per_sample_path():
    fast, slow = loader_pair(lambda: D.Digits(train=False))
    same_batches(fast, slow)
    with_transform = list(DataLoader(D.Digits(train=False, transform=T.Lambda(lambda x: x)), batch_size=4,
                                     shuffle=True, generator=gen(1)))
    same_batches(fast, with_transform)


def test_digits_argument_errors():
    with pytest.raises(ValueError, match=r"split is the training fraction, in \(0, 1\); got 1.0"):
        D.Digits(split=1.0)
    with pytest.raises(ValueError, match="image_size should be a positive int, got 0"):
        D.Digits(image_size=0)


@pytest.fixture
def fresh_digits_cache():
    D._sklearn_digits.cache_clear()
    yield
    D._sklearn_digits.cache_clear()


def test_digits_without_scikit_learn(monkeypatch, fresh_digits_cache):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sklearn" else real(name, *a))
    with pytest.raises(ImportError, match=r"pip install 'deepgrad\[data\]'"):
        D.Digits()


def test_digits_falls_back_to_load_digits(monkeypatch, fresh_digits_cache, sk_digits):
    monkeypatch.setattr(D, "_bundled_digits_csv", lambda: None)
    images, labels = D._sklearn_digits()
    assert np.array_equal(images, (sk_digits.images / 16).astype(np.float32))
    assert np.array_equal(labels, sk_digits.target)


# ---------------------------------------------------------------------------- MNIST-style IDX files
def idx_bytes(array):
    code = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C}[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, gz):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def mnist_arrays(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28)).astype(np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def write_mnist(folder, gz_train=False, gz_test=True, n_train=6, n_test=3):
    arrays = {}
    for prefix, n, gz, seed in (("train", n_train, gz_train, 0), ("t10k", n_test, gz_test, 1)):
        images, labels = mnist_arrays(n, seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gz)
        arrays[prefix] = images, labels
    return arrays


def test_idx_magic_numbers_are_the_standard_ones():
    images, labels = mnist_arrays(2, 0)
    assert struct.unpack(">I", idx_bytes(images)[:4])[0] == 2051
    assert struct.unpack(">I", idx_bytes(labels)[:4])[0] == 2049


@pytest.mark.parametrize("cls", [D.MNIST, D.FashionMNIST])
def test_mnist_reads_raw_and_gz_from_raw_folder(tmp_path, cls):
    arrays = write_mnist(tmp_path / cls.__name__ / "raw")
    train, test = cls(tmp_path, train=True), cls(tmp_path, train=False)
    for ds, (images, labels) in ((train, arrays["train"]), (test, arrays["t10k"])):
        assert ds.data.dtype == dg.uint8 and np.array_equal(ds.data.numpy(), images)
        assert ds.targets.dtype == dg.int64 and ds.targets.tolist() == labels.tolist()
    img, label = train[2]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.shape == (28, 28)
    assert label == int(arrays["train"][1][2]) and len(train.classes) == 10
    assert train.classes[0] == ("T-shirt/top" if cls is D.FashionMNIST else "0 - zero")
    tensor_img, _ = cls(tmp_path, transform=T.ToTensor())[2]
    assert tensor_img.shape == (1, 28, 28)
    np.testing.assert_allclose(tensor_img.numpy()[0], arrays["train"][0][2] / 255, rtol=1e-6)


def test_mnist_reads_from_root_and_batches_equal(tmp_path):
    arrays = write_mnist(tmp_path, gz_train=True, gz_test=False)
    ds = D.MNIST(tmp_path)
    assert np.array_equal(ds.data.numpy(), arrays["train"][0])
    fast, slow = loader_pair(lambda: D.MNIST(tmp_path))
    same_batches(fast, slow)
    assert fast[0][0].dtype == dg.uint8 and fast[0][0].shape == (4, 28, 28)


def test_mnist_missing_files_message(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", mnist_arrays(2, 0)[0], gz=False)
    with pytest.raises(FileNotFoundError) as err:
        D.MNIST(tmp_path)
    msg = str(err.value)
    assert "cannot find train-labels-idx1-ubyte (raw or .gz)" in msg
    assert str(tmp_path / "MNIST" / "raw") in msg and "download=True" in msg
    assert "t10k-images-idx3-ubyte" in msg, "the message lists every file that goes there"


@pytest.mark.parametrize("corrupt,match", [
    (lambda b: b"\x08\x03" + b[2:], "not an IDX file"),
    (lambda b: b[:-5], r"corrupt or truncated IDX file: the header announces shape \(6, 28, 28\)"),
    (lambda b: gzip.compress(b)[:-12], "corrupt gzip file"),
    (lambda b: b[:6], "truncated IDX header"),
])
def test_mnist_corrupt_images_file(tmp_path, corrupt, match):
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(ValueError, match=match):
        D.MNIST(tmp_path)


def test_mnist_inconsistent_files(tmp_path):
    write_mnist(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte"
    write_idx(labels, np.zeros(5, np.uint8), gz=False)
    with pytest.raises(ValueError, match=r"one label per image .* \(6\), got shape \(5,\)"):
        D.MNIST(tmp_path)
    write_idx(labels, np.full(6, 10, np.uint8), gz=False)
    with pytest.raises(ValueError, match="holds label 10, but there are 10 classes"):
        D.MNIST(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros(6, np.uint8), gz=False)
    with pytest.raises(ValueError, match=r"should hold uint8 images \(N, H, W\)"):
        D.MNIST(tmp_path)


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()


def serve(monkeypatch, files):
    """Make urlopen answer from ``files`` (name -> bytes) and record the requested urls."""
    requested = []

    def urlopen(url, timeout=None):
        requested.append(url)
        name = url.rsplit("/", 1)[-1]
        if name not in files:
            raise urllib.error.URLError("no network")
        return FakeResponse(files[name])

    monkeypatch.setattr(D.urllib.request, "urlopen", urlopen)
    return requested


def test_mnist_download_checks_md5_and_loads(tmp_path, monkeypatch):
    images, labels = mnist_arrays(4, 3)
    parts = (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels))
    files = {f"{p}-{k}.gz": gzip.compress(idx_bytes(a)) for p in ("train", "t10k") for k, a in parts}

    class Mirror(D.MNIST):
        mirrors = ["http://mirror.invalid/"]
        resources = [(name, hashlib.md5(data).hexdigest()) for name, data in files.items()]

    requested = serve(monkeypatch, files)
    ds = Mirror(tmp_path, download=True)
    assert len(requested) == 4 and (tmp_path / "Mirror" / "raw" / "t10k-images-idx3-ubyte.gz").is_file()
    assert np.array_equal(ds.data.numpy(), images)
    Mirror(tmp_path, download=True)
    assert len(requested) == 4, "files already there are not fetched again"


def test_mnist_download_failures(tmp_path, monkeypatch):
    class Mirror(D.MNIST):
        mirrors = ["http://mirror.invalid/"]
        resources = [("train-images-idx3-ubyte.gz", "0" * 32)]

    serve(monkeypatch, {"train-images-idx3-ubyte.gz": b"not the file"})
    with pytest.raises(RuntimeError, match=r"could not download train-images-idx3-ubyte.gz:\n.*md5 mismatch: "
                                           r"expected 0{32}"):
        Mirror(tmp_path, download=True)
    assert not list((tmp_path / "Mirror" / "raw").iterdir()), "a bad download leaves nothing behind"
    serve(monkeypatch, {})
    with pytest.raises(RuntimeError, match="no network.*\nWithout a network, copy the file into"):
        Mirror(tmp_path, download=True)


# ---------------------------------------------------------------------------- CIFAR-10 pickles
class Py2Pickler(pickle._Pickler):
    """Pickles as Python 2's cPickle wrote the official CIFAR batches: byte strings as Python 2 str
    opcodes and numpy's pre-2.0 module name numpy.core.multiarray."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode())
        self.memoize(obj)


def dump(path, obj, py2):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        if py2:
            Py2Pickler(f, protocol=2).dump(obj)
        else:
            pickle.dump(obj, f, protocol=2)


CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar_batch(n, seed, py2):
    rng = np.random.default_rng(seed)
    batch = {"batch_label": "training batch", "data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
             "labels": rng.integers(0, 10, n).tolist(), "filenames": [f"img_{i}.png" for i in range(n)]}
    if py2:
        batch = {k.encode(): v.encode() if isinstance(v, str) else v for k, v in batch.items()}
        batch[b"filenames"] = [f.encode() for f in batch[b"filenames"]]
    return batch


def write_cifar(root, py2):
    folder = root / "cifar-10-batches-py"
    batches = {name: cifar_batch(2 if name != "test_batch" else 3, seed, py2)
               for seed, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"])}
    for name, batch in batches.items():
        dump(folder / name, batch, py2)
    meta = {"label_names": CLASSES, "num_cases_per_batch": 2, "num_vis": 3072}
    dump(folder / "batches.meta", {k.encode(): ([c.encode() for c in v] if k == "label_names" else v)
                                   for k, v in meta.items()} if py2 else meta, py2)
    key = (lambda k: k.encode()) if py2 else (lambda k: k)
    train = [b for n, b in batches.items() if n != "test_batch"]
    return (np.concatenate([b[key("data")] for b in train]), sum((b[key("labels")] for b in train), []),
            batches["test_batch"][key("data")])


@pytest.mark.parametrize("py2", [False, True], ids=["py3-protocol2", "py2-cpickle"])
def test_cifar10_reads_batches(tmp_path, py2):
    rows, labels, test_rows = write_cifar(tmp_path, py2)
    ds = D.CIFAR10(tmp_path, train=True)
    assert isinstance(ds.data, np.ndarray) and ds.data.shape == (10, 32, 32, 3) and ds.data.dtype == np.uint8
    assert np.array_equal(ds.data, rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    assert ds.targets == labels and ds.classes == CLASSES
    img, label = ds[4]
    assert img.shape == (32, 32, 3) and label == labels[4]
    t, _ = D.CIFAR10(tmp_path, transform=T.ToTensor())[4]
    np.testing.assert_allclose(t.numpy(), rows[4].reshape(3, 32, 32) / 255, rtol=1e-6)
    test = D.CIFAR10(tmp_path, train=False)
    assert len(test) == 3 and np.array_equal(test.data[1].transpose(2, 0, 1).reshape(-1), test_rows[1])


def test_cifar10_loader_fast_path_equals_per_sample_path(tmp_path):
    write_cifar(tmp_path, py2=False)
    fast, slow = loader_pair(lambda: D.CIFAR10(tmp_path))
    same_batches(fast, slow)
    assert fast[0][0].shape == (4, 32, 32, 3) and fast[0][1].dtype == dg.int64


def test_cifar10_refuses_pickles_that_would_run_code(tmp_path):
    write_cifar(tmp_path, py2=False)
    marker = tmp_path / "was-run"

    class Exploit:
        def __reduce__(self):
            return os.mkdir, (str(marker),)

    dump(tmp_path / "cifar-10-batches-py" / "data_batch_3", {"data": Exploit()}, py2=False)
    with pytest.raises(ValueError, match=r"data_batch_3: not a readable CIFAR batch \(UnpicklingError: "
                                         r"global (os|posix)\.mkdir is not allowed"):
        D.CIFAR10(tmp_path)
    assert not marker.exists()


def test_cifar10_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cannot find data_batch_1, .*batches.meta in .*"
                                                r"cifar-10-batches-py. Extract cifar-10-python.tar.gz"):
        D.CIFAR10(tmp_path)
    write_cifar(tmp_path, py2=False)
    folder = tmp_path / "cifar-10-batches-py"
    (folder / "data_batch_2").write_bytes((folder / "data_batch_2").read_bytes()[:100])
    with pytest.raises(ValueError, match="data_batch_2: not a readable CIFAR batch"):
        D.CIFAR10(tmp_path)
    dump(folder / "data_batch_2", {"data": np.zeros((2, 10), np.uint8), "labels": [0, 1]}, py2=False)
    with pytest.raises(ValueError, match=r"should hold 'data', a uint8 array \(N, 3072\)"):
        D.CIFAR10(tmp_path)
    dump(folder / "data_batch_2", cifar_batch(2, 0, False) | {"labels": [0, 12]}, py2=False)
    with pytest.raises(ValueError, match=r"labels should be in \[0, 10\), got 0..12"):
        D.CIFAR10(tmp_path)
    (folder / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="cannot find test_batch in"):
        D.CIFAR10(tmp_path, train=False)


def cifar_archive(tmp_path):
    src = tmp_path / "src"
    write_cifar(src, py2=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
        evil = tarfile.TarInfo("cifar-10-batches-py/../../escaped")
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
        link = tarfile.TarInfo("cifar-10-batches-py/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    return buf.getvalue()


def test_cifar10_download_extracts_safely(tmp_path, monkeypatch):
    archive = cifar_archive(tmp_path)

    class Mirror(D.CIFAR10):
        url = "http://mirror.invalid/cifar-10-python.tar.gz"
        tgz_md5 = hashlib.md5(archive).hexdigest()

    root = tmp_path / "root"
    requested = serve(monkeypatch, {"cifar-10-python.tar.gz": archive})
    ds = Mirror(root, download=True)
    assert len(ds) == 10 and ds.classes == CLASSES and len(requested) == 1
    assert not (tmp_path / "escaped").exists() and not (root / "cifar-10-batches-py" / "link").exists()
    Mirror(root, download=True)
    assert len(requested) == 1, "extracted batches are not fetched again"


def test_cifar10_download_without_network(tmp_path, monkeypatch):
    serve(monkeypatch, {})
    with pytest.raises(RuntimeError, match="CIFAR10: could not download cifar-10-python.tar.gz"):
        D.CIFAR10(tmp_path, download=True)


def test_dataset_repr(tmp_path):
    write_mnist(tmp_path)
    text = repr(D.MNIST(tmp_path, transform=T.ToTensor()))
    assert text.startswith("Dataset MNIST\n    Number of datapoints: 6") and "transform: ToTensor()" in text
