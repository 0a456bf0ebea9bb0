"""Progress reporting: a tqdm bar on a terminal, plain periodic lines otherwise (logs, CI)."""
from __future__ import annotations

import sys
import time


class Progress:
    """``Progress(total, desc)``; call ``update(n, **stats)`` per step and ``close()`` at the end.

    On a terminal it draws a tqdm bar with the stats and an ETA; when stdout is not a terminal it
    prints one line every ``every_s`` seconds (and at the end) with the same information.
    """

    def __init__(self, total: int | None, desc: str = "", unit: str = "step", every_s: float = 10.0,
                 stream=None, force_plain: bool = False):
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = stream or sys.stdout
        self.count = 0
        self.start = self.last_print = time.perf_counter()
        self.every_s = every_s
        self.stats = {}
        self.bar = None
        if not force_plain and hasattr(self.stream, "isatty") and self.stream.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True)

    def update(self, n: int = 1, **stats) -> None:
        self.count += n
        self.stats.update(stats)
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix({k: _fmt(v) for k, v in self.stats.items()}, refresh=False)
            return
        now = time.perf_counter()
        if now - self.last_print >= self.every_s:
            self.last_print = now
            self._line()

    def write(self, msg: str) -> None:
        if self.bar is not None:
            self.bar.write(msg, file=self.stream)
        else:
            print(msg, file=self.stream, flush=True)

    def _line(self) -> None:
        elapsed = time.perf_counter() - self.start
        parts = [f"{self.desc} {self.count}" + (f"/{self.total}" if self.total else "") + f" {self.unit}s"]
        parts += [f"{k} {_fmt(v)}" for k, v in self.stats.items()]
        if self.total and self.count:
            eta = elapsed / self.count * (self.total - self.count)
            parts.append(f"eta {eta:.0f}s")
        parts.append(f"elapsed {elapsed:.0f}s")
        print("  ".join(parts), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            self._line()


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3e}"
    return str(v)
