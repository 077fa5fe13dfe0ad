"""The regularized incomplete gamma functions P(a, x) and Q(a, x) = 1 - P(a, x)
in numpy float64, and what they give: the derivative of a standard-gamma sample
with respect to its concentration, for reparameterized gamma samples.

Numerical Recipes' pair: the power series of P, which converges fast where
x < a + 1, and the continued fraction of Q (modified Lentz) elsewhere. Each
iterates over the elements that have not converged yet.
"""
import math

import numpy as np

_TINY = 1e-300
_MAX_ITERATIONS = 100000
_log_gamma = np.vectorize(math.lgamma, otypes=[np.float64])


def _series_p(a, x):
    term = np.ones_like(a)
    total = np.ones_like(a)
    denominator = a.copy()
    active = np.arange(a.size)
    for _ in range(_MAX_ITERATIONS):
        denominator[active] += 1
        term[active] *= x[active] / denominator[active]
        total[active] += term[active]
        active = active[np.abs(term[active]) > np.abs(total[active]) * 1e-16]
        if active.size == 0:
            break
    return total * np.exp(a * np.log(x) - x - _log_gamma(a + 1))


def _continued_fraction_q(a, x):
    b = x + 1 - a
    c = np.full_like(a, 1 / _TINY)
    d = 1 / np.where(np.abs(b) < _TINY, _TINY, b)
    h = d.copy()
    active = np.arange(a.size)
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a[active])
        b[active] += 2
        d_new = an * d[active] + b[active]
        d_new[np.abs(d_new) < _TINY] = _TINY
        c_new = b[active] + an / c[active]
        c_new[np.abs(c_new) < _TINY] = _TINY
        d[active] = 1 / d_new
        c[active] = c_new
        delta = d[active] * c_new
        h[active] *= delta
        active = active[np.abs(delta - 1) > 1e-15]
        if active.size == 0:
            break
    return np.exp(a * np.log(x) - x - _log_gamma(a)) * h


def _flat(a, x):
    a, x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64))
    return a.reshape(-1).copy(), x.reshape(-1).copy(), a.shape


def regularized_gamma_p(a, x):
    """P(a, x) = gamma(a, x) / Gamma(a) for a > 0, elementwise over broadcast arrays."""
    a, x, shape = _flat(a, x)
    result = np.zeros(a.shape)
    series = (x > 0) & (x < a + 1)
    fraction = (x > 0) & ~series
    with np.errstate(over="ignore", under="ignore"):
        result[series] = _series_p(a[series], x[series])
        result[fraction] = 1 - _continued_fraction_q(a[fraction], x[fraction])
    return result.reshape(shape)


def standard_gamma_grad(a, x):
    """d x / d a for a Gamma(a, 1) sample x held at a fixed CDF value:
    -(dP/da)(a, x) / p(x; a) (implicit reparameterization). dP/da comes from
    central differences in float64, of P where the series serves and of
    -Q elsewhere, so a P close to 1 loses no digits."""
    a, x, shape = _flat(a, x)
    step = 1e-5 * np.maximum(a, 1e-3)
    dp_da = np.zeros(a.shape)
    series = (x > 0) & (x < a + 1)
    fraction = (x > 0) & ~series
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        for mask, function, sign in ((series, _series_p, 1.0), (fraction, _continued_fraction_q, -1.0)):
            if mask.any():
                up = function(a[mask] + step[mask], x[mask])
                down = function(a[mask] - step[mask], x[mask])
                dp_da[mask] = sign * (up - down) / (2 * step[mask])
        density = np.exp((a - 1) * np.log(x) - x - _log_gamma(a))
        grad = np.where(density > 0, -dp_da / np.where(density > 0, density, 1.0), 0.0)
    return grad.reshape(shape)
