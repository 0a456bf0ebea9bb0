"""deepgrad.utils.data: datasets, samplers, collation and the DataLoader, against torch.utils.data."""
import collections
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import deepgrad as dg
from deepgrad.utils.data import (
    BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler,
    SequentialSampler, Subset, SubsetRandomSampler, TensorDataset, WeightedRandomSampler, default_collate,
    default_convert, get_worker_info, random_split)


def gen(seed=0):
    return dg.Generator().manual_seed(seed)


def xy(n=10):
    x = dg.arange(n * 3).reshape(n, 3).float()
    return x, dg.arange(n) * 10


def flat(batches, k=1):
    """Column ``k`` of a list of [x, y] batches, as one list."""
    return [v for b in batches for v in b[k].tolist()]


def to_plain(obj):
    """A collated structure with tensors (deepgrad or torch) replaced by (dtype name, values)."""
    if isinstance(obj, (dg.Tensor, torch.Tensor)):
        return str(obj.dtype).split(".")[-1], obj.tolist()
    if isinstance(obj, dict):
        return type(obj).__name__, {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj).__name__, [to_plain(v) for v in obj]
    return obj


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"x": dg.tensor([float(i), float(-i)]), "y": i * i}


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


# ---------------------------------------------------------------------------- samplers
@pytest.mark.parametrize("n,bs,drop", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False),
                                       (2, 5, True)])
def test_batch_sampler_matches_torch(n, bs, drop):
    ours = BatchSampler(SequentialSampler(range(n)), bs, drop)
    ref = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop)
    assert list(ours) == list(ref)
    assert len(ours) == len(ref)


@pytest.mark.parametrize("kwargs,match", [
    ({"batch_size": 0, "drop_last": False}, "batch_size should be a positive integer value"),
    ({"batch_size": True, "drop_last": False}, "batch_size should be a positive integer value"),
    ({"batch_size": 2, "drop_last": 1}, "drop_last should be a boolean value"),
])
def test_batch_sampler_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BatchSampler(range(4), **kwargs)


def test_random_sampler_is_a_reproducible_permutation():
    a = list(RandomSampler(range(20), generator=gen(3)))
    assert sorted(a) == list(range(20)) and a != list(range(20))
    assert a == list(RandomSampler(range(20), generator=gen(3)))
    assert a != list(RandomSampler(range(20), generator=gen(4)))


def test_random_sampler_without_generator_follows_manual_seed():
    sampler = RandomSampler(range(30))
    dg.manual_seed(11)
    first, second = list(sampler), list(sampler)
    dg.manual_seed(11)
    assert list(sampler) == first and list(sampler) == second
    assert first != second, "each pass draws a new seed from the global generator"


def test_random_sampler_num_samples_and_replacement():
    s = RandomSampler(range(4), num_samples=10, generator=gen())
    out = list(s)
    assert len(s) == 10 and len(out) == 10
    assert sorted(out[:4]) == sorted(out[4:8]) == [0, 1, 2, 3], "whole permutations first"
    assert len(set(out[8:])) == 2
    r = list(RandomSampler(range(5), replacement=True, num_samples=200, generator=gen()))
    assert len(r) == 200 and set(r) == set(range(5))


@pytest.mark.parametrize("kwargs,match", [
    ({"replacement": 1}, "replacement should be a boolean value"),
    ({"num_samples": 0}, "num_samples should be a positive integer value"),
])
def test_random_sampler_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandomSampler(range(3), **kwargs)


def test_random_sampler_refuses_empty_dataset():
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler([])


def test_subset_random_sampler():
    idx = [3, 7, 11, 20]
    out = list(SubsetRandomSampler(idx, generator=gen(1)))
    assert sorted(out) == idx and len(SubsetRandomSampler(idx)) == 4
    assert out == list(SubsetRandomSampler(idx, generator=gen(1)))


def test_weighted_random_sampler():
    w = [0.0, 1.0, 3.0, 0.0]
    out = list(WeightedRandomSampler(w, 4000, generator=gen()))
    counts = np.bincount(out, minlength=4)
    assert counts[0] == counts[3] == 0
    assert abs(counts[2] / 4000 - 0.75) < 0.03  # 4 standard deviations
    unique = list(WeightedRandomSampler(dg.tensor([1.0, 2.0, 3.0]), 3, replacement=False, generator=gen()))
    assert sorted(unique) == [0, 1, 2]
    with pytest.raises(ValueError, match="weights should be a 1-d sequence"):
        WeightedRandomSampler([[1.0, 2.0]], 2)


# ---------------------------------------------------------------------------- collate
@pytest.mark.parametrize("batch_fn", [
    lambda lib: [lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0])],
    lambda lib: [1.5, 2.5],
    lambda lib: [1, 2, 3],
    lambda lib: [True, False],
    lambda lib: ["a", "b"],
    lambda lib: [(lib.tensor([1]), 2.0, "s"), (lib.tensor([3]), 4.0, "t")],
    lambda lib: [[1, 2], [3, 4]],
    lambda lib: [{"a": lib.tensor(1.0), "b": {"c": 1}}, {"a": lib.tensor(2.0), "b": {"c": 2}}],
    lambda lib: [np.arange(3, dtype=np.int32), np.arange(3, 6, dtype=np.int32)],
    lambda lib: [np.float32(1.5), np.float32(2.5)],
], ids=["tensors", "floats", "ints", "bools", "strings", "tuples", "lists", "dicts", "ndarrays",
        "np-scalars"])
def test_default_collate_matches_torch(batch_fn):
    assert to_plain(default_collate(batch_fn(dg))) == to_plain(tud.default_collate(batch_fn(torch)))


def test_default_collate_keeps_mapping_and_namedtuple_types():
    Point = collections.namedtuple("Point", "x y")
    out = default_collate([Point(dg.tensor(1.0), 1), Point(dg.tensor(2.0), 2)])
    assert isinstance(out, Point) and out.y.tolist() == [1, 2] and out.x.dtype == dg.float32
    od = default_collate([collections.OrderedDict(a=1), collections.OrderedDict(a=2)])
    assert isinstance(od, collections.OrderedDict) and od["a"].tolist() == [1, 2]


def test_default_collate_keeps_gradients():
    a = dg.tensor([1.0, 2.0], requires_grad=True)
    b = dg.tensor([3.0, 4.0], requires_grad=True)
    out = default_collate([a, b])
    (out * dg.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert a.grad.tolist() == [1.0, 2.0] and b.grad.tolist() == [3.0, 4.0]


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match=r"equal size, but got \(2,\) at entry 0 and \(3,\) at entry 1"):
        default_collate([dg.zeros(2), dg.zeros(3)])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                                        "found object"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found a numpy array of dtype <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert():
    out = default_convert((np.arange(3), {"k": np.float64(2.0)}, "s", 4))
    assert isinstance(out, list) and isinstance(out[0], dg.Tensor) and out[0].tolist() == [0, 1, 2]
    assert out[1]["k"].dtype == dg.float64 and out[2:] == ["s", 4]


# ---------------------------------------------------------------------------- datasets
def test_tensor_dataset():
    x, y = xy(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    a, b = ds[2]
    assert a.tolist() == [6.0, 7.0, 8.0] and b.item() == 20
    with pytest.raises(ValueError, match=r"size mismatch between tensors.*\(5, 3\), \(4,\)"):
        TensorDataset(x, y[:4])
    with pytest.raises(TypeError, match="expected tensors, got list at position 1"):
        TensorDataset(x, [1, 2, 3, 4, 5])


def test_subset_and_concat():
    base = list(range(10))
    sub = Subset(base, [4, 2, 8])
    assert len(sub) == 3 and sub[1] == 2 and [sub[i] for i in range(3)] == [4, 2, 8]
    cat = ConcatDataset([Squares(), Subset(Squares(), [0, 1])])
    assert len(cat) == 9 and cat[7]["y"] == 0 and cat[6]["y"] == 36 and cat[-1]["y"] == 1
    assert len(Squares() + Squares()) == 14
    with pytest.raises(IndexError, match="index 9 is out of range for a dataset of length 9"):
        cat[9]
    with pytest.raises(ValueError, match="absolute value of index should not exceed dataset length"):
        cat[-10]
    with pytest.raises(ValueError, match="datasets should not be an empty iterable"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="ConcatDataset does not support IterableDataset"):
        ConcatDataset([Stream(3)])


@pytest.mark.parametrize("n,lengths", [(10, [0.8, 0.2]), (10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]),
                                       (11, [3, 8]), (5, [0.1, 0.9])])
def test_random_split_lengths_match_torch(n, lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = random_split(list(range(n)), lengths, generator=gen())
        ref = tud.random_split(list(range(n)), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in ref]
    items = sorted(v for s in ours for v in (s[i] for i in range(len(s))))
    assert items == list(range(n)), "the splits partition the dataset"


def test_random_split_is_reproducible_and_validated():
    a = random_split(range(20), [0.5, 0.5], generator=gen(5))
    b = random_split(range(20), [0.5, 0.5], generator=gen(5))
    assert a[0].indices == b[0].indices and a[0].indices != list(range(10))
    dg.manual_seed(1)
    c = random_split(range(20), [10, 10])
    dg.manual_seed(1)
    assert random_split(range(20), [10, 10])[1].indices == c[1].indices
    with pytest.raises(ValueError, match=r"sum of input lengths \[3, 3\] = 6 does not equal the length of "
                                         r"the input dataset \(7\)"):
        random_split(range(7), [3, 3])
    with pytest.raises(ValueError, match="fraction at index 0 is not between 0 and 1, got 1.5"):
        random_split(range(7), [1.5, -0.5])
    with pytest.warns(UserWarning, match="length of split at index 1 is 0"):
        random_split(range(2), [0.9, 0.1])


# ---------------------------------------------------------------------------- DataLoader
@pytest.mark.parametrize("n,bs,drop", [(10, 4, False), (10, 4, True), (8, 4, True), (3, 5, False)])
def test_loader_order_sizes_and_len(n, bs, drop):
    x, y = xy(n)
    loader = DataLoader(TensorDataset(x, y), batch_size=bs, drop_last=drop)
    batches = list(loader)
    expected = [len(b) for b in tud.BatchSampler(range(n), bs, drop)]
    assert [len(b[0]) for b in batches] == expected
    assert len(loader) == len(batches) == len(iter(loader))
    assert flat(batches) == [10 * i for i in range(sum(expected))]
    assert all(b[0].dtype == dg.float32 and b[1].dtype == dg.int64 for b in batches)


def test_loader_default_batch_size_is_one():
    batches = list(DataLoader(Squares()))
    assert len(batches) == 7 and batches[3]["x"].shape == (1, 2) and batches[3]["y"].tolist() == [9]


def test_loader_shuffle_with_generator_is_reproducible():
    x, y = xy(23)
    ds = TensorDataset(x, y)
    run = lambda seed: flat(DataLoader(ds, batch_size=5, shuffle=True, generator=gen(seed)))  # noqa: E731
    assert run(7) == run(7) and sorted(run(7)) == flat(DataLoader(ds, batch_size=5))
    assert run(7) != run(8)
    loader = DataLoader(ds, batch_size=5, shuffle=True, generator=gen(7))
    assert flat(loader) != flat(loader), "epochs continue the generator"


def test_loader_shuffle_follows_manual_seed():
    x, y = xy(16)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True)
    dg.manual_seed(123)
    epochs = [flat(loader) for _ in range(3)]
    dg.manual_seed(123)
    assert [flat(loader) for _ in range(3)] == epochs
    assert epochs[0] != epochs[1]


def test_tensor_dataset_fast_path_equals_slow_path(monkeypatch):
    x, y = xy(13)
    ds = TensorDataset(x, y)
    calls = []
    original = TensorDataset._collated_batch
    monkeypatch.setattr(TensorDataset, "_collated_batch",
                        lambda self, i: calls.append(1) or original(self, i))
    fast = list(DataLoader(ds, batch_size=4, shuffle=True, generator=gen(2)))
    slow = list(DataLoader(ds, batch_size=4, shuffle=True, generator=gen(2),
                           collate_fn=lambda b: default_collate(b)))
    assert len(calls) == len(fast) == 4, "the default collate takes the one-gather path"
    for f, s in zip(fast, slow):
        assert isinstance(f, list) and len(f) == 2
        for a, b in zip(f, s):
            assert a.dtype == b.dtype and a.shape == b.shape and a.tolist() == b.tolist()


def test_fast_path_through_random_split_subsets():
    x, y = xy(12)
    train, _ = random_split(TensorDataset(x, y), [0.75, 0.25], generator=gen())
    fast = list(DataLoader(train, batch_size=4))
    slow = list(DataLoader(train, batch_size=4, collate_fn=lambda b: default_collate(b)))
    assert flat(fast) == flat(slow) == [10 * i for i in train.indices]
    assert flat(fast, 0) == flat(slow, 0)


def test_subclass_overriding_getitem_is_not_bypassed():
    class Noisy(TensorDataset):
        def __getitem__(self, i):
            a, b = super().__getitem__(i)
            return a + 1000, b

    x, y = xy(6)
    batches = list(DataLoader(Noisy(x, y), batch_size=3))
    assert batches[1][0].tolist()[0] == [1009.0, 1010.0, 1011.0]
    sub_batches = list(DataLoader(Subset(Noisy(x, y), [0, 1]), batch_size=2))
    assert sub_batches[0][0].tolist()[0] == [1000.0, 1001.0, 1002.0]


def test_loader_with_sampler_and_batch_sampler():
    x, y = xy(10)
    ds = TensorDataset(x, y)
    picked = flat(DataLoader(ds, batch_size=2, sampler=SubsetRandomSampler([1, 5, 7], generator=gen())))
    assert sorted(picked) == [10, 50, 70]
    batches = list(DataLoader(ds, batch_sampler=[[3, 1], [0], [9, 8, 7]]))
    assert [b[1].tolist() for b in batches] == [[30, 10], [0], [90, 80, 70]]


def test_loader_without_batching_converts_samples():
    class Arrays(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.full(2, i, dtype=np.int64), float(i)

    out = list(DataLoader(Arrays(), batch_size=None))
    assert len(out) == 3 and isinstance(out[2][0], dg.Tensor) and out[2][0].tolist() == [2, 2]
    assert out[2][1] == 2.0


def test_loader_custom_collate_and_dict_samples():
    loader = DataLoader(Squares(), batch_size=3, collate_fn=lambda b: [s["y"] for s in b])
    assert list(loader) == [[0, 1, 4], [9, 16, 25], [36]]
    batch = next(iter(DataLoader(Squares(), batch_size=3)))
    assert batch["x"].tolist() == [[0.0, 0.0], [1.0, -1.0], [2.0, -2.0]] and batch["y"].dtype == dg.int64


def test_loader_over_iterable_dataset():
    loader = DataLoader(Stream(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    dropped = DataLoader(Stream(7), batch_size=3, drop_last=True)
    assert [b.tolist() for b in dropped] == [[0, 1, 2], [3, 4, 5]] and len(dropped) == 2
    assert [b.tolist() for b in DataLoader(Stream(2) + Stream(2), batch_size=3)] == [[0, 1, 0], [1]]
    assert isinstance(Stream(1) + Stream(1), ChainDataset)
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified sampler option"):
        DataLoader(Stream(3), sampler=[0, 1])


@pytest.mark.parametrize("kwargs,match", [
    ({"sampler": [0], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
    ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
    ({"batch_sampler": [[0]], "drop_last": True}, "batch_sampler option is mutually exclusive"),
    ({"batch_size": None, "drop_last": True}, "batch_size=None option disables auto-batching"),
    ({"batch_size": 0}, "batch_size should be a positive integer value"),
    ({"num_workers": -1}, "num_workers option should be non-negative"),
    ({"prefetch_factor": 2}, "prefetch_factor option could only be specified in multiprocessing"),
    ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
])
def test_loader_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(Squares(), **kwargs)


def test_loader_attributes_are_frozen():
    loader = DataLoader(Squares(), batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is "
                                         "initialized"):
        loader.batch_size = 3
    loader.num_workers = 0


def test_num_workers_run_in_process_with_a_warning():
    x, y = xy(9)
    with pytest.warns(UserWarning, match="num_workers=2 is accepted .* batches and their order are those of "
                                         "num_workers=0"):
        loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, num_workers=2,
                            generator=gen(4), prefetch_factor=2, persistent_workers=True)
    reference = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, generator=gen(4))
    assert flat(loader) == flat(reference)
    assert get_worker_info() is None
