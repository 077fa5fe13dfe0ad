"""autograd.graph.saved_tensors_hooks, save_on_cpu and disable_saved_tensors_hooks, against torch."""
import gc
import threading
import warnings
import weakref

import numpy as np
import pytest

import cgrad
from helpers import same_error

torch = pytest.importorskip("torch")


def leaves(T, dtype="float64"):
    dt = getattr(T, dtype)
    a = T.tensor([1.5, -2.0, 0.25], dtype=dt, requires_grad=True)
    b = T.tensor([3.0, 0.5, -1.25], dtype=dt, requires_grad=True)
    return a, b


OPS = {
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "add": lambda a, b: a + b,
    "mul_number": lambda a, b: a * 2.0,
    "pow": lambda a, b: a ** 2,
    "exp": lambda a, b: a.exp(),
    "tanh": lambda a, b: a.tanh(),
    "sigmoid": lambda a, b: a.sigmoid(),
    "relu": lambda a, b: a.relu(),
    "log": lambda a, b: (b * b).log(),
    "sum": lambda a, b: a.sum(),
    "mean": lambda a, b: a.mean(),
    "max": lambda a, b: a.max(),
    "softmax": lambda a, b: a.softmax(0),
    "view": lambda a, b: a.view(3, 1),
    "select": lambda a, b: a[0],
    "matmul": lambda a, b: a @ b,
    "chain": lambda a, b: (a * b).tanh().exp().sum(),
}


def packs_of(T, op):
    """What the pack hook saw while op ran: shape, dtype, node name, is_leaf, in order."""
    a, b = leaves(T)
    seen = []

    def pack(x):
        seen.append((tuple(x.shape), str(x.dtype).split(".")[1], x.grad_fn.name() if x.grad_fn else None,
                     x.is_leaf, x.requires_grad))
        return x

    with T.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        OPS[op](a, b)
    return seen


@pytest.mark.parametrize("op", sorted(OPS))
def test_the_same_tensors_are_packed(op):
    assert packs_of(cgrad, op) == packs_of(torch, op)


def gradients(T, op, dtype, create_graph=False):
    """Gradients of op with hooks that keep each saved tensor as a numpy copy."""
    a, b = leaves(T, dtype)
    counts = {"pack": 0, "unpack": 0}

    def pack(x):
        counts["pack"] += 1
        return x.detach().numpy().copy()

    def unpack(arr):
        counts["unpack"] += 1
        return T.from_numpy(arr)

    with T.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = OPS[op](a, b)
        loss = (y * y).sum()
    grads = T.autograd.grad(loss, (a, b), allow_unused=True, create_graph=create_graph)
    out = [None if g is None else g.detach().numpy().copy() for g in grads]
    if create_graph:
        second = T.autograd.grad(sum(g.sum() for g in grads if g is not None), (a, b), allow_unused=True)
        out += [None if g is None else g.numpy().copy() for g in second]
    return out, counts


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", sorted(OPS))
def test_gradients_through_packed_tensors(op, dtype):
    ours, our_counts = gradients(cgrad, op, dtype)
    theirs, their_counts = gradients(torch, op, dtype)
    assert our_counts == their_counts
    for g, t in zip(ours, theirs):
        assert (g is None) == (t is None)
        if g is not None:
            np.testing.assert_allclose(g, t, rtol=1e-5 if dtype == "float32" else 1e-12,
                                       atol=1e-6 if dtype == "float32" else 0)


@pytest.mark.parametrize("op", ["mul", "div", "exp", "tanh", "sigmoid", "chain", "matmul", "pow"])
def test_second_order_through_packed_tensors(op):
    """The unpacked tensor takes the saved one's place in the graph: an input's history, an output's node."""
    ours, _ = gradients(cgrad, op, "float64", create_graph=True)
    theirs, _ = gradients(torch, op, "float64", create_graph=True)
    for g, t in zip(ours, theirs):
        assert (g is None) == (t is None)
        if g is not None:
            np.testing.assert_allclose(g, t, rtol=1e-12, atol=1e-15)


def unpack_counts(T):
    a, b = leaves(T)
    log = []
    with T.autograd.graph.saved_tensors_hooks(lambda x: x, lambda x: log.append("u") or x):
        y = (a * b).exp().sum()
    after_forward = len(log)
    y.backward(retain_graph=True)
    first = len(log)
    y.backward()
    return after_forward, first, len(log)


def test_unpack_runs_once_per_saved_tensor_per_backward():
    assert unpack_counts(cgrad) == unpack_counts(torch) == (0, 3, 6)


def test_a_freed_graph_fails_as_without_hooks():
    def run(T):
        a, b = leaves(T)
        with T.autograd.graph.saved_tensors_hooks(lambda x: x, lambda x: x):
            y = (a * b).sum()
        y.backward()
        y.backward()
    same_error(run)


def test_saved_tensors_view_unpacks():
    a, b = leaves(cgrad)
    calls = []
    with cgrad.autograd.graph.saved_tensors_hooks(lambda x: ("p", x), lambda p: calls.append(1) or p[1]):
        y = a * b
    saved = [t for t in y.grad_fn._saved_tensors if t is not None]
    assert len(calls) == 2 and len(saved) == 2
    assert saved[0].tolist() == a.tolist() and saved[1].tolist() == b.tolist()


def test_unpack_must_return_a_tensor():
    def run(T):
        a, b = leaves(T)
        with T.autograd.graph.saved_tensors_hooks(lambda x: x, lambda x: 3):
            y = (a * b).sum()
        y.backward()
    same_error(run)


def test_pack_must_not_modify_its_input():
    def run(T):
        a, b = leaves(T)
        c = a * 1.0

        def pack(x):
            with T.no_grad():
                x.add_(1)
            return x
        with T.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
            c * b
    same_error(run)


def test_hook_exceptions_propagate():
    def bad(x):
        raise KeyError("from the hook")

    a, b = leaves(cgrad)
    with pytest.raises(KeyError, match="from the hook"):
        with cgrad.autograd.graph.saved_tensors_hooks(bad, lambda x: x):
            a * b
    with cgrad.autograd.graph.saved_tensors_hooks(lambda x: x, bad):
        y = (a * b).sum()
    with pytest.raises(KeyError, match="from the hook"):
        y.backward()
    # the hooks are gone and nothing is left queued: later ops run plainly
    (a * b).sum().backward()
    assert a.grad.tolist() == b.tolist()


def test_unpack_must_give_back_the_saved_dtype_and_shape():
    """cgrad's kernels read what was saved as it was saved: another dtype or shape is an error."""
    a, b = leaves(cgrad)
    for unpack in (lambda x: x.float(), lambda x: x[:2]):
        with cgrad.autograd.graph.saved_tensors_hooks(lambda x: x, unpack):
            y = (a * b).sum()
        with pytest.raises(RuntimeError, match="unpack_hook returned a"):
            y.backward()


def grad_mode_seen(T):
    a, b = leaves(T)
    seen = []
    with T.autograd.graph.saved_tensors_hooks(lambda x: seen.append(T.is_grad_enabled()) or x,
                                              lambda x: seen.append(T.is_grad_enabled()) or x):
        y = (a * b).sum()
    T.autograd.grad(y, a, create_graph=True)
    return seen


def test_grad_mode_inside_the_hooks():
    assert grad_mode_seen(cgrad) == grad_mode_seen(torch)


def nesting(T):
    a, b = leaves(T)
    seen = []
    with T.autograd.graph.saved_tensors_hooks(lambda x: seen.append("outer") or x, lambda x: x):
        a * b
        with T.autograd.graph.saved_tensors_hooks(lambda x: seen.append("inner") or x, lambda x: x):
            a * b
        a.exp()
    a * b
    with T.no_grad(), T.autograd.graph.saved_tensors_hooks(lambda x: seen.append("no_grad") or x, lambda x: x):
        a * b
    return seen


def test_the_innermost_hooks_apply_and_only_inside():
    assert nesting(cgrad) == nesting(torch)


def disabled(T):
    g = T.autograd.graph
    out = []
    with g.disable_saved_tensors_hooks("one"):
        with g.disable_saved_tensors_hooks("two"):
            out.append(type_message(lambda: g.saved_tensors_hooks(lambda x: x, lambda x: x).__enter__()))
        out.append(type_message(lambda: g.saved_tensors_hooks(lambda x: x, lambda x: x).__enter__()))
    with g.saved_tensors_hooks(lambda x: x, lambda x: x):
        with pytest.raises(RuntimeError) as err:
            with g.disable_saved_tensors_hooks("while on"):
                pass
        out.append(str(err.value))
    with g.save_on_cpu():
        pass
    return out


def type_message(fn):
    with pytest.raises(Exception) as err:
        fn()
    return type(err.value).__name__, str(err.value)


def test_disable_saved_tensors_hooks():
    assert disabled(cgrad) == disabled(torch) == [("RuntimeError", "two"), ("RuntimeError", "one"), "while on"]


def function_saves(T):
    class Square(T.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return 2 * g * x * y, g * x * x

    a, b = leaves(T)
    log = []
    with T.autograd.graph.saved_tensors_hooks(lambda x: log.append("p") or x.detach().clone(),
                                              lambda x: log.append("u") or x):
        out = Square.apply(a, b).sum()
    out.backward()
    return log, a.grad.tolist(), b.grad.tolist()


def test_custom_function_saves_go_through_the_hooks():
    assert function_saves(cgrad) == function_saves(torch)


def on_cpu(T, pin):
    a, b = leaves(T)
    with T.autograd.graph.save_on_cpu(pin_memory=pin):
        loss = ((a * b).tanh() * a).sum()
    loss.backward()
    return a.grad.tolist(), b.grad.tolist()


@pytest.mark.parametrize("pin", [False, True])
def test_save_on_cpu(pin):
    ours, theirs = on_cpu(cgrad, pin), on_cpu(torch, pin)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def modified_after_packing(T):
    """A packed tensor has no version check: backward uses what the unpack hook gives."""
    a, b = leaves(T)
    c = b * 1.0
    with T.autograd.graph.saved_tensors_hooks(lambda x: x, lambda x: x):
        y = (a * c).sum()
    with T.no_grad():
        c.mul_(10)
    y.backward()
    return a.grad.tolist()


def test_no_version_check_on_packed_tensors():
    assert modified_after_packing(cgrad) == modified_after_packing(torch)


def test_an_output_packed_as_itself_is_collected():
    """The packed output holds its own node: a cycle through C that the collector must free."""
    a, _ = leaves(cgrad)
    refs = []

    def pack(x):
        refs.append(weakref.ref(x))
        return x

    for _ in range(3):
        with cgrad.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
            y = a.exp()
            z = (y * y).sum()
        del y, z
    gc.collect()
    assert refs and not any(r() is not None for r in refs)


def test_hooks_are_per_thread():
    a, b = leaves(cgrad)
    seen = []
    started, release = threading.Event(), threading.Event()

    def other():
        started.set()
        release.wait(5)
        (a * b).sum().backward()

    t = threading.Thread(target=other)
    t.start()
    started.wait(5)
    with cgrad.autograd.graph.saved_tensors_hooks(lambda x: seen.append(1) or x, lambda x: x):
        release.set()
        t.join()
        a * b
    assert seen == [1, 1]


def test_compile_falls_back_on_a_pack_hook():
    w = cgrad.tensor([0.5, -1.0], dtype=cgrad.float64, requires_grad=True)

    def step(x):
        with cgrad.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            loss = (x * w).tanh().sum()
        loss.backward()
        return loss

    compiled = cgrad.compile(step)
    x = cgrad.tensor([1.0, 2.0], dtype=cgrad.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        losses = [compiled(x).item() for _ in range(3)]
    assert any("saved tensor hook" in str(c.message) for c in caught)
    assert losses == [step(x).item() for _ in range(3)]
