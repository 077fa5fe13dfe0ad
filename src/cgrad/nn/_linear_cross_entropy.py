"""linear_cross_entropy: cross_entropy of a linear map's logits, as PyTorch's reference path computes it.

PyTorch's `options` select a chunked path that never holds the whole (N, C) logits; cgrad accepts and checks
the options, and always computes the reference path (the same values and gradients, more memory).
"""
import math

from cgrad.nn.modules.linear_cross_entropy import LinearCrossEntropyOptions

_REDUCTIONS = ("none", "mean", "sum")


def _shape(t):
    return "(" + ", ".join(str(n) for n in t.shape) + ("," if t.dim() == 1 else "") + ")"


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...); linear_weight (C, d_1.., in)
    gives logits (N, C, d_1..) for a K-dimensional loss. ignore_index None means -100."""
    from cgrad.nn.functional import cross_entropy
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if options is not None and not isinstance(options, LinearCrossEntropyOptions):
        raise AttributeError(f"'{type(options).__name__}' object has no attribute '_adjust'")
    in_features = input.shape[-1] if input.dim() else 1
    if linear_weight.shape[-1] != in_features:
        raise RuntimeError(f"expected equal input and linear_weight last dimensions (in_features), got "
                           f"{in_features} and {linear_weight.shape[-1]}, respectively")
    classes = tuple(linear_weight.shape[:-1])
    if len(classes) > 1 and input.dim() < 2:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} requires "
                           f"batched input, (N, {in_features}), got unbatched input with shape {_shape(input)}")
    if linear_bias is not None and tuple(linear_bias.shape) != classes:
        raise RuntimeError(f"expected linear_bias shape {classes}, got {_shape(linear_bias)}")
    if weight is not None and tuple(weight.shape) != classes[:1]:
        raise RuntimeError(f"expected weight shape to be ({classes[0]},), got {_shape(weight)}")
    flat = linear_weight.reshape(math.prod(classes), in_features)
    logits = input.matmul(flat.T)
    if linear_bias is not None:
        logits = logits + linear_bias.reshape(-1)
    if len(classes) > 1:
        logits = logits.reshape((input.shape[0],) + classes)
    return cross_entropy(logits, target, weight=weight, reduction=reduction,
                         ignore_index=-100 if ignore_index is None else ignore_index, label_smoothing=label_smoothing)
