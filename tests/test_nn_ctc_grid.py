"""ctc_loss / CTCLoss (csrc/ops_ctc.c) and affine_grid / grid_sample (csrc/ops_grid.c) against torch:
values and gradients in float32 and float64, the graph after the node, reductions, zero_infinity,
the target layouts, errors, and the derivatives PyTorch does not define."""
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn
import cgrad.nn.functional as F
from helpers import assert_same_error, assert_same_error_named, graph_of

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {"float64": 1e-10, "float32": 2e-5}


def close(a, b, tol):
    a = np.asarray(a.detach().numpy(), dtype=np.float64)
    b = np.asarray(b.detach().numpy(), dtype=np.float64)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def leaves(arr, dtype):
    return (cgrad.tensor(arr, dtype=getattr(cgrad, dtype), requires_grad=True),
            torch.tensor(arr, dtype=getattr(torch, dtype), requires_grad=True))


# ---- ctc_loss -------------------------------------------------------------------------------

T, N, C = 6, 3, 5
TARGETS = [[1, 2, 2, 0], [3, 1, 0, 0], [4, 4, 1, 2]]
IN_LENGTHS = (6, 4, 5)
TG_LENGTHS = (3, 2, 2)


def log_probs(dtype, seed=0):
    logits = np.random.default_rng(seed).standard_normal((T, N, C))
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return leaves(lp, dtype)


def ctc_both(dtype, layout, lengths_as, **kwargs):
    lc, lt = log_probs(dtype)
    out = []
    for lib, lp in ((cgrad, lc), (torch, lt)):
        if layout == "padded":
            tg = lib.tensor(TARGETS)
        else:
            tg = lib.tensor([v for row, n in zip(TARGETS, TG_LENGTHS) for v in row[:n]])
        il, tl = IN_LENGTHS, TG_LENGTHS
        if lengths_as == "tensor":
            il, tl = lib.tensor(il), lib.tensor(tl)
        out.append(lib.nn.functional.ctc_loss(lp, tg, il, tl, **kwargs))
    return (lc, lt), out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("lengths_as", ["tuple", "tensor"])
def test_ctc_loss_matches_torch(dtype, reduction, layout, lengths_as):
    (lc, lt), (ours, theirs) = ctc_both(dtype, layout, lengths_as, reduction=reduction, blank=0)
    close(ours, theirs, TOL[dtype])
    assert graph_of(ours.grad_fn) == graph_of(theirs.grad_fn)
    w = np.random.default_rng(1).uniform(0.5, 1.5, tuple(theirs.shape))
    (ours * cgrad.tensor(w, dtype=ours.dtype)).sum().backward()
    (theirs * torch.tensor(w, dtype=theirs.dtype)).sum().backward()
    close(lc.grad, lt.grad, TOL[dtype])


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_ctc_loss_zero_infinity(reduction):
    # sequence 1 cannot fit its target (3 labels with a repeat need 4 steps, it has 2): infinite loss
    lc, lt = log_probs("float64", seed=2)
    for zero_infinity in (False, True):
        lc.grad = lt.grad = None
        args = ([[1, 2, 2], [1, 1, 3], [2, 0, 0]], (6, 2, 3), (3, 3, 1))
        ours = F.ctc_loss(lc, cgrad.tensor(args[0]), *args[1:], blank=4, reduction=reduction,
                          zero_infinity=zero_infinity)
        theirs = TF.ctc_loss(lt, torch.tensor(args[0]), *args[1:], blank=4, reduction=reduction,
                             zero_infinity=zero_infinity)
        close(ours, theirs, 1e-10)
        assert graph_of(ours.grad_fn) == graph_of(theirs.grad_fn)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(lc.grad.numpy(), lt.grad.numpy(), rtol=1e-10, atol=1e-10)  # NaNs in place


def test_ctc_loss_unbatched_empty_and_module():
    lc, lt = log_probs("float64", seed=3)
    ours = F.ctc_loss(lc[:, 0], cgrad.tensor([1, 3]), (5,), (2,), reduction="none")
    theirs = TF.ctc_loss(lt[:, 0], torch.tensor([1, 3]), (5,), (2,), reduction="none")
    close(ours, theirs, 1e-10)
    assert graph_of(ours.grad_fn) == graph_of(theirs.grad_fn)
    # empty targets, and a sequence of no steps
    args = ([[1, 2], [0, 0], [0, 0]], (6, 0, 3), (2, 0, 0))
    ours = F.ctc_loss(lc, cgrad.tensor(args[0]), *args[1:], reduction="none", blank=3)
    theirs = TF.ctc_loss(lt, torch.tensor(args[0]), *args[1:], reduction="none", blank=3)
    close(ours, theirs, 1e-10)
    ours.sum().backward()
    theirs.sum().backward()
    close(lc.grad, lt.grad, 1e-10)
    m, mt = nn.CTCLoss(blank=2, reduction="sum", zero_infinity=True), torch.nn.CTCLoss(2, "sum", True)
    assert repr(m) == repr(mt) and list(m.state_dict()) == []
    assert (m.blank, m.reduction, m.zero_infinity) == (2, "sum", True)
    close(m(lc, cgrad.tensor(TARGETS), IN_LENGTHS, TG_LENGTHS), mt(lt, torch.tensor(TARGETS), IN_LENGTHS, TG_LENGTHS),
          1e-10)


def test_ctc_loss_gradient_through_log_softmax():
    logits = cgrad.tensor(np.random.default_rng(4).standard_normal((4, 2, 3)), requires_grad=True)
    assert cgrad.autograd.gradcheck(
        lambda x: F.ctc_loss(x.log_softmax(2), cgrad.tensor([[1, 2], [2, 0]]), (4, 3), (2, 1)), (logits,))


def test_ctc_loss_has_no_second_derivative():
    for lib in (cgrad, torch):
        lp = lib.tensor(np.log(np.full((3, 1, 3), 1 / 3)), requires_grad=True)
        loss = lib.nn.functional.ctc_loss(lp, lib.tensor([[1]]), (3,), (1,))
        (g,) = lib.autograd.grad(loss, lp, create_graph=True)
        assert g.grad_fn.name() == "torch::autograd::NotImplemented"
        with pytest.raises(RuntimeError, match="derivative for aten::_ctc_loss_backward is not implemented"):
            g.sum().backward()


LP = "m.randn(5, 2, 4, dtype=m.float64).log_softmax(2)"


@pytest.mark.parametrize("call", [
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[1, 2], [1, 1]]), (5, 4, 3), (2, 2)),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[1, 2], [1, 1]]), (5, 4), (2, 2, 1)),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[1, 2], [1, 1]]), (6, 4), (2, 2)),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[1, 2], [1, 1]]), (-1, 4), (2, 2)),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[1, 2], [1, 1]]), (5, 4), (2, -2)),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[1, 2], [1, 1]]), (5, 4), (3, 2)),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([1, 2, 1, 1, 1]), (5, 4), (2, 2)),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[1, 2], [1, 1], [1, 1]]), (5, 4), (2, 2)),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[[1, 2]], [[1, 1]]]), (5, 4), (2, 2)),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[1, 2], [1, 1]]), (5, 4), (2, 2), blank=4),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[1, 2], [1, 1]]), (5, 4), (2, 2), blank=-1),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[1, 2], [1, 1]]), (5, 4), (2, 2), reduction="foo"),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[1, 2], [1, 1]]), m.tensor([5.0, 4.0]),
                                       m.tensor([2, 2])),
    lambda m: m.nn.functional.ctc_loss(eval(LP), m.tensor([[1, 2], [1, 1]]), m.tensor([5, 4]),
                                       m.tensor([2.0, 2.0])),
    lambda m: m.nn.functional.ctc_loss(eval(LP).long(), m.tensor([[1, 2], [1, 1]]), (5, 4), (2, 2)),
    lambda m: m.nn.functional.ctc_loss(eval(LP)[0], m.tensor([[1, 2], [1, 1]]), (5, 4), (2, 2)),
])
def test_ctc_loss_errors(call):
    assert_same_error(call)


def test_ctc_loss_mixed_lengths_and_bad_labels():
    lp = cgrad.randn(5, 2, 4, dtype=cgrad.float64).log_softmax(2)
    with pytest.raises(TypeError, match="ctc_loss\\(\\) received an invalid combination of arguments"):
        F.ctc_loss(lp, cgrad.tensor([[1, 2], [1, 1]]), cgrad.tensor([5, 4]), (2, 2))
    with pytest.raises(RuntimeError, match="target label 7 is out of range for 4 classes"):
        F.ctc_loss(lp, cgrad.tensor([[1, 7], [1, 1]]), (5, 4), (2, 2))


# ---- affine_grid and grid_sample ------------------------------------------------------------

THETA = [[[0.9, -0.3, 0.1], [0.2, 1.1, -0.2]], [[1.3, 0.4, 0.5], [-0.6, 0.8, 0.3]]]
THETA3 = np.random.default_rng(7).standard_normal((2, 3, 4)) * 0.5 + np.eye(3, 4)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 3, 4, 2)])
def test_affine_grid_matches_torch(align_corners, dtype, size):
    tc, tt = leaves(THETA if len(size) == 4 else THETA3, dtype)
    ours = F.affine_grid(tc, size, align_corners=align_corners)
    theirs = TF.affine_grid(tt, size, align_corners=align_corners)
    close(ours, theirs, TOL[dtype])
    assert ours.grad_fn.name() == theirs.grad_fn.name() == "AffineGridGeneratorBackward0"
    w = np.random.default_rng(2).standard_normal(tuple(theirs.shape))
    (ours * cgrad.tensor(w, dtype=ours.dtype)).sum().backward()
    (theirs * torch.tensor(w, dtype=theirs.dtype)).sum().backward()
    close(tc.grad, tt.grad, TOL[dtype])


def test_affine_grid_unit_sizes_warnings_and_errors():
    tc, tt = leaves(THETA, "float64")
    close(F.affine_grid(tc, (2, 1, 1, 3), align_corners=False), TF.affine_grid(tt, (2, 1, 1, 3), align_corners=False),
          1e-12)
    with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior has changed"):
        F.affine_grid(tc, (2, 1, 2, 2))
    assert_same_error_named(lambda m: m.nn.functional.affine_grid(m.ones(2, 3, 3), (2, 1, 2, 2),
                                                                  align_corners=False))
    assert_same_error_named(lambda m: m.nn.functional.affine_grid(m.ones(2, 2, 3, dtype=m.int64), (2, 1, 2, 2),
                                                                  align_corners=False))
    assert_same_error(lambda m: m.nn.functional.affine_grid(m.ones(2, 2, 3), (2, 1, 2), align_corners=False))
    assert_same_error(lambda m: m.nn.functional.affine_grid(m.ones(2, 2, 3), (2, 1, 0, 2), align_corners=False))
    assert_same_error_named(lambda m: m.nn.functional.affine_grid(m.ones(2, 2, 3), (2, 1, 2, 2, 2),
                                                                  align_corners=False))


def sample_inputs(dtype, seed=0, spread=1.4, nd=2):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 4, 5) if nd == 2 else (2, 2, 3, 4, 3))
    grid_shape = (2, 3, 6, 2) if nd == 2 else (2, 2, 3, 4, 3)
    grid = rng.uniform(-spread, spread, grid_shape)  # points outside [-1, 1] exercise the padding
    return leaves(x, dtype), leaves(grid, dtype)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_grid_sample_matches_torch(mode, padding_mode, align_corners, dtype):
    (xc, xt), (gc, gt) = sample_inputs(dtype)
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    ours, theirs = F.grid_sample(xc, gc, **kw), TF.grid_sample(xt, gt, **kw)
    close(ours, theirs, TOL[dtype])
    assert ours.grad_fn.name() == theirs.grad_fn.name() == "GridSampler2DBackward0"
    w = np.random.default_rng(3).standard_normal(tuple(theirs.shape))
    (ours * cgrad.tensor(w, dtype=ours.dtype)).sum().backward()
    (theirs * torch.tensor(w, dtype=theirs.dtype)).sum().backward()
    close(xc.grad, xt.grad, TOL[dtype])
    close(gc.grad, gt.grad, TOL[dtype] * 10)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_grid_sample_3d_matches_torch(mode, padding_mode, align_corners, dtype):
    (xc, xt), (gc, gt) = sample_inputs(dtype, seed=1, nd=3)
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    ours, theirs = F.grid_sample(xc, gc, **kw), TF.grid_sample(xt, gt, **kw)
    close(ours, theirs, TOL[dtype])
    assert ours.grad_fn.name() == theirs.grad_fn.name() == "GridSampler3DBackward0"
    w = np.random.default_rng(3).standard_normal(tuple(theirs.shape))
    (ours * cgrad.tensor(w, dtype=ours.dtype)).sum().backward()
    (theirs * torch.tensor(w, dtype=theirs.dtype)).sum().backward()
    close(xc.grad, xt.grad, TOL[dtype])
    close(gc.grad, gt.grad, TOL[dtype] * 10)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_far_and_non_finite_points(mode, padding_mode):
    x = np.random.default_rng(8).standard_normal((1, 2, 3, 4))
    grid = np.array([[[[1e30, 0.2], [-1e30, 0.5], [np.inf, 0.0], [0.1, -np.inf], [np.nan, 0.3], [3.0, -7.5]]]])
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=False)
    ours = F.grid_sample(cgrad.tensor(x), cgrad.tensor(grid), **kw)
    theirs = TF.grid_sample(torch.tensor(x), torch.tensor(grid), **kw)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-10)
    if mode == "bicubic":
        return
    # volumetric input goes through PyTorch's scalar kernel, which treats such points its own way
    x3 = np.random.default_rng(9).standard_normal((1, 1, 2, 3, 4))
    grid3 = np.concatenate([grid, np.array([[[[0.1], [0.3], [-0.2], [0.4], [0.0], [2.5]]]])], axis=-1)[:, None]
    kw["align_corners"] = True
    ours = F.grid_sample(cgrad.tensor(x3), cgrad.tensor(grid3), **kw)
    theirs = TF.grid_sample(torch.tensor(x3), torch.tensor(grid3), **kw)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-10)


def test_grid_sample_of_an_affine_grid_and_gradcheck():
    (xc, xt), _ = sample_inputs("float64")
    tc, tt = leaves(THETA, "float64")
    ours = F.grid_sample(xc, F.affine_grid(tc, (2, 3, 3, 4), align_corners=False), align_corners=False)
    theirs = TF.grid_sample(xt, TF.affine_grid(tt, (2, 3, 3, 4), align_corners=False), align_corners=False)
    close(ours, theirs, 1e-10)
    assert graph_of(ours.grad_fn) == graph_of(theirs.grad_fn)
    ours.sum().backward()
    theirs.sum().backward()
    close(tc.grad, tt.grad, 1e-10)
    x = cgrad.tensor(np.random.default_rng(5).standard_normal((1, 2, 3, 3)), requires_grad=True)
    grid = cgrad.tensor(np.random.default_rng(6).uniform(-0.9, 0.9, (1, 2, 2, 2)), requires_grad=True)
    for mode in ("bilinear", "bicubic"):
        assert cgrad.autograd.gradcheck(lambda a, b: F.grid_sample(a, b, mode=mode, align_corners=True), (x, grid))
    x = cgrad.tensor(np.random.default_rng(5).standard_normal((1, 1, 2, 3, 2)), requires_grad=True)
    grid = cgrad.tensor(np.random.default_rng(6).uniform(-0.9, 0.9, (1, 2, 1, 2, 3)), requires_grad=True)
    assert cgrad.autograd.gradcheck(lambda a, b: F.grid_sample(a, b, padding_mode="reflection", align_corners=False),
                                    (x, grid))


@pytest.mark.parametrize("nd", [2, 3])
def test_grid_sample_has_no_second_derivative(nd):
    (xc, _), (gc, _) = sample_inputs("float64", nd=nd)
    out = F.grid_sample(xc, gc, align_corners=False)
    gx, gg = cgrad.autograd.grad(out.sum(), [xc, gc], create_graph=True)
    with pytest.raises(RuntimeError, match=f"derivative for aten::grid_sampler_{nd}d_backward is not implemented"):
        (gx.sum() + gg.sum()).backward()


@pytest.mark.parametrize("call", [
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2), m.ones(1, 2, 2, 2), mode="foo", align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2), m.ones(1, 2, 2, 2), padding_mode="foo",
                                          align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2), m.ones(1, 2, 2, 2, dtype=m.float64),
                                          align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2), m.ones(1, 2, 2), align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2), m.ones(2, 2, 2, 2), align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2), m.ones(1, 2, 2, 3), align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 0, 2), m.ones(1, 2, 2, 2), align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2, 2), m.ones(1, 2, 2, 2, 3), mode="bicubic",
                                          align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2, 2), m.ones(1, 2, 2, 3), align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2, dtype=m.int64), m.ones(1, 2, 2, 2, dtype=m.int64),
                                          align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2, 2, dtype=m.int64), m.ones(1, 2, 2, 2, 3, dtype=m.int64),
                                          align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2), m.ones(1, 2, 1), align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2, 2), m.ones(1, 2, 2, 2, 3, dtype=m.float64),
                                          align_corners=False),
])
def test_grid_sample_errors(call):
    assert_same_error(call)


def test_grid_sample_warns_without_align_corners():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.grid_sample(cgrad.ones(1, 1, 2, 2), cgrad.zeros(1, 2, 2, 2))
    assert "align_corners=False since 1.3.0" in str(caught[0].message)
