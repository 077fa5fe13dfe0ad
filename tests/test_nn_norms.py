"""Group, instance and RMS normalization (functions and modules) against PyTorch."""
import numpy as np
import pytest

import cgrad
from cgrad import nn
from cgrad.nn import functional as F

torch = pytest.importorskip("torch")

TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=2e-5, atol=2e-5)}


def close(c, t, dt):
    np.testing.assert_allclose(c.detach().numpy(), t.detach().numpy(), **TOL[dt])


def arrays(shapes, dt, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * 2 + 0.5).astype(dt) for s in shapes]


def compare(fn_c, fn_t, arrays_, dt, grad_of=None):
    """Runs both on the same arrays (None stays None); compares the results and every input's gradient."""
    cs = [None if a is None else cgrad.tensor(a, requires_grad=True) for a in arrays_]
    ts = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays_]
    co, to = fn_c(*cs), fn_t(*ts)
    assert tuple(co.shape) == tuple(to.shape)
    close(co, to, dt)
    g = np.random.default_rng(9).standard_normal(tuple(to.shape)).astype(dt)
    co.backward(cgrad.tensor(g))
    to.backward(torch.tensor(g))
    for c, t in zip(cs, ts):
        if c is not None:
            close(c.grad, t.grad, dt)


# ---- group_norm -----------------------------------------------------------------------------------

GROUP_CASES = [((4, 6), 3), ((2, 6, 5), 2), ((2, 6, 5), 6), ((2, 4, 3, 5), 1), ((1, 6, 2, 2, 3), 3)]


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("shape,groups", GROUP_CASES)
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_group_norm_matches_torch(shape, groups, affine, dt):
    c = shape[1]
    x, w, b = arrays([shape, (c,), (c,)], dt)
    w = None if affine == "none" else w
    b = b if affine == "both" else None
    compare(lambda x, w, b: F.group_norm(x, groups, w, b, eps=1e-4),
            lambda x, w, b: torch.nn.functional.group_norm(x, groups, w, b, eps=1e-4), [x, w, b], dt)


def test_group_norm_module_matches_torch():
    t = torch.nn.GroupNorm(2, 4, dtype=torch.float64)
    c = nn.GroupNorm(2, 4, dtype=cgrad.float64)
    assert repr(c) == repr(t) and list(c.state_dict()) == list(t.state_dict())
    with torch.no_grad():
        t.weight.uniform_(0.5, 1.5)
        t.bias.uniform_(-1, 1)
    c.load_state_dict({k: cgrad.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    (x,) = arrays([(3, 4, 5)], "float64")
    compare(lambda x: c(x), lambda x: t(x), [x], "float64")
    for kw in ({"affine": False}, {"bias": False, "eps": 1e-3}):
        assert repr(nn.GroupNorm(3, 6, **kw)) == repr(torch.nn.GroupNorm(3, 6, **kw))


def test_group_norm_second_derivatives():
    x = cgrad.randn(2, 4, 3, dtype=cgrad.float64, requires_grad=True)
    w = cgrad.randn(4, dtype=cgrad.float64, requires_grad=True)
    assert cgrad.autograd.gradgradcheck(lambda x, w: F.group_norm(x, 2, w), (x, w))


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.group_norm(lib.zeros(2, 5, 3), 2),
    lambda lib: lib.nn.functional.group_norm(lib.zeros(2, 4, 3), 2, lib.ones(3)),
    lambda lib: lib.nn.functional.group_norm(lib.zeros(1, 2, 1), 2),
    lambda lib: lib.nn.functional.group_norm(lib.zeros(4), 2),
    lambda lib: lib.nn.GroupNorm(2, 5),
])
def test_group_norm_errors_match_torch(call):
    with pytest.raises(Exception) as t_err:
        call(torch)
    with pytest.raises(type(t_err.value)) as c_err:
        call(cgrad)
    assert str(c_err.value) == str(t_err.value).replace("torch.", "cgrad.")


# ---- instance_norm ---------------------------------------------------------------------------------

INSTANCE = [("InstanceNorm1d", (3, 4, 5)), ("InstanceNorm1d", (4, 5)), ("InstanceNorm2d", (2, 4, 3, 3)),
            ("InstanceNorm2d", (4, 3, 2)), ("InstanceNorm3d", (2, 4, 2, 3, 2))]
SETTINGS = [{}, {"affine": True}, {"track_running_stats": True}, {"affine": True, "track_running_stats": True,
                                                                   "momentum": 0.3}, {"affine": True, "bias": False}]


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("name,shape", INSTANCE, ids=[f"{n}-{len(s)}d" for n, s in INSTANCE])
@pytest.mark.parametrize("kw", SETTINGS, ids=[str(s) for s in SETTINGS])
def test_instance_norm_modules_match_torch(name, shape, kw, dt):
    t = getattr(torch.nn, name)(4, dtype=getattr(torch, dt), **kw)
    c = getattr(nn, name)(4, dtype=getattr(cgrad, dt), **kw)
    assert repr(c) == repr(t)
    if kw.get("affine"):
        with torch.no_grad():
            t.weight.uniform_(0.5, 1.5)
            if t.bias is not None:
                t.bias.uniform_(-1, 1)
    c.load_state_dict({k: cgrad.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    for seed in range(2):
        (x,) = arrays([shape], dt, seed)
        compare(lambda x: c(x), lambda x: t(x), [x], dt)
    for (n, a), (_, b) in zip(c.state_dict().items(), t.state_dict().items()):
        if a.dtype != cgrad.int64:
            close(a, b, dt)
    c.eval(), t.eval()
    (x,) = arrays([shape], dt, 5)
    compare(lambda x: c(x), lambda x: t(x), [x], dt)


def test_functional_instance_norm_with_running_stats_in_eval():
    x, rm, rv, w, b = arrays([(2, 3, 4), (3,), (3,), (3,), (3,)], "float64")
    rv = np.abs(rv) + 0.5

    def run(lib):
        r = [lib.tensor(rm.copy()), lib.tensor(rv.copy())]
        out = lib.nn.functional.instance_norm(lib.tensor(x), r[0], r[1], lib.tensor(w), lib.tensor(b),
                                              use_input_stats=False)
        return [out] + r
    for a, t in zip(run(cgrad), run(torch)):
        close(a, t, "float64")


def test_instance_norm_checks_match_torch():
    with pytest.raises(ValueError) as t_err:
        torch.nn.InstanceNorm2d(3, affine=True)(torch.zeros(2, 4, 3, 3))
    with pytest.raises(ValueError) as c_err:
        nn.InstanceNorm2d(3, affine=True)(cgrad.zeros(2, 4, 3, 3))
    assert str(c_err.value) == str(t_err.value)
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(3)(cgrad.randn(2, 4, 5))
    for name, shape in (("InstanceNorm1d", (2, 3, 4, 5)), ("InstanceNorm2d", (3, 4)), ("InstanceNorm3d", (2, 3))):
        with pytest.raises(ValueError) as t_err:
            getattr(torch.nn, name)(3)(torch.zeros(shape))
        with pytest.raises(ValueError) as c_err:
            getattr(nn, name)(3)(cgrad.zeros(*shape))
        assert str(c_err.value) == str(t_err.value)
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(cgrad.zeros(2, 3, 1))


# ---- rms_norm -----------------------------------------------------------------------------------------

RMS = [((4, 6), (6,), None), ((2, 3, 4), (3, 4), 1e-3), ((2, 3, 4), [4], None), ((5,), (5,), 0.1)]


@pytest.mark.parametrize("dt", ["float64", "float32"])
@pytest.mark.parametrize("shape,normalized,eps", RMS)
@pytest.mark.parametrize("with_weight", [True, False])
def test_rms_norm_matches_torch(shape, normalized, eps, with_weight, dt):
    wshape = tuple(normalized)
    x, w = arrays([shape, wshape], dt)
    compare(lambda x, w: F.rms_norm(x, normalized, w, eps),
            lambda x, w: torch.nn.functional.rms_norm(x, normalized, w, eps), [x, w if with_weight else None], dt)


def test_rms_norm_module_matches_torch():
    for args, kw in (((4,), {}), (((2, 3),), {"eps": 1e-3, "elementwise_affine": False})):
        c, t = nn.RMSNorm(*args, **kw), torch.nn.RMSNorm(*args, **kw)
        assert repr(c) == repr(t) and list(c.state_dict()) == list(t.state_dict())
    t = torch.nn.RMSNorm(4, dtype=torch.float64)
    c = nn.RMSNorm(4, dtype=cgrad.float64)
    with torch.no_grad():
        t.weight.uniform_(0.5, 1.5)
    c.load_state_dict({k: cgrad.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    (x,) = arrays([(3, 4)], "float64")
    compare(lambda x: c(x), lambda x: t(x), [x], "float64")


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.rms_norm(lib.zeros(2, 3), 3),
    lambda lib: lib.nn.functional.rms_norm(lib.zeros(2, 3), (2,)),
    lambda lib: lib.nn.functional.rms_norm(lib.zeros(2, 3), (2, 3, 4)),
    lambda lib: lib.nn.functional.rms_norm(lib.zeros(2, 3), (3,), lib.ones(2)),
])
def test_rms_norm_errors_match_torch(call):
    with pytest.raises(Exception) as t_err:
        call(torch)
    with pytest.raises(type(t_err.value)) as c_err:
        call(cgrad)
    assert str(c_err.value) == str(t_err.value).replace("torch.", "cgrad.")
