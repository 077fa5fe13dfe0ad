"""The transforms, TransformedDistribution, biject_to / transform_to and the
distributions built on them against torch.distributions: values, gradients,
shapes, validation errors and KL divergences; samples by shape, support and
statistics."""
import math

import numpy as np
import pytest

import cgrad
from cgrad import distributions as D
from cgrad.distributions import constraints, transforms as T

torch = pytest.importorskip("torch")
TD = torch.distributions
TT = torch.distributions.transforms

TOL = {"float32": (2e-5, 2e-5), "float64": (1e-9, 1e-10)}
DTYPES = ["float32", "float64"]


def pair(values, dtype, requires_grad=True):
    """The same values as a cgrad and a torch leaf tensor."""
    array = np.asarray(values, dtype=dtype)
    return (cgrad.tensor(array.copy(), requires_grad=requires_grad),
            torch.tensor(array.copy(), requires_grad=requires_grad))


def close(mine, theirs, dtype, scale=1.0):
    rtol, atol = TOL[dtype]
    expected = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    actual = np.asarray(mine.detach().numpy())
    assert tuple(actual.shape) == tuple(expected.shape)
    assert str(actual.dtype) == str(expected.dtype)
    np.testing.assert_allclose(actual, expected, rtol=rtol * scale, atol=atol * scale, equal_nan=True)


def grads_close(got, expected, my_leaves, their_leaves, dtype):
    """The gradients of a weighted sum of got and expected agree."""
    if not expected.requires_grad:
        return
    weights = np.linspace(0.5, 1.5, max(expected.numel(), 1)).reshape(tuple(expected.shape))
    finite = np.isfinite(expected.detach().numpy())
    weights = np.where(finite, weights, 0.0).astype(str(expected.detach().numpy().dtype))
    got = (cgrad.where(cgrad.tensor(finite), got, 0.0) * cgrad.tensor(weights)).sum()
    expected = (torch.where(torch.tensor(finite), expected, 0.0) * torch.tensor(weights)).sum()
    try:
        their_grads = torch.autograd.grad(expected, their_leaves, allow_unused=True, retain_graph=True)
    except (NotImplementedError, RuntimeError) as error:
        with pytest.raises(type(error)) as raised:
            cgrad.autograd.grad(got, my_leaves, allow_unused=True, retain_graph=True)
        assert str(raised.value) == str(error)
        return
    my_grads = cgrad.autograd.grad(got, my_leaves, allow_unused=True, retain_graph=True)
    for g, h in zip(my_grads, their_grads):
        if h is None:
            assert g is None or not np.any(g.numpy())
        else:
            close(g, h, dtype, scale=20)


def build(name, params, dtype, requires_grad=True):
    mine, theirs = {}, {}
    for key, values in params.items():
        if isinstance(values, (int, float)):
            mine[key] = theirs[key] = values
        else:
            mine[key], theirs[key] = pair(values, dtype, requires_grad)
    return getattr(D, name)(**mine), getattr(TD, name)(**theirs), mine, theirs


def leaves(params):
    return [v for v in params.values() if isinstance(v, (cgrad.Tensor, torch.Tensor)) and v.requires_grad]


# name, parameters, a value in the support, methods beyond log_prob, properties
CASES = [
    ("LogNormal", {"loc": [[0.3], [-1.2]], "scale": [1.5, 0.7, 2.0]}, [0.2, 0.9, 3.1], ("cdf", "icdf")),
    ("Gumbel", {"loc": [[0.3], [-1.2]], "scale": [1.5, 0.7, 2.0]}, [0.2, -0.9, 3.1], ("cdf", "icdf")),
    ("HalfNormal", {"scale": [1.5, 0.7, 2.0]}, [0.2, 0.9, 3.1], ("cdf", "icdf")),
    ("HalfCauchy", {"scale": [1.5, 0.7, 2.0]}, [0.2, 0.9, 3.1], ("cdf", "icdf")),
    ("Cauchy", {"loc": [[0.3], [-1.2]], "scale": [1.5, 0.7, 2.0]}, [0.2, -0.9, 3.1], ("cdf", "icdf")),
    ("StudentT", {"df": [[0.8], [3.5]], "loc": [0.3, -1.0, 0.0], "scale": [1.5, 0.7, 2.0]}, [0.2, -0.9, 3.1], ()),
    ("Chi2", {"df": [[0.8], [3.5]]}, [0.2, 0.9, 3.1], ("cdf",)),
    ("Pareto", {"scale": [[0.1], [0.15]], "alpha": [1.5, 2.7, 3.0]}, [0.2, 0.9, 3.1], ("cdf", "icdf")),
    ("Weibull", {"scale": [[0.5], [1.5]], "concentration": [0.7, 1.5, 3.0]}, [0.2, 0.9, 3.1], ("cdf", "icdf")),
    ("Kumaraswamy", {"concentration1": [[0.5], [2.5]], "concentration0": [1.5, 0.7, 2.0]}, [0.2, 0.9, 0.35], ()),
    ("InverseGamma", {"concentration": [[0.5], [2.5]], "rate": [1.5, 0.7, 2.0]}, [0.2, 0.9, 3.1], ()),
    ("FisherSnedecor", {"df1": [[0.5], [2.5]], "df2": [1.5, 4.7, 5.0]}, [0.2, 0.9, 3.1], ()),
    ("Geometric", {"probs": [[0.2], [0.8]]}, [0.0, 1.0, 4.0], ()),
    ("Geometric", {"logits": [[0.2], [-1.8]]}, [0.0, 1.0, 4.0], ()),
    ("Poisson", {"rate": [[0.2], [3.8]]}, [0.0, 1.0, 4.0], ()),
    ("Binomial", {"total_count": 5, "probs": [[0.2], [0.8]]}, [0.0, 1.0, 4.0], ()),
    ("Binomial", {"total_count": [[4.0], [6.0]], "logits": [0.2, -1.3, 2.0]}, [0.0, 1.0, 4.0], ()),
    ("NegativeBinomial", {"total_count": [[4.0], [6.5]], "probs": [0.2, 0.5, 0.7]}, [0.0, 1.0, 4.0], ()),
    ("NegativeBinomial", {"total_count": 2.5, "logits": [0.2, -1.3, 2.0]}, [0.0, 1.0, 4.0], ()),
]
PROPERTIES = ("mean", "variance", "stddev", "mode")


def _call(dist, method, argument):
    """dist.method(argument), dist.method() or the property; a NotImplementedError is returned."""
    try:
        attribute = getattr(dist, method)
        if isinstance(attribute, (cgrad.Tensor, torch.Tensor)):
            return attribute
        return attribute(argument) if argument is not None else attribute()
    except NotImplementedError as error:
        return error


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, params, value, methods", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_values_and_gradients(name, params, value, methods, dtype):
    mine, theirs, my_params, their_params = build(name, params, dtype)
    assert mine.batch_shape == theirs.batch_shape and mine.event_shape == theirs.event_shape
    assert mine.has_rsample == theirs.has_rsample
    assert repr(mine.support) == repr(theirs.support).replace("torch.", "cgrad.")
    my_value, their_value = pair(value, dtype, requires_grad=False)
    calls = [(m, my_value, their_value) for m in ("log_prob",) + methods if m != "icdf"]
    if "icdf" in methods:
        calls.append(("icdf",) + pair([0.1, 0.5, 0.95], dtype, requires_grad=False))
    calls += [("entropy", None, None)]
    calls += [(p, None, None) for p in PROPERTIES]
    for method, mine_arg, their_arg in calls:
        got, expected = _call(mine, method, mine_arg), _call(theirs, method, their_arg)
        if name == "Kumaraswamy" and method == "mode":
            # torch's mode is nan everywhere; the mode is ((a - 1) / (a b - 1))^(1/a) where a, b >= 1
            a, b = (np.broadcast_to(np.asarray(v, dtype=dtype), (2, 3)) for v in params.values())
            with np.errstate(divide="ignore", invalid="ignore"):
                expected = np.where((a >= 1) & (b >= 1), ((a - 1) / (a * b - 1)) ** (1 / a), np.nan)
            close(got, expected, dtype)
            continue
        if isinstance(expected, NotImplementedError):
            assert isinstance(got, NotImplementedError), method
            assert str(got) == str(expected).replace("torch.", "cgrad.")
            continue
        close(got, expected, dtype)
        grads_close(got, expected, leaves(my_params), leaves(their_params), dtype)


def _transform(module, name, args):
    built = []
    for a in args:
        if isinstance(a, tuple) and a and a[0] == "T":
            built.append(_transform(module, a[1], a[2]))
        elif isinstance(a, list) and a and isinstance(a[0], tuple):
            built.append([_transform(module, *t) if t[0] != "T" else _transform(module, t[1], t[2]) for t in a])
        else:
            built.append(a)
    if name == "identity_transform":
        return module.identity_transform
    if name.endswith(".inv"):
        return getattr(module, name[:-4])(*built).inv
    return getattr(module, name)(*built)


# name, args (scalars, or tensors as ("tensor", values)), the input x, whether x is passed through inv first
TRANSFORMS = [
    ("ExpTransform", (), [[0.3, -1.2, 2.0]]),
    ("ExpTransform.inv", (), [[0.3, 1.2, 2.0]]),
    ("PowerTransform", (("tensor", [0.5, 2.0, 3.0]),), [[0.3, 1.2, 2.0]]),
    ("SigmoidTransform", (), [[0.3, -1.2, 2.0]]),
    ("SigmoidTransform.inv", (), [[0.3, 0.2, 0.9]]),
    ("SoftplusTransform", (), [[0.3, -1.2, 25.0]]),
    ("SoftplusTransform.inv", (), [[0.3, 1.2, 2.0]]),
    ("TanhTransform", (), [[0.3, -1.2, 2.0]]),
    ("TanhTransform.inv", (), [[0.3, -0.2, 0.9]]),
    ("AbsTransform", (), [[0.3, -1.2, 2.0]]),
    ("AffineTransform", (("tensor", [1.0, -2.0, 0.5]), ("tensor", [0.5, -3.0, 2.0])), [[0.3, -1.2, 2.0]]),
    ("AffineTransform", (1.5, -2.0, 1), [[0.3, -1.2, 2.0]]),
    ("SoftmaxTransform", (), [[0.3, -1.2, 2.0]]),
    ("StickBreakingTransform", (), [[0.3, -1.2, 2.0]]),
    ("StickBreakingTransform.inv", (), [[0.3, 0.2, 0.1, 0.4]]),
    ("LowerCholeskyTransform", (), [[[0.3, 1.0], [-1.2, 2.0]]]),
    ("PositiveDefiniteTransform", (), [[[0.3, 1.0], [-1.2, 2.0]]]),
    ("CorrCholeskyTransform", (), [[0.3, -1.2, 2.0]]),
    ("CorrCholeskyTransform.inv", (), [[[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.6, 0.8]]]),
    ("ReshapeTransform", ((2, 3), (3, 2)), [[0.3, -1.2, 2.0], [1.0, 2.0, 3.0]]),
    ("CatTransform", ([("T", "ExpTransform", ()), ("T", "AffineTransform", (1.0, 2.0))], 1, [1, 2]),
     [[0.3, -1.2, 2.0], [1.0, 2.0, 3.0]]),
    ("StackTransform", ([("T", "ExpTransform", ()), ("T", "SigmoidTransform", ())], 0),
     [[0.3, -1.2, 2.0], [1.0, 2.0, 3.0]]),
    ("ComposeTransform", ([("T", "ExpTransform", ()), ("T", "AffineTransform", (1.0, 2.0))],), [[0.3, -1.2, 2.0]]),
    ("IndependentTransform", (("T", "SigmoidTransform", ()), 1), [[0.3, -1.2, 2.0]]),
    ("identity_transform", (), [[0.3, -1.2, 2.0]]),
]


def _build_transform(name, args, dtype):
    my_args, their_args, my_leaves, their_leaves = [], [], [], []
    for a in args:
        if isinstance(a, tuple) and a and a[0] == "tensor":
            mine, theirs = pair(a[1], dtype)
            my_leaves.append(mine)
            their_leaves.append(theirs)
            my_args.append(mine)
            their_args.append(theirs)
        else:
            my_args.append(a)
            their_args.append(a)
    return _transform(T, name, my_args), _transform(TT, name, their_args), my_leaves, their_leaves


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, args, x", TRANSFORMS, ids=[f"{t[0]}-{i}" for i, t in enumerate(TRANSFORMS)])
def test_transforms(name, args, x, dtype):
    mine, theirs, my_leaves, their_leaves = _build_transform(name, args, dtype)
    assert type(mine).__name__ == type(theirs).__name__
    assert repr(mine.domain) == repr(theirs.domain) and repr(mine.codomain) == repr(theirs.codomain)
    assert mine.bijective == theirs.bijective
    my_x, their_x = pair(x, dtype)
    my_y, their_y = mine(my_x), theirs(their_x)
    close(my_y, their_y, dtype)
    grads_close(my_y, their_y, [my_x] + my_leaves, [their_x] + their_leaves, dtype)
    close(mine.inv(my_y), theirs.inv(their_y), dtype, scale=10)
    if mine.bijective:
        my_j, their_j = mine.log_abs_det_jacobian(my_x, my_y), theirs.log_abs_det_jacobian(their_x, their_y)
        close(my_j, their_j, dtype, scale=10)
        grads_close(my_j, their_j, [my_x] + my_leaves, [their_x] + their_leaves, dtype)
    shape = tuple(their_x.shape)
    assert tuple(mine.forward_shape(shape)) == tuple(theirs.forward_shape(shape))
    assert tuple(mine.inverse_shape(tuple(their_y.shape))) == tuple(theirs.inverse_shape(tuple(their_y.shape)))
    try:
        expected_sign = theirs.sign
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            mine.sign
    else:
        sign = mine.sign
        assert (sign == expected_sign if isinstance(expected_sign, int)
                else np.array_equal(sign.detach().numpy(), expected_sign.detach().numpy()))
    assert mine.inv.inv is mine
    assert mine == mine and (mine.inv != mine) == (theirs.inv != theirs)


def test_transform_caching_and_equality():
    t = T.ExpTransform(cache_size=1)
    x = cgrad.tensor([0.5, 1.0])
    y = t(x)
    assert t(x) is y and t.inv(y) is x
    assert T.ExpTransform().with_cache(1)._cache_size == 1
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        T.ExpTransform(cache_size=2)
    assert T.ExpTransform() == T.ExpTransform() and T.ExpTransform() != T.SigmoidTransform()
    assert T.AffineTransform(1.0, 2.0) == T.AffineTransform(1.0, 2.0)
    assert T.PowerTransform(2.0) == T.PowerTransform(2.0) and T.PowerTransform(2.0) != T.PowerTransform(3.0)
    assert repr(T.ComposeTransform([T.ExpTransform(), T.TanhTransform()])) == repr(
        TT.ComposeTransform([TT.ExpTransform(), TT.TanhTransform()]))
    assert repr(T.ExpTransform().inv) == "_InverseTransform(ExpTransform())"
    with pytest.raises(ValueError, match="in_shape, out_shape have different numbers of elements"):
        T.ReshapeTransform((2, 3), (4,))


def test_cumulative_distribution_transform():
    my_x, their_x = pair([0.3, -1.2, 2.0], "float64")
    mine = T.CumulativeDistributionTransform(D.Normal(0.5, 2.0))
    theirs = TT.CumulativeDistributionTransform(TD.Normal(0.5, 2.0))
    my_y, their_y = mine(my_x), theirs(their_x)
    close(my_y, their_y, "float64")
    close(mine.inv(my_y), theirs.inv(their_y), "float64")
    close(mine.log_abs_det_jacobian(my_x, my_y), theirs.log_abs_det_jacobian(their_x, their_y), "float64")
    assert repr(mine.domain) == repr(theirs.domain) and repr(mine.codomain) == repr(theirs.codomain)


CONSTRAINTS = [
    ("real", ()), ("positive", ()), ("nonnegative", ()), ("unit_interval", ()), ("simplex", ()),
    ("lower_cholesky", ()), ("corr_cholesky", ()), ("positive_definite", ()), ("real_vector", ()),
    ("greater_than", (1.5,)), ("greater_than_eq", (-1.0,)), ("less_than", (2.0,)), ("interval", (-1.0, 3.0)),
    ("half_open_interval", (0.0, 2.0)),
]


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("name, args", CONSTRAINTS, ids=[c[0] for c in CONSTRAINTS])
def test_biject_to_and_transform_to(registry, name, args):
    my_constraint, their_constraint = getattr(constraints, name), getattr(TD.constraints, name)
    if args:
        my_constraint, their_constraint = my_constraint(*args), their_constraint(*args)
    try:
        theirs = getattr(TD, registry)(their_constraint)
    except NotImplementedError as error:
        with pytest.raises(NotImplementedError) as raised:
            getattr(D, registry)(my_constraint)
        assert str(raised.value) == str(error)
        return
    mine = getattr(D, registry)(my_constraint)
    assert repr(mine) == repr(theirs)
    x = {"lower_cholesky": [[0.3, 1.0], [-1.2, 2.0]], "positive_definite": [[0.3, 1.0], [-1.2, 2.0]],
         "corr_cholesky": [0.3, -1.2, 2.0]}.get(name, [0.3, -1.2, 2.0])
    my_x, their_x = pair(x, "float64")
    my_y, their_y = mine(my_x), theirs(their_x)
    close(my_y, their_y, "float64")
    assert bool(my_constraint.check(my_y).all())
    try:
        expected = theirs.log_abs_det_jacobian(their_x, their_y)
    except NotImplementedError:
        with pytest.raises(NotImplementedError):
            mine.log_abs_det_jacobian(my_x, my_y)
    else:
        close(mine.log_abs_det_jacobian(my_x, my_y), expected, "float64")


def test_constraint_registry_errors():
    with pytest.raises(NotImplementedError, match="Cannot transform _Boolean constraints"):
        D.biject_to(constraints.boolean)
    with pytest.raises(TypeError, match="Expected constraint to be either a Constraint subclass or instance"):
        D.biject_to.register(int, lambda c: None)


def test_cat_and_stack_constraints():
    value = cgrad.tensor([[0.5, -1.0, 2.0], [0.3, 0.2, -0.1]])
    mine = constraints.cat([constraints.positive, constraints.real], 1, [1, 2])
    theirs = TD.constraints.cat([TD.constraints.positive, TD.constraints.real], 1, [1, 2])
    np.testing.assert_array_equal(mine.check(value).numpy(), theirs.check(torch.tensor(value.numpy())).numpy())
    mine = constraints.stack([constraints.positive, constraints.real], 0)
    theirs = TD.constraints.stack([TD.constraints.positive, TD.constraints.real], 0)
    np.testing.assert_array_equal(mine.check(value).numpy(), theirs.check(torch.tensor(value.numpy())).numpy())
    assert mine.event_dim == theirs.event_dim and mine.is_discrete == theirs.is_discrete


def _compare_methods(mine, theirs, my_leaves, their_leaves, dtype, calls, scale=1.0):
    for method, my_arg, their_arg in calls:
        got, expected = _call(mine, method, my_arg), _call(theirs, method, their_arg)
        if isinstance(expected, NotImplementedError):
            assert isinstance(got, NotImplementedError), method
            continue
        close(got, expected, dtype, scale=scale)
        grads_close(got, expected, my_leaves, their_leaves, dtype)


def _event_case(name, dtype):
    """A cgrad and a torch distribution with an event shape, their leaves and a value."""
    if name == "LogisticNormal":
        params = {"loc": [[0.3, -1.0], [0.2, 0.5]], "scale": [1.5, 0.7]}
        value = [0.2, 0.5, 0.3]
    elif name == "Multinomial":
        params = {"total_count": 5, "logits": [[0.2, 0.3, -0.5], [0.6, 0.1, 0.3]]}
        value = [1.0, 3.0, 1.0]
    mine, theirs, my_params, their_params = build(name, params, dtype)
    return mine, theirs, leaves(my_params), leaves(their_params), pair(value, dtype, requires_grad=False)


EVENT_DISTRIBUTIONS = ["LogisticNormal", "Multinomial"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", EVENT_DISTRIBUTIONS)
def test_event_distributions(name, dtype):
    mine, theirs, my_leaves, their_leaves, (my_value, their_value) = _event_case(name, dtype)
    assert mine.batch_shape == theirs.batch_shape and mine.event_shape == theirs.event_shape
    assert mine.has_rsample == theirs.has_rsample
    calls = [("log_prob", my_value, their_value), ("entropy", None, None)]
    calls += [(p, None, None) for p in PROPERTIES]
    _compare_methods(mine, theirs, my_leaves, their_leaves, dtype, calls, scale=10)
    cgrad.manual_seed(1)
    sample = mine.sample((4,))
    assert tuple(sample.shape) == (4,) + tuple(theirs.batch_shape + theirs.event_shape)
    assert sample.dtype == getattr(cgrad, dtype) and not sample.requires_grad
    assert bool(mine.support.check(sample).all())
    if mine.has_rsample:
        assert mine.rsample((2,)).requires_grad
    expanded, their_expanded = mine.expand((5, 2)), theirs.expand((5, 2))
    assert type(expanded) is type(mine) and expanded.batch_shape == their_expanded.batch_shape
    close(expanded.log_prob(my_value), their_expanded.log_prob(their_value), dtype, scale=10)


def test_transformed_distribution():
    my_loc, their_loc = pair([0.3, -1.0], "float64")
    mine = D.TransformedDistribution(D.Normal(my_loc, 1.0), [T.ExpTransform(), T.AffineTransform(1.0, 2.0)])
    theirs = TD.TransformedDistribution(TD.Normal(their_loc, 1.0), [TT.ExpTransform(), TT.AffineTransform(1.0, 2.0)])
    my_value, their_value = pair([2.0, 4.5], "float64", requires_grad=False)
    calls = [("log_prob", my_value, their_value), ("cdf", my_value, their_value)]
    calls.append(("icdf",) + pair([0.3, 0.8], "float64", requires_grad=False))
    _compare_methods(mine, theirs, [my_loc], [their_loc], "float64", calls)
    assert repr(mine.support) == repr(theirs.support)
    assert mine.has_rsample and tuple(mine.rsample((3,)).shape) == (3, 2)
    expanded = mine.expand((4, 2))
    assert expanded.batch_shape == (4, 2) and type(expanded) is D.TransformedDistribution
    # the mean is not known in closed form: both raise
    with pytest.raises(NotImplementedError):
        mine.mean
    # a transform that adds an event dim makes the batch dim an event dim
    stick = D.TransformedDistribution(D.Normal(my_loc, 1.0), T.StickBreakingTransform())
    their_stick = TD.TransformedDistribution(TD.Normal(their_loc, 1.0), TT.StickBreakingTransform())
    assert stick.event_shape == their_stick.event_shape == (3,)
    value = [0.2, 0.5, 0.3]
    close(stick.log_prob(cgrad.tensor(value, dtype=cgrad.float64)),
          their_stick.log_prob(torch.tensor(value, dtype=torch.float64)), "float64")


def _ks_statistic(a, b):
    """The two-sample Kolmogorov-Smirnov statistic of each column of a and b."""
    stats = []
    for column_a, column_b in zip(a.T, b.T):
        points = np.concatenate([column_a, column_b])
        cdf_a = np.searchsorted(np.sort(column_a), points, side="right") / len(column_a)
        cdf_b = np.searchsorted(np.sort(column_b), points, side="right") / len(column_b)
        stats.append(np.abs(cdf_a - cdf_b).max())
    return np.array(stats)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, params, value, methods", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_samples_follow_torchs_distribution(name, params, value, methods, dtype):
    mine, theirs, _, _ = build(name, params, dtype, requires_grad=False)
    cgrad.manual_seed(11)
    torch.manual_seed(11)
    n = 8000
    samples = mine.sample((n,))
    assert samples.dtype == getattr(cgrad, dtype) and not samples.requires_grad
    assert tuple(samples.shape) == (n,) + tuple(theirs.batch_shape)
    assert bool(mine.support.check(samples).all())
    their_samples = theirs.sample((n,))
    # the statistic of two samples of one distribution exceeds 3.4 / sqrt(n) with probability below 1e-5
    assert _ks_statistic(samples.reshape(n, -1).numpy().astype(np.float64),
                         their_samples.reshape(n, -1).numpy().astype(np.float64)).max() < 3.4 / math.sqrt(n)
    cgrad.manual_seed(5)
    first = mine.sample((3,))
    cgrad.manual_seed(5)
    np.testing.assert_array_equal(first.numpy(), mine.sample((3,)).numpy())


# reparameterized by an increasing or decreasing map of base noise: dx/dtheta = -(dF/dtheta)(x) / p(x)
IMPLICIT = ["LogNormal", "Gumbel", "HalfNormal", "HalfCauchy", "Cauchy", "Pareto", "Weibull"]


@pytest.mark.parametrize("name", IMPLICIT)
def test_rsample_gradient_is_the_implicit_one(name):
    params = next(c[1] for c in CASES if c[0] == name)
    mine, theirs, my_params, their_params = build(name, params, "float64")
    cgrad.manual_seed(3)
    x = mine.rsample((50,))
    assert x.requires_grad
    my_leaves, their_leaves = leaves(my_params), leaves(their_params)
    my_grads = cgrad.autograd.grad(x.sum(), my_leaves)
    their_x = torch.tensor(x.detach().numpy())
    density = theirs.log_prob(their_x).exp().detach()
    their_grads = torch.autograd.grad(-(theirs.cdf(their_x) / density).sum(), their_leaves)
    for g, h in zip(my_grads, their_grads):
        np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=1e-6, atol=1e-8)


def test_kumaraswamy_and_gamma_based_rsample_gradients():
    # Kumaraswamy: F(x) = 1 - (1 - x^a)^b
    a = cgrad.tensor([0.5, 2.5], dtype=cgrad.float64, requires_grad=True)
    b = cgrad.tensor([1.5, 0.7], dtype=cgrad.float64, requires_grad=True)
    cgrad.manual_seed(4)
    x = D.Kumaraswamy(a, b).rsample((40,))
    grad_a, grad_b = cgrad.autograd.grad(x.sum(), [a, b])
    ta, tb = torch.tensor(a.detach().numpy(), requires_grad=True), torch.tensor(b.detach().numpy(),
                                                                                requires_grad=True)
    tx = torch.tensor(x.detach().numpy())
    cdf = 1 - (1 - tx ** ta) ** tb
    density = TD.Kumaraswamy(ta, tb).log_prob(tx).exp().detach()
    expected_a, expected_b = torch.autograd.grad(-(cdf / density).sum(), [ta, tb])
    np.testing.assert_allclose(grad_a.numpy(), expected_a.numpy(), rtol=1e-6)
    np.testing.assert_allclose(grad_b.numpy(), expected_b.numpy(), rtol=1e-6)
    # Chi2 and InverseGamma reuse Gamma's implicit gradient: d/d rate of 1 / Gamma(a, rate) = x / rate
    rate = cgrad.tensor([0.7, 2.0], dtype=cgrad.float64, requires_grad=True)
    x = D.InverseGamma(cgrad.tensor([2.5, 3.0], dtype=cgrad.float64), rate).rsample((30,))
    (grad_rate,) = cgrad.autograd.grad(x.sum(), [rate])
    np.testing.assert_allclose(grad_rate.numpy(), (x.detach() / rate.detach()).sum(0).numpy(), rtol=1e-10)


@pytest.mark.filterwarnings("ignore:Singular sample detected")
def test_event_distribution_sample_means():
    n = 6000
    for name in EVENT_DISTRIBUTIONS:
        mine, theirs, _, _, _ = _event_case(name, "float64")
        cgrad.manual_seed(8)
        torch.manual_seed(8)
        samples = mine.sample((n,)).numpy()
        their_samples = theirs.sample((n,)).numpy()
        std = np.sqrt(their_samples.var(0) + samples.var(0)) + 1e-12
        assert (np.abs(samples.mean(0) - their_samples.mean(0)) < 6 * std / math.sqrt(n)).all(), name
        np.testing.assert_allclose(samples.std(0), their_samples.std(0), rtol=0.15, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("name, params, value, methods", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_expand_and_scalar_parameters(name, params, value, methods):
    dtype = "float64"
    mine, theirs, _, _ = build(name, params, dtype)
    mine, theirs = mine.expand((4, 2, 3)), theirs.expand((4, 2, 3))
    assert type(mine) is getattr(D, name)
    assert mine.batch_shape == theirs.batch_shape == (4, 2, 3)
    assert mine._validate_args == theirs._validate_args
    my_value, their_value = pair(value, dtype, requires_grad=False)
    close(mine.log_prob(my_value), theirs.log_prob(their_value), dtype)
    assert tuple(mine.sample((2,)).shape) == (2, 4, 2, 3)
    numbers = {k: (v if isinstance(v, (int, float)) else float(np.asarray(v).flatten()[-1])) for k, v in params.items()}
    try:
        theirs = getattr(TD, name)(**numbers)
    except (TypeError, AttributeError) as error:
        numbers = {k: cgrad.tensor(v) if isinstance(v, torch.Tensor) else v for k, v in numbers.items()}
        with pytest.raises(type(error)):
            getattr(D, name)(**numbers)
        return
    numbers = {k: cgrad.tensor(v.item()) if isinstance(v, torch.Tensor) else v for k, v in numbers.items()}
    mine = getattr(D, name)(**numbers)
    assert mine.batch_shape == theirs.batch_shape
    close(mine.log_prob(cgrad.tensor(value[-1])), theirs.log_prob(torch.tensor(value[-1])), "float32")


# name, parameters that break a constraint
INVALID = [
    ("LogNormal", {"loc": [0.0], "scale": [-1.0]}), ("Gumbel", {"loc": [0.0], "scale": [0.0]}),
    ("HalfNormal", {"scale": [-1.0]}), ("HalfCauchy", {"scale": [-1.0]}), ("Cauchy", {"loc": [0.0], "scale": [0.0]}),
    ("StudentT", {"df": [-1.0]}), ("Chi2", {"df": [0.0]}), ("Pareto", {"scale": [1.0], "alpha": [-1.0]}),
    ("Weibull", {"scale": [1.0], "concentration": [-1.0]}),
    ("Kumaraswamy", {"concentration1": [1.0], "concentration0": [-1.0]}),
    ("InverseGamma", {"concentration": [1.0], "rate": [-1.0]}), ("FisherSnedecor", {"df1": [1.0], "df2": [-1.0]}),
    ("Geometric", {"probs": [0.0]}), ("Poisson", {"rate": [-1.0]}), ("Binomial", {"total_count": 3, "probs": [1.5]}),
    ("NegativeBinomial", {"total_count": [-1.0], "probs": [0.5]}),
    ("Multinomial", {"total_count": 3, "probs": [-0.5, 1.5]}),
    ("LogisticNormal", {"loc": [0.0, 1.0], "scale": [1.0, -1.0]}),
]


@pytest.mark.parametrize("name, params", INVALID, ids=[c[0] for c in INVALID])
def test_validation_errors_as_torch(name, params):
    def make(module, tensor):
        return getattr(module, name)(**{k: v if isinstance(v, (int, float)) else tensor(v) for k, v in params.items()},
                                     validate_args=True)

    with pytest.raises(Exception) as theirs:
        make(TD, torch.tensor)
    with pytest.raises(type(theirs.value)) as mine:
        make(D, cgrad.tensor)
    assert str(mine.value) == str(theirs.value).replace("torch.", "cgrad.")


def test_sample_validation_and_other_errors_as_torch():
    cases = [
        (lambda m, t: m.LogNormal(t([0.0]), t([1.0]), validate_args=True).log_prob(t([-1.0]))),
        (lambda m, t: m.Poisson(t([1.0]), validate_args=True).log_prob(t([0.5]))),
        (lambda m, t: m.Binomial(3, t([0.5]), validate_args=True).log_prob(t([4.0]))),
        (lambda m, t: m.Binomial(3, t([0.5]), t([0.1]))),
        (lambda m, t: m.Multinomial(3, t([0.5, 0.5]), validate_args=True).log_prob(t([1.0, 3.0]))),
        (lambda m, t: m.Geometric(t([0.5]), validate_args=True).log_prob(t([-1.0]))),
        (lambda m, t: m.TransformedDistribution(m.Normal(t(0.0), t(1.0)), [1.0])),
    ]
    for case in cases:
        with pytest.raises(Exception) as theirs:
            case(TD, torch.tensor)
        with pytest.raises(type(theirs.value)) as mine:
            case(D, cgrad.tensor)
        assert str(mine.value) == str(theirs.value).replace("torch.", "cgrad."), str(theirs.value)


KL_PAIRS = [
    ("Binomial", {"total_count": 5, "probs": [0.2, 0.7]}, "Binomial", {"total_count": 5, "probs": [0.4, 0.5]}),
    ("Gumbel", {"loc": [0.2, 0.7], "scale": [1.0, 2.0]}, "Gumbel", {"loc": [0.4, -0.5], "scale": [0.5, 3.0]}),
    ("Geometric", {"probs": [0.2, 0.7]}, "Geometric", {"probs": [0.4, 0.5]}),
    ("HalfNormal", {"scale": [0.2, 0.7]}, "HalfNormal", {"scale": [0.4, 0.5]}),
    ("Pareto", {"scale": [0.2, 0.7], "alpha": [2.5, 3.0]}, "Pareto", {"scale": [0.1, 0.5], "alpha": [2.0, 4.0]}),
    ("Poisson", {"rate": [0.2, 0.7]}, "Poisson", {"rate": [0.4, 0.5]}),
    ("Cauchy", {"loc": [0.2, 0.7], "scale": [1.0, 2.0]}, "Cauchy", {"loc": [0.4, -0.5], "scale": [0.5, 3.0]}),
    ("LogNormal", {"loc": [0.2, 0.7], "scale": [1.0, 2.0]}, "LogNormal", {"loc": [0.4, -0.5], "scale": [0.5, 3.0]}),
    ("Bernoulli", {"probs": [0.2, 0.7]}, "Poisson", {"rate": [0.4, 0.5]}),
    ("Exponential", {"rate": [0.2, 0.7]}, "Gumbel", {"loc": [0.4, 0.5], "scale": [1.0, 2.0]}),
    ("Gamma", {"concentration": [0.2, 0.7], "rate": [1.0, 2.0]}, "Gumbel", {"loc": [0.4, 0.5], "scale": [1.0, 2.0]}),
    ("Gumbel", {"loc": [0.2, 0.7], "scale": [1.0, 2.0]}, "Normal", {"loc": [0.4, 0.5], "scale": [1.0, 2.0]}),
    ("Normal", {"loc": [0.2, 0.7], "scale": [1.0, 2.0]}, "Gumbel", {"loc": [0.4, 0.5], "scale": [1.0, 2.0]}),
    ("Pareto", {"scale": [0.2, 0.7], "alpha": [2.5, 0.5]}, "Exponential", {"rate": [0.4, 0.5]}),
    ("Pareto", {"scale": [0.2, 0.7], "alpha": [2.5, 0.5]}, "Gamma", {"concentration": [0.4, 0.5], "rate": [1.0, 2.0]}),
    ("Pareto", {"scale": [0.2, 0.7], "alpha": [2.5, 3.5]}, "Normal", {"loc": [0.4, 0.5], "scale": [1.0, 2.0]}),
    ("Uniform", {"low": [0.2, 0.7], "high": [1.0, 2.0]}, "Gumbel", {"loc": [0.4, 0.5], "scale": [1.0, 2.0]}),
    ("Uniform", {"low": [0.2, 0.7], "high": [1.0, 2.0]}, "Pareto", {"scale": [0.4, 0.8], "alpha": [1.0, 2.0]}),
    ("Poisson", {"rate": [0.2, 0.7]}, "Binomial", {"total_count": 5, "probs": [0.4, 0.5]}),
    ("Normal", {"loc": [0.2, 0.7], "scale": [1.0, 2.0]}, "Pareto", {"scale": [0.4, 0.8], "alpha": [1.0, 2.0]}),
]


@pytest.mark.parametrize("p_name, p_params, q_name, q_params", KL_PAIRS,
                         ids=[f"{k[0]}-{k[2]}-{i}" for i, k in enumerate(KL_PAIRS)])
def test_kl_divergence(p_name, p_params, q_name, q_params):
    p, their_p, p_mine, p_theirs = build(p_name, p_params, "float64")
    q, their_q, q_mine, q_theirs = build(q_name, q_params, "float64")
    got, expected = D.kl_divergence(p, q), TD.kl_divergence(their_p, their_q)
    close(got, expected, "float64")
    grads_close(got, expected, leaves(p_mine) + leaves(q_mine), leaves(p_theirs) + leaves(q_theirs), "float64")


def test_kl_errors_as_torch():
    for module, tensor in ((D, cgrad.tensor), (TD, torch.tensor)):
        with pytest.raises(NotImplementedError, match="q.total_count > p.total_count"):
            module.kl_divergence(module.Binomial(3, tensor([0.5])), module.Binomial(5, tensor([0.5])))
        with pytest.raises(NotImplementedError):
            module.kl_divergence(module.LogNormal(tensor([0.0]), tensor([1.0])),
                                 module.TransformedDistribution(module.Normal(tensor([0.0]), tensor([1.0])),
                                                                module.transforms.TanhTransform()))
    close(D.kl_divergence(D.Binomial(5, cgrad.tensor([0.5])), D.Binomial(3, cgrad.tensor([0.5]))),
          TD.kl_divergence(TD.Binomial(5, torch.tensor([0.5])), TD.Binomial(3, torch.tensor([0.5]))), "float32")


def test_reprs_as_torch():
    pairs = [
        (D.LogNormal(cgrad.tensor([0.0]), cgrad.tensor([1.0])), TD.LogNormal(torch.tensor([0.0]), torch.tensor([1.0]))),
        (D.Poisson(cgrad.tensor(2.0)), TD.Poisson(torch.tensor(2.0))),
        (D.Binomial(3, cgrad.tensor([0.5, 0.2])), TD.Binomial(3, torch.tensor([0.5, 0.2]))),
        (D.StudentT(cgrad.tensor(3.0)), TD.StudentT(torch.tensor(3.0))),
    ]
    for mine, theirs in pairs:
        assert repr(mine) == repr(theirs).replace("torch.", "cgrad.")


def test_enumerate_support_as_torch():
    results = {}
    for module, tensor in ((D, cgrad.tensor), (TD, torch.tensor)):
        binomial = module.Binomial(3, tensor([0.5, 0.2]))
        results[module] = [binomial.enumerate_support(), binomial.enumerate_support(expand=False)]
        assert module.Binomial(3, tensor(0.5)).has_enumerate_support
        with pytest.raises(NotImplementedError, match="Inhomogeneous total count not supported"):
            module.Binomial(tensor([3.0, 4.0]), tensor([0.5, 0.2])).enumerate_support()
        with pytest.raises(NotImplementedError):
            module.Poisson(tensor([1.0])).enumerate_support()
    for mine, theirs in zip(results[D], results[TD]):
        close(mine, theirs, "float32")



def test_cat_and_stack_errors_as_torch():
    def cases(m, t):
        e = m.transforms.ExpTransform()
        return [
            lambda: m.transforms.CatTransform([e, e], 0, [1, 2])(t([1.0, 2.0])),
            lambda: m.transforms.CatTransform([e, e], 3, [1, 2])(t([1.0, 2.0])),
            lambda: m.transforms.CatTransform([e, e], 0, [1, 2]).inv(t([1.0, 2.0])),
            lambda: m.transforms.StackTransform([e, e], 0)(t([1.0, 2.0, 3.0])),
            lambda: m.transforms.StackTransform([e, e], 2)(t([1.0, 2.0])),
            lambda: m.transforms.CatTransform([e, 1]),
            lambda: m.transforms.CatTransform([e, e], 0, [1]),
            lambda: m.constraints.cat([m.constraints.real, 1]),
            lambda: m.constraints.cat([m.constraints.real], 0, [1, 2]),
            lambda: m.constraints.stack([m.constraints.real], 3).check(t([1.0])),
        ]
    for mine, theirs in zip(cases(D, cgrad.tensor), cases(TD, torch.tensor)):
        with pytest.raises(AssertionError) as their_error:
            theirs()
        with pytest.raises(AssertionError) as my_error:
            mine()
        assert str(my_error.value) == str(their_error.value)
