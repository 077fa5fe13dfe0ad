/* ops_grid.c -- grid_sampler_2d and _3d: an input read at the points of a grid, forward and backward.
 *
 * As PyTorch's CPU kernels: each grid point (x, y[, z]) in [-1, 1] is mapped to
 * input pixel coordinates (align_corners: -1 and 1 are the centres of the
 * corner pixels, else their outer edges), then the padding mode settles
 * points outside (zeros: they read 0; border: clipped; reflection: mirrored
 * at the borders, then clipped), and the input is read (tri)linearly, at the
 * nearest pixel (ties to even) or, in 2-d, bicubically (A = -0.75, each tap
 * padded on its own). A 2-d input is a 3-d one of depth 1. The backward gives
 * the gradient of the input and of the grid in one pass, as PyTorch's
 * grid_sampler_2d_backward (_3d_backward); PyTorch's derivative
 * of that backward is not given here: under create_graph its results get a
 * node that says so.
 */
#include <math.h>

#include "internal.h"

#define VP(t) ((void *)cg_ptr(t)) /* a tensor's first element, as any pointer type */

enum { GS_BILINEAR = 0, GS_NEAREST = 1, GS_BICUBIC = 2 };
enum { GS_ZEROS = 0, GS_BORDER = 1, GS_REFLECTION = 2 };

/* The layout and options every helper reads: i = {mode, padding, align_corners}. */
typedef struct gs_geom {
    int64_t D, H, W, mode, padding, align, nd; /* nd: 2 or 3 spatial dims (D = 1 for 2) */
} gs_geom;

/* Note [Two kernels' coordinates]: PyTorch samples 2-d input with a vectorized kernel and 3-d
 * input with a scalar one, which map grid values to pixels the same way for finite values but
 * round differently and treat NaN, infinite and far points differently: the vectorized one
 * clamps NaN to 0, reflects with trunc instead of fmod, and lets a tap outside the input add
 * 0 times its weight (so a NaN weight makes NaN); the scalar one sends any point no int32 holds
 * to -100 (outside) and skips taps outside. Both are followed here, by g->nd. */
#define GS_IMPL(T, FLOOR, TRUNC, FMOD)                                                                  \
    /* grid value in [-1, 1] to a pixel coordinate; *d its derivative */                                 \
    static T unnormalize_##T(T c, int64_t size, const gs_geom *g, T *d) {                               \
        *d = g->align ? (T)(size - 1) / 2 : (T)size / 2;                                                \
        if (g->nd == 2) return g->align ? (c + 1) * *d : (c + 1) * *d - (T)0.5;                         \
        return g->align ? (c + 1) / 2 * (T)(size - 1) : ((c + 1) * (T)size - 1) / 2;                     \
    }                                                                                                   \
    /* c clipped to [0, size - 1]; *d 0 at and past the borders, else 1 */                               \
    static T clip_##T(T c, int64_t size, const gs_geom *g, T *d) {                                      \
        if (c != c) { /* NaN */                                                                         \
            *d = 0;                                                                                     \
            return g->nd == 2 ? 0 : (T)(size - 1);                                                      \
        }                                                                                               \
        if (c <= 0) {                                                                                   \
            *d = 0;                                                                                     \
            return 0;                                                                                   \
        }                                                                                               \
        if (c >= (T)(size - 1)) {                                                                       \
            *d = 0;                                                                                     \
            return (T)(size - 1);                                                                       \
        }                                                                                               \
        *d = 1;                                                                                         \
        return c;                                                                                       \
    }                                                                                                   \
    /* c mirrored at the borders (align_corners: the corner pixels' centres, else their edges);         \
     * *d is +-1 */                                                                                     \
    static T reflect_##T(T c, int64_t size, const gs_geom *g, T *d) {                                   \
        int64_t twice_low = g->align ? 0 : -1, twice_high = g->align ? 2 * (size - 1) : 2 * size - 1;    \
        if (twice_low == twice_high) {                                                                  \
            *d = 0;                                                                                     \
            return 0;                                                                                   \
        }                                                                                               \
        T lo = (T)twice_low / 2, span = (T)(twice_high - twice_low) / 2, sign = 1;                      \
        c -= lo;                                                                                        \
        if (c < 0) {                                                                                    \
            sign = -1;                                                                                  \
            c = -c;                                                                                     \
        }                                                                                               \
        if (g->nd == 2) {                                                                               \
            T twice = 2 * span, extra = c - TRUNC(c / twice) * twice, back = twice - extra;             \
            *d = extra > back ? -sign : sign;                                                           \
            return (extra > back ? back : extra) + lo;                                                  \
        }                                                                                               \
        T extra = FMOD(c, span);                                                                        \
        T flips = FLOOR(c / span);                                                                      \
        bool even = FMOD(flips, (T)2) == 0;                                                             \
        *d = even ? sign : -sign;                                                                       \
        return even ? extra + lo : span - extra + lo;                                                   \
    }                                                                                                   \
    /* A pixel coordinate after the padding mode; *d times its derivative */                             \
    static T pad_coord_##T(T c, int64_t size, const gs_geom *g, T *d) {                                \
        T d2 = 1;                                                                                       \
        if (g->padding == GS_BORDER) {                                                                  \
            c = clip_##T(c, size, g, &d2);                                                              \
            *d *= d2;                                                                                   \
        } else if (g->padding == GS_REFLECTION) {                                                       \
            c = reflect_##T(c, size, g, &d2);                                                           \
            *d *= d2;                                                                                   \
            c = clip_##T(c, size, g, &d2);                                                              \
            *d *= d2;                                                                                   \
        }                                                                                               \
        /* the scalar kernel's safe_downgrade_to_int_range */                                           \
        if (g->nd == 3 && (!isfinite(c) || c > (T)INT32_MAX || c < (T)INT32_MIN)) return (T)-100;        \
        return c;                                                                                       \
    }                                                                                                   \
    static T source_##T(T c, int64_t size, const gs_geom *g, T *d) {                                    \
        return pad_coord_##T(unnormalize_##T(c, size, g, d), size, g, d);                               \
    }                                                                                                   \
    /* a whole-number coordinate as an index; -1 (outside) for what no int32 holds, NaN included */     \
    static inline int64_t index_##T(T v) {                                                              \
        return v >= (T)-2147483648.0 && v < (T)2147483648.0 ? (int64_t)v : -1;                          \
    }                                                                                                   \
    /* the offset of pixel (z, y, x) in a plane, -1 outside */                                          \
    static inline int64_t at_##T(T z, T y, T x, const gs_geom *g) {                                    \
        int64_t iz = index_##T(z), iy = index_##T(y), ix = index_##T(x);                                \
        bool in = iz >= 0 && iz < g->D && iy >= 0 && iy < g->H && ix >= 0 && ix < g->W;                  \
        return in ? (iz * g->H + iy) * g->W + ix : -1;                                                  \
    }                                                                                                   \
    /* the offset into a plane of a bicubic tap (x, y), whole numbers, after padding; -1 outside */    \
    static int64_t tap_##T(T x, T y, const gs_geom *g) {                                                \
        T d = 1;                                                                                        \
        return at_##T(0, pad_coord_##T(y, g->H, g, &d), pad_coord_##T(x, g->W, g, &d), g);              \
    }                                                                                                   \
    /* PyTorch's cubic convolution weights for t in [0, 1) (A = -0.75), and their derivatives */       \
    static void cubic_##T(T t, T *w, T *dw) {                                                           \
        const T A = (T)-0.75;                                                                           \
        T x = t + 1;                                                                                    \
        w[0] = ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;                                               \
        w[1] = ((A + 2) * t - (A + 3)) * t * t + 1;                                                     \
        x = 1 - t;                                                                                      \
        w[2] = ((A + 2) * x - (A + 3)) * x * x + 1;                                                     \
        x = 2 - t;                                                                                      \
        w[3] = ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;                                               \
        x = -1 - t;                                                                                     \
        dw[0] = (-3 * A * x - 10 * A) * x - 8 * A;                                                      \
        x = -t;                                                                                         \
        dw[1] = (-3 * (A + 2) * x - 2 * (A + 3)) * x;                                                   \
        x = 1 - t;                                                                                      \
        dw[2] = (3 * (A + 2) * x - 2 * (A + 3)) * x;                                                    \
        x = 2 - t;                                                                                      \
        dw[3] = (3 * A * x - 10 * A) * x + 8 * A;                                                       \
    }

GS_IMPL(float, floorf, truncf, fmodf)
GS_IMPL(double, floor, trunc, fmod)

/* The taps one grid point reads: up to 16 offsets into a plane with their weights and, per
 * tap, the derivatives of its weight with respect to the point's pixel x and y. */
#define GS_TAPS(T, FLOOR, RINT)                                                                         \
    typedef struct taps_##T {                                                                           \
        int n;                                                                                          \
        int64_t at[16];                                                                                 \
        T w[16], dx[16], dy[16], dz[16];                                                                \
        T cx[4], cy[4]; /* bicubic: the weights across and down */                                      \
        T mx, my, mz;   /* d pixel coordinate / d grid value */                                         \
    } taps_##T;                                                                                         \
    static void taps_of_##T(const T *pt, const gs_geom *g, taps_##T *tp) {                              \
        T gx = pt[0], gy = pt[1];                                                                       \
        tp->n = 0;                                                                                      \
        tp->mz = 0;                                                                                     \
        if (g->mode == GS_BICUBIC) {                                                                    \
            T x = unnormalize_##T(gx, g->W, g, &tp->mx), y = unnormalize_##T(gy, g->H, g, &tp->my);     \
            T x0 = FLOOR(x), y0 = FLOOR(y), wx[4], wy[4], dwx[4], dwy[4];                                \
            cubic_##T(x - x0, wx, dwx);                                                                 \
            cubic_##T(y - y0, wy, dwy);                                                                 \
            memcpy(tp->cx, wx, sizeof wx);                                                              \
            memcpy(tp->cy, wy, sizeof wy);                                                              \
            for (int j = 0; j < 4; j++)                                                                 \
                for (int i = 0; i < 4; i++) {                                                           \
                    tp->at[tp->n] = tap_##T(x0 - 1 + (T)i, y0 - 1 + (T)j, g);                           \
                    tp->w[tp->n] = wx[i] * wy[j];                                                       \
                    tp->dx[tp->n] = -dwx[i] * wy[j];                                                    \
                    tp->dy[tp->n] = -dwy[j] * wx[i];                                                    \
                    tp->dz[tp->n] = 0;                                                                  \
                    tp->n++;                                                                            \
                }                                                                                       \
            return;                                                                                     \
        }                                                                                               \
        T x = source_##T(gx, g->W, g, &tp->mx), y = source_##T(gy, g->H, g, &tp->my);                   \
        T z = g->nd == 3 ? source_##T(pt[2], g->D, g, &tp->mz) : 0;                                     \
        if (g->mode == GS_NEAREST) {                                                                    \
            tp->at[0] = at_##T(RINT(z), RINT(y), RINT(x), g);                                           \
            tp->w[0] = 1;                                                                               \
            tp->dx[0] = tp->dy[0] = tp->dz[0] = 0;                                                      \
            tp->n = 1;                                                                                  \
            return;                                                                                     \
        }                                                                                               \
        T x0 = FLOOR(x), y0 = FLOOR(y), z0 = FLOOR(z), ex = x - x0, ey = y - y0, ez = z - z0;           \
        for (int l = 0; l < (g->nd == 3 ? 2 : 1); l++)                                                  \
            for (int j = 0; j < 2; j++)                                                                 \
                for (int i = 0; i < 2; i++) {                                                           \
                    T fx = i ? ex : 1 - ex, fy = j ? ey : 1 - ey, fz = g->nd == 2 ? 1 : l ? ez : 1 - ez; \
                    tp->at[tp->n] = at_##T(z0 + (T)l, y0 + (T)j, x0 + (T)i, g);                         \
                    tp->w[tp->n] = fx * fy * fz;                                                        \
                    tp->dx[tp->n] = (i ? 1 : -1) * fy * fz;                                             \
                    tp->dy[tp->n] = (j ? 1 : -1) * fx * fz;                                             \
                    tp->dz[tp->n] = (l ? 1 : -1) * fx * fy;                                             \
                    tp->n++;                                                                            \
                }                                                                                       \
    }

GS_TAPS(float, floorf, nearbyintf)
GS_TAPS(double, floor, nearbyint)

/* A plane read at one point's taps, summed in PyTorch's order (Note [Two kernels' coordinates]) */
#define GS_SAMPLE(T)                                                                                    \
    static T sample_##T(const T *plane, const taps_##T *tp, const gs_geom *g) {                         \
        T acc = 0;                                                                                      \
        if (g->mode == GS_BICUBIC) { /* along each row, then down the rows */                           \
            for (int j = 0; j < 4; j++) {                                                               \
                T row = 0;                                                                              \
                for (int i = 0; i < 4; i++) {                                                           \
                    int64_t a = tp->at[j * 4 + i];                                                      \
                    row += tp->cx[i] * (a >= 0 ? plane[a] : 0);                                         \
                }                                                                                       \
                acc += tp->cy[j] * row;                                                                 \
            }                                                                                           \
            return acc;                                                                                 \
        }                                                                                               \
        for (int q = 0; q < tp->n; q++)                                                                 \
            if (tp->at[q] >= 0)                                                                         \
                acc += plane[tp->at[q]] * tp->w[q];                                                     \
            else if (g->nd == 2)                                                                        \
                acc += 0 * tp->w[q];                                                                    \
        return acc;                                                                                     \
    }
GS_SAMPLE(float)
GS_SAMPLE(double)

/* forward: t = {out (N, C, [Do,] Ho, Wo), input (N, C, [D,] H, W), grid (N, [Do,] Ho, Wo, nd)};
 * backward: t = {grad input, grad grid, grad out, input, grid}, i[3] = the input's gradient wanted;
 * i = {mode, padding, align_corners} */
#define GS_KERNELS(T)                                                                                   \
    static int gs_forward_##T(const cg_kargs *k) {                                                      \
        cg_tensor *out = k->t[0], *in = k->t[1];                                                        \
        gs_geom g = geom_of(in, k);                                                                     \
        int64_t N = in->shape[0], C = in->shape[1], P = N ? k->t[2]->numel / (N * g.nd) : 0, HW = g.D * g.H * g.W; \
        T *o = VP(out);                                                                                 \
        const T *x = VP(in), *gr = VP(k->t[2]);                                                         \
        taps_##T tp;                                                                                    \
        for (int64_t n = 0; n < N; n++)                                                                 \
            for (int64_t p = 0; p < P; p++) {                                                           \
                taps_of_##T(gr + (n * P + p) * g.nd, &g, &tp);                                          \
                for (int64_t c = 0; c < C; c++) {                                                       \
                    const T *plane = x + (n * C + c) * HW;                                              \
                    o[(n * C + c) * P + p] = sample_##T(plane, &tp, &g);                                \
                }                                                                                       \
            }                                                                                           \
        return 0;                                                                                       \
    }                                                                                                   \
    static int gs_backward_##T(const cg_kargs *k) {                                                     \
        cg_tensor *gin = k->t[0], *go = k->t[2], *in = k->t[3];                                         \
        gs_geom g = geom_of(in, k);                                                                     \
        int64_t N = in->shape[0], C = in->shape[1], P = N ? k->t[4]->numel / (N * g.nd) : 0, HW = g.D * g.H * g.W; \
        T *gi = VP(gin), *gg = VP(k->t[1]);                                                             \
        const T *gop = VP(go), *x = VP(in), *gr = VP(k->t[4]);                                          \
        taps_##T tp;                                                                                    \
        memset(gi, 0, sizeof(T) * (size_t)gin->numel);                                                  \
        for (int64_t n = 0; n < N; n++)                                                                 \
            for (int64_t p = 0; p < P; p++) {                                                           \
                taps_of_##T(gr + (n * P + p) * g.nd, &g, &tp);                                          \
                T sx = 0, sy = 0, sz = 0;                                                               \
                for (int64_t c = 0; c < C; c++) {                                                       \
                    T d = gop[(n * C + c) * P + p];                                                     \
                    const T *plane = x + (n * C + c) * HW;                                              \
                    T *gplane = gi + (n * C + c) * HW;                                                  \
                    for (int q = 0; q < tp.n; q++) {                                                    \
                        if (tp.at[q] < 0) continue;                                                     \
                        if (k->i[3]) gplane[tp.at[q]] += tp.w[q] * d;                                   \
                        sx += plane[tp.at[q]] * tp.dx[q] * d;                                           \
                        sy += plane[tp.at[q]] * tp.dy[q] * d;                                           \
                        sz += plane[tp.at[q]] * tp.dz[q] * d;                                           \
                    }                                                                                   \
                }                                                                                       \
                T *gp = gg + (n * P + p) * g.nd;                                                        \
                gp[0] = tp.mx * sx;                                                                     \
                gp[1] = tp.my * sy;                                                                     \
                if (g.nd == 3) gp[2] = tp.mz * sz;                                                      \
            }                                                                                           \
        return 0;                                                                                       \
    }

/* The geometry of input (N, C, [D,] H, W) under the kernel's options */
static gs_geom geom_of(const cg_tensor *in, const cg_kargs *k) {
    int nd = in->ndim - 2;
    return (gs_geom){nd == 3 ? in->shape[2] : 1, in->shape[in->ndim - 2], in->shape[in->ndim - 1], k->i[0], k->i[1],
                     k->i[2], nd};
}

GS_KERNELS(float)
GS_KERNELS(double)

/* ---- the node ------------------------------------------------------------------------------ */

static int gs_backward_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)gout, (void)gin;
    cg_error_set(CG_ERR_RUNTIME, "derivative for aten::grid_sampler_%dd_backward is not implemented", (int)n->i[0]);
    return -1;
}
static const cg_op gs_backward_op = {"torch::autograd::NotImplemented", gs_backward_backward, NULL};

/* Gives each of outs[0..2) (those not NULL) a node that fails, when create_graph records. */
static int not_differentiable(cg_tensor **outs, cg_tensor **ins, int nin, int nd) {
    if (!cg_any_requires_grad(ins, nin)) return 0;
    for (int k = 0; k < 2; k++) {
        if (!outs[k]) continue;
        cg_node *bn = cg_node_new(&gs_backward_op, ins, nin, 1);
        if (!bn) return -1;
        bn->i[0] = nd;
        cg_set_history(outs[k], bn, 0);
        cg_node_release(bn);
    }
    return 0;
}

static int grid_sampler_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *x = cg_unpack(n, 0), *grid = x ? cg_unpack(n, 1) : NULL;
    if (!grid) {
        cg_tensor_release(x);
        return -1;
    }
    cg_dtype dt = (cg_dtype)x->dtype;
    cg_tensor *xc = cg_contiguous(x), *gc = cg_contiguous(grid), *g1 = cg_to_dtype(gout[0], dt);
    cg_tensor *goc = g1 ? cg_contiguous(g1) : NULL;
    cg_tensor *gx = cg_empty(x->shape, x->ndim, dt), *gg = cg_empty(grid->shape, grid->ndim, dt);
    int rc = xc && gc && goc && gx && gg ? 0 : -1;
    if (!rc)
        rc = cg_kernel(dt == CG_FLOAT64 ? gs_backward_double : gs_backward_float,
                       &(cg_kargs){.name = "grid_sampler_backward", .t = {gx, gg, goc, xc, gc}, .nw = 2,
                                   .i = {n->i[0], n->i[1], n->i[2], cg_wants(n, 0)}});
    cg_tensor *outs[2] = {cg_wants(n, 0) ? gx : NULL, cg_wants(n, 1) ? gg : NULL};
    if (!rc) rc = not_differentiable(outs, (cg_tensor *[]){gout[0], x, grid}, 3, x->ndim - 2);
    cg_tensor *tmp[5] = {x, grid, xc, gc, g1};
    for (int k = 0; k < 5; k++) cg_tensor_release(tmp[k]);
    cg_tensor_release(goc);
    if (rc || !outs[0]) cg_tensor_release(gx);
    if (rc || !outs[1]) cg_tensor_release(gg);
    if (rc) return -1;
    gin[0] = outs[0];
    gin[1] = outs[1];
    return 0;
}
static const cg_op grid_sampler_2d_op = {"GridSampler2DBackward0", grid_sampler_backward, NULL};
static const cg_op grid_sampler_3d_op = {"GridSampler3DBackward0", grid_sampler_backward, NULL};

cg_tensor *cg_grid_sampler(cg_tensor *input, cg_tensor *grid, int64_t mode, int64_t padding_mode, int align_corners) {
    int nd = input->ndim - 2;
    if ((nd != 2 && nd != 3) || grid->ndim != input->ndim || grid->shape[nd + 1] != nd ||
        input->shape[0] != grid->shape[0] || input->dtype != grid->dtype ||
        !cg_dtype_is_floating((cg_dtype)input->dtype) || mode < 0 || mode > (nd == 2 ? 2 : 1) || padding_mode < 0 ||
        padding_mode > 2) {
        cg_error_set(CG_ERR_RUNTIME, "grid_sampler: expected a 4-D or 5-D input and a (N, [D,] H, W, 2 or 3) grid "
                     "of its dtype");
        return NULL;
    }
    cg_dtype dt = (cg_dtype)input->dtype;
    int64_t shape[5] = {input->shape[0], input->shape[1], grid->shape[1], grid->shape[2], grid->shape[3]};
    cg_tensor *xc = cg_contiguous(input), *gc = cg_contiguous(grid), *out = cg_empty(shape, input->ndim, dt);
    int rc = xc && gc && out ? 0 : -1;
    if (!rc)
        rc = cg_kernel(dt == CG_FLOAT64 ? gs_forward_double : gs_forward_float,
                       &(cg_kargs){.name = "grid_sampler", .t = {out, xc, gc}, .nw = 1,
                                   .i = {mode, padding_mode, align_corners}});
    cg_tensor_release(xc);
    cg_tensor_release(gc);
    cg_tensor *ins[2] = {input, grid};
    if (!rc && cg_any_requires_grad(ins, 2)) {
        cg_node *n = cg_node_new(nd == 2 ? &grid_sampler_2d_op : &grid_sampler_3d_op, ins, 2, 1);
        rc = !n || cg_save(n, 0, input, false) || cg_save(n, 1, grid, false) ? -1 : 0;
        if (!rc) {
            n->i[0] = mode;
            n->i[1] = padding_mode;
            n->i[2] = align_corners;
            cg_set_history(out, n, 0);
        }
        cg_node_release(n);
    }
    if (rc) {
        cg_tensor_release(out);
        return NULL;
    }
    return out;
}
