"""Random expression graphs built from the op set, run in cgrad and torch:
values and gradients of every leaf must agree."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cgrad

torch = pytest.importorskip("torch")

# Element-wise ops keep every value finite and their derivatives well defined
# on the values these graphs produce (bounded by tanh/sigmoid where needed).
UNARY = {
    "neg": lambda L, x: -x,
    "exp_tanh": lambda L, x: x.tanh().exp(),
    "tanh": lambda L, x: x.tanh(),
    "sigmoid": lambda L, x: x.sigmoid(),
    "relu": lambda L, x: x.relu(),
    "square": lambda L, x: x ** 2,
    "log_pos": lambda L, x: (x * x + 1).log(),
    "scale": lambda L, x: 0.5 * x - 1,
    "rpow": lambda L, x: 2 ** x.tanh(),
    "div_pos": lambda L, x: 1 / (x * x + 1),
    "transpose": lambda L, x: x.transpose(0, 1).reshape(3, 4),  # keeps (3, 4) for the binary ops
    "flip": lambda L, x: x.flip(0),
    "roll": lambda L, x: x.roll(1, 1),
    "slice": lambda L, x: L.cat([x[1:], x[:1]], 0),
    "index": lambda L, x: x[[2, 0, 1, 1]][:3],
    "sum_keep": lambda L, x: x.sum(1, keepdim=True) + x,
    "mean_keep": lambda L, x: x.mean(0, keepdim=True) * x,
    "reshape": lambda L, x: x.reshape(-1).reshape(3, 4),
    "matmul_t": lambda L, x: (x @ x.T @ x) * 0.1,
    "split_cat": lambda L, x: L.cat(list(reversed(x.split(2, 1))), 1),
    "stack_unbind": lambda L, x: L.stack(x.unbind(0), 0) * 2,
    "setitem": lambda L, x: _setrow(x),
}

BINARY = {
    "add": lambda L, a, b: a + b,
    "sub": lambda L, a, b: a - b,
    "mul": lambda L, a, b: a * b,
    "div": lambda L, a, b: a / (b * b + 1),
    "pow": lambda L, a, b: (a * a + 1) ** b.tanh(),
    "matmul": lambda L, a, b: a @ b.T * 0.1 @ a,
    "broadcast_row": lambda L, a, b: a * b[0],
    "broadcast_col": lambda L, a, b: a + b[:, :1],
    "cat_mean": lambda L, a, b: L.cat([a, b], 1).mean(1, keepdim=True) + a,
}


def _setrow(x):
    y = x.clone()
    y[1] = x[0] * 3
    return y


@st.composite
def programs(draw):
    """A list of steps; each applies an op to one or two earlier values."""
    n_leaves = draw(st.integers(1, 3))
    steps = []
    for i in range(draw(st.integers(1, 12))):
        available = n_leaves + i
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, available - 1)), None))
        else:
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))), draw(st.integers(0, available - 1)),
                          draw(st.integers(0, available - 1))))
    seed = draw(st.integers(0, 2 ** 16))
    dtype = draw(st.sampled_from(["float64", "float32"]))
    return n_leaves, steps, seed, dtype


def _run(L, n_leaves, steps, arrays, dtype):
    leaves = [L.tensor(a, dtype=getattr(L, dtype), requires_grad=True) for a in arrays]
    values = list(leaves)
    for kind, name, i, j in steps:
        if kind == "u":
            values.append(UNARY[name](L, values[i]))
        else:
            values.append(BINARY[name](L, values[i], values[j]))
    out = sum((v * (k + 1)).tanh().sum() for k, v in enumerate(values[n_leaves:]))
    out.backward()
    return out.item(), [leaf.grad.numpy().copy() if leaf.grad is not None else None for leaf in leaves]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_graphs_match_torch(program):
    n_leaves, steps, seed, dtype = program
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1, 1, (3, 4)) for _ in range(n_leaves)]
    value_c, grads_c = _run(cgrad, n_leaves, steps, arrays, dtype)
    value_t, grads_t = _run(torch, n_leaves, steps, arrays, dtype)
    rtol, atol = (1e-9, 1e-9) if dtype == "float64" else (2e-3, 2e-4)
    np.testing.assert_allclose(value_c, value_t, rtol=rtol, atol=atol)
    for gc, gt in zip(grads_c, grads_t):
        assert (gc is None) == (gt is None)
        if gc is not None:
            np.testing.assert_allclose(gc, gt, rtol=rtol, atol=atol)
