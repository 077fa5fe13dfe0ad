/* ops_index.c -- regions, selecting, slicing, splitting and joining.
 *
 * select, slice and narrow are views; their gradient is the region they
 * cover, filled with the incoming gradient, inside zeros of the input's
 * shape (cg_as_strided_scatter). Regions are described relative to the
 * input's logical layout (cg_geom), so the same backward serves every view.
 */
#include "internal.h"

/* ---- regions --------------------------------------------------------------- */

void cg_geom_contiguous(const int64_t *shape, int ndim, cg_geom *g) {
    g->ndim = ndim;
    g->offset = 0;
    memcpy(g->shape, shape, (size_t)ndim * sizeof(int64_t));
    cg_contiguous_strides(shape, ndim, g->strides);
}

void cg_geom_actual(const cg_tensor *t, cg_geom *g) {
    g->ndim = t->ndim;
    g->offset = t->offset;
    memcpy(g->shape, t->shape, sizeof g->shape);
    memcpy(g->strides, t->strides, sizeof g->strides);
}

static cg_geom *geom_dup(const cg_geom *g) {
    cg_geom *c = malloc(sizeof *c);
    if (!c) return cg_oom((int64_t)sizeof *c);
    *c = *g;
    return c;
}

int cg_view_geom(const cg_tensor *v, cg_geom *g) {
    const cg_tensor *base = v->base ? v->base : v;
    if (!cg_tensor_is_contiguous(base)) return -1;
    cg_geom_actual(v, g);
    g->offset -= base->offset;
    if (!v->numel) return 0;
    int64_t lo = g->offset, hi = g->offset; /* as_strided may reach storage the base does not hold */
    for (int d = 0; d < g->ndim; d++) hi += (g->shape[d] - 1) * g->strides[d];
    return lo < 0 || hi >= base->numel ? -1 : 0;
}

static cg_tensor *alias_geom(cg_tensor *a, const cg_geom *g, int64_t base_offset) {
    return cg_alias(a, g->shape, g->strides, g->ndim, base_offset + g->offset);
}

/* Records a one-input op whose node keeps a region (or other data) in extra. */
static cg_tensor *record_extra(const cg_op *op, cg_tensor *out, cg_tensor *a, void *extra) {
    if (!out || !cg_any_requires_grad(&a, 1)) {
        free(extra);
        return out;
    }
    cg_node *n = extra ? cg_node_new(op, &a, 1, 1) : cg_oom((int64_t)sizeof(cg_geom));
    if (!n) {
        free(extra);
        cg_tensor_release(out);
        return NULL;
    }
    n->extra = extra;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

static cg_geom *geom_for_record(const cg_tensor *a, const cg_geom *g) {
    return cg_any_requires_grad((cg_tensor *const *)&a, 1) ? geom_dup(g) : NULL;
}

/* A view's gradient: zeros of the input's shape with the region set to g. */
cg_tensor *cg_scatter_region(cg_tensor *g, const cg_shape *in, const cg_geom *region) {
    cg_tensor *z = cg_zeros(in->d, in->ndim, (cg_dtype)g->dtype);
    cg_tensor *r = z ? cg_as_strided_scatter(z, g, region) : NULL;
    cg_tensor_release(z);
    return r;
}

int cg_region_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* a view passes each element's gradient back to where it came from; where
     * the region repeats one element along a dim (stride 0, an expanded view),
     * that element gets the sum over the dim */
    const cg_geom *region = n->extra;
    int64_t dims[CG_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < region->ndim; d++)
        if (region->strides[d] == 0 && region->shape[d] > 1) dims[nd++] = d;
    cg_geom once = *region;
    for (int i = 0; i < nd; i++) once.shape[dims[i]] = 1;
    if (cg_geom_may_overlap(&once)) { /* windows that overlap (as_strided): copies of an element add up */
        const cg_shape *in = &n->in_shape[0];
        cg_geom all;
        cg_geom_contiguous(in->d, in->ndim, &all);
        return (gin[0] = cg_through_storage(gout[0], region, &all, false)) ? 0 : -1;
    }
    if (!nd) return (gin[0] = cg_scatter_region(gout[0], &n->in_shape[0], region)) ? 0 : -1;
    cg_tensor *summed = cg_sum(gout[0], dims, nd, 1);
    gin[0] = summed ? cg_scatter_region(summed, &n->in_shape[0], &once) : NULL;
    cg_tensor_release(summed);
    return gin[0] ? 0 : -1;
}

static const cg_op as_strided_op = {"AsStridedBackward0", cg_region_backward, free};

cg_tensor *cg_as_strided(cg_tensor *a, const cg_geom *g) {
    cg_tensor *c = cg_contiguous(a); /* regions address the logical layout */
    if (!c) return NULL;
    cg_tensor *out = alias_geom(c, g, c->offset);
    if (c != a && out) { /* a view of a private copy: its history is the copy's */
        cg_tensor *r = record_extra(&as_strided_op, out, c, geom_for_record(c, g));
        cg_tensor_release(c);
        return r;
    }
    cg_tensor_release(c);
    return record_extra(&as_strided_op, out, a, geom_for_record(a, g));
}

int cg_region_scatter_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dbase: g outside the region; d/dsrc: g's region */
    const cg_geom *region = n->extra;
    if (cg_wants(n, 0)) {
        cg_tensor *z = cg_zeros(region->shape, region->ndim, (cg_dtype)gout[0]->dtype);
        gin[0] = z ? cg_as_strided_scatter(gout[0], z, region) : NULL;
        cg_tensor_release(z);
        if (!gin[0]) return -1;
    }
    if (cg_wants(n, 1) && !(gin[1] = cg_reduce_grad(n, 1, cg_as_strided(gout[0], region)))) return -1;
    return 0;
}
static const cg_op as_strided_scatter_op = {"AsStridedScatterBackward0", cg_region_scatter_backward, free};

cg_tensor *cg_region_scatter(const cg_op *op, cg_tensor *base, cg_tensor *src, const cg_geom *g) {
    cg_tensor *out = cg_empty(base->shape, base->ndim, (cg_dtype)base->dtype);
    if (!out) return NULL;
    cg_tensor *region = NULL;
    if (cg_copy_data(out, base) || !(region = alias_geom(out, g, 0)) || cg_copy_data(region, src)) {
        cg_tensor_release(region);
        cg_tensor_release(out);
        return NULL;
    }
    cg_tensor_release(region);
    cg_tensor *ins[2] = {base, src};
    if (!cg_any_requires_grad(ins, 2)) return out;
    cg_node *n = cg_node_new(op, ins, 2, 1);
    if (!n || !(n->extra = geom_dup(g))) {
        cg_node_release(n);
        cg_tensor_release(out);
        return NULL;
    }
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

cg_tensor *cg_as_strided_scatter(cg_tensor *base, cg_tensor *src, const cg_geom *g) {
    return cg_region_scatter(&as_strided_scatter_op, base, src, g);
}

/* ---- select / slice / narrow ---------------------------------------------------- */

void cg_geom_select(cg_geom *g, int d, int64_t index) {
    g->offset += index * g->strides[d];
    for (int i = d; i + 1 < g->ndim; i++) {
        g->shape[i] = g->shape[i + 1];
        g->strides[i] = g->strides[i + 1];
    }
    g->ndim--;
}

void cg_geom_slice(cg_geom *g, int d, int64_t start, int64_t len, int64_t step) {
    g->offset += start * g->strides[d];
    g->shape[d] = len;
    g->strides[d] *= step;
}

/* Clamps start and stop into [0, size] as Python's slicing does (negative
 * ones count from the end); returns the slice's length, *start its start. */
int64_t cg_slice_bounds(int64_t size, int64_t *start, int64_t stop, int64_t step) {
    int64_t lo = *start;
    if (lo < 0) lo += size;
    if (stop < 0) stop += size;
    lo = lo < 0 ? 0 : lo > size ? size : lo;
    stop = stop < lo ? lo : stop > size ? size : stop;
    *start = lo;
    return stop == lo ? 0 : (stop - lo - 1) / step + 1; /* no overflow for a huge step */
}

static const cg_op select_op = {"SelectBackward0", cg_region_backward, free};
static const cg_op slice_op = {"SliceBackward0", cg_region_backward, free};

cg_tensor *cg_region_view(const cg_op *op, cg_tensor *a, const cg_geom *act, const cg_geom *rel) {
    cg_tensor *out = cg_alias(a, act->shape, act->strides, act->ndim, act->offset);
    return record_extra(op, out, a, geom_for_record(a, rel));
}

/* The view of a given by selecting or slicing both its layouts. */
static cg_tensor *region_view(const cg_op *op, cg_tensor *a, int d, int64_t x, int64_t len, int64_t step,
                              bool select) {
    cg_geom act, rel;
    cg_geom_actual(a, &act);
    cg_geom_contiguous(a->shape, a->ndim, &rel);
    if (select) {
        cg_geom_select(&act, d, x);
        cg_geom_select(&rel, d, x);
    } else {
        cg_geom_slice(&act, d, x, len, step);
        cg_geom_slice(&rel, d, x, len, step);
    }
    return cg_region_view(op, a, &act, &rel);
}

cg_tensor *cg_select(cg_tensor *a, int64_t dim, int64_t index) {
    if (a->ndim == 0) {
        cg_error_set(CG_ERR_INDEX, "select() cannot be applied to a 0-dim tensor.");
        return NULL;
    }
    int64_t d;
    if (cg_wrap_dim(dim, a->ndim, &d)) return NULL;
    int64_t size = a->shape[d];
    if (index < -size || index >= size) {
        cg_error_set(CG_ERR_INDEX, "index %lld is out of bounds for dimension %lld with size %lld",
                     (long long)index, (long long)d, (long long)size);
        return NULL;
    }
    return region_view(&select_op, a, (int)d, index < 0 ? index + size : index, 0, 0, true);
}

cg_tensor *cg_slice(cg_tensor *a, int64_t dim, int64_t start, int64_t stop, int64_t step) {
    if (a->ndim == 0) {
        cg_error_set(CG_ERR_INDEX, "slice() cannot be applied to a 0-dim tensor.");
        return NULL;
    }
    if (step <= 0) {
        cg_error_set(CG_ERR_VALUE, "step must be greater than zero");
        return NULL;
    }
    int64_t d;
    if (cg_wrap_dim(dim, a->ndim, &d)) return NULL;
    int64_t len = cg_slice_bounds(a->shape[d], &start, stop, step);
    return region_view(&slice_op, a, (int)d, start, len, step, false);
}

cg_tensor *cg_narrow(cg_tensor *a, int64_t dim, int64_t start, int64_t length) {
    if (a->ndim == 0) {
        cg_error_set(CG_ERR_RUNTIME, "narrow() cannot be applied to a 0-dim tensor.");
        return NULL;
    }
    int64_t d;
    if (cg_wrap_dim(dim, a->ndim, &d)) return NULL;
    int64_t size = a->shape[d];
    if (start < -size || start > size) {
        cg_error_set(CG_ERR_INDEX, "start out of range (expected to be in range of [%lld, %lld], but got %lld)",
                     (long long)-size, (long long)size, (long long)start);
        return NULL;
    }
    if (start < 0) start += size;
    if (length < 0 || start + length > size) {
        cg_error_set(CG_ERR_RUNTIME, "start (%lld) + length (%lld) exceeds dimension size (%lld).",
                     (long long)start, (long long)length, (long long)size);
        return NULL;
    }
    return region_view(&slice_op, a, (int)d, start, length, 1, false);
}

/* ---- split / unbind: one node, several outputs ------------------------------------- */

typedef struct split_info {
    int64_t dim;
    int stacked; /* unbind: outputs lost the dim */
    int n;
    int64_t sizes[]; /* along dim */
} split_info;

/* The gradient of every piece, zeros where none arrived, joined back. */
static int split_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    const split_info *info = n->extra;
    const cg_shape *in = &n->in_shape[0];
    cg_tensor **parts = calloc((size_t)info->n, sizeof(cg_tensor *));
    if (!parts) {
        cg_oom((int64_t)info->n * 8);
        return -1;
    }
    int rc = 0;
    for (int k = 0; k < info->n && rc == 0; k++) {
        if (gout[k]) {
            cg_tensor_retain(gout[k]);
            parts[k] = gout[k];
            continue;
        }
        int64_t shape[CG_MAX_DIMS];
        int nd = 0;
        for (int d = 0; d < in->ndim; d++) {
            if (d == info->dim && info->stacked) continue;
            shape[nd++] = d == info->dim ? info->sizes[k] : in->d[d];
        }
        cg_dtype dtype = (cg_dtype)n->in_dtype[0];
        if (!(parts[k] = cg_zeros(shape, nd, dtype))) rc = -1;
    }
    if (rc == 0) {
        gin[0] = info->stacked ? cg_stack(parts, info->n, info->dim) : cg_cat(parts, info->n, info->dim);
        if (!gin[0]) rc = -1;
    }
    for (int k = 0; k < info->n; k++) cg_tensor_release(parts[k]);
    free(parts);
    return rc;
}
static const cg_op split_op = {"SplitBackward0", split_backward, free};
static const cg_op split_sizes_op = {"SplitWithSizesBackward0", split_backward, free};
static const cg_op unbind_op = {"UnbindBackward0", split_backward, free};

static int record_pieces(const cg_op *op, cg_tensor *a, cg_tensor **out, int n, int64_t dim,
                         const int64_t *sizes, int stacked) {
    if (!cg_any_requires_grad(&a, 1)) return 0;
    split_info *info = malloc(sizeof *info + (size_t)n * sizeof(int64_t));
    cg_node *node = info ? cg_node_new(op, &a, 1, (uint32_t)n) : NULL;
    if (!node) {
        free(info);
        if (!info) cg_oom((int64_t)n * 8);
        return -1;
    }
    info->dim = dim;
    info->stacked = stacked;
    info->n = n;
    memcpy(info->sizes, sizes, (size_t)n * sizeof(int64_t));
    node->extra = info;
    for (int k = 0; k < n; k++) cg_set_history(out[k], node, (uint32_t)k);
    cg_node_release(node);
    return 0;
}

static void release_all(cg_tensor **ts, int n) {
    for (int k = 0; k < n; k++) {
        cg_tensor_release(ts[k]);
        ts[k] = NULL;
    }
}

int cg_split_with_sizes(cg_tensor *a, const int64_t *sizes, int n, int64_t dim, int equal_split,
                        cg_tensor **out) {
    int64_t d;
    if (a->ndim == 0) {
        cg_error_set(CG_ERR_RUNTIME, "split expects at least a 1-dimensional tensor");
        return -1;
    }
    if (cg_wrap_dim(dim, a->ndim, &d)) return -1;
    int64_t total = 0;
    for (int k = 0; k < n; k++) total += sizes[k];
    if (total != a->shape[d]) {
        char buf[200];
        cg_error_set(CG_ERR_RUNTIME,
                     "split_with_sizes expects split_sizes to sum exactly to %lld (input tensor's size at "
                     "dimension %lld), but got split_sizes=%s",
                     (long long)a->shape[d], (long long)d, cg_shape_str(sizes, n, buf, sizeof buf));
        return -1;
    }
    int grad_mode = cg_is_grad_enabled();
    cg_set_grad_enabled(0); /* the pieces are raw views; one node records them */
    int64_t start = 0;
    for (int k = 0; k < n; k++) {
        out[k] = cg_narrow(a, d, start, sizes[k]);
        start += sizes[k];
        if (!out[k]) {
            cg_set_grad_enabled(grad_mode);
            release_all(out, k);
            return -1;
        }
    }
    cg_set_grad_enabled(grad_mode);
    if (record_pieces(equal_split ? &split_op : &split_sizes_op, a, out, n, d, sizes, 0)) {
        release_all(out, n);
        return -1;
    }
    return 0;
}

int cg_unbind(cg_tensor *a, int64_t dim, cg_tensor **out) {
    int64_t d;
    if (a->ndim == 0) {
        cg_error_set(CG_ERR_RUNTIME, "Dimension specified as 0 but tensor has no dimensions");
        return -1;
    }
    if (cg_wrap_dim(dim, a->ndim, &d)) return -1;
    int n = (int)a->shape[d];
    int64_t *ones = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    if (!ones) {
        cg_oom((int64_t)n * 8);
        return -1;
    }
    int grad_mode = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    int rc = 0;
    for (int k = 0; k < n && rc == 0; k++) {
        ones[k] = 1;
        if (!(out[k] = cg_select(a, d, k))) {
            release_all(out, k);
            rc = -1;
        }
    }
    cg_set_grad_enabled(grad_mode);
    if (rc == 0 && record_pieces(&unbind_op, a, out, n, d, ones, 1)) {
        release_all(out, n);
        rc = -1;
    }
    free(ones);
    return rc;
}

/* ---- cat / stack --------------------------------------------------------------------- */

typedef struct join_info {
    int64_t dim;
    int n;
    struct {
        int64_t size; /* along dim; -1: a legacy empty input that was skipped */
        uint8_t dtype;
    } in[];
} join_info;

static int join_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin, bool stacked) {
    /* each input receives its own slice of the gradient */
    const join_info *info = n->extra;
    int64_t start = 0;
    for (int k = 0; k < info->n; k++) {
        if (!cg_wants(n, k)) {
            start += info->in[k].size > 0 ? info->in[k].size : 0;
            continue;
        }
        cg_tensor *piece;
        if (info->in[k].size < 0) {
            int64_t zero = 0;
            piece = cg_zeros(&zero, 1, (cg_dtype)info->in[k].dtype);
        } else if (stacked) {
            piece = cg_select(gout[0], info->dim, k);
        } else {
            piece = cg_narrow(gout[0], info->dim, start, info->in[k].size);
            start += info->in[k].size;
        }
        if (piece && piece->dtype != info->in[k].dtype) {
            cg_tensor *c = cg_to_dtype(piece, (cg_dtype)info->in[k].dtype);
            cg_tensor_release(piece);
            piece = c;
        }
        if (!(gin[k] = piece)) return -1;
    }
    return 0;
}

static int cat_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) { return join_backward(n, gout, gin, false); }
static int stack_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) { return join_backward(n, gout, gin, true); }
static const cg_op cat_op = {"CatBackward0", cat_backward, free};
static const cg_op stack_op = {"StackBackward0", stack_backward, free};

static cg_tensor *record_join(const cg_op *op, cg_tensor *out, cg_tensor *const *ts, int n, int64_t dim,
                              const int64_t *sizes) {
    if (!cg_any_requires_grad(ts, n)) return out;
    join_info *info = malloc(sizeof *info + (size_t)n * sizeof info->in[0]);
    cg_node *node = info ? cg_node_new(op, ts, n, 1) : NULL;
    if (!node) {
        free(info);
        cg_tensor_release(out);
        return info ? NULL : cg_oom(n * 16);
    }
    info->dim = dim;
    info->n = n;
    for (int k = 0; k < n; k++) {
        info->in[k].size = sizes[k];
        info->in[k].dtype = ts[k]->dtype;
    }
    node->extra = info;
    cg_set_history(out, node, 0);
    cg_node_release(node);
    return out;
}

/* Output shape of cat; sizes[k] = each input's size along dim (-1: skipped). */
static int cat_shape(cg_tensor *const *ts, int n, int64_t dim, int64_t *shape, int *ndim, int64_t *d_out,
                     int64_t *sizes, cg_dtype *dtype) {
    const cg_tensor *ref = NULL;
    for (int k = 0; k < n; k++)
        if (!(ts[k]->ndim == 1 && ts[k]->numel == 0)) ref = ref ? ref : ts[k];
    if (!ref) ref = ts[0];
    if (ref->ndim == 0) {
        cg_error_set(CG_ERR_RUNTIME, "zero-dimensional tensor (at position 0) cannot be concatenated");
        return -1;
    }
    int64_t d;
    if (cg_wrap_dim(dim, ref->ndim, &d)) return -1;
    *d_out = d;
    *ndim = ref->ndim;
    memcpy(shape, ref->shape, sizeof(int64_t) * (size_t)ref->ndim);
    shape[d] = 0;
    *dtype = (cg_dtype)ts[0]->dtype;
    for (int k = 0; k < n; k++) {
        const cg_tensor *t = ts[k];
        *dtype = cg_promote_types(*dtype, (cg_dtype)t->dtype);
        if (t->ndim == 1 && t->numel == 0 && ref->ndim != 1) {
            sizes[k] = -1;
            continue;
        }
        if (t->ndim != ref->ndim) {
            cg_error_set(CG_ERR_RUNTIME, "Tensors must have same number of dimensions: got %d and %d",
                         ref->ndim, t->ndim);
            return -1;
        }
        for (int i = 0; i < t->ndim; i++) {
            if (i != d && t->shape[i] != ref->shape[i]) {
                cg_error_set(CG_ERR_RUNTIME,
                             "Sizes of tensors must match except in dimension %lld. Expected size %lld but got "
                             "size %lld for tensor number %d in the list.",
                             (long long)d, (long long)ref->shape[i], (long long)t->shape[i], k);
                return -1;
            }
        }
        sizes[k] = t->shape[d];
        shape[d] += t->shape[d];
    }
    return 0;
}

cg_tensor *cg_cat(cg_tensor *const *ts, int n, int64_t dim) {
    if (n <= 0) {
        cg_error_set(CG_ERR_VALUE, "torch.cat(): expected a non-empty list of Tensors");
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS], d, *sizes = malloc((size_t)n * sizeof(int64_t));
    int nd;
    cg_dtype dtype;
    if (!sizes) return cg_oom(n * 8);
    cg_tensor *out = NULL;
    if (cat_shape(ts, n, dim, shape, &nd, &d, sizes, &dtype) == 0 && (out = cg_empty(shape, nd, dtype))) {
        int64_t start = 0;
        for (int k = 0; k < n && out; k++) {
            if (sizes[k] < 0) continue;
            cg_geom g;
            cg_geom_actual(out, &g);
            cg_geom_slice(&g, (int)d, start, sizes[k], 1);
            cg_tensor *dst = cg_alias(out, g.shape, g.strides, g.ndim, g.offset);
            if (!dst || cg_copy_data(dst, ts[k])) {
                cg_tensor_release(out);
                out = NULL;
            }
            cg_tensor_release(dst);
            start += sizes[k];
        }
        if (out) {
            cg_tensor_release(out->base);
            out->base = NULL;
        }
        out = out ? record_join(&cat_op, out, ts, n, d, sizes) : NULL;
    }
    free(sizes);
    return out;
}

cg_tensor *cg_stack(cg_tensor *const *ts, int n, int64_t dim) {
    if (n <= 0) {
        cg_error_set(CG_ERR_RUNTIME, "stack expects a non-empty TensorList");
        return NULL;
    }
    for (int k = 1; k < n; k++) {
        if (!cg_same_shape(ts[k], ts[0])) {
            char b1[160], b2[160];
            cg_error_set(CG_ERR_RUNTIME, "stack expects each tensor to be equal size, but got %s at entry 0 and %s at entry %d",
                         cg_shape_str(ts[0]->shape, ts[0]->ndim, b1, sizeof b1),
                         cg_shape_str(ts[k]->shape, ts[k]->ndim, b2, sizeof b2), k);
            return NULL;
        }
    }
    int64_t d;
    if (cg_wrap_dim(dim, ts[0]->ndim + 1, &d)) return NULL;
    int grad_mode = cg_is_grad_enabled();
    cg_set_grad_enabled(0); /* unsqueeze + cat without nodes; one StackBackward0 records */
    cg_tensor **us = calloc((size_t)n, sizeof(cg_tensor *));
    cg_tensor *out = us ? NULL : cg_oom(n * 8);
    bool ok = us != NULL;
    for (int k = 0; k < n && ok; k++) ok = (us[k] = cg_unsqueeze(ts[k], d)) != NULL;
    if (ok) out = cg_cat(us, n, d);
    cg_set_grad_enabled(grad_mode);
    for (int k = 0; us && k < n; k++) cg_tensor_release(us[k]);
    free(us);
    if (!out) return NULL;
    int64_t *ones = malloc((size_t)n * sizeof(int64_t));
    if (!ones) {
        cg_tensor_release(out);
        return cg_oom(n * 8);
    }
    for (int k = 0; k < n; k++) ones[k] = 1;
    out = record_join(&stack_op, out, ts, n, d, ones);
    free(ones);
    return out;
}

/* ---- flip / roll / repeat: copies that move elements -------------------------------- */

static int flip_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* flipping twice is the identity */
    int64_t dims[CG_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < CG_MAX_DIMS; d++)
        if (n->i[0] & (1 << d)) dims[k++] = d;
    return (gin[0] = cg_flip(gout[0], dims, k)) ? 0 : -1;
}
static const cg_op flip_op = {"FlipBackward0", flip_backward, NULL};

cg_tensor *cg_flip(cg_tensor *a, const int64_t *dims, int ndims) {
    int64_t mask = 0, named = 0; /* named: as mask, with dim 0 of a 0-d tensor too */
    for (int k = 0; k < ndims; k++) {
        int64_t d;
        if (cg_wrap_dim(dims[k], a->ndim, &d)) return NULL;
        if (named & (1 << d)) {
            cg_error_set(CG_ERR_RUNTIME, "dim %lld appears multiple times in the list of dims", (long long)d);
            return NULL;
        }
        named |= 1 << d;
        mask |= a->ndim ? (1 << d) : 0;
    }
    cg_geom g;
    cg_geom_actual(a, &g);
    for (int d = 0; d < a->ndim; d++) {
        if (!(mask & (1 << d)) || a->shape[d] == 0) continue;
        g.offset += (a->shape[d] - 1) * g.strides[d];
        g.strides[d] = -g.strides[d];
    }
    cg_tensor *rev = cg_tensor_make(a->storage, (cg_dtype)a->dtype, g.shape, g.strides, g.ndim, g.offset);
    cg_tensor *out = rev ? cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype) : NULL;
    if (out) cg_copy_data(out, rev);
    cg_tensor_release(rev);
    if (!out || !cg_any_requires_grad(&a, 1)) return out;
    cg_node *n = cg_node_new(&flip_op, &a, 1, 1);
    if (!n) {
        cg_tensor_release(out);
        return NULL;
    }
    n->i[0] = mask;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

typedef struct roll_info {
    int n, flat; /* flat: over the flattened tensor, shape kept */
    int64_t shifts[CG_MAX_DIMS], dims[CG_MAX_DIMS];
} roll_info;

/* out = a rolled by `shift` along d (no autograd). */
static int roll_once(cg_tensor *out, cg_tensor *a, int d, int64_t shift) {
    int64_t size = a->shape[d];
    shift = size ? ((shift % size) + size) % size : 0;
    cg_geom src, dst;
    for (int part = 0; part < 2; part++) { /* a[size-shift:] -> out[:shift], a[:size-shift] -> out[shift:] */
        int64_t len = part == 0 ? shift : size - shift;
        cg_geom_actual(a, &src);
        cg_geom_actual(out, &dst);
        cg_geom_slice(&src, d, part == 0 ? size - shift : 0, len, 1);
        cg_geom_slice(&dst, d, part == 0 ? 0 : shift, len, 1);
        cg_tensor *s = cg_tensor_make(a->storage, (cg_dtype)a->dtype, src.shape, src.strides, src.ndim, src.offset);
        cg_tensor *t = s ? cg_tensor_make(out->storage, (cg_dtype)out->dtype, dst.shape, dst.strides, dst.ndim, dst.offset) : NULL;
        int rc = t ? cg_copy_data(t, s) : -1;
        cg_tensor_release(s);
        cg_tensor_release(t);
        if (rc) return -1;
    }
    return 0;
}

static int roll_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* rolling back by the same shifts */
    const roll_info *info = n->extra;
    int64_t back[CG_MAX_DIMS];
    for (int k = 0; k < info->n; k++) back[k] = -info->shifts[k];
    if (info->flat) return (gin[0] = cg_roll(gout[0], back, NULL, 1)) ? 0 : -1;
    return (gin[0] = cg_roll(gout[0], back, info->dims, info->n)) ? 0 : -1;
}
static const cg_op roll_op = {"RollBackward0", roll_backward, free};

/* Rolls the flattened a, keeping its shape. */
static cg_tensor *roll_flat(cg_tensor *a, int64_t shift) {
    cg_tensor *c = cg_contiguous(a);
    cg_tensor *flat = c ? cg_tensor_make(c->storage, (cg_dtype)a->dtype, &a->numel, NULL, 1, c->offset) : NULL;
    cg_tensor *out = flat ? cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype) : NULL;
    cg_tensor *oflat = out ? cg_tensor_make(out->storage, (cg_dtype)a->dtype, &a->numel, NULL, 1, 0) : NULL;
    if (!oflat || roll_once(oflat, flat, 0, shift)) {
        cg_tensor_release(out);
        out = NULL;
    }
    cg_tensor_release(c);
    cg_tensor_release(flat);
    cg_tensor_release(oflat);
    return out;
}

cg_tensor *cg_roll(cg_tensor *a, const int64_t *shifts, const int64_t *dims, int n) {
    roll_info info = {.n = n, .flat = dims == NULL};
    if (!dims) {
        int grad_mode = cg_is_grad_enabled();
        cg_set_grad_enabled(0);
        cg_tensor *out = roll_flat(a, n > 0 ? shifts[0] : 0);
        cg_set_grad_enabled(grad_mode);
        info.shifts[0] = n > 0 ? shifts[0] : 0;
        info.n = 1;
        roll_info *extra = out && cg_any_requires_grad(&a, 1) ? malloc(sizeof *extra) : NULL;
        if (extra) *extra = info;
        return record_extra(&roll_op, out, a, extra);
    }
    for (int k = 0; k < n; k++) {
        if (cg_wrap_dim(dims[k], a->ndim, &info.dims[k])) return NULL;
        info.shifts[k] = shifts[k];
    }
    cg_tensor *cur = a;
    cg_tensor_retain(cur);
    for (int k = 0; k < n && cur; k++) {
        cg_tensor *next = cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype);
        if (next && roll_once(next, cur, (int)info.dims[k], info.shifts[k])) {
            cg_tensor_release(next);
            next = NULL;
        }
        cg_tensor_release(cur);
        cur = next;
    }
    if (cur && n == 0) { /* nothing to roll: still a copy, as PyTorch */
        cg_tensor *c = cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype);
        if (c) cg_copy_data(c, cur);
        cg_tensor_release(cur);
        cur = c;
    }
    roll_info *extra = cg_any_requires_grad(&a, 1) ? malloc(sizeof *extra) : NULL;
    if (extra) *extra = info;
    return record_extra(&roll_op, cur, a, extra);
}

typedef struct repeat_info {
    int n;
    int64_t sizes[CG_MAX_DIMS];
} repeat_info;

static int repeat_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* every copy fed the same element: sum the copies back */
    const repeat_info *info = n->extra;
    const cg_shape *in = &n->in_shape[0];
    int lead = info->n - in->ndim;
    cg_tensor *g = gout[0];
    cg_tensor_retain(g);
    for (int d = info->n - 1; d >= 0 && g; d--) {
        if (info->sizes[d] == 1) continue;
        int64_t shape[CG_MAX_DIMS + 1], axis = d;
        int nd = 0;
        for (int i = 0; i < g->ndim; i++) {
            if (i == d) {
                shape[nd++] = info->sizes[d];
                shape[nd++] = g->shape[i] / (info->sizes[d] ? info->sizes[d] : 1);
            } else {
                shape[nd++] = g->shape[i];
            }
        }
        cg_tensor *r = cg_reshape(g, shape, nd);
        cg_tensor *s = r ? cg_sum(r, &axis, 1, 0) : NULL;
        cg_tensor_release(r);
        cg_tensor_release(g);
        g = s;
    }
    if (g && lead > 0) {
        cg_tensor *r = cg_reshape(g, in->d, in->ndim);
        cg_tensor_release(g);
        g = r;
    }
    return (gin[0] = g) ? 0 : -1;
}
static const cg_op repeat_op = {"RepeatBackward0", repeat_backward, free};

cg_tensor *cg_repeat(cg_tensor *a, const int64_t *sizes, int n) {
    if (n < a->ndim) {
        cg_error_set(CG_ERR_RUNTIME,
                     "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor");
        return NULL;
    }
    int64_t padded[CG_MAX_DIMS], pstrides[CG_MAX_DIMS], shape[CG_MAX_DIMS];
    int lead = n - a->ndim;
    for (int d = 0; d < n; d++) {
        if (sizes[d] < 0) {
            cg_error_set(CG_ERR_RUNTIME, "Trying to create tensor with negative dimension %lld", (long long)sizes[d]);
            return NULL;
        }
        padded[d] = d < lead ? 1 : a->shape[d - lead];
        pstrides[d] = d < lead ? 0 : a->strides[d - lead];
        shape[d] = padded[d] * sizes[d];
    }
    cg_tensor *out = cg_empty(shape, n, (cg_dtype)a->dtype);
    cg_tensor *src = out ? cg_tensor_make(a->storage, (cg_dtype)a->dtype, padded, pstrides, n, a->offset) : NULL;
    int64_t blocks = cg_shape_numel(sizes, n), idx[CG_MAX_DIMS] = {0};
    for (int64_t b = 0; b < blocks && src && out; b++) { /* copy a into each block */
        cg_geom g;
        cg_geom_actual(out, &g);
        for (int d = 0; d < n; d++) cg_geom_slice(&g, d, idx[d] * padded[d], padded[d], 1);
        cg_tensor *dst = cg_tensor_make(out->storage, (cg_dtype)a->dtype, g.shape, g.strides, n, g.offset);
        if (!dst || cg_copy_data(dst, src)) {
            cg_tensor_release(out);
            out = NULL;
        }
        cg_tensor_release(dst);
        for (int d = n - 1; d >= 0 && ++idx[d] == sizes[d]; d--) idx[d] = 0;
    }
    cg_tensor_release(src);
    repeat_info *extra = out && cg_any_requires_grad(&a, 1) ? malloc(sizeof *extra) : NULL;
    if (extra) {
        extra->n = n;
        memcpy(extra->sizes, sizes, (size_t)n * sizeof(int64_t));
    }
    return record_extra(&repeat_op, out, a, extra);
}

/* ---- advanced indexing: x[i0, :, i2] with int64 index tensors --------------------------- */

typedef struct index_plan {
    int n_idx, dims[CG_MAX_DIMS];   /* indexed dims of the input, ascending */
    cg_tensor *idx[CG_MAX_DIMS];    /* their index tensors (borrowed) */
    int bnd;                        /* the broadcast index shape */
    int64_t bshape[CG_MAX_DIMS];
    int64_t bstrides[CG_MAX_DIMS][CG_MAX_DIMS];
    int n_rest, rest[CG_MAX_DIMS];  /* dims of the input not indexed */
    int b_at;                       /* where the index dims sit in the result */
    int out_nd;
    int64_t out_shape[CG_MAX_DIMS];
    int rest_at[CG_MAX_DIMS];       /* where each rest dim sits in the result */
} index_plan;

static int plan_broadcast(index_plan *p) {
    p->bnd = 0;
    for (int k = 0; k < p->n_idx; k++) {
        int64_t shape[CG_MAX_DIMS];
        int nd;
        if (cg_broadcast_shapes(p->bshape, p->bnd, p->idx[k]->shape, p->idx[k]->ndim, shape, &nd)) {
            char b1[160], b2[160];
            cg_error_set(CG_ERR_INDEX, "shape mismatch: indexing tensors could not be broadcast together with shapes %s, %s",
                         cg_shape_str(p->bshape, p->bnd, b1, sizeof b1),
                         cg_shape_str(p->idx[k]->shape, p->idx[k]->ndim, b2, sizeof b2));
            return -1;
        }
        memcpy(p->bshape, shape, sizeof shape);
        p->bnd = nd;
    }
    for (int k = 0; k < p->n_idx; k++) cg_broadcast_strides(p->idx[k], p->bshape, p->bnd, p->bstrides[k]);
    return 0;
}

static int plan_index(const cg_tensor *a, cg_tensor *const *indices, int n, index_plan *p) {
    memset(p, 0, sizeof *p);
    if (n > a->ndim) {
        cg_error_set(CG_ERR_INDEX, "too many indices for tensor of dimension %d (got %d)", a->ndim, n);
        return -1;
    }
    for (int d = 0; d < a->ndim; d++) {
        if (d < n && indices[d]) {
            if (indices[d]->dtype != CG_INT64) {
                cg_error_set(CG_ERR_INDEX, "tensors used as indices must be long, int, byte or bool tensors");
                return -1;
            }
            p->dims[p->n_idx] = d;
            p->idx[p->n_idx++] = indices[d];
        } else {
            p->rest[p->n_rest++] = d;
        }
    }
    if (plan_broadcast(p)) return -1;
    bool adjacent = true;
    for (int k = 1; k < p->n_idx; k++) adjacent &= p->dims[k] == p->dims[k - 1] + 1;
    p->b_at = adjacent && p->n_idx ? p->dims[0] : 0;
    p->out_nd = p->bnd + p->n_rest;
    if (p->out_nd > CG_MAX_DIMS) return cg_check_shape(p->out_shape, p->out_nd);
    for (int j = 0, k = 0; j < p->out_nd; j++) { /* rest dims before b_at, the index dims, then the rest */
        if (j >= p->b_at && j < p->b_at + p->bnd) {
            p->out_shape[j] = p->bshape[j - p->b_at];
            continue;
        }
        p->rest_at[k] = j;
        p->out_shape[j] = a->shape[p->rest[k++]];
    }
    return 0;
}

/* Checks every index value against its dim before anything is written. */
static int check_indices(const cg_tensor *a, const index_plan *p) {
    for (int k = 0; k < p->n_idx; k++) {
        const cg_tensor *t = p->idx[k];
        int64_t size = a->shape[p->dims[k]], pos[CG_MAX_DIMS] = {0};
        const int64_t *data = (const int64_t *)cg_ptr(t);
        for (int64_t e = 0; e < t->numel; e++) {
            int64_t off = 0;
            for (int d = 0; d < t->ndim; d++) off += pos[d] * t->strides[d];
            if (data[off] < -size || data[off] >= size) {
                cg_error_set(CG_ERR_INDEX, "index %lld is out of bounds for dimension %d with size %lld",
                             (long long)data[off], p->dims[k], (long long)size);
                return -1;
            }
            for (int d = t->ndim - 1; d >= 0 && ++pos[d] == t->shape[d]; d--) pos[d] = 0;
        }
    }
    return 0;
}

/* Element offset in a of the position b (a multi-index over the index shape). */
static int64_t index_offset(const cg_tensor *a, const index_plan *p, const int64_t *b) {
    int64_t off = 0;
    for (int k = 0; k < p->n_idx; k++) {
        const int64_t *data = (const int64_t *)cg_ptr(p->idx[k]);
        int64_t e = 0;
        for (int d = 0; d < p->bnd; d++) e += b[d] * p->bstrides[k][d];
        int64_t v = data[e], size = a->shape[p->dims[k]];
        off += (v < 0 ? v + size : v) * a->strides[p->dims[k]];
    }
    return off;
}

/* dst op= src over a block: the rest dims of one index position. */
static void block_apply(cg_loop loop, bool accumulate, char *dst, const int64_t *dst_strides,
                        char *src, const int64_t *src_strides, const int64_t *shape, int nd, int64_t isz) {
    cg_iter it = {.ndim = nd ? nd : 1, .nops = accumulate ? 3 : 2};
    it.shape[0] = 1;
    memcpy(it.shape, shape, (size_t)nd * sizeof(int64_t));
    char *data[3] = {dst, accumulate ? dst : src, src};
    for (int k = 0; k < it.nops; k++) {
        it.data[k] = data[k];
        it.itemsize[k] = isz;
        const int64_t *st = k == 0 || (accumulate && k == 1) ? dst_strides : src_strides;
        it.strides[k][0] = 0;
        memcpy(it.strides[k], st, (size_t)nd * sizeof(int64_t));
    }
    cg_iter_run(&it, loop);
}

/* Walks every index position: gathers a's blocks into out (scatter = false),
 * or writes/adds values' blocks into a (scatter = true). `other` is out (gather)
 * or values already broadcast to the result's shape (scatter). */
static void index_walk(cg_tensor *a, const index_plan *p, cg_tensor *other, bool scatter, bool accumulate) {
    int64_t isz = cg_dtype_size((cg_dtype)a->dtype), rest_shape[CG_MAX_DIMS], a_strides[CG_MAX_DIMS],
            o_strides[CG_MAX_DIMS], b[CG_MAX_DIMS] = {0};
    for (int k = 0; k < p->n_rest; k++) {
        rest_shape[k] = a->shape[p->rest[k]];
        a_strides[k] = a->strides[p->rest[k]];
        o_strides[k] = other->strides[p->rest_at[k]];
    }
    cg_loop loop = accumulate ? cg_binary_loop(CG_BIN_ADD, (cg_dtype)a->dtype)
                              : cg_cast_loop((cg_dtype)a->dtype, (cg_dtype)a->dtype);
    int64_t nb = cg_shape_numel(p->bshape, p->bnd);
    for (int64_t e = 0; e < nb; e++) {
        char *pa = cg_ptr(a) + index_offset(a, p, b) * isz;
        int64_t ooff = 0;
        for (int d = 0; d < p->bnd; d++) ooff += b[d] * other->strides[p->b_at + d];
        char *po = cg_ptr(other) + ooff * isz;
        if (scatter)
            block_apply(loop, accumulate, pa, a_strides, po, o_strides, rest_shape, p->n_rest, isz);
        else
            block_apply(loop, false, po, o_strides, pa, a_strides, rest_shape, p->n_rest, isz);
        for (int d = p->bnd - 1; d >= 0 && ++b[d] == p->bshape[d]; d--) b[d] = 0;
    }
}

/* v = the n index tensors (NULL: a dim taken whole), t = {a} */
static int index_check_kernel(const cg_kargs *k) {
    index_plan p;
    return plan_index(k->t[0], k->v, k->nv, &p) || check_indices(k->t[0], &p) ? -1 : 0;
}

/* checks the indices (recorded, so that a replay checks its data too) */
static int run_index_check(cg_tensor *a, cg_tensor *const *indices, int n) {
    return cg_kernel(index_check_kernel, &(cg_kargs){.name = "an index check", .t = {a}, .v = indices, .nv = n});
}

static int plan_and_check(cg_tensor *a, cg_tensor *const *indices, int n, index_plan *p) {
    if (plan_index(a, indices, n, p)) return -1;
    return run_index_check(a, indices, n);
}

/* t = {written, read}: the gather a[indices] (t = {out, a}) or, with i[0], the
 * scatter a[indices] (+)= values (t = {a, values seen with the result's shape}),
 * adding with i[1]; v = the index tensors */
static int index_walk_kernel(const cg_kargs *k) {
    bool scatter = k->i[0];
    cg_tensor *a = scatter ? k->t[0] : k->t[1], *other = scatter ? k->t[1] : k->t[0];
    index_plan p;
    if (plan_index(a, k->v, k->nv, &p)) return -1;
    index_walk(a, &p, other, scatter, k->i[1]);
    return 0;
}

static void walk_indices(cg_tensor *a, cg_tensor *const *indices, int n, cg_tensor *other, bool scatter,
                         bool accumulate) {
    cg_kargs k = {.name = "indexing", .t = {scatter ? a : other, scatter ? other : a}, .nw = 1,
                  .i = {scatter, accumulate}, .v = indices, .nv = n};
    cg_kernel(index_walk_kernel, &k);
}

typedef struct index_info {
    int n;
    cg_tensor *idx[CG_MAX_DIMS]; /* owned; NULL for dims taken whole */
} index_info;

static void index_info_free(void *extra) {
    index_info *info = extra;
    for (int k = 0; k < info->n; k++) cg_tensor_release(info->idx[k]);
    free(info);
}

static index_info *index_info_new(cg_tensor *const *indices, int n) {
    index_info *info = calloc(1, sizeof *info);
    if (!info) return cg_oom((int64_t)sizeof *info);
    info->n = n;
    for (int k = 0; k < n; k++)
        if ((info->idx[k] = indices[k])) cg_tensor_retain(indices[k]);
    return info;
}

static int index_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* each selected element sends its gradient back; repeats accumulate */
    const index_info *info = n->extra;
    cg_tensor *z = cg_zeros(n->in_shape[0].d, n->in_shape[0].ndim, (cg_dtype)gout[0]->dtype);
    gin[0] = z ? cg_index_put(z, info->idx, info->n, gout[0], 1) : NULL;
    cg_tensor_release(z);
    return gin[0] ? 0 : -1;
}
static const cg_op index_op = {"IndexBackward0", index_backward, index_info_free};

cg_tensor *cg_index(cg_tensor *a, cg_tensor *const *indices, int n) {
    index_plan p;
    if (plan_index(a, indices, n, &p)) return NULL;
    /* allocate first: a result too large to hold fails at once, not after
     * checking 2^40 broadcast index values one by one */
    cg_tensor *out = cg_empty(p.out_shape, p.out_nd, (cg_dtype)a->dtype);
    if (!out) return NULL;
    if (run_index_check(a, indices, n)) {
        cg_tensor_release(out);
        return NULL;
    }
    walk_indices(a, indices, n, out, false, false);
    if (!cg_any_requires_grad(&a, 1)) return out;
    cg_node *node = cg_node_new(&index_op, &a, 1, 1);
    if (!node || !(node->extra = index_info_new(indices, n))) {
        cg_node_release(node);
        cg_tensor_release(out);
        return NULL;
    }
    cg_set_history(out, node, 0);
    cg_node_release(node);
    return out;
}

/* values seen with the shape of a[indices] (broadcast), in a's dtype. */
static cg_tensor *values_for(cg_tensor *values, const index_plan *p, cg_dtype dtype) {
    int64_t shape[CG_MAX_DIMS];
    int nd;
    if (cg_broadcast_shapes(p->out_shape, p->out_nd, values->shape, values->ndim, shape, &nd) ||
        !cg_shape_eq(shape, nd, p->out_shape, p->out_nd)) {
        char b1[160], b2[160];
        cg_error_set(CG_ERR_RUNTIME, "shape mismatch: value tensor of shape %s cannot be broadcast to indexing result of shape %s",
                     cg_shape_str(values->shape, values->ndim, b1, sizeof b1),
                     cg_shape_str(p->out_shape, p->out_nd, b2, sizeof b2));
        return NULL;
    }
    cg_tensor *v = cg_cast_raw(values, dtype);
    if (!v) return NULL;
    int64_t strides[CG_MAX_DIMS];
    cg_broadcast_strides(v, p->out_shape, p->out_nd, strides);
    cg_tensor *e = cg_tensor_make(v->storage, dtype, p->out_shape, strides, p->out_nd, v->offset);
    cg_tensor_release(v);
    return e;
}

/* Writes (or adds) values into a at indices; no autograd. */
static int index_put_raw(cg_tensor *a, cg_tensor *const *indices, int n, cg_tensor *values, int accumulate) {
    index_plan p;
    if (plan_and_check(a, indices, n, &p)) return -1;
    cg_tensor *v = values_for(values, &p, (cg_dtype)a->dtype);
    if (!v) return -1;
    walk_indices(a, indices, n, v, true, accumulate);
    cg_tensor_release(v);
    return 0;
}

static int index_put_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da: g where a was kept (all of it when accumulating); d/dvalues: g at the indices */
    const index_info *info = n->extra;
    bool accumulate = n->i[0];
    if (cg_wants(n, 0)) {
        if (accumulate) {
            cg_tensor_retain(gout[0]);
            gin[0] = gout[0];
        } else {
            cg_tensor *z = cg_zeros(NULL, 0, (cg_dtype)gout[0]->dtype);
            gin[0] = z ? cg_index_put(gout[0], info->idx, info->n, z, 0) : NULL;
            cg_tensor_release(z);
        }
        if (!gin[0]) return -1;
    }
    if (cg_wants(n, 1) && !(gin[1] = cg_reduce_grad(n, 1, cg_index(gout[0], info->idx, info->n)))) return -1;
    return 0;
}
static const cg_op index_put_op = {"IndexPutBackward0", index_put_backward, index_info_free};

static cg_node *index_put_node(cg_tensor *a, cg_tensor *const *indices, int n, cg_tensor *values, int accumulate) {
    cg_tensor *ins[2] = {a, values};
    cg_node *node = cg_node_new(&index_put_op, ins, 2, 1);
    if (node && !(node->extra = index_info_new(indices, n))) {
        cg_node_release(node);
        return NULL;
    }
    if (node) node->i[0] = accumulate;
    return node;
}

cg_tensor *cg_index_put(cg_tensor *a, cg_tensor *const *indices, int n, cg_tensor *values, int accumulate) {
    cg_tensor *out = cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype);
    if (!out) return NULL;
    if (cg_copy_data(out, a) || index_put_raw(out, indices, n, values, accumulate)) {
        cg_tensor_release(out);
        return NULL;
    }
    cg_tensor *ins[2] = {a, values};
    if (!cg_any_requires_grad(ins, 2)) return out;
    cg_node *node = index_put_node(a, indices, n, values, accumulate);
    if (!node) {
        cg_tensor_release(out);
        return NULL;
    }
    cg_set_history(out, node, 0);
    cg_node_release(node);
    return out;
}

cg_tensor *cg_index_put_(cg_tensor *a, cg_tensor *const *indices, int n, cg_tensor *values, int accumulate) {
    cg_tensor *ins[2] = {a, values};
    cg_inplace inp;
    if (cg_inplace_begin(&inp, a, ins, 2)) return NULL;
    if (inp.records) {
        cg_node *node = index_put_node(a, indices, n, values, accumulate);
        if (!node) return cg_inplace_abort(&inp);
        inp.node = node;
    }
    if (index_put_raw(a, indices, n, values, accumulate)) return cg_inplace_abort(&inp);
    return cg_inplace_finish(&inp);
}

/* ---- nonzero ----------------------------------------------------------------------------- */

static bool is_nonzero(const char *p, cg_dtype dtype) {
    switch (dtype) {
    case CG_FLOAT32: return *(const float *)p != 0;
    case CG_FLOAT64: return *(const double *)p != 0;
    case CG_INT64: return *(const int64_t *)p != 0;
    case CG_BOOL: return *(const uint8_t *)p != 0;
    }
    return false;
}

cg_tensor *cg_nonzero(cg_tensor *a) {
    if (CG_RECORDING()) cg_tape_break("nonzero (or a boolean mask): the output shape depends on the data");
    int64_t isz = cg_dtype_size((cg_dtype)a->dtype), count = 0, pos[CG_MAX_DIMS] = {0};
    for (int pass = 0; pass < 2; pass++) {
        int64_t shape[2] = {count, a->ndim};
        cg_tensor *out = pass ? cg_empty(shape, 2, CG_INT64) : NULL;
        if (pass && !out) return NULL;
        int64_t *o = out ? (int64_t *)out->storage->data : NULL, row = 0;
        memset(pos, 0, sizeof pos);
        for (int64_t e = 0; e < a->numel; e++) {
            int64_t off = 0;
            for (int d = 0; d < a->ndim; d++) off += pos[d] * a->strides[d];
            if (is_nonzero(cg_ptr(a) + off * isz, (cg_dtype)a->dtype)) {
                if (o) memcpy(o + row * a->ndim, pos, (size_t)a->ndim * sizeof(int64_t));
                row++;
            }
            for (int d = a->ndim - 1; d >= 0 && ++pos[d] == a->shape[d]; d--) pos[d] = 0;
        }
        if (pass) return out;
        count = row;
    }
    return NULL;
}
