"""embedding_bag / EmbeddingBag, gumbel_softmax, pdist, local_response_norm / LocalResponseNorm and the
lazy modules against torch: values, gradients, node names, reprs, state dicts and errors."""
import math
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
import cgrad.nn.functional as F
from helpers import assert_same_error, assert_same_error_named

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {"float64": 1e-12, "float32": 1e-5}


def both(arr, dtype="float64", requires_grad=True):
    return (cgrad.tensor(arr, dtype=getattr(cgrad, dtype), requires_grad=requires_grad),
            torch.tensor(arr, dtype=getattr(torch, dtype), requires_grad=requires_grad))


def close(a, b, tol):
    a = None if a is None else np.asarray(a.detach().numpy(), dtype=np.float64)
    b = None if b is None else np.asarray(b.detach().numpy(), dtype=np.float64)
    assert (a is None) == (b is None)
    if a is not None:
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def grads_match(ours, theirs, leaves, tol):
    """Backward of a fixed random weighting of both outputs; then the leaves' grads agree."""
    w = np.random.default_rng(5).standard_normal(tuple(theirs.shape))
    (ours * cgrad.tensor(w, dtype=ours.dtype)).sum().backward()
    (theirs * torch.tensor(w, dtype=theirs.dtype)).sum().backward()
    for a, b in leaves:
        close(a.grad, b.grad, tol)


# ---- embedding_bag ----------------------------------------------------------------------

IDX = [0, 2, 1, 4, 4, 3, 2, 2, 1]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("layout", ["offsets", "2d", "last_offset"])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_bag_matches_torch(dtype, mode, layout, padding_idx):
    rng = np.random.default_rng(0)
    wc, wt = both(rng.standard_normal((5, 3)), dtype)
    if layout == "2d":
        args = [(cgrad.tensor(IDX).reshape(3, 3), None), (torch.tensor(IDX).reshape(3, 3), None)]
    elif layout == "offsets":  # an empty bag in the middle
        args = [(cgrad.tensor(IDX), cgrad.tensor([0, 2, 2, 6])), (torch.tensor(IDX), torch.tensor([0, 2, 2, 6]))]
    else:
        args = [(cgrad.tensor(IDX), cgrad.tensor([0, 4, 9])), (torch.tensor(IDX), torch.tensor([0, 4, 9]))]
    last = layout == "last_offset"
    ours = F.embedding_bag(args[0][0], wc, args[0][1], mode=mode, include_last_offset=last, padding_idx=padding_idx)
    theirs = TF.embedding_bag(args[1][0], wt, args[1][1], mode=mode, include_last_offset=last,
                              padding_idx=padding_idx)
    close(ours, theirs, TOL[dtype])
    assert ours.grad_fn.name() == theirs.grad_fn.name() == "EmbeddingBagBackward0"
    grads_match(ours, theirs, [(wc, wt)], TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("padding_idx", [None, 4])
def test_embedding_bag_per_sample_weights(dtype, padding_idx):
    rng = np.random.default_rng(1)
    wc, wt = both(rng.standard_normal((5, 4)), dtype)
    pc, pt = both(rng.standard_normal(len(IDX)), dtype)
    oc, ot = cgrad.tensor([0, 3, 5]), torch.tensor([0, 3, 5])
    ours = F.embedding_bag(cgrad.tensor(IDX), wc, oc, mode="sum", per_sample_weights=pc, padding_idx=padding_idx)
    theirs = TF.embedding_bag(torch.tensor(IDX), wt, ot, mode="sum", per_sample_weights=pt,
                              padding_idx=padding_idx)
    close(ours, theirs, TOL[dtype])
    assert len(ours.grad_fn.next_functions) == 2
    grads_match(ours, theirs, [(wc, wt), (pc, pt)], TOL[dtype])


def test_embedding_bag_scale_grad_by_freq_and_second_order():
    rng = np.random.default_rng(2)
    wc, wt = both(rng.standard_normal((5, 2)))
    for mode in ("sum", "mean"):
        wc.grad = wt.grad = None
        ours = F.embedding_bag(cgrad.tensor(IDX).reshape(3, 3), wc, mode=mode, scale_grad_by_freq=True)
        theirs = TF.embedding_bag(torch.tensor(IDX).reshape(3, 3), wt, mode=mode, scale_grad_by_freq=True)
        grads_match(ours, theirs, [(wc, wt)], 1e-12)
    # the gradients are made of ops, so differentiable again (PyTorch's are not, with per-sample weights)
    pc = cgrad.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    assert cgrad.autograd.gradgradcheck(
        lambda w, p: F.embedding_bag(cgrad.tensor(IDX).reshape(3, 3), w, mode="sum", per_sample_weights=p) ** 2,
        (wc, pc))


def test_embedding_bag_max_norm_renormalises_weight():
    rng = np.random.default_rng(3)
    arr = rng.standard_normal((5, 3)) * 3
    wc, wt = both(arr, requires_grad=False)
    ours = F.embedding_bag(cgrad.tensor([0, 1, 1, 3]), wc, cgrad.tensor([0, 2]), max_norm=1.5, norm_type=3.0)
    theirs = TF.embedding_bag(torch.tensor([0, 1, 1, 3]), wt, torch.tensor([0, 2]), max_norm=1.5, norm_type=3.0)
    close(ours, theirs, 1e-12)
    close(wc, wt, 1e-12)  # rows 0, 1 and 3 scaled in place, 2 and 4 untouched


def test_embedding_bag_module():
    for kwargs in ({}, dict(max_norm=1.0, norm_type=3.0, scale_grad_by_freq=True, mode="sum",
                            include_last_offset=True, padding_idx=2), dict(mode="max", padding_idx=-1)):
        ours, theirs = nn.EmbeddingBag(5, 3, **kwargs), torch.nn.EmbeddingBag(5, 3, **kwargs)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
        assert ours.padding_idx == theirs.padding_idx
        if ours.padding_idx is not None:
            assert not np.any(ours.weight.detach().numpy()[ours.padding_idx])
    arr = np.arange(12.0).reshape(4, 3)
    ours = nn.EmbeddingBag.from_pretrained(cgrad.tensor(arr), mode="sum")
    theirs = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(arr), mode="sum")
    assert repr(ours) == repr(theirs) and ours.weight.requires_grad is False
    close(ours(cgrad.tensor([[0, 1], [3, 3]])), theirs(torch.tensor([[0, 1], [3, 3]])), 0)
    ours.load_state_dict({"weight": cgrad.ones(4, 3, dtype=cgrad.float64)})
    assert ours(cgrad.tensor([0, 1, 2]), cgrad.tensor([0])).tolist() == [[3.0, 3.0, 3.0]]
    for bad in (lambda m: m.nn.EmbeddingBag(5, 3, padding_idx=7), lambda m: m.nn.EmbeddingBag(5, 3, padding_idx=-7),
                lambda m: m.nn.EmbeddingBag(5, 3, _weight=m.ones(4, 3)),
                lambda m: m.nn.EmbeddingBag.from_pretrained(m.ones(4))):
        assert_same_error(bad)


@pytest.mark.parametrize("call", [
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 7]), w, m.tensor([0])),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, -1]), w, m.tensor([0])),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 1, 2]), w, m.tensor([1, 2])),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 1, 2]), w, m.tensor([0, 5])),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 1.0]), w, m.tensor([0])),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 1]), w),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 1]), w, m.tensor([[0]])),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([[[0, 1]]]), w),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 1]), w[0], m.tensor([0])),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 1]), w, m.tensor([0]), mode="foo"),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 1]), w, m.tensor([0]), per_sample_weights=m.ones(3)),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 1]), w, m.tensor([0]),
                                               per_sample_weights=m.ones(2, dtype=w.dtype)),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 7]), w, m.tensor([0]), mode="max"),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 7]), w, m.tensor([0]), padding_idx=1),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 1]), w, m.tensor([0]), mode="max",
                                               scale_grad_by_freq=True),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 1]), w, m.tensor([0]), padding_idx=5),
    lambda m, w: m.nn.functional.embedding_bag(m.tensor([0, 1]), w, m.tensor([0]), padding_idx=-6),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_bag_errors(call, dtype):
    assert_same_error_named(lambda m: call(m, m.ones(5, 3, dtype=getattr(m, dtype))))


def test_embedding_bag_2d_input_takes_no_offsets():
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None, as input is treated is a "
                       "mini-batch of fixed length sequences. However, found offsets of type <class"):
        F.embedding_bag(cgrad.tensor([[0, 1]]), cgrad.ones(5, 3), cgrad.tensor([0]))


# ---- gumbel_softmax ----------------------------------------------------------------------


@pytest.mark.parametrize("dim", [-1, 0])
def test_gumbel_softmax_is_the_softmax_of_noisy_logits(dim):
    arr = np.random.default_rng(4).standard_normal((4, 5))
    x = cgrad.tensor(arr, requires_grad=True)
    cgrad.manual_seed(7)
    soft = F.gumbel_softmax(x, tau=0.5, dim=dim)
    cgrad.manual_seed(7)
    noise = -cgrad.empty(4, 5, dtype=cgrad.float64).exponential_().log()
    xt = torch.tensor(arr, requires_grad=True)
    ref = ((xt + torch.tensor(noise.numpy())) / 0.5).softmax(dim)
    close(soft, ref, 1e-12)
    assert soft.grad_fn.name() == ref.grad_fn.name() == "SoftmaxBackward0"
    grads_match(soft, ref, [(x, xt)], 1e-12)
    # hard: one-hot at the soft sample's argmax, with the soft sample's gradient (straight through)
    x.grad = xt.grad = None
    ref = ((xt + torch.tensor(noise.numpy())) / 0.5).softmax(dim)
    cgrad.manual_seed(7)
    hard = F.gumbel_softmax(x, tau=0.5, hard=True, dim=dim)
    values = hard.detach().numpy()
    assert set(np.unique(values)) <= {0.0, 1.0} and np.all(values.sum(dim) == 1)
    assert np.array_equal(values.argmax(dim), soft.detach().numpy().argmax(dim))
    assert hard.grad_fn.name() == TF.gumbel_softmax(xt, hard=True).grad_fn.name() == "AddBackward0"
    grads_match(hard, ref, [(x, xt)], 1e-12)


def test_gumbel_softmax_eps_is_deprecated():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.gumbel_softmax(cgrad.zeros(2, 3), eps=1e-3)
    assert "`eps` parameter is deprecated and has no effect." in str(caught[0].message)


# ---- pdist ---------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0, 0.5, 1, 1.5, 2, 3, math.inf])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pdist_matches_torch(p, dtype):
    arr = np.random.default_rng(6).standard_normal((5, 3))
    arr[3] = arr[1]  # a zero distance
    arr[4, 0] = arr[0, 0]  # a zero difference in one coordinate
    xc, xt = both(arr, dtype)
    ours, theirs = F.pdist(xc, p), TF.pdist(xt, p)
    close(ours, theirs, TOL[dtype] * 10)
    assert ours.grad_fn.name() == theirs.grad_fn.name() == "PdistBackward0"
    grads_match(ours, theirs, [(xc, xt)], TOL[dtype] * 10)


def test_pdist_edge_shapes_and_errors():
    for shape in ((1, 3), (0, 2), (4, 0)):
        xc, xt = both(np.ones(shape))
        close(F.pdist(xc), TF.pdist(xt), 0)
    assert_same_error(lambda m: m.nn.functional.pdist(m.ones(2, 3, 4)))
    assert_same_error(lambda m: m.nn.functional.pdist(m.ones(2, 3), -1))
    assert_same_error(lambda m: m.nn.functional.pdist(m.ones(2, 3, dtype=m.int64)))


def test_pdist_second_derivative():
    arr = np.random.default_rng(8).standard_normal((4, 3))
    assert cgrad.autograd.gradgradcheck(lambda x: F.pdist(x, 3), (cgrad.tensor(arr, requires_grad=True),))


# ---- local_response_norm -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 5, 4), (2, 6, 3, 4), (1, 4, 2, 3, 2)])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_local_response_norm_matches_torch(shape, size):
    arr = np.random.default_rng(9).standard_normal(shape)
    xc, xt = both(arr)
    ours = F.local_response_norm(xc, size, alpha=0.1, beta=0.6, k=2.0)
    theirs = TF.local_response_norm(xt, size, alpha=0.1, beta=0.6, k=2.0)
    close(ours, theirs, 1e-12)
    grads_match(ours, theirs, [(xc, xt)], 1e-12)


def test_local_response_norm_module_and_errors():
    ours, theirs = nn.LocalResponseNorm(3), torch.nn.LocalResponseNorm(3)
    assert repr(ours) == repr(theirs)
    arr = np.random.default_rng(10).standard_normal((2, 4, 3, 3)).astype(np.float32)
    close(ours(cgrad.tensor(arr)), theirs(torch.tensor(arr)), 1e-6)
    assert_same_error(lambda m: m.nn.functional.local_response_norm(m.ones(2, 3), 2))
    assert F.local_response_norm(cgrad.ones(0, 3, 2), 2).shape == (0, 3, 2)


# ---- lazy modules ---------------------------------------------------------------------------


def test_lazy_linear_becomes_linear():
    ours, theirs = nn.LazyLinear(3), torch.nn.LazyLinear(3)
    assert repr(ours) == repr(theirs)
    assert repr(ours.weight) == repr(theirs.weight) == "<UninitializedParameter>"
    assert isinstance(ours.weight, nn.UninitializedParameter) and ours.has_uninitialized_params()
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        ours.weight.shape
    y = ours(cgrad.ones(2, 4))
    theirs(torch.ones(2, 4))
    assert type(ours) is nn.Linear and repr(ours) == repr(theirs)
    assert type(ours.weight) is nn.Parameter and ours.weight.shape == (3, 4) and ours.bias.shape == (3,)
    assert y.shape == (2, 3) and y.grad_fn.name() == "AddmmBackward0"
    bound = 1 / math.sqrt(4)
    assert np.all(np.abs(ours.weight.detach().numpy()) <= bound)
    assert nn.LazyLinear(2, bias=False)(cgrad.ones(1, 5)).shape == (1, 2)


def test_lazy_linear_loads_a_state_dict():
    src = nn.Linear(4, 2, dtype=cgrad.float64)
    lazy = nn.LazyLinear(2, dtype=cgrad.float64)
    lazy.load_state_dict(src.state_dict())
    assert lazy.weight.shape == (4, 2)[::-1] and not lazy.has_uninitialized_params()
    x = cgrad.ones(3, 4, dtype=cgrad.float64)
    assert np.array_equal(lazy(x).detach().numpy(), src(x).detach().numpy())
    assert type(lazy) is nn.Linear


@pytest.mark.parametrize("n", [1, 2])
def test_lazy_conv_becomes_conv(n):
    kw = dict(kernel_size=3, stride=2, padding=1, groups=2, padding_mode="reflect")
    ours = getattr(nn, f"LazyConv{n}d")(4, **kw)
    theirs = getattr(torch.nn, f"LazyConv{n}d")(4, **kw)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    shape = (2, 6) + (5,) * n
    y = ours(cgrad.ones(*shape))
    theirs(torch.ones(*shape))
    assert type(ours) is getattr(nn, f"Conv{n}d") and repr(ours) == repr(theirs)
    assert ours.weight.shape == theirs.weight.shape and y.shape == (2, 4) + (3,) * n
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        getattr(nn, f"LazyConv{n}d")(4, 3, groups=2)(cgrad.ones(*((1, 3) + (5,) * n)))
    assert_same_error_named(lambda m: getattr(m.nn, f"LazyConv{n}d")(4, 3)(m.ones(5)))
