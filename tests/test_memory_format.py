"""Memory formats (csrc/memory_format.c): cgrad.contiguous_format, preserve_format, channels_last and
channels_last_3d, and the memory_format= of contiguous, is_contiguous, clone, to, empty, the *_like
factories, resize_, nn.Module.to and nn.utils; dim_order. Strides, values, gradients (and the strides of
.grad), node names and errors, against torch."""
import pickle
import random

import numpy as np
import pytest

import cgrad
from helpers import assert_same_error, raises_like_torch

torch = pytest.importorskip("torch")

FORMATS = ("contiguous_format", "preserve_format", "channels_last", "channels_last_3d")


def pair(shape, strides, dtype="float64", offset=0):
    """The same layout over the same values in torch and cgrad."""
    n = 1 + offset + sum((s - 1) * st for s, st in zip(shape, strides)) if 0 not in shape else 1
    base = np.random.default_rng(len(shape) * 7 + sum(strides)).standard_normal(max(n, 1))
    tb, cb = torch.tensor(base, dtype=getattr(torch, dtype)), cgrad.tensor(base, dtype=getattr(cgrad, dtype))
    return tb.as_strided(shape, strides, offset), cb.as_strided(shape, strides, offset)


def random_layouts(count, seed, ndims=(1, 2, 3, 4, 5)):
    """(shape, strides): permuted dense layouts, with gaps, broadcast dims and odd strides of size-1 dims."""
    rng = random.Random(seed)
    for _ in range(count):
        n = rng.choice(ndims)
        shape = [rng.choice([1, 2, 3, 4]) for _ in range(n)]
        if rng.random() < 0.05:
            shape[rng.randrange(n)] = 0
        if rng.random() < 0.6:
            order = list(range(n))
            rng.shuffle(order)
            strides, step = [0] * n, 1
            for d in reversed(order):
                strides[d] = step
                step *= max(shape[d], 1) * rng.choice([1, 1, 2])
            for d in range(n):
                if rng.random() < 0.1:
                    strides[d] = 0
                if shape[d] == 1 and rng.random() < 0.5:
                    strides[d] = rng.choice([1, 2, 7, 100])
        else:
            strides = [rng.choice([0, 1, 2, 3, 4, 6, 12, 24]) for _ in range(n)]
        yield tuple(shape), tuple(strides)


def same(c, t):
    assert tuple(c.shape) == tuple(t.shape) and c.stride() == t.stride(), (c.stride(), t.stride())
    np.testing.assert_array_equal(c.detach().numpy(), t.detach().numpy())


# ---- the objects ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FORMATS)
def test_objects_are_torchs(name):
    f = getattr(cgrad, name)
    assert repr(f) == repr(getattr(torch, name)).replace("torch.", "cgrad.") == f"cgrad.{name}"
    assert type(f) is cgrad.memory_format
    assert pickle.loads(pickle.dumps(f)) is f
    assert f == f and f != (cgrad.channels_last if f is not cgrad.channels_last else cgrad.contiguous_format)


def test_type_cannot_be_instantiated():
    raises_like_torch(lambda: cgrad.memory_format(), lambda: torch.memory_format())
    assert cgrad.legacy_contiguous_format is cgrad.contiguous_format


# ---- is_contiguous and contiguous -----------------------------------------------------------------

def test_is_contiguous_in_each_format():
    for shape, strides in random_layouts(400, 1, ndims=(3, 4, 5)):
        t, c = pair(shape, strides)
        for name in FORMATS:
            want = t.is_contiguous(memory_format=getattr(torch, name))
            assert c.is_contiguous(memory_format=getattr(cgrad, name)) == want, (shape, strides, name)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 1, 4, 1), (1, 3, 1, 1), (2, 3, 4, 5, 6), (3, 1, 2, 1, 2),
                                   (0, 3, 2, 2)])
@pytest.mark.parametrize("name", ["contiguous_format", "channels_last", "channels_last_3d"])
def test_contiguous_strides_values_and_node(shape, name):
    t = torch.randn(shape, dtype=torch.float64)
    c = cgrad.tensor(t.numpy())
    if (name == "channels_last") != (len(shape) == 4) and name != "contiguous_format":
        assert_same_error(lambda lib: lib.zeros(shape).contiguous(memory_format=getattr(lib, name)))
        return
    tr, cr = t.requires_grad_(), c.requires_grad_()
    ty, cy = tr.contiguous(memory_format=getattr(torch, name)), cr.contiguous(memory_format=getattr(cgrad, name))
    same(cy, ty)
    assert (cy is cr) == (ty is tr)
    assert (cy.grad_fn and cy.grad_fn.name()) == (ty.grad_fn and ty.grad_fn.name())
    # already in the format: the tensor itself
    assert cy.contiguous(memory_format=getattr(cgrad, name)) is cy


def test_contiguous_errors():
    for fn in [lambda lib: lib.zeros(2, 3).t().contiguous(memory_format=lib.preserve_format),
               lambda lib: lib.zeros(2, 3, 4).contiguous(memory_format=lib.channels_last),
               lambda lib: lib.zeros(2, 3, 4, 5).clone(memory_format=lib.channels_last_3d),
               lambda lib: lib.empty(2, 3, memory_format=lib.preserve_format),
               lambda lib: lib.empty(2, 3, memory_format=lib.channels_last),
               lambda lib: lib.zeros_like(lib.zeros(2, 3), memory_format=lib.channels_last),
               lambda lib: lib.zeros(2, 3).to(lib.float64, memory_format=lib.channels_last)]:
        assert_same_error(fn)
    assert cgrad.zeros(2, 3).contiguous(memory_format=cgrad.preserve_format).stride() == (3, 1)
    for fn, name in [(lambda lib: lib.zeros(2).contiguous(memory_format=None), "contiguous"),
                     (lambda lib: lib.zeros(2).is_contiguous(memory_format="x"), "is_contiguous"),
                     (lambda lib: lib.zeros(2).clone(memory_format=1), "clone"),
                     (lambda lib: lib.empty(2, memory_format="a"), "empty"),
                     (lambda lib: lib.empty_like(lib.zeros(2), memory_format="a"), "empty_like")]:
        raises_like_torch(lambda: fn(cgrad), lambda: fn(torch))
    with pytest.raises(TypeError, match=r"^to\(\) received an invalid combination of arguments - got "
                                        r"\(memory_format=str, \)"):
        cgrad.zeros(2).to(memory_format="channels_last")


# ---- clone, to and the *_like factories: preserve_format --------------------------------------------

def test_preserve_format_follows_torch():
    """Dense layouts keep their strides; others take the order their strides suggest."""
    for shape, strides in random_layouts(300, 2):
        t, c = pair(shape, strides)
        want = t.clone().stride()
        same(c.clone(), t.clone())
        assert cgrad.clone(c).stride() == want
        assert c.to(cgrad.float32).stride() == t.to(torch.float32).stride() == want
        assert cgrad.empty_like(c).stride() == want
        for make in ("zeros_like", "ones_like"):
            same(getattr(cgrad, make)(c), getattr(torch, make)(t))
        same(cgrad.full_like(c, 2.5), torch.full_like(t, 2.5))
        for make in ("rand_like", "randn_like"):
            assert getattr(cgrad, make)(c).stride() == want
        assert cgrad.randint_like(c, 3).stride() == want


@pytest.mark.parametrize("name", FORMATS[:1] + FORMATS[2:])
def test_clone_to_and_like_in_a_format(name):
    shape = (2, 3, 4, 5, 2) if name == "channels_last_3d" else (2, 3, 4, 5)
    t, c = pair(shape, torch.empty(shape).permute(*reversed(range(len(shape)))).stride()[::-1])
    tf, cf = getattr(torch, name), getattr(cgrad, name)
    same(c.clone(memory_format=cf), t.clone(memory_format=tf))
    same(cgrad.clone(c, memory_format=cf), torch.clone(t, memory_format=tf))
    same(c.to(cgrad.float32, memory_format=cf), t.to(torch.float32, memory_format=tf))
    same(c.to(memory_format=cf), t.to(memory_format=tf))
    same(c.float(memory_format=cf), t.float(memory_format=tf))
    same(c.cpu(memory_format=cf), t.cpu(memory_format=tf))
    assert cgrad.empty(*shape, memory_format=cf).stride() == torch.empty(*shape, memory_format=tf).stride()
    for make in ("zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"):
        assert getattr(cgrad, make)(c, memory_format=cf).stride() == getattr(torch, make)(t, memory_format=tf).stride()
    same(cgrad.full_like(c, 3, memory_format=cf), torch.full_like(t, 3, memory_format=tf))
    same(cgrad.ones_like(c, memory_format=cf, dtype=cgrad.int64), torch.ones_like(t, memory_format=tf,
                                                                                  dtype=torch.int64))
    r = cgrad.randn_like(c, memory_format=cf, requires_grad=True)
    assert r.is_leaf and r.requires_grad and r.is_contiguous(memory_format=cf)


def test_to_returns_self_or_a_copy_as_torch():
    t = torch.randn(2, 3, 4, 5, requires_grad=True)
    c = cgrad.tensor(t.detach().numpy(), requires_grad=True)
    for kwargs in [{}, {"memory_format": "channels_last"}, {"memory_format": "contiguous_format"},
                   {"memory_format": "preserve_format"}, {"copy": True},
                   {"copy": True, "memory_format": "contiguous_format"}]:
        for tx, cx in [(t, c), (t.contiguous(memory_format=torch.channels_last),
                                c.contiguous(memory_format=cgrad.channels_last))]:
            tk = {k: getattr(torch, v) if k == "memory_format" else v for k, v in kwargs.items()}
            ck = {k: getattr(cgrad, v) if k == "memory_format" else v for k, v in kwargs.items()}
            ty, cy = tx.to(torch.float32, **tk), cx.to(cgrad.float32, **ck)
            same(cy, ty)
            assert (cy is cx) == (ty is tx), kwargs
            assert (cy.grad_fn and cy.grad_fn.name()) == (ty.grad_fn and ty.grad_fn.name()), kwargs


# ---- gradients ------------------------------------------------------------------------------------

LEAVES = [  # (shape, strides): channels-last, permuted dense, sliced (not dense), expanded-like size-1 dims
    ((2, 3, 4, 5), (60, 1, 15, 3)), ((4, 3), (1, 4)), ((2, 3, 4), (1, 8, 2)), ((3, 4), (8, 2)),
    ((2, 3, 4, 5, 2), (120, 1, 30, 6, 3)), ((2, 3, 1, 5), (15, 5, 5, 1)),
]


@pytest.mark.parametrize("shape, strides", LEAVES)
@pytest.mark.filterwarnings(r"ignore:Using backward\(\) with create_graph=True")
def test_grad_of_a_leaf_is_laid_out_as_torch(shape, strides):
    t, c = pair(shape, strides)
    t, c = t.detach().requires_grad_(), c.detach().requires_grad_()
    w = np.random.default_rng(0).standard_normal(shape)
    (t * torch.tensor(w)).sum().backward()
    (c * cgrad.tensor(w)).sum().backward()
    same(c.grad, t.grad)
    # the first gradient given as is: copied into the leaf's layout unless already in it
    t2, c2 = t.detach().clone().requires_grad_(), c.detach().clone().requires_grad_()
    t2.backward(torch.tensor(w)), c2.backward(cgrad.tensor(w))
    same(c2.grad, t2.grad)
    # with create_graph the first gradient is a copy in the same layout
    t3, c3 = t.detach().clone().requires_grad_(), c.detach().clone().requires_grad_()
    (t3 * 2).sum().backward(create_graph=True)
    (c3 * 2).sum().backward(create_graph=True)
    same(c3.grad, t3.grad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradients_through_format_changes(dtype):
    t = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    c = cgrad.tensor(t.detach().numpy(), requires_grad=True)
    g = torch.randn(2, 3, 4, 5, dtype=getattr(torch, dtype)).contiguous(memory_format=torch.channels_last)
    cg = cgrad.tensor(g.numpy()).contiguous(memory_format=cgrad.channels_last)
    for tfn, cfn in [(lambda x: x.to(torch.float32 if dtype == "float32" else torch.float64,
                                     memory_format=torch.channels_last),
                      lambda x: x.to(getattr(cgrad, dtype), memory_format=cgrad.channels_last)),
                     (lambda x: x.contiguous(memory_format=torch.channels_last),
                      lambda x: x.contiguous(memory_format=cgrad.channels_last)),
                     (lambda x: x.clone(memory_format=torch.channels_last),
                      lambda x: x.clone(memory_format=cgrad.channels_last))]:
        ty, cy = tfn(t), cfn(c)
        if ty.dtype != g.dtype:
            continue
        assert cy.grad_fn.name() == ty.grad_fn.name()
        tg, = torch.autograd.grad(ty, t, g)
        cgr, = cgrad.autograd.grad(cy, c, cg)
        same(cgr, tg)


# ---- convolutions and pooling read any layout -----------------------------------------------------

def test_conv_and_pool_on_channels_last_inputs():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    tx = torch.tensor(x).contiguous(memory_format=torch.channels_last).requires_grad_()
    cx = cgrad.tensor(x).contiguous(memory_format=cgrad.channels_last).requires_grad_()
    tw = torch.tensor(w).contiguous(memory_format=torch.channels_last).requires_grad_()
    cw = cgrad.tensor(w).contiguous(memory_format=cgrad.channels_last).requires_grad_()
    for op in [lambda F, x, w: F.conv2d(x, w, padding=1), lambda F, x, w: F.max_pool2d(x, 2),
               lambda F, x, w: F.avg_pool2d(x, 3, 1)]:
        tx.grad = tw.grad = cx.grad = cw.grad = None
        ty, cy = op(torch.nn.functional, tx, tw), op(cgrad.nn.functional, cx, cw)
        np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        ty.square().sum().backward()
        cy.square().sum().backward()
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
        assert cx.grad.stride() == tx.grad.stride()
        if tw.grad is not None:
            np.testing.assert_allclose(cw.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
            assert cw.grad.stride() == tw.grad.stride()


# ---- modules ----------------------------------------------------------------------------------------

def _layouts(m):
    return [(n, p.dtype.__repr__().split(".")[1], p.stride()) for n, p in m.named_parameters()] + [
        (n, b.stride()) for n, b in m.named_buffers()]


@pytest.mark.parametrize("make, args", [
    (lambda nn: nn.Conv2d(3, 4, 3), {"memory_format": "channels_last"}),
    (lambda nn: nn.Conv3d(3, 4, 3), {"memory_format": "channels_last_3d"}),
    (lambda nn: nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2)),
     {"memory_format": "channels_last", "dtype": "float64"}),
    (lambda nn: nn.Linear(3, 4), {"memory_format": "channels_last_3d"}),
    (lambda nn: nn.Conv2d(3, 4, 3), {"memory_format": "preserve_format"}),
    (lambda nn: nn.Conv3d(3, 4, 3), {"memory_format": "channels_last"}),
    (lambda nn: nn.Conv2d(3, 4, 3), {"memory_format": "channels_last_3d"}),
])
def test_module_to(make, args):
    tm, cm = make(torch.nn), make(cgrad.nn)
    tk = {k: getattr(torch, v) for k, v in args.items()}
    ck = {k: getattr(cgrad, v) for k, v in args.items()}
    try:
        tm.to(**tk)
    except RuntimeError:
        raises_like_torch(lambda: cm.to(**ck), lambda: make(torch.nn).to(**tk))
        return
    first = next(cm.parameters())
    first.grad = cgrad.zeros_like(first)
    assert cm.to(**ck) is cm and next(cm.parameters()) is first
    assert _layouts(cm) == _layouts(tm)
    assert first.grad.stride() == first.stride()
    assert cm.to(memory_format=cgrad.contiguous_format) is cm and all(p.is_contiguous() for p in cm.parameters())


def test_convert_conv_weight_memory_format():
    def make(nn):
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ConvTranspose2d(4, 2, 3), nn.Linear(2, 2), nn.Conv3d(2, 2, 1),
                             nn.Sequential(nn.Conv2d(2, 2, 1)))
    tm, cm = make(torch.nn), make(cgrad.nn)
    w = cm[0].weight
    assert cgrad.nn.utils.convert_conv2d_weight_memory_format(cm, cgrad.channels_last) is cm
    torch.nn.utils.convert_conv2d_weight_memory_format(tm, torch.channels_last)
    assert cm[0].weight is w and _layouts(cm) == _layouts(tm)
    cgrad.nn.utils.convert_conv3d_weight_memory_format(cm, cgrad.channels_last_3d)
    torch.nn.utils.convert_conv3d_weight_memory_format(tm, torch.channels_last_3d)
    assert _layouts(cm) == _layouts(tm)
    for name in ("channels_last_3d", "preserve_format"):
        raises_like_torch(
            lambda: cgrad.nn.utils.convert_conv2d_weight_memory_format(make(cgrad.nn), getattr(cgrad, name)),
            lambda: torch.nn.utils.convert_conv2d_weight_memory_format(make(torch.nn), getattr(torch, name)))


# ---- dim_order, resize_, make_tensor ----------------------------------------------------------------

def test_dim_order():
    for shape, strides in random_layouts(400, 3):
        t, c = pair(shape, strides)
        try:
            t.dim_order(ambiguity_check=True)
        except RuntimeError:
            assert sorted(c.dim_order()) == list(range(len(shape)))  # several orders fit: one of them
            continue
        assert c.dim_order() == t.dim_order(), (shape, strides)
    assert cgrad.empty(2, 3, 5, 7, memory_format=cgrad.channels_last).dim_order() == (0, 2, 3, 1)
    assert cgrad.empty(2, 3, 5, 7).transpose(1, 2).dim_order() == (0, 2, 1, 3)
    raises_like_torch(lambda: cgrad.zeros(2).dim_order(ambiguity_check="ILLEGAL"),
                      lambda: torch.zeros(2).dim_order(ambiguity_check="ILLEGAL"))
    with pytest.raises(NotImplementedError, match="ambiguity_check"):
        cgrad.zeros(2).dim_order(ambiguity_check=True)


@pytest.mark.parametrize("sizes", [(2, 3, 4, 5), (2, 3, 4, 6), (1, 3, 2, 5)])
def test_resize_in_a_format(sizes):
    x = np.arange(120.0).reshape(2, 3, 4, 5)
    t = torch.tensor(x).resize_(*sizes, memory_format=torch.channels_last)
    c = cgrad.tensor(x).resize_(*sizes, memory_format=cgrad.channels_last)
    assert c.stride() == t.stride()
    n = min(120, int(np.prod(sizes)))  # the elements, in memory order, as far as the old ones go
    np.testing.assert_array_equal(c.permute(0, 2, 3, 1).numpy().ravel()[:n], t.permute(0, 2, 3, 1).numpy().ravel()[:n])
    template = torch.empty(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    ct = cgrad.empty(2, 3, 4, 5).contiguous(memory_format=cgrad.channels_last)
    for mf in ("preserve_format", "channels_last", "contiguous_format"):
        same(cgrad.tensor(x).resize_as_(ct, memory_format=getattr(cgrad, mf)),
             torch.tensor(x).resize_as_(template, memory_format=getattr(torch, mf)))
    for fn in [lambda lib: lib.zeros(2, 3).resize_(2, 3, memory_format=lib.preserve_format),
               lambda lib: lib.zeros(2, 3).resize_(2, 3, memory_format=lib.channels_last)]:
        assert_same_error(fn)


def test_make_tensor_in_a_format():
    t = cgrad.testing.make_tensor(2, 3, 4, 5, dtype=cgrad.float32, device="cpu", memory_format=cgrad.channels_last,
                                  requires_grad=True)
    assert t.stride() == (60, 1, 15, 3) and t.is_leaf and t.requires_grad
    with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last format"):
        cgrad.testing.make_tensor(2, 3, dtype=cgrad.float32, device="cpu", memory_format=cgrad.channels_last)
