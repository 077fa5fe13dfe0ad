"""as_strided and its family (csrc/ops_strided.c): views of a tensor's storage with a layout of the caller's
choosing, in place and as copies, as_strided_scatter and empty_strided. Values, layouts, gradients (overlapping
windows, stride 0, non-contiguous and expanded inputs, second order), views writing through, in-place ops on
them, node names and errors, against torch and finite differences."""
import numpy as np
import pytest

import cgrad
from helpers import assert_same_error, torch_or_skip

torch = pytest.importorskip("torch")


def np_of(t):
    return np.array(t.detach().numpy(), copy=True)


def layout(t):
    return tuple(t.shape), t.stride(), t.storage_offset()


# (base shape, how the input is made from the leaf, size, stride, storage offset)
CASES = [
    ((6,), lambda x: x, (4, 3), (1, 1), None),  # sliding windows: elements read up to 3 times
    ((6,), lambda x: x, (3, 2), (2, 1), 0),
    ((6,), lambda x: x, (2, 3, 2), (0, 1, 1), 1),  # stride 0 and overlap together
    ((6,), lambda x: x, (5,), (1,), 1),
    ((6,), lambda x: x, (), (), 5),  # one element, 0-d
    ((6,), lambda x: x, (0, 3), (1, 1), None),  # no elements
    ((6,), lambda x: x, (2, 2), (3, 1), 6 - 5),
    ((12,), lambda x: x.view(3, 4).t(), (2, 2), (4, 1), 1),  # a transposed input
    ((12,), lambda x: x.view(3, 4).t(), (4, 3), (1, 4), None),  # the input's own layout
    ((12,), lambda x: x[2:5], (6,), (1,), 0),  # reads storage the input does not hold
    ((12,), lambda x: x[2:5], (2, 2), (1, 1), None),
    ((12,), lambda x: x[::3], (3, 3), (3, 1), 0),
    ((3,), lambda x: x.expand(2, 3), (3,), (1,), 0),  # input elements share storage
    ((3,), lambda x: x[:, None].expand(3, 4), (2, 2), (1, 1), 0),
    ((2, 3, 4), lambda x: x.permute(2, 0, 1), (4, 2), (3, 5), 2),
    ((2, 3, 4), lambda x: x[:, 1], (3, 3), (1, 2), None),
    ((4, 5), lambda x: x[1:, 1:], (3, 2, 2), (5, 1, 5), 0),
]


def run_case(lib, data, prep, size, stride, offset, dtype="float64", copy=False):
    leaf = lib.tensor(data, dtype=getattr(lib, dtype), requires_grad=True)
    base = leaf * 1  # a non-leaf, so views of it may be written
    x = prep(base)
    if copy:
        y = lib.as_strided_copy(x, size, stride, offset)
    elif offset is None:
        y = x.as_strided(size, stride)
    else:
        y = lib.as_strided(x, size, stride, offset)
    up = lib.tensor(np.random.default_rng(1).standard_normal(tuple(y.shape)), dtype=y.dtype)
    (gx,) = lib.autograd.grad(y, x, up, retain_graph=True)
    (y * up).sum().backward()
    return y, gx, leaf.grad


@pytest.mark.parametrize("copy", [False, True])
@pytest.mark.parametrize("shape,prep,size,stride,offset", CASES)
def test_values_layouts_and_gradients(shape, prep, size, stride, offset, copy):
    data = np.random.default_rng(0).standard_normal(shape)
    y, gx, g = run_case(cgrad, data, prep, size, stride, offset, copy=copy)
    ty, tgx, tg = run_case(torch, data, prep, size, stride, offset, copy=copy)
    np.testing.assert_array_equal(np_of(y), np_of(ty))
    assert layout(y) == layout(ty)
    assert y.grad_fn.name() == ty.grad_fn.name()
    np.testing.assert_allclose(np_of(gx), np_of(tgx), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np_of(g), np_of(tg), rtol=1e-12, atol=1e-14)


def test_float32_sliding_windows():
    data = np.random.default_rng(2).standard_normal(9).astype(np.float32)
    for size, stride in [((7, 3), (1, 1)), ((4, 3), (2, 1)), ((3, 3), (3, 1))]:
        y, gx, g = run_case(cgrad, data, lambda x: x, size, stride, None, dtype="float32")
        ty, tgx, tg = run_case(torch, data, lambda x: x, size, stride, None, dtype="float32")
        assert y.dtype == cgrad.float32 and g.dtype == cgrad.float32
        np.testing.assert_array_equal(np_of(y), np_of(ty))
        np.testing.assert_allclose(np_of(g), np_of(tg), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_other_dtypes_view(dtype):
    ys = [lib.tensor([1, 0, 3, 0, 5, 6], dtype=getattr(lib, dtype)).as_strided((3, 2), (2, 1), 0)
          for lib in (cgrad, torch)]
    assert ys[0].dtype == getattr(cgrad, dtype)
    np.testing.assert_array_equal(np_of(ys[0]), np_of(ys[1]))


def test_sliding_window_idiom_gradcheck():
    x = cgrad.tensor(np.random.default_rng(3).standard_normal(7), requires_grad=True)
    k = 3
    assert cgrad.autograd.gradcheck(lambda t: (t.as_strided((7 - k + 1, k), (1, 1)) ** 2).sum(1), (x,))
    y = cgrad.tensor(np.random.default_rng(4).standard_normal((3, 4)), requires_grad=True)
    assert cgrad.autograd.gradcheck(lambda t: t.t().as_strided((3, 2), (1, 1), 2) * 1, (y,))
    assert cgrad.autograd.gradcheck(lambda t: t[1:].as_strided((2, 5), (0, 1)) * 1, (y,))


SECOND = [
    lambda lib, x: x.reshape(-1).as_strided((10, 3), (1, 1)),
    lambda lib, x: x.t().as_strided((3, 3), (1, 2), 1),
    lambda lib, x: x[:, 1:].as_strided((2, 2, 2), (0, 1, 4), 1),
    lambda lib, x: x[0].expand(2, 4).as_strided((3,), (1,), 0),
]


@pytest.mark.parametrize("k", range(len(SECOND)))
def test_second_order(k):
    """The gradient recorded with create_graph, and the gradient of that."""
    fn = SECOND[k]
    data = np.random.default_rng(7).uniform(-2.0, 2.0, (3, 4))
    results = []
    for lib in (cgrad, torch):
        x = lib.tensor(data, requires_grad=True)
        y = fn(lib, x)
        up = lib.tensor(np.random.default_rng(1).uniform(0.5, 1.5, tuple(y.shape)), requires_grad=True)
        (g,) = lib.autograd.grad((up * y * y).sum(), x, create_graph=True)
        v = lib.tensor(np.random.default_rng(2).standard_normal(data.shape))
        hx, hu = lib.autograd.grad((g * v).sum(), (x, up))
        results.append([np_of(g), np_of(hx), np_of(hu)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_create_graph_node_names():
    names = []
    for lib in (cgrad, torch):
        x = lib.arange(6.0, dtype=lib.float64, requires_grad=True)
        g = lib.ones(4, 3, dtype=lib.float64, requires_grad=True)
        (gx,) = lib.autograd.grad(x.as_strided((4, 3), (1, 1)), x, g, create_graph=True)
        names.append((gx.grad_fn.name(), [f.name() for f, _ in gx.grad_fn.next_functions]))
    assert names[0] == names[1]


# ---------------------------------------------------------------- views

def test_view_shares_storage_and_versions():
    x = cgrad.arange(6.0)
    y = x[1:].as_strided((2, 2), (1, 2))  # the offset defaults to the input's
    assert y.storage_offset() == 1 and y.data_ptr() == x.data_ptr() + 4
    v = x._version
    y.mul_(10)
    assert x.tolist() == [0.0, 10.0, 20.0, 30.0, 40.0, 5.0]
    assert x._version == v + 1 and y._version == x._version
    x[1] = -1
    assert y[0, 0].item() == -1


def test_view_of_leaf_refuses_in_place():
    for lib in (cgrad, torch):
        x = lib.arange(6.0, requires_grad=True)
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
            x.as_strided((2,), (2,)).mul_(2)
        with lib.no_grad():
            x.as_strided((2,), (2,)).mul_(2)
        assert x.tolist() == [0.0, 1.0, 4.0, 3.0, 4.0, 5.0]


def in_place_through_view(lib, data, size, stride, offset):
    x = lib.tensor(data, requires_grad=True)
    c = x * 1
    y = c[1:].as_strided(size, stride, offset)
    y.mul_(3)
    w = lib.tensor(np.arange(1.0, 1.0 + data.size).reshape(data.shape))
    ((c * w).sum() + (y * y).sum()).backward()
    return c, y, x.grad


@pytest.mark.parametrize("size,stride,offset", [((2, 2), (1, 2), 1), ((3,), (2,), 0), ((2, 1), (3, 5), 2)])
def test_in_place_through_view(size, stride, offset):
    data = np.random.default_rng(5).standard_normal(8)
    ours, theirs = in_place_through_view(cgrad, data, size, stride, offset), \
        in_place_through_view(torch, data, size, stride, offset)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np_of(a), np_of(b), rtol=1e-12, atol=1e-14)
    assert ours[0].grad_fn.name() == theirs[0].grad_fn.name() == "torch::autograd::CopySlices"


def test_view_made_before_base_changes():
    """A view made earlier sees, and differentiates through, a later in-place write into its base."""
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor(np.linspace(-1.0, 1.0, 6), requires_grad=True)
        c = x * 2
        y = c.as_strided((3, 2), (1, 1), 1)
        c.mul_(c.detach() + 1)
        (y * lib.arange(6.0, dtype=lib.float64).view(3, 2)).sum().backward()
        out.append((np_of(y), np_of(x.grad)))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- as_strided_

def in_place_layout(lib, data, on_view):
    x = lib.tensor(data, requires_grad=True)
    c = x * 2
    t = c[1:] if on_view else c
    v0 = t._version
    r = t.as_strided_((2, 2), (1, 2), 0 if on_view else 1)
    assert r is t and t._version == v0 + 1
    (t * lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64)).sum().backward()
    return t, x.grad, t.grad_fn.name(), t.grad_fn.next_functions[0][0].name()


@pytest.mark.parametrize("on_view", [False, True])
def test_as_strided_in_place(on_view):
    data = np.arange(6.0)
    t, g, name, prev = in_place_layout(cgrad, data, on_view)
    tt, tg, tname, tprev = in_place_layout(torch, data, on_view)
    assert layout(t) == layout(tt) and (name, prev) == (tname, tprev) == ("AsStridedBackward1", prev)
    np.testing.assert_array_equal(np_of(t), np_of(tt))
    np.testing.assert_array_equal(np_of(g), np_of(tg))


def test_as_strided_in_place_plain_and_leaf():
    p = cgrad.arange(6.0)
    assert p.as_strided_((3,), (2,)) is p and p.tolist() == [0.0, 2.0, 4.0] and p.numel() == 3
    assert p.as_strided_((2, 3), (3, 1)).tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert_same_error(lambda lib: lib.arange(6.0, requires_grad=True).as_strided_((2,), (1,)))
    x = cgrad.arange(6.0, requires_grad=True)
    with cgrad.no_grad():
        x.as_strided_((2, 2), (1, 2))
    assert x.is_leaf and x.requires_grad and x.tolist() == [[0.0, 2.0], [1.0, 3.0]]
    (x * 1).sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]


# ---------------------------------------------------------------- as_strided_scatter

SCATTERS = [  # (how the input is made from arange(12), size, stride, offset)
    (lambda x: x, (2, 2), (1, 2), 1),
    (lambda x: x, (2, 2), (1, 1), None),  # overlapping region: the last write stays
    (lambda x: x, (4, 3), (1, 1), 0),
    (lambda x: x, (), (), 11),
    (lambda x: x, (0, 2), (1, 1), 3),
    (lambda x: x[2:6], (2,), (1,), 0),  # outside the input: only the storage changes
    (lambda x: x[2:6], (2,), (1,), None),
    (lambda x: x.view(3, 4).t(), (2,), (4,), 1),
    (lambda x: x.view(3, 4).t()[1:3], (2, 2), (1, 4), 0),
    (lambda x: x[:6].as_strided((4, 3), (1, 1)), (2,), (1,), 1),  # an input with overlapping windows
    (lambda x: x[:3].expand(2, 3), (2,), (1,), 4),  # an expanded input: a contiguous copy is written
    (lambda x: x[:3, None].expand(3, 2), (6,), (1,), 0),
]


def storage_positions(size, stride, offset):
    """The storage elements a layout reaches, in its logical order."""
    grids = np.meshgrid(*[np.arange(n) * s for n, s in zip(size, stride)], indexing="ij")
    return [int(p) + offset for p in (sum(grids) if grids else np.zeros(())).ravel()]


def scatter_case(lib, prep, size, stride, offset, method):
    x = prep(lib.arange(12.0, dtype=lib.float64))
    n = int(np.prod(size)) if size else 1
    src = lib.tensor(-np.arange(1.0, n + 1).reshape(size), dtype=lib.float64, requires_grad=True)
    if method:
        r = x.as_strided_scatter(src, size, stride) if offset is None else x.as_strided_scatter(src, size, stride,
                                                                                                   offset)
    else:
        r = lib.as_strided_scatter(x, src, size, stride, offset)
    whole = r.as_strided((r.storage_offset() + r.numel(),), (1,), 0) if r.is_contiguous() else None
    return r, whole, src


@pytest.mark.parametrize("method", [False, True])
@pytest.mark.parametrize("prep,size,stride,offset", SCATTERS)
def test_scatter_values_and_layouts(prep, size, stride, offset, method):
    r, whole, src = scatter_case(cgrad, prep, size, stride, offset, method)
    tr, twhole, tsrc = scatter_case(torch, prep, size, stride, offset, method)
    np.testing.assert_array_equal(np_of(r), np_of(tr))
    assert layout(r) == layout(tr)
    assert r._base is None if hasattr(r, "_base") else True
    if whole is not None:
        np.testing.assert_array_equal(np_of(whole), np_of(twhole))
    assert r.grad_fn.name() == tr.grad_fn.name() == "AsStridedScatterBackward0"


@pytest.mark.parametrize("prep,size,stride,offset", SCATTERS)
def test_scatter_src_gradient(prep, size, stride, offset):
    """Each src element gets the gradient of the result's elements on the storage element it wrote (summed
    where the result's elements share one), if its write stayed. Checked with finite differences everywhere;
    with torch where its gradient is right: it reads the gradient as if laid out contiguously from the
    storage's start, right for contiguous inputs only, and gives every write of an overlapping region the
    gradient, though only the last one stays."""
    r, _, src = scatter_case(cgrad, prep, size, stride, offset, False)
    base = prep(cgrad.arange(12.0, dtype=cgrad.float64))
    assert cgrad.autograd.gradcheck(lambda s: cgrad.as_strided_scatter(base, s, size, stride, offset) * 1,
                                    (src.detach().requires_grad_(),))
    written = storage_positions(size, stride, base.storage_offset() if offset is None else offset)
    inside = set(written) <= set(storage_positions(tuple(base.shape), base.stride(), base.storage_offset()))
    if base.is_contiguous() and inside and len(set(written)) == len(written):
        up = np.random.default_rng(2).standard_normal(tuple(r.shape))
        (g,) = cgrad.autograd.grad(r, src, cgrad.tensor(up))
        tr, _, tsrc = scatter_case(torch, prep, size, stride, offset, False)
        (tg,) = torch.autograd.grad(tr, tsrc, torch.tensor(up))
        np.testing.assert_allclose(np_of(g), np_of(tg), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("size,stride,offset", [((2, 2), (1, 2), 1), ((2,), (1,), 1), ((3, 2), (1, 3), 0),
                                                ((2, 2), (1, 1), 2), ((4,), (1,), 0)])
def test_scatter_input_gradient(size, stride, offset):
    """The input's gradient is zero where src overwrote it: finite differences, and slice_scatter's in torch.
    (torch 2.13's as_strided_scatter gives the input the gradient of the overwritten region instead, which
    its own gradcheck rejects.)"""
    x = cgrad.tensor(np.random.default_rng(3).standard_normal(6), requires_grad=True)
    src = cgrad.tensor(np.random.default_rng(4).standard_normal(size), requires_grad=True)
    assert cgrad.autograd.gradcheck(lambda a, s: cgrad.as_strided_scatter(a, s, size, stride, offset), (x, src))
    if len(size) == 1 and stride == (1,):
        up = np.random.default_rng(5).standard_normal(6)
        (g,) = cgrad.autograd.grad(cgrad.as_strided_scatter(x, src, size, stride, offset), x, cgrad.tensor(up))
        tx = torch.tensor(x.detach().numpy(), requires_grad=True)
        ts = torch.tensor(src.detach().numpy())
        (tg,) = torch.autograd.grad(torch.slice_scatter(tx, ts, 0, offset, offset + size[0]), tx, torch.tensor(up))
        np.testing.assert_array_equal(np_of(g), np_of(tg))


def test_scatter_of_offset_input_gradient():
    """A contiguous input not at its storage's start, the region partly outside it."""
    leaf = cgrad.tensor(np.arange(6.0), requires_grad=True)
    x = (leaf * 1)[1:4]
    src = cgrad.tensor([5.0, 6.0, 7.0], requires_grad=True)
    r = cgrad.as_strided_scatter(x, src, (3,), (1,), 2)
    assert r.tolist() == [1.0, 5.0, 6.0] and layout(r) == ((3,), (1,), 1)
    gl, gs = cgrad.autograd.grad(r, (leaf, src), cgrad.tensor([1.0, 2.0, 3.0]))
    assert gl.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, 0.0] and gs.tolist() == [2.0, 3.0, 0.0]


def test_scatter_second_order():
    x = cgrad.tensor(np.random.default_rng(6).standard_normal(6), requires_grad=True)
    src = cgrad.tensor(np.random.default_rng(7).standard_normal((2, 2)), requires_grad=True)
    assert cgrad.autograd.gradgradcheck(lambda a, s: cgrad.as_strided_scatter(a, s, (2, 2), (1, 2), 1) ** 2,
                                        (x, src))


def test_scatter_dtypes_and_requires_grad_errors():
    for lib in (cgrad, torch):
        r = lib.as_strided_scatter(lib.zeros(6, dtype=lib.int64), lib.ones(2, 2), (2, 2), (1, 2))
        assert r.dtype == lib.int64 and r.tolist() == [1, 1, 1, 1, 0, 0]
        r = lib.as_strided_scatter(lib.zeros(6, dtype=lib.float64), lib.ones(2, dtype=lib.float32), (2,), (2,))
        assert r.dtype == lib.float64
    with pytest.raises(RuntimeError, match="as_strided_scatter is currently only supported for contiguous inputs"):
        cgrad.as_strided_scatter((cgrad.ones(3, 4, requires_grad=True) * 1).t(), cgrad.ones(2), (2,), (1,))
    for lib in (cgrad, torch):  # not recorded: no error
        with lib.no_grad():
            lib.as_strided_scatter((lib.ones(3, 4, requires_grad=True) * 1).t(), lib.ones(2), (2,), (1,))


# ---------------------------------------------------------------- empty_strided

@pytest.mark.parametrize("size,stride", [((2, 3), (1, 2)), ((2, 3), (0, 0)), ((2, 3), (5, 2)), ((2, 0), (5, 2)),
                                         ((), ()), ((4,), (3,))])
def test_empty_strided(size, stride):
    for dtype in ("float32", "float64", "int64", "bool"):
        e = cgrad.empty_strided(size, stride, dtype=getattr(cgrad, dtype))
        te = torch.empty_strided(size, stride, dtype=getattr(torch, dtype))
        assert layout(e) == layout(te) and e.dtype == getattr(cgrad, dtype) and e._base is None \
            if hasattr(e, "_base") else True
        n = te.untyped_storage().nbytes() // te.element_size()
        e.as_strided((n,), (1,), 0)  # the storage holds exactly what the layout reaches
        assert_same_error(lambda lib: lib.empty_strided(size, stride, dtype=getattr(lib, dtype))
                          .as_strided((n + 1,), (1,), 0))
    x = cgrad.ones(2, dtype=cgrad.float64)
    e = x.new_empty_strided(size, stride)
    assert e.dtype == cgrad.float64 and layout(e) == layout(torch.empty_strided(size, stride))
    assert x.new_empty_strided(size, stride, dtype=cgrad.int64).dtype == cgrad.int64
    r = cgrad.empty_strided(size, stride, dtype=cgrad.float64, requires_grad=True)
    assert r.requires_grad and r.is_leaf


def test_empty_strided_written_and_used():
    e = cgrad.empty_strided((2, 3), (1, 2)).fill_(2.0)
    assert e.tolist() == [[2.0] * 3] * 2 and not e.is_contiguous()
    x = cgrad.empty_strided((2, 3), (1, 2), dtype=cgrad.float64, requires_grad=True)
    with cgrad.no_grad():
        x.copy_(cgrad.arange(6.0).view(2, 3))
    (x * x).sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]


# ---------------------------------------------------------------- errors

ERRORS = [
    lambda lib: lib.arange(6.0).as_strided((4, 3), (1, 2)),  # past the storage's end
    lambda lib: lib.arange(6.0).as_strided((2,), (1,), 5),
    lambda lib: lib.arange(6.0)[2:].as_strided((5,), (1,)),
    lambda lib: lib.arange(6.0).as_strided((), (), 6),
    lambda lib: lib.arange(6.0, dtype=lib.float64).as_strided((3,), (3,)),
    lambda lib: lib.arange(6.0).as_strided((2,), (-1,)),
    lambda lib: lib.arange(6.0).as_strided((3,), (-1, 2)),
    lambda lib: lib.arange(6.0).as_strided((-3,), (-1,)),
    lambda lib: lib.arange(6.0).as_strided((-2,), (1,)),
    lambda lib: lib.arange(6.0).as_strided((2, -1), (1, 1)),
    lambda lib: lib.arange(6.0).as_strided((-3,), (1,), -1),
    lambda lib: lib.arange(6.0).as_strided((2, 3), (1,)),
    lambda lib: lib.arange(6.0).as_strided((3, 2), (-1,), -1),
    lambda lib: lib.arange(6.0).as_strided((2,), (1,), -1),
    lambda lib: lib.arange(6.0).as_strided((2 ** 62, 2 ** 62), (1, 1)),
    lambda lib: lib.arange(6.0).as_strided((2 ** 40,), (2 ** 40,)),
    lambda lib: lib.arange(6.0).as_strided((3,), (1,), 2 ** 62),
    lambda lib: lib.arange(6.0).as_strided(3, 1),
    lambda lib: lib.arange(6.0).as_strided((3,), 1),
    lambda lib: lib.arange(6.0).as_strided((3.0,), (1,)),
    lambda lib: lib.arange(6.0).as_strided((3,), (1.0,)),
    lambda lib: lib.arange(6.0).as_strided((3,), (1,), 1.0),
    lambda lib: lib.arange(6.0).as_strided_(3, (1,)),
    lambda lib: lib.arange(6.0).as_strided_((7,), (1,)),
    lambda lib: lib.as_strided(lib.arange(6.0), 3, (1,)),
    lambda lib: lib.as_strided(lib.arange(6.0), (3,), 1),
    lambda lib: lib.as_strided(lib.arange(6.0), (3,), (1,), 1.5),
    lambda lib: lib.as_strided(3, (3,), (1,)),
    lambda lib: lib.as_strided_copy(lib.arange(6.0), 3, (1,)),
    lambda lib: lib.as_strided_copy(lib.arange(6.0), (4, 3), (1, 1), 1),
    lambda lib: lib.as_strided_scatter(lib.zeros(6), lib.ones(2, 3), (2, 2), (1, 2)),
    lambda lib: lib.as_strided_scatter(lib.zeros(6), lib.ones(2), (2, 2), (1, 2)),
    lambda lib: lib.as_strided_scatter(lib.zeros(6), lib.ones(()), (2, 2), (1, 2)),
    lambda lib: lib.as_strided_scatter(lib.zeros(6), lib.ones(2, 3), (2, 2), (-1, 2)),
    lambda lib: lib.as_strided_scatter(lib.zeros(6), lib.ones(2, 3), (2, 2), (1, 9)),
    lambda lib: lib.as_strided_scatter(lib.zeros(6), lib.ones(2, 3), (2, 2), (1, 1), -1),
    lambda lib: lib.as_strided_scatter(lib.zeros(6), lib.ones(2, 3), (2, 2), (1,)),
    lambda lib: lib.as_strided_scatter(lib.zeros(6), lib.ones(2, 2), (2, 2), (0, 1)),
    lambda lib: lib.as_strided_scatter(lib.zeros(6), 3, (3,), (1,)),
    lambda lib: lib.as_strided_scatter(lib.zeros(6), lib.ones(3), 3, (1,)),
    lambda lib: lib.as_strided_scatter(lib.arange(3.0).expand(2, 3), lib.ones(7), (7,), (1,), 0),
    lambda lib: lib.zeros(6).as_strided_scatter(lib.ones(2), (2,), (1,), 5),
    lambda lib: lib.empty_strided((2, 3), (-1, 2)),
    lambda lib: lib.empty_strided((2, -3), (1, 2)),
    lambda lib: lib.empty_strided((-1, 0), (1, 1)),
    lambda lib: lib.empty_strided((2, 3), (1,)),
    lambda lib: lib.empty_strided(3, (1,)),
    lambda lib: lib.empty_strided((3,), 1),
    lambda lib: lib.empty_strided((2 ** 40,), (2 ** 40,)),
    lambda lib: lib.empty_strided((2, 3), (1, 2), dtype=lib.int64, requires_grad=True),
    lambda lib: lib.zeros(2).new_empty_strided(3, (1,)),
    lambda lib: lib.zeros(2).new_empty_strided((3,), (1, 1)),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors(k):
    assert_same_error(ERRORS[k])


def test_negative_size_beside_a_zero_size():
    """torch makes a tensor of negative size here; cgrad raises its error for a negative size."""
    with pytest.raises(RuntimeError, match="Storage size calculation overflowed with sizes=\\[0, -1\\]"):
        cgrad.arange(6.0).as_strided((0, -1), (1, 1))


def test_too_many_dims():
    with pytest.raises(RuntimeError, match="at most 8 dimensions"):
        cgrad.arange(6.0).as_strided((1,) * 9, (1,) * 9)
