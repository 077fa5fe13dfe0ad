"""The margin, embedding, triplet and Gaussian losses of cgrad.nn.functional and their
modules, against torch: values and first derivatives for every reduction, batched and
unbatched inputs and the optional arguments, second derivatives, the deprecated
size_average / reduce arguments, module reprs, and the errors of wrong calls."""
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
import cgrad.nn.functional as F
from helpers import error_of

torch = pytest.importorskip("torch")

DTYPES = ["float64", "float32"]
REDUCTIONS = ["none", "mean", "sum"]
RTOL = {"float64": 1e-7, "float32": 2e-5}
ATOL = {"float64": 1e-10, "float32": 2e-6}


def fn_of(lib):
    return F if lib is cgrad else torch.nn.functional


def nn_of(lib):
    return nn if lib is cgrad else torch.nn


def close(a, b, dtype):
    a = np.asarray(a.detach().numpy(), dtype=np.float64)
    b = np.asarray(b.detach().numpy(), dtype=np.float64)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=ATOL[dtype])


def _leaves(lib, arrays, dtype, frozen):
    """Float arrays become dtype leaves that require grad (unless their index is in frozen),
    integer arrays int64 tensors."""
    out = []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.dtype.kind == "i":
            out.append(lib.tensor(a))
        else:
            out.append(lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=i not in frozen))
    return out


def _derivatives(lib, fn, arrays, dtype, frozen, second):
    xs = _leaves(lib, arrays, dtype, frozen)
    diff = [x for x in xs if x.requires_grad]
    y = fn(lib, *xs)
    w = lib.tensor(np.linspace(-1.5, 2.0, max(y.numel(), 1)).reshape(tuple(y.shape)), dtype=y.dtype)
    g1 = lib.autograd.grad(y, diff, w, create_graph=second, allow_unused=True)
    g1 = [lib.zeros_like(x) if g is None else g for g, x in zip(g1, diff)]
    g2 = [lib.zeros_like(x) for x in diff]
    total = sum((g * g * 0.5 + g).sum() for g in g1)
    if second and total.requires_grad:
        g2 = lib.autograd.grad(total, diff, allow_unused=True)
        g2 = [lib.zeros_like(x) if g is None else g for g, x in zip(g2, diff)]
    return y, g1, g2


def compare(fn, arrays, dtype, frozen=(), second=False):
    """fn(lib, *tensors) in cgrad and torch: the same value (shape and dtype too), the same
    gradients of a weighted sum of it for every floating input that requires grad, and with
    second, the same second derivatives."""
    yc, g1c, g2c = _derivatives(cgrad, fn, arrays, dtype, frozen, second)
    yt, g1t, g2t = _derivatives(torch, fn, arrays, dtype, frozen, second)
    assert str(yc.dtype).split(".")[1] == str(yt.dtype).split(".")[1]
    close(yc, yt, dtype)
    for a, b in zip(g1c, g1t):
        close(a, b, dtype)
    for a, b in zip(g2c, g2t):
        close(a, b, dtype)


def assert_same_error(fn):
    """fn(cgrad) raises what fn(torch) raises: the same type and first line of the message
    (a size prints as cgrad.Size where torch prints torch.Size)."""
    ours, theirs = error_of(fn, cgrad), error_of(fn, torch)
    assert theirs is not None and ours is not None, f"expected an error; torch: {theirs!r}, cgrad: {ours!r}"
    assert type(ours) is type(theirs), f"{ours!r} vs {theirs!r}"
    assert str(ours).replace("cgrad.Size", "torch.Size") == str(theirs).split("\n")[0]


RNG = np.random.default_rng(2026)
X = RNG.normal(0.0, 1.5, (4, 5))
Y = RNG.normal(0.0, 1.5, (4, 5))
Z = RNG.normal(0.0, 1.5, (4, 5))
SIGNS = np.array([1.0, -1.0, -1.0, 1.0])
POSITIVE = RNG.uniform(0.2, 3.0, (4, 5))


# ---- margin_ranking_loss ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_loss(dtype, reduction):
    a = np.array([1.0, 2.0, -0.5, 3.0, 0.25, -2.0])
    b = np.array([1.0, 2.5, -0.5, 1.0, 0.75, -1.0])  # ties: the hinge at exactly 0 with margin 0
    t = np.array([1.0, -1.0, -1.0, 1.0, 1.0, -1.0])
    for margin in (0, 0.5, -0.25):
        compare(lambda lib, x1, x2, y: fn_of(lib).margin_ranking_loss(x1, x2, y, margin=margin,
                                                                       reduction=reduction), [a, b, t], dtype)
    compare(lambda lib, x1, x2, y: fn_of(lib).margin_ranking_loss(x1, x2, y, 0.3, reduction=reduction),
            [X, Y, np.sign(Z)], dtype)
    # unbatched, and a target that broadcasts
    compare(lambda lib, x1, x2, y: fn_of(lib).margin_ranking_loss(x1, x2, y, reduction=reduction),
            [np.array(0.5), np.array(1.5), np.array(1.0)], dtype)
    compare(lambda lib, x1, x2, y: fn_of(lib).margin_ranking_loss(x1, x2, y, 1.0, reduction=reduction),
            [X, Y, SIGNS[:, None]], dtype)


# ---- hinge_embedding_loss --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss(dtype, reduction):
    x = np.array([[0.5, 1.0, 2.0, -1.0], [1.0, 0.0, 3.0, -0.5]])  # margin - x == 0 at 1.0
    t = np.array([[-1.0, -1.0, 1.0, -1.0], [1.0, -1.0, -1.0, 1.0]])
    for margin in (1.0, 0.0, 2.5):
        compare(lambda lib, a, y: fn_of(lib).hinge_embedding_loss(a, y, margin=margin, reduction=reduction),
                [x, t], dtype, frozen=(1,))
    compare(lambda lib, a, y: fn_of(lib).hinge_embedding_loss(a, y, reduction=reduction),
            [X, np.sign(Y).astype(np.int64)], dtype)
    # a target of neither sign counts both terms; a broadcasting target; a 0-d input
    compare(lambda lib, a, y: fn_of(lib).hinge_embedding_loss(a, y, 0.5, reduction=reduction),
            [x, np.array([0.0, 1.0, -1.0, 2.0])], dtype, frozen=(1,))
    compare(lambda lib, a, y: fn_of(lib).hinge_embedding_loss(a, y, reduction=reduction),
            [np.array(0.25), np.array(-1.0)], dtype, frozen=(1,))


# ---- soft_margin_loss ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss(dtype, reduction):
    big = np.array([[-30.0, 30.0, 0.0, 1.0], [2.0, -2.0, 0.5, -0.5]])
    compare(lambda lib, a, y: fn_of(lib).soft_margin_loss(a, y, reduction=reduction),
            [big, np.array([[1.0, 1.0, -1.0, 1.0], [-1.0, -1.0, 1.0, 1.0]])], dtype, frozen=(1,))
    compare(lambda lib, a, y: fn_of(lib).soft_margin_loss(a, y, reduction=reduction),
            [X, np.sign(Y).astype(np.int64)], dtype)
    compare(lambda lib, a, y: fn_of(lib).soft_margin_loss(a, y, reduction=reduction),
            [X, np.sign(Y[0])], dtype, frozen=(1,))
    compare(lambda lib, a, y: fn_of(lib).soft_margin_loss(a, y, reduction=reduction),
            [np.array(0.75), np.array(-1.0)], dtype, frozen=(1,))


def test_soft_margin_loss_keeps_the_input_dtype():
    for lib in (cgrad, torch):
        x = lib.tensor(X, dtype=lib.float32)
        assert fn_of(lib).soft_margin_loss(x, lib.tensor(np.sign(Y), dtype=lib.float64)).dtype == lib.float32
    compare(lambda lib, a: fn_of(lib).soft_margin_loss(a, lib.tensor(np.sign(Y), dtype=lib.float64),
                                                       reduction="none"), [X], "float32")


# ---- cosine_embedding_loss -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_loss(dtype, reduction):
    x1, x2 = X.copy(), Y.copy()
    x1[1] = 0.0  # a zero row: the squared norms are raised by 1e-12
    x2[2] = 2.0 * x1[2]  # parallel rows
    target = np.array([1, -1, -1, 1])
    for margin in (0, 0.5, -0.5):
        compare(lambda lib, a, b, y: fn_of(lib).cosine_embedding_loss(a, b, y, margin=margin, reduction=reduction),
                [x1, x2, target], dtype)
    # a float target, and one with entries of neither sign (which count nothing)
    compare(lambda lib, a, b, y: fn_of(lib).cosine_embedding_loss(a, b, y, 0.1, reduction=reduction),
            [X, Z, np.array([1.0, 0.0, -1.0, 3.0])], dtype, frozen=(2,))
    # unbatched: 1-D inputs with a 0-d target
    for t in (1, -1):
        compare(lambda lib, a, b, y: fn_of(lib).cosine_embedding_loss(a, b, y, -0.2, reduction=reduction),
                [X[0], Y[0], np.array(t)], dtype)


# ---- multilabel_soft_margin_loss -------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_soft_margin_loss(dtype, reduction):
    labels = (Y > 0).astype(np.float64)
    compare(lambda lib, a, y: fn_of(lib).multilabel_soft_margin_loss(a, y, reduction=reduction),
            [X, labels], dtype)
    compare(lambda lib, a, y: fn_of(lib).multilabel_soft_margin_loss(a, y, reduction=reduction),
            [X * 20.0, POSITIVE / 3.0], dtype)
    for weight in (POSITIVE[0], POSITIVE[:, :1], POSITIVE):
        compare(lambda lib, a, y, w: fn_of(lib).multilabel_soft_margin_loss(a, y, weight=w, reduction=reduction),
                [X, labels, weight], dtype)
    # unbatched: the classes are the only dim
    compare(lambda lib, a, y: fn_of(lib).multilabel_soft_margin_loss(a, y, None, reduction=reduction),
            [X[0], labels[0]], dtype)


# ---- triplet_margin_loss ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin_loss(dtype, reduction):
    for kwargs in ({}, {"margin": 0.5, "p": 1}, {"margin": 2.0, "p": 3.0, "eps": 0.1}, {"swap": True},
                   {"margin": 3.0, "p": 1.5, "swap": True}):
        compare(lambda lib, a, p, n: fn_of(lib).triplet_margin_loss(a, p, n, reduction=reduction, **kwargs),
                [X, Y, Z], dtype)
    # unbatched, and a positive that broadcasts over the batch
    compare(lambda lib, a, p, n: fn_of(lib).triplet_margin_loss(a, p, n, 1.5, swap=True, reduction=reduction),
            [X[0], Y[0], Z[0]], dtype)
    compare(lambda lib, a, p, n: fn_of(lib).triplet_margin_loss(a, p, n, 2.0, reduction=reduction),
            [X, Y[:1], Z], dtype)


def _cosine_distance(lib):
    return lambda a, b: 1.0 - fn_of(lib).cosine_similarity(a, b, dim=-1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin_with_distance_loss(dtype, reduction):
    for swap in (False, True):
        compare(lambda lib, a, p, n: fn_of(lib).triplet_margin_with_distance_loss(
            a, p, n, margin=1.5, swap=swap, reduction=reduction), [X, Y, Z], dtype)
        compare(lambda lib, a, p, n: fn_of(lib).triplet_margin_with_distance_loss(
            a, p, n, distance_function=_cosine_distance(lib), margin=0.5, swap=swap, reduction=reduction),
            [X, Y, Z], dtype)
    compare(lambda lib, a, p, n: fn_of(lib).triplet_margin_with_distance_loss(
        a, p, n, distance_function=lambda u, v: (u - v).abs().sum(-1), reduction=reduction), [X[1], Y[1], Z[1]],
        dtype)
    compare(lambda lib, a, p, n: fn_of(lib).triplet_margin_with_distance_loss(a, p, n, reduction=reduction),
            [X[2], Y[2], Z[2]], dtype)


# ---- gaussian_nll_loss -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_loss(dtype, reduction):
    var = POSITIVE.copy()
    var[0, :2] = [1e-9, 0.0]  # raised to eps in value, the gradient still var's own
    for full, eps in ((False, 1e-6), (True, 1e-6), (False, 0.5)):
        compare(lambda lib, a, y, v: fn_of(lib).gaussian_nll_loss(a, y, v, full=full, eps=eps,
                                                                   reduction=reduction), [X, Y, var], dtype)
    # the var shapes: one per row with the last dim dropped or kept as 1, one size-1 dim elsewhere
    for v in (POSITIVE[:, 0], POSITIVE[:, :1], POSITIVE[:1, :]):
        compare(lambda lib, a, y, w: fn_of(lib).gaussian_nll_loss(a, y, w, reduction=reduction), [X, Y, v], dtype)
    # a float var, a target that broadcasts, unbatched inputs
    compare(lambda lib, a, y: fn_of(lib).gaussian_nll_loss(a, y, 0.75, True, reduction=reduction), [X, Y], dtype)
    compare(lambda lib, a, y, v: fn_of(lib).gaussian_nll_loss(a, y, v, reduction=reduction),
            [X, Y[0], var], dtype)
    compare(lambda lib, a, y, v: fn_of(lib).gaussian_nll_loss(a, y, v, reduction=reduction),
            [X[0], Y[0], var[1]], dtype)
    compare(lambda lib, a, y, v: fn_of(lib).gaussian_nll_loss(a, y, v, reduction=reduction),
            [X[0], Y[0], np.array(2.0)], dtype)


# ---- multi_margin_loss -----------------------------------------------------------------------

MULTI_TARGET = np.array([0, 4, 2, 2])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin_loss(dtype, reduction):
    weight = POSITIVE[1]
    for p in (1, 2):
        for margin in (1.0, 0.3, -0.5):
            compare(lambda lib, a, t: fn_of(lib).multi_margin_loss(a, t, p=p, margin=margin, reduction=reduction),
                    [X, MULTI_TARGET], dtype)
        compare(lambda lib, a, t, w: fn_of(lib).multi_margin_loss(a, t, p, 0.8, w, reduction=reduction),
                [X, MULTI_TARGET, weight], dtype, frozen=(2,))
        # unbatched: a 1-D input with a 1-element or a 0-d target, and a 0-d input
        for t in (np.array([3]), np.array(1)):
            compare(lambda lib, a, y: fn_of(lib).multi_margin_loss(a, y, p=p, reduction=reduction), [X[0], t],
                    dtype)
        compare(lambda lib, a, y: fn_of(lib).multi_margin_loss(a, y, p=p, reduction=reduction),
                [np.array(0.5), np.array(0)], dtype)


def test_multi_margin_loss_passes_no_gradient_at_the_hinge():
    # margin - x[y] + x[d] is exactly 0 for d = 1, 2
    for p in (1, 2):
        compare(lambda lib, a, t: fn_of(lib).multi_margin_loss(a, t, p=p, reduction="sum"),
                [np.array([[1.0, 0.0, 0.0, -2.0], [0.5, 2.0, 1.5, 1.0]]), np.array([0, 2])], "float64")


# ---- multilabel_margin_loss ------------------------------------------------------------------

LABELS = np.array([[0, 4, -1, 2, 2],  # entries after the first -1 are ignored
                   [1, 1, -1, 0, 0],  # a class listed twice counts twice
                   [0, 1, 2, 3, 4],  # every class listed: nothing to compare against
                   [-1, 0, 0, 0, 0]])  # no class listed


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss(dtype, reduction):
    compare(lambda lib, a, t: fn_of(lib).multilabel_margin_loss(a, t, reduction=reduction), [X, LABELS], dtype)
    compare(lambda lib, a, t: fn_of(lib).multilabel_margin_loss(a, t, reduction=reduction),
            [X * 0.2, np.array([[3, -1, 0, 0, 0]] * 4)], dtype)
    # unbatched: a 1-D input and target, and a 0-d one
    compare(lambda lib, a, t: fn_of(lib).multilabel_margin_loss(a, t, reduction=reduction),
            [X[0], np.array([3, 1, -1, 0, 0])], dtype)
    compare(lambda lib, a, t: fn_of(lib).multilabel_margin_loss(a, t, reduction=reduction),
            [np.array(0.5), np.array(-1)], dtype)


def test_multilabel_margin_loss_passes_no_gradient_at_the_hinge():
    # 1 - x[0] + x[d] is exactly 0 for d = 1, 2
    compare(lambda lib, a, t: fn_of(lib).multilabel_margin_loss(a, t, reduction="sum"),
            [np.array([[1.0, 0.0, 0.0, -3.0]]), np.array([[0, -1, 0, 0]])], "float64")


# ---- second derivatives ----------------------------------------------------------------------

SECOND = {
    "margin_ranking": (lambda lib, a, b, y: fn_of(lib).margin_ranking_loss(a, b, y, 0.5), [X[:, 0], Y[:, 0], SIGNS]),
    "soft_margin": (lambda lib, a: fn_of(lib).soft_margin_loss(a, lib.tensor(np.sign(Y), dtype=a.dtype)), [X]),
    "cosine_embedding": (lambda lib, a, b: fn_of(lib).cosine_embedding_loss(a, b, lib.tensor([1, -1, -1, 1]), -0.5),
                         [X, Y]),
    "multilabel_soft_margin": (lambda lib, a, y, w: fn_of(lib).multilabel_soft_margin_loss(a, y, w),
                               [X, POSITIVE / 3.0, POSITIVE[0]]),
    "triplet": (lambda lib, a, p, n: fn_of(lib).triplet_margin_loss(a, p, n, 3.0, p=3.0, swap=True), [X, Y, Z]),
    "triplet_with_distance": (lambda lib, a, p, n: fn_of(lib).triplet_margin_with_distance_loss(
        a, p, n, distance_function=_cosine_distance(lib), margin=1.0), [X, Y, Z]),
    "gaussian_nll": (lambda lib, a, y, v: fn_of(lib).gaussian_nll_loss(a, y, v, full=True), [X, Y, POSITIVE]),
}
# torch has no second derivative of its multi_margin_loss kernel: finite differences only
MULTI_MARGIN_P2 = (lambda lib, a: fn_of(lib).multi_margin_loss(a, lib.tensor(MULTI_TARGET), p=2,
                                                               weight=lib.tensor(POSITIVE[1], dtype=a.dtype)), [X])


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_derivatives_match_torch(name):
    fn, arrays = SECOND[name]
    compare(fn, arrays, "float64", second=True)


@pytest.mark.parametrize("name", ["soft_margin", "cosine_embedding", "triplet", "gaussian_nll", "multi_margin_p2"])
def test_gradgradcheck(name):
    fn, arrays = MULTI_MARGIN_P2 if name == "multi_margin_p2" else SECOND[name]
    inputs = [cgrad.tensor(a, dtype=cgrad.float64, requires_grad=True) for a in arrays]
    assert cgrad.autograd.gradcheck(lambda *xs: fn(cgrad, *xs), inputs)
    assert cgrad.autograd.gradgradcheck(lambda *xs: fn(cgrad, *xs), inputs)


# ---- the deprecated size_average and reduce --------------------------------------------------

LEGACY = {
    "margin_ranking_loss": lambda lib, **kw: fn_of(lib).margin_ranking_loss(
        lib.tensor(X[0]), lib.tensor(Y[0]), lib.tensor(np.sign(Z[0])), **kw),
    "hinge_embedding_loss": lambda lib, **kw: fn_of(lib).hinge_embedding_loss(
        lib.tensor(X), lib.tensor(np.sign(Y)), **kw),
    "soft_margin_loss": lambda lib, **kw: fn_of(lib).soft_margin_loss(lib.tensor(X), lib.tensor(np.sign(Y)), **kw),
    "cosine_embedding_loss": lambda lib, **kw: fn_of(lib).cosine_embedding_loss(
        lib.tensor(X), lib.tensor(Y), lib.tensor(SIGNS), **kw),
    "multilabel_soft_margin_loss": lambda lib, **kw: fn_of(lib).multilabel_soft_margin_loss(
        lib.tensor(X), lib.tensor(POSITIVE / 3.0), **kw),
    "triplet_margin_loss": lambda lib, **kw: fn_of(lib).triplet_margin_loss(
        lib.tensor(X), lib.tensor(Y), lib.tensor(Z), **kw),
    "multi_margin_loss": lambda lib, **kw: fn_of(lib).multi_margin_loss(lib.tensor(X), lib.tensor(MULTI_TARGET), **kw),
    "multilabel_margin_loss": lambda lib, **kw: fn_of(lib).multilabel_margin_loss(
        lib.tensor(X), lib.tensor(LABELS), **kw),
}


@pytest.mark.parametrize("name", sorted(LEGACY))
@pytest.mark.parametrize("legacy, reduction", [({"size_average": False}, "sum"), ({"reduce": False}, "none"),
                                               ({"size_average": True, "reduce": True}, "mean")])
def test_deprecated_reduction_arguments(name, legacy, reduction):
    fn = LEGACY[name]
    for lib in (cgrad, torch):
        with pytest.warns(UserWarning, match=f"please use reduction='{reduction}' instead"):
            old = fn(lib, **legacy)
        np.testing.assert_allclose(old.numpy(), fn(lib, reduction=reduction).numpy(), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        close(fn(cgrad, **legacy), fn(torch, **legacy), "float64")


# ---- modules ---------------------------------------------------------------------------------

MODULES = [
    ("MarginRankingLoss", {}), ("MarginRankingLoss", {"margin": 0.5, "reduction": "sum"}),
    ("HingeEmbeddingLoss", {}), ("HingeEmbeddingLoss", {"margin": 2.0, "reduction": "none"}),
    ("SoftMarginLoss", {}), ("SoftMarginLoss", {"reduction": "sum"}),
    ("CosineEmbeddingLoss", {}), ("CosineEmbeddingLoss", {"margin": 0.25, "reduction": "none"}),
    ("MultiLabelSoftMarginLoss", {}), ("MultiLabelSoftMarginLoss", {"weight": POSITIVE[0], "reduction": "sum"}),
    ("TripletMarginLoss", {}), ("TripletMarginLoss", {"margin": 0.5, "p": 1.0, "eps": 0.01, "swap": True}),
    ("TripletMarginWithDistanceLoss", {}), ("TripletMarginWithDistanceLoss", {"margin": 2.0, "swap": True,
                                                                              "reduction": "none"}),
    ("GaussianNLLLoss", {}), ("GaussianNLLLoss", {"full": True, "eps": 0.1, "reduction": "sum"}),
    ("MultiMarginLoss", {}), ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": POSITIVE[1],
                                                  "reduction": "none"}),
    ("MultiLabelMarginLoss", {}), ("MultiLabelMarginLoss", {"reduction": "sum"}),
]


def _module(lib, name, kwargs):
    kwargs = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    return getattr(nn_of(lib), name)(**kwargs)


def _module_inputs(lib, name, x):
    """x (a leaf of shape 4 x 5) and the other arguments of the module's forward."""
    others = {
        "MarginRankingLoss": [x[:, 0] * 0.5, lib.tensor(SIGNS, dtype=x.dtype)],
        "HingeEmbeddingLoss": [lib.tensor(np.sign(Y), dtype=x.dtype)],
        "SoftMarginLoss": [lib.tensor(np.sign(Y), dtype=x.dtype)],
        "CosineEmbeddingLoss": [lib.tensor(Y, dtype=x.dtype), lib.tensor([1, -1, -1, 1])],
        "MultiLabelSoftMarginLoss": [lib.tensor(POSITIVE / 3.0, dtype=x.dtype)],
        "TripletMarginLoss": [lib.tensor(Y, dtype=x.dtype), lib.tensor(Z, dtype=x.dtype)],
        "TripletMarginWithDistanceLoss": [lib.tensor(Y, dtype=x.dtype), lib.tensor(Z, dtype=x.dtype)],
        "GaussianNLLLoss": [lib.tensor(Y, dtype=x.dtype), lib.tensor(POSITIVE, dtype=x.dtype)],
        "MultiMarginLoss": [lib.tensor(MULTI_TARGET)],
        "MultiLabelMarginLoss": [lib.tensor(LABELS)],
    }[name]
    first = x[:, 0] if name == "MarginRankingLoss" else x
    return [first] + others


def _ident(case):
    return case[0] + "".join(f"-{k}" for k in case[1])


@pytest.mark.parametrize("case", MODULES, ids=_ident)
def test_module_repr_and_attributes_match_torch(case):
    name, kwargs = case
    ours, theirs = _module(cgrad, name, kwargs), _module(torch, name, kwargs)
    assert repr(ours) == repr(theirs)
    for attr in ("reduction", "margin", "p", "eps", "swap", "full"):
        assert getattr(ours, attr, None) == getattr(theirs, attr, None), attr
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(list(ours.parameters())) == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MODULES, ids=_ident)
def test_module_forward_backward_match_torch(case, dtype):
    name, kwargs = case
    if "weight" in kwargs:
        kwargs = dict(kwargs, weight=kwargs["weight"].astype(np.float32 if dtype == "float32" else np.float64))
    compare(lambda lib, x: _module(lib, name, kwargs)(*_module_inputs(lib, name, x)), [X], dtype)


def test_triplet_margin_with_distance_module_takes_any_distance():
    for lib in (cgrad, torch):
        m = nn_of(lib).TripletMarginWithDistanceLoss(distance_function=_cosine_distance(lib), margin=0.5)
        assert repr(m) == "TripletMarginWithDistanceLoss()"
        m = nn_of(lib).TripletMarginWithDistanceLoss(distance_function=nn_of(lib).PairwiseDistance(p=1.0))
        assert repr(m) == "TripletMarginWithDistanceLoss(\n  (distance_function): PairwiseDistance()\n)"
    compare(lambda lib, a, p, n: nn_of(lib).TripletMarginWithDistanceLoss(
        distance_function=nn_of(lib).PairwiseDistance(p=1.0), swap=True)(a, p, n), [X, Y, Z], "float64")


def test_losses_are_exported():
    for name, _ in MODULES:
        assert name in nn.__all__ and issubclass(getattr(nn, name), nn.Module)
    for name in ["margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss", "cosine_embedding_loss",
                 "multilabel_soft_margin_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
                 "gaussian_nll_loss", "multi_margin_loss", "multilabel_margin_loss"]:
        assert name in F.__all__ and callable(getattr(F, name))


# ---- wrong calls -----------------------------------------------------------------------------

def _t(lib, shape, dtype=None, value=1.0, requires_grad=False):
    return lib.full(shape, value, dtype=dtype or lib.float32, requires_grad=requires_grad)


def _ints(lib, values):
    return lib.tensor(values)


ERRORS = {
    # margin_ranking_loss
    "margin_ranking_dims": lambda lib: fn_of(lib).margin_ranking_loss(_t(lib, (4, 3)), _t(lib, (4, 3)),
                                                                       _t(lib, (3,))),
    "margin_ranking_reduction": lambda lib: fn_of(lib).margin_ranking_loss(_t(lib, (3,)), _t(lib, (3,)),
                                                                           _t(lib, (3,)), reduction="batch"),
    "margin_ranking_sizes": lambda lib: fn_of(lib).margin_ranking_loss(_t(lib, (3,)), _t(lib, (2,)), _t(lib, (3,))),
    # hinge_embedding_loss
    "hinge_not_tensor": lambda lib: fn_of(lib).hinge_embedding_loss([1.0], _t(lib, (1,))),
    "hinge_reduction": lambda lib: fn_of(lib).hinge_embedding_loss(_t(lib, (2,)), _t(lib, (2,)), reduction="x"),
    "hinge_sizes": lambda lib: fn_of(lib).hinge_embedding_loss(_t(lib, (2, 3)), _t(lib, (4,))),
    # soft_margin_loss
    "soft_margin_not_tensor": lambda lib: fn_of(lib).soft_margin_loss([1.0], _t(lib, (1,))),
    "soft_margin_target_grad": lambda lib: fn_of(lib).soft_margin_loss(_t(lib, (3,)),
                                                                       _t(lib, (3,), requires_grad=True)),
    "soft_margin_broadcast": lambda lib: fn_of(lib).soft_margin_loss(_t(lib, (3,)), _t(lib, (2, 3))),
    "soft_margin_reduction": lambda lib: fn_of(lib).soft_margin_loss(_t(lib, (3,)), _t(lib, (3,)), reduction="x"),
    # cosine_embedding_loss
    "cosine_2d_target": lambda lib: fn_of(lib).cosine_embedding_loss(_t(lib, (4, 3)), _t(lib, (4, 3)),
                                                                     _t(lib, (4, 1))),
    "cosine_1d_target_1d_inputs": lambda lib: fn_of(lib).cosine_embedding_loss(_t(lib, (3,)), _t(lib, (3,)),
                                                                               _t(lib, (3,))),
    "cosine_0d_target_2d_inputs": lambda lib: fn_of(lib).cosine_embedding_loss(_t(lib, (4, 3)), _t(lib, (4, 3)),
                                                                               _t(lib, ())),
    "cosine_reduction": lambda lib: fn_of(lib).cosine_embedding_loss(_t(lib, (4, 3)), _t(lib, (4, 3)),
                                                                     _t(lib, (4,)), reduction="x"),
    # multilabel_soft_margin_loss
    "multilabel_soft_reduction": lambda lib: fn_of(lib).multilabel_soft_margin_loss(_t(lib, (4, 3)),
                                                                                    _t(lib, (4, 3)), reduction="x"),
    # triplet_margin_loss
    "triplet_margin_zero": lambda lib: fn_of(lib).triplet_margin_loss(_t(lib, (4, 3)), _t(lib, (4, 3)),
                                                                      _t(lib, (4, 3)), margin=0),
    "triplet_dims": lambda lib: fn_of(lib).triplet_margin_loss(_t(lib, (4, 3)), _t(lib, (4, 3)), _t(lib, (3,))),
    "triplet_reduction_before_margin": lambda lib: fn_of(lib).triplet_margin_loss(
        _t(lib, (4, 3)), _t(lib, (4, 3)), _t(lib, (4, 3)), margin=-1.0, reduction="x"),
    "triplet_module_margin": lambda lib: nn_of(lib).TripletMarginLoss(margin=-1),
    # triplet_margin_with_distance_loss
    "triplet_distance_margin": lambda lib: fn_of(lib).triplet_margin_with_distance_loss(
        _t(lib, (4, 3)), _t(lib, (4, 3)), _t(lib, (4, 3)), margin=0.0),
    "triplet_distance_dims": lambda lib: fn_of(lib).triplet_margin_with_distance_loss(
        _t(lib, (3,)), _t(lib, (4, 3)), _t(lib, (4, 3))),
    "triplet_distance_reduction": lambda lib: fn_of(lib).triplet_margin_with_distance_loss(
        _t(lib, (4, 3)), _t(lib, (4, 3)), _t(lib, (4, 3)), reduction="batchmean"),
    "triplet_distance_module_margin": lambda lib: nn_of(lib).TripletMarginWithDistanceLoss(margin=0),
    "triplet_distance_positional": lambda lib: fn_of(lib).triplet_margin_with_distance_loss(
        _t(lib, (4, 3)), _t(lib, (4, 3)), _t(lib, (4, 3)), None),
    # gaussian_nll_loss
    "gaussian_negative_float": lambda lib: fn_of(lib).gaussian_nll_loss(_t(lib, (4, 3)), _t(lib, (4, 3)), -1.0),
    "gaussian_negative_entry": lambda lib: fn_of(lib).gaussian_nll_loss(_t(lib, (4, 3)), _t(lib, (4, 3)),
                                                                        _t(lib, (4, 3), value=-0.5)),
    "gaussian_var_size": lambda lib: fn_of(lib).gaussian_nll_loss(_t(lib, (4, 3)), _t(lib, (4, 3)), _t(lib, (3,))),
    "gaussian_var_two_mismatches": lambda lib: fn_of(lib).gaussian_nll_loss(_t(lib, (4, 3)), _t(lib, (4, 3)),
                                                                            _t(lib, (1, 1))),
    "gaussian_var_0d": lambda lib: fn_of(lib).gaussian_nll_loss(_t(lib, (4, 3)), _t(lib, (4, 3)), _t(lib, ())),
    "gaussian_reduction": lambda lib: fn_of(lib).gaussian_nll_loss(_t(lib, (4, 3)), _t(lib, (4, 3)),
                                                                   _t(lib, (4, 3)), reduction="x"),
    # multi_margin_loss
    "multi_margin_p": lambda lib: fn_of(lib).multi_margin_loss(_t(lib, (4, 3)), _ints(lib, [0, 1, 2, 0]), p=3),
    "multi_margin_weight_2d": lambda lib: fn_of(lib).multi_margin_loss(_t(lib, (4, 3)), _ints(lib, [0, 1, 2, 0]),
                                                                       weight=_t(lib, (1, 3))),
    "multi_margin_weight_size": lambda lib: fn_of(lib).multi_margin_loss(_t(lib, (4, 3)), _ints(lib, [0, 1, 2, 0]),
                                                                         weight=_t(lib, (4,))),
    "multi_margin_weight_grad": lambda lib: fn_of(lib).multi_margin_loss(
        _t(lib, (4, 3)), _ints(lib, [0, 1, 2, 0]), weight=_t(lib, (3,), requires_grad=True)),
    "multi_margin_weight_dtype": lambda lib: fn_of(lib).multi_margin_loss(
        _t(lib, (4, 3)), _ints(lib, [0, 1, 2, 0]), weight=_t(lib, (3,), lib.float64)),
    "multi_margin_target_size": lambda lib: fn_of(lib).multi_margin_loss(_t(lib, (4, 3)), _ints(lib, [0, 1, 2])),
    "multi_margin_target_2d": lambda lib: fn_of(lib).multi_margin_loss(_t(lib, (4, 3)), _ints(lib, [[0], [1]])),
    "multi_margin_target_unbatched": lambda lib: fn_of(lib).multi_margin_loss(_t(lib, (3,)), _ints(lib, [0, 1])),
    "multi_margin_target_range": lambda lib: fn_of(lib).multi_margin_loss(_t(lib, (4, 3)), _ints(lib, [0, 3, 1, 0])),
    "multi_margin_target_negative": lambda lib: fn_of(lib).multi_margin_loss(_t(lib, (2, 3)), _ints(lib, [0, -1])),
    "multi_margin_target_float": lambda lib: fn_of(lib).multi_margin_loss(_t(lib, (4, 3)), _t(lib, (4,))),
    "multi_margin_input_3d": lambda lib: fn_of(lib).multi_margin_loss(_t(lib, (2, 3, 4)), _ints(lib, [0, 1])),
    "multi_margin_no_classes": lambda lib: fn_of(lib).multi_margin_loss(_t(lib, (4, 0)), _ints(lib, [0, 1, 2, 0])),
    "multi_margin_input_long": lambda lib: fn_of(lib).multi_margin_loss(_ints(lib, [[1, 2], [3, 4]]),
                                                                        _ints(lib, [0, 1])),
    "multi_margin_reduction": lambda lib: fn_of(lib).multi_margin_loss(_t(lib, (4, 3)), _ints(lib, [0, 1, 2, 0]),
                                                                       reduction="x"),
    "multi_margin_module_p": lambda lib: nn_of(lib).MultiMarginLoss(p=3),
    "multi_margin_module_weight": lambda lib: nn_of(lib).MultiMarginLoss(weight=_t(lib, (2, 3))),
    # multilabel_margin_loss
    "multilabel_target_size": lambda lib: fn_of(lib).multilabel_margin_loss(_t(lib, (4, 3)),
                                                                            _ints(lib, [[0, 1]] * 4)),
    "multilabel_target_unbatched": lambda lib: fn_of(lib).multilabel_margin_loss(_t(lib, (3,)), _ints(lib, [0, -1])),
    "multilabel_target_batched_1d": lambda lib: fn_of(lib).multilabel_margin_loss(_t(lib, (1, 3)),
                                                                                  _ints(lib, [0, -1, 1])),
    "multilabel_target_too_large": lambda lib: fn_of(lib).multilabel_margin_loss(_t(lib, (2, 3)),
                                                                                 _ints(lib, [[0, 3, -1]] * 2)),
    "multilabel_target_too_small": lambda lib: fn_of(lib).multilabel_margin_loss(_t(lib, (2, 3)),
                                                                                 _ints(lib, [[0, -2, -1]] * 2)),
    "multilabel_target_float": lambda lib: fn_of(lib).multilabel_margin_loss(_t(lib, (2, 3)), _t(lib, (2, 3))),
    "multilabel_input_3d": lambda lib: fn_of(lib).multilabel_margin_loss(_t(lib, (2, 3, 4)),
                                                                         _ints(lib, [[[0] * 4] * 3] * 2)),
    "multilabel_input_long": lambda lib: fn_of(lib).multilabel_margin_loss(_ints(lib, [[1, 2]]), _ints(lib, [[0, 1]])),
    "multilabel_reduction": lambda lib: fn_of(lib).multilabel_margin_loss(_t(lib, (2, 3)), _ints(lib, [[0, 1, -1]] * 2),
                                                                          reduction="x"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_wrong_calls_raise_as_torch(name):
    assert_same_error(ERRORS[name])
