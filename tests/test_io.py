"""deepgrad.save / deepgrad.load: round trips, atomic writes, clear errors, interchange with PyTorch
and exact resume of training in a fresh process."""
from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import deepgrad as dg
import deepgrad.nn as nn
from deepgrad.io import CheckpointError

REPO = Path(__file__).resolve().parents[1]
DTYPES = [dg.bool, dg.uint8, dg.int8, dg.int16, dg.int32, dg.int64, dg.float16, dg.float32, dg.float64]


def run_python(code: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports deepgrad from this checkout."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def assert_same_tensor(actual, expected):
    assert isinstance(actual, dg.Tensor)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    # compare bytes, so nan, -0.0 and every float16 bit pattern must survive exactly
    assert actual.detach().numpy().tobytes() == np.ascontiguousarray(expected.detach().numpy()).tobytes()


def mlp_pair(seed: int = 0):
    """A PyTorch nn.Sequential(Linear, ReLU, Linear) and the equivalent deepgrad model."""
    torch.manual_seed(seed)
    dg.manual_seed(seed)
    t_model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    d_model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    return t_model, d_model


def assert_same_outputs(t_model, d_model):
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(d_model(dg.tensor(x)).detach().numpy(),
                               t_model(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------ round trips
def test_nested_structure_round_trip_preserves_types(tmp_path):
    weight = dg.randn(3, 2)
    obj = {
        "model": OrderedDict([("0.weight", weight), ("0.bias", dg.zeros(3))]),
        "optimizer": {"state": {0: {"momentum_buffer": dg.ones(3, 2)}, 1: {}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1],
                                        "nesterov": False, "weight_decay": 0, "foreach": None}]},
        "step": 10, "big": 2 ** 70, "one": 1.0, "neg_zero": -0.0, "tiny": 5e-324,
        "nan": math.nan, "inf": math.inf, "-inf": -math.inf, "flag": True, "nothing": None,
        "vocab": ["a", "b", "héllo wörld ✓ 日本語 🙂", ""],
        "config": {"hidden": [64, 32], "act": "relu", "nested": ((1, 2.5), [None, (True,)])},
        "odd keys": {1.5: "float key", None: "none key", True: "bool key", (1, "a"): "tuple key"},
    }
    dg.save(obj, tmp_path / "ckpt.safetensors")
    out = dg.load(tmp_path / "ckpt.safetensors")

    assert list(out) == list(obj)
    assert type(out["model"]) is dict and list(out["model"]) == ["0.weight", "0.bias"]
    assert_same_tensor(out["model"]["0.weight"], weight)
    assert_same_tensor(out["optimizer"]["state"][0]["momentum_buffer"], dg.ones(3, 2))
    assert out["optimizer"]["state"][1] == {}
    group = out["optimizer"]["param_groups"][0]
    assert group == obj["optimizer"]["param_groups"][0]
    assert type(group["betas"]) is tuple and type(group["params"]) is list
    assert type(group["weight_decay"]) is int and type(group["nesterov"]) is bool
    assert type(out["step"]) is int and out["step"] == 10 and out["big"] == 2 ** 70
    assert type(out["one"]) is float and out["one"] == 1.0
    assert math.copysign(1.0, out["neg_zero"]) == -1.0 and out["tiny"] == 5e-324
    assert math.isnan(out["nan"]) and out["inf"] == math.inf and out["-inf"] == -math.inf
    assert out["flag"] is True and out["nothing"] is None
    assert out["vocab"] == obj["vocab"] and out["config"] == obj["config"]
    assert type(out["config"]["nested"]) is tuple and type(out["config"]["nested"][1]) is list
    assert out["odd keys"] == obj["odd keys"] and list(out["odd keys"]) == list(obj["odd keys"])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_every_dtype_and_shape_round_trips_exactly(tmp_path, dtype):
    rng = np.random.default_rng(0)
    tensors = {}
    for shape in [(), (0,), (2, 0, 3), (1,), (3, 4)]:
        raw = rng.integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8)
        if dtype is dg.bool:
            raw = raw % 2
        tensors[f"shape{shape}"] = dg.from_numpy(raw.view(dtype.np).reshape(shape))
    dg.save(tensors, tmp_path / "t.safetensors")
    out = dg.load(tmp_path / "t.safetensors")
    for name, t in tensors.items():
        assert_same_tensor(out[name], t)
        assert not out[name].requires_grad
    out["shape(3, 4)"].zero_()  # loaded tensors own writable memory, independent of the original
    assert tensors["shape(3, 4)"].numpy().any()


def test_strided_views_are_saved_by_value(tmp_path):
    base = dg.arange(24, dtype=dg.float64).reshape(4, 6)
    views = {"transposed": base.transpose(0, 1), "stepped": base[::2, ::-3], "column": base[:, 1]}
    dg.save(views, tmp_path / "v.safetensors")
    out = dg.load(tmp_path / "v.safetensors")
    for name, view in views.items():
        np.testing.assert_array_equal(out[name].numpy(), view.numpy())
        assert out[name].shape == view.shape


def test_requires_grad_is_kept_and_grad_is_not(tmp_path):
    p = nn.Parameter(dg.randn(3))
    (p * p).sum().backward()
    dg.save({"p": p, "buf": dg.zeros(2)}, tmp_path / "p.safetensors")
    out = dg.load(tmp_path / "p.safetensors")
    assert out["p"].requires_grad and out["p"].grad is None and out["p"].is_leaf
    assert not out["buf"].requires_grad
    assert_same_tensor(out["p"], p.detach())


def test_big_tensor_round_trip_and_file_size(tmp_path):
    big = dg.randn(1000, 2000)
    path = tmp_path / "big.safetensors"
    dg.save({"big": big, "step": 3}, path)
    assert big.numel() * 4 < path.stat().st_size < big.numel() * 4 + 1024  # bytes + a small header
    assert_same_tensor(dg.load(path)["big"], big)


def test_dotted_and_colliding_names(tmp_path):
    a, b, c, d = (dg.full((2,), float(i)) for i in range(4))
    obj = {"a.b": a, "a": {"b": b}, "__metadata__": c, "list": [d, {"0": a}]}
    path = tmp_path / "names.safetensors"
    dg.save(obj, path)
    out = dg.load(path)
    assert_same_tensor(out["a.b"], a)
    assert_same_tensor(out["a"]["b"], b)
    assert_same_tensor(out["__metadata__"], c)
    assert_same_tensor(out["list"][0], d)
    assert_same_tensor(out["list"][1]["0"], a)
    names = set(safetensors.numpy.load(path.read_bytes()))
    assert {"a.b", "list.0"} <= names and len(names) == 5 and "__metadata__" not in names


def test_top_level_tensor_and_scalars(tmp_path):
    for obj in [dg.tensor(3.5), 7, "text", None, [], {}, ()]:
        dg.save(obj, tmp_path / "x.safetensors")
        out = dg.load(tmp_path / "x.safetensors")
        if isinstance(obj, dg.Tensor):
            assert_same_tensor(out, obj)
        else:
            assert out == obj and type(out) is type(obj)


def test_state_dict_file_is_a_plain_safetensors_state_dict(tmp_path):
    _, model = mlp_pair()
    path = tmp_path / "model.safetensors"
    dg.save(model.state_dict(), path)
    loaded = safetensors.torch.load_file(str(path))
    assert sorted(loaded) == sorted(model.state_dict())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded[name].numpy(), value.numpy())
    assert dg.load(path).keys() == model.state_dict().keys()


def test_overwrite_existing_checkpoint(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    dg.save({"w": dg.zeros(1000), "step": 1}, path)
    dg.save({"w": dg.ones(3), "step": 2}, str(path))
    out = dg.load(str(path))
    assert out["step"] == 2 and out["w"].tolist() == [1.0, 1.0, 1.0]
    assert leftovers(tmp_path) == []
    reference = tmp_path / "reference"
    reference.write_bytes(b"")  # the permissions open() gives a new file under the current umask
    assert path.stat().st_mode == reference.stat().st_mode


def test_save_through_a_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "real.safetensors"
    dg.save({"step": 1}, real)
    link = tmp_path / "latest.safetensors"
    link.symlink_to(real)
    dg.save({"step": 2}, link)
    assert link.is_symlink() and dg.load(real)["step"] == 2


# ------------------------------------------------------------------------------------ atomic writes
@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_save_keeps_previous_checkpoint_and_no_temp_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "ckpt.safetensors"
    dg.save({"step": 1, "w": dg.ones(4)}, path)

    def fail(*args):
        raise OSError(5, f"simulated {failing} failure")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError, match=f"simulated {failing} failure"):
        dg.save({"step": 2, "w": dg.zeros(4)}, path)
    monkeypatch.undo()
    assert leftovers(tmp_path) == []
    out = dg.load(path)
    assert out["step"] == 1 and out["w"].tolist() == [1.0] * 4


_SAVE_OVER_FILE_SIZE_LIMIT = """
import resource, signal, sys
import deepgrad
path, crash = sys.argv[1], sys.argv[2] == "crash"
resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
# CPython ignores SIGXFSZ, so a write past the limit fails with EFBIG; the default action kills
signal.signal(signal.SIGXFSZ, signal.SIG_DFL if crash else signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    deepgrad.save({"step": 2, "w": deepgrad.zeros(1_000_000)}, path)
except OSError as e:
    print("errno", e.errno)
    sys.exit(3)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX resource limits and SIGXFSZ")
@pytest.mark.parametrize("how", ["error", "crash"])
def test_save_dying_midway_keeps_previous_checkpoint(tmp_path, how):
    """A real mid-write failure: a file-size limit makes the write stop at 64 KiB, either with an
    OSError (disk full is the same) or by killing the process with SIGXFSZ (a crash)."""
    import errno
    import signal
    path = tmp_path / "ckpt.safetensors"
    dg.save({"step": 1, "w": dg.ones(4)}, path)
    proc = run_python(_SAVE_OVER_FILE_SIZE_LIMIT, str(path), how, check=False)
    out = dg.load(path)
    assert out["step"] == 1 and out["w"].tolist() == [1.0] * 4
    if how == "error":
        assert proc.returncode == 3 and f"errno {errno.EFBIG}" in proc.stdout, proc.stderr
        assert leftovers(tmp_path) == []
    else:
        assert proc.returncode == -signal.SIGXFSZ, proc.stderr
        # a killed process cannot clean up: its partial temp file stays, hidden, and reads as truncated
        (partial,) = leftovers(tmp_path)
        assert partial.startswith(".ckpt.safetensors.") and (tmp_path / partial).stat().st_size == 65536
        with pytest.raises(CheckpointError, match="truncated"):
            dg.load(tmp_path / partial)


# ------------------------------------------------------------------------------------ errors
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint file.*nope.safetensors"):
        dg.load(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError, match="directory .*missing_dir.* does not exist"):
        dg.save({"a": 1}, tmp_path / "missing_dir" / "ckpt.safetensors")


def test_checkpoint_error_is_a_runtime_error():
    assert issubclass(CheckpointError, RuntimeError)


def test_empty_text_and_zip_files(tmp_path):
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.safetensors: the file is empty"):
        dg.load(empty)
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a checkpoint\n")
    with pytest.raises(CheckpointError, match=r"notes.txt: not a checkpoint: the file starts with text "
                                              r"\('hello, t'"):
        dg.load(text)
    short = tmp_path / "short.txt"
    short.write_text("hi")
    with pytest.raises(CheckpointError, match="short.txt: not a checkpoint: the file starts with text"):
        dg.load(short)
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match="data.zip: this is a zip archive"):
        dg.load(archive)


def test_truncated_checkpoint(tmp_path):
    good = tmp_path / "good.safetensors"
    dg.save({"w": dg.randn(50), "step": 1}, good)
    data = good.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    for cut, reason in [(5, "shorter than the 8-byte"), (header_end - 10, "header length says"),
                        (header_end + 1, "tensors need 200 bytes of data"), (len(data) - 1, "199 are there")]:
        bad = tmp_path / f"cut{cut}.safetensors"
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=f"cut{cut}.safetensors: the file is truncated.*{reason}"):
            dg.load(bad)


def test_corrupt_checkpoint(tmp_path):
    good = tmp_path / "good.safetensors"
    dg.save({"w": dg.randn(5)}, good)
    data = bytearray(good.read_bytes())
    broken_json = bytearray(data)
    broken_json[9] = ord("#")  # inside the JSON header
    (tmp_path / "json.safetensors").write_bytes(bytes(broken_json))
    with pytest.raises(CheckpointError, match="json.safetensors: corrupt safetensors file: its header is "
                                              "not a JSON object"):
        dg.load(tmp_path / "json.safetensors")
    (tmp_path / "noise.bin").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CheckpointError, match="noise.bin: the file is truncated or not a safetensors"):
        dg.load(tmp_path / "noise.bin")
    header = b'{"__metadata__": {"deepgrad.format_version": 1}}'
    (tmp_path / "meta.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(CheckpointError, match="meta.safetensors: corrupt safetensors header: __metadata__ "
                                              "must map strings to strings"):
        dg.load(tmp_path / "meta.safetensors")
    (tmp_path / "extra.safetensors").write_bytes(bytes(data) + b"\0" * 8)
    with pytest.raises(CheckpointError, match="extra.safetensors: corrupt safetensors file"):
        dg.load(tmp_path / "extra.safetensors")


def test_metadata_problems(tmp_path):
    arrays = {"w": np.zeros(2, np.float32)}
    cases = {
        "newer": ({"deepgrad.format_version": "2", "deepgrad.structure": "{}"}, "format version '2'"),
        "json": ({"deepgrad.format_version": "1", "deepgrad.structure": "{oops"}, "not valid JSON"),
        "dangling": ({"deepgrad.format_version": "1", "deepgrad.structure": '{"tensor": "gone"}'},
                     "tensors the file does not hold: 'gone'"),
        "node": ({"deepgrad.format_version": "1", "deepgrad.structure": '{"what": 1}'}, "unknown node"),
        "name": ({"deepgrad.format_version": "1", "deepgrad.structure": '{"tensor": [1]}'}, "tensor node"),
    }
    for name, (metadata, message) in cases.items():
        path = tmp_path / f"{name}.safetensors"
        safetensors.numpy.save_file(arrays, str(path), metadata=metadata)
        with pytest.raises(CheckpointError, match=f"{name}.safetensors: .*{message}"):
            dg.load(path)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_torch_save_file_is_refused_with_the_conversion_one_liner(tmp_path, legacy):
    t_model, d_model = mlp_pair()
    pt = tmp_path / "m.pt"
    torch.save(t_model.state_dict(), pt, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(CheckpointError) as info:
        dg.load(pt)
    message = str(info.value)
    assert message.startswith(f"{pt}: this is a PyTorch torch.save (pickle) file")
    command = message.split("\n")[1].strip()
    assert command.startswith("python -c ") and f"torch.load('{pt}')" in command
    # the documented conversion, run as printed, gives a file deepgrad reads
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))
    subprocess.run(command, shell=True, check=True, cwd=tmp_path, env=env, capture_output=True)
    d_model.load_state_dict(dg.load(tmp_path / "m.safetensors"))
    for name, value in t_model.state_dict().items():
        np.testing.assert_array_equal(d_model.state_dict()[name].numpy(), value.numpy())


def test_plain_pickle_is_refused(tmp_path):
    path = tmp_path / "obj.pkl"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError, match="obj.pkl: this is a PyTorch torch.save .pickle. file; "
                                              "deepgrad does not unpickle"):
        dg.load(path)


def test_unsupported_dtype_in_foreign_file(tmp_path):
    path = tmp_path / "bf16.safetensors"
    safetensors.torch.save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, str(path))
    with pytest.raises(CheckpointError, match=r"bf16.safetensors: tensor 'w' has dtype BF16, which "
                                              r"deepgrad does not support.*v.float\(\)"):
        dg.load(path)


def test_unsavable_objects(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match=r"cannot save the object\['a'\]\[0\] of type numpy.ndarray.*"
                                        r"deepgrad.from_numpy"):
        dg.save({"a": [np.zeros(2)]}, path)
    with pytest.raises(TypeError, match=r"cannot save the object\['n'\] of type numpy.int64"):
        dg.save({"n": np.int64(3)}, path)
    with pytest.raises(TypeError, match=r"a dict key in the object\['d'\] is a Tensor"):
        dg.save({"d": {dg.ones(1): 1}}, path)
    with pytest.raises(TypeError, match=r"cannot save the object of type builtins.set"):
        dg.save({1, 2}, path)
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match=r"the object\[0\] contains itself"):
        dg.save(loop, path)
    with pytest.raises(TypeError, match="deepgrad.save: expected a file path .str or os.PathLike., got "
                                        "BytesIO"):
        import io
        dg.save({"a": 1}, io.BytesIO())
    assert not path.exists() and leftovers(tmp_path) == []


def test_map_location_and_weights_only(tmp_path):
    path = tmp_path / "x.safetensors"
    dg.save({"w": dg.ones(2)}, path)
    for location in [None, "cpu", dg.device("cpu"), torch.device("cpu"), {"cuda:0": "cpu"}]:
        for weights_only in [None, True, False]:
            out = dg.load(path, map_location=location, weights_only=weights_only)
            assert out["w"].tolist() == [1.0, 1.0]
    for location in ["cuda", "cuda:0", torch.device("meta"), {"cpu": "cuda:1"}]:
        with pytest.raises(ValueError, match="map_location=.* is not supported: deepgrad tensors live "
                                             "on the CPU"):
            dg.load(path, map_location=location)


# ------------------------------------------------------------------------------------ PyTorch interchange
def test_torch_state_dict_into_deepgrad_model():
    t_model, d_model = mlp_pair(seed=1)
    d_model.load_state_dict(t_model.state_dict())
    assert_same_outputs(t_model, d_model)


def test_deepgrad_checkpoint_into_torch_model(tmp_path):
    t_model, d_model = mlp_pair(seed=2)
    path = tmp_path / "model.safetensors"
    dg.save(d_model.state_dict(), path)
    t_model.load_state_dict(safetensors.torch.load_file(str(path)))
    for name, value in d_model.state_dict().items():
        np.testing.assert_array_equal(t_model.state_dict()[name].numpy(), value.numpy())
    assert_same_outputs(t_model, d_model)


def test_safetensors_file_written_by_torch_loads_as_flat_state_dict(tmp_path):
    t_model, d_model = mlp_pair(seed=3)
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(t_model.state_dict(), str(path))
    loaded = dg.load(path)
    assert sorted(loaded) == sorted(t_model.state_dict())
    assert all(isinstance(v, dg.Tensor) and v.dtype == dg.float32 for v in loaded.values())
    d_model.load_state_dict(loaded)
    assert_same_outputs(t_model, d_model)


def test_checkpoint_loads_without_optional_packages(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    dg.save({"model": {"w": dg.arange(6, dtype=dg.float32).reshape(2, 3)}, "step": 4, "name": "ünï"}, path)
    code = (
        "import sys\n"
        "for name in ('torch', 'matplotlib', 'tqdm', 'sklearn'):\n"
        "    sys.modules[name] = None  # any import of them now raises ImportError\n"
        "import deepgrad\n"
        "ckpt = deepgrad.load(sys.argv[1])\n"
        "print(ckpt['step'], ckpt['name'], ckpt['model']['w'].sum().item(), ckpt['model']['w'].dtype)\n"
    )
    assert run_python(code, str(path)).stdout.split() == ["4", "ünï", "15.0", "deepgrad.float32"]


# ------------------------------------------------------------------------------------ exact resume
# Run by the test and, unchanged, by the fresh interpreter that resumes from the checkpoint.
_TRAINING = """
import deepgrad as dg
import deepgrad.nn as nn
import deepgrad.optim


def build(optimizer, seed):
    dg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.25), nn.Linear(16, 2))
    if optimizer == "sgd":
        opt = dg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    else:
        opt = dg.optim.Adam(model.parameters(), lr=1e-2, betas=(0.8, 0.99), amsgrad=True)
    return model, opt


def train(model, opt, steps):
    x = dg.arange(64 * 4, dtype=dg.float32).reshape(64, 4).sin()
    y = (x[:, :2] * 3).cos()
    for _ in range(steps):
        batch = dg.randperm(64)[:16]  # minibatch order and dropout masks come from the global RNG
        loss = ((model(x[batch]) - y[batch]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
"""

_RESUME = """
import sys
optimizer, checkpoint, result, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
model, opt = build(optimizer, seed=12345)  # another init: everything must come from the checkpoint
state = dg.load(checkpoint)
model.load_state_dict(state["model"])
opt.load_state_dict(state["optimizer"])
dg.set_rng_state(state["rng"])
train(model, opt, steps - state["step"])
dg.save(model.state_dict(), result)
"""


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_exact_resume_in_a_fresh_process(tmp_path, optimizer):
    """N steps in one go == k steps, save, load in a new interpreter, N - k steps: bit for bit."""
    ns: dict = {}
    exec(_TRAINING, ns)
    n_steps, k = 10, 4
    reference, ref_opt = ns["build"](optimizer, seed=0)
    ns["train"](reference, ref_opt, n_steps)

    model, opt = ns["build"](optimizer, seed=0)
    ns["train"](model, opt, k)
    checkpoint, result = tmp_path / "ckpt.safetensors", tmp_path / "final.safetensors"
    dg.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": dg.get_rng_state(),
             "step": k}, checkpoint)
    run_python(_TRAINING + _RESUME, optimizer, str(checkpoint), str(result), str(n_steps))

    final, at_k = dg.load(result), model.state_dict()
    assert final.keys() == reference.state_dict().keys()
    for name, value in reference.state_dict().items():
        assert_same_tensor(final[name], value)
        assert not np.array_equal(final[name].numpy(), at_k[name].numpy())  # the resumed steps did train
