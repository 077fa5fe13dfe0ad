"""utils.checkpoint against torch and against the same model run without checkpointing: values, gradients
(exactly, dropout included), warnings and errors of both the reentrant and the non-reentrant variant."""
import contextlib
import warnings

import numpy as np
import pytest

import cgrad
from helpers import assert_same_error

torch = pytest.importorskip("torch")

VARIANTS = [True, False]


def _np(x):
    return x.detach().numpy()


def _model(lib, dropout=0.0, seed=0):
    rng = np.random.default_rng(seed)
    l1, l2 = lib.nn.Linear(4, 5).double(), lib.nn.Linear(5, 3).double()
    with lib.no_grad():
        for p in list(l1.parameters()) + list(l2.parameters()):
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape))))

    def f(a, scale, shift=None):
        h = lib.nn.functional.dropout(lib.tanh(l1(a)), dropout, True) * scale
        if shift is not None:
            h = h + shift
        return l2(h), h.sum(1)
    return f, list(l1.parameters()) + list(l2.parameters())


def _run(lib, ckpt, reentrant=True, dropout=0.0, kwargs=False, x_grad=True, seed=3):
    """Gradients of x and the parameters after one backward, and the outputs."""
    f, params = _model(lib, dropout)
    x = lib.tensor(np.random.default_rng(1).standard_normal((6, 4)), requires_grad=x_grad)
    shift = lib.tensor(np.linspace(-1, 1, 5), requires_grad=True)
    extra = {"shift": shift} if kwargs else {}
    lib.manual_seed(seed)
    if ckpt:
        y, s = lib.utils.checkpoint.checkpoint(f, x, 2.0, use_reentrant=reentrant, **extra)
    else:
        y, s = f(x, 2.0, **extra)
    ((y ** 2).sum() + (s * s.detach()).sum()).backward()
    after = lib.rand(3)  # the random state backward leaves behind
    grads = [x.grad if x_grad else None] + [p.grad for p in params] + ([shift.grad] if kwargs else [])
    return [None if g is None else _np(g) for g in grads], [_np(y), _np(s), _np(after)]


def _same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert (u is None) == (v is None)
        if u is not None:
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("reentrant", VARIANTS)
@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_gradients_equal_unchecked_run_exactly(reentrant, dropout):
    got, out = _run(cgrad, True, reentrant, dropout)
    want, out_plain = _run(cgrad, False, reentrant, dropout)
    _same(got, want)
    _same(out, out_plain)


@pytest.mark.parametrize("reentrant", VARIANTS)
def test_values_and_gradients_match_torch(reentrant):
    ours, out_c = _run(cgrad, True, reentrant)
    theirs, out_t = _run(torch, True, reentrant)
    for a, b in zip(ours + out_c[:2], theirs + out_t[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_kwargs_non_reentrant():
    got, _ = _run(cgrad, True, False, 0.5, kwargs=True)
    want, _ = _run(cgrad, False, False, 0.5, kwargs=True)
    _same(got, want)
    ours, _ = _run(cgrad, True, False, kwargs=True)
    theirs, _ = _run(torch, True, False, kwargs=True)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_kwargs_rejected_by_reentrant():
    assert_same_error(lambda lib: lib.utils.checkpoint.checkpoint(lambda a, b=1: a, lib.ones(2), use_reentrant=True,
                                                                  b=2, c=3))


@pytest.mark.parametrize("lib_name", ["cgrad", "torch"])
def test_non_reentrant_needs_no_input_requiring_grad(lib_name):
    lib = cgrad if lib_name == "cgrad" else torch
    got, _ = _run(lib, True, False, 0.5, x_grad=False)
    want, _ = _run(lib, False, False, 0.5, x_grad=False)
    _same(got, want)
    assert got[0] is None and all(g is not None for g in got[1:])


def _warning(lib, fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn(lib)
    return [str(x.message) for x in w]


def test_use_reentrant_not_passed_warns_as_torch():
    def fn(lib):
        x = lib.ones(3, requires_grad=True)
        lib.utils.checkpoint.checkpoint(lambda a: a * 2, x).sum().backward()
        return x
    assert _warning(cgrad, fn) == _warning(torch, fn)
    assert "use_reentrant parameter should be passed explicitly" in _warning(cgrad, fn)[0]

    def seq(lib):
        lib.utils.checkpoint.checkpoint_sequential([lambda a: a * 2, lambda a: a + 1], 2,
                                                   lib.ones(3, requires_grad=True))
    assert _warning(cgrad, seq) == _warning(torch, seq)
    assert len(_warning(cgrad, seq)) == 1  # the segments' checkpoints get use_reentrant passed on


def test_reentrant_without_input_requiring_grad():
    def fn(lib):
        lin = lib.nn.Linear(3, 2)
        out = lib.utils.checkpoint.checkpoint(lin, lib.ones(1, 3), use_reentrant=True)
        return out.requires_grad
    assert _warning(cgrad, fn) == _warning(torch, fn) == ["None of the inputs have requires_grad=True. "
                                                          "Gradients will be None"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fn(cgrad) is fn(torch) is False
        assert_same_error(lambda lib: lib.utils.checkpoint.checkpoint(
            lib.nn.Linear(3, 2), lib.ones(1, 3), use_reentrant=True).sum().backward())


@pytest.mark.parametrize("call", ["grad", "backward_inputs"])
def test_reentrant_refuses_grad_and_backward_inputs(call):
    def fn(lib):
        x = lib.ones(3, requires_grad=True)
        y = lib.utils.checkpoint.checkpoint(lambda a: (a * a).sum(), x, use_reentrant=True)
        if call == "grad":
            return lib.autograd.grad(y, x)
        return lib.autograd.backward(y, inputs=[x])
    assert_same_error(fn)


def test_non_reentrant_works_with_autograd_grad():
    def fn(lib, ckpt):
        f, params = _model(lib)
        x = lib.tensor(np.random.default_rng(1).standard_normal((6, 4)), requires_grad=True)
        y, s = lib.utils.checkpoint.checkpoint(f, x, 3.0, use_reentrant=False) if ckpt else f(x, 3.0)
        return [_np(g) for g in lib.autograd.grad((y ** 3).sum() + s.sum(), [x] + params)]
    _same(fn(cgrad, True), fn(cgrad, False))
    for a, b in zip(fn(cgrad, True), fn(torch, True)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert all(p.grad is None for p in _model(cgrad)[1])


@pytest.mark.parametrize("reentrant", VARIANTS)
@pytest.mark.parametrize("segments", [1, 2, 3])
def test_checkpoint_sequential(reentrant, segments):
    def run(lib, ckpt):
        rng = np.random.default_rng(0)
        model = lib.nn.Sequential(lib.nn.Linear(4, 6), lib.nn.Tanh(), lib.nn.Dropout(0.3), lib.nn.Linear(6, 6),
                                  lib.nn.ReLU(), lib.nn.Linear(6, 2)).double()
        with lib.no_grad():
            for p in model.parameters():
                p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape))))
        x = lib.tensor(rng.standard_normal((5, 4)), requires_grad=True)
        lib.manual_seed(7)
        if ckpt:
            y = lib.utils.checkpoint.checkpoint_sequential(model, segments, x, use_reentrant=reentrant)
        else:
            y = model(x)
        (y ** 2).sum().backward()
        return [_np(y), _np(x.grad)] + [_np(p.grad) for p in model.parameters()]
    _same(run(cgrad, True), run(cgrad, False))


def test_checkpoint_sequential_errors():
    assert_same_error(lambda lib: lib.utils.checkpoint.checkpoint_sequential(
        [lambda a: a], 1, lib.ones(2), use_reentrant=False, foo=1))


def test_context_fn_and_debug_only_without_reentrant():
    def ctx():
        return contextlib.nullcontext(), contextlib.nullcontext()
    assert_same_error(lambda lib: lib.utils.checkpoint.checkpoint(lambda a: a * 2, lib.ones(2, requires_grad=True),
                                                                  use_reentrant=True, context_fn=ctx))
    assert_same_error(lambda lib: lib.utils.checkpoint.checkpoint(lambda a: a * 2, lib.ones(2, requires_grad=True),
                                                                  use_reentrant=True, debug=True))
    assert_same_error(lambda lib: lib.utils.checkpoint.checkpoint(lambda a: a * 2, lib.ones(2, requires_grad=True),
                                                                  use_reentrant=False, determinism_check="all"))


def test_context_fn_runs_forward_and_recompute_contexts():
    def run(lib):
        log = []

        @contextlib.contextmanager
        def tag(name):
            log.append(name + "+")
            try:
                yield
            finally:
                log.append(name + "-")

        def fn(a):
            log.append("fn")
            return a.sin()
        x = lib.ones(2, requires_grad=True)
        y = lib.utils.checkpoint.checkpoint(fn, x, use_reentrant=False, context_fn=lambda: (tag("f"), tag("r")))
        log.append("backward")
        y.sum().backward()
        return log
    assert run(cgrad) == run(torch) == ["f+", "fn", "f-", "backward", "r+", "fn", "r-"]


def test_determinism_check():
    def run(lib, check):
        calls = []

        def fn(a):
            calls.append(1)
            return (a[: 3 if len(calls) == 1 else 2] * a[:1]).exp().sum()  # recomputation saves other shapes
        x = lib.ones(4, requires_grad=True)
        y = lib.utils.checkpoint.checkpoint(fn, x, use_reentrant=False, determinism_check=check)
        y.backward()
    for lib in (cgrad, torch):
        with pytest.raises(lib.utils.checkpoint.CheckpointError, match="Recomputed values for the following "
                                                                        "tensors have different metadata"):
            run(lib, "default")
    assert issubclass(cgrad.utils.checkpoint.CheckpointError, RuntimeError)


def test_debug_is_not_supported():
    with pytest.raises(NotImplementedError, match="debug=True"):
        cgrad.utils.checkpoint.checkpoint(lambda a: a * 2, cgrad.ones(2, requires_grad=True), use_reentrant=False,
                                          debug=True)


@pytest.mark.parametrize("reentrant", VARIANTS)
def test_preserve_rng_state_false_draws_a_new_mask(reentrant):
    def run(lib, preserve):
        x = lib.ones(200, dtype=lib.float64, requires_grad=True)
        lib.manual_seed(0)
        y = lib.utils.checkpoint.checkpoint(lambda a: lib.nn.functional.dropout(a, 0.5, True), x,
                                            use_reentrant=reentrant, preserve_rng_state=preserve)
        y.sum().backward()
        return _np(y), _np(x.grad)
    y, g = run(cgrad, True)
    np.testing.assert_array_equal(y, g)  # the recomputed mask is the forward's
    y, g = run(cgrad, False)
    assert not np.array_equal(y != 0, g != 0)
    yt, gt = run(torch, False)
    assert not np.array_equal(yt != 0, gt != 0)


@pytest.mark.parametrize("reentrant", VARIANTS)
def test_no_grad_mode_runs_the_function(reentrant):
    for lib in (cgrad, torch):
        with lib.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = lib.utils.checkpoint.checkpoint(lambda a: a * 2, lib.ones(2, requires_grad=True),
                                                use_reentrant=reentrant)
        assert not y.requires_grad and y.grad_fn is None


def test_grad_fn_names():
    x = cgrad.ones(2, requires_grad=True)
    y = cgrad.utils.checkpoint.checkpoint(lambda a: a * 2, x, use_reentrant=True)
    assert type(y.grad_fn).__name__ == "CheckpointFunctionBackward"
    y = cgrad.utils.checkpoint.checkpoint(lambda a: a * 2, x, use_reentrant=False)
    assert type(y.grad_fn).__name__ == "CheckpointBackward"


@pytest.mark.parametrize("reentrant", VARIANTS)
def test_retain_graph_and_second_backward(reentrant):
    def run(lib, retain):
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = lib.utils.checkpoint.checkpoint(lambda a: (a.sin() * a).sum(), x, use_reentrant=reentrant)
        y.backward(retain_graph=retain)
        y.backward()
        return _np(x.grad)
    np.testing.assert_allclose(run(cgrad, True), run(torch, True), rtol=1e-12)
    assert_same_error(lambda lib: run(lib, False))


def test_outputs_not_requiring_grad_and_non_tensor_outputs():
    def run(lib, reentrant):
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)

        def fn(a):
            return {"y": a.exp(), "n": 3, "idx": a.argmax(), "d": a.detach() * 2}
        out = lib.utils.checkpoint.checkpoint(fn, x, use_reentrant=reentrant)
        flags = (out["y"].requires_grad, out["n"], out["idx"].requires_grad, out["d"].requires_grad)
        out["y"].sum().backward()
        return flags, _np(x.grad)
    flags, g = run(cgrad, False)
    flags_t, g_t = run(torch, False)
    assert flags == flags_t == (True, 3, False, False)
    np.testing.assert_allclose(g, g_t, rtol=1e-12)


def test_nested_checkpoints_and_captured_leaves():
    def run(lib, ckpt):
        rng = np.random.default_rng(2)
        w = lib.tensor(rng.standard_normal((3, 3)), requires_grad=True)
        v = lib.tensor(rng.standard_normal(3), requires_grad=True)

        def inner(a):
            return (a @ w).tanh()

        def outer(a):
            h = lib.utils.checkpoint.checkpoint(inner, a, use_reentrant=False) if ckpt else inner(a)
            return (h * v).sum() + (w * w).sum()
        x = lib.tensor(rng.standard_normal((2, 3)), requires_grad=True)
        y = lib.utils.checkpoint.checkpoint(outer, x, use_reentrant=False) if ckpt else outer(x)
        (y * y).backward()
        return [_np(x.grad), _np(w.grad), _np(v.grad)]
    _same(run(cgrad, True), run(cgrad, False))
    for a, b in zip(run(cgrad, True), run(torch, True)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("reentrant", VARIANTS)
def test_leaf_used_inside_and_outside_the_segment(reentrant):
    def run(lib, ckpt):
        w = lib.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=lib.float64, requires_grad=True)
        x = lib.tensor([[0.3, 0.7]], dtype=lib.float64, requires_grad=True)
        h = x @ w
        f = (lambda a: (a @ w).sin())
        y = lib.utils.checkpoint.checkpoint(f, h, use_reentrant=reentrant) if ckpt else f(h)
        (y.sum() + (w ** 2).sum()).backward()
        return [_np(x.grad), _np(w.grad)]
    # the reentrant variant adds w's two parts into .grad in another order than an unchecked run does
    for a, b, c in zip(run(cgrad, True), run(cgrad, False), run(torch, True)):
        np.testing.assert_allclose(a, b, rtol=0 if not reentrant else 1e-15, atol=0 if not reentrant else 1e-15)
        np.testing.assert_allclose(a, c, rtol=1e-12)


@pytest.mark.parametrize("where", ["closure", "argument"])
def test_captured_non_leaf_is_not_supported(where):
    # the node would need an edge to where the tensor's gradient goes, and only the tensor itself gives one
    w = cgrad.ones(2, requires_grad=True) * 2
    x = w.exp() if where == "closure" else w
    with pytest.raises(NotImplementedError, match="pass it as an argument"):
        cgrad.utils.checkpoint.checkpoint(lambda a: a * w, x, use_reentrant=False)


def test_captured_non_leaf_without_grad():
    def run(lib):
        x = lib.tensor([0.5, -1.0], dtype=lib.float64, requires_grad=True)
        with lib.no_grad():
            c = x * 2
        y = lib.utils.checkpoint.checkpoint(lambda a: (a * c).sin(), x, use_reentrant=False)
        y.sum().backward()
        return _np(x.grad)
    np.testing.assert_allclose(run(cgrad), run(torch), rtol=1e-12)


@pytest.mark.parametrize("how", ["grad", "backward"])
def test_double_backward_without_reentrant(how):
    def run(lib, ckpt):
        w = lib.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=lib.float64, requires_grad=True)
        x = lib.tensor([[0.3, 0.7]], dtype=lib.float64, requires_grad=True)
        h = x @ w
        f = (lambda a, b: ((a @ w).sin() * a + b).exp())  # w also lies above a: gradients must not go there twice
        y = lib.utils.checkpoint.checkpoint(f, h, 0.5, use_reentrant=False) if ckpt else f(h, 0.5)
        loss = y.sum() + (w ** 3).sum()
        if how == "grad":
            gx, gw = lib.autograd.grad(loss, [x, w], create_graph=True)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the warning about .grad holding a graph
                loss.backward(create_graph=True)
            gx, gw, x.grad, w.grad = x.grad, w.grad, None, None
        ((gx ** 2).sum() + (gw * gw.detach()).sum()).backward()
        return [_np(gx), _np(gw), _np(x.grad), _np(w.grad)]
    _same(run(cgrad, True), run(cgrad, False))
    for a, b in zip(run(cgrad, True), run(torch, True)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_helpers():
    for lib in (cgrad, torch):
        x = lib.ones(2, requires_grad=True) * 2
        a, b = lib.utils.checkpoint.detach_variable((x, 3))
        assert a.requires_grad and a.is_leaf and b == 3
    assert_same_error(lambda lib: lib.utils.checkpoint.detach_variable([lib.ones(1)]))
    assert cgrad.utils.checkpoint.noop_context_fn()[0].__class__ is contextlib.nullcontext
    with cgrad.utils.checkpoint.set_checkpoint_early_stop(False):
        y = cgrad.utils.checkpoint.checkpoint(lambda a: a.exp(), cgrad.ones(2, requires_grad=True),
                                              use_reentrant=False)
    y.sum().backward()


_GLOBAL_W = {}


def _uses_global(a):
    return (a * _GLOBAL_W["w"]).cos()


class _Scaler:
    def __init__(self, lib):
        self.s = lib.tensor([1.5, -0.5], dtype=lib.float64, requires_grad=True)

    def __call__(self, a):
        return a * self.s


@pytest.mark.parametrize("reentrant", VARIANTS)
@pytest.mark.parametrize("where", ["global", "method", "partial", "module", "callable", "attribute", "default",
                                   "nested", "argument_too"])
def test_leaves_read_from_anywhere(where, reentrant):
    import functools
    import types

    def run(lib, ckpt):
        lib.manual_seed(0)
        _GLOBAL_W["w"] = lib.tensor([0.3, 2.0], dtype=lib.float64, requires_grad=True)
        lin = lib.nn.Linear(2, 2).double()
        with lib.no_grad():
            lin.weight.copy_(lib.tensor([[0.5, -1.5], [2.0, 0.25]]))
            lin.bias.copy_(lib.tensor([0.1, -0.2]))
        scaler = _Scaler(lib)
        holder = types.SimpleNamespace(box={"pair": (3, [scaler.s])})
        x = lib.tensor([[0.2, -0.4]], dtype=lib.float64, requires_grad=True)

        def default(a, s=scaler.s):
            return (a * s).exp()
        fn = {"global": _uses_global, "method": lin.forward, "module": lin, "callable": scaler,
              "partial": functools.partial(lambda m, a: m(a).exp(), lin),
              "attribute": lambda a: a / (1 + holder.box["pair"][1][0] ** 2), "default": default,
              "nested": lambda a: lin(a * holder.box["pair"][1][0]),
              "argument_too": lambda a: a * x.sin()}[where]
        y = lib.utils.checkpoint.checkpoint(fn, x, use_reentrant=reentrant) if ckpt else fn(x)
        (y ** 2).sum().backward()
        leaves = [x, _GLOBAL_W["w"], scaler.s] + list(lin.parameters())
        return [None if t.grad is None else _np(t.grad) for t in leaves]
    _same(run(cgrad, True), run(cgrad, False))
    ours, theirs = run(cgrad, True), run(torch, True)
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_same_argument_twice_and_in_kwargs():
    def run(lib, ckpt):
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)

        def f(a, b, c=None):
            return (a * b.exp() + c).sin()
        y = lib.utils.checkpoint.checkpoint(f, x, x, c=x, use_reentrant=False) if ckpt else f(x, x, c=x)
        y.sum().backward()
        return [_np(x.grad)]
    _same(run(cgrad, True), run(cgrad, False))
    np.testing.assert_allclose(run(cgrad, True)[0], run(torch, True)[0], rtol=1e-12)


def test_non_reentrant_keeps_no_activations():
    f, params = _model(cgrad)
    x = cgrad.ones(6, 4, dtype=cgrad.float64, requires_grad=True)
    y, s = cgrad.utils.checkpoint.checkpoint(f, x, 2.0, use_reentrant=False)
    node = y.grad_fn
    assert s.grad_fn is node
    # its edges lead straight to the input and the parameters; it saved the input only
    assert all(type(n).__name__ == "AccumulateGrad" for n, _ in node.next_functions)
    assert len(node.next_functions) == 1 + len(params)
    assert len(node.saved_tensors) == 1 and node.saved_tensors[0] is x


def test_selective_checkpointing_is_not_supported():
    with pytest.raises(NotImplementedError, match="selective checkpointing"):
        cgrad.utils.checkpoint.create_selective_checkpoint_contexts([])


@pytest.mark.parametrize("outer, inner", [(True, False), (False, True)])
def test_variants_nested_in_each_other(outer, inner):
    def run(lib):
        w = lib.tensor([[0.5, -1.0], [1.5, 0.25]], dtype=lib.float64, requires_grad=True)
        x = lib.tensor([[0.3, -0.7]], dtype=lib.float64, requires_grad=True)

        def f(a):
            h = lib.utils.checkpoint.checkpoint(lambda b: (b @ w).tanh(), a, use_reentrant=inner)
            return (h @ w).sin() * a
        y = lib.utils.checkpoint.checkpoint(f, x @ w, use_reentrant=outer)
        (y.sum() + w.sum()).backward()
        return [_np(x.grad), _np(w.grad)]
    for a, b in zip(run(cgrad), run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
