"""Randomized low-rank factorizations (Halko, Martinsson and Tropp, "Finding structure with randomness",
2009): svd_lowrank and pca_lowrank, compositions of cgrad's ops, so differentiable as PyTorch's are.

A random Gaussian test matrix Omega (n x q) samples A's range: Q = orth(A Omega), refined by niter rounds
of subspace iteration Q = orth(A orth(A^T Q)) (Algorithm 4.4). Then B = Q^T A is small, and its SVD
U' S V^T gives A ~ (Q U') S V^T (Algorithm 5.1). With M given, everything is done for A - M.
"""
from cgrad import _C, linalg
from cgrad._dtypes import _CPP_NAMES

__all__ = ["svd_lowrank", "pca_lowrank", "get_approximate_basis"]


def _orth(x):
    return linalg.qr(x).Q


def _minus(x, y):
    return x if y is None else x - y


def get_approximate_basis(A, q, niter=2, M=None):
    """Q with q orthonormal columns (at most min(m, q)) such that Q Q^T (A - M) approximates A - M."""
    niter = 2 if niter is None else niter
    if not A.is_floating_point():
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_CPP_NAMES[A.dtype.name]} != "
                           f"{_CPP_NAMES[_C.get_default_dtype().name]}")
    omega = _C.randn(*A.shape[:-2], A.shape[-1], q, dtype=A.dtype)
    Q = _orth(_minus(A @ omega, None if M is None else M @ omega))
    for _ in range(niter):
        Q = _orth(_minus(A.mT @ Q, None if M is None else M.mT @ Q))
        Q = _orth(_minus(A @ Q, None if M is None else M @ Q))
    return Q




def svd_lowrank(A, q=6, niter=2, M=None):
    """(U, S, V) with A - M ~ U diag(S) V^T, U m x q, S q, V n x q (q at most min(m, n)): a randomized SVD.
    Random: manual_seed makes it repeatable."""
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.size())
    Q = get_approximate_basis(A, q, niter=niter, M=M)
    B = Q.mT @ _minus(A, M)
    U, S, Vh = linalg.svd(B, full_matrices=False)
    return Q @ U, S, Vh.mT


def pca_lowrank(A, q=None, center=True, niter=2):
    """(U, S, V): svd_lowrank of A with each column's mean subtracted (center), q = min(6, m, n) by default.
    V's columns are the principal directions; S**2 / (m - 1) the variances along them."""
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (q >= 0 and q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter=niter)
    return svd_lowrank(A, q, niter=niter, M=A.mean(dim=-2, keepdim=True))
