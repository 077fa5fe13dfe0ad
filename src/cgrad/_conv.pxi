# Convolutions and sliding blocks: the C calls behind cgrad.nn.functional's
# conv1d-3d, conv_transpose1d-3d, unfold and fold, which turn their arguments into one entry
# per spatial dim first. Included by _C.pyx.


cdef int conv_ints(object values, int64_t *out, int n) except -1:
    if len(values) != n:
        raise RuntimeError(f"expected {n} values, got {len(values)}")
    for i in range(n):
        out[i] = values[i]
    return 0


def _convolution(input, weight, bias, stride, padding, dilation, int64_t groups, bint same):
    cdef int64_t s[3]
    cdef int64_t p[3]
    cdef int64_t d[3]
    cdef _TensorBase w = nn_required(weight, "weight")
    cdef int n = len(stride)
    if n > 3 or weight.dim() > 5:
        raise NotImplementedError(f"cgrad convolves over 1, 2 or 3 spatial dims, got a {weight.dim()}-dimensional "
                                  f"weight")
    conv_ints(stride, s, n)
    conv_ints(padding, p, n)
    conv_ints(dilation, d, n)
    return wrap(cg_convolution(nn_required(input, "input").t, w.t, nn_optional(bias, "bias"), s, p, d, groups, same))


def _conv_transpose(input, weight, bias, stride, padding, output_padding, dilation, int64_t groups):
    cdef int64_t s[3]
    cdef int64_t p[3]
    cdef int64_t op[3]
    cdef int64_t d[3]
    cdef _TensorBase w = nn_required(weight, "weight")
    cdef int n = len(stride)
    if n > 3 or weight.dim() > 5:
        raise NotImplementedError(f"cgrad convolves over 1, 2 or 3 spatial dims, got a {weight.dim()}-dimensional "
                                  f"weight")
    conv_ints(stride, s, n)
    conv_ints(padding, p, n)
    conv_ints(output_padding, op, n)
    conv_ints(dilation, d, n)
    return wrap(cg_conv_transpose(nn_required(input, "input").t, w.t, nn_optional(bias, "bias"), s, p, op, d, groups))


def _im2col(input, kernel_size, dilation, padding, stride):
    cdef int64_t k[2]
    cdef int64_t d[2]
    cdef int64_t p[2]
    cdef int64_t s[2]
    conv_ints(kernel_size, k, 2)
    conv_ints(dilation, d, 2)
    conv_ints(padding, p, 2)
    conv_ints(stride, s, 2)
    return wrap(cg_im2col(nn_required(input, "input").t, k, d, p, s))


def _col2im(input, output_size, kernel_size, dilation, padding, stride):
    cdef int64_t o[2]
    cdef int64_t k[2]
    cdef int64_t d[2]
    cdef int64_t p[2]
    cdef int64_t s[2]
    conv_ints(output_size, o, 2)
    conv_ints(kernel_size, k, 2)
    conv_ints(dilation, d, 2)
    conv_ints(padding, p, 2)
    conv_ints(stride, s, 2)
    return wrap(cg_col2im(nn_required(input, "input").t, o, k, d, p, s))
