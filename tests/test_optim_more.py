"""Adamax, NAdam, RAdam, Adadelta, Rprop and ASGD against torch.optim: trajectories
bit for bit over several parameter groups, state and state_dict interchange,
constructor errors, and compiled training steps that replay the eager ones exactly.

NAdam, RAdam and Adadelta take square roots: their bit-exact comparisons run
torch with Tensor.sqrt swapped for the IEEE-754 square root, as
tests/test_optim.py explains (Note [torch's sqrt on CPU]); without the swap
they are compared to a tolerance.
"""
import copy
import warnings

import numpy as np
import pytest

import cgrad
from cgrad import nn
from helpers import ieee_torch_sqrt  # noqa: F401 (a fixture)
from helpers import plain_state, same_bits, state_to_cgrad, training_step, type_and_message

torch = pytest.importorskip("torch")

SHAPES = [(4, 3), (3,), (), (2, 2, 2), (1,), (7,)]
GROUPS = [[0, 1], [2, 3], [4, 5]]  # parameter indices of each group

# Per optimizer: (the defaults given to the constructor, the settings of each group)
CASES = {
    "Adamax": [
        (dict(lr=0.01), [dict(), dict(weight_decay=0.1, maximize=True), dict(betas=(0.5, 0.8), eps=1e-3)]),
        (dict(lr=0.02, weight_decay=0.01), [dict(lr=0.05), dict(eps=0.0), dict(betas=(0.0, 0.0))]),
    ],
    "NAdam": [
        (dict(lr=0.01), [dict(), dict(weight_decay=0.1), dict(weight_decay=0.1, decoupled_weight_decay=True)]),
        (dict(lr=0.02, momentum_decay=0.05), [dict(maximize=True, betas=(0.8, 0.9)), dict(eps=1e-3, lr=0.003),
                                             dict(momentum_decay=0.0, weight_decay=0.02)]),
    ],
    "RAdam": [
        (dict(lr=0.01), [dict(), dict(weight_decay=0.1), dict(weight_decay=0.1, decoupled_weight_decay=True)]),
        # beta2 = 0.8 makes the variance tractable from the seventh step: both branches run
        (dict(lr=0.02, betas=(0.8, 0.8)), [dict(maximize=True), dict(eps=1e-3, betas=(0.9, 0.7)),
                                           dict(weight_decay=0.05, maximize=True)]),
    ],
    "Adadelta": [
        (dict(), [dict(), dict(rho=0.5, weight_decay=0.1), dict(lr=0.3, eps=1e-3, maximize=True)]),
        (dict(lr=0.5, rho=0.95), [dict(rho=0.0), dict(rho=1.0), dict(weight_decay=0.01, maximize=True)]),
    ],
    "Rprop": [
        (dict(lr=0.01), [dict(), dict(etas=(0.3, 1.5)), dict(step_sizes=(1e-3, 0.05), maximize=True)]),
        (dict(lr=0.1, step_sizes=(0.01, 0.2)), [dict(lr=0.5), dict(etas=(0.9, 1.1)), dict(step_sizes=(0.0, 1e9))]),
    ],
    "ASGD": [
        (dict(lr=0.05), [dict(), dict(t0=5.0, lambd=0.01), dict(weight_decay=0.1, maximize=True, alpha=0.5)]),
        (dict(lr=0.1, t0=0.0, lambd=0.1), [dict(lr=0.02), dict(alpha=1.0, t0=10.0), dict(weight_decay=0.01)]),
    ],
}
NAMES = list(CASES)
SQRT_OPTIMIZERS = {"NAdam", "RAdam", "Adadelta"}
PAIRS = [(name, i) for name in NAMES for i in range(len(CASES[name]))]


def draw(seed, steps):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    for k in range(0, steps, 7):  # exact zeros, for the branches that look at signs and zeros
        grads[k][0][0] = 0.0
    return inits, grads


def make(lib, name, defaults, groups, inits, dtype):
    params = [lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=True) for a in inits]
    opt = getattr(lib.optim, name)([dict(g, params=[params[i] for i in idx]) for g, idx in zip(groups, GROUPS)],
                                   **dict({"foreach": False}, **defaults))
    return opt, params


def arr(t):
    return np.array(t.detach().numpy(), copy=True)


def torch_dtype_name(t):
    return str(t.dtype).split(".")[-1]


def assert_same_state(opt, topt, params, tparams, exact=True):
    for i, (p, tp) in enumerate(zip(params, tparams)):
        st, tst = opt.state[p], topt.state[tp]
        assert list(st) == list(tst), i
        for key in st:
            ours, theirs = arr(st[key]), arr(tst[key])
            assert torch_dtype_name(st[key]) == torch_dtype_name(tst[key]), (i, key)
            assert ours.shape == theirs.shape, (i, key)
            if exact:
                assert ours.tobytes() == theirs.tobytes(), (i, key, ours, theirs)


def run_both(name, index, dtype, steps=40, check_every=5):
    defaults, groups = CASES[name][index]
    inits, grads = draw(index + 10 * NAMES.index(name), steps)
    opt, params = make(cgrad, name, defaults, groups, inits, dtype)
    topt, tparams = make(torch, name, defaults, groups, inits, dtype)
    for k, step_grads in enumerate(grads):
        for p, tp, g in zip(params, tparams, step_grads):
            p.grad = cgrad.tensor(g, dtype=p.dtype)
            tp.grad = torch.tensor(g, dtype=tp.dtype)
        opt.step()
        topt.step()
        yield k, opt, params, topt, tparams


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,index", PAIRS, ids=[f"{n}-{i}" for n, i in PAIRS])
def test_trajectory_is_torchs_bit_for_bit(name, index, dtype, ieee_torch_sqrt):
    for k, opt, params, topt, tparams in run_both(name, index, dtype):
        for i, (p, tp) in enumerate(zip(params, tparams)):
            assert arr(p).tobytes() == arr(tp).tobytes(), f"{name} {dtype}: param {i} differs at step {k + 1}"
        if k % 5 == 4:
            assert_same_state(opt, topt, params, tparams)
    assert repr(opt) == repr(topt)


@pytest.mark.parametrize("name", sorted(SQRT_OPTIMIZERS))
def test_close_to_torch_with_its_own_sqrt(name):
    for index in range(len(CASES[name])):
        for k, opt, params, topt, tparams in run_both(name, index, "float64", steps=30):
            pass
        for p, tp in zip(params, tparams):
            np.testing.assert_allclose(arr(p), arr(tp), rtol=1e-11, atol=1e-13)


def test_radam_takes_both_branches():
    # rho_t > 5 first holds at step 6 with beta2 = 0.999, at step 7 with beta2 = 0.8
    for beta2, first in [(0.999, 6), (0.8, 7)]:
        p = cgrad.tensor([1.0], dtype=cgrad.float64, requires_grad=True)
        opt = cgrad.optim.RAdam([p], lr=1.0, betas=(0.0, beta2), eps=0.0)
        moves = []
        for _ in range(first):
            p.grad = cgrad.tensor([4.0], dtype=cgrad.float64)
            before = p.item()
            opt.step()
            moves.append(before - p.item())
        assert moves[:first - 1] == [4.0] * (first - 1)  # lr * grad, unrectified
        assert 0 < moves[-1] < 1  # lr * rect: the adaptive term is 1 / |grad| here


def test_params_without_grad_get_no_state_and_no_step(ieee_torch_sqrt):
    for name in NAMES:
        results = []
        for lib in (cgrad, torch):
            a = lib.ones(3, dtype=lib.float64, requires_grad=True)
            b = lib.ones(2, dtype=lib.float64, requires_grad=True)
            opt = getattr(lib.optim, name)([a, b])
            assert len(opt.state) == 0
            a.grad = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64)
            opt.step()
            opt.step()
            b.grad = lib.tensor([0.5, -0.5], dtype=lib.float64)
            opt.step()
            results.append((arr(a).tolist(), arr(b).tolist(), sorted(opt.state_dict()["state"]),
                            float(opt.state[a]["step"]), float(opt.state[b]["step"])))
        assert results[0] == results[1], name


def test_hyperparameters_changed_between_steps_are_used(ieee_torch_sqrt):
    changes = {"Adamax": ("lr", 0.1), "NAdam": ("momentum_decay", 0.1), "RAdam": ("lr", 0.1),
               "Adadelta": ("rho", 0.5), "Rprop": ("etas", (0.2, 2.0)), "ASGD": ("lr", 0.5)}
    for name, (key, value) in changes.items():
        ours = []
        for lib in (cgrad, torch):
            p = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float32, requires_grad=True)
            opt = getattr(lib.optim, name)([p])
            for k in range(8):
                if k == 4:
                    opt.param_groups[0][key] = value
                p.grad = lib.tensor([0.3, -0.1 * k, 1.0 - k], dtype=lib.float32)
                opt.step()
            ours.append(arr(p).tobytes())
        assert ours[0] == ours[1], name


# ---- state dicts --------------------------------------------------------------------------------


def to_torch(value):
    if isinstance(value, cgrad.Tensor):
        return torch.from_numpy(arr(value))
    if isinstance(value, dict):
        return {k: to_torch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_torch(v) for v in value]
    return value


def feed(lib, opt, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = lib.tensor(g, dtype=p.dtype)
        opt.step()


@pytest.mark.parametrize("name", NAMES)
def test_state_dicts_are_interchangeable_with_torchs(name, ieee_torch_sqrt):
    defaults, groups = CASES[name][0]
    inits, grads = draw(50, 20)
    opt, params = make(cgrad, name, defaults, groups, inits, "float64")
    topt, tparams = make(torch, name, defaults, groups, inits, "float64")
    feed(cgrad, opt, params, grads[:10])
    feed(torch, topt, tparams, grads[:10])
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert plain_state(sd) == plain_state(tsd)

    # Loading casts every state but the step counter to the parameter's dtype (NAdam's mu_product, ASGD's
    # eta and mu become float64 here), so a resumed run may differ from an uninterrupted one: compare
    # torch resumed from its own state dict with cgrad resumed from torch's and torch resumed from cgrad's.
    middle = [arr(p) for p in params]
    resumed = []
    for lib, state_dict in [(torch, tsd), (cgrad, state_to_cgrad(tsd)), (torch, to_torch(sd))]:
        o, ps = make(lib, name, defaults, groups, middle, "float64")
        o.load_state_dict(copy.deepcopy(state_dict))
        feed(lib, o, ps, grads[10:])
        resumed.append([arr(p).tobytes() for p in ps])
        if lib is cgrad:
            assert_same_state(o, opt_ref, ps, ps_ref)
        else:
            opt_ref, ps_ref = o, ps
    assert resumed[1] == resumed[0] and resumed[2] == resumed[0]
    feed(cgrad, opt, params, grads[10:])
    feed(torch, topt, tparams, grads[10:])
    assert [arr(p).tobytes() for p in params] == [arr(p).tobytes() for p in tparams]


def test_loaded_state_is_cast_to_the_parameters_and_numbers_become_tensors():
    p = cgrad.zeros(3, dtype=cgrad.float32, requires_grad=True)
    opt = cgrad.optim.ASGD([p])
    state = {"step": 4.0, "eta": 0.01, "mu": 1.0, "ax": cgrad.ones(3, dtype=cgrad.float64)}
    opt.load_state_dict({"state": {0: state}, "param_groups": [dict(opt.state_dict()["param_groups"][0])]})
    st = opt.state[p]
    assert st["ax"].dtype == cgrad.float32
    assert all(isinstance(st[k], cgrad.Tensor) and st[k].dtype == cgrad.float32 for k in ("step", "eta", "mu"))
    p.grad = cgrad.ones(3)
    opt.step()
    assert st["step"].item() == 5.0


# ---- constructor errors -----------------------------------------------------------------------


BAD_ARGUMENTS = [
    ("Adamax", dict(lr=-1.0)), ("Adamax", dict(eps=-1.0)), ("Adamax", dict(betas=(1.0, 0.9))),
    ("Adamax", dict(betas=(0.9, -0.1))), ("Adamax", dict(weight_decay=-1.0)),
    ("NAdam", dict(lr=-0.1)), ("NAdam", dict(eps=-1e-8)), ("NAdam", dict(betas=(-0.1, 0.9))),
    ("NAdam", dict(betas=(0.9, 1.0))), ("NAdam", dict(weight_decay=-0.5)), ("NAdam", dict(momentum_decay=-1.0)),
    ("RAdam", dict(lr=-1e-3)), ("RAdam", dict(eps=-1.0)), ("RAdam", dict(betas=(1.5, 0.9))),
    ("RAdam", dict(betas=(0.9, 1.5))), ("RAdam", dict(weight_decay=-1e-2)),
    ("Adadelta", dict(lr=-1.0)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(rho=-0.1)),
    ("Adadelta", dict(eps=-1.0)), ("Adadelta", dict(weight_decay=-1.0)),
    ("Rprop", dict(lr=-1.0)), ("Rprop", dict(etas=(1.0, 1.2))), ("Rprop", dict(etas=(0.5, 0.9))),
    ("Rprop", dict(etas=(0.0, 1.2))),
    ("ASGD", dict(lr=-1.0)), ("ASGD", dict(weight_decay=-1.0)),
]


@pytest.mark.parametrize("name,kw", BAD_ARGUMENTS, ids=[f"{n}-{sorted(kw)[0]}-{i}" for i, (n, kw) in
                                                        enumerate(BAD_ARGUMENTS)])
def test_constructor_errors_match_torch(name, kw):
    ours = type_and_message(lambda: getattr(cgrad.optim, name)([cgrad.ones(2, requires_grad=True)], **kw))
    theirs = type_and_message(lambda: getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **kw))
    assert ours == theirs


@pytest.mark.parametrize("name", NAMES)
def test_defaults_and_common_errors_match_torch(name):
    opt = getattr(cgrad.optim, name)([cgrad.ones(2, requires_grad=True)])
    topt = getattr(torch.optim, name)([torch.ones(2, requires_grad=True)])
    assert opt.defaults == topt.defaults
    assert repr(opt) == repr(topt)
    for make_params in (lambda lib: [], lambda lib: lib.ones(2, requires_grad=True),
                        lambda lib: [lib.ones(2, requires_grad=True) * 2]):
        ours = type_and_message(lambda: getattr(cgrad.optim, name)(make_params(cgrad)))
        theirs = type_and_message(lambda: getattr(torch.optim, name)(make_params(torch)))
        assert ours[0] is theirs[0] and ours[1].replace("cgrad.", "torch.") == theirs[1]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("flag", ["capturable", "differentiable"])
def test_unsupported_flags_raise(name, flag):
    with pytest.raises(NotImplementedError, match=name):
        getattr(cgrad.optim, name)([cgrad.ones(2, requires_grad=True)], **{flag: True})


def test_foreach_true_runs_the_same_update():
    inits, grads = draw(7, 5)
    ends = []
    for foreach in (None, True):
        opt, params = make(cgrad, "Adamax", {"foreach": foreach}, [{}, {}, {}], inits, "float64")
        assert opt.param_groups[0]["foreach"] is foreach
        feed(cgrad, opt, params, grads)
        ends.append([arr(p).tobytes() for p in params])
    assert ends[0] == ends[1]


# ---- compiled steps -----------------------------------------------------------------------------


def mlp(seed, dtype):
    cgrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype)


COMPILED = {
    "Adamax": lambda m: cgrad.optim.Adamax([{"params": m[0].parameters(), "weight_decay": 0.01},
                                            {"params": m[2].parameters()}], lr=0.01),
    "NAdam": lambda m: cgrad.optim.NAdam([{"params": m[0].parameters(), "decoupled_weight_decay": True,
                                           "weight_decay": 0.1}, {"params": m[2].parameters()}], lr=0.01),
    "RAdam": lambda m: cgrad.optim.RAdam([{"params": m[0].parameters(), "maximize": True},
                                          {"params": m[2].parameters()}], lr=0.01, betas=(0.9, 0.9)),
    "Adadelta": lambda m: cgrad.optim.Adadelta([{"params": m[0].parameters(), "weight_decay": 0.01},
                                                {"params": m[2].parameters(), "rho": 0.5}]),
    "Rprop": lambda m: cgrad.optim.Rprop([{"params": m[0].parameters()},
                                          {"params": m[2].parameters(), "etas": (0.3, 1.5)}], lr=0.01),
    "ASGD": lambda m: cgrad.optim.ASGD([{"params": m[0].parameters(), "t0": 5.0},
                                        {"params": m[2].parameters(), "weight_decay": 0.01}], lr=0.05, lambd=0.01),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_compiled_training_step_replays_eager_bit_for_bit(name, dtype):
    dt = getattr(cgrad, dtype)
    m1, m2 = mlp(3, dt), mlp(3, dt)
    o1, o2 = COMPILED[name](m1), COMPILED[name](m2)
    eager, compiled = training_step(m1, o1), cgrad.compile(training_step(m2, o2))
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to eager
        for k in range(30):
            x = cgrad.tensor(rng.standard_normal((8, 6)), dtype=dt)
            t = cgrad.tensor(rng.integers(0, 3, 8))
            if k == 15:  # hyper-parameters changed between calls reach the replay
                for o in (o1, o2):
                    o.param_groups[1]["lr"] = 0.02
            assert same_bits(eager(x, t).detach(), compiled(x, t)), f"step {k}: loss differs"
            for i, (p, q) in enumerate(zip(m1.parameters(), m2.parameters())):
                assert same_bits(p, q), f"step {k}: parameter {i} differs"
    assert compiled._cgrad_step.replays == 27
    for p, q in zip(m1.parameters(), m2.parameters()):
        s1, s2 = o1.state[p], o2.state[q]
        assert list(s1) == list(s2)
        for key in s1:
            assert same_bits(s1[key], s2[key]), key


# ---- LBFGS ----------------------------------------------------------------------------------------
# Its step is Python over tensor ops (dot products, reductions) whose sums may round differently from
# torch's, so its trajectories are compared to a tolerance, with the same control flow: the same numbers
# of iterations and of function evaluations.


def lbfgs_problem(lib, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dt = getattr(lib, dtype)
    X, y = lib.tensor(rng.standard_normal((20, 4)), dtype=dt), lib.tensor(rng.standard_normal((20, 1)), dtype=dt)
    w = lib.tensor(rng.standard_normal((4, 1)), dtype=dt, requires_grad=True)
    b = lib.tensor(rng.standard_normal(1), dtype=dt, requires_grad=True)
    unused = lib.zeros(2, dtype=dt, requires_grad=True)  # never gets a grad

    def loss_of():
        return (((X @ w + b).tanh() - y) ** 2).mean() + (w ** 4).sum() * 0.1

    return [w, b, unused], loss_of


def lbfgs_run(lib, dtype, steps, **kw):
    params, loss_of = lbfgs_problem(lib, dtype)
    opt = lib.optim.LBFGS(params, **kw)

    def closure():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(steps)]
    return losses, params, opt, closure


LBFGS_CASES = [dict(), dict(history_size=2, max_iter=7), dict(line_search_fn="strong_wolfe"),
               dict(line_search_fn="strong_wolfe", history_size=3, lr=0.5, max_eval=12),
               dict(lr=0.1, tolerance_change=1e-4)]


@pytest.mark.parametrize("dtype,rtol,steps", [("float64", 1e-9, 4), ("float32", 2e-4, 1)])
@pytest.mark.parametrize("kw", LBFGS_CASES, ids=[str(sorted(kw.items())) for kw in LBFGS_CASES])
def test_lbfgs_follows_torch(kw, dtype, rtol, steps):
    losses, params, opt, _ = lbfgs_run(cgrad, dtype, steps, **kw)
    tlosses, tparams, topt, _ = lbfgs_run(torch, dtype, steps, **kw)
    np.testing.assert_allclose(losses, tlosses, rtol=rtol)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(arr(p), arr(tp), rtol=rtol, atol=rtol)
    st, tst = opt.state[params[0]], topt.state[tparams[0]]
    assert list(st) == list(tst)
    if dtype == "float64":  # float32 converges within a step here, where its rounding decides the last checks
        assert (st["func_evals"], st["n_iter"], len(st["old_dirs"])) == (tst["func_evals"], tst["n_iter"],
                                                                       len(tst["old_dirs"]))
    assert torch_dtype_name(st["d"]) == torch_dtype_name(tst["d"]) == dtype
    assert repr(opt) == repr(topt) and opt.defaults == topt.defaults


def test_lbfgs_stops_at_a_zero_gradient_and_rejects_other_line_searches():
    w = cgrad.zeros(3, requires_grad=True)
    opt = cgrad.optim.LBFGS([w])

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0.0
    assert opt.state[w]["n_iter"] == 0 and opt.state[w]["func_evals"] == 1
    w2 = cgrad.ones(3, requires_grad=True)
    opt2 = cgrad.optim.LBFGS([w2], line_search_fn="backtracking")

    def closure2():
        opt2.zero_grad()
        loss = (w2 * w2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt2.step(closure2)


def test_lbfgs_constructor_errors_match_torch():
    for kw in (dict(lr=-1.0),):
        ours = type_and_message(lambda: cgrad.optim.LBFGS([cgrad.ones(2, requires_grad=True)], **kw))
        theirs = type_and_message(lambda: torch.optim.LBFGS([torch.ones(2, requires_grad=True)], **kw))
        assert ours == theirs
    ours = type_and_message(lambda: cgrad.optim.LBFGS([{"params": [cgrad.ones(2, requires_grad=True)]},
                                              {"params": [cgrad.ones(2, requires_grad=True)]}]))
    theirs = type_and_message(lambda: torch.optim.LBFGS([{"params": [torch.ones(2, requires_grad=True)]},
                                                {"params": [torch.ones(2, requires_grad=True)]}]))
    assert ours == theirs


def test_lbfgs_resumes_from_torchs_state_dict():
    kw = dict(history_size=3, max_iter=5, line_search_fn="strong_wolfe")
    _, tparams, topt, tclosure = lbfgs_run(torch, "float64", 2, **kw)
    params, loss_of = lbfgs_problem(cgrad, "float64")
    with cgrad.no_grad():
        for p, tp in zip(params, tparams):
            p.copy_(cgrad.tensor(arr(tp)))
    opt = cgrad.optim.LBFGS(params, **kw)
    opt.load_state_dict(state_to_cgrad(topt.state_dict()))
    assert plain_state(opt.state_dict()) == plain_state(topt.state_dict())

    def closure():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        return loss

    for _ in range(2):
        opt.step(closure)
        topt.step(tclosure)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(arr(p), arr(tp), rtol=1e-9, atol=1e-12)
    assert opt.state[params[0]]["func_evals"] == topt.state[tparams[0]]["func_evals"]


def test_lbfgs_in_a_compiled_step_runs_eagerly_with_a_warning():
    # the step's control flow depends on values (float(loss), curvature checks): it cannot be replayed
    results = []
    for compile_it in (False, True):
        params, loss_of = lbfgs_problem(cgrad, "float32")
        opt = cgrad.optim.LBFGS(params, max_iter=3)

        def step():
            def closure():
                opt.zero_grad()
                loss = loss_of()
                loss.backward()
                return loss
            return opt.step(closure)

        run = cgrad.compile(step) if compile_it else step
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            losses = [arr(run()).tobytes() for _ in range(5)]
        assert any("cgrad.compile" in str(w.message) for w in caught) == compile_it
        results.append((losses, [arr(p).tobytes() for p in params]))
    assert results[0] == results[1]


@pytest.fixture
def float64_default():
    cgrad.set_default_dtype(cgrad.float64)
    torch.set_default_dtype(torch.float64)
    yield
    cgrad.set_default_dtype(cgrad.float32)
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("name", NAMES)
def test_float64_default_dtype_keeps_scalar_states_in_float64(name, float64_default, ieee_torch_sqrt):
    # step counters, NAdam's mu_product and ASGD's eta and mu follow the default dtype, float32 params or not
    for k, opt, params, topt, tparams in run_both(name, 0, "float32", steps=12):
        for i, (p, tp) in enumerate(zip(params, tparams)):
            assert arr(p).tobytes() == arr(tp).tobytes(), f"{name}: param {i} differs at step {k + 1}"
    assert_same_state(opt, topt, params, tparams)
    assert str(opt.state[params[0]]["step"].dtype) == "cgrad.float64"
