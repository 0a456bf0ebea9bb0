"""Datasets: indexable collections of samples (``Dataset``) and streams of samples (``IterableDataset``),
with PyTorch's semantics.

A map-style dataset defines ``__getitem__(index)`` and ``__len__``. ``TensorDataset`` and ``Subset``
also know how to fetch a whole batch with one gather per tensor (``_collated_batch``), which the
``DataLoader`` uses instead of fetching and stacking samples one by one when the collate function is
``default_collate``.
"""
from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Sequence

from ...backend import xp
from ...creation import from_numpy, randperm
from ...random import Generator, default_generator
from ...tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
           "random_split"]


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` returning one sample and
    ``__len__`` returning the number of samples. ``a + b`` concatenates two datasets.

    Example::

        class Squares(Dataset):
            def __len__(self):
                return 10

            def __getitem__(self, i):
                return deepgrad.tensor(float(i)), i * i
    """

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream: subclasses define ``__iter__`` yielding samples. A ``DataLoader``
    over it takes samples in the order the stream gives them (no sampler, no shuffle); ``a + b``
    chains two streams."""

    def __add__(self, other: "IterableDataset") -> "ChainDataset":
        return ChainDataset([self, other])


def _batch_index(indices) -> Tensor:
    return from_numpy(xp.asarray([int(i) for i in indices], dtype=xp.int64))


class TensorDataset(Dataset):
    """Samples are the rows of tensors sharing their first dimension: item ``i`` is
    ``tuple(t[i] for t in tensors)``.

    Example::

        ds = TensorDataset(deepgrad.randn(100, 3), deepgrad.randint(0, 2, (100,)))
        x, y = ds[0]
    """

    def __init__(self, *tensors: Tensor):
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: expected tensors, got {type(t).__name__} at position {i}")
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if tensors and (None in sizes or len(set(sizes)) != 1):
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors: every tensor needs the same "
                             f"first dimension, got shapes {shapes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0] if self.tensors else 0

    def _collated_batch(self, indices: Sequence[int]):
        """What ``default_collate`` makes of the samples at ``indices``, with one gather per tensor;
        None when a subclass changed how samples are made."""
        if type(self).__getitem__ is not TensorDataset.__getitem__:
            return None
        index = _batch_index(indices)
        return [t[index] for t in self.tensors]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)

    def _collated_batch(self, indices: Sequence[int]):
        if type(self).__getitem__ is not Subset.__getitem__:
            return None
        fetch = getattr(self.dataset, "_collated_batch", None)
        return None if fetch is None else fetch([self.indices[int(i)] for i in indices])


class ConcatDataset(Dataset):
    """The samples of several datasets one after another."""

    def __init__(self, datasets: Iterable[Dataset]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset; chain streams with "
                                "ChainDataset (or stream_a + stream_b)")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int):
        if idx < 0:
            if -idx > len(self):
                raise ValueError(f"ConcatDataset: index {idx} is out of range for a dataset of length "
                                 f"{len(self)} (absolute value of index should not exceed dataset length)")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        if which == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {idx} is out of range for a dataset of length "
                             f"{len(self)}")
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Several stream datasets one after another."""

    def __init__(self, datasets: Iterable[IterableDataset]):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def _fraction_lengths(n: int, fractions: Sequence[float]) -> list:
    """Lengths for fractions summing to 1: floor(n * f) each, the remainder spread one by one from
    the first split on (PyTorch's rule)."""
    lengths = []
    for i, frac in enumerate(fractions):
        if not 0 <= frac <= 1:
            raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {frac}")
        lengths.append(int(math.floor(n * frac)))
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"random_split: length of split at index {i} is 0; this might result in an "
                          f"empty dataset", stacklevel=3)
    return lengths


def random_split(dataset: Dataset, lengths: Sequence[int | float],
                 generator: Generator | None = default_generator) -> list:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths, or of the given
    fractions of its length when ``lengths`` are fractions summing to 1.

    Example::

        train, val = random_split(ds, [0.8, 0.2], generator=deepgrad.Generator().manual_seed(42))
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _fraction_lengths(n, lengths)
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {list(lengths)} = {sum(lengths)} does not "
                         f"equal the length of the input dataset ({n})")
    indices = randperm(n, generator=generator).tolist()
    return [Subset(dataset, indices[end - length:end])
            for end, length in zip(itertools.accumulate(lengths), lengths)]
