/* ops_reduce.c -- reductions over dimensions: forward and backward. */
#include "internal.h"

/* ---- planning ------------------------------------------------------------------ */

/* Bit d of the result: dimension d is reduced. No dims: all of them. */
static int reduce_mask(const cg_tensor *a, const int64_t *dims, int ndims, uint32_t *mask) {
    *mask = 0;
    if (!dims || ndims == 0) {
        *mask = a->ndim ? (1u << a->ndim) - 1 : 0;
        return 0;
    }
    for (int k = 0; k < ndims; k++) {
        int64_t d;
        if (cg_wrap_dim(dims[k], a->ndim, &d)) return -1;
        if (a->ndim == 0) continue; /* dim 0 / -1 of a 0-d tensor is itself */
        if (*mask & (1u << d)) {
            cg_error_set(CG_ERR_RUNTIME, "dim %lld appears multiple times in the list of dims", (long long)d);
            return -1;
        }
        *mask |= 1u << d;
    }
    return 0;
}

/* Output shape of a reduction, with or without the reduced dims. */
static int reduced_shape(const cg_tensor *a, uint32_t mask, bool keepdim, int64_t *shape) {
    int nd = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (!(mask & (1u << d)))
            shape[nd++] = a->shape[d];
        else if (keepdim)
            shape[nd++] = 1;
    }
    return nd;
}

/* ---- sum kernels ----------------------------------------------------------------- */

/* Pairwise summation of n elements at stride s: error grows with log n. */
#define PAIRWISE(NAME, T)                                                                    \
    static T NAME(const T *x, int64_t n, int64_t s) {                                        \
        if (n <= 64) {                                                                       \
            T acc[8] = {0};                                                                  \
            int64_t i = 0;                                                                   \
            for (; i + 8 <= n; i += 8)                                                       \
                for (int k = 0; k < 8; k++) acc[k] += x[(i + k) * s];                        \
            T r = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])); \
            for (; i < n; i++) r += x[i * s];                                                \
            return r;                                                                        \
        }                                                                                    \
        int64_t half = (n / 2 + 7) & ~(int64_t)7;                                            \
        return NAME(x, half, s) + NAME(x + half * s, n - half, s);                           \
    }
PAIRWISE(pairwise_f32, float)
PAIRWISE(pairwise_f64, double)
static int64_t pairwise_i64(const int64_t *x, int64_t n, int64_t s) {
    int64_t r = 0;
    for (int64_t i = 0; i < n; i++) r += x[i * s];
    return r;
}

/* out (stride 0 along reduced dims) += x: a row-sum when the inner dim is
 * reduced, a vector accumulation otherwise. */
#define SUM_LOOP(NAME, T, PAIR)                                                              \
    static void NAME(int64_t n, char **d, const int64_t *s) {                                \
        T *o = (T *)d[0];                                                                    \
        const T *x = (const T *)d[1];                                                        \
        if (s[0] == 0) {                                                                     \
            *o += PAIR(x, n, s[1]);                                                          \
        } else if (s[0] == 1 && s[1] == 1) {                                                 \
            for (int64_t i = 0; i < n; i++) o[i] += x[i];                                    \
        } else {                                                                             \
            for (int64_t i = 0; i < n; i++) o[i * s[0]] += x[i * s[1]];                      \
        }                                                                                    \
    }
SUM_LOOP(sum_f32, float, pairwise_f32)
SUM_LOOP(sum_f64, double, pairwise_f64)
SUM_LOOP(sum_i64, int64_t, pairwise_i64)
static const cg_loop sum_loops[CG_NUM_DTYPES] = {sum_f32, sum_f64, sum_i64, NULL};

/* The sum of a over the masked dims, as a new tensor (no autograd). */
static cg_tensor *sum_raw(cg_tensor *a, uint32_t mask, bool keepdim) {
    cg_dtype dtype = cg_dtype_is_floating((cg_dtype)a->dtype) ? (cg_dtype)a->dtype : CG_INT64;
    int64_t shape[CG_MAX_DIMS], kshape[CG_MAX_DIMS];
    int nd = reduced_shape(a, mask, keepdim, shape);
    reduced_shape(a, mask, true, kshape);
    cg_tensor *src = cg_cast_raw(a, dtype);
    cg_tensor *out = src ? cg_zeros(shape, nd, dtype) : NULL;
    if (!out) {
        cg_tensor_release(src);
        return NULL;
    }
    if (src->numel == 0) {
        cg_tensor_release(src);
        return out;
    }
    cg_tensor *kview = cg_tensor_make(out->storage, dtype, kshape, NULL, a->ndim, 0);
    if (!kview) {
        cg_tensor_release(src);
        cg_tensor_release(out);
        return NULL;
    }
    cg_tensor *ops[2] = {kview, src};
    cg_iter it;
    cg_iter_init(&it, ops, 2, src->shape, src->ndim);
    cg_iter_run(&it, sum_loops[dtype]);
    cg_tensor_release(kview);
    cg_tensor_release(src);
    return out;
}

/* ---- sum and mean ------------------------------------------------------------------ */

/* The gradient of a reduction, broadcast back over the input's shape. */
static cg_tensor *expand_back(cg_node *n, cg_tensor *g) {
    uint32_t mask = (uint32_t)n->i[0];
    bool keepdim = n->i[1];
    const cg_shape *in = &n->in_shape[0];
    cg_tensor *u = g;
    cg_tensor_retain(u);
    if (!keepdim) {
        int64_t kshape[CG_MAX_DIMS];
        for (int d = 0; d < in->ndim; d++) kshape[d] = (mask & (1u << d)) ? 1 : in->d[d];
        cg_tensor *r = cg_reshape(u, kshape, in->ndim);
        cg_tensor_release(u);
        if (!(u = r)) return NULL;
    }
    cg_tensor *e = cg_expand(u, in->d, in->ndim);
    cg_tensor_release(u);
    return e;
}

static int sum_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(sum a)/da = 1 for every element */
    return (gin[0] = expand_back(n, gout[0])) ? 0 : -1;
}
static const cg_op sum_all_op = {"SumBackward0", sum_backward, NULL};
static const cg_op sum_dim_op = {"SumBackward1", sum_backward, NULL};

static int mean_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(mean a)/da = 1/count for every element */
    cg_tensor *e = expand_back(n, gout[0]);
    cg_tensor *c = e ? cg_scalar_tensor(n->f[0], CG_FLOAT64, e) : NULL;
    gin[0] = c ? cg_div(e, c) : NULL;
    cg_tensor_release(e);
    cg_tensor_release(c);
    return gin[0] ? 0 : -1;
}
static const cg_op mean_all_op = {"MeanBackward0", mean_backward, NULL};
static const cg_op mean_dim_op = {"MeanBackward1", mean_backward, NULL};

static cg_tensor *record_reduce(const cg_op *op, cg_tensor *out, cg_tensor *a, uint32_t mask,
                                bool keepdim, double count) {
    if (!out || !cg_any_requires_grad(&a, 1)) return out;
    cg_node *n = cg_node_new(op, &a, 1, 1);
    if (!n) {
        cg_tensor_release(out);
        return NULL;
    }
    n->i[0] = mask;
    n->i[1] = keepdim;
    n->f[0] = count;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

cg_tensor *cg_sum(cg_tensor *a, const int64_t *dims, int ndims, int keepdim) {
    uint32_t mask;
    if (reduce_mask(a, dims, ndims, &mask)) return NULL;
    const cg_op *op = dims ? &sum_dim_op : &sum_all_op;
    return record_reduce(op, sum_raw(a, mask, keepdim), a, mask, keepdim, 0);
}

cg_tensor *cg_mean(cg_tensor *a, const int64_t *dims, int ndims, int keepdim) {
    if (!cg_dtype_is_floating((cg_dtype)a->dtype)) {
        cg_error_set(CG_ERR_RUNTIME,
                     "mean(): could not infer output dtype. Input dtype must be either a floating point or "
                     "complex dtype. Got: %s", cg_dtype_torch_name((cg_dtype)a->dtype));
        return NULL;
    }
    uint32_t mask;
    if (reduce_mask(a, dims, ndims, &mask)) return NULL;
    double count = 1;
    for (int d = 0; d < a->ndim; d++)
        if (mask & (1u << d)) count *= (double)a->shape[d];
    cg_tensor *s = sum_raw(a, mask, keepdim);
    cg_tensor *c = s ? cg_scalar_tensor(count, CG_FLOAT64, s) : NULL;
    cg_tensor *out = c ? cg_binary_raw(CG_BIN_DIV, s, c, (cg_dtype)s->dtype) : NULL;
    cg_tensor_release(s);
    cg_tensor_release(c);
    const cg_op *op = dims ? &mean_dim_op : &mean_all_op;
    return record_reduce(op, out, a, mask, keepdim, count);
}

cg_tensor *cg_sum_to(cg_tensor *a, const int64_t *shape, int ndim) {
    int lead = a->ndim - ndim;
    if (lead < 0) {
        cg_error_set(CG_ERR_RUNTIME, "sum_to: cannot sum a %d-d tensor to %d dimensions", a->ndim, ndim);
        return NULL;
    }
    int64_t dims[CG_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < a->ndim; d++)
        if (d < lead || (shape[d - lead] == 1 && a->shape[d] != 1)) dims[nd++] = d;
    if (nd == 0 && lead == 0) {
        cg_tensor_retain(a);
        return a;
    }
    cg_tensor *s = nd ? cg_sum(a, dims, nd, 1) : a;
    if (!nd) cg_tensor_retain(a);
    if (!s) return NULL;
    cg_tensor *r = cg_reshape(s, shape, ndim);
    cg_tensor_release(s);
    return r;
}
