"""Resampling (interpolate, upsample layers, pixel and channel shuffles), structured dropout,
Unflatten and Softmax2d, against PyTorch."""
import warnings

import numpy as np
import pytest

import cgrad
from cgrad import nn
from cgrad.nn import functional as F
from helpers import assert_same_error, random_leaves

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def compare(c_fn, t_fn, shape, dtype="float64", exact=False):
    """Same forward values (bit for bit when exact) and the same input gradient for a random upstream gradient."""
    cx, tx = random_leaves(shape, dtype)
    co, to = c_fn(cx), t_fn(tx)
    assert tuple(co.shape) == tuple(to.shape)
    tol = dict(rtol=1e-5, atol=2e-5) if dtype == "float32" else dict(rtol=1e-11, atol=1e-12)
    if exact:
        np.testing.assert_array_equal(co.detach().numpy(), to.detach().numpy())
    else:
        np.testing.assert_allclose(co.detach().numpy(), to.detach().numpy(), **tol)
    g = np.random.default_rng(1).standard_normal(tuple(to.shape)).astype(dtype)
    co.backward(cgrad.tensor(g))
    to.backward(torch.tensor(g))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), **tol)


# ---- interpolate ------------------------------------------------------------------------

SHAPES = {3: (2, 3, 5), 4: (2, 2, 5, 7), 5: (1, 2, 3, 4, 5)}
SPECS = [  # (size, scale_factor, recompute_scale_factor), given as functions of the number of spatial dims
    ("up-size", lambda k: (8, 9, 6)[:k] if k > 1 else 8, None, None),
    ("down-size", lambda k: (3, 2, 3)[:k], None, None),
    ("same-size", lambda k: SHAPES[k + 2][2:], None, None),
    ("scale-2", None, lambda k: 2, None),
    ("scale-half", None, lambda k: 0.5, None),
    ("scale-1.7", None, lambda k: 1.7, None),
    ("scale-0.6", None, lambda k: 0.6, None),
    ("scale-tuple", None, lambda k: (1.5, 2.3, 0.8)[:k], None),
    ("recompute-1.7", None, lambda k: 1.7, True),
    ("recompute-tuple", None, lambda k: (2.6, 0.7, 1.3)[:k], True),
]
MODE_DIMS = {"nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "area": (3, 4, 5), "linear": (3,), "bilinear": (4,),
             "trilinear": (5,), "bicubic": (4,)}
CASES = []
for _mode, _dims in MODE_DIMS.items():
    for _nd in _dims:
        for _ac in ((None,) if _mode in ("nearest", "nearest-exact", "area") else (False, True)):
            for _spec in SPECS:
                CASES.append((_mode, _nd, _ac, _spec))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode,ndim,align_corners,spec", CASES,
                         ids=[f"{m}-{n}d-ac{a}-{s[0]}" for m, n, a, s in CASES])
def test_interpolate_matches_torch(mode, ndim, align_corners, spec, dtype):
    _, size, scale, recompute = spec
    k = ndim - 2
    kw = dict(size=size(k) if size else None, scale_factor=scale(k) if scale else None, mode=mode,
              align_corners=align_corners, recompute_scale_factor=recompute)
    exact = mode in ("nearest", "nearest-exact")
    compare(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), SHAPES[ndim], dtype, exact)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ndim", [3, 4, 5])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_picks_torchs_pixels_for_every_size_pair(mode, ndim, dtype):
    """PyTorch rounds source positions differently for 4-D and for 3-D / 5-D inputs: same pixels in both."""
    def run(lib, x, **kw):
        return lib.nn.functional.interpolate(lib.tensor(x), mode=mode, **kw).numpy()

    lead = (1, 2) + (1,) * (ndim - 3)
    for n_in in range(1, 14):
        x = np.arange(n_in, dtype=dtype).reshape((1, 1) + (1,) * (ndim - 3) + (n_in,)) * np.ones(lead + (1,), dtype)
        for n_out in range(1, 30):
            size = lead[2:] + (n_out,)
            np.testing.assert_array_equal(run(cgrad, x, size=size), run(torch, x, size=size), f"{n_in} -> {n_out}")
        for s in (0.3, 0.7, 1.1, 1.3, 2.2, 2.5, 3.3, 4.7, 1 / 3, 1.05, 0.999):
            if int(n_in * s) > 0:
                sf = (1.0,) * (ndim - 3) + (s,)
                np.testing.assert_array_equal(run(cgrad, x, scale_factor=sf), run(torch, x, scale_factor=sf),
                                              f"{n_in} * {s}")


@pytest.mark.parametrize("mode,ac", [("linear", False), ("linear", True), ("nearest", None), ("area", None)])
def test_interpolate_to_and_from_length_one(mode, ac):
    for shape, size in (((1, 2, 1), 5), ((1, 2, 6), 1)):
        compare(lambda x: F.interpolate(x, size=size, mode=mode, align_corners=ac),
                lambda x: TF.interpolate(x, size=size, mode=mode, align_corners=ac), shape)


def test_interpolate_keeps_an_empty_batch_and_non_contiguous_input():
    c = F.interpolate(cgrad.zeros(0, 2, 3, 3), scale_factor=2, mode="bilinear")
    assert tuple(c.shape) == (0, 2, 6, 6)
    compare(lambda x: F.interpolate(x.transpose(2, 3), size=(4, 9), mode="bicubic", align_corners=False),
            lambda x: TF.interpolate(x.transpose(2, 3), size=(4, 9), mode="bicubic", align_corners=False),
            (2, 3, 5, 4))


def test_interpolate_returns_a_new_tensor_for_the_same_size():
    x = cgrad.randn(1, 2, 3, 3)
    y = F.interpolate(x, size=(3, 3), mode="area")
    y.zero_()
    assert float(x.abs().sum()) > 0


def test_interpolate_second_derivative():
    def fn(lib, x):
        return lib.nn.functional.interpolate(x.reshape(1, 1, 3, 4), scale_factor=1.5, mode="bicubic")
    from helpers import second_order
    data = np.random.default_rng(7).uniform(-2.0, 2.0, (3, 4))
    for ours, theirs in zip(second_order(cgrad, fn, data), second_order(torch, fn, data)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_deprecated_upsample_functions_warn_and_match():
    cx, tx = random_leaves((1, 2, 3, 4))
    for name, kw in (("upsample", dict(scale_factor=2, mode="bilinear")), ("upsample_nearest", dict(size=(5, 7))),
                     ("upsample_bilinear", dict(scale_factor=(2, 1.5)))):
        with pytest.warns(UserWarning, match=f"`nn.functional.{name}` is deprecated"):
            c = getattr(F, name)(cx, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = getattr(TF, name)(tx, **kw)
        np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_interpolate_antialias_is_refused_clearly():
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(cgrad.randn(1, 1, 4, 4), scale_factor=0.5, mode="bilinear", antialias=True)


def _interp(lib, shape, **kw):
    return lib.nn.functional.interpolate(lib.ones(*shape), **kw)


INTERP_ERRORS = [
    dict(shape=(1, 1, 4, 4), size=2, mode="nearest", align_corners=True),
    dict(shape=(1, 1, 4, 4), size=3, scale_factor=2),
    dict(shape=(1, 1, 4, 4)),
    dict(shape=(1, 1, 4, 4), size=3, recompute_scale_factor=True),
    dict(shape=(1, 1, 4, 4), size=(2, 2, 2)),
    dict(shape=(1, 1, 4, 4), size=(2.5, 2)),
    dict(shape=(1, 1, 4, 4), scale_factor=(2,)),
    dict(shape=(1, 1, 4, 4), size=(2, 2), mode="foo"),
    dict(shape=(1, 1, 4, 4), size=(2, 2), mode="linear"),
    dict(shape=(1, 1, 4, 4), size=(2, 2, 2), mode="trilinear"),
    dict(shape=(1, 1, 4), size=2, mode="bilinear"),
    dict(shape=(1, 1, 4, 4, 4), size=2, mode="bicubic"),
    dict(shape=(4, 4), scale_factor=2),
    dict(shape=(1, 1, 4), size=0),
    dict(shape=(1, 1, 4, 4), size=(0, 2), mode="bilinear"),
    dict(shape=(1, 1, 4, 4, 4), scale_factor=0.1, mode="trilinear"),
    dict(shape=(1, 1, 4, 4), scale_factor=-1.0),
    dict(shape=(1, 1, 4, 4), scale_factor=2, mode="nearest", antialias=True),
    dict(shape=(1, 1, 4, 4), scale_factor=2, mode="lanczos"),
    dict(shape=(1, 1, 4), scale_factor=-1.0, mode="area"),
    dict(shape=(1, 1, 4, 4), size=-2, mode="area"),
    dict(shape=(1, 1, 4, 4, 4), size=(2, -1, 2), mode="area"),
    dict(shape=(1, 1, 0), size=3, mode="area"),
    dict(shape=(1, 1, 0, 4), size=2, mode="area"),
    dict(shape=(1, 1, 4, 0, 4), size=2, mode="area"),
    dict(shape=(2, 0, 4, 4), size=2, mode="bilinear"),
    dict(shape=(2, 0, 4), size=2),
    dict(shape=(2, 0, 4, 4, 4), size=2),
]


@pytest.mark.parametrize("kw", INTERP_ERRORS, ids=[str(i) for i in range(len(INTERP_ERRORS))])
def test_interpolate_errors_match_torch(kw):
    assert_same_error(lambda lib: _interp(lib, **kw))


def test_area_with_an_empty_output_matches_torch():
    c = F.interpolate(cgrad.ones(1, 1, 4, 4), size=(0, 2), mode="area")
    assert tuple(c.shape) == (1, 1, 0, 2)


def test_size_may_be_numpy_integers():
    c = F.interpolate(cgrad.ones(1, 1, 4, 4), size=(np.int64(3), 2))
    assert tuple(c.shape) == (1, 1, 3, 2)


# ---- upsampling layers ------------------------------------------------------------------

MODULES = [
    ("Upsample", dict(scale_factor=2)), ("Upsample", dict(size=(3, 4), mode="bilinear")),
    ("Upsample", dict(scale_factor=(2, 1.5), mode="bicubic", align_corners=True)),
    ("Upsample", dict(size=5, mode="nearest-exact")), ("Upsample", dict(scale_factor=0.5, mode="area")),
    ("UpsamplingNearest2d", dict(size=3)), ("UpsamplingNearest2d", dict(scale_factor=2)),
    ("UpsamplingBilinear2d", dict(scale_factor=(2, 3))), ("UpsamplingBilinear2d", dict(size=(6, 5))),
]


@pytest.mark.parametrize("name,kw", MODULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(MODULES)])
def test_upsampling_layers_match_torch(name, kw):
    c, t = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(c) == repr(t)
    assert c.scale_factor == t.scale_factor and c.size == t.size and c.align_corners == t.align_corners
    compare(c, t, (2, 3, 4, 5))


# ---- pixel and channel shuffles ---------------------------------------------------------

@pytest.mark.parametrize("shape,r", [((1, 4, 2, 3), 2), ((2, 18, 3, 2), 3), ((8, 2, 3), 2), ((2, 3, 9, 1, 2), 3),
                                     ((2, 5, 3, 4), 1)])
def test_pixel_shuffle_round_trip_matches_torch(shape, r):
    compare(lambda x: F.pixel_shuffle(x, r), lambda x: TF.pixel_shuffle(x, r), shape, exact=True)
    out = (shape[:-3] + (shape[-3] // (r * r), shape[-2] * r, shape[-1] * r))
    compare(lambda x: F.pixel_unshuffle(x, r), lambda x: TF.pixel_unshuffle(x, r), out, exact=True)
    compare(lambda x: nn.PixelUnshuffle(r)(nn.PixelShuffle(r)(x)), lambda x: x * 1.0, shape, exact=True)


def test_pixel_shuffle_of_an_empty_batch():
    assert tuple(F.pixel_shuffle(cgrad.ones(0, 4, 2, 2), 2).shape) == (0, 1, 4, 4)
    assert tuple(F.pixel_unshuffle(cgrad.ones(0, 1, 4, 4), 2).shape) == (0, 4, 2, 2)


@pytest.mark.parametrize("shape,groups", [((2, 6, 3, 2), 3), ((2, 6, 4), 2), ((1, 8, 2, 1, 3), 4), ((3, 5, 2), 1),
                                          ((2, 4, 0), 2)])
def test_channel_shuffle_matches_torch(shape, groups):
    compare(lambda x: F.channel_shuffle(x, groups), lambda x: TF.channel_shuffle(x, groups), shape, exact=True)
    compare(nn.ChannelShuffle(groups), torch.nn.ChannelShuffle(groups), shape, exact=True)


SHUFFLE_ERRORS = [
    lambda lib: lib.nn.functional.pixel_shuffle(lib.ones(2, 8, 3, 3), 0),
    lambda lib: lib.nn.functional.pixel_shuffle(lib.ones(2, 8, 3, 3), 3),
    lambda lib: lib.nn.functional.pixel_shuffle(lib.ones(4, 4), 2),
    lambda lib: lib.nn.functional.pixel_shuffle(lib.ones(2, 8, 3, 3), 2.0),
    lambda lib: lib.nn.functional.pixel_unshuffle(lib.ones(2, 8, 3, 4), 2),
    lambda lib: lib.nn.functional.pixel_unshuffle(lib.ones(2, 8, 4, 3), 2),
    lambda lib: lib.nn.functional.pixel_unshuffle(lib.ones(2, 8, 4, 4), -1),
    lambda lib: lib.nn.functional.pixel_unshuffle(lib.ones(3, 3), 1),
    lambda lib: lib.nn.functional.channel_shuffle(lib.ones(2, 8, 3), 3),
    lambda lib: lib.nn.functional.channel_shuffle(lib.ones(2, 8, 3), 0),
    lambda lib: lib.nn.functional.channel_shuffle(lib.ones(2, 4), 2),
]


@pytest.mark.parametrize("fn", SHUFFLE_ERRORS, ids=[str(i) for i in range(len(SHUFFLE_ERRORS))])
def test_shuffle_errors_match_torch(fn):
    assert_same_error(fn)


# ---- structured dropout -----------------------------------------------------------------

def _channels_are_whole(out, x, scale, channel_axes):
    """Every channel of out is either all zero or x * scale throughout."""
    o = out.detach().numpy()
    ref = x.detach().numpy() * scale
    spatial = tuple(range(len(channel_axes), o.ndim))
    o = o.reshape(o.shape[:len(channel_axes)] + (-1,))
    ref = ref.reshape(o.shape)
    zero = np.all(o == 0, axis=-1)
    kept = np.all(np.isclose(o, ref, rtol=1e-6, atol=0), axis=-1)
    assert np.all(zero | kept), spatial
    return zero


@pytest.mark.parametrize("fname,shape,lead", [("dropout1d", (40, 50, 3), 2), ("dropout1d", (400, 3), 1),
                                              ("dropout2d", (20, 100, 2, 3), 2), ("dropout3d", (10, 200, 2, 1, 2), 2),
                                              ("dropout3d", (500, 2, 2, 2), 1)])
def test_feature_dropout_drops_whole_channels(fname, shape, lead):
    p = 0.3
    x = cgrad.rand(*shape, dtype=cgrad.float64) + 0.5
    x.requires_grad_()
    cgrad.manual_seed(0)
    out = getattr(F, fname)(x, p)
    zero = _channels_are_whole(out, x, 1 / (1 - p), shape[:lead])
    assert abs(zero.mean() - p) < 0.05
    out.sum().backward()
    g = x.grad.numpy().reshape(shape[:lead] + (-1,))
    np.testing.assert_allclose(g, np.where(zero, 0.0, 1 / (1 - p))[..., None] * np.ones_like(g))


@pytest.mark.parametrize("fname", ["dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"])
def test_dropout_variants_are_seeded_by_manual_seed(fname):
    x = cgrad.randn(4, 8, 3, 5) if fname != "dropout1d" else cgrad.randn(4, 8, 5)
    fn = getattr(F, fname)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cgrad.manual_seed(123)
        a = fn(x, 0.5, True).numpy()
        b = fn(x, 0.5, True).numpy()
        cgrad.manual_seed(123)
        c = fn(x, 0.5, True).numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"])
def test_dropout_layers_repr_and_eval_identity(name):
    for kw in ({}, dict(p=0.2), dict(p=0.7, inplace=True)):
        assert repr(getattr(nn, name)(**kw)) == repr(getattr(torch.nn, name)(**kw))
    m = getattr(nn, name)(0.4).eval()
    x = cgrad.randn(2, 3, 4) if name == "Dropout1d" else cgrad.randn(2, 3, 4, 5)
    np.testing.assert_array_equal(m(x).numpy(), x.numpy())
    m.train()
    assert not np.array_equal(m(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        getattr(nn, name)(1.5)


def test_alpha_dropout_defaults_to_identity_and_keeps_mean_and_variance():
    x = cgrad.randn(400, 500, dtype=cgrad.float64)
    np.testing.assert_array_equal(F.alpha_dropout(x, 0.3).numpy(), x.numpy())  # training=False by default
    np.testing.assert_array_equal(F.feature_alpha_dropout(x, 0.3).numpy(), x.numpy())
    for fn in (F.alpha_dropout, F.feature_alpha_dropout):
        for p in (0.1, 0.5):
            y = fn(x, p, True).numpy()
            assert abs(y.mean()) < 0.05 and abs(y.std() - 1) < 0.05, (fn.__name__, p, y.mean(), y.std())


@pytest.mark.parametrize("fname", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropout_values_are_torchs_affine_map(fname):
    """On a zero input the outputs are the two constants b (dropped) and a*0 + b (kept): torch's and ours agree."""
    c = np.unique(getattr(F, fname)(cgrad.zeros(50, 40, dtype=cgrad.float64), 0.35, True).numpy())
    t = np.unique(getattr(TF, fname)(torch.zeros(50, 40, dtype=torch.float64), 0.35, True).numpy())
    np.testing.assert_allclose(c, t, rtol=1e-14)
    x = cgrad.randn(30, 20, 4, dtype=cgrad.float64, requires_grad=True)
    y = getattr(F, fname)(x, 0.35, True)
    y.sum().backward()
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.35 + 1) * 0.65)
    kept = x.grad.numpy() != 0
    np.testing.assert_allclose(x.grad.numpy()[kept], a)
    np.testing.assert_allclose(y.detach().numpy()[~kept], t.min())
    if fname == "feature_alpha_dropout":
        assert np.all(kept.all(-1) | (~kept).all(-1))


@pytest.mark.parametrize("fname", ["dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"])
def test_dropout_variants_extreme_p_match_torch(fname):
    shape = (3, 4, 5) if fname == "dropout1d" else (2, 3, 4, 5)
    for p in (0.0, 1.0):
        cx, tx = random_leaves(shape)
        c, t = getattr(F, fname)(cx, p, True), getattr(TF, fname)(tx, p, True)
        np.testing.assert_array_equal(c.detach().numpy(), t.detach().numpy())
        c.sum().backward()
        t.sum().backward()
        np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy())


def test_inplace_dropout_writes_into_its_input():
    for fname, shape in (("dropout1d", (3, 5)), ("dropout2d", (2, 3, 4, 4)), ("dropout3d", (3, 2, 2, 2)),
                         ("alpha_dropout", (4, 5)), ("feature_alpha_dropout", (4, 5, 2))):
        x = cgrad.randn(*shape) + 5.0
        before = x.numpy().copy()
        y = getattr(F, fname)(x, 0.5, True, inplace=True)
        assert y is x and tuple(x.shape) == shape
        assert not np.array_equal(x.numpy(), before)


def test_dropout_dimension_warnings_and_errors_match_torch():
    for fname, shape, message in (("dropout2d", (3, 4), "Received a 2-D input to dropout2d"),
                                  ("dropout2d", (2, 3, 4), "Received a 3D input to dropout2d"),
                                  ("dropout3d", (2, 3, 4), "Received a 3-D input to dropout3d"),
                                  ("dropout3d", (1, 2, 3, 4, 5, 6), "Received a 6-D input to dropout3d")):
        with pytest.warns(UserWarning, match=message):
            getattr(F, fname)(cgrad.ones(*shape), 0.5)
        with pytest.warns(UserWarning, match=message):
            getattr(TF, fname)(torch.ones(*shape), 0.5)
    for call in (lambda lib: lib.nn.functional.dropout1d(lib.ones(2, 3, 4, 5)),
                 lambda lib: lib.nn.functional.dropout1d(lib.ones(2)),
                 lambda lib: lib.nn.functional.dropout2d(lib.ones(2, 3), 1.2),
                 lambda lib: lib.nn.functional.alpha_dropout(lib.ones(2, 3), -0.1),
                 lambda lib: lib.nn.functional.feature_alpha_dropout(lib.ones(5), 0.5, True)):
        assert_same_error(call)
    with pytest.warns(UserWarning):
        assert_same_error(lambda lib: lib.nn.functional.dropout2d(lib.ones(5), 0.5))


# ---- Unflatten and Softmax2d ------------------------------------------------------------

def test_unflatten_layer_matches_torch():
    for dim, sizes in ((1, (2, 3)), (-1, [2, -1]), (0, (4,))):
        c, t = nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)
        assert repr(c) == repr(t)
        compare(c, t, (4, 6), exact=True)
    for call in (lambda lib: lib.nn.Unflatten(1, 3), lambda lib: lib.nn.Unflatten(1, (3.0, 2))):
        assert_same_error(call)
    with pytest.raises(RuntimeError):
        nn.Unflatten(1, (2, 4))(cgrad.ones(3, 6))


def test_softmax2d_matches_torch():
    assert repr(nn.Softmax2d()) == repr(torch.nn.Softmax2d())
    for shape in ((2, 3, 4, 5), (3, 4, 5)):
        compare(nn.Softmax2d(), torch.nn.Softmax2d(), shape)
    for shape in ((2, 3), (1, 2, 3, 4, 5)):
        assert_same_error(lambda lib: lib.nn.Softmax2d()(lib.ones(*shape)))
