"""cgrad.linalg's factorizations and solvers (cholesky, solve, solve_triangular,
lu, eigh, qr, svd and their _ex forms) and the compositions over them, checked
against torch: values, gradients (first and second order; gauge-invariant
losses for eigenvectors and singular vectors), float32 and float64, batches,
graph node names and errors."""
import functools
import math

import numpy as np
import pytest

import cgrad
from helpers import compare_two_orders

torch = pytest.importorskip("torch")

RTOL = {"float64": 1e-8, "float32": 2e-3}


def draw(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def spd(lib, x):
    """x x^T + n I: symmetric positive-definite, differentiable in x."""
    n = x.shape[-1]
    return x @ x.mT + n * lib.eye(n, dtype=x.dtype)


def close(a, b, rtol, what):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol, err_msg=what)


compare = functools.partial(compare_two_orders, rtols=RTOL, close=close)


# ---- cholesky ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_cholesky(dtype, upper, shape):
    compare(lambda lib, x: lib.linalg.cholesky(spd(lib, x), upper=upper), [draw(shape)], dtype)


def test_cholesky_reads_one_triangle_and_grad_of_a_leaf():
    a = draw((4, 4), 1) + 4 * np.eye(4)
    a = a @ a.T
    a[0, 3] += 50.0  # the other triangle is never read
    compare(lambda lib, x: lib.linalg.cholesky(x), [a])
    compare(lambda lib, x: lib.linalg.cholesky(x.mT, upper=True), [a])


def test_cholesky_ex_info_and_errors():
    bad = cgrad.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=cgrad.float64)
    out = cgrad.linalg.cholesky_ex(bad)
    assert out.info.item() == 2 and out.L.shape == (2, 2)
    assert cgrad.linalg.cholesky_ex(cgrad.eye(2)).info.item() == 0
    msg = ("linalg.cholesky: The factorization could not be completed because the input is not positive-definite "
           "(the leading minor of order 2 is not positive-definite).")
    with pytest.raises(cgrad.linalg.LinAlgError) as e:
        cgrad.linalg.cholesky(bad)
    assert str(e.value) == msg
    with pytest.raises(RuntimeError, match=r"linalg.cholesky: \(Batch element 0\): The factorization"):
        cgrad.linalg.cholesky(bad.expand(2, 2, 2))
    with pytest.raises(RuntimeError, match="linalg.cholesky_ex: The factorization"):
        cgrad.linalg.cholesky_ex(bad, check_errors=True)


# ---- solve, solve_triangular, inv_ex -------------------------------------------------------------

def well(shape, seed=0):
    return draw(shape, seed) * 0.3 + np.eye(shape[-1])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("shapes", [((3, 3), (3, 2)), ((2, 3, 3), (3, 4)), ((3, 3), (2, 3, 3))])
def test_solve(dtype, left, shapes):
    a, b = shapes
    if not left:
        b = b[:-2] + (b[-1], b[-2])
    compare(lambda lib, x, y: lib.linalg.solve(x, y, left=left), [well(a), draw(b, 1)], dtype)


@pytest.mark.parametrize("shapes", [((3, 3), (3,)), ((2, 3, 3), (2, 3)), ((2, 3, 3), (3,))])
def test_solve_vector_rhs(shapes):
    a, b = shapes
    out = compare(lambda lib, x, y: lib.linalg.solve(x, y), [well(a), draw(b, 1)])
    assert out.grad_fn.name() == "LinalgSolveExBackward0"


def test_solve_ex_singular_and_errors():
    z = cgrad.zeros(3, 3, dtype=cgrad.float64)
    v = cgrad.ones(3, dtype=cgrad.float64)
    assert cgrad.linalg.solve_ex(z, v).info.item() == 1
    with pytest.raises(cgrad.linalg.LinAlgError, match=r"^torch.linalg.solve: The solver failed because the input "
                       r"matrix is singular.$"):
        cgrad.linalg.solve(z, v)
    with pytest.raises(RuntimeError, match=r"torch.linalg.solve: \(Batch element 0\): The solver failed"):
        cgrad.linalg.solve(z.expand(2, 3, 3), v)
    with pytest.raises(RuntimeError, match=r"torch.linalg.solve_ex: The solver failed"):
        cgrad.linalg.solve_ex(z, v, check_errors=True)
    with pytest.raises(RuntimeError, match=r"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                       r"\(3x3 and 4x2\)"):
        cgrad.linalg.solve(z, cgrad.zeros(4, 2, dtype=cgrad.float64))
    with pytest.raises(RuntimeError, match="linalg.solve: Expected A and B to have the same dtype, but found A of "
                       "type Double and B of type Float instead"):
        cgrad.linalg.solve(z, v.float())
    with pytest.raises(RuntimeError, match="linalg.solve: Expected a floating point or complex tensor as input. "
                       "Got Long"):
        cgrad.linalg.solve(cgrad.ones(3, 3, dtype=cgrad.int64), v)
    with pytest.raises(RuntimeError, match="linalg.solve: A must be batches of square matrices, but they are 3 by 4"):
        cgrad.linalg.solve(cgrad.ones(3, 4, dtype=cgrad.float64), v)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular(dtype, upper, left, unit):
    b = (3, 2) if left else (2, 3)
    compare(lambda lib, x, y: lib.linalg.solve_triangular(x, y, upper=upper, left=left, unitriangular=unit),
            [well((2, 3, 3)), draw(b, 1)], dtype)


def test_solve_triangular_errors():
    a = cgrad.eye(3, dtype=cgrad.float64)
    with pytest.raises(RuntimeError, match=r"linalg.solve_triangular: Incompatible shapes of A and B for the "
                       r"equation XA = B \(3x3 and 4x2\)"):
        cgrad.linalg.solve_triangular(a, cgrad.ones(4, 2, dtype=cgrad.float64), upper=True, left=False)
    with pytest.raises(RuntimeError, match="linalg.solve_triangular: The input tensor B must have at least 2 dim"):
        cgrad.linalg.solve_triangular(a, cgrad.ones(3, dtype=cgrad.float64), upper=True)
    with pytest.raises(NotImplementedError, match="\"triangular_solve_cpu\" not implemented for 'Long'"):
        cgrad.linalg.solve_triangular(a.long(), a.long(), upper=True)
    with pytest.raises(TypeError):
        cgrad.linalg.solve_triangular(a, a)
    assert cgrad.linalg.solve_triangular(a, cgrad.ones(3, 2), upper=True).dtype == cgrad.float64


def test_inv_ex():
    compare(lambda lib, x: lib.linalg.inv_ex(x).inverse, [well((2, 3, 3))])
    z = cgrad.zeros(3, 3)
    out = cgrad.linalg.inv_ex(z)
    assert out.info.item() == 1
    with pytest.raises(cgrad.linalg.LinAlgError, match=r"^linalg.inv_ex: The diagonal element 1 is zero, the "
                       r"inversion could not be completed because the input matrix is singular.$"):
        cgrad.linalg.inv_ex(z, check_errors=True)


# ---- lu ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (3, 5), (5, 3)])
def test_lu_factor(dtype, shape):
    compare(lambda lib, x: lib.linalg.lu_factor(x).LU, [draw(shape)], dtype)
    a = draw(shape)
    mine = cgrad.linalg.lu_factor_ex(cgrad.tensor(a))
    ref = torch.linalg.lu_factor_ex(torch.tensor(a))
    assert mine.pivots.tolist() == ref.pivots.tolist() and mine.info.tolist() == ref.info.tolist()


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 5), (5, 3)])
def test_lu(shape):
    for k in range(3):
        compare(lambda lib, x: lib.linalg.lu(x)[k] + 0 * x.sum(), [draw(shape)], second=k > 0)
    p, lo, up = cgrad.linalg.lu(cgrad.tensor(draw(shape), requires_grad=True))
    assert not p.requires_grad and lo.grad_fn.name() == "LinalgLuBackward0"
    close(p @ lo @ up, draw(shape), 1e-10, "P L U")


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [False, True])
def test_lu_solve(left, adjoint):
    b = (3, 2) if left else (2, 3)

    def fn(lib, a, y):
        lu, piv = lib.linalg.lu_factor(a)
        return lib.linalg.lu_solve(lu, piv, y, left=left, adjoint=adjoint)
    compare(fn, [well((2, 3, 3)), draw(b, 1)])


def test_lu_errors():
    z = cgrad.zeros(2, 3, 3)
    with pytest.raises(RuntimeError, match=r"^torch.linalg.lu_factor: \(Batch element 0\): U\[1,1\] is zero and "
                       r"using it on lu_solve would result in a division by zero."):
        cgrad.linalg.lu_factor(z)
    assert cgrad.linalg.lu_factor_ex(z).info.tolist() == [1, 1]
    with pytest.raises(RuntimeError, match=r"torch.lu_factor: Expected tensor with 2 or more dimensions. Got size: "
                       r"\[3\] instead"):
        cgrad.linalg.lu_factor(cgrad.zeros(3))
    with pytest.raises(NotImplementedError, match="\"lu_cpu\" not implemented for 'Long'"):
        cgrad.linalg.lu(cgrad.ones(3, 3, dtype=cgrad.int64))
    with pytest.raises(RuntimeError, match="linalg.lu_factor: LU without pivoting is not implemented on the CPU"):
        cgrad.linalg.lu_factor(cgrad.eye(3), pivot=False)


# ---- eigh -------------------------------------------------------------------------------------

def sym(lib, x):
    return x + x.mT


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh(dtype, uplo):
    def values(lib, x):
        return lib.linalg.eigh(sym(lib, x), UPLO=uplo).eigenvalues

    def rebuilt(lib, x):  # V f(w) V^T does not depend on the eigenvectors' signs
        w, v = lib.linalg.eigh(sym(lib, x), UPLO=uplo)
        return (v * w.exp().unsqueeze(-2)) @ v.mT

    def absolute(lib, x):
        return lib.linalg.eigh(sym(lib, x), UPLO=uplo).eigenvectors.abs()
    for fn in (values, rebuilt, absolute):
        compare(fn, [draw((2, 4, 4))], dtype, rtol=1e-7 if dtype == "float64" else 5e-3)


def test_eigh_reads_one_triangle():
    a = draw((3, 3), 2)
    compare(lambda lib, x: lib.linalg.eigvalsh(x), [a])
    compare(lambda lib, x: lib.linalg.eigvalsh(x, UPLO="U"), [a])
    out = cgrad.linalg.eigvalsh(cgrad.tensor(a, requires_grad=True))
    assert out.grad_fn.name() == "LinalgEighBackward0"
    assert cgrad.linalg.eigvalsh(cgrad.tensor(a)).grad_fn is None


def test_eigh_errors():
    with pytest.raises(RuntimeError, match="Expected UPLO argument to be 'L' or 'U', but got X"):
        cgrad.linalg.eigh(cgrad.eye(2), UPLO="X")
    with pytest.raises(NotImplementedError, match="\"linalg_eigh_cpu\" not implemented for 'Long'"):
        cgrad.linalg.eigh(cgrad.ones(2, 2, dtype=cgrad.int64))
    with pytest.raises(RuntimeError, match="linalg.eigh: A must be batches of square matrices, but they are 2 by 3"):
        cgrad.linalg.eigvalsh(cgrad.ones(2, 3))


# ---- qr ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 3, 5)])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_qr(dtype, shape, mode):
    if mode == "complete" and shape[-2] > shape[-1]:  # values only: not differentiable
        q, r = cgrad.linalg.qr(cgrad.tensor(draw(shape), dtype=getattr(cgrad, dtype)), mode=mode)
        tq, tr = torch.linalg.qr(torch.tensor(draw(shape), dtype=getattr(torch, dtype)), mode=mode)
        close(q, tq, RTOL[dtype], "Q"), close(r, tr, RTOL[dtype], "R")
        return
    for k in range(2):
        compare(lambda lib, x: lib.linalg.qr(x, mode=mode)[k], [draw(shape)], dtype)


def test_qr_mode_r_and_errors():
    a = cgrad.tensor(draw((4, 3)), requires_grad=True)
    q, r = cgrad.linalg.qr(a, mode="r")
    assert q.shape == (0,) and r.shape == (3, 3)
    close(r, torch.linalg.qr(torch.tensor(draw((4, 3))), mode="r").R, 1e-10, "R")
    with pytest.raises(RuntimeError, match=r"The derivative of linalg.qr depends on Q, which is not computed when "
                       r"mode='r'. Please use linalg.qr\(A, mode='reduced'\) if you are going to differentiate "
                       r"through linalg.qr."):
        r.sum().backward()
    with pytest.raises(RuntimeError, match="The QR decomposition is not differentiable when mode='complete' and "
                       "nrows > ncols."):
        cgrad.linalg.qr(a, mode="complete").Q.sum().backward()
    with pytest.raises(RuntimeError, match="qr received unrecognized mode 'foo' but expected one of 'reduced' "
                       r"\(default\), 'r', or 'complete'"):
        cgrad.linalg.qr(a, mode="foo")
    with pytest.raises(RuntimeError, match="linalg.qr: Expected a floating point or complex tensor as input. Got Long"):
        cgrad.linalg.qr(cgrad.ones(2, 2, dtype=cgrad.int64))


# ---- svd --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 3, 5)])
@pytest.mark.parametrize("full", [False, True])
def test_svd(dtype, shape, full):
    tol = 1e-7 if dtype == "float64" else 5e-3

    def product(lib, x):
        u, s, vh = lib.linalg.svd(x, full_matrices=full)
        k = s.shape[-1]
        return (u[..., :k] * s.exp().unsqueeze(-2)) @ vh[..., :k, :]

    def absolute(lib, x):
        u, s, vh = lib.linalg.svd(x, full_matrices=full)
        k = s.shape[-1]
        return u[..., :k].abs().sum(-2) + vh[..., :k, :].abs().sum(-1)
    compare(lambda lib, x: lib.linalg.svd(x, full_matrices=full).S, [draw(shape)], dtype, rtol=tol)
    compare(product, [draw(shape)], dtype, rtol=tol)
    compare(absolute, [draw(shape)], dtype, rtol=tol, second=False)


def test_svdvals_and_names():
    compare(lambda lib, x: lib.linalg.svdvals(x), [draw((2, 3, 4))])
    x = cgrad.tensor(draw((3, 4)), requires_grad=True)
    assert cgrad.linalg.svdvals(x).grad_fn.name() == "LinalgSvdBackward0"
    assert [t.grad_fn.name() for t in cgrad.linalg.svd(x)] == ["LinalgSvdBackward0"] * 3
    u, s, vh = cgrad.linalg.svd(x)
    assert u.shape == (3, 3) and s.shape == (3,) and vh.shape == (4, 4)
    with pytest.raises(RuntimeError, match="torch.linalg.svd: keyword argument `driver=` is only supported on CUDA"):
        cgrad.linalg.svd(x, driver="gesvd")
    with pytest.raises(cgrad.linalg.LinAlgError, match="linalg.svd: The algorithm failed to converge because the "
                       "input matrix contained non-finite values."):
        cgrad.linalg.svd(cgrad.full((3, 3), math.nan))


@pytest.mark.parametrize("name", ["cholesky", "eigh", "eigvalsh", "qr", "svd", "svdvals", "lu_factor", "lu"])
def test_shape_and_dtype_errors(name):
    fn = getattr(cgrad.linalg, name)
    tfn = getattr(torch.linalg, name)
    for mine, ref in ((cgrad.ones(3), torch.ones(3)), (cgrad.ones(3, 4), torch.ones(3, 4)),
                      (cgrad.ones(3, 3, dtype=cgrad.int64), torch.ones(3, 3, dtype=torch.int64))):
        try:
            tfn(ref)
        except Exception as e:
            with pytest.raises(type(e)) as got:
                fn(mine)
            assert str(got.value) == str(e)
        else:
            fn(mine)


def test_node_names():
    x = cgrad.tensor(draw((3, 3)) + 3 * np.eye(3), requires_grad=True)
    a = spd(cgrad, x)
    b = cgrad.tensor(draw((3, 2), 1), requires_grad=True)
    L = cgrad.linalg
    assert L.cholesky(a).grad_fn.name() == "LinalgCholeskyExBackward0"
    assert L.cholesky_ex(a).info.grad_fn is None
    assert L.solve(x, b).grad_fn.name() == "LinalgSolveExBackward0"
    assert L.solve_triangular(x, b, upper=True).grad_fn.name() == "LinalgSolveTriangularBackward0"
    assert L.inv_ex(x).inverse.grad_fn.name() == "LinalgInvExBackward0"
    assert [t.grad_fn.name() for t in L.eigh(a)] == ["LinalgEighBackward0"] * 2
    assert [t.grad_fn.name() for t in L.qr(x)] == ["LinalgQrBackward0"] * 2
    assert L.lu_factor(x).LU.grad_fn.name() == "LinalgLuFactorExBackward0"
    assert L.lu_solve(*L.lu_factor(x), b).grad_fn.name() == "LinalgLuSolveBackward0"


def test_non_contiguous_inputs():
    compare(lambda lib, x: lib.linalg.svdvals(x.mT), [draw((2, 4, 3))])
    compare(lambda lib, x, y: lib.linalg.solve(x.mT, y[..., ::2]), [well((3, 3)), draw((3, 4), 1)])
    compare(lambda lib, x: lib.linalg.cholesky(spd(lib, x).expand(2, 3, 3)), [draw((3, 3))])
    compare(lambda lib, x: lib.linalg.eigh(sym(lib, x)[::2]).eigenvalues, [draw((4, 3, 3))])
    compare(lambda lib, x, y: lib.linalg.solve_triangular(x.mT, y.mT, upper=True), [well((3, 3)), draw((2, 3), 1)])


EMPTY = {
    "cholesky": lambda m, x: m.linalg.cholesky(x),
    "eigh": lambda m, x: m.linalg.eigh(x)[0],
    "qr": lambda m, x: m.linalg.qr(x)[1],
    "qr complete": lambda m, x: m.linalg.qr(x, mode="complete")[0],
    "svd S": lambda m, x: m.linalg.svd(x)[1],
    "svd U": lambda m, x: m.linalg.svd(x)[0],
    "svd Vh": lambda m, x: m.linalg.svd(x)[2],
    "lu_factor": lambda m, x: m.linalg.lu_factor(x)[0],
    "lu P": lambda m, x: m.linalg.lu(x)[0],
    "solve": lambda m, x: m.linalg.solve(x, x),
}


@pytest.mark.parametrize("shape", [(0, 3, 3), (2, 0, 0), (3, 0), (0, 3)])
def test_empty_matrices(shape):
    for name, fn in EMPTY.items():
        try:
            ref = fn(torch, torch.zeros(shape, dtype=torch.float64))
        except RuntimeError as e:
            with pytest.raises(RuntimeError) as got:
                fn(cgrad, cgrad.zeros(shape, dtype=cgrad.float64))
            assert str(got.value) == str(e), name
            continue
        mine = fn(cgrad, cgrad.zeros(shape, dtype=cgrad.float64))
        assert tuple(mine.shape) == tuple(ref.shape) and mine.tolist() == ref.tolist(), name


# ---- compositions -------------------------------------------------------------------------------

def test_spectral_norms_rank_cond():
    for ord in (2, -2, "nuc", "fro", 1, -math.inf):
        compare(lambda lib, x: lib.linalg.matrix_norm(x, ord), [draw((2, 3, 4))], second=False)
        compare(lambda lib, x: lib.linalg.norm(x, ord), [draw((3, 4))], second=False)
    compare(lambda lib, x: lib.linalg.matrix_norm(x, 2, dim=(0, 2), keepdim=True), [draw((3, 2, 4))], second=False)
    for p in (None, 2, -2):
        compare(lambda lib, x: lib.linalg.cond(x, p), [well((2, 3, 3))], second=False)
    for p in ("fro", "nuc", 1, -math.inf):  # torch's own backward fails for these orders: values only
        a = well((2, 3, 3))
        close(cgrad.linalg.cond(cgrad.tensor(a), p), torch.linalg.cond(torch.tensor(a), p), 1e-10, f"cond {p}")
    a = draw((4, 3)) @ draw((3, 5))
    for dtype in ("float32", "float64"):
        for kw in ({}, {"atol": 1.0}, {"rtol": 0.5}):
            mine = cgrad.linalg.matrix_rank(cgrad.tensor(a, dtype=getattr(cgrad, dtype)), **kw)
            ref = torch.linalg.matrix_rank(torch.tensor(a, dtype=getattr(torch, dtype)), **kw)
            assert mine.tolist() == ref.tolist() and mine.dtype == cgrad.int64
    s = a @ a.T
    assert cgrad.linalg.matrix_rank(cgrad.tensor(s), hermitian=True).item() == 3


def test_products_and_builders():
    compare(lambda lib, x, y: lib.linalg.vecdot(x, y, dim=0), [draw((3, 4)), draw((3, 1), 1)])
    compare(lambda lib, x, y: lib.linalg.cross(x, y), [draw((2, 3)), draw((1, 3), 1)])
    compare(lambda lib, x, y, z: lib.linalg.multi_dot([x, y, z]), [draw((3,)), draw((3, 4), 1), draw((4,), 2)])
    compare(lambda lib, x, y, z: lib.linalg.multi_dot([x, y, z]), [draw((2, 3)), draw((3, 4), 1), draw((4, 5), 2)])
    compare(lambda lib, x: lib.linalg.vander(x), [draw((2, 3))])
    compare(lambda lib, x: lib.linalg.vander(x, N=5), [draw((3,))])
    compare(lambda lib, x: lib.linalg.diagonal(x, offset=1), [draw((2, 3, 4))], second=False)
    compare(lambda lib, x: lib.linalg.tensorinv(x, ind=1), [well((4, 4)).reshape(4, 2, 2)])
    compare(lambda lib, x, y: lib.linalg.tensorsolve(x, y), [well((6, 6)).reshape(2, 3, 6), draw((2, 3), 1)])
    compare(lambda lib, x, t: lib.linalg.householder_product(x, t), [draw((2, 4, 3)), draw((2, 2), 1)])
    with pytest.raises(RuntimeError, match="linalg.cross: inputs dimension -1 must have length 3. Got 2 and 2"):
        cgrad.linalg.cross(cgrad.ones(2), cgrad.ones(2))
    with pytest.raises(RuntimeError, match=r"multi_dot\(\): expected at least 2 tensors but got 1"):
        cgrad.linalg.multi_dot([cgrad.ones(2, 2)])
    with pytest.raises(NotImplementedError, match="\"orgqr_cpu\" not implemented for 'Long'"):
        cgrad.linalg.householder_product(cgrad.ones(3, 2, dtype=cgrad.int64), cgrad.ones(2, dtype=cgrad.int64))
    with pytest.raises(RuntimeError, match="householder_product: tau dtype Double does not match input dtype Float"):
        cgrad.linalg.householder_product(cgrad.ones(3, 2), cgrad.ones(2, dtype=cgrad.float64))


def test_lstsq():
    compare(lambda lib, x, y: lib.linalg.lstsq(x, y).solution, [draw((5, 3)), draw((5, 2), 1)])
    compare(lambda lib, x, y: lib.linalg.lstsq(x, y).solution, [draw((2, 4, 4)), draw((2, 4, 2), 1)])
    a = cgrad.tensor(draw((5, 3)))
    out = cgrad.linalg.lstsq(a, cgrad.tensor(draw((5, 2), 1)))
    assert out.rank.item() == 3 and out.residuals.shape == (0,) and out.singular_values.shape == (0,)


@pytest.mark.parametrize("name", ["eig", "eigvals"])
def test_complex_results_not_implemented(name):
    with pytest.raises(NotImplementedError, match="complex"):
        getattr(cgrad.linalg, name)(cgrad.eye(2))


# ---- the older names ----------------------------------------------------------------------------

def test_legacy_functions_and_methods():
    for upper in (False, True):
        compare(lambda lib, x, y: lib.cholesky_solve(y, lib.linalg.cholesky(spd(lib, x), upper=upper), upper),
                [draw((3, 3)), draw((3, 2), 1)])
        compare(lambda lib, x: lib.cholesky_inverse(lib.linalg.cholesky(spd(lib, x), upper=upper), upper),
                [draw((2, 3, 3))])
    compare(lambda lib, x: lib.svd(x).S + lib.svd(x, some=False).V.abs().sum(-2)[:3], [draw((4, 3))], second=False)
    compare(lambda lib, x: x.svd().U.abs(), [draw((4, 3))], second=False)
    for transpose in (False, True):
        compare(lambda lib, x, y: lib.triangular_solve(y, x, upper=False, transpose=transpose).solution,
                [well((3, 3)), draw((3, 2), 1)])
    compare(lambda lib, x: x.qr().R, [draw((4, 3))])
    compare(lambda lib, x, t: x.orgqr(t) + lib.orgqr(x, t), [draw((4, 3)), draw((2,), 1)])
    compare(lambda lib, x: spd(lib, x).cholesky(), [draw((3, 3))])
    a = draw((2, 3, 4))
    mine = cgrad.lu_unpack(*cgrad.linalg.lu_factor(cgrad.tensor(a)))
    ref = torch.lu_unpack(*torch.linalg.lu_factor(torch.tensor(a)))
    for m, r in zip(mine, ref):
        close(m, r, 1e-10, "lu_unpack")
    lu, piv = cgrad.tensor(well((3, 3))).lu()
    b = cgrad.tensor(draw((3, 2), 1))
    close(b.lu_solve(lu, piv), np.linalg.solve(well((3, 3)), draw((3, 2), 1)), 1e-10, "lu_solve")
