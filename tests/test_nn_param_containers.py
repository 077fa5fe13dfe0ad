"""ParameterList and ParameterDict against PyTorch."""
from collections import OrderedDict

import numpy as np
import pytest

import cgrad
from cgrad import nn

torch = pytest.importorskip("torch")


def lists():
    """The same ParameterList built in both libraries: Parameters, plain tensors (made Parameters) and others."""
    out = []
    for lib in (cgrad, torch):
        out.append(lib.nn.ParameterList([lib.nn.Parameter(lib.zeros(3, 4)), lib.zeros(2, dtype=lib.float64),
                                         lib.nn.Parameter(lib.zeros(())), 7, "x"]))
    return out


def test_parameter_list_registers_tensors_as_torch():
    c, t = lists()
    assert len(c) == len(t) == 5
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in t.named_parameters()] == ["0", "1", "2"]
    assert isinstance(c[1], nn.Parameter) and c[1].requires_grad
    assert c[3] == 7 and c[-1] == "x"
    assert repr(c) == repr(t).replace("torch.", "cgrad.")
    m_c, m_t = nn.Module(), torch.nn.Module()
    m_c.p, m_t.p = c, t
    assert repr(m_c) == repr(m_t).replace("torch.", "cgrad.")
    assert list(m_c.state_dict()) == list(m_t.state_dict()) == ["p.0", "p.1", "p.2"]


def test_parameter_list_is_a_list():
    c, t = lists()
    assert len(c[1:4]) == len(t[1:4]) == 3 and isinstance(c[1:4], nn.ParameterList)
    assert [type(v).__name__ for v in c[::2]] == ["Parameter", "Parameter", "str"]
    c.append(cgrad.ones(2))
    c.extend([cgrad.ones(1)])
    c += [cgrad.ones(3)]
    assert len(c) == 8 and len(list(c.parameters())) == 6
    c[0] = cgrad.full((2,), 5.0)
    assert isinstance(c[0], nn.Parameter) and c[0].tolist() == [5.0, 5.0]
    assert [p.shape for p in c.parameters()][0] == (2,)
    assert list(iter(c))[4] == "x"
    assert "0" not in dir(c)
    for bad in (lambda x: x[10], lambda x: x[-9]):
        with pytest.raises(IndexError, match="out of range"):
            bad(c)
    with pytest.raises(TypeError) as t_err:
        t.extend(torch.zeros(2))
    with pytest.raises(TypeError) as c_err:
        c.extend(cgrad.zeros(2))
    assert str(c_err.value) == str(t_err.value)
    with pytest.raises(RuntimeError, match="ParameterList should not be called."):
        c()


def test_parameter_list_trains():
    cgrad.manual_seed(0)
    params = nn.ParameterList([cgrad.randn(3) for _ in range(3)])
    opt = cgrad.optim.SGD(params.parameters(), lr=0.1)
    loss = sum((p * p).sum() for p in params)
    loss.backward()
    before = [p.detach().numpy().copy() for p in params]
    opt.step()
    for b, p in zip(before, params):
        np.testing.assert_allclose(p.detach().numpy(), b * 0.8, rtol=1e-6)


def dicts(make=lambda lib: {"b": lib.zeros(2), "a": lib.nn.Parameter(lib.ones(1, 2)), "c": 3}):
    return [lib.nn.ParameterDict(make(lib)) for lib in (cgrad, torch)]


def test_parameter_dict_registers_tensors_as_torch():
    c, t = dicts()
    assert list(c.keys()) == list(t.keys()) == ["a", "b", "c"]  # a plain dict is taken in sorted order
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert repr(c) == repr(t)
    c2, t2 = dicts(lambda lib: OrderedDict([("z", lib.zeros(1)), ("y", lib.zeros(2))]))
    assert list(c2) == list(t2) == ["z", "y"]
    c3, t3 = dicts(lambda lib: [("q", lib.zeros(1)), ("p", 1.5)])
    assert list(c3.items())[1] == ("p", 1.5) and list(c3) == list(t3)


def test_parameter_dict_is_a_dict():
    c, t = dicts()
    assert "a" in c and "zz" not in c and len(c) == 3
    assert c.get("zz", 4) == 4 and c.get("c") == 3
    c["d"] = cgrad.ones(3)
    assert isinstance(c["d"], nn.Parameter) and len(list(c.parameters())) == 3
    assert c.setdefault("e", 5) == 5 and c.setdefault("e", 6) == 5
    assert c.pop("e") == 5 and "e" not in c
    k, v = c.popitem()
    assert k == "d" and isinstance(v, nn.Parameter) and "d" not in c
    copy = c.copy()
    assert list(copy) == list(c) and copy["a"] is c["a"]
    assert list(c.fromkeys(["x", "y"], 2).items()) == [("x", 2), ("y", 2)]
    assert list(reversed(c)) == ["c", "b", "a"]
    del c["a"]
    assert list(c) == ["b", "c"] and [n for n, _ in c.named_parameters()] == ["b"]
    c.clear()
    assert len(c) == 0 and list(c.parameters()) == []
    with pytest.raises(KeyError):
        c.popitem()
    with pytest.raises(AttributeError):
        c["missing"]
    with pytest.raises(TypeError) as t_err:
        t[1]
    with pytest.raises(TypeError) as c_err:
        c[1]
    assert str(c_err.value) == str(t_err.value)
    for bad in ([("a", 1, 2)], [3]):
        with pytest.raises(Exception) as t_err:
            t.update(bad)
        with pytest.raises(type(t_err.value)) as c_err:
            c.update(bad)
        assert str(c_err.value) == str(t_err.value)
    with pytest.raises(RuntimeError, match="ParameterDict should not be called."):
        c()


def test_containers_move_with_the_module():
    m = nn.Module()
    m.pl = nn.ParameterList([cgrad.zeros(2)])
    m.pd = nn.ParameterDict({"w": cgrad.zeros(3)})
    m.double()
    assert m.pl[0].dtype == cgrad.float64 and m.pd["w"].dtype == cgrad.float64
    assert isinstance(m.pl[0], nn.Parameter) and isinstance(m.pd["w"], nn.Parameter)
    assert sorted(m.state_dict()) == ["pd.w", "pl.0"]
