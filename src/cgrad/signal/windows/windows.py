"""Window functions of M points (torch.signal.windows), each from its formula over the points n = 0 .. M - 1.

sym=True gives the symmetric window, for filter design; sym=False the periodic one, for spectral analysis:
the symmetric window of M + 1 points without its last, which is what using M in place of M - 1 in the formula
gives. With requires_grad the points are a leaf that requires grad and the window is computed from them.
"""
import collections.abc
import math

from cgrad import _C
from cgrad._creation import tensor

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
           "hamming", "hann", "kaiser", "nuttall"]


def _check(name, M, dtype):
    """The checked dtype (the default when None)."""
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    dtype = _C.get_default_dtype() if dtype is None else dtype
    if dtype not in (_C.float32, _C.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dtype}")
    return dtype


def _points(M, dtype, requires_grad, start=0.0, step=1.0):
    """start, start + step, ... (M of them), as a leaf with requires_grad; linspace's values, as PyTorch's."""
    if not isinstance(M, int):
        raise TypeError(f"linspace(): argument 'steps' must be int, not {type(M).__name__}")
    return _C.linspace(start, start + (M - 1) * step, M, dtype=dtype, requires_grad=requires_grad)


def _trivial(M, dtype, requires_grad):
    """The window of 0 or 1 points (None for longer ones)."""
    if M == 0:
        return _C.empty(0, dtype=dtype, requires_grad=requires_grad)
    if M == 1:
        return _C.ones(1, dtype=dtype, requires_grad=requires_grad)
    return None


def bartlett(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """The triangle w_n = 1 - |2n / (M - 1) - 1|."""
    dtype = _check("bartlett", M, dtype)
    small = _trivial(M, dtype, requires_grad)
    if small is not None:
        return small
    n = M - 1 if sym else M
    k = _points(M, dtype, requires_grad, -1.0, 2.0 / n)
    return 1 - k.abs()


def general_cosine(M, *, a, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """w_n = sum_i (-1)^i a_i cos(2 pi i n / (M - 1)): one row per term, summed."""
    if not a:
        raise ValueError("Coefficients cannot be empty")
    if not isinstance(a, collections.abc.Iterable):
        raise TypeError("Coefficients must be a list/tuple")
    dtype = _check("general_cosine", M, dtype)
    small = _trivial(M, dtype, requires_grad)
    if small is not None:
        return small
    n = M - 1 if sym else M
    k = _points(M, dtype, requires_grad, 0.0, 2 * math.pi / n)
    signed = tensor([(-1) ** i * c for i, c in enumerate(a)], dtype=dtype)
    i = _C.arange(signed.numel(), dtype=dtype)
    return k.unsqueeze(0).mul(i.unsqueeze(1)).cos().mul(signed.unsqueeze(1)).sum(0)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """The general cosine window with a = (alpha, 1 - alpha)."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, requires_grad=requires_grad)


def hamming(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return general_hamming(M, sym=sym, dtype=dtype, requires_grad=requires_grad)


def hann(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, requires_grad=requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """The general cosine window with a = (0.42, 0.5, 0.08)."""
    dtype = _check("blackman", M, dtype)
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, requires_grad=requires_grad)


def nuttall(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """The minimum 4-term Blackman-Harris window of Nuttall (1981)."""
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym, dtype=dtype,
                          requires_grad=requires_grad)


def cosine(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """w_n = sin(pi (n + 1/2) / M) (M + 1 in place of M for the periodic window)."""
    dtype = _check("cosine", M, dtype)
    if M == 0:
        return _C.empty(0, dtype=dtype, requires_grad=requires_grad)
    step = math.pi / (M + 1 if not sym and M > 1 else M)
    return _points(M, dtype, requires_grad, step / 2, step).sin()


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """w_n = exp(-|n - center| / tau), center (M - 1) / 2 (M / 2 for the periodic window)."""
    dtype = _check("exponential", M, dtype)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if M == 0:
        return _C.empty(0, dtype=dtype, requires_grad=requires_grad)
    if center is None:
        center = (M if not sym and M > 1 else M - 1) / 2.0
    return _points(M, dtype, requires_grad, -center / tau, 1.0 / tau).abs().neg().exp()


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """w_n = exp(-((n - c) / std)^2 / 2), c (M - 1) / 2 (M / 2 for the periodic window)."""
    dtype = _check("gaussian", M, dtype)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    if M == 0:
        return _C.empty(0, dtype=dtype, requires_grad=requires_grad)
    c = (M if not sym and M > 1 else M - 1) / 2.0
    scale = 1.0 / (std * math.sqrt(2))
    return _points(M, dtype, requires_grad, -c * scale, scale).pow(2).neg().exp()


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """w_n = I0(beta sqrt(1 - ((n - N/2) / (N/2))^2)) / I0(beta), N = M - 1 (M for the periodic window)."""
    dtype = _check("kaiser", M, dtype)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    small = _trivial(M, dtype, requires_grad)
    if small is not None:
        return small
    half = (M - 1 if sym else M) / 2.0
    k = _points(M, dtype, requires_grad, -1.0, 1.0 / half)
    return (1 - k.pow(2)).clamp(min=0).sqrt().mul(beta).i0() / _C.full((), beta, dtype=dtype).i0()
