"""Pooling (csrc/ops_pool.c) against torch: max, average and adaptive pools in
1-d and 2-d, batched and unbatched, float32 and float64 — values, indices,
gradients, second derivatives, graph shapes, ties, NaNs, integer inputs,
errors, the nn modules and a compiled training step."""
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
import cgrad.nn.functional as F
from helpers import assert_same_error, check_against_torch, graph_of, np_of, rand, split

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = ["float64", "float32"]


def lib_f(lib):
    return F if lib is cgrad else TF


# (name, fn(F, x), input shape): each runs batched and unbatched (the leading dim dropped)
MAX2D = [
    ("k2", lambda F, x: F.max_pool2d(x, 2), (2, 3, 6, 7)),
    ("k3-s2-p1", lambda F, x: F.max_pool2d(x, 3, 2, 1, return_indices=True), (2, 2, 7, 8)),
    ("k3-s1-d2", lambda F, x: F.max_pool2d(x, 3, stride=1, dilation=2, return_indices=True), (2, 2, 7, 9)),
    ("rect-all", lambda F, x: F.max_pool2d(x, (3, 2), (2, 1), (1, 0), (2, 1), ceil_mode=True, return_indices=True),
     (2, 2, 9, 6)),
    ("ceil-partial", lambda F, x: F.max_pool2d(x, 3, 3, ceil_mode=True, return_indices=True), (2, 2, 7, 8)),
    # ceil_mode drops a last window that would start in the right padding
    ("ceil-dropped", lambda F, x: F.max_pool2d(x, 2, 2, 1, ceil_mode=True, return_indices=True), (2, 2, 5, 5)),
    ("ceil-dilated", lambda F, x: F.max_pool2d(x, 4, 2, 2, 2, ceil_mode=True, return_indices=True), (1, 2, 8, 7)),
    ("module", lambda F, x: (nn if F is cgrad.nn.functional else torch.nn).MaxPool2d(2, 1, 1)(x), (2, 2, 4, 5)),
]
AVG2D = [
    ("k2", lambda F, x: F.avg_pool2d(x, 2), (2, 3, 6, 7)),
    ("k3-s2-p1", lambda F, x: F.avg_pool2d(x, 3, 2, 1), (2, 2, 7, 8)),
    ("no-pad-count", lambda F, x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), (2, 2, 7, 8)),
    ("ceil", lambda F, x: F.avg_pool2d(x, (3, 2), (2, 3), (1, 1), ceil_mode=True), (2, 2, 8, 7)),
    ("ceil-no-pad-count", lambda F, x: F.avg_pool2d(x, 3, 2, 1, True, False), (2, 2, 6, 6)),
    ("divisor", lambda F, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, divisor_override=4), (2, 2, 7, 6)),
    ("negative-divisor", lambda F, x: F.avg_pool2d(x, 2, divisor_override=-3), (2, 2, 4, 4)),
    ("module", lambda F, x: (nn if F is cgrad.nn.functional else torch.nn).AvgPool2d((2, 3), 1, (1, 0))(x),
     (2, 2, 4, 5)),
]
ADAPTIVE2D = [
    ("avg-uneven", lambda F, x: F.adaptive_avg_pool2d(x, (3, 4)), (2, 2, 7, 9)),
    ("avg-even", lambda F, x: F.adaptive_avg_pool2d(x, (2, 3)), (2, 2, 6, 9)),
    ("avg-larger", lambda F, x: F.adaptive_avg_pool2d(x, (5, 11)), (2, 2, 3, 7)),
    ("avg-none", lambda F, x: F.adaptive_avg_pool2d(x, (None, 2)), (2, 2, 5, 7)),
    ("avg-one", lambda F, x: F.adaptive_avg_pool2d(x, 1), (2, 2, 5, 7)),
    ("max-uneven", lambda F, x: F.adaptive_max_pool2d(x, (3, 4), return_indices=True), (2, 2, 7, 9)),
    ("max-larger", lambda F, x: F.adaptive_max_pool2d(x, (4, 9), True), (2, 2, 3, 7)),
    ("max-none", lambda F, x: F.adaptive_max_pool2d(x, (2, None)), (2, 2, 5, 7)),
    ("max-module", lambda F, x: (nn if F is cgrad.nn.functional else torch.nn).AdaptiveMaxPool2d(3, True)(x),
     (2, 2, 5, 7)),
]
POOL1D = [
    ("max-k2", lambda F, x: F.max_pool1d(x, 2), (2, 3, 9)),
    ("max-all", lambda F, x: F.max_pool1d(x, 3, 2, 1, 2, True, True), (2, 3, 10)),
    ("max-ceil", lambda F, x: F.max_pool1d(x, 2, 2, 1, ceil_mode=True, return_indices=True), (2, 2, 5)),
    ("avg", lambda F, x: F.avg_pool1d(x, 3, 2, 1), (2, 3, 9)),
    ("avg-ceil-no-pad-count", lambda F, x: F.avg_pool1d(x, 3, 2, 1, True, False), (2, 3, 8)),
    ("adaptive-avg", lambda F, x: F.adaptive_avg_pool1d(x, 4), (2, 3, 9)),
    ("adaptive-avg-one", lambda F, x: F.adaptive_avg_pool1d(x, 1), (2, 3, 9)),
    ("adaptive-max", lambda F, x: F.adaptive_max_pool1d(x, 4, return_indices=True), (2, 3, 9)),
    ("adaptive-max-larger", lambda F, x: F.adaptive_max_pool1d(x, 12), (2, 3, 9)),
    ("modules", lambda F, x: (lambda m: m.AdaptiveAvgPool1d(3)(m.AvgPool1d(2, 1)(m.MaxPool1d(2, 1, 1)(x))))(
        nn if F is cgrad.nn.functional else torch.nn), (2, 3, 9)),
]
CASES = [(f"max2d-{n}", f, s, True) for n, f, s in MAX2D] + [(f"avg2d-{n}", f, s, False) for n, f, s in AVG2D] + \
    [(f"adaptive2d-{n}", f, s, n.startswith("max")) for n, f, s in ADAPTIVE2D] + \
    [(f"1d-{n}", f, s, n.startswith("max") or n.startswith("adaptive-max")) for n, f, s in POOL1D]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,shape,exact", CASES, ids=[c[0] for c in CASES])
def test_values_indices_gradients_and_graph_match_torch(name, fn, shape, exact, dtype, batched):
    check_against_torch(fn, rand(shape if batched else shape[1:]), dtype, exact)


def test_non_contiguous_input():
    base = rand((2, 3, 7, 6))
    for fn in (lambda F, x: F.max_pool2d(x.transpose(2, 3), 2, return_indices=True),
               lambda F, x: F.avg_pool2d(x.transpose(2, 3)[:, :, ::2], 2, 1),
               lambda F, x: F.adaptive_avg_pool2d(x.transpose(1, 3), 3),
               lambda F, x: F.max_pool1d(x[:, :, 1, ::2], 2, return_indices=True)):
        check_against_torch(fn, base, "float64", True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ties_keep_the_first_maximum(dtype):
    arr = np.random.default_rng(3).integers(0, 3, (2, 2, 6, 7)).astype(np.float64)
    for fn in (lambda F, x: F.max_pool2d(x, 3, 1, 1, return_indices=True),
               lambda F, x: F.max_pool2d(x, 2, ceil_mode=True, return_indices=True),
               lambda F, x: F.adaptive_max_pool2d(x, (4, 5), True),
               lambda F, x: F.max_pool1d(x.flatten(2), 4, 3, 2, 2, return_indices=True),
               lambda F, x: F.adaptive_max_pool1d(x.flatten(2), 10, True)):
        check_against_torch(fn, arr, dtype, True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_wins_the_last_nan_its_position(dtype):
    arr = rand((2, 2, 6, 6), 4)
    arr[0, 0, 1, 1] = arr[0, 0, 0, 1] = arr[1, 1, 5, 5] = arr[1, 0, 2, 3] = np.nan
    arr[0, 1, :3, :3] = -np.inf
    for fn in (lambda F, x: F.max_pool2d(x, 2, return_indices=True),
               lambda F, x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True),
               lambda F, x: F.adaptive_max_pool2d(x, (4, 3), True),
               lambda F, x: F.max_pool1d(x.flatten(2), 5, 4, 2, return_indices=True),
               lambda F, x: F.max_pool1d(x.flatten(2), 5)):
        check_against_torch(fn, arr, dtype, True)


def test_windows_of_minus_infinity_keep_their_first_position():
    arr = np.full((1, 2, 5), -np.inf)
    check_against_torch(lambda F, x: F.max_pool1d(x, 3, 2, 1, return_indices=True), arr, "float64", True)
    check_against_torch(lambda F, x: F.max_pool2d(x, 2, 1, 1, return_indices=True), arr, "float32", True)


def test_integer_inputs_pool_where_torch_does():
    arr = np.random.default_rng(5).integers(-9, 9, (2, 3, 5, 7))
    for fn in (lambda F, x: F.max_pool2d(x, 2, 1, 1, return_indices=True),
               lambda F, x: F.max_pool2d(x, 3, ceil_mode=True),
               lambda F, x: F.max_pool1d(x[0], 2, return_indices=True),
               lambda F, x: F.avg_pool2d(x, 2, 1, 1),
               lambda F, x: F.avg_pool2d(x, 3, 2, 1, True, False),
               lambda F, x: F.avg_pool2d(x, 2, divisor_override=3),
               lambda F, x: F.avg_pool1d(x[0], 2, ceil_mode=True)):
        (y, idx), (ty, tidx) = split(fn(F, cgrad.tensor(arr))), split(fn(TF, torch.tensor(arr)))
        assert y.dtype == cgrad.int64
        np.testing.assert_array_equal(np_of(y), np_of(ty))
        if tidx is not None:
            np.testing.assert_array_equal(np_of(idx), np_of(tidx))


@pytest.mark.parametrize("call", [
    lambda F, x: F.max_pool1d(x[0, 0], 2),
    lambda F, x: F.adaptive_avg_pool2d(x, 2),
    lambda F, x: F.adaptive_avg_pool1d(x[0], 2),
    lambda F, x: F.adaptive_max_pool2d(x, 2),
    lambda F, x: F.adaptive_max_pool1d(x[0], 2),
    lambda F, x: F.max_pool2d(x > 0, 2),
    lambda F, x: F.avg_pool2d(x > 0, 2),
], ids=["max1d", "adaptive-avg2d", "adaptive-avg1d", "adaptive-max2d", "adaptive-max1d", "max2d-bool", "avg2d-bool"])
def test_integer_and_bool_inputs_raise_as_torch_does(call):
    arr = np.random.default_rng(5).integers(-9, 9, (2, 3, 5, 7))
    assert_same_error(lambda lib: call(lib_f(lib), lib.tensor(arr)))


# ---- second derivatives -------------------------------------------------------------------------

GRADCHECK = [
    ("max2d", lambda x: F.max_pool2d(x, 3, 2, 1, 2, True)),
    ("avg2d", lambda x: F.avg_pool2d(x, 3, 2, 1, True, False)),
    ("avg2d-divisor", lambda x: F.avg_pool2d(x, 2, 1, 1, divisor_override=3)),
    ("adaptive-avg2d", lambda x: F.adaptive_avg_pool2d(x, (2, 3))),
    ("adaptive-max2d", lambda x: F.adaptive_max_pool2d(x, (3, 2))),
    ("max1d", lambda x: F.max_pool1d(x.flatten(1), 3, 2, 1)),
    ("avg1d", lambda x: F.avg_pool1d(x.flatten(1), 3, 2, 1, True)),
    ("adaptive-avg1d", lambda x: F.adaptive_avg_pool1d(x.flatten(1), 4)),
    ("adaptive-max1d", lambda x: F.adaptive_max_pool1d(x.flatten(1), 4)),
]


@pytest.mark.parametrize("name,fn", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck_and_gradgradcheck(name, fn):
    # distinct values 0.1 apart: no finite-difference step moves a maximum
    vals = np.random.default_rng(6).permutation(2 * 5 * 6).reshape(2, 5, 6) * 0.1
    x = cgrad.tensor(vals, dtype=cgrad.float64, requires_grad=True)
    assert cgrad.autograd.gradcheck(fn, (x,))
    assert cgrad.autograd.gradgradcheck(fn, (x,))


DOUBLE = [
    ("max2d", lambda F, x: F.max_pool2d(x, 3, 2, 1)),
    ("adaptive-max2d", lambda F, x: F.adaptive_max_pool2d(x, (3, 2))),
    ("avg2d", lambda F, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    ("adaptive-avg2d", lambda F, x: F.adaptive_avg_pool2d(x, (3, 4))),
    ("max1d", lambda F, x: F.max_pool1d(x.flatten(2), 3, 2, 1)),
]


@pytest.mark.parametrize("name,fn", DOUBLE, ids=[d[0] for d in DOUBLE])
def test_double_backward_matches_torch(name, fn):
    """gx = d(y . g)/dx with create_graph; then d(gx . v)/dg, d(gx . v)/dx and the
    third order d/dx of |d(gx . v)/dg|^2: the backward's own nodes, as torch names them."""
    arr = rand((2, 2, 6, 7), 7)
    results = []
    for lib, F_ in ((cgrad, F), (torch, TF)):
        x = lib.tensor(arr, requires_grad=True)
        y = fn(F_, x)
        rng = np.random.default_rng(8)
        g = lib.tensor(rng.standard_normal(tuple(y.shape)), requires_grad=True)
        v = lib.tensor(rng.standard_normal(arr.shape))
        (gx,) = lib.autograd.grad(y, x, g, create_graph=True)
        (gg,) = lib.autograd.grad((gx * v * x).sum(), g, create_graph=True)
        (gx2,) = lib.autograd.grad((gx * v * x).sum(), x, retain_graph=True)
        (zero,) = lib.autograd.grad(gx.sum(), x, retain_graph=True)  # through the nodes' x edge
        (ggg,) = lib.autograd.grad((gg * gg).sum(), x)
        results.append((graph_of(gx.grad_fn, 2), np_of(gx), np_of(gg), np_of(gx2), np_of(ggg), np_of(zero)))
    (names, *ours), (tnames, *theirs) = results
    assert names == tnames
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_indices_modified_in_place_fail_the_backward():
    x = cgrad.randn(1, 2, 4, 4, requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    idx.zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_empty_batch_gives_empty_results_and_gradients():
    for fn in (lambda F, x: F.max_pool2d(x, 2, return_indices=True),
               lambda F, x: F.avg_pool2d(x, 2),
               lambda F, x: F.adaptive_avg_pool2d(x, 3),
               lambda F, x: F.adaptive_max_pool2d(x, 3, True)):
        check_against_torch(fn, np.zeros((0, 2, 4, 4)), "float32", True)


# ---- errors ------------------------------------------------------------------------------------------

ERRORS = {
    "max2d-2d": lambda F, x: F.max_pool2d(x[0, 0], 2),
    "max2d-5d": lambda F, x: F.max_pool2d(x[None], 2),
    "max2d-k0": lambda F, x: F.max_pool2d(x, 0),
    "max2d-k-1": lambda F, x: F.max_pool2d(x, -1),
    "max2d-s-1": lambda F, x: F.max_pool2d(x, 2, -1),
    "max2d-p-1": lambda F, x: F.max_pool2d(x, 2, 1, -1),
    "max2d-p-big": lambda F, x: F.max_pool2d(x, 2, 1, 2),
    "max2d-p-half": lambda F, x: F.max_pool2d(x, 3, 1, 2, 2),
    "max2d-d0": lambda F, x: F.max_pool2d(x, 2, 1, 0, 0),
    "max2d-too-small": lambda F, x: F.max_pool2d(x, 6),
    "max2d-too-small-h": lambda F, x: F.max_pool2d(x, (6, 1)),
    "max2d-k3": lambda F, x: F.max_pool2d(x, (1, 2, 3)),
    "max2d-s3": lambda F, x: F.max_pool2d(x, 2, (1, 2, 3)),
    "max2d-p3": lambda F, x: F.max_pool2d(x, 2, 1, (0, 0, 0)),
    "max2d-d3": lambda F, x: F.max_pool2d(x, 2, 1, 0, (1, 1, 1)),
    "max2d-k-float": lambda F, x: F.max_pool2d(x, 2.0),
    "max2d-empty-c": lambda F, x: F.max_pool2d(x[:, :0], 2),
    "max2d-empty-unbatched": lambda F, x: F.max_pool2d(x[0, :0], 2),
    "max1d-1d": lambda F, x: F.max_pool1d(x[0, 0, 0], 2),
    "max1d-4d": lambda F, x: F.max_pool1d(x, 2),
    "max1d-k0": lambda F, x: F.max_pool1d(x[0], 0),
    "max1d-s0": lambda F, x: F.max_pool1d(x[0], 2, 0),
    "max1d-p-1": lambda F, x: F.max_pool1d(x[0], 2, 1, -1),
    "max1d-p2": lambda F, x: F.max_pool1d(x[0], 2, 1, 2),
    "max1d-d0": lambda F, x: F.max_pool1d(x[0], 2, 1, 0, 0),
    "max1d-too-small": lambda F, x: F.max_pool1d(x[0], 6),
    "max1d-k2": lambda F, x: F.max_pool1d(x[0], (2, 2)),
    "max1d-s2": lambda F, x: F.max_pool1d(x[0], 2, (2, 2)),
    "max1d-empty": lambda F, x: F.max_pool1d(x[0, 0, :0], 2),
    "max1d-indices-1d": lambda F, x: F.max_pool1d(x[0, 0, 0], 2, return_indices=True),
    "max1d-indices-k0": lambda F, x: F.max_pool1d(x[0], 0, return_indices=True),
    "max1d-indices-too-small": lambda F, x: F.max_pool1d(x[0], 6, return_indices=True),
    "max1d-indices-k2": lambda F, x: F.max_pool1d(x[0], (2, 2), return_indices=True),
    "avg2d-2d": lambda F, x: F.avg_pool2d(x[0, 0], 2),
    "avg2d-1d": lambda F, x: F.avg_pool2d(x[0, 0, 0], 2),
    "avg2d-0d": lambda F, x: F.avg_pool2d(x[0, 0, 0, 0], 2),
    "avg2d-5d": lambda F, x: F.avg_pool2d(x[None], 2),
    "avg2d-k0": lambda F, x: F.avg_pool2d(x, 0),
    "avg2d-k-1": lambda F, x: F.avg_pool2d(x, -1),
    "avg2d-p-big": lambda F, x: F.avg_pool2d(x, 2, 1, 2),
    "avg2d-too-small": lambda F, x: F.avg_pool2d(x, 6),
    "avg2d-divisor0": lambda F, x: F.avg_pool2d(x, 2, divisor_override=0),
    "avg2d-k3": lambda F, x: F.avg_pool2d(x, (1, 2, 3)),
    "avg2d-s3": lambda F, x: F.avg_pool2d(x, 2, (1, 1, 1)),
    "avg1d-1d": lambda F, x: F.avg_pool1d(x[0, 0, 0], 2),
    "avg1d-4d": lambda F, x: F.avg_pool1d(x, 2),
    "avg1d-k0": lambda F, x: F.avg_pool1d(x[0], 0),
    "avg1d-too-small": lambda F, x: F.avg_pool1d(x[0], 6),
    "avg1d-k2": lambda F, x: F.avg_pool1d(x[0], (2, 2)),
    "avg1d-p2": lambda F, x: F.avg_pool1d(x[0], 2, 1, (1, 1)),
    "adaptive-avg2d-2d": lambda F, x: F.adaptive_avg_pool2d(x[0, 0], 2),
    "adaptive-avg2d-negative": lambda F, x: F.adaptive_avg_pool2d(x, -1),
    "adaptive-avg2d-3": lambda F, x: F.adaptive_avg_pool2d(x, (2, 3, 4)),
    "adaptive-avg2d-list1": lambda F, x: F.adaptive_avg_pool2d(x, [3]),
    "adaptive-avg2d-empty-h": lambda F, x: F.adaptive_avg_pool2d(x[:, :, :0], 2),
    "adaptive-avg2d-none-short": lambda F, x: F.adaptive_avg_pool2d(x[0, 0], (None, 2)),
    "adaptive-avg1d-1d": lambda F, x: F.adaptive_avg_pool1d(x[0, 0, 0], 2),
    "adaptive-avg1d-negative": lambda F, x: F.adaptive_avg_pool1d(x[0], -1),
    "adaptive-avg1d-2": lambda F, x: F.adaptive_avg_pool1d(x[0], (2, 2)),
    "adaptive-max2d-2d": lambda F, x: F.adaptive_max_pool2d(x[0, 0], 2),
    "adaptive-max2d-negative": lambda F, x: F.adaptive_max_pool2d(x, -1),
    "adaptive-max2d-3": lambda F, x: F.adaptive_max_pool2d(x, (2, 3, 4)),
    "adaptive-max2d-empty-c": lambda F, x: F.adaptive_max_pool2d(x[:, :0], 2),
    "adaptive-max1d-4d": lambda F, x: F.adaptive_max_pool1d(x, 2),
    "adaptive-max1d-negative": lambda F, x: F.adaptive_max_pool1d(x[0], -1),
    "adaptive-max1d-empty": lambda F, x: F.adaptive_max_pool1d(x[0, 0, :, :0], 2),
    "adaptive-max1d-2": lambda F, x: F.adaptive_max_pool1d(x[0], (2, 2)),
}


@pytest.mark.parametrize("grad", [False, True], ids=["no-grad", "requires-grad"])
@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name, grad):
    arr = rand((2, 3, 5, 5))
    assert_same_error(lambda lib: ERRORS[name](lib_f(lib), lib.tensor(arr, requires_grad=grad)))


# ---- modules and top-level names --------------------------------------------------------------------

MODULES = [
    lambda m: m.MaxPool1d(3),
    lambda m: m.MaxPool1d(3, 2, 1, 2, return_indices=True, ceil_mode=True),
    lambda m: m.MaxPool2d(2),
    lambda m: m.MaxPool2d((3, 2), (2, 1), (1, 0), dilation=(2, 1)),
    lambda m: m.AvgPool1d(3),
    lambda m: m.AvgPool1d((3,), 2, 1, True, False),
    lambda m: m.AvgPool2d(2),
    lambda m: m.AvgPool2d((2, 3), None, (1, 0), divisor_override=2),
    lambda m: m.AdaptiveAvgPool1d(4),
    lambda m: m.AdaptiveAvgPool2d((None, 3)),
    lambda m: m.AdaptiveMaxPool1d(4, return_indices=True),
    lambda m: m.AdaptiveMaxPool2d(5),
]


@pytest.mark.parametrize("make", MODULES)
def test_module_reprs_match_torch(make):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    assert not list(ours.parameters())
    assert repr(nn.Sequential(ours)) == repr(torch.nn.Sequential(theirs))


def test_modules_pool_like_torch():
    arr = rand((2, 3, 9, 8))
    for make in MODULES:
        def fn(F_, x, make=make):
            m = make(nn if F_ is F else torch.nn)
            return m(x if "2d" in type(m).__name__ else x.flatten(2))
        check_against_torch(fn, arr, "float32", "Max" in type(make(nn)).__name__)


def test_top_level_functions_match_torch():
    arr = rand((2, 3, 9))
    for name, args in [("max_pool1d", (3, 2, 1)), ("max_pool1d_with_indices", (3, 2, 1, 1, True)),
                       ("avg_pool1d", (3, 2, 1, False, False)), ("adaptive_avg_pool1d", (4,)),
                       ("adaptive_max_pool1d", (4,))]:
        check_against_torch(lambda F_, x: getattr(cgrad if F_ is F else torch, name)(x, *args), arr, "float64", True)
    check_against_torch(lambda F_, x: (cgrad if F_ is F else torch).max_pool2d(x, 2, [], 1), rand((3, 5, 6)),
                        "float64", True)


# ---- compiled steps ---------------------------------------------------------------------------------

def test_a_compiled_training_step_with_pooling_replays_bit_identically():
    rng = np.random.default_rng(9)
    w0 = rng.standard_normal((3, 1, 1)) * 0.5
    v0 = rng.standard_normal((3 * 4, 2)) * 0.5

    def make(w, v):
        opt = cgrad.optim.SGD([w, v], lr=0.05, momentum=0.9)

        def step(x):
            opt.zero_grad()
            h = (x * w).tanh()                                                      # (N, 3, 8, 8)
            h = F.max_pool2d(h, 3, 3, 1, ceil_mode=True) + F.avg_pool2d(h, 3, 3, 0, ceil_mode=True)  # 3 x 3
            h = F.adaptive_max_pool2d(h, (3, 5)) * 2 + F.adaptive_avg_pool2d(h, (3, 5))
            h = F.avg_pool1d(h.flatten(2), 3, 1, 1, count_include_pad=False)        # (N, 3, 15)
            h = F.max_pool1d(h, 2, 2, 1, return_indices=True)[0] + F.adaptive_avg_pool1d(h, 8)[..., ::1]
            h = F.adaptive_max_pool1d(h, 4) + F.adaptive_avg_pool2d(h.unsqueeze(1), 1).squeeze(1)
            loss = (h.flatten(1) @ v).pow(2).mean()
            loss.backward()
            opt.step()
            return loss
        return step

    params = [[cgrad.tensor(a, dtype=cgrad.float32, requires_grad=True) for a in (w0, v0)] for _ in range(2)]
    eager, compiled = make(*params[0]), cgrad.compile(make(*params[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to eager
        for k in range(8):
            x = cgrad.tensor(rng.standard_normal((4, 1, 8, 8)), dtype=cgrad.float32)
            le, lc = eager(x), compiled(x)
            assert le.detach().numpy().tobytes() == lc.numpy().tobytes(), f"step {k}: loss differs"
            for p, q in zip(*params):
                assert p.detach().numpy().tobytes() == q.detach().numpy().tobytes(), f"step {k}"
                assert p.grad.numpy().tobytes() == q.grad.numpy().tobytes(), f"step {k}"
    assert compiled._cgrad_step.replays == 5
