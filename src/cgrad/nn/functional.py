"""cgrad.nn.functional: PyTorch's functional layers, losses and activations.

The hot ones (linear, softmax, log_softmax, cross_entropy, nll_loss,
layer_norm, gelu, silu, elu, selu, celu, softplus, hardtanh, relu6,
hardsigmoid, hardswish, mish, glu, mse_loss, huber_loss, embedding, dropout) are
single fused C kernels with their own backward formulas; the rest are short
compositions of them, l1_loss as PyTorch composes it.
"""
import math
import warnings

from cgrad import _C
from cgrad._C import Tensor
from cgrad._creation import tensor

__all__ = [
    "linear", "bilinear", "relu", "gelu", "leaky_relu", "prelu", "tanh", "sigmoid", "softmax", "log_softmax",
    "mse_loss", "l1_loss", "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "dropout", "layer_norm", "one_hot", "embedding",
    "silu", "elu", "selu", "celu", "softplus", "hardtanh", "relu6", "hardsigmoid", "hardswish", "logsigmoid",
    "softsign", "tanhshrink", "softshrink", "hardshrink", "mish", "threshold", "softmin", "glu",
    "normalize", "cosine_similarity", "pairwise_distance", "smooth_l1_loss", "kl_div", "poisson_nll_loss",
    "batch_norm", "pad", "instance_norm", "group_norm", "rms_norm", "rrelu", "rrelu_",
    "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
    "scaled_dot_product_attention", "multi_head_attention_forward",
    "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss", "cosine_embedding_loss",
    "multilabel_soft_margin_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss", "gaussian_nll_loss",
    "multi_margin_loss", "multilabel_margin_loss",
]

_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def _reduction_enum(reduction):
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                      stacklevel=3)
        return 1
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return _REDUCTIONS[reduction]


def _legacy_reduction(size_average, reduce, reduction):
    """The reduction the deprecated size_average / reduce arguments ask for."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                  stacklevel=3)
    return ret


def _tensor_arg(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a Tensor, not {type(x).__name__}")
    return x


def _apply_inplace(input, result, inplace):
    """An activation's in-place form: input takes the result's values (and history)."""
    if not inplace:
        return result
    return input.copy_(result)


# ---- layers -------------------------------------------------------------------------


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias, one fused node (AddmmBackward0 for 2-D input)."""
    return _C._linear(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]."""
    _tensor_arg(input1, "input1")
    _tensor_arg(input2, "input2")
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-dimensional, but got {weight.ndim}-D")
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2 or input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input sizes {tuple(input1.shape)} and {tuple(input2.shape)} do not "
                           f"match weight {tuple(weight.shape)}")
    batch = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    w = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    y = ((x1 @ w).reshape(-1, out_f, in2) * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(batch + (out_f,))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of weight picked by the int64 indices in input; with max_norm, the picked rows of a larger
    norm are first scaled down to it, in place, as PyTorch does."""
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding(scale_grad_by_freq=True / sparse=True) is not supported")
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= weight.size(0):
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -weight.size(0):
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = weight.size(0) + padding_idx
    else:
        padding_idx = -1
    if max_norm is not None:
        from cgrad.nn._functional_more import _no_grad_embedding_renorm_
        _no_grad_embedding_renorm_(weight, input, max_norm, norm_type)
    return _C._embedding(weight, input, padding_idx)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability p and scales the rest by 1/(1-p), in training."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0 or input.numel() == 0:
        return input
    return _apply_inplace(input, _C._dropout(input, p), inplace)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalises over the trailing normalized_shape dims (NativeLayerNormBackward0)."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return _C._layer_norm(input, tuple(normalized_shape), weight, bias, eps)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-05):
    """Normalises each channel (dim 1) over the batch and any spatial dims.

    In training, with the batch's mean and biased variance, and updates the
    running statistics (the unbiased variance, as PyTorch keeps it) in place;
    otherwise with the running statistics. As PyTorch's CPU kernel, the
    result is x * a + b with per-channel a = w / sqrt(var + eps) and
    b = bias - mean * a.
    """
    if training:
        size = tuple(input.shape)
        per_channel = size[0] if size else 1
        for n in size[2:]:
            per_channel *= n
        if per_channel == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.size()}")
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    if not input.dtype.is_floating_point:
        from cgrad._stats import _type_name
        raise NotImplementedError(f"\"batch_norm\" not implemented for '{_type_name(input)}'")
    if not training:
        for name, t in (("running_mean", running_mean), ("running_var", running_var)):
            if t is None:
                raise RuntimeError(f"{name} must be defined in evaluation mode")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")
        if t is not None and t.dtype != input.dtype:
            from cgrad._stats import _type_name
            raise RuntimeError(f"mixed dtype (CPU): expect parameter to have scalar type of {_type_name(input)}")
    shape = (1, channels) + (1,) * (input.dim() - 2)
    if training:
        dims = (0,) + tuple(range(2, input.dim()))
        mean = input.mean(dims, keepdim=True)
        var = input.var(dims, correction=0, keepdim=True)
        if running_mean is not None or running_var is not None:
            n = input.numel() // channels
            with _C.no_grad():
                if running_mean is not None:
                    running_mean.copy_(momentum * mean.reshape(running_mean.shape) + (1 - momentum) * running_mean)
                if running_var is not None:
                    unbiased = var.reshape(running_var.shape) * (n / (n - 1))
                    running_var.copy_(momentum * unbiased + (1 - momentum) * running_var)
    else:
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    scale = (var + eps).rsqrt()
    if weight is not None:
        scale = scale * weight.reshape(shape)
    shift = -(mean * scale) if bias is None else bias.reshape(shape) - mean * scale
    return input * scale + shift


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-05):
    """Normalises each channel of each sample over its spatial dims.

    As PyTorch: batch_norm over the input seen as one sample of N * C
    channels, the running statistics (if any) then the mean over the batch
    of the per-sample ones.
    """
    if use_input_stats:
        spatial = 1
        for n in tuple(input.shape)[2:]:
            spatial *= n
        if spatial == 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.size()}")
    n, c = input.shape[0], input.shape[1]
    flat = input.reshape((1, n * c) + tuple(input.shape)[2:])
    stats = [None if t is None else t.detach().repeat(n) for t in (running_mean, running_var)]
    out = batch_norm(flat, stats[0], stats[1], None if weight is None else weight.repeat(n),
                     None if bias is None else bias.repeat(n), use_input_stats, momentum, eps)
    with _C.no_grad():
        for kept, t in zip(stats, (running_mean, running_var)):
            if t is not None:
                t.copy_(kept.reshape(n, c).mean(0))
    return out.reshape(input.shape)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Normalises each group of num_groups' channels of each sample, then scales and shifts per channel."""
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={num_groups}")
    per_group = c // num_groups
    for t in tuple(input.shape)[2:]:
        per_group *= t
    if per_group == 1:
        raise ValueError("Expected more than 1 value per channel when training, got input size "
                         f"{[n * c // num_groups, num_groups] + list(input.shape)[2:]}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {list(t.shape)} and input of shape {list(input.shape)}")
    # as PyTorch's kernel: x * a + b with a = rstd * w and b = bias - mean * a per sample and channel
    groups = input.reshape(n, num_groups, c // num_groups, -1)
    mean = groups.mean((2, 3), keepdim=True)
    scale = (groups.var((2, 3), correction=0, keepdim=True) + eps).rsqrt()
    if weight is not None:
        scale = scale * weight.reshape(1, num_groups, c // num_groups, 1)
    shift = -(mean * scale) if bias is None else bias.reshape(1, num_groups, c // num_groups, 1) - mean * scale
    return (groups * scale + shift).reshape(input.shape)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing normalized_shape dims, times weight."""
    if isinstance(normalized_shape, int):
        raise TypeError("rms_norm(): argument 'normalized_shape' (position 2) must be tuple of ints, not int")
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if input.dim() < k:
        raise ValueError(f"Input tensor must have at least {k} dimensions, but got {input.dim()}")
    if tuple(input.shape)[input.dim() - k:] != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*{', '.join(str(d) for d in normalized_shape)}], but got input of size"
                           f"{list(input.shape)}")
    if weight is not None and tuple(weight.shape) != normalized_shape:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got weight of shape "
                           f"{list(weight.shape)} and normalized_shape = {list(normalized_shape)}")
    if eps is None:  # the machine epsilon of the input's dtype
        eps = 1.1920928955078125e-07 if input.dtype == _C.float32 else 2.220446049250313e-16
    dims = tuple(range(input.dim() - k, input.dim()))
    out = input * (input.pow(2).mean(dims, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input, pad, mode="constant", value=None):
    """Pads the last len(pad) // 2 dims: pad = (left, right) of the last dim, then of the one before, ...

    Negative amounts crop. "constant" fills with value (0 by default);
    "reflect", "replicate" and "circular" take the values of the input
    mirrored at its edges, its edge values, or its other end, by index
    (their gradients add up where an input value is used several times).
    """
    _input(input, "pad")
    pad = tuple(int(p) for p in pad)
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    ndim = input.dim()
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) > 2 * ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {ndim}")
    sides = [(ndim - 1 - k, pad[2 * k], pad[2 * k + 1]) for k in range(len(pad) // 2)]  # (dim, left, right)
    if mode == "constant":
        return _constant_pad(input, sides, 0 if value is None else value)
    if value is not None:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if (len(pad), ndim) not in ((2, 2), (2, 3), (4, 3), (4, 4), (6, 4), (6, 5)):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    out = input
    for k, (d, left, right) in enumerate(sides):
        n = input.shape[d]
        size = n + left + right
        if mode == "reflect" and (left >= n or right >= n):
            raise RuntimeError(f"Argument #{4 + 2 * k}: Padding size should be less than the corresponding input "
                               f"dimension, but got: padding ({left}, {right}) at dimension {d} of input "
                               f"{list(input.shape)}")
        if mode == "circular":
            if left > n or right > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            if size < 0:
                raise RuntimeError("Negative padding value is resulting in an empty dimension")
        elif size < 1:
            label = "WHD"[k]
            raise RuntimeError(f"input ({label}: {n}) is too small. Calculated output {label}: {size}")
        src = [j - left for j in range(size)]
        if mode == "reflect":
            src = [-i if i < 0 else 2 * (n - 1) - i if i >= n else i for i in src]
        elif mode == "replicate":
            src = [min(max(i, 0), n - 1) for i in src]
        else:  # PyTorch crops first, then wraps around what is left
            kept = n + min(left, 0) + min(right, 0)
            if kept <= 0 < size:
                raise RuntimeError("Negative padding value is resulting in an empty dimension")
            src = [max(-left, 0) + (j - max(left, 0)) % kept for j in range(size)]
        out = out.index_select(d, tensor(src, dtype=_C.int64))
    return out


def _constant_pad(input, sides, value):
    out = input
    for d, left, right in sides:  # negative amounts crop first
        for amount, start in ((left, True), (right, False)):
            if amount < 0:
                length = out.shape[d] + amount
                if length < 0:
                    raise RuntimeError("narrow(): length must be non-negative.")
                out = out.narrow(d, -amount if start else 0, length)
    if all(left <= 0 and right <= 0 for _, left, right in sides):
        return out.clone()
    for d, left, right in sides:
        parts = []
        for amount in (left, right):
            shape = list(out.shape)
            shape[d] = max(amount, 0)
            parts.append(_C.full(tuple(shape), value, dtype=input.dtype))
        if left > 0 or right > 0:
            out = _C.cat([parts[0], out, parts[1]], d)
    return out


# ---- resampling: interpolate and the pixel / channel shuffles ---------------------------
#
# interpolate is separable: each spatial dim is resampled in turn as a short sum of
# taps, out = sum_k input.index_select(d, index_k) * weight_k, so its gradient is
# index_select's (an index_add of the weighted incoming gradient). The indices and
# weights are computed in numpy, in the input's precision, with PyTorch's formulas,
# so nearest picks exactly PyTorch's pixels and the other modes agree to rounding.

_NEAREST_MODES = ("nearest", "area", "nearest-exact")
_LINEAR_MODES = {"linear": 3, "bilinear": 4, "trilinear": 5, "bicubic": 4}
_CUBIC_A = -0.75


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resamples the spatial dims (all after the first two) of a 3-D, 4-D or 5-D input to size,
    or to floor(in * scale_factor), by nearest, (bi/tri)linear, bicubic or area interpolation."""
    if mode in _NEAREST_MODES:
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    output_size, scales = _interp_sizes(input, dim, size, scale_factor)
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor:  # the output size is fixed here and the kernel sees only it
        output_size = [math.floor(input.shape[i + 2] * scales[i]) for i in range(dim)]
        scales = None
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires "
                         "a 4-D tensor as input")
    if mode == "lanczos" and input.dim() == 4:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if antialias:
        raise NotImplementedError(f"interpolate(mode='{mode}', antialias=True) is not supported")
    if mode in _NEAREST_MODES and input.dim() in (3, 4, 5):
        return _resample(input, output_size, scales, mode, None)
    if _LINEAR_MODES.get(mode) == input.dim():
        return _resample(input, output_size, scales, mode, align_corners)
    wanted = {"linear": "3D", "bilinear": "4D", "trilinear": "5D"}
    if mode in wanted and input.dim() in (3, 4, 5):
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {wanted[mode]} input")
    raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for the "
                              "modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
                              f"nearest-exact (got {mode})")


def _interp_sizes(input, dim, size, scale_factor):
    """(output_size, None) or (None, scale_factors), each a list of one value per spatial dim."""
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    spatial = list(input.shape[2:])
    if size is not None:
        if not isinstance(size, (list, tuple)):
            return [size] * dim, None
        if len(size) != dim:
            raise ValueError("Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {spatial} and output size of {size}. Please provide input "
                             "tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format.")
        if not all(_is_integer(s) for s in size):
            raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or Tuple[int, int, int], "
                            f"but got size with types {[type(s) for s in size]}")
        return list(size), None
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if not isinstance(scale_factor, (list, tuple)):
        return None, [scale_factor] * dim
    if len(scale_factor) != dim:
        raise ValueError("Input and scale_factor must have the same number of spatial dimensions, but got input with "
                         f"spatial dimensions of {spatial} and scale_factor of shape {scale_factor}. Please provide "
                         "input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
    return None, list(scale_factor)


def _resample(input, output_size, scales, mode, align_corners):
    spatial = list(input.shape[2:])
    if output_size is None:  # PyTorch truncates in * scale in double precision
        output_size = [int(n * s) for n, s in zip(spatial, scales)]
        scales = list(scales)
    else:
        scales = [None] * len(spatial)
    for s in output_size:
        if not _is_integer(s):
            raise TypeError(f"interpolate(): size must be a sequence of ints, but got {type(s).__name__}")
    output_size = [int(s) for s in output_size]
    if mode == "area":
        _check_pooled_sizes(list(input.shape), output_size)
    else:
        _check_resample_sizes(list(input.shape), output_size)
    if not input.dtype.is_floating_point:
        from cgrad._stats import _type_name
        raise NotImplementedError(f"\"upsample_{mode}\" not implemented for '{_type_name(input)}'")
    out = input
    for k, (n_in, n_out, scale) in enumerate(zip(spatial, output_size, scales)):
        if mode == "area" and n_out == n_in:
            continue
        taps = _resample_taps(mode, n_in, n_out, scale, align_corners, input.dtype, len(spatial) == 2)
        out = _apply_taps(out, 2 + k, taps, input.dtype)
    return out.clone() if out is input else out


def _is_integer(value):
    """An int, or anything that converts to one losslessly (numpy integers, one-element integer tensors)."""
    return not isinstance(value, (bool, float)) and hasattr(type(value), "__index__")


def _check_pooled_sizes(shape, output_size):
    if 0 in shape[2:]:
        pool = "adaptive_avg_pool3d" if len(shape) == 5 else "adaptive_avg_pool2d"
        shape = shape[:2] + [1] + shape[2:] if len(shape) == 3 else shape  # pooled as (N, C, 1, L)
        raise RuntimeError(f"{pool}(): Expected input to have non-zero size for non-batch dimensions, but input "
                           f"has sizes {shape} with dimension {shape.index(0, 2)} being empty")
    if all(n >= 0 for n in output_size):
        return
    if len(output_size) == 3:  # PyTorch's spacing
        raise RuntimeError("adaptive_avg_pool3d: elements of output_size must be greater than or equal to 0 but "
                           f"received {{{output_size[0]}, {output_size[1]},{output_size[2]}}}")
    sizes = ", ".join(str(n) for n in ([1] * (2 - len(output_size)) + output_size))
    raise RuntimeError(f"adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but "
                       f"received {{{sizes}}}")


def _check_resample_sizes(shape, output_size):
    spatial = shape[2:]
    if all(n > 0 for n in spatial + output_size):
        if 0 in shape[1:]:
            raise RuntimeError(f"Non-empty {len(shape)}D data tensor expected but got a tensor with sizes {shape}")
        return
    names = ("W",) if len(spatial) == 1 else ("H", "W") if len(spatial) == 2 else ("D", "H", "W")
    given = ", ".join(f"{a}: {n}" for a, n in zip(names, spatial))
    wanted = ", ".join(f"{a}: {n}" for a, n in zip(names, output_size))
    joint = " and output" if len(spatial) == 1 else " output"
    raise RuntimeError(f"Input and output sizes should be greater than 0, but got input ({given}){joint} ({wanted})")


def _resample_taps(mode, n_in, n_out, scale, align_corners, dtype, legacy):
    """[(indices, weights or None)] resampling one dim of length n_in to n_out."""
    import numpy as np
    real = np.float32 if dtype == _C.float32 else np.float64
    if mode in ("nearest", "nearest-exact"):
        return [(_nearest_indices(mode, n_in, n_out, scale, real, legacy), None)]
    if mode == "area":
        return _area_taps(n_in, n_out)
    if align_corners:
        ratio = real(n_in - 1) / real(n_out - 1) if n_out > 1 else real(0)
        src = ratio * np.arange(n_out, dtype=real)
    else:
        ratio = real(1.0 / scale) if scale is not None and scale > 0 else real(n_in) / real(n_out)
        src = ratio * (np.arange(n_out, dtype=real) + real(0.5)) - real(0.5)
        if mode != "bicubic":  # linear weights do not care, and PyTorch clamps there
            src = np.maximum(src, real(0))
    index = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    t = np.clip(src - index.astype(real), real(0), real(1))
    if mode != "bicubic":
        return [(index, real(1) - t), (index + (index < n_in - 1), t)]
    taps = []
    for k, w in enumerate(_cubic_weights(t, real)):
        taps.append((np.clip(index - 1 + k, 0, n_in - 1), w))
    return taps


def _nearest_indices(mode, n_in, n_out, scale, real, legacy):
    """The input pixel PyTorch's CPU kernels pick for each output pixel, rounding where they do.

    For 4-D input (legacy) they work in single precision: floor(dst * scale) with the
    sizes equal or doubling taken as exact, or floor((dst + 0.5) * scale) for
    nearest-exact. For 3-D and 5-D input they work in the input's precision,
    floor(dst * scale) or floor(max((dst + 0.5) * scale - 0.5, 0) + 0.5), rounding the
    source position to single precision just before the floor."""
    import numpy as np
    dst = np.arange(n_out)
    if legacy:
        if mode == "nearest" and n_out in (n_in, 2 * n_in):
            return dst if n_out == n_in else dst >> 1
        real = np.float32
    ratio = real(1.0 / scale) if scale is not None and scale > 0 else real(n_in) / real(n_out)
    if mode == "nearest":
        src = dst.astype(real) * ratio
    elif legacy:  # dst + 0.5 is a double there
        src = (dst + 0.5) * np.float64(ratio)
    else:
        src = np.maximum(ratio * (dst.astype(real) + real(0.5)) - real(0.5), real(0)) + 0.5
    return np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), n_in - 1)


def _cubic_weights(t, real):
    """Keys' cubic convolution weights (A = -0.75) of the taps at floor(x) - 1 .. floor(x) + 2."""
    a = real(_CUBIC_A)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    one = real(1)
    return far(t + one), near(t), near(one - t), far(one - t + one)


def _area_taps(n_in, n_out):
    """Adaptive average pooling: output i averages input[floor(i*n_in/n_out) : ceil((i+1)*n_in/n_out)]."""
    import numpy as np
    dst = np.arange(n_out)
    start = dst * n_in // n_out
    end = ((dst + 1) * n_in + n_out - 1) // n_out
    count = end - start
    width = int(count.max()) if n_out else 1
    taps = []
    for k in range(width):
        inside = k < count
        taps.append((np.where(inside, start + k, start), np.where(inside, 1.0 / count, 0.0)))
    return taps


def _apply_taps(x, d, taps, dtype):
    """sum_k x.index_select(d, index_k) * weight_k, the weights laid along dim d."""
    import numpy as np
    trailing = (1,) * (x.dim() - d - 1)
    out = None
    for index, weight in taps:
        y = x.index_select(d, tensor(np.ascontiguousarray(index, dtype=np.int64)))
        if weight is not None:
            y = y * tensor(np.asarray(weight).reshape((-1,) + trailing), dtype=dtype)
        out = y if out is None else out + y
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated spelling of interpolate."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='nearest')."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='bilinear', align_corners=True)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def _int_arg(value, fname, arg):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{fname}(): argument '{arg}' (position 2) must be int, not {type(value).__name__}")
    return value


def pixel_shuffle(input, upscale_factor):
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r): each group of r * r channels becomes an r x r block."""
    _input(input, "pixel_shuffle")
    r = _int_arg(upscale_factor, "pixel_shuffle", "upscale_factor")
    if input.dim() < 3:
        raise RuntimeError("pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *batch, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError("pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    b = len(batch)
    x = input.reshape(tuple(batch) + (c // (r * r), r, r, h, w))
    x = x.permute(*range(b), b, b + 3, b + 1, b + 4, b + 2)
    return x.reshape(tuple(batch) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r * r, H, W), the inverse of pixel_shuffle."""
    _input(input, "pixel_unshuffle")
    r = _int_arg(downscale_factor, "pixel_unshuffle", "downscale_factor")
    if input.dim() < 3:
        raise RuntimeError("pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *batch, c, h, w = input.shape
    if h % r:
        raise RuntimeError("pixel_unshuffle expects height to be divisible by downscale_factor, but "
                           f"input.size(-2)={h} is not divisible by {r}")
    if w % r:
        raise RuntimeError("pixel_unshuffle expects width to be divisible by downscale_factor, but "
                           f"input.size(-1)={w} is not divisible by {r}")
    b = len(batch)
    x = input.reshape(tuple(batch) + (c, h // r, r, w // r, r))
    x = x.permute(*range(b), b, b + 2, b + 4, b + 1, b + 3)
    return x.reshape(tuple(batch) + (c * r * r, h // r, w // r))


def channel_shuffle(input, groups):
    """(N, g * k, *) -> (N, k * g, *): the channels of the g groups interleaved."""
    _input(input, "channel_shuffle")
    g = _int_arg(groups, "channel_shuffle", "groups")
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with sizes "
                           f"{list(input.shape)}")
    if g <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{g}")
    n, c, *rest = input.shape
    if c % g:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {g} groups.")
    x = input.reshape((n, g, c // g) + tuple(rest)).transpose(1, 2)
    return x.reshape(tuple(input.shape))


# ---- structured dropout ----------------------------------------------------------------
#
# Feature dropout draws one Bernoulli(1 - p) keep flag per (sample, channel) and
# broadcasts it over the spatial dims, so a channel is zeroed as a whole. Alpha
# dropout sets dropped values to SELU's negative saturation -alpha' and then applies
# the affine map a * x + b that restores a standard normal input's mean and variance.

_SELU_NEG_SAT = 1.7580993408473766  # SELU's scale * alpha: its limit at -inf is -this


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _structured_dropout(input, p, training, inplace, feature, alpha):
    """PyTorch's dropout family: feature drops whole channels, alpha keeps SELU's mean and variance."""
    if feature and input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 0 or not training or input.numel() == 0:
        return input
    if p == 1:
        return _apply_inplace(input, input * _C.zeros((), dtype=input.dtype), inplace)
    shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2) if feature else tuple(input.shape)
    keep = _C.bernoulli(_C.full(shape, 1.0 - p, dtype=input.dtype))
    if not alpha:
        return _apply_inplace(input, input * (keep / (1.0 - p)), inplace)
    a = 1.0 / math.sqrt((_SELU_NEG_SAT ** 2 * p + 1) * (1 - p))
    b = (keep - 1.0) * (_SELU_NEG_SAT * a) + _SELU_NEG_SAT * a * p
    return _apply_inplace(input, input * (keep * a) + b, inplace)


def _batched_feature_dropout(input, p, training, inplace, batched):
    if batched:
        return _structured_dropout(input, p, training, inplace, True, False)
    out = _structured_dropout(input.unsqueeze(0), p, training, False, True, False).squeeze(0)
    return _apply_inplace(input, out, inplace) if out is not input else input


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of a (N, C, L) or (C, L) input with probability p; the rest scaled by 1/(1-p)."""
    _check_p(p)
    if input.dim() not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _batched_feature_dropout(input, p, training, inplace, input.dim() == 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of a (N, C, H, W) input with probability p (a 3-D input is read as (N, C, L))."""
    _check_p(p)
    ndim = input.dim()
    if ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs).", stacklevel=2)
    if ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This "
                      "behavior will change in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", stacklevel=2)
    return _structured_dropout(input, p, training, inplace, True, False)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of a (N, C, D, H, W) or (C, D, H, W) input with probability p."""
    _check_p(p)
    ndim = input.dim()
    if ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {ndim}-D input to dropout3d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 4D or 5D "
                      "inputs).", stacklevel=2)
    return _batched_feature_dropout(input, p, training, inplace, ndim == 5)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: keeps a standard normal input's mean 0 and variance 1."""
    _check_p(p)
    return _structured_dropout(input, p, training, inplace, False, True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels."""
    _check_p(p)
    return _structured_dropout(input, p, training, inplace, True, True)


def one_hot(tensor, num_classes=-1):
    return _C._one_hot(tensor, num_classes)


# ---- activations --------------------------------------------------------------------


def relu(input, inplace=False):
    _input(input, "relu_" if inplace else "relu")
    return _apply_inplace(input, input.relu(), inplace)


def gelu(input, approximate="none"):
    _input(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _C._gelu(input, approximate == "tanh")


def leaky_relu(input, negative_slope=0.01, inplace=False):
    _input(input, "leaky_relu_" if inplace else "leaky_relu")
    return _apply_inplace(input, _C._leaky_relu(input, negative_slope), inplace)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with, in training, a random slope for each element at or below 0, drawn from
    U(lower, upper); the mean slope (lower + upper) / 2 in eval."""
    fname = "rrelu_" if inplace else "rrelu"
    _input(input, fname)
    _floating(input, "rrelu_with_noise_out_cpu", fname)
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    with _C.no_grad():
        noise = _C.where(input <= 0, _C.empty(*input.shape, dtype=input.dtype).uniform_(lower, upper), 1.0)
    return _apply_inplace(input, input * noise, inplace)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def prelu(input, weight):
    from cgrad._stats import prelu
    return prelu(input, weight)


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def _softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return input.softmax(dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return input.log_softmax(dim, dtype)


# ---- losses -------------------------------------------------------------------------


def _warn_size(input, target):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)


def _weighted(loss_none, weight, reduction, mean_by_weight):
    """PyTorch's weighted form of an element-wise loss."""
    if weight.shape != loss_none.shape:
        raise ValueError("Weights and input must have the same size.")
    weighted = loss_none * weight
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return weighted.sum()
    if reduction == "mean":
        return weighted.sum() / weight.sum() if mean_by_weight else weighted.mean()
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _warn_size(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        return _weighted(_C._mse_loss(input, target, 0), weight, reduction, True)
    return _C._mse_loss(input, target, _reduction_enum(reduction))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """|input - target|, reduced: PyTorch's composition of sub, abs and mean or sum, node for node."""
    _warn_size(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    enum = _reduction_enum(reduction)
    input, target = _tensor_arg(input, "input"), _tensor_arg(target, "target")
    input, target = _C.broadcast_tensors(input, target)
    loss = (input - target).abs()
    if weight is not None:
        return _weighted(loss, weight, reduction, True)
    return loss if enum == 0 else loss.mean() if enum == 1 else loss.sum()


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """The loss comes in input's dtype, as PyTorch's does."""
    _warn_size(input, target)
    if input.dtype != target.dtype and target.dtype.is_floating_point:
        if not input.dtype.is_floating_point:
            from cgrad._stats import _type_name
            raise RuntimeError(f"result type {_type_name(target)} can't be cast to the desired output type "
                               f"{_type_name(input)}")
        target = target.to(input.dtype)
    if weight is not None:
        return _weighted(_C._huber_loss(input, target, 0, delta), weight, reduction, False)
    return _C._huber_loss(input, target, _reduction_enum(reduction), delta)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _C._nll_loss(input, target, weight, _reduction_enum(reduction), ignore_index)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """log_softmax over the class dim (1, or 0 for 1-D input) followed by nll_loss; target holds
    class indices (int64) or class probabilities (floating, input's shape)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    red = _reduction_enum(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    _tensor_arg(input, "input")
    _tensor_arg(target, "target")
    # As in PyTorch, a target of the input's shape holds class probabilities, any other class indices.
    if target.shape == input.shape:
        if not target.dtype.is_floating_point:
            from cgrad._stats import _type_name
            raise RuntimeError("Expected floating point type for target with class probabilities, "
                               f"got {_type_name(target)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        return _cross_entropy_probs(input, target, weight, red, label_smoothing)
    if label_smoothing == 0.0:
        return _C._cross_entropy(input, target, weight, red, ignore_index)
    return _cross_entropy_smoothed(input, target, weight, red, ignore_index, label_smoothing)


def _class_dim(input):
    if input.ndim == 0:
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    return 0 if input.ndim == 1 else 1


def _class_weight_view(weight, input, class_dim):
    """weight (C,) shaped to broadcast along the class dim of input."""
    n_classes = input.shape[class_dim]
    if weight.ndim != 1 or weight.numel() != n_classes:
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {n_classes} classes or "
                           f"no classes but got weight tensor of shape: {list(weight.shape)}")
    shape = [1] * input.ndim
    shape[class_dim] = n_classes
    return weight.reshape(shape)


def _cross_entropy_probs(input, target, weight, red, label_smoothing):
    class_dim = _class_dim(input)
    n_classes = input.shape[class_dim]
    logp = input.log_softmax(class_dim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * target
    if weight is not None:
        prod = prod * _class_weight_view(weight, input, class_dim)
    if red == 0:
        return -prod.sum(class_dim)
    total = -prod.sum()
    return total if red == 2 else total / (input.numel() / n_classes)


def _cross_entropy_smoothed(input, target, weight, red, ignore_index, label_smoothing):
    """(1 - s) nll + s / C times the (weighted) sum of -log p over the classes, ignored targets left out."""
    class_dim = _class_dim(input)
    n_classes = input.shape[class_dim]
    logp = input.log_softmax(class_dim)
    nll = _C._nll_loss(logp, target, weight, red, ignore_index)
    if input.ndim == 1 and target.ndim == 1:
        # nll_loss takes the one-element target as 0-d; PyTorch's smoothing term then fails as this
        raise RuntimeError("output with shape [] doesn't match the broadcast shape [1]")
    ignored = target == ignore_index
    if weight is not None:
        smooth = -(logp * _class_weight_view(weight, input, class_dim)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    # masked_fill, not a product with a 0/1 mask: an ignored element's gradient is 0 even when the
    # mean over no elements is NaN
    smooth = smooth.masked_fill(ignored, 0.0)
    if red == 1:
        with _C.no_grad():
            kept = target.masked_fill(ignored, 0)
            counted = (~ignored).to(logp.dtype)
            if weight is not None:
                counted = counted * weight.detach().to(logp.dtype)[kept].reshape(counted.shape)
            denom = counted.sum()
        ret = smooth.sum() / denom
    elif red == 2:
        ret = smooth.sum()
    else:
        ret = smooth
    return (1 - label_smoothing) * nll + ret * (label_smoothing / n_classes)


def _weights_not_differentiable(fname, **args):
    """PyTorch's error, in grad mode, for a weight that requires grad where the loss has no gradient for it."""
    if not _C._is_grad_enabled():
        return
    for name, t in args.items():
        if t is not None and t.requires_grad:
            raise RuntimeError(f"The function '{fname}' is not differentiable with respect to argument '{name}'. "
                               "This input cannot have requires_grad True.")


def _broadcast_into(a, b, out):
    """PyTorch's errors of an in-place binary op on operands of shapes a and b writing a tensor of shape out."""
    n = max(len(a), len(b))
    shape = []
    for i in range(n, 0, -1):
        x, y = (a[-i] if i <= len(a) else 1), (b[-i] if i <= len(b) else 1)
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) at non-singleton "
                               f"dimension {n - i}")
        shape.append(y if x == 1 else x)
    if tuple(shape) != tuple(out):
        raise RuntimeError(f"output with shape {list(out)} doesn't match the broadcast shape {shape}")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    red = _reduction_enum(reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    _weights_not_differentiable("binary_cross_entropy", weight=weight)
    if target.dtype != input.dtype:
        from cgrad._stats import _type_name
        raise RuntimeError(f"Found dtype {_type_name(target)} but expected {_type_name(input)}")
    if weight is not None and weight.shape != input.shape:
        for i in range(1, weight.ndim + 1):
            w = weight.shape[-i]
            if w != 1 and i <= input.ndim and w != input.shape[-i]:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {w} at {-i}! Mismatching argument "
                                   f"at index 1 had {weight.shape}; but expected shape should be broadcastable to "
                                   f"{list(input.shape)}")
        _broadcast_into(input.shape, weight.shape, input.shape)
    return _C._binary_cross_entropy(input, target, weight, red)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """The loss comes in target's dtype, as PyTorch's does: it is computed on a tensor of target's dtype."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    red = _reduction_enum(reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    _weights_not_differentiable("binary_cross_entropy_with_logits", weight=weight, pos_weight=pos_weight)
    from cgrad._stats import _type_name
    if target.dtype == _C.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"log_sigmoid_cpu\" not implemented for '{_type_name(input)}'")
    if not target.dtype.is_floating_point:
        raise RuntimeError(f"result type {_type_name(input)} can't be cast to the desired output type "
                           f"{_type_name(target)}")
    if pos_weight is not None:
        _broadcast_into(pos_weight.shape, target.shape, target.shape)
    if weight is not None:
        _broadcast_into(input.shape, weight.shape, input.shape)
    if input.dtype != target.dtype:
        input = input.to(target.dtype)
    return _C._binary_cross_entropy_with_logits(input, target, weight, pos_weight, red)


# ---- more activations ---------------------------------------------------------------
# Compositions of cgrad's ops, each following PyTorch's formula: the same branch
# conditions, the same numerically stable form and the same gradient at the branch
# points. A branch that is not taken never sees an input that would overflow, so
# its zero gradient stays zero instead of 0 * inf.

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _input(x, fname, arg="input", pos=1):
    """PyTorch's error for a Tensor argument given something else."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Tensor, not {type(x).__name__}")
    return x


def _floating(input, kernel, fname):
    """PyTorch's errors for an activation kernel that has no integer form."""
    _input(input, fname)
    if not input.dtype.is_floating_point:
        from cgrad._stats import _type_name
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_type_name(input)}'")
    return input


def _number(value, fname, arg, pos):
    if not isinstance(value, (int, float)):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Number, not {type(value).__name__}")
    return value


def _activation(input, inplace, fn, fn_=None):
    """fn(input), or written into input when inplace: by fn_, whose node is fn's
    own, or else from a copy, so the ops that saved their input still find it
    unchanged at backward time."""
    if not inplace:
        return fn(input)
    if fn_ is not None:
        return fn_(input)
    src = input.clone() if input.requires_grad else input
    return input.copy_(fn(src))


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    fname = "silu_" if inplace else "silu"
    _floating(input, "silu_cpu", fname)
    return _activation(input, inplace, _C._silu, _C._silu_)


def elu(input, alpha=1.0, inplace=False):
    fname = "elu_" if inplace else "elu"
    _floating(input, "elu_cpu", fname)
    _number(alpha, fname, "alpha", 2)
    return _activation(input, inplace, lambda x: _C._elu(x, alpha, 1.0, 1.0), lambda x: _C._elu_(x, alpha, 1.0, 1.0))


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants."""
    fname = "selu_" if inplace else "selu"
    _floating(input, "elu_cpu", fname)
    return _activation(input, inplace, lambda x: _C._elu(x, _SELU_ALPHA, _SELU_SCALE, 1.0),
                       lambda x: _C._elu_(x, _SELU_ALPHA, _SELU_SCALE, 1.0))


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    fname = "celu_" if inplace else "celu"
    _floating(input, "elu_cpu", fname)
    _number(alpha, fname, "alpha", 2)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _activation(input, inplace, lambda x: _C._celu(x, alpha), lambda x: _C._celu_(x, alpha))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself once beta * x > threshold."""
    _floating(input, "softplus_cpu", "softplus")
    _number(beta, "softplus", "beta", 2)
    _number(threshold, "softplus", "threshold", 3)
    return _C._softplus(input, beta, threshold)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val); the gradient is zero at and beyond the bounds."""
    fname = "hardtanh_" if inplace else "hardtanh"
    _input(input, fname)
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if input.dtype == _C.bool_:
        raise RuntimeError("Bool inputs not supported for hardtanh")

    if not input.dtype.is_floating_point:
        return _activation(input, inplace, lambda x: x.clamp(min_val, max_val).to(x.dtype))
    return _activation(input, inplace, lambda x: _C._hardtanh(x, min_val, max_val),
                       lambda x: _C._hardtanh_(x, min_val, max_val))


def relu6(input, inplace=False):
    """hardtanh(x, 0, 6)."""
    fname = "relu6_" if inplace else "relu6"
    _input(input, fname)
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input, inplace=False):
    """min(max(x + 3, 0), 6) / 6; the gradient is 1/6 strictly inside (-3, 3)."""
    fname = "hardsigmoid_" if inplace else "hardsigmoid"
    _floating(input, "hardsigmoid_cpu", fname)
    return _activation(input, inplace, _C._hardsigmoid, _C._hardsigmoid_)


def hardswish(input, inplace=False):
    """x * min(max(x + 3, 0), 6) / 6; the gradient is 0 up to -3, x / 3 + 1/2 strictly
    inside (-3, 3) and 1 from 3 on."""
    fname = "hardswish_" if inplace else "hardswish"
    _floating(input, "hardswish_cpu", fname)
    return _activation(input, inplace, _C._hardswish, _C._hardswish_)


def logsigmoid(input):
    """log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)), one smooth branch on each side of 0."""
    _floating(input, "log_sigmoid_cpu", "log_sigmoid")
    neg = input.clamp(max=0)
    pos = input.clamp(min=0)
    return _C.where(input < 0, neg - neg.exp().log1p(), -(-pos).exp().log1p())


def softsign(input):
    """x / (1 + |x|), PyTorch's own composition."""
    return input / (input.abs() + 1)


def tanhshrink(input):
    """x - tanh(x), PyTorch's own composition."""
    return input - input.tanh()


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between (NaN stays NaN)."""
    _floating(input, "softshrink_check", "softshrink")
    _number(lambd, "softshrink", "lambd", 2)
    if not lambd >= 0:
        dname = "Float" if input.dtype == _C.float32 else "Double"
        top = "3.40282e+38" if input.dtype == _C.float32 else "1.79769e+308"
        raise RuntimeError(f"lambda must be in range [0, {top}] for input dtype {dname}, but found {lambd:g}")
    inner = (input >= -lambd) & (input <= lambd)
    shifted = _C.where(input > lambd, input - lambd, input + lambd)
    return _C.where(inner, 0.0, shifted)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    _floating(input, "hardshrink_cpu", "hardshrink")
    _number(lambd, "hardshrink", "lambd", 2)
    return _C.where((input >= -lambd) & (input <= lambd), 0.0, input)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    fname = "mish_" if inplace else "mish"
    _floating(input, "mish_cpu", fname)
    return _activation(input, inplace, _C._mish, _C._mish_)


def threshold(input, threshold, value, inplace=False):
    """value where x <= threshold, else x (so NaN stays NaN)."""
    fname = "threshold_" if inplace else "threshold"
    _input(input, fname)
    _number(threshold, fname, "threshold", 2)
    _number(value, fname, "value", 3)
    return _activation(input, inplace, lambda x: _C.where(x <= threshold, value, x).to(x.dtype))


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x, dim)."""
    if dim is None:
        dim = _softmax_dim("softmin", input.dim(), _stacklevel)
    return (-input).softmax(dim, dtype)


def glu(input, dim=-1):
    """a * sigmoid(b), with a and b the two halves of input along dim."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    _floating(input, "glu_cpu", "glu")
    if not isinstance(dim, int):
        raise TypeError(f"glu(): argument 'dim' (position 2) must be int, not {type(dim).__name__}")
    size = input.size(dim)
    d = dim + input.dim() if dim < 0 else dim
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    return _C._glu(input, d)


# ---- distances and more losses ------------------------------------------------------


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    if out is not None:
        raise NotImplementedError("normalize(out=...) is not supported")
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    return input / denom


def _clamped_norm(x, dim, eps):
    """||x|| along dim, raised to eps in value only: the gradient is the norm's own."""
    n = x.norm(2, dim, keepdim=True).clone()
    with _C.no_grad():
        n.clamp_min_(eps)
    return n


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / ||x1|| * x2 / ||x2||) along dim, each norm at least eps."""
    _input(x1, "cosine_similarity", "x1", 1)
    _input(x2, "cosine_similarity", "x2", 2)
    if not (x1.dtype.is_floating_point or x2.dtype.is_floating_point):
        from cgrad._stats import _type_name
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is {_type_name(x1 + x2)}")
    # an integer input takes the other's floating dtype, as PyTorch's type promotion gives
    if not x1.dtype.is_floating_point:
        x1 = x1.to(x2.dtype)
    if not x2.dtype.is_floating_point:
        x2 = x2.to(x1.dtype)
    x1, x2 = _C.broadcast_tensors(x1, x2)
    return ((x1 / _clamped_norm(x1, dim, eps)) * (x2 / _clamped_norm(x2, dim, eps))).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim."""
    _input(x1, "pairwise_distance", "x1", 1)
    _input(x2, "pairwise_distance", "x2", 2)
    last = max(x1.dim(), x2.dim()) - 1
    return (x1 - x2 + eps).norm(p, last, keepdim)


def _reduce(loss, reduction):
    red = _reduction_enum(reduction)
    return loss if red == 0 else loss.mean() if red == 1 else loss.sum()


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, with d = input - target."""
    _warn_size(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    input, target = _C.broadcast_tensors(_tensor_arg(input, "input"), _tensor_arg(target, "target"))
    _reduction_enum(reduction)
    if not (input.dtype.is_floating_point or target.dtype.is_floating_point):
        from cgrad._stats import _type_name
        raise NotImplementedError(f"\"smooth_l1_cpu\" not implemented for '{_type_name(input)}'")
    if beta == 0.0:
        return l1_loss(input, target, reduction=reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = input - target
    ad = d.abs()
    # d * d rather than |d|^2 so the second derivative at d = 0 is 1 / beta
    loss = _C.where(ad < beta, 0.5 * d * d / beta, ad - 0.5 * beta)
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """target * (log(target) - input), summed as reduction says; 'batchmean' divides by the batch size."""
    _input(input, "kl_div", "input", 1)
    _input(target, "kl_div", "target", 2)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    if reduction != "batchmean":
        _reduction_enum(reduction)
    if not (input.dtype.is_floating_point and target.dtype.is_floating_point):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = target.xlogy(target) - target * input
    reduced = _reduce(loss, "sum" if reduction == "batchmean" else reduction)
    if reduction == "batchmean" and input.dim() != 0:
        reduced = reduced / input.size(0)
    return reduced


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """exp(input) - target * input (log_input), or input - target * log(input + eps); full adds
    Stirling's approximation of log(target!) where target > 1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    _input(input, "poisson_nll_loss", "input", 1)
    _input(target, "poisson_nll_loss", "target", 2)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduce(loss, reduction)


# ---- the in-place functions: F.relu_(x) is F.relu(x, inplace=True), named relu_ in errors ---

_threshold = threshold


def relu_(input):
    return relu(input, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu_(input):
    return selu(input, inplace=True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input, threshold, value):
    return _threshold(input, threshold, value, inplace=True)


# ---- pooling ----------------------------------------------------------------------------
# Each function parses PyTorch's arguments (an int or a sequence of ints, stride
# None meaning kernel_size) and makes one C call (csrc/ops_pool.c); the 1-d
# forms pool x.unsqueeze(-2) with the 2-d kernels, as PyTorch does.

import operator as _operator  # noqa: E402

__all__ += [
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
]


def _pool_ints(value, fname, arg, pos):
    """value, an int or a sequence of ints, as a tuple of ints (PyTorch's TypeError otherwise)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    try:
        return tuple(_operator.index(v) for v in items)
    except TypeError:
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be tuple of ints, not "
                        f"{type(value).__name__}") from None


def _pool_pair(value, fname, arg, pos, message):
    """A 2-d pool's argument as (height, width): one int serves both; other lengths raise message."""
    v = _pool_ints(value, fname, arg, pos)
    if len(v) not in (1, 2):
        raise RuntimeError(message)
    return v * 2 if len(v) == 1 else v


def _pool_single(value, fname, arg, pos, message=None):
    """A 1-d pool's argument as one int; other lengths raise message, or PyTorch's check1d message."""
    v = _pool_ints(value, fname, arg, pos)
    if len(v) != 1:
        raise RuntimeError(message.format(len(v)) if message else
                           f"{fname}() argument '{arg}' should contain one int (got {len(v)})")
    return v[0]


def _no_stride(stride):
    return stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)


def _window_args(nd, fn, kernel_size, stride, padding, must="must either be"):
    """A 2-d or 3-d pool's kernel_size, stride (the kernel's when omitted) and padding, each nd ints, with
    PyTorch's messages (avg_pool3d's say "must be" where the others say "must either be")."""
    words, parse = {2: "two", 3: "three"}[nd], _pool_pair if nd == 2 else _pool_triple
    k = parse(kernel_size, fn, "kernel_size", 2, f"{fn}: kernel_size {must} a single int, or a tuple of {words} ints")
    s = k if _no_stride(stride) else parse(stride, fn, "stride", 3, f"{fn}: stride {must} omitted, a single int, "
                                                                     f"or a tuple of {words} ints")
    p = parse(padding, fn, "padding", 4, f"{fn}: padding {must} a single int, or a tuple of {words} ints")
    return k, s, p


def _max_pool_args(nd, kernel_size, stride, padding, dilation):
    """max_pool2d's or max_pool3d's window arguments, each nd ints, with PyTorch's messages."""
    fn = f"max_pool{nd}d"
    k, s, p = _window_args(nd, fn, kernel_size, stride, padding)
    parse, words = (_pool_pair, "two") if nd == 2 else (_pool_triple, "three")
    d = parse(dilation, fn, "dilation", 5, f"{fn}: dilation must be either a single int, or a tuple of {words} ints")
    return k, s, p, d


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The maximum over each window of the last two dims (MaxPool2DWithIndicesBackward0); with
    return_indices, also each maximum's position in its flattened plane."""
    k, s, p, d = _max_pool_args(2, kernel_size, stride, padding, dilation)
    return _C._max_pool2d(input, k, s, p, d, bool(ceil_mode), bool(return_indices))


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    k, s, p, d = _max_pool_args(2, kernel_size, stride, padding, dilation)
    return _C._max_pool2d(input, k, s, p, d, bool(ceil_mode), True)


def _max_pool1d_args(kernel_size, stride, padding, dilation, with_indices):
    """torch.max_pool1d checks the lengths with its own messages; max_pool1d_with_indices with check1d's."""
    msg = (None, None, None, None) if with_indices else (
        "max_pool1d() kernel_size must be an int, list of ints or tuple of ints of size 1 but got size {}",
        "max_pool1d() stride must be None, an int, list of ints, or tuple of ints of size 1 but got size {}",
        "max_pool1d() padding must be an int, list of ints, or tuple of ints of size 1 but got size {}",
        "max_pool1d() dilation must be an int, list of ints or tuple of ints of size 1 but got size {}")
    k = _pool_single(kernel_size, "max_pool1d", "kernel_size", 2, msg[0])
    s = k if _no_stride(stride) else _pool_single(stride, "max_pool1d", "stride", 3, msg[1])
    p = _pool_single(padding, "max_pool1d", "padding", 4, msg[2])
    d = _pool_single(dilation, "max_pool1d", "dilation", 5, msg[3])
    return k, s, p, d


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """max_pool2d over x.unsqueeze(-2), squeezed back, for (C, L) or (N, C, L) input."""
    k, s, p, d = _max_pool1d_args(kernel_size, stride, padding, dilation, bool(return_indices))
    return _C._max_pool1d(input, k, s, p, d, bool(ceil_mode), bool(return_indices))


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    k, s, p, d = _max_pool1d_args(kernel_size, stride, padding, dilation, True)
    return _C._max_pool1d(input, k, s, p, d, bool(ceil_mode), True)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean over each window of the last two dims (AvgPool2DBackward0)."""
    k, s, p = _window_args(2, "avg_pool2d", kernel_size, stride, padding)
    divisor_override = _pool_divisor(divisor_override, "avg_pool2d")
    return _C._avg_pool2d(input, k, s, p, bool(ceil_mode), bool(count_include_pad), divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """avg_pool2d over x.unsqueeze(-2), squeezed back, for (C, L) or (N, C, L) input."""
    k = _pool_single(kernel_size, "avg_pool1d", "kernel_size", 2)
    s = k if _no_stride(stride) else _pool_single(stride, "avg_pool1d", "stride", 3)
    p = _pool_single(padding, "avg_pool1d", "padding", 4)
    return _C._avg_pool1d(input, k, s, p, bool(ceil_mode), bool(count_include_pad))


def _pool_divisor(value, fname):
    """divisor_override as an int (None: none), with PyTorch's TypeError otherwise."""
    if value is None:
        return None
    try:
        return _operator.index(value)
    except TypeError:
        raise TypeError(f"{fname}(): argument 'divisor_override' must be int, not {type(value).__name__}") from None


def _adaptive_size(output_size, input, fname, message, n=2):
    """output_size as n sizes (height, width; depth first for 3): an int serves all, None takes
    the input's size (as PyTorch's _list_with_default); other lengths raise message."""
    if not isinstance(output_size, (tuple, list)):
        return (_pool_single(output_size, fname, "output_size", 2),) * n
    sizes = list(output_size)
    if any(v is None for v in sizes):
        shape = tuple(_tensor_arg(input, "input").shape)
        if len(shape) <= len(sizes):
            raise ValueError(f"Input dimension should be at least {len(sizes) + 1}")
        sizes = [d if v is None else v for v, d in zip(sizes, shape[-len(sizes):])]
    sizes = _pool_ints(sizes, fname, "output_size", 2)
    if len(sizes) != n:
        raise RuntimeError(message)
    return sizes


def adaptive_avg_pool2d(input, output_size):
    """The mean over PyTorch's adaptive windows (AdaptiveAvgPool2DBackward0; a mean for a 1 x 1 output)."""
    size = _adaptive_size(output_size, input, "adaptive_avg_pool2d", "adaptive_avg_pool2d: output_size must be 2")
    return _C._adaptive_avg_pool2d(input, size)


def adaptive_avg_pool1d(input, output_size):
    return _C._adaptive_avg_pool1d(input, _pool_single(output_size, "adaptive_avg_pool1d", "output_size", 2))


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """The maximum over PyTorch's adaptive windows (AdaptiveMaxPool2DBackward0)."""
    size = _adaptive_size(output_size, input, "adaptive_max_pool2d",
                          "adaptive_max_pool2d(): internal error: output_size.size() must be 2")
    return _C._adaptive_max_pool2d(input, size, bool(return_indices))


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    size = _pool_single(output_size, "adaptive_max_pool1d", "output_size", 2)
    return _C._adaptive_max_pool1d(input, size, bool(return_indices))


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    return adaptive_max_pool1d(input, output_size, True)


# ---- 3-d pools, unpooling, power-average and fractional max pools ----
# The 3-d pools pool the last three dims with the same C kernels as the 2-d ones;
# the unpools write each value back at its index (one C node); the LP pools are
# PyTorch's composition of avg_pool, sign, relu and pow, so their gradients match;
# the fractional max pools place their windows from per-plane random samples.

__all__ += [
    "max_pool3d", "max_pool3d_with_indices", "avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d",
    "adaptive_max_pool3d_with_indices", "max_unpool1d", "max_unpool2d", "max_unpool3d", "lp_pool1d", "lp_pool2d",
    "lp_pool3d", "fractional_max_pool2d", "fractional_max_pool2d_with_indices", "fractional_max_pool3d",
    "fractional_max_pool3d_with_indices",
]


def _pool_triple(value, fname, arg, pos, message):
    """A 3-d pool's argument as (depth, height, width): one int serves all; other lengths raise message."""
    v = _pool_ints(value, fname, arg, pos)
    if len(v) not in (1, 3):
        raise RuntimeError(message)
    return v * 3 if len(v) == 1 else v


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The maximum over each window of the last three dims (MaxPool3DWithIndicesBackward0); with
    return_indices, also each maximum's position in its flattened volume."""
    k, s, p, d = _max_pool_args(3, kernel_size, stride, padding, dilation)
    return _C._max_pool3d(input, k, s, p, d, bool(ceil_mode), bool(return_indices))


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    k, s, p, d = _max_pool_args(3, kernel_size, stride, padding, dilation)
    return _C._max_pool3d(input, k, s, p, d, bool(ceil_mode), True)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean over each window of the last three dims (AvgPool3DBackward0)."""
    k, s, p = _window_args(3, "avg_pool3d", kernel_size, stride, padding, must="must be")
    divisor_override = _pool_divisor(divisor_override, "avg_pool3d")
    return _C._avg_pool3d(input, k, s, p, bool(ceil_mode), bool(count_include_pad), divisor_override)


def adaptive_avg_pool3d(input, output_size):
    """The mean over PyTorch's adaptive windows (AdaptiveAvgPool3DBackward0; a mean for a 1 x 1 x 1 output)."""
    size = _adaptive_size(output_size, input, "adaptive_avg_pool3d", "adaptive_avg_pool3d: output_size must be 3", 3)
    return _C._adaptive_avg_pool3d(input, size)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """The maximum over PyTorch's adaptive windows (AdaptiveMaxPool3DBackward0)."""
    size = _adaptive_size(output_size, input, "adaptive_max_pool3d",
                          "adaptive_max_pool3d(): internal error: output_size.size() must be 3", 3)
    return _C._adaptive_max_pool3d(input, size, bool(return_indices))


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    return adaptive_max_pool3d(input, output_size, True)


def _ntuple(value, n):
    """PyTorch's _single/_pair/_triple: a sequence as a tuple, anything else repeated n times."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def _unpool_output_size(input, kernel_size, stride, padding, output_size):
    """PyTorch's: the size that inverts the pool, or output_size checked to be within a stride of it."""
    input_size = input.size()
    n = len(kernel_size)
    default_size = [(input_size[-n + d] - 1) * stride[d] + kernel_size[d] - 2 * padding[d] for d in range(n)]
    if output_size is None:
        ret = default_size
    else:
        if len(output_size) == n + 2:
            output_size = output_size[2:]
        if len(output_size) != n:
            raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, but it has a "
                             f"length of '{len(output_size)}'")
        for d in range(n):
            min_size, max_size = default_size[d] - stride[d], default_size[d] + stride[d]
            if not (min_size < output_size[d] < max_size):
                raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between {min_size} and '
                                 f'{max_size})')
        ret = output_size
    for d in range(n):
        if ret[d] < 0:
            raise ValueError("max_unpooling: output_size must contain non-negative spatial dimensions, but got "
                             f"output_size[{d}]={ret[d]}")
    return ret


def _unpool_ints(values, fname, arg, pos):
    """values as a tuple of ints, with the message of PyTorch's argument parser otherwise."""
    out = []
    for i, v in enumerate(values):
        try:
            out.append(_operator.index(v))
        except TypeError:
            raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be tuple of ints, but found element "
                            f"of type {type(v).__name__} at pos {i}") from None
    return tuple(out)


def _unpool_args(input, kernel_size, stride, padding, output_size, n):
    kernel_size = _ntuple(kernel_size, n)
    stride = kernel_size if stride is None else _ntuple(stride, n)
    padding = _ntuple(padding, n)
    return stride, padding, _unpool_output_size(input, kernel_size, stride, padding, output_size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool1d's choice: zeros with each value at its index (max_unpool2d over x.unsqueeze(-1))."""
    _, _, size = _unpool_args(input, kernel_size, stride, padding, output_size, 1)
    size = _unpool_ints(list(size) + [1], "max_unpool2d", "output_size", 3)
    return _C._max_unpool2d(input.unsqueeze(-1), indices.unsqueeze(-1), size).squeeze(-1)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Zeros with each value of input at its index in the plane (MaxUnpool2DBackward0)."""
    _, _, size = _unpool_args(input, kernel_size, stride, padding, output_size, 2)
    size = _unpool_ints(size, "max_unpool2d", "output_size", 3)
    if len(size) != 2:
        raise RuntimeError("There should be exactly two elements (height, width) in output_size, but got "
                           f"{len(size)} elements.")
    return _C._max_unpool2d(input, indices, size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Zeros with each value of input at its index in the volume (MaxUnpool3DBackward0)."""
    stride, padding, size = _unpool_args(input, kernel_size, stride, padding, output_size, 3)
    size = _unpool_ints(size, "max_unpool3d", "output_size", 3)
    stride = _unpool_ints(stride, "max_unpool3d", "stride", 4)
    padding = _unpool_ints(padding, "max_unpool3d", "padding", 5)
    for name, v in (("output_size", size), ("stride", stride), ("padding", padding)):
        if len(v) != 3:
            raise RuntimeError(f"There should be exactly three elements (depth, height, width) in {name}, but got"
                               f"{'' if name == 'output_size' else ':'} {len(v)} elements.")
    return _C._max_unpool3d(input, indices, size, stride, padding)


def _lp_pool(avg_pool, max_pool, input, norm_type, kernel_size, stride, ceil_mode, window):
    """PyTorch's power-average pool: (sum over the window of x^p)^(1/p), as an average times the window size."""
    if isinstance(norm_type, (int, float)):
        if norm_type == float("inf"):
            return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        if norm_type == -float("inf"):
            return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if stride is not None:
        out = avg_pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    else:
        out = avg_pool(input.pow(norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
    return (_C.sign(out) * relu(out.abs())).mul(window).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(avg_pool1d, max_pool1d, input, norm_type, kernel_size, stride, ceil_mode, kernel_size)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    kw, kh = _ntuple(kernel_size, 2)
    return _lp_pool(avg_pool2d, max_pool2d, input, norm_type, kernel_size, stride, ceil_mode, kw * kh)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    kd, kw, kh = _ntuple(kernel_size, 3)
    return _lp_pool(avg_pool3d, max_pool3d, input, norm_type, kernel_size, stride, ceil_mode, kd * kw * kh)

def _fractional_sizes(value, n, fname, arg, pos):
    """kernel_size or output_size of a fractional pool as ints: one int serves all."""
    v = _pool_ints(value, fname, arg, pos)
    return v if isinstance(value, (tuple, list)) else v * n


def _fractional_max_pool(n, input, kernel_size, output_size, output_ratio, return_indices, _random_samples):
    """PyTorch's fractional max pool of n dims: output_size or input size times output_ratio windows of
    kernel_size, placed by _random_samples ((N, C, n) in [0, 1); drawn from cgrad's generator when None)."""
    fname = f"fractional_max_pool{n}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{fname} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        if n == 2 and len(output_ratio) > 2:
            raise ValueError(f"{fname} requires output_ratio to either be a single Int or tuple of Ints.")
        ratio = _ntuple(output_ratio, n)
        output_size = [int(input.size(d - n) * ratio[d]) for d in range(n)]
    if _random_samples is None:
        n_batch = 1 if input.dim() == n + 1 else input.size(0)
        _random_samples = _C.rand(n_batch, input.size(-n - 1), n, dtype=input.dtype)
    sizes = (_fractional_sizes(kernel_size, n, fname, "kernel_size", 2),
             _fractional_sizes(output_size, n, fname, "output_size", 3))
    if isinstance(_random_samples, Tensor) and _random_samples.requires_grad and _C._is_grad_enabled():
        raise RuntimeError(f"The function '{fname}' is not differentiable with respect to argument "
                           "'random_samples'. This input cannot have requires_grad True.")
    for arg, v in zip(("kernel_size", "output_size"), sizes):
        if len(v) != n:
            raise RuntimeError(f"{fname}: {arg} must either be a single Int or tuple of {'three ' if n == 3 else ''}"
                               "Ints")
    return _C._fractional_max_pool(input, *sizes, _random_samples, bool(return_indices))


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Max pooling over windows placed pseudo-randomly (FractionalMaxPool2DBackward0)."""
    return _fractional_max_pool(2, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                                       _random_samples=None):
    return _fractional_max_pool(2, input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Max pooling over windows placed pseudo-randomly (FractionalMaxPool3DBackward0)."""
    return _fractional_max_pool(3, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                                       _random_samples=None):
    return _fractional_max_pool(3, input, kernel_size, output_size, output_ratio, True, _random_samples)


# ---- attention ----
# scaled_dot_product_attention follows PyTorch's math backend op for op, and
# multi_head_attention_forward PyTorch's composition, so both give PyTorch's
# values, gradients and errors (a wrong shape fails in the same matmul).

# the backends sdpa_kernel leaves enabled (values of nn.attention.SDPBackend); None while no sdpa_kernel is active
_sdpa_enabled = None
_SDPA_TYPE_NAMES = {_C.float32: "float", _C.float64: "double", _C.int64: "long int", _C.bool_: "bool"}


def _check_sdpa_inputs(query, key, value, attn_mask):
    """PyTorch's checks, in its words (its doubled spaces too)."""
    names = _SDPA_TYPE_NAMES
    if not query.dtype == key.dtype == value.dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{names[query.dtype]} key.dtype: {names[key.dtype]} and value.dtype: "
                           f"{names[value.dtype]} instead.")
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
                           f"{query.dim()} key.dim: {key.dim()} and value.dim: {value.dim()} instead.")
    if attn_mask is not None and attn_mask.dtype not in (_C.bool_, _C.float32, query.dtype):
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                           f"attn_mask.dtype: {names[attn_mask.dtype]} and  query.dtype: {names[query.dtype]} "
                           "instead.")


def _repeat_kv_heads(query, key, value):
    """key and value with each head repeated for its group of query heads (dim -3)."""
    hq, hk, hv = query.size(-3), key.size(-3), value.size(-3)
    if hq == hk == hv:
        return key, value
    if hq % hk or hq % hv:
        raise RuntimeError("Number of heads in key and value must divide the number of heads in ")  # PyTorch's words
    return key.repeat_interleave(hq // hk, -3), value.repeat_interleave(hq // hv, -3)


def _safe_softmax(scores):
    """softmax over the last dim, with zeros (and no gradient) for a row that is -inf throughout.

    The row is set to 0 before the softmax so no NaN reaches its backward.
    """
    dead = (scores == float("-inf")).all(-1, keepdim=True)
    return scores.masked_fill(dead, 0.0).softmax(-1).masked_fill(dead, 0.0)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, *, scale=None,
                                 enable_gqa=False):
    """softmax(query @ key^T * scale + bias) @ value, leading dims broadcasting.

    A bool attn_mask is True where a query may attend, a float one is added to
    the scores; is_causal lets query i attend keys 0..i. A query that may
    attend nothing gets zeros. scale defaults to 1 / sqrt(E); as PyTorch, its
    square root scales query and key each. enable_gqa shares each key/value
    head among a group of query heads.
    """
    fname = "scaled_dot_product_attention"
    for pos, (arg, t) in enumerate((("query", query), ("key", key), ("value", value)), 1):
        _input(t, fname, arg, pos)
    if attn_mask is not None and not isinstance(attn_mask, Tensor):  # PyTorch's words when given by keyword
        raise TypeError(f"{fname}(): argument 'attn_mask' must be Tensor, not {type(attn_mask).__name__}")
    _check_sdpa_inputs(query, key, value, attn_mask)
    flash = False
    # PyTorch's CPU runs its flash kernel when it can, which accepts and refuses a few calls the math kernel does
    # not; only those calls, or an active sdpa_kernel, need the full check
    if (_sdpa_enabled is not None or (is_causal and attn_mask is not None) or not dropout_p >= 0.0
            or (attn_mask is not None and attn_mask.dim() < 2)):
        from cgrad.nn import attention
        flash = attention._use_flash(query, key, value, attn_mask, dropout_p, enable_gqa)
    if is_causal and attn_mask is not None and not flash:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if scale is None:
        scale = 1.0 / math.sqrt(query.size(-1)) if query.size(-1) else math.inf  # an empty product scores 0
    root = math.sqrt(abs(scale))
    q = query * (-root if scale < 0 else root)
    if enable_gqa:
        key, value = _repeat_kv_heads(query, key, value)
    scores = q @ (key.transpose(-2, -1) * root)
    if is_causal:
        scores.add_(_C.full((query.size(-2), key.size(-2)), float("-inf"), dtype=query.dtype).triu(1))
    if attn_mask is not None:
        if attn_mask.dtype == _C.bool_:
            attn_mask = _C.zeros(tuple(attn_mask.shape), dtype=query.dtype).masked_fill(attn_mask.logical_not(),
                                                                                        float("-inf"))
        # in place, as PyTorch adds it: the mask must broadcast to the scores' shape
        weights = _safe_softmax(scores.add_(attn_mask))
    else:
        weights = scores.softmax(-1)
    if dropout_p > 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights @ value


def _none_or_dtype(input):
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """mask as one to add to the scores: a bool one becomes -inf where True and 0 elsewhere."""
    if mask is None:
        return None
    is_float = mask.dtype.is_floating_point
    if mask.dtype != _C.bool_ and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both "
                      "instead.", stacklevel=2)
    if is_float:
        return mask
    return _C.zeros(tuple(mask.shape), dtype=target_type).masked_fill(mask, float("-inf"))


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """Whether the input is batched (3-D query) or not (2-D), after checking the other shapes agree."""
    if query.dim() not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query "
                             "tensor")
    batched = query.dim() == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.dim() != query.dim() or value.dim() != query.dim():
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {query.dim()}-D but found "
                             f"{key.dim()}-D and {value.dim()}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.dim() != query.dim() - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                             f"{query.dim() - 1}-D but found {key_padding_mask.dim()}-D tensor instead")
    if attn_mask is not None:
        if attn_mask.dim() not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                                 f"{attn_mask.dim()}-D tensor instead")
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and attn_mask.dim() == 3 and tuple(attn_mask.shape) != expected:
            raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}")
    return batched


def _in_projection_packed(q, k, v, w, b=None):
    """q, k and v projected by the three row blocks of w (and b); one product when they are one tensor."""
    e = q.size(-1)
    if k is v and q is k:
        return linear(q, w, b).chunk(3, -1)
    if k is v:
        w_q, w_kv = w.split([e, 2 * e])
        b_q, b_kv = (None, None) if b is None else b.split([e, 2 * e])
        return (linear(q, w_q, b_q),) + tuple(linear(k, w_kv, b_kv).chunk(2, -1))
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _in_projection(q, k, v, w_q, w_k, w_v, b_q=None, b_k=None, b_v=None):
    """q, k and v projected by their own weights, all to q's embedding size."""
    eq, ek, ev = q.size(-1), k.size(-1), v.size(-1)
    for what, t, shape in (("query weights", w_q, (eq, eq)), ("key weights", w_k, (eq, ek)),
                           ("value weights", w_v, (eq, ev)), ("query bias", b_q, (eq,)), ("key bias", b_k, (eq,)),
                           ("value bias", b_v, (eq,))):
        if t is not None and tuple(t.shape) != shape:
            raise AssertionError(f"expecting {what} shape of {shape}, but got {t.shape}")
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _mha_masks(query, key_padding_mask, attn_mask, is_causal, need_weights):
    """The two masks as float ones, and whether is_causal still stands for attn_mask.

    With is_causal and nothing else to merge in, attn_mask is dropped: the
    causal scaled_dot_product_attention computes the same.
    """
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask",
                                       query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        return None, None, True
    attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
    return key_padding_mask, attn_mask, is_causal and key_padding_mask is None


def _mha_check_inputs(query, key, value, embed_dim_to_check, num_heads, use_separate_proj_weight):
    """The head size, once the embedding sizes and the key and value shapes agree."""
    embed_dim = query.shape[2]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                                 f"{value.shape[:2]}")
    elif key.shape != value.shape:
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
    return head_dim


def _mha_project(query, key, value, in_proj_weight, in_proj_bias, use_separate_proj_weight, q_proj_weight,
                 k_proj_weight, v_proj_weight):
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        return _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    for name, w in (("q_proj_weight", q_proj_weight), ("k_proj_weight", k_proj_weight),
                    ("v_proj_weight", v_proj_weight)):
        if w is None:
            raise AssertionError(f"use_separate_proj_weight is True but {name} is None")
    biases = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
    return _in_projection(query, key, value, q_proj_weight, k_proj_weight, v_proj_weight, *biases)


def _mha_mask_3d(attn_mask, tgt_len, src_len, batch_heads):
    """attn_mask (L, S) or (N * num_heads, L, S) as a 3-D one."""
    if attn_mask.dim() == 2:
        if tuple(attn_mask.shape) != (tgt_len, src_len):
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                               f"{(tgt_len, src_len)}.")
        return attn_mask.unsqueeze(0)
    if attn_mask.dim() == 3:
        if tuple(attn_mask.shape) != (batch_heads, tgt_len, src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                               f"{(batch_heads, tgt_len, src_len)}.")
        return attn_mask
    raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")


def _mha_append_key(k, v, extra_k, extra_v, dim, masks):
    """k and v with one more key (extra_k, extra_v) at the end of dim, and the masks a column more to match."""
    masks = [None if m is None else pad(m, (0, 1)) for m in masks]
    return (_C.cat([k, extra_k], dim), _C.cat([v, extra_v], dim)) + tuple(masks)


def _mha_heads(x, static, name, batch_heads, head_dim):
    """x (length, N, E) as (N * num_heads, length, head_dim), or the static tensor given for it."""
    if static is None:
        return x.reshape(x.shape[0], batch_heads, head_dim).transpose(0, 1)
    if static.size(0) != batch_heads:
        raise AssertionError(f"expecting {name}.size(0) of {batch_heads}, but got {static.size(0)}")
    if static.size(2) != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got {static.size(2)}")
    return static


def _mha_attention_weights(q, k, attn_mask, is_causal, dropout_p):
    """softmax(q k^T / sqrt(head_dim) + attn_mask) over (N * num_heads) batches, then dropout."""
    if is_causal and attn_mask is None:
        raise AssertionError("FIXME: is_causal not implemented for need_weights")
    q_scaled = q * math.sqrt(1.0 / float(q.shape[-1]))
    if attn_mask is not None:
        weights = attn_mask.baddbmm(q_scaled, k.transpose(-2, -1))
    else:
        weights = q_scaled.bmm(k.transpose(-2, -1))
    weights = weights.softmax(-1)
    return dropout(weights, p=dropout_p) if dropout_p > 0.0 else weights


def _mha_sdpa(q, k, v, attn_mask, is_causal, dropout_p, bsz, num_heads):
    """The heads' outputs (L, N, num_heads, head_dim) by scaled_dot_product_attention."""
    tgt_len, src_len, head_dim = q.shape[1], k.shape[1], q.shape[2]
    if attn_mask is not None:  # (N, num_heads, L, S), or (1, 1, L, S) to broadcast
        if attn_mask.size(0) == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.view(bsz, num_heads, -1, src_len)
    q = q.view(bsz, num_heads, tgt_len, head_dim)
    k = k.view(bsz, num_heads, src_len, head_dim)
    v = v.view(bsz, num_heads, src_len, head_dim)
    return scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal).permute(2, 0, 1, 3)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """nn.MultiheadAttention's computation on (L, N, E) query and (S, N, E) key and value (or unbatched).

    Returns the output and, with need_weights, the attention weights averaged
    over the heads (or per head); without, None, and the attention itself
    runs through scaled_dot_product_attention as in PyTorch.
    """
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:  # a batch of one along dim 1, squeezed out again at the end
        q1 = query.unsqueeze(1)
        k1 = q1 if key is query else key.unsqueeze(1)
        value = k1 if value is key else value.unsqueeze(1)
        query, key = q1, k1
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    key_padding_mask, attn_mask, is_causal = _mha_masks(query, key_padding_mask, attn_mask, is_causal, need_weights)
    head_dim = _mha_check_inputs(query, key, value, embed_dim_to_check, num_heads, use_separate_proj_weight)
    q, k, v = _mha_project(query, key, value, in_proj_weight, in_proj_bias, use_separate_proj_weight, q_proj_weight,
                           k_proj_weight, v_proj_weight)
    batch_heads = bsz * num_heads
    if attn_mask is not None:
        attn_mask = _mha_mask_3d(attn_mask, tgt_len, key.shape[0], batch_heads)
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k, v, attn_mask, key_padding_mask = _mha_append_key(k, v, bias_k.repeat(1, bsz, 1), bias_v.repeat(1, bsz, 1),
                                                            0, (attn_mask, key_padding_mask))
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")

    q = _mha_heads(q, None, "q", batch_heads, head_dim)
    k = _mha_heads(k, static_k, "static_k", batch_heads, head_dim)
    v = _mha_heads(v, static_v, "static_v", batch_heads, head_dim)
    if add_zero_attn:
        zeros = _C.zeros((batch_heads, 1, head_dim), dtype=k.dtype)
        k, v, attn_mask, key_padding_mask = _mha_append_key(k, v, zeros, zeros, 1, (attn_mask, key_padding_mask))
    src_len = k.size(1)
    if key_padding_mask is not None:
        for d, expected in ((0, bsz), (1, src_len)):
            if key_padding_mask.shape[d] != expected:
                raise AssertionError(f"Expected key_padded_mask.shape[{d}] to be {expected}, but got "
                                     f"{key_padding_mask.shape[d]}")
        key_padding_mask = (key_padding_mask.view(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1)
                            .reshape(batch_heads, 1, src_len))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0

    weights = None
    if need_weights:
        weights = _mha_attention_weights(q, k, attn_mask, is_causal, dropout_p)
        out = weights.bmm(v).transpose(0, 1)
        weights = weights.view(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            weights = weights.squeeze(0)
    else:
        out = _mha_sdpa(q, k, v, attn_mask, is_causal, dropout_p, bsz, num_heads)
    out = linear(out.reshape(tgt_len * bsz, embed_dim), out_proj_weight, out_proj_bias)
    out = out.view(tgt_len, bsz, out.size(1))
    return (out if batched else out.squeeze(1)), weights

# ---- convolutions and sliding blocks ---------------------------------------------------
# One C node each (ConvolutionBackward0, for transposed ones too, Im2ColBackward0, Col2ImBackward0);
# here only the arguments are put into one int per spatial dim.

__all__ += ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "unfold",
            "fold"]


def _int_value(v, fn, name):
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise TypeError(f"{fn}(): argument '{name}' must be tuple of ints, but found element of type "
                        f"{type(v).__name__}")
    return v.__index__()


def _conv_ints(value, n, fn, name):
    """An int repeated n times, or a sequence of ints (one of them: repeated)."""
    if isinstance(value, Tensor) and value.dim() == 0:
        value = value.item()
    if isinstance(value, (list, tuple)):
        values = [_int_value(v, fn, name) for v in value]
        return values * n if len(values) == 1 else values
    return [_int_value(value, fn, name)] * n


def _check_conv_tensors(fn, input, weight, bias):
    """PyTorch's TypeError for a convolution's input, weight or bias that is not a tensor."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not isinstance(weight, Tensor):
        raise TypeError(f"{fn}(): argument 'weight' (position 2) must be Tensor, not {type(weight).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{fn}(): argument 'bias' (position 3) must be Tensor, not {type(bias).__name__}")


def _conv(fn, nspatial, input, weight, bias, stride, padding, dilation, groups):
    _check_conv_tensors(fn, input, weight, bias)
    if input.dim() not in (nspatial + 1, nspatial + 2):
        raise RuntimeError(f"Expected {nspatial + 1}D (unbatched) or {nspatial + 2}D (batched) input to {fn}, "
                           f"but got input of size: {list(input.shape)}")
    same = isinstance(padding, str)
    if same and padding not in ("same", "valid"):
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    if same and padding == "valid":
        same, padding = False, 0
    args = {"stride": _conv_ints(stride, nspatial, fn, "stride"),
            "padding": [0] * nspatial if same else _conv_ints(padding, nspatial, fn, "padding"),
            "dilation": _conv_ints(dilation, nspatial, fn, "dilation")}
    k = weight.dim() - 2
    for name, values in args.items():
        if k >= 1 and len(values) != k and not (same and name == "padding"):
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {k} values to match the "
                               f"convolution dimensions, but got {name}={values}")
    groups = _int_value(groups, fn, "groups")
    if same and k == nspatial and any(d * (s - 1) % 2 for d, s in zip(args["dilation"], weight.shape[2:])):
        warnings.warn("Using padding='same' with even kernel lengths and odd dilation may require a zero-padded "
                      "copy of the input be created", UserWarning, stacklevel=3)
    if same:
        args["padding"] = [0] * len(args["stride"])
    return _C._convolution(input, weight, bias, args["stride"], args["padding"], args["dilation"], groups, same)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _transpose_ints(value, n, fn, name):
    """_conv_ints with the messages of conv_transpose's argument parser (the type of the whole value)."""
    if isinstance(value, Tensor) and value.dim() == 0:
        value = value.item()
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if any(isinstance(v, bool) or not hasattr(v, "__index__") for v in items):
        raise TypeError(f"{fn}(): argument '{name}' must be tuple of ints, not {type(value).__name__}")
    values = [v.__index__() for v in items]
    return values * n if len(values) == 1 else values


def _conv_transpose(fn, nspatial, input, weight, bias, stride, padding, output_padding, groups, dilation):
    _check_conv_tensors(fn, input, weight, bias)
    args = {name: _transpose_ints(value, nspatial, fn, name) for name, value in
            (("stride", stride), ("padding", padding), ("output_padding", output_padding), ("dilation", dilation))}
    if isinstance(groups, bool) or not hasattr(groups, "__index__"):
        raise TypeError(f"{fn}(): argument 'groups' must be int, not {type(groups).__name__}")
    if input.dim() not in (nspatial + 1, nspatial + 2):
        raise RuntimeError(f"Expected {nspatial + 1}D (unbatched) or {nspatial + 2}D (batched) input to {fn}, "
                           f"but got input of size: {list(input.shape)}")
    k = weight.dim() - 2
    for name, values in args.items():
        if k >= 1 and len(values) == 1:  # one value serves every dim of the weight
            args[name] = values * k
        elif k >= 1 and len(values) != k:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {k} values to match the "
                               f"convolution dimensions, but got {name}={values}")
    batched_dim = input.dim() + (input.dim() == nspatial + 1)
    if weight.dim() != batched_dim:  # the C would take a batched input of one dim less than w for an unbatched one
        shape = list(input.shape) if input.dim() == batched_dim else [1, *input.shape]
        raise RuntimeError(f"Expected {weight.dim()}-dimensional input for {weight.dim()}-dimensional weight "
                           f"{list(weight.shape)}, but got {batched_dim}-dimensional input of size {shape} instead")
    return _C._conv_transpose(input, weight, bias, args["stride"], args["padding"], args["output_padding"],
                              args["dilation"], groups.__index__())


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def _pair(value, name):
    values = _conv_ints(value, 2, name, name)
    if len(values) != 2:
        raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(values)}")
    return values


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    _tensor_arg(input, "input")
    return _C._im2col(input, _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation"),
                      _pair(padding, "padding"), _pair(stride, "stride"))


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    _tensor_arg(input, "input")
    return _C._col2im(input, _pair(output_size, "output_size"), _pair(kernel_size, "kernel_size"),
                      _pair(dilation, "dilation"), _pair(padding, "padding"), _pair(stride, "stride"))

# ---- margin, embedding and likelihood losses ----------------------------------------
# Compositions of cgrad's ops that follow PyTorch's formulas step for step (the same
# clamps, the same order of reduction, the same output shapes), so first and second
# derivatives come from the primitives. Where PyTorch has a fused kernel (soft margin,
# multi-class and multi-label margin) the composition reproduces its formula, including
# a hinge at exactly zero passing no gradient, and its argument checks.

_COSINE_EPS = 1e-12


def _reduced(loss, red):
    return loss if red == 0 else loss.mean() if red == 1 else loss.sum()


def _hinge(z):
    """max(z, 0) with no gradient at z = 0: the fused kernels add z only where z > 0."""
    return z.relu()


def _not_differentiable(t, fname, arg):
    """PyTorch's error for a tensor its fused kernel has no derivative for, in any grad mode."""
    if t is not None and t.requires_grad:
        raise RuntimeError(f"The function '{fname}' is not differentiable with respect to argument '{arg}'. "
                           "This input cannot have requires_grad True.")


def _scalar_type(t, dtype):
    """The kernels' check of an argument's dtype: int64 class indices, a weight in input's dtype."""
    from cgrad._stats import _TYPE_NAMES
    if t.dtype != dtype:
        raise RuntimeError(f"expected scalar type {_TYPE_NAMES[dtype]} but found {_TYPE_NAMES[t.dtype]}")


def _same_ndim(anchor, positive, negative):
    a_dim, p_dim, n_dim = anchor.ndim, positive.ndim, negative.ndim
    if not a_dim == p_dim == n_dim:
        raise RuntimeError("The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a_dim}D, positive {p_dim}D, and negative {n_dim}D inputs")


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target * (input1 - input2) + margin)."""
    red = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError("margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} ")
    return _reduced((-target * (input1 - input2) + margin).clamp_min(0), red)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """input where target is 1, max(0, margin - input) where target is -1 (both terms for any other target)."""
    red = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    _input(input, "hinge_embedding_loss", "input", 1)
    _input(target, "hinge_embedding_loss", "target", 2)
    margin_part = _C.where(target != 1, (margin - input).clamp_min(0), 0.0)
    self_part = _C.where(target != -1, input, 0.0)
    return _reduced(margin_part + self_part, red)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)), in input's shape and dtype."""
    red = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    _input(input, "soft_margin_loss", "input", 1)
    _input(target, "soft_margin_loss", "target", 2)
    _not_differentiable(target, "soft_margin_loss", "target")
    z = -input * target
    # PyTorch writes the product into a tensor of input's shape and dtype
    if z.shape != input.shape:
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast shape {list(z.shape)}")
    if z.dtype != input.dtype:
        if not input.dtype.is_floating_point:
            from cgrad._stats import _type_name
            raise RuntimeError(f"result type {_type_name(z)} can't be cast to the desired output type "
                               f"{_type_name(input)}")
        z = z.to(input.dtype)
    return _reduced(z.exp().log1p(), red)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(input1, input2) where target is 1, max(0, cos - margin) where target is -1; the
    cosine along the last dim of 2-D inputs with a 1-D target, of 1-D inputs with a 0-D target."""
    red = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    dim = target.dim()
    if dim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if input1.dim() != dim + 1 or input2.dim() != dim + 1:
        raise RuntimeError(f"{dim}D target tensor expects {dim + 1}D input tensors, but found inputs with sizes "
                           f"{list(input1.shape)} and {list(input2.shape)}.")
    prod = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + _COSINE_EPS
    mag2 = (input2 * input2).sum(dim) + _COSINE_EPS
    cos = prod / (mag1 * mag2).sqrt()
    pos = _C.where(target == 1, 1 - cos, 0.0)
    neg = _C.where(target == -1, (cos - margin).clamp_min(0), 0.0)
    return _reduced(pos + neg, red)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """The binary logistic loss of every class (times weight), averaged over the classes (the last dim)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(class_dim) / input.size(class_dim)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not valid")
    return loss if reduction == "none" else loss.mean() if reduction == "mean" else loss.sum()


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with d the pairwise p-norm distance;
    swap takes d(positive, negative) instead when it is smaller."""
    red = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _input(anchor, "triplet_margin_loss", "anchor", 1)
    _input(positive, "triplet_margin_loss", "positive", 2)
    _input(negative, "triplet_margin_loss", "negative", 3)
    _same_ndim(anchor, positive, negative)
    dist_pos = pairwise_distance(anchor, positive, p, eps)
    dist_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = dist_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduced((margin + dist_pos - dist_neg).clamp_min(0), red)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    """triplet_margin_loss with any distance (pairwise_distance when None)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _same_ndim(anchor, positive, negative)
    distance = pairwise_distance if distance_function is None else distance_function
    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    if swap:
        dist_neg = _C.minimum(dist_neg, distance(positive, negative))
    loss = (margin + dist_pos - dist_neg).clamp_min(0)
    return loss.sum() if reduction == "sum" else loss.mean() if reduction == "mean" else loss


def _gaussian_var(input, var):
    """var shaped to broadcast against input: its own shape, input's without the last dim
    (unsqueezed), or input's with one dim of size 1."""
    if var.shape == input.shape:
        return var
    if input.shape[:-1] == var.shape:
        return var.unsqueeze(-1)
    if input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
        return var
    raise ValueError("var is of incorrect size")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 * (log(v) + (input - target)^2 / v) with v = var raised to eps in value only (the gradient
    is var's own), plus 0.5 * log(2 pi) when full."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        from cgrad._creation import ones_like
        var = var * ones_like(input)
    else:
        _input(var, "gaussian_nll_loss", "var", 3)
        if bool((var < 0).any()):
            raise ValueError("var has negative entry/entries")
    var = _gaussian_var(input, var)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not valid")
    var = var.clone()
    with _C.no_grad():
        var.clamp_min_(eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _margin_frames(input):
    """(number of samples, number of classes) of a 0-D, 1-D or 2-D margin-loss input."""
    if not ((input.ndim == 2 and input.shape[1] != 0) or (input.ndim == 1 and input.shape[0] != 0)
            or input.ndim == 0):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(input.shape)}")
    if input.ndim <= 1:
        return 1, 1 if input.ndim == 0 else input.shape[0]
    return input.shape[0], input.shape[1]


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """The multi-class hinge loss: the sum over classes d other than the target y of
    max(0, margin - x[y] + x[d])^p (times weight[y]), divided by the number of classes."""
    import numpy as np
    red = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    _input(input, "multi_margin_loss", "input", 1)
    _input(target, "multi_margin_loss", "target", 2)
    _not_differentiable(weight, "multi_margin_loss", "weight")
    nframe, dim = _margin_frames(input)
    if target.dim() > 1 or target.numel() != nframe:
        raise RuntimeError("multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{nframe}], but got {list(target.shape)}. "
                           f"Input has shape {list(input.shape)}.")
    if weight is not None and weight.numel() != dim:
        raise RuntimeError(f"inconsistent weight size, expected {dim} but got {list(weight.shape)}")
    _floating(input, "multi_margin_loss_cpu_kernel", "multi_margin_loss")
    _scalar_type(target, _C.int64)
    if weight is not None:
        _scalar_type(weight, input.dtype)
    indices = target.numpy().reshape(nframe)
    if ((indices < 0) | (indices >= dim)).any():
        raise RuntimeError("target out of range")
    x = input.reshape(nframe, dim)
    rows = target.reshape(nframe, 1)
    h = _hinge(margin - x.gather(1, rows) + x)
    if p == 2:
        h = h * h
    others = np.arange(dim) != indices[:, None]
    h = _C.where(_C.from_numpy(others), h, 0.0)
    if weight is not None:
        h = h * weight.gather(0, target.reshape(nframe)).reshape(nframe, 1)
    loss = h.sum(1) / dim
    if red == 0:
        return loss if target.dim() > 0 else loss.reshape(())
    return _reduced(loss, red)


def _multilabel_pairs(labels):
    """The classes each row of labels lists (the entries before its first -1; 0 pads the rows
    to the longest list) and which (listed entry, class) pairs the loss sums: a valid entry
    and a class not listed in the row."""
    import numpy as np
    valid = np.cumprod(labels >= 0, axis=1).astype(bool)
    width = int(valid.sum(1).max()) if len(labels) else 0
    valid, listed = valid[:, :width], np.ascontiguousarray(np.where(valid, labels, 0)[:, :width])
    is_target = np.zeros(labels.shape, dtype=bool)
    rows, cols = np.nonzero(valid)
    is_target[rows, listed[rows, cols]] = True
    return listed, valid[:, :, None] & ~is_target[:, None, :]


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """The multi-label hinge loss: target lists a sample's classes, ended by the first -1; the sum
    over listed classes j (repeats counted again) and unlisted classes d of max(0, 1 - x[j] + x[d]),
    divided by the number of classes."""
    red = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    _input(input, "multilabel_margin_loss", "input", 1)
    _input(target, "multilabel_margin_loss", "target", 2)
    nframe, dim = _margin_frames(input)
    if input.ndim <= 1:
        fits = target.dim() <= 1 and target.numel() == dim
    else:
        fits = target.dim() == 2 and tuple(target.shape) == (nframe, dim)
    if not fits:
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}")
    _floating(input, "multilabel_margin_loss_forward_out_frame", "multilabel_margin_loss")
    _scalar_type(target, _C.int64)
    labels = target.numpy().reshape(nframe, dim)
    if labels.size and (labels.min() < -1 or labels.max() >= dim):
        raise RuntimeError("argument #2 'target' is out of range")
    listed, pairs = _multilabel_pairs(labels)
    x = input.reshape(nframe, dim)
    h = _hinge(1 - x.gather(1, _C.from_numpy(listed)).unsqueeze(2) + x.unsqueeze(1))
    loss = _C.where(_C.from_numpy(pairs), h, 0.0).sum((1, 2)) / dim
    if red == 0:
        return loss if target.dim() > 1 else loss.reshape(())
    return _reduced(loss, red)


from cgrad.nn._functional_more import (affine_grid, ctc_loss, embedding_bag, grid_sample,  # noqa: E402
                                       gumbel_softmax, local_response_norm, pdist)

__all__ += ["embedding_bag", "ctc_loss", "gumbel_softmax", "pdist", "local_response_norm", "affine_grid",
            "grid_sample"]


def conv_tbc(input, weight, bias, pad=0):
    """A 1-d convolution over (time, batch, channels) input with a (kernel width, in, out) weight: conv1d on
    the input and weight laid out as it takes them, padded by pad steps on both ends of time."""
    _input(input, "conv_tbc")
    if input.dim() != 3:
        raise RuntimeError("Input must have 3 dims: time, batch, in_channel")
    if weight.dim() != 3:
        raise RuntimeError("Weight tensor must have 3 dims: kernel_width, in_channels, out_channels.")
    if bias.dim() != 1:
        raise RuntimeError("Bias must be 1-D")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError("Input dim 2 (input channels) is not == dim 1 in the weight tensor")
    if weight.shape[2] != bias.shape[0]:
        raise RuntimeError("Bias size must equal dim 2 in the weight tensor (output channels).")
    out = conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return out.permute(2, 0, 1).contiguous()


def native_channel_shuffle(input, groups):
    """channel_shuffle (PyTorch's kernel without its own derivative; cgrad's is differentiable)."""
    return channel_shuffle(input, groups)


from cgrad.nn import grad  # noqa: E402  (also as nn.functional.grad, as in PyTorch)

__all__ += ["conv_tbc", "native_channel_shuffle"]

from cgrad.nn._linear_cross_entropy import linear_cross_entropy  # noqa: E402

__all__ += ["linear_cross_entropy"]
