"""Utilities with PyTorch's layout: ``deepgrad.utils.data`` (datasets and the DataLoader)."""
from . import data  # noqa: F401
