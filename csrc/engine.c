/* engine.c -- the backward pass.
 *
 * Two steps, as in micrograd and PyTorch: order the graph (count, for each
 * reachable node, the edges pointing into it), then apply the chain rule node
 * by node from a ready queue ordered by sequence number, newest first. A node
 * is ready when every consumer of its outputs has delivered its gradient.
 */
#include <pthread.h>

#include "internal.h"

int cg_add_into(cg_tensor *dst, cg_tensor *src); /* ops_elementwise.c */

enum run_mode {
    ACCUMULATE_ALL, /* backward(): every leaf's .grad */
    CAPTURE,        /* grad() / backward(inputs=): only the inputs' gradients */
};

typedef struct run {
    uint64_t id;
    enum run_mode mode;
    int retain_graph;
    cg_node **nodes; /* every node claimed by this run */
    size_t n_nodes, cap_nodes;
    const cg_node **hints; /* by claimed_at: each node's hint, see prefetch_ahead */
    size_t cap_hints;
    const cg_node *ahead[CG_NODE_HINT]; /* the hints of the last nodes run, by step */
    cg_node **heap; /* ready queue, max-heap on seq */
    size_t n_heap, cap_heap;
    cg_edge *targets; /* CAPTURE: the inputs' gradient edges */
    cg_tensor **captured;
    int n_targets;
    bool plain; /* no graph built, no recording, no anomaly mode: see evaluate_scalar */
    struct stashed *stash; /* the outer runs' scratch of nodes this run claimed from them */
    size_t n_stash, cap_stash;
} run;

static pthread_mutex_t engine_mutex;
static _Thread_local run *current; /* the innermost run on this thread, NULL outside backward */
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static uint64_t run_counter;

static void engine_init(void) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&engine_mutex, &attr);
    pthread_mutexattr_destroy(&attr);
}

/* ---- ready queue ------------------------------------------------------------ */

static int heap_push(run *r, cg_node *n) {
    if (cg_grow((void **)&r->heap, &r->cap_heap, r->n_heap + 1, sizeof(cg_node *))) return -1;
    size_t i = r->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (r->heap[p]->seq >= n->seq) break;
        r->heap[i] = r->heap[p];
        i = p;
    }
    r->heap[i] = n;
    return 0;
}

static cg_node *heap_pop(run *r) {
    cg_node *top = r->heap[0];
    cg_node *last = r->heap[--r->n_heap];
    size_t i = 0, n = r->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && r->heap[c + 1]->seq > r->heap[c]->seq) c++;
        if (r->heap[c]->seq <= last->seq) break;
        r->heap[i] = r->heap[c];
        i = c;
    }
    if (n) r->heap[i] = last;
    return top;
}

/* ---- step 1: claim and count ---------------------------------------------- */

/* Note [A run inside a run]
 * A hook or a custom Function's backward may call backward or grad again,
 * on a graph that shares nodes with the run that called it (PyTorch allows
 * it: a checkpointed segment recomputed and differentiated inside the outer
 * backward reaches the same leaves). The engine's scratch lives in the
 * node (Note [Engine state lives in the node]), so the inner run keeps the
 * outer run's scratch of each node it claims from it, starts the node
 * afresh, and finish() puts the outer scratch back. Runs hold the engine's
 * lock, so a node claimed by another run is claimed by an outer run on
 * this thread, and the inner run ends first. What the inner run does to
 * the graph itself is shared, as in PyTorch: without retain_graph it frees
 * what the nodes it ran saved, and the outer run then fails on them. */
typedef struct stashed {
    cg_node *node;
    uint64_t run;
    int32_t deps;
    uint32_t need_mask, claimed_at;
    uint8_t exec_needed, captured, gscalar;
    uint64_t slot; /* buf1, gval or bufs */
} stashed;
_Static_assert(sizeof(((cg_node *)0)->gval) == sizeof(uint64_t) && sizeof(((cg_node *)0)->bufs) == sizeof(uint64_t),
               "a node's buffer no longer fits a stashed slot");

static int stash(run *r, cg_node *n) {
    if (cg_grow((void **)&r->stash, &r->cap_stash, r->n_stash + 1, sizeof(stashed))) return -1;
    stashed *s = &r->stash[r->n_stash++];
    *s = (stashed){n, n->run, n->deps, n->need_mask, n->claimed_at, n->exec_needed, n->captured, n->gscalar, 0};
    memcpy(&s->slot, &n->buf1, sizeof s->slot);
    return 0;
}

static void unstash(run *r) {
    for (size_t k = r->n_stash; k-- > 0;) {
        stashed *s = &r->stash[k];
        cg_node *n = s->node;
        n->run = s->run, n->deps = s->deps, n->need_mask = s->need_mask, n->claimed_at = s->claimed_at;
        n->exec_needed = s->exec_needed, n->captured = s->captured, n->gscalar = s->gscalar;
        memcpy(&n->buf1, &s->slot, sizeof s->slot);
    }
    free(r->stash);
    r->stash = NULL;
    r->n_stash = r->cap_stash = 0;
}

/* The first lines of a node: what claim() and route() touch. */
#define NODE_HEAD 128

static int claim(run *r, cg_node *n) {
    if (n->run == r->id) return 0;
    bool outer = n->run != 0; /* Note [A run inside a run] */
    if (outer && stash(r, n)) return -1;
    if (cg_grow((void **)&r->nodes, &r->cap_nodes, r->n_nodes + 1, sizeof(cg_node *)) ||
        cg_grow((void **)&r->hints, &r->cap_hints, r->n_nodes + 1, sizeof(cg_node *)))
        return -1;
    /* the node made CG_NODE_HINT before it, or after a run the one claimed
     * 8 after it: either is likely claimed soon (Note [Prefetching a big graph]);
     * an outer run's node has its buffer there instead */
    const cg_node *hint = outer ? NULL : n->hint;
    if (hint) cg_prefetch(hint, NODE_HEAD);
    r->hints[r->n_nodes] = hint;
    n->claimed_at = (uint32_t)r->n_nodes; /* past 2^32 nodes, only the hints are wrong */
    n->run = r->id;
    n->deps = 0;
    n->captured = 0;
    n->exec_needed = r->mode == ACCUMULATE_ALL;
    n->need_mask = ~0u;
    n->buf1 = NULL; /* and bufs and gval: they share their place */
    n->gscalar = 0;
    if (n->n_outputs > 1) {
        n->bufs = calloc(n->n_outputs, sizeof(cg_tensor *));
        if (!n->bufs) {
            cg_oom((int64_t)n->n_outputs * (int64_t)sizeof(cg_tensor *));
            return -1;
        }
    }
    r->nodes[r->n_nodes++] = n;
    return 0;
}

/* What a node's backward reads: the head, saved tensors, input shapes. */
#define NODE_BACKWARD 384

/* Note [Prefetching a big graph]
 * A graph of many small ops is far out of cache by the time backward walks
 * it, and each step of a walk learns the next address only by loading the
 * current node: one cache miss after another. The walks ask for lines well
 * ahead, from guesses of what comes next; a wrong guess costs only memory
 * bandwidth.
 *
 * Nodes run newest first (the ready queue is ordered by sequence number),
 * and most are claimed newest first too. So each node made keeps the one
 * made CG_NODE_HINT nodes before it on the same thread (graph.c): the node
 * likely to be claimed, and to run, that many steps later. The hint lives
 * in the buffer pointer a node needs only from its first run on: claiming
 * a node starts loading its hint and copies it to the run's hints list,
 * and running the node starts loading it again, with what it saved and
 * their storage a few steps after (prefetch_ahead). A scalar graph whose
 * ops read random earlier values is claimed in an order far from the one
 * it runs in, so the claimed list, a good guess for chains, is not used.
 * After a run, the buffer pointer holds the release's guess instead (Note
 * [Releasing a run's graph]), a hint as good for a next run. A hint is
 * never read, except the fields of nodes this run claimed, which are alive
 * until it ends. */
static inline __attribute__((always_inline)) void prefetch_next_nodes(const cg_node *n) {
    for (int i = 0; i < n->n_next; i++)
        if (n->next[i].node) cg_prefetch(n->next[i].node, NODE_HEAD);
}

/* Claims every node reachable from the roots and counts its dependencies,
 * with the claimed-node list itself as the work stack. */
static int count_dependencies(run *r, const cg_edge *roots, int n_roots) {
    for (int i = 0; i < n_roots; i++)
        if (claim(r, roots[i].node)) return -1;
    for (size_t k = 0; k < r->n_nodes; k++) {
        if (k + 4 < r->n_nodes) prefetch_next_nodes(r->nodes[k + 4]);
        cg_node *n = r->nodes[k];
        for (int i = 0; i < n->n_next; i++) {
            cg_node *next = n->next[i].node;
            if (!next) continue;
            if (claim(r, next)) return -1;
            next->deps++;
        }
    }
    return 0;
}

static int by_seq(const void *a, const void *b) {
    uint64_t x = (*(cg_node *const *)a)->seq, y = (*(cg_node *const *)b)->seq;
    return x < y ? -1 : x > y;
}

/* CAPTURE mode runs only the nodes on a path to an input. A node's next
 * nodes are older than it, so one pass in sequence order sees them first. */
static void mark_needed(run *r) {
    for (int j = 0; j < r->n_targets; j++)
        if (r->targets[j].node && r->targets[j].node->run == r->id) r->targets[j].node->captured = 1;
    qsort(r->nodes, r->n_nodes, sizeof(cg_node *), by_seq);
    for (size_t k = 0; k < r->n_nodes; k++) {
        cg_node *n = r->nodes[k];
        if (n->op == &cg_accumulate_grad_op) continue; /* never runs here */
        uint32_t mask = 0;
        for (int i = 0; i < n->n_next; i++) {
            cg_node *next = n->next[i].node;
            if (next && (next->captured || next->exec_needed) && i < 32) mask |= 1u << i;
            if (next && (next->captured || next->exec_needed)) n->exec_needed = 1;
        }
        n->need_mask = mask;
    }
}

/* ---- step 2: evaluate -------------------------------------------------------- */

static cg_tensor **buffer_of(cg_node *n, uint32_t k) { return n->n_outputs > 1 ? &n->bufs[k] : &n->buf1; }
static int as_tensor(cg_node *n); /* Note [Gradients as numbers] */

/* Adds g (owned) into a buffer slot: in place when nobody else can see
 * either operand and no graph is being built, else out of place. */
static int buffer_add(cg_tensor **slot, cg_tensor *g) {
    cg_tensor *have = *slot;
    if (!have) {
        *slot = g;
        return 0;
    }
    if (!cg_is_grad_enabled() && cg_same_shape(have, g) && have->dtype == g->dtype) {
        if (cg_is_unique(have) && cg_tensor_is_contiguous(have)) {
            int rc = cg_add_into(have, g);
            cg_tensor_release(g);
            return rc;
        }
        if (cg_is_unique(g) && cg_tensor_is_contiguous(g)) {
            int rc = cg_add_into(g, have);
            cg_tensor_release(have);
            *slot = g;
            return rc;
        }
    }
    cg_tensor *sum = cg_add(have, g);
    cg_tensor_release(g);
    if (!sum) return -1;
    cg_tensor_release(have);
    *slot = sum;
    return 0;
}

/* Adds g, which holds two references, twice into a buffer slot in one
 * pass: (have + g) + g, the bits two adds in a row make. This is how x * x
 * sends its gradient, g * x down both edges to x. False, and nothing taken,
 * when the slot cannot take it in place. */
static bool buffer_add_twice(cg_tensor **slot, cg_tensor *g) {
    cg_tensor *have = *slot;
    if (!have || cg_is_grad_enabled() || !cg_same_shape(have, g) || have->dtype != g->dtype ||
        !cg_dtype_is_floating((cg_dtype)g->dtype) || !cg_is_unique(have) || !cg_tensor_is_contiguous(have))
        return false;
    cg_tensor *ins[2] = {have, g};
    cg_run_loop(cg_binary_loop(CG_BIN_ADD_TWICE, (cg_dtype)have->dtype), have, ins, 2);
    cg_bump_version(have);
    cg_tensor_release(g);
    cg_tensor_release(g);
    return true;
}

static void capture(run *r, cg_node *n, uint32_t k, cg_tensor *g) {
    for (int j = 0; j < r->n_targets; j++) {
        if (r->targets[j].node != n || r->targets[j].input_nr != k || !g) continue;
        if (r->captured[j]) { /* the same tensor passed twice as input */
            cg_tensor_retain(r->captured[j]);
        } else {
            cg_tensor_retain(g);
            r->captured[j] = g;
        }
    }
}

/* Routes the gradients a node produced into its next nodes' buffers. */
static int route(run *r, cg_node *n, cg_tensor **gin) {
    int rc = 0;
    for (int i = 0; i < n->n_next; i++) {
        cg_edge *e = &n->next[i];
        cg_tensor *g = gin[i];
        gin[i] = NULL;
        if (!e->node || e->node->run != r->id) {
            cg_tensor_release(g);
            continue;
        }
        if (g && rc == 0 && e->node->gscalar) rc = as_tensor(e->node); /* Note [Gradients as numbers] */
        cg_tensor **slot = buffer_of(e->node, e->input_nr);
        if (g && rc == 0 && i + 1 < n->n_next && gin[i + 1] == g && n->next[i + 1].node == e->node &&
            n->next[i + 1].input_nr == e->input_nr && buffer_add_twice(slot, g))
            gin[i + 1] = NULL; /* the next edge's share is in */
        else if (g && rc == 0)
            rc = buffer_add(slot, g);
        else
            cg_tensor_release(g);
        if (--e->node->deps == 0 && (e->node->exec_needed || e->node->captured) && rc == 0)
            rc = heap_push(r, e->node);
    }
    return rc;
}

/* Runs the gradient hooks of n's outputs, updates retained .grad and takes
 * what autograd.grad captures, all before n's backward, as PyTorch does. */
static int before_backward(run *r, cg_node *n) {
    for (uint32_t k = 0; k < n->n_outputs; k++) {
        cg_tensor **slot = buffer_of(n, k);
        if (cg_run_hooks(n, k, slot) || cg_run_retains(n, k, *slot)) return -1;
        if (n->captured) capture(r, n, k, *slot);
    }
    return 0;
}

/* Node pre-hooks, the backward formula, node post-hooks. */
static int call_function(cg_node *n, cg_tensor **gin) {
    cg_tensor **gout = n->n_outputs > 1 ? n->bufs : &n->buf1;
    bool hooked = CG_LOAD(&n->pre_hooks) != NULL;
    if (hooked && cg_run_node_hooks(n, CG_HOOK_NODE_PRE, gout, (int)n->n_outputs, NULL, 0)) return -1;
    bool any = false;
    for (uint32_t k = 0; k < n->n_outputs; k++) any |= gout[k] != NULL;
    if (!any) return 0;
    cg_node *outer = cg_anomaly_enter(n);
    int rc = CG_UNLIKELY(n->has_saved == 2) ? cg_backward_unpacked(n, gout, gin) : n->op->backward(n, gout, gin);
    cg_anomaly_enter(outer);
    if (rc == 0 && hooked) rc = cg_run_node_hooks(n, CG_HOOK_NODE_POST, gin, n->n_next, gout, (int)n->n_outputs);
    return rc;
}

/* Note [Scalar gradients]
 * A graph of one-element values (a micrograd-style model, a scalar
 * recurrence) spends its backward on tensor machinery around one multiply
 * per node: kernel dispatch, shape checks, a new tensor per gradient. When
 * nothing can observe a float32 or float64 node (no hooks, retained grads
 * or captures, no graph being built, no recording, no anomaly mode), its
 * backward runs on plain numbers (op->backward_scalar) and each input's
 * gradient is added straight into the next node's buffer: as a number when
 * the buffer is empty or holds one (Note [Gradients as numbers]), into its
 * one element when it holds a tensor nobody else sees (the in-place add of
 * buffer_add), else into a tensor of the input's shape, the incoming
 * gradient's own when unshared. The formulas are the ones the general
 * backward computes, in the same type, so the bits are the same; any other
 * case takes the general path. */

/* Note [Gradients as numbers]
 * On the scalar path, a gradient bound for a node of one output whose
 * buffer is empty is kept as a number in the buffer's place (gval), its
 * dtype and ndim in gscalar, not in a tensor made for it; later ones add
 * into the number in the gradient's type, as the tensor's in-place add
 * does. Whatever reads the buffer as a tensor makes the tensor first: the
 * node's general path, a gradient arriving by the general path (so that
 * the sums keep their order), the end of the run. */
#define GS_SET 0x80u
#define GS_F32 0x40u
#define GS_NDIM 0x0fu

/* A one-element gradient tensor of dtype and ndim dimensions holding v:
 * the spare (taken), of that dtype, when there is one, else a new one. */
static cg_tensor *scalar_grad(double v, cg_dtype dtype, int ndim, cg_tensor **spare) {
    static const int64_t ones[CG_MAX_DIMS] = {1, 1, 1, 1, 1, 1, 1, 1};
    cg_tensor *t = *spare;
    if (t) {
        *spare = NULL;
        t->ndim = ndim;
        for (int d = 0; d < ndim; d++) t->shape[d] = t->strides[d] = 1;
        cg_bump_version(t);
    } else if (!(t = cg_new_tensor(ones, ndim, dtype))) {
        return NULL;
    }
    if (dtype == CG_FLOAT32)
        *(float *)cg_ptr(t) = (float)v; /* a float's value: exact */
    else
        *(double *)cg_ptr(t) = v;
    return t;
}

/* Turns the number n's buffer holds into a tensor there. */
static int as_tensor(cg_node *n) {
    unsigned gs = n->gscalar;
    double v = n->gval;
    cg_tensor *spare = NULL;
    n->gscalar = 0;
    n->buf1 = scalar_grad(v, gs & GS_F32 ? CG_FLOAT32 : CG_FLOAT64, (int)(gs & GS_NDIM), &spare);
    return n->buf1 ? 0 : -1;
}

/* Adds v, the gradient of n's input i, of dtype, into input k's buffer of
 * node to: into its number, or a number there when it is empty (Note
 * [Gradients as numbers]), else into the tensor it holds. */
static int deliver_scalar(const cg_node *n, int i, double v, cg_dtype dtype, cg_node *to, uint32_t k,
                          cg_tensor **spare) {
    int ndim = n->in_shape[i].ndim;
    unsigned gs = (dtype == CG_FLOAT32 ? GS_F32 : 0) | (unsigned)ndim | GS_SET;
    if (to->gscalar == gs) {
        to->gval = dtype == CG_FLOAT32 ? (double)((float)to->gval + (float)v) : to->gval + v;
        return 0;
    }
    if (to->gscalar && as_tensor(to)) return -1;
    cg_tensor **slot = buffer_of(to, k);
    cg_tensor *have = *slot;
    if (!have && to->n_outputs == 1) {
        to->gval = v;
        to->gscalar = (uint8_t)gs;
        return 0;
    }
    if (have && have->dtype == dtype && have->numel == 1 && have->ndim == ndim && cg_is_unique(have)) {
        if (dtype == CG_FLOAT32) {
            float *p = (float *)cg_ptr(have);
            *p = *p + (float)v;
        } else {
            double *p = (double *)cg_ptr(have);
            *p = *p + v;
        }
        cg_bump_version(have);
        return 0;
    }
    cg_tensor *g = scalar_grad(v, dtype, ndim, spare);
    if (!g) return -1;
    return buffer_add(slot, g);
}

/* Runs n on the scalar path when it can: 1 when it ran, 0 when the general
 * path must (nothing changed), -1 on error. */
static int evaluate_scalar(run *r, cg_node *n) {
    if (n->n_outputs != 1 || n->n_next > 2 || !n->exec_needed || n->captured || CG_LOAD(&n->pre_hooks) ||
        n->retains || !r->plain)
        return 0;
    cg_tensor *g = NULL;
    cg_dtype dtype;
    double gv;
    if (n->gscalar) {
        dtype = n->gscalar & GS_F32 ? CG_FLOAT32 : CG_FLOAT64;
        gv = n->gval;
    } else {
        g = n->buf1;
        if (!g || (g->dtype != CG_FLOAT64 && g->dtype != CG_FLOAT32) || g->numel != 1) return 0;
        dtype = (cg_dtype)g->dtype;
        gv = dtype == CG_FLOAT32 ? *(const float *)cg_ptr(g) : *(const double *)cg_ptr(g);
    }
    for (int i = 0; i < n->n_next; i++)
        if (cg_wants(n, i) && n->in_dtype[i] != dtype) return 0;
    double gin[2];
    if (!n->op->backward_scalar(n, dtype == CG_FLOAT32, gv, gin)) return 0;
    if (!r->retain_graph) cg_node_release_saved(n);
    n->gscalar = 0;
    n->buf1 = NULL;
    cg_tensor *spare = g;
    if (g && (!cg_is_unique(g) || g->grad_fn)) {
        cg_tensor_release(g);
        spare = NULL;
    }
    int rc = 0;
    for (int i = 0; i < n->n_next; i++) {
        cg_edge *e = &n->next[i];
        if (!e->node || e->node->run != r->id) continue;
        if (rc == 0 && cg_wants(n, i)) rc = deliver_scalar(n, i, gin[i], dtype, e->node, e->input_nr, &spare);
        if (--e->node->deps == 0 && (e->node->exec_needed || e->node->captured) && rc == 0)
            rc = heap_push(r, e->node);
    }
    cg_tensor_release(spare);
    return rc ? -1 : 1;
}

/* No graph built, no recording, no anomaly mode: what the scalar path
 * needs of the run, asked again after each node of the general path,
 * where a hook may change it. */
static bool plain_run(void) { return !cg_is_grad_enabled() && !CG_RECORDING() && !cg_is_anomaly_enabled(); }

static int evaluate(run *r, cg_node *n) {
    if (n->op->backward_scalar) {
        int rc = evaluate_scalar(r, n);
        if (rc) return rc < 0 ? -1 : 0;
    }
    if (n->gscalar && as_tensor(n)) return -1;
    cg_tensor *small[8] = {0};
    cg_tensor **gin = n->n_next <= 8 ? small : calloc((size_t)n->n_next, sizeof(cg_tensor *));
    if (!gin) {
        cg_oom((int64_t)n->n_next * 8);
        return -1;
    }
    int rc = before_backward(r, n);
    if (rc == 0 && n->exec_needed) {
        rc = call_function(n, gin);
        if (rc == 0 && !r->retain_graph) cg_node_release_saved(n);
    }
    if (cg_is_anomaly_enabled()) rc = cg_anomaly_check(n, gin, rc);
    for (uint32_t k = 0; k < n->n_outputs; k++) {
        cg_tensor **slot = buffer_of(n, k);
        cg_tensor_release(*slot);
        *slot = NULL;
    }
    if (rc == 0) rc = route(r, n, gin);
    for (int i = 0; i < n->n_next; i++) cg_tensor_release(gin[i]);
    if (gin != small) free(gin);
    r->plain = plain_run();
    return rc;
}

/* ---- a run -------------------------------------------------------------------- */

/* Note [The engine's lists between runs]
 * A run's claimed list, hints and ready queue grow by doubling as it goes.
 * For a big graph that is a copy, and fresh pages from the system (a fault
 * each 4 KB), at every run. The last run's lists of up to KEEP_LIST entries
 * are kept for the next, under the engine's lock, which every run holds (a
 * run nested in a hook finds them taken and makes its own). */
#define KEEP_LIST ((size_t)1 << 18)
typedef struct kept_list {
    void *p;
    size_t cap;
} kept_list;
static kept_list kept[3]; /* nodes, hints, heap */

static void take_list(void **p, size_t *cap, kept_list *k) {
    *p = k->p, *cap = k->cap;
    k->p = NULL, k->cap = 0;
}

static void keep_list(void **p, size_t cap, kept_list *k) {
    if (k->p || cap > KEEP_LIST) {
        free(*p);
    } else {
        k->p = *p, k->cap = cap;
    }
    *p = NULL;
}

/* Note [Releasing a run's graph]
 * A graph that backward ran through is usually freed soon after, from its
 * roots, each node's death releasing its next nodes: a walk that learns
 * each address from the node before, a trip to memory a node for a big
 * graph. Between runs a node's buffer pointer is free (a run's claim sets
 * it again), so finish() leaves in it a guess of the node released some
 * steps later, and a node's destruction starts loading that one. The
 * release goes newest first, like the run: the guess is the node's hint
 * (made 16 before it, Note [Prefetching a big graph]), or, where the claim
 * order follows the order of making (a chain), the node 8 places later in
 * it. Loading 16 nodes ahead has more lines in flight than a fast release
 * of a chain can use: it was slower there than 8. Only ever a guess, never
 * read: the node may be dead and its memory back in the pool (which is
 * never given back to the system), or still in use. */
static void finish(run *r) {
    for (size_t k = 0; k < r->n_nodes; k++) {
        if (k + 8 < r->n_nodes) cg_prefetch(r->nodes[k + 8], NODE_HEAD);
        cg_node *n = r->nodes[k];
        if (n->gscalar) n->gscalar = 0, n->buf1 = NULL;
        for (uint32_t o = 0; o < n->n_outputs; o++) cg_tensor_release(*buffer_of(n, o));
        if (n->n_outputs > 1) free(n->bufs);
        const cg_node *hint = n->claimed_at < r->n_nodes ? r->hints[n->claimed_at] : NULL;
        bool chain = k + 16 < r->n_nodes && r->nodes[k + 16] == hint;
        n->hint = chain ? r->nodes[k + 8] : hint;
        n->run = 0;
        n->deps = 0;
        n->captured = 0;
        n->exec_needed = 0;
        n->need_mask = ~0u;
    }
    unstash(r);
    keep_list((void **)&r->nodes, r->cap_nodes, &kept[0]);
    keep_list((void **)&r->hints, r->cap_hints, &kept[1]);
    keep_list((void **)&r->heap, r->cap_heap, &kept[2]);
}

/* The gradient root i starts with: the given one (checked), or ones. */
static cg_tensor *root_grad(cg_tensor *root, cg_tensor *grad, int i) {
    if (!grad) {
        if (root->numel != 1) {
            cg_error_set(CG_ERR_RUNTIME, "grad can be implicitly created only for scalar outputs");
            return NULL;
        }
        return cg_ones(root->shape, root->ndim, (cg_dtype)root->dtype);
    }
    if (!cg_same_shape(root, grad)) {
        char b1[160], b2[160];
        cg_error_set(CG_ERR_RUNTIME,
                     "Mismatch in shape: grad_output[%d] has a shape of torch.Size(%s) and output[%d] has a "
                     "shape of torch.Size(%s).",
                     i, cg_shape_str(grad->shape, grad->ndim, b1, sizeof b1), i,
                     cg_shape_str(root->shape, root->ndim, b2, sizeof b2));
        return NULL;
    }
    if (grad->dtype != root->dtype) return cg_cast_raw(grad, (cg_dtype)root->dtype);
    cg_tensor_retain(grad);
    return grad;
}

static int seed_roots(run *r, cg_tensor *const *roots, cg_tensor *const *grads, int n, cg_edge *edges) {
    for (int i = 0; i < n; i++) {
        cg_tensor *g = root_grad(roots[i], grads ? grads[i] : NULL, i);
        if (!g) return -1;
        if (buffer_add(buffer_of(edges[i].node, edges[i].input_nr), g)) return -1;
    }
    for (int i = 0; i < n; i++) {
        cg_node *node = edges[i].node;
        bool seen = false;
        for (int j = 0; j < i; j++) seen |= edges[j].node == node;
        if (!seen && node->deps == 0 && (node->exec_needed || node->captured))
            if (heap_push(r, node)) return -1;
    }
    return 0;
}

/* As node n, the step-th, runs: the node expected CG_NODE_HINT (16) steps
 * later (n's hint), the tensors saved by the one expected 8 steps later
 * (whose lines were asked for 8 steps ago) and the storage of those
 * expected 4 steps later (Note [Prefetching a big graph]). A hint is
 * followed only if this run claimed it: a node of this run is alive until
 * the run ends. Always inlined: a separate function that only reads memory
 * and prefetches looks pure to GCC, whose calls to it, returning nothing,
 * it then deletes. */
static inline __attribute__((always_inline)) void prefetch_ahead(run *r, const cg_node *n, size_t step) {
    size_t at = n->claimed_at;
    /* down a chain, nodes run in the order they were claimed: the hints
     * list is then read in order, and would miss all the same, each read
     * waiting for the node that gives its index */
    if (at + 16 < r->n_nodes) __builtin_prefetch(&r->hints[at + 16], 0, 3); /* two lines on */
    const cg_node *h = at < r->n_nodes ? r->hints[at] : NULL;
    if (h) cg_prefetch(h, NODE_BACKWARD);
    r->ahead[step % CG_NODE_HINT] = h;
    const cg_node *h8 = r->ahead[(step + CG_NODE_HINT / 2) % CG_NODE_HINT]; /* hinted 8 steps ago */
    if (h8 && __atomic_load_n(&h8->run, __ATOMIC_RELAXED) == r->id)
        for (int i = 0; i < CG_NODE_SAVED; i++) {
            const cg_saved *s = &h8->saved[i];
            if (s->data && !s->packed) cg_prefetch(s->data, s->bare ? 64 : 192); /* a bare one is a storage */
        }
    const cg_node *h12 = r->ahead[(step + CG_NODE_HINT / 4) % CG_NODE_HINT]; /* hinted 12 steps ago */
    if (h12 && __atomic_load_n(&h12->run, __ATOMIC_RELAXED) == r->id)
        for (int i = 0; i < CG_NODE_SAVED; i++) {
            const cg_saved *s = &h12->saved[i];
            if (s->data && !s->bare && !s->packed) cg_prefetch(s->data->storage, 64);
        }
}

static int execute(run *r, cg_tensor *const *roots, cg_tensor *const *grads, int n, cg_edge *edges) {
    if (count_dependencies(r, edges, n)) return -1;
    if (r->mode == CAPTURE) mark_needed(r);
    if (seed_roots(r, roots, grads, n, edges)) return -1;
    r->plain = plain_run();
    for (size_t step = 0; r->n_heap; step++) {
        cg_node *node = heap_pop(r);
        prefetch_ahead(r, node, step);
        if (evaluate(r, node)) return -1;
    }
    return 0;
}

static int root_edges(cg_tensor *const *roots, int n, cg_edge *edges) {
    for (int i = 0; i < n; i++) {
        if (!roots[i]->requires_grad) {
            cg_error_set(CG_ERR_RUNTIME,
                         "element %d of tensors does not require grad and does not have a grad_fn", i);
            return -1;
        }
        edges[i] = cg_gradient_edge(roots[i]);
        if (!edges[i].node) return -1;
    }
    return 0;
}

static int run_engine(run *r, cg_tensor *const *roots, cg_tensor *const *grads, int n, int create_graph) {
    if (n <= 0) {
        cg_error_set(CG_ERR_RUNTIME, "backward() needs at least one tensor");
        return -1;
    }
    cg_edge small[8];
    cg_edge *edges = n <= 8 ? small : calloc((size_t)n, sizeof(cg_edge));
    if (!edges) {
        cg_oom((int64_t)n * (int64_t)sizeof(cg_edge));
        return -1;
    }
    memset(edges, 0, (size_t)n * sizeof(cg_edge));
    int rc = root_edges(roots, n, edges);
    if (rc == 0) {
        pthread_once(&engine_once, engine_init);
        pthread_mutex_lock(&engine_mutex);
        int grad_mode = cg_is_grad_enabled();
        cg_set_grad_enabled(create_graph);
        r->id = ++run_counter;
        take_list((void **)&r->nodes, &r->cap_nodes, &kept[0]);
        take_list((void **)&r->hints, &r->cap_hints, &kept[1]);
        take_list((void **)&r->heap, &r->cap_heap, &kept[2]);
        run *outer = current;
        current = r;
        rc = execute(r, roots, grads, n, edges);
        finish(r);
        current = outer;
        cg_set_grad_enabled(grad_mode);
        pthread_mutex_unlock(&engine_mutex);
    }
    for (int i = 0; i < n; i++) cg_node_release(edges[i].node);
    if (edges != small) free(edges);
    return rc;
}

int64_t cg_current_run_id(void) { return current ? (int64_t)current->id : -1; }

int cg_node_will_execute(const cg_node *n) {
    return current && n->run == current->id && (n->exec_needed || n->captured);
}

/* A copy of g into a new tensor laid out as t's gradient must be (recorded
 * as CopyBackwards when building a graph, as PyTorch makes the first .grad). */
static cg_tensor *copy_of(const cg_tensor *t, cg_tensor *g) {
    int64_t strides[CG_MAX_DIMS];
    cg_grad_strides(t, strides);
    cg_tensor *c = cg_empty_strided(g->shape, strides, g->ndim, (cg_dtype)g->dtype);
    if (!c) return NULL;
    cg_tensor *r = cg_copy_(c, g);
    cg_tensor_release(c);
    return r;
}

/* Adds g into t->grad as AccumulateGrad does: steal or copy the first
 * gradient, add in place afterwards -- out of place when building a graph,
 * so the graph of the first gradient stays intact. The first gradient is
 * never stored as is when it may be shared (one gradient reaching several
 * leaves): a later in-place add would change them all. */
int cg_accumulate_grad(cg_tensor *t, cg_tensor *g) {
    if (CG_RECORDING()) cg_tape_note_grad(t);
    cg_tensor *old = t->grad;
    cg_tensor *next;
    if (!cg_is_grad_enabled()) {
        if (old) return cg_add_into(old, g);
        int64_t strides[CG_MAX_DIMS];
        cg_grad_strides(t, strides);
        if (cg_is_unique(g) && !g->grad_fn && cg_has_strides(g, strides) && g->dtype == t->dtype) {
            cg_tensor_retain(g);
            next = g;
        } else {
            next = copy_of(t, g);
        }
    } else {
        next = old ? cg_add(old, g) : copy_of(t, g);
    }
    if (!next) return -1;
    if (CG_RECORDING()) cg_tape_set_grad(t, next);
    t->grad = next;
    cg_tensor_release(old);
    return 0;
}

static int accumulate_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)gin;
    if (cg_accumulate_grad(n->variable, gout[0])) return -1;
    return cg_run_post_accumulate_hooks(n->variable);
}

const cg_op cg_accumulate_grad_op = {"AccumulateGrad", accumulate_backward, NULL};

int cg_backward(cg_tensor *const *roots, cg_tensor *const *grads, int n,
                int retain_graph, int create_graph) {
    run r = {0};
    r.mode = ACCUMULATE_ALL;
    r.retain_graph = retain_graph;
    return run_engine(&r, roots, grads, n, create_graph);
}

static int capture_run(run *r, cg_tensor *const *roots, cg_tensor *const *grads, int n,
                       cg_tensor *const *inputs, int n_inputs, int create_graph) {
    r->mode = CAPTURE;
    r->n_targets = n_inputs;
    r->targets = calloc((size_t)n_inputs, sizeof(cg_edge));
    r->captured = calloc((size_t)n_inputs, sizeof(cg_tensor *));
    int rc = 0;
    if (!r->targets || !r->captured) {
        cg_oom((int64_t)n_inputs * 16);
        rc = -1;
    }
    for (int j = 0; j < n_inputs && rc == 0; j++) {
        if (!inputs[j]->requires_grad) {
            cg_error_set(CG_ERR_RUNTIME, "One of the differentiated Tensors does not require grad");
            rc = -1;
            break;
        }
        r->targets[j] = cg_gradient_edge(inputs[j]);
        if (!r->targets[j].node) rc = -1;
    }
    if (rc == 0) rc = run_engine(r, roots, grads, n, create_graph);
    for (int j = 0; j < n_inputs && r->targets; j++) cg_node_release(r->targets[j].node);
    free(r->targets);
    return rc;
}

int cg_grad(cg_tensor *const *roots, cg_tensor *const *grads, int n,
            cg_tensor *const *inputs, int n_inputs, int retain_graph, int create_graph,
            int allow_unused, cg_tensor **out) {
    run r = {0};
    r.retain_graph = retain_graph;
    int rc = capture_run(&r, roots, grads, n, inputs, n_inputs, create_graph);
    for (int j = 0; j < n_inputs; j++) {
        out[j] = rc == 0 && r.captured ? r.captured[j] : NULL;
        if (rc != 0 && r.captured) cg_tensor_release(r.captured[j]);
        if (rc == 0 && !out[j] && !allow_unused) {
            cg_error_set(CG_ERR_RUNTIME,
                         "The differentiated Tensor at index %d appears to not have been used in the graph. "
                         "Set allow_unused=True if this is the desired behavior.", j);
            rc = -1;
        }
    }
    if (rc != 0)
        for (int j = 0; j < n_inputs; j++) {
            cg_tensor_release(out[j]);
            out[j] = NULL;
        }
    free(r.captured);
    return rc;
}

int cg_backward_inputs(cg_tensor *const *roots, cg_tensor *const *grads, int n,
                       int retain_graph, int create_graph,
                       cg_tensor *const *inputs, int n_inputs) {
    if (n_inputs <= 0) return cg_backward(roots, grads, n, retain_graph, create_graph);
    run r = {0};
    r.retain_graph = retain_graph;
    int rc = capture_run(&r, roots, grads, n, inputs, n_inputs, create_graph);
    int grad_mode = cg_is_grad_enabled();
    cg_set_grad_enabled(create_graph);
    for (int j = 0; j < n_inputs && r.captured; j++) {
        if (rc == 0 && r.captured[j]) rc = cg_accumulate_grad(inputs[j], r.captured[j]);
        if (rc == 0 && r.captured[j] && !inputs[j]->grad_fn) rc = cg_run_post_accumulate_hooks(inputs[j]);
        cg_tensor_release(r.captured[j]);
    }
    cg_set_grad_enabled(grad_mode);
    free(r.captured);
    return rc;
}
