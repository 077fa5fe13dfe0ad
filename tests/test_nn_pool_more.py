"""3-d pools, max unpooling, power-average (LP) and fractional max pools (csrc/ops_pool.c,
nn.functional) against torch: values, indices, gradients, graph names, ties, NaNs, integer inputs,
second derivatives, errors and the nn modules, batched and unbatched."""
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


def lib_nn(F_):
    return nn if F_ is F else torch.nn


# ---- 3-d pools ----------------------------------------------------------------------------------

# (name, fn(F, x), input shape, exact): each runs batched and unbatched (the leading dim dropped)
POOL3D = [
    ("max-k2", lambda F, x: F.max_pool3d(x, 2), (2, 2, 4, 5, 6), True),
    ("max-all", lambda F, x: F.max_pool3d(x, (3, 2, 3), (2, 1, 2), (1, 0, 1), (1, 2, 1), True, True),
     (2, 2, 5, 6, 7), True),
    ("max-dilated", lambda F, x: F.max_pool3d(x, 2, 1, 1, 2, return_indices=True), (1, 2, 5, 5, 4), True),
    ("max-ceil-dropped", lambda F, x: F.max_pool3d(x, 2, 2, 1, ceil_mode=True, return_indices=True),
     (2, 1, 5, 5, 5), True),
    ("max-with-indices", lambda F, x: F.max_pool3d_with_indices(x, 3, 2, 1), (2, 2, 5, 4, 6), True),
    ("avg-k2", lambda F, x: F.avg_pool3d(x, 2), (2, 2, 4, 5, 6), False),
    ("avg-pad", lambda F, x: F.avg_pool3d(x, 3, 2, 1), (2, 2, 5, 4, 6), False),
    ("avg-ceil-no-pad-count", lambda F, x: F.avg_pool3d(x, (3, 2, 3), (2, 1, 2), (1, 1, 0), True, False),
     (2, 2, 5, 6, 7), False),
    ("avg-divisor", lambda F, x: F.avg_pool3d(x, 2, 1, 1, divisor_override=3), (1, 2, 4, 3, 5), False),
    ("adaptive-avg", lambda F, x: F.adaptive_avg_pool3d(x, (2, 3, 4)), (2, 2, 5, 7, 6), False),
    ("adaptive-avg-larger", lambda F, x: F.adaptive_avg_pool3d(x, (4, 5, 3)), (2, 2, 3, 4, 2), False),
    ("adaptive-avg-one", lambda F, x: F.adaptive_avg_pool3d(x, 1), (2, 2, 3, 4, 2), False),
    ("adaptive-avg-none", lambda F, x: F.adaptive_avg_pool3d(x, (None, 2, None)), (2, 2, 3, 4, 2), False),
    ("adaptive-max", lambda F, x: F.adaptive_max_pool3d(x, (2, 3, 4), True), (2, 2, 5, 7, 6), True),
    ("adaptive-max-larger", lambda F, x: F.adaptive_max_pool3d(x, (4, 5, 3)), (2, 2, 3, 4, 2), True),
    ("adaptive-max-with-indices", lambda F, x: F.adaptive_max_pool3d_with_indices(x, 2), (2, 2, 3, 5, 4), True),
    ("modules", lambda F, x: (lambda m: m.AdaptiveMaxPool3d(2)(m.AdaptiveAvgPool3d((3, None, 3))(
        m.AvgPool3d(2, 1)(m.MaxPool3d(2, 1, 1)(x)))))(lib_nn(F)), (2, 2, 4, 5, 4), True),
]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,shape,exact", POOL3D, ids=[c[0] for c in POOL3D])
def test_3d_pools_match_torch(name, fn, shape, exact, dtype, batched):
    check_against_torch(fn, rand(shape if batched else shape[1:]), dtype, exact, float32_grad=False)


def test_3d_pools_of_non_contiguous_and_empty_inputs():
    base = rand((2, 3, 5, 6, 4))
    for fn in (lambda F, x: F.max_pool3d(x.transpose(2, 4), 2, return_indices=True),
               lambda F, x: F.avg_pool3d(x[:, :, ::2], 2, 1),
               lambda F, x: F.adaptive_avg_pool3d(x.transpose(1, 3), 3),
               lambda F, x: F.adaptive_max_pool3d(x[..., ::2], 2, True)):
        check_against_torch(fn, base, "float64", True)
    for fn in (lambda F, x: F.max_pool3d(x, 2, return_indices=True), lambda F, x: F.avg_pool3d(x, 2),
               lambda F, x: F.adaptive_avg_pool3d(x, 3), lambda F, x: F.adaptive_max_pool3d(x, 3, True)):
        check_against_torch(fn, np.zeros((0, 2, 4, 4, 4)), "float32", True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_3d_ties_keep_the_first_maximum_and_the_last_nan_wins(dtype):
    ties = np.random.default_rng(3).integers(0, 3, (2, 2, 4, 5, 6)).astype(np.float64)
    nans = rand((2, 2, 4, 4, 4), 4)
    nans[0, 0, 1, 1, 1] = nans[0, 0, 0, 1, 0] = nans[1, 1, 3, 3, 3] = np.nan
    nans[0, 1, :2, :2, :2] = -np.inf
    for arr in (ties, nans):
        for fn in (lambda F, x: F.max_pool3d(x, 2, return_indices=True),
                   lambda F, x: F.max_pool3d(x, 3, 2, 1, ceil_mode=True, return_indices=True),
                   lambda F, x: F.adaptive_max_pool3d(x, (3, 2, 3), True)):
            check_against_torch(fn, arr, dtype, True)
    check_against_torch(lambda F, x: F.max_pool3d(x, 2, 1, 1, return_indices=True), np.full((1, 1, 3, 2, 2), -np.inf),
                        dtype, True)


def test_3d_integer_inputs_pool_where_torch_does():
    arr = np.random.default_rng(5).integers(-9, 9, (2, 3, 4, 5, 6))
    for fn in (lambda F, x: F.max_pool3d(x, 2, 1, 1, return_indices=True),
               lambda F, x: F.avg_pool3d(x, 3, 2, 1, True, False),
               lambda F, x: F.avg_pool3d(x, 2, divisor_override=3)):
        (y, idx), (ty, tidx) = split(fn(F, cgrad.tensor(arr))), split(fn(TF, torch.tensor(arr)))
        assert y.dtype == cgrad.int64
        np.testing.assert_array_equal(np_of(y), np_of(ty))
        if tidx is not None:
            np.testing.assert_array_equal(np_of(idx), np_of(tidx))
    for call in (lambda F, x: F.adaptive_avg_pool3d(x, 2), lambda F, x: F.adaptive_max_pool3d(x, 2)):
        assert_same_error(lambda lib: call(lib_f(lib), lib.tensor(arr)))


# ---- max unpooling --------------------------------------------------------------------------------

def unpool_of(pool, unpool, *args, **kw):
    """fn(F, x): x pooled with indices, then unpooled (the chain's gradient reaches x)."""
    def fn(F_, x):
        y, i = getattr(F_, pool)(x, *args, return_indices=True)
        return getattr(F_, unpool)(y * 2, i, *args, **kw)
    return fn


UNPOOL = [
    ("1d", unpool_of("max_pool1d", "max_unpool1d", 2), (2, 3, 8)),
    ("1d-stride-pad", unpool_of("max_pool1d", "max_unpool1d", 3, 2, 1), (2, 3, 9)),
    ("1d-output-size", unpool_of("max_pool1d", "max_unpool1d", 2, output_size=[9]), (2, 3, 9)),
    ("2d", unpool_of("max_pool2d", "max_unpool2d", 2), (2, 3, 4, 6)),
    ("2d-stride-pad", unpool_of("max_pool2d", "max_unpool2d", 3, 2, 1), (2, 2, 5, 7)),
    ("2d-output-size-4", unpool_of("max_pool2d", "max_unpool2d", 2, output_size=(2, 2, 5, 7)), (2, 2, 5, 7)),
    ("2d-overlapping", unpool_of("max_pool2d", "max_unpool2d", 3, 1), (2, 2, 5, 5)),
    ("3d", unpool_of("max_pool3d", "max_unpool3d", 2), (2, 2, 4, 4, 6)),
    ("3d-output-size", unpool_of("max_pool3d", "max_unpool3d", (2, 3, 2), output_size=(5, 7, 5)), (1, 2, 5, 7, 5)),
    ("modules", lambda F_, x: lib_nn(F_).MaxUnpool2d(2)(*lib_nn(F_).MaxPool2d(2, return_indices=True)(x)),
     (2, 2, 4, 4)),
    ("modules-3d", lambda F_, x: lib_nn(F_).MaxUnpool3d(2, 2)(*lib_nn(F_).MaxPool3d(2, return_indices=True)(x),
                                                             output_size=(5, 4, 5)), (2, 1, 5, 4, 5)),
]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,shape", UNPOOL, ids=[c[0] for c in UNPOOL])
def test_max_unpool_matches_torch(name, fn, shape, dtype, batched):
    check_against_torch(fn, rand(shape if batched else shape[1:]), dtype, True)


def test_unpool_takes_any_indices_and_writes_later_values_over_earlier_ones():
    x = rand((2, 2, 3, 3))
    idx = np.random.default_rng(2).integers(0, 5, (2, 2, 3, 3))
    ours = F.max_unpool2d(cgrad.tensor(x, requires_grad=True), cgrad.tensor(idx), 2, output_size=(5, 7))
    theirs = TF.max_unpool2d(torch.tensor(x, requires_grad=True), torch.tensor(idx), 2, output_size=(5, 7))
    np.testing.assert_array_equal(np_of(ours), np_of(theirs))


# ---- LP pools ----------------------------------------------------------------------------------------

LP = [
    ("1d-p2", lambda F, x: F.lp_pool1d(x, 2, 3), (2, 3, 9)),
    ("1d-p3-stride-ceil", lambda F, x: F.lp_pool1d(x, 3, 3, 2, True), (2, 3, 8)),
    ("1d-inf", lambda F, x: F.lp_pool1d(x, float("inf"), 2), (2, 3, 8)),
    ("2d-p2", lambda F, x: F.lp_pool2d(x, 2, 2), (2, 3, 4, 6)),
    ("2d-p1.5-rect", lambda F, x: F.lp_pool2d(x.abs(), 1.5, (2, 3), (1, 2)), (2, 2, 5, 7)),
    ("2d-minus-inf", lambda F, x: F.lp_pool2d(x, -float("inf"), 2, ceil_mode=True), (2, 2, 5, 5)),
    ("3d-p2", lambda F, x: F.lp_pool3d(x, 2, 2), (2, 2, 4, 4, 6)),
    ("3d-p1-stride", lambda F, x: F.lp_pool3d(x, 1, (2, 1, 2), 1), (1, 2, 3, 4, 5)),
    ("modules", lambda F, x: lib_nn(F).LPPool2d(2, 2, 1)(lib_nn(F).LPPool1d(3, 2)(x.flatten(-2)).unflatten(-1, (4, 5))),
     (2, 2, 5, 8)),
    ("module-3d", lambda F, x: lib_nn(F).LPPool3d(2.0, 2, ceil_mode=True)(x), (1, 2, 3, 5, 4)),
]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,shape", LP, ids=[c[0] for c in LP])
def test_lp_pools_match_torch(name, fn, shape, dtype, batched):
    check_against_torch(fn, rand(shape if batched else shape[1:]), dtype, "inf" in name, depth=6, float32_grad=False)


# ---- fractional max pools -----------------------------------------------------------------------

def fractional(n, *args, **kw):
    """fn(F, x): a fractional max pool of n dims with random samples fixed from numpy, one row per plane."""
    def fn(F_, x):
        lib = cgrad if F_ is F else torch
        batch = x.shape[0] if x.dim() == n + 2 else 1
        u = np.random.default_rng(11).random((batch, x.shape[-n - 1], n))
        samples = lib.tensor(u, dtype=x.dtype)
        return getattr(F_, f"fractional_max_pool{n}d")(x, *args, _random_samples=samples, **kw)
    return fn


FRACTIONAL = [
    ("2d-size", fractional(2, 2, output_size=4, return_indices=True), (2, 3, 7, 8)),
    ("2d-rect", fractional(2, (3, 2), output_size=(3, 5)), (2, 2, 9, 7)),
    ("2d-ratio", fractional(2, 2, output_ratio=(0.5, 0.7), return_indices=True), (2, 2, 9, 10)),
    ("2d-one-window", fractional(2, 3, output_size=1, return_indices=True), (1, 2, 5, 4)),
    ("2d-full", fractional(2, 1, output_size=(5, 4), return_indices=True), (1, 2, 5, 4)),
    ("2d-with-indices", fractional(2, 2, output_size=(6, 3), return_indices=False), (2, 2, 7, 5)),
    ("3d-size", fractional(3, 2, output_size=3, return_indices=True), (2, 2, 5, 6, 7)),
    ("3d-rect-ratio", fractional(3, (2, 1, 3), output_ratio=0.5, return_indices=True), (2, 2, 6, 8, 9)),
]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,fn,shape", FRACTIONAL, ids=[c[0] for c in FRACTIONAL])
def test_fractional_max_pools_match_torch_given_the_samples(name, fn, shape, dtype, batched):
    check_against_torch(fn, rand(shape if batched else shape[1:]), dtype, True)


def test_fractional_max_pools_draw_their_samples_from_cgrads_generator():
    x = cgrad.tensor(rand((2, 3, 9, 8)), requires_grad=True)
    cgrad.manual_seed(3)
    y, idx = F.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.5), return_indices=True)
    cgrad.manual_seed(3)
    y2 = nn.FractionalMaxPool2d(2, output_ratio=0.5)(x)
    assert y.shape == (2, 3, 4, 4) and y.grad_fn.name() == "FractionalMaxPool2DBackward0"
    np.testing.assert_array_equal(np_of(y), np_of(y2))
    picked = np.take_along_axis(np_of(x).reshape(2, 3, -1), np_of(idx).reshape(2, 3, -1), 2).reshape(y.shape)
    np.testing.assert_array_equal(np_of(y), picked)
    x3 = cgrad.tensor(rand((2, 5, 6, 7)))
    y3 = F.fractional_max_pool3d(x3, 2, output_size=(2, 3, 4))
    assert y3.shape == (2, 2, 3, 4)


def test_fractional_max_pool_modules_take_fixed_samples():
    arr, u = rand((2, 3, 7, 6)), np.random.default_rng(4).random((2, 3, 2))
    for lib in (nn, torch.nn):
        m = lib.FractionalMaxPool2d((2, 3), output_size=(4, 3), return_indices=True,
                                    _random_samples=(cgrad if lib is nn else torch).tensor(u))
        y, i = m((cgrad if lib is nn else torch).tensor(arr))
        if lib is nn:
            ours = np_of(y), np_of(i)
    np.testing.assert_array_equal(ours[0], np_of(y))
    np.testing.assert_array_equal(ours[1], np_of(i))


# ---- second derivatives ---------------------------------------------------------------------------

GRADCHECK = [
    ("max3d", lambda x: F.max_pool3d(x, 2, 1, 1, 1, True)),
    ("avg3d", lambda x: F.avg_pool3d(x, 3, 2, 1, True, False)),
    ("avg3d-divisor", lambda x: F.avg_pool3d(x, 2, 1, 1, divisor_override=3)),
    ("adaptive-avg3d", lambda x: F.adaptive_avg_pool3d(x, (2, 3, 2))),
    ("adaptive-max3d", lambda x: F.adaptive_max_pool3d(x, (3, 2, 2))),
    ("unpool2d", lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2)),
    ("unpool3d", lambda x: F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2)),
    ("lp2d", lambda x: F.lp_pool2d(x, 3, 2, 1)),
    ("fractional2d", lambda x: F.fractional_max_pool2d(x, 2, 3, _random_samples=cgrad.full((2, 4, 2), 0.3,
                                                                                          dtype=cgrad.float64))),
    ("fractional3d", lambda x: F.fractional_max_pool3d(x[None], 2, 2, _random_samples=cgrad.full((1, 2, 3), 0.6,
                                                                                                dtype=cgrad.float64))),
]


@pytest.mark.parametrize("name,fn", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck_and_gradgradcheck(name, fn):
    # distinct positive values 0.1 apart: no finite-difference step moves a maximum
    vals = np.random.default_rng(6).permutation(2 * 4 * 4 * 4).reshape(2, 4, 4, 4) * 0.1 + 0.5
    x = cgrad.tensor(vals, dtype=cgrad.float64, requires_grad=True)
    assert cgrad.autograd.gradcheck(fn, (x,))
    assert cgrad.autograd.gradgradcheck(fn, (x,))


DOUBLE = [
    ("max3d", lambda F, x: F.max_pool3d(x, 3, 2, 1)),
    ("adaptive-max3d", lambda F, x: F.adaptive_max_pool3d(x, (3, 2, 2))),
    ("avg3d", lambda F, x: F.avg_pool3d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    ("adaptive-avg3d", lambda F, x: F.adaptive_avg_pool3d(x, (3, 4, 2))),
    ("fractional3d", fractional(3, 2, output_size=(2, 3, 2))),
    ("unpool3d", lambda F, x: F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2, output_size=(4, 6, 5))),
]


@pytest.mark.parametrize("name,fn", DOUBLE, ids=[d[0] for d in DOUBLE])
def test_double_backward_matches_torch(name, fn):
    """gx = d(y . g)/dx with create_graph, then d(gx . v x)/dg and d(gx . v x)/dx: the backward's own nodes."""
    arr = rand((2, 2, 4, 6, 5), 7)
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
        (ggg,) = lib.autograd.grad((gg * gg).sum(), x)
        results.append((graph_of(gx.grad_fn, 2), np_of(gx), np_of(gg), np_of(gx2), np_of(ggg)))
    (names, *ours), (tnames, *theirs) = results
    assert names == tnames
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# ---- errors -------------------------------------------------------------------------------------------

def pooled(F_, x, k=2):
    return F_.max_pool2d(x, k, return_indices=True)


def bad_indices(y, at=1000):
    """Indices for y, all 0 but one, at: out of range (PyTorch reports the last bad one it meets, in any order)."""
    idx = (y.detach() * 0).long()
    idx[(0,) * idx.dim()] = at
    return idx


ERRORS = {
    "max3d-3d": lambda F, x: F.max_pool3d(x[0, 0], 2),
    "max3d-6d": lambda F, x: F.max_pool3d(x[None], 2),
    "max3d-k0": lambda F, x: F.max_pool3d(x, 0),
    "max3d-s-1": lambda F, x: F.max_pool3d(x, 2, -1),
    "max3d-p-1": lambda F, x: F.max_pool3d(x, 2, 1, -1),
    "max3d-p-big": lambda F, x: F.max_pool3d(x, 2, 2, 2),
    "max3d-p-half": lambda F, x: F.max_pool3d(x, 3, 1, 2, 2),
    "max3d-d0": lambda F, x: F.max_pool3d(x, 2, 1, 0, 0),
    "max3d-too-small": lambda F, x: F.max_pool3d(x, 5, 1, 0, 2),
    "max3d-k2": lambda F, x: F.max_pool3d(x, (2, 2)),
    "max3d-s2": lambda F, x: F.max_pool3d(x, 2, (2, 2)),
    "max3d-p2": lambda F, x: F.max_pool3d(x, 2, 2, (1, 1)),
    "max3d-d2": lambda F, x: F.max_pool3d(x, 2, 2, 0, (1, 1)),
    "max3d-k-float": lambda F, x: F.max_pool3d(x, 2.0),
    "max3d-k-overflow": lambda F, x: F.max_pool3d(x, 2 ** 31),
    "max3d-s-overflow": lambda F, x: F.max_pool3d(x, 2, 2 ** 33),
    "max3d-empty-c": lambda F, x: F.max_pool3d(x[:, :0], 2),
    "max3d-empty-d-unbatched": lambda F, x: F.max_pool3d(x[0, :, :0], 2),
    "avg3d-3d": lambda F, x: F.avg_pool3d(x[0, 0], 2),
    "avg3d-k0": lambda F, x: F.avg_pool3d(x, 0),
    "avg3d-k-big": lambda F, x: F.avg_pool3d(x, 5),
    "avg3d-k-big-padded": lambda F, x: F.avg_pool3d(x, 5, padding=2),
    "avg3d-p-big": lambda F, x: F.avg_pool3d(x, 3, padding=2),
    "avg3d-divisor0": lambda F, x: F.avg_pool3d(x, 2, divisor_override=0),
    "avg3d-divisor-float": lambda F, x: F.avg_pool3d(x, 2, divisor_override=2.0),
    "avg3d-k2": lambda F, x: F.avg_pool3d(x, (2, 2)),
    "avg3d-s2": lambda F, x: F.avg_pool3d(x, 2, (2, 2)),
    "avg3d-p2": lambda F, x: F.avg_pool3d(x, 2, 2, (1, 1)),
    "avg3d-empty-c": lambda F, x: F.avg_pool3d(x[:, :0], 2),
    "avg2d-divisor-float": lambda F, x: F.avg_pool2d(x[0], 2, divisor_override=2.0),
    "adaptive-avg3d-2": lambda F, x: F.adaptive_avg_pool3d(x, (2, 2)),
    "adaptive-avg3d-negative": lambda F, x: F.adaptive_avg_pool3d(x, (2, -1, 2)),
    "adaptive-avg3d-none-short": lambda F, x: F.adaptive_avg_pool3d(x[0, 0], (2, None, 3)),
    "adaptive-avg3d-empty": lambda F, x: F.adaptive_avg_pool3d(x[:, :, :0], 2),
    "adaptive-avg3d-3d": lambda F, x: F.adaptive_avg_pool3d(x[0, 0], 2),
    "adaptive-max3d-2": lambda F, x: F.adaptive_max_pool3d(x, (2, 2)),
    "adaptive-max3d-negative": lambda F, x: F.adaptive_max_pool3d(x, (2, -1, 2)),
    "adaptive-max3d-3d": lambda F, x: F.adaptive_max_pool3d(x[0, 0], 2),
    "adaptive-max3d-empty": lambda F, x: F.adaptive_max_pool3d(x[:, :, :0], 2),
    "unpool2d-float-indices": lambda F, x: F.max_unpool2d(pooled(F, x[0])[0], pooled(F, x[0])[1].float(), 2),
    "unpool2d-indices-shape": lambda F, x: F.max_unpool2d(pooled(F, x[0])[0], pooled(F, x[0])[1][0], 2),
    "unpool2d-2d": lambda F, x: F.max_unpool2d(*pooled(F, x[0, 0, 0]), 2),
    "unpool2d-5d": lambda F, x: F.max_unpool2d(x[..., :2, :2], (x[..., :2, :2] * 0).long(), 2),
    "unpool2d-empty-c": lambda F, x: F.max_unpool2d(*[t[:, :0] for t in pooled(F, x[0])], 2),
    "unpool2d-bad-index": lambda F, x: F.max_unpool2d(F.max_pool2d(x[0], 2), bad_indices(F.max_pool2d(x[0], 2)), 2),
    "unpool2d-size-1": lambda F, x: F.max_unpool2d(*pooled(F, x[0]), 2, output_size=(5,)),
    "unpool2d-size-out-of-range": lambda F, x: F.max_unpool2d(*pooled(F, x[0]), 2, output_size=(9, 4)),
    "unpool2d-size-small": lambda F, x: F.max_unpool2d(*pooled(F, x[0]), 2, output_size=(3, 3)),
    "unpool2d-padding": lambda F, x: F.max_unpool2d(F.max_pool2d(x[0], 2), bad_indices(F.max_pool2d(x[0], 2), 8), 2,
                                                    padding=1),
    "unpool2d-k-float": lambda F, x: F.max_unpool2d(*pooled(F, x[0]), 2.0),
    "unpool2d-long": lambda F, x: F.max_unpool2d(pooled(F, x[0])[0].long(), pooled(F, x[0])[1], 2),
    "unpool2d-indices-list": lambda F, x: F.max_unpool2d(pooled(F, x[0])[0], [1], 2),
    "unpool1d-bad-index": lambda F, x: F.max_unpool1d(F.max_pool1d(x[0, 0], 2), bad_indices(F.max_pool1d(x[0, 0], 2)),
                                                      2, 1),
    "unpool1d-float-indices": lambda F, x: F.max_unpool1d(F.max_pool1d(x[0, 0], 2), x[0, 0, :, :2], 2),
    "unpool1d-4d": lambda F, x: F.max_unpool1d(*F.max_pool2d(x[0], 2, return_indices=True), 2),
    "unpool3d-float-indices": lambda F, x: F.max_unpool3d(F.max_pool3d(x, 2), F.max_pool3d(x, 2), 2),
    "unpool3d-3d": lambda F, x: F.max_unpool3d(*F.max_pool2d(x[0, 0], 2, return_indices=True), 2),
    "unpool3d-stride0": lambda F, x: F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2, 0),
    "unpool3d-stride-1": lambda F, x: F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2, -1),
    "unpool3d-bad-index": lambda F, x: F.max_unpool3d(F.max_pool3d(x, 2), bad_indices(F.max_pool3d(x, 2)), 2, 1),
    "unpool3d-size-2": lambda F, x: F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2, output_size=(4, 4)),
    "unpool3d-empty-c": lambda F, x: F.max_unpool3d(*[t[:, :0] for t in F.max_pool3d(x, 2, return_indices=True)],
                                                   2),
    "fractional2d-no-size": lambda F, x: F.fractional_max_pool2d(x[0], 2),
    "fractional2d-ratio-3": lambda F, x: F.fractional_max_pool2d(x[0], 2, output_ratio=(0.5, 0.5, 0.5)),
    "fractional2d-ratio-float": lambda F, x: F.fractional_max_pool2d(x[0], 2, output_ratio=0.5),
    "fractional2d-k3": lambda F, x: F.fractional_max_pool2d(x[0], (2, 2, 2), 2),
    "fractional2d-k1": lambda F, x: F.fractional_max_pool2d(x[0], (2,), 2),
    "fractional2d-size3": lambda F, x: F.fractional_max_pool2d(x[0], 2, (2, 2, 2)),
    "fractional2d-k-float": lambda F, x: F.fractional_max_pool2d(x[0], 2.0, 2),
    "fractional2d-2d": lambda F, x: F.fractional_max_pool2d(x[0, 0, 0], 2, 2),
    "fractional2d-5d": lambda F, x: F.fractional_max_pool2d(x, 2, 2, _random_samples=x[:, :, 0, 0, :2]),
    "fractional2d-empty-c": lambda F, x: F.fractional_max_pool2d(x[0][:, :0], 2, 2),
    "fractional2d-too-large-h": lambda F, x: F.fractional_max_pool2d(x[0], 2, (4, 2)),
    "fractional2d-too-large-w": lambda F, x: F.fractional_max_pool2d(x[0], 3, (2, 5)),
    "fractional2d-negative": lambda F, x: F.fractional_max_pool2d(x[0], 2, -1),
    "fractional2d-samples-dtype": lambda F, x: F.fractional_max_pool2d(x[0], 2, 2,
                                                                       _random_samples=x[0, :, 0, :, :2].float()),
    "fractional2d-samples-2d": lambda F, x: F.fractional_max_pool2d(x[0], 2, 2, _random_samples=x[0, :, 0, 0, :2]),
    "fractional2d-samples-batch": lambda F, x: F.fractional_max_pool2d(x[0], 2, 2, _random_samples=x[0, :, :1, 0, :2]),
    "fractional2d-samples-channels": lambda F, x: F.fractional_max_pool2d(x[0], 2, 2,
                                                                          _random_samples=x[0, :2, :, 0, :2]),
    "fractional2d-samples-3": lambda F, x: F.fractional_max_pool2d(x[0], 2, 2, _random_samples=x[0, :, :, 0, :3]),
    "fractional2d-samples-list": lambda F, x: F.fractional_max_pool2d(x[0], 2, 2, _random_samples=[1]),
    "fractional2d-long": lambda F, x: F.fractional_max_pool2d(x[0].long(), 2, 2,
                                                              _random_samples=x[0, :, :, 0, :2].long()),
    "fractional3d-no-size": lambda F, x: F.fractional_max_pool3d(x, 2),
    "fractional3d-ratio-2": lambda F, x: F.fractional_max_pool3d(x, 2, output_ratio=(0.5, 0.5)),
    "fractional3d-k2": lambda F, x: F.fractional_max_pool3d(x, (2, 2), 2),
    "fractional3d-size2": lambda F, x: F.fractional_max_pool3d(x, 2, (2, 2)),
    "fractional3d-3d": lambda F, x: F.fractional_max_pool3d(x[0, 0], 2, 2),
    "fractional3d-empty-c": lambda F, x: F.fractional_max_pool3d(x[:, :0], 2, 2),
    "fractional3d-too-large-t": lambda F, x: F.fractional_max_pool3d(x, 2, (3, 2, 2)),
    "fractional3d-too-large-w": lambda F, x: F.fractional_max_pool3d(x, 2, (2, 2, 5)),
    "fractional3d-too-large-h": lambda F, x: F.fractional_max_pool3d(x, 2, (2, 3, 2)),
    "fractional3d-samples-2": lambda F, x: F.fractional_max_pool3d(x, 2, 2, _random_samples=x[:, :, 0, 0, :2]),
}


@pytest.mark.parametrize("grad", [False, True], ids=["no-grad", "requires-grad"])
@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name, grad):
    arr = rand((2, 3, 4, 4, 6))
    assert_same_error(lambda lib: ERRORS[name](lib_f(lib), lib.tensor(arr, requires_grad=grad)))


# ---- modules and top-level names --------------------------------------------------------------------

MODULES = [
    lambda m: m.MaxPool3d(2),
    lambda m: m.MaxPool3d((2, 1, 3), (1, 1, 1), 1, ceil_mode=True, return_indices=True),
    lambda m: m.AvgPool3d(2),
    lambda m: m.AvgPool3d(2, 1, 1, True, False, 3),
    lambda m: m.AdaptiveAvgPool3d(2),
    lambda m: m.AdaptiveMaxPool3d((2, None, 1), True),
    lambda m: m.MaxUnpool1d(2),
    lambda m: m.MaxUnpool2d(2, 1, [1, 0]),
    lambda m: m.MaxUnpool3d((2, 1, 3)),
    lambda m: m.LPPool1d(2, 3),
    lambda m: m.LPPool2d(2.0, (2, 3)),
    lambda m: m.LPPool3d(1, 2, 1, True),
    lambda m: m.FractionalMaxPool2d(2, output_size=3),
    lambda m: m.FractionalMaxPool3d((2, 1, 2), output_ratio=0.5, return_indices=True),
]

MODULE_ERRORS = [
    lambda m: m.FractionalMaxPool2d(2),
    lambda m: m.FractionalMaxPool2d(2, 3, 0.5),
    lambda m: m.FractionalMaxPool2d(2, output_ratio=1.5),
    lambda m: m.FractionalMaxPool3d(2, output_ratio=(0.5, 1.0, 0.5)),
    lambda m: m.FractionalMaxPool3d(2, output_ratio=(0.5, 0.5)),
]


@pytest.mark.parametrize("make", MODULE_ERRORS)
def test_module_argument_errors_match_torch(make):
    assert_same_error(lambda lib: make(nn if lib is cgrad else torch.nn))


@pytest.mark.parametrize("make", MODULES)
def test_module_reprs_match_torch(make):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    assert not list(ours.parameters())
    assert repr(nn.Sequential(ours)) == repr(torch.nn.Sequential(theirs))


def test_top_level_max_pool3d_matches_torch():
    check_against_torch(lambda F_, x: (cgrad if F_ is F else torch).max_pool3d(x, 2, 1, 1, 1, True),
                        rand((2, 3, 4, 5)), "float64", True)


def test_a_compiled_step_with_3d_pools_and_unpooling_replays_bit_identically():
    rng = np.random.default_rng(9)
    w0 = rng.standard_normal((2, 1, 1, 1)) * 0.5

    def make(w):
        opt = cgrad.optim.SGD([w], lr=0.05)

        def step(x):
            opt.zero_grad()
            h = (x * w).tanh()                                                         # (N, 2, 4, 4, 4)
            y, i = F.max_pool3d(h, 2, return_indices=True)
            h = F.max_unpool3d(y, i, 2) + F.avg_pool3d(h, 3, 1, 1) + F.adaptive_avg_pool3d(h, (4, 4, 4))
            h = F.adaptive_max_pool3d(h, 2) + F.lp_pool3d(h, 2, 2)
            loss = h.pow(2).mean()
            loss.backward()
            opt.step()
            return loss
        return step

    params = [cgrad.tensor(w0, dtype=cgrad.float32, requires_grad=True) for _ in range(2)]
    eager, compiled = make(params[0]), cgrad.compile(make(params[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to eager
        for k in range(5):
            x = cgrad.tensor(rng.standard_normal((2, 1, 4, 4, 4)), dtype=cgrad.float32)
            le, lc = eager(x), compiled(x)
            assert le.detach().numpy().tobytes() == lc.numpy().tobytes(), f"step {k}: loss differs"
            assert params[0].detach().numpy().tobytes() == params[1].detach().numpy().tobytes(), f"step {k}"
    assert compiled._cgrad_step.replays == 2
