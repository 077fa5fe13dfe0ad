/* ops_conv.c -- convolutions: im2col / col2im (unfold / fold), conv1d / conv2d / conv3d and
 * their transposed forms.
 *
 * Everything works on 5-d volumes (N, C, D, H, W); a 2-d convolution is a 3-d one of depth 1,
 * a 1-d one also of height 1. The forward of a convolution is one kernel: each volume is
 * unrolled into columns (im2col) and multiplied by the weight through BLAS,
 * group by group. Its node, ConvolutionBackward0 as PyTorch names it, writes
 * its backward with ops: the input's gradient is col2im(w^T g), the weight's
 * g im2col(x)^T summed over the batch, the bias's the sum of g. im2col and
 * col2im are differentiable ops, each the other's adjoint (Im2ColBackward0,
 * Col2ImBackward0), so create_graph gives derivatives of any order.
 *
 * A transposed convolution is a convolution's input gradient, so it reuses the
 * same kernels with the roles of input and output gradient swapped; its node
 * has PyTorch's name too.
 */
#include <cblas.h>

#include "internal.h"

#define VP(t) ((void *)cg_ptr(t))

/* Where a sliding window lies, per spatial dim (depth, height, width; a window of fewer dims
 * has leading ones): kernel size, stride, padding before the first position (the one after is
 * implied by o), dilation, and the number of positions. */
typedef struct geom {
    int64_t k[3], s[3], p[3], d[3], o[3];
} geom;
/* kernels and convolution nodes keep {s, p, d} in i[0..8] and the groups in i[9] */
#define GEOM_GROUPS 9
_Static_assert(GEOM_GROUPS + 1 <= CG_MAX_DIMS + 2, "a convolution's ints fit a node's i[]");

/* Temporaries of a backward formula, released together. K(e) keeps the new
 * reference e and, once anything has failed, skips evaluating the rest. */
#define CONV_TMP_MAX 24
typedef struct tmp {
    cg_tensor *t[CONV_TMP_MAX];
    int n;
    bool failed;
} tmp;

static cg_tensor *tmp_keep(tmp *s, cg_tensor *t) {
    if (!t || s->n == CONV_TMP_MAX) {
        if (t) cg_error_set(CG_ERR_RUNTIME, "ops_conv: too many temporaries");
        cg_tensor_release(t);
        s->failed = true;
        return NULL;
    }
    return s->t[s->n++] = t;
}
#define K(e) (S.failed ? NULL : tmp_keep(&S, (e)))

/* Releases the temporaries; a new reference to r, NULL if anything failed. */
static cg_tensor *tmp_end(tmp *s, cg_tensor *r) {
    if (s->failed || !r)
        r = NULL;
    else
        cg_tensor_retain(r);
    for (int k = 0; k < s->n; k++) cg_tensor_release(s->t[k]);
    s->n = 0;
    return r;
}

/* a new reference to t, kept beyond the temporaries */
static cg_tensor *take(cg_tensor *t) {
    if (t) cg_tensor_retain(t);
    return t;
}

static cg_tensor *reshape4(cg_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d) {
    return cg_reshape(t, (int64_t[]){a, b, c, d}, 4);
}

/* t contiguous (t itself, a new reference, when it already is); no autograd */
static cg_tensor *dense(cg_tensor *t) {
    if (cg_tensor_is_contiguous(t)) {
        cg_tensor_retain(t);
        return t;
    }
    cg_tensor *out = cg_empty(t->shape, t->ndim, (cg_dtype)t->dtype);
    if (out && cg_copy_data(out, t)) {
        cg_tensor_release(out);
        return NULL;
    }
    return out;
}

/* The last ndim - 2 dims of shape, right-aligned in out[3] after leading ones */
static void spatial3(const int64_t *shape, int ndim, int64_t *out) {
    out[0] = out[1] = out[2] = 1;
    for (int d = 2; d < ndim; d++) out[3 - ndim + d] = shape[d];
}

/* dense t (N, C, *) viewed as 5-d (N, C, D, H, W); no autograd */
static cg_tensor *vol_view(cg_tensor *t) {
    if (t->ndim == 5) {
        cg_tensor_retain(t);
        return t;
    }
    int64_t shape[5] = {t->shape[0], t->shape[1]};
    spatial3(t->shape, t->ndim, shape + 2);
    return cg_view_raw(t, shape, 5);
}

/* t contiguous and viewed as 5-d; no autograd */
static cg_tensor *dense_vol(cg_tensor *t) {
    cg_tensor *c = dense(t), *v = c ? vol_view(c) : NULL;
    cg_tensor_release(c);
    return v;
}

/* ---- kernels ------------------------------------------------------------------------ */

/* The positions x in [lo, hi) along the width whose column j lies inside a row of W */
static void row_range(const geom *g, int64_t j, int64_t W, int64_t *lo, int64_t *hi) {
    int64_t w0 = j * g->d[2] - g->p[2], ow = g->o[2], s = g->s[2];
    int64_t a = w0 >= 0 ? 0 : (-w0 + s - 1) / s, b = W - w0 <= 0 ? 0 : (W - w0 - 1) / s + 1;
    a = a < ow ? a : ow;
    *lo = a;
    *hi = b < a ? a : b > ow ? ow : b;
}

/* The columns of one volume x (C, D, H, W): cols (C, kd, kh, kw, od, oh, ow) holds at
 * [c][a][i][j][z][y][x] the voxel x[c][z sd - pd + a dd][y sh - ph + i dh][x sw - pw + j dw],
 * 0 in the padding. Elements are copied as bits, so one loop per element width serves every
 * dtype. */
#define IM2COL(NAME, T)                                                                             \
    static void NAME(const T *x, T *cols, int64_t C, const int64_t *in, const geom *g) {           \
        int64_t D = in[0], H = in[1], W = in[2], ow = g->o[2], sw = g->s[2], lo, hi;                \
        for (int64_t c = 0; c < C; c++)                                                             \
            for (int64_t a = 0; a < g->k[0]; a++)                                                   \
                for (int64_t i = 0; i < g->k[1]; i++)                                               \
                    for (int64_t j = 0; j < g->k[2]; j++) {                                         \
                        int64_t w0 = j * g->d[2] - g->p[2]; /* column read at x = 0 */              \
                        row_range(g, j, W, &lo, &hi);                                               \
                        for (int64_t z = 0; z < g->o[0]; z++) {                                     \
                            int64_t t = z * g->s[0] - g->p[0] + a * g->d[0];                        \
                            for (int64_t y = 0; y < g->o[1]; y++, cols += ow) {                     \
                                int64_t h = y * g->s[1] - g->p[1] + i * g->d[1];                    \
                                if (t < 0 || t >= D || h < 0 || h >= H) {                           \
                                    memset(cols, 0, sizeof(T) * (size_t)ow);                        \
                                    continue;                                                       \
                                }                                                                   \
                                const T *row = x + ((c * D + t) * H + h) * W + w0;                  \
                                for (int64_t q = 0; q < lo; q++) cols[q] = 0;                       \
                                if (sw == 1)                                                        \
                                    memcpy(cols + lo, row + lo, sizeof(T) * (size_t)(hi - lo));     \
                                else                                                                \
                                    for (int64_t q = lo; q < hi; q++) cols[q] = row[q * sw];        \
                                for (int64_t q = hi; q < ow; q++) cols[q] = 0;                      \
                            }                                                                       \
                        }                                                                           \
                    }                                                                               \
    }
IM2COL(im2col_32, uint32_t)
IM2COL(im2col_64, uint64_t)

static void im2col_vol(const void *x, void *cols, int64_t isz, int64_t C, const int64_t *in, const geom *g) {
    if (isz == 4)
        im2col_32(x, cols, C, in, g);
    else
        im2col_64(x, cols, C, in, g);
}

/* The adjoint of IM2COL: each column element is added back into the voxel
 * it was read from (padding positions are dropped). x must start zeroed. */
#define COL2IM(NAME, T)                                                                             \
    static void NAME(T *x, const T *cols, int64_t C, const int64_t *in, const geom *g) {           \
        int64_t D = in[0], H = in[1], W = in[2], ow = g->o[2], sw = g->s[2], lo, hi;                \
        for (int64_t c = 0; c < C; c++)                                                             \
            for (int64_t a = 0; a < g->k[0]; a++)                                                   \
                for (int64_t i = 0; i < g->k[1]; i++)                                               \
                    for (int64_t j = 0; j < g->k[2]; j++) {                                         \
                        int64_t w0 = j * g->d[2] - g->p[2];                                         \
                        row_range(g, j, W, &lo, &hi);                                               \
                        for (int64_t z = 0; z < g->o[0]; z++) {                                     \
                            int64_t t = z * g->s[0] - g->p[0] + a * g->d[0];                        \
                            for (int64_t y = 0; y < g->o[1]; y++, cols += ow) {                     \
                                int64_t h = y * g->s[1] - g->p[1] + i * g->d[1];                    \
                                if (t < 0 || t >= D || h < 0 || h >= H) continue;                   \
                                T *row = x + ((c * D + t) * H + h) * W + w0;                        \
                                for (int64_t q = lo; q < hi; q++) row[q * sw] += cols[q];           \
                            }                                                                       \
                        }                                                                           \
                    }                                                                               \
    }
COL2IM(col2im_f32, float)
COL2IM(col2im_f64, double)
COL2IM(col2im_u64, uint64_t) /* int64 as unsigned: the same bits, wrapping on overflow as PyTorch's */

static void col2im_vol(cg_dtype dt, void *x, const void *cols, int64_t C, const int64_t *in, const geom *g) {
    if (dt == CG_FLOAT64)
        col2im_f64(x, cols, C, in, g);
    else if (dt == CG_INT64)
        col2im_u64(x, cols, C, in, g);
    else
        col2im_f32(x, cols, C, in, g);
}

static void ints_of(const geom *g, int64_t *i) {
    for (int d = 0; d < 3; d++) i[d] = g->s[d], i[3 + d] = g->p[d], i[6 + d] = g->d[d];
}

/* A window from ints (ints_of's layout), the kernel sizes k and the positions o */
static geom geom_from(const int64_t *i, const int64_t *k, const int64_t *o) {
    geom g;
    for (int d = 0; d < 3; d++)
        g.k[d] = k[d], g.s[d] = i[d], g.p[d] = i[3 + d], g.d[d] = i[6 + d], g.o[d] = o[d];
    return g;
}

/* The window of kernel arguments: the kernel and output sizes from the last six dims of cols
 * (.., kd, kh, kw, od, oh, ow). */
static geom geom_of(const cg_kargs *k, const cg_tensor *cols) {
    const int64_t *c = cols->shape + cols->ndim - 6;
    return geom_from(k->i, c, c + 3);
}

/* t = {cols (N, C, kd, kh, kw, od, oh, ow), dense x (N, C, D, H, W)} */
static int im2col_kernel(const cg_kargs *k) {
    cg_tensor *cols = k->t[0], *x = k->t[1];
    geom g = geom_of(k, cols);
    int64_t N = x->shape[0], C = x->shape[1], *in = x->shape + 2, isz = cg_elem_size((cg_dtype)x->dtype);
    int64_t per_x = C * in[0] * in[1] * in[2], per_c = cols->numel / (N ? N : 1);
    for (int64_t n = 0; n < N; n++)
        im2col_vol(cg_ptr(x) + n * per_x * isz, cg_ptr(cols) + n * per_c * isz, isz, C, in, &g);
    return 0;
}

/* t = {x (N, C, D, H, W), dense cols (N, C, kd, kh, kw, od, oh, ow)} */
static int col2im_kernel(const cg_kargs *k) {
    cg_tensor *x = k->t[0], *cols = k->t[1];
    geom g = geom_of(k, cols);
    int64_t N = x->shape[0], C = x->shape[1], *in = x->shape + 2, isz = cg_elem_size((cg_dtype)x->dtype);
    int64_t per_x = C * in[0] * in[1] * in[2], per_c = cols->numel / (N ? N : 1);
    memset(VP(x), 0, (size_t)(x->numel * isz));
    for (int64_t n = 0; n < N; n++)
        col2im_vol((cg_dtype)x->dtype, cg_ptr(x) + n * per_x * isz, cg_ptr(cols) + n * per_c * isz, C, in, &g);
    return 0;
}

/* out (M x N, row-major, holding the bias) += a (M x K) b (K x N), both row-major */
static void gemm_acc(cg_dtype dtype, int64_t M, int64_t N, int64_t Kd, const void *a, const void *b, void *out) {
    if (M == 0 || N == 0 || Kd == 0) return;
    if (dtype == CG_FLOAT64) {
        scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)Kd, 1.0, a, (int)Kd, b,
                          (int)N, 1.0, out, (int)N);
    } else if (dtype == CG_FLOAT32) {
        scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)Kd, 1.0f, a, (int)Kd, b,
                          (int)N, 1.0f, out, (int)N);
    } else { /* int64: no BLAS; wrapping sums, as PyTorch's */
        const int64_t *x = a, *y = b;
        int64_t *o = out;
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < Kd; k++)
                for (int64_t j = 0; j < N; j++) o[i * N + j] = cg_wrap_add(o[i * N + j], cg_wrap_mul(x[i * Kd + k], y[k * N + j]));
    }
}

/* Fills row r of out (rows x len) with bias[r] (zeros without a bias). */
#define FILL_BIAS(NAME, T)                                                                   \
    static void NAME(T *out, const T *bias, int64_t rows, int64_t len) {                     \
        for (int64_t r = 0; r < rows; r++)                                                   \
            for (int64_t q = 0; q < len; q++) out[r * len + q] = bias ? bias[r] : 0;         \
    }
FILL_BIAS(fill_bias_32, uint32_t)
FILL_BIAS(fill_bias_64, uint64_t)

static void fill_bias(char *out, const cg_tensor *b, int64_t rows, int64_t len, int64_t isz) {
    if (isz == 4)
        fill_bias_32((uint32_t *)out, b ? (const uint32_t *)cg_ptr(b) : NULL, rows, len);
    else
        fill_bias_64((uint64_t *)out, b ? (const uint64_t *)cg_ptr(b) : NULL, rows, len);
}

/* What the kernels share: t = {out, dense gy, dense x or w}, all 5-d, i = {s, p, d, G}. */
typedef struct conv_dims {
    geom g;
    int64_t N, C, in[3], O, G, L, Kg, Og, isz, per_x;
    bool direct; /* a 1 x 1 x 1 window moving by one over an unpadded volume: the columns are the volume */
} conv_dims;

/* volume (N, C, D, H, W), w (O, C / G, kd, kh, kw), positions o[3] */
static conv_dims dims_of(const cg_kargs *k, const cg_tensor *vol, const cg_tensor *w, const int64_t *o) {
    conv_dims c;
    c.g = geom_from(k->i, w->shape + 2, o);
    c.N = vol->shape[0], c.C = vol->shape[1];
    c.direct = true;
    for (int d = 0; d < 3; d++) {
        c.in[d] = vol->shape[2 + d];
        c.direct &= c.g.k[d] == 1 && c.g.s[d] == 1 && c.g.p[d] == 0 && c.g.o[d] == c.in[d];
    }
    c.O = w->shape[0], c.G = k->i[GEOM_GROUPS], c.L = o[0] * o[1] * o[2];
    c.Kg = (c.C / c.G) * c.g.k[0] * c.g.k[1] * c.g.k[2], c.Og = c.O / c.G;
    c.isz = cg_elem_size((cg_dtype)vol->dtype), c.per_x = c.C * c.in[0] * c.in[1] * c.in[2];
    return c;
}

/* columns for G groups of Kg x L, NULL when the volume is its own columns */
static int cols_alloc(const conv_dims *c, char **cols) {
    *cols = NULL;
    if (c->direct || c->N == 0) return 0;
    if (!(*cols = malloc((size_t)(c->G * c->Kg * c->L * c->isz + 1)))) {
        cg_oom(c->G * c->Kg * c->L * c->isz);
        return -1;
    }
    return 0;
}

/* t = {out (N, O, 1, 1, 1, od, oh, ow), dense x (N, C, D, H, W), dense w (O, C / G, kd, kh, kw), dense b or NULL},
 * i = {s, p, d, G} */
static int conv_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *x = k->t[1], *w = k->t[2], *b = k->t[3];
    conv_dims c = dims_of(k, x, w, out->shape + 5);
    cg_dtype dt = (cg_dtype)x->dtype;
    char *cols;
    if (cols_alloc(&c, &cols)) return -1;
    for (int64_t n = 0; n < c.N; n++) {
        const char *xn = cg_ptr(x) + n * c.per_x * c.isz;
        char *on = cg_ptr(out) + n * c.O * c.L * c.isz;
        fill_bias(on, b, c.O, c.L, c.isz);
        if (cols) im2col_vol(xn, cols, c.isz, c.C, c.in, &c.g);
        const char *src = cols ? cols : xn;
        for (int64_t q = 0; q < c.G; q++)
            gemm_acc(dt, c.Og, c.L, c.Kg, cg_ptr(w) + q * c.Og * c.Kg * c.isz, src + q * c.Kg * c.L * c.isz,
                     on + q * c.Og * c.L * c.isz);
    }
    free(cols);
    return 0;
}

/* The int64 gemm below: no BLAS, wrapping sums as PyTorch's */
static void gemm_i64(bool ta, bool tb, int64_t M, int64_t N, int64_t Kd, const int64_t *a, int64_t lda,
                     const int64_t *b, int64_t ldb, double beta, int64_t *c, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            int64_t acc = beta == 0 ? 0 : c[i * ldc + j];
            for (int64_t k = 0; k < Kd; k++)
                acc = cg_wrap_add(acc, cg_wrap_mul(ta ? a[k * lda + i] : a[i * lda + k],
                                                   tb ? b[j * ldb + k] : b[k * ldb + j]));
            c[i * ldc + j] = acc;
        }
}

/* c (M x N, ldc) = beta c + op(a) op(b), row-major, beta 0 or 1;
 * op transposes when ta / tb */
static void gemm(cg_dtype dt, bool ta, bool tb, int64_t M, int64_t N, int64_t Kd, const void *a, int64_t lda,
                 const void *b, int64_t ldb, double beta, void *c, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (dt == CG_INT64) {
        gemm_i64(ta, tb, M, N, Kd, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    if (Kd == 0) { /* BLAS wants leading dims of at least 1 */
        for (int64_t r = 0; r < M && beta == 0; r++) memset((char *)c + r * ldc * cg_elem_size(dt), 0, (size_t)(N * cg_elem_size(dt)));
        return;
    }
    enum CBLAS_TRANSPOSE A = ta ? CblasTrans : CblasNoTrans, B = tb ? CblasTrans : CblasNoTrans;
    if (dt == CG_FLOAT64)
        scipy_cblas_dgemm(CblasRowMajor, A, B, (int)M, (int)N, (int)Kd, 1.0, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
    else
        scipy_cblas_sgemm(CblasRowMajor, A, B, (int)M, (int)N, (int)Kd, 1.0f, a, (int)lda, b, (int)ldb, (float)beta, c,
                          (int)ldc);
}

/* t = {dx (N, C, D, H, W), dense gy (N, O, od, oh, ow), dense w}: volume by volume, the
 * columns w_g^T gy_g summed back into voxels */
static int conv_input_grad_kernel(const cg_kargs *k) {
    cg_tensor *dx = k->t[0], *gy = k->t[1], *w = k->t[2];
    conv_dims c = dims_of(k, dx, w, gy->shape + 2);
    cg_dtype dt = (cg_dtype)dx->dtype;
    char *cols;
    if (cols_alloc(&c, &cols)) return -1;
    for (int64_t n = 0; n < c.N; n++) {
        char *dxn = cg_ptr(dx) + n * c.per_x * c.isz, *dst = cols ? cols : dxn;
        const char *gyn = cg_ptr(gy) + n * c.O * c.L * c.isz;
        for (int64_t q = 0; q < c.G; q++)
            gemm(dt, true, false, c.Kg, c.L, c.Og, cg_ptr(w) + q * c.Og * c.Kg * c.isz, c.Kg,
                 gyn + q * c.Og * c.L * c.isz, c.L, 0.0, dst + q * c.Kg * c.L * c.isz, c.L);
        if (!cols) continue;
        memset(dxn, 0, (size_t)(c.per_x * c.isz));
        col2im_vol(dt, dxn, cols, c.C, c.in, &c.g);
    }
    free(cols);
    return 0;
}

/* t = {dw (O, C / G, kd, kh, kw), dense gy (N, O, od, oh, ow), dense x}: volume by volume,
 * dw_g += gy_g im2col(x)_g^T */
static int conv_weight_grad_kernel(const cg_kargs *k) {
    cg_tensor *dw = k->t[0], *gy = k->t[1], *x = k->t[2];
    conv_dims c = dims_of(k, x, dw, gy->shape + 2);
    cg_dtype dt = (cg_dtype)x->dtype;
    char *cols;
    memset(VP(dw), 0, (size_t)(dw->numel * c.isz));
    if (cols_alloc(&c, &cols)) return -1;
    for (int64_t n = 0; n < c.N; n++) {
        const char *xn = cg_ptr(x) + n * c.per_x * c.isz, *gyn = cg_ptr(gy) + n * c.O * c.L * c.isz;
        if (cols) im2col_vol(xn, cols, c.isz, c.C, c.in, &c.g);
        const char *src = cols ? cols : xn;
        for (int64_t q = 0; q < c.G; q++)
            gemm(dt, false, true, c.Og, c.Kg, c.L, gyn + q * c.Og * c.L * c.isz, c.L, src + q * c.Kg * c.L * c.isz,
                 c.L, 1.0, cg_ptr(dw) + q * c.Og * c.Kg * c.isz, c.Kg);
    }
    free(cols);
    return 0;
}

/* ---- im2col / col2im as ops ------------------------------------------------------------ */

static cg_tensor *im2col_op(cg_tensor *x, const geom *g);
static cg_tensor *col2im_op(cg_tensor *cols, const int64_t *shape, int ndim, const geom *g);

/* d/dx im2col(x) is its adjoint: the gradient's columns summed back into voxels */
static int im2col_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    const cg_shape *in = &n->in_shape[0];
    return (gin[0] = col2im_op(gout[0], in->d, in->ndim, n->extra)) ? 0 : -1;
}
static const cg_op im2col_node = {"Im2ColBackward0", im2col_backward, free};

/* d/dcols col2im(cols) is its adjoint: the gradient unrolled into columns */
static int col2im_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    return (gin[0] = im2col_op(gout[0], n->extra)) ? 0 : -1;
}
static const cg_op col2im_node = {"Col2ImBackward0", col2im_backward, free};

/* out, with a node of op over in keeping the window g (in its extra) when in requires grad */
static cg_tensor *with_geom_node(const cg_op *op, cg_tensor *out, cg_tensor *in, const geom *g) {
    if (!out || !cg_any_requires_grad(&in, 1)) return out;
    cg_node *n = cg_node_new(op, &in, 1, 1);
    geom *kept = n ? malloc(sizeof *kept) : NULL;
    if (!kept) {
        if (n) cg_oom((int64_t)sizeof *kept);
        cg_node_release(n);
        cg_tensor_release(out);
        return NULL;
    }
    *kept = *g;
    n->extra = kept;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* x (N, C, *) unrolled into (N, C kd kh kw, od oh ow) */
static cg_tensor *im2col_op(cg_tensor *x, const geom *g) {
    int64_t N = x->shape[0], C = x->shape[1], kk = g->k[0] * g->k[1] * g->k[2];
    int64_t shape[3] = {N, C * kk, g->o[0] * g->o[1] * g->o[2]};
    int64_t eight[8] = {N, C, g->k[0], g->k[1], g->k[2], g->o[0], g->o[1], g->o[2]};
    cg_tensor *xv = dense_vol(x), *out = xv ? cg_empty(shape, 3, (cg_dtype)x->dtype) : NULL;
    cg_tensor *view = out ? cg_view_raw(out, eight, 8) : NULL;
    cg_kargs k = {.name = "im2col", .t = {view, xv}, .nw = 1};
    ints_of(g, k.i);
    if (!view || cg_kernel(im2col_kernel, &k)) {
        cg_tensor_release(out);
        out = NULL;
    }
    cg_tensor_release(view);
    cg_tensor_release(xv);
    return with_geom_node(&im2col_node, out, x, g);
}

/* cols (N, C kd kh kw, od oh ow) summed back into a tensor of the given shape (N, C, *) */
static cg_tensor *col2im_op(cg_tensor *cols, const int64_t *shape, int ndim, const geom *g) {
    int64_t N = cols->shape[0], C = shape[1];
    int64_t eight[8] = {N, C, g->k[0], g->k[1], g->k[2], g->o[0], g->o[1], g->o[2]};
    cg_tensor *cc = dense(cols), *view = cc ? cg_view_raw(cc, eight, 8) : NULL;
    cg_tensor *out = view ? cg_empty(shape, ndim, (cg_dtype)cols->dtype) : NULL;
    cg_tensor *ov = out ? vol_view(out) : NULL;
    cg_kargs k = {.name = "col2im", .t = {ov, view}, .nw = 1};
    ints_of(g, k.i);
    if (!ov || cg_kernel(col2im_kernel, &k)) {
        cg_tensor_release(out);
        out = NULL;
    }
    cg_tensor_release(ov);
    cg_tensor_release(view);
    cg_tensor_release(cc);
    return with_geom_node(&col2im_node, out, cols, g);
}

/* ---- unfold / fold ----------------------------------------------------------------------- */

static int check_fold_args(const int64_t *kernel, const int64_t *dilation, const int64_t *padding,
                           const int64_t *stride) {
    const char *what = NULL, *a = NULL, *b = NULL;
    const int64_t *v = NULL;
    if (kernel[0] <= 0 || kernel[1] <= 0)
        what = "kernel size should be greater than zero", a = "kernel_height", b = "kernel_width", v = kernel;
    else if (stride[0] <= 0 || stride[1] <= 0)
        what = "stride should be greater than zero", a = "stride_height", b = "stride_width", v = stride;
    else if (dilation[0] <= 0 || dilation[1] <= 0)
        what = "dilation should be greater than zero", a = "dilation_height", b = "dilation_width", v = dilation;
    else if (padding[0] < 0 || padding[1] < 0)
        what = "padding should be non-negative", a = "pad_height", b = "pad_width", v = padding;
    if (!what) return 0;
    cg_error_set(CG_ERR_RUNTIME, "%s, but got %s: %lld %s: %lld", what, a, (long long)v[0], b, (long long)v[1]);
    return -1;
}

static int float_only(const char *op, const cg_tensor *t) {
    if (cg_dtype_is_floating((cg_dtype)t->dtype)) return 0;
    cg_error_set(CG_ERR_NOTIMPL, "\"%s\" not implemented for '%s'", op, cg_dtype_torch_name((cg_dtype)t->dtype));
    return -1;
}

/* Sliding positions along a dim of size n: PyTorch's formula (its division
 * truncating, as C's), below one when none fit. */
static int64_t positions(int64_t n, int64_t k, int64_t s, int64_t p_total, int64_t d) {
    return (n + p_total - d * (k - 1) - 1) / s + 1;
}

/* A 2-d window (depth 1) over H x W */
static geom window2(const int64_t *kernel, const int64_t *stride, const int64_t *padding, const int64_t *dilation,
                    int64_t H, int64_t W) {
    return (geom){{1, kernel[0], kernel[1]}, {1, stride[0], stride[1]}, {0, padding[0], padding[1]},
                  {1, dilation[0], dilation[1]}, {1, positions(H, kernel[0], stride[0], 2 * padding[0], dilation[0]),
                                                  positions(W, kernel[1], stride[1], 2 * padding[1], dilation[1])}};
}

cg_tensor *cg_im2col(cg_tensor *x, const int64_t *kernel, const int64_t *dilation, const int64_t *padding,
                     const int64_t *stride) {
    if (check_fold_args(kernel, dilation, padding, stride)) return NULL;
    bool batched = x->ndim == 4;
    bool ok = (x->ndim == 3 || batched) && x->shape[x->ndim - 1] && x->shape[x->ndim - 2] && x->shape[x->ndim - 3];
    if (!ok) {
        char buf[128];
        cg_error_set(CG_ERR_RUNTIME, "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other "
                     "non-zero dimensions for input, but got: %s", cg_shape_str(x->shape, x->ndim, buf, sizeof buf));
        return NULL;
    }
    if (float_only("im2col_out_cpu", x)) return NULL;
    int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    geom g = window2(kernel, stride, padding, dilation, H, W);
    if (g.o[1] < 1 || g.o[2] < 1) {
        cg_error_set(CG_ERR_RUNTIME, "Given input with spatial size (%lld, %lld), kernel_size=(%lld, %lld), "
                     "dilation=(%lld, %lld), padding=(%lld, %lld), calculated shape of the array of sliding blocks as "
                     "(%lld, %lld), but its components must be at least one.", (long long)H, (long long)W,
                     (long long)kernel[0], (long long)kernel[1], (long long)dilation[0], (long long)dilation[1],
                     (long long)padding[0], (long long)padding[1], (long long)g.o[1], (long long)g.o[2]);
        return NULL;
    }
    if (batched) return im2col_op(x, &g);
    tmp S = {0};
    cg_tensor *r = K(im2col_op(K(cg_unsqueeze(x, 0)), &g));
    return tmp_end(&S, K(cg_squeeze(r, (int64_t[]){0}, 1)));
}

cg_tensor *cg_col2im(cg_tensor *cols, const int64_t *output_size, const int64_t *kernel, const int64_t *dilation,
                     const int64_t *padding, const int64_t *stride) {
    if (check_fold_args(kernel, dilation, padding, stride)) return NULL;
    bool batched = cols->ndim == 3;
    bool ok = (cols->ndim == 2 || batched) && cols->shape[cols->ndim - 1] && cols->shape[cols->ndim - 2];
    char buf[128];
    if (!ok) {
        cg_error_set(CG_ERR_RUNTIME, "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
                     "non-zero dimensions for input, but got: %s", cg_shape_str(cols->shape, cols->ndim, buf, sizeof buf));
        return NULL;
    }
    if (float_only("col2im_out_cpu", cols)) return NULL;
    int64_t rows = cols->shape[cols->ndim - 2], L = cols->shape[cols->ndim - 1], kk = kernel[0] * kernel[1];
    if (rows % kk) {
        cg_error_set(CG_ERR_RUNTIME, "Expected size of input's dimension 1 to be divisible by the product of "
                     "kernel_size, but got input.size(1)=%lld and kernel_size=(%lld, %lld).", (long long)rows,
                     (long long)kernel[0], (long long)kernel[1]);
        return NULL;
    }
    geom g = window2(kernel, stride, padding, dilation, output_size[0], output_size[1]);
    if (g.o[1] < 1 || g.o[2] < 1 || g.o[1] * g.o[2] != L) {
        cg_error_set(CG_ERR_RUNTIME, "Given output_size=(%lld, %lld), kernel_size=(%lld, %lld), dilation=(%lld, "
                     "%lld), padding=(%lld, %lld), stride=(%lld, %lld), expected size of input's dimension 2 to match "
                     "the calculated number of sliding blocks %lld * %lld = %lld, but got input.size(2)=%lld.",
                     (long long)output_size[0], (long long)output_size[1], (long long)kernel[0], (long long)kernel[1],
                     (long long)dilation[0], (long long)dilation[1], (long long)padding[0], (long long)padding[1],
                     (long long)stride[0], (long long)stride[1], (long long)g.o[1], (long long)g.o[2],
                     (long long)(g.o[1] * g.o[2]), (long long)L);
        return NULL;
    }
    int64_t shape[4] = {batched ? cols->shape[0] : 1, rows / kk, output_size[0], output_size[1]};
    if (batched) return col2im_op(cols, shape, 4, &g);
    tmp S = {0};
    cg_tensor *r = K(col2im_op(K(cg_unsqueeze(cols, 0)), shape, 4, &g));
    return tmp_end(&S, K(cg_squeeze(r, (int64_t[]){0}, 1)));
}

/* ---- convolution ----------------------------------------------------------------------- */

/* A convolution node's window: i = {s, p, d, G}; the kernel size is w's (input 1), the
 * positions the output gradient's. */
static geom conv_geom(const cg_node *n, const cg_tensor *gy) {
    const cg_shape *ws = &n->in_shape[1];
    int64_t k[3], o[3];
    spatial3(ws->d, ws->ndim, k);
    spatial3(gy->shape, gy->ndim, o);
    return geom_from(n->i, k, o);
}

/* The first-order backward, without create_graph: raw kernels that unroll
 * one volume at a time (the composites below unroll the whole batch at once,
 * which their own derivatives need). The same formulas. A convolution's input
 * gradient is the transposed convolution of gy, and a transposed
 * convolution's is the convolution of gy; both weight gradients are the one
 * kernel, with the roles of the input and of gy swapped. */
static geom conv_transpose_geom(const cg_node *n);

static int backward_raw(cg_node *n, cg_tensor **gout, cg_tensor **gin, bool transposed) {
    tmp S = {0};
    const cg_shape *xs = &n->in_shape[0], *ws = &n->in_shape[1];
    cg_kargs k = {.nw = 1};
    memcpy(k.i, n->i, (GEOM_GROUPS + 1) * sizeof *k.i);
    cg_tensor *gy = K(dense_vol(gout[0]));
    if (cg_wants(n, 0)) {
        cg_tensor *dx = K(cg_empty(xs->d, xs->ndim, (cg_dtype)gout[0]->dtype));
        cg_tensor *w5 = S.failed ? NULL : K(dense_vol(K(cg_unpack(n, 1))));
        cg_tensor *out = NULL;
        if (transposed) {
            geom g = conv_transpose_geom(n);
            int64_t eight[8] = {xs->d[0], xs->d[1], 1, 1, 1, g.o[0], g.o[1], g.o[2]};
            out = S.failed ? NULL : K(cg_view_raw(dx, eight, 8));
        } else {
            out = S.failed ? NULL : K(vol_view(dx));
        }
        k.name = transposed ? "transposed convolution's input gradient" : "convolution's input gradient";
        k.t[0] = out, k.t[1] = gy, k.t[2] = w5, k.t[3] = NULL;
        if (!S.failed && cg_kernel(transposed ? conv_kernel : conv_input_grad_kernel, &k)) S.failed = true;
        gin[0] = S.failed ? NULL : take(dx);
    }
    if (cg_wants(n, 1) && !S.failed) {
        cg_tensor *dw = K(cg_empty(ws->d, ws->ndim, (cg_dtype)gout[0]->dtype));
        cg_tensor *x5 = S.failed ? NULL : K(dense_vol(K(cg_unpack(n, 0))));
        cg_tensor *dw5 = S.failed ? NULL : K(vol_view(dw));
        k.name = transposed ? "transposed convolution's weight gradient" : "convolution's weight gradient";
        k.t[0] = dw5, k.t[1] = transposed ? x5 : gy, k.t[2] = transposed ? gy : x5, k.t[3] = NULL;
        if (!S.failed && cg_kernel(conv_weight_grad_kernel, &k)) S.failed = true;
        gin[1] = S.failed ? NULL : take(dw);
    }
    if (cg_wants(n, 2) && !S.failed) gin[2] = take(K(cg_sum(gout[0], (int64_t[]){0, 2, 3, 4}, gout[0]->ndim - 1, 0)));
    int rc = S.failed ? -1 : 0;
    tmp_end(&S, NULL);
    return rc;
}

/* y = conv(x, w) + b: with g (N, G, O/G, L) the output's gradient by group,
 * dx = col2im(w_g^T g), dw = sum over the batch of g im2col(x)_g^T, db = the
 * sum of g over all but the channel dim */
static int conv_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    if (!cg_is_grad_enabled()) return backward_raw(n, gout, gin, false);
    tmp S = {0};
    geom g = conv_geom(n, gout[0]);
    const cg_shape *xs = &n->in_shape[0], *ws = &n->in_shape[1];
    int64_t G = n->i[GEOM_GROUPS], N = xs->d[0], C = xs->d[1], O = ws->d[0];
    int64_t L = g.o[0] * g.o[1] * g.o[2], Kg = (C / G) * g.k[0] * g.k[1] * g.k[2];
    cg_tensor *gy = K(cg_reshape(gout[0], (int64_t[]){N, G, O / G, L}, 4));
    if (cg_wants(n, 0)) {
        cg_tensor *w = K(cg_unpack(n, 1));
        cg_tensor *wt = K(cg_transpose(K(cg_reshape(w, (int64_t[]){G, O / G, Kg}, 3)), 1, 2));
        cg_tensor *cols = K(cg_reshape(K(cg_matmul(wt, gy)), (int64_t[]){N, G * Kg, L}, 3));
        gin[0] = take(S.failed ? NULL : K(col2im_op(cols, xs->d, xs->ndim, &g)));
    }
    if (cg_wants(n, 1)) {
        cg_tensor *cols = S.failed ? NULL : K(im2col_op(K(cg_unpack(n, 0)), &g));
        cg_tensor *colsT = K(cg_transpose(K(reshape4(cols, N, G, Kg, L)), 2, 3));
        cg_tensor *dw = K(cg_sum(K(cg_matmul(gy, colsT)), (int64_t[]){0}, 1, 0));
        gin[1] = take(K(cg_reshape(dw, ws->d, ws->ndim)));
    }
    if (cg_wants(n, 2) && !S.failed) gin[2] = take(K(cg_sum(gout[0], (int64_t[]){0, 2, 3, 4}, gout[0]->ndim - 1, 0)));
    int rc = S.failed ? -1 : 0;
    tmp_end(&S, NULL);
    return rc;
}
static const cg_op conv_node = {"ConvolutionBackward0", conv_backward, NULL};

/* "[4, 3, 3, 3]" */
static const char *shape_of(const cg_tensor *t, char *buf, size_t size) {
    return cg_shape_str(t->shape, t->ndim, buf, size);
}

static int check_conv_params(const cg_tensor *w, const int64_t *stride, const int64_t *padding,
                             const int64_t *dilation, int64_t groups, int same) {
    int nd = w->ndim - 2;
    bool strided = false, neg_pad = false, bad_stride = false, bad_dil = false;
    for (int d = 0; d < nd; d++) {
        strided |= stride[d] != 1;
        neg_pad |= !same && padding[d] < 0;
        bad_stride |= stride[d] <= 0;
        bad_dil |= dilation[d] <= 0;
    }
    const char *err = groups <= 0           ? "non-positive groups is not supported"
                      : same && strided     ? "padding='same' is not supported for strided convolutions"
                      : neg_pad             ? "negative padding is not supported"
                      : bad_stride          ? "non-positive stride is not supported"
                      : bad_dil             ? "non-positive dilation is not supported"
                                            : NULL;
    if (err) cg_error_set(CG_ERR_RUNTIME, "%s", err);
    return err ? -1 : 0;
}

/* PyTorch's checks of the shapes (x batched), in its order */
static int check_conv_shapes(const cg_tensor *x, const cg_tensor *w, const cg_tensor *b, int64_t groups,
                             const int64_t *pad_total, const int64_t *dilation) {
    char xb[128], wb[128], bb[128];
    int64_t O = w->shape[0];
    if (x->ndim != w->ndim) {
        cg_error_set(CG_ERR_RUNTIME, "Expected %d-dimensional input for %d-dimensional weight %s, but got "
                     "%d-dimensional input of size %s instead", w->ndim, w->ndim, shape_of(w, wb, sizeof wb), x->ndim,
                     shape_of(x, xb, sizeof xb));
        return -1;
    }
    if (O < groups) {
        cg_error_set(CG_ERR_RUNTIME, "Given groups=%lld, expected weight to be at least %lld at dimension 0, but got "
                     "weight of size %s instead", (long long)groups, (long long)groups, shape_of(w, wb, sizeof wb));
        return -1;
    }
    if (O % groups) {
        cg_error_set(CG_ERR_RUNTIME, "Given groups=%lld, expected weight to be divisible by %lld at dimension 0, but "
                     "got weight of size [%s] instead", (long long)groups, (long long)groups, shape_of(w, wb, sizeof wb));
        return -1;
    }
    if (x->shape[1] != w->shape[1] * groups) {
        cg_error_set(CG_ERR_RUNTIME, "Given groups=%lld, weight of size %s, expected input%s to have %lld channels, but "
                     "got %lld channels instead", (long long)groups, shape_of(w, wb, sizeof wb), shape_of(x, xb, sizeof xb),
                     (long long)(w->shape[1] * groups), (long long)x->shape[1]);
        return -1;
    }
    if (b && (b->ndim != 1 || b->shape[0] != O)) {
        cg_error_set(CG_ERR_RUNTIME, "Given weight of size %s, expected bias to be 1-dimensional with %lld elements, "
                     "but got bias of size %s instead", shape_of(w, wb, sizeof wb), (long long)O, shape_of(b, bb, sizeof bb));
        return -1;
    }
    bool fits = true;
    int nd = w->ndim - 2, at_in = 0, at_k = 0;
    for (int d = 0; d < nd; d++) {
        int64_t in = x->shape[d + 2] + pad_total[d], k = dilation[d] * (w->shape[d + 2] - 1) + 1;
        fits &= in >= k;
        at_in += snprintf(xb + at_in, sizeof xb - (size_t)at_in, "%s%lld", d ? " x " : "", (long long)in);
        at_k += snprintf(wb + at_k, sizeof wb - (size_t)at_k, "%s%lld", d ? " x " : "", (long long)k);
    }
    if (!fits) {
        cg_error_set(CG_ERR_RUNTIME, "Calculated padded input size per channel: (%s). Kernel size: (%s). Kernel size "
                     "can't be greater than actual input size", xb, wb);
        return -1;
    }
    return 0;
}

/* PyTorch's dtype checks: the bias's first, then the weight's */
static int check_conv_dtypes(const cg_tensor *x, const cg_tensor *w, const cg_tensor *b) {
    cg_dtype xd = (cg_dtype)x->dtype, wd = (cg_dtype)w->dtype;
    if (b && b->dtype != x->dtype) {
        cg_error_set(CG_ERR_RUNTIME, "Input type (%s) and bias type (%s) should be the same", cg_dtype_c_name(xd),
                     cg_dtype_c_name((cg_dtype)b->dtype));
        return -1;
    }
    if (wd != xd && xd == CG_FLOAT32) {
        cg_error_set(CG_ERR_RUNTIME, "Input type (%s) and weight type (%s) should be the same or input should be a "
                     "MKLDNN tensor and weight is a dense tensor", cg_dtype_tensor_name(xd), cg_dtype_tensor_name(wd));
        return -1;
    }
    if (wd != xd) {
        cg_error_set(CG_ERR_RUNTIME, "expected scalar type %s but found %s", cg_dtype_torch_name(xd), cg_dtype_torch_name(wd));
        return -1;
    }
    if (xd == CG_BOOL) {
        cg_error_set(CG_ERR_NOTIMPL, "\"%s\" not implemented for 'Bool'", w->ndim == 5 ? "compute_columns3d"
                                                                                   : "slow_conv2d_cpu");
        return -1;
    }
    return 0;
}

/* PyTorch's kernels' check of the kernel size: 1-d as 2-d */
static int check_conv_kernel(const cg_tensor *w) {
    int64_t k[3];
    spatial3(w->shape, w->ndim, k);
    if (k[0] > 0 && k[1] > 0 && k[2] > 0) return 0;
    if (w->ndim == 5)
        cg_error_set(CG_ERR_RUNTIME, "kernel size should be greater than zero, but got: %lld x %lld x %lld (TxHxW)",
                     (long long)k[0], (long long)k[1], (long long)k[2]);
    else
        cg_error_set(CG_ERR_RUNTIME, "kernel size should be greater than zero, but got kernel_height: %lld "
                     "kernel_width: %lld", (long long)k[1], (long long)k[2]);
    return -1;
}

/* The forward on checked, batched operands with the window g */
static cg_tensor *conv_raw(cg_tensor *x, cg_tensor *w, cg_tensor *b, const geom *g, int64_t groups) {
    int64_t N = x->shape[0], O = w->shape[0], shape[5] = {N, O}, eight[8] = {N, O, 1, 1, 1, g->o[0], g->o[1], g->o[2]};
    for (int d = 2; d < x->ndim; d++) shape[d] = g->o[3 - x->ndim + d];
    tmp S = {0};
    cg_tensor *xv = K(dense_vol(x)), *wv = S.failed ? NULL : K(dense_vol(w)), *bc = b && !S.failed ? K(dense(b)) : NULL;
    cg_tensor *out = K(cg_empty(shape, x->ndim, (cg_dtype)x->dtype));
    cg_tensor *view = S.failed ? NULL : K(cg_view_raw(out, eight, 8));
    if (!S.failed) {
        cg_kargs k = {.name = "convolution", .t = {view, xv, wv, bc}, .nw = 1};
        ints_of(g, k.i);
        k.i[GEOM_GROUPS] = groups;
        if (cg_kernel(conv_kernel, &k)) S.failed = true;
    }
    return tmp_end(&S, out);
}

/* The convolution of batched x, recording one node */
static cg_tensor *conv_batched(cg_tensor *x, cg_tensor *w, cg_tensor *b, const geom *g, int64_t groups) {
    cg_tensor *out = conv_raw(x, w, b, g, groups), *ins[3] = {x, w, b};
    if (!out || !cg_any_requires_grad(ins, 3)) return out;
    cg_node *n = cg_node_new(&conv_node, ins, 3, 1);
    if (!n || (w->requires_grad && cg_save(n, 0, x, false)) || (x->requires_grad && cg_save(n, 1, w, false))) {
        cg_node_release(n);
        cg_tensor_release(out);
        return NULL;
    }
    ints_of(g, n->i);
    n->i[GEOM_GROUPS] = groups;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* ---- transposed convolution -------------------------------------------------------------- */

/* A transposed convolution is the input gradient of a convolution: x (N, C, *) plays the
 * convolution's output gradient, w (C, O / G, k...) its weight, and y (N, O, *) its input.
 * So its forward is conv_input_grad_kernel, its input gradient a convolution of the output
 * gradient by w, and its weight gradient conv_weight_grad_kernel with x and the output
 * gradient in each other's places. The window g has x's spatial sizes as its positions: o is
 * what the convolution of y would make. */

/* t = {y (N, O, D, H, W), dense x (N, C, od, oh, ow), dense w (C, O / G, kd, kh, kw), dense b or NULL},
 * i = {s, p, d, G} */
static int conv_transpose_kernel(const cg_kargs *k) {
    if (conv_input_grad_kernel(k)) return -1;
    cg_tensor *y = k->t[0], *b = k->t[3];
    if (!b) return 0;
    int64_t O = y->shape[1], rows = y->shape[0] * O, len = y->numel / (rows ? rows : 1);
    if (y->dtype == CG_FLOAT64) {
        double *o = (double *)VP(y);
        const double *bv = (const double *)VP(b);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t q = 0; q < len; q++) o[r * len + q] += bv[r % O];
    } else if (y->dtype == CG_FLOAT32) {
        float *o = (float *)VP(y);
        const float *bv = (const float *)VP(b);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t q = 0; q < len; q++) o[r * len + q] += bv[r % O];
    } else {
        int64_t *o = (int64_t *)VP(y);
        const int64_t *bv = (const int64_t *)VP(b);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t q = 0; q < len; q++) o[r * len + q] = cg_wrap_add(o[r * len + q], bv[r % O]);
    }
    return 0;
}

/* A transposed convolution node's window: the kernel size is w's (input 1), the positions
 * x's (input 0) */
static geom conv_transpose_geom(const cg_node *n) {
    const cg_shape *xs = &n->in_shape[0], *ws = &n->in_shape[1];
    int64_t k[3], o[3];
    spatial3(ws->d, ws->ndim, k);
    spatial3(xs->d, xs->ndim, o);
    return geom_from(n->i, k, o);
}

/* y = conv_transpose(x, w) + b: with gy (N, O, *) the output's gradient, dx = conv(gy, w)
 * with the same window, dw_g = sum over the batch of x_g im2col(gy)_g^T, db = the sum of gy
 * over all but the channel dim. With ops, so that create_graph differentiates them. */
static int conv_transpose_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    if (!cg_is_grad_enabled()) return backward_raw(n, gout, gin, true);
    tmp S = {0};
    geom g = conv_transpose_geom(n);
    const cg_shape *xs = &n->in_shape[0], *ws = &n->in_shape[1];
    int64_t G = n->i[GEOM_GROUPS], N = xs->d[0], C = xs->d[1], O = ws->d[1] * G;
    int64_t L = g.o[0] * g.o[1] * g.o[2], Kg = (O / G) * g.k[0] * g.k[1] * g.k[2];
    if (cg_wants(n, 0)) gin[0] = take(K(conv_batched(gout[0], K(cg_unpack(n, 1)), NULL, &g, G)));
    if (cg_wants(n, 1) && !S.failed) {
        cg_tensor *x = K(reshape4(K(cg_unpack(n, 0)), N, G, C / G, L));
        cg_tensor *cols = S.failed ? NULL : K(im2col_op(gout[0], &g));
        cg_tensor *colsT = K(cg_transpose(K(reshape4(cols, N, G, Kg, L)), 2, 3));
        cg_tensor *dw = K(cg_sum(K(cg_matmul(x, colsT)), (int64_t[]){0}, 1, 0));
        gin[1] = take(K(cg_reshape(dw, ws->d, ws->ndim)));
    }
    if (cg_wants(n, 2) && !S.failed) gin[2] = take(K(cg_sum(gout[0], (int64_t[]){0, 2, 3, 4}, gout[0]->ndim - 1, 0)));
    int rc = S.failed ? -1 : 0;
    tmp_end(&S, NULL);
    return rc;
}
static const cg_op conv_transpose_node = {"ConvolutionBackward0", conv_transpose_backward, NULL};

/* The transposed convolution of checked, batched operands; y's spatial sizes in out[3] */
static cg_tensor *conv_transpose_batched(cg_tensor *x, cg_tensor *w, cg_tensor *b, const geom *g, int64_t groups,
                                         const int64_t *out) {
    int64_t shape[5] = {x->shape[0], w->shape[1] * groups};
    for (int d = 2; d < x->ndim; d++) shape[d] = out[3 - x->ndim + d];
    tmp S = {0};
    cg_tensor *xv = K(dense_vol(x)), *wv = S.failed ? NULL : K(dense_vol(w));
    cg_tensor *bc = b && !S.failed ? K(dense(b)) : NULL;
    cg_tensor *y = K(cg_empty(shape, x->ndim, (cg_dtype)x->dtype));
    cg_tensor *yv = S.failed ? NULL : K(vol_view(y));
    if (!S.failed) {
        cg_kargs k = {.name = "transposed convolution", .t = {yv, xv, wv, bc}, .nw = 1};
        ints_of(g, k.i);
        k.i[GEOM_GROUPS] = groups;
        if (cg_kernel(conv_transpose_kernel, &k)) S.failed = true;
    }
    y = tmp_end(&S, y);
    cg_tensor *ins[3] = {x, w, b};
    if (!y || !cg_any_requires_grad(ins, 3)) return y;
    cg_node *n = cg_node_new(&conv_transpose_node, ins, 3, 1);
    if (!n || (w->requires_grad && cg_save(n, 0, x, false)) || (x->requires_grad && cg_save(n, 1, w, false))) {
        cg_node_release(n);
        cg_tensor_release(y);
        return NULL;
    }
    ints_of(g, n->i);
    n->i[GEOM_GROUPS] = groups;
    cg_set_history(y, n, 0);
    cg_node_release(n);
    return y;
}

static int check_conv_transpose_params(int nd, const int64_t *stride, const int64_t *padding,
                                       const int64_t *output_padding, const int64_t *dilation, int64_t groups) {
    bool neg_pad = false, neg_out = false, bad_stride = false, neg_dil = false;
    for (int d = 0; d < nd; d++) {
        neg_pad |= padding[d] < 0;
        neg_out |= output_padding[d] < 0;
        bad_stride |= stride[d] <= 0;
        neg_dil |= dilation[d] < 0;
    }
    const char *err = groups <= 0   ? "non-positive groups is not supported"
                      : neg_pad    ? "negative padding is not supported"
                      : neg_out    ? "negative output_padding is not supported"
                      : bad_stride ? "non-positive stride is not supported"
                      : neg_dil    ? "dilation should be greater than zero"
                                   : NULL;
    if (err) cg_error_set(CG_ERR_RUNTIME, "%s", err);
    return err ? -1 : 0;
}
static int check_conv_transpose_shapes(const cg_tensor *x, const cg_tensor *w, const cg_tensor *b, int64_t groups) {
    char xb[128], wb[128], bb[128];
    int64_t C = w->shape[0], O = w->shape[1] * groups;
    const char *err = NULL;
    if (x->ndim != w->ndim)
        err = "Expected %d-dimensional input for %d-dimensional weight %s, but got %d-dimensional input of size %s "
              "instead";
    else if (C < groups)
        err = "Given groups=%lld, expected weight to be at least %lld at dimension 0, but got weight of size %s "
              "instead";
    else if (C % groups)
        err = "Given groups=%lld, expected weight to be divisible by %lld at dimension 0, but got weight of size [%s] "
              "instead";
    else if (x->shape[1] != C)
        err = "Given transposed=1, weight of size %s, expected input%s to have %lld channels, but got %lld channels "
              "instead";
    else if (b && (b->ndim != 1 || b->shape[0] != O))
        err = "Given transposed=1, weight of size %s, expected bias to be 1-dimensional with %lld elements, but got "
              "bias of size %s instead";
    shape_of(w, wb, sizeof wb);
    shape_of(x, xb, sizeof xb);
    if (!err) return 0;
    if (x->ndim != w->ndim)
        cg_error_set(CG_ERR_RUNTIME, err, w->ndim, w->ndim, wb, x->ndim, xb);
    else if (C < groups || C % groups)
        cg_error_set(CG_ERR_RUNTIME, err, (long long)groups, (long long)groups, wb);
    else if (x->shape[1] != C)
        cg_error_set(CG_ERR_RUNTIME, err, wb, xb, (long long)C, (long long)x->shape[1]);
    else
        cg_error_set(CG_ERR_RUNTIME, err, wb, (long long)O, shape_of(b, bb, sizeof bb));
    return -1;
}
/* "prefix_height<colon> 1<sep>prefix_width<colon> 0" as PyTorch's kernels name dims: (depth,)
 * height and width; v has nd3 (2 or 3) entries. Returns the length written. */
static int dims_named(char *buf, size_t size, const char *prefix, const char *colon, const char *sep,
                      const int64_t *v, int nd3) {
    static const char *names[3] = {"depth", "height", "width"};
    int at = 0;
    for (int d = 0; d < nd3; d++)
        at += snprintf(buf + at, size - (size_t)at, "%s%s_%s%s %lld", d ? sep : "", prefix, names[3 - nd3 + d], colon,
                       (long long)v[d]);
    return at;
}

/* The checks of PyTorch's kernel (slow_conv_transpose2d for 1-d and 2-d, which it sees as 2-d,
 * slow_conv_transpose3d for 3-d), on x and w, the window g and the output padding op and
 * output sizes out, all 3-d */
static int check_conv_transpose_window(const cg_tensor *x, const cg_tensor *w, const geom *g, const int64_t *op,
                                       const int64_t *out) {
    int nd3 = x->ndim == 5 ? 3 : 2, o = 3 - nd3; /* the dims PyTorch's kernel names */
    char buf[256], b2[128], b3[128];
    /* the shapes with PyTorch's kernel's dims: (N, C) and nd3 spatial ones */
    int64_t xs[5] = {x->shape[0], x->shape[1]}, ws[5] = {w->shape[0], w->shape[1]}, x3[3], w3[3];
    spatial3(x->shape, x->ndim, x3);
    spatial3(w->shape, w->ndim, w3);
    for (int d = 0; d < nd3; d++) xs[2 + d] = x3[o + d], ws[2 + d] = w3[o + d];
    bool empty_in = false, bad_dil = false, bad_op = false, small = false;
    for (int d = o; d < 3; d++) {
        empty_in |= x3[d] == 0;
        bad_dil |= g->d[d] <= 0;
        bad_op |= op[d] >= g->s[d] && op[d] >= g->d[d];
        small |= out[d] < 1;
    }
    if (empty_in) {
        cg_error_set(CG_ERR_RUNTIME, "Only zero batch or zero channel inputs are supported, but got input shape: %s",
                     cg_shape_str(xs, 2 + nd3, buf, sizeof buf));
    } else if (w->numel == 0) {
        const char *what = nd3 == 3 ? "5D (n_output_plane x n_input_plane x kernel_depth x kernel_height x "
                                      "kernel_width) tensor expected for weight" : "2D or 4D weight tensor expected";
        cg_error_set(CG_ERR_RUNTIME, "non-empty %s, but got: %s", what, cg_shape_str(ws, 2 + nd3, buf, sizeof buf));
    } else if (bad_dil) {
        dims_named(buf, sizeof buf, "dilation", ":", ", ", g->d + o, nd3);
        cg_error_set(CG_ERR_RUNTIME, "dilation should be greater than zero, but got %s", buf);
    } else if (bad_op) {
        int at = dims_named(buf, sizeof buf, "output_padding", ":", " ", op + o, nd3);
        at += snprintf(buf + at, sizeof buf - (size_t)at, " ");
        at += dims_named(buf + at, sizeof buf - (size_t)at, "stride", ":", " ", g->s + o, nd3);
        at += snprintf(buf + at, sizeof buf - (size_t)at, " ");
        dims_named(buf + at, sizeof buf - (size_t)at, "dilation", ":", " ", g->d + o, nd3);
        cg_error_set(CG_ERR_RUNTIME, "output padding must be smaller than either stride or dilation, but got %s", buf);
    } else if (small) {
        int a2 = 0, a3 = 0;
        for (int d = o; d < 3; d++) {
            a2 += snprintf(b2 + a2, sizeof b2 - (size_t)a2, "%s%lld", d > o ? " x " : "", (long long)x3[d]);
            a3 += snprintf(b3 + a3, sizeof b3 - (size_t)a3, "%s%lld", d > o ? " x " : "", (long long)out[d]);
        }
        cg_error_set(CG_ERR_RUNTIME, "Given input size per channel: (%s). Calculated output size per channel: (%s). "
                     "Output size is too small", b2, b3);
    } else {
        return 0;
    }
    return -1;
}

static int check_conv_transpose_dtypes(const cg_tensor *x, const cg_tensor *w, const cg_tensor *b) {
    cg_dtype xd = (cg_dtype)x->dtype, wd = (cg_dtype)w->dtype, bd = b ? (cg_dtype)b->dtype : xd;
    if (xd == CG_FLOAT32 && (bd != xd || wd != xd)) {
        bool weight = wd != xd;
        cg_error_set(CG_ERR_RUNTIME, "Input type (%s) and %s type (%s) should be the same or input should be a MKLDNN "
                     "tensor and %s is a dense tensor", cg_dtype_tensor_name(xd), weight ? "weight" : "bias",
                     cg_dtype_tensor_name(weight ? wd : bd), weight ? "weight" : "bias");
        return -1;
    }
    if (wd != xd) {
        cg_error_set(CG_ERR_RUNTIME, "expected scalar type %s but found %s", cg_dtype_torch_name(xd),
                     cg_dtype_torch_name(wd));
        return -1;
    }
    if (xd == CG_BOOL) {
        cg_error_set(CG_ERR_NOTIMPL, "\"slow_conv_transpose2d_out_cpu\" not implemented for 'Bool'");
        return -1;
    }
    if (bd != xd && xd != CG_FLOAT64) {
        cg_error_set(CG_ERR_RUNTIME, "result type %s can't be cast to the desired output type %s",
                     cg_dtype_torch_name(bd), cg_dtype_torch_name(xd));
        return -1;
    }
    return 0;
}

/* The transposed convolution of batched x (checked but for its window) */
static cg_tensor *conv_transpose_checked(cg_tensor *x, cg_tensor *w, cg_tensor *b, const int64_t *stride,
                                         const int64_t *padding, const int64_t *output_padding, const int64_t *dilation,
                                         int64_t groups) {
    int nd = w->ndim - 2, o = 3 - nd;
    int64_t out[3] = {1, 1, 1}, op[3] = {0, 0, 0};
    geom g = {{1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, {1, 1, 1}};
    for (int d = 0; d < nd; d++) {
        g.k[o + d] = w->shape[d + 2];
        g.s[o + d] = stride[d];
        g.p[o + d] = padding[d];
        g.d[o + d] = dilation[d];
        g.o[o + d] = x->shape[d + 2];
        op[o + d] = output_padding[d];
        out[o + d] = (x->shape[d + 2] - 1) * stride[d] - 2 * padding[d] + dilation[d] * (w->shape[d + 2] - 1) +
                     output_padding[d] + 1;
    }
    if (check_conv_transpose_window(x, w, &g, op, out) || check_conv_transpose_dtypes(x, w, b)) return NULL;
    tmp S = {0};
    cg_tensor *bc = b && b->dtype != x->dtype ? K(cg_to_dtype(b, (cg_dtype)x->dtype)) : b;
    return tmp_end(&S, S.failed ? NULL : K(conv_transpose_batched(x, w, bc, &g, groups, out)));
}

cg_tensor *cg_conv_transpose(cg_tensor *x, cg_tensor *w, cg_tensor *b, const int64_t *stride, const int64_t *padding,
                             const int64_t *output_padding, const int64_t *dilation, int64_t groups) {
    int nd = w->ndim - 2;
    if (nd < 1 || nd > 3) {
        cg_error_set(nd < 1 ? CG_ERR_RUNTIME : CG_ERR_NOTIMPL, nd < 1 ? "weight should have at least three dimensions"
                     : "cgrad convolves over 1, 2 or 3 spatial dims, got a %d-dimensional weight", w->ndim);
        return NULL;
    }
    if (check_conv_transpose_params(nd, stride, padding, output_padding, dilation, groups)) return NULL;
    bool batched = x->ndim == w->ndim;
    tmp S = {0};
    cg_tensor *xb = batched ? x : x->ndim == w->ndim - 1 ? K(cg_unsqueeze(x, 0)) : x;
    if (S.failed || check_conv_transpose_shapes(xb, w, b, groups)) return tmp_end(&S, NULL);
    cg_tensor *y = K(conv_transpose_checked(xb, w, b, stride, padding, output_padding, dilation, groups));
    return tmp_end(&S, batched ? y : K(cg_squeeze(y, (int64_t[]){0}, 1)));
}

cg_tensor *cg_convolution(cg_tensor *x, cg_tensor *w, cg_tensor *b, const int64_t *stride, const int64_t *padding,
                          const int64_t *dilation, int64_t groups, int same) {
    int nd = w->ndim - 2;
    if (nd < 1 || nd > 3) {
        cg_error_set(nd < 1 ? CG_ERR_RUNTIME : CG_ERR_NOTIMPL, nd < 1 ? "weight should have at least three dimensions"
                     : "cgrad convolves over 1, 2 or 3 spatial dims, got a %d-dimensional weight", w->ndim);
        return NULL;
    }
    if (check_conv_params(w, stride, padding, dilation, groups, same)) return NULL;
    bool batched = x->ndim == w->ndim;
    int64_t lo[3] = {0, 0, 0}, total[3] = {0, 0, 0};
    for (int d = 0; d < nd; d++) {
        total[d] = same ? dilation[d] * (w->shape[d + 2] - 1) : 2 * padding[d];
        lo[d] = same ? total[d] / 2 : padding[d];
    }
    tmp S = {0};
    cg_tensor *xb = batched ? x : x->ndim == w->ndim - 1 ? K(cg_unsqueeze(x, 0)) : x;
    if (S.failed || check_conv_shapes(xb, w, b, groups, total, dilation) || check_conv_dtypes(xb, w, b) ||
        check_conv_kernel(w))
        return tmp_end(&S, NULL);
    /* as 3-d: a window of fewer dims has leading ones */
    int o = 3 - nd;
    geom g = {{1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, {1, 1, 1}};
    for (int d = 0; d < nd; d++) {
        g.k[o + d] = w->shape[d + 2];
        g.s[o + d] = stride[d];
        g.p[o + d] = lo[d];
        g.d[o + d] = dilation[d];
        g.o[o + d] = positions(xb->shape[d + 2], w->shape[d + 2], stride[d], total[d], dilation[d]);
    }
    cg_tensor *y = K(conv_batched(xb, w, b, &g, groups));
    return tmp_end(&S, batched ? y : K(cg_squeeze(y, (int64_t[]){0}, 1)));
}
