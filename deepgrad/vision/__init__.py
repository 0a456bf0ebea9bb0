"""Computer vision: image transforms and datasets (torchvision's names)."""
from . import datasets, transforms  # noqa: F401
from . import captions, scenes  # noqa: F401
from .embed import PCA, Img2Vec, embed, nearest_neighbours, pca, plot_embeddings  # noqa: F401
from .images import read_image, write_image  # noqa: F401
