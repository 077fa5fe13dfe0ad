"""kl_divergence(p, q) and the registry of its closed forms, as torch.distributions.kl."""
import functools
import math
import warnings

import cgrad
from cgrad.distributions.bernoulli import Bernoulli
from cgrad.distributions.beta import Beta
from cgrad.distributions.categorical import Categorical
from cgrad.distributions.continuous_bernoulli import ContinuousBernoulli
from cgrad.distributions.dirichlet import Dirichlet
from cgrad.distributions.distribution import Distribution
from cgrad.distributions.exp_family import ExponentialFamily
from cgrad.distributions.exponential import Exponential
from cgrad.distributions.gamma import Gamma
from cgrad.distributions.independent import Independent
from cgrad.distributions.laplace import Laplace
from cgrad.distributions.lowrank_multivariate_normal import LowRankMultivariateNormal, _log_det
from cgrad.distributions.multivariate_normal import MultivariateNormal, _batch_mahalanobis, _tril_inverse
from cgrad.distributions.normal import Normal
from cgrad.distributions.one_hot_categorical import OneHotCategorical
from cgrad.distributions.uniform import Uniform
from cgrad.distributions.binomial import Binomial
from cgrad.distributions.cauchy import Cauchy
from cgrad.distributions.geometric import Geometric
from cgrad.distributions.gumbel import Gumbel
from cgrad.distributions.half_normal import HalfNormal
from cgrad.distributions.pareto import Pareto
from cgrad.distributions.poisson import Poisson
from cgrad.distributions.transformed_distribution import TransformedDistribution
from cgrad.distributions.utils import sum_rightmost
from cgrad.nn.functional import softplus as _softplus

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY = {}  # (type_p, type_q) -> function(p, q)
_KL_MEMOIZE = {}  # (type(p), type(q)) -> the registered function that serves it, or NotImplemented


def register_kl(type_p, type_q):
    """Decorator registering fun(p, q) as KL(p || q) for p of type_p and q of
    type_q (and their subclasses, when no more specific pair is registered)."""
    for name, cls in (("type_p", type_p), ("type_q", type_q)):
        if not (isinstance(cls, type) and issubclass(cls, Distribution)):
            raise TypeError(f"Expected {name} to be a Distribution subclass but got {cls}")

    def decorator(fun):
        _KL_REGISTRY[type_p, type_q] = fun
        _KL_MEMOIZE.clear()  # a new pair may be more specific than a remembered one
        return fun

    return decorator


@functools.total_ordering
class _Match:
    """A registered (type_p, type_q) pair, ordered lexicographically by subclassing."""
    __slots__ = ["types"]

    def __init__(self, *types):
        self.types = types

    def __eq__(self, other):
        return self.types == other.types

    def __le__(self, other):
        for x, y in zip(self.types, other.types):
            if not issubclass(x, y):
                return False
            if x is not y:
                break
        return True


def _dispatch_kl(type_p, type_q):
    """The most specific registered function for (type_p, type_q), or NotImplemented."""
    matches = [(p, q) for p, q in _KL_REGISTRY if issubclass(type_p, p) and issubclass(type_q, q)]
    if not matches:
        return NotImplemented
    left_p, left_q = min(_Match(*m) for m in matches).types
    right_q, right_p = min(_Match(*reversed(m)) for m in matches).types
    left_fun, right_fun = _KL_REGISTRY[left_p, left_q], _KL_REGISTRY[right_p, right_q]
    if left_fun is not right_fun:
        warnings.warn(f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). "
                      f"Please register_kl({left_p.__name__}, {right_q.__name__})", RuntimeWarning, stacklevel=2)
    return left_fun


def kl_divergence(p, q):
    """KL(p || q) = E_p[log p(x) - log q(x)], batched over the distributions' batch_shape."""
    key = (type(p), type(q))
    if key not in _KL_MEMOIZE:
        _KL_MEMOIZE[key] = _dispatch_kl(*key)
    fun = _KL_MEMOIZE[key]
    if fun is NotImplemented:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type {p.__class__.__name__} and q type "
                                  f"{q.__class__.__name__}")
    return fun(p, q)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    inf = float("inf")
    ones = p.probs * (_softplus(-q.logits) - _softplus(-p.logits))
    ones = cgrad.where(p.probs == 0, 0.0, cgrad.where(q.probs == 0, inf, ones))
    zeros = (1 - p.probs) * (_softplus(q.logits) - _softplus(p.logits))
    zeros = cgrad.where(p.probs == 1, 0.0, cgrad.where(q.probs == 1, inf, zeros))
    return ones + zeros


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    sum_p = p.concentration1 + p.concentration0
    sum_q = q.concentration1 + q.concentration0
    t1 = q.concentration1.lgamma() + q.concentration0.lgamma() + sum_p.lgamma()
    t2 = p.concentration1.lgamma() + p.concentration0.lgamma() + sum_q.lgamma()
    t3 = (p.concentration1 - q.concentration1) * cgrad.digamma(p.concentration1)
    t4 = (p.concentration0 - q.concentration0) * cgrad.digamma(p.concentration0)
    t5 = (sum_q - sum_p) * cgrad.digamma(sum_p)
    return t1 - t2 + t3 + t4 + t5


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = cgrad.where((q.probs == 0).expand_as(t), float("inf"), t)
    t = cgrad.where((p.probs == 0).expand_as(t), 0.0, t)
    return t.sum(-1)


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    sum_p = p.concentration.sum(-1)
    sum_q = q.concentration.sum(-1)
    t1 = sum_p.lgamma() - sum_q.lgamma()
    t2 = (p.concentration.lgamma() - q.concentration.lgamma()).sum(-1)
    t3 = p.concentration - q.concentration
    t4 = p.concentration.digamma() - sum_p.digamma().unsqueeze(-1)
    return t1 - t2 + (t3 * t4).sum(-1)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    rate_ratio = q.rate / p.rate
    return -rate_ratio.log() + rate_ratio - 1


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p, q):
    # the Bregman divergence of the log normalizer F between the natural parameters
    if type(p) is not type(q):
        raise NotImplementedError("The cross KL-divergence between different exponential families cannot be "
                                  "computed using Bregman divergences")
    p_params = [param.detach().requires_grad_() for param in p._natural_params]
    q_params = q._natural_params
    p_log_normalizer = p._log_normalizer(*p_params)
    gradients = cgrad.autograd.grad(p_log_normalizer.sum(), p_params, create_graph=True)
    result = q._log_normalizer(*q_params) - p_log_normalizer
    for p_param, q_param, gradient in zip(p_params, q_params, gradients):
        result = result - sum_rightmost((q_param - p_param) * gradient, len(q.event_shape))
    return result


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    t1 = q.concentration * cgrad.log(p.rate / q.rate)
    t2 = cgrad.lgamma(q.concentration) - cgrad.lgamma(p.concentration)
    t3 = (p.concentration - q.concentration) * cgrad.digamma(p.concentration)
    t4 = (q.rate - p.rate) * (p.concentration / p.rate)
    return t1 + t2 + t3 + t4


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    scale_ratio = p.scale / q.scale
    loc_abs_diff = (p.loc - q.loc).abs()
    return -scale_ratio.log() + loc_abs_diff / q.scale + scale_ratio * cgrad.exp(-loc_abs_diff / p.scale) - 1


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_multivariatenormal_multivariatenormal(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event shapes cannot be "
                         "computed")
    p_lower, q_lower = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    half_term1 = (q_lower.diagonal(dim1=-2, dim2=-1).log().sum(-1)
                  - p_lower.diagonal(dim1=-2, dim2=-1).log().sum(-1))
    term2 = (_tril_inverse(q_lower) @ p_lower).pow(2).sum((-2, -1))  # trace of (Lq^-1 Lp)(Lq^-1 Lp)^T
    term3 = _batch_mahalanobis(q_lower, q.loc - p.loc)
    return half_term1 + 0.5 * (term2 + term3 - p.event_shape[0])


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return cgrad.where((q.low > p.low) | (q.high < p.high), math.inf, result)


# Pairs of different families. Where q has no density on part of p's support,
# the divergence is infinite.

_EULER_GAMMA = 0.57721566490153286060


def _infinite_like(tensor):
    return cgrad.full_like(tensor, math.inf)


def _x_log_x(tensor):
    return cgrad.xlogy(tensor, tensor)  # 0 at 0


@register_kl(Exponential, Beta)
@register_kl(Exponential, Uniform)
def _kl_exponential_infinity(p, q):
    return _infinite_like(p.rate)


@register_kl(Gamma, Beta)
@register_kl(Gamma, Uniform)
def _kl_gamma_infinity(p, q):
    return _infinite_like(p.concentration)


@register_kl(Laplace, Beta)
@register_kl(Laplace, Exponential)
@register_kl(Laplace, Gamma)
@register_kl(Laplace, Uniform)
@register_kl(Normal, Beta)
@register_kl(Normal, Exponential)
@register_kl(Normal, Gamma)
@register_kl(Normal, Uniform)
def _kl_real_line_infinity(p, q):
    return _infinite_like(p.loc)


def _beta_mean(p):
    return p.concentration1 / (p.concentration1 + p.concentration0)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * _beta_mean(p)


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    # E_p[log x] = digamma(a) - digamma(a + b)
    mean_log = p.concentration1.digamma() - (p.concentration1 + p.concentration0).digamma()
    log_normalizer = q.concentration.lgamma() - q.concentration * q.rate.log()
    return -p.entropy() + log_normalizer - (q.concentration - 1) * mean_log + q.rate * _beta_mean(p)


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    mean = _beta_mean(p)
    var_normal = q.scale.pow(2)
    second_moment = mean * (1 - mean) / (p.concentration1 + p.concentration0 + 1) + mean.pow(2)
    cross = 0.5 * second_moment - q.loc * mean + 0.5 * q.loc.pow(2)
    return -p.entropy() + 0.5 * (var_normal * 2 * math.pi).log() + cross / var_normal


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return cgrad.where((q.low > 0.0) | (q.high < 1.0), math.inf, result)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    ratio = q.rate / p.rate
    return (-q.concentration * ratio.log() + ratio + q.concentration.lgamma() + q.concentration * _EULER_GAMMA
            - (1 + _EULER_GAMMA))


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    var_normal = q.scale.pow(2)
    rate_sqr = p.rate.pow(2)
    cross = rate_sqr.reciprocal() - q.loc / p.rate + 0.5 * q.loc.pow(2)
    return 0.5 * cgrad.log(rate_sqr * var_normal * 2 * math.pi) - 1 + cross / var_normal


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.concentration / p.rate


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    var_normal = q.scale.pow(2)
    rate_sqr = p.rate.pow(2)
    t1 = 0.5 * cgrad.log(rate_sqr * var_normal * 2 * math.pi) - p.concentration - p.concentration.lgamma()
    cross = (0.5 * (p.concentration.pow(2) + p.concentration) / rate_sqr - q.loc * p.concentration / p.rate
             + 0.5 * q.loc.pow(2))
    return t1 + (p.concentration - 1) * p.concentration.digamma() + cross / var_normal


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    var_normal = q.scale.pow(2)
    scale_sqr_var_ratio = p.scale.pow(2) / var_normal
    t1 = 0.5 * cgrad.log(2 * scale_sqr_var_ratio / math.pi)
    cross = 0.5 * p.loc.pow(2) - p.loc * q.loc + 0.5 * q.loc.pow(2)
    return -t1 + scale_sqr_var_ratio + cross / var_normal - 1


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    loc_diff = p.loc - q.loc
    scaled_diff = loc_diff / p.scale
    # E_p|x - q.loc| for x ~ N(p.loc, p.scale)
    mean_abs = (math.sqrt(2 / math.pi) * p.scale * cgrad.exp(-0.5 * scaled_diff.pow(2))
                + loc_diff * cgrad.erf(math.sqrt(0.5) * scaled_diff))
    return -cgrad.log(p.scale / q.scale) + mean_abs / q.scale - 0.5 * (1 + math.log(0.5 * math.pi))


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    width = p.high - p.low
    t1 = cgrad.log(width)
    t2 = (q.concentration1 - 1) * (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    t3 = (q.concentration0 - 1) * (_x_log_x(1 - p.high) - _x_log_x(1 - p.low) + width) / width
    t4 = q.concentration1.lgamma() + q.concentration0.lgamma() - (q.concentration1 + q.concentration0).lgamma()
    return cgrad.where((p.high > 1.0) | (p.low < 0.0), math.inf, t3 + t4 - t1 - t2)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = q.rate * (p.high + p.low) / 2 - ((p.high - p.low) * q.rate).log()
    return cgrad.where(p.low < 0.0, math.inf, result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    width = p.high - p.low
    t2 = q.concentration.lgamma() - q.concentration * q.rate.log()
    t3 = (1 - q.concentration) * (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    result = -width.log() + t2 + t3 + q.rate * (p.high + p.low) / 2
    return cgrad.where(p.low < 0.0, math.inf, result)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    width = p.high - p.low
    t1 = (math.sqrt(math.pi * 2) * q.scale / width).log()
    t2 = width.pow(2) / 12
    t3 = ((p.high + p.low - 2 * q.loc) / 2).pow(2)
    return t1 + 0.5 * (t2 + t3) / q.scale.pow(2)


# Pairs with the transformed, heavy-tailed and discrete families.

@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if (p.total_count < q.total_count).any():
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is not implemented")
    # n (p log(p / q) + (1 - p) log((1 - p) / (1 - q))), the log-odds difference carrying the first term
    result = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p() - (-q.probs).log1p())
    return cgrad.where(p.total_count > q.total_count, math.inf, result)


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    # log(((s_p + s_q)^2 + (l_p - l_q)^2) / (4 s_p s_q))
    return ((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)).log() - (4 * p.scale * q.scale).log()


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    ratio = p.scale / q.scale
    shift = (p.loc - q.loc) / q.scale
    # E_p exp(-(x - q.loc) / q.scale) = exp(-shift) Gamma(1 + ratio)
    return ratio.log().neg() + _EULER_GAMMA * (ratio - 1) + shift + (cgrad.lgamma(ratio + 1) - shift).exp() - 1


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    variance_ratio = (p.scale / q.scale).pow(2)
    return 0.5 * (variance_ratio - 1 - variance_ratio.log())


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    # log(a_p / a_q) + a_q log(m_p / m_q) + a_q / a_p - 1, infinite where p reaches below q's scale
    ratio = q.alpha / p.alpha
    result = -ratio.log() + q.alpha * (p.scale / q.scale).log() + ratio - 1
    return cgrad.where(p.scale < q.scale, math.inf, result)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    # an invertible map changes both densities by the same Jacobian, so KL is that of the bases
    if p.transforms != q.transforms:
        raise NotImplementedError
    if p.event_shape != q.event_shape:
        raise NotImplementedError
    return kl_divergence(p.base_dist, q.base_dist)


def _gumbel_cross_entropy(q, mean, mean_exp):
    """-E_p log q(x) for q Gumbel, given E_p x and E_p exp(-x / q.scale)."""
    return q.scale.log() + (mean - q.loc) / q.scale + (q.loc / q.scale).exp() * mean_exp


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    scaled_rate = p.rate * q.scale
    mean_exp = scaled_rate / (scaled_rate + 1)  # E exp(-x / s) for x ~ Exponential(rate)
    return -p.entropy() + _gumbel_cross_entropy(q, p.rate.reciprocal(), mean_exp)


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    mean_exp = (1 + (p.rate * q.scale).reciprocal()).pow(-p.concentration)
    return -p.entropy() + _gumbel_cross_entropy(q, p.concentration / p.rate, mean_exp)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    width = p.high - p.low
    mean_exp = q.scale * ((-p.low / q.scale).exp() - (-p.high / q.scale).exp()) / width
    return -width.log() + _gumbel_cross_entropy(q, (p.high + p.low) / 2, mean_exp)


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    mean_exp = (-p.loc / q.scale + 0.5 * (p.scale / q.scale).pow(2)).exp()
    return -p.entropy() + _gumbel_cross_entropy(q, p.loc, mean_exp)


def _normal_cross_entropy(q, mean, second_moment):
    """-E_p log q(x) for q Normal, given E_p x and E_p x^2."""
    squared_error = second_moment - 2 * q.loc * mean + q.loc.pow(2)
    return 0.5 * (2 * math.pi * q.scale.pow(2)).log() + squared_error / (2 * q.scale.pow(2))


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    mean = p.loc + p.scale * _EULER_GAMMA
    second_moment = (math.pi ** 2 / 6) * p.scale.pow(2) + mean.pow(2)
    return -p.entropy() + _normal_cross_entropy(q, mean, second_moment)


def _pareto_mean(p):
    return p.alpha * p.scale / (p.alpha - 1)


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    result = -p.entropy() - q.rate.log() + q.rate * _pareto_mean(p)
    return cgrad.where(p.alpha <= 1, math.inf, result)  # p has no mean


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    mean_log = p.scale.log() + p.alpha.reciprocal()  # E_p log x
    cross = (q.concentration.lgamma() - q.concentration * q.rate.log() - (q.concentration - 1) * mean_log
             + q.rate * _pareto_mean(p))
    return cgrad.where(p.alpha <= 1, math.inf, -p.entropy() + cross)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    second_moment = p.alpha * p.scale.pow(2) / (p.alpha - 2)
    result = -p.entropy() + _normal_cross_entropy(q, _pareto_mean(p), second_moment)
    return cgrad.where(p.alpha <= 2, math.inf, result)  # p has no variance


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    width = p.high - p.low
    mean_log = (_x_log_x(p.high) - _x_log_x(p.low)) / width - 1  # E_p log x
    result = -width.log() - q.alpha.log() - q.alpha * q.scale.log() + (q.alpha + 1) * mean_log
    return cgrad.where(p.low < q.scale, math.inf, result)


@register_kl(Beta, Pareto)
@register_kl(Exponential, Pareto)
@register_kl(Gamma, Pareto)
@register_kl(Laplace, Pareto)
@register_kl(Normal, Pareto)
@register_kl(Pareto, Beta)
@register_kl(Pareto, Uniform)
@register_kl(Poisson, Bernoulli)
@register_kl(Poisson, Binomial)
def _kl_support_not_covered(p, q):
    # q has no density on part of p's support
    first_param = {Beta: "concentration1", Exponential: "rate", Gamma: "concentration", Laplace: "loc",
                   Normal: "loc", Pareto: "scale", Poisson: "rate"}
    return _infinite_like(getattr(p, next(v for k, v in first_param.items() if isinstance(p, k))))


@register_kl(Gumbel, Beta)
@register_kl(Gumbel, Exponential)
@register_kl(Gumbel, Gamma)
@register_kl(Gumbel, Pareto)
@register_kl(Gumbel, Uniform)
def _kl_gumbel_infinity(p, q):
    return _infinite_like(p.loc)



def _continuous_bernoulli_cross_entropy(q, mean):
    """-E_p log q(x) for q ContinuousBernoulli, given E_p x."""
    return -(q._cont_bern_log_norm() + mean * q.probs.log() + (1 - mean) * (-q.probs).log1p())


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli_continuous_bernoulli(p, q):
    return -p.entropy() + _continuous_bernoulli_cross_entropy(q, p.mean)


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    return -p.entropy() + _continuous_bernoulli_cross_entropy(q, p.mean)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    result = -p.entropy() + _continuous_bernoulli_cross_entropy(q, p.mean)
    # as torch, the divergence counts as infinite unless [low, high] lies strictly inside (0, 1)
    return cgrad.where((p.low <= 0) | (p.high >= 1), math.inf, result)


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p, q):
    mean = p.mean
    return -p.entropy() + _normal_cross_entropy(q, mean, p.variance + mean.pow(2))


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    # as torch, the divergence counts as infinite unless [low, high] strictly contains [0, 1]
    return cgrad.where((q.low >= 0) | (q.high <= 1), math.inf, result)


@register_kl(ContinuousBernoulli, Pareto)
def _kl_continuous_bernoulli_infinity(p, q):
    return _infinite_like(p.probs)


@register_kl(Exponential, ContinuousBernoulli)
@register_kl(Gamma, ContinuousBernoulli)
@register_kl(Gumbel, ContinuousBernoulli)
@register_kl(Laplace, ContinuousBernoulli)
@register_kl(Normal, ContinuousBernoulli)
@register_kl(Pareto, ContinuousBernoulli)
def _kl_continuous_bernoulli_support_not_covered(p, q):
    # p reaches outside [0, 1], where q has no density
    first_param = {Exponential: "rate", Gamma: "concentration", Gumbel: "loc", Laplace: "loc", Normal: "loc",
                   Pareto: "scale"}
    return _infinite_like(getattr(p, next(v for k, v in first_param.items() if isinstance(p, k))))


def _gaussian_moments(d):
    """(covariance, precision, log det covariance) of a (low-rank) multivariate normal."""
    if isinstance(d, LowRankMultivariateNormal):
        factor, diag = d._unbroadcasted_cov_factor, d._unbroadcasted_cov_diag
        covariance = factor @ factor.mT + cgrad.diag_embed(diag)
        return covariance, d.precision_matrix, _log_det(factor, diag, d._capacitance_tril)
    lower = d._unbroadcasted_scale_tril
    inverse = _tril_inverse(lower)
    return lower @ lower.mT, inverse.mT @ inverse, 2 * lower.diagonal(dim1=-2, dim2=-1).log().sum(-1)


def _kl_gaussian_gaussian(p, q):
    """0.5 (tr(S_q^-1 S_p) + (m_q - m_p)^T S_q^-1 (m_q - m_p) - n + log det S_q - log det S_p)."""
    cov_p, _, log_det_p = _gaussian_moments(p)
    _, precision_q, log_det_q = _gaussian_moments(q)
    diff = (q.loc - p.loc).unsqueeze(-1)
    trace = (precision_q * cov_p).sum((-2, -1))  # both symmetric: tr(A B) = sum A * B
    distance = (diff.mT @ precision_q @ diff).squeeze(-1).squeeze(-1)
    return 0.5 * (trace + distance - p.event_shape[0] + log_det_q - log_det_p)


_DIFFERENT_EVENT_SHAPES = "with" + " " * 26 + "different event shapes cannot be computed"


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrankmultivariatenormal_lowrankmultivariatenormal(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(f"KL-divergence between two Low Rank Multivariate Normals {_DIFFERENT_EVENT_SHAPES}")
    return _kl_gaussian_gaussian(p, q)


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank_or_full_multivariatenormal(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(f"KL-divergence between two (Low Rank) Multivariate Normals {_DIFFERENT_EVENT_SHAPES}")
    return _kl_gaussian_gaussian(p, q)
