"""LKJCholesky and Wishart against torch.distributions: values, gradients, shapes, attributes,
validation errors and KL divergences; samples by shape, support and moments, and rsample's
gradient by its structure."""
import math
import warnings

import numpy as np
import pytest

import cgrad
from cgrad import distributions as D
from cgrad.distributions import constraints
from distribution_helpers import check, close, pair, same_error, tr

torch = pytest.importorskip("torch")
TD = torch.distributions

COV = [[2.0, 0.3, 0.1], [0.3, 1.5, -0.2], [0.1, -0.2, 1.0]]
VALUE = [[3.0, 0.5, 0.2], [0.5, 2.5, -0.1], [0.2, -0.1, 1.7]]


def same_attributes(mine, theirs):
    assert mine.batch_shape == theirs.batch_shape and mine.event_shape == theirs.event_shape
    assert mine.has_rsample == theirs.has_rsample
    assert repr(mine.support) == repr(theirs.support)
    assert {k: repr(v) for k, v in mine.arg_constraints.items()} == \
        {k: repr(v) for k, v in theirs.arg_constraints.items()}


def test_exports_follow_torch():
    for name in ("LKJCholesky", "Wishart"):
        assert name in TD.__all__ and name in D.__all__
    from cgrad.distributions.lkj_cholesky import LKJCholesky
    from cgrad.distributions.wishart import Wishart
    assert LKJCholesky is D.LKJCholesky and Wishart is D.Wishart


# LKJCholesky

def corr_cholesky_values(dim, count, dtype):
    """Valid factors: torch's draws from a fixed seed (its sampler's law does not matter here)."""
    torch.manual_seed(dim)
    values = TD.LKJCholesky(dim, 0.8).sample((count,)).double().numpy()
    rows = np.linalg.norm(values, axis=-1, keepdims=True)
    return (values / rows).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dim, concentration", [(2, 1.0), (3, [0.5, 1.0, 2.7]), (5, [[0.3], [4.0]])])
def test_lkj_cholesky_log_prob(dim, concentration, dtype):
    my_eta, their_eta = pair(concentration, dtype)
    my_value, their_value = pair(corr_cholesky_values(dim, 3, dtype), dtype)
    if my_eta.dim() == 2:  # values of batch shape (3, 1, 1) against a batch of shape (2, 1)
        my_value, their_value = my_value[:, None, None], their_value[:, None, None]
    mine, theirs = D.LKJCholesky(dim, my_eta), TD.LKJCholesky(dim, their_eta)
    same_attributes(mine, theirs)
    check(mine.log_prob(my_value), theirs.log_prob(their_value), [my_eta, my_value], [their_eta, their_value],
          dtype)


def test_lkj_cholesky_density_integrates_to_one():
    # dim 2: the factor's free coordinate is the correlation r itself
    r = np.linspace(-1, 1, 200001)[1:-1]
    value = np.zeros((r.size, 2, 2))
    value[:, 0, 0], value[:, 1, 0], value[:, 1, 1] = 1, r, np.sqrt(1 - r * r)
    for eta in (0.7, 1.0, 3.5):
        density = D.LKJCholesky(2, cgrad.tensor(eta, dtype=cgrad.float64)).log_prob(cgrad.tensor(value)).exp()
        assert abs(np.trapezoid(density.numpy(), r) - 1) < 2e-3


def test_lkj_cholesky_attributes_and_numbers():
    mine, theirs = D.LKJCholesky(3, 2.5), TD.LKJCholesky(3, 2.5)
    same_attributes(mine, theirs)
    assert mine.concentration.dtype == cgrad.float32 and mine.concentration.dim() == 0
    assert mine.dim == 3 and not mine.has_rsample
    assert D.LKJCholesky(3, 1).concentration.item() == 1.0
    assert D.LKJCholesky(3, cgrad.tensor(2.0, dtype=cgrad.float64)).concentration.dtype == cgrad.float64
    assert repr(mine) == repr(theirs)


def test_lkj_cholesky_undefined_moments_raise_as_torch():
    mine, theirs = D.LKJCholesky(3, 1.5), TD.LKJCholesky(3, 1.5)
    for name in ("mean", "mode", "variance"):
        same_error(lambda: getattr(mine, name), lambda: getattr(theirs, name))
    same_error(mine.entropy, theirs.entropy)
    same_error(mine.rsample, theirs.rsample)
    same_error(lambda: mine.cdf(cgrad.eye(3)), lambda: theirs.cdf(torch.eye(3)))


def test_lkj_cholesky_errors():
    for dim in (1, 0, 1.5):
        same_error(lambda: D.LKJCholesky(dim), lambda: TD.LKJCholesky(dim))
    same_error(lambda: D.LKJCholesky(2.0), lambda: TD.LKJCholesky(2.0))
    # a concentration <= 0 fails the onion method's beta parameters first, validated or not
    for validate in (None, False):
        for eta in (-1.0, 0.0):
            same_error(lambda: D.LKJCholesky(2, eta, validate_args=validate),
                       lambda: TD.LKJCholesky(2, eta, validate_args=validate))
        with pytest.raises(ValueError, match="distribution Dirichlet"):
            D.LKJCholesky(4, cgrad.tensor([1.0, -0.5]), validate_args=validate)
    mine, theirs = D.LKJCholesky(3, cgrad.tensor([1.0, 2.0])), TD.LKJCholesky(3, torch.tensor([1.0, 2.0]))
    same_error(lambda: mine.log_prob(cgrad.eye(2)), lambda: theirs.log_prob(torch.eye(2)))
    same_error(lambda: mine.log_prob(2 * cgrad.eye(3)), lambda: theirs.log_prob(2 * torch.eye(3)))
    unchecked = D.LKJCholesky(3, 1.0, validate_args=False).log_prob(2 * cgrad.eye(3))
    close(unchecked, TD.LKJCholesky(3, 1.0, validate_args=False).log_prob(2 * torch.eye(3)), "float32")


def test_lkj_cholesky_expand():
    mine, theirs = D.LKJCholesky(3, cgrad.tensor([1.0, 2.0])), TD.LKJCholesky(3, torch.tensor([1.0, 2.0]))
    expanded, their_expanded = mine.expand((4, 2)), theirs.expand((4, 2))
    same_attributes(expanded, their_expanded)
    assert expanded.dim == 3 and expanded._validate_args == mine._validate_args
    value = corr_cholesky_values(3, 1, "float32")[0]
    close(expanded.log_prob(cgrad.tensor(value)), their_expanded.log_prob(torch.tensor(value)), "float32")
    assert expanded.sample((5,)).shape == (5, 4, 2, 3, 3)


@pytest.mark.parametrize("dim, concentration", [(2, 0.6), (3, 1.0), (5, 2.5)])
def test_lkj_cholesky_samples(dim, concentration):
    # every correlation M_ij (i != j) of the LKJ law has r = 2 B - 1 with B ~ Beta(b, b),
    # b = eta + (dim - 2) / 2: mean 0 and variance 1 / (2 b + 1), for every pair alike
    cgrad.manual_seed(3)
    dist = D.LKJCholesky(dim, cgrad.tensor([concentration, concentration], dtype=cgrad.float64))
    samples = dist.sample((3000,))
    assert samples.shape == (3000, 2, dim, dim) and samples.dtype == cgrad.float64
    assert constraints.corr_cholesky.check(samples).all()
    assert np.isfinite(dist.log_prob(samples).numpy()).all()
    correlations = (samples @ samples.mT).numpy()[..., np.tril_indices(dim, -1)[0], np.tril_indices(dim, -1)[1]]
    count = correlations.shape[0]
    b = concentration + (dim - 2) / 2
    squares = correlations ** 2
    assert np.all(np.abs(correlations.mean(0)) < 5 * correlations.std(0) / math.sqrt(count))
    assert np.all(np.abs(squares.mean(0) - 1 / (2 * b + 1)) < 5 * squares.std(0) / math.sqrt(count))
    single = D.LKJCholesky(dim, concentration).sample()
    assert single.shape == (dim, dim) and single.dtype == cgrad.float32
    assert constraints.corr_cholesky.check(single)


# Wishart

def wishart_pair(kind, df, dtype, validate_args=None):
    """A cgrad and a torch Wishart of the same parameters, and their leaves."""
    matrix = np.linalg.cholesky(np.asarray(COV)) if kind == "scale_tril" else COV
    my_matrix, their_matrix = pair(matrix, dtype)
    if isinstance(df, list):
        my_df, their_df = pair(df, dtype)
    else:
        my_df = their_df = df
    mine = D.Wishart(my_df, validate_args=validate_args, **{kind: my_matrix})
    theirs = TD.Wishart(their_df, validate_args=validate_args, **{kind: their_matrix})
    leaves = [my_matrix] + ([my_df] if isinstance(my_df, cgrad.Tensor) else [])
    their_leaves = [their_matrix] + ([their_df] if isinstance(their_df, torch.Tensor) else [])
    return mine, theirs, leaves, their_leaves


KINDS = ["covariance_matrix", "precision_matrix", "scale_tril"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("df", [4.3, [3.2, 6.0]])
@pytest.mark.parametrize("kind", KINDS)
def test_wishart_values_and_gradients(kind, df, dtype):
    mine, theirs, leaves, their_leaves = wishart_pair(kind, df, dtype)
    same_attributes(mine, theirs)
    my_value, their_value = pair(VALUE, dtype)
    scale = 5 if dtype == "float32" else 1
    check(mine.log_prob(my_value), theirs.log_prob(their_value), leaves + [my_value], their_leaves + [their_value],
          dtype, scale)
    check(mine.entropy(), theirs.entropy(), leaves, their_leaves, dtype, scale)
    for name in ("mean", "mode", "variance", "covariance_matrix", "precision_matrix", "scale_tril"):
        check(getattr(mine, name), getattr(theirs, name), leaves, their_leaves, dtype, scale)
    close(mine.stddev, theirs.stddev, dtype, scale)


@pytest.mark.parametrize("df", [4.3, [3.2, 6.0]])
@pytest.mark.parametrize("kind", KINDS)
def test_wishart_kl_follows_the_exponential_family(kind, df):
    mine, theirs, leaves, their_leaves = wishart_pair(kind, df, "float64")
    q_value, their_q_value = pair(VALUE, "float64")
    my_q, their_q = D.Wishart(7.5, covariance_matrix=q_value), TD.Wishart(7.5, covariance_matrix=their_q_value)
    check(D.kl_divergence(mine, my_q), TD.kl_divergence(theirs, their_q), leaves + [q_value],
          their_leaves + [their_q_value])
    assert (type(mine), type(my_q)) not in D.kl._KL_REGISTRY
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.LKJCholesky(3, 1.0), D.LKJCholesky(3, 2.0))


def test_wishart_log_prob_broadcasts_and_is_unchecked_when_asked():
    mine, theirs, _, _ = wishart_pair("covariance_matrix", [3.2, 6.0], "float64", validate_args=False)
    values = np.stack([np.asarray(VALUE), -np.eye(3), [[1.0, 2.0, 0], [2.0, 1.0, 0], [0, 0, 1.0]]])[:, None]
    close(mine.log_prob(cgrad.tensor(values)), theirs.log_prob(torch.tensor(values)))


def test_wishart_shapes_and_attributes():
    cov, their_cov = pair(np.broadcast_to(np.asarray(COV), (2, 3, 3)), requires_grad=False)
    for df in (4.0, 5, cgrad.tensor([[4.0], [5.0], [6.0]], dtype=cgrad.float64)):
        their_df = torch.tensor(df.numpy()) if isinstance(df, cgrad.Tensor) else df
        mine, theirs = D.Wishart(df, covariance_matrix=cov), TD.Wishart(their_df, covariance_matrix=their_cov)
        same_attributes(mine, theirs)
        assert mine.df.shape == theirs.df.shape and mine.df.dtype == cgrad.float64
        assert mine._batch_dims == theirs._batch_dims
        assert mine._unbroadcasted_scale_tril.shape == theirs._unbroadcasted_scale_tril.shape
        close(mine._dist_chi2.df, theirs._dist_chi2.df)
        assert repr(mine) == tr(repr(theirs))
    assert D.Wishart(cgrad.tensor(4.0), covariance_matrix=cov).df.dtype == cgrad.float32
    assert isinstance(D.Wishart.arg_constraints, property)


def test_wishart_expand():
    mine, theirs, _, _ = wishart_pair("scale_tril", [3.2, 6.0], "float64")
    mine.precision_matrix, theirs.precision_matrix
    expanded, their_expanded = mine.expand((4, 2)), theirs.expand((4, 2))
    same_attributes(expanded, their_expanded)
    for name in ("df", "_unbroadcasted_scale_tril", "scale_tril", "precision_matrix"):
        close(getattr(expanded, name), getattr(their_expanded, name))
    assert "covariance_matrix" not in vars(expanded)
    assert expanded._batch_dims == their_expanded._batch_dims
    assert expanded._validate_args == mine._validate_args
    value = np.asarray(VALUE)
    close(expanded.log_prob(cgrad.tensor(value)), their_expanded.log_prob(torch.tensor(value)))
    close(expanded.entropy(), their_expanded.entropy())
    assert expanded.rsample((3,)).shape == (3, 4, 2, 3, 3)


def test_wishart_errors():
    eye, their_eye = cgrad.eye(3, dtype=cgrad.float64), torch.eye(3, dtype=torch.float64)
    same_error(lambda: D.Wishart(4.0), lambda: TD.Wishart(4.0))
    same_error(lambda: D.Wishart(4.0, covariance_matrix=eye, scale_tril=eye),
               lambda: TD.Wishart(4.0, covariance_matrix=their_eye, scale_tril=their_eye))
    for kind in KINDS:
        same_error(lambda: D.Wishart(4.0, **{kind: cgrad.ones(3)}), lambda: TD.Wishart(4.0, **{kind: torch.ones(3)}))
        same_error(lambda: D.Wishart(4.0, **{kind: -eye}), lambda: TD.Wishart(4.0, **{kind: -their_eye}))
    for validate in (None, False):
        for df in (2.0, 1.5, 0, cgrad.tensor([1.5, 4.0])):
            their_df = torch.tensor(df.numpy()) if isinstance(df, cgrad.Tensor) else df
            same_error(lambda: D.Wishart(df, covariance_matrix=eye, validate_args=validate),
                       lambda: TD.Wishart(their_df, covariance_matrix=their_eye, validate_args=validate))
    for validate in (None, False):  # unvalidated, the chi-squared draws' validation catches it
        same_error(lambda: D.Wishart(float("nan"), covariance_matrix=eye, validate_args=validate),
                   lambda: TD.Wishart(float("nan"), covariance_matrix=their_eye, validate_args=validate))
    same_error(lambda: D.Wishart(cgrad.tensor([4.0, 5.0]), covariance_matrix=eye.expand(3, 3, 3)),
               lambda: TD.Wishart(torch.tensor([4.0, 5.0]), covariance_matrix=their_eye.expand(3, 3, 3)))
    same_error(lambda: D.Wishart(4.0, covariance_matrix=-eye, validate_args=False),
               lambda: TD.Wishart(4.0, covariance_matrix=-their_eye, validate_args=False))
    same_error(lambda: D.Wishart(4.0, covariance_matrix=cgrad.ones(3, 2)),
               lambda: TD.Wishart(4.0, covariance_matrix=torch.ones(3, 2)))
    mine, theirs = D.Wishart(4.0, covariance_matrix=eye), TD.Wishart(4.0, covariance_matrix=their_eye)
    same_error(lambda: mine.log_prob(-eye), lambda: theirs.log_prob(-their_eye))
    same_error(lambda: mine.log_prob(cgrad.eye(2)), lambda: theirs.log_prob(torch.eye(2)))
    same_error(lambda: mine.cdf(eye), lambda: theirs.cdf(their_eye))


def test_wishart_low_df_warns_as_torch():
    eye = cgrad.eye(3, dtype=cgrad.float64)
    with pytest.warns(UserWarning, match=r"Low df values detected\. Singular samples are highly likely"):
        D.Wishart(cgrad.tensor([2.5, 4.0]), covariance_matrix=eye, validate_args=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        D.Wishart(3.0, covariance_matrix=eye)


def moments_agree(samples, mean, variance, sigmas=5):
    count = samples.shape[0]
    assert np.all(np.abs(samples.mean(0) - mean) < sigmas * np.sqrt(variance / count))
    # the sample variance's own spread, from the fourth central moment
    fourth = ((samples - samples.mean(0)) ** 4).mean(0)
    assert np.all(np.abs(samples.var(0) - variance) < sigmas * np.sqrt((fourth - variance ** 2) / count))


@pytest.mark.parametrize("kind", KINDS)
def test_wishart_samples(kind):
    cgrad.manual_seed(5)
    dist, _, _, _ = wishart_pair(kind, [3.2, 6.0], "float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # df 3.2 can round a draw to singular, which is then redrawn
        samples = dist.sample((4000,))
    assert samples.shape == (4000, 2, 3, 3) and not samples.requires_grad
    assert constraints.positive_definite.check(samples).all()
    moments_agree(samples.numpy(), dist.mean.detach().numpy(), dist.variance.detach().numpy())
    single = D.Wishart(4.0, covariance_matrix=cgrad.tensor(COV)).sample()
    assert single.shape == (3, 3) and single.dtype == cgrad.float32


def test_wishart_rsample_moves_with_the_scale():
    # one draw of Bartlett's factor A serves every scale: X = L (A A^T) L^T
    lower = cgrad.tensor(np.linalg.cholesky(np.asarray(COV)), requires_grad=True)
    cgrad.manual_seed(11)
    standard = D.Wishart(4.3, scale_tril=cgrad.eye(3, dtype=cgrad.float64)).rsample((50,))
    cgrad.manual_seed(11)
    scaled = D.Wishart(4.3, scale_tril=lower).rsample((50,))
    np.testing.assert_allclose(scaled.detach().numpy(), (lower @ standard @ lower.mT).detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    scaled.sum().backward()
    # d/dL sum(L W L^T) = 2 J L W, J all ones, summed over the draws
    expected = 2 * np.ones((3, 3)) @ lower.detach().numpy() @ standard.detach().numpy().sum(0)
    np.testing.assert_allclose(lower.grad.numpy(), expected, rtol=1e-10)


def test_wishart_rsample_gradient_in_df_is_unbiased():
    # d E[X] / d df = Sigma; the implicit chi-squared gradient averages to it
    cov = np.asarray(COV)
    df = cgrad.tensor([3.5, 8.0], dtype=cgrad.float64, requires_grad=True)
    cgrad.manual_seed(7)
    samples = D.Wishart(df, covariance_matrix=cgrad.tensor(cov)).rsample((3000,))
    per_draw = [cgrad.autograd.grad(samples[:, b, i, j].sum(), df, retain_graph=True)[0].numpy()[b]
                for b in range(2) for i, j in ((0, 0), (1, 1), (0, 2))]
    np.testing.assert_allclose(np.asarray(per_draw) / 3000, np.tile(cov[[0, 1, 0], [0, 1, 2]], 2), atol=0.06)


def test_wishart_max_try_correction():
    # with df = p - 1 + 0.02 the last chi-squared draw (0.02 degrees of freedom) underflows
    # about half the time, and the sample is singular
    eye = cgrad.eye(2, dtype=cgrad.float64)
    with pytest.warns(UserWarning, match="Low df"):
        dist = D.Wishart(1.02, scale_tril=eye)
    cgrad.manual_seed(2)
    with pytest.warns(UserWarning, match="Singular sample detected."):
        kept = dist.rsample((200,), max_try_correction=0)
    singular = int((~constraints.positive_definite.check(kept)).sum())
    assert 40 < singular < 160
    with pytest.warns(UserWarning, match="Singular sample detected."):
        corrected = dist.rsample((200,), max_try_correction=30)
    assert constraints.positive_definite.check(corrected).all()
    cgrad.manual_seed(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing singular, nothing to say
        D.Wishart(6.0, scale_tril=eye).rsample((200,))
