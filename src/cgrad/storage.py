"""Storages: the memory under tensors.

UntypedStorage (in C) is the bytes; TypedStorage, PyTorch's older interface, reads them as
elements of one dtype, and its per-dtype classes (FloatStorage, DoubleStorage, LongStorage,
BoolStorage) are what Tensor.storage_type() names. As in PyTorch, TypedStorage warns once that it
is deprecated."""
import warnings

import numpy as np

from cgrad import _C
from cgrad._C import UntypedStorage

__all__ = ["UntypedStorage", "TypedStorage", "FloatStorage", "DoubleStorage", "LongStorage", "BoolStorage"]

_warned = False


def _warn_typed_storage_removal(stacklevel=3):
    global _warned
    if _warned:
        return
    _warned = True
    warnings.warn("TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only "
                  "storage class. This should only matter to you if you are using storages directly.  To access "
                  "UntypedStorage directly, use tensor.untyped_storage() instead of tensor.storage()",
                  UserWarning, stacklevel=stacklevel)


_CPP_NAMES = {"float32": "float", "float64": "double", "int64": "long", "bool": "bool"}
_LEGACY_NAMES = {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}


def _elements(values, dtype):
    """values (a sequence of numbers) as a numpy array of dtype, with torch's errors for what is not a number."""
    import cgrad
    for v in values:
        if isinstance(v, str):
            raise TypeError("new(): invalid data type 'str'")
    return np.asarray(cgrad.tensor(list(values), dtype=dtype).numpy())


class _TypedStorageMeta(type):
    """isinstance(s, FloatStorage) holds for any TypedStorage of float32, and FloatStorage(...) makes
    a TypedStorage of float32, as in PyTorch."""

    def __call__(cls, *args, **kwargs):
        dtype = cls.__dict__.get("_fixed_dtype")
        if dtype is None:
            return type.__call__(cls, *args, **kwargs)
        if "dtype" in kwargs:
            raise RuntimeError(f"{cls}.__new__ received an invalid combination of arguments. Expected one of:\n"
                               " * no arguments\n * (int size)\n * (Sequence data)\n"
                               " * (*, UntypedStorage wrap_storage)\nKeyword argument 'dtype' cannot be specified")
        return TypedStorage(*args, dtype=dtype, **kwargs)

    def __instancecheck__(cls, instance):
        dtype = cls.__dict__.get("_fixed_dtype")
        if dtype is None:
            return type.__instancecheck__(cls, instance)
        return isinstance(instance, TypedStorage) and instance.dtype == dtype


class TypedStorage(metaclass=_TypedStorageMeta):
    """An UntypedStorage read as elements of one dtype. TypedStorage(size), TypedStorage(sequence),
    TypedStorage(wrap_storage=untyped, dtype=...)."""
    is_sparse = False
    _fixed_dtype = None

    def __init__(self, *args, wrap_storage=None, dtype=None, device=None, _internal=False):
        if not _internal:
            _warn_typed_storage_removal()
        _C._check_device(device)
        self.dtype = _C.get_default_dtype() if dtype is None else dtype
        if self.dtype.name not in _CLASSES:
            raise NotImplementedError(f"cgrad has no {self.dtype.name} storages: its tensors are float32, float64, "
                                      "int64 or bool")
        if wrap_storage is not None:
            if args:
                raise RuntimeError("No positional arguments should be given when using 'wrap_storage'")
            if not isinstance(wrap_storage, UntypedStorage):
                raise TypeError(f"expected a cgrad.UntypedStorage for 'wrap_storage', got {type(wrap_storage).__name__}")
            self._untyped_storage = wrap_storage
            return
        if len(args) > 1:
            raise TypeError(f"TypedStorage(): expected at most one positional argument (got {len(args)})")
        isz = self.dtype.itemsize
        if not args or (isinstance(args[0], int) and not isinstance(args[0], bool)):
            self._untyped_storage = UntypedStorage((args[0] if args else 0) * isz)
            return
        data = _elements(args[0], self.dtype)
        self._untyped_storage = UntypedStorage(data.nbytes)
        self._array()[:] = data

    # ---- the bytes as elements

    def _array(self):
        raw = self._untyped_storage._numpy()
        n = len(raw) // self.dtype.itemsize
        return raw[:n * self.dtype.itemsize].view(self.dtype.numpy_dtype)

    def _scalar(self, v):
        return bool(v) if self.dtype == _C.bool_ else int(v) if self.dtype == _C.int64 else float(v)

    def size(self):
        return self._untyped_storage.nbytes() // self.dtype.itemsize

    __len__ = size

    def nbytes(self):
        return self._untyped_storage.nbytes()

    def element_size(self):
        return self.dtype.itemsize

    def data_ptr(self):
        return self._untyped_storage.data_ptr()

    @property
    def device(self):
        return self._untyped_storage.device

    @property
    def is_cuda(self):
        return False

    def untyped(self):
        return self._untyped_storage

    def is_shared(self):
        return self._untyped_storage.is_shared()

    def share_memory_(self):
        self._untyped_storage.share_memory_()
        return self

    def is_pinned(self, device=None):
        return False

    def resizable(self):
        return self._untyped_storage.resizable()

    def resize_(self, size):
        self._untyped_storage.resize_(size * self.dtype.itemsize)

    def _index(self, idx):
        if isinstance(idx, slice):
            raise RuntimeError("slices are only supported in UntypedStorage.__getitem__")
        if not isinstance(idx, int) or isinstance(idx, bool):
            raise RuntimeError(f"can't index a {TypedStorage} with {type(idx)}")
        n = self.size()
        i = idx + n if idx < 0 else idx
        if i < 0 or i >= n:
            raise IndexError(f"index {idx} out of range for storage of size {n}")
        return i

    def __getitem__(self, idx):
        return self._scalar(self._array()[self._index(idx)])

    def __setitem__(self, idx, value):
        if isinstance(value, str):
            raise TypeError(f"can't assign a str to a cgrad.{_LEGACY_NAMES[self.dtype.name]}Tensor")
        value = self._scalar(value)
        if isinstance(idx, slice):
            self._array()[idx] = value
        else:
            self._array()[self._index(idx)] = value
        self._untyped_storage._touch()

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self):
        return self._array().tolist()

    def fill_(self, value):
        self[:] = value
        return self

    def copy_(self, source, non_blocking=None):
        self._untyped_storage.copy_(source._untyped_storage if isinstance(source, TypedStorage) else source)
        return self

    def clone(self):
        return TypedStorage(wrap_storage=self._untyped_storage.clone(), dtype=self.dtype, _internal=True)

    def cpu(self):
        return TypedStorage(wrap_storage=self._untyped_storage, dtype=self.dtype, _internal=True)

    def _to(self, dtype):
        out = TypedStorage(self.size(), dtype=dtype, _internal=True)
        out._array()[:] = self._array()
        return out

    def double(self):
        return self._to(_C.float64)

    def float(self):
        return self._to(_C.float32)

    def long(self):
        return self._to(_C.int64)

    def bool(self):
        return self._to(_C.bool_)

    def _storage_class(self):
        return _CLASSES[self.dtype.name]

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            return f"cgrad.{self._storage_class().__name__}"
        raise NotImplementedError("TypedStorage.type(dtype): use double(), float(), long() or bool()")

    def pickle_storage_type(self):
        return self._storage_class().__name__

    def __repr__(self):
        head = "".join(f" {v}\n" for v in self.tolist()) or " \n"
        return f"{head}[cgrad.storage.TypedStorage(dtype=cgrad.{self.dtype.name}, device=cpu) of size {self.size()}]"

    __str__ = __repr__

    def __reduce__(self):
        return (_rebuild_typed, (self.tolist(), self.dtype.name))

    def __copy__(self):
        return self.clone()

    def __deepcopy__(self, memo):
        return self.clone()


def _rebuild_typed(values, dtype_name):
    out = TypedStorage(len(values), dtype=getattr(_C, dtype_name if dtype_name != "bool" else "bool_"),
                       _internal=True)
    out._array()[:] = values
    return out


def _legacy(name, dtype):
    return _TypedStorageMeta(name, (TypedStorage,), {"_fixed_dtype": dtype, "__module__": "cgrad",
                                                     "__doc__": f"A TypedStorage of {dtype.name}."})


FloatStorage = _legacy("FloatStorage", _C.float32)
DoubleStorage = _legacy("DoubleStorage", _C.float64)
LongStorage = _legacy("LongStorage", _C.int64)
BoolStorage = _legacy("BoolStorage", _C.bool_)
_CLASSES = {"float32": FloatStorage, "float64": DoubleStorage, "int64": LongStorage, "bool": BoolStorage}


def typed_storage_of(tensor):
    """Tensor.storage(): the tensor's storage read in its dtype (warns once, as PyTorch)."""
    _warn_typed_storage_removal(stacklevel=4)
    return TypedStorage(wrap_storage=tensor.untyped_storage(), dtype=tensor.dtype, _internal=True)


def storage_type_of(tensor):
    return _CLASSES[tensor.dtype.name]


def expect_dtype(storage, dtype):
    """The bytes of a storage handed to Tensor.set_: an UntypedStorage, or a TypedStorage of dtype."""
    if isinstance(storage, TypedStorage):
        if storage.dtype != dtype:
            raise RuntimeError(f"Expected a Storage of type {_CPP_NAMES[dtype.name]} or an UntypedStorage, but got "
                               f"type {_LEGACY_NAMES[storage.dtype.name]} for argument 1 'storage'")
        return storage._untyped_storage
    return storage
