"""PyTorch's legacy tensor types: cgrad.FloatTensor, DoubleTensor, LongTensor, BoolTensor, and the
names of the dtypes cgrad has no tensors of (HalfTensor, IntTensor, ...).

Old code calls them as constructors (`cgrad.LongTensor([1, 2])`, `cgrad.FloatTensor(3, 4)`), asks
`isinstance(x, cgrad.FloatTensor)`, and passes them to `Tensor.type`. They are not Tensor's
subclasses, as in PyTorch: tensors are all of class Tensor, and a tensor type stands for a dtype."""
from cgrad import _C
from cgrad._C import Tensor
from cgrad._tensor_extra import legacy_new

__all__ = ["DoubleTensor", "FloatTensor", "LongTensor", "BoolTensor", "HalfTensor", "BFloat16Tensor", "IntTensor",
           "ShortTensor", "CharTensor", "ByteTensor"]


class tensortype(type):
    """The class of the legacy tensor types. A type's call is the legacy constructor (Tensor.new's
    forms) of its dtype; isinstance asks a tensor's dtype; Tensor's methods are reached through
    it (cgrad.FloatTensor.zero_(x))."""

    def __call__(cls, *args, **kwargs):
        _C.empty(0, dtype=cls.dtype)  # NotImplementedError naming a dtype cgrad has no tensors of
        return legacy_new(cls.dtype, args, kwargs, constructor=True)

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __getattr__(cls, name):
        return getattr(Tensor, name)


def _tensor_type(name, dtype):
    return tensortype(name, (), {
        "__module__": "cgrad", "__qualname__": name, "__doc__": None, "dtype": dtype, "layout": _C.strided,
        "is_cuda": False, "is_sparse": False, "is_sparse_csr": False, "is_xpu": False})


DoubleTensor = _tensor_type("DoubleTensor", _C.float64)
FloatTensor = _tensor_type("FloatTensor", _C.float32)
LongTensor = _tensor_type("LongTensor", _C.int64)
BoolTensor = _tensor_type("BoolTensor", _C.bool_)
HalfTensor = _tensor_type("HalfTensor", _C.float16)
BFloat16Tensor = _tensor_type("BFloat16Tensor", _C.bfloat16)
IntTensor = _tensor_type("IntTensor", _C.int32)
ShortTensor = _tensor_type("ShortTensor", _C.int16)
CharTensor = _tensor_type("CharTensor", _C.int8)
ByteTensor = _tensor_type("ByteTensor", _C.uint8)
