"""The von Mises distribution on the circle."""
import math
import numbers

import cgrad
from cgrad.distributions import constraints
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.utils import broadcast_all

__all__ = ["VonMises"]


def _rejection_sample(loc, concentration, shape):
    """Angles in [-pi, pi) by the wrapped-Cauchy envelope rejection method of
    Best and Fisher (1979), computed in float64 and returned in loc's dtype."""
    kappa = concentration.to(cgrad.float64).expand(shape)
    s = (1 + 4 * kappa.pow(2)).sqrt()
    tau = 1 + s
    # rho = (tau - sqrt(2 tau)) / (2 kappa), rearranged so small kappa does not cancel
    rho = 2 * kappa * tau / ((s + 1) * (tau + (2 * tau).sqrt()))
    r = (1 + rho.pow(2)) / (2 * rho)
    result = cgrad.zeros(tuple(shape), dtype=cgrad.float64)
    done = cgrad.zeros(tuple(shape), dtype=cgrad.bool)
    while not bool(done.all()):
        u1 = cgrad.rand(tuple(shape), dtype=cgrad.float64)
        u2 = cgrad.rand(tuple(shape), dtype=cgrad.float64)
        u3 = cgrad.rand(tuple(shape), dtype=cgrad.float64)
        z = cgrad.cos(math.pi * u1)
        f = (1 + r * z) / (r + z)
        c = kappa * (r - f)
        # the quick squeeze test, then the exact one
        accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
        theta = cgrad.sign(u3 - 0.5) * cgrad.acos(f.clamp(-1, 1))
        new = accept & ~done
        result = cgrad.where(new, theta, result)
        done = done | accept
    angles = cgrad.remainder(result + math.pi + loc.to(cgrad.float64), 2 * math.pi) - math.pi
    return angles.to(loc.dtype)


class VonMises(Distribution):
    """VonMises(loc, concentration): the circular density
    exp(concentration cos(x - loc)) / (2 pi I0(concentration)); samples lie in [-pi, pi)."""
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        both_numbers = isinstance(loc, numbers.Number) and isinstance(concentration, numbers.Number)
        super().__init__(() if both_numbers else self.loc.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(VonMises, _instance)
        batch_shape = cgrad.Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # log I0(k) = log i0e(k) + k, which does not overflow for large k
        log_i0 = cgrad.special.i0e(self.concentration).log() + self.concentration
        return self.concentration * cgrad.cos(value - self.loc) - math.log(2 * math.pi) - log_i0

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with cgrad.no_grad():
            return _rejection_sample(self.loc, self.concentration, shape)

    @property
    def mean(self):
        """The circular mean."""
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        """The circular variance 1 - I1(k) / I0(k)."""
        return 1 - cgrad.special.i1e(self.concentration) / cgrad.special.i0e(self.concentration)
