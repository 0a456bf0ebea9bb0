"""DataLoader: dataset -> sampler -> batch sampler -> collate, with PyTorch's arguments and semantics.

Loading runs in the calling process. ``num_workers > 0`` is accepted so PyTorch scripts run
unchanged, with a warning: the batches and their order are exactly those of ``num_workers=0``, and
``worker_init_fn`` is never called.
"""
from __future__ import annotations

import copy
import itertools
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence

from ...backend import xp
from ...creation import as_tensor, tensor
from ...ops import stack
from ...random import Generator
from ...tensor import Tensor
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, _positive_int

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


def _collate_error(found) -> TypeError:
    return TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                     f"found {found}")


def _is_numpy(x) -> bool:
    return isinstance(x, (xp.ndarray, xp.generic))


def _stack_tensors(batch: Sequence[Tensor]) -> Tensor:
    shape = batch[0].shape
    for i, t in enumerate(batch):
        if not isinstance(t, Tensor):
            raise TypeError(f"default_collate: expected a tensor at entry {i} of the batch like entry 0, "
                            f"got {type(t).__name__}")
        if t.shape != shape:
            raise RuntimeError(
                f"default_collate: expects each tensor to be equal size, but got {tuple(shape)} at entry 0 "
                f"and {tuple(t.shape)} at entry {i}; samples of different sizes need a collate_fn that "
                f"pads or crops them")
    if any(t.requires_grad for t in batch):
        return stack(batch, 0)
    # No history to record: one array stack instead of one graph node per sample.
    return Tensor._make(xp.stack([t._data for t in batch]))


def default_collate(batch: Sequence):
    """Merge a list of samples into a batch, recursively: tensors (and numpy arrays) are stacked
    along a new first dimension, Python floats become a float64 tensor, ints an int64 tensor, bools a
    bool tensor, strings stay a list; dicts collate per key, namedtuples per field, and tuples and
    lists per position (a tuple of fields gives a list of batches, as in PyTorch).

    Example::

        default_collate([(deepgrad.zeros(2), 0), (deepgrad.ones(2), 1)])
        # [tensor([[0., 0.], [1., 1.]]), tensor([0, 1])]
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if isinstance(elem, xp.ndarray):
        if elem.dtype.kind in "OSUV":
            raise _collate_error(f"a numpy array of dtype {elem.dtype}")
        return _stack_tensors([as_tensor(b) for b in batch])
    if isinstance(elem, xp.generic) and not isinstance(elem, (xp.str_, xp.bytes_)):
        return as_tensor(xp.asarray(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype="float64")
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        merged = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, MutableMapping):
            clone = copy.copy(elem)
            clone.update(merged)
            return clone
        try:
            return type(elem)(merged)
        except TypeError:
            return merged
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError(f"default_collate: each element in list of batch should be of equal size, "
                               f"got sizes {[len(sample) for sample in batch]}")
        columns = [default_collate(samples) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return columns
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise _collate_error(type(elem).__name__)


def default_convert(data):
    """Turn numpy arrays and numpy scalars in a sample into tensors, recursively through dicts,
    namedtuples, tuples (which become lists) and lists; used when automatic batching is off
    (``batch_size=None``)."""
    if _is_numpy(data) and not isinstance(data, (xp.str_, xp.bytes_)):
        return data if data.dtype.kind in "OSUV" else as_tensor(xp.asarray(data))
    if isinstance(data, Mapping):
        converted = {key: default_convert(value) for key, value in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def get_worker_info() -> None:
    """Information about the current loading worker: always None, since deepgrad loads every batch in
    the calling process (PyTorch returns None there too)."""
    return None


class _LoaderIterator:
    """One pass over a DataLoader (what ``iter(loader)`` returns); ``len`` is the loader's length."""

    def __init__(self, loader: "DataLoader"):
        self._loader = loader
        self._batches = loader._generate_batches()

    def __iter__(self) -> "_LoaderIterator":
        return self

    def __next__(self):
        return next(self._batches)

    def __len__(self) -> int:
        return len(self._loader)


class DataLoader:
    """Iterate over a dataset in batches.

    The sampler yields dataset indices (``SequentialSampler``, or ``RandomSampler`` with
    ``shuffle=True``), the batch sampler groups them into lists of ``batch_size`` (dropping a short
    last batch with ``drop_last=True``), and ``collate_fn`` (``default_collate`` unless given) merges
    the samples of a list into a batch. ``batch_size=None`` turns batching off: each sample goes
    through ``default_convert`` alone.

    Shuffling draws from ``generator``; without one, each pass draws a seed from the global
    generator, so ``deepgrad.manual_seed(s)`` before creating and iterating makes runs repeat.

    With the default collate, a dataset that can fetch a whole batch at once (``TensorDataset``, and
    ``Subset``s of one, e.g. from ``random_split``) is indexed once per tensor with the batch's
    indices, instead of fetching and stacking samples one by one; the result is the same. Such a
    dataset defines ``_collated_batch(indices)`` returning what ``default_collate`` would return, or
    None to fall back to sample-by-sample fetching.

    Loading runs in the calling process; ``num_workers > 0`` is accepted with a warning and gives the
    same batches in the same order as ``num_workers=0`` (``worker_init_fn`` is not called).
    ``pin_memory`` has no effect (there is no accelerator memory to pin).

    Example::

        loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True,
                            generator=deepgrad.Generator().manual_seed(0))
        for xb, yb in loader:
            ...
    """

    _FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Sampler | Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable | None = None,
                 generator: Generator | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False):
        self._check_workers(num_workers, timeout, prefetch_factor, persistent_workers)
        if isinstance(dataset, IterableDataset):
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, "
                                     f"but got {name}={value!r}; a stream is read in its own order")
        elif sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                                 "exclusive with drop_last")
        else:
            _positive_int(batch_size, "batch_size", "DataLoader")

        if sampler is None and not isinstance(dataset, IterableDataset):
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not isinstance(dataset, IterableDataset):
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        auto = batch_sampler is not None or (isinstance(dataset, IterableDataset) and batch_size is not None)
        self.collate_fn = collate_fn or (default_collate if auto else default_convert)
        self._auto_collation = auto
        self._initialized = True

    @staticmethod
    def _check_workers(num_workers, timeout, prefetch_factor, persistent_workers) -> None:
        if num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative, got {num_workers}; "
                             f"use num_workers=0 to disable multiprocessing")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                             "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor "
                             "to None")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if num_workers > 0:
            warnings.warn(f"DataLoader: num_workers={num_workers} is accepted for PyTorch compatibility, but "
                          f"deepgrad loads batches in the calling process: batches and their order are "
                          f"those of num_workers=0, and worker_init_fn is not called", stacklevel=3)

    def __setattr__(self, name: str, value) -> None:
        if name in self._FROZEN and getattr(self, "_initialized", False):
            raise ValueError(f"{name} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(name, value)

    def __iter__(self) -> Iterator:
        return _LoaderIterator(self)

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self._auto_collation else self.sampler)

    def _generate_batches(self) -> Iterator:
        if isinstance(self.dataset, IterableDataset):
            yield from self._stream_batches()
        elif not self._auto_collation:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
        else:
            fetch_batch = getattr(self.dataset, "_collated_batch", None)
            if self.collate_fn is not default_collate:
                fetch_batch = None
            for indices in self.batch_sampler:
                batch = fetch_batch(indices) if fetch_batch is not None else None
                yield batch if batch is not None else self.collate_fn([self.dataset[i] for i in indices])

    def _stream_batches(self) -> Iterator:
        stream = iter(self.dataset)
        if not self._auto_collation:
            for sample in stream:
                yield self.collate_fn(sample)
            return
        while True:
            batch = list(itertools.islice(stream, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self.collate_fn(batch)
