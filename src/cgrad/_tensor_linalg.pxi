# Linear algebra beyond the products of _C.pyx: PyTorch's checks of the
# scaled products addmv, addr and addbmm, of vdot, kron and dist, over their
# C ops (ops_linalg.c, ops_reduce.c); inner and matrix_power as compositions
# of cgrad's ops; inverse, det, slogdet and pinverse over LAPACK
# (ops_lapack.c), and logdet and matrix_exp composed of those.
import math


cdef str _type_name(_TensorBase t):
    return {CG_FLOAT32: "Float", CG_FLOAT64: "Double", CG_INT64: "Long", CG_BOOL: "Bool"}[t.t.dtype]


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec), input broadcast to the product's shape."""
    return _addmv(input, mat, vec, beta, alpha, False)


cdef object _addmv(object input, object mat, object vec, object beta, object alpha, bint inplace):
    cdef _TensorBase x = tensor_arg(input, "addmv", "input", 1)
    cdef _TensorBase m = tensor_arg(mat, "addmv", "mat", 2)
    cdef _TensorBase v = tensor_arg(vec, "addmv", "vec", 3)
    b, a = number_arg(beta, "addmv", "beta"), number_arg(alpha, "addmv", "alpha")
    if m.t.ndim != 2 or v.t.ndim != 1 or x.t.ndim > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {x.t.ndim}, {m.t.ndim}, {v.t.ndim}")
    if m.t.shape[1] != v.t.shape[0] or (x.t.ndim == 1 and x.t.shape[0] not in (1, m.t.shape[0])):
        shape = "x".join(str(n) for n in m.shape)
        raise RuntimeError(f"size mismatch, got input ({x.numel()}), mat ({shape}), vec ({v.t.shape[0]})")
    if not x.t.dtype == m.t.dtype == v.t.dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {_type_name(x)}, "
                           f"{_type_name(m)}, and {_type_name(v)}")
    return wrap(cg_addmv_(x.t, m.t, v.t, b, a) if inplace else cg_addmv(x.t, m.t, v.t, b, a))


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2), input broadcast to the outer product's shape."""
    return _addr(input, vec1, vec2, beta, alpha, False)


cdef object _addr(object input, object vec1, object vec2, object beta, object alpha, bint inplace):
    cdef _TensorBase x = tensor_arg(input, "addr", "input", 1)
    cdef _TensorBase v1 = tensor_arg(vec1, "addr", "vec1", 2)
    cdef _TensorBase v2 = tensor_arg(vec2, "addr", "vec2", 3)
    b, a = number_arg(beta, "addr", "beta"), number_arg(alpha, "addr", "alpha")
    for name, value in (("beta", beta), ("alpha", alpha)):
        if x.t.dtype == CG_INT64 and isinstance(value, float):
            raise RuntimeError(f"For integral input tensors, argument {name} must not be a floating point number.")
    for name, v in (("vec1", v1), ("vec2", v2)):
        if v.t.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.t.ndim}-D")
    if inplace and (x.t.ndim != 2 or x.t.shape[0] != v1.t.shape[0] or x.t.shape[1] != v2.t.shape[0]):
        raise RuntimeError(f"size mismatch, input: {list(x.shape)}, v1: [{v1.t.shape[0]}], v2: [{v2.t.shape[0]}]")
    x.expand(v1.t.shape[0], v2.t.shape[0])  # input's shape, with expand's error
    return wrap(cg_addr_(x.t, v1.t, v2.t, b, a) if inplace else cg_addr(x.t, v1.t, v2.t, b, a))


cdef _check_addbmm(_TensorBase x, _TensorBase b1, _TensorBase b2):
    """PyTorch's checks of addbmm's operands after input's shape, in its order."""
    for name, t in (("batch1", b1), ("batch2", b2)):
        if t.t.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    if b1.t.shape[0] != b2.t.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {b1.t.shape[0]} and "
                           f"{b2.t.shape[0]}")
    if b1.t.shape[2] != b2.t.shape[1]:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({b1.t.shape[1]}x{b1.t.shape[2]} and "
                           f"{b2.t.shape[1]}x{b2.t.shape[2]})")
    for name, t in (("self", x), ("mat1", b1)):
        if t.t.dtype != b2.t.dtype:
            raise RuntimeError(f"{name} and mat2 must have the same dtype, but got {_type_name(t)} and "
                               f"{_type_name(b2)}")


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * the sum over the batch of batch1[i] @ batch2[i]."""
    return _addbmm(input, batch1, batch2, beta, alpha, False)


cdef object _addbmm(object input, object batch1, object batch2, object beta, object alpha, bint inplace):
    cdef _TensorBase x = tensor_arg(input, "addbmm", "input", 1)
    cdef _TensorBase b1 = tensor_arg(batch1, "addbmm", "batch1", 2)
    cdef _TensorBase b2 = tensor_arg(batch2, "addbmm", "batch2", 3)
    b, a = number_arg(beta, "addbmm", "beta"), number_arg(alpha, "addbmm", "alpha")
    x.expand(b1.size(1), b2.size(2))  # input's shape first, with expand's error
    _check_addbmm(x, b1, b2)
    return wrap(cg_addbmm_(x.t, b1.t, b2.t, b, a) if inplace else cg_addbmm(x.t, b1.t, b2.t, b, a))


def inner(input, other):
    """The dot products of input's and other's last dims, over all pairs of
    their other indices; a product when either is a number."""
    cdef _TensorBase a = tensor_arg(input, "inner", "input", 1)
    cdef _TensorBase b = tensor_arg(other, "inner", "other", 2)
    if a.t.ndim == 0 or b.t.ndim == 0:
        return a * b
    k = a.t.shape[a.t.ndim - 1]
    if k != b.t.shape[b.t.ndim - 1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(a.shape)} and {list(b.shape)}")
    if a.t.dtype != b.t.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if a.t.ndim == 1 and b.t.ndim == 1:  # a dot product, viewed, as PyTorch's
        return wrap(cg_dot(a.t, b.t)).view(())
    sa, sb = tuple(a.shape)[:a.t.ndim - 1], tuple(b.shape)[:b.t.ndim - 1]
    out = a.reshape(math.prod(sa), k) @ b.reshape(math.prod(sb), k).T
    return out.reshape(sa + sb)


def vdot(input, other):
    """The dot product of two 1-D tensors (their values are real: dot)."""
    cdef _TensorBase a = tensor_arg(input, "vdot", "input", 1)
    cdef _TensorBase b = tensor_arg(other, "vdot", "other", 2)
    if a.t.ndim != 1 or b.t.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.t.ndim}D and {b.t.ndim}D tensors")
    if a.t.dtype != b.t.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {_type_name(a)} and "
                           f"{_type_name(b)}")
    if a.t.shape[0] != b.t.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.t.shape[0]}] and src [{b.t.shape[0]}] "
                           f"to have the same number of elements, but got {a.t.shape[0]} and {b.t.shape[0]} "
                           "elements respectively")
    return wrap(cg_vdot(a.t, b.t))


def kron(input, other):
    """The Kronecker product: out[i * other.shape + j] = input[i] * other[j],
    the shorter shape padded with leading 1s."""
    cdef _TensorBase a = tensor_arg(input, "kron", "input", 1)
    cdef _TensorBase b = tensor_arg(other, "kron", "other", 2)
    return wrap(cg_kron(a.t, b.t))


def dist(input, other, p=2):
    """The p-norm of input - other (broadcast)."""
    cdef _TensorBase a = tensor_arg(input, "dist", "input", 1)
    cdef _TensorBase b = tensor_arg(other, "dist", "other", 2)
    return wrap(cg_dist(a.t, b.t, number_arg(p, "dist", "p")))


cdef _check_square(_TensorBase a, str fname):
    """PyTorch's checks of a batch of square matrices (the dtype is checked by the C op)."""
    if a.t.ndim < 2:
        raise RuntimeError(f"{fname}: The input tensor A must have at least 2 dimensions.")
    if a.t.shape[a.t.ndim - 1] != a.t.shape[a.t.ndim - 2]:
        raise RuntimeError(f"{fname}: A must be batches of square matrices, but they are "
                           f"{a.t.shape[a.t.ndim - 2]} by {a.t.shape[a.t.ndim - 1]} matrices")


def matrix_power(input, n):
    """input @ input @ ... (n factors) for batches of square matrices; the
    identity for n = 0, powers of the inverse for n < 0."""
    cdef _TensorBase a = tensor_arg(input, "matrix_power", "input", 1)
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"matrix_power(): argument 'n' (position 2) must be int, not {type(n).__name__}")
    _check_square(a, "linalg.matrix_power")
    if n == 0:  # the identity, written over a copy of input: a zero gradient, as PyTorch
        k = a.t.shape[a.t.ndim - 1]
        return a.clone().copy_(eye(k, dtype=a.dtype).expand(tuple(a.shape)))
    base = inverse(a) if n < 0 else a
    result, n = None, abs(n)
    while True:  # binary powers: a^n = prod of a^(2^k) over n's set bits
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if not n:  # input itself is returned as a copy, as PyTorch's
            return result.clone() if result is a else result
        base = base @ base


def inverse(input):
    """The inverse of each square matrix of input (an error if one is singular)."""
    return wrap(cg_linalg_inv(tensor_arg(input, "inverse", "input", 1).t))


def det(input):
    """The determinant of each square matrix of input."""
    return wrap(cg_linalg_det(tensor_arg(input, "det", "input", 1).t))


class _SignLogabsdet(tuple):
    """(sign, logabsdet), as PyTorch's torch.return_types.slogdet."""
    __slots__ = ()

    def __new__(cls, sign, logabsdet):
        return tuple.__new__(cls, (sign, logabsdet))

    @property
    def sign(self):
        return self[0]

    @property
    def logabsdet(self):
        return self[1]

    def __repr__(self):
        return f"cgrad.return_types.slogdet(\nsign={self[0]!r},\nlogabsdet={self[1]!r})"

    def __reduce__(self):
        return (type(self), (self[0], self[1]))


return_types.slogdet = _SignLogabsdet


cdef object _slogdet(object input, str fname):
    cdef _TensorBase a = tensor_arg(input, fname, "input", 1)
    cdef cg_tensor *sign = NULL
    cdef cg_tensor *logabs = NULL
    check(cg_linalg_slogdet(a.t, &sign, &logabs))
    return _SignLogabsdet(wrap(sign), wrap(logabs))


def slogdet(input):
    """(sign, log|det|) of each square matrix of input; sign 0 and -inf when singular."""
    return _slogdet(input, "slogdet")


def logdet(input):
    """log(det) of each square matrix of input: NaN where det < 0, -inf where it is 0."""
    cdef _TensorBase a = tensor_arg(input, "logdet", "input", 1)
    _check_square(a, "logdet")
    if not a.is_floating_point():
        raise RuntimeError(f"logdet: Expected a floating point or complex tensor as input. Got {_type_name(a)}")
    sign, logabs = _slogdet(a, "logdet")
    return where(sign < 0, full((), float("nan"), dtype=a.dtype), logabs)


def pinverse(input, rcond=1e-15):
    """The pseudo-inverse of each matrix of input by its SVD; singular values at
    most rcond times the largest count as 0. The gradient is that of a
    constant rank, as PyTorch's."""
    cdef _TensorBase a = tensor_arg(input, "pinverse", "input", 1)
    if isinstance(rcond, bool) or not isinstance(rcond, (int, float)):
        raise TypeError(f"pinverse(): argument 'rcond' must be float, not {type(rcond).__name__}")
    return wrap(cg_linalg_pinv(a.t, 0.0, rcond))


def _linalg_pinv(input, double atol, double rtol):
    """pinv with singular values at most max(atol, rtol times the largest)
    taken as 0 (cgrad.linalg.pinv fills in PyTorch's defaults)."""
    return wrap(cg_linalg_pinv(tensor_arg(input, "linalg_pinv", "input", 1).t, atol, rtol))


# Higham's (2005) Pade [13/13] coefficients and the 1-norm up to which it needs no scaling
_PADE13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800., 129060195264000.,
           10559470521600., 670442572800., 33522128640., 1323241920., 40840800., 960960., 16380., 182., 1.)
_THETA13 = 5.371920351148152


def matrix_exp(input):
    """exp(A) of each square matrix of input, recorded as one node as
    PyTorch's (cgrad._stats: its gradient is matrix_exp's again)."""
    cdef _TensorBase a = tensor_arg(input, "matrix_exp", "input", 1)
    _check_square(a, "linalg.matrix_exp")
    if not a.is_floating_point():
        raise RuntimeError(f"linalg.matrix_exp: Expected a floating point or complex tensor as input. "
                           f"Got {_type_name(a)}")
    return stats_op("matrix_exp")(a)


def _matrix_exp_pade(_TensorBase a):
    """exp(A) of each square floating matrix of a, by scaling and squaring
    with a Pade [13/13] approximant: exp(A) = r(A / 2^s)^(2^s)."""
    k = a.t.shape[a.t.ndim - 1]
    if a.numel() == 0:
        return a.clone()
    with no_grad():
        norms = a.abs().sum(a.t.ndim - 2).amax(-1)  # each matrix's 1-norm
        bad = ~norms.isfinite()
    if bad.any():  # a NaN or an infinity in a matrix: its result and gradient are NaN, as torch's
        bad = bad.unsqueeze(-1).unsqueeze(-1)
        return where(bad, a.masked_fill(~bad, 0) * float("nan"), _matrix_exp_pade(a.masked_fill(bad, 0)))
    norm1 = norms.max().item()  # the largest in the batch
    s = max(0, math.ceil(math.log2(norm1 / _THETA13))) if norm1 > _THETA13 else 0
    x = a / (2.0 ** s) if s else a
    b = _PADE13
    ident = eye(k, dtype=a.dtype)
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2 + b[1] * ident)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 + b[0] * ident
    r = inverse(v - u) @ (v + u)
    for _ in range(s):
        r = r @ r
    return r


cdef class _TensorLinalg(_TensorNN):
    """Linear algebra."""

    def addmv(self, mat, vec, *, beta=1, alpha=1): return addmv(self, mat, vec, beta=beta, alpha=alpha)
    def addmv_(self, mat, vec, *, beta=1, alpha=1): return _addmv(self, mat, vec, beta, alpha, True)
    def addr(self, vec1, vec2, *, beta=1, alpha=1): return addr(self, vec1, vec2, beta=beta, alpha=alpha)
    def addr_(self, vec1, vec2, *, beta=1, alpha=1): return _addr(self, vec1, vec2, beta, alpha, True)
    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return addbmm(self, batch1, batch2, beta=beta, alpha=alpha)
    def addbmm_(self, batch1, batch2, *, beta=1, alpha=1): return _addbmm(self, batch1, batch2, beta, alpha, True)
    def inner(self, other): return inner(self, other)
    def vdot(self, other): return vdot(self, other)
    def kron(self, other): return kron(self, other)
    def dist(self, other, p=2): return dist(self, other, p)
    def matrix_power(self, n): return matrix_power(self, n)
    def inverse(self): return inverse(self)
    def det(self): return det(self)
    def slogdet(self): return slogdet(self)
    def logdet(self): return logdet(self)
    def matrix_exp(self): return matrix_exp(self)
    def pinverse(self, rcond=1e-15): return pinverse(self, rcond)
    # the older factorization names, in cgrad._linalg_legacy
    def cholesky(self, upper=False): return _legacy().cholesky(self, upper)
    def cholesky_solve(self, input2, upper=False): return _legacy().cholesky_solve(self, input2, upper)
    def cholesky_inverse(self, upper=False): return _legacy().cholesky_inverse(self, upper)
    def qr(self, some=True): return _legacy().qr(self, some)
    def orgqr(self, input2): return _legacy().orgqr(self, input2)
    def geqrf(self): return _legacy().geqrf(self)
    def ormqr(self, input2, input3, left=True, transpose=False):
        return _legacy().ormqr(self, input2, input3, left, transpose)
    def svd(self, some=True, compute_uv=True): return _legacy().svd(self, some, compute_uv)
    def triangular_solve(self, A, upper=True, transpose=False, unitriangular=False):
        return _legacy().triangular_solve(self, A, upper, transpose, unitriangular)
    def lu(self, pivot=True, get_infos=False): return _legacy().lu(self, pivot, get_infos)
    def lu_solve(self, LU_data, LU_pivots): return _legacy().lu_solve(self, LU_data, LU_pivots)


cdef object _legacy():
    from cgrad import _linalg_legacy
    return _linalg_legacy
