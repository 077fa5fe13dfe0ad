"""PyTorch's smaller top-level names against torch: eager cond and while_loop, the aten-level forms of
nn.functional's ops, removed functions that raise, the complex helpers on real tensors, sym_*, the
deprecated nn.init aliases, the multithreading flag, linear_cross_entropy and signal.windows."""
import functools
import math
import warnings

import numpy as np
import pytest

import cgrad
from helpers import leaks_unchecked

torch = pytest.importorskip("torch")


def _leaks_unchecked(fn):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        with leaks_unchecked():
            return fn(*args, **kwargs)
    return call


@pytest.fixture(autouse=True)
def _torch_control_flow_leaks_unchecked(monkeypatch):
    """torch's eager cond and while_loop trace their branches with symbolic sizes that torch never frees;
    the sanitized run must not count torch's leak against cgrad."""
    monkeypatch.setattr(torch, "cond", _leaks_unchecked(torch.cond))
    monkeypatch.setattr(torch, "while_loop", _leaks_unchecked(torch.while_loop))


def outcome(fn, lib):
    """fn(lib) as plain values (tensors as numpy, tuples as lists), or (error type name, message in cgrad's
    spelling)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return plain(fn(lib))
    except Exception as e:  # noqa: BLE001  (the error is the result being compared)
        return type(e).__name__, str(e).replace("torch.", "cgrad.")


def plain(value):
    if isinstance(value, (cgrad.Tensor, torch.Tensor)):
        return ("tensor", str(value.dtype).split(".")[-1], value.detach().numpy().tolist())
    if isinstance(value, (tuple, list)):
        return [type(value).__name__] + [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def same_outcome(fn):
    ours, theirs = outcome(fn, cgrad), outcome(fn, torch)
    assert ours == theirs
    return ours


def close_outcome(fn, rtol=1e-10, atol=1e-12):
    """fn(lib)'s tensors (one or a tuple) close in cgrad and torch, with the same dtypes and shapes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = fn(cgrad), fn(torch)
    ours = ours if isinstance(ours, (tuple, list)) else (ours,)
    theirs = theirs if isinstance(theirs, (tuple, list)) else (theirs,)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


def grads_match(fn, *arrays, rtol=1e-9, atol=1e-11):
    """fn(lib, *leaves) (a tensor, or a tuple whose first is differentiated) in cgrad and torch: values and
    the gradients of sum(out * upstream) agree."""
    results = []
    for lib in (cgrad, torch):
        leaves = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(lib, *leaves)
        out = out[0] if isinstance(out, (tuple, list)) else out
        up = lib.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)), dtype=out.dtype)
        (out * up).sum().backward()
        results.append((out.detach().numpy(), [leaf.grad.numpy() if leaf.grad is not None else None
                                               for leaf in leaves]))
    (a, ga), (b, gb) = results
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    for x, y in zip(ga, gb):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- cond and while_loop ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("pred", [True, False, 1, 0.0])
def test_cond_python_pred_runs_the_branch(pred):
    for lib in (cgrad, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        out = lib.cond(pred, lambda a: a.sin(), lambda a: a.cos(), (x,))
        assert out.grad_fn.name() == ("SinBackward0" if pred else "CosBackward0")
        assert lib.cond(pred, lambda a: a, lambda a: a, (x,)) is x  # no copy: the branch's result itself
    same_outcome(lambda lib: lib.cond(pred, lambda d, n: d["a"] * n, lambda d, n: d["a"] - n,
                                      [{"a": lib.tensor([1.0, 2.0])}, 3]))


def test_cond_tensor_pred_is_a_node():
    for pred in ([True], [False], 0.5, 0):
        def fn(lib):
            x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
            y = lib.tensor([0.5, -1.0], dtype=lib.float64)
            out = lib.cond(lib.tensor(pred), lambda a, b: (a.sin() * b, a * 2), lambda a, b: (a.cos(), a + b),
                           (x, y))
            assert isinstance(out, tuple) and out[0].grad_fn.name() == "CondAutogradOpBackward"
            (out[0].sum() + out[1].sum()).backward()
            return out[0], out[1], x.grad
        close_outcome(fn)
    for lib in (cgrad, torch):  # closures differentiate too; no grad wanted: no node
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        out = lib.cond(lib.tensor(True), lambda: x * 3, lambda: x + 1)
        out.sum().backward()
        assert x.grad.tolist() == [3.0, 3.0]
        out = lib.cond(lib.tensor(True), lambda a: a + 1, lambda a: a * 2, (lib.ones(2),))
        assert out.grad_fn is None and lib.cond(lib.tensor(True), lambda a: 1, lambda a: 2, (x,)) == 1


def test_cond_errors():
    same_outcome(lambda lib: lib.cond(lib.tensor([True, False]), lambda a: a, lambda a: a, (lib.ones(2),)))
    same_outcome(lambda lib: lib.cond("a", lambda a: a, lambda a: a, (lib.ones(2),)))
    same_outcome(lambda lib: lib.cond(lib.tensor(True), lambda a: a + 1, lambda a: a, (3,)))
    same_outcome(lambda lib: lib.cond(True, 1, 2, (lib.ones(2),)))
    same_outcome(lambda lib: lib.cond(True, lambda a: a.sin(), lambda a: a, lib.ones(2)))
    for lib in (cgrad, torch):  # a branch that returns its operand: PyTorch's tracer refuses aliasing
        with pytest.raises(RuntimeError, match="aliasing"):
            lib.cond(lib.tensor(True), lambda a: a, lambda a: a, (lib.ones(2),))


def test_while_loop():
    def fn(lib):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        i, y = lib.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * a), (lib.tensor(0), x))
        assert y.grad_fn.name() == "WhileLoopAutogradOpBackward" and i.grad_fn is None
        y.sum().backward()
        return i, y, x.grad
    close_outcome(fn)
    same_outcome(lambda lib: lib.while_loop(lambda i: i < 3, lambda i: [i + 1], [lib.tensor(0)]))
    same_outcome(lambda lib: lib.while_loop(lambda d: d["a"] < 3, lambda d: ({"a": d["a"] + 2},),
                                            ({"a": lib.tensor(0)},)))
    same_outcome(lambda lib: lib.while_loop(lambda i: bool(i < 3), lambda i: (i + 1,), (lib.tensor(0),)))
    for lib in (cgrad, torch):  # no step taken: new tensors all the same
        x, i = lib.ones(2, requires_grad=True), lib.tensor(0)
        j, y = lib.while_loop(lambda i, a: i < 0, lambda i, a: (i + 1, a * 2), (i, x))
        assert j is not i and y is not x and y.grad_fn.name() == "WhileLoopAutogradOpBackward"
    same_outcome(lambda lib: lib.while_loop(1, lambda a: (a + 1,), (lib.tensor(0),)))
    for cond_fn, body_fn, start in [
        (lambda a: a < 3, lambda a: (a + 1,), lambda lib: (lib.zeros(2),)),
        (lambda a: (a < 3).float(), lambda a: (a + 1,), lambda lib: (lib.tensor(0),)),
        (lambda a: a < 3, lambda a: (a + 1.0,), lambda lib: (lib.tensor(0),)),
        (lambda a: a.sum() < 3, lambda a: (a.repeat(2),), lambda lib: (lib.ones(1),)),
        (lambda i, a: i < 3, lambda i, a: (i + 1,), lambda lib: (lib.tensor(0), lib.ones(2))),
        (lambda i: True, lambda i: (i * 1,), lambda lib: (lib.tensor(0),)),
    ]:
        for lib in (cgrad, torch):  # PyTorch's tracer's errors: RuntimeErrors with their own wording
            with pytest.raises(RuntimeError):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    lib.while_loop(cond_fn, body_fn, start(lib))


# ---- aten-level forms of nn.functional's ops --------------------------------------------------------------------

@pytest.mark.parametrize("transposed", [False, True])
def test_convolution(transposed):
    w = rand(3, 2, 2, 2, seed=1) if transposed else rand(2, 3, 2, 2, seed=1)

    def fn(lib, x, w, b):
        out = lib.convolution(x, w, b, [2, 1], [1, 0], [1, 1], transposed, [1, 0] if transposed else [0, 0], 1)
        assert out.grad_fn.name() == "ConvolutionBackward0"
        return out
    grads_match(fn, rand(1, 3, 4, 5), w, rand(2, seed=2))
    same_outcome(lambda lib: lib.convolution(lib.ones(3, 4, 5), lib.ones(2, 3, 2, 2), None, [1], [0], [1], False,
                                             [0], 1))
    same_outcome(lambda lib: lib.convolution(3, lib.ones(2, 3, 2, 2), None, [1], [0], [1], False, [0], 1))


def test_ctc_loss_enum():
    def fn(lib, logits):
        lp = logits.log_softmax(2)
        return lib.ctc_loss(lp, lib.tensor([[1, 2], [2, 2]]), [5, 4], [2, 2], 0, reduction, False)
    for reduction in (0, 1, 2, 5):
        grads_match(fn, rand(5, 2, 3))


@pytest.mark.parametrize("call", [
    lambda lib: lib.grid_sampler_2d(lib.ones(1, 1, 2, 2, 2), lib.zeros(1, 1, 1, 1, 3), 0, 0, False),
    lambda lib: lib.grid_sampler_3d(lib.ones(1, 1, 2, 2), lib.zeros(1, 1, 1, 2), 0, 0, False),
    lambda lib: lib.grid_sampler(lib.ones(1, 1, 2, 2, 2), lib.zeros(1, 1, 1, 1, 3), 2, 0, False),
    lambda lib: lib.affine_grid_generator(lib.ones(1, 2, 3), [1, 1, 2], False),
    lambda lib: lib.affine_grid_generator(lib.ones(1, 2, 2), [1, 1, 2, 2], False),
    lambda lib: lib.embedding_bag(lib.ones(3, 2), lib.tensor([0]), lib.tensor([0]), False, 5),
    lambda lib: lib.native_group_norm(lib.ones(2, 4, 3), None, None, 2, 4, 4, 2, 1e-5),
    lambda lib: lib.convolution(lib.ones(1, 4, 5), lib.ones(2, 4, 2), None, 1, [0], [1], False, [0], 1),
    lambda lib: lib.convolution(lib.ones(1, 4, 5), lib.ones(2, 4, 2), None, [1], [0], [1], False, 0, 1),
])
def test_aten_form_errors(call):
    same_outcome(call)


def test_grouped_convolution():
    grads_match(lambda lib, x, w: lib.convolution(x, w, None, [1], [0], [1], False, [0], 2), rand(1, 4, 5),
                rand(2, 2, 2))
    grads_match(lambda lib, x, w: lib.convolution(x, w, None, [2], [1], [1], True, [1], 2), rand(1, 4, 5),
                rand(4, 1, 2))


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("padding_idx", [None, 1])
@pytest.mark.parametrize("last", [False, True])
def test_embedding_bag_tuple(mode, padding_idx, last):
    w = rand(5, 2)
    offsets = [0, 1, 4] if last else [0, 1]

    def fn(lib):
        args = (lib.tensor(w), lib.tensor([0, 1, 2, 4]), lib.tensor(offsets), False, mode, False, None, last)
        return lib.embedding_bag(*args, padding_idx) if padding_idx is not None else lib.embedding_bag(*args)
    ours, theirs = fn(cgrad), fn(torch)
    np.testing.assert_allclose(ours[0].numpy(), theirs[0].numpy(), rtol=1e-12)
    for a, b in zip(ours[1:], theirs[1:]):
        assert a.tolist() == b.tolist()
    grads_match(lambda lib, w: lib.embedding_bag(w, lib.tensor([0, 1, 2, 4]), lib.tensor([0, 2]), False, mode)[0],
                w)
    node = cgrad.embedding_bag(cgrad.tensor(w, requires_grad=True), cgrad.tensor([0, 1]), cgrad.tensor([0]))[0]
    assert node.grad_fn.name() == "EmbeddingBagBackward0"


def test_pdist_and_grid_forms():
    grads_match(lambda lib, x: lib.pdist(x, 3), rand(4, 3))
    grid = rand(1, 2, 3, 2, seed=1) * 0.9
    for mode in (0, 1, 2):
        for pad in (0, 1, 2):
            grads_match(lambda lib, x, g: lib.grid_sampler(x, g, mode, pad, True), rand(1, 2, 3, 4), grid)
    grads_match(lambda lib, x, g: lib.grid_sampler_2d(x, g, 0, 0, False), rand(1, 2, 3, 4), grid)
    grads_match(lambda lib, x, g: lib.grid_sampler_3d(x, g, 0, 1, False), rand(1, 1, 2, 3, 2),
                rand(1, 2, 2, 1, 3, seed=2) * 0.9)
    out = cgrad.grid_sampler_2d(cgrad.ones(1, 1, 3, 3, requires_grad=True), cgrad.zeros(1, 2, 2, 2), 0, 0, False)
    assert out.grad_fn.name() == "GridSampler2DBackward0"
    grads_match(lambda lib, t: lib.affine_grid_generator(t, [1, 1, 2, 3], False), rand(1, 2, 3))
    grads_match(lambda lib, t: lib.affine_grid_generator(t, (1, 1, 2, 2, 3), True), rand(1, 3, 4))


def test_native_norms():
    close_outcome(lambda lib: lib.native_layer_norm(lib.tensor(rand(2, 3, 4)), [3, 4], None, None, 1e-5))
    grads_match(lambda lib, x, w, b: lib.native_layer_norm(x, [4], w, b, 1e-5), rand(2, 3, 4), rand(4), rand(4))
    out = cgrad.native_layer_norm(cgrad.ones(2, 3, requires_grad=True), [3], None, None, 1e-5)
    assert out[0].grad_fn.name() == "NativeLayerNormBackward0" and out[1].grad_fn is None
    close_outcome(lambda lib: lib.native_batch_norm(lib.tensor(rand(4, 3, 2)), None, None, None, None, True, 0.1,
                                                    1e-5))
    grads_match(lambda lib, x, w: lib.native_batch_norm(x, w, None, None, None, True, 0.1, 1e-5), rand(4, 3, 2),
                rand(3))

    def running(lib):
        mean, var = lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64)
        x = lib.tensor(rand(4, 3, 2))
        train = lib.native_batch_norm(x, None, None, mean, var, True, 0.1, 1e-5)
        evaluated = lib.native_batch_norm(x, None, None, mean, var, False, 0.1, 1e-5)
        return train + evaluated + (mean, var)
    close_outcome(running)
    close_outcome(lambda lib: lib.native_group_norm(lib.tensor(rand(2, 4, 3)), None, None, 2, 4, 3, 2, 1e-5))
    grads_match(lambda lib, x, w, b: lib.native_group_norm(x, w, b, 2, 4, 3, 2, 1e-5), rand(2, 4, 3), rand(4),
                rand(4))
    grads_match(lambda lib, x: sum(t.sum() for t in lib.native_group_norm(x, None, None, 2, 4, 3, 2, 1e-5)),
                rand(2, 4, 3))


def test_native_nodes():
    for lib in (cgrad, torch):
        x = lib.tensor(rand(4, 2, 3), requires_grad=True)
        nodes = [lib.native_batch_norm(x, None, None, None, None, True, 0.1, 1e-5)[0],
                 lib.native_batch_norm(x, None, None, lib.zeros(2, dtype=lib.float64), lib.ones(2, dtype=lib.float64),
                                       False, 0.1, 1e-5)[0],
                 *lib.native_group_norm(x, None, None, 4, 2, 3, 2, 1e-5), *lib.native_dropout(x, 0.5, True),
                 lib.native_dropout(x, 0.5, False)[0]]
        assert [n.grad_fn.name() if n.grad_fn else None for n in nodes] == (
            ["NativeBatchNormBackward0"] * 2 + ["NativeGroupNormBackward0"] * 3 + ["NativeDropoutBackward0", None,
                                                                                  "NativeDropoutBackward0"])
    grads_match(lambda lib, x, w, b: lib.native_batch_norm(x, w, b, lib.tensor([0.5, -1.0], dtype=lib.float64),
                                                           lib.tensor([2.0, 0.5], dtype=lib.float64), False, 0.1, 1e-5),
                rand(4, 2, 3), rand(2, seed=1), rand(2, seed=2))
    for combo in ((0, 0, 1), (0, 1, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 1, 1)):
        # as PyTorch's backward: the statistics' gradients count when both are given, and only then
        results = []
        for lib in (cgrad, torch):
            x = lib.tensor(rand(2, 4, 3), requires_grad=True)
            outs = lib.native_group_norm(x, None, None, 2, 4, 3, 2, 1e-5)
            up = [lib.tensor(rand(*t.shape, seed=i + 1)) for i, t in enumerate(outs)]
            loss = sum((t * u).sum() for t, u, used in zip(outs, up, combo) if used)
            (g,) = lib.autograd.grad(loss, x, allow_unused=True)
            results.append(None if g is None else g.numpy())
        assert (results[0] is None) == (results[1] is None)
        if results[0] is not None:
            np.testing.assert_allclose(results[0], results[1], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_native_norms_second_order(norm):
    xn, wn = rand(4, 2, 3), rand(2, seed=1)
    results = []
    for lib in (cgrad, torch):
        x, w = lib.tensor(xn, requires_grad=True), lib.tensor(wn, requires_grad=True)
        if norm == "batch":
            out = lib.native_batch_norm(x, w, None, None, None, True, 0.1, 1e-5)[0]
        else:
            outs = lib.native_group_norm(x, w, None, 4, 2, 3, 1, 1e-5)
            out = outs[0] + (outs[1] * outs[2]).sum()
        g, gw = lib.autograd.grad((out * lib.tensor(rand(4, 2, 3, seed=2))).sum(), (x, w), create_graph=True)
        results.append(lib.autograd.grad((g * g).sum() + (gw * gw).sum(), x)[0].numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-8, atol=1e-10)


def test_native_dropout():
    for lib in (cgrad, torch):
        x = lib.ones(200, dtype=lib.float64, requires_grad=True)
        out, mask = lib.native_dropout(x, 0.25, True)
        assert mask.dtype == lib.bool and 100 < int(mask.sum()) < 200
        assert np.allclose(out.detach().numpy(), mask.numpy() / 0.75)
        out.sum().backward()
        assert np.allclose(x.grad.numpy(), mask.numpy() / 0.75)
    close_outcome(lambda lib: lib.native_dropout(lib.tensor(rand(3)), 0.5, False))
    close_outcome(lambda lib: lib.native_dropout(lib.tensor(rand(3)), 1.0, True))
    same_outcome(lambda lib: lib.native_dropout(lib.ones(3), 2.0, True))
    same_outcome(lambda lib: lib.native_dropout(lib.ones(3, dtype=lib.int64), 0.5, True))


def test_deprecated_norms():
    for fn in (lambda lib, x: lib.frobenius_norm(x, [1]), lambda lib, x: lib.frobenius_norm(x, [1, 2], True),
               lambda lib, x: lib.nuclear_norm(x[0]), lambda lib, x: lib.nuclear_norm(x, [1, 2]),
               lambda lib, x: lib.nuclear_norm(x[0], True)):
        grads_match(fn, rand(2, 3, 4), rtol=1e-8)
    for name in ("frobenius_norm", "nuclear_norm"):
        with pytest.warns(UserWarning, match=f"at::{name} is deprecated"):
            getattr(cgrad, name)(cgrad.ones(2, 2), [0, 1])
    close_outcome(lambda lib: lib.nuclear_norm(lib.ones(2, 2, 2)), rtol=1e-6)
    same_outcome(lambda lib: lib.nuclear_norm(lib.ones(2)))
    with pytest.raises(NotImplementedError, match="Could not run 'aten::native_norm'"):
        cgrad.native_norm(cgrad.ones(2))
    with pytest.raises(NotImplementedError, match="Could not run 'aten::native_norm'"):
        torch.native_norm(torch.ones(2))


# ---- removed functions ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda lib: lib.matrix_rank(lib.eye(2)), lambda lib: lib.lstsq(lib.eye(2), lib.eye(2)),
    lambda lib: lib.solve(lib.eye(2), lib.eye(2)), lambda lib: lib.eig(lib.eye(2)), lambda lib: lib.symeig(lib.eye(2)),
    lambda lib: lib.lstsq(lib.eye(2)), lambda lib: lib.solve(), lambda lib: lib.symeig(lib.eye(2), foo=1),
    lambda lib: lib.eig(), lambda lib: lib.matrix_rank(lib.eye(2), foo=1),
])
def test_removed_functions_raise(call):
    assert same_outcome(call)[0] in ("RuntimeError", "TypeError")


# ---- complex helpers on real tensors ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["conj", "conj_physical", "resolve_conj", "resolve_neg", "real", "conj_physical_"])
def test_identities(name):
    for lib in (cgrad, torch):
        for x in (lib.tensor([1.0, -2.0], requires_grad=name != "conj_physical_"), lib.tensor([1, 2]),
                  lib.tensor([True])):
            assert getattr(lib, name)(x) is x
    same_outcome(lambda lib: getattr(lib, name)(3))
    same_outcome(lambda lib: getattr(lib, name)(lib.ones(2, requires_grad=True)) is not None)


def test_flags_and_errors():
    for lib in (cgrad, torch):
        assert lib.is_conj(lib.ones(2)) is False and lib.is_neg(lib.ones(2)) is False
    for call in (lambda lib: lib.is_conj(3), lambda lib: lib.imag(lib.ones(2)), lambda lib: lib.imag(3),
                 lambda lib: lib.view_as_real(lib.ones(2)), lambda lib: lib.view_as_real(lib.ones(2, dtype=lib.int64)),
                 lambda lib: lib.view_as_complex(lib.ones(2, 3)), lambda lib: lib.view_as_complex(lib.ones(())),
                 lambda lib: lib.view_as_complex(lib.ones(2, 2, dtype=lib.int64)),
                 lambda lib: lib.view_as_complex(lib.ones(2, 2).t()),
                 lambda lib: lib.polar(lib.ones(2, dtype=lib.int64), lib.ones(2, dtype=lib.int64)),
                 lambda lib: lib.polar(lib.ones(2), lib.ones(2, dtype=lib.float64)),
                 lambda lib: lib.complex(lib.ones(2), lib.ones(2, dtype=lib.int64)),
                 lambda lib: lib.complex(lib.ones(2, dtype=lib.bool), lib.ones(2, dtype=lib.bool)),
                 lambda lib: lib.complex(3, 4), lambda lib: lib.angle(3)):
        assert same_outcome(call)[0] in ("RuntimeError", "TypeError")
    for call in (lambda: cgrad.complex(cgrad.ones(2), cgrad.ones(2)), lambda: cgrad.polar(cgrad.ones(2), cgrad.ones(2)),
                 lambda: cgrad.view_as_complex(cgrad.ones(3, 2))):
        with pytest.raises(NotImplementedError, match="no complex dtypes"):
            call()


def test_angle():
    values = [-1.0, 0.0, 2.0, math.nan, -0.0, -math.inf, math.inf]
    for dtype in ("float32", "float64"):
        close_outcome(lambda lib: lib.angle(lib.tensor(values, dtype=getattr(lib, dtype))), rtol=0, atol=0)
    close_outcome(lambda lib: lib.angle(lib.tensor([1, -2, 0])))
    close_outcome(lambda lib: lib.angle(lib.tensor([True, False])))
    for lib in (cgrad, torch):
        x = lib.tensor(values, requires_grad=True)
        out = lib.angle(x)
        assert out.grad_fn.name() == "AngleBackward0"
        out.sum().backward()
        assert x.grad.tolist() == [0.0] * len(values)


# ---- sym_* and small top-level names ---------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda lib: lib.sym_max(1, 2), lambda lib: lib.sym_max(1, 2.0), lambda lib: lib.sym_max(3, 2.0),
    lambda lib: lib.sym_max(True, 2), lambda lib: repr(lib.sym_max(math.nan, 1)), lambda lib: lib.sym_min(1, math.nan),
    lambda lib: lib.sym_min(1, 2), lambda lib: lib.sym_min(np.int64(4), 2.5), lambda lib: lib.sym_not(True),
    lambda lib: lib.sym_not(1), lambda lib: lib.sym_not(lib.tensor(True)), lambda lib: lib.sym_float(3),
    lambda lib: lib.sym_float("3"), lambda lib: lib.sym_float(lib.tensor(3)), lambda lib: lib.sym_int(-3.7),
    lambda lib: lib.sym_int(lib.tensor(3.5)), lambda lib: lib.sym_int(math.inf), lambda lib: lib.sym_sqrt(4),
    lambda lib: lib.sym_sqrt(-4), lambda lib: lib.sym_sqrt(lib.tensor(4.0)), lambda lib: lib.sym_sum([1, 2, 3]),
    lambda lib: lib.sym_sum(1, 2.5), lambda lib: lib.sym_sum([]), lambda lib: lib.sym_sum(5),
    lambda lib: lib.sym_sum([lib.tensor(1.0), 2]), lambda lib: lib.sym_sum(x for x in [1]),
    lambda lib: lib.sym_ite(True, 1, 2), lambda lib: lib.sym_ite(False, 1.5, 2.5),
])
def test_sym(call):
    same_outcome(call)


def test_sym_assertions():
    for call in (lambda lib: lib.sym_max("a", "b"), lambda lib: lib.sym_min(lib.tensor(1.0), 2),
                 lambda lib: lib.sym_ite(1, 1, 2), lambda lib: lib.sym_ite(True, 1, 2.0)):
        for lib in (cgrad, torch):
            with pytest.raises(AssertionError):
                call(lib)
    same_outcome(lambda lib: lib.sym_ite(True, 1, 2.0))
    same_outcome(lambda lib: lib.sym_ite(1, 1, 2))


def test_device_storage_threads():
    same_outcome(lambda lib: lib.get_device(lib.ones(2)))
    same_outcome(lambda lib: lib.get_device(3))
    same_outcome(lambda lib: (lib.is_storage(lib.ones(2)), lib.is_storage([1])))
    same_outcome(lambda lib: lib.init_num_threads())


def test_set_default_tensor_type():
    for lib in (cgrad, torch):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lib.set_default_tensor_type("torch.DoubleTensor")
                assert lib.get_default_dtype() == lib.float64 and lib.tensor([1.5]).dtype == lib.float64
                lib.set_default_tensor_type("torch.FloatTensor")
                assert lib.get_default_dtype() == lib.float32
        finally:
            lib.set_default_dtype(lib.float32)
    for arg in ("torch.LongTensor", "torch.IntTensor", "torch.cuda.FloatTensor", "float", 3):
        same_outcome(lambda lib: lib.set_default_tensor_type(arg))
    assert cgrad.get_default_dtype() == cgrad.float32


# ---- nn.init aliases, multithreading, linear_cross_entropy --------------------------------------------------------

@pytest.mark.parametrize("name,args", [
    ("uniform", ()), ("normal", ()), ("constant", (2.0,)), ("xavier_uniform", ()), ("xavier_normal", ()),
    ("kaiming_uniform", ()), ("kaiming_normal", ()), ("orthogonal", ()), ("sparse", (0.5,)), ("eye", ()),
    ("dirac", ()),
])
def test_init_aliases_warn(name, args):
    shape = (2, 2, 3) if name == "dirac" else (3, 4)
    for lib in (cgrad, torch):
        w = lib.empty(shape)
        with pytest.warns(FutureWarning) as record:
            out = getattr(lib.nn.init, name)(w, *args)
        assert str(record[0].message) == f"`nn.init.{name}` is now deprecated in favor of `nn.init.{name}_`."
        assert record[0].filename == __file__ and out is w
    if name in ("constant", "eye", "dirac"):
        same_outcome(lambda lib: getattr(lib.nn.init, name)(lib.empty(shape), *args))


def test_multithreading_flag():
    A = cgrad.autograd
    for lib in (cgrad, torch):
        mt = lib.autograd
        assert mt.is_multithreading_enabled()
        with mt.set_multithreading_enabled(False) as inside:
            assert inside is None and not mt.is_multithreading_enabled()
        assert mt.is_multithreading_enabled()
        mt.set_multithreading_enabled(False)
        assert not mt.is_multithreading_enabled()
        mt.set_multithreading_enabled(True)

        @mt.set_multithreading_enabled(False)
        def inner():
            return mt.is_multithreading_enabled()
        mt.set_multithreading_enabled(True)
        assert inner() is False and mt.is_multithreading_enabled()
    same_outcome(lambda lib: lib.autograd.set_multithreading_enabled("x"))
    assert isinstance(A.set_multithreading_enabled(True).clone(), A.set_multithreading_enabled)


def test_linear_cross_entropy_values_and_grads():
    target = [1, 2, 0]
    grads_match(lambda lib, x, w: lib.nn.functional.linear_cross_entropy(x, w, lib.tensor(target)),
                rand(3, 5), rand(4, 5, seed=1))
    grads_match(lambda lib, x, w, b: lib.nn.functional.linear_cross_entropy(
        x, w, lib.tensor(target), linear_bias=b, weight=lib.tensor(np.abs(rand(4, seed=3))), reduction="sum",
        label_smoothing=0.1), rand(3, 5), rand(4, 5, seed=1), rand(4, seed=2))
    grads_match(lambda lib, x, w, b: lib.nn.functional.linear_cross_entropy(
        x, w, lib.tensor([[1, 0], [3, 2]]), linear_bias=b, reduction="none"),
        rand(2, 5), rand(4, 2, 5, seed=1), rand(4, 2, seed=2))
    grads_match(lambda lib, x, w, t: lib.nn.functional.linear_cross_entropy(x, w, t.softmax(0)),
                rand(5), rand(4, 5, seed=1), rand(4, seed=4))
    grads_match(lambda lib, x, w: lib.nn.functional.linear_cross_entropy(
        x, w, lib.tensor([1, -100, 0]), options=lib.nn.LinearCrossEntropyOptions()), rand(3, 5), rand(4, 5, seed=1))


def test_linear_cross_entropy_errors():
    for call in (
        lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 5), lib.ones(4, 5), lib.tensor([1, 2]),
                                                           reduction="bad"),
        lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 5), lib.ones(4, 4), lib.tensor([1, 2])),
        lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(5), lib.ones(4, 3, 5), lib.tensor(1)),
        lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 5), lib.ones(4, 3, 5), lib.ones(2, 3).long(),
                                                           linear_bias=lib.ones(12)),
        lambda lib: lib.nn.functional.linear_cross_entropy(lib.ones(2, 5), lib.ones(4, 5), lib.tensor([1, 2]),
                                                           options=3),
        lambda lib: lib.nn.LinearCrossEntropyLoss(5, 10, weight=lib.ones(3)),
        lambda lib: lib.nn.LinearCrossEntropyLoss(5, 10, out_features=3),
        lambda lib: lib.nn.LinearCrossEntropyOptions(acc_policy="bad"),
        lambda lib: lib.nn.LinearCrossEntropyOptions(chunking_method="aspect_ratio:0"),
        lambda lib: lib.nn.LinearCrossEntropyOptions(batch_chunk_size=0),
        lambda lib: lib.nn.LinearCrossEntropyOptions(acc_dtype=lib.int64),
    ):
        assert same_outcome(call)[0] in ("ValueError", "RuntimeError", "TypeError", "AttributeError")
    same_outcome(lambda lib: repr(lib.nn.LinearCrossEntropyOptions(chunking_method="aspect_ratio:2")))


def test_linear_cross_entropy_module():
    def fn(lib):
        lib.manual_seed(0)
        m = lib.nn.LinearCrossEntropyLoss(5, 4, out_features=(3,), bias=True, dtype=lib.float64,
                                          label_smoothing=0.1)
        with lib.no_grad():
            m.linear.weight.copy_(lib.tensor(rand(12, 5)))
            m.linear.bias.copy_(lib.tensor(rand(12, seed=1)))
        x = lib.tensor(rand(2, 5, seed=2), requires_grad=True)
        loss = m(x, lib.tensor([[0, 1, 3], [2, 2, 1]]))
        loss.backward()
        assert sorted(m.state_dict()) == ["linear.bias", "linear.weight"]
        return loss, x.grad, m.linear.weight.grad, m.linear.bias.grad
    close_outcome(fn)
    same_outcome(lambda lib: repr(lib.nn.LinearCrossEntropyLoss(5, 10, out_features=(4, 3), bias=True)))
    same_outcome(lambda lib: repr(lib.nn.LinearCrossEntropyLoss(5, 10, reduction="sum", weight=lib.ones(10))))


# ---- signal.windows and functional ------------------------------------------------------------------------------

WINDOWS = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "hamming", "hann", "kaiser", "nuttall"]


@pytest.mark.parametrize("name", WINDOWS)
def test_windows(name):
    for M in (0, 1, 2, 5, 6):
        for sym in (True, False):
            close_outcome(lambda lib: getattr(lib.signal.windows, name)(M, sym=sym, dtype=lib.float64))
            close_outcome(lambda lib: getattr(lib.signal.windows, name)(M, sym=sym), rtol=1e-6, atol=1e-7)
    for call in (lambda lib: getattr(lib.signal.windows, name)(-1),
                 lambda lib: getattr(lib.signal.windows, name)(3, dtype=lib.int64)):
        same_outcome(call)
    for lib in (cgrad, torch):
        w = getattr(lib.signal.windows, name)(4, requires_grad=True)
        assert w.requires_grad and not w.is_leaf
        with pytest.raises(TypeError):
            getattr(lib.signal.windows, name)(3.0)
    nodes = [getattr(lib.signal.windows, name)(4, requires_grad=True).grad_fn.name() for lib in (cgrad, torch)]
    assert nodes[0] == nodes[1]


def test_window_parameters():
    for call in (lambda lib: lib.signal.windows.general_cosine(5, a=(0.5, 0.3, 0.2), sym=False),
                 lambda lib: lib.signal.windows.general_cosine(1, a=[1.0]),
                 lambda lib: lib.signal.windows.general_hamming(6, alpha=0.6, dtype=lib.float64),
                 lambda lib: lib.signal.windows.exponential(5, center=1.0, sym=False, tau=2.0, dtype=lib.float64),
                 lambda lib: lib.signal.windows.gaussian(5, std=0.7, dtype=lib.float64),
                 lambda lib: lib.signal.windows.kaiser(6, beta=3.0, sym=False, dtype=lib.float64)):
        close_outcome(call)
    for call in (lambda lib: lib.signal.windows.exponential(3, tau=0),
                 lambda lib: lib.signal.windows.exponential(3, center=1.0),
                 lambda lib: lib.signal.windows.gaussian(3, std=-1), lambda lib: lib.signal.windows.kaiser(3, beta=-1),
                 lambda lib: lib.signal.windows.general_cosine(4, a=3),
                 lambda lib: lib.signal.windows.general_cosine(4, a=[]),
                 lambda lib: lib.signal.windows.general_cosine(4, a=lib.ones(2)),
                 lambda lib: lib.signal.windows.general_hamming(-1)):
        assert same_outcome(call)[0] in ("ValueError", "TypeError", "RuntimeError")


def test_functional_module():
    names = [n for n in torch.functional.__all__ if hasattr(cgrad, n)]
    assert set(torch.functional.__all__) == set(names)  # stft and istft exist, and raise NotImplementedError
    for name in names:
        assert getattr(cgrad.functional, name) is getattr(cgrad, name)
    assert sorted(cgrad.functional.__all__) == sorted(names)
