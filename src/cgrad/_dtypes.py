"""Questions about dtypes: finfo, iinfo, promote_types, result_type, can_cast.

cgrad's dtypes are totally ordered by promotion (bool < int64 < float32 <
float64), so promoting two of them is taking the larger one."""
import numpy as np

from cgrad import _C
from cgrad._C import Tensor, bool_, dtype, float32, float64, int64

__all__ = ["finfo", "iinfo", "promote_types", "result_type", "can_cast"]

_ORDER = {bool_: 0, int64: 1, float32: 2, float64: 3}


def _category(t):
    """0 for bool, 1 for integers, 2 for floating point: torch's type categories."""
    return min(_ORDER[t], 2)


def _dtype_arg(x, fname, arg, pos):
    if not isinstance(x, dtype):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be cgrad.dtype, not {type(x).__name__}")
    return x


def _promote(a, b):
    return a if _ORDER[a] >= _ORDER[b] else b


class finfo:
    """The numerical properties of a floating point dtype (the default dtype if none is given)."""

    def __init__(self, type=None):  # noqa: A002  (torch's argument name)
        t = _C.get_default_dtype() if type is None else _dtype_arg(type, "finfo", "type", 1)
        if not t.is_floating_point:
            raise TypeError("cgrad.finfo() requires a floating point input type. "
                            "Use cgrad.iinfo to handle 'cgrad.finfo'")
        info = np.finfo(t.numpy_dtype)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)
        self.dtype = t.name

    def __eq__(self, other):
        return isinstance(other, finfo) and self.dtype == other.dtype

    __hash__ = None  # unhashable, as torch's

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """The numerical properties of an integer dtype."""

    def __init__(self, type=None):  # noqa: A002
        if type is None:
            raise TypeError('iinfo() missing 1 required positional arguments: "type"')
        t = _dtype_arg(type, "iinfo", "type", 1)
        if t is bool_:
            raise TypeError("cgrad.bool is not supported by cgrad.iinfo")
        if t.is_floating_point:
            raise TypeError("cgrad.iinfo() requires an integer input type. Use cgrad.finfo to handle 'cgrad.iinfo'")
        info = np.iinfo(t.numpy_dtype)
        self.bits, self.max, self.min, self.dtype = int(info.bits), int(info.max), int(info.min), t.name

    def __eq__(self, other):
        return isinstance(other, iinfo) and self.dtype == other.dtype

    __hash__ = None

    def __repr__(self):
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"


def promote_types(type1, type2):
    """The smallest dtype both type1 and type2 cast to without losing their kind."""
    return _promote(_dtype_arg(type1, "promote_types", "type1", 1), _dtype_arg(type2, "promote_types", "type2", 2))


def can_cast(from_, to):
    """Whether casting from_ to `to` keeps the kind: no float to integer or bool, no integer to bool."""
    f, t = _dtype_arg(from_, "can_cast", "from_", 1), _dtype_arg(to, "can_cast", "to", 2)
    return _category(f) <= _category(t)


def _operand(x, fname, pos):
    """(group, dtype) of one operand: group 2 for a tensor with dims, 1 for a
    0-d tensor, 0 for a Python number (whose float is the default dtype)."""
    if isinstance(x, Tensor):
        return (2 if x.dim() else 1), x.dtype
    if isinstance(x, (bool, np.bool_)):
        return 0, bool_
    if isinstance(x, (int, np.integer)):
        return 0, int64
    if isinstance(x, (float, np.floating)):
        return 0, _C.get_default_dtype()
    raise TypeError(f"{fname}(): argument 'tensor{pos}' (position {pos}) must be Tensor or Number, "
                    f"not {type(x).__name__}")


def _combine(higher, lower):
    """torch's rule across operand groups: a lower group only counts when
    it is of a higher category (a float number makes an integer tensor float)."""
    if higher is None:
        return lower
    if lower is None or _category(higher) == 2:
        return higher
    if higher is bool_ or _category(lower) == 2:
        return _promote(higher, lower)
    return higher


def _result_type(*operands, fname="result_type"):
    """The dtype torch's type promotion gives the operands (tensors and numbers)."""
    groups = [None, None, None]
    for pos, x in enumerate(operands, 1):
        g, t = _operand(x, fname, pos)
        groups[g] = t if groups[g] is None else _promote(groups[g], t)
    return _combine(groups[2], _combine(groups[1], groups[0]))


def result_type(tensor1, tensor2):
    """The dtype an arithmetic op on tensor1 and tensor2 (tensors or numbers) returns."""
    return _result_type(tensor1, tensor2)
