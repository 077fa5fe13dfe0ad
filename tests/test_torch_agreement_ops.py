"""cgrad against torch on corners of the tensor ops where the two once parted: the gradient of a 0-d float64
base to an integer power, integer division with a zero divisor but an empty result, the norm of one element,
all/any over no dims, repeated and empty dims in reductions, clamp with one number bound and one tensor bound,
in-place arithmetic of a float32 tensor with a float64 one, indexing with a list of lists, a 0-d tensor
indexed, assignment of a value with leading dims of size 1 or of another dtype, index_put with a bool mask,
and a few dtype errors (sum(dtype=int64) of a tensor that requires grad, softmax of integers)."""
import warnings

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def outcome(fn, lib):
    """What fn(lib) gives, comparable across libraries: for each output tensor its shape, dtype, bits and
    grad_fn's name, or the error's type and first line (torch.X read as cgrad.X)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = fn(lib)
    except Exception as e:  # noqa: BLE001 -- the error is what is compared
        return type(e).__name__, str(e).split("\n")[0].replace("torch.", "cgrad.")
    outs = r if isinstance(r, (tuple, list)) else (r,)
    return tuple(_tensor_outcome(o) if isinstance(o, lib.Tensor) else o for o in outs)


def _tensor_outcome(t):
    a = np.ascontiguousarray(t.detach().numpy())
    node = t.grad_fn.name() if t.grad_fn is not None else None
    return tuple(t.shape), str(t.dtype).split(".")[-1], a.tobytes(), node


def assert_like_torch(fn):
    assert outcome(fn, cgrad) == outcome(fn, torch)


def grads(fn, *arrays, dtypes=None):
    """The gradients of sum(w * fn(lib, *leaves)) in cgrad and torch, as numpy arrays."""
    dtypes = dtypes or ["float64"] * len(arrays)
    out = {}
    for lib in (cgrad, torch):
        leaves = [lib.tensor(a, dtype=getattr(lib, d), requires_grad=d.startswith("float")) for a, d in
                  zip(arrays, dtypes)]
        y = fn(lib, *leaves)
        w = np.linspace(-1.0, 2.0, y.numel()).reshape(tuple(y.shape))
        (y * lib.tensor(w, dtype=y.dtype)).sum().backward()
        out[lib] = [leaf.grad.numpy().copy() for leaf in leaves if leaf.requires_grad]
    return out[cgrad], out[torch]


# ---- values and gradients -------------------------------------------------------------------------------------

@pytest.mark.parametrize("exponent", [[3, 2, -1, 5], [0, 1, 2, 7]])
def test_pow_integer_exponent_grad_keeps_float64(exponent):
    ours, theirs = grads(lambda lib, b, e: b ** e, np.array(1.7), np.array(exponent), dtypes=["float64", "int64"])
    np.testing.assert_array_equal(ours[0], theirs[0])
    ours, theirs = grads(lambda lib, b, e: e.__rpow__(b), np.array(1.3), np.array(exponent),
                         dtypes=["float64", "int64"])
    np.testing.assert_array_equal(ours[0], theirs[0])


@pytest.mark.parametrize("value", [1e300, 1e-310, -1e200, 3.5])
@pytest.mark.parametrize("p", [2, 3, 1, 0.5, float("inf")])
@pytest.mark.parametrize("shape,dim", [((), None), ((), 0), ((), ()), ((1,), None), ((1, 1), -1), ((3, 1, 2), 1)])
def test_norm_of_one_element(value, p, shape, dim):
    def fn(lib):
        x = lib.full(shape, value, dtype=lib.float64, requires_grad=True)
        y = x.norm(p) if dim is None else x.norm(p, dim=dim)
        y.sum().backward()
        return y, x.grad
    assert_like_torch(fn)


@pytest.mark.parametrize("a,b", [(0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (1e-200, 1e-200), (1.0, 0.0), (0.0, 1.0),
                                 (float("inf"), 1.0), (2.0, -3.0)])
def test_atan2_grad_at_the_origin(a, b):
    def fn(lib):
        x = lib.tensor([a, 1.0], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([b, 2.0], dtype=lib.float64, requires_grad=True)
        lib.atan2(x, y).sum().backward()
        z = lib.tensor([a, b], dtype=lib.float64, requires_grad=True)
        lib.atan2(z, z * 0).sum().backward()
        return x.grad, y.grad, z.grad
    assert_like_torch(fn)


@pytest.mark.parametrize("op", ["__iadd__", "__isub__", "__imul__", "__itruediv__", "add_", "mul_"])
@pytest.mark.parametrize("shapes", [((3,), (3,)), ((2, 3), (3,)), ((), ())])
def test_inplace_float32_with_float64_rounds_once(op, shapes):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shapes[0]) * 3, rng.standard_normal(shapes[1]) * 3
    assert_like_torch(lambda lib: getattr(lib.tensor(a, dtype=lib.float32), op)(lib.tensor(b, dtype=lib.float64)))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("start,end", [(0, 1), (3, -1), (0.5, 10)])
def test_linspace_of_one_step_is_start(dtype, start, end):
    assert_like_torch(lambda lib: lib.linspace(start, end, 1, dtype=getattr(lib, dtype)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_passes_negative_zero_and_nan(dtype):
    data = [-0.0, 0.0, -1.0, float("nan"), 2.0, -float("inf")]
    assert_like_torch(lambda lib: lib.relu(lib.tensor(data, dtype=getattr(lib, dtype))))
    assert_like_torch(lambda lib: lib.tensor(data, dtype=getattr(lib, dtype))[None].expand(3, -1).t().relu())


# ---- dtypes and shapes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["floor_divide", "remainder", "fmod", "div_floor", "div_trunc"])
@pytest.mark.parametrize("shapes", [((0, 3), (3,)), ((2, 0), (1,)), ((0,), ())])
def test_integer_division_by_zero_with_an_empty_result(op, shapes):
    def fn(lib):
        a, b = lib.zeros(shapes[0], dtype=lib.int64), lib.zeros(shapes[1], dtype=lib.int64)
        if op.startswith("div_"):
            return lib.div(a, b, rounding_mode=op[4:])
        return getattr(lib, op)(a, b)
    assert_like_torch(fn)
    assert_like_torch(lambda lib: lib.tensor([1, 2]) // lib.tensor([1, 0]))  # and the error where one is done


@pytest.mark.parametrize("op", ["all", "any"])
@pytest.mark.parametrize("shape", [(4,), (2, 3), ()])
@pytest.mark.parametrize("keepdim", [False, True])
def test_all_any_over_no_dims(op, shape, keepdim):
    data = np.arange(np.prod(shape, dtype=int)).reshape(shape) % 3 - 1.0
    assert_like_torch(lambda lib: getattr(lib.tensor(data), op)((), keepdim=keepdim))
    assert_like_torch(lambda lib: getattr(lib.tensor(data), op)(dim=(0, 0)))


@pytest.mark.parametrize("bounds", [(0, "t64"), ("t64", 0.5), (True, "t64"), ("t64", None), (0, "t3"), ("t3", 1)])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
@pytest.mark.parametrize("form", ["function", "method"])
def test_clamp_number_and_tensor_bounds(bounds, dtype, form):
    def bound(lib, b):
        if b == "t64":
            return lib.tensor(0.25, dtype=lib.float64)
        return lib.tensor([0.0, 0.5, 1.0]) if b == "t3" else b

    def fn(lib):
        x = lib.tensor([-1.0, 0.3, 2.0]).to(getattr(lib, dtype))
        lo, hi = bound(lib, bounds[0]), bound(lib, bounds[1])
        return lib.clamp(x, lo, hi) if form == "function" else x.clamp(lo, hi)
    assert_like_torch(fn)


@pytest.mark.parametrize("index", [[[0, 1]], [0, [1]], [[0, 1], [1, 2]], [slice(None), 0], [None, 0], [[0, 1]] * 33,
                                   [[True, False, True]], [0, 1]])
def test_list_index_read_as_tuple(index):
    def fn(lib):
        x = lib.arange(12.0).reshape(3, 4)
        return x[index]
    assert_like_torch(fn)
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        cgrad.arange(12.0).reshape(3, 4)[[[0, 1]]]


@pytest.mark.parametrize("target,value", [("[0]", (1, 4)), ("[0]", (1, 1, 4)), ("[:]", (1, 1, 3, 4)),
                                          ("[0]", (2, 4)), ("[0]", (4, 1)), ("[0]", (3,)), ("[1:, 1]", (1, 2))])
def test_setitem_value_shapes(target, value):
    def fn(lib):
        x = lib.zeros(3, 4, dtype=lib.float64)
        v = lib.arange(float(np.prod(value)), dtype=lib.float64).reshape(value).requires_grad_()
        y = x.clone()
        exec(f"y{target} = v")
        y.sum().backward()
        return y, v.grad
    assert_like_torch(fn)


@pytest.mark.parametrize("index", ["t([0, 1])", "t(1)", "True", "False", "t(True)", "t([True, False, True])",
                                   "(t(1), t([0, 1]))", "(t(1), 1)", "(None, t([0]))", "[0, 1]", "x > 0"])
@pytest.mark.parametrize("value", ["t(7)", "t(7.0)", "t([7.0])", "7", "t([7, 7, 7, 7])", "lib.ones(2, 7)"])
def test_setitem_value_dtype(index, value):
    def fn(lib):
        t = lib.tensor
        x = lib.arange(12, dtype=lib.float64).reshape(3, 4) - 5
        x[eval(index)] = eval(value)
        return x
    assert_like_torch(fn)


@pytest.mark.parametrize("indices,value", [
    ("(t([True, False, True]),)", "t(1.0, dtype=lib.float64)"), ("(t([True, False, True]),)", "t(1.0)"),
    ("(t([[True, False, True, False]] * 3),)", "t([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=lib.float64)"),
    ("(t([True, False, True]), t([0, 1]))", "t(1.0)"), ("(t([0, 2]), t([True, False, True, False]))", "t(2.0)"),
    ("(t([0, 1]),)", "t(1)"), ("(t([0, 1]),)", "t([1.0, 2.0, 3.0, 4.0], dtype=lib.float64)")])
@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_masks_and_dtypes(indices, value, accumulate):
    def fn(lib):
        t = lib.tensor
        x = lib.arange(12, dtype=lib.float64).reshape(3, 4)
        return x.index_put(eval(indices), eval(value), accumulate=accumulate)
    assert_like_torch(fn)


def test_mt_and_movedim_of_a_0d_tensor():
    def fn(lib):
        x = lib.tensor(2.0, requires_grad=True)
        return x.mT is x, x.mH is x, x.movedim(0, -1), x.movedim([], [])
    assert_like_torch(fn)
    with pytest.warns(UserWarning, match="deprecated on 0-D tensors"):
        cgrad.tensor(1.0).mT


# ---- errors ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    "lib.tensor([True]) ** lib.tensor([True])",
    "lib.tensor(1.0).sum((0, -1))", "lib.tensor(1.0).amax((0, 0))", "lib.tensor(1.0).logsumexp((0, -1))",
    "lib.tensor(1.0).flip(0, -1)", "lib.zeros(3, 4).flip(0, 0)",
    "lib.zeros(2, 0).amax(-1)", "lib.zeros(2, 0).amin((0, -1))", "lib.zeros(0).amax((0, 1))",
    "lib.zeros(2, 0).norm(float('inf'), dim=-1)", "lib.zeros(0).norm(float('-inf'), dim=(0, 5))",
    "lib.zeros(3).masked_fill(lib.zeros(3, dtype=lib.int64), 1.0)",
    "lib.allclose(lib.zeros(3), 1)",
    "lib.randn(3, requires_grad=True).sum(dtype=lib.int64)",
    "lib.randn(3, requires_grad=True).sum(0, dtype=lib.bool)",
    "lib.randn(3, requires_grad=True).prod(dtype=lib.int64)",
    "lib.randn(3, requires_grad=True).cumsum(0, dtype=lib.int64)",
    "lib.softmax(lib.tensor([[1, 2]]), 0)", "lib.log_softmax(lib.tensor([[1, 2]]), -1)",
    "lib.softmax(lib.tensor(1), 1)", "lib.softmax(lib.zeros(2, 0, dtype=lib.int64), 0)",
    "lib.tensor(1.0)[0]", "lib.tensor(1.0)[-2]", "lib.tensor(1.0)[:]", "lib.tensor(1.0)[::-1]",
    "lib.zeros(3, 4)[:, ::0]",
    "lib.tensor(1).movedim(1, 0)", "lib.zeros(2, 3).movedim((0, 0), (0, 1))",
    "lib.zeros(3).clamp(0, lib.zeros(3))", "lib.clip(lib.zeros(3), lib.zeros(3), 1.0)",
    "lib.zeros(3, dtype=lib.int64).floor_divide_(lib.ones(3))",
    "lib.tensor(1).floor_divide_(lib.ones(3, dtype=lib.int64))",
    "lib.tensor(1).add_(lib.ones(3))", "lib.ones(3, dtype=lib.int64).mul_(lib.ones(3))",
    "lib.tensor(1).pow_(lib.ones(3))", "lib.tensor(1).clamp_(lib.ones(3))",
    "lib.tensor(True).remainder_(lib.ones(3, dtype=lib.bool))", "lib.zeros(3).sub_(lib.ones(2, 3, dtype=lib.bool))",
    "lib.zeros(3).masked_fill(lib.zeros(3, dtype=lib.int64), lib.ones(1))",
    "lib.mm(lib.ones(2, 2, 3), lib.ones(2, 3))", "lib.ones(3).mm(lib.ones(3, 3))",
    "lib.bmm(lib.ones(3, 1), lib.ones(3, 1, 1))", "lib.bmm(lib.ones(2, 2, 3), lib.ones(2, 3))",
    "lib.mv(lib.ones(3), lib.ones(3))", "lib.mv(lib.ones(3, 3), lib.ones(3, 3))",
    "lib.outer(lib.ones(3), lib.ones(3, 1))", "lib.ones(3, 1).outer(lib.ones(3))",
    "lib.zeros(2, -1)", "lib.zeros((0, -3), dtype=lib.int64)", "lib.arange(5, 0)", "lib.arange(0, 5, -1)",
])
def test_errors(call):
    assert_like_torch(lambda lib: eval(call))
