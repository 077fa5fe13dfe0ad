"""Student's t distribution."""
import math
import numbers

import cgrad
from cgrad.distributions import constraints
from cgrad.distributions.chi2 import Chi2
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.utils import broadcast_all, standard_normal

__all__ = ["StudentT"]


class StudentT(Distribution):
    """StudentT(df, loc=0., scale=1.): loc + scale Z / sqrt(V / df) for Z standard normal, V ~ Chi2(df)."""
    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)
        numbers_only = all(isinstance(v, numbers.Number) for v in (df, loc, scale))
        super().__init__(() if numbers_only else self.df.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(StudentT, _instance)
        batch_shape = cgrad.Size(batch_shape)
        new.df = self.df.expand(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new._chi2 = self._chi2.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        # undefined for df <= 1
        return cgrad.where(self.df > 1, self.loc, math.nan)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        # scale^2 df / (df - 2) for df > 2, infinite for 1 < df <= 2, undefined for df <= 1
        finite = self.scale.pow(2) * self.df / (self.df - 2)
        result = cgrad.where(self.df > 2, finite, math.inf)
        return cgrad.where(self.df > 1, result, math.nan)

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        z = standard_normal(shape, self.df.dtype)
        v = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * z * (v / self.df).rsqrt()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        half_df = 0.5 * self.df
        normalizer = (self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi)
                      + cgrad.lgamma(half_df) - cgrad.lgamma(half_df + 0.5))
        return -0.5 * (self.df + 1.0) * (y.pow(2) / self.df).log1p() - normalizer

    def entropy(self):
        half_df = 0.5 * self.df
        log_beta = cgrad.lgamma(half_df) + math.lgamma(0.5) - cgrad.lgamma(half_df + 0.5)
        return (self.scale.log() + (half_df + 0.5) * (cgrad.digamma(half_df + 0.5) - cgrad.digamma(half_df))
                + 0.5 * self.df.log() + log_beta)
