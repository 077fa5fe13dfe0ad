/* ops_conv.c -- convolutions: im2col / col2im (unfold / fold) and conv1d / conv2d.
 *
 * Everything works on 4-d images (N, C, H, W); a 1-d convolution is a 2-d one
 * of height 1. The forward of a convolution is one kernel: each image is
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

/* Where a sliding window lies: kernel size, stride, padding before the first
 * row and column (the one after is implied by o), dilation, and the number of
 * positions in each direction. Kept in a node's i[] in this order. */
typedef struct geom {
    int64_t k[2], s[2], p[2], d[2], o[2];
} geom;
#define GEOM_INTS 10
_Static_assert(sizeof(geom) == GEOM_INTS * sizeof(int64_t), "geom is ten integers");
_Static_assert(GEOM_INTS <= CG_MAX_DIMS + 2, "a geom fits a node's i[]");

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

/* ---- kernels ------------------------------------------------------------------------ */

/* The columns of one image x (C, H, W): cols (C, kh, kw, oh, ow) holds at
 * [c][i][j][y][x] the pixel x[c][y sh - ph + i dh][x sw - pw + j dw], 0 in
 * the padding. Elements are copied as bits, so one loop per element width
 * serves every dtype. */
#define IM2COL(NAME, T)                                                                      \
    static void NAME(const T *x, T *cols, int64_t C, int64_t H, int64_t W, const geom *g) {  \
        int64_t oh = g->o[0], ow = g->o[1];                                                  \
        for (int64_t c = 0; c < C; c++)                                                      \
            for (int64_t i = 0; i < g->k[0]; i++)                                            \
                for (int64_t j = 0; j < g->k[1]; j++) {                                      \
                    int64_t w0 = j * g->d[1] - g->p[1]; /* column read at x = 0 */           \
                    /* the x whose column is inside the image: [lo, hi) */                   \
                    int64_t lo = w0 >= 0 ? 0 : (-w0 + g->s[1] - 1) / g->s[1];                \
                    int64_t hi = W - w0 <= 0 ? 0 : (W - w0 - 1) / g->s[1] + 1;               \
                    lo = lo < ow ? lo : ow;                                                  \
                    hi = hi < lo ? lo : hi > ow ? ow : hi;                                   \
                    for (int64_t y = 0; y < oh; y++, cols += ow) {                           \
                        int64_t h = y * g->s[0] - g->p[0] + i * g->d[0];                     \
                        if (h < 0 || h >= H) {                                               \
                            memset(cols, 0, sizeof(T) * (size_t)ow);                         \
                            continue;                                                        \
                        }                                                                    \
                        const T *row = x + (c * H + h) * W + w0;                             \
                        for (int64_t q = 0; q < lo; q++) cols[q] = 0;                        \
                        if (g->s[1] == 1)                                                    \
                            memcpy(cols + lo, row + lo, sizeof(T) * (size_t)(hi - lo));      \
                        else                                                                 \
                            for (int64_t q = lo; q < hi; q++) cols[q] = row[q * g->s[1]];    \
                        for (int64_t q = hi; q < ow; q++) cols[q] = 0;                       \
                    }                                                                        \
                }                                                                            \
    }
IM2COL(im2col_32, uint32_t)
IM2COL(im2col_64, uint64_t)

static void im2col_image(const void *x, void *cols, int64_t isz, int64_t C, int64_t H, int64_t W, const geom *g) {
    if (isz == 4)
        im2col_32(x, cols, C, H, W, g);
    else
        im2col_64(x, cols, C, H, W, g);
}

/* The adjoint of IM2COL: each column element is added back into the pixel
 * it was read from (padding positions are dropped). x must start zeroed. */
#define COL2IM(NAME, T)                                                                      \
    static void NAME(T *x, const T *cols, int64_t C, int64_t H, int64_t W, const geom *g) {  \
        int64_t oh = g->o[0], ow = g->o[1];                                                  \
        for (int64_t c = 0; c < C; c++)                                                      \
            for (int64_t i = 0; i < g->k[0]; i++)                                            \
                for (int64_t j = 0; j < g->k[1]; j++) {                                      \
                    int64_t w0 = j * g->d[1] - g->p[1];                                      \
                    int64_t lo = w0 >= 0 ? 0 : (-w0 + g->s[1] - 1) / g->s[1];                \
                    int64_t hi = W - w0 <= 0 ? 0 : (W - w0 - 1) / g->s[1] + 1;               \
                    lo = lo < ow ? lo : ow;                                                  \
                    hi = hi < lo ? lo : hi > ow ? ow : hi;                                   \
                    for (int64_t y = 0; y < oh; y++, cols += ow) {                           \
                        int64_t h = y * g->s[0] - g->p[0] + i * g->d[0];                     \
                        if (h < 0 || h >= H) continue;                                       \
                        T *row = x + (c * H + h) * W + w0;                                   \
                        for (int64_t q = lo; q < hi; q++) row[q * g->s[1]] += cols[q];       \
                    }                                                                        \
                }                                                                            \
    }
COL2IM(col2im_f32, float)
COL2IM(col2im_f64, double)
COL2IM(col2im_u64, uint64_t) /* int64 as unsigned: the same bits, wrapping on overflow as PyTorch's */

/* The geometry of kernel arguments: i = {sh, sw, ph, pw, dh, dw}, the
 * kernel and output sizes from the last four dims of cols (.., kh, kw, oh, ow). */
static geom geom_of(const cg_kargs *k, const cg_tensor *cols) {
    const int64_t *c = cols->shape + cols->ndim - 4;
    return (geom){{c[0], c[1]}, {k->i[0], k->i[1]}, {k->i[2], k->i[3]}, {k->i[4], k->i[5]}, {c[2], c[3]}};
}

/* t = {cols (N, C, kh, kw, oh, ow), dense x (N, C, H, W)} */
static int im2col_kernel(const cg_kargs *k) {
    cg_tensor *cols = k->t[0], *x = k->t[1];
    geom g = geom_of(k, cols);
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], isz = cg_elem_size((cg_dtype)x->dtype);
    int64_t per_x = C * H * W, per_c = C * g.k[0] * g.k[1] * g.o[0] * g.o[1];
    for (int64_t n = 0; n < N; n++)
        im2col_image(cg_ptr(x) + n * per_x * isz, cg_ptr(cols) + n * per_c * isz, isz, C, H, W, &g);
    return 0;
}

/* t = {x (N, C, H, W), dense cols (N, C, kh, kw, oh, ow)} */
static int col2im_kernel(const cg_kargs *k) {
    cg_tensor *x = k->t[0], *cols = k->t[1];
    geom g = geom_of(k, cols);
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t per_x = C * H * W, per_c = C * g.k[0] * g.k[1] * g.o[0] * g.o[1];
    memset(VP(x), 0, (size_t)(x->numel * cg_elem_size((cg_dtype)x->dtype)));
    for (int64_t n = 0; n < N; n++) {
        if (x->dtype == CG_FLOAT64)
            col2im_f64((double *)VP(x) + n * per_x, (const double *)VP(cols) + n * per_c, C, H, W, &g);
        else
            col2im_f32((float *)VP(x) + n * per_x, (const float *)VP(cols) + n * per_c, C, H, W, &g);
    }
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

/* t = {out (N, O, kh, kw, oh, ow) viewed so, dense x (N, C, H, W), dense w (O, C / G, kh, kw), dense b or NULL},
 * i = {sh, sw, ph, pw, dh, dw, G}. out's (kh, kw) are 1 x 1: they carry the kernel size only. */
static int conv_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *x = k->t[1], *w = k->t[2], *b = k->t[3];
    geom g = geom_of(k, out);
    g.k[0] = w->shape[2];
    g.k[1] = w->shape[3];
    cg_dtype dt = (cg_dtype)x->dtype;
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], O = w->shape[0], G = k->i[6];
    int64_t L = g.o[0] * g.o[1], Kg = (C / G) * g.k[0] * g.k[1], Og = O / G, isz = cg_elem_size(dt);
    /* a 1 x 1 window moving by one over an unpadded image reads the image as is */
    bool direct = g.k[0] == 1 && g.k[1] == 1 && g.s[0] == 1 && g.s[1] == 1 && g.p[0] == 0 && g.p[1] == 0 &&
                  g.o[0] == H && g.o[1] == W;
    char *cols = NULL;
    if (!direct && N > 0 && L > 0 && !(cols = malloc((size_t)(G * Kg * L * isz)))) {
        cg_oom(G * Kg * L * isz);
        return -1;
    }
    for (int64_t n = 0; n < N; n++) {
        const char *xn = cg_ptr(x) + n * C * H * W * isz;
        char *on = cg_ptr(out) + n * O * L * isz;
        fill_bias(on, b, O, L, isz);
        if (cols) im2col_image(xn, cols, isz, C, H, W, &g);
        const char *src = cols ? cols : xn;
        for (int64_t q = 0; q < G; q++)
            gemm_acc(dt, Og, L, Kg, cg_ptr(w) + q * Og * Kg * isz, src + q * Kg * L * isz, on + q * Og * L * isz);
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
                acc = cg_wrap_add(acc, cg_wrap_mul(ta ? a[k * lda + i] : a[i * lda + k], tb ? b[j * ldb + k] : b[k * ldb + j]));
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

/* What the backward kernels share: t = {out, dense gy (N, O, oh, ow), dense
 * x or w}, i = {sh, sw, ph, pw, dh, dw, G}, all seen as 2-d. */
typedef struct conv_dims {
    geom g;
    int64_t N, C, H, W, O, G, L, Kg, Og, isz;
    bool direct; /* a 1 x 1 window moving by one over an unpadded image: the columns are the image */
} conv_dims;

static conv_dims dims_of(const cg_kargs *k, const cg_tensor *image, const cg_tensor *w, const cg_tensor *gy) {
    conv_dims c;
    c.g = (geom){{w->shape[2], w->shape[3]}, {k->i[0], k->i[1]}, {k->i[2], k->i[3]}, {k->i[4], k->i[5]},
                 {gy->shape[2], gy->shape[3]}};
    c.N = image->shape[0], c.C = image->shape[1], c.H = image->shape[2], c.W = image->shape[3];
    c.O = w->shape[0], c.G = k->i[6], c.L = c.g.o[0] * c.g.o[1];
    c.Kg = (c.C / c.G) * c.g.k[0] * c.g.k[1], c.Og = c.O / c.G, c.isz = cg_elem_size((cg_dtype)image->dtype);
    c.direct = c.g.k[0] == 1 && c.g.k[1] == 1 && c.g.s[0] == 1 && c.g.s[1] == 1 && c.g.p[0] == 0 && c.g.p[1] == 0 &&
               c.g.o[0] == c.H && c.g.o[1] == c.W;
    return c;
}

/* t = {dx (N, C, H, W), dense gy, dense w}: image by image, the columns
 * w_g^T gy_g summed back into pixels */
static int conv_input_grad_kernel(const cg_kargs *k) {
    cg_tensor *dx = k->t[0], *gy = k->t[1], *w = k->t[2];
    conv_dims c = dims_of(k, dx, w, gy);
    cg_dtype dt = (cg_dtype)dx->dtype;
    char *cols = NULL;
    if (!c.direct && c.N > 0 && !(cols = malloc((size_t)(c.G * c.Kg * c.L * c.isz)))) {
        cg_oom(c.G * c.Kg * c.L * c.isz);
        return -1;
    }
    for (int64_t n = 0; n < c.N; n++) {
        char *dxn = cg_ptr(dx) + n * c.C * c.H * c.W * c.isz, *dst = cols ? cols : dxn;
        const char *gyn = cg_ptr(gy) + n * c.O * c.L * c.isz;
        for (int64_t q = 0; q < c.G; q++)
            gemm(dt, true, false, c.Kg, c.L, c.Og, cg_ptr(w) + q * c.Og * c.Kg * c.isz, c.Kg,
                 gyn + q * c.Og * c.L * c.isz, c.L, 0.0, dst + q * c.Kg * c.L * c.isz, c.L);
        if (!cols) continue;
        memset(dxn, 0, (size_t)(c.C * c.H * c.W * c.isz));
        if (dt == CG_FLOAT64)
            col2im_f64((double *)dxn, (const double *)cols, c.C, c.H, c.W, &c.g);
        else if (dt == CG_INT64)
            col2im_u64((uint64_t *)dxn, (const uint64_t *)cols, c.C, c.H, c.W, &c.g);
        else
            col2im_f32((float *)dxn, (const float *)cols, c.C, c.H, c.W, &c.g);
    }
    free(cols);
    return 0;
}

/* t = {dw (O, C / G, kh, kw), dense gy, dense x, w's shape (any tensor of it)}:
 * image by image, dw_g += gy_g im2col(x)_g^T */
static int conv_weight_grad_kernel(const cg_kargs *k) {
    cg_tensor *dw = k->t[0], *gy = k->t[1], *x = k->t[2];
    conv_dims c = dims_of(k, x, dw, gy);
    cg_dtype dt = (cg_dtype)x->dtype;
    char *cols = NULL;
    memset(VP(dw), 0, (size_t)(dw->numel * c.isz));
    if (!c.direct && c.N > 0 && !(cols = malloc((size_t)(c.G * c.Kg * c.L * c.isz)))) {
        cg_oom(c.G * c.Kg * c.L * c.isz);
        return -1;
    }
    for (int64_t n = 0; n < c.N; n++) {
        const char *xn = cg_ptr(x) + n * c.C * c.H * c.W * c.isz, *gyn = cg_ptr(gy) + n * c.O * c.L * c.isz;
        if (cols) im2col_image(xn, cols, c.isz, c.C, c.H, c.W, &c.g);
        const char *src = cols ? cols : xn;
        for (int64_t q = 0; q < c.G; q++)
            gemm(dt, false, true, c.Og, c.Kg, c.L, gyn + q * c.Og * c.L * c.isz, c.L, src + q * c.Kg * c.L * c.isz,
                 c.L, 1.0, cg_ptr(dw) + q * c.Og * c.Kg * c.isz, c.Kg);
    }
    free(cols);
    return 0;
}

/* ---- im2col / col2im as ops ------------------------------------------------------------ */

static void ints_of(const geom *g, int64_t *i) {
    i[0] = g->s[0], i[1] = g->s[1], i[2] = g->p[0], i[3] = g->p[1], i[4] = g->d[0], i[5] = g->d[1];
}

static cg_tensor *im2col_op(cg_tensor *x, const geom *g);
static cg_tensor *col2im_op(cg_tensor *cols, int64_t H, int64_t W, const geom *g);

static geom node_geom(const cg_node *n) {
    geom g;
    memcpy(&g, n->i, sizeof g);
    return g;
}

/* d/dx im2col(x) is its adjoint: the gradient's columns summed back into pixels */
static int im2col_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    geom g = node_geom(n);
    const cg_shape *in = &n->in_shape[0];
    return (gin[0] = col2im_op(gout[0], in->d[2], in->d[3], &g)) ? 0 : -1;
}
static const cg_op im2col_node = {"Im2ColBackward0", im2col_backward, NULL};

/* d/dcols col2im(cols) is its adjoint: the gradient unrolled into columns */
static int col2im_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    geom g = node_geom(n);
    return (gin[0] = im2col_op(gout[0], &g)) ? 0 : -1;
}
static const cg_op col2im_node = {"Col2ImBackward0", col2im_backward, NULL};

static cg_tensor *with_geom_node(const cg_op *op, cg_tensor *out, cg_tensor *in, const geom *g) {
    if (!out || !cg_any_requires_grad(&in, 1)) return out;
    cg_node *n = cg_node_new(op, &in, 1, 1);
    if (!n) {
        cg_tensor_release(out);
        return NULL;
    }
    memcpy(n->i, g, sizeof *g);
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* x (N, C, H, W) unrolled into (N, C kh kw, oh ow) */
static cg_tensor *im2col_op(cg_tensor *x, const geom *g) {
    int64_t N = x->shape[0], C = x->shape[1];
    int64_t shape[3] = {N, C * g->k[0] * g->k[1], g->o[0] * g->o[1]};
    int64_t six[6] = {N, C, g->k[0], g->k[1], g->o[0], g->o[1]};
    cg_tensor *xc = dense(x), *out = xc ? cg_empty(shape, 3, (cg_dtype)x->dtype) : NULL;
    cg_tensor *view = out ? cg_view_raw(out, six, 6) : NULL;
    cg_kargs k = {.name = "im2col", .t = {view, xc}, .nw = 1};
    ints_of(g, k.i);
    if (!view || cg_kernel(im2col_kernel, &k)) {
        cg_tensor_release(out);
        out = NULL;
    }
    cg_tensor_release(view);
    cg_tensor_release(xc);
    return with_geom_node(&im2col_node, out, x, g);
}

/* cols (N, C kh kw, oh ow) summed back into (N, C, H, W) */
static cg_tensor *col2im_op(cg_tensor *cols, int64_t H, int64_t W, const geom *g) {
    int64_t N = cols->shape[0], C = cols->shape[1] / (g->k[0] * g->k[1]);
    int64_t shape[4] = {N, C, H, W}, six[6] = {N, C, g->k[0], g->k[1], g->o[0], g->o[1]};
    cg_tensor *cc = dense(cols), *view = cc ? cg_view_raw(cc, six, 6) : NULL;
    cg_tensor *out = view ? cg_empty(shape, 4, (cg_dtype)cols->dtype) : NULL;
    cg_kargs k = {.name = "col2im", .t = {out, view}, .nw = 1};
    ints_of(g, k.i);
    if (!out || cg_kernel(col2im_kernel, &k)) {
        cg_tensor_release(out);
        out = NULL;
    }
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
    geom g = {{kernel[0], kernel[1]}, {stride[0], stride[1]}, {padding[0], padding[1]}, {dilation[0], dilation[1]},
              {positions(H, kernel[0], stride[0], 2 * padding[0], dilation[0]),
               positions(W, kernel[1], stride[1], 2 * padding[1], dilation[1])}};
    if (g.o[0] < 1 || g.o[1] < 1) {
        cg_error_set(CG_ERR_RUNTIME, "Given input with spatial size (%lld, %lld), kernel_size=(%lld, %lld), "
                     "dilation=(%lld, %lld), padding=(%lld, %lld), calculated shape of the array of sliding blocks as "
                     "(%lld, %lld), but its components must be at least one.", (long long)H, (long long)W,
                     (long long)kernel[0], (long long)kernel[1], (long long)dilation[0], (long long)dilation[1],
                     (long long)padding[0], (long long)padding[1], (long long)g.o[0], (long long)g.o[1]);
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
    geom g = {{kernel[0], kernel[1]}, {stride[0], stride[1]}, {padding[0], padding[1]}, {dilation[0], dilation[1]},
              {positions(output_size[0], kernel[0], stride[0], 2 * padding[0], dilation[0]),
               positions(output_size[1], kernel[1], stride[1], 2 * padding[1], dilation[1])}};
    if (g.o[0] < 1 || g.o[1] < 1 || g.o[0] * g.o[1] != L) {
        cg_error_set(CG_ERR_RUNTIME, "Given output_size=(%lld, %lld), kernel_size=(%lld, %lld), dilation=(%lld, "
                     "%lld), padding=(%lld, %lld), stride=(%lld, %lld), expected size of input's dimension 2 to match "
                     "the calculated number of sliding blocks %lld * %lld = %lld, but got input.size(2)=%lld.",
                     (long long)output_size[0], (long long)output_size[1], (long long)kernel[0], (long long)kernel[1],
                     (long long)dilation[0], (long long)dilation[1], (long long)padding[0], (long long)padding[1],
                     (long long)stride[0], (long long)stride[1], (long long)g.o[0], (long long)g.o[1],
                     (long long)(g.o[0] * g.o[1]), (long long)L);
        return NULL;
    }
    if (batched) return col2im_op(cols, output_size[0], output_size[1], &g);
    tmp S = {0};
    cg_tensor *r = K(col2im_op(K(cg_unsqueeze(cols, 0)), output_size[0], output_size[1], &g));
    return tmp_end(&S, K(cg_squeeze(r, (int64_t[]){0}, 1)));
}

/* ---- convolution ----------------------------------------------------------------------- */

/* A convolution node's window, as 2-d (a 1-d one has height 1): i = {sh, sw,
 * ph, pw, dh, dw, groups}; the kernel size is w's (input 1), the positions
 * the output gradient's. */
static geom conv_geom(const cg_node *n, const cg_tensor *gy) {
    const cg_shape *ws = &n->in_shape[1];
    bool one = ws->ndim == 3;
    return (geom){{one ? 1 : ws->d[2], ws->d[ws->ndim - 1]}, {n->i[0], n->i[1]}, {n->i[2], n->i[3]},
                  {n->i[4], n->i[5]}, {one ? 1 : gy->shape[2], gy->shape[gy->ndim - 1]}};
}

/* t (N, C, L) or (N, C, H, W) seen as 4-d */
static cg_tensor *as_image(cg_tensor *t) {
    if (t->ndim == 4) {
        cg_tensor_retain(t);
        return t;
    }
    return reshape4(t, t->shape[0], t->shape[1], 1, t->shape[2]);
}

/* t viewed as 4-d (N, C, H, W), H 1 for a 1-d one; no autograd */
static cg_tensor *image_view(cg_tensor *t) {
    if (t->ndim == 4) {
        cg_tensor_retain(t);
        return t;
    }
    return cg_view_raw(t, (int64_t[]){t->shape[0], t->shape[1], 1, t->shape[2]}, 4);
}

/* The first-order backward, without create_graph: raw kernels that unroll
 * one image at a time (the composite below unrolls the whole batch at once,
 * which its own derivatives need). The same formulas. */
static int conv_backward_raw(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    tmp S = {0};
    const cg_shape *xs = &n->in_shape[0], *ws = &n->in_shape[1];
    cg_kargs k = {.nw = 1, .i = {n->i[0], n->i[1], n->i[2], n->i[3], n->i[4], n->i[5], n->i[6]}};
    cg_tensor *gy = K(image_view(K(dense(gout[0]))));
    if (cg_wants(n, 0)) {
        cg_tensor *dx = K(cg_empty(xs->d, xs->ndim, (cg_dtype)gout[0]->dtype));
        cg_tensor *w = K(cg_unpack(n, 1)), *wc = K(dense(w)), *w4 = S.failed ? NULL : K(cg_view_raw(wc,
            (int64_t[]){ws->d[0], ws->d[1], ws->ndim == 4 ? ws->d[2] : 1, ws->d[ws->ndim - 1]}, 4));
        cg_tensor *dx4 = S.failed ? NULL : K(image_view(dx));
        k.name = "convolution's input gradient";
        k.t[0] = dx4, k.t[1] = gy, k.t[2] = w4;
        if (!S.failed && cg_kernel(conv_input_grad_kernel, &k)) S.failed = true;
        gin[0] = S.failed ? NULL : take(dx);
    }
    if (cg_wants(n, 1) && !S.failed) {
        cg_tensor *dw = K(cg_empty(ws->d, ws->ndim, (cg_dtype)gout[0]->dtype));
        cg_tensor *x = K(cg_unpack(n, 0)), *xc = K(dense(x)), *x4 = S.failed ? NULL : K(image_view(xc));
        cg_tensor *dw4 = S.failed ? NULL : K(cg_view_raw(dw, (int64_t[]){ws->d[0], ws->d[1], ws->ndim == 4 ?
                                                                          ws->d[2] : 1, ws->d[ws->ndim - 1]}, 4));
        k.name = "convolution's weight gradient";
        k.t[0] = dw4, k.t[1] = gy, k.t[2] = x4;
        if (!S.failed && cg_kernel(conv_weight_grad_kernel, &k)) S.failed = true;
        gin[1] = S.failed ? NULL : take(dw);
    }
    if (cg_wants(n, 2) && !S.failed) gin[2] = take(K(cg_sum(gout[0], (int64_t[]){0, 2, 3}, gout[0]->ndim - 1, 0)));
    int rc = S.failed ? -1 : 0;
    tmp_end(&S, NULL);
    return rc;
}

/* y = conv(x, w) + b: with g (N, G, O/G, L) the output's gradient by group,
 * dx = col2im(w_g^T g), dw = sum over the batch of g im2col(x)_g^T, db = the
 * sum of g over all but the channel dim */
static int conv_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    if (!cg_is_grad_enabled()) return conv_backward_raw(n, gout, gin);
    tmp S = {0};
    geom g = conv_geom(n, gout[0]);
    const cg_shape *xs = &n->in_shape[0], *ws = &n->in_shape[1];
    int64_t G = n->i[6], N = xs->d[0], C = xs->d[1], O = ws->d[0];
    int64_t H = xs->ndim == 4 ? xs->d[2] : 1, W = xs->d[xs->ndim - 1];
    int64_t L = g.o[0] * g.o[1], Kg = (C / G) * g.k[0] * g.k[1];
    cg_tensor *gy = K(cg_reshape(gout[0], (int64_t[]){N, G, O / G, L}, 4));
    if (cg_wants(n, 0)) {
        cg_tensor *w = K(cg_unpack(n, 1));
        cg_tensor *wt = K(cg_transpose(K(cg_reshape(w, (int64_t[]){G, O / G, Kg}, 3)), 1, 2));
        cg_tensor *cols = K(cg_reshape(K(cg_matmul(wt, gy)), (int64_t[]){N, G * Kg, L}, 3));
        cg_tensor *dx = S.failed ? NULL : K(col2im_op(cols, H, W, &g));
        gin[0] = take(K(cg_reshape(dx, xs->d, xs->ndim)));
    }
    if (cg_wants(n, 1)) {
        cg_tensor *x = K(cg_unpack(n, 0));
        cg_tensor *x4 = K(reshape4(x, N, C, H, W));
        cg_tensor *cols = S.failed ? NULL : K(im2col_op(x4, &g));
        cg_tensor *colsT = K(cg_transpose(K(reshape4(cols, N, G, Kg, L)), 2, 3));
        cg_tensor *dw = K(cg_sum(K(cg_matmul(gy, colsT)), (int64_t[]){0}, 1, 0));
        gin[1] = take(K(cg_reshape(dw, ws->d, ws->ndim)));
    }
    if (cg_wants(n, 2) && !S.failed) gin[2] = take(K(cg_sum(gout[0], (int64_t[]){0, 2, 3}, gout[0]->ndim - 1, 0)));
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
        cg_error_set(CG_ERR_NOTIMPL, "\"slow_conv2d_cpu\" not implemented for 'Bool'");
        return -1;
    }
    return 0;
}

/* The forward on checked, batched operands with the window g (as 2-d) */
static cg_tensor *conv_raw(cg_tensor *x, cg_tensor *w, cg_tensor *b, const geom *g, int64_t groups) {
    int64_t N = x->shape[0], C = x->shape[1], O = w->shape[0];
    int64_t shape[4] = {N, O, g->o[0], g->o[1]}, six[6] = {N, O, 1, 1, g->o[0], g->o[1]};
    if (x->ndim == 3) shape[2] = g->o[1];
    tmp S = {0};
    cg_tensor *xc = K(dense(x)), *wc = K(dense(w)), *bc = b ? K(dense(b)) : NULL;
    cg_tensor *x4 = S.failed ? NULL : K(cg_view_raw(xc, (int64_t[]){N, C, x->ndim == 4 ? x->shape[2] : 1,
                                                                    x->shape[x->ndim - 1]}, 4));
    cg_tensor *w4 = S.failed ? NULL : K(cg_view_raw(wc, (int64_t[]){O, w->shape[1], g->k[0], g->k[1]}, 4));
    cg_tensor *out = K(cg_empty(shape, x->ndim, (cg_dtype)x->dtype));
    cg_tensor *view = S.failed ? NULL : K(cg_view_raw(out, six, 6));
    if (!S.failed) {
        cg_kargs k = {.name = "convolution", .t = {view, x4, w4, bc}, .nw = 1};
        ints_of(g, k.i);
        k.i[6] = groups;
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
    n->i[6] = groups;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* ---- transposed convolution -------------------------------------------------------------- */

/* A transposed convolution is the input gradient of a convolution: x (N, C, H, W) plays the
 * convolution's output gradient, w (C, O / G, kh, kw) its weight, and y (N, O, oh, ow) its
 * input. So its forward is conv_input_grad_kernel, its input gradient a convolution of the
 * output gradient by w, and its weight gradient conv_weight_grad_kernel with x and the output
 * gradient in each other's places. The window g (as 2-d) has x's spatial sizes as its
 * positions: o is what the convolution of y would make. */

/* t = {y (N, O, oh, ow), dense x (N, C, H, W), dense w (C, O / G, kh, kw), dense b or NULL},
 * i = {sh, sw, ph, pw, dh, dw, G} */
static int conv_transpose_kernel(const cg_kargs *k) {
    if (conv_input_grad_kernel(k)) return -1;
    cg_tensor *y = k->t[0], *b = k->t[3];
    if (!b) return 0;
    int64_t rows = y->shape[0] * y->shape[1], len = y->shape[2] * y->shape[3], O = y->shape[1];
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

/* w (C, O / G, k) or (C, O / G, kh, kw) seen as 4-d, dense; no autograd */
static cg_tensor *dense_kernel(cg_tensor *w) {
    cg_tensor *wc = dense(w);
    cg_tensor *r = wc ? cg_view_raw(wc, (int64_t[]){w->shape[0], w->shape[1], w->ndim == 4 ? w->shape[2] : 1,
                                                    w->shape[w->ndim - 1]}, 4) : NULL;
    cg_tensor_release(wc);
    return r;
}

/* A transposed convolution node's window: the kernel size is w's (input 1), the
 * positions x's (input 0) */
static geom conv_transpose_geom(const cg_node *n) {
    const cg_shape *xs = &n->in_shape[0], *ws = &n->in_shape[1];
    bool one = ws->ndim == 3;
    return (geom){{one ? 1 : ws->d[2], ws->d[ws->ndim - 1]}, {n->i[0], n->i[1]}, {n->i[2], n->i[3]},
                  {n->i[4], n->i[5]}, {one ? 1 : xs->d[2], xs->d[xs->ndim - 1]}};
}

/* Without create_graph: gx = conv(gy, w) and gw by the weight-gradient kernel, both raw */
static int conv_transpose_backward_raw(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    tmp S = {0};
    const cg_shape *xs = &n->in_shape[0], *ws = &n->in_shape[1];
    geom g = conv_transpose_geom(n);
    cg_kargs k = {.nw = 1, .i = {n->i[0], n->i[1], n->i[2], n->i[3], n->i[4], n->i[5], n->i[6]}};
    cg_tensor *gy = K(image_view(K(dense(gout[0]))));
    if (cg_wants(n, 0)) {
        cg_tensor *dx = K(cg_empty(xs->d, xs->ndim, (cg_dtype)gout[0]->dtype));
        cg_tensor *w4 = S.failed ? NULL : K(dense_kernel(K(cg_unpack(n, 1))));
        cg_tensor *view = S.failed ? NULL : K(cg_view_raw(dx, (int64_t[]){xs->d[0], xs->d[1], 1, 1, g.o[0], g.o[1]}, 6));
        k.name = "transposed convolution's input gradient";
        k.t[0] = view, k.t[1] = gy, k.t[2] = w4, k.t[3] = NULL;
        if (!S.failed && cg_kernel(conv_kernel, &k)) S.failed = true;
        gin[0] = S.failed ? NULL : take(dx);
    }
    if (cg_wants(n, 1) && !S.failed) {
        cg_tensor *dw = K(cg_empty(ws->d, ws->ndim, (cg_dtype)gout[0]->dtype));
        cg_tensor *x4 = S.failed ? NULL : K(image_view(K(dense(K(cg_unpack(n, 0))))));
        cg_tensor *dw4 = S.failed ? NULL : K(dense_kernel(dw));
        k.name = "transposed convolution's weight gradient";
        k.t[0] = dw4, k.t[1] = x4, k.t[2] = gy, k.t[3] = NULL;
        if (!S.failed && cg_kernel(conv_weight_grad_kernel, &k)) S.failed = true;
        gin[1] = S.failed ? NULL : take(dw);
    }
    if (cg_wants(n, 2) && !S.failed) gin[2] = take(K(cg_sum(gout[0], (int64_t[]){0, 2, 3}, gout[0]->ndim - 1, 0)));
    int rc = S.failed ? -1 : 0;
    tmp_end(&S, NULL);
    return rc;
}

/* y = conv_transpose(x, w) + b: with gy (N, O, oh, ow) the output's gradient, dx = conv(gy,
 * w) with the same window, dw_g = sum over the batch of x_g im2col(gy)_g^T, db = the sum of
 * gy over all but the channel dim. With ops, so that create_graph differentiates them. */
static int conv_transpose_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    if (!cg_is_grad_enabled()) return conv_transpose_backward_raw(n, gout, gin);
    tmp S = {0};
    geom g = conv_transpose_geom(n);
    const cg_shape *xs = &n->in_shape[0], *ws = &n->in_shape[1];
    int64_t G = n->i[6], N = xs->d[0], C = xs->d[1], O = ws->d[1] * G;
    int64_t OH = gout[0]->ndim == 4 ? gout[0]->shape[2] : 1, OW = gout[0]->shape[gout[0]->ndim - 1];
    int64_t L = g.o[0] * g.o[1], Kg = (O / G) * g.k[0] * g.k[1];
    if (cg_wants(n, 0)) gin[0] = take(K(conv_batched(gout[0], K(cg_unpack(n, 1)), NULL, &g, G)));
    if (cg_wants(n, 1) && !S.failed) {
        cg_tensor *x = K(reshape4(K(cg_unpack(n, 0)), N, G, C / G, L));
        cg_tensor *cols = S.failed ? NULL : K(im2col_op(K(reshape4(gout[0], N, O, OH, OW)), &g));
        cg_tensor *colsT = K(cg_transpose(K(reshape4(cols, N, G, Kg, L)), 2, 3));
        cg_tensor *dw = K(cg_sum(K(cg_matmul(x, colsT)), (int64_t[]){0}, 1, 0));
        gin[1] = take(K(cg_reshape(dw, ws->d, ws->ndim)));
    }
    if (cg_wants(n, 2) && !S.failed) gin[2] = take(K(cg_sum(gout[0], (int64_t[]){0, 2, 3}, gout[0]->ndim - 1, 0)));
    int rc = S.failed ? -1 : 0;
    tmp_end(&S, NULL);
    return rc;
}
static const cg_op conv_transpose_node = {"ConvolutionBackward0", conv_transpose_backward, NULL};

/* The transposed convolution of checked, batched operands; y's spatial sizes in out_hw */
static cg_tensor *conv_transpose_batched(cg_tensor *x, cg_tensor *w, cg_tensor *b, const geom *g, int64_t groups,
                                         const int64_t *out_hw) {
    int64_t N = x->shape[0], O = w->shape[1] * groups, shape[4] = {N, O, out_hw[0], out_hw[1]};
    if (x->ndim == 3) shape[2] = out_hw[1];
    tmp S = {0};
    cg_tensor *x4 = K(image_view(K(dense(x)))), *w4 = S.failed ? NULL : K(dense_kernel(w));
    cg_tensor *bc = b && !S.failed ? K(dense(b)) : NULL;
    cg_tensor *y = K(cg_empty(shape, x->ndim, (cg_dtype)x->dtype));
    cg_tensor *y4 = S.failed ? NULL : K(image_view(y));
    if (!S.failed) {
        cg_kargs k = {.name = "transposed convolution", .t = {y4, x4, w4, bc}, .nw = 1};
        ints_of(g, k.i);
        k.i[6] = groups;
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
    n->i[6] = groups;
    cg_set_history(y, n, 0);
    cg_node_release(n);
    return y;
}

/* PyTorch's checks of a transposed convolution's arguments, before the shapes */
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

/* PyTorch's checks of the shapes (x batched), in its order */
static int check_conv_transpose_shapes(const cg_tensor *x, const cg_tensor *w, const cg_tensor *b, int64_t groups) {
    char xb[128], wb[128], bb[128];
    int64_t C = w->shape[0], O = w->shape[1] * groups;
    const char *err = NULL;
    if (x->ndim != w->ndim)
        err = "Expected %d-dimensional input for %d-dimensional weight %s, but got %d-dimensional input of size %s "
              "instead";
    else if (C < groups)
        err = "Given groups=%lld, expected weight to be at least %lld at dimension 0, but got weight of size %s instead";
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

/* The checks of PyTorch's kernel, on the shapes x4 and w4 seen as 4-d (a 1-d one of height 1),
 * window g and the output sizes out (both 2-d) */
static int check_conv_transpose_window(const int64_t *x4, const int64_t *w4, const geom *g, const int64_t *op,
                                       const int64_t *out) {
    char buf[128];
    if (x4[2] == 0 || x4[3] == 0) {
        cg_error_set(CG_ERR_RUNTIME, "Only zero batch or zero channel inputs are supported, but got input shape: %s",
                     cg_shape_str(x4, 4, buf, sizeof buf));
        return -1;
    }
    if (w4[0] * w4[1] * w4[2] * w4[3] == 0) {
        cg_error_set(CG_ERR_RUNTIME, "non-empty 2D or 4D weight tensor expected, but got: %s",
                     cg_shape_str(w4, 4, buf, sizeof buf));
        return -1;
    }
    if (g->d[0] <= 0 || g->d[1] <= 0) {
        cg_error_set(CG_ERR_RUNTIME, "dilation should be greater than zero, but got dilation_height: %lld, "
                     "dilation_width: %lld", (long long)g->d[0], (long long)g->d[1]);
        return -1;
    }
    for (int d = 0; d < 2; d++)
        if (op[d] >= g->s[d] && op[d] >= g->d[d]) {
            cg_error_set(CG_ERR_RUNTIME, "output padding must be smaller than either stride or dilation, but got "
                         "output_padding_height: %lld output_padding_width: %lld stride_height: %lld stride_width: "
                         "%lld dilation_height: %lld dilation_width: %lld", (long long)op[0], (long long)op[1],
                         (long long)g->s[0], (long long)g->s[1], (long long)g->d[0], (long long)g->d[1]);
            return -1;
        }
    if (out[0] < 1 || out[1] < 1) {
        cg_error_set(CG_ERR_RUNTIME, "Given input size per channel: (%lld x %lld). Calculated output size per channel: "
                     "(%lld x %lld). Output size is too small", (long long)x4[2], (long long)x4[3],
                     (long long)out[0], (long long)out[1]);
        return -1;
    }
    return 0;
}

/* PyTorch's dtype checks of a transposed convolution; a float64 input takes a bias of any
 * dtype (added in float64) */
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
        cg_error_set(CG_ERR_RUNTIME, "expected scalar type %s but found %s", cg_dtype_torch_name(xd), cg_dtype_torch_name(wd));
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
    int nd = w->ndim - 2, o = 2 - nd;
    int64_t out[2] = {1, 1}, op[2] = {0, 0};
    geom g = {{1, 1}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
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
    int64_t x4[4] = {x->shape[0], x->shape[1], 1, x->shape[x->ndim - 1]};
    int64_t w4[4] = {w->shape[0], w->shape[1], 1, w->shape[w->ndim - 1]};
    if (nd == 2) x4[2] = x->shape[2], w4[2] = w->shape[2];
    if (check_conv_transpose_window(x4, w4, &g, op, out) || check_conv_transpose_dtypes(x, w, b)) return NULL;
    tmp S = {0};
    cg_tensor *bc = b && b->dtype != x->dtype ? K(cg_to_dtype(b, (cg_dtype)x->dtype)) : b;
    return tmp_end(&S, S.failed ? NULL : K(conv_transpose_batched(x, w, bc, &g, groups, out)));
}

cg_tensor *cg_conv_transpose(cg_tensor *x, cg_tensor *w, cg_tensor *b, const int64_t *stride, const int64_t *padding,
                             const int64_t *output_padding, const int64_t *dilation, int64_t groups) {
    int nd = w->ndim - 2;
    if (nd < 1 || nd > 2) {
        cg_error_set(nd < 1 ? CG_ERR_RUNTIME : CG_ERR_NOTIMPL, nd < 1 ? "weight should have at least three dimensions"
                     : "cgrad convolves over 1 or 2 spatial dims, got a %d-dimensional weight", w->ndim);
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
    if (nd < 1 || nd > 2) {
        cg_error_set(nd < 1 ? CG_ERR_RUNTIME : CG_ERR_NOTIMPL, nd < 1 ? "weight should have at least three dimensions"
                     : "cgrad convolves over 1 or 2 spatial dims, got a %d-dimensional weight", w->ndim);
        return NULL;
    }
    if (check_conv_params(w, stride, padding, dilation, groups, same)) return NULL;
    bool batched = x->ndim == w->ndim;
    int64_t lo[2] = {0, 0}, total[2] = {0, 0};
    for (int d = 0; d < nd; d++) {
        total[d] = same ? dilation[d] * (w->shape[d + 2] - 1) : 2 * padding[d];
        lo[d] = same ? total[d] / 2 : padding[d];
    }
    tmp S = {0};
    cg_tensor *xb = batched ? x : x->ndim == w->ndim - 1 ? K(cg_unsqueeze(x, 0)) : x;
    if (S.failed || check_conv_shapes(xb, w, b, groups, total, dilation) || check_conv_dtypes(xb, w, b))
        return tmp_end(&S, NULL);
    /* as 2-d: a 1-d convolution is one of height 1 */
    int o = 2 - nd;
    geom g = {{1, 1}, {1, 1}, {0, 0}, {1, 1}, {1, 1}};
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
