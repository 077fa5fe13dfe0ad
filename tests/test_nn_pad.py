"""F.pad and the padding layers against PyTorch."""
import numpy as np
import pytest

import cgrad
from cgrad import nn
from cgrad.nn import functional as F
from helpers import random_leaves

torch = pytest.importorskip("torch")


def check(c_fn, t_fn, shape, dtype="float64"):
    cx, tx = random_leaves(shape, dtype)
    co, to = c_fn(cx), t_fn(tx)
    assert tuple(co.shape) == tuple(to.shape)
    np.testing.assert_array_equal(co.detach().numpy(), to.detach().numpy())
    g = np.random.default_rng(1).standard_normal(tuple(to.shape)).astype(dtype)
    co.backward(cgrad.tensor(g))
    to.backward(torch.tensor(g))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


CASES = [
    ("constant", (2, 3, 4), (1, 2)), ("constant", (2, 3, 4), (1, 2, 0, 3)), ("constant", (2, 3, 4), (1, 1, 1, 1, 1, 1)),
    ("constant", (2, 3, 4), (-1, 2)), ("constant", (2, 3, 4), (-1, -1)), ("constant", (2, 3, 4), (2, -3, -1, 1)),
    ("constant", (5,), (3, 0)), ("constant", (2, 3), (0, 0)),
    ("reflect", (2, 5), (2, 3)), ("reflect", (2, 3, 5), (4, 1)), ("reflect", (2, 3, 4), (1, 2, 2, 1)),
    ("reflect", (2, 3, 4, 5), (1, 2, 2, 1)), ("reflect", (1, 2, 3, 4, 5), (1, 2, 2, 1, 0, 2)),
    ("reflect", (2, 3, 5), (-1, 2)),
    ("replicate", (2, 5), (3, 6)), ("replicate", (2, 3, 4), (1, 2, 5, 0)),
    ("replicate", (1, 2, 3, 4, 2), (1, 1, 2, 2, 3, 3)),
    ("replicate", (2, 3, 5), (-2, 1)),
    ("circular", (2, 5), (2, 5)), ("circular", (2, 3, 4), (1, 2, 3, 0)),
    ("circular", (1, 2, 3, 4, 2), (1, 2, 0, 3, 2, 1)),
    ("circular", (2, 3, 5), (-2, 3)), ("circular", (2, 3, 5), (2, -3)),
    ("circular", (2, 3, 4), (-1, -1, 2, 1)),
]


@pytest.mark.parametrize("mode,shape,pad", CASES, ids=[f"{m}-{len(s)}d-{p}" for m, s, p in CASES])
def test_pad_matches_torch(mode, shape, pad):
    check(lambda x: F.pad(x, pad, mode), lambda x: torch.nn.functional.pad(x, pad, mode), shape)


@pytest.mark.parametrize("value,dtype", [(2.5, "float32"), (-1, "float64"), (3.7, "int64"), (1, "bool")])
def test_constant_value_takes_the_input_dtype(value, dtype):
    x = np.arange(6).reshape(2, 3).astype(dtype)
    c = F.pad(cgrad.tensor(x), (1, 2, 1, 0), value=value)
    t = torch.nn.functional.pad(torch.tensor(x), (1, 2, 1, 0), value=value)
    assert str(c.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_array_equal(c.numpy(), t.numpy())


def test_second_derivatives_flow():
    x = cgrad.randn(2, 3, 4, dtype=cgrad.float64, requires_grad=True)
    for mode in ("constant", "reflect", "replicate", "circular"):
        assert cgrad.autograd.gradgradcheck(lambda x: F.pad(x, (2, 1), mode) ** 2, (x,))


def test_the_result_is_a_new_tensor_even_when_only_cropping():
    x = cgrad.zeros(2, 4)
    y = F.pad(x, (-1, -1))
    y += 1
    assert x.sum().item() == 0


ERRORS = [
    ((2, 3, 4), (1,), "constant", None), ((2, 3, 4), (1,) * 8, "constant", None),
    ((2, 3, 4), (1, 1), "foo", None), ((2, 3, 4), (1, 1), "reflect", 2.0), ((2, 3, 4), (4, 0), "reflect", None),
    ((2, 3, 4), (0, 0, 3, 0), "reflect", None),
    ((2, 3, 4), (-5, 0), "reflect", None), ((2, 3, 4), (-4, 0), "replicate", None),
    ((2, 3, 4), (5, 0), "circular", None), ((2, 3, 4), (-5, 0), "circular", None),
    ((2, 3, 4), (-5, 0), "constant", None), ((4,), (1, 1), "reflect", None), ((3, 4), (1, 1, 1, 1), "replicate", None),
    ((2, 3, 4, 5, 6, 7), (1, 1), "circular", None),
]


@pytest.mark.parametrize("shape,pad,mode,value", ERRORS)
def test_errors_match_torch(shape, pad, mode, value):
    with pytest.raises(Exception) as t_err:
        torch.nn.functional.pad(torch.zeros(shape), pad, mode, value)
    with pytest.raises(type(t_err.value)) as c_err:
        F.pad(cgrad.zeros(shape), pad, mode, value)
    assert str(c_err.value) == str(t_err.value)


MODULES = [("ZeroPad1d", 2), ("ZeroPad2d", (1, 2, 3, 4)), ("ZeroPad3d", 1), ("ConstantPad1d", (2, 3.5)),
           ("ConstantPad2d", ((1, 0, 2, 1), -1.0)), ("ConstantPad3d", (1, 2)), ("ReflectionPad1d", 2),
           ("ReflectionPad2d", (1, 0, 2, 1)), ("ReflectionPad3d", 1), ("ReplicationPad1d", (3, 1)),
           ("ReplicationPad2d", 2), ("ReplicationPad3d", (1, 0, 0, 1, 2, 1)), ("CircularPad1d", (1, 2)),
           ("CircularPad2d", 1), ("CircularPad3d", (1, 1, 0, 2, 1, 0))]


@pytest.mark.parametrize("name,args", MODULES, ids=[m for m, _ in MODULES])
def test_modules_match_torch(name, args):
    args = args if isinstance(args, tuple) and name.startswith("Constant") else (args,)
    c, t = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(c) == repr(t) and c.padding == t.padding
    n = int(name[-2])
    shape = (2, 3, 4, 5, 4)[:n + 2]
    check(c, t, shape)
    check(c, t, shape[1:])  # without a batch dim


@pytest.mark.parametrize("name,ndim", [("CircularPad1d", 1), ("CircularPad2d", 2), ("CircularPad3d", 6)])
def test_circular_modules_check_input_dims_as_torch(name, ndim):
    with pytest.raises(ValueError) as t_err:
        getattr(torch.nn, name)(1)(torch.zeros((2,) * ndim))
    with pytest.raises(ValueError, match="expected") as c_err:
        getattr(nn, name)(1)(cgrad.zeros(*(2,) * ndim))
    assert str(c_err.value) == str(t_err.value)
