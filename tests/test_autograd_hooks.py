"""Gradient hooks on tensors, pre- and post-hooks on nodes: run by the C engine,
which takes the GIL only for the Python call."""
import gc
import re
import traceback

import numpy as np
import pytest

import cgrad
from cgrad.autograd import grad


def leaf(values):
    return cgrad.tensor(values, dtype=cgrad.float64, requires_grad=True)


def close(t, values):
    np.testing.assert_allclose(np.asarray(t.detach().numpy()), values, rtol=1e-12)


def raises(exc, text):
    return pytest.raises(exc, match=re.escape(text))


# ---- tensor hooks -----------------------------------------------------------------

def test_hook_sees_the_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    close(x.grad, [3.0, 3.0])


def test_hook_on_leaf_replaces_the_gradient():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: g * 10)
    (x * x).sum().backward()
    close(x.grad, [20.0, 40.0])


def test_hook_on_non_leaf_changes_what_flows_on():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: g + 1)
    (y * 3).sum().backward()
    close(x.grad, [8.0, 8.0])


def test_hooks_run_in_registration_order():
    x = leaf([1.0])
    order = []
    x.register_hook(lambda g: order.append("a") or g * 2)
    x.register_hook(lambda g: order.append("b") or g + 1)
    x.sum().backward()
    assert order == ["a", "b"]
    close(x.grad, [3.0])


def test_hook_runs_once_per_backward_for_a_shared_tensor():
    x = leaf([1.0])
    y = x * 2
    calls = []
    y.register_hook(lambda g: calls.append(float(g.item())))
    (y * y + y).sum().backward()
    assert calls == [2 * 2.0 + 1]


def test_remove_hook():
    x = leaf([1.0, 2.0])
    handle = x.register_hook(lambda g: g * 10)
    handle.remove()
    handle.remove()  # twice is harmless
    (x * 1).sum().backward()
    close(x.grad, [1.0, 1.0])


def test_remove_hook_after_the_tensor_object_is_gone():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y * 3
    handle = y.register_hook(lambda g: g * 100)
    del y
    gc.collect()
    handle.remove()
    z.sum().backward()
    close(x.grad, [6.0, 6.0])


def test_hook_handle_is_a_context_manager():
    x = leaf([1.0])
    with x.register_hook(lambda g: g * 10):
        (x * 1).sum().backward()
    close(x.grad, [10.0])
    (x * 1).sum().backward()
    close(x.grad, [11.0])


def test_removing_a_hook_from_inside_another_hook():
    x = leaf([1.0])
    handles = []
    handles.append(x.register_hook(lambda g: handles[1].remove()))
    handles.append(x.register_hook(lambda g: g * 100))
    x.sum().backward()
    close(x.grad, [1.0])


def test_hook_keeps_its_function_alive_and_releases_it_with_the_tensor():
    import weakref

    class Hook:
        def __call__(self, g):
            return g * 2

    h = Hook()
    ref = weakref.ref(h)
    x = leaf([1.0])
    x.register_hook(h)
    del h
    gc.collect()
    assert ref() is not None
    x.sum().backward()
    close(x.grad, [2.0])
    del x
    gc.collect()
    assert ref() is None


def test_hook_on_tensor_without_grad():
    with raises(RuntimeError, "cannot register a hook on a tensor that doesn't require gradient"):
        cgrad.tensor([1.0]).register_hook(lambda g: g)


def test_hook_returning_a_non_tensor():
    x = leaf([1.0])
    x.register_hook(lambda g: 3)
    with raises(TypeError, "expected Variable, but hook returned 'int'"):
        (x * 2).sum().backward()


def test_hook_changing_the_shape():
    x = leaf([1.0, 2.0])

    def bad(g):
        return cgrad.ones(3, dtype=cgrad.float64)

    x.register_hook(bad)
    with raises(RuntimeError, "hook 'bad' has changed the size of value"):
        (x * 2).sum().backward()


def test_hook_changing_the_dtype():
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g.double())
    with raises(RuntimeError, "hook '<lambda>' has changed the type of value (was torch.FloatTensor got "
                              "torch.DoubleTensor)"):
        (x * 2).sum().backward()


class HookError(Exception):
    pass


def failing_hook(g):
    raise HookError("boom")


def test_exception_in_hook_propagates_with_type_and_traceback():
    x = leaf([1.0, 2.0])
    x.register_hook(failing_hook)
    with pytest.raises(HookError, match="boom") as info:
        (x * 2).sum().backward()
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "failing_hook" in frames


def test_exception_in_hook_propagates_from_autograd_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(failing_hook)
    with pytest.raises(HookError):
        grad((y * 1).sum(), x)


def test_engine_is_usable_after_a_hook_failed():
    x = leaf([1.0])
    h = x.register_hook(failing_hook)
    with pytest.raises(HookError):
        (x * 2).sum().backward()
    h.remove()
    (x * 2).sum().backward()
    close(x.grad, [2.0])


def test_hook_may_run_another_backward():
    x, w = leaf([1.0]), leaf([2.0])

    def inner(g):
        assert not cgrad.is_grad_enabled()  # as in PyTorch: grad mode is create_graph
        with cgrad.enable_grad():
            (w * 3).sum().backward()
        return g

    x.register_hook(inner)
    (x * 2).sum().backward()
    close(x.grad, [2.0])
    close(w.grad, [3.0])


def test_hook_under_create_graph_sees_a_differentiable_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    y = x * x
    y.register_hook(lambda g: seen.append(g.requires_grad))
    (g,) = grad((y * x).sum(), x, create_graph=True)
    assert seen == [True]
    close(grad(g.sum(), x)[0], [6.0, 12.0])


def test_hook_result_takes_part_in_higher_order_gradients():
    x = leaf([1.0, 2.0])
    y = x * x
    y.register_hook(lambda g: g * x)  # d/dx of the hooked gradient now includes x
    (g,) = grad(y.sum(), x, create_graph=True)
    close(g, [2.0, 8.0])  # 2x * x
    close(grad(g.sum(), x)[0], [4.0, 8.0])  # d/dx 2x^2


# ---- node hooks -------------------------------------------------------------------

def test_node_prehook_and_posthook_see_the_gradients():
    x = leaf([1.0, 2.0])
    y = x * 2
    seen = {}
    y.grad_fn.register_prehook(lambda gout: seen.update(pre=gout))
    y.grad_fn.register_hook(lambda gin, gout: seen.update(post=(gin, gout)))
    y.sum().backward()
    (gout,) = seen["pre"]
    close(gout, [1.0, 1.0])
    gin, gout = seen["post"]
    assert len(gin) == 2 and gin[1] is None  # the number 2 needs no gradient
    close(gin[0], [2.0, 2.0])
    close(gout[0], [1.0, 1.0])


def test_node_posthook_replaces_input_gradients():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.grad_fn.register_hook(lambda gin, gout: (gin[0] * 3, None))
    y.sum().backward()
    close(x.grad, [6.0, 6.0])


def test_node_prehook_replaces_output_gradients():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.grad_fn.register_prehook(lambda gout: (gout[0] * 0,))
    y.sum().backward()
    close(x.grad, [0.0, 0.0])


def test_node_hook_remove():
    x = leaf([1.0])
    y = x * 2
    h = y.grad_fn.register_hook(lambda gin, gout: (gin[0] * 3, None))
    h.remove()
    y.sum().backward()
    close(x.grad, [2.0])


def test_node_hook_wrong_return():
    x = leaf([1.0])

    def post(gin, gout):
        return (gin[0],)

    y = x * 2
    y.grad_fn.register_hook(post)
    with raises(RuntimeError, "hook 'post' has returned an incorrect number of values (got 1, but expected 2)"):
        y.sum().backward()
    y = x * 2
    y.grad_fn.register_hook(lambda gin, gout: 5)
    with raises(TypeError, "expected tuple, but hook returned 'int'"):
        y.sum().backward()


def test_accumulate_grad_node_hooks():
    x = leaf([1.0, 2.0])
    acc = (x * 1).grad_fn.next_functions[0][0]
    assert acc.name() == "torch::autograd::AccumulateGrad"
    seen = []
    acc.register_prehook(lambda gout: seen.append(gout[0].numpy().copy()))
    (x * 5).sum().backward()
    np.testing.assert_allclose(seen[0], [5.0, 5.0])


def test_hooks_match_torch():
    torch = pytest.importorskip("torch")

    def run(lib):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        calls = []
        y = x * x
        y.register_hook(lambda g: calls.append(("y", g.tolist())) or g * 2)
        z = y.tanh()
        z.register_hook(lambda g: calls.append(("z", g.tolist())))
        w = (z * y).sum()
        z.grad_fn.register_prehook(lambda gout: calls.append(("pre", gout[0].tolist())))
        z.grad_fn.register_hook(lambda gin, gout: calls.append(("post", gin[0].tolist())))
        x.register_hook(lambda g: calls.append(("x", g.tolist())))
        w.backward()
        return calls, x.grad.tolist()

    ours, theirs = run(cgrad), run(torch)
    assert [c[0] for c in ours[0]] == [c[0] for c in theirs[0]]
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a[1], b[1], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)


def test_many_hooks_all_run():
    x = leaf([1.0])
    y = x * 1
    for _ in range(100):
        x.register_hook(lambda g: g + 1)
        y.register_hook(lambda g: g * 1)
        y.grad_fn.register_prehook(lambda gout: None)
    y.sum().backward()
    close(x.grad, [101.0])


# ---- post-accumulate-grad hooks -----------------------------------------------------

def test_post_accumulate_grad_hook_sees_the_updated_grad():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append((t is x, t.grad.numpy().copy())))
    (x * 3).sum().backward()
    grad((x * 3).sum(), x)  # autograd.grad does not accumulate: no call
    (x * 3).sum().backward(inputs=[x])
    assert [s[0] for s in seen] == [True, True]
    np.testing.assert_allclose(seen[0][1], [3.0, 3.0])
    np.testing.assert_allclose(seen[1][1], [6.0, 6.0])


def test_post_accumulate_grad_hook_updates_parameters_during_backward():
    def run(lib):
        w = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64, requires_grad=True)

        def sgd(p):
            with lib.no_grad():
                p -= 0.1 * p.grad
            p.grad = None

        w.register_post_accumulate_grad_hook(sgd)
        for _ in range(5):
            ((w * w).sum() + w.sum()).backward()
        return w.detach().numpy().copy(), w.grad

    torch = pytest.importorskip("torch")
    (ours, ours_grad), (theirs, theirs_grad) = run(cgrad), run(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours_grad is None and theirs_grad is None


def test_post_accumulate_grad_hook_errors_and_removal():
    x = leaf([1.0])
    with raises(RuntimeError, "post accumulate grad hooks cannot be registered on non-leaf tensors"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    with raises(RuntimeError, "cannot register a hook on a tensor that doesn't require gradient"):
        cgrad.tensor([1.0]).register_post_accumulate_grad_hook(lambda t: None)
    calls = []
    h = x.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    x.register_post_accumulate_grad_hook(failing_hook)
    with pytest.raises(HookError):
        (x * 2).sum().backward()
    assert calls == [1]
    h.remove()
