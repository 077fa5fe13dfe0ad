"""lobpcg: the k largest (or smallest) eigenpairs of a symmetric (generalized) eigenproblem A x = lambda B x by
Knyazev's locally optimal block preconditioned conjugate gradient method (SIAM J. Sci. Comput. 23(2), 2001).

Each step does a Rayleigh-Ritz projection onto the span of the current vectors X, the (preconditioned) residuals
W = iK (A X - B X diag(E)) and the previous search directions P, with that span's basis made B-orthonormal
through the eigendecomposition of its Gram matrix (directions it cannot tell apart are dropped, which keeps the
step stable where the plain method's Cholesky would fail). It stops when every residual is below tol relative
to the scale of A, B and X, or after niter steps.

The gradient, where A requires it (B may not, as in PyTorch), is that of the same eigenpairs taken from the
full eigendecomposition of (A + A^T) / 2: for a dense A that is the exact derivative of the partial eigenspace.
"""
import cgrad
from cgrad import _C, autograd, linalg
from cgrad.autograd.function import Function
from cgrad.autograd.grad_mode import is_grad_enabled

__all__ = ["lobpcg"]

_EPS = {_C.float32: 1.1920928955078125e-07, _C.float64: 2.220446049250313e-16}


def _b_orthonormal_basis(S, B, drop):
    """Columns spanning S's columns, orthonormal in the B inner product; directions whose Gram eigenvalue is
    below drop times the largest are left out."""
    BS = S if B is None else B @ S
    w, U = linalg.eigh(S.mT @ BS)
    keep = w > drop * w.max().clamp(min=0)
    U, w = U[:, keep], w[keep]
    return (S @ U) / w.sqrt()


def _rayleigh_ritz(A, B, Q, n, largest):
    """The n extreme Ritz pairs of A on the B-orthonormal basis Q, eigenvalues largest first (or smallest)."""
    theta, Z = linalg.eigh(Q.mT @ (A @ Q))
    order = list(range(theta.shape[0] - 1, theta.shape[0] - 1 - n, -1)) if largest else list(range(n))
    index = cgrad.tensor(order)
    return theta.index_select(0, index), Q @ Z.index_select(1, index)


def _lobpcg_one(A, B, X, iK, niter, tol, largest):
    """(E, X) of one matrix A (m x m), from the start vectors X (m x n)."""
    n, drop = X.shape[-1], _EPS[A.dtype] * 100
    E, X = _rayleigh_ritz(A, B, _b_orthonormal_basis(X, B, drop), n, largest)
    P, step = None, 0
    while niter < 0 or step < niter:
        BX = X if B is None else B @ X
        R = A @ X - BX * E
        scale = linalg.matrix_norm(A) + (1 if B is None else linalg.matrix_norm(B)) * E.abs()
        if bool(((linalg.vector_norm(R, dim=0) / (scale * linalg.vector_norm(X, dim=0))) < tol).all()):
            break
        W = R if iK is None else iK @ R
        parts = [X, W] if P is None else [X, W, P]
        Q = _b_orthonormal_basis(cgrad.cat(parts, 1), B, drop)
        E, X_new = _rayleigh_ritz(A, B, Q, n, largest)
        P = X_new - X @ (BX.mT @ X_new)  # the new vectors' part outside the old ones: the next search directions
        X, step = X_new, step + 1
    return E, X


def _solve(A, B, X, iK, niter, tol, largest):
    if A.dim() == 2:
        return _lobpcg_one(A, B, X, iK, niter, tol, largest)
    pairs = [_solve(A[i], None if B is None else B[i], X[i], None if iK is None else iK[i], niter, tol, largest)
             for i in range(A.shape[0])]
    return cgrad.stack([p[0] for p in pairs]), cgrad.stack([p[1] for p in pairs])


def _eigenpairs_of(A, X, k, largest):
    """E, X of the symmetrized A by eigh, the k chosen pairs with signs as in X: differentiable in A."""
    w, V = linalg.eigh((A + A.mT) / 2)
    m = A.shape[-1]
    index = cgrad.tensor(list(range(m - 1, m - 1 - k, -1)) if largest else list(range(k)))
    E, V = w.index_select(-1, index), V.index_select(-1, index)
    signs = (V * X).sum(-2, keepdim=True).sign()
    return E, V * cgrad.where(signs == 0, cgrad.ones_like(signs), signs)


class _LOBPCG(Function):
    _node_name = "LOBPCGAutogradFunctionBackward"

    @staticmethod
    def forward(ctx, A, B, X, iK, k, niter, tol, largest):
        E, Xs = _solve(A, B, X, iK, niter, tol, largest)
        E, Xs = E[..., :k], Xs[..., :k]
        ctx.save_for_backward(A, Xs)
        ctx.has_b, ctx.k, ctx.largest = B is not None, k, largest
        return E, Xs

    @staticmethod
    def backward(ctx, grad_e, grad_x):
        if ctx.has_b:
            raise ValueError("lobpcg.backward does not support backward with B != I yet.")
        A, Xs = ctx.saved_tensors
        higher = is_grad_enabled()  # create_graph: the gradient is a function of A itself
        with cgrad.enable_grad():
            a = A if higher and A.requires_grad else A.detach().requires_grad_()
            E, X = _eigenpairs_of(a, Xs.detach(), ctx.k, ctx.largest)
            outs, grads = zip(*[(o, g) for o, g in ((E, grad_e), (X, grad_x)) if g is not None])
            (grad_a,) = autograd.grad(outs, [a], grads, create_graph=higher)
        return grad_a, None, None, None, None, None, None, None


def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None, method=None,
           tracker=None, ortho_iparams=None, ortho_fparams=None, ortho_bparams=None):
    """(E, X): the k largest (largest=False: smallest) eigenvalues of A x = lambda B x (B the identity when not
    given) and their B-orthonormal eigenvectors, from n start vectors X (random when not given). niter caps the
    steps (-1: until converged), tol is the relative residual that counts as converged (eps ** 0.5)."""
    if A.shape[-2] != A.shape[-1]:
        raise AssertionError(f"A must be square, got shape {A.shape}")
    if not A.is_floating_point():
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: long int != "
                           f"{'double' if _C.get_default_dtype() == _C.float64 else 'float'}")
    if tracker is not None or ortho_iparams or ortho_fparams or ortho_bparams:
        raise NotImplementedError("cgrad.lobpcg: tracker and the ortho_* parameters are not supported")
    if method not in (None, "basic", "ortho"):
        raise NotImplementedError(f"cgrad.lobpcg: method {method!r} is not one of 'basic' and 'ortho'")
    k = (X.shape[-1] if X is not None else 1) if k is None else k
    n = X.shape[-1] if X is not None else (k if n is None else n)
    m = A.shape[-1]
    if m < 3 * n:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={m}) is smaller than "
                         f"3 x the number of requested eigenpairs (={n})")
    if X is None:
        X = cgrad.randn(*A.shape[:-1], n, dtype=A.dtype)
    niter = 1000 if niter is None else niter
    tol = _EPS[A.dtype] ** 0.5 if tol is None else tol
    largest = True if largest is None else largest
    if is_grad_enabled() and any(t is not None and t.requires_grad for t in (A, B)):
        return _LOBPCG.apply(A, B, X.detach(), iK, k, niter, tol, bool(largest))
    with cgrad.no_grad():
        E, Xs = _solve(A, B, X, iK, niter, tol, bool(largest))
    return E[..., :k], Xs[..., :k]
