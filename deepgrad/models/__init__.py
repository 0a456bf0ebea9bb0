"""Ready-made models built from the public API."""
from .charlm import CharLM, beam_search, sample  # noqa: F401
