"""Transposed and 3-d convolutions against PyTorch: conv_transpose1d / 2d / 3d and
conv3d values and gradients, their ConvolutionBackward0 node, second derivatives,
PyTorch's errors, the ConvTranspose1d / 2d / 3d and Conv3d modules (output_size
included), and the Fold and Unfold modules."""
import math

import numpy as np
import pytest

import cgrad
import cgrad.nn.functional as F
from cgrad import nn
from helpers import close, compare_conv, draw, pair, raised, same_bits, training_step

torch = pytest.importorskip("torch")
TF = torch.nn.functional
# both libraries warn of the extra padding of an even kernel's 'same'; test_nn_conv.py checks it
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")


T2D = [
    dict(),
    dict(stride=2),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(2, 3), padding=(1, 0), output_padding=(0, 2), dilation=(1, 2)),
    dict(dilation=2, output_padding=1),
    dict(groups=2, stride=2, padding=1),
    dict(groups=4, dilation=(2, 1), output_padding=(1, 0)),
    dict(padding=2),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kw", T2D, ids=[str(k) for k in T2D])
def test_conv_transpose2d_values_and_gradients_match_torch(kw, dtype):
    compare_conv("conv_transpose2d", (2, 4, 5, 6), (4, 2, 3, 2), dtype=dtype, **kw)


T1D = [dict(), dict(stride=3, padding=2, output_padding=1), dict(groups=2, dilation=3), dict(padding=1, groups=4)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kw", T1D, ids=[str(k) for k in T1D])
def test_conv_transpose1d_values_and_gradients_match_torch(kw, dtype):
    compare_conv("conv_transpose1d", (3, 4, 7), (4, 3, 3), dtype=dtype, **kw)


@pytest.mark.parametrize("fn,x_shape,w_shape", [("conv_transpose2d", (4, 5, 6), (4, 3, 2, 3)),
                                                ("conv_transpose1d", (4, 7), (4, 2, 3))])
def test_unbatched_inputs_without_bias(fn, x_shape, w_shape):
    compare_conv(fn, x_shape, w_shape, bias=False, stride=2)


def test_non_contiguous_inputs_and_one_by_one_kernels():
    compare_conv("conv_transpose2d", (2, 4, 6, 5), (4, 3, 3, 3), transpose=True, stride=2, output_padding=1)
    compare_conv("conv_transpose1d", (2, 4, 7), (4, 6, 1), transpose=True, groups=2)
    compare_conv("conv_transpose2d", (2, 4, 5, 6), (4, 2, 1, 1), groups=2)
    compare_conv("conv_transpose2d", (2, 4, 5, 6), (4, 2, 1, 1), stride=2, dilation=3, output_padding=(2, 1))


def test_one_node_with_edges_in_torchs_order():
    x, w, b = cgrad.randn(2, 3, 5, 5, requires_grad=True), cgrad.randn(3, 4, 3, 3, requires_grad=True), \
        cgrad.randn(4, requires_grad=True)
    y = F.conv_transpose2d(x, w, b)
    assert y.grad_fn.name() == "ConvolutionBackward0"
    assert [f.variable for f, _ in y.grad_fn.next_functions] == [x, w, b]
    fns = F.conv_transpose2d(x.detach(), w).grad_fn.next_functions
    assert fns[0] == (None, 0) and fns[1][0].variable is w and fns[2] == (None, 0)
    assert F.conv_transpose2d(x.detach(), w.detach()).grad_fn is None
    assert cgrad.conv_transpose1d is F.conv_transpose1d and cgrad.conv_transpose2d is F.conv_transpose2d


def test_empty_batch_int64_and_a_float32_bias_on_float64():
    w = cgrad.randn(3, 4, 3, 3, requires_grad=True)
    y = F.conv_transpose2d(cgrad.zeros(0, 3, 5, 5), w, stride=2)
    assert tuple(y.shape) == (0, 4, 11, 11)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((3, 4, 3, 3), np.float32))
    rng = np.random.default_rng(3)
    x, w, b = rng.integers(-5, 5, (2, 3, 4, 5)), rng.integers(-3, 3, (3, 2, 2, 3)), rng.integers(-9, 9, (2,))
    want = TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=(2, 1), padding=(0, 1))
    got = F.conv_transpose2d(cgrad.tensor(x), cgrad.tensor(w), cgrad.tensor(b), stride=(2, 1), padding=(0, 1))
    assert got.dtype == cgrad.int64
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    x, w, b = draw(rng, (2, 3, 4), np.float64), draw(rng, (3, 2, 2), np.float64), draw(rng, (2,), np.float32)
    tb, cb = torch.tensor(b, requires_grad=True), cgrad.tensor(b, requires_grad=True)
    ty, cy = TF.conv_transpose1d(torch.tensor(x), torch.tensor(w), tb), F.conv_transpose1d(cgrad.tensor(x),
                                                                                           cgrad.tensor(w), cb)
    close(cy, ty, np.float64)
    ty.sum().backward()
    cy.sum().backward()
    assert cb.grad.dtype == cgrad.float32
    close(cb.grad, tb.grad, np.float32)


# ---- second derivatives ----------------------------------------------------------------

GRADCHECK = [
    ("conv_transpose2d", (2, 2, 4, 3), (2, 3, 3, 2), dict(stride=(2, 1), padding=1, dilation=(1, 2),
                                                         output_padding=(1, 0))),
    ("conv_transpose2d", (1, 4, 3, 3), (4, 1, 2, 2), dict(groups=2, stride=2)),
    ("conv_transpose1d", (2, 3, 5), (3, 2, 3), dict(stride=2, padding=1, output_padding=1)),
    ("conv_transpose1d", (4, 5), (4, 1, 2), dict(groups=2, dilation=2)),
]


@pytest.mark.parametrize("fn,x_shape,w_shape,kw", GRADCHECK, ids=[f"{g[0]}-{g[3]}" for g in GRADCHECK])
def test_gradcheck_and_gradgradcheck(fn, x_shape, w_shape, kw):
    rng = np.random.default_rng(1)
    b_shape = (w_shape[1] * kw.get("groups", 1),)
    x, w, b = (cgrad.tensor(draw(rng, s, np.float64), requires_grad=True) for s in (x_shape, w_shape, b_shape))
    f = getattr(F, fn)
    assert cgrad.autograd.gradcheck(lambda x, w, b: f(x, w, b, **kw), (x, w, b))
    assert cgrad.autograd.gradgradcheck(lambda x, w, b: f(x, w, b, **kw), (x, w, b))


def test_second_derivatives_match_torch():
    """d/d(x, w, b) of |d loss / d(x, w)|^2, with the first gradients made with create_graph."""
    rng = np.random.default_rng(2)
    leaves = [pair(draw(rng, s, np.float64)) for s in ((2, 4, 5, 4), (4, 3, 3, 2), (6,))]
    results = []
    for lib, f, (x, w, b) in ((torch, TF, [lv[0] for lv in leaves]), (cgrad, F, [lv[1] for lv in leaves])):
        y = f.conv_transpose2d(x, w, b, stride=(2, 1), padding=(1, 0), output_padding=(1, 0), dilation=(1, 2),
                               groups=2)
        gx, gw = lib.autograd.grad((y * y).sum(), (x, w), create_graph=True)
        gg = lib.autograd.grad((gx * gx).sum() + (gw * gw).sum(), (x, w, b))
        results.append([gx, gw, *gg])
    for t, c in zip(*results):
        close(c, t, np.float64)


# ---- errors --------------------------------------------------------------------------------

# float64, where PyTorch's own kernel (not oneDNN's) reports the window's errors
ERRORS = [
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(output_padding=1)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(output_padding=(1, 2), stride=2)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(output_padding=-1, padding=-1)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(output_padding=-1)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(output_padding=-1, groups=0)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(stride=0)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(dilation=0, output_padding=2)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(dilation=-1)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(groups=3)),
    ("conv_transpose2d", (2, 4, 5, 5), (6, 3, 3, 3), dict(output_padding=2)),
    ("conv_transpose2d", (2, 4, 5, 5), (0, 3, 3, 3), {}),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 0, 3, 3), {}),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(padding=5, output_padding=2)),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(padding=5)),
    ("conv_transpose2d", (2, 4, 0, 5), (4, 3, 3, 3), {}),
    ("conv_transpose2d", (4, 5), (4, 3, 3, 3), {}),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3), {}),
    ("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), dict(stride=(1, 2, 3))),
    ("conv_transpose1d", (2, 4, 5), (4, 3, 3, 3), {}),
    ("conv_transpose1d", (4, 5), (4, 3, 3, 3), {}),
    ("conv_transpose1d", (2, 4, 5), (4, 3, 3), dict(output_padding=1)),
    ("conv_transpose1d", (2, 4, 5), (4, 3, 3), dict(padding=4)),
    ("conv_transpose1d", (2, 4, 5), (4, 3, 3), dict(dilation=0)),
    ("conv_transpose1d", (2, 4, 0), (4, 3, 3), {}),
]


@pytest.mark.parametrize("fn,x_shape,w_shape,kw", ERRORS, ids=[f"{e[0]}-{e[1]}-{e[2]}-{e[3]}" for e in ERRORS])
def test_shape_and_argument_errors_match_torch(fn, x_shape, w_shape, kw):
    want = raised(lambda: getattr(TF, fn)(torch.ones(x_shape, dtype=torch.float64),
                                          torch.ones(w_shape, dtype=torch.float64), **kw))
    got = raised(lambda: getattr(F, fn)(cgrad.ones(*x_shape, dtype=cgrad.float64),
                                        cgrad.ones(*w_shape, dtype=cgrad.float64), **kw))
    assert want[0] is not None and got == want


def test_bias_shape_errors_match_torch():
    for n, groups in (((5,), 1), ((3, 1), 1), ((3,), 2)):
        want = raised(lambda: TF.conv_transpose2d(torch.ones(2, 4, 5, 5), torch.ones(4, 3, 3, 3), torch.ones(n),
                                                  groups=groups))
        got = raised(lambda: F.conv_transpose2d(cgrad.ones(2, 4, 5, 5), cgrad.ones(4, 3, 3, 3), cgrad.ones(*n),
                                                groups=groups))
        assert want[0] is not None and got == want


@pytest.mark.parametrize("xd,wd,bd", [("float64", "float32", None), ("float32", "float32", "float64"),
                                      ("float32", "float64", "float32"), ("int64", "float64", None),
                                      ("float64", "int64", None), ("int64", "int64", "float64"),
                                      ("bool", "bool", None)])
def test_dtype_errors_match_torch(xd, wd, bd):
    def call(lib, f):
        b = None if bd is None else lib.ones(3, dtype=getattr(lib, bd))
        return f.conv_transpose2d(lib.ones(2, 4, 5, 5, dtype=getattr(lib, xd)),
                                  lib.ones(4, 3, 3, 3, dtype=getattr(lib, wd)), b)
    want = raised(lambda: call(torch, TF))
    assert want[0] is not None and raised(lambda: call(cgrad, F)) == want


@pytest.mark.parametrize("kw", [dict(stride=1.5), dict(stride=(1.5, 1)), dict(stride=True), dict(groups=1.5),
                                dict(dilation="a"), dict(padding="same"), dict(output_padding=[1.0, 1])], ids=str)
def test_argument_type_errors_match_torch(kw):
    want = raised(lambda: TF.conv_transpose2d(torch.ones(1, 2, 4, 4), torch.ones(2, 2, 2, 2), **kw))
    got = raised(lambda: F.conv_transpose2d(cgrad.ones(1, 2, 4, 4), cgrad.ones(2, 2, 2, 2), **kw))
    assert want[0] is TypeError and got == want
    for bad, pos, name in ((1, 1, "input"), (None, 2, "weight")):
        args = [cgrad.ones(1, 2, 4, 4), cgrad.ones(2, 2, 2, 2)]
        args[pos - 1] = bad
        with pytest.raises(TypeError, match=f"argument '{name}' \\(position {pos}\\) must be Tensor"):
            F.conv_transpose2d(*args)


# ---- modules -------------------------------------------------------------------------------

@pytest.mark.parametrize("args,kw", [
    ((4, 6, 3), {}),
    ((4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2, bias=False, dilation=2)),
    ((2, 3, (2, 1)), dict(stride=(2, 1), output_padding=(1, 0))),
])
@pytest.mark.parametrize("cls", ["ConvTranspose1d", "ConvTranspose2d"])
def test_transposed_module_repr_and_attributes_match_torch(cls, args, kw):
    if cls == "ConvTranspose1d" and isinstance(args[2], tuple):
        args, kw = (2, 3, (2,)), dict(stride=(2,), output_padding=(1,))
    c, t = getattr(nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(c) == repr(t)
    for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                 "padding_mode", "transposed", "output_padding"):
        assert getattr(c, name) == getattr(t, name), name
    assert tuple(c.weight.shape) == tuple(t.weight.shape)
    assert list(c.state_dict()) == list(t.state_dict())


def test_transposed_module_init_ranges_and_values():
    cgrad.manual_seed(0)
    m = nn.ConvTranspose2d(6, 8, 3, groups=2, dtype=cgrad.float64)
    bound = 1 / math.sqrt(4 * 9)  # fan_in is the weight's dim 1 (out_channels / groups) times the kernel
    assert tuple(m.weight.shape) == (6, 4, 3, 3) and m.weight.dtype == cgrad.float64
    for p in (m.weight, m.bias):
        v = p.detach().numpy()
        assert v.min() >= -bound and v.max() <= bound and v.max() - v.min() > bound
    t = torch.nn.ConvTranspose2d(6, 8, 3, groups=2, dtype=torch.float64)
    t.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in m.state_dict().items()})
    x = draw(np.random.default_rng(5), (2, 6, 4, 5), np.float64)
    close(m(cgrad.tensor(x)), t(torch.tensor(x)), np.float64)


@pytest.mark.parametrize("output_size", [(10, 10), [1, 6, 9, 9], (9, 10)], ids=str)
def test_transposed_module_output_size_matches_torch(output_size):
    c, t = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1)
    t.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in c.state_dict().items()})
    x = draw(np.random.default_rng(6), (1, 4, 5, 5), np.float32)
    close(c(cgrad.tensor(x), output_size=output_size), t(torch.tensor(x), output_size=output_size), np.float32)
    c1, t1 = nn.ConvTranspose1d(4, 6, 3, stride=3), torch.nn.ConvTranspose1d(4, 6, 3, stride=3)
    t1.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in c1.state_dict().items()})
    close(c1(cgrad.tensor(x[0, :, 0]), output_size=[17]), t1(torch.tensor(x[0, :, 0]), output_size=[17]), np.float32)


@pytest.mark.parametrize("call", [
    lambda lib, m, x: m(x, output_size=(12, 10)),
    lambda lib, m, x: m(x, output_size=(1,)),
    lambda lib, m, x: m(x[0], output_size=(1, 1, 6, 10, 9)),
    lambda lib, m, x: lib.nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect"),
    lambda lib, m, x: lib.nn.ConvTranspose1d(4, 6, 3, groups=4),
    lambda lib, m, x: lib.nn.ConvTranspose1d(4, 6, 3, groups=3),
    lambda lib, m, x: lib.nn.ConvTranspose1d(4, 6, 3, groups=0),
])
def test_transposed_module_errors_match_torch(call):
    def run(lib):
        return raised(lambda: call(lib, lib.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1), lib.ones(1, 4, 5, 5)))
    want, got = run(torch), run(cgrad)
    assert want[0] is ValueError and got[0] is want[0]
    assert got[1].replace("cgrad.Size", "torch.Size") == want[1]


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=2)],
                         ids=str)
def test_fold_and_unfold_modules_match_torch(kw):
    rng = np.random.default_rng(7)
    cu, tu = nn.Unfold(**kw), torch.nn.Unfold(**kw)
    assert repr(cu) == repr(tu) and list(cu.state_dict()) == []
    x = pair(draw(rng, (2, 3, 6, 7), np.float64))
    cols_t, cols_c = tu(x[2]), cu(x[3])
    close(cols_c, cols_t, np.float64)
    cf, tf = nn.Fold((6, 7), **kw), torch.nn.Fold((6, 7), **kw)
    assert repr(cf) == repr(tf)
    out_t, out_c = tf(cols_t), cf(cols_c)
    close(out_c, out_t, np.float64)
    g = draw(rng, tuple(out_t.shape), np.float64)
    out_t.backward(torch.tensor(g))
    out_c.backward(cgrad.tensor(g))
    close(x[1].grad, x[0].grad, np.float64)


# ---- 3-d convolutions ------------------------------------------------------------------------

C3D = [
    dict(),
    dict(stride=(2, 1, 2), padding=(1, 0, 1), dilation=(1, 2, 1)),
    dict(padding="same", dilation=(2, 1, 1)),
    dict(padding="valid", groups=2),
    dict(groups=4, stride=2, padding=1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kw", C3D, ids=[str(k) for k in C3D])
def test_conv3d_values_and_gradients_match_torch(kw, dtype):
    compare_conv("conv3d", (2, 4, 5, 4, 6), (8, 4 // kw.get("groups", 1), 3, 2, 3), dtype=dtype, seed=8, **kw)


CT3D = [dict(), dict(stride=(2, 1, 3), padding=(1, 0, 1), output_padding=(1, 0, 2)),
        dict(groups=2, dilation=(1, 2, 1), output_padding=(0, 1, 0))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kw", CT3D, ids=[str(k) for k in CT3D])
def test_conv_transpose3d_values_and_gradients_match_torch(kw, dtype):
    compare_conv("conv_transpose3d", (2, 4, 3, 4, 5), (4, 3, 2, 3, 2), dtype=dtype, **kw)


def test_conv3d_unbatched_non_contiguous_and_int64():
    compare_conv("conv_transpose3d", (4, 3, 4, 5), (4, 2, 2, 2, 2), transpose=True, stride=2)
    rng = np.random.default_rng(9)
    for lib_args in [((2, 3, 4, 5, 6), (4, 3, 2, 2, 3))]:
        x, w = rng.integers(-5, 5, lib_args[0]), rng.integers(-3, 3, lib_args[1])
        want = TF.conv3d(torch.tensor(x), torch.tensor(w), padding=(1, 0, 1))
        got = F.conv3d(cgrad.tensor(x), cgrad.tensor(w), padding=(1, 0, 1))
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    x, w = pair(draw(rng, (3, 4, 5, 6), np.float64), transpose=True), pair(draw(rng, (2, 3, 2, 3, 2), np.float64))
    ty, cy = TF.conv3d(x[2], w[2], stride=(1, 2, 1)), F.conv3d(x[3], w[3], stride=(1, 2, 1))
    close(cy, ty, np.float64)
    ty.sum().backward()
    cy.sum().backward()
    close(x[1].grad, x[0].grad, np.float64)
    close(w[1].grad, w[0].grad, np.float64)
    assert cgrad.conv3d is F.conv3d and cgrad.conv_transpose3d is F.conv_transpose3d


@pytest.mark.parametrize("fn,x_shape,w_shape,kw", [
    ("conv3d", (2, 2, 3, 4, 3), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=1, dilation=(2, 1, 1))),
    ("conv3d", (4, 3, 3, 4), (4, 2, 2, 2, 2), dict(groups=2, padding="same")),
    ("conv_transpose3d", (1, 2, 2, 3, 2), (2, 2, 2, 2, 3), dict(stride=2, padding=(0, 1, 1), output_padding=1)),
], ids=["conv3d", "conv3d-unbatched-same", "conv_transpose3d"])
def test_3d_gradcheck_and_gradgradcheck(fn, x_shape, w_shape, kw):
    rng = np.random.default_rng(10)
    b_shape = (w_shape[1] * kw.get("groups", 1),) if "transpose" in fn else (w_shape[0],)
    x, w, b = (cgrad.tensor(draw(rng, s, np.float64), requires_grad=True) for s in (x_shape, w_shape, b_shape))
    f = getattr(F, fn)
    assert cgrad.autograd.gradcheck(lambda x, w, b: f(x, w, b, **kw), (x, w, b))
    assert cgrad.autograd.gradgradcheck(lambda x, w, b: f(x, w, b, **kw), (x, w, b))


ERRORS_3D = [
    ("conv3d", (2, 4, 5, 5, 5), (4, 3, 3, 3, 3), {}),
    ("conv3d", (2, 4, 5, 5, 5), (4, 4, 3, 3, 3), dict(padding=-1)),
    ("conv3d", (2, 4, 5, 5, 5), (4, 4, 3, 3, 3), dict(padding="same", stride=2)),
    ("conv3d", (2, 4, 2, 5, 5), (4, 4, 3, 3, 3), {}),
    ("conv3d", (5, 5, 5), (4, 4, 3, 3, 3), {}),
    ("conv3d", (2, 4, 5, 5, 5), (4, 4, 3, 3, 3), dict(stride=(1, 2))),
    ("conv_transpose3d", (2, 4, 5, 5, 5), (4, 3, 3, 3, 3), dict(output_padding=1)),
    ("conv_transpose3d", (2, 4, 5, 5, 5), (4, 3, 3, 3, 3), dict(padding=5)),
    ("conv_transpose3d", (2, 4, 5, 5, 5), (4, 3, 3, 3, 3), dict(dilation=0)),
    ("conv_transpose3d", (2, 4, 5, 5, 5), (4, 0, 3, 3, 3), {}),
    ("conv_transpose3d", (2, 4, 0, 5, 5), (4, 3, 3, 3, 3), {}),
    ("conv_transpose3d", (2, 3, 5, 5, 5), (4, 3, 3, 3, 3), {}),
]


@pytest.mark.parametrize("fn,x_shape,w_shape,kw", ERRORS_3D, ids=[f"{e[0]}-{e[1]}-{e[2]}-{e[3]}" for e in ERRORS_3D])
def test_3d_errors_match_torch(fn, x_shape, w_shape, kw):
    test_shape_and_argument_errors_match_torch(fn, x_shape, w_shape, kw)


@pytest.mark.parametrize("cls,args,kw", [
    ("Conv3d", (4, 6, 3), dict(stride=2, padding=1, groups=2, bias=False, dilation=(1, 2, 1))),
    ("Conv3d", (4, 6, (2, 3, 2)), dict(padding="same", padding_mode="circular")),
    ("Conv3d", (4, 6, 3), dict(padding=(1, 0, 2), padding_mode="reflect")),
    ("Conv3d", (4, 6, 2), dict(padding=1, padding_mode="replicate")),
    ("ConvTranspose3d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
])
def test_3d_modules_match_torch(cls, args, kw):
    c, t = getattr(nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(c) == repr(t)
    assert tuple(c.weight.shape) == tuple(t.weight.shape) and list(c.state_dict()) == list(t.state_dict())
    t.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in c.state_dict().items()})
    x = pair(draw(np.random.default_rng(11), (2, 4, 4, 5, 6), np.float32))
    ty, cy = t(x[2]), c(x[3])
    close(cy, ty, np.float32)
    ty.sum().backward()
    cy.sum().backward()
    close(x[1].grad, x[0].grad, np.float32)
    close(c.weight.grad, t.weight.grad, np.float32)


def test_compiled_training_step_with_transposed_and_3d_layers_replays_bit_identically():
    def model():
        cgrad.manual_seed(0)
        return nn.Sequential(nn.Conv3d(2, 4, 2, stride=(1, 2, 2)), nn.ReLU(), nn.Flatten(1, 2),
                             nn.ConvTranspose2d(8, 3, 3, stride=2, padding=1, output_padding=1), nn.Tanh(),
                             nn.Flatten(), nn.Linear(3 * 6 * 6, 5))

    def make(m):
        return training_step(m, cgrad.optim.SGD(m.parameters(), lr=0.05, momentum=0.9))

    m1, m2 = model(), model()
    eager, compiled = make(m1), cgrad.compile(make(m2))
    rng = np.random.default_rng(12)
    for k in range(6):
        x = cgrad.tensor(rng.standard_normal((4, 2, 3, 7, 7)).astype(np.float32))
        t = cgrad.tensor(rng.integers(0, 5, 4))
        assert same_bits(eager(x, t), compiled(x, t)), f"step {k}: loss differs"
        for p, q in zip(m1.parameters(), m2.parameters()):
            assert same_bits(p, q) and same_bits(p.grad, q.grad), f"step {k}"
    assert compiled._cgrad_step.replays >= 2
