"""einsum: values and gradients against torch and numpy, the equation forms
(explicit, implicit, ellipsis, sublists), broadcasting of sizes of 1, and
the errors of a malformed equation."""
import numpy as np
import pytest

import cgrad
from cgrad.autograd import gradcheck, gradgradcheck
from helpers import assert_same_error, run_twins, sgd_step

CASES = [
    ("ij,jk", [(2, 3), (3, 4)]), ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ij,ik->", [(2, 3), (2, 3)]), ("bii->bi", [(2, 3, 3)]), ("ii", [(3, 3)]), ("ii->i", [(3, 3)]),
    ("...ij,...jk", [(2, 3, 3), (3, 3)]), ("...ij,...jk", [(2, 1, 3, 3), (5, 3, 3)]), ("i...->...", [(2, 3, 4)]),
    ("ij->j", [(2, 3)]), ("i,i", [(3,), (1,)]), ("i,j->", [(3,), (2,)]), ("ij->", [(2, 3)]), ("i,j", [(3,), (2,)]),
    ("ij,jk->ik", [(2, 3), (1, 4)]), ("ij, jk -> ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(4, 2, 3), (4, 3, 5)]),
    ("bij,jk->bik", [(4, 2, 3), (3, 5)]), ("ijk,ikl->jl", [(2, 3, 4), (2, 4, 5)]), ("iij,jk->ik", [(3, 3, 2), (2, 4)]),
    ("abc,cd,de->abe", [(2, 3, 4), (4, 5), (5, 2)]), ("i,i,i->i", [(3,), (3,), (1,)]), ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("ji", [(2, 3)]), ("->", [()]), ("", [()]), ("ijij->", [(2, 3, 2, 3)]), ("Ab,bC->AC", [(2, 3), (3, 2)]),
    ("...,...->...", [(2, 3), (3,)]), ("i...j,j...->i...", [(2, 4, 3), (3, 4)]), ("ab,cd->abcd", [(2, 1), (3, 2)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]), ("ij,jk->ik", [(0, 3), (3, 2)]), ("ij,jk->ik", [(2, 0), (0, 3)]),
]


def run(lib, equation, data, dtype="float64"):
    ts = [lib.tensor(d, dtype=getattr(lib, dtype), requires_grad=True) for d in data]
    y = lib.einsum(equation, *ts)
    w = lib.tensor(np.cos(np.arange(int(np.prod(tuple(y.shape))))).reshape(tuple(y.shape)),
                   dtype=getattr(lib, dtype))
    (y * w).sum().backward()
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("equation, shapes", CASES)
def test_values_and_gradients_match_torch(equation, shapes):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    data = [rng.standard_normal(s) for s in shapes]
    y, grads = run(cgrad, equation, data)
    t_y, t_grads = run(torch, equation, data)
    assert y.shape == t_y.shape
    np.testing.assert_allclose(y, t_y, rtol=1e-12, atol=1e-12)
    for g, t_g in zip(grads, t_grads):
        np.testing.assert_allclose(g, t_g, rtol=1e-12, atol=1e-12)


NUMPY_CASES = [c for c in CASES  # numpy's einsum does not broadcast sizes of 1 against other sizes
               if "..." not in c[0] and "->" in c[0] and c[1][0] and not any(1 in s for s in c[1])]


@pytest.mark.parametrize("equation, shapes", NUMPY_CASES)
def test_values_match_numpy(equation, shapes):
    rng = np.random.default_rng(1)
    data = [rng.standard_normal(s) for s in shapes]
    ours = cgrad.einsum(equation, *[cgrad.tensor(d) for d in data]).numpy()
    np.testing.assert_allclose(ours, np.einsum(equation.replace(" ", ""), *data), rtol=1e-12, atol=1e-12)


def test_diagonals_ignore_what_is_off_them():
    """Off-diagonal infinities and NaNs do not reach a diagonal (or a trace)."""
    torch = pytest.importorskip("torch")
    data = [[1.0, float("inf")], [float("nan"), 2.0]]
    for equation in ("ii->i", "ii", "iji->j"):
        a = np.array(data) if equation != "iji->j" else np.array(data)[:, None, :].repeat(3, 1)
        ours = cgrad.einsum(equation, cgrad.tensor(a)).numpy()
        np.testing.assert_array_equal(ours, torch.einsum(equation, torch.tensor(a)).numpy())


def test_float32_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    data = [rng.standard_normal((3, 4, 5)), rng.standard_normal((5, 6))]
    y, grads = run(cgrad, "bij,jk->bki", data, "float32")
    t_y, t_grads = run(torch, "bij,jk->bki", data, "float32")
    np.testing.assert_allclose(y, t_y, rtol=1e-5, atol=1e-5)
    for g, t_g in zip(grads, t_grads):
        np.testing.assert_allclose(g, t_g, rtol=1e-5, atol=1e-5)


def test_operand_list_and_sublist_forms():
    rng = np.random.default_rng(3)
    a, b, c = (cgrad.tensor(rng.standard_normal(s)) for s in [(2, 3), (3, 4), (2, 3, 3)])
    expected = cgrad.einsum("ij,jk->ik", a, b)
    assert cgrad.equal(cgrad.einsum("ij,jk->ik", [a, b]), expected)
    assert cgrad.equal(cgrad.einsum(a, [0, 1], b, [1, 2], [0, 2]), expected)
    assert cgrad.equal(cgrad.einsum(a, [0, 1], b, [1, 2]), expected)
    assert cgrad.equal(cgrad.einsum(c, [..., 1, 1], [..., 1]), cgrad.einsum("...ii->...i", c))


def test_integer_operands_match_torch():
    torch = pytest.importorskip("torch")
    for lib in (cgrad, torch):
        r = lib.einsum("ij,jk->ik", lib.tensor([[1, 2], [3, 4]]), lib.tensor([[1, 0], [2, 1]]))
        if lib is cgrad:
            ours = (r.tolist(), str(r.dtype).split(".")[-1])
        else:
            assert ours == (r.tolist(), str(r.dtype).split(".")[-1])


@pytest.mark.parametrize("equation, shapes", [("ij,jk->ik", [(2, 3), (3, 2)]), ("bii->b", [(2, 3, 3)]),
                                              ("i,i,i->i", [(3,), (3,), (1,)]), ("...j,j->...", [(2, 3), (3,)])])
def test_gradcheck_and_gradgradcheck(equation, shapes):
    rng = np.random.default_rng(4)
    ts = [cgrad.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert gradcheck(lambda *xs: cgrad.einsum(equation, *xs), ts)
    assert gradgradcheck(lambda *xs: cgrad.einsum(equation, *xs), ts)


A, B = np.ones((2, 3)), np.ones((3, 4))
ERRORS = {
    "more operands": lambda m: m.einsum("ij", m.tensor(A), m.tensor(B)),
    "no operands": lambda m: m.einsum("ij,jk->ik"),
    "fewer operands": lambda m: m.einsum("ij,jk,kl->il", m.tensor(A), m.tensor(B)),
    "subscripts and dims": lambda m: m.einsum("ijk,jk->ik", m.tensor(A), m.tensor(B)),
    "output repeats": lambda m: m.einsum("ij,jk->ii", m.tensor(A), m.tensor(B)),
    "output unknown": lambda m: m.einsum("ij,jk->iz", m.tensor(A), m.tensor(B)),
    "repeated sizes": lambda m: m.einsum("ij,kk->ik", m.tensor(A), m.tensor(B)),
    "invalid subscript": lambda m: m.einsum("i1,jk->ik", m.tensor(A), m.tensor(B)),
    "sizes": lambda m: m.einsum("ij,ik->", m.tensor(A), m.tensor(B)),
    "ellipsis sizes": lambda m: m.einsum("...ij,...jk", m.ones(2, 4, 3, 3), m.ones(5, 3, 3)),
    "dtypes": lambda m: m.einsum("ij,jk->ik", m.tensor(A, dtype=m.float32), m.tensor(B)),
    "stray dot": lambda m: m.einsum("i.j", m.tensor(A)),
    "two dots": lambda m: m.einsum("ij..", m.tensor(A)),
    "too many subscripts for ellipsis": lambda m: m.einsum("...ijkl->...", m.ones(2, 3, 3)),
    "not a tensor": lambda m: m.einsum("ij", A),
    "two ellipses in output": lambda m: m.einsum("...i->......", m.tensor(A)),
    "invalid output subscript": lambda m: m.einsum("ij->i1", m.tensor(A)),
    "0-d with a subscript": lambda m: m.einsum("i->i", m.tensor(2.0)),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_match_torch(case):
    assert_same_error(ERRORS[case])


def einsum_loss(params, x, z):
    return cgrad.einsum("bi,ijk,bk->bj", x, params[0], z.tanh()).pow(2).mean()


def test_compiled_step_matches_eager_bit_for_bit():
    def params():
        return [cgrad.tensor(np.random.default_rng(0).standard_normal((3, 4, 5)), dtype=cgrad.float32,
                             requires_grad=True)]

    rng = np.random.default_rng(1)
    batches = [(cgrad.tensor(rng.standard_normal((6, 3)), dtype=cgrad.float32),
                cgrad.tensor(rng.standard_normal((6, 5)), dtype=cgrad.float32)) for _ in range(7)]
    assert run_twins(sgd_step(einsum_loss, 0.05), params(), params(), batches, fullgraph=True)._cgrad_step.replays >= 3
