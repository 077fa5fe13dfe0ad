"""The first slice of ops and tensor behaviour, checked against torch, numpy and
finite differences (see helpers.check_op)."""
import collections
import math
import operator

import numpy as np
import pytest

import cgrad
from helpers import check_op

DTYPES = ["float64", "float32"]


def sigmoid_np(a):
    return 1.0 / (1.0 + np.exp(-a))


# ---------------------------------------------------------------- binary ops

BROADCAST_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((2, 1, 4), (3, 1)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((1,), (5,)),
    ((5, 1), (1, 5)),
    ((1,), (1,)),
    ((), ()),
]

# name -> (fn, numpy reference, input domains)
BINARY = {
    "add": (lambda m, a, b: a + b, np.add, None),
    "sub": (lambda m, a, b: a - b, np.subtract, None),
    "mul": (lambda m, a, b: a * b, np.multiply, None),
    "div": (lambda m, a, b: a / b, np.divide, [None, "nonzero"]),
}

BINARY_FORMS = {
    "a.add(b)": (lambda m, a, b: a.add(b), np.add, None),
    "cgrad.add(a, b)": (lambda m, a, b: m.add(a, b), np.add, None),
    "a.sub(b)": (lambda m, a, b: a.sub(b), np.subtract, None),
    "cgrad.sub(a, b)": (lambda m, a, b: m.sub(a, b), np.subtract, None),
    "a.mul(b)": (lambda m, a, b: a.mul(b), np.multiply, None),
    "cgrad.mul(a, b)": (lambda m, a, b: m.mul(a, b), np.multiply, None),
    "a.div(b)": (lambda m, a, b: a.div(b), np.divide, [None, "nonzero"]),
    "cgrad.div(a, b)": (lambda m, a, b: m.div(a, b), np.divide, [None, "nonzero"]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcast(name, shapes, dtype):
    fn, ref, domain = BINARY[name]
    check_op(fn, *shapes, np_fn=ref, dtype=dtype, domain=domain)


@pytest.mark.parametrize("form", BINARY_FORMS)
def test_binary_method_and_function_forms(form):
    fn, ref, domain = BINARY_FORMS[form]
    check_op(fn, (3, 4), (4,), np_fn=ref, domain=domain)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 3, 4), (3, 1))], ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_noncontiguous(name, shapes, dtype):
    fn, ref, domain = BINARY[name]
    check_op(fn, *shapes, np_fn=ref, dtype=dtype, domain=domain, noncontig=True)


@pytest.mark.parametrize("requires_grad", [(True, False), (False, True)], ids=["a-only", "b-only"])
@pytest.mark.parametrize("name", BINARY)
def test_binary_grad_flows_only_to_inputs_that_require_it(name, requires_grad):
    fn, ref, domain = BINARY[name]
    check_op(fn, (3, 4), (4,), np_fn=ref, domain=domain, requires_grad=requires_grad)


# Python scalars on either side, including the reflected operators.
SCALAR_FORMS = {
    "x + 2": (lambda m, x: x + 2, lambda a: a + 2, None),
    "2 + x": (lambda m, x: 2 + x, lambda a: 2 + a, None),
    "x - 1.5": (lambda m, x: x - 1.5, lambda a: a - 1.5, None),
    "1 - x": (lambda m, x: 1 - x, lambda a: 1 - a, None),
    "x * 3": (lambda m, x: x * 3, lambda a: a * 3, None),
    "2 * x": (lambda m, x: 2 * x, lambda a: 2 * a, None),
    "x / 4": (lambda m, x: x / 4, lambda a: a / 4, None),
    "1 / x": (lambda m, x: 1 / x, lambda a: 1 / a, "nonzero"),
    "x.add(2)": (lambda m, x: x.add(2), lambda a: a + 2, None),
    "x.mul(0.5)": (lambda m, x: x.mul(0.5), lambda a: a * 0.5, None),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", SCALAR_FORMS)
def test_binary_with_python_scalar(form, dtype):
    fn, ref, domain = SCALAR_FORMS[form]
    check_op(fn, (3, 4), np_fn=ref, dtype=dtype, domain=domain)


# ---------------------------------------------------------------- pow

# exponent -> domain of the base (fractional and negative powers need base > 0)
POW_EXPONENTS = [(0, None), (1, None), (2, None), (3, None), (0.5, (0.5, 2.0)),
                 (-1, (0.5, 2.0)), (2.5, (0.5, 2.0)), (-2, "nonzero")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (3, 4)], ids=str)
@pytest.mark.parametrize("exponent, domain", POW_EXPONENTS, ids=[str(e) for e, _ in POW_EXPONENTS])
def test_pow_tensor_scalar(exponent, domain, shape, dtype):
    check_op(lambda m, x: x ** exponent, shape, np_fn=lambda a: a ** float(exponent),
             dtype=dtype, domain=domain)


@pytest.mark.parametrize("form", [
    lambda m, x: x.pow(3),
    lambda m, x: m.pow(x, 3),
], ids=["x.pow(3)", "cgrad.pow(x, 3)"])
def test_pow_tensor_scalar_forms(form):
    check_op(form, (3, 4), np_fn=lambda a: a ** 3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("base", [2, 0.5, 2.5])
@pytest.mark.parametrize("form", ["operator", "function"])
def test_pow_scalar_tensor(form, base, dtype):
    fn = (lambda m, x: base ** x) if form == "operator" else (lambda m, x: m.pow(base, x))
    check_op(fn, (3, 4), np_fn=lambda a: float(base) ** a, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((), (2, 3)),
                                    ((5, 1), (1, 5)), ((1,), (1,))], ids=str)
def test_pow_tensor_tensor(shapes, dtype):
    check_op(lambda m, a, b: a ** b, *shapes, np_fn=np.power, dtype=dtype,
             domain=[(0.5, 2.0), None])


@pytest.mark.parametrize("form", [lambda m, a, b: a.pow(b), lambda m, a, b: m.pow(a, b)],
                         ids=["a.pow(b)", "cgrad.pow(a, b)"])
def test_pow_tensor_tensor_forms(form):
    check_op(form, (3, 4), (4,), np_fn=np.power, domain=[(0.5, 2.0), None])


def test_pow_tensor_tensor_noncontiguous():
    check_op(lambda m, a, b: a ** b, (3, 4), (3, 4), np_fn=np.power,
             domain=[(0.5, 2.0), None], noncontig=True)


# ---------------------------------------------------------------- matmul

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((3, 1), (1, 1)),
    ((1, 1), (1, 1)),
    ((1,), (1,)),
    ((2, 2, 3), (2, 3, 4)),
    ((2, 2, 3), (3, 4)),
    ((2, 3), (2, 3, 4)),
    ((2, 1, 2, 3), (3, 3, 4)),
    ((2, 2, 3), (3,)),
    ((3,), (2, 3, 4)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes, dtype):
    check_op(lambda m, a, b: a @ b, *shapes, np_fn=np.matmul, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [s for s in MATMUL_SHAPES if max(len(s[0]), len(s[1])) >= 2], ids=str)
def test_matmul_noncontiguous(shapes, dtype):
    check_op(lambda m, a, b: a @ b, *shapes, np_fn=np.matmul, dtype=dtype, noncontig=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["broadcast scalar", "broadcast row", "every other column"])
def test_matmul_of_layouts_blas_cannot_read(layout, dtype):
    """Operands BLAS cannot read are copied out first; the copy keeps every value."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((40, 60)).astype(dtype)
    if layout == "broadcast scalar":
        b_np = np.broadcast_to(np.array(1.5, dtype), (60, 50))
        b = cgrad.tensor(np.array(1.5, dtype)).expand(60, 50)
    elif layout == "broadcast row":
        row = rng.standard_normal(50).astype(dtype)
        b_np = np.broadcast_to(row, (60, 50))
        b = cgrad.tensor(row).expand(60, 50)
    else:
        wide = rng.standard_normal((60, 100)).astype(dtype)
        b_np = wide[:, ::2]
        b = cgrad.tensor(wide)[:, ::2]
    tol = 1e-5 if dtype == "float32" else 1e-12
    for x, y, x_np, y_np in ((cgrad.tensor(a), b, a, b_np), (b.T, cgrad.tensor(a.T.copy()), b_np.T, a.T)):
        # a sum that cancels keeps only its absolute error: bound it by the sum of magnitudes
        err = np.abs((x @ y).numpy().astype(np.float64) - x_np.astype(np.float64) @ y_np.astype(np.float64))
        assert (err <= tol * (np.abs(x_np).astype(np.float64) @ np.abs(y_np).astype(np.float64))).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, k, n", [(31, 16, 16), (32, 16, 16), (100, 16, 16), (100, 2, 3), (40, 64, 64),
                                     (40, 64, 65), (100, 16, 1)], ids=str)
def test_matmul_by_transposed_right_operand(m, k, n, dtype):
    """a @ w.T, the product a linear layer's input gradient needs: a small w
    is copied row-major before BLAS reads it, a large one read as is."""
    rng = np.random.default_rng(1)
    a_np, w_np = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((n, k)).astype(dtype)
    a, w = cgrad.tensor(a_np, requires_grad=True), cgrad.tensor(w_np, requires_grad=True)
    out = a @ w.T
    exact = a_np.astype(np.float64) @ w_np.T.astype(np.float64)
    bound = np.abs(a_np).astype(np.float64) @ np.abs(w_np.T).astype(np.float64)
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert out.shape == (m, n) and (np.abs(out.detach().numpy() - exact) <= tol * bound).all()
    g_np = rng.standard_normal((m, n)).astype(dtype)
    out.backward(cgrad.tensor(g_np))
    torch = pytest.importorskip("torch")
    ta, tw = torch.tensor(a_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
    (ta @ tw.T).backward(torch.tensor(g_np))
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=tol * 10, atol=tol * 10)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=tol * 10, atol=tol * 10)


def _fma_in_k_order(a, b):
    """out[i, j] = fma(a[i, K-1], b[K-1, j], ... fma(a[i, 0], b[0, j], 0)), each
    step rounded once to a's dtype, computed exactly with fractions."""
    from fractions import Fraction
    dtype = a.dtype

    def rounded(x):
        d = np.float64(float(x))  # int / int: correctly rounded to float64
        if dtype == np.float64:
            return d
        f = np.float32(d)
        g = np.nextafter(f, np.float32(np.inf) if d > f else np.float32(-np.inf))
        mid = (Fraction(float(f)) + Fraction(float(g))) / 2
        if g == f or Fraction(float(d)) != mid or x == mid:
            return f  # no double rounding, or a true tie that float32(d) broke to even
        return max(f, g) if x > mid else min(f, g)

    out = np.empty((a.shape[0], b.shape[1]), dtype)
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            acc = np.zeros((), dtype)[()]
            for k in range(a.shape[1]):
                acc = rounded(Fraction(float(a[i, k])) * Fraction(float(b[k, j])) + Fraction(float(acc)))
            out[i, j] = acc
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, k, n, layout", [
    (1, 1, 2, "plain"), (3, 2, 16, "plain"), (7, 3, 9, "plain"), (8, 2, 17, "plain"), (9, 5, 31, "plain"),
    (17, 2, 32, "plain"), (100, 2, 16, "plain"), (100, 1, 16, "plain"), (12, 4, 40, "plain"),
    (2, 100, 16, "a transposed"), (16, 3, 33, "a transposed"), (20, 2, 8, "b transposed"),
    (10, 3, 1, "plain")], ids=str)
def test_small_matmul_sums_in_k_order(m, k, n, layout, dtype):
    """A product too small for BLAS sums each output in k order from 0, one
    fused multiply-add per step, on every CPU and at every vector width: the
    same bits whichever loop runs it (8 rows and 2 vectors of columns at a
    time, masked tails; or one row)."""
    rng = np.random.default_rng(2)
    a_np = rng.standard_normal((k, m) if layout == "a transposed" else (m, k)).astype(dtype)
    b_np = rng.standard_normal((n, k) if layout == "b transposed" else (k, n)).astype(dtype)
    a, b = cgrad.tensor(a_np), cgrad.tensor(b_np)
    if layout == "a transposed":
        a, a_np = a.T, a_np.T
    if layout == "b transposed":
        b, b_np = b.T, b_np.T
    got = (a @ b).numpy()
    assert got.dtype == np.dtype(dtype) and got.shape == (m, n)
    np.testing.assert_array_equal(got.view(np.uint64 if dtype == "float64" else np.uint32),
                                  _fma_in_k_order(a_np, b_np).view(np.uint64 if dtype == "float64" else np.uint32))


def _fma_in_lanes(a, b, lanes=8):
    """out[i] = the dot product of a's row i with b's column, in the order of
    Note [Lanes of a dot]: lane c sums the terms k = c, c + lanes, ... in k
    order, one rounded fused multiply-add each from 0; then the lanes are
    added in halves (c + 4 into c, c + 2 into c, 1 into 0)."""
    out = np.empty((a.shape[0], 1), a.dtype)
    for i in range(a.shape[0]):
        acc = [_fma_in_k_order(a[i:i + 1, c::lanes], b[c::lanes, :])[0, 0] for c in range(lanes)]
        while len(acc) > 1:
            half = len(acc) // 2
            acc = [acc[c] + acc[c + half] for c in range(half)]  # numpy scalars: rounded in a's dtype
        out[i, 0] = acc[0]
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, k, form", [(100, 16, "mm"), (3, 13, "mm"), (1, 20, "mm"), (5, 8, "mm"),
                                        (9, 31, "b strided"), (6, 17, "a strided"), (7, 9, "mv"), (1, 11, "dot")],
                         ids=str)
def test_small_dot_products_sum_in_lanes(m, k, form, dtype):
    """A product of the rows of a (a's columns not contiguous) with one column
    of b, too small for BLAS (a layer of one output, mv, dot), sums each
    output in 8 lanes and adds them in a fixed order: the same bits at every
    vector width and whatever the strides."""
    rng = np.random.default_rng(4)
    a_wide = rng.standard_normal((m, 2 * k)).astype(dtype)
    a_np = a_wide[:, ::2] if form == "a strided" else np.ascontiguousarray(a_wide[:, :k])
    wide = rng.standard_normal((k, 3)).astype(dtype)
    b_np = wide[:, 1:2] if form == "b strided" else np.ascontiguousarray(wide[:, :1])
    a = cgrad.tensor(a_wide)[:, ::2] if form == "a strided" else cgrad.tensor(a_np)
    if form == "b strided":
        got = a @ cgrad.tensor(wide)[:, 1:2]
    elif form == "mv":
        got = cgrad.mv(a, cgrad.tensor(b_np[:, 0])).reshape(m, 1)
    elif form == "dot":
        got = cgrad.dot(a[0], cgrad.tensor(b_np[:, 0])).reshape(1, 1)
    else:
        got = a @ cgrad.tensor(b_np)
    bits = np.uint64 if dtype == "float64" else np.uint32
    np.testing.assert_array_equal(got.numpy().view(bits), _fma_in_lanes(a_np, b_np).view(bits))


@pytest.mark.parametrize("dtype", DTYPES + ["int64"])
@pytest.mark.parametrize("m, k, n", [(5, 3, 4), (64, 80, 96)], ids=str)
@pytest.mark.parametrize("repeats", ["rows of a", "columns of b", "a scalar in a", "a scalar in b"])
def test_matmul_of_an_operand_that_repeats(repeats, m, k, n, dtype):
    """An operand expanded with stride 0 down a's rows or across b's columns
    (the gradient of a product's .sum()) gives an out whose rows (columns)
    are all the same: one is computed and copied. Below BLAS's size the
    bits are those of the same product of dense operands."""
    rng = np.random.default_rng(3)
    a_np = rng.standard_normal((m, k)) * 4
    b_np = rng.standard_normal((k, n)) * 4
    if dtype == "int64":
        a_np, b_np = a_np.round(), b_np.round()
    a_np, b_np = a_np.astype(dtype), b_np.astype(dtype)
    a, b = cgrad.tensor(a_np), cgrad.tensor(b_np)
    if repeats == "rows of a":
        a = cgrad.tensor(a_np[1]).expand(m, k)
    elif repeats == "columns of b":
        b = cgrad.tensor(b_np[:, 1:2]).expand(k, n)
    elif repeats == "a scalar in a":
        a = cgrad.tensor(a_np[0, 0]).expand(m, k)
    else:
        b = cgrad.tensor(b_np[0, 0]).expand(k, n)
    assert 0 in a.stride() + b.stride()
    got, dense = (a @ b).numpy(), (a.contiguous() @ b.contiguous()).numpy()
    x, y = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
    if dtype == "int64" or m * k * n < 4096:
        np.testing.assert_array_equal(got, dense)
    else:
        tol = 1e-5 if dtype == "float32" else 1e-12
        assert (np.abs(got - x @ y) <= tol * (np.abs(x) @ np.abs(y))).all()
    if repeats in ("rows of a", "a scalar in a"):
        assert (got == got[:1]).all()
    else:
        assert (got == got[:, :1]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, k, n", [(32, 16, 16), (40, 17, 33), (32, 64, 64), (33, 100, 7), (50, 8, 24),
                                     (100, 16, 16), (32, 64, 63), (16, 64, 64), (20, 33, 47), (24, 100, 17),
                                     (16, 16, 300), (31, 16, 16)], ids=str)
def test_matmul_by_a_small_transposed_operand(m, k, n, dtype):
    """a @ b.T with many rows of a and a small b is copied to b.T's row-major
    layout first (by 16x16 or 8x8 tiles on AVX-512, the edges one by one);
    with 16 to 31 rows, it is (b @ a.T).T, both transposes by tiles: the
    values of float64 products."""
    rng = np.random.default_rng(8)
    a_np, b_np = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((n, k)).astype(dtype)
    got = (cgrad.tensor(a_np) @ cgrad.tensor(b_np).T).numpy()
    want = a_np.astype(np.float64) @ b_np.T.astype(np.float64)
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert (np.abs(got - want) <= tol * (np.abs(a_np.astype(np.float64)) @ np.abs(b_np.T.astype(np.float64)))).all()


def _exact_products(a, b):
    """a @ b summed exactly (each float32 product is exact in float64), as float64."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    return np.array([[math.fsum(x[i] * y[:, j]) for j in range(y.shape[1])] for i in range(x.shape[0])])


@pytest.mark.parametrize("m, k, n", [(4, 8, 16), (3, 300, 2), (16, 64, 64), (64, 64, 16), (40, 64, 40)], ids=str)
@pytest.mark.parametrize("layout", ["plain", "a transposed", "b transposed", "both transposed"])
@pytest.mark.parametrize("tiny", ["a subnormal", "b subnormal", "both subnormal", "products subnormal",
                                  "a wide range"])
def test_float32_matmul_near_subnormals(tiny, layout, m, k, n):
    """A float32 product that reads subnormals or whose products fall to
    them (an RNN's gradient after many tanh steps) is computed with no
    subnormal term: its operands scaled by powers of two and the outputs
    scaled back, each rounded once, so the sums round as a normal product's
    do; or, when the range is too wide to scale, summed in float64 and each
    output rounded once. Subnormal outputs included, on every layout, for
    operands scanned for small magnitudes and for operands too big to scan
    (the product then runs under flush-to-zero with the CPU's flags
    watched): 4x8 @ 8x16 and 3x300 @ 300x2 scan both, 16x64 @ 64x64 a only,
    64x64 @ 64x16 b only, 40x64 @ 64x40 neither."""
    rng = np.random.default_rng(6)
    a_np = rng.standard_normal((m, k))
    b_np = rng.standard_normal((k, n))
    if tiny == "a subnormal":
        a_np *= 2.0 ** -130
    elif tiny == "b subnormal":
        b_np *= 2.0 ** -130
    elif tiny == "both subnormal":
        a_np *= 2.0 ** -130
        b_np *= 2.0 ** -128
    elif tiny == "products subnormal":
        a_np *= 2.0 ** -70
        b_np *= 2.0 ** -70
    else:
        a_np *= 2.0 ** -130
        a_np[0, 0] = 2.0 ** 100
    a_np, b_np = a_np.astype(np.float32), b_np.astype(np.float32)
    a = cgrad.tensor(a_np.T.copy()).T if layout in ("a transposed", "both transposed") else cgrad.tensor(a_np)
    b = cgrad.tensor(b_np.T.copy()).T if layout in ("b transposed", "both transposed") else cgrad.tensor(b_np)
    assert a.is_contiguous() == (layout in ("plain", "b transposed"))
    assert b.is_contiguous() == (layout in ("plain", "a transposed"))
    got = (a @ b).numpy()
    exact = _exact_products(a_np, b_np)
    assert got.dtype == np.float32
    step = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    if tiny == "a wide range":  # float64 sums: one rounding from the exact sum
        assert (np.abs(got - exact) <= step).all()
    else:  # float32 sums of normal numbers, then one rounding
        bound = step + k * 2.0 ** -24 * (np.abs(a_np.astype(np.float64)) @ np.abs(b_np.astype(np.float64)))
        assert (np.abs(got - exact) <= bound).all()
    small = np.abs(exact) < np.finfo(np.float32).tiny
    assert small.any()  # outputs in the subnormal range


def test_float32_matmul_near_subnormals_does_not_overflow_a_scaled_operand():
    """An operand lifted out of the subnormal range must still fit in float32:
    here a's 2**60 would become 2**137, so the product goes to float64."""
    a_np = np.ones((16, 16), np.float32)
    a_np[0, 0], a_np[1, 1] = 2.0 ** -140, 2.0 ** 60
    b_np = np.full((16, 16), 2.0 ** -60, np.float32)
    got = (cgrad.tensor(a_np) @ cgrad.tensor(b_np)).numpy()
    exact = _exact_products(a_np, b_np)
    assert np.isfinite(got).all()
    assert (np.abs(got - exact) <= np.spacing(np.abs(exact).astype(np.float32))).all()


@pytest.mark.parametrize("scale", [2.0 ** -140, 2.0 ** -70, 2.0 ** -30], ids=["subnormal", "products subnormal",
                                                                              "normal"])
def test_float32_matmul_near_subnormals_depends_on_values_alone(scale):
    """Whether a product takes the way around subnormals is decided by what
    its float32 run meets, not by its shape: a row alone, the same row
    repeated by an expanded view, copied dense, or among other rows give
    the same bits; so do one BLAS thread and two."""
    rng = np.random.default_rng(9)
    row = (rng.standard_normal((1, 8)) * scale).astype(np.float32)
    b = cgrad.tensor((rng.standard_normal((8, 16)) * 2.0 ** -10).astype(np.float32))
    alone = (cgrad.tensor(row) @ b).numpy()[0]
    expanded = cgrad.tensor(row).expand(64, 8)
    for batch in (expanded, expanded.contiguous(),
                  cgrad.tensor(np.concatenate([row, rng.standard_normal((3, 8)).astype(np.float32)]))):
        np.testing.assert_array_equal((batch @ b).numpy()[0].view(np.uint32), alone.view(np.uint32))
    big_a = rng.standard_normal((4096, 512)).astype(np.float32)
    big_a[-64:] *= np.float32(scale)
    big_b = rng.standard_normal((512, 64)).astype(np.float32)
    threads = cgrad.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            cgrad.set_num_threads(n)
            results.append((cgrad.tensor(big_a) @ cgrad.tensor(big_b)).numpy())
    finally:
        cgrad.set_num_threads(threads)
    np.testing.assert_array_equal(results[0].view(np.uint32), results[1].view(np.uint32))


def test_float32_matmul_of_nans_near_subnormals():
    """An operand of NaNs alone, against a subnormal one: NaNs, as IEEE's."""
    a = cgrad.full((16, 64), float("nan"), dtype=cgrad.float32)
    b = cgrad.full((64, 16), 2.0 ** -140, dtype=cgrad.float32)
    assert np.isnan((a @ b).numpy()).all() and np.isnan((b.T @ a.T).numpy()).all()


@pytest.mark.parametrize("m, k, n", [(1, 64, 4), (16, 64, 64), (1, 64, 64)], ids=str)
@pytest.mark.parametrize("tiny", ["a", "b"])
def test_float32_matmul_keeps_products_below_the_subnormal_step(m, k, n, tiny):
    """64 products of 2**-150 each: IEEE float32 sums round every one to 0
    (a tie, to even); scaled out of the subnormal range, they are all kept,
    2**-144."""
    a = cgrad.full((m, k), 2.0 ** (-140 if tiny == "a" else -10), dtype=cgrad.float32)
    b = cgrad.full((k, n), 2.0 ** (-140 if tiny == "b" else -10), dtype=cgrad.float32)
    assert ((a @ b).numpy() == np.float32(2.0 ** -144)).all()
    assert ((b.T @ a.T).numpy() == np.float32(2.0 ** -144)).all()


@pytest.mark.parametrize("layout", ["dense", "strided"])
@pytest.mark.parametrize("fn", ["tanh", "sigmoid"])
@pytest.mark.parametrize("scale", [1.0, 2.0 ** -100, 2.0 ** -130], ids=["normal", "products subnormal", "subnormal"])
def test_float32_tanh_and_sigmoid_gradients_near_subnormals(fn, scale, layout):
    """Their float32 backward loops take each product through float64 where
    an operand is small (no multiply meets a subnormal there), to the bits
    of IEEE float32 arithmetic: g * (1 - y * y) and g * (1 - y) * y, one
    rounding per operation, with subnormal gradients and products, outputs
    that round to 0 or 1, and signed zeros; the small gradients fill the
    last 1,200 of 2,257 elements, so runs of both kinds meet in one loop."""
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((37, 61)) * 3).astype(np.float32)
    x[0, :6] = [2.0 ** -70, -(2.0 ** -80), 0.0, -0.0, 20.0, -23.0]
    x.reshape(-1)[-6:] = x[0, :6]
    g = rng.standard_normal((37, 61))
    g.reshape(-1)[-1200:] *= scale
    g = g.astype(np.float32)
    g.reshape(-1)[-12:-9] = [0.0, -0.0, 2.0 ** -149]
    t = cgrad.tensor(x, requires_grad=True)
    y = getattr(t, fn)()
    y.backward(cgrad.tensor(g.T.copy()).T if layout == "strided" else cgrad.tensor(g))
    y, one = y.detach().numpy(), np.float32(1)
    want = g * (one - y * y) if fn == "tanh" else g * (one - y) * y
    assert want.dtype == np.float32
    np.testing.assert_array_equal(t.grad.numpy().view(np.uint32), want.view(np.uint32))
    assert (np.abs(want[want != 0]) < np.finfo(np.float32).tiny).any() == (scale < 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradients_of_a_product_sum_match_torch(dtype):
    """(relu(A @ B) @ C).sum(): both products' gradients start from the
    expanded gradient of the sum."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((70, 90), (90, 60), (60, 50))]
    ours = [cgrad.tensor(x, requires_grad=True) for x in arrays]
    theirs = [torch.tensor(x, requires_grad=True) for x in arrays]
    ((ours[0] @ ours[1]).relu() @ ours[2]).sum().backward()
    ((theirs[0] @ theirs[1]).relu() @ theirs[2]).sum().backward()
    tol = 1e-4 if dtype == "float32" else 1e-10
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=tol, atol=tol)
    x = cgrad.tensor(arrays[0][:, :3].copy(), requires_grad=True)
    v = cgrad.tensor(arrays[1][:3, 0].copy(), requires_grad=True)
    tx, tv = (torch.tensor(t.detach().numpy(), requires_grad=True) for t in (x, v))
    (x @ v).sum().backward()  # a matrix-vector product
    (tx @ tv).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("form", [lambda m, a, b: a.matmul(b), lambda m, a, b: m.matmul(a, b)],
                         ids=["a.matmul(b)", "cgrad.matmul(a, b)"])
def test_matmul_forms(form):
    check_op(form, (2, 3), (3, 4), np_fn=np.matmul)


ROW_SHAPES = [((100, 16), (16,)), ((3, 5, 40), (5, 40)), ((7, 33), (1, 33)), ((2, 3), (3,)),
              ((64, 5), (5,)), ((9, 1, 70), (70,)), ((0, 16), (16,)), ((1, 16), (16,))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("shapes", ROW_SHAPES, ids=str)
def test_row_broadcast_to_a_batch_is_exact(shapes, op, dtype):
    """A row broadcast down a batch (a bias) gives, element by element, the
    bits of the one IEEE operation, on either side of the operator."""
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal(shapes[0]).astype(dtype)
    v_np = (rng.uniform(0.5, 2, shapes[1]) * rng.choice([-1, 1], shapes[1])).astype(dtype)
    fn, np_fn = BINARY[op][0], BINARY[op][1]
    x, v = cgrad.tensor(x_np), cgrad.tensor(v_np)
    for got, want in ((fn(cgrad, x, v), np_fn(x_np, v_np)), (fn(cgrad, v, x), np_fn(v_np, x_np))):
        assert got.dtype == getattr(cgrad, dtype) and got.shape == want.shape
        assert np.array_equal(got.numpy(), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dims", [((100, 16), (0,)), ((3, 4, 40), (0, 1)), ((2000, 16), (0,)),
                                         ((5000, 513), (0,)), ((257, 3), (0,)), ((300, 2, 33), (0,)),
                                         ((0, 16), (0,)), ((16, 0), (0,)), ((1, 16), (0,))], ids=str)
def test_sum_over_leading_dims_adds_rows_in_order(shape, dims, dtype):
    """Summing a batch over its first dims adds the rows in order from 0,
    whatever the blocks and chunks the sum goes in."""
    rng = np.random.default_rng(4)
    x_np = rng.standard_normal(shape).astype(dtype)
    rows = x_np.reshape(int(np.prod(shape[:len(dims)])), *shape[len(dims):])
    want = np.zeros(rows.shape[1:], dtype)
    for r in rows:
        want = want + r
    got = cgrad.tensor(x_np).sum(dims)
    assert got.dtype == getattr(cgrad, dtype) and np.array_equal(got.numpy(), want)
    assert np.array_equal(cgrad.tensor(x_np).sum(dims, keepdim=True).numpy(), want.reshape(
        (1,) * len(dims) + want.shape))


# ---------------------------------------------------------------- sum and mean

REDUCE_CASES = [
    ((2, 3, 4), {}),
    ((2, 3, 4), {"dim": 0}),
    ((2, 3, 4), {"dim": 1}),
    ((2, 3, 4), {"dim": -1}),
    ((2, 3, 4), {"dim": (0, 2)}),
    ((2, 3, 4), {"dim": (-1, -3)}),
    ((2, 3, 4), {"dim": 1, "keepdim": True}),
    ((2, 3, 4), {"dim": (0, 2), "keepdim": True}),
    ((2, 3, 4), {"dim": -2, "keepdim": False}),
    ((5,), {"dim": 0}),
    ((5,), {"dim": 0, "keepdim": True}),
    ((1,), {}),
    ((1, 1), {"dim": 1}),
    ((), {}),
]
NP_REDUCE = {"sum": np.sum, "mean": np.mean}


def reduce_fn(name, kwargs):
    return lambda m, x: getattr(x, name)(**kwargs)


def reduce_np(name, kwargs):
    return lambda a: NP_REDUCE[name](a, axis=kwargs.get("dim"), keepdims=kwargs.get("keepdim", False))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kwargs", REDUCE_CASES, ids=[f"{s}-{k}" for s, k in REDUCE_CASES])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_reduction(name, shape, kwargs, dtype):
    check_op(reduce_fn(name, kwargs), shape, np_fn=reduce_np(name, kwargs), dtype=dtype)


@pytest.mark.parametrize("kwargs", [{}, {"dim": 0}, {"dim": -1, "keepdim": True}], ids=str)
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_reduction_noncontiguous(name, kwargs):
    check_op(reduce_fn(name, kwargs), (3, 4), np_fn=reduce_np(name, kwargs), noncontig=True)


@pytest.mark.parametrize("form", [
    lambda m, x: x.sum(1),
    lambda m, x: x.sum(1, True),
    lambda m, x: m.sum(x),
    lambda m, x: m.sum(x, dim=1),
    lambda m, x: m.sum(x, 1, keepdim=True),
], ids=["x.sum(1)", "x.sum(1, True)", "cgrad.sum(x)", "cgrad.sum(x, dim=1)", "cgrad.sum(x, 1, keepdim=True)"])
def test_sum_forms(form):
    check_op(form, (3, 4))


@pytest.mark.parametrize("form", [
    lambda m, x: x.mean(1),
    lambda m, x: x.mean(1, True),
    lambda m, x: m.mean(x),
    lambda m, x: m.mean(x, dim=1),
    lambda m, x: m.mean(x, 1, keepdim=True),
], ids=["x.mean(1)", "x.mean(1, True)", "cgrad.mean(x)", "cgrad.mean(x, dim=1)", "cgrad.mean(x, 1, keepdim=True)"])
def test_mean_forms(form):
    check_op(form, (3, 4))


# ---------------------------------------------------------------- unary ops

# name -> (method form, function form, numpy reference, domain)
UNARY = {
    "exp": (lambda m, x: x.exp(), lambda m, x: m.exp(x), np.exp, None),
    "log": (lambda m, x: x.log(), lambda m, x: m.log(x), np.log, (0.2, 3.0)),
    "tanh": (lambda m, x: x.tanh(), lambda m, x: m.tanh(x), np.tanh, None),
    "sigmoid": (lambda m, x: x.sigmoid(), lambda m, x: m.sigmoid(x), sigmoid_np, None),
    "relu": (lambda m, x: x.relu(), lambda m, x: m.relu(x), lambda a: np.maximum(a, 0.0), None),
    "neg": (lambda m, x: x.neg(), lambda m, x: m.neg(x), np.negative, None),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (5,), (3, 4), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary(name, shape, dtype):
    method, _, ref, domain = UNARY[name]
    check_op(method, shape, np_fn=ref, dtype=dtype, domain=domain)


@pytest.mark.parametrize("name", UNARY)
def test_unary_function_form(name):
    _, function, ref, domain = UNARY[name]
    check_op(function, (3, 4), np_fn=ref, domain=domain)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_noncontiguous(name, dtype):
    method, _, ref, domain = UNARY[name]
    check_op(method, (2, 3, 4), np_fn=ref, dtype=dtype, domain=domain, noncontig=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unary_minus_operator(dtype):
    check_op(lambda m, x: -x, (3, 4), np_fn=np.negative, dtype=dtype)


def test_relu_gradient_at_zero_is_zero():
    x = cgrad.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    x.relu().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]


# ---------------------------------------------------------------- shape ops

# id -> (input shape, fn, numpy reference)
SHAPE_CASES = {
    "reshape(6, 4)": ((2, 3, 4), lambda m, x: x.reshape(6, 4), lambda a: a.reshape(6, 4)),
    "reshape(-1)": ((2, 3, 4), lambda m, x: x.reshape(-1), lambda a: a.reshape(-1)),
    "reshape(4, -1, 2)": ((2, 3, 4), lambda m, x: x.reshape(4, -1, 2), lambda a: a.reshape(4, -1, 2)),
    "reshape((3, 8))": ((2, 3, 4), lambda m, x: x.reshape((3, 8)), lambda a: a.reshape(3, 8)),
    "reshape 1-elem to 0-d": ((1,), lambda m, x: x.reshape(()), lambda a: a.reshape(())),
    "reshape 0-d to (1, 1)": ((), lambda m, x: x.reshape(1, 1), lambda a: a.reshape(1, 1)),
    "cgrad.reshape(x, (4, 6))": ((2, 3, 4), lambda m, x: m.reshape(x, (4, 6)), lambda a: a.reshape(4, 6)),
    "view(6, 4)": ((2, 3, 4), lambda m, x: x.view(6, 4), lambda a: a.reshape(6, 4)),
    "view(-1, 2)": ((2, 3, 4), lambda m, x: x.view(-1, 2), lambda a: a.reshape(-1, 2)),
    "transpose(0, 2)": ((2, 3, 4), lambda m, x: x.transpose(0, 2), lambda a: a.swapaxes(0, 2)),
    "transpose(-1, -2)": ((2, 3, 4), lambda m, x: x.transpose(-1, -2), lambda a: a.swapaxes(-1, -2)),
    "transpose(1, 1)": ((2, 3, 4), lambda m, x: x.transpose(1, 1), lambda a: a),
    "cgrad.transpose(x, 0, 1)": ((3, 4), lambda m, x: m.transpose(x, 0, 1), lambda a: a.T),
    "T": ((3, 4), lambda m, x: x.T, lambda a: a.T),
    "unsqueeze(0)": ((3, 4), lambda m, x: x.unsqueeze(0), lambda a: a[None]),
    "unsqueeze(2)": ((3, 4), lambda m, x: x.unsqueeze(2), lambda a: a[:, :, None]),
    "unsqueeze(-1)": ((3, 4), lambda m, x: x.unsqueeze(-1), lambda a: a[..., None]),
    "unsqueeze 0-d": ((), lambda m, x: x.unsqueeze(0), lambda a: a.reshape(1)),
    "cgrad.unsqueeze(x, 1)": ((3, 4), lambda m, x: m.unsqueeze(x, 1), lambda a: a[:, None]),
    "squeeze()": ((1, 3, 1, 4), lambda m, x: x.squeeze(), lambda a: a.squeeze()),
    "squeeze(2)": ((1, 3, 1, 4), lambda m, x: x.squeeze(2), lambda a: a.squeeze(2)),
    "squeeze(-4)": ((1, 3, 1, 4), lambda m, x: x.squeeze(-4), lambda a: a.squeeze(0)),
    "squeeze(1) of size 3 is a no-op": ((1, 3, 1, 4), lambda m, x: x.squeeze(1), lambda a: a),
    "squeeze 1-elem to 0-d": ((1,), lambda m, x: x.squeeze(), lambda a: a.reshape(())),
    "squeeze (1, 1)": ((1, 1), lambda m, x: x.squeeze(), lambda a: a.reshape(())),
    "cgrad.squeeze(x, 0)": ((1, 3), lambda m, x: m.squeeze(x, 0), lambda a: a[0]),
    "cgrad.squeeze(x)": ((3, 1), lambda m, x: m.squeeze(x), lambda a: a[:, 0]),
}

# shape ops that must also accept a non-contiguous input (view needs a contiguous one)
NONCONTIG_SHAPE_CASES = ["reshape(6, 4)", "reshape(-1)", "reshape(4, -1, 2)", "transpose(0, 2)",
                         "transpose(-1, -2)", "T", "unsqueeze(0)", "unsqueeze(-1)", "squeeze()"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", SHAPE_CASES)
def test_shape_op(case, dtype):
    shape, fn, ref = SHAPE_CASES[case]
    check_op(fn, shape, np_fn=ref, dtype=dtype)


@pytest.mark.parametrize("case", NONCONTIG_SHAPE_CASES)
def test_shape_op_noncontiguous(case):
    shape, fn, ref = SHAPE_CASES[case]
    check_op(fn, shape, np_fn=ref, noncontig=True)


def test_op_on_transposed_view_then_reshape():
    check_op(lambda m, a, b: (a.T * b).reshape(-1), (3, 4), (3,), np_fn=lambda a, b: (a.T * b).reshape(-1))


# ---------------------------------------------------------------- in-place ops

INPLACE = {
    "+=": (operator.iadd, np.add, None),
    "-=": (operator.isub, np.subtract, None),
    "*=": (operator.imul, np.multiply, None),
    "/=": (operator.itruediv, np.divide, [None, "nonzero"]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", INPLACE)
def test_inplace_on_non_leaf(op, dtype):
    iop, ref, domain = INPLACE[op]
    check_op(lambda m, a, b: iop(a * 1, b), (3, 4), (4,), np_fn=ref, dtype=dtype, domain=domain)


@pytest.mark.parametrize("op", INPLACE)
def test_inplace_with_python_scalar(op):
    iop, ref, _ = INPLACE[op]
    check_op(lambda m, a: iop(a * 1, 2.0), (3, 4), np_fn=lambda a: ref(a, 2.0))


def test_inplace_add_into_tensor_that_does_not_require_grad():
    check_op(lambda m, x: operator.iadd(m.zeros(3, 4, dtype=x.dtype), x), (3, 4), np_fn=lambda a: a)


def test_zero_on_non_leaf_cuts_its_path():
    check_op(lambda m, x: (x * 2).zero_() + x, (3, 4), np_fn=lambda a: a)


@pytest.mark.parametrize("op", INPLACE)
def test_inplace_operator_returns_the_same_tensor(op):
    iop, _, _ = INPLACE[op]
    t = cgrad.ones(3)
    assert iop(t, 2.0) is t


def test_zero_returns_the_same_tensor():
    t = cgrad.ones(3)
    assert t.zero_() is t
    assert t.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inplace_keeps_dtype(dtype):
    t = cgrad.ones(3, dtype=getattr(cgrad, dtype))
    t *= 2.5
    t += cgrad.ones(3, dtype=cgrad.float64)
    assert t.dtype == getattr(cgrad, dtype)
    assert t.tolist() == [3.5, 3.5, 3.5]


def test_inplace_on_leaf_under_no_grad_keeps_it_a_leaf():
    w = cgrad.tensor([[1.0, 2.0]], requires_grad=True)
    with cgrad.no_grad():
        w -= 0.5 * cgrad.tensor([[2.0, 2.0]])
    assert w.tolist() == [[0.0, 1.0]]
    assert w.is_leaf and w.requires_grad and w.grad_fn is None


# ---------------------------------------------------------------- graph structure

def test_shared_input_used_twice():
    check_op(lambda m, x: x * x, (3, 4), np_fn=np.square)


@pytest.mark.parametrize("grad_before", [False, True])
def test_square_by_mul_gradient_matches_torch(grad_before):
    """x * x computes its two equal gradients once; the sums they join keep their order."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w, g0 = (rng.standard_normal((4, 3)) for _ in range(3))
    grads = []
    for lib in (cgrad, torch):
        xt = lib.tensor(x, dtype=lib.float64, requires_grad=True)
        if grad_before:
            xt.grad = lib.tensor(g0, dtype=lib.float64)
        ((xt * xt).tanh() * xt * lib.tensor(w, dtype=lib.float64)).sum().backward()
        ((xt * xt) * 0.5).sum().backward()
        grads.append(xt.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-15, atol=0)


def test_shared_input_in_matmul_with_its_transpose():
    check_op(lambda m, x: x @ x.T, (3, 4), np_fn=lambda a: a @ a.T)


def test_diamond_graph():
    def diamond(m, x):
        a = x * 0.5
        return a.exp() + a.tanh()

    check_op(diamond, (3, 4), np_fn=lambda x: np.exp(x * 0.5) + np.tanh(x * 0.5))


def test_diamond_graph_through_broadcast_reduction():
    check_op(lambda m, x: x * x.sum(0), (3, 4), np_fn=lambda a: a * a.sum(0))


def test_chain_of_ops_like_a_small_network():
    def net(m, x, w1, w2):
        return ((x @ w1).tanh() @ w2).sigmoid().mean()

    check_op(net, (5, 3), (3, 4), (4, 2),
             np_fn=lambda x, w1, w2: sigmoid_np(np.tanh(x @ w1) @ w2).mean())


def test_gradient_accumulates_over_two_backward_calls():
    x = cgrad.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, -8.0, 12.0]


def test_gradient_accumulates_over_two_graphs():
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_backward_of_0d_output_defaults_to_gradient_one():
    x = cgrad.tensor(3.0, requires_grad=True)
    (x * x).backward()
    assert x.grad.item() == 6.0
    assert x.grad.shape == ()


def test_backward_with_explicit_gradient():
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(cgrad.tensor([1.0, -1.0]))
    assert x.grad.tolist() == [3.0, -3.0]


def test_backward_on_1_element_output_without_gradient():
    x = cgrad.tensor([[2.0]], requires_grad=True)
    (x ** 3).backward()
    assert x.grad.tolist() == [[12.0]]


# ---------------------------------------------------------------- grad_fn names

# Expressions over a, b (3, 4), s (4, 4) and v (4,), all positive and requiring grad.
GRAD_FN_EXPRESSIONS = {
    "a + b": lambda m, a, b, s, v: a + b,
    "a.add(b)": lambda m, a, b, s, v: a.add(b),
    "cgrad.add(a, b)": lambda m, a, b, s, v: m.add(a, b),
    "a + 1": lambda m, a, b, s, v: a + 1,
    "1 + a": lambda m, a, b, s, v: 1 + a,
    "a - b": lambda m, a, b, s, v: a - b,
    "a - 1": lambda m, a, b, s, v: a - 1,
    "1 - a": lambda m, a, b, s, v: 1 - a,
    "a * b": lambda m, a, b, s, v: a * b,
    "2 * a": lambda m, a, b, s, v: 2 * a,
    "a / b": lambda m, a, b, s, v: a / b,
    "a / 2": lambda m, a, b, s, v: a / 2,
    "-a": lambda m, a, b, s, v: -a,
    "a.neg()": lambda m, a, b, s, v: a.neg(),
    "a ** 2": lambda m, a, b, s, v: a ** 2,
    "a ** 0.5": lambda m, a, b, s, v: a ** 0.5,
    "a ** b": lambda m, a, b, s, v: a ** b,
    "2 ** a": lambda m, a, b, s, v: 2 ** a,
    "a @ s": lambda m, a, b, s, v: a @ s,
    "a @ v": lambda m, a, b, s, v: a @ v,
    "v @ v": lambda m, a, b, s, v: v @ v,
    "a.sum()": lambda m, a, b, s, v: a.sum(),
    "a.sum(0)": lambda m, a, b, s, v: a.sum(0),
    "a.sum(dim=(0, 1), keepdim=True)": lambda m, a, b, s, v: a.sum(dim=(0, 1), keepdim=True),
    "a.mean()": lambda m, a, b, s, v: a.mean(),
    "a.mean(-1)": lambda m, a, b, s, v: a.mean(-1),
    "a.exp()": lambda m, a, b, s, v: a.exp(),
    "a.log()": lambda m, a, b, s, v: a.log(),
    "a.tanh()": lambda m, a, b, s, v: a.tanh(),
    "a.sigmoid()": lambda m, a, b, s, v: a.sigmoid(),
    "a.relu()": lambda m, a, b, s, v: a.relu(),
    "a.reshape(-1)": lambda m, a, b, s, v: a.reshape(-1),
    "a.view(12)": lambda m, a, b, s, v: a.view(12),
    "a.transpose(0, 1)": lambda m, a, b, s, v: a.transpose(0, 1),
    "a.unsqueeze(0)": lambda m, a, b, s, v: a.unsqueeze(0),
    "v.unsqueeze(0).squeeze()": lambda m, a, b, s, v: v.unsqueeze(0).squeeze(),
    "v.unsqueeze(0).squeeze(0)": lambda m, a, b, s, v: v.unsqueeze(0).squeeze(0),
    "(a * 1) += b": lambda m, a, b, s, v: operator.iadd(a * 1, b),
    "(a * 1) *= b": lambda m, a, b, s, v: operator.imul(a * 1, b),
    "(a * 1).zero_()": lambda m, a, b, s, v: (a * 1).zero_(),
}


def grad_fn_name(lib, expression):
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (3, 4), (4, 4), (4,)]
    tensors = [lib.tensor(rng.uniform(0.5, 2.0, s), requires_grad=True) for s in shapes]
    return GRAD_FN_EXPRESSIONS[expression](lib, *tensors).grad_fn.name()


@pytest.mark.parametrize("expression", GRAD_FN_EXPRESSIONS)
def test_grad_fn_name_matches_torch(expression):
    torch = pytest.importorskip("torch")
    assert grad_fn_name(cgrad, expression) == grad_fn_name(torch, expression)


# ---------------------------------------------------------------- leaves

def _under_no_grad(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with lib.no_grad():
        return x * 2


# id -> (make(lib), is_leaf, requires_grad)
LEAF_CASES = {
    "created with requires_grad": (lambda m: m.tensor([1.0], requires_grad=True), True, True),
    "created without requires_grad": (lambda m: m.tensor([1.0]), True, False),
    "zeros(requires_grad=True)": (lambda m: m.zeros(2, requires_grad=True), True, True),
    "op on a tensor requiring grad": (lambda m: m.tensor([1.0], requires_grad=True) * m.tensor([2.0]), False, True),
    "op on tensors not requiring grad": (lambda m: m.tensor([1.0]) * m.tensor([2.0]), True, False),
    "op under no_grad": (_under_no_grad, True, False),
    "detach()": (lambda m: (m.tensor([1.0], requires_grad=True) * 2).detach(), True, False),
}


@pytest.mark.parametrize("case", LEAF_CASES)
def test_leaf_flags(case):
    make, is_leaf, requires_grad = LEAF_CASES[case]
    t = make(cgrad)
    assert t.is_leaf is is_leaf
    assert t.requires_grad is requires_grad
    assert (t.grad_fn is None) is is_leaf


# ---------------------------------------------------------------- dtypes

PROMOTION_CASES = {
    "float32 * 2": (lambda: cgrad.ones(2) * 2, "float32"),
    "2 * float32": (lambda: 2 * cgrad.ones(2), "float32"),
    "float32 * 2.5": (lambda: cgrad.ones(2) * 2.5, "float32"),
    "float32 / 3": (lambda: cgrad.ones(2) / 3, "float32"),
    "float32 ** 2": (lambda: cgrad.ones(2) ** 2, "float32"),
    "2 ** float32": (lambda: 2 ** cgrad.ones(2), "float32"),
    "1 - float32": (lambda: 1 - cgrad.ones(2), "float32"),
    "float64 + 1.5": (lambda: cgrad.ones(2, dtype=cgrad.float64) + 1.5, "float64"),
    "1.5 * float64": (lambda: 1.5 * cgrad.ones(2, dtype=cgrad.float64), "float64"),
    "float32 + float64": (lambda: cgrad.ones(2) + cgrad.ones(2, dtype=cgrad.float64), "float64"),
    "float64 * float32": (lambda: cgrad.ones(2, dtype=cgrad.float64) * cgrad.ones(2), "float64"),
    "float32 (2,) + float64 0-d": (lambda: cgrad.ones(2) + cgrad.tensor(1.0, dtype=cgrad.float64), "float32"),
    "float32 0-d + float64 (2,)": (lambda: cgrad.tensor(1.0) + cgrad.ones(2, dtype=cgrad.float64), "float64"),
}


@pytest.mark.parametrize("case", PROMOTION_CASES)
def test_result_dtype(case):
    make, expected = PROMOTION_CASES[case]
    assert make().dtype == getattr(cgrad, expected)


def test_grads_of_mixed_dtype_op_have_each_input_dtype():
    a = cgrad.tensor([1.0, 2.0], requires_grad=True)
    b = cgrad.tensor([3.0, 4.0], dtype=cgrad.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == cgrad.float32
    assert b.grad.dtype == cgrad.float64
    assert a.grad.tolist() == [3.0, 4.0]
    assert b.grad.tolist() == [1.0, 2.0]


_Pair = collections.namedtuple("_Pair", "x y")


@pytest.mark.parametrize("data, expected", [
    ([1.0, 2.0], "float32"),
    ([1, 2], "int64"),
    ([True, False], "bool"),
    (2.5, "float32"),
    (np.array([1.0, 2.0]), "float64"),
    (np.array([1.0, 2.0], dtype=np.float32), "float32"),
    (np.array([1, 2], dtype=np.int64), "int64"),
    (np.float64(2.5), "float64"),
    (np.float32(2.5), "float32"),
    (np.int64(3), "int64"),
    (np.bool_(True), "bool"),
    ([np.float64(1.5), 2.0], "float64"),
    ([[1.0], [np.float64(2.0)]], "float64"),
    ((np.float32(1.5), np.float64(2.0)), "float64"),
    ([np.float32(1.5), 2.0], "float32"),
    ([np.int64(1), 2.5], "float32"),
    ([np.array([1.0]), np.array([2.0])], "float64"),
    ([np.array([1.0], np.float32), np.array([2.0], np.float32)], "float32"),
    ([_Pair(1.0, 2.0), _Pair(np.float64(3.0), 4.0)], "float64"),
], ids=["float list", "int list", "bool list", "float scalar", "float64 array", "float32 array", "int64 array",
        "numpy float64", "numpy float32", "numpy int64", "numpy bool", "list with a numpy float64",
        "nested list with a numpy float64", "tuple of numpy floats", "list with a numpy float32",
        "list with a numpy int64", "list of float64 arrays", "list of float32 arrays",
        "named tuples with a numpy float64"])
@pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy.ndarrays")  # torch's, on the oracle's side
def test_tensor_infers_dtype(data, expected):
    """A numpy scalar keeps its dtype, as an array does (np.float64 is also a
    Python float, which alone takes the default dtype); in a list, numpy
    values count with their own dtype and Python floats with the default."""
    t = cgrad.tensor(data)
    assert t.dtype == getattr(cgrad, expected)
    assert t.tolist() == np.asarray(data).tolist()
    torch = pytest.importorskip("torch")
    assert str(torch.tensor(data).dtype) == f"torch.{expected}"


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_tensor_dtype_argument(dtype):
    t = cgrad.tensor([1, 2], dtype=getattr(cgrad, dtype))
    assert t.dtype == getattr(cgrad, dtype)
    assert t.tolist() == [1, 2]


# ---------------------------------------------------------------- creation

@pytest.mark.parametrize("make", ["zeros", "ones", "randn", "rand"])
@pytest.mark.parametrize("size", [(2, 3), ((2, 3),), ([2, 3],)], ids=["varargs", "tuple", "list"])
def test_factory_size_forms(make, size):
    t = getattr(cgrad, make)(*size)
    assert tuple(t.shape) == (2, 3)
    assert t.dtype == cgrad.float32
    assert t.requires_grad is False


@pytest.mark.parametrize("make", ["zeros", "ones", "randn", "rand"])
def test_factory_dtype_and_requires_grad(make):
    t = getattr(cgrad, make)(4, dtype=cgrad.float64, requires_grad=True)
    assert t.dtype == cgrad.float64
    assert t.requires_grad and t.is_leaf


@pytest.mark.parametrize("make, value", [("zeros", 0.0), ("ones", 1.0)])
def test_zeros_ones_values(make, value):
    assert getattr(cgrad, make)(2, 2).tolist() == [[value, value], [value, value]]


@pytest.mark.parametrize("make", ["randn", "rand"])
def test_manual_seed_makes_random_tensors_reproducible(make):
    cgrad.manual_seed(123)
    first = getattr(cgrad, make)(50).tolist()
    cgrad.manual_seed(123)
    again = getattr(cgrad, make)(50).tolist()
    cgrad.manual_seed(124)
    other = getattr(cgrad, make)(50).tolist()
    assert first == again
    assert first != other


def test_rand_is_uniform_on_unit_interval():
    cgrad.manual_seed(0)
    values = np.asarray(cgrad.rand(10000))
    assert values.min() >= 0.0 and values.max() < 1.0
    assert abs(values.mean() - 0.5) < 0.02


def test_randn_is_standard_normal():
    cgrad.manual_seed(0)
    values = np.asarray(cgrad.randn(10000))
    assert abs(values.mean()) < 0.05
    assert abs(values.std() - 1.0) < 0.05


# ---------------------------------------------------------------- shape attributes

@pytest.mark.parametrize("shape", [(), (1,), (5,), (2, 3, 4)], ids=str)
def test_shape_attributes(shape):
    t = cgrad.zeros(shape)
    assert tuple(t.shape) == shape
    assert t.shape == shape
    assert tuple(t.size()) == shape
    assert t.ndim == len(shape)
    assert t.dim() == len(shape)
    assert t.numel() == int(np.prod(shape))


# ---------------------------------------------------------------- grad mode

def test_no_grad_context_manager():
    x = cgrad.ones(2, requires_grad=True)
    with cgrad.no_grad():
        assert cgrad.is_grad_enabled() is False
        y = x * 2
    assert cgrad.is_grad_enabled() is True
    assert y.requires_grad is False and y.grad_fn is None


@pytest.mark.parametrize("form", ["no_grad()", "no_grad"])
def test_no_grad_decorator(form):
    decorator = cgrad.no_grad() if form == "no_grad()" else cgrad.no_grad

    @decorator
    def double(t):
        return t * 2

    y = double(cgrad.ones(2, requires_grad=True))
    assert y.requires_grad is False
    assert cgrad.is_grad_enabled() is True
    assert double.__name__ == "double" and double.__wrapped__ is not None


def test_no_grad_decorates_methods_and_rejects_arguments():
    class Model:
        @cgrad.no_grad
        def double(self, t):
            return t * 2

    assert Model().double(cgrad.ones(2, requires_grad=True)).requires_grad is False
    for cls in (cgrad.no_grad, cgrad.enable_grad):
        with pytest.raises(TypeError, match="takes no arguments"):
            cls(1)
        with pytest.raises(TypeError, match="takes no arguments"):
            cls(mode=True)
    assert repr(cgrad.no_grad) == "<class 'cgrad.autograd.grad_mode.no_grad'>"


def test_enable_grad_inside_no_grad():
    x = cgrad.ones(2, requires_grad=True)
    with cgrad.no_grad():
        with cgrad.enable_grad():
            assert cgrad.is_grad_enabled() is True
            y = x * 2
        assert cgrad.is_grad_enabled() is False
    assert y.requires_grad is True and y.grad_fn is not None


@pytest.mark.parametrize("form", ["enable_grad()", "enable_grad"])
def test_enable_grad_decorator(form):
    decorator = cgrad.enable_grad() if form == "enable_grad()" else cgrad.enable_grad

    @decorator
    def double(t):
        return t * 2

    with cgrad.no_grad():
        y = double(cgrad.ones(2, requires_grad=True))
    assert y.requires_grad is True


@pytest.mark.parametrize("mode", [False, True])
def test_set_grad_enabled_context_manager(mode):
    x = cgrad.ones(2, requires_grad=True)
    with cgrad.set_grad_enabled(mode):
        assert cgrad.is_grad_enabled() is mode
        y = x * 2
    assert cgrad.is_grad_enabled() is True
    assert y.requires_grad is mode


def test_set_grad_enabled_decorator():
    @cgrad.set_grad_enabled(False)
    def double(t):
        return t * 2

    assert double(cgrad.ones(2, requires_grad=True)).requires_grad is False
    assert cgrad.is_grad_enabled() is True


def test_set_grad_enabled_as_a_call():
    try:
        cgrad.set_grad_enabled(False)
        assert cgrad.is_grad_enabled() is False
        assert (cgrad.ones(2, requires_grad=True) * 2).requires_grad is False
    finally:
        cgrad.set_grad_enabled(True)
    assert cgrad.is_grad_enabled() is True


def test_grad_modes_nest_and_each_restores_its_own():
    seen = []
    with cgrad.no_grad():
        seen.append(cgrad.is_grad_enabled())
        with cgrad.enable_grad():
            seen.append(cgrad.is_grad_enabled())
            with cgrad.inference_mode():
                seen.append(cgrad.is_grad_enabled())
                with cgrad.inference_mode(False):
                    seen.append(cgrad.is_grad_enabled())
                seen.append(cgrad.is_grad_enabled())
            seen.append(cgrad.is_grad_enabled())
        seen.append(cgrad.is_grad_enabled())
    seen.append(cgrad.is_grad_enabled())
    assert seen == [False, True, False, True, False, True, False, True]
    assert cgrad.no_grad.__module__ == "cgrad.autograd.grad_mode"


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError):
        with cgrad.no_grad():
            raise ValueError
    assert cgrad.is_grad_enabled() is True


# ---------------------------------------------------------------- detach, requires_grad, grad

def test_detach_stops_the_gradient():
    x = cgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x.detach()).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0]


def test_detach_shares_memory():
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    d.zero_()
    assert x.tolist() == [0.0, 0.0]


def test_requires_grad_method_sets_flag_and_returns_self():
    x = cgrad.tensor([1.0, 2.0])
    assert x.requires_grad_() is x
    assert x.requires_grad is True
    x.requires_grad_(False)
    assert x.requires_grad is False


def test_requires_grad_attribute_is_settable_on_a_leaf():
    x = cgrad.tensor([1.0, 2.0])
    x.requires_grad = True
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_grad_is_none_before_backward():
    assert cgrad.tensor([1.0], requires_grad=True).grad is None


def test_assigned_grad_is_accumulated_into():
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    x.grad = cgrad.tensor([10.0, 20.0])
    (x * 2).sum().backward()
    assert x.grad.tolist() == [12.0, 22.0]


def test_grad_set_to_none_starts_afresh():
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_zeroed_grad_accumulates_from_zero():
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    x.grad.zero_()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


# ---------------------------------------------------------------- conversions

@pytest.mark.parametrize("data", [[2.5], [[2.5]], 2.5], ids=["(1,)", "(1, 1)", "0-d"])
def test_item_of_one_element(data):
    value = cgrad.tensor(data).item()
    assert type(value) is float and value == 2.5


def test_item_of_int_tensor_is_int():
    value = cgrad.tensor([7]).item()
    assert type(value) is int and value == 7


@pytest.mark.parametrize("data", [[[1.0, 2.0], [3.0, 4.0]], [1.5, -2.0], 3.0, [[[1.0]]]], ids=str)
def test_tolist_round_trips(data):
    assert cgrad.tensor(data).tolist() == data


def test_tolist_of_float_tensor_gives_floats():
    assert [type(v) for v in cgrad.tensor([1.0, 2.0]).tolist()] == [float, float]


@pytest.mark.parametrize("dtype, np_dtype", [("float32", np.float32), ("float64", np.float64), ("int64", np.int64)])
def test_numpy_values_and_dtype(dtype, np_dtype):
    a = cgrad.tensor([[1, 2], [3, 4]], dtype=getattr(cgrad, dtype)).numpy()
    assert a.dtype == np_dtype
    np.testing.assert_array_equal(a, [[1, 2], [3, 4]])


def test_numpy_shares_memory():
    t = cgrad.tensor([1.0, 2.0])
    a = t.numpy()
    t += 1
    assert a.tolist() == [2.0, 3.0]


def test_numpy_of_transposed_view():
    a = cgrad.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).transpose(0, 1).numpy()
    np.testing.assert_array_equal(a, [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])


def test_np_asarray():
    a = np.asarray(cgrad.tensor([[1.5, 2.0]], dtype=cgrad.float64))
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, [[1.5, 2.0]])


@pytest.mark.parametrize("np_dtype, dtype", [(np.float32, "float32"), (np.float64, "float64"), (np.int64, "int64")])
def test_from_numpy_keeps_dtype(np_dtype, dtype):
    assert cgrad.from_numpy(np.zeros(3, dtype=np_dtype)).dtype == getattr(cgrad, dtype)


def test_from_numpy_shares_memory_both_ways():
    a = np.array([1.0, 2.0])
    t = cgrad.from_numpy(a)
    a[0] = 10.0
    assert t.tolist() == [10.0, 2.0]
    t += 1
    assert a.tolist() == [11.0, 3.0]


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = cgrad.tensor(a)
    a[0] = 10.0
    assert t.tolist() == [1.0, 2.0]


# ---------------------------------------------------------------- repr

REPR_CASES = {
    "integer-valued floats": lambda m: m.tensor([1.0, 2.0, 3.0]),
    "fractional": lambda m: m.tensor([0.1234, -2.5]),
    "small needs scientific": lambda m: m.tensor([1e-5, 1.0]),
    "large needs scientific": lambda m: m.tensor([1e10, 1.0]),
    "2-D": lambda m: m.tensor([[1.5, 2.0], [3.0, 4.0]]),
    "0-d": lambda m: m.tensor(3.5),
    "float64": lambda m: m.tensor([[0.25, -1.0]], dtype=m.float64),
    "with grad_fn": lambda m: m.tensor([2.0], requires_grad=True) * 2,
    "float64 with grad_fn": lambda m: m.tensor([2.0], dtype=m.float64, requires_grad=True) * 3,
    "requires_grad": lambda m: m.tensor([[1.7451]], requires_grad=True),
    "0-d requires_grad": lambda m: m.tensor(2.0, requires_grad=True),
    "int64": lambda m: m.tensor([1, 2, 3]),
    "bool": lambda m: m.tensor([True, False]),
    "negative zero": lambda m: m.tensor([-0.0, 0.0]),
}


@pytest.mark.parametrize("case", REPR_CASES)
def test_repr_matches_torch(case):
    torch = pytest.importorskip("torch")
    expected = repr(REPR_CASES[case](torch)).replace("torch.", "cgrad.")
    assert repr(REPR_CASES[case](cgrad)) == expected
