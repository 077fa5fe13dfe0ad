"""Batch normalization (F.batch_norm, nn.BatchNorm1d/2d/3d) against PyTorch."""
import warnings

import numpy as np
import pytest

import cgrad
from cgrad import nn
from cgrad.nn import functional as F
from helpers import raises_like_torch

torch = pytest.importorskip("torch")

TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=2e-5, atol=2e-5)}


def close(c, t, dt):
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), **TOL[dt])


def twins(name, *args, dt="float64", **kw):
    t = getattr(torch.nn, name)(*args, dtype=getattr(torch, dt), **kw)
    c = getattr(nn, name)(*args, dtype=getattr(cgrad, dt), **kw)
    if getattr(t, "weight", None) is not None:
        with torch.no_grad():
            t.weight.uniform_(0.5, 1.5)
    if getattr(t, "bias", None) is not None:
        with torch.no_grad():
            t.bias.uniform_(-1, 1)
    c.load_state_dict({k: cgrad.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return c, t


CASES = [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (4, 3, 5, 6)),
         ("BatchNorm3d", (2, 3, 2, 3, 4))]
SETTINGS = [{}, {"momentum": None}, {"affine": False}, {"bias": False}, {"track_running_stats": False},
            {"eps": 1e-3, "momentum": 0.5}]


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("name,shape", CASES, ids=[f"{n}-{len(s)}d" for n, s in CASES])
@pytest.mark.parametrize("kw", SETTINGS, ids=[str(s) for s in SETTINGS])
def test_training_then_eval_matches_torch(name, shape, kw, dt):
    torch.manual_seed(0)
    c, t = twins(name, 3, dt=dt, **kw)
    rng = np.random.default_rng(1)
    for _ in range(3):  # three batches move the running statistics
        x = (rng.standard_normal(shape) * 3 + 1).astype(dt)
        g = rng.standard_normal(shape).astype(dt)
        cx, tx = cgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        co, to = c(cx), t(tx)
        close(co, to, dt)
        co.backward(cgrad.tensor(g))
        to.backward(torch.tensor(g))
        close(cx.grad, tx.grad, dt)
        t_params = dict(t.named_parameters())
        for n, p in c.named_parameters():
            close(p.grad, t_params[n].grad, dt)
    t_bufs = dict(t.named_buffers())
    assert list(dict(c.named_buffers())) == list(t_bufs)
    for n, b in c.named_buffers():
        if n == "num_batches_tracked":
            assert b.dtype == cgrad.int64 and b.item() == t_bufs[n].item()
        else:
            close(b, t_bufs[n], dt)
    c.eval(), t.eval()
    x = rng.standard_normal(shape).astype(dt)
    cx, tx = cgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    co, to = c(cx), t(tx)
    close(co, to, dt)
    co.sum().backward()
    to.sum().backward()
    close(cx.grad, tx.grad, dt)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("with_affine", [True, False])
def test_functional_batch_norm_matches_torch(training, with_affine):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4, 3))
    stats = [rng.standard_normal(4), rng.uniform(0.5, 2, 4)]
    affine = [rng.standard_normal(4), rng.standard_normal(4)] if with_affine else [None, None]

    def run(lib):
        xs = lib.tensor(x, requires_grad=True)
        rm, rv = (lib.tensor(s.copy()) for s in stats)
        w, b = (None if a is None else lib.tensor(a, requires_grad=True) for a in affine)
        out = lib.nn.functional.batch_norm(xs, rm, rv, w, b, training=training, momentum=0.3, eps=1e-4)
        (out * lib.tensor(np.arange(60.0).reshape(5, 4, 3))).sum().backward()
        return [out, xs.grad, rm, rv] + [a.grad for a in (w, b) if a is not None]

    for a, b in zip(run(cgrad), run(torch)):
        close(a, b, "float64")


def test_batch_norm_without_running_stats_uses_the_batch():
    x = np.random.default_rng(3).standard_normal((6, 2))
    c = F.batch_norm(cgrad.tensor(x), None, None, training=True)
    t = torch.nn.functional.batch_norm(torch.tensor(x), None, None, training=True)
    close(c, t, "float64")


def test_gradcheck_and_gradgradcheck():
    cgrad.manual_seed(0)
    x = cgrad.randn(4, 3, 2, dtype=cgrad.float64, requires_grad=True)
    w = cgrad.randn(3, dtype=cgrad.float64, requires_grad=True)
    b = cgrad.randn(3, dtype=cgrad.float64, requires_grad=True)

    def fn(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True)
    assert cgrad.autograd.gradcheck(fn, (x, w, b))
    assert cgrad.autograd.gradgradcheck(fn, (x, w, b))


def test_second_derivatives_match_torch():
    x = np.random.default_rng(4).standard_normal((5, 3))
    grads = []
    for lib in (cgrad, torch):
        xs = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.batch_norm(xs, None, None, training=True)
        (g,) = lib.autograd.grad((y ** 3).sum(), xs, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), xs)
        grads.append(gg)
    close(grads[0], grads[1], "float64")


@pytest.mark.parametrize("kw", [{}, {"momentum": None, "affine": False}, {"bias": False, "eps": 0.001},
                                {"track_running_stats": False}])
@pytest.mark.parametrize("name", ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"])
def test_repr_parameters_and_state_dict_match_torch(name, kw):
    c, t = getattr(nn, name)(6, **kw), getattr(torch.nn, name)(6, **kw)
    assert repr(c) == repr(t)
    assert list(c.state_dict()) == list(t.state_dict())
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in t.named_parameters()]
    for n, v in c.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), t.state_dict()[n].numpy())


def test_the_module_loads_torch_state_and_converts_dtype():
    t = torch.nn.BatchNorm1d(3)
    t(torch.randn(10, 3) * 4)
    c = nn.BatchNorm1d(3)
    c.load_state_dict({k: cgrad.tensor(v.numpy()) for k, v in t.state_dict().items()})
    c.double()
    assert c.running_mean.dtype == cgrad.float64 and c.num_batches_tracked.dtype == cgrad.int64
    c.eval(), t.eval()
    x = np.random.default_rng(5).standard_normal((4, 3))
    close(c(cgrad.tensor(x)), t.double()(torch.tensor(x)), "float64")


def functional_error_cases():
    return [
        dict(shape=(4, 3, 5), training=False),                              # no running stats in eval
        dict(shape=(4, 3, 5), rm=4, training=False),
        dict(shape=(4, 3, 5), w=2),
        dict(shape=(4, 3, 5), b=2, training=True),
        dict(shape=(1, 3), training=True),
        dict(shape=(1, 3, 1), training=True),
        dict(shape=(4, 3), training=True, eps=0.0),
        dict(shape=(4, 3), training=False, rm=3, rv=3, eps=-1.0),
        dict(shape=(4, 3), training=True, dtype="int64"),
        dict(shape=(4, 3), training=False, rm=3, rv=3, stat_dtype="float64"),
    ]


@pytest.mark.parametrize("case", range(len(functional_error_cases())))
def test_functional_errors_match_torch(case):
    kw = functional_error_cases()[case]

    def call(lib):
        dtype = getattr(lib, kw.get("dtype", "float32"))
        x = lib.ones(*kw["shape"], dtype=dtype)
        sd = getattr(lib, kw.get("stat_dtype", "float32"))
        rm = lib.zeros(kw["rm"], dtype=sd) if "rm" in kw else None
        rv = lib.ones(kw["rv"] if "rv" in kw else kw["rm"], dtype=sd) if "rm" in kw else None
        w = lib.ones(kw["w"]) if "w" in kw else None
        b = lib.ones(kw["b"]) if "b" in kw else None
        return lib.nn.functional.batch_norm(x, rm, rv, w, b, training=kw.get("training", False),
                                            eps=kw.get("eps", 1e-5))
    raises_like_torch(lambda: call(cgrad), lambda: call(torch))


@pytest.mark.parametrize("name,ndim", [("BatchNorm1d", 4), ("BatchNorm1d", 1), ("BatchNorm2d", 3),
                                       ("BatchNorm3d", 4)])
def test_module_input_dims_are_checked_as_torch(name, ndim):
    shape = (2, 3, 2, 2, 2)[:ndim] if ndim > 1 else (3,)
    raises_like_torch(lambda: getattr(nn, name)(3)(cgrad.ones(*shape)),
                      lambda: getattr(torch.nn, name)(3)(torch.ones(*shape)))


def test_a_compiled_training_step_with_batch_norm_replays_bit_identically():
    def make():
        cgrad.manual_seed(4)
        model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
        return model, cgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step_of(model, opt):
        def step(x, y):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            return loss
        return step

    (m1, o1), (m2, o2) = make(), make()
    eager, compiled = step_of(m1, o1), cgrad.compile(step_of(m2, o2))
    rng = np.random.default_rng(6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k in range(8):
            x = cgrad.tensor(rng.standard_normal((16, 5)).astype(np.float32))
            y = cgrad.tensor(rng.standard_normal((16, 1)).astype(np.float32))
            assert eager(x, y).detach().numpy().tobytes() == compiled(x, y).numpy().tobytes(), f"step {k}"
            for (n, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
                assert a.numpy().tobytes() == b.numpy().tobytes(), f"step {k}: {n}"
    assert compiled._cgrad_step.replays >= 4
