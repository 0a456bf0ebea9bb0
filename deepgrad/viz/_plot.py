"""matplotlib, loaded on demand with the Agg backend (files only, no display needed)."""
from __future__ import annotations


def pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'deepgrad[viz]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
