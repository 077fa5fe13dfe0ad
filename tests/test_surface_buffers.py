"""Small PyTorch names around memory and layouts: frombuffer, empty_permuted, cgrad.utils.dlpack,
Tensor.as_subclass, the deprecated out-of-place resize, and the removed attributes that only
warn or raise, each against torch."""
import array

import numpy as np
import pytest
from helpers import outcome

import cgrad

torch = pytest.importorskip("torch")


def same(fn):
    ours, theirs = outcome(fn, cgrad), outcome(fn, torch)
    assert ours == theirs
    return ours


def described(t):
    return tuple(t.shape), t.stride(), str(t.dtype).split(".")[1], t.requires_grad, t.is_leaf, t.tolist()


BUFFERS = {
    "floats": lambda: bytearray(np.arange(4.0, dtype=np.float32).tobytes()),
    "doubles in an array": lambda: array.array("d", [1.0, 2.0, 3.0]),
    "bytes": lambda: np.arange(2.0).tobytes(),
    "numpy array": lambda: np.arange(4.0),
    "three bytes": lambda: bytearray(3),
    "empty": lambda: bytearray(0),
    "a list": lambda: [1, 2],
}


@pytest.mark.parametrize("buffer", list(BUFFERS))
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
@pytest.mark.parametrize("count, offset", [(-1, 0), (1, 8), (3, 0), (-1, 4), (0, 0), (-1, 64), (-1, -1)])
def test_frombuffer(buffer, dtype, count, offset):
    same(lambda T: described(T.frombuffer(BUFFERS[buffer](), dtype=getattr(T, dtype), count=count, offset=offset)))


def test_frombuffer_shares_the_bytes_and_may_require_grad():
    for lib in (cgrad, torch):
        data = bytearray(16)
        t = lib.frombuffer(data, dtype=lib.float64, requires_grad=True)
        assert t.requires_grad and t.is_leaf
        with lib.no_grad():
            t[1] = 2.5
        assert np.frombuffer(data)[1] == 2.5


def test_frombuffer_refusals():
    same(lambda T: T.frombuffer(memoryview(bytearray(16))[::2], dtype=T.float32))
    same(lambda T: T.frombuffer(bytearray(16), dtype=T.int64, requires_grad=True))


def test_frombuffer_of_a_dtype_cgrad_has_no_tensors_of():
    with pytest.raises(NotImplementedError, match="float16"):
        cgrad.frombuffer(bytearray(4), dtype=cgrad.float16)


def layout_of(t):
    return tuple(t.shape), t.stride(), t.is_contiguous()


@pytest.mark.parametrize("size, layout", [((2, 3, 4), (0, 2, 1)), ((2, 3, 4), (2, 0, 1)), ((2, 3), (0, 1)),
                                          ([2, 3], [1, 0]), ((), ()), ((2, 3), (0, 0)), ((2, 3), (0,)),
                                          ((2, 3), (1, 2)), ((2, -1), (1, 0)), ((0, 3), (1, 0))])
def test_empty_permuted(size, layout):
    same(lambda T: layout_of(T.empty_permuted(size, layout)))
    same(lambda T: T.empty_permuted(size, layout, dtype=T.float64, requires_grad=True).requires_grad)
    same(lambda T: T.empty_permuted(size, layout)._is_view())
    same(lambda T: T.empty_permuted(size, layout, dtype=T.int64, requires_grad=True))


def test_in_place_layout_functions_at_the_top_level():
    same(lambda T: described(T.as_strided_(T.arange(6.0), (2, 2), (1, 2), 1)))
    same(lambda T: tuple(T.resize_as_(T.zeros(4), T.zeros(2, 2)).shape))


def test_dlpack_module():
    same(lambda T: [(m.name, int(m)) for m in T.utils.dlpack.DLDeviceType])
    same(lambda T: T.utils.dlpack.__all__)
    x = cgrad.arange(3.0, requires_grad=True)  # exported whole: no refusal of a tensor that requires grad
    back = cgrad.utils.dlpack.from_dlpack(cgrad.utils.dlpack.to_dlpack(x))
    assert back.tolist() == [0.0, 1.0, 2.0] and back.data_ptr() == x.data_ptr()
    assert cgrad.to_dlpack is cgrad.utils.dlpack.to_dlpack
    same(lambda T: T.utils.dlpack.to_dlpack([1]))


def test_future_at_the_top_level():
    f = cgrad.Future()
    f.set_result(3)
    assert f.wait() == 3 and cgrad.Future is cgrad.futures.Future


class Sub(cgrad.Tensor):
    pass


class TorchSub(torch.Tensor):
    pass


@pytest.mark.parametrize("requires_grad", [False, True])
def test_as_subclass(requires_grad):
    def made(T, S):
        a = T.ones(2, requires_grad=requires_grad)
        s = (a * 2).as_subclass(S)
        if requires_grad:
            s.sum().backward()
        node = type(s.grad_fn).__name__ if s.grad_fn is not None else None
        return (type(s) is S, node, s.requires_grad, s.data_ptr() != 0, s.tolist(),
                a.grad.tolist() if requires_grad else None, type(s.as_subclass(T.Tensor)) is T.Tensor)
    assert made(cgrad, Sub) == made(torch, TorchSub)
    same(lambda T: T.ones(2).as_subclass(int))


@pytest.mark.parametrize("sizes", [(3, 2), (6,), (4,), (2, 3, 1), (6, 1)])
@pytest.mark.parametrize("transposed", [False, True])
def test_out_of_place_resize(sizes, transposed):
    def run(T):
        x = T.arange(6.0).reshape(2, 3).requires_grad_(True)
        src = x.t() if transposed else x
        r = src.resize(*sizes)
        weights = T.arange(float(r.numel())).reshape(r.shape)
        (r * weights).sum().backward()
        return tuple(r.shape), r.is_contiguous(), type(r.grad_fn).__name__, r.tolist(), x.grad.tolist()
    same(run)
    same(lambda T: tuple(T.ones(2, 3).resize_as(T.ones(*sizes)).shape))


def test_out_of_place_resize_warns_and_takes_sizes_only():
    with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
        cgrad.ones(2, 3).resize(3, 2)
    with pytest.warns(UserWarning, match="non-inplace resize_as is deprecated"):
        cgrad.ones(2, 3).resize_as(cgrad.ones(6))
    same(lambda T: T.ones(2, 3).resize(T.Size([6])))


def test_removed_attributes():
    same(lambda T: T.ones(2).volatile)
    with pytest.warns(UserWarning, match="volatile was removed"):
        assert cgrad.ones(2).volatile is False
    with pytest.warns(UserWarning, match="volatile was removed and now has no effect"):
        cgrad.ones(2).volatile = True
    same(lambda T: T.ones(2).is_distributed())
    x = cgrad.arange(3.0)[1:]
    assert x.const_data_ptr() == x.data_ptr()
    same(lambda T: T.ones(2).reinforce(1.0))
