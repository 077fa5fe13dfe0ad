"""Reductions: values, gradients, dtypes, ties, indices, empty tensors and errors,
against torch, numpy and finite differences."""
import math
import warnings

import numpy as np
import pytest

import cgrad
from helpers import assert_same_error, check_op, torch_or_skip

DTYPES = ["float64", "float32"]


# ---------------------------------------------------------------- values and gradients

SHAPE_CASES = [
    ((2, 3, 4), {}),
    ((2, 3, 4), {"dim": 0}),
    ((2, 3, 4), {"dim": 1}),
    ((2, 3, 4), {"dim": -1}),
    ((2, 3, 4), {"dim": (0, 2)}),
    ((2, 3, 4), {"dim": (-1, -3)}),
    ((2, 3, 4), {"dim": (0, 1, 2)}),
    ((2, 3, 4), {"dim": 1, "keepdim": True}),
    ((2, 3, 4), {"dim": (0, 2), "keepdim": True}),
    ((2, 3, 4), {"dim": -2, "keepdim": False}),
    ((5,), {"dim": 0}),
    ((5,), {"dim": -1, "keepdim": True}),
    ((7,), {}),
    ((1,), {}),
    ((1, 1), {"dim": 1}),
    ((3, 1), {"dim": 0}),
    ((), {}),
    ((), {"dim": 0}),
    ((), {"dim": -1, "keepdim": True}),
]
INT_DIM_CASES = [(s, k) for s, k in SHAPE_CASES if not isinstance(k.get("dim"), tuple)]
CASE_IDS = [f"{s}-{k}" for s, k in SHAPE_CASES]
INT_DIM_IDS = [f"{s}-{k}" for s, k in INT_DIM_CASES]


def np_reduce(fn, kwargs, **extra):
    """numpy's fn with the reduction's dim and keepdim (a 0-d array has no axis to name)."""
    return lambda a: fn(a, axis=kwargs.get("dim") if a.ndim else None, keepdims=kwargs.get("keepdim", False),
                        **extra)


def logsumexp_np(kwargs):
    def fn(a):
        axis = kwargs.get("dim") if a.ndim else None
        m = np.max(a, axis=axis, keepdims=True)
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
        return out if kwargs.get("keepdim", False) else np.squeeze(out, axis=axis)
    return fn


def norm_np(p, kwargs):
    def fn(a):
        axis = kwargs.get("dim") if a.ndim else None
        keep = kwargs.get("keepdim", False)
        if p == 0:
            return np.sum(a != 0, axis=axis, keepdims=keep)
        if np.isinf(p):
            return (np.max if p > 0 else np.min)(np.abs(a), axis=axis, keepdims=keep)
        return np.sum(np.abs(a) ** p, axis=axis, keepdims=keep) ** (1 / p)
    return fn


# name -> (call, numpy reference or None, domain)
OPS = {
    "sum": (lambda x, kw: x.sum(**kw), lambda kw: np_reduce(np.sum, kw), None),
    "mean": (lambda x, kw: x.mean(**kw), lambda kw: np_reduce(np.mean, kw), None),
    "amax": (lambda x, kw: x.amax(**kw) if "dim" in kw else x.amax(), lambda kw: np_reduce(np.max, kw), None),
    "amin": (lambda x, kw: x.amin(**kw) if "dim" in kw else x.amin(), lambda kw: np_reduce(np.min, kw), None),
    "logsumexp": (lambda x, kw: x.logsumexp(kw.get("dim", tuple(range(x.ndim)) or 0), kw.get("keepdim", False)),
                  logsumexp_np, None),
    "norm": (lambda x, kw: x.norm(2, **kw), lambda kw: norm_np(2, kw), None),
    "norm(p=1)": (lambda x, kw: x.norm(1, **kw), lambda kw: norm_np(1, kw), "nonzero"),
    "norm(p=3)": (lambda x, kw: x.norm(3, **kw), lambda kw: norm_np(3, kw), None),
    "norm(p=1.5)": (lambda x, kw: x.norm(1.5, **kw), lambda kw: norm_np(1.5, kw), "nonzero"),
    "norm(p=0.5)": (lambda x, kw: x.norm(0.5, **kw), lambda kw: norm_np(0.5, kw), "nonzero"),
    "norm(p=-1)": (lambda x, kw: x.norm(-1, **kw), lambda kw: norm_np(-1, kw), "nonzero"),
    "norm(p=inf)": (lambda x, kw: x.norm(float("inf"), **kw), lambda kw: norm_np(np.inf, kw), None),
    "norm(p=-inf)": (lambda x, kw: x.norm(-float("inf"), **kw), lambda kw: norm_np(-np.inf, kw), None),
}


def call(name, kwargs):
    return lambda m, x: OPS[name][0](x, kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kwargs", SHAPE_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("name", list(OPS))
def test_reduction(name, shape, kwargs, dtype):
    _, np_fn, domain = OPS[name]
    check_op(call(name, kwargs), shape, np_fn=np_fn(kwargs), dtype=dtype, domain=domain)


@pytest.mark.parametrize("kwargs", [{}, {"dim": 0}, {"dim": -1, "keepdim": True}, {"dim": (0, 1)}], ids=str)
@pytest.mark.parametrize("name", list(OPS))
def test_reduction_noncontiguous(name, kwargs):
    check_op(call(name, kwargs), (3, 4), np_fn=OPS[name][1](kwargs), noncontig=True, domain=OPS[name][2])


@pytest.mark.parametrize("form", ["sum", "sum dim 0", "sum dim 1", "prod", "prod dim 0"])
def test_int64_sum_and_prod_wrap_on_overflow_as_torch(form):
    torch = pytest.importorskip("torch")
    data = [[2**62, 2**62, -(2**63)], [2**62, 3, 2**61], [-(2**62), 2**62, 5]]
    name, *dim = form.split(" dim ")
    kwargs = {"dim": int(dim[0])} if dim else {}
    got = getattr(cgrad.tensor(data), name)(**kwargs)
    want = getattr(torch.tensor(data), name)(**kwargs)
    assert got.tolist() == want.tolist()


@pytest.mark.parametrize("n", [7, 64, 65, 1000, 100_003])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sum_of_a_strided_view_adds_in_the_same_order(n, dtype):
    """A contiguous sum runs in vectors; a strided one adds the same pairs in
    the same order, so both give the same bits."""
    x = np.random.default_rng(n).standard_normal(2 * n).astype(dtype) * 1e3
    strided = cgrad.from_numpy(x)[::2]
    contiguous = cgrad.from_numpy(np.ascontiguousarray(x[::2]))
    assert not strided.is_contiguous()
    assert strided.sum().item() == contiguous.sum().item()
    assert abs(contiguous.sum().item() - math.fsum(x[::2].tolist())) <= 1e-5 * np.abs(x).sum()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kwargs", INT_DIM_CASES, ids=INT_DIM_IDS)
def test_prod(shape, kwargs, dtype):
    check_op(lambda m, x: x.prod(**kwargs), shape, np_fn=np_reduce(np.prod, kwargs), dtype=dtype)


VAR_CASES = [
    ((2, 3, 4), {}),
    ((2, 3, 4), {"dim": 1}),
    ((2, 3, 4), {"dim": (0, 2)}),
    ((2, 3, 4), {"dim": -1, "keepdim": True}),
    ((2, 3, 4), {"dim": (0, 1, 2), "correction": 0}),
    ((2, 3, 4), {"dim": 2, "correction": 2}),
    ((2, 3, 4), {"dim": 0, "correction": 0.5}),
    ((2, 3, 4), {"unbiased": False}),
    ((2, 3, 4), {"dim": 1, "unbiased": True, "keepdim": True}),
    ((5,), {"dim": 0}),
    ((1,), {"correction": 0}),
    ((), {"correction": 0}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kwargs", VAR_CASES, ids=[f"{s}-{k}" for s, k in VAR_CASES])
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std(name, shape, kwargs, dtype):
    kw = dict(kwargs)
    ddof = kw.pop("correction", 1 if kw.pop("unbiased", True) else 0)
    np_fn = np_reduce(np.var if name == "var" else np.std, {"dim": kw.get("dim"), **kw}, ddof=ddof)
    check_op(lambda m, x: getattr(x, name)(**kwargs), shape, np_fn=np_fn, dtype=dtype)


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_noncontiguous(name):
    check_op(lambda m, x: getattr(x, name)(0), (3, 4), noncontig=True)


@pytest.mark.parametrize("form", [
    lambda m, x: x.var(0, False),
    lambda m, x: x.var(False),
    lambda m, x: x.std(1, True, True),
    lambda m, x: m.var(x, 1, keepdim=True, correction=2),
    lambda m, x: m.std(x, (0, 1)),
    lambda m, x: m.std(x, dim=None, correction=0),
], ids=["x.var(0, False)", "x.var(False)", "x.std(1, True, True)", "cgrad.var(x, 1, keepdim, correction=2)",
        "cgrad.std(x, (0, 1))", "cgrad.std(x, correction=0)"])
def test_var_std_forms(form):
    check_op(form, (3, 4))


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("shape, kwargs", [((1,), {}), ((), {}), ((3,), {"correction": 3}), ((3,), {"correction": 5}),
                                           ((2, 1), {"dim": 1}), ((0, 2), {}), ((0, 2), {"dim": 0})], ids=str)
def test_var_std_without_degrees_of_freedom(name, shape, kwargs):
    """NaN or inf values and gradients, as PyTorch gives them (with its warning)."""
    torch = torch_or_skip()
    data = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    results = []
    for lib in (cgrad, torch):
        x = lib.tensor(data, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = getattr(x, name)(**kwargs)
        if lib is cgrad:
            assert any("degrees of freedom is <= 0" in str(w.message) for w in caught)
        y.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1])


@pytest.mark.parametrize("form", [
    lambda m, x: x.prod(1),
    lambda m, x: x.prod(-1, True),
    lambda m, x: m.prod(x),
    lambda m, x: m.prod(x, dim=0, keepdim=True),
    lambda m, x: x.amax((0, 1)),
    lambda m, x: m.amax(x, 1),
    lambda m, x: m.amin(x, dim=-1, keepdim=True),
    lambda m, x: m.logsumexp(x, 1),
    lambda m, x: m.logsumexp(x, dim=(0, 1), keepdim=True),
    lambda m, x: m.norm(x),
    lambda m, x: m.norm(x, 3, 1, True),
    lambda m, x: m.norm(x, p="fro", dim=(0, 1)),
    lambda m, x: x.norm(dim=1),
    lambda m, x: x.norm(p=2.5, dim=(0, 1)),
    lambda m, x: m.max(x),
    lambda m, x: m.min(x),
    lambda m, x: x.max(1).values,
    lambda m, x: m.max(x, 1).values,
    lambda m, x: m.max(x, dim=0, keepdim=True)[0],
    lambda m, x: m.min(x, 1, True).values,
], ids=["x.prod(1)", "x.prod(-1, True)", "cgrad.prod(x)", "cgrad.prod(x, dim=0, keepdim=True)",
        "x.amax((0, 1))", "cgrad.amax(x, 1)", "cgrad.amin(x, dim=-1, keepdim=True)", "cgrad.logsumexp(x, 1)",
        "cgrad.logsumexp(x, (0, 1), keepdim)", "cgrad.norm(x)", "cgrad.norm(x, 3, 1, True)",
        "cgrad.norm(x, 'fro', (0, 1))", "x.norm(dim=1)", "x.norm(2.5, (0, 1))", "cgrad.max(x)", "cgrad.min(x)",
        "x.max(1).values", "cgrad.max(x, 1).values", "cgrad.max(x, dim=0, keepdim=True)[0]",
        "cgrad.min(x, 1, True).values"])
def test_forms(form):
    check_op(form, (3, 4))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dim, keepdim", [((2, 3, 4), 0, False), ((2, 3, 4), 1, True), ((2, 3, 4), -1, False),
                                                 ((5,), 0, True), ((), 0, False), ((), -1, True), ((1, 3), 0, False)],
                         ids=str)
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_along_dim_values_and_gradient(name, shape, dim, keepdim, dtype):
    np_fn = np.max if name == "max" else np.min
    check_op(lambda m, x: getattr(x, name)(dim, keepdim).values, shape, dtype=dtype,
             np_fn=lambda a: np_fn(a, axis=dim if a.ndim else None, keepdims=keepdim and a.ndim > 0))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_along_dim_noncontiguous(name):
    check_op(lambda m, x: getattr(x, name)(0).values, (3, 4), noncontig=True)


# ---------------------------------------------------------------- prod with zeros

PROD_ZERO_CASES = {
    "one zero": [[1.5, 0.0, 2.0], [3.0, -1.0, 0.5]],
    "two zeros in a row": [[0.0, 0.0, 2.0], [3.0, -1.0, 0.5]],
    "three zeros": [[0.0, 0.0, 0.0], [3.0, -1.0, 0.5]],
    "zeros in both rows": [[0.0, 1.2, 2.0], [3.0, 0.0, 0.0]],
}


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("case", PROD_ZERO_CASES)
def test_prod_gradient_with_zeros(case, dim):
    kwargs = {} if dim is None else {"dim": dim}
    check_op(lambda m, x: x.prod(**kwargs), np.array(PROD_ZERO_CASES[case]),
             np_fn=lambda a: np.prod(a, axis=dim))


def test_prod_gradient_with_zeros_float32_and_keepdim():
    check_op(lambda m, x: x.prod(1, keepdim=True), np.array(PROD_ZERO_CASES["one zero"]), dtype="float32")


# ---------------------------------------------------------------- ties

TIE_DATA = [[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, -1.0], [0.0, -2.0, -2.0, 0.0]]


def grads_of(lib, fn, data, dtype="float64"):
    x = lib.tensor(data, dtype=getattr(lib, dtype), requires_grad=True)
    y = fn(x)
    if isinstance(y, tuple):
        y = y[0]
    w = lib.tensor(np.arange(1.0, 1.0 + y.numel()).reshape(tuple(y.shape)), dtype=getattr(lib, dtype))
    (y * w).sum().backward()
    return y.detach().numpy(), x.grad.numpy()


TIE_FORMS = {
    "x.amax()": lambda x: x.amax(),
    "x.amax(1)": lambda x: x.amax(1),
    "x.amax(0, keepdim=True)": lambda x: x.amax(0, keepdim=True),
    "x.amax((0, 1))": lambda x: x.amax((0, 1)),
    "x.amin(1)": lambda x: x.amin(1),
    "x.amin()": lambda x: x.amin(),
    "x.max()": lambda x: x.max(),
    "x.min()": lambda x: x.min(),
    "x.max(1)": lambda x: x.max(1),
    "x.max(0)": lambda x: x.max(0),
    "x.min(1, keepdim=True)": lambda x: x.min(1, keepdim=True),
    "x.norm(inf)": lambda x: x.norm(float("inf")),
    "x.norm(inf, dim=1)": lambda x: x.norm(float("inf"), dim=1),
    "x.norm(-inf, dim=0)": lambda x: x.norm(-float("inf"), dim=0),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", TIE_FORMS)
def test_tie_gradients_match_torch(form, dtype):
    torch = torch_or_skip()
    value, grad = grads_of(cgrad, TIE_FORMS[form], TIE_DATA, dtype)
    t_value, t_grad = grads_of(torch, TIE_FORMS[form], TIE_DATA, dtype)
    np.testing.assert_allclose(value, t_value)
    np.testing.assert_allclose(grad, t_grad)


def test_amax_splits_gradient_evenly_among_ties():
    x = cgrad.tensor([1.0, 4.0, 4.0, 4.0, 2.0], requires_grad=True)
    x.amax().backward()
    assert x.grad.tolist() == pytest.approx([0, 1 / 3, 1 / 3, 1 / 3, 0])


def test_max_along_dim_sends_gradient_to_the_selected_index_only():
    x = cgrad.tensor([[1.0, 4.0, 4.0], [2.0, 2.0, 0.0]], requires_grad=True)
    values, indices = x.max(1)
    values.sum().backward()
    assert indices.tolist() == [1, 0]
    assert x.grad.tolist() == [[0, 1, 0], [1, 0, 0]]


# ---------------------------------------------------------------- values and indices vs torch

def index_data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 3, shape)  # small range: many ties
    return data.astype(bool) if dtype == "bool" else data.astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool"])
@pytest.mark.parametrize("shape, dim, keepdim", [((4, 5, 6), 0, False), ((4, 5, 6), 1, True), ((4, 5, 6), -1, False),
                                                 ((4, 5, 6), 2, True), ((7,), 0, False), ((), 0, True),
                                                 ((3, 0), 0, False), ((1, 1), 1, False)], ids=str)
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_values_and_indices_match_torch(name, shape, dim, keepdim, dtype):
    torch = torch_or_skip()
    data = index_data(shape, dtype)
    ours = getattr(cgrad.tensor(data), name)(dim, keepdim)
    theirs = getattr(torch.tensor(data), name)(dim, keepdim)
    assert ours.values.dtype.name == str(theirs.values.dtype).split(".")[-1]
    assert ours.indices.dtype == cgrad.int64
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_along_dim_of_a_transposed_view(name):
    torch = torch_or_skip()
    data = index_data((5, 6), "float64", seed=3)
    ours = getattr(cgrad.tensor(data).transpose(0, 1), name)(1)
    theirs = getattr(torch.tensor(data).transpose(0, 1), name)(1)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("kwargs", [{}, {"dim": 0}, {"dim": 1}, {"dim": -1, "keepdim": True}, {"keepdim": True},
                                    {"dim": 2}], ids=str)
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_match_torch(name, kwargs, dtype):
    torch = torch_or_skip()
    data = index_data((4, 5, 6), dtype, seed=1)
    ours = getattr(cgrad.tensor(data), name)(**kwargs)
    theirs = getattr(torch.tensor(data), name)(**kwargs)
    assert ours.dtype == cgrad.int64 and not ours.requires_grad
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("form", [lambda m, x: m.argmax(x), lambda m, x: m.argmin(x, 0),
                                  lambda m, x: m.argmax(x, dim=1, keepdim=True), lambda m, x: x.argmin(-1)],
                         ids=["cgrad.argmax(x)", "cgrad.argmin(x, 0)", "cgrad.argmax(x, dim=1, keepdim)",
                              "x.argmin(-1)"])
def test_argmax_forms(form):
    torch = torch_or_skip()
    data = index_data((3, 4), "float64", seed=2)
    x = cgrad.tensor(data, requires_grad=True)
    ours = form(cgrad, x)
    assert ours.grad_fn is None
    np.testing.assert_array_equal(ours.numpy(), form(torch, torch.tensor(data)).numpy())


NAN_DATA = [[1.0, math.nan, 3.0, math.nan], [2.0, 0.0, -1.0, 4.0]]


@pytest.mark.parametrize("form", [lambda x: x.max(1).indices, lambda x: x.min(1).values, lambda x: x.argmax(),
                                  lambda x: x.argmin(1), lambda x: x.amax(1), lambda x: x.max(), lambda x: x.amin(0),
                                  lambda x: x.norm(float("inf"), 1), lambda x: x.logsumexp(1)],
                         ids=["max(1).indices", "min(1).values", "argmax()", "argmin(1)", "amax(1)", "max()",
                              "amin(0)", "norm(inf, 1)", "logsumexp(1)"])
def test_nan_propagates_as_in_torch(form):
    torch = torch_or_skip()
    np.testing.assert_array_equal(form(cgrad.tensor(NAN_DATA)).numpy(), form(torch.tensor(NAN_DATA)).numpy())


def test_max_with_nan_gradient_goes_to_the_nans():
    torch = torch_or_skip()
    value, grad = grads_of(cgrad, lambda x: x.max(), NAN_DATA)
    t_value, t_grad = grads_of(torch, lambda x: x.max(), NAN_DATA)
    np.testing.assert_array_equal(grad, t_grad)


def test_max_returns_a_named_tuple():
    x = cgrad.tensor([[1.0, 5.0], [7.0, 2.0]])
    result = x.max(1)
    values, indices = result
    assert isinstance(result, tuple) and isinstance(result, cgrad.return_types.max)
    assert result.values is values and result.indices is indices and result[0] is values
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert repr(result).startswith("cgrad.return_types.max(\nvalues=tensor(")
    assert isinstance(x.min(0), cgrad.return_types.min)


def test_max_of_two_tensors_is_elementwise():
    a = cgrad.tensor([1.0, 5.0, -2.0])
    b = cgrad.tensor([3.0, 2.0, -1.0])
    if not hasattr(cgrad.Tensor, "maximum"):
        with pytest.raises(NotImplementedError, match="maximum"):
            a.max(b)
        with pytest.raises(NotImplementedError, match="minimum"):
            cgrad.min(a, b)
        return
    assert a.max(b).tolist() == [3.0, 5.0, -1.0]
    assert cgrad.max(a, b).tolist() == [3.0, 5.0, -1.0]
    assert cgrad.min(a, b).tolist() == [1.0, 2.0, -2.0]


# ---------------------------------------------------------------- logsumexp stability

@pytest.mark.parametrize("data", [[1000.0, 1000.0, 999.0], [-1000.0, -1001.0, -1000.5], [math.inf, 1.0, 2.0],
                                  [-math.inf, -math.inf, -math.inf], [-math.inf, 0.0, 1.0], [3.0]], ids=str)
def test_logsumexp_is_stable(data):
    torch = torch_or_skip()
    for dtype in ("float32", "float64"):
        ours = cgrad.tensor(data, dtype=getattr(cgrad, dtype)).logsumexp(0)
        theirs = torch.tensor(data, dtype=getattr(torch, dtype)).logsumexp(0)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_logsumexp_gradient_is_softmax():
    x = cgrad.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], requires_grad=True)
    x.logsumexp(1).sum().backward()
    e = np.exp([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(x.grad.numpy(), np.vstack([e / e.sum(), np.full((1, 3), 1 / 3)]))


def test_logsumexp_of_large_values_has_finite_gradient():
    check_op(lambda m, x: x.logsumexp(0), np.array([800.0, 801.0, 799.5]))


# ---------------------------------------------------------------- norm at zero

@pytest.mark.parametrize("p", [2, 1, 3, 1.5, 0.5, float("inf"), -1], ids=str)
@pytest.mark.parametrize("data", [[0.0, 0.0, 0.0], [0.0, 1.5, -2.0]], ids=["all zero", "some zero"])
def test_norm_gradient_at_zero_matches_torch(p, data):
    torch = torch_or_skip()
    value, grad = grads_of(cgrad, lambda x: x.norm(p), data)
    t_value, t_grad = grads_of(torch, lambda x: x.norm(p), data)
    np.testing.assert_allclose(value, t_value)
    np.testing.assert_allclose(grad, t_grad)


@pytest.mark.parametrize("shape, kwargs", SHAPE_CASES, ids=CASE_IDS)
def test_zero_norm_counts_nonzeros_and_has_no_gradient(shape, kwargs):
    """PyTorch gives the 0-"norm" no gradient at all: the input's .grad stays None."""
    torch = torch_or_skip()
    data = np.random.default_rng(0).integers(-1, 2, shape).astype(np.float64)
    results = []
    for lib in (cgrad, torch):
        x = lib.tensor(data, requires_grad=True)
        y = x.norm(0, **kwargs)
        y.sum().backward()
        assert x.grad is None
        results.append(y.detach().numpy())
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], norm_np(0, kwargs)(data))


def test_norm_with_dtype_argument():
    torch = torch_or_skip()
    for lib in (cgrad, torch):
        x = lib.tensor([[3.0, 4.0]], dtype=lib.float32, requires_grad=True)
        y = x.norm(dtype=lib.float64)
        assert y.dtype == lib.float64
        y.backward()
        assert x.grad.dtype == lib.float32
        np.testing.assert_allclose(x.grad.numpy(), [[0.6, 0.8]], rtol=1e-6)


# ---------------------------------------------------------------- dtypes

INT_DATA = [[1, 2, 3], [4, 0, 6]]
BOOL_DATA = [[True, False, True], [True, True, True]]

DTYPE_FORMS = {
    "sum": lambda x: x.sum(),
    "sum(1)": lambda x: x.sum(1),
    "prod": lambda x: x.prod(),
    "prod(0)": lambda x: x.prod(0),
    "amax": lambda x: x.amax(),
    "amin(1)": lambda x: x.amin(1),
    "max": lambda x: x.max(),
    "min": lambda x: x.min(),
    "max(1).values": lambda x: x.max(1).values,
    "logsumexp(1)": lambda x: x.logsumexp(1),
}


@pytest.mark.parametrize("data", [INT_DATA, BOOL_DATA], ids=["int64", "bool"])
@pytest.mark.parametrize("form", DTYPE_FORMS)
def test_integer_and_bool_inputs_match_torch(form, data):
    torch = torch_or_skip()
    ours = DTYPE_FORMS[form](cgrad.tensor(data))
    theirs = DTYPE_FORMS[form](torch.tensor(data))
    assert ours.dtype.name == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.numpy().astype(np.float64), theirs.numpy().astype(np.float64), rtol=1e-6)


@pytest.mark.parametrize("name", ["sum", "prod", "mean"])
def test_dtype_argument_casts_before_reducing(name):
    torch = torch_or_skip()
    data = [[1.7, 2.6], [3.5, -0.5]]
    for dt in ("float64", "int64") if name != "mean" else ("float64",):
        ours = getattr(cgrad.tensor(data), name)(dtype=getattr(cgrad, dt))
        theirs = getattr(torch.tensor(data), name)(dtype=getattr(torch, dt))
        assert ours.dtype.name == dt
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_float32_sum_of_many_elements_is_accurate():
    data = np.random.default_rng(0).standard_normal(100_003).astype(np.float32)
    np.testing.assert_allclose(cgrad.tensor(data).sum().item(), data.astype(np.float64).sum(), rtol=1e-5)


def test_large_reductions_match_numpy():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((37, 129, 5))
    x = cgrad.tensor(data)
    for dim in (0, 1, 2, (0, 2), (1, 2)):
        np.testing.assert_allclose(x.amax(dim).numpy(), data.max(axis=dim))
        np.testing.assert_allclose(x.prod(dim if isinstance(dim, int) else 0).numpy(),
                                   data.prod(axis=dim if isinstance(dim, int) else 0))
        np.testing.assert_allclose(x.var(dim).numpy(), data.var(axis=dim, ddof=1), rtol=1e-10)
        np.testing.assert_allclose(x.norm(dim=dim).numpy(), np.sqrt((data ** 2).sum(axis=dim)), rtol=1e-10)
    np.testing.assert_array_equal(x.argmax(1).numpy(), data.argmax(axis=1))
    np.testing.assert_array_equal(x.min(2).indices.numpy(), data.argmin(axis=2))


# ---------------------------------------------------------------- empty tensors

EMPTY_FORMS = {
    "sum()": lambda x: x.sum(),
    "sum(0)": lambda x: x.sum(0),
    "sum(1)": lambda x: x.sum(1),
    "mean()": lambda x: x.mean(),
    "prod()": lambda x: x.prod(),
    "prod(0)": lambda x: x.prod(0),
    "amax(1)": lambda x: x.amax(1),
    "max(1).values": lambda x: x.max(1).values,
    "max(1).indices": lambda x: x.max(1).indices,
    "argmax(1)": lambda x: x.argmax(1),
    "logsumexp(0)": lambda x: x.logsumexp(0),
    "logsumexp(1)": lambda x: x.logsumexp(1),
    "norm()": lambda x: x.norm(),
    "norm(1, 0)": lambda x: x.norm(1, 0),
    "norm(inf, 1)": lambda x: x.norm(float("inf"), 1),
    "var(1)": lambda x: x.var(1),
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # var of an empty slice warns
@pytest.mark.parametrize("form", EMPTY_FORMS)
def test_empty_tensor_results_match_torch(form):
    torch = torch_or_skip()
    ours = EMPTY_FORMS[form](cgrad.zeros(0, 3))
    theirs = EMPTY_FORMS[form](torch.zeros(0, 3))
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("form", ["sum()", "sum(0)", "prod(0)", "norm()", "logsumexp(0)"])
def test_empty_tensor_gradients(form):
    x = cgrad.zeros(0, 3, requires_grad=True)
    y = EMPTY_FORMS[form](x)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 3)


# ---------------------------------------------------------------- errors

ERROR_FORMS = {
    "max() of empty": lambda m: m.zeros(0, 3).max(),
    "min() of empty": lambda m: m.zeros(0, 3).min(),
    "max(0) of empty": lambda m: m.zeros(0, 3).max(0),
    "min(0) of empty": lambda m: m.zeros(0, 3).min(0),
    "amax() of empty": lambda m: m.zeros(0, 3).amax(),
    "amin(0) of empty": lambda m: m.zeros(0, 3).amin(0),
    "argmax() of empty": lambda m: m.zeros(0, 3).argmax(),
    "argmin(0) of empty": lambda m: m.zeros(0, 3).argmin(0),
    "norm(inf) of empty": lambda m: m.zeros(0, 3).norm(float("inf")),
    "norm(-inf) of empty": lambda m: m.zeros(0, 3).norm(-float("inf")),
    "norm(inf, 0) of empty": lambda m: m.zeros(0, 3).norm(float("inf"), 0),
    "mean of int": lambda m: m.tensor([1, 2]).mean(),
    "var of int": lambda m: m.tensor([1, 2]).var(),
    "std of bool": lambda m: m.tensor([True, False]).std(),
    "norm of int": lambda m: m.tensor([1, 2]).norm(),
    "argmax of bool": lambda m: m.tensor([True, False]).argmax(),
    "argmin of bool": lambda m: m.tensor([True, False]).argmin(),
    "sum dim out of range": lambda m: m.ones(2, 3).sum(2),
    "prod dim out of range": lambda m: m.ones(2, 3).prod(-3),
    "amax repeated dim": lambda m: m.ones(2, 3).amax((0, 0)),
    "sum repeated dim": lambda m: m.ones(2, 3).sum((1, -1)),
    "max dim out of range": lambda m: m.ones(2, 3).max(5),
    "max dim of 0-d": lambda m: m.tensor(2.0).max(1),
    "argmax dim out of range": lambda m: m.ones(2, 3).argmax(2),
    "logsumexp dim out of range": lambda m: m.ones(2, 3).logsumexp(3),
    "var dim out of range": lambda m: m.ones(2, 3).var(3),
    "norm dim out of range": lambda m: m.ones(2, 3).norm(dim=4),
    "norm 'fro' over 3 dims": lambda m: m.ones(2, 3, 4).norm(dim=(0, 1, 2)),
    "norm unknown order": lambda m: m.ones(2, 3).norm("abc"),
}


@pytest.mark.parametrize("case", ERROR_FORMS)
def test_errors_match_torch(case):
    assert_same_error(ERROR_FORMS[case])


TYPE_ERROR_FORMS = {
    "prod over a tuple": lambda m: m.ones(2, 3).prod((0, 1)),
    "max over a tuple": lambda m: m.ones(2, 3).max((0, 1)),
    "argmax over a tuple": lambda m: m.ones(2, 3).argmax((0, 1)),
    "logsumexp without dim": lambda m: m.ones(2, 3).logsumexp(),
    "std with both unbiased and correction": lambda m: m.ones(2, 3).std(unbiased=True, correction=1),
}


@pytest.mark.parametrize("case", TYPE_ERROR_FORMS)
def test_argument_errors_are_type_errors_as_in_torch(case):
    torch = torch_or_skip()
    with pytest.raises(TypeError):
        TYPE_ERROR_FORMS[case](torch)
    with pytest.raises(TypeError):
        TYPE_ERROR_FORMS[case](cgrad)


def test_nuclear_norm_is_not_implemented():
    with pytest.raises(NotImplementedError, match="nuc"):
        cgrad.ones(2, 2).norm("nuc")


# ---------------------------------------------------------------- grad_fn names

GRAD_FN_EXPRESSIONS = {
    "x.sum()": lambda x: x.sum(),
    "x.sum(1)": lambda x: x.sum(1),
    "x.mean()": lambda x: x.mean(),
    "x.mean(0)": lambda x: x.mean(0),
    "x.prod()": lambda x: x.prod(),
    "x.prod(1)": lambda x: x.prod(1),
    "x.var()": lambda x: x.var(),
    "x.var(1)": lambda x: x.var(1),
    "x.std()": lambda x: x.std(),
    "x.std(0, keepdim=True)": lambda x: x.std(0, keepdim=True),
    "x.amax()": lambda x: x.amax(),
    "x.amin(1)": lambda x: x.amin(1),
    "x.max()": lambda x: x.max(),
    "x.min()": lambda x: x.min(),
    "x.max(1).values": lambda x: x.max(1).values,
    "x.min(0).values": lambda x: x.min(0).values,
    "x.logsumexp(1)": lambda x: x.logsumexp(1),
    "x.norm()": lambda x: x.norm(),
    "x.norm(1, 0)": lambda x: x.norm(1, 0),
    "x.norm(inf)": lambda x: x.norm(float("inf")),
    "x.norm(0)": lambda x: x.norm(0),
    "x.sum(dtype=float64)": lambda x: x.sum(dtype=x.double().dtype),
}


@pytest.mark.parametrize("expression", GRAD_FN_EXPRESSIONS)
def test_grad_fn_name_matches_torch(expression):
    torch = torch_or_skip()
    names = []
    for lib in (cgrad, torch):
        x = lib.tensor(np.random.default_rng(0).uniform(0.5, 2.0, (3, 4)), requires_grad=True)
        names.append(GRAD_FN_EXPRESSIONS[expression](x).grad_fn.name())
    assert names[0] == names[1]


def test_indices_do_not_require_grad():
    x = cgrad.ones(2, 3, requires_grad=True)
    assert not x.max(1).indices.requires_grad
    assert x.max(1).values.requires_grad
    assert not x.argmax().requires_grad


def test_no_graph_under_no_grad():
    x = cgrad.ones(2, 3, requires_grad=True)
    with cgrad.no_grad():
        for y in (x.prod(), x.var(), x.std(), x.amax(), x.max(), x.max(1).values, x.logsumexp(1), x.norm()):
            assert y.grad_fn is None and not y.requires_grad


# ---------------------------------------------------------------- second-order gradients

SECOND_ORDER = {
    "prod()": lambda x: x.prod(),
    "prod(1)": lambda x: x.prod(1),
    "prod(0, keepdim=True)": lambda x: x.prod(0, keepdim=True),
    "var()": lambda x: x.var(),
    "var(1)": lambda x: x.var(1),
    "var(0, correction=0, keepdim)": lambda x: x.var(0, correction=0, keepdim=True),
    "std()": lambda x: x.std(),
    "std(1)": lambda x: x.std(1),
    "logsumexp(1)": lambda x: x.logsumexp(1),
    "logsumexp((0, 1))": lambda x: x.logsumexp((0, 1)),
    "norm()": lambda x: x.norm(),
    "norm(dim=1)": lambda x: x.norm(dim=1),
    "norm(1)": lambda x: x.norm(1),
    "norm(3, 0)": lambda x: x.norm(3, 0),
    "norm(1.5)": lambda x: x.norm(1.5),
    "norm(0.5, 1)": lambda x: x.norm(0.5, 1),
    "norm(inf)": lambda x: x.norm(float("inf")),
    "norm(-inf, 1)": lambda x: x.norm(-float("inf"), 1),
    "amax()": lambda x: x.amax(),
    "amax(1)": lambda x: x.amax(1),
    "amin(0, keepdim=True)": lambda x: x.amin(0, keepdim=True),
    "max()": lambda x: x.max(),
    "max(1).values": lambda x: x.max(1).values,
    "mean(1)": lambda x: x.mean(1),
    "sum(0)": lambda x: x.sum(0),
}
SECOND_ORDER_DATA = {
    "random": np.random.default_rng(5).uniform(-2.0, 2.0, (3, 4)),
    "one zero": np.array([[1.5, 0.0, 2.0, -1.0], [3.0, -1.0, 0.5, 1.2], [0.7, 1.1, -0.4, 2.0]]),
    "two zeros": np.array([[1.5, 0.0, 2.0, 0.0], [3.0, -1.0, 0.5, 1.2], [0.7, 1.1, -0.4, 2.0]]),
}


def second_order(lib, fn, data, dtype):
    """Gradient and Hessian-vector product of sum(w * fn(x)^2), via grad(create_graph=True)."""
    x = lib.tensor(data, dtype=getattr(lib, dtype), requires_grad=True)
    y = fn(x)
    rng = np.random.default_rng(1)
    w = lib.tensor(rng.uniform(0.5, 1.5, tuple(y.shape)), dtype=getattr(lib, dtype))
    v = lib.tensor(rng.standard_normal(data.shape), dtype=getattr(lib, dtype))
    (g,) = lib.autograd.grad((w * y * y).sum(), x, create_graph=True)
    (h,) = lib.autograd.grad((g * v).sum(), x)
    return g.detach().numpy(), h.numpy()


# zeros in the input only matter for prod
SECOND_ORDER_CASES = [(name, data) for name in SECOND_ORDER for data in SECOND_ORDER_DATA
                      if data == "random" or name.startswith("prod")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, data", SECOND_ORDER_CASES, ids=[f"{n}-{d}" for n, d in SECOND_ORDER_CASES])
def test_second_order_gradients_match_torch(name, data, dtype):
    torch = torch_or_skip()
    g, h = second_order(cgrad, SECOND_ORDER[name], SECOND_ORDER_DATA[data], dtype)
    t_g, t_h = second_order(torch, SECOND_ORDER[name], SECOND_ORDER_DATA[data], dtype)
    tol = 1e-9 if dtype == "float64" else 2e-4
    np.testing.assert_allclose(g, t_g.astype(np.float64), rtol=tol, atol=tol)
    np.testing.assert_allclose(h, t_h.astype(np.float64), rtol=tol, atol=tol)


def test_prod_hessian_with_two_zeros_is_exact():
    """d^2 prod / dx_i dx_j = prod of the others: 1 * 3 for the two zeros here."""
    x = cgrad.tensor([0.0, 1.0, 0.0, 3.0], requires_grad=True)
    (g,) = cgrad.autograd.grad(x.prod(), x, create_graph=True)
    rows = []
    for i in range(4):
        unit = cgrad.tensor([1.0 if k == i else 0.0 for k in range(4)])
        (h,) = cgrad.autograd.grad((g * unit).sum(), x, retain_graph=True)
        rows.append(h.tolist())
    expected = np.zeros((4, 4))
    expected[0, 2] = expected[2, 0] = 3.0
    np.testing.assert_allclose(rows, expected)
