"""renorm and cdist, compositions of cgrad's ops: values and gradients against
torch (both of cdist's ways for p = 2), and their errors. Their grad_fn is the
last op of the composition, where torch has one node (RenormBackward0,
CdistBackward0)."""
import numpy as np
import pytest

import cgrad
from cgrad.autograd import gradcheck, gradgradcheck
from helpers import assert_same_error

INF = float("inf")
CASES = {
    "renorm p=2 dim 0": (lambda m, x: x.renorm(2, 0, 1.0), [(3, 4)]),
    "renorm function, dim 1": (lambda m, x: m.renorm(x, 2, 1, 0.8), [(3, 4)]),
    "renorm p=inf": (lambda m, x: x.renorm(INF, 0, 1.0), [(3, 4)]),
    "renorm p=1.5, 3-d": (lambda m, x: x.renorm(1.5, -1, 2.0), [(2, 3, 4)]),
    "renorm below maxnorm": (lambda m, x: x.renorm(2, 0, 100.0), [(3, 4)]),
    "cdist": (lambda m, a, b: m.cdist(a, b), [(5, 3), (4, 3)]),
    "cdist by a product (over 25 rows)": (lambda m, a, b: m.cdist(a, b), [(30, 3), (4, 3)]),
    "cdist p=1": (lambda m, a, b: m.cdist(a, b, p=1), [(5, 3), (4, 3)]),
    "cdist p=3": (lambda m, a, b: m.cdist(a, b, p=3), [(5, 3), (4, 3)]),
    "cdist p=inf": (lambda m, a, b: m.cdist(a, b, p=INF), [(5, 3), (4, 3)]),
    "cdist p=0": (lambda m, a, b: m.cdist(a, b, p=0), [(5, 3), (4, 3)]),
    "cdist batched, broadcast": (lambda m, a, b: m.cdist(a, b), [(2, 1, 4, 3), (3, 5, 3)]),
    "cdist always by a product": (lambda m, a, b: m.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
                                  [(5, 3), (4, 3)]),
    "cdist never by a product": (lambda m, a, b: m.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist"),
                                 [(30, 3), (4, 3)]),
}


def run(lib, fn, data):
    ts = [lib.tensor(d, requires_grad=True) for d in data]
    y = fn(lib, *ts)
    w = lib.tensor(np.cos(np.arange(int(np.prod(tuple(y.shape))))).reshape(tuple(y.shape)))
    (y * w).sum().backward()
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("case", CASES)
def test_values_and_gradients_match_torch(case):
    torch = pytest.importorskip("torch")
    fn, shapes = CASES[case]
    rng = np.random.default_rng(0)
    data = [rng.standard_normal(s) for s in shapes]
    y, grads = run(cgrad, fn, data)
    t_y, t_grads = run(torch, fn, data)
    np.testing.assert_allclose(y, t_y, rtol=1e-10, atol=1e-12)
    for g, t_g in zip(grads, t_grads):
        np.testing.assert_allclose(g, t_g, rtol=1e-9, atol=1e-11)


def test_renorm_scales_only_the_slices_above_maxnorm():
    x = cgrad.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    out = x.renorm(2, 0, 1.0).numpy()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), [1.0, 0.5, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(out[1], x[1].numpy())
    y = x.clone()
    assert y.renorm_(2, 0, 1.0) is y and cgrad.equal(y, x.renorm(2, 0, 1.0))


def test_renorm_in_place_on_a_non_leaf_backpropagates_as_torch():
    torch = pytest.importorskip("torch")
    grads = []
    for m in (cgrad, torch):
        x = m.tensor([[3.0, 4.0], [1.0, 0.0]], dtype=m.float64, requires_grad=True)
        y = x * 1
        y.renorm_(2, 0, 1.0)
        (y * m.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=m.float64)).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


def test_cdist_p0_counts_infinite_differences():
    torch = pytest.importorskip("torch")
    a, b = [[float("inf"), 1.0], [2.0, 1.0]], [[0.0, 1.0]]
    assert cgrad.cdist(cgrad.tensor(a), cgrad.tensor(b), p=0).tolist() == \
        torch.cdist(torch.tensor(a), torch.tensor(b), p=0).tolist()


def test_cdist_zero_distances_have_zero_gradient():
    torch = pytest.importorskip("torch")
    for p in (2, 1, 3, INF, 0.5):
        for lib in (cgrad, torch):
            z = lib.zeros(2, 3, requires_grad=True)
            lib.cdist(z, lib.zeros(2, 3), p=p).sum().backward()
            assert np.array_equal(z.grad.numpy(), np.zeros((2, 3))), (lib.__name__, p)


def test_cdist_float32_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((40, 6)).astype(np.float32), rng.standard_normal((7, 6)).astype(np.float32)
    ours = cgrad.cdist(cgrad.tensor(a), cgrad.tensor(b)).numpy()
    np.testing.assert_allclose(ours, torch.cdist(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_gradcheck_and_gradgradcheck(p):
    rng = np.random.default_rng(2)
    a = cgrad.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = cgrad.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    x = cgrad.tensor(rng.standard_normal((3, 4)) * 2, requires_grad=True)
    assert gradcheck(lambda u, v: cgrad.cdist(u, v, p=p), [a, b])
    assert gradgradcheck(lambda u, v: cgrad.cdist(u, v, p=p), [a, b])
    assert gradcheck(lambda u: u.renorm(p, 0, 1.0), [x])
    assert gradgradcheck(lambda u: u.renorm(p, 0, 1.0), [x])


ERRORS = {
    "renorm: p = 0": lambda m: m.ones(3, 4).renorm(0, 0, 1.0),
    "renorm: negative p": lambda m: m.ones(3, 4).renorm(-1, 0, 1.0),
    "renorm: negative maxnorm": lambda m: m.ones(3, 4).renorm(2, 0, -1.0),
    "renorm: dim": lambda m: m.ones(3, 4).renorm(2, 2, 1.0),
    "renorm: 1-d": lambda m: m.ones(4).renorm(2, 0, 1.0),
    "renorm: 0-d": lambda m: m.ones(()).renorm(2, 0, 1.0),
    "cdist: negative p": lambda m: m.cdist(m.ones(5, 3), m.ones(4, 3), p=-1),
    "cdist: columns": lambda m: m.cdist(m.ones(5, 3), m.ones(4, 2)),
    "cdist: 1-d": lambda m: m.cdist(m.ones(3), m.ones(4, 3)),
    "cdist: 0-d": lambda m: m.cdist(m.ones(()), m.ones(4, 3)),
    "cdist: integers": lambda m: m.cdist(m.tensor([[1, 2]]), m.tensor([[1, 2]])),
    "cdist: dtypes": lambda m: m.cdist(m.ones(5, 3), m.ones(4, 3, dtype=m.float64)),
    "cdist: compute_mode": lambda m: m.cdist(m.ones(5, 3), m.ones(4, 3), compute_mode="bad"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_match_torch(case):
    assert_same_error(ERRORS[case])
