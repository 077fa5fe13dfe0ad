"""index_add, index_copy and index_fill (and their in-place forms): whole slices
along a dim addressed by a vector of indices. Values, gradients (repeated and
negative indices included), dtypes and errors, against numpy, finite
differences and torch."""
import numpy as np
import pytest

import cgrad
from helpers import assert_same_error, assert_second_order_matches_torch, check_op, run_twins, sgd_step

DTYPES = ["float64", "float32"]


def moved(a, dim):
    """a with dim first, as a view (numpy references write through it)."""
    return np.moveaxis(a, dim, 0)


def index_add_np(a, dim, index, src, alpha=1.0):
    out = a.copy()
    np.add.at(moved(out, dim), np.asarray(index).reshape(-1), alpha * moved(src, dim))
    return out


def index_copy_np(a, dim, index, src):
    out = a.copy()
    moved(out, dim)[np.asarray(index).reshape(-1)] = moved(src, dim)
    return out


def index_fill_np(a, dim, index, value):
    out = a.copy()
    moved(out, dim)[np.asarray(index).reshape(-1)] = value
    return out


SHAPES = [((5, 3), 0, [4, 0, 4]), ((5, 3), 1, [2, 0]), ((2, 4, 3), -2, [3, 1, 3, 3]), ((6,), 0, [5, 0, 2])]


def source_shape(shape, dim, n):
    s = list(shape)
    s[dim] = n
    return tuple(s)


@pytest.mark.parametrize("shape, dim, index", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [1, -2.5])
def test_index_add(shape, dim, index, dtype, alpha):
    check_op(lambda m, a, s: a.index_add(dim, m.tensor(index), s, alpha=alpha),
             shape, source_shape(shape, dim, len(index)),
             np_fn=lambda a, s: index_add_np(a, dim, index, s, alpha), dtype=dtype)


@pytest.mark.parametrize("shape, dim, index", [((5, 3), 0, [4, 0, 2]), ((5, 3), 1, [2, 0]), ((2, 4, 3), -2, [3, 1])])
@pytest.mark.parametrize("dtype", DTYPES)
def test_index_copy(shape, dim, index, dtype):
    check_op(lambda m, a, s: a.index_copy(dim, m.tensor(index), s),
             shape, source_shape(shape, dim, len(index)),
             np_fn=lambda a, s: index_copy_np(a, dim, index, s), dtype=dtype)


@pytest.mark.parametrize("shape, dim, index", [((5, 3), 0, [4, 0, 4]), ((5, 3), 1, [-1, 0]), ((2, 4, 3), -2, [-4, 1])])
@pytest.mark.parametrize("dtype", DTYPES)
def test_index_fill_with_number(shape, dim, index, dtype):
    check_op(lambda m, a: a.index_fill(dim, m.tensor(index), -1.5), shape,
             np_fn=lambda a: index_fill_np(a, dim, index, -1.5), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_index_fill_with_tensor_value_that_requires_grad(dtype):
    """The value's gradient is the sum over every filled element, a repeated index counted once."""
    check_op(lambda m, a, v: a.index_fill(1, m.tensor([3, 1, 3, 0]), v), (2, 4), (),
             np_fn=lambda a, v: index_fill_np(a, 1, [3, 1, 3, 0], v), dtype=dtype)


def test_index_fill_value_gradient_with_negative_indices():
    """Each filled element counts once, however it was named (torch's own
    backward fails on negative indices here)."""
    a = cgrad.tensor(np.arange(8.0).reshape(2, 4), requires_grad=True)
    v = cgrad.tensor(0.5, requires_grad=True)
    y = a.index_fill(1, cgrad.tensor([3, -1, -4]), v)
    (y * cgrad.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert v.grad.item() == 2 * (1.0 + 4.0)
    assert a.grad.tolist() == [[0, 2, 3, 0], [0, 2, 3, 0]]


@pytest.mark.parametrize("form", ["add", "copy", "fill"])
def test_noncontiguous_operands(form):
    def fn(m, a, s):
        index = m.tensor([2, 0, 1, 0, 2, 1])[::2]  # strided index: [2, 1, 2]
        if form == "add":
            return a.index_add(1, index, s)
        if form == "copy":
            return a.index_copy(1, index[:2], s[:, :2])
        return a.index_fill(1, index, 7.0)
    check_op(fn, (4, 3), (4, 3), noncontig=True, requires_grad=[True, form != "fill"])


def test_scalar_self_and_source():
    torch = pytest.importorskip("torch")
    for lib in (cgrad, torch):
        x = lib.tensor(2.0, requires_grad=True)
        s = lib.tensor(3.0, requires_grad=True)
        y = x.index_add(0, lib.tensor([0]), s, alpha=2) * x.index_copy(0, lib.tensor(0), s + 1)
        y = y + x.index_fill(0, lib.tensor([0]), s)
        y.backward()
        if lib is cgrad:
            ours = (y.item(), x.grad.item(), s.grad.item())
        else:
            assert ours == (y.item(), x.grad.item(), s.grad.item())


def test_scalar_self_with_empty_or_repeated_indices_matches_torch():
    """A 0-d self is one slice: an empty index writes nothing, a repeated one writes in order."""
    torch = pytest.importorskip("torch")
    results = []
    for m in (cgrad, torch):
        a = m.tensor(0.0)
        a.index_copy_(0, m.tensor([0, 10**9])[1:1], m.zeros(0))  # an empty view of an index with data after it
        big = m.zeros(10)
        big[0].index_copy_(0, m.arange(10)[3:3], m.arange(10.0)[7:7])
        results.append((a.item(), big.tolist(),
                        m.tensor(1.0).index_fill(0, m.tensor([], dtype=m.int64), 5.0).item(),
                        m.tensor(1.0).index_copy(0, m.tensor([0, 0]), m.tensor([2.0, 3.0])).item()))
    assert results[0] == results[1]


def test_index_copy_of_a_scalar_source_into_a_vector():
    torch = pytest.importorskip("torch")
    for lib in (cgrad, torch):
        s = lib.tensor(3.0, requires_grad=True)
        y = lib.zeros(3).index_copy(0, lib.tensor([1]), s) + lib.zeros(3).index_copy(0, lib.tensor([2]), s * 2)
        (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        if lib is cgrad:
            ours = (y.tolist(), s.grad.item())
        else:
            assert ours == (y.tolist(), s.grad.item())


def test_function_forms_match_methods():
    a = cgrad.arange(12.0).reshape(3, 4)
    i = cgrad.tensor([2, 0])
    s = cgrad.ones(3, 2)
    assert cgrad.equal(cgrad.index_add(a, 1, i, s, alpha=3), a.index_add(1, i, s, alpha=3))
    assert cgrad.equal(cgrad.index_copy(a, 1, i, s), a.index_copy(1, i, s))
    assert cgrad.equal(cgrad.index_fill(a, 1, i, -2), a.index_fill(1, i, -2))


@pytest.mark.parametrize("dtype", ["int64", "bool", "float32"])
@pytest.mark.parametrize("form", ["add", "add_alpha", "copy", "fill", "fill_tensor"])
def test_dtypes_match_torch(dtype, form):
    torch = pytest.importorskip("torch")

    def fn(m):
        dt = getattr(m, dtype)
        a = m.tensor([[0, 1, 0], [1, 0, 1]], dtype=dt)
        s = m.tensor([[1, 1], [0, 1]], dtype=dt)
        i = m.tensor([2, 2])
        if form == "add":
            return a.index_add(1, i, s)
        if form == "add_alpha":
            return a.index_add(1, i, s, alpha=True if dtype == "bool" else 2.5 if dtype == "int64" else -3)
        if form == "copy":
            return a.index_copy(1, m.tensor([2, 0]), s)
        if form == "fill":
            return a.index_fill(1, i, 2.7)
        return a.index_fill(1, i, m.tensor(2.7, dtype=m.float64))

    ours, theirs = fn(cgrad), fn(torch)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert ours.tolist() == theirs.tolist()


def test_repeated_indices_add_in_order_and_copy_keeps_the_last_write():
    torch = pytest.importorskip("torch")
    for lib in (cgrad, torch):
        a = lib.zeros(3, dtype=lib.float32)
        s = lib.tensor([1e8, 1.0, -1e8, 1.0], dtype=lib.float32)
        added = a.index_add(0, lib.tensor([1, 1, 1, 1]), s).tolist()
        copied = a.index_copy(0, lib.tensor([0, 2, 0, 2]), s).tolist()
        if lib is cgrad:
            ours = (added, copied)
        else:
            assert ours == (added, copied)


INPLACE = {  # form -> (y.form(...) for y of shape (4, 3), the source's shape)
    "index_add_": (lambda m, y, s: y.index_add_(0, m.tensor([3, 1]), s), (2, 3)),
    "index_copy_": (lambda m, y, s: y.index_copy_(0, m.tensor([3, 1]), s), (2, 3)),
    "index_fill_": (lambda m, y, s: y.index_fill_(0, m.tensor([3, 1]), s.sum()), (2, 3)),
    "masked_scatter_": (lambda m, y, s: y.masked_scatter_(m.tensor([True, False, True]), s), (8,)),
    "put_": (lambda m, y, s: y.put_(m.tensor([0, 11, -2, 5, 1, 3]), s), (6,)),
    "put_(accumulate)": (lambda m, y, s: y.put_(m.tensor([0, 11, -1, 5, 0, -12]), s, accumulate=True), (6,)),
}


@pytest.mark.parametrize("form", INPLACE)
def test_inplace_on_non_leaf_matches_torch(form):
    torch = pytest.importorskip("torch")
    fn, src_shape = INPLACE[form]
    data = np.random.default_rng(3).standard_normal((4, 3))
    src = np.random.default_rng(4).standard_normal(src_shape)
    results = []
    for lib in (cgrad, torch):
        x = lib.tensor(data, requires_grad=True)
        s = lib.tensor(src, requires_grad=True)
        y = x * 2
        assert fn(lib, y, s) is y
        (y * y).sum().backward()
        results.append((type(y.grad_fn).__name__, y.detach().numpy(), x.grad.numpy(), s.grad.numpy()))
    (n1, *ours), (n2, *theirs) = results
    assert n1 == n2
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("form", ["index_add_", "index_copy_", "index_fill_"])
def test_inplace_on_a_view_updates_its_base(form):
    base = cgrad.zeros(2, 4)
    view = base[:, 1:]
    other = cgrad.ones(2, 1) if form != "index_fill_" else 1.0
    getattr(view, form)(1, cgrad.tensor([2]), other)
    assert base.tolist() == [[0, 0, 0, 1], [0, 0, 0, 1]]


@pytest.mark.parametrize("expression", [
    "x.index_add(0, m.tensor([1]), s)",
    "x.index_copy(0, m.tensor([1]), s)",
    "x.index_fill(0, m.tensor([1]), 2.0)",
    "x.index_fill(0, m.tensor([1]), s.sum())",
    "x.index_fill(0, m.tensor([1]), m.tensor(2.0))",
    "x.masked_scatter(m.tensor([True, False, False]), s.reshape(-1))",
    "x.put(m.tensor([1, 2, 0]), s.reshape(-1))",
    "x.put(m.tensor([1, 2, 0]), s.reshape(-1), accumulate=True)",
])
def test_grad_fn_name_matches_torch(expression):
    torch = pytest.importorskip("torch")
    names = []
    for m in (cgrad, torch):
        x = m.ones(2, 3, requires_grad=True)
        s = m.ones(1, 3, requires_grad=True)
        names.append(type(eval(expression, {"m": m, "x": x, "s": s}).grad_fn).__name__)
    assert names[0] == names[1]


SECOND_ORDER = {
    "index_add": lambda m, x: x.index_add(1, m.tensor([3, 0, 3]), x[:, :3] * x[:, 1:], alpha=0.5),
    "index_copy": lambda m, x: x.index_copy(1, m.tensor([2, 0]), x[:, 1:3] * x[:, 2:]),
    "index_fill": lambda m, x: x.index_fill(1, m.tensor([-1, 1]), 0.25),
    "index_fill(tensor)": lambda m, x: x.index_fill(1, m.tensor([3, 1]), (x * x).sum()),
    "masked_scatter": lambda m, x: x.masked_scatter(m.tensor([True, False, False, True]), (x * x)[1:]),
    "put": lambda m, x: x.put(m.tensor([3, 0, -1, 3]), x[0] * x[1]),
    "put(accumulate)": lambda m, x: x.put(m.tensor([3, 0, -1, 3]), x[0] * x[1], accumulate=True),
}


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_order_gradients_match_torch(name):
    assert_second_order_matches_torch(SECOND_ORDER[name])


def test_no_graph_under_no_grad():
    x = cgrad.ones(3, 4, requires_grad=True)
    i = cgrad.tensor([0, 2])
    with cgrad.no_grad():
        outs = [x.index_add(0, i, x[:2]), x.index_copy(0, i, x[:2]), x.index_fill(0, i, 1.0)]
    assert all(y.grad_fn is None and not y.requires_grad for y in outs)


def test_failed_inplace_leaves_the_tensor_unchanged():
    x = cgrad.zeros(3, 2)
    with pytest.raises(RuntimeError):
        x.index_add_(0, cgrad.tensor([0, 7]), cgrad.ones(2, 2))
    with pytest.raises(IndexError):
        x.index_fill_(0, cgrad.tensor([1, -4]), 1.0)
    assert x.tolist() == [[0, 0], [0, 0], [0, 0]]


ERRORS = {
    "add: index not a vector": lambda m: m.zeros(3, 2).index_add_(0, m.tensor([[0]]), m.ones(1, 2)),
    "add: float index": lambda m: m.zeros(3, 2).index_add_(0, m.tensor([0.0]), m.ones(1, 2)),
    "add: count": lambda m: m.zeros(3, 2).index_add_(0, m.tensor([0, 1]), m.ones(1, 2)),
    "add: out of range": lambda m: m.zeros(3, 2).index_add_(0, m.tensor([5]), m.ones(1, 2)),
    "add: negative": lambda m: m.zeros(3, 2).index_add(0, m.tensor([-1]), m.ones(1, 2)),
    "add: shape": lambda m: m.zeros(3, 2).index_add_(0, m.tensor([0]), m.ones(1, 3)),
    "add: dtype": lambda m: m.zeros(3, 2).index_add_(0, m.tensor([0]), m.ones(1, 2, dtype=m.float64)),
    "add: dim": lambda m: m.zeros(3, 2).index_add_(2, m.tensor([0]), m.ones(1, 2)),
    "add: source dims": lambda m: m.zeros(3, 2).index_add_(0, m.tensor([0]), m.ones(2)),
    "add: scalar source": lambda m: m.zeros(3).index_add_(0, m.tensor([0]), m.tensor(2.0)),
    "copy: index not a vector": lambda m: m.zeros(3, 2).index_copy_(0, m.tensor([[0]]), m.ones(1, 2)),
    "copy: float index": lambda m: m.zeros(3, 2).index_copy_(0, m.tensor([0.0]), m.ones(1, 2)),
    "copy: count": lambda m: m.zeros(3, 2).index_copy_(0, m.tensor([0, 1]), m.ones(1, 2)),
    "copy: out of range": lambda m: m.zeros(3, 2).index_copy(0, m.tensor([5]), m.ones(1, 2)),
    "copy: negative": lambda m: m.zeros(3, 2).index_copy_(0, m.tensor([-1]), m.ones(1, 2)),
    "copy: slice shape": lambda m: m.zeros(3, 2, 4).index_copy_(1, m.tensor([0]), m.ones(3, 1, 5)),
    "copy: dims": lambda m: m.zeros(3, 2).index_copy_(0, m.tensor([0]), m.ones(1, 2, 1)),
    "copy: dtype": lambda m: m.zeros(3, 2).index_copy_(0, m.tensor([0]), m.ones(1, 2, dtype=m.float64)),
    "fill: index not a vector": lambda m: m.zeros(3, 2).index_fill_(0, m.tensor([[0]]), 1),
    "fill: float index": lambda m: m.zeros(3, 2).index_fill(0, m.tensor([0.0]), 1),
    "fill: out of range": lambda m: m.zeros(3, 2).index_fill_(0, m.tensor([3]), 1),
    "fill: too negative": lambda m: m.zeros(3, 2).index_fill_(0, m.tensor([-4]), 1),
    "fill: value with dims": lambda m: m.zeros(3, 2).index_fill_(0, m.tensor([0]), m.tensor([1.0])),
    "fill: dim": lambda m: m.zeros(3, 2).index_fill_(5, m.tensor([0]), 1),
    "fill: leaf that requires grad": lambda m: m.zeros(3, requires_grad=True).index_fill_(0, m.tensor([0]), 1),
    "add: leaf that requires grad": lambda m: m.zeros(3, requires_grad=True).index_add_(0, m.tensor([0]), m.ones(1)),
    "add: dim beyond the source's dims": lambda m: m.zeros(3, 4, 5).index_add_(2, m.tensor([0]), m.ones(1)),
    "add: out of range, 1-d": lambda m: m.zeros(3).index_add_(0, m.tensor([5]), m.ones(1)),
    "add: out of range, 0-d": lambda m: m.zeros(()).index_add_(0, m.tensor([1]), m.ones(())),
    "copy: a scalar source into 2-d": lambda m: m.zeros(3, 4).index_copy(0, m.tensor([1]), m.tensor(7.0)),
    "masked_scatter: long mask": lambda m: m.zeros(2, 3).masked_scatter(m.tensor([[1, 0, 1]]), m.arange(6.0)),
    "masked_scatter: short source": lambda m: m.zeros(2, 3).masked_scatter(m.tensor([[True, False, True]]),
                                                                          m.arange(3.0)),
    "masked_scatter: dtype": lambda m: m.zeros(2, 3).masked_scatter(m.tensor([[True, False, True]]),
                                                                   m.arange(6.0, dtype=m.float64)),
    "masked_scatter: shapes": lambda m: m.zeros(2, 3).masked_scatter(m.tensor([True, False, True, True]),
                                                                    m.arange(6.0)),
    "masked_scatter_: mask with more dims": lambda m: m.zeros(2, 3).masked_scatter_(m.tensor([[[True, False, True]]]),
                                                                                   m.arange(6.0)),
    "masked_scatter: number source": lambda m: m.zeros(2, 3).masked_scatter(m.tensor([[True, False, True]]), 5.0),
    "put: out of range": lambda m: m.zeros(6).put_(m.tensor([7]), m.tensor([5.0])),
    "put: too negative": lambda m: m.zeros(6).put(m.tensor([-7]), m.tensor([5.0])),
    "put: count": lambda m: m.zeros(6).put_(m.tensor([1, 2]), m.tensor([5.0])),
    "put: float index": lambda m: m.zeros(6).put_(m.tensor([1.0]), m.tensor([5.0])),
    "put: dtype": lambda m: m.zeros(6).put_(m.tensor([1]), m.tensor([5.0], dtype=m.float64)),
    "put: empty self": lambda m: m.zeros(0).put_(m.tensor([0]), m.tensor([1.0])),
    "put: number source": lambda m: m.zeros(3).put(m.tensor([0]), 1.0),
    "put: leaf that requires grad": lambda m: m.zeros(3, requires_grad=True).put_(m.tensor([0]), m.ones(1)),
    "expand: bool into fewer dims": lambda m: m.zeros(1, 1, 3, dtype=m.bool).expand(2, 3),
    "expand: double into fewer dims": lambda m: m.zeros(1, 1, 3, dtype=m.float64).expand(2, 3),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_match_torch(case):
    assert_same_error(ERRORS[case])


def slices_loss(params, index, target):
    table, rows = params
    out = table.index_add(0, index, rows * 2.0, alpha=0.5)
    out = out.index_copy(1, cgrad.tensor([3, 0]), out[:, 1:3].tanh())
    out = out.index_fill(0, cgrad.tensor([-1]), 0.5)
    return ((out - target) ** 2).mean()


def test_compiled_step_matches_eager_bit_for_bit():
    """A training step that scatters rows into a table replays with the eager bits."""
    def params():
        rng = np.random.default_rng(0)
        return [cgrad.tensor(rng.standard_normal((6, 4)), dtype=cgrad.float32, requires_grad=True),
                cgrad.tensor(rng.standard_normal((3, 4)), dtype=cgrad.float32, requires_grad=True)]

    rng = np.random.default_rng(1)
    batches = [(cgrad.tensor(rng.integers(0, 6, 3)), cgrad.tensor(rng.standard_normal((6, 4)), dtype=cgrad.float32))
               for _ in range(8)]
    assert run_twins(sgd_step(slices_loss, 0.1), params(), params(), batches, fullgraph=True)._cgrad_step.replays >= 3

# ---- masked_scatter, put ----------------------------------------------------------------------

def masked_scatter_np(a, mask, src):
    shape = np.broadcast_shapes(a.shape, mask.shape)
    out = np.broadcast_to(a, shape).copy()
    m = np.broadcast_to(mask, shape)
    out[m] = src.reshape(-1)[:m.sum()]
    return out


def put_np(a, index, src, accumulate=False):
    out = a.copy().reshape(-1)
    index = np.asarray(index).reshape(-1)
    index = np.where(index < 0, index + out.size, index)
    if accumulate:
        np.add.at(out, index, src.reshape(-1))
    else:
        out[index] = src.reshape(-1)
    return out.reshape(a.shape)


MASKS = [((2, 3), [[True, False, True], [False, True, True]], (6,)),
         ((2, 3), [True, False, True], (2, 4)),
         ((3,), [[True, False, True], [False, False, True]], (5,)),
         ((2, 1, 3), [[True], [False]], (9,))]


@pytest.mark.parametrize("shape, mask, src_shape", MASKS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_scatter(shape, mask, src_shape, dtype):
    mask_np = np.array(mask)
    check_op(lambda m, a, s: a.masked_scatter(m.tensor(mask), s), shape, src_shape,
             np_fn=lambda a, s: masked_scatter_np(a, mask_np, s), dtype=dtype)


def test_masked_scatter_noncontiguous_operands():
    mask = np.array([[True, False, True], [False, True, True], [True, True, False]])
    check_op(lambda m, a, s: a.masked_scatter(m.tensor(mask).t(), s), (3, 3), (4, 2), noncontig=True,
             np_fn=lambda a, s: masked_scatter_np(a, mask.T, s))


@pytest.mark.parametrize("index", [[[4, 0], [-1, 2]], [1, 5, -6], [3]])
@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_put(index, accumulate, dtype):
    check_op(lambda m, a, s: a.put(m.tensor(index), s, accumulate=accumulate), (2, 3), np.asarray(index).shape,
             np_fn=lambda a, s: put_np(a, index, s, accumulate), dtype=dtype)


def test_put_into_a_strided_tensor_uses_its_logical_order():
    check_op(lambda m, a, s: a.put(m.tensor([1, 4, -1]), s), (3, 2), (3,), noncontig=True,
             np_fn=lambda a, s: put_np(a, [1, 4, -1], s))




@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_masked_scatter_and_put_of_integers_and_bools_match_torch(dtype):
    torch = pytest.importorskip("torch")

    def fn(m):
        dt = getattr(m, dtype)
        a = m.tensor([[0, 1, 0], [1, 0, 1]], dtype=dt)
        s = m.tensor([1, 1, 0, 1], dtype=dt)
        return (a.masked_scatter(m.tensor([False, True, True]), s).tolist(),
                a.put(m.tensor([0, 0, -1, 2]), s, accumulate=True).tolist(),
                a.put(m.tensor([5, 1, 3, 2]), s).tolist())
    assert fn(cgrad) == fn(torch)




def test_failed_masked_scatter_and_put_leave_the_tensor_unchanged():
    x = cgrad.zeros(2, 3)
    with pytest.raises(RuntimeError):
        x.masked_scatter_(cgrad.tensor([True, True, True]), cgrad.ones(5))
    with pytest.raises(IndexError):
        x.put_(cgrad.tensor([0, 6]), cgrad.ones(2))
    assert x.tolist() == [[0, 0, 0], [0, 0, 0]]


def scatter_put_loss(params, mask, where):
    w, v = params
    out = w.masked_scatter(mask, v.tanh()).put(where, v[:3] * 2.0, accumulate=True)
    return (out * out).sum()


def test_compiled_masked_scatter_and_put_match_eager_bit_for_bit():
    def params():
        rng = np.random.default_rng(0)
        return [cgrad.tensor(rng.standard_normal((4, 5)), requires_grad=True),
                cgrad.tensor(rng.standard_normal(7), requires_grad=True)]

    rng = np.random.default_rng(1)
    batches = []
    for _ in range(6):
        mask = np.zeros((4, 5), bool)
        mask.reshape(-1)[rng.choice(20, 7, replace=False)] = True
        batches.append((cgrad.tensor(mask), cgrad.tensor(rng.integers(-20, 20, 3))))
    assert run_twins(sgd_step(scatter_put_loss), params(), params(), batches, fullgraph=True)._cgrad_step.replays >= 3
