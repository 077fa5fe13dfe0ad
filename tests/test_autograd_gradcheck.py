"""gradcheck, gradgradcheck and autograd.functional (jacobian, hessian, vjp, jvp, vhp, hvp)."""
import re

import numpy as np
import pytest

import cgrad
from cgrad.autograd import Function, GradcheckError, functional, gradcheck, gradgradcheck


def leaf(values, dtype=cgrad.float64):
    return cgrad.tensor(values, dtype=dtype, requires_grad=True)


def raises(exc, text):
    return pytest.raises(exc, match=re.escape(text))


class WrongSecondInput(Function):
    """a * b whose gradient for b is off by 10% in its last element."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        scale = cgrad.tensor([1.0, 1.0, 1.1], dtype=cgrad.float64)
        return g * b, g * a * scale


class FirstOrderOnly(Function):
    """x^3 with a correct gradient that hides its dependence on x from create_graph."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * (x * x).detach()


# ---- gradcheck ------------------------------------------------------------------

def test_gradcheck_passes_on_correct_gradients():
    a, b = leaf([[1.0, 2.0], [3.0, -1.0]]), leaf([0.5, -0.3])
    assert gradcheck(lambda x, y: ((x @ y) * x.sum()).tanh(), (a, b))


def test_gradcheck_with_several_outputs_and_non_tensor_arguments():
    a = leaf([1.0, 2.0, 3.0])
    assert gradcheck(lambda x, k, name: (x * k, (x * x).sum(), name), (a, 2.5, "label"))


def test_gradcheck_accepts_a_single_tensor():
    assert gradcheck(lambda x: x.exp(), leaf([0.1, 0.2]))


def test_gradcheck_reports_the_input_and_element():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([0.5, -1.5, 2.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongSecondInput.apply, (a, b))
    message = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert message.startswith("Jacobian mismatch for output 0 with respect to input 1,\nnumerical:")
    assert "analytical:" in message
    assert "d(output 0[2]) / d(input 1[2]) (argument 1 of the function)" in message
    assert "is 3.3 analytically but 3 numerically" in message


def test_gradcheck_without_raising_returns_false():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([0.5, -1.5, 2.0])
    assert gradcheck(WrongSecondInput.apply, (a, b), raise_exception=False) is False


def test_gradcheck_tolerances_decide():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([0.5, -1.5, 2.0])
    assert gradcheck(WrongSecondInput.apply, (a, b), atol=0.5)


def test_gradcheck_needs_an_input_that_requires_grad():
    with raises(ValueError, "gradcheck expects at least one input tensor to require gradient, but none of the "
                            "them have requires_grad=True."):
        gradcheck(lambda x: x * 2, (cgrad.tensor([1.0], dtype=cgrad.float64),))


def test_gradcheck_warns_about_float32_inputs():
    x = leaf([1.0, 2.0], dtype=cgrad.float32)
    with pytest.warns(UserWarning, match="Input #0 requires gradient and is not a double precision floating point"):
        gradcheck(lambda t: t * 2, (x,), eps=1e-3, atol=1e-2, rtol=1e-2)


def test_gradcheck_leaves_inputs_unchanged():
    x = leaf([1.0, 2.0])
    before = x.detach().numpy().copy()
    gradcheck(lambda t: t ** 3, (x,))
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None


def test_gradcheck_on_non_contiguous_input():
    base = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    view = base.T
    assert gradcheck(lambda t: (t * t).sum(0), (view,))


def test_gradcheck_detects_a_nondeterministic_backward():
    rng = np.random.default_rng(0)

    class Noisy(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2 + float(rng.uniform(-1e-9, 1e-9))

    x = leaf([1.0, 2.0])
    with raises(GradcheckError, "Backward is not reentrant, i.e., running backward with same input and grad_output "
                                "multiple times gives different values, although analytical gradient matches "
                                "numerical gradient.The tolerance for nondeterminism was 0.0."):
        gradcheck(Noisy.apply, (x,), check_undefined_grad=False)
    assert gradcheck(Noisy.apply, (x,), nondet_tol=1e-8, check_undefined_grad=False)


def test_gradcheck_checks_zero_output_gradients():
    class IgnoresZeros(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            if (g * g).sum().item() == 0:
                return g + 1
            return g * 2

    x = leaf([1.0, 2.0])
    with raises(GradcheckError, "Expected backward function to handle undefined output grads."):
        gradcheck(IgnoresZeros.apply, (x,))
    assert gradcheck(IgnoresZeros.apply, (x,), check_undefined_grad=False)


def test_gradcheck_fast_mode():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([0.5, -1.5, 2.0])
    assert gradcheck(lambda x, y: (x * y).exp(), (a, b), fast_mode=True)
    with raises(GradcheckError, "Jacobian mismatch (fast mode)"):
        gradcheck(WrongSecondInput.apply, (a, b), fast_mode=True)


def test_gradcheck_function_without_differentiable_outputs():
    x = leaf([1.0, 2.0])
    assert gradcheck(lambda t: cgrad.ones(2, dtype=cgrad.float64), (x,))
    with raises(GradcheckError, "Numerical gradient for function expected to be zero"):
        gradcheck(lambda t: (t * 2).detach(), (x,))


@pytest.mark.parametrize("flag", ["check_batched_grad", "check_forward_ad", "check_batched_forward_grad"])
def test_gradcheck_unsupported_modes_say_so(flag):
    with pytest.raises(NotImplementedError, match=flag):
        gradcheck(lambda t: t * 2, (leaf([1.0]),), **{flag: True})


# ---- gradgradcheck ----------------------------------------------------------------

def test_gradgradcheck_passes():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([0.5, -1.5, 2.0])
    assert gradgradcheck(lambda x, y: (x * y).tanh() * x, (a, b))


def test_gradgradcheck_with_given_grad_outputs():
    x = leaf([1.0, 2.0])
    v = leaf([0.3, -0.7])
    assert gradgradcheck(lambda t: t ** 3, (x,), (v,))


def test_gradgradcheck_with_non_contiguous_grad_outputs():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    assert gradgradcheck(lambda t: t.exp() * t, (x,), gen_non_contig_grad_outputs=True)


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = leaf([1.0, -2.0, 0.5])
    assert gradcheck(FirstOrderOnly.apply, (x,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        gradgradcheck(FirstOrderOnly.apply, (x,))


def test_gradcheck_matches_torch_verdicts():
    torch = pytest.importorskip("torch")
    for lib in (cgrad, torch):
        a = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        assert lib.autograd.gradcheck(lambda t: (t * t).sigmoid(), (a,))
        assert lib.autograd.gradgradcheck(lambda t: (t * t).sigmoid(), (a,))


# ---- functional ----------------------------------------------------------------------

def np_of(x):
    if isinstance(x, tuple):
        return tuple(np_of(e) for e in x)
    return np.array(x.detach().numpy())


def assert_same_structure(a, b):
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_structure(x, y)
    else:
        assert not isinstance(a, tuple)
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(np_of(a), np_of(b), rtol=1e-10, atol=1e-12)


def f_single(m, x):
    return (x * x).tanh() * x.sum()


def f_pair(m, x, y):
    return (x @ y).exp(), (x * x).sum()


def f_scalar(m, x):
    return (x ** 3).sum() + (x * x).sum() * x.sum()


def f_scalar2(m, x, y):
    return ((x * x) @ y).sum() * y.sum()


def inputs(lib, *shapes):
    rng = np.random.default_rng(3)
    out = tuple(lib.tensor(rng.uniform(-1, 1, s), dtype=lib.float64) for s in shapes)
    return out


def both(fn):
    torch = pytest.importorskip("torch")
    return fn(cgrad), fn(torch)


@pytest.mark.parametrize("create_graph", [False, True])
def test_jacobian_matches_torch(create_graph):
    ours, theirs = both(lambda m: m.autograd.functional.jacobian(
        lambda x: f_single(m, x), inputs(m, (3,))[0], create_graph=create_graph))
    assert_same_structure(ours, theirs)
    ours, theirs = both(lambda m: m.autograd.functional.jacobian(
        lambda x, y: f_pair(m, x, y), inputs(m, (2, 3), (3, 2)), create_graph=create_graph))
    assert_same_structure(ours, theirs)


def test_jacobian_with_create_graph_is_differentiable():
    x = leaf([0.5, -0.2])
    jac = functional.jacobian(lambda t: t ** 3, x, create_graph=True)
    assert jac.requires_grad
    (g,) = cgrad.autograd.grad(jac.sum(), x)
    np.testing.assert_allclose(g.numpy(), 6 * np.array([0.5, -0.2]))
    jac = functional.jacobian(lambda t: t ** 3, x)
    assert not jac.requires_grad


@pytest.mark.parametrize("create_graph", [False, True])
def test_hessian_matches_torch(create_graph):
    ours, theirs = both(lambda m: m.autograd.functional.hessian(
        lambda x: f_scalar(m, x), inputs(m, (3,))[0], create_graph=create_graph))
    assert_same_structure(ours, theirs)
    ours, theirs = both(lambda m: m.autograd.functional.hessian(
        lambda x, y: f_scalar2(m, x, y), inputs(m, (2, 3), (3,)), create_graph=create_graph))
    assert_same_structure(ours, theirs)


def test_vjp_jvp_vhp_hvp_match_torch():
    def run(m):
        x, y, u, w = inputs(m, (2, 3), (3, 2), (3,), (3,))
        v_out = (m.ones(2, 2, dtype=m.float64), m.tensor(2.0, dtype=m.float64))
        F = m.autograd.functional
        return (F.vjp(lambda a, b: f_pair(m, a, b), (x, y), v_out),
                F.jvp(lambda a, b: f_pair(m, a, b), (x, y), (x * 0 + 1, y * 2)),
                F.vjp(lambda a: f_scalar(m, a), u),
                F.jvp(lambda a: f_single(m, a), u, w),
                F.vhp(lambda a, b: f_scalar2(m, a, b), (x, w), (x * 2, u)),
                F.hvp(lambda a: f_scalar(m, a), u, w))

    ours, theirs = both(run)
    assert_same_structure(ours, theirs)


def test_functional_strict_and_argument_errors():
    F = functional
    x = leaf([1.0, 2.0]).detach()
    with raises(RuntimeError, "Output 0 of the user-provided function does not require gradients. The outputs "
                              "must be computed in a differentiable manner from the input when running in strict "
                              "mode."):
        F.jacobian(lambda a: cgrad.ones(2), x, strict=True)
    assert not F.jacobian(lambda a: cgrad.ones(2, dtype=cgrad.float64), x).numpy().any()
    with raises(RuntimeError, "v has invalid size: should be cgrad.Size([2]) but got cgrad.Size([3])."):
        F.vjp(lambda a: a * 2, x, cgrad.ones(3, dtype=cgrad.float64))
    with raises(RuntimeError, "The vector v can only be None if the user-provided function returns a single "
                              "Tensor with a single element."):
        F.vjp(lambda a: a * 2, x)
    with raises(RuntimeError, "The Tensor returned by the function given to hessian should contain a single "
                              "element"):
        F.hessian(lambda a: a ** 3, x)
    with raises(TypeError, "The inputs given to jacobian must be either a Tensor or a tuple of Tensors but the "
                           "given inputs has type <class 'list'>."):
        F.jacobian(lambda a: a * 2, [x])
    with raises(TypeError, "The outputs of the user-provided function given to vjp must be either a Tensor or a "
                           "tuple of Tensors but the given outputs of the user-provided function has type "
                           "<class 'int'>."):
        F.vjp(lambda a: 3, x)
    with raises(RuntimeError, "While computing the hessian, found that the jacobian of the user-provided function "
                              "with respect to input 0 is independent of the input."):
        F.hessian(lambda a: a.sum(), x, strict=True)
    with raises(RuntimeError, "The output of the user-provided function is independent of input 1. This is not "
                              "allowed in strict mode."):
        F.vjp(lambda a, b: (a * 2).sum(), (x, x * 1), strict=True)


def test_functional_errors_match_torch():
    torch = pytest.importorskip("torch")

    def message(m, fn):
        try:
            fn(m)
        except (RuntimeError, TypeError) as e:
            return str(e).replace("torch.Size", "Size").replace("cgrad.Size", "Size")
        return None

    cases = [
        lambda m: m.autograd.functional.jacobian(lambda a: m.ones(2), m.ones(2), strict=True),
        lambda m: m.autograd.functional.vjp(lambda a: a * 2, m.ones(2), m.ones(3)),
        lambda m: m.autograd.functional.jvp(lambda a: a * 2, m.ones(2)),
        lambda m: m.autograd.functional.hessian(lambda a: a ** 3, m.ones(2)),
        lambda m: m.autograd.functional.hessian(lambda a: a.sum(), m.ones(2), strict=True),
        lambda m: m.autograd.functional.vhp(lambda a: (a ** 3).sum(), (m.ones(2),), (m.ones(2), m.ones(2))),
    ]
    for case in cases:
        assert message(cgrad, case) == message(torch, case)
