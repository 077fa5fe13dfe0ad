"""x[...] and other indexings that select everything give a new view
(AliasBackward0), as torch's; in-place writes through it go into the base
through CopySlices. fill_ with a 0-d tensor takes the Tensor overload
(FillBackward3): the value gets the sum of the filled elements' gradients."""
import pytest

import cgrad
from helpers import graph_of

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("index", [(Ellipsis,), (slice(None), slice(None)), (Ellipsis, slice(None)), ()],
                         ids=["...", ":,:", "...,:", "()"])
def test_indexing_everything_is_an_alias(index):
    out = []
    for lib in (cgrad, torch):
        base = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True) * 1
        v = base[index]
        v.mul_(2)  # through the view, into base
        out.append((v is base, v.shape == base.shape, graph_of(v.grad_fn), graph_of(base.grad_fn), base.tolist()))
    assert out[0] == out[1]


def test_alias_gradient_and_version():
    for lib in (cgrad, torch):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = x * 1
        v = y[...]
        assert v._version == y._version
        v[0, 0] = 10.0
        assert y._version == v._version and y[0, 0].item() == 10.0
        (y * lib.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
        assert x.grad.tolist() == [[0.0, 2.0], [3.0, 4.0]]


def _fill_story(lib, target):
    v = lib.tensor(2.0, requires_grad=True)
    x = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    y = {"non-leaf": lambda: x * 1, "plain": lambda: lib.zeros(2, 3), "row": lambda: x * 1}[target]()
    t = y[0] if target == "row" else y
    r = t.fill_(v * 3)
    (y * lib.arange(6.0).reshape(2, 3)).sum().backward()
    return (r is t, y.tolist(), y.requires_grad, graph_of(y.grad_fn), v.grad.item(),
            None if x.grad is None else x.grad.tolist())


@pytest.mark.parametrize("target", ["non-leaf", "plain", "row"])
def test_fill_with_a_tensor_passes_the_gradient_to_it(target):
    assert _fill_story(cgrad, target) == _fill_story(torch, target)


@pytest.mark.parametrize("call", [
    lambda m: m.zeros(3).fill_(m.ones(2)),
    lambda m: m.tensor([1.0], requires_grad=True).fill_(m.tensor(2.0)),
    lambda m: m.zeros(3).fill_("a"),
])
def test_fill_errors_are_torchs(call):
    outcomes = []
    for lib in (cgrad, torch):
        with pytest.raises(Exception) as info:
            call(lib)
        outcomes.append(type(info.value).__name__)
    assert outcomes[0] == outcomes[1]


def test_fill_from_its_own_element_and_second_order():
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor([[1.5, 2.0], [3.0, 4.0]], dtype=lib.float64, requires_grad=True)
        y = x * x
        y.fill_(y[1, 1])  # the value is read before the write
        g, = lib.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()
        out.append((y.tolist(), g.tolist(), x.grad.tolist()))
    assert out[0] == out[1]


def test_compiled_step_reads_the_fill_value_of_each_call():
    w = cgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)

    @cgrad.compile(fullgraph=True)
    def step(s):
        y = w * 1
        y[1:].fill_((s * w).sum())
        loss = (y * y).sum()
        loss.backward()
        return loss

    for k in range(4):
        s = cgrad.tensor([0.5 * k, 1.0, -1.0])
        w.grad = None
        loss = step(s)
        ew = w.detach().clone().requires_grad_(True)
        y = ew * 1
        y[1:].fill_((s * ew).sum())
        e = (y * y).sum()
        e.backward()
        assert loss.item() == e.item() and w.grad.tolist() == ew.grad.tolist()
