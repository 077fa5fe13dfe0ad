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
static cg_node *node_alloc(void) {
    cg_node *n = cg_pool_get(&cg_ts.nodes, sizeof *n);
    if (n) memset(n, 0, sizeof *n);
    return n;
}

static void node_free(cg_node *n) { cg_pool_put(&cg_ts.nodes, n); }

cg_edge cg_gradient_edge(cg_tensor *t) {
    cg_edge e = {NULL, 0};
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
    for (int i = 0; i < n; i++) {
        if (!inputs[i]) continue;
        node->next[i] = cg_gradient_edge(inputs[i]);
        if (inputs[i]->requires_grad && !node->next[i].node) { /* allocation failed */
            cg_node_release(node);
            return NULL;
        }
        if (i < CG_NODE_INLINE_META) {
            node->in_dtype[i] = inputs[i]->dtype;
            node->in_shape[i].ndim = inputs[i]->ndim;
            for (int d = 0; d < inputs[i]->ndim; d++) node->in_shape[i].d[d] = inputs[i]->shape[d];
        }
    }
    /* after the edges: an AccumulateGrad made just now must be older */
    node->seq = __atomic_fetch_add(&next_seq, 1, __ATOMIC_RELAXED);
    return node;
}

void cg_set_history(cg_tensor *out, cg_node *n, uint32_t output_nr) {
    bool retained = out->retains_grad;
    if (retained) cg_tensor_forget_retain(out); /* an in-place op moves it to the new node */
    cg_node_retain(n);
    cg_node_release(out->grad_fn);
    out->grad_fn = n;
    out->output_nr = output_nr;
    out->requires_grad = 1;
    if (retained) cg_tensor_retain_grad(out);
}

void cg_node_retain(cg_node *n) { CG_INC(&n->refcount); }

void cg_node_release(cg_node *n) {
    if (n && CG_DEC(&n->refcount) == 0) cg_reap_push(n, 1);
}

static void free_hook_list(cg_hook *h) {
    while (h) {
        cg_hook *next = h->next;
        cg_hook_put(h);
        h = next;
    }
}

/* Called from the deferred-release loop only (tensor.c). */
void cg_node_destroy(cg_node *n) {
    if (n->variable) {
        cg_graph_lock();
        if (n->variable->grad_acc == n) n->variable->grad_acc = NULL;
        cg_graph_unlock();
        cg_tensor_release(n->variable);
    }
    for (int i = 0; i < n->n_next; i++) cg_node_release(n->next[i].node);
    if (n->next != n->inline_next) free(n->next);
    for (int i = 0; i < CG_NODE_SAVED; i++) cg_tensor_release(n->saved[i].data);
    if (n->extra && n->op->free_extra) n->op->free_extra(n->extra);
    free_hook_list(n->pre_hooks);
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
    n->refcount = 1;
    n->op = &cg_accumulate_grad_op;
    n->n_outputs = 1;
    n->next = n->inline_next;
    n->need_mask = ~0u;
    n->variable = leaf;
    cg_tensor_retain(leaf);
    n->seq = __atomic_fetch_add(&next_seq, 1, __ATOMIC_RELAXED);
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
            cg_error_set(CG_ERR_TYPE, "assigned grad has data of a different type");
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
    cg_tensor *old = t->grad;
    t->grad = g;
    cg_tensor_release(old);
    return 0;
}

cg_tensor *cg_detach(cg_tensor *t) {
    cg_tensor *d = cg_alias(t, t->shape, t->strides, t->ndim, t->offset);
    if (d && !t->base) { /* a detached tensor is not a view in PyTorch's sense */
        cg_tensor_release(d->base);
        d->base = NULL;
    }
    return d;
}

int cg_detach_(cg_tensor *t) {
    cg_node *old = t->grad_fn;
    t->grad_fn = NULL;
    t->output_nr = 0;
    t->requires_grad = 0;
    cg_node_release(old);
    return 0;
}

/* ---- saved tensors ------------------------------------------------------------------- */

int cg_save(cg_node *n, int slot, cg_tensor *t, bool is_output) {
    cg_saved *s = &n->saved[slot];
    cg_tensor *data = t;
    if (is_output) {
        data = cg_tensor_make(t->storage, (cg_dtype)t->dtype, t->shape, t->strides, t->ndim, t->offset);
        if (!data) return -1;
        s->output_nr = t->output_nr;
    } else {
        cg_tensor_retain(t);
    }
    cg_tensor_release(s->data);
    s->data = data;
    s->version = t->storage->version;
    s->is_output = is_output;
    n->has_saved = 1;
    return 0;
}

static void error_modified(cg_node *n, cg_saved *s) {
    cg_tensor *t = s->data;
    char shape[160], which[200] = "";
    cg_shape_str(t->shape, t->ndim, shape, sizeof shape);
    cg_node *fn = s->is_output ? n : t->grad_fn;
    if (fn)
        snprintf(which, sizeof which, ", which is output %u of %s,",
                 s->is_output ? s->output_nr : t->output_nr, fn->op->name);
    cg_error_set(CG_ERR_RUNTIME,
                 "one of the variables needed for gradient computation has been modified by an inplace "
                 "operation: [%s %s]%s is at version %llu; expected version %llu instead. Hint: enable "
                 "anomaly detection to find the operation that failed to compute its gradient, with "
                 "torch.autograd.set_detect_anomaly(True).",
                 cg_dtype_tensor_name((cg_dtype)t->dtype), shape, which,
                 (unsigned long long)t->storage->version, (unsigned long long)s->version);
}

cg_tensor *cg_unpack(cg_node *n, int slot) {
    cg_saved *s = &n->saved[slot];
    if (!s->data) {
        if (n->released)
            cg_error_set(CG_ERR_RUNTIME,
                         "Trying to backward through the graph a second time (or directly access saved "
                         "tensors after they have already been freed). Saved intermediate values of the graph "
                         "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
                         "you need to backward through the graph a second time or if you need to access saved "
                         "tensors after calling backward.");
        else
            cg_error_set(CG_ERR_RUNTIME, "%s: saved tensor %d is missing", n->op->name, slot);
        return NULL;
    }
    if (s->data->storage->version != s->version) {
        error_modified(n, s);
        return NULL;
    }
    if (s->is_output && cg_is_grad_enabled()) { /* re-attach for higher-order gradients */
        cg_tensor *t = s->data;
        cg_tensor *out = cg_tensor_make(t->storage, (cg_dtype)t->dtype, t->shape, t->strides, t->ndim, t->offset);
        if (out) cg_set_history(out, n, s->output_nr);
        return out;
    }
    cg_tensor_retain(s->data);
    return s->data;
}

void cg_node_release_saved(cg_node *n) {
    if (!n->has_saved) return;
    for (int i = 0; i < CG_NODE_SAVED; i++) {
        cg_tensor_release(n->saved[i].data);
        n->saved[i].data = NULL;
    }
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

static int64_t next_hook_id = 1;

void cg_hook_put(cg_hook *h) {
    if (CG_DEC(&h->refcount) != 0) return;
    if (h->release) h->release(h->ctx);
    free(h);
}

int64_t cg_tensor_register_hook(cg_tensor *t, cg_hook_fn fn, void *ctx, cg_hook_release release) {
    if (!t->requires_grad) {
        cg_error_set(CG_ERR_RUNTIME, "cannot register a hook on a tensor that doesn't require gradient");
        return -1;
    }
    cg_hook *h = calloc(1, sizeof *h);
    if (!h) {
        cg_oom((int64_t)sizeof *h);
        return -1;
    }
    h->refcount = 1;
    h->fn = fn;
    h->ctx = ctx;
    h->release = release;
    h->output_nr = t->output_nr;
    h->id = __atomic_fetch_add(&next_hook_id, 1, __ATOMIC_RELAXED);
    cg_graph_lock();
    cg_hook **list = t->grad_fn ? &t->grad_fn->pre_hooks : &t->hooks;
    while (*list) list = &(*list)->next; /* hooks run in registration order */
    *list = h;
    cg_graph_unlock();
    return h->id;
}

static int remove_from(cg_hook **list, int64_t id) {
    for (; *list; list = &(*list)->next) {
        if ((*list)->id == id) {
            cg_hook *h = *list;
            *list = h->next;
            cg_hook_put(h);
            return 0;
        }
    }
    return 1;
}

int cg_tensor_remove_hook(cg_tensor *t, int64_t id) {
    cg_graph_lock();
    int r = remove_from(&t->hooks, id);
    if (r && t->grad_fn) r = remove_from(&t->grad_fn->pre_hooks, id);
    cg_graph_unlock();
    return r;
}

void cg_tensor_free_hooks(cg_tensor *t) {
    cg_graph_lock();
    cg_hook *h = t->hooks;
    t->hooks = NULL;
    cg_graph_unlock();
    free_hook_list(h);
}

int cg_hooks_take(cg_node *n, uint32_t output_nr, cg_hook **out, int max) {
    int k = 0;
    cg_graph_lock();
    cg_hook *h = n->variable ? n->variable->hooks : n->pre_hooks;
    for (; h && k < max; h = h->next) {
        if (!n->variable && h->output_nr != output_nr) continue;
        CG_INC(&h->refcount);
        out[k++] = h;
    }
    cg_graph_unlock();
    return k;
}

int cg_run_hooks(cg_node *n, uint32_t output_nr, cg_tensor **g) {
    if (!*g) return 0;
    /* a racy peek: a hook registered while this runs may or may not be seen */
    if (!(n->variable ? n->variable->hooks : n->pre_hooks)) return 0;
    cg_hook *hooks[64];
    int k = cg_hooks_take(n, output_nr, hooks, 64);
    int rc = 0;
    for (int i = 0; i < k; i++) {
        cg_tensor *out = NULL;
        if (rc == 0 && hooks[i]->fn(hooks[i]->ctx, *g, &out) != 0) {
            if (cg_error_kind() == CG_OK) cg_error_set(CG_ERR_EXTERNAL, "a hook failed");
            rc = -1;
        }
        if (out) {
            cg_tensor_release(*g);
            *g = out;
        }
        cg_hook_put(hooks[i]);
    }
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
