"""Views, indexing, joining and splitting: values and gradients against torch,
finite differences and numpy; views share storage and version with their base."""
import numpy as np
import pytest

import cgrad
from helpers import check_op

DTYPES = ["float64", "float32"]


# ---- views and copies that move elements -----------------------------------------

SHAPE_OPS = {
    "narrow": (lambda L, x: x.narrow(1, 1, 2), lambda x: x[:, 1:3], (3, 4)),
    "narrow_neg": (lambda L, x: x.narrow(-1, -3, 2), lambda x: x[:, 1:3], (3, 4)),
    "flatten": (lambda L, x: x.flatten(), lambda x: x.reshape(-1), (2, 3, 4)),
    "flatten_mid": (lambda L, x: x.flatten(1, 2), lambda x: x.reshape(2, 12), (2, 3, 4)),
    "unflatten": (lambda L, x: x.unflatten(1, (2, 2)), lambda x: x.reshape(3, 2, 2), (3, 4)),
    "flip": (lambda L, x: x.flip(0, 1), lambda x: x[::-1, ::-1], (3, 4)),
    "flip_one": (lambda L, x: x.flip(-1), lambda x: x[:, ::-1], (3, 4)),
    "roll": (lambda L, x: x.roll(1, 0), lambda x: np.roll(x, 1, 0), (3, 4)),
    "roll_multi": (lambda L, x: x.roll((2, -1), (1, 0)), lambda x: np.roll(x, (2, -1), (1, 0)), (3, 4)),
    "roll_flat": (lambda L, x: x.roll(5), lambda x: np.roll(x, 5), (3, 4)),
    "repeat": (lambda L, x: x.repeat(2, 3), lambda x: np.tile(x, (2, 3)), (2, 3)),
    "repeat_new_dims": (lambda L, x: x.repeat(2, 1, 2), lambda x: np.tile(x, (2, 1, 2)), (2, 3)),
    "tile": (lambda L, x: x.tile((2,)), lambda x: np.tile(x, 2), (2, 3)),
    "expand_as": (lambda L, x: x.expand_as(L.zeros(4, 2, 3, dtype=x.dtype)), lambda x: np.broadcast_to(x, (4, 2, 3)), (2, 3)),
    "broadcast_to": (lambda L, x: x.broadcast_to((3, 4)), lambda x: np.broadcast_to(x, (3, 4)), (1, 4)),
    "movedim": (lambda L, x: x.movedim(0, -1), lambda x: np.moveaxis(x, 0, -1), (2, 3, 4)),
    "view_as": (lambda L, x: x.view_as(L.zeros(6, 2)), lambda x: x.reshape(6, 2), (3, 4)),
    "t": (lambda L, x: x.t(), lambda x: x.T, (3, 4)),
    "t_1d": (lambda L, x: x.t(), lambda x: x, (4,)),
    "t_0d": (lambda L, x: x.t(), lambda x: x, ()),
    "t_function": (lambda L, x: L.t(x), lambda x: x.T, (2, 5)),
}


def test_t_of_more_than_two_dims_raises_as_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError) as ours:
        cgrad.zeros(2, 3, 4).t()
    with pytest.raises(RuntimeError) as theirs:
        torch.zeros(2, 3, 4).t()
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError, match="must be Tensor"):
        cgrad.t([[1.0]])


def test_t_is_a_view():
    x = cgrad.zeros(2, 3)
    y = x.t()
    y[0, 1] = 5.0
    assert x[1, 0].item() == 5.0 and y.shape == (3, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_op(name, dtype):
    fn, np_fn, shape = SHAPE_OPS[name]
    check_op(fn, shape, np_fn=np_fn, dtype=dtype)


@pytest.mark.parametrize("name", ["narrow", "flip", "roll", "repeat", "flatten_mid"])
def test_shape_op_noncontiguous(name):
    fn, _, shape = SHAPE_OPS[name]
    check_op(fn, shape, noncontig=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_split_chunk_unbind_gradients(dtype):
    check_op(lambda L, x: L.cat([p * (i + 1) for i, p in enumerate(x.split(2, 1))], 1), (3, 5), dtype=dtype)
    check_op(lambda L, x: L.stack([p * (i + 1) for i, p in enumerate(x.chunk(3, 0))], 0).sum(0), (6, 2), dtype=dtype)
    check_op(lambda L, x: L.stack([r * (i + 1) for i, r in enumerate(x.unbind(1))], 0), (3, 4), dtype=dtype)
    check_op(lambda L, x: x.split([1, 3], 1)[1], (3, 4), dtype=dtype)


def test_unused_pieces_get_zero_gradient():
    check_op(lambda L, x: x.unbind(0)[1] * 3, (3, 4))
    check_op(lambda L, x: x.split(1, 1)[0].exp(), (2, 3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cat_and_stack(dtype):
    check_op(lambda L, a, b: L.cat([a, b, a], 0), (2, 3), (4, 3), dtype=dtype,
             np_fn=lambda a, b: np.concatenate([a, b, a], 0))
    check_op(lambda L, a, b: L.cat([a, b], -1), (2, 3), (2, 1), dtype=dtype,
             np_fn=lambda a, b: np.concatenate([a, b], -1))
    check_op(lambda L, a, b: L.stack([a, b], 1), (2, 3), (2, 3), dtype=dtype,
             np_fn=lambda a, b: np.stack([a, b], 1))
    check_op(lambda L, a, b: L.stack([a, b], -1), (3,), (3,), dtype=dtype)


def test_cat_promotes_and_skips_legacy_empty():
    torch = pytest.importorskip("torch")
    a32 = cgrad.ones(2, 2)
    a64 = cgrad.ones(1, 2, dtype=cgrad.float64)
    assert cgrad.cat([a32, a64]).dtype == cgrad.float64
    assert cgrad.cat([a32, cgrad.zeros(0)]).shape == (2, 2)
    assert torch.cat([torch.ones(2, 2), torch.zeros(0)]).shape == (2, 2)


@pytest.mark.parametrize("fn, message", [
    (lambda L: L.cat([L.ones(2, 3), L.ones(2, 4)], 0), "Sizes of tensors must match except in dimension 0"),
    (lambda L: L.stack([L.ones(2), L.ones(3)]), "stack expects each tensor to be equal size"),
    (lambda L: L.cat([], 0), "expected a non-empty list of Tensors"),
    (lambda L: L.ones(3).narrow(0, 2, 2), "exceeds dimension size"),
    (lambda L: L.ones(2, 3).repeat(2), "Number of dimensions of repeat dims can not be smaller"),
    (lambda L: L.ones(3).split([1, 1], 0), "split_with_sizes expects split_sizes to sum exactly to 3"),
])
def test_shape_errors(fn, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as t_err:
        fn(torch)
    with pytest.raises(type(t_err.value), match=message):
        fn(cgrad)


def test_grad_fn_names_match_torch():
    torch = pytest.importorskip("torch")

    def lib(x):
        return torch if isinstance(x, torch.Tensor) else cgrad

    ops = {
        "select": lambda x: x[0], "slice": lambda x: x[1:], "index": lambda x: x[[0, 1]],
        "cat": lambda x: lib(x).cat([x, x]), "stack": lambda x: lib(x).stack([x, x]),
        "split": lambda x: x.split(1)[0], "split_sizes": lambda x: x.split([1, 2])[0],
        "chunk": lambda x: x.chunk(3)[0], "unbind": lambda x: x.unbind()[0],
        "flip": lambda x: x.flip(0), "roll": lambda x: x.roll(1, 0), "roll_flat": lambda x: x.roll(1),
        "repeat": lambda x: x.repeat(2, 1), "narrow": lambda x: x.narrow(0, 1, 1), "flatten": lambda x: x.flatten(),
    }
    for name, op in ops.items():
        t = op(torch.ones(3, 4, requires_grad=True))
        c = op(cgrad.ones(3, 4, requires_grad=True))
        assert c.grad_fn.name() == t.grad_fn.name(), name


# ---- indexing ---------------------------------------------------------------------------

GETITEM = {
    "int": lambda x: x[1],
    "neg_int": lambda x: x[-1, -2],
    "slice": lambda x: x[1:3],
    "slice_step": lambda x: x[::2, 1::2],
    "slice_clamped": lambda x: x[-10:10, :100],
    "none": lambda x: x[None, :, None],
    "ellipsis": lambda x: x[..., 1],
    "ellipsis_mid": lambda x: x[0, ..., 2],
    "list": lambda x: x[[2, 0, 2]],
    "list_dim1": lambda x: x[:, [1, 1, 3]],
    "two_lists": lambda x: x[[0, 2], [1, 3]],
    "nonadjacent": lambda x: x[[0, 1], :, [2, 3]],
    "broadcast_lists": lambda x: x[[[0], [2]], [1, 3]],
    "int_and_list": lambda x: x[1, [0, 3]],
    "list_and_slice": lambda x: x[[2, 0], 1:3],
    "false": lambda x: x[False],
    "true": lambda x: x[True],
}


@pytest.mark.parametrize("name", sorted(GETITEM))
def test_getitem(name):
    op = GETITEM[name]
    shape = (3, 4, 5) if name in ("nonadjacent", "ellipsis_mid") else (3, 4)
    check_op(lambda L, x: op(x), shape, np_fn=op if name not in ("false", "true") else None)


def test_getitem_with_index_tensors_and_masks():
    idx = np.array([[0, 2], [1, 1]])
    check_op(lambda L, x: x[L.tensor(idx)], (3, 4), np_fn=lambda x: x[idx])
    mask = np.array([[True, False, True, False], [False, False, True, True], [True, True, True, False]])
    check_op(lambda L, x: x[L.tensor(mask)], (3, 4), np_fn=lambda x: x[mask])
    row_mask = np.array([True, False, True])
    check_op(lambda L, x: x[L.tensor(row_mask)], (3, 4), np_fn=lambda x: x[row_mask])
    check_op(lambda L, x: x[:, L.tensor([True, False, True, True])], (3, 4))


def test_getitem_noncontiguous():
    check_op(lambda L, x: x[1:, [0, 2]], (4, 3), noncontig=True)
    check_op(lambda L, x: x[::2, 1], (4, 3), noncontig=True)


def test_repeated_indices_accumulate_gradients():
    x = cgrad.ones(3, requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


@pytest.mark.parametrize("index, error", [
    (lambda x: x[3], IndexError),
    (lambda x: x[0, 0, 0], IndexError),
    (lambda x: x[1.5], IndexError),
    (lambda x: x[::-1], ValueError),
    (lambda x: x[[0, 5]], IndexError),
    (lambda x: x[[0, 1], [0, 1, 2]], IndexError),
])
def test_getitem_errors(index, error):
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        index(torch.ones(3, 4))
    with pytest.raises(error):
        index(cgrad.ones(3, 4))


def test_mask_shape_error():
    with pytest.raises(IndexError, match="The shape of the mask"):
        cgrad.ones(3, 4)[cgrad.tensor([True, False])]


def test_iteration_and_len():
    x = cgrad.arange(6.0).reshape(3, 2)
    rows = list(x)
    assert len(rows) == len(x) == 3
    assert [r.tolist() for r in rows] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    with pytest.raises(TypeError):
        iter(cgrad.tensor(1.0))


# ---- views share storage and version -----------------------------------------------------

@pytest.mark.parametrize("make_view", [
    lambda x: x[1], lambda x: x[:, 1:3], lambda x: x.narrow(0, 1, 2), lambda x: x.T, lambda x: x.mT,
    lambda x: x.view(12), lambda x: x.reshape(2, 6), lambda x: x.flatten(), lambda x: x.unsqueeze(0),
    lambda x: x.transpose(0, 1), lambda x: x.permute(1, 0), lambda x: x[None], lambda x: x.split(1)[2],
    lambda x: x.chunk(2, 1)[1], lambda x: x.unbind(1)[0], lambda x: x.expand(2, 3, 4), lambda x: x[..., ::2],
])
def test_views_share_storage_and_version(make_view):
    base = cgrad.zeros(3, 4)
    view = make_view(base)
    before = base._version
    view_version = view._version
    base.add_(1.0)
    assert view._version == base._version > before and view._version > view_version
    assert float(view.sum()) == view.numel()


@pytest.mark.parametrize("make_view", [lambda x: x[1], lambda x: x[:, 1:3], lambda x: x.T, lambda x: x.view(12),
                                       lambda x: x.unbind(1)[0], lambda x: x[..., ::2]])
def test_writes_through_views_reach_the_base(make_view):
    base = cgrad.zeros(3, 4)
    view = make_view(base)
    view.add_(1.0)
    assert float(base.sum()) == view.numel()
    assert base._version == view._version == 1


def test_inplace_through_view_is_seen_by_saved_tensor_checks():
    x = cgrad.ones(3, requires_grad=True)
    y = x * 2
    z = y.exp()  # saves its output
    z[0].mul_(2)  # modifies that output through a view
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_contiguous_clone_copy():
    x = cgrad.arange(12.0).reshape(3, 4)
    t = x.T
    assert not t.is_contiguous() and t.stride() == (1, 4)
    c = t.contiguous()
    assert c.is_contiguous() and c.tolist() == t.tolist()
    assert x.contiguous() is x
    y = cgrad.zeros(4, 3)
    y.copy_(t)
    assert y.tolist() == t.tolist()
    z = x.clone()
    z.add_(1)
    assert x[0, 0].item() == 0.0


# ---- __setitem__ with autograd ---------------------------------------------------------------

SETITEM = {
    "row": lambda L, x, v: _set(x.clone(), (1,), v[0]),
    "slice": lambda L, x, v: _set(x.clone(), (slice(0, 2), slice(1, 3)), v[:2, :2]),
    "number": lambda L, x, v: _set(x.clone(), (0, slice(None)), 5.0) * v,
    "list": lambda L, x, v: _set(x.clone(), ([0, 2],), v[1:3]),
    "mask": lambda L, x, v: _set(x.clone(), (L.tensor([True, False, True]),), v[:2]),
    "broadcast": lambda L, x, v: _set(x.clone(), (slice(None), 2), v[0, 0]),
    "into_zeros": lambda L, x, v: _set(L.zeros(3, 4, dtype=x.dtype), (1,), v[2] * x[0]),
    "view_then_op": lambda L, x, v: _view_mul(x.clone(), v),
}


def _set(t, index, value):
    t[index] = value
    return t


def _view_mul(t, v):
    row = t[1]
    row.mul_(v[0])
    return t * 1 + row.sum()


@pytest.mark.parametrize("name", sorted(SETITEM))
def test_setitem_autograd(name):
    check_op(SETITEM[name], (3, 4), (3, 4))


def test_setitem_names_match_torch():
    torch = pytest.importorskip("torch")
    for L in (torch, cgrad):
        x = L.ones(3, 4, requires_grad=True).clone()
        x[0] = L.zeros(4)
        assert type(x.grad_fn).__name__ == "CopySlices" or x.grad_fn.name() == "CopySlices"
        y = L.ones(3, 4, requires_grad=True).clone()
        y[[0, 1]] = 2.0
        assert y.grad_fn.name() == "IndexPutBackward0"


def test_setitem_on_leaf_that_requires_grad_errors():
    x = cgrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x[0] = 2.0
    with cgrad.no_grad():
        x[0] = 2.0
    assert x.tolist() == [2.0, 1.0, 1.0]


def test_index_put():
    check_op(lambda L, x, v: x.index_put((L.tensor([0, 2, 0]),), v, accumulate=True), (3, 4), (3, 4))
    check_op(lambda L, x, v: x.index_put((L.tensor([0, 2]), L.tensor([1, 3])), v), (3, 4), (2,))


# ---- creation --------------------------------------------------------------------------------

@pytest.mark.parametrize("args, kwargs", [
    ((5,), {}), ((2, 7), {}), ((0, 1, 0.1), {}), ((1.5, -2.0, -0.5), {}), ((10,), {"dtype": "float64"}),
    ((0, 5, 2), {"dtype": "float32"}), ((3, 3), {}),
])
def test_arange_matches_torch(args, kwargs):
    torch = pytest.importorskip("torch")
    t = torch.arange(*args, **{k: getattr(torch, v) for k, v in kwargs.items()})
    c = cgrad.arange(*args, **{k: getattr(cgrad, v) for k, v in kwargs.items()})
    assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_array_equal(c.numpy(), t.numpy())


@pytest.mark.parametrize("start, end, steps", [(0, 1, 5), (-1.3, 7.1, 13), (2, 2, 1), (0, 1, 0), (5, -5, 11)])
def test_linspace_matches_torch(start, end, steps):
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(cgrad.linspace(start, end, steps).numpy(),
                                  torch.linspace(start, end, steps).numpy())


def test_eye_and_full_and_likes():
    assert cgrad.eye(3).tolist() == np.eye(3).tolist()
    assert cgrad.eye(2, 3, dtype=cgrad.int64).tolist() == [[1, 0, 0], [0, 1, 0]]
    x = cgrad.full((2, 3), 7, dtype=cgrad.float64)
    assert x.tolist() == [[7.0] * 3] * 2 and x.dtype == cgrad.float64
    assert cgrad.full((2,), 3).dtype == cgrad.int64
    assert cgrad.full((2,), True).dtype == cgrad.bool
    assert cgrad.zeros_like(x).dtype == cgrad.float64 and cgrad.ones_like(x).sum().item() == 6
    assert cgrad.full_like(x, 2.5).tolist() == [[2.5] * 3] * 2
    assert cgrad.empty(2, 3).shape == (2, 3) and cgrad.empty_like(x).dtype == cgrad.float64


def test_random_creation_is_seeded_and_in_range():
    cgrad.manual_seed(123)
    a = cgrad.rand(1000)
    cgrad.manual_seed(123)
    b = cgrad.rand(1000)
    assert a.tolist() == b.tolist()
    assert 0.0 <= a.numpy().min() and a.numpy().max() < 1.0
    g = cgrad.Generator().manual_seed(5)
    r = cgrad.randint(3, 9, (10000,), generator=g)
    assert r.dtype == cgrad.int64 and r.numpy().min() == 3 and r.numpy().max() == 8
    n = cgrad.randn(100000, dtype=cgrad.float64)
    assert abs(n.numpy().mean()) < 0.02 and abs(n.numpy().std() - 1) < 0.02
    m = cgrad.normal(3.0, 2.0, (100000,))
    assert abs(m.numpy().mean() - 3) < 0.05 and abs(m.numpy().std() - 2) < 0.05
    t = cgrad.normal(cgrad.zeros(3), cgrad.ones(3))
    assert t.shape == (3,)
    assert cgrad.randn_like(n[:5]).dtype == cgrad.float64


def test_empty_tensors_work():
    torch = pytest.importorskip("torch")
    for L in (torch, cgrad):
        e = L.zeros(0, 3, requires_grad=True)
        y = (e * 2 + 1).exp().sum(0)
        assert tuple(y.shape) == (3,)
        y.sum().backward()
        assert tuple(e.grad.shape) == (0, 3)
        assert tuple(L.cat([e, L.ones(2, 3)]).shape) == (2, 3)
        assert tuple(e[1:].shape) == (0, 3) and tuple(e.T.shape) == (3, 0)
        assert tuple((e @ L.ones(3, 4)).shape) == (0, 4)
        assert L.zeros(0).sum().item() == 0


# ---- dtypes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b", [("float32", "float64"), ("int64", "float32"), ("int64", "int64"),
                                  ("bool", "float64"), ("bool", "int64")])
def test_promotion_matches_torch(a, b):
    torch = pytest.importorskip("torch")
    t = torch.ones(2, dtype=getattr(torch, a)) * torch.ones(2, dtype=getattr(torch, b))
    c = cgrad.ones(2, dtype=getattr(cgrad, a)) * cgrad.ones(2, dtype=getattr(cgrad, b))
    assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]


def test_conversions():
    x = cgrad.tensor([1.7, -2.2])
    assert x.double().dtype == cgrad.float64 and x.long().tolist() == [1, -2]
    assert x.to(cgrad.float64).to(cgrad.float32).tolist() == x.tolist()
    y = cgrad.tensor([1.5], requires_grad=True)
    y.double().sum().backward()
    assert y.grad.dtype == cgrad.float32 and y.grad.tolist() == [1.0]
    with pytest.raises(RuntimeError, match="floating point"):
        cgrad.tensor([1, 2], requires_grad=True)


def test_default_dtype():
    assert cgrad.get_default_dtype() == cgrad.float32
    cgrad.set_default_dtype(cgrad.float64)
    try:
        assert cgrad.tensor([1.0]).dtype == cgrad.float64
        assert cgrad.zeros(2).dtype == cgrad.float64
        assert (cgrad.tensor([1, 2]) * 0.5).dtype == cgrad.float64
    finally:
        cgrad.set_default_dtype(cgrad.float32)
    with pytest.raises(TypeError):
        cgrad.set_default_dtype(cgrad.int64)


# ---- DLPack ----------------------------------------------------------------------------------

def test_dlpack_round_trips_share_memory():
    torch = pytest.importorskip("torch")
    t = torch.arange(6.0).reshape(2, 3).t()
    c = cgrad.from_dlpack(t)
    assert c.tolist() == t.tolist() and c.stride() == t.stride()
    t[0, 0] = 42.0
    assert c[0, 0].item() == 42.0
    c2 = cgrad.arange(6).reshape(2, 3)
    back = torch.from_dlpack(c2)
    assert back.dtype == torch.int64 and back.tolist() == c2.tolist()
    back[1, 1] = -1
    assert c2[1, 1].item() == -1
    arr = np.from_dlpack(cgrad.ones(3, dtype=cgrad.float64))
    assert arr.dtype == np.float64 and arr.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(RuntimeError, match="require gradient"):
        cgrad.ones(2, requires_grad=True).__dlpack__()


def test_T_on_a_tensor_not_2d_warns_once_as_torch():
    torch = pytest.importorskip("torch")
    import warnings
    cgrad._C._T_WARNED.clear()
    for shape in [(2, 3, 4), (3,), ()]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = cgrad.ones(shape).T
            cgrad.ones(shape).T  # once per process, as PyTorch's
            cgrad.ones(2, 3).T   # a matrix: no warning
        assert tuple(got.shape) == tuple(reversed(shape))
        ours = [str(w.message) for w in caught]
        if shape == (3,):  # the same warning as for 3 dims: already given
            assert ours == []
            continue
        assert len(ours) == 1 and caught[0].category is UserWarning
        assert ours[0].startswith("Tensor.T is deprecated on 0-D" if shape == () else "The use of `x.T` on tensors")
        with warnings.catch_warnings(record=True) as theirs:
            warnings.simplefilter("always")
            torch.ones(shape).T
        if theirs:  # torch's too is given once per process: another test may have had it
            assert str(theirs[0].message).startswith(ours[0])


def test_a_bool_index_adds_a_dim_through_an_index_as_torch():
    """x[True], x[tensor(True)]: a new dim of size 1 (0 for False), a copy made
    by IndexBackward0 over UnsqueezeBackward0, not a view of x."""
    torch = pytest.importorskip("torch")

    def run(lib):
        out = []
        x = lib.arange(8.0).reshape(2, 2, 2)
        for idx in [True, False, lib.tensor(True), lib.tensor(False), (0, True), (lib.tensor(True), 1),
                    (Ellipsis, lib.tensor(True)), (slice(None), lib.tensor(False), 0), (None, True, 1),
                    (lib.tensor(True), lib.tensor([1, 0]))]:
            r = x[idx]
            out.append((tuple(r.shape), r.tolist()))
        y = lib.zeros(2, 2)
        y[lib.tensor(True)] = 5
        y[lib.tensor(False)] = 7
        y[True, 0] = 3
        out.append(y.tolist())
        y = lib.zeros(2, 2, requires_grad=True)
        r = (y * 1)[lib.tensor(True)]
        out.append((r.grad_fn.name(), [f.name() for f, _ in r.grad_fn.next_functions]))
        (r * lib.arange(4.0).reshape(1, 2, 2)).sum().backward()
        out.append(y.grad.tolist())
        x = lib.zeros(2)
        x[True][0, 0] = 9  # a copy: x keeps its zeros
        out.append(x.tolist())
        return out

    assert run(cgrad) == run(torch)
