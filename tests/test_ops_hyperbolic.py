"""asinh, acosh, atanh and erfc (and the arcsinh, arccosh, arctanh aliases),
checked against numpy, finite differences and torch (helpers.check_op): values,
gradients to second order, the domain edges and special values, in-place forms,
integer and bool inputs."""
import math

import numpy as np
import pytest

import cgrad
from helpers import check_op, lib_dtype, same_error, torch_or_skip, values_and_grads

DTYPES = ["float64", "float32"]
INF, NAN = math.inf, math.nan

# name -> (numpy reference, a domain where the function and its derivative are smooth)
OPS = {
    "asinh": (np.arcsinh, None),
    "acosh": (np.arccosh, (1.1, 4.0)),
    "atanh": (np.arctanh, (-0.9, 0.9)),
    "erfc": (np.vectorize(math.erfc, otypes=[float]), None),
}
ALIASES = {"arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh"}
NAMES = list(OPS) + list(ALIASES)
SHAPES = [(3, 4), (5,), (), (1,), (2, 3, 2), (0,)]


def spec(name):
    return OPS[ALIASES.get(name, name)]


def backward_name(name):
    return ALIASES.get(name, name).capitalize() + "Backward0"


# ---------------------------------------------------------------- values and gradients

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_function(name, shape, dtype):
    ref, domain = spec(name)
    out = check_op(lambda m, x: getattr(m, name)(x), shape, np_fn=ref, dtype=dtype, domain=domain)
    assert out.grad_fn.name() == backward_name(name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_method_on_a_noncontiguous_view(name, dtype):
    ref, domain = spec(name)
    out = check_op(lambda m, x: getattr(x, name)(), (3, 4), np_fn=ref, dtype=dtype, domain=domain, noncontig=True)
    assert out.grad_fn.name() == backward_name(name)


# asinh_, acosh_ and atanh_ record AsinhBackward1 (and so on), whose backward
# PyTorch leaves undefined: a backward through them raises NotImplementedError.
# Their gradients are checked with the out-of-place function, their nodes below.
NO_IN_PLACE_GRADIENT = {"asinh", "acosh", "atanh"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_in_place_on_a_non_leaf(name, dtype):
    ref, domain = spec(name)
    if ALIASES.get(name, name) in NO_IN_PLACE_GRADIENT:
        out = check_op(lambda m, x: getattr(x * 1, name + "_")(), (2, 3, 2), np_fn=ref, dtype=dtype,
                       domain=domain, requires_grad=False)
        assert out.grad_fn is None
        return
    out = check_op(lambda m, x: getattr(x * 1, name + "_")(), (2, 3, 2), np_fn=ref, dtype=dtype, domain=domain)
    assert out.grad_fn.name() == backward_name(name)


def backward_error(lib, name, on_view):
    x = lib.tensor([1.5, 2.0], requires_grad=True)
    y = x * 1
    target = y[:1] if on_view else y
    getattr(target, name + "_")()
    node = y.grad_fn.name()
    with pytest.raises(NotImplementedError) as info:
        y.sum().backward()
    return node, str(info.value)


@pytest.mark.parametrize("on_view", [False, True], ids=["tensor", "view"])
@pytest.mark.parametrize("name", sorted(NO_IN_PLACE_GRADIENT) + ["arcsinh", "arccosh", "arctanh"])
def test_in_place_records_a_node_without_gradient(name, on_view):
    torch = torch_or_skip()
    node, message = backward_error(cgrad, name, on_view)
    assert (node, message) == backward_error(torch, name, on_view)
    base = ALIASES.get(name, name)
    assert node == ("torch::autograd::CopySlices" if on_view else base.capitalize() + "Backward1")
    assert message == f"the derivative for 'inplace version of {base}' is not implemented."


@pytest.mark.parametrize("name", sorted(NO_IN_PLACE_GRADIENT))
def test_in_place_without_grad_records_nothing(name):
    x = cgrad.tensor([1.5, 2.0], requires_grad=True)
    with cgrad.no_grad():
        y = getattr(x * 1, name + "_")()
    assert y.grad_fn is None
    z = getattr(cgrad.tensor([1.5, 2.0]), name + "_")()
    assert z.grad_fn is None and not z.requires_grad


@pytest.mark.parametrize("name", list(OPS))
def test_broadcast_into_a_product(name):
    ref, domain = OPS[name]
    check_op(lambda m, x, y: getattr(m, name)(x) * y, (2, 1, 3), (4, 1), domain=[domain, None])


@pytest.mark.parametrize("name", list(OPS))
def test_in_place_keeps_the_tensor_and_bumps_its_version(name):
    _, domain = OPS[name]
    x = cgrad.tensor([1.5, 2.0, 0.5] if name != "atanh" else [0.5, -0.25, 0.0])
    before = x._version
    assert getattr(x, name + "_")() is x
    assert x._version == before + 1


def test_aliases_give_the_same_values_and_gradients():
    x = cgrad.tensor([1.25, 2.0, 3.5], requires_grad=True)
    t = cgrad.tensor([0.5, -0.25, 0.75], requires_grad=True)
    for alias, name in ALIASES.items():
        v = x if name != "atanh" else t
        a, b = getattr(cgrad, alias)(v), getattr(v, name)()
        assert a.tolist() == b.tolist() == getattr(v, alias)().tolist()
        (ga,) = cgrad.autograd.grad(a.sum(), [v])
        (gb,) = cgrad.autograd.grad(b.sum(), [v])
        assert ga.tolist() == gb.tolist()
        assert getattr(cgrad, alias).__name__ == alias


# ---------------------------------------------------------------- special values against torch

# the values where each function or its derivative is special, and random ones over and past its domain
SPECIAL = {
    "asinh": [0.0, -0.0, 1.0, -1.0, 1e-30, 1e-8, 1e20, -1e20, 1e200, INF, -INF, NAN, 0.5, -3.0],
    "acosh": [1.0, 1.0000002, 1.0001, 1.1, 2.0, 1e10, 1e200, 0.999, 0.5, 0.0, -1.0, -2.0, INF, -INF, NAN],
    "atanh": [0.0, -0.0, 1.0, -1.0, 0.999, -0.999, 0.5, 1e-30, 1.5, -2.0, INF, -INF, NAN],
    "erfc": [0.0, -0.0, 0.5, -0.5, 1.0, 3.0, -3.0, 9.5, 10.0, 27.0, 30.0, -30.0, 1e-30, INF, -INF, NAN],
}
RANGES = {"asinh": (-30.0, 30.0), "acosh": (0.0, 30.0), "atanh": (-1.2, 1.2), "erfc": (-6.0, 11.0)}

# Both sides round their results well, but not always to the same float:
# torch's kernels are its own, cgrad's are libm's. Agreement in units in the
# last place of torch's value (as seen on x86-64 with glibc).
ULPS = {"asinh": 1, "acosh": 1, "atanh": 2, "erfc": 4}


def assert_within_ulps(ours, theirs, ulps):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    nan = np.isnan(theirs)
    np.testing.assert_array_equal(np.isnan(ours), nan)
    o, t = ours[~nan], theirs[~nan]
    inf = np.isinf(t)
    np.testing.assert_array_equal(o[inf], t[inf])
    gap = np.abs(o[~inf] - t[~inf]) / np.spacing(np.abs(t[~inf]))
    assert gap.max(initial=0) <= ulps, (gap.max(), o[~inf][gap.argmax()], t[~inf][gap.argmax()])
    exact = o == t
    np.testing.assert_array_equal(np.signbit(o[exact]), np.signbit(t[exact]))  # -0 stays -0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(OPS))
def test_values_match_torch_over_and_past_the_domain(name, dtype):
    torch = torch_or_skip()
    data = np.concatenate([SPECIAL[name], np.random.default_rng(5).uniform(*RANGES[name], 4000)])
    with np.errstate(over="ignore"):  # 1e200 is inf in float32, as intended
        x = getattr(cgrad, name)(cgrad.tensor(data, dtype=lib_dtype(cgrad, dtype)))
    t = getattr(torch, name)(torch.tensor(data, dtype=lib_dtype(torch, dtype)))
    assert str(x.dtype) == f"cgrad.{dtype}"
    assert_within_ulps(x.numpy(), t.numpy(), ULPS[name])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(OPS))
def test_gradients_at_the_special_values_match_torch(name, dtype):
    """The derivative formulas are torch's: at the edges (acosh at 1, atanh at
    +-1, the overflow of x^2) they give the same infinities, NaNs and signed
    zeros, and elsewhere the same floats to an ulp."""
    torch = torch_or_skip()
    values = SPECIAL[name]
    grads = []
    for lib in (cgrad, torch):
        with np.errstate(over="ignore"):
            x = lib.tensor(values, dtype=lib_dtype(lib, dtype), requires_grad=True)
        getattr(lib, name)(x).sum().backward()
        grads.append(x.grad.numpy())
    assert_within_ulps(grads[0], grads[1], 1)  # cgrad's exp may round an ulp from torch's


@pytest.mark.parametrize("dtype", DTYPES)
def test_domain_edges(dtype):
    d = lib_dtype(cgrad, dtype)
    assert cgrad.atanh(cgrad.tensor([1.0, -1.0], dtype=d)).tolist() == [INF, -INF]
    assert all(math.isnan(v) for v in cgrad.atanh(cgrad.tensor([1.5, -1.01, INF], dtype=d)).tolist())
    assert all(math.isnan(v) for v in cgrad.acosh(cgrad.tensor([0.999, 0.0, -2.0, -INF], dtype=d)).tolist())
    assert cgrad.acosh(cgrad.tensor([1.0, INF], dtype=d)).tolist() == [0.0, INF]
    assert cgrad.asinh(cgrad.tensor([INF, -INF], dtype=d)).tolist() == [INF, -INF]
    assert cgrad.erfc(cgrad.tensor([-INF, 0.0, INF], dtype=d)).tolist() == [2.0, 1.0, 0.0]
    x = cgrad.tensor([1.0, -1.0], dtype=d, requires_grad=True)
    cgrad.atanh(x).sum().backward()
    assert x.grad.tolist() == [INF, INF]
    x = cgrad.tensor([1.0], dtype=d, requires_grad=True)
    cgrad.acosh(x).sum().backward()
    assert x.grad.tolist() == [INF]


def test_acosh_gradient_near_1_is_computed_as_torch_does():
    """1 / sqrt(x^2 - 1), not 1 / sqrt((x - 1)(x + 1)): the two round apart just above 1."""
    values = [1.0000002, 1.0001, 1.001]
    values_and_grads(lambda m, v: m.acosh(v), values, dtype="float32")
    values_and_grads(lambda m, v: m.acosh(v), [1 + 2 ** -40, 1.0001], dtype="float64")


# ---------------------------------------------------------------- higher order, dtypes, errors

@pytest.mark.parametrize("name", list(OPS))
def test_second_order_matches_torch(name):
    torch = torch_or_skip()
    values = {"acosh": [1.3, 2.0, 5.0, 1.05], "atanh": [0.3, -0.8, 0.05, 0.95]}.get(name, [0.3, -1.2, 2.0, 0.7])
    res = []
    for lib in (cgrad, torch):
        x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
        (gx,) = lib.autograd.grad(getattr(lib, name)(x).sum(), [x], create_graph=True)
        (hx,) = lib.autograd.grad(gx.sum(), [x])
        res.append((gx.detach().numpy(), hx.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-14)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_integers_and_bools_compute_in_the_default_float_dtype(name):
    torch = torch_or_skip()
    for values in ([0, 1, -1, 2, 3], [True, False]):
        x, t = getattr(cgrad, name)(cgrad.tensor(values)), getattr(torch, name)(torch.tensor(values))
        assert str(x.dtype) == "cgrad.float32" and t.dtype == torch.float32
        assert_within_ulps(x.numpy(), t.numpy(), ULPS[ALIASES.get(name, name)])
    assert getattr(cgrad.tensor([1, 2]), name)().dtype == cgrad.float32


@pytest.mark.parametrize("name", NAMES)
def test_errors_match_torch(name):
    same_error(lambda m: getattr(m, name)(0.5))
    same_error(lambda m: getattr(m.tensor([1, 2]), name + "_")())
    same_error(lambda m: getattr(m.tensor([1.5], requires_grad=True), name + "_")())
