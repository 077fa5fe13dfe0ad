"""nn.utils.parametrize, parametrizations.weight_norm and the older weight_norm against torch:
values, gradients, parameter names, state dicts, class names, right_inverse and removal."""
import numpy as np
import pytest

import cgrad
from helpers import assert_same_error, in_both

torch = pytest.importorskip("torch")


def _np(x):
    return x.detach().numpy()


def _linear(lib, i=3, o=4, seed=0):
    lin = lib.nn.Linear(i, o).double()
    rng = np.random.default_rng(seed)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(rng.standard_normal((o, i))))
        lin.bias.copy_(lib.tensor(rng.standard_normal(o)))
    return lin


def _symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).transpose(-1, -2)

        def right_inverse(self, a):
            return a.triu()
    return Symmetric()


def _scale(lib):
    class Scale(lib.nn.Module):
        def forward(self, x):
            return x * 2

        def right_inverse(self, a):
            return a / 2
    return Scale()


def _grads_equal(m_c, m_t, x):
    y_c = m_c(cgrad.tensor(x))
    y_t = m_t(torch.tensor(x))
    np.testing.assert_allclose(_np(y_c), _np(y_t), rtol=1e-12, atol=1e-12)
    (y_c ** 2).sum().backward()
    (y_t ** 2).sum().backward()
    gc = dict(m_c.named_parameters())
    gt = dict(m_t.named_parameters())
    assert list(gc) == list(gt)
    for k in gt:
        np.testing.assert_allclose(_np(gc[k].grad), _np(gt[k].grad), rtol=1e-10, atol=1e-12, err_msg=k)


def test_register_parametrization_symmetric():
    def make(lib):
        lin = _linear(lib, 4, 4)
        lib.nn.utils.parametrize.register_parametrization(lin, "weight", _symmetric(lib))
        return lin
    m_c, m_t = in_both(make)
    assert type(m_c).__name__ == type(m_t).__name__ == "ParametrizedLinear"
    assert list(m_c.state_dict()) == list(m_t.state_dict())
    np.testing.assert_allclose(_np(m_c.weight), _np(m_t.weight))
    assert cgrad.nn.utils.parametrize.is_parametrized(m_c)
    assert cgrad.nn.utils.parametrize.is_parametrized(m_c, "weight")
    assert not cgrad.nn.utils.parametrize.is_parametrized(m_c, "bias")
    assert cgrad.nn.utils.parametrize.type_before_parametrizations(m_c) is cgrad.nn.Linear
    _grads_equal(m_c, m_t, np.random.default_rng(1).standard_normal((2, 4)))


def test_chained_parametrizations_and_assignment():
    def make(lib):
        lin = _linear(lib, 3, 3, seed=2)
        P = lib.nn.utils.parametrize
        P.register_parametrization(lin, "weight", _symmetric(lib))
        P.register_parametrization(lin, "weight", _scale(lib))
        with lib.no_grad():
            lin.weight = lib.ones(3, 3, dtype=lib.float64) * 4
        return lin
    m_c, m_t = in_both(make)
    np.testing.assert_allclose(_np(m_c.weight), _np(m_t.weight))
    np.testing.assert_allclose(_np(m_c.parametrizations.weight.original),
                               _np(m_t.parametrizations.weight.original))
    _grads_equal(m_c, m_t, np.random.default_rng(3).standard_normal((2, 3)))


@pytest.mark.parametrize("leave", [True, False])
def test_remove_parametrizations(leave):
    def make(lib):
        lin = _linear(lib, 4, 4, seed=4)
        P = lib.nn.utils.parametrize
        P.register_parametrization(lin, "weight", _scale(lib))
        P.remove_parametrizations(lin, "weight", leave_parametrized=leave)
        return lin
    m_c, m_t = in_both(make)
    assert type(m_c) is cgrad.nn.Linear and type(m_t) is torch.nn.Linear
    assert isinstance(m_c.weight, cgrad.nn.Parameter)
    np.testing.assert_allclose(_np(m_c.weight), _np(m_t.weight))
    assert list(m_c.state_dict()) == list(m_t.state_dict())


def test_cached():
    lin = _linear(cgrad, 3, 3)
    calls = []

    class Count(cgrad.nn.Module):
        def forward(self, x):
            calls.append(1)
            return x
    cgrad.nn.utils.parametrize.register_parametrization(lin, "weight", Count())
    calls.clear()
    with cgrad.nn.utils.parametrize.cached():
        lin.weight
        lin.weight
    assert len(calls) == 1
    lin.weight
    assert len(calls) == 2


@pytest.mark.parametrize("fn", [
    lambda L: L.nn.utils.parametrize.register_parametrization(L.nn.Linear(2, 2), "nope", L.nn.Identity()),
    lambda L: L.nn.utils.parametrize.remove_parametrizations(L.nn.Linear(2, 2), "weight"),
])
def test_parametrize_errors(fn):
    ours, theirs = None, None
    try:
        fn(cgrad)
    except Exception as e:  # noqa: BLE001
        ours = e
    try:
        fn(torch)
    except Exception as e:  # noqa: BLE001
        theirs = e
    assert type(ours) is type(theirs) is ValueError


def test_parametrization_may_not_change_shape():
    class First(cgrad.nn.Module):
        def forward(self, x):
            return x[0]
    with pytest.raises(ValueError, match="may not change the shape"):
        cgrad.nn.utils.parametrize.register_parametrization(cgrad.nn.Linear(2, 2), "weight", First())


@pytest.mark.parametrize("dim", [0, 1, None, -1])
def test_parametrizations_weight_norm(dim):
    def make(lib):
        lin = _linear(lib, 3, 5, seed=5)
        return lib.nn.utils.parametrizations.weight_norm(lin, dim=dim)
    m_c, m_t = in_both(make)
    assert list(m_c.state_dict()) == list(m_t.state_dict())
    for k, v in m_t.state_dict().items():
        np.testing.assert_allclose(_np(m_c.state_dict()[k]), _np(v), rtol=1e-13, err_msg=k)
    _grads_equal(m_c, m_t, np.random.default_rng(6).standard_normal((2, 3)))


@pytest.mark.parametrize("dim", [0, 1, None])
def test_old_weight_norm(dim):
    def make(lib):
        lin = _linear(lib, 3, 5, seed=7)
        with pytest.warns(FutureWarning, match="deprecated in favor of"):
            return lib.nn.utils.weight_norm(lin, dim=dim)
    m_c, m_t = in_both(make)
    assert list(m_c.state_dict()) == list(m_t.state_dict())
    _grads_equal(m_c, m_t, np.random.default_rng(8).standard_normal((2, 3)))
    cgrad.nn.utils.remove_weight_norm(m_c)
    torch.nn.utils.remove_weight_norm(m_t)
    assert list(m_c.state_dict()) == list(m_t.state_dict())
    np.testing.assert_allclose(_np(m_c.weight), _np(m_t.weight), rtol=1e-12)
    assert_same_error(lambda L: L.nn.utils.remove_weight_norm(L.nn.Linear(2, 2)))


def test_weight_norm_on_conv_and_norm_except_dim():
    a = np.random.default_rng(9).standard_normal((4, 3, 2, 2))
    for dim in (0, 1, 3, -1):
        np.testing.assert_allclose(_np(cgrad.norm_except_dim(cgrad.tensor(a), 2, dim)),
                                   torch.norm_except_dim(torch.tensor(a), 2, dim).numpy(), rtol=1e-13)
    conv_c = cgrad.nn.utils.parametrizations.weight_norm(cgrad.nn.Conv2d(3, 4, 2).double())
    conv_t = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv2d(3, 4, 2).double())
    with cgrad.no_grad():
        conv_c.parametrizations.weight.original1.copy_(cgrad.tensor(a))
        conv_c.parametrizations.weight.original0.fill_(1.5)
        conv_c.bias.zero_()
    with torch.no_grad():
        conv_t.parametrizations.weight.original1.copy_(torch.tensor(a))
        conv_t.parametrizations.weight.original0.fill_(1.5)
        conv_t.bias.zero_()
    x = np.random.default_rng(10).standard_normal((1, 3, 4, 4))
    np.testing.assert_allclose(_np(conv_c(cgrad.tensor(x))), _np(conv_t(torch.tensor(x))), rtol=1e-11)
