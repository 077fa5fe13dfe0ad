# ---- dtypes -------------------------------------------------------------------
# cgrad's tensors hold four dtypes, the C core's cg_dtype. PyTorch's other dtypes exist as dtype objects too,
# with code -1: code written for PyTorch compares with them and asks finfo, iinfo and promote_types about them,
# and anything that would make a tensor of one raises NotImplementedError naming it. Every road from a dtype
# to the C core passes dtype_code(), and every road to numpy dtype.numpy_dtype; both refuse them.

cdef class dtype:
    """A tensor element type. cgrad's tensors are float32, float64, int64 or bool; PyTorch's other dtypes
    (float16, int32, complex64...) answer questions about themselves but make no tensors."""
    cdef readonly int code  # the C core's cg_dtype, or -1: a dtype cgrad has no tensors of
    cdef readonly str name
    cdef readonly str abbr
    cdef readonly int itemsize
    cdef readonly bint is_floating_point
    cdef readonly bint is_complex
    cdef readonly str _kind  # its family in the promotion rules of cgrad._dtypes
    cdef readonly str _type_name  # as PyTorch's messages name it: Float, Half, Long, ComplexFloat
    cdef object _numpy_dtype

    def __repr__(self):
        return "cgrad." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    @property
    def numpy_dtype(self):
        if self.code < 0:
            raise absent_dtype_error(self)
        return self._numpy_dtype

    @property
    def is_signed(self):
        if self._kind == "quant":
            raise RuntimeError("isSignedType not supported for quantized types")
        if self._kind == "bits":
            raise RuntimeError("Bits types are undefined")
        return not (self._kind in ("bool", "uint", "uint_sub") or self.name in ("uint8", "float8_e8m0fnu"))

    def to_real(self):
        return _REAL_OF.get(self, self)

    def to_complex(self):
        if self.is_complex:
            return self
        if self not in _COMPLEX_OF:
            raise RuntimeError(f"Unknown Complex ScalarType for {self._type_name}")
        return _COMPLEX_OF[self]


cdef dtype _new_dtype(int code, str name, str type_name, str abbr, int itemsize, str kind):
    cdef dtype d = dtype.__new__(dtype)
    d.code, d.name, d._type_name, d.abbr, d.itemsize, d._kind = code, name, type_name, abbr, itemsize, kind
    d.is_floating_point = kind in ("float", "float4", "float8")
    d.is_complex = kind == "complex"
    return d


cdef dtype _make_dtype(int code, str name, str type_name, str abbr, str kind, object np_dtype):
    cdef dtype d = _new_dtype(code, name, type_name, abbr, cg_dtype_size(<cg_dtype>code), kind)
    d._numpy_dtype = np.dtype(np_dtype)
    return d


cdef dtype _absent(str name, str type_name, str abbr, int itemsize, str kind):
    return _new_dtype(-1, name, type_name, abbr, itemsize, kind)


cdef object absent_dtype_error(dtype d):
    return NotImplementedError(f"cgrad has no {d.name} tensors: cgrad's tensors are float32, float64, int64 or "
                               f"bool ({d!r} exists for comparisons and dtype queries such as finfo, iinfo and "
                               "promote_types)")


float32 = _make_dtype(CG_FLOAT32, "float32", "Float", "f32", "float", np.float32)
float64 = _make_dtype(CG_FLOAT64, "float64", "Double", "f64", "float", np.float64)
int64 = _make_dtype(CG_INT64, "int64", "Long", "i64", "int", np.int64)
bool_ = _make_dtype(CG_BOOL, "bool", "Bool", "b8", "bool", np.bool_)
_DTYPES = (float32, float64, int64, bool_)  # by C code

# PyTorch's other dtypes. Kinds: int and uint are the integers PyTorch promotes with the others and those it
# does not (uint16 and up); *_sub the integers of under 8 bits; float8, float4, quant(ized) and bits the rest.
float16 = _absent("float16", "Half", "f16", 2, "float")
bfloat16 = _absent("bfloat16", "BFloat16", "bf16", 2, "float")
complex32 = _absent("complex32", "ComplexHalf", "c32", 4, "complex")
complex64 = _absent("complex64", "ComplexFloat", "c64", 8, "complex")
complex128 = _absent("complex128", "ComplexDouble", "c128", 16, "complex")
uint8 = _absent("uint8", "Byte", "u8", 1, "int")
int8 = _absent("int8", "Char", "i8", 1, "int")
int16 = _absent("int16", "Short", "i16", 2, "int")
int32 = _absent("int32", "Int", "i32", 4, "int")
uint16 = _absent("uint16", "UInt16", "u16", 2, "uint")
uint32 = _absent("uint32", "UInt32", "u32", 4, "uint")
uint64 = _absent("uint64", "UInt64", "u64", 8, "uint")
uint1 = _absent("uint1", "UInt1", "uint1", 1, "uint_sub")
uint2 = _absent("uint2", "UInt2", "uint2", 1, "uint_sub")
uint3 = _absent("uint3", "UInt3", "uint3", 1, "uint_sub")
uint4 = _absent("uint4", "UInt4", "uint4", 1, "uint_sub")
uint5 = _absent("uint5", "UInt5", "uint5", 1, "uint_sub")
uint6 = _absent("uint6", "UInt6", "uint6", 1, "uint_sub")
uint7 = _absent("uint7", "UInt7", "uint7", 1, "uint_sub")
int1 = _absent("int1", "Int1", "int1", 1, "int_sub")
int2 = _absent("int2", "Int2", "int2", 1, "int_sub")
int3 = _absent("int3", "Int3", "int3", 1, "int_sub")
int4 = _absent("int4", "Int4", "int4", 1, "int_sub")
int5 = _absent("int5", "Int5", "int5", 1, "int_sub")
int6 = _absent("int6", "Int6", "int6", 1, "int_sub")
int7 = _absent("int7", "Int7", "int7", 1, "int_sub")
float8_e4m3fn = _absent("float8_e4m3fn", "Float8_e4m3fn", "f8e4m3fn", 1, "float8")
float8_e4m3fnuz = _absent("float8_e4m3fnuz", "Float8_e4m3fnuz", "f8e4m3fnuz", 1, "float8")
float8_e5m2 = _absent("float8_e5m2", "Float8_e5m2", "f8e5m2", 1, "float8")
float8_e5m2fnuz = _absent("float8_e5m2fnuz", "Float8_e5m2fnuz", "f8e5m2fnuz", 1, "float8")
float8_e8m0fnu = _absent("float8_e8m0fnu", "Float8_e8m0fnu", "f8e8m0fnu", 1, "float8")
float4_e2m1fn_x2 = _absent("float4_e2m1fn_x2", "Float4_e2m1fn_x2", "f4e2m1fnx2", 1, "float4")
qint8 = _absent("qint8", "QInt8", "qint8", 1, "quant")
quint8 = _absent("quint8", "QUInt8", "quint8", 1, "quant")
qint32 = _absent("qint32", "QInt32", "qint32", 4, "quant")
quint4x2 = _absent("quint4x2", "QUInt4x2", "quint4x2", 1, "quant")
quint2x4 = _absent("quint2x4", "QUInt2x4", "quint2x4", 1, "quant")
bits1x8 = _absent("bits1x8", "Bits1x8", "b1x8", 1, "bits")
bits2x4 = _absent("bits2x4", "Bits2x4", "b2x4", 1, "bits")
bits4x2 = _absent("bits4x2", "Bits4x2", "b4x2", 1, "bits")
bits8 = _absent("bits8", "Bits8", "b8x1", 1, "bits")
bits16 = _absent("bits16", "Bits16", "b16x1", 2, "bits")

_ALL_DTYPES = {d.name: d for d in (
    float32, float64, int64, bool_, float16, bfloat16, complex32, complex64, complex128, uint8, int8, int16, int32,
    uint16, uint32, uint64, uint1, uint2, uint3, uint4, uint5, uint6, uint7, int1, int2, int3, int4, int5, int6,
    int7, float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz, float8_e8m0fnu, float4_e2m1fn_x2, qint8,
    quint8, qint32, quint4x2, quint2x4, bits1x8, bits2x4, bits4x2, bits8, bits16)}
_REAL_OF = {complex32: float16, complex64: float32, complex128: float64}
_COMPLEX_OF = {float16: complex32, bfloat16: complex64, float32: complex64, float64: complex128}


def _dtype_by_name(name):
    return _ALL_DTYPES[name]


def _dtype_of_tensor_type(str t):
    """The dtype of a tensor-type name, 'torch.FloatTensor', 'torch.HalfTensor' (or cgrad. in place of torch.)."""
    module, _, cls = t.rpartition(".")
    if module in ("torch.cuda", "cgrad.cuda"):
        _check_device("cuda")
    if module in ("torch", "cgrad"):
        for d in _ALL_DTYPES.values():
            if d._type_name + "Tensor" == cls:
                return d
    raise ValueError(f"invalid type: {t!r}")


def _supported_dtype(d):
    """d itself; NotImplementedError for a dtype cgrad has no tensors of (for Python code that takes a dtype
    and does not hand it to the C core straight away)."""
    if isinstance(d, dtype) and (<dtype>d).code < 0:
        raise absent_dtype_error(<dtype>d)
    return d


cdef bint is_complex_dtype(object d):
    return isinstance(d, dtype) and (<dtype>d).is_complex


cdef inline dtype dtype_of(int code):
    return <dtype>_DTYPES[code]


cdef cg_dtype dtype_code(object d) except *:
    if isinstance(d, dtype):
        if (<dtype>d).code < 0:
            raise absent_dtype_error(<dtype>d)
        return <cg_dtype>(<dtype>d).code
    if d is float:
        return CG_FLOAT64
    if d is int:
        return CG_INT64
    if d is bool:
        return CG_BOOL
    raise TypeError(f"dtype must be a cgrad dtype, got {d!r}")


def get_default_dtype():
    return dtype_of(cg_get_default_dtype())


def set_default_dtype(d):
    if isinstance(d, dtype) and (<dtype>d).code < 0 and (<dtype>d)._kind != "float":  # PyTorch refuses these
        if not d.is_floating_point:
            raise TypeError("only floating-point types are supported as the default type")
        raise TypeError(f"couldn't find storage object {(<dtype>d)._type_name}Storage")
    check(cg_set_default_dtype(dtype_code(d)))
