"""Threads and signals: several threads building and backpropagating their
own graphs at once get the results a single thread gets; a thread reading
.grad of unrelated tensors while another runs backward sees consistent
values; Ctrl-C during a long loop of cgrad ops raises KeyboardInterrupt and
leaves cgrad usable."""
import gc
import signal
import threading
import time
import weakref

import numpy as np

import cgrad
from reliability import harness

# The Ctrl-C children are not leak-checked under ASan: CPython 3.11 leaks the
# frame object that the KeyboardInterrupt's traceback takes over (the same
# interpreter leak as harness.run_cases describes); ASan still checks them.

ROUNDS = 50 if harness.SANITIZED else 1000


def train(seed, rounds):
    """A small regression model trained with plain tensor ops; returns its parameters."""
    g = cgrad.Generator().manual_seed(seed)
    x = cgrad.randn(8, 3, generator=g, dtype=cgrad.float64)
    t = cgrad.randn(8, 1, generator=g, dtype=cgrad.float64)
    w = cgrad.randn(3, 5, generator=g, dtype=cgrad.float64).requires_grad_()
    v = cgrad.randn(5, 1, generator=g, dtype=cgrad.float64).requires_grad_()
    for _ in range(rounds):
        loss = (((x @ w).tanh() @ v - t) ** 2).mean()
        loss.backward()
        with cgrad.no_grad():
            for p in (w, v):
                p -= 0.05 * p.grad
                p.grad = None
    return w.detach().numpy().copy(), v.detach().numpy().copy()


def test_threads_train_separate_models_at_once():
    seeds = list(range(6))
    expected = {s: train(s, ROUNDS) for s in seeds}
    got, errors = {}, []

    def worker(s):
        try:
            got[s] = train(s, ROUNDS)
        except BaseException as e:  # reported below: a thread's exception would be lost
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for s in seeds:
        for a, b in zip(got[s], expected[s]):
            np.testing.assert_array_equal(a, b)


def test_reading_grads_while_another_thread_runs_backward():
    readers_x = [cgrad.full((64,), float(i), requires_grad=True) for i in range(4)]
    for i, r in enumerate(readers_x):
        (r * 3.0).sum().backward()
    stop = threading.Event()
    bad, errors = [], []

    def reader():
        try:
            while not stop.is_set():
                for r in readers_x:
                    g = r.grad
                    if g is None or g.shape != (64,) or set(g.tolist()) != {3.0}:
                        bad.append(g)
        except BaseException as e:
            errors.append(e)

    def backward_loop():
        try:
            w = cgrad.randn(200, 200, requires_grad=True)
            for _ in range(ROUNDS // 4 + 1):
                ((w @ w).tanh().sum()).backward()
                w.grad = None
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(2)] + [threading.Thread(target=backward_loop)]
    for t in threads:
        t.start()
    threads[-1].join()
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    assert not bad


def test_threads_sharing_a_graph_while_its_backward_passes_run_unlocked():
    # Every op here takes and drops references to the shared leaf's and the
    # shared non-leaf's nodes and saved tensors, from threads running forward
    # under the GIL and backward without it, at once: none may be lost.
    w = cgrad.tensor([0.5, -0.25, 0.75], dtype=cgrad.float64, requires_grad=True)
    h = (w * 2.0).tanh()

    def grad_of(k):
        y = h
        for i in range(200):
            y = y * w + 0.001 * k if i % 2 else (y + h).tanh()
        (g,) = cgrad.autograd.grad(y.sum(), [w], retain_graph=True)
        return g.numpy().copy()

    expected = [grad_of(k) for k in range(4)]
    results, errors = {k: [] for k in range(4)}, []

    def run(k):
        try:
            for _ in range(max(ROUNDS // 20, 5)):
                results[k].append(grad_of(k))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k in range(4):
        for g in results[k]:
            np.testing.assert_array_equal(g, expected[k])
    h.sum().backward()  # the shared graph is intact
    np.testing.assert_allclose(w.grad.numpy(), 2.0 / np.cosh(2.0 * w.detach().numpy()) ** 2)
    dead = [weakref.ref(w), weakref.ref(h), weakref.ref(h.grad_fn)]
    del w, h
    gc.collect()
    assert all(r() is None for r in dead)


def test_ctrl_c_during_a_loop_of_ops_leaves_cgrad_usable():
    proc = harness.start("""
import time
x = cgrad.randn(50, requires_grad=True)
print("READY", flush=True)
try:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        y = (x * 1.5).tanh().exp().sum()
        y.backward()
    print("NO INTERRUPT", flush=True)
except KeyboardInterrupt:
    print("INTERRUPTED", flush=True)
x.grad = None
z = cgrad.tensor([2.0], requires_grad=True)
(z ** 3).sum().backward()
assert z.grad.item() == 12.0
assert (x * 2).sum().item() == (2 * x).sum().item()
print("OK", flush=True)
""", leak_check=False)  # see the note above ROUNDS
    try:
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, harness.describe(proc.returncode, out, err)
    assert "INTERRUPTED" in out and "OK" in out, harness.describe(proc.returncode, out, err)


def test_ctrl_c_during_a_long_backward():
    proc = harness.start("""
import numpy as np
x = cgrad.tensor(np.linspace(-1, 1, 200_000), requires_grad=True)
print("READY", flush=True)
try:
    for _ in range(1000):
        y = x
        for _ in range(30):
            y = (y * 1.01).tanh()
        y.sum().backward()
    print("NO INTERRUPT", flush=True)
except KeyboardInterrupt:
    print("INTERRUPTED", flush=True)
x.grad = None
(x * x).sum().backward()
assert np.allclose(x.grad.numpy(), 2 * x.detach().numpy())
print("OK", flush=True)
""", leak_check=False)  # see the note above ROUNDS
    try:
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, harness.describe(proc.returncode, out, err)
    assert "INTERRUPTED" in out and "OK" in out, harness.describe(proc.returncode, out, err)
