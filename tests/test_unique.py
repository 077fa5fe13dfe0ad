"""unique: distinct elements (or slices along a dim) in ascending order, the
inverse and the counts, against torch and numpy; NaN, -0.0, empty and 0-d
inputs; its missing derivative; and a recording that meets it."""
import numpy as np
import pytest

import cgrad
from helpers import assert_same_error

NAN = float("nan")

CASES = {
    "floats with NaN": lambda m: m.unique(m.tensor([NAN, 1.0, NAN, 2.0, 1.0]), return_inverse=True, return_counts=True),
    "integers": lambda m: m.unique(m.tensor([3, 1, 2, 1, 3]), return_inverse=True, return_counts=True),
    "unsorted asked": lambda m: m.unique(m.tensor([3.0, 1, 2, 1, 3]), sorted=False),
    "rows": lambda m: m.unique(m.tensor([[1, 2], [1, 2], [0, 5]]), dim=0, return_inverse=True, return_counts=True),
    "columns": lambda m: m.unique(m.tensor([[1, 2, 1], [3, 0, 3]]), dim=1, return_inverse=True, return_counts=True),
    "negative dim": lambda m: m.unique(m.tensor([[1, 2, 1], [3, 0, 3]]), dim=-1),
    "inverse in the input's shape": lambda m: m.unique(m.tensor([[1, 2, 1], [3, 0, 3]]), return_inverse=True),
    "0-d": lambda m: m.unique(m.tensor(5.0), return_inverse=True, return_counts=True),
    "empty": lambda m: m.unique(m.tensor([]), return_inverse=True, return_counts=True),
    "bools": lambda m: m.unique(m.tensor([True, False, True]), return_counts=True),
    "signed zeros": lambda m: m.unique(m.tensor([-0.0, 0.0]), return_counts=True),
    "rows with NaN": lambda m: m.unique(m.tensor([[NAN, 1.0], [NAN, 1.0]]), dim=0, return_counts=True),
    "method": lambda m: m.tensor([2.0, 1.0, 2.0]).unique(return_counts=True),
    "3-d along 0": lambda m: m.unique(m.tensor(np.array([[[1, 2], [1, 2]], [[0, 0], [1, 2]], [[1, 2], [1, 2]]])),
                                      dim=0, return_inverse=True, return_counts=True),
    "3-d along 1": lambda m: m.unique(m.tensor(np.array([[[1, 2], [1, 2], [0, 1]], [[0, 0], [0, 0], [5, 1]]])),
                                      dim=1, return_inverse=True, return_counts=True),
    "float32": lambda m: m.unique(m.tensor(np.array([0.1, 0.2, 0.1], dtype=np.float32))),
    "strided": lambda m: m.unique(m.tensor([[3.0, 1.0], [1.0, 2.0]]).t(), return_inverse=True),
    "large integers": lambda m: m.unique(m.tensor([2**62 + 1, 2**62, 2**62 + 1])),
}


def as_lists(r):
    rs = r if isinstance(r, tuple) else (r,)
    return [(np.asarray(t.tolist(), dtype=object).tolist(), str(t.dtype).split(".")[-1], tuple(t.shape)) for t in rs]


def same(a, b):
    return repr(a).replace("nan", "NaN") == repr(b).replace("nan", "NaN")


@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case):
    torch = pytest.importorskip("torch")
    ours, theirs = as_lists(CASES[case](cgrad)), as_lists(CASES[case](torch))
    assert same(ours, theirs), (ours, theirs)


@pytest.mark.parametrize("seed", range(5))
def test_random_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-3, 4, (6, 5)).astype(np.float64)
    for dim in (None, 0, 1):
        values, inverse, counts = cgrad.unique(cgrad.tensor(a), return_inverse=True, return_counts=True, dim=dim)
        v, i, c = np.unique(a, return_inverse=True, return_counts=True, axis=dim)
        np.testing.assert_array_equal(values.numpy(), v)
        np.testing.assert_array_equal(inverse.numpy(), i.reshape(inverse.numpy().shape))
        np.testing.assert_array_equal(counts.numpy(), c)


def test_no_derivative_as_in_torch():
    torch = pytest.importorskip("torch")
    for m in (cgrad, torch):
        x = m.tensor([1.0, 2.0, 1.0], requires_grad=True)
        for u in (m.unique(x), m.unique(x.reshape(3, 1), dim=0)):
            assert u.requires_grad
    assert_same_error(lambda m: m.unique(m.tensor([1.0, 2.0], requires_grad=True)).sum().backward())
    assert_same_error(lambda m: m.unique(m.tensor([[1.0, 2.0]], requires_grad=True), dim=1).sum().backward())


ERRORS = {
    "dim out of range": lambda m: m.unique(m.tensor([[1, 2], [1, 2]]), dim=2),
    "dim of a 0-d tensor": lambda m: m.unique(m.tensor(3), dim=0),
    "empty dims not selected": lambda m: m.unique(m.ones(2, 0), dim=0),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_match_torch(case):
    assert_same_error(ERRORS[case])


def test_a_recording_that_meets_unique_falls_back_to_eager():
    w = cgrad.tensor([1.0, 2.0, 2.0, 3.0], requires_grad=True)

    def step(x):
        return (cgrad.unique(x) * 2).sum() + (w * x).sum()

    x1, x2 = cgrad.tensor([1.0, 1.0, 2.0, 5.0]), cgrad.tensor([4.0, 4.0, 4.0, 4.0])
    compiled = cgrad.compile(step)
    with pytest.warns(UserWarning, match="unique"):
        for _ in range(3):
            assert compiled(x1).item() == 16.0 + 22.0
    assert compiled(x2).item() == 8.0 + 32.0
    strict = cgrad.compile(step, fullgraph=True)
    with pytest.raises(Exception, match="unique"):
        for _ in range(3):
            strict(x1)
