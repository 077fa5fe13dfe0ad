"""Comparisons of cgrad.distributions with torch.distributions that several suites share: paired leaves,
values and gradients to a tolerance, and errors with torch's text in cgrad's spelling."""
import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")

TOL = {"float32": (2e-5, 2e-5), "float64": (1e-10, 1e-10)}


def pair(values, dtype="float64", requires_grad=True):
    array = np.asarray(values, dtype=dtype)
    return (cgrad.tensor(array.copy(), requires_grad=requires_grad),
            torch.tensor(array.copy(), requires_grad=requires_grad))


def close(mine, theirs, dtype="float64", scale=1.0, tol=TOL):
    rtol, atol = tol[dtype]
    expected = theirs.detach().numpy()
    actual = mine.detach().numpy()
    assert tuple(actual.shape) == tuple(expected.shape)
    assert str(actual.dtype) == str(expected.dtype)
    np.testing.assert_allclose(actual, expected, rtol=rtol * scale, atol=atol * scale, equal_nan=True)


def check(got, expected, my_leaves, their_leaves, dtype="float64", scale=1.0, tol=TOL):
    """Values agree, and so do the gradients of a weighted sum over the finite entries."""
    close(got, expected, dtype, scale, tol)
    if not expected.requires_grad:
        return
    finite = np.isfinite(expected.detach().numpy())
    weights = np.linspace(0.5, 1.5, max(expected.numel(), 1)).reshape(tuple(expected.shape))
    weights = np.where(finite, weights, 0.0).astype(dtype)
    mine = (cgrad.where(cgrad.tensor(finite), got, 0.0) * cgrad.tensor(weights)).sum()
    theirs = (torch.where(torch.tensor(finite), expected, 0.0) * torch.tensor(weights)).sum()
    my_grads = cgrad.autograd.grad(mine, my_leaves, allow_unused=True, retain_graph=True)
    their_grads = torch.autograd.grad(theirs, their_leaves, allow_unused=True, retain_graph=True)
    for g, h in zip(my_grads, their_grads):
        if h is None:
            assert g is None or not np.any(g.numpy())
        else:
            close(g, h, dtype, 20 * scale, tol)


def tr(text):
    return text.replace("torch.", "cgrad.")


def same_error(mine, theirs):
    with pytest.raises(Exception) as expected:
        theirs()
    kind = cgrad.linalg.LinAlgError if isinstance(expected.value, torch.linalg.LinAlgError) else type(expected.value)
    with pytest.raises(kind) as got:
        mine()
    assert str(got.value) == tr(str(expected.value))
