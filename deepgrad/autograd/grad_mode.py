"""Whether operations are recorded for backward: ``no_grad``, ``enable_grad``, ``set_grad_enabled``."""
from __future__ import annotations

import functools
import threading


class _State(threading.local):
    """Grad mode is per thread, as in PyTorch: a thread running inference under ``no_grad`` does
    not switch recording off for a thread that is training. New threads start with it on."""

    enabled = True


state = _State()


def is_grad_enabled() -> bool:
    """True when new operations are recorded in the graph."""
    return state.enabled


class _GradMode:
    """Context manager and decorator that sets grad mode for its body."""

    _mode = True

    def __init__(self):
        self._prev = []

    def __enter__(self):
        self._prev.append(state.enabled)
        state.enabled = self._mode
        return self

    def __exit__(self, *exc):
        state.enabled = self._prev.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Nothing computed inside is recorded for backward (inference, optimizer updates).

    Example::

        with deepgrad.no_grad():
            pred = model(x)
    """

    _mode = False


class enable_grad(_GradMode):
    """Turns recording back on inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` acts at once (like PyTorch) and also works as a context manager."""

    def __init__(self, mode: bool):
        super().__init__()
        self._mode = bool(mode)
        self._prev.append(state.enabled)
        state.enabled = self._mode

    def __enter__(self):
        return self

    def __call__(self, fn):
        mode = self._mode
        state.enabled = self._prev.pop()

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class inference_mode(no_grad):
    """Alias of ``no_grad`` kept for PyTorch code that uses it."""

    def __init__(self, mode: bool = True):
        super().__init__()
        self._mode = not mode
