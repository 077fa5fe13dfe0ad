"""div with rounding_mode ('trunc', 'floor') and round(decimals=...), in
place too, against torch: values for each dtype, special values, nodes
(DivBackward2, RoundBackward1), gradients (zero) and errors."""
import math

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

INF, NAN = math.inf, math.nan
A = [7.5, -7.5, 0.3, -0.0, 5.0, -5.0, 1e30, INF, -INF, NAN, 0.0, 1.0]
B = [2.0, 2.0, 0.1, 3.0, -2.0, -2.0, 7.0, 2.0, 3.0, 1.0, 0.0, -0.0]


def _outcome(fn):
    out = []
    for lib in (cgrad, torch):
        try:
            r = fn(lib)
            out.append((str(r.dtype).split(".")[-1], np.asarray(r.tolist()), None if r.grad_fn is None
                        else r.grad_fn.name()))
        except Exception as e:  # noqa: BLE001 - the type and text are compared
            out.append((type(e).__name__, str(e).split("\n")[0], None))
    return out


def _same(fn):
    ours, theirs = _outcome(fn)
    assert ours[0] == theirs[0] and ours[2] == theirs[2]
    if isinstance(ours[1], np.ndarray):
        np.testing.assert_array_equal(ours[1], theirs[1])
        assert np.array_equal(np.signbit(ours[1]), np.signbit(theirs[1])), "the sign of a zero"
    else:
        assert ours[1] == theirs[1]


@pytest.mark.parametrize("mode", ["trunc", "floor"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_div_rounded_floats(mode, dtype):
    _same(lambda m: m.tensor(A, dtype=getattr(m, dtype)).div(m.tensor(B, dtype=getattr(m, dtype)),
                                                            rounding_mode=mode))
    _same(lambda m: m.div(m.tensor(A, dtype=getattr(m, dtype)), 0.7, rounding_mode=mode))
    _same(lambda m: m.tensor([[1.5], [-2.5]], dtype=getattr(m, dtype)).div(m.tensor([0.4, -0.4, 3.0],
                                                                                   dtype=getattr(m, dtype)),
                                                                          rounding_mode=mode))


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_div_rounded_integers_and_mixed(mode):
    _same(lambda m: m.tensor([7, -7, 6, -6, 0]).div(m.tensor([2, 2, -4, -4, 3]), rounding_mode=mode))
    _same(lambda m: m.tensor([7, -7]).div(2, rounding_mode=mode))
    _same(lambda m: m.tensor([7, -7]).div(2.5, rounding_mode=mode))
    if mode == "floor":  # torch's trunc of INT64_MIN / -1 stops the process (SIGFPE); cgrad's wraps
        _same(lambda m: m.tensor([-2 ** 63]).div(-1, rounding_mode=mode))
    else:
        assert cgrad.tensor([-2 ** 63]).div(-1, rounding_mode=mode).tolist() == [-2 ** 63]
    _same(lambda m: m.tensor([True, False]).div(m.tensor([3]), rounding_mode=mode))
    _same(lambda m: m.tensor([7, 1]).div(m.tensor([0, 1]), rounding_mode=mode))


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_div_rounded_in_place(mode):
    _same(lambda m: m.tensor([7.5, -7.5]).div_(2, rounding_mode=mode))
    _same(lambda m: m.tensor([7, -7]).div_(m.tensor([2, 2]), rounding_mode=mode))
    _same(lambda m: m.tensor([7, -7]).div_(2.5, rounding_mode=mode))
    _same(lambda m: m.tensor([7.0]).divide_(m.tensor([2.0]), rounding_mode=mode))


@pytest.mark.parametrize("mode", ["trunc", "floor"])
@pytest.mark.parametrize("in_place", [False, True])
def test_div_rounded_nodes_and_gradients(mode, in_place):
    out = []
    for lib in (cgrad, torch):
        a = lib.tensor([[1.5, -2.5, 3.0]], requires_grad=True)
        b = lib.tensor([[0.4], [-0.7]], requires_grad=True)
        if in_place:
            r = (a * lib.ones(2, 1)).div_(b, rounding_mode=mode)
        else:
            r = a.div(b, rounding_mode=mode)
        (r * lib.tensor([[1.0, INF, 2.0], [3.0, 4.0, 5.0]])).sum().backward()
        node = r.grad_fn
        out.append((node.name(), len(node.next_functions), r.tolist(), np.asarray(a.grad.tolist()),
                    np.asarray(b.grad.tolist())))
    assert out[0][:3] == out[1][:3]
    for ours, theirs in zip(out[0][3:], out[1][3:]):
        np.testing.assert_array_equal(ours, theirs)  # zeros, an infinite gradient too


def test_div_rounding_mode_errors():
    _same(lambda m: m.tensor([1.0]).div(2, rounding_mode="round"))
    _same(lambda m: m.tensor([1.0]).div_(2, rounding_mode="round"))
    _same(lambda m: m.tensor([1.0], requires_grad=True).div_(2, rounding_mode="floor"))


DECIMALS = [0, 1, 2, 3, -1, -2, 5, 12, -12, 40, -40]
VALUES = [1.2345, -2.5, 2.5, 0.125, 1234.5678, -0.0049, 0.0, -0.0, INF, -INF, NAN, 1e30, 3.14159265358979, 0.5,
          1.5, -0.5, 123456789.123]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_decimals_values(dtype):
    for d in DECIMALS:
        _same(lambda m: m.tensor(VALUES, dtype=getattr(m, dtype)).round(decimals=d))
        _same(lambda m: m.round(m.tensor(VALUES, dtype=getattr(m, dtype)), decimals=d))
        _same(lambda m: m.tensor(VALUES, dtype=getattr(m, dtype)).round_(decimals=d))
    _same(lambda m: m.tensor(VALUES, dtype=getattr(m, dtype)).reshape(1, 17).expand(2, 17).T.round(decimals=1))


def test_round_decimals_nodes_and_gradients():
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([[1.26, -2.5], [0.75, 3.1]], dtype=lib.float64, requires_grad=True)
        names = [x.round().grad_fn.name(), x.round(decimals=0).grad_fn.name(), x.round(decimals=1).grad_fn.name(),
                 lib.round(x, decimals=-1).grad_fn.name()]
        y = x * 1
        y[0].round_(decimals=1)
        names.append(y.grad_fn.name())
        z = x * 1
        z.round_(decimals=2)
        names.append(z.grad_fn.name())
        ((x.round(decimals=1) + x) * x).sum().backward()
        out.append((names, y.tolist(), z.tolist(), x.grad.tolist()))
    assert out[0] == out[1]


@pytest.mark.parametrize("call", [
    lambda m: m.tensor([15, 25]).round(decimals=-1),
    lambda m: m.tensor([True]).round(decimals=1),
    lambda m: m.tensor([15, 25]).round_(decimals=1),
    lambda m: m.tensor([1.5], requires_grad=True).round_(decimals=1),
    lambda m: m.tensor([1.5]).round(decimals=1.5),
])
def test_round_decimals_errors(call):
    ours, theirs = _outcome(call)
    assert ours[0] == theirs[0]
    if ours[0] != "TypeError":
        assert ours[1] == theirs[1]
