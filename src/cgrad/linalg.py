"""cgrad.linalg: the part of torch.linalg cgrad implements."""
from cgrad._C import LinAlgError, det, matrix_exp, matrix_power, slogdet
from cgrad._C import _linalg_pinv
from cgrad._C import float32 as _float32
from cgrad._C import inverse as inv

__all__ = ["LinAlgError", "det", "inv", "matrix_exp", "matrix_power", "pinv", "slogdet"]

_EPS = {_float32: 1.1920928955078125e-07}  # float64's is the default


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
