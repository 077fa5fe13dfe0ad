"""cgrad.optim against torch.optim: bit-exact trajectories, state_dict format,
param groups, errors, reprs and the learning-rate schedulers.

Note [torch's sqrt on CPU]
  Adam, AdamW, RMSprop and Adagrad take a square root every step. PyTorch's
  CPU sqrt for contiguous tensors goes through MKL's vector math library in
  its high-accuracy mode, which is not correctly rounded: about 1.4% of
  float64 results (and more of float32 ones) differ from the IEEE-754 square
  root by one unit in the last place. cgrad uses the IEEE-754 square root. So
  the bit-exact comparisons of those optimizers run torch's single-tensor
  implementation with Tensor.sqrt swapped for the IEEE-754 one (numpy's);
  every other operation is torch's own. Without the swap the trajectories
  agree to a few units in the last place, which is checked too.
"""
import copy
import math
import warnings

import numpy as np
import pytest

import cgrad
from helpers import ieee_torch_sqrt  # noqa: F401 (a fixture)
from helpers import plain_state, state_to_cgrad, type_and_message

torch = pytest.importorskip("torch")

SHAPES = [(3, 5), (13,), (1,), (), (4, 4, 3), (40,)]

CONFIGS = {
    "SGD": [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.1, momentum=0.9, dampening=0.3),
            dict(lr=0.05, momentum=0.8, nesterov=True), dict(lr=0.1, weight_decay=0.01),
            dict(lr=0.1, momentum=0.9, weight_decay=0.05, maximize=True),
            dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.1, maximize=True)],
    "Adam": [dict(lr=0.01), dict(lr=0.01, amsgrad=True), dict(lr=0.01, weight_decay=0.1),
             dict(lr=0.02, betas=(0.8, 0.9), eps=1e-6, maximize=True),
             dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True), dict(lr=0.01, betas=(0.3, 0.6)),
             dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)],
    "AdamW": [dict(lr=0.01), dict(lr=0.01, weight_decay=0.1, amsgrad=True), dict(lr=0.01, maximize=True),
              dict(lr=0.03, betas=(0.5, 0.8), eps=1e-4, weight_decay=0.0)],
    "RMSprop": [dict(lr=0.01), dict(lr=0.01, centered=True), dict(lr=0.01, momentum=0.9),
                dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1), dict(lr=0.01, alpha=0.3, maximize=True),
                dict(lr=0.01, alpha=0.7, centered=True, eps=1e-4)],
    "Adagrad": [dict(lr=0.1), dict(lr=0.1, lr_decay=0.01), dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5),
                dict(lr=0.1, eps=1e-3, maximize=True)],
}
CASES = [(name, i) for name in CONFIGS for i in range(len(CONFIGS[name]))]


def trajectory(lib, name, kw, dtype, inits, grads):
    params = [lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=True) for a in inits]
    if lib is torch:
        kw = dict(kw, foreach=False)
    opt = getattr(lib.optim, name)(params, **kw)
    states = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = lib.tensor(g, dtype=getattr(lib, dtype))
        opt.step()
        states.append([p.detach().numpy().copy() for p in params])
    return states, opt


def draw(seed, steps=6):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    return inits, grads


def assert_bit_exact(a, b, what):
    for step, (pa, pb) in enumerate(zip(a, b)):
        for i, (x, y) in enumerate(zip(pa, pb)):
            assert x.dtype == y.dtype
            assert np.array_equal(x, y), f"{what}: param {i} differs at step {step + 1} (max {np.abs(x - y).max()})"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,index", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_trajectory_bit_exact(name, index, dtype, ieee_torch_sqrt):
    kw = CONFIGS[name][index]
    inits, grads = draw(index)
    ours, opt = trajectory(cgrad, name, kw, dtype, inits, grads)
    theirs, topt = trajectory(torch, name, kw, dtype, inits, grads)
    assert_bit_exact(ours, theirs, f"{name}({kw}) {dtype}")
    for i, (p, tp) in enumerate(zip(opt.param_groups[0]["params"], topt.param_groups[0]["params"])):
        st, tst = opt.state[p], topt.state[tp]
        assert list(st) == list(tst)
        for k in st:
            assert np.array_equal(st[k].numpy(), tst[k].numpy()), (i, k)
            assert str(st[k].dtype).split(".")[-1] == str(tst[k].dtype).split(".")[-1], (i, k)


@pytest.mark.parametrize("name,index", [c for c in CASES if c[0] == "SGD"], ids=lambda c: str(c))
def test_sgd_bit_exact_with_torch_unpatched(name, index):
    kw = CONFIGS[name][index]
    inits, grads = draw(100 + index)
    assert_bit_exact(trajectory(cgrad, name, kw, "float64", inits, grads)[0],
                     trajectory(torch, name, kw, "float64", inits, grads)[0], f"SGD({kw})")


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "Adagrad"])
def test_sqrt_optimizers_close_to_unpatched_torch(name):
    for index, kw in enumerate(CONFIGS[name]):
        inits, grads = draw(200 + index, steps=10)
        ours = trajectory(cgrad, name, kw, "float64", inits, grads)[0]
        theirs = trajectory(torch, name, kw, "float64", inits, grads)[0]
        for pa, pb in zip(ours[-1], theirs[-1]):
            np.testing.assert_allclose(pa, pb, rtol=1e-13, atol=1e-15)


def test_params_without_grad_are_skipped(ieee_torch_sqrt):
    for lib in (cgrad, torch):
        a = lib.ones(3, dtype=lib.float64, requires_grad=True)
        b = lib.ones(2, dtype=lib.float64, requires_grad=True)
        opt = lib.optim.Adam([a, b], lr=0.1)
        a.grad = lib.tensor(np.array([1.0, -2.0, 3.0]))
        opt.step()
        opt.step()
        b.grad = lib.tensor(np.array([0.5, 0.5]))
        opt.step()
        result = (a.detach().numpy().copy(), b.detach().numpy().copy(),
                  sorted(opt.state_dict()["state"]), float(opt.state[b]["step"]))
        if lib is cgrad:
            ours = result
    assert np.array_equal(ours[0], result[0]) and np.array_equal(ours[1], result[1])
    assert ours[2:] == result[2:]


def test_sgd_momentum_state_and_first_step():
    for lib in (cgrad, torch):
        p = lib.zeros(2, dtype=lib.float64, requires_grad=True)
        opt = lib.optim.SGD([p], lr=1.0, momentum=0.9, dampening=0.5)
        assert len(opt.state) == 0
        p.grad = lib.tensor(np.array([1.0, 2.0]))
        opt.step()
        buf = opt.state[p]["momentum_buffer"].numpy().copy()
        if lib is cgrad:
            ours = buf
    np.testing.assert_array_equal(ours, buf)  # the first step copies the grad, undamped


# ---- state dicts -----------------------------------------------------------------------------


def build(lib, name, **kw):
    lib.manual_seed(0)
    w = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = lib.tensor(np.array([0.5, -0.5]), requires_grad=True)
    c = lib.tensor(np.array([1.0]), requires_grad=True)
    opt = getattr(lib.optim, name)([{"params": [w, b]}, {"params": [c], "lr": 0.5}], foreach=False, **kw)
    return opt, (w, b, c)


def train(lib, opt, params, steps, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for p in params:
            p.grad = lib.tensor(rng.standard_normal(tuple(p.shape)))
        opt.step()


@pytest.mark.parametrize("name,kw", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"amsgrad": True}),
                                     ("AdamW", {}), ("RMSprop", {"centered": True, "momentum": 0.5}),
                                     ("Adagrad", {"lr_decay": 0.1})])
def test_state_dict_format_matches_torch(name, kw, ieee_torch_sqrt):
    opt, params = build(cgrad, name, **kw)
    topt, tparams = build(torch, name, **kw)
    train(cgrad, opt, params, 3)
    train(torch, topt, tparams, 3)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert plain_state(sd) == plain_state(tsd)
    assert repr(opt) == repr(topt)


@pytest.mark.parametrize("name,kw", [("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
                                     ("Adam", {"weight_decay": 0.1}), ("AdamW", {"amsgrad": True}),
                                     ("RMSprop", {"momentum": 0.5}), ("Adagrad", {})])
def test_load_state_dict_resumes_trajectory(name, kw):
    opt, params = build(cgrad, name, **kw)
    train(cgrad, opt, params, 3, seed=1)
    snapshot = copy.deepcopy(opt.state_dict())  # state_dict() returns the live state tensors, as torch's
    values = [p.detach().clone() for p in params]
    train(cgrad, opt, params, 3, seed=2)
    expected = [p.detach().numpy().copy() for p in params]

    opt2, params2 = build(cgrad, name, **kw)
    with cgrad.no_grad():
        for p, v in zip(params2, values):
            p.copy_(v)
    opt2.load_state_dict(snapshot)
    train(cgrad, opt2, params2, 3, seed=2)
    for p, e in zip(params2, expected):
        np.testing.assert_array_equal(p.detach().numpy(), e)


def test_load_state_dict_from_torch_and_casting():
    topt, tparams = build(torch, "Adam")
    train(torch, topt, tparams, 2)
    tsd = topt.state_dict()

    opt, params = build(cgrad, "Adam")
    for p in params:
        p.data = p.detach().to(cgrad.float32)
    opt.load_state_dict(state_to_cgrad(tsd))
    assert opt.state[params[0]]["exp_avg"].dtype == cgrad.float32  # cast to the parameter's dtype
    assert opt.state[params[0]]["step"].dtype == cgrad.float32
    assert opt.state[params[0]]["step"].item() == 2.0
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[0]["params"][0] is params[0]


def test_load_state_dict_errors_match_torch():
    opt, _ = build(cgrad, "SGD", lr=0.1)
    topt, _ = build(torch, "SGD", lr=0.1)
    for mutate in (lambda sd: sd["param_groups"].pop(),
                   lambda sd: sd["param_groups"][0]["params"].pop()):
        sd, tsd = opt.state_dict(), topt.state_dict()
        mutate(sd)
        mutate(tsd)
        with pytest.raises(ValueError) as ours:
            opt.load_state_dict(sd)
        with pytest.raises(ValueError) as theirs:
            topt.load_state_dict(tsd)
        assert str(ours.value) == str(theirs.value)


def test_zero_grad():
    p = cgrad.ones(3, requires_grad=True)
    opt = cgrad.optim.SGD([p], lr=0.1)
    p.grad = cgrad.ones(3)
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and (g.numpy() == 0).all()
    opt.zero_grad()
    assert p.grad is None


def test_closure():
    p = cgrad.tensor(np.array([2.0]), requires_grad=True)
    opt = cgrad.optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 4.0
    assert p.item() == 1.0


# ---- param groups and errors ------------------------------------------------------------------


def test_constructor_errors_match_torch():
    for lib_name, make in [
        ("empty", lambda lib: lib.optim.SGD([], lr=0.1)),
        ("tensor", lambda lib: lib.optim.SGD(lib.ones(2, requires_grad=True), lr=0.1)),
        ("not tensor", lambda lib: lib.optim.SGD([1.0], lr=0.1)),
        ("non-leaf", lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True) * 2], lr=0.1)),
        ("lr", lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=-1)),
        ("momentum", lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], momentum=-1)),
        ("nesterov", lambda lib: lib.optim.SGD([lib.ones(2, requires_grad=True)], nesterov=True)),
        ("betas", lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], betas=(1.0, 0.9))),
        ("eps", lambda lib: lib.optim.Adam([lib.ones(2, requires_grad=True)], eps=-1.0)),
        ("alpha", lambda lib: lib.optim.RMSprop([lib.ones(2, requires_grad=True)], alpha=-1.0)),
        ("lr_decay", lambda lib: lib.optim.Adagrad([lib.ones(2, requires_grad=True)], lr_decay=-1.0)),
        ("set", lambda lib: lib.optim.SGD([{"params": {lib.ones(2, requires_grad=True)}}], lr=0.1)),
    ]:
        ours, theirs = type_and_message(lambda: make(cgrad)), type_and_message(lambda: make(torch))
        assert ours[0] is theirs[0], lib_name
        assert ours[1].replace("cgrad.", "torch.") == theirs[1], lib_name


def test_add_param_group():
    a, b = cgrad.ones(2, requires_grad=True), cgrad.ones(3, requires_grad=True)
    opt = cgrad.optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict, but got list"):
        opt.add_param_group([a])
    with pytest.warns(UserWarning, match="duplicate parameters"):
        cgrad.optim.SGD([a, a], lr=0.1)
    a.grad, b.grad = cgrad.ones(2), cgrad.ones(3)
    opt.step()
    assert sorted(opt.state_dict()["state"]) == [0, 1]
    named = cgrad.optim.SGD([("w", a)], lr=0.1)
    assert named.param_groups[0]["param_names"] == ["w"]
    assert named.state_dict()["param_groups"][0]["param_names"] == ["w"]


# ---- schedulers ---------------------------------------------------------------------------------


def lr_sequence(lib, make_sched, steps=25, groups=2):
    params = [lib.ones(1, requires_grad=True) for _ in range(groups)]
    opt = lib.optim.SGD([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)], lr=0.1)
    sched = make_sched(lib, opt)
    out = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return out, sched


SCHEDULERS = {
    "StepLR": lambda lib, opt: lib.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
    "CosineAnnealingLR": lambda lib, opt: lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7),
    "CosineAnnealingLR-eta": lambda lib, opt: lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.01),
    "LambdaLR": lambda lib, opt: lib.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.95 ** e),
    "LambdaLR-list": lambda lib, opt: lib.optim.lr_scheduler.LambdaLR(opt, [lambda e: 1 / (e + 1), lambda e: e]),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_matches_torch(name):
    ours, sched = lr_sequence(cgrad, SCHEDULERS[name])
    theirs, tsched = lr_sequence(torch, SCHEDULERS[name])
    assert ours == theirs  # exactly: the same recurrences in the same order
    sd, tsd = sched.state_dict(), tsched.state_dict()
    assert set(sd) == set(tsd)
    for key in sd:
        if key != "lr_lambdas":
            assert sd[key] == tsd[key], key


def test_scheduler_state_dict_round_trip_and_closed_form():
    _, sched = lr_sequence(cgrad, SCHEDULERS["StepLR"], steps=5)
    p = cgrad.ones(1, requires_grad=True)
    opt = cgrad.optim.SGD([{"params": [p], "lr": 0.1}, {"params": [cgrad.ones(1, requires_grad=True)], "lr": 0.2}])
    fresh = cgrad.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    fresh.load_state_dict(sched.state_dict())
    assert fresh.last_epoch == 5 and fresh.get_last_lr() == sched.get_last_lr()
    with pytest.warns(UserWarning, match="epoch parameter"):
        fresh.step(9)
    assert fresh.get_last_lr() == [0.1 * 0.5 ** 3, 0.2 * 0.5 ** 3]
    lam = cgrad.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)
    assert lam.state_dict()["lr_lambdas"] == [None, None]


def test_scheduler_warnings():
    p = cgrad.ones(1, requires_grad=True)
    opt = cgrad.optim.SGD([p], lr=0.1)
    sched = cgrad.optim.lr_scheduler.StepLR(opt, 1)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`"):
        sched.step()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        cgrad.optim.lr_scheduler.StepLR([], 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt2 = cgrad.optim.SGD([p], lr=0.1)
        s2 = cgrad.optim.lr_scheduler.CosineAnnealingLR(opt2, 10)
        opt2.step()
        s2.step()
    assert math.isclose(s2.get_last_lr()[0], 0.05 * (1 + math.cos(math.pi / 10)))
