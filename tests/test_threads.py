"""Threads: the backward pass releases the GIL, grad mode is per thread, and
threads training their own models do not disturb each other."""
import threading
import time

import numpy as np

import cgrad
from cgrad.autograd import Function


def long_backward_graph(seconds=0.4):
    """A graph whose backward takes about `seconds`, whatever the machine's speed."""
    x = cgrad.tensor(np.linspace(-1, 1, 400_000), dtype=cgrad.float64, requires_grad=True)

    def build(depth):
        y = x
        for _ in range(depth):
            y = (y * 1.01).tanh()
        return y.sum()

    probe = build(10)
    start = time.perf_counter()
    probe.backward()
    per_layer = (time.perf_counter() - start) / 10
    x.grad = None
    return x, build(max(40, int(seconds / per_layer)))


def test_python_threads_run_during_a_long_backward():
    x, loss = long_backward_graph()
    stop = threading.Event()
    samples = []

    def count():
        i = 0
        while not stop.is_set():
            i += 1
            if i % 200 == 0:
                samples.append(time.perf_counter())

    t = threading.Thread(target=count)
    t.start()
    time.sleep(0.05)
    start = time.perf_counter()
    loss.backward()
    end = time.perf_counter()
    stop.set()
    t.join()
    middle = (start + 0.25 * (end - start), end - 0.25 * (end - start))
    inside = [s for s in samples if middle[0] < s < middle[1]]
    # Holding the GIL through backward would leave the middle half of it without any sample.
    assert end - start > 0.05
    assert len(inside) > 10, f"the counter thread was stalled during backward ({end - start:.2f} s)"
    assert x.grad is not None


def test_grad_mode_is_per_thread():
    entered, checked = threading.Event(), threading.Event()
    seen = {}

    def no_grad_thread():
        with cgrad.no_grad():
            entered.set()
            checked.wait(5)
            seen["inside"] = cgrad.is_grad_enabled()
            seen["records_inside"] = (cgrad.tensor([1.0], requires_grad=True) * 2).requires_grad

    t = threading.Thread(target=no_grad_thread)
    t.start()
    entered.wait(5)
    seen["main"] = cgrad.is_grad_enabled()
    seen["records_main"] = (cgrad.tensor([1.0], requires_grad=True) * 2).requires_grad
    checked.set()
    t.join()
    assert seen == {"inside": False, "records_inside": False, "main": True, "records_main": True}


def test_new_threads_start_with_grad_mode_on():
    result = []
    with cgrad.no_grad():
        t = threading.Thread(target=lambda: result.append(cgrad.is_grad_enabled()))
        t.start()
        t.join()
    assert result == [True]


class Square(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x


def train(seed, steps=60, barrier=None):
    """A small MLP trained with SGD; hooks and a custom Function call back into Python."""
    rng = np.random.default_rng(seed)
    X = cgrad.tensor(rng.standard_normal((16, 4)), dtype=cgrad.float64)
    Y = cgrad.tensor(rng.standard_normal((16, 1)), dtype=cgrad.float64)
    w1 = cgrad.tensor(rng.standard_normal((4, 8)) * 0.5, dtype=cgrad.float64, requires_grad=True)
    w2 = cgrad.tensor(rng.standard_normal((8, 1)) * 0.5, dtype=cgrad.float64, requires_grad=True)
    params = [w1, w2]
    w1.register_hook(lambda g: g * 0.5)
    if barrier is not None:
        barrier.wait()
    losses = []
    for _ in range(steps):
        h = (X @ w1).tanh()
        h.register_hook(lambda g: g + 0.0)
        loss = Square.apply(h @ w2 - Y).mean()
        loss.backward()
        with cgrad.no_grad():
            for p in params:
                p -= 0.1 * p.grad
                p.grad = None
        losses.append(loss.item())
    return [p.detach().numpy().copy() for p in params], losses


def test_threads_training_their_own_models_get_the_results_they_get_alone():
    alone = {seed: train(seed) for seed in (1, 2, 3)}
    together = {}
    barrier = threading.Barrier(3)

    def run(seed):
        together[seed] = train(seed, barrier=barrier)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in (1, 2, 3):
        (params_a, losses_a), (params_b, losses_b) = alone[seed], together[seed]
        assert losses_a == losses_b
        for a, b in zip(params_a, params_b):
            np.testing.assert_array_equal(a, b)
        assert losses_a[-1] < losses_a[0]


def test_backward_in_many_threads_at_once():
    def grads(seed):
        rng = np.random.default_rng(seed)
        x = cgrad.tensor(rng.standard_normal((50, 50)), dtype=cgrad.float64, requires_grad=True)
        y = x
        for _ in range(30):
            y = (y @ x * 0.01).sigmoid() + y
        y.sum().backward()
        return x.grad.numpy().copy()

    expected = [grads(seed) for seed in range(6)]
    results = [None] * 6
    errors = []

    def run(seed):
        try:
            for _ in range(3):
                results[seed] = grads(seed)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for a, b in zip(results, expected):
        np.testing.assert_array_equal(a, b)


def test_exception_in_a_hook_stays_in_its_thread():
    outcome = {}

    def failing():
        x = cgrad.tensor([1.0], requires_grad=True)
        x.register_hook(lambda g: 1 / 0)
        try:
            (x * 2).sum().backward()
        except ZeroDivisionError:
            outcome["failing"] = "raised"

    def fine():
        x = cgrad.tensor([1.0], requires_grad=True)
        for _ in range(200):
            (x * 2).sum().backward()
        outcome["fine"] = x.grad.item()

    threads = [threading.Thread(target=failing), threading.Thread(target=fine)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcome == {"failing": "raised", "fine": 400.0}
