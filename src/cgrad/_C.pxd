# Declarations of the C core (csrc/cgrad.h). Ownership rules are in that header.
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

cdef extern from "cgrad.h" nogil:
    enum: CG_MAX_DIMS

    ctypedef enum cg_dtype:
        CG_FLOAT32
        CG_FLOAT64
        CG_INT64
        CG_BOOL

    ctypedef enum cg_errkind:
        CG_OK
        CG_ERR_VALUE
        CG_ERR_TYPE
        CG_ERR_INDEX
        CG_ERR_RUNTIME
        CG_ERR_MEMORY
        CG_ERR_NOTIMPL
        CG_ERR_EXTERNAL
        CG_ERR_LINALG

    ctypedef struct cg_storage:
        int64_t refcount
        void *data
        int64_t nbytes
        uint64_t version

    ctypedef struct cg_node:
        pass

    ctypedef struct cg_tensor:
        int64_t refcount
        cg_storage *storage
        int64_t offset
        int64_t numel
        int ndim
        uint8_t dtype
        uint8_t requires_grad
        uint8_t retains_grad
        uint8_t is_wrapped
        uint32_t output_nr
        int64_t shape[8]
        int64_t strides[8]
        cg_tensor *grad
        cg_node *grad_fn
        cg_tensor *base
        void *pyobj

    ctypedef void (*cg_deleter)(void *data, void *ctx) noexcept nogil
    ctypedef struct cg_hook:
        pass
    ctypedef int (*cg_hook_fn)(void *ctx, cg_tensor *grad, cg_tensor **out) noexcept nogil
    ctypedef void (*cg_hook_release)(void *ctx) noexcept nogil

    ctypedef struct cg_generator:
        uint64_t s[4]
        double spare_normal
        int has_spare

    cg_errkind cg_error_kind()
    const char *cg_error_message()
    void cg_error_set(cg_errkind kind, const char *fmt, ...)
    void cg_error_clear()

    int64_t cg_dtype_size(cg_dtype dtype)
    int cg_dtype_is_floating(cg_dtype dtype)
    cg_dtype cg_get_default_dtype()
    int cg_set_default_dtype(cg_dtype dtype)

    void cg_tensor_retain(cg_tensor *t)
    void cg_tensor_release(cg_tensor *t)
    void cg_tensor_set_pyobj(cg_tensor *t, void *obj)
    void cg_tensor_release_wrapper(cg_tensor *t, void *obj, const cg_tensor *next, const cg_tensor *after)
    cg_tensor *cg_empty(const int64_t *shape, int ndim, cg_dtype dtype)
    cg_tensor *cg_zeros(const int64_t *shape, int ndim, cg_dtype dtype)
    cg_tensor *cg_ones(const int64_t *shape, int ndim, cg_dtype dtype)
    cg_tensor *cg_full(const int64_t *shape, int ndim, double value, cg_dtype dtype)
    cg_tensor *cg_from_data(const void *data, const int64_t *shape, int ndim, cg_dtype dtype)
    cg_tensor *cg_from_blob(void *data, const int64_t *shape, const int64_t *strides, int ndim,
                            cg_dtype dtype, cg_deleter deleter, void *ctx)
    cg_tensor *cg_scalar_tensor(double value, cg_dtype kind, const cg_tensor *like)
    cg_tensor *cg_scalar_cached(double value, cg_dtype kind, const cg_tensor *like)
    int cg_tensor_is_contiguous(const cg_tensor *t)
    double cg_tensor_item(const cg_tensor *t)
    void *cg_tensor_data(const cg_tensor *t)

    void cg_set_serialized(int on)
    void cg_unserialized_begin()
    void cg_unserialized_end()
    int cg_is_grad_enabled()
    void cg_set_grad_enabled(int on)
    int cg_tensor_set_requires_grad(cg_tensor *t, int on)
    cg_node *cg_tensor_grad_fn(cg_tensor *t)
    int cg_tensor_is_leaf(const cg_tensor *t)
    int cg_tensor_set_grad(cg_tensor *t, cg_tensor *g)
    int cg_tensor_retain_grad(cg_tensor *t)
    cg_tensor *cg_detach(cg_tensor *t)
    int cg_detach_(cg_tensor *t)

    void cg_node_retain(cg_node *n)
    void cg_node_release(cg_node *n)
    const char *cg_node_name(const cg_node *n)
    int cg_node_num_next(const cg_node *n)
    cg_node *cg_node_next(const cg_node *n, int i, uint32_t *input_nr)
    cg_tensor *cg_node_variable(const cg_node *n)
    uint64_t cg_node_sequence_nr(const cg_node *n)
    void *cg_node_get_user(const cg_node *n)
    void cg_node_set_user(cg_node *n, void *user)
    cg_hook *cg_tensor_register_hook(cg_tensor *t, cg_hook_fn fn, void *ctx, cg_hook_release release)
    cg_hook *cg_tensor_register_post_accumulate_hook(cg_tensor *t, cg_hook_fn fn, void *ctx,
                                                     cg_hook_release release)
    void cg_hook_remove(cg_hook *h)
    void cg_hook_handle_release(cg_hook *h)
    int64_t cg_hook_id(const cg_hook *h)

    int cg_backward(cg_tensor **roots, cg_tensor **grads, int n, int retain_graph, int create_graph)
    int cg_backward_inputs(cg_tensor **roots, cg_tensor **grads, int n, int retain_graph,
                           int create_graph, cg_tensor **inputs, int n_inputs)
    int cg_grad(cg_tensor **roots, cg_tensor **grads, int n, cg_tensor **inputs, int n_inputs,
                int retain_graph, int create_graph, int allow_unused, cg_tensor **out)
    int64_t cg_current_run_id()
    int cg_node_will_execute(const cg_node *n)

    cg_tensor *cg_add(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_add_alpha(cg_tensor *a, cg_tensor *b, cg_tensor *alpha)
    cg_tensor *cg_sub_alpha(cg_tensor *a, cg_tensor *b, cg_tensor *alpha)
    cg_tensor *cg_sub(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_rsub(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_mul(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_div(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_pow(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_pow_scalar(cg_tensor *a, double exponent)
    cg_tensor *cg_rpow_scalar(double base, cg_tensor *e)
    cg_tensor *cg_neg(cg_tensor *a)
    cg_tensor *cg_exp(cg_tensor *a)
    cg_tensor *cg_log(cg_tensor *a)
    cg_tensor *cg_tanh(cg_tensor *a)
    cg_tensor *cg_sigmoid(cg_tensor *a)
    cg_tensor *cg_relu(cg_tensor *a)
    cg_tensor *cg_to_dtype(cg_tensor *a, cg_dtype dtype)

    cg_tensor *cg_add_(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_add_alpha_(cg_tensor *a, cg_tensor *b, cg_tensor *alpha)
    cg_tensor *cg_sub_alpha_(cg_tensor *a, cg_tensor *b, cg_tensor *alpha)
    cg_tensor *cg_sub_(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_mul_(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_div_(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_zero_(cg_tensor *a)
    cg_tensor *cg_fill_(cg_tensor *a, double value)
    cg_tensor *cg_fill_tensor_(cg_tensor *a, cg_tensor *value)
    cg_tensor *cg_copy_(cg_tensor *dst, cg_tensor *src)

    # ---- element-wise math and comparisons (ops_math.c)
    cg_tensor *cg_abs(cg_tensor *a)
    cg_tensor *cg_sign(cg_tensor *a)
    cg_tensor *cg_sgn(cg_tensor *a)
    cg_tensor *cg_floor(cg_tensor *a)
    cg_tensor *cg_ceil(cg_tensor *a)
    cg_tensor *cg_round(cg_tensor *a)
    cg_tensor *cg_trunc(cg_tensor *a)
    cg_tensor *cg_frac(cg_tensor *a)
    cg_tensor *cg_exp2(cg_tensor *a)
    cg_tensor *cg_log2(cg_tensor *a)
    cg_tensor *cg_log10(cg_tensor *a)
    cg_tensor *cg_log1p(cg_tensor *a)
    cg_tensor *cg_expm1(cg_tensor *a)
    cg_tensor *cg_sqrt(cg_tensor *a)
    cg_tensor *cg_rsqrt(cg_tensor *a)
    cg_tensor *cg_sin(cg_tensor *a)
    cg_tensor *cg_cos(cg_tensor *a)
    cg_tensor *cg_tan(cg_tensor *a)
    cg_tensor *cg_sinh(cg_tensor *a)
    cg_tensor *cg_cosh(cg_tensor *a)
    cg_tensor *cg_asin(cg_tensor *a)
    cg_tensor *cg_acos(cg_tensor *a)
    cg_tensor *cg_atan(cg_tensor *a)
    cg_tensor *cg_asinh(cg_tensor *a)
    cg_tensor *cg_acosh(cg_tensor *a)
    cg_tensor *cg_atanh(cg_tensor *a)
    cg_tensor *cg_erf(cg_tensor *a)
    cg_tensor *cg_erfc(cg_tensor *a)
    cg_tensor *cg_sinc(cg_tensor *a)
    cg_tensor *cg_erfinv(cg_tensor *a)
    cg_tensor *cg_reciprocal(cg_tensor *a)
    cg_tensor *cg_lgamma(cg_tensor *a)
    cg_tensor *cg_digamma(cg_tensor *a)
    cg_tensor *cg_i0(cg_tensor *a)
    cg_tensor *cg_special_i1(cg_tensor *a)
    cg_tensor *cg_special_erfcx(cg_tensor *a)
    cg_tensor *cg_special_i0e(cg_tensor *a)
    cg_tensor *cg_special_i1e(cg_tensor *a)
    cg_tensor *cg_special_ndtri(cg_tensor *a)
    cg_tensor *cg_special_log_ndtr(cg_tensor *a)
    cg_tensor *cg_special_entr(cg_tensor *a)
    cg_tensor *cg_special_ndtr(cg_tensor *a)
    cg_tensor *cg_special_airy_ai(cg_tensor *a)
    cg_tensor *cg_special_bessel_j0(cg_tensor *a)
    cg_tensor *cg_special_bessel_j1(cg_tensor *a)
    cg_tensor *cg_special_bessel_y0(cg_tensor *a)
    cg_tensor *cg_special_bessel_y1(cg_tensor *a)
    cg_tensor *cg_special_modified_bessel_i0(cg_tensor *a)
    cg_tensor *cg_special_modified_bessel_i1(cg_tensor *a)
    cg_tensor *cg_special_modified_bessel_k0(cg_tensor *a)
    cg_tensor *cg_special_modified_bessel_k1(cg_tensor *a)
    cg_tensor *cg_special_scaled_modified_bessel_k0(cg_tensor *a)
    cg_tensor *cg_special_scaled_modified_bessel_k1(cg_tensor *a)
    cg_tensor *cg_special_spherical_bessel_j0(cg_tensor *a)
    cg_tensor *cg_special_xlog1py(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_zeta(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_chebyshev_polynomial_t(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_chebyshev_polynomial_u(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_chebyshev_polynomial_v(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_chebyshev_polynomial_w(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_shifted_chebyshev_polynomial_t(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_shifted_chebyshev_polynomial_u(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_shifted_chebyshev_polynomial_v(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_shifted_chebyshev_polynomial_w(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_hermite_polynomial_h(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_hermite_polynomial_he(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_laguerre_polynomial_l(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_special_legendre_polynomial_p(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_polygamma(int64_t n, cg_tensor *a)
    cg_tensor *cg_mvlgamma(cg_tensor *a, int64_t p)
    cg_tensor *cg_polygamma_(cg_tensor *a, int64_t n)
    cg_tensor *cg_mvlgamma_(cg_tensor *a, int64_t p)
    cg_tensor *cg_logit(cg_tensor *a, double eps)
    cg_tensor *cg_logaddexp2(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_copysign(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_fmax(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_nextafter(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_heaviside(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_bitwise_left_shift(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_bitwise_right_shift(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_fmin(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_gcd(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_lcm(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_signbit(cg_tensor *a)
    cg_tensor *cg_ldexp(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_square(cg_tensor *a)
    cg_tensor *cg_logical_not(cg_tensor *a)
    cg_tensor *cg_isnan(cg_tensor *a)
    cg_tensor *cg_isinf(cg_tensor *a)
    cg_tensor *cg_isfinite(cg_tensor *a)
    cg_tensor *cg_bitwise_not(cg_tensor *a)
    ctypedef cg_tensor *(*cg_unary_fn)(cg_tensor *a) noexcept nogil
    cg_tensor *cg_apply_(cg_tensor *a, cg_unary_fn fn)
    ctypedef cg_tensor *(*cg_binary_fn)(cg_tensor *a, cg_tensor *b) noexcept nogil
    cg_tensor *cg_apply2_(cg_tensor *a, cg_tensor *b, cg_binary_fn fn)
    cg_tensor *cg_atan2(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_fmod(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_hypot(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_logaddexp(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_xlogy(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_igamma(cg_tensor *a, cg_tensor *x)
    cg_tensor *cg_igammac(cg_tensor *a, cg_tensor *x)
    cg_tensor *cg_maximum(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_minimum(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_floor_divide(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_div_floor(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_div_trunc(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_round_decimals(cg_tensor *a, int64_t decimals)
    cg_tensor *cg_round_decimals_(cg_tensor *a, int64_t decimals)
    cg_tensor *cg_remainder(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_eq(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_ne(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_lt(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_le(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_gt(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_ge(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_logical_and(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_logical_or(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_logical_xor(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_bitwise_and(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_bitwise_or(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_bitwise_xor(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_clamp_min(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_clamp_max(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_clamp_min_(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_clamp_max_(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_lerp(cg_tensor *start, cg_tensor *end, cg_tensor *weight)
    cg_tensor *cg_addcmul(cg_tensor *input, cg_tensor *t1, cg_tensor *t2, double value)
    cg_tensor *cg_addcdiv(cg_tensor *input, cg_tensor *t1, cg_tensor *t2, double value)
    cg_tensor *cg_addcmul_(cg_tensor *input, cg_tensor *t1, cg_tensor *t2, double value)
    cg_tensor *cg_addcdiv_(cg_tensor *input, cg_tensor *t1, cg_tensor *t2, double value)
    cg_tensor *cg_deg2rad(cg_tensor *a)
    cg_tensor *cg_rad2deg(cg_tensor *a)
    cg_tensor *cg_nan_to_num(cg_tensor *x, double nan, const double *posinf, const double *neginf)
    cg_tensor *cg_nan_to_num_(cg_tensor *x, double nan, const double *posinf, const double *neginf)
    cg_tensor *cg_lerp_scalar(cg_tensor *start, cg_tensor *end, double weight)
    cg_tensor *cg_lerp_(cg_tensor *start, cg_tensor *end, cg_tensor *weight)
    cg_tensor *cg_where(cg_tensor *cond, cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_clamp(cg_tensor *a, cg_tensor *lo, cg_tensor *hi)
    cg_tensor *cg_clamp_(cg_tensor *a, cg_tensor *lo, cg_tensor *hi)

    # ---- reductions (ops_reduce.c)
    cg_tensor *cg_sum(cg_tensor *a, const int64_t *dims, int ndims, int keepdim)
    cg_tensor *cg_nansum(cg_tensor *a, const int64_t *dims, int ndims, int keepdim)
    cg_tensor *cg_mean(cg_tensor *a, const int64_t *dims, int ndims, int keepdim)
    cg_tensor *cg_sum_to(cg_tensor *a, const int64_t *shape, int ndim)
    cg_tensor *cg_prod(cg_tensor *a, const int64_t *dims, int ndims, int keepdim)
    cg_tensor *cg_var(cg_tensor *a, const int64_t *dims, int ndims, double correction, int keepdim)
    cg_tensor *cg_std(cg_tensor *a, const int64_t *dims, int ndims, double correction, int keepdim)
    cg_tensor *cg_amax(cg_tensor *a, const int64_t *dims, int ndims, int keepdim)
    cg_tensor *cg_amin(cg_tensor *a, const int64_t *dims, int ndims, int keepdim)
    cg_tensor *cg_max(cg_tensor *a)
    cg_tensor *cg_min(cg_tensor *a)
    cg_tensor *cg_max_dim(cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices)
    cg_tensor *cg_kthvalue(cg_tensor *a, int64_t k, int64_t dim, int keepdim, cg_tensor **indices)
    cg_tensor *cg_median_dim(cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices)
    cg_tensor *cg_mode(cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices)
    cg_tensor *cg_median(cg_tensor *a)
    cg_tensor *cg_min_dim(cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices)
    cg_tensor *cg_argmax(cg_tensor *a, const int64_t *dim, int keepdim)
    cg_tensor *cg_argmin(cg_tensor *a, const int64_t *dim, int keepdim)
    cg_tensor *cg_logsumexp(cg_tensor *a, const int64_t *dims, int ndims, int keepdim)
    cg_tensor *cg_norm(cg_tensor *a, double p, const int64_t *dims, int ndims, int keepdim)

    # ---- gather, scatter, masks (ops_gather.c)
    cg_tensor *cg_gather(cg_tensor *a, int64_t dim, cg_tensor *index)
    ctypedef enum cg_sorted_by:
        CG_SORTED_BY_SORT
        CG_SORTED_BY_STABLE_SORT
        CG_SORTED_BY_TOPK
    cg_tensor *cg_sorted_values(cg_tensor *a, int64_t dim, cg_tensor *index, cg_sorted_by by)
    cg_tensor *cg_scatter(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src)
    cg_tensor *cg_scatter_value(cg_tensor *a, int64_t dim, cg_tensor *index, double value)
    cg_tensor *cg_scatter_add(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src)
    cg_tensor *cg_scatter_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src)
    cg_tensor *cg_scatter_value_(cg_tensor *a, int64_t dim, cg_tensor *index, double value)
    cg_tensor *cg_scatter_add_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src)
    cg_tensor *cg_scatter_reduce_raw(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src, int op)
    cg_tensor *cg_index_select(cg_tensor *a, int64_t dim, cg_tensor *index)
    cg_tensor *cg_index_add(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src, double alpha)
    cg_tensor *cg_index_add_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src, double alpha)
    cg_tensor *cg_index_copy(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src)
    cg_tensor *cg_index_copy_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src)
    cg_tensor *cg_index_fill(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *value)
    cg_tensor *cg_index_fill_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *value)
    cg_tensor *cg_masked_scatter(cg_tensor *a, cg_tensor *mask, cg_tensor *src)
    cg_tensor *cg_masked_scatter_(cg_tensor *a, cg_tensor *mask, cg_tensor *src)
    cg_tensor *cg_put(cg_tensor *a, cg_tensor *index, cg_tensor *src, int accumulate)
    cg_tensor *cg_put_(cg_tensor *a, cg_tensor *index, cg_tensor *src, int accumulate)
    cg_tensor *cg_masked_fill(cg_tensor *a, cg_tensor *mask, cg_tensor *value)
    cg_tensor *cg_masked_fill_(cg_tensor *a, cg_tensor *mask, cg_tensor *value)

    # ---- linear algebra
    cg_tensor *cg_matmul(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_mm(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_bmm(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_mv(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_dot(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_addmm(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha)
    cg_tensor *cg_baddbmm(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha)
    cg_tensor *cg_addmm_(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha)
    cg_tensor *cg_baddbmm_(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha)
    cg_tensor *cg_addmv(cg_tensor *input, cg_tensor *mat, cg_tensor *vec, double beta, double alpha)
    cg_tensor *cg_addr(cg_tensor *input, cg_tensor *vec1, cg_tensor *vec2, double beta, double alpha)
    cg_tensor *cg_addbmm(cg_tensor *input, cg_tensor *batch1, cg_tensor *batch2, double beta, double alpha)
    cg_tensor *cg_addmv_(cg_tensor *input, cg_tensor *mat, cg_tensor *vec, double beta, double alpha)
    cg_tensor *cg_addr_(cg_tensor *input, cg_tensor *vec1, cg_tensor *vec2, double beta, double alpha)
    cg_tensor *cg_addbmm_(cg_tensor *input, cg_tensor *batch1, cg_tensor *batch2, double beta, double alpha)
    cg_tensor *cg_vdot(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_kron(cg_tensor *a, cg_tensor *b)
    cg_tensor *cg_dist(cg_tensor *a, cg_tensor *b, double p)
    cg_tensor *cg_cross(cg_tensor *a, cg_tensor *b, int64_t dim)
    cg_tensor *cg_linalg_inv(cg_tensor *a)
    cg_tensor *cg_linalg_det(cg_tensor *a)
    int cg_linalg_slogdet(cg_tensor *a, cg_tensor **sign, cg_tensor **logabsdet)
    cg_tensor *cg_linalg_pinv(cg_tensor *a, double atol, double rtol)
    int cg_linalg_cholesky_ex(cg_tensor *a, int upper, const char *check_name, cg_tensor **l, cg_tensor **info)
    cg_tensor *cg_linalg_solve_triangular(cg_tensor *a, cg_tensor *b, int upper, int left, int unitriangular)
    int cg_linalg_solve_ex(cg_tensor *a, cg_tensor *b, int left, const char *check_name, cg_tensor **x,
                           cg_tensor **info)
    int cg_linalg_lu_factor_ex(cg_tensor *a, cg_tensor **lu, cg_tensor **pivots, cg_tensor **info)
    int cg_linalg_lu(cg_tensor *a, cg_tensor **p, cg_tensor **l, cg_tensor **u)
    cg_tensor *cg_linalg_lu_solve(cg_tensor *lu, cg_tensor *pivots, cg_tensor *b, int left, int adjoint)
    int cg_linalg_ldl_factor_ex(cg_tensor *a, cg_tensor **ld, cg_tensor **pivots, cg_tensor **info)
    cg_tensor *cg_linalg_ldl_solve(cg_tensor *ld, cg_tensor *pivots, cg_tensor *b)
    int cg_linalg_eigh(cg_tensor *a, int upper, int vectors, cg_tensor **w, cg_tensor **v)
    int cg_linalg_qr(cg_tensor *a, int mode, cg_tensor **q, cg_tensor **r)
    int cg_linalg_svd(cg_tensor *a, int full_matrices, int compute_uv, cg_tensor **u, cg_tensor **s, cg_tensor **vh)
    int cg_geqrf(cg_tensor *a, cg_tensor **qr, cg_tensor **tau)

    cg_tensor *cg_reshape(cg_tensor *a, const int64_t *shape, int ndim)
    cg_tensor *cg_view(cg_tensor *a, const int64_t *shape, int ndim)
    cg_tensor *cg_transpose(cg_tensor *a, int64_t d0, int64_t d1)
    cg_tensor *cg_t(cg_tensor *a)
    cg_tensor *cg_permute(cg_tensor *a, const int64_t *dims, int ndim)
    cg_tensor *cg_unsqueeze(cg_tensor *a, int64_t dim)
    cg_tensor *cg_squeeze(cg_tensor *a, const int64_t *dims, int ndims)
    cg_tensor *cg_expand(cg_tensor *a, const int64_t *shape, int ndim)
    cg_tensor *cg_contiguous(cg_tensor *a)
    cg_tensor *cg_alias_view(cg_tensor *a)
    cg_tensor *cg_clone(cg_tensor *a)
    cg_tensor *cg_conj_physical_(cg_tensor *a)
    cg_tensor *cg_copy_as(cg_tensor *v, const char *name)
    cg_tensor *cg_view_copy(cg_tensor *a, const int64_t *shape, int ndim)
    cg_tensor *cg_transpose_(cg_tensor *a, int64_t d0, int64_t d1)
    cg_tensor *cg_t_(cg_tensor *a)
    cg_tensor *cg_unsqueeze_(cg_tensor *a, int64_t dim)
    cg_tensor *cg_squeeze_(cg_tensor *a, const int64_t *dims, int ndims)

    # ---- indexing and joining (ops_index.c)
    cg_tensor *cg_select(cg_tensor *a, int64_t dim, int64_t index)
    cg_tensor *cg_slice(cg_tensor *a, int64_t dim, int64_t start, int64_t stop, int64_t step)
    cg_tensor *cg_narrow(cg_tensor *a, int64_t dim, int64_t start, int64_t length)
    int cg_split_with_sizes(cg_tensor *a, const int64_t *sizes, int n, int64_t dim, int equal_split,
                            cg_tensor **out)
    int cg_unbind(cg_tensor *a, int64_t dim, cg_tensor **out)
    cg_tensor *cg_cat(cg_tensor **ts, int n, int64_t dim)
    cg_tensor *cg_stack(cg_tensor **ts, int n, int64_t dim)
    cg_tensor *cg_flip(cg_tensor *a, const int64_t *dims, int ndims)
    cg_tensor *cg_roll(cg_tensor *a, const int64_t *shifts, const int64_t *dims, int n)
    cg_tensor *cg_repeat(cg_tensor *a, const int64_t *sizes, int n)
    cg_tensor *cg_index(cg_tensor *a, cg_tensor **indices, int n)
    cg_tensor *cg_index_put(cg_tensor *a, cg_tensor **indices, int n, cg_tensor *values, int accumulate)
    cg_tensor *cg_index_put_(cg_tensor *a, cg_tensor **indices, int n, cg_tensor *values, int accumulate)
    cg_tensor *cg_nonzero(cg_tensor *a)
    cg_tensor *cg_diagonal(cg_tensor *a, int64_t offset, int64_t dim1, int64_t dim2)
    cg_tensor *cg_unfold(cg_tensor *a, int64_t dimension, int64_t size, int64_t step)
    cg_tensor *cg_trace(cg_tensor *a)
    cg_tensor *cg_triangle(cg_tensor *a, int64_t diagonal, int lower)
    cg_tensor *cg_triangle_(cg_tensor *a, int64_t diagonal, int lower)
    cg_tensor *cg_diag_embed(cg_tensor *a, int64_t offset, int64_t dim1, int64_t dim2)
    cg_tensor *cg_diagonal_scatter(cg_tensor *a, cg_tensor *src, int64_t offset, int64_t dim1, int64_t dim2)
    cg_tensor *cg_select_scatter(cg_tensor *a, cg_tensor *src, int64_t dim, int64_t index)
    cg_tensor *cg_slice_scatter(cg_tensor *a, cg_tensor *src, int64_t dim, int64_t start, int64_t stop, int64_t step)
    cg_tensor *cg_rot90(cg_tensor *a, int64_t k, const int64_t *dims, int ndims)
    cg_tensor *cg_aminmax(cg_tensor *a, const int64_t *dims, int ndims, int keepdim, cg_tensor **max)

    # ---- layouts of the caller's choosing (ops_strided.c)
    cg_tensor *cg_as_strided_storage(cg_tensor *a, const int64_t *shape, const int64_t *strides, int ndim,
                                     int64_t offset)
    cg_tensor *cg_as_strided_storage_(cg_tensor *a, const int64_t *shape, const int64_t *strides, int ndim,
                                      int64_t offset)
    cg_tensor *cg_as_strided_scatter_storage(cg_tensor *a, cg_tensor *src, const int64_t *shape,
                                             const int64_t *strides, int ndim, int64_t offset)
    cg_tensor *cg_empty_strided(const int64_t *shape, const int64_t *strides, int ndim, cg_dtype dtype)
    int cg_tensor_set_storage(cg_tensor *t, cg_storage *s, const int64_t *shape, const int64_t *strides, int ndim,
                              int64_t offset, cg_tensor *source)
    int cg_storage_share_memory(cg_storage *s)
    void cg_storage_retain(cg_storage *s)
    void cg_storage_release(cg_storage *s)
    int cg_storage_is_shared(const cg_storage *s)
    void cg_storage_free_old_bytes(cg_storage *s)

    # ---- memory formats (memory_format.c)
    ctypedef enum cg_memory_format:
        CG_CONTIGUOUS_FORMAT
        CG_PRESERVE_FORMAT
        CG_CHANNELS_LAST
        CG_CHANNELS_LAST_3D
    int cg_is_contiguous_as(const cg_tensor *t, cg_memory_format f)
    void cg_dim_order(const cg_tensor *t, int64_t *order)
    int cg_format_strides(const int64_t *shape, int ndim, cg_memory_format f, const cg_tensor *like,
                          int64_t *strides)
    cg_tensor *cg_empty_format(const int64_t *shape, int ndim, cg_dtype dtype, cg_memory_format f)
    cg_tensor *cg_empty_like_format(const cg_tensor *t, cg_dtype dtype, cg_memory_format f)
    cg_tensor *cg_clone_format(cg_tensor *a, cg_memory_format f)
    cg_tensor *cg_contiguous_format(cg_tensor *a, cg_memory_format f)
    cg_tensor *cg_to_dtype_format(cg_tensor *a, cg_dtype dtype, cg_memory_format f)

    # ---- neural-network kernels (ops_nn.c)
    cg_tensor *cg_linear(cg_tensor *x, cg_tensor *w, cg_tensor *b)
    cg_tensor *cg_softmax(cg_tensor *x, int64_t dim)
    cg_tensor *cg_log_softmax(cg_tensor *x, int64_t dim)
    cg_tensor *cg_cumsum(cg_tensor *x, int64_t dim)
    cg_tensor *cg_cumprod(cg_tensor *x, int64_t dim)
    cg_tensor *cg_cumsum_(cg_tensor *x, int64_t dim, cg_dtype dtype)
    cg_tensor *cg_cumprod_(cg_tensor *x, int64_t dim, cg_dtype dtype)
    cg_tensor *cg_logcumsumexp(cg_tensor *x, int64_t dim)
    cg_tensor *cg_cummax(cg_tensor *x, int64_t dim, cg_tensor **indices)
    cg_tensor *cg_cummin(cg_tensor *x, int64_t dim, cg_tensor **indices)
    cg_tensor *cg_sort_indices(cg_tensor *x, int64_t dim, int descending)
    cg_tensor *cg_nll_loss(cg_tensor *x, cg_tensor *target, cg_tensor *weight, int reduction, int64_t ignore_index)
    cg_tensor *cg_cross_entropy(cg_tensor *x, cg_tensor *target, cg_tensor *weight, int reduction,
                                int64_t ignore_index)
    cg_tensor *cg_layer_norm(cg_tensor *x, const int64_t *normalized_shape, int k, cg_tensor *weight,
                             cg_tensor *bias, double eps)
    cg_tensor *cg_gelu(cg_tensor *x, int approximate_tanh)
    cg_tensor *cg_leaky_relu(cg_tensor *x, double negative_slope)
    cg_tensor *cg_silu(cg_tensor *x)
    cg_tensor *cg_elu(cg_tensor *x, double alpha, double scale, double input_scale)
    cg_tensor *cg_celu(cg_tensor *x, double alpha)
    cg_tensor *cg_elu_(cg_tensor *x, double alpha, double scale, double input_scale)
    cg_tensor *cg_celu_(cg_tensor *x, double alpha)
    cg_tensor *cg_softplus(cg_tensor *x, double beta, double threshold)
    cg_tensor *cg_hardtanh(cg_tensor *x, double min_val, double max_val)
    cg_tensor *cg_hardsigmoid(cg_tensor *x)
    cg_tensor *cg_hardswish(cg_tensor *x)
    cg_tensor *cg_mish(cg_tensor *x)
    cg_tensor *cg_glu(cg_tensor *x, int64_t dim)
    cg_tensor *cg_silu_(cg_tensor *x)
    cg_tensor *cg_hardtanh_(cg_tensor *x, double min_val, double max_val)
    cg_tensor *cg_hardsigmoid_(cg_tensor *x)
    cg_tensor *cg_hardswish_(cg_tensor *x)
    cg_tensor *cg_mish_(cg_tensor *x)
    cg_tensor *cg_mse_loss(cg_tensor *x, cg_tensor *y, int reduction)
    cg_tensor *cg_huber_loss(cg_tensor *x, cg_tensor *y, int reduction, double delta)
    cg_tensor *cg_binary_cross_entropy(cg_tensor *x, cg_tensor *y, cg_tensor *weight, int reduction)
    cg_tensor *cg_binary_cross_entropy_with_logits(cg_tensor *x, cg_tensor *y, cg_tensor *weight,
                                                   cg_tensor *pos_weight, int reduction)
    cg_tensor *cg_embedding(cg_tensor *weight, cg_tensor *indices, int64_t padding_idx)
    cg_tensor *cg_dropout(cg_tensor *x, double p, cg_generator *g)
    cg_tensor *cg_one_hot(cg_tensor *indices, int64_t num_classes)
    int cg_tensor_set_data(cg_tensor *t, cg_tensor *src)
    void cg_set_num_threads(int n)
    int cg_get_num_threads()

    # ---- pooling (ops_pool.c)
    cg_tensor *cg_max_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                             const int64_t *dilation, int ceil_mode, cg_tensor **indices)
    cg_tensor *cg_avg_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                             int ceil_mode, int count_include_pad, const int64_t *divisor_override)
    cg_tensor *cg_adaptive_avg_pool2d(cg_tensor *x, const int64_t *output_size)
    cg_tensor *cg_adaptive_max_pool2d(cg_tensor *x, const int64_t *output_size, cg_tensor **indices)
    cg_tensor *cg_max_pool1d(cg_tensor *x, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation,
                             int ceil_mode, cg_tensor **indices)
    cg_tensor *cg_avg_pool1d(cg_tensor *x, int64_t kernel, int64_t stride, int64_t padding, int ceil_mode,
                             int count_include_pad)
    cg_tensor *cg_adaptive_avg_pool1d(cg_tensor *x, int64_t output_size)
    cg_tensor *cg_adaptive_max_pool1d(cg_tensor *x, int64_t output_size, cg_tensor **indices)
    cg_tensor *cg_max_pool3d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                             const int64_t *dilation, int ceil_mode, cg_tensor **indices)
    cg_tensor *cg_avg_pool3d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                             int ceil_mode, int count_include_pad, const int64_t *divisor_override)
    cg_tensor *cg_adaptive_avg_pool3d(cg_tensor *x, const int64_t *output_size)
    cg_tensor *cg_adaptive_max_pool3d(cg_tensor *x, const int64_t *output_size, cg_tensor **indices)
    cg_tensor *cg_max_unpool2d(cg_tensor *x, cg_tensor *indices, const int64_t *output_size)
    cg_tensor *cg_max_unpool3d(cg_tensor *x, cg_tensor *indices, const int64_t *output_size, const int64_t *stride,
                               const int64_t *padding)
    cg_tensor *cg_fractional_max_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *output_size,
                                        cg_tensor *samples, cg_tensor **indices)
    cg_tensor *cg_fractional_max_pool3d(cg_tensor *x, const int64_t *kernel, const int64_t *output_size,
                                        cg_tensor *samples, cg_tensor **indices)

    # ---- convolutions (ops_conv.c)
    cg_tensor *cg_convolution(cg_tensor *x, cg_tensor *w, cg_tensor *b, const int64_t *stride,
                              const int64_t *padding, const int64_t *dilation, int64_t groups, int same)
    cg_tensor *cg_conv_transpose(cg_tensor *x, cg_tensor *w, cg_tensor *b, const int64_t *stride,
                                 const int64_t *padding, const int64_t *output_padding, const int64_t *dilation,
                                 int64_t groups)
    cg_tensor *cg_im2col(cg_tensor *x, const int64_t *kernel, const int64_t *dilation, const int64_t *padding,
                         const int64_t *stride)
    cg_tensor *cg_col2im(cg_tensor *cols, const int64_t *output_size, const int64_t *kernel,
                         const int64_t *dilation, const int64_t *padding, const int64_t *stride)

    # ---- embedding bags, CTC loss, grid sampling (ops_bag.c, ops_ctc.c, ops_grid.c)
    cg_tensor *cg_embedding_bag(cg_tensor *weight, cg_tensor *indices, cg_tensor *bounds,
                                cg_tensor *per_sample_weights, int mode, int64_t padding_idx, int scale_grad_by_freq)
    cg_tensor *cg_ctc_loss(cg_tensor *log_probs, cg_tensor *targets, cg_tensor *target_starts,
                           cg_tensor *input_lengths, cg_tensor *target_lengths, int64_t blank, int zero_infinity)
    cg_tensor *cg_grid_sampler(cg_tensor *input, cg_tensor *grid, int64_t mode, int64_t padding_mode,
                               int align_corners)

    # ---- optimizer steps (optim.c)
    int cg_sgd_step(cg_tensor **params, cg_tensor **bufs, int n, double lr, double momentum, double dampening,
                    double weight_decay, int nesterov, int maximize)
    int cg_adam_step(cg_tensor **params, cg_tensor **steps, cg_tensor **exp_avgs, cg_tensor **exp_avg_sqs,
                     cg_tensor **max_exp_avg_sqs, int n, double lr, double beta1, double beta2, double eps,
                     double weight_decay, int amsgrad, int maximize, int decoupled_weight_decay)
    int cg_rmsprop_step(cg_tensor **params, cg_tensor **steps, cg_tensor **square_avgs, cg_tensor **grad_avgs,
                        cg_tensor **momentum_buffers, int n, double lr, double alpha, double eps,
                        double weight_decay, double momentum, int centered, int maximize)
    int cg_adagrad_step(cg_tensor **params, cg_tensor **steps, cg_tensor **sums, int n, double lr,
                        double lr_decay, double weight_decay, double eps, int maximize)
    int cg_adamax_step(cg_tensor **params, cg_tensor **steps, cg_tensor **exp_avgs, cg_tensor **exp_infs, int n,
                       double lr, double beta1, double beta2, double eps, double weight_decay, int maximize)
    int cg_nadam_step(cg_tensor **params, cg_tensor **steps, cg_tensor **mu_products, cg_tensor **exp_avgs,
                      cg_tensor **exp_avg_sqs, int n, double lr, double beta1, double beta2, double eps,
                      double weight_decay, double momentum_decay, int decoupled_weight_decay, int maximize)
    int cg_radam_step(cg_tensor **params, cg_tensor **steps, cg_tensor **exp_avgs, cg_tensor **exp_avg_sqs, int n,
                      double lr, double beta1, double beta2, double eps, double weight_decay,
                      int decoupled_weight_decay, int maximize)
    int cg_adadelta_step(cg_tensor **params, cg_tensor **steps, cg_tensor **square_avgs, cg_tensor **acc_deltas,
                         int n, double lr, double rho, double eps, double weight_decay, int maximize)
    int cg_rprop_step(cg_tensor **params, cg_tensor **steps, cg_tensor **prevs, cg_tensor **step_sizes, int n,
                      double etaminus, double etaplus, double step_size_min, double step_size_max, int maximize)
    int cg_asgd_step(cg_tensor **params, cg_tensor **steps, cg_tensor **etas, cg_tensor **mus, cg_tensor **axs,
                     int n, double lr, double lambd, double alpha, double t0, double weight_decay, int maximize)
    cg_tensor *cg_clip_grad_norm_(cg_tensor **params, int n, double max_norm, double norm_type,
                                  int error_if_nonfinite)
    int cg_clip_grad_value_(cg_tensor **params, int n, double clip_value)
    int cg_zero_grad(cg_tensor **params, int n, int set_to_none)

    # ---- compiled steps (compile.c)
    ctypedef struct cg_tape:
        pass
    cg_tape *cg_tape_new()
    void cg_tape_free(cg_tape *tp)
    int cg_tape_begin(cg_tape *tp, cg_tensor **inputs, int n)
    int cg_tape_end(cg_tape *tp)
    int cg_is_recording()
    void cg_tape_break(const char *fmt, ...)
    int cg_tape_read(const cg_tensor *t, const char *what)
    void cg_tape_note_grad(cg_tensor *t)
    void cg_tape_keep(void *obj, void (*release)(void *obj) noexcept nogil)
    const char *cg_tape_cause(const cg_tape *tp)
    int cg_tape_set_outputs(cg_tape *tp, cg_tensor **outputs, int n)
    int cg_tape_wrote(const cg_tape *tp, const cg_tensor *t)
    int cg_tape_touched(const cg_tape *tp, const cg_tensor *t)
    int64_t cg_tape_size(const cg_tape *tp)
    void cg_tape_memory(const cg_tape *tp, int64_t *alone, int64_t *shared)
    int64_t cg_tape_work(const cg_tape *tp)
    const char *cg_tape_entry(const cg_tape *tp, int64_t i, int64_t *tensors)
    void cg_tape_drop_history(cg_tape *tp)
    const char *cg_tape_compare(const cg_tape *a, const cg_tape *b, char *buf, size_t size)
    int cg_tape_replay(cg_tape *tp, cg_tensor **args, int n, cg_tensor **outs)
    int cg_tape_refresh_begin(cg_tape *tp)
    int cg_tape_refresh_end(cg_tape *tp)
    int cg_tape_refreshing()

    # ---- custom functions and anomaly mode (custom.c)
    ctypedef int (*cg_function_backward)(void *ctx, cg_node *n, cg_tensor **gout, int n_out,
                                         cg_tensor **gin, int n_in) noexcept nogil
    ctypedef void (*cg_ctx_release)(void *ctx) noexcept nogil
    cg_node *cg_function_node_new(const char *name, cg_tensor **inputs, int n_inputs, int n_outputs,
                                  cg_function_backward fn, void *ctx, cg_ctx_release release)
    int cg_visit_owned_contexts(cg_tensor *root, cg_hook_release hook_release, cg_ctx_release fn_release,
                                int (*visit)(void *ctx, void *arg) noexcept nogil, void *arg)
    void *cg_function_ctx(const cg_node *n)
    int cg_function_set_output(cg_node *n, cg_tensor *t, uint32_t k)
    int cg_function_save(cg_node *n, cg_tensor **tensors, int count)
    int cg_function_num_saved(const cg_node *n)
    int cg_function_unpack(cg_node *n, int i, cg_tensor **out)
    int cg_node_needs_input_grad(const cg_node *n, int i)
    ctypedef int (*cg_node_hook_fn)(void *ctx, cg_node *n, cg_tensor **grads, int n_grads,
                                    cg_tensor **other, int n_other) noexcept nogil
    cg_hook *cg_node_register_hook(cg_node *n, int post, cg_node_hook_fn fn, void *ctx,
                                   cg_hook_release release)
    int cg_node_num_saved(const cg_node *n)
    cg_tensor *cg_node_saved(const cg_node *n, int i)
    ctypedef cg_tensor *(*cg_saved_unpack_fn)(void *obj) noexcept nogil
    int cg_saved_hooks_threads
    void cg_saved_hooks_callbacks(cg_saved_unpack_fn unpack, void (*release)(void *obj) noexcept nogil)
    void cg_saved_hooks_on(int on)
    int cg_saved_hooks_pending()
    int cg_saved_hooks_next(cg_node **n, int *slot)
    cg_tensor *cg_saved_hooks_target(cg_node *n, int slot)
    int cg_saved_set_packed(cg_node *n, int slot, void *obj)
    int cg_node_input_meta(const cg_node *n, int i, int64_t *shape, int *ndim, cg_dtype *dtype)
    ctypedef void *(*cg_anomaly_capture)(void *parent, const char *parent_name) noexcept nogil
    ctypedef void (*cg_anomaly_release)(void *record) noexcept nogil
    ctypedef void (*cg_anomaly_report)(void *record, const char *node_name) noexcept nogil
    void cg_set_anomaly_callbacks(cg_anomaly_capture capture, cg_anomaly_release release,
                                  cg_anomaly_report report)
    void cg_set_anomaly_enabled(int on, int check_nan)
    int cg_is_anomaly_enabled()
    int cg_is_anomaly_check_nan_enabled()
    void *cg_node_anomaly(const cg_node *n)
    int cg_tensor_has_nan(const cg_tensor *t)

    # ---- random numbers
    void cg_generator_seed(cg_generator *g, uint64_t seed)
    int cg_generator_manual_seed(cg_generator *g, uint64_t seed)
    int cg_generator_set_state(cg_generator *g, const uint64_t *s, int has_spare, double spare_normal)
    cg_generator *cg_default_generator()
    cg_tensor *cg_rand(const int64_t *shape, int ndim, cg_dtype dtype, cg_generator *g)
    cg_tensor *cg_randn(const int64_t *shape, int ndim, cg_dtype dtype, cg_generator *g)
    cg_tensor *cg_normal_(cg_tensor *t, double mean, double std, cg_generator *g)
    cg_tensor *cg_uniform_(cg_tensor *t, double low, double high, cg_generator *g)
    cg_tensor *cg_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, cg_dtype dtype,
                          cg_generator *g)
    cg_tensor *cg_randperm(int64_t n, cg_dtype dtype, cg_generator *g)
    cg_tensor *cg_bernoulli(cg_tensor *p, cg_generator *g)
    cg_tensor *cg_bernoulli_p(cg_tensor *a, double p, cg_generator *g)
    cg_tensor *cg_bernoulli_(cg_tensor *a, cg_tensor *p, double pv, cg_generator *g)
    cg_tensor *cg_poisson(cg_tensor *rates, cg_generator *g)
    cg_tensor *cg_binomial(cg_tensor *count, cg_tensor *prob, cg_generator *g)
    cg_tensor *cg_multinomial(cg_tensor *p, int64_t n, int replacement, cg_generator *g)
    int cg_unique(cg_tensor *a, int has_dim, int64_t dim, cg_tensor **values, cg_tensor **inverse,
                  cg_tensor **counts)
    int cg_unique_consecutive_history(cg_tensor *values, cg_tensor *a)
    cg_tensor *cg_arange(double start, double end, double step, cg_dtype dtype)
    cg_tensor *cg_linspace(double start, double end, int64_t steps, cg_dtype dtype)
    cg_tensor *cg_eye(int64_t n, int64_t m, cg_dtype dtype)
