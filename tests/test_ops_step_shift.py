"""nextafter, heaviside and the bit shifts against torch: values, dtypes,
gradients (nextafter's, heaviside's refusal), in-place forms and errors."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

SPECIAL = [0.0, -0.0, 1.0, -1.0, 1e-300, 5e-324, 1e300, float("inf"), float("-inf"), float("nan"), 3.5]


def both(fn):
    """fn(lib) for cgrad and torch: values (or the raised error's type and message)."""
    out = []
    for lib in (cgrad, torch):
        try:
            out.append(fn(lib))
        except Exception as e:  # noqa: BLE001 -- the error itself is compared
            out.append((type(e).__name__ if not isinstance(e, TypeError) else "TypeError", str(e)))
    return out


def same(a, b):
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b
        return
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    assert tuple(a.shape) == tuple(b.shape)
    x, y = a.detach().numpy(), b.detach().numpy()
    assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
    if x.dtype.kind == "f":  # signed zeros too
        assert np.array_equal(np.signbit(x), np.signbit(y))


# ---- nextafter --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nextafter_values_at_special_points(dtype):
    a = [x for x in SPECIAL for _ in SPECIAL]
    b = [y for _ in SPECIAL for y in SPECIAL]
    same(*both(lambda m: m.nextafter(m.tensor(a, dtype=getattr(m, dtype)), m.tensor(b, dtype=getattr(m, dtype)))))


def test_nextafter_promotes_and_broadcasts_as_torch():
    same(*both(lambda m: m.nextafter(m.tensor([1.0, 2.0]), m.tensor([[3.0], [0.0]], dtype=m.float64))))
    same(*both(lambda m: m.nextafter(m.tensor([1.0, 2.0]), m.tensor(0.0, dtype=m.float64))))
    same(*both(lambda m: m.tensor([1.0, -1.0]).nextafter(m.tensor([2.0]))))


def test_nextafter_gradient_is_one_for_input_and_zero_for_other():
    grads = []
    for m in (cgrad, torch):
        x = m.tensor([[1.0, 0.0, -2.0]], requires_grad=True)
        y = m.tensor([[2.0], [-1.0]], dtype=m.float64, requires_grad=True)
        r = m.nextafter(x, y)
        assert type(r.grad_fn).__name__ == "NextafterBackward0"
        (r * m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=m.float64)).sum().backward()
        grads.append((x.grad, y.grad))
    same(grads[0][0], grads[1][0])
    same(grads[0][1], grads[1][1])


def test_nextafter_in_place_and_errors():
    def in_place(m):
        x = m.tensor([1.0, 2.0])
        v = x._version
        x.nextafter_(m.tensor([0.0]))
        assert x._version == v + 1
        return x
    same(*both(in_place))
    same(*both(lambda m: m.tensor([1.0]).nextafter_(m.tensor([2.0], dtype=m.float64))))
    for case in (lambda m: m.nextafter(m.tensor([1]), m.tensor([2])),
                 lambda m: m.nextafter(m.tensor([True]), m.tensor([False])),
                 lambda m: m.nextafter(m.tensor([1.0]), 2.0),
                 lambda m: m.tensor([1.0]).nextafter(2.0),
                 lambda m: m.tensor([1.0], requires_grad=True).nextafter_(m.tensor([2.0]))):
        got, want = both(case)
        assert isinstance(want, tuple), want
        assert got == want


# ---- heaviside --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_heaviside_values(dtype):
    xs = {"bool": [True, False], "int64": [-3, 0, 5]}.get(dtype, SPECIAL)
    vs = {"bool": [[True], [False]], "int64": [[7], [-1]]}.get(dtype, [[0.5], [float("nan")], [-2.0]])
    same(*both(lambda m: m.heaviside(m.tensor(xs, dtype=getattr(m, dtype)), m.tensor(vs, dtype=getattr(m, dtype)))))
    same(*both(lambda m: m.tensor(xs, dtype=getattr(m, dtype)).heaviside(m.tensor(vs[0], dtype=getattr(m, dtype)))))


def test_heaviside_in_place_and_errors():
    same(*both(lambda m: m.tensor([-1.0, 0.0, 2.0]).heaviside_(m.tensor([0.25]))))
    for case in (lambda m: m.heaviside(m.tensor([1.0]), m.tensor([1], dtype=m.int64)),
                 lambda m: m.heaviside(m.tensor([1.0]), m.tensor([1.0], dtype=m.float64)),
                 lambda m: m.heaviside(m.tensor([1.0]), 0.5),
                 lambda m: m.tensor([1.0]).heaviside(0.5),
                 lambda m: m.tensor([1.0]).heaviside_(m.tensor([[1.0], [2.0]])),
                 lambda m: m.tensor([1.0], requires_grad=True).heaviside_(m.tensor([2.0]))):
        got, want = both(case)
        assert isinstance(want, tuple), want
        assert got == want


def test_heaviside_has_no_derivative_as_in_torch():
    errors = []
    for m in (cgrad, torch):
        x = m.tensor([1.0, 0.0], requires_grad=True)
        r = m.heaviside(x, m.tensor([0.5]))
        assert r.requires_grad and r.grad_fn is not None
        with pytest.raises(RuntimeError) as e:
            r.sum().backward()
        errors.append(str(e.value))
    assert errors[0] == errors[1]


# ---- the shifts -----------------------------------------------------------------------------

INTS = [0, 1, -1, 5, -8, 2**62, -(2**63), 2**63 - 1]
COUNTS = [0, 1, 3, 62, 63, 64, 65, 200, -1, -64]


@pytest.mark.parametrize("name", ["bitwise_left_shift", "bitwise_right_shift"])
def test_shift_values_over_every_count(name):
    a = [x for x in INTS for _ in COUNTS]
    b = [c for _ in INTS for c in COUNTS]
    same(*both(lambda m: getattr(m, name)(m.tensor(a), m.tensor(b))))
    same(*both(lambda m: getattr(m.tensor(a), name)(3)))
    same(*both(lambda m: getattr(m, name)(3, m.tensor(COUNTS))))


def test_shift_operators_and_in_place():
    a = [1, -8, 5, 2**40]
    same(*both(lambda m: m.tensor(a) << 2))
    same(*both(lambda m: m.tensor(a) >> m.tensor([1, 2, 3, 4])))
    same(*both(lambda m: 1 << m.tensor([0, 1, 5])))
    same(*both(lambda m: 1024 >> m.tensor([0, 1, 5])))
    same(*both(lambda m: m.tensor([True]) << 1))

    def in_place(m):
        x = m.tensor(a)
        x.bitwise_left_shift_(m.tensor([1, 2, 3, 4])).bitwise_right_shift_(1)
        return x
    same(*both(in_place))


def test_shift_errors_as_torch():
    for case in (lambda m: m.bitwise_left_shift(m.tensor([1.0]), 1),
                 lambda m: m.bitwise_right_shift(m.tensor([1.0]), 1),
                 lambda m: m.bitwise_left_shift(m.tensor([1]), 1.5),
                 lambda m: m.tensor([1]) << 1.5,
                 lambda m: m.bitwise_left_shift(m.tensor([True]), m.tensor([True])),
                 lambda m: m.tensor([1]).bitwise_left_shift_(1.5),
                 lambda m: m.tensor([1]).bitwise_right_shift_(m.tensor([[1], [2]]))):
        got, want = both(case)
        assert isinstance(want, tuple), want
        assert got == want
    got, want = both(lambda m: m.bitwise_left_shift("a", m.tensor([1])))
    assert got[0] == want[0] == "TypeError"  # torch lists its overloads; cgrad names the argument


def test_values_beyond_float32_become_inf_without_a_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = cgrad.tensor([1e300, -1e300], dtype=cgrad.float32)
    assert t.tolist() == [float("inf"), float("-inf")]
