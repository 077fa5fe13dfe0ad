"""logaddexp, xlogy, sinc, erfinv, addmm, baddbmm and cross, checked against
torch, numpy and finite differences (helpers.check_op): values, gradients,
broadcasting, Python numbers, PyTorch's special values, result dtypes, errors
and a compiled step."""
import math
import warnings

import numpy as np
import pytest

import cgrad
from helpers import check_op

DTYPES = ["float64", "float32"]
INF, NAN = math.inf, math.nan


def torch_or_skip():
    return pytest.importorskip("torch")


def lib_dtype(lib, name):
    return getattr(lib, name)


def same_values(x, t):
    """cgrad tensor x holds torch tensor t's values (NaN where it has NaN), dtype and shape."""
    assert str(x.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (x.dtype, t.dtype)
    assert tuple(x.shape) == tuple(t.shape)
    np.testing.assert_array_equal(np.asarray(x.detach().numpy()), t.detach().numpy())


def values_and_grads(fn, *arrays, dtype="float64", rtol=0.0):
    """fn(lib, *leaves) in cgrad and torch on the same values: the outputs and
    the gradients of sum(out * upstream) agree (exactly when rtol is 0; NaN
    where torch has NaN)."""
    torch = torch_or_skip()
    outs, grads = [], []
    for lib in (cgrad, torch):
        leaves = [lib.tensor(a, dtype=lib_dtype(lib, dtype), requires_grad=True) for a in arrays]
        out = fn(lib, *leaves)
        up = lib.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)), dtype=out.dtype)
        (out * up).sum().backward()
        outs.append(np.asarray(out.detach().numpy(), dtype=np.float64))
        grads.append([np.asarray(leaf.grad.numpy(), dtype=np.float64) for leaf in leaves])
    np.testing.assert_allclose(outs[0], outs[1], rtol=rtol, atol=0)
    for g, tg in zip(grads[0], grads[1]):
        np.testing.assert_allclose(g, tg, rtol=rtol, atol=0)


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


# ---------------------------------------------------------------- compiled steps

# name -> loss(w, x) over a parameter w (4, 3) and a batch x (4, 3)
COMPILED = {
    "logaddexp": lambda w, x: cgrad.logaddexp(w, x).sum(),
    "xlogy": lambda w, x: (cgrad.xlogy(w, x) + x.xlogy(w) + cgrad.xlogy(2.0, w)).sum(),
    "sinc": lambda w, x: (w * x).sinc().sum(),
}


@pytest.mark.parametrize("name", COMPILED)
def test_a_compiled_step_is_bit_identical_to_eager(name):
    """A training step using the op, compiled, gives the eager losses,
    gradients and parameters bit for bit over several steps."""
    loss_of = COMPILED[name]
    rng = np.random.default_rng(3)
    w0 = rng.uniform(0.2, 0.8, (4, 3))
    batches = [cgrad.tensor(rng.uniform(0.2, 0.8, (4, 3)), dtype=cgrad.float32) for _ in range(6)]

    def make_step(w):
        def step(x):
            loss = loss_of(w, x)
            loss.backward()
            with cgrad.no_grad():
                w.sub_(0.01 * w.grad)
                w.grad.zero_()
            return loss
        return step

    w_eager = cgrad.tensor(w0, dtype=cgrad.float32, requires_grad=True)
    w_comp = cgrad.tensor(w0, dtype=cgrad.float32, requires_grad=True)
    eager, compiled = make_step(w_eager), cgrad.compile(make_step(w_comp))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback to eager would warn
        for x in batches:
            le, lc = eager(x), compiled(x)
            assert le.detach().numpy().tobytes() == lc.numpy().tobytes()
            assert w_eager.detach().numpy().tobytes() == w_comp.detach().numpy().tobytes()
    assert compiled._cgrad_step.replays >= 3
