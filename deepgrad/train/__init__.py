"""Training loops and their safety nets."""
from .guard import DivergenceGuard  # noqa: F401
from .progress import Progress  # noqa: F401
