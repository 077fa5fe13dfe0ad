"""Module backward hooks (register_full_backward_hook / _pre_hook) against PyTorch."""
import warnings

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def arr(t):
    if t is None or isinstance(t, np.ndarray):
        return t
    return t.detach().numpy().copy()


def same(a, b):
    if a is None or b is None:
        assert a is None and b is None
    else:
        np.testing.assert_allclose(arr(a), arr(b), rtol=1e-12, atol=1e-12)


class Mix:
    """A module of two inputs: x @ W.T + scale * y, built in either library."""

    @staticmethod
    def make(lib):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = lib.nn.Linear(3, 2, dtype=lib.float64)

            def forward(self, x, y, scale=1.0):
                return self.lin(x) + scale * y, (y * y).sum()
        lib.manual_seed(0)
        m = M()
        with lib.no_grad():
            m.lin.weight.copy_(lib.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], dtype=lib.float64))
            m.lin.bias.copy_(lib.tensor([0.1, -0.2], dtype=lib.float64))
        return m


def run(lib, hook_kind, y_requires_grad=True, modify=None):
    m = Mix.make(lib)
    seen = []

    def hook(module, grad_input, grad_output):
        assert module is m
        seen.append(("hook", [arr(g) for g in grad_input], [arr(g) for g in grad_output]))
        if modify == "input":
            return tuple(None if g is None else g * 3 for g in grad_input)
        return None

    def pre_hook(module, grad_output):
        seen.append(("pre", [arr(g) for g in grad_output]))
        if modify == "output":
            return tuple(None if g is None else g * 2 for g in grad_output)
        return None

    handles = []
    if hook_kind in ("full", "both"):
        handles.append(m.register_full_backward_hook(hook))
    if hook_kind in ("pre", "both"):
        handles.append(m.register_full_backward_pre_hook(pre_hook))
    x = lib.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], dtype=lib.float64, requires_grad=True)
    y = lib.tensor([[0.5, 1.0], [2.0, -1.0]], dtype=lib.float64, requires_grad=y_requires_grad)
    out, sq = m(x, y, 2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (out * lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64)).sum().add(sq).backward()
    return seen, x.grad, y.grad, m.lin.weight.grad, out.grad_fn.name(), handles, m, x, y


@pytest.mark.parametrize("kind", ["full", "pre", "both"])
@pytest.mark.parametrize("modify", [None, "input", "output"])
@pytest.mark.parametrize("y_grad", [True, False])
def test_hooks_see_and_replace_the_gradients_as_torch(kind, modify, y_grad):
    c, t = run(cgrad, kind, y_grad, modify), run(torch, kind, y_grad, modify)
    assert [s[0] for s in c[0]] == [s[0] for s in t[0]]
    for a, b in zip(c[0], t[0]):
        for xs, ys in zip(a[1:], b[1:]):
            assert len(xs) == len(ys)
            for u, v in zip(xs, ys):
                same(u, v)
    for u, v in zip(c[1:4], t[1:4]):
        same(u, v)
    assert c[4] == t[4] == "BackwardHookFunctionBackward"


def test_removed_hooks_do_not_run():
    seen, *_, handles, m, x, y = run(cgrad, "both")
    assert len(seen) == 2
    for h in handles:
        h.remove()
    out, sq = m(x, y)
    (out.sum() + sq).backward()
    assert len(seen) == 2 and out.grad_fn.name() != "BackwardHookFunctionBackward"


def test_hooks_fire_with_none_when_no_input_requires_grad():
    for lib in (cgrad, torch):
        lin = lib.nn.Linear(3, 2)
        calls = []
        lin.register_full_backward_hook(lambda mod, gi, go: calls.append((gi, tuple(g.shape for g in go))))
        with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are computed with respect"):
            lin(lib.ones(4, 3)).sum().backward()
        assert calls == [((None,), ((4, 2),))]
        lin.register_full_backward_hook(lambda mod, gi, go: (lib.ones(1),))
        with pytest.raises(RuntimeError, match="should always return None or None for all gradients"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lin(lib.ones(4, 3)).sum().backward()


def test_hook_results_of_the_wrong_length_are_refused_as_torch():
    for lib in (cgrad, torch):
        lin = lib.nn.Linear(3, 2)
        lin.register_full_backward_hook(lambda mod, gi, go: (None, None))
        with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of grad_input, got 2, but "
                                               "expected 1"):
            lin(lib.ones(4, 3, requires_grad=True)).sum().backward()
        lin2 = lib.nn.Linear(3, 2)
        lin2.register_full_backward_pre_hook(lambda mod, go: (None, None))
        with pytest.raises(RuntimeError, match="Backward pre hook returned an invalid number of grad_output"):
            lin2(lib.ones(4, 3, requires_grad=True)).sum().backward()


def test_hooks_run_in_registration_order_and_prepend():
    order = []
    lin = cgrad.nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda *a: order.append("a"))
    lin.register_full_backward_hook(lambda *a: order.append("b"))
    lin.register_full_backward_hook(lambda *a: order.append("first"), prepend=True)
    lin(cgrad.ones(1, 2, requires_grad=True)).sum().backward()
    assert order == ["first", "a", "b"]
    with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks and full backward hooks"):
        lin.register_backward_hook(lambda *a: None)


# ---- other Module methods ----------------------------------------------------------------------------

def make_net(lib):
    net = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3))
    return net


def test_get_buffer_and_set_submodule_match_torch():
    c, t = make_net(cgrad), make_net(torch)
    assert c.get_buffer("1.running_var").tolist() == t.get_buffer("1.running_var").tolist()
    for target in ("1.weight", "1.nothing", "2.x"):
        with pytest.raises(AttributeError) as t_err:
            t.get_buffer(target)
        with pytest.raises(AttributeError) as c_err:
            c.get_buffer(target)
        assert str(c_err.value) == str(t_err.value)
    c.set_submodule("0", cgrad.nn.Linear(2, 3, bias=False))
    assert c[0].bias is None
    c.set_submodule("extra", cgrad.nn.ReLU())
    assert isinstance(c.extra, cgrad.nn.ReLU)
    for args in (("", cgrad.nn.ReLU()), ("0", 3), ("1.weight", cgrad.nn.ReLU()), ("nope", cgrad.nn.ReLU(), True)):
        targs = tuple(torch.nn.ReLU() if isinstance(a, cgrad.nn.ReLU) else a for a in args)
        with pytest.raises(Exception) as t_err:
            t.set_submodule(*targs)
        with pytest.raises(type(t_err.value)) as c_err:
            c.set_submodule(*args)
        assert str(c_err.value).replace("cgrad.", "torch.").split(",")[0] == str(t_err.value).split(",")[0]
    with pytest.raises(NotImplementedError, match="float16"):
        c.half()


def test_extra_state_goes_into_the_state_dict():
    class Counter(cgrad.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = cgrad.nn.Linear(1, 1)
            self.calls = 0

        def get_extra_state(self):
            return {"calls": self.calls}

        def set_extra_state(self, state):
            self.calls = state["calls"]

    a = Counter()
    a.calls = 7
    sd = a.state_dict()
    assert list(sd) == ["_extra_state", "lin.weight", "lin.bias"] and sd["_extra_state"] == {"calls": 7}
    b = Counter()
    b.load_state_dict(sd)
    assert b.calls == 7
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "_extra_state"'):
        b.load_state_dict({k: v for k, v in sd.items() if k != "_extra_state"})
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "_extra_state"'):
        cgrad.nn.Linear(1, 1).load_state_dict({"weight": sd["lin.weight"], "bias": sd["lin.bias"],
                                               "_extra_state": {}})
