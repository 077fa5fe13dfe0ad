"""make_tensor: a random tensor of a shape and dtype, as PyTorch's test helper makes it."""
import collections.abc
import math
import warnings

import cgrad

_FLOATING_TYPES = (cgrad.float32, cgrad.float64)
_BOOLEAN_OR_INTEGRAL_TYPES = (cgrad._C.bool_, cgrad.int64)


def _modify_low_high(low, high, dtype, *, lowest_inclusive, highest_exclusive, default_low, default_high):
    """The [low, high) to draw from: defaults filled in, checked, clamped to the dtype's range."""
    low = low if low is not None else default_low
    high = high if high is not None else default_high
    if any(isinstance(value, float) and math.isnan(value) for value in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got {low=} and {high=}")
    elif low == high and dtype in _FLOATING_TYPES:
        warnings.warn("Passing `low==high` to `cgrad.testing.make_tensor` for floating or complex types is "
                      "deprecated since 2.1 and will be removed in 2.3. Use `cgrad.full(...)` instead.",
                      FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest_inclusive or low >= highest_exclusive:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                         f"but {dtype} only supports [{lowest_inclusive}, {highest_exclusive})")
    low = min(max(low, lowest_inclusive), highest_exclusive)
    high = min(max(high, lowest_inclusive), highest_exclusive)
    if dtype in _BOOLEAN_OR_INTEGRAL_TYPES:
        # low is ceiled to stay inside the interval; high too, since randint's bound is exclusive
        return math.ceil(low), math.ceil(high)
    return low, high


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False, memory_format=None):
    """A tensor of shape and dtype with values drawn uniformly from [low, high) (defaults per dtype: bool [0, 2),
    int64 [-9, 10), floating [-9, 9))."""
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually exclusive, "
                         f"but got {noncontiguous=} and {memory_format=}")
    if memory_format is not None:
        raise NotImplementedError("make_tensor(memory_format=...): cgrad tensors have no memory formats "
                                  "(every tensor is strided, row-major when contiguous)")
    if device is not None and str(device) not in ("cpu", "cpu:0"):
        raise NotImplementedError(f"make_tensor(device={str(device)!r}): cgrad tensors live on the CPU only")
    if requires_grad and dtype in _BOOLEAN_OR_INTEGRAL_TYPES:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral dtypes, but got {dtype=}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:
        # twice the last dimension, so that the strided view sees values that differ from their neighbours'
        shape = (*shape[:-1], 2 * shape[-1])
    if dtype == cgrad._C.bool_:
        low, high = _modify_low_high(low, high, dtype, lowest_inclusive=0, highest_exclusive=2, default_low=0,
                                     default_high=2)
        result = cgrad.randint(low, high, shape, dtype=dtype)
    elif dtype == cgrad.int64:
        # randint cannot draw 2**63 - 1 (its bound is an int64 too), so int64's range ends there exclusively
        info = cgrad.iinfo(dtype)
        low, high = _modify_low_high(low, high, dtype, lowest_inclusive=info.min, highest_exclusive=info.max,
                                     default_low=-9, default_high=10)
        result = cgrad.randint(low, high, shape, dtype=dtype)
    elif dtype in _FLOATING_TYPES:
        info = cgrad.finfo(dtype)
        low, high = _modify_low_high(low, high, dtype, lowest_inclusive=info.min, highest_exclusive=info.max,
                                     default_low=-9, default_high=9)
        result = cgrad.empty(shape, dtype=dtype)
        # uniform_ needs high - low to be finite: draw from half the range and double
        if high - low >= info.max:
            result.uniform_(low / 2, high / 2).mul_(2)
        else:
            result.uniform_(low, high)
    else:
        raise TypeError(f"The requested dtype '{dtype}' is not supported by cgrad.testing.make_tensor().")
    if noncontiguous:
        result = result[..., 1::2]  # offset by one to also catch offset bugs
    if exclude_zero:
        result[result == 0] = 1 if dtype in _BOOLEAN_OR_INTEGRAL_TYPES else cgrad.finfo(dtype).tiny
    if dtype in _FLOATING_TYPES:
        result.requires_grad = requires_grad
    return result
