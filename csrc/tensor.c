/* tensor.c -- storage, tensors, dtypes, shapes, and the deferred-release loop. */
#include <math.h>
#include <stdio.h>

#include "internal.h"

void cg_node_destroy(cg_node *n); /* graph.c */

/* ---- dtypes ------------------------------------------------------------ */

static cg_dtype default_dtype = CG_FLOAT32;

int64_t cg_dtype_size(cg_dtype dtype) { return (unsigned)dtype < CG_NUM_DTYPES ? cg_elem_size(dtype) : 0; }

const char *cg_dtype_name(cg_dtype dtype) {
    static const char *names[] = {"float32", "float64", "int64", "bool"};
    return (unsigned)dtype < CG_NUM_DTYPES ? names[dtype] : "unknown";
}

int cg_dtype_is_floating(cg_dtype dtype) { return dtype == CG_FLOAT32 || dtype == CG_FLOAT64; }

cg_dtype cg_get_default_dtype(void) { return default_dtype; }

int cg_set_default_dtype(cg_dtype dtype) {
    if (!cg_dtype_is_floating(dtype)) {
        cg_error_set(CG_ERR_TYPE, "only floating-point types are supported as the default type");
        return -1;
    }
    default_dtype = dtype;
    return 0;
}

static int category(cg_dtype d) { return d == CG_BOOL ? 0 : d == CG_INT64 ? 1 : 2; }

cg_dtype cg_promote_types(cg_dtype a, cg_dtype b) {
    if (a == b) return a;
    if (category(a) == 2 && category(b) == 2) return CG_FLOAT64;
    return category(a) >= category(b) ? a : b;
}

/* PyTorch's combine_categories: a lower-priority class only matters when it
 * is of a higher category (bool < integer < floating). -1 means "none". */
static int combine(int higher, int lower) {
    if (higher < 0) return lower;
    if (lower < 0) return higher;
    if (category((cg_dtype)higher) == 2) return higher;
    if (higher == CG_BOOL || category((cg_dtype)lower) == 2) return cg_promote_types((cg_dtype)higher, (cg_dtype)lower);
    return higher;
}

cg_dtype cg_result_type(const cg_tensor *a, const cg_tensor *b) {
    if (a->dtype == b->dtype) return (cg_dtype)a->dtype; /* every rule keeps a shared dtype */
    int cls[3] = {-1, -1, -1}; /* dimensioned, zero-dim, wrapped number */
    const cg_tensor *ts[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        const cg_tensor *t = ts[k];
        int c = t->is_wrapped ? 2 : t->ndim == 0 ? 1 : 0;
        cg_dtype d = (cg_dtype)t->dtype;
        if (t->is_wrapped && cg_dtype_is_floating(d)) d = default_dtype;
        cls[c] = cls[c] < 0 ? (int)d : (int)cg_promote_types((cg_dtype)cls[c], d);
    }
    return (cg_dtype)combine(cls[0], combine(cls[1], cls[2]));
}

/* ---- storage -------------------------------------------------------------- */

cg_storage *cg_storage_new(int64_t nbytes) {
    if (nbytes < 0) return cg_oom(nbytes);
    cg_storage *s = cg_pool_get(&cg_ts.storages, sizeof(cg_storage), sizeof(cg_storage));
    if (!s) return NULL;
    s->refcount = 1;
    s->nbytes = nbytes;
    s->version = 0;
    s->deleter = NULL;
    s->deleter_ctx = NULL;
    if (CG_RECORDING()) cg_tape_fresh(s);
    if (nbytes <= (int64_t)sizeof s->inline_buf) {
        s->data = s->inline_buf;
        return s;
    }
    if ((uint64_t)nbytes > ((uint64_t)1 << 62) || !(s->data = cg_data_alloc(nbytes))) {
        cg_pool_put(&cg_ts.storages, s);
        return cg_oom(nbytes);
    }
    return s;
}

void cg_storage_retain(cg_storage *s) { CG_INC(&s->refcount); }

void cg_storage_release(cg_storage *s) {
    if (!s || CG_DEC(&s->refcount) != 0) return;
    if (s->deleter)
        s->deleter(s->data, s->deleter_ctx);
    else if (s->data != s->inline_buf)
        cg_data_free(s->data, s->nbytes);
    cg_pool_put(&cg_ts.storages, s);
}

/* ---- deferred release ------------------------------------------------------ */


static void tensor_destroy(cg_tensor *t) {
    if (t->retains_grad) cg_tensor_forget_retain(t);
    if (t->had_hooks && t->hooks) cg_tensor_free_hooks(t);
    cg_storage_release(t->storage);
    cg_tensor_release(t->grad);
    cg_node_release(t->grad_fn);
    cg_tensor_release(t->base);
    cg_pool_put(&cg_ts.tensors, t);
}

static void destroy(uintptr_t item) {
    if (item & 1)
        cg_node_destroy((cg_node *)(item & ~(uintptr_t)1));
    else
        tensor_destroy((cg_tensor *)item);
}

void cg_reap_push(void *obj, int is_node) {
    uintptr_t item = (uintptr_t)obj | (uintptr_t)(is_node ? 1 : 0);
    if (!cg_ts.reap.draining) { /* the common case: free now, collect what that frees */
        cg_ts.reap.draining = true;
        destroy(item);
        while (cg_ts.reap.n) destroy(cg_ts.reap.items[--cg_ts.reap.n]);
        cg_ts.reap.draining = false;
        if (cg_ts.reap.cap > 65536) { /* give back what a huge graph needed */
            free(cg_ts.reap.items);
            cg_ts.reap.items = NULL;
            cg_ts.reap.cap = 0;
        }
        return;
    }
    if (cg_ts.reap.n == cg_ts.reap.cap) {
        size_t cap = cg_ts.reap.cap ? cg_ts.reap.cap * 2 : 256;
        uintptr_t *items = realloc(cg_ts.reap.items, cap * sizeof *items);
        if (!items) { /* out of memory: free now, recursing at worst */
            destroy(item);
            return;
        }
        if (!cg_ts.reap.items) cg_at_thread_exit(); /* frees it at this thread's exit */
        cg_ts.reap.items = items;
        cg_ts.reap.cap = cap;
    }
    cg_ts.reap.items[cg_ts.reap.n++] = item;
}

/* ---- tensors ----------------------------------------------------------------- */

void cg_tensor_retain(cg_tensor *t) { CG_INC(&t->refcount); }

void cg_tensor_release(cg_tensor *t) {
    if (t && CG_DEC(&t->refcount) == 0) cg_reap_push(t, 0);
}

void cg_tensor_set_pyobj(cg_tensor *t, void *obj) {
    if (t->grad_fn && !t->pyobj != !obj) {
        if (obj)
            CG_INC(&t->grad_fn->wrapped);
        else
            CG_DEC(&t->grad_fn->wrapped);
    }
    t->pyobj = obj;
}

/* Note [Dropping results in a row]
 * A big graph's results die far out of cache, and often all at once: a list
 * of them dropped, last made first. Each death then waits on three lines in
 * turn -- the tensor's header, then its storage's and its node's counts,
 * lowered by locked operations that overlap with nothing -- each a trip to
 * memory, longer than a release takes. So releases run a pipeline: each
 * wrapper knows the tensors wrapped 4 and 8 wrappers before its own, which a
 * row of deaths reaches 4 and 8 releases later; releasing t starts loading
 * the header of the second, and the storage and node of the first, whose
 * header was asked for 4 releases ago. A guess costs nothing when wrong: the
 * guessed tensor may be dead, but its header stays in a pool, whose memory
 * is never given back, and what is read from it only names lines to load.
 * Dropping the scalar chain's 20,000 results became about four times faster
 * (docs/performance.md, "Results dropped in a row"). */
void cg_tensor_release_wrapper(cg_tensor *t, void *obj, const cg_tensor *next, const cg_tensor *after) {
    __builtin_prefetch(after, 1, 3);
    if (next) {
        __builtin_prefetch(__atomic_load_n(&next->storage, __ATOMIC_RELAXED), 1, 3);
        __builtin_prefetch(__atomic_load_n(&next->grad_fn, __ATOMIC_RELAXED), 1, 3);
    }
    cg_prefetch_input(t); /* for when the guess was wrong */
    if (t->pyobj == obj) cg_tensor_set_pyobj(t, NULL);
    cg_tensor_release(t);
}

int64_t cg_shape_numel(const int64_t *shape, int ndim) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

void cg_contiguous_strides(const int64_t *shape, int ndim, int64_t *strides) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i] > 1 ? shape[i] : 1;
    }
}

int cg_check_shape(const int64_t *shape, int ndim) {
    if (ndim < 0 || ndim > CG_MAX_DIMS) {
        cg_error_set(CG_ERR_RUNTIME, "cgrad supports at most %d dimensions, got %d", CG_MAX_DIMS, ndim);
        return -1;
    }
    int64_t total = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            char buf[160];
            cg_error_set(CG_ERR_RUNTIME, "Trying to create tensor with negative dimension %lld: %s",
                         (long long)shape[i], cg_shape_str(shape, ndim, buf, sizeof buf));
            return -1;
        }
        if (shape[i] && total > (INT64_MAX / 16) / shape[i]) {
            char buf[160];
            cg_error_set(CG_ERR_RUNTIME, "tensor of shape %s is too large to be allocated",
                         cg_shape_str(shape, ndim, buf, sizeof buf));
            return -1;
        }
        total *= shape[i] ? shape[i] : 1;
    }
    return 0;
}

/* A tensor header over s, taking over the caller's reference to s. */
static cg_tensor *tensor_header(cg_storage *s, cg_dtype dtype, const int64_t *shape,
                                const int64_t *strides, int ndim, int64_t offset) {
    /* hot: what tensors of up to 3 dims write */
    cg_tensor *t = cg_pool_get(&cg_ts.tensors, sizeof(cg_tensor), offsetof(cg_tensor, strides) + 3 * sizeof(int64_t));
    if (!t) return NULL;
    memset(t, 0, offsetof(cg_tensor, shape));
    t->grad = NULL;
    t->grad_fn = NULL;
    t->grad_acc = NULL;
    t->base = NULL;
    t->hooks = NULL;
    t->pyobj = NULL;
    t->refcount = 1;
    t->storage = s;
    t->dtype = (uint8_t)dtype;
    t->ndim = ndim;
    t->offset = offset;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    if (strides)
        memcpy(t->strides, strides, (size_t)ndim * sizeof(int64_t));
    else
        cg_contiguous_strides(shape, ndim, t->strides);
    t->numel = cg_shape_numel(shape, ndim);
    return t;
}

cg_tensor *cg_tensor_make(cg_storage *s, cg_dtype dtype, const int64_t *shape,
                          const int64_t *strides, int ndim, int64_t offset) {
    cg_tensor *t = tensor_header(s, dtype, shape, strides, ndim, offset);
    if (t) cg_storage_retain(s);
    return t;
}

cg_tensor *cg_new_tensor(const int64_t *shape, int ndim, cg_dtype dtype) {
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= shape[i];
    cg_storage *s = cg_storage_new(numel * cg_dtype_size(dtype));
    if (!s) return NULL;
    cg_tensor *t = tensor_header(s, dtype, shape, NULL, ndim, 0);
    if (!t) cg_storage_release(s);
    return t;
}

cg_tensor *cg_empty(const int64_t *shape, int ndim, cg_dtype dtype) {
    if (cg_check_shape(shape, ndim)) return NULL;
    return cg_new_tensor(shape, ndim, dtype);
}

cg_tensor *cg_empty_like(const cg_tensor *t) {
    return cg_empty(t->shape, t->ndim, (cg_dtype)t->dtype);
}

cg_tensor *cg_full(const int64_t *shape, int ndim, double value, cg_dtype dtype) {
    cg_tensor *t = cg_empty(shape, ndim, dtype);
    if (t) cg_fill_raw(t, value);
    return t;
}

static int zero_kernel(const cg_kargs *k) {
    memset(k->t[0]->storage->data, 0, (size_t)k->i[0]);
    return 0;
}

cg_tensor *cg_zeros(const int64_t *shape, int ndim, cg_dtype dtype) {
    if (cg_check_shape(shape, ndim)) return NULL;
    int64_t nbytes = cg_shape_numel(shape, ndim) * cg_dtype_size(dtype);
    cg_tensor *t = cg_empty(shape, ndim, dtype);
    if (t && CG_RECORDING())
        cg_kernel(zero_kernel, &(cg_kargs){.name = "zeros", .t = {t}, .nw = 1, .i = {nbytes}});
    else if (t)
        memset(t->storage->data, 0, (size_t)nbytes);
    return t;
}

cg_tensor *cg_ones(const int64_t *shape, int ndim, cg_dtype dtype) {
    return cg_full(shape, ndim, 1.0, dtype);
}

cg_tensor *cg_from_data(const void *data, const int64_t *shape, int ndim, cg_dtype dtype) {
    cg_tensor *t = cg_empty(shape, ndim, dtype);
    if (t && t->numel) memcpy(t->storage->data, data, (size_t)(t->numel * cg_dtype_size(dtype)));
    if (t && CG_RECORDING()) cg_tape_constant(t);
    return t;
}

cg_tensor *cg_from_blob(void *data, const int64_t *shape, const int64_t *strides, int ndim,
                        cg_dtype dtype, cg_deleter deleter, void *ctx) {
    if (cg_check_shape(shape, ndim)) return NULL;
    if (CG_RECORDING())
        cg_tape_break("a tensor sharing memory with an array made outside the step (from_numpy, from_dlpack) was "
                      "created in it; pass the array to the step as a tensor argument");
    cg_storage *s = cg_pool_get(&cg_ts.storages, sizeof(cg_storage), sizeof(cg_storage));
    if (!s) return NULL;
    s->refcount = 1;
    s->version = 0;
    s->data = data;
    s->nbytes = cg_shape_numel(shape, ndim) * cg_dtype_size(dtype);
    s->deleter = deleter;
    s->deleter_ctx = ctx;
    cg_tensor *t = cg_tensor_make(s, dtype, shape, strides, ndim, 0);
    if (!t) s->deleter = NULL; /* the caller keeps ownership on failure */
    cg_storage_release(s);
    return t;
}

static void store_scalar(void *p, cg_dtype dtype, double value) {
    switch (dtype) {
    case CG_FLOAT32: *(float *)p = (float)value; break;
    case CG_FLOAT64: *(double *)p = value; break;
    case CG_INT64: *(int64_t *)p = (int64_t)value; break;
    case CG_BOOL: *(uint8_t *)p = value != 0; break;
    }
}

cg_tensor *cg_scalar_tensor(double value, cg_dtype kind, const cg_tensor *like) {
    cg_dtype dtype = kind;
    if (kind == CG_FLOAT64)
        dtype = like && cg_dtype_is_floating((cg_dtype)like->dtype) ? (cg_dtype)like->dtype : default_dtype;
    else if (like && (cg_dtype)like->dtype != CG_BOOL)
        dtype = (cg_dtype)like->dtype;
    else if (like && kind == CG_INT64)
        dtype = CG_INT64;
    cg_tensor *t = cg_empty(NULL, 0, dtype);
    if (!t) return NULL;
    store_scalar(t->storage->data, dtype, value);
    t->is_wrapped = 1;
    if (CG_RECORDING()) cg_tape_constant(t);
    return t;
}

/* Code like y * 1.0001 + 0.0001 in a loop makes the same wrapped numbers
 * over and over: a few per thread are kept (they are never written to). */
cg_tensor *cg_scalar_cached(double value, cg_dtype kind, const cg_tensor *like) {
    if (CG_RECORDING()) return cg_scalar_tensor(value, kind, like); /* a constant of the recording */
    cg_dtype dtype = like ? (cg_dtype)like->dtype : CG_NUM_DTYPES;
    for (int i = 0; i < CG_SCALAR_CACHE; i++) {
        cg_scalar_entry *e = &cg_ts.scalars[i];
        if (e->t && e->value == value && e->kind == kind && e->like_dtype == dtype && !signbit(value) == !signbit(e->value)) {
            cg_tensor_retain(e->t);
            return e->t;
        }
    }
    cg_tensor *t = cg_scalar_tensor(value, kind, like);
    if (!t || value != value) return t;
    cg_scalar_entry *e = &cg_ts.scalars[cg_ts.next_scalar++ % CG_SCALAR_CACHE];
    cg_tensor_release(e->t);
    *e = (cg_scalar_entry){value, (uint8_t)kind, (uint8_t)dtype, t};
    cg_tensor_retain(t);
    return t;
}

int cg_tensor_is_contiguous(const cg_tensor *t) {
    int64_t expected = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 1) continue;
        if (t->shape[i] == 0) return 1;
        if (t->strides[i] != expected) return 0;
        expected *= t->shape[i];
    }
    return 1;
}

void *cg_tensor_data(const cg_tensor *t) { return cg_ptr(t); }

static double load_scalar(const void *p, cg_dtype dtype) {
    switch (dtype) {
    case CG_FLOAT32: return *(const float *)p;
    case CG_FLOAT64: return *(const double *)p;
    case CG_INT64: return (double)*(const int64_t *)p;
    case CG_BOOL: return *(const uint8_t *)p;
    }
    return NAN;
}

double cg_tensor_item(const cg_tensor *t) {
    if (t->numel != 1) {
        cg_error_set(CG_ERR_RUNTIME, "a Tensor with %lld elements cannot be converted to Scalar",
                     (long long)t->numel);
        return NAN;
    }
    return load_scalar(cg_ptr(t), (cg_dtype)t->dtype);
}

/* ---- shapes -------------------------------------------------------------------- */

bool cg_shape_eq(const int64_t *s1, int n1, const int64_t *s2, int n2) {
    if (n1 != n2) return false;
    for (int i = 0; i < n1; i++)
        if (s1[i] != s2[i]) return false;
    return true;
}

bool cg_same_shape(const cg_tensor *a, const cg_tensor *b) {
    return cg_shape_eq(a->shape, a->ndim, b->shape, b->ndim);
}

int cg_wrap_dim(int64_t dim, int ndim, int64_t *out) {
    int64_t n = ndim > 0 ? ndim : 1;
    if (dim < -n || dim >= n) {
        cg_error_set(CG_ERR_INDEX, "Dimension out of range (expected to be in range of [%lld, %lld], but got %lld)",
                     (long long)-n, (long long)(n - 1), (long long)dim);
        return -1;
    }
    *out = dim < 0 ? dim + n : dim;
    return 0;
}

int cg_broadcast_shapes(const int64_t *sa, int na, const int64_t *sb, int nb,
                        int64_t *out, int *nout) {
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int ia = na - n + i, ib = nb - n + i;
        int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            cg_error_set(CG_ERR_RUNTIME,
                         "The size of tensor a (%lld) must match the size of tensor b (%lld) at non-singleton dimension %d",
                         (long long)da, (long long)db, i);
            return -1;
        }
        out[i] = da == 1 ? db : da;
    }
    *nout = n;
    return 0;
}

void cg_broadcast_strides(const cg_tensor *t, const int64_t *shape, int ndim, int64_t *out) {
    int lead = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        int j = i - lead;
        out[i] = (j < 0 || (t->shape[j] == 1 && shape[i] != 1)) ? 0 : t->strides[j];
    }
}

cg_tensor *cg_alias(cg_tensor *a, const int64_t *shape, const int64_t *strides,
                    int ndim, int64_t offset) {
    cg_tensor *t = cg_tensor_make(a->storage, (cg_dtype)a->dtype, shape, strides, ndim, offset);
    if (!t) return NULL;
    t->base = a->base ? a->base : a;
    cg_tensor_retain(t->base);
    t->view_version = t->storage->version;
    t->view_no_grad = cg_ts.grad_disabled ? 1 : a->base && a->view_no_grad ? 2 : 0;
    return t;
}
