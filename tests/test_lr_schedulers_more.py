"""The learning-rate schedulers beyond StepLR, CosineAnnealingLR and LambdaLR, against PyTorch."""
import importlib
import math
import warnings

import pytest

import cgrad

torch = pytest.importorskip("torch")


def run(lib, make_sched, steps=40, opt="sgd", metrics=None):
    """The lrs (and momenta) after each step of a scheduler over a two-group optimizer."""
    params = [lib.ones(1, requires_grad=True) for _ in range(2)]
    groups = [{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)]
    optimizer = (lib.optim.SGD(groups, lr=0.1, momentum=0.9) if opt == "sgd"
                 else lib.optim.Adam(groups, lr=0.1, betas=(0.9, 0.99)))
    sched = make_sched(lib.optim.lr_scheduler, optimizer)

    def snapshot():
        moms = [g["momentum"] if opt == "sgd" else g["betas"] for g in optimizer.param_groups]
        return sched.get_last_lr(), [g["lr"] for g in optimizer.param_groups], moms
    out = [snapshot()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(steps):
            optimizer.step()
            if metrics is None:
                sched.step()
            else:
                sched.step(metrics[k % len(metrics)])
            out.append(snapshot())
    return out, sched


def S(make, **kw):
    return (make, kw)


CASES = {
    "MultiplicativeLR": S(lambda m, o: m.MultiplicativeLR(o, lambda e: 0.9)),
    "MultiplicativeLR-list": S(lambda m, o: m.MultiplicativeLR(o, [lambda e: 0.9, lambda e: 1.0 - e / 100])),
    "MultiStepLR": S(lambda m, o: m.MultiStepLR(o, [3, 8, 8, 20], gamma=0.5)),
    "ConstantLR": S(lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=6)),
    "LinearLR": S(lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=12)),
    "LinearLR-decay": S(lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=30)),
    "ExponentialLR": S(lambda m, o: m.ExponentialLR(o, gamma=0.93)),
    "PolynomialLR": S(lambda m, o: m.PolynomialLR(o, total_iters=25, power=2.0)),
    "SequentialLR": S(lambda m, o: m.SequentialLR(o, [m.LinearLR(o, 0.1, total_iters=5),
                                                      m.CosineAnnealingLR(o, T_max=20, eta_min=0.001),
                                                      m.ExponentialLR(o, 0.9)], milestones=[5, 25])),
    "ChainedScheduler": S(lambda m, o: m.ChainedScheduler([m.ConstantLR(o, 0.5, total_iters=4),
                                                           m.ExponentialLR(o, 0.95)])),
    "CyclicLR-triangular": S(lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=5)),
    "CyclicLR-triangular2": S(lambda m, o: m.CyclicLR(o, [0.01, 0.02], [0.1, 0.3], step_size_up=4,
                                                      step_size_down=6, mode="triangular2")),
    "CyclicLR-exp_range": S(lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="exp_range", gamma=0.97)),
    "CyclicLR-custom": S(lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, scale_fn=lambda x: 1 / (x + 1),
                                                 scale_mode="iterations")),
    "CyclicLR-adam": S(lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=5, base_momentum=0.7), opt="adam"),
    "CyclicLR-no-momentum": S(lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=5, cycle_momentum=False)),
    "CosineAnnealingWarmRestarts": S(lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=0.001)),
    "CosineAnnealingWarmRestarts-mult": S(lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2)),
    "OneCycleLR": S(lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=40)),
    "OneCycleLR-linear-3phase": S(lambda m, o: m.OneCycleLR(o, max_lr=[0.5, 1.0], epochs=4, steps_per_epoch=10,
                                                            anneal_strategy="linear", three_phase=True)),
    "OneCycleLR-adam": S(lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=40, pct_start=0.25), opt="adam"),
    "ReduceLROnPlateau": S(lambda m, o: m.ReduceLROnPlateau(o, patience=2, factor=0.5),
                           metrics=[1.0, 0.9, 0.95, 0.97, 0.96, 0.9, 0.8, 0.85, 0.86, 0.9, 0.88]),
    "ReduceLROnPlateau-max-abs": S(lambda m, o: m.ReduceLROnPlateau(o, mode="max", threshold_mode="abs",
                                                                    threshold=0.05, patience=1, cooldown=2,
                                                                    min_lr=[0.02, 0.05], factor=0.3),
                                   metrics=[0.1, 0.2, 0.22, 0.21, 0.4, 0.41, 0.3]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_learning_rates_and_momenta_match_torch_exactly(name):
    make, kw = CASES[name]
    ours, sched = run(cgrad, make, **kw)
    theirs, tsched = run(torch, make, **kw)
    assert ours == theirs
    sd, tsd = sched.state_dict(), tsched.state_dict()
    for key in set(sd) & set(tsd):
        if key not in ("lr_lambdas", "_schedulers", "_scale_fn_custom", "_scale_fn_ref"):
            assert sd[key] == tsd[key], key


@pytest.mark.parametrize("name", ["MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR"])
def test_closed_forms_match_torch(name):
    make, _ = CASES[name]
    results = []
    for lib in (cgrad, torch):
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.3)
        sched = make(lib.optim.lr_scheduler, opt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lrs = []
            for epoch in (0, 3, 7, 2, 30, 12):
                sched.step(epoch)
                lrs.append(sched.get_last_lr())
        results.append(lrs)
    assert results[0] == results[1]


def test_warm_restarts_given_epochs_match_torch():
    results = []
    for lib in (cgrad, torch):
        opt = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.3)
        sched = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2, eta_min=0.01)
        lrs = []
        for epoch in (0.5, 1.25, 3.9, 4.0, 11.5, 12, 27.3, 2):
            sched.step(epoch)
            lrs.append((sched.get_last_lr(), sched.T_cur, sched.T_i, sched.last_epoch))
        results.append(lrs)
    assert results[0] == results[1]


def test_state_dicts_resume_a_schedule():
    make, _ = CASES["SequentialLR"]
    full, _ = run(cgrad, make, steps=30)
    first, sched = run(cgrad, make, steps=12)
    params = [cgrad.ones(1, requires_grad=True) for _ in range(2)]
    opt = cgrad.optim.SGD([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)], lr=0.1,
                          momentum=0.9)
    resumed = make(cgrad.optim.lr_scheduler, opt)
    resumed.load_state_dict(sched.state_dict())
    for group, lr in zip(opt.param_groups, sched.get_last_lr()):
        group["lr"] = lr
    for k in range(13, 31):
        opt.step()
        resumed.step()
        assert resumed.get_last_lr() == full[k][0]
    plateau = cgrad.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max")
    plateau.step(3.0)
    again = cgrad.optim.lr_scheduler.ReduceLROnPlateau(opt)
    again.load_state_dict(plateau.state_dict())
    assert again.mode == "max" and again.best == 3.0 and again.mode_worse == -math.inf


def errors(lib):
    m = lib.optim.lr_scheduler
    sgd = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1)
    plain = lib.optim.Adagrad([lib.ones(1, requires_grad=True)], lr=0.1)
    other = lib.optim.SGD([lib.ones(1, requires_grad=True)], lr=0.1)
    return [
        lambda: m.ConstantLR(sgd, factor=1.5), lambda: m.LinearLR(sgd, start_factor=0),
        lambda: m.LinearLR(sgd, end_factor=2),
        lambda: m.MultiplicativeLR(sgd, [lambda e: 1, lambda e: 1]), lambda: m.MultiplicativeLR(sgd, 3),
        lambda: m.SequentialLR(sgd, [], []), lambda: m.SequentialLR(sgd, [m.ExponentialLR(sgd, 0.9)], [3]),
        lambda: m.SequentialLR(sgd, [m.ReduceLROnPlateau(sgd)], []),
        lambda: m.ChainedScheduler([]),
        lambda: m.ReduceLROnPlateau(sgd, factor=1.0), lambda: m.ReduceLROnPlateau(sgd, mode="up"),
        lambda: m.ReduceLROnPlateau(sgd, threshold_mode="x"), lambda: m.ReduceLROnPlateau(sgd, min_lr=[0, 0]),
        lambda: m.CyclicLR(sgd, 0.1, 1.0, mode="sine"), lambda: m.CyclicLR(plain, 0.1, 1.0),
        lambda: m.CyclicLR(sgd, [0.1, 0.2], 1.0),
        lambda: m.CosineAnnealingWarmRestarts(sgd, T_0=0), lambda: m.CosineAnnealingWarmRestarts(sgd, 2, T_mult=0),
        lambda: m.CosineAnnealingWarmRestarts(sgd, 2, eta_min="0"),
        lambda: m.OneCycleLR(sgd, 0.1), lambda: m.OneCycleLR(sgd, 0.1, total_steps=0),
        lambda: m.OneCycleLR(sgd, 0.1, epochs=0, steps_per_epoch=3),
        lambda: m.OneCycleLR(sgd, 0.1, 10, pct_start=2.0),
        lambda: m.OneCycleLR(sgd, 0.1, 10, anneal_strategy="tanh"), lambda: m.OneCycleLR(plain, 0.1, 10),
        lambda: m.ChainedScheduler([m.ExponentialLR(sgd, 0.9), m.ExponentialLR(other, 0.9)]),
    ]


@pytest.mark.parametrize("case", range(len(errors(cgrad))))
def test_errors_match_torch(case):
    with pytest.raises(Exception) as t_err:
        errors(torch)[case]()
    with pytest.raises(type(t_err.value)) as c_err:
        errors(cgrad)[case]()
    t_msg = str(t_err.value)
    if "which is different from" in t_msg:  # names the optimizer object, which differs between the libraries
        assert "expects all schedulers to belong to the same optimizer" in str(c_err.value)
    else:
        assert str(c_err.value) == t_msg


def test_one_cycle_refuses_steps_past_the_end():
    opt = cgrad.optim.SGD([cgrad.ones(1, requires_grad=True)], lr=0.1, momentum=0.9)
    sched = cgrad.optim.lr_scheduler.OneCycleLR(opt, 0.5, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
        sched.step()


# ---- optimizer step hooks -------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda lib, p: lib.optim.SGD(p, lr=0.1, momentum=0.9),
                                  lambda lib, p: lib.optim.Adam(p, lr=0.1), lambda lib, p: lib.optim.AdamW(p)])
def test_step_hooks_run_around_every_step_as_torch(make):
    logs = []
    for lib in (cgrad, torch):
        log = []
        p = lib.ones(2, requires_grad=True)
        opt = make(lib, [p])
        h1 = opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", len(a), sorted(k))))
        opt.register_step_post_hook(lambda o, a, k: log.append(("post", p.tolist() != [1.0, 1.0])))
        hooks_of = importlib.import_module(lib.__name__ + ".optim.optimizer")
        g = hooks_of.register_optimizer_step_pre_hook(lambda o, a, k: log.append(("global",)))
        try:
            p.grad = lib.ones(2)
            opt.step()
            h1.remove()
            opt.step(closure=None)
        finally:
            g.remove()
        opt.step()
        logs.append(log)
    assert logs[0] == logs[1]


def test_a_pre_hook_may_replace_the_arguments_and_must_return_a_pair():
    p = cgrad.ones(1, requires_grad=True)
    p.grad = cgrad.ones(1)
    opt = cgrad.optim.SGD([p], lr=0.5)
    calls = []
    opt.register_step_pre_hook(lambda o, a, k: ((o,), {"closure": lambda: calls.append(1) or 3.0}))
    assert opt.step() == 3.0 and calls == [1]
    bad = cgrad.optim.SGD([p], lr=0.5)
    bad.register_step_pre_hook(lambda o, a, k: 5)
    with pytest.raises(RuntimeError, match="must return None or a tuple of \\(new_args, new_kwargs\\), but got 5"):
        bad.step()
