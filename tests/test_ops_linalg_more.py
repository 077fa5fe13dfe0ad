"""addmv, addr, addbmm, inner, vdot, kron, dist, matrix_power, inverse, det,
slogdet, logdet, pinverse and matrix_exp, checked against torch: values, gradients
(first and second order), float32 and float64, batches, non-contiguous and
0-size inputs, singular matrices, in-place forms and errors."""
import functools
import math

import numpy as np
import pytest

import cgrad
from cgrad.autograd import gradcheck, gradgradcheck
from helpers import compare_two_orders, same_error, torch_or_skip

DTYPES = ["float64", "float32"]
RTOL = {"float64": 1e-10, "float32": 2e-4}


def draw(shape, seed=0, kind="normal"):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if kind == "well":  # well conditioned square matrices
        a = a * 0.3 + np.eye(shape[-1])
    return a


def close(a, b, rtol, what):
    a = np.asarray(a.detach().numpy(), dtype=np.float64)
    b = np.asarray(b.detach().numpy(), dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(b[np.isfinite(b)]), initial=0)))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=what)


compare = functools.partial(compare_two_orders, rtols=RTOL, close=close, constant_firsts=True)


def grad_fn_name(fn, *shapes):
    xs = [cgrad.tensor(draw(s, k, "well"), requires_grad=True) for k, s in enumerate(shapes)]
    return fn(cgrad, *xs).grad_fn.name()


# ---------------------------------------------------------------- addmv, addr, addbmm

SCALARS = [dict(), dict(beta=0.5, alpha=-2), dict(beta=0, alpha=3), dict(beta=2, alpha=0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", SCALARS, ids=str)
@pytest.mark.parametrize("shapes", [((3,), (3, 4), (4,)), ((1,), (3, 4), (4,)), ((), (2, 5), (5,)),
                                    ((0,), (0, 3), (3,)), ((2,), (2, 0), (0,))], ids=str)
def test_addmv(shapes, kw, dtype):
    compare(lambda m, i, a, v: m.addmv(i, a, v, **kw), [draw(s, k) for k, s in enumerate(shapes)], dtype)
    compare(lambda m, i, a, v: i.addmv(a, v, **kw), [draw(s, k) for k, s in enumerate(shapes)], dtype)


def test_addmv_transposed_and_strided():
    compare(lambda m, i, a, v: m.addmv(i[::2], a.T, v[1::2], beta=2), [draw((6,)), draw((4, 3), 1), draw((8,), 2)])


def test_zero_scalars_read_what_torchs_do():
    """beta = 0 reads no input, alpha = 0 no product of addmv and addbmm (addr's
    is read: NaN * 0), and a product of -0 stays -0."""
    torch = torch_or_skip()
    nan, inf = math.nan, math.inf
    results = []
    for m in (cgrad, torch):
        mat, vec = m.tensor([[inf, 1.0], [2.0, 3.0]]), m.tensor([1.0, nan])
        results.append([m.addmv(m.tensor([nan, -0.0]), mat, vec, alpha=0), m.addmv(m.tensor([nan, 1.0]), mat, vec,
                        alpha=0, beta=0), m.addmv(m.full((2,), nan), -m.eye(2), m.zeros(2), beta=0),
                        m.addr(m.zeros(2, 2), m.tensor([inf, 1.0]), vec, alpha=0),
                        m.addr(m.full((2, 2), nan), m.tensor([-0.0, 1.0]), m.ones(2), beta=0),
                        m.addbmm(m.tensor([[1.0], [-0.0]]), mat[None], vec[None, :, None], alpha=0),
                        m.addbmm(m.full((2, 1), nan), -mat[None], m.zeros(1, 2, 1), beta=0)])
    for a, b in zip(*results):
        a, b = a.numpy(), b.numpy()
        np.testing.assert_array_equal(a, b)  # NaNs where torch has them
        assert np.array_equal(np.signbit(a) & ~np.isnan(a), np.signbit(b) & ~np.isnan(b))


def test_addmv_beta_zero_ignores_nan():
    x = cgrad.tensor([math.nan, math.inf], requires_grad=True)
    out = cgrad.addmv(x, cgrad.ones(2, 2), cgrad.ones(2), beta=0)
    assert out.tolist() == [2.0, 2.0]
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", SCALARS, ids=str)
@pytest.mark.parametrize("shapes", [((3, 4), (3,), (4,)), ((4,), (3,), (4,)), ((), (2,), (5,)),
                                    ((0, 3), (0,), (3,))], ids=str)
def test_addr(shapes, kw, dtype):
    compare(lambda m, i, a, b: m.addr(i, a, b, **kw), [draw(s, k) for k, s in enumerate(shapes)], dtype)
    compare(lambda m, i, a, b: i.addr(a, b, **kw), [draw(s, k) for k, s in enumerate(shapes)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", SCALARS, ids=str)
@pytest.mark.parametrize("shapes", [((3, 4), (2, 3, 5), (2, 5, 4)), ((4,), (2, 3, 5), (2, 5, 4)),
                                    ((3, 4), (0, 3, 5), (0, 5, 4)), ((1, 1), (3, 2, 0), (3, 0, 2))], ids=str)
def test_addbmm(shapes, kw, dtype):
    compare(lambda m, i, a, b: m.addbmm(i, a, b, **kw), [draw(s, k) for k, s in enumerate(shapes)], dtype)
    compare(lambda m, i, a, b: i.addbmm(a, b, **kw), [draw(s, k) for k, s in enumerate(shapes)], dtype)


def test_addbmm_transposed():
    compare(lambda m, i, a, b: m.addbmm(i.T, a.transpose(1, 2), b.mT, alpha=0.5),
            [draw((4, 3)), draw((2, 5, 3), 1), draw((2, 4, 5), 2)])


@pytest.mark.parametrize("name, shapes, kw", [
    ("addmv_", ((3,), (3, 4), (4,)), dict(beta=2, alpha=0.5)),
    ("addr_", ((3, 4), (3,), (4,)), dict(alpha=-1)),
    ("addbmm_", ((3, 4), (2, 3, 5), (2, 5, 4)), dict(beta=0.5)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_in_place_forms(name, shapes, kw):
    def fn(m, i, a, b):
        y = i * 1
        r = getattr(y, name)(a, b, **kw)
        assert r is y
        assert y.grad_fn.name() == name[0].upper() + name[1:-1] + "Backward0"  # AddmvBackward0, as torch's
        return y
    compare(fn, [draw(s, k) for k, s in enumerate(shapes)])


NODES = [
    ("addmv", lambda m, i, a, b: m.addmv(i, a, b), ((3,), (3, 4), (4,))),
    ("addmv beta 0", lambda m, i, a, b: i.addmv(a, b, beta=0, alpha=2), ((1,), (3, 4), (4,))),
    ("addmv_", lambda m, i, a, b: (i * 1).addmv_(a, b, beta=0.5), ((3,), (3, 4), (4,))),
    ("addmv_ of a view", lambda m, i, a, b: _view_written(i, lambda y: y[1].addmv_(a, b, alpha=-1)),
     ((3, 3), (3, 4), (4,))),
    ("addr", lambda m, i, a, b: m.addr(i, a, b, beta=2), ((3, 4), (3,), (4,))),
    ("addr beta 0", lambda m, i, a, b: i.addr(a, b, beta=0), ((), (3,), (4,))),
    ("addr_", lambda m, i, a, b: (i * 1).addr_(a, b, beta=-1, alpha=0.5), ((3, 4), (3,), (4,))),
    ("addbmm", lambda m, i, a, b: m.addbmm(i, a, b, alpha=3), ((3, 4), (2, 3, 5), (2, 5, 4))),
    ("addbmm beta 0", lambda m, i, a, b: i.addbmm(a, b, beta=0), ((4,), (2, 3, 5), (2, 5, 4))),
    ("addbmm_", lambda m, i, a, b: (i * 1).addbmm_(a, b, beta=2, alpha=0.5), ((3, 4), (2, 3, 5), (2, 5, 4))),
    ("vdot", lambda m, a, b: m.vdot(a, b), ((4,), (4,))),
    ("kron", lambda m, a, b: m.kron(a, b), ((2, 3), (2, 1, 2))),
    ("dist", lambda m, a, b: m.dist(a, b), ((2, 3), (3,))),
    ("dist p 1", lambda m, a, b: a.dist(b, 1), ((2, 3), (3,))),
    ("dist p 3", lambda m, a, b: m.dist(a, b, 3), ((4,), ())),
    ("dist p 1.5", lambda m, a, b: m.dist(a, b, 1.5), ((2, 2), (2, 1))),
    ("dist p 0.5", lambda m, a, b: m.dist(a, b, 0.5), ((3,), (3,))),
    ("dist p inf", lambda m, a, b: m.dist(a, b, math.inf), ((2, 3), (2, 3))),
    ("dist p -inf", lambda m, a, b: m.dist(a, b, -math.inf), ((2, 3), (3,))),
]


def _view_written(i, write):
    y = i * 1
    write(y)
    return y


@pytest.mark.parametrize("name, fn, shapes", NODES, ids=[n[0] for n in NODES])
def test_nodes_and_gradients_are_torchs(name, fn, shapes):
    """One node, named as torch's, with torch's first and second-order gradients."""
    torch = torch_or_skip()
    arrays = [draw(s, k) for k, s in enumerate(shapes)]
    names = []
    for lib in (cgrad, torch):
        out = fn(lib, *(lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays))
        names.append(out.grad_fn.name())
    assert names[0] == names[1]
    compare(fn, arrays)


@pytest.mark.parametrize("kw", [dict(), dict(beta=2, alpha=3), dict(beta=0.5, alpha=2.7), dict(beta=0, alpha=-1)],
                         ids=str)
def test_integer_products_truncate_beta_and_alpha(kw):
    torch = torch_or_skip()
    for lib in (cgrad, torch):
        m = lib.tensor([[1, 2], [3, 4]])
        r = [lib.addmv(m[0], m, m[1], **kw), lib.addbmm(m, m[None], m[None], **kw)]
        if not any(isinstance(v, float) for v in kw.values()):  # addr refuses those
            r.append(lib.addr(m, m[0], m[1], **kw))
        if lib is cgrad:
            ours = r
    for a, b in zip(ours, r):
        assert a.dtype == cgrad.int64 and a.tolist() == b.tolist()


PRODUCT_ERRORS = [
    lambda m: m.addmv(m.randn(3), m.randn(3, 4), m.randn(5)),
    lambda m: m.addmv(m.randn(2), m.randn(3, 4), m.randn(4)),
    lambda m: m.addmv(m.randn(3), m.randn(3, 4, dtype=m.float64), m.randn(4)),
    lambda m: m.addmv(m.randn(3), m.randn(3, 4), m.randn(4, dtype=m.float64)),
    lambda m: m.addmv(m.randn(3), m.randn(3), m.randn(4)),
    lambda m: m.addmv(m.randn(3), m.randn(3, 4), m.randn(4, 1)),
    lambda m: m.addmv(m.randn(3, 1), m.randn(3, 4), m.randn(4)),
    lambda m: m.addmv([1.0], m.randn(3, 4), m.randn(4)),
    lambda m: m.addr(m.randn(3, 4), m.randn(3, 1), m.randn(4)),
    lambda m: m.addr(m.randn(3, 4), m.randn(3), m.randn(4, 1)),
    lambda m: m.addr(m.randn(3, 5), m.randn(3), m.randn(4)),
    lambda m: m.addr(m.ones(3, 4, dtype=m.int64), m.ones(3, dtype=m.int64), m.ones(4, dtype=m.int64), beta=0.5),
    lambda m: m.addr(m.ones(3, 4, dtype=m.int64), m.ones(3, dtype=m.int64), m.ones(4, dtype=m.int64), alpha=2.0),
    lambda m: m.addbmm(m.randn(3, 4), m.randn(3, 5), m.randn(2, 5, 4)),
    lambda m: m.addbmm(m.randn(3, 4), m.randn(2, 3, 5), m.randn(2, 5)),
    lambda m: m.addbmm(m.randn(3, 4), m.randn(2, 3, 5), m.randn(3, 5, 4)),
    lambda m: m.addbmm(m.randn(3, 4), m.randn(2, 3, 5), m.randn(2, 6, 4)),
    lambda m: m.addbmm(m.randn(3, 3), m.randn(2, 3, 5), m.randn(2, 5, 4)),
    lambda m: m.addbmm(m.randn(3, 4, dtype=m.float64), m.randn(2, 3, 5), m.randn(2, 5, 4)),
    lambda m: m.addbmm(m.randn(3, 4), m.randn(2, 3, 5, dtype=m.float64), m.randn(2, 5, 4)),
]


@pytest.mark.parametrize("k", range(len(PRODUCT_ERRORS)))
def test_product_errors(k):
    same_error(PRODUCT_ERRORS[k])


MATMUL_SHAPES = [((2,), (2,)), ((2, 2), (2,)), ((2,), (2, 2)), ((2, 2), (2, 2)), ((3, 2, 2), (2, 2)),
                 ((3, 2, 2), (2,)), ((2,), (3, 2, 2)), ((2, 2), (3, 2, 2)), ((1, 3, 2, 2), (3, 2, 2))]
DTYPE_PAIRS = [("bool", "bool"), ("float32", "float64"), ("int64", "float32"), ("float64", "int64")]


@pytest.mark.parametrize("dtypes", DTYPE_PAIRS, ids=str)
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_dtype_errors_are_those_of_the_product_it_folds_into(shapes, dtypes):
    same_error(lambda m: m.matmul(*(m.ones(s, dtype=getattr(m, d)) for s, d in zip(shapes, dtypes))))


@pytest.mark.parametrize("dtypes", DTYPE_PAIRS, ids=str)
@pytest.mark.parametrize("name,shapes", [("mm", ((2, 2), (2, 2))), ("bmm", ((1, 2, 2), (1, 2, 2))),
                                         ("mv", ((2, 2), (2,))), ("dot", ((2,), (2,))), ("inner", ((2,), (2,))),
                                         ("vdot", ((2,), (2,)))])
def test_product_dtype_errors(name, shapes, dtypes):
    same_error(lambda m: getattr(m, name)(*(m.ones(s, dtype=getattr(m, d)) for s, d in zip(shapes, dtypes))))


# ---------------------------------------------------------------- inner, vdot, kron, dist

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [((3,), (3,)), ((2, 3), (4, 3)), ((2, 1, 3), (3,)), ((), (2, 2)),
                                    ((3,), ()), ((0, 3), (2, 3)), ((2, 0), (3, 0))], ids=str)
def test_inner(shapes, dtype):
    compare(lambda m, a, b: m.inner(a, b), [draw(s, k) for k, s in enumerate(shapes)], dtype)
    compare(lambda m, a, b: a.inner(b), [draw(s, k) for k, s in enumerate(shapes)], dtype)


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 3), (4, 3))], ids=str)
def test_inner_graph_and_bool_error(shapes):
    """1-D by 1-D is a dot product, as torch's; its error for bool says so."""
    torch = torch_or_skip()
    ys = [lib.inner(*(lib.tensor(draw(s, k), requires_grad=True) for k, s in enumerate(shapes)))
          for lib in (cgrad, torch)]
    assert graph_names(ys[0])[:2] == graph_names(ys[1])[:2]
    same_error(lambda m: m.inner(*(m.ones(s, dtype=m.bool) for s in shapes)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 5])
def test_vdot(n, dtype):
    compare(lambda m, a, b: m.vdot(a, b), [draw((n,)), draw((n,), 1)], dtype)
    compare(lambda m, a, b: a.vdot(b[::1]), [draw((n,)), draw((n,), 1)], dtype)


def test_vdot_strided():
    compare(lambda m, a, b: m.vdot(a[::2], b), [draw((6,)), draw((3,), 1)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [((2, 3), (4, 2)), ((2, 3), (2,)), ((), (2,)), ((3,), (2, 2)),
                                    ((2, 1, 3), (2, 2)), ((0, 2), (3, 1))], ids=str)
def test_kron(shapes, dtype):
    compare(lambda m, a, b: m.kron(a, b), [draw(s, k) for k, s in enumerate(shapes)], dtype)
    a, b = (cgrad.tensor(draw(s, k), dtype=getattr(cgrad, dtype)) for k, s in enumerate(shapes))
    bt = b.mT.contiguous().mT if b.ndim == 2 else b  # torch's kron refuses such a layout; cgrad's takes it
    assert cgrad.kron(a, bt).equal(cgrad.kron(a, b)) and a.kron(b).equal(cgrad.kron(a, b))


def graph_names(fn):
    """The names of fn's result's nodes, breadth first, three levels deep."""
    names, level = [], [fn.grad_fn]
    for _ in range(3):
        names.append(sorted(n.name() for n in level if n is not None))
        level = [f for n in level if n is not None for f, _ in n.next_functions]
    return names


KRON_MANY_DIMS = [((2, 1, 2, 1, 3), (1, 2, 2, 3, 1)), ((2, 3), (1, 2, 1, 2, 2, 1, 2)),
                  ((1, 2, 1, 2, 1, 2, 1, 2), (2, 1, 2, 1, 2, 1, 2, 1)), ((2, 2, 1, 2, 2), (2, 2, 3)),
                  ((2, 2, 2, 2, 2), (2, 2, 2, 2, 2)), ((2, 1, 2, 2, 2, 3), (2, 3, 2, 2, 2)),
                  ((0, 2, 2, 2, 2), (2, 2, 2, 2, 1))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", KRON_MANY_DIMS, ids=str)
def test_kron_of_more_than_four_dims(shapes, dtype):
    """Any number of dims, as torch; where the broadcast product fits in
    cgrad's 8 dims (once its 1s are dropped), torch's graph node for node."""
    torch = torch_or_skip()
    arrays = [draw(s, k) for k, s in enumerate(shapes)]
    out = compare(lambda m, a, b: m.kron(a, b), arrays, dtype)
    ys = [lib.kron(*(lib.tensor(x, requires_grad=True) for x in arrays)) for lib in (cgrad, torch)]
    assert ys[0].grad_fn.name() == "UnsafeViewBackward0" and graph_names(ys[0])[1] == ["MulBackward0"]
    if sum(n != 1 for s in shapes for n in s) <= 8:
        assert graph_names(ys[0]) == graph_names(ys[1])
    for dt in ("int64", "bool"):
        ints = [(x > 0).astype(dt) if dt == "bool" else np.round(x * 3).astype(dt) for x in arrays]
        mine, theirs = cgrad.kron(*map(cgrad.tensor, ints)), torch.kron(*map(torch.tensor, ints))
        assert mine.tolist() == theirs.tolist() and str(mine.dtype) == str(theirs.dtype).replace("torch", "cgrad")
    assert tuple(out.shape) == tuple(np.kron(*arrays).shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2, 1, 3, 0.5, math.inf, 0])
@pytest.mark.parametrize("shapes", [((2, 3), (3,)), ((4,), (4,)), ((), (2, 2))], ids=str)
def test_dist(shapes, p, dtype):
    arrays = [draw(s, k) for k, s in enumerate(shapes)]
    if p != 0:
        compare(lambda m, a, b: m.dist(a, b, p), arrays, dtype)
        compare(lambda m, a, b: a.dist(b, p=p), arrays, dtype)
        return
    # p = 0 counts the differing elements; the gradient is undefined: input
    # gets none, and other's (its negation) fails, as in torch
    torch = torch_or_skip()
    for lib in (cgrad, torch):
        a = lib.tensor(arrays[0], dtype=getattr(lib, dtype), requires_grad=True)
        out = a.dist(lib.tensor(arrays[1], dtype=getattr(lib, dtype)), 0)
        assert out.item() == torch.dist(*(torch.tensor(x) for x in arrays), 0).item()
        out.backward()
        assert a.grad is None
    same_error(lambda m: m.dist(m.tensor(arrays[0]), m.tensor(arrays[1], requires_grad=True), 0).backward())


@pytest.mark.parametrize("p", [2, 1, math.inf])
def test_dist_of_equal_tensors_has_zero_gradient(p):
    compare(lambda m, a, b: m.dist(a, a.detach() * 1 + b * 0, p), [draw((2, 2)), draw((2, 2), 1)], second=False)


@pytest.mark.parametrize("p", [2, 1, 3, 1.5, 0.5, math.inf, -math.inf])
@pytest.mark.parametrize("shapes", [((2, 3), (3,)), ((), ()), ((2, 2), (2, 2))], ids=str)
def test_dist_at_zero_distance(shapes, p):
    """Input equal to other (broadcast): torch's gradients at the kink, both orders."""
    arrays = [np.broadcast_to(draw(shapes[1]), shapes[0]).copy(), draw(shapes[1])]
    compare(lambda m, a, b: m.dist(a, b, p), arrays)


VECTOR_ERRORS = [
    lambda m: m.inner(m.randn(2, 3), m.randn(4, 2)),
    lambda m: m.inner(m.randn(3), m.randn(3, dtype=m.float64)),
    lambda m: m.vdot(m.randn(3), m.randn(4)),
    lambda m: m.vdot(m.randn(3, 1), m.randn(3)),
    lambda m: m.vdot(m.randn(3), m.randn(3, dtype=m.float64)),
    lambda m: m.dist(m.randn(2, 3), m.randn(4)),
]


@pytest.mark.parametrize("k", range(len(VECTOR_ERRORS)))
def test_vector_errors(k):
    same_error(VECTOR_ERRORS[k])


def test_dist_promotes():
    torch = torch_or_skip()
    a, b = np.ones((2, 2)), np.zeros(2)
    out = cgrad.dist(cgrad.tensor(a, dtype=cgrad.float32), cgrad.tensor(b, dtype=cgrad.float64))
    ref = torch.dist(torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float64))
    assert str(out.dtype) == str(ref.dtype).replace("torch", "cgrad")
    assert out.item() == ref.item()


# ---------------------------------------------------------------- matrix_power

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -2, -3])
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3), (2, 0, 0), (1, 1)], ids=str)
def test_matrix_power(shape, n, dtype):
    rtol = 1e-3 if dtype == "float32" else None
    compare(lambda m, a: m.matrix_power(a, n), [draw(shape, 0, "well")], dtype, rtol=rtol)
    compare(lambda m, a: a.mT.matrix_power(n), [draw(shape, 0, "well")], dtype, rtol=rtol)


def test_matrix_power_graph_is_torchs():
    """n = -1 is the inverse itself, n = 1 a copy of input."""
    torch = torch_or_skip()
    for n in (-1, 1, 2, 3):
        ys = [lib.linalg.matrix_power(lib.tensor(draw((2, 3, 3), 0, "well"), requires_grad=True), n)
              for lib in (cgrad, torch)]
        assert graph_names(ys[0]) == graph_names(ys[1]), n


def test_matrix_power_int64():
    torch = torch_or_skip()
    a = [[1, 2], [3, 4]]
    for n in (0, 1, 3):
        out = cgrad.tensor(a).matrix_power(n)
        assert out.tolist() == torch.tensor(a).matrix_power(n).tolist() and out.dtype == cgrad.int64


MATRIX_ERRORS = [
    lambda m: m.matrix_power(m.randn(2, 3), 2),
    lambda m: m.matrix_power(m.randn(3), 2),
    lambda m: m.matrix_power(m.randn(3, 3), 2.0),
    lambda m: m.matrix_power(m.zeros(3, 3), -1),
    lambda m: m.matrix_power(m.ones(3, 3, dtype=m.int64), -1),
]
for _name in ("inverse", "det", "slogdet", "logdet", "matrix_exp"):
    MATRIX_ERRORS += [
        lambda m, f=_name: getattr(m, f)(m.randn(3)),
        lambda m, f=_name: getattr(m, f)(m.randn(2, 3)),
        lambda m, f=_name: getattr(m, f)(m.ones(3, 3, dtype=m.int64)),
        lambda m, f=_name: getattr(m.randn(2, 4, 3), f)(),
    ]
MATRIX_ERRORS += [
    lambda m: m.inverse(m.zeros(3, 3)),
    lambda m: m.inverse(m.tensor([[1.0, 2.0], [2.0, 4.0]])),
    lambda m: m.inverse(m.zeros(2, 3, 3, dtype=m.float64)),
    lambda m: m.inverse(m.stack([m.eye(2), m.zeros(2, 2)])),
    lambda m: m.inverse(m.stack([m.eye(3), m.tensor([[1.0, 2, 3], [2, 4, 6], [1, 0, 1]])]).reshape(1, 2, 3, 3)),
    lambda m: m.linalg.inv(m.zeros(3, 3)),
    lambda m: m.linalg.matrix_power(m.zeros(2, 3), 1),
    lambda m: m.matrix_power(m.ones(2, 2, dtype=m.bool), 2),
]


@pytest.mark.parametrize("k", range(len(MATRIX_ERRORS)))
def test_matrix_errors(k):
    same_error(MATRIX_ERRORS[k])


# ---------------------------------------------------------------- inverse, det, slogdet, logdet

LINALG_ERRORS = [
    lambda m: m.linalg.inv(m.zeros(3, 3)),
    lambda m: m.inverse(m.stack([m.eye(2), m.zeros(2, 2)])),
    lambda m: m.matrix_power(m.zeros(2, 2, dtype=m.float64), -2),
    lambda m: m.linalg.pinv(m.tensor([[math.nan, 0.0], [0.0, 1.0]])),
]


@pytest.mark.parametrize("k", range(len(LINALG_ERRORS)))
def test_linalg_error_is_a_runtime_error_as_torchs(k):
    torch = torch_or_skip()
    assert issubclass(cgrad.linalg.LinAlgError, RuntimeError) and "LinAlgError" in cgrad.linalg.__all__
    with pytest.raises(torch.linalg.LinAlgError):
        LINALG_ERRORS[k](torch)
    with pytest.raises(cgrad.linalg.LinAlgError) as err:
        LINALG_ERRORS[k](cgrad)
    assert type(err.value) is cgrad.linalg.LinAlgError and isinstance(err.value, RuntimeError)
    assert repr(cgrad.linalg.LinAlgError) == "<class 'cgrad.linalg.LinAlgError'>"
    same_error(LINALG_ERRORS[k])


SQUARE_SHAPES = [(1, 1), (3, 3), (2, 4, 4), (2, 1, 3, 3), (0, 0), (2, 0, 0), (0, 3, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SQUARE_SHAPES, ids=str)
def test_inverse(shape, dtype):
    rtol = 1e-3 if dtype == "float32" else None
    out = compare(lambda m, a: m.inverse(a), [draw(shape, 0, "well")], dtype, rtol=rtol)
    compare(lambda m, a: a.mT.inverse(), [draw(shape, 0, "well")], dtype, rtol=rtol)
    compare(lambda m, a: m.linalg.inv(a), [draw(shape, 0, "well")], dtype, rtol=rtol)
    if out.numel():
        assert out.grad_fn.name() == "LinalgInvExBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SQUARE_SHAPES, ids=str)
def test_det(shape, dtype):
    rtol = 1e-3 if dtype == "float32" else None
    for kind in ("normal", "well"):
        out = compare(lambda m, a: m.det(a), [draw(shape, 1, kind)], dtype, rtol=rtol)
        compare(lambda m, a: a.mT.det(), [draw(shape, 1, kind)], dtype, rtol=rtol)
        compare(lambda m, a: m.linalg.det(a), [draw(shape, 1, kind)], dtype, rtol=rtol)
    assert out.grad_fn.name() == "LinalgDetBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SQUARE_SHAPES, ids=str)
def test_slogdet_and_logdet(shape, dtype):
    rtol = 1e-3 if dtype == "float32" else None
    out = compare(lambda m, a: m.slogdet(a)[1], [draw(shape, 2)], dtype, rtol=rtol)
    compare(lambda m, a: a.mT.slogdet().logabsdet, [draw(shape, 2)], dtype, rtol=rtol)
    torch = torch_or_skip()
    ours = cgrad.linalg.slogdet(cgrad.tensor(draw(shape, 2)))
    theirs = torch.linalg.slogdet(torch.tensor(draw(shape, 2)))
    assert ours.sign.tolist() == theirs.sign.tolist()
    a = draw(shape, 2, "well")  # positive determinants
    compare(lambda m, a: m.logdet(a), [a], dtype, rtol=rtol)
    compare(lambda m, a: a.logdet(), [a], dtype, rtol=rtol)
    assert out.grad_fn.name() == "LinalgSlogdetBackward0"


def test_slogdet_is_a_named_tuple():
    torch = torch_or_skip()
    a = draw((3, 3))
    ours, theirs = cgrad.slogdet(cgrad.tensor(a)), torch.slogdet(torch.tensor(a))
    assert ours.sign.item() == theirs.sign.item() and ours[0].item() == theirs[0].item()
    np.testing.assert_allclose(ours.logabsdet.item(), theirs.logabsdet.item(), rtol=1e-12)
    assert not ours.sign.requires_grad
    assert "slogdet(\nsign=" in repr(ours)


def test_slogdet_sign_and_logabsdet_share_one_node():
    """As torch's: the sign is the node's first output, with no gradient of
    its own (none at all when it alone is differentiated)."""
    torch = torch_or_skip()
    for lib in (cgrad, torch):
        x = lib.tensor(draw((2, 3, 3)), requires_grad=True)
        sign, logabsdet = lib.linalg.slogdet(x)
        assert sign.requires_grad and sign.grad_fn.name() == "LinalgSlogdetBackward0"
        assert sign.grad_fn == logabsdet.grad_fn
        assert lib.autograd.grad(sign.sum(), x, allow_unused=True, retain_graph=True) == (None,)
    compare(lambda m, x: m.slogdet(x)[0] * 2 + m.slogdet(x)[1], [draw((2, 3, 3))])


SINGULAR = [
    [[1.0, 2.0], [2.0, 4.0]],
    [[0.0, 0.0], [0.0, 0.0]],
    [[1.0, 0, 0], [0, 1, 0], [0, 0, 0]],
    [[1.0, 2, 3], [4, 5, 6], [7, 8, 9]],
    [[2.0, 0], [0, 0]],
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", range(len(SINGULAR)))
def test_singular_matrices(k, dtype):
    torch = torch_or_skip()
    a = np.array(SINGULAR[k])
    compare(lambda m, x: m.det(x), [a], dtype, second=False)
    for lib in (cgrad, torch):
        sign, logabsdet = lib.slogdet(lib.tensor(a, dtype=getattr(lib, dtype)))
        assert sign.item() == 0 and logabsdet.item() == -math.inf
        assert lib.logdet(lib.tensor(a, dtype=getattr(lib, dtype))).item() == -math.inf


def test_det_gradient_in_a_batch_with_a_singular_matrix():
    """The invertible matrices' gradients are torch's; the singular one's is 0,
    torch's too, when the gradient is only computed."""
    torch = torch_or_skip()
    a = np.stack([draw((3, 3)), np.array(SINGULAR[2]), draw((3, 3), 1)])
    grads = []
    for lib in (cgrad, torch):
        x = lib.tensor(a, requires_grad=True)
        lib.det(x).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0][[0, 2]], grads[1][[0, 2]], rtol=1e-12)
    assert not grads[0][1].any() and not grads[1][1].any()


def rank_deficient(n, rank, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, rank)) @ rng.standard_normal((rank, n))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_det_gradient_graph_of_singular_matrices_in_a_batch(n, dtype):
    """With create_graph, det's gradient at a (nearly) singular matrix is its
    cofactors, as torch's, matrix by matrix in a batch that mixes them with
    invertible ones; the second order too."""
    mats = [draw((n, n), 0), rank_deficient(n, n - 1, 1), draw((n, n), 2, "well")]
    if n >= 3:  # (torch's second order is NaN at 0, where singular values repeat)
        mats += [rank_deficient(n, n - 2, 3), np.diag(np.arange(n, dtype=float)), draw((n, n), 4)]
    batch = np.stack(mats)
    rtol = 2e-3 if dtype == "float32" else 1e-7
    compare(lambda m, a: m.det(a), [batch], dtype, rtol=rtol)
    compare(lambda m, a: m.det(a), [batch.reshape(len(mats) // 3, 3, n, n)], dtype, rtol=rtol)
    compare(lambda m, a: m.linalg.det(a), [batch[1]], dtype, rtol=rtol)  # alone
    compare(lambda m, a: m.det(a.mT), [batch[1::2]], dtype, rtol=rtol)  # all singular when n > 1


@pytest.mark.parametrize("k", range(len(SINGULAR)))
def test_det_gradient_graph_of_exactly_singular_matrices(k):
    a = np.stack([np.array(SINGULAR[k]), np.eye(len(SINGULAR[k]))])
    compare(lambda m, x: m.det(x), [a], second=False)
    names = []
    for lib in (cgrad, torch_or_skip()):
        x = lib.tensor(a, requires_grad=True)
        (g,) = lib.autograd.grad(lib.det(x).sum(), x, create_graph=True)
        names.append(g.grad_fn.name())
    assert names[0] == names[1] == "IndexPutBackward0"


def test_det_higher_order_finite_differences_at_singular_matrices():
    a = cgrad.tensor(np.stack([rank_deficient(3, 2, 4), draw((3, 3), 5), rank_deficient(3, 1, 6)]),
                     requires_grad=True)
    assert gradgradcheck(cgrad.det, (a,))  # (a first order only computed is 0 where det is 0, as torch's)


def test_inverse_of_a_matrix_with_a_nan_is_nan():
    torch = torch_or_skip()
    for where in ((0, 0), (0, 1), (1, 0), (1, 1)):
        a = np.stack([draw((2, 2), 0, "well"), np.array([[1.0, 2.0], [3.0, 4.0]])])
        a[(1,) + where] = math.nan
        mine, theirs = cgrad.inverse(cgrad.tensor(a)).numpy(), torch.inverse(torch.tensor(a)).numpy()
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, equal_nan=True)
        assert np.isnan(mine[1]).all()


def test_nan_matrices():
    torch = torch_or_skip()
    a = [[math.nan, 1.0], [2.0, 3.0]]
    for lib in (cgrad, torch):
        sign, logabsdet = lib.slogdet(lib.tensor(a))
        assert sign.item() == 0 and math.isnan(logabsdet.item()) and math.isnan(lib.det(lib.tensor(a)).item())
        assert math.isnan(lib.logdet(lib.tensor(a)).item())


def test_logdet_of_negative_determinant_is_nan():
    torch = torch_or_skip()
    a = [[0.0, 1.0], [1.0, 0.0]]
    assert math.isnan(cgrad.logdet(cgrad.tensor(a)).item()) and math.isnan(torch.logdet(torch.tensor(a)).item())


def test_det_sign_and_pivots():
    torch = torch_or_skip()
    for seed in range(5):
        a = draw((5, 5), seed)
        np.testing.assert_allclose(cgrad.det(cgrad.tensor(a)).item(), torch.det(torch.tensor(a)).item(),
                                   rtol=1e-12)


def test_finite_differences():
    a = cgrad.tensor(draw((2, 3, 3), 3, "well"), requires_grad=True)
    for f in (cgrad.inverse, cgrad.det, cgrad.pinverse, lambda x: cgrad.pinverse(x[..., :2]),
              lambda x: cgrad.slogdet(x)[1], cgrad.logdet, cgrad.matrix_exp,
              lambda x: cgrad.matrix_power(x, -2)):
        assert gradcheck(f, (a,))
        assert gradgradcheck(f, (a,))


# ---------------------------------------------------------------- pinverse

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (3, 3), (2, 3, 5), (2, 1, 5, 2), (1, 1), (0, 3), (2, 4, 0)],
                         ids=str)
def test_pinverse(shape, dtype):
    rtol = 1e-3 if dtype == "float32" else 1e-8
    out = compare(lambda m, a: m.pinverse(a), [draw(shape, 5)], dtype, rtol=rtol)
    compare(lambda m, a: a.mT.pinverse(rcond=1e-10), [draw(shape, 5)], dtype, rtol=rtol)
    compare(lambda m, a: m.linalg.pinv(a), [draw(shape, 5)], dtype, rtol=rtol)
    if out.numel():
        assert out.grad_fn.name() == "LinalgPinvBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
def test_pinverse_of_rank_deficient_matrices(dtype):
    rtol = 1e-3 if dtype == "float32" else 1e-8
    low_rank = draw((4, 2), 6) @ draw((2, 5), 7)  # rank 2
    compare(lambda m, a: m.pinverse(a, rcond=1e-5), [low_rank], dtype, rtol=rtol, second=False)
    compare(lambda m, a: m.pinverse(a, 0.5), [draw((3, 4), 8)], dtype, rtol=rtol, second=False)
    out = cgrad.pinverse(cgrad.zeros(3, 2, dtype=getattr(cgrad, dtype)))
    assert out.shape == (2, 3) and not out.any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [dict(atol=0.01), dict(atol=0.0), dict(atol=0.01, rtol=0.5), dict(atol=3.0),
                                dict(atol=1e-9, rtol=0.0), dict(atol=2)], ids=str)
def test_pinv_tolerances(kw, dtype):
    """atol and rtol as torch's: values at most max(atol, rtol * largest)
    count as 0; with atol > 0 alone, rtol is 0."""
    a = np.array([[1.0, 2.0], [2.0, 4.001]])
    batch = np.stack([a, draw((2, 2), 3), 1e-3 * draw((2, 2), 4)])
    rtol = 1e-3 if dtype == "float32" else 1e-7
    compare(lambda m, x: m.linalg.pinv(x, **kw), [batch], dtype, rtol=rtol, second=False)
    compare(lambda m, x: m.linalg.pinv(x, **kw), [draw((3, 4), 5)], dtype, rtol=rtol)


PINV_ERRORS = [
    lambda m: m.pinverse(m.tensor([[math.nan, 0.0], [0.0, 1.0]])),
    lambda m: m.pinverse(m.randn(3)),
    lambda m: m.pinverse(m.ones(3, 3, dtype=m.int64)),
    lambda m: m.pinverse(m.randn(3, 3), rcond="a"),
]


@pytest.mark.parametrize("k", range(len(PINV_ERRORS)))
def test_pinverse_errors(k):
    same_error(PINV_ERRORS[k])


# ---------------------------------------------------------------- matrix_exp

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [0.01, 1.0, 4.0])
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4), (0, 0), (2, 0, 0)], ids=str)
def test_matrix_exp(shape, scale, dtype):
    rtol = 1e-3 if dtype == "float32" else 1e-9
    a = draw(shape, 4) * scale
    compare(lambda m, x: m.matrix_exp(x), [a], dtype, rtol=rtol)
    compare(lambda m, x: x.mT.matrix_exp(), [a], dtype, rtol=rtol)
    compare(lambda m, x: m.linalg.matrix_exp(x), [a], dtype, rtol=rtol)


def test_matrix_exp_is_one_node_as_torchs():
    torch = torch_or_skip()
    for shape in ((3, 3), (2, 4, 4), (1, 1), (2, 0, 0)):
        ys = [lib.matrix_exp(lib.tensor(draw(shape, 3), requires_grad=True)) for lib in (cgrad, torch)]
        assert graph_names(ys[0]) == graph_names(ys[1]), shape
        assert ys[0].grad_fn.name() == "LinalgMatrixExpBackward0"
    a = cgrad.tensor(draw((2, 3, 3), 4), requires_grad=True)
    assert gradgradcheck(cgrad.linalg.matrix_exp, (a,))


@pytest.mark.parametrize("dtype", DTYPES)
def test_matrix_exp_of_non_finite_matrices(dtype):
    """A matrix with a NaN or an infinity gives NaN, as torch's; the others of
    its batch are exact still, however large."""
    big = draw((3, 3), 1) * 20
    for bad in (math.inf, -math.inf, math.nan):
        a = np.stack([big, np.full((3, 3), bad), draw((3, 3), 2)])
        a[1, 0, 0] = 1.0
        compare(lambda m, x: m.matrix_exp(x), [a], dtype, rtol=1e-4 if dtype == "float32" else 1e-9, second=False)
        compare(lambda m, x: m.linalg.matrix_exp(x), [a[1]], dtype, second=False)


def test_matrix_exp_of_known_matrices():
    rot = cgrad.matrix_exp(cgrad.tensor([[0.0, -math.pi / 2], [math.pi / 2, 0.0]], dtype=cgrad.float64))
    np.testing.assert_allclose(rot.numpy(), [[0.0, -1.0], [1.0, 0.0]], atol=1e-14)
    d = cgrad.matrix_exp(cgrad.tensor([[1.0, 0.0], [0.0, -30.0]], dtype=cgrad.float64))
    np.testing.assert_allclose(d.numpy(), [[math.e, 0.0], [0.0, math.exp(-30)]], rtol=1e-12, atol=0)


# ---------------------------------------------------------------- cgrad.linalg

def test_linalg_namespace():
    assert sorted(cgrad.linalg.__all__) == [
        "LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig", "eigh", "eigvals",
        "eigvalsh", "householder_product", "inv", "inv_ex", "ldl_factor", "ldl_factor_ex", "ldl_solve", "lstsq", "lu",
        "lu_factor", "lu_factor_ex", "lu_solve",
        "matmul", "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr",
        "slogdet", "solve", "solve_ex", "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve", "vander",
        "vecdot", "vector_norm"]
    assert all(callable(getattr(cgrad.linalg, name)) for name in cgrad.linalg.__all__)
    a = cgrad.tensor(draw((3, 3), 0, "well"))
    assert cgrad.linalg.matrix_power(a, 2).allclose(a @ a)
    assert cgrad.linalg.inv(a).allclose(cgrad.inverse(a))


# ---------------------------------------------------------------- vector_norm, matrix_norm

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("args", [(), (1, -1), (math.inf, (0, 2), True), (0,), (-1, 1), (3.5, ()), (-math.inf, 0),
                                  (2, None, True), (0.5, (1, 2))], ids=str)
def test_vector_norm(args, dtype):
    a = draw((2, 3, 4), 6)
    out = compare(lambda m, x: m.linalg.vector_norm(x, *args), [a], dtype, rtol=1e-4 if dtype == "float32" else None)
    assert out.grad_fn.name() == "LinalgVectorNormBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("args", [(), (1,), (-1,), (math.inf,), (-math.inf, (-2, -1), True), ("fro", (0, 2)),
                                  (1, (2, 0)), (math.inf, (0, 1), True), (-1, (1, 0))], ids=str)
def test_matrix_norm(args, dtype):
    torch = torch_or_skip()
    a = draw((2, 3, 4), 7)
    compare(lambda m, x: m.linalg.matrix_norm(x, *args), [a], dtype, rtol=1e-4 if dtype == "float32" else None)
    ys = [lib.linalg.matrix_norm(lib.tensor(a, requires_grad=True), *args) for lib in (cgrad, torch)]
    assert graph_names(ys[0]) == graph_names(ys[1])


NORM_ERRORS = [
    lambda m: m.linalg.vector_norm(m.ones(2, dtype=m.int64)),
    lambda m: m.linalg.vector_norm(m.ones(2), "fro"),
    lambda m: m.linalg.vector_norm(m.ones(2, 2), dim=3),
    lambda m: m.linalg.vector_norm(m.ones(2, 2), 2, (0, 0)),
    lambda m: m.linalg.vector_norm(m.zeros(0, 2), math.inf),
    lambda m: m.linalg.vector_norm(m.zeros(0, 2), -1),
    lambda m: m.linalg.vector_norm(m.zeros(2, 0), -2.5, 1),
    lambda m: m.linalg.matrix_norm(m.ones(2), 1),
    lambda m: m.linalg.matrix_norm(m.ones(2, 2), 3),
    lambda m: m.linalg.matrix_norm(m.ones(2, 2), "abc"),
    lambda m: m.linalg.matrix_norm(m.ones(2, 2, dtype=m.int64)),
    lambda m: m.linalg.matrix_norm(m.ones(2, 2), 1, (0, 0)),
    lambda m: m.linalg.matrix_norm(m.ones(2, 2), 1, (0, 5)),
    lambda m: m.linalg.matrix_norm(m.ones(2, 2), 1, (0,)),
]


@pytest.mark.parametrize("k", range(len(NORM_ERRORS)))
def test_norm_errors(k):
    same_error(NORM_ERRORS[k])


def test_norms_of_empty_tensors():
    compare(lambda m, x: m.linalg.vector_norm(x, math.inf, 1), [np.zeros((0, 2))])
    compare(lambda m, x: m.linalg.vector_norm(x, 0), [np.zeros((0, 2))])
    compare(lambda m, x: m.linalg.matrix_norm(x, 1), [np.zeros((2, 0, 3))])
    compare(lambda m, x: m.linalg.matrix_norm(x), [np.zeros((2, 0, 3))])
