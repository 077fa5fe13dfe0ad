"""The negative binomial distribution."""
import cgrad
import cgrad.nn.functional as F
from cgrad.distributions import constraints
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.gamma import Gamma
from cgrad.distributions.utils import (expand_count_and_param, lazy_property, logits_to_probs, probs_to_logits,
                                       set_count_and_param)

__all__ = ["NegativeBinomial"]


class NegativeBinomial(Distribution):
    """NegativeBinomial(total_count, probs=None, logits=None): successes before
    total_count failures, each trial a success with probability probs."""
    arg_constraints = {"total_count": constraints.greater_than_eq(0), "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        set_count_and_param(self, total_count, probs, logits)
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(NegativeBinomial, _instance)
        batch_shape = cgrad.Size(batch_shape)
        expand_count_and_param(self, new, batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self):
        return self._param.size()

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        # mean / (1 - p)
        return self.mean / cgrad.sigmoid(-self.logits)

    def sample(self, sample_shape=()):
        # a gamma-Poisson mixture: rate ~ Gamma(total_count, (1 - p) / p)
        with cgrad.no_grad():
            rate = Gamma(self.total_count, (-self.logits).exp(), validate_args=False).sample(sample_shape)
            return cgrad.poisson(rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # r log(1 - p) + k log p, with log p = -softplus(-logits) and log(1 - p) = -softplus(logits)
        log_unnormalized = -self.total_count * F.softplus(self.logits) - value * F.softplus(-self.logits)
        log_normalizer = (-cgrad.lgamma(self.total_count + value) + cgrad.lgamma(1.0 + value)
                          + cgrad.lgamma(self.total_count))
        # r = k = 0 is the certain outcome: its coefficient is 1, not lgamma(0) - lgamma(0)
        log_normalizer = cgrad.where(self.total_count + value == 0.0, 0.0, log_normalizer)
        return log_unnormalized - log_normalizer
