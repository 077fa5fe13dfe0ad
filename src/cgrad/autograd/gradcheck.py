"""gradcheck and gradgradcheck: analytical gradients against finite differences.

The numerical Jacobian comes from central differences, perturbing one input
element at a time in place by +-eps; the analytical one from one
``autograd.grad`` call per output element. They are compared with
``|analytical - numerical| <= atol + rtol * |numerical|``, as PyTorch does.
"""
import warnings

import numpy as np

from cgrad import _C
from cgrad.autograd import grad as _grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck and gradgradcheck when a check fails."""


def _as_tuple(x):
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _is_diff_input(x):
    return isinstance(x, _C.Tensor) and x.requires_grad


def _differentiable_outputs(outputs):
    return tuple(o for o in _as_tuple(outputs) if isinstance(o, _C.Tensor) and o.requires_grad)


def _array(t):
    """A float64 copy of t's values."""
    return np.array(t.detach().numpy(), dtype=np.float64)


def _unsupported(**flags):
    for name, value in flags.items():
        if value:
            raise NotImplementedError(f"gradcheck({name}=True) is not supported by cgrad: it has no vmap and "
                                      "no forward-mode AD")


# ---- the two Jacobians -------------------------------------------------------------

def _numerical_jacobians(func, inputs, output_positions, eps):
    """jac[i][j]: d(output i)/d(differentiable input j), shape (input numel, output numel)."""
    diff = [x for x in inputs if _is_diff_input(x)]

    def evaluate():
        outs = _as_tuple(func(*inputs))
        return [_array(outs[p]).ravel() for p in output_positions]

    base = evaluate()
    jac = [[np.zeros((x.numel(), b.size)) for x in diff] for b in base]
    for j, x in enumerate(diff):
        data = x.detach().numpy()  # shares x's memory: perturbed in place
        for k, index in enumerate(np.ndindex(*data.shape)):
            orig = data[index].item()
            data[index] = orig - eps
            minus = evaluate()
            data[index] = orig + eps
            plus = evaluate()
            data[index] = orig
            for i in range(len(base)):
                jac[i][j][k] = (plus[i] - minus[i]) / (2 * eps)
    return jac


def _analytical_jacobians(outputs, diff_inputs, check_grad_dtypes):
    """jac[i][j] as above, by one vector-Jacobian product per output element."""
    jac = []
    for out in outputs:
        rows = [np.zeros((x.numel(), out.numel())) for x in diff_inputs]
        for k in range(out.numel()):
            onehot = np.zeros(out.numel())
            onehot[k] = 1.0
            v = _C._tensor_from_numpy_copy(onehot.reshape(tuple(out.shape)), out.dtype)
            grads = _grad(out, diff_inputs, v, retain_graph=True, allow_unused=True)
            for j, (g, x) in enumerate(zip(grads, diff_inputs)):
                if g is None:
                    continue
                if tuple(g.shape) != tuple(x.shape):
                    raise GradcheckError(f"Gradient has incorrect shape: got {tuple(g.shape)} for an input of "
                                         f"shape {tuple(x.shape)}")
                if check_grad_dtypes and g.dtype != x.dtype:
                    raise GradcheckError("Gradient has dtype mismatch")
                rows[j][:, k] = _array(g).ravel()
        jac.append(rows)
    return jac


# ---- reports ------------------------------------------------------------------------

def _mismatch_report(i, j, position, a, n, x_shape, out_shape, atol, rtol):
    err = np.abs(a - n) - (atol + rtol * np.abs(n))
    r, c = np.unravel_index(int(np.argmax(err)), err.shape)
    in_index = np.unravel_index(r, x_shape) if x_shape else ()
    out_index = np.unravel_index(c, out_shape) if out_shape else ()
    with np.printoptions(precision=4, suppress=True, threshold=200):
        return (f"Jacobian mismatch for output {i} with respect to input {j},\n"
                f"numerical:{n!r}\nanalytical:{a!r}\n\n"
                f"The worst element: d(output {i}{list(map(int, out_index))}) / "
                f"d(input {j}{list(map(int, in_index))}) (argument {position} of the function) is "
                f"{a[r, c]:.10g} analytically but {n[r, c]:.10g} numerically "
                f"(difference {abs(a[r, c] - n[r, c]):.3g}, allowed atol={atol} + rtol={rtol} * |numerical|).\n")


def _fail(message, raise_exception):
    if raise_exception:
        raise GradcheckError(message)
    return False


# ---- gradcheck ----------------------------------------------------------------------

def _check_inputs(inputs):
    diff = [x for x in inputs if _is_diff_input(x)]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the "
                         "them have requires_grad=True.")
    for idx, x in enumerate(inputs):
        if _is_diff_input(x) and x.dtype != _C.float64:
            warnings.warn(f"Input #{idx} requires gradient and is not a double precision floating point or "
                          "complex. This check will likely fail if all the inputs are not of double precision "
                          "floating point or complex. ", stacklevel=3)
    return diff


def _check_undefined_grad(outputs, diff_inputs):
    """Backward must accept all-zero output gradients and give zero (or no) gradients."""
    zeros = [_C.zeros(o.shape, dtype=o.dtype) for o in outputs]
    grads = _grad(outputs, diff_inputs, zeros, retain_graph=True, allow_unused=True)
    return all(g is None or not np.any(_array(g)) for g in grads)


def _slow_check(func, inputs, outputs, positions, diff, eps, atol, rtol, nondet_tol, check_grad_dtypes,
                raise_exception):
    diff_positions = [p for p, x in enumerate(inputs) if _is_diff_input(x)]
    analytical = _analytical_jacobians(outputs, diff, check_grad_dtypes)
    numerical = _numerical_jacobians(func, inputs, positions, eps)
    for i, out in enumerate(outputs):
        for j, x in enumerate(diff):
            a, n = analytical[i][j], numerical[i][j]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                return _fail(_mismatch_report(i, j, diff_positions[j], a, n, tuple(x.shape), tuple(out.shape),
                                              atol, rtol), raise_exception)
    again = _analytical_jacobians(outputs, diff, check_grad_dtypes)
    for i in range(len(outputs)):
        for j in range(len(diff)):
            if np.max(np.abs(again[i][j] - analytical[i][j]), initial=0.0) > nondet_tol:
                return _fail("Backward is not reentrant, i.e., running backward with same input and grad_output "
                             "multiple times gives different values, although analytical gradient matches "
                             f"numerical gradient.The tolerance for nondeterminism was {nondet_tol}.",
                             raise_exception)
    return True


def _fast_check(func, inputs, outputs, positions, diff, eps, atol, rtol, raise_exception):
    """Checks v^T J u for random u, v instead of every entry of J."""
    rng = np.random.default_rng(0)
    us = [rng.uniform(-1, 1, tuple(x.shape)) for x in diff]
    vs = [rng.uniform(-1, 1, tuple(o.shape)) for o in outputs]
    grads = _grad(outputs, diff, [_C._tensor_from_numpy_copy(v, o.dtype) for v, o in zip(vs, outputs)],
                  retain_graph=True, allow_unused=True)
    analytical = sum(float(np.sum(_array(g) * u)) for g, u in zip(grads, us) if g is not None)
    datas = [x.detach().numpy() for x in diff]
    originals = [d.copy() for d in datas]

    def evaluate(sign):
        for d, o, u in zip(datas, originals, us):
            d[...] = o + sign * eps * u
        outs = _as_tuple(func(*inputs))
        return sum(float(np.sum(_array(outs[p]) * v)) for p, v in zip(positions, vs))

    try:
        numerical = (evaluate(1) - evaluate(-1)) / (2 * eps)
    finally:
        for d, o in zip(datas, originals):
            d[...] = o
    if abs(analytical - numerical) > atol + rtol * abs(numerical):
        return _fail(f"Jacobian mismatch (fast mode): v^T J u is {analytical:.10g} analytically but "
                     f"{numerical:.10g} numerically, for random u and v. Run with fast_mode=False to see "
                     "which output, input and element differ.", raise_exception)
    return True


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              fast_mode=False, masked=None):
    """Checks the gradients of func at inputs against finite differences.

    Returns True, or raises GradcheckError (returns False with
    raise_exception=False) naming the output, input and element that differ.
    Inputs that require grad should be float64."""
    _unsupported(check_batched_grad=check_batched_grad, check_batched_forward_grad=check_batched_forward_grad,
                 check_forward_ad=check_forward_ad, masked=masked)
    inputs = _as_tuple(inputs)
    diff = _check_inputs(inputs)
    if not check_backward_ad:
        return True
    func_out = _as_tuple(func(*inputs))
    positions = [p for p, o in enumerate(func_out) if isinstance(o, _C.Tensor) and o.requires_grad]
    outputs = tuple(func_out[p] for p in positions)
    if not outputs:
        all_tensor = [p for p, o in enumerate(func_out) if isinstance(o, _C.Tensor) and o.is_floating_point()]
        for row in _numerical_jacobians(func, inputs, all_tensor, eps):
            for jac in row:
                if not np.allclose(jac, 0.0, rtol=rtol, atol=atol):
                    return _fail("Numerical gradient for function expected to be zero", raise_exception)
        return True
    if fast_mode:
        ok = _fast_check(func, inputs, outputs, positions, diff, eps, atol, rtol, raise_exception)
    else:
        ok = _slow_check(func, inputs, outputs, positions, diff, eps, atol, rtol, nondet_tol,
                         check_grad_dtypes, raise_exception)
    if ok and check_undefined_grad and not _check_undefined_grad(outputs, diff):
        return _fail("Expected backward function to handle undefined output grads. Please look at \"Notes "
                     "about undefined output gradients\" in \"tools/autograd/derivatives.yaml\"",
                     raise_exception)
    return ok


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False, masked=False):
    """Checks second derivatives: gradcheck of (inputs, v) -> autograd.grad(func(inputs), inputs, v,
    create_graph=True). Random v (uniform in [-1, 1]) is used when grad_outputs is None."""
    _unsupported(check_batched_grad=check_batched_grad, check_fwd_over_rev=check_fwd_over_rev, masked=masked)
    inputs = _as_tuple(inputs)
    if not check_rev_over_rev:
        return True
    if grad_outputs is None:
        rng = np.random.default_rng(1)
        outputs = _differentiable_outputs(func(*inputs))
        grad_outputs = tuple(_random_like(o, rng, gen_non_contig_grad_outputs) for o in outputs)
    grad_outputs = _as_tuple(grad_outputs)
    n_out = len(grad_outputs)

    def first_derivatives(*args):
        input_args, vs = args[:-n_out], args[-n_out:]
        outputs = _differentiable_outputs(func(*input_args))
        diff = tuple(x for x in input_args if _is_diff_input(x))
        grads = _grad(outputs, diff, vs, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad, check_grad_dtypes=check_grad_dtypes,
                     fast_mode=fast_mode)


def _random_like(t, rng, noncontiguous):
    values = rng.uniform(-1, 1, tuple(t.shape))
    if noncontiguous and t.ndim >= 2:
        base = _C._tensor_from_numpy_copy(np.ascontiguousarray(values.swapaxes(-1, -2)), t.dtype)
        v = base.transpose(-1, -2)
    else:
        v = _C._tensor_from_numpy_copy(values, t.dtype)
    return v.requires_grad_(True) if v.is_leaf else v.detach().requires_grad_(True)
