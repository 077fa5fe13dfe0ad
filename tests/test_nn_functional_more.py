"""The activations, distances and losses of cgrad.nn.functional written as
compositions, against torch: forward values at the branch points and at large
magnitudes, first and second derivatives, in-place forms, errors, and the
matching cgrad.nn modules with their reprs."""
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
import cgrad.nn.functional as F
from helpers import graph_of

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

DTYPES = ["float64", "float32"]
RTOL = {"float64": 1e-6, "float32": 1e-5}
ATOL = {"float64": 1e-12, "float32": 1e-6}

# negatives, zeros, large magnitudes; each case adds its own branch points
BASE = [-1000.0, -50.0, -20.5, -7.25, -2.0, -0.75, -1e-3, -0.0, 0.0, 1e-3, 0.75, 2.0, 7.25, 20.5, 50.0, 1000.0]


def both(values, dtype, requires_grad=True):
    arr = np.asarray(values, dtype=np.float64)
    return (cgrad.tensor(arr, dtype=getattr(cgrad, dtype), requires_grad=requires_grad),
            torch.tensor(arr, dtype=getattr(torch, dtype), requires_grad=requires_grad))


def close(a, b, dtype):
    a = np.asarray(a.detach().numpy(), dtype=np.float64)
    b = np.asarray(b.detach().numpy(force=True), dtype=np.float64)  # torch may hand back a ZeroTensor
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=ATOL[dtype])


def derivatives(lib, fn, x, second=True):
    """fn(x), d(fn . w1)/dx and d(d(fn . w1)/dx . w2)/dx (zeros where nothing depends on x)."""
    y = fn(lib, x)
    n = int(np.prod(tuple(y.shape)))
    w1 = lib.tensor(np.linspace(-1.5, 2.0, n).reshape(tuple(y.shape)), dtype=x.dtype)
    g1, = lib.autograd.grad(y, x, w1, create_graph=True)
    if not (second and g1.requires_grad):
        return y, g1, lib.zeros_like(x)
    w2 = lib.tensor(np.linspace(0.5, -1.0, x.numel()).reshape(tuple(x.shape)), dtype=x.dtype)
    g2, = lib.autograd.grad(g1, x, w2, allow_unused=True)
    return y, g1, lib.zeros_like(x) if g2 is None else g2


def check(fn, values, dtype, second=True):
    """Values and first derivatives at values; second derivatives too, or at the values
    in the list second when it is one."""
    xc, xt = both(values, dtype)
    yc, g1c, g2c = derivatives(cgrad, fn, xc, second is True)
    yt, g1t, g2t = derivatives(torch, fn, xt, second is True)
    assert str(yc.dtype).split(".")[1] == str(yt.dtype).split(".")[1]
    close(yc, yt, dtype)
    close(g1c, g1t, dtype)
    if isinstance(second, list):
        check(fn, second, dtype)
    elif second:
        close(g2c, g2t, dtype)


def mod(lib):
    return F if lib is cgrad else TF


# ---- activations: values, first and second derivatives ---------------------------------

ACTIVATIONS = {
    "silu": (lambda lib, x: mod(lib).silu(x), []),
    "elu": (lambda lib, x: mod(lib).elu(x), []),
    "elu_alpha": (lambda lib, x: mod(lib).elu(x, alpha=0.3), []),
    "elu_negative_alpha": (lambda lib, x: mod(lib).elu(x, -1.5), []),
    "selu": (lambda lib, x: mod(lib).selu(x), []),
    "celu": (lambda lib, x: mod(lib).celu(x), []),
    "celu_alpha": (lambda lib, x: mod(lib).celu(x, alpha=2.5), []),
    "softplus": (lambda lib, x: mod(lib).softplus(x), [20.0, 19.999, -20.0]),
    "softplus_beta": (lambda lib, x: mod(lib).softplus(x, beta=2.0, threshold=5.0), [2.5, 2.49, 2.51]),
    "softplus_negative_beta": (lambda lib, x: mod(lib).softplus(x, beta=-0.5), [-40.0]),
    "hardtanh": (lambda lib, x: mod(lib).hardtanh(x), [-1.0, 1.0, 0.999, -1.001]),
    "hardtanh_bounds": (lambda lib, x: mod(lib).hardtanh(x, min_val=-2.0, max_val=7.25), [-2.0]),
    "relu6": (lambda lib, x: mod(lib).relu6(x), [6.0, 5.999, 6.001]),
    "hardsigmoid": (lambda lib, x: mod(lib).hardsigmoid(x), [-3.0, 3.0, -2.999, 2.999, 3.001]),
    "hardswish": (lambda lib, x: mod(lib).hardswish(x), [-3.0, 3.0, -2.999, 2.999, 3.001]),
    "logsigmoid": (lambda lib, x: mod(lib).logsigmoid(x), [-800.0, 800.0]),
    "softsign": (lambda lib, x: mod(lib).softsign(x), []),
    "tanhshrink": (lambda lib, x: mod(lib).tanhshrink(x), []),
    "softshrink": (lambda lib, x: mod(lib).softshrink(x), [-0.5, 0.5, 0.499, -0.501]),
    "softshrink_lambd": (lambda lib, x: mod(lib).softshrink(x, 2.0), [-2.0, 2.0]),
    "hardshrink": (lambda lib, x: mod(lib).hardshrink(x), [-0.5, 0.5, 0.499, -0.501]),
    "hardshrink_lambd": (lambda lib, x: mod(lib).hardshrink(x, lambd=2.0), [-2.0, 2.0]),
    "mish": (lambda lib, x: mod(lib).mish(x), [20.0, -20.0, 15.0]),
    "threshold": (lambda lib, x: mod(lib).threshold(x, 0.75, -3.5), [0.7499]),
    "threshold_zero": (lambda lib, x: mod(lib).threshold(x, 0.0, 0.0), []),
}


# Points where the second derivative is not compared: PyTorch's own mish second
# derivative is NaN at x = 1000.
SECOND_SKIP = {"mish": {1000.0}}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_torch(name, dtype):
    fn, extra = ACTIVATIONS[name]
    values = BASE + extra
    if name == "hardsigmoid":
        check(fn, values, dtype, second=False)  # PyTorch has no second derivative
    elif name in SECOND_SKIP:
        check(fn, values, dtype, second=[v for v in values if v not in SECOND_SKIP[name]])
    else:
        check(fn, values, dtype)


def test_hardsigmoid_second_derivative_is_zero():
    x = cgrad.tensor(BASE + [-3.0, 3.0], dtype=cgrad.float64, requires_grad=True)
    g, = cgrad.autograd.grad(F.hardsigmoid(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), np.where(np.abs(x.detach().numpy()) < 3, float(np.float32(1 / 6)), 0.0))
    assert not g.requires_grad


def test_glu_records_torchs_graph():
    for dim in (0, 1, -1):
        xc, xt = both(np.arange(-8.0, 8.0).reshape(4, 4) / 3, "float32")
        assert graph_of(F.glu(xc.t() * 2, dim).grad_fn, 4) == graph_of(TF.glu(xt.t() * 2, dim).grad_fn, 4)


# the activations that are one node, as PyTorch's are
FUSED = ["silu", "elu", "elu_alpha", "elu_negative_alpha", "selu", "celu", "celu_alpha", "softplus",
         "softplus_beta", "softplus_negative_beta", "hardtanh", "hardtanh_bounds", "relu6", "hardsigmoid",
         "hardswish", "mish"]


@pytest.mark.parametrize("name", FUSED)
def test_activation_records_torchs_graph(name):
    """One node named as PyTorch's, leading to the input's node, on a leaf and on a
    non-leaf of either dtype."""
    fn = ACTIVATIONS[name][0]
    for dtype in DTYPES:
        xc, xt = both([[-2.0, 0.5, 3.0], [0.0, -0.5, 7.0]], dtype)
        for prep in (lambda x: x, lambda x: x.t() * 2, lambda x: x[:, 1:]):
            yc, yt = fn(cgrad, prep(xc)), fn(torch, prep(xt))
            assert graph_of(yc.grad_fn, 4) == graph_of(yt.grad_fn, 4)
        with cgrad.no_grad():
            assert fn(cgrad, xc).grad_fn is None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_on_random_matrices(name, dtype):
    fn = ACTIVATIONS[name][0]
    values = np.random.default_rng(7).normal(0.0, 4.0, (5, 6))
    check(fn, values, dtype, second=name != "hardsigmoid")


def test_branch_point_gradients_are_torchs():
    x = cgrad.tensor([-3.0, 3.0, 0.0, -1.0, 1.0, 0.5, -0.5, 20.0], dtype=cgrad.float64, requires_grad=True)
    sixth = float(np.float32(1 / 6))  # PyTorch's hardsigmoid slope is 1/6 rounded to float
    cases = [(F.hardsigmoid, [0, 0, sixth, sixth, sixth, sixth, sixth, 0]),
             (F.hardswish, [0, 1, 0.5, 1 / 6, 5 / 6, 2 / 3, 1 / 3, 1]),
             (F.hardtanh, [0, 0, 1, 0, 0, 1, 1, 0]),
             (F.relu6, [0, 1, 0, 0, 1, 1, 0, 0]),
             (F.softshrink, [1, 1, 0, 1, 1, 0, 0, 1]),
             (F.hardshrink, [1, 1, 0, 1, 1, 0, 0, 1]),
             (F.elu, [np.exp(-3), 1, 1, np.exp(-1), 1, 1, np.exp(-0.5), 1]),
             (F.logsigmoid, 1 - 1 / (1 + np.exp(-np.array([-3.0, 3.0, 0.0, -1.0, 1.0, 0.5, -0.5, 20.0]))))]
    for fn, expected in cases:
        g, = cgrad.autograd.grad(fn(x).sum(), x)
        np.testing.assert_allclose(g.numpy(), expected, rtol=1e-12, atol=1e-15, err_msg=fn.__name__)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["elu", "selu", "celu", "softplus", "logsigmoid", "mish", "silu"])
def test_tiny_gradients_far_out_on_the_negative_side_keep_their_digits(name, dtype):
    values = [-20.0, -30.0, -45.0] if dtype == "float32" else [-40.0, -60.0, -200.0]
    xc, xt = both(values, dtype)
    kwargs = {"celu": {"alpha": 0.5}}.get(name, {})
    gc, = cgrad.autograd.grad(getattr(F, name)(xc, **kwargs).sum(), xc)
    gt, = torch.autograd.grad(getattr(TF, name)(xt, **kwargs).sum(), xt)
    assert np.all(gt.numpy() != 0)
    np.testing.assert_allclose(gc.numpy(), gt.numpy(), rtol=RTOL[dtype] * 10, atol=0)


def test_logsigmoid_second_derivative_at_zero():
    x = cgrad.tensor([0.0], dtype=cgrad.float64, requires_grad=True)
    g, = cgrad.autograd.grad(F.logsigmoid(x).sum(), x, create_graph=True)
    h, = cgrad.autograd.grad(g.sum(), x)
    assert g.item() == 0.5 and h.item() == -0.25


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["silu", "elu", "selu", "celu", "softplus", "hardtanh", "relu6", "hardsigmoid",
                                  "hardswish", "logsigmoid", "softsign", "tanhshrink", "softshrink", "hardshrink",
                                  "mish"])
def test_signed_zeros_and_tiny_values_match_torch_bit_for_bit(name, dtype):
    vals = [-0.0, 0.0, -1e-300, -5e-324, 1e-300, -1e-40, 1e-40, 0.25, -0.25]
    xc, xt = both(vals, dtype, requires_grad=False)
    a, b = getattr(F, name)(xc).numpy(), getattr(TF, name)(xt).numpy()
    if name != "softshrink":  # PyTorch's is +0 from its vector loop and signed from its scalar tail
        np.testing.assert_array_equal(np.signbit(a), np.signbit(b))
    np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_handling_matches_torch(dtype):
    vals = [float("nan"), 0.5, -0.5, 1.0, -4.0]
    for name in ["silu", "elu", "selu", "celu", "softplus", "hardtanh", "relu6", "hardsigmoid", "hardswish",
                 "logsigmoid", "softsign", "tanhshrink", "softshrink", "hardshrink", "mish"]:
        xc, xt = both(vals, dtype, requires_grad=False)
        yc, yt = getattr(F, name)(xc), getattr(TF, name)(xt)
        np.testing.assert_array_equal(np.isnan(yc.numpy()), np.isnan(yt.numpy()), err_msg=name)
        close(cgrad.nan_to_num(yc, 9.0), torch.nan_to_num(yt, 9.0), dtype)
    xc, xt = both(vals, dtype, requires_grad=False)
    close(cgrad.nan_to_num(F.threshold(xc, 0.5, 7.0), 9.0), torch.nan_to_num(TF.threshold(xt, 0.5, 7.0), 9.0), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmin_and_glu(dtype):
    vals = np.random.default_rng(3).normal(0.0, 3.0, (4, 6))
    vals[0, :] = [-1000.0, 1000.0, 0.0, 50.0, -50.0, 0.0]
    for dim in (0, 1, -1):
        check(lambda lib, x: mod(lib).softmin(x, dim), vals, dtype)
        check(lambda lib, x: mod(lib).softmin(x, dim=dim, dtype=lib.float64), vals, dtype)
    for dim in (0, 1, -1, -2):
        check(lambda lib, x: mod(lib).glu(x, dim), vals, dtype)
    check(lambda lib, x: mod(lib).glu(x), vals, dtype)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        F.softmin(cgrad.ones(2, 3))


# ---- in-place forms ---------------------------------------------------------------------

INPLACE = {
    "silu": lambda lib, x, ip: mod(lib).silu(x, inplace=ip),
    "elu": lambda lib, x, ip: mod(lib).elu(x, 0.7, ip),
    "selu": lambda lib, x, ip: mod(lib).selu(x, inplace=ip),
    "celu": lambda lib, x, ip: mod(lib).celu(x, 1.5, inplace=ip),
    "hardtanh": lambda lib, x, ip: mod(lib).hardtanh(x, -0.5, 2.0, ip),
    "relu6": lambda lib, x, ip: mod(lib).relu6(x, inplace=ip),
    "hardsigmoid": lambda lib, x, ip: mod(lib).hardsigmoid(x, inplace=ip),
    "hardswish": lambda lib, x, ip: mod(lib).hardswish(x, inplace=ip),
    "mish": lambda lib, x, ip: mod(lib).mish(x, inplace=ip),
    "threshold": lambda lib, x, ip: mod(lib).threshold(x, 0.25, 9.0, inplace=ip),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_writes_input_and_backpropagates(name, dtype):
    fn = INPLACE[name]
    vals = [-1000.0, -3.0, -1.0, -0.5, 0.0, 0.25, 0.5, 2.0, 6.0, 7.0, 1000.0]
    results = []
    for lib in (cgrad, torch):
        leaf = lib.tensor(vals, dtype=getattr(lib, dtype), requires_grad=True)
        x = leaf * 1.0
        out = fn(lib, x, True)
        assert out is x
        assert not x.is_leaf and x.grad_fn is not None
        (out * lib.arange(len(vals), dtype=getattr(lib, dtype))).sum().backward()
        results.append((x.detach(), leaf.grad))
        plain = lib.tensor(vals, dtype=getattr(lib, dtype))
        kept = plain.clone()
        assert fn(lib, plain, True) is plain
        close_np = np.asarray(plain.numpy(), dtype=np.float64)
        expect = np.asarray(fn(lib, kept, False).numpy(), dtype=np.float64)
        np.testing.assert_array_equal(close_np, expect)
    close(results[0][0], results[1][0], dtype)
    close(results[0][1], results[1][1], dtype)


@pytest.mark.parametrize("name", ["silu", "hardtanh", "relu6", "hardsigmoid", "hardswish", "mish", "elu", "selu",
                                  "celu"])
def test_inplace_records_the_activations_node(name):
    """As PyTorch's, the in-place form records the op's own node, on a non-leaf
    and on a view of one (through CopySlices); its gradient uses the old value
    (elu, selu and celu: the result, EluBackward1 and CeluBackward1)."""
    graphs = []
    for lib in (cgrad, torch):
        leaf = lib.tensor([[-4.0, -1.0, 0.5], [2.0, 5.0, 7.0]], dtype=lib.float64, requires_grad=True)
        x = leaf * 1.0
        INPLACE[name](lib, x, True)
        base = leaf * 2.0
        INPLACE[name](lib, base[1], True)
        (x * base).sum().backward()
        graphs.append((graph_of(x.grad_fn, 3), graph_of(base.grad_fn, 3), x.detach(), leaf.grad))
    assert graphs[0][:2] == graphs[1][:2]
    close(graphs[0][2], graphs[1][2], "float64")
    close(graphs[0][3], graphs[1][3], "float64")


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_on_leaf_that_requires_grad_raises(name):
    for lib in (cgrad, torch):
        leaf = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            INPLACE[name](lib, leaf, True)


def test_inplace_without_grad_keeps_dtype_and_storage():
    x = cgrad.tensor([-2.0, 0.5, 8.0])
    before = x.data_ptr()
    F.relu6(x, inplace=True)
    np.testing.assert_array_equal(x.numpy(), np.array([0.0, 0.5, 6.0], dtype=np.float32))
    assert x.data_ptr() == before


# ---- integer inputs and argument errors ---------------------------------------------------


def error_of(call, lib):
    try:
        call(lib)
    except Exception as e:  # noqa: BLE001 - the comparison is the point
        return type(e), str(e)
    return None


ERRORS = {
    "silu_long": lambda lib: mod(lib).silu(lib.tensor([1, -2])),
    "elu_long": lambda lib: mod(lib).elu(lib.tensor([1, -2])),
    "selu_long": lambda lib: mod(lib).selu(lib.tensor([1, -2])),
    "celu_long": lambda lib: mod(lib).celu(lib.tensor([1, -2])),
    "softplus_long": lambda lib: mod(lib).softplus(lib.tensor([1, -2])),
    "hardsigmoid_long": lambda lib: mod(lib).hardsigmoid(lib.tensor([1, -2])),
    "hardswish_long": lambda lib: mod(lib).hardswish(lib.tensor([1, -2])),
    "logsigmoid_long": lambda lib: mod(lib).logsigmoid(lib.tensor([1, -2])),
    "softshrink_long": lambda lib: mod(lib).softshrink(lib.tensor([1, -2])),
    "hardshrink_long": lambda lib: mod(lib).hardshrink(lib.tensor([1, -2])),
    "mish_long": lambda lib: mod(lib).mish(lib.tensor([1, -2])),
    "glu_long": lambda lib: mod(lib).glu(lib.tensor([1, -2])),
    "celu_zero_alpha": lambda lib: mod(lib).celu(lib.ones(2), 0.0),
    "hardtanh_min_above_max": lambda lib: mod(lib).hardtanh(lib.ones(2), 2.0, 1.0),
    "softshrink_negative": lambda lib: mod(lib).softshrink(lib.ones(2), -1.0),
    "softshrink_negative_double": lambda lib: mod(lib).softshrink(lib.ones(2, dtype=lib.float64), -0.25),
    "glu_odd": lambda lib: mod(lib).glu(lib.ones(2, 3)),
    "glu_odd_dim0": lambda lib: mod(lib).glu(lib.ones(3, 2), 0),
    "glu_scalar": lambda lib: mod(lib).glu(lib.tensor(1.0)),
    "elu_alpha_str": lambda lib: mod(lib).elu(lib.ones(2), "a"),
    "smooth_l1_negative_beta": lambda lib: mod(lib).smooth_l1_loss(lib.ones(2), lib.ones(2), beta=-1.0),
    "smooth_l1_bad_reduction": lambda lib: mod(lib).smooth_l1_loss(lib.ones(2), lib.ones(2), reduction="foo"),
    "smooth_l1_bad_reduction_negative_beta": lambda lib: mod(lib).smooth_l1_loss(lib.ones(2), lib.ones(2),
                                                                                 reduction="foo", beta=-1.0),
    "smooth_l1_bad_reduction_zero_beta": lambda lib: mod(lib).smooth_l1_loss(lib.ones(2), lib.ones(2),
                                                                             reduction="foo", beta=0.0),
    "kl_div_bad_reduction": lambda lib: mod(lib).kl_div(lib.ones(2), lib.ones(2), reduction="foo"),
    "poisson_bad_reduction": lambda lib: mod(lib).poisson_nll_loss(lib.ones(2), lib.ones(2), reduction="foo"),
    "cosine_long": lambda lib: mod(lib).cosine_similarity(lib.tensor([1, 7]), lib.tensor([1, 2]), 0),
    "hardtanh_bool": lambda lib: mod(lib).hardtanh(lib.tensor([True, False])),
    "relu6_bool": lambda lib: mod(lib).relu6(lib.tensor([True, False])),
    "glu_float_dim": lambda lib: mod(lib).glu(lib.ones(2, 4), 1.5),
    "glu_not_tensor": lambda lib: mod(lib).glu(1.5),
    "cosine_x2_not_tensor": lambda lib: mod(lib).cosine_similarity(lib.ones(2, 2), 1.0),
    "pairwise_x2_not_tensor": lambda lib: mod(lib).pairwise_distance(lib.ones(2, 2), [1.0]),
    "kl_div_target_not_tensor": lambda lib: mod(lib).kl_div(lib.ones(2), 1.0, reduction="sum"),
    "poisson_target_not_tensor": lambda lib: mod(lib).poisson_nll_loss(lib.ones(2), 1.0),
    "threshold_value_none": lambda lib: mod(lib).threshold(lib.ones(2), 1.0, None),
    "softplus_beta_str": lambda lib: mod(lib).softplus(lib.ones(2), "a"),
}
for _name in ["silu", "elu", "selu", "celu", "softplus", "hardtanh", "relu6", "hardsigmoid", "hardswish", "logsigmoid",
              "softshrink", "hardshrink", "mish"]:
    ERRORS[f"{_name}_not_tensor"] = lambda lib, _name=_name: getattr(mod(lib), _name)([1.0, 2.0])
    ERRORS[f"{_name}_float"] = lambda lib, _name=_name: getattr(mod(lib), _name)(1.5)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch(name):
    ours, theirs = error_of(ERRORS[name], cgrad), error_of(ERRORS[name], torch)
    assert theirs is not None
    assert ours == theirs


def test_bool_alpha_is_a_number_as_in_torch():
    close(F.elu(cgrad.tensor([-1.0, 2.0]), True), TF.elu(torch.tensor([-1.0, 2.0]), True), "float32")


@pytest.mark.parametrize("name", ["hardtanh", "relu6", "threshold", "softsign"])
def test_integer_inputs_that_torch_accepts(name):
    calls = {"hardtanh": lambda lib, x: mod(lib).hardtanh(x, -1, 3), "relu6": lambda lib, x: mod(lib).relu6(x),
             "threshold": lambda lib, x: mod(lib).threshold(x, 2, -7), "softsign": lambda lib, x: mod(lib).softsign(x)}
    vals = [-9, -1, 0, 2, 3, 8]
    yc, yt = calls[name](cgrad, cgrad.tensor(vals)), calls[name](torch, torch.tensor(vals))
    assert str(yc.dtype).split(".")[1] == str(yt.dtype).split(".")[1]
    np.testing.assert_allclose(yc.numpy(), yt.numpy(), rtol=1e-6)


# ---- distances and losses -----------------------------------------------------------------


def check_many(fn, arrays, dtype, second=True):
    """fn(lib, *xs) in cgrad and torch: value, gradients for every input and second
    derivatives through all of them."""
    outs = []
    for lib in (cgrad, torch):
        xs = [lib.tensor(np.asarray(a, dtype=np.float64), dtype=getattr(lib, dtype), requires_grad=True)
              for a in arrays]
        y = fn(lib, *xs)
        w1 = lib.tensor(np.linspace(-1.5, 2.0, max(y.numel(), 1)).reshape(tuple(y.shape)), dtype=y.dtype)
        g1 = lib.autograd.grad(y, xs, w1, create_graph=True)
        total = sum((g * g * 0.5 + g).sum() for g in g1)
        g2 = lib.autograd.grad(total, xs, allow_unused=True) if second else [None] * len(xs)
        outs.append((y, g1, [lib.zeros_like(x) if g is None else g for g, x in zip(g2, xs)]))
    (yc, g1c, g2c), (yt, g1t, g2t) = outs
    close(yc, yt, dtype)
    for a, b in zip(g1c, g1t):
        close(a, b, dtype)
    if second:
        for a, b in zip(g2c, g2t):
            close(a, b, dtype)


RNG = np.random.default_rng(11)
A = RNG.normal(0.0, 2.0, (4, 5))
B = RNG.normal(0.0, 2.0, (4, 5))
A[0] = [1000.0, -1000.0, 0.0, 3.0, -4.0]
A[1] = 0.0  # a zero row: the norms are clamped to eps
B[2] = A[2] + 0.5  # distances on the smooth_l1 branch point with beta 0.5
B[3, :2] = A[3, :2]  # zero differences
POS = RNG.uniform(0.05, 4.0, (4, 5))
POS[0] = [0.5, 1.0, 1.5, 2.0, 7.0]  # full poisson: the Stirling term starts above 1
POS_R = POS[::-1].copy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_normalize(dtype, p, dim):
    check_many(lambda lib, x: mod(lib).normalize(x, p=p, dim=dim), [A], dtype, second=p != 1.0)
    check_many(lambda lib, x: mod(lib).normalize(x, p, dim, eps=0.5), [A], dtype, second=p != 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cosine_similarity(dtype, dim):
    check_many(lambda lib, x, y: mod(lib).cosine_similarity(x, y, dim), [A, B], dtype)
    check_many(lambda lib, x, y: mod(lib).cosine_similarity(x, y, dim=dim, eps=3.0), [A, B], dtype)
    check_many(lambda lib, x, y: mod(lib).cosine_similarity(x, y, dim=dim), [A, B[1:2]], dtype)


def test_cosine_similarity_and_pairwise_distance_promote_as_torch():
    ints = [[1, 2, 3, 4], [0, 0, 0, 0]]
    for lib_pair in [(cgrad.float32, torch.float32), (cgrad.float64, torch.float64)]:
        xc = cgrad.tensor(A[:2, :4], dtype=lib_pair[0])
        xt = torch.tensor(A[:2, :4], dtype=lib_pair[1])
        for fn in ("cosine_similarity", "pairwise_distance"):
            for args_c, args_t in [((xc, cgrad.tensor(ints)), (xt, torch.tensor(ints))),
                                   ((cgrad.tensor(ints), xc), (torch.tensor(ints), xt))]:
                yc, yt = getattr(F, fn)(*args_c), getattr(TF, fn)(*args_t)
                assert str(yc.dtype).split(".")[1] == str(yt.dtype).split(".")[1]
                close(yc, yt, str(yt.dtype).split(".")[1])
    mixed_c = F.cosine_similarity(cgrad.tensor(A, dtype=cgrad.float32), cgrad.tensor(B, dtype=cgrad.float64))
    mixed_t = TF.cosine_similarity(torch.tensor(A, dtype=torch.float32), torch.tensor(B, dtype=torch.float64))
    assert mixed_c.dtype == cgrad.float64 and mixed_t.dtype == torch.float64
    close(mixed_c, mixed_t, "float32")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(dtype, p, keepdim):
    check_many(lambda lib, x, y: mod(lib).pairwise_distance(x, y, p, keepdim=keepdim), [A, B], dtype,
               second=p != 1.0)
    check_many(lambda lib, x, y: mod(lib).pairwise_distance(x, y, p=p, eps=0.25, keepdim=keepdim), [A, B[0]],
               dtype, second=p != 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("beta", [1.0, 0.5, 3.0, 0.0])
def test_smooth_l1_loss(dtype, reduction, beta):
    check_many(lambda lib, x, y: mod(lib).smooth_l1_loss(x, y, reduction=reduction, beta=beta), [A, B], dtype)


def test_smooth_l1_loss_second_derivative_at_zero_difference():
    x = cgrad.tensor([0.0, 0.25, 0.5, 2.0], dtype=cgrad.float64, requires_grad=True)
    g, = cgrad.autograd.grad(F.smooth_l1_loss(x, cgrad.zeros(4, dtype=cgrad.float64), reduction="sum", beta=0.5),
                             x, create_graph=True)
    h, = cgrad.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(g.detach().numpy(), [0.0, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(h.numpy(), [2.0, 2.0, 0.0, 0.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(dtype, reduction, log_target):
    target = np.log(POS) if log_target else POS.copy()
    if not log_target:
        target[1, :2] = 0.0  # 0 * log 0 is 0
    check_many(lambda lib, x, y: mod(lib).kl_div(x, y, reduction=reduction, log_target=log_target),
               [np.log(POS_R), target], dtype)


def test_kl_div_mean_warns_as_torch():
    xc, xt = both(np.log(POS), "float64")
    yc, yt = both(POS_R, "float64")
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        ours = F.kl_div(xc, yc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = TF.kl_div(xt, yt)
    close(ours, theirs, "float64")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(xc, yc, reduction="batchmean")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss(dtype, reduction, log_input, full):
    inp = A if log_input else POS_R
    check_many(lambda lib, x, y: mod(lib).poisson_nll_loss(x, y, log_input, full, reduction=reduction),
               [inp, POS], dtype)
    check_many(lambda lib, x, y: mod(lib).poisson_nll_loss(x, y, log_input=log_input, full=full, eps=0.5,
                                                           reduction=reduction), [inp, POS], dtype)


# ---- modules ----------------------------------------------------------------------------

MODULES = [
    ("SiLU", (), {}), ("SiLU", (), {"inplace": True}),
    ("ELU", (), {}), ("ELU", (0.25,), {}), ("ELU", (), {"alpha": 2.0, "inplace": True}),
    ("SELU", (), {}), ("SELU", (True,), {}),
    ("CELU", (), {}), ("CELU", (1.5,), {"inplace": True}),
    ("Softplus", (), {}), ("Softplus", (2,), {"threshold": 5}),
    ("Hardtanh", (), {}), ("Hardtanh", (-2.0, 3), {}), ("Hardtanh", (), {"max_val": 0.5, "inplace": True}),
    ("ReLU6", (), {}), ("ReLU6", (), {"inplace": True}),
    ("Hardsigmoid", (), {}), ("Hardsigmoid", (True,), {}),
    ("Hardswish", (), {}), ("Hardswish", (), {"inplace": True}),
    ("LogSigmoid", (), {}), ("Softsign", (), {}), ("Tanhshrink", (), {}),
    ("Softshrink", (), {}), ("Softshrink", (1.25,), {}), ("Hardshrink", (), {}), ("Hardshrink", (), {"lambd": 2}),
    ("Mish", (), {}), ("Mish", (), {"inplace": True}),
    ("Threshold", (0.5, -1.0), {}), ("Threshold", (0, 7), {"inplace": True}),
    ("Softmin", (), {"dim": 1}), ("Softmin", (0,), {}),
    ("GLU", (), {}), ("GLU", (0,), {}),
]
PAIR_MODULES = [
    ("CosineSimilarity", (), {}), ("CosineSimilarity", (0, 0.5), {}),
    ("PairwiseDistance", (), {}), ("PairwiseDistance", (1.0,), {"eps": 0.0, "keepdim": True}),
    ("SmoothL1Loss", (), {}), ("SmoothL1Loss", (), {"reduction": "sum", "beta": 0.5}),
    ("KLDivLoss", (), {"reduction": "batchmean"}), ("KLDivLoss", (), {"reduction": "none", "log_target": True}),
    ("PoissonNLLLoss", (), {}), ("PoissonNLLLoss", (False, True), {"eps": 0.5, "reduction": "sum"}),
]


def _ident(case):
    name, args, kwargs = case
    return f"{name}{args}{sorted(kwargs.items())}"


@pytest.mark.parametrize("case", MODULES + PAIR_MODULES, ids=_ident)
def test_module_repr_and_attributes_match_torch(case):
    name, args, kwargs = case
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(tnn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    for attr in ("inplace", "alpha", "beta", "threshold", "value", "min_val", "max_val", "lambd", "dim", "eps",
                 "norm", "keepdim", "reduction", "log_target", "log_input", "full"):
        assert getattr(ours, attr, None) == getattr(theirs, attr, None), attr


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MODULES, ids=_ident)
def test_module_forward_backward_match_torch(case, dtype):
    name, args, kwargs = case
    values = np.random.default_rng(5).normal(0.0, 3.0, (4, 6))
    values[0] = [-3.0, 0.0, 3.0, 6.0, 0.5, -1.0]
    outs = []
    for lib, ns in ((cgrad, nn), (torch, tnn)):
        leaf = lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=True)
        x = leaf * 1.0
        y = getattr(ns, name)(*args, **kwargs)(x)
        if kwargs.get("inplace") or (args and args[-1] is True):
            assert y is x
        (y * lib.tensor(values[: y.shape[0], : y.shape[1]], dtype=getattr(lib, dtype))).sum().backward()
        outs.append((y, leaf.grad))
    close(outs[0][0], outs[1][0], dtype)
    close(outs[0][1], outs[1][1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", PAIR_MODULES, ids=_ident)
def test_pair_module_forward_backward_match_torch(case, dtype):
    name, args, kwargs = case
    first = np.log(POS) if name == "KLDivLoss" else A
    second = np.log(POS_R) if kwargs.get("log_target") else POS_R if "Loss" in name else B
    check_many(lambda lib, x, y: getattr(nn if lib is cgrad else tnn, name)(*args, **kwargs)(x, y),
               [first, second], dtype, second=False)


def test_module_argument_checks_match_torch():
    for lib in (cgrad, torch):
        ns = nn if lib is cgrad else tnn
        with pytest.raises(AssertionError, match=r"max_val \(1.0\) must be greater than min_val \(1.0\)"):
            ns.Hardtanh(1.0, 1.0)
        with pytest.warns(FutureWarning, match="`min_value` is deprecated and renamed to `min_val`"):
            m = ns.Hardtanh(min_value=-2.0)
        assert m.min_val == -2.0
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
            ns.Softmin()(lib.ones(2, 3))
        with pytest.raises(RuntimeError, match="Halving dimension must be even"):
            ns.GLU()(lib.ones(2, 3))


def test_modules_are_exported():
    for name, _, _ in MODULES + PAIR_MODULES:
        assert name in nn.__all__ and issubclass(getattr(nn, name), nn.Module)
    for name in ["silu", "elu", "selu", "celu", "softplus", "hardtanh", "relu6", "hardsigmoid", "hardswish",
                 "logsigmoid", "softsign", "tanhshrink", "softshrink", "hardshrink", "mish", "threshold", "softmin",
                 "glu", "normalize", "cosine_similarity", "pairwise_distance", "smooth_l1_loss", "kl_div",
                 "poisson_nll_loss"]:
        assert name in F.__all__ and callable(getattr(F, name))


# ---- rrelu --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [cgrad.float32, cgrad.float64])
def test_rrelu_in_eval_is_leaky_relu_with_the_mean_slope(dtype):
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(str(dtype).split(".")[-1])
    cx, tx = cgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    c, t = F.rrelu(cx, 0.1, 0.3), torch.nn.functional.rrelu(tx, 0.1, 0.3)
    np.testing.assert_array_equal(c.detach().numpy(), t.detach().numpy())
    c.sum().backward()
    t.sum().backward()
    np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy())
    assert repr(nn.RReLU()) == repr(torch.nn.RReLU())
    assert repr(nn.RReLU(0.1, 0.3, inplace=True)) == repr(torch.nn.RReLU(0.1, 0.3, inplace=True))


def test_rrelu_in_training_draws_a_slope_per_negative_element():
    cgrad.manual_seed(0)
    x = cgrad.tensor(np.linspace(-3, 3, 10001), requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slope = (y / x).detach().numpy()
    neg, pos = x.detach().numpy() < 0, x.detach().numpy() > 0
    assert np.all(slope[pos] == 1.0)
    assert 0.1 <= slope[neg].min() and slope[neg].max() <= 0.3 and abs(slope[neg].mean() - 0.2) < 0.005
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[neg], slope[neg])  # the gradient is the drawn slope
    cgrad.manual_seed(0)
    again = F.rrelu(x.detach(), 0.1, 0.3, training=True)
    np.testing.assert_array_equal(again.numpy(), y.detach().numpy())
    z = cgrad.tensor([-1.0, 2.0])
    F.rrelu_(z, 0.5, 0.5, training=True)
    assert z.tolist() == [-0.5, 2.0]
    m = nn.RReLU(0.5, 0.5)
    assert m(cgrad.tensor([-2.0])).tolist() == [-1.0]


@pytest.mark.parametrize("call", [lambda lib: lib.nn.functional.rrelu(lib.arange(3), training=True),
                                  lambda lib: lib.nn.functional.rrelu(lib.zeros(3), 0.5, 0.1, training=True)])
def test_rrelu_errors_match_torch(call):
    with pytest.raises(Exception) as t_err:
        call(torch)
    with pytest.raises(type(t_err.value)) as c_err:
        call(cgrad)
    assert str(c_err.value) == str(t_err.value)


@pytest.mark.parametrize("name", ["elu", "selu", "celu"])
def test_inplace_elu_second_derivatives_match_torch(name):
    """The result-based nodes' gradients, and their gradients, at and around the branch point."""
    outs = []
    for lib in (cgrad, torch):
        leaf = lib.tensor([-3.0, -1.0, -0.25, 0.0, 0.5, 2.0], dtype=lib.float64, requires_grad=True)
        y = INPLACE[name](lib, leaf * 1.0, True)
        (g,) = lib.autograd.grad((y * y * y).sum(), leaf, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), leaf)
        outs.append((y.detach(), g.detach(), gg))
    for a, b in zip(*outs):
        close(a, b, "float64")
