"""The gamma distribution, and the standard-gamma sampler Beta and Dirichlet share."""
import numbers

import cgrad
from cgrad.autograd import Function
from cgrad.distributions import constraints
from cgrad.distributions._incomplete_gamma import regularized_gamma_p, standard_gamma_grad
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.exp_family import ExponentialFamily
from cgrad.distributions.utils import broadcast_all, tiny

__all__ = ["Gamma"]


def standard_gamma(concentration):
    """One Gamma(concentration, 1) draw per element, without gradient.

    Marsaglia and Tsang's method (ACM TOMS 26(3), 2000): with d = a - 1/3 and
    c = 1 / sqrt(9 d), propose d (1 + c x)^3 for a standard normal x and accept
    it when log u < x^2 / 2 + d - d v + d log v. For a < 1 draw Gamma(a + 1)
    and scale by u^(1/a). Every element draws until it accepts; all elements
    draw together, so one round costs a few vector ops and the acceptance rate
    (above 95%) keeps the rounds few.
    """
    with cgrad.no_grad():
        a = concentration.detach()
        boosted = a < 1
        d = cgrad.where(boosted, a + 1, a) - 1.0 / 3
        c = 1 / cgrad.sqrt(9 * d)
        shape, dtype = tuple(a.shape), a.dtype
        result = cgrad.zeros(shape, dtype=dtype)
        pending = cgrad.ones(shape, dtype=cgrad.bool)
        while pending.any():
            x = cgrad.randn(shape, dtype=dtype)
            v = (1 + c * x) ** 3
            log_u = cgrad.log(cgrad.rand(shape, dtype=dtype))
            log_v = cgrad.log(v.clamp(min=tiny(dtype)))
            accept = pending & (v > 0) & (log_u < 0.5 * x * x + d - d * v + d * log_v)
            result = cgrad.where(accept, d * v, result)
            pending = pending & ~accept
        u = cgrad.rand(shape, dtype=dtype)
        scale = cgrad.where(boosted, u.pow(1 / a), cgrad.ones_like(a))
        return (result * scale).clamp(min=tiny(dtype))


class _StandardGamma(Function):
    """Gamma(concentration, 1) samples whose gradient is the implicit
    reparameterization one: the sample moves with the concentration so that
    its CDF value stays fixed."""

    @staticmethod
    def forward(ctx, concentration):
        sample = standard_gamma(concentration)
        ctx.save_for_backward(concentration, sample)
        return sample

    @staticmethod
    def backward(ctx, grad):
        concentration, sample = ctx.saved_tensors
        dsample = standard_gamma_grad(concentration.detach().contiguous().numpy(),
                                      sample.detach().contiguous().numpy())
        return grad * cgrad.tensor(dsample, dtype=grad.dtype)


class _RegularizedGammaP(Function):
    """P(a, x), the regularized lower incomplete gamma function (torch.special.gammainc)."""

    @staticmethod
    def forward(ctx, a, x):
        ctx.x_shape = x.shape
        a, x = cgrad.broadcast_tensors(a.detach(), x.detach())
        ctx.save_for_backward(a, x)
        return cgrad.tensor(regularized_gamma_p(a.contiguous().numpy(), x.contiguous().numpy()), dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'igamma: input' is not implemented.")
        # d/dx P(a, x) = x^(a-1) exp(-x) / Gamma(a)
        density = cgrad.exp(cgrad.xlogy(a - 1, x) - x - cgrad.lgamma(a))
        return None, (grad * density).sum_to_size(ctx.x_shape)


def rsample_standard_gamma(concentration):
    """Gamma(concentration, 1) samples, differentiable with respect to concentration."""
    return _StandardGamma.apply(concentration)


class Gamma(ExponentialFamily):
    """Gamma(concentration, rate): density rate^a x^(a-1) exp(-rate x) / Gamma(a), a = concentration."""
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        both_numbers = isinstance(concentration, numbers.Number) and isinstance(rate, numbers.Number)
        super().__init__(() if both_numbers else self.concentration.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Gamma, _instance)
        batch_shape = cgrad.Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        value = rsample_standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        value.detach().clamp_(min=tiny(value.dtype))  # in place: the gradient stays the unclamped one
        return value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return _RegularizedGammaP.apply(self.concentration, self.rate * value)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (cgrad.xlogy(self.concentration, self.rate) + cgrad.xlogy(self.concentration - 1, value)
                - self.rate * value - cgrad.lgamma(self.concentration))

    def entropy(self):
        return (self.concentration - cgrad.log(self.rate) + cgrad.lgamma(self.concentration)
                + (1.0 - self.concentration) * cgrad.digamma(self.concentration))

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return cgrad.lgamma(x + 1) + (x + 1) * cgrad.log(-y.reciprocal())

    @property
    def _mean_carrier_measure(self):
        return 0
