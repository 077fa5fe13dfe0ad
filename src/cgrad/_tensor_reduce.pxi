# Reductions over dimensions, and gathering / scattering along one. Included by _C.pyx.


cdef object NO_STABLE = object()  # stable= not given


cdef tuple sort_args(str fname, tuple args, dict kwargs, object stable):
    """(dim, descending) of sort or argsort, from PyTorch's two signatures:
    (dim=-1, descending=False), and (*, stable, dim=-1, descending=False),
    whose arguments are keywords only. sort's stable may be None,
    argsort's not."""
    names = ("dim", "descending")
    if stable is None and fname == "argsort":
        raise TypeError("argsort(): argument 'stable' must be bool, not NoneType")
    if stable is not NO_STABLE and args:
        raise TypeError(f"{fname}() received an invalid combination of arguments: with stable, "
                        f"dim and descending are keyword arguments (got {len(args)} positional)")
    if len(args) > 2:
        raise TypeError(f"{fname}() takes from 0 to 2 positional arguments but {len(args)} were given")
    for key in kwargs:
        if key not in names:
            raise TypeError(f"{fname}() got an unexpected keyword argument '{key}'")
    values = dict(zip(names, args))
    for key, value in kwargs.items():
        if key in values:
            raise TypeError(f"{fname}() got multiple values for argument '{key}'")
        values[key] = value
    return values.get("dim", -1), values.get("descending", False)


class _ValuesIndices(tuple):
    """(values, indices), as PyTorch's torch.return_types.max and friends."""
    __slots__ = ()
    _name = ""

    def __new__(cls, values, indices):
        return tuple.__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self):
        return f"cgrad.return_types.{self._name}(\nvalues={self[0]!r},\nindices={self[1]!r})"

    def __reduce__(self):
        return (type(self), (self[0], self[1]))


class return_types:
    """The named tuples that reductions with indices return."""

    class max(_ValuesIndices):
        _name = "max"

    class min(_ValuesIndices):
        _name = "min"

    class sort(_ValuesIndices):
        _name = "sort"

    class topk(_ValuesIndices):
        _name = "topk"

    class kthvalue(_ValuesIndices):
        _name = "kthvalue"

    class median(_ValuesIndices):
        _name = "median"

    class mode(_ValuesIndices):
        _name = "mode"

    class nanmedian(_ValuesIndices):
        _name = "nanmedian"

    class cummax(_ValuesIndices):
        _name = "cummax"

    class cummin(_ValuesIndices):
        _name = "cummin"


cdef int reduce_dims(object dim, int64_t *dims) except -2:
    """parse_dims for a reduction's dim argument (-1: None, all dims)."""
    if isinstance(dim, _TensorBase):
        raise TypeError("dim must be an int or a tuple of ints, not Tensor")
    return parse_dims(dim, dims)


cdef int64_t int_dim(object dim, str name) except? -99:
    if isinstance(dim, bool) or not hasattr(dim, "__index__"):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    return dim.__index__()


cdef int check_mean_dtype(str fname, object d) except -1:
    """PyTorch's error for a mean's dtype= that is neither floating point nor complex."""
    if isinstance(d, dtype) and not ((<dtype>d).is_floating_point or (<dtype>d).is_complex):
        raise RuntimeError(f"{fname}(): could not infer output dtype. Optional dtype must be either a floating "
                           f"point or complex dtype. Got: {(<dtype>d)._type_name}")
    return 0


cdef int check_inplace_dtype(_TensorBase t, object d) except -1:
    """PyTorch's error for an in-place op asked for a dtype cgrad has no tensors of (the C core words the rest)."""
    if isinstance(d, dtype) and (<dtype>d).code < 0:
        from cgrad._dtypes import _cpp_name
        raise RuntimeError(f"Bad in-place call: input tensor dtype {_cpp_name(t.dtype)} and output tensor dtype "
                           f"{_cpp_name(d)} should match")
    return 0


cdef object reduce_source(_TensorBase t, object d):
    """t in a reduction's dtype= d; PyTorch's error for a result of a dtype that
    cannot carry a gradient while t's graph is being recorded."""
    if d is None:
        return t
    if (isinstance(d, dtype) and not ((<dtype>d).is_floating_point or (<dtype>d).is_complex)
            and t.t.requires_grad and cg_is_grad_enabled()):
        raise RuntimeError(f"Autograd not support dtype: {(<dtype>d)._type_name}")
    return t.to(d)


cdef cg_dtype dtype_or_own(_TensorBase t, object dtype) except *:
    """A dtype= argument, t's own dtype when it is None."""
    return <cg_dtype>t.t.dtype if dtype is None else dtype_code(dtype)


cdef double correction_arg(object unbiased, object correction, str name) except? -1.5:
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got both unbiased and "
                        "correction; pass only one of them")
    if correction is not None:
        if not isinstance(correction, (int, float)):
            raise TypeError(f"{name}(): argument 'correction' must be Number, not {type(correction).__name__}")
        return float(correction)
    return 0.0 if unbiased is False else 1.0


cdef object var_std(_TensorBase x, bint root, object dim, object unbiased, bint keepdim, object correction):
    if isinstance(dim, bool):  # var(False): the old unbiased flag
        dim, unbiased = None, dim
    cdef int64_t dims[8]
    cdef int n = reduce_dims(dim, dims)
    cdef double c = correction_arg(unbiased, correction, "std" if root else "var")
    cdef int64_t *d = dims if n >= 0 else NULL
    n = n if n >= 0 else 0
    r = wrap(cg_std(x.t, d, n, c, keepdim) if root else cg_var(x.t, d, n, c, keepdim))
    if x.t.numel // max(r.numel(), 1) - c <= 0:
        warnings.warn(f"{'std' if root else 'var'}(): degrees of freedom is <= 0. Correction should be strictly "
                      "less than the reduction factor (input numel divided by output numel).", UserWarning,
                      stacklevel=3)
    return r


cdef object max_min(_TensorBase x, bint is_max, object dim, bint keepdim):
    cdef cg_tensor *idx = NULL
    cdef cg_tensor *r
    name = "max" if is_max else "min"
    if dim is None:
        return wrap(cg_max(x.t) if is_max else cg_min(x.t))
    if isinstance(dim, _TensorBase):  # max(input, other): element-wise
        fn = getattr(x, "maximum" if is_max else "minimum", None)
        if fn is None:
            raise NotImplementedError(f"{name}(input, other) needs the element-wise "
                                      f"{'maximum' if is_max else 'minimum'}, which is not implemented")
        return fn(dim)
    cdef int64_t d = int_dim(dim, name)
    r = cg_max_dim(x.t, d, keepdim, &idx) if is_max else cg_min_dim(x.t, d, keepdim, &idx)
    if r == NULL:
        raise_error()
    values = wrap(r)
    kind = return_types.max if is_max else return_types.min
    return kind(values, wrap(idx))


cdef object cummax_cummin(_TensorBase x, bint is_min, object dim):
    cdef cg_tensor *idx = NULL
    cdef int64_t d = int_dim(dim, "cummin" if is_min else "cummax")
    cdef cg_tensor *r = cg_cummin(x.t, d, &idx) if is_min else cg_cummax(x.t, d, &idx)
    if r == NULL:
        raise_error()
    values = wrap(r)
    kind = return_types.cummin if is_min else return_types.cummax
    return kind(values, wrap(idx))


cdef object NO_DIM = object()  # median's dim not given
cdef enum:  # the selection kthvalue, median(dim) and mode make, as pick_op in ops_reduce.c
    PICK_KTH, PICK_MEDIAN, PICK_MODE
cdef tuple PICK_NAMES = ("kthvalue", "median", "mode")


cdef object pick_dim(_TensorBase x, int op, int64_t k, object dim, bint keepdim):
    """(values, indices) of kthvalue, median or mode along dim."""
    cdef cg_tensor *idx = NULL
    cdef cg_tensor *r
    cdef int64_t d = int_dim(dim, PICK_NAMES[op])
    if op == PICK_KTH:
        r = cg_kthvalue(x.t, k, d, keepdim, &idx)
    elif op == PICK_MEDIAN:
        r = cg_median_dim(x.t, d, keepdim, &idx)
    else:
        r = cg_mode(x.t, d, keepdim, &idx)
    if r == NULL:
        raise_error()
    values = wrap(r)
    return getattr(return_types, PICK_NAMES[op])(values, wrap(idx))


cdef object arg_max_min(_TensorBase x, bint is_max, object dim, bint keepdim):
    cdef int64_t d = 0
    if dim is not None:
        d = int_dim(dim, "argmax" if is_max else "argmin")
    cdef int64_t *pd = &d if dim is not None else NULL
    return wrap(cg_argmax(x.t, pd, keepdim) if is_max else cg_argmin(x.t, pd, keepdim))


cdef double norm_order(object p, object dim) except? -1.5:
    if isinstance(p, str):
        if p == "fro":
            if dim is not None and not isinstance(dim, int) and len(dim) > 2:
                raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
            return 2.0
        if p == "nuc":
            raise NotImplementedError("norm(p='nuc'), the nuclear norm, is not implemented")
        raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
    return float(p)


cdef _TensorBase index_arg(object index, str name):
    if not isinstance(index, _TensorBase):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not {type(index).__name__}")
    return <_TensorBase>index


cdef object scatter_into(_TensorBase x, object dim, object index, object src, object value, object reduce,
                         bint add, bint inplace):
    cdef cg_tensor *s
    name = ("scatter_add" if add else "scatter") + ("_" if inplace else "")
    if reduce is not None:
        raise NotImplementedError(f"{name}(reduce={reduce!r}) is not implemented; use scatter_add")
    cdef int64_t d = int_dim(dim, name)
    cdef _TensorBase ix = index_arg(index, name)
    if src is None and value is None:
        raise TypeError(f"{name}() missing required argument 'src' or 'value'")
    if isinstance(src, _TensorBase):
        s = (<_TensorBase>src).t
        if add:
            return wrap(cg_scatter_add_(x.t, d, ix.t, s) if inplace else cg_scatter_add(x.t, d, ix.t, s))
        return wrap(cg_scatter_(x.t, d, ix.t, s) if inplace else cg_scatter(x.t, d, ix.t, s))
    if add:
        raise TypeError(f"{name}(): argument 'src' must be Tensor, not {type(src).__name__}")
    v = value if src is None else src
    if not isinstance(v, (int, float, bool)):
        raise TypeError(f"{name}(): argument 'value' must be a number, not {type(v).__name__}")
    return wrap(cg_scatter_value_(x.t, d, ix.t, v) if inplace else cg_scatter_value(x.t, d, ix.t, v))


cdef object masked_fill_into(_TensorBase x, object mask, object value, bint inplace):
    if not isinstance(mask, _TensorBase):
        raise TypeError(f"masked_fill(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if not isinstance(value, (_TensorBase, int, float, bool, np.generic)):
        raise TypeError(f"masked_fill(): argument 'value' must be a number or a Tensor, not {type(value).__name__}")
    cdef _TensorBase v = as_tensor_arg(value, x)
    cdef cg_tensor *m = (<_TensorBase>mask).t
    return wrap(cg_masked_fill_(x.t, m, v.t) if inplace else cg_masked_fill(x.t, m, v.t))


cdef object index_slices(_TensorBase x, object dim, object index, object source, object alpha, str kind,
                         bint inplace):
    """index_add / index_copy (source a Tensor) or index_fill (source the value) of x."""
    name = f"index_{kind}" + ("_" if inplace else "")
    cdef int64_t d = int_dim(dim, name)
    cdef _TensorBase ix = index_arg(index, name)
    cdef _TensorBase src
    if kind == "fill":
        if not isinstance(source, (_TensorBase, int, float, bool, np.generic)):
            raise TypeError(f"{name}(): argument 'value' must be a number or a Tensor, not {type(source).__name__}")
        src = as_tensor_arg(source, x)
        return wrap(cg_index_fill_(x.t, d, ix.t, src.t) if inplace else cg_index_fill(x.t, d, ix.t, src.t))
    if not isinstance(source, _TensorBase):
        raise TypeError(f"{name}(): argument 'source' must be Tensor, not {type(source).__name__}")
    if kind == "copy":
        src = <_TensorBase>source
        return wrap(cg_index_copy_(x.t, d, ix.t, src.t) if inplace else cg_index_copy(x.t, d, ix.t, src.t))
    src = <_TensorBase>source
    cdef double a = float(alpha)
    return wrap(cg_index_add_(x.t, d, ix.t, src.t, a) if inplace else cg_index_add(x.t, d, ix.t, src.t, a))


cdef object masked_scatter_into(_TensorBase x, object mask, object source, bint inplace):
    name = "masked_scatter" + ("_" if inplace else "")
    if not isinstance(mask, _TensorBase):
        raise TypeError(f"{name}(): argument 'mask' (position 1) must be Tensor, not {type(mask).__name__}")
    if not isinstance(source, _TensorBase):
        raise TypeError(f"{name}(): argument 'source' (position 2) must be Tensor, not {type(source).__name__}")
    cdef cg_tensor *m = (<_TensorBase>mask).t
    cdef cg_tensor *s = (<_TensorBase>source).t
    return wrap(cg_masked_scatter_(x.t, m, s) if inplace else cg_masked_scatter(x.t, m, s))


cdef object put_into(_TensorBase x, object index, object source, object accumulate, bint inplace):
    name = "put" + ("_" if inplace else "")
    if not isinstance(index, _TensorBase):
        raise TypeError(f"{name}(): argument 'index' (position 1) must be Tensor, not {type(index).__name__}")
    cdef _TensorBase ix = <_TensorBase>index
    if not isinstance(source, _TensorBase):
        raise TypeError(f"{name}(): argument 'source' (position 2) must be Tensor, not {type(source).__name__}")
    cdef cg_tensor *s = (<_TensorBase>source).t
    cdef int acc = bool(accumulate)
    return wrap(cg_put_(x.t, ix.t, s, acc) if inplace else cg_put(x.t, ix.t, s, acc))


cdef class _TensorReduce(_TensorMath):
    """Reductions over dimensions; gathering and scattering along one."""

    def all(self, dim=None, keepdim=False):
        """Whether every element (along dim) is nonzero, as bool; NaN is nonzero.
        An empty tuple of dims reduces none (where a sum's reduces all)."""
        if isinstance(dim, (tuple, list)) and len(dim) == 0:
            return self != 0
        return (self == 0).sum(dim, keepdim) == 0

    def any(self, dim=None, keepdim=False):
        """Whether some element (along dim) is nonzero, as bool; NaN is nonzero."""
        if isinstance(dim, (tuple, list)) and len(dim) == 0:
            return self != 0
        return (self != 0).sum(dim, keepdim) > 0

    def argsort(self, *args, stable=NO_STABLE, **kwargs):
        """argsort(dim=-1, descending=False) or argsort(*, stable, dim=-1, descending=False):
        the positions that sort self along dim; equal elements keep their order."""
        dim, descending = sort_args("argsort", args, kwargs, stable)
        return wrap(cg_sort_indices(self.t, int_arg(dim, "argsort", "dim"), bool(descending)))

    def sort(self, *args, stable=NO_STABLE, **kwargs):
        """sort(dim=-1, descending=False) or sort(*, stable, dim=-1, descending=False):
        (values, indices) sorted along dim; the gradient goes back to each value's position."""
        dim, descending = sort_args("sort", args, kwargs, stable)
        indices = wrap(cg_sort_indices(self.t, int_arg(dim, "sort", "dim"), bool(descending)))
        by = CG_SORTED_BY_SORT if stable is NO_STABLE else CG_SORTED_BY_STABLE_SORT
        return return_types.sort(wrap(cg_sorted_values(self.t, int_arg(dim, "sort", "dim"), (<_TensorBase>indices).t,
                                                       by)), indices)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The k largest (smallest) values along dim and their positions, in order.
        Among equal values the first positions are taken (PyTorch does not say which)."""
        cdef int64_t n = self.shape[dim] if self.dim() else 1
        cdef int64_t kk = int_arg(k, "topk", "k")
        if not 0 <= kk <= n:
            raise RuntimeError("selected index k out of range")
        indices = self.argsort(dim, largest)
        if self.dim():
            indices = indices.narrow(dim, 0, kk)
        return return_types.topk(wrap(cg_sorted_values(self.t, int_arg(dim, "topk", "dim"), (<_TensorBase>indices).t,
                                                       CG_SORTED_BY_TOPK)), indices)

    def cumsum(self, dim, *, dtype=None):
        """The running sums along dim (integers and bool as int64)."""
        src = reduce_source(self, dtype)
        return wrap(cg_cumsum((<_TensorBase>src).t, int_arg(dim, "cumsum", "dim")))

    def cumprod(self, dim, *, dtype=None):
        """The running products along dim (integers and bool as int64)."""
        if dtype is bool_:
            raise NotImplementedError("\"cumprod_out_cpu\" not implemented for 'Bool'")
        src = reduce_source(self, dtype)
        return wrap(cg_cumprod((<_TensorBase>src).t, int_dim(dim, "cumprod")))

    def cumsum_(self, dim, *, dtype=None):
        check_inplace_dtype(self, dtype)
        return wrap(cg_cumsum_(self.t, int_arg(dim, "cumsum_", "dim"), dtype_or_own(self, dtype)))
    def cumprod_(self, dim, *, dtype=None):
        check_inplace_dtype(self, dtype)
        return wrap(cg_cumprod_(self.t, int_dim(dim, "cumprod_"), dtype_or_own(self, dtype)))

    def cummax(self, dim):
        """(values, indices): the running maximum along dim and the last position
        it was reached at; the gradient goes back to those positions."""
        return cummax_cummin(self, False, dim)

    def cummin(self, dim):
        """(values, indices): the running minimum along dim and the last position
        it was reached at; the gradient goes back to those positions."""
        return cummax_cummin(self, True, dim)

    def logcumsumexp(self, dim):
        """log(cumsum(exp(self), dim)), computed without overflow; floats only."""
        return wrap(cg_logcumsumexp(self.t, int_dim(dim, "logcumsumexp")))

    def kthvalue(self, k, dim=-1, keepdim=False):
        """(values, indices): the k-th smallest value along dim (k from 1; NaN
        is larger than every number) and its position; the gradient goes there."""
        if isinstance(k, bool):
            raise TypeError("kthvalue(): argument 'k' must be int, not bool")
        return pick_dim(self, PICK_KTH, int_arg(k, "kthvalue", "k"), dim, keepdim)

    def median(self, dim=NO_DIM, keepdim=NO_DIM):
        """median(): the lower of the two middle values of all elements, 0-d;
        median(dim, keepdim=False): (values, indices) along dim. NaN when there
        is one (the first NaN's position along dim)."""
        if dim is NO_DIM:
            if keepdim is not NO_DIM:
                raise TypeError('median() missing 1 required positional arguments: "dim"')
            return wrap(cg_median(self.t))
        return pick_dim(self, PICK_MEDIAN, 0, dim, False if keepdim is NO_DIM else keepdim)

    def mode(self, dim=-1, keepdim=False):
        """(values, indices): the most frequent value along dim (the smallest of
        equally frequent ones) and the last position it occurs at."""
        return pick_dim(self, PICK_MODE, 0, dim, keepdim)

    def count_nonzero(self, dim=None):
        """The number of nonzero elements (along dim), as int64."""
        return (self != 0).sum(dim)

    def nansum(self, dim=None, keepdim=False, *, dtype=None):
        """The sum with NaN taken as 0; the gradient is 0 at the NaNs."""
        src = reduce_source(self, dtype)
        cdef int64_t dims[8]
        cdef int n = reduce_dims(dim, dims)
        return wrap(cg_nansum((<_TensorBase>src).t, dims if n >= 0 else NULL, n if n >= 0 else 0, keepdim))

    def nanmean(self, dim=None, keepdim=False, *, dtype=None):
        """The mean of the elements that are not NaN: NaN where all are; the
        gradient is 1/count at the others and 0 at the NaNs."""
        check_mean_dtype("nanmean", dtype)
        src = self if dtype is None else self.to(dtype)
        if not src.is_floating_point():
            raise RuntimeError("nanmean(): expected input to have floating point or complex dtype but got "
                               + ("Bool" if src.dtype is bool_ else "Long"))
        return src.nansum(dim, keepdim) / (~src.isnan()).sum(dim, keepdim)

    def sum(self, dim=None, keepdim=False, *, dtype=None):
        src = reduce_source(self, dtype)
        cdef int64_t dims[8]
        cdef int n = reduce_dims(dim, dims)
        return wrap(cg_sum((<_TensorBase>src).t, dims if n >= 0 else NULL, n if n >= 0 else 0, keepdim))

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        check_mean_dtype("mean", dtype)
        src = self if dtype is None else self.to(dtype)
        cdef int64_t dims[8]
        cdef int n = reduce_dims(dim, dims)
        return wrap(cg_mean((<_TensorBase>src).t, dims if n >= 0 else NULL, n if n >= 0 else 0, keepdim))

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        src = reduce_source(self, dtype)
        cdef int64_t d = 0
        if dim is not None:
            d = int_dim(dim, "prod")
        return wrap(cg_prod((<_TensorBase>src).t, &d if dim is not None else NULL, 1 if dim is not None else 0,
                            keepdim))

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return var_std(self, False, dim, unbiased, keepdim, correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return var_std(self, True, dim, unbiased, keepdim, correction)

    def amax(self, dim=(), keepdim=False):
        cdef int64_t dims[8]
        cdef int n = reduce_dims(dim, dims)
        return wrap(cg_amax(self.t, dims, n if n >= 0 else 0, keepdim))

    def amin(self, dim=(), keepdim=False):
        cdef int64_t dims[8]
        cdef int n = reduce_dims(dim, dims)
        return wrap(cg_amin(self.t, dims, n if n >= 0 else 0, keepdim))

    def max(self, dim=None, keepdim=False):
        return max_min(self, True, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return max_min(self, False, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return arg_max_min(self, True, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return arg_max_min(self, False, dim, keepdim)

    def logsumexp(self, dim, keepdim=False):
        cdef int64_t dims[8]
        cdef int n = reduce_dims(dim, dims)
        return wrap(cg_logsumexp(self.t, dims, n if n >= 0 else 0, keepdim))

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        if dtype is not None and self.is_floating_point():
            from cgrad._dtypes import _norm_dtype_errors
            _norm_dtype_errors("linalg.matrix_norm" if p == "nuc" else "linalg.vector_norm", self.dtype, dtype)
        src = self if dtype is None else self.to(dtype)
        cdef double order = norm_order(p, dim)
        cdef int64_t dims[8]
        cdef int n = reduce_dims(dim, dims)
        return wrap(cg_norm((<_TensorBase>src).t, order, dims if n >= 0 else NULL, n if n >= 0 else 0, keepdim))

    def gather(self, dim, index, *, sparse_grad=False):
        if sparse_grad:
            raise NotImplementedError("gather(sparse_grad=True) is not implemented")
        return wrap(cg_gather(self.t, int_dim(dim, "gather"), index_arg(index, "gather").t))

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        return scatter_into(self, dim, index, src, value, reduce, False, False)

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        return scatter_into(self, dim, index, src, value, reduce, False, True)

    def scatter_add(self, dim, index, src):
        return scatter_into(self, dim, index, src, None, None, True, False)

    def scatter_add_(self, dim, index, src):
        return scatter_into(self, dim, index, src, None, None, True, True)

    def index_select(self, dim, index):
        return wrap(cg_index_select(self.t, int_dim(dim, "index_select"), index_arg(index, "index_select").t))

    def index_add(self, dim, index, source, *, alpha=1):
        """A copy of self with source's slice i along dim added, times alpha, to slice index[i]."""
        return index_slices(self, dim, index, source, alpha, "add", False)

    def index_add_(self, dim, index, source, *, alpha=1):
        return index_slices(self, dim, index, source, alpha, "add", True)

    def index_copy(self, dim, index, source):
        """A copy of self with source's slice i along dim copied to slice index[i]."""
        return index_slices(self, dim, index, source, 1, "copy", False)

    def index_copy_(self, dim, index, source):
        return index_slices(self, dim, index, source, 1, "copy", True)

    def index_fill(self, dim, index, value):
        """A copy of self whose slices index[i] along dim hold value (negative indices count from the end)."""
        return index_slices(self, dim, index, value, 1, "fill", False)

    def index_fill_(self, dim, index, value):
        return index_slices(self, dim, index, value, 1, "fill", True)

    def masked_scatter(self, mask, source):
        """A copy of self (broadcast with mask) holding source's elements, in order, where mask holds."""
        return masked_scatter_into(self, mask, source, False)

    def masked_scatter_(self, mask, source):
        return masked_scatter_into(self, mask, source, True)

    def put(self, index, source, accumulate=False):
        """A copy of self with self.flatten()[index] = source (+= with accumulate)."""
        return put_into(self, index, source, accumulate, False)

    def put_(self, index, source, accumulate=False):
        return put_into(self, index, source, accumulate, True)

    def masked_fill(self, mask, value):
        return masked_fill_into(self, mask, value, False)

    def renorm(self, p, dim, maxnorm):
        return renorm(self, p, dim, maxnorm)

    def renorm_(self, p, dim, maxnorm):
        return self.copy_(renorm(self.clone(), p, dim, maxnorm))  # the norm keeps the old values

    def masked_fill_(self, mask, value):
        return masked_fill_into(self, mask, value, True)


# ---- function forms: cgrad.prod(x, ...) is x.prod(...) --------------------------------------

def prod(input, dim=None, keepdim=False, *, dtype=None):
    return input.prod(dim, keepdim, dtype=dtype)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return input.var(dim, unbiased, keepdim, correction=correction)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return input.std(dim, unbiased, keepdim, correction=correction)


def amax(input, dim=(), keepdim=False):
    return input.amax(dim, keepdim)


def amin(input, dim=(), keepdim=False):
    return input.amin(dim, keepdim)


def _max(input, dim=None, keepdim=False, *, other=None):
    return input.max(other if other is not None else dim, keepdim)


def _min(input, dim=None, keepdim=False, *, other=None):
    return input.min(other if other is not None else dim, keepdim)


_max.__name__ = _max.__qualname__ = "max"
_min.__name__ = _min.__qualname__ = "min"
# Bound by name so that max and min inside this module stay Python's builtins.
globals().update(max=_max, min=_min)


def argmax(input, dim=None, keepdim=False):
    return input.argmax(dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return input.argmin(dim, keepdim)


def logsumexp(input, dim, keepdim=False):
    return input.logsumexp(dim, keepdim)


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    if out is not None:
        raise NotImplementedError("norm(out=...) is not implemented")
    return input.norm(p, dim, keepdim, dtype)


def gather(input, dim, index, *, sparse_grad=False):
    return input.gather(dim, index, sparse_grad=sparse_grad)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    return input.scatter(dim, index, src, value, reduce=reduce)


def scatter_add(input, dim, index, src):
    return input.scatter_add(dim, index, src)


def index_select(input, dim, index):
    return input.index_select(dim, index)


def index_add(input, dim, index, source, *, alpha=1):
    return input.index_add(dim, index, source, alpha=alpha)


def index_copy(input, dim, index, source):
    return input.index_copy(dim, index, source)


def index_fill(input, dim, index, value):
    return input.index_fill(dim, index, value)


def _scatter_reduce_raw(_TensorBase a, dim, _TensorBase index, _TensorBase src, int op):
    """scatter_reduce's prod (0), amax (1) or amin (2) of src into a copy of a, recording no node."""
    return wrap(cg_scatter_reduce_raw(a.t, int_dim(dim, "scatter_reduce"), index.t, src.t, op))


def masked_scatter(input, mask, source):
    return input.masked_scatter(mask, source)


def put(input, index, source, accumulate=False):
    return input.put(index, source, accumulate)


def masked_fill(input, mask, value):
    return input.masked_fill(mask, value)


# ---- renorm, cdist: compositions of the ops above ---------------------------------------

def renorm(input, p, dim, maxnorm):
    """input with each slice along dim whose p-norm exceeds maxnorm scaled down
    to it (by maxnorm / (norm + 1e-7), as PyTorch does)."""
    cdef _TensorBase x = tensor_arg(input, "renorm", "input", 1)
    if not p > 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if not maxnorm >= 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm:g}")
    if x.t.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {x.t.ndim} dimensions")
    cdef int64_t d = int_dim(dim, "renorm")
    d = d + x.t.ndim if d < 0 else d
    if d < 0 or d >= x.t.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-x.t.ndim}, {x.t.ndim - 1}], "
                         f"but got {dim})")
    norm = x.norm(p, [k for k in range(x.t.ndim) if k != d], keepdim=True)
    factor = where(norm > maxnorm, maxnorm / (norm + 1e-7), ones((), dtype=x.dtype))
    return x * factor


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distance between each row of x1 and each row of x2 (batched
    over leading dims, which broadcast). For p = 2 with more than 25 rows on
    either side (or when asked), through a matrix product as PyTorch does:
    sqrt(|a|^2 + |b|^2 - 2 a.b), the sum clamped at 1e-30."""
    cdef _TensorBase a = tensor_arg(x1, "cdist", "x1", 1)
    cdef _TensorBase b = tensor_arg(x2, "cdist", "x2", 2)
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    if a.t.ndim < 2 or b.t.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X{1 if a.t.ndim < 2 else 2} got: "
                           f"{a.t.ndim if a.t.ndim < 2 else b.t.ndim}D")
    for k, t in ((1, a), (2, b)):
        if not t.is_floating_point():
            raise RuntimeError(f"cdist only supports floating-point dtypes, X{k} got: {_torch_type(t)}")
    cdef int64_t ca = a.t.shape[a.t.ndim - 1], cb = b.t.shape[b.t.ndim - 1]
    if ca != cb:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {ca} X2: {cb}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected scalar type {_torch_type(a)} but found {_torch_type(b)}")
    if not p >= 0:
        raise RuntimeError("cdist only supports non-negative p values")
    rows, cols = a.t.shape[a.t.ndim - 2], b.t.shape[b.t.ndim - 2]
    if p == 2 and (compute_mode == _CDIST_MODES[1] or (compute_mode == _CDIST_MODES[0] and (rows > 25 or cols > 25))):
        an, bn = (a * a).sum(a.t.ndim - 1, keepdim=True), (b * b).sum(b.t.ndim - 1, keepdim=True)
        one = ones(tuple(an.shape), dtype=a.dtype)
        a_ = cat([a * -2.0, an, one], a.t.ndim - 1)
        b_ = cat([b, ones(tuple(bn.shape), dtype=b.dtype), bn], b.t.ndim - 1)
        return (a_ @ b_.transpose(b.t.ndim - 1, b.t.ndim - 2)).clamp_min(1e-30).sqrt()
    diff = a.unsqueeze(a.t.ndim - 1) - b.unsqueeze(b.t.ndim - 2)  # (..., rows, cols, features)
    last = diff.ndim - 1
    if p == 0:  # how many coordinates differ; the gradient is zero (a fill, not a product: inf * 0 is NaN)
        return (diff != 0).to(a.dtype).sum(last) + diff.masked_fill(ones((), dtype=bool_), 0).sum(last)
    return diff.norm(p, last)


cdef str _torch_type(_TensorBase t):
    return {CG_FLOAT32: "Float", CG_FLOAT64: "Double", CG_INT64: "Long", CG_BOOL: "Bool"}[t.t.dtype]
