"""cgrad.distributions against torch.distributions: values, gradients, shapes,
validation errors and KL divergences; samples by shape, support and statistics."""
import math
import warnings

import numpy as np
import pytest

import cgrad
from cgrad import distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

TOL = {"float32": (2e-5, 2e-5), "float64": (1e-9, 1e-10)}
DTYPES = ["float32", "float64"]


def pair(values, dtype, requires_grad=True):
    """The same values as a cgrad and a torch leaf tensor."""
    array = np.asarray(values, dtype=dtype)
    mine = cgrad.tensor(array.copy(), requires_grad=requires_grad)
    theirs = torch.tensor(array.copy(), requires_grad=requires_grad)
    return mine, theirs


def close(mine, theirs, dtype, scale=1.0):
    rtol, atol = TOL[dtype]
    expected = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    actual = np.asarray(mine.detach().numpy())
    assert tuple(actual.shape) == tuple(expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol * scale, atol=atol * scale, equal_nan=True)


def same_message(mine, theirs):
    """Error messages agree, once torch's type names read as cgrad's."""
    assert str(mine.value) == str(theirs.value).replace("torch.", "cgrad.")


def build(name, params, dtype):
    """A cgrad and a torch distribution of class name over params (a dict of
    arrays), with the leaf tensors of each."""
    mine, theirs = {}, {}
    for key, values in params.items():
        mine[key], theirs[key] = pair(values, dtype)
    return getattr(D, name)(**mine), getattr(TD, name)(**theirs), mine, theirs


# name, parameters (broadcasting shapes), a value in the support, methods beyond log_prob
CONTINUOUS = [
    ("Normal", {"loc": [[0.3], [-1.2]], "scale": [1.5, 0.7, 2.0]}, [0.2, -0.9, 3.1], ("cdf", "icdf")),
    ("Laplace", {"loc": [[0.3], [-1.2]], "scale": [1.5, 0.7, 2.0]}, [0.2, -0.9, 3.1], ("cdf", "icdf")),
    ("Uniform", {"low": [[-1.0], [0.1]], "high": [1.5, 0.7, 2.0]}, [0.2, 0.5, 0.3], ("cdf", "icdf")),
    ("Exponential", {"rate": [[0.5, 1.0, 3.0]]}, [0.2, 0.9, 3.1], ("cdf", "icdf")),
    ("Gamma", {"concentration": [[0.5], [2.5]], "rate": [1.5, 0.7, 2.0]}, [0.2, 0.9, 3.1], ()),
    ("Beta", {"concentration1": [[0.5], [2.5]], "concentration0": [1.5, 0.7, 2.0]}, [0.2, 0.9, 0.35], ()),
]


def _first_and_last(tensor):
    return tensor.flatten()[0] + tensor.flatten()[-1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, params, value, methods", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_continuous_values_and_gradients(name, params, value, methods, dtype):
    mine, theirs, my_leaves, their_leaves = build(name, params, dtype)
    assert mine.batch_shape == theirs.batch_shape and mine.event_shape == theirs.event_shape
    assert mine.has_rsample == theirs.has_rsample
    my_value, their_value = pair(value, dtype, requires_grad=False)
    results = []
    for method in ("log_prob",) + methods:
        argument = (my_value, their_value)
        if method == "icdf":
            argument = pair([0.1, 0.5, 0.95], dtype, requires_grad=False)
        results.append((getattr(mine, method)(argument[0]), getattr(theirs, method)(argument[1])))
    results.append((mine.entropy(), theirs.entropy()))
    for prop in ("mean", "variance", "stddev", "mode"):
        results.append((getattr(mine, prop), getattr(theirs, prop)))
    for got, expected in results:
        close(got, expected, dtype)
    for got, expected in results:
        if expected.requires_grad:
            got = _first_and_last(got) + got.sum() if got.dim() else got
            expected = _first_and_last(expected) + expected.sum() if expected.dim() else expected
            my_grads = cgrad.autograd.grad(got, list(my_leaves.values()), allow_unused=True)
            their_grads = torch.autograd.grad(expected, list(their_leaves.values()), allow_unused=True)
            for g, h in zip(my_grads, their_grads):
                if h is None:
                    assert g is None or not np.any(g.numpy())
                else:
                    close(g, h, dtype, scale=10)


@pytest.mark.parametrize("name, params, value, methods", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_continuous_numbers_give_scalar_batch(name, params, value, methods):
    numbers = {k: float(np.asarray(v).flatten()[-1]) for k, v in params.items()}
    mine, theirs = getattr(D, name)(**numbers), getattr(TD, name)(**numbers)
    assert mine.batch_shape == theirs.batch_shape == ()
    assert mine.mean.dtype == cgrad.float32
    close(mine.log_prob(cgrad.tensor(value[-1])), theirs.log_prob(torch.tensor(value[-1])), "float32")


@pytest.mark.parametrize("name, params, value, methods", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_expand(name, params, value, methods):
    mine, theirs, _, _ = build(name, params, "float64")
    mine, theirs = mine.expand((4, 2, 3)), theirs.expand((4, 2, 3))
    assert type(mine) is getattr(D, name)
    assert mine.batch_shape == theirs.batch_shape == (4, 2, 3)
    assert mine._validate_args == theirs._validate_args
    my_value, their_value = pair(value, "float64", requires_grad=False)
    close(mine.log_prob(my_value), theirs.log_prob(their_value), "float64")
    assert tuple(mine.sample((2,)).shape) == (2, 4, 2, 3)


def _sample_moments(dist, n, dtype):
    samples = dist.sample((n,))
    assert samples.dtype == dtype
    return samples, samples.mean(0), samples.var(0)


SAMPLED = [
    ("Normal", {"loc": [0.5, -2.0], "scale": [1.0, 3.0]}),
    ("Laplace", {"loc": [0.5, -2.0], "scale": [1.0, 3.0]}),
    ("Uniform", {"low": [0.5, -2.0], "high": [1.0, 3.0]}),
    ("Exponential", {"rate": [0.5, 4.0]}),
    ("Gamma", {"concentration": [0.3, 4.0], "rate": [1.0, 2.0]}),
    ("Beta", {"concentration1": [0.4, 3.0], "concentration0": [2.0, 0.7]}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, params", SAMPLED, ids=[s[0] for s in SAMPLED])
def test_sample_statistics_and_support(name, params, dtype):
    cgrad.manual_seed(5)
    mine, theirs, _, _ = build(name, params, dtype)
    n = 40000
    samples, mean, var = _sample_moments(mine, n, getattr(cgrad, dtype))
    assert tuple(samples.shape) == (n, 2)
    assert not samples.requires_grad
    assert bool(mine.support.check(samples).all())
    std = theirs.stddev.detach().numpy()
    # 6 standard errors of the mean; the variance within 8% (heavy tails included)
    np.testing.assert_array_less(np.abs(mean.numpy() - theirs.mean.detach().numpy()), 6 * std / math.sqrt(n))
    np.testing.assert_allclose(var.numpy(), theirs.variance.detach().numpy(), rtol=0.08)


@pytest.mark.parametrize("name, params", SAMPLED, ids=[s[0] for s in SAMPLED])
def test_same_seed_same_samples(name, params):
    mine = build(name, params, "float32")[0]
    cgrad.manual_seed(123)
    first = mine.sample((7, 3))
    cgrad.manual_seed(123)
    second = mine.sample((7, 3))
    assert tuple(first.shape) == (7, 3, 2)
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    assert not np.array_equal(first.numpy(), mine.sample((7, 3)).numpy())


def test_rsample_gradients_are_the_reparameterization():
    cgrad.manual_seed(0)
    loc, scale = cgrad.tensor([0.5, -1.0], requires_grad=True), cgrad.tensor([2.0, 0.5], requires_grad=True)
    x = D.Normal(loc, scale).rsample((1000,))
    assert x.requires_grad
    x.mean().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [0.5, 0.5], rtol=1e-4)
    noise = (x.detach() - loc.detach()) / scale.detach()
    np.testing.assert_allclose(scale.grad.numpy(), noise.sum(0).numpy() / 2000, rtol=1e-4, atol=1e-6)

    rate = cgrad.tensor([0.5, 4.0], requires_grad=True)
    x = D.Exponential(rate).rsample((100,))
    x.sum().backward()
    np.testing.assert_allclose(rate.grad.numpy(), (-x.detach() / rate.detach()).sum(0).numpy(), rtol=1e-5)

    low, high = cgrad.tensor([0.0], requires_grad=True), cgrad.tensor([3.0], requires_grad=True)
    x = D.Uniform(low, high).rsample((100,))
    x.sum().backward()
    u = x.detach() / 3
    np.testing.assert_allclose(high.grad.numpy(), u.sum(0).numpy(), rtol=1e-5)
    np.testing.assert_allclose(low.grad.numpy(), (1 - u).sum(0).numpy(), rtol=1e-5)

    loc, scale = cgrad.tensor([1.0], requires_grad=True), cgrad.tensor([2.0], requires_grad=True)
    x = D.Laplace(loc, scale).rsample((100,))
    x.sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [100.0])
    np.testing.assert_allclose(scale.grad.numpy(), ((x.detach() - 1) / 2).sum(0).numpy(), rtol=1e-5, atol=1e-5)


def test_gamma_rsample_gradient_is_the_implicit_one():
    cgrad.manual_seed(4)
    concentration = cgrad.tensor([0.05, 0.3, 1.0, 2.5, 40.0], dtype=cgrad.float64, requires_grad=True)
    rate = cgrad.tensor([2.0], dtype=cgrad.float64, requires_grad=True)
    x = D.Gamma(concentration, rate).rsample((50,))
    x.sum().backward()
    standard = (x.detach() * 2.0).numpy()
    # torch's series and asymptotic approximations of dx/da agree to about 1e-3
    expected = torch._standard_gamma_grad(torch.tensor(concentration.detach().numpy()).expand(50, 5),
                                          torch.from_numpy(standard))
    np.testing.assert_allclose(concentration.grad.numpy(), (expected / 2.0).sum(0).numpy(), rtol=3e-3)
    np.testing.assert_allclose(rate.grad.numpy(), [-(x.detach() / 2.0).sum().item()], rtol=1e-10)


@pytest.mark.parametrize("name", ["Gamma", "Beta"])
def test_gamma_family_rsample_gradients_are_unbiased(name):
    cgrad.manual_seed(6)
    mine, theirs, my_leaves, their_leaves = build(name, dict(SAMPLED)[name], "float64")
    samples = mine.rsample((20000,))
    assert samples.requires_grad and bool(mine.support.check(samples.detach()).all())
    my_grads = cgrad.autograd.grad(samples.mean(0).sum(), list(my_leaves.values()))
    their_grads = torch.autograd.grad(theirs.mean.sum(), list(their_leaves.values()))
    for g, h in zip(my_grads, their_grads):
        np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=0.05, atol=0.005)


def test_gamma_cdf():
    concentration, rate = [0.5, 2.0, 30.0], [1.5]
    value = [0.2, 1.0, 25.0]
    my_rate, their_rate = pair(rate, "float64")
    mine = D.Gamma(cgrad.tensor(concentration, dtype=cgrad.float64), my_rate)
    theirs = TD.Gamma(torch.tensor(concentration, dtype=torch.float64), their_rate)
    got = mine.cdf(cgrad.tensor(value, dtype=cgrad.float64))
    expected = theirs.cdf(torch.tensor(value, dtype=torch.float64))
    close(got, expected, "float64", scale=1e3)
    got.sum().backward()
    expected.sum().backward()
    close(my_rate.grad, their_rate.grad, "float64", scale=1e3)
    with_concentration = D.Gamma(cgrad.tensor([2.0], requires_grad=True), 1.0).cdf(cgrad.tensor([1.0]))
    with pytest.raises(NotImplementedError, match="igamma"):
        with_concentration.backward()


def test_dirichlet_against_torch_and_samples_on_simplex():
    mine, theirs, my_leaves, their_leaves = build("Dirichlet", {"concentration": [[0.5, 2.0, 1.5], [0.3, 0.4, 0.9]]},
                                                  "float64")
    value = [[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]]
    got = [mine.log_prob(cgrad.tensor(value, dtype=cgrad.float64)), mine.entropy(), mine.mean, mine.variance,
           mine.mode]
    expected = [theirs.log_prob(torch.tensor(value, dtype=torch.float64)), theirs.entropy(), theirs.mean,
                theirs.variance, theirs.mode]
    for g, e in zip(got, expected):
        close(g, e, "float64")
    (got[0].sum() + got[1].sum()).backward()
    (expected[0].sum() + expected[1].sum()).backward()
    close(my_leaves["concentration"].grad, their_leaves["concentration"].grad, "float64", scale=10)
    cgrad.manual_seed(1)
    samples = mine.sample((500,))
    assert tuple(samples.shape) == (500, 2, 3)
    assert bool(D.constraints.simplex.check(samples).all())


# Discrete distributions: (name, params, value)
DISCRETE = [
    ("Bernoulli", {"probs": [[0.2, 0.5, 1.0], [0.0, 0.7, 0.9]]}, [1.0, 0.0, 1.0]),
    ("Bernoulli", {"logits": [[0.2, -1.5, 3.0], [0.0, 0.7, -0.9]]}, [1.0, 0.0, 1.0]),
    ("Categorical", {"probs": [[0.2, 0.3, 0.5], [0.0, 1.5, 0.5]]}, [0, 2]),
    ("Categorical", {"logits": [[0.2, -1.5, 3.0], [0.0, 0.7, -0.9]]}, [[1, 2], [0, 0]]),
    ("OneHotCategorical", {"probs": [[0.2, 0.3, 0.5], [0.0, 1.5, 0.5]]}, [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
    ("OneHotCategorical", {"logits": [[0.2, -1.5, 3.0], [0.0, 0.7, -0.9]]}, [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
]
DISCRETE_IDS = [f"{n}-{next(iter(p))}" for n, p, _ in DISCRETE]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, params, value", DISCRETE, ids=DISCRETE_IDS)
def test_discrete_values_and_gradients(name, params, value, dtype):
    mine, theirs, my_leaves, their_leaves = build(name, params, dtype)
    assert mine.batch_shape == theirs.batch_shape and mine.event_shape == theirs.event_shape
    int_value = name == "Categorical"
    my_value = cgrad.tensor(value) if int_value else cgrad.tensor(np.asarray(value, dtype=dtype))
    their_value = torch.tensor(value) if int_value else torch.tensor(np.asarray(value, dtype=dtype))
    results = [(mine.log_prob(my_value), theirs.log_prob(their_value)), (mine.entropy(), theirs.entropy())]
    for prop in ("mean", "variance", "mode", "probs", "logits"):
        results.append((getattr(mine, prop), getattr(theirs, prop)))
    for got, expected in results:
        close(got, expected, dtype)
    my_loss = results[0][0].sum() + results[1][0].sum()
    their_loss = results[0][1].sum() + results[1][1].sum()
    leaf = next(iter(params))
    close(cgrad.autograd.grad(my_loss, my_leaves[leaf])[0], torch.autograd.grad(their_loss, their_leaves[leaf])[0],
          dtype, scale=10)
    for expand in (True, False):
        close(mine.enumerate_support(expand), theirs.enumerate_support(expand), dtype)
    batch_shape = (4,) + tuple(mine.batch_shape)
    expanded_mine, expanded_theirs = mine.expand(batch_shape), theirs.expand(batch_shape)
    assert expanded_mine.batch_shape == expanded_theirs.batch_shape == batch_shape
    drawn = expanded_mine.sample()
    assert tuple(drawn.shape) == batch_shape + tuple(mine.event_shape)
    close(expanded_mine.log_prob(drawn), expanded_theirs.log_prob(torch.from_numpy(drawn.numpy())), dtype)


@pytest.mark.parametrize("name, params, value", DISCRETE[::2], ids=DISCRETE_IDS[::2])
def test_discrete_sample_statistics(name, params, value):
    cgrad.manual_seed(3)
    mine, theirs, _, _ = build(name, params, "float64")
    n = 20000
    samples = mine.sample((n,))
    assert tuple(samples.shape) == tuple(theirs.sample((n,)).shape)
    assert bool(mine.support.check(samples).all())
    if name == "Categorical":
        assert samples.dtype == cgrad.int64
        frequencies = np.stack([(samples.numpy() == k).mean(0) for k in range(3)], -1)
    else:
        assert samples.dtype == cgrad.float64
        frequencies = samples.numpy().mean(0)
    np.testing.assert_allclose(frequencies, theirs.mean.detach().numpy() if name != "Categorical"
                               else theirs.probs.detach().numpy(), atol=0.015)
    cgrad.manual_seed(9)
    first = mine.sample((5,))
    cgrad.manual_seed(9)
    np.testing.assert_array_equal(first.numpy(), mine.sample((5,)).numpy())


COVARIANCE = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 1.5]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_multivariate_normal(kind, dtype):
    matrix = np.linalg.cholesky(COVARIANCE) if kind == "scale_tril" else COVARIANCE
    # loc batched over (2,), the matrix shared: batch_shape (2,)
    mine, theirs, my_leaves, their_leaves = build(
        "MultivariateNormal", {"loc": [[0.1, -0.2, 0.3], [1.0, 0.0, -1.0]], kind: matrix}, dtype)
    assert mine.batch_shape == theirs.batch_shape == (2,) and mine.event_shape == theirs.event_shape == (3,)
    value = np.array([[[0.5, 0.1, -1.0]], [[0.0, 0.0, 0.0]]], dtype=dtype)  # (2, 1, 3): broadcasts to (2, 2)
    got = [mine.log_prob(cgrad.tensor(value)), mine.entropy()]
    expected = [theirs.log_prob(torch.tensor(value)), theirs.entropy()]
    for g, e in zip(got, expected):
        close(g, e, dtype, scale=5)
    for prop in ("mean", "mode", "variance", "covariance_matrix", "precision_matrix", "scale_tril"):
        close(getattr(mine, prop), getattr(theirs, prop), dtype, scale=5)
    my_grads = cgrad.autograd.grad(got[0].sum() + got[1].sum(), [my_leaves["loc"], my_leaves[kind]])
    their_grads = torch.autograd.grad(expected[0].sum() + expected[1].sum(), [their_leaves["loc"], their_leaves[kind]])
    for g, h in zip(my_grads, their_grads):
        close(g, h, dtype, scale=50)
    expanded = mine.expand((4, 2))
    assert expanded.batch_shape == (4, 2)
    close(expanded.log_prob(cgrad.tensor(value[:, 0])), theirs.expand((4, 2)).log_prob(torch.tensor(value[:, 0])),
          dtype, scale=5)


def test_multivariate_normal_rsample():
    cgrad.manual_seed(2)
    loc = cgrad.tensor([1.0, -2.0], dtype=cgrad.float64, requires_grad=True)
    cov = cgrad.tensor([[2.0, 0.6], [0.6, 0.5]], dtype=cgrad.float64)
    samples = D.MultivariateNormal(loc, covariance_matrix=cov).rsample((40000,))
    assert tuple(samples.shape) == (40000, 2)
    samples.mean().backward()
    np.testing.assert_allclose(loc.grad.numpy(), [0.5, 0.5])
    x = samples.detach().numpy()
    np.testing.assert_allclose(x.mean(0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(np.cov(x.T), cov.numpy(), atol=0.05)


def test_multivariate_normal_errors_as_torch():
    loc, cov = torch.zeros(2), torch.eye(2)
    cases = [
        lambda lib, l, c: lib.distributions.MultivariateNormal(l.sum(), c),
        lambda lib, l, c: lib.distributions.MultivariateNormal(l, c, scale_tril=c),
        lambda lib, l, c: lib.distributions.MultivariateNormal(l),
        lambda lib, l, c: lib.distributions.MultivariateNormal(l, precision_matrix=l),
        lambda lib, l, c: lib.distributions.MultivariateNormal(l, c * -1.0),
        lambda lib, l, c: lib.distributions.MultivariateNormal(l, scale_tril=c.flip(0)),
        lambda lib, l, c: lib.distributions.MultivariateNormal(l, c).log_prob(l[:1]),
    ]
    for case in cases:
        with pytest.raises(ValueError) as theirs:
            case(torch, loc, cov)
        with pytest.raises(ValueError) as mine:
            case(cgrad, cgrad.zeros(2), cgrad.eye(2))
        same_message(mine, theirs)


def test_cholesky_gradient_matches_torch():
    from cgrad.distributions.utils import cholesky
    a = np.array([[[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]], COVARIANCE])
    mine, theirs = pair(a, "float64")
    weights = np.random.default_rng(0).standard_normal((2, 3, 3))
    got = (cholesky(mine) * cgrad.tensor(weights)).sum()
    expected = (torch.linalg.cholesky(theirs) * torch.tensor(weights)).sum()
    close(got, expected, "float64")
    got.backward()
    expected.backward()
    close(mine.grad, theirs.grad, "float64", scale=100)
    with pytest.raises(cgrad.linalg.LinAlgError):
        cholesky(-mine.detach())


def test_independent():
    mine, theirs, my_leaves, their_leaves = build("Normal", {"loc": np.zeros((2, 3)), "scale": [[1.0, 2.0, 0.5]]},
                                                  "float64")
    mine, theirs = D.Independent(mine, 1), TD.Independent(theirs, 1)
    assert mine.batch_shape == theirs.batch_shape == (2,) and mine.event_shape == theirs.event_shape == (3,)
    assert repr(mine.support) == repr(theirs.support) == "IndependentConstraint(Real(), 1)"
    assert mine.has_rsample and not mine.has_enumerate_support
    value = np.array([[0.1, -0.5, 2.0]])
    got = mine.log_prob(cgrad.tensor(value)) + mine.entropy()
    expected = theirs.log_prob(torch.tensor(value)) + theirs.entropy()
    close(got, expected, "float64")
    got.sum().backward()
    expected.sum().backward()
    close(my_leaves["scale"].grad, their_leaves["scale"].grad, "float64")
    assert repr(mine) == repr(theirs).replace("torch.", "cgrad.")
    expanded = mine.expand((4, 2))
    assert expanded.batch_shape == (4, 2) and expanded.event_shape == (3,)
    assert tuple(expanded.sample((5,)).shape) == (5, 4, 2, 3)
    with pytest.raises(ValueError) as error:
        D.Independent(D.Normal(cgrad.zeros(2), 1.0), 2)
    with pytest.raises(ValueError) as expected_error:
        TD.Independent(TD.Normal(torch.zeros(2), 1.0), 2)
    same_message(error, expected_error)
    with pytest.raises(NotImplementedError, match="cartesian"):
        D.Independent(D.Bernoulli(cgrad.full((2,), 0.5)), 1).enumerate_support()


# each: a call building a distribution or scoring a value, on lib (cgrad or torch)
VALIDATION_ERRORS = [
    lambda lib: lib.distributions.Normal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, -1.0])),
    lambda lib: lib.distributions.Normal(0.0, 1.0).log_prob(0.5),
    lambda lib: lib.distributions.Normal(lib.zeros(2), 1.0).log_prob(lib.zeros(3)),
    lambda lib: lib.distributions.Exponential(lib.tensor([1.0])).log_prob(lib.tensor([-1.0])),
    lambda lib: lib.distributions.Uniform(lib.tensor([1.0]), lib.tensor([0.0])),
    lambda lib: lib.distributions.Uniform(0.0, 1.0).log_prob(lib.tensor(1.5)),
    lambda lib: lib.distributions.Bernoulli(lib.tensor([1.5])),
    lambda lib: lib.distributions.Bernoulli(),
    lambda lib: lib.distributions.Bernoulli(lib.tensor([0.5])).log_prob(lib.tensor([0.5])),
    lambda lib: lib.distributions.Categorical(lib.tensor(1.0)),
    lambda lib: lib.distributions.Categorical(logits=lib.tensor(1.0)),
    lambda lib: lib.distributions.Categorical(lib.tensor([0.5, -0.5])),
    lambda lib: lib.distributions.Categorical(lib.tensor([0.5, 0.5])).log_prob(lib.tensor([2])),
    lambda lib: lib.distributions.OneHotCategorical(lib.tensor([0.5, 0.5])).log_prob(lib.tensor([1.0, 1.0])),
    lambda lib: lib.distributions.Laplace(lib.tensor([0.0]), lib.tensor([0.0])),
    lambda lib: lib.distributions.Gamma(lib.tensor([-1.0]), lib.tensor([1.0])),
    lambda lib: lib.distributions.Beta(lib.tensor([1.0]), lib.tensor([0.0])),
    lambda lib: lib.distributions.Normal(lib.tensor([float("nan")]), 1.0),
]


@pytest.mark.parametrize("case", range(len(VALIDATION_ERRORS)))
def test_validation_errors_as_torch(case):
    with pytest.raises(ValueError) as theirs:
        VALIDATION_ERRORS[case](torch)
    with pytest.raises(ValueError) as mine:
        VALIDATION_ERRORS[case](cgrad)
    same_message(mine, theirs)


def test_validate_args_can_be_turned_off():
    assert D.Distribution._validate_args is TD.Distribution._validate_args is True
    bad = D.Normal(cgrad.tensor([0.0]), cgrad.tensor([-1.0]), validate_args=False)
    assert math.isnan(bad.log_prob(cgrad.tensor([0.0])).item())
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(cgrad.tensor([0.0]), cgrad.tensor([-1.0])).log_prob(cgrad.tensor([[[0.0]]]))
        D.Exponential(cgrad.tensor([1.0])).log_prob(cgrad.tensor([-1.0]))
        with pytest.raises(ValueError):
            D.Normal(cgrad.tensor([0.0]), cgrad.tensor([-1.0]), validate_args=True)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args("yes")
    with pytest.raises(ValueError):
        D.Normal(cgrad.tensor([0.0]), cgrad.tensor([-1.0]))


def test_reprs_and_constraints_as_torch():
    for name, params, _, _ in CONTINUOUS:
        mine, theirs, _, _ = build(name, params, "float64")
        assert repr(mine) == repr(theirs).replace("torch.", "cgrad.")
        assert repr(mine.support) == repr(theirs.support).replace("torch.", "cgrad.")
        assert set(mine.arg_constraints) == set(theirs.arg_constraints)
    scalar = D.Normal(0.0, 1.0)
    assert repr(scalar) == "Normal(loc: 0.0, scale: 1.0)"
    for name in ("real", "positive", "nonnegative", "unit_interval", "simplex", "boolean", "one_hot",
                 "real_vector", "lower_cholesky", "positive_definite", "nonnegative_integer"):
        assert repr(getattr(D.constraints, name)) == repr(getattr(TD.constraints, name))
    assert repr(D.constraints.interval(0, 2)) == repr(TD.constraints.interval(0, 2))
    assert repr(D.constraints.integer_interval(0, 2)) == repr(TD.constraints.integer_interval(0, 2))
    assert D.constraints.is_dependent(D.Uniform.support) and D.constraints.is_dependent(D.Categorical.support)
    assert D.Categorical.support.is_discrete and D.Categorical.support.event_dim == 0
    values = np.array([[[2.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.1], [0.0, 1.0]],
                       [[1.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [0.6, 0.8]]])
    for name in ("positive_definite", "positive_semidefinite", "lower_cholesky", "corr_cholesky", "symmetric",
                 "square", "lower_triangular", "simplex", "one_hot"):
        got = getattr(D.constraints, name).check(cgrad.tensor(values))
        expected = getattr(TD.constraints, name).check(torch.tensor(values))
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    counts = [[1.0, 2.0, 0.0], [3.0, 1.0, 0.0], [-1.0, 1.0, 1.0]]
    np.testing.assert_array_equal(D.constraints.multinomial(3).check(cgrad.tensor(counts)).numpy(),
                                  TD.constraints.multinomial(3).check(torch.tensor(counts)).numpy())


def test_sample_n_and_perplexity():
    dist = D.Normal(cgrad.zeros(2), 1.0)
    with pytest.warns(FutureWarning):
        assert tuple(dist.sample_n(3).shape) == (3, 2)
    close(dist.perplexity(), TD.Normal(torch.zeros(2), 1.0).perplexity(), "float32")


# (p, q) pairs: class name and the parameters of each
KL_PAIRS = [
    ("Normal", {"loc": [0.3, -1.0], "scale": [1.5, 0.7]}, {"loc": [[0.0], [1.0]], "scale": [0.8, 2.0]}),
    ("Laplace", {"loc": [0.3, -1.0], "scale": [1.5, 0.7]}, {"loc": [0.0, 1.0], "scale": [0.8, 2.0]}),
    ("Exponential", {"rate": [0.3, 1.0]}, {"rate": [1.5, 0.7]}),
    ("Uniform", {"low": [0.0, 0.0], "high": [1.0, 2.0]}, {"low": [-1.0, 0.5], "high": [1.5, 3.0]}),
    ("Bernoulli", {"probs": [0.3, 0.0, 1.0, 0.5]}, {"probs": [0.6, 0.5, 0.2, 1.0]}),
    ("Categorical", {"probs": [[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]]}, {"logits": [[0.1, 0.2, -1.0], [0.0, 0.3, 2.0]]}),
    ("OneHotCategorical", {"probs": [[0.2, 0.3, 0.5]]}, {"probs": [[0.5, 0.1, 0.4]]}),
    ("Gamma", {"concentration": [0.5, 3.0], "rate": [1.5, 0.7]}, {"concentration": [2.0, 1.0], "rate": [1.0, 2.0]}),
    ("Beta", {"concentration1": [0.5, 3.0], "concentration0": [1.5, 0.7]},
     {"concentration1": [2.0, 1.0], "concentration0": [1.0, 2.0]}),
    ("Dirichlet", {"concentration": [[0.5, 3.0, 1.0]]}, {"concentration": [[2.0, 1.0, 0.3]]}),
    ("MultivariateNormal", {"loc": [0.1, -0.2, 0.3], "covariance_matrix": COVARIANCE},
     {"loc": [[0.0, 0.5, 0.0]], "scale_tril": np.diag([1.0, 2.0, 0.5]) + np.tril(np.full((3, 3), 0.3), -1)}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, p_params, q_params", KL_PAIRS, ids=[k[0] for k in KL_PAIRS])
def test_kl_divergence(name, p_params, q_params, dtype):
    my_p, their_p, my_p_leaves, their_p_leaves = build(name, p_params, dtype)
    my_q, their_q, my_q_leaves, their_q_leaves = build(name, q_params, dtype)
    got, expected = D.kl_divergence(my_p, my_q), TD.kl_divergence(their_p, their_q)
    close(got, expected, dtype, scale=5)
    finite = np.isfinite(expected.detach().numpy())
    mask_mine = cgrad.tensor(finite.astype(dtype))
    mask_theirs = torch.tensor(finite.astype(dtype))
    my_leaves = list(my_p_leaves.values()) + list(my_q_leaves.values())
    their_leaves = list(their_p_leaves.values()) + list(their_q_leaves.values())
    my_grads = cgrad.autograd.grad(cgrad.where(mask_mine > 0, got, 0.0).sum(), my_leaves, allow_unused=True)
    their_grads = torch.autograd.grad(torch.where(mask_theirs > 0, expected, 0.0).sum(), their_leaves,
                                      allow_unused=True)
    for g, h in zip(my_grads, their_grads):
        if h is not None:
            close(g, h, dtype, scale=50)


def test_independent_kl():
    p = D.Independent(D.Normal(cgrad.tensor([[0.0, 1.0]]), cgrad.tensor([1.0, 2.0])), 1)
    q = D.Independent(D.Normal(cgrad.tensor([1.0, 1.0]), cgrad.tensor([0.5, 2.0])), 1)
    tp = TD.Independent(TD.Normal(torch.tensor([[0.0, 1.0]]), torch.tensor([1.0, 2.0])), 1)
    tq = TD.Independent(TD.Normal(torch.tensor([1.0, 1.0]), torch.tensor([0.5, 2.0])), 1)
    close(D.kl_divergence(p, q), TD.kl_divergence(tp, tq), "float32")
    with pytest.raises(NotImplementedError):
        D.kl_divergence(p, D.Independent(D.Normal(cgrad.zeros(1, 2), 1.0), 2))


def test_kl_unregistered_pair_and_registry():
    with pytest.raises(NotImplementedError) as mine:
        D.kl_divergence(D.Normal(0.0, 1.0), D.Categorical(cgrad.tensor([0.5, 0.5])))
    with pytest.raises(NotImplementedError) as theirs:
        TD.kl_divergence(TD.Normal(0.0, 1.0), TD.Categorical(torch.tensor([0.5, 0.5])))
    same_message(mine, theirs)

    class Wide(D.Normal):
        pass

    # a subclass uses its base pair until a more specific pair is registered
    close(D.kl_divergence(Wide(0.0, 2.0), D.Normal(0.0, 1.0)), TD.kl_divergence(TD.Normal(0.0, 2.0),
                                                                               TD.Normal(0.0, 1.0)), "float32")

    @D.register_kl(Wide, D.Normal)
    def _kl_wide_normal(p, q):
        return cgrad.tensor(-1.0)

    assert D.kl_divergence(Wide(0.0, 2.0), D.Normal(0.0, 1.0)).item() == -1.0
    assert D.kl_divergence(D.Normal(0.0, 2.0), Wide(0.0, 1.0)).item() > 0
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)


def test_multivariate_normal_kl_event_shapes_must_agree():
    p = D.MultivariateNormal(cgrad.zeros(2), cgrad.eye(2))
    q = D.MultivariateNormal(cgrad.zeros(3), cgrad.eye(3))
    with pytest.raises(ValueError, match="different event shapes"):
        D.kl_divergence(p, q)


def test_distribution_base_raises_not_implemented():
    dist = D.Distribution(validate_args=False)
    for call in (lambda: dist.mean, lambda: dist.variance, lambda: dist.rsample(), lambda: dist.entropy(),
                 lambda: dist.log_prob(cgrad.zeros(1)), lambda: dist.cdf(cgrad.zeros(1)), lambda: dist.expand((2,))):
        with pytest.raises(NotImplementedError):
            call()
    with pytest.raises(NotImplementedError, match="does not implement mode"):
        dist.mode
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert D.Normal(0.0, 1.0).batch_shape == ()


CROSS_PARAMS = {
    "Normal": {"loc": [0.3, -0.2], "scale": [1.5, 0.7]},
    "Laplace": {"loc": [0.3, -1.0], "scale": [0.5, 1.2]},
    "Exponential": {"rate": [0.7, 2.0]},
    "Gamma": {"concentration": [0.8, 3.0], "rate": [1.5, 0.7]},
    "Beta": {"concentration1": [0.5, 3.0], "concentration0": [1.5, 0.7]},
    "Uniform": {"low": [0.2, 0.1], "high": [0.7, 3.0]},
}
CROSS_PAIRS = [(p, q) for p in CROSS_PARAMS for q in CROSS_PARAMS if p != q]


@pytest.mark.parametrize("p_name, q_name", CROSS_PAIRS, ids=[f"{p}-{q}" for p, q in CROSS_PAIRS])
def test_kl_divergence_between_families(p_name, q_name):
    my_p, their_p, my_leaves, their_leaves = build(p_name, CROSS_PARAMS[p_name], "float64")
    my_q, their_q, my_q_leaves, their_q_leaves = build(q_name, CROSS_PARAMS[q_name], "float64")
    try:
        expected = TD.kl_divergence(their_p, their_q)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            D.kl_divergence(my_p, my_q)
        return
    got = D.kl_divergence(my_p, my_q)
    close(got, expected, "float64")
    if expected.requires_grad and np.isfinite(expected.detach().numpy()).all():
        leaves = list(my_leaves.values()) + list(my_q_leaves.values())
        their = list(their_leaves.values()) + list(their_q_leaves.values())
        for g, h in zip(cgrad.autograd.grad(got.sum(), leaves, allow_unused=True),
                        torch.autograd.grad(expected.sum(), their, allow_unused=True)):
            if h is not None:
                close(g, h, "float64", scale=100)


EXPONENTIAL_FAMILIES = [
    ("Normal", {"loc": [0.3, -1.0], "scale": [1.5, 0.7]}, {"loc": [0.0, 1.0], "scale": [0.8, 2.0]}),
    ("Bernoulli", {"probs": [0.3, 0.9]}, {"probs": [0.6, 0.2]}),
    ("Exponential", {"rate": [0.3, 1.0]}, {"rate": [1.5, 0.7]}),
    ("Gamma", {"concentration": [0.5, 3.0], "rate": [1.5, 0.7]}, {"concentration": [2.0, 1.0], "rate": [1.0, 2.0]}),
    ("Beta", {"concentration1": [0.5, 3.0], "concentration0": [1.5, 0.7]},
     {"concentration1": [2.0, 1.0], "concentration0": [1.0, 2.0]}),
    ("Dirichlet", {"concentration": [[0.5, 3.0, 1.0]]}, {"concentration": [[2.0, 1.0, 0.3]]}),
]


@pytest.mark.parametrize("name, p_params, q_params", EXPONENTIAL_FAMILIES, ids=[e[0] for e in EXPONENTIAL_FAMILIES])
def test_exponential_family_bregman_forms(name, p_params, q_params):
    from cgrad.distributions.kl import _kl_expfamily_expfamily
    my_p, their_p, my_leaves, their_leaves = build(name, p_params, "float64")
    my_q, their_q, my_q_leaves, their_q_leaves = build(name, q_params, "float64")
    assert isinstance(my_p, D.ExponentialFamily)
    try:
        expected_entropy = TD.ExponentialFamily.entropy(their_p)
    except NotImplementedError:  # no carrier measure: Beta and Dirichlet
        with pytest.raises(NotImplementedError):
            D.ExponentialFamily.entropy(my_p)
    else:
        close(D.ExponentialFamily.entropy(my_p), expected_entropy, "float64", scale=1e3)
    got = _kl_expfamily_expfamily(my_p, my_q)
    expected = TD.kl._kl_expfamily_expfamily(their_p, their_q)
    close(got, expected, "float64", scale=1e3)
    close(got, D.kl_divergence(my_p, my_q).detach().numpy(), "float64", scale=1e3)
    # as in PyTorch, gradients reach q's parameters only: p's natural parameters are detached
    my_grads = cgrad.autograd.grad(got.sum(), list(my_leaves.values()) + list(my_q_leaves.values()),
                                   allow_unused=True)
    their_grads = torch.autograd.grad(expected.sum(), list(their_leaves.values()) + list(their_q_leaves.values()),
                                      allow_unused=True)
    assert any(h is not None for h in their_grads)
    for g, h in zip(my_grads, their_grads):
        if h is None:
            assert g is None or not np.any(g.numpy())
        else:
            close(g, h, "float64", scale=1e4)


def test_kl_between_exponential_families_without_a_closed_form():
    with pytest.raises(NotImplementedError) as mine:
        D.kl_divergence(D.Bernoulli(cgrad.tensor([0.5])), D.Exponential(cgrad.tensor([1.0])))
    with pytest.raises(NotImplementedError) as theirs:
        TD.kl_divergence(TD.Bernoulli(torch.tensor([0.5])), TD.Exponential(torch.tensor([1.0])))
    # (PyTorch's message carries a run of spaces from a line continuation)
    assert str(mine.value).split() == str(theirs.value).split()
