"""Checkpoints: ``deepgrad.save`` and ``deepgrad.load``.

A checkpoint is a safetensors file (https://github.com/huggingface/safetensors): an 8-byte
little-endian header length, a JSON header naming each tensor's dtype, shape and byte range, then the
raw tensor bytes. Everything that is not a tensor (numbers, strings, None, and the nesting of dicts,
lists and tuples) is one JSON document stored in the header's ``__metadata__`` under
``deepgrad.structure``, where each tensor appears as ``{"tensor": "<name in the file>"}``.

Tensors are named by their path of dict keys and list indices joined with dots, so a saved
``model.state_dict()`` keeps its own names and the file is an ordinary state dict for PyTorch and the
safetensors tools (``safetensors.torch.load_file(path)``). Loading parses JSON and copies bytes, and
never runs code (there is no pickle). Writes are atomic: a crash during ``save`` leaves the previous
file in place. See docs/checkpoints.md.
"""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
import zipfile
from typing import Any

import safetensors.numpy
from safetensors import SafetensorError, safe_open

from .backend import xp
from .tensor import Tensor, device

__all__ = ["CheckpointError", "save", "load"]

FORMAT_VERSION = "1"
_STRUCTURE_KEY = "deepgrad.structure"
_VERSION_KEY = "deepgrad.format_version"
_HEADER_LENGTH_BYTES = 8
# The dtypes both deepgrad and the safetensors NumPy reader support.
_SUPPORTED_DTYPES = {"BOOL", "U8", "I8", "I16", "I32", "I64", "F16", "F32", "F64"}
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_TORCH_CONVERSION = ("python -c \"import torch, safetensors.torch as st; st.save_file("
                     "{{k: v.contiguous() for k, v in torch.load('{src}').items()}}, '{dst}')\"")


class CheckpointError(RuntimeError):
    """A file that is not a readable deepgrad/safetensors checkpoint (empty, truncated, corrupt or
    foreign). The message names the file and what is wrong with it."""


# ---------------------------------------------------------------------------------------------- save
def save(obj: Any, f: str | os.PathLike) -> None:
    """Save ``obj`` to the file ``f`` atomically, as a safetensors file.

    ``obj`` is any nesting of dicts, lists and tuples holding tensors (any dtype, 0-d and empty
    included), ints, floats (nan and inf included), bools, None and strings; dict keys may be any of
    those scalar types. A dict comes back as a plain dict (an OrderedDict loses its class), a tuple
    as a tuple and a list as a list. A tensor is stored by value: the same tensor twice is stored
    twice and comes back as two tensors. ``requires_grad`` is kept, ``.grad`` is not.

    The file is written next to ``f`` under a temporary name, flushed to disk and renamed over ``f``,
    so an error or a crash during the save leaves any previous file at ``f`` untouched.

    Example::

        deepgrad.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 10},
                      "ckpt.safetensors")
    """
    path = _as_path(f, "save")
    arrays: dict[str, Any] = {}
    structure = _encode(obj, (), arrays, set())
    metadata = {"format": "pt", _VERSION_KEY: FORMAT_VERSION,
                _STRUCTURE_KEY: json.dumps(structure, ensure_ascii=False, allow_nan=False)}
    _write_atomic(path, safetensors.numpy.save(arrays, metadata=metadata))


def _encode(obj: Any, where: tuple, arrays: dict | None, open_containers: set) -> Any:
    """The JSON form of ``obj``; its tensors go into ``arrays`` under names derived from ``where``
    (``arrays`` is None for a dict key, where a tensor is refused)."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else {"float": repr(obj)}
    if isinstance(obj, Tensor) and arrays is not None:
        name = _tensor_name(where, arrays)
        # safetensors reads raw memory, so a strided view must become C-contiguous (copy=None copies
        # only then); not ascontiguousarray, which turns a 0-d array into shape (1,)
        arrays[name] = xp.asarray(obj._data, order="C", copy=None)
        return {"tensor": name, "requires_grad": True} if obj.requires_grad else {"tensor": name}
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in open_containers:
            raise ValueError(f"deepgrad.save: {_describe(where)} contains itself; a checkpoint must be "
                             "a tree of dicts, lists and tuples")
        open_containers.add(id(obj))
        if isinstance(obj, dict):
            encoded = {"dict": [[_encode(k, where, None, open_containers),
                                 _encode(v, where + (k,), arrays, open_containers)]
                                for k, v in obj.items()]}
        else:
            items = [_encode(v, where + (i,), arrays, open_containers) for i, v in enumerate(obj)]
            encoded = {"tuple": items} if isinstance(obj, tuple) else items
        open_containers.discard(id(obj))
        return encoded
    if arrays is None:
        raise TypeError(f"deepgrad.save: a dict key in {_describe(where)} is a {type(obj).__name__}; "
                        "keys must be str, int, float, bool, None or tuples of them")
    raise TypeError(
        f"deepgrad.save: cannot save {_describe(where)} of type {type(obj).__module__}."
        f"{type(obj).__qualname__}; a checkpoint holds deepgrad tensors, int, float, bool, None, str "
        "and dicts, lists and tuples of them (wrap arrays with deepgrad.from_numpy, convert NumPy "
        "scalars with int() or float())")


def _tensor_name(where: tuple, taken: dict) -> str:
    """The dotted path to a tensor, made unique (``a.b`` can be both ``{'a.b': t}`` and
    ``{'a': {'b': t}}``) and kept clear of the name safetensors reserves."""
    base = ".".join(str(part) for part in where) or "tensor"
    name, n = base, 1
    while name in taken or name == "__metadata__":
        name, n = f"{base}#{n}", n + 1
    return name


def _describe(where: tuple) -> str:
    return "the object" + "".join(f"[{part!r}]" for part in where)


def _write_atomic(path: str, data: bytes) -> None:
    target = os.path.realpath(path)  # a symlinked checkpoint keeps its link
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"deepgrad.save: the directory {directory!r} of the "
                                "checkpoint does not exist", path)
    tmp = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never clobber another writer's file; mode 0o666 lets the umask decide, as open() does.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):  # keep the original error, not a failed cleanup
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); Windows cannot open a directory for fsync."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------- load
def load(f: str | os.PathLike, map_location: Any = None, weights_only: bool | None = None) -> Any:
    """Load a checkpoint written by :func:`save`, with tensors as deepgrad Tensors.

    A safetensors file written by another tool (``safetensors.torch.save_file``, no deepgrad
    metadata) loads as a flat ``{name: Tensor}`` dict, ready for ``model.load_state_dict``.
    ``map_location`` is accepted for PyTorch compatibility and must resolve to the CPU (None, 'cpu',
    a cpu device, or a dict mapping to 'cpu'). ``weights_only`` is accepted and changes nothing:
    loading only parses JSON and copies bytes, it never runs code.

    Raises FileNotFoundError for a missing file and :class:`CheckpointError` for an empty,
    truncated, corrupt or foreign one (a ``torch.save`` pickle file, a text file...).

    Example::

        ckpt = deepgrad.load("ckpt.safetensors")
        model.load_state_dict(ckpt["model"])
    """
    path = _as_path(f, "load")
    _check_map_location(map_location)
    header = _read_header(path)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{path}: corrupt safetensors header: __metadata__ must map strings to "
                              f"strings, got {metadata!r}")
    structure = metadata.get(_STRUCTURE_KEY)
    if structure is None:
        return {name: Tensor._make(array) for name, array in _read_arrays(path, list(header)).items()}
    version = metadata.get(_VERSION_KEY)
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: deepgrad checkpoint format version {version!r}; this deepgrad "
                              f"reads version {FORMAT_VERSION!r} (was it written by a newer deepgrad?)")
    try:
        tree = json.loads(structure)
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: the deepgrad structure in the metadata is not valid JSON "
                              f"({e}); the file is corrupt") from None
    names: list[str] = []
    _collect_tensor_names(tree, names, path)
    missing = [name for name in names if name not in header]
    if missing:
        raise CheckpointError(f"{path}: the metadata refers to tensors the file does not hold: "
                              f"{', '.join(map(repr, missing))}; the file is corrupt")
    return _decode(tree, _read_arrays(path, names), path)


def _as_path(f: Any, op: str) -> str:
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"deepgrad.{op}: expected a file path (str or os.PathLike), got "
                        f"{type(f).__name__}")
    return os.fspath(f)


def _check_map_location(map_location: Any) -> None:
    targets = map_location.values() if isinstance(map_location, dict) else [map_location]
    for target in targets:
        if target is None:
            continue
        try:
            device(str(target))
        except (RuntimeError, ValueError):
            raise ValueError(f"deepgrad.load: map_location={map_location!r} is not supported: deepgrad "
                             "tensors live on the CPU; pass map_location='cpu' or leave it out") from None


def _read_header(path: str) -> dict:
    """The safetensors JSON header; a file that is not a safetensors file gets a CheckpointError
    saying what it is instead (empty, truncated, a PyTorch pickle, text...)."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(_HEADER_LENGTH_BYTES)
            n = int.from_bytes(head, "little")
            raw = fh.read(n) if len(head) == _HEADER_LENGTH_BYTES and n <= size - len(head) else b""
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "deepgrad.load: no such checkpoint file", path) from None
    if not raw.startswith(b"{"):
        _explain_unreadable(path, size, head)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: corrupt safetensors file: its header is not a JSON object")
    _check_entries(path, header, size - _HEADER_LENGTH_BYTES - n)
    return header


def _explain_unreadable(path: str, size: int, head: bytes) -> None:
    """Raise a CheckpointError saying what kind of file ``path`` is, as far as its first bytes tell."""
    if size == 0:
        raise CheckpointError(f"{path}: the file is empty (0 bytes), not a checkpoint")
    if _is_torch_pickle(path, head):
        command = _TORCH_CONVERSION.format(src=path, dst=os.path.splitext(path)[0] + ".safetensors")
        raise CheckpointError(
            f"{path}: this is a PyTorch torch.save (pickle) file; deepgrad does not unpickle because "
            "unpickling can run arbitrary code. Convert a saved state_dict once, with PyTorch "
            f"installed:\n    {command}\nthen load the .safetensors file (see docs/checkpoints.md)")
    if head.startswith(b"PK\x03\x04"):
        raise CheckpointError(f"{path}: this is a zip archive, not a safetensors checkpoint")
    if all(32 <= b < 127 or b in b"\t\n\r" for b in head):
        raise CheckpointError(f"{path}: not a checkpoint: the file starts with text "
                              f"({head.decode('ascii')!r}...), while a safetensors file starts with a "
                              "binary header length")
    if len(head) < _HEADER_LENGTH_BYTES:
        raise CheckpointError(f"{path}: the file is truncated: {size} bytes, shorter than the "
                              f"{_HEADER_LENGTH_BYTES}-byte safetensors header length")
    n = int.from_bytes(head, "little")
    if n > size - _HEADER_LENGTH_BYTES:
        raise CheckpointError(f"{path}: the file is truncated or not a safetensors file: its header "
                              f"length says {n} bytes but the file has {size} bytes")
    raise CheckpointError(f"{path}: corrupt or not a safetensors file: its header does not start "
                          "with '{'")


def _is_torch_pickle(path: str, head: bytes) -> bool:
    """torch.save writes a zip archive holding ``<name>/data.pkl`` (before PyTorch 1.6, a bare
    pickle, which starts with the PROTO opcode 0x80 and a protocol number)."""
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return True
    if not (head.startswith(b"PK\x03\x04") and zipfile.is_zipfile(path)):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("data.pkl") for name in archive.namelist())


def _check_entries(path: str, header: dict, data_bytes: int) -> None:
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, offsets = entry["dtype"], entry["data_offsets"]
            end = max(end, int(offsets[1]))
        except (TypeError, KeyError, IndexError, ValueError):
            raise CheckpointError(f"{path}: corrupt safetensors header: entry {name!r} is "
                                  f"{entry!r}") from None
        if dtype not in _SUPPORTED_DTYPES:
            raise CheckpointError(
                f"{path}: tensor {name!r} has dtype {dtype}, which deepgrad does not support "
                f"(supported: {', '.join(sorted(_SUPPORTED_DTYPES))}); convert it before saving, e.g. "
                "with PyTorch: {k: v.float() for k, v in state_dict.items()}")
    if end > data_bytes:
        raise CheckpointError(f"{path}: the file is truncated: its tensors need {end} bytes of data "
                              f"after the header but only {data_bytes} are there")


def _read_arrays(path: str, names: list) -> dict:
    try:
        with safe_open(path, framework="numpy") as fh:
            return {name: fh.get_tensor(name) for name in names}
    except SafetensorError as e:
        raise CheckpointError(f"{path}: corrupt safetensors file: {e}") from None


def _collect_tensor_names(node: Any, names: list, path: str) -> None:
    if isinstance(node, list):
        for item in node:
            _collect_tensor_names(item, names, path)
    elif isinstance(node, dict):
        if "tensor" in node:
            if not isinstance(node["tensor"], str):
                raise CheckpointError(f"{path}: corrupt deepgrad structure: tensor node {node!r}")
            names.append(node["tensor"])
        elif "tuple" in node:
            _collect_tensor_names(node["tuple"], names, path)
        elif "dict" in node:
            for pair in node["dict"]:
                _collect_tensor_names(pair, names, path)
        elif "float" not in node:
            raise CheckpointError(f"{path}: corrupt deepgrad structure: unknown node {node!r}")


def _decode(node: Any, arrays: dict, path: str) -> Any:
    if not isinstance(node, (list, dict)):
        return node
    if isinstance(node, list):
        return [_decode(item, arrays, path) for item in node]
    if "tensor" in node:
        return Tensor._make(arrays[node["tensor"]], requires_grad=bool(node.get("requires_grad", False)))
    if "tuple" in node:
        return tuple(_decode(item, arrays, path) for item in node["tuple"])
    if "float" in node and node["float"] in _NON_FINITE:
        return _NON_FINITE[node["float"]]
    try:
        return {_decode(k, arrays, path): _decode(v, arrays, path) for k, v in node["dict"]}
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{path}: corrupt deepgrad structure near {node!r}") from None
