# ---- memory formats ---------------------------------------------------------------
# How a new tensor orders its dims in memory (csrc/memory_format.c): PyTorch's objects,
# which Tensor.contiguous/is_contiguous/clone/to, empty and the *_like factories take.

class memory_format:
    """How a new tensor's dims lie in memory: cgrad.contiguous_format (row-major), channels_last
    (NHWC for a 4-d NCHW tensor), channels_last_3d (NDHWC for 5-d) or preserve_format (as the
    tensor it is made from)."""
    __slots__ = ("_code", "_name")

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'cgrad.memory_format' instances")

    def __repr__(self):
        return "cgrad." + self._name

    def __reduce__(self):
        return self._name


def _make_format(int code, str name):
    f = object.__new__(memory_format)
    f._code = code
    f._name = name
    return f


contiguous_format = _make_format(CG_CONTIGUOUS_FORMAT, "contiguous_format")
preserve_format = _make_format(CG_PRESERVE_FORMAT, "preserve_format")
channels_last = _make_format(CG_CHANNELS_LAST, "channels_last")
channels_last_3d = _make_format(CG_CHANNELS_LAST_3D, "channels_last_3d")
legacy_contiguous_format = contiguous_format


cdef cg_memory_format format_arg(object f, str fname, int if_none=-1) except *:
    """f as the C enum; None gives if_none where fname takes None (else PyTorch's TypeError)."""
    if isinstance(f, memory_format):
        return <cg_memory_format><int>f._code
    if f is None and if_none >= 0:
        return <cg_memory_format>if_none
    raise TypeError(f"{fname}(): argument 'memory_format' must be cgrad.memory_format, not {type(f).__name__}")


def _to_format_arg(f):
    """to()'s memory_format (None: preserve_format), with to()'s error for another type."""
    if f is None or isinstance(f, memory_format):
        return f
    raise TypeError(f"to() received an invalid combination of arguments - got (memory_format={type(f).__name__}, ), "
                    f"but expected one of:\n"
                    f" * (cgrad.device device = None, cgrad.dtype dtype = None, bool non_blocking = False, "
                    f"bool copy = False, *, cgrad.memory_format memory_format = None)\n"
                    f" * (cgrad.dtype dtype, bool non_blocking = False, bool copy = False, *, "
                    f"cgrad.memory_format memory_format = None)\n"
                    f" * (Tensor tensor, bool non_blocking = False, bool copy = False, *, "
                    f"cgrad.memory_format memory_format = None)\n")


cdef object _dim_order(_TensorBase self, object ambiguity_check):
    if not isinstance(ambiguity_check, (bool, list)) or (
            isinstance(ambiguity_check, list) and not all(isinstance(f, memory_format) for f in ambiguity_check)):
        raise TypeError("The ambiguity_check argument must be a bool or a list of memory formats.")
    if ambiguity_check is not False:
        raise not_implemented("Tensor.dim_order(ambiguity_check=...)")
    cdef int64_t order[8]
    cg_dim_order(self.t, order)
    return tuple([order[i] for i in range(self.t.ndim)])


def _like_strides(input, memory_format, str fname):
    """The strides fname (a *_like factory) gives its result laid out per memory_format (None:
    preserve_format), or None when they are row-major."""
    cdef cg_memory_format f = format_arg(memory_format, fname, CG_PRESERVE_FORMAT)
    cdef cg_tensor *t = (<_TensorBase>input).t
    cdef int64_t st[8]
    cdef int64_t row[8]
    check(cg_format_strides(t.shape, t.ndim, f, t, st))
    check(cg_format_strides(t.shape, t.ndim, CG_CONTIGUOUS_FORMAT, NULL, row))
    if all([st[i] == row[i] for i in range(t.ndim)]):
        return None
    return tuple([st[i] for i in range(t.ndim)])


def _format_strides(shape, memory_format, str fname):
    """The strides of a new tensor of that shape in memory_format (not preserve_format)."""
    cdef cg_memory_format f = format_arg(memory_format, fname)
    cdef int64_t s[8]
    cdef int64_t st[8]
    cdef int nd = parse_shape((shape,), s)
    check(cg_format_strides(s, nd, f, NULL, st))
    return tuple([st[i] for i in range(nd)])
