"""Computer vision: image transforms and datasets (torchvision's names)."""
from . import datasets, transforms  # noqa: F401
