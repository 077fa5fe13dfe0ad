"""cgrad.nn.functional against torch.nn.functional: forward values, gradients
(also against float64 finite differences, via helpers.check_op), second-order
gradients of the fused kernels, node names and errors."""
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn.functional as F
from helpers import check_op, close_values

torch = pytest.importorskip("torch")

DTYPES = ["float64", "float32"]
REDUCTIONS = ["mean", "sum", "none"]


def t_pair(arr, dtype="float64", requires_grad=False):
    """The same values as a cgrad and a torch tensor."""
    arr = np.asarray(arr)
    if arr.dtype.kind == "f":
        return (cgrad.tensor(arr, dtype=getattr(cgrad, dtype), requires_grad=requires_grad),
                torch.tensor(arr, dtype=getattr(torch, dtype), requires_grad=requires_grad))
    return cgrad.tensor(arr), torch.tensor(arr)


def second_order(fn, *shapes, seed=0, domain=None):
    """Gradients of sum(grad(fn) * v) with create_graph, in cgrad and torch, compared."""
    rng = np.random.default_rng(seed)
    arrays = []
    for s in shapes:
        a = rng.standard_normal(s)
        if domain is not None:
            a = rng.uniform(*domain, s)
        arrays.append(a)
    results = []
    for lib in (cgrad, torch):
        xs = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]
        out = fn(lib, *xs)
        v = lib.tensor(np.linspace(-1, 1, int(np.prod(out.shape))).reshape(tuple(out.shape)), dtype=lib.float64)
        grads = lib.autograd.grad(out, xs, v, create_graph=True)
        total = sum((g * g).sum() for g in grads)
        total.backward()
        results.append([x.grad for x in xs])
    for a, b in zip(*results):
        close_values(a, b, rtol=1e-9, atol=1e-10)


# ---- linear ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape", [(5, 3), (3,), (2, 4, 3), (1, 3), (70, 3)], ids=str)
def test_linear(xshape, dtype):
    check_op(lambda m, x, w, b: m.nn.functional.linear(x, w, b), xshape, (4, 3), (4,), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_blas_sizes_and_layouts(dtype):
    """Big enough for BLAS, with transposed and plain weights."""
    check_op(lambda m, x, w, b: m.nn.functional.linear(x, w, b), (20, 30), (25, 30), (25,), dtype=dtype)
    check_op(lambda m, x, w, b: m.nn.functional.linear(x, w.T, b), (20, 30), (30, 25), (25,), dtype=dtype)
    check_op(lambda m, x, w, b: m.nn.functional.linear(x, w, b), (20, 30), (25, 30), (25,), dtype=dtype,
             noncontig=True)


def test_linear_without_bias_and_node_names():
    check_op(lambda m, x, w: m.nn.functional.linear(x, w), (5, 3), (4, 3))
    x, w, b = (cgrad.randn(5, 3, requires_grad=True), cgrad.randn(4, 3, requires_grad=True),
               cgrad.randn(4, requires_grad=True))
    assert F.linear(x, w, b).grad_fn.name() == "AddmmBackward0"
    assert F.linear(x, w).grad_fn.name() == "MmBackward0"
    assert F.linear(x.reshape(5, 1, 3), w, b).grad_fn.name() == "ViewBackward0"


def test_linear_second_order():
    second_order(lambda m, x, w, b: m.nn.functional.linear(x, w, b).tanh(), (4, 3), (2, 3), (2,))


def test_linear_errors():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(5x3 and 4x2\)"):
        F.linear(cgrad.randn(5, 3), cgrad.randn(2, 4))
    with pytest.raises(RuntimeError, match="same dtype"):
        F.linear(cgrad.randn(5, 3), cgrad.randn(2, 3, dtype=cgrad.float64))


# ---- activations ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate, dtype):
    out = check_op(lambda m, x: m.nn.functional.gelu(x, approximate=approximate), (4, 5), dtype=dtype)
    assert out.grad_fn.name() == "GeluBackward0"
    check_op(lambda m, x: m.nn.functional.gelu(x, approximate=approximate), (), dtype=dtype)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_higher_order(approximate):
    second_order(lambda m, x: m.nn.functional.gelu(x, approximate=approximate), (6,))
    x, tx = t_pair(np.array([0.3, -1.2]), requires_grad=True)
    results = []
    for lib, v in ((cgrad, x), (torch, tx)):
        g1, = lib.autograd.grad(lib.nn.functional.gelu(v, approximate=approximate).sum(), v, create_graph=True)
        g2, = lib.autograd.grad(g1.sum(), v, create_graph=True)
        g3, = lib.autograd.grad(g2.sum(), v)
        results.append(g3)
    close_values(*results, rtol=1e-9)


def test_gelu_bad_approximate():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(cgrad.randn(3), approximate="fast")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slope", [0.01, 0.2, -0.5])
def test_leaky_relu(slope, dtype):
    out = check_op(lambda m, x: m.nn.functional.leaky_relu(x, slope), (3, 4), dtype=dtype)
    assert out.grad_fn.name() == "LeakyReluBackward0"


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
def test_simple_activations(name):
    check_op(lambda m, x: getattr(m.nn.functional, name)(x), (3, 4))


def test_inplace_activations_on_non_leaf():
    for lib in (cgrad, torch):
        x = lib.tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True)
        y = x * 1
        r = lib.nn.functional.relu(y, inplace=True)
        assert r is y
        r2 = lib.nn.functional.leaky_relu(y * 1, 0.1, inplace=True)
        (r.sum() + r2.sum()).backward()
        if lib is cgrad:
            ours = (r.detach().numpy().copy(), x.grad.numpy().copy())
        else:
            np.testing.assert_allclose(ours[0], r.detach().numpy())
            np.testing.assert_allclose(ours[1], x.grad.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax(name, dim, dtype):
    out = check_op(lambda m, x: getattr(m.nn.functional, name)(x, dim=dim), (3, 4, 5), dtype=dtype)
    assert out.grad_fn.name() == ("SoftmaxBackward0" if name == "softmax" else "LogSoftmaxBackward0")


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_forms_and_edges(name):
    check_op(lambda m, x: getattr(m, name)(x, 0), (5,))
    check_op(lambda m, x: getattr(x, name)(-1), (2, 3))
    check_op(lambda m, x: getattr(m.nn.functional, name)(x, 0), ())
    check_op(lambda m, x: getattr(m.nn.functional, name)(x, 1), (4, 3), noncontig=True)
    check_op(lambda m, x: getattr(m.nn.functional, name)(x * 200, 1), (4, 3))  # stable for big logits
    second_order(lambda m, x: getattr(m.nn.functional, name)(x, 1), (3, 4))


def test_softmax_dtype_and_implicit_dim():
    x = cgrad.randn(2, 3)
    assert F.softmax(x, 1, dtype=cgrad.float64).dtype == cgrad.float64
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(x)
    close_values(y, torch.softmax(torch.tensor(x.numpy()), 1), rtol=1e-6)
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.log_softmax(x, 2)


# ---- dropout, one_hot, embedding, layer_norm ---------------------------------------------


def test_dropout_statistics_and_grad():
    cgrad.manual_seed(0)
    x = cgrad.ones(200, 100, requires_grad=True)
    y = F.dropout(x, 0.3)
    vals = y.detach().numpy()
    kept = vals != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(vals[kept], 1 / 0.7, rtol=1e-6)
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, kept)


def test_dropout_modes():
    x = cgrad.randn(4, 5)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert (F.dropout(x, 1.0).numpy() == 0).all()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)
    y = x.clone()
    assert F.dropout(y, 0.5, inplace=True) is y


def test_one_hot():
    idx = [[0, 2], [1, 4]]
    c, t = t_pair(np.array(idx))
    np.testing.assert_array_equal(F.one_hot(c).numpy(), torch.nn.functional.one_hot(t).numpy())
    np.testing.assert_array_equal(F.one_hot(c, 7).numpy(), torch.nn.functional.one_hot(t, 7).numpy())
    assert F.one_hot(c).dtype == cgrad.int64
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(c, 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative."):
        F.one_hot(cgrad.tensor([-1, 0]))
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor"):
        F.one_hot(cgrad.tensor([1.0]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding(dtype):
    idx = np.array([[1, 3, 1], [0, 4, 4]])
    out = check_op(lambda m, w: m.nn.functional.embedding(m.tensor(idx), w), (5, 3), dtype=dtype)
    assert out.grad_fn.name() == "EmbeddingBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [1, -1])
def test_embedding_padding_idx(padding_idx, dtype):
    """The padding row is looked up but gets no gradient (so no finite-difference check)."""
    rng = np.random.default_rng(0)
    idx = np.array([[1, 3, 1], [0, 4, 4]])
    w, tw = t_pair(rng.standard_normal((5, 3)), dtype, requires_grad=True)
    out = F.embedding(cgrad.tensor(idx), w, padding_idx=padding_idx)
    tout = torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=padding_idx)
    close_values(out, tout)
    g = rng.standard_normal(tuple(out.shape))
    out.backward(cgrad.tensor(g, dtype=getattr(cgrad, dtype)))
    tout.backward(torch.tensor(g, dtype=getattr(torch, dtype)))
    close_values(w.grad, tw.grad, rtol=1e-6, atol=1e-6)
    assert (w.grad.numpy()[padding_idx] == 0).all()


def test_embedding_second_order_and_errors():
    idx = np.array([2, 0, 2])
    second_order(lambda m, w: (m.nn.functional.embedding(m.tensor(idx), w, padding_idx=0) ** 2), (4, 2))
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(cgrad.tensor([5]), cgrad.randn(3, 2))
    with pytest.raises(RuntimeError, match="'indices' to have one of the following scalar types"):
        F.embedding(cgrad.tensor([1.0]), cgrad.randn(3, 2))
    with pytest.raises(NotImplementedError, match="scale_grad_by_freq"):
        F.embedding(cgrad.tensor([1]), cgrad.randn(3, 2), scale_grad_by_freq=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
@pytest.mark.parametrize("shape,nshape", [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((6,), (6,))], ids=str)
def test_layer_norm(shape, nshape, affine, dtype):
    if affine == "both":
        out = check_op(lambda m, x, w, b: m.nn.functional.layer_norm(x, nshape, w, b), shape, nshape, nshape,
                       dtype=dtype)
    elif affine == "weight":
        out = check_op(lambda m, x, w: m.nn.functional.layer_norm(x, nshape, w), shape, nshape, dtype=dtype)
    else:
        out = check_op(lambda m, x: m.nn.functional.layer_norm(x, nshape, eps=1e-3), shape, dtype=dtype)
    assert out.grad_fn.name() == "NativeLayerNormBackward0"


def test_layer_norm_second_order_and_errors():
    second_order(lambda m, x, w, b: m.nn.functional.layer_norm(x, (4,), w, b).tanh(), (3, 4), (4,), (4,))
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], "
                                           r"but got input of size\[2, 3\]"):
        F.layer_norm(cgrad.randn(2, 3), (4,))
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as normalized_shape"):
        F.layer_norm(cgrad.randn(2, 3), (3,), cgrad.randn(4))


# ---- losses ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,node", [("mse_loss", "MseLossBackward0"), ("l1_loss", None),
                                       ("huber_loss", "HuberLossBackward0")])
def test_regression_losses(name, node, reduction, dtype):
    out = check_op(lambda m, x, y: getattr(m.nn.functional, name)(x, y, reduction=reduction), (3, 4), (3, 4),
                   dtype=dtype)
    if node is None:  # l1_loss is PyTorch's composition: |x - y|, then its mean or sum
        node = {"mean": "MeanBackward0", "sum": "SumBackward0", "none": "AbsBackward0"}[reduction]
    assert out.grad_fn.name() == node


def test_huber_delta_and_weighted_forms():
    check_op(lambda m, x, y: m.nn.functional.huber_loss(x, y, delta=0.3), (4, 5), (4, 5))
    check_op(lambda m, x, y: m.nn.functional.huber_loss(x, y, reduction="sum", delta=2.5), (4, 5), (4, 5))
    for name in ("mse_loss", "l1_loss", "huber_loss"):
        for reduction in REDUCTIONS:
            check_op(lambda m, x, y, w: getattr(m.nn.functional, name)(x, y, reduction=reduction, weight=w),
                     (3, 4), (3, 4), (3, 4), requires_grad=[True, True, False], domain=[None, None, (0.1, 2)])
    with pytest.raises(RuntimeError, match="huber_loss does not support non-positive values for delta."):
        F.huber_loss(cgrad.randn(3), cgrad.randn(3), delta=0.0)


def test_losses_second_order():
    for name in ("mse_loss", "huber_loss", "l1_loss"):
        second_order(lambda m, x, y: getattr(m.nn.functional, name)(x, y, reduction="none") * x, (5,), (5,))


def test_loss_broadcast_warns_like_torch():
    with pytest.warns(UserWarning, match="Using a target size"):
        out = check_op(lambda m, x, y: m.nn.functional.mse_loss(x, y), (3, 4), (4,))
    assert out.shape == ()


def test_invalid_reduction():
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        F.mse_loss(cgrad.randn(3), cgrad.randn(3), reduction="avg")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(weighted, reduction, dtype):
    w = np.array([0.5, 1.0, 2.0, 1.5])
    if weighted:
        out = check_op(lambda m, x, y: m.nn.functional.binary_cross_entropy(
            x, y, weight=m.tensor(w, dtype=x.dtype), reduction=reduction), (3, 4), (3, 4), dtype=dtype,
            domain=[(0.05, 0.95), (0, 1)])
    else:
        out = check_op(lambda m, x, y: m.nn.functional.binary_cross_entropy(x, y, reduction=reduction), (3, 4),
                       (3, 4), dtype=dtype, domain=[(0.05, 0.95), (0, 1)])
    assert out.grad_fn.name() == "BinaryCrossEntropyBackward0"


def test_binary_cross_entropy_edges():
    x, tx = t_pair([0.0, 1.0, 0.5], requires_grad=True)
    y, ty = t_pair([0.0, 1.0, 1.0])
    close_values(F.binary_cross_entropy(x, y, reduction="none"),
          torch.nn.functional.binary_cross_entropy(tx, ty, reduction="none"))
    x2, _ = t_pair([1e-30, 0.5])
    assert np.isfinite(F.binary_cross_entropy(x2, cgrad.tensor([1.0, 0.0], dtype=cgrad.float64)).item())
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(cgrad.tensor([1.5]), cgrad.tensor([1.0]))
    with pytest.raises(ValueError, match="Using a target size"):
        F.binary_cross_entropy(cgrad.rand(3, 1), cgrad.rand(3))
    second_order(lambda m, x, y: m.nn.functional.binary_cross_entropy(x, y, reduction="none"), (4,), (4,),
                 domain=(0.1, 0.9))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", ["plain", "weight", "pos_weight", "both"])
def test_binary_cross_entropy_with_logits(options, reduction, dtype):
    w = np.array([0.5, 1.0, 2.0, 1.5])
    pw = np.array([3.0, 0.5, 1.0, 2.0])

    def fn(m, x, y):
        kw = {}
        if options in ("weight", "both"):
            kw["weight"] = m.tensor(w, dtype=x.dtype)
        if options in ("pos_weight", "both"):
            kw["pos_weight"] = m.tensor(pw, dtype=x.dtype)
        return m.nn.functional.binary_cross_entropy_with_logits(x * 3, y, reduction=reduction, **kw)

    out = check_op(fn, (3, 4), (3, 4), dtype=dtype, domain=[None, (0, 1)])
    assert out.grad_fn.name() in ("BinaryCrossEntropyWithLogitsBackward0", "DivBackward0")


def test_bce_with_logits_extremes_and_second_order():
    x, tx = t_pair([-800.0, 800.0, 0.0], requires_grad=True)
    y, ty = t_pair([1.0, 0.0, 0.5])
    out, tout = (F.binary_cross_entropy_with_logits(x, y, reduction="none"),
                 torch.nn.functional.binary_cross_entropy_with_logits(tx, ty, reduction="none"))
    close_values(out, tout)
    out.sum().backward()
    tout.sum().backward()
    close_values(x.grad, tx.grad)
    second_order(lambda m, x, y: m.nn.functional.binary_cross_entropy_with_logits(
        x, y, pos_weight=m.tensor([2.0, 0.5, 1.0], dtype=m.float64), reduction="none"), (3,), (3,),
        domain=(0.1, 0.9))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(cgrad.randn(3, 1), cgrad.rand(3))


NLL_CASES = {
    "2d": ((5, 4), [0, 3, 1, 3, 2]),
    "1d": ((4,), 2),
    "3d": ((2, 4, 3), [[0, 1, 3], [2, 2, 0]]),
    "4d": ((2, 3, 2, 2), [[[0, 1], [2, 2]], [[1, 0], [0, 2]]]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(NLL_CASES))
@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
def test_nll_and_cross_entropy(name, case, reduction, dtype):
    shape, target = NLL_CASES[case]
    target = np.array(target)
    out = check_op(lambda m, x: getattr(m.nn.functional, name)(x, m.tensor(target), reduction=reduction), shape,
                   dtype=dtype)
    assert out.grad_fn.name() == "NllLossBackward0"


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
def test_nll_weight_and_ignore_index(name, reduction):
    target = np.array([0, 3, -100, 3, 2, 1])
    w = np.array([0.2, 1.0, 3.0, 0.7])
    check_op(lambda m, x: getattr(m.nn.functional, name)(x, m.tensor(target), weight=m.tensor(w, dtype=x.dtype),
                                                         reduction=reduction), (6, 4))
    check_op(lambda m, x: getattr(m.nn.functional, name)(x, m.tensor(target.clip(0)), ignore_index=3,
                                                         reduction=reduction), (6, 4))
    target3 = np.array([[0, 1, 2], [2, 1, 1]])
    check_op(lambda m, x: getattr(m.nn.functional, name)(x, m.tensor(target3), weight=m.tensor(w[:3]),
                                                         ignore_index=1, reduction=reduction), (2, 3, 3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_cross_entropy_label_smoothing(smoothing, weighted, reduction):
    target = np.array([0, 3, 1, 3, 2])
    w = np.array([0.2, 1.0, 3.0, 0.7])

    def fn(m, x):
        kw = {"weight": m.tensor(w, dtype=x.dtype)} if weighted else {}
        return m.nn.functional.cross_entropy(x, m.tensor(target), label_smoothing=smoothing, ignore_index=1,
                                             reduction=reduction, **kw)

    check_op(fn, (5, 4))
    check_op(fn, (5, 4), dtype="float32")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(5, 4), (4,), (2, 4, 3)], ids=str)
def test_cross_entropy_probabilities(shape, smoothing, weighted, reduction):
    rng = np.random.default_rng(1)
    probs = rng.random(shape)
    probs = probs / probs.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
    w = np.array([0.2, 1.0, 3.0, 0.7])

    def fn(m, x):
        kw = {"weight": m.tensor(w, dtype=x.dtype)} if weighted else {}
        return m.nn.functional.cross_entropy(x, m.tensor(probs, dtype=x.dtype), label_smoothing=smoothing,
                                             reduction=reduction, **kw)

    check_op(fn, shape)


def test_nll_second_order():
    target = np.array([1, 0, 2, 2])
    second_order(lambda m, x: m.nn.functional.cross_entropy(x, m.tensor(target)), (4, 3))
    second_order(lambda m, x: m.nn.functional.nll_loss(x.tanh(), m.tensor(target),
                                                       weight=m.tensor([1.0, 2.0, 0.5], dtype=m.float64),
                                                       reduction="none"), (4, 3))


def test_nll_errors():
    x = cgrad.randn(3, 5)
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        F.nll_loss(x, cgrad.tensor([1, 7, 0]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)."):
        F.cross_entropy(x, cgrad.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Float"):
        F.nll_loss(x, cgrad.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 5 classes"):
        F.nll_loss(x, cgrad.tensor([1, 2, 3]), weight=cgrad.ones(4))


def test_all_ignored_mean_is_nan_like_torch():
    x, tx = t_pair(np.zeros((2, 3)))
    out = F.cross_entropy(x, cgrad.tensor([-100, -100]))
    tout = torch.nn.functional.cross_entropy(tx, torch.tensor([-100, -100]))
    assert np.isnan(out.item()) and np.isnan(tout.item())


# ---- bilinear, legacy arguments ------------------------------------------------------------


def test_bilinear():
    check_op(lambda m, a, b, w, bias: m.nn.functional.bilinear(a, b, w, bias), (4, 3), (4, 2), (5, 3, 2), (5,))
    check_op(lambda m, a, b, w: m.nn.functional.bilinear(a, b, w), (2, 4, 3), (2, 4, 2), (5, 3, 2))


def test_legacy_size_average_reduce():
    x, tx = t_pair(np.arange(6.0).reshape(2, 3))
    y, ty = t_pair(np.ones((2, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kw in ({"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True}):
            close_values(F.mse_loss(x, y, **kw), torch.nn.functional.mse_loss(tx, ty, **kw))


def test_linear_on_integers_and_its_dtype_errors_are_torch_s():
    """Integer linear computes, as PyTorch's; a bias of another dtype than the
    weight is refused with PyTorch's message (it is addmm's self)."""
    torch = pytest.importorskip("torch")

    def run(lib):
        F = cgrad.nn.functional if lib is cgrad else torch.nn.functional
        x, w, b = lib.ones(2, 2), lib.ones(3, 2), lib.ones(3, dtype=lib.float64)
        xi, wi, bi = lib.tensor([[1, 2], [3, 4]]), lib.tensor([[1, 0], [2, 1], [0, 3]]), lib.tensor([1, 1, 1])
        out = []
        for f in (lambda: F.linear(x, w, b), lambda: F.linear(x[0], w, b), lambda: F.linear(x[None], w, b),
                  lambda: F.linear(x, w, b[0]), lambda: F.linear(x, w, lib.ones(2, 3)),
                  lambda: F.linear(xi, wi, lib.ones(3)), lambda: F.linear(x, w, bi), lambda: F.linear(x.double(), w),
                  lambda: F.linear(xi, wi), lambda: F.linear(xi, wi, bi), lambda: F.linear(xi[0], wi, bi),
                  lambda: F.linear(xi[None], wi, bi), lambda: F.linear(xi.bool(), wi.bool()),
                  lambda: F.linear(xi, wi, lib.tensor(2 ** 62))):
            try:
                r = f()
                out.append((str(r.dtype).split(".")[-1], r.tolist()))
            except (RuntimeError, NotImplementedError) as e:
                out.append((type(e).__name__, str(e)))
        return out

    assert run(cgrad) == run(torch)


UNDERSCORE = [("relu_", ()), ("leaky_relu_", (0.2,)), ("elu_", (0.5,)), ("selu_", ()), ("celu_", (0.7,)),
              ("hardtanh_", (-0.4, 0.8)), ("threshold_", (0.2, -1.0))]


@pytest.mark.parametrize("name,args", UNDERSCORE)
def test_the_in_place_functions_are_torch_s(name, args):
    """F.relu_(x) and its kin: x itself, rewritten; PyTorch's errors, with their names."""
    x0 = np.array([-2.0, -0.5, 0.0, 0.3, 1.5, 3.0])
    res = []
    for lib, mod in ((cgrad, F), (torch, torch.nn.functional)):
        out = []
        for dt in ("float32", "float64"):
            x = lib.tensor(x0, dtype=getattr(lib, dt))
            assert getattr(mod, name)(x, *args) is x
            out.append(x.tolist())
        for bad in (1.0, lib.tensor(x0, requires_grad=True)):
            with pytest.raises((TypeError, RuntimeError)) as e:
                getattr(mod, name)(bad, *args)
            out.append((e.type.__name__, str(e.value).split("\n")[0][:70]))
        v = lib.tensor(x0, requires_grad=True)
        z = v * 1
        getattr(mod, name)(z, *args)
        z.sum().backward()
        res.append((out, v.grad.numpy()))
    assert res[0][0] == res[1][0]
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-7)  # celu_: PyTorch's slope from its output


ACTIVATIONS_INPLACE = ["relu", "leaky_relu", "elu", "selu", "celu", "hardtanh", "relu6", "silu", "hardsigmoid",
                       "hardswish", "mish"]


@pytest.mark.parametrize("name", ACTIVATIONS_INPLACE + ["gelu"])
def test_an_activation_of_a_non_tensor_names_itself_as_torch(name):
    """PyTorch's TypeError, naming the in-place form (relu_) when inplace=True."""
    forms = [{}] if name == "gelu" else [{}, {"inplace": True}]
    for kw in forms:
        with pytest.raises(TypeError) as ours:
            getattr(F, name)(1.0, **kw)
        with pytest.raises(TypeError) as theirs:
            getattr(torch.nn.functional, name)(1.0, **kw)
        assert str(ours.value) == str(theirs.value)
