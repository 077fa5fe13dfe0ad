# Indexing (x[...] and x[...] = v), joining and splitting. Included by _C.pyx.


cdef object _index_arg(object item):
    """An index tensor for item (int64 indices or a bool mask), or None if item is not one."""
    if isinstance(item, _TensorBase):
        code = (<_TensorBase>item).t.dtype
        if code == CG_INT64 or code == CG_BOOL:
            return item
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if isinstance(item, (list, np.ndarray)):
        arr = np.asarray(item)
        if arr.dtype == np.bool_:
            return _tensor_from_numpy_copy(arr, bool_)
        if arr.size == 0 or arr.dtype.kind in "iu":
            return _tensor_from_numpy_copy(arr.astype(np.int64), int64)
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return None


cdef int _consumed(object item) except -1:
    """How many dims of the indexed tensor an index item uses up."""
    if item is None or item is Ellipsis or isinstance(item, bool):
        return 0
    if isinstance(item, (int, slice)) or hasattr(item, "__index__") and not isinstance(item, _TensorBase):
        return 1
    idx = _index_arg(item)
    if idx is None:
        raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                         f"valid indices (got {type(item).__name__})")
    return (<_TensorBase>idx).t.ndim if (<_TensorBase>idx).t.dtype == CG_BOOL else 1


cdef object _mask_indices(_TensorBase cur, int dim, _TensorBase mask, dict adv):
    """Turns a bool mask over dims dim.. of cur into per-dim int64 indices."""
    cdef int k = mask.t.ndim, j
    for j in range(k):
        if dim + j >= cur.t.ndim or mask.t.shape[j] != cur.t.shape[dim + j]:
            raise IndexError(f"The shape of the mask {list(mask.shape)} at index {j} does not match the shape "
                             f"of the indexed tensor {list(cur.shape)} at index {dim + j}")
    nz = wrap(cg_nonzero(mask.t))
    for j in range(k):
        adv[dim + j] = wrap(cg_select((<_TensorBase>nz).t, 1, j))


cdef _TensorBase _index_bool(_TensorBase cur, int dim, bint keep, dict adv):
    """A bool (or 0-d bool tensor) index: a new dim of size 1 (True) or 0,
    as PyTorch makes it, through an index over it: a copy, not a view."""
    cur = wrap(cg_unsqueeze(cur.t, dim))
    adv[dim] = _tensor_from_numpy_copy(np.zeros(1 if keep else 0, np.int64), int64)
    return cur


cdef tuple _index_items(object idx):
    """The items of x[idx]: a tuple as given; a list shorter than 32 that holds a
    sequence, slice, None, ... or tensor read as a tuple of them, as PyTorch still
    reads it (with its deprecation warning); anything else one item."""
    if isinstance(idx, tuple):
        return idx
    if isinstance(idx, list) and len(idx) < 32 and any(
            i is None or i is Ellipsis or isinstance(i, (list, tuple, slice, _TensorBase, np.ndarray)) for i in idx):
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated and will be changed in "
                      "pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be interpreted as "
                      "tensor index, x[torch.tensor(seq)], which will result either in an error or a different "
                      "result", UserWarning)
        return tuple(idx)
    return (idx,)


cdef int _check_step(object step) except -1:
    if step is not None and step.__index__() == 0:
        raise ValueError("slice step cannot be zero")
    return 0


cdef int _check_0d_index(tuple items) except -1:
    """PyTorch's errors for a lone int or slice indexing a 0-d tensor."""
    if len(items) != 1:
        return 0
    item = items[0]
    if isinstance(item, slice):
        _check_step(item.step)
        if item.step is not None and item.step.__index__() < 0:
            raise ValueError("step must be greater than zero")
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    if isinstance(item, bool) or isinstance(item, _TensorBase) or not hasattr(item, "__index__"):
        return 0
    i = item.__index__()
    if i == 0:
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in "
                         "C++ to convert a 0-dim tensor to a number")
    raise IndexError(f"index {i} is out of bounds for dimension 0 with size 0")


cdef bint _takes_all(slice item, _TensorBase cur, int dim):
    cdef int64_t size = cur.t.shape[dim] if dim < cur.t.ndim else 0
    start, stop, step = item.indices(size)
    return start == 0 and stop == size and step == 1


cdef _TensorBase _index_basic(_TensorBase t, tuple items, dict adv, bint setting=False):
    """Applies ints, slices, None and ... as views; collects advanced indices by dim."""
    cdef int used = 0, dim = 0, ellipses = 0
    cdef _TensorBase cur = t
    if t.t.ndim == 0:
        _check_0d_index(items)
    for item in items:
        used += _consumed(item)
        ellipses += item is Ellipsis
    if used > t.t.ndim:
        raise IndexError(f"too many indices for tensor of dimension {t.t.ndim}")
    cdef bint alone = len(items) == 1
    for item in items:
        if item is None:
            cur = wrap(cg_unsqueeze(cur.t, dim))
            dim += 1
        elif item is Ellipsis:
            dim += t.t.ndim - used  # later ellipses stand for no dims
            used = t.t.ndim
        elif isinstance(item, bool):
            cur = _index_bool(cur, dim, item, adv)
            dim += 1
        elif isinstance(item, slice):
            _check_step(item.step)
            # an assignment writes into the tensor itself where a slice takes all of a dim, as PyTorch's does
            if (alone and not setting) or (item != slice(None) and not (setting and _takes_all(item, cur, dim))):
                start, stop, step = item.start, item.stop, item.step
                cur = wrap(cg_slice(cur.t, dim, 0 if start is None else start.__index__(),
                                    INT64_MAX if stop is None else stop.__index__(),
                                    1 if step is None else step.__index__()))
            dim += 1
        elif isinstance(item, int) or (hasattr(item, "__index__") and not isinstance(item, _TensorBase)):
            cur = wrap(cg_select(cur.t, dim, item.__index__()))
        else:
            idx = _index_arg(item)
            if (<_TensorBase>idx).t.dtype == CG_INT64 and (<_TensorBase>idx).t.ndim == 0:
                cur = wrap(cg_select(cur.t, dim, idx.item()))  # an int to PyTorch
            elif (<_TensorBase>idx).t.dtype == CG_BOOL and (<_TensorBase>idx).t.ndim == 0:
                cur = _index_bool(cur, dim, idx.item(), adv)
                dim += 1
            elif (<_TensorBase>idx).t.dtype == CG_BOOL:
                _mask_indices(cur, dim, idx, adv)
                dim += (<_TensorBase>idx).t.ndim
            else:
                adv[dim] = idx
                dim += 1
    return cur


cdef object _index_adv(_TensorBase cur, dict adv, object values=None):
    """cur[adv] (values None), or cur[adv] = values in place."""
    cdef cg_tensor *idx[8]
    cdef int n = max(adv) + 1, d
    for d in range(n):
        idx[d] = (<_TensorBase>adv[d]).t if d in adv else NULL
    if values is None:
        return wrap(cg_index(cur.t, idx, n))
    return wrap(cg_index_put_(cur.t, idx, n, (<_TensorBase>values).t, 0))


cdef class _TensorIndex(_TensorShape):
    """Indexing, gathering, scattering, joining."""

    def __getitem__(self, idx):
        if type(idx) is int and self.t.ndim:
            return wrap(cg_select(self.t, 0, idx))
        adv = {}
        cur = _index_basic(self, _index_items(idx), adv)
        if adv:
            return _index_adv(cur, adv)
        return wrap(cg_alias_view(self.t)) if cur is self else cur  # x[...]: a new view, as torch

    def __setitem__(self, idx, value):
        adv = {}
        items = _index_items(idx)
        if len(items) == 1 and isinstance(items[0], bool):  # PyTorch's own case: False writes nothing at all,
            if not items[0]:                                 # True all of self, through a new dim of size 1
                return
            items = (None,)
        cur = _index_basic(self, items, adv, True)
        cdef _TensorBase src = as_tensor_arg(value, self)
        if adv:
            if (is_tensor(value) and src.t.dtype != self.t.dtype and any(_is_advanced(i) for i in items)
                    and not _is_mask_fill(items, value)):
                _index_adv(cur.detach().clone(), adv, src.detach().to(self.dtype))  # a shape error comes first
                _check_put_dtype(self, value)
            _index_adv(cur, adv, src)
        else:
            wrap(cg_copy_(cur.t, _fit_value(src, cur).t))

    def __iter__(self):
        if self.t.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def nonzero(self, *, as_tuple=False):
        if not as_tuple:
            return wrap(cg_nonzero(self.t))
        src = self if self.t.ndim else self.reshape(1)
        nz = wrap(cg_nonzero((<_TensorBase>src).t))
        return tuple(nz[:, d] for d in range(src.ndim))

    def index_put_(self, indices, values, accumulate=False):
        return _index_put(self, indices, values, accumulate, True)

    def index_put(self, indices, values, accumulate=False):
        return _index_put(self, indices, values, accumulate, False)


cdef bint _is_advanced(object item):
    """Whether PyTorch indexes with item as a tensor (a 0-d integer tensor is an int to it, and a
    bool with other items a tensor)."""
    if isinstance(item, bool):
        return True
    if is_tensor(item):
        return (<_TensorBase>item).t.ndim > 0 or (<_TensorBase>item).t.dtype == CG_BOOL
    return isinstance(item, (list, np.ndarray))


cdef _TensorBase _fit_value(_TensorBase value, _TensorBase target):
    """The value of x[...] = value as PyTorch writes it into the view target:
    without its leading dims of size 1, expanded to target's shape."""
    if value.t.ndim == 0 or value.shape == target.shape:
        return value
    shape = tuple(value.shape)
    k = 0
    while k < len(shape) and shape[k] == 1:
        k += 1
    value = value.reshape(shape[k:]) if k else value
    return value if value.shape == target.shape else value.expand(target.shape)


cdef bint _is_mask_fill(tuple items, _TensorBase value):
    """Whether x[items] = value is PyTorch's masked fill (one bool mask and one
    value), which casts the value, rather than an index put, which does not."""
    return len(items) == 1 and is_tensor(items[0]) and value.t.numel == 1 and _is_mask(items[0])


cdef bint _is_mask(object index):
    return index is not None and (<_TensorBase>index).t.dtype == CG_BOOL and (<_TensorBase>index).t.ndim > 0


cdef int _check_put_dtype(_TensorBase t, _TensorBase values) except -1:
    if values.t.dtype != t.t.dtype:
        names = ("Float", "Double", "Long", "Bool")  # by dtype code, as PyTorch names them
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{names[t.t.dtype]} for the destination and {names[values.t.dtype]} for the source.")
    return 0


cdef object _index_put(_TensorBase t, object indices, object values, bint accumulate, bint inplace):
    cdef cg_tensor *idx[8]
    indices = tuple(indices)
    cdef int n = len(indices), d
    if n > 8:
        raise IndexError(f"too many indices for tensor of dimension {t.t.ndim}")
    converted = [_index_arg(i) if i is not None else None for i in indices]
    check_dtype = is_tensor(values) and (<_TensorBase>values).t.dtype != t.t.dtype and not (
        not accumulate and n == 1 and converted[0] is not None and _is_mask_fill(tuple(converted), values))
    if any(_is_mask(c) for c in converted):
        adv = {}  # bool masks as the int64 indices of their nonzeros, over as many dims as they have
        d = 0
        for c in converted:
            if _is_mask(c):
                _mask_indices(t, d, c, adv)
                d += (<_TensorBase>c).t.ndim
            else:
                if c is not None:
                    adv[d] = c
                d += 1
        n = max(adv) + 1 if adv else 0
        if n > 8:
            raise IndexError(f"too many indices for tensor of dimension {t.t.ndim}")
        converted = [adv.get(d) for d in range(n)]
    for d in range(n):
        idx[d] = (<_TensorBase>converted[d]).t if converted[d] is not None else NULL
    src = as_tensor_arg(values, t)
    if check_dtype:  # after the shape's error, as PyTorch orders them
        cast, plain = src.detach().to(t.dtype), t.detach()
        wrap(cg_index_put((<_TensorBase>plain).t, idx, n, (<_TensorBase>cast).t, accumulate))
        _check_put_dtype(t, values)
    if inplace:
        return wrap(cg_index_put_(t.t, idx, n, src.t, accumulate))
    return wrap(cg_index_put(t.t, idx, n, src.t, accumulate))


cdef cg_tensor **_tensor_list(object tensors, int *n) except NULL:
    seq = list(tensors)
    n[0] = len(seq)
    cdef cg_tensor **arr = <cg_tensor **>malloc(max(n[0], 1) * sizeof(cg_tensor *))
    if arr == NULL:
        raise MemoryError()
    for i in range(n[0]):
        if not isinstance(seq[i], _TensorBase):
            free(arr)
            raise TypeError(f"expected a sequence of Tensors, but element {i} is {type(seq[i]).__name__}")
        arr[i] = (<_TensorBase>seq[i]).t
    return arr


def cat(tensors, dim=0):
    """Joins tensors along an existing dim."""
    cdef int n
    cdef cg_tensor **arr = _tensor_list(tensors, &n)
    try:
        return wrap(cg_cat(arr, n, int_arg(dim, "cat", "dim")))
    finally:
        free(arr)


def concat(tensors, dim=0):
    return cat(tensors, dim)


def concatenate(tensors, dim=0):
    return cat(tensors, dim)


def stack(tensors, dim=0):
    """Joins tensors of equal shape along a new dim."""
    cdef int n
    cdef cg_tensor **arr = _tensor_list(tensors, &n)
    try:
        return wrap(cg_stack(arr, n, int_arg(dim, "stack", "dim")))
    finally:
        free(arr)


def nonzero(input, *, as_tuple=False):
    return input.nonzero(as_tuple=as_tuple)
