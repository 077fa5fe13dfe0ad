"""Graphs of one-element float32 and float64 values, whose backward runs on
plain numbers when nothing can observe a node: the same gradients as the
general path (bit for bit) and as torch, and the same errors."""
import math

import numpy as np
import pytest

import cgrad

UNARY = ("neg", "exp", "log", "tanh", "sigmoid", "relu", "scale", "shift", "rdiv", "times_int", "over_int")
BINARY = ("add", "sub", "mul", "div", "same_add", "same_mul", "same_div", "same_sub")


def make_program(seed, n_ops=300, n_leaves=4):
    """A random sequence of ops on earlier values, chosen so every value stays
    finite and log and division see no zero."""
    rng = np.random.default_rng(seed)
    vals = list(rng.uniform(0.5, 1.5, n_leaves) * rng.choice([-1, 1], n_leaves))
    prog = []
    for _ in range(n_ops):
        x = vals[-1] if rng.random() < 0.5 else vals[rng.integers(len(vals))]
        i = len(vals) - 1 if x is vals[-1] else vals.index(x)
        j = int(rng.integers(len(vals)))
        y = vals[j]
        kind = str(rng.choice(UNARY + BINARY))
        if kind == "exp" and abs(x) > 3 or kind == "log" and x <= 0.1:
            kind = "tanh"
        if kind in ("div", "rdiv") and abs(y if kind == "div" else x) < 0.1 or kind == "same_div" and abs(x) < 0.1:
            kind = "add"
        v = {
            "neg": lambda: -x, "exp": lambda: math.exp(x), "log": lambda: math.log(x),
            "tanh": lambda: math.tanh(x), "sigmoid": lambda: 1 / (1 + math.exp(-x)),
            "relu": lambda: max(x, 0.0), "scale": lambda: x * 0.75, "shift": lambda: x + 0.25,
            "rdiv": lambda: 2.0 / x, "times_int": lambda: x * 3, "over_int": lambda: x / 2, "add": lambda: x + y, "sub": lambda: x - y, "mul": lambda: x * y,
            "div": lambda: x / y, "same_add": lambda: x + x, "same_mul": lambda: x * x,
            "same_div": lambda: x / x, "same_sub": lambda: x - x,
        }[kind]()
        if not math.isfinite(v) or abs(v) > 1e6:
            kind, v = "tanh", math.tanh(x)
        prog.append((kind, i, j))
        vals.append(v)
    return vals[:n_leaves], prog


def run(lib, leaves, prog, shapes, dtype="float64", observe=0):
    """Runs prog; returns the leaves' gradients. observe=k: a no-op hook on
    every k-th value, which sends its node down the general path."""
    dt = getattr(lib, dtype)
    xs = [lib.tensor(np.full(s, v), dtype=dt, requires_grad=True) for v, s in zip(leaves, shapes)]
    vals = list(xs)
    for step, (kind, i, j) in enumerate(prog):
        x, y = vals[i], vals[j]
        if kind == "neg":
            r = -x
        elif kind in ("exp", "log", "tanh", "sigmoid", "relu"):
            r = getattr(x, kind)()
        elif kind == "scale":
            r = x * 0.75
        elif kind == "shift":
            r = x + 0.25
        elif kind == "rdiv":
            r = 2.0 / x
        elif kind == "times_int":
            r = x * 3
        elif kind == "over_int":
            r = x / 2
        elif kind == "add":
            r = x + y
        elif kind == "sub":
            r = x - y
        elif kind == "mul":
            r = x * y
        elif kind == "div":
            r = x / y
        elif kind == "same_add":
            r = x + x
        elif kind == "same_mul":
            r = x * x
        elif kind == "same_div":
            r = x / x
        else:
            r = x - x
        if observe and step % observe == 0:
            r.register_hook(lambda g: None)
        vals.append(r)
    out = vals[-1]
    for v in vals[len(xs):-1:7]:  # several roots' worth of paths into the leaves
        out = out + v * 0.125
    out.sum().backward()
    return [np.array(x.grad.numpy()) for x in xs], [tuple(x.grad.shape) for x in xs]


SHAPES = [((), (), (), ()), ((1,), (1, 1), (), (1,))]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_scalar_path_gives_the_general_paths_bits(seed, shapes, dtype):
    leaves, prog = make_program(seed)
    fast, fast_shapes = run(cgrad, leaves, prog, shapes, dtype)
    slow, slow_shapes = run(cgrad, leaves, prog, shapes, dtype, observe=1)
    assert fast_shapes == slow_shapes == [tuple(s) for s in shapes]
    for f, s in zip(fast, slow):
        np.testing.assert_array_equal(f, s)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("observe", [2, 3, 7])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nodes_of_both_paths_in_one_graph_give_the_general_paths_bits(seed, observe, dtype):
    # gradients kept as numbers meet gradients sent by the general path in the same buffers
    leaves, prog = make_program(seed)
    mixed, _ = run(cgrad, leaves, prog, SHAPES[1], dtype, observe=observe)
    slow, _ = run(cgrad, leaves, prog, SHAPES[1], dtype, observe=1)
    for m, s in zip(mixed, slow):
        np.testing.assert_array_equal(m, s)


TORCH_TOL = {"float64": (1e-9, 1e-15), "float32": (1e-3, 1e-6)}  # ulps of tanh, exp, sigmoid, amplified


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_scalar_gradients_match_torch(seed, shapes, dtype):
    torch = pytest.importorskip("torch")
    leaves, prog = make_program(seed)
    got, got_shapes = run(cgrad, leaves, prog, shapes, dtype)
    want, want_shapes = run(torch, leaves, prog, shapes, dtype)
    assert got_shapes == want_shapes
    rtol, atol = TORCH_TOL[dtype]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype == dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def test_a_saved_value_modified_in_place_still_raises():
    x = cgrad.tensor([0.5], dtype=cgrad.float64, requires_grad=True)
    y = x * 2.0
    z = y.tanh()
    w = z * z
    with cgrad.no_grad():
        z.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        w.backward()


def test_a_second_backward_through_freed_values_raises():
    x = cgrad.tensor(0.3, dtype=cgrad.float64, requires_grad=True)
    y = (x * x).exp()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_accumulates_the_same_gradient_twice():
    x = cgrad.tensor([0.3], dtype=cgrad.float64, requires_grad=True)
    y = (x * x).tanh() / (x + 2.0)
    y.backward(retain_graph=True)
    first = x.grad.item()
    y.backward()
    assert x.grad.item() == first + first


def test_mixed_dtypes_and_observers_take_their_paths():
    """A float32 leaf under a float64 op gets a float32 gradient; a retained
    grad, a hook and autograd.grad see the values the scalar path computes."""
    torch = pytest.importorskip("torch")

    def go(lib):
        a = lib.tensor([0.7], dtype=lib.float32, requires_grad=True)
        b = lib.tensor([1.3], dtype=lib.float64, requires_grad=True)
        c = (a * b).tanh()
        c.retain_grad()
        seen = []
        d = c * b + c.exp()
        d.register_hook(lambda g: seen.append(g.item()))
        e = d / b - b.log()
        (gb,) = lib.autograd.grad(e, [b], retain_graph=True)
        e.backward()
        return a.grad.dtype, a.grad.item(), b.grad.item(), c.grad.item(), seen, gb.item()

    got, want = go(cgrad), go(torch)
    assert str(got[0]).split(".")[-1] == str(want[0]).split(".")[-1] == "float32"
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    np.testing.assert_allclose(got[2:4] + tuple(got[4]) + (got[5],), want[2:4] + tuple(want[4]) + (want[5],),
                               rtol=1e-13)


def test_a_gradient_passed_to_backward_is_not_written_over():
    x = cgrad.tensor([0.4], dtype=cgrad.float64, requires_grad=True)
    g = cgrad.tensor([3.0], dtype=cgrad.float64)
    y = (x * 2.0).tanh()
    y.backward(g)
    assert g.item() == 3.0
    np.testing.assert_allclose(x.grad.item(), 3.0 * 2.0 * (1 - math.tanh(0.8) ** 2), rtol=1e-14)
