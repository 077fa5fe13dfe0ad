# Element-wise math, comparisons and logic. Included by _C.pyx.


cdef _TensorBase tensor_arg(object x, str fname, str arg, int pos):
    """x, which must be a Tensor, else PyTorch's TypeError for argument `arg`."""
    if not isinstance(x, _TensorBase):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Tensor, not {type(x).__name__}")
    return <_TensorBase>x


cdef object unary(unary_fn fn, object x, str fname):
    return wrap(fn(tensor_arg(x, fname, "input", 1).t))


cdef object NO_DECIMALS = object()  # round() without decimals (RoundBackward0); with them, even 0: RoundBackward1


cdef int64_t round_decimals(object decimals) except? -1:
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"round() received an invalid combination of arguments - got (decimals={type(decimals).__name__})")
    return decimals


cdef object binary_arg(binary_fn fn, object a, object b, str fname, int pos):
    """fn(a, b) for a method or function whose `other` may be a Tensor or a number."""
    r = binary(fn, a, b)
    if r is NotImplemented:
        raise TypeError(f"{fname}(): argument 'other' (position {pos}) must be Tensor, not {type(b).__name__}")
    return r


cdef object tensors_only(binary_fn fn, object a, object b, str fname, int pos):
    """fn(a, b) for ops PyTorch defines on two Tensors only."""
    return wrap(fn((<_TensorBase>a).t, tensor_arg(b, fname, "other", pos).t))


cdef object inplace_arg(binary_fn fn, _TensorBase a, object b, str fname, bint numbers, str arg="other"):
    """a = fn(a, b) in place; b is a Tensor, or a number where PyTorch's op has a Number overload."""
    cdef cg_tensor *r
    if is_tensor(b):
        return wrap(cg_apply2_(a.t, (<_TensorBase>b).t, fn))
    cdef cg_tensor *tmp = scalar_operand(b, a.t, True) if numbers else NULL
    if tmp == NULL:
        kinds = "Tensor or Number" if numbers else "Tensor"
        raise TypeError(f"{fname}(): argument '{arg}' (position 1) must be {kinds}, not {type(b).__name__}")
    r = cg_apply2_(a.t, tmp, fn)
    cg_tensor_release(tmp)
    return wrap(r)


cdef inline cg_tensor *optional(object x):
    return NULL if x is None else (<_TensorBase>x).t


cdef object clamp_call(int kind, _TensorBase self, object lo, object hi, bint in_place,
                       str fname="clamp", bint function=False):
    """clamp (kind 0), clamp_min (1) or clamp_max (2); numbers become wrapped scalars.
    A number and a tensor as the two bounds take PyTorch's Number overload, which
    reads a 0-d tensor as its number and takes no other tensor."""
    if kind == 0 and lo is not None and hi is not None and is_tensor(lo) != is_tensor(hi):
        bound = lo if is_tensor(lo) else hi
        if bound.ndim != 0:
            got = ", ".join((["Tensor"] if function else []) + [type(x).__name__ if not is_tensor(x) else "Tensor"
                                                                 for x in (lo, hi)])
            raise TypeError(f"{fname}() received an invalid combination of arguments - got ({got}), "
                            "but expected one of:")
        lo, hi = (lo.item(), hi) if is_tensor(lo) else (lo, hi.item())
    a = None if lo is None else as_tensor_arg(lo, self)
    b = None if hi is None else as_tensor_arg(hi, self)
    if kind == 0:
        return wrap(cg_clamp_(self.t, optional(a), optional(b)) if in_place
                    else cg_clamp(self.t, optional(a), optional(b)))
    if kind == 1:
        return wrap(cg_clamp_min_(self.t, optional(a)) if in_place else cg_clamp_min(self.t, optional(a)))
    return wrap(cg_clamp_max_(self.t, optional(b)) if in_place else cg_clamp_max(self.t, optional(b)))


cdef object lerp_call(_TensorBase self, object end, object weight, int pos):
    cdef _TensorBase e = tensor_arg(end, "lerp", "end", pos)
    if isinstance(weight, _TensorBase):
        return wrap(cg_lerp(self.t, e.t, (<_TensorBase>weight).t))
    if isinstance(weight, (int, float, np.generic)):
        return wrap(cg_lerp_scalar(self.t, e.t, float(weight)))
    raise TypeError(f"lerp(): argument 'weight' (position {pos + 1}) must be Tensor or Number, "
                    f"not {type(weight).__name__}")


cdef object lerp_inplace(_TensorBase self, object end, object weight):
    """self = lerp(self, end, weight) in place; a number weight takes PyTorch's Scalar overload."""
    cdef _TensorBase e = tensor_arg(end, "lerp_", "end", 1)
    if not is_tensor(weight) and not isinstance(weight, (int, float, np.generic)):
        raise TypeError(f"lerp_(): argument 'weight' (position 2) must be Tensor or Number, "
                        f"not {type(weight).__name__}")
    return wrap(cg_lerp_(self.t, e.t, as_tensor_arg(weight, self).t))


ctypedef cg_tensor *(*scaled_product_fn)(cg_tensor *, cg_tensor *, cg_tensor *, double, double) noexcept nogil


cdef object scaled_product(scaled_product_fn fn, str fname, tuple names, object input, object a, object b,
                           object beta, object alpha, int pos):
    """fn(input, a, b, beta, alpha): addmm or baddbmm, or their in-place forms; pos is the position of
    input (0 for a method's self) in PyTorch's TypeErrors."""
    cdef _TensorBase x = tensor_arg(input, fname, "input", pos)
    cdef _TensorBase m1 = tensor_arg(a, fname, names[0], pos + 1)
    cdef _TensorBase m2 = tensor_arg(b, fname, names[1], pos + 2)
    return wrap(fn(x.t, m1.t, m2.t, number_arg(beta, fname, "beta"), number_arg(alpha, fname, "alpha")))


_cross_dim_warned = False  # PyTorch warns once per process


cdef object cross_call(_TensorBase a, object other, object dim, int pos):
    """a x other along dim; without dim, along a's first dim of size 3 (deprecated, as in PyTorch)."""
    global _cross_dim_warned
    cdef _TensorBase b = tensor_arg(other, "cross", "other", pos)
    if dim is None:
        if not _cross_dim_warned:
            _cross_dim_warned = True
            warnings.warn("Using cross without specifying the dim arg is deprecated. Please pass the dim "
                          "explicitly. The default value of dim will change to agree with that of linalg.cross "
                          "in a future release.", UserWarning, stacklevel=1)  # Cython frames do not count
        dim = next((k for k, n in enumerate(a.shape) if n == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return wrap(cg_cross(a.t, b.t, int_arg(dim, "cross", "dim")))


cdef int64_t order_arg(object x, str fname, str arg, int pos) except? -1:
    """An int argument of the gamma functions (n, p): ints and 0-d integer
    tensors, never a bool or a float, with PyTorch's TypeError."""
    if not isinstance(x, bool):
        try:
            return operator.index(x)
        except TypeError:
            pass
    raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be int, not {type(x).__name__}")


cdef double eps_arg(object eps, int pos) except? -2:
    """logit's eps: None (no clamp, -1 here) or a number."""
    if eps is None:
        return -1.0
    if not is_number(eps) and not isinstance(eps, _TensorBase):
        raise TypeError(f"logit(): argument 'eps' (position {pos}) must be float, not {type(eps).__name__}")
    return number_arg(eps, "logit", "eps")


cdef cg_tensor *logit_with(cg_tensor *a, cg_tensor *eps) noexcept nogil:
    """logit with eps read from a number tensor, for cg_apply2_."""
    return cg_logit(a, cg_tensor_item(eps))


cdef class _TensorMath(_TensorBase):
    """Element-wise math, comparisons and logic."""

    # -- comparisons (bool results, no gradient) --
    def __eq__(self, other): return binary(cg_eq, self, other)
    def __ne__(self, other): return binary(cg_ne, self, other)
    def __lt__(self, other): return binary(cg_lt, self, other)
    def __le__(self, other): return binary(cg_le, self, other)
    def __gt__(self, other): return binary(cg_gt, self, other)
    def __ge__(self, other): return binary(cg_ge, self, other)

    # Defining __eq__ would drop the inherited hash; tensors hash by identity, as in PyTorch.
    def __hash__(self): return id(self)

    def eq(self, other): return binary_arg(cg_eq, self, other, "eq", 1)
    def ne(self, other): return binary_arg(cg_ne, self, other, "ne", 1)
    def lt(self, other): return binary_arg(cg_lt, self, other, "lt", 1)
    def le(self, other): return binary_arg(cg_le, self, other, "le", 1)
    def gt(self, other): return binary_arg(cg_gt, self, other, "gt", 1)
    def ge(self, other): return binary_arg(cg_ge, self, other, "ge", 1)
    # in place: 1 and 0 in the tensor's own dtype, with a zero gradient
    def eq_(self, other): return inplace_arg(cg_eq, self, other, "eq_", True)
    def ne_(self, other): return inplace_arg(cg_ne, self, other, "ne_", True)
    def lt_(self, other): return inplace_arg(cg_lt, self, other, "lt_", True)
    def le_(self, other): return inplace_arg(cg_le, self, other, "le_", True)
    def gt_(self, other): return inplace_arg(cg_gt, self, other, "gt_", True)
    def ge_(self, other): return inplace_arg(cg_ge, self, other, "ge_", True)

    # -- logic and bits --
    def __invert__(self):
        if cg_dtype_is_floating(<cg_dtype>self.t.dtype):
            raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
        return wrap(cg_bitwise_not(self.t))

    def __and__(self, other): return binary(cg_bitwise_and, self, other)
    def __rand__(self, other): return binary(cg_bitwise_and, other, self)
    def __or__(self, other): return binary(cg_bitwise_or, self, other)
    def __ror__(self, other): return binary(cg_bitwise_or, other, self)
    def __xor__(self, other): return binary(cg_bitwise_xor, self, other)
    def __rxor__(self, other): return binary(cg_bitwise_xor, other, self)
    def __lshift__(self, other): return binary(cg_bitwise_left_shift, self, other)
    def __rlshift__(self, other): return binary(cg_bitwise_left_shift, other, self)
    def __rshift__(self, other): return binary(cg_bitwise_right_shift, self, other)
    def __rrshift__(self, other): return binary(cg_bitwise_right_shift, other, self)
    def bitwise_left_shift(self, other):
        return binary_arg(cg_bitwise_left_shift, self, other, "bitwise_left_shift", 1)
    def bitwise_right_shift(self, other):
        return binary_arg(cg_bitwise_right_shift, self, other, "bitwise_right_shift", 1)
    def bitwise_left_shift_(self, other):
        return inplace_arg(cg_bitwise_left_shift, self, other, "bitwise_left_shift_", True)
    def bitwise_right_shift_(self, other):
        return inplace_arg(cg_bitwise_right_shift, self, other, "bitwise_right_shift_", True)

    def bitwise_not(self): return wrap(cg_bitwise_not(self.t))
    def bitwise_and(self, other): return binary_arg(cg_bitwise_and, self, other, "bitwise_and", 1)
    def bitwise_or(self, other): return binary_arg(cg_bitwise_or, self, other, "bitwise_or", 1)
    def bitwise_xor(self, other): return binary_arg(cg_bitwise_xor, self, other, "bitwise_xor", 1)
    def logical_not(self): return wrap(cg_logical_not(self.t))
    def logical_and(self, other): return tensors_only(cg_logical_and, self, other, "logical_and", 1)
    def logical_or(self, other): return tensors_only(cg_logical_or, self, other, "logical_or", 1)
    def logical_xor(self, other): return tensors_only(cg_logical_xor, self, other, "logical_xor", 1)
    def isnan(self): return wrap(cg_isnan(self.t))
    def isinf(self): return wrap(cg_isinf(self.t))
    def isposinf(self): return self.isinf() & (self > 0)
    def isneginf(self): return self.isinf() & (self < 0)
    def isfinite(self): return wrap(cg_isfinite(self.t))

    # -- unary math --
    def __abs__(self): return wrap(cg_abs(self.t))
    def abs(self): return wrap(cg_abs(self.t))
    def sign(self): return wrap(cg_sign(self.t))
    def floor(self): return wrap(cg_floor(self.t))
    def ceil(self): return wrap(cg_ceil(self.t))
    def round(self, *, decimals=NO_DECIMALS):
        if decimals is NO_DECIMALS:
            return wrap(cg_round(self.t))
        return wrap(cg_round_decimals(self.t, round_decimals(decimals)))
    def trunc(self): return wrap(cg_trunc(self.t))
    def frac(self): return wrap(cg_frac(self.t))
    def fix(self): return wrap(cg_trunc(self.t))
    def exp2(self): return wrap(cg_exp2(self.t))
    def log2(self): return wrap(cg_log2(self.t))
    def log10(self): return wrap(cg_log10(self.t))
    def log1p(self): return wrap(cg_log1p(self.t))
    def expm1(self): return wrap(cg_expm1(self.t))
    def sqrt(self): return wrap(cg_sqrt(self.t))
    def rsqrt(self): return wrap(cg_rsqrt(self.t))
    def sin(self): return wrap(cg_sin(self.t))
    def cos(self): return wrap(cg_cos(self.t))
    def tan(self): return wrap(cg_tan(self.t))
    def sinh(self): return wrap(cg_sinh(self.t))
    def cosh(self): return wrap(cg_cosh(self.t))
    def asin(self): return wrap(cg_asin(self.t))
    def acos(self): return wrap(cg_acos(self.t))
    def atan(self): return wrap(cg_atan(self.t))
    def asinh(self): return wrap(cg_asinh(self.t))
    def acosh(self): return wrap(cg_acosh(self.t))
    def atanh(self): return wrap(cg_atanh(self.t))
    def arcsinh(self): return wrap(cg_asinh(self.t))
    def arccosh(self): return wrap(cg_acosh(self.t))
    def arctanh(self): return wrap(cg_atanh(self.t))
    def erf(self): return wrap(cg_erf(self.t))
    def erfc(self): return wrap(cg_erfc(self.t))
    def sinc(self): return wrap(cg_sinc(self.t))
    def erfinv(self): return wrap(cg_erfinv(self.t))
    def reciprocal(self): return wrap(cg_reciprocal(self.t))
    def lgamma(self): return wrap(cg_lgamma(self.t))
    def digamma(self): return wrap(cg_digamma(self.t))
    def i0(self): return wrap(cg_i0(self.t))
    def polygamma(self, n): return wrap(cg_polygamma(order_arg(n, "polygamma", "n", 1), self.t))
    def mvlgamma(self, p): return wrap(cg_mvlgamma(self.t, order_arg(p, "mvlgamma", "p", 1)))
    def logit(self, eps=None): return wrap(cg_logit(self.t, eps_arg(eps, 1)))
    def signbit(self): return wrap(cg_signbit(self.t))
    def ldexp(self, other): return tensors_only(cg_ldexp, self, other, "ldexp", 1)

    def ldexp_(self, other):
        if self.t.dtype == CG_INT64 or self.t.dtype == CG_BOOL:
            name = "Long" if self.t.dtype == CG_INT64 else "Bool"
            raise RuntimeError(f"ldexp can't be cast to the desired output type {name}")
        return inplace_arg(cg_ldexp, self, other, "ldexp_", False)

    def float_power(self, exponent):
        return self.double().pow(exponent.double() if is_tensor(exponent) else exponent)

    def float_power_(self, exponent):
        if self.t.dtype != CG_FLOAT64:
            name = {CG_FLOAT32: "Float", CG_INT64: "Long", CG_BOOL: "Bool"}[self.t.dtype]
            raise RuntimeError(f"the base given to float_power_ has dtype {name} but the operation's result "
                               "requires dtype Double")
        return self.pow_(exponent.double() if is_tensor(exponent) else exponent)

    def copysign(self, other): return binary_arg(cg_copysign, self, other, "copysign", 1)
    def copysign_(self, other): return inplace_arg(cg_copysign, self, other, "copysign_", True)
    def fmax(self, other): return tensors_only(cg_fmax, self, other, "fmax", 1)
    def fmin(self, other): return tensors_only(cg_fmin, self, other, "fmin", 1)
    def logaddexp2(self, other): return tensors_only(cg_logaddexp2, self, other, "logaddexp2", 1)
    def nextafter(self, other): return tensors_only(cg_nextafter, self, other, "nextafter", 1)
    def nextafter_(self, other): return inplace_arg(cg_nextafter, self, other, "nextafter_", False)
    def heaviside(self, values): return wrap(cg_heaviside(self.t, tensor_arg(values, "heaviside", "values", 1).t))
    def heaviside_(self, values): return inplace_arg(cg_heaviside, self, values, "heaviside_", False, "values")
    def gcd(self, other): return tensors_only(cg_gcd, self, other, "gcd", 1)
    def gcd_(self, other): return inplace_arg(cg_gcd, self, other, "gcd_", False)
    def lcm(self, other): return tensors_only(cg_lcm, self, other, "lcm", 1)
    def lcm_(self, other): return inplace_arg(cg_lcm, self, other, "lcm_", False)
    def bitwise_and_(self, other): return inplace_arg(cg_bitwise_and, self, other, "bitwise_and_", True)
    def bitwise_or_(self, other): return inplace_arg(cg_bitwise_or, self, other, "bitwise_or_", True)
    def bitwise_xor_(self, other): return inplace_arg(cg_bitwise_xor, self, other, "bitwise_xor_", True)
    def logical_and_(self, other): return inplace_arg(cg_logical_and, self, other, "logical_and_", False)
    def logical_or_(self, other): return inplace_arg(cg_logical_or, self, other, "logical_or_", False)
    def logical_xor_(self, other): return inplace_arg(cg_logical_xor, self, other, "logical_xor_", False)
    def square(self): return wrap(cg_square(self.t))

    def abs_(self): return wrap(cg_apply_(self.t, cg_abs))
    def neg_(self): return wrap(cg_apply_(self.t, cg_neg))
    def negative_(self): return wrap(cg_apply_(self.t, cg_neg))
    def exp_(self): return wrap(cg_apply_(self.t, cg_exp))
    def log_(self): return wrap(cg_apply_(self.t, cg_log))
    def tanh_(self): return wrap(cg_apply_(self.t, cg_tanh))
    def sigmoid_(self): return wrap(cg_apply_(self.t, cg_sigmoid))
    def relu_(self): return wrap(cg_apply_(self.t, cg_relu))
    def sgn_(self): return wrap(cg_apply_(self.t, cg_sgn))
    def sign_(self): return wrap(cg_apply_(self.t, cg_sign))
    def floor_(self): return wrap(cg_apply_(self.t, cg_floor))
    def ceil_(self): return wrap(cg_apply_(self.t, cg_ceil))
    def round_(self, *, decimals=NO_DECIMALS):
        if decimals is NO_DECIMALS:
            return wrap(cg_apply_(self.t, cg_round))
        return wrap(cg_round_decimals_(self.t, round_decimals(decimals)))
    def trunc_(self): return wrap(cg_apply_(self.t, cg_trunc))
    def frac_(self): return wrap(cg_apply_(self.t, cg_frac))
    def fix_(self): return wrap(cg_apply_(self.t, cg_trunc))
    def exp2_(self): return wrap(cg_apply_(self.t, cg_exp2))
    def log2_(self): return wrap(cg_apply_(self.t, cg_log2))
    def log10_(self): return wrap(cg_apply_(self.t, cg_log10))
    def log1p_(self): return wrap(cg_apply_(self.t, cg_log1p))
    def expm1_(self): return wrap(cg_apply_(self.t, cg_expm1))
    def sqrt_(self): return wrap(cg_apply_(self.t, cg_sqrt))
    def rsqrt_(self): return wrap(cg_apply_(self.t, cg_rsqrt))
    def sin_(self): return wrap(cg_apply_(self.t, cg_sin))
    def cos_(self): return wrap(cg_apply_(self.t, cg_cos))
    def tan_(self): return wrap(cg_apply_(self.t, cg_tan))
    def sinh_(self): return wrap(cg_apply_(self.t, cg_sinh))
    def cosh_(self): return wrap(cg_apply_(self.t, cg_cosh))
    def asin_(self): return wrap(cg_apply_(self.t, cg_asin))
    def acos_(self): return wrap(cg_apply_(self.t, cg_acos))
    def atan_(self): return wrap(cg_apply_(self.t, cg_atan))
    def asinh_(self): return wrap(cg_apply_(self.t, cg_asinh))
    def acosh_(self): return wrap(cg_apply_(self.t, cg_acosh))
    def atanh_(self): return wrap(cg_apply_(self.t, cg_atanh))
    def arcsinh_(self): return wrap(cg_apply_(self.t, cg_asinh))
    def arccosh_(self): return wrap(cg_apply_(self.t, cg_acosh))
    def arctanh_(self): return wrap(cg_apply_(self.t, cg_atanh))
    def erf_(self): return wrap(cg_apply_(self.t, cg_erf))
    def erfc_(self): return wrap(cg_apply_(self.t, cg_erfc))
    def sinc_(self): return wrap(cg_apply_(self.t, cg_sinc))
    def erfinv_(self): return wrap(cg_apply_(self.t, cg_erfinv))
    def reciprocal_(self): return wrap(cg_apply_(self.t, cg_reciprocal))
    def lgamma_(self): return wrap(cg_apply_(self.t, cg_lgamma))
    def digamma_(self): return wrap(cg_apply_(self.t, cg_digamma))
    def polygamma_(self, n): return wrap(cg_polygamma_(self.t, order_arg(n, "polygamma_", "n", 1)))
    def mvlgamma_(self, p):
        cdef int64_t order = order_arg(p, "mvlgamma_", "p", 1)
        if self.t.dtype == CG_INT64:  # PyTorch checks the cast the other way round for integers
            raise RuntimeError(f"mvlgamma: result type Long can't be cast to the desired output type "
                               f"{'Double' if cg_get_default_dtype() == CG_FLOAT64 else 'Float'}")
        return wrap(cg_mvlgamma_(self.t, order))
    def i0_(self): return wrap(cg_apply_(self.t, cg_i0))
    def logit_(self, eps=None):
        cdef cg_tensor *e = cg_scalar_tensor(eps_arg(eps, 1), CG_FLOAT64, self.t)
        cdef cg_tensor *r = cg_apply2_(self.t, e, logit_with) if e != NULL else NULL
        cg_tensor_release(e)
        return wrap(r)
    def square_(self): return wrap(cg_apply_(self.t, cg_square))
    def logical_not_(self): return wrap(cg_apply_(self.t, cg_logical_not))
    def bitwise_not_(self): return wrap(cg_apply_(self.t, cg_bitwise_not))

    # -- binary math --
    def __floordiv__(self, other): return binary(cg_floor_divide, self, other)
    def __rfloordiv__(self, other): return binary(cg_floor_divide, other, self)
    def __mod__(self, other): return binary(cg_remainder, self, other)
    def __rmod__(self, other): return binary(cg_remainder, other, self)

    def floor_divide(self, other): return binary_arg(cg_floor_divide, self, other, "floor_divide", 1)
    def remainder(self, other): return binary_arg(cg_remainder, self, other, "remainder", 1)
    def fmod(self, other): return binary_arg(cg_fmod, self, other, "fmod", 1)
    def hypot(self, other): return tensors_only(cg_hypot, self, other, "hypot", 1)
    def atan2(self, other): return tensors_only(cg_atan2, self, other, "atan2", 1)
    def arctan2(self, other): return tensors_only(cg_atan2, self, other, "arctan2", 1)
    def logaddexp(self, other): return tensors_only(cg_logaddexp, self, other, "logaddexp", 1)
    def xlogy(self, other): return binary_arg(cg_xlogy, self, other, "xlogy", 1)
    def maximum(self, other): return tensors_only(cg_maximum, self, other, "maximum", 1)
    def minimum(self, other): return tensors_only(cg_minimum, self, other, "minimum", 1)
    def lerp(self, end, weight): return lerp_call(self, end, weight, 1)

    def pow_(self, exponent): return inplace_arg(cg_pow, self, exponent, "pow_", True, "exponent")
    def remainder_(self, other): return inplace_arg(cg_remainder, self, other, "remainder_", True)
    def fmod_(self, other): return inplace_arg(cg_fmod, self, other, "fmod_", True)
    def hypot_(self, other): return inplace_arg(cg_hypot, self, other, "hypot_", False)
    def atan2_(self, other): return inplace_arg(cg_atan2, self, other, "atan2_", False)
    def arctan2_(self, other): return inplace_arg(cg_atan2, self, other, "arctan2_", False)
    def xlogy_(self, other): return inplace_arg(cg_xlogy, self, other, "xlogy_", True)
    def lerp_(self, end, weight): return lerp_inplace(self, end, weight)

    def where(self, condition, other): return where(condition, self, other)
    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return isclose(self, other, rtol, atol, equal_nan)
    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return allclose(self, other, rtol, atol, equal_nan)
    def equal(self, other): return equal(self, other)
    def tril(self, diagonal=0): return tril(self, diagonal)
    def sgn(self): return wrap(cg_sgn(self.t))
    def addcmul(self, tensor1, tensor2, *, value=1):
        return pointwise(cg_addcmul, "addcmul", self, tensor1, tensor2, value, 0)
    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return scaled_product(cg_addmm, "addmm", ("mat1", "mat2"), self, mat1, mat2, beta, alpha, 0)
    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return scaled_product(cg_baddbmm, "baddbmm", ("batch1", "batch2"), self, batch1, batch2, beta, alpha, 0)
    def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
        return scaled_product(cg_addmm_, "addmm_", ("mat1", "mat2"), self, mat1, mat2, beta, alpha, 0)
    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        return scaled_product(cg_baddbmm_, "baddbmm_", ("batch1", "batch2"), self, batch1, batch2, beta, alpha, 0)
    def cross(self, other, dim=None): return cross_call(self, other, dim, 1)
    def addcmul_(self, tensor1, tensor2, *, value=1):
        return pointwise(cg_addcmul_, "addcmul_", self, tensor1, tensor2, value, 0)
    def addcdiv(self, tensor1, tensor2, *, value=1):
        return pointwise(cg_addcdiv, "addcdiv", self, tensor1, tensor2, value, 0)
    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return pointwise(cg_addcdiv_, "addcdiv_", self, tensor1, tensor2, value, 0)
    def deg2rad(self): return deg2rad(self)
    def rad2deg(self): return rad2deg(self)
    def nan_to_num(self, nan=0.0, posinf=None, neginf=None): return nan_to_num(self, nan, posinf, neginf)
    def triu(self, diagonal=0): return triu(self, diagonal)

    # in place, recorded as the out-of-place op's node; floor_divide_ by a
    # copy of its result (grad_fn CopyBackwards)
    def tril_(self, diagonal=0): return wrap(cg_triangle_(self.t, int_arg(diagonal, "tril_", "diagonal"), True))
    def triu_(self, diagonal=0): return wrap(cg_triangle_(self.t, int_arg(diagonal, "triu_", "diagonal"), False))
    def deg2rad_(self): return wrap(cg_apply_(self.t, cg_deg2rad))
    def rad2deg_(self): return wrap(cg_apply_(self.t, cg_rad2deg))
    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None): return nan_to_num_call(self, nan, posinf, neginf, True)
    def floor_divide_(self, other):
        if is_tensor(other):  # PyTorch's errors for a result a cannot hold, the shape's first
            try:
                shape = np.broadcast_shapes(self.shape, other.shape)
            except ValueError:
                shape = self.shape  # floor_divide words this one
            if tuple(shape) != tuple(self.shape):
                raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                                   f"{list(shape)}")
        cdef _TensorBase r = self.floor_divide(other)
        if r.t.dtype != self.t.dtype and not cg_dtype_is_floating(<cg_dtype>self.t.dtype):
            names = ("Float", "Double", "Long", "Bool")  # by dtype code, as PyTorch names them
            raise RuntimeError(f"result type {names[r.t.dtype]} can't be cast to the desired output type "
                               f"{names[self.t.dtype]}")
        return self.copy_(r)

    def clamp(self, min=None, max=None): return clamp_call(0, self, min, max, False)
    def clamp_(self, min=None, max=None): return clamp_call(0, self, min, max, True, "clamp_")
    def clip(self, min=None, max=None): return clamp_call(0, self, min, max, False, "clip")
    def clip_(self, min=None, max=None): return clamp_call(0, self, min, max, True, "clip_")
    def clamp_min(self, min): return clamp_call(1, self, min, None, False)
    def clamp_min_(self, min): return clamp_call(1, self, min, None, True)
    def clamp_max(self, max): return clamp_call(2, self, None, max, False)
    def clamp_max_(self, max): return clamp_call(2, self, None, max, True)


# ---- functions: cgrad.<name>(input, ...) ----------------------------------------------

def _abs(input):
    return unary(cg_abs, input, "abs")


# Bound by assignment, not `def abs`: inside this module `abs` stays the builtin.
_abs.__name__ = _abs.__qualname__ = "abs"
globals()["abs"] = _abs


def sign(input): return unary(cg_sign, input, "sign")
def floor(input): return unary(cg_floor, input, "floor")
def ceil(input): return unary(cg_ceil, input, "ceil")
def trunc(input): return unary(cg_trunc, input, "trunc")
def fix(input): return unary(cg_trunc, input, "fix")
def frac(input): return unary(cg_frac, input, "frac")


def _round(input, *, decimals=NO_DECIMALS):
    return tensor_arg(input, "round", "input", 1).round(decimals=decimals)


# Bound by assignment, as abs: inside this module `round` stays the builtin.
_round.__name__ = _round.__qualname__ = "round"
globals()["round"] = _round
def exp2(input): return unary(cg_exp2, input, "exp2")
def log2(input): return unary(cg_log2, input, "log2")
def log10(input): return unary(cg_log10, input, "log10")
def log1p(input): return unary(cg_log1p, input, "log1p")
def expm1(input): return unary(cg_expm1, input, "expm1")
def sqrt(input): return unary(cg_sqrt, input, "sqrt")
def rsqrt(input): return unary(cg_rsqrt, input, "rsqrt")
def sin(input): return unary(cg_sin, input, "sin")
def cos(input): return unary(cg_cos, input, "cos")
def tan(input): return unary(cg_tan, input, "tan")
def sinh(input): return unary(cg_sinh, input, "sinh")
def cosh(input): return unary(cg_cosh, input, "cosh")
def asin(input): return unary(cg_asin, input, "asin")
def acos(input): return unary(cg_acos, input, "acos")
def atan(input): return unary(cg_atan, input, "atan")
def asinh(input): return unary(cg_asinh, input, "asinh")
def acosh(input): return unary(cg_acosh, input, "acosh")
def atanh(input): return unary(cg_atanh, input, "atanh")
def arcsinh(input): return unary(cg_asinh, input, "arcsinh")
def arccosh(input): return unary(cg_acosh, input, "arccosh")
def arctanh(input): return unary(cg_atanh, input, "arctanh")
def erf(input): return unary(cg_erf, input, "erf")
def erfc(input): return unary(cg_erfc, input, "erfc")
def sinc(input): return unary(cg_sinc, input, "sinc")
def erfinv(input): return unary(cg_erfinv, input, "erfinv")
def reciprocal(input): return unary(cg_reciprocal, input, "reciprocal")
def lgamma(input): return unary(cg_lgamma, input, "lgamma")
def digamma(input): return unary(cg_digamma, input, "digamma")
def i0(input): return unary(cg_i0, input, "i0")


def polygamma(n, input):
    """The n-th derivative of digamma at input."""
    cdef int64_t order = order_arg(n, "polygamma", "n", 1)
    return wrap(cg_polygamma(order, tensor_arg(input, "polygamma", "input", 2).t))


def mvlgamma(input, p):
    """log of the multivariate gamma function of dimension p."""
    cdef _TensorBase x = tensor_arg(input, "mvlgamma", "input", 1)
    return wrap(cg_mvlgamma(x.t, order_arg(p, "mvlgamma", "p", 2)))


def signbit(input): return unary(cg_signbit, input, "signbit")


def copysign(input, other):
    """|input| with other's sign; other may be a number."""
    return binary_arg(cg_copysign, tensor_arg(input, "copysign", "input", 1), other, "copysign", 2)


def ldexp(input, other):
    return tensors_only(cg_ldexp, tensor_arg(input, "ldexp", "input", 1), other, "ldexp", 2)


def fmax(input, other):
    return tensors_only(cg_fmax, tensor_arg(input, "fmax", "input", 1), other, "fmax", 2)


def fmin(input, other):
    return tensors_only(cg_fmin, tensor_arg(input, "fmin", "input", 1), other, "fmin", 2)


def logaddexp2(input, other):
    return tensors_only(cg_logaddexp2, tensor_arg(input, "logaddexp2", "input", 1), other, "logaddexp2", 2)


def nextafter(input, other):
    return tensors_only(cg_nextafter, tensor_arg(input, "nextafter", "input", 1), other, "nextafter", 2)


def heaviside(input, values):
    return wrap(cg_heaviside(tensor_arg(input, "heaviside", "input", 1).t,
                             tensor_arg(values, "heaviside", "values", 2).t))


cdef object shift(binary_fn fn, object input, object other, str fname):
    """input << other or >>: either may be a number, as in PyTorch's Scalar overloads."""
    if is_tensor(input):
        return binary_arg(fn, input, other, fname, 2)
    if not is_number(input):
        tensor_arg(input, fname, "input", 1)  # raises PyTorch's TypeError
    return binary(fn, input, tensor_arg(other, fname, "other", 2))


def bitwise_left_shift(input, other): return shift(cg_bitwise_left_shift, input, other, "bitwise_left_shift")
def bitwise_right_shift(input, other): return shift(cg_bitwise_right_shift, input, other, "bitwise_right_shift")


def gcd(input, other):
    return tensors_only(cg_gcd, tensor_arg(input, "gcd", "input", 1), other, "gcd", 2)


def lcm(input, other):
    return tensors_only(cg_lcm, tensor_arg(input, "lcm", "input", 1), other, "lcm", 2)


def logit(input, eps=None):
    """log(input / (1 - input)), input clamped to [eps, 1 - eps] first when eps is given."""
    cdef _TensorBase x = tensor_arg(input, "logit", "input", 1)
    return wrap(cg_logit(x.t, eps_arg(eps, 2)))
def square(input): return unary(cg_square, input, "square")
def isnan(input): return unary(cg_isnan, input, "isnan")
def isinf(input): return unary(cg_isinf, input, "isinf")
def isposinf(input): return tensor_arg(input, "isposinf", "input", 1).isposinf()
def isneginf(input): return tensor_arg(input, "isneginf", "input", 1).isneginf()
def isfinite(input): return unary(cg_isfinite, input, "isfinite")
def logical_not(input): return unary(cg_logical_not, input, "logical_not")
def bitwise_not(input): return unary(cg_bitwise_not, input, "bitwise_not")


def fmod(input, other):
    return binary_arg(cg_fmod, tensor_arg(input, "fmod", "input", 1), other, "fmod", 2)


def hypot(input, other):
    return tensors_only(cg_hypot, tensor_arg(input, "hypot", "input", 1), other, "hypot", 2)


def atan2(input, other):
    return tensors_only(cg_atan2, tensor_arg(input, "atan2", "input", 1), other, "atan2", 2)


def arctan2(input, other):
    return tensors_only(cg_atan2, tensor_arg(input, "arctan2", "input", 1), other, "arctan2", 2)


def logaddexp(input, other):
    return tensors_only(cg_logaddexp, tensor_arg(input, "logaddexp", "input", 1), other, "logaddexp", 2)


def maximum(input, other):
    return tensors_only(cg_maximum, tensor_arg(input, "maximum", "input", 1), other, "maximum", 2)


def minimum(input, other):
    return tensors_only(cg_minimum, tensor_arg(input, "minimum", "input", 1), other, "minimum", 2)


def logical_and(input, other):
    return tensors_only(cg_logical_and, tensor_arg(input, "logical_and", "input", 1), other, "logical_and", 2)


def logical_or(input, other):
    return tensors_only(cg_logical_or, tensor_arg(input, "logical_or", "input", 1), other, "logical_or", 2)


def logical_xor(input, other):
    return tensors_only(cg_logical_xor, tensor_arg(input, "logical_xor", "input", 1), other, "logical_xor", 2)


def eq(input, other): return binary_arg(cg_eq, tensor_arg(input, "eq", "input", 1), other, "eq", 2)
def ne(input, other): return binary_arg(cg_ne, tensor_arg(input, "ne", "input", 1), other, "ne", 2)
def lt(input, other): return binary_arg(cg_lt, tensor_arg(input, "lt", "input", 1), other, "lt", 2)
def le(input, other): return binary_arg(cg_le, tensor_arg(input, "le", "input", 1), other, "le", 2)
def gt(input, other): return binary_arg(cg_gt, tensor_arg(input, "gt", "input", 1), other, "gt", 2)
def ge(input, other): return binary_arg(cg_ge, tensor_arg(input, "ge", "input", 1), other, "ge", 2)


def bitwise_and(input, other):
    return binary_arg(cg_bitwise_and, tensor_arg(input, "bitwise_and", "input", 1), other, "bitwise_and", 2)


def bitwise_or(input, other):
    return binary_arg(cg_bitwise_or, tensor_arg(input, "bitwise_or", "input", 1), other, "bitwise_or", 2)


def bitwise_xor(input, other):
    return binary_arg(cg_bitwise_xor, tensor_arg(input, "bitwise_xor", "input", 1), other, "bitwise_xor", 2)


def floor_divide(input, other):
    return binary_arg(cg_floor_divide, tensor_arg(input, "floor_divide", "input", 1), other, "floor_divide", 2)


def remainder(input, other):
    """input % other; input may be a number when other is a Tensor."""
    if not isinstance(input, _TensorBase) and isinstance(other, _TensorBase):
        return binary_arg(cg_remainder, input, other, "remainder", 1)
    return binary_arg(cg_remainder, tensor_arg(input, "remainder", "input", 1), other, "remainder", 2)


def xlogy(input, other):
    """input * log(other), 0 where input is 0; either may be a number (not both)."""
    if not isinstance(input, _TensorBase) and isinstance(other, _TensorBase):
        return binary_arg(cg_xlogy, input, other, "xlogy", 1)
    return binary_arg(cg_xlogy, tensor_arg(input, "xlogy", "input", 1), other, "xlogy", 2)


def lerp(input, end, weight):
    return lerp_call(tensor_arg(input, "lerp", "input", 1), end, weight, 2)


def where(condition, input=None, other=None):
    """input where condition holds, else other; input and other may be numbers."""
    if input is None and other is None:
        raise NotImplementedError("where(condition) with one argument (nonzero) is not supported; "
                                  "pass input and other")
    cdef _TensorBase cond = tensor_arg(condition, "where", "condition", 1)
    like = input if isinstance(input, _TensorBase) else other if isinstance(other, _TensorBase) else None
    cdef _TensorBase a = as_tensor_arg(input, like)
    cdef _TensorBase b = as_tensor_arg(other, like)
    return wrap(cg_where(cond.t, a.t, b.t))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other| element-wise, as PyTorch: equal
    values (infinities too) are close, NaN only to NaN with equal_nan."""
    cdef _TensorBase a = tensor_arg(input, "isclose", "input", 1)
    cdef _TensorBase b = tensor_arg(other, "isclose", "other", 2)
    if a.t.dtype != b.t.dtype:
        names = ("Float", "Double", "Long", "Bool")  # by dtype code, as PyTorch names them
        raise RuntimeError(f"{names[a.t.dtype]} did not match {names[b.t.dtype]}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    close = a == b
    if equal_nan and a.is_floating_point():
        close = close | (a.isnan() & b.isnan())
    if rtol == 0 and atol == 0:
        return close
    if a.t.dtype == CG_BOOL:
        a, b = a.to(get_default_dtype()), b.to(get_default_dtype())
    actual = (a - b).abs()
    return close | (actual.isfinite() & (actual <= atol + (rtol * b).abs()))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    tensor_arg(input, "allclose", "input", 1)
    tensor_arg(other, "allclose", "other", 2)
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def equal(input, other):
    """Whether both have the same shape and the same values."""
    cdef _TensorBase a = tensor_arg(input, "equal", "input", 1)
    cdef _TensorBase b = tensor_arg(other, "equal", "other", 2)
    return a.shape == b.shape and bool((a == b).all())


def tril(input, diagonal=0):
    """input with the elements above the diagonal-th diagonal of its last two dims set to 0."""
    return wrap(cg_triangle(tensor_arg(input, "tril", "input", 1).t, int_arg(diagonal, "tril", "diagonal"), True))


def triu(input, diagonal=0):
    """input with the elements below the diagonal-th diagonal of its last two dims set to 0."""
    return wrap(cg_triangle(tensor_arg(input, "triu", "input", 1).t, int_arg(diagonal, "triu", "diagonal"), False))
def sgn(input): return unary(cg_sgn, input, "sgn")


ctypedef cg_tensor *(*pointwise_fn)(cg_tensor *, cg_tensor *, cg_tensor *, double) noexcept nogil


cdef object pointwise(pointwise_fn fn, str fname, object input, object tensor1, object tensor2, object value, int pos):
    """fn(input, tensor1, tensor2, value): addcmul or addcdiv, or their in-place
    forms; pos is the position of input (0 for a method's self) in PyTorch's TypeErrors."""
    cdef _TensorBase a = tensor_arg(input, fname, "input", pos)
    cdef _TensorBase b = tensor_arg(tensor1, fname, "tensor1", pos + 1)
    cdef _TensorBase c = tensor_arg(tensor2, fname, "tensor2", pos + 2)
    return wrap(fn(a.t, b.t, c.t, number_arg(value, fname, "value")))


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2, rounded as PyTorch: fma(value * tensor1, tensor2, input)."""
    return pointwise(cg_addcmul, "addcmul", input, tensor1, tensor2, value, 1)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2), input broadcast to the product's shape."""
    return scaled_product(cg_addmm, "addmm", ("mat1", "mat2"), input, mat1, mat2, beta, alpha, 1)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2) for 3-D batches, input broadcast to the result's shape."""
    return scaled_product(cg_baddbmm, "baddbmm", ("batch1", "batch2"), input, batch1, batch2, beta, alpha, 1)


def cross(input, other, dim=None):
    """The cross product of input and other along dim (both of length 3 there), broadcast."""
    return cross_call(tensor_arg(input, "cross", "input", 1), other, dim, 2)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2, in that order, as PyTorch's kernel."""
    return pointwise(cg_addcdiv, "addcdiv", input, tensor1, tensor2, value, 1)


def deg2rad(input): return unary(cg_deg2rad, input, "deg2rad")
def rad2deg(input): return unary(cg_rad2deg, input, "rad2deg")


cdef double float_arg(object x, str fname, str arg) except? -1:
    """A float argument: a number or a 0-d tensor, PyTorch's TypeError otherwise."""
    if is_number(x) or (isinstance(x, _TensorBase) and (<_TensorBase>x).t.ndim == 0):
        return float(x)
    raise TypeError(f"{fname}(): argument '{arg}' must be float, not {type(x).__name__}")


cdef object nan_to_num_call(_TensorBase x, object nan, object posinf, object neginf, bint inplace):
    """NaN, +inf and -inf replaced by nan, posinf and neginf (None: the dtype's
    largest and lowest finite values); the gradient passes where x is finite."""
    fname = "nan_to_num_" if inplace else "nan_to_num"
    cdef double n = 0.0 if nan is None else float_arg(nan, fname, "nan")
    cdef double p = 0.0 if posinf is None else float_arg(posinf, fname, "posinf")
    cdef double q = 0.0 if neginf is None else float_arg(neginf, fname, "neginf")
    cdef const double *pp = NULL if posinf is None else &p
    cdef const double *qq = NULL if neginf is None else &q
    return wrap(cg_nan_to_num_(x.t, n, pp, qq) if inplace else cg_nan_to_num(x.t, n, pp, qq))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    return nan_to_num_call(tensor_arg(input, "nan_to_num", "input", 1), nan, posinf, neginf, False)


def clamp(input, min=None, max=None):
    return clamp_call(0, tensor_arg(input, "clamp", "input", 1), min, max, False, "clamp", True)


def clip(input, min=None, max=None):
    return clamp_call(0, tensor_arg(input, "clip", "input", 1), min, max, False, "clip", True)


def clamp_min(input, min):
    return clamp_call(1, tensor_arg(input, "clamp_min", "input", 1), min, None, False)


def clamp_max(input, max):
    return clamp_call(2, tensor_arg(input, "clamp_max", "input", 1), None, max, False)
