"""Element-wise math, comparisons and logic, checked against torch, numpy and
finite differences (see helpers.check_op): values, gradients, PyTorch's tie and
kink conventions, grad_fn names, result dtypes for int/bool/float mixes,
errors, in-place forms and second-order gradients."""
import math
import operator

import numpy as np
import pytest

import cgrad
from helpers import check_op

DTYPES = ["float64", "float32"]
torch_or_skip = pytest.importorskip


def erf_np(a):
    return np.vectorize(math.erf, otypes=[float])(a)


# ---------------------------------------------------------------- unary ops

# name -> (numpy reference, input domain); domains keep finite differences valid
UNARY = {
    "abs": (np.abs, "nonzero"),
    "sign": (np.sign, "nonzero"),
    "exp2": (np.exp2, None),
    "log2": (np.log2, (0.5, 3.0)),
    "log10": (np.log10, (0.5, 3.0)),
    "log1p": (np.log1p, (-0.5, 2.0)),
    "expm1": (np.expm1, None),
    "sqrt": (np.sqrt, (0.5, 3.0)),
    "rsqrt": (lambda a: 1 / np.sqrt(a), (0.5, 3.0)),
    "sin": (np.sin, None),
    "cos": (np.cos, None),
    "tan": (np.tan, (-1.2, 1.2)),
    "sinh": (np.sinh, None),
    "cosh": (np.cosh, None),
    "asin": (np.arcsin, (-0.9, 0.9)),
    "acos": (np.arccos, (-0.9, 0.9)),
    "atan": (np.arctan, None),
    "erf": (erf_np, None),
    "reciprocal": (np.reciprocal, "nonzero"),
    "square": (np.square, None),
    # steps: away from their jumps the derivative is 0 (frac's is 1)
    "floor": (np.floor, (-2.9, -2.1)),
    "ceil": (np.ceil, (0.1, 0.9)),
    "round": (np.round, (1.6, 2.4)),
    "trunc": (np.trunc, (-0.9, 0.9)),
    "frac": (lambda a: a - np.trunc(a), (1.1, 1.9)),
}
UNARY_SHAPES = [(3, 4), (5,), (), (1,), (2, 3, 2), (0,), (2, 0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary(name, shape, dtype):
    ref, domain = UNARY[name]
    check_op(lambda m, a: getattr(a, name)(), shape, np_fn=ref, dtype=dtype, domain=domain)


@pytest.mark.parametrize("name", UNARY)
def test_unary_function_form(name):
    ref, domain = UNARY[name]
    check_op(lambda m, a: getattr(m, name)(a), (3, 4), np_fn=ref, domain=domain)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_noncontiguous(name, dtype):
    ref, domain = UNARY[name]
    check_op(lambda m, a: getattr(a, name)(), (3, 4), np_fn=ref, dtype=dtype, domain=domain, noncontig=True)


@pytest.mark.parametrize("name", UNARY)
def test_unary_in_place_on_non_leaf(name):
    ref, domain = UNARY[name]
    check_op(lambda m, a: getattr(a * 1, name + "_")(), (3, 4), np_fn=ref, domain=domain)


def test_abs_builtin():
    check_op(lambda m, a: abs(a), (3, 4), np_fn=np.abs, domain="nonzero")


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
    ((0, 3), (3,)),
]


def _remainder_np(a, b):
    return a - np.floor(a / b) * b


# name -> (fn, numpy reference, input domains)
BINARY = {
    "atan2": (lambda m, a, b: m.atan2(a, b), np.arctan2, None),
    "maximum": (lambda m, a, b: m.maximum(a, b), np.maximum, None),
    "minimum": (lambda m, a, b: m.minimum(a, b), np.minimum, None),
    "%": (lambda m, a, b: a % b, _remainder_np, [None, "nonzero"]),
    "lerp": (lambda m, a, b: m.lerp(a, b, 0.3), lambda a, b: a + 0.3 * (b - a), None),
    "lerp, weight >= 0.5": (lambda m, a, b: a.lerp(b, 0.75), lambda a, b: a + 0.75 * (b - a), None),
    "where": (lambda m, a, b: m.where(a > 0.1, a, b), lambda a, b: np.where(a > 0.1, a, b), None),
    "clamp_min(tensor)": (lambda m, a, b: a.clamp_min(b), np.maximum, None),
    "clamp_max(tensor)": (lambda m, a, b: a.clamp_max(b), np.minimum, None),
    "clamp(min=tensor)": (lambda m, a, b: a.clamp(min=b), np.maximum, None),
    "clamp(max=tensor)": (lambda m, a, b: m.clamp(a, max=b), np.minimum, None),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcast(name, shapes, dtype):
    fn, ref, domain = BINARY[name]
    check_op(fn, *shapes, np_fn=ref, dtype=dtype, domain=domain)


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


# ---------------------------------------------------------------- three-input ops

TERNARY_SHAPES = [
    ((3, 4), (3, 4), (3, 4)),
    ((3, 4), (4,), (3, 1)),
    ((4,), (2, 1, 4), ()),
    ((), (), ()),
    ((1,), (5,), (1,)),
    ((0, 4), (4,), (1, 4)),
]
# PyTorch's clamp backward needs x to have the broadcast shape (it raises otherwise)
CLAMP_SHAPES = [
    ((3, 4), (3, 4), (3, 4)),
    ((3, 4), (4,), (3, 1)),
    ((2, 3, 4), (4,), ()),
    ((), (), ()),
    ((5,), (1,), (5,)),
    ((0, 4), (4,), (1, 4)),
]


def _clamp_np(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def _lerp_np(a, b, w):
    return a + w * (b - a)


# name -> (fn, numpy reference, input domains, which inputs require grad, shape triples)
TERNARY = {
    "lerp(tensor weight)": (lambda m, a, b, w: m.lerp(a, b, w), _lerp_np, None, True, TERNARY_SHAPES),
    "lerp(tensor weight) method": (lambda m, a, b, w: a.lerp(b, w), _lerp_np, [None, None, (0.5, 1.5)], True,
                                   TERNARY_SHAPES),
    "clamp(min=tensor, max=tensor)": (lambda m, x, lo, hi: x.clamp(lo, hi), _clamp_np, None, True, CLAMP_SHAPES),
    "clip(tensor, tensor)": (lambda m, x, lo, hi: m.clip(x, lo, hi), _clamp_np, None, True, CLAMP_SHAPES),
    "where(c > 0, a, b)": (lambda m, c, a, b: m.where(c > 0, a, b), lambda c, a, b: np.where(c > 0, a, b), None,
                           (False, True, True), TERNARY_SHAPES),
}
TERNARY_CASES = [(name, shapes) for name, case in TERNARY.items() for shapes in case[4]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shapes", TERNARY_CASES, ids=str)
def test_ternary_broadcast(name, shapes, dtype):
    fn, ref, domain, flags, _ = TERNARY[name]
    check_op(fn, *shapes, np_fn=ref, dtype=dtype, domain=domain, requires_grad=flags)


@pytest.mark.parametrize("name", TERNARY)
def test_ternary_noncontiguous(name):
    fn, ref, domain, flags, _ = TERNARY[name]
    check_op(fn, (3, 4), (3, 4), (3, 4), np_fn=ref, domain=domain, requires_grad=flags, noncontig=True)


@pytest.mark.parametrize("which", [0, 1, 2], ids=["first", "second", "third"])
@pytest.mark.parametrize("name", TERNARY)
def test_ternary_grad_flows_only_to_inputs_that_require_it(name, which):
    fn, ref, domain, flags, _ = TERNARY[name]
    flags = [i == which and (flags is True or flags[i]) for i in range(3)]
    check_op(fn, (3, 4), (4,), (3, 1), np_fn=ref, domain=domain, requires_grad=flags)


# ---------------------------------------------------------------- clamp with numbers

CLAMP_NUMBERS = {
    "clamp(-0.5, 0.5)": (lambda m, a: a.clamp(-0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5)),
    "clamp(min=0.2)": (lambda m, a: a.clamp(min=0.2), lambda a: np.maximum(a, 0.2)),
    "clamp(max=0.2)": (lambda m, a: a.clamp(max=0.2), lambda a: np.minimum(a, 0.2)),
    "clamp(min=0)": (lambda m, a: m.clamp(a, min=0), lambda a: np.maximum(a, 0)),
    "clamp(1, -1) (min > max)": (lambda m, a: a.clamp(1, -1), lambda a: np.full_like(a, -1)),
    "clip(-1, 1)": (lambda m, a: a.clip(-1, 1), lambda a: np.clip(a, -1, 1)),
    "clamp_min(0.1)": (lambda m, a: a.clamp_min(0.1), lambda a: np.maximum(a, 0.1)),
    "clamp_max(0.1)": (lambda m, a: m.clamp_max(a, 0.1), lambda a: np.minimum(a, 0.1)),
    "(a * 1).clamp_(-0.5, 0.5)": (lambda m, a: (a * 1).clamp_(-0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5)),
    "(a * 1).clip_(max=0.3)": (lambda m, a: (a * 1).clip_(max=0.3), lambda a: np.minimum(a, 0.3)),
    "(a * 1).clamp_min_(0.3)": (lambda m, a: (a * 1).clamp_min_(0.3), lambda a: np.maximum(a, 0.3)),
    "(a * 1).clamp_max_(0.3)": (lambda m, a: (a * 1).clamp_max_(0.3), lambda a: np.minimum(a, 0.3)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 4), (), (1,), (0, 2)], ids=str)
@pytest.mark.parametrize("case", CLAMP_NUMBERS)
def test_clamp_with_numbers(case, shape, dtype):
    fn, ref = CLAMP_NUMBERS[case]
    check_op(fn, shape, np_fn=ref, dtype=dtype)


@pytest.mark.parametrize("case", CLAMP_NUMBERS)
def test_clamp_with_numbers_noncontiguous(case):
    fn, ref = CLAMP_NUMBERS[case]
    check_op(fn, (3, 4), np_fn=ref, noncontig=True)


def test_in_place_clamp_with_tensor_bounds_that_require_grad():
    check_op(lambda m, a, lo, hi: (a * 1).clamp_(lo, hi), (3, 4), (4,), (3, 1),
             np_fn=lambda a, lo, hi: np.minimum(np.maximum(a, lo), hi))


def test_where_with_numbers():
    check_op(lambda m, a: m.where(a > 0, a, 0.5), (3, 4), np_fn=lambda a: np.where(a > 0, a, 0.5))
    check_op(lambda m, a: m.where(a > 0, -1, a), (3, 4), np_fn=lambda a: np.where(a > 0, -1, a))
    check_op(lambda m, a: (a * 2).where(a < 0, 0.0), (3, 4), np_fn=lambda a: np.where(a < 0, 2 * a, 0.0))


# ---------------------------------------------------------------- ties and kinks

def _grads(lib, fn, *values, dtype="float64"):
    leaves = [lib.tensor(np.array(v), dtype=getattr(lib, dtype), requires_grad=True) for v in values]
    out = fn(lib, *leaves)
    out.backward(lib.ones(out.shape, dtype=out.dtype))
    return [None if x.grad is None else np.array(x.grad.tolist()) for x in leaves]


KINKS = {
    "maximum ties split the gradient": (lambda m, a, b: m.maximum(a, b), [1.0, 2.0, 3.0], [1.0, 1.0, 4.0]),
    "minimum ties split the gradient": (lambda m, a, b: m.minimum(a, b), [1.0, 2.0, 3.0], [1.0, 1.0, 4.0]),
    "maximum ties under broadcast": (lambda m, a, b: m.maximum(a, b), [[1.0, 2.0], [2.0, 0.0]], [2.0]),
    "abs at 0": (lambda m, a: a.abs(), [0.0, -0.0, 1.0, -2.0]),
    "sign": (lambda m, a: a.sign(), [0.0, 1.0, -3.0]),
    "floor, ceil, round, trunc at and between integers": (
        lambda m, a: a.floor() + a.ceil() + a.round() + m.trunc(a) + m.fix(a), [0.0, 1.0, 0.5, -1.5, 2.7]),
    "frac at and between integers": (lambda m, a: a.frac(), [0.0, 1.0, 0.5, -1.5, 2.7]),
    "tril keeps the gradient on and below the diagonal": (lambda m, a: a.reshape(3, 3).tril() * a.reshape(3, 3),
                                                           [1.0, -2.0, 3.0, 4.0, 5.0, -6.0, 7.0, 8.0, 9.0]),
    "triu(1) and its gradient": (lambda m, a: m.triu(a.reshape(2, 3), 1).exp(), [1.0, -2.0, 3.0, 4.0, 5.0, -6.0]),
    "nansum skips the NaNs": (lambda m, a: a.nansum() * 1.0, [1.0, float("nan"), 2.0]),
    "nan_to_num keeps the finite": (lambda m, a: a.nan_to_num(posinf=1.0) * 2, [1.0, float("nan"), float("inf")]),
    "addcdiv": (lambda m, a, b, c: m.addcdiv(a, b, c, value=0.5), [1.0, 2.0], [3.0, -4.0], [0.5, 2.0]),
    "addcmul": (lambda m, a, b, c: m.addcmul(a, b, c.reshape(2, 1), value=0.5), [1.0, 2.0], [3.0, -4.0], [0.5, 2.0]),
    "addcmul of one tensor thrice": (lambda m, a: a.addcmul(a, a, value=-1.5), [1.0, 2.0, -3.0]),
    "cumsum": (lambda m, a: a.reshape(2, 3).cumsum(1) * a.reshape(2, 3), [1.0, 4.0, 9.0, 2.0, 5.0, 3.0]),
    "sort sends each gradient to its position": (lambda m, a: a.sort(descending=True).values * m.arange(4.0),
                                                 [3.0, 1.0, 4.0, 2.0]),
    "topk sends each gradient to its position": (lambda m, a: a.reshape(2, 2).topk(1, 0).values.exp(),
                                                 [3.0, 1.0, 4.0, 2.0]),
    "fmod": (lambda m, a, b: m.fmod(a, b) + a.fmod(1.5), [5.5, -5.5, 7.0], [2.0, 2.0, -3.0]),
    "hypot": (lambda m, a, b: m.hypot(a, b.reshape(3, 1)), [3.0, 1.0, 0.5], [4.0, -2.0, 1.0]),
    "take and masked_select": (lambda m, a: a.take(m.tensor([3, 0, 3])) * a.masked_select(a > 1.5).sum(),
                                [1.0, 4.0, 9.0, 2.0]),
    "diag both ways": (lambda m, a: m.diag(a, -1).diag(-1) * a + m.diag(a.reshape(2, 2)).sum(), [1.0, 4.0, 9.0, 2.0]),
    "repeat_interleave and sum_to_size": (lambda m, a: a.repeat_interleave(2).reshape(4, 2).sum_to_size(1, 2)
                                          * a.reshape(2, 2).repeat_interleave(m.tensor([1, 3]), dim=1).sum(),
                                          [1.0, 4.0, 9.0, 2.0]),
    "select and diff": (lambda m, a: a.reshape(2, 3).select(1, 1) * a.diff().sum(), [1.0, 4.0, 9.0, 2.0, 5.0, 3.0]),
    "relu at 0": (lambda m, a: a.relu(), [0.0, 1.0, -1.0]),
    "clamp at its bounds": (lambda m, a: a.clamp(0.0, 1.0), [0.0, 1.0, 0.5, -1.0, 2.0]),
    "clamp_min at its bound": (lambda m, a: a.clamp_min(0.0), [0.0, 1.0, -1.0]),
    "clamp_max at its bound": (lambda m, a: a.clamp_max(0.0), [0.0, 1.0, -1.0]),
    "clamp with min > max": (lambda m, a: a.clamp(2.0, 1.0), [0.0, 1.5, 3.0]),
    "clamp tensor bounds at and across": (
        lambda m, x, lo, hi: x.clamp(lo, hi),
        [0.0, 1.0, 0.5, -1.0, 2.0, 5.0, 1.5], [0.0, 0.0, 0.0, 0.0, 0.0, 3.0, 2.0], [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0]),
    "clamp_min tensor at its bound": (lambda m, x, lo: x.clamp_min(lo), [0.0, 1.0, -1.0], [0.0, 0.0, 0.0]),
    "clamp_max tensor at its bound": (lambda m, x, hi: x.clamp_max(hi), [0.0, 1.0, -1.0], [0.0, 0.0, 0.0]),
    "clamp(min=tensor) at its bound": (lambda m, x, lo: x.clamp(min=lo), [0.0, 1.0, -1.0], [0.0, 0.0, 0.0]),
    "clamp(max=tensor) at its bound": (lambda m, x, hi: x.clamp(max=hi), [0.0, 1.0, -1.0], [0.0, 0.0, 0.0]),
    "sqrt at 0": (lambda m, a: a.sqrt(), [0.0, 4.0]),
    "where selects": (lambda m, a, b: m.where(a > 0, a, b), [1.0, -1.0, 0.0], [3.0, 4.0, 5.0]),
    "lerp": (lambda m, a, b, w: m.lerp(a, b, w), [1.0, -1.0], [3.0, 4.0], [0.3, 0.8]),
    "remainder": (lambda m, a, b: a % b, [5.5, -5.5, 5.5], [2.0, 2.0, -2.0]),
    "maximum with nan": (lambda m, a, b: m.maximum(a, b), [float("nan"), 1.0], [1.0, float("nan")]),
    "clamp of nan": (lambda m, a: a.clamp(0.0, 1.0), [float("nan"), 0.5]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", KINKS)
def test_gradient_conventions_match_torch(case, dtype):
    torch = torch_or_skip("torch")
    fn, *values = KINKS[case]
    ours = _grads(cgrad, fn, *values, dtype=dtype)
    theirs = _grads(torch, fn, *values, dtype=dtype)
    for g, t in zip(ours, theirs):
        np.testing.assert_allclose(g, t, rtol=1e-6, equal_nan=True)


def test_maximum_tie_gives_each_side_half():
    a = cgrad.tensor([2.0], requires_grad=True)
    b = cgrad.tensor([2.0], requires_grad=True)
    cgrad.maximum(a, b).backward(cgrad.tensor([1.0]))
    assert a.grad.tolist() == [0.5] and b.grad.tolist() == [0.5]


# ---------------------------------------------------------------- grad_fn names

# Expressions over a, b (3, 4), w (4,), all in (0.2, 0.8) and requiring grad.
GRAD_FN_EXPRESSIONS = {name: (lambda name: lambda m, a, b, w: getattr(a, name)())(name) for name in UNARY}
GRAD_FN_EXPRESSIONS.update({
    "cgrad.atan2(a, b)": lambda m, a, b, w: m.atan2(a, b),
    "cgrad.maximum(a, b)": lambda m, a, b, w: m.maximum(a, b),
    "cgrad.minimum(a, b)": lambda m, a, b, w: m.minimum(a, b),
    "a // b": lambda m, a, b, w: a // b,
    "a // 2": lambda m, a, b, w: a // 2,
    "a % b": lambda m, a, b, w: a % b,
    "a % 0.3": lambda m, a, b, w: a % 0.3,
    "2.0 % a": lambda m, a, b, w: 2.0 % a,
    "cgrad.lerp(a, b, 0.3)": lambda m, a, b, w: m.lerp(a, b, 0.3),
    "cgrad.lerp(a, b, w)": lambda m, a, b, w: m.lerp(a, b, w),
    "cgrad.where(a > b, a, b)": lambda m, a, b, w: m.where(a > b, a, b),
    "cgrad.where(a > b, a, 0.0)": lambda m, a, b, w: m.where(a > b, a, 0.0),
    "a.clamp(0.3, 0.6)": lambda m, a, b, w: a.clamp(0.3, 0.6),
    "a.clamp(min=0.3)": lambda m, a, b, w: a.clamp(min=0.3),
    "a.clamp(max=0.3)": lambda m, a, b, w: a.clamp(max=0.3),
    "a.clamp(b, b + 1)": lambda m, a, b, w: a.clamp(b, b + 1),
    "a.clamp(min=w)": lambda m, a, b, w: a.clamp(min=w),
    "a.clip(0.3, 0.6)": lambda m, a, b, w: a.clip(0.3, 0.6),
    "a.clamp_min(0.3)": lambda m, a, b, w: a.clamp_min(0.3),
    "a.clamp_max(0.3)": lambda m, a, b, w: a.clamp_max(0.3),
    "a.clamp_min(w)": lambda m, a, b, w: a.clamp_min(w),
    "a.clamp_max(w)": lambda m, a, b, w: a.clamp_max(w),
    "(a * 1).clamp_(0.3, 0.6)": lambda m, a, b, w: (a * 1).clamp_(0.3, 0.6),
    "(a * 1).clamp_(b, b + 1)": lambda m, a, b, w: (a * 1).clamp_(b, b + 1),
    "(a * 1).sqrt_()": lambda m, a, b, w: (a * 1).sqrt_(),
    "(a * 1).abs_()": lambda m, a, b, w: (a * 1).abs_(),
    "abs(a)": lambda m, a, b, w: abs(a),
    "a.square()": lambda m, a, b, w: a.square(),
})


def grad_fn_name(lib, expression):
    rng = np.random.default_rng(0)
    tensors = [lib.tensor(rng.uniform(0.2, 0.8, s), requires_grad=True) for s in [(3, 4), (3, 4), (4,)]]
    return GRAD_FN_EXPRESSIONS[expression](lib, *tensors).grad_fn.name()


@pytest.mark.parametrize("expression", GRAD_FN_EXPRESSIONS)
def test_grad_fn_name_matches_torch(expression):
    torch = torch_or_skip("torch")
    assert grad_fn_name(cgrad, expression) == grad_fn_name(torch, expression)


def test_clamp_node_takes_the_tensor_bounds_as_inputs():
    torch = torch_or_skip("torch")
    for lib in (cgrad, torch):
        x = lib.tensor([1.0], requires_grad=True)
        assert len(x.clamp(0.0, 1.0).grad_fn.next_functions) == 1
        assert len(x.clamp_min(lib.tensor([0.0])).grad_fn.next_functions) == 2



@pytest.mark.parametrize("bounds", [(-1.0, 1.0), (-1.0, None), (None, 1.0), (2.0, 1.0)])
def test_clamp_with_numbers_saves_its_input_and_differentiates_through_where(bounds):
    """As PyTorch: the gradient is where(lo <= x <= hi, g, 0), so a second
    backward goes through WhereBackward0, and the result may change in place."""
    torch = torch_or_skip("torch")
    lo, hi = bounds
    seen = []
    for lib in (cgrad, torch):
        x = lib.tensor([0.5, -2.0, 3.0, float("nan"), 1.0, -1.0], dtype=lib.float64, requires_grad=True)
        v = lib.ones(6, dtype=lib.float64, requires_grad=True)
        y = x.clamp(lo, hi)
        g, = lib.autograd.grad(y, x, v, create_graph=True)
        y.add_(1.0)  # the result is not saved: changing it leaves backward valid
        (y * 2).sum().backward()
        seen.append((g.tolist(), g.grad_fn.name(), [f is None for f, _ in g.grad_fn.next_functions],
                     x.grad.tolist()))
    assert seen[0] == seen[1]


# ---------------------------------------------------------------- dtypes and values vs torch

def _outcome(lib, fn):
    """(kind, dtype, values) of fn(lib), or ("error", exception type, first message line)."""
    try:
        r = fn(lib)
    except Exception as e:  # noqa: BLE001 - the exception type is what we compare
        return ("error", type(e).__name__, str(e).split("\n")[0])
    if hasattr(r, "dtype"):
        return ("tensor", str(r.dtype).rsplit(".", 1)[-1], r.tolist())
    return ("value", type(r).__name__, r)


def _same(ours, theirs):
    if ours[:2] != theirs[:2]:
        return False
    if ours[0] == "error":
        return True
    a, b = np.array(ours[2], dtype=float), np.array(theirs[2], dtype=float)
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-7, equal_nan=True)


def _assert_all_match_torch(cases):
    torch = torch_or_skip("torch")
    bad = []
    for key, fn in cases.items():
        ours, theirs = _outcome(cgrad, fn), _outcome(torch, fn)
        if not _same(ours, theirs):
            bad.append(f"{key}: cgrad {ours}, torch {theirs}")
    assert not bad, "\n".join(bad)


OPERANDS = {
    "f32": lambda m: m.tensor(np.array([1.5, -2.0, 0.0, 0.5, 3.0], dtype=np.float32)),
    "f64": lambda m: m.tensor(np.array([1.25, -2.0, 0.0, 0.5, -3.0])),
    "i64": lambda m: m.tensor(np.array([3, -7, 0, 2, 5])),
    "bool": lambda m: m.tensor(np.array([True, False, True, False, True])),
    "positive f32": lambda m: m.tensor(np.array([2.0, 3.0, 0.5, 1.0, 4.0], dtype=np.float32)),
    "positive i64": lambda m: m.tensor(np.array([2, 3, 1, 5, 4])),
    "0-d f64": lambda m: m.tensor(np.array(2.5)),
    "0-d i64": lambda m: m.tensor(np.array(2)),
    "0-d bool": lambda m: m.tensor(np.array(True)),
    "column f32": lambda m: m.tensor(np.array([[1.0], [-1.0]], dtype=np.float32)),
}
NUMBERS = {"2": 2, "-3": -3, "0": 0, "2.5": 2.5, "-0.5": -0.5, "True": True, "False": False}

BINARY_OPERATORS = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv,
    "%": operator.mod, "**": operator.pow, "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge, "&": operator.and_, "|": operator.or_,
    "^": operator.xor,
}


@pytest.mark.parametrize("op", BINARY_OPERATORS)
def test_operator_dtypes_values_and_errors_match_torch(op):
    """Every pair of operands (tensors of each dtype, 0-d, broadcast, Python numbers on either side)."""
    fn = BINARY_OPERATORS[op]
    cases = {}
    for an, a in OPERANDS.items():
        for bn, b in OPERANDS.items():
            cases[f"{an} {op} {bn}"] = lambda m, a=a, b=b: fn(a(m), b(m))
        for nn, v in NUMBERS.items():
            cases[f"{an} {op} {nn}"] = lambda m, a=a, v=v: fn(a(m), v)
            cases[f"{nn} {op} {an}"] = lambda m, a=a, v=v: fn(v, a(m))
    _assert_all_match_torch(cases)


UNARY_ALL = list(UNARY) + ["neg", "relu", "exp", "log", "tanh", "sigmoid", "isnan", "isinf", "isfinite",
                           "logical_not", "bitwise_not"]


@pytest.mark.parametrize("name", UNARY_ALL)
def test_unary_dtypes_values_and_errors_match_torch(name):
    cases = {}
    for an, a in OPERANDS.items():
        cases[f"{an}.{name}()"] = lambda m, a=a: getattr(a(m), name)()
        cases[f"torch.{name}({an})"] = lambda m, a=a: getattr(m, name)(a(m))
        if name not in ("isnan", "isinf", "isfinite", "neg", "relu", "exp", "log", "tanh", "sigmoid"):
            cases[f"{an}.{name}_()"] = lambda m, a=a: getattr(a(m), name + "_")()
    _assert_all_match_torch(cases)


NAMED_BINARY = ["atan2", "maximum", "minimum", "logical_and", "logical_or", "logical_xor", "bitwise_and",
                "bitwise_or", "bitwise_xor", "eq", "ne", "lt", "le", "gt", "ge", "floor_divide", "remainder"]


@pytest.mark.parametrize("name", NAMED_BINARY)
def test_named_binary_dtypes_values_and_errors_match_torch(name):
    cases = {}
    for an, a in OPERANDS.items():
        for bn, b in OPERANDS.items():
            cases[f"torch.{name}({an}, {bn})"] = lambda m, a=a, b=b: getattr(m, name)(a(m), b(m))
            cases[f"{an}.{name}({bn})"] = lambda m, a=a, b=b: getattr(a(m), name)(b(m))
        cases[f"torch.{name}({an}, 2)"] = lambda m, a=a: getattr(m, name)(a(m), 2)
        cases[f"{an}.{name}(2.5)"] = lambda m, a=a: getattr(a(m), name)(2.5)
    _assert_all_match_torch(cases)


NAN, INF = float("nan"), float("inf")


def _signs(m):
    """Dividends and divisors of every sign, a tiny quotient and a zero divisor."""
    return m.tensor([7.5, -7.5, 7.0, -7.0, 1e-30, 5.0]), m.tensor([2.0, 2.0, -2.0, -2.0, -3.0, 0.0])


SPECIAL_CASES = {
    # clamp: dtypes, NaN, bounds of every kind
    "clamp nan min": lambda m: m.tensor([1.0, -2.0]).clamp(min=NAN),
    "clamp nan max": lambda m: m.tensor([1.0, -2.0]).clamp(max=NAN),
    "clamp tensor nan bound": lambda m: m.tensor([1.0, -2.0]).clamp(min=m.tensor([NAN, 0.0])),
    "clamp of nan": lambda m: m.tensor([NAN, 1.0, 5.0]).clamp(0, 2),
    "clamp min > max": lambda m: m.tensor([-1.0, 1.0, 5.0]).clamp(3, 2),
    "clamp int by floats": lambda m: m.tensor([3, -7, 0]).clamp(0.5, 2.5),
    "clamp int by ints": lambda m: m.tensor([3, -7, 0]).clamp(0, 2),
    "clamp bool by ints": lambda m: m.tensor([True, False]).clamp(0, 1),
    "clamp bool by bool tensor": lambda m: m.tensor([True, False]).clamp(min=m.tensor([False, True])),
    "clamp without bounds": lambda m: m.tensor([1.0]).clamp(),
    "clamp f32 by 0-d f64": lambda m: m.tensor([1.5, -2.0]).clamp(min=m.tensor(0.0, dtype=m.float64)),
    "clamp f32 by 1-d f64": lambda m: m.tensor([1.5, -2.0]).clamp(min=m.zeros(2, dtype=m.float64)),
    "clamp i64 by f32 and 0-d f64": lambda m: m.tensor([3, -7]).clamp(min=m.tensor([0.5, 0.5]),
                                                                      max=m.tensor(1.0, dtype=m.float64)),
    "clamp i64 by 0-d i64 and 0-d f64": lambda m: m.tensor([3, -7]).clamp(min=m.tensor(0),
                                                                          max=m.tensor(1.5, dtype=m.float64)),
    "clamp_ int by float": lambda m: m.tensor([3, -7]).clamp_(0.5),
    "clamp_ to a broadcast shape": lambda m: m.tensor([1.0, 2.0]).clamp_(min=m.zeros(3, 2)),
    "clamp_ f32 by f64 bound": lambda m: m.tensor([1.5, -2.0]).clamp_(min=m.zeros(2, dtype=m.float64)),
    "clamp_ bool by ints": lambda m: m.tensor([True]).clamp_(0, 1),
    # where
    "where int and float": lambda m: m.where(m.tensor([True, False]), m.tensor([3, -7]), m.tensor([1.5, 2.5])),
    "where int and 1.5": lambda m: m.where(m.tensor([True, False]), m.tensor([3, -7]), 1.5),
    "where 1 and 0": lambda m: m.where(m.tensor([True, False]), 1, 0),
    "where 1.0 and 0": lambda m: m.where(m.tensor([True, False]), 1.0, 0),
    "where True and 0.0": lambda m: m.where(m.tensor([True, False]), True, 0.0),
    "where True and False": lambda m: m.where(m.tensor([True, False]), True, False),
    "where f32 and f64": lambda m: m.where(m.tensor([True, False]), m.ones(2), m.zeros(2, dtype=m.float64)),
    "where f32 and 0-d f64": lambda m: m.where(m.tensor([True, False]), m.ones(2), m.tensor(2.0, dtype=m.float64)),
    "where broadcast": lambda m: m.where(m.tensor([[True], [False]]), m.ones(3), m.zeros(2, 1)),
    "where int condition": lambda m: m.where(m.tensor([1, 0]), m.ones(2), m.zeros(2)),
    "where float condition": lambda m: m.where(m.tensor([1.0, 0.0]), m.ones(2), m.zeros(2)),
    "where bad shapes": lambda m: m.where(m.tensor([True, False]), m.ones(3), 0.0),
    # lerp
    "lerp f32 and f64": lambda m: m.lerp(m.ones(2), m.ones(2, dtype=m.float64), 0.5),
    "lerp f64 weight": lambda m: m.lerp(m.ones(2), m.ones(2), m.tensor([0.5, 0.5], dtype=m.float64)),
    "lerp 0-d f64 weight": lambda m: m.lerp(m.ones(2), m.ones(2) * 3, m.tensor(0.25, dtype=m.float64)),
    "lerp int": lambda m: m.lerp(m.tensor([1, 2]), m.tensor([3, 4]), 0.5),
    "lerp weight 1": lambda m: m.lerp(m.tensor([1.0]), m.tensor([3.0]), 1),
    "lerp weight True": lambda m: m.lerp(m.tensor([1.0]), m.tensor([3.0]), True),
    "lerp weight 0.75": lambda m: m.lerp(m.tensor([1.0, -2.0]), m.tensor([3.0, 5.0]), 0.75),
    # atan2, maximum
    "atan2 with a number": lambda m: m.atan2(m.ones(2), 1.0),
    "maximum with a number": lambda m: m.maximum(m.ones(2), 1.0),
    "maximum nan": lambda m: m.maximum(m.tensor([NAN, 1.0]), m.tensor([1.0, NAN])),
    "minimum nan": lambda m: m.minimum(m.tensor([NAN, 1.0]), m.tensor([1.0, NAN])),
    "maximum -0 +0": lambda m: m.maximum(m.tensor([-0.0]), m.tensor([0.0])).reciprocal(),
    "minimum +0 -0": lambda m: m.minimum(m.tensor([0.0]), m.tensor([-0.0])).reciprocal(),
    # Python's rounding of // and %
    "floor_divide signs": lambda m: _signs(m)[0] // _signs(m)[1],
    "remainder signs": lambda m: _signs(m)[0] % _signs(m)[1],
    "floor_divide f64 inexact": lambda m: m.tensor(np.array([0.3, -0.3, 1.0])) // m.tensor(np.full(3, 0.1)),
    "remainder f64 inexact": lambda m: m.tensor(np.array([0.3, -0.3, 1.0])) % m.tensor(np.full(3, 0.1)),
    "floor_divide signed zeros": lambda m: (m.tensor([-0.0, 0.0, 1.0, -1.0])
                                            // m.tensor([3.0, -3.0, 1e30, 1e30])).reciprocal(),
    "floor_divide by inf": lambda m: m.tensor([5.0, -5.0, INF]) // m.tensor([INF, INF, 2.0]),
    "remainder by inf": lambda m: m.tensor([5.0, -5.0, INF]) % m.tensor([INF, INF, 2.0]),
    "int floor_divide signs": lambda m: m.tensor([7, -7, 7, -7]) // m.tensor([2, 2, -2, -2]),
    "int remainder signs": lambda m: m.tensor([7, -7, 7, -7]) % m.tensor([2, 2, -2, -2]),
    "int floor_divide by 0": lambda m: m.tensor([3, 1]) // 0,
    "int remainder by 0": lambda m: m.tensor([3, 1]) % m.tensor([1, 0]),
    "int64 min // -1": lambda m: m.tensor([-2 ** 63]) // -1,
    "int64 min % -1": lambda m: m.tensor([-2 ** 63]) % -1,
    "number // int tensor": lambda m: 7 // m.tensor([2, -3]),
    "torch.remainder(number, tensor)": lambda m: m.remainder(5, m.tensor([2, -3])),
    # integer powers
    "int ** int tensor": lambda m: m.tensor([3, -3, 2, 0, 1, -1]) ** m.tensor([5, 3, 62, 0, -4, -3]),
    "int ** 100 wraps": lambda m: m.tensor([3]) ** 100,
    "int ** 0": lambda m: m.tensor([3, 0]) ** 0,
    "int ** 1": lambda m: m.tensor([3, 0]) ** 1,
    "int ** 2.0": lambda m: m.tensor([3, 0]) ** 2.0,
    "int ** -1": lambda m: m.tensor([3, 0]) ** -1,
    "int.pow(3)": lambda m: m.tensor([3, -2]).pow(3),
    "pow(int, 3)": lambda m: m.pow(m.tensor([3, -2]), 3),
    "bool ** False": lambda m: m.tensor([True, False]) ** False,
    "bool ** True": lambda m: m.tensor([True, False]) ** True,
    "2 ** int": lambda m: 2 ** m.tensor([1, 5, 0]),
    "2 ** negative int": lambda m: 2 ** m.tensor([-1]),
    "2.5 ** int": lambda m: 2.5 ** m.tensor([1, 2]),
    # in place with int and bool
    "int /= 2": lambda m: m.tensor([3, 4]).__itruediv__(2),
    "int += 1.5": lambda m: m.tensor([3, 4]).__iadd__(1.5),
    "int *= int": lambda m: m.tensor([3, 4]).__imul__(m.tensor([2, 2])),
    "bool += bool": lambda m: m.tensor([True, False]).__iadd__(m.tensor([False, False])),
    "bool -= bool": lambda m: m.tensor([True, False]).__isub__(m.tensor([False, False])),
    "float -= True": lambda m: m.tensor([1.0]).__isub__(True),
    "float.sub_(True)": lambda m: m.tensor([1.0]).sub_(True),
    "int.sqrt_()": lambda m: m.tensor([4, 9]).sqrt_(),
    "int.abs_()": lambda m: m.tensor([-4, 9]).abs_(),
    "bool.square_()": lambda m: m.tensor([True, False]).square_(),
    "float.logical_not_()": lambda m: m.tensor([1.0, 0.0]).logical_not_(),
    # comparisons with odd operands
    "eq numpy array": lambda m: m.tensor([1.0, 2.0]) == np.array([1.0, 3.0]),
    "eq a huge int": lambda m: m.tensor([3, -7]) == 2 ** 40,
    "0-d f64 vs 1-d f32": lambda m: m.tensor(1.0000001, dtype=m.float64) < m.tensor([1.0]),
    "eq None": lambda m: m.tensor([1.0]) == None,  # noqa: E711
    "ne None": lambda m: m.tensor([1.0]) != None,  # noqa: E711
    "eq a string": lambda m: m.tensor([1.0]) == "a",
    "eq a list": lambda m: m.tensor([1.0, 2.0]) == [1.0, 2.0],
    "lt None": lambda m: m.tensor([1.0]) < None,
    "compare broadcast": lambda m: m.tensor([1.0, 2.0]) < m.tensor([[1.5], [2.5]]),
    "compare bad shapes": lambda m: m.tensor([1.0, 2.0]) < m.ones(3),
    "empty compare": lambda m: m.ones(0, 3) < m.ones(3),
    "empty where": lambda m: m.where(m.ones(0) > 0, m.ones(0), 0.0),
    "empty int floor_divide": lambda m: m.ones(0, dtype=m.int64) // m.ones(0, dtype=m.int64),
    "0-d compare": lambda m: m.tensor(2.0) > 1,
    # logic and bits
    "~float": lambda m: ~m.tensor([1.0]),
    "float & float": lambda m: m.tensor([1.0]) & m.tensor([1.0]),
    "int & 1.5": lambda m: m.tensor([3]) & 1.5,
    "bool & 1": lambda m: m.tensor([True, False]) & 1,
    "bool & True": lambda m: m.tensor([True, False]) & True,
    "3 & int": lambda m: 3 & m.tensor([1, 2, 3]),
    "logical_not nan": lambda m: m.tensor([NAN, 0.0]).logical_not(),
    "logical_and with a number": lambda m: m.logical_and(m.tensor([True]), 2),
    "logical_and float and 0-d": lambda m: m.tensor([1.0, 0.0]).logical_and(m.tensor(0.0)),
    "bool.relu()": lambda m: m.tensor([True]).relu(),
    "-bool": lambda m: -m.tensor([True]),
    "sign of specials": lambda m: m.tensor([-0.0, 0.0, NAN, -3.0, INF]).sign(),
    **{f"{f} of halves and specials": (lambda f: lambda m: getattr(m.tensor(
        [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, -1.7, 4503599627370497.0, 1e20, -0.0, NAN, INF, -INF],
        dtype=m.float64), f)())(f)
       for f in ("floor", "ceil", "round", "trunc", "frac")},
    **{f"{f} of float32 halves": (lambda f: lambda m: getattr(m.tensor([0.5, 2.5, -2.5, 8388609.0, -1.7]), f)())(f)
       for f in ("floor", "ceil", "round", "trunc", "frac")},
    **{f"{f} of int64": (lambda f: lambda m: getattr(m, f)(m.tensor([3, -4, 0])))(f)
       for f in ("floor", "ceil", "round", "trunc", "frac")},
    **{f"{f} of bool": (lambda f: lambda m: getattr(m.tensor([True]), f)())(f)
       for f in ("floor", "ceil", "round", "trunc", "frac")},
    "floor_ in place": lambda m: m.tensor([1.5, -1.5]).floor_(),
    # all, any, isclose, allclose, equal
    "all": lambda m: m.tensor([[1.0, 0.0], [2.0, 3.0]]).all(),
    "all(dim)": lambda m: m.tensor([[1.0, 0.0], [2.0, 3.0]]).all(1),
    "any(dim, keepdim)": lambda m: m.tensor([[1.0, 0.0], [0.0, 0.0]]).any(0, keepdim=True),
    "any(dims)": lambda m: m.any(m.tensor([[[1, 0]], [[0, 0]]]), (1, 2)),
    "all of nan": lambda m: m.all(m.tensor([NAN, 1.0])),
    "any of empty": lambda m: m.tensor([]).any(),
    "all of empty": lambda m: m.tensor([]).all(),
    "all of empty rows": lambda m: m.zeros(3, 0).all(1),
    "all of int64": lambda m: m.tensor([1, -2]).all(),
    "any of bool": lambda m: m.tensor([False, True]).any(),
    "isclose": lambda m: m.isclose(m.tensor([1.0, NAN, INF, 1.0, -INF, 0.0]),
                                   m.tensor([1.0 + 1e-9, NAN, INF, 1.1, INF, 1e-9])),
    "isclose equal_nan": lambda m: m.tensor([1.0, NAN]).isclose(m.tensor([1.0, NAN]), equal_nan=True),
    "isclose rtol atol": lambda m: m.isclose(m.tensor([1.0, 100.0]), m.tensor([1.05, 101.0]), rtol=0.01, atol=0.04),
    "isclose zero tolerances": lambda m: m.isclose(m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0 + 1e-6]), 0, 0),
    "isclose float64": lambda m: m.isclose(m.tensor([1.0], dtype=m.float64), m.tensor([1.0 + 1e-12], dtype=m.float64)),
    "isclose int64": lambda m: m.isclose(m.tensor([1, 2, 1000000]), m.tensor([1, 3, 1000005])),
    "isclose bool": lambda m: m.isclose(m.tensor([True, False]), m.tensor([True, True])),
    "isclose mixed dtypes": lambda m: m.isclose(m.tensor([1, 2]), m.tensor([1.0, 2.0])),
    "isclose negative rtol": lambda m: m.isclose(m.tensor([1.0]), m.tensor([1.0]), rtol=-1.0),
    "isclose broadcast": lambda m: m.isclose(m.tensor([[1.0], [2.0]]), m.tensor([1.0, 2.0])),
    "allclose": lambda m: m.allclose(m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0 + 1e-7])),
    "allclose not": lambda m: m.tensor([1.0, 2.0]).allclose(m.tensor([1.0, 2.1])),
    "equal": lambda m: m.equal(m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0])),
    "equal other shape": lambda m: m.equal(m.tensor([1.0, 2.0]), m.tensor([[1.0, 2.0]])),
    "equal other values": lambda m: m.tensor([1, 2]).equal(m.tensor([1, 3])),
    # tril, triu
    "tril": lambda m: m.tril(m.arange(12.0).reshape(3, 4)),
    "tril(-1) of a batch of bool": lambda m: m.ones(2, 3, 3, dtype=m.bool).tril(-1),
    "triu(1) of int64": lambda m: m.arange(12).reshape(4, 3).triu(1),
    "triu(-5)": lambda m: m.arange(6.0).reshape(2, 3).triu(-5),
    "tril of inf and nan": lambda m: m.tensor([[INF, NAN], [1.0, NAN]]).tril(),
    "tril of a vector": lambda m: m.tril(m.tensor([1.0])),
    # log10, new tensors, type_as
    "log10 of specials": lambda m: m.tensor([100.0, 1e-3, 0.0, -1.0, INF, NAN]).log10(),
    "log10 of int64": lambda m: m.log10(m.tensor([10, 1000])),
    "new_zeros": lambda m: m.tensor([1.0], dtype=m.float64).new_zeros(2, 3),
    "new_ones with a dtype": lambda m: m.tensor([1.0]).new_ones((2,), dtype=m.int64),
    "new_full": lambda m: m.tensor([1]).new_full((2,), 3.5),
    "new_tensor": lambda m: m.tensor([1.0], dtype=m.float64).new_tensor([1, 2]),
    "new_empty shape": lambda m: m.tensor([True]).new_empty(2, 0),
    "type_as": lambda m: m.tensor([1, 2]).type_as(m.tensor([1.0])),
    # cumsum: float32 sums in float64, as PyTorch, so the bits must match too (below)
    "cumsum": lambda m: m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).cumsum(1),
    "cumsum dim 0": lambda m: m.cumsum(m.tensor([[1.0, 2.0], [4.0, NAN], [INF, 1.0]]), 0),
    "cumsum of int64 and bool": lambda m: m.tensor([True, True, False]).cumsum(0) + m.tensor([1, 2, 3]).cumsum(-1),
    "cumsum to float64": lambda m: m.tensor([1.0, 2.0]).cumsum(0, dtype=m.float64),
    "cumsum of a 0-d": lambda m: m.tensor(2.0).cumsum(0),
    "cumsum of empty": lambda m: m.zeros(0, 3).cumsum(0),
    "cumsum dim out of range": lambda m: m.tensor([1.0]).cumsum(1),
    # sort, argsort, topk
    "sort with NaN and ties": lambda m: m.stack(m.tensor([3.0, NAN, 1.0, 2.0, 1.0, -INF]).sort(stable=True)[0:1]
                                                + (m.tensor([3.0, NAN, 1.0, 2.0, 1.0, -INF]).argsort(stable=True)
                                                   .to(m.float32),)),
    "sort descending with NaN and ties": lambda m: m.tensor([3.0, NAN, 1.0, 2.0, 1.0, -INF]).sort(
        descending=True, stable=True).indices,
    "sort of int64 along dim 0": lambda m: m.sort(m.tensor([[3, 1, 2], [0, 0, -1]]), dim=0, stable=True).indices,
    "sort of bool": lambda m: m.tensor([True, False, True]).sort(stable=True).values,
    "argsort descending": lambda m: m.argsort(m.tensor([[3, 1, 2], [0, 5, -1]]), 1, descending=True),
    "sort of a 0-d": lambda m: m.tensor(2.0).sort().indices,
    "sort of empty": lambda m: m.zeros(0, 2).sort(0).values,
    "sort dim out of range": lambda m: m.tensor([1.0]).sort(1),
    # stable=: the signature whose arguments are all keywords
    "sort with stable and a positional dim": lambda m: m.sort(m.tensor([3.0, 1.0]), 0, stable=True),
    "argsort method with stable and a positional dim": lambda m: m.tensor([3.0, 1.0]).argsort(0, stable=True),
    "sort with stable and keywords": lambda m: m.sort(m.tensor([[3.0, 1.0]]), stable=False, dim=0,
                                                      descending=True).indices,
    "sort with dim twice": lambda m: m.tensor([3.0, 1.0]).sort(0, dim=0),
    "sort with three positional": lambda m: m.tensor([3.0, 1.0]).sort(0, True, 1),
    "argsort with a positional dim and descending": lambda m: m.argsort(m.tensor([3.0, 1.0, 2.0]), 0, True),
    "sort with stable None": lambda m: m.tensor([3.0, 1.0, 2.0]).sort(stable=None).indices,
    "sort with a positional dim and stable None": lambda m: m.tensor([3.0, 1.0]).sort(0, stable=None),
    "argsort with stable None": lambda m: m.argsort(m.tensor([3.0, 1.0]), stable=None),
    "topk": lambda m: m.tensor([5.0, 1.0, 4.0, 2.0]).topk(2).indices,
    "topk smallest along dim 0": lambda m: m.topk(m.tensor([[5.0, 1.0], [4.0, 2.0]]), 1, dim=0, largest=False).values,
    "topk k too big": lambda m: m.tensor([5.0, 1.0]).topk(3),
    "topk of a 0-d": lambda m: m.tensor(2.0).topk(1).values,
    # fmod, hypot
    "fmod signs and zeros": lambda m: m.fmod(m.tensor([5.5, -5.5, 5.5, -5.5, 3.0, -0.0]),
                                             m.tensor([2.0, 2.0, -2.0, -2.0, 0.0, 1.0])),
    "fmod of int64": lambda m: m.fmod(m.tensor([5, -5, -9223372036854775807 - 1]), m.tensor([3, 3, -1])),
    "fmod by a number": lambda m: m.tensor([5, -5]).fmod(3) + m.tensor([5.5]).fmod(2).sum(),
    "fmod of int64 by zero": lambda m: m.fmod(m.tensor([5]), m.tensor([0])),
    "hypot of specials": lambda m: m.hypot(m.tensor([3.0, 1e30, 0.0, INF]), m.tensor([4.0, 1e30, 0.0, NAN])),
    "hypot broadcast": lambda m: m.tensor([3.0]).hypot(m.tensor([[4.0], [1.0]])),
    "hypot of int64": lambda m: m.hypot(m.tensor([3]), m.tensor([4])),
    # take, masked_select, diag, repeat_interleave, sum_to_size
    "take": lambda m: m.take(m.arange(6.0).reshape(2, 3), m.tensor([[0, 5], [2, -1]])),
    "take of a float index": lambda m: m.arange(6.0).take(m.tensor([1.0])),
    "masked_select broadcast": lambda m: m.masked_select(m.arange(6.0).reshape(2, 3), m.tensor([True, False, True])),
    "masked_select int mask": lambda m: m.arange(3.0).masked_select(m.tensor([1, 0, 1])),
    **{f"diag of a vector, {k}": (lambda k: lambda m: m.diag(m.tensor([1.0, 2.0, 3.0]), k))(k) for k in (-2, 0, 1, 3)},
    **{f"diag of a matrix, {k}": (lambda k: lambda m: m.arange(12).reshape(3, 4).diag(k))(k) for k in (-3, -1, 0, 2, 4)},
    "diag of 3-d": lambda m: m.diag(m.ones(2, 2, 2)),
    "repeat_interleave": lambda m: m.tensor([[1, 2], [3, 4]]).repeat_interleave(2),
    "repeat_interleave dim 1": lambda m: m.tensor([[1.0, 2.0], [3.0, 4.0]]).repeat_interleave(3, dim=1),
    "repeat_interleave counts": lambda m: m.repeat_interleave(m.tensor([[1, 2], [3, 4]]), m.tensor([1, 2]), dim=0),
    "repeat_interleave negative": lambda m: m.tensor([1, 2]).repeat_interleave(-1),
    "sum_to_size": lambda m: m.arange(24.0).reshape(2, 3, 4).sum_to_size(3, 1),
    "sum_to_size of a tuple": lambda m: m.ones(2, 3, 4).sum_to_size((1, 3, 4)),
    "sum_to_size not expandable": lambda m: m.ones(2, 3).sum_to_size(2, 4),
    # small composites
    "sgn": lambda m: m.tensor([-2.0, 0.0, 3.0, NAN]).sgn(),
    "deg2rad": lambda m: m.tensor([180.0, 1.0, -90.0]).deg2rad(),
    "rad2deg float64": lambda m: m.rad2deg(m.tensor([3.14159, 1.0], dtype=m.float64)),
    "deg2rad of int64": lambda m: m.deg2rad(m.tensor([180, 1])),
    "nan_to_num": lambda m: m.tensor([NAN, INF, -INF, 1.0]).nan_to_num(),
    "nan_to_num given values": lambda m: m.nan_to_num(m.tensor([NAN, INF, -INF, 1.0], dtype=m.float64),
                                                       nan=2.0, posinf=5.0),
    "nan_to_num of int64": lambda m: m.tensor([1, 2]).nan_to_num(),
    "count_nonzero": lambda m: m.tensor([[0.0, 1.0], [2.0, NAN]]).count_nonzero(),
    "count_nonzero(dim)": lambda m: m.count_nonzero(m.tensor([[0, 1], [2, 0]]), dim=0),
    "nansum": lambda m: m.tensor([NAN, 1.0, 2.0]).nansum(),
    "nansum(dim)": lambda m: m.nansum(m.tensor([[NAN, 1.0], [2.0, 3.0]]), 1),
    "nansum of int64": lambda m: m.tensor([1, 2]).nansum(),
    "addcmul": lambda m: m.addcmul(m.tensor([1.0, 2.0]), m.tensor([3.0, 4.0]), m.tensor([0.1, 0.7]), value=0.3),
    "addcmul_ in place, broadcast": lambda m: m.ones(2, 2).addcmul_(m.tensor([3.0, 4.0]), m.tensor([[0.1], [0.7]])),
    "addcmul of int64": lambda m: m.tensor([1, 2]).addcmul(m.tensor([3, 4]), m.tensor([1, 7]), value=2),
    "addcmul of bool": lambda m: m.addcmul(m.tensor([True]), m.tensor([True]), m.tensor([True])),
    "addcdiv": lambda m: m.addcdiv(m.tensor([1.0, 2.0]), m.tensor([3.0, 4.0]), m.tensor([0.1, 0.7]), value=-0.5),
    "addcdiv_ in place": lambda m: m.tensor([1.0, 2.0]).addcdiv_(m.tensor([3.0, 4.0]), m.tensor([0.3, 0.7]), value=2),
    "addcdiv of int64": lambda m: m.tensor([1, 2]).addcdiv(m.tensor([3, 4]), m.tensor([1, 7])),
    "select": lambda m: m.arange(6.0).reshape(2, 3).select(1, -1),
    "select function": lambda m: m.select(m.arange(6.0).reshape(2, 3), 0, 1),
    "select out of range": lambda m: m.arange(6.0).reshape(2, 3).select(2, 0),
    "diff": lambda m: m.tensor([1.0, 4.0, 9.0, 16.0]).diff(),
    "diff n=2 dim=1": lambda m: m.diff(m.tensor([[1, 4, 9], [2, 2, 2]]), n=2, dim=1),
    "diff past the length": lambda m: m.diff(m.tensor([1.0, 2.0]), n=3),
    "broadcast_tensors": lambda m: m.stack(m.broadcast_tensors(m.tensor([[1.0], [2.0]]), m.tensor([3.0, 4.0, 5.0]))),
    "meshgrid ij": lambda m: m.stack(m.meshgrid(m.tensor([1, 2]), m.tensor([3, 4, 5]), indexing="ij")),
    "meshgrid xy": lambda m: m.stack(m.meshgrid(m.tensor([1, 2]), m.tensor([3, 4, 5]), indexing="xy")),
    "meshgrid xy of three": lambda m: m.stack(m.meshgrid([m.tensor([1, 2]), m.tensor([3, 4, 5]), m.tensor([6])],
                                                         indexing="xy")),
    "swapaxes": lambda m: m.swapaxes(m.arange(6).reshape(2, 3), 0, 1),
    "swapdims": lambda m: m.swapdims(m.arange(6).reshape(1, 2, 3), 0, 2),
    "round_ in place": lambda m: m.tensor([0.5, 1.5]).round_(),
    "frac_ in place": lambda m: m.tensor([1.25, -1.25]).frac_(),
    "abs of specials": lambda m: m.tensor([-0.0, NAN, -INF]).abs(),
    "isinf of specials": lambda m: m.tensor([1.0, INF, -INF, NAN]).isinf(),
    "isfinite of specials": lambda m: m.tensor([1.0, INF, -INF, NAN]).isfinite(),
    # functions that take tensors only
    "torch.sin(3.0)": lambda m: m.sin(3.0),
}


@pytest.mark.parametrize("case", SPECIAL_CASES)
def test_special_case_matches_torch(case):
    _assert_all_match_torch({case: SPECIAL_CASES[case]})


# ---------------------------------------------------------------- comparisons and logic

COMPARISONS = {
    "==": (operator.eq, np.equal), "!=": (operator.ne, np.not_equal), "<": (operator.lt, np.less),
    "<=": (operator.le, np.less_equal), ">": (operator.gt, np.greater), ">=": (operator.ge, np.greater_equal),
}


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("op", COMPARISONS)
def test_comparison_values_and_no_grad(op, shapes, dtype):
    fn, ref = COMPARISONS[op]
    rng = np.random.default_rng(1)
    a = rng.integers(-2, 3, shapes[0]).astype(dtype)
    b = rng.integers(-2, 3, shapes[1]).astype(dtype)  # small integers: plenty of ties
    ta, tb = cgrad.tensor(a), cgrad.tensor(b)
    if dtype != "int64":
        ta.requires_grad_(True)
    r = fn(ta, tb)
    assert r.dtype == cgrad.bool
    assert not r.requires_grad and r.grad_fn is None
    np.testing.assert_array_equal(r.numpy(), ref(a, b))
    assert np.asarray(fn(ta, 1)).tolist() == ref(a, 1).tolist()
    assert np.asarray(fn(1, tb)).tolist() == ref(1, b).tolist()


@pytest.mark.parametrize("op", COMPARISONS)
def test_comparison_on_non_contiguous_views(op):
    fn, ref = COMPARISONS[op]
    a = np.arange(12.0).reshape(3, 4) % 5
    b = np.arange(12.0).reshape(4, 3) % 4
    r = fn(cgrad.tensor(a).T, cgrad.tensor(b))
    np.testing.assert_array_equal(r.numpy(), ref(a.T, b))


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparison_method_and_function_forms(name):
    a, b = cgrad.tensor([1.0, 2.0, 3.0]), cgrad.tensor([2.0, 2.0, 2.0])
    ref = getattr(np, {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal", "gt": "greater",
                       "ge": "greater_equal"}[name])([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]).tolist()
    assert getattr(a, name)(b).tolist() == ref
    assert getattr(cgrad, name)(a, b).tolist() == ref
    assert getattr(a, name)(2.0).tolist() == ref


LOGICAL = {
    "logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor,
}


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("name", LOGICAL)
def test_logical_ops(name, shapes):
    rng = np.random.default_rng(2)
    a = rng.integers(-1, 2, shapes[0]).astype(np.float64)
    b = rng.random(shapes[1]) < 0.5
    r = getattr(cgrad, name)(cgrad.tensor(a), cgrad.tensor(b))
    assert r.dtype == cgrad.bool
    np.testing.assert_array_equal(r.numpy(), LOGICAL[name](a, b))
    np.testing.assert_array_equal(getattr(cgrad.tensor(b), name)(cgrad.tensor(a)).numpy(), LOGICAL[name](b, a))


BITWISE = {"&": (operator.and_, "bitwise_and"), "|": (operator.or_, "bitwise_or"), "^": (operator.xor, "bitwise_xor")}


@pytest.mark.parametrize("dtype", ["int64", "bool"])
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("op", BITWISE)
def test_bitwise_ops(op, shapes, dtype):
    fn, name = BITWISE[op]
    rng = np.random.default_rng(3)
    a = rng.integers(-8, 8, shapes[0]).astype(dtype)
    b = rng.integers(-8, 8, shapes[1]).astype(dtype)
    expected = fn(a, b)
    for r in (fn(cgrad.tensor(a), cgrad.tensor(b)), getattr(cgrad, name)(cgrad.tensor(a), cgrad.tensor(b)),
              getattr(cgrad.tensor(a), name)(cgrad.tensor(b))):
        assert r.dtype == getattr(cgrad, dtype)
        np.testing.assert_array_equal(r.numpy(), expected)


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_invert_and_logical_not(dtype):
    a = np.array([[0, 1], [-3, 7]]).astype(dtype)
    t = cgrad.tensor(a)
    np.testing.assert_array_equal((~t).numpy(), ~a)
    np.testing.assert_array_equal(cgrad.bitwise_not(t.T).numpy(), ~a.T)
    np.testing.assert_array_equal(t.logical_not().numpy(), np.logical_not(a))


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_float_classification(name, dtype):
    a = np.array([[1.0, np.nan], [np.inf, -np.inf], [0.0, -2.5]], dtype=dtype)
    for r in (getattr(cgrad.tensor(a), name)(), getattr(cgrad, name)(cgrad.tensor(a).T)):
        assert r.dtype == cgrad.bool
    np.testing.assert_array_equal(getattr(cgrad, name)(cgrad.tensor(a)).numpy(), getattr(np, name)(a))
    np.testing.assert_array_equal(getattr(cgrad, name)(cgrad.tensor(a).T).numpy(), getattr(np, name)(a.T))


# ---------------------------------------------------------------- hashing

def test_tensors_stay_hashable_by_identity():
    a, b = cgrad.tensor([1.0]), cgrad.tensor([1.0])
    assert hash(a) == id(a)
    assert len({a, b, a}) == 2
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert a in [a] and a in {a}


def test_eq_is_element_wise():
    r = cgrad.tensor([1.0, 2.0]) == cgrad.tensor([1.0, 3.0])
    assert isinstance(r, cgrad.Tensor) and r.tolist() == [True, False]


# ---------------------------------------------------------------- integer floor division and modulo

@pytest.mark.parametrize("op", ["//", "%"])
def test_integer_floor_division_follows_python(op):
    fn = operator.floordiv if op == "//" else operator.mod
    a = np.array([7, -7, 7, -7, 0, 13, -13, 1, -1])
    b = np.array([2, 2, -2, -2, 3, 5, 5, -4, 4])
    r = fn(cgrad.tensor(a), cgrad.tensor(b))
    assert r.dtype == cgrad.int64
    assert r.tolist() == [fn(int(x), int(y)) for x, y in zip(a, b)]
    assert fn(cgrad.tensor(a), 3).tolist() == [fn(int(x), 3) for x in a]
    assert fn(20, cgrad.tensor(b)).tolist() == [fn(20, int(y)) for y in b]


@pytest.mark.parametrize("dtype", DTYPES)
def test_float_floor_division_follows_python(dtype):
    rng = np.random.default_rng(4)
    a = (rng.standard_normal(50) * 10).astype(dtype)
    b = (rng.standard_normal(50) * 3).astype(dtype)
    q = (cgrad.tensor(a) // cgrad.tensor(b)).numpy()
    r = (cgrad.tensor(a) % cgrad.tensor(b)).numpy()
    np.testing.assert_array_equal(q, np.floor_divide(a, b))
    np.testing.assert_allclose(r, np.remainder(a, b), rtol=1e-6, atol=1e-6)


def test_floor_divide_has_no_gradient():
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x // 2
    assert y.requires_grad and y.grad_fn.name() == "torch::autograd::NotImplemented"
    with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
        y.sum().backward()


def test_number_remainder_tensor_has_no_gradient():
    x = cgrad.tensor([1.5, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for aten::remainder is not implemented"):
        (2.0 % x).sum().backward()


# ---------------------------------------------------------------- errors

ERRORS = {
    "where with an int condition": (lambda: cgrad.where(cgrad.tensor([1]), cgrad.ones(1), cgrad.zeros(1)),
                                    RuntimeError, "where expected condition to be a boolean tensor"),
    "where(condition) alone": (lambda: cgrad.where(cgrad.tensor([True])), NotImplementedError, "where"),
    "lerp of mixed dtypes": (lambda: cgrad.lerp(cgrad.ones(2), cgrad.ones(2, dtype=cgrad.float64), 0.5),
                             RuntimeError, "expected dtype float for `end` but got dtype double"),
    "lerp with a 1-d weight of another dtype": (
        lambda: cgrad.lerp(cgrad.ones(2), cgrad.ones(2), cgrad.ones(2, dtype=cgrad.float64)),
        RuntimeError, "expected dtype float for `weight` but got dtype double"),
    "clamp without bounds": (lambda: cgrad.ones(2).clamp(), RuntimeError,
                             "torch.clamp: At least one of 'min' or 'max' must not be None"),
    "int ** negative int": (lambda: cgrad.tensor([2]) ** -1, RuntimeError,
                            "Integers to negative integer powers are not allowed."),
    "~float": (lambda: ~cgrad.ones(2), TypeError, "only implemented on integer and Boolean-type tensors"),
    "float & float": (lambda: cgrad.ones(2) & cgrad.ones(2), NotImplementedError,
                      "\"bitwise_and_cpu\" not implemented for 'Float'"),
    "abs of bool": (lambda: cgrad.tensor([True]).abs(), NotImplementedError, "\"abs_cpu\" not implemented for 'Bool'"),
    "int // 0": (lambda: cgrad.tensor([1]) // 0, RuntimeError, "ZeroDivisionError"),
    "int % 0": (lambda: cgrad.tensor([1]) % cgrad.tensor([0]), RuntimeError, "ZeroDivisionError"),
    "bool - bool": (lambda: cgrad.tensor([True]) - cgrad.tensor([True]), RuntimeError,
                    "with two bool tensors is not supported"),
    "float - bool": (lambda: cgrad.ones(1) - cgrad.tensor([True]), RuntimeError, "with a bool tensor is not supported"),
    "bool relu": (lambda: cgrad.tensor([True]).relu(), RuntimeError, "Boolean inputs not supported for relu"),
    "int sqrt_": (lambda: cgrad.tensor([4]).sqrt_(), RuntimeError,
                  "result type Float can't be cast to the desired output type Long"),
    "clamp_ to a bigger shape": (lambda: cgrad.ones(2).clamp_(min=cgrad.zeros(3, 2)), RuntimeError,
                                 "output with shape [2] doesn't match the broadcast shape [3, 2]"),
    "atan2 with a number": (lambda: cgrad.atan2(cgrad.ones(2), 1.0), TypeError,
                            "atan2(): argument 'other' (position 2) must be Tensor, not float"),
    "maximum method with a number": (lambda: cgrad.ones(2).maximum(1.0), TypeError,
                                     "maximum(): argument 'other' (position 1) must be Tensor, not float"),
    "sin of a number": (lambda: cgrad.sin(1.0), TypeError, "sin(): argument 'input' (position 1) must be Tensor"),
    "eq method with None": (lambda: cgrad.ones(2).eq(None), TypeError, "eq()"),
    "broadcast mismatch": (lambda: cgrad.maximum(cgrad.ones(2), cgrad.ones(3)), RuntimeError,
                           "The size of tensor a (2) must match the size of tensor b (3)"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors(case):
    fn, exc, phrase = ERRORS[case]
    with pytest.raises(exc) as info:
        fn()
    assert phrase in str(info.value)


def test_clamp_in_place_on_leaf_that_requires_grad():
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        x.clamp_(0, 1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        x.sqrt_()
    assert x.tolist() == [1.0, 2.0] and x.grad_fn is None


def test_failed_in_place_leaves_values_unchanged():
    x = cgrad.tensor([4, 9])
    with pytest.raises(RuntimeError):
        x.sqrt_()
    assert x.tolist() == [4, 9]


@pytest.mark.parametrize("op", ["sin", "abs", "log2", "atan", "clamp"])
def test_input_saved_for_backward_then_modified_in_place_is_detected(op):
    x = cgrad.tensor([0.5, 1.5], requires_grad=True)
    y = x * 1
    z = y.clamp(0.0, 1.0) if op == "clamp" else getattr(y, op)()
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


@pytest.mark.parametrize("op", ["exp2", "sqrt", "tan", "reciprocal"])
def test_ops_saving_their_output_allow_later_in_place_on_the_input(op):
    x = cgrad.tensor([0.5, 1.5], requires_grad=True)
    y = x * 1
    z = getattr(y, op)()
    y.mul_(2)
    z.sum().backward()
    assert x.grad is not None


def _on_views(m, x, op):
    y = x * 1
    op(y[1])
    op(y[:, 1:3])
    return y


IN_PLACE_ON_VIEWS = {
    "clamp_": lambda v: v.clamp_(-0.3, 0.4),
    "clamp_min_": lambda v: v.clamp_min_(0.1),
    "sin_": lambda v: v.sin_(),
    "abs_": lambda v: v.abs_(),
    "square_": lambda v: v.square_(),
}


@pytest.mark.parametrize("op", IN_PLACE_ON_VIEWS)
def test_in_place_on_views_of_a_non_leaf(op):
    fn = IN_PLACE_ON_VIEWS[op]
    check_op(lambda m, x: _on_views(m, x, fn), (3, 4), domain="nonzero")


def test_in_place_clamp_on_a_view_with_tensor_bounds():
    def fn(m, x, lo):
        y = x * 1
        y[:, 1:3].clamp_(min=lo)
        return y
    check_op(fn, (3, 4), (3, 2))


def test_in_place_keeps_identity_and_bumps_version():
    x = cgrad.tensor([0.25, 4.0])
    v = x._version
    assert x.sqrt_() is x and x.tolist() == [0.5, 2.0]
    assert x._version > v
    assert x.clamp_(max=1.0) is x and x.tolist() == [0.5, 1.0]


def test_in_place_under_no_grad_keeps_a_leaf():
    x = cgrad.tensor([0.25, 4.0], requires_grad=True)
    with cgrad.no_grad():
        x.clamp_(0.5, 2.0)
    assert x.is_leaf and x.grad_fn is None and x.tolist() == [0.5, 2.0]


def test_clamp_in_place_with_bound_that_requires_grad_on_plain_tensor():
    torch = torch_or_skip("torch")
    out = {}
    for lib in (cgrad, torch):
        x = lib.tensor([0.5, -1.0, 3.0])
        lo = lib.tensor([0.0, 0.0, 0.0], requires_grad=True)
        x.clamp_(min=lo)
        assert x.requires_grad and not x.is_leaf
        (x * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        out[lib.__name__] = (x.tolist(), lo.grad.tolist(), x.grad_fn.name())
    assert out["cgrad"] == out["torch"]


# ---------------------------------------------------------------- higher-order gradients

SECOND_ORDER = [name for name in UNARY if name != "sign"]


def _second_order(lib, name, data, v, w):
    x = lib.tensor(data, requires_grad=True)
    y = getattr(x, name)()
    (g,) = lib.autograd.grad(y, x, lib.tensor(v), create_graph=True)
    if not g.requires_grad:
        return g.tolist(), None
    (gg,) = lib.autograd.grad(g, x, lib.tensor(w))
    return g.tolist(), (gg + 0).tolist()  # + 0: torch may answer with a storage-less zero tensor


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_order_gradient_of_unary_op(name, dtype):
    torch = torch_or_skip("torch")
    _, domain = UNARY[name]
    rng = np.random.default_rng(5)
    shape = (3, 2)
    if domain is None:
        data = rng.standard_normal(shape)
    elif domain == "nonzero":
        data = rng.uniform(0.5, 2.0, shape) * np.where(rng.random(shape) < 0.5, -1, 1)
    else:
        data = rng.uniform(*domain, shape)
    data = data.astype(dtype)
    v = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(shape).astype(dtype)
    g, gg = _second_order(cgrad, name, data, v, w)
    tg, tgg = _second_order(torch, name, data, v, w)
    tol = 1e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(g, tg, rtol=tol, atol=tol)
    assert (gg is None) == (tgg is None)
    if gg is not None:
        np.testing.assert_allclose(gg, tgg, rtol=tol, atol=tol)


def test_second_order_gradient_of_sign_is_absent_like_torch():
    x = cgrad.tensor([1.0, -2.0], requires_grad=True)
    (g,) = cgrad.autograd.grad(x.sign().sum(), x, create_graph=True)
    assert g.tolist() == [0.0, 0.0] and not g.requires_grad


# name -> (fn over two inputs, domains)
SECOND_ORDER_BINARY = {
    "atan2": (lambda m, a, b: m.atan2(a, b), None),
    "maximum": (lambda m, a, b: m.maximum(a, b) * a, None),
    "minimum": (lambda m, a, b: m.minimum(a, b) * b, None),
    "remainder": (lambda m, a, b: (a % b) * a, [None, "nonzero"]),
    "lerp": (lambda m, a, b: m.lerp(a * a, b, 0.3) * b, None),
    "lerp tensor weight": (lambda m, a, b: m.lerp(a, b * b, b.sigmoid()) * a, None),
    "where": (lambda m, a, b: m.where(a > 0, a * b, b * b), None),
    "clamp": (lambda m, a, b: a.clamp(-0.5, 0.5) * a * b, None),
    "clamp tensor": (lambda m, a, b: (a * a).clamp(b, b + 1) * b, None),
}


@pytest.mark.parametrize("name", SECOND_ORDER_BINARY)
def test_second_order_gradient_of_binary_op(name):
    torch = torch_or_skip("torch")
    fn, domain = SECOND_ORDER_BINARY[name]
    rng = np.random.default_rng(6)
    a = rng.standard_normal((3, 4))
    b = rng.uniform(0.5, 2.0, (4,)) * (1 if domain is None else np.where(rng.random(4) < 0.5, -1, 1))
    u = rng.standard_normal((3, 4))

    def run(lib):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        gx, gy = lib.autograd.grad(fn(lib, x, y), (x, y), lib.tensor(u), create_graph=True)
        hx, hy = lib.autograd.grad((gx * gx).sum() + (gy * gy).sum(), (x, y), allow_unused=True)
        return [(t + 0).tolist() if t is not None else None for t in (gx, gy, hx, hy)]

    for ours, theirs in zip(run(cgrad), run(torch)):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cumsum_bits_match_torch(dtype):
    """Each running sum is summed in float64 and rounded once, as PyTorch's."""
    torch = torch_or_skip("torch")
    x = np.random.default_rng(5).standard_normal((40, 300)).astype(dtype)
    for dim in (0, 1):
        np.testing.assert_array_equal(cgrad.tensor(x).cumsum(dim).numpy(), torch.tensor(x).cumsum(dim).numpy())


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_stable_sort_matches_torch(dtype, descending):
    """Values and positions of a stable sort, with ties and (for floats) NaNs, along each dim."""
    torch = torch_or_skip("torch")
    rng = np.random.default_rng(6)
    x = rng.integers(-5, 5, (20, 33)).astype(dtype)  # many ties
    if dtype != "int64":
        x[:4, 7] = np.nan
        x[5, :3] = np.inf
    for dim in (0, 1, -1):
        ours = cgrad.tensor(x).sort(dim=dim, descending=descending, stable=True)
        theirs = torch.tensor(x).sort(dim=dim, descending=descending, stable=True)
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_addcmul_bits_match_torch(dtype):
    """addcmul rounds as PyTorch's kernel: fma(value * tensor1, tensor2, input)."""
    torch = torch_or_skip("torch")
    s, a, b = (np.random.default_rng(7 + k).standard_normal((40, 50)).astype(dtype) for k in range(3))
    ours = cgrad.addcmul(cgrad.tensor(s), cgrad.tensor(a), cgrad.tensor(b), value=0.3).numpy()
    theirs = torch.addcmul(torch.tensor(s), torch.tensor(a), torch.tensor(b), value=0.3).numpy()
    np.testing.assert_array_equal(ours, theirs)
    x, t = cgrad.tensor(s), torch.tensor(s)
    x.addcmul_(cgrad.tensor(a), cgrad.tensor(b), value=-0.7)
    t.addcmul_(torch.tensor(a), torch.tensor(b), value=-0.7)
    np.testing.assert_array_equal(x.numpy(), t.numpy())


# ---------------------------------------------------------------- not implemented yet

def test_missing_names_raise_not_implemented():
    """Each PyTorch name cgrad lacks exists and raises NotImplementedError,
    naming itself; docs/ops.md lists them (test_optable checks it is current)."""
    from cgrad import _missing
    torch = torch_or_skip("torch")
    x = cgrad.tensor([1.0, 2.0])
    for name in _missing.FUNCTIONS:
        assert hasattr(torch, name), name
        with pytest.raises(NotImplementedError, match=f"cgrad.{name} is not implemented"):
            getattr(cgrad, name)(x)
    for name in _missing.METHODS:
        assert hasattr(torch.Tensor, name), name
        with pytest.raises(NotImplementedError, match=f"Tensor.{name} is not implemented"):
            getattr(x, name)(x)
    with pytest.raises(NotImplementedError, match="cgrad.somename is not implemented"):  # the mechanism itself
        _missing.function("somename")(x)


def test_every_listed_missing_op_now_exists():
    """The ops once listed as missing are all implemented, as functions and methods."""
    torch = torch_or_skip("torch")
    functions = ("addmm baddbmm bernoulli cdist cross cummax cummin cumprod einsum erfinv kthvalue logaddexp "
                 "logcumsumexp median mode multinomial randperm sinc unique xlogy").split()
    methods = ("addmm baddbmm cross cummax cummin cumprod erfinv index_add index_copy index_fill kthvalue logaddexp "
               "logcumsumexp masked_scatter median mode put_ renorm sinc unique xlogy").split()
    for name in functions:
        assert hasattr(torch, name) and callable(getattr(cgrad, name)), name
        assert getattr(cgrad, name).__doc__ != "Not implemented in cgrad yet: calling it raises NotImplementedError."
    for name in methods:
        assert hasattr(torch.Tensor, name) and callable(getattr(cgrad.Tensor, name)), name


def _broadcast_story(lib, make):
    args = make(lib)
    try:
        out = lib.broadcast_tensors(*args)
    except RuntimeError as e:
        return str(e)
    return [(tuple(t.shape), t.grad_fn.name() if t.grad_fn is not None else None, t is a)
            for t, a in zip(out, args)]


@pytest.mark.parametrize("make", [
    lambda m: (m.tensor([[1.0, 2.0]], requires_grad=True), m.tensor([[3.0, 4.0]])),
    lambda m: (m.tensor([[1.0, 2.0]], requires_grad=True), m.tensor([[1.0], [2.0]])),
    lambda m: (m.tensor([[1.0, 2.0]], requires_grad=True) * 2, m.tensor(1.0), m.ones(3, 1, 1)),
    lambda m: (m.tensor([1.0, 2.0, 3.0]), m.tensor([[1.0, 2.0]])),
    lambda m: (m.ones(2, 3), m.ones(4, 1), m.ones(3)),
])
def test_broadcast_tensors_keeps_a_tensor_of_the_shape_and_refuses_as_torch(make):
    torch = torch_or_skip("torch")
    assert _broadcast_story(cgrad, make) == _broadcast_story(torch, make)


@pytest.mark.parametrize("target_shape", [(3, 4), (4,), (3, 1)])
def test_l1_loss_is_torchs_composition(target_shape):
    torch = torch_or_skip("torch")
    import warnings
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor(np.linspace(-1, 1, 12).reshape(3, 4).tolist(), requires_grad=True)
        y = lib.tensor(np.linspace(1, -2, int(np.prod(target_shape))).reshape(target_shape).tolist(),
                       requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = lib.nn.functional.l1_loss(x, y)
        loss.backward()
        node, names = loss.grad_fn, []
        while node is not None:
            names.append(node.name())
            node = node.next_functions[0][0] if node.next_functions else None
        out.append((names, loss.item(), x.grad.tolist(), y.grad.tolist()))
    assert out[0][0] == out[1][0]
    assert out[0][1] == pytest.approx(out[1][1], rel=1e-6)  # float32 sums may round in another order
    assert out[0][2:] == out[1][2:]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weight", [0.1, 0.3, 0.7, 0.9, -0.7, 1.7, "tensor"])
def test_lerp_rounds_as_torch(dtype, weight):
    """One fma around the nearer end: the same bits as torch's, where a rounded product before the add
    differs in about a quarter of the elements."""
    torch = torch_or_skip("torch")
    rng = np.random.default_rng(5)
    a, b = (rng.standard_normal(4096).astype(dtype) for _ in range(2))
    w = rng.uniform(-1.5, 1.5, 4096).astype(dtype) if weight == "tensor" else weight
    want = torch.lerp(torch.from_numpy(a), torch.from_numpy(b),
                      torch.from_numpy(w) if weight == "tensor" else w).numpy()
    got = cgrad.lerp(cgrad.from_numpy(a), cgrad.from_numpy(b), cgrad.from_numpy(w) if weight == "tensor" else w)
    np.testing.assert_array_equal(got.numpy(), want)
    inplace = cgrad.from_numpy(a.copy())
    inplace.lerp_(cgrad.from_numpy(b), cgrad.from_numpy(w) if weight == "tensor" else w)
    np.testing.assert_array_equal(inplace.numpy(), want)
