"""Random numbers: one global generator (``manual_seed``) and explicit ``Generator`` objects.

Every random choice in deepgrad (initialisation, dropout, shuffling, sampling) draws from a
generator, so a seeded run is reproducible, and a generator's state can be saved in a checkpoint
and restored exactly.
"""
from __future__ import annotations

from . import backend as B
from .backend import xp


class Generator:
    """A seedable random generator (PCG64). ``deepgrad.Generator().manual_seed(0)``."""

    def __init__(self, device=None):
        self._rng = xp.random.Generator(xp.random.PCG64())
        self._seed = None

    def manual_seed(self, seed: int) -> "Generator":
        seed = int(seed)
        self._rng = xp.random.Generator(xp.random.PCG64(seed & 0xFFFFFFFFFFFFFFFF))
        self._seed = seed
        return self

    def seed(self) -> int:
        seed = int(xp.random.SeedSequence().entropy & 0xFFFFFFFFFFFFFFFF)
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The generator's state as a uint8 tensor (store it in a checkpoint)."""
        from .tensor import Tensor
        st = self._rng.bit_generator.state
        words = [st["state"]["state"], st["state"]["inc"]]
        raw = b"".join(w.to_bytes(16, "little") for w in words)
        raw += bytes([st["has_uint32"]]) + int(st["uinteger"]).to_bytes(4, "little")
        return Tensor._make(xp.frombuffer(raw, dtype=xp.uint8).copy())

    def set_state(self, state) -> "Generator":
        data = bytes(state._data.astype(xp.uint8) if hasattr(state, "_data") else bytes(state))
        if len(data) != 37:
            raise ValueError(f"set_state: expected a 37-byte generator state, got {len(data)} bytes")
        bg = xp.random.PCG64()
        bg.state = {
            "bit_generator": "PCG64",
            "state": {"state": int.from_bytes(data[:16], "little"),
                      "inc": int.from_bytes(data[16:32], "little")},
            "has_uint32": data[32], "uinteger": int.from_bytes(data[33:37], "little"),
        }
        self._rng = xp.random.Generator(bg)
        return self

    @property
    def rng(self):
        return self._rng


default_generator = Generator().manual_seed(0x5EED)


def manual_seed(seed: int) -> Generator:
    """Seed the global generator; returns it."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the global generator from fresh entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the global generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state():
    """The global generator's state as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(state) -> None:
    """Restore the global generator from a state returned by ``get_rng_state``."""
    default_generator.set_state(state)


def _rng(generator):
    return (generator or default_generator)._rng


def _float_dtype(dtype):
    dt = B.to_dtype(dtype) if dtype is not None else B.get_default_dtype()
    if not dt.is_floating_point:
        raise TypeError(f"expected a floating dtype for random floats, got {dt}")
    return dt


def rand_array(shape, dtype=None, generator=None):
    """Uniform [0, 1) samples as an array of ``dtype``."""
    dt = _float_dtype(dtype)
    if dt.np in (xp.float32, xp.float64):
        return _rng(generator).random(tuple(shape), dtype=dt.np)
    return _rng(generator).random(tuple(shape)).astype(dt.np)


def randn_array(shape, dtype=None, generator=None):
    """Standard normal samples as an array of ``dtype``."""
    dt = _float_dtype(dtype)
    if dt.np in (xp.float32, xp.float64):
        return _rng(generator).standard_normal(tuple(shape), dtype=dt.np)
    return _rng(generator).standard_normal(tuple(shape)).astype(dt.np)


def randint_array(low, high, shape, generator=None):
    """Integers uniform in [low, high) as an int64 array."""
    if high <= low:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    return _rng(generator).integers(low, high, size=tuple(shape), dtype=xp.int64)


def permutation_array(n, generator=None):
    """A random permutation of 0 .. n-1 as an int64 array."""
    return _rng(generator).permutation(n).astype(xp.int64)
