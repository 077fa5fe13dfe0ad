"""The in-place forms of existing ops (exp_, pow_, lerp_, eq_ ...) and the
function forms cgrad.exp_ ... cgrad.xlogy_: values and gradients through a
non-leaf (helpers.check_op: finite differences and torch), grad_fn names,
version counters, views and PyTorch's errors."""
import numpy as np
import pytest

import cgrad
from helpers import assert_same_error, check_op, error_of, torch_or_skip

DTYPES = ["float64", "float32"]

# name -> how x is drawn (y = x * 2 is what the op changes)
UNARY = {"exp_": None, "log_": (0.5, 2.0), "tanh_": None, "sigmoid_": None, "relu_": "nonzero", "neg_": None,
         "negative_": None, "sinc_": "nonzero", "erfinv_": (-0.4, 0.4), "sgn_": "nonzero"}
COMPARISONS = ["eq_", "ne_", "lt_", "le_", "gt_", "ge_"]
# name -> (how x is drawn, how other is drawn, a number other, or None where torch takes Tensors only)
BINARY = {"atan2_": ("nonzero", "nonzero", None), "arctan2_": ("nonzero", "nonzero", None),
          "hypot_": ("nonzero", "nonzero", None), "xlogy_": (None, (0.5, 2.0), 1.5),
          "pow_": ((0.5, 2.0), None, 1.5), "fmod_": (None, "nonzero", 0.75), "remainder_": (None, "nonzero", 0.75),
          **{name: (None, None, 0.25) for name in COMPARISONS}}
# each op with arguments for a (2, 3) target, in lib
CALLS = {**{name: lambda lib, dt: () for name in UNARY},
         **{name: lambda lib, dt: (lib.tensor([0.5, 1.5, 2.0], dtype=dt),) for name in BINARY},
         "lerp_": lambda lib, dt: (lib.tensor([0.5, 1.5, 2.0], dtype=dt), 0.25)}
FUNCTIONS = ["exp_", "log_", "tanh_", "sigmoid_", "relu_", "neg_", "negative_", "sinc_", "xlogy_"]


def dense(t):
    """t's values as float64 numpy (torch's zero gradients may be a ZeroTensor, which has no numpy)."""
    if getattr(t, "_is_zerotensor", lambda: False)():
        return np.zeros(tuple(t.shape))
    return np.array(t.detach().numpy(), dtype=np.float64)


def grad_through_nonleaf(lib, op, args, dtype, view=False):
    """x.grad and the tensor arguments' grads after y = x * 2; op on y (or on
    y[1:], a view); (y * w).sum().backward()."""
    dt = getattr(lib, dtype)
    data = [[0.2, -0.4, 0.3], [0.35, 0.1, -0.45]]
    x = lib.tensor(np.abs(data) if op in ("log_", "pow_") else data, dtype=dt, requires_grad=True)
    args = [lib.tensor(a, dtype=dt, requires_grad=True) if isinstance(a, list) else a for a in args]
    y = x * 2
    getattr(y[1:] if view else y, op)(*args)
    (y * lib.tensor([[1.0, -2.0, 3.0], [0.5, 2.0, -1.5]], dtype=dt)).sum().backward()
    return dense(y), [dense(x.grad)] + [dense(a.grad) for a in args if isinstance(a, lib.Tensor)]


# ---------------------------------------------------------------- values and gradients

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_through_nonleaf(op, dtype):
    if op == "sgn_":  # torch's gradient is a ZeroTensor, which check_op cannot read
        return test_view_of_nonleaf(op, dtype, view=False)
    out = check_op(lambda m, x: getattr(x * 2, op)(), (3, 4), domain=UNARY[op], dtype=dtype)
    assert out._version == 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("other_shape", [(3, 4), (4,), ()], ids=str)
@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_through_nonleaf(op, other_shape, dtype):
    x_domain, o_domain, _ = BINARY[op]
    check_op(lambda m, x, o: getattr(x * 2, op)(o), (3, 4), other_shape, domain=[x_domain, o_domain], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(name for name, spec in BINARY.items() if spec[2] is not None))
def test_number_other(op, dtype):
    x_domain, _, number = BINARY[op]
    check_op(lambda m, x: getattr(x * 2, op)(number), (3, 4), domain=x_domain, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight", [0.25, (3, 4), (4,)], ids=str)
def test_lerp_(weight, dtype):
    if isinstance(weight, tuple):
        check_op(lambda m, x, e, w: (x * 2).lerp_(e, w), (3, 4), (4,), weight, dtype=dtype)
    else:
        check_op(lambda m, x, e: (x * 2).lerp_(e, weight), (3, 4), (3, 4), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("op", COMPARISONS)
def test_comparison_writes_one_and_zero_in_own_dtype(op, dtype):
    torch = torch_or_skip()
    for other in ([1, 5, 3], 3):
        ours, theirs = [getattr(lib.tensor([1, 2, 3], dtype=getattr(lib, dtype)), op)(
            lib.tensor(other, dtype=getattr(lib, dtype)) if isinstance(other, list) else other)
            for lib in (cgrad, torch)]
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        assert ours.tolist() == theirs.tolist()


@pytest.mark.parametrize("op, args", [("pow_", (2,)), ("fmod_", (2,)), ("remainder_", (-2,)), ("neg_", ()),
                                      ("relu_", ()), ("sgn_", ()), ("pow_", ([2, 0, 1],))])
def test_integer_tensors(op, args):
    torch = torch_or_skip()
    ours, theirs = [getattr(lib.tensor([-3, 4, 5]), op)(*[lib.tensor(a) if isinstance(a, list) else a for a in args])
                    for lib in (cgrad, torch)]
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert ours.tolist() == theirs.tolist()


# ---------------------------------------------------------------- the graph: names, versions, views

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(CALLS))
def test_grad_fn_name_and_version(op, dtype):
    torch = torch_or_skip()
    names, bumps = [], []
    for lib in (cgrad, torch):
        dt = getattr(lib, dtype)
        y = lib.tensor([0.2, 0.4, 0.6], dtype=dt, requires_grad=True) * 2
        version = y._version
        assert getattr(y, op)(*CALLS[op](lib, dt)) is y
        names.append(y.grad_fn.name())
        bumps.append(y._version - version)
    assert names[0] == names[1]
    assert bumps == [1, 1]


@pytest.mark.parametrize("op, other", [("pow_", 2.0), ("pow_", [2.0]), ("xlogy_", 2.0), ("xlogy_", [2.0]),
                                       ("fmod_", 2.0), ("fmod_", [2.0]), ("lt_", 2.0), ("lt_", [2.0])])
def test_grad_fn_name_number_or_tensor(op, other):
    torch = torch_or_skip()
    names = []
    for lib in (cgrad, torch):
        y = lib.tensor([0.2, 0.4], requires_grad=True) * 2
        names.append(getattr(y, op)(lib.tensor(other) if isinstance(other, list) else other).grad_fn.name())
    assert names[0] == names[1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(CALLS))
def test_view_of_nonleaf(op, dtype, view=True):
    """The op on y[1:] (or on y) of y = x * 2: x's and the arguments' gradients are torch's."""
    torch = torch_or_skip()
    args = ([0.5, 1.5, 2.0], 0.25) if op == "lerp_" else ([0.5, 1.5, 2.0],) if op in BINARY else ()
    value, grads = grad_through_nonleaf(cgrad, op, args, dtype, view)
    t_value, t_grads = grad_through_nonleaf(torch, op, args, dtype, view)
    rtol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(value, t_value, rtol=rtol, atol=rtol)
    for g, tg in zip(grads, t_grads):
        np.testing.assert_allclose(g, tg, rtol=rtol, atol=rtol)


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("op", sorted(CALLS))
def test_leaf_requiring_grad_is_refused(op):
    assert_same_error(lambda lib: getattr(lib.ones(3, requires_grad=True), op)(*CALLS[op](lib, lib.float32)))


@pytest.mark.parametrize("op", sorted(set(CALLS) - set(UNARY)))
def test_broadcast_to_a_larger_shape_is_refused(op):
    """output with shape [2] doesn't match the broadcast shape [3, 2]"""
    def call(lib):
        y = lib.ones(2, requires_grad=True) * 1
        return getattr(y, op)(lib.ones(3, 2), 0.5) if op == "lerp_" else getattr(y, op)(lib.ones(3, 2))
    assert_same_error(call)


def test_lerp_weight_broadcast_to_a_larger_shape_is_refused():
    assert_same_error(lambda lib: (lib.ones(2, requires_grad=True) * 1).lerp_(lib.ones(2), lib.ones(3, 2)))


@pytest.mark.parametrize("op, other", [("pow_", 0.5), ("xlogy_", 2.0), ("fmod_", 1.5), ("remainder_", 0.5)])
def test_float_result_into_integer_tensor_is_refused(op, other):
    assert_same_error(lambda lib: getattr(lib.arange(3), op)(other))


@pytest.mark.parametrize("op", ["exp_", "sigmoid_", "sinc_"])
def test_float_result_of_unary_into_integer_tensor_is_refused(op):
    assert_same_error(lambda lib: getattr(lib.arange(3), op)())


@pytest.mark.parametrize("op", ["atan2_", "arctan2_", "hypot_"])
def test_tensor_only_ops_refuse_numbers(op):
    assert_same_error(lambda lib: getattr(lib.ones(2), op)(2.0))


@pytest.mark.parametrize("call", [lambda lib: lib.ones(2).pow_("a"), lambda lib: lib.ones(2).eq_(None),
                                  lambda lib: lib.ones(2).lerp_(lib.ones(2), "a"),
                                  lambda lib: lib.ones(2).lerp_(2.0, 0.5), lambda lib: lib.xlogy_(2.0, lib.ones(2)),
                                  lambda lib: lib.exp_(2.0)])
def test_argument_types(call):
    torch = torch_or_skip()
    assert type(error_of(call, cgrad)) is type(error_of(call, torch)) is TypeError


# ---------------------------------------------------------------- function forms and aliases

@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_forms(name):
    torch = torch_or_skip()
    results = []
    for lib in (cgrad, torch):
        y = lib.tensor([0.25, 0.5, 0.75], requires_grad=True) * 2
        args = (lib.tensor([0.5, 1.5, 2.0]),) if name == "xlogy_" else ()
        assert getattr(lib, name)(y, *args) is y
        results.append((dense(y), y.grad_fn.name(), y._version))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    assert results[0][1:] == results[1][1:]


def test_xlogy_function_form_takes_a_number():
    torch = torch_or_skip()
    ours, theirs = [lib.xlogy_(lib.tensor([0.0, 0.5, 2.0]), 3) for lib in (cgrad, torch)]
    np.testing.assert_allclose(dense(ours), dense(theirs), rtol=1e-6)


def test_arctan2_is_atan2():
    torch = torch_or_skip()
    for lib in (cgrad, torch):
        a, b = lib.tensor([1.0, -2.0, 0.5]), lib.tensor([-1.0, 3.0, 0.0])
        assert lib.equal(a.arctan2(b), a.atan2(b))
        assert lib.equal(lib.arctan2(a, b), lib.atan2(a, b))


def test_without_grad_the_history_is_untouched():
    x = cgrad.tensor([0.5, 2.0])
    assert x.pow_(2).grad_fn is None and x.tolist() == [0.25, 4.0]
    assert x.lt_(1.0).tolist() == [1.0, 0.0] and x.grad_fn is None
    with cgrad.no_grad():
        y = cgrad.tensor([0.5, 2.0], requires_grad=True)
        y.exp_()
        y.xlogy_(2.0)
    assert y.grad_fn is None and y.is_leaf
