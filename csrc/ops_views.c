/* ops_views.c -- diagonals, sliding windows, and copies with a region replaced.
 *
 * diagonal and unfold are views in the way select and slice are (ops_index.c):
 * a region of their input, described both in the input's actual layout (the
 * view's own) and in its logical one (what backward scatters into). Their
 * gradient is that region of zeros filled with the incoming gradient; unfold's
 * windows may overlap, and then the gradients of an element's copies add up.
 *
 * The *_scatter ops are copies of their input with one such region
 * overwritten by src; trace, diag_embed and rot90 are built on the same
 * regions and views.
 */
#include "internal.h"

/* Runs f(a, ...) with grad mode off: a value some other node records. */
#define NO_GRAD(expr)                          \
    ({                                         \
        int on_ = cg_is_grad_enabled();        \
        cg_set_grad_enabled(0);                \
        cg_tensor *r_ = (expr);                \
        cg_set_grad_enabled(on_);              \
        r_;                                    \
    })

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- diagonal --------------------------------------------------------------------- */

/* The elements [.., i, .., i + offset, ..] of g (i along d1, i + offset along
 * d2): those two dims removed, the diagonal appended as the last dim. */
static void diagonal_geom(cg_geom *g, int d1, int d2, int64_t offset) {
    int64_t rows = g->shape[d1], cols = g->shape[d2], len;
    if (offset >= 0) len = offset < cols ? min64(rows, cols - offset) : 0;
    else len = offset > -rows ? min64(rows + offset, cols) : 0;
    if (len > 0) g->offset += offset >= 0 ? offset * g->strides[d2] : -offset * g->strides[d1];
    int64_t stride = g->strides[d1] + g->strides[d2];
    int nd = 0;
    for (int d = 0; d < g->ndim; d++) {
        if (d == d1 || d == d2) continue;
        g->shape[nd] = g->shape[d];
        g->strides[nd++] = g->strides[d];
    }
    g->shape[nd] = len;
    g->strides[nd++] = stride;
    g->ndim = nd;
}

/* dim1 and dim2 of an ndim-dim tensor, wrapped; PyTorch's errors. */
static int diagonal_dims(int ndim, int64_t dim1, int64_t dim2, int *d1, int *d2) {
    int64_t w1, w2;
    if (cg_wrap_dim(dim1, ndim, &w1) || cg_wrap_dim(dim2, ndim, &w2)) return -1;
    if (w1 == w2) {
        cg_error_set(CG_ERR_RUNTIME, "diagonal dimensions cannot be identical %lld, %lld", (long long)dim1,
                     (long long)dim2);
        return -1;
    }
    *d1 = (int)w1;
    *d2 = (int)w2;
    return 0;
}

static const cg_op diagonal_op = {"DiagonalBackward0", cg_region_backward, free};

cg_tensor *cg_diagonal(cg_tensor *a, int64_t offset, int64_t dim1, int64_t dim2) {
    int d1, d2;
    if (diagonal_dims(a->ndim, dim1, dim2, &d1, &d2)) return NULL;
    cg_geom act, rel;
    cg_geom_actual(a, &act);
    cg_geom_contiguous(a->shape, a->ndim, &rel);
    diagonal_geom(&act, d1, d2, offset);
    diagonal_geom(&rel, d1, d2, offset);
    return cg_region_view(&diagonal_op, a, &act, &rel);
}

/* d/dA trace(A) = I: the gradient along the main diagonal, zeros elsewhere */
static int trace_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    const cg_shape *in = &n->in_shape[0];
    cg_geom g;
    cg_geom_contiguous(in->d, in->ndim, &g);
    diagonal_geom(&g, 0, 1, 0);
    cg_tensor *along = cg_expand(gout[0], g.shape, 1);
    gin[0] = along ? cg_scatter_region(along, in, &g) : NULL;
    cg_tensor_release(along);
    return gin[0] ? 0 : -1;
}
static const cg_op trace_op = {"TraceBackward0", trace_backward, NULL};

cg_tensor *cg_trace(cg_tensor *a) {
    if (a->ndim != 2) {
        cg_error_set(CG_ERR_RUNTIME, "trace: expected a matrix, but got tensor with dim %d", a->ndim);
        return NULL;
    }
    if (a->dtype == CG_BOOL) {
        cg_error_set(CG_ERR_NOTIMPL, "\"trace\" not implemented for 'Bool'");
        return NULL;
    }
    cg_tensor *d = NO_GRAD(cg_diagonal(a, 0, 0, 1));
    cg_tensor *out = d ? NO_GRAD(cg_sum(d, NULL, 0, 0)) : NULL;
    cg_tensor_release(d);
    return cg_node_with_ints(&trace_op, out, a, NULL, 0);
}

/* ---- tril, triu ------------------------------------------------------------------------ */

/* t = {out (contiguous, at least 2-d)}, i = {diagonal, lower}: zeros each
 * matrix's elements above (lower) or below (upper) the diagonal-th diagonal. */
static int triangle_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0];
    int64_t rows = out->shape[out->ndim - 2], cols = out->shape[out->ndim - 1];
    int64_t mats = rows && cols ? out->numel / (rows * cols) : 0;
    int64_t diag = k->i[0] < -rows ? -rows : k->i[0] > cols ? cols : k->i[0]; /* no overflow below */
    size_t isz = cg_dtype_size((cg_dtype)out->dtype);
    char *p = cg_ptr(out);
    for (int64_t m = 0; m < mats; m++)
        for (int64_t r = 0; r < rows; r++) {
            int64_t edge = r + diag; /* the diagonal's column in row r */
            int64_t from = k->i[1] ? edge + 1 : 0, to = k->i[1] ? cols : edge;
            from = from < 0 ? 0 : from > cols ? cols : from;
            to = to < 0 ? 0 : to > cols ? cols : to;
            if (to > from) memset(p + ((m * rows + r) * cols + from) * (int64_t)isz, 0, (size_t)(to - from) * isz);
        }
    return 0;
}

static int tril_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* the kept elements pass their gradient, the zeroed ones none */
    return (gin[0] = cg_triangle(gout[0], n->i[0], true)) ? 0 : -1;
}
static int triu_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    return (gin[0] = cg_triangle(gout[0], n->i[0], false)) ? 0 : -1;
}
static const cg_op tril_op = {"TrilBackward0", tril_backward, NULL};
static const cg_op triu_op = {"TriuBackward0", triu_backward, NULL};

cg_tensor *cg_triangle(cg_tensor *a, int64_t diagonal, int lower) {
    if (a->ndim < 2) {
        cg_error_set(CG_ERR_RUNTIME, "%s: input tensor must have at least 2 dimensions", lower ? "tril" : "triu");
        return NULL;
    }
    cg_tensor *out = cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype);
    if (!out || cg_copy_data(out, a) ||
        cg_kernel(triangle_kernel, &(cg_kargs){.name = lower ? "tril" : "triu", .t = {out}, .nw = 1, .i = {diagonal, lower}})) {
        cg_tensor_release(out);
        return NULL;
    }
    return cg_node_with_ints(lower ? &tril_op : &triu_op, out, a, &diagonal, 1);
}

/* In place, the node is the out-of-place one's, its edge a's old history. */
cg_tensor *cg_triangle_(cg_tensor *a, int64_t diagonal, int lower) {
    cg_inplace ip;
    if (cg_inplace_begin(&ip, a, &a, 1)) return NULL;
    return cg_inplace_take(&ip, cg_triangle(a, diagonal, lower));
}

/* ---- diag_embed --------------------------------------------------------------------- */

static int diag_embed_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* the input's elements sit on the output's diagonal: take it back */
    return (gin[0] = cg_diagonal(gout[0], n->i[0], n->i[1], n->i[2])) ? 0 : -1;
}
static const cg_op diag_embed_op = {"DiagEmbedBackward0", diag_embed_backward, NULL};

/* Zeros of out_shape with a written along their diagonal (region g). */
static cg_tensor *zeros_with_region(const int64_t *out_shape, int nd, const cg_geom *g, cg_tensor *a) {
    cg_tensor *out = cg_zeros(out_shape, nd, (cg_dtype)a->dtype);
    cg_tensor *region = out ? cg_alias(out, g->shape, g->strides, g->ndim, g->offset) : NULL;
    int rc = region ? cg_copy_data(region, a) : -1;
    cg_tensor_release(region);
    if (rc) {
        cg_tensor_release(out);
        return NULL;
    }
    return out;
}

cg_tensor *cg_diag_embed(cg_tensor *a, int64_t offset, int64_t dim1, int64_t dim2) {
    int nd = a->ndim + 1, d1, d2;
    if (diagonal_dims(nd, dim1, dim2, &d1, &d2)) return NULL;
    if (nd > CG_MAX_DIMS) {
        cg_check_shape(a->shape, nd); /* sets the error */
        return NULL;
    }
    if (offset > INT64_MAX / 4 || offset < -INT64_MAX / 4) offset = offset < 0 ? -INT64_MAX / 4 : INT64_MAX / 4;
    int64_t side = a->shape[a->ndim - 1] + (offset < 0 ? -offset : offset), shape[CG_MAX_DIMS];
    for (int d = 0, j = 0; d < nd; d++) shape[d] = d == d1 || d == d2 ? side : a->shape[j++];
    cg_geom g;
    cg_geom_contiguous(shape, nd, &g);
    diagonal_geom(&g, d1, d2, offset);
    int64_t ints[3] = {offset, d1, d2};
    return cg_node_with_ints(&diag_embed_op, zeros_with_region(shape, nd, &g, a), a, ints, 3);
}

/* ---- unfold ------------------------------------------------------------------------------ */

/* Windows of `size` elements along d, every `step`: dim d counts the
 * windows, a new last dim runs within one. A 0-d g has one window of its
 * element (size 1) or none: a 1-d result of `size` elements. */
static void unfold_geom(cg_geom *g, int d, int64_t size, int64_t step) {
    if (g->ndim == 0) {
        g->ndim = 1;
        g->shape[0] = size;
        g->strides[0] = 1;
        return;
    }
    g->shape[g->ndim] = size;
    g->strides[g->ndim] = g->strides[d];
    g->ndim++;
    g->shape[d] = (g->shape[d] - size) / step + 1;
    g->strides[d] *= step;
}

/* Window element k of every window: the region of g's last dim at k. */
static cg_tensor *window_element_grad(cg_tensor *g, const cg_shape *in, const cg_geom *region, int64_t k) {
    cg_geom one = *region;
    one.ndim--;
    one.offset += k * region->strides[region->ndim - 1];
    cg_tensor *piece = cg_select(g, -1, k);
    cg_tensor *r = piece ? cg_scatter_region(piece, in, &one) : NULL;
    cg_tensor_release(piece);
    return r;
}

static int unfold_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* each window passes its gradient back to the elements it covers; where
     * windows overlap (step < size), an element's copies add up */
    const cg_geom *region = n->extra;
    if (n->i[1] >= n->i[0]) return cg_region_backward(n, gout, gin);
    cg_tensor *sum = NULL;
    for (int64_t k = 0; k < n->i[0]; k++) {
        cg_tensor *part = window_element_grad(gout[0], &n->in_shape[0], region, k);
        if (!part) {
            cg_tensor_release(sum);
            return -1;
        }
        if (!sum) {
            sum = part;
            continue;
        }
        cg_tensor *next = cg_add(sum, part);
        cg_tensor_release(sum);
        cg_tensor_release(part);
        if (!(sum = next)) return -1;
    }
    gin[0] = sum;
    return 0;
}
static const cg_op unfold_op = {"UnfoldBackward0", unfold_backward, free};

static int unfold_check(const cg_tensor *a, int64_t d, int64_t size, int64_t step) {
    int64_t max = a->ndim ? a->shape[d] : 1;
    if (size > max) {
        cg_error_set(CG_ERR_RUNTIME, "maximum size for tensor at dimension %lld is %lld but size is %lld",
                     (long long)d, (long long)max, (long long)size);
        return -1;
    }
    if (size < 0) {
        cg_error_set(CG_ERR_RUNTIME, "size is %lld but must be >= 0", (long long)size);
        return -1;
    }
    if (step <= 0) {
        cg_error_set(CG_ERR_RUNTIME, "step is %lld but must be > 0", (long long)step);
        return -1;
    }
    if (a->ndim + 1 > CG_MAX_DIMS) return cg_check_shape(a->shape, a->ndim + 1); /* sets the error */
    return 0;
}

cg_tensor *cg_unfold(cg_tensor *a, int64_t dimension, int64_t size, int64_t step) {
    int64_t d;
    if (cg_wrap_dim(dimension, a->ndim, &d) || unfold_check(a, d, size, step)) return NULL;
    cg_geom act, rel;
    cg_geom_actual(a, &act);
    cg_geom_contiguous(a->shape, a->ndim, &rel);
    unfold_geom(&act, (int)d, size, step);
    unfold_geom(&rel, (int)d, size, step);
    cg_tensor *out = cg_region_view(&unfold_op, a, &act, &rel);
    if (out && out->grad_fn && out->grad_fn->op == &unfold_op) { /* backward: do the windows overlap? */
        out->grad_fn->i[0] = size;
        out->grad_fn->i[1] = step;
    }
    return out;
}

/* ---- diagonal_scatter / select_scatter / slice_scatter ----------------------------------- */

static const cg_op diagonal_scatter_op = {"DiagonalScatterBackward0", cg_region_scatter_backward, free};
static const cg_op select_scatter_op = {"SelectScatterBackward0", cg_region_scatter_backward, free};
static const cg_op slice_scatter_op = {"SliceScatterBackward0", cg_region_scatter_backward, free};

/* a copy of a, its region g replaced by src (whose shape must be g's) */
static cg_tensor *scatter_into(const cg_op *op, cg_tensor *a, cg_tensor *src, const cg_geom *g) {
    if (!cg_shape_eq(src->shape, src->ndim, g->shape, g->ndim)) {
        char b1[160], b2[160];
        cg_error_set(CG_ERR_RUNTIME,
                     "expected src to have a size equal to the slice of self. src size = %s, slice size = %s",
                     cg_shape_str(src->shape, src->ndim, b1, sizeof b1), cg_shape_str(g->shape, g->ndim, b2, sizeof b2));
        return NULL;
    }
    return cg_region_scatter(op, a, src, g);
}

cg_tensor *cg_diagonal_scatter(cg_tensor *a, cg_tensor *src, int64_t offset, int64_t dim1, int64_t dim2) {
    int d1, d2;
    if (diagonal_dims(a->ndim, dim1, dim2, &d1, &d2)) return NULL;
    cg_geom g;
    cg_geom_contiguous(a->shape, a->ndim, &g);
    diagonal_geom(&g, d1, d2, offset);
    return scatter_into(&diagonal_scatter_op, a, src, &g);
}

cg_tensor *cg_select_scatter(cg_tensor *a, cg_tensor *src, int64_t dim, int64_t index) {
    int64_t d;
    char buf[160];
    if (a->ndim == 0) {
        cg_error_set(CG_ERR_INDEX, "select() cannot be applied to a 0-dim tensor.");
        return NULL;
    }
    if (cg_wrap_dim(dim, a->ndim, &d)) return NULL;
    int64_t size = a->shape[d];
    if (index < -size || index >= size) {
        cg_error_set(CG_ERR_INDEX, "select(): index %lld out of range for tensor of size %s at dimension %lld",
                     (long long)index, cg_shape_str(a->shape, a->ndim, buf, sizeof buf), (long long)dim);
        return NULL;
    }
    cg_geom g;
    cg_geom_contiguous(a->shape, a->ndim, &g);
    cg_geom_select(&g, (int)d, index < 0 ? index + size : index);
    return scatter_into(&select_scatter_op, a, src, &g);
}

cg_tensor *cg_slice_scatter(cg_tensor *a, cg_tensor *src, int64_t dim, int64_t start, int64_t stop, int64_t step) {
    int64_t d;
    if (a->ndim == 0) {
        cg_error_set(CG_ERR_INDEX, "slice() cannot be applied to a 0-dim tensor.");
        return NULL;
    }
    if (cg_wrap_dim(dim, a->ndim, &d)) return NULL;
    if (step <= 0) {
        cg_error_set(CG_ERR_RUNTIME, "slice step must be positive");
        return NULL;
    }
    int64_t len = cg_slice_bounds(a->shape[d], &start, stop, step);
    cg_geom g;
    cg_geom_contiguous(a->shape, a->ndim, &g);
    cg_geom_slice(&g, (int)d, start, len, step);
    return scatter_into(&slice_scatter_op, a, src, &g);
}

/* ---- rot90 ---------------------------------------------------------------------------------- */

static int rot90_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* rotating back: k turns the other way */
    return (gin[0] = cg_rot90(gout[0], -n->i[0], &n->i[1], 2)) ? 0 : -1;
}
static const cg_op rot90_op = {"Rot90Backward0", rot90_backward, NULL};

/* a turned k (0 to 3) quarter turns from d0 towards d1: a flip and a
 * transpose, made into a tensor of its own (no view of the flipped copy) */
static cg_tensor *rotate(cg_tensor *a, int64_t k, int64_t d0, int64_t d1) {
    int64_t both[2] = {d0, d1};
    if (k == 0) return cg_clone(a);
    if (k == 2) return cg_flip(a, both, 2);
    cg_tensor *f = cg_flip(a, k == 1 ? &d1 : &d0, 1);
    cg_tensor *t = f ? cg_transpose(f, d0, d1) : NULL;
    cg_tensor_release(f);
    if (t) { /* the flipped copy is private: t is not a view of anything */
        cg_tensor_release(t->base);
        t->base = NULL;
    }
    return t;
}

cg_tensor *cg_rot90(cg_tensor *a, int64_t k, const int64_t *dims, int ndims) {
    if (ndims != 2) {
        cg_error_set(CG_ERR_RUNTIME, "expected total rotation dims == 2, but got dims = %d", ndims);
        return NULL;
    }
    if (a->ndim < 2) {
        cg_error_set(CG_ERR_RUNTIME, "expected total dims >= 2, but got total dims = %d", a->ndim);
        return NULL;
    }
    int64_t w[2];
    if (cg_wrap_dim(dims[0], a->ndim, &w[0]) || cg_wrap_dim(dims[1], a->ndim, &w[1])) return NULL;
    if (w[0] == w[1]) {
        cg_error_set(CG_ERR_RUNTIME, "expected rotation dims to be different, but got dim0 = %lld and dim1 = %lld",
                     (long long)dims[0], (long long)dims[1]);
        return NULL;
    }
    k = ((k % 4) + 4) % 4;
    int64_t ints[3] = {k, w[0], w[1]};
    return cg_node_with_ints(&rot90_op, NO_GRAD(rotate(a, k, w[0], w[1])), a, ints, 3);
}

/* ---- aminmax: both extremes, one node ------------------------------------------------------ */

/* g (of the reduction's result, the reduced dims kept or not) shared evenly
 * among the elements of a equal to the kept-dims result r */
static cg_tensor *share_ties(cg_node *n, cg_tensor *a, cg_tensor *r, cg_tensor *g) {
    int64_t keep[CG_MAX_DIMS], dims[CG_MAX_DIMS];
    int nd = 0;
    uint32_t mask = (uint32_t)n->i[0];
    for (int d = 0; d < a->ndim; d++) {
        keep[d] = mask & (1u << d) ? 1 : a->shape[d];
        if (mask & (1u << d)) dims[nd++] = d;
    }
    cg_tensor *gk = cg_reshape(g, keep, a->ndim), *rk = r ? cg_reshape(r, keep, a->ndim) : NULL;
    cg_tensor *hit_b = rk ? cg_eq(a, rk) : NULL;
    cg_tensor *hit = hit_b ? cg_to_dtype(hit_b, (cg_dtype)g->dtype) : NULL;
    cg_tensor *count = hit ? cg_sum(hit, dims, nd, 1) : NULL;
    cg_tensor *share = count && gk ? cg_div(gk, count) : NULL;
    cg_tensor *out = share ? cg_mul(share, hit) : NULL;
    cg_tensor *tmp[] = {gk, rk, hit_b, hit, count, share};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) cg_tensor_release(tmp[i]);
    return out;
}

/* d min(a)/da_i = 1/k for the k elements equal to the min, else 0; max alike */
static int aminmax_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *a = cg_unpack(n, 0), *sum = NULL;
    bool failed = !a;
    for (int k = 0; k < 2 && !failed; k++) {
        if (!gout[k]) continue;
        cg_tensor *r = cg_unpack(n, 1 + k);
        cg_tensor *part = r ? share_ties(n, a, r, gout[k]) : NULL;
        cg_tensor_release(r);
        cg_tensor *next = part && sum ? cg_add(sum, part) : part;
        if (next != part) cg_tensor_release(part);
        if (next != sum) cg_tensor_release(sum);
        failed = !(sum = next);
    }
    cg_tensor_release(a);
    gin[0] = sum;
    return failed ? -1 : 0;
}
static const cg_op aminmax_op = {"AminmaxBackward0", aminmax_backward, NULL};

static int record_aminmax(cg_tensor *a, cg_tensor *mn, cg_tensor *mx, uint32_t mask, int keepdim) {
    cg_node *n = cg_node_new(&aminmax_op, &a, 1, 2);
    if (!n) return -1;
    n->i[0] = mask;
    n->i[1] = keepdim;
    cg_set_history(mn, n, 0);
    cg_set_history(mx, n, 1);
    int rc = cg_save(n, 0, a, false) || cg_save(n, 1, mn, true) || cg_save(n, 2, mx, true) ? -1 : 0;
    cg_node_release(n);
    return rc;
}

cg_tensor *cg_aminmax(cg_tensor *a, const int64_t *dims, int ndims, int keepdim, cg_tensor **max) {
    uint32_t mask = 0;
    for (int k = 0; k < ndims; k++) {
        int64_t d;
        if (cg_wrap_dim(dims[k], a->ndim, &d)) return NULL;
        mask |= 1u << d;
    }
    if (!dims || !ndims) mask = a->ndim ? (1u << a->ndim) - 1 : 0;
    cg_tensor *mn = NO_GRAD(cg_amin(a, dims, ndims, keepdim));
    cg_tensor *mx = mn ? NO_GRAD(cg_amax(a, dims, ndims, keepdim)) : NULL;
    if (mx && cg_any_requires_grad(&a, 1) && record_aminmax(a, mn, mx, mask, keepdim)) {
        cg_tensor_release(mx);
        mx = NULL;
    }
    if (!mx) {
        cg_tensor_release(mn);
        return NULL;
    }
    *max = mx;
    return mn;
}
