/* custom.c -- custom Function nodes, node introspection, anomaly mode.
 *
 * A custom Function (Python's autograd.Function) is an ordinary node whose
 * backward formula is a callback: the engine calls it like any other, and
 * the binding takes the GIL inside it for the Python call only. Its name is
 * the Function's, so its cg_op lives in the node's extra data rather than in
 * a static table.
 *
 * Anomaly mode asks the binding, through a callback, for a record of where
 * each new node is made (the Python stack); the record is opaque here and
 * released with the node. When a node's backward fails, the binding is shown
 * that record before the error reaches the caller.
 */
#include <stdio.h>

#include "internal.h"

/* ---- custom Functions -------------------------------------------------------- */

typedef struct fn_extra {
    cg_op op; /* this node's op: its name is the Function's */
    cg_function_backward fn;
    void *ctx;
    cg_ctx_release release;
    int n_inputs;
    cg_shape *in_shape; /* every input's shape and dtype, to check gradients */
    uint8_t *in_dtype;
    int n_saved;
    cg_saved *saved;
    uint8_t *saved_none; /* slot i saved None */
    char name[];
} fn_extra;

static int function_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin);

static bool is_function(const cg_node *n) { return n->op->backward == function_backward; }

int cg_function_refs(const cg_node *n, cg_saved **saved, void **ctx, cg_ctx_release *release) {
    if (!is_function(n)) return -1;
    fn_extra *x = n->extra;
    *saved = x->saved;
    *ctx = x->ctx;
    *release = x->release;
    return x->n_saved;
}

static void release_function_saved(cg_node *n) {
    fn_extra *x = n->extra;
    for (int i = 0; i < x->n_saved; i++) cg_saved_clear(&x->saved[i]);
}

static void free_function(void *extra) {
    fn_extra *x = extra;
    CG_DEC(&cg_live_callbacks);
    for (int i = 0; i < x->n_saved; i++) cg_saved_clear(&x->saved[i]);
    if (x->release) x->release(x->ctx);
    free(x->saved);
    free(x->saved_none);
    free(x->in_shape);
    free(x->in_dtype);
    free(x);
}

/* Sums a broadcast gradient back to input i's shape, casts it to its dtype;
 * a shape input i does not broadcast to is the Function's error. */
static int fit_gradient(cg_node *n, fn_extra *x, int i, cg_tensor **g) {
    const cg_shape *s = &x->in_shape[i];
    cg_tensor *t = *g;
    if (!cg_shape_eq(t->shape, t->ndim, s->d, s->ndim)) {
        int64_t b[CG_MAX_DIMS];
        int nb;
        bool ok = s->ndim <= t->ndim && cg_broadcast_shapes(s->d, s->ndim, t->shape, t->ndim, b, &nb) == 0 &&
                  cg_shape_eq(b, nb, t->shape, t->ndim);
        if (!ok) {
            char b1[160], b2[160];
            cg_error_set(CG_ERR_RUNTIME,
                         "Function %s returned an invalid gradient at index %d - got %s but expected shape "
                         "compatible with %s",
                         n->op->name, i, cg_shape_str(t->shape, t->ndim, b1, sizeof b1),
                         cg_shape_str(s->d, s->ndim, b2, sizeof b2));
            return -1;
        }
        cg_tensor *r = cg_sum_to(t, s->d, s->ndim);
        if (!r) return -1;
        cg_tensor_release(t);
        *g = t = r;
    }
    if (t->dtype != x->in_dtype[i]) {
        cg_tensor *r = cg_to_dtype(t, (cg_dtype)x->in_dtype[i]);
        if (!r) return -1;
        cg_tensor_release(t);
        *g = r;
    }
    return 0;
}

static int function_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    fn_extra *x = n->extra;
    if (x->fn(x->ctx, n, gout, (int)n->n_outputs, gin, n->n_next)) {
        if (cg_error_kind() == CG_OK) cg_error_set(CG_ERR_EXTERNAL, "a custom Function's backward failed");
        return -1;
    }
    for (int i = 0; i < n->n_next; i++) {
        if (!gin[i]) continue;
        if (!n->next[i].node) { /* an input that needs no gradient */
            cg_tensor_release(gin[i]);
            gin[i] = NULL;
            continue;
        }
        if (fit_gradient(n, x, i, &gin[i])) return -1;
    }
    return 0;
}

static fn_extra *function_extra_new(const char *name, cg_tensor *const *inputs, int n_inputs) {
    size_t len = strlen(name);
    fn_extra *x = calloc(1, sizeof *x + len + 1);
    if (!x) return cg_oom((int64_t)(sizeof *x + len + 1));
    CG_INC(&cg_live_callbacks);
    memcpy(x->name, name, len + 1);
    x->op = (cg_op){x->name, function_backward, free_function, release_function_saved};
    x->n_inputs = n_inputs;
    x->in_shape = calloc((size_t)(n_inputs > 0 ? n_inputs : 1), sizeof(cg_shape));
    x->in_dtype = calloc((size_t)(n_inputs > 0 ? n_inputs : 1), 1);
    if (!x->in_shape || !x->in_dtype) {
        free_function(x);
        return cg_oom((int64_t)n_inputs * (int64_t)sizeof(cg_shape));
    }
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i]) continue;
        x->in_shape[i].ndim = inputs[i]->ndim;
        memcpy(x->in_shape[i].d, inputs[i]->shape, (size_t)inputs[i]->ndim * sizeof(int64_t));
        x->in_dtype[i] = inputs[i]->dtype;
    }
    return x;
}

cg_node *cg_function_node_new(const char *name, cg_tensor *const *inputs, int n_inputs, int n_outputs,
                              cg_function_backward fn, void *ctx, cg_ctx_release release) {
    if (n_inputs < 0 || n_outputs < 0) {
        cg_error_set(CG_ERR_VALUE, "a custom Function needs a non-negative number of inputs and outputs");
        return NULL;
    }
    fn_extra *x = function_extra_new(name, inputs, n_inputs);
    if (!x) return NULL;
    cg_node *n = cg_node_new(&x->op, inputs, n_inputs, (uint32_t)n_outputs);
    if (!n) {
        free_function(x); /* x->release is still NULL: ctx stays the caller's */
        return NULL;
    }
    x->fn = fn;
    x->ctx = ctx;
    x->release = release;
    n->extra = x;
    return n;
}

void *cg_function_ctx(const cg_node *n) { return is_function(n) ? ((fn_extra *)n->extra)->ctx : NULL; }

int cg_function_set_output(cg_node *n, cg_tensor *t, uint32_t k) {
    if (k >= n->n_outputs) {
        cg_error_set(CG_ERR_INDEX, "%s has %u outputs, not %u", n->op->name, n->n_outputs, k + 1);
        return -1;
    }
    cg_set_history(t, n, k);
    return 0;
}

int cg_function_save(cg_node *n, cg_tensor *const *tensors, int count) {
    if (!is_function(n)) {
        cg_error_set(CG_ERR_RUNTIME, "%s is not a custom Function's node", n->op->name);
        return -1;
    }
    fn_extra *x = n->extra;
    release_function_saved(n);
    free(x->saved);
    free(x->saved_none);
    x->n_saved = 0;
    x->saved = calloc((size_t)(count > 0 ? count : 1), sizeof(cg_saved));
    x->saved_none = calloc((size_t)(count > 0 ? count : 1), 1);
    if (!x->saved || !x->saved_none) {
        cg_oom((int64_t)count * (int64_t)sizeof(cg_saved));
        return -1;
    }
    x->n_saved = count;
    for (int i = 0; i < count; i++) {
        if (!tensors[i]) {
            x->saved_none[i] = 1;
            continue;
        }
        if (cg_save_into(n, &x->saved[i], tensors[i], tensors[i]->grad_fn == n)) return -1;
    }
    n->has_saved = 1;
    return 0;
}

int cg_function_num_saved(const cg_node *n) { return is_function(n) ? ((fn_extra *)n->extra)->n_saved : 0; }

int cg_function_unpack(cg_node *n, int i, cg_tensor **out) {
    *out = NULL;
    if (!is_function(n) || i < 0 || i >= ((fn_extra *)n->extra)->n_saved) {
        cg_error_set(CG_ERR_INDEX, "%s has no saved tensor %d", n->op->name, i);
        return -1;
    }
    fn_extra *x = n->extra;
    if (x->saved_none[i] && !n->released) return 0;
    *out = cg_unpack_from(n, &x->saved[i]);
    return *out ? 0 : -1;
}

int cg_node_needs_input_grad(const cg_node *n, int i) {
    return i >= 0 && i < n->n_next && n->next[i].node != NULL;
}

/* ---- introspection ------------------------------------------------------------- */

int cg_node_num_saved(const cg_node *n) {
    if (is_function(n)) return ((fn_extra *)n->extra)->n_saved;
    return n->has_saved ? CG_NODE_SAVED : 0;
}

cg_tensor *cg_node_saved(const cg_node *n, int i) {
    if (i < 0 || i >= cg_node_num_saved(n)) return NULL;
    return cg_saved_peek(n, is_function(n) ? &((fn_extra *)n->extra)->saved[i] : &n->saved[i]);
}

int cg_node_input_meta(const cg_node *n, int i, int64_t *shape, int *ndim, cg_dtype *dtype) {
    const cg_shape *s;
    uint8_t d;
    if (n->variable && i == 0) { /* AccumulateGrad: the leaf itself */
        *ndim = n->variable->ndim;
        memcpy(shape, n->variable->shape, (size_t)*ndim * sizeof(int64_t));
        *dtype = (cg_dtype)n->variable->dtype;
        return 0;
    }
    if (is_function(n) && i >= 0 && i < ((fn_extra *)n->extra)->n_inputs) {
        s = &((fn_extra *)n->extra)->in_shape[i];
        d = ((fn_extra *)n->extra)->in_dtype[i];
    } else if (!is_function(n) && i >= 0 && i < CG_NODE_INLINE_META && i < n->n_next && n->next[i].node) {
        s = &n->in_shape[i];
        d = n->in_dtype[i];
    } else {
        return -1;
    }
    *ndim = s->ndim;
    memcpy(shape, s->d, (size_t)s->ndim * sizeof(int64_t));
    *dtype = (cg_dtype)d;
    return 0;
}

/* ---- anomaly mode ----------------------------------------------------------------- */

static int anomaly_on;
static int anomaly_nan = 1;
static cg_anomaly_capture capture_cb;
static cg_anomaly_release release_cb;
static cg_anomaly_report report_cb;

void cg_set_anomaly_callbacks(cg_anomaly_capture capture, cg_anomaly_release release, cg_anomaly_report report) {
    capture_cb = capture;
    release_cb = release;
    report_cb = report;
}

void cg_set_anomaly_enabled(int on, int check_nan) {
    __atomic_store_n(&anomaly_nan, check_nan ? 1 : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&anomaly_on, on ? 1 : 0, __ATOMIC_RELEASE);
}

int cg_is_anomaly_enabled(void) { return __atomic_load_n(&anomaly_on, __ATOMIC_RELAXED); }
int cg_is_anomaly_check_nan_enabled(void) { return __atomic_load_n(&anomaly_nan, __ATOMIC_RELAXED); }
void *cg_node_anomaly(const cg_node *n) { return n->anomaly; }

void cg_anomaly_record(cg_node *n) {
    if (CG_LIKELY(!cg_is_anomaly_enabled()) || !capture_cb) return;
    cg_node *running = cg_ts.running;
    n->anomaly = running ? capture_cb(running->anomaly, running->op->name) : capture_cb(NULL, NULL);
}

void cg_anomaly_forget(cg_node *n) {
    if (release_cb) release_cb(n->anomaly);
    n->anomaly = NULL;
}

cg_node *cg_anomaly_enter(cg_node *n) {
    cg_node *outer = cg_ts.running;
    cg_ts.running = n;
    return outer;
}

/* One element at a time: anomaly mode is for debugging, not speed. */
int cg_tensor_has_nan(const cg_tensor *t) {
    if (CG_RECORDING()) cg_tape_break("anomaly mode checks the values of every gradient");
    if (!cg_dtype_is_floating((cg_dtype)t->dtype)) return 0;
    const char *base = cg_ptr(t);
    int64_t idx[CG_MAX_DIMS] = {0};
    for (int64_t k = 0; k < t->numel; k++) {
        int64_t off = 0;
        for (int d = 0; d < t->ndim; d++) off += idx[d] * t->strides[d];
        double v = t->dtype == CG_FLOAT32 ? (double)((const float *)base)[off] : ((const double *)base)[off];
        if (v != v) return 1;
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

int cg_anomaly_check(cg_node *n, cg_tensor *const *gin, int rc) {
    if (rc == 0 && cg_is_anomaly_check_nan_enabled()) {
        for (int i = 0; i < n->n_next; i++) {
            if (gin[i] && cg_tensor_has_nan(gin[i])) {
                cg_error_set(CG_ERR_RUNTIME, "Function '%s' returned nan values in its %dth output.",
                             n->op->name, i);
                rc = -1;
                break;
            }
        }
    }
    if (rc != 0 && report_cb) { /* the report must not clobber the error */
        cg_errkind kind = cg_error_kind();
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", cg_error_message());
        report_cb(n->anomaly, n->op->name);
        cg_error_set(kind, "%s", msg);
    }
    return rc;
}
