"""make_tensor: random test tensors drawn from cgrad's generator, as torch.testing.make_tensor."""
import collections.abc
import math
import warnings

import cgrad

_BOOL = cgrad._C.bool_  # cgrad.bool is bound after this module is imported

_DEFAULT_RANGES = {_BOOL: (0, 2), cgrad.int64: (-9, 10), cgrad.float32: (-9, 9), cgrad.float64: (-9, 9)}


def _representable(dtype):
    if dtype == _BOOL:
        return 0, 2
    info = cgrad.iinfo(dtype) if dtype == cgrad.int64 else cgrad.finfo(dtype)
    return info.min, info.max


def _value_range(dtype, low, high):
    """Fills in the defaults, checks the interval and clamps it to what `dtype` can hold."""
    default_low, default_high = _DEFAULT_RANGES[dtype]
    low = default_low if low is None else low
    high = default_high if high is None else high
    if math.isnan(low) or math.isnan(high):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    lowest, highest = _representable(dtype)
    if low >= highest or high <= lowest:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                         f"but {dtype} only supports [{lowest}, {highest})")
    low, high = max(low, lowest), min(high, highest)
    if low > high or (low == high and dtype in (_BOOL, cgrad.int64)):
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    return low, high


def _random_values(shape, dtype, low, high):
    if dtype in (_BOOL, cgrad.int64):
        # integers are drawn from [ceil(low), ceil(high))
        low, high = math.ceil(low), math.ceil(high)
        if low >= high:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
        return cgrad.randint(low, high, shape, dtype=cgrad.int64).to(dtype)
    if low == high:
        warnings.warn("Passing `low==high` to `cgrad.testing.make_tensor` for floating or complex types is "
                      "deprecated since 2.1 and will be removed in 2.3. Use `cgrad.full(...)` instead.",
                      FutureWarning, stacklevel=3)
        return cgrad.full(shape, low, dtype=dtype)
    # a weighted mean of the bounds stays finite even when high - low overflows
    u = cgrad.rand(shape, dtype=cgrad.float64)
    return (float(low) * (1 - u) + float(high) * u).to(dtype)


def _noncontiguous(values):
    # every other element of a tensor twice as long in its last dim
    shape = tuple(values.shape)
    base = cgrad.empty(shape[:-1] + (2 * shape[-1],), dtype=values.dtype)
    view = base[..., ::2]
    view.copy_(values)
    return view


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False, memory_format=None):
    """A tensor of `shape` filled with values drawn uniformly from [low, high), as
    torch.testing.make_tensor (defaults: [0, 2) for bool, [-9, 10) for int64, [-9, 9) for floats).

    Bounds beyond the dtype's finite range are clamped to it. `exclude_zero` replaces zeros
    with the dtype's smallest positive normal number (one for integers and booleans);
    `noncontiguous` returns a strided view when the tensor has two or more elements;
    `memory_format` lays the tensor out in that format. cgrad tensors live on the CPU: any
    other device raises NotImplementedError.
    """
    cgrad._C._supported_dtype(dtype)  # a dtype cgrad has no tensors of: NotImplementedError naming it
    if dtype not in _DEFAULT_RANGES:
        raise TypeError(f"The requested dtype '{dtype}' is not supported by cgrad.testing.make_tensor(). "
                        "It supports cgrad.bool, cgrad.int64, cgrad.float32 and cgrad.float64.")
    if str(device) not in ("cpu", "cpu:0"):
        raise NotImplementedError(f"cgrad.testing.make_tensor: device {str(device)!r} is not supported; "
                                  "cgrad tensors live on the CPU")
    if requires_grad and dtype in (_BOOL, cgrad.int64):
        raise ValueError("`requires_grad=True` is not supported for boolean and integral dtypes, "
                         f"but got dtype={dtype}")
    if noncontiguous and memory_format is not None:
        raise ValueError("The parameters `noncontiguous` and `memory_format` are mutually exclusive, "
                         f"but got noncontiguous={noncontiguous} and memory_format={memory_format}")
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    low, high = _value_range(dtype, low, high)
    with cgrad.no_grad():
        values = _random_values(shape, dtype, low, high)
        if exclude_zero:
            tiny = 1 if dtype in (_BOOL, cgrad.int64) else cgrad.finfo(dtype).tiny
            values = cgrad.where(values == 0, cgrad.full((), tiny, dtype=dtype), values)
        if noncontiguous and values.numel() > 1:
            values = _noncontiguous(values)
        if memory_format is not None:
            values = values.clone(memory_format=memory_format)
    return values.requires_grad_(requires_grad) if requires_grad else values
