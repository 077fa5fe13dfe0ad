"""Window functions for signal processing (torch.hann_window...), computed as PyTorch's kernels
compute them: from arange in the window's dtype, with the same operations in the same order."""
import math

from cgrad import _C, _dtypes

__all__ = ["bartlett_window", "blackman_window", "hamming_window", "hann_window", "kaiser_window"]


def _start(name, window_length, dtype):
    """The checked dtype and, for a window of 0 or 1 points, the window itself."""
    if isinstance(window_length, bool) or not isinstance(window_length, int):
        raise TypeError(f"{name}(): argument 'window_length' (position 1) must be int, not "
                        f"{type(window_length).__name__}")
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={window_length}")
    dtype = _C.get_default_dtype() if dtype is None else dtype
    if not (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError(f"{name} expects floating point dtypes, got: TensorOptions("
                           f"dtype={_dtypes._cpp_name(dtype)}, device=cpu, layout=Strided (default), "
                           "requires_grad=false (default), pinned_memory=false, memory_format=(nullopt))")
    if window_length == 0:
        return dtype, _C.empty(0, dtype=dtype)
    if window_length == 1:
        return dtype, _C.ones(1, dtype=dtype)
    return dtype, None


def _finish(window, periodic, requires_grad):
    if periodic:
        window = window.narrow(0, 0, window.shape[0] - 1)
    return window.requires_grad_(requires_grad) if requires_grad else window


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None, device=None,
                   requires_grad=False):
    """alpha - beta * cos(2 pi n / (N - 1)); periodic: one point more, the last dropped."""
    _C._factory_options(layout, device)
    dtype, small = _start("hamming_window", window_length, dtype)
    if small is not None:
        return small.requires_grad_(requires_grad)
    n = window_length + 1 if periodic else window_length
    window = _C.arange(n, dtype=dtype).mul_(math.pi * 2.0 / (n - 1)).cos_().mul_(-beta).add_(alpha)
    return _finish(window, periodic, requires_grad)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The Hamming window with alpha = beta = 0.5, as PyTorch makes it."""
    _C._factory_options(layout, device)
    _start("hann_window", window_length, dtype)
    return hamming_window(window_length, periodic, 0.5, 0.5, dtype=dtype, requires_grad=requires_grad)


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    _C._factory_options(layout, device)
    dtype, small = _start("blackman_window", window_length, dtype)
    if small is not None:
        return small.requires_grad_(requires_grad)
    n = window_length + 1 if periodic else window_length
    window = _C.arange(n, dtype=dtype).mul_(math.pi / (n - 1))
    window = window.mul(4).cos_().mul_(0.08) - window.mul(2).cos_().mul_(0.5) + 0.42
    return _finish(window, periodic, requires_grad)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The triangle 1 - |2n / (N - 1) - 1|: rising as 2n / (N - 1), falling as 2 - that."""
    _C._factory_options(layout, device)
    dtype, small = _start("bartlett_window", window_length, dtype)
    if small is not None:
        return small.requires_grad_(requires_grad)
    n = window_length + 1 if periodic else window_length
    window = _C.arange(n, dtype=dtype).mul_(2.0 / (n - 1))
    first_half = ((n - 1) >> 1) + 1
    window.narrow(0, first_half, n - first_half).mul_(-1).add_(2)
    return _finish(window, periodic, requires_grad)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  requires_grad=False):
    """I0(beta sqrt(1 - ((n - a) / a)^2)) / I0(beta), a = (N - 1) / 2."""
    _C._factory_options(layout, device)
    dtype, small = _start("kaiser_window", window_length, dtype)
    if small is not None:
        return small.requires_grad_(requires_grad)
    n = window_length + 1 if periodic else window_length
    a = (n - 1) / 2.0
    x = (_C.arange(n, dtype=dtype) - a) / a
    window = (1 - x.pow(2.0)).abs().sqrt().mul(beta).i0() / _C.full((), beta, dtype=dtype).i0()
    return _finish(window, periodic, requires_grad)
