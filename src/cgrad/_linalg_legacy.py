"""PyTorch's older linear-algebra names beside torch.linalg (torch.cholesky,
torch.svd, torch.triangular_solve, ...), over cgrad.linalg's factorizations.
The Tensor methods of the same names call these."""
from cgrad import _C, _creation, linalg
from cgrad.autograd.function import Function
from cgrad.linalg import _named_tuple, _tensor

__all__ = ["cholesky", "cholesky_inverse", "cholesky_solve", "lu", "lu_solve", "lu_unpack", "orgqr", "qr", "svd",
           "triangular_solve"]

_QR = _named_tuple("qr", ("Q", "R"))
_SVD = _named_tuple("svd", ("U", "S", "V"))
_TriangularSolve = _named_tuple("triangular_solve", ("solution", "cloned_coefficient"))
_LuUnpack = _named_tuple("lu_unpack", ("P", "L", "U"))


def cholesky(input, upper=False):
    """linalg.cholesky(input, upper=upper)."""
    return linalg.cholesky(input, upper=upper)


def cholesky_solve(input, input2, upper=False):
    """X of A X = input with A = L L^T (U^T U when upper) from its factor input2."""
    _tensor(input, "cholesky_solve", "input", 1)
    _tensor(input2, "cholesky_solve", "input2", 2)
    if input.dim() < 2 or input2.dim() < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {input.dim()} dimensions instead")
    if not input2.is_floating_point():
        raise linalg._not_floating(input2, "cholesky_solve_cpu")
    lower = input2.mT if upper else input2
    y = linalg.solve_triangular(lower, input, upper=False)
    return linalg.solve_triangular(lower.mT, y, upper=True)


class _CholeskyInverse(Function):
    """(L L^T)^-1 from the factor L. The value reads only L's triangle, but the gradient is that of the formula
    in the whole of L, as PyTorch's is: entries off the triangle get gradient too."""
    _node_name = "CholeskyInverseBackward0"

    @staticmethod
    def forward(ctx, factor, upper):
        eye = _C.eye(factor.shape[-1], dtype=factor.dtype).expand(*factor.shape)
        out = cholesky_solve(eye, factor, upper)
        ctx.save_for_backward(factor, out)
        ctx.upper = upper
        return out

    @staticmethod
    def backward(ctx, grad):
        # C = (L L^T)^-1, dC = -C (dL L^T + L dL^T) C: grad_L = -C (G + G^T) C L; for C = (U^T U)^-1, -U C (G + G^T) C
        factor, c = ctx.saved_tensors
        middle = c @ (grad + grad.mT) @ c
        return -(factor @ middle) if ctx.upper else -(middle @ factor), None


def cholesky_inverse(input, upper=False):
    """(L L^T)^-1 (with upper, (U^T U)^-1) from the Cholesky factor input."""
    _tensor(input, "cholesky_inverse", "input", 1)
    linalg._check_matrix(input, "cholesky_inverse")
    return _CholeskyInverse.apply(input, bool(upper))


def orgqr(input, input2):
    """linalg.householder_product(input, input2)."""
    return linalg.householder_product(input, input2)


def qr(input, some=True):
    """(Q, R): linalg.qr in mode 'reduced' (some) or 'complete'."""
    return _QR(*linalg.qr(input, "reduced" if some else "complete"))


def svd(input, some=True, compute_uv=True):
    """(U, S, V) with input = U diag(S) V^T: V, not Vh, and reduced when some.
    Without compute_uv, U and V are zeros of the full shapes."""
    if not compute_uv:
        s = linalg.svdvals(input)
        m, n = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        return _SVD(_C.zeros(*batch, m, m, dtype=input.dtype), s, _C.zeros(*batch, n, n, dtype=input.dtype))
    u, s, vh = linalg.svd(input, full_matrices=not some)
    return _SVD(u, s, vh.mT)


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """(X, a copy of A) with op(A) X = b, op(A) = A^T when transpose."""
    _tensor(b, "triangular_solve", "input", 1)
    _tensor(A, "triangular_solve", "A", 2)
    a = A.mT if transpose else A
    x = linalg.solve_triangular(a, b, upper=upper != transpose, unitriangular=unitriangular)
    return _TriangularSolve(x, A.clone())


def lu(A, pivot=True, get_infos=False):
    """(LU, pivots) of linalg.lu_factor_ex, with its info when get_infos."""
    out = linalg.lu_factor_ex(A, pivot=pivot)
    return tuple(out) if get_infos else (out[0], out[1])


def lu_solve(b, LU_data, LU_pivots):
    """linalg.lu_solve(LU_data, LU_pivots, b)."""
    return linalg.lu_solve(LU_data, LU_pivots, b)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """(P, L, U) from lu_factor's packed factors (empty where not unpacked)."""
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    empty = _C.empty(0, dtype=LU_data.dtype)
    low, up = empty, empty
    if unpack_data:
        low = LU_data.tril(-1)[..., :, :k] + _C.eye(m, k, dtype=LU_data.dtype)
        up = LU_data.triu()[..., :k, :]
    p = empty
    if unpack_pivots:
        perm = list(range(m))
        batch = tuple(LU_data.shape[:-2])
        rows = LU_pivots.reshape(-1, LU_pivots.shape[-1]).tolist() if LU_pivots.numel() else [[]] * max(
            1, _C.zeros(*batch).numel())
        mats = []
        for swaps in rows:
            perm = list(range(m))
            for i, j in enumerate(swaps):
                perm[i], perm[j - 1] = perm[j - 1], perm[i]
            mats.append([[1.0 if perm[c] == r else 0.0 for c in range(m)] for r in range(m)])
        p = _creation.tensor(mats, dtype=LU_data.dtype).reshape(*batch, m, m)
    return _LuUnpack(p, low, up)
