# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The Python face of the C core: Tensor and Node wrap cg_tensor and cg_node.

Each method converts its arguments, makes one C call, checks it and wraps the
result. Errors are translated in one place, raise_error().
"""
cimport cython
from cpython.object cimport PyTypeObject, newfunc, traverseproc
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF, PyObject

cdef extern from "Python.h":
    void PyObject_GC_Track(void *op)
    void PyObject_GC_UnTrack(void *op)
    Py_ssize_t Py_REFCNT(PyObject *o)
    int Py_AddPendingCall(int (*func)(void *) noexcept, void *arg)

from libc.stdint cimport INT64_MAX, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc

# Calls of the binding running without the GIL that change graphs (backward
# passes, replays). Changed only with the GIL held, so it cannot change
# during a garbage collection, whose Tensor traversals walk graphs only
# while it is 0 (see _tensor_traverse).
cdef int _nogil_calls = 0

# Python objects whose last reference the C core dropped (a hook's callable,
# a custom Function's ctx, a numpy array under a storage), released once the
# core is done instead: it drops them halfway through its own changes, where
# running Python code (a __del__, a collection walking that very graph) must
# not happen. The binding releases them when a call into the core that may
# drop such objects returns (a Tensor's deallocation, backward, a hook's
# removal), and a pending call catches the rest (it runs only in the main
# thread, so it cannot be the only way).
cdef PyObject **_later = NULL
cdef Py_ssize_t _n_later = 0, _cap_later = 0
cdef bint _later_scheduled = False


cdef inline void _release_now() noexcept:
    """Drops the deferred references (GIL held, the core not mid-change)."""
    cdef PyObject *o
    global _n_later
    while _n_later:  # a release can add more
        _n_later -= 1
        o = _later[_n_later]
        Py_XDECREF(o)


cdef int _release_later(void *arg) noexcept with gil:
    global _later_scheduled
    _later_scheduled = False
    _release_now()
    return 0


cdef inline void _nogil_begin(bint unlocked=True) noexcept:
    """Before a call that changes graphs without the GIL (unlocked: the
    call releases it, so the core's counts must change atomically)."""
    global _nogil_calls
    _nogil_calls += 1
    if unlocked:
        cg_unserialized_begin()


cdef inline void _nogil_end(bint unlocked=True) noexcept:
    """After it, the GIL held again: what it dropped is released now."""
    global _nogil_calls
    _nogil_calls -= 1
    if unlocked:
        cg_unserialized_end()
    _release_now()


cdef void _decref_later(PyObject *o) noexcept:
    """Drops a reference soon (GIL held)."""
    global _later, _n_later, _cap_later, _later_scheduled
    cdef PyObject **grown
    if _n_later == _cap_later:
        grown = <PyObject **>realloc(_later, (2 * _cap_later + 16) * sizeof(PyObject *))
        if grown == NULL:
            Py_XDECREF(o)  # no memory to wait with: release now
            return
        _later = grown
        _cap_later = 2 * _cap_later + 16
    _later[_n_later] = o
    _n_later += 1
    if not _later_scheduled and Py_AddPendingCall(_release_later, NULL) == 0:
        _later_scheduled = True


import functools
import operator
import os
import struct
import sys
import threading
import warnings

import numpy as np

from cgrad._missing import no_complex, not_implemented

# ---- errors -------------------------------------------------------------------

class LinAlgError(RuntimeError):
    """A matrix a linear-algebra op cannot factor (singular, not positive
    definite, an SVD that does not converge), as torch.linalg.LinAlgError."""


LinAlgError.__module__ = "cgrad.linalg"

_EXCEPTIONS = {
    CG_ERR_VALUE: ValueError,
    CG_ERR_TYPE: TypeError,
    CG_ERR_INDEX: IndexError,
    CG_ERR_RUNTIME: RuntimeError,
    CG_ERR_MEMORY: RuntimeError,
    CG_ERR_NOTIMPL: NotImplementedError,
    CG_ERR_LINALG: LinAlgError,
}
_pending = threading.local()  # a Python exception raised inside a callback from C


cdef int raise_error() except -1:
    cdef cg_errkind kind = cg_error_kind()
    note = getattr(_pending, "note", None)  # anomaly mode: where the failing op was made
    _pending.note = None
    exc = None
    if kind == CG_ERR_EXTERNAL:
        exc = getattr(_pending, "exc", None)
        _pending.exc = None
    if exc is None:
        exc = _EXCEPTIONS.get(kind, RuntimeError)(cg_error_message().decode("utf-8", "replace"))
    cg_error_clear()
    if note and hasattr(exc, "add_note"):
        exc.add_note(note)
    raise exc


cdef inline int check(int rc) except -1:
    if rc != 0:
        raise_error()
    if cg_saved_hooks_threads and cg_saved_hooks_pending():
        pack_saved()
    return 0


include "_dtype.pxi"


# ---- shapes -------------------------------------------------------------------

class layout:
    """How a tensor's elements lie in memory: cgrad has one layout, strided."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "cgrad." + self.name

    def __reduce__(self):
        return "strided"


strided = layout("strided")

include "_device.pxi"
include "_memory_format.pxi"


cdef str _c_type_name(object t):
    """A type's name as CPython's messages print it: qualified by its module when it is a C type outside builtins."""
    if t.__flags__ & (1 << 9) or t.__module__ == "builtins":  # 1 << 9: a heap type, named by __name__ alone
        return t.__name__
    if issubclass(t, _TensorBase):  # torch.Tensor is a heap type: messages call it plain Tensor
        return t.__name__
    return f"{t.__module__}.{t.__name__}"


cdef object _size_item(object v, Py_ssize_t i):
    """One entry of a Size: ints (and numpy integers) as given; bools and one-element integer tensors as ints."""
    if (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, np.integer):
        return v
    if isinstance(v, _TensorBase) and (<_TensorBase>v).t.dtype == CG_BOOL and (<_TensorBase>v).t.numel == 1:
        return int(v.item())
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"cgrad.Size() takes an iterable of 'int' (item {i} is '{_c_type_name(type(v))}')") from None


class Size(tuple):
    """The shape of a tensor: a tuple of ints."""

    def __new__(cls, *args, **kwargs):
        items = tuple.__new__(cls, *args, **kwargs)  # tuple's own errors for a bad call
        for v in items:
            if type(v) is not int:
                return tuple.__new__(cls, [_size_item(v, i) for i, v in enumerate(items)])
        return items

    def __repr__(self):
        return f"cgrad.Size({list(self)})"

    def __getitem__(self, key):
        item = tuple.__getitem__(self, key)
        return tuple.__new__(Size, item) if isinstance(key, slice) else item  # a slice is a Size, as PyTorch's

    def __add__(self, other):
        if not isinstance(other, tuple):
            raise TypeError(f"can only concatenate tuple (not {_c_type_name(type(other))}) to cgrad.Size")
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, n):
        if not hasattr(n, "__index__"):
            raise TypeError(f"can't multiply sequence by non-int of type '{_c_type_name(type(n))}'")
        return tuple.__new__(Size, tuple.__mul__(self, n))

    def __rmul__(self, n):
        if isinstance(n, (str, bytes, bytearray, list, tuple)):
            return NotImplemented  # the other sequence's repeat refuses a Size
        return self.__mul__(n)

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


cdef newfunc _tuple_new = (<PyTypeObject *>tuple).tp_new
# Cython's allocator of Tensor objects, kept before _setup_tensor_new puts the legacy constructor in
# Tensor's tp_new: a wrapper for a C tensor the caller then sets (_tensor_of_class)
cdef newfunc _tensor_alloc = NULL


cdef object _shape_of(list sizes):
    """A Size of these ints through tuple's own constructor: .shape's hot path skips Size's checks."""
    cdef tuple args = (sizes,)
    return _tuple_new(Size, <PyObject *>args, NULL)


cdef int64_t int_arg(object x, str fn, str name) except? -1:
    """x as a C integer where torch takes an int: ints and objects with
    __index__ (numpy integers, 0-d integer tensors), never a float."""
    if isinstance(x, int):
        return x
    try:
        return operator.index(x)
    except TypeError:
        raise TypeError(f"{fn}(): argument '{name}' must be int, not {type(x).__name__}") from None


cdef int parse_shape(object args, int64_t *out) except -1:
    """Fills out from (2, 3), ((2, 3),) or ([2, 3],); returns ndim."""
    if len(args) == 1 and not isinstance(args[0], int):
        args = args[0]
        if isinstance(args, _TensorBase):
            args = args.tolist()
    if len(args) > CG_MAX_DIMS:
        raise RuntimeError(f"cgrad supports at most {CG_MAX_DIMS} dimensions, got {len(args)}")
    cdef int i = 0
    for s in args:
        if not isinstance(s, int) and not hasattr(s, "__index__"):
            raise TypeError(f"shape must be a sequence of ints, but got an element of type {type(s).__name__}")
        out[i] = s.__index__()
        i += 1
    return i


cdef int parse_dims(object dim, int64_t *out) except -2:
    """Fills out from an int or a sequence of ints; returns the count, -1 for None."""
    if dim is None:
        return -1
    if isinstance(dim, int):
        out[0] = dim
        return 1
    return parse_shape((tuple(dim),), out)


# ---- wrapping -----------------------------------------------------------------

# the C tensors of the last eight wrappers made, _n_wrapped & 7 the oldest
# (not owned; see _TensorBase._before)
cdef const cg_tensor *_last_wrapped[8]
cdef unsigned _n_wrapped = 0

cdef object wrap(cg_tensor *t):
    """The Python object of t, which this call steals a reference to."""
    if t == NULL:
        raise_error()
    if t.pyobj != NULL:
        obj = <object>t.pyobj
        cg_tensor_release(t)
        return obj
    global _n_wrapped
    cdef _TensorBase r = Tensor.__new__(Tensor)
    r.t = t
    r._before = _last_wrapped[(_n_wrapped - 4) & 7]  # 4 wrappers ago
    r._before2 = _last_wrapped[_n_wrapped & 7]       # 8 wrappers ago
    _last_wrapped[_n_wrapped & 7] = t
    _n_wrapped += 1
    cg_tensor_set_pyobj(t, <void *>r)
    if not _tracking:
        PyObject_GC_UnTrack(<void *>r)
        r._link.prev = &_untracked
        r._link.next = _untracked.next
        _untracked.next.prev = &r._link
        _untracked.next = &r._link
    if cg_saved_hooks_threads and cg_saved_hooks_pending():
        pack_saved()
    return r


cdef inline object wrap_borrowed(cg_tensor *t):
    if t == NULL:
        return None
    cg_tensor_retain(t)
    return wrap(t)


_node_classes = {}


cdef object node_class(cg_node *n):
    """The Python class of a node: one per op name (MulBackward0, ...), as in PyTorch."""
    cdef bytes key = cg_node_name(n)
    cls = _node_classes.get(key)
    if cls is None:
        # the class takes the name's last part, as in PyTorch: NotImplemented for torch::autograd::NotImplemented
        cls = type(key.decode().rpartition("::")[2], (Node,), {"__slots__": (), "__module__": "cgrad.autograd.graph"})
        _node_classes[key] = cls
    return cls


cdef object wrap_node(cg_node *n):
    """The Python object of n (borrowed), cached on the node."""
    if n == NULL:
        return None
    cdef void *user = cg_node_get_user(n)
    if user != NULL:
        return <object>user
    cls = node_class(n)
    cdef Node node = <Node>cls.__new__(cls)
    cg_node_retain(n)
    node.n = n
    cg_node_set_user(n, <void *>node)
    return node


cdef cg_tensor *int_operand(object x, cg_tensor *like) except NULL:
    """A Python int as a 0-d tensor, exact when it is stored as int64."""
    if not -2 ** 63 <= x < 2 ** 63:
        raise OverflowError(f"int too big to convert: {x} does not fit in 64 bits")
    cdef cg_tensor *t = cg_scalar_tensor(<double>x, CG_INT64, like)
    if t != NULL and t.dtype == CG_INT64:
        (<int64_t *>cg_tensor_data(t))[0] = x  # a double holds only 53 bits
    return t


cdef cg_tensor *scalar_operand(object x, cg_tensor *like, bint shared=False) except? NULL:
    """A 0-d tensor for a Python number; NULL (no error) if x is not one.
    shared: it may come from a small cache, so it must only be read."""
    if isinstance(x, float):
        return cg_scalar_cached(x, CG_FLOAT64, like) if shared else cg_scalar_tensor(x, CG_FLOAT64, like)
    if isinstance(x, bool):
        return cg_scalar_tensor(1.0 if x else 0.0, CG_BOOL, like)
    if isinstance(x, int):
        if shared and -2 ** 53 <= x <= 2 ** 53:
            return cg_scalar_cached(<double>x, CG_INT64, like)
        return int_operand(x, like)
    if isinstance(x, np.generic):
        return scalar_operand(x.item(), like, shared)
    return NULL


ctypedef cg_tensor *(*binary_fn)(cg_tensor *, cg_tensor *) noexcept nogil
ctypedef cg_tensor *(*unary_fn)(cg_tensor *) noexcept nogil


cdef inline bint is_tensor(object x):
    """isinstance(x, _TensorBase), a Tensor's exact type first: isinstance
    walks the six classes Tensor's methods come in."""
    return type(x) is Tensor or isinstance(x, _TensorBase)


cdef object binary(binary_fn fn, object a, object b):
    """fn(a, b) where one of them is a Tensor and the other a Tensor or number."""
    cdef cg_tensor *tmp = NULL
    cdef cg_tensor *r
    cdef bint a_tensor = is_tensor(a)
    if a_tensor and is_tensor(b):
        return wrap(fn((<_TensorBase>a).t, (<_TensorBase>b).t))
    if a_tensor:
        tmp = scalar_operand(b, (<_TensorBase>a).t, True)
        if tmp == NULL:
            if isinstance(b, np.ndarray):
                return binary(fn, a, _array_to_tensor(b))
            return NotImplemented
        r = fn((<_TensorBase>a).t, tmp)
    else:
        tmp = scalar_operand(a, (<_TensorBase>b).t, True)
        if tmp == NULL:
            if isinstance(a, np.ndarray):
                return binary(fn, _array_to_tensor(a), b)
            return NotImplemented
        r = fn(tmp, (<_TensorBase>b).t)
    cg_tensor_release(tmp)
    return wrap(r)


cdef object no_bool_sub(_TensorBase a, object b):
    """b, unless it is a Python bool: PyTorch refuses `-` with bool operands."""
    if isinstance(b, bool):
        if a.t.dtype == CG_BOOL:
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                               "Use the `^` or `logical_xor()` operator instead.")
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
                           "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    return b


cdef inline bint is_number(object x):
    return isinstance(x, (int, float, np.generic))


cdef double number_arg(object x, str fname, str arg) except? -1:
    """A number argument (or a 0-d tensor) as a double: PyTorch's TypeError otherwise."""
    if isinstance(x, _TensorBase):
        if (<_TensorBase>x).t.ndim != 0:
            raise RuntimeError(f"{fname} only supports 0-dimension value tensor but got tensor with "
                               f"{(<_TensorBase>x).t.ndim} dimensions.")
        return (<_TensorBase>x).item()
    if not is_number(x):
        raise TypeError(f"{fname}(): argument '{arg}' must be Number, not {type(x).__name__}")
    return float(x)


cdef object surface_op(str name):
    """A Tensor method whose top-level form is written in Python (cgrad._surface)."""
    from cgrad import _surface
    return getattr(_surface, name)


cdef object extra_op(str name):
    """A Tensor method written in Python (cgrad._tensor_extra)."""
    from cgrad import _tensor_extra
    return getattr(_tensor_extra, name)


cdef object stats_op(str name):
    """A Tensor method written in Python, as a composition of cgrad's ops (cgrad._stats)."""
    from cgrad import _stats
    return getattr(_stats, name)


cdef object more_op(str name):
    """A Tensor method written in Python (cgrad._ops_more)."""
    from cgrad import _ops_more
    return getattr(_ops_more, name)


def _stream_number(v):
    """A double as C++ streams print it, as PyTorch's messages show numbers: 1, 2.5, inf, -nan."""
    v = float(v)
    return "-nan" if v != v else f"{v:g}"


cdef tuple number_pair(tuple args, dict kwargs, tuple names, tuple defaults, str fname):
    """Two number arguments given by position or by name (names a Python
    keyword, such as uniform_'s `from`, can only be passed by name in a dict)."""
    if len(args) > 2:
        raise TypeError(f"{fname}() takes at most 2 positional arguments ({len(args)} given)")
    values = list(args) + list(defaults[len(args):])
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(f"{fname}() got an unexpected keyword argument '{key}'")
        i = names.index(key)
        if i < len(args):
            raise TypeError(f"{fname}() got multiple values for argument '{key}'")
        values[i] = value
    return tuple(values)


cdef binary_fn rounded_div(object rounding_mode, str name) except NULL:
    """div's op for a rounding_mode: true division (None), 'trunc' or 'floor'."""
    if rounding_mode is None:
        return cg_div
    if rounding_mode == "trunc":
        return cg_div_trunc
    if rounding_mode == "floor":
        return cg_div_floor
    raise RuntimeError(f"{name} expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                       f"'{rounding_mode}'")


cdef object method_result(object r, str name, object other):
    """r, unless an operator declined the argument: then PyTorch's TypeError."""
    if r is NotImplemented:
        raise TypeError(f"{name}(): argument 'other' must be Tensor or Number, not {type(other).__name__}")
    return r


cdef object inplace(binary_fn fn, _TensorBase a, object b):
    """a op= b; returns a."""
    cdef cg_tensor *tmp = NULL
    cdef cg_tensor *r
    if is_tensor(b):
        return wrap(fn(a.t, (<_TensorBase>b).t))
    tmp = scalar_operand(b, a.t)
    if tmp == NULL:
        if isinstance(b, np.ndarray):
            return inplace(fn, a, _array_to_tensor(b))
        raise TypeError(f"unsupported operand type for an in-place op: {type(b).__name__}")
    r = fn(a.t, tmp)
    cg_tensor_release(tmp)
    return wrap(r)


_T_WARNED = set()  # x.T's deprecation warnings are given once per process, as PyTorch's


cdef deprecated_T(int nd):
    kind = 0 if nd == 0 else 1
    if kind in _T_WARNED:
        return
    _T_WARNED.add(kind)
    if kind == 0:
        msg = "Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases."
    else:
        msg = ("The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated and it "
               "will throw an error in a future release. Consider `x.mT` to transpose batches of matrices or "
               "`x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.")
    warnings.warn(msg, UserWarning, stacklevel=2)


ctypedef cg_tensor *(*alpha_fn)(cg_tensor *, cg_tensor *, cg_tensor *) noexcept nogil


cdef cg_tensor *alpha_operand(object x) except? NULL:
    """A number as a 0-d tensor of its own kind (bool, int64, float64), as
    alpha's rules need; NULL (no error) if x is not one. Next to no tensor,
    scalar_operand keeps a bool's and an int's kind, not a float's."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return cg_full(NULL, 0, x, CG_FLOAT64)
    return scalar_operand(x, NULL)


cdef object with_alpha(alpha_fn fn, _TensorBase a, object b, object alpha, str name):
    """fn(a, b, alpha): add's and sub's forms with alpha, a number or a 0-d tensor."""
    if is_tensor(alpha) and (<_TensorBase>alpha).t.numel == 1:
        alpha = alpha.item()
    cdef cg_tensor *al = alpha_operand(alpha)
    if al == NULL:
        raise TypeError(f"{name}(): argument 'alpha' must be Number, not {type(alpha).__name__}")
    cdef _TensorBase other
    try:
        other = as_tensor_arg(b, a)
    except BaseException:
        cg_tensor_release(al)
        raise
    cdef cg_tensor *r = fn(a.t, other.t, al)
    cg_tensor_release(al)
    return wrap(r)


cdef _TensorBase as_tensor_arg(object x, _TensorBase like):
    """x as a Tensor (numbers become 0-d tensors next to like)."""
    if isinstance(x, _TensorBase):
        return <_TensorBase>x
    cdef cg_tensor *tmp = scalar_operand(x, like.t if like is not None else NULL)
    if tmp != NULL:
        return <_TensorBase>wrap(tmp)
    if isinstance(x, np.ndarray):
        return <_TensorBase>_array_to_tensor(x)
    raise TypeError(f"expected a Tensor or a number, but got {type(x).__name__}")


def _array_to_tensor(arr):
    """A copy of a numpy array as a tensor (float64 stays float64)."""
    return _tensor_from_numpy_copy(np.asarray(arr), None)


# ---- numpy interop ------------------------------------------------------------

cdef str typestr(int code):
    return ("<f4", "<f8", "<i8", "|b1")[code]


# Note [Bytes lent out]
# A numpy array or a DLPack capsule made from a tensor reads the storage's
# bytes through the address they had when it was made. share_memory_ moves
# the bytes, so the old ones must live while an export made before the move
# does, and no longer: each export holds the storage and is counted under
# the storage and the address it reads, and the last one of an address the
# storage has left frees the old bytes (cg_storage_free_old_bytes).
cdef dict _lent = {}  # (storage, address of its bytes) -> exports alive


cdef size_t lend(cg_storage *s) except? 0:
    """Counts an export of s's bytes and holds s; returns the bytes' address, for give_back."""
    key = (<size_t>s, <size_t>s.data)
    _lent[key] = _lent.get(key, 0) + 1
    cg_storage_retain(s)
    return <size_t>s.data


cdef void give_back(cg_storage *s, size_t data) noexcept:
    """Ends an export that lend counted (GIL held)."""
    key = (<size_t>s, data)
    cdef Py_ssize_t left = _lent.pop(key, 1) - 1
    if left > 0:
        _lent[key] = left
    elif data != <size_t>s.data:
        cg_storage_free_old_bytes(s)
        _release_now()  # a numpy array the old bytes were borrowed from
    cg_storage_release(s)


cdef void share_memory(cg_storage *s) except *:
    """Moves s's bytes to shared memory, freeing the old ones at once when nothing reads them."""
    if cg_storage_is_shared(s):  # moved before: its old bytes are the exports' business
        return
    cdef size_t old = <size_t>s.data
    check(cg_storage_share_memory(s))
    if (<size_t>s, old) not in _lent:
        cg_storage_free_old_bytes(s)
        _release_now()  # a numpy array the old bytes were borrowed from


cdef class _ArrayView:
    """Exposes a tensor's memory to numpy through __array_interface__. It holds the storage too:
    the tensor may move to another (Tensor.set_, .data =) while the array lives."""
    cdef readonly object tensor
    cdef readonly dict __array_interface__
    cdef cg_storage *storage
    cdef size_t lent  # the bytes' address (Note [Bytes lent out])

    def __cinit__(self, _TensorBase t):
        cdef cg_tensor *c = t.t
        cdef int64_t isz = cg_dtype_size(<cg_dtype>c.dtype)
        self.tensor = t
        self.lent = lend(c.storage)
        self.storage = c.storage
        self.__array_interface__ = {
            "shape": tuple([c.shape[i] for i in range(c.ndim)]),
            "strides": tuple([c.strides[i] * isz for i in range(c.ndim)]),
            "typestr": typestr(c.dtype),
            "data": (<size_t>cg_tensor_data(c), False),
            "version": 3,
        }

    def __dealloc__(self):
        if self.storage != NULL:
            give_back(self.storage, self.lent)


cdef void release_pyobject(void *data, void *ctx) noexcept nogil:
    with gil:
        _decref_later(<PyObject *>ctx)


cdef int numpy_code(object arr) except -1:
    kind = arr.dtype
    if kind == np.float32:
        return CG_FLOAT32
    if kind == np.float64:
        return CG_FLOAT64
    if kind == np.int64:
        return CG_INT64
    if kind == np.bool_:
        return CG_BOOL
    raise TypeError(
        f"can't convert np.ndarray of type numpy.{kind}. The only supported types are: "
        "float64, float32, int64, and bool.")


def from_numpy(arr):
    """A tensor sharing the memory of a numpy array."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    cdef int code = numpy_code(arr)
    cdef int64_t shape[8]
    cdef int64_t strides[8]
    cdef int nd = arr.ndim, i
    if nd > CG_MAX_DIMS:
        raise RuntimeError(f"cgrad supports at most {CG_MAX_DIMS} dimensions, got {nd}")
    isz = arr.itemsize
    for i in range(nd):
        shape[i] = arr.shape[i]
        if arr.strides[i] < 0:
            raise ValueError(
                "At least one stride in the given numpy array is negative, and tensors with negative "
                "strides are not currently supported. (You can probably work around this by making a "
                "copy of your array  with array.copy().) ")
        if arr.strides[i] % isz:
            raise ValueError("given numpy array strides not a multiple of the element byte size. "
                             "Copy the numpy array to reallocate the memory.")
        strides[i] = arr.strides[i] // isz
    cdef size_t addr = arr.__array_interface__["data"][0]
    Py_INCREF(arr)
    cdef cg_tensor *t = cg_from_blob(<void *>addr, shape, strides, nd, <cg_dtype>code,
                                     release_pyobject, <void *>arr)
    if t == NULL:
        Py_DECREF(arr)
    return wrap(t)


def _tensor_from_numpy_copy(arr, dt):
    """A new tensor holding a copy of arr, cast to dt (a dtype, or None: arr's own)."""
    if dt is None:
        if arr.dtype.kind == "f" and arr.dtype != np.float32:
            dt = float64
        elif arr.dtype.kind == "f":
            dt = float32
        elif arr.dtype.kind in "iu":
            dt = int64
        elif arr.dtype.kind == "b":
            dt = bool_
        else:
            raise TypeError(f"can't convert np.ndarray of type numpy.{arr.dtype}. The only supported "
                            "types are: float64, float32, float16, complex64, complex128, int64, int32, "
                            "int16, int8, uint64, uint32, uint16, uint8, and bool.")
    cdef int code = dtype_code(dt)
    arr = np.asarray(arr, dtype=dtype_of(code).numpy_dtype, order="C")
    cdef int64_t shape[8]
    cdef int nd = arr.ndim, i
    if nd > CG_MAX_DIMS:
        raise RuntimeError(f"cgrad supports at most {CG_MAX_DIMS} dimensions, got {nd}")
    for i in range(nd):
        shape[i] = arr.shape[i]
    cdef size_t addr = arr.__array_interface__["data"][0]
    return wrap(cg_from_data(<void *>addr, shape, nd, <cg_dtype>code))


# ---- DLPack -------------------------------------------------------------------
# The DLPack exchange structs (the ABI every array library shares), declared
# here from the DLPack specification.

cdef extern from *:
    """
    typedef struct { int32_t device_type; int32_t device_id; } CgDLDevice;
    typedef struct { uint8_t code; uint8_t bits; uint16_t lanes; } CgDLDataType;
    typedef struct {
        void *data; CgDLDevice device; int32_t ndim; CgDLDataType dtype;
        int64_t *shape; int64_t *strides; uint64_t byte_offset;
    } CgDLTensor;
    typedef struct CgDLManagedTensor {
        CgDLTensor dl_tensor; void *manager_ctx; void (*deleter)(struct CgDLManagedTensor *self);
    } CgDLManagedTensor;
    """
    ctypedef struct CgDLDevice:
        int32_t device_type
        int32_t device_id
    ctypedef struct CgDLDataType:
        uint8_t code
        uint8_t bits
        uint16_t lanes
    ctypedef struct CgDLTensor:
        void *data
        CgDLDevice device
        int32_t ndim
        CgDLDataType dtype
        int64_t *shape
        int64_t *strides
        uint64_t byte_offset
    ctypedef struct CgDLManagedTensor:
        CgDLTensor dl_tensor
        void *manager_ctx
        void (*deleter)(CgDLManagedTensor *self) noexcept nogil

from cpython.pycapsule cimport (PyCapsule_GetPointer, PyCapsule_IsValid, PyCapsule_New,
                                PyCapsule_SetName)

cdef enum:
    DL_CPU = 1
    DL_INT = 0
    DL_FLOAT = 2
    DL_BOOL = 6


cdef void dl_release(CgDLManagedTensor *m) noexcept nogil:
    # a consumer may call this from any thread, holding the GIL or not: the
    # release is a call into the core, serialized by the GIL like all others
    with gil:
        give_back(<cg_storage *>m.manager_ctx, <size_t>m.dl_tensor.data)
    free(m)


cdef void dl_capsule_destructor(object capsule) noexcept:
    if PyCapsule_IsValid(capsule, b"dltensor"):  # never consumed
        m = <CgDLManagedTensor *>PyCapsule_GetPointer(capsule, b"dltensor")
        m.deleter(m)


cdef object to_dlpack(_TensorBase t):
    cdef int nd = t.t.ndim, i
    cdef CgDLManagedTensor *m = <CgDLManagedTensor *>malloc(sizeof(CgDLManagedTensor) + 2 * 8 * sizeof(int64_t))
    if m == NULL:
        raise MemoryError()
    m.dl_tensor.byte_offset = t.t.offset * cg_dtype_size(<cg_dtype>t.t.dtype)
    m.dl_tensor.device.device_type = DL_CPU
    m.dl_tensor.device.device_id = 0
    m.dl_tensor.ndim = nd
    m.dl_tensor.dtype.code = (DL_FLOAT, DL_FLOAT, DL_INT, DL_BOOL)[t.t.dtype]
    m.dl_tensor.dtype.bits = cg_dtype_size(<cg_dtype>t.t.dtype) * 8
    m.dl_tensor.dtype.lanes = 1
    m.dl_tensor.shape = <int64_t *>(<char *>m + sizeof(CgDLManagedTensor))
    m.dl_tensor.strides = m.dl_tensor.shape + 8
    for i in range(nd):
        m.dl_tensor.shape[i] = t.t.shape[i]
        m.dl_tensor.strides[i] = t.t.strides[i]
    # the storage, not the tensor: the tensor may move to other bytes (set_, .data =) while the consumer reads
    try:
        m.dl_tensor.data = <void *>lend(t.t.storage)
    except BaseException:
        free(m)
        raise
    m.manager_ctx = <void *>t.t.storage
    m.deleter = dl_release
    return PyCapsule_New(<void *>m, b"dltensor", dl_capsule_destructor)


cdef void dl_import_deleter(void *data, void *ctx) noexcept nogil:
    cdef CgDLManagedTensor *m = <CgDLManagedTensor *>ctx
    with gil:  # producers' deleters may touch Python objects
        if m.deleter != NULL:
            m.deleter(m)


def _to_dlpack(data):
    """A DLPack capsule of data's memory, as cgrad.utils.dlpack.to_dlpack (a tensor that requires grad too)."""
    if not isinstance(data, _TensorBase):
        raise TypeError(f"_to_dlpack(): argument 'data' (position 1) must be Tensor, not {type(data).__name__}")
    reading(data, "to_dlpack()")
    return to_dlpack(data)


def from_dlpack(ext):
    """A tensor sharing the memory of any object that supports DLPack (torch, numpy, ...)."""
    if hasattr(ext, "__dlpack_device__"):
        device_type, _ = ext.__dlpack_device__()
        if device_type != DL_CPU:
            raise RuntimeError(f"from_dlpack: only CPU tensors are supported (device type {device_type})")
    capsule = ext.__dlpack__() if hasattr(ext, "__dlpack__") else ext
    if not PyCapsule_IsValid(capsule, b"dltensor"):
        raise ValueError("from_dlpack expects a DLPack capsule named 'dltensor' that was not consumed yet")
    cdef CgDLManagedTensor *m = <CgDLManagedTensor *>PyCapsule_GetPointer(capsule, b"dltensor")
    cdef CgDLTensor *dl = &m.dl_tensor
    cdef int code
    key = (dl.dtype.code, dl.dtype.bits, dl.dtype.lanes)
    codes = {(DL_FLOAT, 32, 1): CG_FLOAT32, (DL_FLOAT, 64, 1): CG_FLOAT64, (DL_INT, 64, 1): CG_INT64,
             (DL_BOOL, 8, 1): CG_BOOL, (1, 8, 1): -1}
    if key not in codes or codes[key] < 0:
        raise TypeError(f"from_dlpack: unsupported DLPack dtype (code={key[0]}, bits={key[1]}, lanes={key[2]}); "
                        "cgrad has float32, float64, int64 and bool")
    code = codes[key]
    if dl.device.device_type != DL_CPU:
        raise RuntimeError("from_dlpack: only CPU tensors are supported")
    if dl.ndim > CG_MAX_DIMS:
        raise RuntimeError(f"cgrad supports at most {CG_MAX_DIMS} dimensions, got {dl.ndim}")
    PyCapsule_SetName(capsule, b"used_dltensor")
    cdef char *data = <char *>dl.data + dl.byte_offset
    cdef cg_tensor *t = cg_from_blob(<void *>data, dl.shape, dl.strides, dl.ndim, <cg_dtype>code,
                                     dl_import_deleter, <void *>m)
    if t == NULL:
        m.deleter(m)
    return wrap(t)


# ---- hooks --------------------------------------------------------------------

cdef str hook_name(object fn):
    return getattr(fn, "__name__", None) or repr(fn)


cdef object checked_hook_result(object fn, object result, cg_tensor *grad):
    """The tensor a gradient hook returned, checked as PyTorch checks it."""
    if not isinstance(result, _TensorBase):
        raise TypeError(f"expected Variable, but hook returned '{type(result).__name__}'")
    cdef cg_tensor *r = (<_TensorBase>result).t
    if r.dtype != grad.dtype:
        raise RuntimeError(f"hook '{hook_name(fn)}' has changed the type of value (was "
                           f"{typename_of(grad.dtype)} got {typename_of(r.dtype)})")
    if r.ndim != grad.ndim or any(r.shape[i] != grad.shape[i] for i in range(r.ndim)):
        raise RuntimeError(f"hook '{hook_name(fn)}' has changed the size of value")
    return result


cdef str typename_of(int code):
    return ("torch.FloatTensor", "torch.DoubleTensor", "torch.LongTensor", "torch.BoolTensor")[code]


cdef int run_hook(void *ctx, cg_tensor *grad, cg_tensor **out) noexcept nogil:
    if cg_is_recording():
        cg_tape_break(b"a Python hook ran during backward")
    with gil:
        try:
            fn = <object>ctx
            result = fn(wrap_borrowed(grad))
            if result is not None:
                result = checked_hook_result(fn, result, grad)
                cg_tensor_retain((<_TensorBase>result).t)
                out[0] = (<_TensorBase>result).t
            return 0
        except BaseException as e:
            _pending.exc = e
            cg_error_set(CG_ERR_EXTERNAL, b"a hook raised an exception")
            return -1


cdef void release_hook(void *ctx) noexcept nogil:
    with gil:
        _decref_later(<PyObject *>ctx)


cdef class RemovableHandle:
    """Returned by register_hook; remove() unregisters the hook (also after
    the tensor or node it was registered on has gone)."""
    cdef cg_hook *h

    def __dealloc__(self):
        cg_hook_handle_release(self.h)

    @property
    def id(self):
        return cg_hook_id(self.h)

    def remove(self):
        cg_hook_remove(self.h)
        _release_now()

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.remove()


cdef RemovableHandle make_handle(cg_hook *h, object ctx):
    """Wraps h; on NULL drops the reference the hook would have owned and raises."""
    if h == NULL:
        Py_DECREF(ctx)
        raise_error()
    cdef RemovableHandle r = RemovableHandle.__new__(RemovableHandle)
    r.h = h
    _track_tensors()
    return r


# ---- Node ---------------------------------------------------------------------

# name() of the nodes PyTorch writes by hand rather than generates
_QUALIFIED_NAMES = {
    "AccumulateGrad": "torch::autograd::AccumulateGrad",
    "CopyBackwards": "torch::autograd::CopyBackwards",
    "CopySlices": "torch::autograd::CopySlices",
    "Error": "torch::autograd::Error",
}


cdef class Node:
    """One applied operation in the graph (a tensor's grad_fn)."""
    cdef cg_node *n
    cdef object __weakref__

    def __dealloc__(self):
        if self.n != NULL:
            cg_node_set_user(self.n, NULL)
            cg_node_release(self.n)

    def name(self):
        name = cg_node_name(self.n).decode()
        return _QUALIFIED_NAMES.get(name, name)

    @property
    def next_functions(self):
        cdef uint32_t nr = 0
        cdef cg_node *nx
        out = []
        for i in range(cg_node_num_next(self.n)):
            nx = cg_node_next(self.n, i, &nr)
            out.append((wrap_node(nx), nr) if nx != NULL else (None, 0))
        return tuple(out)

    @property
    def variable(self):
        cdef cg_tensor *v = cg_node_variable(self.n)
        if v == NULL:
            raise AttributeError(f"'{self.name()}' object has no attribute 'variable'")
        return wrap_borrowed(v)

    @property
    def _sequence_nr(self):
        return cg_node_sequence_nr(self.n)

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def __call__(self, *args):
        raise NotImplementedError("calling a grad_fn directly is not supported; use cgrad.autograd.grad")

    def __getattr__(self, name):
        # a custom Function's node shows its ctx: saved_tensors, needs_input_grad, ...
        cdef void *ctx = cg_function_ctx(self.n)
        if ctx != NULL and not name.startswith("__"):
            return getattr(<object>ctx, name)
        raise AttributeError(f"'{self.name()}' object has no attribute '{name}'")

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) runs after this node's backward and may
        return new grad_inputs."""
        return node_hook(self.n, fn, True)

    def register_prehook(self, fn):
        """fn(grad_outputs) runs before this node's backward and may return new
        grad_outputs."""
        return node_hook(self.n, fn, False)

    @property
    def _saved_tensors(self):
        """What this node saved for backward (history-free views; None for empty slots)."""
        cdef cg_tensor *t
        out = []
        for i in range(cg_node_num_saved(self.n)):
            t = cg_node_saved(self.n, i)
            if t == NULL and cg_error_kind() != CG_OK:  # an unpack hook raised
                raise_error()
            out.append(wrap(t) if t != NULL else None)
        return tuple(out)

    def _saved_meta(self):
        """(shape, dtype) of each tensor this node saved for backward, None for empty slots."""
        cdef cg_tensor *t
        out = []
        for i in range(cg_node_num_saved(self.n)):
            t = cg_node_saved(self.n, i)
            if t == NULL and cg_error_kind() != CG_OK:
                raise_error()
            out.append((_shape_of([t.shape[k] for k in range(t.ndim)]), dtype_of(t.dtype)) if t != NULL else None)
            cg_tensor_release(t)
        return out

    def _input_metadata(self):
        """(shape, dtype) of each input as the node recorded it, None where unknown."""
        cdef int64_t shape[8]
        cdef int nd = 0, i
        cdef cg_dtype dt = CG_FLOAT32
        out = []
        for i in range(max(cg_node_num_next(self.n), 1 if cg_node_variable(self.n) != NULL else 0)):
            if cg_node_input_meta(self.n, i, shape, &nd, &dt) == 0:
                out.append((_shape_of([shape[k] for k in range(nd)]), dtype_of(dt)))
            else:
                out.append(None)
        return tuple(out)


# ---- Tensor -------------------------------------------------------------------

# Python's cyclic collector and Tensors (see _tensor_traverse at the end of
# this file). A plain Tensor can only sit in a reference cycle through a
# Python hook or custom Function context its graph holds, so until the first
# of those is made the Tensors wrap() makes stay out of the collector's
# lists, which saves every collection the work of visiting them; they are
# linked here instead, and all tracked when that first one comes.
# Subclasses (Parameter, users') have a __dict__ and are always tracked.
cdef struct _Link:
    _Link *prev
    _Link *next

cdef _Link _untracked            # the list's head
cdef bint _tracking = False      # a hook or Function was made: new Tensors are tracked
cdef Py_ssize_t _link_offset = 0  # of _TensorBase._link in the object
_untracked.prev = _untracked.next = &_untracked


cdef void _track_tensors() noexcept:
    global _tracking
    if _tracking:
        return
    _tracking = True
    cdef _Link *l = _untracked.next
    cdef _Link *next
    cdef PyObject *o
    while l != NULL and l != &_untracked:
        next = l.next
        l.prev = l.next = NULL
        o = <PyObject *>(<char *>l - _link_offset)
        if Py_REFCNT(o) > 0:  # not one being deallocated (a weakref callback can come here)
            PyObject_GC_Track(o)
        l = next
    _untracked.prev = _untracked.next = &_untracked


# Wrappers that die are kept for reuse (up to 3 MB of them): a scalar graph
# makes and drops one per op, and a kept one skips the allocator and the
# collector's count of allocations, which would otherwise run a collection
# every 700 ops. Subclasses (heap types) are allocated as usual.
@cython.freelist(32768)
cdef class _TensorBase:
    """The C tensor a Tensor wraps, with the core operators and autograd attributes."""
    cdef cg_tensor *t
    cdef object _gc_slot  # always None: an object field makes Cython give the type the
                          # garbage collector's slots, which _tensor_traverse extends
    cdef object __weakref__
    cdef _Link _link      # in _untracked while not tracked by the collector
    # the C tensors wrapped 4 and 8 wrappers before this one: where results die
    # in a row, last made first, the 4th and 8th to die after it (not owned;
    # Note [Dropping results in a row] in csrc/tensor.c)
    cdef const cg_tensor *_before
    cdef const cg_tensor *_before2
    __array_priority__ = 1000

    def __dealloc__(self):
        if self._link.next != NULL:
            self._link.prev.next = self._link.next
            self._link.next.prev = self._link.prev
        if self.t != NULL:
            cg_tensor_release_wrapper(self.t, <void *>self, self._before, self._before2)
            _release_now()

    # -- operators --
    def __add__(self, other): return binary(cg_add, self, other)
    def __radd__(self, other): return binary(cg_add, self, other)  # number + tensor is tensor + number in PyTorch
    def __sub__(self, other): return binary(cg_sub, self, no_bool_sub(self, other))
    def __rsub__(self, other): return binary(cg_rsub, self, no_bool_sub(self, other))
    def __mul__(self, other): return binary(cg_mul, self, other)
    def __rmul__(self, other): return binary(cg_mul, self, other)
    def __truediv__(self, other): return binary(cg_div, self, other)
    def __rtruediv__(self, other):  # PyTorch's: reciprocal(tensor) * number, two roundings
        return binary(cg_mul, wrap(cg_reciprocal(self.t)), other) if is_number(other) else binary(cg_div, other, self)
    def __matmul__(self, other): return binary(cg_matmul, self, other) if not is_number(other) else NotImplemented
    def __rmatmul__(self, other): return binary(cg_matmul, other, self) if not is_number(other) else NotImplemented
    def __neg__(self): return wrap(cg_neg(self.t))
    def __pos__(self): return self

    def __pow__(self, other, mod):
        # integer tensors keep integer powers: only floating ones take the double fast path
        if (isinstance(other, (int, float)) and not isinstance(other, bool)
                and cg_dtype_is_floating(<cg_dtype>self.t.dtype)):
            return wrap(cg_pow_scalar(self.t, other))
        return binary(cg_pow, self, other)

    def __rpow__(self, other, mod):
        if (isinstance(other, (int, float)) and not isinstance(other, bool)
                and cg_dtype_is_floating(<cg_dtype>self.t.dtype)):
            return wrap(cg_rpow_scalar(other, self.t))
        return binary(cg_pow, other, self)

    def __iadd__(self, other): return inplace(cg_add_, self, other)
    def __isub__(self, other): return inplace(cg_sub_, self, no_bool_sub(self, other))
    def __imul__(self, other): return inplace(cg_mul_, self, other)
    def __itruediv__(self, other): return inplace(cg_div_, self, other)

    # -- math --
    def add(self, other, *, alpha=1):
        if type(alpha) is int and alpha == 1:
            return self + other
        return with_alpha(cg_add_alpha, self, other, alpha, "add")

    def sub(self, other, *, alpha=1):
        if type(alpha) is int and alpha == 1:
            return self - other
        return with_alpha(cg_sub_alpha, self, no_bool_sub(self, other), alpha, "sub")

    def mul(self, other): return method_result(binary(cg_mul, self, other), "mul", other)
    def div(self, other, *, rounding_mode=None):
        return method_result(binary(rounded_div(rounding_mode, "div"), self, other), "div", other)
    def matmul(self, other): return method_result(self.__matmul__(other), "matmul", other)
    def mm(self, mat2): return wrap(cg_mm(self.t, as_tensor_arg(mat2, self).t))
    def bmm(self, mat2): return wrap(cg_bmm(self.t, as_tensor_arg(mat2, self).t))
    def mv(self, vec): return wrap(cg_mv(self.t, as_tensor_arg(vec, self).t))
    def dot(self, other): return wrap(cg_dot(self.t, as_tensor_arg(other, self).t))

    def outer(self, vec2):
        for name, t in (("self", self), ("vec2", as_tensor_arg(vec2, self))):
            if (<_TensorBase>t).t.ndim != 1:
                raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {(<_TensorBase>t).t.ndim}-D")
        return self.reshape(-1, 1) * vec2

    def ger(self, vec2): return self.outer(vec2)
    def neg(self): return wrap(cg_neg(self.t))
    def exp(self): return wrap(cg_exp(self.t))
    def log(self): return wrap(cg_log(self.t))
    def tanh(self): return wrap(cg_tanh(self.t))
    def sigmoid(self): return wrap(cg_sigmoid(self.t))
    def relu(self): return wrap(cg_relu(self.t))

    def pow(self, exponent):
        return method_result(self.__pow__(exponent, None), "pow", exponent)

    def add_(self, other, *, alpha=1):
        if type(alpha) is int and alpha == 1:
            return inplace(cg_add_, self, other)
        return with_alpha(cg_add_alpha_, self, other, alpha, "add_")

    def sub_(self, other, *, alpha=1):
        if type(alpha) is int and alpha == 1:
            return inplace(cg_sub_, self, no_bool_sub(self, other))
        return with_alpha(cg_sub_alpha_, self, no_bool_sub(self, other), alpha, "sub_")

    def mul_(self, other): return inplace(cg_mul_, self, other)
    def div_(self, other, *, rounding_mode=None):
        cdef binary_fn fn = rounded_div(rounding_mode, "div")
        if rounding_mode is None:
            return inplace(cg_div_, self, other)
        return inplace_arg(fn, self, other, "div_", True)

    # PyTorch's other names for the same ops
    def subtract(self, other, *, alpha=1): return self.sub(other, alpha=alpha)
    def subtract_(self, other, *, alpha=1): return self.sub_(other, alpha=alpha)
    def multiply(self, other): return self.mul(other)
    def multiply_(self, other): return self.mul_(other)
    def divide(self, other, *, rounding_mode=None): return self.div(other, rounding_mode=rounding_mode)
    def divide_(self, other, *, rounding_mode=None): return self.div_(other, rounding_mode=rounding_mode)
    def true_divide(self, other): return self.div(other)
    def true_divide_(self, other): return self.div_(other)
    def negative(self): return self.neg()
    def absolute(self): return self.abs()
    def absolute_(self): return self.abs_()
    def arcsin(self): return self.asin()
    def arcsin_(self): return self.asin_()
    def arccos(self): return self.acos()
    def arccos_(self): return self.acos_()
    def arctan(self): return self.atan()
    def arctan_(self): return self.atan_()
    def greater(self, other): return self.gt(other)
    def greater_equal(self, other): return self.ge(other)
    def less(self, other): return self.lt(other)
    def less_equal(self, other): return self.le(other)
    def not_equal(self, other): return self.ne(other)
    def greater_(self, other): return self.gt_(other)
    def greater_equal_(self, other): return self.ge_(other)
    def less_(self, other): return self.lt_(other)
    def less_equal_(self, other): return self.le_(other)
    def not_equal_(self, other): return self.ne_(other)

    def positive(self):
        if self.t.dtype == CG_BOOL:
            raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
        return self
    def zero_(self): return wrap(cg_zero_(self.t))
    def fill_(self, value):
        if isinstance(value, _TensorBase):  # the Tensor overload: the value gets a gradient
            return wrap(cg_fill_tensor_(self.t, (<_TensorBase>value).t))
        return wrap(cg_fill_(self.t, number_arg(value, "fill_", "value")))

    def copy_(self, src):
        return wrap(cg_copy_(self.t, as_tensor_arg(src, self).t))

    # -- in-place random fills: recorded as torch's (a leaf that requires grad
    # refuses them; no gradient passes back through them)
    def normal_(self, mean=0, std=1, *, generator=None):
        return wrap(cg_normal_(self.t, float_arg(mean, "normal_", "mean"), float_arg(std, "normal_", "std"),
                               gen_ptr(generator)))

    def uniform_(self, *args, generator=None, **kwargs):
        low, high = number_pair(args, kwargs, ("from", "to"), (0, 1), "uniform_")
        return wrap(cg_uniform_(self.t, float_arg(low, "uniform_", "from"), float_arg(high, "uniform_", "to"),
                                gen_ptr(generator)))

    # -- shape --
    def reshape(self, *shape):
        cdef int64_t s[8]
        cdef int nd = parse_shape(shape, s)
        return wrap(cg_reshape(self.t, s, nd))

    def view(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], dtype):
            _supported_dtype(shape[0])
            raise NotImplementedError("view(dtype) is not supported; use .to(dtype)")
        cdef int64_t s[8]
        cdef int nd = parse_shape(shape, s)
        return wrap(cg_view(self.t, s, nd))

    def transpose(self, dim0, dim1):
        return wrap(cg_transpose(self.t, int_arg(dim0, "transpose", "dim0"), int_arg(dim1, "transpose", "dim1")))

    def permute(self, *dims):
        cdef int64_t d[8]
        cdef int nd = parse_shape(dims, d)
        return wrap(cg_permute(self.t, d, nd))

    def unsqueeze(self, dim):
        return wrap(cg_unsqueeze(self.t, int_arg(dim, "unsqueeze", "dim")))

    def squeeze(self, dim=None):
        cdef int64_t d[8]
        cdef int n = parse_dims(dim, d)
        return wrap(cg_squeeze(self.t, d if n >= 0 else NULL, n if n >= 0 else 0))

    # in place: self takes the view's layout (Note [In-place view ops] in csrc/inplace.c)
    def transpose_(self, dim0, dim1):
        return wrap(cg_transpose_(self.t, int_arg(dim0, "transpose_", "dim0"), int_arg(dim1, "transpose_", "dim1")))

    def swapaxes_(self, axis0, axis1):
        return wrap(cg_transpose_(self.t, int_arg(axis0, "swapaxes_", "axis0"), int_arg(axis1, "swapaxes_", "axis1")))

    def swapdims_(self, dim0, dim1):
        return wrap(cg_transpose_(self.t, int_arg(dim0, "swapdims_", "dim0"), int_arg(dim1, "swapdims_", "dim1")))

    def t_(self):
        return wrap(cg_t_(self.t))

    def unsqueeze_(self, dim):
        return wrap(cg_unsqueeze_(self.t, int_arg(dim, "unsqueeze_", "dim")))

    def squeeze_(self, dim=None):
        cdef int64_t d[8]
        cdef int n = parse_dims(dim, d)
        return wrap(cg_squeeze_(self.t, d if n >= 0 else NULL, n if n >= 0 else 0))

    def expand(self, *sizes):
        cdef int64_t s[8]
        cdef int nd = parse_shape(sizes, s)
        return wrap(cg_expand(self.t, s, nd))

    @property
    def T(self):
        cdef int64_t d[8]
        cdef int i, nd = self.t.ndim
        if nd != 2:
            deprecated_T(nd)
        for i in range(nd):
            d[i] = nd - 1 - i
        return wrap(cg_permute(self.t, d, nd))

    @property
    def mT(self):
        if self.t.ndim == 0:  # PyTorch's identity, deprecated
            warnings.warn("Tensor.mT is deprecated on 0-D tensors. This function is the identity in these cases.",
                          UserWarning)
            return self
        if self.t.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                               f"Got {self.t.ndim}-D tensor.")
        return wrap(cg_transpose(self.t, -2, -1))

    def contiguous(self, *, memory_format=contiguous_format):
        return wrap(cg_contiguous_format(self.t, format_arg(memory_format, "contiguous")))

    def clone(self, *, memory_format=preserve_format):
        return wrap(cg_clone_format(self.t, format_arg(memory_format, "clone", CG_PRESERVE_FORMAT)))

    # -- new tensors of this one's dtype (unless dtype says otherwise) --
    def new_zeros(self, *size, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
        return zeros(*size, dtype=dtype or self.dtype, layout=layout, device=device or _cpu, pin_memory=pin_memory,
                     requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
        return ones(*size, dtype=dtype or self.dtype, layout=layout, device=device or _cpu, pin_memory=pin_memory,
                    requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
        return empty(*size, dtype=dtype or self.dtype, layout=layout, device=device or _cpu, pin_memory=pin_memory,
                     requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, layout=None, device=None, pin_memory=False,
                 requires_grad=False):
        return full(size, fill_value, dtype=dtype or self.dtype, layout=layout, device=device or _cpu,
                    pin_memory=pin_memory, requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        from cgrad._creation import tensor
        factory_options(layout, device or _cpu, pin_memory)
        return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def type_as(self, other): return self.to((<_TensorBase>tensor_arg(other, "type_as", "other", 1)).dtype)
    def is_contiguous(self, *, memory_format=contiguous_format):
        return bool(cg_is_contiguous_as(self.t, format_arg(memory_format, "is_contiguous")))

    def dim_order(self, *, ambiguity_check=False):
        """The dims in memory order, outermost first (one of the orders that fit when several do)."""
        return _dim_order(self, ambiguity_check)

    def stride(self, dim=None):
        strides = tuple([self.t.strides[i] for i in range(self.t.ndim)])
        return strides if dim is None else strides[dim]

    # -- attributes --
    @property
    def shape(self):
        return _shape_of([self.t.shape[i] for i in range(self.t.ndim)])

    def size(self, dim=None):
        if dim is None:
            return self.shape
        cdef int nd = self.t.ndim
        if nd == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        if dim < -nd or dim >= nd:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
        return self.t.shape[dim % nd]

    @property
    def ndim(self): return self.t.ndim
    def dim(self): return self.t.ndim
    def numel(self): return self.t.numel
    def nelement(self): return self.t.numel
    def element_size(self): return cg_dtype_size(<cg_dtype>self.t.dtype)
    def ndimension(self): return self.t.ndim
    @property
    def itemsize(self): return cg_dtype_size(<cg_dtype>self.t.dtype)
    @property
    def nbytes(self): return self.t.numel * cg_dtype_size(<cg_dtype>self.t.dtype)
    def storage_offset(self): return self.t.offset
    def is_signed(self): return self.t.dtype != CG_BOOL
    def is_complex(self): return False
    def is_same_size(self, other): return self.shape == (<_TensorBase>tensor_arg(other, "is_same_size", "other", 1)).shape

    def is_nonzero(self):
        if self.t.numel == 0:
            raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
        if self.t.numel > 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return self.item() != 0

    @property
    def is_cpu(self): return True
    @property
    def is_cuda(self): return False

    @property
    def dtype(self): return dtype_of(self.t.dtype)

    def is_floating_point(self):
        return bool(cg_dtype_is_floating(<cg_dtype>self.t.dtype))

    @property
    def device(self): return _cpu

    @property
    def _version(self): return self.t.storage.version

    def data_ptr(self): return <size_t>cg_tensor_data(self.t)
    def const_data_ptr(self): return <size_t>cg_tensor_data(self.t)
    def is_distributed(self): return False

    @property
    def volatile(self):
        warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning, stacklevel=2)
        return False

    @volatile.setter
    def volatile(self, value):
        warnings.warn("volatile was removed and now has no effect. Use `with cgrad.no_grad():` instead.",
                      UserWarning, stacklevel=2)

    # -- autograd --
    @property
    def requires_grad(self): return bool(self.t.requires_grad)

    @requires_grad.setter
    def requires_grad(self, value):
        check(cg_tensor_set_requires_grad(self.t, bool(value)))

    def requires_grad_(self, requires_grad=True):
        if requires_grad and not cg_dtype_is_floating(<cg_dtype>self.t.dtype):
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        check(cg_tensor_set_requires_grad(self.t, bool(requires_grad)))
        return self

    @property
    def is_leaf(self): return self.t.grad_fn == NULL

    @property
    def _base(self):
        """The tensor this one is a view of (the first that is not a view), or None."""
        return wrap_borrowed(self.t.base)

    def _is_view(self): return self.t.base != NULL

    @property
    def grad_fn(self): return wrap_node(cg_tensor_grad_fn(self.t))

    @property
    def grad(self):
        if self.t.grad == NULL and self.t.grad_fn != NULL and not self.t.retains_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
                "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
                "instead. See github.com/pytorch/pytorch/pull/30531 for more information.",
                UserWarning, stacklevel=1)  # Cython frames do not count: 1 is the caller's line
        if cg_is_recording():
            cg_tape_note_grad(self.t)
        return wrap_borrowed(self.t.grad)

    @grad.setter
    def grad(self, value):
        if value is None:
            check(cg_tensor_set_grad(self.t, NULL))
        elif isinstance(value, _TensorBase):
            check(cg_tensor_set_grad(self.t, (<_TensorBase>value).t))
        else:
            raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                            f"{type(value).__name__}")

    @grad.deleter
    def grad(self):
        check(cg_tensor_set_grad(self.t, NULL))

    @property
    def retains_grad(self): return bool(self.t.retains_grad)

    @property
    def _output_nr(self): return self.t.output_nr

    def retain_grad(self):
        check(cg_tensor_retain_grad(self.t))

    def detach(self): return wrap(cg_detach(self.t))

    def detach_(self):
        if self.t.base != NULL:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel (DDP) "
                "for training, and gradient_as_bucket_view is set as True, gradients are views of DDP buckets, and "
                "hence detach_() cannot be called on these gradients. To fix this error, please refer to the "
                "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
        check(cg_detach_(self.t))
        return self

    @property
    def data(self): return wrap(cg_detach(self.t))

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        cdef cg_tensor *root = self.t
        cdef cg_tensor *implicit = NULL
        cdef int rc
        if gradient is None and retain_graph is None and create_graph is False and inputs is None:
            # `loss.backward()`, once per training step: no tuples or arrays to build
            _nogil_begin()
            with nogil:
                rc = cg_backward(&root, &implicit, 1, 0, 0)
            _nogil_end()
            check(rc)
            return
        _run_backward((self,), (gradient,), retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """hook(grad) runs when this tensor's gradient is computed and may
        return a tensor to use instead."""
        Py_INCREF(hook)
        return make_handle(cg_tensor_register_hook(self.t, run_hook, <void *>hook, release_hook), hook)

    def register_post_accumulate_grad_hook(self, hook):
        """hook(tensor) runs after backward has updated this leaf's .grad."""
        Py_INCREF(hook)
        return make_handle(cg_tensor_register_post_accumulate_hook(self.t, run_post_accumulate_hook,
                                                                   <void *>hook, release_hook), hook)

    # -- values --
    def item(self):
        reading(self, "item()")
        if self.t.numel != 1:
            raise RuntimeError(f"a Tensor with {self.t.numel} elements cannot be converted to Scalar")
        cdef double v = cg_tensor_item(self.t)
        if self.t.dtype == CG_INT64:
            return (<int64_t *>cg_tensor_data(self.t))[0]
        if self.t.dtype == CG_BOOL:
            return v != 0
        return v

    def numpy(self, *, force=False):
        reading(self, "numpy()")
        if self.t.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return np.asarray(_ArrayView(self))

    def __array__(self, dtype=None, copy=None):
        reading(self, "numpy.asarray()")
        arr = self.numpy()
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def tolist(self):
        reading(self, "tolist()")
        return np.asarray(_ArrayView(self)).tolist()

    def to(self, *args, **kwargs):
        d = kwargs.get("dtype")
        for a in args:
            if isinstance(a, dtype):
                d = a
            elif isinstance(a, _TensorBase):
                d = a.dtype
            elif a is None or isinstance(a, (str, device)) or (isinstance(a, int) and not isinstance(a, bool)):
                _check_device(a)
            elif isinstance(getattr(a, "type", None), str) and hasattr(a, "index"):  # another library's device
                _check_device(str(a))
            else:
                raise TypeError(f"to() received an invalid combination of arguments - got ({type(a).__name__})")
        _check_device(kwargs.get("device"))
        cdef cg_dtype code = <cg_dtype>self.t.dtype if d is None else dtype_code(d)
        cdef cg_memory_format f = format_arg(_to_format_arg(kwargs.get("memory_format")), "to", CG_PRESERVE_FORMAT)
        cdef bint laid_out = f == CG_PRESERVE_FORMAT or cg_is_contiguous_as(self.t, f)
        if code == self.t.dtype and laid_out and not kwargs.get("copy"):
            return self
        return wrap(cg_to_dtype_format(self.t, code, f))

    def type(self, dtype=None, non_blocking=False, *, memory_format=preserve_format):
        if dtype is None:
            return ("torch.FloatTensor", "torch.DoubleTensor", "torch.LongTensor", "torch.BoolTensor")[self.t.dtype]
        if isinstance(dtype, str):
            dtype = _dtype_of_tensor_type(dtype)
        else:
            from cgrad._tensor_types import tensortype
            if isinstance(dtype, tensortype):  # cgrad.FloatTensor, ...
                dtype = dtype.dtype
        return self.to(dtype, memory_format=memory_format)

    def float(self, memory_format=preserve_format): return self.to(float32, memory_format=memory_format)
    def double(self, memory_format=preserve_format): return self.to(float64, memory_format=memory_format)
    def long(self, memory_format=preserve_format): return self.to(int64, memory_format=memory_format)
    def bool(self, memory_format=preserve_format): return self.to(bool_, memory_format=memory_format)
    # PyTorch's conversions to dtypes cgrad has no tensors of: each raises NotImplementedError naming the dtype
    def int(self, memory_format=preserve_format): return self.to(int32, memory_format=memory_format)
    def short(self, memory_format=preserve_format): return self.to(int16, memory_format=memory_format)
    def char(self, memory_format=preserve_format): return self.to(int8, memory_format=memory_format)
    def byte(self, memory_format=preserve_format): return self.to(uint8, memory_format=memory_format)
    def half(self, memory_format=preserve_format): return self.to(float16, memory_format=memory_format)
    def bfloat16(self, memory_format=preserve_format): return self.to(bfloat16, memory_format=memory_format)
    def chalf(self, memory_format=preserve_format): return self.to(complex32, memory_format=memory_format)
    def cfloat(self, memory_format=preserve_format): return self.to(complex64, memory_format=memory_format)
    def cdouble(self, memory_format=preserve_format): return self.to(complex128, memory_format=memory_format)
    def cpu(self, memory_format=preserve_format): return self.to(memory_format=memory_format)

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        raise AssertionError("Torch not compiled with CUDA enabled")

    def pin_memory(self, device=None):
        raise RuntimeError("Cannot access accelerator device when none is available.")

    def __len__(self):
        if self.t.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.t.shape[0]

    def __bool__(self):
        reading(self, "bool()")
        if self.t.numel != 1:
            if self.t.numel == 0:
                raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __float__(self):
        if self.t.numel != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        reading(self, "float()")
        return float(self.item())

    def __int__(self):
        if self.t.numel != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        reading(self, "int()")
        return int(self.item())

    def __index__(self):
        reading(self, "using a tensor as an index")
        if self.t.dtype != CG_INT64 or self.t.numel != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return self.item()

    def __hash__(self):
        return id(self)

    def __repr__(self):
        reading(self, "printing a tensor (repr)")
        from cgrad._tensor_str import tensor_repr
        return tensor_repr(self)

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self.detach().numpy().copy(), self.requires_grad))

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        reading(self, "__dlpack__()")
        if self.t.requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        if copy:
            return to_dlpack(<_TensorBase>self.clone())
        return to_dlpack(self)

    def __dlpack_device__(self):
        return (DL_CPU, 0)

    def __format__(self, spec):
        reading(self, "formatting a tensor")
        if self.t.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)


def _rebuild(arr, requires_grad):
    t = _tensor_from_numpy_copy(arr, None)
    t.requires_grad_(requires_grad)
    return t


# ---- autograd entry points ----------------------------------------------------

cdef cg_tensor **tensor_array(object seq, int n, str what=None) except NULL:
    """The C tensors of seq; None becomes NULL, unless `what` names the argument
    (then only Tensors are allowed)."""
    for x in seq[:n]:
        if not isinstance(x, _TensorBase) and (what is not None or x is not None):
            if what == "inputs":
                raise RuntimeError(f"all inputs have to be Tensors, but got {type(x).__name__}")
            raise TypeError(f"{what or 'gradients'} must be Tensors (or None), but got {type(x).__name__}")
    cdef cg_tensor **arr = <cg_tensor **>malloc(max(n, 1) * sizeof(cg_tensor *))
    if arr == NULL:
        raise MemoryError()
    for i in range(n):
        x = seq[i]
        arr[i] = (<_TensorBase>x).t if x is not None else NULL
    return arr


_warned_create_graph = False


def _warn_create_graph():
    global _warned_create_graph
    if not _warned_create_graph:
        _warned_create_graph = True
        warnings.warn(
            "Using backward() with create_graph=True will create a reference cycle between the parameter "
            "and its gradient which can cause a memory leak. We recommend using autograd.grad when "
            "creating the graph to avoid this. If you have to use this function, make sure to reset the "
            ".grad fields of your parameters to None after use to break the cycle and avoid the leak.",
            UserWarning, stacklevel=_user_stacklevel())


def _run_backward(tensors, grad_tensors, retain_graph, create_graph, inputs):
    """Backpropagates from tensors (with grad_tensors, None for implicit ones)."""
    tensors = tuple(tensors)
    grads = []
    for t, g in zip(tensors, grad_tensors):
        if not isinstance(t, _TensorBase):
            raise TypeError(f"backward expects Tensors, got {type(t).__name__}")
        grads.append(as_tensor_arg(g, t) if g is not None else None)
    if inputs is None:
        inputs = ()
    elif isinstance(inputs, _TensorBase):
        inputs = (inputs,)
    else:
        inputs = tuple(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    if create_graph:
        _warn_create_graph()
    cdef int n = len(tensors), ni = len(inputs), rc
    cdef int keep = bool(create_graph) if retain_graph is None else bool(retain_graph)
    cdef int create = bool(create_graph)
    cdef cg_tensor **roots = tensor_array(tensors, n)
    cdef cg_tensor **gs = NULL
    cdef cg_tensor **ins = NULL
    try:
        gs = tensor_array(grads, n)
        ins = tensor_array(inputs, ni, "inputs")
        _nogil_begin()
        with nogil:
            rc = cg_backward_inputs(roots, gs, n, keep, create, ins, ni)
        _nogil_end()
        check(rc)
    finally:
        free(roots)
        free(gs)
        free(ins)


def _current_graph_task_id():
    """The id of the backward pass running on this thread (the innermost), -1 outside backward."""
    return cg_current_run_id()


def _will_engine_execute_node(Node node):
    """Whether the backward pass running on this thread runs node (or captures its gradient)."""
    if cg_current_run_id() < 0:
        raise RuntimeError("_get_should_execute_nodes should only be called during the backward pass")
    return bool(cg_node_will_execute(node.n))


def _run_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused):
    """Gradients of outputs with respect to inputs, as a tuple (None where unused)."""
    outputs = tuple(outputs)
    inputs = tuple(inputs)
    grads = [as_tensor_arg(g, t) if g is not None else None for t, g in zip(outputs, grad_outputs)]
    cdef int n = len(outputs), ni = len(inputs), rc, i
    cdef int keep = bool(create_graph) if retain_graph is None else bool(retain_graph)
    cdef int create = bool(create_graph), unused = bool(allow_unused)
    cdef cg_tensor **roots = tensor_array(outputs, n, "outputs")
    cdef cg_tensor **gs = NULL
    cdef cg_tensor **ins = NULL
    cdef cg_tensor **out = NULL
    try:
        gs = tensor_array(grads, n)
        ins = tensor_array(inputs, ni, "inputs")
        out = <cg_tensor **>malloc(max(ni, 1) * sizeof(cg_tensor *))
        if out == NULL:
            raise MemoryError()
        _nogil_begin()
        with nogil:
            rc = cg_grad(roots, gs, n, ins, ni, keep, create, unused, out)
        _nogil_end()
        check(rc)
        return tuple([wrap(out[i]) if out[i] != NULL else None for i in range(ni)])
    finally:
        free(roots)
        free(gs)
        free(ins)
        free(out)


def _is_grad_enabled():
    return bool(cg_is_grad_enabled())


def _set_grad_enabled(bint mode):
    cg_set_grad_enabled(mode)


# ---- grad mode's context managers (cgrad.autograd.grad_mode) -------------------
# Extension types: a training step enters one every time. As Python classes
# (a __new__ for the bare decorator, a dict per instance) entering and leaving
# one cost about 3,200 instructions, as much as two ops; as these, 1,750.

cdef class _GradMode:
    """A context manager that is also a decorator: entering sets grad mode to
    `_mode`, leaving restores what it was."""
    cdef public bint _prev
    cdef bint _mode

    def __enter__(self):
        self._prev = cg_is_grad_enabled()
        cg_set_grad_enabled(self._mode)

    def __exit__(self, exc_type, exc_value, traceback):
        cg_set_grad_enabled(self._prev)
        return False

    def _same(self):
        """A new manager setting the same mode: each call of a decorated function enters one."""
        return type(self)()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._same():
                return fn(*args, **kwargs)

        return wrapper


cdef class no_grad(_GradMode):
    """Operations inside do not record the graph."""

    def __cinit__(self):
        self._mode = False


cdef class enable_grad(_GradMode):
    """Operations inside record the graph, even within no_grad."""

    def __cinit__(self):
        self._mode = True


_inference_state = threading.local()


def is_inference_mode_enabled():
    return getattr(_inference_state, "on", False)


cdef class inference_mode(_GradMode):
    """Like no_grad (cgrad has no separate inference tensors); is_inference_mode_enabled() tells it is on."""
    cdef bint _prev_inference

    def __cinit__(self, mode=True):
        self._mode = not mode

    def __enter__(self):
        self._prev_inference = is_inference_mode_enabled()
        _inference_state.on = not self._mode
        _GradMode.__enter__(self)

    def __exit__(self, exc_type, exc_value, traceback):
        _inference_state.on = self._prev_inference
        return _GradMode.__exit__(self, exc_type, exc_value, traceback)

    def _same(self):
        return inference_mode(not self._mode)


cdef class set_grad_enabled(_GradMode):
    """Sets grad mode on or off; as a function call it takes effect at once."""

    def __cinit__(self, mode):
        self._prev = cg_is_grad_enabled()
        self._mode = bool(mode)
        cg_set_grad_enabled(self._mode)

    def __enter__(self):
        return None

    def _same(self):
        return set_grad_enabled(self._mode)

    def __call__(self, fn):
        cg_set_grad_enabled(self._prev)  # as a decorator, the mode changes only inside fn
        return _GradMode.__call__(self, fn)


# Two things Python classes did that extension types do not, done here:
# - `@no_grad` and `@enable_grad` work without parentheses, as torch's do:
#   called with just a function, the class gives it back decorated. An
#   extension type's construction cannot return another object, so their
#   tp_new is wrapped, and Cython's own construction call, which would skip
#   tp_new, is turned off for them (300 instructions more a `no_grad()`).
#   Cython makes static types on CPython, whose slots may be set here.
# - The four say they live in cgrad.autograd.grad_mode, as users import
#   them: an extension type's module is the prefix of its tp_name.
cdef extern from "Python.h":
    ctypedef struct _TypeSlots "PyTypeObject":
        const char *tp_name
        void *tp_vectorcall

cdef newfunc _no_grad_new = NULL, _enable_grad_new = NULL


cdef object _bare_or_new(newfunc made, type cls, PyObject *args, PyObject *kwargs):
    cdef Py_ssize_t n = len(<tuple>args)
    if n == 1 and kwargs == NULL and callable((<tuple>args)[0]):
        return cls()((<tuple>args)[0])
    if n or (kwargs != NULL and <dict>kwargs):
        raise TypeError(f"{cls.__name__}() takes no arguments")
    return made(cls, args, kwargs)


cdef object _no_grad_tp_new(type cls, PyObject *args, PyObject *kwargs):
    return _bare_or_new(_no_grad_new, cls, args, kwargs)


cdef object _enable_grad_tp_new(type cls, PyObject *args, PyObject *kwargs):
    return _bare_or_new(_enable_grad_new, cls, args, kwargs)


cdef _setup_grad_modes():
    global _no_grad_new, _enable_grad_new
    _no_grad_new = (<PyTypeObject *>no_grad).tp_new
    _enable_grad_new = (<PyTypeObject *>enable_grad).tp_new
    (<PyTypeObject *>no_grad).tp_new = <newfunc>_no_grad_tp_new
    (<PyTypeObject *>enable_grad).tp_new = <newfunc>_enable_grad_tp_new
    (<_TypeSlots *>no_grad).tp_vectorcall = NULL
    (<_TypeSlots *>enable_grad).tp_vectorcall = NULL
    (<_TypeSlots *>no_grad).tp_name = "cgrad.autograd.grad_mode.no_grad"
    (<_TypeSlots *>enable_grad).tp_name = "cgrad.autograd.grad_mode.enable_grad"
    (<_TypeSlots *>inference_mode).tp_name = "cgrad.autograd.grad_mode.inference_mode"
    (<_TypeSlots *>set_grad_enabled).tp_name = "cgrad.autograd.grad_mode.set_grad_enabled"

_setup_grad_modes()


include "_autograd.pxi"


# ---- creation -----------------------------------------------------------------

cdef cg_dtype resolve(object dt) except *:
    return cg_get_default_dtype() if dt is None else dtype_code(dt)


cdef object finish_new(cg_tensor *t, bint requires_grad):
    r = wrap(t)
    if requires_grad:
        _require_grad_of_new(r)
    return r


def _require_grad_of_new(t):
    """requires_grad=True given to a function that makes t: PyTorch's message for a dtype that cannot have it
    is not requires_grad_()'s."""
    if not t.dtype.is_floating_point:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
    t.requires_grad_(True)


def zeros(*size, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    factory_options(layout, device, pin_memory)
    cdef int64_t s[8]
    cdef int nd = parse_shape(size, s)
    for k in range(nd):
        if s[k] < 0:
            raise RuntimeError("zeros: Dimension size must be non-negative.")
    return finish_new(cg_zeros(s, nd, resolve(dtype)), requires_grad)


def ones(*size, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    factory_options(layout, device, pin_memory)
    cdef int64_t s[8]
    cdef int nd = parse_shape(size, s)
    return finish_new(cg_ones(s, nd, resolve(dtype)), requires_grad)


def empty(*size, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False, memory_format=None):
    factory_options(layout, device, pin_memory)
    cdef int64_t s[8]
    cdef int nd = parse_shape(size, s)
    cdef cg_memory_format f = format_arg(memory_format, "empty", CG_CONTIGUOUS_FORMAT)
    return finish_new(cg_empty_format(s, nd, resolve(dtype), f), requires_grad)


def full(size, fill_value, *, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    factory_options(layout, device, pin_memory)
    cdef int64_t s[8]
    cdef int nd = parse_shape((size,), s)
    if dtype is None:
        dtype = (bool_ if isinstance(fill_value, bool) else int64 if isinstance(fill_value, int)
                 else get_default_dtype())
    return finish_new(cg_full(s, nd, number_arg(fill_value, "full", "fill_value"), resolve(dtype)), requires_grad)


cdef class Generator:
    """A source of random numbers (xoshiro256**), seeded with manual_seed."""
    cdef cg_generator g
    cdef cg_generator *p  # &g, or the process-wide generator's for default_generator
    cdef uint64_t _seed

    def __init__(self, device="cpu"):
        _check_generator_device(device)
        self.p = &self.g
        self.manual_seed(67280421310721)

    @property
    def device(self): return _cpu

    def manual_seed(self, seed):
        """Seeds the generator with seed (taken modulo 2**64) and returns it."""
        self._seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        keep_while_recording(self)  # a recorded step seeds it again on every replay
        check(cg_generator_manual_seed(self.p, self._seed))
        return self

    def seed(self):
        """Seeds the generator from the operating system's entropy and returns the seed."""
        seed = int.from_bytes(os.urandom(8), "little") & 0x7FFFFFFFFFFFFFFF
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The generator's state, an int64 tensor that set_state takes back (cgrad's own
        layout: the xoshiro256** words, the spare normal draw, the seed)."""
        if cg_is_recording():
            cg_tape_break(b"%s", b"it reads a random generator's state (get_rng_state, fork_rng), which changes "
                          b"from call to call")
        cdef cg_generator *g = self.p
        words = [<int64_t>g.s[0], <int64_t>g.s[1], <int64_t>g.s[2], <int64_t>g.s[3], g.has_spare,
                 struct.unpack("<q", struct.pack("<d", g.spare_normal))[0], <int64_t>self._seed]
        return from_numpy(np.array(words, dtype=np.int64))

    def set_state(self, new_state):
        """Restores a state get_state returned; returns the generator."""
        if not isinstance(new_state, _TensorBase):
            raise TypeError(f"set_state(): argument 'new_state' (position 1) must be Tensor, not "
                            f"{type(new_state).__name__}")
        if new_state.dtype is not int64 or new_state.numel() != _STATE_WORDS:
            raise RuntimeError(f"set_state(): expected a state from get_state(), an int64 tensor of {_STATE_WORDS} "
                               f"elements, but got a {new_state.dtype} tensor of {new_state.numel()} elements")
        words = new_state.reshape(-1).tolist()
        cdef uint64_t s[4]
        for i in range(4):
            s[i] = <uint64_t>(words[i] & 0xFFFFFFFFFFFFFFFF)
        if not (s[0] or s[1] or s[2] or s[3]):
            raise RuntimeError("set_state(): the state's generator words are all zero, which xoshiro256** "
                               "never reaches: not a state from get_state()")
        keep_while_recording(self)  # a recorded step restores it again on every replay
        check(cg_generator_set_state(self.p, s, 1 if words[4] else 0,
                                     struct.unpack("<d", struct.pack("<q", words[5]))[0]))
        self._seed = words[6] & 0xFFFFFFFFFFFFFFFF
        return self

    def clone_state(self):
        """A new Generator in this one's state."""
        other = Generator()
        other.set_state(self.get_state())
        return other

    def __reduce__(self):
        return (_generator_from_state, (self.get_state(),))


_STATE_WORDS = 7


def _generator_from_state(state):
    return Generator().set_state(state)


cdef Generator _make_default_generator():
    cdef Generator gen = Generator.__new__(Generator)
    gen.p = cg_default_generator()
    gen._seed = 67280421310721
    return gen


default_generator = _make_default_generator()


cdef cg_generator *gen_ptr(object generator) except? NULL:
    if generator is None:
        return NULL
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a cgrad.Generator, got {type(generator).__name__}")
    keep_while_recording(generator)
    return (<Generator>generator).p


def rand(*size, generator=None, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    factory_options(layout, device, pin_memory)
    cdef int64_t s[8]
    cdef int nd = parse_shape(size, s)
    return finish_new(cg_rand(s, nd, resolve(dtype), gen_ptr(generator)), requires_grad)


def randn(*size, generator=None, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    factory_options(layout, device, pin_memory)
    cdef int64_t s[8]
    cdef int nd = parse_shape(size, s)
    return finish_new(cg_randn(s, nd, resolve(dtype), gen_ptr(generator)), requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, layout=None, device=None, pin_memory=False,
            requires_grad=False):
    """Integers drawn uniformly from [low, high) (int64 unless dtype says otherwise)."""
    factory_options(layout, device, pin_memory)
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    low, high = int_arg(low, "randint", "low"), int_arg(high, "randint", "high")
    cdef int64_t s[8]
    cdef int nd = parse_shape((size,), s)
    if is_complex_dtype(dtype):
        raise RuntimeError("check_random_bounds handles only integral, floating-point and boolean types")
    code = CG_INT64 if dtype is None else dtype_code(dtype)
    return finish_new(cg_randint(low, high, s, nd, <cg_dtype>code, gen_ptr(generator)), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    """Values from start (default 0) up to end, step apart."""
    factory_options(layout, device, pin_memory)
    if end is None:
        start, end = 0, start
    values = (start, end, step)
    if dtype is None:
        floating = any(isinstance(v, float) or (isinstance(v, _TensorBase) and v.is_floating_point())
                       for v in values)
        dtype = get_default_dtype() if floating else int64
    return finish_new(cg_arange(number_arg(start, "arange", "start"), number_arg(end, "arange", "end"),
                                number_arg(step, "arange", "step"), dtype_code(dtype)), requires_grad)


def linspace(start, end, steps, *, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    """steps values evenly spaced from start to end inclusive."""
    factory_options(layout, device, pin_memory)
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"linspace(): argument 'steps' must be int, not {type(steps).__name__}")
    return finish_new(cg_linspace(float(start), float(end), steps, resolve(dtype)), requires_grad)


def eye(n, m=None, *, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    """An n x m matrix with ones on the diagonal."""
    factory_options(layout, device, pin_memory)
    cdef int64_t rows = int_arg(n, "eye", "n")
    cdef int64_t cols = rows if m is None else int_arg(m, "eye", "m")
    return finish_new(cg_eye(rows, cols, resolve(dtype)), requires_grad)


def randperm(n, *, generator=None, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    """0, 1, ..., n - 1 in a random order (int64 unless dtype says otherwise)."""
    factory_options(layout, device, pin_memory)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"randperm(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    code = CG_INT64 if dtype is None else dtype_code(dtype)
    return finish_new(cg_randperm(n, <cg_dtype>code, gen_ptr(generator)), requires_grad)


def bernoulli(input, p=None, *, generator=None):
    """1 with probability input (or p), else 0, in input's shape and dtype."""
    cdef _TensorBase x = tensor_arg(input, "bernoulli", "input", 1)
    if p is None:
        return wrap(cg_bernoulli(x.t, gen_ptr(generator)))
    return wrap(cg_bernoulli_p(x.t, float(p), gen_ptr(generator)))


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """num_samples category indices per row of weights (1-d or 2-d), without
    replacement unless asked."""
    cdef _TensorBase x = tensor_arg(input, "multinomial", "input", 1)
    cdef int64_t n = int_arg(num_samples, "multinomial", "num_samples")
    return wrap(cg_multinomial(x.t, n, bool(replacement), gen_ptr(generator)))


def poisson(input, generator=None):
    """Poisson counts with input's elements (>= 0) as their means, in input's dtype."""
    cdef _TensorBase x = tensor_arg(input, "poisson", "input", 1)
    return wrap(cg_poisson(x.t, gen_ptr(generator)))


def binomial(count, prob, generator=None):
    """Binomial counts of successes in count trials with success probabilities prob."""
    cdef _TensorBase n = tensor_arg(count, "binomial", "count", 1)
    cdef _TensorBase p = tensor_arg(prob, "binomial", "prob", 2)
    return wrap(cg_binomial(n.t, p.t, gen_ptr(generator)))


def igamma(input, other):
    """The regularized lower incomplete gamma function P(input, other)."""
    return tensors_only(cg_igamma, tensor_arg(input, "igamma", "input", 1), other, "igamma", 2)


def igammac(input, other):
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P(input, other)."""
    return tensors_only(cg_igammac, tensor_arg(input, "igammac", "input", 1), other, "igammac", 2)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct elements of input (its distinct slices along dim), in
    ascending order, and, if asked, where each element went among them and
    how often each came. `sorted` is accepted: the result is always sorted."""
    cdef _TensorBase x = tensor_arg(input, "unique", "input", 1)
    cdef cg_tensor *values
    cdef cg_tensor *inverse
    cdef cg_tensor *counts
    cdef int64_t d = 0 if dim is None else int_arg(dim, "unique", "dim")
    if cg_unique(x.t, dim is not None, d, &values, &inverse, &counts):
        raise_error()
    out = (wrap(values), wrap(inverse), wrap(counts))
    if return_inverse and return_counts:
        return out
    if return_inverse:
        return out[0], out[1]
    if return_counts:
        return out[0], out[2]
    return out[0]


def _unique_consecutive_history(_TensorBase values, _TensorBase input):
    """values (without history) takes unique_consecutive's node, whose backward fails, as in PyTorch."""
    if cg_unique_consecutive_history(values.t, input.t):
        raise_error()
    return values


def manual_seed(seed):
    """Seeds the default generator; returns it."""
    return default_generator.manual_seed(seed)


def _scalar_tensor(value, dt=None):
    """A 0-d tensor holding a Python number."""
    cdef cg_tensor *t
    try:
        t = scalar_operand(value, NULL)
    except OverflowError:
        raise ValueError(f"Overflow when unpacking long long: {value} does not fit in 64 bits") from None
    if t == NULL:
        raise TypeError(f"expected a number, got {type(value).__name__}")
    r = wrap(t)
    (<_TensorBase>r).t.is_wrapped = 0
    return r if dt is None else r.to(dt)


cdef object _matrix_t(_TensorBase x):
    return wrap(cg_t(x.t))


# ---- the Tensor class -----------------------------------------------------------
# Tensor's methods come in families, one file each, chained by inheritance:
# _TensorBase (above) <- _TensorMath <- _TensorReduce <- _TensorShape
# <- _TensorIndex <- _TensorNN <- Tensor. Each file also defines the
# module-level functions of its family; public ones become cgrad.<name>.

include "_tensor_math.pxi"
include "_tensor_reduce.pxi"
include "_tensor_shape.pxi"
include "_tensor_index.pxi"
include "_tensor_nn.pxi"
include "_tensor_linalg.pxi"
include "_linalg_lapack.pxi"
include "_compile.pxi"
include "_pool.pxi"
include "_nnmisc.pxi"

include "_conv.pxi"
include "_special.pxi"
include "_storage.pxi"


cdef class Tensor(_TensorLinalg):
    """A multi-dimensional array that can record the operations applied to it."""

    def as_subclass(self, cls):
        """self as an instance of cls, a Tensor subclass: an alias of it (AliasBackward0), as PyTorch's."""
        if not (isinstance(cls, type) and issubclass(cls, Tensor)):
            raise TypeError("Creating a Tensor subclass from a class that does not inherit from Tensor is not "
                            "possible. Make sure your class inherits from Tensor.")
        return _tensor_of_class(cls, _TensorIndex.__getitem__(self, Ellipsis))  # whatever self's [...] is

    def __init__(self, *args, **kwargs):
        """Nothing: a Tensor is whole when made (_tensor_new); the arguments were its maker's."""

    # here, where no method reads the C field of the same name
    def t(self):
        """The transpose of a tensor of at most 2 dims; one of 0 or 1 dims as it is."""
        return _matrix_t(self)

    # random draws
    def bernoulli(self, p=None, *, generator=None):
        return bernoulli(self, p, generator=generator)

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fills self with 1 with probability p (a number, or a tensor broadcast to self), else 0."""
        cdef cg_tensor *x = (<_TensorBase>self).t  # self.t is the method t() here
        if isinstance(p, _TensorBase):
            return wrap(cg_bernoulli_(x, (<_TensorBase>p).t, 0.0, gen_ptr(generator)))
        return wrap(cg_bernoulli_(x, NULL, float(p), gen_ptr(generator)))

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        return multinomial(self, num_samples, replacement, generator=generator)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return unique(self, sorted, return_inverse, return_counts, dim)

    # statistics, scatter_reduce, prelu and the other random fills: compositions in cgrad._stats
    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return stats_op("quantile")(self, q, dim, keepdim, interpolation=interpolation)

    def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return stats_op("nanquantile")(self, q, dim, keepdim, interpolation=interpolation)

    def nanmedian(self, *args, **kwargs): return stats_op("nanmedian")(self, *args, **kwargs)
    def cov(self, *, correction=1, fweights=None, aweights=None):
        return stats_op("cov")(self, correction=correction, fweights=fweights, aweights=aweights)

    def corrcoef(self): return stats_op("corrcoef")(self)
    def bincount(self, weights=None, minlength=0): return stats_op("bincount")(self, weights, minlength)
    def histc(self, bins=100, min=0, max=0): return stats_op("histc")(self, bins, min, max)
    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        return stats_op("unique_consecutive")(self, return_inverse, return_counts, dim)

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        return stats_op("scatter_reduce")(self, dim, index, src, reduce, include_self=include_self)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        return stats_op("scatter_reduce_")(self, dim, index, src, reduce, include_self=include_self)

    def prelu(self, weight): return stats_op("prelu")(self, weight)
    def exponential_(self, *args, **kwargs): return stats_op("exponential_")(self, *args, **kwargs)
    def cauchy_(self, *args, **kwargs): return stats_op("cauchy_")(self, *args, **kwargs)
    def geometric_(self, *args, **kwargs): return stats_op("geometric_")(self, *args, **kwargs)
    def log_normal_(self, *args, **kwargs): return stats_op("log_normal_")(self, *args, **kwargs)
    def random_(self, *args, **kwargs): return stats_op("random_")(self, *args, **kwargs)

    # unsafe splits, index_reduce and nonzero_static (Python in cgrad._ops_more); igamma and igammac
    def unsafe_split(self, split_size, dim=0): return more_op("unsafe_split")(self, split_size, dim)
    def unsafe_chunk(self, chunks, dim=0): return more_op("unsafe_chunk")(self, chunks, dim)
    def unsafe_split_with_sizes(self, split_sizes, dim=0):
        return more_op("unsafe_split_with_sizes")(self, split_sizes, dim)

    def index_reduce(self, dim, index, source, reduce, *, include_self=True):
        return more_op("index_reduce")(self, dim, index, source, reduce, include_self=include_self)

    def index_reduce_(self, dim, index, source, reduce, *, include_self=True):
        return more_op("index_reduce_")(self, dim, index, source, reduce, include_self=include_self)

    def nonzero_static(self, *, size, fill_value=-1):
        return more_op("nonzero_static")(self, size=size, fill_value=fill_value)

    def igamma(self, other): return tensors_only(cg_igamma, self, other, "igamma", 1)
    def igammac(self, other): return tensors_only(cg_igammac, self, other, "igammac", 1)
    def igamma_(self, other): return inplace_arg(cg_igamma, self, other, "igamma_", False)
    def igammac_(self, other): return inplace_arg(cg_igammac, self, other, "igammac_", False)

    # complex-number views and storage queries: a real CPU tensor's answers (cgrad has no complex,
    # sparse, quantized, meta or pinned tensors)
    def conj(self): return self
    def conj_physical(self): return self
    def conj_physical_(self): return wrap(cg_conj_physical_((<_TensorBase>self).t))
    def resolve_conj(self): return self
    def resolve_neg(self): return self
    def is_conj(self): return False
    def is_neg(self): return False
    def isreal(self): return extra_op("isreal")(self)
    def adjoint(self):
        if self.ndim < 2:  # real tensors: the conjugate transpose is the transpose of the last two dims
            raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of matrices. "
                               f"Got {self.ndim}-D tensor.")
        return self.transpose(-2, -1)

    # the complex argument of a real tensor, and the removed solvers that raise naming their replacements
    def angle(self): return surface_op("angle")(self)
    def lstsq(self, other): return surface_op("lstsq")(self, other)
    def solve(self, other): return surface_op("solve")(self, other)
    def eig(self, eigenvectors=False): return surface_op("eig")(self, eigenvectors)
    def symeig(self, eigenvectors=False): return surface_op("symeig")(self, eigenvectors)

    def is_inference(self): return False  # inference_mode works as no_grad: no tensor is an inference tensor
    def narrow_copy(self, dim, start, length): return narrow_copy(self, dim, start, length)

    @property
    def real(self): return self

    @property
    def imag(self):
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")

    @property
    def H(self):
        if (<_TensorBase>self).t.ndim != 2:
            raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                               f"{(<_TensorBase>self).t.ndim}-D tensor."
                               + (" For batches of matrices, consider using tensor.mH"
                                  if (<_TensorBase>self).t.ndim > 2 else ""))
        return self.mT

    @property
    def mH(self):
        if (<_TensorBase>self).t.ndim == 0:  # PyTorch's identity, deprecated
            warnings.warn("Tensor.mH is deprecated on 0-D tensors. Consider using x.conj().", UserWarning)
            return self
        return self.mT

    @property
    def output_nr(self): return (<_TensorBase>self).t.output_nr

    @property
    def layout(self): return strided

    @property
    def is_sparse(self): return False
    @property
    def is_sparse_csr(self): return False
    @property
    def is_quantized(self): return False
    @property
    def is_meta(self): return False
    @property
    def is_mkldnn(self): return False
    @property
    def is_nested(self): return False
    def is_shared(self): return bool(cg_storage_is_shared((<_TensorBase>self).t.storage))
    def share_memory_(self):
        share_memory((<_TensorBase>self).t.storage)
        return self
    def untyped_storage(self): return _storage_of(self)
    def storage(self): return extra_op("storage")(self)
    def storage_type(self): return extra_op("storage_type")(self)
    def set_(self, *args, **kwargs): return _tensor_set(self, args, kwargs)
    def is_set_to(self, tensor):
        if not isinstance(tensor, _TensorBase):
            raise TypeError(f"is_set_to(): argument 'tensor' (position 1) must be Tensor, not {type(tensor).__name__}")
        cdef cg_tensor *a = (<_TensorBase>self).t
        cdef cg_tensor *b = (<_TensorBase>tensor).t
        if a.storage != b.storage or a.offset != b.offset or a.ndim != b.ndim:
            return False
        return all(a.shape[i] == b.shape[i] and a.strides[i] == b.strides[i] for i in range(a.ndim))
    def is_pinned(self, device=None): return False
    def get_device(self): return -1

    # Python-level element loops, resizing, new(): cgrad._tensor_extra
    def apply_(self, callable): return extra_op("apply_")(self, callable)
    def map_(self, tensor, callable): return extra_op("map_")(self, tensor, callable)
    def map2_(self, x, y, callable): return extra_op("map2_")(self, x, y, callable)
    def resize_(self, *sizes, memory_format=None): return extra_op("resize_")(self, *sizes, memory_format=memory_format)
    def resize_as_(self, the_template, memory_format=None):
        return extra_op("resize_as_")(self, the_template, memory_format)
    def new(self, *args, **kwargs): return extra_op("new")(self, *args, **kwargs)
    def resize(self, *sizes): return extra_op("resize")(self, *sizes)
    def resize_as(self, tensor): return extra_op("resize_as")(self, tensor)
    def reinforce(self, reward): return extra_op("reinforce")(self, reward)
    def hardshrink(self, lambd=0.5): return extra_op("hardshrink")(self, lambd)
    def histogram(self, bins=100, *, range=None, weight=None, density=False):
        return extra_op("histogram")(self, bins, range=range, weight=weight, density=density)

    # PyTorch methods not implemented yet (cgrad._missing.METHODS, docs/ops.md)
    def frexp(self, *args, **kwargs): raise not_implemented("Tensor.frexp")
    def stft(self, *args, **kwargs): raise no_complex("Tensor.stft")
    def istft(self, *args, **kwargs): raise no_complex("Tensor.istft")



# ---- the cyclic garbage collector and the C graph -------------------------------
# A Tensor's traversal reports the Python hooks and custom Function contexts
# that only its graph keeps alive (Note [Owned hooks] in graph.c): a hook
# whose closure names the tensor, or a ctx holding an output, is then a
# cycle Python's collector can see and free.

ctypedef int (*visit_fn)(PyObject *, void *) noexcept nogil
ctypedef int (*traverse_fn)(PyObject *, visit_fn, void *) noexcept

cdef struct _visit_args:
    visit_fn visit
    void *arg

cdef traverse_fn _cython_traverse = NULL  # the traversal Cython made (its _gc_slot)


cdef int _visit_ctx(void *ctx, void *arg) noexcept nogil:
    cdef _visit_args *a = <_visit_args *>arg
    return a.visit(<PyObject *>ctx, a.arg)


cdef int _tensor_traverse(PyObject *o, visit_fn visit, void *arg) noexcept:
    cdef int rc = _cython_traverse(o, visit, arg)
    if rc:
        return rc
    if _nogil_calls:
        return 0
    cdef _visit_args a
    a.visit = visit
    a.arg = arg
    return cg_visit_owned_contexts((<_TensorBase><void *>o).t, release_hook, function_ctx_release, _visit_ctx, &a)


cdef _setup_collector():
    global _cython_traverse, _link_offset
    cdef _TensorBase probe = Tensor.__new__(Tensor)
    _link_offset = <char *>&probe._link - <char *><void *>probe
    cdef PyTypeObject *base = <PyTypeObject *>_TensorBase
    _cython_traverse = <traverse_fn>base.tp_traverse
    for cls in (_TensorBase, _TensorMath, _TensorReduce, _TensorShape, _TensorIndex, _TensorNN, Tensor):
        if <traverse_fn>(<PyTypeObject *>cls).tp_traverse == _cython_traverse:
            (<PyTypeObject *>cls).tp_traverse = <traverseproc>_tensor_traverse

_setup_collector()


cdef object _tensor_new(type cls, PyObject *args, PyObject *kwargs):
    """Tensor's tp_new, for a Tensor class called from Python (cgrad.Tensor(...), a subclass
    without a __new__ of its own, Tensor.__new__(cls, ...)): PyTorch's legacy constructor of the
    default dtype (Tensor.new's forms; an alias of a tensor keeps its dtype), so that the object
    holds a tensor before any __init__ runs. wrap() and _make_subclass call Cython's allocator
    directly and do not come here."""
    cdef _TensorBase made = extra_op("legacy_new")(None, <tuple>args, <dict>kwargs if kwargs != NULL else {},
                                                   True)
    if made.t.pyobj != <void *>made or Py_REFCNT(<PyObject *>made) != 1:  # not fresh: take an alias of it
        made = _TensorIndex.__getitem__(made, Ellipsis)
    return _tensor_of_class(cls, made)


cdef _TensorBase _tensor_of_class(type cls, _TensorBase made):
    """An object of cls (Tensor or a subclass) holding made's C tensor, which made gives up."""
    cdef _TensorBase r = _tensor_alloc(cls, <PyObject *>(), NULL)
    r.t, made.t = made.t, NULL  # r takes the C tensor, and made's reference to it
    cg_tensor_set_pyobj(r.t, <void *>r)
    return r


cdef _setup_tensor_new():
    global _tensor_alloc
    _tensor_alloc = (<PyTypeObject *>Tensor).tp_new
    (<PyTypeObject *>Tensor).tp_new = <newfunc>_tensor_new
    (<_TypeSlots *>Tensor).tp_vectorcall = NULL

_setup_tensor_new()

# Each call into the core holds the GIL, or runs between _nogil_begin and
# _nogil_end: the core may count references with plain instructions while
# none of the latter runs. An interpreter without a GIL keeps them atomic.
if getattr(sys, "_is_gil_enabled", lambda: True)():
    cg_set_serialized(1)


# What `from cgrad._C import *` gives the cgrad namespace: every public
# function and class defined here (the op families' functions included).
__all__ = sorted(
    name for name, value in list(globals().items())
    if not name.startswith("_") and getattr(value, "__module__", None) == __name__
    and name not in ("bool_", "dtype")
) + ["default_generator", "device", "dtype"] + [n for n in _ALL_DTYPES if n != "bool"]
