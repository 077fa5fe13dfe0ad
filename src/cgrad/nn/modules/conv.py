"""Convolution layers: Conv1d, Conv2d, Conv3d and their transposed forms."""
import math

from cgrad import _C
from cgrad._creation import tensor as _tensor
from cgrad.nn import functional as F
from cgrad.nn import init
from cgrad.nn.modules.linear import _empty
from cgrad.nn.modules.module import Module
from cgrad.nn.parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_PADDING_MODES = ("zeros", "circular", "reflect", "replicate")


def _ntuple(value, n):
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,) * n


def _edge_index(size, before, after, mode):
    """The positions of a dim of `size` that padding it by (before, after) in
    `mode` reads, as an int64 tensor: index_select with it is the padded dim."""
    if mode == "reflect" and (before >= size or after >= size):
        raise RuntimeError(f"Padding size should be less than the corresponding input dimension, but got: "
                           f"padding ({before}, {after}) at dimension of size {size}")
    if mode == "circular" and (before > size or after > size):
        raise RuntimeError("Padding value causes wrapping around more than once.")
    index = []
    for i in range(-before, size + after):
        if mode == "circular":
            index.append(i % size)
        elif mode == "replicate":
            index.append(min(max(i, 0), size - 1))
        else:  # reflect, the edge itself not repeated
            index.append(-i if i < 0 else 2 * (size - 1) - i if i >= size else i)
    return _tensor(index, dtype=_C.int64)


class _ConvNd(Module):
    """What the convolutions share: arguments, parameters, init and repr."""

    _n = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups, bias,
                    padding_mode, device, dtype)

    def _setup(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed, output_padding,
               groups, bias, padding_mode, device, dtype):
        n = self._n
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        stride, dilation = _ntuple(stride, n), _ntuple(dilation, n)
        kernel_size = _ntuple(kernel_size, n)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'same', 'valid'}}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, n)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {{'zeros', 'circular', 'reflect', 'replicate'}}, but got "
                             f"padding_mode={padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, n)
        self.groups = groups
        self.padding_mode = padding_mode
        # (left, right) per spatial dim, last dim first, as F.pad takes them
        if padding == "same":
            pads = []
            for d, k in zip(reversed(dilation), reversed(kernel_size)):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            self._reversed_padding_repeated_twice = pads
        else:
            pads = (0,) * n if padding == "valid" else padding
            self._reversed_padding_repeated_twice = tuple(p for p in reversed(pads) for _ in range(2))
        # a transposed convolution's weight is that of the convolution it is the input gradient of
        rows, per_group = (in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(_empty(rows, per_group, *kernel_size, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(_empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # kaiming_uniform_ with a = sqrt(5) is uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _padded(self, input):
        """input padded as padding_mode says, one spatial dim at a time."""
        pads = self._reversed_padding_repeated_twice
        for k in range(self._n):
            dim = input.dim() - 1 - k
            before, after = pads[2 * k], pads[2 * k + 1]
            if before or after:
                input = input.index_select(dim, _edge_index(input.shape[dim], before, after, self.padding_mode))
        return input

    def _conv_forward(self, input, weight, bias):
        conv = (F.conv1d, F.conv2d, F.conv3d)[self._n - 1]
        if self.padding_mode != "zeros":
            return conv(self._padded(input), weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """A 1-d convolution over (N, C, L) or (C, L) input; weight (out_channels, in_channels / groups, k)."""

    _n = 1


class Conv2d(_ConvNd):
    """A 2-d convolution over (N, C, H, W) or (C, H, W) input; weight (out_channels, in_channels / groups, kh, kw)."""

    _n = 2


class _ConvTransposeNd(_ConvNd):
    """What ConvTranspose1d and ConvTranspose2d share: only zero padding, and output_size in forward."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        Module.__init__(self)
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation, True, output_padding, groups,
                    bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size, stride, padding, kernel_size, num_spatial_dims, dilation=None):
        """The output padding that makes the output output_size (PyTorch's rule), else the module's own."""
        if output_size is None:
            return list(self.output_padding)
        has_batch_dim = input.dim() == num_spatial_dims + 2
        num_non_spatial_dims = 2 if has_batch_dim else 1
        if len(output_size) == num_non_spatial_dims + num_spatial_dims:
            output_size = output_size[num_non_spatial_dims:]
        if len(output_size) != num_spatial_dims:
            raise ValueError(f"ConvTranspose{num_spatial_dims}D: for {input.dim()}D input, output_size must have "
                             f"{num_spatial_dims} or {num_non_spatial_dims + num_spatial_dims} elements (got "
                             f"{len(output_size)})")
        min_sizes, max_sizes = [], []
        for d in range(num_spatial_dims):
            dil = dilation[d] if dilation is not None else 1
            min_sizes.append((input.size(d + num_non_spatial_dims) - 1) * stride[d] - 2 * padding[d] +
                             dil * (kernel_size[d] - 1) + 1)
            max_sizes.append(min_sizes[d] + stride[d] - 1)
        for size, lo, hi in zip(output_size, min_sizes, max_sizes):
            if size < lo or size > hi:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes range from {min_sizes} "
                                 f"to {max_sizes} (for an input of {input.size()[2:]})")
        return [output_size[d] - min_sizes[d] for d in range(num_spatial_dims)]

    def forward(self, input, output_size=None):
        if self.padding_mode != "zeros":
            raise ValueError(f"Only `zeros` padding mode is supported for {type(self).__name__}")
        n = self._n
        output_padding = self._output_padding(input, output_size, self.stride, self.padding, self.kernel_size, n,
                                              self.dilation)
        conv = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[n - 1]
        return conv(input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                    self.dilation)


class Conv3d(_ConvNd):
    """A 3-d convolution over (N, C, D, H, W) or (C, D, H, W) input; weight (out_channels, in_channels / groups,
    kd, kh, kw)."""

    _n = 3


class ConvTranspose1d(_ConvTransposeNd):
    """A 1-d transposed convolution over (N, C, L) or (C, L) input; weight (in_channels, out_channels / groups, k)."""

    _n = 1


class ConvTranspose2d(_ConvTransposeNd):
    """A 2-d transposed convolution over (N, C, H, W) or (C, H, W) input; weight (in_channels, out_channels /
    groups, kh, kw)."""

    _n = 2


class ConvTranspose3d(_ConvTransposeNd):
    """A 3-d transposed convolution over (N, C, D, H, W) or (C, D, H, W) input; weight (in_channels, out_channels /
    groups, kd, kh, kw)."""

    _n = 3
