/* ops_pool.c -- max, average and adaptive pooling, and max unpooling: forward and backward side by side.
 *
 * The 3-d ops pool the last three dims of a (C, D, H, W) or (N, C, D, H, W) input, the 2-d
 * ones the last two of (C, H, W) or (N, C, H, W). The kernels see every pool as 3-d, over
 * contiguous D x H x W volumes: a 2-d pool is one over volumes of depth 1 with windows of
 * depth 1, so its indices are positions in the H x W plane, as PyTorch's. The 1-d ops are
 * the 2-d ones on x.unsqueeze(-2), squeezed back, as PyTorch builds them. Each pooling call
 * records one node, named as PyTorch names it.
 *
 * Every window is a span along each axis (struct span), so one loop serves the strided
 * windows of max and average pools and the adaptive ones alike.
 *
 * All the backward formulas are linear in the incoming gradient, and each is a fused op whose
 * own backward is its adjoint:
 *   max pools     g scattered (added) at the saved argmax positions; the
 *                 adjoint gathers at the same positions, written with
 *                 cg_gather, so gradients of any order follow;
 *   average pools g spread evenly over each window; the adjoint is the
 *                 average pool itself, so the two alternate at every order;
 *   max unpooling x written at the positions indices hold; the adjoint
 *                 gathers there, as the max pools' double backward does.
 * Fractional max pools are max pools whose windows (of a fixed size) start at
 * pseudo-random places, drawn per plane from the samples the caller gives.
 */
#include <math.h>

#include "internal.h"

#define VP(t) ((void *)cg_ptr(t)) /* a tensor's first element, as any pointer type */
#define IS_NAN(v) ((v) != (v))    /* folds to false for integers */

/* Sets PyTorch's RuntimeError message (printf arguments); evaluates to -1. */
#define pool_error(...) (cg_error_set(CG_ERR_RUNTIME, __VA_ARGS__), -1)

#define LL(v) ((long long)(v))

/* The kinds of pool: each has one node per number of spatial dims (2 or 3). */
enum { K_MAX, K_AVG, K_ADAPTIVE_MAX, K_ADAPTIVE_AVG, K_UNPOOL, K_FRACTIONAL, N_KINDS };

/* A pool's geometry, copied as bytes into n->i and cg_kargs.i. Per axis (depth, height,
 * width; a 2-d pool's depth has kernel, stride and dilation 1) the kernel, stride, padding
 * and dilation (1 for average pools), ints as PyTorch's pools keep them; average pools add
 * count_include_pad and divisor_override (0: none). Adaptive pools need none of these: the
 * input and output sizes say everything; fractional pools need only the kernel, their
 * windows start where per-plane random samples say. */
typedef struct geom {
    int32_t k[3], s[3], p[3], d[3];
    int8_t kind, nsp, include_pad;
    int64_t divisor;
} geom;
_Static_assert(sizeof(geom) <= sizeof(((cg_kargs *)0)->i), "a pool's geometry outgrew a kernel's ints");
_Static_assert(sizeof(geom) <= sizeof(((cg_node *)0)->i), "a pool's geometry outgrew a node's ints");

static geom geom_at(const int64_t *i) {
    geom g;
    memcpy(&g, i, sizeof g);
    return g;
}

/* g for kind over nsp axes from nsp-long k, s, p and d (NULL: 1s), or, when k is NULL,
 * an adaptive one; -1 with PyTorch's error when a value does not fit an int. */
static int geom_make(geom *g, int kind, int nsp, const int64_t *k, const int64_t *s, const int64_t *p,
                     const int64_t *d) {
    *g = (geom){.k = {1, 1, 1}, .s = {1, 1, 1}, .d = {1, 1, 1}, .kind = (int8_t)kind, .nsp = (int8_t)nsp};
    for (int a = 0; k && a < nsp; a++) {
        int64_t v[4] = {k[a], s[a], p[a], d ? d[a] : 1};
        for (int j = 0; j < 4; j++)
            if (v[j] < INT32_MIN || v[j] > INT32_MAX)
                return pool_error("value cannot be converted to type int without overflow");
        int at = 3 - nsp + a;
        g->k[at] = (int32_t)v[0];
        g->s[at] = (int32_t)v[1];
        g->p[at] = (int32_t)v[2];
        g->d[at] = (int32_t)v[3];
    }
    return 0;
}

static bool adaptive(const geom *g) { return g->kind == K_ADAPTIVE_MAX || g->kind == K_ADAPTIVE_AVG; }

/* ---- windows ------------------------------------------------------------------------- */

/* The input positions one output position reads along an axis: lo, lo + step, ... below hi.
 * size is the extent counted with the padding, what count_include_pad divides by. */
typedef struct span {
    int64_t lo, hi, step, size;
} span;

/* The span of output o of n along axis a (of length len) */
static span window(const geom *g, int a, int64_t o, int64_t n, int64_t len) {
    span w = {0, 0, 1, 0};
    if (adaptive(g)) { /* PyTorch's start and end indices: floor(o len / n), ceil((o + 1) len / n) */
        w.lo = o * len / n;
        w.hi = ((o + 1) * len + n - 1) / n;
        w.size = w.hi - w.lo;
        return w;
    }
    int64_t k = g->k[a], s = g->s[a], p = g->p[a];
    w.lo = o * s - p;
    if (g->kind == K_MAX) { /* dilated; positions in the padding are skipped, not read */
        w.step = g->d[a];
        w.hi = w.lo + (k - 1) * w.step + 1 < len ? w.lo + (k - 1) * w.step + 1 : len;
        if (w.lo < 0) w.lo += (-w.lo + w.step - 1) / w.step * w.step;
        return w;
    }
    w.hi = w.lo + k < len + p ? w.lo + k : len + p; /* the padding counts, the right one only up to p */
    w.size = w.hi - w.lo;
    w.lo = w.lo > 0 ? w.lo : 0;
    w.hi = w.hi < len ? w.hi : len;
    return w;
}

/* A pool's volumes: P of in[0] x in[1] x in[2] in, of out[0] x out[1] x out[2] out. */
typedef struct vol {
    int64_t P, in[3], out[3];
} vol;

/* The volumes of a pool of nsp dims from in to out (the last nsp dims of each) */
static vol vol_of(const cg_tensor *in, const cg_tensor *out, int nsp) {
    vol v = {1, {1, 1, 1}, {1, 1, 1}};
    int lead = in->ndim - nsp;
    for (int a = 0; a < nsp; a++) {
        v.in[3 - nsp + a] = in->shape[lead + a];
        v.out[3 - nsp + a] = out->shape[lead + a];
    }
    for (int d = 0; d < lead; d++) v.P *= in->shape[d];
    return v;
}

static int64_t in_size(vol v) { return v.in[0] * v.in[1] * v.in[2]; }
static int64_t out_size(vol v) { return v.out[0] * v.out[1] * v.out[2]; }

/* The spans of every output position along depth, then height, then width; free() them.
 * NULL (an error set) when out of memory. */
static span *windows(const geom *g, vol v) {
    int64_t n = v.out[0] + v.out[1] + v.out[2] + 1; /* + 1: an empty output mallocs something */
    span *sp = malloc(sizeof(span) * (size_t)n), *w = sp;
    if (!sp) return cg_oom((int64_t)sizeof(span) * n);
    for (int a = 0; a < 3; a++)
        for (int64_t o = 0; o < v.out[a]; o++) *w++ = window(g, a, o, v.out[a], v.in[a]);
    return sp;
}

/* A window: a span along each axis (depth, height, width), passed by value so that the
 * loops keep it in registers. */
typedef struct box {
    span a[3];
} box;

/* What the sum over window b is divided by, in three steps: PyTorch's average pools divide
 * once, its adaptive ones by the depth, the height and then the width. */
typedef struct divs {
    int64_t d[3];
} divs;

/* The rule of divisors, read once from a geometry: the loops keep it in registers. */
typedef struct rule {
    bool adaptive, include_pad;
    int64_t divisor;
} rule;

static inline divs divisors(rule u, box b) {
    const span *w = b.a;
    if (u.adaptive) return (divs){{w[0].hi - w[0].lo, w[1].hi - w[1].lo, w[2].hi - w[2].lo}};
    int64_t d = u.divisor        ? u.divisor
                : u.include_pad ? w[0].size * w[1].size * w[2].size
                                : (w[0].hi - w[0].lo) * (w[1].hi - w[1].lo) * (w[2].hi - w[2].lo);
    return (divs){{d, 1, 1}};
}

static rule rule_of(const geom *g) { return (rule){adaptive(g), g->include_pad, g->divisor}; }

static inline bool empty_window(box b) {
    return b.a[0].lo >= b.a[0].hi || b.a[1].lo >= b.a[1].hi || b.a[2].lo >= b.a[2].hi;
}

/* Walks the output positions of one volume of a pool over v with its windows sp: b the
 * window of each, in output order. flat (a constant): a 2-d pool, whose depth is one
 * plane read by windows of depth 1; the loops then keep no depth in registers. */
#define FOR_WINDOWS(v, sp, b, flat)                                                                   \
    for (int64_t od_ = 0; od_ < ((flat) ? 1 : (v).out[0]); od_++)                                     \
        for (int64_t oh_ = 0; oh_ < (v).out[1]; oh_++)                                                \
            for (int64_t ow_ = 0; ow_ < (v).out[2]; ow_++)                                            \
                for (int once_ = 1; once_;)                                                           \
                    for (box b = {{(flat) ? (span){0, 1, 1, 1} : (sp)[od_], (sp)[(v).out[0] + oh_],      \
                                   (sp)[(v).out[0] + (v).out[1] + ow_]}};                                 \
                         once_; once_ = 0)

/* Walks the rows of window b: r, the position (in its volume) of the row's column 0. The
 * caller walks the columns, with unit steps where it can, so the loops vectorize. */
#define FOR_ROWS(v, b, r, flat)                                                                       \
    for (int64_t d_ = (flat) ? 0 : b.a[0].lo; d_ < ((flat) ? 1 : b.a[0].hi); d_ += (flat) ? 1 : b.a[0].step) \
        for (int64_t h_ = b.a[1].lo, r = (d_ * (v).in[1] + h_) * (v).in[2]; h_ < b.a[1].hi;           \
             h_ += b.a[1].step, r += b.a[1].step * (v).in[2])

/* fn(args..., flat) with flat a constant, true for 2-d pools: the kernels are inlined into
 * each call, so each gets a loop of its own for 2-d pools. */
#define BY_DIMS(nsp, fn, ...) ((nsp) == 2 ? fn(__VA_ARGS__, true) : fn(__VA_ARGS__, false))
#define KERNEL static inline __attribute__((always_inline))

/* ---- kernels ------------------------------------------------------------------------- */

/* y, ix = the maximum of each window and its position in the volume. best starts below
 * every value, so a window of -inf keeps its first position; a NaN takes over from
 * anything, the last NaN from the NaNs before it, as PyTorch's. */
#define MAX_POOL_LOOP(NAME, T, LOWEST)                                                       \
    KERNEL void NAME(const T *x, T *y, int64_t *ix, vol v, const span *sp, bool flat) {      \
        for (int64_t p = 0; p < v.P; p++, x += in_size(v))                                   \
            FOR_WINDOWS(v, sp, b, flat) {                                                    \
                const span c = b.a[2];                                                       \
                int64_t at = (b.a[0].lo * v.in[1] + b.a[1].lo) * v.in[2] + c.lo;             \
                T best = LOWEST;                                                             \
                FOR_ROWS(v, b, r, flat)                                                      \
                    for (int64_t i = r + c.lo; i < r + c.hi; i += c.step)                    \
                        if (x[i] > best || IS_NAN(x[i])) {                                   \
                            best = x[i];                                                     \
                            at = i;                                                          \
                        }                                                                    \
                *y++ = best;                                                                 \
                *ix++ = at;                                                                  \
            }                                                                                \
    }
MAX_POOL_LOOP(max_pool_f32, float, -INFINITY)
MAX_POOL_LOOP(max_pool_f64, double, -INFINITY)
MAX_POOL_LOOP(max_pool_i64, int64_t, INT64_MIN)

/* v / dv.d[0] / dv.d[1] / dv.d[2] in v's type, skipping the divisions by 1 (exact) that average
 * pools would make: a division costs more than the rest of a small window. */
#define divided(v, dv)                                                                       \
    _Generic((v), float: divided_f32, double: divided_f64, default: divided_i64)(v, dv)
#define DIVIDED(NAME, T)                                                                     \
    static inline T NAME(T v, divs dv) {                                                     \
        v /= (T)dv.d[0];                                                                     \
        if (dv.d[1] != 1) v /= (T)dv.d[1];                                                   \
        if (dv.d[2] != 1) v /= (T)dv.d[2];                                                   \
        return v;                                                                            \
    }
DIVIDED(divided_f32, float)
DIVIDED(divided_f64, double)
DIVIDED(divided_i64, int64_t)

/* y = the sum of each window (accumulated in T, as PyTorch's CPU kernels) divided as
 * divisors says; an empty window gives 0. Integers divide as integers. */
#define AVG_POOL_LOOP(NAME, T)                                                               \
    KERNEL void NAME(const T *x, T *y, vol v, const span *sp, rule u, bool flat) {           \
        for (int64_t p = 0; p < v.P; p++, x += in_size(v))                                   \
            FOR_WINDOWS(v, sp, b, flat) {                                                    \
                const int64_t c0 = b.a[2].lo, c1 = b.a[2].hi;                                \
                T sum = 0;                                                                   \
                FOR_ROWS(v, b, r, flat) for (int64_t i = r + c0; i < r + c1; i++) sum += x[i]; \
                *y++ = empty_window(b) ? 0 : divided(sum, divisors(u, b));                   \
            }                                                                                \
    }
AVG_POOL_LOOP(avg_pool_f32, float)
AVG_POOL_LOOP(avg_pool_f64, double)
AVG_POOL_LOOP(avg_pool_i64, int64_t)

/* gx (zeroed) += each g divided as divisors says, over its window: the adjoint of AVG_POOL_LOOP */
#define AVG_SPREAD_LOOP(NAME, T)                                                             \
    KERNEL void NAME(const T *g, T *gx, vol v, const span *sp, rule u, bool flat) {          \
        memset(gx, 0, sizeof(T) * (size_t)(v.P * in_size(v)));                               \
        for (int64_t p = 0; p < v.P; p++, gx += in_size(v))                                  \
            FOR_WINDOWS(v, sp, b, flat) {                                                    \
                T share = *g++;                                                              \
                if (empty_window(b)) continue;                                               \
                const int64_t c0 = b.a[2].lo, c1 = b.a[2].hi;                                \
                share = divided(share, divisors(u, b));                                      \
                FOR_ROWS(v, b, r, flat) for (int64_t i = r + c0; i < r + c1; i++) gx[i] += share; \
            }                                                                                \
    }
AVG_SPREAD_LOOP(avg_spread_f32, float)
AVG_SPREAD_LOOP(avg_spread_f64, double)

/* gx (zeroed) += g at the saved positions, volume by volume, in output order as PyTorch
 * adds them; false if a position is outside its volume. */
#define MAX_SCATTER_LOOP(NAME, T)                                                            \
    static bool NAME(const T *g, const int64_t *ix, T *gx, vol v) {                          \
        int64_t area = in_size(v), n = out_size(v);                                          \
        memset(gx, 0, sizeof(T) * (size_t)(v.P * area));                                     \
        for (int64_t p = 0; p < v.P; p++, gx += area)                                        \
            for (int64_t o = 0; o < n; o++, g++, ix++) {                                     \
                if (*ix < 0 || *ix >= area) return false;                                    \
                gx[*ix] += *g;                                                               \
            }                                                                                \
        return true;                                                                         \
    }
MAX_SCATTER_LOOP(max_scatter_f32, float)
MAX_SCATTER_LOOP(max_scatter_f64, double)

/* y (zeroed, volumes of v.out) takes each x (volumes of v.in) at the position its index
 * holds, later ones over earlier ones, as PyTorch's; an index outside its volume is
 * skipped and the last such one kept in *bad. Elements are es bytes, so any dtype. */
static bool unpool_loop(const char *x, const int64_t *ix, char *y, vol v, size_t es, int64_t *bad) {
    int64_t n = in_size(v), area = out_size(v);
    bool ok = true;
    memset(y, 0, es * (size_t)(v.P * area));
    for (int64_t p = 0; p < v.P; p++, y += es * (size_t)area)
        for (int64_t i = 0; i < n; i++, x += es, ix++) {
            if (*ix < 0 || *ix >= area) {
                ok = false;
                *bad = *ix;
                continue;
            }
            memcpy(y + es * (size_t)*ix, x, es);
        }
    return ok;
}

/* PyTorch's generate_intervals: where each of n windows of size k starts along an axis of len,
 * from a sample u in [0, 1), computed in T as PyTorch computes it. */
#define FRACTIONAL_STARTS(NAME, T)                                                           \
    static void NAME(T u, int64_t len, int64_t n, int64_t k, span *w) {                     \
        T alpha = n > 1 ? (T)(len - k) / (T)(n - 1) : 0;                                     \
        for (int64_t i = 0; i < n; i++) {                                                    \
            int64_t lo = i < n - 1 ? (int)(((T)i + u) * alpha) - (int)(u * alpha) : len - k; \
            w[i] = (span){lo, lo + k, 1, k};                                                 \
        }                                                                                    \
    }
FRACTIONAL_STARTS(fractional_starts_f32, float)
FRACTIONAL_STARTS(fractional_starts_f64, double)

/* t = {y, indices, dense x, dense samples}, i = the geometry: plane p's windows start where
 * its samples (nsp of them, the width's first in 2-d) say, then it is max pooled alone. */
static int fractional_kernel(const cg_kargs *k) {
    cg_tensor *y = k->t[0], *x = k->t[2];
    geom g = geom_at(k->i);
    vol v = vol_of(x, y, g.nsp), one = v;
    one.P = 1;
    int64_t n = v.out[0] + v.out[1] + v.out[2] + 1;
    span *sp = malloc(sizeof(span) * (size_t)n);
    if (!sp) {
        cg_oom((int64_t)sizeof(span) * n);
        return -1;
    }
    /* which sample each axis (depth, height, width) takes: PyTorch's order */
    const int which[2][3] = {{-1, 1, 0}, {0, 1, 2}};
    bool f64 = x->dtype == CG_FLOAT64;
    for (int64_t p = 0; p < v.P; p++) {
        span *w = sp;
        for (int a = 0; a < 3; w += v.out[a], a++) {
            int j = which[g.nsp - 2][a];
            if (j < 0) { /* a 2-d pool's depth */
                w[0] = (span){0, 1, 1, 1};
                continue;
            }
            if (f64)
                fractional_starts_f64(((const double *)VP(k->t[3]))[p * g.nsp + j], v.in[a], v.out[a], g.k[a], w);
            else
                fractional_starts_f32(((const float *)VP(k->t[3]))[p * g.nsp + j], v.in[a], v.out[a], g.k[a], w);
        }
        int64_t *ix = (int64_t *)VP(k->t[1]) + p * out_size(v);
        if (f64)
            BY_DIMS(g.nsp, max_pool_f64, (const double *)VP(x) + p * in_size(v), (double *)VP(y) + p * out_size(v),
                    ix, one, sp);
        else
            BY_DIMS(g.nsp, max_pool_f32, (const float *)VP(x) + p * in_size(v), (float *)VP(y) + p * out_size(v),
                    ix, one, sp);
    }
    free(sp);
    return 0;
}

/* t = {y, indices, dense x}, i = the geometry */
static int max_pool_kernel(const cg_kargs *k) {
    cg_tensor *y = k->t[0], *x = k->t[2];
    geom g = geom_at(k->i);
    vol v = vol_of(x, y, g.nsp);
    span *sp = windows(&g, v);
    if (!sp) return -1;
    int64_t *ix = VP(k->t[1]);
    switch (x->dtype) {
    case CG_FLOAT32: BY_DIMS(g.nsp, max_pool_f32, VP(x), VP(y), ix, v, sp); break;
    case CG_FLOAT64: BY_DIMS(g.nsp, max_pool_f64, VP(x), VP(y), ix, v, sp); break;
    default: BY_DIMS(g.nsp, max_pool_i64, VP(x), VP(y), ix, v, sp); break;
    }
    free(sp);
    return 0;
}

/* t = {y, dense x}, i = the geometry */
static int avg_pool_kernel(const cg_kargs *k) {
    cg_tensor *y = k->t[0], *x = k->t[1];
    geom g = geom_at(k->i);
    vol v = vol_of(x, y, g.nsp);
    span *sp = windows(&g, v);
    if (!sp) return -1;
    switch (x->dtype) {
    case CG_FLOAT32: BY_DIMS(g.nsp, avg_pool_f32, VP(x), VP(y), v, sp, rule_of(&g)); break;
    case CG_FLOAT64: BY_DIMS(g.nsp, avg_pool_f64, VP(x), VP(y), v, sp, rule_of(&g)); break;
    default: BY_DIMS(g.nsp, avg_pool_i64, VP(x), VP(y), v, sp, rule_of(&g)); break;
    }
    free(sp);
    return 0;
}

/* t = {gx, dense g}, i = the geometry */
static int avg_spread_kernel(const cg_kargs *k) {
    cg_tensor *gx = k->t[0], *g = k->t[1];
    geom gm = geom_at(k->i);
    vol v = vol_of(gx, g, gm.nsp);
    span *sp = windows(&gm, v);
    if (!sp) return -1;
    if (gx->dtype == CG_FLOAT64)
        BY_DIMS(gm.nsp, avg_spread_f64, VP(g), VP(gx), v, sp, rule_of(&gm));
    else
        BY_DIMS(gm.nsp, avg_spread_f32, VP(g), VP(gx), v, sp, rule_of(&gm));
    free(sp);
    return 0;
}

/* t = {gx, dense g, dense indices}, i = the geometry */
static int max_scatter_kernel(const cg_kargs *k) {
    cg_tensor *gx = k->t[0], *g = k->t[1];
    vol v = vol_of(gx, g, geom_at(k->i).nsp);
    bool ok = gx->dtype == CG_FLOAT64 ? max_scatter_f64(VP(g), VP(k->t[2]), VP(gx), v)
                                      : max_scatter_f32(VP(g), VP(k->t[2]), VP(gx), v);
    if (!ok) cg_error_set(CG_ERR_RUNTIME, "max pooling backward: an index is outside its plane");
    return ok ? 0 : -1;
}

/* t = {y, dense x, dense indices}, i = the geometry */
static int unpool_kernel(const cg_kargs *k) {
    cg_tensor *y = k->t[0], *x = k->t[1];
    int nsp = geom_at(k->i).nsp;
    vol v = vol_of(x, y, nsp);
    int64_t bad = 0;
    if (unpool_loop(VP(x), VP(k->t[2]), VP(y), v, cg_dtype_size((cg_dtype)x->dtype), &bad)) return 0;
    if (nsp == 3)
        return pool_error("Found an invalid max index: %lld (output volumes are of size %lldx%lldx%lld)", LL(bad),
                          LL(v.out[0]), LL(v.out[1]), LL(v.out[2]));
    return pool_error("Found an invalid max index: %lld (output volumes are of size %lldx%lld)", LL(bad),
                      LL(v.out[1]), LL(v.out[2]));
}

/* ---- helpers ------------------------------------------------------------------------- */

/* t as a contiguous tensor of dtype (t itself when it already is one) */
static cg_tensor *dense_as(cg_tensor *t, cg_dtype dtype) {
    if (t->dtype == dtype && cg_tensor_is_contiguous(t)) {
        cg_tensor_retain(t);
        return t;
    }
    cg_tensor *out = cg_empty(t->shape, t->ndim, dtype);
    if (out && cg_copy_data(out, t)) {
        cg_tensor_release(out);
        return NULL;
    }
    return out;
}

/* x's shape with its last nsp dims made osz[0..nsp) */
static void pooled_shape(const cg_tensor *x, int nsp, const int64_t *osz, int64_t *shape) {
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    memcpy(shape + x->ndim - nsp, osz, sizeof(int64_t) * (size_t)nsp);
}

/* Makes out the result of a new node of op over ins[0..nin), keeping the geometry g and
 * saving s0, s1 (NULL: none) in slots 0, 1; out is released on failure. */
static cg_tensor *record(const cg_op *op, cg_tensor *out, cg_tensor *const *ins, int nin, const geom *g,
                         cg_tensor *s0, cg_tensor *s1) {
    if (!out || !cg_any_requires_grad(ins, nin)) return out;
    cg_node *n = cg_node_new(op, ins, nin, 1);
    if (!n || (s0 && cg_save(n, 0, s0, false)) || (s1 && cg_save(n, 1, s1, false))) {
        cg_tensor_release(out);
        cg_node_release(n);
        return NULL;
    }
    memcpy(n->i, g, sizeof *g);
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* The second input of a pool's backward, x: it is there for its shape only, as
 * PyTorch's self, so its gradient is zeros (PyTorch's zeros_like(self)). */
static int zeros_for_input(cg_node *n, cg_tensor **gin) {
    if (!cg_wants(n, 1)) return 0;
    const cg_shape *s = &n->in_shape[1];
    return (gin[1] = cg_zeros(s->d, s->ndim, (cg_dtype)n->in_dtype[1])) ? 0 : -1;
}

/* out after running fn over k with geometry g (out is k->t[0]); NULL, out released, if it failed */
static cg_tensor *run(cg_kernel_fn fn, cg_kargs *k, const geom *g) {
    memcpy(k->i, g, sizeof *g);
    if (k->t[0]->numel && cg_kernel(fn, k)) {
        cg_tensor_release(k->t[0]);
        return NULL;
    }
    return k->t[0];
}

/* The (..., -1) view of t with its last nsp dims flattened */
static cg_tensor *flat_volumes(cg_tensor *t, int nsp) {
    int64_t shape[CG_MAX_DIMS];
    int lead = t->ndim - nsp;
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)lead);
    shape[lead] = -1;
    return cg_reshape(t, shape, lead + 1);
}

/* gg read at the positions idx holds, volume by volume: the adjoint of max_scatter and of
 * max unpooling, PyTorch's max_pool_double_backward */
static cg_tensor *gather_volumes(cg_tensor *gg, cg_tensor *idx, int nsp) {
    if (idx->numel == 0) return cg_zeros(idx->shape, idx->ndim, (cg_dtype)gg->dtype);
    cg_tensor *fg = flat_volumes(gg, nsp), *fi = fg ? flat_volumes(idx, nsp) : NULL;
    cg_tensor *r = fi ? cg_gather(fg, -1, fi) : NULL;
    cg_tensor *out = r ? cg_reshape(r, idx->shape, idx->ndim) : NULL;
    cg_tensor_release(fg);
    cg_tensor_release(fi);
    cg_tensor_release(r);
    return out;
}

/* The nodes of each kind of pool, for 2 and 3 spatial dims, and of their backward */
static const cg_op pool_ops[N_KINDS][2], pool_bwd_ops[N_KINDS][2];
#define OP_OF(table, g) (&(table)[(g)->kind][(g)->nsp - 2])

/* PyTorch's names for the kernels, as a recorded step names them */
static const char *const kernel_names[N_KINDS][2] = {
    {"max_pool2d", "max_pool3d"}, {"avg_pool2d", "avg_pool3d"}, {"adaptive_max_pool2d", "adaptive_max_pool3d"},
    {"adaptive_avg_pool2d", "adaptive_avg_pool3d"}, {"max_unpool2d", "max_unpool3d"},
    {"fractional_max_pool2d", "fractional_max_pool3d"}};
#define NAME_OF(g) (kernel_names[(g)->kind][(g)->nsp - 2])

/* ---- max pooling ------------------------------------------------------------------------ */

/* The max pool of x, checked, into osz[0..nsp) windows; in *indices (a new reference) the argmax
 * positions. samples: a fractional pool's, dense, of x's dtype (NULL for other pools). */
static cg_tensor *max_pool_apply(cg_tensor *x, const int64_t *osz, const geom *g, cg_tensor *samples,
                                 cg_tensor **indices) {
    int64_t shape[CG_MAX_DIMS];
    pooled_shape(x, g->nsp, osz, shape);
    cg_tensor *xc = dense_as(x, (cg_dtype)x->dtype);
    cg_tensor *out = xc ? cg_empty(shape, x->ndim, (cg_dtype)x->dtype) : NULL;
    cg_tensor *idx = out ? cg_empty(shape, x->ndim, CG_INT64) : NULL;
    if (out && !idx) cg_tensor_release(out);
    if (idx) {
        cg_kargs k = {.name = NAME_OF(g), .t = {out, idx, xc, samples}, .nw = 2};
        out = run(samples ? fractional_kernel : max_pool_kernel, &k, g);
        out = record(OP_OF(pool_ops, g), out, &x, 1, g, x, idx);
    }
    cg_tensor_release(xc);
    if (!out || !idx) {
        cg_tensor_release(idx);
        return NULL;
    }
    *indices = idx;
    return out;
}

/* max_scatter is linear in g; its adjoint gathers at the same positions */
static int max_scatter_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    if (cg_wants(n, 0)) {
        cg_tensor *idx = cg_unpack(n, 0);
        gin[0] = idx ? gather_volumes(gout[0], idx, geom_at(n->i).nsp) : NULL;
        cg_tensor_release(idx);
        if (!gin[0]) return -1;
    }
    return zeros_for_input(n, gin);
}

/* A gradient for x holding g added at the positions idx holds; a node over (g, x) when
 * either requires grad, as PyTorch's max_pool2d_with_indices_backward. */
static cg_tensor *max_scatter(const geom *gm, cg_tensor *g, cg_tensor *x, cg_tensor *idx) {
    cg_dtype dtype = (cg_dtype)x->dtype;
    cg_tensor *gc = dense_as(g, dtype), *ic = gc ? dense_as(idx, CG_INT64) : NULL;
    cg_tensor *out = ic ? cg_empty(x->shape, x->ndim, dtype) : NULL;
    if (out) out = run(max_scatter_kernel, &(cg_kargs){.name = "max_pool_backward", .t = {out, gc, ic}, .nw = 1}, gm);
    cg_tensor_release(gc);
    cg_tensor_release(ic);
    return record(OP_OF(pool_bwd_ops, gm), out, (cg_tensor *[]){g, x}, 2, gm, idx, NULL);
}

/* d/dx max over a window = 1 at the window's argmax (saved), 0 elsewhere */
static int max_pool_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *x = cg_unpack(n, 0), *idx = x ? cg_unpack(n, 1) : NULL;
    geom g = geom_at(n->i);
    gin[0] = idx ? max_scatter(&g, gout[0], x, idx) : NULL;
    cg_tensor_release(x);
    cg_tensor_release(idx);
    return gin[0] ? 0 : -1;
}

/* ---- average pooling -------------------------------------------------------------------- */

/* The average pool of x, checked, into osz[0..nsp) windows. */
static cg_tensor *avg_pool_apply(cg_tensor *x, const int64_t *osz, const geom *g) {
    int64_t shape[CG_MAX_DIMS];
    pooled_shape(x, g->nsp, osz, shape);
    cg_tensor *xc = dense_as(x, (cg_dtype)x->dtype);
    cg_tensor *out = xc ? cg_empty(shape, x->ndim, (cg_dtype)x->dtype) : NULL;
    if (out) out = run(avg_pool_kernel, &(cg_kargs){.name = NAME_OF(g), .t = {out, xc}, .nw = 1}, g);
    cg_tensor_release(xc);
    return record(OP_OF(pool_ops, g), out, &x, 1, g, x, NULL);
}

/* The gradient for x that spreads grad over the windows: the adjoint of avg_pool_apply;
 * a node over (grad, x) when either requires grad, as PyTorch's. */
static cg_tensor *avg_spread(cg_tensor *grad, cg_tensor *x, const geom *g) {
    cg_dtype dtype = (cg_dtype)x->dtype;
    cg_tensor *gc = dense_as(grad, dtype);
    cg_tensor *out = gc ? cg_empty(x->shape, x->ndim, dtype) : NULL;
    if (out) out = run(avg_spread_kernel, &(cg_kargs){.name = "avg_pool_backward", .t = {out, gc}, .nw = 1}, g);
    cg_tensor_release(gc);
    return record(OP_OF(pool_bwd_ops, g), out, (cg_tensor *[]){grad, x}, 2, g, NULL, NULL);
}

/* avg_spread is linear in g; its adjoint is the average pool itself, into g's shape */
static int avg_spread_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    const cg_shape *gs = &n->in_shape[0];
    geom g = geom_at(n->i);
    if (cg_wants(n, 0) && !(gin[0] = avg_pool_apply(gout[0], gs->d + gs->ndim - g.nsp, &g))) return -1;
    return zeros_for_input(n, gin);
}

/* d/dx[j] of a window's mean = 1 / divisor for each j the window holds */
static int avg_pool_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *x = cg_unpack(n, 0);
    geom g = geom_at(n->i);
    gin[0] = x ? avg_spread(gout[0], x, &g) : NULL;
    cg_tensor_release(x);
    return gin[0] ? 0 : -1;
}

/* ---- max unpooling ---------------------------------------------------------------------- */

/* d/dx of x written at positions idx: the gradient read back at them */
static int unpool_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *idx = cg_unpack(n, 0);
    gin[0] = idx ? gather_volumes(gout[0], idx, geom_at(n->i).nsp) : NULL;
    cg_tensor_release(idx);
    return gin[0] ? 0 : -1;
}

/* x written at the positions idx holds into zeros of x's shape with its last nsp dims osz */
static cg_tensor *unpool_apply(cg_tensor *x, cg_tensor *idx, const int64_t *osz, const geom *g) {
    int64_t shape[CG_MAX_DIMS];
    pooled_shape(x, g->nsp, osz, shape);
    cg_tensor *xc = dense_as(x, (cg_dtype)x->dtype), *ic = xc ? dense_as(idx, CG_INT64) : NULL;
    cg_tensor *out = ic ? cg_empty(shape, x->ndim, (cg_dtype)x->dtype) : NULL;
    if (out) out = run(unpool_kernel, &(cg_kargs){.name = NAME_OF(g), .t = {out, xc, ic}, .nw = 1}, g);
    cg_tensor_release(xc);
    cg_tensor_release(ic);
    return record(OP_OF(pool_ops, g), out, &x, 1, g, idx, NULL);
}

/* A node named str whose backward is fn */
#define NODE(str, fn) {.name = (str), .backward = (fn)}
static const cg_op pool_ops[N_KINDS][2] = {
    {NODE("MaxPool2DWithIndicesBackward0", max_pool_backward),
     NODE("MaxPool3DWithIndicesBackward0", max_pool_backward)},
    {NODE("AvgPool2DBackward0", avg_pool_backward), NODE("AvgPool3DBackward0", avg_pool_backward)},
    {NODE("AdaptiveMaxPool2DBackward0", max_pool_backward), NODE("AdaptiveMaxPool3DBackward0", max_pool_backward)},
    {NODE("AdaptiveAvgPool2DBackward0", avg_pool_backward), NODE("AdaptiveAvgPool3DBackward0", avg_pool_backward)},
    {NODE("MaxUnpool2DBackward0", unpool_backward), NODE("MaxUnpool3DBackward0", unpool_backward)},
    {NODE("FractionalMaxPool2DBackward0", max_pool_backward), NODE("FractionalMaxPool3DBackward0", max_pool_backward)},
};
static const cg_op pool_bwd_ops[N_KINDS][2] = { /* unpooling's backward is a gather: no node of its own */
    {NODE("MaxPool2DWithIndicesBackwardBackward0", max_scatter_backward),
     NODE("MaxPool3DWithIndicesBackwardBackward0", max_scatter_backward)},
    {NODE("AvgPool2DBackwardBackward0", avg_spread_backward), NODE("AvgPool3DBackwardBackward0", avg_spread_backward)},
    {NODE("AdaptiveMaxPool2DBackwardBackward0", max_scatter_backward),
     NODE("AdaptiveMaxPool3DBackwardBackward0", max_scatter_backward)},
    {NODE("AdaptiveAvgPool2DBackwardBackward0", avg_spread_backward),
     NODE("AdaptiveAvgPool3DBackwardBackward0", avg_spread_backward)},
    {{0}, {0}},
    {NODE("FractionalMaxPool2DBackwardBackward0", max_scatter_backward),
     NODE("FractionalMaxPool3DBackwardBackward0", max_scatter_backward)},
};

/* ---- argument checks, with PyTorch's messages ---------------------------------------------- */

/* PyTorch's pooling_output_shape: the output length along an axis of len, after its checks. */
static int pooled_len(int64_t len, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode, int64_t *out) {
    if (s == 0) return pool_error("stride should not be zero");
    if (p < 0) return pool_error("pad must be non-negative, but got pad: %lld", LL(p));
    if (p > ((k - 1) * d + 1) / 2)
        return pool_error("pad should be at most half of effective kernel size, but got pad=%lld, kernel_size=%lld "
                          "and dilation=%lld", LL(p), LL(k), LL(d));
    int64_t num = len + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    int64_t q = num / s - (num % s != 0 && (num % s < 0) != (s < 0)); /* rounded down */
    *out = q + 1;
    /* ceil_mode: the last window must start inside the input or its left padding */
    if (ceil_mode && (*out - 1) * s >= len + p) --*out;
    return 0;
}

/* Whether x is (C, H, W) with C, H, W > 0 or (N, C, H, W) with C, H, W > 0 */
static bool pool2d_dims(const cg_tensor *x) {
    const int64_t *s = x->shape;
    return (x->ndim == 3 && s[0] && s[1] && s[2]) || (x->ndim == 4 && s[1] && s[2] && s[3]);
}

/* PyTorch's pool2d_shape_check over g's height and width, osz the output's */
static int check_pool2d(const cg_tensor *x, const geom *g, const int64_t *osz) {
    char buf[160];
    const int32_t *k = g->k + 1, *s = g->s + 1, *p = g->p + 1, *d = g->d + 1;
    if (k[0] <= 0 || k[1] <= 0)
        return pool_error("kernel size should be greater than zero, but got kH: %d kW: %d", k[0], k[1]);
    if (s[0] <= 0 || s[1] <= 0)
        return pool_error("stride should be greater than zero, but got dH: %d dW: %d", s[0], s[1]);
    if (d[0] <= 0 || d[1] <= 0)
        return pool_error("dilation should be greater than zero, but got dilationH: %d dilationW: %d", d[0], d[1]);
    if (!pool2d_dims(x))
        return pool_error("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:%s",
                          cg_shape_str(x->shape, x->ndim, buf, sizeof buf));
    if (k[1] / 2 < p[1] || k[0] / 2 < p[0])
        return pool_error("pad should be smaller than or equal to half of kernel size, but got "
                          "padW = %d, padH = %d, kW = %d, kH = %d", p[1], p[0], k[1], k[0]);
    const int64_t *sh = x->shape + x->ndim - 3;
    if (osz[0] < 1 || osz[1] < 1)
        return pool_error("Given input size: (%lldx%lldx%lld). Calculated output size: (%lldx%lldx%lld). "
                          "Output size is too small", LL(sh[0]), LL(sh[1]), LL(sh[2]), LL(sh[0]), LL(osz[0]),
                          LL(osz[1]));
    return 0;
}

/* PyTorch's pool3d_shape_check (x is 4-d or 5-d); avg: its check_input_size */
static int check_pool3d(const cg_tensor *x, const geom *g, const int64_t *osz, const char *fn, bool avg) {
    char buf[160];
    const int32_t *k = g->k, *s = g->s, *p = g->p, *d = g->d;
    if (k[0] <= 0 || k[1] <= 0 || k[2] <= 0)
        return pool_error("kernel size should be greater than zero, but got kT: %d kH: %d kW: %d", k[0], k[1], k[2]);
    if (s[0] <= 0 || s[1] <= 0 || s[2] <= 0)
        return pool_error("stride should be greater than zero, but got dT: %d dH: %d dW: %d", s[0], s[1], s[2]);
    if (d[0] <= 0 || d[1] <= 0 || d[2] <= 0)
        return pool_error("dilation should be greater than zero, but got dilationT: %d dilationH: %d dilationW: %d",
                          d[0], d[1], d[2]);
    for (int i = x->ndim == 5; i < x->ndim; i++) /* a batch may be empty */
        if (x->shape[i] == 0)
            return pool_error("%s: Expected input's non-batch dimensions to have positive length, but input has a "
                              "shape of %s and non-batch dimension 0 has length zero!", fn,
                              cg_shape_str(x->shape, x->ndim, buf, sizeof buf));
    const int64_t *sh = x->shape + x->ndim - 4;
    if (avg && (sh[1] < k[0] || sh[2] < k[1] || sh[3] < k[2]))
        return pool_error("input image (T: %lld H: %lld W: %lld) smaller than kernel size (kT: %d kH: %d kW: %d)",
                          LL(sh[1]), LL(sh[2]), LL(sh[3]), k[0], k[1], k[2]);
    if (k[0] / 2 < p[0] || k[2] / 2 < p[2] || k[1] / 2 < p[1])
        return pool_error("pad should be smaller than or equal to half of kernel size, but got kT: %d kW: %d kH: %d "
                          "padT: %d padW: %d padH: %d", k[0], k[2], k[1], p[0], p[2], p[1]);
    if (osz[0] < 1 || osz[1] < 1 || osz[2] < 1)
        return pool_error("Given input size: (%lldx%lldx%lldx%lld). Calculated output size: (%lldx%lldx%lldx%lld). "
                          "Output size is too small", LL(sh[0]), LL(sh[1]), LL(sh[2]), LL(sh[3]), LL(sh[0]),
                          LL(osz[0]), LL(osz[1]), LL(osz[2]));
    return 0;
}

/* The output size osz[0..nsp) of a strided pool of x, checked as PyTorch checks it (fn names
 * a 3-d pool in its messages). */
static int pool_output(const cg_tensor *x, const geom *g, bool ceil_mode, const char *fn, int64_t *osz) {
    for (int a = 0; a < g->nsp; a++) {
        int at = 3 - g->nsp + a;
        if (pooled_len(x->shape[x->ndim - g->nsp + a], g->k[at], g->s[at], g->p[at], g->d[at], ceil_mode, osz + a))
            return -1;
    }
    return g->nsp == 2 ? check_pool2d(x, g, osz) : check_pool3d(x, g, osz, fn, g->kind == K_AVG);
}

/* An error naming op unless x's dtype is one of the pool's: floats, and int64 when ints */
static int check_dtype(const char *op, const cg_tensor *x, bool ints) {
    if (cg_dtype_is_floating((cg_dtype)x->dtype) || (ints && x->dtype == CG_INT64)) return 0;
    cg_error_set(CG_ERR_NOTIMPL, "\"%s\" not implemented for '%s'", op, cg_dtype_torch_name((cg_dtype)x->dtype));
    return -1;
}

/* PyTorch's checkDimRange(op, self, 2, 4) of the 1-d pools */
static int check_1d_dims(const char *op, const cg_tensor *x) {
    if (x->ndim == 2 || x->ndim == 3) return 0;
    return pool_error("Expected 2 to 3 dimensions, but got %d-dimensional tensor for argument #1 'self' "
                      "(while checking arguments for %s)", x->ndim, op);
}

/* An error unless the non-batch dims of x (all but the first) are non-empty */
static int check_nonempty(const char *op, const cg_tensor *x) {
    char buf[160];
    for (int d = 1; d < x->ndim; d++)
        if (x->shape[d] == 0)
            return pool_error("%s(): Expected input to have non-zero size for non-batch dimensions, but input has "
                              "sizes %s with dimension %d being empty", op,
                              cg_shape_str(x->shape, x->ndim, buf, sizeof buf), d);
    return 0;
}

/* An error unless x has nsp + 1 or nsp + 2 dims (PyTorch's message of op) */
static int check_ndim(const cg_tensor *x, int nsp, const char *message) {
    if (x->ndim == nsp + 1 || x->ndim == nsp + 2) return 0;
    return pool_error("%s", message);
}

/* values, and *indices when asked (idx stolen either way) */
static cg_tensor *with_indices(cg_tensor *out, cg_tensor *idx, cg_tensor **indices) {
    if (indices)
        *indices = idx;
    else
        cg_tensor_release(idx);
    return out;
}

/* ---- the 2-d and 3-d ops ------------------------------------------------------------------------- */

/* max_pool2d and max_pool3d, nsp their spatial dims */
static cg_tensor *max_pool_nd(int nsp, cg_tensor *x, const int64_t *kernel, const int64_t *stride,
                              const int64_t *padding, const int64_t *dilation, int ceil_mode, cg_tensor **indices) {
    geom g;
    int64_t osz[3];
    cg_tensor *idx = NULL;
    if (geom_make(&g, K_MAX, nsp, kernel, stride, padding, dilation) ||
        check_ndim(x, nsp, nsp == 2 ? "non-empty 3D or 4D (batch mode) tensor expected for input"
                                    : "non-empty 4D or 5D (batch mode) tensor expected for input") ||
        pool_output(x, &g, ceil_mode, "max_pool3d_with_indices_out_cpu_template()", osz) ||
        check_dtype(nsp == 2 ? "max_pool2d" : "max_pool3d", x, true))
        return NULL;
    cg_tensor *out = max_pool_apply(x, osz, &g, NULL, &idx);
    return with_indices(out, idx, indices);
}

cg_tensor *cg_max_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                         const int64_t *dilation, int ceil_mode, cg_tensor **indices) {
    return max_pool_nd(2, x, kernel, stride, padding, dilation, ceil_mode, indices);
}

cg_tensor *cg_max_pool3d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                         const int64_t *dilation, int ceil_mode, cg_tensor **indices) {
    return max_pool_nd(3, x, kernel, stride, padding, dilation, ceil_mode, indices);
}

/* avg_pool2d and avg_pool3d, nsp their spatial dims */
static cg_tensor *avg_pool_nd(int nsp, cg_tensor *x, const int64_t *kernel, const int64_t *stride,
                              const int64_t *padding, int ceil_mode, int count_include_pad,
                              const int64_t *divisor_override) {
    geom g;
    int64_t osz[3], d;
    if (geom_make(&g, K_AVG, nsp, kernel, stride, padding, NULL)) return NULL;
    g.include_pad = count_include_pad != 0;
    g.divisor = divisor_override ? *divisor_override : 0;
    if (nsp == 3 && check_ndim(x, 3, "non-empty 4D or 5D (batch mode) tensor expected for input")) return NULL;
    if (divisor_override && *divisor_override == 0) {
        cg_error_set(CG_ERR_RUNTIME, "divisor must be not zero");
        return NULL;
    }
    if (nsp == 2 && x->ndim == 0) {
        cg_error_set(CG_ERR_INDEX, "Dimension specified as -3 but tensor has no dimensions");
        return NULL;
    }
    if ((nsp == 2 && cg_wrap_dim(-3, x->ndim, &d)) || pool_output(x, &g, ceil_mode, "avg_pool3d()", osz) ||
        check_dtype(nsp == 2 ? "avg_pool2d" : "avg_pool3d", x, true))
        return NULL;
    return avg_pool_apply(x, osz, &g);
}

cg_tensor *cg_avg_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                         int ceil_mode, int count_include_pad, const int64_t *divisor_override) {
    return avg_pool_nd(2, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override);
}

cg_tensor *cg_avg_pool3d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                         int ceil_mode, int count_include_pad, const int64_t *divisor_override) {
    return avg_pool_nd(3, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override);
}

cg_tensor *cg_adaptive_avg_pool2d(cg_tensor *x, const int64_t *output_size) {
    char buf[160];
    geom g;
    geom_make(&g, K_ADAPTIVE_AVG, 2, NULL, NULL, NULL, NULL);
    if (output_size[0] < 0 || output_size[1] < 0) {
        cg_error_set(CG_ERR_RUNTIME, "adaptive_avg_pool2d: elements of output_size must be greater than or equal "
                     "to 0 but received {%lld, %lld}", LL(output_size[0]), LL(output_size[1]));
        return NULL;
    }
    if (output_size[0] == 1 && output_size[1] == 1) /* a mean over the planes, as PyTorch computes it */
        return cg_mean(x, (const int64_t[]){-1, -2}, 2, 1);
    if (x->ndim != 3 && x->ndim != 4) {
        cg_error_set(CG_ERR_RUNTIME, "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got %s",
                     cg_shape_str(x->shape, x->ndim, buf, sizeof buf));
        return NULL;
    }
    for (int d = x->ndim - 2; d < x->ndim; d++)
        if (x->shape[d] == 0) {
            cg_error_set(CG_ERR_RUNTIME, "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch "
                         "dimensions, but input has sizes %s with dimension %d being empty",
                         cg_shape_str(x->shape, x->ndim, buf, sizeof buf), d);
            return NULL;
        }
    if (check_dtype("adaptive_avg_pool2d", x, false)) return NULL;
    return avg_pool_apply(x, output_size, &g);
}

cg_tensor *cg_adaptive_avg_pool3d(cg_tensor *x, const int64_t *output_size) {
    char buf[160];
    geom g;
    geom_make(&g, K_ADAPTIVE_AVG, 3, NULL, NULL, NULL, NULL);
    const int64_t *o = output_size;
    if (o[0] < 0 || o[1] < 0 || o[2] < 0) {
        cg_error_set(CG_ERR_RUNTIME, "adaptive_avg_pool3d: elements of output_size must be greater than or equal "
                     "to 0 but received {%lld, %lld,%lld}", LL(o[0]), LL(o[1]), LL(o[2]));
        return NULL;
    }
    if (o[0] == 1 && o[1] == 1 && o[2] == 1) /* a mean over the volumes, as PyTorch computes it */
        return cg_mean(x, (const int64_t[]){-1, -2, -3}, 3, 1);
    if (check_nonempty("adaptive_avg_pool3d", x)) return NULL;
    if (x->ndim != 4 && x->ndim != 5) {
        cg_error_set(CG_ERR_RUNTIME, "adaptive_avg_pool3d(): Expected 4D or 5D tensor, but got %s",
                     cg_shape_str(x->shape, x->ndim, buf, sizeof buf));
        return NULL;
    }
    if (check_dtype("adaptive_avg_pool3d_cpu", x, false)) return NULL;
    return avg_pool_apply(x, output_size, &g);
}

/* adaptive_max_pool2d and adaptive_max_pool3d, nsp their spatial dims */
static cg_tensor *adaptive_max_pool_nd(int nsp, cg_tensor *x, const int64_t *output_size, cg_tensor **indices) {
    char buf[160];
    geom g;
    geom_make(&g, K_ADAPTIVE_MAX, nsp, NULL, NULL, NULL, NULL);
    cg_tensor *idx = NULL;
    const char *op = nsp == 2 ? "adaptive_max_pool2d" : "adaptive_max_pool3d";
    if (x->ndim != nsp + 1 && x->ndim != nsp + 2) {
        cg_error_set(CG_ERR_RUNTIME, "%s(): Expected %dD or %dD tensor, but got: %s", op, nsp + 1, nsp + 2,
                     cg_shape_str(x->shape, x->ndim, buf, sizeof buf));
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS];
    pooled_shape(x, nsp, output_size, shape);
    if (check_nonempty(op, x) || cg_check_shape(shape, x->ndim) ||
        check_dtype(nsp == 2 ? "adaptive_max_pool2d" : "adaptive_max_pool3d_cpu", x, false))
        return NULL;
    cg_tensor *out = max_pool_apply(x, output_size, &g, NULL, &idx);
    return with_indices(out, idx, indices);
}

cg_tensor *cg_adaptive_max_pool2d(cg_tensor *x, const int64_t *output_size, cg_tensor **indices) {
    return adaptive_max_pool_nd(2, x, output_size, indices);
}

cg_tensor *cg_adaptive_max_pool3d(cg_tensor *x, const int64_t *output_size, cg_tensor **indices) {
    return adaptive_max_pool_nd(3, x, output_size, indices);
}

/* PyTorch's checks of max_unpool2d and max_unpool3d, in its order and words */
static int check_unpool(int nsp, const cg_tensor *x, const cg_tensor *idx, const int64_t *stride) {
    char buf[160], buf2[160];
    if (idx->dtype != CG_INT64)
        return nsp == 2 ? pool_error("elements in indices should be type int64 but got: %s",
                                     cg_dtype_torch_name((cg_dtype)idx->dtype))
                        : pool_error("elements in indices should be type int64");
    if (x->ndim != nsp + 1 && x->ndim != nsp + 2)
        return pool_error("Input to max_unpooling%dd should be a %dd or %dd Tensor, but got a tensor with %d "
                          "dimensions.", nsp, nsp + 1, nsp + 2, x->ndim);
    if (x->ndim != idx->ndim || memcmp(x->shape, idx->shape, sizeof(int64_t) * (size_t)x->ndim))
        return pool_error("Expected shape of indices to be same as that of the input tensor (%s) but got indices "
                          "tensor with shape: %s", cg_shape_str(x->shape, x->ndim, buf, sizeof buf),
                          cg_shape_str(idx->shape, idx->ndim, buf2, sizeof buf2));
    for (int d = 1; d < x->ndim; d++)
        if (x->shape[d] == 0)
            return pool_error("max_unpooling%dd_forward_out_cpu(): Expected input to have non-zero size for non-batch "
                              "dimensions, but got %s with dimension %d being empty.", nsp,
                              cg_shape_str(x->shape, x->ndim, buf, sizeof buf), d);
    if (stride && (stride[0] <= 0 || stride[1] <= 0 || stride[2] <= 0))
        return pool_error("strides should be greater than zero, but got stride: %s",
                          cg_shape_str(stride, 3, buf, sizeof buf));
    return check_dtype(nsp == 2 ? "max_unpool2d" : "max_unpool3d", x, false);
}

cg_tensor *cg_max_unpool2d(cg_tensor *x, cg_tensor *indices, const int64_t *output_size) {
    geom g = {.kind = K_UNPOOL, .nsp = 2};
    int64_t shape[CG_MAX_DIMS];
    if (check_unpool(2, x, indices, NULL)) return NULL;
    pooled_shape(x, 2, output_size, shape);
    if (cg_check_shape(shape, x->ndim)) return NULL;
    return unpool_apply(x, indices, output_size, &g);
}

cg_tensor *cg_max_unpool3d(cg_tensor *x, cg_tensor *indices, const int64_t *output_size, const int64_t *stride,
                           const int64_t *padding) {
    (void)padding; /* PyTorch checks only its length, which the caller's array fixes */
    geom g = {.kind = K_UNPOOL, .nsp = 3};
    int64_t shape[CG_MAX_DIMS];
    if (check_unpool(3, x, indices, stride)) return NULL;
    pooled_shape(x, 3, output_size, shape);
    if (cg_check_shape(shape, x->ndim)) return NULL;
    return unpool_apply(x, indices, output_size, &g);
}

/* PyTorch's checks of fractional_max_pool2d / 3d over x, in its order and words */
static int check_fractional(int nsp, const cg_tensor *x, const int64_t *k, const int64_t *o, const cg_tensor *u) {
    char buf[160];
    const char *fn = nsp == 2 ? "fractional_max_pool2d()" : "fractional_max_pool3d_out()";
    if (x->ndim != nsp + 1 && x->ndim != nsp + 2)
        return pool_error("%s: Expected %dD or %dD tensor, but got: %s", fn, nsp + 1, nsp + 2,
                          cg_shape_str(x->shape, x->ndim, buf, sizeof buf));
    for (int d = 1; d < x->ndim; d++)
        if (x->shape[d] == 0)
            return pool_error("%s: Expected input to have non-zero size for non-batch dimensions, but got%s with "
                              "dimension %d being empty.", fn, cg_shape_str(x->shape, x->ndim, buf, sizeof buf), d);
    const int64_t *in = x->shape + x->ndim - nsp;
    /* 2-d: height then width, the last window may end at the edge; 3-d: time, width, height, it may not */
    static const char *const axes[2][3] = {{"height", "width", ""}, {"time", "height", "width"}};
    static const int order[2][3] = {{0, 1, -1}, {0, 2, 1}};
    for (int j = 0; j < nsp; j++) {
        int a = order[nsp - 2][j];
        if (o[a] + k[a] - 1 > in[a] - (nsp == 3))
            return pool_error("%s: pool %s %lld too large relative to input %s %lld", fn, axes[nsp - 2][a], LL(k[a]),
                              axes[nsp - 2][a], LL(in[a]));
    }
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    memcpy(shape + x->ndim - nsp, o, sizeof(int64_t) * (size_t)nsp);
    if (cg_check_shape(shape, x->ndim)) return -1;
    if (u->dtype != x->dtype) return pool_error("Expect _random_samples to have the same dtype as input");
    if (u->ndim != 3) return pool_error("Expect _random_samples to have 3 dimensions, got %d", u->ndim);
    int64_t batch = x->ndim == nsp + 2 ? x->shape[0] : 1, channels = x->shape[x->ndim - nsp - 1];
    if (u->shape[0] < batch) return pool_error("Expect _random_samples.size(0) no less then input batch size.");
    if (u->shape[1] != channels) return pool_error("Expect _random_samples.size(1) equals to input channel size.");
    if (u->shape[2] != nsp)
        return pool_error("Expect _random_samples.size(2) equals to %d; got %lld.", nsp, LL(u->shape[2]));
    return check_dtype(nsp == 2 ? "fractional_max_pool2d_out_frame" : "fractional_max_pool3d_out_frame", x, false);
}

/* fractional_max_pool2d and fractional_max_pool3d, nsp their spatial dims */
static cg_tensor *fractional_max_pool_nd(int nsp, cg_tensor *x, const int64_t *kernel, const int64_t *output_size,
                                         cg_tensor *samples, cg_tensor **indices) {
    geom g;
    const int64_t zeros[3] = {0, 0, 0};
    cg_tensor *idx = NULL;
    if (check_fractional(nsp, x, kernel, output_size, samples) ||
        geom_make(&g, K_FRACTIONAL, nsp, kernel, zeros, zeros, NULL))
        return NULL;
    cg_tensor *u = dense_as(samples, (cg_dtype)x->dtype);
    cg_tensor *out = u ? max_pool_apply(x, output_size, &g, u, &idx) : NULL;
    cg_tensor_release(u);
    return with_indices(out, idx, indices);
}

cg_tensor *cg_fractional_max_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *output_size,
                                    cg_tensor *samples, cg_tensor **indices) {
    return fractional_max_pool_nd(2, x, kernel, output_size, samples, indices);
}

cg_tensor *cg_fractional_max_pool3d(cg_tensor *x, const int64_t *kernel, const int64_t *output_size,
                                    cg_tensor *samples, cg_tensor **indices) {
    return fractional_max_pool_nd(3, x, kernel, output_size, samples, indices);
}

/* ---- the 1-d ops: the 2-d ones over x.unsqueeze(-2) ------------------------------------------- */

/* r (stolen) and, when idx is given, *idx (stolen, replaced) with dim -2 squeezed out */
static cg_tensor *squeeze_back(cg_tensor *r, cg_tensor **idx) {
    const int64_t dim = -2;
    cg_tensor *out = r ? cg_squeeze(r, &dim, 1) : NULL;
    cg_tensor_release(r);
    if (idx && *idx) {
        cg_tensor *i = out ? cg_squeeze(*idx, &dim, 1) : NULL;
        cg_tensor_release(*idx);
        *idx = i;
        if (!i) {
            cg_tensor_release(out);
            out = NULL;
        }
    }
    return out;
}

/* torch.max_pool1d's own checks, made before it pools (they name max_pool1d). */
static int check_max_pool1d(const cg_tensor *x, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
    char buf[160];
    const int64_t *sh = x->shape;
    if (!((x->ndim == 2 && sh[0] && sh[1]) || (x->ndim == 3 && sh[1] && sh[2])))
        return pool_error("max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, "
                          "but got:%s", cg_shape_str(x->shape, x->ndim, buf, sizeof buf));
    if (k <= 0) return pool_error("max_pool1d() kernel_size must be greater than zero, but got %lld", LL(k));
    if (s <= 0) return pool_error("max_pool1d() stride must be greater than zero, but got %lld", LL(s));
    if (p < 0) return pool_error("max_pool1d() padding must be non-negative, but got %lld", LL(p));
    if (p > k / 2)
        return pool_error("max_pool1d() padding should be at most half of kernel size, but got padding=%lld and "
                          "kernel_size=%lld", LL(p), LL(k));
    if (d <= 0) return pool_error("max_pool1d() dilation must be greater than zero, but got %lld", LL(d));
    int64_t ow;
    if (pooled_len(x->shape[x->ndim - 1], k, s, p, d, ceil_mode, &ow)) return -1;
    if (ow <= 0) return pool_error("max_pool1d() Invalid computed output size: %lld", LL(ow));
    return check_dtype("max_pool1d_impl", x, false);
}

cg_tensor *cg_max_pool1d(cg_tensor *x, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation,
                         int ceil_mode, cg_tensor **indices) {
    if (indices ? check_1d_dims("max_pool1d", x) : check_max_pool1d(x, kernel, stride, padding, dilation, ceil_mode))
        return NULL;
    cg_tensor *x2 = cg_unsqueeze(x, -2), *idx = NULL;
    cg_tensor *r = x2 ? cg_max_pool2d(x2, (const int64_t[]){1, kernel}, (const int64_t[]){1, stride},
                                      (const int64_t[]){0, padding}, (const int64_t[]){1, dilation}, ceil_mode,
                                      indices ? &idx : NULL)
                      : NULL;
    cg_tensor_release(x2);
    r = squeeze_back(r, indices ? &idx : NULL);
    if (indices) *indices = idx;
    return r;
}

cg_tensor *cg_avg_pool1d(cg_tensor *x, int64_t kernel, int64_t stride, int64_t padding, int ceil_mode,
                         int count_include_pad) {
    if (check_1d_dims("avg_pool1d", x)) return NULL;
    cg_tensor *x2 = cg_unsqueeze(x, -2);
    cg_tensor *r = x2 ? cg_avg_pool2d(x2, (const int64_t[]){1, kernel}, (const int64_t[]){1, stride},
                                      (const int64_t[]){0, padding}, ceil_mode, count_include_pad, NULL)
                      : NULL;
    cg_tensor_release(x2);
    return squeeze_back(r, NULL);
}

cg_tensor *cg_adaptive_avg_pool1d(cg_tensor *x, int64_t output_size) {
    if (check_1d_dims("adaptive_avg_pool1d", x)) return NULL;
    cg_tensor *x2 = cg_unsqueeze(x, -2);
    cg_tensor *r = x2 ? cg_adaptive_avg_pool2d(x2, (const int64_t[]){1, output_size}) : NULL;
    cg_tensor_release(x2);
    return squeeze_back(r, NULL);
}

cg_tensor *cg_adaptive_max_pool1d(cg_tensor *x, int64_t output_size, cg_tensor **indices) {
    if (check_1d_dims("adaptive_max_pool1d", x) || check_nonempty("adaptive_max_pool1d", x)) return NULL;
    cg_tensor *x2 = cg_unsqueeze(x, -2), *idx = NULL;
    cg_tensor *r = x2 ? cg_adaptive_max_pool2d(x2, (const int64_t[]){1, output_size}, &idx) : NULL;
    cg_tensor_release(x2);
    r = squeeze_back(r, &idx);
    if (indices)
        *indices = idx;
    else
        cg_tensor_release(idx);
    return r;
}
