"""PyTorch's other names for cgrad's ops (divide for div, arcsin for asin, ...)
and the small Tensor attributes code written for torch reads."""
import numpy as np
import pytest

import cgrad

X = [[0.25, -0.5, 0.75], [0.125, -0.375, 0.625]]
Y = [[0.5, 2.0, -1.5], [1.0, -0.25, 4.0]]

# alias -> (canonical method, takes a second operand)
METHOD_ALIASES = {
    "subtract": ("sub", True), "multiply": ("mul", True), "divide": ("div", True),
    "true_divide": ("div", True), "negative": ("neg", False), "absolute": ("abs", False),
    "arcsin": ("asin", False), "arccos": ("acos", False), "arctan": ("atan", False),
    "greater": ("gt", True), "greater_equal": ("ge", True), "less": ("lt", True),
    "less_equal": ("le", True), "not_equal": ("ne", True),
}
INPLACE_ALIASES = {"subtract_": "sub_", "multiply_": "mul_", "divide_": "div_", "true_divide_": "div_",
                   "absolute_": "abs_", "arcsin_": "asin_", "arccos_": "acos_", "arctan_": "atan_",
                   "greater_": "gt_", "greater_equal_": "ge_", "less_": "lt_", "less_equal_": "le_",
                   "not_equal_": "ne_"}


def _call(lib, name, x, y, two, method):
    if method:
        return getattr(x, name)(y) if two else getattr(x, name)()
    return getattr(lib, name)(x, y) if two else getattr(lib, name)(x)


@pytest.mark.parametrize("method", [True, False])
@pytest.mark.parametrize("alias", sorted(METHOD_ALIASES))
def test_an_alias_is_its_op(alias, method):
    canonical, two = METHOD_ALIASES[alias]
    x = cgrad.tensor(X, requires_grad=True)
    y = cgrad.tensor(Y)
    got = _call(cgrad, alias, x, y, two, method)
    want = _call(cgrad, canonical, x, y, two, True)
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    assert got.dtype == want.dtype
    assert (got.grad_fn is None) == (want.grad_fn is None)
    if got.grad_fn is not None:
        assert got.grad_fn.name() == want.grad_fn.name()


@pytest.mark.parametrize("method", [True, False])
@pytest.mark.parametrize("alias", sorted(METHOD_ALIASES))
def test_an_alias_matches_torch(alias, method):
    torch = pytest.importorskip("torch")
    _, two = METHOD_ALIASES[alias]
    outs, grads = [], []
    for lib in (cgrad, torch):
        x = lib.tensor(X, dtype=lib.float64, requires_grad=True)
        y = lib.tensor(Y, dtype=lib.float64)
        r = _call(lib, alias, x * 1, y, two, method)
        outs.append(r.detach().numpy())
        if r.requires_grad:
            r.sum().backward()
            grads.append(x.grad.numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-15, atol=0)
    assert len(grads) in (0, 2)
    if grads:
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-15, atol=0)


@pytest.mark.parametrize("alias", sorted(INPLACE_ALIASES))
def test_an_in_place_alias_is_its_op(alias):
    canonical = INPLACE_ALIASES[alias]
    two = METHOD_ALIASES[alias[:-1]][1]
    a, b = cgrad.tensor(X), cgrad.tensor(X)
    args = (cgrad.tensor(Y),) if two else ()
    r = getattr(a, alias)(*args)
    getattr(b, canonical)(*args)
    assert r is a
    assert a._version == b._version == 1
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_subtract_takes_alpha():
    x, y = cgrad.tensor([1.0, 2.0]), cgrad.tensor([0.5, 0.25])
    np.testing.assert_array_equal(x.subtract(y, alpha=2).numpy(), [0.0, 1.5])
    np.testing.assert_array_equal(cgrad.subtract(x, y, alpha=2).numpy(), [0.0, 1.5])


def test_div_rounding_modes():
    x = cgrad.tensor([5.0, -7.0])
    np.testing.assert_array_equal(x.div(2, rounding_mode=None).numpy(), [2.5, -3.5])
    for mode, expected in (("floor", [2.0, -4.0]), ("trunc", [2.0, -3.0])):
        np.testing.assert_array_equal(cgrad.divide(x, 2, rounding_mode=mode).numpy(), expected)
        np.testing.assert_array_equal(x.clone().divide_(2, rounding_mode=mode).numpy(), expected)
    with pytest.raises(RuntimeError, match="expected rounding_mode to be one of None, 'trunc', or 'floor'"):
        x.div(2, rounding_mode="round")


def test_positive():
    x = cgrad.tensor([1.0, -2.0], requires_grad=True)
    assert x.positive() is x
    assert cgrad.positive(x) is x
    with pytest.raises(RuntimeError, match="The `\\+` operator, on a bool tensor is not supported."):
        cgrad.positive(cgrad.tensor([True]))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_size_attributes_match_torch(dtype):
    torch = pytest.importorskip("torch")
    got, want = [], []
    for lib, out in ((cgrad, got), (torch, want)):
        base = lib.zeros(3, 4, dtype=getattr(lib, dtype))
        t = base[:, 1:]
        out.append((t.storage_offset(), t.nbytes, t.itemsize, t.ndimension(), t.is_signed(),
                    t.is_complex(), t.is_cpu, t.is_cuda, tuple(t.ravel().shape), tuple(lib.ravel(t).shape),
                    t.is_same_size(base), base.is_same_size(lib.zeros(3, 4)), lib.is_signed(t)))
    assert got == want


def test_ravel_is_a_view_when_it_can_be():
    x = cgrad.tensor(X, requires_grad=True)
    r = x.ravel()
    assert r.shape == (6,)
    assert r.data_ptr() == x.data_ptr()
    (r * cgrad.arange(6.0)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(2, 3))
    t = cgrad.tensor(X).T
    np.testing.assert_array_equal(t.ravel().numpy(), np.array(X).T.ravel())


def test_is_nonzero_matches_torch():
    assert cgrad.tensor([2.0]).is_nonzero() is True
    assert cgrad.tensor(0.0).is_nonzero() is False
    assert cgrad.is_nonzero(cgrad.tensor([[3]]))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        cgrad.zeros(2).is_nonzero()
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is ambiguous"):
        cgrad.zeros(0).is_nonzero()


# in-place forms made as a copy of the out-of-place result
COPY_FORMS = {
    "tril_": (lambda t: t.tril_(1), lambda t: t.tril(1)),
    "triu_": (lambda t: t.triu_(-1), lambda t: t.triu(-1)),
    "cumsum_": (lambda t: t.cumsum_(1), lambda t: t.cumsum(1)),
    "cumprod_": (lambda t: t.cumprod_(0), lambda t: t.cumprod(0)),
    "deg2rad_": (lambda t: t.deg2rad_(), lambda t: t.deg2rad()),
    "rad2deg_": (lambda t: t.rad2deg_(), lambda t: t.rad2deg()),
    "nan_to_num_": (lambda t: t.nan_to_num_(0.5), lambda t: t.nan_to_num(0.5)),
    "floor_divide_": (lambda t: t.floor_divide_(0.25), lambda t: t.floor_divide(0.25)),
}


@pytest.mark.parametrize("name", sorted(COPY_FORMS))
def test_copy_made_in_place_forms_match_torch(name):
    torch = pytest.importorskip("torch")
    inplace, outplace = COPY_FORMS[name]
    results = []
    for lib in (cgrad, torch):
        x = lib.tensor(X, dtype=lib.float64, requires_grad=True)
        y = x * 2
        before = y._version
        r = inplace(y)
        assert r is y and y._version == before + 1
        with lib.no_grad():
            np.testing.assert_array_equal(y.detach().numpy(), outplace(x * 2).numpy())
        grad = None
        if name != "floor_divide_":  # torch has no derivative for it
            (y * lib.tensor(Y, dtype=lib.float64)).sum().backward()
            grad = x.grad.numpy()
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            inplace(lib.tensor(X, requires_grad=True))
        results.append((y.detach().numpy(), grad))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-15)
    if results[0][1] is not None:
        np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-15)


def test_addmm_and_baddbmm_in_place_match_torch():
    torch = pytest.importorskip("torch")
    outs = []
    for lib in (cgrad, torch):
        a = lib.tensor(X, dtype=lib.float64)
        m1, m2 = lib.tensor(X, dtype=lib.float64).T.contiguous(), lib.tensor(Y, dtype=lib.float64)[:, :2]
        b = lib.tensor([X, Y], dtype=lib.float64)
        b1 = lib.tensor([Y, X], dtype=lib.float64)[:, :, :2]
        outs.append((a.clone().T.contiguous().addmm_(m1, m2, beta=0.5, alpha=2).numpy(),
                     b.clone().baddbmm_(b1, b, alpha=-1).numpy()))
    for c, t in zip(*outs):
        np.testing.assert_allclose(c, t, rtol=1e-15)


def test_function_forms_of_methods():
    from cgrad._functions import _METHOD_FORMS
    torch = pytest.importorskip("torch")
    for name in _METHOD_FORMS:
        assert hasattr(torch, name), name
        assert hasattr(cgrad.Tensor, name), name
    x = cgrad.tensor([0.25, 4.0])
    assert cgrad.sqrt_(x) is x
    np.testing.assert_array_equal(x.numpy(), [0.5, 2.0])
    np.testing.assert_array_equal(cgrad.clamp_(x, max=1.0).numpy(), [0.5, 1.0])
    assert cgrad.is_floating_point(x) and not cgrad.is_complex(x)
    assert cgrad.moveaxis(cgrad.zeros(2, 3, 4), 0, -1).shape == (3, 4, 2)
    with pytest.raises(TypeError, match=r"sqrt_\(\): argument 'input' \(position 1\) must be Tensor, not list"):
        cgrad.sqrt_([1.0])


# ---- isposinf, isneginf, nanmean

INF_SAMPLE = [1.0, float("inf"), -float("inf"), float("nan"), -0.0, -2.0]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_isposinf_and_isneginf_match_torch(dtype):
    torch = pytest.importorskip("torch")
    got = []
    for lib in (cgrad, torch):
        sample = INF_SAMPLE if dtype.startswith("float") else [1, 0, 3]
        x = lib.tensor(sample, dtype=getattr(lib, dtype))
        got.append([(r.dtype == lib.bool, r.tolist()) for r in
                    (x.isposinf(), x.isneginf(), lib.isposinf(x), lib.isneginf(x))])
    assert got[0] == got[1]


@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), ((0, 1), False)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nanmean_matches_torch(dim, keepdim, dtype):
    torch = pytest.importorskip("torch")
    data = [[1.0, float("nan"), 2.5], [float("nan"), 3.0, -4.0]]
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor(data, dtype=getattr(lib, dtype), requires_grad=True)
        r = x.nanmean() if dim is None else lib.nanmean(x, dim, keepdim)
        (r * lib.arange(1.0, r.numel() + 1).reshape(r.shape)).sum().backward()
        out.append((r.detach().numpy(), x.grad.numpy(), r.grad_fn.name(), r.dtype == getattr(lib, dtype)))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-6)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-6)
    assert out[0][2:] == out[1][2:]


def test_nanmean_all_nan_dtype_and_errors_match_torch():
    torch = pytest.importorskip("torch")
    for lib in (cgrad, torch):
        r = lib.tensor([[1.0, float("nan")], [float("nan"), float("nan")]]).nanmean(1, keepdim=True)
        assert r.shape == (2, 1) and r[0, 0].item() == 1.0 and np.isnan(r[1, 0].item())
        assert lib.tensor([1.0, 2.0]).nanmean(dtype=lib.float64).dtype == lib.float64
    for make in (lambda m: m.tensor([1, 2]), lambda m: m.tensor([True])):
        errors = []
        for lib in (cgrad, torch):
            with pytest.raises(RuntimeError) as e:
                make(lib).nanmean()
            errors.append(str(e.value))
        assert errors[0] == errors[1]


@pytest.mark.parametrize("dim", [None, 1])
def test_nansum_and_nanmean_gradients_at_nans_match_torch(dim):
    """The NaNs' gradient is the upstream one times 0: NaN where that is
    infinite, as under an all-NaN slice's mean (0 / 0 counts)."""
    torch = pytest.importorskip("torch")
    data = [[float("nan"), float("nan")], [1.0, float("nan")]]
    out = []
    for lib in (cgrad, torch):
        x = lib.tensor(data, requires_grad=True)
        s = x.nansum() if dim is None else lib.nansum(x, dim)
        (s * float("inf")).sum().backward()
        y = lib.tensor(data, requires_grad=True)
        lib.nanmean(y, 1).sum().backward()
        out.append((s.grad_fn.name(), x.grad.tolist(), y.grad.tolist()))
    assert str(out[0]) == str(out[1])
