/*
 * internal.h -- what the C files of cgrad share and nobody else sees.
 *
 * Vocabulary (as in cgrad.h): a Node is one applied operation; an Edge is a
 * (node, input_nr) pair naming which output of that node a value came from;
 * gradients arriving at the same edge are summed.
 *
 * Note [Saved tensors]
 *   A node saves an *input* by holding the tensor itself (its history is what
 *   a second-order gradient must flow through). It saves an *output* as a
 *   history-free alias of the data, so output -> grad_fn -> saved -> output is
 *   never a cycle; unpacking it with grad mode on re-attaches the node as the
 *   alias's grad_fn. Both record the storage version at save time and compare
 *   it when unpacked.
 *
 *   An output whose layout is input 0's (contiguous, same shape and dtype:
 *   tanh, exp, sigmoid...) is kept *bare*, as its storage alone; unpacking
 *   makes the alias then. Two thirds of a scalar chain's ops save their
 *   output, and a header is 256 bytes that a big graph's walks would miss on.
 *
 * Note [A node's cold tail]
 *   A node is 472 bytes; an element-wise op reads its head, its saved
 *   tensors and one or two dims of in_shape. A new node is zeroed up to
 *   in_shape only (232 bytes); in_shape gets each recorded input's ndim
 *   and dims, i[] is zeroed unless the op says it never reads it, and f[]
 *   is written by the ops that read it. in_shape starts where the ndim and
 *   first dim of both inputs fall in the fourth and fifth lines: a 1-d op
 *   writes five lines, not six. What a big graph's forward writes is what
 *   its backward and release must bring back into cache.
 *
 * Note [Engine state lives in the node]
 *   The dependency count and input buffer of a node during a backward pass are
 *   fields of the node, not entries of a hash map: the engine is the only
 *   writer, and runs hold one process-wide recursive lock (the GIL is not held
 *   during backward, so this lock is what keeps two threads from sharing a
 *   node's scratch). A run started inside another (a hook calling backward
 *   on the same graph) keeps the outer run's scratch of the nodes it shares
 *   and puts it back when it ends (Note [A run inside a run] in engine.c).
 */
#ifndef CGRAD_INTERNAL_H
#define CGRAD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* A loop built for AVX-512, for AVX2 and for the baseline, the CPU choosing
 * at load time. Only for loops whose every result is computed the same way
 * at any vector width (no reductions, no FMA: a file using it says
 * CG_NO_FP_CONTRACT, as the AVX-512 build could fuse): the results stay the
 * same. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* Turns off the fusing of a product and a sum into one rounding for the
 * rest of a file, whatever the build's flags: the file's loops must round
 * alike at every vector width (VECTOR_CLONES, FMA_CLONES). */
#if defined(__clang__)
#define CG_NO_FP_CONTRACT _Pragma("STDC FP_CONTRACT OFF")
#elif defined(__GNUC__)
#define CG_NO_FP_CONTRACT _Pragma("GCC optimize(\"fp-contract=off\")")
#else
#define CG_NO_FP_CONTRACT
#endif

/* int64 arithmetic that wraps on overflow, as PyTorch's does: in uint64_t,
 * where C defines the wrap */
static inline int64_t cg_wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t cg_wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

/* A loop built for AVX-512, for AVX2 with FMA and for the baseline. Every
 * multiply-add in it must be an explicit fma, rounded once on every CPU,
 * and no other product may be fused (CG_NO_FP_CONTRACT in the file): the
 * results are then the same bits on all three. The cost falls on CPUs
 * older than x86-64-v3 (before 2013), whose baseline build calls libm's
 * fma for each and does not vectorise: several times slower there.
 * CG_ONE_BUILD builds one width alone (tests/test_vmath.py). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(CG_ONE_BUILD)
#define FMA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FMA_CLONES
#endif

/* Note [Plain counts while calls are serialized]
 * Reference counts, storage versions and sequence numbers change by atomic
 * read-modify-writes, so that any thread may hold any object. Each is a
 * locked instruction of about 20 cycles, and a scalar op changes a dozen
 * counts: a sixth of its forward. A binding whose calls into the library
 * are serialized by a lock of its own (Python's GIL) says so
 * (cg_set_serialized), and brackets each call it makes without that lock
 * (cg_unserialized_begin/end). While none runs, no two threads can change
 * a count at once, and plain increments do. The mode changes only under
 * the binding's lock with no unserialized call running, and taking that
 * lock orders memory: a count is never changed both ways at once. */
extern int cg_plain_counts;
#define CG_RMW(p, op, atomic) (CG_LIKELY(cg_plain_counts) ? (*(p) op 1) : (atomic))
#define CG_INC(p) CG_RMW(p, +=, __atomic_add_fetch((p), 1, __ATOMIC_RELAXED))
#define CG_DEC(p) CG_RMW(p, -=, __atomic_sub_fetch((p), 1, __ATOMIC_ACQ_REL))
#define CG_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define CG_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CG_LIKELY(x) __builtin_expect(!!(x), 1)

/* ---- per-thread state and object pools (alloc.c) ------------------------ */
typedef struct cg_pool {
    void *head; /* free objects, linked through their first word */
    int64_t count;
} cg_pool;

#define CG_SCALAR_CACHE 4
typedef struct cg_scalar_entry {
    double value;
    uint8_t kind, like_dtype;
    cg_tensor *t; /* owned */
} cg_scalar_entry;

typedef struct cg_reap_stack { /* see cg_reap_push */
    uintptr_t *items;
    size_t n, cap;
    bool draining;
} cg_reap_stack;

/* How far back in creation order a node's hint points (Note [Prefetching a
 * big graph] in engine.c) */
#define CG_NODE_HINT 16
typedef struct cg_pack_item { /* a save waiting for the pack hook (Note [Saved-tensor hooks]) */
    cg_node *node; /* owned */
    int slot;
} cg_pack_item;

typedef struct cg_tstate {
    int grad_disabled; /* zero-initialised: grad mode on */
    cg_pool tensors, storages, nodes;
    cg_scalar_entry scalars[CG_SCALAR_CACHE];
    unsigned next_scalar;
    cg_reap_stack reap;
    cg_node *running; /* the node whose backward this thread runs (anomaly mode) */
    const cg_node *made[CG_NODE_HINT]; /* the last nodes made, a ring (not owned) */
    unsigned n_made;
    cg_tape *tape;    /* the step this thread records (compile.c), or NULL */
    bool pack_hooks;  /* saved-tensor hooks are on: saves are queued for them (graph.c) */
    struct { struct cg_pack_item *items; size_t head, n, cap; bool busy; } to_pack;
} cg_tstate;
extern __thread cg_tstate cg_ts __attribute__((tls_model("initial-exec")));

void *cg_pool_refill(cg_pool *p, size_t size); /* a slab's first object, the rest pooled */
/* Tensor data: 64-byte aligned; large buffers are cached for reuse. */
void *cg_data_alloc(int64_t nbytes);
void cg_data_free(void *p, int64_t nbytes);

/* Starts loading the cache lines of [p, p + bytes), for writing. */
static inline void cg_prefetch(const void *p, size_t bytes) {
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch((const char *)p + off, 1, 3);
}

/* Starts loading what an op reads of an input past its header: its storage
 * (where a tiny tensor's data is) and the node its gradient will flow to. In
 * a big graph an earlier result is far out of cache, and the node's count is
 * raised by a locked add, which waits for the line with nothing overlapping. */
static inline void cg_prefetch_input(const cg_tensor *t) {
    __builtin_prefetch(t->storage, 1, 3);
    const cg_node *g = t->grad_fn ? t->grad_fn : t->grad_acc;
    if (g) __builtin_prefetch(g, 1, 3);
}

/* Pops an object and starts loading the first `hot` bytes of the next one:
 * the next op of a big graph wants it in about a microsecond, and a pool's
 * free objects are rarely in cache any more (a graph's worth of them was
 * freed since). Lines an object's usual life never touches stay unloaded. */
static inline void *cg_pool_get(cg_pool *p, size_t size, size_t hot) {
    void *obj = p->head;
    if (CG_LIKELY(obj != NULL)) {
        char *next = *(char **)obj;
        p->head = next;
        p->count--;
        if (next) cg_prefetch(next, hot);
        return obj;
    }
    return cg_pool_refill(p, size);
}

/* Zeroes the first n bytes (a multiple of 16) of a pool object with plain
 * vector stores: compilers make `rep stos` of a memset a few lines long,
 * which takes longer to start than to write them. */
static inline void cg_zero_object(void *obj, size_t n) {
#if defined(__SSE2__)
    for (size_t off = 0; off < n; off += 16) {
        _mm_storeu_si128((__m128i *)((char *)obj + off), _mm_setzero_si128());
        __asm__("" ::: "memory"); /* or the loop becomes a memset again */
    }
#else
    memset(obj, 0, n);
#endif
}

static inline void cg_pool_put(cg_pool *p, void *obj) {
    *(void **)obj = p->head;
    p->head = obj;
    p->count++;
}

/* ---- errors (error.c) --------------------------------------------------- */
/* Sets a "could not allocate" error and returns NULL. */
void *cg_oom(int64_t nbytes);
/* "[3, 4]" into buf. */
const char *cg_shape_str(const int64_t *shape, int ndim, char *buf, size_t size);
/* "torch.FloatTensor"-style name PyTorch uses in messages. */
const char *cg_dtype_tensor_name(cg_dtype dtype);
const char *cg_dtype_torch_name(cg_dtype dtype); /* "Float", "Double", "Long", "Bool" */
const char *cg_dtype_c_name(cg_dtype dtype); /* "float", "double", "long int", "bool": C++'s, as some messages */

/* ---- tensors (tensor.c) ------------------------------------------------- */
cg_storage *cg_storage_new(int64_t nbytes);
/* cg_empty for a shape known to be valid (taken from existing tensors). */
cg_tensor *cg_new_tensor(const int64_t *shape, int ndim, cg_dtype dtype);
/* The strides of a new .grad for leaf t (PyTorch's gradient layout contract: t's own when t is
 * dense but not row-major, else row-major), and whether t has those strides (memory_format.c). */
void cg_grad_strides(const cg_tensor *t, int64_t *strides);
int cg_has_strides(const cg_tensor *t, const int64_t *strides);
/* A tensor header over `s` (retained) with the given layout; no autograd. */
cg_tensor *cg_tensor_make(cg_storage *s, cg_dtype dtype, const int64_t *shape,
                          const int64_t *strides, int ndim, int64_t offset);
/* A view of a: same storage, new layout. base recorded for version sharing. */
cg_tensor *cg_alias(cg_tensor *a, const int64_t *shape, const int64_t *strides,
                    int ndim, int64_t offset);
void cg_contiguous_strides(const int64_t *shape, int ndim, int64_t *strides);
int64_t cg_shape_numel(const int64_t *shape, int ndim);
int cg_check_shape(const int64_t *shape, int ndim);
bool cg_same_shape(const cg_tensor *a, const cg_tensor *b);
bool cg_shape_eq(const int64_t *s1, int n1, const int64_t *s2, int n2);
int cg_wrap_dim(int64_t dim, int ndim, int64_t *out);
/* The dtype two dtypes promote to (bool < int64 < float32 < float64). */
cg_dtype cg_promote_types(cg_dtype a, cg_dtype b);
/* Broadcast shape of a and b into out; -1 + error if incompatible. */
int cg_broadcast_shapes(const int64_t *sa, int na, const int64_t *sb, int nb,
                        int64_t *out, int *nout);
/* Strides of t seen with shape `shape` (broadcast: 0 where t's size is 1). */
void cg_broadcast_strides(const cg_tensor *t, const int64_t *shape, int ndim, int64_t *out);
/* Bytes per element of a valid dtype, inline for the hot paths (cg_dtype_size
 * checks its argument). */
static inline int64_t cg_elem_size(cg_dtype dtype) {
    return dtype == CG_FLOAT32 ? 4 : dtype == CG_BOOL ? 1 : 8;
}
static inline char *cg_ptr(const cg_tensor *t) {
    return (char *)t->storage->data + t->offset * cg_elem_size((cg_dtype)t->dtype);
}
/* Note [A saved tensor's storage]
 * What a saved tensor expects of its storage's version at unpack: the version, with a tag of the
 * storage in the bits above CG_VERSION_BITS. Tensor.set_ moves a tensor to another storage,
 * whose count may happen to be the one saved; the tag makes that a mismatch, as PyTorch's
 * per-tensor counter makes it. */
#define CG_VERSION_BITS 44
/* How many times a storage's bytes moved (share_memory_): recorded steps check it before replaying. */
extern uint64_t cg_storage_moves;
static inline uint64_t cg_saved_version(const cg_storage *s) {
    uint64_t tag = ((uint64_t)(uintptr_t)s >> 4) * 0x9E3779B97F4A7C15ull;
    return s->version ^ (tag & ~((UINT64_C(1) << CG_VERSION_BITS) - 1));
}
static inline void cg_bump_version(cg_tensor *t) {
    CG_INC(&t->storage->version);
}
/* A tensor is uniquely ours: nobody else can observe writing into it. */
static inline bool cg_is_unique(const cg_tensor *t) {
    return CG_LOAD(&t->refcount) == 1 && CG_LOAD(&t->storage->refcount) == 1 &&
           t->pyobj == NULL && t->base == NULL;
}
/* Element-wise copy with cast and broadcast of src into dst (no autograd). */
int cg_copy_data(cg_tensor *dst, const cg_tensor *src);
/* Cast without autograd (a new tensor, or a ref to a itself if same dtype). */
cg_tensor *cg_cast_raw(cg_tensor *a, cg_dtype dtype);

/* ---- deferred release (tensor.c) ---------------------------------------- */
/* Objects whose count hit zero go on a per-thread worklist that one loop
 * drains, so freeing a chain of 10^7 nodes uses constant C stack. */
void cg_reap_push(void *obj, int is_node);
/* Makes *arr (of *cap elements of elem bytes) hold at least need, doubling;
 * -1 with an out-of-memory error if it cannot. The check is inline: the
 * engine asks three times a node, and a call cost more than the check. */
int cg_grow_slow(void **arr, size_t *cap, size_t need, size_t elem);
static inline int cg_grow(void **arr, size_t *cap, size_t need, size_t elem) {
    return CG_LIKELY(need <= *cap) ? 0 : cg_grow_slow(arr, cap, need, elem);
}
void cg_at_thread_exit(void); /* frees this thread's state when it exits (alloc.c) */

/* ---- graph (graph.c) ---------------------------------------------------- */
enum { CG_HOOK_TENSOR, CG_HOOK_NODE_PRE, CG_HOOK_NODE_POST, CG_HOOK_POST_ACCUMULATE };

struct cg_hook {
    struct cg_hook *next;
    int64_t refcount; /* the list, the registrant's handle, each engine call in flight */
    int64_t users;    /* the list and each engine call in flight: ctx lives while > 0 */
    int64_t id;
    struct cg_hook **owner; /* the list it is linked in; NULL once unlinked (graph lock) */
    uint32_t output_nr;
    uint8_t kind;           /* CG_HOOK_*: a tensor's gradient hook, or a node's */
    uint8_t removed;
    cg_hook_fn fn;          /* CG_HOOK_TENSOR */
    cg_node_hook_fn node_fn; /* CG_HOOK_NODE_PRE / CG_HOOK_NODE_POST */
    void *ctx;
    cg_hook_release release;
};

typedef struct cg_retain {
    struct cg_retain *next;
    cg_tensor *tensor; /* weak: unlinked under the graph lock before it dies */
} cg_retain;

typedef struct cg_edge {
    cg_node *node; /* owned; NULL: the input needs no gradient */
    uint32_t input_nr;
} cg_edge;

typedef struct cg_saved {
    union {
        cg_tensor *data;     /* see Note [Saved tensors]; NULL: nothing saved */
        cg_storage *storage; /* when bare */
        struct cg_packed *pk; /* when packed (Note [Saved-tensor hooks] in graph.c) */
    };
    uint64_t version;
    uint8_t is_output;
    uint8_t bare; /* an output kept as its storage alone, laid out as input 0 */
    uint8_t packed; /* handed to a pack hook: data is what it returned */
    uint32_t output_nr;
} cg_saved;

typedef struct cg_shape {
    int32_t ndim;
    int64_t d[CG_MAX_DIMS];
} cg_shape;

/* Turns the gradients of a node's outputs (gout[k], NULL when none arrived)
 * into gradients of its inputs (gin[i], new references, NULL for none). */
typedef int (*cg_backward_fn)(cg_node *n, cg_tensor **gout, cg_tensor **gin);

typedef struct cg_op {
    const char *name;
    cg_backward_fn backward;
    void (*free_extra)(void *extra); /* NULL: nothing to free */
    void (*release_saved)(cg_node *n); /* NULL: saved tensors live in n->saved only */
    bool no_ints; /* never reads n->i[]: cg_node_new leaves it unset (Note [A node's cold tail]) */
    /* The backward of a one-element float32 or float64 output on plain
     * numbers, for the engine's scalar path (Note [Scalar gradients] in
     * engine.c): g and gin[i] hold floats, computed in float, when f32.
     * Sets gin[i] for each input cg_wants, with the bits `backward` gives.
     * False when a value it reads is not one element of g's dtype unchanged
     * since it was saved: `backward` then runs, and raises what must be
     * raised. NULL: none. */
    bool (*backward_scalar)(const cg_node *n, bool f32, double g, double *gin);
} cg_op;

#define CG_NODE_SAVED 3
#define CG_NODE_INLINE_EDGES 2
#define CG_NODE_INLINE_META 2

struct cg_node {
    /* What the engine and the release loop touch first, in the first two
     * cache lines: a big graph is far out of cache when backward walks it. */
    int64_t refcount; /* atomic */
    const cg_op *op;
    uint64_t seq; /* creation order: a node's next nodes are always older */
    int32_t n_next;
    uint32_t n_outputs;
    cg_edge *next;
    /* engine scratch, see Note [Engine state lives in the node] */
    uint64_t run;
    int32_t deps;    /* edges into it not yet run; fewer than the edges that fit in memory */
    int32_t wrapped; /* outputs with a wrapper (pyobj), each holding this node; atomic */
    uint32_t need_mask; /* bit i: gradient of input i is wanted in this run */
    uint8_t exec_needed, captured;
    uint8_t released; /* saved tensors freed by a backward without retain_graph */
    uint8_t has_saved; /* 2: and a slot of n->saved is packed */
    uint8_t in_dtype[CG_NODE_INLINE_META]; /* dtype of inputs 0 and 1 */
    uint8_t in_meta; /* bit i: in_dtype[i] and in_shape[i] were recorded */
    uint8_t gscalar; /* engine scratch: buf1's place holds gval (Note [Gradients as numbers]) */
    uint32_t claimed_at; /* engine scratch: its place in the run's claimed list */
    union {
        cg_tensor *buf1;  /* input buffer when n_outputs == 1 */
        double gval;      /* the same, as a number, when gscalar says so */
        cg_tensor **bufs; /* input buffers when n_outputs > 1 */
        /* between runs, a node likely wanted soon after this one: the one made
         * CG_NODE_HINT before it until its first run, the release's guess
         * after (Notes [Prefetching a big graph], [Releasing a run's graph]) */
        const cg_node *hint;
    };
    cg_edge inline_next[CG_NODE_INLINE_EDGES];
    void *user;          /* the binding's wrapper, if any (borrowed) */
    void *extra;     /* op data freed by op->free_extra */
    cg_tensor *variable; /* AccumulateGrad: the leaf (owned) */
    cg_hook *pre_hooks;  /* gradient hooks of this node's outputs */
    cg_retain *retains;  /* non-leaf outputs keeping their .grad */
    void *anomaly;       /* where the op was created, when anomaly mode is on */
    cg_saved saved[CG_NODE_SAVED];
    /* the cold tail, see Note [A node's cold tail] */
    cg_shape in_shape[CG_NODE_INLINE_META]; /* shape of inputs 0 and 1 (ndim 0 if none) */
    double f[2]; /* op scalars (exponents, ...): set by the ops that read them */
    int64_t i[CG_MAX_DIMS + 2]; /* op integers (dims, ...); zero unless op->no_ints */
};

/* what a tensor's release reads is in its first line (cgrad.h) */
_Static_assert(offsetof(cg_tensor, grad) + sizeof(cg_tensor *) <= 64, "a release would read two lines");
/* Note [A node's cold tail]: a 1-d op's node spans five cache lines */
_Static_assert(offsetof(cg_node, in_shape[1].d[1]) <= 5 * 64, "in_shape moved out of the hot lines");
_Static_assert(offsetof(cg_node, buf1) == 72, "a node's head grew");

extern const cg_op cg_accumulate_grad_op;

/* Lock for hook lists, retains lists and leaves' grad_acc pointers. Held only
 * briefly, never while calling out or waiting for anything else. */
/* A custom Function node's saved tensors (*saved, the count returned) and
 * ctx with its release; -1 for any other node. */
int cg_function_refs(const cg_node *n, cg_saved **saved, void **ctx, cg_ctx_release *release);
/* Hooks and custom Function nodes alive: what a ctx may belong to. */
extern int64_t cg_live_callbacks;
/* t->grad_fn = n, returning the old one (the caller's to release, after:
 * releasing can run a callback that looks at t). Keeps the nodes' counts
 * of wrapped outputs. */
static inline cg_node *cg_swap_grad_fn(cg_tensor *t, cg_node *n) {
    cg_node *old = t->grad_fn;
    if (t->pyobj && old != n) {
        if (old) CG_DEC(&old->wrapped);
        if (n) CG_INC(&n->wrapped);
    }
    t->grad_fn = n;
    return old;
}

void cg_graph_lock(void);
void cg_graph_unlock(void);

/* True when grad mode is on and some input requires grad. */
bool cg_any_requires_grad(cg_tensor *const *inputs, int n);
/* A node for `op` with one edge per input (the input's gradient edge) and
 * n_outputs outputs. Records the shapes and dtypes of the first two inputs. */
cg_node *cg_node_new(const cg_op *op, cg_tensor *const *inputs, int n, uint32_t n_outputs);
/* Makes out the output_nr-th result of n: out->grad_fn = n (retained). */
void cg_set_history(cg_tensor *out, cg_node *n, uint32_t output_nr);
/* The edge a gradient for t must flow into (node retained; NULL node if none). */
cg_edge cg_gradient_edge(cg_tensor *t);
/* The leaf's AccumulateGrad node (new reference), created on first use. */
cg_node *cg_grad_accumulator(cg_tensor *leaf);

static inline bool cg_wants(const cg_node *n, int i) {
    return n->next[i].node != NULL && (i >= 32 || ((n->need_mask >> i) & 1u));
}
/* Saved slot `slot` as one float (f32) or double in *out, when it holds one
 * element of that dtype unchanged since it was saved (a wrapped Python number
 * has its tensor's dtype); false otherwise, out untouched. For the scalar
 * backward formulas, inline on their hot path. */
static inline bool cg_saved_scalar(const cg_node *n, int slot, bool f32, void *out) {
    const cg_saved *s = &n->saved[slot];
    if (!s->data || s->packed) return false;
    cg_dtype want = f32 ? CG_FLOAT32 : CG_FLOAT64;
    const void *p;
    if (s->bare) { /* laid out as input 0 */
        if (cg_saved_version(s->storage) != s->version || n->in_dtype[0] != want ||
            cg_shape_numel(n->in_shape[0].d, n->in_shape[0].ndim) != 1)
            return false;
        p = s->storage->data;
    } else {
        const cg_tensor *t = s->data;
        if (cg_saved_version(t->storage) != s->version || t->dtype != want || t->numel != 1) return false;
        p = cg_ptr(t);
    }
    memcpy(out, p, f32 ? sizeof(float) : sizeof(double));
    return true;
}
/* Saves t in slot (see Note [Saved tensors]). */
int cg_save(cg_node *n, int slot, cg_tensor *t, bool is_output);
/* The saved tensor of slot, new reference; errors if freed or modified. */
cg_tensor *cg_unpack(cg_node *n, int slot);
/* What saved slot `slot` holds as an operand of an element-wise kernel beside
 * g, checked as cg_unpack checks it, without making a tensor: its data and the
 * stride (in elements) that lays it out as g, 1 when it has g's shape and is
 * contiguous, 0 when it is one element of no more dimensions than g. Both
 * need g's dtype. 1 when so, 0 when not (unpack it instead), -1 on error. */
int cg_saved_operand(cg_node *n, int slot, const cg_tensor *g, char **data, int64_t *stride);
/* The same for a saved tensor kept outside n->saved (custom Functions). */
int cg_save_into(cg_node *n, cg_saved *s, cg_tensor *t, bool is_output);
cg_tensor *cg_unpack_from(cg_node *n, cg_saved *s);
/* A history-free alias of what s holds, with no version check (new
 * reference); NULL if nothing is saved. */
cg_tensor *cg_saved_peek(const cg_node *n, const cg_saved *s);
void cg_node_release_saved(cg_node *n);
/* I_nu(x) for nu = 0 or 1 (kernels_math.c): its power series, for x up to
 * 25; and past that e^-x sqrt(2 pi x) I_nu(x) by the asymptotic sum of the
 * c_k = c_(k-1) ((2k - 1)^2 - 4 nu^2) / (8 k x), cut where they stop shrinking. */
long double cg_bessel_i_series(int nu, long double x);
long double cg_bessel_i_asymptotic(int nu, long double x);
/* Drops what s holds. */
void cg_saved_clear(cg_saved *s);
/* n's backward with its packed slots unpacked (n->has_saved == 2: Note
 * [Saved-tensor hooks] in graph.c). */
int cg_backward_unpacked(cg_node *n, cg_tensor **gout, cg_tensor **gin);
/* g (stolen) summed back to input i's shape and cast to its dtype. */
cg_tensor *cg_reduce_grad(cg_node *n, int i, cg_tensor *g);
/* Gives out, made from a, a node of op with ints[0..k) in its i[]; out is
 * NULL, released, when that fails. Returns out as it is when nothing records. */
cg_tensor *cg_node_with_ints(const cg_op *op, cg_tensor *out, cg_tensor *a, const int64_t *ints, int k);

/* Drops one reference to a hook (its release callback runs with the last). */
void cg_hook_put(cg_hook *h);
/* Runs the hooks of output k of n on *g (owned, may be replaced). */
int cg_run_hooks(cg_node *n, uint32_t output_nr, cg_tensor **g);
/* Runs a leaf's post-accumulate-grad hooks, after its .grad was updated. */
int cg_run_post_accumulate_hooks(cg_tensor *t);
/* Runs n's node hooks of one kind (CG_HOOK_NODE_PRE / _POST) on grads. */
int cg_run_node_hooks(cg_node *n, int kind, cg_tensor **grads, int n_grads, cg_tensor **other, int n_other);
/* Updates .grad of the non-leaf tensors that retain output k of n. */
int cg_run_retains(cg_node *n, uint32_t output_nr, cg_tensor *g);
void cg_tensor_forget_retain(cg_tensor *t);
void cg_tensor_free_hooks(cg_tensor *t);

/* ---- anomaly mode (custom.c) ---------------------------------------------- */
/* Records where n is being created, when anomaly mode is on. */
void cg_anomaly_record(cg_node *n);
/* Releases n->anomaly. */
void cg_anomaly_forget(cg_node *n);
/* The node this thread's engine is running (its record becomes the parent of
 * nodes a create_graph backward makes); returns the previous one. */
cg_node *cg_anomaly_enter(cg_node *n);
/* After a node's backward: the NaN check, and the report of a failure. */
int cg_anomaly_check(cg_node *n, cg_tensor *const *gin, int rc);

/* ---- element-wise machinery (iter.c) ------------------------------------ */
/* A 1-D inner loop: n elements, data[k] and strides[k] (in elements) per
 * operand, operand 0 the output. */
typedef void (*cg_loop)(int64_t n, char **data, const int64_t *strides);

#define CG_ITER_MAX_OPS 4
typedef struct cg_iter {
    int ndim; /* after coalescing; innermost last */
    int nops;
    int64_t shape[CG_MAX_DIMS];
    char *data[CG_ITER_MAX_OPS];
    int64_t itemsize[CG_ITER_MAX_OPS];
    int64_t strides[CG_ITER_MAX_OPS][CG_MAX_DIMS];
} cg_iter;

/* Iterates ops[0..nops) over `shape` (ops broadcast to it). */
void cg_iter_init(cg_iter *it, cg_tensor *const *ops, int nops, const int64_t *shape, int ndim);
void cg_iter_run(const cg_iter *it, cg_loop loop);
/* Runs loop over out = f(ins...), choosing the 1-element, contiguous or
 * strided path. All operands already have the loop's dtype. */
void cg_run_loop(cg_loop loop, cg_tensor *out, cg_tensor *const *ins, int nin);
/* cg_run_loop in two halves: the path and pointers it takes (valid while the
 * operands keep their storage and layout), then the loop over them. */
typedef struct cg_loop_plan {
    int64_t n; /* elements; 0: nothing to do */
    bool flat; /* one call over data/strides; else over it */
    char *data[CG_ITER_MAX_OPS];
    int64_t strides[CG_ITER_MAX_OPS];
    cg_iter it;
} cg_loop_plan;
void cg_loop_plan_init(cg_loop_plan *p, cg_tensor *out, cg_tensor *const *ins, int nin);
void cg_loop_plan_run(const cg_loop_plan *p, cg_loop loop);
/* cg_iter_run of loop over ops[0..nops) seen with the shape of ops[shape_op]
 * (ops[0] written), recorded while a step is. */
void cg_run_iter(cg_loop loop, cg_tensor *const *ops, int nops, int shape_op);

/* ---- kernels (kernels.c) ------------------------------------------------- */
/* The least of ((x[i] & 0x7fffffff) + add) ^ flip over the bits of a
 * float32 run x[0..n), as unsigned. With add = UINT32_MAX and flip = 0: the
 * least nonzero magnitude's bits less one (a zero wraps above them all);
 * with add = 0 and flip = 0x7fffffff: that less the greatest magnitude's.
 * 64 lanes, four vectors of minima none of which waits on another. */
static inline uint32_t cg_least_bits(const uint32_t *x, int64_t n, uint32_t add, uint32_t flip) {
    uint32_t least = UINT32_MAX, lanes[64];
    int64_t i = 0;
    if (n >= 64) {
        for (int l = 0; l < 64; l++) lanes[l] = UINT32_MAX;
        for (; i + 64 <= n; i += 64)
            for (int l = 0; l < 64; l++) {
                uint32_t v = ((x[i + l] & 0x7fffffffu) + add) ^ flip;
                lanes[l] = v < lanes[l] ? v : lanes[l];
            }
        for (int l = 0; l < 64; l++) least = lanes[l] < least ? lanes[l] : least;
    }
    for (; i < n; i++) {
        uint32_t v = ((x[i] & 0x7fffffffu) + add) ^ flip;
        least = v < least ? v : least;
    }
    return least;
}

/* The derivatives of tanh, sigmoid and relu from the gradient g and the
 * output y, spelled once for the loops and the engine's scalar path. A file
 * using them says CG_NO_FP_CONTRACT, so they round alike everywhere. The
 * float32 loops of tanh's and sigmoid's take each product through float64,
 * to the same bits (kernels.c). */
#define CG_TANH_BWD(g, y) ((g) * (1 - (y) * (y)))
#define CG_SIGMOID_BWD(g, y) ((g) * (1 - (y)) * (y))
#define CG_RELU_BWD(g, y) ((y) <= 0 ? 0 : (g)) /* PyTorch's threshold_backward: a NaN passes g */
typedef enum cg_binop {
    CG_BIN_ADD,
    CG_BIN_SUB,
    CG_BIN_MUL,
    CG_BIN_DIV,
    CG_BIN_POW,
    CG_BIN_TANH_BWD,    /* CG_TANH_BWD */
    CG_BIN_SIGMOID_BWD, /* CG_SIGMOID_BWD */
    CG_BIN_RELU_BWD,    /* CG_RELU_BWD */
    CG_BIN_ADD_TWICE,   /* (a, b) -> (a + b) + b: one gradient arriving twice */
    CG_NUM_BINOPS
} cg_binop;

typedef enum cg_unop {
    CG_UN_NEG,
    CG_UN_EXP,
    CG_UN_LOG,
    CG_UN_TANH,
    CG_UN_SIGMOID,
    CG_UN_RELU,
    CG_UN_SQUARE,
    CG_UN_CUBE,
    CG_UN_SQRT,
    CG_UN_RSQRT,
    CG_UN_RECIPROCAL,
    CG_UN_COPY,
    CG_NUM_UNOPS
} cg_unop;

/* Vectorised exp, log, tanh and sigmoid over strided arrays (vmath.c). */
void cg_vexp_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void cg_vlog_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void cg_vtanh_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void cg_vsigmoid_f32(int64_t n, const float *x, int64_t sx, float *y, int64_t sy);
void cg_vexp_f64(int64_t n, const double *x, int64_t sx, double *y, int64_t sy);
void cg_vlog_f64(int64_t n, const double *x, int64_t sx, double *y, int64_t sy);
void cg_vtanh_f64(int64_t n, const double *x, int64_t sx, double *y, int64_t sy);
void cg_vsigmoid_f64(int64_t n, const double *x, int64_t sx, double *y, int64_t sy);

/* The inner loop of op for dtype, or NULL (with an error set) if none. */
cg_loop cg_binary_loop(cg_binop op, cg_dtype dtype);
cg_loop cg_unary_loop(cg_unop op, cg_dtype dtype);
/* dst = (dst dtype) src, element-wise. */
cg_loop cg_cast_loop(cg_dtype dst, cg_dtype src);
/* Writes value into every element of t (no autograd, no version bump). */
void cg_fill_raw(cg_tensor *t, double value);

/* Raw element-wise results (no autograd): op(a, b) with broadcasting and
 * promotion to `dtype`, and op(a) in a's dtype. */
cg_tensor *cg_binary_raw(cg_binop op, cg_tensor *a, cg_tensor *b, cg_dtype dtype);
cg_tensor *cg_unary_raw(cg_unop op, cg_tensor *a);
/* dst += src without autograd (src broadcast to dst). */
int cg_add_into(cg_tensor *dst, cg_tensor *src);
int cg_accumulate_grad(cg_tensor *t, cg_tensor *g);

/* Shapes ops: the autograd-free view of a with the given layout. */
cg_tensor *cg_view_raw(cg_tensor *a, const int64_t *shape, int ndim);

/* ---- regions of tensors (ops_index.c) ------------------------------------ */
/* A view's layout relative to the logical (contiguous, offset 0) layout of
 * the tensor it views. The gradient of any view is its region of zeros
 * filled with the incoming gradient. */
typedef struct cg_geom {
    int32_t ndim;
    int64_t offset;
    int64_t shape[CG_MAX_DIMS];
    int64_t strides[CG_MAX_DIMS];
} cg_geom;

/* The differentiable view of region g of a's logical layout. */
cg_tensor *cg_as_strided(cg_tensor *a, const cg_geom *g);
/* A copy of base with region g overwritten by src (broadcast); differentiable
 * in both. */
cg_tensor *cg_as_strided_scatter(cg_tensor *base, cg_tensor *src, const cg_geom *g);
/* The same, its node named op: op's backward is cg_region_scatter_backward,
 * its free_extra free (the node keeps a copy of g). */
cg_tensor *cg_region_scatter(const cg_op *op, cg_tensor *base, cg_tensor *src, const cg_geom *g);
int cg_region_scatter_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin);
/* A view of a laid out as act in a's storage, which is region rel of a's
 * logical layout; when a requires grad, a node for op records it (op's
 * backward cg_region_backward or one that reads the region from n->extra,
 * its free_extra free). */
cg_tensor *cg_region_view(const cg_op *op, cg_tensor *a, const cg_geom *act, const cg_geom *rel);
/* A view's gradient: zeros of the input's shape, the region (n->extra) set to
 * the incoming gradient; cg_scatter_region the same for a given region. */
int cg_region_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin);
cg_tensor *cg_scatter_region(cg_tensor *g, const cg_shape *in, const cg_geom *region);
/* The layouts regions start from: a shape's contiguous one, a tensor's own. */
void cg_geom_contiguous(const int64_t *shape, int ndim, cg_geom *g);
void cg_geom_actual(const cg_tensor *t, cg_geom *g);
/* Index `index` of dim d (the dim removed); len elements of dim d from start, every step. */
void cg_geom_select(cg_geom *g, int d, int64_t index);
void cg_geom_slice(cg_geom *g, int d, int64_t start, int64_t len, int64_t step);
/* Clamps start and stop into [0, size] as Python's slicing does (negative
 * ones count from the end); returns the slice's length (step > 0). */
int64_t cg_slice_bounds(int64_t size, int64_t *start, int64_t stop, int64_t step);
/* Where view v lies in its base's logical layout; -1 if that layout is not
 * a plain contiguous one (then in-place autograd through v is refused). */
int cg_view_geom(const cg_tensor *v, cg_geom *g);
/* Remakes a view's history if its base was written in place since (inplace.c,
 * Note [Stale views]); call when t->base and its version moved. */
void cg_view_refresh(cg_tensor *t);
/* Whether two of g's elements may share a storage element (false: surely
 * not). g's gradient laid out as `from` in a storage, added up per storage
 * element and read back at `to` (shared among to's elements on one storage
 * element when share): Note [Gradients through the storage], ops_strided.c. */
bool cg_geom_may_overlap(const cg_geom *g);
cg_tensor *cg_through_storage(cg_tensor *g, const cg_geom *from, const cg_geom *to, bool share);

/* ---- in-place writes (inplace.c) ------------------------------------------ */
/* Usage: cg_inplace_begin(&ip, t, inputs, n) checks PyTorch's rules; if
 * ip.records, the caller makes the op's node (edge 0 = t's current history,
 * saving t's old value by copy if the derivative needs it) into ip.node;
 * then writes t's data; then cg_inplace_finish(&ip) bumps the version and
 * installs the node (through a CopySlices node when t is a view) and
 * returns t (new reference). On failure after begin: cg_inplace_abort. */
typedef struct cg_inplace {
    cg_tensor *target;
    bool records;
    cg_node *node;
} cg_inplace;
int cg_inplace_begin(cg_inplace *ip, cg_tensor *t, cg_tensor *const *ins, int n);
/* The same for ops that write one value everywhere (fill_, zero_): they may
 * write into an expanded view, as in PyTorch. */
int cg_inplace_begin_fill(cg_inplace *ip, cg_tensor *t, cg_tensor *const *ins, int n);
/* The same for ops PyTorch leaves out of autograd (logical_and_, ...): no
 * node, and no refusal of a leaf that requires grad; the version still moves. */
int cg_inplace_begin_untracked(cg_inplace *ip, cg_tensor *t);
cg_tensor *cg_inplace_finish(cg_inplace *ip);
/* The end of an op written in place from its out-of-place result r (stolen;
 * NULL: it failed): r's values go into the target and r's node, if any,
 * becomes its history (its edge 0 the target's old one). */
cg_tensor *cg_inplace_take(cg_inplace *ip, cg_tensor *r);
/* t takes v's layout, and v's node (renamed op, whose backward is the
 * node's own) as its history: the in-place form of the view op that made v
 * from t (Note [In-place view ops]). Steals v; returns t (new reference). */
cg_tensor *cg_become_view_(cg_tensor *t, cg_tensor *v, const cg_op *op);
cg_tensor *cg_inplace_abort(cg_inplace *ip); /* returns NULL */
/* A copy of a's current value carrying a's history, for an in-place op
 * computed out of place and written back. */
cg_tensor *cg_snapshot(cg_tensor *a);
/* What an op computed out of place and written back through ip reads: a
 * snapshot of the target when it records (what its node saves is never
 * overwritten), the target itself otherwise. A new reference; NULL on failure. */
cg_tensor *cg_inplace_source(cg_inplace *ip);

/* ---- element-wise math kernels (kernels_math.c) ---------------------------- */
typedef enum cg_mathop {
    /* unary, the result in the operand's dtype */
    CG_M_ABS, CG_M_SIGN, CG_M_EXP2, CG_M_LOG2, CG_M_LOG1P, CG_M_EXPM1, CG_M_SIN, CG_M_COS,
    CG_M_TAN, CG_M_SINH, CG_M_COSH, CG_M_ASIN, CG_M_ACOS, CG_M_ATAN, CG_M_ERF, CG_M_BITWISE_NOT,
    CG_M_FLOOR, CG_M_CEIL, CG_M_ROUND, CG_M_TRUNC, CG_M_FRAC, CG_M_LOG10, CG_M_SINC, CG_M_ERFINV,
    CG_M_ASINH, CG_M_ACOSH, CG_M_ATANH, CG_M_ERFC, CG_M_LGAMMA, CG_M_DIGAMMA, CG_M_I0, CG_M_I1,
    /* unary, a bool result */
    CG_M_ISNAN, CG_M_ISINF, CG_M_ISFINITE, CG_M_LOGICAL_NOT, CG_M_SIGNBIT,
    /* binary, the result in the operands' dtype */
    CG_M_ATAN2, CG_M_MAXIMUM, CG_M_MINIMUM, CG_M_FLOOR_DIVIDE, CG_M_TRUNC_DIVIDE, CG_M_REMAINDER, CG_M_FMOD, CG_M_HYPOT,
    CG_M_LOGADDEXP, CG_M_XLOGY, CG_M_POLYGAMMA, CG_M_MVLGAMMA, CG_M_LOGIT,
    CG_M_COPYSIGN, CG_M_FMAX, CG_M_FMIN, CG_M_LOGADDEXP2, CG_M_GCD, CG_M_LCM, CG_M_LDEXP,
    CG_M_NEXTAFTER, CG_M_HEAVISIDE, CG_M_LSHIFT, CG_M_RSHIFT,
    CG_M_BITWISE_AND, CG_M_BITWISE_OR, CG_M_BITWISE_XOR,
    /* binary, a bool result */
    CG_M_EQ, CG_M_NE, CG_M_LT, CG_M_LE, CG_M_GT, CG_M_GE,
    CG_M_LOGICAL_AND, CG_M_LOGICAL_OR, CG_M_LOGICAL_XOR,
    /* ternary: where(bool cond, a, b), clamp(x, lo, hi), lerp(a, b, weight),
     * fma(a, b, c) = a * b + c rounded once */
    CG_M_WHERE, CG_M_CLAMP, CG_M_LERP, CG_M_FMA,
    /* fused derivatives (g, x, y): the share of g that x gets from maximum and
     * minimum (y the other operand) */
    CG_M_MAXIMUM_GRAD, CG_M_MINIMUM_GRAD,
    /* binary, floating: the regularized incomplete gamma functions P(a, x) and Q(a, x) */
    CG_M_IGAMMA, CG_M_IGAMMAC,
    /* torch.special's functions, floating (kernels_special.c): unary, then binary */
    CG_M_ERFCX, CG_M_I0E, CG_M_I1E, CG_M_NDTRI, CG_M_LOG_NDTR, CG_M_ENTR, CG_M_AIRY_AI,
    CG_M_BESSEL_J0, CG_M_BESSEL_J1, CG_M_BESSEL_Y0, CG_M_BESSEL_Y1, CG_M_BESSEL_K0, CG_M_BESSEL_K1,
    CG_M_BESSEL_K0E, CG_M_BESSEL_K1E, CG_M_SPHERICAL_J0,
    CG_M_ZETA, CG_M_XLOG1PY, CG_M_CHEBYSHEV_T, CG_M_CHEBYSHEV_U, CG_M_CHEBYSHEV_V, CG_M_CHEBYSHEV_W,
    CG_M_SHIFTED_CHEBYSHEV_T, CG_M_SHIFTED_CHEBYSHEV_U, CG_M_SHIFTED_CHEBYSHEV_V, CG_M_SHIFTED_CHEBYSHEV_W,
    CG_M_HERMITE_H, CG_M_HERMITE_HE, CG_M_LAGUERRE_L, CG_M_LEGENDRE_P,
    CG_NUM_MATHOPS
} cg_mathop;

/* The inner loop of op with operands of `dtype` (where: operands 2 and 3),
 * or NULL with PyTorch's "not implemented for" error. */
cg_loop cg_math_loop(cg_mathop op, cg_dtype dtype);
/* The loop of one of torch.special's ops (op >= CG_M_ERFCX), or NULL (no error set). */
cg_loop cg_special_loop(cg_mathop op, cg_dtype dtype);
/* Hurwitz's zeta(s, q) = sum_k (q + k)^-s, as PyTorch's special.zeta (kernels_math.c) */
double cg_hurwitz_zeta(double s, double q);

/* ---- matmul helpers (ops_linalg.c) -------------------------------------- */
cg_tensor *cg_mT(cg_tensor *a);

/* ---- random (random.c) --------------------------------------------------- */
uint64_t cg_rng_next(cg_generator *g);

/* ---- recording compiled steps (compile.c) ---------------------------------- */
/* See Note [Recording a step] in compile.c. Every place that writes tensor
 * data runs its kernel through cg_kernel (or calls one of the cg_tape_* hooks
 * below when CG_RECORDING()), so a recording tape can replay it. */
#define CG_RECORDING() CG_UNLIKELY(cg_ts.tape != NULL)

/* A kernel's arguments: tensors t[0..nw) are written, the rest read (NULL:
 * unused); v[0..nv) more tensors (may hold NULL), the first vw written. */
#define CG_KT 6
typedef struct cg_kargs {
    const char *name;
    cg_tensor *t[CG_KT];
    int nw;
    int64_t i[12];
    double f[6];
    cg_tensor *const *v;
    int nv, vw;
} cg_kargs;
typedef int (*cg_kernel_fn)(const cg_kargs *k);

/* Runs fn(k), which returns 0 or -1 with an error set. While a step is
 * recorded, fn and k go on the tape first, and fn runs with recording off,
 * so the kernels it calls are not recorded twice. */
int cg_kernel(cg_kernel_fn fn, const cg_kargs *k);
/* The same, for an optimizer step whose f[] is refreshed before each replay. */
int cg_kernel_refreshed(cg_kernel_fn fn, const cg_kargs *k);
/* While refreshing (cg_tape_refresh_begin): the next refreshed entry, which
 * must have been recorded by fn over the same tensors and i[], takes k->f.
 * Returns 1 when refreshing (the caller returns 0 without running), else 0. */
int cg_tape_refresh(cg_kernel_fn fn, const cg_kargs *k);
/* Hooks for the hot paths (call only when CG_RECORDING()). */
void cg_tape_loop(cg_loop loop, cg_tensor *out, cg_tensor *const *ins, int nin); /* cg_run_loop */
void cg_tape_loop1(cg_loop loop, cg_tensor *out, cg_tensor *a, cg_tensor *b);    /* loop(1, ...) */
void cg_tape_iter(cg_loop loop, cg_tensor *const *ops, int nops, int shape_op);   /* cg_run_iter */
void cg_tape_fresh(cg_storage *s);    /* a storage made during the recording */
void cg_tape_constant(cg_tensor *t);  /* t holds data from outside the step (Python numbers, lists) */
void cg_tape_set_grad(cg_tensor *t, cg_tensor *g); /* t->grad is about to become g */
/* An in-place write into t just ended: the last recorded kernel must have written it. */
void cg_tape_check_wrote(const cg_tensor *t, const char *what);
/* Recording pauses around work the tape must not see (it records it otherwise). */
static inline cg_tape *cg_tape_pause(void) {
    cg_tape *tp = cg_ts.tape;
    cg_ts.tape = NULL;
    return tp;
}
static inline void cg_tape_resume(cg_tape *tp) { cg_ts.tape = tp; }

#endif /* CGRAD_INTERNAL_H */
