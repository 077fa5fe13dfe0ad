/* ops_strided.c -- layouts of the caller's choosing: as_strided and its family.
 *
 * as_strided(a, size, stride, offset) addresses a's storage itself: element
 * i of the view is storage[offset + sum_d i_d * stride_d], whatever a's own
 * layout, so its gradient goes through the storage (Note [Gradients through
 * the storage]). as_strided_scatter copies a's storage and overwrites such a
 * region; empty_strided allocates the storage a layout reaches.
 *
 * Note [Gradients through the storage]
 *   An output element's gradient belongs to the storage element it reads.
 *   The backward adds the output's gradient into zeros standing for the
 *   storage (index_add: an element the output reads more than once, through
 *   a stride 0 or overlapping windows, adds up its gradients), then reads
 *   each input element's gradient at its own storage element. Storage the
 *   input does not cover gets none; input elements that share a storage
 *   element (an expanded input) share its gradient equally. Both steps are
 *   differentiable ops, so create_graph gives the higher derivatives.
 */
#include <sys/mman.h>

#include "internal.h"

/* ---- layouts -------------------------------------------------------------------------------- */

static void geom_of(cg_geom *g, const int64_t *shape, const int64_t *strides, int ndim, int64_t offset) {
    g->ndim = ndim;
    g->offset = offset;
    memcpy(g->shape, shape, (size_t)ndim * sizeof(int64_t));
    memcpy(g->strides, strides, (size_t)ndim * sizeof(int64_t));
}

/* [*lo, *hi): the storage elements g reaches; lo == hi when it has none. */
static void geom_span(const cg_geom *g, int64_t *lo, int64_t *hi) {
    *lo = *hi = g->offset;
    if (!cg_shape_numel(g->shape, g->ndim)) return;
    for (int d = 0; d < g->ndim; d++) {
        int64_t reach = (g->shape[d] - 1) * g->strides[d];
        if (reach < 0) *lo += reach;
        else *hi += reach;
    }
    (*hi)++;
}

bool cg_geom_may_overlap(const cg_geom *g) {
    /* sorted by stride, each dim must step past all that the smaller ones reach */
    int64_t st[CG_MAX_DIMS], sz[CG_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < g->ndim; d++) {
        if (g->shape[d] == 0) return false;
        if (g->shape[d] == 1) continue;
        int64_t s = g->strides[d] < 0 ? -g->strides[d] : g->strides[d];
        int k = n++;
        for (; k > 0 && st[k - 1] > s; k--) {
            st[k] = st[k - 1];
            sz[k] = sz[k - 1];
        }
        st[k] = s;
        sz[k] = g->shape[d];
    }
    int64_t reach = 0;
    for (int k = 0; k < n; k++) {
        if (st[k] <= reach) return true;
        reach += (sz[k] - 1) * st[k];
    }
    return false;
}

/* True when a dim of more than one element has stride 0: several elements
 * are one memory location (PyTorch's sure case of internal overlap). */
static bool has_repeats(const int64_t *shape, const int64_t *strides, int ndim) {
    for (int d = 0; d < ndim; d++)
        if (shape[d] > 1 && strides[d] == 0) return true;
    return false;
}

/* The storage positions of g's elements less base, in g's logical order (int64, 1-d). */
static cg_tensor *positions(const cg_geom *g, int64_t base) {
    int64_t n = cg_shape_numel(g->shape, g->ndim), idx[CG_MAX_DIMS] = {0}, at = g->offset - base;
    cg_tensor *t = cg_empty(&n, 1, CG_INT64);
    if (!t) return NULL;
    int64_t *p = (int64_t *)cg_ptr(t);
    for (int64_t k = 0; k < n; k++) {
        p[k] = at;
        for (int d = g->ndim - 1; d >= 0; d--) { /* the next index, the last dim fastest */
            at += g->strides[d];
            if (++idx[d] < g->shape[d]) break;
            at -= g->strides[d] * g->shape[d];
            idx[d] = 0;
        }
    }
    return t;
}

/* The bytes a layout reaches in its storage (0 when it has no elements), or
 * -1 and PyTorch's error when a size or stride is negative or the sum
 * overflows. (PyTorch lets a negative size pass when another size is 0.) */
static int layout_bytes(const int64_t *shape, const int64_t *strides, int ndim, int64_t offset, int64_t isz,
                        int64_t *bytes) {
    bool empty = false, bad = false;
    for (int d = 0; d < ndim; d++) empty |= shape[d] == 0;
    int64_t n = 1, step;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (strides[d] < 0 && !empty)) bad = true;
        else if (!empty)
            bad |= __builtin_mul_overflow(shape[d] - 1, strides[d], &step) || __builtin_add_overflow(n, step, &n);
    }
    if (!empty && !bad) bad = __builtin_add_overflow(n, offset, &n) || __builtin_mul_overflow(n, isz, &n);
    if (bad) {
        char b1[256], b2[256];
        cg_error_set(CG_ERR_RUNTIME, "Storage size calculation overflowed with sizes=%s and strides=%s",
                     cg_shape_str(shape, ndim, b1, sizeof b1), cg_shape_str(strides, ndim, b2, sizeof b2));
        return -1;
    }
    *bytes = empty ? 0 : n;
    return 0;
}

/* PyTorch's checks of a layout in a storage of `have` bytes, in its order. */
static int check_layout(const int64_t *shape, const int64_t *strides, int ndim, int64_t offset, cg_dtype dtype,
                        int64_t have) {
    char b1[256], b2[256];
    if (ndim < 0 || ndim > CG_MAX_DIMS) return cg_check_shape(shape, ndim); /* sets the error */
    for (int d = 0; d < ndim; d++) {
        if (strides[d] < 0) {
            cg_error_set(CG_ERR_RUNTIME,
                         "as_strided: Negative strides are not supported at the moment, got strides: %s",
                         cg_shape_str(strides, ndim, b1, sizeof b1));
            return -1;
        }
    }
    if (offset < 0) {
        cg_error_set(CG_ERR_RUNTIME, "Tensor: invalid storage offset %lld", (long long)offset);
        return -1;
    }
    int64_t isz = cg_dtype_size(dtype), need;
    if (layout_bytes(shape, strides, ndim, offset, isz, &need)) return -1;
    if (need > have) {
        cg_error_set(CG_ERR_RUNTIME,
                     "setStorage: sizes %s, strides %s, storage offset %lld, and itemsize %lld requiring a "
                     "storage size of %lld are out of bounds for storage of size %lld",
                     cg_shape_str(shape, ndim, b1, sizeof b1), cg_shape_str(strides, ndim, b2, sizeof b2),
                     (long long)offset, (long long)isz, (long long)need, (long long)have);
        return -1;
    }
    return 0;
}

/* ---- through the storage ------------------------------------------------------------------ */

/* to's elements divided by how many of to's elements share their storage
 * element; r is to's view of a buffer whose element 0 is storage element lo. */
static cg_tensor *share_repeats(cg_tensor *r, const cg_geom *to, int64_t lo, int64_t n) {
    int64_t count_n = cg_shape_numel(to->shape, to->ndim);
    cg_tensor *zeros = cg_zeros(&n, 1, (cg_dtype)r->dtype), *ones = cg_ones(&count_n, 1, (cg_dtype)r->dtype);
    cg_tensor *idx = positions(to, lo);
    cg_tensor *count = zeros && ones && idx ? cg_index_add(zeros, 0, idx, ones, 1.0) : NULL;
    cg_tensor *per = count ? cg_as_strided_storage(count, to->shape, to->strides, to->ndim, to->offset - lo) : NULL;
    cg_tensor *out = per ? cg_div(r, per) : NULL;
    cg_tensor *tmp[] = {zeros, ones, idx, count, per};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) cg_tensor_release(tmp[i]);
    return out;
}

cg_tensor *cg_through_storage(cg_tensor *g, const cg_geom *from, const cg_geom *to, bool share) {
    int64_t flo, fhi, tlo, thi;
    geom_span(from, &flo, &fhi);
    geom_span(to, &tlo, &thi);
    if (thi == tlo) return cg_zeros(to->shape, to->ndim, (cg_dtype)g->dtype);
    bool any = fhi > flo;
    int64_t lo = any && flo < tlo ? flo : tlo, hi = any && fhi > thi ? fhi : thi, n = hi - lo;
    cg_tensor *sum = cg_zeros(&n, 1, (cg_dtype)g->dtype);
    if (sum && any) {
        int64_t m = g->numel;
        cg_tensor *idx = positions(from, lo), *flat = cg_reshape(g, &m, 1);
        cg_tensor *added = idx && flat ? cg_index_add(sum, 0, idx, flat, 1.0) : NULL;
        cg_tensor_release(idx);
        cg_tensor_release(flat);
        cg_tensor_release(sum);
        sum = added;
    }
    cg_tensor *r = sum ? cg_as_strided_storage(sum, to->shape, to->strides, to->ndim, to->offset - lo) : NULL;
    cg_tensor_release(sum);
    if (r && share && cg_geom_may_overlap(to)) {
        cg_tensor *s = share_repeats(r, to, lo, n);
        cg_tensor_release(r);
        r = s;
    }
    return r;
}

/* ---- as_strided, as_strided_ --------------------------------------------------------------- */

typedef struct strided_geoms {
    cg_geom in;  /* the input's layout in the storage */
    cg_geom out; /* the output's */
} strided_geoms;

/* d/da as_strided(a): Note [Gradients through the storage] */
static int as_strided_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    const strided_geoms *sg = n->extra;
    return (gin[0] = cg_through_storage(gout[0], &sg->out, &sg->in, true)) ? 0 : -1;
}
static const cg_op as_strided_op = {"AsStridedBackward0", as_strided_backward, free};
static const cg_op as_strided_inplace_op = {"AsStridedBackward1", as_strided_backward, free};

cg_tensor *cg_as_strided_storage(cg_tensor *a, const int64_t *shape, const int64_t *strides, int ndim,
                                 int64_t offset) {
    if (check_layout(shape, strides, ndim, offset, (cg_dtype)a->dtype, a->storage->nbytes)) return NULL;
    cg_tensor *out = cg_alias(a, shape, strides, ndim, offset);
    if (!out || !cg_any_requires_grad(&a, 1)) return out;
    strided_geoms *sg = malloc(sizeof *sg);
    cg_node *n = sg ? cg_node_new(&as_strided_op, &a, 1, 1) : cg_oom((int64_t)sizeof *sg);
    if (!n) {
        free(sg);
        cg_tensor_release(out);
        return NULL;
    }
    cg_geom_actual(a, &sg->in);
    geom_of(&sg->out, shape, strides, ndim, offset);
    n->extra = sg;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

cg_tensor *cg_as_strided_storage_(cg_tensor *a, const int64_t *shape, const int64_t *strides, int ndim,
                                  int64_t offset) {
    return cg_become_view_(a, cg_as_strided_storage(a, shape, strides, ndim, offset), &as_strided_inplace_op);
}

/* ---- as_strided_scatter --------------------------------------------------------------------- */

typedef struct scatter_geoms {
    cg_geom at;     /* the result's layout in its storage */
    cg_geom region; /* what src overwrote */
} scatter_geoms;

/* 1 for the elements of `at` that region does not cover, 0 for the others (dtype). */
static cg_tensor *outside_mask(const cg_geom *at, const cg_geom *region, cg_dtype dtype) {
    int64_t alo, ahi, rlo, rhi;
    geom_span(at, &alo, &ahi);
    geom_span(region, &rlo, &rhi);
    int64_t lo = rhi > rlo && rlo < alo ? rlo : alo, hi = rhi > rlo && rhi > ahi ? rhi : ahi;
    cg_tensor *pa = positions(at, lo), *pr = positions(region, lo);
    char *covered = pa && pr ? calloc((size_t)(hi - lo) + 1, 1) : NULL;
    cg_tensor *mask = covered ? cg_empty(at->shape, at->ndim, dtype) : NULL;
    if (mask) {
        const int64_t *ia = (const int64_t *)cg_ptr(pa), *ir = (const int64_t *)cg_ptr(pr);
        for (int64_t k = 0; k < pr->numel; k++) covered[ir[k]] = 1;
        for (int64_t k = 0; k < pa->numel; k++) {
            if (dtype == CG_FLOAT32) ((float *)cg_ptr(mask))[k] = covered[ia[k]] ? 0.0f : 1.0f;
            else ((double *)cg_ptr(mask))[k] = covered[ia[k]] ? 0.0 : 1.0;
        }
    } else if (pa && pr && !covered) {
        cg_oom(hi - lo);
    }
    free(covered);
    cg_tensor_release(pa);
    cg_tensor_release(pr);
    return mask;
}

/* 1 for the elements of src whose write stays (no later element of the
 * region, in logical order, writes their storage element), 0 for the others. */
static cg_tensor *last_writes(const cg_geom *region, cg_dtype dtype) {
    int64_t lo, hi;
    geom_span(region, &lo, &hi);
    cg_tensor *pr = positions(region, lo);
    char *seen = pr ? calloc((size_t)(hi - lo) + 1, 1) : NULL;
    cg_tensor *mask = seen ? cg_empty(region->shape, region->ndim, dtype) : NULL;
    if (mask) {
        const int64_t *ir = (const int64_t *)cg_ptr(pr);
        for (int64_t k = pr->numel - 1; k >= 0; k--) {
            bool stays = !seen[ir[k]];
            seen[ir[k]] = 1;
            if (dtype == CG_FLOAT32) ((float *)cg_ptr(mask))[k] = stays ? 1.0f : 0.0f;
            else ((double *)cg_ptr(mask))[k] = stays ? 1.0 : 0.0;
        }
    } else if (pr && !seen) {
        cg_oom(hi - lo);
    }
    free(seen);
    cg_tensor_release(pr);
    return mask;
}

/* d/dsrc: the gradient of the storage element each src element wrote, if its
 * write stayed (Note [Gradients through the storage]) */
static cg_tensor *src_grad(cg_tensor *g, const scatter_geoms *sg) {
    cg_tensor *got = cg_through_storage(g, &sg->at, &sg->region, false);
    if (!got || !cg_geom_may_overlap(&sg->region)) return got;
    cg_tensor *stays = last_writes(&sg->region, (cg_dtype)g->dtype);
    cg_tensor *r = stays ? cg_mul(got, stays) : NULL;
    cg_tensor_release(stays);
    cg_tensor_release(got);
    return r;
}

/* d/da: g where src did not overwrite a (a contiguous, laid out as the result) */
static int as_strided_scatter_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    const scatter_geoms *sg = n->extra;
    if (cg_wants(n, 0)) {
        cg_tensor *keep = outside_mask(&sg->at, &sg->region, (cg_dtype)gout[0]->dtype);
        gin[0] = keep ? cg_mul(gout[0], keep) : NULL;
        cg_tensor_release(keep);
        if (!gin[0]) return -1;
    }
    if (cg_wants(n, 1) && !(gin[1] = cg_reduce_grad(n, 1, src_grad(gout[0], sg)))) return -1;
    return 0;
}
static const cg_op as_strided_scatter_op = {"AsStridedScatterBackward0", as_strided_scatter_backward, free};

/* The result before src is written: a copy of a's storage laid out as a, or
 * of a's values (contiguous) when several of a's elements are one location. */
static cg_tensor *storage_copy(cg_tensor *a) {
    if (has_repeats(a->shape, a->strides, a->ndim)) {
        cg_tensor *c = cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype);
        if (c && cg_copy_data(c, a)) {
            cg_tensor_release(c);
            return NULL;
        }
        return c;
    }
    cg_storage *s = cg_storage_new(a->storage->nbytes);
    if (!s) return NULL;
    if (a->storage->nbytes) memcpy(s->data, a->storage->data, (size_t)a->storage->nbytes);
    cg_tensor *c = cg_tensor_make(s, (cg_dtype)a->dtype, a->shape, a->strides, a->ndim, a->offset);
    cg_storage_release(s);
    return c;
}

static int check_scatter(cg_tensor *a, cg_tensor *src, const int64_t *shape, const int64_t *strides, int ndim,
                         int64_t offset) {
    char b1[256], b2[256];
    if (cg_is_grad_enabled() && a->requires_grad && !cg_tensor_is_contiguous(a)) {
        cg_error_set(CG_ERR_RUNTIME, "as_strided_scatter is currently only supported for contiguous inputs");
        return -1;
    }
    bool repeats = has_repeats(a->shape, a->strides, a->ndim);
    int64_t have = repeats ? a->numel * cg_dtype_size((cg_dtype)a->dtype) : a->storage->nbytes;
    if (check_layout(shape, strides, ndim, offset, (cg_dtype)a->dtype, have)) return -1;
    if (!cg_shape_eq(src->shape, src->ndim, shape, ndim)) {
        cg_error_set(CG_ERR_RUNTIME,
                     "expected src to have a size equal to the slice of self. src size = %s, slice size = %s",
                     cg_shape_str(src->shape, src->ndim, b1, sizeof b1), cg_shape_str(shape, ndim, b2, sizeof b2));
        return -1;
    }
    if (has_repeats(shape, strides, ndim)) {
        cg_error_set(CG_ERR_RUNTIME,
                     "unsupported operation: more than one element of the written-to tensor refers to a single memory "
                     "location. Please clone() the tensor before performing the operation.");
        return -1;
    }
    return 0;
}

/* src's elements in logical order written one after another at region g of
 * out's storage: where g's elements overlap, the last write stays. */
static void write_in_order(cg_tensor *out, cg_tensor *src, const cg_geom *g) {
    cg_tensor *pos = positions(g, 0);
    if (!pos) return;
    const int64_t *p = (const int64_t *)cg_ptr(pos);
    size_t isz = (size_t)cg_dtype_size((cg_dtype)out->dtype);
    char *base = out->storage->data;
    const char *from = cg_ptr(src);
    for (int64_t k = 0; k < pos->numel; k++) memcpy(base + p[k] * (int64_t)isz, from + k * (int64_t)isz, isz);
    cg_tensor_release(pos);
}

cg_tensor *cg_as_strided_scatter_storage(cg_tensor *a, cg_tensor *src, const int64_t *shape, const int64_t *strides,
                                         int ndim, int64_t offset) {
    if (check_scatter(a, src, shape, strides, ndim, offset)) return NULL;
    cg_tensor *out = storage_copy(a);
    cg_tensor *s = out ? cg_empty(src->shape, src->ndim, (cg_dtype)a->dtype) : NULL; /* src, contiguous, a's dtype */
    if (!s || cg_copy_data(s, src)) {
        cg_tensor_release(s);
        cg_tensor_release(out);
        return NULL;
    }
    cg_geom region;
    geom_of(&region, shape, strides, ndim, offset);
    write_in_order(out, s, &region);
    cg_tensor_release(s);
    cg_tensor *ins[2] = {a, src};
    if (!cg_any_requires_grad(ins, 2)) return out;
    scatter_geoms *sg = malloc(sizeof *sg);
    cg_node *n = sg ? cg_node_new(&as_strided_scatter_op, ins, 2, 1) : cg_oom((int64_t)sizeof *sg);
    if (!n) {
        free(sg);
        cg_tensor_release(out);
        return NULL;
    }
    cg_geom_actual(out, &sg->at);
    sg->region = region;
    n->extra = sg;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* ---- empty_strided -------------------------------------------------------------------------- */

cg_tensor *cg_empty_strided(const int64_t *shape, const int64_t *strides, int ndim, cg_dtype dtype) {
    if (cg_check_shape(shape, ndim)) return NULL; /* PyTorch's negative-dimension error first */
    int64_t bytes;
    if (layout_bytes(shape, strides, ndim, 0, cg_dtype_size(dtype), &bytes)) return NULL;
    cg_storage *s = cg_storage_new(bytes);
    if (!s) return NULL;
    cg_tensor *t = cg_tensor_make(s, dtype, shape, strides, ndim, 0);
    cg_storage_release(s);
    return t;
}

/* ---- a storage of the caller's choosing (Tensor.set_) ------------------------------------- */

static int set_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n, (void)gout, (void)gin;
    cg_error_set(CG_ERR_RUNTIME, "derivative for set_ is not implemented");
    return -1;
}
static const cg_op set_op = {"torch::autograd::NotImplemented", set_backward, NULL};

int cg_tensor_set_storage(cg_tensor *t, cg_storage *s, const int64_t *shape, const int64_t *strides, int ndim,
                          int64_t offset, cg_tensor *source) {
    if (check_layout(shape, strides, ndim, offset, (cg_dtype)t->dtype, s->nbytes)) return -1;
    cg_tensor *ins[2] = {t, source};
    int n_in = source ? 2 : 1;
    cg_node *node = cg_any_requires_grad(ins, n_in) ? cg_node_new(&set_op, ins, n_in, 1) : NULL;
    if (cg_any_requires_grad(ins, n_in) && !node) return -1;
    cg_tensor *view = cg_tensor_make(s, (cg_dtype)t->dtype, shape, strides, ndim, offset);
    int rc = view ? cg_tensor_set_data(t, view) : -1;
    cg_tensor_release(view);
    if (rc == 0 && node) cg_set_history(t, node, 0);
    if (node) cg_node_release(node);
    return rc;
}

/* ---- storages in shared memory ------------------------------------------------------------- */

typedef struct shared_bytes {
    size_t len;           /* of the mapping */
    void *old;            /* the bytes before the move (NULL: they were the storage's inline ones) */
    int64_t old_nbytes;
    cg_deleter old_deleter;
    void *old_ctx;
} shared_bytes;

static void free_old_bytes(shared_bytes *b) {
    if (b->old_deleter)
        b->old_deleter(b->old, b->old_ctx);
    else if (b->old)
        cg_data_free(b->old, b->old_nbytes);
    b->old = NULL;
    b->old_deleter = NULL;
}

static void shared_bytes_free(void *data, void *ctx) {
    shared_bytes *b = ctx;
    munmap(data, b->len);
    free_old_bytes(b);
    free(b);
}

int cg_storage_is_shared(const cg_storage *s) { return s->deleter == shared_bytes_free; }

uint64_t cg_storage_moves;

int cg_storage_share_memory(cg_storage *s) {
    if (cg_storage_is_shared(s)) return 0;
    if (CG_RECORDING()) cg_tape_break("share_memory_ in the step moves a tensor's bytes");
    __atomic_add_fetch(&cg_storage_moves, 1, __ATOMIC_RELAXED);
    shared_bytes *b = malloc(sizeof *b);
    size_t len = s->nbytes > 0 ? (size_t)s->nbytes : 1;
    void *p = b ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
    if (p == MAP_FAILED) {
        free(b);
        cg_oom(s->nbytes);
        return -1;
    }
    memcpy(p, s->data, (size_t)s->nbytes);
    *b = (shared_bytes){len, s->data == s->inline_buf ? NULL : s->data, s->nbytes, s->deleter, s->deleter_ctx};
    s->data = p;
    s->deleter = shared_bytes_free;
    s->deleter_ctx = b;
    return 0;
}

void cg_storage_free_old_bytes(cg_storage *s) {
    if (cg_storage_is_shared(s)) free_old_bytes(s->deleter_ctx);
}
