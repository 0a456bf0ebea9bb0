"""Samplers: the order in which a DataLoader visits a dataset's indices, and how they group into
batches. Every random choice comes from a ``deepgrad.Generator`` (an explicit one, or the global
generator that ``deepgrad.manual_seed`` seeds)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized

from ...creation import multinomial, randint, randperm, tensor
from ...random import Generator, randint_array
from ...tensor import Tensor

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]


class Sampler:
    """Base class of samplers: subclasses define ``__iter__`` yielding dataset indices (or, for a
    batch sampler, lists of indices) and, where the count is known, ``__len__``."""


class SequentialSampler(Sampler):
    """Indices 0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _positive_int(value, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: {name} should be a positive integer value, but got {name}={value!r}")
    return value


def _bool(value, name: str, owner: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{owner}: {name} should be a boolean value, but got {name}={value!r}")
    return value


def _epoch_generator(generator: Generator | None) -> Generator:
    """``generator`` itself, or a fresh generator seeded by one draw from the global generator, so that
    each pass is reproducible under ``deepgrad.manual_seed`` and differs from the previous pass."""
    if generator is not None:
        return generator
    return Generator().manual_seed(int(randint_array(0, 2 ** 63 - 1, (1,))[0]))


class RandomSampler(Sampler):
    """Indices in a random order: a permutation of the dataset (repeated when ``num_samples`` exceeds
    its length), or ``num_samples`` independent uniform draws with ``replacement=True``.

    With ``generator=None`` each pass draws a seed from the global generator.

    Example::

        list(RandomSampler(range(5), generator=deepgrad.Generator().manual_seed(0)))
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None):
        self.data_source = data_source
        self.replacement = _bool(replacement, "replacement", "RandomSampler")
        self._num_samples = num_samples
        self.generator = generator
        _positive_int(self.num_samples, "num_samples", "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        generator = _epoch_generator(self.generator)
        if self.replacement:
            yield from randint(0, n, (self.num_samples,), generator=generator).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from randperm(n, generator=generator).tolist()
        yield from randperm(n, generator=generator).tolist()[:self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (a new permutation each pass)."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None):
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights`` (one weight per
    sample), with or without replacement; useful to rebalance classes."""

    def __init__(self, weights: Sequence[float] | Tensor, num_samples: int, replacement: bool = True,
                 generator: Generator | None = None):
        _positive_int(num_samples, "num_samples", "WeightedRandomSampler")
        _bool(replacement, "replacement", "WeightedRandomSampler")
        w = weights.double() if isinstance(weights, Tensor) else tensor(weights).double()
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1-d sequence, but given weights "
                             f"have shape {tuple(w.shape)}")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        yield from multinomial(self.weights, self.num_samples, self.replacement,
                               generator=self.generator).tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``; the last, shorter list is kept
    unless ``drop_last``.

    Example::

        list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        # [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool):
        self.sampler = sampler
        self.batch_size = _positive_int(batch_size, "batch_size", "BatchSampler")
        self.drop_last = _bool(drop_last, "drop_last", "BatchSampler")

    def __iter__(self) -> Iterator[list]:
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
