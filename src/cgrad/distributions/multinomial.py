"""The multinomial distribution."""
import cgrad
from cgrad.distributions import constraints
from cgrad.distributions.binomial import Binomial
from cgrad.distributions.categorical import Categorical
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.utils import broadcast_all

__all__ = ["Multinomial"]


class Multinomial(Distribution):
    """Multinomial(total_count=1, probs=None, logits=None): the counts of each
    category in total_count independent draws from Categorical(probs, logits)."""
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        batch_shape = cgrad.Size(batch_shape)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = Binomial(total_count=self.total_count, probs=new._categorical.probs)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        sample_shape = cgrad.Size(sample_shape)
        with cgrad.no_grad():
            draws = self._categorical.sample(cgrad.Size((self.total_count,)) + sample_shape)
            categories = cgrad.arange(self._categorical._num_events)
            counts = (draws.unsqueeze(-1) == categories).to(self.probs.dtype).sum(0)
            return counts

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        # a category never drawn contributes 0, even with probability 0 (logits -inf)
        logits = cgrad.where((value == 0) & (logits == -float("inf")), 0.0, logits)
        log_factorial_n = cgrad.lgamma(value.sum(-1) + 1)
        log_factorial_xs = cgrad.lgamma(value + 1).sum(-1)
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)

    def entropy(self):
        # H = -log n! - n sum_i p_i log p_i + sum_i E[log X_i!], X_i ~ Binomial(n, p_i)
        n = self.total_count
        counts = self._binomial.enumerate_support(expand=False)
        log_pmf = self._binomial.log_prob(counts)
        expected = (log_pmf.exp() * cgrad.lgamma(counts + 1)).sum(0).sum(-1)
        cross = (self.probs * self.logits).sum(-1)
        return -float(cgrad.lgamma(cgrad.tensor(float(n + 1)))) - n * cross + expected
