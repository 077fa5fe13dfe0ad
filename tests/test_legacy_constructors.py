"""PyTorch's legacy constructors: Tensor.new(...), cgrad.Tensor(...) and the tensor types
(cgrad.FloatTensor, ...), against torch: the tensors they make and the errors they raise."""
import pickle
import warnings

import numpy as np
import pytest
from helpers import outcome

import cgrad

torch = pytest.importorskip("torch")


def summary(fn, lib):
    """What fn(lib) gives, in terms both libraries share: a tensor's shape, dtype, autograd flags
    and node, or the error's type and first line."""
    r = outcome(fn, lib, first_line=True)
    if not isinstance(r, lib.Tensor):
        return r
    node = type(r.grad_fn).__name__ if r.grad_fn is not None else None
    return tuple(r.shape), str(r.dtype).split(".")[1], r.requires_grad, r.is_leaf, node


def same(fn):
    ours, theirs = summary(fn, cgrad), summary(fn, torch)
    assert ours == theirs
    return ours


def values(fn):
    ours, theirs = fn(cgrad), fn(torch)
    assert ours.dtype.itemsize == theirs.dtype.itemsize and ours.tolist() == theirs.tolist()


FORMS = {
    "nothing": lambda T, C: C(),
    "sizes": lambda T, C: C(2, 3),
    "size": lambda T, C: C(T.Size([2, 3])),
    "tuple of sizes": lambda T, C: C((2, 3)),
    "empty tuple": lambda T, C: C(()),
    "zero size": lambda T, C: C(0),
    "numpy integer sizes": lambda T, C: C(np.int64(2), 3),
    "0-d integer tensor as a size": lambda T, C: C(T.tensor(2), 3),
    "size and device": lambda T, C: C(T.Size([2]), device="cpu"),
    "size and device object": lambda T, C: C(2, device=T.device("cpu")),
    "list": lambda T, C: C([1, 2]),
    "nested list": lambda T, C: C([[1, 2], [3, 4]]),
    "list of floats": lambda T, C: C([1.5, -2.0]),
    "tuple of floats": lambda T, C: C((1.5, 2)),
    "range": lambda T, C: C(range(3)),
    "numpy array": lambda T, C: C(np.array([1.0, 2.0])),
    "0-d numpy array": lambda T, C: C(np.array(2.5)),
    "list of 0-d tensors": lambda T, C: C([T.tensor(1.0), T.tensor(2.0)]),
    "list with device": lambda T, C: C([1, 2], device="cpu"),
    "untyped storage": lambda T, C: C(T.ones(3).untyped_storage()),
    "untyped storage with device": lambda T, C: C(T.ones(3).untyped_storage(), device="cpu"),
    "negative size": lambda T, C: C(-1),
    "a float": lambda T, C: C(2.5),
    "a bool": lambda T, C: C(True),
    "None": lambda T, C: C(None),
    "a numpy float": lambda T, C: C(np.float64(2.5)),
    "a string": lambda T, C: C("a"),
    "a dict": lambda T, C: C({1: 2}),
    "an iterator": lambda T, C: C(iter([1, 2])),
    "a size, then a string": lambda T, C: C(2, "a"),
    "a size, then None": lambda T, C: C(2, None),
    "a float, then a size": lambda T, C: C(2.5, 3),
    "a list, then a size": lambda T, C: C([1, 2], 3),
    "a Size, then a size": lambda T, C: C(T.Size([2]), 3),
    "a tensor, then a size": lambda T, C: C(T.ones(2), 3),
    "a storage, then a size": lambda T, C: C(T.UntypedStorage(3), 3),
    "dtype keyword": lambda T, C: C(2, dtype=T.float32),
    "requires_grad keyword": lambda T, C: C(2, requires_grad=True),
    "unknown keyword": lambda T, C: C([1, 2], x=1, device="cpu"),
    "meta device": lambda T, C: C(2, device="meta"),
    "a tensor with a device": lambda T, C: C(T.ones(2), device="cpu"),
}
MAKERS = {
    "Tensor.new, float32": lambda T: T.ones(2).new,
    "Tensor.new, int64": lambda T: T.ones(2, dtype=T.int64).new,
    "Tensor": lambda T: T.Tensor,
    "FloatTensor": lambda T: T.FloatTensor,
    "DoubleTensor": lambda T: T.DoubleTensor,
    "LongTensor": lambda T: T.LongTensor,
    "BoolTensor": lambda T: T.BoolTensor,
}


@pytest.mark.parametrize("maker", list(MAKERS))
@pytest.mark.parametrize("form", list(FORMS))
def test_legacy_constructor_forms(maker, form):
    made = same(lambda T: FORMS[form](T, MAKERS[maker](T)))
    if isinstance(made, tuple) and len(made) == 5 and made[0] and "size" not in form and "storage" not in form:
        values(lambda T: FORMS[form](T, MAKERS[maker](T)))


@pytest.mark.parametrize("maker", list(MAKERS))
def test_a_tensor_gives_its_alias(maker):
    def alias(T):
        a = T.ones(2, requires_grad=True)
        b = MAKERS[maker](T)(a)
        return b, b._base is a, b.data_ptr() == a.data_ptr()
    ours, theirs = summary(lambda T: alias(T)[1:], cgrad), summary(lambda T: alias(T)[1:], torch)
    assert ours == theirs
    same(lambda T: alias(T)[0])
    same(lambda T: MAKERS[maker](T)(T.ones(2, dtype=T.float64)))  # Tensor keeps a tensor's dtype, the others refuse


@pytest.mark.parametrize("storage", ["FloatStorage", "DoubleStorage", "LongStorage"])
@pytest.mark.parametrize("maker", ["FloatTensor", "DoubleTensor", "LongTensor", "Tensor"])
def test_a_typed_storage_of_the_type_only(storage, maker):
    same(lambda T: getattr(T, maker)(getattr(T, storage)(3)))


def test_a_tensor_on_a_storage_shares_its_bytes():
    for lib in (cgrad, torch):
        x = lib.zeros(3)
        y = lib.FloatTensor(x.untyped_storage())
        y[1] = 5.0
        assert x.tolist() == [0.0, 5.0, 0.0]


def test_cgrad_Tensor_makes_a_whole_tensor():
    x = cgrad.Tensor(2, 3)
    assert x.shape == (2, 3) and x.dtype == cgrad.float32 and x.is_leaf and not x.requires_grad
    assert (x.zero_() + 1).sum().item() == 6.0
    assert cgrad.Tensor([1, 2]).tolist() == [1.0, 2.0]


def test_cgrad_Tensor_follows_the_default_dtype():
    before = cgrad.get_default_dtype()
    cgrad.set_default_dtype(cgrad.float64)
    try:
        assert cgrad.Tensor([1, 2]).dtype == cgrad.float64
    finally:
        cgrad.set_default_dtype(before)


def test_a_subclass_made_by_the_legacy_constructor():
    class Sub(cgrad.Tensor):
        pass

    x = Sub([1.0, 2.0])
    assert type(x) is Sub and x.tolist() == [1.0, 2.0] and (x * 2).tolist() == [2.0, 4.0]


def test_a_parameter_keeps_its_data():
    p = cgrad.nn.Parameter(cgrad.tensor([1.0, 2.0]))
    assert p.tolist() == [1.0, 2.0] and p.requires_grad


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "BoolTensor"])
def test_isinstance_asks_the_dtype(name):
    def answers(T):
        kind = getattr(T, name)
        xs = [T.ones(2), T.ones(2, dtype=T.float64), T.ones(2, dtype=T.int64), T.ones(2, dtype=T.bool),
              T.ones(2, requires_grad=True), T.nn.Parameter(T.ones(2)), 1.0, [1.0]]
        return [isinstance(x, kind) for x in xs] + [issubclass(kind, T.Tensor)]
    assert answers(cgrad) == answers(torch)


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "BoolTensor", "HalfTensor",
                                  "BFloat16Tensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor"])
def test_a_type_names_its_dtype(name):
    def attributes(T):
        kind = getattr(T, name)
        return (str(kind.dtype), str(kind.layout), kind.is_cuda, kind.is_sparse, kind.is_sparse_csr, kind.__name__,
                repr(kind), pickle.loads(pickle.dumps(kind)) is kind, kind.zero_ is T.Tensor.zero_)
    ours, theirs = attributes(cgrad), attributes(torch)
    assert ours == tuple(str(v).replace("torch", "cgrad") if isinstance(v, str) else v for v in theirs)


@pytest.mark.parametrize("name", ["HalfTensor", "BFloat16Tensor", "IntTensor", "ShortTensor", "CharTensor",
                                  "ByteTensor"])
def test_a_type_cgrad_has_no_tensors_of_raises(name):
    with pytest.raises(NotImplementedError, match=str(getattr(cgrad, name).dtype).split(".")[1]):
        getattr(cgrad, name)([1, 2])
    assert not isinstance(cgrad.ones(2), getattr(cgrad, name))


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "BoolTensor"])
def test_type_converts_to_a_tensor_type(name):
    same(lambda T: T.tensor([1.5, 0.0]).type(getattr(T, name)))
    values(lambda T: T.tensor([1.5, 0.0]).type(getattr(T, name)))


def test_default_tensor_type_from_a_type():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cgrad.set_default_tensor_type(cgrad.DoubleTensor)
            assert cgrad.get_default_dtype() == cgrad.float64 and cgrad.Tensor([1]).dtype == cgrad.float64
        finally:
            cgrad.set_default_tensor_type(cgrad.FloatTensor)
        assert cgrad.get_default_dtype() == cgrad.float32
        same(lambda T: T.set_default_tensor_type(T.LongTensor))


def test_a_subclass_whose_init_does_not_call_tensors():
    def run(T):
        class Tagged(T.Tensor):
            def __init__(self, data):
                self.tag = 1

        x = Tagged([1.0, 2.0])
        return type(x).__name__, x.tag, x.sum().item(), x.tolist()
    assert run(cgrad) == run(torch)


def test_tensor_new_called_from_python():
    same(lambda T: T.Tensor.__new__(T.Tensor))
    same(lambda T: T.Tensor.__new__(T.Tensor, [1, 2]))


def test_a_subclass_indexing_its_own_way_keeps_its_tensor():
    class Rows(cgrad.Tensor):
        def __getitem__(self, i):
            return self if i is Ellipsis else cgrad.Tensor.__getitem__(self, i)

    x = cgrad.ones(3).as_subclass(Rows)
    y = x.as_subclass(cgrad.Tensor)
    z = cgrad.Tensor(x)
    assert x.sum().item() == 3.0 and y.sum().item() == 3.0 and z.sum().item() == 3.0
