"""The graph as Python sees it: grad_fn, name(), next_functions, node classes,
saved tensors, get_gradient_edge, walk; compared with torch."""
import gc
import weakref

import numpy as np
import pytest

import cgrad
from cgrad.autograd.graph import Node, get_gradient_edge, walk

from test_autograd_ops import OPS, _inputs, _params


def structure(root):
    """The graph under root as nested (name, [(child structure or None, input_nr)]),
    walked iteratively in next_functions order (shared nodes repeat)."""
    out = []
    stack = [(root, out)]
    while stack:
        node, into = stack.pop()
        children = []
        into.append((node.name(), children))
        for nxt, nr in node.next_functions:
            if nxt is None:
                children.append((None, nr))
            else:
                holder = []
                children.append((holder, nr))
                stack.append((nxt, holder))
    return out


def freeze(s):
    if isinstance(s, list):
        return tuple(freeze(e) for e in s)
    if isinstance(s, tuple):
        return tuple(freeze(e) for e in s)
    return s


# Ops whose graphs differ from torch's in shape, not in gradients (reported to
# the owners of those ops): torch reshapes batched operands with
# ReshapeAliasBackward0; cgrad fuses linear's weight transpose into AddmmBackward0.
STRUCTURE_DIFFERS = {"matmul 2d @ 3d", "mT", "linear"}
SAME_STRUCTURE = [op for op in OPS if op.name not in STRUCTURE_DIFFERS]


@pytest.mark.parametrize("op", _params(SAME_STRUCTURE))
def test_graph_structure_matches_torch(op):
    torch = pytest.importorskip("torch")
    ours = op.fn(cgrad, *_inputs(op, cgrad))
    theirs = op.fn(torch, *_inputs(op, torch))
    assert freeze(structure(ours.grad_fn)) == freeze(structure(theirs.grad_fn))


def test_next_functions_of_a_leaf_and_a_constant():
    x = cgrad.tensor([1.0], requires_grad=True)
    y = x * cgrad.tensor([2.0])
    (acc, nr), (none, nr2) = y.grad_fn.next_functions
    assert type(acc).__name__ == "AccumulateGrad" and acc.name() == "torch::autograd::AccumulateGrad"
    assert acc.variable is x and nr == 0
    assert none is None and nr2 == 0
    assert acc.next_functions == ()


def test_output_nr_of_a_multi_output_node():
    class Two(cgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, a, b):
            return a + 2 * b

    x = cgrad.tensor([1.0], requires_grad=True)
    a, b = Two.apply(x)
    (_, nr_a), (_, nr_b) = (a + b).grad_fn.next_functions
    assert (nr_a, nr_b) == (0, 1)
    assert get_gradient_edge(b) == (b.grad_fn, 1)


def test_grad_fn_is_the_same_object_while_alive():
    x = cgrad.tensor([1.0], requires_grad=True)
    y = x * 2
    f = y.grad_fn
    assert y.grad_fn is f
    assert isinstance(f, Node) and type(f).__name__ == "MulBackward0"
    assert repr(f).startswith("<MulBackward0 object at 0x")


def test_node_classes_are_shared_per_op():
    x = cgrad.tensor([1.0], requires_grad=True)
    assert type((x * 2).grad_fn) is type((x * 3).grad_fn)
    assert type((x * 2).grad_fn) is not type((x + 2).grad_fn)


def test_node_wrapper_does_not_keep_the_tensor_alive():
    x = cgrad.tensor([1.0], requires_grad=True)
    y = x * 2
    f = y.grad_fn
    ref = weakref.ref(y)
    del y
    gc.collect()
    assert ref() is None
    assert f.name() == "MulBackward0"  # the node lives on with its wrapper


def test_saved_tensors_meta():
    x = cgrad.tensor([[1.0, 2.0]], requires_grad=True)
    w = cgrad.tensor([3.0, 4.0], dtype=cgrad.float64, requires_grad=True)
    y = x.double() * w
    meta = y.grad_fn._saved_meta()
    assert meta[0] == ((1, 2), cgrad.float64) and meta[1] == ((2,), cgrad.float64)
    t = x.tanh()
    assert t.grad_fn._saved_meta()[2] == ((1, 2), cgrad.float32)
    saved = t.grad_fn._saved_tensors[2]
    np.testing.assert_allclose(saved.numpy(), np.tanh([[1.0, 2.0]]), rtol=1e-6)
    t.sum().backward()
    assert t.grad_fn._saved_meta() == [None, None, None]  # freed by backward


def test_input_metadata():
    x = cgrad.tensor([[1.0, 2.0]], requires_grad=True)
    y = x * cgrad.tensor(2.0, dtype=cgrad.float64)
    assert y.grad_fn._input_metadata()[0] == ((1, 2), cgrad.float32)


def test_get_gradient_edge():
    x = cgrad.tensor([1.0], requires_grad=True)
    node, nr = get_gradient_edge(x)
    assert type(node).__name__ == "AccumulateGrad" and node.variable is x and nr == 0
    y = x * 2
    assert get_gradient_edge(y) == (y.grad_fn, 0)
    with pytest.raises(RuntimeError, match="does not require gradients"):
        get_gradient_edge(cgrad.tensor([1.0]))


def test_walk_visits_each_node_once_without_recursion():
    x = cgrad.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20000):  # far deeper than Python's recursion limit
        y = y * 1.0001
    z = y + y
    nodes = walk([z.grad_fn])
    assert len(nodes) == 20000 + 2
    assert type(nodes[-1]).__name__ == "AccumulateGrad"


LAYOUTS = {  # how the op's input lies in memory
    "contiguous": lambda m: m.tanh() * 1,
    "transposed": lambda m: m.transpose(0, 1),
    "offset view": lambda m: m[1:],
    "scalar": lambda m: m.sum(),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("op", ["tanh", "exp", "sigmoid"])
def test_saved_outputs_of_every_layout_give_torchs_values_and_gradients(op, layout):
    torch = pytest.importorskip("torch")
    data = [[0.5, -1.0, 2.0], [0.25, 1.5, -0.75]]
    results = []
    for lib in (cgrad, torch):
        x = lib.tensor(data, dtype=lib.float64, requires_grad=True)
        y = getattr(LAYOUTS[layout](x), op)()
        saved = y.grad_fn._saved_tensors[2] if lib is cgrad else y.grad_fn._saved_result
        assert tuple(saved.shape) == tuple(y.shape)
        g, = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), x)
        results.append([np.asarray(t.detach().numpy()) for t in (saved, y, g, gg)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shapes", [((3,), (2, 3)), ((2, 3), (3,)), ((2, 3), (2, 3))])
def test_a_saved_power_broadcast_or_not_gives_torchs_gradients(shapes):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (cgrad, torch):
        a = lib.linspace(0.5, 2.0, int(np.prod(shapes[0])), dtype=lib.float64).reshape(shapes[0])
        b = lib.linspace(-1.0, 1.5, int(np.prod(shapes[1])), dtype=lib.float64).reshape(shapes[1])
        a.requires_grad_()
        b.requires_grad_()
        y = a ** b  # saves its result, laid out as input 0 only when nothing broadcasts
        ga, gb = lib.autograd.grad((y * y).sum(), (a, b), create_graph=True)
        gga, ggb = lib.autograd.grad((ga * gb).sum(), (a, b))
        results.append([t.detach().numpy() for t in (y, ga, gb, gga, ggb)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_a_saved_output_written_in_place_through_a_view_is_caught():
    x = cgrad.tensor([0.5, -1.0, 2.0], dtype=cgrad.float64, requires_grad=True)
    y = x.exp()
    with cgrad.no_grad():
        y[1:].mul_(2)
    with pytest.raises(RuntimeError, match=r"\[torch.DoubleTensor \[3\]\], which is output 0 of Exp, "
                                           r"is at version 1; expected version 0"):
        y.sum().backward()


# Element-wise backward formulas write over a gradient nothing else holds
# (Note [Gradients computed in place] in csrc/ops_elementwise.c). Whoever
# does hold one must see it unchanged: a hook that kept it, a retained
# .grad, the gradient given to backward, a gradient sent down two edges.

def _chain(T, x, kept, shapes_seen):
    """x through every formula that can take the in-place path, with an
    intermediate's gradient kept by a hook, one retained, one shared."""
    a = (x * 1.5).tanh()
    a.register_hook(lambda g: kept.append(g))
    b = a.exp()
    b.retain_grad()
    c = (b + b.sigmoid()) / 3.0          # the gradient of c reaches b down two edges
    d = c.relu() * c                     # c's gradient summed from two formulas
    e = (d + 2.0).log() * T.tensor(0.5, dtype=x.dtype)  # a 0-d factor: broadcast against g
    shapes_seen.append(tuple(e.shape))
    return e, b


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradients_held_elsewhere_are_not_overwritten(dtype):
    torch = pytest.importorskip("torch")
    xs = np.linspace(-1.2, 1.3, 7)
    out = {}
    for T in (cgrad, torch):
        x = T.tensor(xs, dtype=getattr(T, dtype), requires_grad=True)
        kept, shapes = [], []
        e, b = _chain(T, x, kept, shapes)
        seed = T.tensor(np.linspace(0.5, 2.0, 7), dtype=getattr(T, dtype))
        e.backward(seed)
        out[T.__name__] = (np.array(x.grad.tolist()), np.array(kept[0].tolist()),
                           np.array(b.grad.tolist()), np.array(seed.tolist()))
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for ours, theirs in zip(out["cgrad"], out["torch"]):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(out["cgrad"][3], np.array(np.linspace(0.5, 2.0, 7), dtype=dtype))


def test_a_chain_of_formulas_gives_torchs_gradients_with_and_without_a_graph():
    torch = pytest.importorskip("torch")
    first, second = {}, {}
    for T in (cgrad, torch):
        x = T.tensor([0.3, -0.7, 1.1], dtype=T.float64, requires_grad=True)
        s = T.tensor(0.8, dtype=T.float64, requires_grad=True)
        y = x
        for _ in range(5):
            y = (y * s).tanh().exp() / (1.0 + s)
        (g,) = T.autograd.grad(y.sum(), x, create_graph=True)
        y.sum().backward(retain_graph=True)
        (gg,) = T.autograd.grad(g.sum(), s)
        first[T.__name__] = (g.tolist(), x.grad.tolist(), s.grad.tolist())
        second[T.__name__] = gg.tolist()
    for ours, theirs in zip(first["cgrad"], first["torch"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(second["cgrad"], second["torch"], rtol=1e-12)


def test_a_float32_gradient_times_a_float64_saved_tensor():
    torch = pytest.importorskip("torch")
    res = {}
    for T in (cgrad, torch):
        x = T.tensor([0.5, 1.5], dtype=T.float32, requires_grad=True)
        w = T.tensor([2.0, 3.0], dtype=T.float64, requires_grad=True)
        y = (x.tanh() * w).sum()
        y.backward()
        res[T.__name__] = (x.grad.tolist(), w.grad.tolist(), str(x.grad.dtype).split(".")[-1])
    assert res["cgrad"][2] == res["torch"][2]
    np.testing.assert_allclose(res["cgrad"][0], res["torch"][0], rtol=1e-6)
    np.testing.assert_allclose(res["cgrad"][1], res["torch"][1], rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("square_first", [True, False])
def test_a_square_adds_its_gradient_twice_as_torch_does(dtype, square_first):
    """x * x sends g * x down both of its edges to x. Where x's gradient has
    already begun (the square made first, so its backward runs last), the two
    shares are added in one pass, (have + g) + g: the same bits as torch's
    two adds in a row."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    data, w, v = (rng.standard_normal(1000).astype(dtype) for _ in range(3))

    def run(lib, from_numpy):
        x = from_numpy(data.copy()).requires_grad_()
        c, d = from_numpy(w.copy()), from_numpy(v.copy())
        if square_first:
            square = x * x * c
            other = x * d * 3
        else:
            other = x * d * 3
            square = x * x * c
        loss = (square + other).sum()
        loss.backward()
        h = from_numpy(data.copy()).requires_grad_()  # and a square with no other branch
        (h * h * c).sum().backward()
        return x.grad.numpy(), h.grad.numpy()

    got, want = run(cgrad, cgrad.from_numpy), run(torch, torch.from_numpy)
    for g, t in zip(got, want):
        np.testing.assert_array_equal(g, t)
