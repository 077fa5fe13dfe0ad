"""Programs run through cgrad and through torch, compared: the losses' values, gradients,
result dtypes and errors where they once disagreed (label smoothing with ignored or 1-d
targets, the checks of class-index targets, the dtype rules of the binary cross-entropies
and of huber_loss), batch_norm's order of checks, and in-place detach of a view."""
import numpy as np
import pytest

import cgrad
from helpers import assert_same_error_named

torch = pytest.importorskip("torch")


def F(lib):
    return lib.nn.functional


def leaf(lib, data, dtype="float64"):
    return lib.tensor(np.asarray(data, dtype=np.float64), dtype=getattr(lib, dtype), requires_grad=True)


def value_and_grads(fn, lib):
    """fn(lib) -> (loss, leaves): the loss and the leaves' gradients of a weighted sum of it."""
    out, leaves = fn(lib)
    w = lib.tensor(np.cos(np.arange(out.numel()) + 1.0).reshape(tuple(out.shape)), dtype=out.dtype)
    (out * w).sum().backward()
    return out, [x.grad for x in leaves]


def assert_agree(fn, rtol=1e-10, atol=1e-12):
    ours, theirs = value_and_grads(fn, cgrad), value_and_grads(fn, torch)
    assert str(ours[0].dtype).split(".")[-1] == str(theirs[0].dtype).split(".")[-1]
    for a, b in zip([ours[0]] + ours[1], [theirs[0]] + theirs[1]):
        assert (a is None) == (b is None)
        if a is not None:
            assert tuple(a.shape) == tuple(b.shape)
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


LOGITS = np.array([[0.1, 0.2, 0.3], [0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-0.2, 0.9, 0.4]])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("target", [[1, 1, 1, 1], [0, 1, 2, 1], 2], ids=["all-ignored", "some", "0-d"])
def test_cross_entropy_label_smoothing(reduction, weighted, target):
    def fn(lib):
        x = leaf(lib, LOGITS if isinstance(target, list) else LOGITS[1])
        w = lib.tensor([0.2, 1.0, 2.5], dtype=lib.float64) if weighted else None
        t = lib.tensor(target)
        return F(lib).cross_entropy(x, t, weight=w, ignore_index=1, label_smoothing=0.2, reduction=reduction), [x]
    assert_agree(fn)


@pytest.mark.parametrize("fn", [
    lambda lib: F(lib).nll_loss(lib.ones(3), lib.tensor([0]), reduction="none"),
    lambda lib: F(lib).cross_entropy(lib.ones(3), lib.tensor([2]), reduction="none"),
], ids=["nll", "cross_entropy"])
def test_one_element_target_of_1d_input(fn):
    ours, theirs = fn(cgrad), fn(torch)
    assert tuple(ours.shape) == tuple(theirs.shape) == ()
    assert abs(ours.item() - theirs.item()) < 1e-6


CLASS_TARGET_ERRORS = {
    "0-d input": lambda lib: F(lib).nll_loss(lib.ones(()), lib.tensor(0)),
    "1-d input, 2 targets": lambda lib: F(lib).nll_loss(lib.ones(3), lib.zeros(2, dtype=lib.int64)),
    "1-d input, 2-d target": lambda lib: F(lib).nll_loss(lib.ones(3), lib.zeros(1, 1, dtype=lib.int64)),
    "batch": lambda lib: F(lib).nll_loss(lib.ones(2, 3), lib.zeros(3)),
    "0-d target of a batch": lambda lib: F(lib).nll_loss(lib.ones(2, 3), lib.tensor(0)),
    "multi-target": lambda lib: F(lib).nll_loss(lib.ones(2, 3), lib.zeros(2, 1)),
    "float target": lambda lib: F(lib).nll_loss(lib.ones(2, 3), lib.zeros(2)),
    "bool target": lambda lib: F(lib).cross_entropy(lib.ones(2, 3), lib.tensor([True, False])),
    "3-d target size": lambda lib: F(lib).nll_loss(lib.ones(2, 3, 4), lib.zeros(2, 5)),
    "5-d target size": lambda lib: F(lib).nll_loss(lib.ones(2, 3, 4, 5, 2), lib.zeros(2, 4, 5, 3, dtype=lib.int64)),
    "4-d target rank": lambda lib: F(lib).nll_loss(lib.ones(2, 3, 4, 5), lib.zeros(2, 5)),
    "4-d float target": lambda lib: F(lib).nll_loss(lib.ones(2, 3, 4, 5), lib.zeros(2, 4, 4)),
    "4-d target size": lambda lib: F(lib).cross_entropy(lib.ones(2, 3, 4, 5), lib.zeros(2, 4, 4, dtype=lib.int64)),
    "weight size": lambda lib: F(lib).nll_loss(lib.ones(2, 3), lib.zeros(2, dtype=lib.int64),
                                               weight=lib.ones(4, dtype=lib.float64)),
    "spatial weight size": lambda lib: F(lib).nll_loss(lib.ones(2, 3, 4), lib.zeros(2, 4, dtype=lib.int64),
                                                       weight=lib.ones(4)),
    "weight dtype": lambda lib: F(lib).cross_entropy(lib.ones(2, 3), lib.tensor([0, 1]),
                                                     weight=lib.ones(3, dtype=lib.float64)),
    "smoothed, weight dtype": lambda lib: F(lib).cross_entropy(lib.ones(2, 3), lib.tensor([0, 1]),
                                                               weight=lib.ones(3, dtype=lib.float64),
                                                               label_smoothing=0.1),
    "int input": lambda lib: F(lib).nll_loss(lib.ones(2, 3, dtype=lib.int64), lib.zeros(2, dtype=lib.int64)),
    "probabilities of int dtype": lambda lib: F(lib).cross_entropy(lib.ones(2, 3), lib.ones(2, 3, dtype=lib.int64)),
    "probabilities, 0-d input": lambda lib: F(lib).cross_entropy(lib.ones(()), lib.tensor(0)),
    "smoothed, 1-d input, 1-element target": lambda lib: F(lib).cross_entropy(lib.ones(3), lib.tensor([1]),
                                                                              label_smoothing=0.1),
    "probabilities, ignore_index": lambda lib: F(lib).cross_entropy(lib.ones(2, 3), lib.ones(2, 3), ignore_index=0),
    "out of bounds": lambda lib: F(lib).cross_entropy(lib.ones(2, 3, 4), lib.full((2, 4), 3)),
}


@pytest.mark.parametrize("name", CLASS_TARGET_ERRORS)
def test_class_target_errors(name):
    assert_same_error_named(CLASS_TARGET_ERRORS[name])


BCE_ERRORS = {
    "float64 target": lambda lib: F(lib).binary_cross_entropy(lib.ones(3) / 2, lib.ones(3, dtype=lib.float64)),
    "int target": lambda lib: F(lib).binary_cross_entropy(lib.ones(3) / 2, lib.ones(3, dtype=lib.int64)),
    "weight not broadcastable": lambda lib: F(lib).binary_cross_entropy(lib.ones(2, 3) / 2, lib.ones(2, 3),
                                                                        weight=lib.ones(2, 2)),
    "weight broadcasts wider": lambda lib: F(lib).binary_cross_entropy(lib.ones(3) / 2, lib.ones(3),
                                                                       weight=lib.ones(2, 3)),
    "weight requires grad": lambda lib: F(lib).binary_cross_entropy(lib.ones(3) / 2, lib.ones(3),
                                                                    weight=lib.ones(3, requires_grad=True)),
    "logits, int target": lambda lib: F(lib).binary_cross_entropy_with_logits(
        lib.ones(3, dtype=lib.float64), lib.ones(3, dtype=lib.int64)),
    "logits, bool target": lambda lib: F(lib).binary_cross_entropy_with_logits(lib.ones(3),
                                                                               lib.ones(3, dtype=lib.bool)),
    "logits, int input": lambda lib: F(lib).binary_cross_entropy_with_logits(lib.ones(3, dtype=lib.int64), lib.ones(3)),
    "logits, pos_weight shape": lambda lib: F(lib).binary_cross_entropy_with_logits(lib.ones(3), lib.ones(3),
                                                                                    pos_weight=lib.ones(2)),
    "logits, pos_weight wider": lambda lib: F(lib).binary_cross_entropy_with_logits(lib.ones(3), lib.ones(3),
                                                                                    pos_weight=lib.ones(2, 3)),
    "logits, weight shape": lambda lib: F(lib).binary_cross_entropy_with_logits(lib.ones(2, 3), lib.ones(2, 3),
                                                                                weight=lib.ones(2, 2)),
    "logits, pos_weight requires grad": lambda lib: F(lib).binary_cross_entropy_with_logits(
        lib.ones(3), lib.ones(3), pos_weight=lib.ones(3, requires_grad=True)),
    "huber, int input": lambda lib: F(lib).huber_loss(lib.ones(3, dtype=lib.int64), lib.ones(3)),
    "smooth_l1, ints": lambda lib: F(lib).smooth_l1_loss(lib.ones(3, dtype=lib.int64), lib.ones(3, dtype=lib.int64)),
    "kl_div, int target": lambda lib: F(lib).kl_div(lib.ones(3), lib.ones(3, dtype=lib.int64), reduction="sum"),
}


@pytest.mark.parametrize("name", BCE_ERRORS)
def test_pointwise_loss_errors(name):
    assert_same_error_named(BCE_ERRORS[name])


def test_weight_requiring_grad_allowed_without_grad_mode():
    for lib in (cgrad, torch):
        with lib.no_grad():
            F(lib).binary_cross_entropy_with_logits(lib.ones(3), lib.ones(3), weight=lib.ones(3, requires_grad=True))


X = np.array([[0.3, -1.2, 2.0], [0.7, 0.1, -0.4]])
Y = np.array([[0.2, 0.9, 0.5], [1.0, 0.0, 0.3]])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32")])
def test_bce_with_logits_mixed_dtypes(dtypes, reduction):
    """The loss comes in target's dtype, as PyTorch's does."""
    def fn(lib):
        x, y = leaf(lib, X, dtypes[0]), leaf(lib, Y, dtypes[1]).detach()
        pw = lib.tensor([0.5, 2.0, 1.0], dtype=getattr(lib, dtypes[0]))
        return F(lib).binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction=reduction), [x]
    assert_agree(fn, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32")])
def test_huber_loss_mixed_dtypes(dtypes, reduction):
    """The loss comes in input's dtype, as PyTorch's does. (PyTorch's backward of such a call fails; cgrad's
    gives the gradient.)"""
    ours, theirs = [F(lib).huber_loss(leaf(lib, X, dtypes[0]), leaf(lib, Y, dtypes[1]), reduction=reduction,
                                      delta=0.5) for lib in (cgrad, torch)]
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1] == dtypes[0]
    assert ours.grad_fn.name() == theirs.grad_fn.name()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=2e-6, atol=1e-6)


def test_batch_norm_checks_running_stats_first():
    assert_same_error_named(lambda lib: lib.nn.BatchNorm2d(3)(lib.ones(2, 4, 4, 5)))
    assert_same_error_named(lambda lib: F(lib).batch_norm(lib.ones(2, 4), lib.ones(4), lib.ones(3), lib.ones(3),
                                                          lib.ones(3), training=True))


@pytest.mark.parametrize("fn", [
    lambda lib: lib.ones(3)[:2].detach_(),
    lambda lib: lib.ones(3, requires_grad=True).clone()[1:].detach_(),
    lambda lib: lib.ones(2, 3).unbind(0)[0].detach_(),
    lambda lib: lib.nn.Parameter(lib.ones(2, dtype=lib.int64)),
    lambda lib: lib.ones(2, dtype=lib.int64).requires_grad_(),
    lambda lib: lib.tensor([True]).requires_grad_(),
    lambda lib: lib.tensor([1, 2], requires_grad=True),
    lambda lib: lib.zeros(2, dtype=lib.int64, requires_grad=True),
    lambda lib: lib.full((2,), 1, requires_grad=True),
    lambda lib: lib.arange(3, requires_grad=True),
])
def test_autograd_flag_errors(fn):
    assert_same_error_named(fn)


def test_detach_in_place_of_non_views():
    for lib in (cgrad, torch):
        x = lib.ones(3, requires_grad=True)
        y = (x * 2).detach_()
        z = x.detach().detach_()
        assert not y.requires_grad and y.is_leaf and y.grad_fn is None and not z.requires_grad


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("max_norm,norm_type", [(1.0, 2.0), (0.7, 1.0), (0.5, float("inf"))])
def test_embedding_max_norm(dtype, max_norm, norm_type):
    """The picked rows are renormalised in place (weight's version moves on), then looked up."""
    def run(lib):
        m = lib.nn.Embedding(8, 5, max_norm=max_norm, norm_type=norm_type, dtype=getattr(lib, dtype))
        w = m.weight
        with lib.no_grad():
            w.copy_(lib.tensor(np.sin(np.arange(40.0) * 0.77).reshape(8, 5) * 1.3))
        out = m(lib.tensor([[0, 2, 2, 7], [4, 1, 0, 5]]))
        (out * lib.arange(40, dtype=getattr(lib, dtype)).reshape(2, 4, 5)).sum().backward()
        return [out.detach().numpy(), w.detach().numpy(), w.grad.numpy()], w._version, out.grad_fn.name()
    ours, theirs = run(cgrad), run(torch)
    assert ours[1:] == theirs[1:]
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == "float32" else 1e-12, atol=0)


@pytest.mark.parametrize("norm_type", [2, 2.0, 1.5, float("inf")])
def test_clip_grad_norm_nonfinite_names_the_order_as_a_float(norm_type):
    def fn(lib):
        p = lib.ones(3, requires_grad=True)
        p.grad = lib.tensor([1.0, float("nan"), 2.0])
        lib.nn.utils.clip_grad_norm_([p], 1.0, norm_type=norm_type, error_if_nonfinite=True)
    assert_same_error_named(fn)


LINEAR_ERRORS = {
    "0-d input": lambda lib: F(lib).linear(lib.ones(()), lib.ones(2, 3)),
    "0-d weight": lambda lib: F(lib).linear(lib.ones(2, 3), lib.ones(())),
    "3-d weight": lambda lib: F(lib).linear(lib.ones(2, 3), lib.ones(2, 2, 3)),
    "vector weight with a bias": lambda lib: F(lib).linear(lib.ones(2, 3), lib.ones(3), lib.ones(2)),
    "bias size": lambda lib: F(lib).linear(lib.ones(2, 3), lib.ones(4, 3), lib.ones(3)),
    "bias size, 3-d input": lambda lib: F(lib).linear(lib.ones(5, 2, 3), lib.ones(4, 3), lib.ones(3)),
    "bias size, 1-d input": lambda lib: F(lib).linear(lib.ones(3), lib.ones(4, 3), lib.ones(3)),
}


@pytest.mark.parametrize("name", LINEAR_ERRORS)
def test_linear_errors(name):
    assert_same_error_named(LINEAR_ERRORS[name])


@pytest.mark.parametrize("x_shape", [(3,), (2, 3), (4, 2, 3)])
def test_linear_with_a_vector_weight(x_shape):
    def fn(lib):
        x = leaf(lib, np.sin(np.arange(np.prod(x_shape))).reshape(x_shape))
        w = leaf(lib, [0.5, -1.0, 2.0])
        return F(lib).linear(x, w), [x, w]
    assert_agree(fn)
    ours, theirs = [fn(lib)[0].grad_fn.name() for lib in (cgrad, torch)]
    assert ours == theirs


SEQUENTIAL_OPS = {
    "add": lambda lib, a: a + lib.nn.Sequential(lib.nn.Sigmoid()),
    "mul": lambda lib, a: a * 3,
    "rmul": lambda lib, a: 2 * a,
    "iadd": lambda lib, a: a.__iadd__(lib.nn.Sequential(lib.nn.Sigmoid())),
    "imul": lambda lib, a: a.__imul__(2),
    "pop": lambda lib, a: a.pop(-2) and a,
}


@pytest.mark.parametrize("name", SEQUENTIAL_OPS)
def test_sequential_operators(name):
    def run(lib):
        a = lib.nn.Sequential(lib.nn.ReLU(), lib.nn.Tanh())
        r = SEQUENTIAL_OPS[name](lib, a)
        same = [m is a[i % len(a)] for i, m in enumerate(r)] if name != "pop" else []
        return repr(r), r is a, same, [round(v, 5) for v in r(lib.tensor([-1.0, 0.5])).tolist()]
    assert run(cgrad) == run(torch)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.nn.Sequential(lib.nn.ReLU()) * 0,
    lambda lib: lib.nn.Sequential(lib.nn.ReLU()).__imul__(-1),
    lambda lib: lib.nn.Sequential(lib.nn.ReLU()) * 1.5,
    lambda lib: lib.nn.Sequential(lib.nn.ReLU()) + lib.nn.ReLU(),
    lambda lib: lib.nn.Sequential(lib.nn.ReLU()).pop(3),
])
def test_sequential_operator_errors(fn):
    ours, theirs = [type(e) for e in (raised_by(fn, cgrad), raised_by(fn, torch))]
    assert ours is theirs
    assert str(raised_by(fn, cgrad)).replace("cgrad.", "torch.") == str(raised_by(fn, torch))


def raised_by(fn, lib):
    with pytest.raises(Exception) as info:
        fn(lib)
    return info.value


def test_parameter_dict_union():
    def run(lib):
        p = [lib.nn.Parameter(lib.ones(k)) for k in range(1, 5)]
        a = lib.nn.ParameterDict({"x": p[0], "y": p[1]})
        b = lib.nn.ParameterDict({"y": p[2], "z": p[3]})
        c, d = a | b, {"q": p[3]} | a
        a |= {"w": lib.ones(2)}
        return (type(c).__name__, list(c.keys()), c["y"] is p[2], type(d).__name__, list(d.keys()), list(a.keys()),
                type(a["w"]).__name__)
    assert run(cgrad) == run(torch)
    assert_same_error_named(lambda lib: lib.nn.ParameterDict({"x": lib.nn.Parameter(lib.ones(1))}) | 3)


def _no_grad_view(lib, leaf):
    x = lib.ones(4, 3, requires_grad=True)
    y = x if leaf else x * 1
    with lib.no_grad():
        return y[:2]


IN_PLACE_VIEW_ERRORS = {
    "no_grad view of a leaf": lambda lib: _no_grad_view(lib, True).mul_(2),
    "no_grad view": lambda lib: _no_grad_view(lib, False).zero_(),
    "unbind of a leaf": lambda lib: lib.ones(4, 3, requires_grad=True).unbind(1)[2].mul_(2),
    "unbind": lambda lib: (lib.ones(4, 3, requires_grad=True) * 1).unbind(0)[1].add_(1),
    "split": lambda lib: (lib.ones(4, 3, requires_grad=True) * 1).split(2)[1].mul_(2),
    "chunk": lambda lib: (lib.ones(4, 3, requires_grad=True) * 1).chunk(2)[0].fill_(1.0),
    "split with sizes": lambda lib: (lib.ones(4, 3, requires_grad=True) * 1).split([1, 3])[0].copy_(lib.zeros(1, 3)),
}


@pytest.mark.parametrize("name", IN_PLACE_VIEW_ERRORS)
def test_in_place_on_views_pytorch_refuses(name):
    assert_same_error_named(IN_PLACE_VIEW_ERRORS[name])


@pytest.mark.parametrize("make", [
    lambda lib, y: y.unbind(0)[0],
    lambda lib, y: y.split(2)[1],
    lambda lib, y: y[1:],
])
def test_in_place_on_views_still_allowed(make):
    """Without grad mode, or on tensors that do not require grad, writing into these views is fine."""
    def run(lib):
        x = lib.ones(4, 3, dtype=lib.float64, requires_grad=True)
        y = x * 1
        with lib.no_grad():
            make(lib, y).mul_(2)
        plain = lib.ones(4, 3)
        make(lib, plain).mul_(3)
        z = y.narrow(0, 0, 2)
        z.mul_(5)
        (y * y).sum().backward()
        return y.tolist(), plain.tolist(), x.grad.tolist()
    assert run(cgrad) == run(torch)
