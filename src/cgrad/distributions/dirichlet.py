"""The Dirichlet distribution over the probability simplex."""
import cgrad
from cgrad.distributions import constraints
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.exp_family import ExponentialFamily
from cgrad.distributions.gamma import rsample_standard_gamma
from cgrad.distributions.utils import eps, tiny

__all__ = ["Dirichlet"]


class Dirichlet(ExponentialFamily):
    """Dirichlet(concentration): density prod x_i^(a_i - 1) / B(a) on the simplex.

    A sample is independent Gamma(a_i, 1) draws divided by their sum; rsample
    differentiates through both.
    """
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        shape = concentration.shape
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = cgrad.Size(batch_shape)
        new.concentration = self.concentration.expand(tuple(batch_shape) + tuple(self.event_shape))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        gammas = rsample_standard_gamma(self.concentration.expand(shape))
        value = gammas / gammas.sum(-1, keepdim=True)
        value.detach().clamp_(min=tiny(value.dtype), max=1 - eps(value.dtype))
        return value

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (cgrad.xlogy(self.concentration - 1.0, value).sum(-1) + cgrad.lgamma(self.concentration.sum(-1))
                - cgrad.lgamma(self.concentration).sum(-1))

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        # where every a_i < 1 the density is unbounded at a vertex; as PyTorch, the first one
        shifted = (self.concentration - 1).clamp(min=0.0)
        mode = shifted / shifted.sum(-1, keepdim=True)
        vertex = cgrad.zeros_like(mode)
        vertex[..., 0] = 1
        all_small = (self.concentration < 1).all(-1, keepdim=True)
        return cgrad.where(all_small, vertex, mode)

    @property
    def variance(self):
        total = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (total - self.concentration) / (total.pow(2) * (total + 1))

    def entropy(self):
        k = self.concentration.size(-1)
        a0 = self.concentration.sum(-1)
        return (cgrad.lgamma(self.concentration).sum(-1) - cgrad.lgamma(a0) - (k - a0) * cgrad.digamma(a0)
                - ((self.concentration - 1.0) * cgrad.digamma(self.concentration)).sum(-1))

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return x.lgamma().sum(-1) - cgrad.lgamma(x.sum(-1))
