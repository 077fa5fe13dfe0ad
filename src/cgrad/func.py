"""cgrad.func: torch.func's function transforms over cgrad's autograd.

grad, grad_and_value, vjp, jvp, jacrev, jacfwd and hessian take a function
and return one that computes derivatives of it; they nest (grad(grad(f)),
jacfwd(jacrev(f))), and compose with vmap. vmap maps a function over a
dimension of its inputs: cgrad runs the function once per slice and stacks
the results, the same values and gradients as PyTorch's batching rules,
without their speed. functional_call runs a module with other parameters.

A transform differentiates with respect to tensors of its own, made from its
arguments; what it returns keeps a graph (for an enclosing transform or
backward) only when it depends on a tensor from outside that requires grad.
"""
import contextlib
import functools

from cgrad import _C
from cgrad._C import Tensor
from cgrad._creation import zeros_like as _zeros_like
from cgrad.autograd import grad as _autograd_grad
from cgrad.autograd.grad_mode import enable_grad

__all__ = ["functional_call", "functionalize", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp",
           "linearize", "replace_all_batch_norm_modules_", "stack_module_state", "vjp", "vmap"]


# ---- nested inputs and outputs (tuples, lists, dicts of tensors) -----------------------------------

def _flatten(obj):
    """The leaves of obj (its tensors and other non-containers) and the spec that rebuilds it."""
    if isinstance(obj, (tuple, list)):
        leaves, specs = [], []
        for item in obj:
            sub, spec = _flatten(item)
            leaves += sub
            specs.append(spec)
        return leaves, (type(obj), specs)
    if isinstance(obj, dict):
        leaves, specs = [], []
        for value in obj.values():
            sub, spec = _flatten(value)
            leaves += sub
            specs.append(spec)
        return leaves, (dict, list(obj.keys()), specs)
    return [obj], None


def _unflatten(leaves, spec):
    return _build(iter(leaves), spec)


def _build(it, spec):
    if spec is None:
        return next(it)
    if spec[0] is dict:
        return {k: _build(it, s) for k, s in zip(spec[1], spec[2])}
    kind, children = spec[0], [_build(it, s) for s in spec[1]]
    return kind(*children) if hasattr(kind, "_fields") else kind(children)


# ---- which results keep their graph ------------------------------------------------------------------

def _reaches_outside(t, inner):
    """Whether t's graph reaches a tensor that requires grad other than the transform's own (inner: ids)."""
    if not isinstance(t, Tensor) or not t.requires_grad:
        return False
    if t.grad_fn is None:
        return id(t) not in inner
    stack, seen = [t.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if node.name() == "torch::autograd::AccumulateGrad":
            if id(node.variable) not in inner:
                return True
            continue
        stack.extend(f for f, _ in node.next_functions)
    return False


def _release(obj, inner):
    """obj with each tensor that depends only on the transform's own inputs detached."""
    leaves, spec = _flatten(obj)
    return _unflatten([t.detach() if isinstance(t, Tensor) and t.requires_grad and not _reaches_outside(t, inner)
                       else t for t in leaves], spec)


def _own(t, fname):
    """A tensor to differentiate with respect to, standing for t: a view of t when t requires grad
    (so an enclosing transform still sees through it), else a detached leaf."""
    if not isinstance(t, Tensor):
        raise RuntimeError(f"{fname}: Expected the inputs to differentiate with respect to to be Tensors, "
                           f"got {type(t)}")
    if not t.is_floating_point():
        raise RuntimeError("only Tensors of floating point dtype can require gradients")
    return t.view_as(t) if t.requires_grad else t.detach().requires_grad_()


def _argnums_tuple(argnums, n_args):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(k, int) and not isinstance(k, bool) for k in nums):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {argnums}")
    for k in nums:
        if not -n_args <= k < n_args:
            raise RuntimeError(f"Got argnum={k}, but only {n_args} positional inputs")
    return tuple(k % n_args for k in nums)


def _own_args(args, argnums, fname):
    """args with the argnums-th replaced by the transform's own tensors (_own); the ids of those,
    and per argnum its own tensors and the spec of its structure."""
    nums = _argnums_tuple(argnums, len(args))
    new_args, inner, groups = list(args), set(), []
    for k in nums:
        leaves, spec = _flatten(args[k])
        own = [_own(t, fname) for t in leaves]
        inner.update(id(t) for t in own)
        new_args[k] = _unflatten(own, spec)
        groups.append((own, spec))
    return new_args, inner, groups


def _regroup(flat, groups, argnums):
    """flat (one entry per own tensor) in the structure of the arguments: one per argnum."""
    per_arg, start = [], 0
    for own, spec in groups:
        per_arg.append(_unflatten(flat[start:start + len(own)], spec))
        start += len(own)
    return per_arg[0] if isinstance(argnums, int) else tuple(per_arg)


# ---- grad, grad_and_value --------------------------------------------------------------------------

def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (gradient, value) of func, which must return a scalar tensor (and an aux
    value, with has_aux: then ((gradient), (value, aux))). The gradient is with respect to the
    argnums-th argument (a tensor or a tuple/list/dict of them; a tuple of argnums gives a tuple)."""
    def wrapper(*args, **kwargs):
        new_args, inner, groups = _own_args(args, argnums, "grad_and_value(f)(*args)")
        with enable_grad():
            result = func(*new_args, **kwargs)
            if has_aux:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should be a tuple: "
                                       "(output, aux) if has_aux is True")
                out, aux = result
            else:
                out, aux = result, None
            if not isinstance(out, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got {type(out)}")
            if out.dim() != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {out.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs "
                                   f"instead?")
            flat = [t for own, _ in groups for t in own]
            grads = (_autograd_grad(out, flat, create_graph=True, allow_unused=True) if out.requires_grad
                     else [None] * len(flat))
        grads = [_zeros_like(t) if g is None else g for g, t in zip(grads, flat)]
        gradient = _regroup(grads, groups, argnums)
        gradient = _release(gradient, inner)
        value = _release(out, inner)
        if has_aux:
            return gradient, (value, _release(aux, inner))
        return gradient, value
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning the gradient of func (a scalar function) with respect to its argnums-th
    argument; with has_aux, (gradient, aux)."""
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        gradient, value = gv(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient
    return wrapper


# ---- vjp, jvp, jacrev, jacfwd, hessian ------------------------------------------------------------

def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn): vjp_fn(cotangents) gives the vector-Jacobian products, one per primal."""
    leaves, spec = _flatten(primals)
    own = [_own(t, "vjp(f, *primals)") for t in leaves]
    inner = {id(t) for t in own}
    with enable_grad():
        result = func(*_unflatten(own, spec))
        if has_aux:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError("vjp(f, *primals): output of function f should be a tuple: (output, aux) "
                                   "if has_aux is True")
            out, aux = result
        else:
            out, aux = result, None
    out_leaves, out_spec = _flatten(out)
    for t in out_leaves:
        if not isinstance(t, Tensor):
            raise RuntimeError(f"vjp(f, *primals): Expected f(*primals) to return only tensors, got unsupported "
                               f"type {type(t)}")

    def vjp_fn(cotangents):
        ct_leaves, _ = _flatten(cotangents)
        if len(ct_leaves) != len(out_leaves):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of "
                               "outputs to the function")
        pairs = [(o, c) for o, c in zip(out_leaves, ct_leaves) if o.requires_grad]
        with enable_grad():
            grads = (_autograd_grad([o for o, _ in pairs], own, [c for _, c in pairs], create_graph=True,
                                    allow_unused=True, retain_graph=True) if pairs else [None] * len(own))
        grads = [_zeros_like(t) if g is None else g for g, t in zip(grads, own)]
        return _release(_unflatten(grads, spec), inner)

    value = _release(out, inner)
    return (value, vjp_fn, _release(aux, inner)) if has_aux else (value, vjp_fn)


def jvp(func, primals, tangents, *, has_aux=False):
    """(func(*primals), the Jacobian-vector product with tangents), by two reverse passes (the
    double-vjp trick); the same values as forward mode."""
    if not isinstance(primals, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals to be a tuple. E.g. it should be valid "
                           "to call f(*primals).")
    if not isinstance(tangents, tuple) or len(_flatten(tangents)[0]) != len(_flatten(primals)[0]):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have the same python "
                           "structure.")
    leaves, spec = _flatten(primals)
    own = [_own(t, "jvp(f, primals, tangents)") for t in leaves]
    inner = {id(t) for t in own}
    tan_leaves, _ = _flatten(tangents)
    with enable_grad():
        result = func(*_unflatten(own, spec))
        out, aux = result if has_aux else (result, None)
        out_leaves, out_spec = _flatten(out)
        dummies = [_zeros_like(o).requires_grad_() for o in out_leaves]
        inner.update(id(d) for d in dummies)
        used = [(o, d) for o, d in zip(out_leaves, dummies) if o.requires_grad]
        if used:
            g = _autograd_grad([o for o, _ in used], own, [d for _, d in used], create_graph=True,
                               allow_unused=True, retain_graph=True)
            pairs = [(gi, ti) for gi, ti in zip(g, tan_leaves) if gi is not None and gi.requires_grad]
            jv = (_autograd_grad([p for p, _ in pairs], dummies, [t for _, t in pairs], create_graph=True,
                                 allow_unused=True) if pairs else [None] * len(dummies))
        else:
            jv = [None] * len(dummies)
    jv = [_zeros_like(o) if j is None else j for j, o in zip(jv, out_leaves)]
    res = (_release(out, inner), _release(_unflatten(jv, out_spec), inner))
    return res + (_release(aux, inner),) if has_aux else res


def _jacobian(func, argnums, has_aux, name):
    def wrapper(*args, **kwargs):
        new_args, inner, groups = _own_args(args, argnums, f"{name}(f)(*args)")
        flat = [t for own, _ in groups for t in own]
        with enable_grad():
            result = func(*new_args, **kwargs)
            out, aux = result if has_aux else (result, None)
            out_leaves, out_spec = _flatten(out)
            for o in out_leaves:
                if not isinstance(o, Tensor):
                    raise RuntimeError(f"{name}(f, ...)(*args): Expected f to be a function that has "
                                       f"non-empty output, got {type(o)}")
            per_out = []
            for o in out_leaves:
                rows = []
                for j in range(o.numel()):
                    seed = _C.zeros(o.numel(), dtype=o.dtype)
                    seed[j] = 1.0
                    g = (_autograd_grad(o, flat, seed.reshape(o.shape), create_graph=True, allow_unused=True,
                                        retain_graph=True) if o.requires_grad else [None] * len(flat))
                    rows.append([_zeros_like(t) if gi is None else gi for gi, t in zip(g, flat)])
                jac = []
                for i, t in enumerate(flat):
                    stacked = (_C.stack([r[i] for r in rows]) if rows
                               else _C.zeros((0,) + tuple(t.shape), dtype=t.dtype))
                    jac.append(stacked.reshape(tuple(o.shape) + tuple(t.shape)))
                per_out.append(_regroup(jac, groups, argnums))
        jacobian = _release(_unflatten(per_out, out_spec), inner)
        return (jacobian, _release(aux, inner)) if has_aux else jacobian
    return wrapper


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """A function returning the Jacobian of func with respect to its argnums-th argument: shape
    output.shape + input.shape, one reverse pass per output element."""
    return _jacobian(func, argnums, has_aux, "jacrev")


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian, as jacrev computes it (cgrad has no forward mode; the values are the same)."""
    return _jacobian(func, argnums, has_aux, "jacfwd")


def hessian(func, argnums=0):
    """The Hessian of a scalar function: the Jacobian of its gradient."""
    return jacfwd(jacrev(func, argnums), argnums)


# ---- vmap ----------------------------------------------------------------------------------------------

def _fname(func):
    return getattr(func, "__name__", repr(func))


def _in_dims_leaves(in_dims, args, fname):
    """One in_dim per leaf of args (in_dims an int or None broadcast, or a structure matching args)."""
    arg_leaves, arg_spec = _flatten(args)
    if in_dims is None or isinstance(in_dims, int):
        return arg_leaves, arg_spec, [in_dims] * len(arg_leaves)
    if not isinstance(in_dims, tuple):
        raise ValueError(f"vmap({fname}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or a "
                         f"(potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}.")
    if len(in_dims) != len(args):
        raise ValueError(f"vmap({fname}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
                         f"structure of `inputs`.")
    dims = []
    for d, a in zip(in_dims, args):
        n = len(_flatten(a)[0])
        if d is None or isinstance(d, int):
            dims += [d] * n
        else:
            sub, _ = _flatten(d)
            if len(sub) != n:
                raise ValueError(f"vmap({fname}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible "
                                 f"with the structure of `inputs`.")
            dims += sub
    return arg_leaves, arg_spec, dims


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over dimension in_dims of its inputs (None: not mapped), the results stacked along
    out_dims. cgrad calls func once per index of the mapped dimension. randomness: 'different' and
    'error' draw new numbers in each call; 'same' gives every call the same draws."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got "
                           f"{randomness}")
    fname = _fname(func)

    def wrapper(*args, **kwargs):
        leaves, spec, dims = _in_dims_leaves(in_dims, args, fname)
        size = None
        for t, d in zip(leaves, dims):
            if d is None:
                continue
            if not isinstance(t, Tensor):
                raise ValueError(f"vmap({fname}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an input "
                                 f"but the input is of type {type(t)}. We cannot vmap over non-Tensor arguments, "
                                 f"please use None as the respective in_dim")
            if not -t.dim() <= d < t.dim():
                raise ValueError(f"vmap({fname}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for some "
                                 f"input, but that input is a Tensor of dimensionality {t.dim()} so expected "
                                 f"in_dim to satisfy -{t.dim()} <= in_dim < {t.dim()}.")
            n = t.shape[d]
            if size is not None and n != size:
                sizes = [t2.shape[d2] for t2, d2 in zip(leaves, dims) if d2 is not None]
                raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got "
                                 f"sizes {sizes} for the mapped dimension")
            size = n
        if size is None:
            raise ValueError(f"vmap({fname}, in_dims={in_dims}, ...)(<inputs>): at least one input must be a "
                             f"Tensor mapped over a dimension (in_dim not None)")
        from cgrad import random as _random
        state = _random.get_rng_state() if randomness == "same" else None
        results = []
        for i in range(size):
            if state is not None:
                _random.set_rng_state(state)
            sliced = [t.select(d, i) if d is not None else t for t, d in zip(leaves, dims)]
            results.append(func(*_unflatten(sliced, spec), **kwargs))
        return _stack_results(results, out_dims, fname)
    return wrapper


def _stack_results(results, out_dims, fname):
    first, out_spec = _flatten(results[0])
    per_call = [_flatten(r)[0] for r in results]
    if isinstance(out_dims, int) or out_dims is None:
        odims = [out_dims] * len(first)
    else:
        odims, _ = _flatten(out_dims)
        if len(odims) != len(first):
            raise ValueError(f"vmap({fname}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with "
                             f"the structure of `outputs`.")
    stacked = []
    for k, d in enumerate(odims):
        column = [leaves[k] for leaves in per_call]
        if d is None:
            stacked.append(column[0])
            continue
        if not isinstance(column[0], Tensor):
            raise ValueError(f"vmap({fname}, ...): `{fname}` must only return Tensors, got type {type(column[0])}. "
                             f"Did you mean to set out_dims= to None for output?")
        stacked.append(_C.stack(column, d % (column[0].dim() + 1)))
    return _unflatten(stacked, out_spec)


# ---- functional_call ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _swapped(module, tensors):
    """module with the named parameters and buffers in tensors in place of its own, for the block."""
    saved = []
    try:
        for name, value in tensors.items():
            owner, _, attr = name.rpartition(".")
            sub = module.get_submodule(owner) if owner else module
            in_params = attr in sub._parameters
            in_buffers = attr in sub._buffers
            old = sub._parameters[attr] if in_params else sub._buffers[attr] if in_buffers else getattr(sub, attr)
            saved.append((sub, attr, old, in_params, in_buffers))
            if in_params:
                sub._parameters[attr] = value
            elif in_buffers:
                sub._buffers[attr] = value
            else:
                object.__setattr__(sub, attr, value)
        yield
    finally:
        for sub, attr, old, in_params, in_buffers in reversed(saved):
            if in_params:
                sub._parameters[attr] = old
            elif in_buffers:
                sub._buffers[attr] = old
            else:
                object.__setattr__(sub, attr, old)


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True,
                    strict=False):
    """module(*args, **kwargs) with the parameters and buffers named in parameter_and_buffer_dicts (a dict,
    or a tuple of dicts) in place of its own; the module is left as it was."""
    if isinstance(parameter_and_buffer_dicts, dict):
        tensors = dict(parameter_and_buffer_dicts)
    else:
        tensors = {}
        for d in parameter_and_buffer_dicts:
            for k, v in d.items():
                if k in tensors:
                    raise ValueError(f"{k} appeared in multiple dictionaries; behavior of functional call is "
                                     f"ambiguous")
                tensors[k] = v
    if strict:
        expected = {n for n, _ in module.named_parameters()} | {n for n, _ in module.named_buffers()}
        missing = sorted(expected - set(tensors))
        unexpected = sorted(set(tensors) - expected)
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                               + "\n\t".join(([f"Missing key(s): {', '.join(map(repr, missing))}."]
                                              if missing else [])
                                             + ([f"Unexpected key(s): {', '.join(map(repr, unexpected))}."]
                                                if unexpected else [])))
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, tensors):
        return module(*args, **(kwargs or {}))


def stack_module_state(models):
    """(params, buffers): each parameter and buffer of the models (all of one class and mode) stacked
    along a new first dim, by name; stacked parameters are new leaves, for vmap over functional_call."""
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    model0_typ = type(models[0])
    if not all(type(m) is model0_typ for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")

    def stacked_leaf(tensors, name):
        all_requires_grad = all(t.requires_grad for t in tensors)
        if not all_requires_grad and any(t.requires_grad for t in tensors):
            raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
        result = _C.stack(tensors)
        return result.detach().requires_grad_() if all_requires_grad else result

    all_params = [dict(model.named_parameters()) for model in models]
    params = {k: stacked_leaf(tuple(p[k] for p in all_params), k) for k in all_params[0]}
    all_buffers = [dict(model.named_buffers()) for model in models]
    buffers = {k: stacked_leaf(tuple(b[k] for b in all_buffers), k) for k in all_buffers[0]}
    return params, buffers


def linearize(func, *primals):
    """(func(*primals), jvp_fn): jvp_fn(*tangents) is the Jacobian-vector product at primals. The
    linearization is recorded once (the first of jvp's two reverse passes) and each call of jvp_fn runs
    only the second, without calling func again."""
    output = func(*primals)
    leaves, spec = _flatten(primals)
    own = [_own(t, "linearize") for t in leaves]
    with enable_grad():
        result = func(*_unflatten(own, spec))
        out_leaves, out_spec = _flatten(result)
        dummies = [_zeros_like(o).requires_grad_() for o in out_leaves]
        used = [(o, d) for o, d in zip(out_leaves, dummies) if o.requires_grad]
        g = (_autograd_grad([o for o, _ in used], own, [d for _, d in used], create_graph=True, allow_unused=True)
             if used else [None] * len(own))
    meta = [(t.shape, t.dtype) for t in leaves]

    def jvp_fn(*tangents):
        tan_leaves, tan_spec = _flatten(tangents)
        if tan_spec != spec:
            raise RuntimeError(f"Expected the tangents {tan_spec} to have the same argspec as the primals {spec}")
        for idx, (t, (shape, dtype)) in enumerate(zip(tan_leaves, meta)):
            if t.shape != shape:
                raise RuntimeError(f"tangent:{idx} with shape {t.shape} in flattened pytree doesn't match the "
                                   f"shape {shape} of the corresponding primal.")
            if t.dtype != dtype:
                raise RuntimeError(f"tangent:{idx} with dtype {t.dtype} in flattened pytree doesn't match the "
                                   f"dtype {dtype} of the corresponding primal.")
        pairs = [(gi, ti) for gi, ti in zip(g, tan_leaves) if gi is not None and gi.requires_grad]
        with enable_grad():
            jv = (_autograd_grad([p for p, _ in pairs], dummies, [t for _, t in pairs], retain_graph=True,
                                 allow_unused=True) if pairs else [None] * len(dummies))
        jv = [_zeros_like(o).detach() if j is None else j for j, o in zip(jv, out_leaves)]
        return _unflatten(jv, out_spec)

    return output, jvp_fn


def functionalize(func, *, remove="mutations"):
    """func with its mutations (and with remove="mutations_and_views" its views) taken out of the program.
    That changes a traced program, not what an eager call computes: cgrad runs func itself, and with
    "mutations_and_views" returns copies of outputs that alias an input, as PyTorch then does."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(
            f"functionalize(f, remove='mutations'): received invalid argument for remove={remove}. Valid options "
            "are:\n     remove='mutations': all inplace and out= operators will be removed from the program, and "
            "replaced with their out-of-place equivalents.\n     remove='mutations_and_views': In addition to the "
            "above, all aliasing operators {view} will be replaced with their non-aliasing counterparts, "
            "{view}_copy.\n")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        out = func(*args, **kwargs)
        if remove == "mutations":
            return out
        inputs = [t for t in _flatten((args, kwargs))[0] if isinstance(t, Tensor)]
        leaves, spec = _flatten(out)
        return _unflatten([t.clone() if isinstance(t, Tensor) and any(_aliases(t, i) for i in inputs) else t
                           for t in leaves], spec)

    return wrapped


def _aliases(a, b):
    """Whether a and b share memory."""
    import numpy as np
    return a.numel() > 0 and b.numel() > 0 and np.shares_memory(a.detach().numpy(), b.detach().numpy())


def replace_all_batch_norm_modules_(root):
    """In place: every batch norm in root stops tracking running statistics (so vmap over it sees no
    shared buffers); returns root."""
    from cgrad.nn.modules.batchnorm import _BatchNorm
    for module in root.modules():
        if isinstance(module, _BatchNorm) and module.track_running_stats:
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root
