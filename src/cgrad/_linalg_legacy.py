"""PyTorch's older linear-algebra names beside torch.linalg (torch.cholesky,
torch.svd, torch.triangular_solve, ...), over cgrad.linalg's factorizations.
The Tensor methods of the same names call these."""

from cgrad import _C, _creation, autograd, linalg
from cgrad.autograd.function import Function
from cgrad.autograd.grad_mode import is_grad_enabled
from cgrad.linalg import _named_tuple, _tensor

__all__ = ["cholesky", "cholesky_inverse", "cholesky_solve", "geqrf", "lu", "lu_solve", "lu_unpack", "orgqr",
           "ormqr", "qr", "svd", "triangular_solve"]

_QR = _named_tuple("qr", ("Q", "R"))
_SVD = _named_tuple("svd", ("U", "S", "V"))
_TriangularSolve = _named_tuple("triangular_solve", ("solution", "cloned_coefficient"))
_LuUnpack = _named_tuple("lu_unpack", ("P", "L", "U"))
_Geqrf = _named_tuple("geqrf", ("a", "tau"))


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


def _out_tuple(fname, out, count):
    if not isinstance(out, (tuple, list)) or not all(isinstance(t, _C.Tensor) for t in out):
        raise TypeError(f"{fname}(): argument 'out' must be tuple of Tensors, not {type(out).__name__}")
    if len(out) != count:
        raise TypeError(f"expected tuple of {count} elements but got {len(out)}")


def _write(out, result):
    """result copied into out (resized to its shape first), as an out= argument receives it."""
    from cgrad.special import resize_out
    resize_out(out, result.shape, stacklevel=4)
    return out.copy_(result)


def geqrf(input, *, out=None):
    """(a, tau): LAPACK's geqrf of each matrix of input, R on and above a's diagonal, the Householder vectors
    below it (their first entry, 1, implied) and their scalars in tau. The derivative is not implemented, as in
    PyTorch: backward through it raises."""
    _tensor(input, "geqrf", "input", 1)
    if input.dim() < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    if not input.is_floating_point():
        raise linalg._not_floating(input, "geqrf_cpu")
    if out is None:
        return _Geqrf(*_C._geqrf(input))
    _out_tuple("geqrf", out, 2)
    if is_grad_enabled() and any(t.requires_grad for t in (input, *out)):
        raise RuntimeError("geqrf(): functions with out=... arguments don't support automatic differentiation, but "
                           "one of the arguments requires grad.")
    a, tau = _C._geqrf(input)
    return _Geqrf(_write(out[0], a), _write(out[1], tau))


def _reflect(v, tau_i, x, left):
    """H x (left) or x H, H = I - tau_i v v^T, for a batch of columns v (.., m, 1) and tau_i (.., 1, 1)."""
    if left:
        return x - v @ (tau_i * (v.mT @ x))
    return x - ((x @ v) * tau_i) @ v.mT


def _ormqr_compose(a, tau, c, left, transpose):
    """Q C, Q^T C, C Q or C Q^T with Q = H_1 ... H_k the reflectors of geqrf (a, tau): differentiable in all three.
    Q C applies H_k first; Q^T C = H_k ... H_1 C applies H_1 first; C Q applies H_1 first."""
    m, k = a.shape[-2], tau.shape[-1]
    v = a.tril(-1) + _C.eye(m, a.shape[-1], dtype=a.dtype)
    order = range(k) if left == transpose else range(k - 1, -1, -1)
    for i in order:
        c = _reflect(v[..., :, i:i + 1], tau[..., i:i + 1].unsqueeze(-1), c, left)
    return c


class _Ormqr(Function):
    """ormqr as one OrmqrBackward0 node; its backward differentiates the composition of reflections again, so
    that the gradient reaches input, tau and other (and is itself differentiable)."""
    _node_name = "OrmqrBackward0"

    @staticmethod
    def forward(ctx, a, tau, c, left, transpose):
        ctx.save_for_backward(a, tau, c)
        ctx.flags = (left, transpose)
        return _ormqr_compose(a, tau, c, left, transpose)

    @staticmethod
    def backward(ctx, grad):
        saved = ctx.saved_tensors
        wanted = [i for i in range(3) if ctx.needs_input_grad[i]]
        higher = is_grad_enabled()  # create_graph: the gradient is a function of the saved inputs
        with _C.enable_grad():
            inputs = [t if higher and t.requires_grad else t.detach().requires_grad_(i in wanted)
                      for i, t in enumerate(saved)]
            out = _ormqr_compose(*inputs, *ctx.flags)
            grads = autograd.grad(out, [inputs[i] for i in wanted], grad, create_graph=higher, allow_unused=True)
        result = [None] * 3
        for i, g in zip(wanted, grads):
            result[i] = g if g is not None else _C.zeros_like(saved[i])
        return (*result, None, None)


_ORMQR_TYPES = {_C.float32: "Float", _C.float64: "Double", _C.int64: "Long", _C.bool_: "Bool"}


def _check_ormqr(input, tau, other, left):
    if input.dim() < 2:
        raise RuntimeError("torch.ormqr: input must have at least 2 dimensions.")
    if other.dim() < 2:
        raise RuntimeError("torch.ormqr: other must have at least 2 dimensions.")
    if tau.dim() != input.dim() - 1:
        raise RuntimeError(f"torch.ormqr: Expected tau to have one dimension less than input, but got tau.ndim equal "
                           f"to {tau.dim()} and input.ndim is equal to {input.dim()}")
    if other.dim() != input.dim():
        raise RuntimeError(f"torch.ormqr: Expected other to have the same number of dimensions as input, but got "
                           f"other.ndim equal to {other.dim()} and input.ndim is equal to {input.dim()}")
    m, side = input.shape[-2], -2 if left else -1
    if other.shape[side] != m:
        raise RuntimeError(f"torch.ormqr: other.shape[{side}] must be equal to input.shape[-2]")
    if tau.shape[-1] != min(other.shape[side], input.shape[-1]):
        raise RuntimeError(f"torch.ormqr: tau.shape[-1] must be equal to min(other.shape[{side}], input.shape[-1])")
    batch = tuple(input.shape[:-2])
    for name, t in (("tau", tau), ("other", other)):
        got = tuple(t.shape[:-1] if name == "tau" else t.shape[:-2])
        if got != batch:
            raise RuntimeError(f"torch.ormqr: Expected batch dimensions of {name} to be equal to input.shape[:-2], "
                               f"but got {list(got)}")
    for name, t in (("tau", tau), ("other", other)):
        if t.dtype != input.dtype:
            raise RuntimeError(f"torch.ormqr: Expected input and {name} to have the same dtype, but input has dtype"
                               f"{_ORMQR_TYPES[input.dtype]} and {name} has dtype {_ORMQR_TYPES[t.dtype]}")
    if not input.is_floating_point():
        raise linalg._not_floating(input, "ormqr_cpu")


def ormqr(input, input2, input3, left=True, transpose=False, *, out=None):
    """Q other (left) or other Q, Q transposed when transpose, for Q = H_1 ... H_k the m x m product of the
    Householder reflectors of geqrf's (input, tau=input2), without forming Q (LAPACK's ormqr)."""
    _tensor(input, "ormqr", "input", 1)
    _tensor(input2, "ormqr", "input2", 2)
    _tensor(input3, "ormqr", "input3", 3)
    _check_ormqr(input, input2, input3, left)
    if out is not None:
        if not isinstance(out, _C.Tensor):
            raise TypeError(f"ormqr(): argument 'out' must be Tensor, not {type(out).__name__}")
        if out.dtype != input.dtype:
            raise RuntimeError(f"torch.ormqr: Expected input and result to have the same dtype, but input has dtype"
                               f"{_ORMQR_TYPES[input.dtype]} and result has dtype {_ORMQR_TYPES[out.dtype]}")
        if is_grad_enabled() and any(t.requires_grad for t in (input, input2, input3, out)):
            raise RuntimeError("ormqr(): functions with out=... arguments don't support automatic differentiation, "
                               "but one of the arguments requires grad.")
        with _C.no_grad():
            return _write(out, _ormqr_compose(input, input2, input3, bool(left), bool(transpose)))
    return _Ormqr.apply(input, input2, input3, bool(left), bool(transpose))


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
