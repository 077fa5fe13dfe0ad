"""logaddexp, xlogy, sinc, erfinv, addmm, baddbmm and cross, checked against
torch, numpy and finite differences (helpers.check_op): values, gradients,
broadcasting, Python numbers, PyTorch's special values, result dtypes, errors
and a compiled step."""
import math
import warnings

import numpy as np
import pytest

import cgrad
from helpers import check_op, lib_dtype, run_twins, same_error, same_values, sgd_step, torch_or_skip, values_and_grads

DTYPES = ["float64", "float32"]
INF, NAN = math.inf, math.nan


# ---------------------------------------------------------------- logaddexp

def logaddexp_np(a, b):
    return np.logaddexp(a, b)


BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (5,)), ((1,), ()), ((0, 2), (2,))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
def test_logaddexp(shapes, dtype):
    out = check_op(lambda m, a, b: m.logaddexp(a, b), *shapes, np_fn=logaddexp_np, dtype=dtype)
    assert out.grad_fn.name() == "LogaddexpBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
def test_logaddexp_method_noncontiguous_and_large_operands(dtype):
    check_op(lambda m, a, b: a.logaddexp(b), (3, 4), (3, 4), np_fn=logaddexp_np, dtype=dtype, noncontig=True)
    # exp(a) alone would overflow: the result stays finite, as its gradient
    big = np.array([[700.0, -700.0], [80.0, 1e3]])
    check_op(lambda m, a, b: a.logaddexp(b), big, big - 1.5, np_fn=logaddexp_np)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logaddexp_special_values_match_torch(dtype):
    torch = torch_or_skip()
    a = [-INF, -INF, INF, INF, NAN, 1.0, -INF, INF, 0.0, -0.0, 3e38]
    b = [-INF, INF, INF, -INF, 1.0, NAN, 3.0, 2.0, 0.0, 0.0, 3e38]
    x = cgrad.logaddexp(cgrad.tensor(a, dtype=lib_dtype(cgrad, dtype)), cgrad.tensor(b, dtype=lib_dtype(cgrad, dtype)))
    t = torch.logaddexp(torch.tensor(a, dtype=lib_dtype(torch, dtype)), torch.tensor(b, dtype=lib_dtype(torch, dtype)))
    same_values(x, t)
    assert x[0].item() == -INF and x[2].item() == INF


def test_logaddexp_gradients_at_infinities_match_torch():
    values_and_grads(lambda m, a, b: m.logaddexp(a, b), [-INF, INF, INF, 0.0, -INF], [-INF, INF, -INF, -INF, 2.0])


def test_logaddexp_dtypes_and_errors():
    torch = torch_or_skip()
    f32, f64 = cgrad.tensor([1.0, 2.0]), cgrad.tensor([1.0, 2.0], dtype=cgrad.float64)
    assert cgrad.logaddexp(f32, f64).dtype == cgrad.float64
    assert cgrad.logaddexp(f32, cgrad.tensor(1.0, dtype=cgrad.float64)).dtype == cgrad.float32
    assert cgrad.logaddexp(cgrad.tensor([1, 2]), f64).dtype == cgrad.float64
    for dt in ("int64", "bool"):
        args = [[1, 0], [0, 1]]
        with pytest.raises(NotImplementedError) as t_err:
            torch.logaddexp(*[torch.tensor(v, dtype=lib_dtype(torch, dt)) for v in args])
        with pytest.raises(NotImplementedError) as c_err:
            cgrad.logaddexp(*[cgrad.tensor(v, dtype=lib_dtype(cgrad, dt)) for v in args])
        assert str(c_err.value) == str(t_err.value)
    with pytest.raises(TypeError, match="must be Tensor, not float"):
        cgrad.logaddexp(f32, 2.0)
    with pytest.raises(TypeError, match="must be Tensor, not float"):
        f32.logaddexp(2.0)
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        cgrad.logaddexp([1.0], f32)
    with pytest.raises(RuntimeError, match="must match the size"):
        cgrad.logaddexp(cgrad.ones(3), cgrad.ones(4))


def test_logaddexp_second_order_matches_torch():
    torch = torch_or_skip()
    a, b = np.array([0.3, -1.2, 2.0]), np.array([1.1, 0.4, -0.5])
    res = []
    for lib in (cgrad, torch):
        x = lib.tensor(a, dtype=lib.float64, requires_grad=True)
        y = lib.tensor(b, dtype=lib.float64, requires_grad=True)
        (gx,) = lib.autograd.grad(lib.logaddexp(x, y).sum(), [x], create_graph=True)
        (gy,) = lib.autograd.grad((gx * gx).sum(), [y])
        res.append((gx.detach().numpy(), gy.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)


# ---------------------------------------------------------------- xlogy

def xlogy_np(x, y):
    return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
def test_xlogy(shapes, dtype):
    out = check_op(lambda m, x, y: m.xlogy(x, y), *shapes, np_fn=xlogy_np, dtype=dtype, domain=[None, (0.5, 3.0)])
    assert out.grad_fn.name() == "XlogyBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
def test_xlogy_method_and_noncontiguous(dtype):
    check_op(lambda m, x, y: x.xlogy(y), (3, 4), (3, 4), np_fn=xlogy_np, dtype=dtype, noncontig=True,
             domain=[None, (0.5, 3.0)])


X_SPECIAL = [0.0, 0.0, 0.0, 0.0, 0.0, -0.0, 1.0, 2.0, -1.0, NAN, 1.0, 0.0, 3.0]
Y_SPECIAL = [NAN, 0.0, -1.0, INF, 2.0, 0.0, 0.0, -1.0, INF, 1.0, NAN, -INF, 1.0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_xlogy_special_values_match_torch(dtype):
    """xlogy(0, y) is 0 for every y but NaN, whose result is NaN."""
    torch = torch_or_skip()
    x = cgrad.xlogy(cgrad.tensor(X_SPECIAL, dtype=lib_dtype(cgrad, dtype)),
                    cgrad.tensor(Y_SPECIAL, dtype=lib_dtype(cgrad, dtype)))
    t = torch.xlogy(torch.tensor(X_SPECIAL, dtype=lib_dtype(torch, dtype)),
                    torch.tensor(Y_SPECIAL, dtype=lib_dtype(torch, dtype)))
    same_values(x, t)
    assert math.isnan(x[0].item()) and x[1].item() == 0 and x[3].item() == 0


def test_xlogy_gradients_at_special_values_match_torch():
    """The gradient of x is 0 where x == 0 and y <= 0, log(y) elsewhere."""
    values_and_grads(lambda m, x, y: m.xlogy(x, y), X_SPECIAL, Y_SPECIAL)


@pytest.mark.parametrize("number", [2.0, 3, 0.0, -1.0, NAN, INF, True])
def test_xlogy_with_a_number_on_either_side_matches_torch(number):
    torch = torch_or_skip()
    values_and_grads(lambda m, x: m.xlogy(x, number), X_SPECIAL)
    values_and_grads(lambda m, y: m.xlogy(number, y), Y_SPECIAL)
    values_and_grads(lambda m, x: x.xlogy(number), X_SPECIAL, dtype="float32")
    names = []
    for lib in (cgrad, torch):
        x = lib.tensor([1.0, 0.0], requires_grad=True)
        names.append([lib.xlogy(x, number).grad_fn.name(), lib.xlogy(number, x).grad_fn.name(),
                      x.xlogy(number).grad_fn.name(), lib.xlogy(x, x).grad_fn.name()])
    assert names[0] == names[1] == ["XlogyBackward2", "XlogyBackward1", "XlogyBackward2", "XlogyBackward0"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_xlogy_with_numbers_and_broadcasting_against_finite_differences(dtype):
    check_op(lambda m, x: m.xlogy(x, 2.5), (3, 4), np_fn=lambda x: x * np.log(2.5), dtype=dtype)
    check_op(lambda m, y: m.xlogy(-1.5, y), (4,), np_fn=lambda y: -1.5 * np.log(y), dtype=dtype, domain=(0.5, 3.0))
    check_op(lambda m, x, y: m.xlogy(x, y), (2, 3, 1), (1, 4), np_fn=xlogy_np, dtype=dtype, domain=[None, (0.5, 3.0)],
             requires_grad=[True, False])
    check_op(lambda m, x, y: m.xlogy(x, y), (2, 3, 1), (1, 4), np_fn=xlogy_np, dtype=dtype, domain=[None, (0.5, 3.0)],
             requires_grad=[False, True])


def test_xlogy_dtypes_match_torch():
    torch = torch_or_skip()
    cases = [
        lambda m: m.xlogy(m.tensor([1, 2]), m.tensor([3, 4])),
        lambda m: m.xlogy(m.tensor([True, False]), m.tensor([True, True])),
        lambda m: m.xlogy(m.tensor([1, 2]), 2.5),
        lambda m: m.xlogy(2.5, m.tensor([1, 2])),
        lambda m: m.xlogy(m.tensor([1, 2]), 2),
        lambda m: m.xlogy(m.tensor([1.0, 2.0]), m.tensor(2.0, dtype=m.float64)),
        lambda m: m.xlogy(m.tensor([1.0, 2.0]), m.tensor([2.0, 3.0], dtype=m.float64)),
        lambda m: m.xlogy(m.tensor([1, 2]), m.tensor([2.0, 3.0], dtype=m.float64)),
        lambda m: m.tensor([3, 0]).xlogy(m.tensor([0, 0])),
    ]
    for fn in cases:
        same_values(fn(cgrad), fn(torch))
    cgrad.set_default_dtype(cgrad.float64)
    torch.set_default_dtype(torch.float64)
    try:
        same_values(cgrad.xlogy(cgrad.tensor([1, 2]), cgrad.tensor([3, 4])),
                    torch.xlogy(torch.tensor([1, 2]), torch.tensor([3, 4])))
    finally:
        cgrad.set_default_dtype(cgrad.float32)
        torch.set_default_dtype(torch.float32)


def test_xlogy_errors():
    x = cgrad.tensor([1.0, 2.0])
    with pytest.raises(TypeError):
        cgrad.xlogy(2.0, 3.0)
    with pytest.raises(TypeError, match="must be Tensor, not str"):
        cgrad.xlogy(x, "a")
    with pytest.raises(TypeError, match="must be Tensor, not str"):
        x.xlogy("a")
    with pytest.raises(RuntimeError, match="must match the size"):
        cgrad.xlogy(cgrad.ones(3), cgrad.ones(2))


def test_xlogy_second_order_matches_torch():
    torch = torch_or_skip()
    a, b = np.array([0.3, 0.0, 2.0, -1.0]), np.array([1.1, 0.4, 0.5, 2.0])
    res = []
    for lib in (cgrad, torch):
        x = lib.tensor(a, dtype=lib.float64, requires_grad=True)
        y = lib.tensor(b, dtype=lib.float64, requires_grad=True)
        gx, gy = lib.autograd.grad((lib.xlogy(x, y) * y).sum(), [x, y], create_graph=True)
        hx, hy = lib.autograd.grad((gx * gy).sum(), [x, y])
        res.append([t.detach().numpy() for t in (gx, gy, hx, hy)])
    for c, t in zip(*res):
        np.testing.assert_allclose(c, t, rtol=1e-12)


# ---------------------------------------------------------------- sinc and erfinv

def sinc_np(x):
    return np.sinc(x)


UNARY_SHAPES = [(3, 4), (5,), (), (1,), (2, 3, 2), (0,)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
def test_sinc(shape, dtype):
    out = check_op(lambda m, x: m.sinc(x), shape, np_fn=sinc_np, dtype=dtype, domain=(-3.0, 3.0))
    assert out.grad_fn.name() == "SincBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
def test_sinc_method_and_noncontiguous(dtype):
    check_op(lambda m, x: x.sinc(), (3, 4), np_fn=sinc_np, dtype=dtype, noncontig=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sinc_values_are_torch_bits(dtype):
    """sinc(0) is 1 and its gradient 0; elsewhere the values are torch's to the bit."""
    torch = torch_or_skip()
    special = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-30, 1e-8, INF, -INF, NAN, 1e10, 3.0, 2.5, 1e-45]
    data = np.concatenate([special, np.random.default_rng(4).standard_normal(500) * 10])
    x = cgrad.sinc(cgrad.tensor(data, dtype=lib_dtype(cgrad, dtype)))
    same_values(x, torch.sinc(torch.tensor(data, dtype=lib_dtype(torch, dtype))))
    assert x[0].item() == 1.0 and x[1].item() == 1.0
    # the gradient's float32 sin and cos may round apart from torch's vectorised ones
    rtol = 0.0 if dtype == "float64" else 1e-6
    values_and_grads(lambda m, v: m.sinc(v), special, dtype=dtype, rtol=rtol)
    values_and_grads(lambda m, v: m.sinc(v), [0.0, 0.25, -2.0], dtype=dtype, rtol=rtol)
    g = cgrad.tensor([0.0, -0.0], requires_grad=True)
    cgrad.sinc(g).sum().backward()
    assert g.grad.tolist() == [0.0, 0.0]


def test_sinc_integers_and_bools_compute_in_the_default_float_dtype():
    torch = torch_or_skip()
    for values in ([0, 1, -2, 3], [True, False]):
        same_values(cgrad.sinc(cgrad.tensor(values)), torch.sinc(torch.tensor(values)))
    assert cgrad.tensor([1, 2]).sinc().dtype == cgrad.float32
    with pytest.raises(TypeError, match="must be Tensor, not float"):
        cgrad.sinc(0.5)


def test_sinc_second_order_matches_torch():
    torch = torch_or_skip()
    res = []
    for lib in (cgrad, torch):
        x = lib.tensor([0.3, -1.2, 2.0, 0.7], dtype=lib.float64, requires_grad=True)
        (gx,) = lib.autograd.grad(lib.sinc(x).sum(), [x], create_graph=True)
        (hx,) = lib.autograd.grad(gx.sum(), [x])
        res.append((gx.detach().numpy(), hx.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)



def erfinv_np(y):
    """erfinv by bisection on math.erf, to double precision (the tests' inputs are in (-1, 1))."""
    def one(v):
        lo, hi = -6.0, 6.0
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if math.erf(mid) < v else (lo, mid)
        return (lo + hi) / 2
    return np.vectorize(one, otypes=[float])(y)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
def test_erfinv(shape, dtype):
    out = check_op(lambda m, x: m.erfinv(x), shape, np_fn=erfinv_np, dtype=dtype, domain=(-0.9, 0.9))
    assert out.grad_fn.name() == "ErfinvBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
def test_erfinv_method_and_noncontiguous(dtype):
    check_op(lambda m, x: x.erfinv(), (3, 4), np_fn=erfinv_np, dtype=dtype, noncontig=True, domain=(-0.99, 0.99))


# float64 agrees with torch's to an ulp; float32 is computed in double and
# rounded once, torch's in float: an ulp or two apart (both as close to erfinv)
ERFINV_RTOL = {"float64": 2.3e-16, "float32": 2.4e-7}


@pytest.mark.parametrize("dtype", DTYPES)
def test_erfinv_values_match_torch_over_the_whole_domain(dtype):
    """erfinv(+-1) = +-inf, NaN outside [-1, 1], -0 stays -0, and the tails
    near +-1 as accurate as torch's."""
    torch = torch_or_skip()
    special = [0.0, -0.0, 1.0, -1.0, 1.5, -2.0, INF, -INF, NAN, 0.5, -0.3, 0.7, 1e-300, 1e-10, 1 - 1e-10,
               1 - 2 ** -53, -(1 - 2 ** -53), 1 - 2 ** -24, 0.9999]
    rng = np.random.default_rng(9)
    data = np.concatenate([special, rng.uniform(-1, 1, 3000), 1 - rng.uniform(0, 1e-6, 300)])
    x = cgrad.erfinv(cgrad.tensor(data, dtype=lib_dtype(cgrad, dtype)))
    t = torch.erfinv(torch.tensor(data, dtype=lib_dtype(torch, dtype)))
    assert str(x.dtype) == f"cgrad.{dtype}"
    np.testing.assert_allclose(x.numpy(), t.numpy(), rtol=ERFINV_RTOL[dtype], atol=0)
    assert x[2].item() == INF and x[3].item() == -INF and math.isnan(x[4].item()) and math.isnan(x[6].item())
    assert x[0].item() == 0 and math.copysign(1, x[1].item()) == -1
    values_and_grads(lambda m, v: m.erfinv(v), special, dtype=dtype, rtol=ERFINV_RTOL[dtype] * 4)


def test_erfinv_integers_and_bools_compute_in_the_default_float_dtype():
    torch = torch_or_skip()
    for values in ([0, 1, -1, 2], [True, False]):
        same_values(cgrad.erfinv(cgrad.tensor(values)), torch.erfinv(torch.tensor(values)))
    with pytest.raises(TypeError, match="must be Tensor, not float"):
        cgrad.erfinv(0.5)


def test_erfinv_second_order_matches_torch():
    torch = torch_or_skip()
    res = []
    for lib in (cgrad, torch):
        x = lib.tensor([0.3, -0.8, 0.05, 0.95], dtype=lib.float64, requires_grad=True)
        (gx,) = lib.autograd.grad(lib.erfinv(x).sum(), [x], create_graph=True)
        (hx,) = lib.autograd.grad(gx.sum(), [x])
        res.append((gx.detach().numpy(), hx.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-14)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-14)


# ---------------------------------------------------------------- addmm and baddbmm

SCALES = [(1, 1), (0.5, -2.0), (0, 1), (2, 0), (-1, 3)]


def addmm_np(beta, alpha):
    return lambda i, a, b: beta * i + alpha * (a @ b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta,alpha", SCALES, ids=str)
@pytest.mark.parametrize("input_shape", [(2, 4), (4,), (), (1, 4), (2, 1)], ids=str)
def test_addmm(input_shape, beta, alpha, dtype):
    out = check_op(lambda m, i, a, b: m.addmm(i, a, b, beta=beta, alpha=alpha), input_shape, (2, 3), (3, 4),
                   np_fn=addmm_np(beta, alpha), dtype=dtype)
    assert out.grad_fn.name() == "AddmmBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
def test_addmm_method_noncontiguous_and_defaults(dtype):
    check_op(lambda m, i, a, b: i.addmm(a, b), (3, 5), (3, 4), (4, 5), np_fn=addmm_np(1, 1), dtype=dtype,
             noncontig=True)
    check_op(lambda m, i, a, b: i.addmm(a, b, alpha=0.25), (5,), (3, 4), (4, 5), np_fn=addmm_np(1, 0.25),
             dtype=dtype, requires_grad=[False, True, False])
    check_op(lambda m, i, a, b: m.addmm(i, a, b, beta=3), (1,), (1, 1), (1, 1), np_fn=addmm_np(3, 1), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta,alpha", SCALES, ids=str)
@pytest.mark.parametrize("input_shape", [(3, 2, 4), (4,), (2, 1), (1, 2, 4), ()], ids=str)
def test_baddbmm(input_shape, beta, alpha, dtype):
    out = check_op(lambda m, i, a, b: m.baddbmm(i, a, b, beta=beta, alpha=alpha), input_shape, (3, 2, 5),
                   (3, 5, 4), np_fn=addmm_np(beta, alpha), dtype=dtype)
    assert out.grad_fn.name() == "BaddbmmBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
def test_baddbmm_method_and_noncontiguous(dtype):
    check_op(lambda m, i, a, b: i.baddbmm(a, b, beta=0.5), (2, 3, 5), (2, 3, 4), (2, 4, 5),
             np_fn=addmm_np(0.5, 1), dtype=dtype, noncontig=True)


def test_addmm_and_baddbmm_ignore_input_when_beta_is_0_as_torch():
    """beta = 0: input's NaN does not reach the result (its gradient is g * 0);
    alpha = 0: addmm does not read the product, baddbmm does (NaN * 0)."""
    nan_in, ones = np.full((2, 4), NAN), np.ones((2, 4))
    a, b, nan_a = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4) / 7, np.full((2, 3), NAN)
    for beta, alpha, inp, m1 in [(0, 1, nan_in, a), (0, 2.5, nan_in, a), (1, 0, ones, nan_a), (0, 0, nan_in, nan_a),
                                 (2, 0, nan_in, a), (0, 0, ones, a)]:
        values_and_grads(lambda m, i, x, y: m.addmm(i, x, y, beta=beta, alpha=alpha), inp, m1, b, rtol=1e-15)
        values_and_grads(lambda m, i, x, y: m.baddbmm(i, x, y, beta=beta, alpha=alpha), inp[None], m1[None], b[None],
                         rtol=1e-15)
    out = cgrad.addmm(cgrad.tensor(nan_in), cgrad.tensor(a), cgrad.tensor(b), beta=0)
    assert not out.isnan().any()
    out = cgrad.addmm(cgrad.tensor(ones), cgrad.tensor(nan_a), cgrad.tensor(b), alpha=0)
    assert out.tolist() == ones.tolist()
    out = cgrad.baddbmm(cgrad.tensor(ones[None]), cgrad.tensor(nan_a[None]), cgrad.tensor(b[None]), alpha=0)
    assert out.isnan().all()


def test_addmm_and_baddbmm_values_match_torch():
    rng = np.random.default_rng(5)
    for dtype, rtol in (("float64", 1e-13), ("float32", 1e-5)):
        i, a, b = rng.standard_normal((7, 6)), rng.standard_normal((7, 9)), rng.standard_normal((9, 6))
        values_and_grads(lambda m, x, y, z: m.addmm(x, y, z, beta=0.3, alpha=-1.7), i, a, b, dtype=dtype, rtol=rtol)
        values_and_grads(lambda m, x, y, z: m.baddbmm(x, y, z, beta=-2, alpha=0.5), i, a[None].repeat(3, 0),
                         b[None].repeat(3, 0), dtype=dtype, rtol=rtol)
        # a product big enough for BLAS
        i, a, b = rng.standard_normal((40,)), rng.standard_normal((30, 50)), rng.standard_normal((50, 40))
        values_and_grads(lambda m, x, y, z: m.addmm(x, y, z, beta=0.5), i, a, b, dtype=dtype, rtol=rtol * 10)


def test_addmm_and_baddbmm_on_int64_truncate_beta_and_alpha_as_torch():
    torch = torch_or_skip()
    for beta, alpha in [(2, 3), (0.5, 2.7), (-1.5, -2.7), (0, 1), (1, 0)]:
        for lib_fn in (lambda m: m.addmm(m.arange(4).reshape(1, 4), m.arange(6).reshape(2, 3),
                                         m.arange(12).reshape(3, 4), beta=beta, alpha=alpha),
                       lambda m: m.baddbmm(m.arange(4), m.arange(12).reshape(2, 2, 3),
                                           m.arange(24).reshape(2, 3, 4), beta=beta, alpha=alpha)):
            same_values(lib_fn(cgrad), lib_fn(torch))


def test_addmm_and_baddbmm_numbers_and_tensors_for_beta_and_alpha():
    torch = torch_or_skip()
    for fn in (lambda m: m.addmm(m.ones(2, 2), m.ones(2, 2), m.ones(2, 2), beta=m.tensor(2.0), alpha=True),
               lambda m: m.ones(2, 2).addmm(m.ones(2, 2), m.ones(2, 2), beta=np.float64(0.5), alpha=2),
               lambda m: m.ones(1, 2, 2).baddbmm(m.ones(1, 2, 2), m.ones(1, 2, 2), beta=3, alpha=m.tensor(-1))):
        same_values(fn(cgrad), fn(torch))
    with pytest.raises(TypeError):
        cgrad.addmm(cgrad.ones(2, 2), cgrad.ones(2, 2), cgrad.ones(2, 2), beta="a")
    with pytest.raises(TypeError):
        cgrad.addmm(cgrad.ones(2, 2), cgrad.ones(2, 2), cgrad.ones(2, 2), 2.0)  # beta is keyword-only
    with pytest.raises(TypeError):
        cgrad.ones(1, 2, 2).baddbmm(cgrad.ones(1, 2, 2), cgrad.ones(1, 2, 2), 2.0)


ADDMM_ERRORS = [
    lambda m: m.addmm(m.ones(3), m.ones(2, 3), m.ones(3, 4)),
    lambda m: m.addmm(m.ones(1, 2, 4), m.ones(2, 3), m.ones(3, 4)),
    lambda m: m.addmm(m.ones(2, 4), m.ones(3), m.ones(3, 4)),
    lambda m: m.addmm(m.ones(2, 4), m.tensor(1.0), m.ones(3, 4)),
    lambda m: m.addmm(m.ones(2, 4), m.ones(2, 3), m.ones(1, 3, 4)),
    lambda m: m.addmm(m.ones(2, 4), m.ones(2, 3), m.ones(5, 4)),
    lambda m: m.addmm(m.ones(2, 4, dtype=m.float64), m.ones(2, 3), m.ones(3, 4)),
    lambda m: m.addmm(m.ones(2, 4), m.ones(2, 3), m.ones(3, 4, dtype=m.float64)),
    lambda m: m.addmm(m.ones(2, 4), m.ones(2, 3, dtype=m.float64), m.ones(3, 4)),
    lambda m: m.addmm(m.ones(2, 4, dtype=m.int64), m.ones(2, 3), m.ones(3, 4)),
    lambda m: m.addmm(m.ones(2, 4, dtype=m.bool), m.ones(2, 3, dtype=m.bool), m.ones(3, 4, dtype=m.bool)),
    lambda m: m.addmm([1.0], m.ones(2, 3), m.ones(3, 4)),
    lambda m: m.addmm(m.ones(2, 4), [1.0], m.ones(3, 4)),
    lambda m: m.ones(2, 4).addmm(m.ones(2, 3), [[1.0]]),
    lambda m: m.baddbmm(m.ones(3), m.ones(5, 2, 3), m.ones(5, 3, 4)),
    lambda m: m.baddbmm(m.ones(4), m.ones(2, 3), m.ones(5, 3, 4)),
    lambda m: m.baddbmm(m.ones(4), m.ones(5, 2, 3), m.ones(5, 3, 4, 4)),
    lambda m: m.baddbmm(m.ones(5, 2, 4), m.ones(5, 2, 3), m.ones(3, 4)),
    lambda m: m.baddbmm(m.ones(4), m.ones(3), m.ones(5, 3, 4)),
    lambda m: m.baddbmm(m.ones(4), m.tensor(3.0), m.ones(5, 3, 4)),
    lambda m: m.baddbmm(m.ones(1, 5, 2, 4), m.ones(5, 2, 3), m.ones(5, 3, 4)),
    lambda m: m.baddbmm(m.ones(5, 2, 4), m.ones(5, 2, 3), m.ones(4, 3, 4)),
    lambda m: m.baddbmm(m.ones(5, 2, 4), m.ones(5, 2, 3), m.ones(5, 2, 4)),
    lambda m: m.baddbmm(m.ones(5, 2, 4), m.ones(5, 2, 3, dtype=m.float64), m.ones(5, 3, 4)),
    lambda m: m.baddbmm(m.ones(5, 2, 4, dtype=m.float64), m.ones(5, 2, 3), m.ones(5, 3, 4)),
    lambda m: m.baddbmm(m.ones(5, 2, 4), m.ones(5, 2, 3), m.ones(5, 3, 4, dtype=m.float64)),
    lambda m: m.baddbmm(m.ones(5, 2, 4, dtype=m.int64), m.ones(5, 2, 3), m.ones(5, 3, 4)),
    lambda m: m.baddbmm(m.ones(1, 2, 4, dtype=m.bool), m.ones(1, 2, 3, dtype=m.bool), m.ones(1, 3, 4, dtype=m.bool)),
    lambda m: m.ones(1, 2, 4).baddbmm(m.ones(1, 2, 3), 1.0),
]


@pytest.mark.parametrize("k", range(len(ADDMM_ERRORS)))
def test_addmm_and_baddbmm_errors_match_torch(k):
    same_error(ADDMM_ERRORS[k])


def test_baddbmm_input_that_does_not_expand_raises_as_torch():
    same_error(lambda m: m.baddbmm(m.ones(5, 2, 4), m.ones(2, 3), m.ones(5, 3, 4)))


def test_addmm_and_baddbmm_second_order_match_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(6)
    i, a, b = rng.standard_normal((2, 4)), rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    for name, shape in (("addmm", lambda x: x), ("baddbmm", lambda x: x[None].repeat(2, 0))):
        res = []
        for lib in (cgrad, torch):
            x, y, z = [lib.tensor(shape(v), requires_grad=True) for v in (i, a, b)]
            out = getattr(lib, name)(x, y, z, beta=0.5, alpha=-1.5)
            gx, gy, gz = lib.autograd.grad((out * out).sum(), [x, y, z], create_graph=True)
            hs = lib.autograd.grad((gy * gy).sum() + (gz * gx.sum()).sum(), [x, y, z])
            res.append([t.detach().numpy() for t in (gx, gy, gz, *hs)])
        for c, t in zip(*res):
            np.testing.assert_allclose(c, t, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- cross

def cross_np(dim):
    return lambda a, b: np.cross(a, b, axis=dim)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,dim", [(((3,), (3,)), 0), (((4, 3), (4, 3)), 1), (((3, 5), (3, 5)), 0),
                                        (((4, 1, 3), (1, 2, 3)), -1), (((2, 3, 1), (1, 3, 4)), 1),
                                        (((0, 3), (1, 3)), 1)], ids=str)
def test_cross(shapes, dim, dtype):
    out = check_op(lambda m, a, b: m.cross(a, b, dim=dim), *shapes, np_fn=cross_np(dim), dtype=dtype)
    assert out.grad_fn.name() == "LinalgCrossBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_method_noncontiguous_and_one_side_requiring_grad(dtype):
    check_op(lambda m, a, b: a.cross(b, dim=0), (3, 4), (3, 4), np_fn=cross_np(0), dtype=dtype, noncontig=True)
    check_op(lambda m, a, b: a.cross(b, -1), (2, 3), (2, 3), np_fn=cross_np(-1), dtype=dtype,
             requires_grad=[True, False])
    check_op(lambda m, a, b: m.cross(a, b, 1), (2, 3), (1, 3), np_fn=cross_np(1), dtype=dtype,
             requires_grad=[False, True])


@pytest.mark.parametrize("dtype", DTYPES + ["int64"])
def test_cross_values_are_torch_bits(dtype):
    torch = torch_or_skip()
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((500, 3)), rng.standard_normal((500, 3)) * 1e3
    if dtype == "int64":
        a, b = np.round(a * 1e6), np.round(b * 1e6)
    for dim, t in ((1, lambda x: x), (0, lambda x: x.T.copy())):
        same_values(cgrad.cross(cgrad.tensor(t(a), dtype=lib_dtype(cgrad, dtype)),
                                cgrad.tensor(t(b), dtype=lib_dtype(cgrad, dtype)), dim=dim),
                    torch.cross(torch.tensor(t(a), dtype=lib_dtype(torch, dtype)),
                                torch.tensor(t(b), dtype=lib_dtype(torch, dtype)), dim=dim))
    if dtype != "int64":
        values_and_grads(lambda m, x, y: m.cross(x, y, dim=1), a[:20], b[:20], dtype=dtype)
        special = np.array([[INF, 0.0, 1.0], [NAN, 1.0, 2.0], [1.0, -INF, 0.0]])
        values_and_grads(lambda m, x, y: m.cross(x, y, dim=1), special, special[::-1].copy(), dtype=dtype)


def test_cross_without_dim_takes_the_first_dim_of_size_3_and_warns_once():
    torch = torch_or_skip()
    import cgrad._C as C
    C._cross_dim_warned = False
    a, b = np.arange(9.0).reshape(3, 3), np.arange(9.0).reshape(3, 3) ** 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fn in (lambda m: m.cross(m.tensor(a), m.tensor(b)),
                   lambda m: m.tensor(a[:2]).cross(m.tensor(b[:2])),
                   lambda m: m.cross(m.tensor(a[:1]), m.tensor(b))):
            same_values(fn(cgrad), fn(torch))
    mine = [w for w in caught if str(w.message).startswith("Using cross without specifying the dim")]
    assert len(mine) == 1 and mine[0].category is UserWarning and mine[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_error(lambda m: m.cross(m.ones(2, 4), m.ones(2, 4)))
        same_error(lambda m: m.cross(m.ones(1, 4), m.ones(3, 4)))  # the size-3 dim is searched in input only
        same_error(lambda m: m.cross(m.tensor(1.0), m.tensor(1.0)))


CROSS_ERRORS = [
    lambda m: m.cross(m.ones(4, 1, 3), m.ones(5, 3), dim=-1),
    lambda m: m.cross(m.ones(2, 3), m.ones(2, 3), dim=0),
    lambda m: m.cross(m.ones(2, 3), m.ones(2, 3), dim=2),
    lambda m: m.cross(m.ones(2, 3), m.ones(2, 3, dtype=m.float64), dim=1),
    lambda m: m.cross(m.ones(2, 3, dtype=m.float64), m.ones(2, 3), dim=1),
    lambda m: m.cross(m.ones(2, 3, dtype=m.int64), m.ones(2, 3), dim=1),
    lambda m: m.cross(m.ones(2, 3, dtype=m.bool), m.ones(2, 3, dtype=m.bool), dim=1),
    lambda m: m.cross(m.ones(4, 3), m.ones(2, 3), dim=-1),
    lambda m: m.cross(m.ones(4, 3, dtype=m.float64), m.ones(2, 3), dim=1),
    lambda m: m.cross(m.ones(4, 3), m.ones(2, 4), dim=1),
    lambda m: m.cross(m.ones(2, 1), m.ones(2, 3), dim=1),
    lambda m: m.cross(m.ones(3), m.ones(2, 3), dim=5),
    lambda m: m.cross(m.tensor(1.0), m.tensor(1.0), dim=0),
    lambda m: m.cross(m.ones(3), 1.0, dim=0),
    lambda m: m.cross([1.0, 2.0, 3.0], m.ones(3), dim=0),
    lambda m: m.ones(3).cross([1.0, 2.0, 3.0], dim=0),
    lambda m: m.cross(m.ones(3), m.ones(3), dim=0.0),
]


@pytest.mark.parametrize("k", range(len(CROSS_ERRORS)))
def test_cross_errors_match_torch(k):
    same_error(CROSS_ERRORS[k])


def test_cross_second_order_matches_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((1, 3))
    res = []
    for lib in (cgrad, torch):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        out = lib.cross(x, y, dim=1)
        gx, gy = lib.autograd.grad((out * out).sum(), [x, y], create_graph=True)
        hs = lib.autograd.grad((gx * gy).sum(), [x, y])
        res.append([t.detach().numpy() for t in (gx, gy, *hs)])
    for c, t in zip(*res):
        np.testing.assert_allclose(c, t, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- compiled steps

# name -> loss(w, x) over a parameter w (4, 3) and a batch x (4, 3)
COMPILED = {
    "logaddexp": lambda w, x: cgrad.logaddexp(w, x).sum(),
    "xlogy": lambda w, x: (cgrad.xlogy(w, x) + x.xlogy(w) + cgrad.xlogy(2.0, w)).sum(),
    "sinc": lambda w, x: (w * x).sinc().sum(),
    "erfinv": lambda w, x: (w * x).erfinv().square().sum() + cgrad.erfinv(w - 0.5).sum(),
    "addmm": lambda w, x: cgrad.addmm(x[:, 0], w, x.T, beta=0.5, alpha=-1.5).square().sum(),
    "baddbmm": lambda w, x: x[None, :, :1].baddbmm(w[None].repeat(2, 1, 1), x.T[None].repeat(2, 1, 1),
                                                   alpha=0.5).square().sum(),
    "cross": lambda w, x: cgrad.cross(w, x, dim=1).square().sum() + w.cross(x[:1], dim=-1).sum(),
}


@pytest.mark.parametrize("name", COMPILED)
def test_a_compiled_step_is_bit_identical_to_eager(name):
    """A training step using the op, compiled, gives the eager losses,
    gradients and parameters bit for bit over several steps."""
    loss_of = COMPILED[name]
    rng = np.random.default_rng(3)
    w0 = rng.uniform(0.2, 0.8, (4, 3))
    batches = [(cgrad.tensor(rng.uniform(0.2, 0.8, (4, 3)), dtype=cgrad.float32),) for _ in range(6)]

    def params():
        return [cgrad.tensor(w0, dtype=cgrad.float32, requires_grad=True)]
    compiled = run_twins(sgd_step(lambda ps, x: loss_of(ps[0], x)), params(), params(), batches)
    assert compiled._cgrad_step.replays >= 3
