"""cgrad.special: torch.special's functions, name by name.

Most are PyTorch's aliases of top-level ops (expit is sigmoid, gammaln is
lgamma, ...) and record the same nodes; the Bessel, Airy and polynomial
functions, erfcx, i0e, i1e, ndtri, log_ndtr, entr, xlog1py and zeta have
kernels of their own (csrc/kernels_special.c). Like PyTorch, the Bessel and
Airy functions and the polynomials have no gradient: their results never
require grad. out= writes the result into a given tensor, resizing it (with
PyTorch's warning when it had elements), and refuses to when the op would be
differentiated.
"""
import warnings

import cgrad
from cgrad import _C
from cgrad._C import Tensor, bool_, float32, float64, int64

__all__ = [
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
    "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "digamma", "entr", "erf", "erfc",
    "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc", "gammaln", "hermite_polynomial_h",
    "hermite_polynomial_he", "i0", "i0e", "i1", "i1e", "laguerre_polynomial_l", "legendre_polynomial_p", "log1p",
    "log_ndtr", "log_softmax", "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0",
    "modified_bessel_k1", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round", "scaled_modified_bessel_k0",
    "scaled_modified_bessel_k1", "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
    "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "sinc", "softmax", "spherical_bessel_j0",
    "xlog1py", "xlogy", "zeta",
]

_DTYPE_NAMES = {float32: "Float", float64: "Double", int64: "Long", bool_: "Bool"}


def _tensor(x, fname, arg="input", pos=1):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Tensor, not {type(x).__name__}")
    return x


def _out(fname, compute, inputs, out, differentiable=True):
    """compute(), written into out when out is given: PyTorch's out= contract."""
    if out is None:
        return compute()
    if not isinstance(out, Tensor):
        raise TypeError(f"{fname}(): argument 'out' must be Tensor, not {type(out).__name__}")
    tensors = [t for t in (*inputs, out) if isinstance(t, Tensor)]
    if differentiable and cgrad.is_grad_enabled() and any(t.requires_grad for t in tensors):
        raise RuntimeError(f"{fname}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    with cgrad.no_grad():
        result = compute()
        if not cgrad.can_cast(result.dtype, out.dtype):
            raise RuntimeError(f"result type {_DTYPE_NAMES[result.dtype]} can't be cast to the desired output type "
                               f"{_DTYPE_NAMES[out.dtype]}")
        resize_out(out, result.shape, stacklevel=4)
        out.copy_(result)
    return out


def resize_out(out, shape, stacklevel=3):
    """out resized to shape for an out= argument, with PyTorch's warning when it had elements."""
    if out.shape == shape:
        return
    if out.numel():
        warnings.warn(
            f"An output with one or more elements was resized since it had shape {list(out.shape)}, which "
            f"does not match the required output shape {list(shape)}. This behavior is deprecated, "
            "and in a future PyTorch release outputs will not be resized unless they have zero elements. "
            "You can explicitly reuse an out tensor t by resizing it, inplace, to zero elements with "
            "t.resize_(0).", UserWarning, stacklevel=stacklevel)
    out.resize_(shape)


def _unary(name, fn, aten, differentiable=True):
    """special.<name>(input, *, out=None) calling fn(input)."""
    def op(input, *, out=None):
        _tensor(input, f"special_{name}")
        return _out(aten, lambda: fn(input), (input,), out, differentiable)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"torch.special.{name}(input, *, out=None)"
    return op


def _pair(name, fn, aten, differentiable=True, numbers=True, arg="other"):
    """special.<name>(input, <arg>, *, out=None); either operand may be a number when `numbers`."""
    fname = f"special_{name}"

    def op(input, other, *, out=None):
        if not numbers or not isinstance(other, Tensor):
            _tensor(input, fname)
        if not numbers or not isinstance(other, (Tensor, int, float)):
            _tensor(other, fname, arg, 2)
        if not isinstance(input, (Tensor, int, float)):
            _tensor(input, fname)
        compute = lambda: fn(input, other)  # noqa: E731
        return _out(aten, compute, (input, other), out, differentiable)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"torch.special.{name}(input, {arg}, *, out=None)"
    return op


# ---- aliases of top-level ops ----------------------------------------------------------------

digamma = _unary("digamma", cgrad.digamma, "digamma")
psi = _unary("psi", cgrad.digamma, "digamma")
erf = _unary("erf", cgrad.erf, "erf")
erfc = _unary("erfc", cgrad.erfc, "erfc")
erfinv = _unary("erfinv", cgrad.erfinv, "erfinv")
exp2 = _unary("exp2", cgrad.exp2, "exp2")
expit = _unary("expit", cgrad.sigmoid, "sigmoid")
expm1 = _unary("expm1", cgrad.expm1, "expm1")
gammaln = _unary("gammaln", cgrad.lgamma, "lgamma")
i0 = _unary("i0", cgrad.i0, "i0")
log1p = _unary("log1p", cgrad.log1p, "log1p")
sinc = _unary("sinc", cgrad.sinc, "sinc")
xlogy = _pair("xlogy", cgrad.xlogy, "xlogy")
gammainc = _pair("gammainc", cgrad.igamma, "igamma", numbers=False)
gammaincc = _pair("gammaincc", cgrad.igammac, "igammac", numbers=False)


def polygamma(n, input, *, out=None):
    """The n-th derivative of digamma."""
    _tensor(input, "special_polygamma", "input", 2)
    return _out("polygamma", lambda: cgrad.polygamma(n, input), (input,), out)


def multigammaln(input, p, *, out=None):
    """log of the multivariate gamma function of dimension p (mvlgamma)."""
    _tensor(input, "special_multigammaln")
    return _out("mvlgamma", lambda: cgrad.mvlgamma(input, p), (input,), out)


def logit(input, eps=None, *, out=None):
    _tensor(input, "special_logit")
    return _out("logit", lambda: cgrad.logit(input, eps), (input,), out)


def round(input, *, decimals=0, out=None):  # noqa: A001  (PyTorch's name)
    """Rounds to `decimals` decimal places, ties to even (RoundBackward1, as PyTorch's)."""
    _tensor(input, "special_round")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"round_vml_cpu\" not implemented for '{_DTYPE_NAMES[input.dtype]}'")
    return _out("round", lambda: cgrad.round(input, decimals=decimals), (input,), out)


def logsumexp(input, dim, keepdim=False, *, out=None):
    _tensor(input, "special_logsumexp")
    return _out("logsumexp", lambda: cgrad.logsumexp(input, dim, keepdim), (input,), out)


def softmax(input, dim, *, dtype=None):
    _tensor(input, "special_softmax")
    return cgrad.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    _tensor(input, "special_log_softmax")
    return cgrad.log_softmax(input, dim, dtype=dtype)


# ---- kernels of their own --------------------------------------------------------------------

i1 = _unary("i1", _C._special_i1, "special_i1")
i0e = _unary("i0e", _C._special_i0e, "special_i0e")
i1e = _unary("i1e", _C._special_i1e, "special_i1e")
erfcx = _unary("erfcx", _C._special_erfcx, "special_erfcx")
ndtri = _unary("ndtri", _C._special_ndtri, "special_ndtri")
log_ndtr = _unary("log_ndtr", _C._special_log_ndtr, "special_log_ndtr")
entr = _unary("entr", _C._special_entr, "special_entr")
# PyTorch composes ndtr of mul, erf and add, and so accepts out= even where the input requires grad
ndtr = _unary("ndtr", _C._special_ndtr, "special_ndtr", False)
xlog1py = _pair("xlog1py", _C._special_xlog1py, "special_xlog1py")
zeta = _pair("zeta", _C._special_zeta, "special_zeta")

airy_ai = _unary("airy_ai", _C._special_airy_ai, "special_airy_ai", False)
bessel_j0 = _unary("bessel_j0", _C._special_bessel_j0, "special_bessel_j0", False)
bessel_j1 = _unary("bessel_j1", _C._special_bessel_j1, "special_bessel_j1", False)
bessel_y0 = _unary("bessel_y0", _C._special_bessel_y0, "special_bessel_y0", False)
bessel_y1 = _unary("bessel_y1", _C._special_bessel_y1, "special_bessel_y1", False)
modified_bessel_i0 = _unary("modified_bessel_i0", _C._special_modified_bessel_i0, "special_modified_bessel_i0", False)
modified_bessel_i1 = _unary("modified_bessel_i1", _C._special_modified_bessel_i1, "special_modified_bessel_i1", False)
modified_bessel_k0 = _unary("modified_bessel_k0", _C._special_modified_bessel_k0, "special_modified_bessel_k0", False)
modified_bessel_k1 = _unary("modified_bessel_k1", _C._special_modified_bessel_k1, "special_modified_bessel_k1", False)
scaled_modified_bessel_k0 = _unary("scaled_modified_bessel_k0", _C._special_scaled_modified_bessel_k0,
                                   "special_scaled_modified_bessel_k0", False)
scaled_modified_bessel_k1 = _unary("scaled_modified_bessel_k1", _C._special_scaled_modified_bessel_k1,
                                   "special_scaled_modified_bessel_k1", False)
spherical_bessel_j0 = _unary("spherical_bessel_j0", _C._special_spherical_bessel_j0, "special_spherical_bessel_j0",
                             False)


def _polynomial(name):
    return _pair(name, getattr(_C, f"_special_{name}"), f"special_{name}", False, arg="n")


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t")
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u")
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v")
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w")
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t")
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u")
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v")
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w")
hermite_polynomial_h = _polynomial("hermite_polynomial_h")
hermite_polynomial_he = _polynomial("hermite_polynomial_he")
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l")
legendre_polynomial_p = _polynomial("legendre_polynomial_p")
