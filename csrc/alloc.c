/* alloc.c -- per-thread pools of the core's small objects, and the
 * per-thread state every op reads.
 *
 * A graph of n ops allocates about 3n small objects (node, tensor header,
 * storage header); malloc's slow path cost more than the op itself. Pools
 * hand them out from slabs of 64 (one allocation each, objects on whole
 * cache lines) and take them back on a free list. Memory is kept for the
 * next graph, never given back to the system; when a thread exits, its
 * pools go to a shared orphan pool that the other threads refill from
 * before they allocate new slabs.
 *
 * Slabs are cut from 2 MB chunks that ask the kernel for a huge page: a
 * big graph's objects then sit on a few dozen pages instead of thousands,
 * and the same chain of ops ran about a fifth faster, and less differently
 * from one process to the next (their physical pages no longer land on the
 * caches' sets by chance). A thread that exits leaves the rest of its
 * chunk to the next thread that needs one.
 *
 * The state lives in initial-exec TLS: one %fs-relative load, instead of a
 * call into the dynamic linker for every access from a dlopen'ed module.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "internal.h"

__thread cg_tstate cg_ts __attribute__((tls_model("initial-exec")));

#define SLAB 64

static pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;
static cg_pool orphans[3]; /* tensors, storages, nodes: as in cg_tstate */

#define CHUNK ((size_t)2 << 20)
static __thread char *chunk_cur __attribute__((tls_model("initial-exec")));
static __thread char *chunk_end __attribute__((tls_model("initial-exec")));
static char *spare_cur, *spare_end; /* the rest of an exited thread's chunk (orphan_lock) */

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static cg_pool *pools_of(cg_tstate *ts) { return &ts->tensors; }

/* Thread exit: free what this thread holds and hand its pools to the others. */
static void thread_exit(void *unused) {
    (void)unused;
    /* first: freeing the cached numbers returns objects to this thread's pools */
    for (int i = 0; i < CG_SCALAR_CACHE; i++) {
        cg_tensor_release(cg_ts.scalars[i].t);
        cg_ts.scalars[i].t = NULL;
    }
    cg_pool *mine = pools_of(&cg_ts);
    pthread_mutex_lock(&orphan_lock);
    for (int k = 0; k < 3; k++) {
        void *obj = mine[k].head;
        while (obj) {
            void *next = *(void **)obj;
            *(void **)obj = orphans[k].head;
            orphans[k].head = obj;
            obj = next;
        }
        orphans[k].count += mine[k].count;
        mine[k].head = NULL;
        mine[k].count = 0;
    }
    if (chunk_end - chunk_cur > spare_end - spare_cur) { /* the bigger rest is kept */
        spare_cur = chunk_cur, spare_end = chunk_end;
        chunk_cur = chunk_end = NULL;
    }
    pthread_mutex_unlock(&orphan_lock);
    free(cg_ts.reap.items);
    cg_ts.reap.items = NULL;
    cg_ts.reap.cap = cg_ts.reap.n = 0;
}

static void init_exit_key(void) { pthread_key_create(&exit_key, thread_exit); }

void cg_at_thread_exit(void) {
    pthread_once(&exit_once, init_exit_key);
    pthread_setspecific(exit_key, (void *)1);
}

/* Takes the orphan pool matching p, if it has anything. */
static bool adopt_orphans(cg_pool *p) {
    int k = (int)(p - pools_of(&cg_ts));
    if (k < 0 || k >= 3 || !orphans[k].head) return false;
    pthread_mutex_lock(&orphan_lock);
    *p = orphans[k];
    orphans[k].head = NULL;
    orphans[k].count = 0;
    pthread_mutex_unlock(&orphan_lock);
    return p->head != NULL;
}

/* bytes (at most CHUNK, a multiple of 64) for a slab, 64-aligned. */
static void *slab_alloc(size_t bytes) {
    if ((size_t)(chunk_end - chunk_cur) < bytes) {
        pthread_mutex_lock(&orphan_lock);
        if ((size_t)(spare_end - spare_cur) >= bytes) {
            chunk_cur = spare_cur, chunk_end = spare_end;
            spare_cur = spare_end = NULL;
        }
        pthread_mutex_unlock(&orphan_lock);
    }
    if ((size_t)(chunk_end - chunk_cur) < bytes) {
        void *c = NULL;
        if (posix_memalign(&c, CHUNK, CHUNK) != 0) return aligned_alloc(64, bytes);
#ifdef MADV_HUGEPAGE
        madvise(c, CHUNK, MADV_HUGEPAGE); /* a hint: without it, 4 KB pages */
#endif
        chunk_cur = c;
        chunk_end = chunk_cur + CHUNK;
    }
    void *slab = chunk_cur;
    chunk_cur += bytes;
    return slab;
}

void *cg_pool_refill(cg_pool *p, size_t size) {
    cg_at_thread_exit(); /* so thread_exit runs at this thread's exit */
    if (adopt_orphans(p)) return cg_pool_get(p, size, size);
    size = (size + 63) & ~(size_t)63; /* whole cache lines: an object spans as few as it can */
    char *slab = slab_alloc(size * SLAB);
    if (!slab) return cg_oom((int64_t)(size * SLAB));
    for (int i = SLAB - 1; i >= 1; i--) { /* keep the first, chain the rest */
        void *obj = slab + (size_t)i * size;
        *(void **)obj = p->head;
        p->head = obj;
    }
    p->count += SLAB - 1;
    return slab;
}

/* ---- large data buffers -------------------------------------------------------
 * A freshly mapped buffer costs a page fault per 4 KB on first touch: for a
 * 16 MB tensor that is more than the arithmetic. Freed buffers of 64 KB and
 * more are kept, by size class (four per power of two), and handed out again;
 * at most CACHE_LIMIT bytes are kept. A buffer of HUGE_DATA and more is
 * aligned to 2 MB and asks for huge pages, as numpy's big arrays do: an op
 * streaming three 16 MB operands then misses the TLB every 2 MB instead of
 * every 4 KB (big_elementwise became about a tenth faster). */

#define BIG 65536
#define CACHE_LIMIT ((int64_t)1 << 30)
#define HUGE_DATA ((int64_t)4 << 20)
#define CLASSES 256

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static void *cache[CLASSES]; /* free blocks, linked through their first word */
static int64_t cached_bytes;

/* The size class of n >= BIG: its index and its rounded-up size. */
static int size_class(int64_t n, int64_t *size) {
    int p = 63 - __builtin_clzll((unsigned long long)n);
    int64_t base = (int64_t)1 << p, quarter = base >> 2;
    int64_t q = (n - base + quarter - 1) / quarter; /* 0..4 */
    *size = base + q * quarter;
    return p * 4 + (int)q;
}

void *cg_data_alloc(int64_t nbytes) {
    if (nbytes < BIG) {
        void *p = NULL;
        size_t rounded = ((size_t)nbytes + 63) & ~(size_t)63;
        return posix_memalign(&p, 64, rounded) == 0 ? p : NULL;
    }
    int64_t size;
    int c = size_class(nbytes, &size);
    if (c < CLASSES && cache[c]) {
        pthread_mutex_lock(&cache_lock);
        void *p = cache[c];
        if (p) {
            cache[c] = *(void **)p;
            cached_bytes -= size;
        }
        pthread_mutex_unlock(&cache_lock);
        if (p) return p;
    }
    void *p = NULL;
    if (size < HUGE_DATA) return posix_memalign(&p, 4096, (size_t)size) == 0 ? p : NULL;
    if (posix_memalign(&p, CHUNK, (size_t)size) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, (size_t)size, MADV_HUGEPAGE); /* a hint, as for the chunks */
#endif
    return p;
}

void cg_data_free(void *p, int64_t nbytes) {
    if (nbytes < BIG) {
        free(p);
        return;
    }
    int64_t size;
    int c = size_class(nbytes, &size);
    pthread_mutex_lock(&cache_lock);
    bool keep = c < CLASSES && cached_bytes + size <= CACHE_LIMIT;
    if (keep) {
        *(void **)p = cache[c];
        cache[c] = p;
        cached_bytes += size;
    }
    pthread_mutex_unlock(&cache_lock);
    if (!keep) free(p);
}

int cg_grow_slow(void **arr, size_t *cap, size_t need, size_t elem) {
    size_t cap2 = *cap ? *cap * 2 : 32;
    while (cap2 < need) cap2 *= 2;
    void *p = realloc(*arr, cap2 * elem);
    if (!p) {
        cg_oom((int64_t)(cap2 * elem));
        return -1;
    }
    *arr = p;
    *cap = cap2;
    return 0;
}
