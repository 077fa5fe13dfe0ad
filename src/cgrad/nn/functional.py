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

__all__ = [
    "linear", "bilinear", "relu", "gelu", "leaky_relu", "prelu", "tanh", "sigmoid", "softmax", "log_softmax",
    "mse_loss", "l1_loss", "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "dropout", "layer_norm", "one_hot", "embedding",
    "silu", "elu", "selu", "celu", "softplus", "hardtanh", "relu6", "hardsigmoid", "hardswish", "logsigmoid",
    "softsign", "tanhshrink", "softshrink", "hardshrink", "mish", "threshold", "softmin", "glu",
    "normalize", "cosine_similarity", "pairwise_distance", "smooth_l1_loss", "kl_div", "poisson_nll_loss",
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
    """Rows of weight picked by the int64 indices in input."""
    if max_norm is not None:
        raise NotImplementedError("embedding(max_norm=...) is not supported")
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
    _warn_size(input, target)
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
    if target.dtype.is_floating_point:
        return _cross_entropy_probs(input, target, weight, red, label_smoothing)
    if label_smoothing == 0.0:
        return _C._cross_entropy(input, target, weight, red, ignore_index)
    return _cross_entropy_smoothed(input, target, weight, red, ignore_index, label_smoothing)


def _class_dim(input):
    if input.ndim == 0:
        raise RuntimeError("cross_entropy: input must have at least one dimension")
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
    if target.shape != input.shape:
        raise RuntimeError(f"Expected target size {list(input.shape)}, got {list(target.shape)}")
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
    class_dim = _class_dim(input)
    n_classes = input.shape[class_dim]
    logp = input.log_softmax(class_dim)
    nll = _C._nll_loss(logp, target, weight, red, ignore_index)
    keep_np = target.numpy() != ignore_index
    keep = _C.from_numpy(keep_np.astype(logp.dtype.numpy_dtype))
    if weight is not None:
        smooth = -(logp * _class_weight_view(weight, input, class_dim)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    smooth = smooth * keep
    if red == 1:
        if weight is not None:
            denom = float(weight.detach().numpy()[target.numpy()[keep_np]].sum())
        else:
            denom = float(keep_np.sum())
        ret = smooth.sum() / denom
    elif red == 2:
        ret = smooth.sum()
    else:
        ret = smooth
    return (1 - label_smoothing) * nll + ret * (label_smoothing / n_classes)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    red = _reduction_enum(reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size "
                         f"({input.shape}) is deprecated. Please ensure they have the same size.")
    return _C._binary_cross_entropy(input, target, weight, red)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    red = _reduction_enum(reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
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
    return _activation(input, inplace, lambda x: _C._elu(x, alpha, 1.0, 1.0))


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants."""
    fname = "selu_" if inplace else "selu"
    _floating(input, "elu_cpu", fname)
    return _activation(input, inplace, lambda x: _C._elu(x, _SELU_ALPHA, _SELU_SCALE, 1.0))


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    fname = "celu_" if inplace else "celu"
    _floating(input, "elu_cpu", fname)
    _number(alpha, fname, "alpha", 2)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _activation(input, inplace, lambda x: _C._celu(x, alpha))


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


# ---- convolutions and sliding blocks ---------------------------------------------------
# One C node each (ConvolutionBackward0, Im2ColBackward0, Col2ImBackward0);
# here only the arguments are put into one int per spatial dim.

__all__ += ["conv1d", "conv2d", "unfold", "fold"]


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


def _conv(fn, nspatial, input, weight, bias, stride, padding, dilation, groups):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not isinstance(weight, Tensor):
        raise TypeError(f"{fn}(): argument 'weight' (position 2) must be Tensor, not {type(weight).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{fn}(): argument 'bias' (position 3) must be Tensor, not {type(bias).__name__}")
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
