"""tril and triu (TrilBackward0, TriuBackward0) and their in-place forms, and
the nodes of sort's and topk's values (SortBackward0, TopkBackward0), against
torch: values for every dtype and diagonal, gradients, nodes, errors."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

DIAGONALS = [0, 1, -1, 2, -3, 5, -7, 2 ** 62, -(2 ** 62)]


def _sample(lib, shape, dtype):
    values = lib.arange(1, int(np.prod(shape)) + 1).reshape(shape)
    if dtype == "bool":
        return values % 3 != 0
    if dtype.startswith("float"):
        values = values.to(getattr(lib, dtype)) * 0.5 - 2.0
    return values


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (2, 3, 3), (2, 1, 2, 5), (0, 3), (3, 0), (2, 0, 4)], ids=str)
@pytest.mark.parametrize("name", ["tril", "triu"])
def test_values_are_torchs(name, shape, dtype):
    for k in DIAGONALS:
        ours = getattr(_sample(cgrad, shape, dtype), name)(k)
        theirs = getattr(_sample(torch, shape, dtype), name)(k)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        assert ours.tolist() == theirs.tolist(), (name, k)


@pytest.mark.parametrize("name", ["tril", "triu"])
def test_a_transposed_input_and_special_values(name):
    for lib_pair in [(cgrad, torch)]:
        out = []
        for lib in lib_pair:
            x = lib.tensor([[float("nan"), float("inf")], [-float("inf"), 2.0], [3.0, float("nan")]]).T
            out.append([getattr(x, name)(k).tolist() for k in (-1, 0, 1)] + [getattr(lib, name)(x).tolist()])
        np.testing.assert_array_equal(np.array(out[0]), np.array(out[1]))


def _story(lib, name, k, in_place, target):
    leaf = lib.tensor(np.linspace(-1.0, 2.0, 24).reshape(2, 3, 4).tolist(), dtype=lib.float64, requires_grad=True)
    base = leaf * 1
    t = base[:, 1:] if target == "view" else base
    version = t._version
    if in_place:
        r = getattr(t, name + "_")(k)
        assert r is t and t._version == version + 1
    else:
        r = getattr(t, name)(k)
    w = lib.tensor(np.arange(24.0).reshape(2, 3, 4).tolist(), dtype=lib.float64)
    ((base if in_place else r) * (w if in_place else w[:, 1:] if target == "view" else w)).sum().backward()
    node = (base if in_place else r).grad_fn.name()
    return node, r.tolist(), leaf.grad.tolist()


@pytest.mark.parametrize("target", ["tensor", "view"])
@pytest.mark.parametrize("in_place", [False, True], ids=["out", "in_place"])
@pytest.mark.parametrize("name", ["tril", "triu"])
def test_gradients_and_nodes_are_torchs(name, in_place, target):
    for k in (0, 1, -2):
        assert _story(cgrad, name, k, in_place, target) == _story(torch, name, k, in_place, target)


@pytest.mark.parametrize("name", ["tril", "triu"])
def test_second_order_gradient(name):
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]], dtype=lib.float64, requires_grad=True)
        y = getattr(x, name)(0) ** 3
        g, = lib.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()
        out.append((g.grad_fn.name(), g.tolist(), x.grad.tolist()))
    assert out[0] == out[1]


@pytest.mark.parametrize("call", [
    lambda m: m.tril(m.tensor([1.0, 2.0])),
    lambda m: m.tensor(1.0).triu(),
    lambda m: m.tensor([[1.0, 2.0]], requires_grad=True).tril_(),
    lambda m: m.tensor([[1.0, 2.0]], requires_grad=True)[:, :1].triu_(),
    lambda m: m.tensor([[1.0, 2.0]]).tril(1.5),
])
def test_errors_are_torchs(call):
    outcomes = []
    for lib in (cgrad, torch):
        with pytest.raises(Exception) as info:
            call(lib)
        outcomes.append((type(info.value).__name__, str(info.value).split("\n")[0]))
    assert outcomes[0][0] == outcomes[1][0]
    assert outcomes[0][1] == outcomes[1][1] or outcomes[0][0] == "TypeError"


def test_without_grad_no_node_and_in_place_under_no_grad():
    x = cgrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    with cgrad.no_grad():
        assert x.tril().grad_fn is None
        y = x * 1
        y.triu_()
    assert y.grad_fn is None and y.tolist() == [[1.0, 2.0], [0.0, 4.0]]
    assert cgrad.tensor([[1.0, 2.0]]).tril().grad_fn is None


def test_compiled_step_replays_tril():
    w = cgrad.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)

    @cgrad.compile(fullgraph=True)
    def step(x):
        loss = ((x @ w).tril(-1) ** 2).sum() + (x * w).triu().sum()
        loss.backward()
        return loss

    eager_w = w.detach().clone().requires_grad_(True)
    for i in range(4):
        x = cgrad.tensor([[1.0 + i, 2.0], [3.0, -4.0 * i]])
        loss = step(x)
        e = ((x @ eager_w).tril(-1) ** 2).sum() + (x * eager_w).triu().sum()
        e.backward()
        assert loss.item() == e.item()
        assert w.grad.tolist() == eager_w.grad.tolist()


# ---- sort's and topk's values --------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda m, x: x.sort(1).values,
    lambda m, x: x.sort(0, descending=True)[0],
    lambda m, x: m.sort(x, stable=True, dim=-1).values,
    lambda m, x: x.sort(stable=False, dim=0, descending=True).values,
    lambda m, x: x.sort(stable=None).values,
    lambda m, x: x.topk(2, 1).values,
    lambda m, x: x.topk(1, 0, largest=False)[0],
    lambda m, x: m.topk(x, 3).values,
    lambda m, x: x.msort(),
    lambda m, x: x[0, 0].sort().values,
])
def test_sort_and_topk_values_record_torchs_node(call):
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([[0.5, -1.0, 2.0, 0.75], [3.0, 0.0, -2.0, 1.0], [1.5, 1.25, -0.5, 4.0]], dtype=lib.float64,
                       requires_grad=True)
        v = call(lib, x)
        (v * lib.arange(1.0, v.numel() + 1.0, dtype=lib.float64).reshape(v.shape)).sum().backward()
        node = v.grad_fn
        while node.name() == "SelectBackward0":  # msort: torch's values[...] of a sort along dim 0
            node = node.next_functions[0][0]
        out.append((node.name(), v.tolist(), x.grad.tolist()))
    assert out[0] == out[1]
