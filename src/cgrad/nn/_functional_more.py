"""embedding_bag, ctc_loss, gumbel_softmax, pdist, local_response_norm, affine_grid and grid_sample.

embedding_bag, ctc_loss and grid_sample are C kernels with one node each
(EmbeddingBagBackward0, CtcLossBackward0, GridSampler2DBackward0), their
arguments checked here with PyTorch's messages; ctc_loss reduces after its
node with ordinary ops, as PyTorch does. pdist and affine_grid are autograd
Functions named as PyTorch's nodes, written with ops (so differentiable
again); gumbel_softmax and local_response_norm are PyTorch's compositions.
"""
import math
import warnings

import numpy as np

import cgrad
from cgrad import _C
from cgrad._C import Tensor
from cgrad.autograd.function import Function
from cgrad.autograd.grad_mode import no_grad

__all__ = ["embedding_bag", "ctc_loss", "gumbel_softmax", "pdist", "local_response_norm", "affine_grid",
           "grid_sample"]

_BAG_MODES = {"sum": 0, "mean": 1, "max": 2}


# ---- embedding_bag ----------------------------------------------------------------------


def _no_grad_embedding_renorm_(weight, input, max_norm, norm_type):
    """Rows of weight that input names, scaled in place to norm at most max_norm (PyTorch's embedding_renorm_,
    which computes each row's scale in double from its norm)."""
    with no_grad():
        w = weight.detach()
        rows = np.unique(input.reshape(-1).numpy())
        if rows.size == 0:
            return
        idx = _C.from_numpy(rows.astype(np.int64))
        picked = w.index_select(0, idx)
        norms = picked.norm(norm_type, dim=1, keepdim=True).double()
        scale = cgrad.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).to(w.dtype)
        w.index_copy_(0, idx, picked * scale)


def _bag_bounds(offsets, n, include_last_offset):
    """The B + 1 bag bounds the kernel reads, from PyTorch's offsets, checked as PyTorch checks them."""
    off = offsets.numpy().astype(np.int64).reshape(-1)
    if include_last_offset:
        off = off[:-1]
    if off.size and off[0] != 0:
        raise RuntimeError("offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                           f"position 0. However, got {off[0]}")
    last = offsets.numpy().reshape(-1)[-1] if offsets.numel() else 0
    if last > n:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {n} but got offsets[-1] of {last}")
    bounds = np.append(off, n)
    if np.any(np.diff(bounds) < 0):
        raise RuntimeError(f"offsets must be non-decreasing, but got {off.tolist()}")
    return _C.from_numpy(np.ascontiguousarray(bounds))


def _bag_padding_idx(padding_idx, num_embeddings):
    if padding_idx is None:
        return -1
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise RuntimeError(f"padding_idx must be within the number of embeddings, -{num_embeddings} through "
                           f"{num_embeddings - 1}, but got {padding_idx}")
    return padding_idx % num_embeddings


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """The sum, mean or max of each bag of weight's rows that input names: bags are input's rows (2-D) or
    the runs of input that offsets start (1-D)."""
    if weight.dtype == _C.int64 and input.is_floating_point():
        warnings.warn("Argument order of nn.functional.embedding_bag was changed. Usage `embedding_bag(weight, "
                      "input, ...)` is deprecated, and should now be `embedding_bag(input, weight, ...)`.",
                      stacklevel=2)
        weight, input = input, weight
    if per_sample_weights is not None and input.size() != per_sample_weights.size():
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, then it "
                         f"must have the same shape as the input ({input.shape})")
    if not weight.dim() == 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets)}")
        offsets = cgrad.arange(0, input.numel(), input.size(1), dtype=_C.int64)
        include_last_offset = False
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if mode not in _BAG_MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if sparse:
        raise NotImplementedError("embedding_bag(sparse=True) is not supported: cgrad has no sparse gradients")
    if max_norm is not None:
        _no_grad_embedding_renorm_(weight, input, max_norm, norm_type)
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    pad = _bag_padding_idx(padding_idx, weight.size(0))
    if input.dtype != _C.int64:
        kind = "torch.FloatTensor" if input.dtype == _C.float32 else f"{input.dtype}"
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {kind} instead (while checking arguments for embedding_bag)")
    bounds = _bag_bounds(offsets, input.numel(), include_last_offset)
    return _C._embedding_bag(weight, input.contiguous(), bounds, per_sample_weights, _BAG_MODES[mode], pad,
                             bool(scale_grad_by_freq))


# ---- ctc_loss -----------------------------------------------------------------------------


def _ctc_type_name(x):
    if isinstance(x, Tensor):
        return "Tensor"
    if isinstance(x, (tuple, list)):
        return "tuple" if isinstance(x, tuple) else "list"
    return type(x).__name__


def _ctc_lengths(lengths, name):
    """A sequence of ints or an integral tensor, as a Python list."""
    if isinstance(lengths, Tensor):
        if lengths.is_floating_point() or lengths.dtype == cgrad.bool:
            raise RuntimeError(f"{name} must be integral")
        return [int(v) for v in lengths.reshape(-1).tolist()]
    return [int(v) for v in lengths]


def _ctc_check(lp, targets, il, tl, blank):
    where = " (while checking arguments for ctc_loss_allocate_outputs)"
    if lp.dim() != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {lp.dim()}-dimensional tensor for argument #1 "
                           f"'log_probs'{where}")
    if not 1 <= targets.dim() <= 2:
        raise RuntimeError(f"Expected 1 to 2 dimensions, but got {targets.dim()}-dimensional tensor for argument "
                           f"#2 'targets'{where}")
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    if len(il) != N:
        raise RuntimeError("input_lengths must be of size batch_size")
    if len(tl) != N:
        raise RuntimeError("target_lengths must be of size batch_size")
    for v in tl:
        if v < 0:
            raise RuntimeError(f"Expected target_lengths to have value at least 0, but got value {v}{where}")
    if targets.dim() == 1:
        if targets.size(0) != sum(tl):
            raise RuntimeError(f"Expected tensor to have size {sum(tl)} at dimension 0, but got size "
                               f"{targets.size(0)} for argument #2 'targets'{where}")
    else:
        if targets.size(0) != N:
            raise RuntimeError(f"Expected tensor to have size {N} at dimension 0, but got size {targets.size(0)} "
                               f"for argument #2 'targets'{where}")
        if targets.size(1) < max(tl, default=0):
            raise RuntimeError(f"Expected tensor to have size at least {max(tl)} at dimension 1, but got size "
                               f"{targets.size(1)} for argument #2 'targets'{where}")
    for v in il:
        if v < 0:
            raise RuntimeError(f"Expected input_lengths to have value at least 0, but got value {v}{where}")
        if v > T:
            raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {v}{where}")


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """The connectionist temporal classification loss of log_probs (T, N, C) or (T, C) for the targets,
    padded (N, S) or concatenated; lengths as tensors or sequences of ints."""
    red = {"none": 0, "mean": 1, "sum": 2}.get(reduction)
    if red is None:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if isinstance(input_lengths, Tensor) != isinstance(target_lengths, Tensor):
        kinds = ", ".join(_ctc_type_name(a) for a in (log_probs, targets, input_lengths, target_lengths))
        raise TypeError(f"ctc_loss() received an invalid combination of arguments - got ({kinds}, int, int, bool)")
    il = _ctc_lengths(input_lengths, "input_lengths")
    tl = _ctc_lengths(target_lengths, "target_lengths")
    batched = log_probs.dim() == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    tg = targets
    if not lp.is_floating_point():
        raise NotImplementedError(f"\"ctc_loss_cpu\" not implemented for '{_scalar_name(lp)}'")
    _ctc_check(lp, tg, il, tl, blank)
    labels = tg.detach().long()
    if labels.dim() == 1:
        starts = np.concatenate([[0], np.cumsum(tl[:-1], dtype=np.int64)]) if tl else np.zeros(0, np.int64)
    else:
        starts = np.arange(len(tl), dtype=np.int64) * labels.size(1)
    as_long = [_C.from_numpy(np.asarray(v, dtype=np.int64).reshape(-1)) for v in (starts, il, tl)]
    res = _C._ctc_loss(lp, labels.contiguous().reshape(-1), *as_long, blank, bool(zero_infinity))
    if zero_infinity:
        res = cgrad.where(res == math.inf, cgrad.zeros((), dtype=res.dtype), res)
    if red == 1:
        return (res / cgrad.tensor(tl, dtype=res.dtype).clamp_min(1)).mean()
    if red == 2:
        return res.sum()
    return res if batched else res.squeeze(0)


# ---- gumbel_softmax, pdist, local_response_norm ---------------------------------------------------


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """A softmax of (logits + Gumbel noise) / tau; hard: its one-hot argmax, with the soft sample's gradient."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -cgrad.empty_like(logits).exponential_().log()
    gumbels = (logits + gumbels) / tau
    y_soft = gumbels.softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = cgrad.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def _pdist_grad(diff, dist, g, p):
    """d dist / d diff times g, per pair, as PyTorch's pdist backward (0 where a distance is 0)."""
    g, dist = g.unsqueeze(1), dist.unsqueeze(1)
    if p == 0:
        return diff * 0
    if p == 1:
        return g * diff.sign()
    if p == math.inf:
        return g * diff.sign() * (diff.abs() == dist)
    if p == 2:
        return cgrad.where(dist == 0, 0.0, g * diff / dist)
    if p < 2:
        zero = (dist == 0) | ((diff == 0) & (p < 1))
        return cgrad.where(zero, 0.0, diff.sign() * diff.abs().pow(p - 1) * g / dist.pow(p - 1))
    return cgrad.where(dist == 0, 0.0, diff * diff.abs().pow(p - 2) * g / dist.pow(p - 1))


def _pairs(n):
    rows, cols = np.triu_indices(n, 1)
    return _C.from_numpy(rows.astype(np.int64)), _C.from_numpy(cols.astype(np.int64))


def _pdist_values(x, p):
    i, j = _pairs(x.size(0))
    diff = x.index_select(0, i) - x.index_select(0, j)
    if p == math.inf:
        return diff.abs().amax(1) if diff.size(0) and diff.size(1) else diff.abs().sum(1)
    if p == 0:
        return (diff != 0).to(x.dtype).sum(1)
    return diff.norm(p, dim=1)


class _Pdist(Function):
    _node_name = "PdistBackward0"

    @staticmethod
    def forward(ctx, x, p):
        dist = _pdist_values(x, p)
        ctx.p = p
        ctx.save_for_backward(x, dist)
        return dist

    @staticmethod
    def backward(ctx, g):
        x, dist = ctx.saved_tensors
        i, j = _pairs(x.size(0))
        diff = x.index_select(0, i) - x.index_select(0, j)
        c = _pdist_grad(diff, dist, g, ctx.p)
        return cgrad.zeros_like(x).index_add(0, i, c).index_add(0, j, -c), None


def pdist(input, p=2):
    """The p-norm distances between the rows of input, pairs (i, j) with i < j in row-major order."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pdist(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if not input.is_floating_point():
        raise RuntimeError("pdist only supports floating-point dtypes")
    if not p >= 0:
        raise RuntimeError("pdist only supports non-negative p values")
    return _Pdist.apply(input.contiguous(), float(p))


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """input over (k + alpha * the mean of its squares over `size` neighbouring channels) ** beta."""
    from cgrad.nn import functional as F
    dim = input.dim()
    if dim < 3:
        # PyTorch's message, its run of spaces included
        raise ValueError(f"Expected 3D or higher dimensionality                          input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    div = input.mul(input)
    sizes = tuple(input.shape)
    # PyTorch pools 4-D and larger inputs with avg_pool3d over (channels, 1, 1): the same window
    # as avg_pool2d over (channels, 1) of the spatial dims flattened into one
    div = div.unsqueeze(1) if dim == 3 else div.reshape(sizes[0], 1, sizes[1], -1)
    div = F.pad(div, (0, 0, size // 2, (size - 1) // 2))
    div = F.avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    if dim > 3:
        div = div.reshape(sizes)
    div = div.mul(alpha).add(k).pow(beta)
    return input / div


# ---- affine_grid, grid_sample ------------------------------------------------------------------


def _linspace_from_neg_one(num_steps, align_corners, dtype):
    if num_steps <= 1:
        return cgrad.tensor(0.0, dtype=dtype)
    r = cgrad.linspace(-1, 1, num_steps, dtype=dtype)
    return r if align_corners else r * (num_steps - 1) / num_steps


def _base_grid(N, spatial, align_corners, dtype):
    """(N, prod(spatial), nd + 1): x, y[, z], 1 per output point, PyTorch's make_base_grid_4D / _5D;
    spatial is (H, W) or (D, H, W)."""
    nd = len(spatial)
    axes = []
    for k in range(nd):  # x runs along the last dim, y the one before, z the first
        size = spatial[nd - 1 - k]
        shape = [1] * nd
        shape[nd - 1 - k] = size
        axes.append(_linspace_from_neg_one(size, align_corners, dtype).reshape(shape).expand(spatial))
    base = cgrad.stack(axes + [cgrad.ones(spatial, dtype=dtype)], dim=-1)
    return base.reshape(1, -1, nd + 1).expand(N, base.numel() // (nd + 1), nd + 1)


class _AffineGridGenerator(Function):
    _node_name = "AffineGridGeneratorBackward0"

    @staticmethod
    def forward(ctx, theta, size, align_corners):
        N, spatial = size[0], tuple(size[2:])
        ctx.geometry = (N, spatial, align_corners)
        grid = _base_grid(N, spatial, align_corners, theta.dtype).bmm(theta.transpose(1, 2))
        return grid.reshape((N,) + spatial + (len(spatial),))

    @staticmethod
    def backward(ctx, grad):
        N, spatial, align_corners = ctx.geometry
        base = _base_grid(N, spatial, align_corners, grad.dtype)
        flat = grad.reshape(N, -1, len(spatial))
        return base.transpose(1, 2).bmm(flat).transpose(1, 2), None, None


def affine_grid(theta, size, align_corners=None):
    """The sampling grid (N, H, W, 2) or (N, D, H, W, 3) of the affine maps theta (N, 2, 3) or (N, 3, 4)
    for an output of size (N, C, H, W) or (N, C, D, H, W)."""
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                      "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                      "grid_sample for details.", stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got "
                             f"{theta.shape}.")
        spatial_size = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. Got "
                             f"{theta.shape}.")
        spatial_size = size[-3:]
    else:
        raise NotImplementedError("affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if align_corners and min(spatial_size) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an issue for standard usage.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.size(0) != size[0]:
        raise RuntimeError(f"Expected size of theta's batch dimension ({theta.size(0)}) to match the output "
                           f"size's batch dimension ({size[0]})")
    return _AffineGridGenerator.apply(theta, tuple(int(v) for v in size), bool(align_corners))


_GRID_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
_GRID_PADDING = {"zeros": 0, "border": 1, "reflection": 2}


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """input (N, C, H, W) read at the (x, y) points of grid (N, Ho, Wo, 2), each in [-1, 1]; or
    input (N, C, D, H, W) at the (x, y, z) points of grid (N, Do, Ho, Wo, 3)."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                      "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                      "grid_sample for details.", stacklevel=2)
        align_corners = False
    _grid_check(input, grid, mode)
    return _C._grid_sampler(input, grid, _GRID_MODES[mode], _GRID_PADDING[padding_mode], bool(align_corners))


def _grid_check(input, grid, mode):
    """PyTorch's grid_sampler checks, in its order, with its messages."""
    sizes = f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
    if input.size(0) != grid.size(0):
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got {sizes}")
    if grid.size(-1) != input.dim() - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.dim() - 2} in last dimension, but "
                           f"got grid with sizes {list(grid.shape)}")
    for i in range(2, input.dim()):
        if input.size(i) <= 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, but input "
                               f"has sizes {list(input.shape)} with dimension {i} being empty")
    nd = 4 if input.dim() == 4 else 5
    if grid.dim() != nd or input.dim() != nd:
        raise RuntimeError(f"grid_sampler(): expected {nd}D input and grid with same number of dimensions, but got "
                           f"{sizes}")
    if nd == 5 and mode == "bicubic":
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if not input.is_floating_point():
        kernel = "grid_sampler_2d_cpu_kernel_impl" if nd == 4 else "grid_sampler3d_cpu"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_scalar_name(input)}'")
    if input.dtype != grid.dtype:
        raise RuntimeError(f"expected scalar type {_scalar_name(input)} but found {_scalar_name(grid)}")


def _scalar_name(t):
    """PyTorch's name of t's scalar type, as its kernels' messages spell it."""
    return {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}[str(t.dtype).split(".")[-1]]


