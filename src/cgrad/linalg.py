"""cgrad.linalg: the part of torch.linalg cgrad implements."""
import math
import operator

from cgrad import _C, _creation
from cgrad._dtypes import _norm_dtype_errors
from cgrad._dtypes import promote_types as _promote_types
from cgrad._composites import broadcast_shapes as _broadcast_shapes
from cgrad._functions import matmul
from cgrad._C import LinAlgError, det, matrix_exp, matrix_power, slogdet
from cgrad._C import Tensor as _Tensor
from cgrad._C import _linalg_pinv
from cgrad._C import bool_ as _bool
from cgrad._C import float32 as _float32
from cgrad._C import float64 as _float64
from cgrad._C import int64 as _int64
from cgrad._C import inverse as inv

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig", "eigh", "eigvals",
           "eigvalsh", "householder_product", "inv", "inv_ex", "ldl_factor", "ldl_factor_ex", "ldl_solve", "lstsq",
           "lu", "lu_factor", "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm", "matrix_power",
           "matrix_rank", "multi_dot", "norm", "pinv", "qr",
           "slogdet", "solve", "solve_ex", "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve",
           "vander", "vecdot", "vector_norm"]

_EPS = {_float32: 1.1920928955078125e-07}  # float64's is the default
_TYPE_NAMES = {_float32: "Float", _float64: "Double", _int64: "Long", _bool: "Bool"}


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The pseudo-inverse of each matrix of A; singular values at most
    max(atol, rtol times the largest) count as 0. As PyTorch's defaults:
    atol 0, and rtol eps * max(m, n), or 0 when atol > 0 is given."""
    if hermitian:
        raise NotImplementedError("cgrad.linalg.pinv: hermitian is not implemented")
    for name, value in (("atol", atol), ("rtol", rtol)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise TypeError(f"linalg_pinv(): argument '{name}' must be float, not {type(value).__name__}")
    if rtol is None and atol is not None and atol > 0:
        rtol = 0.0
    elif rtol is None:
        eps = _EPS.get(getattr(A, "dtype", None), 2.220446049250313e-16)
        rtol = eps * max(getattr(A, "shape", ())[-2:], default=1)
    return _linalg_pinv(A, 0.0 if atol is None else atol, rtol)


def _order_name(ord):
    """ord as PyTorch's messages print it: 1, -inf, fro."""
    return str(int(ord)) if isinstance(ord, float) and ord.is_integer() else str(ord)


def _norm_dtype(fname, x, dtype):
    """PyTorch's checks of a norm's dtype= on a floating point input; one that widens is not implemented."""
    if dtype is None or dtype == x.dtype:
        return
    _norm_dtype_errors(fname, x.dtype, dtype)
    raise NotImplementedError(f"cgrad.{fname}: dtype is not implemented")


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The ord-norm of x over dim (all of it by default), as PyTorch's: one
    node, LinalgVectorNormBackward0."""
    if not isinstance(x, _Tensor):
        raise TypeError(f"linalg_vector_norm(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not {type(ord).__name__}")
    if not x.is_floating_point():
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_TYPE_NAMES[x.dtype]}")
    _norm_dtype("linalg.vector_norm", x, dtype)
    dims = () if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    x.sum(dims or None)  # torch's errors for the dims
    if ord < 0 or ord == math.inf:  # max and min have no identity for an empty dim
        name = _order_name(float(ord))
        for d in (d for d in dims if x.shape[d] == 0):  # (torch's message lacks the space)
            raise RuntimeError(f"linalg.vector_norm cannot compute the {name} norm on the dimension {d}because "
                               "this dimension is empty and the operation does not have an identity")
        if not dims and x.numel() == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {name} norm on an empty tensor because the "
                               "operation does not have an identity")
    return x.norm(ord, dims or None, keepdim)


_MATRIX_ORDERS = ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The ord-norm of each matrix of A (over the two dims dim), as PyTorch's:
    'fro' one vector norm; 1 and inf the largest sum of absolute values over
    columns or rows (-1, -inf the smallest); 2, -2 the largest and smallest
    singular value, 'nuc' their sum."""
    if not isinstance(A, _Tensor):
        raise TypeError(f"linalg_matrix_norm(): argument 'input' (position 1) must be Tensor, not {type(A).__name__}")
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if not A.is_floating_point():
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_TYPE_NAMES[A.dtype]}")
    _norm_dtype("linalg.matrix_norm", A, dtype)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    d0, d1 = (d % A.dim() if -A.dim() <= d < A.dim() else d for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    A.sum((d0, d1))  # torch's errors for the dims
    if ord not in _MATRIX_ORDERS:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if ord in ("nuc", 2, -2):
        rest = [d for d in range(A.dim()) if d not in (d0, d1)]
        s = svdvals(A.permute(*rest, d0, d1))
        s = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
        return s.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1)) if keepdim else s
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim, dtype=dtype)
    summed, picked = (d0, d1) if abs(ord) == 1 else (d1, d0)  # 1: columns' sums; inf: rows'
    sums = vector_norm(A, 1, summed, keepdim, dtype=dtype)
    if not keepdim and picked > summed:
        picked -= 1
    return sums.amax(picked, keepdim) if ord > 0 else sums.amin(picked, keepdim)


# ---- factorizations and solvers (ops_linalg_lapack.c) ------------------------------------------

def _named_tuple(name, fields):
    """A tuple type with PyTorch's torch.return_types.<name> fields and repr."""
    def __new__(cls, *values):
        return tuple.__new__(cls, values)

    def __repr__(self):
        return f"cgrad.return_types.{name}(\n" + ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self)) + ")"

    def __reduce__(self):
        return (type(self), tuple(self))

    body = {"__slots__": (), "__new__": __new__, "__repr__": __repr__, "__reduce__": __reduce__}
    body.update({f: property(operator.itemgetter(i)) for i, f in enumerate(fields)})
    kind = type(name, (tuple,), body)
    setattr(_C.return_types, name, kind)
    return kind


_CholeskyEx = _named_tuple("linalg_cholesky_ex", ("L", "info"))
_SolveEx = _named_tuple("linalg_solve_ex", ("result", "info"))
_InvEx = _named_tuple("linalg_inv_ex", ("inverse", "info"))
_Eigh = _named_tuple("linalg_eigh", ("eigenvalues", "eigenvectors"))
_Qr = _named_tuple("linalg_qr", ("Q", "R"))
_Svd = _named_tuple("linalg_svd", ("U", "S", "Vh"))
_LuFactor = _named_tuple("linalg_lu_factor", ("LU", "pivots"))
_LuFactorEx = _named_tuple("linalg_lu_factor_ex", ("LU", "pivots", "info"))
_Lu = _named_tuple("linalg_lu", ("P", "L", "U"))
_LdlFactor = _named_tuple("linalg_ldl_factor", ("LD", "pivots"))
_LdlFactorEx = _named_tuple("linalg_ldl_factor_ex", ("LD", "pivots", "info"))
_Lstsq = _named_tuple("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))


def _tensor(x, fname, arg, pos):
    if not isinstance(x, _Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Tensor, not {type(x).__name__}")
    return x


def _check_matrix(A, fname, square=True, name="A"):
    """PyTorch's checks of a batch of (square) matrices, but the dtype's."""
    if A.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor {name} must have at least 2 dimensions.")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{fname}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")


def _not_floating(A, kernel):
    """The error of PyTorch's kernels that have no integer version."""
    return NotImplementedError(f'"{kernel}" not implemented for \'{_TYPE_NAMES[A.dtype]}\'')


def cholesky(A, *, upper=False):
    """L of A = L L^T for each symmetric positive-definite matrix of A (its lower
    triangle read; upper: U = L^T from the upper one). LinAlgError when not
    positive-definite."""
    return _C._linalg_cholesky_ex(_tensor(A, "linalg_cholesky", "input", 1), upper, "linalg.cholesky")[0]


def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info): cholesky's factor and, per matrix, 0 or the order of the leading
    minor that is not positive-definite. info is int64 (PyTorch's is int32)."""
    name = "linalg.cholesky_ex" if check_errors else None
    return _CholeskyEx(*_C._linalg_cholesky_ex(_tensor(A, "linalg_cholesky_ex", "input", 1), upper, name))


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X of A X = B (X A = B when not left) for triangular A, batches broadcast."""
    _tensor(A, "linalg_solve_triangular", "input", 1)
    _tensor(B, "linalg_solve_triangular", "B", 2)
    if A.dtype != B.dtype:
        dtype = _promote_types(A.dtype, B.dtype)
        A, B = A.to(dtype), B.to(dtype)
    if not A.is_floating_point() and A.dim() >= 2 and B.dim() >= 2:
        raise _not_floating(A, "triangular_solve_cpu")
    return _C._linalg_solve_triangular(A, B, upper, left, unitriangular)


def solve(A, B, *, left=True):
    """X of A X = B (X A = B when not left); B one vector per matrix when it has
    A's shape without its last dim. LinAlgError for a singular matrix."""
    return _C._linalg_solve_ex(A, B, left, "torch.linalg.solve")[0]


def solve_ex(A, B, *, left=True, check_errors=False):
    """(result, info): solve's X, and per matrix 0 or the index of LU's zero pivot."""
    return _SolveEx(*_C._linalg_solve_ex(A, B, left, "torch.linalg.solve_ex" if check_errors else None))


def inv_ex(A, *, check_errors=False):
    """(inverse, info): inv, and per matrix 0 or the index of LU's zero pivot."""
    _check_matrix(_tensor(A, "linalg_inv_ex", "A", 1), "linalg.inv")
    if not A.is_floating_point():
        raise RuntimeError(f"linalg.inv: Expected a floating point or complex tensor as input. "
                           f"Got {_TYPE_NAMES[A.dtype]}")
    info = _C._linalg_lu_factor_ex(A.detach())[2]
    failed = [k for k, v in enumerate(info.reshape(-1).tolist()) if v]
    if not failed:
        return _InvEx(inv(A), info)
    if check_errors:
        k = failed[0]
        where = f"(Batch element {k}): " if A.dim() > 2 else ""
        raise LinAlgError(f"linalg.inv_ex: {where}The diagonal element {info.reshape(-1)[k].item()} is zero, the "
                          "inversion could not be completed because the input matrix is singular.")
    eye = _C.eye(A.shape[-1], dtype=A.dtype)
    return _InvEx(_C._linalg_solve_ex(A, eye.expand(*A.shape), True, None)[0], info)


def _lu_checks(A, fname, pivot):
    _tensor(A, fname.replace(".", "_"), "A", 1)
    if A.dim() < 2:
        raise RuntimeError(f"{'torch.lu_factor' if fname != 'linalg.lu' else fname}: Expected tensor with 2 or more "
                           f"dimensions. Got size: {list(A.shape)} instead")
    if not A.is_floating_point():
        raise _not_floating(A, "lu_cpu")
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """(LU, pivots, info): L (unit diagonal, below) and U packed in LU, LAPACK's
    1-based row swaps, and per matrix 0 or the index of U's first zero pivot.
    pivots and info are int64 (PyTorch's are int32)."""
    _lu_checks(A, "linalg.lu_factor_ex", pivot)
    lu, piv, info = _C._linalg_lu_factor_ex(A)
    if check_errors:
        _lu_singular(info, A, "torch.linalg.lu_factor_ex")
    return _LuFactorEx(lu, piv, info)


def _lu_singular(info, A, fname):
    for k, v in enumerate(info.reshape(-1).tolist()):
        if v > 0:
            where = f"(Batch element {k}): " if A.dim() > 2 else ""
            raise RuntimeError(f"{fname}: {where}U[{v},{v}] is zero and using it on lu_solve would result in a "
                               "division by zero. If you still want to perform the factorization, consider calling "
                               "linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def lu_factor(A, *, pivot=True):
    """(LU, pivots) of lu_factor_ex; an error for a singular matrix."""
    _lu_checks(A, "linalg.lu_factor", pivot)
    lu, piv, info = _C._linalg_lu_factor_ex(A)
    _lu_singular(info, A, "torch.linalg.lu_factor")
    return _LuFactor(lu, piv)


def lu(A, *, pivot=True):
    """(P, L, U) with A = P L U: L m x k with a unit diagonal, U k x n, k = min(m, n)."""
    _lu_checks(A, "linalg.lu", pivot)
    return _Lu(*_C._linalg_lu(A))


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X of A X = B from lu_factor's (LU, pivots) of A (A^T with adjoint; X A = B
    when not left)."""
    _tensor(LU, "linalg_lu_solve", "LU", 1)
    _tensor(pivots, "linalg_lu_solve", "pivots", 2)
    _tensor(B, "linalg_lu_solve", "B", 3)
    _check_matrix(LU, "linalg.lu_solve", square=False, name="LU")
    _check_matrix(B, "linalg.lu_solve", square=False, name="B")
    if pivots.dtype != _int64:
        raise RuntimeError("linalg.lu_solve: pivots should be a Tensor of scalar type torch.int64 (cgrad's pivots)")
    return _C._linalg_lu_solve(LU, pivots, B, left, adjoint)


def _uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO == "U"


def eigh(A, UPLO="L"):
    """(eigenvalues, eigenvectors) of each symmetric matrix of A (its UPLO
    triangle read), eigenvalues ascending."""
    _check_matrix(_tensor(A, "linalg_eigh", "input", 1), "linalg.eigh")
    if not A.is_floating_point():
        raise _not_floating(A, "linalg_eigh_cpu")
    return _Eigh(*_C._linalg_eigh(A, _uplo(UPLO), True))


def eigvalsh(A, UPLO="L"):
    """The ascending eigenvalues of each symmetric matrix of A."""
    _check_matrix(_tensor(A, "linalg_eigvalsh", "input", 1), "linalg.eigh")
    if not A.is_floating_point():
        raise _not_floating(A, "linalg_eigh_cpu")
    return _C._linalg_eigh(A, _uplo(UPLO), False)[0]


_QR_MODES = {"reduced": 0, "complete": 1, "r": 2}


def qr(A, mode="reduced"):
    """(Q, R) with A = Q R, Q with orthonormal columns, R upper triangular:
    'reduced' Q m x k, R k x n; 'complete' Q m x m, R m x n; 'r' R alone (Q empty)."""
    _tensor(A, "linalg_qr", "A", 1)
    if mode not in _QR_MODES:
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           "or 'complete'")
    return _Qr(*_C._linalg_qr(A, _QR_MODES[mode]))


def _driver(driver):
    if driver is not None:
        raise RuntimeError("torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs with "
                           "cuSOLVER backend.")


def svd(A, full_matrices=True, *, driver=None):
    """(U, S, Vh) with A = U diag(S) Vh, S descending (LAPACK's gesdd)."""
    _driver(driver)
    return _Svd(*_C._linalg_svd(_tensor(A, "linalg_svd", "A", 1), full_matrices, True))


def svdvals(A, *, driver=None):
    """The singular values of each matrix of A, descending."""
    _driver(driver)
    return _C._linalg_svd(_tensor(A, "linalg_svdvals", "A", 1), False, False)[1]


def eig(A):
    """Not implemented: the eigenvalues of a general matrix are complex, which cgrad has no dtype for."""
    raise NotImplementedError("cgrad.linalg.eig: complex results are not supported by cgrad")


def eigvals(A):
    """Not implemented: the eigenvalues of a general matrix are complex, which cgrad has no dtype for."""
    raise NotImplementedError("cgrad.linalg.eigvals: complex results are not supported by cgrad")


# ---- compositions -------------------------------------------------------------------------------

def _default_rtol(A, atol, rtol):
    if rtol is None and atol is not None and atol > 0:
        return 0.0
    if rtol is None:
        return _EPS.get(A.dtype, 2.220446049250313e-16) * max(A.shape[-2:])
    return rtol


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """The number of singular values (|eigenvalues| when hermitian) of each
    matrix above max(atol, rtol times the largest), as int64."""
    _check_matrix(_tensor(A, "linalg_matrix_rank", "input", 1), "linalg.matrix_rank", square=hermitian)
    if not A.is_floating_point():
        raise RuntimeError("This function doesn't handle types other than float and double")
    s = eigvalsh(A).abs() if hermitian else svdvals(A)
    rtol = _default_rtol(A, atol, rtol)
    tol = (s.amax(-1, keepdim=True) if s.shape[-1] else s.sum(-1, keepdim=True)) * rtol
    if atol is not None:
        tol = tol.clamp(min=atol)
    return (s > tol).sum(-1)


def cond(A, p=None):
    """The condition number of each matrix in the p norm: the ratio of the extreme
    singular values for p None, 2 or -2, otherwise norm(A, p) * norm(A^-1, p)."""
    _check_matrix(_tensor(A, "linalg_cond", "input", 1), "linalg.cond", square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(A)
        return s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """vector_norm or matrix_norm, as the dims and ord ask: the 2-norm of A
    flattened by default, a matrix norm for a string ord or two dims."""
    _tensor(A, "linalg_norm", "input", 1)
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2 or dim is None and ord is not None and A.dim() == 2:
        return matrix_norm(A, "fro" if ord is None else ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord={ord} is not supported for vectors")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def cross(input, other, *, dim=-1):
    """The cross product along dim (3 elements), the other dims broadcast (of one ndim)."""
    _tensor(input, "linalg_cross", "input", 1)
    _tensor(other, "linalg_cross", "other", 2)
    if input.dim() and other.dim() and (input.shape[dim] != 3 or other.shape[dim] != 3):
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[dim]} and "
                           f"{other.shape[dim]}")
    return _C.cross(input, other, dim=dim)


def vecdot(x, y, *, dim=-1):
    """The dot products of x and y (broadcast) along dim."""
    return (_tensor(x, "linalg_vecdot", "x", 1) * _tensor(y, "linalg_vecdot", "y", 2)).sum(dim)


def multi_dot(tensors):
    """The product of the matrices in order; a 1-D first (last) one is a row
    (column) vector, dropped from the result's shape."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    out = tensors[0]
    for t in tensors[1:]:
        out = out @ t
    return out


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonal of each matrix of A (a view)."""
    return A.diagonal(offset, dim1, dim2)




def vander(x, *, N=None):
    """The Vandermonde matrices [1, x, x^2, ..., x^(N-1)] along a new last dim."""
    _tensor(x, "linalg_vander", "x", 1)
    if x.dim() < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension.")
    n = x.shape[-1] if N is None else N
    if n < 1:
        raise RuntimeError("N must be greater than 1.")
    ones = _creation.ones_like(x).unsqueeze(-1)
    if n == 1:
        return ones
    powers = x.unsqueeze(-1).expand(*x.shape, n - 1).cumprod(-1)
    return _C.cat([ones, powers], -1)


def tensorinv(A, ind=2):
    """The inverse of A as the linear map of its first ind dims onto the others."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    out_shape, in_shape = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    rows, cols = math.prod(out_shape), math.prod(in_shape)
    if rows != cols:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           "prod(self.shape[:ind]), but got " f"{cols} != {rows}")
    return inv(A.reshape(rows, cols)).reshape(*in_shape, *out_shape)


def tensorsolve(A, B, dims=None):
    """X with tensordot(A, X, X.ndim) = B."""
    if dims is not None:
        moved = [d % A.dim() for d in dims]
        A = A.permute(*[d for d in range(A.dim()) if d not in moved], *moved)
    x_shape = tuple(A.shape[B.dim():])
    n = math.prod(B.shape)
    if math.prod(x_shape) != n:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {math.prod(x_shape)} != {n}")
    return solve(A.reshape(n, n), B.reshape(n)).reshape(*x_shape)


def householder_product(A, tau):
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T with v_i the
    i-th column of A below the diagonal, 1 on it (LAPACK's orgqr)."""
    _check_matrix(_tensor(A, "linalg_householder_product", "input", 1), "torch.linalg.householder_product",
                  square=False)
    _tensor(tau, "linalg_householder_product", "tau", 2)
    if not A.is_floating_point():
        raise _not_floating(A, "orgqr_cpu")
    if tau.dtype != A.dtype:
        raise RuntimeError(f"torch.linalg.householder_product: tau dtype {_TYPE_NAMES[tau.dtype]} does not match "
                           f"input dtype {_TYPE_NAMES[A.dtype]}")
    m, n, k = A.shape[-2], A.shape[-1], tau.shape[-1]
    if n > m:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if k > n:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    eye = _C.eye(m, dtype=A.dtype)
    v = A.tril(-1) + _C.eye(m, n, dtype=A.dtype)
    q = eye.expand(*A.shape[:-2], m, m)
    for i in range(k):
        vi = v[..., :, i:i + 1]
        q = q - (q @ vi) * tau[..., i:i + 1].unsqueeze(-1) @ vi.mT
    return q[..., :, :n]


def lstsq(A, B, rcond=None, *, driver=None):
    """(solution, residuals, rank, singular_values) as PyTorch's CPU default
    driver 'gelsy' gives them: the minimum-norm least-squares solution of A X =
    B, the rank (int64) with singular values at most rcond times the largest
    taken as 0 (eps * max(m, n) by default), residuals and singular_values
    empty."""
    _check_matrix(_tensor(A, "linalg_lstsq", "self", 1), "torch.linalg.lstsq", square=False, name="A")
    _tensor(B, "linalg_lstsq", "b", 2)
    if not A.is_floating_point():
        raise RuntimeError("This function doesn't handle types other than float and double")
    if driver not in (None, "gelsy"):
        raise NotImplementedError(f"cgrad.linalg.lstsq: driver '{driver}' is not implemented (gelsy is)")
    vector = B.dim() == A.dim() - 1
    b = B.unsqueeze(-1) if vector else B
    if b.shape[-2] != A.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2). Got {A.shape[-2]} "
                           f"!= {b.shape[-2]}")
    rtol = _EPS.get(A.dtype, 2.220446049250313e-16) * max(A.shape[-2:]) if rcond is None or rcond < 0 else rcond
    x = pinv(A, rtol=rtol) @ b
    empty = _C.empty(0, dtype=A.dtype)
    return _Lstsq(x.squeeze(-1) if vector else x, empty, matrix_rank(A.detach(), rtol=rtol), empty)


# ---- ldl_factor, ldl_solve: LAPACK's Bunch-Kaufman factorization of symmetric matrices. PyTorch defines no
# derivative for them; here their results do not require grad (PyTorch's do, with a node refusing backward).

def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """(LD, pivots, info): A = P L D L^T P^T from the lower triangle of each symmetric matrix of A (hermitian is
    the same for real A): L below the diagonal of LD, D's 1x1 and 2x2 blocks on and next to it; LAPACK's
    1-based pivots, negative for a 2x2 block; per matrix 0 or the index of a zero diagonal block of D. pivots
    and info are int64 (PyTorch's are int32)."""
    _tensor(A, "linalg_ldl_factor_ex", "input", 1)
    ld, piv, info = _C._linalg_ldl_factor_ex(A.detach())
    if check_errors:
        _ldl_singular(info, A, "torch.linalg.ldl_factor_ex")
    return _LdlFactorEx(ld, piv, info)


def ldl_factor(A, *, hermitian=False):
    """(LD, pivots) of ldl_factor_ex; a matrix whose D is singular raises LinAlgError (where PyTorch fails an
    internal assert)."""
    _tensor(A, "linalg_ldl_factor", "input", 1)
    ld, piv, info = _C._linalg_ldl_factor_ex(A.detach())
    _ldl_singular(info, A, "torch.linalg.ldl_factor")
    return _LdlFactor(ld, piv)


def _ldl_singular(info, A, fname):
    flat = info.reshape(-1).tolist()
    failed = [k for k, v in enumerate(flat) if v]
    if failed:
        k = failed[0]
        where = f"(Batch element {k}): " if A.dim() > 2 else ""
        raise LinAlgError(f"{fname}: {where}The factorization could not be completed because the block diagonal "
                          f"matrix D is singular (its element {flat[k]} is zero).")


def ldl_solve(LD, pivots, B, *, hermitian=False):
    """X of A X = B from ldl_factor's (LD, pivots) of A; B's batch dims broadcast with LD's."""
    fname = "torch.linalg.ldl_solve"
    _tensor(LD, "linalg_ldl_solve", "LD", 1)
    _tensor(pivots, "linalg_ldl_solve", "pivots", 2)
    _tensor(B, "linalg_ldl_solve", "B", 3)
    _check_matrix(LD, fname, name="LD")
    if tuple(LD.shape[:-1]) != tuple(pivots.shape):
        raise RuntimeError(f"{fname}: Expected LD.shape[:-1] and pivots.shape to be the same, but got pivots with "
                           f"shape {list(pivots.shape)} instead")
    if pivots.is_floating_point() or pivots.dtype == _bool:
        raise RuntimeError(f"{fname}: Expected pivots to be integers. Got {_TYPE_NAMES[pivots.dtype]}")
    if B.dim() < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got -2)")
    if B.shape[-2] != LD.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for {fname}: each A matrix is {LD.shape[-2]} by "
                           f"{LD.shape[-1]} but each b matrix is {B.shape[-2]} by {B.shape[-1]}")
    if B.dtype != LD.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type {_TYPE_NAMES[B.dtype]} "
                           f"and A of type {_TYPE_NAMES[LD.dtype]} instead.")
    if not LD.is_floating_point():
        raise RuntimeError(f"{fname}: Expected a floating point or complex tensor as input. Got "
                           f"{_TYPE_NAMES[LD.dtype]}")
    batch = tuple(_broadcast_shapes(tuple(LD.shape[:-2]), tuple(B.shape[:-2])))
    n, k = LD.shape[-1], B.shape[-1]
    ld = LD.detach().expand(*batch, n, n)
    piv = pivots.expand(*batch, n)
    b = B.detach().expand(*batch, n, k)
    return _C._linalg_ldl_solve(ld, piv, b)
