/* kernels_math.c -- inner loops of the element-wise math, comparison and
 * logic ops, generated for each dtype from one expression per op.
 *
 * <tgmath.h> makes sin(a) call sinf for float and sin for double, so a float
 * op's expression is written once. Expressions name the element type
 * `scalar_t` for constants, so float32 arithmetic stays in float32. Every loop
 * has a dense fast path; the strided path also serves broadcast operands
 * (stride 0) and the 1-element case that cg_run_loop hands over.
 */
#include <float.h>
#include <stdbool.h>
#include <tgmath.h>

#include "internal.h"

#define CG_UNUSED __attribute__((unused))

/* ---- loop shapes ---------------------------------------------------------------- */

/* out[i] = EXPR(a), out of type TO, a of type T */
#define UNARY_LOOP(NAME, TO, T, EXPR)                                                        \
    static void NAME(int64_t n, char **d, const int64_t *s) {                                \
        typedef T scalar_t CG_UNUSED;                                                                \
        TO *o = (TO *)d[0];                                                                  \
        const T *x = (const T *)d[1];                                                        \
        if (s[0] == 1 && s[1] == 1) {                                                        \
            for (int64_t i = 0; i < n; i++) { T a CG_UNUSED = x[i]; o[i] = (TO)(EXPR); }     \
        } else {                                                                             \
            for (int64_t i = 0; i < n; i++) { T a CG_UNUSED = x[i * s[1]]; o[i * s[0]] = (TO)(EXPR); } \
        }                                                                                    \
    }

/* out[i] = EXPR(a, b), with fast paths for a broadcast scalar on either side */
#define BINARY_LOOP(NAME, TO, T, EXPR)                                                       \
    static void NAME(int64_t n, char **d, const int64_t *s) {                                \
        typedef T scalar_t CG_UNUSED;                                                                \
        TO *o = (TO *)d[0];                                                                  \
        const T *x = (const T *)d[1], *y = (const T *)d[2];                                  \
        if (s[0] == 1 && s[1] == 1 && s[2] == 1) {                                           \
            for (int64_t i = 0; i < n; i++) { T a = x[i], b = y[i]; o[i] = (TO)(EXPR); }     \
        } else if (s[0] == 1 && s[1] == 1 && s[2] == 0) {                                    \
            const T b = *y;                                                                  \
            for (int64_t i = 0; i < n; i++) { T a = x[i]; o[i] = (TO)(EXPR); }               \
        } else if (s[0] == 1 && s[1] == 0 && s[2] == 1) {                                    \
            const T a = *x;                                                                  \
            for (int64_t i = 0; i < n; i++) { T b = y[i]; o[i] = (TO)(EXPR); }               \
        } else {                                                                             \
            for (int64_t i = 0; i < n; i++) {                                                \
                T a = x[i * s[1]], b = y[i * s[2]];                                          \
                o[i * s[0]] = (TO)(EXPR);                                                    \
            }                                                                                \
        }                                                                                    \
    }

/* out[i] = EXPR(a, b, c); a of type TA (where's condition), b and c of type T */
#define TERNARY_LOOP(NAME, TA, T, EXPR)                                                      \
    static void NAME(int64_t n, char **d, const int64_t *s) {                                \
        typedef T scalar_t CG_UNUSED;                                                                \
        T *o = (T *)d[0];                                                                    \
        const TA *x = (const TA *)d[1];                                                      \
        const T *y = (const T *)d[2], *z = (const T *)d[3];                                  \
        if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {                              \
            for (int64_t i = 0; i < n; i++) {                                                \
                TA a = x[i];                                                                 \
                T b = y[i], c = z[i];                                                        \
                o[i] = (EXPR);                                                               \
            }                                                                                \
        } else {                                                                             \
            for (int64_t i = 0; i < n; i++) {                                                \
                TA a = x[i * s[1]];                                                          \
                T b = y[i * s[2]], c = z[i * s[3]];                                          \
                o[i * s[0]] = (EXPR);                                                        \
            }                                                                                \
        }                                                                                    \
    }

/* One op for a set of dtypes: NAME_f32, NAME_f64, NAME_i64, NAME_b8. */
#define FLOAT_OP(LOOP, NAME, TO_F, EXPR)                                                     \
    LOOP(NAME##_f32, TO_F(float), float, EXPR)                                               \
    LOOP(NAME##_f64, TO_F(double), double, EXPR)
#define INT_OP(LOOP, NAME, TO_F, EXPR) LOOP(NAME##_i64, TO_F(int64_t), int64_t, EXPR)
#define BOOL_OP(LOOP, NAME, TO_F, EXPR) LOOP(NAME##_b8, TO_F(uint8_t), uint8_t, EXPR)
#define NUM_OP(LOOP, NAME, TO_F, EXPR)                                                       \
    FLOAT_OP(LOOP, NAME, TO_F, EXPR)                                                         \
    INT_OP(LOOP, NAME, TO_F, EXPR)
#define ALL_OP(LOOP, NAME, TO_F, EXPR)                                                       \
    NUM_OP(LOOP, NAME, TO_F, EXPR)                                                           \
    BOOL_OP(LOOP, NAME, TO_F, EXPR)
#define SAME(T) T      /* the result has the operands' type */
#define TO_BOOL(T) uint8_t

/* Table rows: which dtypes an op has (float32, float64, int64, bool). */
#define ROW_F(name) {name##_f32, name##_f64, NULL, NULL}
#define ROW_N(name) {name##_f32, name##_f64, name##_i64, NULL}
#define ROW_A(name) {name##_f32, name##_f64, name##_i64, name##_b8}
#define ROW_IB(name) {NULL, NULL, name##_i64, name##_b8}

/* ---- scalar helpers ------------------------------------------------------------- */

/* NaN-propagating maximum and minimum; on ties the first operand, as PyTorch.
 * For integers the NaN tests fold away. */
#define MAX_NAN(a, b) ((a) != (a) ? (a) : (b) != (b) ? (b) : (a) < (b) ? (b) : (a))
#define MIN_NAN(a, b) ((a) != (a) ? (a) : (b) != (b) ? (b) : (b) < (a) ? (b) : (a))

/* Python's floor division: the quotient rounded toward -inf. */
static inline int64_t floordiv_int64(int64_t a, int64_t b) {
    if (b == -1) return (int64_t)(0 - (uint64_t)a); /* INT64_MIN / -1 wraps, as PyTorch */
    int64_t q = a / b, r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;
}

/* Floating floor division exactly as PyTorch computes it (via fmod, so that
 * a // b and a % b agree, and the sign of a zero quotient is kept). */
#define FLOORDIV_FLOAT(T)                                                                    \
    static inline T floordiv_##T(T a, T b) {                                                 \
        if (b == 0) return a / b;                                                            \
        T mod = fmod(a, b);                                                                  \
        T div = (a - mod) / b;                                                               \
        if (mod != 0 && (b < 0) != (mod < 0)) div -= 1;                                      \
        if (div == 0) return copysign((T)0, a / b);                                          \
        T fl = floor(div);                                                                   \
        return div - fl > (T)0.5 ? fl + 1 : fl;                                              \
    }
FLOORDIV_FLOAT(float)
FLOORDIV_FLOAT(double)

/* Python's modulo: the remainder takes the sign of the divisor. */
static inline int64_t mod_i64(int64_t a, int64_t b) {
    if (b == -1) return 0;
    int64_t r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
#define REMAINDER_FLOAT(T)                                                                   \
    static inline T remainder_##T(T a, T b) {                                                \
        T r = fmod(a, b);                                                                    \
        return (r != 0 && ((b < 0) != (r < 0))) ? r + b : r;                                 \
    }
REMAINDER_FLOAT(float)
REMAINDER_FLOAT(double)

/* The inverse of erf, in double: a closed-form first guess good to about
 * 2e-3 (Winitzki's, from erf(x)^2 ~ 1 - exp(-x^2 (4/pi + a x^2) / (1 + a x^2))),
 * then Halley's method, which triples the correct digits per step. Past
 * |y| = 1/2 it solves erfc(x) = 1 - |y| instead, whose sides are exact and
 * small there, where erf(x) - y would lose the digits to cancellation.
 * +-1 give +-inf, |y| > 1 NaN, and 0 keeps its sign. */
static double erfinv_double(double y) {
    if (!(fabs(y) < 1)) return fabs(y) == 1 ? copysign(INFINITY, y) : NAN;
    if (y == 0) return y;
    const double a = 0.147, two_over_sqrt_pi = 1.1283791670955126;
    bool tail = fabs(y) > 0.5;
    double c = 1 - fabs(y); /* exact when tail */
    double l = tail ? log(c * (1 + fabs(y))) : log1p(-y * y), t = 2 / (M_PI * a) + l / 2;
    double x = sqrt(sqrt(t * t - l / a) - t);
    for (int k = 0; k < 3; k++) {
        /* f(x) = erfc(x) - c or erf(x) - |y|; f' = -+d, f'' = -2 x f'; Halley: x - f / (f' + x f) */
        double d = two_over_sqrt_pi * exp(-x * x);
        double f = tail ? erfc(x) - c : erf(x) - fabs(y);
        x -= f / ((tail ? -d : d) + x * f);
    }
    return copysign(x, y);
}

/* Euclid's greatest common divisor of |a| and |b|, 0 for two zeros */
static inline int64_t gcd_int64(int64_t a, int64_t b) {
    a = a < 0 ? (int64_t)(0 - (uint64_t)a) : a;
    b = b < 0 ? (int64_t)(0 - (uint64_t)b) : b;
    while (a != 0) {
        int64_t c = a;
        a = b % a;
        b = c;
    }
    return b;
}
/* |a b| / gcd, 0 when either is 0 */
static inline int64_t lcm_int64(int64_t a, int64_t b) {
    int64_t g = gcd_int64(a, b), m = g == 0 ? 0 : cg_wrap_mul(a / g, b);
    return m < 0 ? (int64_t)(0 - (uint64_t)m) : m;
}

/* ---- gamma-family and Bessel functions ------------------------------------------- */

/* These follow the published series PyTorch's CPU kernels use, step for step,
 * so that the values agree with it to rounding (including where those series
 * are short of full precision, as its trigamma's): each is written once for
 * float and double, in the operand's type where PyTorch computes in it. */

/* psi(x) for x > 0: psi(x) = psi(x + 1) - 1/x up to 10, then
 * log x - 1/(2x) - sum_k B_2k / (2k x^2k) for k = 1..7 (Horner in z = x^-2). */
#define DIGAMMA_POS(T)                                                                       \
    static T digamma_pos_##T(T x) {                                                          \
        T r = 0;                                                                             \
        while (x < 10) {                                                                     \
            r -= 1 / x;                                                                      \
            x += 1;                                                                          \
        }                                                                                    \
        if (x == 10) return r + (T)2.25175258906672110764; /* psi(10) = H_9 - gamma */       \
        T y = 0;                                                                             \
        if (x < (T)1e17) {                                                                   \
            T z = 1 / (x * x), p = (T)(1.0 / 12);                                            \
            const T c[6] = {(T)(-691.0 / 32760), (T)(1.0 / 132), (T)(-1.0 / 240),            \
                            (T)(1.0 / 252), (T)(-1.0 / 120), (T)(1.0 / 12)};                 \
            for (int k = 0; k < 6; k++) p = p * z + c[k];                                    \
            y = z * p;                                                                       \
        }                                                                                    \
        return r + log(x) - (T)0.5 / x - y;                                                  \
    }
DIGAMMA_POS(float)
DIGAMMA_POS(double)

/* psi(x): -+inf at -+0, NaN at negative integers, and for x < 0 the reflection
 * psi(x) = psi(1 - x) - pi / tan(pi x), tan taken in double of x's fraction
 * (tan has period pi, and pi x would lose the fraction's digits). */
#define DIGAMMA(T)                                                                           \
    static T digamma_##T(T x) {                                                              \
        if (x == 0) return copysign((T)INFINITY, -x);                                        \
        if (x >= 0 || x != x) return digamma_pos_##T(x);                                     \
        if (x == trunc(x)) return (T)NAN;                                                    \
        double whole, frac = modf((double)x, &whole);                                        \
        return digamma_pos_##T(1 - x) - (T)(M_PI / tan(M_PI * frac));                        \
    }
DIGAMMA(float)
DIGAMMA(double)

/* psi'(x): for x < 1/2 the reflection psi'(x) = pi^2 / sin(pi x)^2 - psi'(1 - x);
 * then six steps of psi'(x) = psi'(x + 1) + 1/x^2 and the asymptotic
 * 1/x + 1/(2x^2) + 1/(6x^3) - 1/(30x^5) + 1/(42x^7), its tail in double. */
#define TRIGAMMA(T)                                                                          \
    static T trigamma_##T(T x) {                                                             \
        const T pi = (T)M_PI;                                                                \
        T sign = 1, r = 0;                                                                   \
        if (x < (T)0.5) {                                                                    \
            T sp = sin(pi * x);                                                              \
            sign = -1;                                                                       \
            r -= pi * pi / (sp * sp);                                                        \
            x = 1 - x;                                                                       \
        }                                                                                    \
        for (int k = 0; k < 6; k++) {                                                        \
            r += 1 / (x * x);                                                                \
            x += 1;                                                                          \
        }                                                                                    \
        const T ixx = 1 / (x * x);                                                           \
        r += (1 + 1 / (2 * x) + ixx * (1. / 6 - ixx * (1. / 30 - ixx * (1. / 42)))) / x;      \
        return sign * r;                                                                     \
    }
TRIGAMMA(float)
TRIGAMMA(double)

/* Hurwitz zeta(s, q) = sum_k (q + k)^-s for s > 1 (Euler-Maclaurin): the
 * terms summed directly until q + k passes 9 (at least nine of them), then
 * the integral of the rest, half the last term and the Bernoulli corrections
 * s (s+1) ... (s+2j-2) B_2j / ((2j)! w^(s+2j-1)). inf at poles q = 0, -1, ...;
 * NaN for s < 1, or q < 0 and s not an integer. first is q^-s, which PyTorch
 * takes in q's own type (so a float's polygamma keeps that rounding). */
static double hurwitz_zeta(double s, double q, double first) {
    static const double fact_over_bernoulli[12] = { /* (2j)! / B_2j */
        12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1892437580.3183792, 74724249600.0,
        -2950130727918.164, 116467828143500.67, -4597978722407473.0, 1.8152105401943546e+17,
        -7.166165256175667e+18};
    const double eps = 1.11022302462515654042e-16;
    if (s == 1) return INFINITY;
    if (s < 1) return NAN;
    if (q <= 0 && q == floor(q)) return INFINITY;
    if (q <= 0 && s != floor(s)) return NAN;
    double sum = first, a = q, b = 0;
    for (int i = 0; i < 9 || a <= 9; i++) {
        a += 1;
        b = pow(a, -s);
        sum += b;
        if (-eps * sum < b && b < eps * sum) return sum;
    }
    double w = a, rise = 1, k = 0;
    sum += b * w / (s - 1);
    sum -= 0.5 * b;
    for (int j = 0; j < 12; j++, k += 2) {
        rise *= s + k;
        b /= w;
        double t = rise * b / fact_over_bernoulli[j];
        sum += t;
        if (fabs(t / sum) < eps) break;
        rise *= s + k + 1;
        b /= w;
    }
    return sum;
}

double cg_hurwitz_zeta(double s, double q) { return hurwitz_zeta(s, q, pow(q, -s)); }

/* psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x); n = 0 and 1 by the series above */
#define POLYGAMMA(T)                                                                         \
    static T polygamma_##T(T n, T x) {                                                       \
        if (n == 0) return digamma_##T(x);                                                   \
        if (n == 1) return trigamma_##T(x);                                                  \
        T sign = fmod(n, (T)2) != 0 ? 1 : -1;                                                \
        double first = (double)pow(x, -(n + 1));                                             \
        return sign * exp(lgamma(n + 1)) * (T)hurwitz_zeta((double)n + 1, (double)x, first); \
    }
POLYGAMMA(float)
POLYGAMMA(double)

/* log of the multivariate gamma function of dimension p:
 * p (p - 1) / 4 log(pi) + sum_j lgamma(x - j/2), j = p-1 .. 0 */
#define MVLGAMMA(T)                                                                          \
    static T mvlgamma_##T(T x, T p) {                                                        \
        T sum = 0;                                                                           \
        for (int64_t j = (int64_t)p - 1; j >= 0; j--) sum += lgamma(x - (T)j * (T)0.5);      \
        return sum + (T)((double)p * ((double)p - 1) * 1.1447298858494002 * 0.25); /* log(pi) */ \
    }
MVLGAMMA(float)
MVLGAMMA(double)

/* log(x / (1 - x)), x first clamped to [eps, 1 - eps] unless eps < 0 */
#define LOGIT(T)                                                                             \
    static inline T logit_##T(T x, T eps) {                                                  \
        if (eps >= 0) x = x < eps ? eps : x > 1 - eps ? 1 - eps : x;                         \
        return log(x / (1 - x));                                                             \
    }
LOGIT(float)
LOGIT(double)

/* The modified Bessel function I_nu(x), nu = 0 or 1, for x >= 0, in long
 * double so that a double result is rounded once: up to 25 the power series
 * (x/2)^nu sum_k (x^2/4)^k / (k! (k + nu)!), whose terms are all positive;
 * past it the asymptotic e^x / sqrt(2 pi x) sum_k c_k with
 * c_k = c_(k-1) ((2k - 1)^2 - 4 nu^2) / (8 k x), cut where its terms stop
 * shrinking (there they are below e^-2x). e^x is taken in halves, as I_0
 * stays finite in double a little past where e^x overflows. */
long double cg_bessel_i_series(int nu, long double x) {
    const long double eps = LDBL_EPSILON / 4;
    long double q = x * x / 4, term = nu ? x / 2 : 1, sum = term;
    for (int k = 1; k < 200 && term > eps * sum; k++) {
        term *= q / ((long double)k * (k + nu));
        sum += term;
    }
    return sum;
}

long double cg_bessel_i_asymptotic(int nu, long double x) {
    const long double eps = LDBL_EPSILON / 4;
    long double term = 1, sum = 1, mu = 4.0L * nu * nu;
    for (int k = 1; k < 200; k++) {
        long double next = term * ((2.0L * k - 1) * (2.0L * k - 1) - mu) / (8.0L * k * x);
        if (!(fabsl(next) < fabsl(term)) || !(fabsl(next) > eps * fabsl(sum))) break;
        term = next;
        sum += term;
    }
    return sum;
}

static long double bessel_i(int nu, long double x) {
    if (x <= 25) return cg_bessel_i_series(nu, x);
    long double half = expl(x / 2);
    return half * (half * cg_bessel_i_asymptotic(nu, x) / sqrtl(2 * (long double)M_PI * x));
}

/* I_0 is even, I_1 odd; both NaN at +-inf and inf where e^|x| overflows in
 * the operand's type (a float's a little sooner than I_0 itself), as PyTorch's */
static double i0_double(double x, bool overflows) {
    return isinf(x) ? NAN : overflows ? INFINITY : (double)bessel_i(0, fabsl((long double)x));
}
static double i1_double(double x, bool overflows) {
    if (isinf(x)) return NAN;
    if (x == 0) return 0; /* +0 at -0, as PyTorch */
    return (double)copysignl(overflows ? INFINITY : bessel_i(1, fabsl((long double)x)), (long double)x);
}

/* ---- unary ---------------------------------------------------------------------- */

FLOAT_OP(UNARY_LOOP, abs, SAME, fabs(a))
INT_OP(UNARY_LOOP, abs, SAME, a < 0 ? (int64_t)(0 - (uint64_t)a) : a)
NUM_OP(UNARY_LOOP, sign, SAME, (a > 0) - (a < 0))
/* Rounding to an integral value: integers are theirs already. round is
 * to nearest, ties to even (rint in the default rounding mode), as PyTorch. */
FLOAT_OP(UNARY_LOOP, floor, SAME, floor(a))
FLOAT_OP(UNARY_LOOP, ceil, SAME, ceil(a))
FLOAT_OP(UNARY_LOOP, round, SAME, rint(a))
FLOAT_OP(UNARY_LOOP, trunc, SAME, trunc(a))
FLOAT_OP(UNARY_LOOP, frac, SAME, a - trunc(a))
INT_OP(UNARY_LOOP, floor, SAME, a)
INT_OP(UNARY_LOOP, ceil, SAME, a)
INT_OP(UNARY_LOOP, round, SAME, a)
INT_OP(UNARY_LOOP, trunc, SAME, a)
BOOL_OP(UNARY_LOOP, sign, SAME, a)
FLOAT_OP(UNARY_LOOP, exp2, SAME, exp2(a))
FLOAT_OP(UNARY_LOOP, log2, SAME, log2(a))
FLOAT_OP(UNARY_LOOP, log10, SAME, log10(a))
FLOAT_OP(UNARY_LOOP, log1p, SAME, log1p(a))
FLOAT_OP(UNARY_LOOP, expm1, SAME, expm1(a))
FLOAT_OP(UNARY_LOOP, sin, SAME, sin(a))
FLOAT_OP(UNARY_LOOP, cos, SAME, cos(a))
FLOAT_OP(UNARY_LOOP, tan, SAME, tan(a))
FLOAT_OP(UNARY_LOOP, sinh, SAME, sinh(a))
FLOAT_OP(UNARY_LOOP, cosh, SAME, cosh(a))
FLOAT_OP(UNARY_LOOP, asin, SAME, asin(a))
FLOAT_OP(UNARY_LOOP, acos, SAME, acos(a))
FLOAT_OP(UNARY_LOOP, atan, SAME, atan(a))
FLOAT_OP(UNARY_LOOP, erf, SAME, erf(a))
FLOAT_OP(UNARY_LOOP, erfc, SAME, erfc(a))
FLOAT_OP(UNARY_LOOP, asinh, SAME, asinh(a))
FLOAT_OP(UNARY_LOOP, acosh, SAME, acosh(a))
FLOAT_OP(UNARY_LOOP, atanh, SAME, atanh(a))
/* erfinv of a float computed in double, rounded once */
FLOAT_OP(UNARY_LOOP, erfinv, SAME, (scalar_t)erfinv_double((double)a))
/* sin(pi a) / (pi a), 1 at 0; pi a rounded once, in the operand's type */
FLOAT_OP(UNARY_LOOP, sinc, SAME, a == 0 ? (scalar_t)1 : sin((scalar_t)M_PI * a) / ((scalar_t)M_PI * a))
FLOAT_OP(UNARY_LOOP, lgamma, SAME, lgamma(a))
UNARY_LOOP(digamma_f32, float, float, digamma_float(a))
UNARY_LOOP(digamma_f64, double, double, digamma_double(a))
/* I_0 and I_1 of a float computed in double, rounded once */
FLOAT_OP(UNARY_LOOP, i0, SAME, (scalar_t)i0_double((double)a, isinf(exp(fabs(a)))))
FLOAT_OP(UNARY_LOOP, i1, SAME, (scalar_t)i1_double((double)a, isinf(exp(fabs(a)))))
INT_OP(UNARY_LOOP, bitwise_not, SAME, ~a)
BOOL_OP(UNARY_LOOP, bitwise_not, SAME, !a)

FLOAT_OP(UNARY_LOOP, isnan, TO_BOOL, a != a)
/* the sign bit: set for -0.0 and a negative NaN too */
FLOAT_OP(UNARY_LOOP, signbit, TO_BOOL, signbit(a) != 0)
INT_OP(UNARY_LOOP, signbit, TO_BOOL, a < 0)
BOOL_OP(UNARY_LOOP, signbit, TO_BOOL, 0)
FLOAT_OP(UNARY_LOOP, isinf, TO_BOOL, a == (scalar_t)INFINITY || a == -(scalar_t)INFINITY)
FLOAT_OP(UNARY_LOOP, isfinite, TO_BOOL, isfinite(a))
INT_OP(UNARY_LOOP, isnan, TO_BOOL, 0)
BOOL_OP(UNARY_LOOP, isnan, TO_BOOL, 0)
INT_OP(UNARY_LOOP, isinf, TO_BOOL, 0)
BOOL_OP(UNARY_LOOP, isinf, TO_BOOL, 0)
INT_OP(UNARY_LOOP, isfinite, TO_BOOL, 1)
BOOL_OP(UNARY_LOOP, isfinite, TO_BOOL, 1)
ALL_OP(UNARY_LOOP, logical_not, TO_BOOL, a == 0)

/* ---- the regularized incomplete gamma functions --------------------------------- */

/* x^a e^-x / Gamma(a), formed in logs */
static double igamma_prefactor(double a, double x) { return exp(a * log(x) - x - lgamma(a)); }

/* P(a, x) = x^a e^-x / Gamma(a) * sum_n x^n / (a (a + 1) ... (a + n)): fast for x < a + 1 */
static double igamma_series(double a, double x) {
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 100000 && fabs(term) >= fabs(sum) * DBL_EPSILON; n++) {
        term *= x / (a + n);
        sum += term;
    }
    return sum * igamma_prefactor(a, x);
}

/* Q(a, x) = x^a e^-x / Gamma(a) * 1 / (x + 1 - a - 1 (1 - a) / (x + 3 - a - 2 (2 - a) / (x + 5 - a - ...))),
 * the continued fraction by the modified Lentz method: fast for x >= a + 1 */
static double igammac_fraction(double a, double x) {
    const double tiny = 1e-300;
    double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
    for (int i = 1; i < 100000; i++) {
        double an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        d = fabs(d) < tiny ? tiny : d;
        c = b + an / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1.0 / d;
        h *= d * c;
        if (fabs(d * c - 1.0) < DBL_EPSILON) break;
    }
    return h * igamma_prefactor(a, x);
}

/* zeta(k) - 1 for k = 2 ... 43: ln Gamma(1 + a)'s series coefficients, until (1/2)^k is below
 * the last bit */
static const double zeta_minus_one[] = {
    0.64493406684822641, 0.20205690315959429, 0.082323233711138186, 0.036927755143369927,
    0.01734306198444914, 0.0083492773819228271, 0.0040773561979443396, 0.0020083928260822143,
    0.00099457512781808526, 0.00049418860411946453, 0.00024608655330804832, 0.00012271334757848915,
    6.1248135058704828e-05, 3.0588236307020493e-05, 1.5282259408651871e-05, 7.6371976378997626e-06,
    3.8172932649998402e-06, 1.908212716553939e-06, 9.5396203387279621e-07, 4.7693298678780645e-07,
    2.38450502727733e-07, 1.1921992596531106e-07, 5.960818905125948e-08, 2.9803503514652279e-08,
    1.4901554828365043e-08, 7.4507117898354301e-09, 3.7253340247884573e-09, 1.8626597235130491e-09,
    9.3132743241966817e-10, 4.6566290650337837e-10, 2.3283118336765053e-10, 1.1641550172700519e-10,
    5.8207720879027015e-11, 2.9103850444971e-11, 1.4551921891041985e-11, 7.2759598350574818e-12,
    3.6379795473786509e-12, 1.8189896503070661e-12, 9.0949478402638884e-13, 4.5474737830421542e-13,
    2.2737368458246524e-13, 1.1368684076802279e-13,
};

/* ln Gamma(1 + a) for |a| <= 1/2, without rounding 1 + a (which for a = 1e-8 keeps half the
 * digits): -ln(1 + a) + a (1 - euler) + sum_k>=2 (-a)^k (zeta(k) - 1) / k, Abramowitz and Stegun
 * 6.1.33 */
static double lgamma1p_small(double a) {
    double sum = 0.0, power = a * a;
    for (int k = 2; k < 44; k++) {
        double term = power * zeta_minus_one[k - 2] / k;
        sum += term;
        if (fabs(term) <= fabs(sum) * DBL_EPSILON * 0.5) break;
        power *= -a;
    }
    return -log1p(a) + a * (1.0 - 0.57721566490153286061) + sum;
}

/* Q(a, x) for a < 1/2 and x < a + 1, where 1 - P(a, x) would lose the digits of a small Q:
 * P = x^a / Gamma(1 + a) (1 + a sum_n>=1 (-x)^n / (n! (a + n))), so with u = a ln x - ln Gamma(1 + a),
 * Q = -expm1(u) - e^u a sum, two terms of the size of Q */
static double igammac_small_a(double a, double x) {
    double u = a * log(x) - lgamma1p_small(a);
    double power = 1.0, sum = 0.0;
    for (int n = 1; n < 200; n++) {
        power *= -x / n;
        double term = power / (a + n);
        sum += term;
        if (fabs(term) <= fabs(sum) * DBL_EPSILON) break;
    }
    return -expm1(u) - exp(u) * a * sum;
}

/* P(a, x) (upper = 0) or Q(a, x) = 1 - P(a, x) (upper = 1), each computed where it is
 * not a difference from 1 that loses digits; the edges (a or x zero or infinite) as PyTorch,
 * which tests them before NaN: P(NaN, 0) = 0, P(inf, NaN) = 0 */
static double igamma_double(double a, double x, int upper) {
    if (a < 0 || x < 0) return NAN;
    if (a == 0) return x > 0 ? (double)!upper : NAN;
    if (x == 0) return (double)upper;
    if (isinf(a)) return isinf(x) ? NAN : (double)upper;
    if (isinf(x)) return (double)!upper;
    if (isnan(a) || isnan(x)) return NAN;
    if (x < a + 1.0) {
        if (a < 0.5) { /* a small P is the series', a P near 1 is 1 - Q */
            double q = igammac_small_a(a, x);
            if (upper) return q;
            if (q < 0.5) return 1.0 - q;
        }
        double p = igamma_series(a, x);
        return upper ? 1.0 - p : p;
    }
    double q = igammac_fraction(a, x);
    return upper ? q : 1.0 - q;
}

/* ---- binary --------------------------------------------------------------------- */

FLOAT_OP(BINARY_LOOP, atan2, SAME, atan2(a, b))
ALL_OP(BINARY_LOOP, maximum, SAME, MAX_NAN(a, b))
ALL_OP(BINARY_LOOP, minimum, SAME, MIN_NAN(a, b))
BINARY_LOOP(floor_divide_f32, float, float, floordiv_float(a, b))
BINARY_LOOP(floor_divide_f64, double, double, floordiv_double(a, b))
INT_OP(BINARY_LOOP, floor_divide, SAME, floordiv_int64(a, b))
/* the quotient rounded toward 0; INT64_MIN / -1 wraps, as PyTorch */
FLOAT_OP(BINARY_LOOP, trunc_divide, SAME, trunc(a / b))
INT_OP(BINARY_LOOP, trunc_divide, SAME, b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b)
BINARY_LOOP(remainder_f32, float, float, remainder_float(a, b))
BINARY_LOOP(remainder_f64, double, double, remainder_double(a, b))
INT_OP(BINARY_LOOP, remainder, SAME, mod_i64(a, b))
/* C's remainder: the sign of the dividend; INT64_MIN % -1 is 0, not a trap */
FLOAT_OP(BINARY_LOOP, fmod, SAME, fmod(a, b))
INT_OP(BINARY_LOOP, fmod, SAME, b == -1 ? 0 : a % b)
FLOAT_OP(BINARY_LOOP, hypot, SAME, hypot(a, b))
/* log(e^a + e^b) = max + log1p(e^-|a - b|); two equal infinities are their
 * own result (their difference would be NaN) */
FLOAT_OP(BINARY_LOOP, logaddexp, SAME, isinf(a) && a == b ? a : MAX_NAN(a, b) + log1p(exp(-fabs(a - b))))
/* x log(y), and 0 where x is 0 (even for y = 0 or inf), unless y is NaN */
FLOAT_OP(BINARY_LOOP, xlogy, SAME, b != b ? b : a == 0 ? (scalar_t)0 : a * log(b))
/* the regularized incomplete gamma functions, computed in double */
FLOAT_OP(BINARY_LOOP, igamma, SAME, (scalar_t)igamma_double((double)a, (double)b, 0))
FLOAT_OP(BINARY_LOOP, igammac, SAME, (scalar_t)igamma_double((double)a, (double)b, 1))
/* the parameter ops: b is the broadcast order n, dimension p or eps */
BINARY_LOOP(polygamma_f32, float, float, polygamma_float(b, a))
BINARY_LOOP(polygamma_f64, double, double, polygamma_double(b, a))
BINARY_LOOP(mvlgamma_f32, float, float, mvlgamma_float(a, b))
BINARY_LOOP(mvlgamma_f64, double, double, mvlgamma_double(a, b))
BINARY_LOOP(logit_f32, float, float, logit_float(a, b))
BINARY_LOOP(logit_f64, double, double, logit_double(a, b))
FLOAT_OP(BINARY_LOOP, copysign, SAME, copysign(a, b))
/* fmax and fmin ignore a NaN operand (NaN only when both are); on ties (0 and
 * -0 too) the first operand, as PyTorch */
FLOAT_OP(BINARY_LOOP, fmax, SAME, a != a ? b : b != b ? a : a < b ? b : a)
FLOAT_OP(BINARY_LOOP, fmin, SAME, a != a ? b : b != b ? a : b < a ? b : a)
INT_OP(BINARY_LOOP, fmax, SAME, a < b ? b : a)
INT_OP(BINARY_LOOP, fmin, SAME, b < a ? b : a)
BOOL_OP(BINARY_LOOP, fmax, SAME, a | b)
BOOL_OP(BINARY_LOOP, fmin, SAME, a & b)
/* log2(2^a + 2^b) = max + log1p(2^-|a - b|) / ln 2 (one rounding for the last step, as
 * PyTorch's fused multiply-add), equal infinities their own result */
FLOAT_OP(BINARY_LOOP, logaddexp2, SAME,
         isinf(a) && a == b ? a : fma(log1p(exp2(-fabs(a - b))), (scalar_t)(1 / M_LN2), MAX_NAN(a, b)))
/* the next representable number after a towards b (b when they are equal) */
FLOAT_OP(BINARY_LOOP, nextafter, SAME, nextafter(a, b))
/* the step function: 0 below 0 (and at NaN), 1 above, b at 0 */
ALL_OP(BINARY_LOOP, heaviside, SAME, a == 0 ? b : (scalar_t)(a > 0))
/* a 2^b, as a * pow(2, b) */
FLOAT_OP(BINARY_LOOP, ldexp, SAME, a * exp2(b))
/* shifts by a negative count or by 64 or more give what shifting one place at
 * a time would: 0 to the left, the sign to the right */
INT_OP(BINARY_LOOP, lshift, SAME, b < 0 || b >= 64 ? 0 : (int64_t)((uint64_t)a << b))
INT_OP(BINARY_LOOP, rshift, SAME, b < 0 || b >= 64 ? (a < 0 ? -1 : 0) : a >> b)
INT_OP(BINARY_LOOP, gcd, SAME, gcd_int64(a, b))
INT_OP(BINARY_LOOP, lcm, SAME, lcm_int64(a, b))
INT_OP(BINARY_LOOP, bitwise_and, SAME, a & b)
BOOL_OP(BINARY_LOOP, bitwise_and, SAME, a & b)
INT_OP(BINARY_LOOP, bitwise_or, SAME, a | b)
BOOL_OP(BINARY_LOOP, bitwise_or, SAME, a | b)
INT_OP(BINARY_LOOP, bitwise_xor, SAME, a ^ b)
BOOL_OP(BINARY_LOOP, bitwise_xor, SAME, a ^ b)

ALL_OP(BINARY_LOOP, eq, TO_BOOL, a == b)
ALL_OP(BINARY_LOOP, ne, TO_BOOL, a != b)
ALL_OP(BINARY_LOOP, lt, TO_BOOL, a < b)
ALL_OP(BINARY_LOOP, le, TO_BOOL, a <= b)
ALL_OP(BINARY_LOOP, gt, TO_BOOL, a > b)
ALL_OP(BINARY_LOOP, ge, TO_BOOL, a >= b)
ALL_OP(BINARY_LOOP, logical_and, TO_BOOL, (a != 0) & (b != 0))
ALL_OP(BINARY_LOOP, logical_or, TO_BOOL, (a != 0) | (b != 0))
ALL_OP(BINARY_LOOP, logical_xor, TO_BOOL, (a != 0) ^ (b != 0))

/* ---- ternary -------------------------------------------------------------------- */

#define WHERE_LOOP(NAME, TO, T, EXPR) TERNARY_LOOP(NAME, uint8_t, T, EXPR)
#define SAME_TERNARY(NAME, TO, T, EXPR) TERNARY_LOOP(NAME, T, T, EXPR)
ALL_OP(WHERE_LOOP, where, SAME, a ? b : c)
/* clamp(a, lo = b, hi = c) = minimum(maximum(a, lo), hi) */
ALL_OP(SAME_TERNARY, clamp, SAME, MIN_NAN(MAX_NAN(a, b), c))
/* fma(a, b, c), rounded once: addcmul's, and add's and sub's with alpha,
 * whose a is one number (stride 0). Built for the CPUs with FMA too, where
 * it is one vector instruction rather than a call to libm for each element;
 * the same bits on all. */
#define FMA_LOOP(NAME, TO, T, EXPR)                                                          \
    FMA_CLONES static void NAME(int64_t n, char **d, const int64_t *s) {                     \
        T *o = (T *)d[0];                                                                    \
        const T *x = (const T *)d[1], *y = (const T *)d[2], *z = (const T *)d[3];            \
        if (s[0] == 1 && s[1] == 0 && s[2] == 1 && s[3] == 1) {                              \
            const T a = *x;                                                                  \
            for (int64_t i = 0; i < n; i++) { T b = y[i], c = z[i]; o[i] = (EXPR); }         \
        } else if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {                       \
            for (int64_t i = 0; i < n; i++) { T a = x[i], b = y[i], c = z[i]; o[i] = (EXPR); } \
        } else {                                                                             \
            for (int64_t i = 0; i < n; i++) {                                                \
                T a = x[i * s[1]], b = y[i * s[2]], c = z[i * s[3]];                         \
                o[i * s[0]] = (EXPR);                                                        \
            }                                                                                \
        }                                                                                    \
    }
FLOAT_OP(FMA_LOOP, fma, SAME, fma(a, b, c))
INT_OP(SAME_TERNARY, fma, SAME, cg_wrap_add(cg_wrap_mul(a, b), c))
/* lerp(a, b, weight = c): one fma around whichever end the weight is nearer,
 * PyTorch's rounding (a product rounded before the add differs in about a
 * quarter of the elements) */
FLOAT_OP(FMA_LOOP, lerp, SAME, fabs(c) < 0.5 ? fma(c, b - a, a) : fma(c - 1, b - a, b))

/* where x was picked: all of g; where x and y tie: half of it */
FLOAT_OP(SAME_TERNARY, maximum_grad, SAME, b < c ? 0 : b == c ? a * (scalar_t)0.5 : a)
FLOAT_OP(SAME_TERNARY, minimum_grad, SAME, b > c ? 0 : b == c ? a * (scalar_t)0.5 : a)

/* ---- lookup --------------------------------------------------------------------- */

static const cg_loop math_loops[CG_NUM_MATHOPS][CG_NUM_DTYPES] = {
    [CG_M_ABS] = {abs_f32, abs_f64, abs_i64, NULL},
    [CG_M_SIGN] = ROW_A(sign),
    [CG_M_FLOOR] = ROW_N(floor),
    [CG_M_CEIL] = ROW_N(ceil),
    [CG_M_ROUND] = ROW_N(round),
    [CG_M_TRUNC] = ROW_N(trunc),
    [CG_M_FRAC] = ROW_F(frac),
    [CG_M_EXP2] = ROW_F(exp2),
    [CG_M_LOG2] = ROW_F(log2),
    [CG_M_LOG10] = ROW_F(log10),
    [CG_M_LOG1P] = ROW_F(log1p),
    [CG_M_EXPM1] = ROW_F(expm1),
    [CG_M_SIN] = ROW_F(sin),
    [CG_M_COS] = ROW_F(cos),
    [CG_M_TAN] = ROW_F(tan),
    [CG_M_SINH] = ROW_F(sinh),
    [CG_M_COSH] = ROW_F(cosh),
    [CG_M_ASIN] = ROW_F(asin),
    [CG_M_ACOS] = ROW_F(acos),
    [CG_M_ATAN] = ROW_F(atan),
    [CG_M_ERF] = ROW_F(erf),
    [CG_M_SINC] = ROW_F(sinc),
    [CG_M_ERFINV] = ROW_F(erfinv),
    [CG_M_ASINH] = ROW_F(asinh),
    [CG_M_ACOSH] = ROW_F(acosh),
    [CG_M_ATANH] = ROW_F(atanh),
    [CG_M_ERFC] = ROW_F(erfc),
    [CG_M_LGAMMA] = ROW_F(lgamma),
    [CG_M_DIGAMMA] = ROW_F(digamma),
    [CG_M_I0] = ROW_F(i0),
    [CG_M_I1] = ROW_F(i1),
    [CG_M_POLYGAMMA] = ROW_F(polygamma),
    [CG_M_MVLGAMMA] = ROW_F(mvlgamma),
    [CG_M_LOGIT] = ROW_F(logit),
    [CG_M_SIGNBIT] = ROW_A(signbit),
    [CG_M_COPYSIGN] = ROW_F(copysign),
    [CG_M_FMAX] = ROW_A(fmax),
    [CG_M_FMIN] = ROW_A(fmin),
    [CG_M_LOGADDEXP2] = ROW_F(logaddexp2),
    [CG_M_LDEXP] = ROW_F(ldexp),
    [CG_M_NEXTAFTER] = ROW_F(nextafter),
    [CG_M_HEAVISIDE] = ROW_A(heaviside),
    [CG_M_LSHIFT] = {NULL, NULL, lshift_i64, NULL},
    [CG_M_RSHIFT] = {NULL, NULL, rshift_i64, NULL},
    [CG_M_GCD] = {NULL, NULL, gcd_i64, NULL},
    [CG_M_LCM] = {NULL, NULL, lcm_i64, NULL},
    [CG_M_BITWISE_NOT] = ROW_IB(bitwise_not),
    [CG_M_ISNAN] = ROW_A(isnan),
    [CG_M_ISINF] = ROW_A(isinf),
    [CG_M_ISFINITE] = ROW_A(isfinite),
    [CG_M_LOGICAL_NOT] = ROW_A(logical_not),
    [CG_M_ATAN2] = ROW_F(atan2),
    [CG_M_FMOD] = ROW_N(fmod),
    [CG_M_HYPOT] = ROW_F(hypot),
    [CG_M_LOGADDEXP] = ROW_F(logaddexp),
    [CG_M_XLOGY] = ROW_F(xlogy),
    [CG_M_MAXIMUM] = ROW_A(maximum),
    [CG_M_MINIMUM] = ROW_A(minimum),
    [CG_M_FLOOR_DIVIDE] = ROW_N(floor_divide),
    [CG_M_TRUNC_DIVIDE] = ROW_N(trunc_divide),
    [CG_M_REMAINDER] = ROW_N(remainder),
    [CG_M_BITWISE_AND] = ROW_IB(bitwise_and),
    [CG_M_BITWISE_OR] = ROW_IB(bitwise_or),
    [CG_M_BITWISE_XOR] = ROW_IB(bitwise_xor),
    [CG_M_EQ] = ROW_A(eq),
    [CG_M_NE] = ROW_A(ne),
    [CG_M_LT] = ROW_A(lt),
    [CG_M_LE] = ROW_A(le),
    [CG_M_GT] = ROW_A(gt),
    [CG_M_GE] = ROW_A(ge),
    [CG_M_LOGICAL_AND] = ROW_A(logical_and),
    [CG_M_LOGICAL_OR] = ROW_A(logical_or),
    [CG_M_LOGICAL_XOR] = ROW_A(logical_xor),
    [CG_M_WHERE] = ROW_A(where),
    [CG_M_CLAMP] = ROW_A(clamp),
    [CG_M_LERP] = ROW_F(lerp),
    [CG_M_FMA] = ROW_N(fma),
    [CG_M_MAXIMUM_GRAD] = ROW_F(maximum_grad),
    [CG_M_IGAMMA] = ROW_F(igamma),
    [CG_M_IGAMMAC] = ROW_F(igammac),
    [CG_M_MINIMUM_GRAD] = ROW_F(minimum_grad),
};

/* The kernel names PyTorch's dtype errors use. */
static const char *math_names[CG_NUM_MATHOPS] = {
    [CG_M_ABS] = "abs_cpu", [CG_M_SIGN] = "sign_cpu", [CG_M_EXP2] = "exp2_cpu", [CG_M_LOG2] = "log2_cpu", [CG_M_LOG10] = "log10_cpu",
    [CG_M_LOG1P] = "log1p_cpu", [CG_M_EXPM1] = "expm1_cpu", [CG_M_SIN] = "sin_cpu", [CG_M_COS] = "cos_cpu",
    [CG_M_TAN] = "tan_cpu", [CG_M_SINH] = "sinh_cpu", [CG_M_COSH] = "cosh_cpu", [CG_M_ASIN] = "asin_cpu",
    [CG_M_ACOS] = "acos_cpu", [CG_M_ATAN] = "atan_cpu", [CG_M_ERF] = "erf_cpu", [CG_M_SINC] = "sinc_cpu", [CG_M_ERFINV] = "erfinv_cpu",
    [CG_M_ASINH] = "asinh_cpu", [CG_M_ACOSH] = "acosh_cpu", [CG_M_ATANH] = "atanh_cpu", [CG_M_ERFC] = "erfc_cpu",
    [CG_M_LGAMMA] = "lgamma_vml_cpu", [CG_M_DIGAMMA] = "digamma", [CG_M_I0] = "i0_vml_cpu", [CG_M_I1] = "i1_cpu",
    [CG_M_POLYGAMMA] = "polygamma", [CG_M_MVLGAMMA] = "lgamma_vml_cpu", [CG_M_LOGIT] = "logit_cpu",
    [CG_M_SIGNBIT] = "signbit_cpu", [CG_M_COPYSIGN] = "copysign_cpu", [CG_M_FMAX] = "fmax_cpu", [CG_M_FMIN] = "fmin_cpu",
    [CG_M_LOGADDEXP2] = "logaddexp2_cpu", [CG_M_GCD] = "gcd_cpu", [CG_M_LDEXP] = "ldexp_cpu", [CG_M_LCM] = "lcm_cpu",
    [CG_M_NEXTAFTER] = "nextafter_cpu", [CG_M_HEAVISIDE] = "heaviside_cpu",
    [CG_M_LSHIFT] = "lshift_cpu", [CG_M_RSHIFT] = "rshift_cpu",
    [CG_M_BITWISE_NOT] = "bitwise_not_cpu", [CG_M_FLOOR] = "floor_vml_cpu", [CG_M_CEIL] = "ceil_vml_cpu",
    [CG_M_ROUND] = "round_vml_cpu", [CG_M_TRUNC] = "trunc_vml_cpu", [CG_M_FRAC] = "frac_cpu", [CG_M_ISNAN] = "isnan", [CG_M_ISINF] = "isinf",
    [CG_M_ISFINITE] = "isfinite", [CG_M_LOGICAL_NOT] = "logical_not_cpu", [CG_M_ATAN2] = "atan2_cpu", [CG_M_FMOD] = "fmod_cpu", [CG_M_HYPOT] = "hypot_cpu",
    [CG_M_LOGADDEXP] = "logaddexp_cpu", [CG_M_XLOGY] = "xlogy_cpu",
    [CG_M_MAXIMUM] = "maximum_cpu", [CG_M_MINIMUM] = "minimum_cpu", [CG_M_FLOOR_DIVIDE] = "div_floor_cpu", [CG_M_TRUNC_DIVIDE] = "div_trunc_cpu",
    [CG_M_REMAINDER] = "remainder_cpu", [CG_M_BITWISE_AND] = "bitwise_and_cpu",
    [CG_M_BITWISE_OR] = "bitwise_or_cpu", [CG_M_BITWISE_XOR] = "bitwise_xor_cpu", [CG_M_EQ] = "eq_cpu",
    [CG_M_NE] = "ne_cpu", [CG_M_LT] = "lt_cpu", [CG_M_LE] = "le_cpu", [CG_M_GT] = "gt_cpu",
    [CG_M_GE] = "ge_cpu", [CG_M_LOGICAL_AND] = "logical_and_cpu", [CG_M_LOGICAL_OR] = "logical_or_cpu",
    [CG_M_LOGICAL_XOR] = "logical_xor_cpu", [CG_M_WHERE] = "where_cpu", [CG_M_CLAMP] = "clamp_cpu",
    [CG_M_LERP] = "lerp_kernel_tensor", [CG_M_FMA] = "addcmul_cpu_out",
    [CG_M_MAXIMUM_GRAD] = "maximum_backward", [CG_M_MINIMUM_GRAD] = "minimum_backward",
    [CG_M_IGAMMA] = "igamma_cpu", [CG_M_IGAMMAC] = "igammac_cpu",
};

cg_loop cg_math_loop(cg_mathop op, cg_dtype dtype) {
    cg_loop loop = op >= CG_M_ERFCX ? cg_special_loop(op, dtype) : math_loops[op][dtype];
    if (!loop)
        cg_error_set(CG_ERR_NOTIMPL, "\"%s\" not implemented for '%s'", math_names[op] ? math_names[op] : "special",
                     cg_dtype_torch_name(dtype));
    return loop;
}
