"""cgrad.distributions: probability distributions in torch.distributions' shapes.

Each distribution is Python over differentiable cgrad ops, so log_prob,
entropy, cdf and rsample carry gradients to the parameters; samples come from
cgrad's generator (cgrad.manual_seed).
"""
from cgrad.distributions import constraints
from cgrad.distributions.bernoulli import Bernoulli
from cgrad.distributions.beta import Beta
from cgrad.distributions.categorical import Categorical
from cgrad.distributions.dirichlet import Dirichlet
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.exp_family import ExponentialFamily
from cgrad.distributions.exponential import Exponential
from cgrad.distributions.gamma import Gamma
from cgrad.distributions.independent import Independent
from cgrad.distributions.kl import kl_divergence, register_kl
from cgrad.distributions.laplace import Laplace
from cgrad.distributions.multivariate_normal import MultivariateNormal
from cgrad.distributions.normal import Normal
from cgrad.distributions.one_hot_categorical import OneHotCategorical
from cgrad.distributions.uniform import Uniform
from cgrad.distributions import transforms
from cgrad.distributions.transforms import (
    AbsTransform, AffineTransform, CatTransform, ComposeTransform, CorrCholeskyTransform,
    CumulativeDistributionTransform, ExpTransform, IndependentTransform, LowerCholeskyTransform,
    PositiveDefiniteTransform, PowerTransform, ReshapeTransform, SigmoidTransform, SoftmaxTransform,
    SoftplusTransform, StackTransform, StickBreakingTransform, TanhTransform, Transform, identity_transform,
)
from cgrad.distributions.transformed_distribution import TransformedDistribution
from cgrad.distributions.constraint_registry import biject_to, transform_to
from cgrad.distributions.binomial import Binomial
from cgrad.distributions.cauchy import Cauchy
from cgrad.distributions.chi2 import Chi2
from cgrad.distributions.fishersnedecor import FisherSnedecor
from cgrad.distributions.geometric import Geometric
from cgrad.distributions.gumbel import Gumbel
from cgrad.distributions.half_cauchy import HalfCauchy
from cgrad.distributions.half_normal import HalfNormal
from cgrad.distributions.inverse_gamma import InverseGamma
from cgrad.distributions.kumaraswamy import Kumaraswamy
from cgrad.distributions.log_normal import LogNormal
from cgrad.distributions.logistic_normal import LogisticNormal
from cgrad.distributions.multinomial import Multinomial
from cgrad.distributions.negative_binomial import NegativeBinomial
from cgrad.distributions.pareto import Pareto
from cgrad.distributions.poisson import Poisson
from cgrad.distributions.studentT import StudentT
from cgrad.distributions.weibull import Weibull
from cgrad.distributions.continuous_bernoulli import ContinuousBernoulli
from cgrad.distributions.relaxed_bernoulli import RelaxedBernoulli
from cgrad.distributions.relaxed_categorical import RelaxedOneHotCategorical
from cgrad.distributions.one_hot_categorical import OneHotCategoricalStraightThrough
from cgrad.distributions.generalized_pareto import GeneralizedPareto
from cgrad.distributions.von_mises import VonMises
from cgrad.distributions.lowrank_multivariate_normal import LowRankMultivariateNormal
from cgrad.distributions.mixture_same_family import MixtureSameFamily
from cgrad.distributions.lkj_cholesky import LKJCholesky
from cgrad.distributions.wishart import Wishart

__all__ = [
    "Bernoulli", "Beta", "Categorical", "Dirichlet", "Distribution", "Exponential", "ExponentialFamily", "Gamma",
    "Independent", "Laplace", "MultivariateNormal", "Normal", "OneHotCategorical", "Uniform", "constraints",
    "kl_divergence", "register_kl", "TransformedDistribution",
    "biject_to", "transform_to", "Binomial", "Cauchy", "Chi2", "FisherSnedecor", "Geometric", "Gumbel", "HalfCauchy",
    "HalfNormal", "InverseGamma", "Kumaraswamy", "LogNormal", "LogisticNormal", "Multinomial", "NegativeBinomial",
    "Pareto", "Poisson", "StudentT", "Weibull",
    "ContinuousBernoulli", "RelaxedBernoulli", "RelaxedOneHotCategorical", "OneHotCategoricalStraightThrough",
    "GeneralizedPareto", "VonMises", "LowRankMultivariateNormal", "MixtureSameFamily",
    "LKJCholesky", "Wishart",
] + transforms.__all__
