"""autograd.graph.register_multi_grad_hook and the engine queries under it, against torch."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def record(T, mode, run):
    """Runs run(T, tensors, hook) with a multi-grad hook on four tensors; what the hook saw, per call."""
    a = T.tensor([1.0, 2.0, 3.0], dtype=T.float64, requires_grad=True)
    b = T.tensor([0.5, -1.0, 4.0], dtype=T.float64, requires_grad=True)
    c = a * b
    d = (a * b).exp()
    seen = []

    def hook(grads):
        if mode == "all":
            seen.append([None if g is None else g.detach().numpy().tolist() for g in grads])
        else:
            seen.append(grads.detach().numpy().tolist())

    handle = T.autograd.graph.register_multi_grad_hook((a, b, c, d), hook, mode=mode)
    run(T, (a, b, c, d), handle)
    return seen


def backward_all(T, ts, handle):
    a, b, c, d = ts
    c.sum().backward(retain_graph=True)


def backward_inputs(T, ts, handle):
    a, b, c, d = ts
    (c.sum() + d.sum()).backward(inputs=(a,), retain_graph=True)


def grad_of(T, loss, inputs):
    """autograd.grad; torch's hook cannot count leaves inside it (it raises), so torch's side walks
    the same graph by backward(inputs=), whose hooks see the same gradients."""
    if T is torch:
        loss.backward(inputs=inputs, retain_graph=True)
    else:
        T.autograd.grad(loss, inputs, retain_graph=True)


def grad_of_b(T, ts, handle):
    a, b, c, d = ts
    grad_of(T, (c * d).sum(), [b])


def twice_then_removed(T, ts, handle):
    a, b, c, d = ts
    c.sum().backward(retain_graph=True)
    (c + d).sum().backward(retain_graph=True)
    handle.remove()
    (c + d).sum().backward(retain_graph=True)


def nested(T, ts, handle):
    a, b, c, d = ts
    e = c * 2
    done = []

    def inner(g):
        if not done:
            done.append(1)
            with T.enable_grad():
                grad_of(T, d.sum(), [a])
        return g

    e.register_hook(inner)
    e.sum().backward(retain_graph=True)


RUNS = [backward_all, backward_inputs, grad_of_b, twice_then_removed, nested]


@pytest.mark.parametrize("mode", ["all", "any"])
@pytest.mark.parametrize("run", RUNS, ids=[r.__name__ for r in RUNS])
def test_hook_sees_what_torch_sees(run, mode):
    ours, theirs = record(cgrad, mode, run), record(torch, mode, run)
    assert ours == theirs


def test_not_a_mode():
    t = cgrad.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"Expects mode to be one of \('all', 'any'\) but got some"):
        cgrad.autograd.graph.register_multi_grad_hook((t,), print, mode="some")


@pytest.mark.parametrize("mode", ["all", "any"])
def test_a_tensor_without_grad(mode):
    def outcome(T):
        x, y = T.tensor([1.0], requires_grad=True), T.tensor([2.0])
        try:
            T.autograd.graph.register_multi_grad_hook((x, y), lambda g: None, mode=mode)
        except Exception as e:  # noqa: BLE001 - the kind and text are what is compared
            return type(e).__name__, str(e)
        return None

    assert outcome(cgrad) == outcome(torch)


def test_engine_queries_outside_backward():
    assert cgrad._C._current_graph_task_id() == -1 == torch._C._current_graph_task_id()
    node = cgrad.tensor([1.0], requires_grad=True).exp().grad_fn
    with pytest.raises(RuntimeError, match="should only be called during the backward pass"):
        cgrad._C._will_engine_execute_node(node)


def test_engine_queries_inside_backward():
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    y = cgrad.tensor([3.0, 4.0], requires_grad=True)
    u, v = x.exp(), y.sin()
    seen = {}

    def look(g):
        seen["id"] = cgrad._C._current_graph_task_id()
        seen["u"] = cgrad._C._will_engine_execute_node(u.grad_fn)
        seen["v"] = cgrad._C._will_engine_execute_node(v.grad_fn)
        return g

    u.register_hook(look)
    (u + v).sum().backward(inputs=[x])
    assert seen["id"] >= 0 and seen["u"] and not seen["v"]
    np.testing.assert_allclose(np.asarray(x.grad), np.exp([1.0, 2.0]))
    assert y.grad is None


def test_gradient_edge_of_a_leaf_under_no_grad():
    x = cgrad.tensor([1.0], requires_grad=True)
    with cgrad.no_grad():
        node, nr = cgrad.autograd.graph.get_gradient_edge(x)
    assert node.name() == "torch::autograd::AccumulateGrad" and nr == 0
    assert node.variable is x
