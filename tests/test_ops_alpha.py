"""add and sub with alpha, their in-place forms, and a number on the left of
an operator, against torch.

PyTorch computes a + alpha * b with one rounding (a fused multiply-add) and
records one AddBackward0/SubBackward0 that keeps alpha; its rules for alpha
depend on the result's dtype and on the Python type of alpha. With a number
on the left, it computes number / tensor as reciprocal(tensor) * number (two
roundings), number - tensor by an overload whose node has one edge, and
number + tensor, number * tensor as tensor + number, tensor * number.
addr, beta * input + alpha * outer(v1, v2), is one fused multiply-add too.
"""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

ALPHAS = [3.7, -0.3, 0.1, 2, 7, -1]


def _pair(lib, a, b):
    return lib.tensor(a), lib.tensor(b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 3, 13, 100, 4099])
@pytest.mark.parametrize("op", ["add", "sub"])
def test_values_are_torch_bits(dtype, n, op):
    rng = np.random.default_rng(n)
    a, b = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    for alpha in ALPHAS:
        want = getattr(torch, op)(*_pair(torch, a, b), alpha=alpha).numpy()
        np.testing.assert_array_equal(getattr(cgrad, op)(*_pair(cgrad, a, b), alpha=alpha).numpy(), want)
        np.testing.assert_array_equal(getattr(cgrad.tensor(a), op)(cgrad.tensor(b), alpha=alpha).numpy(), want)
        t, c = torch.tensor(a), cgrad.tensor(a)
        getattr(t, op + "_")(torch.tensor(b), alpha=alpha)
        getattr(c, op + "_")(cgrad.tensor(b), alpha=alpha)
        np.testing.assert_array_equal(c.numpy(), t.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_broadcast_strided_and_mixed(dtype):
    rng = np.random.default_rng(1)
    big = rng.standard_normal((64, 33)).astype(dtype)
    cases = [
        (big, rng.standard_normal(33).astype(dtype)),                  # a row broadcast
        (big, np.asarray(rng.standard_normal(), dtype=dtype)),        # a 0-d other (vector part)
        (np.asarray(rng.standard_normal(), dtype=dtype), big),        # a 0-d self
        (big.T, rng.standard_normal((33, 64)).astype(dtype)),         # strided
        (big, rng.standard_normal((64, 33))),                          # promoted to float64
    ]
    for a, b in cases:
        for alpha in (3.7, -0.3):
            for op in ("add", "sub"):
                want = getattr(torch, op)(torch.tensor(a), torch.tensor(b), alpha=alpha)
                got = getattr(cgrad, op)(cgrad.tensor(a), cgrad.tensor(b), alpha=alpha)
                assert str(got.dtype)[6:] == str(want.dtype)[6:]
                np.testing.assert_array_equal(got.numpy(), want.numpy())
    x = rng.standard_normal(4096).astype(dtype)
    for alpha in (3.7, 0.1):  # a Python number as other
        np.testing.assert_array_equal(cgrad.add(cgrad.tensor(x), 1.2345, alpha=alpha).numpy(),
                                      torch.add(torch.tensor(x), 1.2345, alpha=alpha).numpy())


def test_in_place_float32_plus_float64_is_computed_in_float64():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(1000).astype("float32"), rng.standard_normal(1000)
    t, c = torch.tensor(a), cgrad.tensor(a)
    t.add_(torch.tensor(b), alpha=0.1)
    c.add_(cgrad.tensor(b), alpha=0.1)
    assert c.dtype == cgrad.float32
    np.testing.assert_array_equal(c.numpy(), t.numpy())


def test_integers_and_bools():
    for lib in (torch, cgrad):
        i = lib.tensor([1, -2, 2 ** 62])
        b = lib.tensor([True, False, True])
        assert lib.add(i, i, alpha=4).tolist() == torch.add(torch.tensor([1, -2, 2 ** 62]),
                                                            torch.tensor([1, -2, 2 ** 62]), alpha=4).tolist()
        r = lib.add(b, b, alpha=2)
        assert str(r.dtype).endswith("bool") and r.tolist() == [True, False, True]
        assert lib.add(b, lib.tensor([False, True, False]), alpha=False).tolist() == [True, False, True]
        assert lib.add(i, b, alpha=3).tolist() == [4, -2, 2 ** 62 + 3]
        assert lib.sub(i, 1, alpha=5).tolist() == [-4, -7, 2 ** 62 - 5]


def _outcome(fn):
    try:
        r = fn()
    except Exception as e:  # noqa: BLE001 -- the outcome is compared, whatever it is
        return type(e).__name__, str(e)
    return "ok", str(r.dtype).split(".")[-1], r.tolist()


ERROR_CASES = [
    lambda m, i, f, b: m.add(i, i, alpha=2.5),
    lambda m, i, f, b: m.add(i, i, alpha=1.0),
    lambda m, i, f, b: m.add(i, i, alpha=True),
    lambda m, i, f, b: m.add(i, f, alpha=2.5),
    lambda m, i, f, b: m.add(b, b, alpha=2.5),
    lambda m, i, f, b: m.add(f, f, alpha=True),
    lambda m, i, f, b: m.add(i, b, alpha=True),
    lambda m, i, f, b: m.add(i, 2, alpha=2.5),
    lambda m, i, f, b: m.add(i, 2.5, alpha=2),
    lambda m, i, f, b: m.sub(i, i, alpha=2.5),
    lambda m, i, f, b: m.sub(b, b, alpha=2),
    lambda m, i, f, b: m.sub(f, b, alpha=2),
    lambda m, i, f, b: m.sub(f, f, alpha=True),
    lambda m, i, f, b: m.sub(f, True, alpha=2),
    lambda m, i, f, b: i.clone().add_(i, alpha=2.5),
    lambda m, i, f, b: i.clone().add_(f, alpha=2),
    lambda m, i, f, b: f.clone().add_(i, alpha=2.5),
    lambda m, i, f, b: f.clone().sub_(f, alpha=True),
    lambda m, i, f, b: f.clone().add_(f[:1].expand(3, 2), alpha=2),
    lambda m, i, f, b: m.add(f, f, alpha="x"),
    lambda m, i, f, b: f.add(f, alpha=None),
    lambda m, i, f, b: f.clone().sub_(f, alpha=[1]),
    lambda m, i, f, b: m.add(f, f, alpha=m.tensor([2.0, 3.0])),
    lambda m, i, f, b: m.add(f, f, alpha=m.tensor(2)),
    lambda m, i, f, b: m.add(f, f, alpha=m.tensor(True)),
    lambda m, i, f, b: m.add(f, f, alpha=np.float32(0.1)),
    lambda m, i, f, b: m.add(f, f, alpha=float("inf")),
]


@pytest.mark.parametrize("k", range(len(ERROR_CASES)))
def test_alpha_rules_match_torch(k):
    def run(m):
        i, f, b = m.tensor([1, 2]), m.tensor([1.0, 2.0]), m.tensor([True, False])
        return _outcome(lambda: ERROR_CASES[k](m, i, f, b))

    assert run(cgrad) == run(torch)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", ["add", "sub"])
def test_one_node_that_keeps_alpha(dtype, op):
    rng = np.random.default_rng(3)
    xs, ys, g = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((3, 4))
    grads = []
    for lib in (torch, cgrad):
        x = lib.tensor(xs, dtype=getattr(lib, dtype), requires_grad=True)
        y = lib.tensor(ys, dtype=getattr(lib, dtype), requires_grad=True)
        z = getattr(lib, op)(x, y, alpha=0.37)
        assert z.grad_fn.name() == ("AddBackward0" if op == "add" else "SubBackward0")
        assert [type(f).__name__ for f, _ in z.grad_fn.next_functions] == ["AccumulateGrad"] * 2
        gx, gy = lib.autograd.grad(z, (x, y), lib.tensor(g, dtype=getattr(lib, dtype)))
        grads.append((gx.numpy(), gy.numpy()))
    for mine, ref in zip(grads[1], grads[0]):
        np.testing.assert_array_equal(mine, ref)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", ["add", "sub"])
def test_one_element_gradients_take_the_scalar_path_alike(dtype, op):
    """The engine's path on plain numbers gives the tensors' bits."""
    out = []
    for lib in (torch, cgrad):
        x = lib.tensor([0.7], dtype=getattr(lib, dtype), requires_grad=True)
        y = lib.tensor([0.3], dtype=getattr(lib, dtype), requires_grad=True)
        (getattr(lib, op)(x, y, alpha=0.37) * 1.3).backward()
        out.append((x.grad.item(), y.grad.item()))
    assert out[0] == out[1]


@pytest.mark.parametrize("op", ["add_", "sub_"])
def test_in_place_on_a_view_and_on_a_leaf(op):
    rng = np.random.default_rng(4)
    xs, ys = rng.standard_normal((3, 4)), rng.standard_normal(4)
    res = []
    for lib in (torch, cgrad):
        x = lib.tensor(xs, requires_grad=True)
        y = lib.tensor(ys, requires_grad=True)
        z = x * 1
        getattr(z[1], op)(y * 2, alpha=2.5)
        assert z.grad_fn.name().endswith("CopySlices")
        (z * z).sum().backward()
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            getattr(x, op)(y, alpha=2)
        res.append((z.detach().numpy(), x.grad.numpy(), y.grad.numpy()))
    for mine, ref in zip(res[1], res[0]):
        np.testing.assert_array_equal(mine, ref)


def test_second_order_through_alpha():
    out = []
    for lib in (torch, cgrad):
        x = lib.tensor([0.5, -1.5], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([2.0, 0.25], dtype=lib.float64, requires_grad=True)
        z = lib.sub(x * x, y * y * y, alpha=0.3)
        gx, gy = lib.autograd.grad(z.sum(), (x, y), create_graph=True)
        hx, hy = lib.autograd.grad((gx * gy).sum(), (x, y))
        out.append([t.detach().numpy() for t in (gx, gy, hx, hy)])
    for mine, ref in zip(out[1], out[0]):
        np.testing.assert_allclose(mine, ref, rtol=1e-14)


def test_a_compiled_update_with_alpha_replays_the_eager_bits():
    rng = np.random.default_rng(5)
    w0, xs = rng.standard_normal(8).astype("float32"), rng.standard_normal((16, 8)).astype("float32")

    def make():
        w = cgrad.tensor(w0, requires_grad=True)

        def step(x):
            loss = ((x @ w).tanh() ** 2).mean()
            w.grad = None
            loss.backward()
            with cgrad.no_grad():
                w.sub_(w.grad, alpha=0.37)
            return loss

        return w, step

    (w1, eager), (w2, compiled) = make(), make()
    compiled = cgrad.compile(compiled, fullgraph=True)
    for k in range(6):
        x = cgrad.tensor(xs * (1 + k / 10))
        assert eager(x).item() == compiled(x).item()
    np.testing.assert_array_equal(w1.detach().numpy(), w2.detach().numpy())


# ---- a number on the left ----------------------------------------------------------------

REFLECTED = [lambda v: 3.7 / v, lambda v: 10 / v, lambda v: True / v, lambda v: np.float64(0.3) / v,
             lambda v: 1.5 - v, lambda v: 2 * v, lambda v: 2.5 + v, lambda v: 1 - v * v]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("k", range(len(REFLECTED)))
def test_a_number_on_the_left_gives_torch_bits_and_graph(dtype, k):
    rng = np.random.default_rng(k)
    x = rng.standard_normal(4099).astype(dtype)
    got = []
    for lib in (torch, cgrad):
        v = lib.tensor(x, requires_grad=True)
        out = REFLECTED[k](v)
        g = lib.autograd.grad(out, v, lib.ones_like(out))[0]
        edges = [type(f).__name__ for f, _ in out.grad_fn.next_functions]
        got.append((out.detach().numpy(), g.numpy(), out.grad_fn.name(), edges))
    for mine, ref in zip(got[1], got[0]):
        if isinstance(ref, np.ndarray):
            np.testing.assert_array_equal(mine, ref)
        else:
            assert mine == ref


def test_a_number_over_an_integer_tensor():
    for num in (7, 2.5):
        want = num / torch.tensor([3, 0, -2, 7])
        got = num / cgrad.tensor([3, 0, -2, 7])
        assert str(got.dtype)[6:] == str(want.dtype)[6:]
        np.testing.assert_array_equal(got.numpy(), want.numpy())


# ---- addr ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("beta,alpha", [(1, 1), (2, 3), (0.5, -1.5), (0, 2.5), (2, 0)])
def test_addr_rounds_as_torch(dtype, beta, alpha):
    """fma(alpha v1[i], v2[j], beta input[i, j]); rows of a multiple of 64
    stay in torch's vector loop, whose elements all round that way."""
    rng = np.random.default_rng(6)
    s, v1, v2 = (rng.uniform(-1, 1, (5, 512)).astype(dtype), rng.standard_normal(5).astype(dtype),
                 rng.standard_normal(512).astype(dtype))
    for inp in (s, s[0]):
        want = torch.tensor(inp).addr(torch.tensor(v1), torch.tensor(v2), beta=beta, alpha=alpha).numpy()
        got = cgrad.tensor(inp).addr(cgrad.tensor(v1), cgrad.tensor(v2), beta=beta, alpha=alpha).numpy()
        np.testing.assert_array_equal(got, want)
