# torch.special's element-wise kernels, one C call each. Included by _C.pyx; cgrad.special
# (special.py) gives them PyTorch's names, argument checks and out=.


def _special_i1(_TensorBase input): return wrap(cg_special_i1(input.t))
def _special_erfcx(_TensorBase input): return wrap(cg_special_erfcx(input.t))
def _special_i0e(_TensorBase input): return wrap(cg_special_i0e(input.t))
def _special_i1e(_TensorBase input): return wrap(cg_special_i1e(input.t))
def _special_ndtri(_TensorBase input): return wrap(cg_special_ndtri(input.t))
def _special_log_ndtr(_TensorBase input): return wrap(cg_special_log_ndtr(input.t))
def _special_entr(_TensorBase input): return wrap(cg_special_entr(input.t))
def _special_ndtr(_TensorBase input): return wrap(cg_special_ndtr(input.t))
def _special_airy_ai(_TensorBase input): return wrap(cg_special_airy_ai(input.t))
def _special_bessel_j0(_TensorBase input): return wrap(cg_special_bessel_j0(input.t))
def _special_bessel_j1(_TensorBase input): return wrap(cg_special_bessel_j1(input.t))
def _special_bessel_y0(_TensorBase input): return wrap(cg_special_bessel_y0(input.t))
def _special_bessel_y1(_TensorBase input): return wrap(cg_special_bessel_y1(input.t))
def _special_modified_bessel_i0(_TensorBase input): return wrap(cg_special_modified_bessel_i0(input.t))
def _special_modified_bessel_i1(_TensorBase input): return wrap(cg_special_modified_bessel_i1(input.t))
def _special_modified_bessel_k0(_TensorBase input): return wrap(cg_special_modified_bessel_k0(input.t))
def _special_modified_bessel_k1(_TensorBase input): return wrap(cg_special_modified_bessel_k1(input.t))
def _special_scaled_modified_bessel_k0(_TensorBase input): return wrap(cg_special_scaled_modified_bessel_k0(input.t))
def _special_scaled_modified_bessel_k1(_TensorBase input): return wrap(cg_special_scaled_modified_bessel_k1(input.t))
def _special_spherical_bessel_j0(_TensorBase input): return wrap(cg_special_spherical_bessel_j0(input.t))


# Either operand may be a number (not both); None when neither is a Tensor or a number.
def _special_xlog1py(a, b):
    r = binary(cg_special_xlog1py, a, b)
    return None if r is NotImplemented else r


def _special_zeta(a, b):
    r = binary(cg_special_zeta, a, b)
    return None if r is NotImplemented else r


def _special_chebyshev_polynomial_t(a, b):
    r = binary(cg_special_chebyshev_polynomial_t, a, b)
    return None if r is NotImplemented else r


def _special_chebyshev_polynomial_u(a, b):
    r = binary(cg_special_chebyshev_polynomial_u, a, b)
    return None if r is NotImplemented else r


def _special_chebyshev_polynomial_v(a, b):
    r = binary(cg_special_chebyshev_polynomial_v, a, b)
    return None if r is NotImplemented else r


def _special_chebyshev_polynomial_w(a, b):
    r = binary(cg_special_chebyshev_polynomial_w, a, b)
    return None if r is NotImplemented else r


def _special_shifted_chebyshev_polynomial_t(a, b):
    r = binary(cg_special_shifted_chebyshev_polynomial_t, a, b)
    return None if r is NotImplemented else r


def _special_shifted_chebyshev_polynomial_u(a, b):
    r = binary(cg_special_shifted_chebyshev_polynomial_u, a, b)
    return None if r is NotImplemented else r


def _special_shifted_chebyshev_polynomial_v(a, b):
    r = binary(cg_special_shifted_chebyshev_polynomial_v, a, b)
    return None if r is NotImplemented else r


def _special_shifted_chebyshev_polynomial_w(a, b):
    r = binary(cg_special_shifted_chebyshev_polynomial_w, a, b)
    return None if r is NotImplemented else r


def _special_hermite_polynomial_h(a, b):
    r = binary(cg_special_hermite_polynomial_h, a, b)
    return None if r is NotImplemented else r


def _special_hermite_polynomial_he(a, b):
    r = binary(cg_special_hermite_polynomial_he, a, b)
    return None if r is NotImplemented else r


def _special_laguerre_polynomial_l(a, b):
    r = binary(cg_special_laguerre_polynomial_l, a, b)
    return None if r is NotImplemented else r


def _special_legendre_polynomial_p(a, b):
    r = binary(cg_special_legendre_polynomial_p, a, b)
    return None if r is NotImplemented else r
