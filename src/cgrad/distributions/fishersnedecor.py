"""The Fisher-Snedecor (F) distribution."""
import math
import numbers

import cgrad
from cgrad.distributions import constraints
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.gamma import Gamma
from cgrad.distributions.utils import broadcast_all, tiny

__all__ = ["FisherSnedecor"]


class FisherSnedecor(Distribution):
    """FisherSnedecor(df1, df2): (V1 / df1) / (V2 / df2) for independent V1 ~ Chi2(df1), V2 ~ Chi2(df2)."""
    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        self.df1, self.df2 = broadcast_all(df1, df2)
        # V / (2 df) ~ Gamma(df / 2, df); the factor 2 cancels in the ratio
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1, validate_args=validate_args)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2, validate_args=validate_args)
        both_numbers = isinstance(df1, numbers.Number) and isinstance(df2, numbers.Number)
        super().__init__(() if both_numbers else self.df1.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(FisherSnedecor, _instance)
        batch_shape = cgrad.Size(batch_shape)
        new.df1 = self.df1.expand(batch_shape)
        new.df2 = self.df2.expand(batch_shape)
        new._gamma1 = self._gamma1.expand(batch_shape)
        new._gamma2 = self._gamma2.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        df2 = cgrad.where(self.df2 > 2, self.df2, math.nan)  # undefined for df2 <= 2
        return df2 / (df2 - 2)

    @property
    def mode(self):
        result = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return cgrad.where(self.df1 > 2, result, math.nan)

    @property
    def variance(self):
        d1, d2 = self.df1, cgrad.where(self.df2 > 4, self.df2, math.nan)  # undefined for df2 <= 4
        return 2 * d2.pow(2) * (d1 + d2 - 2) / (d1 * (d2 - 2).pow(2) * (d2 - 4))

    def rsample(self, sample_shape=()):
        small = tiny(self.df1.dtype)
        x1 = self._gamma1.rsample(sample_shape)
        x2 = self._gamma2.rsample(sample_shape)
        x2.detach().clamp_(min=small)  # in place: the gradient stays the unclamped one
        y = x1 / x2
        y.detach().clamp_(min=small)
        return y

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        half1, half2 = self.df1 * 0.5, self.df2 * 0.5
        ratio = self.df1 / self.df2
        log_norm = cgrad.lgamma(half1 + half2) - cgrad.lgamma(half1) - cgrad.lgamma(half2)
        return log_norm + half1 * ratio.log() + (half1 - 1) * value.log() - (half1 + half2) * (ratio * value).log1p()
