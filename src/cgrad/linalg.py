"""cgrad.linalg: the part of torch.linalg cgrad implements."""
import math

from cgrad._C import LinAlgError, det, matrix_exp, matrix_power, slogdet
from cgrad._C import Tensor as _Tensor
from cgrad._C import _linalg_pinv
from cgrad._C import bool_ as _bool
from cgrad._C import float32 as _float32
from cgrad._C import float64 as _float64
from cgrad._C import int64 as _int64
from cgrad._C import inverse as inv

__all__ = ["LinAlgError", "det", "inv", "matrix_exp", "matrix_norm", "matrix_power", "pinv", "slogdet", "vector_norm"]

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


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The ord-norm of x over dim (all of it by default), as PyTorch's: one
    node, LinalgVectorNormBackward0."""
    if not isinstance(x, _Tensor):
        raise TypeError(f"linalg_vector_norm(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not {type(ord).__name__}")
    if dtype is not None and dtype != x.dtype:
        raise NotImplementedError("cgrad.linalg.vector_norm: dtype is not implemented")
    if not x.is_floating_point():
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_TYPE_NAMES[x.dtype]}")
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
    columns or rows (-1, -inf the smallest). The spectral orders (2, -2,
    'nuc') need singular values, which cgrad does not compute."""
    if not isinstance(A, _Tensor):
        raise TypeError(f"linalg_matrix_norm(): argument 'input' (position 1) must be Tensor, not {type(A).__name__}")
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if not A.is_floating_point():
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_TYPE_NAMES[A.dtype]}")
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    d0, d1 = (d % A.dim() if -A.dim() <= d < A.dim() else d for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    A.sum((d0, d1))  # torch's errors for the dims
    if ord not in _MATRIX_ORDERS:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if ord in ("nuc", 2, -2):
        raise NotImplementedError(f"cgrad.linalg.matrix_norm: the order {ord} is not implemented")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim, dtype=dtype)
    summed, picked = (d0, d1) if abs(ord) == 1 else (d1, d0)  # 1: columns' sums; inf: rows'
    sums = vector_norm(A, 1, summed, keepdim, dtype=dtype)
    if not keepdim and picked > summed:
        picked -= 1
    return sums.amax(picked, keepdim) if ord > 0 else sums.amin(picked, keepdim)
