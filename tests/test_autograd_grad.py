"""autograd.grad, autograd.backward, Tensor.backward(inputs=), retain_grad:
behaviour, PyTorch's error messages, and random graphs compared with torch."""
import re
import warnings

import numpy as np
import pytest

import cgrad
from cgrad.autograd import grad


def leaf(values, dtype=cgrad.float64):
    return cgrad.tensor(values, dtype=dtype, requires_grad=True)


def close(t, values):
    np.testing.assert_allclose(np.asarray(t.detach().numpy(), dtype=np.float64), values, rtol=1e-12, atol=1e-12)


def raises(exc, text):
    return pytest.raises(exc, match=re.escape(text))


# ---- autograd.grad --------------------------------------------------------------------

def test_grad_returns_gradients_without_touching_grad():
    x = leaf([1.0, 2.0])
    (g,) = grad((x * x).sum(), x)
    close(g, [2.0, 4.0])
    assert x.grad is None


def test_grad_of_several_inputs_and_outputs():
    x, y = leaf([1.0, 2.0]), leaf([3.0, -1.0])
    a, b = x * y, (x * x).sum()
    gx, gy = grad([a, b], [x, y], [cgrad.tensor([1.0, 10.0], dtype=cgrad.float64), None])
    close(gx, [3.0 + 2.0, -10.0 + 4.0])
    close(gy, [1.0, 20.0])


def test_grad_with_respect_to_non_leaf():
    x = leaf([1.0, 2.0])
    y = x * 3
    z = (y * y).sum()
    gy, gx = grad(z, [y, x])
    close(gy, [6.0, 12.0])
    close(gx, [18.0, 36.0])


def test_grad_with_respect_to_the_output_itself():
    x = leaf([1.0, 2.0])
    y = x * 3
    (g,) = grad(y, y, cgrad.ones(2, dtype=cgrad.float64))
    close(g, [1.0, 1.0])


def test_grad_of_repeated_input():
    x = leaf([1.0, 2.0])
    g1, g2 = grad((x * x).sum(), [x, x])
    close(g1, [2.0, 4.0])
    close(g2, [2.0, 4.0])


def test_grad_of_repeated_non_leaf_input():
    x = leaf([1.0, 2.0])
    y = x.exp()
    g1, g2, g3 = grad((y * 2).sum(), [y, x, y])
    close(g1, [2.0, 2.0])
    close(g3, [2.0, 2.0])
    close(g2, 2 * np.exp([1.0, 2.0]))


def test_unused_input_is_an_error():
    x, w = leaf([1.0, 2.0]), leaf(1.0)
    with raises(RuntimeError, "The differentiated Tensor at index 1 appears to not have been used in the graph. "
                              "Set allow_unused=True if this is the desired behavior."):
        grad((x * 2).sum(), [x, w])


def test_unused_input_with_allow_unused_is_none():
    x, w = leaf([1.0, 2.0]), leaf(1.0)
    gx, gw = grad((x * 2).sum(), [x, w], allow_unused=True)
    close(gx, [2.0, 2.0])
    assert gw is None


def test_unused_input_with_materialize_grads_is_zeros():
    x, w = leaf([1.0, 2.0]), leaf([[1.0, 2.0]])
    gx, gw = grad((x * 2).sum(), [x, w], materialize_grads=True)
    assert gw.shape == (1, 2) and not gw.numpy().any()
    with raises(ValueError, "Expected allow_unused to be True or not passed when materialize_grads=True"):
        grad((x * 2).sum(), [x, w], materialize_grads=True, allow_unused=False)


def test_non_leaf_input_off_the_path_is_unused():
    x = leaf([1.0, 2.0])
    y = x * 2
    with raises(RuntimeError, "The differentiated Tensor at index 0 appears to not have been used"):
        grad((x * 3).sum(), [y])


def test_input_that_does_not_require_grad():
    x = leaf([1.0, 2.0])
    with raises(RuntimeError, "One of the differentiated Tensors does not require grad"):
        grad((x * 2).sum(), [cgrad.tensor([1.0])])


def test_output_that_does_not_require_grad():
    x = leaf([1.0, 2.0])
    with raises(RuntimeError, "element 1 of tensors does not require grad and does not have a grad_fn"):
        grad([x.sum(), cgrad.tensor(3.0)], [x])


def test_empty_inputs():
    x = leaf([1.0])
    with raises(RuntimeError, "`inputs` argument to `grad()` cannot be empty."):
        grad(x.sum(), [])


def test_grad_outputs_count_and_shape():
    x = leaf([1.0, 2.0])
    with raises(RuntimeError, "got 2 tensors and 1 gradients"):
        grad([x.sum(), x.sum()], [x], [cgrad.tensor(1.0)])
    with raises(RuntimeError, "Mismatch in shape: grad_output[1] has a shape of torch.Size([3]) and output[1] "
                              "has a shape of torch.Size([2])."):
        grad([x.sum(), x * 2], [x], [None, cgrad.ones(3)])
    with raises(TypeError, "gradients can be either Tensors or None, but got int"):
        grad([x.sum()], [x], [1])


def test_non_scalar_output_needs_grad_outputs():
    x = leaf([1.0, 2.0])
    with raises(RuntimeError, "grad can be implicitly created only for scalar outputs"):
        grad(x * 2, x)


def test_grad_outputs_of_another_dtype_are_cast():
    x = leaf([1.0, 2.0])
    (g,) = grad(x * 2, x, cgrad.ones(2, dtype=cgrad.float32))
    assert g.dtype == cgrad.float64
    close(g, [2.0, 2.0])


def test_grad_dict_inputs():
    x, y = leaf([1.0]), leaf([2.0])
    res = grad((x * y).sum(), {"x": x, "y": y})
    assert list(res) == ["x", "y"]
    close(res["x"], [2.0])
    close(res["y"], [1.0])


def test_grad_frees_the_graph_unless_retained():
    x = leaf([1.0, 2.0])
    z = (x.exp()).sum()
    grad(z, x)
    with raises(RuntimeError, "Trying to backward through the graph a second time"):
        grad(z, x)
    z = (x.exp()).sum()
    grad(z, x, retain_graph=True)
    (g,) = grad(z, x)
    close(g, np.exp([1.0, 2.0]))


def test_grad_runs_only_the_part_of_the_graph_leading_to_the_inputs():
    x = leaf([1.0, 2.0])
    calls = []

    class Probe(cgrad.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g

    y = x * 2
    z = (Probe.apply(x) * y).sum()
    (gy,) = grad(z, y, retain_graph=True)
    close(gy, [1.0, 2.0])
    assert calls == []  # Probe's backward leads only to x: never run
    grad(z, x)
    assert calls == [1]


def test_grad_create_graph_gives_differentiable_gradients():
    x = leaf([1.0, 2.0])
    (g,) = grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (gg,) = grad(g.sum(), x, create_graph=True)
    close(gg, [6.0, 12.0])
    (ggg,) = grad(gg.sum(), x)
    close(ggg, [6.0, 6.0])


def test_create_graph_retains_the_graph_unless_told_otherwise():
    x = leaf([2.0])
    y = (x ** 3).exp()
    (g,) = grad(y, x, create_graph=True)
    grad(g, x)  # through ExpBackward0 again: its saved result is still there
    y = (x ** 3).exp()
    (g,) = grad(y, x, create_graph=True, retain_graph=False)
    with raises(RuntimeError, "Trying to backward through the graph a second time"):
        grad(g, x)


def test_grad_without_create_graph_gives_plain_tensors():
    x = leaf([1.0, 2.0])
    (g,) = grad((x ** 3).sum(), x)
    assert not g.requires_grad and g.grad_fn is None


def test_grad_respects_hooks_on_inputs():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: g * 10)
    close(grad((x * 1).sum(), x)[0], [10.0, 10.0])
    y = x * 2
    y.register_hook(lambda g: g * 10)
    close(grad((y * 1).sum(), y)[0], [10.0, 10.0])
    close(grad((y * 1).sum(), x)[0], [200.0, 200.0])


# ---- backward -------------------------------------------------------------------------

def test_autograd_backward_of_several_tensors():
    x = leaf([1.0, 2.0])
    cgrad.autograd.backward([(x * x).sum(), x * 3], [None, cgrad.tensor([1.0, 2.0], dtype=cgrad.float64)])
    close(x.grad, [2.0 + 3.0, 4.0 + 6.0])


def test_autograd_backward_of_one_tensor():
    x = leaf([1.0, 2.0])
    cgrad.autograd.backward((x * x).sum())
    close(x.grad, [2.0, 4.0])
    cgrad.autograd.backward(x * 2, cgrad.ones(2, dtype=cgrad.float64))
    close(x.grad, [4.0, 6.0])


def test_backward_twice():
    x = leaf([1.0, 2.0])
    z = (x * x).sum()
    z.backward()
    with raises(RuntimeError, "Trying to backward through the graph a second time (or directly access saved "
                              "tensors after they have already been freed)."):
        z.backward()


def test_backward_on_non_scalar():
    x = leaf([1.0, 2.0])
    with raises(RuntimeError, "grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()


def test_backward_on_tensor_without_grad():
    with raises(RuntimeError, "element 0 of tensors does not require grad and does not have a grad_fn"):
        cgrad.tensor([1.0]).sum().backward()


def test_backward_with_inputs_accumulates_only_into_them():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x * y).sum().backward(inputs=[x])
    close(x.grad, [3.0, 4.0])
    assert y.grad is None
    (x * y).sum().backward(inputs=y)  # one tensor, not a sequence
    close(y.grad, [1.0, 2.0])
    close(x.grad, [3.0, 4.0])


def test_backward_with_non_leaf_inputs():
    x = leaf([1.0, 2.0])
    a = x * 2
    b = a * 3
    b.sum().backward(inputs=[a])
    close(a.grad, [3.0, 3.0])
    assert x.grad is None


def test_backward_with_empty_inputs():
    x = leaf([1.0])
    with raises(RuntimeError, "`inputs` argument to `backward()` cannot be empty."):
        x.sum().backward(inputs=[])
    with raises(RuntimeError, "`inputs` argument to `backward()` cannot be empty."):
        cgrad.autograd.backward(x.sum(), inputs=[])


def test_backward_with_unused_inputs_leaves_them_alone():
    x, w = leaf([1.0]), leaf([2.0])
    (x * 2).sum().backward(inputs=[x, w])
    close(x.grad, [2.0])
    assert w.grad is None


def test_backward_create_graph_warns_once():
    import cgrad._C as C
    C._warned_create_graph = False
    x = leaf([1.0, 2.0])
    with pytest.warns(UserWarning, match="Using backward\\(\\) with create_graph=True will create a reference "
                                         "cycle between the parameter and its gradient"):
        (x ** 2).sum().backward(create_graph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x ** 2).sum().backward(create_graph=True)


# ---- create_graph accumulation into .grad -----------------------------------------------

def test_create_graph_grad_is_differentiable_and_first_graph_survives():
    x = leaf([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (x ** 3).sum().backward(create_graph=True)
        first = x.grad
        assert first.grad_fn.name() == "torch::autograd::CopyBackwards"
        assert repr(first).endswith("grad_fn=<CopyBackwards>)")
        (x ** 2).sum().backward(create_graph=True)
    assert x.grad is not first  # accumulated out of place
    close(first, [3.0, 12.0])
    close(x.grad, [5.0, 16.0])
    (g_first,) = grad(first.sum(), x, retain_graph=True)
    close(g_first, [6.0, 12.0])
    (g_total,) = grad(x.grad.sum(), x)
    close(g_total, [8.0, 14.0])


def test_first_grad_is_never_shared_between_leaves():
    a, b = leaf(1.0), leaf(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (a + b).backward(create_graph=True)
    assert a.grad is not b.grad
    (a + b).backward()  # in place now: must not add into both through one tensor
    close(a.grad, 2.0)
    close(b.grad, 2.0)


def test_first_grad_is_never_shared_without_create_graph():
    a, b = leaf([1.0, 2.0]), leaf([1.0, 2.0])
    (a + b).sum().backward()
    a.grad.zero_()
    close(b.grad, [1.0, 1.0])


# ---- retain_grad and .grad of non-leaves -------------------------------------------------

def test_retain_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    assert not y.retains_grad and not x.retains_grad
    y.retain_grad()
    assert y.retains_grad
    (y * y).sum().backward(retain_graph=True)
    close(y.grad, [4.0, 8.0])
    (y * y).sum().backward()
    close(y.grad, [8.0, 16.0])


def test_retain_grad_on_leaf_is_a_no_op():
    x = leaf([1.0, 2.0])
    x.retain_grad()
    assert not x.retains_grad
    x.sum().backward()
    close(x.grad, [1.0, 1.0])


def test_retain_grad_on_tensor_without_grad():
    with raises(RuntimeError, "can't retain_grad on Tensor that has requires_grad=False"):
        cgrad.tensor([1.0]).retain_grad()


def test_retained_grad_sees_hooks_registered_after_it():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 100)
    y.sum().backward()
    close(y.grad, [100.0, 100.0])
    close(x.grad, [200.0, 200.0])


def test_retained_grad_follows_an_in_place_op():
    x = leaf([1.0, 2.0])
    c = x * 1
    c.retain_grad()
    c.mul_(2)
    c.sum().backward()
    close(c.grad, [1.0, 1.0])
    close(x.grad, [2.0, 2.0])


def test_retained_grad_under_create_graph_is_differentiable():
    x = leaf([1.0, 2.0])
    d = x * 1
    d.retain_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (d * d).sum().backward(create_graph=True)
    assert d.grad.requires_grad
    close(d.grad, [2.0, 4.0])


def test_retained_grad_is_filled_by_autograd_grad_too():
    x = leaf([1.0, 2.0])
    d = x * 1
    d.retain_grad()
    grad((d * d).sum(), x)
    close(d.grad, [2.0, 4.0])


def test_reading_grad_of_non_leaf_warns():
    x = leaf([1.0])
    y = x * 2
    with pytest.warns(UserWarning, match="The .grad attribute of a Tensor that is not a leaf Tensor is being "
                                         "accessed.*pull/30531"):
        assert y.grad is None
    y.retain_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert y.grad is None
        assert x.grad is None


# ---- in-place modification of saved tensors -----------------------------------------------

def test_modified_saved_input_names_the_op():
    x = leaf([1.0, 2.0])
    z = x * 1
    w = z * z
    with cgrad.no_grad():
        z.add_(1)
    with raises(RuntimeError, "one of the variables needed for gradient computation has been modified by an "
                              "inplace operation: [torch.DoubleTensor [2]], which is output 0 of Mul, is at "
                              "version 1; expected version 0 instead. Hint: enable anomaly detection to find the "
                              "operation that failed to compute its gradient, with "
                              "torch.autograd.set_detect_anomaly(True, check_nan=False)."):
        w.sum().backward()


def test_modified_saved_output_names_the_op():
    x = leaf([1.0, 2.0])
    y = x.tanh()
    with cgrad.no_grad():
        y.add_(1)
    with raises(RuntimeError, "[torch.DoubleTensor [2]], which is output 0 of Tanh, is at version 1; expected "
                              "version 0 instead."):
        y.sum().backward()


def test_modified_saved_leaf_has_no_op_name():
    x = leaf([1.0, 2.0])
    w = x * x
    with cgrad.no_grad():
        x.add_(1)
    with raises(RuntimeError, "[torch.DoubleTensor [2]] is at version 1; expected version 0 instead."):
        w.sum().backward()


# ---- random graphs against torch -----------------------------------------------------------

UNARY = [
    lambda m, a: a.tanh(),
    lambda m, a: (a * 0.5).exp(),
    lambda m, a: a.sigmoid(),
    lambda m, a: a * a,
    lambda m, a: -a,
    lambda m, a: (a * a + 1).log(),
    lambda m, a: a ** 3 * 0.2,
    lambda m, a: a.sum(1, keepdim=True) * a,
    lambda m, a: a - a.mean(0, keepdim=True),
    lambda m, a: a.T.reshape(3, 4) * 0.5,
    lambda m, a: (a.unsqueeze(0) * 2).squeeze(0),
]
BINARY = [
    lambda m, a, b: a + b,
    lambda m, a, b: a - b,
    lambda m, a, b: a * b,
    lambda m, a, b: a / (b * b + 1),
    lambda m, a, b: (a @ b.T) @ a * 0.1,
    lambda m, a, b: a * b.sum() * 0.1,
    lambda m, a, b: a * b.tanh(),
    lambda m, a, b: (a * a + 0.5) ** b.tanh(),
]


def random_graph(lib, seed):
    """A random DAG over (3, 4) tensors with shared subexpressions: returns
    (leaves, nodes), built identically in cgrad and torch."""
    rng = np.random.default_rng(seed)
    n_leaves = int(rng.integers(2, 5))
    values = [rng.standard_normal((3, 4)) for _ in range(n_leaves)]
    flags = [True] + [bool(rng.random() < 0.7) for _ in range(n_leaves - 1)]
    leaves = [lib.tensor(v, dtype=lib.float64, requires_grad=f) for v, f in zip(values, flags)]
    nodes = list(leaves)
    for _ in range(int(rng.integers(4, 12))):
        if rng.random() < 0.5:
            f = UNARY[int(rng.integers(len(UNARY)))]
            nodes.append(f(lib, nodes[int(rng.integers(len(nodes)))]))
        else:
            f = BINARY[int(rng.integers(len(BINARY)))]
            i, j = rng.integers(len(nodes), size=2)
            nodes.append(f(lib, nodes[int(i)], nodes[int(j)]))
    return leaves, nodes


def pick(seed, nodes):
    """Outputs, inputs (repeats allowed, non-leaves too) and upstream gradients, by position."""
    rng = np.random.default_rng(seed + 1000)
    candidates = [k for k, t in enumerate(nodes) if t.requires_grad]
    outs = [candidates[-1]] + [int(k) for k in rng.choice(candidates, size=int(rng.integers(0, 2)))]
    ins = [int(k) for k in rng.choice(candidates, size=int(rng.integers(1, 4)))]
    ups = [rng.standard_normal((3, 4)) for _ in outs]
    return outs, ins, ups


def run_grad(lib, seed):
    leaves, nodes = random_graph(lib, seed)
    outs, ins, ups = pick(seed, nodes)
    outputs = [nodes[k] for k in outs]
    inputs = [nodes[k] for k in ins]
    g_outputs = [lib.tensor(u, dtype=lib.float64) for u in ups]
    first = lib.autograd.grad(outputs, inputs, g_outputs, create_graph=True, allow_unused=True)
    rng = np.random.default_rng(seed + 2000)
    total = None
    for g in first:
        if g is not None and g.requires_grad:
            term = (g * lib.tensor(rng.standard_normal((3, 4)), dtype=lib.float64)).sum()
            total = term if total is None else total + term
    second = [None] * len(inputs)
    if total is not None:
        second = lib.autograd.grad(total, inputs, allow_unused=True)
    return first, second


def as_np(t):
    return None if t is None else np.array(t.detach().numpy())


@pytest.mark.parametrize("seed", range(40))
def test_random_graph_grad_matches_torch(seed):
    torch = pytest.importorskip("torch")
    ours_first, ours_second = run_grad(cgrad, seed)
    theirs_first, theirs_second = run_grad(torch, seed)
    for i, (a, b) in enumerate(zip(ours_first, theirs_first)):
        assert (a is None) == (b is None), f"input {i}: used in one library only"
        if a is not None:
            np.testing.assert_allclose(as_np(a), as_np(b), rtol=1e-10, atol=1e-12, err_msg=f"input {i}")
    for i, (a, b) in enumerate(zip(ours_second, theirs_second)):
        a, b = as_np(a), as_np(b)
        if a is None or b is None:  # a zero second derivative may be None in one library
            other = b if a is None else a
            assert other is None or not other.any(), f"second order, input {i}"
        else:
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=f"second order, input {i}")


def run_backward(lib, seed):
    leaves, nodes = random_graph(lib, seed)
    rng = np.random.default_rng(seed + 3000)
    retained = [k for k, t in enumerate(nodes) if t.grad_fn is not None and rng.random() < 0.3]
    for k in retained:
        nodes[k].retain_grad()
    out = nodes[-1] if nodes[-1].requires_grad else nodes[0]
    out.backward(lib.tensor(rng.standard_normal((3, 4)), dtype=lib.float64), retain_graph=True)
    out.backward(lib.tensor(rng.standard_normal((3, 4)), dtype=lib.float64))
    return [t.grad for t in leaves], [nodes[k].grad for k in retained]


@pytest.mark.parametrize("seed", range(20))
def test_random_graph_backward_matches_torch(seed):
    torch = pytest.importorskip("torch")
    ours = run_backward(cgrad, seed)
    theirs = run_backward(torch, seed)
    for mine, ref in zip(ours, theirs):
        for a, b in zip(mine, ref):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(as_np(a), as_np(b), rtol=1e-10, atol=1e-12)


def test_warnings_point_at_the_callers_line():
    import cgrad._C as C
    x = leaf([1.0])
    y = x * 2
    with pytest.warns(UserWarning) as record:
        y.grad
    assert record[0].filename == __file__
    C._warned_create_graph = False
    with pytest.warns(UserWarning) as record:
        (x * x).sum().backward(create_graph=True)
    assert record[0].filename == __file__
    C._warned_create_graph = False
    with pytest.warns(UserWarning) as record:
        cgrad.autograd.backward((x * x).sum(), create_graph=True)
    assert record[0].filename == __file__
