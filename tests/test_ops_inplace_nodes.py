"""In-place forms that record the out-of-place op's node, as torch's do:
addcmul_, addcdiv_ (and addcdiv itself, one AddcdivBackward0), addmm_,
baddbmm_, cumsum_, cumprod_, deg2rad_ and rad2deg_ (and their out-of-place
forms, Deg2RadBackward0 and Rad2DegBackward0), nan_to_num_ (and nan_to_num,
NanToNumBackward0), and normal_ and uniform_ on a tensor of a graph
(NormalBackward0, UniformBackward0: no gradient passes). Against torch:
graphs, values bit for bit, gradients, a leaf refused, writes through a view
(CopySlices), errors."""
import numpy as np
import pytest

import cgrad
from helpers import error_summary, graph_of

torch = pytest.importorskip("torch")

INF, NAN = float("inf"), float("nan")

# name: (shapes of the target and the other operands, the op on them)
IN_PLACE = {
    "addcmul_": ([(2, 3), (3,), (2, 1)], lambda t, b, c: t.addcmul_(b, c, value=-0.5)),
    "addcdiv_": ([(2, 3), (3,), (2, 1)], lambda t, b, c: t.addcdiv_(b, c, value=0.75)),
    "addmm_": ([(2, 3), (2, 4), (4, 3)], lambda t, a, b: t.addmm_(a, b, beta=0.5, alpha=2)),
    "baddbmm_": ([(2, 2, 3), (2, 2, 4), (2, 4, 3)], lambda t, a, b: t.baddbmm_(a, b, beta=-1, alpha=0.5)),
    "cumsum_": ([(2, 3)], lambda t: t.cumsum_(1)),
    "cumprod_": ([(3, 2)], lambda t: t.cumprod_(0)),
    "deg2rad_": ([(2, 3)], lambda t: t.deg2rad_()),
    "rad2deg_": ([(2, 3)], lambda t: t.rad2deg_()),
    "nan_to_num_": ([(2, 3)], lambda t: t.nan_to_num_(0.5, 2.0)),
    "nan_to_num_ defaults": ([(2, 3)], lambda t: t.nan_to_num_()),
    "normal_": ([(2, 3)], lambda t: t.normal_(2.0, 0.0)),  # std 0: torch's value
    "uniform_": ([(2, 3)], lambda t: t.uniform_(-0.5, -0.5)),
}


def _values(shape, k, name):
    rng = np.random.default_rng(k)
    v = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if name.startswith("nan_to_num") and k == 0:
        v.reshape(-1)[:3] = [NAN, INF, -INF]
    return v


def _story(lib, name, target, dtype="float64"):
    """What an in-place op does to a leaf that requires grad (refused) and to
    a tensor of a graph (or a view of one): the nodes, the values and the
    gradients of every leaf."""
    shapes, fn = IN_PLACE[name]
    shapes = [((shapes[0][0] + 1,) + shapes[0][1:]) if target == "view" else shapes[0]] + shapes[1:]
    d = getattr(lib, dtype)
    leaves = [lib.tensor(_values(s, k, name).tolist(), dtype=d, requires_grad=True) for k, s in enumerate(shapes)]
    refused = error_summary(lambda: fn(leaves[0], *leaves[1:]))
    base = leaves[0] * 1
    t = base[1:] if target == "view" else base
    version = t._version
    r = fn(t, *leaves[1:])
    assert r is t and t._version == version + 1
    w = lib.tensor(np.arange(1.0, 1.0 + base.numel()).reshape(tuple(base.shape)).tolist(), dtype=d)
    (base * w).sum().backward()
    return refused, graph_of(base.grad_fn), base.tolist(), [x.grad.tolist() for x in leaves]


# Matrix products sum in another order than torch's: their values agree to rounding.
PRODUCTS = {"addmm_", "baddbmm_"}


def _same(ours, theirs, rtol=0.0):
    """Equal nodes and messages; equal numbers (NaN where torch has NaN), or within rtol."""
    if not rtol:
        np.testing.assert_equal(ours, theirs)
        return
    assert ours[:2] == theirs[:2]
    for a, b in zip([ours[2]] + ours[3], [theirs[2]] + theirs[3]):
        _close(a, b, rtol)


def _close(a, b, rtol):
    b = np.asarray(b, dtype=np.float64)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(b), initial=0))))


@pytest.mark.parametrize("target", ["tensor", "view"])
@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_records_torchs_node(name, target):
    _same(_story(cgrad, name, target), _story(torch, name, target), 1e-14 if name in PRODUCTS else 0.0)


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_in_float32(name):
    _same(_story(cgrad, name, "tensor", "float32"), _story(torch, name, "tensor", "float32"),
          1e-6 if name in PRODUCTS else 0.0)


def test_in_place_node_names():
    for name, node in [("addcmul_", "AddcmulBackward0"), ("addcdiv_", "AddcdivBackward0"),
                       ("addmm_", "AddmmBackward0"), ("baddbmm_", "BaddbmmBackward0"),
                       ("cumsum_", "CumsumBackward0"), ("cumprod_", "CumprodBackward0"),
                       ("deg2rad_", "Deg2RadBackward0"), ("rad2deg_", "Rad2DegBackward0"),
                       ("nan_to_num_", "NanToNumBackward0"), ("normal_", "NormalBackward0"),
                       ("uniform_", "UniformBackward0")]:
        assert _story(cgrad, name, "tensor")[1][0] == node
        assert _story(cgrad, name, "view")[1][0] == "CopySlices"


# The leaf is refused before the op's own arguments are checked, as torch.
LEAF_FIRST = {
    "normal_ std < 0": lambda m, x: x.normal_(0, -1),
    "uniform_ from > to": lambda m, x: x.uniform_(2, 1),
    "cumsum_ dim": lambda m, x: x.cumsum_(5),
    "addcdiv_ integers": lambda m, x: x.addcdiv_(x.long(), x.long()),
}


@pytest.mark.parametrize("case", sorted(LEAF_FIRST))
def test_the_leaf_is_refused_first(case):
    ours = error_summary(lambda: LEAF_FIRST[case](cgrad, cgrad.ones(3, requires_grad=True)))
    theirs = error_summary(lambda: LEAF_FIRST[case](torch, torch.ones(3, requires_grad=True)))
    assert ours == theirs and "leaf Variable" in ours[1]


ERRORS = {
    "addcmul_ into int64": lambda m: m.ones(3, dtype=m.int64).addcmul_(m.ones(3), m.ones(3)),
    "addcmul_ broadcast order": lambda m: m.ones(3).addcmul_(m.ones(2), m.ones(3)),
    "addcmul broadcast order": lambda m: m.addcmul(m.ones(3), m.ones(2), m.ones(3)),
    "addcdiv broadcast order": lambda m: m.addcdiv(m.ones(3), m.ones(2), m.ones(3)),
    "addcdiv tensor2 a number": lambda m: m.ones(3).addcdiv(m.ones(3), 2),
    "nan_to_num posinf a string": lambda m: m.ones(3).nan_to_num(posinf="a"),
    "nan_to_num_ nan a list": lambda m: m.ones(3).nan_to_num_(nan=[1.0]),
    "nan_to_num neginf a 1-d tensor": lambda m: m.nan_to_num(m.ones(3), neginf=m.ones(1)),
    "cumsum_ dtype": lambda m: m.ones(3).cumsum_(0, dtype=m.float64),
    "cumsum_ dtype of float64": lambda m: m.ones(3, dtype=m.float64).cumsum_(0, dtype=m.int64),
    "cumprod_ dtype": lambda m: m.ones(3, dtype=m.int64).cumprod_(0, dtype=m.float32),
    "cumsum_ of bool": lambda m: m.ones(3, dtype=m.bool).cumsum_(0),
    "cumprod_ of bool": lambda m: m.ones(3, dtype=m.bool).cumprod_(-1),
    "deg2rad_ of int64": lambda m: m.ones(3, dtype=m.int64).deg2rad_(),
    "rad2deg_ of int64": lambda m: m.ones(3, dtype=m.int64).rad2deg_(),
    "deg2rad_ of bool": lambda m: m.ones(3, dtype=m.bool).deg2rad_(),
    "addmm_ into a smaller input": lambda m: m.ones(3).addmm_(m.ones(2, 4), m.ones(4, 3)),
    "addmm_ into a row": lambda m: m.ones(1, 3).addmm_(m.ones(2, 4), m.ones(4, 3)),
    "baddbmm_ into a smaller input": lambda m: m.ones(3).baddbmm_(m.ones(1, 2, 4), m.ones(1, 4, 3)),
    "normal_ std NaN": lambda m: m.ones(2).normal_(0, NAN),
    "uniform_ wider than float32": lambda m: m.ones(2).uniform_(-3e38, 3e38),
    "uniform_ wider than float64": lambda m: m.ones(2, dtype=m.float64).uniform_(-1.7e308, 1.7e308),
    "uniform_ from -inf": lambda m: m.ones(2).uniform_(-INF, 0),
    "uniform_ to beyond float32": lambda m: m.ones(2).uniform_(1, 1e39),
    "uniform_ to inf in float64": lambda m: m.ones(2, dtype=m.float64).uniform_(0, INF),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_match_torch(case):
    ours, theirs = error_summary(lambda: ERRORS[case](cgrad)), error_summary(lambda: ERRORS[case](torch))
    assert theirs is not None and ours == theirs


# ---- the out-of-place forms: one node each, as torch ------------------------------------

OUT_OF_PLACE = {
    "addcdiv": ([(2, 3), (3,), (2, 1)], lambda m, a, b, c: m.addcdiv(a, b, c, value=-1.25)),
    "addcdiv method": ([(2, 1), (3,), (2, 3)], lambda m, a, b, c: a.addcdiv(b, c)),
    "addcdiv of many values": ([(64,), (64,), (64,)], lambda m, a, b, c: a.addcdiv(b, c, value=-0.3)),
    "deg2rad": ([(2, 3)], lambda m, a: m.deg2rad(a)),
    "rad2deg": ([(2, 3)], lambda m, a: a.rad2deg()),
    "nan_to_num": ([(2, 3)], lambda m, a: m.nan_to_num(a, 1.5, neginf=-3.0)),
    "nan_to_num defaults": ([(2, 3)], lambda m, a: a.nan_to_num()),
}


def _out_story(lib, name, dtype):
    shapes, fn = OUT_OF_PLACE[name]
    d = getattr(lib, dtype)
    key = "nan_to_num" if name.startswith("nan_to_num") else name
    xs = [lib.tensor(_values(s, k, key).tolist(), dtype=d, requires_grad=True) for k, s in enumerate(shapes)]
    y = fn(lib, *xs)
    w = lib.tensor(np.linspace(-1.0, 2.0, y.numel()).reshape(tuple(y.shape)).tolist(), dtype=d)
    g = lib.autograd.grad((y * y * w).sum(), xs, create_graph=True)
    second = lib.autograd.grad(sum((gi * gi).sum() for gi in g), xs, allow_unused=True)
    return (graph_of(y.grad_fn), str(y.dtype).split(".")[-1], y.tolist(), [gi.tolist() for gi in g],
            [None if s is None else s.tolist() for s in second])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OUT_OF_PLACE))
def test_out_of_place_records_one_node_as_torch(name, dtype):
    """Nodes, values and first derivatives equal to torch's; second
    derivatives sum their parts in the engine's order, equal to rounding."""
    ours, theirs = _out_story(cgrad, name, dtype), _out_story(torch, name, dtype)
    np.testing.assert_equal(ours[:4], theirs[:4])
    for a, b in zip(ours[4], theirs[4]):
        assert (a is None) == (b is None)
        if a is not None:
            _close(a, b, 1e-6 if dtype == "float32" else 1e-13)


RESULTS = [
    lambda m: m.addcmul(m.ones(3), m.tensor(2.0, dtype=m.float64), m.ones(3)),  # a 0-d operand does not promote
    lambda m: m.addcdiv(m.ones(3), m.tensor(2.0, dtype=m.float64), m.ones(3)),
    lambda m: m.addcdiv(m.ones(3, dtype=m.int64), m.ones(3), m.ones(3)),
    lambda m: m.addcdiv(m.ones(3, dtype=m.bool), m.ones(3, dtype=m.int64), m.ones(3)),
    lambda m: m.deg2rad(m.tensor([True, False])),
    lambda m: m.rad2deg(m.tensor([180, -90])),
    lambda m: m.nan_to_num(m.tensor([1, 2])),
]


def test_result_dtypes_and_values_are_torchs():
    for call in RESULTS:
        ours, theirs = call(cgrad), call(torch)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        assert ours.tolist() == theirs.tolist()
        assert ours.grad_fn is None
