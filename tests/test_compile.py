"""cgrad.compile: replayed steps give exactly the eager results; guards and fallbacks.

Every bit-exactness test trains a twin: the same model from the same initial
weights, one step function run eagerly and one compiled, fed the same batches,
and compares losses, gradients and parameters bit for bit at every step.
"""
import functools
import inspect
import random
import threading
import warnings
import weakref

import numpy as np
import pytest

import cgrad
from cgrad import nn
from helpers import assert_twins, run_twins, same_or_none, training_step

CompileError = cgrad.compile.CompileError


def stats(compiled):
    return compiled._cgrad_step


# ---- bit-exact training ----------------------------------------------------------------------

def linreg_params():
    w = cgrad.tensor([[0.3]], requires_grad=True)
    b = cgrad.tensor([0.1], requires_grad=True)
    return [w, b]


def linreg_step(params, lr=0.01):
    w, b = params

    def step(X, y):
        y_pred = X @ w + b
        loss = ((y_pred - y) ** 2).mean()
        loss.backward()
        with cgrad.no_grad():
            w.sub_(lr * w.grad)
            b.sub_(lr * b.grad)
            w.grad.zero_()
            b.grad.zero_()
        return loss

    return step


def test_seed_linear_regression_is_bit_identical_over_100_steps():
    X = cgrad.tensor([[1.0], [2.0], [3.0]])
    y = cgrad.tensor([[2.0], [4.0], [6.0]])
    compiled = run_twins(linreg_step, linreg_params(), linreg_params(), [(X, y)] * 100)
    assert stats(compiled).replays == 97  # one warm-up call and two recordings


def test_linear_regression_with_in_place_operators_on_captured_parameters():
    class Model:
        def __init__(self):
            self.w, self.b = linreg_params()

        def step(self, X, y):
            loss = ((X @ self.w + self.b - y) ** 2).mean()
            loss.backward()
            with cgrad.no_grad():
                self.w -= 0.01 * self.w.grad
                self.b -= 0.01 * self.b.grad
                self.w.grad.zero_()
                self.b.grad.zero_()
            return loss

    m1, m2 = Model(), Model()
    compiled = cgrad.compile(m2.step)
    rng = np.random.default_rng(0)
    for _ in range(30):
        X = cgrad.tensor(rng.standard_normal((3, 1)).astype(np.float32))
        y = cgrad.tensor(rng.standard_normal((3, 1)).astype(np.float32))
        assert same_or_none(m1.step(X, y), compiled(X, y))
        assert_twins([m1.w, m1.b], [m2.w, m2.b])
    assert stats(compiled).replays == 27


def mlp_model(seed, dtype=cgrad.float32):
    cgrad.manual_seed(seed)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 5))
    return model.to(dtype)


def classification_batches(n, batch=24, features=10, classes=5, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [(cgrad.tensor(rng.standard_normal((batch, features)).astype(dtype)),
             cgrad.tensor(rng.integers(0, classes, batch))) for _ in range(n)]


@pytest.mark.parametrize("make_opt", [
    lambda p: cgrad.optim.SGD(p, lr=0.05, momentum=0.9),
    lambda p: cgrad.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: cgrad.optim.Adam(p, lr=1e-2),
    lambda p: cgrad.optim.AdamW(p, lr=1e-2, amsgrad=True),
    lambda p: cgrad.optim.RMSprop(p, lr=1e-3, momentum=0.5, centered=True),
    lambda p: cgrad.optim.Adagrad(p, lr=1e-2),
], ids=["sgd-momentum", "sgd-nesterov", "adam", "adamw-amsgrad", "rmsprop", "adagrad"])
def test_mlp_training_is_bit_identical_over_100_steps(make_opt):
    m1, m2 = mlp_model(3), mlp_model(3)
    o1, o2 = make_opt(m1.parameters()), make_opt(m2.parameters())
    eager = training_step(m1, o1)
    compiled = cgrad.compile(training_step(m2, o2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k, (x, t) in enumerate(classification_batches(100)):
            assert same_or_none(eager(x, t).detach(), compiled(x, t)), f"step {k}: loss differs"
            assert_twins(list(m1.parameters()), list(m2.parameters()), f"step {k}")
    assert stats(compiled).replays == 97
    for s1, s2 in zip(o1.state.values(), o2.state.values()):
        for key in s1:
            assert same_or_none(s1[key], s2[key]), key


def test_mlp_in_float64_with_zero_grad_outside_the_step():
    m1, m2 = mlp_model(5, cgrad.float64), mlp_model(5, cgrad.float64)
    o1 = cgrad.optim.SGD(m1.parameters(), lr=0.1, momentum=0.9)
    o2 = cgrad.optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def make(model, opt):
        def step(x, t):
            loss = loss_fn(model(x), t)
            loss.backward()
            opt.step()
            return loss
        return step

    eager, compiled = make(m1, o1), cgrad.compile(make(m2, o2))
    for x, t in classification_batches(40, dtype=np.float64):
        o1.zero_grad()
        o2.zero_grad()
        assert same_or_none(eager(x, t).detach(), compiled(x, t))
        assert_twins(list(m1.parameters()), list(m2.parameters()))
    assert stats(compiled).replays == 37


def rnn_params(hidden=64, inputs=32, dtype=np.float32):
    rng = np.random.default_rng(7)
    shapes = [(inputs, hidden), (hidden, hidden), (hidden,), (hidden, 1), (1,)]
    return [cgrad.tensor((rng.standard_normal(s) * 0.2).astype(dtype), requires_grad=True) for s in shapes]


def rnn_step(params, steps=24, lr=0.05):
    Wx, Wh, b, Wo, bo = params
    opt = cgrad.optim.SGD(params, lr=lr, momentum=0.5)

    def step(xs, target):
        opt.zero_grad()
        h = cgrad.zeros(xs.shape[1], Wh.shape[0])
        for t in range(steps):
            h = (xs[t] @ Wx + h @ Wh + b).tanh()
        loss = ((h @ Wo + bo - target) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return step


def test_tanh_rnn_unrolled_24_steps_is_bit_identical():
    rng = np.random.default_rng(1)
    batches = [(cgrad.tensor(rng.standard_normal((24, 16, 32)).astype(np.float32)),
                cgrad.tensor(rng.standard_normal((16, 1)).astype(np.float32))) for _ in range(100)]
    compiled = run_twins(rnn_step, rnn_params(), rnn_params(), batches)
    assert stats(compiled).replays == 97


def test_moons_style_step_with_manual_sgd_on_data_and_accuracy_output():
    rng = np.random.default_rng(2)
    X = cgrad.tensor(rng.standard_normal((100, 2)))
    y = cgrad.tensor(np.where(rng.random((100, 1)) > 0.5, 1.0, -1.0))

    def params():
        r = np.random.default_rng(3)
        return [cgrad.tensor(r.uniform(-1, 1, s), requires_grad=True)
                for s in [(2, 16), (16,), (16, 16), (16,), (16, 1), (1,)]]

    def make(P):
        W1, b1, W2, b2, W3, b3 = P

        def step(X, y, lr):
            scores = (((X @ W1 + b1).relu() @ W2 + b2).relu()) @ W3 + b3
            loss = (1 - y * scores).relu().mean() + 1e-4 * sum((p * p).sum() for p in P)
            for p in P:
                p.grad = None
            loss.backward()
            for p in P:
                p.data -= lr * p.grad
            acc = ((y > 0) == (scores > 0)).float().mean()
            return loss, acc

        return step

    batches = [(X, y, cgrad.tensor(1.0 - 0.9 * k / 100, dtype=cgrad.float64)) for k in range(100)]
    compiled = run_twins(make, params(), params(), batches)
    assert stats(compiled).replays == 97


def tanh_chain_step(keep=None, length=30):
    """A step whose intermediates (16 KB each) live a few operations, except
    those the step keeps in `keep`."""
    def make(params):
        (w,) = params

        def step(x):
            h = w * x
            for i in range(length):
                h = (h * 0.5 + x).tanh()
                if keep is not None and i == 3:
                    keep["view"] = h.detach()  # another tensor on the intermediate's memory
                if keep is not None and i == 5:
                    keep["tensor"] = h
            loss = (h * h).sum()
            loss.backward()
            with cgrad.no_grad():
                w.sub_(0.01 * w.grad)
                w.grad.zero_()
            return loss

        return step

    return make


def chain_batches(n=12):
    rng = np.random.default_rng(4)
    return [(cgrad.tensor(rng.standard_normal(4096).astype(np.float32)),) for _ in range(n)]


def chain_params():
    return [cgrad.tensor(np.linspace(-1, 1, 4096, dtype=np.float32), requires_grad=True)]


def test_intermediates_take_turns_with_memory_between_replays():
    compiled = run_twins(tanh_chain_step(), chain_params(), chain_params(), chain_batches())
    (entry,) = stats(compiled).cache.values()
    alone, shared = entry.replayer.tape.memory
    block = 4096 * 4
    assert alone >= 30 * 3 * block  # each op's result, its gradient, ...
    assert shared <= (30 + 4) * block  # ... but at most the 30 tanh results backward reads, and a few more


def test_intermediates_the_step_keeps_keep_their_own_memory():
    kept_e, kept_c = {}, {}
    eager = tanh_chain_step(kept_e)(chain_params())
    compiled = cgrad.compile(tanh_chain_step(kept_c)(chain_params()))
    for k, (x,) in enumerate(chain_batches()):
        assert same_or_none(eager(x), compiled(x)), f"step {k}"
        # the replay writes the kept tensors' memory again, and nothing else does
        assert same_or_none(kept_e["view"], kept_c["view"]), f"step {k}"
        assert same_or_none(kept_e["tensor"].detach(), kept_c["tensor"].detach()), f"step {k}"
    assert stats(compiled).replays == 9


# ---- semantics of calls ---------------------------------------------------------------------------

def test_outputs_are_fresh_tensors_that_keep_their_step_values():
    compiled = cgrad.compile(linreg_step(linreg_params()))
    X, y = cgrad.tensor([[1.0], [2.0]]), cgrad.tensor([[1.0], [3.0]])
    losses = [compiled(X, y) for _ in range(8)]
    values = [l.item() for l in losses]
    assert len(set(values)) == len(values)  # each call kept its own value
    assert all(l.grad_fn is None and not l.requires_grad for l in losses)
    assert stats(compiled).replays == 5


def test_decorator_forms_and_wrapped_signature():
    @cgrad.compile
    def a(x, scale=2.0):
        """doc of a"""
        return x * scale

    @cgrad.compile(fullgraph=True, cache_size=3)
    def b(x):
        return x + 1

    def c(x, *, k=1):
        return x - k

    cc = cgrad.compile(c)
    assert a.__name__ == "a" and a.__doc__ == "doc of a"
    assert str(inspect.signature(a)) == "(x, scale=2.0)"
    assert str(inspect.signature(cc)) == "(x, *, k=1)"
    x = cgrad.tensor([1.0, 2.0])
    for _ in range(5):
        assert a(x).tolist() == [2.0, 4.0]
        assert a(x, 3.0).tolist() == [3.0, 6.0]
        assert b(x).tolist() == [2.0, 3.0]
        assert cc(x, k=2).tolist() == [-1.0, 0.0]
    assert stats(a).replays == 4 and stats(b).replays == 2 and stats(cc).replays == 2
    with pytest.raises(TypeError):
        cgrad.compile(3)
    with pytest.raises(ValueError):
        cgrad.compile(c, cache_size=0)


def test_the_compiled_step_carries_the_function_as_a_function_would():
    def step(x):
        return x * 2

    step.tag = "kept"
    compiled = cgrad.compile(step)
    assert compiled.__wrapped__ is step and compiled.tag == "kept"
    assert compiled.__qualname__ == step.__qualname__ and compiled.__module__ == __name__
    assert step.__qualname__ in repr(compiled)
    ref = weakref.ref(compiled)
    assert ref() is compiled
    x = cgrad.tensor([1.0, 2.0])
    for _ in range(4):
        assert compiled(x).tolist() == [2.0, 4.0]
    assert stats(compiled).replays == 1  # a warm-up call and two recordings first


def test_methods_can_be_compiled_per_instance():
    class Trainer:
        def __init__(self):
            self.w = cgrad.tensor([1.0, 2.0], requires_grad=True)

        @cgrad.compile
        def step(self, x):
            loss = (self.w * x).sum()
            loss.backward()
            with cgrad.no_grad():
                self.w -= 0.5 * self.w.grad
                self.w.grad.zero_()
            return loss

    t1, t2 = Trainer(), Trainer()
    x = cgrad.tensor([1.0, 1.0])
    for _ in range(5):
        t1.step(x)
    t2.step(x)
    assert t1.w.tolist() == [-1.5, -0.5] and t2.w.tolist() == [0.5, 1.5]


def test_tensor_arguments_are_copied_in_and_writes_into_them_copied_back():
    @cgrad.compile
    def step(acc, x):
        acc += x * 2
        return acc.sum()

    acc = cgrad.zeros(3)
    for k in range(6):
        x = cgrad.tensor([1.0, float(k), 0.5])
        total = step(acc, x)
        assert total.item() == pytest.approx(acc.sum().item())
    assert acc.tolist() == [12.0, 30.0, 6.0]
    assert stats(step).replays == 3


def test_random_numbers_are_drawn_again_on_every_replay():
    def make(w):
        def step(x):
            noise = cgrad.randn(4)
            loss = ((x + noise) * w).sum() + nn.functional.dropout(w, p=0.5).sum()
            loss.backward()
            with cgrad.no_grad():
                w.sub_(0.1 * w.grad)
                w.grad.zero_()
            return loss, noise
        return step

    w1 = cgrad.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    w2 = cgrad.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    eager, compiled = make(w1), cgrad.compile(make(w2))
    x = cgrad.tensor([0.5, 0.5, 0.5, 0.5])
    noises = []
    for _ in range(8):
        cgrad.manual_seed(11)
        gen = cgrad.randn(1)  # the same draws for both twins, different ones every step
        le, ne = eager(x)
        cgrad.manual_seed(11)
        gen = cgrad.randn(1)
        lc, nc = compiled(x)
        del gen
        assert same_or_none(le.detach(), lc) and same_or_none(ne, nc)
        assert same_or_none(w1, w2)
        noises.append(nc.tolist())
    assert stats(compiled).replays == 5


def test_a_generator_passed_to_the_step_is_kept_alive_and_advanced():
    def make():
        g = cgrad.Generator().manual_seed(5)

        def step(x):
            return x + cgrad.rand(3, generator=g)

        return step

    eager, compiled = make(), cgrad.compile(make())
    x = cgrad.zeros(3)
    for _ in range(6):
        assert same_or_none(eager(x), compiled(x))
    assert stats(compiled).replays == 3


def test_learning_rate_scheduler_changes_reach_the_replay():
    m1, m2 = mlp_model(9), mlp_model(9)
    o1 = cgrad.optim.SGD(m1.parameters(), lr=0.1, momentum=0.9)
    o2 = cgrad.optim.SGD(m2.parameters(), lr=0.1, momentum=0.9)
    s1 = cgrad.optim.lr_scheduler.StepLR(o1, step_size=3, gamma=0.5)
    s2 = cgrad.optim.lr_scheduler.StepLR(o2, step_size=3, gamma=0.5)
    eager, compiled = training_step(m1, o1), cgrad.compile(training_step(m2, o2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x, t in classification_batches(20):
            assert same_or_none(eager(x, t).detach(), compiled(x, t))
            s1.step()
            s2.step()
            assert_twins(list(m1.parameters()), list(m2.parameters()))
    assert o2.param_groups[0]["lr"] < 0.1 / 50
    assert stats(compiled).replays == 17


def test_a_new_signature_records_a_new_entry():
    m1, m2 = mlp_model(4), mlp_model(4)
    o1 = cgrad.optim.Adam(m1.parameters(), lr=1e-2)
    o2 = cgrad.optim.Adam(m2.parameters(), lr=1e-2)
    eager, compiled = training_step(m1, o1), cgrad.compile(training_step(m2, o2))
    big, small = classification_batches(12, batch=24), classification_batches(12, batch=7, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for (xb, tb), (xs, ts) in zip(big, small):
            for x, t in ((xb, tb), (xs, ts)):
                assert same_or_none(eager(x, t).detach(), compiled(x, t))
                assert_twins(list(m1.parameters()), list(m2.parameters()))
    assert len(stats(compiled).cache) == 2
    assert stats(compiled).replays == 2 * 9


def test_grad_mode_dtype_and_requires_grad_are_part_of_the_signature():
    @cgrad.compile
    def f(x):
        return (x * 3).sum()

    x32, x64 = cgrad.tensor([1.0, 2.0]), cgrad.tensor([1.0, 2.0], dtype=cgrad.float64)
    for _ in range(4):
        assert f(x32).dtype == cgrad.float32 and f(x64).dtype == cgrad.float64
        with cgrad.no_grad():
            assert f(x32).item() == 9.0
        assert f(x32.view(2)).item() == 9.0
    assert len(stats(f).cache) == 3  # float32 with grad, float64, float32 without grad


def test_the_cache_is_bounded():
    calls = []

    def f(x):
        calls.append(x.shape[0])
        return x * 2

    compiled = cgrad.compile(f, cache_size=2)
    with pytest.warns(UserWarning, match="cache_size=2") as record:
        for _ in range(4):
            for n in (1, 2, 3):
                assert compiled(cgrad.ones(n)).tolist() == [2.0] * n
    assert len(record) == 1
    assert len(stats(compiled).cache) == 2
    assert calls.count(3) == 4  # the third signature ran eagerly every time
    assert stats(compiled).replays == 2


def test_replacing_a_parameter_tensor_records_again():
    w1, w2 = linreg_params(), linreg_params()
    eager, compiled = linreg_step(w1), cgrad.compile(linreg_step(w2))
    X, y = cgrad.tensor([[1.0], [2.0]]), cgrad.tensor([[1.0], [3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k in range(12):
            if k == 6:
                for p in (w1[0], w2[0]):
                    p.data = cgrad.tensor([[0.7]])
            assert same_or_none(eager(X, y).detach(), compiled(X, y))
            assert_twins(w1, w2)
    assert stats(compiled).replays == 12 - 3 - 3  # the replacement costs a warm-up and two recordings


def test_grads_replaced_between_calls_record_again():
    w1, w2 = linreg_params(), linreg_params()
    eager, compiled = linreg_step(w1), cgrad.compile(linreg_step(w2))
    X, y = cgrad.tensor([[1.0], [2.0]]), cgrad.tensor([[1.0], [3.0]])
    for k in range(10):
        if k in (5, 7):
            for p in w1 + w2:
                p.grad = None
        assert same_or_none(eager(X, y).detach(), compiled(X, y))
        assert_twins(w1, w2)


def test_a_step_called_inside_another_recording_runs_eagerly_inside_it():
    w1, w2 = linreg_params(), linreg_params()
    inner_e, inner_c = linreg_step(w1), cgrad.compile(linreg_step(w2))
    outer = cgrad.compile(lambda X, y: inner_c(X, y) * 2)
    X, y = cgrad.tensor([[1.0], [2.0]]), cgrad.tensor([[1.0], [3.0]])
    for _ in range(6):
        assert same_or_none(inner_e(X, y).detach() * 2, outer(X, y))
        assert_twins(w1, w2)
    assert stats(outer).replays == 3


@pytest.mark.parametrize("n", [1, 70_000])  # a short replay keeps the GIL, a long one lets it go
def test_replays_from_several_threads_agree_with_a_lock(n):
    w = cgrad.ones(n, requires_grad=True)

    @cgrad.compile
    def step(x):
        loss = (w * x).sum()
        loss.backward()
        with cgrad.no_grad():
            w.sub_(0.001 * w.grad)
            w.grad.zero_()
        return loss

    x = cgrad.ones(n)
    for _ in range(3):
        step(x)
    (entry,) = stats(step).cache.values()
    assert entry.replayer.keeps_gil == (n == 1)
    threads = [threading.Thread(target=lambda: [step(x) for _ in range(50)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.allclose(w.detach().numpy(), 1.0 - 0.001 * 203, atol=1e-5, rtol=0)


# ---- fallbacks ----------------------------------------------------------------------------------

def fallback_case(body, cause, steps=6):
    """Compiles a step that runs `body(w, x, k)`; checks one warning naming `cause`,
    and that every call still gives the eager result."""
    def make(w):
        calls = [0]

        def step(x):
            calls[0] += 1
            out = body(w, x, calls[0])
            out.backward()
            with cgrad.no_grad():
                w.sub_(0.1 * w.grad)
                w.grad.zero_()
            return out
        return step

    w1 = cgrad.tensor([1.0, -2.0, 3.0], requires_grad=True)
    w2 = cgrad.tensor([1.0, -2.0, 3.0], requires_grad=True)
    eager, compiled = make(w1), cgrad.compile(make(w2))
    x = cgrad.tensor([0.5, 1.5, -1.0])
    with pytest.warns(UserWarning, match=cause) as record:
        for _ in range(steps):
            assert same_or_none(eager(x).detach(), compiled(x).detach())
            assert same_or_none(w1, w2)
    assert len([r for r in record if "cgrad.compile" in str(r.message)]) == 1
    assert stats(compiled).cause is not None and stats(compiled).replays == 0
    return compiled


def loss_of(w, x):
    return (w * x).sum()


@pytest.mark.parametrize("body, cause", [
    (lambda w, x, k: loss_of(w, x) * (1.0 if loss_of(w, x).item() > 0 else 2.0), r"item\(\)"),
    (lambda w, x, k: loss_of(w, x) * len((w * x).tolist()), r"tolist\(\)"),
    (lambda w, x, k: loss_of(w, x) * float((w * x).detach().numpy()[0]), r"numpy\(\)"),
    (lambda w, x, k: loss_of(w, x) * (2.0 if loss_of(w, x) > 0 else 1.0), r"bool\(\)"),
    (lambda w, x, k: loss_of(w, x) * float(loss_of(w, x)), r"float\(\)"),
    (lambda w, x, k: loss_of(w, x) * len(repr(w * x)), r"printing a tensor"),
    (lambda w, x, k: loss_of(w, x) * len(f"{loss_of(w, x):.3f}"), "formatting a tensor"),
    (lambda w, x, k: loss_of(w, x) * np.asarray(w.detach() * x).sum(), r"numpy.asarray\(\)"),
    (lambda w, x, k: (w * x)[(w * x) > 0].sum(), "nonzero"),
    (lambda w, x, k: (w * x)[cgrad.nonzero(x > 0)[:, 0]].sum(), "nonzero"),
    (lambda w, x, k: loss_of(w, x) * cgrad.tensor(float(k)), "Python data"),
    (lambda w, x, k: loss_of(w, x) * random.Random(k).random(), "Python data"),
    (lambda w, x, k: loss_of(w, x) * (2.0 if k % 2 else 1.0), "Python data"),
    (lambda w, x, k: loss_of(w, x) if k % 2 else (w * x * x).sum(), "different work"),
    (lambda w, x, k: loss_of(w, x) * cgrad.from_numpy(np.ones(3)).sum(), "from_numpy"),
    (lambda w, x, k: (w * x).prod(), "prod"),
    (lambda w, x, k: loss_of(w, x) * nn.functional.one_hot(cgrad.tensor([0, 2])).sum(), "one_hot"),
], ids=["item", "tolist", "numpy", "bool", "float", "repr", "format", "asarray", "bool-mask", "nonzero-index",
        "tensor-from-counter", "python-random", "python-branch", "changing-graph", "from_numpy", "prod-backward",
        "one_hot-inferred"])
def test_each_fallback_cause_warns_once_and_gives_eager_results(body, cause):
    fallback_case(body, cause)


class Cube(cgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


@pytest.mark.parametrize("hook", ["tensor", "node", "node-pre", "post-accumulate"])
def test_python_hooks_of_every_kind_fall_back(hook):
    def body(w, x, k):
        y = w * x
        if hook == "tensor":
            y.register_hook(lambda g: g * 2)
        elif hook == "node":
            y.grad_fn.register_hook(lambda gin, gout: None)
        elif hook == "node-pre":
            y.grad_fn.register_prehook(lambda gout: None)
        elif k == 1:  # registered once, on the leaf
            w.register_post_accumulate_grad_hook(lambda p: None)
        return y.sum()
    fallback_case(body, "hook")


def test_a_custom_autograd_function_falls_back():
    fallback_case(lambda w, x, k: Cube.apply(w * x).sum(), "custom autograd.Function")


def test_anomaly_mode_falls_back():
    with pytest.warns(UserWarning, match="Anomaly Detection"):
        anomaly = cgrad.autograd.detect_anomaly()
    anomaly.__enter__()
    try:
        fallback_case(lambda w, x, k: loss_of(w, x), "anomaly mode")
    finally:
        anomaly.__exit__(None, None, None)


def test_assigning_data_in_the_step_falls_back():
    def body(w, x, k):
        out = loss_of(w, x)
        buf = cgrad.zeros(3)
        buf.data = cgrad.ones(3)
        return out * buf.sum()
    fallback_case(body, r"\.data")


def test_returning_python_values_that_change_falls_back():
    counter = [0]

    @cgrad.compile
    def f(x):
        counter[0] += 1
        return x * 2, counter[0]

    with pytest.warns(UserWarning, match="Python values"):
        results = [f(cgrad.ones(2)) for _ in range(5)]
    assert [r[1] for r in results] == [1, 2, 3, 4, 5]


def test_fullgraph_raises_a_runtime_error_naming_the_cause():
    @cgrad.compile(fullgraph=True)
    def f(x):
        y = x * 2
        if y.sum().item() > 0:
            return y
        return -y

    x = cgrad.ones(3)
    f(x)  # the eager first call
    with pytest.raises(CompileError, match=r"item\(\)") as info:
        f(x)
    assert isinstance(info.value, RuntimeError)

    @cgrad.compile(fullgraph=True, cache_size=1)
    def g(x):
        return x + 1

    g(x)
    with pytest.raises(CompileError, match="cache_size=1"):
        g(cgrad.ones(4))


def test_reading_tensors_the_step_does_not_compute_is_allowed():
    scale = cgrad.tensor(3.0)

    @cgrad.compile
    def f(x):
        return x * scale.item()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(5):
            assert f(cgrad.ones(2)).tolist() == [3.0, 3.0]
    assert stats(f).replays == 2


def test_an_error_during_a_replay_is_raised():
    @cgrad.compile
    def f(x, idx):
        return x.gather(0, idx)

    x = cgrad.tensor([1.0, 2.0, 3.0])
    for _ in range(4):
        assert f(x, cgrad.tensor([2, 0])).tolist() == [3.0, 1.0]
    with pytest.raises(RuntimeError, match="out of bounds"):
        f(x, cgrad.tensor([5, 0]))
    assert f(x, cgrad.tensor([1, 1])).tolist() == [2.0, 2.0]


# ---- what the replay covers ------------------------------------------------------------------------

OPS = {
    "elementwise": lambda x, w: ((x * w).exp().log1p() / (w.abs() + 1) - x.sigmoid() + (x - w).tanh()).sum(),
    "math": lambda x, w: (x.sin() * w.cos() + cgrad.atan2(x, w + 3) + (x * w).clamp(-0.5, 0.5)).sum(),
    "pow": lambda x, w: ((w ** 3) * (x.abs() + 1) ** w + 2 ** w).sum(),
    "where-max": lambda x, w: (cgrad.where(x > 0, w, -w) + cgrad.maximum(x, w) + cgrad.minimum(x, w)).sum(),
    "reductions": lambda x, w: ((x * w).sum(1).mean() + (x * w).amax(0).sum() + (x + w).logsumexp(1).sum()
                                + (x * w).var() + (x * w).norm()),
    "max-dim": lambda x, w: (x * w).max(1)[0].sum() + (x + w).std(0).sum(),
    "matmul": lambda x, w: (x @ w.T).relu().sum() + (x.unsqueeze(0) @ w.T.unsqueeze(0)).sum() + (x[0] @ w[0]),
    "shapes": lambda x, w: (cgrad.cat([x, w], 0).reshape(3, 4).T.flip(0)[1:3] * 2).sum()
    + cgrad.stack([x, w]).permute(2, 0, 1).sum() + w.repeat(2, 1).roll(1, 0).sum(),
    "indexing": lambda x, w: ((x * w)[:, 1] * 2).sum() + (w[cgrad.tensor([1, 0, 1])] * 3).sum()
    + w.index_select(1, cgrad.tensor([2, 0])).sum(),
    "gather-scatter": lambda x, w: w.gather(1, cgrad.tensor([[0, 2], [1, 1]])).sum()
    + cgrad.zeros(2, 3).scatter_add(1, cgrad.tensor([[0, 0], [2, 1]]), w[:, :2]).pow(2).sum()
    + w.masked_fill(x > 0, 0.5).sum(),
    "nn": lambda x, w: (nn.functional.softmax(x * w, 1).log().sum() + nn.functional.log_softmax(w, 0).sum()
                        + nn.functional.layer_norm(x * w, (3,)).pow(2).sum() + nn.functional.gelu(w).sum()
                        + nn.functional.leaky_relu(x * w, 0.1).sum()),
    "activations": lambda x, w: (nn.functional.silu(x * w).sum() + nn.functional.elu(w, 0.5).sum()
                                 + nn.functional.selu(x - w).sum() + nn.functional.celu(w * 3, 2.0).sum()
                                 + nn.functional.softplus(x * w, 2.0, 1.0).sum() + nn.functional.hardtanh(w * 2).sum()
                                 + nn.functional.relu6(x * 4).mul(w).sum() + nn.functional.hardsigmoid(w * 4).sum()
                                 + nn.functional.hardswish(x * w * 4).sum() + nn.functional.mish(w).sum()
                                 + nn.functional.glu(x * w, 0).sum()),
    "losses": lambda x, w: (nn.functional.mse_loss(x * w, x) + nn.functional.l1_loss(w, x)
                            + nn.functional.huber_loss(w, x) + nn.functional.cross_entropy(x * w, cgrad.tensor([2, 0]))
                            + nn.functional.binary_cross_entropy_with_logits(w, (x > 0).float())
                            + nn.functional.binary_cross_entropy(w.sigmoid(), (x > 0).float())
                            + nn.functional.nll_loss(w, cgrad.tensor([1, 2]), weight=cgrad.tensor([1.0, 2.0, 0.5]))),
    "embedding-one-hot": lambda x, w: (nn.functional.embedding(cgrad.tensor([[0, 1], [1, 1]]), w) * 2).sum()
    + (nn.functional.one_hot(cgrad.tensor([0, 2]), 3) * w).sum(),
    "creation": lambda x, w: (w * cgrad.arange(3.0) + w * cgrad.linspace(0, 1, 3) + (w @ cgrad.eye(3)) * 2
                              + cgrad.full((2, 3), 0.5) * w + cgrad.ones_like(w) * w).sum(),
    "in-place": lambda x, w: (lambda y: (y.mul_(2).add_(x).clamp_(-1, 1).sub_(0.5), y.sum())[1])(w * 1.0),
    "index-put": lambda x, w: (lambda y: (y.index_put_((cgrad.tensor([0, 1]),), w[0] * 2), y.sum())[1])(w * 1.0),
    "to-dtype": lambda x, w: (w.double() * x.double()).float().sum() + (w > 0).long().sum() * w.sum(),
}


@pytest.mark.parametrize("name", list(OPS))
def test_ops_in_a_training_step_replay_exactly(name):
    fn = OPS[name]
    rng = np.random.default_rng(len(name))
    w0 = (rng.standard_normal((2, 3)) * 0.5).astype(np.float32)

    def make(w, opt):
        def step(x):
            opt.zero_grad()
            loss = fn(x, w)
            loss.backward()
            nn.utils.clip_grad_norm_([w], 1.0)
            opt.step()
            return loss
        return step

    w1, w2 = cgrad.tensor(w0, requires_grad=True), cgrad.tensor(w0, requires_grad=True)
    eager = make(w1, cgrad.optim.Adam([w1], lr=0.01))
    compiled = cgrad.compile(make(w2, cgrad.optim.Adam([w2], lr=0.01)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k in range(8):
            x = cgrad.tensor(rng.standard_normal((2, 3)).astype(np.float32))
            le, lc = eager(x), compiled(x)
            assert same_or_none(le.detach(), lc), f"step {k}: loss differs"
            assert same_or_none(w1, w2) and same_or_none(w1.grad, w2.grad), f"step {k}"
    assert stats(compiled).replays == 5


def test_functools_partial_and_keyword_arguments():
    w = cgrad.tensor([2.0, 3.0], requires_grad=True)

    def f(x, *, power, bias=None):
        y = (w * x) ** power
        return y.sum() if bias is None else (y + bias).sum()

    compiled = cgrad.compile(functools.partial(f, power=2))
    x, bias = cgrad.tensor([1.0, 2.0]), cgrad.tensor([0.5, 0.5])
    for _ in range(5):
        assert compiled(x).item() == 40.0
        assert compiled(x, bias=bias).item() == 41.0
    assert stats(compiled).replays == 4
