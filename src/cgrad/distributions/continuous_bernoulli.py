"""The continuous Bernoulli distribution on [0, 1], parameterized by probs or logits."""
import math
import numbers

import cgrad
from cgrad.distributions import constraints
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.exp_family import ExponentialFamily
from cgrad.distributions.utils import (broadcast_all, clamp_probs, expand_probs_logits, lazy_property, logits_to_probs,
                                       probs_to_logits)
from cgrad.nn.functional import binary_cross_entropy_with_logits

__all__ = ["ContinuousBernoulli"]


class ContinuousBernoulli(ExponentialFamily):
    """ContinuousBernoulli(probs=None, logits=None, lims=(0.499, 0.501)): the density
    C(l) l^x (1 - l)^(1 - x) on [0, 1], with C(l) = 2 atanh(1 - 2 l) / (1 - 2 l).
    Inside lims, where the closed forms cancel catastrophically, their Taylor
    expansions around l = 1/2 are used instead."""
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            # checked here, before the clamping below hides values outside [0, 1]
            if validate_args is not None and not self.arg_constraints["probs"].check(self.probs).all():
                raise ValueError("The parameter probs has invalid values")
            self.probs = clamp_probs(self.probs)
            self._param = self.probs
        else:
            (self.logits,) = broadcast_all(logits)
            self._param = self.logits
        is_scalar = isinstance(probs if probs is not None else logits, numbers.Number)
        self._lims = lims
        super().__init__(() if is_scalar else self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(ContinuousBernoulli, _instance)
        batch_shape = cgrad.Size(batch_shape)
        new._lims = self._lims
        expand_probs_logits(self, new, batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    @property
    def param_shape(self):
        return self._param.size()

    def _outside_unstable_region(self):
        return (self.probs <= self._lims[0]) | (self.probs >= self._lims[1])

    def _cut_probs(self):
        # probs inside lims replaced by a stable value, so the unused branch of each where has finite gradients
        return cgrad.where(self._outside_unstable_region(), self.probs, cgrad.full_like(self.probs, self._lims[0]))

    def _cont_bern_log_norm(self):
        """log C(probs) = log |log((1 - p) / p)| - log |1 - 2 p|."""
        cut = self._cut_probs()
        below_half = cgrad.where(cut <= 0.5, cut, cgrad.zeros_like(cut))
        above_half = cgrad.where(cut >= 0.5, cut, cgrad.ones_like(cut))
        log_norm = (cgrad.log(cgrad.abs(cgrad.log1p(-cut) - cgrad.log(cut)))
                    - cgrad.where(cut <= 0.5, cgrad.log1p(-2.0 * below_half), cgrad.log(2.0 * above_half - 1.0)))
        x = (self.probs - 0.5).pow(2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return cgrad.where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self):
        cut = self._cut_probs()
        mus = cut / (2.0 * cut - 1.0) + 1.0 / (cgrad.log1p(-cut) - cgrad.log(cut))
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x.pow(2)) * x
        return cgrad.where(self._outside_unstable_region(), mus, taylor)

    @property
    def stddev(self):
        return cgrad.sqrt(self.variance)

    @property
    def variance(self):
        cut = self._cut_probs()
        variance = (cut * (cut - 1.0) / (1.0 - 2.0 * cut).pow(2)
                    + 1.0 / (cgrad.log1p(-cut) - cgrad.log(cut)).pow(2))
        x = (self.probs - 0.5).pow(2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 + 128.0 / 945.0 * x) * x
        return cgrad.where(self._outside_unstable_region(), variance, taylor)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = cgrad.rand(tuple(shape), dtype=self.probs.dtype)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none") + self._cont_bern_log_norm()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        cut = self._cut_probs()
        cdfs = (cut.pow(value) * (1.0 - cut).pow(1.0 - value) + cut - 1.0) / (2.0 * cut - 1.0)
        unbounded = cgrad.where(self._outside_unstable_region(), cdfs, value)
        return cgrad.where(value <= 0.0, cgrad.zeros_like(value),
                           cgrad.where(value >= 1.0, cgrad.ones_like(value), unbounded))

    def icdf(self, value):
        cut = self._cut_probs()
        # the inverse of the closed-form cdf: log(1 - p + u (2 p - 1)) - log(1 - p), over log(p / (1 - p))
        inverse = ((cgrad.log1p(-cut + value * (2.0 * cut - 1.0)) - cgrad.log1p(-cut))
                   / (cgrad.log(cut) - cgrad.log1p(-cut)))
        return cgrad.where(self._outside_unstable_region(), inverse, value)

    def entropy(self):
        log_p0 = cgrad.log1p(-self.probs)
        log_p1 = cgrad.log(self.probs)
        return self.mean * (log_p0 - log_p1) - self._cont_bern_log_norm() - log_p0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        """log((e^x - 1) / x), by its Taylor series x/2 + x^2/24 - x^4/2880 near 0."""
        outside = (x <= self._lims[0] - 0.5) | (x >= self._lims[1] - 0.5)
        cut = cgrad.where(outside, x, cgrad.full_like(x, self._lims[0] - 0.5))
        log_norm = cgrad.log(cgrad.abs(cgrad.expm1(cut))) - cgrad.log(cgrad.abs(cut))
        taylor = 0.5 * x + x.pow(2) / 24.0 - x.pow(4) / 2880.0
        return cgrad.where(outside, log_norm, taylor)
