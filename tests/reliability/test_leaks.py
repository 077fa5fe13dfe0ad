"""No leaks: long training runs and repeated higher-order gradients keep the
process's RSS flat; graphs held by hooks and closures are freed once the user
drops them; the wrapper does not leak Python references.

RSS is measured in a child (from /proc/self/statm) after a warm-up that fills
the allocator's caches. Under AddressSanitizer RSS says nothing (its
quarantine holds freed memory by design), so those runs are shorter and
LeakSanitizer judges them instead, at the child's exit."""
import gc
import sys
import weakref

import pytest

import cgrad
from reliability import harness

STEPS = 10 ** 3 if harness.SANITIZED else 10 ** 5
GRAD_CALLS = 10 ** 2 if harness.SANITIZED else 10 ** 4
MAX_GROWTH_MB = 20

RSS = """
import os
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
"""


def _growth(out):
    line = [l for l in out.splitlines() if l.startswith("RSS ")][-1]
    before, after = map(float, line.split()[1:])
    return before, after


def test_training_steps_keep_rss_flat():
    out = harness.check_ok(RSS + f"""
cgrad.manual_seed(0)
x = cgrad.randn(16, 4)
t = cgrad.randn(16, 1)
w1 = (cgrad.randn(4, 8) * 0.5).requires_grad_()
b1 = cgrad.zeros(8, requires_grad=True)
w2 = (cgrad.randn(8, 1) * 0.5).requires_grad_()
params = [w1, b1, w2]

def step():
    h = (x @ w1 + b1).tanh()
    loss = ((h @ w2 - t) ** 2).mean()
    loss.backward()
    with cgrad.no_grad():
        for p in params:
            p -= 0.01 * p.grad
            p.grad.zero_()
    return loss

warm = {STEPS} // 10
first = step().item()
for _ in range(warm):
    step()
before = rss_mb()
for _ in range({STEPS} - warm):
    last = step()
after = rss_mb()
assert last.item() < first, (first, last.item())
print("RSS", before, after)
""", timeout=900)
    before, after = _growth(out)
    print(f"training: RSS {before:.1f} -> {after:.1f} MB over {STEPS} steps")
    if not harness.SANITIZED:
        assert after - before < MAX_GROWTH_MB, f"RSS grew from {before:.1f} to {after:.1f} MB over {STEPS} steps"


def test_create_graph_grad_calls_keep_rss_flat():
    out = harness.check_ok(RSS + f"""
x = cgrad.tensor([0.5, -0.25, 2.0], dtype=cgrad.float64, requires_grad=True)

def call():
    y = (x ** 3 * x.tanh()).sum()
    g, = cgrad.autograd.grad(y, x, create_graph=True)
    h, = cgrad.autograd.grad(g.sum(), x)
    return h

warm = {GRAD_CALLS} // 10
for _ in range(warm):
    call()
before = rss_mb()
for _ in range({GRAD_CALLS} - warm):
    h = call()
after = rss_mb()
print("RSS", before, after)
""", timeout=900)
    before, after = _growth(out)
    print(f"create_graph: RSS {before:.1f} -> {after:.1f} MB over {GRAD_CALLS} calls")
    if not harness.SANITIZED:
        assert after - before < MAX_GROWTH_MB, f"RSS grew from {before:.1f} to {after:.1f} MB"


def _collected(make):
    """Builds objects with make() (which returns weak references), drops them, collects."""
    refs = make()
    gc.collect()
    return [r() is None for r in refs]


def test_graph_held_by_a_hook_closure_is_freed():
    def make():
        x = cgrad.ones(3, requires_grad=True)
        y = x * 2
        z = (y * y).sum()
        y.register_hook(lambda g: g * z.detach())  # closure -> z -> graph -> y's node -> hook
        return [weakref.ref(y), weakref.ref(z), weakref.ref(x)]
    assert _collected(make) == [True, True, True]


def test_leaf_hook_referencing_its_own_tensor_is_freed():
    def make():
        x = cgrad.ones(3, requires_grad=True)
        x.register_hook(lambda g: g + x.detach())
        return [weakref.ref(x)]
    assert _collected(make) == [True]


def test_grad_holding_its_graph_is_freed():
    def make():
        x = cgrad.ones(3, requires_grad=True)
        (x ** 3).sum().backward(create_graph=True)  # x.grad's graph holds x: a cycle through C
        return [weakref.ref(x), weakref.ref(x.grad)]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _collected(make) == [True, True]


def test_closure_graph_freed_without_backward():
    def make():
        x = cgrad.ones(3, requires_grad=True)
        y = (x * 3).exp()
        keep = [y]
        y.register_hook(lambda g: keep and None)
        return [weakref.ref(y), weakref.ref(x)]
    assert _collected(make) == [True, True]


def test_hook_cycle_held_from_outside_is_kept_and_still_runs():
    # x's hook names x; x is also held by the graph of `other`, so the cycle
    # is not garbage: collecting must leave the hook whole, ready to run.
    seen = []

    def make():
        x = cgrad.ones(3, requires_grad=True)
        x.register_hook(lambda g: seen.append(x.shape) or g * 2)
        return (x * 3).sum(), weakref.ref(x)

    other, ref = make()
    gc.collect()
    assert ref() is not None
    other.backward()
    assert seen == [(3,)]
    assert ref().grad.tolist() == [6.0, 6.0, 6.0]


def test_hook_on_a_shared_node_is_kept_and_still_runs():
    # y's hook names z; y's node is shared with `other`'s graph.
    seen = []

    def make():
        x = cgrad.ones(3, requires_grad=True)
        y = x * 2
        z = (y * y).sum()
        y.register_hook(lambda g: seen.append(z.item()) or g)
        return x, (y + 1).sum(), weakref.ref(z)

    x, other, ref = make()
    gc.collect()
    assert ref() is not None
    other.backward()
    assert seen == [12.0]
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_a_kept_handle_does_not_keep_the_cycle():
    def make():
        x = cgrad.ones(3, requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: g * 3)
        handle = y.register_hook(lambda g: g + y.detach())
        return handle, weakref.ref(y)

    handle, ref = make()
    gc.collect()
    assert ref() is None
    handle.remove()  # of a hook whose tensor is gone: nothing to do


@pytest.mark.parametrize("on", ["leaf", "non-leaf"])
def test_hook_removing_itself_through_its_handle_is_freed(on):
    # hook -> closure -> handle -> hook: the handle must not keep what the hook calls
    calls = []

    def make(run):
        x = cgrad.ones(3, requires_grad=True)
        t = x if on == "leaf" else x * 2

        def hook(g):
            calls.append(1)
            handle.remove()
            return g

        handle = t.register_hook(hook)
        if run:
            for _ in range(2):
                (t * 3).sum().backward(retain_graph=True)
        return [weakref.ref(hook), weakref.ref(x)]

    assert _collected(lambda: make(False)) == [True, True]
    assert _collected(lambda: make(True)) == [True, True]
    assert calls == [1]


class _KeepsOutput(cgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x * 2
        ctx.output = y  # ctx -> y -> y's node -> ctx
        ctx.save_for_backward(x)
        return y

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * 2 + 0 * x


def test_function_ctx_holding_its_output_is_freed():
    def make():
        x = cgrad.ones(3, requires_grad=True)
        y = _KeepsOutput.apply(x)
        return [weakref.ref(y), weakref.ref(x)]
    assert _collected(make) == [True, True]


def test_function_ctx_cycle_held_from_outside_still_works():
    def make():
        x = cgrad.ones(3, requires_grad=True)
        y = _KeepsOutput.apply(x)
        return x, (y * 3).sum(), weakref.ref(y)

    x, loss, ref = make()
    gc.collect()
    assert ref() is not None  # loss's graph holds y's node, hence its ctx
    loss.backward()
    assert x.grad.tolist() == [6.0, 6.0, 6.0]


def test_first_hook_registered_while_a_tensor_dies():
    # A weakref callback of a dying Tensor registers the process's first hook,
    # which starts tracking the Tensors made so far: not the dying one.
    harness.check_ok("""
import gc, weakref
a = cgrad.ones(3) * 2
assert not gc.is_tracked(a)
leaf = cgrad.ones(3, requires_grad=True)
r = weakref.ref(a, lambda _: leaf.register_hook(lambda g: g))
del a
b = cgrad.ones(3) * 3  # may reuse the dying one's memory
assert gc.is_tracked(b) and gc.is_tracked(leaf)
gc.collect()
""")


def test_collecting_while_another_thread_runs_backward():
    # Every collection must see the same graph in both of its passes: walks
    # are off while a backward pass runs without the GIL, never half-on.
    out = harness.check_ok("""
import gc, threading, time
finalized = []

class Held:
    def __del__(self):
        finalized.append(1)

leaf = cgrad.ones(4, requires_grad=True)
ys = []
for i in range(200):
    y = leaf * 2
    held = Held()
    y.register_hook(lambda g, held=held: g)  # held lives through the hook alone
    del held
    ys.append(y)
params = [cgrad.ones(1, requires_grad=True) for _ in range(20000)]
stop = False

def worker():
    while not stop:
        cgrad.autograd.grad(params[0] * 1.0, params, allow_unused=True)

t = threading.Thread(target=worker)
t.start()
start, n = time.time(), 0
while time.time() - start < 3:
    gc.collect()
    n += 1
stop = True
t.join()
assert not finalized, f"{len(finalized)} objects held by live hooks were finalized"
print("collections", n)
""", timeout=300)
    assert int(out.split()[-1]) > 0


def test_collections_stay_linear_with_hooks_and_a_long_kept_chain():
    # Walks stop at tensors with a wrapper and at their nodes, so a chain whose
    # every step is kept costs each collection time linear in its length
    # (quadratic would take minutes here and hit the child's timeout).
    harness.check_ok("""
import gc
other = cgrad.ones(1, requires_grad=True)
h = other.register_hook(lambda g: g)
y = cgrad.ones(4, requires_grad=True)
outs = []
for i in range(50000):
    y = y * 1.0001
    outs.append(y)
for _ in range(20):
    gc.collect()
y.sum().backward()
""", timeout=120)


class _Doubles(cgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.held = object()
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_a_worker_thread_frees_what_its_hooks_held():
    # What the core drops while changing a graph is released when the core is
    # done, in the thread that dropped it: not left to the main thread, which
    # sits in join() here.
    import threading
    alive = set()

    class Held:
        def __init__(self):
            alive.add(id(self))

        def __del__(self):
            alive.discard(id(self))

    seen = []

    def worker():
        for _ in range(300):
            x = cgrad.ones(3, requires_grad=True)
            y = x * 2
            y.register_hook(lambda g, held=Held(): g)
            z = _Doubles.apply(y)
            z.grad_fn.register_hook(lambda gi, go, held=Held(): None)
            z.sum().backward()
            del x, y, z
        seen.append(len(alive))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [0]


def test_collecting_during_backward_is_safe():
    calls = []

    def hook(g):
        gc.collect()
        calls.append(1)
        return g

    def make():
        x = cgrad.ones(3, requires_grad=True)
        y = (x * 2).tanh()
        y.register_hook(lambda g: hook(g) if y is not None else g)
        return x, y.sum()

    x, loss = make()
    loss.backward()
    assert calls == [1] and x.grad is not None


@pytest.mark.parametrize("seed", range(40))
def test_random_hook_cycles_collect_safely(seed):
    # Random graphs whose hooks name random tensors of them; a random part is
    # kept. After collecting, every kept tensor still backpropagates through
    # every hook that can run, to the gradients of the same graph without hooks.
    import random
    rnd = random.Random(seed)

    def build(with_hooks):
        leaves = [cgrad.tensor([0.5 + i, -1.0, 2.0], dtype=cgrad.float64, requires_grad=True) for i in range(3)]
        ts = list(leaves)
        for _ in range(rnd_ops[0]):
            op, i, j = rnd_ops[1].pop()
            a, b = ts[i % len(ts)], ts[j % len(ts)]
            ts.append([a * b, a + b, (a * 0.5).tanh(), a.exp() * 0.1][op])
        if with_hooks:
            for k, target in hooks:
                t, named = ts[k % len(ts)], ts[target % len(ts)]
                t.register_hook(lambda g, named=named: g + 0 * named.detach())
        return leaves, ts

    n_ops = rnd.randrange(1, 12)
    plan = [(rnd.randrange(4), rnd.randrange(100), rnd.randrange(100)) for _ in range(n_ops)]
    hooks = [(rnd.randrange(100), rnd.randrange(100)) for _ in range(rnd.randrange(1, 6))]
    keep_idx = [k for k in range(3 + n_ops) if rnd.random() < 0.3]

    rnd_ops = [n_ops, list(reversed(plan))]
    leaves, ts = build(True)
    kept = [ts[k] for k in keep_idx]
    del ts
    gc.collect()
    rnd_ops = [n_ops, list(reversed(plan))]
    ref_leaves, ref_ts = build(False)
    for k, t in zip(keep_idx, kept):
        if not t.requires_grad or t.is_leaf:
            continue
        for lf in leaves + ref_leaves:
            lf.grad = None
        t.sum().backward(retain_graph=True)
        ref_ts[k].sum().backward(retain_graph=True)
        for lf, rf in zip(leaves, ref_leaves):
            assert (lf.grad is None) == (rf.grad is None)
            if lf.grad is not None:
                assert lf.grad.tolist() == rf.grad.tolist()


def test_wrapper_does_not_leak_references():
    x = cgrad.ones(2, 3, requires_grad=True)
    hook = lambda g: None  # noqa: E731
    x.shape, x.grad, x.dtype  # create whatever is cached before counting
    counts = (sys.getrefcount(x), sys.getrefcount(hook))
    for _ in range(1000):
        x.shape, x.dtype, x.requires_grad, x.is_leaf, x.size(0), x.stride(), x.data
        y = x * 2
        y.grad_fn, y.grad_fn.next_functions, y.grad_fn.name()
        h = x.register_hook(hook)
        h.remove()
        y.sum().backward()
        x.grad, x.grad.shape
        del y, h
    gc.collect()
    assert (sys.getrefcount(x), sys.getrefcount(hook)) == counts
    g = x.grad
    grad_refs = sys.getrefcount(g)
    for _ in range(1000):
        x.grad, x.grad.shape, x.grad.tolist()
    assert sys.getrefcount(g) == grad_refs
    fn = (x * 2).grad_fn
    fn_refs = sys.getrefcount(fn)
    for _ in range(1000):
        fn.next_functions, fn.name()
    assert sys.getrefcount(fn) == fn_refs


def test_dropped_tensors_and_nodes_are_freed():
    refs = []
    for _ in range(100):
        x = cgrad.randn(4, requires_grad=True)
        y = (x.tanh() * x).sum()
        y.backward()
        refs += [weakref.ref(x), weakref.ref(y), weakref.ref(x.grad), weakref.ref(y.grad_fn)]
    del x, y
    gc.collect()
    assert sum(r() is not None for r in refs) == 0
