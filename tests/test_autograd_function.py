"""cgrad.autograd.Function: custom ops whose backward the C engine calls back."""
import gc
import re
import weakref

import numpy as np
import pytest

import cgrad
from cgrad.autograd import Function, grad, gradcheck, gradgradcheck, once_differentiable


def leaf(values, dtype=cgrad.float64):
    return cgrad.tensor(values, dtype=dtype, requires_grad=True)


def close(t, values, rtol=1e-12):
    np.testing.assert_allclose(np.asarray(t.detach().numpy(), dtype=np.float64), values, rtol=rtol, atol=1e-14)


def raises(exc, text):
    return pytest.raises(exc, match=re.escape(text))


class Cube(Function):
    """x ** 3 with a differentiable backward (so it has higher-order gradients)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


class Scale(Function):
    """x * k for a Python number k (a non-tensor argument)."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


class ExpOut(Function):
    """exp(x), saving its own output."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def test_forward_and_backward():
    x = leaf([1.0, 2.0])
    y = Cube.apply(x)
    close(y, [1.0, 8.0])
    y.sum().backward()
    close(x.grad, [3.0, 12.0])


def test_node_is_named_after_the_function():
    x = leaf([1.0])
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward" and type(y.grad_fn).__name__ == "CubeBackward"
    assert repr(y).endswith("grad_fn=<CubeBackward>)")
    (acc, nr), = y.grad_fn.next_functions
    assert type(acc).__name__ == "AccumulateGrad" and acc.variable is x and nr == 0


def test_node_name_and_next_functions_match_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        class Mix(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, k, b):
                return a * b + k

            @staticmethod
            def backward(ctx, g):
                return g, None, g

        a = lib.tensor([1.0], requires_grad=True)
        b = lib.tensor([2.0], requires_grad=True)
        y = Mix.apply(a * 2, 3.0, b)
        return y.grad_fn.name(), [(n.name() if n is not None else None, k) for n, k in y.grad_fn.next_functions]

    assert build(cgrad) == build(torch)


def test_forward_runs_without_recording():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(cgrad.is_grad_enabled())
            y = x * 2
            seen.append(y.requires_grad)
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = leaf([1.0])
    Probe.apply(x).sum().backward()
    assert seen == [False, False]
    close(x.grad, [2.0])


def test_needs_input_grad():
    got = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, k, b):
            got.append(ctx.needs_input_grad)
            return a + b

        @staticmethod
        def backward(ctx, g):
            got.append(ctx.needs_input_grad)
            return g, None, None

    a, b = leaf([1.0]), cgrad.tensor([2.0], dtype=cgrad.float64)
    Probe.apply(a, 3, b).sum().backward()
    assert got == [(True, False, False), (True, False, False)]


def test_non_tensor_arguments_and_outputs():
    class Split(Function):
        @staticmethod
        def forward(ctx, x, label, power):
            ctx.power = power
            ctx.save_for_backward(x)
            return x ** power, label.upper(), power

        @staticmethod
        def backward(ctx, g, g_label, g_power):
            assert g_label is None and g_power is None  # as in PyTorch: None for non-tensor outputs
            (x,) = ctx.saved_tensors
            return g * ctx.power * x ** (ctx.power - 1), None, None

    x = leaf([1.0, 2.0])
    y, label, power = Split.apply(x, "ok", 3)
    assert label == "OK" and power == 3
    y.sum().backward()
    close(x.grad, [3.0, 12.0])


def test_keyword_arguments():
    x = leaf([1.0, 2.0])
    Scale.apply(x, k=4.0).sum().backward()
    close(x.grad, [4.0, 4.0])


def test_multiple_outputs():
    class SinCos(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2, x * x

        @staticmethod
        def backward(ctx, ga, gb):
            (x,) = ctx.saved_tensors
            return ga * 2 + gb * 2 * x

    x = leaf([1.0, 3.0])
    a, b = SinCos.apply(x)
    assert a.grad_fn is b.grad_fn
    (a.sum() + (b * 10).sum()).backward()
    close(x.grad, [2 + 20 * 1.0, 2 + 20 * 3.0])
    x.grad = None
    _, b = SinCos.apply(x)
    b.sum().backward()  # the unused output gets a zero gradient
    close(x.grad, [2.0, 6.0])


def test_set_materialize_grads_false_gives_none():
    seen = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, ga, gb):
            seen.append((ga is None, gb is None))
            return gb * 2

    x = leaf([1.0])
    _, b = Two.apply(x)
    b.sum().backward()
    assert seen == [(True, False)]
    close(x.grad, [2.0])


def test_mark_non_differentiable():
    class Argmax(Function):
        @staticmethod
        def forward(ctx, x):
            idx = cgrad.tensor(int(np.argmax(x.detach().numpy())))
            mask = (x * 0 + 1)
            ctx.mark_non_differentiable(mask)
            return x * 2, idx, mask

        @staticmethod
        def backward(ctx, g, g_idx, g_mask):
            assert not g_mask.numpy().any()
            return g * 2

    x = leaf([1.0, 5.0, 2.0])
    y, idx, mask = Argmax.apply(x)
    assert y.requires_grad and not idx.requires_grad and not mask.requires_grad
    assert idx.item() == 1
    y.sum().backward()
    close(x.grad, [2.0, 2.0, 2.0])


def test_mark_dirty():
    class Double_(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = leaf([1.0, 2.0])
    y = x * 1
    z = Double_.apply(y)
    assert z is y and y.grad_fn.name() == "Double_Backward"
    close(z, [2.0, 4.0])
    z.sum().backward()
    close(x.grad, [2.0, 2.0])
    with raises(RuntimeError, "a leaf Variable that requires grad has been used in an in-place operation."):
        Double_.apply(leaf([1.0]))


def test_returning_an_input_gives_a_new_tensor_with_history():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = leaf([1.0, 2.0])
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and x.grad_fn is None
    assert y.grad_fn.name() == "IdentityBackward"
    y.sum().backward()
    close(x.grad, [3.0, 3.0])


def test_saved_output():
    x = leaf([0.0, 1.0])
    y = ExpOut.apply(x)
    y.sum().backward()
    close(x.grad, np.exp([0.0, 1.0]))


def test_saved_output_makes_no_reference_cycle():
    x = leaf([0.0, 1.0])
    y = ExpOut.apply(x)
    node = weakref.ref(y.grad_fn)
    ctx_probe = []

    class Tracked(Function):
        @staticmethod
        def forward(ctx, a):
            ctx_probe.append(weakref.ref(ctx))
            out = a * 2
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            return g * 2

    z = Tracked.apply(x)
    assert ctx_probe[0]() is not None
    del z, y
    gc.collect()
    assert ctx_probe[0]() is None
    assert node() is None


def test_saved_tensors_are_version_checked():
    x = leaf([1.0, 2.0])
    a = x * 1
    y = Cube.apply(a)
    with cgrad.no_grad():
        a.add_(1)
    with raises(RuntimeError, "one of the variables needed for gradient computation has been modified by an "
                              "inplace operation: [torch.DoubleTensor [2]], which is output 0 of Mul, is at "
                              "version 1; expected version 0 instead."):
        y.sum().backward()


def test_saved_tensors_are_freed_by_backward():
    x = leaf([1.0, 2.0])
    y = Cube.apply(x)
    y.sum().backward()
    with raises(RuntimeError, "Trying to backward through the graph a second time"):
        y.grad_fn.saved_tensors
    with raises(RuntimeError, "Trying to backward through the graph a second time"):
        y.sum().backward()


def test_retain_graph_keeps_saved_tensors():
    x = leaf([1.0, 2.0])
    y = Cube.apply(x)
    y.sum().backward(retain_graph=True)
    (saved,) = y.grad_fn.saved_tensors
    assert saved is x
    y.sum().backward()
    close(x.grad, [6.0, 24.0])


def test_save_for_backward_only_takes_tensors():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 1

    with raises(TypeError, "save_for_backward can only save variables, but argument 1 is of type int"):
        Bad.apply(leaf([1.0]))


def test_saving_none():
    class WithNone(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(None, x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            nothing, x = ctx.saved_tensors
            assert nothing is None
            return g * 2

    x = leaf([1.0])
    WithNone.apply(x).sum().backward()
    close(x.grad, [2.0])


def test_ctx_attributes_are_visible_on_grad_fn():
    x = leaf([1.0])
    y = Scale.apply(x, 7.0)
    assert y.grad_fn.k == 7.0
    assert y.grad_fn.needs_input_grad == (True, False)
    with pytest.raises(AttributeError):
        y.grad_fn.nothing_here


def test_ctx_is_released_with_the_graph():
    refs = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            refs.append(weakref.ref(ctx))
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = leaf([1.0])
    y = Probe.apply(x)
    gc.collect()
    assert refs[0]() is not None
    del y
    gc.collect()
    assert refs[0]() is None


def test_no_node_under_no_grad_or_without_inputs_requiring_grad():
    x = leaf([1.0])
    with cgrad.no_grad():
        y = Cube.apply(x)
    assert y.grad_fn is None and not y.requires_grad
    y = Cube.apply(cgrad.tensor([2.0]))
    assert y.grad_fn is None
    close(y, [8.0])


def test_inside_a_larger_graph_matches_torch():
    torch = pytest.importorskip("torch")

    def run(lib):
        class Softsign(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x / (1 + x.abs() if hasattr(x, "abs") else 1 + (x * x) ** 0.5)

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                d = 1 + (x * x) ** 0.5
                return g / (d * d)

        rng = np.random.default_rng(0)
        w = lib.tensor(rng.standard_normal((3, 4)), dtype=lib.float64, requires_grad=True)
        v = lib.tensor(rng.standard_normal((4, 2)), dtype=lib.float64, requires_grad=True)
        h = Softsign.apply(w @ v)
        loss = ((h * h).sum() + Softsign.apply(w).sum()) * 0.5
        loss.backward()
        return w.grad.detach().numpy().copy(), v.grad.detach().numpy().copy()

    for a, b in zip(run(cgrad), run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_create_graph_through_a_function():
    x = leaf([1.0, 2.0])
    (g,) = grad(Cube.apply(x).sum(), x, create_graph=True)
    close(g, [3.0, 12.0])
    (gg,) = grad(g.sum(), x)
    close(gg, [6.0, 12.0])


def test_gradcheck_and_gradgradcheck_of_functions():
    x = leaf([0.3, -1.2, 2.0])
    assert gradcheck(Cube.apply, (x,))
    assert gradgradcheck(Cube.apply, (x,))
    assert gradcheck(ExpOut.apply, (x,))
    assert gradgradcheck(ExpOut.apply, (x,))
    assert gradcheck(lambda a: Scale.apply(a, 2.5), (x,))


def test_once_differentiable():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert not cgrad.is_grad_enabled()
            return g * 2 * x

    x = leaf([1.0, 2.0])
    Square.apply(x).sum().backward()
    close(x.grad, [2.0, 4.0])
    v = leaf([1.0, 1.0])
    (g,) = grad(Square.apply(x), x, v, create_graph=True)
    close(g, [2.0, 4.0])
    assert g.requires_grad and type(g.grad_fn).__name__ == "Error"
    with raises(RuntimeError, "trying to differentiate twice a function that was marked with "
                              "@once_differentiable"):
        g.sum().backward()


def test_setup_context_style():
    class Mul(Function):
        @staticmethod
        def forward(a, b):
            return a * b

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * b, g * a

    a, b = leaf([2.0]), leaf([3.0])
    Mul.apply(a, b).sum().backward()
    close(a.grad, [3.0])
    close(b.grad, [2.0])


def test_wrong_number_of_gradients():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g

    with raises(RuntimeError, "function BadBackward returned an incorrect number of gradients (expected 2, got 1)"):
        Bad.apply(leaf([1.0]), 2.0).sum().backward()


def test_extra_none_gradients_are_allowed():
    class Extra(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, None, None

    x = leaf([1.0])
    Extra.apply(x).sum().backward()
    close(x.grad, [2.0])


def test_gradient_for_a_non_tensor_input():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g, g

    with raises(RuntimeError, "function BadBackward returned a gradient different than None at position 2, but "
                              "the corresponding forward input was not a Variable"):
        Bad.apply(leaf([1.0]), 2.0).sum().backward()


def test_gradient_of_the_wrong_shape():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return cgrad.ones(3, dtype=cgrad.float64)

    with raises(RuntimeError, "Function BadBackward returned an invalid gradient at index 0 - got [3] but expected "
                              "shape compatible with [2]"):
        Bad.apply(leaf([1.0, 2.0])).sum().backward()


def test_gradient_of_a_broadcast_shape_is_summed_and_cast():
    class Wide(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return cgrad.ones(3, 2, dtype=cgrad.float32)

    x = leaf([1.0, 2.0])
    Wide.apply(x).sum().backward()
    assert x.grad.dtype == cgrad.float64
    close(x.grad, [3.0, 3.0])


def test_gradient_of_the_wrong_type():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return 3

    with raises(RuntimeError, "expected Variable or None (got int)"):
        Bad.apply(leaf([1.0])).sum().backward()


def test_exception_in_backward_propagates():
    class Oops(Exception):
        pass

    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise Oops("in backward")

    with pytest.raises(Oops, match="in backward"):
        Bad.apply(leaf([1.0])).sum().backward()


def test_missing_forward_and_backward():
    class NoForward(Function):
        pass

    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    with raises(NotImplementedError, "You must implement the forward function for custom autograd.Function."):
        NoForward.apply(leaf([1.0]))
    with raises(NotImplementedError, "You must implement either the backward or vjp method for your custom "
                                     "autograd.Function to use it with backward mode AD."):
        NoBackward.apply(leaf([1.0])).sum().backward()


def test_instantiating_a_function():
    with pytest.warns(DeprecationWarning, match="should not be instantiated"):
        f = Cube()
    with raises(RuntimeError, "Legacy autograd function with non-static forward method is deprecated."):
        f(leaf([1.0]))


def test_function_inside_the_backward_of_another():
    class Outer(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * Cube.apply(x) / x  # 3 x^2, through another Function

    x = leaf([1.0, 2.0])
    (g,) = grad(Outer.apply(x).sum(), x, create_graph=True)
    close(g, [3.0, 12.0])
    (gg,) = grad(g.sum(), x)
    close(gg, [6.0, 12.0])


def test_float32_function():
    x = leaf([1.0, 2.0], dtype=cgrad.float32)
    y = Cube.apply(x)
    assert y.dtype == cgrad.float32
    y.sum().backward()
    assert x.grad.dtype == cgrad.float32
    close(x.grad, [3.0, 12.0])
