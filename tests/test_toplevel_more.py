"""The default generator's state and seeds, print options, process settings, window functions,
PyTorch's top-level forms of nn functions, a real tensor's complex-number and storage queries,
element loops, resize_, new(), histogram, rsub, fill, scalar_tensor, range and asarray: against torch."""
import pickle
import warnings

import numpy as np
import pytest

import cgrad
from helpers import assert_same_error

torch = pytest.importorskip("torch")


def _np(t):
    return t.detach().numpy()


# ---- random state -------------------------------------------------------------------------------

def test_rng_state_round_trip():
    cgrad.manual_seed(5)
    state = cgrad.get_rng_state()
    a = cgrad.randn(7)  # leaves a spare normal draw
    b = cgrad.rand(3)
    cgrad.set_rng_state(state)
    np.testing.assert_array_equal(_np(cgrad.randn(7)), _np(a))
    np.testing.assert_array_equal(_np(cgrad.rand(3)), _np(b))


def test_rng_state_keeps_the_spare_normal():
    cgrad.manual_seed(11)
    cgrad.randn(1)  # one of a pair used: the other is the spare
    state = cgrad.random.get_rng_state()
    after = _np(cgrad.randn(5))
    cgrad.random.set_rng_state(state)
    np.testing.assert_array_equal(_np(cgrad.randn(5)), after)


def test_manual_seed_returns_the_default_generator_and_initial_seed():
    g = cgrad.manual_seed(123)
    assert g is cgrad.default_generator
    assert cgrad.initial_seed() == 123 == cgrad.random.initial_seed()
    assert cgrad.manual_seed(-1).initial_seed() == torch.manual_seed(-1).initial_seed()
    assert cgrad.manual_seed(2.7).initial_seed() == torch.manual_seed(2.7).initial_seed() == 2
    with pytest.raises(ValueError):
        cgrad.manual_seed("a")


def test_default_generator_draws_as_the_default():
    cgrad.manual_seed(3)
    a = _np(cgrad.rand(4))
    cgrad.manual_seed(3)
    b = _np(cgrad.rand(4, generator=cgrad.default_generator))
    np.testing.assert_array_equal(a, b)


def test_seed_is_random_and_recorded():
    s1, s2 = cgrad.seed(), cgrad.seed()
    assert s1 != s2 and cgrad.initial_seed() == s2 and 0 <= s2 < 2 ** 63
    g = cgrad.Generator()
    s = g.seed()
    assert g.initial_seed() == s


def test_generator_state_clone_and_pickle():
    g = cgrad.Generator().manual_seed(9)
    cgrad.rand(2, generator=g)
    h = g.clone_state()
    np.testing.assert_array_equal(_np(cgrad.randn(3, generator=g)), _np(cgrad.randn(3, generator=h)))
    k = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(_np(cgrad.rand(3, generator=g)), _np(cgrad.rand(3, generator=k)))
    assert g.device == cgrad.device("cpu")
    g2 = cgrad.Generator().set_state(g.get_state())
    assert g2.initial_seed() == 9


def test_set_state_rejects_foreign_states():
    g = cgrad.Generator()
    with pytest.raises(TypeError, match="must be Tensor"):
        g.set_state([1, 2])
    with pytest.raises(RuntimeError, match="an int64 tensor of 7 elements"):
        g.set_state(cgrad.zeros(7))
    with pytest.raises(RuntimeError, match="all zero"):
        g.set_state(cgrad.zeros(7, dtype=cgrad.int64))
    with pytest.raises(RuntimeError, match="CPU only"):
        cgrad.Generator("cuda")


def test_fork_rng_restores_the_state():
    cgrad.manual_seed(4)
    with cgrad.random.fork_rng():
        cgrad.rand(10)
    a = _np(cgrad.rand(3))
    cgrad.manual_seed(4)
    np.testing.assert_array_equal(a, _np(cgrad.rand(3)))
    with cgrad.random.fork_rng(enabled=False):
        cgrad.rand(1)


# ---- print options ---------------------------------------------------------------------------------

PRINT_CASES = [
    dict(precision=2),
    dict(precision=7),
    dict(threshold=5),
    dict(threshold=5, edgeitems=1),
    dict(linewidth=30),
    dict(profile="short"),
    dict(profile="full"),
    dict(sci_mode=True),
    dict(sci_mode=False),
    dict(profile="short", precision=6),
]
PRINT_VALUES = [
    [1.123456789, -2.5, 3.0],
    [[1e-5, 1.0], [3.0, 4.0]],
    [1.0, 2.0, 3.0],
    list(np.linspace(-3, 3, 40)),
    [123456789.0, 1.5],
    [float("nan"), float("inf"), 0.0, -1.25],
]


@pytest.mark.parametrize("opts", PRINT_CASES, ids=str)
@pytest.mark.parametrize("values", PRINT_VALUES, ids=range(len(PRINT_VALUES)))
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_set_printoptions_matches_torch(opts, values, dtype):
    if dtype == "int64":
        values = np.nan_to_num(np.asarray(values, dtype=np.float64), posinf=7, neginf=-7).astype(np.int64).tolist()
    try:
        cgrad.set_printoptions(**opts)
        torch.set_printoptions(**opts)
        ours = repr(cgrad.tensor(values, dtype=getattr(cgrad, dtype)))
        theirs = repr(torch.tensor(values, dtype=getattr(torch, dtype)))
        assert ours == theirs.replace("torch.", "cgrad.")
        big = np.arange(2000.0).reshape(40, 50) / 7
        assert repr(cgrad.tensor(big)) == repr(torch.tensor(big)).replace("torch.", "cgrad.")
    finally:
        cgrad.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


def test_printoptions_context_restores():
    from cgrad._tensor_str import get_printoptions, printoptions
    before = get_printoptions()
    with printoptions(precision=1):
        assert repr(cgrad.tensor([1.26])) == "tensor([1.3])"
    assert get_printoptions() == before


# ---- settings ------------------------------------------------------------------------------------

def test_deterministic_settings_round_trip():
    try:
        for lib in (cgrad, torch):
            lib.use_deterministic_algorithms(True, warn_only=True)
            assert lib.are_deterministic_algorithms_enabled()
            assert lib.is_deterministic_algorithms_warn_only_enabled()
            assert lib.get_deterministic_debug_mode() == 1
            lib.set_deterministic_debug_mode("error")
            assert lib.get_deterministic_debug_mode() == 2
            assert not lib.is_deterministic_algorithms_warn_only_enabled()
            lib.set_deterministic_debug_mode(0)
            assert not lib.are_deterministic_algorithms_enabled()
    finally:
        cgrad.use_deterministic_algorithms(False)
        torch.use_deterministic_algorithms(False)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.set_deterministic_debug_mode(5),
    lambda lib: lib.set_deterministic_debug_mode("x"),
    lambda lib: lib.use_deterministic_algorithms(1),
])
def test_deterministic_setting_errors(fn):
    assert_same_error(fn)


def test_warn_always_default_device_typename():
    try:
        cgrad.set_warn_always(True)
        assert cgrad.is_warn_always_enabled()
    finally:
        cgrad.set_warn_always(False)
    assert not cgrad.is_warn_always_enabled()
    assert str(cgrad.get_default_device()) == str(torch.get_default_device()) == "cpu"
    cgrad.set_default_device("cpu")
    cgrad.set_default_device(None)
    try:  # as torch's: another device can be named, and factories then fail there
        cgrad.set_default_device("cuda")
        assert cgrad.get_default_device() == cgrad.device("cuda")
        with pytest.raises(AssertionError, match="not compiled with CUDA"):
            cgrad.zeros(1)
    finally:
        cgrad.set_default_device(None)
    assert cgrad.typename(cgrad.zeros(1)) == torch.typename(torch.zeros(1))
    assert cgrad.typename(cgrad.zeros(1, dtype=cgrad.int64)) == torch.typename(torch.zeros(1, dtype=torch.int64))
    assert cgrad.typename(3) == torch.typename(3) == "int"
    assert cgrad.typename(cgrad.nn.Linear) == "cgrad.nn.modules.linear.Linear"
    assert cgrad.typename(cgrad.nn.Linear(1, 1)) == "cgrad.nn.modules.linear.Linear"
    assert cgrad.typename(cgrad.nn.Linear(1, 1)) == torch.typename(torch.nn.Linear(1, 1)).replace("torch", "cgrad")


# ---- windows ---------------------------------------------------------------------------------------

WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 8, 17])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_windows_match_torch(name, n, periodic, dtype):
    ours = getattr(cgrad, name)(n, periodic, dtype=getattr(cgrad, dtype))
    theirs = getattr(torch, name)(n, periodic, dtype=getattr(torch, dtype))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    tol = 2e-7 if dtype == "float32" else 1e-15
    np.testing.assert_allclose(_np(ours), theirs.numpy(), rtol=0, atol=tol)


def test_window_options():
    np.testing.assert_allclose(_np(cgrad.hamming_window(9, False, 0.6, 0.3)),
                               torch.hamming_window(9, False, 0.6, 0.3).numpy(), atol=1e-7)
    np.testing.assert_allclose(_np(cgrad.kaiser_window(9, True, 5.0, dtype=cgrad.float64)),
                               torch.kaiser_window(9, True, 5.0, dtype=torch.float64).numpy(), atol=1e-14)
    w = cgrad.hann_window(5, requires_grad=True)
    assert w.requires_grad and w.is_leaf and w.dtype == cgrad.float32


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("fn", [lambda f: f(-1), lambda f: f(5, dtype="int64")])
def test_window_errors(name, fn):
    def call(lib):
        kwargs_fn = getattr(lib, name)
        return fn(lambda *a, dtype=None: kwargs_fn(*a, **({} if dtype is None else {"dtype": getattr(lib, dtype)})))
    assert_same_error(call)


# ---- top-level nn forms ----------------------------------------------------------------------------

def _pair(shape, seed=0, positive=False):
    a = np.random.default_rng(seed).standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.1
    return (cgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True))


NN_CASES = {
    "batch_norm": lambda L, x: L.batch_norm(x, None, None, L.zeros(4, dtype=L.float64), L.ones(4, dtype=L.float64),
                                            True, 0.1, 1e-5, False),
    "instance_norm": lambda L, x: L.instance_norm(x.reshape(1, 3, 4), None, None, None, None, True, 0.1, 1e-5, False),
    "layer_norm": lambda L, x: L.layer_norm(x, (4,)),
    "group_norm": lambda L, x: L.group_norm(x, 2),
    "rms_norm": lambda L, x: L.rms_norm(x, [4], None, 1e-6),
    "dropout_eval": lambda L, x: L.dropout(x, 0.5, False),
    "alpha_dropout_eval": lambda L, x: L.alpha_dropout(x, 0.5, False),
    "feature_alpha_dropout_eval": lambda L, x: L.feature_alpha_dropout(x, 0.5, False),
    "feature_dropout_eval": lambda L, x: L.feature_dropout(x, 0.3, False),
    "dropout_p0": lambda L, x: L.dropout(x, 0.0, True),
    "celu": lambda L, x: L.celu(x, 0.7),  # PyTorch rounds 1 / alpha to float in the backward
    "selu": lambda L, x: L.selu(x),
    "rrelu_eval": lambda L, x: L.rrelu(x, 0.1, 0.3, False),
    "threshold": lambda L, x: L.threshold(x, 0.1, -2.0),
    "hardshrink": lambda L, x: L.hardshrink(x, 0.3),
    "pixel_shuffle": lambda L, x: L.pixel_shuffle(x.reshape(1, 4, 1, 3), 2),
    "pixel_unshuffle": lambda L, x: L.pixel_unshuffle(x.reshape(1, 1, 2, 6), 2),
    "channel_shuffle": lambda L, x: L.channel_shuffle(x.reshape(1, 6, 2), 3),
    "cosine_similarity": lambda L, x: L.cosine_similarity(x, x.flip(0), 1),
    "pairwise_distance": lambda L, x: L.pairwise_distance(x[0], x[1], 1.5),
    "constant_pad_nd": lambda L, x: L.constant_pad_nd(x, (1, 2), 0.5),
    "kl_div": lambda L, x: L.kl_div(x, x.detach().exp(), 1),
    "kl_div_default": lambda L, x: L.kl_div(x, x.detach().exp()),
    "hinge_default": lambda L, x: L.hinge_embedding_loss(x, L.ones(3, 4, dtype=L.float64).neg()),
    "bce_logits_default": lambda L, x: L.binary_cross_entropy_with_logits(x, x.detach().sigmoid()),
    "kl_div_sum_log": lambda L, x: L.kl_div(x, x.detach().flip(0), 2, log_target=True),
    "bce_logits": lambda L, x: L.binary_cross_entropy_with_logits(x, x.detach().sigmoid(), None, None, 0),
    "margin_ranking": lambda L, x: L.margin_ranking_loss(x[0], x[1], L.tensor([1.0, -1, 1, -1], dtype=L.float64),
                                                         0.2, 2),
    "hinge_embedding": lambda L, x: L.hinge_embedding_loss(x, L.ones(3, 4, dtype=L.float64).neg(), 0.5),
    "cosine_embedding": lambda L, x: L.cosine_embedding_loss(x[:2], x[1:], L.tensor([1.0, -1], dtype=L.float64)),
    "poisson_nll": lambda L, x: L.poisson_nll_loss(x, x.detach().abs(), True, False, 1e-8, 1),
    "triplet": lambda L, x: L.triplet_margin_loss(x[0:1], x[1:2], x[2:3], 1.0, 2, 1e-6, True, 1),
    "bilinear": lambda L, x: L.bilinear(x, x, L.ones(2, 4, 4, dtype=L.float64), None),
    "embedding": lambda L, x: L.embedding(x, L.tensor([[0, 2], [1, 1]]), -1),
    "embedding_pad": lambda L, x: L.embedding(x, L.tensor([0, 2, 1]), 1),
}


@pytest.mark.parametrize("name", list(NN_CASES))
def test_toplevel_nn_forms_match_torch(name):
    fn = NN_CASES[name]
    x_c, x_t = _pair((3, 4), seed=len(name))
    out_c, out_t = fn(cgrad, x_c), fn(torch, x_t)
    np.testing.assert_allclose(_np(out_c), out_t.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=name)
    w = np.random.default_rng(1).standard_normal(tuple(out_t.shape))
    (out_c * cgrad.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(_np(x_c.grad), x_t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_native_channel_shuffle():
    a = np.arange(12.0).reshape(1, 6, 2)
    np.testing.assert_array_equal(_np(cgrad.native_channel_shuffle(cgrad.tensor(a), 2)),
                                  torch.native_channel_shuffle(torch.tensor(a), 2).numpy())


def test_toplevel_inplace_forms():
    for name, args in [("celu_", (0.5,)), ("selu_", ()), ("threshold_", (0.0, 3.0)), ("dropout_", (0.0, True)),
                       ("feature_dropout_", (0.0, True)), ("alpha_dropout_", (0.0, False)),
                       ("feature_alpha_dropout_", (0.0, False)), ("rrelu_", (0.1, 0.2, False))]:
        a = np.linspace(-2, 2, 12).reshape(3, 4)
        x_c, x_t = cgrad.tensor(a), torch.tensor(a)
        r_c, r_t = getattr(cgrad, name)(x_c, *args), getattr(torch, name)(x_t, *args)
        np.testing.assert_allclose(_np(x_c), x_t.numpy(), rtol=1e-14, err_msg=name)
        np.testing.assert_allclose(_np(r_c), r_t.numpy(), rtol=1e-14, err_msg=name)


def test_toplevel_dropout_training_draws():
    x = cgrad.ones(200, 10, dtype=cgrad.float64)
    y = cgrad.dropout(x, 0.25, True)
    vals = set(np.unique(_np(y)).tolist())
    assert vals <= {0.0, 1 / 0.75} and len(vals) == 2
    f = cgrad.feature_dropout(x.reshape(20, 10, 10), 0.5, True)
    per_channel = _np(f).reshape(20, 10, 10)
    assert all(len(set(c.ravel().tolist())) == 1 for s in per_channel for c in s)


@pytest.mark.parametrize("fn", [
    lambda L: L.feature_dropout(L.ones(3), 0.5, True),
])
def test_toplevel_nn_errors(fn):
    assert_same_error(fn)


def test_toplevel_unknown_reduction_is_none():
    np.testing.assert_array_equal(_np(cgrad.kl_div(cgrad.zeros(2), cgrad.ones(2), 3)),
                                  torch.kl_div(torch.zeros(2), torch.ones(2), 3).numpy())


# ---- a real tensor's queries ------------------------------------------------------------------------

def test_complex_views_of_real_tensors():
    a = np.random.default_rng(0).standard_normal((3, 4))
    x, t = cgrad.tensor(a), torch.tensor(a)
    for name in ("conj", "resolve_conj", "resolve_neg", "conj_physical"):
        assert getattr(x, name)() is x
        assert getattr(t, name)() is t
    assert x.real is x and not x.is_conj() and not x.is_neg()
    assert x.conj_physical_() is x
    np.testing.assert_array_equal(_np(x.isreal()), t.isreal().numpy())
    np.testing.assert_array_equal(_np(cgrad.isreal(x)), torch.isreal(t).numpy())
    for name in ("H", "mH"):
        np.testing.assert_array_equal(_np(getattr(x, name)), getattr(t, name).numpy())
    np.testing.assert_array_equal(_np(x.adjoint()), t.adjoint().numpy())
    b = np.zeros((2, 3, 4))
    np.testing.assert_array_equal(_np(cgrad.tensor(b).mH), torch.tensor(b).mH.numpy())
    assert_same_error(lambda L: L.zeros(3).H)
    assert_same_error(lambda L: L.zeros(2, 3, 4).H)
    assert_same_error(lambda L: L.zeros(3).imag)


def test_storage_queries():
    x, t = cgrad.zeros(2, 3), torch.zeros(2, 3)
    for name in ("is_sparse", "is_sparse_csr", "is_quantized", "is_meta", "is_mkldnn", "is_nested"):
        assert getattr(x, name) is getattr(t, name) is False
    assert x.is_shared() is t.is_shared() is False
    assert x.is_pinned() is t.is_pinned() is False
    assert x.get_device() == t.get_device() == -1
    assert x.layout is cgrad.strided and repr(x.layout) == "cgrad.strided"
    assert pickle.loads(pickle.dumps(cgrad.strided)) is cgrad.strided
    parts_c = cgrad.ones(4, requires_grad=True).split(2)
    parts_t = torch.ones(4, requires_grad=True).split(2)
    assert [p.output_nr for p in parts_c] == [p.output_nr for p in parts_t]


# ---- element loops, resize_, new ---------------------------------------------------------------------

def test_apply_map_map2():
    a = np.arange(6.0).reshape(2, 3)
    x, t = cgrad.tensor(a), torch.tensor(a)
    assert x.apply_(lambda v: v * 2 + 1) is x
    t.apply_(lambda v: v * 2 + 1)
    np.testing.assert_array_equal(_np(x), t.numpy())
    x.map_(cgrad.tensor([1.0, 2, 3]), lambda u, v: u * v)
    t.map_(torch.tensor([1.0, 2, 3], dtype=torch.float64), lambda u, v: u * v)
    np.testing.assert_array_equal(_np(x), t.numpy())
    x.map2_(cgrad.ones(2, 3, dtype=cgrad.float64), cgrad.tensor([5.0, 6, 7]), lambda u, v, w: u - v * w)
    t.map2_(torch.ones(2, 3, dtype=torch.float64), torch.tensor([5.0, 6, 7], dtype=torch.float64),
            lambda u, v, w: u - v * w)
    np.testing.assert_array_equal(_np(x), t.numpy())
    i = cgrad.tensor([1, 2, 3])
    i.apply_(lambda v: v * 10)
    assert i.tolist() == [10, 20, 30]
    assert_same_error(lambda L: L.ones(3, requires_grad=True).apply_(lambda v: v))
    assert_same_error(lambda L: L.ones(3, requires_grad=True).map_(L.ones(3), lambda u, v: u))


def test_resize():
    x, t = cgrad.arange(6.0), torch.arange(6.0)
    x.resize_(2, 2)
    t.resize_(2, 2)
    np.testing.assert_array_equal(_np(x), t.numpy())
    x.resize_((3,))
    t.resize_((3,))
    np.testing.assert_array_equal(_np(x), t.numpy())
    x.resize_(4, 4)
    assert tuple(x.shape) == (4, 4)
    np.testing.assert_array_equal(_np(x).reshape(-1)[:3], t.numpy())
    y = cgrad.zeros(2, 3)
    assert y.resize_as_(cgrad.zeros(6)) is y and tuple(y.shape) == (6,)
    assert_same_error(lambda L: L.ones(3, requires_grad=True).resize_(4))


def test_new():
    x, t = cgrad.zeros(2, dtype=cgrad.float64), torch.zeros(2, dtype=torch.float64)
    assert tuple(x.new().shape) == tuple(t.new().shape) == (0,)
    assert tuple(x.new(3, 4).shape) == (3, 4) and x.new(3, 4).dtype == cgrad.float64
    assert tuple(x.new((3, 4)).shape) == tuple(t.new((3, 4)).shape)
    np.testing.assert_array_equal(_np(x.new([1, 2, 3])), t.new([1, 2, 3]).numpy())
    assert x.new([1, 2]).dtype == cgrad.float64
    assert x.new(cgrad.tensor([1.0, 2.0], dtype=cgrad.float64)).tolist() == [1.0, 2.0]
    assert_same_error(lambda L: L.zeros(2).new(L.tensor([1, 2])))


def test_hardshrink_method():
    a = np.linspace(-1, 1, 9)
    np.testing.assert_array_equal(_np(cgrad.tensor(a).hardshrink(0.4)), torch.tensor(a).hardshrink(0.4).numpy())


# ---- histogram ---------------------------------------------------------------------------------------

HIST_CASES = [
    (dict(bins=4, range=(0.0, 3.0)), [1.0, 2, 1]),
    (dict(bins=4), [1.0, 1, 1]),
    (dict(bins=5), None),
    (dict(bins=7, density=True), None),
    (dict(bins=3, range=(-1.0, 1.0)), None),
    (dict(bins=6, weight=True), None),
    (dict(bins=6, weight=True, density=True), None),
    (dict(bins="edges"), None),
    (dict(bins="edges", density=True), None),
    (dict(bins=5), [3.0]),
    (dict(bins=10), [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
    (dict(bins=4, range=(0.0, 1.0)), [0.0, 0.5, 1.0, float("nan"), 2.0, -1.0]),
    (dict(bins=3), []),
]


@pytest.mark.parametrize("case", range(len(HIST_CASES)))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_histogram_matches_torch(case, dtype):
    opts, values = HIST_CASES[case]
    opts = dict(opts)
    rng = np.random.default_rng(case)
    a = np.asarray(values if values is not None else rng.standard_normal(50), dtype=dtype)
    args_c, args_t = {}, {}
    if opts.pop("weight", False):
        w = rng.uniform(0, 2, a.shape).astype(dtype)
        args_c["weight"], args_t["weight"] = cgrad.tensor(w), torch.tensor(w)
    if opts.get("bins") == "edges":
        e = np.asarray([-2.0, -0.5, 0.0, 0.3, 1.0, 2.5], dtype=dtype)
        bins_c, bins_t = cgrad.tensor(e), torch.tensor(e)
        opts.pop("bins")
    else:
        bins_c = bins_t = opts.pop("bins")
    hc, ec = cgrad.histogram(cgrad.tensor(a), bins_c, **opts, **args_c)
    ht, et = torch.histogram(torch.tensor(a), bins_t, **opts, **args_t)
    np.testing.assert_array_equal(_np(ec), et.numpy())
    np.testing.assert_allclose(_np(hc), ht.numpy(), rtol=1e-6 if dtype == "float32" else 1e-14)
    assert hc.dtype == getattr(cgrad, dtype)
    r = cgrad.tensor(a).histogram(bins_c, **opts, **args_c)
    np.testing.assert_array_equal(_np(r.hist), _np(hc))


# ---- small functions --------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda L: L.histogram(L.tensor([0.0, float("inf")]), 4),
    lambda L: L.histogram(L.tensor([0.0, float("nan")]), 4),
    lambda L: L.histogram(L.tensor([0.0, 1.0]), 4, range=(2.0, 1.0)),
    lambda L: L.histogram(L.tensor([1, 2]), 4),
    lambda L: L.histogram(L.tensor([1.0, 2.0]), 0),
    lambda L: L.histogram(L.tensor([1.0, 2.0]), L.tensor([[1.0, 2.0]])),
])
def test_histogram_errors(fn):
    assert_same_error(fn)


def test_rsub_fill_scalar_tensor():
    a = np.array([1.0, 2.0, -3.0])
    for other, alpha in [(5, 1), (5, 2), (2.5, -1)]:
        x_c, x_t = cgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        r_c, r_t = cgrad.rsub(x_c, other, alpha=alpha), torch.rsub(x_t, other, alpha=alpha)
        np.testing.assert_array_equal(_np(r_c), r_t.detach().numpy())
        r_c.sum().backward()
        r_t.sum().backward()
        np.testing.assert_array_equal(_np(x_c.grad), x_t.grad.numpy())
    np.testing.assert_array_equal(_np(cgrad.rsub(cgrad.tensor(a), cgrad.tensor(a * 3), alpha=2)),
                                  torch.rsub(torch.tensor(a), torch.tensor(a * 3), alpha=2).numpy())
    np.testing.assert_array_equal(_np(cgrad.fill(cgrad.zeros(2, 3), 4.5)), torch.fill(torch.zeros(2, 3), 4.5).numpy())
    np.testing.assert_array_equal(_np(cgrad.fill(cgrad.zeros(2), cgrad.tensor(3.0))),
                                  torch.fill(torch.zeros(2), torch.tensor(3.0)).numpy())
    assert_same_error(lambda L: L.fill(L.zeros(2), L.ones(2)))
    s_c, s_t = cgrad.scalar_tensor(3), torch.scalar_tensor(3)
    assert s_c.dtype == cgrad.float32 and s_t.dtype == torch.float32 and s_c.item() == s_t.item() and s_c.dim() == 0
    assert cgrad.scalar_tensor(2, dtype=cgrad.int64).dtype == cgrad.int64


@pytest.mark.parametrize("args", [(1, 4), (0, 1, 0.3), (4, 1, -1), (0.5, 2.5, 0.5), (-1, 1, 0.1)])
def test_range_matches_torch(args):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ours = cgrad.range(*args)
        theirs = torch.range(*args)
    assert w and w[0].category is UserWarning and "torch.range is deprecated" in str(w[0].message)
    np.testing.assert_array_equal(_np(ours), theirs.numpy())
    assert ours.dtype == cgrad.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(_np(cgrad.range(*args, dtype=cgrad.float64)),
                                      torch.range(*args, dtype=torch.float64).numpy())


def test_range_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_error(lambda L: L.range(0, 1, 0))
        assert_same_error(lambda L: L.range(3, 1, 1))


def test_asarray():
    t = cgrad.ones(2)
    assert cgrad.asarray(t) is t
    assert cgrad.asarray(t, copy=True) is not t
    assert cgrad.asarray(t, dtype=cgrad.float64).dtype == cgrad.float64
    with pytest.raises(ValueError):
        cgrad.asarray(t, dtype=cgrad.float64, copy=False)
    a = np.array([1.0, 2.0])
    shared = cgrad.asarray(a)
    a[0] = 7
    assert shared.tolist() == [7.0, 2.0]
    assert cgrad.asarray(a, copy=True).tolist() == [7.0, 2.0]
    assert cgrad.asarray([1, 2]).dtype == cgrad.int64 == cgrad.asarray(np.array([1, 2])).dtype
    assert cgrad.asarray([1.5]).dtype == cgrad.float32
    assert cgrad.asarray(3.5).dim() == 0
    assert cgrad.asarray([1.0], requires_grad=True).requires_grad
