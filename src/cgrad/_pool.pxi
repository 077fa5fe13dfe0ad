# Pooling (csrc/ops_pool.c). Included by _C.pyx. These are the C calls behind
# cgrad.nn.functional's pooling functions, which parse PyTorch's arguments:
# the 2-d ones arrive here as (height, width) pairs of ints.


cdef _TensorBase pool_input(object x, str fn):
    if not isinstance(x, _TensorBase):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
    return <_TensorBase>x


cdef inline void pool_pair(tuple v, int64_t *out):
    out[0] = v[0]
    out[1] = v[1]


cdef object values_indices(cg_tensor *r, cg_tensor *idx, bint return_indices):
    """(values, indices) when asked, else values; the references of r and idx are stolen."""
    if r == NULL:
        raise_error()
    if not return_indices:
        cg_tensor_release(idx)
        return wrap(r)
    return wrap(r), wrap(idx)


def _max_pool2d(input, tuple kernel_size, tuple stride, tuple padding, tuple dilation, bint ceil_mode,
                bint return_indices):
    cdef int64_t k[2]
    cdef int64_t s[2]
    cdef int64_t p[2]
    cdef int64_t d[2]
    pool_pair(kernel_size, k)
    pool_pair(stride, s)
    pool_pair(padding, p)
    pool_pair(dilation, d)
    cdef cg_tensor *idx = NULL
    cdef cg_tensor *r = cg_max_pool2d(pool_input(input, "max_pool2d").t, k, s, p, d, ceil_mode, &idx)
    return values_indices(r, idx, return_indices)


def _avg_pool2d(input, tuple kernel_size, tuple stride, tuple padding, bint ceil_mode, bint count_include_pad,
                divisor_override):
    cdef int64_t k[2]
    cdef int64_t s[2]
    cdef int64_t p[2]
    cdef int64_t divisor = 0 if divisor_override is None else divisor_override
    pool_pair(kernel_size, k)
    pool_pair(stride, s)
    pool_pair(padding, p)
    return wrap(cg_avg_pool2d(pool_input(input, "avg_pool2d").t, k, s, p, ceil_mode, count_include_pad,
                              NULL if divisor_override is None else &divisor))


def _adaptive_avg_pool2d(input, tuple output_size):
    cdef int64_t o[2]
    pool_pair(output_size, o)
    return wrap(cg_adaptive_avg_pool2d(pool_input(input, "adaptive_avg_pool2d").t, o))


def _adaptive_max_pool2d(input, tuple output_size, bint return_indices):
    cdef int64_t o[2]
    pool_pair(output_size, o)
    cdef cg_tensor *idx = NULL
    cdef cg_tensor *r = cg_adaptive_max_pool2d(pool_input(input, "adaptive_max_pool2d").t, o, &idx)
    return values_indices(r, idx, return_indices)


def _max_pool1d(input, int64_t kernel_size, int64_t stride, int64_t padding, int64_t dilation, bint ceil_mode,
                bint return_indices):
    cdef cg_tensor *idx = NULL
    cdef cg_tensor *x = pool_input(input, "max_pool1d").t
    cdef cg_tensor *r = cg_max_pool1d(x, kernel_size, stride, padding, dilation, ceil_mode,
                                      &idx if return_indices else NULL)
    return values_indices(r, idx, return_indices)


def _avg_pool1d(input, int64_t kernel_size, int64_t stride, int64_t padding, bint ceil_mode, bint count_include_pad):
    return wrap(cg_avg_pool1d(pool_input(input, "avg_pool1d").t, kernel_size, stride, padding, ceil_mode,
                              count_include_pad))


def _adaptive_avg_pool1d(input, int64_t output_size):
    return wrap(cg_adaptive_avg_pool1d(pool_input(input, "adaptive_avg_pool1d").t, output_size))


def _adaptive_max_pool1d(input, int64_t output_size, bint return_indices):
    cdef cg_tensor *idx = NULL
    cdef cg_tensor *r = cg_adaptive_max_pool1d(pool_input(input, "adaptive_max_pool1d").t, output_size, &idx)
    return values_indices(r, idx, return_indices)


cdef inline void pool_triple(tuple v, int64_t *out):
    out[0] = v[0]
    out[1] = v[1]
    out[2] = v[2]


def _max_pool3d(input, tuple kernel_size, tuple stride, tuple padding, tuple dilation, bint ceil_mode,
                bint return_indices):
    cdef int64_t k[3]
    cdef int64_t s[3]
    cdef int64_t p[3]
    cdef int64_t d[3]
    pool_triple(kernel_size, k)
    pool_triple(stride, s)
    pool_triple(padding, p)
    pool_triple(dilation, d)
    cdef cg_tensor *idx = NULL
    cdef cg_tensor *r = cg_max_pool3d(pool_input(input, "max_pool3d").t, k, s, p, d, ceil_mode, &idx)
    return values_indices(r, idx, return_indices)


def _avg_pool3d(input, tuple kernel_size, tuple stride, tuple padding, bint ceil_mode, bint count_include_pad,
                divisor_override):
    cdef int64_t k[3]
    cdef int64_t s[3]
    cdef int64_t p[3]
    cdef int64_t divisor = 0 if divisor_override is None else divisor_override
    pool_triple(kernel_size, k)
    pool_triple(stride, s)
    pool_triple(padding, p)
    return wrap(cg_avg_pool3d(pool_input(input, "avg_pool3d").t, k, s, p, ceil_mode, count_include_pad,
                              NULL if divisor_override is None else &divisor))


def _adaptive_avg_pool3d(input, tuple output_size):
    cdef int64_t o[3]
    pool_triple(output_size, o)
    return wrap(cg_adaptive_avg_pool3d(pool_input(input, "adaptive_avg_pool3d").t, o))


def _adaptive_max_pool3d(input, tuple output_size, bint return_indices):
    cdef int64_t o[3]
    pool_triple(output_size, o)
    cdef cg_tensor *idx = NULL
    cdef cg_tensor *r = cg_adaptive_max_pool3d(pool_input(input, "adaptive_max_pool3d").t, o, &idx)
    return values_indices(r, idx, return_indices)


def _max_unpool2d(input, indices, tuple output_size):
    cdef int64_t o[2]
    pool_pair(output_size, o)
    cdef cg_tensor *x = pool_input(input, "max_unpool2d").t
    if not isinstance(indices, _TensorBase):
        raise TypeError(f"max_unpool2d(): argument 'indices' (position 2) must be Tensor, not {type(indices).__name__}")
    return wrap(cg_max_unpool2d(x, (<_TensorBase>indices).t, o))


def _max_unpool3d(input, indices, tuple output_size, tuple stride, tuple padding):
    cdef int64_t o[3]
    cdef int64_t s[3]
    cdef int64_t p[3]
    pool_triple(output_size, o)
    pool_triple(stride, s)
    pool_triple(padding, p)
    cdef cg_tensor *x = pool_input(input, "max_unpool3d").t
    if not isinstance(indices, _TensorBase):
        raise TypeError(f"max_unpool3d(): argument 'indices' (position 2) must be Tensor, not {type(indices).__name__}")
    return wrap(cg_max_unpool3d(x, (<_TensorBase>indices).t, o, s, p))


def _fractional_max_pool(input, tuple kernel_size, tuple output_size, samples, bint return_indices):
    """fractional_max_pool2d or 3d, by the length of kernel_size and output_size (both 2 or both 3)."""
    cdef int64_t k[3]
    cdef int64_t o[3]
    cdef int n = len(kernel_size)
    cdef str fname = f"fractional_max_pool{n}d"
    for j in range(n):
        k[j] = kernel_size[j]
        o[j] = output_size[j]
    cdef cg_tensor *x = pool_input(input, fname).t
    if not isinstance(samples, _TensorBase):
        raise TypeError(f"{fname}(): argument 'random_samples' (position 4) must be Tensor, not "
                        f"{type(samples).__name__}")
    cdef cg_tensor *idx = NULL
    cdef cg_tensor *r
    if n == 2:
        r = cg_fractional_max_pool2d(x, k, o, (<_TensorBase>samples).t, &idx)
    else:
        r = cg_fractional_max_pool3d(x, k, o, (<_TensorBase>samples).t, &idx)
    return values_indices(r, idx, return_indices)
