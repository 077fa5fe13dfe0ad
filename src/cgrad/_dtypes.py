"""Questions about dtypes: finfo, iinfo, promote_types, result_type, can_cast.

They answer for every PyTorch dtype, cgrad's four and those it has no tensors of (see _dtype.pxi). Promotion
follows kinds: bool < integers < floating point < complex; within a kind the wider dtype wins, and the pairs
where neither holds the other's values go one step up (uint8 and int8 to int16, float16 and bfloat16 to
float32). A complex and a wider float meet at the complex of the wider float. The other dtypes (unsigned from 16
bits, sub-byte, float8, quantized, bits) promote only with themselves, as PyTorch's do, with its errors."""
import math

import numpy as np

from cgrad import _C
from cgrad._C import Tensor, bool_, dtype, float32, int64

__all__ = ["finfo", "iinfo", "promote_types", "result_type", "can_cast"]

_CATEGORY = {"bool": 0, "int": 1, "float": 2, "complex": 3}  # the kinds of the promotion lattice

# bits, eps, max and smallest normal of each floating point format; min is -max, but for float8_e8m0fnu,
# which has no sign bit and whose lowest value is its smallest normal one
_FLOAT_FORMATS = {
    "float16": (16, 2.0 ** -10, (2 - 2.0 ** -10) * 2.0 ** 15, 2.0 ** -14),
    "bfloat16": (16, 2.0 ** -7, (2 - 2.0 ** -7) * 2.0 ** 127, 2.0 ** -126),
    "float32": (32, 2.0 ** -23, (2 - 2.0 ** -23) * 2.0 ** 127, 2.0 ** -126),
    "float64": (64, 2.0 ** -52, (2 - 2.0 ** -52) * 2.0 ** 1023, 2.0 ** -1022),
    "float8_e4m3fn": (8, 2.0 ** -3, 448.0, 2.0 ** -6),  # its top exponent holds numbers, but for NaN
    "float8_e4m3fnuz": (8, 2.0 ** -3, 240.0, 2.0 ** -7),
    "float8_e5m2": (8, 2.0 ** -2, 57344.0, 2.0 ** -14),
    "float8_e5m2fnuz": (8, 2.0 ** -3, 57344.0, 2.0 ** -15),  # eps as PyTorch gives it
    "float8_e8m0fnu": (8, 1.0, 2.0 ** 127, 2.0 ** -127),
}

_UNDESCRIBED = {"eps": "epsilon", "max": "max", "min": "lowest", "tiny": "min", "smallest_normal": "min",
                "resolution": "digits10", "dtype": "dtype"}

# the C++ element types PyTorch's messages print (TensorOptions, in-place dtype checks); the other dtypes print
# as c10:: types
_CPP_NAMES = {"bool": "bool", "float32": "float", "float64": "double", "int64": "long int", "int32": "int",
              "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "uint16": "short unsigned int",
              "uint32": "unsigned int", "uint64": "long unsigned int"}


def _cpp_name(t):
    """The C++ element type PyTorch's messages name dtype t by."""
    if t.name in _CPP_NAMES:
        return _CPP_NAMES[t.name]
    if t.is_complex:
        return f"c10::complex<{_cpp_name(t.to_real())}>"
    if t._kind in ("int_sub", "uint_sub"):
        return f"c10::dummy_{t.name[:-1]}1_7_t<{t.name[-1]}>"
    return "c10::" + (t._type_name if t.is_floating_point else t.name)


def _norm_dtype_errors(fname, given, t):
    """PyTorch's errors for a norm of a floating point input of dtype `given` asked to compute in dtype t."""
    if not (t.is_floating_point or t.is_complex):
        raise RuntimeError(f"{fname}: dtype should be floating point or complex, but got {t._type_name}")
    if t.is_complex:
        raise RuntimeError(f"{fname}: dtype should be real for real inputs, but got {t._type_name}")
    if _promote(given, t) is not t:
        raise RuntimeError(f"{fname}: the dtype of the input ({given._type_name}) should be convertible without "
                           f"narrowing to the specified dtype ({t._type_name})")


def _category(t):
    """0 for bool, 1 for integers, 2 for floating point, 3 for complex: torch's type categories."""
    return _CATEGORY[t._kind]


def _dtype_arg(x, fname, arg, pos):
    if not isinstance(x, dtype):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be cgrad.dtype, not {type(x).__name__}")
    return x


def _widest(a, b):
    """The promotion of two dtypes of the lattice (bool, integers, floats, complex)."""
    if _category(a) < _category(b):
        a, b = b, a
    if _category(a) > _category(b):
        return _widest(a.to_real(), b).to_complex() if a.is_complex and b.is_floating_point else a
    if {a, b} == {_C.uint8, _C.int8}:
        return _C.int16
    if {a, b} == {_C.float16, _C.bfloat16}:
        return float32
    if _C.uint8 in (a, b):  # any wider signed integer holds uint8
        return b if a is _C.uint8 else a
    return a if a.itemsize >= b.itemsize else b


def _promote(a, b):
    """torch.promote_types of two dtypes, with its errors for the dtypes it does not promote."""
    if a is b:
        return a
    names, kinds = f"{a._type_name} and {b._type_name}", {a._kind, b._kind}
    if "quant" in kinds:
        raise RuntimeError("promoteTypes with quantized numbers is not handled yet; figure out what the correct "
                           f"rules should be, offending types: {a._type_name} {b._type_name}")
    if "bits" in kinds:
        raise RuntimeError(f"Promotion from {names} is unsupported.")
    if "float8" in kinds:
        raise RuntimeError(f"Promotion for Float8 Types is not supported, attempted to promote {names}")
    if kinds & {"uint", "uint_sub"}:
        for x in (a, b):  # PyTorch promotes its wide and sub-byte unsigned integers with floats alone
            if x.is_floating_point:
                return x
        raise RuntimeError(f"Promotion for uint16, uint32, uint64 types is not supported, attempted to promote "
                           f"{names}")
    if kinds & {"int_sub", "float4"}:
        raise RuntimeError(f"Promotion from {names} is unsupported: PyTorch's promotion table has no "
                           f"{(a if a._kind in ('int_sub', 'float4') else b).name}")
    return _widest(a, b)


class finfo:
    """The numerical properties of a floating point dtype (the default dtype if none is given); a complex
    dtype's are those of its real and imaginary parts."""

    def __init__(self, type=None):  # noqa: A002  (torch's argument name)
        t = _C.get_default_dtype() if type is None else _dtype_arg(type, "finfo", "type", 1)
        if not (t.is_floating_point or t.is_complex):
            raise TypeError("cgrad.finfo() requires a floating point input type. "
                            "Use cgrad.iinfo to handle 'cgrad.finfo'")
        t = t.to_real()
        if t.name not in _FLOAT_FORMATS:  # float4_e2m1fn_x2, two numbers to a byte: PyTorch knows its bits alone
            self.bits, self._unknown = 8 * t.itemsize, t._type_name
            return
        self.bits, self.eps, self.max, self.tiny = _FLOAT_FORMATS[t.name]
        self.min = self.tiny if t is _C.float8_e8m0fnu else -self.max
        self.smallest_normal = self.tiny
        self.resolution = 10.0 ** -math.floor(-math.log10(self.eps))  # the decimal digits eps leaves exact
        self.dtype = t.name

    def __getattr__(self, name):  # the fields of a format PyTorch does not describe, as its errors name them
        if name in _UNDESCRIBED and "_unknown" in self.__dict__:
            raise NotImplementedError(f"\"{_UNDESCRIBED[name]}\" not implemented for '{self._unknown}'")
        raise AttributeError(f"'finfo' object has no attribute '{name}'")

    def _key(self):
        return self.__dict__.get("dtype", self.__dict__.get("_unknown"))

    def __eq__(self, other):
        return isinstance(other, finfo) and self._key() == other._key()

    __hash__ = None  # unhashable, as torch's

    def __repr__(self):
        if "_unknown" in self.__dict__:
            raise TypeError("bad argument type for built-in operation")
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
        if t._kind == "quant":
            raise NotImplementedError(f"\"dtype\" not implemented for '{t._type_name}'")
        if t._kind not in ("int", "uint"):
            raise TypeError("cgrad.iinfo() requires an integer input type. Use cgrad.finfo to handle 'cgrad.iinfo'")
        self.bits = 8 * t.itemsize
        self.min = -(1 << (self.bits - 1)) if t.is_signed else 0
        self.max = (1 << (self.bits - 1 if t.is_signed else self.bits)) - 1
        self.dtype = t.name

    def __eq__(self, other):
        return isinstance(other, iinfo) and self.dtype == other.dtype

    __hash__ = None

    def __repr__(self):
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"


def promote_types(type1, type2):
    """The smallest dtype both type1 and type2 cast to without losing their kind."""
    return _promote(_dtype_arg(type1, "promote_types", "type1", 1), _dtype_arg(type2, "promote_types", "type2", 2))


def can_cast(from_, to):
    """Whether casting from_ to `to` keeps the kind: no complex to real, no floating point to an integer or bool,
    nothing but bool to bool."""
    f, t = _dtype_arg(from_, "can_cast", "from_", 1), _dtype_arg(to, "can_cast", "to", 2)
    if f.is_complex and not t.is_complex:
        return False
    if f.is_floating_point and t._kind in ("bool", "int", "uint"):
        return False
    return f is bool_ or t is not bool_


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
