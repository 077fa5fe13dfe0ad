"""chain_matmul, unsafe_split / unsafe_chunk / unsafe_split_with_sizes, index_reduce, nonzero_static,
gradient and histogramdd against torch: values, gradients, node names, warnings and errors."""
import warnings

import numpy as np
import pytest

import cgrad
from cgrad import _ops_more
from helpers import assert_same_error

torch = pytest.importorskip("torch")


def _outputs(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _outputs(o)]
    return [out]


def run(lib, fn, arrays, grad):
    ts = [lib.tensor(a) for a in arrays]
    ts = [t.requires_grad_() if grad and t.is_floating_point() else t for t in ts]
    outs = _outputs(fn(lib, *ts))
    names = [o.grad_fn.name() if o.grad_fn is not None else None for o in outs]
    grads = []
    if grad and any(o.requires_grad for o in outs):
        rng = np.random.default_rng(5)
        total = sum((o * lib.tensor(rng.uniform(0.5, 1.5, tuple(o.shape)))).sum() for o in outs if o.requires_grad)
        total.backward()
        grads = [t.grad.numpy() if t.grad is not None else None for t in ts if t.is_floating_point()]
    return [o.detach().numpy() for o in outs], names, grads


def compare(fn, *arrays, grad=True, rtol=0, atol=0, names=True):
    """fn(lib, *tensors) for torch and cgrad: the same values, dtypes, node names and gradients."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, ours = run(torch, fn, arrays, grad), run(cgrad, fn, arrays, grad)
    assert len(theirs[0]) == len(ours[0])
    for a, b in zip(theirs[0], ours[0]):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, equal_nan=True)
    if names:
        assert ours[1] == theirs[1]
    assert len(ours[2]) == len(theirs[2])
    for a, b in zip(theirs[2], ours[2]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- chain_matmul -----------------------------------------------------------------------------

@pytest.mark.parametrize("shapes", [[(3, 4)], [(3, 4), (4, 2)], [(3, 4), (4, 2), (2, 5)], [(1, 6), (6, 5), (5, 2)],
                                    [(2, 3), (3, 7), (7, 1), (1, 4)], [(5, 2), (2, 6), (6, 3), (3, 4), (4, 1)]])
def test_chain_matmul(shapes):
    arrays = [data(*s, seed=k) for k, s in enumerate(shapes)]
    compare(lambda lib, *ms: lib.chain_matmul(*ms), *arrays, rtol=1e-14, atol=1e-14)


def test_chain_matmul_warns_once_and_out():
    _ops_more._warned.discard("chain_matmul")
    a, b = cgrad.ones(2, 3), cgrad.ones(3, 2)
    with pytest.warns(UserWarning, match=r"^torch\.chain_matmul is deprecated and will be removed in a future "
                      r"PyTorch release\. Use torch\.linalg\.multi_dot instead, which accepts a list of two or more "
                      r"tensors rather than multiple parameters\.$"):
        cgrad.chain_matmul(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = cgrad.empty(0)
        assert cgrad.chain_matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out.numpy(), np.full((2, 2), 3.0, dtype=np.float32))


@pytest.mark.parametrize("make", [
    lambda lib: lib.chain_matmul(),
    lambda lib: lib.chain_matmul(lib.ones(3)),
    lambda lib: lib.chain_matmul(lib.ones(2, 3), lib.ones(3)),
    lambda lib: lib.chain_matmul(lib.ones(2, 3), lib.ones(2, 2)),
    lambda lib: lib.chain_matmul(lib.ones(2, 3), lib.ones(3, 2, dtype=lib.float64)),
])
def test_chain_matmul_errors(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_error(make)


# ---- unsafe_split, unsafe_chunk, unsafe_split_with_sizes ---------------------------------------

@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.unsafe_split(x, 2),
    lambda lib, x: lib.unsafe_split(x, 3, 1),
    lambda lib, x: x.unsafe_split(4, dim=-1),
    lambda lib, x: lib.unsafe_chunk(x, 3),
    lambda lib, x: x.unsafe_chunk(2, 1),
    lambda lib, x: lib.unsafe_split_with_sizes(x, [1, 3, 1]),
    lambda lib, x: x.unsafe_split_with_sizes((2, 3), dim=1),
    lambda lib, x: lib.unsafe_split(x, 2)[1:],  # a piece without a gradient gets zeros
    lambda lib, x: lib.unsafe_split_with_sizes(x.T, [4, 1], 0)[0],
])
def test_unsafe_splits(fn):
    compare(fn, data(5, 5))


def test_unsafe_split_pieces_are_not_views():
    for lib in (torch, cgrad):
        x = lib.tensor(data(4, 3), requires_grad=True)
        y = x * 2
        a, b = lib.unsafe_split(y, 2)
        assert type(lib.unsafe_split(y, 2)) is tuple and type(lib.unsafe_chunk(y, 2)) is tuple
        assert a.data_ptr() == y.data_ptr()
        a.mul_(3)  # a view of y would make y's history a CopySlices; these pieces leave it alone
        assert a.grad_fn.name() == "MulBackward0" and y.grad_fn.name() == "MulBackward0"
        (a.sum() + b.sum()).backward()
        if lib is torch:
            expected = x.grad.numpy()
        else:
            np.testing.assert_array_equal(x.grad.numpy(), expected)
    plain = cgrad.unsafe_split(cgrad.arange(4.0), 2)
    assert [p.grad_fn for p in plain] == [None, None]


@pytest.mark.parametrize("make", [
    lambda lib: lib.unsafe_split(lib.ones(4, 3), 0),
    lambda lib: lib.unsafe_split(lib.ones(4, 3), -1),
    lambda lib: lib.unsafe_split(lib.ones(4, 3), 2, 5),
    lambda lib: lib.unsafe_chunk(lib.ones(4, 3), 0),
    lambda lib: lib.unsafe_split_with_sizes(lib.ones(4, 3), [1, 2]),
    lambda lib: lib.ones(4, 3).unsafe_split_with_sizes([1, 4]),
])
def test_unsafe_split_errors(make):
    assert_same_error(make)


# ---- index_reduce -----------------------------------------------------------------------------

INDEX = np.array([0, 2, 0, 4, 2])


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim", [0, 1, -2])
def test_index_reduce(reduce, include_self, dim):
    x, s = data(5, 5), data(5, 5, seed=1)
    rtol = 1e-12 if reduce == "prod" else 0  # the product's gradient divides by the source, as torch's
    compare(lambda lib, x, s, i: lib.index_reduce(x, dim, i, s, reduce, include_self=include_self),
            x, s, INDEX, rtol=rtol, atol=1e-14 if rtol else 0)


@pytest.mark.parametrize("reduce", ["prod", "amax", "amin", "mean"])
def test_index_reduce_ties_and_zeros(reduce):
    # equal values in a group (amax / amin share the gradient), zeros (prod's gradient skips them)
    x = np.array([[1.0, 0.0], [2.0, 3.0], [0.0, 5.0]])
    s = np.array([[1.0, 0.0], [1.0, 3.0], [0.0, 0.0], [2.0, 5.0]])
    i = np.array([0, 0, 2, 1])
    for include_self in (True, False):
        compare(lambda lib, x, s, i: x.index_reduce(0, i, s, reduce, include_self=include_self), x, s, i)


def test_index_reduce_inplace_method_and_dtypes():
    x, s = data(5, 3), data(4, 3, seed=2)
    i = np.array([1, 3, 1, 0])
    # written through copy_ (so into a view's base too): the node is CopyBackwards, torch's IndexReduceBackward0
    compare(lambda lib, x, s, i: (x * 1).index_reduce_(0, i, s, "amax"), x, s, i, names=False)
    compare(lambda lib, x, s, i: _into_view(x, i, s), x, s, i)
    compare(lambda lib, x, s, i: x[:, 1:].index_reduce_(0, i, s[:, :2], "prod", include_self=False), x, s, i,
            grad=False)
    ints = np.arange(15).reshape(5, 3) - 4
    compare(lambda lib, x, s, i: lib.index_reduce(x, 0, i, s, "mean"), ints, ints[:4] * 3, i)
    compare(lambda lib, x, s, i: lib.index_reduce(x != 0, 0, i, s > 0, "amax"), ints, ints[:4], i)
    compare(lambda lib, x, s, i: lib.index_reduce(x.float(), 0, i, s.float(), "prod"), x, s, i, grad=False)
    compare(lambda lib, x, s, i: lib.index_reduce(x[0, 0], 0, i[3:], s[0, 0], "prod"), x, s, i)
    compare(lambda lib, x, s, i: lib.index_reduce(x, 1, i[:0], x[:, :0] * 2, "amin"), x, s, i)


def _into_view(x, i, s):
    y = x * 1
    y[:, 1:].index_reduce_(0, i, s[:, :2], "prod")
    return y


def test_index_reduce_leaf_and_warning():
    _ops_more._warned.discard("index_reduce")
    x = cgrad.ones(3, requires_grad=True)
    with pytest.warns(UserWarning, match="index_reduce\\(\\) is in beta and the API may change at any time."):
        cgrad.index_reduce(x, 0, cgrad.tensor([0]), cgrad.ones(1), "prod")
    assert_same_error(lambda lib: lib.ones(3, requires_grad=True).index_reduce_(0, lib.tensor([0]), lib.ones(1),
                                                                                "prod"))


@pytest.mark.parametrize("make", [
    lambda lib: lib.index_reduce(lib.ones(5, 3), 0, lib.tensor([0, 1]), lib.ones(2, 3), "sum"),
    lambda lib: lib.index_reduce(lib.ones(5, 3), 0, lib.tensor([0., 1]), lib.ones(2, 3), "prod"),
    lambda lib: lib.index_reduce(lib.ones(5, 3), 0, lib.tensor([0, 1, 2]), lib.ones(2, 3), "prod"),
    lambda lib: lib.index_reduce(lib.ones(5, 3), 1, lib.tensor([0, 1, 2]), lib.ones(2, 3), "prod"),
    lambda lib: lib.index_reduce(lib.ones(5, 3), 2, lib.tensor([0, 1]), lib.ones(2, 3), "prod"),
    lambda lib: lib.index_reduce(lib.ones(5, 3), 0, lib.tensor([0, 5]), lib.ones(2, 3), "prod"),
    lambda lib: lib.index_reduce(lib.ones(5, 3), 0, lib.tensor([0, -1]), lib.ones(2, 3), "amax"),
    lambda lib: lib.index_reduce(lib.ones(5, 3), 0, lib.tensor([0, 1]), lib.ones(2, 3, dtype=lib.float64), "prod"),
    lambda lib: lib.index_reduce(lib.ones(5, 3), 0, lib.tensor([[0, 1]]), lib.ones(2, 3), "prod"),
    lambda lib: lib.index_reduce(lib.ones(5, 3), 0, lib.tensor([0, 1]), lib.ones(2, 2), "prod"),
    lambda lib: lib.index_reduce(lib.ones(5, 3), 1, lib.tensor([0]), lib.ones(1), "prod"),
    lambda lib: lib.index_reduce(lib.ones(5, 3), 0, lib.tensor([0]), 1.0, "prod"),
])
def test_index_reduce_errors(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_error(make)


# ---- nonzero_static ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 2, 3, 6])
@pytest.mark.parametrize("fill_value", [-1, 7])
def test_nonzero_static(size, fill_value):
    a = np.array([[0, 1.5, 0], [2, 0, 3]])
    compare(lambda lib, a: lib.nonzero_static(a, size=size, fill_value=fill_value), a, grad=False)
    compare(lambda lib, a: (a > 1).nonzero_static(size=size, fill_value=fill_value), a, grad=False)
    compare(lambda lib, a: lib.nonzero_static(a[0, 1], size=size), a, grad=False)
    compare(lambda lib, a: lib.nonzero_static(a[None, :, None], size=size), a, grad=False)


@pytest.mark.parametrize("make", [
    lambda lib: lib.nonzero_static(lib.ones(3), size=-1),
    lambda lib: lib.nonzero_static(lib.ones(3), size=2.0),
    lambda lib: lib.nonzero_static(lib.ones(3), size=2, fill_value=1.5),
    lambda lib: lib.ones(3).nonzero_static(2),
])
def test_nonzero_static_errors(make):
    ours, theirs = [pytest.raises(Exception, make, lib) for lib in (cgrad, torch)]
    assert ours.type is theirs.type
    if "nonzero_static() takes" not in str(theirs.value):  # Python's own words for a positional size differ
        assert str(ours.value) == str(theirs.value)


# ---- gradient ---------------------------------------------------------------------------------

COORDS = [np.array([0.0, 0.5, 1.5, 1.75]), np.array([-1.0, 1.0, 2.0, 5.0, 5.5])]


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("kwargs", [{}, {"spacing": 2.0}, {"spacing": 3}, {"spacing": [0.5, 2.0]}, {"dim": 1},
                                    {"dim": -2, "spacing": 0.25}, {"dim": [1, 0]}, {"spacing": 2.0, "dim": (0,)},
                                    {"spacing": (1.5,), "dim": 1}, {"spacing": [3.0, 0.5], "dim": [1, 0]}])
def test_gradient(edge_order, kwargs):
    compare(lambda lib, x: lib.gradient(x, edge_order=edge_order, **kwargs), data(4, 5), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("which", ["both", "dim0", "dim1"])
def test_gradient_coordinates(edge_order, which):
    def fn(lib, x, c0, c1):
        if which == "both":
            return lib.gradient(x, spacing=(c0, c1), edge_order=edge_order)
        if which == "dim0":
            return lib.gradient(x, spacing=[c0], dim=0, edge_order=edge_order)
        return lib.gradient(x, spacing=(c1,), dim=-1, edge_order=edge_order)
    compare(fn, data(4, 5), *COORDS, rtol=1e-14, atol=1e-14)


def test_gradient_dtypes():
    ints = np.arange(20).reshape(4, 5) ** 2
    compare(lambda lib, x: lib.gradient(x), ints)
    compare(lambda lib, x: lib.gradient(x, spacing=2, edge_order=2), ints)
    compare(lambda lib, x: lib.gradient(x.float(), spacing=[2, 0.5]), data(4, 5), rtol=1e-6, grad=False)
    compare(lambda lib, x: lib.gradient(x[0, 0]), data(4, 5))
    compare(lambda lib, x: lib.gradient(x[:, 1:].T, dim=0), data(4, 5), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("make", [
    lambda lib: lib.gradient(lib.ones(4, 3), spacing=[2.0]),
    lambda lib: lib.gradient(lib.ones(4, 3), spacing=[2.0, 3.0], dim=0),
    lambda lib: lib.gradient(lib.ones(4, 3), spacing=(lib.ones(4),)),
    lambda lib: lib.gradient(lib.ones(4, 3), spacing=(lib.ones(1, 4),), dim=0),
    lambda lib: lib.gradient(lib.ones(4, 3), spacing=(lib.tensor(2.0), lib.tensor(3.0))),
    lambda lib: lib.gradient(lib.ones(4, 3), edge_order=3),
    lambda lib: lib.gradient(lib.ones(2, 3), edge_order=2),
    lambda lib: lib.gradient(lib.ones(4, 3), dim=5),
    lambda lib: lib.gradient(lib.ones(4, 3), dim=(0, 0)),
    lambda lib: lib.gradient(lib.ones(4, 3), dim=[0, 1], spacing=[1.0]),
    lambda lib: lib.gradient(lib.ones(4, 3), spacing=[lib.ones(4), 1.0]),
    lambda lib: lib.gradient(lib.ones(4, 3), spacing=lib.ones(4)),
])
def test_gradient_errors(make):
    assert_same_error(make)


# ---- histogramdd ------------------------------------------------------------------------------

def hist_compare(fn, *arrays, rtol=0):
    for_torch = fn(torch, *[torch.tensor(a) for a in arrays])
    ours = fn(cgrad, *[cgrad.tensor(a) for a in arrays])
    assert type(ours).__name__ == "histogramdd" and isinstance(ours.bin_edges, tuple)
    np.testing.assert_allclose(ours.hist.numpy(), for_torch.hist.numpy(), rtol=rtol, atol=0)
    assert ours.hist.dtype is getattr(cgrad, str(for_torch.hist.dtype).split(".")[1])
    assert len(ours.bin_edges) == len(for_torch.bin_edges)
    for a, b in zip(ours.bin_edges, for_torch.bin_edges):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


POINTS = np.random.default_rng(4).standard_normal((40, 2)).round(1)  # on and between the bins' edges
WEIGHTS = np.random.default_rng(5).uniform(0, 2, 40)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", [{"bins": 3}, {"bins": [2, 5]}, {"bins": (4, 1), "range": [-1.0, 1.0, 0.0, 0.5]},
                                    {"bins": 3, "density": True}, {"bins": [3, 2], "range": (0, 0, -1, 2)}])
def test_histogramdd_counts(dtype, kwargs):
    hist_compare(lambda lib, p, w: lib.histogramdd(p.to(getattr(lib, dtype)), **kwargs), POINTS, WEIGHTS,
                 rtol=1e-6 if kwargs.get("density") else 0)
    hist_compare(lambda lib, p, w: lib.histogramdd(p.to(getattr(lib, dtype)), weight=w.to(getattr(lib, dtype)),
                                                   **kwargs), POINTS, WEIGHTS,
                 rtol=1e-6 if dtype == "float32" else 1e-14)


def test_histogramdd_edges_and_shapes():
    edges = [np.array([-1.0, -0.2, 0.0, 1.5]), np.array([-2.0, 0.1, 2.0])]
    hist_compare(lambda lib, p, e0, e1: lib.histogramdd(p, bins=[e0, e1]), POINTS, *edges)
    hist_compare(lambda lib, p, e0, e1: lib.histogramdd(p, bins=[e0, e1], density=True), POINTS, *edges, rtol=1e-14)
    hist_compare(lambda lib, p, e0, e1: lib.histogramdd(p, bins=[e1.flip(0), e0]), POINTS, *edges)
    hist_compare(lambda lib, p: lib.histogramdd(p.reshape(10, 4, 2), bins=[2, 3]), POINTS)
    hist_compare(lambda lib, p: lib.histogramdd(p[:, :1], bins=4), POINTS)
    hist_compare(lambda lib, p: lib.histogramdd(p.reshape(20, 4), bins=2), POINTS)
    hist_compare(lambda lib, p: lib.histogramdd(p[:0], bins=2), POINTS)
    hist_compare(lambda lib, p: lib.histogramdd(p * 0 + 1, bins=2), POINTS)


@pytest.mark.parametrize("make", [
    lambda lib: lib.histogramdd(lib.ones(10), bins=3),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=[3]),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=0),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=[3, -1]),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=[0, -1]),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=[-1, -2]),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=[3, 0], range=[0.0, 1.0]),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=3, range=[0.0, 1.0]),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=3, range=[0.0, 1.0, 2.0, 1.0]),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=3, range=[0.0, float("inf"), 2.0, 1.0]),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=3, weight=lib.ones(10, dtype=lib.float64)),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=3, weight=lib.ones(9)),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=3, weight=lib.ones(10, 1)),
    lambda lib: lib.histogramdd(lib.ones(10, 2, dtype=lib.float64), bins=[lib.ones(3), lib.ones(2)]),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=[lib.ones(1, 3), lib.ones(2)]),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=[lib.ones(3), lib.ones(0)]),
    lambda lib: lib.histogramdd(lib.ones(10, 2), bins=[lib.ones(3)]),
    lambda lib: lib.histogramdd(lib.ones(10, 2, dtype=lib.int64), bins=3),
])
def test_histogramdd_errors(make):
    assert_same_error(make)


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax"])
def test_index_reduce_second_order(reduce):
    from helpers import assert_second_order_matches_torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_second_order_matches_torch(
            lambda lib, x: lib.index_reduce(x, 0, lib.tensor([0, 2, 0]), x.flip(0) * 2, reduce))


# ---- igamma, igammac --------------------------------------------------------------------------

A_VALUES = np.array([0.5, 1.0, 2.5, 7.0, 30.0, 0.05, 3.0, 12.0])
X_VALUES = np.array([0.3, 2.0, 2.5, 5.0, 28.0, 1e-3, 9.0, 11.0])


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_igamma_values_and_gradient(name):
    mpmath = pytest.importorskip("mpmath")
    a, x = np.meshgrid(A_VALUES, X_VALUES)
    # torch's series for a and x large and close (30, 28) is off by 1e-9; cgrad's values are exact to 1e-14
    compare(lambda lib, a, x: getattr(lib, name)(a.detach(), x), a, x, rtol=2e-9, atol=1e-300)
    ours = getattr(cgrad, name)(cgrad.tensor(a), cgrad.tensor(x)).numpy()
    with mpmath.workdps(30):
        bounds = (0, "x") if name == "igamma" else ("x", mpmath.inf)
        exact = [[float(mpmath.gammainc(av, *[xv if b == "x" else b for b in bounds], regularized=True))
                  for av, xv in zip(ar, xr)] for ar, xr in zip(a, x)]
    np.testing.assert_allclose(ours, exact, rtol=1e-13, atol=0)
    compare(lambda lib, a, x: getattr(a.detach(), name)(x), a[:3], x[:1], rtol=1e-11, atol=1e-300)
    compare(lambda lib, a, x: getattr(lib, name)(a.float(), x.float()), a, x, rtol=2e-5, atol=1e-30, grad=False)


def test_igamma_edges_dtypes_and_inplace():
    a = np.array([0.0, 1, -1, 1, 0, np.inf, 1, np.nan, 2, 0.5, 1.0])
    x = np.array([1.0, 0, 1, -1, 0, 1, np.inf, 1, np.nan, 0.0, 0.0])
    for name in ("igamma", "igammac"):
        compare(lambda lib, a, x: getattr(lib, name)(a.detach(), x), a, x)  # the gradient at x = 0 too
        compare(lambda lib, a, x: getattr(lib, name)(a.long(), x), a[9:], x[9:] + 2, grad=False)
        compare(lambda lib, a, x: getattr(lib, name)(a > 0, x.float()), a[9:], x[9:] + 2, grad=False)
        compare(lambda lib, a, x: getattr(a.detach() * 1, name + "_")(x.float()), a[9:], x[9:] + 2, rtol=1e-6)
        compare(lambda lib, a, x: getattr(a.float(), name + "_")(x), a[9:], x[9:] + 2, rtol=1e-6, grad=False)
    for lib in (torch, cgrad):
        y = lib.igamma(lib.tensor([2.0]), lib.tensor([1.0], requires_grad=True))
        assert y.grad_fn.name() == "IgammaBackward0"
        y = lib.igammac(lib.tensor([2.0]), lib.tensor([1.0], requires_grad=True))
        assert y.grad_fn.name() == "IgammacBackward0"


@pytest.mark.parametrize("make", [
    lambda lib: lib.igamma(lib.ones(2, requires_grad=True), lib.ones(2)).sum().backward(),
    lambda lib: lib.igammac(lib.ones(2, requires_grad=True), lib.ones(2, requires_grad=True)).sum().backward(),
    lambda lib: lib.igamma(lib.ones(2), 2.0),
    lambda lib: lib.igamma(2.0, lib.ones(2)),
    lambda lib: lib.igamma(lib.tensor([1, 2]), lib.tensor([1, 2])),
    lambda lib: lib.igammac(lib.ones(2), lib.ones(3)),
    lambda lib: lib.ones(2).igamma_(2.0),
    lambda lib: lib.ones(2, requires_grad=True).igammac_(lib.ones(2)),
])
def test_igamma_errors(make):
    assert_same_error(make)


# ---- poisson, binomial: checked by their moments ----------------------------------------------

N_DRAWS = 4000


def _moments_ok(draws, mean, var):
    """The sample mean within 5 standard errors of mean, the sample variance within 15% of var."""
    m, v = draws.mean(0), draws.var(0, ddof=1)
    assert np.all(np.abs(m - mean) <= 5 * np.sqrt(var / draws.shape[0]) + 1e-12), (m, mean)
    assert np.all(np.abs(v - var) <= 0.15 * var + 1e-12), (v, var)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_poisson_moments(dtype):
    rates = np.array([0.0, 0.5, 3.0, 9.9, 10.0, 50.0, 1000.0])
    cgrad.manual_seed(11)
    out = cgrad.poisson(cgrad.tensor(rates, dtype=getattr(cgrad, dtype)).expand(N_DRAWS, 7))
    assert out.dtype is getattr(cgrad, dtype) and tuple(out.shape) == (N_DRAWS, 7)
    draws = out.numpy().astype(np.float64)
    assert np.all(draws >= 0) and np.all(draws == np.floor(draws)) and np.all(draws[:, 0] == 0)
    _moments_ok(draws, rates, rates)


def test_binomial_moments():
    n, p = np.meshgrid([0.0, 1.0, 5.0, 20.0, 100.0, 1000.0], [0.0, 0.05, 0.3, 0.5, 0.8, 1.0])
    n, p = n.ravel(), p.ravel()
    g = cgrad.Generator().manual_seed(12)
    out = cgrad.binomial(cgrad.tensor(n).expand(N_DRAWS, n.size), cgrad.tensor(p), generator=g)
    draws = out.numpy()
    assert out.dtype is cgrad.float64 and draws.shape == (N_DRAWS, n.size)
    assert np.all(draws >= 0) and np.all(draws <= n) and np.all(draws == np.floor(draws))
    _moments_ok(draws, n * p, n * p * (1 - p))


def test_draws_follow_the_seed():
    rates, count, prob = cgrad.tensor([0.5, 20.0, 4.0]), cgrad.tensor([3.0, 50.0, 30.0]), cgrad.tensor([0.2, 0.6, 0.9])
    cgrad.manual_seed(3)
    first = cgrad.poisson(rates), cgrad.binomial(count, prob)
    cgrad.manual_seed(3)
    again = cgrad.poisson(rates), cgrad.binomial(count, prob)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    g1, g2 = cgrad.Generator().manual_seed(9), cgrad.Generator().manual_seed(9)
    np.testing.assert_array_equal(cgrad.poisson(rates.expand(50, 3), g1).numpy(),
                                  cgrad.poisson(rates.expand(50, 3), generator=g2).numpy())
    np.testing.assert_array_equal(cgrad.binomial(count, prob, g1).numpy(), cgrad.binomial(count, prob, g2).numpy())


def test_draws_edges_match_torch():
    # no randomness at these: count <= 0 or prob <= 0 gives 0, prob >= 1 the count, a NaN prob NaN
    # (torch never returns for a NaN count)
    count = np.array([0.0, -1.0, 5.0, 5.0, 5.0, 7.0, 4.0])
    prob = np.array([0.5, 0.5, 0.0, -0.1, 1.0, 1.5, np.nan])
    compare(lambda lib, n, p: lib.binomial(n, p), count, prob, grad=False)
    compare(lambda lib, r: lib.poisson(r), np.zeros((2, 3)), grad=False)
    compare(lambda lib, r: lib.poisson(r[0, 0]) * 0, np.ones((2, 3)), grad=False)
    compare(lambda lib, n, p: lib.binomial(n[:, None].float(), p.float()) * 0, count[:3], prob[:2], grad=False)


def test_draws_gradients_as_torch():
    for lib in (torch, cgrad):
        rates = lib.tensor([1.0, 30.0], requires_grad=True)
        out = lib.poisson(rates)
        assert out.grad_fn.name() == "PoissonBackward0"
        out.sum().backward()
        assert rates.grad.tolist() == [0.0, 0.0]
        count, prob = lib.tensor([3.0], requires_grad=True), lib.tensor([0.5])
        out = lib.binomial(count, prob)
        assert out.grad_fn.name() == "torch::autograd::NotImplemented"
    assert_same_error(lambda lib: lib.binomial(lib.tensor([3.0]), lib.tensor([0.5], requires_grad=True)).sum()
                      .backward())


@pytest.mark.parametrize("make", [
    lambda lib: lib.poisson(lib.tensor([1.0, -1.0])),
    lambda lib: lib.poisson(lib.tensor([float("nan")])),
    lambda lib: lib.poisson(lib.tensor([1, 2])),
    lambda lib: lib.poisson(lib.tensor([True])),
    lambda lib: lib.poisson([1.0]),
    lambda lib: lib.binomial(lib.tensor([1, 2]), lib.tensor([0.5, 0.5])),
    lambda lib: lib.binomial(lib.tensor([1.0, 2]), lib.tensor([1, 0])),
    lambda lib: lib.binomial(lib.tensor([1.0, 2], dtype=lib.float64), lib.tensor([0.5, 0.5])),
    lambda lib: lib.binomial(lib.tensor([1.0, 2]), lib.tensor([0.5, 0.5], dtype=lib.float64)),
    lambda lib: lib.binomial(lib.ones(3), lib.ones(2)),
    lambda lib: lib.binomial(lib.ones(3), 0.5),
    lambda lib: lib.binomial([3.0], lib.ones(1)),
])
def test_draws_errors(make):
    assert_same_error(make)
