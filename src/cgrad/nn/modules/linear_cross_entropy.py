"""LinearCrossEntropyLoss and its options (nn.functional.linear_cross_entropy as a module)."""
import dataclasses
import math
import re

from cgrad import _C
from cgrad.nn.modules.linear import Linear
from cgrad.nn.modules.module import Module

__all__ = ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]

_ACC_POLICIES = ("accurate", "balanced", "compact", "auto")


@dataclasses.dataclass(frozen=True)
class LinearCrossEntropyOptions:
    """PyTorch's options for a chunked linear_cross_entropy, checked as PyTorch checks them. cgrad computes
    the reference path whatever they say (same values; the logits are held whole)."""
    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: object = None

    def __post_init__(self):
        size = self.batch_chunk_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
            raise ValueError(f"batch_chunk_size must be positive int or None, got {size}")
        method = self.chunking_method
        if method not in (None, "auto", "aspect_ratio") and not re.fullmatch(r"aspect_ratio:[1-9][0-9]*", method):
            raise ValueError(f"invalid chunking_method: {method!r}")
        if self.acc_policy not in _ACC_POLICIES:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.acc_dtype in (_C.float16, _C.bfloat16):
            _C._supported_dtype(self.acc_dtype)
        if self.acc_dtype not in (None, _C.float32, _C.float64):
            raise ValueError(f"acc_dtype must be one of {{None, cgrad.float16, cgrad.bfloat16, cgrad.float32, "
                             f"cgrad.float64}}, got {self.acc_dtype}. Pass acc_dtype=None to let the op pick "
                             f"automatically.")


class LinearCrossEntropyLoss(Module):
    """cross_entropy of Linear(in_features, num_classes * prod(out_features)) logits, seen as
    (N, num_classes, *out_features)."""

    def __init__(self, in_features, num_classes, *, out_features=(), bias=False, device=None, dtype=None,
                 reduction="mean", weight=None, ignore_index=None, label_smoothing=0.0, options=None):
        super().__init__()
        out_features = tuple(out_features)
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError(f"expected weight shape to be ({num_classes},), got "
                               f"({', '.join(str(n) for n in weight.shape)}{',' if weight.dim() == 1 else ''})")
        self.linear = Linear(in_features, num_classes * math.prod(out_features), bias=bias, device=device,
                             dtype=dtype)
        self.register_buffer("weight", weight)
        self.reduction = reduction
        self.num_classes = num_classes
        self.out_features = out_features
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.options = options

    def forward(self, input, target):
        from cgrad.nn._linear_cross_entropy import linear_cross_entropy
        classes = (self.num_classes,) + self.out_features
        weight = self.linear.weight.reshape(classes + (self.linear.in_features,))
        bias = None if self.linear.bias is None else self.linear.bias.reshape(classes)
        return linear_cross_entropy(input, weight, target, linear_bias=bias, weight=self.weight,
                                    reduction=self.reduction, ignore_index=self.ignore_index,
                                    label_smoothing=self.label_smoothing, options=self.options)

    def extra_repr(self):
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias is not None}, reduction={self.reduction}, "
                f"ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}, options={self.options}")
