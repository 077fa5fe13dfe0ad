"""cgrad.fft (frequencies and shifts; the complex transforms raise), geqrf and ormqr over LAPACK's Householder
factors, the randomized svd_lowrank / pca_lowrank, and small legacy names (autograd.Variable,
utils.data.get_worker_info, ldexp_, addmv_, polygamma_, mvlgamma_), each checked against torch."""
import itertools
import warnings

import numpy as np
import pytest

import cgrad
from helpers import assert_same_error, assert_same_error_named, error_of

torch = pytest.importorskip("torch")


def np_of(t):
    return t.detach().numpy()


def pair(a, requires_grad=False):
    """The same values as a cgrad and a torch tensor."""
    a = np.asarray(a)
    c, t = cgrad.tensor(a.copy()), torch.tensor(a.copy())
    return (c.requires_grad_(), t.requires_grad_()) if requires_grad else (c, t)


def same_type_and_message(c_fn, t_fn):
    t_err, c_err = error_of(lambda lib: t_fn(), torch), error_of(lambda lib: c_fn(), cgrad)
    assert t_err is not None and c_err is not None, (t_err, c_err)
    assert type(c_err) is type(t_err), (c_err, t_err)
    assert str(c_err) == str(t_err).split("\n")[0], (c_err, t_err)


# ---- cgrad.fft: frequencies ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fftfreq", "rfftfreq"])
@pytest.mark.parametrize("n, d, dtype", [(5, 1.0, None), (-1, 1.0, None), (-3, 2.0, None), (6, 0.5, None), (7, 2.0, "float64"), (1, 1.0, None),
                                         (0, 1.0, None), (8, 0.1, "float32"), (5, 0, None), (4, -3, "float64"),
                                         (6, np.float64(0.25), None)])
def test_frequencies_match_torch(name, n, d, dtype):
    kw = {} if dtype is None else {"dtype": getattr(cgrad, dtype)}
    tkw = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    if error_of(lambda lib: getattr(lib.fft, name)(n, d), torch) is not None:
        return assert_same_error(lambda lib: getattr(lib.fft, name)(n, d))
    ours, theirs = getattr(cgrad.fft, name)(n, d, **kw), getattr(torch.fft, name)(n, d, **tkw)
    assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    np.testing.assert_array_equal(np_of(ours), theirs.numpy())


def test_frequencies_options():
    r = cgrad.fft.fftfreq(5, requires_grad=True)
    assert r.requires_grad and r.is_leaf
    assert not cgrad.fft.rfftfreq(5).requires_grad
    np.testing.assert_array_equal(np_of(cgrad.fft.fftfreq(n=4, d=torch.tensor(2.0).item())),
                                  torch.fft.fftfreq(n=4, d=2.0).numpy())
    np.testing.assert_array_equal(np_of(cgrad.fft.fftfreq(5, cgrad.tensor(2.0))),
                                  torch.fft.fftfreq(5, torch.tensor(2.0)).numpy())
    assert cgrad.fft.fftfreq(3, device="cpu", layout=cgrad.strided).shape == (3,)


@pytest.mark.parametrize("call", [
    lambda lib: lib.fft.fftfreq(5, dtype=lib.int64),
    lambda lib: lib.fft.rfftfreq(5, 2, dtype=lib.int64),
    lambda lib: lib.fft.fftfreq(5, dtype=lib.int64, requires_grad=True),
    lambda lib: lib.fft.fftfreq(-1),
    lambda lib: lib.fft.rfftfreq(-4),
    lambda lib: lib.fft.rfftfreq(-100),
    lambda lib: lib.fft.fftfreq(5.0),
    lambda lib: lib.fft.rfftfreq(5.0),
    lambda lib: lib.fft.fftfreq(5, "a"),
    lambda lib: lib.fft.fftfreq(5, out=lib.empty(5, dtype=lib.int64)),
    lambda lib: lib.fft.fftfreq(5, out=lib.empty(5), dtype=lib.float64),
    lambda lib: lib.fft.fftshift(3),
    lambda lib: lib.fft.ifftshift([1.0]),
    lambda lib: lib.fft.fftshift(lib.ones(2, 3), dim=1.0),
    lambda lib: lib.fft.fftshift(lib.ones(2, 3), dim=[True]),
    lambda lib: lib.fft.fftfreq(True),
    lambda lib: lib.fft.fftshift(lib.ones(2, 3), dim=2),
    lambda lib: lib.fft.ifftshift(lib.ones(2, 3), dim=(0, -3)),
    lambda lib: lib.fft.fftshift(lib.ones(2, 3), dim=()),
    lambda lib: lib.fft.fftshift(lib.tensor(3.0)),
    lambda lib: lib.fft.fftshift(lib.tensor(3.0), dim=0),
])
def test_frequency_and_shift_errors(call):
    assert_same_error(call)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_frequencies_out(dtype):
    for n, size in ((5, 5), (5, 0), (6, 2)):
        c_out, t_out = cgrad.empty(size, dtype=getattr(cgrad, dtype)), torch.empty(size, dtype=getattr(torch, dtype))
        with warnings.catch_warnings(record=True) as c_warn:
            warnings.simplefilter("always")
            r = cgrad.fft.fftfreq(n, 0.5, out=c_out)
        with warnings.catch_warnings(record=True) as t_warn:
            warnings.simplefilter("always")
            torch.fft.fftfreq(n, 0.5, out=t_out)
        assert r is c_out
        np.testing.assert_array_equal(np_of(c_out), t_out.numpy())
        assert [str(w.message) for w in c_warn] == [str(w.message).split(" (Triggered")[0] for w in t_warn]
    c_out, t_out = cgrad.empty(3, dtype=getattr(cgrad, dtype)), torch.empty(3, dtype=getattr(torch, dtype))
    cgrad.fft.rfftfreq(4, out=c_out)
    torch.fft.rfftfreq(4, out=t_out)
    np.testing.assert_array_equal(np_of(c_out), t_out.numpy())


# ---- cgrad.fft: shifts -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fftshift", "ifftshift"])
@pytest.mark.parametrize("shape, dim", [((5,), None), ((2, 5), None), ((2, 5), 1), ((3, 4, 5), (0, 2)),
                                        ((3, 4, 5), [-1]), ((2, 5), (0, 0)), ((3, 5), -2), ((0, 3), None)])
def test_shifts_values_and_gradients(name, shape, dim):
    a = np.random.default_rng(0).standard_normal(shape)
    c, t = pair(a, requires_grad=True)
    ours, theirs = getattr(cgrad.fft, name)(c, dim), getattr(torch.fft, name)(t, dim)
    np.testing.assert_array_equal(np_of(ours), theirs.detach().numpy())
    assert ours.grad_fn.name() == theirs.grad_fn.name() == "RollBackward0"
    g = np.random.default_rng(1).standard_normal(shape)
    ours.backward(cgrad.tensor(g))
    theirs.backward(torch.tensor(g))
    np.testing.assert_array_equal(np_of(c.grad), t.grad.numpy())


def test_shifts_of_integers_and_inverse():
    x = cgrad.arange(10).reshape(2, 5)
    assert cgrad.fft.fftshift(x).tolist() == torch.fft.fftshift(torch.arange(10).reshape(2, 5)).tolist()
    y = cgrad.randn(3, 4, 5)
    assert cgrad.equal(cgrad.fft.ifftshift(cgrad.fft.fftshift(y, (0, 2)), (0, 2)), y)


# ---- cgrad.fft: the transforms, stft and istft raise -------------------------------------------

TRANSFORMS = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2", "hfft2",
              "ihfft2", "fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn"]


def test_module_has_torchs_public_names():
    public = {n for n in dir(torch.fft) if not n.startswith("_")} - {"Tensor", "common_args", "factory_common_args",
                                                                   "torch"}
    assert public <= set(dir(cgrad.fft)) and set(cgrad.fft.__all__) == public
    assert set(cgrad.fft.TRANSFORMS) == set(TRANSFORMS)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_transforms_raise(name):
    x = cgrad.randn(4, 4)
    with pytest.raises(NotImplementedError, match=f"cgrad.fft.{name} .*no complex dtypes"):
        getattr(cgrad.fft, name)(x)
    with pytest.raises(NotImplementedError, match="no complex dtypes"):
        getattr(cgrad.fft, name)(x, None, norm="ortho")


def test_stft_istft_raise():
    x, window = cgrad.randn(64), cgrad.hann_window(16)
    for call in (lambda: cgrad.stft(x, 16, window=window, return_complex=True), lambda: x.stft(16),
                 lambda: cgrad.istft(x, 16), lambda: x.istft(16), lambda: cgrad.functional.stft(x, 16)):
        with pytest.raises(NotImplementedError, match="stft computes complex tensors, and cgrad has no complex"):
            call()


# ---- geqrf --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (4, 4), (2, 3, 2), (2, 2, 4, 3), (1, 1), (0, 3), (3, 0),
                                   (2, 0, 3)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_geqrf_matches_torch(shape, dtype):
    a = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    (ca, ctau), (ta, ttau) = cgrad.geqrf(cgrad.tensor(a)), torch.geqrf(torch.tensor(a))
    tol = 1e-12 if dtype == "float64" else 2e-5
    assert ca.shape == ta.shape and ctau.shape == ttau.shape and str(ca.dtype).endswith(dtype)
    np.testing.assert_allclose(np_of(ca), ta.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(np_of(ctau), ttau.numpy(), rtol=tol, atol=tol)


def test_geqrf_method_fields_and_noncontiguous():
    a = np.random.default_rng(3).standard_normal((5, 4))
    c, t = pair(a)
    ours, theirs = c.mT.geqrf(), t.mT.geqrf()
    assert type(ours).__name__ == "geqrf" and ours.a is ours[0] and ours.tau is ours[1]
    np.testing.assert_allclose(np_of(ours.a), theirs.a.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np_of(ours.tau), theirs.tau.numpy(), rtol=1e-12, atol=1e-12)


def test_geqrf_backward_raises_like_torch():
    a = np.random.default_rng(4).standard_normal((4, 3))
    c, t = pair(a, requires_grad=True)
    ours, theirs = cgrad.geqrf(c), torch.geqrf(t)
    assert ours.a.grad_fn.name() == theirs.a.grad_fn.name() == "GeqrfBackward0"
    assert ours.tau.grad_fn is ours.a.grad_fn and ours.tau.requires_grad
    same_type_and_message(lambda: ours.a.sum().backward(), lambda: theirs.a.sum().backward())
    same_type_and_message(lambda: ours.tau.sum().backward(), lambda: theirs.tau.sum().backward())
    with cgrad.no_grad():
        assert cgrad.geqrf(c).a.grad_fn is None


def test_geqrf_out():
    a = np.random.default_rng(5).standard_normal((2, 4, 3))
    c_out, t_out = (cgrad.empty(0, dtype=cgrad.float64), cgrad.empty(0, dtype=cgrad.float64)), \
        (torch.empty(0, dtype=torch.float64), torch.empty(0, dtype=torch.float64))
    r = cgrad.geqrf(cgrad.tensor(a), out=c_out)
    torch.geqrf(torch.tensor(a), out=t_out)
    assert r.a is c_out[0] and r.tau is c_out[1]
    for ours, theirs in zip(c_out, t_out):
        np.testing.assert_allclose(np_of(ours), theirs.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call", [
    lambda lib: lib.geqrf(lib.ones(3)),
    lambda lib: lib.geqrf(lib.ones(3, 3, dtype=lib.int64)),
    lambda lib: lib.geqrf(3),
    lambda lib: lib.geqrf(lib.ones(3, 2), out=(lib.empty(0),)),
    lambda lib: lib.geqrf(lib.ones(3, 2), out=lib.empty(0)),
    lambda lib: lib.geqrf(lib.ones(3, 2, requires_grad=True), out=(lib.empty(0), lib.empty(0))),
])
def test_geqrf_errors(call):
    assert_same_error(call)


# ---- ormqr --------------------------------------------------------------------------------------------

def _ormqr_case(m, n, left, c_other, batch=(), seed=0):
    rng = np.random.default_rng(seed)
    k = min(m, n) if left else min(m, n)
    a, tau = rng.standard_normal(batch + (m, n)), rng.uniform(0.2, 1.8, batch + (k,))
    c = rng.standard_normal(batch + ((m, c_other) if left else (c_other, m)))
    return a, tau, c


@pytest.mark.parametrize("m, n", [(4, 3), (3, 5), (4, 4), (1, 1)])
@pytest.mark.parametrize("left, transpose", list(itertools.product([True, False], [True, False])))
def test_ormqr_values_and_gradients(m, n, left, transpose):
    a, tau, c = _ormqr_case(m, n, left, 2)
    ins = [pair(x, requires_grad=True) for x in (a, tau, c)]
    ours = cgrad.ormqr(*[i[0] for i in ins], left=left, transpose=transpose)
    theirs = torch.ormqr(*[i[1] for i in ins], left=left, transpose=transpose)
    np.testing.assert_allclose(np_of(ours), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert ours.grad_fn.name() == theirs.grad_fn.name() == "OrmqrBackward0"
    g = np.random.default_rng(9).standard_normal(ours.shape)
    ours.backward(cgrad.tensor(g))
    theirs.backward(torch.tensor(g))
    for (ci, ti), what in zip(ins, ("input", "tau", "other")):
        np.testing.assert_allclose(np_of(ci.grad), ti.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=what)


def test_ormqr_of_geqrf_is_q_and_float32_batched():
    a = np.random.default_rng(6).standard_normal((2, 5, 3)).astype(np.float32)
    c = np.random.default_rng(7).standard_normal((2, 5, 2)).astype(np.float32)
    qr, tau = cgrad.geqrf(cgrad.tensor(a))
    ours = qr.ormqr(tau, cgrad.tensor(c), True, True)
    tqr, ttau = torch.geqrf(torch.tensor(a))
    np.testing.assert_allclose(np_of(ours), torch.ormqr(tqr, ttau, torch.tensor(c), True, True).numpy(),
                               rtol=1e-5, atol=1e-5)
    q = cgrad.linalg.qr(cgrad.tensor(a).double(), mode="complete").Q
    np.testing.assert_allclose(np_of(ours.double()), np_of(q.mT @ cgrad.tensor(c).double()), atol=1e-5)


def test_ormqr_second_order_and_gradcheck():
    a, tau, c = _ormqr_case(4, 3, False, 2, batch=(2,), seed=3)
    ins = [cgrad.tensor(x).requires_grad_() for x in (a, tau, c)]
    assert cgrad.autograd.gradcheck(lambda *x: cgrad.ormqr(*x, left=False, transpose=True), ins)
    assert cgrad.autograd.gradgradcheck(lambda *x: cgrad.ormqr(*x), [cgrad.tensor(x).requires_grad_() for x in
                                                                  _ormqr_case(3, 3, True, 2, seed=4)])


def test_ormqr_gradient_only_where_needed():
    a, tau, c = _ormqr_case(4, 3, True, 2)
    ca, ctau, cc = cgrad.tensor(a), cgrad.tensor(tau), cgrad.tensor(c).requires_grad_()
    cgrad.ormqr(ca, ctau, cc).sum().backward()
    ta, ttau, tc = torch.tensor(a), torch.tensor(tau), torch.tensor(c).requires_grad_()
    torch.ormqr(ta, ttau, tc).sum().backward()
    np.testing.assert_allclose(np_of(cc.grad), tc.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert ca.grad is None and ctau.grad is None


def test_out_resize_warnings():
    a = np.random.default_rng(0).standard_normal((4, 3))
    for lib in (cgrad, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.geqrf(lib.tensor(a), out=(lib.empty(2, dtype=lib.float64), lib.empty(0, dtype=lib.float64)))
            lib.ormqr(lib.tensor(a), lib.tensor([1.0, 0.5, 0.2], dtype=lib.float64), lib.tensor(a),
                      out=lib.empty(5, dtype=lib.float64))
        messages = [str(w.message).split(" (Triggered")[0] for w in caught]
        if lib is cgrad:
            ours = messages
    assert ours == messages and len(ours) == 2


def test_ormqr_out():
    a, tau, c = _ormqr_case(4, 3, True, 2)
    out = cgrad.empty(0, dtype=cgrad.float64)
    r = cgrad.ormqr(cgrad.tensor(a), cgrad.tensor(tau), cgrad.tensor(c), out=out)
    assert r is out
    np.testing.assert_allclose(np_of(out), torch.ormqr(*map(torch.tensor, (a, tau, c))).numpy(), rtol=1e-12)


def _ormqr_shapes():
    cases = []
    for m, n, k, left, cr, cc in itertools.product([2, 4], [2, 4], [1, 2, 4], [True, False], [2, 4], [2, 4]):
        cases.append(((m, n), (k,), (cr, cc), left))
    return cases


@pytest.mark.parametrize("a, tau, c, left", _ormqr_shapes() + [
    ((4,), (3,), (4, 2), True), ((4, 3), (3,), (2,), True), ((4, 3), (1, 3), (4, 2), True),
    ((2, 4, 3), (2, 3), (4, 2), True), ((4, 3), (3,), (2, 4, 2), True), ((2, 4, 3), (3, 3), (2, 4, 2), True),
    ((2, 4, 3), (2, 3), (3, 4, 2), True)])
def test_ormqr_shape_errors_match_torch(a, tau, c, left):
    def call(lib):
        return lib.ormqr(lib.ones(a, dtype=lib.float64), lib.ones(tau, dtype=lib.float64),
                         lib.ones(c, dtype=lib.float64), left=left)
    t_err = error_of(call, torch)
    if t_err is None:
        assert error_of(call, cgrad) is None
    else:
        assert_same_error(call)


@pytest.mark.parametrize("call", [
    lambda lib: lib.ormqr(lib.ones(4, 3, dtype=lib.float64), lib.ones(3, dtype=lib.float64), lib.ones(4, 2)),
    lambda lib: lib.ormqr(lib.ones(4, 3, dtype=lib.float64), lib.ones(3), lib.ones(4, 2, dtype=lib.float64)),
    lambda lib: lib.ormqr(lib.ones(4, 3, dtype=lib.int64), lib.ones(3, dtype=lib.int64),
                          lib.ones(4, 2, dtype=lib.int64)),
    lambda lib: lib.ormqr(lib.ones(4, 3), lib.ones(3), 3),
    lambda lib: lib.ormqr(lib.ones(4, 3), lib.ones(3), lib.ones(4, 2), out=lib.empty(0, dtype=lib.float64)),
    lambda lib: lib.ormqr(lib.ones(4, 3), lib.ones(3), lib.ones(4, 2, requires_grad=True), out=lib.empty(0)),
])
def test_ormqr_errors(call):
    assert_same_error(call)


# ---- svd_lowrank, pca_lowrank ---------------------------------------------------------------------------

def _low_rank(shape, rank, seed=0):
    rng = np.random.default_rng(seed)
    *batch, m, n = shape
    return rng.standard_normal((*batch, m, rank)) @ rng.standard_normal((*batch, rank, n))


@pytest.mark.parametrize("shape, rank, q, niter", [((8, 6), 2, 3, 2), ((6, 9), 3, 4, 0), ((2, 7, 5), 2, 2, 1),
                                                   ((5, 5), 5, 5, 2)])
def test_svd_lowrank_reconstructs_low_rank_input(shape, rank, q, niter):
    cgrad.manual_seed(0)
    a = _low_rank(shape, rank)
    u, s, v = cgrad.svd_lowrank(cgrad.tensor(a), q=q, niter=niter)
    assert u.shape == (*shape[:-1], q) and s.shape == (*shape[:-2], q) and v.shape == (*shape[:-2], shape[-1], q)
    np.testing.assert_allclose(np_of(u @ cgrad.diag_embed(s) @ v.mT), a, atol=1e-10)
    np.testing.assert_allclose(np_of(s)[..., :rank], np.linalg.svd(a, compute_uv=False)[..., :rank], rtol=1e-10)
    np.testing.assert_allclose(np_of(u.mT @ u), np.broadcast_to(np.eye(q), (*shape[:-2], q, q)), atol=1e-10)


def test_svd_lowrank_with_mean_and_pca_lowrank():
    cgrad.manual_seed(1)
    a = _low_rank((9, 6), 3, seed=1) + np.arange(6.0)
    mean = a.mean(0, keepdims=True)
    u, s, v = cgrad.svd_lowrank(cgrad.tensor(a), q=4, M=cgrad.tensor(mean))
    np.testing.assert_allclose(np_of(u @ cgrad.diag_embed(s) @ v.mT), a - mean, atol=1e-10)
    pu, ps, pv = cgrad.pca_lowrank(cgrad.tensor(a), q=4)
    np.testing.assert_allclose(np_of(ps), torch.pca_lowrank(torch.tensor(a), q=4)[1].numpy(), atol=1e-10)
    np.testing.assert_allclose(np_of(pu @ cgrad.diag_embed(ps) @ pv.mT), a - mean, atol=1e-10)
    _, s_plain, _ = cgrad.pca_lowrank(cgrad.tensor(a), q=4, center=False)
    np.testing.assert_allclose(np_of(s_plain)[:3], np.linalg.svd(a, compute_uv=False)[:3], rtol=1e-10)
    assert cgrad.pca_lowrank(cgrad.randn(3, 9, 8))[0].shape == (3, 9, 6)


def test_lowrank_names_as_torch():
    assert cgrad.functional.svd_lowrank is cgrad.svd_lowrank and cgrad.functional.pca_lowrank is cgrad.pca_lowrank
    assert not hasattr(cgrad.linalg, "svd_lowrank") and not hasattr(torch.linalg, "svd_lowrank")


@pytest.mark.parametrize("fn", [
    lambda lib, a: lib.svd_lowrank(a, q=4)[1].sum(),
    lambda lib, a: (lambda u, s, v: (u * s) @ v.mT)(*lib.svd_lowrank(a, q=4, niter=1)).pow(2).sum(),
    lambda lib, a: lib.pca_lowrank(a, q=4)[1].pow(3).sum(),
])
def test_lowrank_gradients_at_full_rank_match_torch(fn):
    a = np.random.default_rng(8).standard_normal((6, 4))
    c, t = pair(a, requires_grad=True)
    cgrad.manual_seed(2)
    torch.manual_seed(2)
    fn(cgrad, c).backward()
    fn(torch, t).backward()
    np.testing.assert_allclose(np_of(c.grad), t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_lowrank_gradcheck():
    a = cgrad.tensor(np.random.default_rng(10).standard_normal((5, 3))).requires_grad_()

    def singular_values(x):
        cgrad.manual_seed(3)  # the same draw for every evaluation
        return cgrad.svd_lowrank(x, q=3)[1]
    assert cgrad.autograd.gradcheck(singular_values, [a])


@pytest.mark.parametrize("call", [
    lambda lib: lib.pca_lowrank(lib.ones(5, 4, dtype=lib.float64), q=5),
    lambda lib: lib.pca_lowrank(lib.ones(5, 4, dtype=lib.float64), q=-1),
    lambda lib: lib.pca_lowrank(lib.ones(5, 4, dtype=lib.float64), q=2, niter=-1),
    lambda lib: lib.pca_lowrank(lib.ones(5)),
    lambda lib: lib.svd_lowrank(lib.ones(5)),
    lambda lib: lib.svd_lowrank(3),
    lambda lib: lib.pca_lowrank(3),
    lambda lib: lib.svd_lowrank(lib.ones(5, 4), q=-1),
    lambda lib: lib.svd_lowrank(lib.ones(5, 4), q=3, M=lib.ones(3)),
    lambda lib: lib.svd_lowrank(lib.ones(5, 4, dtype=lib.int64), q=3),
    lambda lib: lib.pca_lowrank(lib.ones(5, 4, dtype=lib.int64)),
])
def test_lowrank_errors(call):
    assert_same_error(call)


def test_lowrank_shapes_as_torch():
    for shape, q, niter in (((5, 4), 7, 2), ((5, 4), 0, 2), ((4, 5), 3, 0), ((5, 4), None, 2)):
        ours = cgrad.svd_lowrank(cgrad.randn(*shape, dtype=cgrad.float64), q=q, niter=niter)
        theirs = torch.svd_lowrank(torch.randn(*shape, dtype=torch.float64), q=q, niter=niter)
        assert [tuple(x.shape) for x in ours] == [tuple(x.shape) for x in theirs]


# ---- lobpcg ----------------------------------------------------------------------------------------------

def _spd_with_gaps(m, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, m))
    return x @ x.T + np.diag(np.arange(m) * 3.0)


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k, m", [(1, 6), (2, 10), (3, 9)])
def test_lobpcg_eigenpairs(largest, k, m):
    cgrad.manual_seed(0)
    a = _spd_with_gaps(m)
    E, X = cgrad.lobpcg(cgrad.tensor(a), k=k, largest=largest)
    w = np.linalg.eigvalsh(a)
    expected = w[::-1][:k] if largest else w[:k]
    np.testing.assert_allclose(np_of(E), expected, rtol=1e-7)
    np.testing.assert_allclose(np_of(E), torch.lobpcg(torch.tensor(a), k=k, largest=largest)[0].numpy(), rtol=1e-7)
    np.testing.assert_allclose(a @ np_of(X), np_of(X) * np_of(E), atol=1e-5 * w.max())
    np.testing.assert_allclose(np_of(X).T @ np_of(X), np.eye(k), atol=1e-10)


def test_lobpcg_generalized_batched_and_options():
    cgrad.manual_seed(1)
    a, b = _spd_with_gaps(9, 1), np.eye(9) * 2 + 0.1
    E, X = cgrad.lobpcg(cgrad.tensor(a), k=2, B=cgrad.tensor(b))
    np.testing.assert_allclose(np_of(E), torch.lobpcg(torch.tensor(a), k=2, B=torch.tensor(b))[0].numpy(), rtol=1e-7)
    np.testing.assert_allclose(np_of(X).T @ b @ np_of(X), np.eye(2), atol=1e-10)
    batch = np.stack([a, 2 * a])
    E, X = cgrad.lobpcg(cgrad.tensor(batch), k=1)
    assert E.shape == (2, 1) and X.shape == (2, 9, 1)
    np.testing.assert_allclose(np_of(E)[:, 0], [np.linalg.eigvalsh(a)[-1], 2 * np.linalg.eigvalsh(a)[-1]], rtol=1e-7)
    start = np.random.default_rng(2).standard_normal((9, 3))
    E, X = cgrad.lobpcg(cgrad.tensor(a), X=cgrad.tensor(start), iK=cgrad.eye(9, dtype=cgrad.float64))
    assert E.shape == (3,) and X.shape == (9, 3)
    np.testing.assert_allclose(np_of(E), np.linalg.eigvalsh(a)[::-1][:3], rtol=1e-7)
    E, X = cgrad.lobpcg(cgrad.tensor(a), k=2, n=3, niter=-1)
    assert E.shape == (2,) and X.shape == (9, 2)
    E32 = cgrad.lobpcg(cgrad.tensor(a).float(), k=1)[0]
    assert E32.dtype == cgrad.float32 and abs(E32.item() - np.linalg.eigvalsh(a)[-1]) < 1e-3 * np.abs(a).max()


def test_lobpcg_gradients_match_torch():
    cgrad.manual_seed(3)
    torch.manual_seed(3)
    a = _spd_with_gaps(9, 4)
    g = np.random.default_rng(5).standard_normal((9, 2))
    c, t = pair(a, requires_grad=True)
    (E, X), (tE, tX) = cgrad.lobpcg(c, k=2), torch.lobpcg(t, k=2)
    assert E.grad_fn.name() == X.grad_fn.name() == "LOBPCGAutogradFunctionBackward"
    signs = np.sign((np_of(X) * tX.detach().numpy()).sum(0))  # eigenvectors are defined up to sign
    (E.sum() + (X * cgrad.tensor(g * signs)).sum()).backward()
    (tE.sum() + (tX * torch.tensor(g)).sum()).backward()
    np.testing.assert_allclose(np_of(c.grad), t.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(np_of(c.grad), np_of(c.grad).T, atol=1e-12)
    # second order: the gradient of the eigenvalues is X X^T, itself differentiable
    c2 = cgrad.tensor(a).requires_grad_()
    (ga,) = cgrad.autograd.grad(cgrad.lobpcg(c2, k=1)[0].sum(), c2, create_graph=True)
    t2 = torch.tensor(a).requires_grad_()
    (tga,) = torch.autograd.grad(torch.lobpcg(t2, k=1)[0].sum(), t2, create_graph=True)
    np.testing.assert_allclose(np_of(ga), tga.detach().numpy(), atol=1e-6)
    (ga * cgrad.tensor(a)).sum().backward()
    (tga * torch.tensor(a)).sum().backward()
    np.testing.assert_allclose(np_of(c2.grad), t2.grad.numpy(), atol=1e-5)


def test_lobpcg_generalized_backward_raises_like_torch():
    a, b = _spd_with_gaps(9), np.eye(9) * 2
    c, t = pair(a, requires_grad=True)
    (E, _), (tE, _) = cgrad.lobpcg(c, k=2, B=cgrad.tensor(b)), torch.lobpcg(t, k=2, B=torch.tensor(b))
    same_type_and_message(lambda: E.sum().backward(), lambda: tE.sum().backward())


@pytest.mark.parametrize("call", [
    lambda lib: lib.lobpcg(lib.ones(3, 4), k=1),
    lambda lib: lib.lobpcg(lib.eye(5, dtype=lib.float64), k=2),
    lambda lib: lib.lobpcg(lib.eye(10, dtype=lib.float64), k=4),
    lambda lib: lib.lobpcg(lib.eye(9, dtype=lib.float64), X=lib.ones(9, 4, dtype=lib.float64)),
])
def test_lobpcg_errors(call):
    assert_same_error_named(call)


def test_lobpcg_unsupported_options_raise():
    with pytest.raises(NotImplementedError, match="tracker"):
        cgrad.lobpcg(cgrad.eye(9), k=1, tracker=lambda state: None)
    with pytest.raises(NotImplementedError, match="method"):
        cgrad.lobpcg(cgrad.eye(9), k=1, method="lanczos")


# ---- legacy names and in-place forms ---------------------------------------------------------------------

def test_variable():
    from cgrad.autograd import Variable
    t = cgrad.tensor([1.0, 2.0], requires_grad=True)
    assert isinstance(t, Variable) and isinstance(t * 2, Variable) and not isinstance(3, Variable)
    assert not issubclass(cgrad.Tensor, Variable)
    v = Variable(t)
    assert type(v) is cgrad.Tensor and v is not t and not v.requires_grad and v.is_leaf
    assert v.data_ptr() == t.data_ptr()
    w = Variable(t.detach(), requires_grad=True)
    assert w.requires_grad and w.is_leaf
    assert Variable().shape == (0,) and Variable(data=cgrad.tensor([1.0]), requires_grad=1).requires_grad
    assert type(Variable(cgrad.nn.Parameter(cgrad.ones(1)))) is cgrad.Tensor
    with pytest.warns(UserWarning, match="volatile was removed"):
        Variable(cgrad.tensor([1.0]), volatile=True)


@pytest.mark.parametrize("call", [
    lambda lib: lib.autograd.Variable(3),
    lambda lib: lib.autograd.Variable(lib.tensor([1, 2]), requires_grad=True),
    lambda lib: lib.autograd.Variable(lib.tensor([1.0]), True, True, True, True),
    lambda lib: lib.autograd.Variable(lib.tensor([1.0]), True, False, "fn"),
    lambda lib: lib.autograd.Variable(lib.tensor([1.0]), foo=1),
    lambda lib: lib.autograd.Variable(lib.tensor([1.0]), "x"),
])
def test_variable_errors(call):
    assert_same_error(call)


def test_get_worker_info():
    assert cgrad.utils.data.get_worker_info() is None is torch.utils.data.get_worker_info()


def _inplace_pair(values, requires_grad=True):
    c, t = pair(np.array(values), requires_grad=requires_grad)
    return c, t, (c * 1 if requires_grad else c), (t * 1 if requires_grad else t)


@pytest.mark.parametrize("name, args", [("polygamma_", (1,)), ("polygamma_", (0,)), ("mvlgamma_", (2,)),
                                        ("mvlgamma_", (3,))])
def test_gamma_inplace_methods(name, args):
    c, t, cy, ty = _inplace_pair([2.5, 3.0, 4.25])
    v0 = cy._version
    ours, theirs = getattr(cy, name)(*args), getattr(ty, name)(*args)
    assert ours is cy and cy._version == v0 + 1
    assert ours.grad_fn.name() == theirs.grad_fn.name()
    np.testing.assert_allclose(np_of(ours), theirs.detach().numpy(), rtol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(np_of(c.grad), t.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("call", [
    lambda lib: lib.tensor([2.5], requires_grad=True).polygamma_(1),
    lambda lib: lib.tensor([2.5], requires_grad=True).mvlgamma_(1),
    lambda lib: lib.tensor([3, 4]).mvlgamma_(2),
    lambda lib: lib.tensor([3, 4]).polygamma_(1),
    lambda lib: lib.tensor([3.0]).mvlgamma_(0),
    lambda lib: lib.tensor([3.0]).polygamma_(-1),
    lambda lib: lib.tensor([3.0]).polygamma_(1.0),
    lambda lib: lib.tensor([True, False]).polygamma_(1),
    lambda lib: lib.tensor([True, False]).mvlgamma_(1),
    lambda lib: lib.tensor(2.5).mvlgamma_(True),
    lambda lib: lib.tensor([2.5]).expand(3).polygamma_(1),
    lambda lib: lib.ldexp_(lib.tensor([1.0, 2.0], requires_grad=True), lib.tensor([1.0, 3.0])),
    lambda lib: lib.ldexp_(lib.tensor([1, 2]), lib.tensor([1, 2])),
    lambda lib: lib.ldexp_(lib.tensor([1.0, 2.0]), 2),
    lambda lib: lib.ldexp_(3, lib.tensor([1.0])),
    lambda lib: lib.addmv_(lib.zeros(2, requires_grad=True), lib.ones(2, 3), lib.ones(3)),
    lambda lib: lib.addmv_(lib.zeros(3), lib.ones(2, 3), lib.ones(3)),
    lambda lib: lib.addmv_(lib.zeros(1), lib.ones(2, 3), lib.ones(3)),
    lambda lib: lib.addmv_(lib.zeros(2), lib.ones(2, 3), lib.ones(3), 2, 3),
])
def test_inplace_form_errors(call):
    assert_same_error(call)


def test_gamma_inplace_values_without_grad():
    for name, arg in (("polygamma_", 2), ("mvlgamma_", 2)):
        c, t = pair(np.array([[0.5, 1.5], [2.5, 7.0]]))
        getattr(c, name)(arg), getattr(t, name)(arg)
        np.testing.assert_allclose(np_of(c), t.numpy(), rtol=1e-12)
        assert c.grad_fn is None


def test_ldexp_and_addmv_top_level():
    c, t, cy, ty = _inplace_pair([1.0, 2.0])
    e = np.array([1.0, 3.0])
    v0 = cy._version
    assert cgrad.ldexp_(cy, cgrad.tensor(e)) is cy and cy._version == v0 + 1
    torch.ldexp_(ty, torch.tensor(e))
    assert cy.grad_fn.name() == ty.grad_fn.name()
    cy.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(np_of(c.grad), t.grad.numpy())
    m, vec = np.random.default_rng(11).standard_normal((2, 3)), np.random.default_rng(12).standard_normal(3)
    c, t, cy, ty = _inplace_pair([0.5, -1.0])
    ours = cgrad.addmv_(cy, cgrad.tensor(m), cgrad.tensor(vec), beta=2, alpha=3)
    theirs = torch.addmv_(ty, torch.tensor(m), torch.tensor(vec), beta=2, alpha=3)
    assert ours is cy and ours.grad_fn.name() == theirs.grad_fn.name()
    np.testing.assert_allclose(np_of(ours), theirs.detach().numpy(), rtol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(np_of(c.grad), t.grad.numpy(), rtol=1e-12)
