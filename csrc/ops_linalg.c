/* ops_linalg.c -- matrix products: dot, mv, mm, bmm, and matmul over them.
 *
 * Float products go to OpenBLAS (scipy-openblas32) except tiny ones, where a
 * plain loop is faster than the call. A transposed view is passed to BLAS as
 * a transpose flag, never copied.
 */
#include <cblas.h>
#include <float.h>
#include <math.h>

#include "internal.h"

CG_NO_FP_CONTRACT /* only the explicit fmas fuse: FMA_CLONES */

cg_tensor *cg_unsafe_view(cg_tensor *a, const int64_t *shape, int ndim); /* ops_shape.c */
cg_tensor *cg_squeeze_matmul(cg_tensor *a, int64_t dim);

#define BLAS_MIN_WORK 4096 /* M*N*K below this: plain loop */
/* OpenBLAS multiplies by a transposed right operand (a @ w.T, the input's
 * gradient of a linear layer) at about half its speed on plain operands when
 * the product is small. A small transposed b read by many rows of a is
 * cheaper to copy row-major first. */
#define PACK_T_MAX 4096 /* elements of b */
#define PACK_T_ROWS 32  /* rows of a */

/* ---- kernels --------------------------------------------------------------------- */

typedef struct matrix {
    const char *data;
    int64_t rows, cols, rs, cs; /* strides in elements */
} matrix;

/* Strides are copied to locals: stores into out may not alias them. Every
 * output element sums its products in k order, starting from 0, one fused
 * multiply-add each (MADD), whatever the loop order (but a product of one
 * column: Note [Lanes of a dot]): the layouts only change
 * which elements are summed side by side, so the bits are the same on every
 * CPU (FMA_CLONES). Outputs are summed BLOCK at a time in a local block the
 * compiler keeps in vector registers for the whole k loop: along a row of out
 * when b's rows are contiguous, down a column when a's columns are (a single
 * output column), else four rows side by side. The block is stored element
 * by element: a memcpy of it went through the stack. */
#define NAIVE_BLOCK 16
/* Note [Lanes of a dot]
 * An output of a product with one column (a matrix-vector product, a layer
 * of one output, a dot product) is not summed in k order unless a's columns
 * are contiguous (a transposed a: its outputs are summed side by side down
 * the column): those multiply-adds are one chain each, which scalar code runs
 * at one per port. It is summed in DOT_LANES = 8 lanes, lane c taking the
 * terms k = c, c + 8, c + 16, ... in order, one fused multiply-add each
 * from 0; then lane c + 4 is added to lane c, c + 2 to c, and 1 to 0. The
 * order is fixed and follows the layout alone (the dense copies a float32
 * product near the subnormal range makes keep it), so the bits are the same
 * on every CPU and at every vector width, a NaN's sign and payload excepted;
 * it is the order of a reduction of one vector of 8 lanes. */
#define DOT_LANES 8
static inline bool in_lanes(int64_t M, int64_t K, int64_t N, int64_t ars) {
    return N == 1 && K >= DOT_LANES && !(ars == 1 && M > 1);
}
#define NAIVE_GEMM(NAME, T, MADD)                                                            \
    FMA_CLONES static void NAME(const matrix *a, const matrix *b, T *out) {                  \
        const T *x = (const T *)a->data, *y = (const T *)b->data;                            \
        int64_t M = a->rows, K = a->cols, N = b->cols, bc = b->cs, ars = a->rs, acs = a->cs, brs = b->rs; \
        if (N == 1 && ars == 1 && M > 1) {                                                   \
            int64_t i = 0;                                                                   \
            for (; i + NAIVE_BLOCK <= M; i += NAIVE_BLOCK) {                                 \
                T acc[NAIVE_BLOCK] = {0};                                                    \
                for (int64_t k = 0; k < K; k++) {                                            \
                    const T *xk = x + i + k * acs;                                           \
                    T yk = y[k * brs];                                                       \
                    for (int r = 0; r < NAIVE_BLOCK; r++) acc[r] = MADD(xk[r], yk, acc[r]);  \
                }                                                                            \
                for (int r = 0; r < NAIVE_BLOCK; r++) out[i + r] = acc[r];                   \
            }                                                                                \
            for (; i < M; i++) {                                                             \
                T acc = 0;                                                                   \
                for (int64_t k = 0; k < K; k++) acc = MADD(x[i + k * acs], y[k * brs], acc); \
                out[i] = acc;                                                                \
            }                                                                                \
            return;                                                                          \
        }                                                                                    \
        if (in_lanes(M, K, N, ars)) { /* Note [Lanes of a dot] */                             \
            for (int64_t i = 0; i < M; i++) {                                                \
                const T *xi = x + i * ars;                                                   \
                T acc[DOT_LANES] = {0};                                                      \
                for (int64_t k = 0; k < K; k++)                                              \
                    acc[k % DOT_LANES] = MADD(xi[k * acs], y[k * brs], acc[k % DOT_LANES]);  \
                for (int c = 0; c < 4; c++) acc[c] = acc[c] + acc[c + 4];                    \
                out[i] = (acc[0] + acc[2]) + (acc[1] + acc[3]);                              \
            }                                                                                \
            return;                                                                          \
        }                                                                                    \
        if (N == 1) {                                                                        \
            int64_t i = 0;                                                                   \
            for (; i + 4 <= M; i += 4) {                                                     \
                const T *x0 = x + i * ars, *x1 = x0 + ars, *x2 = x1 + ars, *x3 = x2 + ars;  \
                T s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                            \
                for (int64_t k = 0; k < K; k++) {                                            \
                    T yk = y[k * brs];                                                       \
                    s0 = MADD(x0[k * acs], yk, s0);                                          \
                    s1 = MADD(x1[k * acs], yk, s1);                                          \
                    s2 = MADD(x2[k * acs], yk, s2);                                          \
                    s3 = MADD(x3[k * acs], yk, s3);                                          \
                }                                                                            \
                out[i] = s0, out[i + 1] = s1, out[i + 2] = s2, out[i + 3] = s3;              \
            }                                                                                \
            for (; i < M; i++) {                                                             \
                T acc = 0;                                                                   \
                for (int64_t k = 0; k < K; k++) acc = MADD(x[i * ars + k * acs], y[k * brs], acc); \
                out[i] = acc;                                                                \
            }                                                                                \
            return;                                                                          \
        }                                                                                    \
        for (int64_t i = 0; i < M; i++) {                                                    \
            T *o = out + i * N;                                                              \
            const T *xi = x + i * ars;                                                       \
            int64_t j = 0;                                                                   \
            if (bc == 1) /* rows of b contiguous: a block of a row of out in registers */    \
                for (; j + NAIVE_BLOCK <= N; j += NAIVE_BLOCK) {                             \
                    T acc[NAIVE_BLOCK] = {0};                                                \
                    for (int64_t k = 0; k < K; k++) {                                        \
                        T aik = xi[k * acs];                                                 \
                        const T *yk = y + k * brs + j;                                       \
                        for (int c = 0; c < NAIVE_BLOCK; c++) acc[c] = MADD(aik, yk[c], acc[c]); \
                    }                                                                        \
                    for (int c = 0; c < NAIVE_BLOCK; c++) o[j + c] = acc[c];                 \
                }                                                                            \
            for (int64_t c = j; c < N; c++) o[c] = 0;                                        \
            for (int64_t k = 0; k < K && j < N; k++) {                                       \
                T aik = xi[k * acs];                                                         \
                const T *yk = y + k * brs;                                                   \
                for (int64_t c = j; c < N; c++) o[c] = MADD(aik, yk[c * bc], o[c]);          \
            }                                                                                \
        }                                                                                    \
    }
#define MADD_F32(a, b, c) fmaf(a, b, c)
#define MADD_F64(a, b, c) fma(a, b, c)
#define MADD_I64(a, b, c) cg_wrap_add(cg_wrap_mul(a, b), c)
NAIVE_GEMM(gemm_naive_f32, float, MADD_F32)
NAIVE_GEMM(gemm_naive_f64, double, MADD_F64)
NAIVE_GEMM(gemm_naive_i64, int64_t, MADD_I64)

/* The same sums for AVX-512, eight rows of out at a time (then four, two,
 * one), each row a block of two vectors of columns: 16 sums in flight,
 * where one row alone (2) waits on each multiply-add's latency. A tail of
 * columns is masked lanes, which read and write nothing. Each output is
 * still one fused multiply-add per k from 0, in k order: the same bits as
 * the loop above. Products big enough for BLAS go to BLAS, which is as
 * fast from about 100 x 16 x 16 up. SFX is the intrinsics' type: ps or pd. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(CG_ONE_BUILD)
#include <immintrin.h>
#define HAVE_GEMM_512 1
#define GEMM_512_BLOCK(R, T, V, L, SFX)                                                           \
    for (; i + R <= M; i += R, o += R * N) {                                                      \
        const T *xi = x + i * ars, *yk = yj;                                                      \
        V c[R][2];                                                                                \
        for (int r = 0; r < R; r++) c[r][0] = c[r][1] = _mm512_setzero_##SFX();                   \
        for (int64_t k = 0, ak = 0; k < K; k++, ak += acs, yk += brs) {                           \
            V b0 = _mm512_maskz_loadu_##SFX(m0, yk), b1 = _mm512_maskz_loadu_##SFX(m1, yk + L);   \
            for (int r = 0; r < R; r++) {                                                         \
                V s = _mm512_set1_##SFX(xi[r * ars + ak]);                                        \
                c[r][0] = _mm512_fmadd_##SFX(s, b0, c[r][0]);                                     \
                c[r][1] = _mm512_fmadd_##SFX(s, b1, c[r][1]);                                     \
            }                                                                                     \
        }                                                                                         \
        for (int r = 0; r < R; r++) {                                                             \
            _mm512_mask_storeu_##SFX(o + r * N, m0, c[r][0]);                                     \
            _mm512_mask_storeu_##SFX(o + r * N + L, m1, c[r][1]);                                 \
        }                                                                                         \
    }
#define GEMM_512(NAME, T, V, L, MASK, SFX)                                                        \
    __attribute__((target("avx512f"))) static void NAME(const matrix *a, const matrix *b, T *out) { \
        const T *x = (const T *)a->data, *y = (const T *)b->data;                                 \
        int64_t M = a->rows, K = a->cols, N = b->cols, ars = a->rs, acs = a->cs, brs = b->rs;     \
        for (int64_t j = 0; j < N; j += 2 * L) {                                                  \
            int64_t w = N - j < 2 * L ? N - j : 2 * L, i = 0;                                     \
            MASK m0 = (MASK)(w >= L ? ~0u : (1u << w) - 1);                                       \
            MASK m1 = (MASK)(w >= 2 * L ? ~0u : w > L ? (1u << (w - L)) - 1 : 0u);                \
            const T *yj = y + j;                                                                  \
            T *o = out + j;                                                                       \
            GEMM_512_BLOCK(8, T, V, L, SFX)                                                       \
            GEMM_512_BLOCK(4, T, V, L, SFX)                                                       \
            GEMM_512_BLOCK(2, T, V, L, SFX)                                                       \
            GEMM_512_BLOCK(1, T, V, L, SFX)                                                       \
        }                                                                                         \
    }
GEMM_512(gemm_512_f32, float, __m512, 16, __mmask16, ps)
GEMM_512(gemm_512_f64, double, __m512d, 8, __mmask8, pd)

/* The dot products of the contiguous rows of a with b's one contiguous
 * column, in the lanes of Note [Lanes of a dot]: one vector of 8 lanes, the
 * tail of k added to the first lanes only (the others keep their sums, a
 * -0.0 among them), the lanes added in halves. */
__attribute__((target("avx512f"))) static void dot_512_f64(const matrix *a, const matrix *b, double *out) {
    const double *x = (const double *)a->data, *y = (const double *)b->data;
    int64_t M = a->rows, K = a->cols, ars = a->rs, kv = K - K % DOT_LANES;
    __mmask8 tail = (__mmask8)((1u << (K - kv)) - 1);
    __m512d yt = _mm512_maskz_loadu_pd(tail, y + kv);
    for (int64_t i = 0; i < M; i++) {
        const double *xi = x + i * ars;
        __m512d acc = _mm512_setzero_pd();
        for (int64_t k = 0; k < kv; k += DOT_LANES)
            acc = _mm512_fmadd_pd(_mm512_loadu_pd(xi + k), _mm512_loadu_pd(y + k), acc);
        if (tail) acc = _mm512_mask3_fmadd_pd(_mm512_maskz_loadu_pd(tail, xi + kv), yt, acc, tail);
        __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(acc), _mm512_extractf64x4_pd(acc, 1));
        __m128d q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
        out[i] = _mm_cvtsd_f64(q) + _mm_cvtsd_f64(_mm_unpackhi_pd(q, q));
    }
}

__attribute__((target("avx512f,fma"))) static void dot_512_f32(const matrix *a, const matrix *b, float *out) {
    const float *x = (const float *)a->data, *y = (const float *)b->data;
    int64_t M = a->rows, K = a->cols, ars = a->rs, kv = K - K % DOT_LANES;
    __mmask16 tail = (__mmask16)((1u << (K - kv)) - 1);
    __m256 yt = _mm512_castps512_ps256(_mm512_maskz_loadu_ps(tail, y + kv));
    __m256 in_tail = _mm512_castps512_ps256(_mm512_castsi512_ps(_mm512_maskz_set1_epi32(tail, -1)));
    for (int64_t i = 0; i < M; i++) {
        const float *xi = x + i * ars;
        __m256 acc = _mm256_setzero_ps();
        for (int64_t k = 0; k < kv; k += DOT_LANES)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(xi + k), _mm256_loadu_ps(y + k), acc);
        if (tail) {
            __m256 t = _mm256_fmadd_ps(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(tail, xi + kv)), yt, acc);
            acc = _mm256_blendv_ps(acc, t, in_tail);
        }
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
        out[i] = _mm_cvtss_f32(q) + _mm_cvtss_f32(_mm_shuffle_ps(q, q, 1));
    }
}

/* The 4x4 transpose of the 128-bit lanes of v[0], v[s], v[2s], v[3s], into
 * out rows 0, k, 2k, 3k (each row of the result takes lane L of the four). */
#define LANES_4X4(v, s, store, k, SH)                                                             \
    do {                                                                                          \
        __m512i s0 = SH(v[0], v[s], 0x44), s1 = SH(v[0], v[s], 0xee);                             \
        __m512i s2 = SH(v[2 * s], v[3 * s], 0x44), s3 = SH(v[2 * s], v[3 * s], 0xee);             \
        store(0, SH(s0, s2, 0x88));                                                               \
        store(k, SH(s0, s2, 0xdd));                                                               \
        store(2 * k, SH(s1, s3, 0x88));                                                           \
        store(3 * k, SH(s1, s3, 0xdd));                                                           \
    } while (0)

/* dst[c * ldd + r] = src[r * lds + c] for a 16x16 tile of 4-byte elements
 * (an 8x8 one of 8-byte elements): the rows of src, interleaved by pairs,
 * then by pairs of pairs, then their 128-bit lanes transposed. */
__attribute__((target("avx512f"))) static void tile_t32(const uint32_t *src, int64_t lds, uint32_t *dst, int64_t ldd) {
    __m512i r[16], t[16], u[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_si512(src + i * lds);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { /* u[i + c], lane L: rows i..i+3 of column 4L + c */
        u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int c = 0; c < 4; c++) {
#define STORE32(row, x) _mm512_storeu_si512(dst + (c + (row)) * ldd, (x))
        LANES_4X4((u + c), 4, STORE32, 4, _mm512_shuffle_i32x4);
#undef STORE32
    }
}

__attribute__((target("avx512f"))) static void tile_t64(const uint64_t *src, int64_t lds, uint64_t *dst, int64_t ldd) {
    __m512i r[8], t[8];
    for (int i = 0; i < 8; i++) r[i] = _mm512_loadu_si512(src + i * lds);
    for (int i = 0; i < 8; i += 2) { /* t[i + c], lane L: rows i, i+1 of column 2L + c */
        t[i] = _mm512_unpacklo_epi64(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi64(r[i], r[i + 1]);
    }
    for (int c = 0; c < 2; c++) {
#define STORE64(row, x) _mm512_storeu_si512(dst + (c + (row)) * ldd, (x))
        LANES_4X4((t + c), 2, STORE64, 2, _mm512_shuffle_i64x2);
#undef STORE64
    }
}
#endif

static bool cpu_has_512(void) {
    static int have = -1; /* the CPU's answer, asked once */
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (CG_UNLIKELY(h < 0)) {
#ifdef HAVE_GEMM_512
        h = __builtin_cpu_supports("avx512f") != 0;
#else
        h = 0;
#endif
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h;
}

/* dst (rows x cols, row-major) from m, whose columns are contiguous (rs 1):
 * a transpose, by tiles on AVX-512. Returns false where it does not apply. */
static bool pack_transposed(const matrix *m, int64_t isz, char *dst) {
#ifdef HAVE_GEMM_512
    int64_t T = isz == 4 ? 16 : 8, rows = m->rows, cols = m->cols, ld = m->cs;
    if (m->rs != 1 || (isz != 4 && isz != 8) || rows < T || cols < T || !cpu_has_512()) return false;
    int64_t rt = rows - rows % T, ct = cols - cols % T;
    for (int64_t j = 0; j < ct; j += T) /* a tile: T columns of m, T rows of its storage */
        for (int64_t i = 0; i < rt; i += T) {
            if (isz == 4)
                tile_t32((const uint32_t *)m->data + j * ld + i, ld, (uint32_t *)dst + i * cols + j, cols);
            else
                tile_t64((const uint64_t *)m->data + j * ld + i, ld, (uint64_t *)dst + i * cols + j, cols);
        }
    for (int64_t i = 0; i < rows; i++) /* the edges */
        for (int64_t j = i < rt ? ct : 0; j < cols; j++)
            memcpy(dst + (i * cols + j) * isz, m->data + (i + j * ld) * isz, (size_t)isz);
    return true;
#else
    (void)m, (void)isz, (void)dst;
    return false;
#endif
}

/* How BLAS can read m in row-major order: as is, or as a transpose. */
static bool blas_layout(const matrix *m, enum CBLAS_TRANSPOSE *trans, int64_t *ld) {
    int64_t rs = m->rows == 1 ? m->cols : m->rs, cs = m->cols == 1 ? 1 : m->cs;
    if (cs == 1 && rs >= (m->cols > 1 ? m->cols : 1)) {
        *trans = CblasNoTrans;
        *ld = rs > 0 ? rs : 1;
        return *ld <= INT32_MAX;
    }
    rs = m->rows == 1 ? 1 : m->rs;
    cs = m->cols == 1 ? m->rows : m->cs;
    if (rs == 1 && cs >= (m->rows > 1 ? m->rows : 1)) {
        *trans = CblasTrans;
        *ld = cs > 0 ? cs : 1;
        return *ld <= INT32_MAX;
    }
    return false;
}

static void gemm_blas(cg_dtype dtype, const matrix *a, enum CBLAS_TRANSPOSE ta, int64_t lda,
                      const matrix *b, enum CBLAS_TRANSPOSE tb, int64_t ldb, void *out) {
    int M = (int)a->rows, N = (int)b->cols, K = (int)a->cols;
    if (dtype == CG_FLOAT32)
        scipy_cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, (const float *)a->data, (int)lda,
                          (const float *)b->data, (int)ldb, 0.0f, (float *)out, N > 0 ? N : 1);
    else
        scipy_cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, 1.0, (const double *)a->data, (int)lda,
                          (const double *)b->data, (int)ldb, 0.0, (double *)out, N > 0 ? N : 1);
}

/* A dense row-major copy of m (for layouts BLAS cannot read, e.g. expanded). */
static void *pack(const matrix *m, int64_t isz, matrix *packed) {
    char *buf = malloc((size_t)(m->rows * m->cols * isz) + 1);
    if (!buf) return NULL;
    if (m->cs != 1 && pack_transposed(m, isz, buf)) {
        *packed = (matrix){buf, m->rows, m->cols, m->cols, 1};
        return buf;
    }
    /* by rows, element by element in the element's own type: a copy call
     * per element cost about a fifth of the product it fed */
    for (int64_t i = 0; i < m->rows; i++) {
        const char *src = m->data + i * m->rs * isz;
        char *dst = buf + i * m->cols * isz;
        if (m->cs == 1)
            memcpy(dst, src, (size_t)(m->cols * isz));
        else if (isz == 4)
            for (int64_t j = 0; j < m->cols; j++) ((uint32_t *)dst)[j] = *(const uint32_t *)(src + j * m->cs * 4);
        else if (isz == 8)
            for (int64_t j = 0; j < m->cols; j++) ((uint64_t *)dst)[j] = *(const uint64_t *)(src + j * m->cs * 8);
        else
            for (int64_t j = 0; j < m->cols; j++) memcpy(dst + j * isz, src + j * m->cs * isz, (size_t)isz);
    }
    *packed = (matrix){buf, m->rows, m->cols, m->cols, 1};
    return buf;
}

/* a @ b.T for a of few rows (below PACK_T_ROWS): (b @ a.T).T, the two
 * transposes by tiles, about a quarter faster than BLAS's own product by
 * a transposed operand, and than copying b, which is bigger than a. */
static bool product_by_transposes(cg_dtype dtype, const matrix *a, const matrix *b, char *out) {
    int64_t M = a->rows, K = a->cols, N = b->cols, isz = cg_dtype_size(dtype);
    matrix at = {a->data, K, M, 1, a->rs}, w = {b->data, N, K, b->cs, 1};
    char *buf = malloc((size_t)((K * M + N * M) * isz) + 1);
    if (!buf) return false;
    char *d = buf + K * M * isz;
    if (!pack_transposed(&at, isz, buf)) {
        free(buf);
        return false;
    }
    matrix mat = {buf, K, M, M, 1}, dt = {d, M, N, 1, M};
    gemm_blas(dtype, &w, CblasNoTrans, b->cs, &mat, CblasNoTrans, M, d);
    bool done = pack_transposed(&dt, isz, out);
    free(buf);
    return done;
}

/* BLAS on a and b, packing either one if BLAS cannot read its layout. */
static bool try_blas(cg_dtype dtype, const matrix *a, const matrix *b, void *out) {
    matrix pa = *a, pb = *b;
    void *bufa = NULL, *bufb = NULL;
    enum CBLAS_TRANSPOSE ta, tb;
    int64_t lda, ldb, isz = cg_dtype_size(dtype);
    if (!blas_layout(&pa, &ta, &lda) && (!(bufa = pack(a, isz, &pa)) || !blas_layout(&pa, &ta, &lda))) goto fail;
    if (!blas_layout(&pb, &tb, &ldb) && (!(bufb = pack(b, isz, &pb)) || !blas_layout(&pb, &tb, &ldb))) goto fail;
    if (tb == CblasTrans && !bufb && ta == CblasNoTrans && !bufa && a->cs == 1 && b->rs == 1 &&
        a->rows < PACK_T_ROWS && a->rows >= 16 && a->cols >= 16 && b->cols >= 16 &&
        product_by_transposes(dtype, a, b, out))
        return true;
    if (tb == CblasTrans && !bufb && b->rows * b->cols <= PACK_T_MAX && a->rows >= PACK_T_ROWS &&
        (!(bufb = pack(b, isz, &pb)) || !blas_layout(&pb, &tb, &ldb)))
        goto fail;
    gemm_blas(dtype, &pa, ta, lda, &pb, tb, ldb, out);
    free(bufa);
    free(bufb);
    return true;
fail:
    free(bufa);
    free(bufb);
    return false;
}

static void gemm(cg_dtype dtype, const matrix *a, const matrix *b, void *out);

/* ---- float32 products near the subnormal range ------------------------------------- */

/* Intel cores take a microcode assist, about a hundred cycles, for each
 * vector multiply that reads a subnormal float or rounds to one. A gradient
 * sent back through many steps (an RNN's, after twenty-odd tanh steps)
 * shrinks into that range, and its float32 products ran 40 to 100 times
 * slower. Flushing subnormals to zero (torch.set_flush_denormal) would
 * change the values; instead such a product is computed where no term is
 * subnormal:
 * - each operand whose least nonzero magnitude is below 2^-63 is scaled by
 *   the power of two that lifts it there (exact: through float64, where no
 *   multiply meets a subnormal either), so that every product of two terms
 *   is a normal float32; the float32 product of the scaled operands is
 *   scaled back through float64, each output rounded once. The sums round
 *   as a normal product's do, finer than IEEE's subnormal steps.
 * - when the operands' range is too wide to scale without overflow, the
 *   product is computed in float64 and each output rounded to float32 once.
 * Both are the same on every CPU.
 * Which products go that way: those whose float32 run meets a subnormal,
 * as an operand or as a result (a product or sum that underflows). The
 * product runs with the CPU flushing subnormal results to zero and its
 * flags cleared; a subnormal operand or an underflow (which the flush
 * changed) sends it the way above; else the flush changed nothing, and
 * the result is IEEE's. The flags are the calling thread's: a product
 * OpenBLAS may share among its threads (above ONE_THREAD_WORK, with more
 * than one) is decided by its operands' least magnitudes instead (a
 * subnormal, or two whose product is one), as on CPUs without these
 * flags; the two rules differ only where those least magnitudes never
 * meet or a sum cancels into the subnormal range. Run under the flags, a
 * subnormal operand's assists would be paid before they are seen, so
 * small operands are scanned for subnormals first: a scan costs about a
 * tenth of a cycle an element, four times a multiply-add's share of a
 * product and more than the product itself when a has one row, so only
 * operands of at most 1,024 elements (an RNN's gradient, where subnormals
 * come from) or 1/256 of M*N*K. */
#define SCAN_MIN 1024           /* elements of an operand scanned whatever the product */
#define SCAN_SHARE 256          /* and those of one up to M*N*K / SCAN_SHARE */
#define ONE_THREAD_WORK 65536   /* OpenBLAS runs M*N*K up to 65,536 x GEMM_MULTITHREAD_THRESHOLD
                                   (4 by default) in the calling thread */

static void gemm_plain(cg_dtype dtype, const matrix *a, const matrix *b, void *out);

/* cg_least_bits (internal.h) over m, by its contiguous runs. */
static inline uint32_t least_bits(const matrix *m, uint32_t add, uint32_t flip) {
    uint32_t least = UINT32_MAX;
    bool by_rows = m->cs == 1 || m->rows == 1;
    int64_t outer = by_rows ? m->rows : m->cols, inner = by_rows ? m->cols : m->rows;
    int64_t step = by_rows ? m->rs : m->cs, along = by_rows ? m->cs : m->rs;
    if (along == 1 && step == inner) /* dense: one run, one reduction at its end */
        inner *= outer, outer = 1;
    for (int64_t i = 0; i < outer; i++) {
        const uint32_t *x = (const uint32_t *)m->data + i * step;
        if (along == 1) {
            uint32_t v = cg_least_bits(x, inner, add, flip);
            least = v < least ? v : least;
        } else
            for (int64_t j = 0; j < inner; j++) {
                uint32_t v = ((x[j * along] & 0x7fffffffu) + add) ^ flip;
                least = v < least ? v : least;
            }
    }
    return least;
}

static float float_of(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* The least nonzero magnitude in m (float32), 0 if all are zero. */
VECTOR_CLONES static float least_magnitude(const matrix *m) { return float_of(least_bits(m, UINT32_MAX, 0) + 1u); }

/* The greatest magnitude in m (float32): infinity or NaN above all. */
VECTOR_CLONES static float greatest_magnitude(const matrix *m) {
    return float_of(0x7fffffffu ^ least_bits(m, 0, 0x7fffffffu));
}

/* Copies of m, dense in its own orientation: by rows, or by columns when
 * those are contiguous (a transposed view, which BLAS reads as such). EXPR
 * converts the element x. */
#define DENSE_COPY(NAME, T, EXPR)                                                                   \
    VECTOR_CLONES static matrix NAME(const matrix *m, double by, T *dst) {                         \
        const float *src = (const float *)m->data;                                                  \
        int64_t rows = m->rows, cols = m->cols, rs = m->rs, cs = m->cs;                             \
        (void)by;                                                                                   \
        if (rs == 1 && cs != 1 && rows > 1) {                                                       \
            for (int64_t j = 0; j < cols; j++)                                                      \
                for (int64_t i = 0; i < rows; i++) { float x = src[j * cs + i]; dst[j * rows + i] = (EXPR); } \
            return (matrix){(const char *)dst, rows, cols, 1, rows};                                \
        }                                                                                           \
        for (int64_t i = 0; i < rows; i++)                                                          \
            if (cs == 1)                                                                            \
                for (int64_t j = 0; j < cols; j++) { float x = src[i * rs + j]; dst[i * cols + j] = (EXPR); } \
            else                                                                                    \
                for (int64_t j = 0; j < cols; j++) { float x = src[i * rs + j * cs]; dst[i * cols + j] = (EXPR); } \
        return (matrix){(const char *)dst, rows, cols, cols, 1};                                    \
    }
DENSE_COPY(widened, double, (double)x)
DENSE_COPY(scaled, float, (float)((double)x * by))

/* x[i] * by, rounded once to float32 (by a power of two: the product in
 * float64 is exact) */
VECTOR_CLONES static void scale_back(float *x, int64_t n, double by) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)((double)x[i] * by);
}

/* a @ b in float64, each output rounded to float32 once. */
static bool gemm_f32_wide(const matrix *a, const matrix *b, float *out) {
    int64_t M = a->rows, K = a->cols, N = b->cols;
    double *wa = malloc((size_t)(M * K + K * N + M * N) * sizeof(double) + 1);
    if (!wa) return false;
    double *wb = wa + M * K, *wout = wb + K * N;
    matrix ma = widened(a, 0, wa), mb = widened(b, 0, wb);
    gemm_plain(CG_FLOAT64, &ma, &mb, wout);
    for (int64_t i = 0; i < M * N; i++) out[i] = (float)wout[i];
    free(wa);
    return true;
}

/* The power of two that lifts a least nonzero magnitude to 2^-63 or above. */
static int lift(float least) { return least < 0x1p-63f ? -63 - ilogbf(least) : 0; /* NaN: 0 */ }

/* a @ b (float32) where no term is subnormal: scaled, or in float64. Plain
 * (IEEE's, assists and all) if an operand is all zeros or memory ran out. */
static void gemm_f32_near_subnormal(const matrix *a, const matrix *b, float *out) {
    int64_t M = a->rows, K = a->cols, N = b->cols;
    float la = least_magnitude(a), lb = least_magnitude(b);
    if (la == 0 || lb == 0) {
        gemm_plain(CG_FLOAT32, a, b, out);
        return;
    }
    int sa = lift(la), sb = lift(lb);
    double ga = ldexp(greatest_magnitude(a), sa), gb = ldexp(greatest_magnitude(b), sb);
    if (!(ga < 0x1p100 && gb < 0x1p100 && ga * gb * (double)K < 0x1p100)) { /* NaN, infinities, too wide */
        if (!gemm_f32_wide(a, b, out)) gemm_plain(CG_FLOAT32, a, b, out);
        return;
    }
    float *buf = malloc((size_t)((sa ? M * K : 0) + (sb ? K * N : 0)) * sizeof(float) + 1);
    if (!buf) {
        gemm_plain(CG_FLOAT32, a, b, out);
        return;
    }
    matrix ma = sa ? scaled(a, ldexp(1, sa), buf) : *a;
    matrix mb = sb ? scaled(b, ldexp(1, sb), buf + (sa ? M * K : 0)) : *b;
    gemm_plain(CG_FLOAT32, &ma, &mb, out);
    scale_back(out, M * N, ldexp(1, -(sa + sb)));
    free(buf);
}

static bool holds_subnormal(const matrix *m) {
    float least = least_magnitude(m);
    return least != 0 && least < FLT_MIN;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <xmmintrin.h>
#define FLUSH_WATCH 1
#define MXCSR_FLAGS 0x3fu
#define MXCSR_DENORMAL 0x02u
#define MXCSR_UNDERFLOW 0x10u
#define MXCSR_FLUSH 0x8000u
/* a @ b under flush-to-zero; whether it met a subnormal operand or result.
 * The caller's flags and modes are restored. */
static bool met_subnormals(const matrix *a, const matrix *b, float *out) {
    unsigned int saved = _mm_getcsr();
    _mm_setcsr((saved & ~MXCSR_FLAGS) | MXCSR_FLUSH);
    gemm_plain(CG_FLOAT32, a, b, out);
    unsigned int met = _mm_getcsr() & (MXCSR_DENORMAL | MXCSR_UNDERFLOW);
    _mm_setcsr(saved);
    return met != 0;
}

/* The same for a product of at most SMALL_WORK multiply-adds, in IEEE's
 * mode and with no scan first: writing the register costs more than the
 * assists of so few vector multiply-adds, so it is written only when one
 * of the two flags is already up, and those flags are put back. The run keeps its other flags.
 * Where a subnormal result is exact, IEEE's mode raises no flag, and the
 * flush would have: the ways then agree, exact both. */
#define SMALL_WORK 256
static bool met_subnormals_small(const matrix *a, const matrix *b, float *out) {
    unsigned int watched = MXCSR_DENORMAL | MXCSR_UNDERFLOW, before = _mm_getcsr();
    if (before & watched) _mm_setcsr(before & ~watched);
    gemm_plain(CG_FLOAT32, a, b, out);
    unsigned int after = _mm_getcsr();
    if (before & watched) _mm_setcsr(after | (before & watched));
    return (after & watched) != 0;
}
#endif

static void gemm_f32(const matrix *a, const matrix *b, float *out) {
    int64_t M = a->rows, K = a->cols, N = b->cols, work = M * N * K;
#ifdef FLUSH_WATCH
    if (work <= ONE_THREAD_WORK || cg_get_num_threads() == 1) {
        int64_t cheap = work / SCAN_SHARE > SCAN_MIN ? work / SCAN_SHARE : SCAN_MIN;
        if (work <= SMALL_WORK ? met_subnormals_small(a, b, out)
                               : (M * K <= cheap && holds_subnormal(a)) || (K * N <= cheap && holds_subnormal(b)) ||
                                     met_subnormals(a, b, out))
            gemm_f32_near_subnormal(a, b, out);
        return;
    }
#endif
    float la = least_magnitude(a), lb = least_magnitude(b);
    if (la != 0 && lb != 0 && (la < FLT_MIN || lb < FLT_MIN || (double)la * lb < FLT_MIN))
        gemm_f32_near_subnormal(a, b, out);
    else
        gemm_plain(CG_FLOAT32, a, b, out);
}

/* When a repeats one row (stride 0 down it), every row of out is the same,
 * and when b repeats one column, every column: the gradient that reaches a
 * product from its .sum() is such an expanded tensor. One row (column) of
 * out is computed, from the same products, and copied: M (N) times less
 * work, and BLAS is not handed a copy of the expanded operand. */
static bool repeated_product(cg_dtype dtype, const matrix *a, const matrix *b, char *out) {
    int64_t M = a->rows, N = b->cols, isz = cg_dtype_size(dtype);
    if (a->cols == 0) return false;
    if (M > 1 && a->rs == 0) {
        matrix row = *a;
        row.rows = 1;
        gemm(dtype, &row, b, out);
        for (int64_t i = 1; i < M; i++) memcpy(out + i * N * isz, out, (size_t)(N * isz));
        return true;
    }
    if (N < 2 || b->cs != 0) return false;
    matrix col = *b;
    col.cols = 1;
    char *sums = malloc((size_t)(M * isz) + 1);
    if (!sums) return false;
    gemm(dtype, a, &col, sums);
    for (int64_t i = 0; i < M; i++) {
        char *o = out + i * N * isz;
        if (isz == 4)
            for (int64_t j = 0; j < N; j++) ((uint32_t *)o)[j] = ((const uint32_t *)sums)[i];
        else
            for (int64_t j = 0; j < N; j++) ((uint64_t *)o)[j] = ((const uint64_t *)sums)[i];
    }
    free(sums);
    return true;
}

/* out (contiguous M x N) = a @ b */
static void gemm(cg_dtype dtype, const matrix *a, const matrix *b, void *out) {
    if ((a->rs == 0 || b->cs == 0) && repeated_product(dtype, a, b, out)) return;
    if (dtype == CG_FLOAT32)
        gemm_f32(a, b, out);
    else
        gemm_plain(dtype, a, b, out);
}

/* out = a @ b, by BLAS or by the loops above */
static void gemm_plain(cg_dtype dtype, const matrix *a, const matrix *b, void *out) {
    bool big = a->rows * b->cols * a->cols >= BLAS_MIN_WORK && a->rows <= INT32_MAX &&
               b->cols <= INT32_MAX && a->cols <= INT32_MAX;
    if (dtype != CG_INT64 && big && try_blas(dtype, a, b, out)) return;
#ifdef HAVE_GEMM_512
    if (cpu_has_512() && dtype != CG_INT64 && in_lanes(a->rows, a->cols, b->cols, a->rs) && a->cs == 1 &&
        b->rs == 1) { /* the naive loop's dots, on dense operands */
        if (dtype == CG_FLOAT32)
            dot_512_f32(a, b, out);
        else
            dot_512_f64(a, b, out);
        return;
    }
    if (cpu_has_512() && dtype != CG_INT64 && b->cols > 1 && b->cs == 1) {
        if (dtype == CG_FLOAT32)
            gemm_512_f32(a, b, out);
        else
            gemm_512_f64(a, b, out);
        return;
    }
#endif
    if (dtype == CG_FLOAT32)
        gemm_naive_f32(a, b, out);
    else if (dtype == CG_FLOAT64)
        gemm_naive_f64(a, b, out);
    else
        gemm_naive_i64(a, b, out);
}

static matrix matrix_of(const cg_tensor *t, int64_t batch_offset) {
    int d = t->ndim;
    matrix m = {cg_ptr(t) + batch_offset * cg_dtype_size((cg_dtype)t->dtype), t->shape[d - 2], t->shape[d - 1],
                t->strides[d - 2], t->strides[d - 1]};
    return m;
}

enum { MM, BMM, MV, DOT };

/* out = a @ b for the kind of product in i[0] (t = {out, a, b}). */
static int product_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *a = k->t[1], *b = k->t[2];
    cg_dtype dtype = (cg_dtype)a->dtype;
    matrix ma, mb;
    switch (k->i[0]) {
    case MM:
        ma = matrix_of(a, 0), mb = matrix_of(b, 0);
        break;
    case BMM:
        for (int64_t i = 0; i < a->shape[0]; i++) {
            ma = matrix_of(a, i * a->strides[0]), mb = matrix_of(b, i * b->strides[0]);
            gemm(dtype, &ma, &mb, (char *)out->storage->data + i * out->shape[1] * out->shape[2] * cg_dtype_size(dtype));
        }
        return 0;
    case MV:
        ma = matrix_of(a, 0), mb = (matrix){cg_ptr(b), b->shape[0], 1, b->strides[0], 1};
        break;
    default:
        ma = (matrix){cg_ptr(a), 1, a->shape[0], a->shape[0], a->strides[0]};
        mb = (matrix){cg_ptr(b), b->shape[0], 1, b->strides[0], 1};
    }
    gemm(dtype, &ma, &mb, out->storage->data);
    return 0;
}

static void product(int kind, cg_tensor *out, cg_tensor *a, cg_tensor *b) {
    cg_kernel(product_kernel, &(cg_kargs){.name = "a matrix product", .t = {out, a, b}, .nw = 1, .i = {kind}});
}

/* ---- checks ------------------------------------------------------------------------ */

/* PyTorch's checks that a product of the kind (MM, BMM, MV, DOT) can take
 * a's and b's dtypes, each kernel's in its words. */
static int check_dtypes(const cg_tensor *a, const cg_tensor *b, int kind) {
    static const char *cpp_names[] = {"float", "double", "long int", "bool"};
    static const char *kernels[] = {"addmm_impl_cpu_", "bmm", "addmv_impl_cpu", "dot"};
    const char *na = cg_dtype_torch_name((cg_dtype)a->dtype), *nb = cg_dtype_torch_name((cg_dtype)b->dtype);
    if (a->dtype != b->dtype && kind == MM)
        cg_error_set(CG_ERR_RUNTIME, "expected m1 and m2 to have the same dtype, but got: %s != %s",
                     cpp_names[a->dtype], cpp_names[b->dtype]);
    else if (a->dtype != b->dtype && kind == BMM)
        cg_error_set(CG_ERR_RUNTIME, "expected scalar type %s but found %s", na, nb);
    else if (a->dtype != b->dtype && kind == MV) /* the result takes the vector's dtype */
        cg_error_set(CG_ERR_RUNTIME, "addmv input tensors must have the same dtype, but got %s, %s, and %s", nb, na,
                     nb);
    else if (a->dtype != b->dtype)
        cg_error_set(CG_ERR_RUNTIME, "dot : expected both vectors to have same dtype, but found %s and %s", na, nb);
    else if (a->dtype == CG_BOOL)
        cg_error_set(CG_ERR_NOTIMPL, "\"%s\" not implemented for 'Bool'", kernels[kind]);
    else
        return 0;
    return -1;
}

/* In PyTorch's words: mm and bmm name the operand, addmm its dims too (got_dims) */
static int check_ndim(const cg_tensor *t, int want, const char *what, bool got_dims) {
    if (t->ndim != want) {
        const char *kind = want == 2 ? "matrix" : "3D tensor";
        if (got_dims)
            cg_error_set(CG_ERR_RUNTIME, "%s must be a %s, got %d-D tensor", what, kind, t->ndim);
        else
            cg_error_set(CG_ERR_RUNTIME, "%s must be a %s", what, kind);
        return -1;
    }
    return 0;
}

/* ---- recording ----------------------------------------------------------------------- */

/* A product's node saves a when b needs a gradient, and b when a does. */
static cg_tensor *record_product(const cg_op *op, cg_tensor *out, cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    if (!out || !cg_any_requires_grad(ins, 2)) return out;
    cg_node *n = cg_node_new(op, ins, 2, 1);
    if (!n || (b->requires_grad && cg_save(n, 0, a, false)) || (a->requires_grad && cg_save(n, 1, b, false))) {
        cg_tensor_release(out);
        cg_node_release(n);
        return NULL;
    }
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* fn(x, y) with x or y replaced by a saved tensor (slot >= 0) or used as is. */
static cg_tensor *apply_saved(cg_tensor *(*fn)(cg_tensor *, cg_tensor *), cg_node *n, int slot,
                              cg_tensor *other, bool saved_first, bool transpose_saved) {
    cg_tensor *s = cg_unpack(n, slot);
    cg_tensor *t = s && transpose_saved ? cg_mT(s) : s;
    if (t && transpose_saved) cg_tensor_release(s);
    cg_tensor *r = t ? (saved_first ? fn(t, other) : fn(other, t)) : NULL;
    cg_tensor_release(t);
    return r;
}

/* ---- mm / bmm ----------------------------------------------------------------------------- */

static int mm_like_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin,
                            cg_tensor *(*fn)(cg_tensor *, cg_tensor *)) {
    /* d(a@b)/da = g @ b^T, d(a@b)/db = a^T @ g */
    if (cg_wants(n, 0) && !(gin[0] = apply_saved(fn, n, 1, gout[0], false, true))) return -1;
    if (cg_wants(n, 1) && !(gin[1] = apply_saved(fn, n, 0, gout[0], true, true))) return -1;
    return 0;
}

static int mm_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    return mm_like_backward(n, gout, gin, cg_mm);
}
static const cg_op mm_op = {"MmBackward0", mm_backward, NULL};

cg_tensor *cg_mm(cg_tensor *a, cg_tensor *b) {
    if (check_ndim(a, 2, "self", false) || check_ndim(b, 2, "mat2", false) || check_dtypes(a, b, MM)) return NULL;
    if (a->shape[1] != b->shape[0]) {
        cg_error_set(CG_ERR_RUNTIME, "mat1 and mat2 shapes cannot be multiplied (%lldx%lld and %lldx%lld)",
                     (long long)a->shape[0], (long long)a->shape[1], (long long)b->shape[0],
                     (long long)b->shape[1]);
        return NULL;
    }
    int64_t shape[2] = {a->shape[0], b->shape[1]};
    cg_tensor *out = cg_empty(shape, 2, (cg_dtype)a->dtype);
    if (!out) return NULL;
    product(MM, out, a, b);
    return record_product(&mm_op, out, a, b);
}

static int bmm_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    return mm_like_backward(n, gout, gin, cg_bmm);
}
static const cg_op bmm_op = {"BmmBackward0", bmm_backward, NULL};

cg_tensor *cg_bmm(cg_tensor *a, cg_tensor *b) {
    if (check_ndim(a, 3, "batch1", false) || check_ndim(b, 3, "batch2", false) || check_dtypes(a, b, BMM)) return NULL;
    if (b->shape[0] != a->shape[0] || b->shape[1] != a->shape[2]) {
        cg_error_set(CG_ERR_RUNTIME,
                     "Expected size for first two dimensions of batch2 tensor to be: [%lld, %lld] but got: "
                     "[%lld, %lld].",
                     (long long)a->shape[0], (long long)a->shape[2], (long long)b->shape[0],
                     (long long)b->shape[1]);
        return NULL;
    }
    int64_t B = a->shape[0], M = a->shape[1], N = b->shape[2];
    int64_t shape[3] = {B, M, N};
    cg_tensor *out = cg_empty(shape, 3, (cg_dtype)a->dtype);
    if (!out) return NULL;
    product(BMM, out, a, b);
    return record_product(&bmm_op, out, a, b);
}

/* ---- addmm / baddbmm ---------------------------------------------------------------------- */

/* beta * input + alpha * (a @ b), input broadcast to the product's shape. As
 * PyTorch: the numbers are truncated to integers for int64 operands; input's
 * values (NaN too) are not read when beta is 0, nor addmm's product when
 * alpha is 0 (baddbmm's is: NaN * 0 is NaN). The node keeps beta in f[0] and
 * alpha in f[1]; it saves a when b needs a gradient and b when a does. */

static cg_tensor *times(cg_tensor *t, double v) {
    cg_tensor *k = cg_scalar_tensor(v, t->dtype == CG_INT64 ? CG_INT64 : CG_FLOAT64, t);
    cg_tensor *r = k ? cg_mul(t, k) : NULL;
    cg_tensor_release(k);
    return r;
}

/* t * v, or t itself (a new reference) when v is 1: PyTorch's maybe_multiply */
static cg_tensor *maybe_times(cg_tensor *t, double v) {
    if (!t) return NULL;
    if (v != 1) return times(t, v);
    cg_tensor_retain(t);
    return t;
}

/* beta * input + alpha * product over a product that has been checked, with
 * grad mode off; product (a @ b) is NULL when it is not to be read. */
static cg_tensor *scaled_sum(cg_tensor *input, const int64_t *shape, int nd, cg_tensor *product, double beta,
                             double alpha) {
    cg_tensor *in = cg_expand(input, shape, nd);
    if (!in) return NULL;
    cg_tensor *p = product ? maybe_times(product, alpha) : NULL, *out = NULL;
    if (product && !p) {
        cg_tensor_release(in);
        return NULL;
    }
    if (beta == 0) {
        out = p ? (cg_tensor_retain(p), p) : cg_zeros(shape, nd, (cg_dtype)input->dtype);
    } else {
        cg_tensor *bi = beta == 1 ? (cg_tensor_retain(in), in) : times(in, beta);
        out = !bi ? NULL : p ? cg_add(bi, p) : cg_clone(bi);
        cg_tensor_release(bi);
    }
    cg_tensor_release(in);
    cg_tensor_release(p);
    return out;
}

static int addmm_like_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin,
                               cg_tensor *(*fn)(cg_tensor *, cg_tensor *)) {
    /* d/dinput = beta, d/da = alpha g @ b^T, d/db = alpha a^T @ g */
    double beta = n->f[0], alpha = n->f[1];
    cg_tensor *g = gout[0], *t;
    if (cg_wants(n, 0) && !(gin[0] = cg_reduce_grad(n, 0, maybe_times(g, beta)))) return -1;
    if (cg_wants(n, 1)) {
        t = apply_saved(fn, n, 2, g, false, true);
        gin[1] = maybe_times(t, alpha);
        cg_tensor_release(t);
        if (!gin[1]) return -1;
    }
    if (cg_wants(n, 2)) {
        t = apply_saved(fn, n, 1, g, true, true);
        gin[2] = maybe_times(t, alpha);
        cg_tensor_release(t);
        if (!gin[2]) return -1;
    }
    return 0;
}

static int addmm_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    return addmm_like_backward(n, gout, gin, cg_mm);
}
static int baddbmm_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    return addmm_like_backward(n, gout, gin, cg_bmm);
}
static const cg_op addmm_op = {"AddmmBackward0", addmm_backward, NULL};
static const cg_op baddbmm_op = {"BaddbmmBackward0", baddbmm_backward, NULL};

static cg_tensor *record_addmm(const cg_op *op, cg_tensor *out, cg_tensor *input, cg_tensor *a, cg_tensor *b,
                               double beta, double alpha) {
    cg_tensor *ins[3] = {input, a, b};
    if (!out || !cg_any_requires_grad(ins, 3)) return out;
    cg_node *n = cg_node_new(op, ins, 3, 1);
    if (!n || (b->requires_grad && cg_save(n, 1, a, false)) || (a->requires_grad && cg_save(n, 2, b, false))) {
        cg_tensor_release(out);
        cg_node_release(n);
        return NULL;
    }
    n->f[0] = beta, n->f[1] = alpha;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* beta and alpha as the kernel reads them: integers for int64 operands */
static void scalars_for(cg_dtype d, double *beta, double *alpha) {
    if (d != CG_INT64) return;
    *beta = (double)(int64_t)*beta;
    *alpha = (double)(int64_t)*alpha;
}

static int check_addmm(const cg_tensor *input, const cg_tensor *a, const cg_tensor *b) {
    if (check_ndim(a, 2, "mat1", true) || check_ndim(b, 2, "mat2", true)) return -1;
    if (input->dtype != b->dtype || a->dtype != b->dtype) { /* input first, as PyTorch */
        bool self = input->dtype != b->dtype;
        cg_error_set(CG_ERR_RUNTIME, "%s and mat2 must have the same dtype, but got %s and %s", self ? "self" : "mat1",
                     cg_dtype_torch_name((cg_dtype)(self ? input->dtype : a->dtype)),
                     cg_dtype_torch_name((cg_dtype)b->dtype));
        return -1;
    }
    if (a->dtype == CG_BOOL) {
        cg_error_set(CG_ERR_NOTIMPL, "\"addmm_impl_cpu_\" not implemented for 'Bool'");
        return -1;
    }
    if (a->shape[1] != b->shape[0]) {
        cg_error_set(CG_ERR_RUNTIME, "mat1 and mat2 shapes cannot be multiplied (%lldx%lld and %lldx%lld)",
                     (long long)a->shape[0], (long long)a->shape[1], (long long)b->shape[0],
                     (long long)b->shape[1]);
        return -1;
    }
    return 0;
}

cg_tensor *cg_addmm(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha) {
    if (check_addmm(input, a, b)) return NULL;
    scalars_for((cg_dtype)a->dtype, &beta, &alpha);
    int64_t shape[2] = {a->shape[0], b->shape[1]};
    int on = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    cg_tensor *p = alpha != 0 ? cg_mm(a, b) : NULL;
    cg_tensor *out = alpha == 0 || p ? scaled_sum(input, shape, 2, p, beta, alpha) : NULL;
    cg_set_grad_enabled(on);
    cg_tensor_release(p);
    return record_addmm(&addmm_op, out, input, a, b, beta, alpha);
}

/* t.size(dim) for baddbmm's target shape, with PyTorch's IndexErrors. */
static int size_at(const cg_tensor *t, int64_t dim, int64_t *out) {
    if (t->ndim == 0) {
        cg_error_set(CG_ERR_INDEX, "Dimension specified as %lld but tensor has no dimensions", (long long)dim);
        return -1;
    }
    int64_t d;
    if (cg_wrap_dim(dim, t->ndim, &d)) return -1;
    *out = t->shape[d];
    return 0;
}

static int check_baddbmm(const cg_tensor *input, const cg_tensor *a, const cg_tensor *b) {
    if (a->ndim != 3 || b->ndim != 3) {
        cg_error_set(CG_ERR_RUNTIME, "%s must be a 3D tensor", a->ndim != 3 ? "batch1" : "batch2");
        return -1;
    }
    if (input->dtype != a->dtype) {
        cg_error_set(CG_ERR_RUNTIME, "Input dtypes must be the same, got: input %s, batch1: %s, batch2: %s",
                     cg_dtype_c_name((cg_dtype)input->dtype), cg_dtype_c_name((cg_dtype)a->dtype),
                     cg_dtype_c_name((cg_dtype)b->dtype));
        return -1;
    }
    if (a->dtype != b->dtype) {
        cg_error_set(CG_ERR_RUNTIME, "expected scalar type %s but found %s", cg_dtype_torch_name((cg_dtype)a->dtype),
                     cg_dtype_torch_name((cg_dtype)b->dtype));
        return -1;
    }
    if (a->dtype == CG_BOOL) {
        cg_error_set(CG_ERR_NOTIMPL, "\"baddbmm\" not implemented for 'Bool'");
        return -1;
    }
    return 0;
}

cg_tensor *cg_baddbmm(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha) {
    int64_t shape[3];
    if (size_at(a, 0, &shape[0]) || size_at(a, 1, &shape[1]) || size_at(b, 2, &shape[2])) return NULL;
    scalars_for((cg_dtype)a->dtype, &beta, &alpha);
    int on = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    cg_tensor *in = cg_expand(input, shape, 3), *p = NULL, *out = NULL; /* PyTorch checks input's shape first */
    if (in && !check_baddbmm(input, a, b) && (p = cg_bmm(a, b))) out = scaled_sum(input, shape, 3, p, beta, alpha);
    cg_set_grad_enabled(on);
    cg_tensor_release(in);
    cg_tensor_release(p);
    return record_addmm(&baddbmm_op, out, input, a, b, beta, alpha);
}

/* ---- mv / dot ------------------------------------------------------------------------------- */

static cg_tensor *outer_mul(cg_tensor *g, cg_tensor *v) {
    cg_tensor *gc = cg_unsqueeze(g, 1);
    cg_tensor *r = gc ? cg_mul(gc, v) : NULL;
    cg_tensor_release(gc);
    return r;
}

static int mv_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(A@v)/dA = g v^T (an outer product), d(A@v)/dv = A^T @ g */
    if (cg_wants(n, 0) && !(gin[0] = apply_saved(outer_mul, n, 1, gout[0], false, false))) return -1;
    if (cg_wants(n, 1) && !(gin[1] = apply_saved(cg_mv, n, 0, gout[0], true, true))) return -1;
    return 0;
}
static const cg_op mv_op = {"MvBackward0", mv_backward, NULL};

cg_tensor *cg_mv(cg_tensor *a, cg_tensor *v) {
    if (a->ndim != 2 || v->ndim != 1) { /* PyTorch's mv is addmv to a vector of zeros: 1 dim */
        cg_error_set(CG_ERR_RUNTIME, "vector + matrix @ vector expected, got 1, %d, %d", a->ndim, v->ndim);
        return NULL;
    }
    if (check_dtypes(a, v, MV)) return NULL;
    if (a->shape[1] != v->shape[0]) {
        cg_error_set(CG_ERR_RUNTIME, "size mismatch, got input (%lld), mat (%lldx%lld), vec (%lld)",
                     (long long)a->shape[0], (long long)a->shape[0], (long long)a->shape[1],
                     (long long)v->shape[0]);
        return NULL;
    }
    cg_tensor *out = cg_empty(a->shape, 1, (cg_dtype)a->dtype);
    if (!out) return NULL;
    product(MV, out, a, v);
    return record_product(&mv_op, out, a, v);
}

static int dot_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(a.b)/da = g b, d(a.b)/db = g a */
    if (cg_wants(n, 0) && !(gin[0] = apply_saved(cg_mul, n, 1, gout[0], false, false))) return -1;
    if (cg_wants(n, 1) && !(gin[1] = apply_saved(cg_mul, n, 0, gout[0], false, false))) return -1;
    return 0;
}
static const cg_op dot_op = {"DotBackward0", dot_backward, NULL};
static const cg_op vdot_op = {"VdotBackward0", dot_backward, NULL}; /* real values: vdot is dot */

static cg_tensor *dot_as(const cg_op *op, cg_tensor *a, cg_tensor *b) {
    if (a->ndim != 1 || b->ndim != 1) {
        cg_error_set(CG_ERR_RUNTIME, "1D tensors expected, but got %dD and %dD tensors", a->ndim, b->ndim);
        return NULL;
    }
    if (check_dtypes(a, b, DOT)) return NULL;
    if (a->shape[0] != b->shape[0]) {
        cg_error_set(CG_ERR_RUNTIME,
                     "inconsistent tensor size, expected tensor [%lld] and src [%lld] to have the same number "
                     "of elements, but got %lld and %lld elements respectively",
                     (long long)a->shape[0], (long long)b->shape[0], (long long)a->shape[0], (long long)b->shape[0]);
        return NULL;
    }
    cg_tensor *out = cg_empty(NULL, 0, (cg_dtype)a->dtype);
    if (!out) return NULL;
    product(DOT, out, a, b);
    return record_product(op, out, a, b);
}

cg_tensor *cg_dot(cg_tensor *a, cg_tensor *b) { return dot_as(&dot_op, a, b); }
cg_tensor *cg_vdot(cg_tensor *a, cg_tensor *b) { return dot_as(&vdot_op, a, b); }

/* ---- addmv / addr / addbmm ------------------------------------------------------------------ */

/* beta * input + alpha * a product of two operands: addmv's mat @ vec, addr's
 * outer(vec1, vec2), addbmm's sum over the batch of batch1[i] @ batch2[i];
 * input is broadcast to the product's shape (its shape and the operands'
 * dtypes are checked by the Python layer). As addmm's nodes, each keeps beta
 * in f[0] and alpha in f[1] and saves the operand the other one's gradient
 * needs. As PyTorch, addmv and addbmm do not read the product when alpha is
 * 0; addr does (NaN * 0 is NaN). A bool addr is input | (vec1 & vec2), beta
 * and alpha taken as truth values. */

/* alpha * t (t itself when alpha is 1): a gradient of a product operand */
static cg_tensor *scaled_grad(cg_tensor *t, double alpha) {
    cg_tensor *r = maybe_times(t, alpha);
    cg_tensor_release(t);
    return r;
}

static int addmv_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dinput = beta, d/dmat = alpha g vec^T, d/dvec = alpha mat^T @ g */
    double beta = n->f[0], alpha = n->f[1];
    cg_tensor *g = gout[0];
    if (cg_wants(n, 0) && !(gin[0] = cg_reduce_grad(n, 0, maybe_times(g, beta)))) return -1;
    if (cg_wants(n, 1) && !(gin[1] = scaled_grad(apply_saved(outer_mul, n, 2, g, false, false), alpha))) return -1;
    if (cg_wants(n, 2) && !(gin[2] = scaled_grad(apply_saved(cg_mv, n, 1, g, true, true), alpha))) return -1;
    return 0;
}
static const cg_op addmv_op = {"AddmvBackward0", addmv_backward, NULL};

/* m^T @ v */
static cg_tensor *mv_transposed(cg_tensor *m, cg_tensor *v) {
    cg_tensor *mt = cg_mT(m);
    cg_tensor *r = mt ? cg_mv(mt, v) : NULL;
    cg_tensor_release(mt);
    return r;
}

static int addr_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dinput = beta, d/dvec1 = alpha g @ vec2, d/dvec2 = alpha g^T @ vec1 */
    double beta = n->f[0], alpha = n->f[1];
    cg_tensor *g = gout[0];
    if (cg_wants(n, 0) && !(gin[0] = cg_reduce_grad(n, 0, maybe_times(g, beta)))) return -1;
    if (cg_wants(n, 1) && !(gin[1] = scaled_grad(apply_saved(cg_mv, n, 2, g, false, false), alpha))) return -1;
    if (cg_wants(n, 2) && !(gin[2] = scaled_grad(apply_saved(mv_transposed, n, 1, g, false, false), alpha)))
        return -1;
    return 0;
}
static const cg_op addr_op = {"AddrBackward0", addr_backward, NULL};

/* g (M x N) repeated over batch1's batch: each batch1[i] @ batch2[i] gets all of it */
static cg_tensor *batched_grad(cg_node *n, cg_tensor *g) {
    int64_t shape[3] = {n->in_shape[1].d[0], g->shape[0], g->shape[1]};
    cg_tensor *u = cg_unsqueeze(g, 0);
    cg_tensor *e = u ? cg_expand(u, shape, 3) : NULL;
    cg_tensor_release(u);
    return e;
}

static int addbmm_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dinput = beta, d/dbatch1[i] = alpha g @ batch2[i]^T, d/dbatch2[i] = alpha batch1[i]^T @ g */
    double beta = n->f[0], alpha = n->f[1];
    if (cg_wants(n, 0) && !(gin[0] = cg_reduce_grad(n, 0, maybe_times(gout[0], beta)))) return -1;
    if (!cg_wants(n, 1) && !cg_wants(n, 2)) return 0;
    cg_tensor *g = batched_grad(n, gout[0]);
    int rc = g ? 0 : -1;
    if (!rc && cg_wants(n, 1) && !(gin[1] = scaled_grad(apply_saved(cg_bmm, n, 2, g, false, true), alpha))) rc = -1;
    if (!rc && cg_wants(n, 2) && !(gin[2] = scaled_grad(apply_saved(cg_bmm, n, 1, g, true, true), alpha))) rc = -1;
    cg_tensor_release(g);
    return rc;
}
static const cg_op addbmm_op = {"AddbmmBackward0", addbmm_backward, NULL};

/* scaled_sum(input, product) for addr; a bool one stays bool. */
static cg_tensor *addr_sum(cg_tensor *input, const int64_t *shape, cg_tensor *p, double beta, double alpha) {
    if (p->dtype != CG_BOOL || input->dtype != CG_BOOL) {
        scalars_for((cg_dtype)p->dtype, &beta, &alpha);
        return scaled_sum(input, shape, 2, p, beta, alpha);
    }
    return scaled_sum(input, shape, 2, alpha != 0 ? p : NULL, beta != 0, 1);
}

/* addr in floating point as PyTorch's kernel rounds it: fma(alpha v1[i],
 * v2[j], beta input[i, j]), one rounding for the product and the sum, or
 * (alpha v1[i]) v2[j] when beta is 0 (input is not read). Grad mode off. */
static cg_tensor *addr_fused(cg_tensor *input, const int64_t *shape, cg_tensor *v1, cg_tensor *v2, double beta,
                             double alpha) {
    cg_tensor *col = cg_unsqueeze(v1, 1), *out = NULL;
    if (col && beta == 0) {
        cg_tensor *scaled = maybe_times(col, alpha);
        out = scaled ? cg_mul(scaled, v2) : NULL;
        cg_tensor_release(scaled);
    } else if (col) {
        cg_tensor *in = cg_expand(input, shape, 2);
        cg_tensor *bi = maybe_times(in, beta);
        out = bi ? cg_addcmul(bi, col, v2, alpha) : NULL;
        cg_tensor_release(in);
        cg_tensor_release(bi);
    }
    cg_tensor_release(col);
    return out;
}

/* The forward of addmv (kind MV), addr (DOT: an outer product of vectors) or
 * addbmm (BMM), with grad mode off; beta and alpha as the kernel reads them. */
static cg_tensor *scaled_forward(int kind, cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha) {
    int64_t shape[2] = {a->shape[kind == BMM], kind == MV ? 0 : b->shape[kind == BMM ? 2 : 0]};
    int nd = kind == MV ? 1 : 2, on = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    cg_tensor *p = NULL, *out = NULL;
    if (kind == DOT && alpha != 0 && cg_dtype_is_floating(cg_result_type(a, b)) && input->dtype == a->dtype &&
        a->dtype == b->dtype) {
        out = addr_fused(input, shape, a, b, beta, alpha);
    } else if (kind == DOT) {
        p = outer_mul(a, b);
    } else if (alpha != 0) {
        int64_t dim0 = 0;
        cg_tensor *bp = kind == MV ? NULL : cg_bmm(a, b);
        p = kind == MV ? cg_mv(a, b) : bp ? cg_sum(bp, &dim0, 1, 0) : NULL;
        cg_tensor_release(bp);
    }
    if (!out && (p || (kind != DOT && alpha == 0)))
        out = kind == DOT ? addr_sum(input, shape, p, beta, alpha) : scaled_sum(input, shape, nd, p, beta, alpha);
    cg_set_grad_enabled(on);
    cg_tensor_release(p);
    return out;
}

static const cg_op *scaled_op(int kind) { return kind == MV ? &addmv_op : kind == DOT ? &addr_op : &addbmm_op; }

static cg_tensor *scaled_product(int kind, cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha) {
    if (kind != DOT) scalars_for((cg_dtype)a->dtype, &beta, &alpha);
    cg_tensor *out = scaled_forward(kind, input, a, b, beta, alpha);
    return record_addmm(scaled_op(kind), out, input, a, b, beta, alpha);
}

typedef cg_tensor *(*scaled_fn)(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha);

/* input = fn(input, a, b, beta, alpha) in place, for addmm, baddbmm, addmv,
 * addr and addbmm: computed out of place on a snapshot of input (which
 * carries its history), written back, and its node made input's history
 * (inplace.c). The result may not be larger than input, nor of a dtype input
 * cannot hold (addr promotes), as PyTorch. */
static cg_tensor *scaled_product_(scaled_fn fn, cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta,
                                  double alpha) {
    cg_tensor *ins[3] = {input, a, b};
    cg_inplace ip;
    if (cg_inplace_begin(&ip, input, ins, 3)) return NULL;
    cg_tensor *src = cg_inplace_source(&ip);
    cg_tensor *r = src ? fn(src, a, b, beta, alpha) : NULL;
    bool ok = r != NULL;
    if (ok && !cg_shape_eq(r->shape, r->ndim, input->shape, input->ndim)) {
        char want[128], got[128];
        cg_shape_str(input->shape, input->ndim, want, sizeof want);
        cg_shape_str(r->shape, r->ndim, got, sizeof got);
        cg_error_set(CG_ERR_RUNTIME, "Bad in-place call: input tensor size %s and output tensor size %s should match",
                     want, got);
        ok = false;
    }
    if (ok && (cg_dtype_is_floating((cg_dtype)r->dtype) ? !cg_dtype_is_floating((cg_dtype)input->dtype)
                                                         : r->dtype == CG_INT64 && input->dtype == CG_BOOL)) {
        cg_error_set(CG_ERR_RUNTIME, "result type %s can't be cast to the desired output type %s",
                     cg_dtype_torch_name((cg_dtype)r->dtype), cg_dtype_torch_name((cg_dtype)input->dtype));
        ok = false;
    }
    if (!ok) {
        cg_tensor_release(r);
        r = NULL;
    }
    cg_tensor_release(src);
    return cg_inplace_take(&ip, r);
}

cg_tensor *cg_addmv(cg_tensor *input, cg_tensor *mat, cg_tensor *vec, double beta, double alpha) {
    return scaled_product(MV, input, mat, vec, beta, alpha);
}
cg_tensor *cg_addr(cg_tensor *input, cg_tensor *vec1, cg_tensor *vec2, double beta, double alpha) {
    return scaled_product(DOT, input, vec1, vec2, beta, alpha);
}
cg_tensor *cg_addbmm(cg_tensor *input, cg_tensor *batch1, cg_tensor *batch2, double beta, double alpha) {
    return scaled_product(BMM, input, batch1, batch2, beta, alpha);
}
cg_tensor *cg_addmm_(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha) {
    return scaled_product_(cg_addmm, input, a, b, beta, alpha);
}
cg_tensor *cg_baddbmm_(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha) {
    return scaled_product_(cg_baddbmm, input, a, b, beta, alpha);
}
cg_tensor *cg_addmv_(cg_tensor *input, cg_tensor *mat, cg_tensor *vec, double beta, double alpha) {
    return scaled_product_(cg_addmv, input, mat, vec, beta, alpha);
}
cg_tensor *cg_addr_(cg_tensor *input, cg_tensor *vec1, cg_tensor *vec2, double beta, double alpha) {
    return scaled_product_(cg_addr, input, vec1, vec2, beta, alpha);
}
cg_tensor *cg_addbmm_(cg_tensor *input, cg_tensor *batch1, cg_tensor *batch2, double beta, double alpha) {
    return scaled_product_(cg_addbmm, input, batch1, batch2, beta, alpha);
}

/* ---- kron ------------------------------------------------------------------------------------ */

/* The shapes sa, sb under which a and b (of shapes na, nb, nd dims each)
 * multiply, broadcasting, into kron's elements in order: (na_0, nb_0, na_1,
 * nb_1, ...) with a's dims 1 in sb and b's 1 in sa, dropping the dims of
 * size 1 and merging neighbours of the same operand. Their length, or -1
 * when more than CG_MAX_DIMS remain. */
static int kron_shapes(const int64_t *na, const int64_t *nb, int nd, int64_t *sa, int64_t *sb) {
    int len = 0, last = -1; /* which operand the last dim is a's (0) or b's (1) */
    for (int d = 0; d < nd; d++)
        for (int k = 0; k < 2; k++) {
            int64_t n = k ? nb[d] : na[d];
            if (n == 1) continue;
            if (last == k) {
                (k ? sb : sa)[len - 1] *= n;
                continue;
            }
            if (len == CG_MAX_DIMS) return -1;
            sa[len] = k ? 1 : n, sb[len] = k ? n : 1, last = k, len++;
        }
    return len;
}

/* The int64 index of length n * m that repeats each of n rows m times in a
 * row (k -> k / m), or with tile the n rows over and over (k -> k % n) */
static cg_tensor *kron_index(int64_t n, int64_t m, bool tile) {
    int64_t len = n * m;
    cg_tensor *t = cg_empty(&len, 1, CG_INT64);
    for (int64_t i = 0; t && i < len; i++) ((int64_t *)t->storage->data)[i] = tile ? i % n : i / m;
    return t;
}

/* x.index_select(d, index), x released; NULL if either is */
static cg_tensor *select_take(cg_tensor *x, int d, cg_tensor *index) {
    cg_tensor *r = x && index ? cg_index_select(x, d, index) : NULL;
    cg_tensor_release(x);
    cg_tensor_release(index);
    return r;
}

/* kron's two factors when their product needs more than CG_MAX_DIMS dims:
 * a and b of shapes na, nb with each dim that both span spread over the
 * result's (a's rows repeated, b's tiled), so they multiply in nd dims. */
static int kron_spread(cg_tensor *a, cg_tensor *b, const int64_t *na, const int64_t *nb, int nd, cg_tensor **fa,
                       cg_tensor **fb) {
    *fa = cg_unsafe_view(a, na, nd), *fb = cg_unsafe_view(b, nb, nd);
    for (int d = 0; d < nd && *fa && *fb; d++) {
        if (na[d] == 1 || nb[d] == 1) continue; /* broadcasting does it */
        *fa = select_take(*fa, d, kron_index(na[d], nb[d], false));
        *fb = select_take(*fb, d, kron_index(nb[d], na[d], true));
    }
    return *fa && *fb ? 0 : -1;
}

/* out[i * b.shape + j] = a[i] * b[j]: a as (a0, 1, a1, 1, ...) times b as
 * (1, b0, 1, b1, ...), the shorter shape padded with leading 1s, then folded;
 * the reshapes are unsafe views, as PyTorch's (UnsafeViewBackward0). */
cg_tensor *cg_kron(cg_tensor *a, cg_tensor *b) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t na[CG_MAX_DIMS], nb[CG_MAX_DIMS], sa[CG_MAX_DIMS], sb[CG_MAX_DIMS], out_shape[CG_MAX_DIMS];
    for (int d = 0; d < nd; d++) {
        int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
        na[d] = da >= 0 ? a->shape[da] : 1, nb[d] = db >= 0 ? b->shape[db] : 1;
        out_shape[d] = na[d] * nb[d];
    }
    int len = kron_shapes(na, nb, nd, sa, sb);
    cg_tensor *ea = NULL, *eb = NULL;
    if (len >= 0) {
        ea = cg_unsafe_view(a, sa, len);
        eb = ea ? cg_unsafe_view(b, sb, len) : NULL;
    } else {
        kron_spread(a, b, na, nb, nd, &ea, &eb);
    }
    cg_tensor *p = ea && eb ? cg_mul(ea, eb) : NULL;
    cg_tensor *out = p ? cg_unsafe_view(p, out_shape, nd) : NULL;
    cg_tensor_release(ea);
    cg_tensor_release(eb);
    cg_tensor_release(p);
    return out;
}

/* ---- cross --------------------------------------------------------------------------------- */

/* a x b along dim: with r(x, k) = x rolled k places back along dim (r(x, 1)[i] = x[i + 1 mod 3]),
 * a x b = r(a, 1) r(b, 2) - r(a, 2) r(b, 1), rounded as PyTorch's kernel is: the second
 * product alone, then the first one fused with the difference. */
static cg_tensor *cross_raw(cg_tensor *a, cg_tensor *b, int64_t dim) {
    int64_t back1 = -1, back2 = -2;
    cg_tensor *a1 = cg_roll(a, &back1, &dim, 1), *a2 = cg_roll(a, &back2, &dim, 1);
    cg_tensor *b1 = cg_roll(b, &back1, &dim, 1), *b2 = cg_roll(b, &back2, &dim, 1);
    cg_tensor *q = a2 && b1 ? cg_mul(a2, b1) : NULL, *nq = q ? cg_neg(q) : NULL;
    cg_tensor *out = nq && a1 && b2 ? cg_addcmul(nq, a1, b2, 1.0) : NULL;
    cg_tensor *tmp[6] = {a1, a2, b1, b2, q, nq};
    for (int k = 0; k < 6; k++) cg_tensor_release(tmp[k]);
    return out;
}

static int cross_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(a x b)/da applied to g: b x g; d(a x b)/db: g x a (dim in i[0]) */
    int64_t dim = n->i[0];
    for (int k = 0; k < 2; k++) {
        if (!cg_wants(n, k)) continue;
        cg_tensor *other = cg_unpack(n, 1 - k);
        cg_tensor *r = other ? (k == 0 ? cg_cross(other, gout[0], dim) : cg_cross(gout[0], other, dim)) : NULL;
        cg_tensor_release(other);
        if (!(gin[k] = r ? cg_reduce_grad(n, k, r) : NULL)) return -1;
    }
    return 0;
}
static const cg_op cross_op = {"LinalgCrossBackward0", cross_backward, NULL};

/* PyTorch's checks, in its order; *d gets dim made non-negative. */
static int check_cross(const cg_tensor *a, const cg_tensor *b, int64_t dim, int64_t *d) {
    if (a->ndim != b->ndim) {
        cg_error_set(CG_ERR_RUNTIME, "linalg.cross: inputs must have the same number of dimensions.");
        return -1;
    }
    if (a->ndim == 0) {
        cg_error_set(CG_ERR_INDEX, "Dimension specified as %lld but tensor has no dimensions", (long long)dim);
        return -1;
    }
    if (cg_wrap_dim(dim, a->ndim, d)) return -1;
    if (a->shape[*d] != 3 || b->shape[*d] != 3) {
        cg_error_set(CG_ERR_RUNTIME, "linalg.cross: inputs dimension %lld must have length 3. Got %lld and %lld",
                     (long long)dim, (long long)a->shape[*d], (long long)b->shape[*d]);
        return -1;
    }
    int64_t shape[CG_MAX_DIMS];
    int nd;
    if (cg_broadcast_shapes(a->shape, a->ndim, b->shape, b->ndim, shape, &nd)) return -1;
    if (a->dtype != b->dtype) {
        cg_error_set(CG_ERR_RUNTIME, "expected scalar type %s but found %s", cg_dtype_torch_name((cg_dtype)a->dtype),
                     cg_dtype_torch_name((cg_dtype)b->dtype));
        return -1;
    }
    if (a->dtype == CG_BOOL) {
        cg_error_set(CG_ERR_NOTIMPL, "\"cross\" not implemented for 'Bool'");
        return -1;
    }
    return 0;
}

cg_tensor *cg_cross(cg_tensor *a, cg_tensor *b, int64_t dim) {
    int64_t d;
    if (check_cross(a, b, dim, &d)) return NULL;
    int on = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    cg_tensor *out = cross_raw(a, b, d);
    cg_set_grad_enabled(on);
    out = record_product(&cross_op, out, a, b);
    if (out && out->grad_fn && out->grad_fn->op == &cross_op) out->grad_fn->i[0] = d;
    return out;
}

/* ---- matmul ------------------------------------------------------------------------------------- */

/* a (>= 3-D) @ b (1-D or 2-D): fold a's batch dims into rows. */
static cg_tensor *matmul_folded(cg_tensor *a, cg_tensor *b) {
    int64_t K = a->shape[a->ndim - 1];
    int64_t rows_shape[2] = {-1, K};
    int64_t out_shape[CG_MAX_DIMS];
    int nd = a->ndim - 1;
    memcpy(out_shape, a->shape, (size_t)nd * sizeof(int64_t));
    if (b->ndim == 2) out_shape[nd++] = b->shape[1];
    if (K == 0) rows_shape[0] = a->numel ? 0 : cg_shape_numel(a->shape, a->ndim - 1);
    cg_tensor *a2 = cg_reshape(a, rows_shape, 2);
    cg_tensor *r = a2 ? (b->ndim == 2 ? cg_mm(a2, b) : cg_mv(a2, b)) : NULL;
    cg_tensor *out = r ? cg_unsafe_view(r, out_shape, nd) : NULL;
    cg_tensor_release(a2);
    cg_tensor_release(r);
    return out;
}

/* Broadcast batch dims, then one bmm over the flattened batch. */
static cg_tensor *matmul_batched(cg_tensor *a, cg_tensor *b) {
    cg_tensor *a2 = a->ndim == 1 ? cg_unsqueeze(a, 0) : (cg_tensor_retain(a), a);
    cg_tensor *b2 = b->ndim == 1 ? cg_unsqueeze(b, -1) : (cg_tensor_retain(b), b);
    cg_tensor *a3 = NULL, *b3 = NULL, *r = NULL, *out = NULL;
    int64_t batch[CG_MAX_DIMS], sa[CG_MAX_DIMS], sb[CG_MAX_DIMS], out_shape[CG_MAX_DIMS];
    int nb;
    if (!a2 || !b2 || cg_broadcast_shapes(a2->shape, a2->ndim - 2, b2->shape, b2->ndim - 2, batch, &nb)) goto done;
    int64_t M = a2->shape[a2->ndim - 2], K = a2->shape[a2->ndim - 1], N = b2->shape[b2->ndim - 1];
    int64_t B = cg_shape_numel(batch, nb);
    memcpy(sa, batch, (size_t)nb * sizeof(int64_t));
    memcpy(sb, batch, (size_t)nb * sizeof(int64_t));
    sa[nb] = M, sa[nb + 1] = K;
    sb[nb] = b2->shape[b2->ndim - 2], sb[nb + 1] = N;
    cg_tensor *ea = cg_expand(a2, sa, nb + 2), *eb = ea ? cg_expand(b2, sb, nb + 2) : NULL;
    int64_t s3a[3] = {B, M, K}, s3b[3] = {B, sb[nb], N};
    a3 = eb ? cg_reshape(ea, s3a, 3) : NULL;
    b3 = a3 ? cg_reshape(eb, s3b, 3) : NULL;
    cg_tensor_release(ea);
    cg_tensor_release(eb);
    r = b3 ? cg_bmm(a3, b3) : NULL;
    if (!r) goto done;
    memcpy(out_shape, batch, (size_t)nb * sizeof(int64_t));
    int nd = nb;
    if (a->ndim > 1) out_shape[nd++] = M;
    if (b->ndim > 1) out_shape[nd++] = N;
    out = cg_unsafe_view(r, out_shape, nd);
done:
    cg_tensor_release(a2);
    cg_tensor_release(b2);
    cg_tensor_release(a3);
    cg_tensor_release(b3);
    cg_tensor_release(r);
    return out;
}

cg_tensor *cg_matmul(cg_tensor *a, cg_tensor *b) {
    int da = a->ndim, db = b->ndim;
    if (da == 0 || db == 0) {
        cg_error_set(CG_ERR_RUNTIME, "both arguments to matmul need to be at least 1D, but they are %dD and %dD",
                     da, db);
        return NULL;
    }
    /* the product torch's matmul folds into decides the error */
    int kind = da == 1 && db == 1 ? DOT : db == 1 ? MV : db == 2 ? MM : BMM;
    if (check_dtypes(a, b, kind)) return NULL;
    if (da == 1 && db == 1) return cg_dot(a, b);
    if (da == 2 && db == 1) return cg_mv(a, b);
    if (da == 2 && db == 2) return cg_mm(a, b);
    if (da == 1 && db == 2) {
        cg_tensor *u = cg_unsqueeze(a, 0);
        cg_tensor *m = u ? cg_mm(u, b) : NULL;
        cg_tensor *out = m ? cg_squeeze_matmul(m, 0) : NULL;
        cg_tensor_release(u);
        cg_tensor_release(m);
        return out;
    }
    if (da >= 3 && db <= 2) return matmul_folded(a, b);
    if (da == 2) { /* (b^T @ a^T)^T, folding b's batch into rows */
        cg_tensor *at = cg_mT(a), *bt = at ? cg_mT(b) : NULL;
        cg_tensor *p = bt ? matmul_folded(bt, at) : NULL;
        cg_tensor *pt = p ? cg_mT(p) : NULL;
        cg_tensor *out = pt ? cg_clone(pt) : NULL;
        cg_tensor_release(at);
        cg_tensor_release(bt);
        cg_tensor_release(p);
        cg_tensor_release(pt);
        return out;
    }
    return matmul_batched(a, b);
}
