# Views and copies that change shape. Included by _C.pyx.


cdef list _pieces(cg_tensor **out, int n):
    return [wrap(out[i]) for i in range(n)]


cdef list _split_sizes(_TensorBase t, object split_size_or_sections, int64_t dim, bint *equal):
    """The sizes of split's pieces along dim."""
    cdef int64_t d = dim + t.t.ndim if dim < 0 else dim
    if d < 0 or d >= t.t.ndim:
        n = t.t.ndim
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    size = t.t.shape[d]
    if not isinstance(split_size_or_sections, (list, tuple)):
        split_size_or_sections = int_arg(split_size_or_sections, "split", "split_size")
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and not (step == 0 and size == 0):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}")
        equal[0] = True
        if size == 0:
            return [0]
        return [min(step, size - i) for i in range(0, size, step)]
    equal[0] = False
    return [int_arg(s, "split", "split_size") for s in split_size_or_sections]


class _MinMax(tuple):
    """(min, max), as PyTorch's torch.return_types.aminmax."""
    __slots__ = ()

    def __new__(cls, min, max):
        return tuple.__new__(cls, (min, max))

    @property
    def min(self):
        return self[0]

    @property
    def max(self):
        return self[1]

    def __repr__(self):
        return f"cgrad.return_types.aminmax(\nmin={self[0]!r},\nmax={self[1]!r})"

    def __reduce__(self):
        return (type(self), (self[0], self[1]))


_MinMax.__name__ = _MinMax.__qualname__ = "aminmax"
return_types.aminmax = _MinMax


cdef object _split_spec(object indices_or_sections, object sections, object indices):
    """tensor_split's pieces: an int (sections) or a list of indices."""
    given = [x for x in (indices_or_sections, sections, indices) if x is not None]
    if len(given) != 1:
        raise TypeError("tensor_split() takes one of indices_or_sections, sections or indices")
    spec = given[0]
    if isinstance(spec, _TensorBase):
        if spec.dtype != int64:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                               f"{_TYPE_NAMES.get(spec.dtype, spec.dtype)}")
        if spec.dim() > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {spec.dim()} dims")
        return spec.item() if spec.dim() == 0 else [int(i) for i in spec.tolist()]
    if isinstance(spec, (list, tuple)):
        return [int_arg(i, "tensor_split", "indices") for i in spec]
    return int_arg(spec, "tensor_split", "sections")


_TYPE_NAMES = {float32: "Float", float64: "Double", int64: "Long", bool_: "Bool"}


cdef tuple _dir_split(_TensorBase t, object indices_or_sections, str name, int min_dims, int dim):
    """hsplit / vsplit / dsplit: tensor_split along dim, equal pieces for an int."""
    if t.t.ndim < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension, but got a tensor "
                           f"with {t.t.ndim} dimensions!")
    if isinstance(indices_or_sections, (list, tuple)):
        return t.tensor_split(list(indices_or_sections), dim)
    n = int_arg(indices_or_sections, name, "sections")
    size = t.shape[dim]
    if n == 0 or size % n:
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the dimension "
                           f"{size} is not divisible by the split_size {n}!")
    return t.tensor_split(n, dim)


cdef _long_indices(_TensorBase idx):
    if idx.t.dtype != CG_INT64:
        raise RuntimeError("torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{_TYPE_NAMES.get(idx.dtype, idx.dtype)}")


cdef object _aminmax(_TensorBase t, int64_t *dims, int n, bint keepdim):
    cdef cg_tensor *mx = NULL
    mn = wrap(cg_aminmax(t.t, dims, n, keepdim, &mx))
    return return_types.aminmax(mn, wrap(mx))


cdef int64_t _wrap_dim(object dim, int nd) except? -1:
    """dim in [0, nd), a 0-d tensor counting as having one dim, with PyTorch's message."""
    cdef int n = max(nd, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim + n if dim < 0 else dim


cdef object _chunk(_TensorBase x, object chunks, object dim, int pos):
    """x split into chunks pieces along dim; pos is chunks' argument position in messages."""
    cdef int64_t n = order_arg(chunks, "chunk", "chunks", pos)
    if x.t.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if n <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: %d" % n)
    size = x.size(dim)
    if size == 0:  # n empty pieces, as PyTorch gives (through split_with_sizes)
        return x.split([0] * n, dim)
    return x.split(-(-size // n), dim)


cdef object _flatten(_TensorBase x, object start_dim, object end_dim, int pos):
    """x with dims start_dim..end_dim merged into one; pos is start_dim's argument position in messages."""
    cdef int nd = x.t.ndim
    s = _wrap_dim(order_arg(start_dim, "flatten", "start_dim", pos), nd)
    e = _wrap_dim(order_arg(end_dim, "flatten", "end_dim", pos + 1), nd)
    if nd == 0:
        return x.reshape(1)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return x
    shape = list(x.shape)
    # the merged size is a product, not a -1 to infer: with a zero dim elsewhere -1 would be ambiguous
    merged = 1
    for n in shape[s:e + 1]:
        merged *= n
    return x.reshape(shape[:s] + [merged] + shape[e + 1:])


cdef object _unflatten(_TensorBase x, object dim, object sizes, int pos):
    """x with dim split into sizes (one may be -1); pos is dim's argument position in messages."""
    cdef int64_t s[8]
    cdef int64_t d = order_arg(dim, "unflatten", "dim", pos)
    cdef int n = _int_tuple(sizes, "unflatten", "sizes", pos + 1, s)
    if pos == 2:  # torch.unflatten checks dim before sizes, Tensor.unflatten after
        d = _wrap_dim(d, x.t.ndim)
    if n == 0:
        raise RuntimeError("unflatten: sizes must be non-empty")
    d = _wrap_dim(d, x.t.ndim)
    if x.t.ndim == 0:
        raise RuntimeError("unflatten got an unexpected error:\nDimension specified as 0 but tensor has no dimensions")
    shape = list(x.shape)
    return x.view(shape[:d] + _unflatten_sizes([s[i] for i in range(n)], shape[d], d) + shape[d + 1:])


cdef list _unflatten_sizes(list sizes, int64_t size, int64_t dim):
    """sizes with its -1 resolved so they multiply up to size; PyTorch reports a failed inference as unexpected."""
    infer, known = None, 1
    for i, v in enumerate(sizes):
        if v == -1:
            if infer is not None:
                raise RuntimeError("unflatten got an unexpected error:\nonly one dimension can be inferred")
            infer = i
        elif v < 0:
            raise RuntimeError(f"unflatten got an unexpected error:\ninvalid shape dimension {v} at index {i} of "
                               f"shape {sizes}")
        else:
            known *= v
    if infer is None and known == size:
        return sizes
    if infer is not None and known != 0 and size % known == 0:
        return sizes[:infer] + [size // known] + sizes[infer + 1:]
    if infer is not None and known == 0 and size == 0:
        raise RuntimeError(f"unflatten got an unexpected error:\ncannot reshape tensor of 0 elements into shape "
                           f"{sizes} because the unspecified dimension size -1 can be any value and is ambiguous")
    raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {dim} ({size}) in the "
                       f"input tensor")


cdef list _broadcast_pair(list a, list b):
    """The broadcast shape of two shapes of one length, with PyTorch's message."""
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                               f"non-singleton dimension {i}")
        out.append(y if x == 1 else x)
    return out



# ---- layouts given as sizes, strides and a storage offset (as_strided and its family)

cdef int _int_tuple(object x, str fn, str name, int pos, int64_t *out) except -1:
    """out from a tuple (or list) of ints, with PyTorch's messages; returns its length."""
    if not isinstance(x, (tuple, list)):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be tuple of ints, not {type(x).__name__}")
    if len(x) > CG_MAX_DIMS:
        raise RuntimeError(f"cgrad supports at most {CG_MAX_DIMS} dimensions, got {len(x)}")
    for i, v in enumerate(x):
        try:
            if isinstance(v, bool):
                raise TypeError
            out[i] = operator.index(v)
        except TypeError:
            raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be tuple of ints, but found element "
                            f"of type {type(v).__name__} at pos {i}") from None
    return len(x)


cdef int _layout(object size, object stride, str fn, int pos, int64_t *s, int64_t *st) except -1:
    """size and stride (arguments pos and pos + 1 of fn) into s and st; returns ndim."""
    cdef int nd = _int_tuple(size, fn, "size", pos, s)
    if _int_tuple(stride, fn, "stride", pos + 1, st) != nd:
        if fn in ("empty_strided", "new_empty_strided"):
            raise RuntimeError(f"dimensionality of sizes ({nd}) must match dimensionality of strides ({len(stride)})")
        raise RuntimeError("mismatch in length of strides and shape")
    return nd


cdef object _empty_strided(object size, object stride, object dt, bint requires_grad, str fn):
    cdef int64_t s[8]
    cdef int64_t st[8]
    cdef int nd = _layout(size, stride, fn, 1, s, st)
    cdef cg_dtype code = resolve(dt)
    if requires_grad and not cg_dtype_is_floating(code):
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
    return finish_new(cg_empty_strided(s, st, nd, code), requires_grad)


cdef int64_t _storage_offset(_TensorBase a, object offset, str fn, int pos) except? -1:
    """The storage offset argument: a's own when None."""
    if offset is None:
        return a.t.offset
    if not isinstance(offset, int) and not hasattr(offset, "__index__"):
        raise TypeError(f"{fn}(): argument 'storage_offset' (position {pos}) must be int, not {type(offset).__name__}")
    return offset.__index__()


cdef class _TensorShape(_TensorReduce):
    """Views and copies that change shape."""

    def narrow(self, dim, start, length):
        return wrap(cg_narrow(self.t, int_arg(dim, "narrow", "dim"), int_arg(start, "narrow", "start"),
                              int_arg(length, "narrow", "length")))

    def split(self, split_size_or_sections, dim=0):
        cdef bint equal = False
        sizes = _split_sizes(self, split_size_or_sections, int_arg(dim, "split", "dim"), &equal)
        cdef int n = len(sizes), i
        cdef int64_t *s = <int64_t *>malloc(max(n, 1) * sizeof(int64_t))
        cdef cg_tensor **out = <cg_tensor **>malloc(max(n, 1) * sizeof(cg_tensor *))
        try:
            for i in range(n):
                s[i] = sizes[i]
            check(cg_split_with_sizes(self.t, s, n, dim, equal, out))
            return tuple(_pieces(out, n))
        finally:
            free(s)
            free(out)

    def split_with_sizes(self, split_sizes, dim=0):
        return self.split(list(split_sizes), dim)

    def chunk(self, chunks, dim=0):
        return _chunk(self, chunks, dim, 1)

    def unbind(self, dim=0):
        dim = int_arg(dim, "unbind", "dim")
        cdef int64_t d = dim + self.t.ndim if dim < 0 else dim
        cdef int n = self.t.shape[d] if 0 <= d < self.t.ndim else 0
        cdef cg_tensor **out = <cg_tensor **>malloc(max(n, 1) * sizeof(cg_tensor *))
        try:
            check(cg_unbind(self.t, dim, out))
            return tuple(_pieces(out, n))
        finally:
            free(out)

    def flip(self, *dims):
        cdef int64_t d[8]
        cdef int n = parse_shape(dims, d)
        return wrap(cg_flip(self.t, d, n))

    def fliplr(self):
        return self.flip(1)

    def flipud(self):
        return self.flip(0)

    def roll(self, shifts, dims=None):
        cdef int64_t s[8]
        cdef int64_t d[8]
        cdef int ns = parse_dims(shifts, s), nd
        if dims is None:
            if ns != 1:
                raise RuntimeError(f"shifts and dimensions must align. shifts: {ns}, dims:0")
            return wrap(cg_roll(self.t, s, NULL, 1))
        nd = parse_dims(dims, d)
        if ns != nd:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {ns}, dims:{nd}")
        return wrap(cg_roll(self.t, s, d, ns))

    def repeat(self, *sizes):
        cdef int64_t s[8]
        cdef int n = parse_shape(sizes, s)
        return wrap(cg_repeat(self.t, s, n))

    def tile(self, *dims):
        reps = list(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else list(dims)
        reps = [1] * (self.t.ndim - len(reps)) + reps
        return self.repeat(*reps)

    def ravel(self): return self.reshape(-1)

    def flatten(self, start_dim=0, end_dim=-1):
        return _flatten(self, start_dim, end_dim, 1)

    def unflatten(self, dim, sizes):
        return _unflatten(self, dim, sizes, 1)

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def expand_as(self, other):
        return self.expand(other.shape)

    def broadcast_to(self, *size):
        return self.expand(*size)

    def movedim(self, source, destination):
        nd = self.t.ndim
        src = [source] if isinstance(source, int) else list(source)
        dst = [destination] if isinstance(destination, int) else list(destination)
        if len(src) != len(dst):
            raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should "
                               f"contain the same number of dims as destination ({dst} dims)")
        src = [_wrap_dim(s, nd) for s in src]
        dst = [_wrap_dim(d, nd) for d in dst]
        for name, given, wrapped in (("source", source, src), ("destination", destination, dst)):
            if len(set(wrapped)) != len(wrapped):
                raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(given)})")
        if nd == 0:
            return wrap(cg_alias_view(self.t))
        order = [-1] * nd
        for s, d in zip(src, dst):
            order[d] = s
        rest = iter(i for i in range(nd) if i not in src)
        return self.permute([o if o >= 0 else next(rest) for o in order])

    def moveaxis(self, source, destination):
        return self.movedim(source, destination)

    def swapaxes(self, axis0, axis1):
        return self.transpose(axis0, axis1)

    def take(self, index):
        """The elements at index of the flattened tensor, in index's shape."""
        cdef _TensorBase i = tensor_arg(index, "take", "index", 1)
        if i.t.dtype != CG_INT64:
            raise RuntimeError(f"take(): Expected a long tensor for index, but got {i.dtype}")
        return self.reshape(-1)[i]

    def masked_select(self, mask):
        """The elements where mask (broadcast with self) holds, as a 1-D tensor."""
        cdef _TensorBase m = tensor_arg(mask, "masked_select", "mask", 1)
        if m.t.dtype != CG_BOOL:
            raise RuntimeError("masked_select: expected BoolTensor for mask")
        shape = np.broadcast_shapes(tuple(self.shape), tuple(m.shape))
        return self.expand(shape)[m.expand(shape)]

    def diag(self, diagonal=0):
        """A 1-D tensor's elements on a diagonal of a new square matrix, or a
        matrix's diagonal as a 1-D tensor; diagonal > 0 above the main one."""
        cdef int64_t k = int_arg(diagonal, "diag", "diagonal")
        if self.dim() == 1:
            n = self.shape[0] + abs(k)
            rows = arange(n).unsqueeze(1)
            cols = arange(n)
            on = (cols - rows) == k
            # element j goes to (j, j + k) above the main diagonal, (j - k, j) below it
            src = cat([self, zeros(abs(k), dtype=self.dtype)])
            return where(on, src.unsqueeze(1) if k >= 0 else src.unsqueeze(0), zeros((), dtype=self.dtype))
        if self.dim() != 2:
            raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{self.dim()}D")
        r0, c0 = max(-k, 0), max(k, 0)
        length = max(min(self.shape[0] - r0, self.shape[1] - c0), 0)
        return self[arange(length) + r0, arange(length) + c0]

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Each element repeated `repeats` times along dim (flattened first
        without a dim); repeats an int or a 1-D int64 tensor of counts."""
        x = self.reshape(-1) if dim is None else self
        d = 0 if dim is None else int_arg(dim, "repeat_interleave", "dim") % max(x.dim(), 1)
        if isinstance(repeats, _TensorBase):
            counts = np.asarray(repeats.tolist(), dtype=np.int64).reshape(-1)
            if counts.size == 1:
                counts = np.repeat(counts, x.shape[d])
            if counts.size != x.shape[d]:
                raise RuntimeError("repeats must have the same size as input along dim")
            if (counts < 0).any():
                raise RuntimeError("Repeats must be non-negative")
            return x.index_select(d, _tensor_from_numpy_copy(np.repeat(np.arange(x.shape[d], dtype=np.int64), counts), None))
        r = int_arg(repeats, "repeat_interleave", "repeats")
        if r < 0:
            raise RuntimeError("Repeats must be non-negative")
        return x.index_select(d, _tensor_from_numpy_copy(np.repeat(np.arange(x.shape[d], dtype=np.int64), r), None))

    def sum_to_size(self, *size):
        """The sum over the dims that broadcasting self from size would expand."""
        if len(size) == 1 and isinstance(size[0], (list, tuple)):
            size = tuple(size[0])
        size = tuple(size)
        shape = tuple(self.shape)
        try:
            if np.broadcast_shapes(size, shape) != shape:
                raise ValueError
        except ValueError:
            raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.") from None
        lead = len(shape) - len(size)
        out = self.sum(tuple(range(lead))) if lead else self
        dims = tuple(i for i, s in enumerate(size) if s == 1 and out.shape[i] != 1)
        return out.sum(dims, keepdim=True) if dims else out

    def select(self, dim, index):
        """The slice at index along dim, that dim removed: a view."""
        d = int_arg(dim, "select", "dim")
        n = self.dim()
        if not -max(n, 1) <= d < max(n, 1) or n == 0:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-max(n, 1)}, {max(n, 1) - 1}], "
                             f"but got {d})")
        return self[(slice(None),) * (d % n) + (int_arg(index, "select", "index"),)]

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """The n-th forward difference along dim."""
        if prepend is not None or append is not None:
            raise NotImplementedError("diff(prepend=..., append=...) is not implemented")
        out = self
        for _ in range(int_arg(n, "diff", "n")):
            length = out.shape[dim]
            if length == 0:
                break
            out = out.narrow(dim, 1, length - 1) - out.narrow(dim, 0, length - 1)
        return out

    def swapdims(self, dim0, dim1):
        return self.transpose(dim0, dim1)

    # diagonals, windows and regions replaced (csrc/ops_views.c)
    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The diagonal [.., i, .., i + offset, ..] over dim1 and dim2 as the last dim: a view."""
        return wrap(cg_diagonal(self.t, int_arg(offset, "diagonal", "offset"), int_arg(dim1, "diagonal", "dim1"),
                                int_arg(dim2, "diagonal", "dim2")))

    def trace(self):
        return wrap(cg_trace(self.t))

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        """Zeros with the last dim along the diagonal over the new dims dim1 and dim2."""
        return wrap(cg_diag_embed(self.t, int_arg(offset, "diag_embed", "offset"),
                                  int_arg(dim1, "diag_embed", "dim1"), int_arg(dim2, "diag_embed", "dim2")))

    def diagflat(self, offset=0):
        """A square matrix with the flattened elements along a diagonal."""
        return self.reshape(-1).diag_embed(offset, 0, 1)

    def fill_diagonal_(self, fill_value, wrap=False):
        """Writes fill_value along the main diagonal (every dim of the same
        length beyond two); with wrap, a tall matrix's diagonal starts again
        every ncols + 1 rows."""
        if not is_number(fill_value) and not isinstance(fill_value, (_TensorBase, bool)):
            raise TypeError("fill_diagonal_(): argument 'fill_value' (position 1) must be Number, "
                            f"not {type(fill_value).__name__}")
        shape = tuple(self.shape)
        if len(shape) < 2:
            raise RuntimeError("dimensions must larger than 1")
        if len(shape) > 2 and any(s != shape[0] for s in shape):
            raise RuntimeError("all dimensions of input must be of equal length")
        diag = self.diagonal()
        for _ in range(len(shape) - 2):
            diag = diag.diagonal(0, 0, -1)
        diag.fill_(fill_value)
        rows, cols = shape[0], shape[1]
        if wrap and len(shape) == 2 and rows > cols + 1:
            for start in range(cols + 1, rows, cols + 1):
                self.narrow(0, start, min(cols, rows - start)).diagonal().fill_(fill_value)
        return self

    def diagonal_scatter(self, src, offset=0, dim1=0, dim2=1):
        """A copy with the diagonal (as diagonal() views it) replaced by src."""
        return wrap(cg_diagonal_scatter(self.t, tensor_arg(src, "diagonal_scatter", "src", 2).t,
                                        int_arg(offset, "diagonal_scatter", "offset"),
                                        int_arg(dim1, "diagonal_scatter", "dim1"), int_arg(dim2, "diagonal_scatter", "dim2")))

    def select_scatter(self, src, dim, index):
        """A copy with the slice at index along dim replaced by src."""
        return wrap(cg_select_scatter(self.t, tensor_arg(src, "select_scatter", "src", 2).t,
                                      int_arg(dim, "select_scatter", "dim"), int_arg(index, "select_scatter", "index")))

    def slice_scatter(self, src, dim=0, start=None, end=None, step=1):
        """A copy with self[..., start:end:step] (along dim) replaced by src."""
        cdef int64_t lo = 0 if start is None else int_arg(start, "slice_scatter", "start")
        cdef int64_t hi = INT64_MAX if end is None else int_arg(end, "slice_scatter", "end")
        return wrap(cg_slice_scatter(self.t, tensor_arg(src, "slice_scatter", "src", 2).t,
                                     int_arg(dim, "slice_scatter", "dim"), lo, hi, int_arg(step, "slice_scatter", "step")))

    def unfold(self, dimension, size, step):
        """Windows of size elements along dimension, every step: a view with
        the windows along dimension and a new last dim within each."""
        return wrap(cg_unfold(self.t, int_arg(dimension, "unfold", "dimension"), int_arg(size, "unfold", "size"),
                              int_arg(step, "unfold", "step")))

    def rot90(self, k=1, dims=(0, 1)):
        """A copy turned k quarter turns from dims[0] towards dims[1]."""
        cdef int64_t d[8]
        cdef int n = parse_dims(dims, d)
        return wrap(cg_rot90(self.t, int_arg(k, "rot90", "k"), d, n))

    # splits, gathers and reductions composed of other ops
    def tensor_split(self, indices_or_sections=None, dim=0, *, sections=None, indices=None):
        """Views: `sections` pieces of near-equal size (the first ones one
        longer), or the pieces between the given indices, along dim."""
        spec = _split_spec(indices_or_sections, sections, indices)
        if self.t.ndim == 0:
            raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
        d = int_arg(dim, "tensor_split", "dim")
        n = self.t.ndim
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
        d %= n
        if isinstance(spec, int):
            if spec <= 0:
                raise RuntimeError(f"number of sections must be larger than 0, got {spec}")
            size = self.shape[d]
            small, extra = divmod(size, spec)
            bounds = [k * small + min(k, extra) for k in range(1, spec)]
        else:
            bounds = spec
        lead = (slice(None),) * d
        starts = [0] + bounds
        ends = bounds + [None]
        return tuple(self[lead + (slice(a, b),)] for a, b in zip(starts, ends))

    def hsplit(self, indices_or_sections):
        return _dir_split(self, indices_or_sections, "hsplit", 1, 1 if self.t.ndim > 1 else 0)

    def vsplit(self, indices_or_sections):
        return _dir_split(self, indices_or_sections, "vsplit", 2, 0)

    def dsplit(self, indices_or_sections):
        return _dir_split(self, indices_or_sections, "dsplit", 3, 2)

    def take_along_dim(self, indices, dim=None):
        """gather with indices broadcast against self (all dims but dim), or
        from the flattened self when dim is None."""
        cdef _TensorBase idx = tensor_arg(indices, "take_along_dim", "indices", 2)
        if dim is None:  # as PyTorch: views, so a non-contiguous self is refused
            return self.view(-1).gather(0, idx.view(-1))
        d = int_arg(dim, "take_along_dim", "dim")
        if self.t.ndim != idx.t.ndim:
            raise RuntimeError("torch.take_along_dim(): input and indices should have the same number of dimensions, "
                               f"but got {self.t.ndim} dimensions for input, and {idx.t.ndim} dimensions for indices")
        _long_indices(idx)
        n = max(self.t.ndim, 1)
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
        d %= n
        if self.t.ndim == 0:
            return self.gather(d, idx)
        mine = list(self.shape)
        mine[d] = idx.shape[d]
        shape = _broadcast_pair(mine, list(idx.shape))
        src = list(shape)
        src[d] = self.shape[d]
        return self.expand(src).gather(d, idx.expand(shape))

    def msort(self):
        """The values sorted along dim 0."""
        return self.sort(0)[0]

    def argwhere(self):
        """The coordinates of the non-zero elements, one row each."""
        return self.nonzero()

    def aminmax(self, *, dim=None, keepdim=False):
        """(min, max) over dim, or over all elements."""
        if dim is None:
            if self.numel() == 0:
                raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation "
                                   "has no identity.")
            return _aminmax(self, NULL, 0, keepdim)
        d = int_arg(dim, "aminmax", "dim")
        n = max(self.t.ndim, 1)
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
        if self.t.ndim and self.shape[d] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {d % n} to have non-zero size.")
        cdef int64_t dims[1]
        dims[0] = d
        return _aminmax(self, dims, 1, keepdim)


    # layouts of the caller's choosing, in self's storage (ops_strided.c)
    def as_strided(self, size, stride, storage_offset=None):
        """The view of self's storage with the given sizes, strides and offset (default: self's)."""
        cdef int64_t s[8]
        cdef int64_t st[8]
        cdef int nd = _layout(size, stride, "as_strided", 1, s, st)
        return wrap(cg_as_strided_storage(self.t, s, st, nd, _storage_offset(self, storage_offset, "as_strided", 3)))

    def as_strided_(self, size, stride, storage_offset=None):
        """Gives self the layout as_strided would view."""
        cdef int64_t s[8]
        cdef int64_t st[8]
        cdef int nd = _layout(size, stride, "as_strided_", 1, s, st)
        return wrap(cg_as_strided_storage_(self.t, s, st, nd, _storage_offset(self, storage_offset, "as_strided_", 3)))

    def as_strided_scatter(self, src, size, stride, storage_offset=None):
        """A copy of self (and of its storage) with the region as_strided would view replaced by src."""
        cdef _TensorBase source = tensor_arg(src, "as_strided_scatter", "src", 1)
        cdef int64_t s[8]
        cdef int64_t st[8]
        cdef int nd = _layout(size, stride, "as_strided_scatter", 2, s, st)
        return wrap(cg_as_strided_scatter_storage(self.t, source.t, s, st, nd,
                                                  _storage_offset(self, storage_offset, "as_strided_scatter", 4)))

    def new_empty_strided(self, size, stride, *, dtype=None, requires_grad=False):
        """An uninitialised tensor with the given layout, of self's dtype by default."""
        return _empty_strided(size, stride, dtype or self.dtype, requires_grad, "new_empty_strided")

def narrow(input, dim, start, length):
    return input.narrow(dim, start, length)


def split(tensor, split_size_or_sections, dim=0):
    return tensor.split(split_size_or_sections, dim)


def chunk(input, chunks, dim=0):
    return _chunk(tensor_arg(input, "chunk", "input", 1), chunks, dim, 2)


def unbind(input, dim=0):
    return input.unbind(dim)


def flip(input, dims):
    return input.flip(dims)


def roll(input, shifts, dims=None):
    return input.roll(shifts, dims)


def tile(input, dims):
    return input.tile(dims)


def flatten(input, start_dim=0, end_dim=-1):
    return _flatten(tensor_arg(input, "flatten", "input", 1), start_dim, end_dim, 2)


def unflatten(input, dim, sizes):
    return _unflatten(tensor_arg(input, "unflatten", "input", 1), dim, sizes, 2)


def broadcast_to(input, size):
    return input.expand(size)


def select(input, dim, index):
    return input.select(dim, index)


def take(input, index):
    return input.take(index)


def masked_select(input, mask):
    return input.masked_select(mask)


def diag(input, diagonal=0):
    return input.diag(diagonal)


def repeat_interleave(input, repeats, dim=None, *, output_size=None):
    return input.repeat_interleave(repeats, dim, output_size=output_size)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    return input.diff(n, dim, prepend, append)


def swapaxes(input, axis0, axis1):
    return input.transpose(axis0, axis1)


def swapdims(input, dim0, dim1):
    return input.transpose(dim0, dim1)


cdef tuple infer_size(tuple a, tuple b):
    """The broadcast of shapes a and b, with PyTorch's message when there is none."""
    cdef int n = max(len(a), len(b))
    out = []
    for i in range(n):
        x = a[i - n + len(a)] if i - n + len(a) >= 0 else 1
        y = b[i - n + len(b)] if i - n + len(b) >= 0 else 1
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                               f"non-singleton dimension {i}")
        out.append(y if x == 1 else x)
    return tuple(out)


def broadcast_tensors(*tensors):
    """The tensors expanded to their common shape; one already of that shape is itself."""
    cdef tuple shape = ()
    for t in tensors:
        shape = infer_size(shape, tuple(t.shape))
    return tuple(t if tuple(t.shape) == shape else t.expand(shape) for t in tensors)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids of 1-D tensors: views, expanded. indexing="xy" swaps
    the first two dims, as numpy's."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    for t in tensors:
        if t.dim() > 1:
            raise RuntimeError("torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: " + repr(t))
    order = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        order[0], order[1] = 1, 0
    shape = [tensors[i].numel() for i in order]
    grids = []
    for k, t in enumerate(tensors):
        view = [1] * len(tensors)
        view[order.index(k)] = -1
        grids.append(t.reshape(view).expand(shape))
    return tuple(grids)


def movedim(input, source, destination):
    return input.movedim(source, destination)



def diagonal(input, offset=0, dim1=0, dim2=1):
    return tensor_arg(input, "diagonal", "input", 1).diagonal(offset, dim1, dim2)


def trace(input):
    return tensor_arg(input, "trace", "input", 1).trace()


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    return tensor_arg(input, "diag_embed", "input", 1).diag_embed(offset, dim1, dim2)


def diagflat(input, offset=0):
    return tensor_arg(input, "diagflat", "input", 1).diagflat(offset)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    return tensor_arg(input, "diagonal_scatter", "input", 1).diagonal_scatter(src, offset, dim1, dim2)


def select_scatter(input, src, dim, index):
    return tensor_arg(input, "select_scatter", "input", 1).select_scatter(src, dim, index)


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    return tensor_arg(input, "slice_scatter", "input", 1).slice_scatter(src, dim, start, end, step)


def rot90(input, k=1, dims=(0, 1)):
    return tensor_arg(input, "rot90", "input", 1).rot90(k, dims)


def tensor_split(input, indices_or_sections=None, dim=0, *, sections=None, indices=None):
    return tensor_arg(input, "tensor_split", "input", 1).tensor_split(indices_or_sections, dim, sections=sections,
                                                                      indices=indices)


def hsplit(input, indices_or_sections):
    return tensor_arg(input, "hsplit", "input", 1).hsplit(indices_or_sections)


def vsplit(input, indices_or_sections):
    return tensor_arg(input, "vsplit", "input", 1).vsplit(indices_or_sections)


def dsplit(input, indices_or_sections):
    return tensor_arg(input, "dsplit", "input", 1).dsplit(indices_or_sections)


def take_along_dim(input, indices, dim=None):
    return tensor_arg(input, "take_along_dim", "input", 1).take_along_dim(indices, dim)


def msort(input):
    return tensor_arg(input, "msort", "input", 1).msort()


def argwhere(input):
    return tensor_arg(input, "argwhere", "input", 1).argwhere()


def aminmax(input, *, dim=None, keepdim=False):
    return tensor_arg(input, "aminmax", "input", 1).aminmax(dim=dim, keepdim=keepdim)


# ---- PyTorch's *_copy ops: a view's values as a new tensor, differentiated by the view's formula
# under the name "<view node>_copy" (Note [Copies of views] in ops_shape.c)

def _copy_as(_TensorBase v, str name):
    return wrap(cg_copy_as(v.t, name.encode()))


def view_copy(input, size):
    if isinstance(size, dtype):
        raise NotImplementedError("view_copy(dtype) is not supported; use .to(dtype)")
    cdef int64_t s[8]
    cdef int nd = parse_shape((size,), s)
    return wrap(cg_view_copy((<_TensorBase?>input).t, s, nd))


def narrow_copy(input, dim, start, length):
    return _copy_as(input.narrow(dim, start, length), "NarrowCopyBackward0")


def as_strided(input, size, stride, storage_offset=None):
    cdef _TensorBase a = tensor_arg(input, "as_strided", "input", 1)
    cdef int64_t s[8]
    cdef int64_t st[8]
    cdef int nd = _layout(size, stride, "as_strided", 2, s, st)
    return wrap(cg_as_strided_storage(a.t, s, st, nd, _storage_offset(a, storage_offset, "as_strided", 4)))


def as_strided_copy(input, size, stride, storage_offset=None):
    cdef _TensorBase a = tensor_arg(input, "as_strided_copy", "input", 1)
    cdef int64_t s[8]
    cdef int64_t st[8]
    cdef int nd = _layout(size, stride, "as_strided_copy", 2, s, st)
    v = wrap(cg_as_strided_storage(a.t, s, st, nd, _storage_offset(a, storage_offset, "as_strided_copy", 4)))
    return _copy_as(v, "AsStridedBackward0_copy")


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    cdef _TensorBase a = tensor_arg(input, "as_strided_scatter", "input", 1)
    cdef _TensorBase source = tensor_arg(src, "as_strided_scatter", "src", 2)
    cdef int64_t s[8]
    cdef int64_t st[8]
    cdef int nd = _layout(size, stride, "as_strided_scatter", 3, s, st)
    return wrap(cg_as_strided_scatter_storage(a.t, source.t, s, st, nd,
                                              _storage_offset(a, storage_offset, "as_strided_scatter", 5)))


def empty_strided(size, stride, *, dtype=None, requires_grad=False):
    """An uninitialised tensor with the given sizes and strides over the storage they reach."""
    return _empty_strided(size, stride, dtype, requires_grad, "empty_strided")
