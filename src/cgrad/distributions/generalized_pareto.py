"""The generalized Pareto distribution."""
import math
import numbers

import cgrad
from cgrad.distributions import constraints
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.utils import broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    """GeneralizedPareto(loc, scale, concentration): survival function
    (1 + c z)^(-1/c) of z = (x - loc) / scale (exp(-z) at c = 0), on
    [loc, inf) for c >= 0 and [loc, loc - scale / c] for c < 0."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        all_numbers = all(isinstance(v, numbers.Number) for v in (loc, scale, concentration))
        super().__init__(() if all_numbers else self.loc.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(GeneralizedPareto, _instance)
        batch_shape = cgrad.Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        negative = self.concentration < 0
        safe = cgrad.where(negative, self.concentration, -cgrad.ones_like(self.concentration))
        upper = cgrad.where(negative, self.loc - self.scale / safe, cgrad.full_like(self.loc, math.inf))
        return constraints.interval(self.loc, upper)

    def _nonzero_concentration(self):
        """concentration with its (near) zeros replaced by 1, so the branch not taken at c = 0 stays finite;
        |c| <= 1e-8 counts as zero, where the general forms lose all precision."""
        zero = self.concentration.abs() <= 1e-8
        return zero, cgrad.where(zero, cgrad.ones_like(self.concentration), self.concentration)

    def log_survival_function(self, value):
        """log P(X > value)."""
        z = (value - self.loc) / self.scale
        zero, c = self._nonzero_concentration()
        return cgrad.where(zero, -z, -cgrad.log1p(c * z) / c)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = cgrad.rand(tuple(shape), dtype=self.loc.dtype)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        zero, c = self._nonzero_concentration()
        return -self.scale.log() - cgrad.where(zero, z, (1 / c + 1) * cgrad.log1p(c * z))

    def log_cdf(self, value):
        """log P(X <= value)."""
        return cgrad.log1p(-cgrad.exp(self.log_survival_function(value)))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # through log1p, so values outside the support give nan rather than numbers outside [0, 1]
        return cgrad.exp(self.log_cdf(value))

    def icdf(self, value):
        log_survival = cgrad.log1p(-value)
        zero, c = self._nonzero_concentration()
        z = cgrad.where(zero, -log_survival, cgrad.expm1(-c * log_survival) / c)
        return self.loc + self.scale * z

    @property
    def mean(self):
        finite = self.concentration < 1
        c = cgrad.where(finite, self.concentration, cgrad.zeros_like(self.concentration))
        return cgrad.where(finite, self.loc + self.scale / (1 - c), cgrad.full_like(self.loc, math.nan))

    @property
    def variance(self):
        finite = self.concentration < 0.5
        c = cgrad.where(finite, self.concentration, cgrad.zeros_like(self.concentration))
        variance = self.scale.pow(2) / ((1 - c).pow(2) * (1 - 2 * c))
        return cgrad.where(finite, variance, cgrad.full_like(self.loc, math.nan))

    @property
    def mode(self):
        return self.loc

    def entropy(self):
        return (self.scale.log() + self.concentration + 1).expand(tuple(self._batch_shape))
