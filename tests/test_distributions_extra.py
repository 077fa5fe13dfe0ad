"""ContinuousBernoulli, the relaxed (Concrete) distributions, OneHotCategoricalStraightThrough,
GeneralizedPareto, VonMises, LowRankMultivariateNormal and MixtureSameFamily against
torch.distributions: values, gradients, shapes, attributes, errors and KL divergences;
samples by shape, support, reproducibility and moments."""
import functools
import math

import numpy as np
import pytest

import cgrad
from cgrad import distributions as D
from cgrad.distributions import relaxed_bernoulli as RB, relaxed_categorical as RC
import distribution_helpers as helpers
from distribution_helpers import pair, same_error, tr

torch = pytest.importorskip("torch")
TD = torch.distributions
TRB = torch.distributions.relaxed_bernoulli
TRC = torch.distributions.relaxed_categorical

TOL = {"float32": (2e-5, 2e-5), "float64": (1e-9, 1e-10)}
close = functools.partial(helpers.close, tol=TOL)
check = functools.partial(helpers.check, tol=TOL)


def same_attributes(mine, theirs):
    assert type(mine).__name__ == type(theirs).__name__
    assert mine.batch_shape == theirs.batch_shape and mine.event_shape == theirs.event_shape
    assert mine.has_rsample == theirs.has_rsample
    assert mine.has_enumerate_support == theirs.has_enumerate_support
    assert repr(mine.support) == tr(repr(theirs.support))
    assert {k: repr(v) for k, v in mine.arg_constraints.items()} == \
        {k: repr(v) for k, v in theirs.arg_constraints.items()}
    assert repr(mine) == tr(repr(theirs))


def test_exports_follow_torch():
    names = {"ContinuousBernoulli", "RelaxedBernoulli", "RelaxedOneHotCategorical", "GeneralizedPareto",
             "OneHotCategoricalStraightThrough", "VonMises", "LowRankMultivariateNormal", "MixtureSameFamily"}
    for name in names:
        assert name in TD.__all__ and name in D.__all__ and hasattr(D, name)
    assert hasattr(D.constraints, "MixtureSameFamilyConstraint")


# ContinuousBernoulli

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["probs", "logits"])
def test_continuous_bernoulli(kind, dtype):
    # values on both sides of, and inside, the Taylor region around probs 1/2
    values = [0.0, 0.2, 0.4995, 0.5, 0.7, 1.0] if kind == "probs" else [-3.0, -0.001, 0.0, 0.002, 2.0, 6.0]
    a, b = pair(values, dtype)
    mine, theirs = D.ContinuousBernoulli(**{kind: a}), TD.ContinuousBernoulli(**{kind: b})
    same_attributes(mine, theirs)
    x, y = pair([0.05, 0.2, 0.5, 0.7, 0.9, 0.95], dtype, requires_grad=False)
    for method in ("log_prob", "cdf", "icdf"):
        check(getattr(mine, method)(x), getattr(theirs, method)(y), [a], [b], dtype)
    check(mine.entropy(), theirs.entropy(), [a], [b], dtype)
    for prop in ("mean", "variance", "stddev"):
        check(getattr(mine, prop), getattr(theirs, prop), [a], [b], dtype)
    same_error(lambda: mine.mode, lambda: theirs.mode)
    assert mine.expand((3, 6)).batch_shape == (3, 6)
    # the exponential-family entropy, from the log normalizer alone, agrees with the closed form
    close(D.ExponentialFamily.entropy(mine), theirs.entropy(), dtype, scale=100)


def test_continuous_bernoulli_errors_and_samples():
    same_error(lambda: D.ContinuousBernoulli(cgrad.tensor([1.3]), validate_args=True),
               lambda: TD.ContinuousBernoulli(torch.tensor([1.3]), validate_args=True))
    same_error(lambda: D.ContinuousBernoulli(cgrad.tensor([0.3]), logits=cgrad.tensor([0.1])),
               lambda: TD.ContinuousBernoulli(torch.tensor([0.3]), logits=torch.tensor([0.1])))
    same_error(lambda: D.ContinuousBernoulli(cgrad.tensor([0.3, 0.6])).log_prob(cgrad.tensor([1.5, 0.2])),
               lambda: TD.ContinuousBernoulli(torch.tensor([0.3, 0.6])).log_prob(torch.tensor([1.5, 0.2])))
    assert D.ContinuousBernoulli(0.3).batch_shape == ()
    probs = cgrad.tensor([0.1, 0.5, 0.8], dtype=cgrad.float64, requires_grad=True)
    dist = D.ContinuousBernoulli(probs)
    cgrad.manual_seed(3)
    first = dist.rsample((20000,))
    cgrad.manual_seed(3)
    assert np.array_equal(dist.sample((20000,)).numpy(), first.detach().numpy())
    assert first.shape == (20000, 3) and first.dtype == cgrad.float64 and first.requires_grad
    samples = first.detach().numpy()
    assert samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_allclose(samples.mean(0), dist.mean.detach().numpy(), atol=0.01)
    np.testing.assert_allclose(samples.var(0), dist.variance.detach().numpy(), atol=0.01)


CB_OTHERS = [
    ("Beta", ([1.0, 2.0, 3.0], [2.0, 0.5, 1.0])), ("Uniform", ([0.1, 0.0, -0.1], [0.9, 0.5, 1.2])),
    ("Exponential", ([1.0, 2.0, 3.0],)), ("Normal", ([0.0, 1.0, 2.0], [1.0, 2.0, 3.0])),
    ("Pareto", ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])), ("Gamma", ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])),
    ("Gumbel", ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])), ("Laplace", ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])),
]


@pytest.mark.parametrize("name, params", CB_OTHERS, ids=[c[0] for c in CB_OTHERS])
def test_continuous_bernoulli_kl(name, params):
    pairs = [pair(p) for p in params]
    mine, theirs = getattr(D, name)(*[m for m, _ in pairs]), getattr(TD, name)(*[t for _, t in pairs])
    a, b = pair([0.3, 0.6, 0.4999])
    mine_cb, theirs_cb = D.ContinuousBernoulli(a), TD.ContinuousBernoulli(b)
    leaves = ([a] + [m for m, _ in pairs], [b] + [t for _, t in pairs])
    for p, q, r, s in ((mine, mine_cb, theirs, theirs_cb), (mine_cb, mine, theirs_cb, theirs)):
        try:
            expected = TD.kl_divergence(r, s)
        except NotImplementedError:
            with pytest.raises(NotImplementedError):
                D.kl_divergence(p, q)
            continue
        check(D.kl_divergence(p, q), expected, *leaves)
    c, d = pair([0.8, 0.1, 0.5])
    check(D.kl_divergence(mine_cb, D.ContinuousBernoulli(c)), TD.kl_divergence(theirs_cb, TD.ContinuousBernoulli(d)),
          [a, c], [b, d])


# RelaxedBernoulli, LogitRelaxedBernoulli, RelaxedOneHotCategorical, ExpRelaxedCategorical

RELAXED = [
    (RB.LogitRelaxedBernoulli, TRB.LogitRelaxedBernoulli, [0.2, 0.7], [-1.0, 2.0], [0.3, -1.2]),
    (D.RelaxedBernoulli, TD.RelaxedBernoulli, [0.2, 0.7], [-1.0, 2.0], [0.3, 0.9]),
    (RC.ExpRelaxedCategorical, TRC.ExpRelaxedCategorical, [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]],
     [[-1.0, 2.0, 0.0], [0.5, 0.2, 0.1]], np.log([0.3, 0.3, 0.4])),
    (D.RelaxedOneHotCategorical, TD.RelaxedOneHotCategorical, [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]],
     [[-1.0, 2.0, 0.0], [0.5, 0.2, 0.1]], [0.3, 0.3, 0.4]),
]


@pytest.mark.parametrize("kind", ["probs", "logits"])
@pytest.mark.parametrize("mine_cls, their_cls, probs, logits, value", RELAXED, ids=[c[0].__name__ for c in RELAXED])
def test_relaxed(mine_cls, their_cls, probs, logits, value, kind):
    a, b = pair(probs if kind == "probs" else logits)
    ta, tb = pair(0.7)
    mine, theirs = mine_cls(ta, **{kind: a}), their_cls(tb, **{kind: b})
    same_attributes(mine, theirs)
    x, y = pair(value, requires_grad=False)
    check(mine.log_prob(x), theirs.log_prob(y), [a, ta], [b, tb])
    for prop in ("probs", "logits"):
        check(getattr(mine, prop), getattr(theirs, prop), [a], [b])
    assert mine.expand((4, 2)).batch_shape == theirs.expand((4, 2)).batch_shape
    cgrad.manual_seed(1)
    sample = mine.rsample((3,))
    cgrad.manual_seed(1)
    assert np.array_equal(mine.sample((3,)).numpy(), sample.detach().numpy())
    assert sample.shape == theirs.rsample((3,)).shape and sample.requires_grad
    assert bool(mine.support.check(sample).all())
    cgrad.autograd.grad(sample.sum(), [a, ta])
    same_error(lambda: mine.entropy(), lambda: theirs.entropy())


def test_relaxed_limits():
    # at a low temperature the relaxed samples concentrate on the corners, with the discrete probabilities
    cgrad.manual_seed(0)
    probs = cgrad.tensor([0.2, 0.7])
    samples = D.RelaxedBernoulli(cgrad.tensor(0.05), probs=probs).sample((20000,)).numpy()
    assert np.mean((samples > 0.01) & (samples < 0.99)) < 0.1
    np.testing.assert_allclose((samples > 0.5).mean(0), probs.numpy(), atol=0.02)
    probs = cgrad.tensor([0.2, 0.3, 0.5])
    samples = D.RelaxedOneHotCategorical(cgrad.tensor(0.05), probs=probs).sample((20000,)).numpy()
    np.testing.assert_allclose(samples.sum(-1), 1, atol=1e-5)
    np.testing.assert_allclose(np.bincount(samples.argmax(-1), minlength=3) / 20000, probs.numpy(), atol=0.02)


def test_one_hot_categorical_straight_through():
    a, b = pair([[-1.0, 2.0, 0.0], [0.5, 0.2, 0.1]])
    mine, theirs = D.OneHotCategoricalStraightThrough(logits=a), TD.OneHotCategoricalStraightThrough(logits=b)
    same_attributes(mine, theirs)
    assert isinstance(mine, D.OneHotCategorical)
    x, y = pair([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], requires_grad=False)
    check(mine.log_prob(x), theirs.log_prob(y), [a], [b])
    check(mine.entropy(), theirs.entropy(), [a], [b])
    close(mine.enumerate_support(), theirs.enumerate_support())
    # the straight-through gradient is that of the probabilities, whatever the draw
    weights = np.arange(3.0)
    sample = mine.rsample((5,))
    assert np.array_equal(sample.detach().numpy().sum(-1), np.ones((5, 2)))
    (grad,) = cgrad.autograd.grad((sample * cgrad.tensor(weights)).sum(), [a])
    (expected,) = torch.autograd.grad((theirs.rsample((5,)) * torch.tensor(weights)).sum(), [b])
    close(grad, expected)


# GeneralizedPareto (float32: torch's log_prob does not take float64)

GP_CONCENTRATIONS = [0.0, 0.3, -0.4, 0.6, 1.0, 1.5, -2.0]


def test_generalized_pareto():
    c, d = pair(GP_CONCENTRATIONS, "float32")
    s, t = pair(2.0, "float32")
    loc, tloc = pair(1.0, "float32")
    mine = D.GeneralizedPareto(loc, s, c, validate_args=False)
    theirs = TD.GeneralizedPareto(tloc, t, d, validate_args=False)
    same_attributes(mine, theirs)
    leaves = ([loc, s, c], [tloc, t, d])
    x, y = pair(1.7, "float32", requires_grad=False)
    for method in ("log_prob", "cdf", "log_cdf", "log_survival_function"):
        check(getattr(mine, method)(x), getattr(theirs, method)(y), *leaves, dtype="float32")
    u, v = pair(0.4, "float32", requires_grad=False)
    check(mine.icdf(u), theirs.icdf(v), *leaves, dtype="float32")
    check(mine.entropy(), theirs.entropy(), *leaves, dtype="float32")
    for prop in ("mean", "variance", "mode"):
        check(getattr(mine, prop), getattr(theirs, prop), *leaves, dtype="float32")
    # outside the support: cdf is nan and icdf of 0 and 1 the ends
    x, y = pair([0.0, 0.5], "float32", requires_grad=False)
    close(mine.expand((2, 7)).cdf(x.unsqueeze(-1)), theirs.expand((2, 7)).cdf(y.unsqueeze(-1)), "float32")
    x, y = pair([[0.0], [1.0]], "float32", requires_grad=False)
    close(mine.icdf(x), theirs.icdf(y), "float32")


def test_generalized_pareto_gradient_at_minus_one():
    # d/dc log p = log1p(c z) / c^2 - (1 / c + 1) z / (1 + c z), whose second term vanishes at c = -1
    c = cgrad.tensor(-1.0, dtype=cgrad.float64, requires_grad=True)
    dist = D.GeneralizedPareto(1.0, cgrad.tensor(2.0, dtype=cgrad.float64), c)
    (grad,) = cgrad.autograd.grad(dist.log_prob(cgrad.tensor(1.7, dtype=cgrad.float64)), [c])
    assert abs(grad.item() - math.log1p(-0.35)) < 1e-12


def test_generalized_pareto_support_and_samples():
    same_error(lambda: D.GeneralizedPareto(cgrad.tensor([1.0]), 2.0, cgrad.tensor([0.3, -0.5])).log_prob(
        cgrad.tensor([0.5, 6.0])),
        lambda: TD.GeneralizedPareto(torch.tensor([1.0]), 2.0, torch.tensor([0.3, -0.5])).log_prob(
        torch.tensor([0.5, 6.0])))
    same_error(lambda: D.GeneralizedPareto(0.0, cgrad.tensor([-1.0]), 0.1),
               lambda: TD.GeneralizedPareto(0.0, torch.tensor([-1.0]), 0.1))
    dist = D.GeneralizedPareto(cgrad.tensor([1.0, 1.0, 0.0]), cgrad.tensor([2.0, 2.0, 1.0]),
                               cgrad.tensor([0.1, -0.5, 0.0]))
    cgrad.manual_seed(2)
    samples = dist.rsample((40000,))
    assert samples.shape == (40000, 3) and samples.dtype == cgrad.float32
    assert bool(dist.support.check(samples).all())
    np.testing.assert_allclose(samples.numpy().mean(0), dist.mean.numpy(), rtol=0.03)
    np.testing.assert_allclose(samples.numpy().var(0), dist.variance.numpy(), rtol=0.1)


# VonMises

def test_von_mises():
    a, b = pair([0.5, -2.0, 3.0])
    k, kk = pair([0.1, 2.0, 50.0])
    mine, theirs = D.VonMises(a, k), TD.VonMises(b, kk)
    same_attributes(mine, theirs)
    x, y = pair([10.0, -7.0, 3.0], requires_grad=False)
    # torch's log I0 is a float32-accurate approximation; cgrad's goes through i0e
    check(mine.log_prob(x), theirs.log_prob(y), [a, k], [b, kk], scale=1e4)
    check(mine.variance, theirs.variance, [a, k], [b, kk], scale=1e4)
    for prop in ("mean", "mode"):
        check(getattr(mine, prop), getattr(theirs, prop), [a, k], [b, kk])
    for method in ("entropy", "rsample"):
        same_error(lambda: getattr(mine, method)(), lambda: getattr(theirs, method)())
    assert D.VonMises(0.0, 1.0).batch_shape == () and mine.expand((2, 3)).batch_shape == (2, 3)
    # log_prob integrates to 1 over a period
    grid = cgrad.tensor(np.linspace(-math.pi, math.pi, 20001)[:-1]).unsqueeze(-1)
    total = mine.log_prob(grid).exp().detach().numpy().mean(0) * 2 * math.pi
    np.testing.assert_allclose(total, 1.0, rtol=1e-10)


def test_von_mises_samples():
    dist = D.VonMises(cgrad.tensor([0.5, -2.0, 3.0, 0.0]), cgrad.tensor([0.1, 2.0, 50.0, 1e-6]))
    cgrad.manual_seed(4)
    samples = dist.sample((20000,))
    cgrad.manual_seed(4)
    assert np.array_equal(dist.sample((20000,)).numpy(), samples.numpy())
    assert samples.shape == (20000, 4) and samples.dtype == cgrad.float32
    angles = samples.numpy().astype(np.float64)
    assert angles.min() >= -math.pi and angles.max() <= math.pi
    resultant = np.exp(1j * angles).mean(0)
    np.testing.assert_allclose(1 - np.abs(resultant), dist.variance.numpy(), atol=0.015)
    np.testing.assert_allclose(np.angle(resultant[1:3]), [-2.0, 3.0], atol=0.03)
    assert D.VonMises(cgrad.tensor(0.0, dtype=cgrad.float64), cgrad.tensor(1.0, dtype=cgrad.float64)).sample(
        (3,)).dtype == cgrad.float64


# LowRankMultivariateNormal

def _lowrank(rng):
    return [rng.normal(size=(3, 4)), rng.normal(size=(2, 1, 4, 2)), rng.uniform(0.5, 2, size=(4,))]


def test_lowrank_multivariate_normal():
    rng = np.random.default_rng(0)
    params = [pair(p) for p in _lowrank(rng)]
    mine = D.LowRankMultivariateNormal(*[m for m, _ in params])
    theirs = TD.LowRankMultivariateNormal(*[t for _, t in params])
    same_attributes(mine, theirs)
    leaves = ([m for m, _ in params], [t for _, t in params])
    x, y = pair(rng.normal(size=(3, 4)), requires_grad=False)
    check(mine.log_prob(x), theirs.log_prob(y), *leaves)
    check(mine.entropy(), theirs.entropy(), *leaves)
    for prop in ("mean", "mode", "variance", "covariance_matrix", "precision_matrix", "scale_tril"):
        check(getattr(mine, prop), getattr(theirs, prop), *leaves)
    expanded = mine.expand((5, 2, 3))
    assert expanded.batch_shape == (5, 2, 3) and expanded.cov_factor.shape == (5, 2, 3, 4, 2)
    sample = mine.rsample((7,))
    assert sample.shape == (7, 2, 3, 4) and sample.requires_grad
    loc, factor, diag = (cgrad.tensor(p) for p in (_lowrank(rng)[0][0], _lowrank(rng)[1][0, 0], _lowrank(rng)[2]))
    cgrad.manual_seed(5)
    samples = D.LowRankMultivariateNormal(loc, factor, diag).sample((40000,)).numpy()
    covariance = factor.numpy() @ factor.numpy().T + np.diag(diag.numpy())
    np.testing.assert_allclose(np.cov(samples.T), covariance, atol=0.1)
    np.testing.assert_allclose(samples.mean(0), loc.numpy(), atol=0.05)


def test_lowrank_multivariate_normal_kl():
    rng = np.random.default_rng(1)
    params = [pair(p) for p in _lowrank(rng)]
    my_leaves, their_leaves = [m for m, _ in params], [t for _, t in params]
    mine, theirs = D.LowRankMultivariateNormal(*my_leaves), TD.LowRankMultivariateNormal(*their_leaves)
    other = D.LowRankMultivariateNormal(my_leaves[0] * 0.5, my_leaves[1][0, 0] * 0.3, my_leaves[2] + 1)
    their_other = TD.LowRankMultivariateNormal(their_leaves[0] * 0.5, their_leaves[1][0, 0] * 0.3,
                                               their_leaves[2] + 1)
    loc, tloc = pair(rng.normal(size=(4,)))
    tril, ttril = pair(np.linalg.cholesky(np.eye(4) * 2 + 0.3))
    full, their_full = D.MultivariateNormal(loc, scale_tril=tril), TD.MultivariateNormal(tloc, scale_tril=ttril)
    leaves = (my_leaves + [loc, tril], their_leaves + [tloc, ttril])
    for p, q, r, s in ((mine, other, theirs, their_other), (mine, full, theirs, their_full),
                       (full, mine, their_full, theirs)):
        check(D.kl_divergence(p, q), TD.kl_divergence(r, s), *leaves)
    small = D.LowRankMultivariateNormal(cgrad.zeros(2), cgrad.ones(2, 1), cgrad.ones(2))
    their_small = TD.LowRankMultivariateNormal(torch.zeros(2), torch.ones(2, 1), torch.ones(2))
    for p, q, r, s in ((small, mine, their_small, theirs), (small, full, their_small, their_full),
                       (full, small, their_full, their_small)):
        same_error(lambda: D.kl_divergence(p, q), lambda: TD.kl_divergence(r, s))


@pytest.mark.parametrize("shapes", [((2,), (2,), (2,)), ((2,), (3, 1), (2,)), ((), (2, 1), (2,)),
                                    ((2,), (2, 1), ()), ((3, 2), (2, 2, 1), (2,))])
def test_lowrank_multivariate_normal_errors(shapes):
    same_error(lambda: D.LowRankMultivariateNormal(*[cgrad.ones(s) for s in shapes]),
               lambda: TD.LowRankMultivariateNormal(*[torch.ones(s) for s in shapes]))


# MixtureSameFamily

@pytest.mark.parametrize("independent", [False, True])
def test_mixture_same_family(independent):
    rng = np.random.default_rng(2)
    (lg, tlg), (loc, tloc), (scale, tscale) = (pair(rng.normal(size=(4, 3))), pair(rng.normal(size=(4, 3, 2))),
                                               pair(rng.uniform(0.5, 2, size=(4, 3, 2))))
    x = rng.normal(size=(5, 1, 2))
    if independent:
        mine = D.MixtureSameFamily(D.Categorical(logits=lg), D.Independent(D.Normal(loc, scale), 1))
        theirs = TD.MixtureSameFamily(TD.Categorical(logits=tlg), TD.Independent(TD.Normal(tloc, tscale), 1))
    else:
        mine = D.MixtureSameFamily(D.Categorical(logits=lg), D.Normal(loc[..., 0], scale[..., 0]))
        theirs = TD.MixtureSameFamily(TD.Categorical(logits=tlg), TD.Normal(tloc[..., 0], tscale[..., 0]))
        x = x[..., 0]
    same_attributes(mine, theirs)
    leaves = ([lg, loc, scale], [tlg, tloc, tscale])
    xs = pair(x, requires_grad=False)
    check(mine.log_prob(xs[0]), theirs.log_prob(xs[1]), *leaves)
    for prop in ("mean", "variance"):
        check(getattr(mine, prop), getattr(theirs, prop), *leaves)
    if independent:
        same_error(lambda: mine.cdf(xs[0]), lambda: theirs.cdf(xs[1]))
    else:
        check(mine.cdf(xs[0]), theirs.cdf(xs[1]), *leaves)
    for call in (lambda d: d.entropy(), lambda d: d.mode, lambda d: d.rsample()):
        same_error(lambda: call(mine), lambda: call(theirs))
    assert mine.sample((5,)).shape == theirs.sample((5,)).shape
    assert mine.expand((2, 4)).sample().shape == theirs.expand((2, 4)).sample().shape


def test_mixture_same_family_support_errors_and_samples():
    mine = D.MixtureSameFamily(D.Categorical(cgrad.tensor([0.3, 0.7])),
                               D.Uniform(cgrad.tensor([0.0, 1.0]), cgrad.tensor([2.0, 3.0])))
    theirs = TD.MixtureSameFamily(TD.Categorical(torch.tensor([0.3, 0.7])),
                                  TD.Uniform(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0])))
    values = [0.5, 1.5, 2.5, -1.0]
    assert mine.support.check(cgrad.tensor(values)).tolist() == theirs.support.check(torch.tensor(values)).tolist()
    same_error(lambda: mine.log_prob(cgrad.tensor(2.5)), lambda: theirs.log_prob(torch.tensor(2.5)))
    cases = [
        (lambda m: m.Categorical(m.tensor([0.3, 0.7])), lambda m: D.Normal(cgrad.zeros(3), cgrad.ones(3)),
         lambda m: TD.Normal(torch.zeros(3), torch.ones(3))),
        (lambda m: m.Categorical(m.tensor([[0.3, 0.7]] * 2)), lambda m: D.Normal(cgrad.zeros(3, 2), cgrad.ones(3, 2)),
         lambda m: TD.Normal(torch.zeros(3, 2), torch.ones(3, 2))),
        (lambda m: 1, lambda m: D.Normal(0.0, 1.0), lambda m: TD.Normal(0.0, 1.0)),
        (lambda m: m.Categorical(m.tensor([0.3, 0.7])), lambda m: 1, lambda m: 1),
    ]
    for mixture, component, their_component in cases:
        same_error(lambda: D.MixtureSameFamily(mixture(_Module(cgrad, D)), component(None)),
                   lambda: TD.MixtureSameFamily(mixture(_Module(torch, TD)), their_component(None)))
    cgrad.manual_seed(6)
    mixture = D.MixtureSameFamily(D.Categorical(cgrad.tensor([0.3, 0.7])),
                                  D.Normal(cgrad.tensor([-2.0, 3.0]), cgrad.tensor([1.0, 0.5])))
    samples = mixture.sample((40000,)).numpy()
    assert abs(samples.mean() - mixture.mean.item()) < 0.05
    assert abs(samples.var() - mixture.variance.item()) < 0.15


class _Module:
    """tensor from one library, distributions from the other's matching module."""

    def __init__(self, lib, dists):
        self.tensor = lib.tensor
        self.Categorical = dists.Categorical
