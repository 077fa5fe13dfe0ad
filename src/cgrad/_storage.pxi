# ---- storages: the bytes under tensors (Tensor.untyped_storage, Tensor.set_) ----------------------------

from libc.string cimport memmove, memset

cdef class _StorageBytes:
    """Exposes n bytes at data to numpy (uint8) while holding the storage that owns them."""
    cdef cg_storage *s
    cdef size_t lent  # the bytes' address (Note [Bytes lent out])
    cdef readonly dict __array_interface__

    def __dealloc__(self):
        if self.s != NULL:
            give_back(self.s, self.lent)


cdef class UntypedStorage:
    """The bytes under one or more tensors, as PyTorch's UntypedStorage: indexing gives and takes
    ints in 0..255, writes are seen by every tensor on the storage. A slice is a storage sharing
    those bytes. cgrad's storages are not resizable."""
    cdef cg_storage *s
    cdef int64_t start, n  # this object's bytes: n from start in s

    def __init__(self, *args, device=None, allocator=None):
        _check_device(device)
        if self.s != NULL:
            raise RuntimeError("UntypedStorage is already initialized")
        cdef int64_t size = 0
        data = None
        if len(args) > 1:
            raise TypeError(f"UntypedStorage(): expected at most one positional argument (got {len(args)})")
        if args:
            a = args[0]
            if isinstance(a, int) and not isinstance(a, bool):
                size = a
                if size < 0:
                    raise RuntimeError(f"Trying to create tensor with negative dimension {size}: [{size}]")
            elif not hasattr(a, "__iter__"):
                raise RuntimeError(f"cgrad.UntypedStorage(): Expected a sequence type, but got {type(a).__name__}")
            else:
                data = list(a)
                for v in data:
                    if not isinstance(v, int):
                        raise RuntimeError("cgrad.UntypedStorage(): tried to construct a storage from a sequence "
                                           f"({type(a).__name__}), but one of the items was of type "
                                           f"{type(v).__name__} instead of int")
                size = len(data)
        cdef cg_tensor *t = cg_empty(&size, 1, CG_BOOL)
        if t == NULL:
            raise_error()
        self.s = t.storage
        cg_storage_retain(self.s)
        cg_tensor_release(t)
        self.start, self.n = 0, size
        memset(self.s.data, 0, <size_t>size)
        if data is not None:
            for i, v in enumerate(data):
                (<uint8_t *>self.s.data)[i] = <uint8_t>(v & 0xFF)

    def __dealloc__(self):
        if self.s != NULL:
            cg_storage_release(self.s)

    cdef inline void _need(self) except *:
        if self.s == NULL:
            raise RuntimeError("UntypedStorage is not initialized")
        if cg_is_recording():  # the bytes are read or written from Python: a replay would not see it
            cg_tape_break(b"%s", b"a storage's bytes read or written from Python in the step")

    cdef inline uint8_t *_bytes(self):
        return <uint8_t *>self.s.data + self.start

    def nbytes(self):
        self._need()
        return self.n

    def size(self):
        self._need()
        return self.n

    def __len__(self):
        self._need()
        return self.n

    def element_size(self): return 1

    def data_ptr(self):
        self._need()
        return <size_t>self._bytes()

    @property
    def device(self): return device("cpu")

    @property
    def is_cuda(self): return False

    @property
    def is_sparse(self): return False

    @property
    def filename(self): return None

    def is_pinned(self, device=None): return False

    def is_shared(self):
        self._need()
        return bool(cg_storage_is_shared(self.s))

    def share_memory_(self):
        """Moves the bytes (the whole storage's, when this is a slice) to memory a forked process
        shares; tensors on them keep their values."""
        self._need()
        share_memory(self.s)
        return self

    def resizable(self): return False

    def _touch(self):
        """Counts a write made through _numpy() (saved tensors on these bytes see it)."""
        self._need()
        self.s.version += 1

    def resize_(self, size):
        raise RuntimeError("Trying to resize storage that is not resizable")

    def untyped(self): return self

    def cpu(self): return self

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            return "cgrad.storage.UntypedStorage"
        raise NotImplementedError("UntypedStorage.type(dtype): cgrad's storages have no typed conversions")

    cdef int64_t _index(self, idx) except -1:
        if not isinstance(idx, int) or isinstance(idx, bool):
            raise TypeError(f"can't index a cgrad.UntypedStorage with {type(idx).__name__}")
        i = idx + self.n if idx < 0 else idx
        if i < 0 or i >= self.n:
            raise IndexError(f"index {i} out of range for storage of size {self.n}")
        return i

    def __getitem__(self, idx):
        self._need()
        if isinstance(idx, slice):
            start, stop, step = idx.indices(self.n)
            if step != 1:
                raise RuntimeError(f"Trying to slice with a step of {step}, but only a step of 1 is supported")
            return _storage_view(self.s, self.start + start, max(stop - start, 0))
        return self._bytes()[self._index(idx)]

    def __setitem__(self, idx, value):
        self._need()
        if not isinstance(value, int):
            raise RuntimeError(f"can only set storage content with a int types, but got {type(value).__name__} instead")
        cdef uint8_t b = <uint8_t>(value & 0xFF)
        if isinstance(idx, slice):
            start, stop, step = idx.indices(self.n)
            if step != 1:
                raise RuntimeError(f"Trying to slice with a step of {step}, but only a step of 1 is supported")
            if stop > start:
                memset(self._bytes() + <int64_t>start, b, <size_t>(stop - start))
        else:
            self._bytes()[self._index(idx)] = b
        self.s.version += 1

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self):
        self._need()
        cdef uint8_t *p = self._bytes()
        return [p[i] for i in range(self.n)]

    def fill_(self, value):
        self[:] = value
        return self

    def copy_(self, source, non_blocking=None):
        self._need()
        cdef UntypedStorage src
        if isinstance(source, UntypedStorage):
            src = source
        elif hasattr(source, "_untyped_storage"):
            src = source._untyped_storage
        else:
            raise TypeError(f"copy_(): argument 'src' (position 1) must be cgrad.Storage, not {type(source).__name__}")
        src._need()
        if src.n != self.n:
            raise RuntimeError(f"size does not match, self was {self.n} bytes but src was {src.n} bytes")
        memmove(self._bytes(), src._bytes(), <size_t>self.n)
        self.s.version += 1
        return self

    def clone(self):
        self._need()
        out = UntypedStorage(self.n)
        out.copy_(self)
        return out

    def _numpy(self):
        """A uint8 numpy array over these bytes, holding the storage alive."""
        self._need()
        cdef _StorageBytes view = _StorageBytes.__new__(_StorageBytes)
        view.lent = lend(self.s)
        view.s = self.s
        view.__array_interface__ = {"shape": (self.n,), "typestr": "|u1", "data": (<size_t>self._bytes(), False),
                                    "version": 3}
        return np.asarray(view)

    def _same_bytes(self, UntypedStorage other):
        self._need()
        other._need()
        return self.s == other.s and self.start == other.start and self.n == other.n

    def __repr__(self):
        self._need()
        head = "".join(f" {b}\n" for b in self.tolist()) or " \n"
        return f"{head}[cgrad.storage.UntypedStorage(device=cpu) of size {self.n}]"

    __str__ = __repr__

    def __reduce__(self):
        return (UntypedStorage, (self.tolist(),))

    def __copy__(self):
        return self.clone()

    def __deepcopy__(self, memo):
        return self.clone()


cdef UntypedStorage _storage_view(cg_storage *s, int64_t start, int64_t n):
    cdef UntypedStorage out = UntypedStorage.__new__(UntypedStorage)
    out.s = s
    cg_storage_retain(s)
    out.start, out.n = start, n
    return out


cdef object _storage_of(_TensorBase t):
    return _storage_view(t.t.storage, 0, t.t.storage.nbytes)


cdef int _set_storage(_TensorBase self, UntypedStorage st, int64_t offset, shape, strides,
                      _TensorBase source=None) except -1:
    """self takes shape and strides at offset (elements) of st's bytes (offset 0 of a slice is its start)."""
    st._need()
    cdef int64_t isz = cg_dtype_size(<cg_dtype>self.t.dtype)
    cdef int64_t sh[CG_MAX_DIMS]
    cdef int64_t sd[CG_MAX_DIMS]
    cdef int nd = len(shape), i
    if nd > CG_MAX_DIMS:
        raise RuntimeError(f"set_(): cgrad tensors have at most {CG_MAX_DIMS} dims")
    if st.start % isz:
        raise RuntimeError(f"set_(): a storage slice must start at a multiple of the element size ({isz} bytes)")
    if st.start or st.n != st.s.nbytes:  # a slice: the layout must stay inside it (the C check sees the whole)
        need = 0 if any(d == 0 for d in shape) else \
            (offset + 1 + sum((d - 1) * s for d, s in zip(shape, strides))) * isz
        if offset >= 0 and all(s >= 0 for s in strides) and need > st.n:
            raise RuntimeError(f"setStorage: sizes {list(shape)}, strides {list(strides)}, storage offset {offset}, "
                               f"and itemsize {isz} requiring a storage size of {need} are out of bounds for "
                               f"storage of size {st.n}")
    for i in range(nd):
        sh[i] = shape[i]
        sd[i] = strides[i]
    check(cg_tensor_set_storage(self.t, st.s, sh, sd, nd, offset + st.start // isz,
                                source.t if source is not None else NULL))
    return 0


_SET_OVERLOADS = (" * ()\n"
                  " * (cgrad.Storage source)\n"
                  " * (cgrad.Storage source, int storage_offset, tuple of ints size, tuple of ints stride = None)\n"
                  " * (Tensor source)\n"
                  " * (Tensor source, int storage_offset, tuple of ints size, tuple of ints stride = None)\n")
_SET_NAMES = ("source", "storage_offset", "size", "stride")


def _arg_type_name(v):
    if isinstance(v, _TensorBase):
        return "Tensor"
    if isinstance(v, UntypedStorage) or hasattr(v, "_untyped_storage"):
        return "cgrad.storage." + type(v).__name__
    return type(v).__name__


def _ints(x):
    return isinstance(x, (tuple, list)) and all(isinstance(v, int) and not isinstance(v, bool) for v in x)


def _tensor_set(_TensorBase self, tuple args, dict kwargs):
    """Tensor.set_(source=None, storage_offset=0, size=None, stride=None), PyTorch's overloads."""
    got = dict(zip(_SET_NAMES, args))
    for k, v in kwargs.items():
        if k not in _SET_NAMES or k in got:
            raise TypeError(f"set_() got an unexpected keyword argument '{k}'" if k not in _SET_NAMES else
                            f"set_() got multiple values for argument '{k}'")
        got[k] = v
    source, offset, size, stride = (got.get(k) for k in _SET_NAMES)
    full = offset is not None and size is not None
    ok = len(args) <= 4 and (
        (source is None and len(got) == 0) or
        (isinstance(source, (_TensorBase, UntypedStorage)) or hasattr(source, "_untyped_storage")) and (
            set(got) == {"source"} or
            (full and isinstance(offset, int) and not isinstance(offset, bool) and _ints(size) and
             (stride is None or _ints(stride)))))
    if not ok:
        shown = ", ".join(_arg_type_name(v) for v in list(args) + list(kwargs.values()))
        raise TypeError(f"set_() received an invalid combination of arguments - got ({shown}), but expected one of:\n"
                        + _SET_OVERLOADS)
    if cg_is_grad_enabled() and self.t.requires_grad and self.t.grad_fn == NULL:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    cdef _TensorBase src
    cdef cg_tensor *s
    if source is None:
        _set_storage(self, UntypedStorage(0), 0, (0,), (1,))
        return self
    if isinstance(source, _TensorBase):
        src = source
        if src.t.dtype != self.t.dtype:
            from cgrad._dtypes import _CPP_NAMES
            raise RuntimeError(f"Could not set tensor of type {_CPP_NAMES[src.dtype.name]} to a tensor of "
                               f"type {_CPP_NAMES[self.dtype.name]}")
        if not full:
            s = src.t
            check(cg_tensor_set_storage(self.t, s.storage, s.shape, s.strides, s.ndim, s.offset, s))
            return self
        storage = _storage_of(src)
        offset = offset + src.t.offset  # PyTorch counts it from the source's own offset
    else:
        from cgrad.storage import expect_dtype
        storage = expect_dtype(source, self.dtype)
    if not full:
        size = (len(storage) // cg_dtype_size(<cg_dtype>self.t.dtype),)
        offset = 0
    if stride is None:
        stride, n = [], 1
        for d in reversed(size):
            stride.insert(0, n)
            n *= max(d, 1)
    if len(stride) != len(size):
        raise RuntimeError("mismatch in length of strides and shape")
    _set_storage(self, storage, offset, tuple(size), tuple(stride), source if isinstance(source, _TensorBase) else None)
    return self
