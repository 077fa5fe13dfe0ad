/* vmath.c -- exp, log, tanh and sigmoid over arrays, written so the compiler
 * vectorises them.
 *
 * libm's scalar functions cost 10-30 ns an element; these are branch-free
 * (every lane computes the same instructions, special cases are selected at
 * the end) so GCC turns the loops into SIMD code, and each loop is compiled
 * three times: for AVX-512, for AVX2 with FMA and for plain x86-64, the
 * fastest the CPU has chosen at load time.
 * Accuracy: within 2 ulp of the correctly rounded result (tests compare with
 * numpy's libm over many values and every special case).
 *
 * Exp: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 split in a part
 * whose products with n are exact and a small remainder), exp(r) by its
 * Taylor polynomial, 2^n built in the exponent bits in two halves so that
 * subnormal results and 2^1024 overflow come out right.
 * Log: x = 2^e m with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s) with
 * s = (m-1)/(m+1), |s| < 0.172, by its odd series.
 * Tanh: e/(e+2) with e = expm1(2|x|), from exp's reduction: 2|x| = n ln2 + r,
 * e = 2^n expm1(r) + (2^n - 1), expm1(r) by its Taylor polynomial.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* No code here reads floating-point exception flags, so both sides of every
 * select may be computed: that is what lets the loops vectorise. And no
 * product and sum is fused but the explicit fmas, whatever the build's flags:
 * the builds for each width must round alike (FMA_CLONES). */
#pragma GCC optimize("no-trapping-math", "fp-contract=off")

static inline float f_from_bits(int32_t i) { float f; memcpy(&f, &i, 4); return f; }
static inline int32_t f_bits(float f) { int32_t i; memcpy(&i, &f, 4); return i; }
static inline double d_from_bits(int64_t i) { double d; memcpy(&d, &i, 8); return d; }
static inline int64_t d_bits(double d) { int64_t i; memcpy(&i, &d, 8); return i; }

/* ---- float32 -------------------------------------------------------------------- */

/* 1/k! for k = 0..8, and sum over k = lo..hi of r^(k-lo) / k!, by Horner:
 * exp's and expm1's Taylor polynomials */
static const float inv_fact_f32[] = {1.0f, 1.0f, 0.5f, 1.0f / 6.0f, 1.0f / 24.0f, 1.0f / 120.0f,
                                     1.0f / 720.0f, 1.0f / 5040.0f, 1.0f / 40320.0f};

static inline float taylor_f32(float r, int lo, int hi) {
    float p = inv_fact_f32[hi];
#pragma GCC unroll 16 /* a loop left in would keep the caller's loop from vectorising */
    for (int k = hi - 1; k >= lo; k--) p = fmaf(p, r, inv_fact_f32[k]);
    return p;
}

/* x = n ln2 + r with n integral and |r| <= ln2/2; n is returned, r set */
static inline float reduce_f32(float x, float *r) {
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (x * 1.44269504f + magic) - magic;
    *r = fmaf(n, 2.12194440e-4f, fmaf(n, -0.693359375f, x));
    return n;
}

static inline float exp_f32(float x) {
    float xc = x < -104.0f ? -104.0f : x > 89.0f ? 89.0f : x;
    float r, n = reduce_f32(xc, &r);
    float p = taylor_f32(r, 0, 7);
    int32_t ni = (int32_t)n, h = ni / 2;
    float y = p * f_from_bits((h + 127) << 23) * f_from_bits((ni - h + 127) << 23);
    return x != x ? x : y;
}

static inline float log_f32(float x) {
    int32_t bits = f_bits(x);
    /* scale subnormals into the normal range first */
    bool sub = x < 1.17549435e-38f;
    float xs = sub ? x * 16777216.0f : x;
    bits = f_bits(xs);
    int32_t e = ((bits >> 23) & 0xff) - 127 - (sub ? 24 : 0);
    float m = f_from_bits((bits & 0x007fffff) | 0x3f800000); /* [1, 2) */
    bool big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1 : e;
    float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    float p = 2.0f / 9.0f;
    p = fmaf(p, s2, 2.0f / 7.0f);
    p = fmaf(p, s2, 2.0f / 5.0f);
    p = fmaf(p, s2, 2.0f / 3.0f);
    p = fmaf(p, s2, 2.0f);
    float ef = (float)e;
    float y = (ef * -2.12194440e-4f + s * p) + ef * 0.693359375f;
    y = x == INFINITY ? x : y;
    y = x == 0.0f ? -INFINITY : y;
    return x < 0.0f || x != x ? NAN : y;
}

/* tanh(a) = expm1(2a) / (expm1(2a) + 2): one polynomial and one division.
 * expm1(t) = 2^n expm1(r) + (2^n - 1) with t = n ln2 + r has no
 * cancellation for t >= 0, the only side tanh needs. */
static inline float tanh_f32(float x) {
    float a = fabsf(x);
    float r, n = reduce_f32(2.0f * (a < 9.0f ? a : 9.0f), &r); /* tanh(9) rounds to 1 */
    float q = fmaf(taylor_f32(r, 2, 8) * r, r, r); /* expm1(r) */
    float s = f_from_bits(((int32_t)n + 127) << 23);
    float em1 = fmaf(s, q, s - 1.0f);
    float y = em1 / (em1 + 2.0f);
    y = f_bits(x) < 0 ? -y : y; /* the sign bit: tanh(-0) is -0 */
    return x != x ? x : y;
}

/* a NaN comes out as it went in, whatever the vector width */
static inline float sigmoid_f32(float x) { return x != x ? x : 1.0f / (1.0f + exp_f32(-x)); }

/* ---- float64 --------------------------------------------------------------------- */

/* as inv_fact_f32 and taylor_f32, for k = 0..14 */
static const double inv_fact_f64[] = {1.0, 1.0, 0.5, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0,
                                      1.0 / 5040.0, 1.0 / 40320.0, 1.0 / 362880.0, 1.0 / 3628800.0,
                                      1.0 / 39916800.0, 1.0 / 479001600.0, 1.0 / 6227020800.0,
                                      1.0 / 87178291200.0};

static inline double taylor_f64(double r, int lo, int hi) {
    double p = inv_fact_f64[hi];
#pragma GCC unroll 16 /* a loop left in would keep the caller's loop from vectorising */
    for (int k = hi - 1; k >= lo; k--) p = fma(p, r, inv_fact_f64[k]);
    return p;
}

#define MAGIC_F64 6755399441055744.0 /* 1.5 * 2^52: adding it rounds to an integer */

/* x = n ln2 + r with n integral and |r| <= ln2/2; n is returned, as an
 * int64 in *ni too, read from the bits of (n + magic): no int64 division,
 * shift or conversion, which plain x86-64 cannot do in vectors */
static inline double reduce_f64(double x, double *r, int64_t *ni) {
    double nm = x * 1.4426950408889634 + MAGIC_F64;
    double n = nm - MAGIC_F64;
    *ni = d_bits(nm) - d_bits(MAGIC_F64);
    *r = fma(n, -1.90821492927058770002e-10, fma(n, -6.93147180369123816490e-01, x));
    return n;
}

static inline double exp_f64(double x) {
    double xc = x < -746.0 ? -746.0 : x > 710.0 ? 710.0 : x;
    double r;
    int64_t ni;
    double n = reduce_f64(xc, &r, &ni);
    int64_t h = d_bits(n * 0.5 + MAGIC_F64) - d_bits(MAGIC_F64);
    double p = taylor_f64(r, 0, 13);
    double y = p * d_from_bits((h + 1023) << 52) * d_from_bits((ni - h + 1023) << 52);
    return x != x ? x : y;
}

static inline double log_f64(double x) {
    bool sub = x < 2.2250738585072014e-308;
    double xs = sub ? x * 18014398509481984.0 : x; /* 2^54 */
    int64_t bits = d_bits(xs);
    int64_t e = (int64_t)(((uint64_t)bits >> 52) & 0x7ff);
    double m = d_from_bits((bits & 0x000fffffffffffffLL) | 0x3ff0000000000000LL);
    bool big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    double ef = (d_from_bits(e + d_bits(MAGIC_F64)) - MAGIC_F64) - 1023.0 - (sub ? 54.0 : 0.0) + (big ? 1.0 : 0.0);
    double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double p = 2.0 / 25.0;
    p = fma(p, s2, 2.0 / 23.0);
    p = fma(p, s2, 2.0 / 21.0);
    p = fma(p, s2, 2.0 / 19.0);
    p = fma(p, s2, 2.0 / 17.0);
    p = fma(p, s2, 2.0 / 15.0);
    p = fma(p, s2, 2.0 / 13.0);
    p = fma(p, s2, 2.0 / 11.0);
    p = fma(p, s2, 2.0 / 9.0);
    p = fma(p, s2, 2.0 / 7.0);
    p = fma(p, s2, 2.0 / 5.0);
    p = fma(p, s2, 2.0 / 3.0);
    double y = (ef * 1.90821492927058770002e-10 + (s * s2) * p) + (2.0 * s + ef * 6.93147180369123816490e-01);
    y = x == INFINITY ? x : y;
    y = x == 0.0 ? -INFINITY : y;
    return x < 0.0 || x != x ? NAN : y;
}

/* as tanh_f32 */
static inline double tanh_f64(double x) {
    double a = fabs(x), r;
    int64_t ni;
    reduce_f64(2.0 * (a < 20.0 ? a : 20.0), &r, &ni); /* tanh(20) rounds to 1 */
    double q = fma(taylor_f64(r, 2, 14) * r, r, r); /* expm1(r) */
    double s = d_from_bits((ni + 1023) << 52);
    double em1 = fma(s, q, s - 1.0);
    double y = em1 / (em1 + 2.0);
    y = d_bits(x) < 0 ? -y : y; /* the sign bit: tanh(-0) is -0 */
    return x != x ? x : y;
}

static inline double sigmoid_f64(double x) { return x != x ? x : 1.0 / (1.0 + exp_f64(-x)); }

/* ---- array loops --------------------------------------------------------------------- */

/* Every multiply-add above is an explicit fma: see FMA_CLONES (internal.h). */
#define ARRAY_LOOP(NAME, T, FN)                                                              \
    FMA_CLONES void NAME(int64_t n, const T *x, int64_t sx, T *y, int64_t sy) {            \
        if (sx == 1 && sy == 1) {                                                            \
            for (int64_t i = 0; i < n; i++) y[i] = FN(x[i]);                                 \
        } else {                                                                             \
            for (int64_t i = 0; i < n; i++) y[i * sy] = FN(x[i * sx]);                       \
        }                                                                                    \
    }

ARRAY_LOOP(cg_vexp_f32, float, exp_f32)
ARRAY_LOOP(cg_vlog_f32, float, log_f32)
ARRAY_LOOP(cg_vtanh_f32, float, tanh_f32)
ARRAY_LOOP(cg_vsigmoid_f32, float, sigmoid_f32)
ARRAY_LOOP(cg_vexp_f64, double, exp_f64)
ARRAY_LOOP(cg_vlog_f64, double, log_f64)
ARRAY_LOOP(cg_vtanh_f64, double, tanh_f64)
ARRAY_LOOP(cg_vsigmoid_f64, double, sigmoid_f64)
