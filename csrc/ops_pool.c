/* ops_pool.c -- max, average and adaptive pooling: forward and backward side by side.
 *
 * The 2-d ops pool the last two dims of a (C, H, W) or (N, C, H, W) input,
 * seen by the kernels as contiguous H x W planes; the 1-d ops are the 2-d
 * ones on x.unsqueeze(-2), squeezed back, as PyTorch builds them. Each
 * pooling call records one node, named as PyTorch names it.
 *
 * Every window is a span of rows times a span of columns (struct span), so
 * one loop serves the strided windows of max_pool2d and avg_pool2d and the
 * adaptive ones alike.
 *
 * All four backward formulas are linear in the incoming gradient, and each
 * is a fused op whose own backward is its adjoint:
 *   max pools     g scattered (added) at the saved argmax positions; the
 *                 adjoint gathers at the same positions, written with
 *                 cg_gather, so gradients of any order follow;
 *   average pools g spread evenly over each window; the adjoint is the
 *                 average pool itself, so the two alternate at every order.
 */
#include <math.h>

#include "internal.h"

#define VP(t) ((void *)cg_ptr(t)) /* a tensor's first element, as any pointer type */
#define IS_NAN(v) ((v) != (v))    /* folds to false for integers */

/* A pooling's eight integers, in n->i[0..8) and cg_kargs.i, as pairs (height, width):
 * max pools: kernel, stride, padding, dilation;
 * avg pools: kernel, stride, padding, then count_include_pad and divisor_override (0: none).
 * Adaptive pools have none: the input and output sizes say everything. */
enum { G_K = 0, G_S = 2, G_P = 4, G_D = 6, G_INCLUDE_PAD = 6, G_DIVISOR = 7, G_LEN = 8 };

/* ---- windows ------------------------------------------------------------------------- */

/* The input rows (or columns) one output row (column) reads: lo, lo + step, ... below hi.
 * size is the extent counted with the padding, what count_include_pad divides by. */
typedef struct span {
    int64_t lo, hi, step, size;
} span;

enum { WIN_MAX, WIN_AVG, WIN_ADAPTIVE };

/* The span of output o of n along an axis of length len; g points at the axis's kernel size
 * in the geometry (stride, padding and dilation follow two apart). */
static span window(int mode, int64_t o, int64_t n, int64_t len, const int64_t *g) {
    span w = {0, 0, 1, 0};
    if (mode == WIN_ADAPTIVE) { /* PyTorch's start and end indices: floor(o len / n), ceil((o + 1) len / n) */
        w.lo = o * len / n;
        w.hi = ((o + 1) * len + n - 1) / n;
        w.size = w.hi - w.lo;
        return w;
    }
    int64_t k = g[G_K], s = g[G_S], p = g[G_P];
    w.lo = o * s - p;
    if (mode == WIN_MAX) { /* dilated; positions in the padding are skipped, not read */
        w.step = g[G_D];
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

/* The spans of every output row, then every output column, of a pool from planes of
 * in's last two dims to out's; free() them. NULL (an error set) when out of memory. */
static span *windows(int mode, const cg_tensor *in, const cg_tensor *out, const int64_t *g) {
    int nd = in->ndim;
    int64_t H = in->shape[nd - 2], W = in->shape[nd - 1], OH = out->shape[nd - 2], OW = out->shape[nd - 1];
    span *sp = malloc(sizeof(span) * (size_t)(OH + OW + 1)); /* + 1: an empty output mallocs something */
    if (!sp) return cg_oom((int64_t)sizeof(span) * (OH + OW + 1));
    for (int64_t o = 0; o < OH; o++) sp[o] = window(mode, o, OH, H, g);
    for (int64_t o = 0; o < OW; o++) sp[OH + o] = window(mode, o, OW, W, g + 1);
    return sp;
}

/* What the sum over window (r, c) is divided by, in two steps: PyTorch's average pools
 * divide once, its adaptive ones by the height and then by the width. */
static void divisors(int mode, const int64_t *g, span r, span c, int64_t *a, int64_t *b) {
    if (mode == WIN_ADAPTIVE) {
        *a = r.hi - r.lo;
        *b = c.hi - c.lo;
        return;
    }
    *a = g[G_DIVISOR] ? g[G_DIVISOR] : g[G_INCLUDE_PAD] ? r.size * c.size : (r.hi - r.lo) * (c.hi - c.lo);
    *b = 1;
}

/* A pool's planes and sizes: P planes of H x W in, OH x OW out. */
typedef struct planes {
    int64_t P, H, W, OH, OW;
} planes;

static planes planes_of(const cg_tensor *in, const cg_tensor *out) {
    int nd = in->ndim;
    planes q = {1, in->shape[nd - 2], in->shape[nd - 1], out->shape[nd - 2], out->shape[nd - 1]};
    for (int d = 0; d < nd - 2; d++) q.P *= in->shape[d];
    return q;
}

/* ---- kernels ------------------------------------------------------------------------- */

/* y, ix = the maximum of each window and its position in the plane. best starts
 * below every value, so a window of -inf keeps its first position; a NaN takes
 * over from anything, the last NaN from the NaNs before it, as PyTorch's. */
#define MAX_POOL_LOOP(NAME, T, LOWEST)                                                       \
    static void NAME(const T *x, T *y, int64_t *ix, planes q, const span *rows, const span *cols) { \
        for (int64_t p = 0; p < q.P; p++, x += q.H * q.W)                                    \
            for (int64_t oh = 0; oh < q.OH; oh++) {                                          \
                span r = rows[oh];                                                           \
                for (int64_t ow = 0; ow < q.OW; ow++) {                                      \
                    span c = cols[ow];                                                       \
                    int64_t at = r.lo * q.W + c.lo;                                          \
                    T best = LOWEST;                                                         \
                    for (int64_t h = r.lo; h < r.hi; h += r.step)                            \
                        for (int64_t w = c.lo; w < c.hi; w += c.step) {                      \
                            T v = x[h * q.W + w];                                            \
                            if (v > best || IS_NAN(v)) {                                     \
                                best = v;                                                    \
                                at = h * q.W + w;                                            \
                            }                                                                \
                        }                                                                    \
                    *y++ = best;                                                             \
                    *ix++ = at;                                                              \
                }                                                                            \
            }                                                                                \
    }
MAX_POOL_LOOP(max_pool_f32, float, -INFINITY)
MAX_POOL_LOOP(max_pool_f64, double, -INFINITY)
MAX_POOL_LOOP(max_pool_i64, int64_t, INT64_MIN)

/* y = the sum of each window (accumulated in T, as PyTorch's CPU kernels) divided as
 * divisors says; an empty window gives 0. Integers divide as integers. */
#define AVG_POOL_LOOP(NAME, T)                                                               \
    static void NAME(const T *x, T *y, planes q, const span *rows, const span *cols, int mode, const int64_t *g) { \
        for (int64_t p = 0; p < q.P; p++, x += q.H * q.W)                                    \
            for (int64_t oh = 0; oh < q.OH; oh++)                                            \
                for (int64_t ow = 0; ow < q.OW; ow++) {                                      \
                    span r = rows[oh], c = cols[ow];                                         \
                    int64_t a, b;                                                            \
                    divisors(mode, g, r, c, &a, &b);                                         \
                    T sum = 0;                                                               \
                    for (int64_t h = r.lo; h < r.hi; h++)                                    \
                        for (int64_t w = c.lo; w < c.hi; w++) sum += x[h * q.W + w];         \
                    *y++ = r.lo < r.hi && c.lo < c.hi ? sum / (T)a / (T)b : 0;               \
                }                                                                            \
    }
AVG_POOL_LOOP(avg_pool_f32, float)
AVG_POOL_LOOP(avg_pool_f64, double)
AVG_POOL_LOOP(avg_pool_i64, int64_t)

/* gx (zeroed) += each g divided as divisors says, over its window: the adjoint of AVG_POOL_LOOP */
#define AVG_SPREAD_LOOP(NAME, T)                                                             \
    static void NAME(const T *g, T *gx, planes q, const span *rows, const span *cols, int mode, const int64_t *gm) { \
        memset(gx, 0, sizeof(T) * (size_t)(q.P * q.H * q.W));                                \
        for (int64_t p = 0; p < q.P; p++, gx += q.H * q.W)                                   \
            for (int64_t oh = 0; oh < q.OH; oh++)                                            \
                for (int64_t ow = 0; ow < q.OW; ow++) {                                      \
                    span r = rows[oh], c = cols[ow];                                         \
                    int64_t a, b;                                                            \
                    divisors(mode, gm, r, c, &a, &b);                                        \
                    T share = *g++;                                                          \
                    if (r.lo >= r.hi || c.lo >= c.hi) continue;                              \
                    share = share / (T)a / (T)b;                                             \
                    for (int64_t h = r.lo; h < r.hi; h++)                                    \
                        for (int64_t w = c.lo; w < c.hi; w++) gx[h * q.W + w] += share;      \
                }                                                                            \
    }
AVG_SPREAD_LOOP(avg_spread_f32, float)
AVG_SPREAD_LOOP(avg_spread_f64, double)

/* gx (zeroed) += g at the saved positions, plane by plane, in output order as PyTorch
 * adds them; false if a position is outside its plane. */
#define MAX_SCATTER_LOOP(NAME, T)                                                            \
    static bool NAME(const T *g, const int64_t *ix, T *gx, planes q) {                       \
        int64_t area = q.H * q.W, n = q.OH * q.OW;                                           \
        memset(gx, 0, sizeof(T) * (size_t)(q.P * area));                                     \
        for (int64_t p = 0; p < q.P; p++, gx += area)                                        \
            for (int64_t o = 0; o < n; o++, g++, ix++) {                                     \
                if (*ix < 0 || *ix >= area) return false;                                    \
                gx[*ix] += *g;                                                               \
            }                                                                                \
        return true;                                                                         \
    }
MAX_SCATTER_LOOP(max_scatter_f32, float)
MAX_SCATTER_LOOP(max_scatter_f64, double)

/* t = {y, indices, dense x}, i = the geometry (none when adaptive) */
static int max_pool_run(const cg_kargs *k, int mode) {
    cg_tensor *y = k->t[0], *x = k->t[2];
    span *sp = windows(mode, x, y, k->i);
    if (!sp) return -1;
    planes q = planes_of(x, y);
    const span *rows = sp, *cols = sp + q.OH;
    int64_t *ix = VP(k->t[1]);
    switch (x->dtype) {
    case CG_FLOAT32: max_pool_f32(VP(x), VP(y), ix, q, rows, cols); break;
    case CG_FLOAT64: max_pool_f64(VP(x), VP(y), ix, q, rows, cols); break;
    default: max_pool_i64(VP(x), VP(y), ix, q, rows, cols); break;
    }
    free(sp);
    return 0;
}
static int max_pool_kernel(const cg_kargs *k) { return max_pool_run(k, WIN_MAX); }
static int adaptive_max_pool_kernel(const cg_kargs *k) { return max_pool_run(k, WIN_ADAPTIVE); }

/* t = {y, dense x}, i = the geometry (none when adaptive) */
static int avg_pool_run(const cg_kargs *k, int mode) {
    cg_tensor *y = k->t[0], *x = k->t[1];
    span *sp = windows(mode, x, y, k->i);
    if (!sp) return -1;
    planes q = planes_of(x, y);
    const span *rows = sp, *cols = sp + q.OH;
    switch (x->dtype) {
    case CG_FLOAT32: avg_pool_f32(VP(x), VP(y), q, rows, cols, mode, k->i); break;
    case CG_FLOAT64: avg_pool_f64(VP(x), VP(y), q, rows, cols, mode, k->i); break;
    default: avg_pool_i64(VP(x), VP(y), q, rows, cols, mode, k->i); break;
    }
    free(sp);
    return 0;
}
static int avg_pool_kernel(const cg_kargs *k) { return avg_pool_run(k, WIN_AVG); }
static int adaptive_avg_pool_kernel(const cg_kargs *k) { return avg_pool_run(k, WIN_ADAPTIVE); }

/* t = {gx, dense g}, i = the geometry (none when adaptive) */
static int avg_spread_run(const cg_kargs *k, int mode) {
    cg_tensor *gx = k->t[0], *g = k->t[1];
    span *sp = windows(mode, gx, g, k->i);
    if (!sp) return -1;
    planes q = planes_of(gx, g);
    if (gx->dtype == CG_FLOAT64)
        avg_spread_f64(VP(g), VP(gx), q, sp, sp + q.OH, mode, k->i);
    else
        avg_spread_f32(VP(g), VP(gx), q, sp, sp + q.OH, mode, k->i);
    free(sp);
    return 0;
}
static int avg_spread_kernel(const cg_kargs *k) { return avg_spread_run(k, WIN_AVG); }
static int adaptive_avg_spread_kernel(const cg_kargs *k) { return avg_spread_run(k, WIN_ADAPTIVE); }

/* t = {gx, dense g, dense indices} */
static int max_scatter_kernel(const cg_kargs *k) {
    cg_tensor *gx = k->t[0], *g = k->t[1];
    planes q = planes_of(gx, g);
    bool ok = gx->dtype == CG_FLOAT64 ? max_scatter_f64(VP(g), VP(k->t[2]), VP(gx), q)
                                      : max_scatter_f32(VP(g), VP(k->t[2]), VP(gx), q);
    if (!ok) cg_error_set(CG_ERR_RUNTIME, "max pooling backward: an index is outside its plane");
    return ok ? 0 : -1;
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

/* x's shape with its last two dims made (oh, ow) */
static void pooled_shape(const cg_tensor *x, int64_t oh, int64_t ow, int64_t *shape) {
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[x->ndim - 2] = oh;
    shape[x->ndim - 1] = ow;
}

/* Makes out the result of a new node of op over ins[0..nin), keeping the geometry g
 * (may be NULL) and saving s0, s1 (NULL: none) in slots 0, 1; out is released on failure. */
static cg_tensor *record(const cg_op *op, cg_tensor *out, cg_tensor *const *ins, int nin, const int64_t *g,
                         cg_tensor *s0, cg_tensor *s1) {
    if (!out || !cg_any_requires_grad(ins, nin)) return out;
    cg_node *n = cg_node_new(op, ins, nin, 1);
    if (!n || (s0 && cg_save(n, 0, s0, false)) || (s1 && cg_save(n, 1, s1, false))) {
        cg_tensor_release(out);
        cg_node_release(n);
        return NULL;
    }
    if (g) memcpy(n->i, g, sizeof(int64_t) * G_LEN);
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

/* out after running fn over k (out is k->t[0]); NULL, out released, if it failed */
static cg_tensor *run(cg_kernel_fn fn, cg_kargs *k, const int64_t *g) {
    if (g) memcpy(k->i, g, sizeof(int64_t) * G_LEN);
    if (k->t[0]->numel && cg_kernel(fn, k)) {
        cg_tensor_release(k->t[0]);
        return NULL;
    }
    return k->t[0];
}

/* ---- max pooling ------------------------------------------------------------------------ */

static const cg_op max_pool_op, adaptive_max_pool_op, max_pool_bwd_op, adaptive_max_pool_bwd_op;

/* The max pool of x, checked, into (oh, ow) windows; in *indices (a new reference) the argmax positions. */
static cg_tensor *max_pool_apply(bool adaptive, cg_tensor *x, int64_t oh, int64_t ow, const int64_t *g,
                                 cg_tensor **indices) {
    int64_t shape[CG_MAX_DIMS];
    pooled_shape(x, oh, ow, shape);
    cg_tensor *xc = dense_as(x, (cg_dtype)x->dtype);
    cg_tensor *out = xc ? cg_empty(shape, x->ndim, (cg_dtype)x->dtype) : NULL;
    cg_tensor *idx = out ? cg_empty(shape, x->ndim, CG_INT64) : NULL;
    if (out && !idx) cg_tensor_release(out);
    if (idx) {
        cg_kargs k = {.name = adaptive ? "adaptive_max_pool2d" : "max_pool2d", .t = {out, idx, xc}, .nw = 2};
        out = run(adaptive ? adaptive_max_pool_kernel : max_pool_kernel, &k, g);
        out = record(adaptive ? &adaptive_max_pool_op : &max_pool_op, out, &x, 1, g, x, idx);
    }
    cg_tensor_release(xc);
    if (!out || !idx) {
        cg_tensor_release(idx);
        return NULL;
    }
    *indices = idx;
    return out;
}

/* The (M, -1) view of t's planes flattened, M its leading dims */
static cg_tensor *flat_planes(cg_tensor *t) {
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)(t->ndim - 2));
    shape[t->ndim - 2] = t->shape[t->ndim - 2] * t->shape[t->ndim - 1];
    return cg_reshape(t, shape, t->ndim - 1);
}

/* gg read at the positions idx holds, plane by plane: the adjoint of max_scatter */
static cg_tensor *gather_planes(cg_tensor *gg, cg_tensor *idx) {
    if (idx->numel == 0) return cg_zeros(idx->shape, idx->ndim, (cg_dtype)gg->dtype);
    cg_tensor *fg = flat_planes(gg), *fi = fg ? flat_planes(idx) : NULL;
    cg_tensor *r = fi ? cg_gather(fg, -1, fi) : NULL;
    cg_tensor *out = r ? cg_reshape(r, idx->shape, idx->ndim) : NULL;
    cg_tensor_release(fg);
    cg_tensor_release(fi);
    cg_tensor_release(r);
    return out;
}

/* max_scatter is linear in g; its adjoint gathers at the same positions */
static int max_scatter_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    if (cg_wants(n, 0)) {
        cg_tensor *idx = cg_unpack(n, 0);
        gin[0] = idx ? gather_planes(gout[0], idx) : NULL;
        cg_tensor_release(idx);
        if (!gin[0]) return -1;
    }
    return zeros_for_input(n, gin);
}
static const cg_op max_pool_bwd_op = {"MaxPool2DWithIndicesBackwardBackward0", max_scatter_backward, NULL};
static const cg_op adaptive_max_pool_bwd_op = {"AdaptiveMaxPool2DBackwardBackward0", max_scatter_backward, NULL};

/* A gradient for x holding g added at the positions idx holds; a node of op over (g, x)
 * when either requires grad, as PyTorch's max_pool2d_with_indices_backward. */
static cg_tensor *max_scatter(const cg_op *op, cg_tensor *g, cg_tensor *x, cg_tensor *idx) {
    cg_dtype dtype = (cg_dtype)x->dtype;
    cg_tensor *gc = dense_as(g, dtype), *ic = gc ? dense_as(idx, CG_INT64) : NULL;
    cg_tensor *out = ic ? cg_empty(x->shape, x->ndim, dtype) : NULL;
    if (out)
        out = run(max_scatter_kernel, &(cg_kargs){.name = "max_pool2d_backward", .t = {out, gc, ic}, .nw = 1}, NULL);
    cg_tensor_release(gc);
    cg_tensor_release(ic);
    return record(op, out, (cg_tensor *[]){g, x}, 2, NULL, idx, NULL);
}

/* d/dx max over a window = 1 at the window's argmax (saved), 0 elsewhere */
static int max_pool_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *x = cg_unpack(n, 0), *idx = x ? cg_unpack(n, 1) : NULL;
    const cg_op *op = n->op == &max_pool_op ? &max_pool_bwd_op : &adaptive_max_pool_bwd_op;
    gin[0] = idx ? max_scatter(op, gout[0], x, idx) : NULL;
    cg_tensor_release(x);
    cg_tensor_release(idx);
    return gin[0] ? 0 : -1;
}
static const cg_op max_pool_op = {"MaxPool2DWithIndicesBackward0", max_pool_backward, NULL};
static const cg_op adaptive_max_pool_op = {"AdaptiveMaxPool2DBackward0", max_pool_backward, NULL};

/* ---- average pooling -------------------------------------------------------------------- */

static const cg_op avg_pool_op, adaptive_avg_pool_op, avg_pool_bwd_op, adaptive_avg_pool_bwd_op;

/* The average pool of x, checked, into (oh, ow) windows (adaptive ones when g is NULL). */
static cg_tensor *avg_pool_apply(cg_tensor *x, int64_t oh, int64_t ow, const int64_t *g) {
    int64_t shape[CG_MAX_DIMS];
    pooled_shape(x, oh, ow, shape);
    cg_tensor *xc = dense_as(x, (cg_dtype)x->dtype);
    cg_tensor *out = xc ? cg_empty(shape, x->ndim, (cg_dtype)x->dtype) : NULL;
    if (out) {
        cg_kargs k = {.name = g ? "avg_pool2d" : "adaptive_avg_pool2d", .t = {out, xc}, .nw = 1};
        out = run(g ? avg_pool_kernel : adaptive_avg_pool_kernel, &k, g);
    }
    cg_tensor_release(xc);
    return record(g ? &avg_pool_op : &adaptive_avg_pool_op, out, &x, 1, g, x, NULL);
}

/* The gradient for x that spreads grad over the windows (adaptive when g is NULL): the
 * adjoint of avg_pool_apply; a node over (grad, x) when either requires grad, as PyTorch's. */
static cg_tensor *avg_spread(cg_tensor *grad, cg_tensor *x, const int64_t *g) {
    cg_dtype dtype = (cg_dtype)x->dtype;
    cg_tensor *gc = dense_as(grad, dtype);
    cg_tensor *out = gc ? cg_empty(x->shape, x->ndim, dtype) : NULL;
    if (out) {
        cg_kargs k = {.name = g ? "avg_pool2d_backward" : "adaptive_avg_pool2d_backward", .t = {out, gc}, .nw = 1};
        out = run(g ? avg_spread_kernel : adaptive_avg_spread_kernel, &k, g);
    }
    cg_tensor_release(gc);
    return record(g ? &avg_pool_bwd_op : &adaptive_avg_pool_bwd_op, out, (cg_tensor *[]){grad, x}, 2, g, NULL, NULL);
}

/* avg_spread is linear in g; its adjoint is the average pool itself, into g's shape */
static int avg_spread_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    const cg_shape *gs = &n->in_shape[0];
    const int64_t *g = n->op == &avg_pool_bwd_op ? n->i : NULL;
    if (cg_wants(n, 0) && !(gin[0] = avg_pool_apply(gout[0], gs->d[gs->ndim - 2], gs->d[gs->ndim - 1], g)))
        return -1;
    return zeros_for_input(n, gin);
}
static const cg_op avg_pool_bwd_op = {"AvgPool2DBackwardBackward0", avg_spread_backward, NULL};
static const cg_op adaptive_avg_pool_bwd_op = {"AdaptiveAvgPool2DBackwardBackward0", avg_spread_backward, NULL};

/* d/dx[j] of a window's mean = 1 / divisor for each j the window holds */
static int avg_pool_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *x = cg_unpack(n, 0);
    gin[0] = x ? avg_spread(gout[0], x, n->op == &avg_pool_op ? n->i : NULL) : NULL;
    cg_tensor_release(x);
    return gin[0] ? 0 : -1;
}
static const cg_op avg_pool_op = {"AvgPool2DBackward0", avg_pool_backward, NULL};
static const cg_op adaptive_avg_pool_op = {"AdaptiveAvgPool2DBackward0", avg_pool_backward, NULL};

/* ---- argument checks, with PyTorch's messages ---------------------------------------------- */

/* Sets PyTorch's RuntimeError message (printf arguments); evaluates to -1. */
#define pool_error(...) (cg_error_set(CG_ERR_RUNTIME, __VA_ARGS__), -1)

#define LL(v) ((long long)(v))

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

/* PyTorch's pool2d_shape_check; g the geometry, dilation (1, 1) for average pools */
static int check_pool2d(const cg_tensor *x, const int64_t *k, const int64_t *s, const int64_t *p, const int64_t *d,
                        int64_t oh, int64_t ow) {
    char buf[160];
    if (k[0] <= 0 || k[1] <= 0)
        return pool_error("kernel size should be greater than zero, but got kH: %lld kW: %lld", LL(k[0]), LL(k[1]));
    if (s[0] <= 0 || s[1] <= 0)
        return pool_error("stride should be greater than zero, but got dH: %lld dW: %lld", LL(s[0]), LL(s[1]));
    if (d[0] <= 0 || d[1] <= 0)
        return pool_error("dilation should be greater than zero, but got dilationH: %lld dilationW: %lld", LL(d[0]),
                          LL(d[1]));
    if (!pool2d_dims(x))
        return pool_error("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:%s",
                          cg_shape_str(x->shape, x->ndim, buf, sizeof buf));
    if (k[1] / 2 < p[1] || k[0] / 2 < p[0])
        return pool_error("pad should be smaller than or equal to half of kernel size, but got "
                          "padW = %lld, padH = %lld, kW = %lld, kH = %lld", LL(p[1]), LL(p[0]), LL(k[1]), LL(k[0]));
    const int64_t *sh = x->shape + x->ndim - 3;
    if (oh < 1 || ow < 1)
        return pool_error("Given input size: (%lldx%lldx%lld). Calculated output size: (%lldx%lldx%lld). "
                          "Output size is too small", LL(sh[0]), LL(sh[1]), LL(sh[2]), LL(sh[0]), LL(oh), LL(ow));
    return 0;
}

/* The output size of a strided pool of x (3-d or more), checked as PyTorch checks it. */
static int pool2d_output(const cg_tensor *x, const int64_t *g, bool ceil_mode, bool dilated, int64_t *oh, int64_t *ow) {
    const int64_t one[2] = {1, 1}, *d = dilated ? g + G_D : one;
    int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    if (pooled_len(H, g[G_K], g[G_S], g[G_P], d[0], ceil_mode, oh) ||
        pooled_len(W, g[G_K + 1], g[G_S + 1], g[G_P + 1], d[1], ceil_mode, ow))
        return -1;
    return check_pool2d(x, g + G_K, g + G_S, g + G_P, d, *oh, *ow);
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

/* ---- the 2-d ops ------------------------------------------------------------------------- */

cg_tensor *cg_max_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                         const int64_t *dilation, int ceil_mode, cg_tensor **indices) {
    int64_t g[G_LEN] = {kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]};
    int64_t oh, ow;
    cg_tensor *idx = NULL;
    if (x->ndim != 3 && x->ndim != 4) {
        cg_error_set(CG_ERR_RUNTIME, "non-empty 3D or 4D (batch mode) tensor expected for input");
        return NULL;
    }
    if (pool2d_output(x, g, ceil_mode, true, &oh, &ow) || check_dtype("max_pool2d", x, true)) return NULL;
    cg_tensor *out = max_pool_apply(false, x, oh, ow, g, &idx);
    if (indices)
        *indices = idx;
    else
        cg_tensor_release(idx);
    return out;
}

cg_tensor *cg_avg_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                         int ceil_mode, int count_include_pad, const int64_t *divisor_override) {
    int64_t g[G_LEN] = {kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], count_include_pad != 0,
                        divisor_override ? *divisor_override : 0};
    int64_t oh, ow, d;
    if (divisor_override && *divisor_override == 0) {
        cg_error_set(CG_ERR_RUNTIME, "divisor must be not zero");
        return NULL;
    }
    if (x->ndim == 0) {
        cg_error_set(CG_ERR_INDEX, "Dimension specified as -3 but tensor has no dimensions");
        return NULL;
    }
    if (cg_wrap_dim(-3, x->ndim, &d) || pool2d_output(x, g, ceil_mode, false, &oh, &ow) ||
        check_dtype("avg_pool2d", x, true))
        return NULL;
    return avg_pool_apply(x, oh, ow, g);
}

cg_tensor *cg_adaptive_avg_pool2d(cg_tensor *x, const int64_t *output_size) {
    char buf[160];
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
    return avg_pool_apply(x, output_size[0], output_size[1], NULL);
}

cg_tensor *cg_adaptive_max_pool2d(cg_tensor *x, const int64_t *output_size, cg_tensor **indices) {
    char buf[160];
    cg_tensor *idx = NULL;
    if (x->ndim != 3 && x->ndim != 4) {
        cg_error_set(CG_ERR_RUNTIME, "adaptive_max_pool2d(): Expected 3D or 4D tensor, but got: %s",
                     cg_shape_str(x->shape, x->ndim, buf, sizeof buf));
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS];
    pooled_shape(x, output_size[0], output_size[1], shape);
    if (check_nonempty("adaptive_max_pool2d", x) || cg_check_shape(shape, x->ndim) ||
        check_dtype("adaptive_max_pool2d", x, false))
        return NULL;
    cg_tensor *out = max_pool_apply(true, x, output_size[0], output_size[1], NULL, &idx);
    if (indices)
        *indices = idx;
    else
        cg_tensor_release(idx);
    return out;
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
