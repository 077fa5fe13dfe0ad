/* ops_gather.c -- gather, scatter, index_select, index_add/copy/fill, masked_scatter,
 * put and masked_fill: forward and backward.
 *
 * An index tensor (int64) is walked element by element: each element names,
 * along `dim`, the element of self it reads (gather) or writes (scatter);
 * its other coordinates are the index element's own. Indices are checked in
 * a pass of their own before anything is written, so an in-place op that
 * fails leaves its tensor unchanged. 0-d tensors take part as shape [1].
 */
#include <stdio.h>

#include "internal.h"

/* ---- walking an index tensor ------------------------------------------------------- */

typedef struct walk {
    int64_t dim_stride; /* stride of the addressed tensor along dim, in elements */
    int64_t low, size;  /* valid indices are [low, size): low is 0 or -size */
    int64_t bad;        /* first invalid index found by check_loop */
    bool found;
} walk;

typedef void (*walk_loop)(walk *w, int64_t n, char **d, const int64_t *s);

/* cg_iter_run with a context for the loop; stops early once w->found. */
static void walk_run(cg_tensor *const *ops, int nops, const int64_t *shape, int ndim, walk_loop loop, walk *w) {
    cg_iter it;
    cg_iter_init(&it, ops, nops, shape, ndim);
    int nd = it.ndim;
    for (int d = 0; d < nd; d++)
        if (it.shape[d] == 0) return;
    char *ptr[CG_ITER_MAX_OPS];
    int64_t inner[CG_ITER_MAX_OPS], idx[CG_MAX_DIMS] = {0};
    for (int k = 0; k < nops; k++) {
        ptr[k] = it.data[k];
        inner[k] = it.strides[k][nd - 1];
    }
    for (;;) {
        loop(w, it.shape[nd - 1], ptr, inner);
        int d = nd - 2;
        for (; d >= 0 && !w->found; d--) { /* advance the outer counter */
            for (int k = 0; k < nops; k++) ptr[k] += it.strides[k][d] * it.itemsize[k];
            if (++idx[d] < it.shape[d]) break;
            for (int k = 0; k < nops; k++) ptr[k] -= it.strides[k][d] * it.itemsize[k] * it.shape[d];
            idx[d] = 0;
        }
        if (d < 0 || w->found) return;
    }
}

static void check_loop(walk *w, int64_t n, char **d, const int64_t *s) {
    const int64_t *ix = (const int64_t *)d[0];
    for (int64_t i = 0; i < n; i++) {
        int64_t k = ix[i * s[0]];
        if (k < w->low || k >= w->size) {
            w->bad = k;
            w->found = true;
            return;
        }
    }
}

/* Whose error a bad index raises: PyTorch's wording and type differ by op. */
enum { RANGE_SCATTER, RANGE_SELECT, RANGE_COPY, RANGE_FILL };

/* 0 if every element of index is in [0, size) ([-size, size) for
 * index_fill); else PyTorch's error for the op (style), for index_select
 * depending on self's dims (select_ndim), as PyTorch's CPU kernels word it. */
static int range_kernel(const cg_kargs *k) {
    cg_tensor *index = k->t[0];
    int64_t dim = k->i[0], size = k->i[1], select_ndim = k->i[2], style = k->i[3];
    walk w = {.low = style == RANGE_FILL ? -size : 0, .size = size};
    walk_run(&index, 1, index->shape, index->ndim, check_loop, &w);
    if (!w.found) return 0;
    long long bad = (long long)w.bad, d = (long long)dim, n = (long long)size;
    if (style == RANGE_COPY)
        cg_error_set(CG_ERR_INDEX, "index_copy_(): index %lld is out of bounds for dimension %lld with size %lld", bad, d, n);
    else if (style == RANGE_FILL)
        cg_error_set(CG_ERR_INDEX, "index %lld is out of bounds for dimension %lld with size %lld", bad, d, n);
    else if (style == RANGE_SELECT && select_ndim > 1 && dim == 1)
        cg_error_set(CG_ERR_RUNTIME, "INDICES element is out of DATA bounds, id=%lld axis_dim=%lld", bad, n);
    else if (style == RANGE_SELECT)
        cg_error_set(CG_ERR_INDEX, "index out of range in self");
    else
        cg_error_set(CG_ERR_RUNTIME, "index %lld is out of bounds for dimension %lld with size %lld", bad, d, n);
    return -1;
}

static int check_range_as(cg_tensor *index, int64_t dim, int64_t size, int select_ndim, int style) {
    return cg_kernel(range_kernel,
                     &(cg_kargs){.name = "an index check", .t = {index}, .i = {dim, size, select_ndim, style}});
}

static int check_range(cg_tensor *index, int64_t dim, int64_t size, int select_ndim) {
    return check_range_as(index, dim, size, select_ndim, select_ndim ? RANGE_SELECT : RANGE_SCATTER);
}

/* t itself, or a 1-element 1-d header over a 0-d t. */
static cg_tensor *nonempty_dims(cg_tensor *t) {
    if (t->ndim > 0) {
        cg_tensor_retain(t);
        return t;
    }
    static const int64_t one[1] = {1};
    return cg_tensor_make(t->storage, (cg_dtype)t->dtype, one, one, 1, t->offset);
}

/* A header over t's storage seen with the index's shape; stride 0 along dim
 * when the loop adds index * dim_stride itself. */
static cg_tensor *restride(cg_tensor *t, const cg_tensor *index, int64_t dim, bool zero_dim) {
    int64_t strides[CG_MAX_DIMS];
    for (int d = 0; d < index->ndim; d++)
        strides[d] = t->ndim == 0 ? 0 : (d == dim && zero_dim) ? 0 : t->strides[d];
    return cg_tensor_make(t->storage, (cg_dtype)t->dtype, index->shape, strides, index->ndim, t->offset);
}

/* ---- kernels: one source per element size (copies) or dtype (sums) ---------------- */

#define GATHER_LOOP(NAME, T)                                                                 \
    static void NAME(walk *w, int64_t n, char **d, const int64_t *s) {                      \
        T *o = (T *)d[0];                                                                    \
        const int64_t *ix = (const int64_t *)d[1];                                           \
        const T *x = (const T *)d[2];                                                        \
        for (int64_t i = 0; i < n; i++) o[i * s[0]] = x[i * s[2] + ix[i * s[1]] * w->dim_stride]; \
    }
#define SCATTER_LOOP(NAME, T, OP)                                                            \
    static void NAME(walk *w, int64_t n, char **d, const int64_t *s) {                      \
        T *o = (T *)d[0];                                                                    \
        const int64_t *ix = (const int64_t *)d[1];                                           \
        const T *x = (const T *)d[2];                                                        \
        for (int64_t i = 0; i < n; i++) o[i * s[0] + ix[i * s[1]] * w->dim_stride] OP x[i * s[2]]; \
    }
GATHER_LOOP(gather_1, uint8_t)
GATHER_LOOP(gather_4, uint32_t)
GATHER_LOOP(gather_8, uint64_t)
SCATTER_LOOP(scatter_1, uint8_t, =)
SCATTER_LOOP(scatter_4, uint32_t, =)
SCATTER_LOOP(scatter_8, uint64_t, =)
SCATTER_LOOP(scatter_add_f32, float, +=)
SCATTER_LOOP(scatter_add_f64, double, +=)
SCATTER_LOOP(scatter_add_i64, int64_t, +=)
SCATTER_LOOP(scatter_add_b8, uint8_t, |=)

/* scatter_reduce's combinations, as torch's kernels: a NaN from src wins, one in dst stays */
#define SR_PROD(a, v) ((a) * (v))
#define SR_AMAX(a, v) ((v) != (v) ? (v) : (a) < (v) ? (v) : (a))
#define SR_AMIN(a, v) ((v) != (v) ? (v) : (v) < (a) ? (v) : (a))
#define SCATTER_REDUCE_LOOP(NAME, T, COMBINE)                                                \
    static void NAME(walk *w, int64_t n, char **d, const int64_t *s) {                      \
        T *o = (T *)d[0];                                                                    \
        const int64_t *ix = (const int64_t *)d[1];                                           \
        const T *x = (const T *)d[2];                                                        \
        for (int64_t i = 0; i < n; i++) {                                                    \
            T *at = o + i * s[0] + ix[i * s[1]] * w->dim_stride;                             \
            *at = (T)COMBINE(*at, x[i * s[2]]);                                              \
        }                                                                                    \
    }
#define SCATTER_REDUCE_LOOPS(OP, COMBINE)                                                    \
    SCATTER_REDUCE_LOOP(scatter_##OP##_f32, float, COMBINE)                                  \
    SCATTER_REDUCE_LOOP(scatter_##OP##_f64, double, COMBINE)                                 \
    SCATTER_REDUCE_LOOP(scatter_##OP##_i64, int64_t, COMBINE)                                \
    SCATTER_REDUCE_LOOP(scatter_##OP##_b8, uint8_t, COMBINE)
SCATTER_REDUCE_LOOPS(prod, SR_PROD)
SCATTER_REDUCE_LOOPS(amax, SR_AMAX)
SCATTER_REDUCE_LOOPS(amin, SR_AMIN)

static walk_loop by_size(cg_dtype dtype, walk_loop l1, walk_loop l4, walk_loop l8) {
    int64_t size = cg_dtype_size(dtype);
    return size == 1 ? l1 : size == 4 ? l4 : l8;
}
static const walk_loop scatter_add_loops[CG_NUM_DTYPES] = {scatter_add_f32, scatter_add_f64, scatter_add_i64,
                                                            scatter_add_b8};
static const walk_loop scatter_reduce_loops[3][CG_NUM_DTYPES] = {
    {scatter_prod_f32, scatter_prod_f64, scatter_prod_i64, scatter_prod_b8},
    {scatter_amax_f32, scatter_amax_f64, scatter_amax_i64, scatter_amax_b8},
    {scatter_amin_f32, scatter_amin_f64, scatter_amin_i64, scatter_amin_b8}};

/* a itself when contiguous, else a contiguous copy (no autograd). */
static cg_tensor *contiguous_raw(cg_tensor *a) {
    if (cg_tensor_is_contiguous(a)) {
        cg_tensor_retain(a);
        return a;
    }
    cg_tensor *c = cg_empty_like(a);
    if (c) cg_copy_data(c, a);
    return c;
}

/* ---- argument checks ----------------------------------------------------------------- */

static int check_index_dtype(const cg_tensor *index, const char *name) {
    if (index->dtype == CG_INT64) return 0;
    cg_error_set(CG_ERR_RUNTIME, "%s(): Expected dtype int32/int64 for index", name);
    return -1;
}

static int nonempty_ndim(const cg_tensor *t) { return t->ndim ? t->ndim : 1; }

/* gather: index has self's dims and is no larger apart from dim. */
static int check_gather_shape(const cg_tensor *a, int64_t dim, const cg_tensor *index) {
    if (nonempty_ndim(a) != nonempty_ndim(index)) {
        cg_error_set(CG_ERR_RUNTIME, "Index tensor must have the same number of dimensions as input tensor");
        return -1;
    }
    if (index->numel == 0 || a->ndim == 0) return 0;
    for (int d = 0; d < a->ndim; d++) {
        if (d == dim || index->shape[d] <= a->shape[d]) continue;
        char b1[160], b2[160];
        cg_error_set(CG_ERR_RUNTIME,
                     "Size does not match at dimension %d expected index %s to be no larger than self %s apart "
                     "from dimension %lld", d, cg_shape_str(index->shape, index->ndim, b1, sizeof b1),
                     cg_shape_str(a->shape, a->ndim, b2, sizeof b2), (long long)dim);
        return -1;
    }
    return 0;
}

static int64_t size_at(const cg_tensor *t, int d) { return t->ndim ? t->shape[d] : 1; }

/* scatter: index no larger than self apart from dim, and no larger than src. */
static int check_scatter_shape(const cg_tensor *a, int64_t dim, const cg_tensor *index, const cg_tensor *src) {
    if (nonempty_ndim(a) != nonempty_ndim(index)) {
        cg_error_set(CG_ERR_RUNTIME, "Index tensor must have the same number of dimensions as self tensor");
        return -1;
    }
    if (src && nonempty_ndim(src) != nonempty_ndim(index)) {
        cg_error_set(CG_ERR_RUNTIME, "Index tensor must have the same number of dimensions as src tensor");
        return -1;
    }
    if (index->numel == 0) return 0;
    bool ok = true;
    for (int d = 0; d < nonempty_ndim(index); d++)
        ok = ok && (d == dim || size_at(index, d) <= size_at(a, d)) && (!src || size_at(index, d) <= size_at(src, d));
    if (ok) return 0;
    char b1[160], b2[160], b3[160] = "";
    cg_shape_str(index->shape, index->ndim, b1, sizeof b1);
    cg_shape_str(a->shape, a->ndim, b2, sizeof b2);
    if (src) cg_shape_str(src->shape, src->ndim, b3, sizeof b3);
    cg_error_set(CG_ERR_RUNTIME, "Expected index %s to be no larger than self %s apart from dimension %lld%s%s", b1,
                 b2, (long long)dim, src ? " and to be no larger size than src " : "", b3);
    return -1;
}

/* ---- recording ----------------------------------------------------------------------- */

/* out with history n (NULL: none due). */
static cg_tensor *finish(cg_tensor *out, cg_node *n) {
    if (n) {
        cg_set_history(out, n, 0);
        cg_node_release(n);
    }
    return out;
}

/* A node for op over ins (NULL when none is due) saving `keep` in slot 0;
 * *failed on error. In place, it is made before the write: edge 0 is then
 * the old history of ins[0]. */
static cg_node *make_node(const cg_op *op, cg_tensor *const *ins, int nin, cg_tensor *keep, bool *failed) {
    *failed = false;
    if (!cg_any_requires_grad(ins, nin)) return NULL;
    cg_node *n = cg_node_new(op, ins, nin, 1);
    if (!n || (keep && cg_save(n, 0, keep, false))) {
        cg_node_release(n);
        *failed = true;
        return NULL;
    }
    return n;
}

/* ---- gather ---------------------------------------------------------------------------- */

static int gather_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d out[i] / d a[index[i] along dim] = 1: scatter-add the gradient back */
    cg_tensor *index = cg_unpack(n, 0);
    cg_tensor *z = index ? cg_zeros(n->in_shape[0].d, n->in_shape[0].ndim, (cg_dtype)gout[0]->dtype) : NULL;
    gin[0] = z ? cg_scatter_add_(z, n->i[0], index, gout[0]) : NULL;
    cg_tensor_release(z);
    cg_tensor_release(index);
    return gin[0] ? 0 : -1;
}
static const cg_op gather_op = {"GatherBackward0", gather_backward, NULL};
/* sort's and topk's values are a gathered at the positions found: the same backward */
static const cg_op sorted_ops[] = {
    {"SortBackward0", gather_backward, NULL}, /* sort(dim, descending) */
    {"SortBackward1", gather_backward, NULL}, /* sort(*, stable, dim, descending) */
    {"TopkBackward0", gather_backward, NULL},
};

/* t = {out (index's shape), a, index}, i = {dim}: out = a gathered along dim; all at least 1-d. */
static int gather_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *a = k->t[1], *index = k->t[2];
    int64_t dim = k->i[0];
    cg_dtype dt = (cg_dtype)a->dtype;
    walk w = {.dim_stride = a->strides[dim]};
    cg_tensor *src = restride(a, index, dim, true);
    if (!src) return -1;
    cg_tensor *ops[3] = {out, index, src};
    walk_run(ops, 3, index->shape, index->ndim, by_size(dt, gather_1, gather_4, gather_8), &w);
    cg_tensor_release(src);
    return 0;
}

static cg_tensor *gather_as(const cg_op *op, cg_tensor *a, int64_t dim, cg_tensor *index) {
    int64_t d;
    if (check_index_dtype(index, "gather") || cg_wrap_dim(dim, a->ndim, &d) || check_gather_shape(a, d, index) ||
        check_range(index, d, size_at(a, (int)d), 0))
        return NULL;
    cg_tensor *out = cg_empty(index->shape, index->ndim, (cg_dtype)a->dtype);
    cg_tensor *a1 = out ? nonempty_dims(a) : NULL, *i1 = a1 ? nonempty_dims(index) : NULL;
    cg_tensor *o1 = i1 ? nonempty_dims(out) : NULL;
    if (o1 && cg_kernel(gather_kernel, &(cg_kargs){.name = "gather", .t = {o1, a1, i1}, .nw = 1, .i = {d}})) {
        cg_tensor_release(o1);
        o1 = NULL;
    }
    cg_tensor_release(a1);
    cg_tensor_release(i1);
    cg_tensor_release(o1);
    if (!o1) {
        cg_tensor_release(out);
        return NULL;
    }
    bool failed;
    cg_node *n = make_node(op, &a, 1, index, &failed);
    if (failed) {
        cg_tensor_release(out);
        return NULL;
    }
    if (n) n->i[0] = d;
    return finish(out, n);
}

cg_tensor *cg_gather(cg_tensor *a, int64_t dim, cg_tensor *index) { return gather_as(&gather_op, a, dim, index); }

cg_tensor *cg_sorted_values(cg_tensor *a, int64_t dim, cg_tensor *index, cg_sorted_by by) {
    return gather_as(&sorted_ops[by], a, dim, index);
}

/* ---- scatter, scatter_add ------------------------------------------------------------- */

typedef enum { SC_SRC, SC_VALUE, SC_ADD, SC_PROD, SC_AMAX, SC_AMIN } sc_kind;

/* The gradient of src: the gradient gathered where src was read (shapes as PyTorch requires). */
static cg_tensor *src_grad(cg_node *n, cg_tensor *g, cg_tensor *index) {
    const cg_shape *s = &n->in_shape[1];
    if (!cg_shape_eq(index->shape, index->ndim, s->d, s->ndim)) {
        char b1[160], b2[160];
        cg_error_set(CG_ERR_RUNTIME,
                     "Function %s returned an invalid gradient at index 1 - got %s but expected shape compatible "
                     "with %s", n->op->name, cg_shape_str(index->shape, index->ndim, b1, sizeof b1),
                     cg_shape_str(s->d, s->ndim, b2, sizeof b2));
        return NULL;
    }
    return cg_reduce_grad(n, 1, cg_gather(g, n->i[0], index));
}

static int scatter_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* scatter: overwritten elements of a get no gradient, src[i] gets that of
     * out[index[i]]; scatter_add: a passes the gradient through unchanged */
    cg_tensor *index = cg_unpack(n, 0);
    if (!index) return -1;
    int rc = 0;
    if (cg_wants(n, 0)) {
        if (n->i[1] == SC_ADD)
            cg_tensor_retain(gin[0] = gout[0]);
        else
            gin[0] = cg_scatter_value(gout[0], n->i[0], index, 0.0);
        rc = gin[0] ? 0 : -1;
    }
    if (rc == 0 && n->n_next > 1 && cg_wants(n, 1) && !(gin[1] = src_grad(n, gout[0], index))) rc = -1;
    cg_tensor_release(index);
    return rc;
}
static const cg_op scatter_src_op = {"ScatterBackward0", scatter_backward, NULL};
static const cg_op scatter_value_op = {"ScatterBackward1", scatter_backward, NULL};
static const cg_op scatter_add_op = {"ScatterAddBackward0", scatter_backward, NULL};

/* t = {dst, index, src}, i = {dim, kind}: dst[index[i] along dim] (op)= src[i]; indices valid. */
static int scatter_kernel(const cg_kargs *k) {
    cg_tensor *dst = k->t[0], *index = k->t[1], *src = k->t[2];
    int64_t dim = k->i[0];
    sc_kind kind = (sc_kind)k->i[1];
    cg_dtype dt = (cg_dtype)dst->dtype;
    cg_tensor *d1 = nonempty_dims(dst), *i1 = d1 ? nonempty_dims(index) : NULL;
    cg_tensor *out = i1 ? restride(d1, i1, dim, true) : NULL, *in = out ? restride(src, i1, dim, false) : NULL;
    if (in) {
        walk w = {.dim_stride = d1->strides[dim]};
        cg_tensor *ops[3] = {out, i1, in};
        walk_loop loop = kind >= SC_PROD ? scatter_reduce_loops[kind - SC_PROD][dt]
                         : kind == SC_ADD ? scatter_add_loops[dt] : by_size(dt, scatter_1, scatter_4, scatter_8);
        walk_run(ops, 3, i1->shape, i1->ndim, loop, &w);
    }
    int rc = in ? 0 : -1;
    cg_tensor_release(d1);
    cg_tensor_release(i1);
    cg_tensor_release(out);
    cg_tensor_release(in);
    return rc;
}

static int scatter_into(cg_tensor *dst, int64_t dim, cg_tensor *index, cg_tensor *src, sc_kind kind) {
    return cg_kernel(scatter_kernel, &(cg_kargs){.name = "scatter", .t = {dst, index, src}, .nw = 1, .i = {dim, kind}});
}

static int check_scatter(cg_tensor *a, int64_t dim, int64_t *d, cg_tensor *index, cg_tensor *src) {
    if (check_index_dtype(index, "scatter") || cg_wrap_dim(dim, a->ndim, d)) return -1;
    if (src && src->dtype != a->dtype) {
        cg_error_set(CG_ERR_RUNTIME, "scatter(): Expected self.dtype to be equal to src.dtype");
        return -1;
    }
    return check_scatter_shape(a, *d, index, src) || check_range(index, *d, size_at(a, (int)*d), 0);
}

static const cg_op *const scatter_ops[3] = {&scatter_src_op, &scatter_value_op, &scatter_add_op};

/* The node of a scatter over ins (NULL when none is due); *failed on error. */
static cg_node *scatter_node(sc_kind kind, cg_tensor *const *ins, int64_t d, cg_tensor *index, bool *failed) {
    cg_node *n = make_node(scatter_ops[kind], ins, kind == SC_VALUE ? 1 : 2, index, failed);
    if (n) {
        n->i[0] = d;
        n->i[1] = kind;
    }
    return n;
}

/* scatter of src (SC_SRC, SC_ADD) or of a 0-d value (SC_VALUE) into a copy of a, or into a. */
static cg_tensor *scatter(sc_kind kind, cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src,
                          bool inplace) {
    int64_t d;
    cg_tensor *ins[2] = {a, src};
    bool failed;
    if (check_scatter(a, dim, &d, index, kind == SC_VALUE ? NULL : src)) return NULL;
    if (inplace) {
        cg_inplace ip;
        if (cg_inplace_begin(&ip, a, ins, kind == SC_VALUE ? 1 : 2)) return NULL;
        if (ip.records && !(ip.node = scatter_node(kind, ins, d, index, &failed))) return cg_inplace_abort(&ip);
        if (scatter_into(a, d, index, src, kind)) return cg_inplace_abort(&ip);
        return cg_inplace_finish(&ip);
    }
    cg_tensor *out = cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype);
    if (!out || cg_copy_data(out, a) || scatter_into(out, d, index, src, kind)) {
        cg_tensor_release(out);
        return NULL;
    }
    cg_node *n = scatter_node(kind, ins, d, index, &failed);
    if (failed) {
        cg_tensor_release(out);
        return NULL;
    }
    return finish(out, n);
}

/* value as a 0-d tensor of a's dtype */
static cg_tensor *value_tensor(cg_tensor *a, double value) {
    cg_tensor *v = cg_empty(NULL, 0, (cg_dtype)a->dtype);
    if (v) cg_fill_raw(v, value);
    return v;
}

static cg_tensor *scatter_value(cg_tensor *a, int64_t dim, cg_tensor *index, double value, bool inplace) {
    cg_tensor *v = value_tensor(a, value);
    cg_tensor *r = v ? scatter(SC_VALUE, a, dim, index, v, inplace) : NULL;
    cg_tensor_release(v);
    return r;
}

cg_tensor *cg_scatter(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src) {
    return scatter(SC_SRC, a, dim, index, src, false);
}
cg_tensor *cg_scatter_value(cg_tensor *a, int64_t dim, cg_tensor *index, double value) {
    return scatter_value(a, dim, index, value, false);
}
cg_tensor *cg_scatter_add(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src) {
    return scatter(SC_ADD, a, dim, index, src, false);
}
cg_tensor *cg_scatter_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src) {
    return scatter(SC_SRC, a, dim, index, src, true);
}
cg_tensor *cg_scatter_value_(cg_tensor *a, int64_t dim, cg_tensor *index, double value) {
    return scatter_value(a, dim, index, value, true);
}
cg_tensor *cg_scatter_add_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src) {
    return scatter(SC_ADD, a, dim, index, src, true);
}

/* A copy of a with src combined into it by op (0 prod, 1 amax, 2 amin); no node:
 * scatter_reduce's gradients are written over it in Python (cgrad._stats). */
cg_tensor *cg_scatter_reduce_raw(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src, int op) {
    int64_t d;
    if (op < 0 || op > 2) {
        cg_error_set(CG_ERR_VALUE, "scatter_reduce: unknown reduction %d", op);
        return NULL;
    }
    if (check_scatter(a, dim, &d, index, src)) return NULL;
    cg_tensor *out = cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype);
    if (!out || cg_copy_data(out, a) || scatter_into(out, d, index, src, (sc_kind)(SC_PROD + op))) {
        cg_tensor_release(out);
        return NULL;
    }
    return out;
}

/* ---- index_select ---------------------------------------------------------------------- */

/* index (1-d or 0-d) seen with shape: its values along dim, repeated elsewhere. */
static cg_tensor *index_like(cg_tensor *index, const int64_t *shape, int ndim, int64_t dim) {
    int64_t strides[CG_MAX_DIMS] = {0};
    if (ndim) strides[dim] = index->ndim ? index->strides[0] : 0;
    return cg_tensor_make(index->storage, CG_INT64, shape, strides, ndim, index->offset);
}

static cg_tensor *index_along(cg_tensor *index, const cg_tensor *g, int64_t dim) {
    return index_like(index, g->shape, g->ndim, dim);
}

static int index_select_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* out[.., k, ..] = a[.., index[k], ..]: repeated indices accumulate */
    const cg_shape *s = &n->in_shape[0];
    if (s->ndim == 0) {
        cg_tensor_retain(gin[0] = gout[0]);
        return 0;
    }
    cg_tensor *index = cg_unpack(n, 0);
    cg_tensor *ix = index ? index_along(index, gout[0], n->i[0]) : NULL;
    cg_tensor *z = ix ? cg_zeros(s->d, s->ndim, (cg_dtype)gout[0]->dtype) : NULL;
    gin[0] = z ? cg_scatter_add_(z, n->i[0], ix, gout[0]) : NULL;
    cg_tensor_release(z);
    cg_tensor_release(ix);
    cg_tensor_release(index);
    return gin[0] ? 0 : -1;
}
static const cg_op index_select_op = {"IndexSelectBackward0", index_select_backward, NULL};

/* t = {out, contiguous a, index}, i = {dim}: rows of a ([outer, size, inner] around dim) in index order. */
static int select_rows_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *a = k->t[1], *index = k->t[2];
    int64_t dim = k->i[0];
    int64_t outer = 1, inner = 1, size = size_at(a, (int)dim), n = index->numel;
    for (int d = 0; d < a->ndim; d++) {
        if (d < dim) outer *= a->shape[d];
        if (d > dim) inner *= a->shape[d];
    }
    int64_t isz = cg_dtype_size((cg_dtype)a->dtype), row = inner * isz;
    int64_t istride = index->ndim ? index->strides[0] : 0;
    const int64_t *ix = (const int64_t *)cg_ptr(index);
    const char *src = cg_ptr(a);
    char *dst = cg_ptr(out);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < n; j++, dst += row)
            memcpy(dst, src + (o * size + ix[j * istride]) * row, (size_t)row);
    return 0;
}

static int check_index_select(cg_tensor *a, int64_t dim, int64_t *d, cg_tensor *index) {
    if (index->dtype != CG_INT64) {
        cg_error_set(CG_ERR_RUNTIME, "index_select(): Expected dtype int32 or int64 for index");
        return -1;
    }
    if (index->ndim > 1) {
        cg_error_set(CG_ERR_INDEX, "index_select(): Index is supposed to be a vector");
        return -1;
    }
    if (cg_wrap_dim(dim, a->ndim, d)) return -1;
    if (a->ndim == 0 && index->numel != 1) {
        cg_error_set(CG_ERR_RUNTIME, "index_select(): Index to scalar can have only 1 value, got %lld value(s)",
                     (long long)index->numel);
        return -1;
    }
    if (size_at(a, (int)*d) == 0 && index->numel > 0) {
        cg_error_set(CG_ERR_RUNTIME, "index_select(): self indexing axis dim should be positive");
        return -1;
    }
    return check_range(index, *d, size_at(a, (int)*d), a->ndim ? a->ndim : 1);
}

cg_tensor *cg_index_select(cg_tensor *a, int64_t dim, cg_tensor *index) {
    int64_t d, shape[CG_MAX_DIMS];
    if (check_index_select(a, dim, &d, index)) return NULL;
    memcpy(shape, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    if (a->ndim) shape[d] = index->numel;
    cg_tensor *out = cg_empty(shape, a->ndim, (cg_dtype)a->dtype);
    cg_tensor *c = out ? contiguous_raw(a) : NULL;
    if (c && out->numel)
        cg_kernel(select_rows_kernel, &(cg_kargs){.name = "index_select", .t = {out, c, index}, .nw = 1, .i = {d}});
    bool failed = !c;
    cg_tensor_release(c);
    cg_node *n = failed ? NULL : make_node(&index_select_op, &a, 1, index, &failed);
    if (failed) {
        cg_tensor_release(out);
        return NULL;
    }
    if (n) n->i[0] = d;
    return finish(out, n);
}

/* ---- index_add, index_copy, index_fill ------------------------------------------------- */

/* Slices of a along dim addressed by a vector of indices: index_add adds
 * source's slice i into a's slice index[i], index_copy copies it there, and
 * index_fill writes a value into a's slices index[i]. Each is a scatter over
 * a's shape with index's length along dim, the index repeated across the
 * other dims (index_like). index_fill counts negative indices from the end:
 * they are wrapped first, into an index of its own that the node saves. */

typedef enum { IX_ADD, IX_COPY, IX_FILL } ix_kind;

static cg_tensor *index_fill_value(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *value, bool inplace);

/* The source's gradient: g's slices index[i] (times index_add's alpha), in the source's shape. */
static cg_tensor *source_grad(cg_node *n, cg_tensor *g, int64_t d, cg_tensor *index) {
    cg_tensor *slices = cg_index_select(g, d, index);
    if (slices && n->i[1] == IX_ADD && n->f[0] != 1.0) {
        cg_tensor *alpha = cg_scalar_tensor(n->f[0], CG_FLOAT64, slices);
        cg_tensor *scaled = alpha ? cg_mul(slices, alpha) : NULL;
        cg_tensor_release(alpha);
        cg_tensor_release(slices);
        slices = scaled;
    }
    cg_tensor *r = slices ? cg_reduce_grad(n, 1, cg_reshape(slices, n->in_shape[1].d, n->in_shape[1].ndim)) : NULL;
    cg_tensor_release(slices);
    return r;
}

/* The value's gradient: the sum of g over the filled elements, each once
 * however often (or however negatively) the index names its slice. */
static cg_tensor *filled_sum(cg_node *n, cg_tensor *g, int64_t d, cg_tensor *index) {
    cg_tensor *one = cg_scalar_tensor(1.0, CG_FLOAT64, g);
    cg_tensor *z = one ? cg_zeros(g->shape, g->ndim, (cg_dtype)g->dtype) : NULL;
    cg_tensor *mask = z ? index_fill_value(z, d, index, one, false) : NULL;
    cg_tensor *picked = mask ? cg_mul(g, mask) : NULL;
    cg_tensor *r = picked ? cg_reduce_grad(n, 1, cg_sum(picked, NULL, 0, 0)) : NULL;
    cg_tensor_release(picked);
    cg_tensor_release(mask);
    cg_tensor_release(z);
    cg_tensor_release(one);
    return r;
}

static int index_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* index_add passes the gradient to a unchanged; index_copy and
     * index_fill zero it where they wrote. The source's (the value's) is the
     * gradient of the slices it went to (summed, for the value). */
    cg_tensor *index = cg_unpack(n, 0);
    if (!index) return -1;
    int64_t d = n->i[0];
    ix_kind kind = (ix_kind)n->i[1];
    int rc = 0;
    if (cg_wants(n, 0)) {
        if (kind == IX_ADD) {
            cg_tensor_retain(gin[0] = gout[0]);
        } else {
            cg_tensor *zero = cg_scalar_tensor(0.0, CG_FLOAT64, gout[0]);
            gin[0] = zero ? index_fill_value(gout[0], d, index, zero, false) : NULL;
            cg_tensor_release(zero);
        }
        rc = gin[0] ? 0 : -1;
    }
    if (rc == 0 && n->n_next > 1 && cg_wants(n, 1)) {
        gin[1] = kind == IX_FILL ? filled_sum(n, gout[0], d, index) : source_grad(n, gout[0], d, index);
        rc = gin[1] ? 0 : -1;
    }
    cg_tensor_release(index);
    return rc;
}
static const cg_op index_add_op = {"IndexAddBackward0", index_backward, NULL};
static const cg_op index_copy_op = {"IndexCopyBackward0", index_backward, NULL};
static const cg_op index_fill_op = {"IndexFillBackward0", index_backward, NULL};
static const cg_op index_fill_tensor_op = {"IndexFillBackward1", index_backward, NULL};

/* t = {out, index}, i = {size}: out = index, each negative one plus size. */
static int wrap_index_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *index = k->t[1];
    int64_t size = k->i[0], n = index->numel, step = index->ndim ? index->strides[0] : 0;
    const int64_t *ix = (const int64_t *)cg_ptr(index);
    int64_t *o = (int64_t *)cg_ptr(out);
    for (int64_t j = 0; j < n; j++) o[j] = ix[j * step] < 0 ? ix[j * step] + size : ix[j * step];
    return 0;
}

static cg_tensor *wrapped_index(cg_tensor *index, int64_t size) {
    cg_tensor *out = cg_empty(index->shape, index->ndim, CG_INT64);
    if (out && cg_kernel(wrap_index_kernel, &(cg_kargs){.name = "index_fill", .t = {out, index}, .nw = 1, .i = {size}})) {
        cg_tensor_release(out);
        return NULL;
    }
    return out;
}

/* The slice shape of t without dim, as PyTorch prints it: sizes by spaces. */
static const char *slice_str(const cg_tensor *t, int64_t dim, char *buf, size_t size) {
    size_t at = 0;
    buf[0] = 0;
    for (int d = 0; d < t->ndim && at < size; d++)
        if (d != dim) at += (size_t)snprintf(buf + at, size - at, at ? " %lld" : "%lld", (long long)t->shape[d]);
    return buf;
}

static int check_index_vector(const cg_tensor *index, ix_kind kind) {
    char b[160];
    if (index->ndim > 1) {
        if (kind == IX_ADD)
            cg_error_set(CG_ERR_INDEX, "index_add_(): Index is supposed to be a vector, but got dim: %d with type: %s and size: %s",
                         index->ndim, cg_dtype_torch_name((cg_dtype)index->dtype),
                         cg_shape_str(index->shape, index->ndim, b, sizeof b));
        else if (kind == IX_COPY)
            cg_error_set(CG_ERR_INDEX, "index_copy_(): Index should have dimension 1 or 0 (got %d)", index->ndim);
        else
            cg_error_set(CG_ERR_RUNTIME, "Index has to be a vector/scalar");
        return -1;
    }
    if (index->dtype == CG_INT64) return 0;
    const char *got = cg_dtype_torch_name((cg_dtype)index->dtype);
    if (kind == IX_ADD)
        cg_error_set(CG_ERR_RUNTIME, "index_add_(): Expected dtype int32/int64 for index but got: %s", got);
    else if (kind == IX_COPY)
        cg_error_set(CG_ERR_RUNTIME, "index_copy_(): Expected a long tensor for index, but got %s", got);
    else
        cg_error_set(CG_ERR_INDEX, "index_fill_(): Expected dtype int64 for index.");
    return -1;
}

/* index_add's checks of source against a, in PyTorch's order. */
static int check_index_add(const cg_tensor *a, int64_t d, const cg_tensor *index, const cg_tensor *src) {
    if (d >= nonempty_ndim(src)) {
        cg_error_set(CG_ERR_RUNTIME, "index_add_(): Indexing dim %lld is out of bounds of the source tensor with dim %d",
                     (long long)d, src->ndim);
        return -1;
    }
    if (src->dtype != a->dtype) {
        cg_error_set(CG_ERR_RUNTIME, "index_add_(): self (%s) and source (%s) must have the same scalar type",
                     cg_dtype_torch_name((cg_dtype)a->dtype), cg_dtype_torch_name((cg_dtype)src->dtype));
        return -1;
    }
    if (index->numel != size_at(src, (int)d)) {
        cg_error_set(CG_ERR_RUNTIME, "index_add_(): Number of indices (%lld) should be equal to source.size(dim): (%lld), for dim: %lld",
                     (long long)index->numel, (long long)size_at(src, (int)d), (long long)d);
        return -1;
    }
    bool ok = src->ndim == a->ndim;
    for (int k = 0; ok && k < a->ndim; k++) ok = k == d || src->shape[k] == a->shape[k];
    if (ok) return 0;
    char b1[160], b2[160];
    cg_error_set(CG_ERR_RUNTIME, "source tensor shape must match self tensor shape, excluding the specified dimension. "
                 "Got self.shape = %s source.shape = %s", cg_shape_str(a->shape, a->ndim, b1, sizeof b1),
                 cg_shape_str(src->shape, src->ndim, b2, sizeof b2));
    return -1;
}

/* index_copy's, in PyTorch's order (a scalar source or destination takes any shape of one element). */
static int check_index_copy(const cg_tensor *a, int64_t d, const cg_tensor *index, const cg_tensor *src) {
    if (a->ndim && src->ndim && a->ndim != src->ndim) {
        cg_error_set(CG_ERR_INDEX, "index_copy_(): When source and destination are not scalars, their dimensionality "
                     "must match. Source dimensionality (%d), destination dimensionality (%d)", src->ndim, a->ndim);
        return -1;
    }
    if (index->numel != size_at(src, (int)d)) {
        cg_error_set(CG_ERR_INDEX, "index_copy_(): Number of indices (%lld) should be equal to source.size(dim) (%lld)",
                     (long long)index->numel, (long long)size_at(src, (int)d));
        return -1;
    }
    int64_t sa[CG_MAX_DIMS], ss[CG_MAX_DIMS]; /* the slice shapes: the shapes without dim */
    int na = 0, ns = 0;
    for (int k = 0; k < a->ndim; k++)
        if (k != d) sa[na++] = a->shape[k];
    for (int k = 0; k < src->ndim; k++)
        if (k != d) ss[ns++] = src->shape[k];
    if (!cg_shape_eq(sa, na, ss, ns)) {
        char b1[160], b2[160];
        cg_error_set(CG_ERR_RUNTIME, "index_copy_(): Source/destination tensor must have same slice shapes. "
                     "Destination slice shape: %s at dimension %lld and source slice shape: %s at dimension 0.",
                     slice_str(a, d, b1, sizeof b1), (long long)d, slice_str(src, d, b2, sizeof b2));
        return -1;
    }
    if (src->dtype != a->dtype) {
        cg_error_set(CG_ERR_RUNTIME, "index_copy_(): self and source expected to have the same dtype, but got (self) %s and (source) %s",
                     cg_dtype_torch_name((cg_dtype)a->dtype), cg_dtype_torch_name((cg_dtype)src->dtype));
        return -1;
    }
    return 0;
}

static cg_node *index_node(ix_kind kind, cg_tensor *const *ins, int nin, cg_tensor *ix, int64_t d, double alpha,
                           bool *failed) {
    const cg_op *op = kind == IX_ADD ? &index_add_op : kind == IX_COPY ? &index_copy_op
                    : nin == 1 ? &index_fill_op : &index_fill_tensor_op;
    cg_node *n = make_node(op, ins, nin, ix, failed);
    if (n) {
        n->i[0] = d;
        n->i[1] = kind;
        n->f[0] = alpha;
    }
    return n;
}

/* The scatter of `from` (src, or the value in a's dtype) at the slices of
 * `spread` (ix over the scattered shape), with history saving ix. */
static cg_tensor *index_into(ix_kind kind, cg_tensor *a, int64_t d, cg_tensor *ix, cg_tensor *spread, cg_tensor *src,
                             cg_tensor *from, double alpha, bool inplace) {
    cg_tensor *ins[2] = {a, src};
    int nin = kind == IX_FILL && src->is_wrapped ? 1 : 2; /* a Python number is a constant */
    sc_kind how = kind == IX_ADD ? SC_ADD : kind == IX_COPY ? SC_SRC : SC_VALUE;
    bool failed;
    if (inplace) {
        cg_inplace ip;
        if (cg_inplace_begin(&ip, a, ins, nin)) return NULL;
        if (ip.records && !(ip.node = index_node(kind, ins, nin, ix, d, alpha, &failed))) return cg_inplace_abort(&ip);
        if (scatter_into(a, d, spread, from, how)) return cg_inplace_abort(&ip);
        return cg_inplace_finish(&ip);
    }
    cg_tensor *out = cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype);
    if (!out || cg_copy_data(out, a) || scatter_into(out, d, spread, from, how)) {
        cg_tensor_release(out);
        return NULL;
    }
    cg_node *n = index_node(kind, ins, nin, ix, d, alpha, &failed);
    if (failed) {
        cg_tensor_release(out);
        return NULL;
    }
    return finish(out, n);
}

/* src times alpha (no autograd), alpha taken as PyTorch takes it for src's dtype. */
static cg_tensor *scaled_raw(cg_tensor *src, double alpha) {
    bool floating = src->dtype == CG_FLOAT32 || src->dtype == CG_FLOAT64;
    cg_dtype kind = floating ? CG_FLOAT64 : src->dtype == CG_BOOL ? CG_BOOL : CG_INT64;
    cg_tensor *f = cg_scalar_tensor(floating ? alpha : kind == CG_BOOL ? alpha != 0 : (double)(int64_t)alpha, kind, src);
    cg_tensor *r = f ? cg_binary_raw(CG_BIN_MUL, src, f, (cg_dtype)src->dtype) : NULL;
    cg_tensor_release(f);
    return r;
}

/* index_add (src: the source, times alpha), index_copy (the source) or
 * index_fill (src: a 0-d value) of a along dim, into a copy of a or into a. */
static cg_tensor *index_op(ix_kind kind, cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src, double alpha,
                           bool inplace) {
    int64_t d;
    if (cg_wrap_dim(dim, a->ndim, &d) || check_index_vector(index, kind)) return NULL;
    if (kind == IX_FILL && src->ndim != 0) {
        cg_error_set(CG_ERR_RUNTIME, "index_fill_ only supports a 0-dimensional value tensor, but got tensor with %d dimension(s).",
                     src->ndim);
        return NULL;
    }
    if ((kind == IX_ADD && check_index_add(a, d, index, src)) || (kind == IX_COPY && check_index_copy(a, d, index, src)))
        return NULL;
    int64_t size = size_at(a, (int)d), shape[CG_MAX_DIMS];
    int style = kind == IX_COPY ? RANGE_COPY : kind == IX_FILL ? RANGE_FILL : a->ndim <= 1 ? RANGE_SELECT : RANGE_SCATTER;
    if (check_range_as(index, d, size, 1, style)) return NULL; /* index_add of at most 1 dim: as index_select */
    memcpy(shape, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    int snd = a->ndim ? a->ndim : 1; /* a 0-d a is scattered as [1]: every index element counts */
    shape[d] = index->numel;
    cg_tensor *ix = index, *from = src, *out = NULL;
    if (kind == IX_FILL) {
        ix = wrapped_index(index, size);
        from = ix ? cg_cast_raw(src, (cg_dtype)a->dtype) : NULL;
    } else {
        cg_tensor_retain(ix);
        if (kind == IX_ADD && alpha != 1.0)
            from = scaled_raw(src, alpha);
        else
            cg_tensor_retain(from);
    }
    cg_tensor *spread = from ? index_like(ix, shape, snd, d) : NULL;
    if (spread) out = index_into(kind, a, d, ix, spread, src, from, alpha, inplace);
    cg_tensor_release(spread);
    cg_tensor_release(from);
    cg_tensor_release(ix);
    return out;
}

static cg_tensor *index_fill_value(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *value, bool inplace) {
    return index_op(IX_FILL, a, dim, index, value, 1.0, inplace);
}

cg_tensor *cg_index_add(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src, double alpha) {
    return index_op(IX_ADD, a, dim, index, src, alpha, false);
}
cg_tensor *cg_index_add_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src, double alpha) {
    return index_op(IX_ADD, a, dim, index, src, alpha, true);
}
cg_tensor *cg_index_copy(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src) {
    return index_op(IX_COPY, a, dim, index, src, 1.0, false);
}
cg_tensor *cg_index_copy_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src) {
    return index_op(IX_COPY, a, dim, index, src, 1.0, true);
}
cg_tensor *cg_index_fill(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *value) {
    return index_op(IX_FILL, a, dim, index, value, 1.0, false);
}
cg_tensor *cg_index_fill_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *value) {
    return index_op(IX_FILL, a, dim, index, value, 1.0, true);
}

/* ---- masked_scatter, put --------------------------------------------------------------------- */

/* Both take a source's elements in order (its logical, row-major order):
 * masked_scatter writes them where the mask holds, in self's logical order;
 * put writes source[j] at flat position index[j] of self, a negative
 * position counting from the end. */

/* Two tensors of one shape, walked together in logical order. */
typedef struct pair_walk {
    const cg_tensor *a, *b;
    int64_t idx[CG_MAX_DIMS], at_a, at_b; /* element offsets into the storages */
} pair_walk;

static void pair_start(pair_walk *w, const cg_tensor *a, const cg_tensor *b) {
    memset(w, 0, sizeof *w);
    w->a = a, w->b = b, w->at_a = a->offset, w->at_b = b->offset;
}

static void pair_next(pair_walk *w) {
    const cg_tensor *a = w->a, *b = w->b;
    for (int d = a->ndim - 1; d >= 0; d--) {
        w->at_a += a->strides[d], w->at_b += b->strides[d];
        if (++w->idx[d] < a->shape[d]) return;
        w->at_a -= a->strides[d] * a->shape[d], w->at_b -= b->strides[d] * a->shape[d];
        w->idx[d] = 0;
    }
}

static int64_t count_true(const cg_tensor *mask) {
    const uint8_t *m = (const uint8_t *)mask->storage->data;
    int64_t n = 0;
    pair_walk w;
    pair_start(&w, mask, mask);
    for (int64_t e = 0; e < mask->numel; e++, pair_next(&w)) n += m[w.at_a] != 0;
    return n;
}

/* t = {out, mask (out's shape), src (contiguous)}: out where mask = src's elements in order. */
static int masked_scatter_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *mask = k->t[1], *src = k->t[2];
    if (count_true(mask) > src->numel) {
        cg_error_set(CG_ERR_RUNTIME, "Number of elements of source < number of ones in mask");
        return -1;
    }
    size_t isz = (size_t)cg_dtype_size((cg_dtype)out->dtype);
    char *o = out->storage->data;
    const char *s = cg_ptr(src);
    const uint8_t *m = (const uint8_t *)mask->storage->data;
    pair_walk w;
    pair_start(&w, out, mask);
    for (int64_t e = 0, j = 0; e < out->numel; e++, pair_next(&w))
        if (m[w.at_b]) memcpy(o + (size_t)w.at_a * isz, s + (size_t)j++ * isz, isz);
    return 0;
}

/* t = {dst (contiguous, zeros), g, mask (g's shape)}: dst's first elements = g where mask holds, in order. */
static int masked_gather_kernel(const cg_kargs *k) {
    cg_tensor *dst = k->t[0], *g = k->t[1], *mask = k->t[2];
    size_t isz = (size_t)cg_dtype_size((cg_dtype)g->dtype);
    char *o = cg_ptr(dst);
    const char *x = g->storage->data;
    const uint8_t *m = (const uint8_t *)mask->storage->data;
    memset(o, 0, (size_t)dst->numel * isz);
    pair_walk w;
    pair_start(&w, g, mask);
    for (int64_t e = 0, j = 0; e < g->numel && j < dst->numel; e++, pair_next(&w))
        if (m[w.at_b]) memcpy(o + (size_t)j++ * isz, x + (size_t)w.at_a * isz, isz);
    return 0;
}

static cg_tensor *masked_scatter_into(cg_tensor *a, cg_tensor *mask, cg_tensor *src, bool inplace);

/* g's elements where mask holds, in order, then zeros: a tensor of shape
 * (n elements). Its own gradient scatters them back. */
static cg_tensor *masked_gather(cg_tensor *g, cg_tensor *mask, const cg_shape *shape);

static int masked_gather_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *mask = cg_unpack(n, 0);
    cg_tensor *z = mask ? cg_zeros(n->in_shape[0].d, n->in_shape[0].ndim, (cg_dtype)gout[0]->dtype) : NULL;
    gin[0] = z ? masked_scatter_into(z, mask, gout[0], false) : NULL;
    cg_tensor_release(z);
    cg_tensor_release(mask);
    return gin[0] ? 0 : -1;
}
static const cg_op masked_gather_op = {"MaskedScatterBackwardBackward0", masked_gather_backward, NULL};

static cg_tensor *masked_gather(cg_tensor *g, cg_tensor *mask, const cg_shape *shape) {
    cg_tensor *m = cg_expand(mask, g->shape, g->ndim);
    cg_tensor *out = m ? cg_empty(shape->d, shape->ndim, (cg_dtype)g->dtype) : NULL;
    bool failed = !out || (out->numel && cg_kernel(masked_gather_kernel,
                                                   &(cg_kargs){.name = "masked_scatter", .t = {out, g, m}, .nw = 1}));
    cg_node *n = failed ? NULL : make_node(&masked_gather_op, &g, 1, mask, &failed);
    cg_tensor_release(m);
    if (failed) {
        cg_tensor_release(out);
        return NULL;
    }
    return finish(out, n);
}

static int masked_scatter_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* a keeps the gradient where the mask did not hold; the source's
     * elements get those of the places they went to, in order */
    cg_tensor *mask = cg_unpack(n, 0);
    if (!mask) return -1;
    int rc = 0;
    if (cg_wants(n, 0)) {
        cg_tensor *zero = cg_scalar_tensor(0.0, CG_FLOAT64, gout[0]);
        gin[0] = zero ? cg_reduce_grad(n, 0, cg_masked_fill(gout[0], mask, zero)) : NULL;
        cg_tensor_release(zero);
        rc = gin[0] ? 0 : -1;
    }
    if (rc == 0 && cg_wants(n, 1) && !(gin[1] = masked_gather(gout[0], mask, &n->in_shape[1]))) rc = -1;
    cg_tensor_release(mask);
    return rc;
}
static const cg_op masked_scatter_op = {"MaskedScatterBackward0", masked_scatter_backward, NULL};

static int check_masked_scatter(const cg_tensor *a, const cg_tensor *mask, const cg_tensor *src) {
    if (mask->dtype != CG_BOOL) {
        cg_error_set(CG_ERR_RUNTIME, "masked_scatter_ only supports boolean masks, but got mask with dtype %s",
                     cg_dtype_torch_name((cg_dtype)mask->dtype));
        return -1;
    }
    if (src->dtype != a->dtype) {
        cg_error_set(CG_ERR_RUNTIME, "masked_scatter: expected self and source to have same dtypes but got%s and %s",
                     cg_dtype_torch_name((cg_dtype)a->dtype), cg_dtype_torch_name((cg_dtype)src->dtype));
        return -1;
    }
    return 0;
}

/* Kernel fn with arguments k, into a (in place) or into a copy of a
 * broadcast to shape, the result's history a node of op over ins saving
 * keep, with i[0] = i0, when one is due. k->t[0] is set here. */
static cg_tensor *write_op(cg_tensor *a, const int64_t *shape, int nd, cg_tensor *const *ins, int nin, const cg_op *op,
                           cg_tensor *keep, int64_t i0, cg_kernel_fn fn, cg_kargs *k, bool inplace) {
    bool failed;
    if (inplace) {
        cg_inplace ip;
        if (cg_inplace_begin(&ip, a, ins, nin)) return NULL;
        if (ip.records && !(ip.node = make_node(op, ins, nin, keep, &failed))) return cg_inplace_abort(&ip);
        if (ip.node) ip.node->i[0] = i0;
        k->t[0] = a;
        if (cg_kernel(fn, k)) return cg_inplace_abort(&ip);
        return cg_inplace_finish(&ip);
    }
    cg_tensor *big = cg_expand(a, shape, nd), *out = big ? cg_empty(shape, nd, (cg_dtype)a->dtype) : NULL;
    k->t[0] = out;
    failed = !out || cg_copy_data(out, big) || cg_kernel(fn, k);
    cg_tensor_release(big);
    cg_node *n = failed ? NULL : make_node(op, ins, nin, keep, &failed);
    if (failed) {
        cg_tensor_release(out);
        return NULL;
    }
    if (n) n->i[0] = i0;
    return finish(out, n);
}

/* a with src's elements where mask (broadcast) holds: in a, or in a copy of
 * a broadcast with the mask. */
static cg_tensor *masked_scatter_into(cg_tensor *a, cg_tensor *mask, cg_tensor *src, bool inplace) {
    int64_t shape[CG_MAX_DIMS];
    int nd = a->ndim;
    if (check_masked_scatter(a, mask, src)) return NULL;
    if (inplace)
        memcpy(shape, a->shape, sizeof(int64_t) * (size_t)nd);
    else if (cg_broadcast_shapes(mask->shape, mask->ndim, a->shape, a->ndim, shape, &nd))
        return NULL;
    cg_tensor *m = cg_expand(mask, shape, nd), *s = m ? contiguous_raw(src) : NULL, *out = NULL;
    cg_tensor *ins[2] = {a, src};
    if (s) {
        cg_kargs k = {.name = "masked_scatter", .t = {NULL, m, s}, .nw = 1};
        out = write_op(a, shape, nd, ins, 2, &masked_scatter_op, mask, 0, masked_scatter_kernel, &k, inplace);
    }
    cg_tensor_release(m);
    cg_tensor_release(s);
    return out;
}

cg_tensor *cg_masked_scatter(cg_tensor *a, cg_tensor *mask, cg_tensor *src) {
    return masked_scatter_into(a, mask, src, false);
}
cg_tensor *cg_masked_scatter_(cg_tensor *a, cg_tensor *mask, cg_tensor *src) {
    return masked_scatter_into(a, mask, src, true);
}

/* put: the offset of flat position p of t (0 <= p < numel), in elements. */
static int64_t flat_offset(const cg_tensor *t, int64_t p) {
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (p % t->shape[d]) * t->strides[d];
        p /= t->shape[d];
    }
    return off;
}

/* t = {a, index (contiguous), src (contiguous)}, i = {accumulate}: a.flat[index[j]] (+)= src[j]. */
static int put_kernel(const cg_kargs *k) {
    cg_tensor *a = k->t[0], *index = k->t[1], *src = k->t[2];
    const int64_t *ix = (const int64_t *)cg_ptr(index);
    int64_t n = a->numel;
    for (int64_t j = 0; j < index->numel; j++)
        if (ix[j] < -n || ix[j] >= n) {
            if (n == 0)
                cg_error_set(CG_ERR_INDEX, "put_(): Tried to put elements into an empty tensor");
            else
                cg_error_set(CG_ERR_INDEX, "out of range: tried to access index %lld on a tensor of %lld elements.",
                             (long long)ix[j], (long long)n);
            return -1;
        }
    char *o = a->storage->data;
    const char *s = cg_ptr(src);
    cg_dtype dt = (cg_dtype)a->dtype;
    size_t isz = (size_t)cg_dtype_size(dt);
    for (int64_t j = 0; j < index->numel; j++) {
        char *at = o + (size_t)flat_offset(a, ix[j] < 0 ? ix[j] + n : ix[j]) * isz;
        const char *v = s + (size_t)j * isz;
        if (!k->i[0])
            memcpy(at, v, isz);
        else if (dt == CG_FLOAT32)
            *(float *)at += *(const float *)v;
        else if (dt == CG_FLOAT64)
            *(double *)at += *(const double *)v;
        else if (dt == CG_INT64)
            *(int64_t *)at = cg_wrap_add(*(int64_t *)at, *(const int64_t *)v);
        else
            *(uint8_t *)at |= *(const uint8_t *)v;
    }
    return 0;
}

static cg_tensor *put_into(cg_tensor *a, cg_tensor *index, cg_tensor *src, bool accumulate, bool inplace);

static int put_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* put: the replaced elements of a get no gradient; source[j] gets that
     * of a.flat[index[j]]; with accumulate, a passes it through unchanged */
    cg_tensor *index = cg_unpack(n, 0);
    if (!index) return -1;
    int rc = 0;
    if (cg_wants(n, 0)) {
        if (n->i[0]) {
            cg_tensor_retain(gin[0] = gout[0]);
        } else {
            cg_tensor *z = cg_zeros(n->in_shape[1].d, n->in_shape[1].ndim, (cg_dtype)gout[0]->dtype);
            gin[0] = z ? put_into(gout[0], index, z, false, false) : NULL;
            cg_tensor_release(z);
        }
        rc = gin[0] ? 0 : -1;
    }
    if (rc == 0 && cg_wants(n, 1)) {
        static const int64_t flat[1] = {-1};
        cg_tensor *g1 = cg_reshape(gout[0], flat, 1), *i1 = g1 ? cg_reshape(index, flat, 1) : NULL;
        cg_tensor *w = i1 ? wrapped_index(i1, g1->numel) : NULL, *picked = w ? cg_index_select(g1, 0, w) : NULL;
        gin[1] = picked ? cg_reduce_grad(n, 1, cg_reshape(picked, n->in_shape[1].d, n->in_shape[1].ndim)) : NULL;
        cg_tensor_release(picked);
        cg_tensor_release(w);
        cg_tensor_release(i1);
        cg_tensor_release(g1);
        rc = gin[1] ? 0 : -1;
    }
    cg_tensor_release(index);
    return rc;
}
static const cg_op put_op = {"PutBackward0", put_backward, NULL};

static int check_put(const cg_tensor *a, const cg_tensor *index, const cg_tensor *src) {
    if (index->dtype != CG_INT64) {
        cg_error_set(CG_ERR_RUNTIME, "put_(): Expected a long tensor for index, but got %s",
                     cg_dtype_torch_name((cg_dtype)index->dtype));
        return -1;
    }
    if (src->dtype != a->dtype) {
        cg_error_set(CG_ERR_RUNTIME, "put_(): self and source expected to have the same dtype, but got self.dtype = %s "
                     "and source.dtype = %s", cg_dtype_torch_name((cg_dtype)a->dtype), cg_dtype_torch_name((cg_dtype)src->dtype));
        return -1;
    }
    if (src->numel != index->numel) {
        cg_error_set(CG_ERR_INDEX, "put_(): Expected source and index to have the same number of elements, but got "
                     "source.numel() = %lld, index.numel() = %lld", (long long)src->numel, (long long)index->numel);
        return -1;
    }
    return 0;
}

static cg_tensor *put_into(cg_tensor *a, cg_tensor *index, cg_tensor *src, bool accumulate, bool inplace) {
    if (check_put(a, index, src)) return NULL;
    cg_tensor *ix = contiguous_raw(index), *s = ix ? contiguous_raw(src) : NULL, *out = NULL;
    cg_tensor *ins[2] = {a, src};
    if (s) {
        cg_kargs k = {.name = "put", .t = {NULL, ix, s}, .nw = 1, .i = {accumulate}};
        out = write_op(a, a->shape, a->ndim, ins, 2, &put_op, index, accumulate, put_kernel, &k, inplace);
    }
    cg_tensor_release(ix);
    cg_tensor_release(s);
    return out;
}

cg_tensor *cg_put(cg_tensor *a, cg_tensor *index, cg_tensor *src, int accumulate) {
    return put_into(a, index, src, accumulate != 0, false);
}
cg_tensor *cg_put_(cg_tensor *a, cg_tensor *index, cg_tensor *src, int accumulate) {
    return put_into(a, index, src, accumulate != 0, true);
}

/* ---- masked_fill ------------------------------------------------------------------------- */

#define MASKED_FILL_LOOP(NAME, T)                                                            \
    static void NAME(int64_t n, char **d, const int64_t *s) {                                \
        T *o = (T *)d[0];                                                                    \
        const T *x = (const T *)d[1], v = *(const T *)d[3];                                  \
        const uint8_t *m = (const uint8_t *)d[2];                                            \
        for (int64_t i = 0; i < n; i++) o[i * s[0]] = m[i * s[2]] ? v : x[i * s[1]];        \
    }
MASKED_FILL_LOOP(masked_fill_1, uint8_t)
MASKED_FILL_LOOP(masked_fill_4, uint32_t)
MASKED_FILL_LOOP(masked_fill_8, uint64_t)

static int masked_fill_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* filled elements pass no gradient to a; the value gets the sum of theirs */
    cg_tensor *mask = cg_unpack(n, 0);
    if (!mask) return -1;
    int rc = 0;
    if (cg_wants(n, 0)) {
        cg_tensor *zero = cg_scalar_tensor(0.0, CG_FLOAT64, gout[0]);
        gin[0] = zero ? cg_reduce_grad(n, 0, cg_masked_fill(gout[0], mask, zero)) : NULL;
        cg_tensor_release(zero);
        rc = gin[0] ? 0 : -1;
    }
    if (rc == 0 && n->n_next > 1 && cg_wants(n, 1)) {
        cg_tensor *m = cg_cast_raw(mask, (cg_dtype)gout[0]->dtype);
        cg_tensor *gm = m ? cg_mul(gout[0], m) : NULL;
        gin[1] = gm ? cg_reduce_grad(n, 1, cg_sum(gm, NULL, 0, 0)) : NULL;
        cg_tensor_release(m);
        cg_tensor_release(gm);
        rc = gin[1] ? 0 : -1;
    }
    cg_tensor_release(mask);
    return rc;
}
static const cg_op masked_fill_op = {"MaskedFillBackward0", masked_fill_backward, NULL};
static const cg_op masked_fill_tensor_op = {"MaskedFillBackward1", masked_fill_backward, NULL};

/* The element's C++ type, as this error of PyTorch's names it */
static const char *lower_dtype_name(cg_dtype d) {
    static const char *names[CG_NUM_DTYPES] = {"float", "double", "long int", "bool"};
    return names[d];
}

static int check_masked_fill(const cg_tensor *mask, const cg_tensor *value) {
    if (value->ndim != 0) {
        cg_error_set(CG_ERR_RUNTIME,
                     "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with %d dimension(s).",
                     value->ndim);
        return -1;
    }
    if (mask->dtype != CG_BOOL) {
        cg_error_set(CG_ERR_RUNTIME, "masked_fill_ only supports boolean masks, but got mask with dtype %s",
                     lower_dtype_name((cg_dtype)mask->dtype));
        return -1;
    }
    return 0;
}

/* out = where(mask, value, a), value cast to a's dtype; out may be a itself. */
static int masked_fill_into(cg_tensor *out, cg_tensor *a, cg_tensor *mask, cg_tensor *value) {
    cg_tensor *v = cg_cast_raw(value, (cg_dtype)a->dtype);
    if (!v) return -1;
    cg_tensor *operands[3] = {a, mask, v};
    int64_t size = cg_dtype_size((cg_dtype)a->dtype);
    cg_run_loop(size == 1 ? masked_fill_1 : size == 4 ? masked_fill_4 : masked_fill_8, out, operands, 3);
    cg_tensor_release(v);
    return 0;
}

static cg_node *masked_fill_node(cg_tensor *const *ins, cg_tensor *mask, bool *failed) {
    int nin = ins[1]->is_wrapped ? 1 : 2; /* a Python number is a constant */
    return make_node(nin == 1 ? &masked_fill_op : &masked_fill_tensor_op, ins, nin, mask, failed);
}

cg_tensor *cg_masked_fill(cg_tensor *a, cg_tensor *mask, cg_tensor *value) {
    int64_t shape[CG_MAX_DIMS];
    int nd;
    cg_tensor *ins[2] = {a, value};
    if (check_masked_fill(mask, value) || cg_broadcast_shapes(mask->shape, mask->ndim, a->shape, a->ndim, shape, &nd))
        return NULL;
    cg_tensor *out = cg_empty(shape, nd, (cg_dtype)a->dtype);
    bool failed = !out || masked_fill_into(out, a, mask, value);
    cg_node *n = failed ? NULL : masked_fill_node(ins, mask, &failed);
    if (failed) {
        cg_tensor_release(out);
        return NULL;
    }
    return finish(out, n);
}

cg_tensor *cg_masked_fill_(cg_tensor *a, cg_tensor *mask, cg_tensor *value) {
    int64_t shape[CG_MAX_DIMS];
    int nd;
    cg_tensor *ins[2] = {a, value};
    bool failed;
    if (check_masked_fill(mask, value) || cg_broadcast_shapes(mask->shape, mask->ndim, a->shape, a->ndim, shape, &nd))
        return NULL;
    if (!cg_shape_eq(shape, nd, a->shape, a->ndim)) {
        char b1[160], b2[160];
        cg_error_set(CG_ERR_RUNTIME, "output with shape %s doesn't match the broadcast shape %s",
                     cg_shape_str(a->shape, a->ndim, b1, sizeof b1), cg_shape_str(shape, nd, b2, sizeof b2));
        return NULL;
    }
    cg_inplace ip;
    if (cg_inplace_begin(&ip, a, ins, value->is_wrapped ? 1 : 2)) return NULL;
    if (ip.records && !(ip.node = masked_fill_node(ins, mask, &failed))) return cg_inplace_abort(&ip);
    if (masked_fill_into(a, a, mask, value)) return cg_inplace_abort(&ip);
    return cg_inplace_finish(&ip);
}
