"""backward and grad called again from inside a backward pass (a hook, a
custom Function), on a graph that shares nodes with the outer pass: PyTorch
runs the inner pass to its end and the outer one goes on unchanged."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64"]


def leaf(T, values, dtype):
    return T.tensor(values, dtype=getattr(T, dtype), requires_grad=True)


def hook_reruns_the_same_backward(T, dtype):
    x = leaf(T, [1.0, -2.0], dtype)
    y = x * 2
    z = (y * 3).sum()
    calls = []

    def again(g):
        calls.append(1)
        if len(calls) < 5:
            z.backward(retain_graph=True)
        return g

    y.register_hook(again)
    z.backward(retain_graph=True)
    return [x.grad, len(calls)]


def function_backward_differentiates_a_shared_leaf(T, dtype):
    w = leaf(T, [1.5, 2.0, -0.3], dtype)

    class Inner(T.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, g):
            with T.enable_grad():
                (gw,) = T.autograd.grad((w * 3.0).sin(), [w], g)
            return gw

    out = Inner.apply(w) + w * w
    out.sum().backward()
    return [w.grad]


def hook_runs_backward_to_a_leaf_once(T, dtype, shape):
    x = leaf(T, np.full(shape, 0.5).tolist(), dtype)
    b = x.tanh()
    c = b * b + x
    d = c.exp() * b
    done = []

    def inner(g):
        if not done:
            done.append(1)
            with T.enable_grad():  # a hook runs in the grad mode of create_graph
                (d * 2).sum().backward(retain_graph=True, inputs=[x])
        return g

    c.register_hook(inner)
    d.sum().backward(retain_graph=True)
    return [x.grad]


def hook_takes_the_grad_of_a_shared_non_leaf(T, dtype):
    x = leaf(T, [0.3, -0.7], dtype)
    y = x.sigmoid()
    u = y * y
    z = (u.exp() + y).sum()
    seen = []

    def inner(g):
        if not seen:  # the inner run meets this hook again
            seen.append(None)
            seen[0] = T.autograd.grad(z, [y], retain_graph=True)[0]
        return g * 2

    u.register_hook(inner)
    z.backward(retain_graph=True)
    return [x.grad, seen[0]]


def inner_backward_frees_what_the_outer_needs(T, dtype):
    x = leaf(T, [1.0, 2.0], dtype)
    y = x.exp()
    z = (y * 3).sum()
    done = []

    def inner(g):
        if not done:
            done.append(1)
            z.backward()
        return g

    y.register_hook(inner)
    with pytest.raises(RuntimeError) as info:
        z.backward(retain_graph=True)
    return [x.grad, str(info.value)]


CASES = {
    "hook_reruns_the_same_backward": hook_reruns_the_same_backward,
    "function_backward_differentiates_a_shared_leaf": function_backward_differentiates_a_shared_leaf,
    "hook_runs_backward_to_a_scalar_leaf_once": lambda T, dtype: hook_runs_backward_to_a_leaf_once(T, dtype, ()),
    "hook_runs_backward_to_a_leaf_once": lambda T, dtype: hook_runs_backward_to_a_leaf_once(T, dtype, (3,)),
    "hook_takes_the_grad_of_a_shared_non_leaf": hook_takes_the_grad_of_a_shared_non_leaf,
    "inner_backward_frees_what_the_outer_needs": inner_backward_frees_what_the_outer_needs,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CASES))
def test_as_torch(case, dtype):
    ours, theirs = CASES[case](cgrad, dtype), CASES[case](torch, dtype)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, torch.Tensor):
            assert a.dtype == getattr(cgrad, dtype)
            # float32 exp and tanh may differ from torch's in the last bit
            rtol = 0 if dtype == "float64" else 4e-7
            np.testing.assert_allclose(np.asarray(a.detach()), b.detach().numpy(), rtol=rtol, atol=0)
        else:
            assert a == b


def test_outer_scalar_gradients_survive_an_inner_run():
    """The outer run keeps 1-element gradients as numbers in the nodes; an
    inner run over the same nodes must leave them as they were."""
    def run(nested):
        x = cgrad.tensor(0.25, dtype=cgrad.float64, requires_grad=True)
        ys = [x]
        for k in range(40):
            ys.append((ys[-1] * 1.1 + ys[k // 2]).tanh())
        inner = []

        def hook(g):
            if not inner:  # the inner run meets this hook again
                inner.append(1)
                cgrad.autograd.grad(ys[30], [x], retain_graph=True)

        if nested:
            ys[20].register_hook(hook)
        ys[-1].backward(retain_graph=True)
        return x.grad.item(), bool(inner)

    assert run(True)[1]

    assert run(True)[0] == run(False)[0]
