"""cgrad.utils.data (datasets, samplers, DataLoader, collation) against torch.utils.data."""
import collections
import warnings

import numpy as np
import pytest

import cgrad
from cgrad.utils import data as C

torch = pytest.importorskip("torch")
T = torch.utils.data


def plain(x):
    """A batch as nested Python values, whichever library made it."""
    if isinstance(x, (cgrad.Tensor, torch.Tensor)):
        return (str(x.dtype).split(".")[-1], tuple(x.shape), x.tolist())
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__,) + tuple(plain(v) for v in x)
    if isinstance(x, (list, tuple)):
        return type(x)(plain(v) for v in x)
    return x


Point = collections.namedtuple("Point", "x y")

SAMPLES = {
    "tensors": lambda lib: [lib.arange(3.0) * i for i in range(4)],
    "ints": lambda lib: [1, 2, 3],
    "floats": lambda lib: [0.5, 1.5],
    "bools": lambda lib: [True, False, True],
    "numpy": lambda lib: [np.arange(4, dtype=np.float32) * i for i in range(3)],
    "numpy-scalars": lambda lib: [np.float64(1.5), np.float64(2.5)],
    "strings": lambda lib: ["a", "bc"],
    "dicts": lambda lib: [{"x": lib.ones(2) * i, "label": i, "name": f"s{i}"} for i in range(3)],
    "tuples": lambda lib: [(lib.ones(2) * i, i) for i in range(3)],
    "lists": lambda lib: [[i, 2.0 * i] for i in range(3)],
    "namedtuples": lambda lib: [Point(lib.ones(1) * i, float(i)) for i in range(2)],
    "nested": lambda lib: [{"a": [(i, lib.ones(2))], "b": {"c": 1.0 * i}} for i in range(2)],
}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_default_collate_matches_torch(kind):
    assert plain(C.default_collate(SAMPLES[kind](cgrad))) == plain(T.default_collate(SAMPLES[kind](torch)))


def test_default_convert_matches_torch():
    sample = {"a": np.arange(3), "b": (np.float32(2.0), [np.ones(2)]), "c": "s"}
    assert plain(C.default_convert(sample)) == plain(T.default_convert(sample))


def test_collate_errors_match_torch():
    for batch in ([[1, 2], [3]], [object(), object()], [np.array(["a"]), np.array(["b"])]):
        with pytest.raises(Exception) as t_err:
            T.default_collate(batch)
        with pytest.raises(type(t_err.value)):
            C.default_collate(batch)


def loader_batches(lib, **kw):
    x = lib.arange(22.0).reshape(11, 2)
    y = lib.arange(11)
    D = lib.utils.data
    return [plain(b) for b in D.DataLoader(D.TensorDataset(x, y), **kw)]


@pytest.mark.parametrize("kw", [{}, {"batch_size": 4}, {"batch_size": 4, "drop_last": True}, {"batch_size": 11},
                                {"batch_size": 20}, {"batch_size": None}])
def test_sequential_loading_matches_torch(kw):
    assert loader_batches(cgrad, **kw) == loader_batches(torch, **kw)
    D = cgrad.utils.data
    assert len(D.DataLoader(D.TensorDataset(cgrad.zeros(11)), **kw)) == len(
        T.DataLoader(T.TensorDataset(torch.zeros(11)), **kw))


def test_shuffling_visits_every_sample_once_and_follows_the_seed():
    ds = C.TensorDataset(cgrad.arange(50))
    cgrad.manual_seed(0)
    first = [b[0].tolist() for b in C.DataLoader(ds, batch_size=8, shuffle=True)]
    assert sorted(sum(first, [])) == list(range(50)) and sum(first, []) != list(range(50))
    second = [b[0].tolist() for b in C.DataLoader(ds, batch_size=8, shuffle=True)]
    assert second != first  # a new order every epoch
    cgrad.manual_seed(0)
    assert [b[0].tolist() for b in C.DataLoader(ds, batch_size=8, shuffle=True)] == first
    g = cgrad.Generator()
    g.manual_seed(5)
    a = [b[0].tolist() for b in C.DataLoader(ds, batch_size=8, shuffle=True, generator=g)]
    g.manual_seed(5)
    assert [b[0].tolist() for b in C.DataLoader(ds, batch_size=8, shuffle=True, generator=g)] == a


def test_samplers_and_batch_samplers():
    data = list(range(10))
    assert list(C.SequentialSampler(data)) == data
    r = list(C.RandomSampler(data))
    assert sorted(r) == data
    with_repl = list(C.RandomSampler(data, replacement=True, num_samples=100))
    assert len(with_repl) == 100 and set(with_repl) <= set(data)
    more = list(C.RandomSampler(data, num_samples=25))
    assert len(more) == 25 and sorted(more[:10]) == data and sorted(more[10:20]) == data
    sub = list(C.SubsetRandomSampler([3, 5, 7]))
    assert sorted(sub) == [3, 5, 7]
    w = list(C.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 400))
    assert set(w) <= {1, 3} and 0.65 < w.count(3) / 400 < 0.85
    assert list(C.WeightedRandomSampler([1, 1, 1], 3, replacement=False)).__len__() == 3
    bs = C.BatchSampler(C.SequentialSampler(data), 3, drop_last=False)
    assert list(bs) == list(T.BatchSampler(T.SequentialSampler(data), 3, drop_last=False)) and len(bs) == 4
    assert len(C.BatchSampler(range(10), 3, True)) == 3
    loader = C.DataLoader(C.TensorDataset(cgrad.arange(10)), batch_sampler=[[0, 9], [5]])
    assert [b[0].tolist() for b in loader] == [[0, 9], [5]]
    loader = C.DataLoader(C.TensorDataset(cgrad.arange(10)), sampler=[4, 2], batch_size=2)
    assert [b[0].tolist() for b in loader] == [[4, 2]]


class Stream(C.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class TStream(T.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


@pytest.mark.parametrize("kw", [{"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None},
                                {"batch_size": 7}])
def test_iterable_datasets_match_torch(kw):
    assert [plain(b) for b in C.DataLoader(Stream(7), **kw)] == [plain(b) for b in T.DataLoader(TStream(7), **kw)]
    assert len(C.DataLoader(Stream(7), **kw)) == len(T.DataLoader(TStream(7), **kw))
    assert list(Stream(2) + Stream(3)) == [0, 1, 0, 1, 2]


def test_dataset_combinations():
    a, b = C.TensorDataset(cgrad.arange(3)), C.TensorDataset(cgrad.arange(10, 15))
    cat = a + b
    assert len(cat) == 8 and cat[4][0].item() == 11 and cat[-1][0].item() == 14 and cat[2][0].item() == 2
    sub = C.Subset(cat, [7, 0, 3])
    assert [s[0].item() for s in sub] == [14, 0, 10] and len(sub) == 3
    stack = C.StackDataset(a, C.TensorDataset(cgrad.arange(3) * 2))
    assert [(u[0].item(), v[0].item()) for u, v in (stack[i] for i in range(3))] == [(0, 0), (1, 2), (2, 4)]
    named = C.StackDataset(x=a, y=a)
    assert sorted(named[1]) == ["x", "y"]
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        C.TensorDataset(cgrad.zeros(3), cgrad.zeros(4))
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        C.StackDataset(a, b)


def test_random_split():
    ds = C.TensorDataset(cgrad.arange(10))
    parts = C.random_split(ds, [3, 7])
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(i[0].item() for p in parts for i in p) == list(range(10))
    for fractions in ([0.3, 0.7], [0.25, 0.25, 0.5], [0.33, 0.33, 0.34]):
        assert [len(p) for p in C.random_split(ds, fractions)] == [len(p) for p in T.random_split(range(10),
                                                                                                   fractions)]
    g1, g2 = cgrad.Generator(), cgrad.Generator()
    g1.manual_seed(1), g2.manual_seed(1)
    assert C.random_split(ds, [5, 5], g1)[0].indices == C.random_split(ds, [5, 5], g2)[0].indices
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        C.random_split(C.TensorDataset(cgrad.arange(2)), [0.9, 0.1])
    for bad in ([3, 3], [0.5, 1.5]):
        with pytest.raises(ValueError) as t_err:
            T.random_split(range(10), bad)
        with pytest.raises(ValueError) as c_err:
            C.random_split(ds, bad)
        assert str(c_err.value) == str(t_err.value)


def loader_errors(lib):
    D = lib.utils.data
    ds = D.TensorDataset(lib.zeros(4))
    return [lambda: D.DataLoader(ds, num_workers=-1), lambda: D.DataLoader(ds, timeout=-1),
            lambda: D.DataLoader(ds, prefetch_factor=2), lambda: D.DataLoader(ds, persistent_workers=True),
            lambda: D.DataLoader(ds, sampler=[0], shuffle=True),
            lambda: D.DataLoader(ds, batch_sampler=[[0]], batch_size=2),
            lambda: D.DataLoader(ds, batch_size=None, drop_last=True),
            lambda: D.BatchSampler(range(3), 0, False), lambda: D.BatchSampler(range(3), 2, "no"),
            lambda: D.RandomSampler(range(3), replacement=1), lambda: D.RandomSampler(range(3), num_samples=0),
            lambda: D.WeightedRandomSampler([1.0], 0)]


@pytest.mark.parametrize("case", range(len(loader_errors(cgrad))))
def test_loader_errors_match_torch(case):
    with pytest.raises(Exception) as t_err:
        loader_errors(torch)[case]()
    with pytest.raises(type(t_err.value)) as c_err:
        loader_errors(cgrad)[case]()
    assert str(c_err.value) == str(t_err.value)


def test_workers_load_in_process_with_a_warning():
    ds = C.TensorDataset(cgrad.arange(6))
    with pytest.warns(UserWarning, match="loads the batches in this process"):
        loader = C.DataLoader(ds, batch_size=4, num_workers=2)
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]


def test_a_training_loop_over_a_loader():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]
    cgrad.manual_seed(0)
    model = cgrad.nn.Linear(3, 1)
    opt = cgrad.optim.SGD(model.parameters(), lr=0.1)
    loader = C.DataLoader(C.TensorDataset(cgrad.tensor(x), cgrad.tensor(y)), batch_size=16, shuffle=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(30):
            for xb, yb in loader:
                opt.zero_grad()
                cgrad.nn.functional.mse_loss(model(xb), yb).backward()
                opt.step()
    np.testing.assert_allclose(model.weight.detach().numpy(), [[1.0, -2.0, 0.5]], atol=1e-3)
