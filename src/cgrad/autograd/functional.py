"""Derivatives of whole functions: vjp, jvp, jacobian, hessian, vhp, hvp.

Everything is built on autograd.grad. jvp uses the double-backward trick
(the vector-Jacobian product is linear in its vector, so differentiating it
with respect to that vector gives the Jacobian-vector product). Results and
errors follow torch.autograd.functional, argument for argument.
"""
import cgrad
from cgrad import _C
from cgrad.autograd import grad as _grad
from cgrad.autograd.grad_mode import enable_grad, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


# ---- argument handling ------------------------------------------------------------

def _tupled(x, arg_name, fn_name):
    """(was_tuple, x as a tuple of Tensors)."""
    if isinstance(x, _C.Tensor):
        return False, (x,)
    if not isinstance(x, tuple):
        raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors but "
                        f"the given {arg_name} has type {type(x)}.")
    for i, el in enumerate(x):
        if not isinstance(el, _C.Tensor):
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                            f"but the value at index {i} has type {type(el)}.")
    return True, x


def _untupled(res, was_tuple):
    """Undoes _tupled; was_tuple may be a pair (outer, inner) for nested results."""
    if isinstance(was_tuple, tuple):
        outer, inner = was_tuple
        if not inner:
            res = tuple(r[0] for r in res)
        return res if outer else res[0]
    return res if was_tuple else res[0]


def _prepare(tensors, create_graph, need_graph):
    """Fresh tensors to differentiate with respect to: differentiable views of
    the given ones when building a graph through them, detached copies else."""
    out = []
    for t in tensors:
        if create_graph and t.requires_grad:
            out.append(t.view(t.shape))
        else:
            out.append(t.detach().requires_grad_(need_graph))
    return tuple(out)


def _finish(res, create_graph):
    """Detaches results (recursively) unless the caller wants their graph."""
    if create_graph:
        return res
    if isinstance(res, tuple):
        return tuple(_finish(r, create_graph) for r in res)
    return res.detach()


def _check_v(v, refs, was_tuple):
    if len(v) != len(refs):
        if was_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(refs)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, refs)):
        if tuple(a.shape) != tuple(b.shape):
            where = f"Entry {i} in v" if was_tuple else "v"
            raise RuntimeError(f"{where} has invalid size: should be {b.shape} but got {a.shape}.")


_NOT_DIFFERENTIABLE = {
    "outputs": "Output {i} of the user-provided function does not require gradients. The outputs must be "
               "computed in a differentiable manner from the input when running in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of the user-provided "
                   "function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided function with respect "
                "to input {i} is independent of the input. This is not allowed in strict mode. You should ensure "
                "that your function is twice differentiable and that the jacobian depends on the inputs (this "
                "would be violated by a linear function for example).",
    "hessian": "The hessian of the user-provided function with respect to input {i} is independent of the input. "
               "This is not allowed in strict mode. You should ensure that your function is thrice "
               "differentiable and that the hessian depends on the inputs.",
}


def _require_grad(tensors, kind, strict):
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is "
                               "not allowed in strict mode.")
        if not t.requires_grad:
            raise RuntimeError(_NOT_DIFFERENTIABLE[kind].format(i=i))


_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in "
            "strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs when "
                  "using the double backward trick to compute forward mode gradients. This is not allowed in "
                  "strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not allowed "
                   "in strict mode.",
}


def _zeros_for_none(grads, refs, strict, create_graph, stage):
    """None gradients (independent inputs) become zeros, or errors in strict mode."""
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_INDEPENDENT[stage].format(i=i))
            g = _C.zeros(ref.shape, dtype=ref.dtype)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if stage.startswith("double") else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of input {i}. This is "
                               "not allowed in strict mode when create_graph=True.")
        out.append(g)
    return tuple(out)


def _grads(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """autograd.grad over the outputs that require grad; all None when none does."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, gs = zip(*pairs)
    return _grad(outs, inputs, gs, retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)


def _stack(tensors):
    """Stacks equally shaped tensors along a new first dimension, differentiably."""
    if hasattr(cgrad, "stack"):
        return cgrad.stack(tensors)
    n = len(tensors)
    shape = tuple(tensors[0].shape)
    total = None
    for k, t in enumerate(tensors):  # sum of e_k (outer) t_k
        onehot = _C.zeros(n, dtype=t.dtype)
        onehot.numpy()[k] = 1.0
        term = onehot.reshape((n,) + (1,) * len(shape)) * t.unsqueeze(0)
        total = term if total is None else total + term
    return total


def _onehot(out, k):
    g = _C.zeros(out.shape, dtype=out.dtype)
    g.numpy().reshape(-1)[k] = 1.0
    return g


# ---- the functions -------------------------------------------------------------------

def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at inputs."""
    with enable_grad():
        inputs_tuple, inputs = _tupled(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _tupled(func(*inputs), "outputs of the user-provided function", "vjp")
        _require_grad(outputs, "outputs", strict)
        if v is not None:
            v = _prepare(_tupled(v, "v", "vjp")[1], create_graph, need_graph=False)
            _check_v(v, outputs, outputs_tuple)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function returns a single "
                               "Tensor with a single element.")
        with set_grad_enabled(create_graph or _C._is_grad_enabled()):
            res = _zeros_for_none(_grads(outputs, inputs, v, create_graph), inputs, strict, create_graph, "back")
    return (_untupled(_finish(outputs, create_graph), outputs_tuple),
            _untupled(_finish(res, create_graph), inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, by the double-backward trick."""
    with enable_grad():
        inputs_tuple, inputs = _tupled(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        if v is not None:
            v = _prepare(_tupled(v, "v", "jvp")[1], create_graph, need_graph=False)
            _check_v(v, inputs, inputs_tuple)
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided function is a "
                               "single Tensor with a single element.")
        outputs_tuple, outputs = _tupled(func(*inputs), "outputs of the user-provided function", "jvp")
        _require_grad(outputs, "outputs", strict)
        # u^T J is linear in u: its value does not matter, only its graph
        us = tuple(_C.zeros(o.shape, dtype=o.dtype, requires_grad=True) for o in outputs)
        vjps = _grads(outputs, inputs, us, create_graph=True)
        _require_grad(vjps, "grad_inputs", strict)
    with set_grad_enabled(create_graph or _C._is_grad_enabled()):
        res = _zeros_for_none(_grads(vjps, us, v, create_graph), outputs, strict, create_graph, "back_trick")
    return (_untupled(_finish(outputs, create_graph), outputs_tuple),
            _untupled(_finish(res, create_graph), outputs_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs: for output i and input j, a tensor of
    shape out_i.shape + in_j.shape. (vectorize only changes speed in PyTorch;
    here every row is one reverse-mode pass.)"""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your function '
                         'has more outputs than inputs, "forward-mode" tends to be more performant. Otherwise, '
                         'prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        raise NotImplementedError("jacobian(strategy='forward-mode'): cgrad has no forward-mode AD")
    with enable_grad():
        inputs_tuple, inputs = _tupled(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _tupled(func(*inputs), "outputs of the user-provided function", "jacobian")
        _require_grad(outputs, "outputs", strict)
        result = tuple(_jacobian_of(out, i, inputs, create_graph, strict) for i, out in enumerate(outputs))
        return _untupled(_finish(result, create_graph), (outputs_tuple, inputs_tuple))


def _jacobian_of(out, i, inputs, create_graph, strict):
    """One row of blocks: d(out)/d(input j) for every j."""
    rows = [[] for _ in inputs]
    for k in range(out.numel()):
        if out.requires_grad:
            grads = _grad(out, inputs, _onehot(out, k), retain_graph=True, create_graph=create_graph,
                          allow_unused=True)
        else:
            grads = (None,) * len(inputs)
        for j, (g, x) in enumerate(zip(grads, inputs)):
            if g is None:
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is independent of input {j}. "
                                       "This is not allowed in strict mode.")
                g = _C.zeros(x.shape, dtype=x.dtype)
            elif strict and create_graph and not g.requires_grad:
                raise RuntimeError(f"The jacobian of the user-provided function is independent of input {i}. "
                                   "This is not allowed in strict mode when create_graph=True.")
            rows[j].append(g)
    blocks = []
    for j, x in enumerate(inputs):
        shape = tuple(out.shape) + tuple(x.shape)
        blocks.append(_stack(rows[j]).reshape(shape) if rows[j] else _C.zeros(shape, dtype=x.dtype))
    return tuple(blocks)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar func: for inputs i and j, a tensor of shape in_i.shape + in_j.shape."""
    inputs_tuple, inputs = _tupled(inputs, "inputs", "hessian")

    def scalar(*args):
        out = func(*args)
        out_tuple, outs = _tupled(out, "outputs of the user-provided function", "hessian")
        _require_grad(outs, "outputs", strict)
        if out_tuple or not isinstance(out, _C.Tensor):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should contain a single "
                               "element")
        return out.reshape(())

    def gradient(*args):
        jac = jacobian(scalar, args, create_graph=True)
        _require_grad(jac, "jacobian", strict)
        return jac

    res = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _untupled(res, (inputs_tuple, inputs_tuple))


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar func."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar func (H is symmetric: the same as v^T H)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph, strict, name):
    with enable_grad():
        inputs_tuple, inputs = _tupled(inputs, "inputs", name)
        inputs = _prepare(inputs, create_graph, need_graph=True)
        if v is not None:
            v = _prepare(_tupled(v, "v", name)[1], create_graph, need_graph=False)
            _check_v(v, inputs, inputs_tuple)
        elif len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided function is a "
                               "single Tensor with a single element.")
        outputs_tuple, outputs = _tupled(func(*inputs), "outputs of the user-provided function", name)
        _require_grad(outputs, "outputs", strict)
        if outputs_tuple:
            raise RuntimeError(f"The function given to {name} should return a single Tensor")
        if outputs[0].numel() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {name} should contain a single "
                               "element")
        first = _grads(outputs, inputs, create_graph=True)
        _require_grad(first, "jacobian", strict)
    with set_grad_enabled(create_graph or _C._is_grad_enabled()):
        res = _zeros_for_none(_grads(first, inputs, v, create_graph), inputs, strict, create_graph, "double_back")
    return (_untupled(_finish(outputs, create_graph), outputs_tuple),
            _untupled(_finish(res, create_graph), inputs_tuple))
