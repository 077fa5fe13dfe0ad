"""nn.utils.prune against torch: masks (exactly, ties included), the weight_orig / weight_mask names, state
dicts, the forward pre-hook, gradients, iterative pruning, global pruning, removal and errors. Random methods
are checked for what they must prune, since the two libraries draw different numbers."""
import math

import numpy as np
import pytest

import cgrad
from helpers import error_of, in_both

torch = pytest.importorskip("torch")
import torch.nn.utils.prune  # noqa: E402,F401  (torch does not import it with torch.nn.utils)


def assert_same_error(fn):
    """fn(cgrad) raises what fn(torch) raises, messages alike but for the library's name in reprs."""
    ours, theirs = error_of(fn, cgrad), error_of(fn, torch)
    assert theirs is not None and ours is not None, f"expected an error; torch: {theirs!r}, cgrad: {ours!r}"
    assert type(ours) is type(theirs), f"{ours!r} vs {theirs!r}"
    assert str(ours).replace("cgrad.", "torch.") == str(theirs).split("\n")[0]


def _np(x):
    return x.detach().numpy()


def _linear(lib, w=None, out=4, inp=6, seed=0):
    rng = np.random.default_rng(seed)
    lin = lib.nn.Linear(inp, out).double()
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(rng.standard_normal((out, inp)) if w is None else w))
        lin.bias.copy_(lib.tensor(rng.standard_normal(out)))
    return lin


def _conv(lib, seed=0):
    rng = np.random.default_rng(seed)
    conv = lib.nn.Conv2d(3, 5, 3).double()
    with lib.no_grad():
        conv.weight.copy_(lib.tensor(rng.standard_normal((5, 3, 3, 3))))
        conv.bias.copy_(lib.tensor(rng.standard_normal(5)))
    return conv


def _same_module(m_c, m_t):
    assert list(m_c.state_dict()) == list(m_t.state_dict())
    assert [n for n, _ in m_c.named_parameters()] == [n for n, _ in m_t.named_parameters()]
    assert [n for n, _ in m_c.named_buffers()] == [n for n, _ in m_t.named_buffers()]
    for (k, a), b in zip(m_c.state_dict().items(), m_t.state_dict().values()):
        np.testing.assert_array_equal(_np(a), _np(b), err_msg=k)


@pytest.mark.parametrize("amount", [0, 1, 7, 24, 0.0, 0.3, 0.5, 1.0])
def test_l1_unstructured_matches_torch(amount):
    m_c, m_t = in_both(lambda lib: lib.nn.utils.prune.l1_unstructured(_linear(lib), "weight", amount))
    _same_module(m_c, m_t)
    assert (_np(m_c.weight_mask) == 0).sum() == (amount if isinstance(amount, int) else round(amount * 24))
    np.testing.assert_array_equal(_np(m_c.weight), _np(m_t.weight))
    assert type(m_c.weight_orig).__name__ == "Parameter" and "weight" not in dict(m_c.named_parameters())


def test_importance_scores():
    scores = np.arange(24.0).reshape(4, 6)[:, ::-1].copy()

    def run(lib):
        m = lib.nn.utils.prune.l1_unstructured(_linear(lib), "weight", 10, importance_scores=lib.tensor(scores))
        return lib.nn.utils.prune.ln_structured(m, "weight", 2, 2, 1, importance_scores=lib.tensor(scores))
    _same_module(*in_both(run))
    assert_same_error(lambda lib: lib.nn.utils.prune.l1_unstructured(_linear(lib), "weight", 3,
                                                                     importance_scores=lib.ones(3)))


@pytest.mark.parametrize("seed", range(6))
def test_ties_broken_as_torch(seed):
    rng = np.random.default_rng(seed)
    w = rng.integers(-2, 3, (8, 20)).astype(np.float64)  # many equal magnitudes
    big = np.zeros((3, 400))  # a zero-initialized tensor: all ties, and k * 64 <= n for small k

    def run(lib):
        m = lib.nn.utils.prune.l1_unstructured(_linear(lib, w, 8, 20), "weight", float(rng.uniform(0.1, 0.9)))
        lib.nn.utils.prune.ln_structured(m, "weight", 3, 1, 1)
        z = lib.nn.utils.prune.l1_unstructured(_linear(lib, big, 3, 400), "weight", 5 + seed)
        lib.nn.utils.prune.l1_unstructured(z, "bias", 1)
        return m, z
    state = rng.bit_generator.state
    (m_c, z_c) = run(cgrad)
    rng.bit_generator.state = state
    (m_t, z_t) = run(torch)
    _same_module(m_c, m_t)
    _same_module(z_c, z_t)


@pytest.mark.parametrize("n", [1, 2, 3, math.inf, -math.inf, "fro"])
@pytest.mark.parametrize("dim", [0, 1, -1, 3])
def test_ln_structured_matches_torch(n, dim):
    if n == "fro":  # torch.norm's "fro" over the three other dims of a conv weight is an error
        assert_same_error(lambda lib: lib.nn.utils.prune.ln_structured(_conv(lib), "weight", 0.4, n, dim))
        m_c, m_t = in_both(lambda lib: lib.nn.utils.prune.ln_structured(_linear(lib), "weight", 2, n, dim % 2))
        _same_module(m_c, m_t)
        return
    m_c, m_t = in_both(lambda lib: lib.nn.utils.prune.ln_structured(_conv(lib), "weight", 0.4, n, dim))
    _same_module(m_c, m_t)
    mask = _np(m_c.weight_mask)
    pruned = [c for c in range(mask.shape[dim]) if not np.take(mask, c, axis=dim).any()]
    assert len(pruned) == round(0.4 * mask.shape[dim])


def test_forward_hook_and_gradients():
    def run(lib):
        m = lib.nn.utils.prune.l1_unstructured(_conv(lib), "weight", 0.5)
        lib.nn.utils.prune.l1_unstructured(m, "bias", 2)
        x = lib.tensor(np.random.default_rng(3).standard_normal((2, 3, 5, 5)))
        with lib.no_grad():
            m.weight_orig.mul_(2)  # the hook recomputes weight from weight_orig before forward
        y = m(x)
        (y ** 2).sum().backward()
        return m, y
    (m_c, y_c), (m_t, y_t) = in_both(run)
    np.testing.assert_allclose(_np(y_c), _np(y_t), rtol=1e-12, atol=1e-12)
    for name in ("weight_orig", "bias_orig"):
        g_c, g_t = getattr(m_c, name).grad, getattr(m_t, name).grad
        np.testing.assert_allclose(_np(g_c), _np(g_t), rtol=1e-12, atol=1e-12)
    assert (_np(m_c.weight_orig.grad)[_np(m_c.weight_mask) == 0] == 0).all()
    assert type(m_c.weight.grad_fn).__name__ == type(m_t.weight.grad_fn).__name__ == "MulBackward0"


def test_iterative_pruning_uses_a_container():
    def run(lib):
        p = lib.nn.utils.prune
        m = p.l1_unstructured(_linear(lib, out=6, inp=8), "weight", 0.25)
        p.ln_structured(m, "weight", 2, 2, 0)
        p.l1_unstructured(m, "weight", 5)
        p.custom_from_mask(m, "weight", lib.tensor(np.arange(48).reshape(6, 8) % 5 != 0))
        p.identity(m, "weight")
        hooks = list(m._forward_pre_hooks.values())
        assert len(hooks) == 1 and type(hooks[0]).__name__ == "PruningContainer" and len(hooks[0]) == 5
        assert [type(h).__name__ for h in hooks[0]] == ["L1Unstructured", "LnStructured", "L1Unstructured",
                                                         "CustomFromMask", "Identity"]
        return m
    m_c, m_t = in_both(run)
    _same_module(m_c, m_t)


def test_custom_from_mask_and_identity():
    mask = np.random.default_rng(2).random((4, 6)) > 0.5
    _same_module(*in_both(lambda lib: lib.nn.utils.prune.custom_from_mask(_linear(lib), "weight", lib.tensor(mask))))
    m_c, m_t = in_both(lambda lib: lib.nn.utils.prune.identity(_linear(lib), "bias"))
    _same_module(m_c, m_t)
    assert (_np(m_c.bias_mask) == 1).all()


@pytest.mark.parametrize("amount", [10, 0.35])
def test_global_unstructured(amount):
    def run(lib, scores):
        mods = [_linear(lib, seed=1), _conv(lib, seed=2), _linear(lib, out=3, inp=4, seed=3)]
        lib.nn.utils.prune.l1_unstructured(mods[2], "weight", 4)
        params = [(mods[0], "weight"), (mods[1], "weight"), (mods[0], "bias"), (mods[2], "weight")]
        imp = {(mods[1], "weight"): lib.tensor(np.full((5, 3, 3, 3), 0.01))} if scores else None
        lib.nn.utils.prune.global_unstructured(params, pruning_method=lib.nn.utils.prune.L1Unstructured,
                                               importance_scores=imp, amount=amount)
        return mods
    for scores in (False, True):
        for a, b in zip(run(cgrad, scores), run(torch, scores)):
            _same_module(a, b)
    total = sum((_np(m.weight_mask) == 0).sum() for m in run(cgrad, False))
    total += (_np(run(cgrad, False)[0].bias_mask) == 0).sum()
    n = 24 + 135 + 4 + 12
    assert total == (amount if isinstance(amount, int) else round(amount * (n - 4))) + 4


def test_global_unstructured_errors():
    assert_same_error(lambda lib: lib.nn.utils.prune.global_unstructured(
        [(_linear(lib), "weight")], lib.nn.utils.prune.RandomStructured, amount=1))
    assert_same_error(lambda lib: lib.nn.utils.prune.global_unstructured(
        3, lib.nn.utils.prune.L1Unstructured, amount=1))
    assert_same_error(lambda lib: lib.nn.utils.prune.global_unstructured(
        [(_linear(lib), "weight")], lib.nn.utils.prune.L1Unstructured, importance_scores=[1], amount=1))


def test_remove_makes_pruning_permanent():
    def run(lib):
        m = lib.nn.utils.prune.l1_unstructured(_linear(lib), "weight", 9)
        lib.nn.utils.prune.random_unstructured(m, "bias", 0)
        pruned = _np(m.weight).copy()
        lib.nn.utils.prune.remove(m, "weight")
        assert not lib.nn.utils.prune.is_pruned(lib.nn.Sequential(lib.nn.Linear(1, 1)))
        assert lib.nn.utils.prune.is_pruned(lib.nn.Sequential(m))
        lib.nn.utils.prune.remove(m, "bias")
        assert not lib.nn.utils.prune.is_pruned(m) and not m._forward_pre_hooks
        np.testing.assert_array_equal(_np(m.weight), pruned)
        assert type(m.weight).__name__ == "Parameter" and m.weight.requires_grad
        return m
    _same_module(*in_both(run))
    assert_same_error(lambda lib: lib.nn.utils.prune.remove(lib.nn.Linear(3, 2), "weight"))


def test_state_dict_round_trip():
    src = cgrad.nn.utils.prune.l1_unstructured(_linear(cgrad), "weight", 0.5)
    dst = cgrad.nn.utils.prune.identity(_linear(cgrad, seed=9), "weight")
    dst.load_state_dict(src.state_dict())
    x = cgrad.ones(2, 6, dtype=cgrad.float64)
    np.testing.assert_array_equal(_np(dst(x)), _np(src(x)))


def test_prune_method_on_a_tensor():
    t = np.random.default_rng(5).standard_normal((4, 5))
    a, b = in_both(lambda lib: lib.nn.utils.prune.L1Unstructured(amount=0.4).prune(lib.tensor(t)))
    np.testing.assert_array_equal(_np(a), _np(b))
    a, b = in_both(lambda lib: lib.nn.utils.prune.LnStructured(2, n=1, dim=0).prune(lib.tensor(t),
                                                                                    default_mask=lib.ones(4, 5)))
    np.testing.assert_array_equal(_np(a), _np(b))


@pytest.mark.parametrize("amount", [0, 5, 0.5, 1.0])
def test_random_unstructured_prunes_the_amount(amount):
    m = cgrad.nn.utils.prune.random_unstructured(_conv(cgrad), "weight", amount)
    mask = _np(m.weight_mask)
    assert mask.shape == (5, 3, 3, 3) and set(np.unique(mask)) <= {0.0, 1.0}
    assert (mask == 0).sum() == (amount if isinstance(amount, int) else round(amount * 135))
    np.testing.assert_array_equal(_np(m.weight), mask * _np(m.weight_orig))
    assert list(m.state_dict()) == list(torch.nn.utils.prune.random_unstructured(_conv(torch), "weight",
                                                                                 amount).state_dict())


def test_random_methods_are_uniform():
    cgrad.manual_seed(0)
    counts = np.zeros((4, 6))
    channels = np.zeros(6)
    for _ in range(300):
        counts += _np(cgrad.nn.utils.prune.random_unstructured(_linear(cgrad), "weight", 6).weight_mask) == 0
        mask = _np(cgrad.nn.utils.prune.random_structured(_linear(cgrad), "weight", 2, 1).weight_mask)
        channels += (mask == 0).all(axis=0)
    np.testing.assert_allclose(counts / 300, 0.25, atol=0.1)  # each entry: 6 of 24
    np.testing.assert_allclose(channels / 300, 1 / 3, atol=0.1)  # each column: 2 of 6


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_random_structured_prunes_whole_channels(dim):
    m = cgrad.nn.utils.prune.l1_unstructured(_conv(cgrad), "weight", 20)
    cgrad.nn.utils.prune.random_structured(m, "weight", 0.34, dim)
    mask = _np(m.weight_mask)
    n = mask.shape[dim]
    pruned = [c for c in range(n) if not np.take(mask, c, axis=dim).any()]
    assert len(pruned) >= round(0.34 * n)
    first = _np(cgrad.nn.utils.prune.l1_unstructured(_conv(cgrad), "weight", 20).weight_mask)
    assert ((mask == 1) <= (first == 1)).all()  # the earlier pruning stays


def test_errors_match_torch():
    assert_same_error(lambda lib: lib.nn.utils.prune.L1Unstructured(amount="a"))
    assert_same_error(lambda lib: lib.nn.utils.prune.L1Unstructured(amount=1.5))
    assert_same_error(lambda lib: lib.nn.utils.prune.L1Unstructured(amount=-1))
    assert_same_error(lambda lib: lib.nn.utils.prune.l1_unstructured(_linear(lib), "weight", 25))
    assert_same_error(lambda lib: lib.nn.utils.prune.ln_structured(_linear(lib), "bias", 1, 2, 0))
    assert_same_error(lambda lib: lib.nn.utils.prune.ln_structured(_linear(lib), "weight", 1, 2, 2))
    assert_same_error(lambda lib: lib.nn.utils.prune.random_structured(_linear(lib), "weight", 7, 0))
    assert_same_error(lambda lib: lib.nn.utils.prune.PruningContainer(lib.nn.utils.prune.Identity(), 3))

    def mixed(lib):
        a, b = lib.nn.utils.prune.Identity(), lib.nn.utils.prune.Identity()
        a._tensor_name, b._tensor_name = "weight", "bias"
        c = lib.nn.utils.prune.PruningContainer(a)
        c.add_pruning_method(b)
    ours = pytest.raises(ValueError, mixed, cgrad)
    assert str(ours.value).startswith("Can only add pruning methods acting on the parameter named 'weight'")


def test_failed_pruning_restores_the_parameter():
    for lib in (cgrad, torch):
        m = _linear(lib)
        with pytest.raises(ValueError):
            lib.nn.utils.prune.l1_unstructured(m, "weight", 100)
        assert "weight" in dict(m.named_parameters()) and "weight_orig" not in dict(m.named_parameters())
