"""Deep and wide graphs: a 10^6-node chain builds, backpropagates and frees; a
node with 10^5 consumers accumulates all their gradients; a 10^7-node graph
is freed with constant C stack (in a child whose stack limit is 512 KB, where
a recursive free would overflow it).

Under AddressSanitizer the sizes are divided by 10 (its shadow memory and
quarantine make a 10^7-node graph take tens of GB)."""
import pytest

import cgrad
from reliability import harness

SCALE = 10 if harness.SANITIZED else 1


def test_million_node_chain_builds_backprops_and_frees():
    n = 10 ** 6 // SCALE
    out = harness.check_ok(f"""
import math, weakref
x = cgrad.tensor([1.0], dtype=cgrad.float64, requires_grad=True)
k = 1.0 + 1e-6
y = x
for _ in range({n}):
    y = y * k
y.backward()
want = k ** {n}
assert math.isclose(x.grad.item(), want, rel_tol=1e-9), (x.grad.item(), want)
node = weakref.ref(y.grad_fn)
del y
assert node() is None
y = x
for _ in range({n}):  # the freed graph's memory is reused by the next one
    y = y * k
y.backward()
assert math.isclose(x.grad.item(), 2 * want, rel_tol=1e-9)
print("OK")
""", stack_kb=512)
    assert "OK" in out


def test_node_with_many_consumers_accumulates():
    n = 10 ** 5 // SCALE
    x = cgrad.tensor([0.5, -1.0], dtype=cgrad.float64, requires_grad=True)
    h = x * 2.0
    total = h * 0.0
    for i in range(n):  # 10^5 nodes each consuming h
        total = total + h * float(i % 7)
    total.sum().backward()
    weight = sum(i % 7 for i in range(n))
    assert x.grad.tolist() == [2.0 * weight, 2.0 * weight]


def test_wide_node_with_many_inputs():
    n = 10 ** 5 // SCALE
    x = cgrad.tensor([1.0, 2.0], requires_grad=True)
    parts = [x * float(i % 5) for i in range(n)]  # one stack node with 10^5 input edges
    cgrad.stack(parts).sum().backward()
    weight = sum(i % 5 for i in range(n))
    assert x.grad.tolist() == [weight, weight]


@pytest.mark.parametrize("n", [10 ** 7 // SCALE])
def test_freeing_a_huge_graph_uses_constant_stack(n):
    out = harness.check_ok(f"""
import resource
assert resource.getrlimit(resource.RLIMIT_STACK)[0] == 512 * 1024
x = cgrad.ones(1, requires_grad=True)
y = x
for _ in range({n}):
    y = y + 1.0
del y  # a recursive free would need {n} frames of C stack
y = x
for _ in range(1000):  # the core is still usable
    y = y * 1.0
y.backward()
assert x.grad.item() == 1.0
print("OK")
""", stack_kb=512, timeout=600)
    assert "OK" in out
