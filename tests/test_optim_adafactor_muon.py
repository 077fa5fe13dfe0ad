"""Adafactor and Muon against torch.optim: trajectories over several parameter groups and shapes, state and
state_dict interchange, constructor and step errors, and compiled steps (which run eagerly, with a warning).

Muon agrees with torch bit for bit: its update is a bfloat16 Newton-Schulz iteration, whose products cgrad
computes in float32 and rounds to bfloat16; products of bfloat16 numbers and their short sums are exact in
float32, so on these small matrices the BLAS's order of summation does not show. Adafactor's step reduces:
the row and column means of the squared gradient and the norms behind its RMS, which cgrad sums in another
order than torch for some lengths; its trajectories are compared to a tolerance of a few ulps (most values
still agree exactly).
"""
import copy
import warnings

import numpy as np
import pytest

import cgrad
from cgrad import nn
from cgrad.optim.muon import _bfloat16, _round_to_bfloat16_
from helpers import plain_state, same_bits, state_to_cgrad, training_step, type_and_message

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """torch's tiny bfloat16 products run far slower on two threads when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def arr(t):
    return np.array(t.detach().numpy(), copy=True)


def make(lib, name, shapes, groups, defaults, inits, dtype):
    params = [lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=True) for a in inits]
    return getattr(lib.optim, name)([dict(g, params=[params[i] for i in idx]) for g, idx in groups],
                                    **defaults), params


def draw(seed, shapes, steps):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s) for s in shapes]
    # gradients of three sizes, so that Adafactor's clipping and epsilons both act
    grads = [[rng.standard_normal(s) * 10.0 ** (k % 3 - 1) for s in shapes] for k in range(steps)]
    return inits, grads


def feed(lib, opt, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = lib.tensor(g, dtype=p.dtype)
        opt.step()


ADAFACTOR_SHAPES = [(4, 3), (5,), (), (2, 3, 4), (1, 6), (6, 1), (7,)]
ADAFACTOR_CASES = [
    (dict(), [(dict(), [0, 1]), (dict(weight_decay=0.1, lr=0.05), [2, 3]), (dict(maximize=True), [4, 5, 6])]),
    (dict(lr=0.02, beta2_decay=-0.5), [(dict(d=1.5), [0, 3]), (dict(eps=(1e-3, 0.5)), [1, 2]),
                                       (dict(eps=(0.0, 0.0), weight_decay=0.01), [4, 5, 6])]),
]
MUON_SHAPES = [(4, 3), (3, 5), (6, 6), (1, 4), (4, 1), (2, 7)]
MUON_CASES = [
    (dict(), [(dict(), [0, 1]), (dict(nesterov=False, lr=0.02), [2, 3]),
              (dict(adjust_lr_fn="match_rms_adamw", weight_decay=0.0), [4, 5])]),
    (dict(lr=0.01, momentum=0.3), [(dict(ns_steps=2, eps=0.5), [0, 5]),
                                   (dict(ns_coefficients=(2.0, -1.5, 0.5), adjust_lr_fn="original"), [1, 2]),
                                   (dict(momentum=0.0, ns_steps=0), [3, 4])]),
]
SETUPS = {"Adafactor": (ADAFACTOR_SHAPES, ADAFACTOR_CASES), "Muon": (MUON_SHAPES, MUON_CASES)}
RUNS = [(name, i) for name in SETUPS for i in range(len(SETUPS[name][1]))]


def run_both(name, index, dtype, steps=12, seed=0):
    shapes, cases = SETUPS[name]
    defaults, groups = cases[index]
    inits, grads = draw(seed + index, shapes, steps)
    opt, params = make(cgrad, name, shapes, groups, defaults, inits, dtype)
    topt, tparams = make(torch, name, shapes, groups, defaults, inits, dtype)
    feed(cgrad, opt, params, grads)
    feed(torch, topt, tparams, grads)
    return opt, params, topt, tparams


def assert_close_or_same(ours, theirs, dtype, exact, what):
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, what
    if exact:
        assert ours.tobytes() == theirs.tobytes(), what
    else:
        rtol = 2e-6 if dtype == "float32" else 1e-14
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * 1e-3, err_msg=what)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,index", RUNS, ids=[f"{n}-{i}" for n, i in RUNS])
def test_trajectory_and_state_match_torch(name, index, dtype):
    opt, params, topt, tparams = run_both(name, index, dtype)
    for i, (p, tp) in enumerate(zip(params, tparams)):
        exact = name == "Muon"
        assert_close_or_same(arr(p), arr(tp), dtype, exact, f"parameter {i}")
        st, tst = opt.state[p], topt.state[tp]
        assert list(st) == list(tst), i
        for key in st:
            assert_close_or_same(arr(st[key]), arr(tst[key]), dtype, exact or key == "step", f"{key} of {i}")
    assert repr(opt) == repr(topt)
    assert opt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]


def test_adafactor_matrix_trajectories_are_mostly_bit_exact():
    # the tolerance above only covers reductions summed in another order: most values still agree exactly
    opt, params, topt, tparams = run_both("Adafactor", 0, "float32", steps=6)
    same = [arr(p).tobytes() == arr(tp).tobytes() for p, tp in zip(params, tparams)]
    assert sum(same) >= len(same) - 3


def test_hyperparameters_changed_between_steps_are_used():
    for name, key, value in [("Adafactor", "lr", 0.1), ("Adafactor", "weight_decay", 0.2), ("Muon", "lr", 0.05),
                             ("Muon", "momentum", 0.5), ("Muon", "nesterov", False)]:
        ends = []
        for lib in (cgrad, torch):
            p = lib.tensor([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]], requires_grad=True)
            opt = getattr(lib.optim, name)([p])
            for k in range(6):
                if k == 3:
                    opt.param_groups[0][key] = value
                p.grad = lib.tensor([[0.3, -0.1 * k, 1.0 - k], [k * 0.5, -1.0, 2.0]])
                opt.step()
            ends.append(arr(p))
        assert_close_or_same(ends[0], ends[1], "float32", name == "Muon", (name, key))


def test_params_without_grad_get_no_state():
    for name in ("Adafactor", "Muon"):
        results = []
        for lib in (cgrad, torch):
            a = lib.ones(2, 3, dtype=lib.float64, requires_grad=True)
            b = lib.ones(3, 2, dtype=lib.float64, requires_grad=True)
            opt = getattr(lib.optim, name)([a, b])
            a.grad = lib.tensor([[1.0, -2.0, 3.0], [0.5, 0.5, -1.0]], dtype=lib.float64)
            opt.step()
            opt.step()
            results.append((arr(a).tolist(), arr(b).tolist(), sorted(opt.state_dict()["state"]),
                            plain_state(opt.state_dict())))
        assert results[0] == results[1], name


def test_adafactor_foreach_runs_the_per_parameter_update():
    ends = []
    for foreach in (None, True):
        opt, params = make(cgrad, "Adafactor", ADAFACTOR_SHAPES, ADAFACTOR_CASES[0][1], {"foreach": foreach},
                           draw(3, ADAFACTOR_SHAPES, 1)[0], "float32")
        feed(cgrad, opt, params, draw(4, ADAFACTOR_SHAPES, 3)[1])
        assert opt.param_groups[0]["foreach"] is foreach
        ends.append([arr(p).tobytes() for p in params])
    assert ends[0] == ends[1]


def test_step_counter_follows_the_default_dtype():
    for lib in (cgrad, torch):
        lib.set_default_dtype(lib.float64)
        try:
            p = lib.ones(3, dtype=lib.float32, requires_grad=True)
            p.grad = lib.ones(3, dtype=lib.float32)
            opt = lib.optim.Adafactor([p])
            opt.step()
            assert str(opt.state[p]["step"].dtype).endswith("float64")
        finally:
            lib.set_default_dtype(lib.float32)


def test_tensor_lr_is_taken():
    ends = []
    for lib in (cgrad, torch):
        ps = [lib.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=lib.float64, requires_grad=True) for _ in range(2)]
        opts = [lib.optim.Adafactor([ps[0]], lr=lib.tensor(0.05, dtype=lib.float64)),
                lib.optim.Muon([ps[1]], lr=lib.tensor(0.05, dtype=lib.float64))]
        for k in range(3):
            for p, opt in zip(ps, opts):
                p.grad = lib.tensor([[0.3, -0.1 * k], [1.0 - k, 2.0]], dtype=lib.float64)
                opt.step()
        ends.append([arr(p) for p in ps])
    for ours, theirs in zip(*ends):
        np.testing.assert_allclose(ours, theirs, rtol=1e-14)


# ---- bfloat16 -------------------------------------------------------------------------------------


def test_rounding_to_bfloat16_is_torchs_cast():
    rng = np.random.default_rng(0)
    values = np.concatenate([
        rng.standard_normal(2000) * 10.0 ** rng.integers(-40, 39, 2000),
        # ties: the dropped 16 bits exactly half, on even and odd kept significands
        ((np.arange(16, dtype=np.uint32) << np.uint32(16)) | np.uint32(0x3F808000)).view(np.float32).astype(np.float64),
        [0.0, -0.0, np.inf, -np.inf, np.nan, 3.4e38, -3.4e38, 1e-45, 1e-39, 1.0 + 2 ** -8 + 2 ** -30],
    ])
    for dtype in ("float32", "float64"):
        ours = arr(_bfloat16(cgrad.tensor(values, dtype=getattr(cgrad, dtype))))
        theirs = torch.tensor(values, dtype=getattr(torch, dtype)).bfloat16().float().numpy()
        assert ours.dtype == np.float32
        assert np.array_equal(ours, theirs, equal_nan=True), dtype
    t = cgrad.tensor([1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8])  # ties (bfloat16's ulp at 1 is 2^-7), to even
    assert _round_to_bfloat16_(t).tolist() == [1.0, 1.0 + 2 ** -6]


# ---- state dicts ----------------------------------------------------------------------------------


def to_torch(value):
    if isinstance(value, cgrad.Tensor):
        return torch.from_numpy(arr(value))
    if isinstance(value, dict):
        return {k: to_torch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_torch(v) for v in value]
    return value


@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_state_dicts_are_interchangeable_with_torchs(name):
    shapes, cases = SETUPS[name]
    defaults, groups = cases[0]
    inits, grads = draw(50, shapes, 12)
    opt, params = make(cgrad, name, shapes, groups, defaults, inits, "float64")
    topt, tparams = make(torch, name, shapes, groups, defaults, inits, "float64")
    feed(cgrad, opt, params, grads[:6])
    feed(torch, topt, tparams, grads[:6])
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["param_groups"] == tsd["param_groups"]
    assert list(sd["state"]) == list(tsd["state"])
    for k in sd["state"]:
        assert list(sd["state"][k]) == list(tsd["state"][k])
        for key, value in sd["state"][k].items():
            assert_close_or_same(arr(value), tsd["state"][k][key].numpy(), "float64", name == "Muon", key)

    # torch resumed from its own state dict, cgrad resumed from torch's, torch resumed from cgrad's: the same
    middle = [arr(p) for p in tparams]
    resumed = []
    for lib, state_dict in [(torch, tsd), (cgrad, state_to_cgrad(tsd)), (torch, to_torch(sd))]:
        o, ps = make(lib, name, shapes, groups, defaults, middle, "float64")
        o.load_state_dict(copy.deepcopy(state_dict))
        assert plain_state(o.state_dict())["param_groups"] == plain_state(tsd)["param_groups"]
        feed(lib, o, ps, grads[6:])
        resumed.append([arr(p) for p in ps])
    for i in range(len(shapes)):
        assert_close_or_same(resumed[1][i], resumed[0][i], "float64", name == "Muon", i)
        assert_close_or_same(resumed[2][i], resumed[0][i], "float64", name == "Muon", i)


@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_state_dict_round_trip_resumes_exactly(name):
    shapes, cases = SETUPS[name]
    defaults, groups = cases[1]
    inits, grads = draw(7, shapes, 8)
    opt, params = make(cgrad, name, shapes, groups, defaults, inits, "float32")
    feed(cgrad, opt, params, grads[:4])
    saved = copy.deepcopy(opt.state_dict())
    middle = [arr(p) for p in params]
    feed(cgrad, opt, params, grads[4:])
    opt2, params2 = make(cgrad, name, shapes, groups, defaults, middle, "float32")
    opt2.load_state_dict(saved)
    assert plain_state(opt2.state_dict()) == plain_state(saved)
    feed(cgrad, opt2, params2, grads[4:])
    assert all(same_bits(p, q) for p, q in zip(params, params2))
    assert plain_state(opt2.state_dict()) == plain_state(opt.state_dict())


# ---- errors -----------------------------------------------------------------------------------------


BAD_ARGUMENTS = [
    ("Adafactor", dict(lr=-1.0)), ("Adafactor", dict(beta2_decay=0.5)), ("Adafactor", dict(eps=(-1.0, 1e-3))),
    ("Adafactor", dict(eps=(None, -1.0))), ("Adafactor", dict(eps=(1e-3,))), ("Adafactor", dict(eps=1e-3)),
    ("Adafactor", dict(eps=(None, None))), ("Adafactor", dict(d=0.5)), ("Adafactor", dict(d=None)),
    ("Adafactor", dict(weight_decay=-1.0)), ("Adafactor", dict(lr=-1.0, beta2_decay=0.5)),
    ("Adafactor", dict(d=0.5, weight_decay=-1.0)), ("Adafactor", dict(maximize=True, momentum=0.9)),
    ("Muon", dict(lr=-1.0)), ("Muon", dict(weight_decay=-1.0)), ("Muon", dict(momentum=-0.5)),
    ("Muon", dict(adjust_lr_fn="other")), ("Muon", dict(weight_decay=-1.0, momentum=-1.0)),
    ("Muon", dict(momentum=-1.0, adjust_lr_fn="other")), ("Muon", dict(maximize=True)),
]


@pytest.mark.parametrize("name,kw", BAD_ARGUMENTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD_ARGUMENTS)])
def test_constructor_errors_match_torch(name, kw):
    ours = type_and_message(lambda: getattr(cgrad.optim, name)([cgrad.ones(2, 2, requires_grad=True)], **kw))
    theirs = type_and_message(lambda: getattr(torch.optim, name)([torch.ones(2, 2, requires_grad=True)], **kw))
    assert ours == theirs


@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_defaults_lr_tensors_and_common_errors_match_torch(name):
    opt = getattr(cgrad.optim, name)([cgrad.ones(2, 2, requires_grad=True)])
    topt = getattr(torch.optim, name)([torch.ones(2, 2, requires_grad=True)])
    assert opt.defaults == topt.defaults
    assert repr(opt) == repr(topt)
    for lr in ([1.0, 2.0], -1.0):
        ours = type_and_message(lambda: getattr(cgrad.optim, name)([cgrad.ones(2, 2, requires_grad=True)],
                                                                   lr=cgrad.tensor(lr)))
        theirs = type_and_message(lambda: getattr(torch.optim, name)([torch.ones(2, 2, requires_grad=True)],
                                                                     lr=torch.tensor(lr)))
        assert ours == theirs
    for make_params in (lambda lib: [], lambda lib: lib.ones(2, 2, requires_grad=True),
                        lambda lib: [lib.ones(2, 2, requires_grad=True) * 2]):
        ours = type_and_message(lambda: getattr(cgrad.optim, name)(make_params(cgrad)))
        theirs = type_and_message(lambda: getattr(torch.optim, name)(make_params(torch)))
        assert ours[0] is theirs[0] and ours[1].replace("cgrad.", "torch.") == theirs[1]


def test_muon_refuses_parameters_that_are_not_matrices_at_construction():
    for shape in [(3,), (), (2, 3, 4)]:
        for params in (lambda lib: [lib.ones(shape, requires_grad=True)],
                       lambda lib: [{"params": [lib.ones(2, 2, requires_grad=True)]},
                                    {"params": [lib.ones(shape, requires_grad=True)], "lr": 0.1}]):
            ours = type_and_message(lambda: cgrad.optim.Muon(params(cgrad)))
            theirs = type_and_message(lambda: torch.optim.Muon(params(torch)))
            assert ours[0] is theirs[0] is ValueError
            assert ours[1].replace("cgrad.Size", "torch.Size") == theirs[1]


def test_muon_refuses_them_at_step_when_added_later():
    # add_param_group does not check; the step does, after making every buffer of the group and moving
    # the matrices before the offending parameter
    for order in ("matrix first", "vector first"):
        results = []
        for lib in (cgrad, torch):
            w = lib.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
            v = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
            opt = lib.optim.Muon([w])
            opt.param_groups[0]["params"].insert(0 if order == "vector first" else 1, v)
            w.grad, v.grad = lib.tensor([[0.1, 0.2], [-0.3, 0.4]]), lib.ones(3)
            error = type_and_message(opt.step)
            results.append((error, arr(w).tobytes(), plain_state(opt.state_dict())))
        assert results[0] == results[1], order
    added = cgrad.optim.Muon([cgrad.ones(2, 2, requires_grad=True)])
    added.add_param_group({"params": [cgrad.ones(3, requires_grad=True)]})  # as torch: no error until a step


@pytest.mark.parametrize("kw", [dict(ns_steps=100), dict(ns_coefficients=(1.0, 2.0)),
                                dict(ns_coefficients=(1.0, 2.0), ns_steps=100), dict(ns_steps=2.5),
                                dict(ns_coefficients=(1.0, 2.0, 3.0, 4.0), ns_steps=2.5)],
                         ids=["steps", "coefficients", "both", "float-steps", "float-steps-and-coefficients"])
def test_muon_step_errors_match_torch(kw):
    results = []
    for lib in (cgrad, torch):
        w = lib.tensor([[1.0, -2.0, 0.0], [0.5, 3.0, 1.0]], requires_grad=True)
        opt = lib.optim.Muon([w], **kw)
        w.grad = lib.tensor([[0.1, 0.2, 0.3], [-0.3, 0.4, 0.0]])
        error = type_and_message(opt.step)
        results.append((error, arr(w).tobytes(), plain_state(opt.state_dict())))
    assert results[0] == results[1]


def test_empty_and_zero_gradient_edge_cases_match_torch():
    results = []
    for lib in (cgrad, torch):
        out = []
        for shape in [(0,), (0, 3), (2, 0, 3), ()]:
            p = lib.ones(shape, requires_grad=True)
            p.grad = lib.ones(shape)
            opt = lib.optim.Adafactor([p])
            out.append((type_and_message(opt.step) if p.numel() == 0 else opt.step(), plain_state(opt.state_dict())))
        for shape in [(0, 3), (3, 0)]:
            p = lib.ones(shape, requires_grad=True)
            p.grad = lib.ones(shape)
            out.append(type_and_message(lib.optim.Muon([p]).step) if shape[1] == 0 else lib.optim.Muon([p]).step())
        p = lib.ones(2, 3, requires_grad=True)
        p.grad = lib.zeros(2, 3)
        lib.optim.Muon([p], eps=0.0).step()  # 0 / 0: NaN, as torch
        out.append(np.isnan(arr(p)).all())
        results.append(out)
    assert results[0] == results[1]


def test_sparse_adam_is_not_available():
    with pytest.raises(NotImplementedError, match="SparseAdam needs sparse gradients"):
        cgrad.optim.SparseAdam([cgrad.ones(2, requires_grad=True)])


def test_step_hooks_and_closure():
    calls = []
    p = cgrad.ones(2, 2, requires_grad=True)
    opt = cgrad.optim.Muon([p])
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))

    def closure():
        opt.zero_grad()
        loss = (p * cgrad.tensor([[1.0, 2.0], [3.0, 4.0]])).sum()
        loss.backward()
        return loss

    with cgrad.no_grad():
        assert opt.step(closure).item() == 10.0  # the closure runs with grad enabled
    assert calls == ["pre", "post"] and "momentum_buffer" in opt.state[p]


# ---- compiled steps -------------------------------------------------------------------------------


def mlp(dtype):
    cgrad.manual_seed(3)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype)


class Both:
    """Muon for the weight matrices and AdamW for the biases, stepped together, as Muon is meant to be used."""

    def __init__(self, model):
        self.opts = [cgrad.optim.Muon([model[0].weight, model[2].weight], lr=0.02),
                     cgrad.optim.AdamW([model[0].bias, model[2].bias])]

    def zero_grad(self):
        for o in self.opts:
            o.zero_grad()

    def step(self):
        for o in self.opts:
            o.step()


OPTIMIZERS = {"Adafactor": lambda m: cgrad.optim.Adafactor(m.parameters(), lr=0.05, weight_decay=0.01),
              "Muon": Both}


@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_compiled_step_runs_eagerly_with_a_warning_and_the_eager_results(name):
    # the ops of these steps take the hyper-parameters (and Adafactor's step-dependent rates) as constants, which
    # a replay could not refresh: the recording is refused rather than replayed with stale values
    results = []
    for compile_it in (False, True):
        m = mlp(cgrad.float32)
        step = training_step(m, OPTIMIZERS[name](m))
        run = cgrad.compile(step) if compile_it else step
        rng = np.random.default_rng(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            losses = []
            for _ in range(6):
                x = cgrad.tensor(rng.standard_normal((8, 6)), dtype=cgrad.float32)
                losses.append(arr(run(x, cgrad.tensor(rng.integers(0, 3, 8)))).tobytes())
        messages = [str(w.message) for w in caught if "cgrad.compile" in str(w.message)]
        assert len(messages) == compile_it
        if compile_it:
            assert f"{name}.step runs tensor ops with its hyper-parameters as constants" in messages[0]
            assert run._cgrad_step.replays == 0
        results.append((losses, [arr(p).tobytes() for p in m.parameters()]))
    assert results[0] == results[1]


def test_compiled_step_with_fullgraph_raises():
    m = mlp(cgrad.float32)
    run = cgrad.compile(training_step(m, cgrad.optim.Adafactor(m.parameters())), fullgraph=True)
    x, t = cgrad.ones(8, 6), cgrad.zeros(8, dtype=cgrad.int64)
    run(x, t)  # the first call runs eagerly without recording
    with pytest.raises(cgrad.compile.CompileError, match="Adafactor.step runs tensor ops"):
        run(x, t)
