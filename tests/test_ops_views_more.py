"""Diagonals, windows, regions replaced, splits and rotations (csrc/ops_views.c
and their composites): values and gradients against torch and finite
differences, float32 and float64, negative dims and offsets, empty and
non-contiguous inputs, views writing through, versions, node names and errors."""
import numpy as np
import pytest

import cgrad
from helpers import assert_same_error, check_op, torch_or_skip

DTYPES = ["float64", "float32"]


def np_of(t):
    return np.array(t.detach().numpy(), copy=True)


def weighted(lib, pieces):
    """One tensor from a tuple of pieces, each weighted differently (so a
    gradient routed to the wrong piece shows)."""
    return lib.cat([p.reshape(-1) * (k + 1) for k, p in enumerate(pieces)])


# ---------------------------------------------------------------- values and gradients

DIAGONALS = [(0, 0, 1), (1, 0, 1), (-1, 0, 1), (2, -1, 0), (-2, 2, 0), (0, 1, -1), (7, 0, 1), (-9, 1, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("noncontig", [False, True])
@pytest.mark.parametrize("offset,dim1,dim2", DIAGONALS)
def test_diagonal(offset, dim1, dim2, dtype, noncontig):
    check_op(lambda m, a: a.diagonal(offset, dim1, dim2) * 1, (3, 4, 5), dtype=dtype, noncontig=noncontig,
             np_fn=lambda a: np.diagonal(a, offset, dim1, dim2))
    check_op(lambda m, a: m.diagonal(a, offset=offset, dim1=dim1, dim2=dim2) * 1, (3, 4, 5), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (0, 3), (1, 1)])
def test_trace(shape, dtype):
    check_op(lambda m, a: m.trace(a), shape, dtype=dtype, np_fn=np.trace)
    check_op(lambda m, a: a.trace(), shape, dtype=dtype, noncontig=True)


def test_trace_int64_and_values():
    torch = torch_or_skip()
    a = np.arange(12).reshape(3, 4)
    ours, theirs = cgrad.tensor(a).trace(), torch.tensor(a).trace()
    assert ours.dtype == cgrad.int64 and ours.item() == theirs.item()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("offset,dim1,dim2", [(0, -2, -1), (1, 0, 2), (-2, 2, 0), (0, 1, 0)])
def test_diag_embed(offset, dim1, dim2, dtype):
    check_op(lambda m, a: m.diag_embed(a, offset, dim1, dim2), (2, 3), dtype=dtype)
    check_op(lambda m, a: a.diag_embed(offset=offset, dim1=dim1, dim2=dim2), (2, 3), dtype=dtype, noncontig=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3,), (2, 3), (), (0,)])
@pytest.mark.parametrize("offset", [0, 2, -1])
def test_diagflat(shape, offset, dtype):
    check_op(lambda m, a: m.diagflat(a, offset), shape, dtype=dtype, np_fn=lambda a: np.diagflat(a, offset))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("offset,dim1,dim2", DIAGONALS)
def test_diagonal_scatter(offset, dim1, dim2, dtype):
    region = tuple(cgrad.zeros(3, 4, 5).diagonal(offset, dim1, dim2).shape)
    check_op(lambda m, a, b: m.diagonal_scatter(a, b, offset, dim1, dim2), (3, 4, 5), region, dtype=dtype)
    check_op(lambda m, a, b: a.diagonal_scatter(b, offset=offset, dim1=dim1, dim2=dim2) * 1, (3, 4, 5), region,
             dtype=dtype, noncontig=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim,index", [(0, 1), (1, -1), (-1, 0), (2, 4)])
def test_select_scatter(dim, index, dtype):
    region = tuple(cgrad.zeros(3, 4, 5).select(dim, index).shape)
    check_op(lambda m, a, b: m.select_scatter(a, b, dim, index), (3, 4, 5), region, dtype=dtype)
    check_op(lambda m, a, b: a.select_scatter(b, dim, index), (3, 4, 5), region, dtype=dtype, noncontig=True)


SLICES = [(0, None, None, 1), (1, 1, None, 2), (-1, -3, -1, 1), (2, 0, 5, 3), (0, 5, None, 1), (1, 2, 1, 1),
          (1, -10, 10, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim,start,end,step", SLICES)
def test_slice_scatter(dim, start, end, step, dtype):
    key = [slice(None)] * 3
    key[dim] = slice(start, end, step)
    region = np.zeros((3, 4, 5))[tuple(key)].shape
    check_op(lambda m, a, b: m.slice_scatter(a, b, dim, start, end, step), (3, 4, 5), region, dtype=dtype)
    check_op(lambda m, a, b: a.slice_scatter(b, dim=dim, start=start, end=end, step=step), (3, 4, 5), region,
             dtype=dtype, noncontig=True)


def test_scatters_cast_src_and_send_its_gradient_in_its_dtype():
    torch = torch_or_skip()
    for lib in (cgrad, torch):
        a = lib.zeros(3, 4, requires_grad=True)
        b = lib.ones(4, dtype=lib.float64, requires_grad=True)
        out = lib.select_scatter(a, b, 0, 1)
        assert out.dtype == lib.float32
        out.sum().backward()
        assert b.grad.dtype == lib.float64 and a.grad.dtype == lib.float32
    ours = cgrad.slice_scatter(cgrad.zeros(2, 3, dtype=cgrad.int64), cgrad.full((2, 1), 2.7), 1, 1, 2)
    theirs = torch.slice_scatter(torch.zeros(2, 3, dtype=torch.int64), torch.full((2, 1), 2.7), 1, 1, 2)
    assert ours.tolist() == theirs.tolist() and ours.dtype == cgrad.int64


UNFOLDS = [(1, 2, 1), (1, 3, 2), (0, 2, 3), (-1, 1, 1), (-1, 5, 1), (1, 0, 1), (2, 2, 2), (0, 3, 1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("noncontig", [False, True])
@pytest.mark.parametrize("dim,size,step", UNFOLDS)
def test_unfold(dim, size, step, dtype, noncontig):
    check_op(lambda m, a: a.unfold(dim, size, step) * 1, (3, 4, 5), dtype=dtype, noncontig=noncontig)


@pytest.mark.parametrize("size", [0, 1])
def test_unfold_of_a_0d_tensor(size):
    check_op(lambda m, a: a.unfold(0, size, 1) * 1, np.array(1.5))
    check_op(lambda m, a: a.unfold(-1, size, 2) * 1, np.array(1.5))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [-5, -1, 0, 1, 2, 3, 4, 6])
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (-1, 0), (2, -2)])
def test_rot90(k, dims, dtype):
    check_op(lambda m, a: m.rot90(a, k, dims), (2, 3, 4), dtype=dtype,
             np_fn=lambda a: np.rot90(a, k, [d % 3 for d in dims]))
    check_op(lambda m, a: a.rot90(k, list(dims)), (2, 3, 4), dtype=dtype, noncontig=True)


def test_rot90_default_and_layout():
    torch = torch_or_skip()
    a = np.arange(12.0).reshape(3, 4)
    for k in range(4):
        ours, theirs = cgrad.tensor(a).rot90(k), torch.tensor(a).rot90(k)
        assert ours.tolist() == theirs.tolist() and ours.stride() == theirs.stride()


SPLITS = [(3, 0), (3, 1), (5, 0), ([1, 3], 1), ([3, 1], -1), ([-1, 10], 1), ((1,), -1), ([], 0), (1, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spec,dim", SPLITS)
def test_tensor_split(spec, dim, dtype):
    check_op(lambda m, a: weighted(m, m.tensor_split(a, spec, dim)), (3, 4, 2), dtype=dtype)
    check_op(lambda m, a: weighted(m, a.tensor_split(spec, dim=dim)), (3, 4, 2), dtype=dtype, noncontig=True)


def test_tensor_split_pieces_are_views_and_take_tensors_and_keywords():
    torch = torch_or_skip()
    for lib in (cgrad, torch):
        x = lib.arange(12.0).reshape(3, 4)
        pieces = x.tensor_split(3, 1)
        pieces[1].add_(100)
        assert [p.shape[1] for p in pieces] == [2, 1, 1]
        assert x[0, 2].item() == 102
    a = np.arange(20.0).reshape(4, 5)
    for args, kwargs in [((cgrad.tensor(2),), {}), ((cgrad.tensor([1, 4]), 1), {}), ((), {"sections": 3}),
                         ((), {"indices": [1, 2], "dim": 1})]:
        targs = tuple(torch.tensor(v.tolist()) if isinstance(v, cgrad.Tensor) else v for v in args)
        ours = cgrad.tensor_split(cgrad.tensor(a), *args, **kwargs)
        theirs = torch.tensor_split(torch.tensor(a), *targs, **kwargs)
        assert [p.tolist() for p in ours] == [p.tolist() for p in theirs]
        assert all(p.grad_fn is None for p in ours)
    x = cgrad.tensor(a, requires_grad=True)
    assert {p.grad_fn.name() for p in x.tensor_split(2)} == {"SliceBackward0"}


@pytest.mark.parametrize("name,shape,spec", [
    ("hsplit", (3, 4), 2), ("hsplit", (4,), 2), ("hsplit", (3, 4), [1, 3]), ("vsplit", (4, 2), 2),
    ("vsplit", (3, 2), [2]), ("dsplit", (2, 2, 4), 2), ("dsplit", (2, 2, 4), [1, 1, 3]), ("hsplit", (2, 0), 1)])
def test_directional_splits(name, shape, spec):
    check_op(lambda m, a: weighted(m, getattr(m, name)(a, spec)), shape)
    check_op(lambda m, a: weighted(m, getattr(a, name)(spec)), shape, dtype="float32")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index,dim", [
    ([[0], [2], [1]], 1), ([[0, 1, 2, 0]], 0), ([[2, 0, 1, 1]], None), ([[[1], [0]]], 2), ([[1, 1], [0, 3], [2, 2]], -1),
    ([[0]], 0)])
def test_take_along_dim(index, dim, dtype):
    shape = (2, 1, 3) if np.asarray(index).ndim == 3 else (3, 4)
    check_op(lambda m, a: m.take_along_dim(a, m.tensor(index), dim), shape, dtype=dtype)
    check_op(lambda m, a: a.take_along_dim(m.tensor(index), dim=dim), shape, dtype=dtype, noncontig=dim is not None)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (5,), (0, 2)])
def test_msort(shape, dtype):
    check_op(lambda m, a: m.msort(a), shape, dtype=dtype, np_fn=lambda a: np.sort(a, axis=0))
    check_op(lambda m, a: a.msort(), shape, dtype=dtype, noncontig=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (0, False), (-1, True), (1, False)])
def test_aminmax(dim, keepdim, dtype):
    def fn(m, a):
        lo, hi = m.aminmax(a, dim=dim, keepdim=keepdim)
        return lo * 2 + hi
    check_op(fn, (3, 4), dtype=dtype)
    check_op(lambda m, a: a.aminmax(dim=dim, keepdim=keepdim).max * 3 - a.aminmax(dim=dim).min.sum(), (3, 4),
             dtype=dtype, noncontig=True)


def test_aminmax_named_tuple_ties_and_dtypes():
    torch = torch_or_skip()
    data = [[1.0, 3.0, 3.0], [0.0, 0.0, 2.0]]
    for dim in (None, 1):
        grads = []
        for lib in (cgrad, torch):
            x = lib.tensor(data, requires_grad=True)
            r = lib.aminmax(x) if dim is None else x.aminmax(dim=dim)
            assert r.min is r[0] and r.max is r[1] and len(r) == 2
            (r.min.sum() + 2 * r.max.sum()).backward()
            grads.append(x.grad.tolist())
        assert grads[0] == grads[1]
    for values in ([True, False], [4, -2, 7]):
        ours, theirs = cgrad.aminmax(cgrad.tensor(values)), torch.aminmax(torch.tensor(values))
        assert [t.item() for t in ours] == [t.item() for t in theirs]
        assert ours.min.dtype.is_floating_point == theirs.min.dtype.is_floating_point
    assert "min=" in repr(cgrad.tensor([1.0]).aminmax()) and type(cgrad.tensor([1.0]).aminmax()).__name__ == "aminmax"
    assert cgrad.tensor(2.0).aminmax(dim=0).min.item() == 2.0
    assert tuple(cgrad.zeros(0, 3).aminmax(dim=1).max.shape) == (0,)


@pytest.mark.parametrize("values", [[[0.0, 1.5], [2.0, 0.0]], [[[True, False]], [[False, True]]], [3, 0, -1], 0.0, 2.0,
                                    [[]]])
def test_argwhere(values):
    torch = torch_or_skip()
    ours, theirs = cgrad.argwhere(cgrad.tensor(values)), torch.argwhere(torch.tensor(values))
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == cgrad.int64
    assert ours.tolist() == theirs.tolist()
    assert cgrad.tensor(values).argwhere().tolist() == theirs.tolist()


# ---------------------------------------------------------------- fill_diagonal_

@pytest.mark.parametrize("shape,wrap", [((3, 3), False), ((4, 3), False), ((3, 5), True), ((7, 3), True),
                                        ((7, 3), False), ((8, 2), True), ((3, 3, 3), False), ((2, 2, 2, 2), True),
                                        ((0, 3), False), ((4, 3), True)])
def test_fill_diagonal_values(shape, wrap):
    torch = torch_or_skip()
    ours = cgrad.zeros(*shape).fill_diagonal_(2.5, wrap=wrap)
    theirs = torch.zeros(*shape).fill_diagonal_(2.5, wrap=wrap)
    assert ours.tolist() == theirs.tolist()
    if shape != (8, 2):  # torch's wrap writes out of bounds of a transposed 8 x 2
        # a transposed (non-contiguous) tensor fills its own logical diagonal too
        rev = tuple(reversed(range(len(shape))))
        ours = cgrad.zeros(*shape[::-1]).permute(rev).fill_diagonal_(1, wrap)
        theirs = torch.zeros(*shape[::-1]).permute(rev).fill_diagonal_(1, wrap)
        assert ours.tolist() == theirs.tolist()


def test_fill_diagonal_returns_self_bumps_version_and_keeps_dtype():
    x = cgrad.zeros(3, 3, dtype=cgrad.int64)
    v = x._version
    assert x.fill_diagonal_(1.7) is x
    assert x._version > v and x.dtype == cgrad.int64 and x.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert cgrad.zeros(2, 2).fill_diagonal_(True).tolist() == [[1, 0], [0, 1]]
    assert cgrad.zeros(2, 2).fill_diagonal_(cgrad.tensor(3.0)).tolist() == [[3, 0], [0, 3]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wrap", [False, True])
def test_fill_diagonal_gradient(dtype, wrap):
    check_op(lambda m, a: (a * 1).fill_diagonal_(0.5, wrap=wrap) * a, (7, 3), dtype=dtype)
    torch = torch_or_skip()
    for lib in (cgrad, torch):
        y = lib.ones(3, 3, requires_grad=True) * 2
        assert y.fill_diagonal_(0.0).grad_fn.name().endswith("CopySlices")


# ---------------------------------------------------------------- views

def test_diagonal_is_a_view_that_writes_through():
    torch = torch_or_skip()
    for lib in (cgrad, torch):
        x = lib.arange(12.0).reshape(3, 4)
        d = x.diagonal(1)
        assert d.data_ptr() == x.data_ptr() + d.storage_offset() * 4
        assert d.stride() == (5,) and d.storage_offset() == 1
        v = x._version
        d.mul_(-1)
        assert x._version == v + 1 and d._version == x._version
        assert x.tolist()[0][1] == -1 and x.tolist()[2][3] == -11
        x[1, 2] = 50
        assert d[1].item() == 50


def test_writes_into_views_of_non_leaves_reach_the_base_gradient():
    torch = torch_or_skip()
    grads = []
    for lib in (cgrad, torch):
        a = lib.tensor(np.arange(1.0, 13.0).reshape(3, 4), requires_grad=True)
        y = a * 1
        y.diagonal(-1).mul_(3)
        y.unfold(1, 2, 2)[0].zero_()
        (y * y).sum().backward()
        grads.append(a.grad.tolist())
        assert y.grad_fn.name().endswith("CopySlices")
    assert grads[0] == grads[1]


def test_a_leaf_that_requires_grad_refuses_writes_through_its_views():
    for name, fn in [("diagonal", lambda m, x: x.diagonal().zero_()),
                     ("unfold", lambda m, x: x.unfold(0, 2, 1).zero_()),
                     ("fill_diagonal_", lambda m, x: x.fill_diagonal_(1))]:
        assert_same_error(lambda m: fn(m, m.ones(3, 3, requires_grad=True)))
    with cgrad.no_grad():  # allowed without grad mode
        x = cgrad.ones(3, 3, requires_grad=True)
        x.fill_diagonal_(0)
    assert x.tolist() == [[0, 1, 1], [1, 0, 1], [1, 1, 0]]


def test_unfold_is_a_view_with_torch_strides():
    torch = torch_or_skip()
    for args in [(1, 2, 1), (0, 3, 2), (-1, 4, 4), (1, 0, 3)]:
        ours = cgrad.arange(24.0).reshape(4, 6).unfold(*args)
        theirs = torch.arange(24.0).reshape(4, 6).unfold(*args)
        assert ours.stride() == theirs.stride() and ours.tolist() == theirs.tolist()
    x = cgrad.arange(6.0)
    w = x.unfold(0, 3, 1)
    v = x._version
    w[1].fill_(0)
    assert x.tolist() == [0, 0, 0, 0, 4, 5] and x._version == v + 1 and w.data_ptr() == x.data_ptr()
    t = cgrad.arange(8.0).reshape(2, 4).T
    assert t.unfold(0, 2, 2).tolist() == torch.arange(8.0).reshape(2, 4).T.unfold(0, 2, 2).tolist()


def test_views_of_views_and_version_counter_in_backward():
    torch = torch_or_skip()
    for lib in (cgrad, torch):
        x = lib.tensor(np.arange(1.0, 28.0).reshape(3, 3, 3), requires_grad=True)
        y = x.diagonal(0, 0, 2).diagonal()  # the main diagonal of the cube
        z = (y.exp() * 1)
        out = z.sum()
        out.backward()
        assert x.grad.sum().item() == pytest.approx(float(np.exp([1.0, 14.0, 27.0]).sum()))
        w = x.detach()
        s = w.diagonal().exp()  # exp saves its output: modifying its storage is an error at backward
        assert s.grad_fn is None


def test_saved_view_modified_in_place_is_detected():
    def fn(m):
        x = m.ones(3, 3, requires_grad=True)
        y = x * 2
        d = y.diagonal()
        z = d.exp()
        z.mul_(2)
        z.sum().backward()
    assert_same_error(fn)


# ---------------------------------------------------------------- second order

@pytest.mark.parametrize("fn", [
    lambda m, a: a.diagonal(1) ** 2,
    lambda m, a: m.trace(a * a),
    lambda m, a: m.diag_embed(a * a, -1),
    lambda m, a: (a * a).unfold(1, 2, 1),
    lambda m, a: m.diagonal_scatter(a * a, a.diagonal() ** 3),
    lambda m, a: m.select_scatter(a * a, a[1] ** 3, 0, 2),
    lambda m, a: m.slice_scatter(a ** 3, a[:, :2] ** 2, 1, 1, 3),
    lambda m, a: m.rot90(a * a, 3),
])
def test_second_order_against_torch(fn):
    torch = torch_or_skip()
    data = np.random.default_rng(0).standard_normal((3, 4))
    results = []
    for lib in (cgrad, torch):
        x = lib.tensor(data, requires_grad=True)
        y = fn(lib, x)
        w = lib.tensor(np.linspace(0.5, 1.5, y.numel()).reshape(tuple(y.shape)))
        (g,) = lib.autograd.grad((w * y).sum(), x, create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), x)
        results.append((np_of(g), np_of(h)))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- names

NAMED = [
    lambda m, x: x.diagonal(), lambda m, x: m.diagonal(x, 1, 1, 0), lambda m, x: x.trace(),
    lambda m, x: x.diag_embed(), lambda m, x: m.diagflat(x), lambda m, x: x.unfold(1, 2, 1),
    lambda m, x: m.diagonal_scatter(x, m.ones(3)), lambda m, x: m.select_scatter(x, m.ones(4), 0, 0),
    lambda m, x: m.slice_scatter(x, m.ones(3, 2), 1, 2), lambda m, x: m.rot90(x),
    lambda m, x: m.rot90(x, 2), lambda m, x: m.rot90(x, 0), lambda m, x: m.take_along_dim(x, m.tensor([[0]]), 1),
    lambda m, x: m.hsplit(x, 2)[1], lambda m, x: m.vsplit(x, [1])[0], lambda m, x: m.tensor_split(x, 2)[0],
    lambda m, x: (x * 1).fill_diagonal_(1),
    lambda m, x: x.aminmax().min, lambda m, x: m.aminmax(x, dim=-1, keepdim=True).max,
]


@pytest.mark.parametrize("k", range(len(NAMED)))
def test_node_names_match_torch(k):
    torch = torch_or_skip()
    names = [NAMED[k](lib, lib.ones(3, 4, requires_grad=True)).grad_fn.name() for lib in (cgrad, torch)]
    assert names[0] == names[1]


# ---------------------------------------------------------------- errors

ERRORS = [
    lambda m: m.ones(3).diagonal(),
    lambda m: m.ones(()).diagonal(),
    lambda m: m.ones(3, 4).diagonal(0, 0, 0),
    lambda m: m.ones(3, 4).diagonal(0, 0, -2),
    lambda m: m.ones(3, 4).diagonal(0, 0, 2),
    lambda m: m.ones(3, 4).diagonal(0, -3, 1),
    lambda m: m.diagonal([[1.0]]),
    lambda m: m.ones(3).trace(),
    lambda m: m.ones(2, 2, 2).trace(),
    lambda m: m.tensor([[True, False], [False, True]]).trace(),
    lambda m: m.diag_embed(m.ones(3, 4), 1, 0, 0),
    lambda m: m.diag_embed(m.ones(3, 4), 1, 0, 3),
    lambda m: m.diag_embed(m.tensor(1.0)),
    lambda m: m.ones(3).fill_diagonal_(2),
    lambda m: m.ones(3, 3, 4).fill_diagonal_(2),
    lambda m: m.ones(3, 3).fill_diagonal_("a"),
    lambda m: m.diagonal_scatter(m.ones(3, 4), m.ones(4)),
    lambda m: m.diagonal_scatter(m.ones(3, 4), m.ones(3, 1)),
    lambda m: m.diagonal_scatter(m.tensor(1.0), m.tensor(2.0)),
    lambda m: m.select_scatter(m.ones(3, 4), m.ones(3), 0, 1),
    lambda m: m.select_scatter(m.ones(3, 4), m.ones(4), 0, 5),
    lambda m: m.select_scatter(m.ones(3, 4), m.ones(4), 0, -4),
    lambda m: m.select_scatter(m.ones(3, 4), m.ones(4), 2, 0),
    lambda m: m.select_scatter(m.tensor(1.0), m.tensor(2.0), 0, 0),
    lambda m: m.slice_scatter(m.ones(3, 4), m.ones(3, 3), 1, 0, 4, 2),
    lambda m: m.slice_scatter(m.ones(3, 4), m.ones(3, 2), 1, step=0),
    lambda m: m.slice_scatter(m.ones(3, 4), m.ones(3, 2), 1, step=-1),
    lambda m: m.slice_scatter(m.ones(3, 4), m.ones(3, 4), 5),
    lambda m: m.slice_scatter(m.tensor(1.0), m.tensor(2.0), 0),
    lambda m: m.ones(3, 4).unfold(1, 5, 1),
    lambda m: m.ones(3, 4).unfold(1, 2, 0),
    lambda m: m.ones(3, 4).unfold(1, -1, 1),
    lambda m: m.ones(3, 4).unfold(1, -1, 0),
    lambda m: m.ones(3, 4).unfold(1, 5, 0),
    lambda m: m.ones(3, 4).unfold(2, 2, 1),
    lambda m: m.tensor(3.0).unfold(0, 2, 1),
    lambda m: m.tensor(3.0).unfold(1, 1, 1),
    lambda m: m.rot90(m.ones(3, 4), 1, [0]),
    lambda m: m.rot90(m.ones(3, 4), 1, [0, 0]),
    lambda m: m.rot90(m.ones(3, 4), 1, [0, -2]),
    lambda m: m.rot90(m.ones(3, 4), 1, [0, 2]),
    lambda m: m.rot90(m.ones(3), 1),
    lambda m: m.rot90(m.ones(3), 1, [0]),
    lambda m: m.tensor_split(m.ones(3, 4), 0, 1),
    lambda m: m.tensor_split(m.ones(3, 4), -1),
    lambda m: m.tensor_split(m.tensor(1.0), 2),
    lambda m: m.tensor_split(m.ones(3, 4), 2, 2),
    lambda m: m.tensor_split(m.ones(3, 4), m.tensor([[1, 2]])),
    lambda m: m.tensor_split(m.ones(3, 4), m.tensor([1.0, 2.0])),
    lambda m: m.hsplit(m.ones(3, 4), 3),
    lambda m: m.hsplit(m.ones(3, 4), 0),
    lambda m: m.hsplit(m.ones(4), 3),
    lambda m: m.hsplit(m.tensor(1.0), 1),
    lambda m: m.vsplit(m.ones(3, 4), 2),
    lambda m: m.vsplit(m.ones(4), 2),
    lambda m: m.dsplit(m.ones(3, 4), 2),
    lambda m: m.dsplit(m.ones(2, 2, 4), 3),
    lambda m: m.take_along_dim(m.ones(3, 4), m.tensor([[0, 1]]), 0),
    lambda m: m.take_along_dim(m.ones(3, 4), m.tensor([0, 1]), 0),
    lambda m: m.take_along_dim(m.ones(3, 4), m.tensor([[0.0, 1.0]]), 0),
    lambda m: m.take_along_dim(m.ones(3, 4), m.tensor([0.0, 1.0])),
    lambda m: m.take_along_dim(m.ones(4, 3).T, m.tensor([0, 1])),
    lambda m: m.take_along_dim(m.ones(3, 4), m.tensor([0.0, 1.0]), 0),
    lambda m: m.take_along_dim(m.ones(3, 4), m.tensor([[0, 1], [0, 1]]), 2),
    lambda m: m.take_along_dim(m.ones(3, 4), m.tensor([[0], [1], [2], [0]]), 1),
    lambda m: m.take_along_dim(m.ones(3, 4), m.tensor(1), 1),
    lambda m: m.aminmax(m.ones(0, 3)),
    lambda m: m.aminmax(m.ones(0, 3), dim=0),
    lambda m: m.aminmax(m.tensor(2.0), dim=1),
    lambda m: m.aminmax(m.ones(2, 3), dim=2),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors_match_torch(k):
    assert_same_error(ERRORS[k])


def test_integer_arguments_refuse_floats():
    for fn in [lambda: cgrad.ones(3, 4).diagonal(1.5), lambda: cgrad.ones(3, 4).unfold(0, 2.0, 1),
               lambda: cgrad.slice_scatter(cgrad.ones(3, 4), cgrad.ones(3, 4), start=1.5),
               lambda: cgrad.select_scatter(cgrad.ones(3, 4), cgrad.ones(4), 0, 1.5),
               lambda: cgrad.rot90(cgrad.ones(3, 4), 1.0)]:
        with pytest.raises(TypeError):
            fn()


# ---------------------------------------------------------------- in-place view ops

INPLACE_VIEWS = [
    ("t_", lambda x: x.t_(), (3, 4)), ("t_ 1-d", lambda x: x.t_(), (4,)),
    ("transpose_", lambda x: x.transpose_(0, -1), (2, 3, 4)), ("swapaxes_", lambda x: x.swapaxes_(1, 2), (2, 3, 4)),
    ("swapdims_", lambda x: x.swapdims_(-1, 0), (2, 3, 4)), ("unsqueeze_", lambda x: x.unsqueeze_(1), (2, 3)),
    ("unsqueeze_ last", lambda x: x.unsqueeze_(-1), (2, 3)), ("squeeze_", lambda x: x.squeeze_(), (2, 1, 3, 1)),
    ("squeeze_ dim", lambda x: x.squeeze_(-1), (2, 1, 3, 1)), ("squeeze_ dims", lambda x: x.squeeze_((1, 3)), (2, 1, 3, 1)),
    ("squeeze_ kept", lambda x: x.squeeze_(0), (2, 1, 3, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,op,shape", INPLACE_VIEWS, ids=[v[0] for v in INPLACE_VIEWS])
def test_inplace_view_ops(name, op, shape, dtype):
    def fn(m, a):
        y = a * 1
        r = op(y)
        assert r is y
        return y * y.detach().sign()
    check_op(fn, shape, dtype=dtype)
    check_op(fn, shape, dtype=dtype, noncontig=True)


@pytest.mark.parametrize("name,op,shape", INPLACE_VIEWS, ids=[v[0] for v in INPLACE_VIEWS])
def test_inplace_view_ops_layout_version_and_name(name, op, shape):
    torch = torch_or_skip()
    seen = []
    for lib in (cgrad, torch):
        x = lib.tensor(np.arange(float(np.prod(shape))).reshape(shape), requires_grad=True)
        y = x * 1
        ptr, version = y.data_ptr(), y._version
        op(y)
        assert y.data_ptr() == ptr and y._version == version + 1
        seen.append((tuple(y.shape), y.stride(), y.grad_fn.name(), y.is_contiguous(), y.tolist()))
        with lib.no_grad():  # a leaf may change its layout without grad mode, and stays a leaf
            op(x)
        assert x.is_leaf and x.requires_grad and x.grad_fn is None
        seen.append((tuple(x.shape), x.stride()))
        z = lib.tensor(np.ones(shape))  # nor does a tensor that needs no grad record anything
        op(z)
        seen.append((z.grad_fn, z._version))
    assert seen[:3] == seen[3:]


def test_inplace_view_ops_on_views_and_saved_outputs():
    torch = torch_or_skip()
    grads = []
    for lib in (cgrad, torch):
        x = lib.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
        y = x * 1
        v = y[1]
        v.unsqueeze_(0)
        assert v.grad_fn.name() == "UnsqueezeBackward1" and v.grad_fn.next_functions[0][0].name() == "SelectBackward0"
        v.mul_(2)  # still a view of y: the write reaches y
        (v.sum() + y.sum()).backward()
        grads.append((x.grad.tolist(), y.tolist()))
    assert grads[0] == grads[1]
    assert_same_error(lambda m: (lambda y: (y.t_(), y.sum().backward()))(m.ones(3, 2, requires_grad=True).exp()))


@pytest.mark.parametrize("fn", [
    lambda m: m.ones(3, 4, requires_grad=True).t_(),
    lambda m: m.ones(3, 1, requires_grad=True).squeeze_(),
    lambda m: m.ones(3, 4, requires_grad=True)[0].unsqueeze_(0),
    lambda m: m.ones(3, 4, requires_grad=True).transpose_(0, 1),
    lambda m: m.ones(2, 3, 4).t_(),
    lambda m: m.ones(3).transpose_(0, 1),
    lambda m: m.ones(3).unsqueeze_(2),
    lambda m: m.ones(3).squeeze_(1),
    lambda m: m.ones(3, 1).squeeze_((0, 2)),
    lambda m: m.ones(3, 4).swapaxes_(0, -3),
    lambda m: m.ones(3, 4).swapdims_(2, 0),
])
def test_inplace_view_op_errors(fn):
    assert_same_error(fn)
