"""gather, scatter, scatter_add, index_select and masked_fill (and their in-place
forms): values, gradients (repeated indices included), dtypes and errors,
against torch, numpy and finite differences."""
import numpy as np
import pytest

import cgrad
from helpers import assert_same_error, assert_second_order_matches_torch, check_op, torch_or_skip

DTYPES = ["float64", "float32"]


def size_along(shape, dim):
    return shape[dim] if shape else 1


def random_index(shape, dim, index_shape, seed=0):
    """Indices into shape along dim, drawn with repetition."""
    return np.random.default_rng(seed).integers(0, size_along(shape, dim), index_shape)


def unique_index(shape, dim, index_shape, seed=0):
    """Indices into shape along dim, distinct along dim (so scatter has no write conflicts)."""
    nd = max(len(index_shape), 1)
    dim = dim % nd
    full = list(index_shape) or [1]
    full[dim] = size_along(shape, dim)
    order = np.argsort(np.random.default_rng(seed).random(full), axis=dim)
    return np.take(order, range(index_shape[dim] if index_shape else 1), axis=dim).reshape(index_shape)


def coords(index, dim):
    """Coordinates addressed by gather/scatter: the index's own, with dim replaced by its values."""
    grid = list(np.indices(index.shape))
    grid[dim % index.ndim] = index
    return tuple(grid)


def gather_np(a, dim, index):
    if a.ndim == 0:
        return np.full(index.shape, a)
    return a[coords(index, dim)]


def scatter_np(a, dim, index, src, add=False):
    out = a.copy()
    if a.ndim == 0:
        src = np.broadcast_to(src, index.shape)
        return out + src.sum() if add else (src.reshape(-1)[-1] if src.size else out)
    src = np.broadcast_to(src, index.shape) if np.ndim(src) == 0 else src[tuple(slice(0, s) for s in index.shape)]
    if add:
        np.add.at(out, coords(index, dim), src)
    else:
        out[coords(index, dim)] = src
    return out


# ---------------------------------------------------------------- gather

GATHER_CASES = [
    ((3, 4), 1, (3, 2)),
    ((3, 4), 0, (2, 4)),
    ((3, 4), -1, (3, 6)),
    ((3, 4), 0, (5, 2)),
    ((3, 4), -2, (1, 1)),
    ((2, 3, 4), 1, (2, 5, 3)),
    ((2, 3, 4), -3, (4, 3, 4)),
    ((2, 3, 4), 2, (1, 2, 7)),
    ((5,), 0, (8,)),
    ((1,), 0, (3,)),
    ((), 0, ()),
    ((), -1, (3,)),
    ((3, 4), 1, (3, 0)),
    ((3, 4), 1, (0, 2)),
]
GATHER_IDS = [f"{s}-dim{d}-index{i}" for s, d, i in GATHER_CASES]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim, index_shape", GATHER_CASES, ids=GATHER_IDS)
def test_gather(shape, dim, index_shape, dtype):
    index = random_index(shape, dim, index_shape)
    check_op(lambda m, x: x.gather(dim, m.tensor(index)), shape, dtype=dtype,
             np_fn=lambda a: gather_np(a, dim, index))


def test_gather_repeated_indices_accumulate_gradient():
    x = cgrad.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    x.gather(1, cgrad.tensor([[2, 2, 0, 2]])).sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 3.0]]


@pytest.mark.parametrize("dim", [0, 1])
def test_gather_noncontiguous_input_and_index(dim):
    index = random_index((3, 4), dim, (3, 3), seed=1)
    check_op(lambda m, x: x.gather(dim, m.tensor(np.ascontiguousarray(index.T)).transpose(0, 1)), (3, 4),
             noncontig=True, np_fn=lambda a: gather_np(a, dim, index))


def test_gather_with_broadcast_index():
    check_op(lambda m, x: x.gather(1, m.tensor([[2, 0]]).expand(3, 2)), (3, 4),
             np_fn=lambda a: gather_np(a, 1, np.array([[2, 0]] * 3)))


@pytest.mark.parametrize("form", [lambda m, x, i: m.gather(x, 1, i), lambda m, x, i: m.gather(x, dim=1, index=i),
                                  lambda m, x, i: x.gather(dim=-1, index=i, sparse_grad=False)],
                         ids=["cgrad.gather(x, 1, i)", "cgrad.gather(x, dim=1, index=i)", "x.gather(dim=-1, index=i)"])
def test_gather_forms(form):
    index = random_index((3, 4), 1, (3, 2))
    check_op(lambda m, x: form(m, x, m.tensor(index)), (3, 4))


# ---------------------------------------------------------------- scatter and scatter_add

SCATTER_CASES = [
    ((3, 5), 1, (3, 3)),
    ((3, 5), 0, (2, 5)),
    ((3, 5), -1, (2, 4)),
    ((2, 3, 4), 1, (2, 2, 4)),
    ((2, 3, 4), -3, (1, 3, 3)),
    ((6,), 0, (4,)),
    ((), 0, ()),
    ((3, 5), 1, (3, 0)),
]
SCATTER_IDS = [f"{s}-dim{d}-index{i}" for s, d, i in SCATTER_CASES]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim, index_shape", SCATTER_CASES, ids=SCATTER_IDS)
def test_scatter_src(shape, dim, index_shape, dtype):
    index = unique_index(shape, dim, index_shape)
    check_op(lambda m, x, s: x.scatter(dim, m.tensor(index), s), shape, index_shape, dtype=dtype,
             np_fn=lambda a, s: scatter_np(a, dim, index, s))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim, index_shape", SCATTER_CASES, ids=SCATTER_IDS)
def test_scatter_value(shape, dim, index_shape, dtype):
    index = random_index(shape, dim, index_shape)
    check_op(lambda m, x: x.scatter(dim, m.tensor(index), -2.5), shape, dtype=dtype,
             np_fn=lambda a: scatter_np(a, dim, index, -2.5))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim, index_shape", SCATTER_CASES + [((3, 4), 1, (3, 7)), ((4,), 0, (9,))],
                         ids=SCATTER_IDS + ["(3, 4)-dim1-index(3, 7)", "(4,)-dim0-index(9,)"])
def test_scatter_add_with_repeated_indices(shape, dim, index_shape, dtype):
    index = random_index(shape, dim, index_shape)
    check_op(lambda m, x, s: x.scatter_add(dim, m.tensor(index), s), shape, index_shape, dtype=dtype,
             np_fn=lambda a, s: scatter_np(a, dim, index, s, add=True))


def test_scatter_repeated_index_last_write_wins_as_in_torch():
    torch = torch_or_skip()
    for lib in (cgrad, torch):
        x = lib.zeros(5).scatter(0, lib.tensor([1, 1, 3, 1]), lib.tensor([2.0, 3.0, 4.0, 5.0]))
        assert x.tolist() == [0.0, 5.0, 0.0, 4.0, 0.0]


def test_scatter_with_src_larger_than_index():
    """Forward uses the leading block of src; as in PyTorch, src's gradient then has the wrong shape."""
    torch = torch_or_skip()
    index = np.array([[0, 2], [1, 0]])
    src = np.arange(12.0).reshape(3, 4)
    for kind in ("scatter", "scatter_add"):
        ours = getattr(cgrad.zeros(2, 3, dtype=cgrad.float64), kind)(1, cgrad.tensor(index), cgrad.tensor(src))
        theirs = getattr(torch.zeros(2, 3, dtype=torch.float64), kind)(1, torch.tensor(index), torch.tensor(src))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        check_op(lambda m, x: getattr(x, kind)(1, m.tensor(index), m.tensor(src)), (2, 3))
        for lib in (cgrad, torch):
            s = lib.tensor(src, requires_grad=True)
            y = getattr(lib.zeros(2, 3, dtype=lib.float64), kind)(1, lib.tensor(index), s)
            with pytest.raises(RuntimeError, match="invalid gradient at index 1 - got \\[2, 2\\]"):
                y.sum().backward()


@pytest.mark.parametrize("form", [
    lambda m, x, i, s: m.scatter(x, 1, i, s),
    lambda m, x, i, s: m.scatter(x, 1, i, src=s),
    lambda m, x, i, s: x.scatter(dim=1, index=i, src=s),
    lambda m, x, i, s: m.scatter(x, 1, i, value=1.5) + 0 * s.sum(),
    lambda m, x, i, s: x.scatter(1, i, 2) + 0 * s.sum(),
    lambda m, x, i, s: m.scatter_add(x, 1, i, s),
    lambda m, x, i, s: x.scatter_add(dim=1, index=i, src=s),
], ids=["cgrad.scatter(x, 1, i, s)", "cgrad.scatter(x, 1, i, src=s)", "x.scatter(dim=1, index=i, src=s)",
        "cgrad.scatter(x, 1, i, value=1.5)", "x.scatter(1, i, 2)", "cgrad.scatter_add(x, 1, i, s)",
        "x.scatter_add(dim=1, index=i, src=s)"])
def test_scatter_forms(form):
    index = unique_index((3, 4), 1, (3, 2))
    check_op(lambda m, x, s: form(m, x, m.tensor(index), s), (3, 4), (3, 2))


# ---------------------------------------------------------------- index_select

INDEX_SELECT_CASES = [
    ((3, 4), 1, [2, 0, 2, 2]),
    ((3, 4), 0, [1, 1]),
    ((3, 4), -1, [3]),
    ((3, 4), -2, [0, 1, 2, 0, 1, 2]),
    ((2, 3, 4), 1, [2, 1, 2]),
    ((2, 3, 4), 2, [0, 0, 3]),
    ((2, 3, 4), 0, [1]),
    ((5,), 0, [4, 0, 4]),
    ((3, 4), 1, []),
    ((), 0, [0]),
    ((), -1, 0),
    ((3, 4), 0, 2),
]
INDEX_SELECT_IDS = [f"{s}-dim{d}-{i}" for s, d, i in INDEX_SELECT_CASES]


def index_select_np(a, dim, index):
    if a.ndim == 0:
        return a.copy()
    return np.take(a, np.atleast_1d(np.asarray(index, dtype=np.int64)), axis=dim)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim, index", INDEX_SELECT_CASES, ids=INDEX_SELECT_IDS)
def test_index_select(shape, dim, index, dtype):
    check_op(lambda m, x: x.index_select(dim, m.tensor(index, dtype=m.int64)), shape, dtype=dtype,
             np_fn=lambda a: index_select_np(a, dim, index))


@pytest.mark.parametrize("dim", [0, 1])
def test_index_select_noncontiguous_input_and_index(dim):
    check_op(lambda m, x: x.index_select(dim, m.tensor([2]).expand(4)), (3, 4), noncontig=True,
             np_fn=lambda a: index_select_np(a, dim, [2, 2, 2, 2]))


def test_index_select_repeated_indices_accumulate_gradient():
    x = cgrad.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    x.index_select(1, cgrad.tensor([2, 0, 2, 2])).sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 3.0], [1.0, 0.0, 3.0]]


@pytest.mark.parametrize("form", [lambda m, x, i: m.index_select(x, 1, i),
                                  lambda m, x, i: x.index_select(dim=0, index=i),
                                  lambda m, x, i: m.index_select(x, dim=-1, index=i)],
                         ids=["cgrad.index_select(x, 1, i)", "x.index_select(dim=0, index=i)",
                              "cgrad.index_select(x, dim=-1, index=i)"])
def test_index_select_forms(form):
    check_op(lambda m, x: form(m, x, m.tensor([2, 0, 2])), (3, 4))


# ---------------------------------------------------------------- masked_fill

MASKED_FILL_CASES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 4), (3, 1)),
    ((3, 4), ()),
    ((3, 4), (2, 3, 4)),
    ((4,), (2, 1, 4)),
    ((), (3,)),
    ((), ()),
    ((2, 0), (2, 1)),
]
MASKED_FILL_IDS = [f"self{s}-mask{m}" for s, m in MASKED_FILL_CASES]


def random_mask(shape, seed=0):
    return np.random.default_rng(seed).random(shape) < 0.5


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, mask_shape", MASKED_FILL_CASES, ids=MASKED_FILL_IDS)
def test_masked_fill_with_number(shape, mask_shape, dtype):
    mask = random_mask(mask_shape)
    check_op(lambda m, x: x.masked_fill(m.tensor(mask), 0.75), shape, dtype=dtype,
             np_fn=lambda a: np.where(mask, 0.75, a))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, mask_shape", MASKED_FILL_CASES, ids=MASKED_FILL_IDS)
def test_masked_fill_with_tensor_value_that_requires_grad(shape, mask_shape, dtype):
    mask = random_mask(mask_shape, seed=1)
    check_op(lambda m, x, v: x.masked_fill(m.tensor(mask), v), shape, (), dtype=dtype,
             np_fn=lambda a, v: np.where(mask, v, a))


def test_masked_fill_noncontiguous():
    mask = random_mask((3, 4), seed=2)
    check_op(lambda m, x: x.masked_fill(m.tensor(mask), -1.0), (3, 4), noncontig=True,
             np_fn=lambda a: np.where(mask, -1.0, a))


@pytest.mark.parametrize("value", [2, True, 1.5, -0.0], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_masked_fill_dtypes_match_torch(dtype, value):
    torch = torch_or_skip()
    data = np.array([[0, 1, 2], [3, 4, 5]]).astype(dtype)
    mask = np.array([True, False, True])
    ours = cgrad.tensor(data).masked_fill(cgrad.tensor(mask), value)
    theirs = torch.tensor(data).masked_fill(torch.tensor(mask), value)
    assert ours.dtype.name == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("form", [lambda m, x, k: m.masked_fill(x, k, 1.0),
                                  lambda m, x, k: x.masked_fill(mask=k, value=2),
                                  lambda m, x, k: m.masked_fill(x, k, m.tensor(3.0, dtype=x.dtype))],
                         ids=["cgrad.masked_fill(x, k, 1.0)", "x.masked_fill(mask=k, value=2)",
                              "cgrad.masked_fill(x, k, tensor(3.0))"])
def test_masked_fill_forms(form):
    mask = random_mask((3, 4), seed=3)
    check_op(lambda m, x: form(m, x, m.tensor(mask)), (3, 4))


# ---------------------------------------------------------------- other dtypes

OTHER_DTYPE_FORMS = {
    "gather": lambda m, x: x.gather(1, m.tensor([[2, 0], [1, 1]])),
    "scatter src": lambda m, x: x.scatter(1, m.tensor([[2, 0], [1, 0]]), x.gather(1, m.tensor([[0, 1], [2, 2]]))),
    "scatter value": lambda m, x: x.scatter(1, m.tensor([[2], [0]]), 1),
    "scatter_add": lambda m, x: x.scatter_add(0, m.tensor([[1, 1, 0], [1, 0, 0]]), x),
    "index_select": lambda m, x: x.index_select(1, m.tensor([2, 2, 0])),
    "masked_fill": lambda m, x: x.masked_fill(m.tensor([False, True, True]), 0),
}


@pytest.mark.parametrize("dtype", ["int64", "bool", "float32"])
@pytest.mark.parametrize("form", OTHER_DTYPE_FORMS)
def test_integer_and_bool_tensors_match_torch(form, dtype):
    torch = torch_or_skip()
    data = np.array([[0, 1, 2], [3, 0, 5]]).astype(dtype)
    ours = OTHER_DTYPE_FORMS[form](cgrad, cgrad.tensor(data))
    theirs = OTHER_DTYPE_FORMS[form](torch, torch.tensor(data))
    assert ours.dtype.name == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# ---------------------------------------------------------------- in place

INPLACE_FORMS = {
    "scatter_(src)": lambda m, x, s, i: (x * 1).scatter_(1, i, s),
    "scatter_(value)": lambda m, x, s, i: (x * 1).scatter_(1, i, 4.0) + s.sum(),
    "scatter_add_": lambda m, x, s, i: (x * 1).scatter_add_(1, i, s),
    "masked_fill_(number)": lambda m, x, s, i: (x * 1).masked_fill_(m.tensor([[True], [False], [True]]), -3.0)
    + s.sum(),
    "masked_fill_(tensor)": lambda m, x, s, i: (x * 1).masked_fill_(m.tensor([True, False, False, True]), s.sum()),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", INPLACE_FORMS)
def test_inplace_on_non_leaf(form, dtype):
    index = unique_index((3, 4), 1, (3, 2))
    check_op(lambda m, x, s: INPLACE_FORMS[form](m, x, s, m.tensor(index)), (3, 4), (3, 2), dtype=dtype)


VIEW_INPLACE_FORMS = {
    "scatter_(src)": lambda m, v, s, i: v.scatter_(1, i, s),
    "scatter_add_": lambda m, v, s, i: v.scatter_add_(1, i, s),
    "masked_fill_(tensor)": lambda m, v, s, i: v.masked_fill_(m.tensor([True, False, False, True]), s.sum()),
}


def inplace_on_view(form):
    """form applied to a transposed view of x * 1; returns the base, whose history becomes CopySlices."""
    def fn(m, x, s, i):
        base = x * 1
        VIEW_INPLACE_FORMS[form](m, base.transpose(0, 1), s, i)
        return base
    return fn


@pytest.mark.parametrize("form", VIEW_INPLACE_FORMS)
def test_inplace_on_a_view_updates_its_base(form):
    index = unique_index((3, 4), 1, (3, 2))
    check_op(lambda m, x, s: inplace_on_view(form)(m, x, s, m.tensor(index)), (4, 3), (3, 2))
    torch = torch_or_skip()
    names = [inplace_on_view(form)(lib, lib.ones(4, 3, requires_grad=True), lib.ones(3, 2, requires_grad=True),
                                   lib.tensor(index)).grad_fn.name() for lib in (cgrad, torch)]
    assert names[0] == names[1] == "torch::autograd::CopySlices"  # name() as in PyTorch


@pytest.mark.parametrize("form", INPLACE_FORMS)
def test_inplace_grad_fn_name_matches_torch(form):
    torch = torch_or_skip()
    index = unique_index((3, 4), 1, (3, 2))
    names = []
    for lib in (cgrad, torch):
        x = lib.ones(3, 4, requires_grad=True)
        s = lib.ones(3, 2, requires_grad=True)
        out = INPLACE_FORMS[form](lib, x, s, lib.tensor(index))
        names.append(out.grad_fn.name())
    assert names[0] == names[1]


@pytest.mark.parametrize("op", [
    lambda x: x.scatter_(0, cgrad.tensor([1]), 2.0),
    lambda x: x.scatter_(0, cgrad.tensor([1]), cgrad.tensor([2.0])),
    lambda x: x.scatter_add_(0, cgrad.tensor([1]), cgrad.tensor([2.0])),
    lambda x: x.masked_fill_(cgrad.tensor([True, False]), 2.0),
], ids=["scatter_(value)", "scatter_(src)", "scatter_add_", "masked_fill_"])
def test_inplace_on_leaf_that_requires_grad_fails_and_leaves_it_unchanged(op):
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        op(x)
    assert x.tolist() == [1.0, 2.0]


def test_inplace_returns_the_same_tensor_and_bumps_its_version():
    x = cgrad.zeros(2, 3)
    for op in (lambda t: t.scatter_(1, cgrad.tensor([[2], [0]]), 1.0),
               lambda t: t.scatter_add_(1, cgrad.tensor([[2], [0]]), cgrad.ones(2, 1)),
               lambda t: t.masked_fill_(cgrad.tensor([True, False, False]), 5.0)):
        before = x._version
        assert op(x) is x
        assert x._version > before
    assert x.tolist() == [[5.0, 0.0, 2.0], [5.0, 0.0, 0.0]]


def test_inplace_on_leaf_under_no_grad():
    x = cgrad.zeros(3, requires_grad=True)
    with cgrad.no_grad():
        x.masked_fill_(cgrad.tensor([False, True, False]), 1.0)
        x.scatter_add_(0, cgrad.tensor([0, 0]), cgrad.tensor([2.0, 3.0]))
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    assert x.tolist() == [5.0, 1.0, 0.0]


@pytest.mark.parametrize("op", [
    lambda lib, y: y.masked_fill_(lib.tensor([True, False]), 0.0),
    lambda lib, y: y.scatter_(0, lib.tensor([0]), 1.0),
    lambda lib, y: y.scatter_add_(0, lib.tensor([0]), lib.tensor([1.0])),
], ids=["masked_fill_", "scatter_", "scatter_add_"])
def test_modifying_a_saved_tensor_in_place_fails_in_backward(op):
    torch = torch_or_skip()
    for lib in (cgrad, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        op(lib, y)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_failed_inplace_scatter_leaves_the_tensor_unchanged():
    x = cgrad.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.scatter_(0, cgrad.tensor([0, 1, 7]), cgrad.tensor([9.0, 9.0, 9.0]))
    assert x.tolist() == [1.0, 2.0, 3.0]


def test_inplace_into_tensor_that_does_not_require_grad_records_src():
    src = cgrad.tensor([1.0, 2.0], requires_grad=True)
    x = cgrad.zeros(3)
    x.scatter_add_(0, cgrad.tensor([2, 2]), src * 3)
    assert x.grad_fn.name() == "ScatterAddBackward0"
    x.sum().backward()
    assert src.grad.tolist() == [3.0, 3.0]


# ---------------------------------------------------------------- errors

ERROR_FORMS = {
    "gather index out of range": lambda m: m.ones(3, 4).gather(1, m.tensor([[5]])),
    "gather negative index": lambda m: m.ones(3, 4).gather(1, m.tensor([[-1]])),
    "gather index of 0-d out of range": lambda m: m.tensor(3.0).gather(0, m.tensor(1)),
    "gather float index": lambda m: m.ones(3, 4).gather(1, m.ones(3, 1)),
    "gather dims mismatch": lambda m: m.ones(3, 4).gather(1, m.tensor([0, 1])),
    "gather index too large": lambda m: m.ones(3, 4).gather(0, m.zeros(4, 5, dtype=m.int64)),
    "gather dim out of range": lambda m: m.ones(3, 4).gather(2, m.zeros(3, 4, dtype=m.int64)),
    "scatter index out of range": lambda m: m.ones(2, 3).scatter(0, m.tensor([[5]]), m.ones(2, 2)),
    "scatter value index out of range": lambda m: m.ones(2, 3).scatter(1, m.tensor([[3]]), 1.0),
    "scatter dtype mismatch": lambda m: m.ones(2, 3).scatter(0, m.tensor([[1]]), m.ones(2, 2, dtype=m.float64)),
    "scatter_add dtype mismatch": lambda m: m.ones(2).scatter_add(0, m.tensor([1]), m.tensor([5])),
    "scatter float index": lambda m: m.ones(2, 3).scatter(0, m.ones(2, 2), m.ones(2, 2)),
    "scatter self dims mismatch": lambda m: m.ones(2, 3).scatter(0, m.ones(2, 2, 3, dtype=m.int64), m.ones(2, 2)),
    "scatter src dims mismatch": lambda m: m.ones(2, 3).scatter(0, m.ones(2, 2, dtype=m.int64), m.ones(2, 2, 2)),
    "scatter index larger than src": lambda m: m.ones(2, 3).scatter(0, m.ones(2, 2, dtype=m.int64), m.ones(1, 2)),
    "scatter_add index larger than self": lambda m: m.ones(2, 3).scatter_add(0, m.ones(3, 4, dtype=m.int64),
                                                                              m.ones(3, 4)),
    "scatter value index larger than self": lambda m: m.ones(3, 4).scatter(1, m.zeros(4, 1, dtype=m.int64), 1.0),
    "index_select out of range": lambda m: m.ones(3, 4).index_select(0, m.tensor([7])),
    "index_select negative": lambda m: m.ones(3, 4).index_select(1, m.tensor([-1])),
    "index_select negative along dim 0": lambda m: m.ones(3, 4).index_select(0, m.tensor([0, -1])),
    "index_select out of range along dim 2": lambda m: m.ones(2, 3, 4).index_select(2, m.tensor([4])),
    "index_select out of range along dim 1 of 3-d": lambda m: m.ones(2, 3, 4).index_select(1, m.tensor([1, 3])),
    "index_select 1-d out of range": lambda m: m.tensor([0.0, 1.0, 2.0]).index_select(0, m.tensor([5])),
    "index_select 2-d index": lambda m: m.ones(3, 4).index_select(1, m.tensor([[1]])),
    "index_select float index": lambda m: m.ones(3, 4).index_select(1, m.tensor([1.0])),
    "index_select of 0-d with 2 indices": lambda m: m.tensor(3.0).index_select(0, m.tensor([0, 0])),
    "index_select of an empty dim": lambda m: m.zeros(0, 3).index_select(0, m.tensor([0])),
    "index_select dim out of range": lambda m: m.ones(3, 4).index_select(2, m.tensor([0])),
    "masked_fill float mask": lambda m: m.ones(3, 4).masked_fill(m.ones(4), 1.0),
    "masked_fill value with dims": lambda m: m.ones(3, 4).masked_fill(m.ones(4, dtype=m.bool), m.tensor([1.0])),
    "masked_fill mask does not broadcast": lambda m: m.ones(3, 4).masked_fill(m.ones(5, dtype=m.bool), 1.0),
    "masked_fill_ mask larger than self": lambda m: m.zeros(4).masked_fill_(m.ones(2, 4, dtype=m.bool), 1.0),
}


@pytest.mark.parametrize("case", ERROR_FORMS)
def test_errors_match_torch(case):
    assert_same_error(ERROR_FORMS[case])


TYPE_ERROR_FORMS = {
    "scatter_add with a number": lambda m: m.ones(2).scatter_add(0, m.tensor([0]), 2.0),
    "gather with a list index": lambda m: m.ones(2).gather(0, [0]),
    "masked_fill with a string": lambda m: m.ones(2).masked_fill(m.ones(2, dtype=m.bool), "a"),
}


@pytest.mark.parametrize("case", TYPE_ERROR_FORMS)
def test_argument_errors_are_type_errors_as_in_torch(case):
    torch = torch_or_skip()
    with pytest.raises(TypeError):
        TYPE_ERROR_FORMS[case](torch)
    with pytest.raises(TypeError):
        TYPE_ERROR_FORMS[case](cgrad)


def test_scatter_reduce_argument_is_not_implemented():
    with pytest.raises(NotImplementedError, match="reduce"):
        cgrad.zeros(3).scatter(0, cgrad.tensor([0]), 1.0, reduce="add")


# ---------------------------------------------------------------- grad_fn names

GRAD_FN_EXPRESSIONS = {
    "gather": lambda m, x, s: x.gather(1, m.tensor([[0, 1], [2, 2], [3, 0]])),
    "scatter(src)": lambda m, x, s: x.scatter(1, m.tensor([[0, 1], [2, 3], [3, 0]]), s),
    "scatter(value)": lambda m, x, s: x.scatter(1, m.tensor([[0, 1], [2, 3], [3, 0]]), 1.0),
    "scatter_add": lambda m, x, s: x.scatter_add(1, m.tensor([[0, 1], [2, 2], [3, 0]]), s),
    "index_select": lambda m, x, s: x.index_select(0, m.tensor([2, 0])),
    "masked_fill(number)": lambda m, x, s: x.masked_fill(m.tensor([True, False, True, False]), 0.5),
    "masked_fill(tensor)": lambda m, x, s: x.masked_fill(m.tensor([True, False, True, False]), m.tensor(0.5)),
    "masked_fill(tensor requiring grad)": lambda m, x, s: x.masked_fill(m.tensor([True, False, True, False]),
                                                                        s.sum()),
}


@pytest.mark.parametrize("expression", GRAD_FN_EXPRESSIONS)
def test_grad_fn_name_matches_torch(expression):
    torch = torch_or_skip()
    names = []
    for lib in (cgrad, torch):
        x = lib.ones(3, 4, requires_grad=True)
        s = lib.ones(3, 2, requires_grad=True)
        names.append(GRAD_FN_EXPRESSIONS[expression](lib, x, s).grad_fn.name())
    assert names[0] == names[1]


def test_index_tensors_get_no_gradient():
    x = cgrad.ones(3, 4, requires_grad=True)
    index = cgrad.tensor([[0, 1], [2, 2], [3, 0]])
    y = x.gather(1, index)
    assert y.grad_fn.next_functions[0][0].name() == "torch::autograd::AccumulateGrad"  # as in PyTorch
    assert len(y.grad_fn.next_functions) == 1


# ---------------------------------------------------------------- second-order gradients

SECOND_ORDER = {
    "gather": lambda m, x: x.gather(1, m.tensor([[0, 1, 1], [2, 2, 0], [3, 0, 3]])),
    "scatter(src)": lambda m, x: m.zeros(3, 5, dtype=x.dtype).scatter(1, m.tensor([[0, 1], [2, 4], [3, 0]]),
                                                                       x.gather(1, m.tensor([[0, 1], [1, 2], [3, 3]]))),
    "scatter(value)": lambda m, x: x.scatter(1, m.tensor([[0, 1], [2, 2], [3, 0]]), 2.0),
    "scatter_add": lambda m, x: x.scatter_add(1, m.tensor([[0, 1, 1, 0], [2, 2, 2, 2], [3, 0, 3, 1]]), x * x),
    "index_select": lambda m, x: x.index_select(1, m.tensor([3, 3, 0])),
    "masked_fill": lambda m, x: x.masked_fill(m.tensor([True, False, False, True]), 1.5),
    "masked_fill(tensor)": lambda m, x: x.masked_fill(m.tensor([True, False, False, True]), x.sum()),
    "max(1).values": lambda m, x: x.max(1).values,
}


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_order_gradients_match_torch(name):
    assert_second_order_matches_torch(SECOND_ORDER[name])


def test_no_graph_under_no_grad():
    x = cgrad.ones(3, 4, requires_grad=True)
    index = cgrad.tensor([[0], [1], [2]])
    with cgrad.no_grad():
        outs = [x.gather(1, index), x.scatter(1, index, 1.0), x.scatter_add(1, index, x.gather(1, index)),
                x.index_select(0, cgrad.tensor([0])), x.masked_fill(cgrad.tensor([True, False, False, True]), 0.0)]
    assert all(y.grad_fn is None and not y.requires_grad for y in outs)


def test_large_gather_and_index_select_match_numpy():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((64, 33, 17))
    x = cgrad.tensor(data)
    index = rng.integers(0, 33, (64, 50, 17))
    np.testing.assert_array_equal(x.gather(1, cgrad.tensor(index)).numpy(), np.take_along_axis(data, index, 1))
    rows = rng.integers(0, 17, 40)
    np.testing.assert_array_equal(x.index_select(2, cgrad.tensor(rows)).numpy(), data[:, :, rows])
    out = np.zeros((64, 33, 17))
    np.add.at(out, coords(index, 1), data[:, :1, :].repeat(50, 1))
    np.testing.assert_allclose(cgrad.zeros(64, 33, 17, dtype=cgrad.float64).scatter_add(
        1, cgrad.tensor(index), cgrad.tensor(data[:, :1, :].repeat(50, 1))).numpy(), out)

