"""Run directories shared by the training commands: never mix two runs' checkpoints."""
from __future__ import annotations

from pathlib import Path

from ..io import load


def open_run_dir(out: Path, resume: bool, overwrite: bool, fmt: str, what: str) -> dict | None:
    """Prepare ``out`` for a run. A directory holding another run's checkpoints is refused unless
    ``overwrite`` (then they are deleted) or ``resume`` (then ``last.ckpt`` is loaded, checked to be a
    ``what`` checkpoint of format ``fmt``, and returned). Returns None for a fresh run."""
    existing = sorted(out.glob("*.ckpt")) if out.is_dir() else []
    if existing and not resume:
        if not overwrite:
            raise FileExistsError(
                f"{out} already holds checkpoints of another run ({existing[0].name}, ...); pass "
                f"--resume to continue it, --overwrite to replace it, or choose another --out")
        for p in existing:
            p.unlink()
    if not resume:
        return None
    last = out / "last.ckpt"
    if not last.exists():
        raise FileNotFoundError(f"--resume: no checkpoint to resume from at {last}")
    ckpt = load(last)
    if not isinstance(ckpt, dict) or ckpt.get("format") != fmt:
        raise ValueError(f"{last}: not a {what} checkpoint")
    return ckpt
