"""PyTorch's older modules: the deprecated NLLLoss2d and Container, and CrossMapLRN2d (Lua Torch's
cross-channel local response normalization, with its hand-written backward)."""
import warnings

from cgrad.nn._functions import CrossMapLRN2d as _cross_map_lrn2d
from cgrad.nn.modules.loss import NLLLoss
from cgrad.nn.modules.module import Module

__all__ = ["Container", "CrossMapLRN2d", "NLLLoss2d"]

_NLLLOSS2D_DEPRECATED = "`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead as a drop-in replacement."
_CONTAINER_DEPRECATED = ("`nn.Container` is deprecated. All of its functionality is now implemented in `nn.Module`. "
                         "Subclass that instead.")


class NLLLoss2d(NLLLoss):
    """Deprecated: NLLLoss under its old name (NLLLoss takes inputs with spatial dims itself)."""

    def __init_subclass__(cls, **kwargs):
        warnings.warn(_NLLLOSS2D_DEPRECATED, FutureWarning, stacklevel=2)
        super().__init_subclass__(**kwargs)

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        warnings.warn(_NLLLOSS2D_DEPRECATED, FutureWarning, stacklevel=2)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)


class Container(Module):
    """Deprecated: a Module holding the given modules by name."""

    def __init_subclass__(cls, **kwargs):
        warnings.warn(_CONTAINER_DEPRECATED, FutureWarning, stacklevel=2)
        super().__init_subclass__(**kwargs)

    def __init__(self, **kwargs):
        warnings.warn(_CONTAINER_DEPRECATED, FutureWarning, stacklevel=2)
        super().__init__()
        for key, value in kwargs.items():
            self.add_module(key, value)


class CrossMapLRN2d(Module):
    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return _cross_map_lrn2d.apply(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
