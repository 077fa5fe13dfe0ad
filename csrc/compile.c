/* compile.c -- recording the kernels of one call of a step, and replaying them.
 *
 * Note [Recording a step]
 *   While a tape records (cg_ts.tape is set on this thread), every place that
 *   writes tensor data hands its kernel to the tape before running it: the
 *   kernel function and its arguments (tensors, integers, doubles), through
 *   cg_kernel or one of the cg_tape_* hooks for the hot paths. Autograd's
 *   pointer-level effects are entries too: a leaf's .grad being set (the first
 *   accumulation) or cleared (zero_grad(set_to_none=True)). Backward is
 *   recorded like forward: the engine runs normally, and the kernels its
 *   formulas run land on the tape in the order they ran.
 *
 *   The tape holds one reference to every tensor an entry names, so buffers
 *   stay alive and in place: a replay runs the entries in order over the same
 *   memory, with no graph, no Python and no allocation. The step's tensor
 *   arguments are the tape's inputs, copied in before a replay.
 *
 *   What makes a replay wrong is work the tape did not see. Three nets catch
 *   it: a kernel reading a buffer made during the recording that no recorded
 *   kernel wrote; an in-place op whose target the last recorded kernel did not
 *   write; and ops that read data to decide what to do (data-dependent shapes,
 *   branches) breaking the recording explicitly. A broken recording is never
 *   replayed; the caller runs the step eagerly.
 *
 *   Guards at replay: every tensor someone besides the tape holds (parameters,
 *   optimizer state, grads) must still have the storage, offset and
 *   requires_grad it had, and every leaf whose .grad the step touched must
 *   still have the .grad it had when the recording began. Otherwise nothing
 *   runs and the caller records again.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static _Thread_local cg_tape *refreshing;

/* ---- pointer maps ------------------------------------------------------------------- */

/* Open addressing, linear probing; keys are never removed. */
typedef struct ptrmap {
    const void **keys;
    int64_t *vals;
    size_t cap, n;
} ptrmap;

static size_t slot_of(const ptrmap *m, const void *key) {
    uint64_t h = ((uint64_t)(uintptr_t)key >> 4) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (m->cap - 1);
}

static int64_t *map_find(const ptrmap *m, const void *key) {
    if (!m->cap) return NULL;
    for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) return &m->vals[i];
        if (!m->keys[i]) return NULL;
    }
}

static int map_grow(ptrmap *m) {
    ptrmap bigger = {calloc(m->cap ? m->cap * 2 : 64, sizeof(void *)), NULL, m->cap ? m->cap * 2 : 64, m->n};
    bigger.vals = bigger.keys ? malloc(bigger.cap * sizeof(int64_t)) : NULL;
    if (!bigger.vals) {
        free(bigger.keys);
        cg_oom((int64_t)(bigger.cap * 16));
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = slot_of(&bigger, m->keys[i]);
        while (bigger.keys[j]) j = (j + 1) & (bigger.cap - 1);
        bigger.keys[j] = m->keys[i];
        bigger.vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    *m = bigger;
    return 0;
}

/* The value of key, added as `init` if absent (*added says which); NULL if out of memory. */
static int64_t *map_put(ptrmap *m, const void *key, int64_t init, bool *added) {
    int64_t *v = map_find(m, key);
    *added = !v;
    if (v) return v;
    if ((m->n + 1) * 2 > m->cap && map_grow(m)) return NULL;
    size_t i = slot_of(m, key);
    while (m->keys[i]) i = (i + 1) & (m->cap - 1);
    m->keys[i] = key;
    m->vals[i] = init;
    m->n++;
    return &m->vals[i];
}

static void map_free(ptrmap *m) {
    free(m->keys);
    free(m->vals);
}

/* ---- the tape --------------------------------------------------------------------------- */

enum { S_FRESH = 1, S_WRITTEN = 2, S_INPUT = 4 }; /* storage flags; the storage's index above bit 8 */

typedef struct entry {
    cg_kargs k;      /* first, so that a replay function can find its entry; k.v is owned */
    cg_kernel_fn fn;
    void *blob;      /* constants: the data to restore */
    int64_t nblob;
    bool refresh;    /* k.f is rewritten before each replay; not compared */
    bool skip;       /* a constant nothing else writes: restoring it is a no-op */
    cg_loop_plan *plan; /* loops, once replayed: their pointers and path */
} entry;

typedef struct guard { /* a tensor's storage and layout, as the recording saw them */
    cg_storage *storage;
    int64_t offset;
    int32_t ndim;
    uint8_t dtype, requires_grad;
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
} guard;

typedef struct grad_guard {
    cg_tensor *leaf, *grad; /* grad: what leaf->grad was when the recording first read it (owned) */
    bool guarded;           /* false: the step set leaf->grad before reading it */
} grad_guard;

typedef struct keep {
    void *obj;
    void (*release)(void *);
} keep;

struct cg_tape {
    entry *e;
    size_t n, cap;
    cg_tensor **ts; /* every tensor the entries name, once, owned */
    guard *guards;  /* parallel to ts, taken when the recording ends */
    int64_t *internal; /* parallel to ts: references from the tape itself (see internal_refs) */
    size_t *watch;     /* once replayed: the tensors that others can reach, whose guards are checked */
    size_t nwatch;
    size_t nts, capts;
    ptrmap tmap;    /* tensor -> index in ts */
    ptrmap smap;    /* storage -> flags | index << 8 */
    int64_t nstorages;
    grad_guard *gg;
    size_t ngg, capgg;
    ptrmap gmap;    /* leaf -> index in gg */
    cg_tensor **inputs, **outputs; /* borrowed: ts holds them */
    int nin, nout;
    bool *written_input;
    keep *keeps;
    size_t nkeeps, capkeeps;
    size_t refresh_at; /* refreshing: entries before this one are done */
    int64_t alone_bytes, shared_bytes; /* see cg_tape_memory */
    bool recording, broken, refresh_ok;
    uint64_t moves; /* cg_storage_moves when the recording ended: a storage's bytes moved since, the pointers
                       a replay would use may be stale */
    char cause[256];
};

cg_tape *cg_tape_new(void) {
    cg_tape *tp = calloc(1, sizeof *tp);
    if (!tp) return cg_oom((int64_t)sizeof *tp);
    return tp;
}

void cg_tape_free(cg_tape *tp) {
    if (!tp) return;
    if (cg_ts.tape == tp) cg_ts.tape = NULL;
    if (refreshing == tp) refreshing = NULL;
    for (size_t i = 0; i < tp->n; i++) {
        free((void *)tp->e[i].k.v);
        free(tp->e[i].blob);
        free(tp->e[i].plan);
    }
    free(tp->e);
    for (size_t i = 0; i < tp->nts; i++) cg_tensor_release(tp->ts[i]);
    free(tp->ts);
    free(tp->guards);
    free(tp->internal);
    free(tp->watch);
    for (size_t i = 0; i < tp->ngg; i++) cg_tensor_release(tp->gg[i].grad);
    free(tp->gg);
    free(tp->outputs);
    free(tp->inputs);
    free(tp->written_input);
    map_free(&tp->tmap);
    map_free(&tp->smap);
    map_free(&tp->gmap);
    for (size_t i = 0; i < tp->nkeeps; i++) tp->keeps[i].release(tp->keeps[i].obj);
    free(tp->keeps);
    free(tp);
}

static void vbreak(cg_tape *tp, const char *fmt, va_list ap) {
    if (!tp || tp->broken) return;
    tp->broken = true;
    vsnprintf(tp->cause, sizeof tp->cause, fmt, ap);
}

static void tape_break(cg_tape *tp, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vbreak(tp, fmt, ap);
    va_end(ap);
}

void cg_tape_break(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vbreak(cg_ts.tape, fmt, ap);
    va_end(ap);
}

static void out_of_memory(cg_tape *tp) {
    cg_error_clear();
    tape_break(tp, "out of memory while recording");
}

/* The flags of storage s, registering it (with `flags`) on first sight. */
static int64_t *storage_slot(cg_tape *tp, cg_storage *s, int64_t flags) {
    bool added;
    int64_t *v = map_put(&tp->smap, s, flags | (tp->nstorages << 8), &added);
    if (!v) {
        out_of_memory(tp);
        return NULL;
    }
    if (added) tp->nstorages++;
    return v;
}

void cg_tape_fresh(cg_storage *s) {
    cg_tape *tp = cg_ts.tape;
    int64_t *v = storage_slot(tp, s, S_FRESH);
    if (v) *v = (*v & ~(int64_t)0xff) | S_FRESH; /* a freed storage's address, reused */
}

/* Registers t (retained once); returns its index or -1. */
static int64_t tensor_index(cg_tape *tp, cg_tensor *t) {
    bool added;
    int64_t *v = map_put(&tp->tmap, t, (int64_t)tp->nts, &added);
    if (!v || (added && cg_grow((void **)&tp->ts, &tp->capts, tp->nts + 1, sizeof(cg_tensor *)))) {
        out_of_memory(tp);
        return -1;
    }
    if (added) {
        cg_tensor_retain(t);
        tp->ts[tp->nts++] = t;
    }
    return *v;
}

enum touch { READ, WRITE, HOLD };

/* Notes that the entry `name` reads t, writes it, or only holds it (pointer-level entries). */
static void touch(cg_tape *tp, cg_tensor *t, enum touch how, const char *name) {
    if (!t || tensor_index(tp, t) < 0) return;
    int64_t *f = storage_slot(tp, t->storage, 0);
    if (!f || how == HOLD || (how == READ && t->numel == 0)) return;
    if (how == WRITE)
        *f |= S_WRITTEN;
    else if ((*f & S_FRESH) && !(*f & (S_WRITTEN | S_INPUT)))
        tape_break(tp, "%s read data that an operation the recording cannot replay wrote", name);
}

/* A broken recording goes on being recorded: the caller still needs to know
 * which tensors the step wrote (its arguments among them). */
static entry *add_entry(cg_tape *tp, cg_kernel_fn fn, const cg_kargs *k, bool pointer_level) {
    if (cg_grow((void **)&tp->e, &tp->cap, tp->n + 1, sizeof(entry))) {
        out_of_memory(tp);
        return NULL;
    }
    entry *e = &tp->e[tp->n];
    memset(e, 0, sizeof *e);
    e->fn = fn;
    e->k = *k;
    e->k.v = NULL;
    if (k->nv) {
        cg_tensor **v = malloc((size_t)k->nv * sizeof(cg_tensor *));
        if (!v) {
            out_of_memory(tp);
            return NULL;
        }
        memcpy(v, k->v, (size_t)k->nv * sizeof(cg_tensor *));
        e->k.v = v;
    }
    tp->n++;
    /* reads before writes: an in-place kernel reads what it is about to overwrite */
    enum touch read = pointer_level ? HOLD : READ, write = pointer_level ? HOLD : WRITE;
    for (int j = k->nw; j < CG_KT; j++) touch(tp, k->t[j], read, k->name);
    for (int j = k->vw; j < k->nv; j++) touch(tp, k->v[j], read, k->name);
    for (int j = 0; j < k->nw; j++) touch(tp, k->t[j], write, k->name);
    for (int j = 0; j < k->vw; j++) touch(tp, k->v[j], write, k->name);
    return e;
}

int cg_kernel(cg_kernel_fn fn, const cg_kargs *k) {
    cg_tape *tp = cg_ts.tape;
    if (CG_LIKELY(!tp)) return fn(k);
    add_entry(tp, fn, k, false);
    cg_ts.tape = NULL;
    int rc = fn(k);
    cg_ts.tape = tp;
    return rc;
}

int cg_kernel_refreshed(cg_kernel_fn fn, const cg_kargs *k) {
    cg_tape *tp = cg_ts.tape;
    if (CG_LIKELY(!tp)) return fn(k);
    entry *e = add_entry(tp, fn, k, false);
    if (e) e->refresh = true;
    cg_ts.tape = NULL;
    int rc = fn(k);
    cg_ts.tape = tp;
    return rc;
}

/* ---- hooks of the hot paths ----------------------------------------------------------- */

static int replay_loop(const cg_kargs *k) {
    cg_run_loop((cg_loop)(uintptr_t)k->i[0], k->t[0], k->t + 1, (int)k->i[1]);
    return 0;
}

void cg_tape_loop(cg_loop loop, cg_tensor *out, cg_tensor *const *ins, int nin) {
    cg_kargs k = {.name = "an element-wise kernel", .t = {out}, .nw = 1, .i = {(int64_t)(uintptr_t)loop, nin}};
    for (int j = 0; j < nin && j + 1 < CG_KT; j++) k.t[j + 1] = ins[j];
    add_entry(cg_ts.tape, replay_loop, &k, false);
}

static int replay_iter(const cg_kargs *k) {
    cg_run_iter((cg_loop)(uintptr_t)k->i[0], k->t, (int)k->i[1], (int)k->i[2]);
    return 0;
}

void cg_tape_iter(cg_loop loop, cg_tensor *const *ops, int nops, int shape_op) {
    cg_kargs k = {.name = "a reduction", .nw = 1, .i = {(int64_t)(uintptr_t)loop, nops, shape_op}};
    for (int j = 0; j < nops && j < CG_KT; j++) k.t[j] = ops[j];
    add_entry(cg_ts.tape, replay_iter, &k, false);
}

static int replay_loop1(const cg_kargs *k) {
    static const int64_t ones[3] = {1, 1, 1};
    char *data[3] = {cg_ptr(k->t[0]), cg_ptr(k->t[1]), cg_ptr(k->t[2])};
    ((cg_loop)(uintptr_t)k->i[0])(1, data, ones);
    return 0;
}

void cg_tape_loop1(cg_loop loop, cg_tensor *out, cg_tensor *a, cg_tensor *b) {
    cg_kargs k = {.name = "an element-wise kernel", .t = {out, a, b}, .nw = 1, .i = {(int64_t)(uintptr_t)loop}};
    add_entry(cg_ts.tape, replay_loop1, &k, false);
}

static int replay_constant(const cg_kargs *k) {
    const entry *e = (const entry *)(const void *)((const char *)k - offsetof(entry, k));
    memcpy(cg_ptr(k->t[0]), e->blob, (size_t)e->nblob);
    return 0;
}

void cg_tape_constant(cg_tensor *t) {
    cg_tape *tp = cg_ts.tape;
    int64_t nbytes = t->numel * cg_dtype_size((cg_dtype)t->dtype);
    if (!cg_tensor_is_contiguous(t)) {
        tape_break(tp, "a constant with a strided layout was made in the step");
        return;
    }
    cg_tape_fresh(t->storage); /* made now, perhaps with recording paused */
    void *copy = malloc((size_t)nbytes + 1);
    if (!copy) {
        out_of_memory(tp);
        return;
    }
    if (nbytes) memcpy(copy, cg_ptr(t), (size_t)nbytes);
    cg_kargs k = {.name = "a constant", .t = {t}, .nw = 1};
    entry *e = add_entry(tp, replay_constant, &k, false);
    if (!e) {
        free(copy);
        return;
    }
    e->blob = copy;
    e->nblob = nbytes;
}

/* ---- .grad -------------------------------------------------------------------------------- */

/* The first time the step reads (read) or sets t->grad: a replay needs the
 * .grad it read to be in place again; what the step set first does not matter. */
static void note_grad(cg_tape *tp, cg_tensor *t, bool read) {
    bool added;
    int64_t *v = map_put(&tp->gmap, t, (int64_t)tp->ngg, &added);
    if (!v || (added && cg_grow((void **)&tp->gg, &tp->capgg, tp->ngg + 1, sizeof(grad_guard)))) {
        out_of_memory(tp);
        return;
    }
    if (!added) return;
    cg_tensor *g = read ? t->grad : NULL;
    if (g) cg_tensor_retain(g);
    tp->gg[tp->ngg++] = (grad_guard){t, g, read};
    tensor_index(tp, t); /* keeps the leaf alive while its guard names it */
}

void cg_tape_note_grad(cg_tensor *t) {
    if (cg_ts.tape) note_grad(cg_ts.tape, t, true);
}

static int replay_set_grad(const cg_kargs *k) {
    cg_tensor *t = k->t[0], *g = k->t[1];
    if (t->grad == g) return 0;
    if (g) cg_tensor_retain(g);
    cg_tensor *old = t->grad;
    t->grad = g;
    cg_tensor_release(old);
    return 0;
}

void cg_tape_set_grad(cg_tensor *t, cg_tensor *g) {
    cg_tape *tp = cg_ts.tape;
    note_grad(tp, t, false);
    cg_kargs k = {.name = "setting .grad", .t = {t, g}, .nw = 1};
    add_entry(tp, replay_set_grad, &k, true);
}

void cg_tape_check_wrote(const cg_tensor *t, const char *what) {
    cg_tape *tp = cg_ts.tape;
    const entry *e = tp->n ? &tp->e[tp->n - 1] : NULL;
    bool ok = false;
    for (int j = 0; e && j < e->k.nw && !ok; j++) ok = e->k.t[j] && e->k.t[j]->storage == t->storage;
    for (int j = 0; e && j < e->k.vw && !ok; j++) ok = e->k.v[j] && e->k.v[j]->storage == t->storage;
    if (!ok) tape_break(tp, "%s wrote into a tensor in a way the recording cannot replay", what);
}

/* ---- recording ---------------------------------------------------------------------------- */

int cg_is_recording(void) { return cg_ts.tape != NULL; }

int cg_tape_begin(cg_tape *tp, cg_tensor *const *inputs, int n) {
    if (cg_ts.tape || tp->recording || tp->n || tp->nts) {
        cg_error_set(CG_ERR_RUNTIME, "a step is already being recorded on this thread, or this tape was used");
        return -1;
    }
    tp->inputs = calloc((size_t)n + 1, sizeof(cg_tensor *));
    tp->written_input = calloc((size_t)n + 1, sizeof(bool));
    if (!tp->inputs || !tp->written_input) {
        cg_oom((int64_t)n * 8);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (tensor_index(tp, inputs[i]) < 0) return -1;
        storage_slot(tp, inputs[i]->storage, S_INPUT);
        tp->inputs[i] = inputs[i];
    }
    tp->nin = n;
    tp->recording = true;
    cg_ts.tape = tp;
    return 0;
}

int cg_tape_end(cg_tape *tp) {
    tp->moves = __atomic_load_n(&cg_storage_moves, __ATOMIC_RELAXED);
    if (cg_ts.tape == tp) cg_ts.tape = NULL;
    if (!tp->recording) return 0;
    tp->recording = false;
    tp->guards = calloc(tp->nts + 1, sizeof(guard));
    if (!tp->guards) {
        out_of_memory(tp);
        return 0;
    }
    for (size_t i = 0; i < tp->nts; i++) {
        cg_tensor *t = tp->ts[i];
        guard *g = &tp->guards[i];
        *g = (guard){t->storage, t->offset, t->ndim, t->dtype, t->requires_grad, {0}, {0}};
        memcpy(g->shape, t->shape, (size_t)t->ndim * sizeof(int64_t));
        memcpy(g->strides, t->strides, (size_t)t->ndim * sizeof(int64_t));
    }
    for (int i = 0; i < tp->nin; i++) tp->written_input[i] = cg_tape_wrote(tp, tp->inputs[i]);
    return 0;
}

int cg_tape_set_outputs(cg_tape *tp, cg_tensor *const *outputs, int n) {
    tp->outputs = calloc((size_t)n + 1, sizeof(cg_tensor *));
    if (!tp->outputs) {
        cg_oom((int64_t)n * 8);
        return -1;
    }
    if (!tp->recording) {
        cg_error_set(CG_ERR_RUNTIME, "a recording's outputs are set before it ends");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        cg_tensor *t = outputs[i];
        if (tensor_index(tp, t) < 0) {
            tp->outputs[i] = NULL;
            continue;
        }
        int64_t *f = map_find(&tp->smap, t->storage);
        if (f && (*f & S_FRESH) && !(*f & (S_WRITTEN | S_INPUT)))
            tape_break(tp, "the step returns a tensor that an operation the recording cannot replay wrote");
        tp->outputs[i] = t; /* owned through ts */
    }
    tp->nout = n;
    return 0;
}

const char *cg_tape_cause(const cg_tape *tp) { return tp->broken ? tp->cause : NULL; }

int cg_tape_wrote(const cg_tape *tp, const cg_tensor *t) {
    int64_t *f = map_find(&tp->smap, t->storage);
    return f && (*f & S_WRITTEN) ? 1 : 0;
}

int cg_tape_touched(const cg_tape *tp, const cg_tensor *t) { return map_find(&tp->smap, t->storage) != NULL; }

int64_t cg_tape_size(const cg_tape *tp) { return (int64_t)tp->n; }

void cg_tape_memory(const cg_tape *tp, int64_t *alone, int64_t *shared) {
    *alone = tp->alone_bytes;
    *shared = tp->shared_bytes;
}

const char *cg_tape_entry(const cg_tape *tp, int64_t i, int64_t *tensors) {
    if (i < 0 || (size_t)i >= tp->n) return NULL;
    const cg_kargs *k = &tp->e[i].k;
    for (int j = 0; j < 6; j++) {
        const int64_t *v = j < CG_KT && k->t[j] ? map_find(&tp->tmap, k->t[j]) : NULL;
        tensors[j] = v ? *v : -1;
    }
    return k->name;
}

int cg_tape_read(const cg_tensor *t, const char *what) {
    cg_tape *tp = cg_ts.tape;
    if (!tp || tp->broken) return tp && tp->broken;
    int64_t *f = map_find(&tp->smap, t->storage);
    if (!f || !(*f & (S_WRITTEN | S_INPUT))) return 0;
    tape_break(tp, "%s reads the values of a tensor the step computes", what);
    return 1;
}

void cg_tape_keep(void *obj, void (*release)(void *obj)) {
    cg_tape *tp = cg_ts.tape;
    if (!tp) return;
    if (cg_grow((void **)&tp->keeps, &tp->capkeeps, tp->nkeeps + 1, sizeof(keep))) {
        out_of_memory(tp);
        release(obj);
        return;
    }
    tp->keeps[tp->nkeeps++] = (keep){obj, release};
}

/* ---- comparing two recordings --------------------------------------------------------------- */

/* How a tensor of tape tp is told apart: its index, its storage's (by index
 * when the storage was made during the recording, else by address) and layout. */
static bool same_tensor(const cg_tape *a, const cg_tensor *x, const cg_tape *b, const cg_tensor *y) {
    if (!x || !y) return x == y;
    const int64_t *ix = map_find(&a->tmap, x), *iy = map_find(&b->tmap, y);
    const int64_t *sx = map_find(&a->smap, x->storage), *sy = map_find(&b->smap, y->storage);
    if (!ix || !iy || *ix != *iy || !sx || !sy) return false;
    bool fx = *sx & S_FRESH, fy = *sy & S_FRESH;
    if (fx != fy || (fx ? (*sx >> 8) != (*sy >> 8) : x->storage != y->storage)) return false;
    return x->dtype == y->dtype && x->offset == y->offset && cg_same_shape(x, y) &&
           !memcmp(x->strides, y->strides, (size_t)x->ndim * sizeof(int64_t));
}

static bool same_entry(const cg_tape *a, const entry *x, const cg_tape *b, const entry *y) {
    if (x->fn != y->fn || x->k.nw != y->k.nw || x->k.nv != y->k.nv || x->k.vw != y->k.vw ||
        x->refresh != y->refresh || memcmp(x->k.i, y->k.i, sizeof x->k.i) || x->nblob != y->nblob)
        return false;
    if (x->fn == replay_constant) {
        if (x->nblob && memcmp(x->blob, y->blob, (size_t)x->nblob)) return false;
    } else if (!x->refresh && memcmp(x->k.f, y->k.f, sizeof x->k.f)) {
        return false;
    }
    for (int j = 0; j < CG_KT; j++)
        if (!same_tensor(a, x->k.t[j], b, y->k.t[j])) return false;
    for (int j = 0; j < x->k.nv; j++)
        if (!same_tensor(a, x->k.v[j], b, y->k.v[j])) return false;
    return true;
}

const char *cg_tape_compare(const cg_tape *a, const cg_tape *b, char *buf, size_t size) {
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        if (same_entry(a, &a->e[i], b, &b->e[i])) continue;
        const entry *x = &a->e[i], *y = &b->e[i];
        if (x->fn == replay_constant && y->fn == replay_constant)
            snprintf(buf, size, "a tensor made from Python data (operation #%zu) holds different values", i);
        else if (x->fn == y->fn)
            snprintf(buf, size, "operation #%zu (%s) ran with different tensors or arguments", i, x->k.name);
        else
            snprintf(buf, size, "operation #%zu is %s in one call and %s in the other", i, x->k.name, y->k.name);
        return buf;
    }
    if (a->n != b->n) {
        snprintf(buf, size, "one call ran %zu operations, the other %zu", a->n, b->n);
        return buf;
    }
    if (a->nout != b->nout || a->nin != b->nin || a->ngg != b->ngg) {
        snprintf(buf, size, "the calls returned or touched different tensors");
        return buf;
    }
    for (int i = 0; i < a->nout; i++)
        if (!same_tensor(a, a->outputs[i], b, b->outputs[i])) {
            snprintf(buf, size, "output %d is a different tensor in each call", i);
            return buf;
        }
    for (size_t i = 0; i < a->ngg; i++)
        if (a->gg[i].leaf != b->gg[i].leaf || a->gg[i].grad != b->gg[i].grad || a->gg[i].guarded != b->gg[i].guarded) {
            snprintf(buf, size, "the calls started from different .grad tensors");
            return buf;
        }
    return NULL;
}

/* ---- replay ----------------------------------------------------------------------------------- */

/* How many references to each tape tensor come from the tape itself: its
 * own, and those of views it holds (a view keeps its base). */
static int64_t *internal_refs(const cg_tape *tp) {
    int64_t *refs = malloc((tp->nts + 1) * sizeof(int64_t));
    if (!refs) return NULL;
    for (size_t i = 0; i < tp->nts; i++) refs[i] = 1;
    for (size_t i = 0; i < tp->nts; i++) {
        const int64_t *b = tp->ts[i]->base ? map_find(&tp->tmap, tp->ts[i]->base) : NULL;
        if (b) refs[*b]++;
    }
    return refs;
}

void cg_tape_drop_history(cg_tape *tp) {
    int64_t *refs = tp->internal ? tp->internal : (tp->internal = internal_refs(tp));
    bool again = refs != NULL;
    while (again) { /* newest first: their nodes hold older tensors */
        again = false;
        for (size_t i = tp->nts; i-- > 0;) {
            cg_tensor *t = tp->ts[i];
            if (!t->grad_fn || CG_LOAD(&t->refcount) != refs[i]) continue;
            cg_node *fn = cg_swap_grad_fn(t, NULL);
            t->requires_grad = 0;
            cg_node_release(fn);
            again = true;
        }
    }
    for (size_t i = 0; tp->guards && i < tp->nts; i++) tp->guards[i].requires_grad = tp->ts[i]->requires_grad;
}

static bool same_layout(const cg_tensor *t, const guard *g) {
    if (t->storage != g->storage || t->offset != g->offset || t->ndim != g->ndim || t->dtype != g->dtype ||
        t->requires_grad != g->requires_grad)
        return false;
    for (int d = 0; d < t->ndim; d++) /* a loop: two memcmp calls per tensor were a tenth of a short replay */
        if (t->shape[d] != g->shape[d] || t->strides[d] != g->strides[d]) return false;
    return true;
}

/* A constant that no other entry writes, and only the tape can reach, keeps
 * its value: it need not be restored. */
static int skip_private_constants(cg_tape *tp) {
    ptrmap writers = {0};
    bool added;
    for (size_t j = 0; j < tp->n; j++) {
        const cg_kargs *k = &tp->e[j].k;
        for (int w = 0; w < k->nw + k->vw; w++) {
            const cg_tensor *t = w < k->nw ? k->t[w] : k->v[w - k->nw];
            int64_t *c = t ? map_put(&writers, t->storage, 0, &added) : NULL;
            if (t && !c) {
                map_free(&writers);
                return -1;
            }
            if (c) (*c)++;
        }
    }
    for (size_t j = 0; j < tp->n; j++) {
        entry *e = &tp->e[j];
        if (e->fn != replay_constant) continue;
        cg_tensor *t = e->k.t[0];
        e->skip = *map_find(&writers, t->storage) == 1 && CG_LOAD(&t->refcount) == tp->internal[*map_find(&tp->tmap, t)];
    }
    map_free(&writers);
    return 0;
}

/* Note [Sharing buffers between replays' intermediates]
 *   An eager step frees an intermediate when its last reader is done, and the
 *   next one of its size takes the same, still cached, memory. A tape holds
 *   every intermediate for good: a replay of an RNN over 100 steps would write
 *   a fresh buffer for each of them, megabytes that miss the cache on every
 *   kernel. So before the first replay, the storages only the tape can reach
 *   share memory as an eager step's would: each is live from the first entry
 *   that names it to the last, and one whose life has ended hands its buffer
 *   to the next of the same size that starts later (the most recently ended
 *   first, as the eager pool would).
 *
 *   A storage qualifies when it was made during the recording, is neither an
 *   input nor an output, no one but the tape's tensors holds it, none of them
 *   is watched (held elsewhere, or handed to a leaf as .grad), and no constant
 *   or pointer-level entry names it. Such a storage's values never outlive a
 *   replay: an entry writes it before any reads it (the recording breaks on a
 *   read of unwritten fresh data), and nothing after the replay can see it. A
 *   constant restored by its entry or kept between replays is left alone. */

typedef struct shared_block { /* memory several storages take turns with */
    int64_t refs;              /* the storages pointing into it */
    int64_t nbytes;
    void *data;
    int64_t index;             /* in the sweep's list of blocks */
    int64_t next_free;         /* the block of this size freed before this one; -1: none */
} shared_block;

static void shared_block_release(void *data, void *ctx) {
    (void)data;
    shared_block *b = ctx;
    if (CG_DEC(&b->refs) != 0) return;
    cg_data_free(b->data, b->nbytes);
    free(b);
}

typedef struct lifetime {
    cg_storage *s;
    int64_t first, last; /* entries; first = -1: no entry names it, -2: it keeps its own memory */
    int64_t next_start, next_end; /* lists of the storages starting, ending at one entry */
    int64_t tensors;              /* the tape's tensors on s */
    shared_block *block;          /* the memory it takes turns with, once swept */
} lifetime;

/* Tensor w of the ones entry arguments k name: t[0..CG_KT) then v[0..nv); NULL slots included. */
static const cg_tensor *named(const cg_kargs *k, int w) { return w < CG_KT ? k->t[w] : k->v[w - CG_KT]; }

int64_t cg_tape_work(const cg_tape *tp) {
    int64_t n = 0;
    for (size_t j = 0; j < tp->n; j++)
        for (int w = 0; w < CG_KT + tp->e[j].k.nv; w++) {
            const cg_tensor *t = named(&tp->e[j].k, w);
            if (t) n += t->numel;
        }
    return n;
}

/* The candidates' lifetimes, by walking every tensor each entry names. */
static void lifetimes(const cg_tape *tp, const ptrmap *cand, lifetime *lt) {
    for (size_t j = 0; j < tp->n; j++) {
        const entry *e = &tp->e[j];
        bool pinned = e->fn == replay_constant || e->fn == replay_set_grad;
        for (int w = 0; w < CG_KT + e->k.nv; w++) {
            const cg_tensor *t = named(&e->k, w);
            const int64_t *c = t ? map_find(cand, t->storage) : NULL;
            if (!c) continue;
            lifetime *l = &lt[*c];
            if (pinned) l->first = -2;
            if (l->first == -2) continue;
            if (l->first < 0) l->first = (int64_t)j;
            l->last = (int64_t)j;
        }
    }
}

typedef struct block_pool { /* the sweep's blocks, and per size the last one freed */
    shared_block **b;
    size_t n, cap;
    ptrmap free_by_size; /* nbytes -> index of a free block, -1: none */
} block_pool;

/* A free block of s's size (the one freed last), or a new one that will take
 * s's own memory. NULL: out of memory. */
static shared_block *take_block(block_pool *p, const cg_storage *s) {
    bool added;
    int64_t *head = map_put(&p->free_by_size, (const void *)(uintptr_t)s->nbytes, -1, &added);
    if (!head) return NULL;
    if (*head >= 0) {
        shared_block *b = p->b[*head];
        *head = b->next_free;
        return b;
    }
    shared_block *b = calloc(1, sizeof *b);
    if (!b || cg_grow((void **)&p->b, &p->cap, p->n + 1, sizeof(shared_block *))) {
        free(b);
        return NULL;
    }
    b->nbytes = s->nbytes;
    b->index = (int64_t)p->n;
    p->b[p->n++] = b;
    return b;
}

static void give_back(block_pool *p, shared_block *b) {
    int64_t *head = map_find(&p->free_by_size, (const void *)(uintptr_t)b->nbytes); /* take_block made it */
    b->next_free = *head;
    *head = b->index;
}

static int share_buffers(cg_tape *tp, const bool *watch) {
    ptrmap cand = {0};
    block_pool pool = {0};
    lifetime *lt = NULL;
    size_t nlt = 0, caplt = 0;
    int64_t *start = NULL, *end = NULL; /* per entry: the first candidate starting, ending there */
    bool added, failed = false;
    int rc = -1;
    /* candidates: fresh storages of tensors only the tape holds */
    for (size_t i = 0; i < tp->nts; i++) {
        cg_storage *s = tp->ts[i]->storage;
        const int64_t *f = map_find(&tp->smap, s);
        bool ok = !watch[i] && f && (*f & S_FRESH) && !(*f & S_INPUT) && !s->deleter && s->data != s->inline_buf;
        int64_t *c = map_put(&cand, s, (int64_t)nlt, &added);
        if (!c || (added && cg_grow((void **)&lt, &caplt, nlt + 1, sizeof(lifetime)))) goto done;
        if (added) lt[nlt++] = (lifetime){s, -1, -1, -1, -1, 0, NULL};
        lt[*c].tensors++;
        if (!ok) lt[*c].first = -2;
    }
    for (int i = 0; i < tp->nout; i++) {
        const int64_t *c = tp->outputs[i] ? map_find(&cand, tp->outputs[i]->storage) : NULL;
        if (c) lt[*c].first = -2;
    }
    for (size_t c = 0; c < nlt; c++)
        if (CG_LOAD(&lt[c].s->refcount) != lt[c].tensors) lt[c].first = -2; /* held outside the tape */
    lifetimes(tp, &cand, lt);
    /* the sweep: lists of the storages that start and end at each entry */
    start = malloc((tp->n + 1) * sizeof(int64_t));
    end = malloc((tp->n + 1) * sizeof(int64_t));
    if (!start || !end) goto done;
    for (size_t j = 0; j < tp->n; j++) start[j] = end[j] = -1;
    for (size_t c = nlt; c-- > 0;) { /* prepended: each list comes out in the order of the tape's tensors */
        if (lt[c].first < 0) continue;
        lt[c].next_start = start[lt[c].first], start[lt[c].first] = (int64_t)c;
        lt[c].next_end = end[lt[c].last], end[lt[c].last] = (int64_t)c;
    }
    for (size_t j = 0; j < tp->n && !failed; j++) {
        for (int64_t c = start[j]; c >= 0 && !failed; c = lt[c].next_start)
            failed = !(lt[c].block = take_block(&pool, lt[c].s));
        for (int64_t c = end[j]; c >= 0 && !failed; c = lt[c].next_end) give_back(&pool, lt[c].block);
    }
    if (failed) goto done;
    /* a block's memory: its first storage's own; the others give theirs back */
    for (size_t c = 0; c < nlt; c++) {
        shared_block *b = lt[c].block;
        if (!b) continue;
        cg_storage *s = lt[c].s;
        if (b->data)
            cg_data_free(s->data, s->nbytes);
        else
            b->data = s->data;
        s->data = b->data;
        s->deleter = shared_block_release;
        s->deleter_ctx = b;
        b->refs++;
        tp->alone_bytes += s->nbytes;
    }
    for (size_t b = 0; b < pool.n; b++) tp->shared_bytes += pool.b[b]->nbytes;
    rc = 0;
done:
    for (size_t b = 0; rc && b < pool.n; b++) free(pool.b[b]); /* none given to a storage yet */
    map_free(&cand);
    map_free(&pool.free_by_size);
    free(pool.b);
    free(lt);
    free(start);
    free(end);
    return rc;
}

/* Before the first replay: the tensors whose guards are checked -- those others
 * hold now, and the .grad tensors the replay hands to leaves (the only way
 * a tensor only the tape holds becomes reachable) --, the intermediates'
 * shared memory, and the pointers and path of every element-wise kernel,
 * fixed while the guards hold. */
static int prepare(cg_tape *tp) {
    cg_tape_drop_history(tp);
    if (!tp->internal || !tp->guards || !(tp->watch = malloc((tp->nts + 1) * sizeof(size_t)))) return -1;
    bool *watch = calloc(tp->nts + 1, sizeof(bool));
    if (!watch) return -1;
    for (size_t j = 0; j < tp->n; j++) {
        const int64_t *g = tp->e[j].fn == replay_set_grad && tp->e[j].k.t[1] ? map_find(&tp->tmap, tp->e[j].k.t[1]) : NULL;
        if (g) watch[*g] = true;
    }
    for (size_t i = 0; i < tp->nts; i++) {
        watch[i] = watch[i] || CG_LOAD(&tp->ts[i]->refcount) != tp->internal[i];
        if (watch[i]) tp->watch[tp->nwatch++] = i;
    }
    int rc = share_buffers(tp, watch);
    free(watch);
    if (rc) return -1;
    for (size_t j = 0; j < tp->n; j++) {
        entry *e = &tp->e[j];
        if (e->fn != replay_loop && e->fn != replay_loop1 && e->fn != replay_iter) continue;
        if (!(e->plan = malloc(sizeof(cg_loop_plan)))) return -1;
        if (e->fn == replay_loop) {
            cg_loop_plan_init(e->plan, e->k.t[0], e->k.t + 1, (int)e->k.i[1]);
        } else if (e->fn == replay_iter) {
            const cg_tensor *s = e->k.t[e->k.i[2]];
            e->plan->n = s->numel ? s->numel : 1, e->plan->flat = false;
            cg_iter_init(&e->plan->it, e->k.t, (int)e->k.i[1], s->shape, s->ndim);
        } else { /* the 1-element fast path of cg_binary_raw */
            *e->plan = (cg_loop_plan){.n = 1, .flat = true, .strides = {1, 1, 1}};
            for (int k = 0; k < 3; k++) e->plan->data[k] = cg_ptr(e->k.t[k]);
        }
    }
    return skip_private_constants(tp);
}

/* Whether everything the recording relies on is still in place. Tensors only
 * the tape holds cannot have changed. */
static bool guards_hold(cg_tape *tp) {
    if (tp->moves != __atomic_load_n(&cg_storage_moves, __ATOMIC_RELAXED)) return false;
    for (size_t w = 0; w < tp->nwatch; w++) {
        size_t i = tp->watch[w];
        if (!same_layout(tp->ts[i], &tp->guards[i])) return false;
    }
    for (size_t i = 0; i < tp->ngg; i++)
        if (tp->gg[i].guarded && tp->gg[i].leaf->grad != tp->gg[i].grad) return false;
    return true;
}

/* dst = src, of the same shape; one memcpy when both are dense and of one dtype. */
static int copy_same(cg_tensor *dst, cg_tensor *src) {
    if (dst->dtype == src->dtype && cg_tensor_is_contiguous(dst) && cg_tensor_is_contiguous(src)) {
        memcpy(cg_ptr(dst), cg_ptr(src), (size_t)(dst->numel * cg_dtype_size((cg_dtype)dst->dtype)));
        return 0;
    }
    return cg_copy_data(dst, src);
}

static cg_tensor *copy_of(cg_tensor *t) {
    cg_tensor *c = cg_new_tensor(t->shape, t->ndim, (cg_dtype)t->dtype);
    if (c && copy_same(c, t)) {
        cg_tensor_release(c);
        return NULL;
    }
    return c;
}

int cg_tape_replay(cg_tape *tp, cg_tensor *const *args, int n, cg_tensor **outs) {
    if (cg_ts.tape || tp->recording || tp->broken || n != tp->nin) {
        cg_error_set(CG_ERR_RUNTIME, "this recording cannot be replayed here");
        return -1;
    }
    if (!tp->watch && prepare(tp)) {
        cg_oom((int64_t)tp->nts * 8);
        return -1;
    }
    if (!guards_hold(tp)) return 1;
    for (int i = 0; i < n; i++)
        if (copy_same(tp->inputs[i], args[i])) return -1;
    for (size_t i = 0; i < tp->n; i++) {
        const entry *e = &tp->e[i];
        if (e->plan)
            cg_loop_plan_run(e->plan, (cg_loop)(uintptr_t)e->k.i[0]);
        else if (!e->skip && e->fn(&e->k))
            return -1;
    }
    for (int i = 0; i < n; i++)
        if (tp->written_input[i] && copy_same(args[i], tp->inputs[i])) return -1;
    for (int i = 0; i < tp->nout; i++) {
        if (!(outs[i] = copy_of(tp->outputs[i]))) {
            while (i--) cg_tensor_release(outs[i]);
            return -1;
        }
    }
    return 0;
}

/* ---- refreshing optimizer hyper-parameters ----------------------------------------------------- */

int cg_tape_refresh_begin(cg_tape *tp) {
    if (cg_ts.tape || refreshing) {
        cg_error_set(CG_ERR_RUNTIME, "cannot refresh a recording while recording or refreshing");
        return -1;
    }
    refreshing = tp;
    tp->refresh_at = 0;
    tp->refresh_ok = true;
    return 0;
}

int cg_tape_refresh_end(cg_tape *tp) {
    if (refreshing == tp) refreshing = NULL;
    for (size_t i = tp->refresh_at; i < tp->n; i++)
        if (tp->e[i].refresh) tp->refresh_ok = false; /* a recorded step was not called */
    return tp->refresh_ok ? 0 : 1;
}

int cg_tape_refreshing(void) { return refreshing != NULL; }

int cg_tape_refresh(cg_kernel_fn fn, const cg_kargs *k) {
    cg_tape *tp = refreshing;
    if (CG_LIKELY(!tp)) return 0;
    size_t i = tp->refresh_at;
    while (i < tp->n && !tp->e[i].refresh) i++;
    entry *e = i < tp->n ? &tp->e[i] : NULL;
    bool same = e && e->fn == fn && e->k.nv == k->nv && !memcmp(e->k.i, k->i, sizeof k->i);
    for (int j = 0; same && j < k->nv; j++) same = e->k.v[j] == k->v[j];
    if (same)
        memcpy(e->k.f, k->f, sizeof k->f);
    else
        tp->refresh_ok = false;
    tp->refresh_at = e ? i + 1 : tp->n;
    return 1;
}
