"""cgrad.func against torch.func: grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, vmap and
functional_call, alone and nested; values, shapes, which results keep a graph, and errors."""
import numpy as np
import pytest

import cgrad
from helpers import assert_same_error

torch = pytest.importorskip("torch")


def _np(x):
    return x.detach().numpy()


def _pair(shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape)
    return cgrad.tensor(a), torch.tensor(a)


def _close(ours, theirs, tol=1e-12):
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs)
        for k in theirs:
            _close(ours[k], theirs[k], tol)
    elif isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            _close(o, t, tol)
    elif hasattr(theirs, "numpy"):
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(_np(ours), theirs.detach().numpy(), rtol=tol, atol=tol)
    else:
        assert ours == theirs


def f1(L, x):
    return (x.sin() * x).sum()


def f2(L, x, y):
    return (x.exp() * y[:3]).sum() + (y ** 2).sum()


def fvec(L, x):
    return x.tanh() * x[0] + x.cos()


def test_grad_and_value():
    x_c, x_t = _pair(5)
    g_c = cgrad.func.grad(lambda x: f1(cgrad, x))(x_c)
    g_t = torch.func.grad(lambda x: f1(torch, x))(x_t)
    _close(g_c, g_t)
    assert not g_c.requires_grad
    (g_c, v_c) = cgrad.func.grad_and_value(lambda x: f1(cgrad, x))(x_c)
    (g_t, v_t) = torch.func.grad_and_value(lambda x: f1(torch, x))(x_t)
    _close((g_c, v_c), (g_t, v_t))
    assert not v_c.requires_grad


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1, 0), -1])
def test_grad_argnums(argnums):
    x_c, x_t = _pair(3, 1)
    y_c, y_t = _pair(4, 2)
    g_c = cgrad.func.grad(lambda x, y: f2(cgrad, x, y), argnums=argnums)(x_c, y_c)
    g_t = torch.func.grad(lambda x, y: f2(torch, x, y), argnums=argnums)(x_t, y_t)
    _close(g_c, g_t)


def test_grad_of_dict_and_aux_and_unused():
    a_c, a_t = _pair((2, 3), 3)
    b_c, b_t = _pair(3, 4)

    def fn(lib, p, x):
        return ((p["w"] @ x).sum() + (p["b"] * 0).sum(), {"n": x.norm()})
    g_c, aux_c = cgrad.func.grad(lambda p, x: fn(cgrad, p, x), has_aux=True)({"w": a_c, "b": b_c}, b_c)
    g_t, aux_t = torch.func.grad(lambda p, x: fn(torch, p, x), has_aux=True)({"w": a_t, "b": b_t}, b_t)
    _close(g_c, g_t)
    _close(aux_c, aux_t)
    unused_c = cgrad.func.grad(lambda x, y: (x * 2).sum(), argnums=1)(b_c, a_c)
    unused_t = torch.func.grad(lambda x, y: (x * 2).sum(), argnums=1)(b_t, a_t)
    _close(unused_c, unused_t)


def test_nested_grad():
    x_c, x_t = _pair(4, 5)
    gg_c = cgrad.func.grad(lambda x: cgrad.func.grad(lambda y: f1(cgrad, y))(x).sum())(x_c)
    gg_t = torch.func.grad(lambda x: torch.func.grad(lambda y: f1(torch, y))(x).sum())(x_t)
    _close(gg_c, gg_t)
    s_c = cgrad.tensor(0.7, dtype=cgrad.float64)
    s_t = torch.tensor(0.7, dtype=torch.float64)
    d3_c = cgrad.func.grad(cgrad.func.grad(cgrad.func.grad(lambda x: x.sin() * x ** 3)))(s_c)
    d3_t = torch.func.grad(torch.func.grad(torch.func.grad(lambda x: x.sin() * x ** 3)))(s_t)
    _close(d3_c, d3_t)


def test_grad_keeps_the_graph_to_outer_tensors():
    w_c = cgrad.tensor([1.5, -2.0], dtype=cgrad.float64, requires_grad=True)
    w_t = torch.tensor([1.5, -2.0], dtype=torch.float64, requires_grad=True)
    x_c, x_t = _pair(2, 6)
    g_c = cgrad.func.grad(lambda x: (x * w_c).pow(2).sum())(x_c)
    g_t = torch.func.grad(lambda x: (x * w_t).pow(2).sum())(x_t)
    _close(g_c, g_t)
    assert g_c.requires_grad and g_t.requires_grad
    g_c.sum().backward()
    g_t.sum().backward()
    _close(w_c.grad, w_t.grad)
    # an input that requires grad: the gradient is differentiable with respect to it
    x_c.requires_grad_()
    x_t.requires_grad_()
    h_c = cgrad.func.grad(lambda x: (x ** 3).sum())(x_c)
    h_t = torch.func.grad(lambda x: (x ** 3).sum())(x_t)
    h_c.sum().backward()
    h_t.sum().backward()
    _close(x_c.grad, x_t.grad)


@pytest.mark.parametrize("fn", [
    lambda L: L.func.grad(lambda x: x * 2)(L.ones(3, dtype=L.float64)),
    lambda L: L.func.grad(lambda x: (x * 2).sum(), argnums=3)(L.ones(3, dtype=L.float64)),
    lambda L: L.func.grad(lambda x: (x * 2).sum())(L.tensor([1, 2])),
    lambda L: L.func.grad(lambda x: 3.0)(L.ones(3, dtype=L.float64)),
    lambda L: L.func.grad(lambda x: (x.sum(), 1, 2), has_aux=True)(L.ones(3, dtype=L.float64)),
])
def test_grad_errors(fn):
    assert_same_error(fn)


def test_vjp_and_jvp():
    x_c, x_t = _pair(4, 7)
    v_c, v_t = _pair(4, 8)
    out_c, fn_c = cgrad.func.vjp(lambda x: fvec(cgrad, x), x_c)
    out_t, fn_t = torch.func.vjp(lambda x: fvec(torch, x), x_t)
    _close(out_c, out_t)
    _close(fn_c(v_c), fn_t(v_t))
    _close(fn_c(v_c * 2), fn_t(v_t * 2))  # callable again
    o_c, j_c = cgrad.func.jvp(lambda x: fvec(cgrad, x), (x_c,), (v_c,))
    o_t, j_t = torch.func.jvp(lambda x: fvec(torch, x), (x_t,), (v_t,))
    _close((o_c, j_c), (o_t, j_t))
    y_c, y_t = _pair(4, 9)
    o_c, j_c = cgrad.func.jvp(lambda x, y: (x * y, x.exp()), (x_c, y_c), (v_c, v_c))
    o_t, j_t = torch.func.jvp(lambda x, y: (x * y, x.exp()), (x_t, y_t), (v_t, v_t))
    _close((o_c, j_c), (o_t, j_t))


@pytest.mark.parametrize("which", ["jacrev", "jacfwd"])
def test_jacobians(which):
    x_c, x_t = _pair(3, 10)
    y_c, y_t = _pair(4, 11)
    _close(getattr(cgrad.func, which)(lambda x: fvec(cgrad, x))(x_c),
           getattr(torch.func, which)(lambda x: fvec(torch, x))(x_t))
    _close(getattr(cgrad.func, which)(lambda x, y: x.outer(y).sin(), argnums=(0, 1))(x_c, y_c),
           getattr(torch.func, which)(lambda x, y: x.outer(y).sin(), argnums=(0, 1))(x_t, y_t))
    _close(getattr(cgrad.func, which)(lambda x: (x.exp(), x.sum()), has_aux=False)(x_c),
           getattr(torch.func, which)(lambda x: (x.exp(), x.sum()), has_aux=False)(x_t))


def test_hessian():
    x_c, x_t = _pair(3, 12)
    _close(cgrad.func.hessian(lambda x: (x.sin() * x.prod()).sum())(x_c),
           torch.func.hessian(lambda x: (x.sin() * x.prod()).sum())(x_t))
    _close(cgrad.func.jacfwd(cgrad.func.jacrev(lambda x: x.exp() * x[1]))(x_c),
           torch.func.jacfwd(torch.func.jacrev(lambda x: x.exp() * x[1]))(x_t))


def test_vmap():
    x_c, x_t = _pair((5, 3), 13)
    y_c, y_t = _pair(3, 14)
    _close(cgrad.vmap(lambda x: x.sum())(x_c), torch.vmap(lambda x: x.sum())(x_t))
    _close(cgrad.func.vmap(lambda x, y: x * y + 1, in_dims=(0, None))(x_c, y_c),
           torch.func.vmap(lambda x, y: x * y + 1, in_dims=(0, None))(x_t, y_t))
    _close(cgrad.vmap(lambda x: x.outer(x), in_dims=1)(x_c), torch.vmap(lambda x: x.outer(x), in_dims=1)(x_t))
    _close(cgrad.vmap(lambda x: (x, x.sum()), out_dims=(1, 0))(x_c),
           torch.vmap(lambda x: (x, x.sum()), out_dims=(1, 0))(x_t))
    _close(cgrad.vmap(lambda d: d["a"] * 2)({"a": x_c}), torch.vmap(lambda d: d["a"] * 2)({"a": x_t}))
    _close(cgrad.vmap(cgrad.vmap(lambda s: s * 3))(x_c), torch.vmap(torch.vmap(lambda s: s * 3))(x_t))


def test_vmap_keeps_gradients():
    a = np.random.default_rng(15).standard_normal((4, 3))
    x_c = cgrad.tensor(a, requires_grad=True)
    x_t = torch.tensor(a, requires_grad=True)
    cgrad.vmap(lambda x: x.exp().sum())(x_c).pow(2).sum().backward()
    torch.vmap(lambda x: x.exp().sum())(x_t).pow(2).sum().backward()
    _close(x_c.grad, x_t.grad)


def test_vmap_randomness_same():
    cgrad.manual_seed(0)
    out = cgrad.vmap(lambda x: x + cgrad.rand(2), randomness="same")(cgrad.zeros(3, 2))
    rows = _np(out)
    assert (rows == rows[0]).all()
    out = cgrad.vmap(lambda x: x + cgrad.rand(2), randomness="different")(cgrad.zeros(3, 2))
    assert not (_np(out) == _np(out)[0]).all()


@pytest.mark.parametrize("fn", [
    lambda L: L.vmap(lambda x, y: x + y)(L.ones(3, 2), L.ones(4, 2)),
    lambda L: L.vmap(lambda x: x, in_dims=1)(L.ones(3)),
    lambda L: L.vmap(lambda x: 1.0)(L.ones(3)),
    lambda L: L.vmap(lambda x: x)(3.0),
    lambda L: L.vmap(lambda x: x, randomness="x")(L.ones(3)),
])
def test_vmap_errors(fn):
    assert_same_error(fn)


def test_per_sample_gradients():
    """PyTorch's per-sample-gradient recipe: vmap over grad of a functional_call."""
    def run(lib):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)).double()
        with lib.no_grad():
            for k, p in enumerate(model.parameters()):
                p.copy_(lib.tensor(np.random.default_rng(k).standard_normal(tuple(p.shape))))
        params = {k: v.detach() for k, v in model.named_parameters()}
        data = lib.tensor(np.random.default_rng(20).standard_normal((6, 3)))
        target = lib.tensor([0, 1, 1, 0, 1, 0])

        def loss(params, x, t):
            out = lib.func.functional_call(model, params, (x.unsqueeze(0),))
            return lib.nn.functional.cross_entropy(out, t.unsqueeze(0))
        grads = lib.func.vmap(lib.func.grad(loss), in_dims=(None, 0, 0))(params, data, target)
        assert all(p.grad is None for p in model.parameters())
        return grads
    ours, theirs = run(cgrad), run(torch)
    _close(ours, theirs, 1e-11)
    assert tuple(ours["0.weight"].shape) == (6, 4, 3)


def test_functional_call_restores_and_checks():
    lin_c = cgrad.nn.Linear(2, 1).double()
    w = cgrad.ones(1, 2, dtype=cgrad.float64)
    before = _np(lin_c.weight).copy()
    out = cgrad.func.functional_call(lin_c, {"weight": w}, cgrad.tensor([[1.0, 2.0]], dtype=cgrad.float64))
    np.testing.assert_allclose(_np(out), 3.0 + _np(lin_c.bias).reshape(1, 1))
    np.testing.assert_array_equal(_np(lin_c.weight), before)
    assert isinstance(lin_c.weight, cgrad.nn.Parameter)
    with pytest.raises(RuntimeError, match="Missing key"):
        cgrad.func.functional_call(lin_c, {"weight": w}, (cgrad.ones(1, 2),), strict=True)
    with pytest.raises(ValueError, match="multiple dictionaries"):
        cgrad.func.functional_call(lin_c, ({"weight": w}, {"weight": w}), (cgrad.ones(1, 2),))
