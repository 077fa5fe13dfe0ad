"""Storages (Tensor.untyped_storage, storage, set_, share_memory_), compared with torch."""
import pickle
import warnings
import weakref

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")


def both(fn):
    """fn(lib) for cgrad and torch: (value, None) or (None, (exception type name, message))."""
    out = []
    for lib in (cgrad, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out.append((fn(lib), None))
            except Exception as e:  # noqa: BLE001  (compared with torch's)
                out.append((None, (type(e).__name__, str(e).replace("torch", "cgrad"))))
    return out


def same(fn, first_line=False):
    (a, ea), (b, eb) = both(fn)
    if first_line and ea and eb:
        ea, eb = (ea[0], ea[1].splitlines()[0]), (eb[0], eb[1].splitlines()[0])
    assert ea == eb
    assert a == b
    return a


# ---- UntypedStorage ------------------------------------------------------------------------------------

def test_untyped_storage_of_a_tensor_is_its_bytes():
    x = cgrad.arange(6.0).reshape(2, 3)
    s = x.untyped_storage()
    assert isinstance(s, cgrad.UntypedStorage)
    assert (s.nbytes(), s.size(), len(s), s.element_size()) == (24, 24, 24, 1)
    assert s.data_ptr() == x.data_ptr()
    assert s.device == cgrad.device("cpu")
    assert s.tolist() == list(np.arange(6, dtype=np.float32).tobytes())
    assert x[1].untyped_storage().data_ptr() == s.data_ptr()
    assert same(lambda T: T.arange(6.0).untyped_storage().tolist()) is not None


@pytest.mark.parametrize("idx", [0, 5, -1, -24, 23, 24, -25, "a", 1.0])
def test_untyped_storage_indexing(idx):
    same(lambda T: T.arange(6.0).untyped_storage()[idx])


@pytest.mark.parametrize("sl", [slice(0, 4), slice(4, None), slice(-8, -4), slice(10, 2), slice(0, 6, 2)])
def test_untyped_storage_slices_share_the_bytes(sl):
    same(lambda T: T.arange(6.0).untyped_storage()[sl].tolist())

    def write(T):
        x = T.arange(6.0)
        x.untyped_storage()[4:8][0] = 0
        return x.tolist()
    same(write)


@pytest.mark.parametrize("value", [7, 300, -1, 1.5, True])
def test_untyped_storage_writes_are_seen_by_tensors(value):
    def write(T):
        x = T.arange(3.0)
        s = x.untyped_storage()
        s[0] = value
        s[5:7] = 9 if isinstance(value, int) else value
        return x.tolist()
    same(write)


def test_untyped_storage_write_bumps_the_version_saved_tensors_check():
    x = cgrad.ones(3, requires_grad=True)
    y = x.exp()
    y.untyped_storage()[0] = 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("args", [(), (5,), ([1, 2, 255],), ([True, 3],), (b"ab",), ((1, 2),), ([1, "a"],),
                                  ("ab",), (2.0,)])
def test_untyped_storage_construction(args):
    # a storage of a size has whatever bytes its memory had in torch: only its length is compared
    same(lambda T: (lambda s: s.tolist() if args and not isinstance(args[0], int) else len(s))(T.UntypedStorage(*args)),
         first_line=True)
    with pytest.raises(RuntimeError, match="negative dimension"):  # torch: an allocator's assertion
        cgrad.UntypedStorage(-1)


def test_untyped_storage_fill_copy_clone():
    def run(T):
        s = T.arange(4.0).untyped_storage()
        c = s.clone()
        s.fill_(1)
        out = [c.tolist(), s.tolist(), c.data_ptr() != s.data_ptr()]
        s.copy_(c)
        return out + [s.tolist(), s.cpu() is s, s.untyped() is s, s.is_pinned(), s.resizable() in (True, False)]
    same(run)
    same(lambda T: T.UntypedStorage(4).copy_(T.UntypedStorage(3)))
    same(lambda T: T.UntypedStorage(4).copy_(5), first_line=True)


def test_untyped_storage_repr_and_pickle():
    same(lambda T: repr(T.tensor([1.0, 2.0]).untyped_storage()).replace("torch.", "cgrad."))
    same(lambda T: repr(T.UntypedStorage(0)).replace("torch.", "cgrad."))
    s = cgrad.arange(3.0).untyped_storage()
    assert pickle.loads(pickle.dumps(s)).tolist() == s.tolist()


def test_untyped_storage_is_not_resizable():
    with pytest.raises(RuntimeError, match="not resizable"):
        cgrad.UntypedStorage(4).resize_(8)


# ---- TypedStorage --------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda T: T.arange(4.0).storage(),
    lambda T: T.arange(4.0, dtype=T.float64).storage(),
    lambda T: T.arange(4).storage(),
    lambda T: T.tensor([True, False]).storage(),
    lambda T: T.FloatStorage([1, 2.5]),
    lambda T: T.DoubleStorage([1, 2]),
    lambda T: T.LongStorage([1.7, -2]),
    lambda T: T.BoolStorage([1, 0]),
    lambda T: T.TypedStorage([1, 2], dtype=T.int64),
    lambda T: T.TypedStorage(wrap_storage=T.arange(2.0).untyped_storage(), dtype=T.float32),
    lambda T: T.TypedStorage(wrap_storage=T.tensor([1.5, 2.0]).untyped_storage()[:7], dtype=T.float32),
])
def test_typed_storage_reads_elements(make):
    def props(T):
        s = make(T)
        return (type(s).__name__ == "TypedStorage", str(s.dtype).split(".")[1], s.size(), len(s), s.nbytes(),
                s.element_size(), s.tolist() if s.nbytes() % s.element_size() == 0 else None, s.type().split(".")[1],
                s.pickle_storage_type(), s.is_shared(), str(s.device), list(iter(s))[:1] == s.tolist()[:1],
                s.data_ptr() == s.untyped().data_ptr())
    same(props)
    same(lambda T: repr(make(T)).replace("torch.", "cgrad."))


@pytest.mark.parametrize("idx", [0, 3, -1, 4, -5, slice(1, 3), "a"])
def test_typed_storage_indexing(idx):
    same(lambda T: T.arange(4.0).storage()[idx])


def test_typed_storage_writes_and_conversions():
    def run(T):
        x = T.arange(4.0)
        s = x.storage()
        s[0] = 7
        s[1:3] = 9
        out = [x.tolist(), s.fill_(2).tolist(), x.tolist(), s.clone().tolist()]
        out += [s.double().tolist(), s.long().tolist(), s.bool().tolist(), str(s.double().dtype).split(".")[1]]
        out += [s.copy_(T.arange(4.0).storage()).tolist(), isinstance(s, T.FloatStorage),
                isinstance(s, T.DoubleStorage), isinstance(T.FloatStorage(1), T.TypedStorage)]
        return out
    same(run)
    same(lambda T: T.arange(4.0).storage().__setitem__(0, "a"))
    same(lambda T: T.arange(4.0).storage().copy_(T.arange(3.0).storage()))
    same(lambda T: T.TypedStorage("x"))


def test_typed_storage_warns_once_and_storage_type():
    same(lambda T: [T.tensor([1]).storage_type().__name__, T.tensor([1.0]).storage_type().__name__,
                    T.tensor([1.0], dtype=T.float64).storage_type().__name__, T.tensor([True]).storage_type().__name__])
    import cgrad.storage as cs
    cs._warned = False
    with pytest.warns(UserWarning, match="TypedStorage is deprecated"):
        cgrad.ones(2).storage()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cgrad.ones(2).storage()  # once per process, as torch
    s = cgrad.arange(3.0).storage()
    assert pickle.loads(pickle.dumps(s)).tolist() == [0.0, 1.0, 2.0]


# ---- Tensor.set_ and is_set_to -------------------------------------------------------------------------

SET_CASES = [
    lambda T, x: T.empty(0).set_(x),
    lambda T, x: T.empty(0).set_(source=x),
    lambda T, x: T.empty(0).set_(),
    lambda T, x: T.empty(5).set_(x.untyped_storage()),
    lambda T, x: T.empty(0).set_(x.untyped_storage(), 2, (2, 2), (1, 2)),
    lambda T, x: T.empty(0).set_(x.untyped_storage(), storage_offset=1, size=(2,), stride=(2,)),
    lambda T, x: T.empty(0).set_(x.untyped_storage(), 0, (2,)),
    lambda T, x: T.empty(0).set_(x.storage(), 0, (3,)),
    lambda T, x: T.empty(0).set_(x, 1, [2, 2]),
    lambda T, x: T.empty(0).set_(x[2:]),
    lambda T, x: T.empty(0).set_(x.untyped_storage(), -1, (2,), (1,)),
    lambda T, x: T.empty(0, dtype=T.float64).set_(x),
    lambda T, x: T.empty(0, dtype=T.int64).set_(x),
    lambda T, x: T.empty(0, dtype=T.float64).set_(x.storage(), 0, (1,)),
    lambda T, x: T.empty(0, dtype=T.float64).set_(x.untyped_storage(), 0, (3,)),
    lambda T, x: T.empty(0).set_(x, 1),
    lambda T, x: T.empty(0).set_(x.untyped_storage(), 1),
    lambda T, x: T.empty(0).set_(5),
    lambda T, x: T.empty(0).set_(x.untyped_storage(), 0, (2,), (1,), 5),
]


@pytest.mark.parametrize("case", range(len(SET_CASES)))
def test_set_(case):
    def run(T):
        x = T.arange(6.0)
        y = SET_CASES[case](T, x)
        shares = y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
        out = (y.tolist(), tuple(y.shape), y.stride(), y.storage_offset(), shares,
               y.data_ptr() - x.data_ptr() if shares else None)
        x.add_(1)  # the tensor set on x's storage sees x's writes
        return out + (y.tolist(),)
    same(run, first_line=True)


def test_set_on_a_storage_slice_reads_its_bytes():
    def run(T):
        x = T.arange(6.0)
        y = T.empty(0).set_(x.untyped_storage()[4:], 0, (2,))
        x.add_(1)
        return y.tolist(), y.data_ptr() - x.data_ptr()
    same(run)


def test_set_beyond_the_storage_raises():
    # torch grows the storage; cgrad's storages are not resizable
    with pytest.raises(RuntimeError, match="out of bounds for storage of size 24"):
        cgrad.empty(0).set_(cgrad.arange(6.0).untyped_storage(), 2, (5,), (1,))


def test_set_leaf_and_no_grad():
    # cgrad's version counts a storage's writes, PyTorch's a tensor's: after set_, a tensor reads the count of
    # the storage it moved to, which set_ leaves alone (so that tensors saved on that storage stay valid)
    same(lambda T: T.zeros(3, requires_grad=True).set_(T.ones(3)))

    def no_grad(T):
        b = T.zeros(2, requires_grad=True)
        with T.no_grad():
            b.set_(T.ones(3))
        return b.tolist(), b.requires_grad, b.is_leaf
    same(no_grad)


def test_is_set_to():
    def run(T):
        x = T.arange(6.0)
        y = T.empty(0)
        y.set_(x)
        return [y.is_set_to(x), x.is_set_to(y), x[1:].is_set_to(x), T.empty(0).is_set_to(T.empty(0)),
                x.view(2, 3).is_set_to(x)]
    same(run)
    same(lambda T: T.ones(1).is_set_to(5))


def test_set_keeps_numpy_arrays_alive():
    x = cgrad.arange(1000.0)
    a = x.numpy()
    x.set_(cgrad.ones(3))
    del x
    junk = [cgrad.full((1000,), 7.0) for _ in range(20)]  # reuse freed memory if the array's were freed
    assert a[:3].tolist() == [0.0, 1.0, 2.0] and a[-1] == 999.0
    del junk


# ---- shared memory -------------------------------------------------------------------------------------

def test_share_memory_keeps_values_and_views():
    def run(T):
        x = T.arange(6.0)
        v = x[2:]
        before = x.is_shared()
        assert x.share_memory_() is x
        v.add_(1)
        return [before, x.is_shared(), v.is_shared(), x.untyped_storage().is_shared(), x.tolist(), v.tolist(),
                x.share_memory_().tolist()]
    same(run)


def test_share_memory_reaches_a_forked_process():
    import multiprocessing as mp
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("needs fork")
    x = cgrad.zeros(4).share_memory_()
    p = mp.get_context("fork").Process(target=_fill, args=(x,))
    p.start()
    p.join(30)
    assert p.exitcode == 0
    assert x.tolist() == [5.0] * 4


def _fill(x):
    with cgrad.no_grad():
        x.fill_(5.0)


def test_share_memory_keeps_an_earlier_numpy_array_alive():
    x = cgrad.arange(100.0)
    a = x.numpy()
    x.share_memory_()
    x.fill_(3.0)
    assert a[:2].tolist() == [0.0, 1.0]  # the array still reads the bytes it was made on
    b = cgrad.from_numpy(np.arange(4.0))
    b.share_memory_()
    assert b.is_shared() and b.tolist() == [0.0, 1.0, 2.0, 3.0]


def borrowed(values):
    """A tensor on a numpy array's bytes, and a weak reference to that array."""
    arr = np.array(values)
    return cgrad.from_numpy(arr), weakref.ref(arr)


def test_share_memory_frees_the_old_bytes_when_nothing_reads_them():
    x, old = borrowed([0.0, 1.0, 2.0, 3.0])
    x.share_memory_()
    assert old() is None and x.tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("export", [
    lambda t: t.numpy(),
    lambda t: np.from_dlpack(t),
    lambda t: t.untyped_storage()._numpy(),
], ids=["numpy", "dlpack", "storage_bytes"])
def test_share_memory_frees_the_old_bytes_with_the_last_export_made_before(export):
    x, old = borrowed([0.0, 1.0, 2.0, 3.0])
    first, second = export(x), export(x[1:])
    before = second.tobytes()
    x.share_memory_()
    after = export(x)  # reads the new bytes: it does not hold the old ones
    with cgrad.no_grad():
        x.fill_(7.0)
    del first
    assert old() is not None and second.tobytes() == before
    del second
    assert old() is None
    assert after.tobytes() == np.full(4, 7.0).tobytes()


def test_sharing_twice_keeps_the_bytes_an_export_reads():
    x, old = borrowed([0.0, 1.0, 2.0, 3.0])
    a = x.numpy()
    x.share_memory_()
    x.share_memory_()  # already shared: nothing moves, nothing is freed
    assert old() is not None and a.tolist() == [0.0, 1.0, 2.0, 3.0]
    del a
    assert old() is None


def test_share_memory_small_storage_and_grad():
    x = cgrad.tensor([2.0], requires_grad=True)  # bytes inside the storage itself
    x.share_memory_()
    (x * x).sum().backward()
    assert x.is_shared() and x.grad.tolist() == [4.0]


def test_legacy_storage_class_refuses_a_dtype():
    same(lambda T: T.FloatStorage(2, dtype=T.float64))


def test_typed_storage_of_a_dtype_without_tensors():
    with pytest.raises(NotImplementedError, match="no float16 storages"):
        cgrad.TypedStorage(2, dtype=cgrad.float16)


# ---- set_ and autograd -----------------------------------------------------------------------------------

def test_set_on_a_tensor_with_history_refuses_backward():
    def run(T):
        a = T.ones(3, requires_grad=True)
        b = a * 2
        b.set_(T.full((3,), 5.0))
        out = [b.requires_grad, type(b.grad_fn).__name__]
        (b * 1).sum().backward()
        return out
    same(run)

    def onto_a_graph(T):
        a = T.ones(3, requires_grad=True)
        c = T.zeros(3)
        c.set_(a)
        out = [c.requires_grad, type(c.grad_fn).__name__, c.is_leaf]
        c.sum().backward()
        return out
    same(onto_a_graph)


def test_a_saved_tensor_moved_by_set_fails_backward():
    def run(T):
        w = T.ones(3, requires_grad=True)
        x = T.zeros(3)
        x.add_(1)
        y = (w * x).sum()
        x.set_(T.full((3,), 10.0))  # the new storage's count may equal the one saved
        y.backward()
        return w.grad.tolist()
    (a, ea), (b, eb) = both(run)
    assert a is None and b is None and ea[0] == eb[0] == "RuntimeError"
    assert "modified by an inplace operation" in ea[1] and "modified by an inplace operation" in eb[1]


def test_set_onto_a_saved_tensor_leaves_it_valid():
    def run(T):
        w = T.ones(3, requires_grad=True)
        z = T.full((3,), 2.0)
        y = (w * z).sum()
        T.zeros(3).set_(z)
        y.backward()
        return w.grad.tolist()
    same(run)


def test_set_with_a_tensor_source_counts_the_offset_from_it():
    same(lambda T: T.empty(0).set_(T.arange(6.0)[1:], 1, (2,)).tolist())


def test_set_on_a_slice_stays_inside_it():
    with pytest.raises(RuntimeError, match="out of bounds for storage of size 8"):
        cgrad.empty(0).set_(cgrad.arange(6.0).untyped_storage()[0:8], 0, (4,))
    assert cgrad.empty(0).set_(cgrad.arange(6.0).untyped_storage()[0:8], 0, (2,)).tolist() == [0.0, 1.0]


def test_uninitialized_storage_objects_raise():
    class S(cgrad.UntypedStorage):
        def __init__(self):
            pass
    with pytest.raises(RuntimeError, match="not initialized"):
        cgrad.empty(0).set_(S(), 0, (0,))
    with pytest.raises(RuntimeError, match="not initialized"):
        cgrad.UntypedStorage.__new__(cgrad.UntypedStorage)._touch()


def test_dlpack_export_keeps_the_bytes_after_set_():
    t = cgrad.full((100000,), 7.0)
    a = np.from_dlpack(t)
    t.set_(cgrad.zeros(5))
    junk = [cgrad.full((100000,), 3.0) for _ in range(5)]
    assert a[:3].tolist() == [7.0, 7.0, 7.0]
    del junk


# ---- storages and compiled steps -------------------------------------------------------------------------

def _sgd_step(w):
    """A training step of w, as a function of x."""
    def step(x):
        loss = (w * x).sum() ** 2
        w.grad = None
        loss.backward()
        with cgrad.no_grad():
            w.sub_(0.01 * w.grad)
        return loss
    return step


def test_share_memory_after_compiling_records_again():
    w = cgrad.tensor([1.0, -2.0, 3.0], requires_grad=True)
    x = cgrad.tensor([0.5, 1.0, 2.0])
    eager = _sgd_step(w.detach().clone().requires_grad_(True))
    compiled = cgrad.compile(_sgd_step(w), fullgraph=True)
    losses = [compiled(x).item() for _ in range(3)]
    w.share_memory_()
    losses += [compiled(x).item() for _ in range(3)]
    assert losses == [eager(x).item() for _ in range(6)]


def test_storage_bytes_read_in_a_compiled_step_break_the_recording():
    acc = cgrad.zeros(3)

    def step(x):
        acc.untyped_storage().copy_((x * 2).untyped_storage())
        return acc + 0

    compiled = cgrad.compile(step, fullgraph=True)
    with pytest.raises(Exception, match="storage's bytes"):
        for v in (1.0, 2.0, 3.0):  # the first call runs eagerly, the second records
            compiled(cgrad.full((3,), v))


# ---- sharing modules, futures ------------------------------------------------------------------------------

def test_module_share_memory_shares_its_parameters():
    m = cgrad.nn.Linear(2, 2)
    assert m.share_memory() is m
    assert all(p.is_shared() for p in m.parameters())
