"""cgrad.linalg: the part of torch.linalg cgrad implements."""
from cgrad._C import LinAlgError, det, matrix_exp, matrix_power, pinverse, slogdet
from cgrad._C import float32 as _float32
from cgrad._C import inverse as inv

__all__ = ["LinAlgError", "det", "inv", "matrix_exp", "matrix_power", "pinv", "slogdet"]

_EPS = {_float32: 1.1920928955078125e-07}  # float64's is the default


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The pseudo-inverse of each matrix of A; singular values at most rtol
    times the largest count as 0 (by default eps * max(m, n), as PyTorch)."""
    if atol is not None or hermitian:
        raise NotImplementedError("cgrad.linalg.pinv: atol and hermitian are not implemented")
    if rtol is None:
        rtol = _EPS.get(A.dtype, 2.220446049250313e-16) * max(A.shape[-2:], default=1)
    return pinverse(A, rtol)
