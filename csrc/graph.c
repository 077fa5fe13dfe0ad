/* graph.c -- nodes, edges, saved tensors, grad mode, hooks. */
#include <pthread.h>
#include <stdio.h>

#include "internal.h"

/* ---- grad mode ------------------------------------------------------------- */

int cg_is_grad_enabled(void) { return !cg_ts.grad_disabled; }
void cg_set_grad_enabled(int on) { cg_ts.grad_disabled = !on; }

bool cg_any_requires_grad(cg_tensor *const *inputs, int n) {
    if (cg_ts.grad_disabled) return false;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad) return true;
    return false;
}

/* ---- serialized calls (Note [Plain counts while calls are serialized]) ----------- */

int cg_plain_counts;
static int serialized, unserialized_calls; /* changed under the binding's lock */

static void count_mode(void) {
    __atomic_store_n(&cg_plain_counts, serialized && unserialized_calls == 0, __ATOMIC_SEQ_CST);
}

void cg_set_serialized(int on) {
    serialized = on != 0;
    count_mode();
}

void cg_unserialized_begin(void) {
    unserialized_calls++;
    count_mode();
}

void cg_unserialized_end(void) {
    unserialized_calls--;
    count_mode();
}

/* ---- the graph lock ------------------------------------------------------------ */

static pthread_mutex_t graph_mutex = PTHREAD_MUTEX_INITIALIZER;
void cg_graph_lock(void) { pthread_mutex_lock(&graph_mutex); }
void cg_graph_unlock(void) { pthread_mutex_unlock(&graph_mutex); }

/* Takes a reference only if the object is not already dying. */
static bool try_retain(int64_t *refcount) {
    int64_t c = CG_LOAD(refcount);
    while (c > 0)
        if (__atomic_compare_exchange_n(refcount, &c, c + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return true;
    return false;
}

/* ---- nodes ------------------------------------------------------------------------ */

static uint64_t next_seq;
/* A node zeroed up to its cold tail (Note [A node's cold tail]). */
static cg_node *node_alloc(void) {
    /* hot: the lines up to in_shape and the first dims of both inputs */
    cg_node *n = cg_pool_get(&cg_ts.nodes, sizeof *n, offsetof(cg_node, in_shape[1].d[1]));
    if (n) cg_zero_object(n, offsetof(cg_node, in_shape));
    return n;
}

static void node_free(cg_node *n) { cg_pool_put(&cg_ts.nodes, n); }

cg_node *cg_tensor_grad_fn(cg_tensor *t) {
    if (t->base && t->view_version != t->storage->version) cg_view_refresh(t);
    return t->grad_fn;
}

cg_edge cg_gradient_edge(cg_tensor *t) {
    cg_edge e = {NULL, 0};
    if (CG_UNLIKELY(t->base != NULL) && t->view_version != t->storage->version) cg_view_refresh(t);
    if (t->grad_fn) {
        cg_node_retain(t->grad_fn);
        e.node = t->grad_fn;
        e.input_nr = t->output_nr;
    } else if (t->requires_grad) {
        e.node = cg_grad_accumulator(t);
    }
    return e;
}

cg_node *cg_node_new(const cg_op *op, cg_tensor *const *inputs, int n, uint32_t n_outputs) {
    cg_node *node = node_alloc();
    if (!node) return NULL;
    node->refcount = 1;
    node->op = op;
    node->n_outputs = n_outputs;
    node->n_next = n;
    node->need_mask = ~0u;
    node->next = node->inline_next;
    if (n > CG_NODE_INLINE_EDGES) {
        node->next = calloc((size_t)n, sizeof(cg_edge));
        if (!node->next) {
            node_free(node);
            return cg_oom((int64_t)n * (int64_t)sizeof(cg_edge));
        }
    }
    if (!op->no_ints) memset(node->i, 0, sizeof node->i);
    for (int i = 0; i < CG_NODE_INLINE_META; i++) {
        const cg_tensor *t = i < n ? inputs[i] : NULL;
        node->in_shape[i].ndim = t ? t->ndim : 0;
        if (!t) continue;
        node->in_meta |= (uint8_t)(1u << i);
        node->in_dtype[i] = t->dtype;
        for (int d = 0; d < t->ndim; d++) node->in_shape[i].d[d] = t->shape[d];
    }
    for (int i = 0; i < n; i++) {
        if (!inputs[i]) continue;
        node->next[i] = cg_gradient_edge(inputs[i]);
        if (inputs[i]->requires_grad && !node->next[i].node) { /* allocation failed */
            cg_node_release(node);
            return NULL;
        }
    }
    /* after the edges: an AccumulateGrad made just now must be older */
    node->seq = CG_INC(&next_seq) - 1;
    const cg_node **made = &cg_ts.made[cg_ts.n_made++ % CG_NODE_HINT];
    node->hint = *made;
    *made = node;
    cg_anomaly_record(node);
    return node;
}

void cg_set_history(cg_tensor *out, cg_node *n, uint32_t output_nr) {
    bool retained = out->retains_grad;
    if (retained) cg_tensor_forget_retain(out); /* an in-place op moves it to the new node */
    cg_node_retain(n);
    cg_node *old = cg_swap_grad_fn(out, n);
    out->output_nr = output_nr;
    out->requires_grad = 1;
    out->view_no_grad = 0; /* a view with a history is one autograd saw made (Note [Views made in no_grad]) */
    cg_node_release(old);
    if (retained) cg_tensor_retain_grad(out);
}

void cg_node_retain(cg_node *n) { CG_INC(&n->refcount); }

void cg_node_release(cg_node *n) {
    if (n && CG_DEC(&n->refcount) == 0) cg_reap_push(n, 1);
}

static void free_hook_list(cg_hook **list);

static void packed_free(cg_saved *s);

/* Drops what s holds (Note [Saved tensors]). */
static inline void saved_clear(cg_saved *s) {
    if (!s->data) return;
    if (CG_UNLIKELY(s->packed))
        packed_free(s);
    else if (s->bare)
        cg_storage_release(s->storage);
    else
        cg_tensor_release(s->data);
    s->data = NULL;
    s->bare = 0;
}

void cg_saved_clear(cg_saved *s) { saved_clear(s); }

/* Called from the deferred-release loop only (tensor.c). */
void cg_node_destroy(cg_node *n) {
    /* Note [Releasing a run's graph] in engine.c */
    if (n->hint) cg_prefetch(n->hint, 256);
    if (n->variable) {
        cg_graph_lock();
        if (n->variable->grad_acc == n) n->variable->grad_acc = NULL;
        cg_graph_unlock();
        cg_tensor_release(n->variable);
    }
    /* the next nodes' misses overlap, and those that die here are freed next */
    for (int i = 0; i < n->n_next; i++)
        if (n->next[i].node) cg_prefetch(n->next[i].node, 256);
    for (int i = 0; i < n->n_next; i++) cg_node_release(n->next[i].node);
    if (n->next != n->inline_next) free(n->next);
    for (int i = 0; i < CG_NODE_SAVED; i++) saved_clear(&n->saved[i]);
    if (n->anomaly) cg_anomaly_forget(n);
    /* no lock needed to see an empty list: nothing can add to a dead node's */
    if (CG_LOAD(&n->pre_hooks)) free_hook_list(&n->pre_hooks);
    /* last: a custom node's op lives in its extra */
    if (n->extra && n->op->free_extra) n->op->free_extra(n->extra);
    /* n->retains is empty: each entry's tensor owns n and unlinks it first */
    node_free(n);
}

const char *cg_node_name(const cg_node *n) { return n->op->name; }
int cg_node_num_next(const cg_node *n) { return n->n_next; }
uint64_t cg_node_sequence_nr(const cg_node *n) { return n->seq; }
cg_tensor *cg_node_variable(const cg_node *n) { return n->variable; }
void *cg_node_get_user(const cg_node *n) { return n->user; }
void cg_node_set_user(cg_node *n, void *user) { n->user = user; }

cg_node *cg_node_next(const cg_node *n, int i, uint32_t *input_nr) {
    if (i < 0 || i >= n->n_next) return NULL;
    if (input_nr) *input_nr = n->next[i].input_nr;
    return n->next[i].node;
}

/* ---- leaves ----------------------------------------------------------------------- */

cg_node *cg_grad_accumulator(cg_tensor *leaf) {
    cg_graph_lock();
    cg_node *n = leaf->grad_acc;
    if (n && try_retain(&n->refcount)) {
        cg_graph_unlock();
        return n;
    }
    n = node_alloc();
    if (!n) {
        cg_graph_unlock();
        return NULL;
    }
    memset(n->in_shape, 0, sizeof *n - offsetof(cg_node, in_shape));
    n->refcount = 1;
    n->op = &cg_accumulate_grad_op;
    n->n_outputs = 1;
    n->next = n->inline_next;
    n->need_mask = ~0u;
    n->variable = leaf;
    cg_tensor_retain(leaf);
    n->seq = CG_INC(&next_seq) - 1;
    leaf->grad_acc = n;
    cg_graph_unlock();
    return n;
}

int cg_tensor_is_leaf(const cg_tensor *t) { return t->grad_fn == NULL; }

int cg_tensor_set_requires_grad(cg_tensor *t, int on) {
    if (t->grad_fn) {
        if (on) return 0;
        cg_error_set(CG_ERR_RUNTIME,
                     "you can only change requires_grad flags of leaf variables. If you want to use a computed "
                     "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().");
        return -1;
    }
    if (on && !cg_dtype_is_floating((cg_dtype)t->dtype)) {
        cg_error_set(CG_ERR_RUNTIME, "only Tensors of floating point and complex dtype can require gradients");
        return -1;
    }
    t->requires_grad = on ? 1 : 0;
    return 0;
}

int cg_tensor_set_grad(cg_tensor *t, cg_tensor *g) {
    if (g) {
        char b1[160], b2[160];
        if (g == t) {
            cg_error_set(CG_ERR_RUNTIME, "can't assign Variable as its own grad");
            return -1;
        }
        if (g->dtype != t->dtype) {
            cg_error_set(CG_ERR_RUNTIME,
                         "attempting to assign a gradient with dtype '%s' to a tensor with grad_dtype '%s'. "
                         "The gradient must match the tensor's grad_dtype (defaults to the tensor's dtype).",
                         cg_dtype_name((cg_dtype)g->dtype), cg_dtype_torch_name((cg_dtype)t->dtype));
            return -1;
        }
        if (!cg_same_shape(g, t)) {
            cg_error_set(CG_ERR_RUNTIME, "assigned grad has data of a different size: expected %s, got %s",
                         cg_shape_str(t->shape, t->ndim, b1, sizeof b1),
                         cg_shape_str(g->shape, g->ndim, b2, sizeof b2));
            return -1;
        }
        cg_tensor_retain(g);
    }
    if (CG_RECORDING()) cg_tape_set_grad(t, g);
    cg_tensor *old = t->grad;
    t->grad = g;
    cg_tensor_release(old);
    return 0;
}

cg_tensor *cg_detach(cg_tensor *t) {
    cg_tensor *d = cg_alias(t, t->shape, t->strides, t->ndim, t->offset);
    if (d) { /* a detached tensor is not a view in PyTorch's sense, even of a view */
        cg_tensor_release(d->base);
        d->base = NULL;
    }
    return d;
}

int cg_detach_(cg_tensor *t) {
    cg_node *old = cg_swap_grad_fn(t, NULL);
    t->output_nr = 0;
    t->requires_grad = 0;
    cg_node_release(old);
    return 0;
}

/* ---- saved-tensor hooks ----------------------------------------------------------------- */
/* Note [Saved-tensor hooks]
 *   While a thread has hooks on (autograd.graph.saved_tensors_hooks), each
 *   save is made as usual and queued. The binding takes the queue as soon as
 *   the call that saved returns to it: it hands each saved tensor to the pack
 *   hook, then what the hook returned to cg_saved_set_packed, which puts it
 *   in the slot in place of the tensor. Queuing lets the hook run outside the
 *   op, on a finished output that has its grad_fn, as PyTorch's does.
 *   A packed slot keeps what unpacking needs to put the tensor the unpack
 *   hook returns back in the graph: an input's gradient edge (an output's
 *   is its node and number), and the dtype and shape it must have. As in
 *   PyTorch, a packed tensor has no version check: what the hook returns is
 *   trusted. The packed object is a Python object the binding owns through
 *   its release callback; while any is alive, cg_live_callbacks counts it,
 *   so the collector's walks (Note [Owned hooks]) can report it. */
typedef struct cg_packed {
    void *obj;   /* what the pack hook returned */
    cg_edge edge; /* an input's gradient edge (node owned); none for an output */
    int32_t ndim;
    uint8_t dtype;
    int64_t shape[CG_MAX_DIMS];
} cg_packed;

static cg_saved_unpack_fn packed_unpack;
static void (*packed_release)(void *obj);
int cg_saved_hooks_threads;

void cg_saved_hooks_callbacks(cg_saved_unpack_fn unpack, void (*release)(void *obj)) {
    packed_unpack = unpack;
    packed_release = release;
}

void cg_saved_hooks_on(int on) {
    if (!on == !cg_ts.pack_hooks) return;
    cg_ts.pack_hooks = on != 0;
    if (on) CG_INC(&cg_saved_hooks_threads);
    else CG_DEC(&cg_saved_hooks_threads);
}

/* Slot i of n as cg_node_saved counts them; NULL if there is none. */
static cg_saved *slot_of(cg_node *n, int i) {
    cg_saved *fs;
    void *ctx;
    cg_ctx_release release;
    int count = cg_function_refs(n, &fs, &ctx, &release);
    if (count >= 0) return i >= 0 && i < count ? &fs[i] : NULL;
    return n->has_saved && i >= 0 && i < CG_NODE_SAVED ? &n->saved[i] : NULL;
}

static int queue_pack(cg_node *n, cg_saved *s) {
    cg_saved *fs;
    void *ctx;
    cg_ctx_release release;
    int i = s >= n->saved && s < n->saved + CG_NODE_SAVED ? (int)(s - n->saved)
          : cg_function_refs(n, &fs, &ctx, &release) >= 0 ? (int)(s - fs) : -1;
    if (i < 0) return 0;
    typeof(cg_ts.to_pack) *q = &cg_ts.to_pack;
    if (cg_grow((void **)&q->items, &q->cap, q->n + 1, sizeof *q->items)) return -1;
    cg_node_retain(n);
    size_t k = q->n++;
    /* a node's saves reach the hook in slot order, as PyTorch's (self, then other) */
    for (; k > q->head && q->items[k - 1].node == n && q->items[k - 1].slot > i; k--) q->items[k] = q->items[k - 1];
    q->items[k] = (cg_pack_item){n, i};
    return 0;
}

int cg_saved_hooks_pending(void) { return !cg_ts.to_pack.busy && cg_ts.to_pack.n > cg_ts.to_pack.head; }

int cg_saved_hooks_next(cg_node **n, int *slot) {
    typeof(cg_ts.to_pack) *q = &cg_ts.to_pack;
    if (q->head == q->n) {
        free(q->items);
        memset(q, 0, sizeof *q);
        return 0;
    }
    q->busy = true; /* saves the hooks make are packed by this same loop */
    *n = q->items[q->head].node;
    *slot = q->items[q->head++].slot;
    return 1;
}

/* A history-free alias of what s holds (new reference). */
static cg_tensor *saved_alias(const cg_node *n, const cg_saved *s);

cg_tensor *cg_saved_hooks_target(cg_node *n, int i) {
    cg_saved *s = slot_of(n, i);
    if (!s || !s->data || s->packed) return NULL;
    if (!s->is_output) {
        cg_tensor_retain(s->data);
        return s->data;
    }
    cg_tensor *out = saved_alias(n, s);
    if (out) cg_set_history(out, n, s->output_nr);
    return out;
}

int cg_saved_set_packed(cg_node *n, int i, void *obj) {
    cg_saved *s = slot_of(n, i);
    cg_packed *p = s && s->data && !s->packed ? calloc(1, sizeof *p) : NULL;
    if (!p) {
        packed_release(obj);
        if (s && s->data && !s->packed) {
            cg_oom((int64_t)sizeof *p);
            return -1;
        }
        return 0;
    }
    cg_tensor *t = s->bare ? saved_alias(n, s) : s->data;
    if (!t) {
        free(p);
        packed_release(obj);
        return -1;
    }
    p->obj = obj;
    p->dtype = t->dtype;
    p->ndim = t->ndim;
    memcpy(p->shape, t->shape, (size_t)t->ndim * sizeof *p->shape);
    if (!s->is_output) p->edge = cg_gradient_edge(t);
    if (s->bare) cg_tensor_release(t);
    cg_saved old = *s;
    s->pk = p;
    s->packed = 1;
    s->bare = 0;
    if (s >= n->saved && s < n->saved + CG_NODE_SAVED) n->has_saved = 2; /* cg_backward_unpacked */
    CG_INC(&cg_live_callbacks);
    saved_clear(&old); /* after: releasing can run a callback */
    return 0;
}

static void packed_free(cg_saved *s) {
    cg_packed *p = s->pk;
    s->data = NULL;
    s->packed = 0;
    cg_node_release(p->edge.node);
    packed_release(p->obj);
    free(p);
    CG_DEC(&cg_live_callbacks);
}

/* What the unpack hook gives for s, put back in the graph when grad mode is
 * on (new reference). */
static cg_tensor *unpack_packed(cg_node *n, const cg_saved *s) {
    const cg_packed *p = s->pk;
    cg_tensor *t = packed_unpack(p->obj);
    if (!t) return NULL;
    if (t->dtype != p->dtype || !cg_shape_eq(t->shape, t->ndim, p->shape, p->ndim)) {
        char got[160], want[160];
        cg_shape_str(t->shape, t->ndim, got, sizeof got);
        cg_shape_str(p->shape, p->ndim, want, sizeof want);
        cg_error_set(CG_ERR_RUNTIME,
                     "%s: the saved tensor unpack_hook returned a %s tensor of shape %s for a saved %s tensor "
                     "of shape %s; cgrad needs the dtype and shape that were saved",
                     n->op->name, cg_dtype_name((cg_dtype)t->dtype), got, cg_dtype_name((cg_dtype)p->dtype), want);
        cg_tensor_release(t);
        return NULL;
    }
    cg_node *to = s->is_output ? n : p->edge.node;
    if (!to || !cg_is_grad_enabled()) return t;
    cg_tensor *out = cg_tensor_make(t->storage, (cg_dtype)t->dtype, t->shape, t->strides, t->ndim, t->offset);
    cg_tensor_release(t);
    if (out) cg_set_history(out, to, s->is_output ? s->output_nr : p->edge.input_nr);
    return out;
}

int cg_backward_unpacked(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* each packed slot is unpacked once, before the formula, as PyTorch's
     * backward functions unpack every saved tensor when they start; the
     * formula then reads plain saved tensors, and the slots are packed again */
    cg_packed *held[CG_NODE_SAVED] = {0};
    int rc = 0;
    for (int i = 0; i < CG_NODE_SAVED && rc == 0; i++) {
        cg_saved *s = &n->saved[i];
        if (!s->packed) continue;
        cg_tensor *t = unpack_packed(n, s);
        if (!t) {
            rc = -1;
            break;
        }
        held[i] = s->pk;
        s->data = t;
        s->packed = 0;
        s->version = cg_saved_version(t->storage);
    }
    if (rc == 0) rc = n->op->backward(n, gout, gin);
    for (int i = 0; i < CG_NODE_SAVED; i++) {
        if (!held[i]) continue;
        cg_saved *s = &n->saved[i];
        cg_tensor *t = s->data;
        s->pk = held[i];
        s->packed = 1;
        cg_tensor_release(t);
    }
    return rc;
}

/* ---- saved tensors ------------------------------------------------------------------- */

int cg_save(cg_node *n, int slot, cg_tensor *t, bool is_output) {
    return cg_save_into(n, &n->saved[slot], t, is_output);
}

/* Whether output t of n can be kept bare: laid out exactly as n's input 0. */
static bool bare_layout(const cg_node *n, const cg_saved *s, const cg_tensor *t) {
    if (s < n->saved || s >= n->saved + CG_NODE_SAVED || !(n->in_meta & 1u)) return false;
    if (t->offset != 0 || t->dtype != n->in_dtype[0] || t->ndim != n->in_shape[0].ndim) return false;
    int64_t stride = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != n->in_shape[0].d[d]) return false;
        if (t->shape[d] != 1 && t->strides[d] != stride) return false;
        stride *= t->shape[d] > 1 ? t->shape[d] : 1;
    }
    return true;
}

int cg_save_into(cg_node *n, cg_saved *s, cg_tensor *t, bool is_output) {
    cg_saved old = *s;
    if (is_output && bare_layout(n, s, t)) {
        cg_storage_retain(t->storage);
        s->storage = t->storage;
        s->bare = 1;
    } else if (is_output) {
        cg_tensor *data = cg_tensor_make(t->storage, (cg_dtype)t->dtype, t->shape, t->strides, t->ndim, t->offset);
        if (!data) return -1;
        s->data = data;
        s->bare = 0;
    } else {
        cg_tensor_retain(t);
        s->data = t;
        s->bare = 0;
    }
    if (is_output) s->output_nr = t->output_nr;
    s->packed = 0;
    saved_clear(&old); /* after: releasing can run a callback */
    s->version = cg_saved_version(t->storage);
    s->is_output = is_output;
    if (!n->has_saved) n->has_saved = 1;
    /* a Python number is saved as a number in PyTorch: no hook sees it */
    if (CG_UNLIKELY(cg_ts.pack_hooks) && !t->is_wrapped) return queue_pack(n, s);
    return 0;
}

/* A history-free alias of what s holds (new reference). */
static cg_tensor *saved_alias(const cg_node *n, const cg_saved *s) {
    if (s->bare)
        return cg_tensor_make(s->storage, (cg_dtype)n->in_dtype[0], n->in_shape[0].d, NULL,
                              n->in_shape[0].ndim, 0);
    cg_tensor *t = s->data;
    return cg_tensor_make(t->storage, (cg_dtype)t->dtype, t->shape, t->strides, t->ndim, t->offset);
}

static cg_storage *saved_storage(const cg_saved *s) { return s->bare ? s->storage : s->data->storage; }

/* "TanhBackward0" -> "Tanh": the forward op's name, as PyTorch prints it. */
static int forward_name_len(const char *name) {
    const char *b = strstr(name, "Backward");
    return b ? (int)(b - name) : (int)strlen(name);
}

static void error_modified(cg_node *n, cg_saved *s) {
    cg_tensor *t = s->bare ? saved_alias(n, s) : s->data;
    if (!t) return;
    char shape[160], which[200] = "";
    cg_shape_str(t->shape, t->ndim, shape, sizeof shape);
    cg_node *fn = s->is_output ? n : t->grad_fn;
    if (fn)
        snprintf(which, sizeof which, ", which is output %u of %.*s,",
                 s->is_output ? s->output_nr : t->output_nr, forward_name_len(fn->op->name), fn->op->name);
    const char *hint = cg_is_anomaly_enabled()
        ? "Hint: the backtrace further above shows the operation that failed to compute its gradient. "
          "The variable in question was changed in there or anywhere later. Good luck!"
        : "Hint: enable anomaly detection to find the operation that failed to compute its gradient, "
          "with torch.autograd.set_detect_anomaly(True, check_nan=False).";
    cg_error_set(CG_ERR_RUNTIME,
                 "one of the variables needed for gradient computation has been modified by an inplace "
                 "operation: [%s %s]%s is at version %llu; expected version %llu instead. %s",
                 cg_dtype_tensor_name((cg_dtype)t->dtype), shape, which,
                 (unsigned long long)t->storage->version,
                 (unsigned long long)(s->version & ((UINT64_C(1) << CG_VERSION_BITS) - 1)), hint);
    if (s->bare) cg_tensor_release(t);
}

cg_tensor *cg_unpack(cg_node *n, int slot) { return cg_unpack_from(n, &n->saved[slot]); }

cg_tensor *cg_unpack_from(cg_node *n, cg_saved *s) {
    if (!s->data) {
        if (n->released)
            cg_error_set(CG_ERR_RUNTIME,
                         "Trying to backward through the graph a second time (or directly access saved "
                         "tensors after they have already been freed). Saved intermediate values of the graph "
                         "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
                         "you need to backward through the graph a second time or if you need to access saved "
                         "tensors after calling backward.");
        else
            cg_error_set(CG_ERR_RUNTIME, "%s: a saved tensor is missing", n->op->name);
        return NULL;
    }
    if (CG_UNLIKELY(s->packed)) return unpack_packed(n, s);
    if (cg_saved_version(saved_storage(s)) != s->version) {
        error_modified(n, s);
        return NULL;
    }
    if (s->is_output && cg_is_grad_enabled()) { /* re-attach for higher-order gradients */
        cg_tensor *out = saved_alias(n, s);
        if (out) cg_set_history(out, n, s->output_nr);
        return out;
    }
    if (s->bare) return saved_alias(n, s);
    cg_tensor_retain(s->data);
    return s->data;
}

int cg_saved_operand(cg_node *n, int slot, const cg_tensor *g, char **data, int64_t *stride) {
    cg_saved *s = &n->saved[slot];
    if (s->packed) return 0;
    if (!s->data || cg_saved_version(saved_storage(s)) != s->version) { /* the error cg_unpack gives */
        cg_tensor_release(cg_unpack_from(n, s));
        return -1;
    }
    const int64_t *shape;
    int ndim, dtype;
    if (s->bare) { /* laid out as input 0, contiguous from its storage's start */
        *data = s->storage->data;
        shape = n->in_shape[0].d, ndim = n->in_shape[0].ndim, dtype = n->in_dtype[0];
    } else {
        const cg_tensor *t = s->data;
        if (!cg_tensor_is_contiguous(t)) return 0;
        *data = cg_ptr(t);
        shape = t->shape, ndim = t->ndim, dtype = t->dtype;
    }
    if (dtype != g->dtype) return 0;
    if (cg_shape_eq(shape, ndim, g->shape, g->ndim)) {
        *stride = 1;
        return 1;
    }
    *stride = 0;
    return cg_shape_numel(shape, ndim) == 1 && ndim <= g->ndim;
}

cg_tensor *cg_saved_peek(const cg_node *n, const cg_saved *s) {
    if (s->data && s->packed) return unpack_packed((cg_node *)n, s);
    return s->data ? saved_alias(n, s) : NULL;
}

void cg_node_release_saved(cg_node *n) {
    if (!n->has_saved) return;
    for (int i = 0; i < CG_NODE_SAVED; i++) saved_clear(&n->saved[i]);
    if (n->op->release_saved) n->op->release_saved(n);
    n->released = 1;
}

cg_tensor *cg_reduce_grad(cg_node *n, int i, cg_tensor *g) {
    if (!g) return NULL;
    const cg_shape *s = &n->in_shape[i];
    cg_tensor *r = g;
    if (!cg_shape_eq(g->shape, g->ndim, s->d, s->ndim)) {
        r = cg_sum_to(g, s->d, s->ndim);
        cg_tensor_release(g);
        if (!r) return NULL;
    }
    if (r->dtype != n->in_dtype[i]) {
        cg_tensor *c = cg_to_dtype(r, (cg_dtype)n->in_dtype[i]);
        cg_tensor_release(r);
        r = c;
    }
    return r;
}

/* ---- hooks ------------------------------------------------------------------------------ */
/* A hook sits in one list: a leaf's (t->hooks), or a node's (n->pre_hooks:
 * gradient hooks of its outputs, and the node's own pre- and post-hooks).
 * The list holds one reference, the caller's handle another, and a running
 * engine one per call in flight. Removing a hook unlinks it through
 * h->owner, which the owner clears (under the graph lock) when it dies, so a
 * handle can outlive what it was registered on. */

static int64_t next_hook_id = 1;
int64_t cg_live_callbacks;

void cg_hook_put(cg_hook *h) {
    if (CG_DEC(&h->refcount) != 0) return;
    free(h);
    CG_DEC(&cg_live_callbacks);
}

/* Drops one use of h's ctx and the reference that came with it: the last
 * use (its list's, once unlinked, or that of the last call in flight)
 * releases ctx. A handle keeps only the hook itself, so a hook whose ctx
 * refers to its own handle is not a cycle. */
static void hook_unuse(cg_hook *h) {
    if (CG_DEC(&h->users) == 0) {
        if (h->release) h->release(h->ctx);
        h->ctx = NULL;
    }
    cg_hook_put(h);
}

void cg_hook_handle_release(cg_hook *h) {
    if (h) cg_hook_put(h);
}

/* Frees the hooks of a dying owner. */
static void free_hook_list(cg_hook **list) {
    cg_graph_lock();
    cg_hook *h = *list;
    *list = NULL;
    for (cg_hook *p = h; p; p = p->next) p->owner = NULL;
    cg_graph_unlock();
    while (h) {
        cg_hook *next = h->next;
        hook_unuse(h);
        h = next;
    }
}

static cg_hook *hook_new(uint8_t kind) {
    cg_hook *h = calloc(1, sizeof *h);
    if (!h) return cg_oom((int64_t)sizeof *h);
    h->refcount = 2; /* the list's and the handle's */
    h->users = 1;    /* the list's */
    CG_INC(&cg_live_callbacks);
    h->kind = kind;
    h->id = __atomic_fetch_add(&next_hook_id, 1, __ATOMIC_RELAXED);
    return h;
}

/* Appends h to *list: hooks run in registration order. */
static void hook_link(cg_hook **list, cg_hook *h) {
    cg_graph_lock();
    h->owner = list;
    while (*list) list = &(*list)->next;
    *list = h;
    cg_graph_unlock();
}

cg_hook *cg_tensor_register_hook(cg_tensor *t, cg_hook_fn fn, void *ctx, cg_hook_release release) {
    if (!t->requires_grad) {
        cg_error_set(CG_ERR_RUNTIME, "cannot register a hook on a tensor that doesn't require gradient");
        return NULL;
    }
    cg_hook *h = hook_new(CG_HOOK_TENSOR);
    if (!h) return NULL;
    h->fn = fn;
    h->ctx = ctx;
    h->release = release;
    h->output_nr = t->output_nr;
    if (!t->grad_fn) t->had_hooks = 1;
    hook_link(t->grad_fn ? &t->grad_fn->pre_hooks : &t->hooks, h);
    return h;
}

cg_hook *cg_tensor_register_post_accumulate_hook(cg_tensor *t, cg_hook_fn fn, void *ctx, cg_hook_release release) {
    if (!t->requires_grad) {
        cg_error_set(CG_ERR_RUNTIME, "cannot register a hook on a tensor that doesn't require gradient");
        return NULL;
    }
    if (t->grad_fn) {
        cg_error_set(CG_ERR_RUNTIME, "post accumulate grad hooks cannot be registered on non-leaf tensors");
        return NULL;
    }
    cg_hook *h = hook_new(CG_HOOK_POST_ACCUMULATE);
    if (!h) return NULL;
    h->fn = fn;
    h->ctx = ctx;
    h->release = release;
    t->had_hooks = 1;
    hook_link(&t->hooks, h);
    return h;
}

cg_hook *cg_node_register_hook(cg_node *n, int post, cg_node_hook_fn fn, void *ctx, cg_hook_release release) {
    cg_hook *h = hook_new(post ? CG_HOOK_NODE_POST : CG_HOOK_NODE_PRE);
    if (!h) return NULL;
    h->node_fn = fn;
    h->ctx = ctx;
    h->release = release;
    hook_link(&n->pre_hooks, h);
    return h;
}

void cg_hook_remove(cg_hook *h) {
    bool unlinked = false;
    cg_graph_lock();
    __atomic_store_n(&h->removed, 1, __ATOMIC_RELEASE);
    for (cg_hook **p = h->owner; p && *p; p = &(*p)->next) {
        if (*p == h) {
            *p = h->next;
            unlinked = true;
            break;
        }
    }
    h->owner = NULL;
    cg_graph_unlock();
    if (unlinked) hook_unuse(h); /* the list's; never under the lock: release may need the GIL */
}

int64_t cg_hook_id(const cg_hook *h) { return h->id; }

void cg_tensor_free_hooks(cg_tensor *t) { free_hook_list(&t->hooks); }

/* ---- hooks and contexts only one holder keeps alive ---------------------------------------
 * Note [Owned hooks]
 *   A hook's context may refer back to whoever holds the tensor whose graph
 *   holds the hook (a Python closure naming the tensor), and so may a custom
 *   Function's (a ctx attribute holding an output): a cycle through C that a
 *   collector can only see if the holder reports the context as its own.
 *   That is true when the context dies exactly when the holder drops its
 *   reference to root: every object between them is held only by objects
 *   of root's graph. So: walk the owned references from root (a tensor's
 *   grad_fn, grad, base and hook list; a node's next edges, saved tensors,
 *   variable, hook list and a custom Function's saved tensors), counting
 *   how often each object is referenced from the walk; an object whose
 *   refcount is higher (root: higher by more than the holder's one) is held
 *   from outside, and so is everything it leads to (a hook counts the users
 *   of its ctx, which its handle is not). A tensor with a wrapper of its own
 *   other than root, and a node such a tensor holds (n->wrapped), are held
 *   from outside and not followed, which also keeps walks from a chain of
 *   wrapped tensors short. References the walk does not know (engine
 *   buffers, recordings, other ops' extra data) only make objects look held
 *   from outside: the answer can miss a context, never claim one that
 *   something else keeps alive. Nothing may change the graph during a walk
 *   (cgrad.h), and the graph must be whole: code that replaces a pointer
 *   releases the old object after storing the new one, since releasing can
 *   run a callback. */
#define OWN_LIMIT (1 << 14) /* bounds a collection's work: K kept outputs of one big graph cost K walks */
#define OWN_SLOTS (2 * OWN_LIMIT)
enum { OWN_TENSOR, OWN_NODE, OWN_HOOK };

typedef struct own_obj {
    void *p;
    int64_t refs; /* references from objects of the walk */
    uint32_t slot; /* its entry in slots */
    uint8_t kind;
    uint8_t outside; /* held from outside, or reached from such an object */
} own_obj;

/* One walk's state. Its arrays are allocated once, at the first walk, so a
 * walk never fails halfway for want of memory: a collector asks twice per
 * collection and must get the same answer. */
typedef struct own_walk {
    own_obj *objs;   /* OWN_LIMIT */
    uint32_t *slots; /* OWN_SLOTS, open addressing: index + 1 into objs, 0 = empty */
    size_t *stack;   /* OWN_LIMIT: objects held from outside whose references are still to mark */
    size_t n, n_stack;
    bool failed;
} own_walk;

static own_walk arena;
static int arena_state; /* 0: not yet allocated, 1: ready, -1: could not be */
static bool arena_busy;  /* a visit that walked again would get no answer */

static size_t own_slot(const own_walk *w, const void *p) {
    size_t i = (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull) & (OWN_SLOTS - 1);
    while (w->slots[i] && w->objs[w->slots[i] - 1].p != p) i = (i + 1) & (OWN_SLOTS - 1);
    return i;
}

/* Counts one reference from the walk to p (kind), adding p on first sight. */
static void own_count(own_walk *w, void *p, uint8_t kind) {
    if (!p || w->failed) return;
    size_t i = own_slot(w, p);
    if (!w->slots[i]) {
        if (w->n == OWN_LIMIT) {
            w->failed = true;
            return;
        }
        w->objs[w->n] = (own_obj){.p = p, .kind = kind, .slot = (uint32_t)i};
        w->slots[i] = (uint32_t)++w->n;
    }
    w->objs[w->slots[i] - 1].refs++;
}

/* Marks p held from outside (it is in the walk: its referrer was followed). */
static void own_mark(own_walk *w, void *p) {
    if (!p || w->failed) return;
    uint32_t slot = w->slots[own_slot(w, p)];
    if (!slot) { /* cannot happen while nothing changes the graph; never trust it then */
        w->failed = true;
        return;
    }
    own_obj *o = &w->objs[slot - 1];
    if (o->outside) return;
    o->outside = 1;
    w->stack[w->n_stack++] = (size_t)(o - w->objs);
}

/* Not followed: a tensor with a wrapper of its own, and the node of one
 * (both held from outside; stopping there keeps a walk from a chain of
 * wrapped tensors short). */
static bool own_followed(const own_obj *o, const cg_tensor *root) {
    if (o->kind == OWN_TENSOR) return o->p == root || !((const cg_tensor *)o->p)->pyobj;
    if (o->kind == OWN_NODE) {
        const cg_node *n = o->p;
        int32_t roots = n == root->grad_fn && root->pyobj ? 1 : 0;
        return CG_LOAD(&n->wrapped) <= roots;
    }
    return true;
}

/* Each owned reference of object k: counted, or marked held from outside. */
static void own_refs(own_walk *w, size_t k, bool mark) {
    own_obj o = w->objs[k];
#define OWN_REF(p, kind) (mark ? own_mark(w, (p)) : own_count(w, (p), (kind)))
    if (o.kind == OWN_TENSOR) {
        cg_tensor *t = o.p;
        OWN_REF(t->grad, OWN_TENSOR);
        OWN_REF(t->grad_fn, OWN_NODE);
        OWN_REF(t->base, OWN_TENSOR);
        for (cg_hook *h = t->hooks; h; h = h->next) OWN_REF(h, OWN_HOOK);
    } else if (o.kind == OWN_NODE) {
        cg_node *n = o.p;
        for (int i = 0; i < n->n_next; i++) OWN_REF(n->next[i].node, OWN_NODE);
        for (int i = 0; i < CG_NODE_SAVED; i++)
            if (n->saved[i].packed) OWN_REF(n->saved[i].pk->edge.node, OWN_NODE);
            else if (!n->saved[i].bare) OWN_REF(n->saved[i].data, OWN_TENSOR);
        OWN_REF(n->variable, OWN_TENSOR);
        for (cg_hook *h = n->pre_hooks; h; h = h->next) OWN_REF(h, OWN_HOOK);
        cg_saved *fs;
        void *ctx;
        cg_ctx_release release;
        int n_saved = cg_function_refs(n, &fs, &ctx, &release);
        for (int i = 0; i < n_saved; i++)
            if (fs[i].packed) OWN_REF(fs[i].pk->edge.node, OWN_NODE);
            else OWN_REF(fs[i].data, OWN_TENSOR);
    }
#undef OWN_REF
}

static int64_t own_refcount(const own_obj *o) {
    switch (o->kind) {
    case OWN_TENSOR: return CG_LOAD(&((cg_tensor *)o->p)->refcount);
    case OWN_NODE: return CG_LOAD(&((cg_node *)o->p)->refcount);
    default: return CG_LOAD(&((cg_hook *)o->p)->users); /* a handle does not keep ctx alive */
    }
}

/* The objects a node's packed slots hold (Note [Saved-tensor hooks]). */
static int visit_packed(const cg_node *n, const cg_saved *fs, int n_fs, int (*visit)(void *ctx, void *arg),
                        void *arg) {
    for (int i = 0; i < CG_NODE_SAVED + n_fs; i++) {
        const cg_saved *s = i < CG_NODE_SAVED ? &n->saved[i] : &fs[i - CG_NODE_SAVED];
        int rc = s->packed ? visit(s->pk->obj, arg) : 0;
        if (rc) return rc;
    }
    return 0;
}

static int own_visit(own_walk *w, cg_tensor *root, cg_hook_release hook_release, cg_ctx_release fn_release,
                     int (*visit)(void *ctx, void *arg), void *arg) {
    own_count(w, root, OWN_TENSOR); /* the holder's reference */
    for (size_t k = 0; k < w->n && !w->failed; k++)
        if (own_followed(&w->objs[k], root)) own_refs(w, k, false);
    if (w->failed) return 0;
    for (size_t k = 0; k < w->n; k++) {
        own_obj *o = &w->objs[k];
        int64_t outside = own_refcount(o) - o->refs;
        if (outside < 0) return 0; /* a reference counted twice: claim nothing */
        if (outside > 0 || !own_followed(o, root)) {
            o->outside = 1;
            w->stack[w->n_stack++] = k;
        }
    }
    while (w->n_stack) {
        size_t k = w->stack[--w->n_stack];
        if (own_followed(&w->objs[k], root)) own_refs(w, k, true);
    }
    if (w->failed) return 0;
    for (size_t k = 0; k < w->n; k++) {
        const own_obj *o = &w->objs[k];
        void *ctx = NULL;
        if (o->outside) continue;
        if (o->kind == OWN_HOOK) {
            const cg_hook *h = o->p;
            if (hook_release && h->release == hook_release) ctx = h->ctx;
        } else if (o->kind == OWN_NODE) {
            cg_saved *fs;
            cg_ctx_release release;
            int n_saved = cg_function_refs(o->p, &fs, &ctx, &release);
            if (!fn_release || n_saved < 0 || release != fn_release) ctx = NULL;
            int rc = visit_packed(o->p, n_saved > 0 ? fs : NULL, n_saved > 0 ? n_saved : 0, visit, arg);
            if (rc) return rc;
        }
        if (ctx) {
            int rc = visit(ctx, arg);
            if (rc) return rc;
        }
    }
    return 0;
}

int cg_visit_owned_contexts(cg_tensor *root, cg_hook_release hook_release, cg_ctx_release fn_release,
                            int (*visit)(void *ctx, void *arg), void *arg) {
    if (!root || !CG_LOAD(&cg_live_callbacks)) return 0;
    if (!root->grad && !root->grad_fn && !root->base && !root->hooks) return 0;
    if (arena_state == 0) {
        arena.objs = malloc(OWN_LIMIT * sizeof *arena.objs);
        arena.slots = calloc(OWN_SLOTS, sizeof *arena.slots);
        arena.stack = malloc(OWN_LIMIT * sizeof *arena.stack);
        arena_state = arena.objs && arena.slots && arena.stack ? 1 : -1;
    }
    if (arena_state < 0 || arena_busy) return 0;
    own_walk *w = &arena;
    w->n = w->n_stack = 0;
    w->failed = false;
    arena_busy = true;
    int rc = own_visit(w, root, hook_release, fn_release, visit, arg);
    for (size_t k = 0; k < w->n; k++) w->slots[w->objs[k].slot] = 0;
    arena_busy = false;
    return rc;
}

/* A hook of `kind`; for a non-leaf's gradient hooks, of output output_nr. */
static bool hook_matches(const cg_hook *h, int kind, bool by_output, uint32_t output_nr) {
    return h->kind == kind && (!by_output || h->output_nr == output_nr);
}

/* Takes the hooks of one kind in the list at *head for calling, each
 * retained: into buf when they fit in cap, else into a new array the caller
 * frees. Sets *out; returns how many, or -1. */
static int hooks_take(cg_hook **head, int kind, bool by_output, uint32_t output_nr, cg_hook **buf, int cap,
                      cg_hook ***out) {
    cg_graph_lock();
    int k = 0;
    for (cg_hook *h = *head; h; h = h->next) k += hook_matches(h, kind, by_output, output_nr);
    cg_hook **arr = k <= cap ? buf : malloc((size_t)k * sizeof *arr);
    if (!arr) {
        cg_graph_unlock();
        cg_oom((int64_t)k * (int64_t)sizeof *arr);
        return -1;
    }
    k = 0;
    for (cg_hook *h = *head; h; h = h->next) {
        if (!hook_matches(h, kind, by_output, output_nr)) continue;
        CG_INC(&h->refcount);
        CG_INC(&h->users);
        arr[k++] = h;
    }
    cg_graph_unlock();
    *out = arr;
    return k;
}

static void hooks_put(cg_hook **hooks, int k, cg_hook **buf) {
    for (int i = 0; i < k; i++) hook_unuse(hooks[i]);
    if (hooks != buf) free(hooks);
}

/* A hook removed after it was taken (by another hook, or another thread) does not run. */
static bool hook_live(cg_hook *h) { return !__atomic_load_n(&h->removed, __ATOMIC_ACQUIRE); }

static int hook_failed(void) {
    if (cg_error_kind() == CG_OK) cg_error_set(CG_ERR_EXTERNAL, "a hook failed");
    return -1;
}

int cg_run_node_hooks(cg_node *n, int kind, cg_tensor **grads, int n_grads, cg_tensor **other, int n_other) {
    cg_hook *buf[16], **hooks;
    int k = hooks_take(&n->pre_hooks, kind, false, 0, buf, 16, &hooks);
    if (k < 0) return -1;
    int rc = 0;
    for (int i = 0; i < k && rc == 0; i++)
        if (hook_live(hooks[i]) && hooks[i]->node_fn(hooks[i]->ctx, n, grads, n_grads, other, n_other))
            rc = hook_failed();
    hooks_put(hooks, k, buf);
    return rc;
}

int cg_run_post_accumulate_hooks(cg_tensor *t) {
    if (!CG_LOAD(&t->hooks)) return 0;
    cg_hook *buf[16], **hooks;
    int k = hooks_take(&t->hooks, CG_HOOK_POST_ACCUMULATE, false, 0, buf, 16, &hooks);
    if (k < 0) return -1;
    int rc = 0;
    for (int i = 0; i < k && rc == 0; i++) {
        cg_tensor *ignored = NULL;
        if (hook_live(hooks[i]) && hooks[i]->fn(hooks[i]->ctx, t, &ignored) != 0) rc = hook_failed();
        cg_tensor_release(ignored);
    }
    hooks_put(hooks, k, buf);
    return rc;
}

int cg_run_hooks(cg_node *n, uint32_t output_nr, cg_tensor **g) {
    if (!*g) return 0;
    /* a racy peek, but registering a hook while its node runs is undefined anyway */
    if (n->variable ? !CG_LOAD(&n->variable->hooks) : !CG_LOAD(&n->pre_hooks)) return 0;
    cg_hook *buf[16], **hooks;
    cg_hook **head = n->variable ? &n->variable->hooks : &n->pre_hooks;
    int k = hooks_take(head, CG_HOOK_TENSOR, !n->variable, output_nr, buf, 16, &hooks);
    if (k < 0) return -1;
    int rc = 0;
    for (int i = 0; i < k && rc == 0; i++) {
        cg_tensor *out = NULL;
        if (hook_live(hooks[i]) && hooks[i]->fn(hooks[i]->ctx, *g, &out) != 0) rc = hook_failed();
        if (out) {
            cg_tensor_release(*g);
            *g = out;
        }
    }
    hooks_put(hooks, k, buf);
    return rc;
}

/* ---- retain_grad ------------------------------------------------------------------------ */

int cg_tensor_retain_grad(cg_tensor *t) {
    if (!t->requires_grad) {
        cg_error_set(CG_ERR_RUNTIME, "can't retain_grad on Tensor that has requires_grad=False");
        return -1;
    }
    if (!t->grad_fn || t->retains_grad) return 0; /* leaves keep their grad anyway */
    cg_retain *r = malloc(sizeof *r);
    if (!r) {
        cg_oom((int64_t)sizeof *r);
        return -1;
    }
    r->tensor = t;
    cg_graph_lock();
    r->next = t->grad_fn->retains;
    t->grad_fn->retains = r;
    t->retains_grad = 1;
    cg_graph_unlock();
    return 0;
}

void cg_tensor_forget_retain(cg_tensor *t) {
    cg_graph_lock();
    if (t->grad_fn) {
        for (cg_retain **p = &t->grad_fn->retains; *p; p = &(*p)->next) {
            if ((*p)->tensor == t) {
                cg_retain *r = *p;
                *p = r->next;
                free(r);
                break;
            }
        }
    }
    t->retains_grad = 0;
    cg_graph_unlock();
}

int cg_run_retains(cg_node *n, uint32_t output_nr, cg_tensor *g) {
    if (!n->retains || !g) return 0;
    cg_tensor *targets[64];
    int k = 0;
    cg_graph_lock();
    for (cg_retain *r = n->retains; r && k < 64; r = r->next)
        if (r->tensor->output_nr == output_nr && try_retain(&r->tensor->refcount)) targets[k++] = r->tensor;
    cg_graph_unlock();
    int rc = 0;
    for (int i = 0; i < k; i++) {
        cg_tensor *t = targets[i];
        cg_tensor *old = t->grad;
        cg_tensor *next = old ? cg_add(old, g) : cg_clone(g);
        if (!next) rc = -1;
        if (next) {
            t->grad = next;
            cg_tensor_release(old);
        }
        cg_tensor_release(t);
    }
    return rc;
}
