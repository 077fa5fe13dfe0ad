"""cgrad.compile against eager, on the step shapes random step programs found wrong: every replayed
step must give eager's outputs, parameters, gradients, optimizer state and learning rates bit for bit,
and a step that cannot be replayed must run eagerly after one warning naming the cause.

Each test builds the same model twice from one seed, runs one twin eagerly and one compiled on the
same batches, and compares after every call.
"""
import warnings

import numpy as np
import pytest

import cgrad
from cgrad import nn, optim
from helpers import same_or_none


def stats(compiled):
    return compiled._cgrad_step


def twins(build, batches, expect_warning=None):
    """Runs build()'s step eagerly and compiled over batches; asserts the twins agree at every call.

    build() -> (step, params, optimizers, schedulers). Returns the compiled step."""
    eager, params_e, opts_e, scheds_e = build()
    step, params_c, opts_c, scheds_c = build()
    compiled = cgrad.compile(step)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k, batch in enumerate(batches):
            out_e, out_c = eager(*batch), compiled(*batch)
            assert same_or_none(out_e.detach(), out_c), f"call {k}: outputs differ"
            for i, (p, q) in enumerate(zip(params_e, params_c)):
                assert same_or_none(p, q), f"call {k}: parameter {i} differs"
                assert same_or_none(p.grad, q.grad), f"call {k}: gradient {i} differs"
            for oe, oc in zip(opts_e, opts_c):
                for ge, gc in zip(oe.param_groups, oc.param_groups):
                    assert {k: v for k, v in ge.items() if k != "params"} == \
                        {k: v for k, v in gc.items() if k != "params"}, f"call {k}: hyper-parameters differ"
                for p, q in zip(params_e, params_c):
                    se, sc = oe.state.get(p, {}), oc.state.get(q, {})
                    assert list(se) == list(sc)
                    assert all(same_or_none(se[n], sc[n]) for n in se), f"call {k}: optimizer state differs"
            for se, sc in zip(scheds_e, scheds_c):
                assert se.get_last_lr() == sc.get_last_lr(), f"call {k}: learning rates differ"
    messages = [str(w.message) for w in caught if str(w.message).startswith("cgrad.compile")]
    if expect_warning is None:
        assert messages == []
    else:
        assert len(messages) == 1 and expect_warning in messages[0], messages
    return compiled


def batches(n, shape, seed=0, make=None):
    rng = np.random.default_rng(seed)
    make = make or (lambda a: cgrad.tensor(a))
    return [(make(rng.standard_normal(shape)), cgrad.tensor(rng.integers(0, 3, shape[0]))) for _ in range(n)]


def mlp(dtype=cgrad.float64, width=4):
    cgrad.manual_seed(0)
    return nn.Sequential(nn.Linear(width, 5, dtype=dtype), nn.Tanh(), nn.Linear(5, 3, dtype=dtype))


# ---- inputs laid out other than densely ----------------------------------------------------------

def reducing_step():
    """A step whose forward reduces over its input, so that the order its elements are added in shows."""
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        h = x - x.mean(1, keepdim=True) + x.sum() / 7
        loss = nn.functional.cross_entropy(model(h), y)
        loss.backward()
        opt.step()
        return loss

    return step, list(model.parameters()), [opt], []


LAYOUTS = {
    # a row broadcast down the batch by a zero stride: its elements share memory
    "broadcast": lambda a: cgrad.tensor(a[:1]).expand(a.shape[0], a.shape[1]),
    "sliced": lambda a: cgrad.tensor(np.concatenate([a, a * 2], 1))[:, :a.shape[1]],
    "transposed": lambda a: cgrad.tensor(np.ascontiguousarray(a.T)).T,
    "every-other-row": lambda a: cgrad.tensor(np.repeat(a, 2, 0))[::2],
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_an_input_laid_out_with_strides_is_recorded_in_its_own_layout(layout):
    compiled = twins(reducing_step, batches(8, (6, 4), make=LAYOUTS[layout]))
    assert stats(compiled).replays == 5


def test_a_broadcast_input_written_by_the_caller_between_calls():
    """The same broadcast tensor object, its one row changed in place between calls."""
    row = cgrad.zeros(1, 4, dtype=cgrad.float64)
    x = row.expand(6, 4)
    rng = np.random.default_rng(3)
    data = []
    for _ in range(8):
        data.append((rng.standard_normal((1, 4)), cgrad.tensor(rng.integers(0, 3, 6))))
    eager, params_e, _, _ = reducing_step()
    step, params_c, _, _ = reducing_step()
    compiled = cgrad.compile(step)
    for k, (r, y) in enumerate(data):
        row.copy_(cgrad.tensor(r))
        assert same_or_none(eager(x, y).detach(), compiled(x, y)), f"call {k}"
        assert all(same_or_none(p, q) for p, q in zip(params_e, params_c)), f"call {k}"
    assert stats(compiled).replays == 5


# ---- learning-rate schedulers stepped inside the step ------------------------------------------------

SCHEDULERS = {
    "StepLR": lambda opt: optim.lr_scheduler.StepLR(opt, 3, 0.5),
    "ExponentialLR": lambda opt: optim.lr_scheduler.ExponentialLR(opt, 0.8),
    "CosineAnnealingWarmRestarts": lambda opt: optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, 4),
    # sets Adam's betas too, which replays must read as they read the lr
    "OneCycleLR": lambda opt: optim.lr_scheduler.OneCycleLR(opt, 0.05, total_steps=20),
    "LambdaLR": lambda opt: optim.lr_scheduler.LambdaLR(opt, lambda e: 1 / (1 + e)),
    # schedulers stepping schedulers: only the outer step is run again after a replay
    "SequentialLR": lambda opt: optim.lr_scheduler.SequentialLR(
        opt, [optim.lr_scheduler.LinearLR(opt, 0.5, total_iters=3), optim.lr_scheduler.ExponentialLR(opt, 0.9)],
        milestones=[4]),
    "ChainedScheduler": lambda opt: optim.lr_scheduler.ChainedScheduler(
        [optim.lr_scheduler.StepLR(opt, 2, 0.7), optim.lr_scheduler.ExponentialLR(opt, 0.95)]),
}


def scheduled_step(make_sched, make_opt=lambda ps: optim.Adam(ps, lr=0.01), sched_first=False):
    def build():
        model = mlp()
        opt = make_opt(model.parameters())
        sched = make_sched(opt)

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            if sched_first:
                sched.step()
            opt.step()
            if not sched_first:
                sched.step()
            return loss

        return step, list(model.parameters()), [opt], [sched]

    return build


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_a_scheduler_stepped_inside_the_step_steps_after_every_replay(name):
    compiled = twins(scheduled_step(SCHEDULERS[name]), batches(12, (5, 4)))
    assert stats(compiled).replays == 9


def test_a_scheduler_stepped_inside_the_step_with_sgd_momentum_and_two_signatures():
    make_opt = lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)  # noqa: E731
    data = [b for pair in zip(batches(6, (5, 4), 1), batches(6, (3, 4), 2)) for b in pair]
    compiled = twins(scheduled_step(SCHEDULERS["StepLR"], make_opt), data)
    assert stats(compiled).replays == 6


def test_a_scheduler_stepped_before_the_optimizer_runs_eagerly_with_a_warning():
    twins(scheduled_step(SCHEDULERS["StepLR"], sched_first=True), batches(8, (5, 4)),
          expect_warning="steps an lr_scheduler before an optimizer's step")


def test_a_scheduler_stepped_before_the_optimizer_raises_with_fullgraph():
    step, _, _, _ = scheduled_step(SCHEDULERS["StepLR"], sched_first=True)()
    compiled = cgrad.compile(step, fullgraph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(cgrad.compile.CompileError, match="steps an lr_scheduler before"):
            for x, y in batches(4, (5, 4)):
                compiled(x, y)


def test_a_scheduler_step_warns_from_its_caller():
    opt = optim.SGD([cgrad.zeros(2, requires_grad=True)], lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="Detected call of") as caught:
        sched.step()
    assert caught[0].filename == __file__


# ---- optimizer hyper-parameters set by the step itself ------------------------------------------------

def warmup_step(where):
    """A step that sets the learning rate from a Python counter (a warm-up) before or after the optimizer's step."""
    def build():
        model = mlp()
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
        calls = [0]

        def set_lr():
            calls[0] += 1
            for group in opt.param_groups:
                group["lr"] = 0.1 * min(1.0, calls[0] / 10)

        def step(x, y):
            if where == "before":
                set_lr()
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            if where == "after":
                set_lr()
            return loss

        return step, list(model.parameters()), [opt], []

    return build


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_step_setting_the_learning_rate_itself_runs_eagerly_with_a_warning(where):
    twins(warmup_step(where), batches(10, (5, 4)), expect_warning="sets the hyper-parameters of SGD")


def test_the_learning_rate_set_between_calls_reaches_the_replays():
    build = scheduled_step(lambda opt: optim.lr_scheduler.StepLR(opt, 1000))  # a scheduler that never changes it
    eager, params_e, opts_e, _ = build()
    step, params_c, opts_c, _ = build()
    compiled = cgrad.compile(step)
    for k, (x, y) in enumerate(batches(8, (5, 4))):
        for opt in opts_e + opts_c:
            opt.param_groups[0]["lr"] = 0.01 * (1 + k % 3)
        assert same_or_none(eager(x, y).detach(), compiled(x, y)), f"call {k}"
        assert all(same_or_none(p, q) for p, q in zip(params_e, params_c)), f"call {k}"
    assert stats(compiled).replays == 5


# ---- optimizer step hooks -------------------------------------------------------------------------------

@pytest.mark.parametrize("when", ["pre", "post"])
def test_optimizer_step_hooks_run_once_per_replayed_step(when):
    """An exponential moving average of the weights kept by a step hook, with gradients accumulated over
    calls (no zero_grad): a hook run again while a replay refreshes the optimizer would count twice."""
    def build():
        model = mlp()
        opt = optim.SGD(model.parameters(), lr=0.05)
        params = list(model.parameters())
        ema = [p.detach().clone() for p in params]
        runs = []

        def hook(optimizer, args, kwargs):
            runs.append(1)
            with cgrad.no_grad():
                for a, p in zip(ema, params):
                    a.mul_(0.9).add_(p * 0.1)
                    p.grad.mul_(0.5)

        getattr(opt, f"register_step_{when}_hook")(hook)

        def step(x, y):
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        return step, params + ema, [opt], []

    compiled = twins(build, batches(8, (5, 4)))
    assert stats(compiled).replays == 5


# ---- random generators seeded in the step --------------------------------------------------------------

def seeded_step(how):
    def build():
        model = mlp()
        opt = optim.Adam(model.parameters(), lr=0.01)
        gen = cgrad.Generator()
        state = cgrad.get_rng_state()

        def step(x, y):
            if how == "manual_seed":
                cgrad.manual_seed(5)
            elif how == "generator":
                gen.manual_seed(7)
            elif how == "set_rng_state":
                cgrad.set_rng_state(state)
            opt.zero_grad()
            if how == "generator":  # the twins' draws must not interleave on one generator
                h = x * (cgrad.rand(x.shape, dtype=x.dtype, generator=gen) > 0.3)
            else:
                h = nn.functional.dropout(x + cgrad.randn(x.shape, dtype=x.dtype) * 0.1, 0.3)
            loss = nn.functional.cross_entropy(model(h), y)
            loss.backward()
            opt.step()
            return loss

        return step, list(model.parameters()), [opt], []

    return build


@pytest.mark.parametrize("how", ["manual_seed", "generator", "set_rng_state"])
def test_a_generator_seeded_in_the_step_is_seeded_again_by_every_replay(how):
    cgrad.manual_seed(0)
    compiled = twins(seeded_step(how), batches(8, (5, 4)))
    assert stats(compiled).replays == 5


def test_reading_a_generator_state_in_the_step_runs_eagerly_with_a_warning():
    def build():
        model = mlp()

        def step(x, y):
            with cgrad.random.fork_rng():
                h = x + cgrad.randn(x.shape, dtype=x.dtype)
            loss = nn.functional.cross_entropy(model(h), y)
            loss.backward()
            return loss

        return step, list(model.parameters()), [], []

    twins(build, batches(6, (5, 4)), expect_warning="reads a random generator's state")


# ---- arguments sharing memory with what the step updates ------------------------------------------------

def test_an_argument_sharing_memory_with_a_parameter_runs_eagerly_with_a_warning():
    def build():
        model = mlp()
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(w, x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return (w * 1).sum() + loss.detach()  # w is the first weight: eagerly, already updated

        return step, list(model.parameters()), [opt], []

    eager, params_e, _, _ = build()
    step, params_c, _, _ = build()
    compiled = cgrad.compile(step)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k, (x, y) in enumerate(batches(6, (5, 4))):
            out_e = eager(params_e[0].detach(), x, y)
            out_c = compiled(params_c[0].data, x, y)
            assert same_or_none(out_e.detach(), out_c.detach()), f"call {k}"
    messages = [str(w.message) for w in caught if str(w.message).startswith("cgrad.compile")]
    assert len(messages) == 1 and "shares memory with a tensor the step also reaches" in messages[0]


def test_an_argument_sharing_memory_with_a_buffer_the_step_writes_is_not_replayed():
    """Memory no optimizer owns, written through another name than the argument's: the recording, which
    reads the argument from a copy, is dropped (the recorded call itself read the copy)."""
    def build():
        buf = cgrad.zeros(6, 4, dtype=cgrad.float64)

        def step(x, y):
            buf.add_(1.0)
            return x.sum() + y.sum()

        return step, [buf], [], []

    eager, (buf_e,), _, _ = build()
    step, (buf_c,), _, _ = build()
    compiled = cgrad.compile(step)
    y = cgrad.ones(2, dtype=cgrad.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outs = [(eager(buf_e[1:3], y), compiled(buf_c[1:3], y)) for _ in range(6)]
    messages = [str(w.message) for w in caught if str(w.message).startswith("cgrad.compile")]
    assert len(messages) == 1 and "shares memory with a tensor the step also reaches" in messages[0]
    assert all(same_or_none(a, b) for k, (a, b) in enumerate(outs) if k != 1)  # 1: the call recorded
    assert same_or_none(buf_e, buf_c) and stats(compiled).replays == 0


# ---- fallbacks a common step did not need ---------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_label_smoothing_replays(weighted):
    """Its normalizer counts the targets that are not ignored: from tensors, not from values read in Python."""
    def build():
        model = mlp(cgrad.float32)
        opt = optim.AdamW(model.parameters(), lr=0.01)
        weight = cgrad.tensor([0.5, 1.0, 2.0]) if weighted else None

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y, weight=weight, label_smoothing=0.1, ignore_index=1)
            loss.backward()
            opt.step()
            return loss

        return step, list(model.parameters()), [opt], []

    data = batches(8, (6, 4), make=lambda a: cgrad.tensor(a, dtype=cgrad.float32))
    compiled = twins(build, data)
    assert stats(compiled).replays == 5
