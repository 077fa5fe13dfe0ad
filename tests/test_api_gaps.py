"""The top-level constants and settings, the *_copy ops, the lazy and legacy nn modules,
nn.grad, conv_tbc and cgrad.func's module helpers, each against torch."""
import warnings

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def outcome(fn, lib):
    """fn(lib), or the error it raises as (type name, message in cgrad's spelling)."""
    try:
        return fn(lib)
    except Exception as e:  # noqa: BLE001  (the error is the result being compared)
        return type(e).__name__, str(e).replace("torch.", "cgrad.").replace("torch::", "cgrad::")


def same_outcome(fn):
    ours, theirs = outcome(fn, cgrad), outcome(fn, torch)
    assert ours == theirs
    return ours


def to_torch(t):
    return torch.tensor(np.asarray(t.detach()))


def rand(*shape, lib=cgrad, seed=0, requires_grad=False):
    values = np.random.default_rng(seed).standard_normal(shape)
    return lib.tensor(values, dtype=lib.float64, requires_grad=requires_grad)


# ---- top-level constants and settings -----------------------------------------------------------------

def test_constants():
    for name in ("pi", "e", "inf"):
        assert getattr(cgrad, name) == getattr(torch, name)
    assert np.isnan(cgrad.nan) and cgrad.newaxis is None is torch.newaxis
    assert cgrad.ones(2)[cgrad.newaxis].shape == (1, 2)


def test_inference_flags():
    x = cgrad.ones(2)
    assert not x.is_inference() and not cgrad.is_inference(x)
    assert not cgrad.is_inference_mode_enabled()
    with cgrad.inference_mode():
        assert cgrad.is_inference_mode_enabled() and not cgrad.is_grad_enabled()
        with cgrad.inference_mode(False):
            assert not cgrad.is_inference_mode_enabled() and cgrad.is_grad_enabled()
        with cgrad.no_grad():
            assert cgrad.is_inference_mode_enabled()
        assert cgrad.is_inference_mode_enabled()
    assert not cgrad.is_inference_mode_enabled()

    @cgrad.inference_mode()
    def inside():
        return cgrad.is_inference_mode_enabled()
    assert inside() and not cgrad.is_inference_mode_enabled()
    same_outcome(lambda L: L.is_inference(1))


@pytest.mark.parametrize("shape", [(2, 3), (4, 2, 3)])
def test_adjoint(shape):
    x, tx = rand(*shape, requires_grad=True), rand(*shape, lib=torch, requires_grad=True)
    y, ty = cgrad.adjoint(x), torch.adjoint(tx)
    assert np.array_equal(np.asarray(y.detach()), ty.detach().numpy())
    assert y.grad_fn.name() == ty.grad_fn.name() and np.shares_memory(np.asarray(y.detach()), np.asarray(x.detach()))
    same_outcome(lambda L: L.adjoint(L.ones(3)))
    same_outcome(lambda L: L.ones(3).adjoint())


def test_matmul_precision_and_threads():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lib in (cgrad, torch):
            before = lib.get_float32_matmul_precision()
            try:
                got = []
                for value in ("high", "medium", "bogus", "highest"):
                    lib.set_float32_matmul_precision(value)
                    got.append(lib.get_float32_matmul_precision())
                assert got == ["high", "medium", "medium", "highest"]
            finally:
                lib.set_float32_matmul_precision(before)
    with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
        cgrad.set_float32_matmul_precision("bogus")
    same_outcome(lambda L: L.set_float32_matmul_precision(1))
    same_outcome(lambda L: L.set_flush_denormal(1))
    assert cgrad.set_flush_denormal(False) is False
    same_outcome(lambda L: L.set_num_interop_threads("2"))
    same_outcome(lambda L: L.set_num_interop_threads(0))
    assert cgrad.get_num_interop_threads() >= 1


# ---- *_copy ops -----------------------------------------------------------------------------------------

COPIES = {
    "view_copy": lambda L, x: L.view_copy(x, (6, 4)),
    "view_copy of a transpose": lambda L, x: L.view_copy(x.transpose(0, 2), (-1,)),
    "transpose_copy": lambda L, x: L.transpose_copy(x, 0, 2),
    "permute_copy": lambda L, x: L.permute_copy(x, (2, 0, 1)),
    "t_copy": lambda L, x: L.t_copy(x[0]),
    "expand_copy": lambda L, x: L.expand_copy(x[:, :1], (2, 3, 4)),
    "squeeze_copy": lambda L, x: L.squeeze_copy(x[:, :1]),
    "squeeze_copy dim": lambda L, x: L.squeeze_copy(x[:, :1], 1),
    "squeeze_copy dims": lambda L, x: L.squeeze_copy(x[:, :1], (1,)),
    "unsqueeze_copy": lambda L, x: L.unsqueeze_copy(x, 1),
    "select_copy": lambda L, x: L.select_copy(x, 1, -1),
    "slice_copy": lambda L, x: L.slice_copy(x, 1, 0, 2),
    "slice_copy step": lambda L, x: L.slice_copy(x, -1, 1, None, 2),
    "slice_copy clamped": lambda L, x: L.slice_copy(x, 1, -5, 10),
    "diagonal_copy": lambda L, x: L.diagonal_copy(x, 1, 1, 2),
    "narrow_copy": lambda L, x: L.narrow_copy(x, 1, 1, 2),
    "Tensor.narrow_copy": lambda L, x: x.narrow_copy(-1, -2, 1),
    "alias_copy": lambda L, x: L.alias_copy(x),
    "split_copy": lambda L, x: L.split_copy(x, 2, 1),
    "split_with_sizes_copy": lambda L, x: L.split_with_sizes_copy(x, [1, 3], 2),
    "unbind_copy": lambda L, x: L.unbind_copy(x, 1),
    "unfold_copy": lambda L, x: L.unfold_copy(x, 2, 2, 1),
}


def _run_copy(lib, case, grad_mode=True):
    x = rand(2, 3, 4, lib=lib, requires_grad=True)
    with lib.set_grad_enabled(grad_mode):
        out = COPIES[case](lib, x)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if not grad_mode:
        return x, outs, None
    total = sum((o * rand(*o.shape, lib=lib, seed=i + 1)).sum() for i, o in enumerate(outs))
    total.backward()
    return x, outs, x.grad


@pytest.mark.parametrize("case", COPIES)
def test_copy_ops_like_torch(case):
    x, outs, grad = _run_copy(cgrad, case)
    tx, touts, tgrad = _run_copy(torch, case)
    assert type(COPIES[case](cgrad, x)) is type(COPIES[case](torch, tx)) or len(outs) == 1
    assert len(outs) == len(touts)
    for o, t in zip(outs, touts):
        assert np.array_equal(np.asarray(o.detach()), t.detach().numpy())
        assert o.grad_fn.name() == t.grad_fn.name()
        assert o.is_contiguous()
        assert not np.shares_memory(np.asarray(o.detach()), np.asarray(x.detach()))
    np.testing.assert_allclose(np.asarray(grad), tgrad.numpy(), rtol=1e-12, atol=1e-12)
    _, outs, _ = _run_copy(cgrad, case, grad_mode=False)
    assert all(o.grad_fn is None and not o.requires_grad for o in outs)


def test_copy_ops_second_order():
    for lib in (cgrad, torch):
        x = rand(3, 3, lib=lib, requires_grad=True)
        y = (lib.transpose_copy(x, 0, 1) ** 3).sum()
        g, = lib.autograd.grad(y, x, create_graph=True)
        gg, = lib.autograd.grad(lib.diagonal_copy(g).sum(), x)
        if lib is cgrad:
            ours = np.asarray(gg)
    np.testing.assert_allclose(ours, gg.numpy(), rtol=1e-12)


COPY_ERRORS = {
    "view_copy shape": lambda L: L.view_copy(L.ones(2, 3), (5,)),
    "transpose_copy dim": lambda L: L.transpose_copy(L.ones(2, 3), 0, 5),
    "narrow_copy range": lambda L: L.narrow_copy(L.ones(2, 3), 0, 1, 5),
    "slice_copy dim": lambda L: L.slice_copy(L.ones(2, 3), 3),
    "slice_copy step": lambda L: L.slice_copy(L.ones(2, 3), 1, 0, 2, 0),
    "split_copy sizes": lambda L: L.split_copy(L.ones(2, 3), [1, 2], 1),
    "t_copy dims": lambda L: L.t_copy(L.ones(2, 3, 4)),
}


@pytest.mark.parametrize("case", COPY_ERRORS)
def test_copy_op_errors_like_torch(case):
    assert isinstance(same_outcome(COPY_ERRORS[case]), tuple)


def test_detach_copy():
    x = rand(2, 3, requires_grad=True)
    y = cgrad.detach_copy(x)
    assert np.array_equal(np.asarray(y), np.asarray(x.detach())) and not y.requires_grad
    assert not np.shares_memory(np.asarray(y), np.asarray(x.detach()))


# ---- nn: lazy modules -----------------------------------------------------------------------------------

LAZY = {
    "LazyConv3d": (lambda nn: nn.LazyConv3d(4, 2, stride=1, padding=1, groups=2), (2, 4, 3, 3, 3), "Conv3d"),
    "LazyConvTranspose1d": (lambda nn: nn.LazyConvTranspose1d(4, 3, stride=2, output_padding=1, groups=2),
                            (2, 6, 5), "ConvTranspose1d"),
    "LazyConvTranspose2d": (lambda nn: nn.LazyConvTranspose2d(3, 2, bias=False), (2, 2, 3, 3), "ConvTranspose2d"),
    "LazyConvTranspose2d unbatched": (lambda nn: nn.LazyConvTranspose2d(3, 2), (2, 3, 3), "ConvTranspose2d"),
    "LazyConvTranspose3d": (lambda nn: nn.LazyConvTranspose3d(2, 2, dilation=2), (1, 3, 2, 2, 2), "ConvTranspose3d"),
    "LazyBatchNorm1d": (lambda nn: nn.LazyBatchNorm1d(), (4, 3, 5), "BatchNorm1d"),
    "LazyBatchNorm2d": (lambda nn: nn.LazyBatchNorm2d(momentum=None, affine=False), (4, 3, 2, 2), "BatchNorm2d"),
    "LazyBatchNorm3d": (lambda nn: nn.LazyBatchNorm3d(track_running_stats=False), (2, 3, 2, 2, 2), "BatchNorm3d"),
    "LazyInstanceNorm1d": (lambda nn: nn.LazyInstanceNorm1d(), (2, 3, 5), "InstanceNorm1d"),
    "LazyInstanceNorm2d": (lambda nn: nn.LazyInstanceNorm2d(affine=False), (2, 3, 4, 4), "InstanceNorm2d"),
    "LazyInstanceNorm3d": (lambda nn: nn.LazyInstanceNorm3d(bias=False), (2, 3, 2, 2, 3), "InstanceNorm3d"),
}


@pytest.mark.parametrize("case", LAZY)
def test_lazy_modules_like_torch(case):
    make, shape, becomes = LAZY[case]
    ours, theirs = make(cgrad.nn).double(), make(torch.nn).double()
    assert ours.has_uninitialized_params() == theirs.has_uninitialized_params()
    assert repr(ours) == repr(theirs)
    ours(rand(*shape, seed=7))
    theirs(rand(*shape, lib=torch, seed=7))  # materialized; then it takes cgrad's initial values
    assert type(ours).__name__ == type(theirs).__name__ == becomes
    assert repr(ours) == repr(theirs)
    state = {k: to_torch(v) for k, v in ours.state_dict().items()}
    assert list(state) == list(theirs.state_dict())
    theirs.load_state_dict(state)
    fresh, ours2 = make(torch.nn).double(), make(cgrad.nn).double()
    fresh.load_state_dict(state)  # a lazy module takes a state dict's shapes
    ours2.load_state_dict(ours.state_dict())
    shapes = [tuple(t.shape) for t in ours2.state_dict().values()]
    assert shapes == [tuple(t.shape) for t in fresh.state_dict().values()]
    x, tx = rand(*shape, requires_grad=True), rand(*shape, lib=torch, requires_grad=True)
    out, tout = ours(x), theirs(tx)
    np.testing.assert_allclose(np.asarray(out.detach()), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rand(*out.shape, seed=3)
    out.backward(g)
    tout.backward(to_torch(g))
    np.testing.assert_allclose(np.asarray(x.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(np.asarray(p.grad), tp.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    for (name, b), tb in zip(ours.named_buffers(), theirs.buffers()):
        np.testing.assert_allclose(np.asarray(b), tb.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_lazy_errors_like_torch():
    same_outcome(lambda L: L.nn.LazyConvTranspose1d(4, 3, groups=2)(L.ones(1, 3, 5)))
    same_outcome(lambda L: L.nn.LazyConv3d(4, 3)(L.ones(1, 3, 5)))
    same_outcome(lambda L: L.nn.LazyBatchNorm2d()(L.ones(1, 3, 5)))


# ---- nn: legacy modules ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size,channels", [(3, 5), (4, 6), (5, 3), (2, 7), (1, 2)])
def test_cross_map_lrn2d_like_torch(size, channels):
    results = []
    for lib in (cgrad, torch):
        m = lib.nn.CrossMapLRN2d(size, alpha=0.5, beta=0.75, k=2)
        x = rand(2, channels, 3, 2, lib=lib, requires_grad=True)
        y = m(x)
        grad = outcome(lambda L: y.backward(rand(*y.shape, lib=lib, seed=5)) or np.asarray(x.grad), lib)
        results.append((np.asarray(y.detach()), grad, y.grad_fn.name(), repr(m)))
    (y, g, name, text), (ty, tg, tname, ttext) = results
    np.testing.assert_allclose(y, ty, rtol=1e-12)
    if isinstance(tg, tuple):  # PyTorch's backward cannot run for size 1
        assert g == tg
    else:
        np.testing.assert_allclose(g, tg, rtol=1e-10, atol=1e-12)
    assert name == tname and text == ttext
    same_outcome(lambda L: L.nn.CrossMapLRN2d(3)(L.ones(2, 3, 4)))


def test_nll_loss2d_and_container():
    x, t = rand(2, 3, 4, 4), cgrad.tensor(np.random.default_rng(1).integers(0, 3, (2, 4, 4)))
    tx, tt = to_torch(x), torch.tensor(np.asarray(t))
    w = cgrad.tensor([1.0, 2.0, 0.5], dtype=cgrad.float64)
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
        loss = cgrad.nn.NLLLoss2d(weight=w, ignore_index=1)(x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tloss = torch.nn.NLLLoss2d(weight=to_torch(w), ignore_index=1)(tx, tt)
        assert abs(loss.item() - tloss.item()) < 1e-12 and isinstance(cgrad.nn.NLLLoss2d(), cgrad.nn.NLLLoss)
    with pytest.warns(FutureWarning, match="`nn.Container` is deprecated"):
        c = cgrad.nn.Container(lin=cgrad.nn.Linear(2, 3), act=cgrad.nn.ReLU())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tc = torch.nn.Container(lin=torch.nn.Linear(2, 3), act=torch.nn.ReLU())
    assert repr(c) == repr(tc) and list(c.state_dict()) == list(tc.state_dict())


def _asm_pair(**kwargs):
    ours = cgrad.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], **kwargs).double()
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], **kwargs).double()
    theirs.load_state_dict({k: to_torch(v) for k, v in ours.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("head_bias", [False, True])
def test_adaptive_log_softmax_like_torch(head_bias):
    ours, theirs = _asm_pair(div_value=2.0, head_bias=head_bias)
    assert repr(ours) == repr(theirs)
    x, tx = rand(6, 8, requires_grad=True), rand(6, 8, lib=torch, requires_grad=True)
    target = [0, 4, 9, 2, 7, 5]
    out, tout = ours(x, cgrad.tensor(target)), theirs(tx, torch.tensor(target))
    np.testing.assert_allclose(np.asarray(out.output.detach()), tout.output.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(out.loss.item(), tout.loss.item(), rtol=1e-12)
    out.loss.backward()
    tout.loss.backward()
    np.testing.assert_allclose(np.asarray(x.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(np.asarray(p.grad), tp.grad.numpy(), rtol=1e-10, atol=1e-12)
    with cgrad.no_grad(), torch.no_grad():
        np.testing.assert_allclose(np.asarray(ours.log_prob(x)), theirs.log_prob(tx).numpy(), rtol=1e-12)
        assert np.asarray(ours.predict(x)).tolist() == theirs.predict(tx).tolist()
        single = ours(x[0], cgrad.tensor(8))
        tsingle = theirs(tx[0], torch.tensor(8))
        np.testing.assert_allclose(single.output.item(), tsingle.output.item(), rtol=1e-12)


ASM_ERRORS = {
    "no cutoffs": lambda L: L.nn.AdaptiveLogSoftmaxWithLoss(8, 10, []),
    "bad cutoffs": lambda L: L.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [6, 3]),
    "cutoff too big": lambda L: L.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [10]),
    "batch": lambda L: L.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(L.ones(2, 8), L.tensor([1, 2, 3])),
    "input dims": lambda L: L.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(L.ones(2, 8, 1), L.tensor([1, 2])),
    "0-d target": lambda L: L.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(L.ones(2, 8), L.tensor(1)),
    "2-d target": lambda L: L.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(L.ones(2, 8), L.ones(2, 1).long()),
    "target range": lambda L: L.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(L.ones(2, 8), L.tensor([1, 12])),
}


@pytest.mark.parametrize("case", ASM_ERRORS)
def test_adaptive_log_softmax_errors_like_torch(case):
    assert isinstance(same_outcome(ASM_ERRORS[case]), tuple)


# ---- nn.functional: conv_tbc, native_channel_shuffle, nn.grad -------------------------------------------

@pytest.mark.parametrize("pad", [0, 1, 2])
def test_conv_tbc_like_torch(pad):
    results = []
    for lib in (cgrad, torch):
        args = [rand(5, 2, 3, lib=lib, requires_grad=True), rand(3, 3, 4, lib=lib, seed=1, requires_grad=True),
                rand(4, lib=lib, seed=2, requires_grad=True)]
        y = lib.nn.functional.conv_tbc(*args, pad=pad)
        y.backward(rand(*y.shape, lib=lib, seed=3))
        results.append([np.asarray(y.detach())] + [np.asarray(a.grad) for a in args])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert cgrad.conv_tbc is cgrad.nn.functional.conv_tbc
    for bad in (lambda L: L.conv_tbc(L.ones(5, 2), L.ones(3, 3, 4), L.ones(4)),
                lambda L: L.conv_tbc(L.ones(5, 2, 3), L.ones(3, 3), L.ones(4)),
                lambda L: L.conv_tbc(L.ones(5, 2, 3), L.ones(3, 3, 4), L.ones(4, 1)),
                lambda L: L.conv_tbc(L.ones(5, 2, 3), L.ones(3, 2, 4), L.ones(4)),
                lambda L: L.conv_tbc(L.ones(5, 2, 3), L.ones(3, 3, 4), L.ones(3))):
        assert isinstance(same_outcome(bad), tuple)


def test_native_channel_shuffle():
    x = rand(2, 6, 3)
    ours = cgrad.nn.functional.native_channel_shuffle(x, 3)
    assert np.array_equal(np.asarray(ours), torch.nn.functional.native_channel_shuffle(to_torch(x), 3).numpy())
    same_outcome(lambda L: L.nn.functional.native_channel_shuffle(L.ones(2, 4, 3), 3))


GRAD_CASES = {
    "conv1d": (1, (2, 4, 7), (6, 2, 3), dict(stride=2, groups=2)),
    "conv1d padded": (1, (1, 3, 6), (2, 3, 2), dict(padding=1, dilation=2)),
    "conv2d": (2, (2, 2, 5, 4), (3, 2, 2, 3), dict(stride=(2, 1), padding=(1, 0))),
    "conv3d": (3, (1, 2, 4, 3, 3), (2, 1, 2, 2, 1), dict(groups=2, stride=1)),
}


@pytest.mark.parametrize("case", GRAD_CASES)
def test_nn_grad_like_torch(case):
    n, xshape, wshape, kw = GRAD_CASES[case]
    results = []
    for lib in (cgrad, torch):
        x = rand(*xshape, lib=lib, requires_grad=True)
        w = rand(*wshape, lib=lib, seed=1, requires_grad=True)
        conv = getattr(lib.nn.functional, f"conv{n}d")
        y = conv(x, w, None, **kw)
        g = rand(*y.shape, lib=lib, seed=2, requires_grad=True)
        gi = getattr(lib.nn.grad, f"conv{n}d_input")(x.shape, w, g, **kw)
        gw = getattr(lib.nn.functional.grad, f"conv{n}d_weight")(x, w.shape, g, **kw)
        (gi * rand(*gi.shape, lib=lib, seed=4)).sum().backward()
        (gw * rand(*gw.shape, lib=lib, seed=5)).sum().backward()
        results.append([np.asarray(t.detach()) for t in (gi, gw, x.grad, w.grad, g.grad)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---- cgrad.func -----------------------------------------------------------------------------------------

def test_stack_module_state():
    models = [cgrad.nn.Sequential(cgrad.nn.Linear(3, 2), cgrad.nn.BatchNorm1d(2)) for _ in range(3)]
    params, buffers = cgrad.func.stack_module_state(models)
    assert list(params) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert list(buffers) == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert params["0.weight"].shape == (3, 2, 3) and params["0.weight"].is_leaf and params["0.weight"].requires_grad
    assert np.array_equal(np.asarray(params["0.bias"][1].detach()), np.asarray(models[1][0].bias.detach()))
    assert not buffers["1.running_var"].requires_grad and buffers["1.num_batches_tracked"].shape == (3,)
    data = rand(4, 3).float()

    def one(p, b, x):
        return cgrad.func.functional_call(models[0], (p, b), (x,))
    out = cgrad.func.vmap(one, (0, 0, None))(params, buffers, data)
    for i, m in enumerate(models):
        np.testing.assert_allclose(np.asarray(out[i].detach()), np.asarray(m(data).detach()), rtol=1e-5, atol=1e-6)
    models[1].eval()
    for bad in ([], models, [cgrad.nn.Linear(3, 2), cgrad.nn.ReLU()]):
        msg = outcome(lambda L: L.func.stack_module_state(bad), cgrad)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tbad = [] if not bad else [torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
                                       for _ in range(3)] if bad is models else [torch.nn.Linear(3, 2),
                                                                                 torch.nn.ReLU()]
        if bad is models:
            tbad[1].eval()
        assert msg == outcome(lambda L: L.func.stack_module_state(tbad), torch)
    models[1].train()
    models[2][0].bias.requires_grad_(False)
    with pytest.raises(RuntimeError, match="Expected 0.bias from each model to have the same .requires_grad"):
        cgrad.func.stack_module_state(models)


def test_linearize_like_torch():
    def f(lib):
        return lambda x, y: (lib.sin(x) * y, (x ** 2).sum())
    x, y, tx, ty = rand(3), rand(3, seed=1), rand(3, lib=torch), rand(3, lib=torch, seed=1)
    out, jvp_fn = cgrad.func.linearize(f(cgrad), x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's tracing warns of torch.jit
        tout, tjvp_fn = torch.func.linearize(f(torch), tx, ty)
    for a, b in zip(out, tout):
        np.testing.assert_allclose(np.asarray(a), b.numpy(), rtol=1e-12)
    for seed in (2, 3):
        tangents = (rand(3, seed=seed), rand(3, seed=seed + 10))
        ours = jvp_fn(*tangents)
        theirs = tjvp_fn(*(to_torch(t) for t in tangents))
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(np.asarray(a), b.numpy(), rtol=1e-12, atol=1e-14)
    with pytest.raises(RuntimeError, match="tangent:1 with shape"):
        jvp_fn(rand(3), rand(2))
    with pytest.raises(RuntimeError, match="tangent:0 with dtype"):
        jvp_fn(rand(3).float(), rand(3))
    with pytest.raises(RuntimeError, match="same argspec"):
        jvp_fn(rand(3))


def test_functionalize():
    def f(x):
        y = x.clone()
        y.add_(1)
        x.mul_(2)
        return y, x.view(-1)
    for remove in ("mutations", "mutations_and_views"):
        x, tx = rand(2, 2), rand(2, 2, lib=torch)
        ours = cgrad.func.functionalize(f, remove=remove)(x)
        theirs = torch.func.functionalize(f, remove=remove)(tx)
        for a, b in zip(ours, theirs):
            assert np.array_equal(np.asarray(a), b.numpy())
        assert np.array_equal(np.asarray(x), tx.numpy())  # the input's mutation is applied, as in PyTorch
        assert np.shares_memory(np.asarray(ours[1]), np.asarray(x)) == (remove == "mutations")
    assert cgrad.func.functionalize(f).__name__ == "f"
    same_outcome(lambda L: L.func.functionalize(f, remove="views"))


def test_replace_all_batch_norm_modules_():
    results = []
    for lib in (cgrad, torch):
        m = lib.nn.Sequential(lib.nn.Linear(3, 3), lib.nn.BatchNorm1d(3), lib.nn.Sequential(lib.nn.BatchNorm2d(2)),
                              lib.nn.InstanceNorm1d(3, track_running_stats=True))
        assert lib.func.replace_all_batch_norm_modules_(m) is m
        results.append([(type(s).__name__, getattr(s, "track_running_stats", None),
                         getattr(s, "running_mean", 0) is None) for s in m.modules()] + [list(m.state_dict())])
    assert results[0] == results[1]


# ---- linalg.ldl_factor, ldl_solve ------------------------------------------------------------------------

def _symmetric(lib, *shape, seed=0, dtype="float64"):
    a = rand(*shape, lib=lib, seed=seed)
    return (a + a.mT).to(getattr(lib, dtype))


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (0, 0), (1, 1)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_ldl_factor_and_solve_like_torch(shape, dtype):
    ours = cgrad.linalg.ldl_factor_ex(_symmetric(cgrad, *shape, dtype=dtype))
    theirs = torch.linalg.ldl_factor_ex(_symmetric(torch, *shape, dtype=dtype))
    np.testing.assert_allclose(np.asarray(ours.LD), theirs.LD.numpy(), rtol=1e-5 if dtype == "float32" else 1e-12)
    assert np.asarray(ours.pivots).tolist() == theirs.pivots.tolist() and ours.pivots.dtype == cgrad.int64
    assert np.asarray(ours.info).tolist() == theirs.info.tolist()
    b = rand(*shape[:-1], 2, seed=1).to(getattr(cgrad, dtype))
    x = cgrad.linalg.ldl_solve(ours.LD, ours.pivots, b)
    tx = torch.linalg.ldl_solve(theirs.LD, theirs.pivots, to_torch(b))
    np.testing.assert_allclose(np.asarray(x), tx.numpy(), rtol=1e-4 if dtype == "float32" else 1e-10, atol=1e-10)


def test_ldl_two_by_two_pivots_and_broadcast():
    a = cgrad.tensor([[0.0, 1, 2], [1, 0, 3], [2, 3, 1]], dtype=cgrad.float64)
    ld, piv = cgrad.linalg.ldl_factor(a, hermitian=True)
    tld, tpiv = torch.linalg.ldl_factor(to_torch(a))
    assert np.asarray(piv).tolist() == tpiv.tolist() == [-3, -3, 3]
    np.testing.assert_allclose(np.asarray(ld), tld.numpy(), rtol=1e-12)
    b = rand(2, 3, 4, seed=2)
    x = cgrad.linalg.ldl_solve(ld, piv, b)
    np.testing.assert_allclose(np.asarray(a @ x), np.asarray(b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(x), torch.linalg.ldl_solve(tld, tpiv, to_torch(b)).numpy(), rtol=1e-10)
    upper_ignored = a.clone()
    upper_ignored[0, 2] = 100.0  # only the lower triangle is read
    assert np.array_equal(np.asarray(cgrad.linalg.ldl_factor(upper_ignored).LD), np.asarray(ld))
    assert not cgrad.linalg.ldl_factor(a.requires_grad_()).LD.requires_grad


def test_ldl_singular():
    info = cgrad.linalg.ldl_factor_ex(cgrad.zeros(2, 2)).info
    assert np.asarray(info).tolist() == torch.linalg.ldl_factor_ex(torch.zeros(2, 2)).info.tolist() == 1
    with pytest.raises(cgrad.linalg.LinAlgError, match="ldl_factor: The factorization could not be completed"):
        cgrad.linalg.ldl_factor(cgrad.zeros(2, 2))
    with pytest.raises(cgrad.linalg.LinAlgError, match=r"ldl_factor_ex: \(Batch element 1\)"):
        cgrad.linalg.ldl_factor_ex(cgrad.stack([cgrad.eye(2), cgrad.zeros(2, 2)]), check_errors=True)


def _ldl(L):
    a = L.tensor([[4.0, 1, 2], [1, -3, 0.5], [2, 0.5, 5]], dtype=L.float64)
    return L.linalg.ldl_factor(a)


LDL_ERRORS = {
    "not square": lambda L: L.linalg.ldl_factor(L.ones(2, 3)),
    "1-d": lambda L: L.linalg.ldl_factor(L.ones(3)),
    "int": lambda L: L.linalg.ldl_factor(L.ones(2, 2, dtype=L.long)),
    "not a tensor": lambda L: L.linalg.ldl_factor([1.0]),
    "pivots shape": lambda L: L.linalg.ldl_solve(_ldl(L).LD, _ldl(L).pivots[:2], L.ones(3, 2, dtype=L.float64)),
    "pivots dtype": lambda L: L.linalg.ldl_solve(_ldl(L).LD, _ldl(L).pivots.double(), L.ones(3, 2,
                                                                                            dtype=L.float64)),
    "LD not square": lambda L: L.linalg.ldl_solve(_ldl(L).LD[:2], _ldl(L).pivots, L.ones(3, 2, dtype=L.float64)),
    "B sizes": lambda L: L.linalg.ldl_solve(*_ldl(L), L.ones(2, 2, dtype=L.float64)),
    "B 1-d": lambda L: L.linalg.ldl_solve(*_ldl(L), L.ones(3, dtype=L.float64)),
    "B dtype": lambda L: L.linalg.ldl_solve(*_ldl(L), L.ones(3, 2)),
    "B not a tensor": lambda L: L.linalg.ldl_solve(*_ldl(L), [1.0]),
}


@pytest.mark.parametrize("case", LDL_ERRORS)
def test_ldl_errors_like_torch(case):
    assert isinstance(same_outcome(LDL_ERRORS[case]), tuple)


def test_forward_ad_names_exist_and_raise():
    fwAD = cgrad.autograd.forward_ad
    x = cgrad.ones(2)
    for call in (lambda: fwAD.make_dual(x, x), lambda: fwAD.unpack_dual(x), fwAD.enter_dual_level,
                 fwAD.exit_dual_level):
        with pytest.raises(NotImplementedError, match="cgrad.func.jvp"):
            call()
    with pytest.raises(NotImplementedError, match="forward-mode AD"):
        with fwAD.dual_level():
            pass
    assert fwAD.UnpackedDualTensor(x, x).tangent is x
