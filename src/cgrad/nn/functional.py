"""cgrad.nn.functional: PyTorch's functional layers, losses and activations.

The hot ones (linear, softmax, log_softmax, cross_entropy, nll_loss,
layer_norm, gelu, mse_loss, huber_loss, embedding, dropout) are single
fused C kernels with their own backward formulas; the rest are short
compositions of them, l1_loss as PyTorch composes it.
"""
import warnings

from cgrad import _C
from cgrad._C import Tensor

__all__ = [
    "linear", "bilinear", "relu", "gelu", "leaky_relu", "prelu", "tanh", "sigmoid", "softmax", "log_softmax",
    "mse_loss", "l1_loss", "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "dropout", "layer_norm", "one_hot", "embedding",
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
    return _apply_inplace(input, input.relu(), inplace)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _C._gelu(input, approximate == "tanh")


def leaky_relu(input, negative_slope=0.01, inplace=False):
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
