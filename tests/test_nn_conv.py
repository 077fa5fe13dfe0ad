"""Convolutions against PyTorch: conv1d / conv2d values and gradients, the
ConvolutionBackward0 node, second derivatives, unfold / fold, the Conv1d and
Conv2d modules, PyTorch's errors, and a compiled training step."""
import math
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn.functional as F
from cgrad import nn
from helpers import close, compare_conv, draw, pair, raised, same_bits, training_step

torch = pytest.importorskip("torch")
TF = torch.nn.functional
# both libraries warn of the extra padding of an even kernel's 'same'; one test checks it
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")


CONV2D = [
    dict(),
    dict(stride=2),
    dict(stride=(2, 1), padding=(1, 2)),
    dict(padding=1, dilation=2),
    dict(stride=(1, 3), padding=(0, 1), dilation=(2, 1)),
    dict(padding="same"),
    dict(padding="valid", stride=2),
    dict(padding="same", dilation=(2, 1)),
    dict(groups=2, padding=1),
    dict(groups=4, stride=2),
    dict(groups=2, padding="same", dilation=2),
    dict(stride=3, padding=2),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kw", CONV2D, ids=[str(k) for k in CONV2D])
def test_conv2d_values_and_gradients_match_torch(kw, dtype):
    groups = kw.get("groups", 1)
    compare_conv("conv2d", (2, 4, 7, 8), (6 if groups != 4 else 8, 4 // groups, 3, 3), dtype=dtype, **kw)


@pytest.mark.parametrize("w_shape,kw", [
    ((4, 3, 2, 4), dict(padding="same")),  # even kernels: the extra padding goes after
    ((4, 3, 1, 1), dict()),  # reads the image as it is
    ((4, 3, 1, 1), dict(stride=2)),
    ((5, 3, 5, 2), dict(padding=(2, 0), stride=(1, 2))),
    ((3, 1, 3, 3), dict(groups=3, padding=1)),  # depthwise
    ((6, 1, 3, 3), dict(groups=3, padding=1, bias=None)),  # depthwise, two filters each
    ((4, 3, 7, 8), dict()),  # the kernel covers the image: one output position
])
def test_conv2d_kernel_shapes(w_shape, kw):
    bias = "bias" not in kw
    kw.pop("bias", None)
    compare_conv("conv2d", (2, 3, 7, 8), w_shape, bias=bias, **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=3),
                                dict(groups=3, padding=2, dilation=2), dict(padding="same"), dict(stride=(2,))],
                         ids=str)
def test_conv1d_values_and_gradients_match_torch(kw, dtype):
    w = (6, 3 // kw.get("groups", 1), 4 if kw.get("padding") == "same" else 3)
    compare_conv("conv1d", (3, 3, 11), w, dtype=dtype, **kw)


@pytest.mark.parametrize("fn,x_shape,w_shape", [("conv2d", (3, 6, 5), (4, 3, 3, 2)), ("conv1d", (3, 9), (4, 3, 3))])
def test_unbatched_inputs_are_squeezed_back_as_torch_does(fn, x_shape, w_shape):
    y = compare_conv(fn, x_shape, w_shape, padding=1)
    assert y.grad_fn.name() == "SqueezeBackward1"
    assert y.grad_fn.next_functions[0][0].name() == "ConvolutionBackward0"


def test_non_contiguous_inputs():
    compare_conv("conv2d", (2, 3, 6, 7), (4, 3, 3, 3), transpose=True, padding=1, stride=(2, 1))
    compare_conv("conv1d", (2, 9, 3), (4, 9, 2), transpose=True, dilation=2)


def test_one_node_with_edges_in_torchs_order():
    x = cgrad.randn(2, 3, 5, 5, requires_grad=True)
    w = cgrad.randn(4, 3, 3, 3, requires_grad=True)
    b = cgrad.randn(4, requires_grad=True)
    y = F.conv2d(x, w, b)
    assert y.grad_fn.name() == "ConvolutionBackward0"
    assert [f.variable for f, _ in y.grad_fn.next_functions] == [x, w, b]
    fns = F.conv2d(x.detach(), w).grad_fn.next_functions
    assert fns[0] == (None, 0) and fns[1][0].variable is w and fns[2] == (None, 0)
    assert F.conv2d(x.detach(), w.detach()).grad_fn is None


def test_empty_batch_gives_empty_output_and_zero_weight_gradient():
    w = cgrad.randn(4, 3, 3, 3, requires_grad=True)
    y = F.conv2d(cgrad.zeros(0, 3, 5, 5), w)
    assert tuple(y.shape) == (0, 4, 3, 3)
    y.sum().backward()
    assert float(w.grad.abs().sum()) == 0.0


def test_int64_convolution_computes_as_torch():
    rng = np.random.default_rng(3)
    x, w, b = rng.integers(-5, 5, (2, 3, 6, 5)), rng.integers(-3, 3, (4, 3, 2, 2)), rng.integers(-9, 9, (4,))
    want = TF.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), padding=1, stride=(1, 2))
    got = F.conv2d(cgrad.tensor(x), cgrad.tensor(w), cgrad.tensor(b), padding=1, stride=(1, 2))
    assert got.dtype == cgrad.int64
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_top_level_functions_are_the_functional_ones():
    assert cgrad.conv1d is F.conv1d and cgrad.conv2d is F.conv2d
    x, w = cgrad.randn(1, 2, 4, 4), cgrad.randn(3, 2, 2, 2)
    np.testing.assert_array_equal(cgrad.conv2d(x, w, None, 1, "same").numpy(), F.conv2d(x, w, padding="same").numpy())


def test_same_padding_with_an_odd_total_warns_as_torch_does():
    x, w = cgrad.randn(1, 2, 5), cgrad.randn(3, 2, 2)
    with pytest.warns(UserWarning, match="padding='same' with even kernel lengths"):
        F.conv1d(x, w, padding="same")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.conv1d(x, cgrad.randn(3, 2, 3), padding="same")


# ---- second derivatives ----------------------------------------------------------------

GRADCHECK = [
    ("conv2d", (2, 2, 5, 4), (3, 2, 3, 2), dict(stride=(2, 1), padding=1, dilation=(1, 2))),
    ("conv2d", (1, 4, 4, 5), (4, 2, 2, 3), dict(groups=2, padding="same")),
    ("conv2d", (2, 5, 4), (2, 2, 3, 3), dict(padding=(0, 1))),
    ("conv1d", (2, 3, 7), (3, 1, 2), dict(groups=3, padding="same", dilation=1)),
    ("conv1d", (3, 6), (2, 3, 3), dict(stride=2, padding=2)),
]


@pytest.mark.parametrize("fn,x_shape,w_shape,kw", GRADCHECK, ids=[f"{g[0]}-{g[3]}" for g in GRADCHECK])
def test_gradcheck_and_gradgradcheck(fn, x_shape, w_shape, kw):
    rng = np.random.default_rng(1)
    x, w, b = (cgrad.tensor(draw(rng, s, np.float64), requires_grad=True) for s in (x_shape, w_shape, (w_shape[0],)))
    f = getattr(F, fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert cgrad.autograd.gradcheck(lambda x, w, b: f(x, w, b, **kw), (x, w, b))
        assert cgrad.autograd.gradgradcheck(lambda x, w, b: f(x, w, b, **kw), (x, w, b))


def test_second_derivatives_match_torch():
    """d/d(x, w) of |d loss / d(x, w)|^2, with the first gradients made with create_graph."""
    rng = np.random.default_rng(2)
    (tx, cx, _, _), (tw, cw, _, _), (tb, cb, _, _) = (pair(draw(rng, s, np.float64))
                                                     for s in ((2, 4, 6, 5), (6, 2, 3, 2), (6,)))
    results = []
    for lib, f, x, w, b in ((torch, TF, tx, tw, tb), (cgrad, F, cx, cw, cb)):
        y = f.conv2d(x, w, b, stride=(1, 2), padding=(1, 0), dilation=(2, 1), groups=2)
        gx, gw = lib.autograd.grad((y * y).sum(), (x, w), create_graph=True)
        gg = lib.autograd.grad((gx * gx).sum() + (gw * gw).sum(), (x, w, b))
        results.append([gx, gw, *gg])
    for t, c in zip(*results):
        close(c, t, np.float64)


# ---- unfold / fold -------------------------------------------------------------------------

FOLDS = [
    dict(kernel_size=3),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
    dict(kernel_size=2, stride=2),
    dict(kernel_size=(3, 1), padding=2, dilation=2),
]


@pytest.mark.parametrize("kw", FOLDS, ids=str)
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_unfold_and_fold_match_torch(kw, batched):
    rng = np.random.default_rng(4)
    shape = (2, 3, 7, 6) if batched else (3, 7, 6)
    tx, cx, _, _ = pair(draw(rng, shape, np.float64))
    tu, cu = TF.unfold(tx, **kw), F.unfold(cx, **kw)
    close(cu, tu, np.float64)
    assert cu.grad_fn.name() == tu.grad_fn.name() == "Im2ColBackward0" if batched else True
    tcols, ccols, _, _ = pair(draw(rng, tuple(tu.shape), np.float64))
    tf, cf = TF.fold(tcols, (7, 6), **kw), F.fold(ccols, (7, 6), **kw)
    close(cf, tf, np.float64)
    g = draw(rng, tuple(tu.shape), np.float64)
    tu.backward(torch.tensor(g))
    cu.backward(cgrad.tensor(g))
    close(cx.grad, tx.grad, np.float64)
    g = draw(rng, tuple(tf.shape), np.float64)
    tf.backward(torch.tensor(g))
    cf.backward(cgrad.tensor(g))
    close(ccols.grad, tcols.grad, np.float64)


def test_unfold_and_fold_gradgradcheck():
    x = cgrad.randn(1, 2, 4, 5, dtype=cgrad.float64, requires_grad=True)
    cols = cgrad.randn(1, 4, 9, dtype=cgrad.float64, requires_grad=True)
    assert cgrad.autograd.gradgradcheck(lambda x: F.unfold(x, 2, stride=(2, 1), padding=1) ** 2, (x,))
    assert cgrad.autograd.gradgradcheck(lambda c: F.fold(c, (3, 5), (1, 2), dilation=(1, 2)) ** 2, (cols,))


# ---- errors ----------------------------------------------------------------------------------

ERRORS = [
    ("conv2d", (5, 5), (4, 3, 3, 3), {}),
    ("conv2d", (1, 2, 3, 5, 5), (4, 3, 3, 3), {}),
    ("conv1d", (2, 3, 5, 5), (4, 3, 3), {}),
    ("conv2d", (2, 3, 5, 5), (4, 3, 3), {}),
    ("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), dict(stride=(1, 2, 3))),
    ("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), dict(padding=(1, 2, 3))),
    ("conv2d", (2, 3, 5, 5), (4, 2, 3, 3), {}),
    ("conv2d", (2, 3, 5, 5), (4, 1, 3, 3), dict(groups=2)),
    ("conv2d", (2, 3, 5, 5), (4, 1, 3, 3), dict(groups=3)),
    ("conv2d", (2, 3, 5, 5), (2, 1, 3, 3), dict(groups=3)),
    ("conv2d", (2, 3, 5, 5), (4, 3, 6, 6), {}),
    ("conv2d", (2, 3, 2, 2), (4, 3, 3, 3), dict(padding=1, dilation=2)),
    ("conv1d", (2, 3, 5), (4, 3, 9), {}),
    ("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), dict(padding="same", stride=2)),
    ("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), dict(padding="foo")),
    ("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), dict(padding=-1, stride=0)),
    ("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), dict(stride=0, dilation=0)),
    ("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), dict(dilation=0)),
    ("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), dict(groups=0, padding=-1)),
    ("conv2d", (2, 3, 5, 5), (0, 3, 3, 3), {}),
]


@pytest.mark.parametrize("fn,x_shape,w_shape,kw", ERRORS, ids=[f"{e[0]}-{e[1]}-{e[2]}-{e[3]}" for e in ERRORS])
def test_shape_and_argument_errors_match_torch(fn, x_shape, w_shape, kw):
    want = raised(lambda: getattr(TF, fn)(torch.ones(x_shape), torch.ones(w_shape), **kw))
    got = raised(lambda: getattr(F, fn)(cgrad.ones(*x_shape), cgrad.ones(*w_shape), **kw))
    assert want[0] is not None and got == want


def test_bias_shape_error_matches_torch():
    for n in ((3,), (4, 1)):
        want = raised(lambda: TF.conv2d(torch.ones(2, 3, 5, 5), torch.ones(4, 3, 3, 3), torch.ones(n)))
        got = raised(lambda: F.conv2d(cgrad.ones(2, 3, 5, 5), cgrad.ones(4, 3, 3, 3), cgrad.ones(*n)))
        assert got == want


DTYPES = ["float32", "float64", "int64"]


@pytest.mark.parametrize("xd,wd,bd", [("float32", "float64", None), ("float64", "float32", None),
                                      ("int64", "float32", None), ("float32", "int64", None),
                                      ("float32", "float32", "float64"), ("float64", "float64", "float32"),
                                      ("float32", "float64", "float64"), ("float64", "float32", "float64"),
                                      ("int64", "int64", "float32"), ("bool", "bool", None)])
def test_dtype_errors_match_torch(xd, wd, bd):
    def call(lib, f):
        b = None if bd is None else lib.ones(4, dtype=getattr(lib, bd))
        return f.conv2d(lib.ones(2, 3, 5, 5, dtype=getattr(lib, xd)), lib.ones(4, 3, 3, 3, dtype=getattr(lib, wd)), b)
    want, got = raised(lambda: call(torch, TF)), raised(lambda: call(cgrad, F))
    assert want[0] is not None and got == want


def test_non_tensor_arguments_raise_type_errors():
    for call in (lambda: F.conv2d([1.0], cgrad.ones(1, 1, 1, 1)), lambda: F.conv2d(cgrad.ones(1, 1, 1, 1), [1.0]),
                 lambda: F.conv2d(cgrad.ones(1, 1, 2, 2), cgrad.ones(1, 1, 1, 1), padding=1.5),
                 lambda: F.conv1d(cgrad.ones(1, 1, 2), cgrad.ones(1, 1, 1), groups=1.0)):
        with pytest.raises(TypeError):
            call()


@pytest.mark.parametrize("call", [
    lambda f, lib: f.unfold(lib.ones(2, 3, 5, 5), 7),
    lambda f, lib: f.unfold(lib.ones(2, 3, 5, 5), 3, stride=0),
    lambda f, lib: f.unfold(lib.ones(2, 3, 5, 5), 3, padding=-1),
    lambda f, lib: f.unfold(lib.ones(2, 3, 5, 5), 3, dilation=0),
    lambda f, lib: f.unfold(lib.ones(2, 3, 5, 5), 0),
    lambda f, lib: f.unfold(lib.ones(2, 0, 5, 5), 3),
    lambda f, lib: f.unfold(lib.ones(2, 3, 5, 5), (3, 2, 1)),
    lambda f, lib: f.unfold(lib.ones(2, 3, 5, 5, dtype=lib.int64), 3),
    lambda f, lib: f.fold(lib.ones(2, 26, 9), (5, 5), 3),
    lambda f, lib: f.fold(lib.ones(2, 27, 8), (5, 5), 3),
    lambda f, lib: f.fold(lib.ones(1, 2, 27, 9), 5, 3),
    lambda f, lib: f.fold(lib.ones(2, 27, 9, dtype=lib.int64), (5, 5), 3),
])
def test_unfold_and_fold_errors_match_torch(call):
    want, got = raised(lambda: call(TF, torch)), raised(lambda: call(F, cgrad))
    assert want[0] is not None and got == want


# ---- modules -------------------------------------------------------------------------------

@pytest.mark.parametrize("args,kw", [
    ((3, 8, 3), {}),
    ((3, 8, 3), dict(stride=2, padding=1, dilation=2, bias=False, padding_mode="reflect")),
    ((4, 8, 2), dict(padding="same", groups=2)),
    ((4, 8, 3), dict(padding=(1, 0), padding_mode="circular")),
    ((4, 8, 3), dict(padding="valid", padding_mode="replicate")),
])
@pytest.mark.parametrize("cls", ["Conv1d", "Conv2d"])
def test_module_repr_and_attributes_match_torch(cls, args, kw):
    c, t = getattr(nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(c) == repr(t)
    for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                 "padding_mode", "transposed", "output_padding"):
        assert getattr(c, name) == getattr(t, name), name
    assert list(c._reversed_padding_repeated_twice) == list(t._reversed_padding_repeated_twice)
    assert tuple(c.weight.shape) == tuple(t.weight.shape)
    assert [k for k, _ in c.named_parameters()] == [k for k, _ in t.named_parameters()]


def test_module_init_ranges_and_dtype():
    cgrad.manual_seed(0)
    m = nn.Conv2d(16, 32, 3, dtype=cgrad.float64)
    bound = 1 / math.sqrt(16 * 9)  # kaiming_uniform_(a=sqrt(5)) and the bias alike
    assert m.weight.dtype == m.bias.dtype == cgrad.float64
    for p in (m.weight, m.bias):
        v = p.detach().numpy()
        assert v.min() >= -bound and v.max() <= bound and v.max() - v.min() > bound
    cgrad.manual_seed(0)
    again = nn.Conv2d(16, 32, 3, dtype=cgrad.float64)
    np.testing.assert_array_equal(again.weight.detach().numpy(), m.weight.detach().numpy())
    with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):  # torch's, without CUDA
        nn.Conv1d(2, 2, 3, device="cuda")


@pytest.mark.parametrize("kw", [dict(groups=3), dict(in_channels=3, groups=3), dict(groups=0), dict(padding="foo"),
                                dict(padding="same", stride=2), dict(padding_mode="bad")], ids=str)
def test_module_argument_errors_match_torch(kw):
    args = dict(in_channels=4, out_channels=8, kernel_size=3)
    args.update(kw)
    want = raised(lambda: torch.nn.Conv2d(**args))
    got = raised(lambda: nn.Conv2d(**args))
    assert want[0] is ValueError and got[0] is ValueError
    if "padding_mode" not in kw and "padding" not in kw:  # torch prints those sets in hash order
        assert got == want


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same"], ids=str)
def test_module_padding_modes_match_torch(mode, padding):
    torch.manual_seed(0)
    tm = torch.nn.Conv2d(2, 3, (3, 2), padding=padding, padding_mode=mode, dtype=torch.float64)
    cm = nn.Conv2d(2, 3, (3, 2), padding=padding, padding_mode=mode, dtype=cgrad.float64)
    cm.load_state_dict({k: cgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = np.random.default_rng(5).standard_normal((2, 2, 5, 6))
    tx, cx, _, _ = pair(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ty, cy = tm(tx), cm(cx)
    close(cy, ty, np.float64)
    ty.pow(2).sum().backward()
    cy.pow(2).sum().backward()
    close(cx.grad, tx.grad, np.float64)
    close(cm.weight.grad, tm.weight.grad, np.float64)
    close(cm.bias.grad, tm.bias.grad, np.float64)


def test_conv1d_module_on_unbatched_input_with_circular_padding():
    torch.manual_seed(1)
    tm = torch.nn.Conv1d(2, 4, 3, padding=2, padding_mode="circular")
    cm = nn.Conv1d(2, 4, 3, padding=2, padding_mode="circular")
    cm.load_state_dict({k: cgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = np.random.default_rng(6).standard_normal((2, 7)).astype(np.float32)
    close(cm(cgrad.tensor(x)), tm(torch.tensor(x)), np.float32)


# ---- a compiled training step ----------------------------------------------------------------

def test_compiled_training_step_with_conv_layers_replays_bit_identically():
    def model():
        cgrad.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 4, 3, stride=2, groups=2),
                             nn.Flatten(), nn.Linear(4 * 3 * 3, 5))

    def make(m):
        return training_step(m, cgrad.optim.SGD(m.parameters(), lr=0.05, momentum=0.9))

    m1, m2 = model(), model()
    eager, compiled = make(m1), cgrad.compile(make(m2))
    rng = np.random.default_rng(7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k in range(8):
            x = cgrad.tensor(rng.standard_normal((4, 3, 8, 8)).astype(np.float32))
            t = cgrad.tensor(rng.integers(0, 5, 4))
            assert same_bits(eager(x, t), compiled(x, t)), f"step {k}: loss differs"
            for p, q in zip(m1.parameters(), m2.parameters()):
                assert same_bits(p, q) and same_bits(p.grad, q.grad), f"step {k}"
    # one eager call, two or three recordings (the leaves' gradient nodes are
    # made during the first), then replays
    assert compiled._cgrad_step.replays >= 4
