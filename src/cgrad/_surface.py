"""PyTorch's smaller top-level names, written over cgrad's ops.

Eager control flow (cond, while_loop); the aten-level forms of nn.functional's ops
(convolution, native_layer_norm, grid_sampler, ...); the deprecated norms; functions
PyTorch removed and keeps only to raise; the complex-number helpers on real tensors; and
the sym_* utilities, which on plain Python numbers are the plain operations.
"""
import builtins
import math
import warnings

import numpy as np

from cgrad import _C
from cgrad._C import Tensor
from cgrad._creation import full_like, tensor, zeros_like
from cgrad._tensor_types import tensortype
from cgrad.autograd.function import Function
from cgrad.func import _flatten, _unflatten
from cgrad.futures import Future  # noqa: F401  (cgrad.Future, as torch.Future)

__all__ = [
    "cond", "while_loop",
    "convolution", "ctc_loss", "embedding_bag", "pdist", "grid_sampler", "grid_sampler_2d", "grid_sampler_3d",
    "affine_grid_generator", "native_layer_norm", "native_batch_norm", "native_group_norm", "native_dropout",
    "native_norm", "frobenius_norm", "nuclear_norm",
    "matrix_rank", "lstsq", "solve", "eig", "symeig",
    "conj", "conj_physical", "conj_physical_", "resolve_conj", "resolve_neg", "is_conj", "is_neg", "real", "imag",
    "angle", "polar", "complex", "view_as_real", "view_as_complex",
    "sym_max", "sym_min", "sym_not", "sym_float", "sym_int", "sym_sqrt", "sym_sum", "sym_ite",
    "get_device", "is_storage", "set_default_tensor_type", "init_num_threads",
    "frombuffer", "empty_permuted", "as_strided_", "resize_as_", "to_dlpack", "Future",
]


def _tensor_arg(fn, value, name="input", position=1):
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Tensor, not "
                        f"{type(value).__name__}")


# ---- control flow -------------------------------------------------------------------------------------------
# A branch's operands and outputs are nested tuples, lists and dicts, taken apart and rebuilt with cgrad.func's
# helpers (which recurse as deep as the user wrote them, never over the graph).

def _fresh_outputs(op, values):
    """values (a flat list) with each tensor a new one, through op where a gradient can flow."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    if not tensors:
        return values
    if _C._is_grad_enabled() and any(t.requires_grad for t in tensors):
        fresh = iter(op.apply(*tensors))
    else:
        fresh = iter([t.clone() for t in tensors])
    return [next(fresh) if isinstance(v, Tensor) else v for v in values]


def _identity_op(name):
    """An autograd Function that passes its tensors through; PyTorch's graph shows one node of that name
    where a higher-order op's outputs leave it."""
    def forward(ctx, *tensors):
        return tuple(t.clone() for t in tensors)

    def backward(ctx, *grads):
        return grads
    return type(name, (Function,), {"_node_name": name + "Backward", "forward": staticmethod(forward),
                                    "backward": staticmethod(backward)})


_CondAutogradOp = _identity_op("CondAutogradOp")
_WhileLoopAutogradOp = _identity_op("WhileLoopAutogradOp")


def cond(pred, true_fn, false_fn, operands=()):
    """true_fn(*operands) if pred else false_fn(*operands), eagerly.

    A Python bool (or number) selects the branch and its result is returned as is. A one-element tensor
    does too, as PyTorch's traced op: the operands must be tensors and the outputs are new tensors, their
    graph node CondAutogradOpBackward. Unlike PyTorch, the branch not taken is never run (nor traced), so
    a mismatch between the branches' outputs is not detected.
    """
    if isinstance(pred, Tensor):
        if pred.numel() != 1:
            raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got {pred}.")
    elif not isinstance(pred, (bool, int, float)):
        raise RuntimeError(f"Expected pred to be bool or tensor, but got {pred}.")
    if not isinstance(pred, Tensor):
        return (true_fn if pred else false_fn)(*operands)
    leaves, _ = _flatten(operands) if isinstance(operands, (tuple, list)) else ([operands], None)
    if not isinstance(operands, (tuple, list)) or not builtins.all(isinstance(t, Tensor) for t in leaves):
        raise RuntimeError("Expect operands to be a tuple of possibly nested dict/list/tuple that only consists of "
                           f"tensor leaves, but got {operands}.")
    out = (true_fn if pred.item() else false_fn)(*operands)
    values, spec = _flatten(out)
    if builtins.any(isinstance(v, Tensor) and builtins.any(v is t for t in leaves) for v in values):
        raise RuntimeError("Encountered aliasing during higher order op tracing: torch.cond's branches may not "
                           "return their operands. Higher order ops do not support aliasing.")
    return _unflatten(_fresh_outputs(_CondAutogradOp, values), spec)


def _loop_condition(value):
    """cond_fn's result as a Python bool: a bool or a bool tensor of no dims."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Tensor) and value.dim() == 0 and value.dtype == _C.bool_:
        return builtins.bool(value.item())
    shape = f"torch.Size({list(value.shape)})" if isinstance(value, Tensor) else type(value).__name__
    raise RuntimeError(f"torch.while_loop: unsupported cond_fn return type. Expected cond_fn to return a scalar "
                       f"tensor or a bool but got {shape}.")


def _check_carried(body_out, carried):
    if len(body_out) != len(carried):
        raise RuntimeError(f"Expected body_fn_output and carried_inputs to have same number of outputs but got "
                           f"lhs:{len(body_out)} and rhs:{len(carried)} outputs")
    for i, (new, old) in enumerate(zip(body_out, carried)):
        if not isinstance(new, Tensor):
            raise RuntimeError(f"Expected body_fn_output to consist of tensors, but pair[{i}] is "
                               f"{type(new).__name__}")
        for what, a, b in (("shape", new.shape, old.shape), ("dtype", new.dtype, old.dtype)):
            if a != b:
                raise RuntimeError(f"Expected body_fn_output and carried_inputs to have same metadata but found:\n"
                                   f"pair[{i}] differ in '{what}: {a} vs {b}'")


def while_loop(cond_fn, body_fn, carried_inputs):
    """carried_inputs = body_fn(*carried_inputs) while cond_fn(*carried_inputs), eagerly.

    carried_inputs are tensors (in a tuple or list, possibly nested); each step's outputs must match them in
    number, shape and dtype. The results are new tensors whose graph node is WhileLoopAutogradOpBackward; their
    structure is body_fn's (carried_inputs' when the body never ran). A step that changes nothing under a
    cond_fn returning a Python True is the infinite loop PyTorch's tracer reports, and raises as it does.
    """
    if not (callable(cond_fn) and callable(body_fn)):
        raise RuntimeError("Expect cond_fn and body_fn to be callable.")
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(f"Expect carried_inputs to be a tuple or a list, but got {type(carried_inputs).__name__}.")
    leaves, spec = _flatten(carried_inputs)
    if not builtins.all(isinstance(t, Tensor) for t in leaves):
        raise RuntimeError(f"all carried_inputs must be tensors, got {[type(t).__name__ for t in leaves]}")
    carried = carried_inputs
    while True:
        flag = cond_fn(*carried)
        if not _loop_condition(flag):
            break
        out = body_fn(*carried)
        body = out if isinstance(out, (tuple, list)) else (out,)
        new_leaves, new_spec = _flatten(body)
        _check_carried(new_leaves, leaves)
        if isinstance(flag, bool) and builtins.all(_C.equal(n, o) for n, o in zip(new_leaves, leaves)):
            raise RuntimeError("torch.while_loop: infinite loop detected. Infinite loop detected because "
                               "while_loop's cond_fn always returns the same value True.")
        carried, leaves = body, new_leaves
        spec = new_spec if isinstance(out, (tuple, list)) else None
    return _unflatten(_fresh_outputs(_WhileLoopAutogradOp, leaves), spec)


# ---- aten-level forms of nn.functional's ops ----------------------------------------------------------------

def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """The convolution (or, transposed, its adjoint) of a batched input, every argument explicit."""
    for name, value, pos in (("input", input, 1), ("weight", weight, 2)):
        _tensor_arg("convolution", value, name, pos)
    if bias is not None:
        _tensor_arg("convolution", bias, "bias", 3)
    k = weight.dim() - 2
    if input.dim() != weight.dim():
        raise RuntimeError(f"Expected {weight.dim()}-dimensional input for {weight.dim()}-dimensional weight "
                           f"{list(weight.shape)}, but got {input.dim()}-dimensional input of size "
                           f"{list(input.shape)} instead")

    def ints(value, name, position):
        if not isinstance(value, (list, tuple)) or builtins.any(isinstance(v, bool) or not hasattr(v, "__index__")
                                                               for v in value):
            raise TypeError(f"convolution(): argument '{name}' (position {position}) must be tuple of ints, not "
                            f"{type(value).__name__}")
        values = [v.__index__() for v in value]
        return values * k if len(values) == 1 else values
    stride, padding = ints(stride, "stride", 4), ints(padding, "padding", 5)
    dilation, output_padding = ints(dilation, "dilation", 6), ints(output_padding, "output_padding", 8)
    if transposed:
        return _C._conv_transpose(input, weight, bias, stride, padding, output_padding, dilation, int(groups))
    return _C._convolution(input, weight, bias, stride, padding, dilation, int(groups), False)


_REDUCTIONS = {1: "mean", 2: "sum"}


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1, zero_infinity=False):
    """nn.functional.ctc_loss with PyTorch's enum for reduction (1 mean, 2 sum, any other value none)."""
    from cgrad.nn.functional import ctc_loss as ctc
    return ctc(log_probs, targets, input_lengths, target_lengths, blank, _REDUCTIONS.get(reduction, "none"),
               zero_infinity)


def _bag_of(offsets, n, include_last_offset):
    """The bag index of each of n indices; bags start at offsets."""
    starts = offsets.tolist()
    if include_last_offset:
        starts = starts[:-1]
    bag = [0] * n
    for b, start in enumerate(starts):
        end = starts[b + 1] if b + 1 < len(starts) else n
        bag[start:end] = [b] * builtins.max(0, builtins.min(end, n) - start)
    return bag, len(starts)


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """nn.functional.embedding_bag with aten's order and enum (mode 0 sum, 1 mean, 2 max), returning
    (output, offset2bag, bag_size, max_indices) as PyTorch's CPU kernel does."""
    from cgrad.nn.functional import embedding_bag as bag_fn
    _tensor_arg("embedding_bag", weight, "weight", 1)
    _tensor_arg("embedding_bag", indices, "indices", 2)
    _tensor_arg("embedding_bag", offsets, "offsets", 3)
    if mode not in (0, 1, 2):
        raise RuntimeError("`mode` must be sum, mean, or max.")
    pad = None if padding_idx is None or padding_idx < 0 else padding_idx
    out = bag_fn(indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq, mode=("sum", "mean", "max")[mode],
                 sparse=sparse, per_sample_weights=per_sample_weights, include_last_offset=include_last_offset,
                 padding_idx=pad)
    flat = indices.reshape(-1)
    bag, nbags = _bag_of(offsets, flat.numel(), include_last_offset)
    if mode == 0:  # the sum kernel keeps no sizes; its float32 form without padding_idx no offset2bag either
        zeros = _C.zeros(offsets.numel(), dtype=_C.int64)
        skip = weight.dtype == _C.float32 and pad is None
        return out, _C.empty(0, dtype=_C.int64) if skip else tensor(bag, dtype=_C.int64), zeros, zeros.clone()
    offset2bag = tensor(bag, dtype=_C.int64)
    idx = flat.tolist()
    counts = [0] * nbags
    for b, i in zip(bag, idx):
        counts[b] += i != pad
    bag_size = tensor(counts, dtype=_C.int64)
    if mode == 1:
        return out, offset2bag, bag_size, bag_size.clone()
    return out, offset2bag, bag_size, _bag_argmax(weight, idx, bag, nbags, pad)


def _bag_argmax(weight, idx, bag, nbags, pad):
    """For each bag and column, the index (into weight) of the row holding the bag's max (0 for an empty bag)."""
    rows = weight.detach().tolist()
    dim = weight.size(1)
    best = [[None] * dim for _ in builtins.range(nbags)]
    for b, i in zip(bag, idx):
        if i == pad:
            continue
        for c in builtins.range(dim):
            if best[b][c] is None or rows[i][c] > rows[best[b][c]][c]:
                best[b][c] = i
    return tensor([[0 if v is None else v for v in row] for row in best], dtype=_C.int64).reshape(nbags, dim)


def pdist(input, p=2):
    """The p-norm distances between input's rows (nn.functional.pdist)."""
    from cgrad.nn.functional import pdist as pd
    return pd(input, p)


_GRID_MODES = ("bilinear", "nearest", "bicubic")
_GRID_PADDING = ("zeros", "border", "reflection")


def _grid_sampler(name, input, grid, interpolation_mode, padding_mode, align_corners, dims):
    from cgrad.nn.functional import grid_sample
    _tensor_arg(name, input, "input", 1)
    _tensor_arg(name, grid, "grid", 2)
    if dims is not None and input.dim() != dims:
        raise RuntimeError(f"grid_sampler(): expected {dims}D input and grid with same number of dimensions, but got "
                           f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}")
    if interpolation_mode not in (0, 1, 2):
        raise RuntimeError(f"{name}(): interpolation_mode must be 0 (bilinear), 1 (nearest) or 2 (bicubic), got "
                           f"{interpolation_mode}")
    if padding_mode not in (0, 1, 2):
        raise RuntimeError(f"{name}(): padding_mode must be 0 (zeros), 1 (border) or 2 (reflection), got "
                           f"{padding_mode}")
    return grid_sample(input, grid, _GRID_MODES[interpolation_mode], _GRID_PADDING[padding_mode],
                       builtins.bool(align_corners))


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """nn.functional.grid_sample with PyTorch's enums: mode 0 bilinear, 1 nearest, 2 bicubic; padding
    0 zeros, 1 border, 2 reflection."""
    return _grid_sampler("grid_sampler", input, grid, interpolation_mode, padding_mode, align_corners, None)


def grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners):
    """grid_sampler for a 4-D input."""
    return _grid_sampler("grid_sampler_2d", input, grid, interpolation_mode, padding_mode, align_corners, 4)


def grid_sampler_3d(input, grid, interpolation_mode, padding_mode, align_corners):
    """grid_sampler for a 5-D input."""
    return _grid_sampler("grid_sampler_3d", input, grid, interpolation_mode, padding_mode, align_corners, 5)


def affine_grid_generator(theta, size, align_corners):
    """nn.functional.affine_grid with align_corners required."""
    from cgrad.nn.functional import affine_grid
    _tensor_arg("affine_grid_generator", theta, "theta", 1)
    size = list(size)
    if len(size) not in (4, 5):
        raise RuntimeError("AffineGridGenerator needs 4d (spatial) or 5d (volumetric) inputs.")
    if theta.dim() == 3 and theta.shape[0] == size[0] and theta.shape[2] != len(size) - 1:
        # PyTorch multiplies the base grid by theta transposed: bmm's message names that operand
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{size[0]}, "
                           f"{len(size) - 1}] but got: [{theta.shape[0]}, {theta.shape[2]}].")
    return affine_grid(theta, size, builtins.bool(align_corners))


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """(layer_norm's output, the mean, 1 / sqrt(var + eps)); the statistics keep the normalized dims as 1s."""
    from cgrad.nn.functional import layer_norm
    _tensor_arg("native_layer_norm", input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    out = layer_norm(input, shape, weight, bias, eps)
    dims = tuple(builtins.range(input.dim() - len(shape), input.dim()))
    with _C.no_grad():
        x = input.detach()
        mean = x.mean(dims, keepdim=True) if dims else x.clone()
        rstd = (x.var(dims, correction=0, keepdim=True) + eps).rsqrt() if dims else _C.full_like(x, eps).rsqrt()
    return out, mean, rstd


def _channel_shape(x):
    """The shape that broadcasts a per-channel (dim 1) vector against x, and the dims summed per channel."""
    return (1, x.shape[1]) + (1,) * (x.dim() - 2), (0,) + tuple(builtins.range(2, x.dim()))


class _NativeBatchNorm(Function):
    """batch_norm as one node; the statistics, used only in backward, are computed once here."""
    _node_name = "NativeBatchNormBackward0"

    @staticmethod
    def forward(ctx, input, weight, bias, stats, training, momentum, eps):
        from cgrad.nn.functional import batch_norm
        running_mean, running_var = stats
        out = batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
        stats = () if training else (running_mean.clone(), (running_var + eps).rsqrt())
        ctx.save_for_backward(input, weight, *stats)
        ctx.training, ctx.eps = training, eps
        return out

    @staticmethod
    def backward(ctx, grad):
        # y = xhat w + b, xhat = (x - mean) rstd; in training mean and rstd depend on x:
        # dx = rstd (gw - mean(gw) - xhat mean(gw xhat)) with gw = grad w, means over each channel
        x, weight, *stats = ctx.saved_tensors
        shape, dims = _channel_shape(x)
        # the batch statistics are recomputed from x, so that a second derivative sees them depend on it
        mean, rstd = stats or (x.mean(dims), (x.var(dims, correction=0) + ctx.eps).rsqrt())
        xhat = (x - mean.reshape(shape)) * rstd.reshape(shape)
        gw = grad if weight is None else grad * weight.reshape(shape)
        if ctx.training:
            gx = (gw - gw.mean(dims, keepdim=True) - xhat * (gw * xhat).mean(dims, keepdim=True)) * rstd.reshape(shape)
        else:
            gx = gw * rstd.reshape(shape)
        needs = ctx.needs_input_grad
        return (gx if needs[0] else None, (grad * xhat).sum(dims) if needs[1] else None,
                grad.sum(dims) if needs[2] else None, None, None, None, None)


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """(batch_norm's output, the batch mean, 1 / sqrt(batch var + eps)); in evaluation the statistics are empty."""
    _tensor_arg("native_batch_norm", input)
    out = _NativeBatchNorm.apply(input, weight, bias, (running_mean, running_var), training, momentum, eps)
    if not training:
        return out, _C.empty(0, dtype=input.dtype), _C.empty(0, dtype=input.dtype)
    _, dims = _channel_shape(input)
    with _C.no_grad():
        x = input.detach()
        return out, x.mean(dims), (x.var(dims, correction=0) + eps).rsqrt()


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """(group_norm's output, each sample's and group's mean and 1 / sqrt(var + eps), both (N, group))."""
    _tensor_arg("native_group_norm", input)
    if input.numel() != N * C * HxW:
        raise RuntimeError("Expected X.numel() == N * C * HxW to be true, but got false.  (Could this error message "
                           "be improved?  If so, please report an enhancement request to PyTorch.)")
    return _NativeGroupNorm.apply(input, weight, bias, N, group, eps)


class _NativeGroupNorm(Function):
    """group_norm as one node with its three outputs, each differentiable as in PyTorch."""
    _node_name = "NativeGroupNormBackward0"

    @staticmethod
    def forward(ctx, input, weight, bias, N, group, eps):
        from cgrad.nn.functional import group_norm
        out = group_norm(input, group, weight, bias, eps)
        groups = input.reshape(N, group, -1)
        mean, rstd = groups.mean(2), (groups.var(2, correction=0) + eps).rsqrt()
        ctx.save_for_backward(input, weight)
        ctx.N, ctx.group, ctx.eps = N, group, eps
        ctx.set_materialize_grads(False)
        return out, mean, rstd

    @staticmethod
    def backward(ctx, grad, grad_mean, grad_rstd):
        # per group of n values: dx = rstd (gw - mean(gw) - xhat mean(gw xhat)) from the output,
        # + grad_mean / n (d mean / dx = 1/n) + grad_rstd (-rstd^3 (x - mean) / n) (d rstd / dx).
        # As PyTorch's backward, the statistics' gradients count only when both are given.
        stats = grad_mean is not None and grad_rstd is not None
        if grad is None and not stats:
            return None, None, None, None, None, None
        x, weight = ctx.saved_tensors
        shape, dims = _channel_shape(x)
        xg = x.reshape(ctx.N, ctx.group, -1)
        # the statistics are recomputed from x, so that a second derivative sees them depend on it
        m = xg.mean(2, keepdim=True)
        r = (xg.var(2, correction=0, keepdim=True) + ctx.eps).rsqrt()
        n = xg.shape[2]
        xhat = (xg - m) * r
        gx = zeros_like(xg)
        if grad is not None:
            gg = (grad if weight is None else grad * weight.reshape(shape)).reshape(ctx.N, ctx.group, -1)
            gx = (gg - gg.mean(2, keepdim=True) - xhat * (gg * xhat).mean(2, keepdim=True)) * r
        if stats:
            gx = gx + grad_mean.unsqueeze(2) / n - grad_rstd.unsqueeze(2) * r.pow(3) * (xg - m) / n
        needs = ctx.needs_input_grad
        with_output = grad is not None
        return (gx.reshape(x.shape) if needs[0] else None,
                (grad * xhat.reshape(x.shape)).sum(dims) if needs[1] and with_output else None,
                grad.sum(dims) if needs[2] and with_output else None, None, None, None)


def native_dropout(input, p, train):
    """(output, mask): in training (train True or None) each element is kept with probability 1 - p and scaled
    by 1 / (1 - p); mask says which were kept."""
    _tensor_arg("native_dropout", input)
    if train is None or train:
        if not 0 <= 1 - p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={1 - p:g}")
        if not input.is_floating_point():
            from cgrad._stats import _type_name
            raise RuntimeError(f"result type Float can't be cast to the desired output type {_type_name(input)}")
        mask = _C.empty(tuple(input.shape), dtype=input.dtype).bernoulli_(1 - p).bool()
        scale = 0.0 if p == 1 else 1.0 / (1 - p)
    else:
        mask, scale = _C.ones(tuple(input.shape), dtype=_C.bool_), 1.0
    if not input.requires_grad:
        return (input * mask * scale if scale != 1.0 else input.clone()), mask
    return _NativeDropout.apply(input, mask, scale), mask


class _NativeDropout(Function):
    """input * mask * scale as one node: d/dinput = mask * scale."""
    _node_name = "NativeDropoutBackward0"

    @staticmethod
    def forward(ctx, input, mask, scale):
        ctx.save_for_backward(mask)
        ctx.scale = scale
        return input * mask * scale

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask * ctx.scale, None, None


def native_norm(input, p=2, dim=None, keepdim=False, dtype=None):
    """PyTorch defines it for sparse tensors only."""
    _tensor_arg("native_norm", input)
    raise NotImplementedError("Could not run 'aten::native_norm' with arguments from the 'CPU' backend. This could "
                              "be because the operator doesn't exist for this backend, or was omitted during the "
                              "selective/custom build process (if using custom build).")


def frobenius_norm(input, dim, keepdim=False, *, out=None):
    """Deprecated: linalg.vector_norm(input, 2, dim, keepdim)."""
    from cgrad import linalg
    _tensor_arg("frobenius_norm", input)
    warnings.warn("at::frobenius_norm is deprecated and it is just left for JIT compatibility. It will be removed in "
                  "a future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, keepdim)` instead",
                  UserWarning, stacklevel=2)
    result = linalg.vector_norm(input, 2.0, dim, keepdim)
    return result if out is None else out.copy_(result)


def nuclear_norm(input, dim=None, keepdim=False, *, out=None):
    """Deprecated: linalg.matrix_norm(input, 'nuc', dim, keepdim); dim may be omitted (the last two), or its
    place hold keepdim (a bool), as PyTorch's overload nuclear_norm(input, keepdim) has it."""
    from cgrad import linalg
    _tensor_arg("nuclear_norm", input)
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    warnings.warn("at::nuclear_norm is deprecated and it is just left for JIT compatibility. It will be removed in "
                  "a future PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead",
                  UserWarning, stacklevel=2)
    if dim is None:
        dim = (-2, -1)
    result = linalg.matrix_norm(input, "nuc", tuple(dim), keepdim)
    return result if out is None else out.copy_(result)


# ---- removed functions: PyTorch keeps them to say what replaced them -------------------------------------------

_REMOVED = "This function was deprecated since version 1.9 and is now removed. "


def matrix_rank(input, tol=None, symmetric=False, *, out=None):
    raise RuntimeError(_REMOVED.rstrip() + "\nPlease use the `torch.linalg.matrix_rank` function instead. The "
                       "parameter 'symmetric' was renamed in `torch.linalg.matrix_rank()` to 'hermitian'.")


def lstsq(input, A, *, out=None):
    raise RuntimeError(
        _REMOVED + "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n`torch.linalg.lstsq` has "
        "reversed arguments and does not return the QR decomposition in the returned tuple (although it returns "
        "other information about the problem).\n\nTo get the QR decomposition consider using `torch.linalg.qr`.\n\n"
        "The returned solution in `torch.lstsq` stored the residuals of the solution in the last m - n columns of "
        "the returned value whenever m > n. In torch.linalg.lstsq, the residuals are in the field 'residuals' of "
        "the returned named tuple.\n\nThe unpacking of the solution, as in\nX, _ = torch.lstsq(B, A).solution"
        "[:A.size(1)]\nshould be replaced with:\nX = torch.linalg.lstsq(A, B).solution")


def solve(input, A, *, out=None):
    raise RuntimeError(
        _REMOVED + "`torch.solve` is deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` has its "
        "arguments reversed and does not return the LU factorization.\n\nTo get the LU factorization see "
        "`torch.lu`, which can be used with `torch.lu_solve` or `torch.lu_unpack`.\nX = torch.solve(B, A).solution "
        "should be replaced with:\nX = torch.linalg.solve(A, B)")


def eig(self, eigenvectors=False, *, e=None, v=None):
    raise RuntimeError(
        _REMOVED + "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather than real "
        "tensors mimicking complex tensors.\n\nL, _ = torch.eig(A) should be replaced with:\nL_complex = "
        "torch.linalg.eigvals(A)\n\nand\n\nL, V = torch.eig(A, eigenvectors=True) should be replaced with:\n"
        "L_complex, V_complex = torch.linalg.eig(A)")


def _symeig(input, eigenvectors=False, upper=True, *, out=None):
    raise RuntimeError(
        _REMOVED + "The default behavior has changed from using the upper triangular portion of the matrix by "
        "default to using the lower triangular portion.\n\nL, _ = torch.symeig(A, upper=upper) should be replaced "
        "with:\nL = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\nand\n\nL, V = torch.symeig(A, "
        "eigenvectors=True) should be replaced with:\nL, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')")


symeig = _symeig  # PyTorch's errors name it _symeig


# ---- complex-number helpers on real tensors ----------------------------------------------------------------------
# cgrad's tensors are real: conjugation is the identity (the tensor itself, as PyTorch returns it), no tensor
# carries a conjugate or negative bit, and a result that would be complex raises NotImplementedError.

def _complex_missing(name):
    return NotImplementedError(f"{name} returns a complex tensor, and cgrad has no complex dtypes "
                               f"(docs/ops.md lists what is not implemented)")


def conj(input):
    """input itself: a real tensor is its own conjugate."""
    _tensor_arg("conj", input)
    return input


def conj_physical(input, *, out=None):
    """input itself, as PyTorch returns it for a real tensor."""
    _tensor_arg("conj_physical", input)
    if out is not None:
        return out.copy_(input)
    return input


def conj_physical_(input):
    """input itself, yet recorded as an in-place op (Tensor.conj_physical_)."""
    _tensor_arg("conj_physical_", input)
    return input.conj_physical_()


def resolve_conj(input):
    _tensor_arg("resolve_conj", input)
    return input


def resolve_neg(input):
    _tensor_arg("resolve_neg", input)
    return input


def is_conj(input):
    _tensor_arg("is_conj", input)
    return False


def is_neg(input):
    _tensor_arg("is_neg", input)
    return False


def real(input):
    """input itself: the real part of a real tensor."""
    _tensor_arg("real", input)
    return input


def imag(input):
    _tensor_arg("imag", input)
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


class _Angle(Function):
    """angle of a real x: pi where x < 0, nan where x is, 0 elsewhere; its derivative is 0 everywhere."""
    _node_name = "AngleBackward0"

    @staticmethod
    def forward(ctx, x):
        return _C.where(x < 0, full_like(x, math.pi), _C.where(x.isnan(), x, zeros_like(x)))

    @staticmethod
    def backward(ctx, grad):
        return zeros_like(grad)


def angle(input, *, out=None):
    """The argument of each element: pi for negative reals, 0 for the others (nan stays nan); integer and bool
    inputs give the default float dtype."""
    _tensor_arg("angle", input)
    x = input if input.is_floating_point() else input.to(_C.get_default_dtype())
    result = _Angle.apply(x)
    if out is not None:
        return out.copy_(result)
    return result


def _check_float_pair(a, b):
    from cgrad._stats import _type_name
    if not (a.is_floating_point() and b.is_floating_point()):
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got {_type_name(a)} and "
                           f"{_type_name(b)}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"Expected object of scalar type {_type_name(a)} but got scalar type {_type_name(b)} for "
                           f"second argument")


def polar(abs, angle, *, out=None):  # noqa: A002  (PyTorch's argument names)
    _tensor_arg("polar", abs, "abs", 1)
    _tensor_arg("polar", angle, "angle", 2)
    _check_float_pair(abs, angle)
    raise _complex_missing("cgrad.polar")


def complex(real, imag, *, out=None):  # noqa: A001
    _tensor_arg("complex", real, "real", 1)
    _tensor_arg("complex", imag, "imag", 2)
    _check_float_pair(real, imag)
    raise _complex_missing("cgrad.complex")


def view_as_real(input):
    _tensor_arg("view_as_real", input)
    raise RuntimeError("view_as_real is only supported for complex tensors")


def view_as_complex(input):
    from cgrad._stats import _type_name
    _tensor_arg("view_as_complex", input)
    if not input.is_floating_point():
        raise RuntimeError(f"view_as_complex is only supported for half, float and double tensors, but got a tensor "
                           f"of scalar type: {_type_name(input)}")
    if input.dim() == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if input.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if input.stride()[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    raise _complex_missing("cgrad.view_as_complex")


# ---- sym_* utilities: on Python numbers, the plain operations ------------------------------------------------------

def _number(a):
    import numpy as np
    if isinstance(a, (np.integer, np.floating, int, float)):
        return a
    raise AssertionError(f"expected ({np.integer!r}, {np.floating!r}, {int!r}, {float!r}), got {type(a)!r}")


def sym_max(a, b):
    """max(a, b) for ints and floats; a float if either is (nan from a wins, as PyTorch's)."""
    a, b = _number(a), _number(b)
    result = a if not b > a else b
    return float(result) if isinstance(a, float) or isinstance(b, float) else result


def sym_min(a, b):
    """min(a, b) for ints and floats; a float if either is."""
    a, b = _number(a), _number(b)
    result = a if not b < a else b
    return float(result) if isinstance(a, float) or isinstance(b, float) else result


def sym_not(a):
    return not a


def sym_float(a):
    return float(a)


def sym_int(a):
    """int(a), toward zero."""
    return int(a)


def sym_sqrt(a):
    return math.sqrt(a)


def sym_sum(*args):
    """The sum of a list (sym_sum([a, b])) or of the arguments (sym_sum(a, b)), from 0."""
    items = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
    total = 0
    for item in items:
        total = total + item
    return total


def sym_ite(b, t, f):
    """t if b else f; b must be a bool, t and f of one type."""
    if not isinstance(b, bool):
        raise AssertionError(f"expected SymBool or bool, got {type(b)!r}")
    if type(t) is not type(f):
        raise AssertionError(f"type mismatch: {type(t)!r} vs {type(f)!r}")
    return t if b else f


# ---- devices, storages, threads -----------------------------------------------------------------------------------

def get_device(input):
    """-1: every cgrad tensor is on the CPU."""
    _tensor_arg("get_device", input)
    return -1


def is_storage(obj):
    """Whether obj is a storage: an UntypedStorage or a TypedStorage."""
    from cgrad.storage import TypedStorage, UntypedStorage
    return isinstance(obj, (UntypedStorage, TypedStorage))


_warned_tensor_type = False
_TENSOR_TYPES = {"torch.FloatTensor": "float32", "torch.DoubleTensor": "float64", "torch.LongTensor": "int64",
                 "torch.BoolTensor": "bool_", "torch.IntTensor": None, "torch.ShortTensor": None,
                 "torch.CharTensor": None, "torch.ByteTensor": None}


def set_default_tensor_type(t, /):
    """Deprecated: set_default_dtype for cgrad.FloatTensor / cgrad.DoubleTensor, or their names
    ('torch.FloatTensor', or with cgrad. in place of torch.)."""
    global _warned_tensor_type
    if not _warned_tensor_type:
        _warned_tensor_type = True
        warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                      "torch.set_default_dtype() and torch.set_default_device() as alternatives.", UserWarning,
                      stacklevel=2)
    if isinstance(t, tensortype):  # cgrad.FloatTensor, ...
        t = "torch." + t.__name__
    if not isinstance(t, str):
        raise TypeError("invalid type object: only floating-point types are supported as the default type")
    name = "torch." + t[len("cgrad."):] if t.startswith("cgrad.") else t
    if name.startswith("torch.cuda."):
        raise TypeError(f"type {t} not available. Torch not compiled with CUDA enabled.")
    if name not in _TENSOR_TYPES:
        if name in ("torch.HalfTensor", "torch.BFloat16Tensor"):
            _C.set_default_dtype(_C._dtype_of_tensor_type(name))  # NotImplementedError naming the dtype
        if "." not in t:
            raise ModuleNotFoundError(f"No module named '{t}'")
        raise AttributeError(f"module '{t.rsplit('.', 1)[0]}' has no attribute '{t.rsplit('.', 1)[1]}'")
    dtype = _TENSOR_TYPES[name]
    if dtype not in ("float32", "float64"):
        raise TypeError("only floating-point types are supported as the default type")
    _C.set_default_dtype(getattr(_C, dtype))


def init_num_threads():
    """Nothing to do: cgrad's kernels take their thread count from the process, not the calling thread."""
    return None


# ---- memory from elsewhere, and layouts -------------------------------------------------------------------

_warned_readonly_buffer = False


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-d tensor on the bytes of an object with Python's buffer protocol (bytearray, array.array, ...),
    sharing them: count elements of dtype from byte offset (count -1: to the end)."""
    _C.empty(0, dtype=dtype)  # NotImplementedError naming a dtype cgrad has no tensors of
    try:
        view = memoryview(buffer)
    except TypeError:
        raise ValueError("object does not implement Python buffer protocol.") from None
    if not view.contiguous:
        raise RuntimeError("could not retrieve buffer from object")
    length, size = view.nbytes, dtype.itemsize
    if length <= 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if offset < 0 or offset >= length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
                         f"({length} bytes) minus 1")
    if count < 0:
        if (length - offset) % size:
            raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} bytes) must be a "
                             f"multiple of element size ({size})")
        count = (length - offset) // size
    elif offset + count * size > length:
        raise ValueError(f"requested buffer length ({count} * {size} bytes) after offset ({offset} bytes) must "
                         f"not be greater than actual buffer length ({length} bytes)")
    global _warned_readonly_buffer
    if view.readonly and not _warned_readonly_buffer:
        _warned_readonly_buffer = True
        warnings.warn("The given buffer is not writable, and cgrad does not support non-writable tensors. This "
                      "means you can write to the underlying (supposedly non-writable) buffer using the tensor. You "
                      "may want to copy the buffer to protect its data or make it writable before converting it to "
                      "a tensor. This type of warning will be suppressed for the rest of this program.",
                      UserWarning, stacklevel=2)
    out = _C.from_numpy(np.frombuffer(view, dtype=dtype.numpy_dtype, count=count, offset=offset))
    if requires_grad:
        _C._require_grad_of_new(out)
    return out


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, requires_grad=False,
                   pin_memory=False):
    """An uninitialized tensor of shape size whose dims lie in memory in the order physical_layout gives,
    outermost first (physical_layout (0, 1, ..., n-1) is the row-major layout)."""
    size, order = tuple(size), tuple(physical_layout)
    if len(size) != len(order):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the physical_layout; i.e. "
                           f"len(size) = {len(size)} is not equal to len(physical_layout) = {len(order)}")
    for i, d in enumerate(order):
        if not 0 <= d < len(size):
            raise RuntimeError(f"Dimension out of range (expected to be between 0 and {len(size) - 1}, but got {d} "
                               f"at index {i}).  NB: negative dims not currently supported; file an issue if you "
                               f"want it.")
        if d in order[:i]:
            raise RuntimeError("Duplicate dim not allowed")
    _C._factory_options(layout, device, pin_memory)
    for d in size:
        if d < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {d}: {[size[i] for i in order]}")
    strides, step = [0] * len(size), 1
    for d in reversed(order):
        strides[d] = step
        step *= max(size[d], 1)
    return _C.empty_strided(size, strides, dtype=dtype, requires_grad=requires_grad)


def as_strided_(input, size, stride, storage_offset=None):
    return input.as_strided_(size, stride, storage_offset)


def resize_as_(input, the_template, *, memory_format=None):
    return input.resize_as_(the_template, memory_format=memory_format)


to_dlpack = _C._to_dlpack
