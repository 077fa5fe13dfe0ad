"""cgrad.fft: PyTorch's torch.fft on real tensors.

The sample frequencies (fftfreq, rfftfreq) and the shifts that move frequency 0 to the centre and back
(fftshift, ifftshift, rolls with one RollBackward0 node) work as PyTorch's. Every transform gives or reads
complex tensors, which cgrad does not have: each exists with PyTorch's signature and raises
NotImplementedError (docs/ops.md lists them).
"""
import operator
import warnings

import numpy as np

from cgrad import _C
from cgrad._creation import tensor as _tensor
from cgrad._missing import no_complex

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
           "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_NAMES = {_C.float32: "Float", _C.float64: "Double", _C.int64: "Long", _C.bool_: "Bool"}


def _int(value, fname, arg, pos):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if not (isinstance(value, _C.Tensor) and value.dim() == 0 and not value.is_floating_point()):
            raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be int, not {type(value).__name__}")
    return operator.index(value) if not isinstance(value, _C.Tensor) else int(value.item())


def _float(value, fname, arg, pos):
    if isinstance(value, _C.Tensor) and value.numel() == 1:
        return float(value.item())
    if isinstance(value, (str, bytes, complex)) or not hasattr(value, "__float__"):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be float, not {type(value).__name__}")
    return float(value)


def _frequencies(name, values, n, d, out, dtype, layout, device, requires_grad):
    """values (a list of ints) times 1 / (n d), in dtype (or out's), written into out when given."""
    if dtype is None:
        dtype = out.dtype if out is not None else _C.get_default_dtype()
    if dtype not in (_C.float32, _C.float64):
        raise RuntimeError(f"{name} requires a floating point or complex dtype")
    if out is not None and out.dtype != dtype:
        raise RuntimeError(f"dtype {_NAMES[dtype]} does not match dtype of out parameter ({_NAMES[out.dtype]})")
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = float(np.float64(1.0) / np.float64(n * d))  # d = 0 gives inf (and 0 * inf = nan), as PyTorch
    _C.empty(0, dtype=dtype, layout=layout, device=device)  # PyTorch's checks of the factory options
    with _C.no_grad():
        result = _tensor(values, dtype=dtype) * scale
    if out is None:
        return result.requires_grad_(requires_grad) if requires_grad else result
    if out.numel() != result.numel():
        if out.numel() != 0:
            warnings.warn(f"The number of elements in the out tensor of shape {list(out.shape)} is {out.numel()} "
                          f"which does not match the computed number of elements {result.numel()}. Note that this "
                          "may occur as a result of rounding error. The out tensor will be resized to a tensor of "
                          f"shape ({result.numel()},).", UserWarning, stacklevel=3)
        out.resize_(result.numel())
    with _C.no_grad():
        out.copy_(result)
    return out


def _check_n(n):
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")


def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of a signal of n samples d apart: [0, 1, ..., (n-1)//2, -(n//2), ..., -1] / (n d)."""
    n, d = _int(n, "fft_fftfreq", "n", 1), _float(d, "fft_fftfreq", "d", 2)
    _check_n(n)
    values = [k if k < (n + 1) // 2 else k - n for k in range(n)]
    return _frequencies("fftfreq", values, n, d, out, dtype, layout, device, requires_grad)


def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The non-negative sample frequencies of rfft: [0, 1, ..., n//2] / (n d)."""
    n, d = _int(n, "fft_rfftfreq", "n", 1), _float(d, "fft_rfftfreq", "d", 2)
    size = (abs(n) // 2) * (1 if n >= 0 else -1) + 1  # n / 2 rounded toward 0, as C divides
    _check_n(size)
    return _frequencies("rfftfreq", list(range(size)), n, d, out, dtype, layout, device, requires_grad)


def _shift(name, input, dim, inverse):
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if dim is None:
        dims = tuple(range(input.dim()))
    elif isinstance(dim, (tuple, list)) or (isinstance(dim, int) and not isinstance(dim, bool)):
        dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
        if not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
            raise TypeError(f"{name}(): argument 'dim' must be tuple of ints, not {type(dim).__name__}")
    else:
        raise TypeError(f"{name}(): argument 'dim' must be tuple of ints, not {type(dim).__name__}")
    if not dims:
        raise RuntimeError("`shifts` required")
    # the size of each dim, which also checks it (IndexError as PyTorch's)
    shifts = tuple((input.size(d) + 1) // 2 if inverse else input.size(d) // 2 for d in dims)
    return input.roll(shifts, dims)


def fftshift(input, dim=None):
    """input rolled by half of each dim of dim (default: all), so that frequency 0 comes to the centre."""
    return _shift("fft_fftshift", input, dim, False)


def ifftshift(input, dim=None):
    """The inverse of fftshift: rolled by the other half of each dim."""
    return _shift("fft_ifftshift", input, dim, True)


def _transform(name, size_arg, dim_default):
    def transform(input, *args, **kwargs):
        raise no_complex(f"cgrad.fft.{name}")
    transform.__name__ = transform.__qualname__ = name
    transform.__doc__ = (f"{name}(input, {size_arg}=None, dim={dim_default}, norm=None, *, out=None): PyTorch's "
                         "transform; its input or result is complex, a dtype cgrad lacks, so it raises "
                         "NotImplementedError.")
    return transform


for _name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"):
    globals()[_name] = _transform(_name, "n", -1)
for _name in ("fft2", "ifft2", "rfft2", "irfft2", "hfft2", "ihfft2"):
    globals()[_name] = _transform(_name, "s", (-2, -1))
for _name in ("fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn"):
    globals()[_name] = _transform(_name, "s", None)
del _name

# transforms that raise, for docs/ops.md
TRANSFORMS = ("fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
              "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn")
