"""quantile, nanquantile, nanmedian, cov, corrcoef, bincount, histc,
unique_consecutive, scatter_reduce, prelu and the random fills exponential_,
cauchy_, geometric_, log_normal_ and random_: values, gradients, dims,
keepdim, NaNs, empty inputs and errors against torch; the fills by their
moments, support and dtypes."""
import warnings

import numpy as np
import pytest

import cgrad
from helpers import assert_same_error, assert_second_order_matches_torch, graph_of

torch = pytest.importorskip("torch")

NAN = float("nan")
DTYPES = ["float32", "float64"]


def _lib_tensor(lib, a, dtype, grad):
    t = lib.tensor(np.asarray(a), dtype=getattr(lib, dtype) if dtype else None)
    return t.requires_grad_() if grad else t


def compare(fn, *arrays, dtype="float64", grad=True, rtol=None, atol=None):
    """fn(lib, *tensors) for torch and cgrad: same shapes, dtypes, values
    and, for floating inputs, the same gradients of a weighted sum."""
    rtol = rtol if rtol is not None else (1e-5 if dtype == "float32" else 1e-10)
    atol = atol if atol is not None else (1e-6 if dtype == "float32" else 1e-12)
    results = {}
    for lib in (torch, cgrad):
        floating = [np.asarray(a).dtype.kind == "f" for a in arrays]
        ts = [_lib_tensor(lib, a, dtype if f else None, grad and f) for a, f in zip(arrays, floating)]
        out = fn(lib, *ts)
        outs = out if isinstance(out, tuple) else (out,)
        values = [o.detach().numpy() for o in outs]
        grads = []
        if grad and outs[0].requires_grad:
            w = np.random.default_rng(3).uniform(0.5, 1.5, tuple(outs[0].shape))
            (outs[0] * lib.tensor(w).to(outs[0].dtype)).sum().backward()
            grads = [t.grad.numpy() if t.grad is not None else None for t, f in zip(ts, floating) if f]
        results[lib] = (values, [str(o.dtype).split(".")[-1] for o in outs], grads)
    (tv, tdt, tg), (cv, cdt, cg) = results[torch], results[cgrad]
    assert tdt == cdt
    for a, b in zip(tv, cv):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, equal_nan=True)
    assert len(tg) == len(cg)
    for a, b in zip(tg, cg):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, equal_nan=True)


def data(shape, seed=0, nan_at=()):
    a = np.random.default_rng(seed).standard_normal(shape)
    for i in nan_at:
        a[i] = NAN
    return a


# ---- quantile, nanquantile --------------------------------------------------------------------

INTERPOLATIONS = ["linear", "lower", "higher", "midpoint", "nearest"]
DIMS = [(None, False), (None, True), (0, False), (1, True), (-1, False), (-2, True)]


@pytest.mark.parametrize("fname", ["quantile", "nanquantile"])
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("dim,keepdim", DIMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_quantile_values_and_gradients(fname, interpolation, dim, keepdim, dtype):
    x = data((4, 5), nan_at=[(1, 2), (3, 0)])
    for q in (0.3, 0.0, 1.0, [0.0, 0.25, 0.5, 0.9, 1.0]):
        def fn(lib, t, q=q):
            qq = lib.tensor(q, dtype=t.dtype) if isinstance(q, list) else q
            return getattr(t, fname)(qq, dim, keepdim, interpolation=interpolation)
        compare(fn, x, dtype=dtype)


@pytest.mark.parametrize("fname", ["quantile", "nanquantile"])
def test_quantile_ties_exact_ranks_and_functions(fname):
    x = np.array([[1.0, 1.0, 2.0, 2.0, 2.0], [3.0, 0.0, 3.0, 0.0, 3.0]])
    for q in ([0.5, 0.25, 0.75, 1 / 3], 0.125):
        compare(lambda lib, t, q=q: getattr(lib, fname)(
            t, lib.tensor(q, dtype=t.dtype) if isinstance(q, list) else q, dim=1), x)
    compare(lambda lib, t: getattr(lib, fname)(t, 0.5), x)
    compare(lambda lib, t: getattr(t, fname)(lib.tensor(0.4, dtype=t.dtype), 0), x)  # 0-d q


def test_quantile_nan_slices():
    x = np.array([[NAN, NAN, NAN], [1.0, NAN, 3.0], [4.0, 5.0, 6.0]])
    for fname in ("quantile", "nanquantile"):
        for interpolation in INTERPOLATIONS:
            compare(lambda lib, t: getattr(t, fname)(0.4, 1, interpolation=interpolation), x)


def test_quantile_0d_and_one_element():
    compare(lambda lib, t: t.quantile(0.3), np.array(2.0))
    compare(lambda lib, t: t.quantile(0.3, 0, True), np.array(2.0))
    compare(lambda lib, t: t.nanquantile(0.7, -1), np.array([[2.0], [3.0]]))


@pytest.mark.parametrize("case", [
    lambda m: m.randn(3).quantile(1.5),
    lambda m: m.randn(3).nanquantile(-0.1),
    lambda m: m.randn(3).quantile(NAN),
    lambda m: m.randn(3).quantile(m.tensor([0.2, 1.5])),
    lambda m: m.randn(3).quantile(m.tensor([0.2, 0.5], dtype=m.float64)),
    lambda m: m.randn(3).quantile(m.tensor([[0.2, 0.5]])),
    lambda m: m.tensor([1, 2]).quantile(0.5),
    lambda m: m.tensor([]).quantile(0.5),
    lambda m: m.zeros(2, 0).nanquantile(0.5, dim=0),
    lambda m: m.randn(3).quantile(0.5, interpolation="foo"),
    lambda m: m.randn(3, 2).quantile(0.5, dim=2),
    lambda m: m.randn(3, 2).quantile(0.5, dim=-3),
], ids=["q>1", "q<0", "q nan", "tensor q out of range", "q dtype", "2-d q", "int input", "empty",
        "empty along dim", "interpolation", "dim", "negative dim"])
def test_quantile_errors(case):
    assert_same_error(case)


# ---- nanmedian ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_nanmedian_all(dtype):
    compare(lambda lib, t: t.nanmedian(), data((3, 4), nan_at=[(0, 1), (2, 2)]), dtype=dtype)
    compare(lambda lib, t: lib.nanmedian(t), np.array([2.0, NAN, 1.0, 2.0, 2.0, 3.0]), dtype=dtype)  # ties share
    compare(lambda lib, t: t.nanmedian(), np.array([NAN, NAN]), dtype=dtype)
    compare(lambda lib, t: t.nanmedian(), np.array([]), dtype=dtype)


@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False), (-2, True)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nanmedian_dim(dim, keepdim, dtype):
    x = np.array([[1.0, NAN, 1.0, 1.0], [2.0, 2.0, NAN, NAN], [3.0, 1.0, 2.0, 0.0], [1.0, 3.0, 1.0, 3.0]])
    compare(lambda lib, t: tuple(t.nanmedian(dim, keepdim)), x, dtype=dtype)
    compare(lambda lib, t: tuple(lib.nanmedian(t, dim, keepdim=keepdim)), data((5, 6), 1, [(0, 0), (4, 5)]),
            dtype=dtype)


def test_nanmedian_shapes_and_types():
    compare(lambda lib, t: tuple(t.nanmedian(0)), np.array(5.0))
    compare(lambda lib, t: tuple(t.nanmedian(1)), np.zeros((0, 3)))
    compare(lambda lib, t: tuple(t.nanmedian(0)), np.array([3, 1, 2]))
    compare(lambda lib, t: t.nanmedian(), np.array([3, 1, 2]))
    r = cgrad.tensor([[1.0, NAN, 2.0]]).nanmedian(1)
    assert type(r).__name__ == "nanmedian" and r.values.tolist() == [1.0] and r.indices.tolist() == [0]
    assert cgrad.tensor([[NAN, NAN]]).nanmedian(1).indices.tolist() == [0]


@pytest.mark.parametrize("n", [4, 5, 6, 7, 9, 13, 20, 33, 100, 257])
def test_nanmedian_of_nan_slices_picks_torchs_index(n):
    """A slice of NaNs only: NaN, at the index torch's selection leaves, and
    the gradient goes there; other slices are unchanged."""
    x = np.full((3, n, 2), NAN)
    x[1, :, 1] = np.arange(n) % 3  # ties
    x[2, : n // 2, 0] = 1.0
    for dim, keepdim in ((1, False), (-2, True)):
        compare(lambda lib, t: tuple(t.nanmedian(dim, keepdim)), x)
        compare(lambda lib, t: tuple(lib.nanmedian(t.transpose(0, 1), 0, keepdim)), x, dtype="float32")
    compare(lambda lib, t: tuple(t.nanmedian(0)), np.full(n, NAN))


@pytest.mark.parametrize("case", [
    lambda m: m.zeros(2, 0).nanmedian(1),
    lambda m: m.zeros(2, 3).nanmedian(2),
    lambda m: m.tensor([True]).nanmedian(),
    lambda m: m.tensor([True]).nanmedian(0),
    lambda m: m.zeros(3).nanmedian(keepdim=True),
])
def test_nanmedian_errors(case):
    assert_same_error(case)


# ---- cov, corrcoef -----------------------------------------------------------------------------

WEIGHTS = [{}, {"correction": 0}, {"correction": 2}, {"fweights": [1, 2, 0, 3, 1, 1]},
           {"aweights": [0.5, 0.1, 0.9, 0.3, 0.2, 0.7]},
           {"fweights": [1, 2, 0, 3, 1, 1], "aweights": [0.5, 0.1, 0.9, 0.3, 0.2, 0.7], "correction": 0},
           {"fweights": [1, 2, 0, 3, 1, 1], "aweights": [0.5, 0.1, 0.9, 0.3, 0.2, 0.7]}]


@pytest.mark.parametrize("kwargs", WEIGHTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cov(kwargs, dtype):
    def fn(lib, t):
        kw = {k: (lib.tensor(v, dtype=t.dtype) if k == "aweights" else lib.tensor(v)) if isinstance(v, list) else v
              for k, v in kwargs.items()}
        return lib.cov(t, **kw)
    compare(fn, data((3, 6)), dtype=dtype)
    compare(lambda lib, t: fn(lib, t), data((6,), 2), dtype=dtype)


def test_cov_integers_one_row_and_degenerate():
    compare(lambda lib, t: t.cov(), np.array([1, 2, 4]), rtol=1e-6)
    compare(lambda lib, t: t.cov(correction=0), data((1, 4)))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = cgrad.cov(cgrad.randn(2, 1))
    assert np.isnan(out.numpy()).all() and "degrees of freedom is <= 0" in str(w[0].message)


@pytest.mark.parametrize("case", [
    lambda m: m.cov(m.zeros(2, 2, 2)),
    lambda m: m.cov(m.tensor([True])),
    lambda m: m.cov(m.randn(2, 3), fweights=m.tensor([1.0, 2, 3])),
    lambda m: m.cov(m.randn(2, 3), fweights=m.tensor([1, 2])),
    lambda m: m.cov(m.randn(2, 3), fweights=m.tensor([[1, 2, 1]])),
    lambda m: m.cov(m.randn(2, 3), fweights=m.tensor([1, -2, 1])),
    lambda m: m.cov(m.randn(2, 3), aweights=m.tensor([1, 2, 1])),
    lambda m: m.cov(m.randn(2, 3), aweights=m.tensor([1.0, -2, 1])),
    lambda m: m.cov(m.randn(2, 3), aweights=m.tensor([0.0, 0, 0])),
    lambda m: m.cov(m.randn(2, 3), correction=0.5),
    lambda m: m.corrcoef(m.zeros(2, 2, 2)),
])
def test_cov_errors(case):
    assert_same_error(case)


@pytest.mark.parametrize("shape", [(6,), (1, 6), (4, 5)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_corrcoef(shape, dtype):
    compare(lambda lib, t: lib.corrcoef(t), data(shape, 4), dtype=dtype, rtol=1e-4 if dtype == "float32" else None,
            atol=1e-5 if dtype == "float32" else None)
    compare(lambda lib, t: t.corrcoef(), np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]]), dtype=dtype)


def test_corrcoef_is_clipped_to_one():
    rng = np.random.default_rng(0)
    for _ in range(20):  # rows proportional to each other: rounding alone would pass 1 on some
        a = rng.standard_normal(5)
        x = cgrad.tensor(np.stack([a, a * rng.uniform(0.1, 3)]), dtype=cgrad.float32)
        assert np.abs(cgrad.corrcoef(x).numpy()).max() <= 1.0


# ---- bincount, histc, unique_consecutive -----------------------------------------------------

def test_bincount():
    i = np.array([1, 3, 3, 0, 7])
    compare(lambda lib, t: lib.bincount(t), i)
    compare(lambda lib, t: t.bincount(minlength=10), i)
    compare(lambda lib, t, w: lib.bincount(t, w, minlength=2), i, data((5,)), grad=False)
    compare(lambda lib, t, w: t.bincount(w), i, np.array([1, 2, 3, 4, 5]))
    compare(lambda lib, t: lib.bincount(t, minlength=3), np.array([], dtype=np.int64))
    for dtype in DTYPES:
        compare(lambda lib, t, w: lib.bincount(t, w), i, data((5,)).astype(dtype), dtype=dtype, grad=False)
    w = cgrad.tensor([1.0, 2.0], requires_grad=True)
    assert not cgrad.bincount(cgrad.tensor([0, 1]), w).requires_grad


@pytest.mark.parametrize("case", [
    lambda m: m.bincount(m.tensor([1.0, 2])),
    lambda m: m.bincount(m.tensor([True])),
    lambda m: m.bincount(m.tensor([[1, 2]])),
    lambda m: m.bincount(m.tensor([-1, 2])),
    lambda m: m.bincount(m.tensor([1, 2]), minlength=-1),
    lambda m: m.bincount(m.tensor([1, 2]), weights=m.tensor([1.0, 2, 3])),
])
def test_bincount_errors(case):
    assert_same_error(case)


@pytest.mark.parametrize("dtype", DTYPES)
def test_histc(dtype):
    compare(lambda lib, t: t.histc(), data((1000,)), dtype=dtype, grad=False)
    compare(lambda lib, t: lib.histc(t, bins=7), data((10, 10), 1), dtype=dtype, grad=False)
    compare(lambda lib, t: lib.histc(t, bins=5, min=-1, max=1), data((1000,), 2), dtype=dtype, grad=False)
    x = np.array([0.0, 1, 2, 3, 4, 5, 6, NAN])  # edges, the right end, NaN and values outside
    for kw in ({"bins": 6, "min": 0, "max": 6}, {"bins": 7, "min": 1, "max": 5}, {"bins": 10, "min": 0.1, "max": 0.7}):
        compare(lambda lib, t: t.histc(**kw), x, dtype=dtype, grad=False)
    for bins in (3, 7, 10, 13, 100):
        compare(lambda lib, t: t.histc(bins), np.linspace(0, 1, 101), dtype=dtype, grad=False)
        compare(lambda lib, t: t.histc(bins, 0.05, 0.95), np.linspace(0, 1, 101), dtype=dtype, grad=False)
    compare(lambda lib, t: t.histc(4), np.array([1.0, 1.0]), dtype=dtype, grad=False)  # min = max: widened by 1
    compare(lambda lib, t: t.histc(4), np.array([]), dtype=dtype, grad=False)
    assert not cgrad.tensor([1.0], requires_grad=True).histc(3).requires_grad


@pytest.mark.parametrize("case", [
    lambda m: m.histc(m.tensor([1, 2])),
    lambda m: m.histc(m.tensor([1.0, 2]), bins=0),
    lambda m: m.histc(m.tensor([1.0, 2]), bins=4.5),
    lambda m: m.histc(m.tensor([1.0, 2]), min=3, max=1),
    lambda m: m.histc(m.tensor([1.0, NAN])),
    lambda m: m.histc(m.tensor([1.0, float("inf")])),
    lambda m: m.histc(m.tensor([1.0, 2]), min=float("-inf"), max=1),
])
def test_histc_errors(case):
    assert_same_error(case)


UC_INPUTS = [np.array([1.0, 1, 2, 2, 2, 1, NAN, NAN]), np.array(3.0), np.array([]),
             np.array([[1, 1], [1, 1], [2, 3], [1, 1]]), np.zeros((0, 2)),
             np.array([[1.0, NAN], [1.0, NAN], [0.0, 0.0]])]


@pytest.mark.parametrize("x", UC_INPUTS, ids=["nan", "0-d", "empty", "rows", "empty rows", "nan rows"])
@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("counts", [False, True])
def test_unique_consecutive(x, inverse, counts):
    compare(lambda lib, t: t.unique_consecutive(inverse, counts), x, grad=False)
    compare(lambda lib, t: lib.unique_consecutive(t, return_inverse=inverse, return_counts=counts), x, grad=False)
    for d in range(-x.ndim, x.ndim):
        if x.size == 0 and x.shape[d]:
            continue  # torch refuses: test_unique_consecutive_errors
        compare(lambda lib, t: t.unique_consecutive(inverse, counts, dim=d), x, grad=False)


@pytest.mark.parametrize("case", [
    lambda m: m.tensor([1.0, 1, 2]).unique_consecutive(dim=3),
    lambda m: m.tensor(3.0).unique_consecutive(dim=0),
    lambda m: m.zeros(2, 0).unique_consecutive(dim=0),
])
def test_unique_consecutive_errors(case):
    assert_same_error(case)


# ---- scatter_reduce ----------------------------------------------------------------------------

REDUCES = ["sum", "prod", "mean", "amax", "amin"]
SCATTER_SHAPES = [((4, 5), 0, (6, 5)), ((4, 5), 1, (4, 7)), ((3, 4, 2), -2, (3, 6, 2)), ((5,), 0, (8,)),
                  ((5, 3), 0, (4, 2))]


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("xshape,dim,ishape", SCATTER_SHAPES)
def test_scatter_reduce(reduce, include_self, dtype, ties, xshape, dim, ishape):
    rng = np.random.default_rng(5)
    draw = (lambda s: rng.integers(0, 3, s).astype(float)) if ties else rng.standard_normal
    x, src, index = draw(xshape), draw(ishape), rng.integers(0, xshape[dim], ishape)
    if ties and reduce == "prod":
        src[0] = 0.0  # zeros in the product
    compare(lambda lib, t, i, s: t.scatter_reduce(dim, i, s, reduce, include_self=include_self), x, index, src,
            dtype=dtype)


def test_scatter_reduce_src_beyond_index_and_forms():
    # torch's backward refuses a src larger than index for sum and mean; its elements beyond take no part
    x = cgrad.zeros(3, 4, requires_grad=True)
    src = cgrad.ones(3, 4, requires_grad=True)
    out = cgrad.scatter_reduce(x, 0, cgrad.tensor([[0, 1, 2, 0]]), src, "sum")
    assert out.grad_fn.name() == "ScatterReduceBackward0"
    out.sum().backward()
    assert src.grad.tolist() == [[1.0] * 4, [0.0] * 4, [0.0] * 4]
    compare(lambda lib, t, i, s: t.clone().scatter_reduce_(0, i, s, "amax"), data((4, 3)),
            np.array([[0, 1, 0], [3, 3, 3]]), data((2, 3), 1))
    compare(lambda lib, t, i, s: lib.scatter_reduce(t, 0, i, s, reduce="mean", include_self=False),
            data(()), np.array(0), data((), 2))


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_nan(reduce, include_self):
    x = np.array([[NAN, 1.0, 2.0], [3.0, 4.0, 5.0]])
    src = np.array([[1.0, NAN, 7.0], [0.5, 9.0, NAN], [2.0, 3.0, 1.0]])
    index = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 0]])
    compare(lambda lib, t, i, s: t.scatter_reduce(0, i, s, reduce, include_self=include_self), x, index, src,
            grad=False)


@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce_large(reduce):
    # 200000 values into 100000 positions: linear work, not one comparison per pair
    rng = np.random.default_rng(11)
    x, src = rng.uniform(0.5, 1.5, 100000), rng.uniform(0.5, 1.5, 200000)
    index = rng.integers(0, 100000, 200000)
    compare(lambda lib, t, i, s: t.scatter_reduce(0, i, s, reduce, include_self=False), x, index, src)


def test_scatter_reduce_in_place_on_a_view():
    def fn(lib, t):
        base = t * 1
        base[:, :2].scatter_reduce_(0, lib.tensor([[1, 0]]), lib.tensor([[7.0, 0.5]], dtype=t.dtype), "amax")
        return base
    compare(fn, np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))


def test_scatter_reduce_integers_and_bools():
    rng = np.random.default_rng(6)
    x, s, i = rng.integers(-5, 5, (4, 5)), rng.integers(-5, 5, (6, 5)), rng.integers(0, 4, (6, 5))
    for reduce in REDUCES:
        for include_self in (True, False):
            compare(lambda lib, t, ii, ss: t.scatter_reduce(0, ii, ss, reduce, include_self=include_self), x, i, s)
    for reduce in ("sum", "prod", "amax", "amin"):
        b = [True, False, False]
        ours = cgrad.tensor(b).scatter_reduce(0, cgrad.tensor([1, 1]), cgrad.tensor([True, False]), reduce)
        theirs = torch.tensor(b).scatter_reduce(0, torch.tensor([1, 1]), torch.tensor([True, False]), reduce)
        assert ours.tolist() == theirs.tolist()


@pytest.mark.parametrize("case", [
    lambda m: m.zeros(3, 4).scatter_reduce(0, m.tensor([[0, 1, 2, 0]]), m.ones(3, 4).double(), "sum"),
    lambda m: m.zeros(3, 4).scatter_reduce(0, m.tensor([[0.0, 1, 2, 0]]), m.ones(3, 4), "sum"),
    lambda m: m.zeros(3, 4).scatter_reduce(0, m.tensor([[5, 1, 2, 0]]), m.ones(3, 4), "prod"),
    lambda m: m.zeros(3, 4).scatter_reduce(0, m.tensor([[-1, 1, 2, 0]]), m.ones(3, 4), "amax"),
    lambda m: m.zeros(3, 4).scatter_reduce(0, m.zeros(3, 5, dtype=m.int64), m.ones(3, 4), "sum"),
    lambda m: m.zeros(3, 4).scatter_reduce(0, m.zeros(3, dtype=m.int64), m.ones(3, 4), "sum"),
    lambda m: m.zeros(3, 4).scatter_reduce(2, m.tensor([[0, 1, 2, 0]]), m.ones(3, 4), "sum"),
    lambda m: m.zeros(3, 4).scatter_reduce(0, m.tensor([[0, 1, 2, 0]]), m.ones(3, 4), "foo"),
    lambda m: m.zeros(3, 4).requires_grad_().scatter_reduce_(0, m.tensor([[0, 1, 2, 0]]), m.ones(3, 4), "sum"),
])
def test_scatter_reduce_errors(case):
    assert_same_error(case)


# ---- prelu -------------------------------------------------------------------------------------

@pytest.mark.parametrize("xshape,wshape", [((2, 3, 4), (3,)), ((2, 3, 4), (1,)), ((5,), (1,)), ((), (1,)),
                                           ((), ()), ((4, 3), (3,)), ((2, 3), ())])
@pytest.mark.parametrize("dtype", DTYPES)
def test_prelu(xshape, wshape, dtype):
    x = data(xshape, 7)
    if x.ndim:
        x.reshape(-1)[0] = 0.0  # x = 0 takes the slope, as torch's x > 0 test says
    w = np.random.default_rng(8).uniform(0.1, 0.9, wshape)
    compare(lambda lib, t, u: lib.prelu(t, u), x, w, dtype=dtype)
    compare(lambda lib, t, u: t.prelu(u), x, w, dtype=dtype)
    compare(lambda lib, t, u: lib.nn.functional.prelu(t, u), x, w, dtype=dtype)


def test_prelu_module():
    m, tm = cgrad.nn.PReLU(3, init=0.1), torch.nn.PReLU(3, init=0.1)
    assert repr(m) == repr(tm) and m.weight.tolist() == pytest.approx(tm.weight.tolist())
    x = data((2, 3, 2))
    out, t_out = m(cgrad.tensor(x, dtype=cgrad.float32)), tm(torch.tensor(x, dtype=torch.float32))
    out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5)
    assert [n for n, _ in cgrad.nn.PReLU().named_parameters()] == ["weight"]


@pytest.mark.parametrize("case", [
    lambda m: m.prelu(m.randn(2, 3, 4), m.ones(4)),
    lambda m: m.prelu(m.randn(2, 3, 4), m.ones(2, 3)),
    lambda m: m.prelu(m.randn(4), m.ones(4)),
    lambda m: m.prelu(m.tensor(-2.0), m.ones(2)),
    lambda m: m.prelu(m.tensor([-2]), m.ones(1, dtype=m.int64)),
    lambda m: m.prelu(m.tensor([-2.0]), m.ones(1, dtype=m.float64)),
    lambda m: m.prelu(m.randn(2), 0.25),
])
def test_prelu_errors(case):
    assert_same_error(case)


# ---- random fills ------------------------------------------------------------------------------

def gen(seed):
    return cgrad.Generator().manual_seed(seed)


N = 200000


@pytest.mark.parametrize("dtype", DTYPES)
def test_exponential_moments(dtype):
    x = cgrad.empty(N, dtype=getattr(cgrad, dtype))
    assert x.exponential_(2.0, generator=gen(0)) is x and x.dtype == getattr(cgrad, dtype)
    v = x.numpy().astype(np.float64)
    assert v.min() >= 0 and abs(v.mean() - 0.5) < 0.005 and abs(v.var() - 0.25) < 0.01
    assert abs(cgrad.empty(N).exponential_(generator=gen(1)).numpy().mean() - 1.0) < 0.01


@pytest.mark.parametrize("dtype", DTYPES)
def test_cauchy_quantiles(dtype):
    v = cgrad.empty(N, dtype=getattr(cgrad, dtype)).cauchy_(1.0, 2.0, generator=gen(2)).numpy()
    # median 1; quartiles at median -+ sigma
    assert abs(np.median(v) - 1.0) < 0.03 and abs(np.percentile(v, 75) - 3.0) < 0.06
    assert abs(np.percentile(v, 25) + 1.0) < 0.06


@pytest.mark.parametrize("dtype", DTYPES + ["int64"])
def test_geometric_moments_and_support(dtype):
    v = cgrad.empty(N, dtype=getattr(cgrad, dtype)).geometric_(0.25, generator=gen(3)).numpy()
    assert v.min() >= 1 and (v == np.round(v)).all()
    assert abs(v.mean() - 4.0) < 0.05 and abs(v.var() - 12.0) < 0.5  # (1 - p) / p^2


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_normal_moments(dtype):
    v = cgrad.empty(N, dtype=getattr(cgrad, dtype)).log_normal_(0.5, 0.3, generator=gen(4)).numpy()
    logs = np.log(v.astype(np.float64))
    assert v.min() > 0 and abs(logs.mean() - 0.5) < 0.005 and abs(logs.std() - 0.3) < 0.005
    assert abs(np.log(cgrad.empty(N).log_normal_(generator=gen(5)).numpy()).mean() - 1.0) < 0.02


def test_random_ranges():
    g = gen(6)
    assert sorted(set(cgrad.empty(10000, dtype=cgrad.int64).random_(-5, 5, generator=g).tolist())) == list(range(-5, 5))
    assert sorted(set(cgrad.empty(10000).random_(3, generator=g).tolist())) == [0.0, 1.0, 2.0]
    assert sorted(set(cgrad.empty(10000).random_(to=2, generator=g).tolist())) == [0.0, 1.0]
    assert sorted(set(cgrad.empty(1000, dtype=cgrad.bool).random_(generator=g).tolist())) == [False, True]
    v = cgrad.empty(N).random_(generator=g).numpy()  # [0, 2^24] for float32
    assert v.min() >= 0 and v.max() <= 2 ** 24 and abs(v.mean() / 2 ** 23 - 1) < 0.01
    v = cgrad.empty(N, dtype=cgrad.float64).random_(generator=g).numpy()
    assert v.max() <= 2 ** 53 and abs(v.mean() / 2 ** 52 - 1) < 0.01
    v = cgrad.empty(N, dtype=cgrad.int64).random_(generator=g).numpy()  # [0, 2^63 - 1]
    assert v.min() >= 0 and abs(v.astype(np.float64).mean() / 2 ** 62 - 1) < 0.01
    v = cgrad.empty(N, dtype=cgrad.int64).random_(-3, None, generator=g).numpy()
    assert v.min() >= -3 and v.astype(np.float64).mean() > 2 ** 61
    v = cgrad.empty(N, dtype=cgrad.int64).random_(10, 14, generator=g).numpy()
    assert np.bincount(v - 10).tolist() == pytest.approx([N / 4] * 4, rel=0.03)


def test_fills_generators_and_autograd():
    for fill, args in (("exponential_", ()), ("cauchy_", ()), ("geometric_", (0.3,)), ("log_normal_", ()),
                       ("random_", (0, 100))):
        a = getattr(cgrad.empty(50), fill)(*args, generator=gen(9)).tolist()
        assert a == getattr(cgrad.empty(50), fill)(*args, generator=gen(9)).tolist()
        assert a != getattr(cgrad.empty(50), fill)(*args, generator=gen(10)).tolist()
        leaf = cgrad.zeros(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            getattr(leaf, fill)(*args)
        y = leaf * 2
        getattr(y, fill)(*args)
        y.sum().backward()  # the gradient stops at the fill
        assert leaf.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("case", [
    lambda m: m.zeros(3).exponential_(-1),
    lambda m: m.zeros(3).exponential_(0),
    lambda m: m.zeros(3, dtype=m.int64).exponential_(),
    lambda m: m.zeros(3, dtype=m.bool).exponential_(),
    lambda m: m.zeros(3).cauchy_(0, -1),
    lambda m: m.zeros(3).cauchy_(0, 0),
    lambda m: m.zeros(3, dtype=m.int64).cauchy_(),
    lambda m: m.zeros(3, dtype=m.bool).cauchy_(),
    lambda m: m.zeros(3).geometric_(0),
    lambda m: m.zeros(3).geometric_(1),
    lambda m: m.zeros(3).geometric_(1.5),
    lambda m: m.zeros(3).geometric_(),
    lambda m: m.zeros(3, dtype=m.bool).geometric_(0.5),
    lambda m: m.zeros(3).log_normal_(1, 0),
    lambda m: m.zeros(3).log_normal_(1, -1),
    lambda m: m.zeros(3, dtype=m.int64).log_normal_(),
    lambda m: m.zeros(3).random_(5, 3),
    lambda m: m.zeros(3).random_(3, 3),
    lambda m: m.zeros(3).random_(-3),
    lambda m: m.zeros(3).random_(2 ** 25, None),
    lambda m: m.zeros(3, dtype=m.bool).random_(3),
    lambda m: m.zeros(3, dtype=m.int64).random_(2 ** 64),
])
def test_fill_errors(case):
    assert_same_error(case)


def test_random_type_errors_and_warning():
    for bad in (lambda t: t.random_(1.5), lambda t: t.random_(**{"from": 2})):
        with pytest.raises(TypeError):
            bad(cgrad.zeros(3))
        with pytest.raises(TypeError):
            bad(torch.zeros(3))
    with pytest.warns(UserWarning, match=r"to - 1 is out of bounds \[-\(2\^24\), 2\^24\]"):
        cgrad.zeros(3).random_(0, 2 ** 25)


# ---- grad_fn names and second derivatives ----------------------------------------------------

NAMED = {
    "nanmedian()": lambda m, x: x.nanmedian(),
    "nanmedian(dim)": lambda m, x: x.nanmedian(1).values,
    "nanmedian(dim, keepdim)": lambda m, x: m.nanmedian(x, 0, True).values,
    "prelu": lambda m, x: m.prelu(x, m.tensor([0.25], dtype=x.dtype)),
    "scatter_reduce": lambda m, x: x.scatter_reduce(0, m.tensor([[0, 1, 2, 0]]), x[:1] * 2, "amin"),
    "cov": lambda m, x: x.cov(),
    "corrcoef": lambda m, x: x.corrcoef(),
}


@pytest.mark.parametrize("name", NAMED)
def test_grad_fn_names_are_torchs(name):
    ours = NAMED[name](cgrad, cgrad.randn(3, 4, requires_grad=True)).grad_fn.name()
    theirs = NAMED[name](torch, torch.randn(3, 4, requires_grad=True)).grad_fn.name()
    assert ours == theirs


SECOND_ORDER = {
    "quantile": lambda m, x: x.quantile(m.tensor([0.3, 0.6], dtype=x.dtype), 1) * x.sum(),
    "nanquantile": lambda m, x: x.nanquantile(0.7, 0, interpolation="midpoint") * x.sum(),
    "nanmedian": lambda m, x: x.nanmedian(1).values * x.sum() + x.nanmedian(),
    "cov": lambda m, x: m.cov(x, aweights=x[0].abs()),
    "corrcoef": lambda m, x: m.corrcoef(x),
    "prelu": lambda m, x: m.prelu(x, x[0, :1]),
}
SECOND_ORDER.update({f"scatter_reduce {r} {inc}": (
    lambda m, x, r=r, inc=inc: x.scatter_reduce(1, m.tensor([[0, 1, 1, 3], [2, 2, 2, 0], [1, 0, 3, 3]]), x * x, r,
                                                include_self=inc)) for r in REDUCES for inc in (True, False)})


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_derivatives_match_torch(name):
    assert_second_order_matches_torch(SECOND_ORDER[name])


NONCONTIGUOUS = {
    "quantile": lambda m, t: t.T.quantile(m.tensor([0.2, 0.7], dtype=t.dtype), 0),
    "nanquantile": lambda m, t: t[:, ::2].nanquantile(0.4, 1, True),
    "nanmedian": lambda m, t: t.T.nanmedian(1).values + t[:, ::2].nanmedian(),
    "cov": lambda m, t: t.T.cov(),
    "corrcoef": lambda m, t: t[:, ::2].corrcoef(),
    "prelu": lambda m, t: m.prelu(t.T[None], m.tensor([0.1, 0.2, 0.3, 0.4, 0.5], dtype=t.dtype)),
    "scatter_reduce": lambda m, t: t.T.scatter_reduce(0, m.tensor([[0, 2, 1, 4], [4, 4, 0, 1]]).T, t[:, 1:3], "amax",
                                                      include_self=False),
}


@pytest.mark.parametrize("name", NONCONTIGUOUS)
def test_noncontiguous_inputs(name):
    compare(NONCONTIGUOUS[name], data((4, 5), 12, [(1, 1)]) if "nan" in name else data((4, 5), 12))


def _node_chain(node, depth=6):
    names = []
    while node is not None and depth:
        names.append(node.name().replace("torch::autograd::", ""))
        node = next((f for f, _ in node.next_functions if f is not None), None)
        depth -= 1
    return names


@pytest.mark.parametrize("fname", ["quantile", "nanquantile"])
@pytest.mark.parametrize("q", [0.3, [0.2, 0.6]], ids=["number", "tensor"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_quantile_records_torchs_nodes(fname, q, dim, keepdim):
    """The ops of torch's quantile in its order: sort, view, gather, lerp_,
    then squeeze_ (SqueezeBackward4), the quantiles' dim first."""
    out = []
    for lib in (cgrad, torch):
        x = lib.arange(24.0, dtype=lib.float64).reshape(2, 3, 4).sin().requires_grad_(True)
        qq = lib.tensor(q, dtype=lib.float64) if isinstance(q, list) else q
        r = getattr(x, fname)(qq, dim, keepdim)
        r.sum().backward()
        out.append((_node_chain(r.grad_fn), tuple(r.shape), r.detach().numpy(), x.grad.numpy()))
    assert out[0][:2] == out[1][:2]
    for ours, theirs in zip(out[0][2:], out[1][2:]):  # sin may differ from torch's in the last bit
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("kwargs", [{}, {"dim": 0}, {"return_inverse": True, "return_counts": True},
                                    {"dim": 1, "return_counts": True}])
def test_unique_consecutive_records_a_node_whose_backward_fails(kwargs):
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([[1.0, 1.0], [1.0, 1.0], [2.0, 3.0]], requires_grad=True)
        r = lib.unique_consecutive(x, **kwargs)
        r = r[0] if isinstance(r, tuple) else r
        with pytest.raises(NotImplementedError) as info:
            r.sum().backward()
        with lib.no_grad():
            plain = lib.unique_consecutive(x, **kwargs)
        plain = plain[0] if isinstance(plain, tuple) else plain
        out.append((r.grad_fn.name(), r.requires_grad, len(r.grad_fn.next_functions), str(info.value),
                    plain.grad_fn, plain.requires_grad))
    assert out[0] == out[1]


@pytest.mark.parametrize("call", [
    lambda m, x, w: m.prelu(x, w[:1]),
    lambda m, x, w: m.prelu(x.reshape(2, 3, 2), w[:3]),
    lambda m, x, w: m.prelu(x[0], w[:1]),
    lambda m, x, w: m.prelu(x[0, 0], w[0]),
    lambda m, x, w: x.nanmedian(1).values,
    lambda m, x, w: x.nanmedian(0, keepdim=True)[0],
    lambda m, x, w: x.scatter_reduce(1, m.tensor([[0, 0, 2], [1, 1, 1]]), w.reshape(2, 3), "amax"),
    lambda m, x, w: x.scatter_reduce(0, m.tensor([[1, 0, 1, 0]]), w[:4].reshape(1, 4), "prod", include_self=False),
])
def test_custom_nodes_have_torchs_edges(call):
    """prelu views its weight as torch's does; nanmedian's and scatter_reduce's
    nodes have edges for their differentiable inputs only, as torch's."""
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([[0.5, -1.0, 2.0, -0.75], [3.0, 0.25, -2.0, 1.5], [-1.5, 1.25, -0.5, 4.0]],
                       dtype=lib.float64, requires_grad=True)
        w = lib.tensor([0.25, 0.5, 0.75, 1.25, 1.5, 1.75], dtype=lib.float64, requires_grad=True)
        r = call(lib, x * 1, w * 1)
        r.sum().backward()
        out.append((graph_of(r.grad_fn), r.tolist(), x.grad.tolist(), None if w.grad is None else w.grad.tolist()))
    assert out[0] == out[1]
