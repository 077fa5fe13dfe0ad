"""lgamma, digamma, polygamma, mvlgamma, i0 and logit against torch: values in
ulps over wide ranges and at PyTorch's special points, gradients of first and
second order, float32 and float64, broadcasting, in-place forms and errors."""
import math

import numpy as np
import pytest

import cgrad
from helpers import same_error

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64"]
INF, NAN = math.inf, math.nan
SPECIAL = [0.0, -0.0, 1.0, 2.0, -1.0, -2.0, -2.5, -0.5, 0.5, 10.0, 9.999999, 1e-30, 1e30, -1e30,
           INF, -INF, NAN]


def ulps(a, b):
    """The distance of a and b in units in the last place, elementwise (0 where
    both are the same infinity or both NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    it = np.int32 if a.dtype == np.float32 else np.int64
    lo = np.iinfo(it).min

    def ordered(x):
        i = x.view(it).astype(np.int64)
        return np.where(i < 0, lo - i, i)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    with np.errstate(invalid="ignore"):
        return np.where(same, 0, np.abs(ordered(a) - ordered(b)))


def sample(dtype, low=-30.0, high=30.0, n=20000, seed=0):
    """Uniform points, points near 0, log-spread magnitudes and the special values."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(low, high, n), rng.uniform(0, 5, n // 2), 10 ** rng.uniform(-8, 8, n // 4),
                        -(10 ** rng.uniform(-8, 3, n // 4)), SPECIAL])
    return x.astype(dtype)


def both(fn, x):
    """fn(lib, tensor) on x in torch and cgrad, as numpy arrays."""
    t = fn(torch, torch.from_numpy(x)).numpy()
    c = fn(cgrad, cgrad.tensor(x)).numpy()
    assert c.dtype == t.dtype
    return c, t


def assert_ulps(fn, x, max_ulps, abs_eps=None):
    """cgrad agrees with torch within max_ulps; with abs_eps, a point may
    instead agree within abs_eps machine epsilons absolutely (near a zero of
    the function, where both sides' relative error is unbounded)."""
    c, t = both(fn, x)
    d = ulps(c, t)
    if abs_eps is not None:
        with np.errstate(invalid="ignore"):
            d = np.where(np.abs(c.astype(np.float64) - t) <= abs_eps * np.finfo(x.dtype).eps, 0, d)
    worst = int(np.argmax(d))
    assert d.max() <= max_ulps, (x[worst], c[worst], t[worst], d.max())


UNARY = {
    "lgamma": (lambda m, x: m.lgamma(x), 4, 8),
    "digamma": (lambda m, x: m.digamma(x), 2, None),
    "i0": (lambda m, x: m.i0(x), 6, None),
    "polygamma0": (lambda m, x: m.polygamma(0, x), 2, None),
    "polygamma1": (lambda m, x: m.polygamma(1, x), 2, None),
    "polygamma2": (lambda m, x: m.polygamma(2, x), 2, None),
    "polygamma3": (lambda m, x: m.polygamma(3, x), 2, None),
    "polygamma6": (lambda m, x: m.polygamma(6, x), 2, None),
    "mvlgamma1": (lambda m, x: m.mvlgamma(x, 1), 4, 8),
    "mvlgamma3": (lambda m, x: m.mvlgamma(x, 3), 4, 16),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_values_in_ulps(name, dtype):
    fn, max_ulps, abs_eps = UNARY[name]
    assert_ulps(fn, sample(dtype), max_ulps, abs_eps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_special_values_are_torchs(name, dtype):
    fn = UNARY[name][0]
    x = np.array(SPECIAL + [-3.0, -100.0, -0.25, 88.8, -89.0, 700.0, 710.5, 800.0, 1e-5, 3e-5], dtype=dtype)
    c, t = both(fn, x)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(t))
    np.testing.assert_array_equal(np.isinf(c) * np.sign(c), np.isinf(t) * np.sign(t))


@pytest.mark.parametrize("dtype", DTYPES)
def test_polygamma_high_orders(dtype):
    for n in (4, 5, 8, 10):
        assert_ulps(lambda m, x: m.polygamma(n, x), sample(dtype, -10, 10, n=4000), 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [None, 0.0, 0.1, 0.25, 0.7, 1.0, -0.5])
def test_logit_values(dtype, eps):
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-0.1, 1.1, 20000), [0, -0.0, 1, 0.5, 0.1, 0.9, INF, -INF, NAN]]).astype(dtype)
    assert_ulps(lambda m, t: m.logit(t, eps), x, 1)
    assert_ulps(lambda m, t: t.logit(eps=eps), x, 1)


def test_exact_points():
    """Values that are exact in math: I0(0) = 1 (torch's float32 gives 1 - 2^-24 there)."""
    assert cgrad.i0(cgrad.tensor([0.0, -0.0])).tolist() == [1.0, 1.0]
    assert cgrad.lgamma(cgrad.tensor([1.0, 2.0], dtype=cgrad.float64)).tolist() == [0.0, 0.0]
    assert cgrad.digamma(cgrad.tensor([0.0, -0.0])).tolist() == [-INF, INF]
    assert math.isnan(cgrad.digamma(cgrad.tensor([-1.0])).item())


# ---- gradients --------------------------------------------------------------------------

GRAD_CASES = {
    "lgamma": (lambda m, x: m.lgamma(x), [0.3, 2.5, 7.0, -1.5, -0.25], "LgammaBackward0"),
    "digamma": (lambda m, x: m.digamma(x), [0.3, 2.5, 7.0, -1.5, -0.25], "DigammaBackward0"),
    "polygamma0": (lambda m, x: m.polygamma(0, x), [0.3, 2.5, -1.5], "PolygammaBackward0"),
    "polygamma1": (lambda m, x: m.polygamma(1, x), [0.3, 2.5, -1.5], "PolygammaBackward0"),
    "polygamma3": (lambda m, x: x.polygamma(3), [0.3, 2.5, -1.5], "PolygammaBackward0"),
    "mvlgamma": (lambda m, x: m.mvlgamma(x, 4), [1.7, 2.5, 7.0], "MvlgammaBackward0"),
    "i0": (lambda m, x: m.i0(x), [0.0, 0.3, -2.5, 7.0, 40.0, -60.0], "I0Backward0"),
    "logit": (lambda m, x: m.logit(x), [0.0, 0.3, 0.5, 0.99, 1.0, -0.5, 1.5], "LogitBackward0"),
    "logit eps": (lambda m, x: m.logit(x, eps=0.2), [0.0, 0.1, 0.3, 0.5, 0.9, 1.0, 1.5], "LogitBackward0"),
    "logit method": (lambda m, x: x.logit(0.05), [0.01, 0.3, 0.97], "LogitBackward0"),
}


def grads(lib, fn, values, dtype):
    x = lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=True)
    y = fn(lib, x)
    up = lib.tensor(np.linspace(-1.5, 2.0, len(values)), dtype=getattr(lib, dtype))
    g1, = lib.autograd.grad((y * up).sum(), x, create_graph=True)
    g2, = lib.autograd.grad(g1.sum(), x)
    return y.grad_fn.name(), y.detach().numpy(), g1.detach().numpy(), g2.numpy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(GRAD_CASES))
def test_first_and_second_order_gradients(case, dtype):
    fn, values, node = GRAD_CASES[case]
    ours, theirs = grads(cgrad, fn, values, dtype), grads(torch, fn, values, dtype)
    assert ours[0] == theirs[0] == node
    rtol = 2e-6 if dtype == "float32" else 1e-13
    for a, b in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0)


@pytest.mark.parametrize("case", ["lgamma", "digamma", "polygamma1", "mvlgamma", "i0", "logit", "logit eps"])
def test_gradcheck(case):
    fn, values, _ = GRAD_CASES[case]
    values = [v for v in values if v not in (0.0, 1.0, 0.1, 0.9, -0.5, 1.5)]
    x = cgrad.tensor(values, dtype=cgrad.float64, requires_grad=True)
    assert cgrad.autograd.gradcheck(lambda t: fn(cgrad, t), (x,))
    assert cgrad.autograd.gradgradcheck(lambda t: fn(cgrad, t), (x,))


def test_i0_gradient_at_zero_has_the_half_of_i1():
    """d2/dx2 I0 at 0 is 1/2 (I1'(0)), which PyTorch sets where |x| <= epsilon."""
    for lib in (cgrad, torch):
        x = lib.tensor([0.0, 1e-17], dtype=lib.float64, requires_grad=True)
        g, = lib.autograd.grad(lib.i0(x).sum(), x, create_graph=True)
        g2, = lib.autograd.grad(g.sum(), x)
        assert g2.tolist() == [0.5, 0.5]


def test_broadcast_and_views():
    data = np.random.default_rng(3).uniform(0.2, 3.0, (3, 4))
    for fn in (lambda m, x: m.lgamma(x), lambda m, x: m.polygamma(2, x), lambda m, x: m.mvlgamma(x + 1, 2),
               lambda m, x: m.logit(x / 4, 0.1), lambda m, x: m.i0(x), lambda m, x: x.digamma()):
        out = []
        for lib in (cgrad, torch):
            base = lib.tensor(data, requires_grad=True)
            y = fn(lib, base.T[::2]) * lib.tensor([1.0, 2.0, 3.0])
            y.sum().backward()
            out.append((y.detach().numpy(), base.grad.numpy()))
        np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-6)
        np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-5)


@pytest.mark.parametrize("name", ["lgamma", "digamma", "i0"])
def test_zero_dim_and_empty(name):
    for shape in [(), (0,), (2, 0)]:
        x = cgrad.ones(shape)
        t = torch.ones(shape)
        assert getattr(x, name)().shape == tuple(getattr(t, name)().shape)
    assert cgrad.polygamma(1, cgrad.tensor(2.0)).shape == ()
    assert cgrad.mvlgamma(cgrad.tensor(2.0), 2).shape == ()


# ---- dtypes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [lambda m, x: m.lgamma(x), lambda m, x: m.digamma(x), lambda m, x: m.i0(x),
                                lambda m, x: m.polygamma(2, x), lambda m, x: m.mvlgamma(x + 0, 2),
                                lambda m, x: m.logit(x), lambda m, x: m.logit(x, 0.25)])
@pytest.mark.parametrize("values", [[1, 2, 0, 3], [True, False, True, True]])
def test_integer_and_bool_inputs_compute_in_the_default_float(fn, values):
    c = fn(cgrad, cgrad.tensor(values))
    t = fn(torch, torch.tensor(values))
    assert str(c.dtype) == str(t.dtype).replace("torch", "cgrad")
    assert ulps(c.numpy(), t.numpy()).max() <= 6  # i0's float32 values are torch's within its own error
    cgrad.set_default_dtype(cgrad.float64)
    try:
        assert fn(cgrad, cgrad.tensor(values)).dtype == cgrad.float64
    finally:
        cgrad.set_default_dtype(cgrad.float32)


# ---- in place -------------------------------------------------------------------------------

INPLACE = {
    "lgamma_": lambda x: x.lgamma_(),
    "digamma_": lambda x: x.digamma_(),
    "i0_": lambda x: x.i0_(),
    "logit_": lambda x: x.logit_(),
    "logit_ eps": lambda x: x.logit_(0.2),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_values_versions_and_gradients(name, dtype):
    fn = INPLACE[name]
    out = []
    for lib in (cgrad, torch):
        leaf = lib.tensor([0.15, 0.4, 0.85], dtype=getattr(lib, dtype), requires_grad=True)
        y = leaf * 1
        version = y._version
        r = fn(y)
        assert r is y and y._version == version + 1
        y.sum().backward()
        out.append((y.grad_fn.name(), y.detach().numpy(), leaf.grad.numpy()))
    assert out[0][0] == out[1][0]
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=4e-7 if dtype == "float32" else 1e-15)
    np.testing.assert_allclose(out[0][2], out[1][2], rtol=4e-6 if dtype == "float32" else 1e-13)


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_on_a_view_changes_the_base(name):
    x = cgrad.tensor([[0.2, 0.4], [0.6, 0.8]])
    t = torch.tensor([[0.2, 0.4], [0.6, 0.8]])
    INPLACE[name](x[:, 1])
    INPLACE[name](t[:, 1])
    np.testing.assert_allclose(x.numpy(), t.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_errors(name):
    fn = INPLACE[name]
    same_error(lambda m: fn(m.tensor([0.2, 0.4], requires_grad=True)))  # a leaf that requires grad
    same_error(lambda m: fn(m.tensor([1, 2])))  # a float result into an int64 tensor
    same_error(lambda m: fn(m.tensor([True, False])))


def test_function_forms_of_inplace():
    for name in ("i0_", "logit_"):
        x, t = cgrad.tensor([0.2, 0.4]), torch.tensor([0.2, 0.4])
        assert getattr(cgrad, name)(x) is x
        getattr(torch, name)(t)
        np.testing.assert_allclose(x.numpy(), t.numpy(), rtol=1e-6)
    x = cgrad.tensor([0.2, 0.4])
    cgrad.logit_(x, 0.3)
    assert np.allclose(x.numpy(), torch.logit(torch.tensor([0.3, 0.4])).numpy())


def test_saved_input_modified_in_place():
    same_error(lambda m: _modify_saved(m, lambda y: m.digamma(y)))
    same_error(lambda m: _modify_saved(m, lambda y: m.polygamma(2, y)))
    same_error(lambda m: _modify_saved(m, lambda y: m.logit(y, 0.1)))


def _modify_saved(lib, fn):
    x = lib.tensor([0.3, 0.6], requires_grad=True)
    y = x * 1
    z = fn(y)
    y.add_(1)
    z.sum().backward()


# ---- argument errors ---------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda m: m.polygamma(-1, m.tensor([1.0])),
    lambda m: m.polygamma(1.5, m.tensor([1.0])),
    lambda m: m.polygamma(True, m.tensor([1.0])),
    lambda m: m.polygamma(m.tensor([1.0]), 1),
    lambda m: m.tensor([1.0]).polygamma(1.0),
    lambda m: m.tensor([1.0]).polygamma(-2),
    lambda m: m.mvlgamma(m.tensor([1.0]), 0),
    lambda m: m.mvlgamma(m.tensor([1.0]), 2.0),
    lambda m: m.mvlgamma(m.tensor([1.0]), True),
    lambda m: m.mvlgamma(m.tensor([True, False]), 2),
    lambda m: m.tensor([1.0]).mvlgamma(1.5),
    lambda m: m.logit(m.tensor([0.3]), "a"),
    lambda m: m.tensor([0.3]).logit("a"),
    lambda m: m.lgamma(1.0),
    lambda m: m.digamma([1.0]),
    lambda m: m.i0(1.0),
    lambda m: m.logit(0.5),
    lambda m: m.mvlgamma(2.0, 2),
    lambda m: m.polygamma(1, 2.0),
])
def test_errors_are_torchs(call):
    same_error(call)


def test_int_like_arguments():
    """n and p take ints and 0-d integer tensors, as torch; eps takes numbers and bools."""
    for lib in (cgrad, torch):
        x = lib.tensor([1.5, 2.5])
        a = lib.polygamma(lib.tensor(2), x)
        b = lib.mvlgamma(x, lib.tensor(2))
        c = lib.logit(lib.tensor([0.3, 0.6]), True)
        d = lib.logit(lib.tensor([0.3, 0.6]), 1)
        if lib is cgrad:
            ours = [v.numpy() for v in (a, b, c, d)]
        else:
            for o, v in zip(ours, (a, b, c, d)):
                np.testing.assert_array_equal(o, v.numpy())


def test_not_missing_any_more():
    from cgrad import _missing
    for name in ("lgamma", "digamma", "polygamma", "mvlgamma", "i0", "logit"):
        assert name not in _missing.FUNCTIONS and name not in _missing.METHODS
    for name in ("lgamma_", "digamma_", "i0_", "logit_"):
        assert name not in _missing.METHODS


# ---- signbit, copysign, fmax, fmin, logaddexp2, gcd, lcm -------------------------------------

EDGE = [0.0, -0.0, 1.5, -2.0, INF, -INF, NAN, -NAN, 1e-310, -1e-310]


def grid(dtype):
    """Every pair of EDGE values and some random ones, as two flat arrays."""
    a, b = np.meshgrid(EDGE, EDGE)
    rng = np.random.default_rng(4)
    r = rng.standard_normal((2, 5000)) * 10 ** rng.uniform(-3, 3, (2, 5000))
    return (np.concatenate([a.ravel(), r[0]]).astype(dtype), np.concatenate([b.ravel(), r[1]]).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
# logaddexp2 is max(a, b) + log1p(2^-|a - b|) / ln 2: where the two terms nearly
# cancel (a result near 0 from a, b of either sign) the last rounding of each
# side shows as a few ulps of the small result.
@pytest.mark.parametrize("name, max_ulps", [("copysign", 0), ("fmax", 0), ("fmin", 0), ("logaddexp2", 8)])
def test_binary_values(name, max_ulps, dtype):
    a, b = grid(dtype)
    c = getattr(cgrad, name)(cgrad.tensor(a), cgrad.tensor(b)).numpy()
    t = getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert ulps(c, t).max() <= max_ulps
    if max_ulps == 0:  # the sign of a zero too
        np.testing.assert_array_equal(np.signbit(c), np.signbit(t))


def test_signbit():
    x = np.array(EDGE, dtype=np.float32)
    for values in (x, x.astype(np.float64), np.array([3, -2, 0]), np.array([True, False])):
        c, t = cgrad.signbit(cgrad.tensor(values)), torch.signbit(torch.tensor(values))
        assert c.dtype == cgrad.bool and c.tolist() == t.tolist()
    assert cgrad.tensor([-1.0], requires_grad=True).signbit().requires_grad is False


@pytest.mark.parametrize("values", [([1, -2, 0], [-1, 1, -1]), ([True, False], [True, True]), ([1, 2], [-1.5, 2.0])])
@pytest.mark.parametrize("name", ["copysign", "fmax", "fmin"])
def test_binary_dtypes(name, values):
    a, b = values
    c = getattr(cgrad, name)(cgrad.tensor(a), cgrad.tensor(b))
    t = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
    assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    assert c.tolist() == t.tolist()


def test_copysign_number_other():
    for other in (-1, 2.5, -0.0, True):
        c = cgrad.copysign(cgrad.tensor([1.0, -2.0, 0.0]), other)
        t = torch.copysign(torch.tensor([1.0, -2.0, 0.0]), other)
        np.testing.assert_array_equal(c.numpy(), t.numpy())
        assert (cgrad.tensor([1, -2]).copysign(other).tolist() == torch.tensor([1, -2]).copysign(other).tolist())


def test_gcd_lcm():
    rng = np.random.default_rng(5)
    a = np.concatenate([rng.integers(-10**6, 10**6, 2000), [0, 0, 7, -7, 2**62, -(2**63)]])
    b = np.concatenate([rng.integers(-10**4, 10**4, 2000), [0, 5, 0, -14, 2**61, 2]])
    for name in ("gcd", "lcm"):
        c = getattr(cgrad, name)(cgrad.tensor(a), cgrad.tensor(b)).numpy()
        t = getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b)).numpy()
        np.testing.assert_array_equal(c, t)
    c = cgrad.gcd(cgrad.tensor([[12], [18]]), cgrad.tensor([8, 27]))
    assert c.tolist() == torch.gcd(torch.tensor([[12], [18]]), torch.tensor([8, 27])).tolist()


BINARY_GRADS = {
    "copysign": (lambda m, a, b: m.copysign(a, b), [1.0, -2.0, 0.0, 3.0, -0.5, NAN], [-1.0, 1.0, -1.0, NAN, -0.0, 2.0]),
    "copysign number": (lambda m, a, b: a.copysign(-2.0) * b, [1.0, -2.0, 0.0, 3.0], [1.0, 1.0, 1.0, 1.0]),
    "fmax": (lambda m, a, b: m.fmax(a, b), [1.0, NAN, 2.0, 3.0, NAN, -1.0], [NAN, 1.0, 3.0, 3.0, NAN, -2.0]),
    "fmin": (lambda m, a, b: a.fmin(b), [1.0, NAN, 2.0, 3.0, NAN, -1.0], [NAN, 1.0, 3.0, 3.0, NAN, -2.0]),
    "logaddexp2": (lambda m, a, b: m.logaddexp2(a, b), [1.0, -INF, INF, 3.0, 0.5, 40.0], [2.0, -INF, INF, -INF, 0.5, -40.0]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(BINARY_GRADS))
def test_binary_gradients(case, dtype):
    fn, a, b = BINARY_GRADS[case]
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=True)
        y = lib.tensor(b, dtype=getattr(lib, dtype), requires_grad=True)
        z = fn(lib, x, y)
        up = lib.tensor(np.linspace(-1, 2, len(a)), dtype=getattr(lib, dtype))
        gx, gy = lib.autograd.grad((z * up).sum(), [x, y], create_graph=True)
        loss = (gx * gx).sum() + gy.sum()
        second = lib.autograd.grad(loss, [x, y], allow_unused=True) if loss.requires_grad else [None, None]
        out.append([z.grad_fn.name(), z.detach().numpy(), gx.detach().numpy(), gy.detach().numpy()]
                   + [None if s is None else s.numpy() for s in second] + [loss.requires_grad])
    assert out[0][0] == out[1][0]
    for mine, theirs in zip(out[0][1:], out[1][1:]):
        if mine is None or theirs is None:
            assert mine is None or not np.any(mine), (mine, theirs)  # an unused input's zero gradient
            continue
        np.testing.assert_allclose(mine, theirs, rtol=2e-6 if dtype == "float32" else 1e-14)


def test_binary_gradients_broadcast():
    for name in ("copysign", "fmax", "fmin", "logaddexp2"):
        out = []
        for lib in (cgrad, torch):
            x = lib.tensor([[1.0], [-2.0]], requires_grad=True)
            y = lib.tensor([0.5, -3.0, 1.0], requires_grad=True)
            getattr(lib, name)(x, y).sum().backward()
            out.append((x.grad.numpy(), y.grad.numpy()))
        np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-6)
        np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-6)


BINARY_INPLACE = {
    "copysign_": (lambda x, o: x.copysign_(o), [1.0, -2.0, 3.0], [-1.0, 1.0, -0.0]),
    "copysign_ number": (lambda x, o: x.copysign_(-1.0), [1.0, -2.0, 3.0], None),
    "gcd_": (lambda x, o: x.gcd_(o), [12, -18, 0], [8, 12, 5]),
    "lcm_": (lambda x, o: x.lcm_(o), [4, -6, 0], [6, 4, 5]),
    "bitwise_and_": (lambda x, o: x.bitwise_and_(o), [12, 3, -1], [10, 1, 7]),
    "bitwise_or_": (lambda x, o: x.bitwise_or_(o), [12, 3, -1], [10, 1, 7]),
    "bitwise_xor_": (lambda x, o: x.bitwise_xor_(o), [12, 3, -1], [10, 1, 7]),
    "bitwise_and_ number": (lambda x, o: x.bitwise_and_(6), [12, 3, -1], None),
    "bitwise_or_ bool": (lambda x, o: x.bitwise_or_(o), [True, False, False], [False, False, True]),
    "logical_and_": (lambda x, o: x.logical_and_(o), [1.0, 0.0, 2.0], [1.0, 1.0, 0.0]),
    "logical_or_": (lambda x, o: x.logical_or_(o), [1, 0, 0], [0, 0, 3]),
    "logical_xor_": (lambda x, o: x.logical_xor_(o), [True, False, True], [1.5, 0.0, 0.0]),
}


@pytest.mark.parametrize("case", sorted(BINARY_INPLACE))
def test_binary_inplace(case):
    fn, a, b = BINARY_INPLACE[case]
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor(a)
        version = x._version
        r = fn(x, None if b is None else lib.tensor(b))
        assert r is x and x._version == version + 1
        out.append((str(x.dtype).split(".")[-1], x.tolist()))
    assert out[0] == out[1]


def _logical_in_place_story(lib, name, target):
    """What autograd sees of a logical op written in place: PyTorch leaves them
    out of it, so a leaf that requires grad takes them and no node records them."""
    leaf = lib.tensor([1.5, 0.0, -2.0], requires_grad=True)
    t = {"leaf": leaf, "non-leaf": leaf * 2, "view": (leaf * 2)[1:]}[target]
    version = t._version
    args = () if name == "logical_not_" else (lib.tensor([1.0, 1.0, 0.0][-len(t):]),)
    r = getattr(t, name)(*args)
    story = [r is t, t._version - version, t.tolist(), t.requires_grad, t.is_leaf,
             None if t.grad_fn is None else t.grad_fn.name()]
    t.sum().backward()
    return story + [leaf.grad.tolist()]


@pytest.mark.parametrize("target", ["leaf", "non-leaf", "view"])
@pytest.mark.parametrize("name", ["logical_and_", "logical_or_", "logical_xor_", "logical_not_"])
def test_logical_inplace_stays_out_of_autograd(name, target):
    assert _logical_in_place_story(cgrad, name, target) == _logical_in_place_story(torch, name, target)


def test_logical_inplace_still_refuses_an_expanded_tensor():
    same_error(lambda m: m.tensor([1.0]).expand(3).logical_not_())


def test_copysign_inplace_gradient():
    out = []
    for lib in (cgrad, torch):
        leaf = lib.tensor([1.0, -2.0, 0.0], requires_grad=True)
        y = leaf * 2
        y.copysign_(lib.tensor([-1.0, -1.0, 1.0]))
        assert y.grad_fn.name() == "CopysignBackward0"
        (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        out.append(leaf.grad.numpy())
    np.testing.assert_array_equal(out[0], out[1])


@pytest.mark.parametrize("call", [
    lambda m: m.tensor([1, 2]).copysign_(-1),
    lambda m: m.tensor([1.0], requires_grad=True).copysign_(-1),
    lambda m: m.fmax(m.tensor([1.0]), 2.0),
    lambda m: m.tensor([1.0]).fmin(2.0),
    lambda m: m.logaddexp2(m.tensor([1]), m.tensor([2])),
    lambda m: m.logaddexp2(m.tensor([1.0]), 2.0),
    lambda m: m.gcd(m.tensor([12.0]), m.tensor([8.0])),
    lambda m: m.gcd(m.tensor([True]), m.tensor([True])),
    lambda m: m.lcm(m.tensor([12]), 8),
    lambda m: m.tensor([12]).gcd_(8),
    lambda m: m.tensor([12]).lcm_(m.tensor([8.0])),
    lambda m: m.tensor([12.0]).gcd_(m.tensor([8])),
    lambda m: m.tensor([1, 2]).bitwise_and_(1.5),
    lambda m: m.tensor([1.0, 2]).bitwise_and_(m.tensor([1])),
    lambda m: m.tensor([True, False]).bitwise_and_(m.tensor([1, 1])),
    lambda m: m.tensor([1, 0]).logical_or_(1),
    lambda m: m.tensor([1, 0]).logical_or_(m.tensor([1, 0, 1])),
    lambda m: m.signbit(1.0),
    lambda m: m.fmax(m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0, 3.0])),
])
def test_binary_errors_are_torchs(call):
    same_error(call)


def test_function_forms_gcd_lcm_inplace():
    x = cgrad.tensor([12, 18])
    assert cgrad.gcd_(x, cgrad.tensor([8, 12])) is x and x.tolist() == [4, 6]
    assert cgrad.lcm_(x, cgrad.tensor([6, 4])).tolist() == [12, 12]


def test_also_not_missing():
    from cgrad import _missing
    for name in ("signbit", "copysign", "fmax", "fmin", "logaddexp2", "gcd", "lcm"):
        assert name not in _missing.FUNCTIONS and name not in _missing.METHODS
    for name in ("copysign_", "gcd_", "lcm_", "bitwise_and_", "bitwise_or_", "bitwise_xor_", "logical_and_",
                 "logical_or_", "logical_xor_"):
        assert name not in _missing.METHODS


# ---- float_power ------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda m: m.float_power(m.tensor([2.0, -3.0, 0.0]), 2),
    lambda m: m.float_power(m.tensor([2, 3]), m.tensor([2, -1])),
    lambda m: m.float_power(m.tensor([[2.0], [3.0]]), m.tensor([1.5, 2.0, -1.0])),
    lambda m: m.float_power(2, m.tensor([3, 1])),
    lambda m: m.float_power(2.5, m.tensor([0.5])),
    lambda m: m.tensor([True, False]).float_power(m.tensor([True])),
    lambda m: m.tensor([2.0, 0.5], dtype=m.float64).float_power_(m.tensor([3])),
    lambda m: m.tensor([2.0, 0.5], dtype=m.float64).float_power_(-1.5),
])
def test_float_power_values_in_float64(call):
    c, t = call(cgrad), call(torch)
    assert c.dtype == cgrad.float64 and t.dtype == torch.float64
    np.testing.assert_array_equal(c.numpy(), t.numpy())


def test_float_power_gradients():
    for fn in (lambda m, x, y: m.float_power(x, y), lambda m, x, y: x.float_power(2.5) * y,
               lambda m, x, y: m.float_power(1.5, y) * x):
        out = []
        for lib in (cgrad, torch):
            x = lib.tensor([2.0, 3.0], requires_grad=True)
            y = lib.tensor([1.5, -0.5], requires_grad=True)
            z = fn(lib, x, y)
            z.sum().backward()
            out.append((z.grad_fn.name(), z.detach().numpy(), x.grad.numpy(), y.grad.numpy()))
        assert out[0][0] == out[1][0]
        for a, b in zip(out[0][1:], out[1][1:]):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_float_power_inplace():
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([2.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = x * 1
        version = y._version
        assert y.float_power_(2.5) is y and y._version == version + 1
        y.sum().backward()
        out.append((y.grad_fn.name(), x.grad.numpy()))
    assert out[0][0] == out[1][0]
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-14)


@pytest.mark.parametrize("call", [
    lambda m: m.tensor([2.0]).float_power_(2),
    lambda m: m.tensor([2]).float_power_(2),
    lambda m: m.tensor([True]).float_power_(2),
    lambda m: m.tensor([2.0], dtype=m.float64, requires_grad=True).float_power_(2),
])
def test_float_power_errors(call):
    same_error(call)


def test_float_power_of_two_numbers_is_a_type_error():
    with pytest.raises(TypeError):
        cgrad.float_power(2, 3)


# ---- ldexp ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda m: m.ldexp(m.tensor([1.0, 3.0, 0.0, -0.0, INF, NAN, 1.0]), m.tensor([3, -1, 5, 5, -3, 1, 2000])),
    lambda m: m.ldexp(m.tensor([1, 2]), m.tensor([3, 1])),
    lambda m: m.ldexp(m.tensor([1.0]), m.tensor([2.5])),
    lambda m: m.ldexp(m.tensor([1.0], dtype=m.float64), m.tensor([2])),
    lambda m: m.ldexp(m.tensor([1.0]), m.tensor([2.0], dtype=m.float64)),
    lambda m: m.ldexp(m.tensor([True]), m.tensor([True])),
    lambda m: m.ldexp(m.tensor([[1.0], [2.0]]), m.tensor([1, 2, 3])),
    lambda m: m.tensor([1.0, 0.5]).ldexp_(m.tensor([2.5, -3])),
])
@pytest.mark.filterwarnings("ignore:An output with one or more elements was resized")  # torch's, when it broadcasts
def test_ldexp_values(call):
    c, t = call(cgrad), call(torch)
    assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_array_equal(c.numpy(), t.numpy())


@pytest.mark.parametrize("exponent", [[3.0, -1.5], [3, -1]])
def test_ldexp_gradients(exponent):
    """self's gradient is 2^other in other's dtype: 0 for a negative integer, as torch."""
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([1.0, 3.0], requires_grad=True)
        e = lib.tensor(exponent, requires_grad=isinstance(exponent[0], float))
        r = lib.ldexp(x, e)
        leaves = [x, e] if e.requires_grad else [x]
        firsts = lib.autograd.grad((r * lib.tensor([1.0, 2.0])).sum(), leaves, create_graph=True)
        loss = sum((f * f).sum() for f in firsts)
        seconds = lib.autograd.grad(loss, leaves) if loss.requires_grad else []
        out.append((r.grad_fn.name(), [f.detach().numpy() for f in firsts], [s.numpy() for s in seconds]))
    assert out[0][0] == out[1][0] == "LdexpBackward0"
    for a, b in zip(out[0][1] + out[0][2], out[1][1] + out[1][2]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_ldexp_inplace():
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([1.0, 3.0], requires_grad=True)
        y = x * 1
        version = y._version
        assert y.ldexp_(lib.tensor([3, -1])) is y and y._version == version + 1
        y.sum().backward()
        out.append((y.grad_fn.name(), y.detach().numpy(), x.grad.numpy()))
    assert out[0][0] == out[1][0]
    np.testing.assert_array_equal(out[0][1], out[1][1])
    np.testing.assert_array_equal(out[0][2], out[1][2])


@pytest.mark.parametrize("call", [
    lambda m: m.ldexp(m.tensor([1.0]), 3),
    lambda m: m.tensor([1.0]).ldexp(3),
    lambda m: m.tensor([1]).ldexp_(m.tensor([2])),
    lambda m: m.tensor([True]).ldexp_(m.tensor([2])),
    lambda m: m.tensor([1.0], requires_grad=True).ldexp_(m.tensor([2])),
    lambda m: m.tensor([1.0]).ldexp_(m.tensor([1, 2])),
])
@pytest.mark.filterwarnings("ignore:An output with one or more elements was resized")  # torch's, before its error
def test_ldexp_errors(call):
    same_error(call)
