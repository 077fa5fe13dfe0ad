"""MixtureSameFamily: a mixture whose components all come from one batched distribution."""
import cgrad
from cgrad.distributions import constraints
from cgrad.distributions.categorical import Categorical
from cgrad.distributions.distribution import Distribution

__all__ = ["MixtureSameFamily"]


class MixtureSameFamily(Distribution):
    """MixtureSameFamily(mixture_distribution, component_distribution): draw a
    component index from the Categorical mixture_distribution, then a value from
    that member of component_distribution, whose rightmost batch dim indexes
    the components."""
    arg_constraints = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError(" The Mixture distribution needs to be an  instance of cgrad.distributions.Categorical")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("The Component distribution needs to be an instance of cgrad.distributions.Distribution")
        mixture_batch = mixture_distribution.batch_shape
        component_batch = cgrad.Size(component_distribution.batch_shape[:-1])
        for size1, size2 in zip(reversed(mixture_batch), reversed(component_batch)):
            if size1 != 1 and size2 != 1 and size1 != size2:
                raise ValueError(f"`mixture_distribution.batch_shape` ({mixture_batch}) is not compatible with "
                                 f"`component_distribution.batch_shape`({component_batch})")
        mixture_components = mixture_distribution.logits.shape[-1]
        components = component_distribution.batch_shape[-1]
        if mixture_components != components:
            raise ValueError(f"`mixture_distribution component` ({mixture_components}) does not equal "
                             f"`component_distribution.batch_shape[-1]` ({components})")
        self._num_component = components
        event_shape = component_distribution.event_shape
        self._event_ndims = len(event_shape)
        super().__init__(component_batch, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(MixtureSameFamily, _instance)
        batch_shape = cgrad.Size(batch_shape)
        new._component_distribution = self._component_distribution.expand(batch_shape + (self._num_component,))
        new._mixture_distribution = self._mixture_distribution.expand(batch_shape)
        new._num_component = self._num_component
        new._event_ndims = self._event_ndims
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property
    def support(self):
        return constraints.MixtureSameFamilyConstraint(self._component_distribution.support)

    @property
    def mixture_distribution(self):
        return self._mixture_distribution

    @property
    def component_distribution(self):
        return self._component_distribution

    def _mixture_probs(self):
        """The mixture weights, with a trailing dim for each event dim."""
        probs = self._mixture_distribution.probs
        return probs.reshape(tuple(probs.shape) + (1,) * self._event_ndims)

    def _pad(self, x):
        """x with a component dim before its event dims."""
        return x.unsqueeze(-1 - self._event_ndims)

    @property
    def mean(self):
        return (self._mixture_probs() * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        # the law of total variance: E[Var(x | k)] + Var(E[x | k])
        probs = self._mixture_probs()
        dim = -1 - self._event_ndims
        within = (probs * self._component_distribution.variance).sum(dim)
        between = (probs * (self._component_distribution.mean - self._pad(self.mean)).pow(2)).sum(dim)
        return within + between

    def cdf(self, x):
        x = self._pad(x)
        cdf_x = self._component_distribution.cdf(x)
        return (cdf_x * self._mixture_distribution.probs).sum(-1)

    def log_prob(self, x):
        if self._validate_args:
            self._validate_sample(x)
        log_prob_x = self._component_distribution.log_prob(self._pad(x))
        log_mix = cgrad.log_softmax(self._mixture_distribution.logits, dim=-1)
        return (log_prob_x + log_mix).logsumexp(dim=-1)

    def sample(self, sample_shape=()):
        with cgrad.no_grad():
            sample_len = len(sample_shape)
            batch_len = len(self.batch_shape)
            gather_dim = sample_len + batch_len
            indices = self._mixture_distribution.sample(sample_shape)
            samples = self._component_distribution.sample(sample_shape)
            index_shape = tuple(indices.shape) + (1,) * (len(self.event_shape) + 1)
            indices = indices.reshape(index_shape).expand(tuple(indices.shape) + (1,) + tuple(self.event_shape))
            return samples.gather(gather_dim, indices).squeeze(gather_dim)

    def __repr__(self):
        return f"{self.__class__.__name__}(\n  {self._mixture_distribution},\n  {self._component_distribution})"
