"""Padding layers: constant (and zero), reflection, replication and circular, over 1, 2 or 3 trailing dims."""
from cgrad.nn import functional as F
from cgrad.nn.modules.module import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d"]


class _PadNd(Module):
    """padding: an int for every side, or (left, right[, top, bottom[, front, back]])."""

    mode = "constant"
    n = 1  # trailing dims padded

    def __init__(self, padding):
        super().__init__()
        if isinstance(padding, int):
            padding = (padding,) * (2 * self.n)
        self.padding = tuple(padding)  # as PyTorch, a tuple of another length is left for F.pad to refuse

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class _CircularPadNd(_PadNd):
    mode = "circular"

    def forward(self, input):
        if input.dim() not in (self.n + 1, self.n + 2):
            raise ValueError(f"expected {self.n + 1}D or {self.n + 2}D input (got {input.dim()}D input)")
        return super().forward(input)


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with a constant value."""
    n = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dims with a constant value."""
    n = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dims with a constant value."""
    n = 3


class ZeroPad1d(_ZeroPadNd):
    """Pads the last dim with zeros."""
    n = 1


class ZeroPad2d(_ZeroPadNd):
    """Pads the last two dims with zeros."""
    n = 2


class ZeroPad3d(_ZeroPadNd):
    """Pads the last three dims with zeros."""
    n = 3


class ReflectionPad1d(_PadNd):
    """Pads the last dim with its values mirrored at the edges (the edge itself not repeated)."""
    n, mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Pads the last two dims with their values mirrored at the edges."""
    n, mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Pads the last three dims with their values mirrored at the edges."""
    n, mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Pads the last dim with copies of its edge values."""
    n, mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Pads the last two dims with copies of their edge values."""
    n, mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Pads the last three dims with copies of their edge values."""
    n, mode = 3, "replicate"


class CircularPad1d(_CircularPadNd):
    """Pads the last dim with the values of its other end."""
    n = 1


class CircularPad2d(_CircularPadNd):
    """Pads the last two dims with the values of their other ends."""
    n = 2


class CircularPad3d(_CircularPadNd):
    """Pads the last three dims with the values of their other ends."""
    n = 3
