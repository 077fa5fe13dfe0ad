/* kernels.c -- typed inner loops, generated for each dtype from one source.
 *
 * Every loop has the contiguous fast paths (all operands dense, or one of
 * two inputs a broadcast scalar) and a strided fallback. Strides are in
 * elements of each operand's own dtype.
 */
#include <math.h>

#include "internal.h"

CG_NO_FP_CONTRACT /* no fused products: VECTOR_CLONES */

/* ---- loop shapes ---------------------------------------------------------------- */

#define BINARY_LOOP(NAME, T, EXPR) BINARY_LOOP_FOR(VECTOR_CLONES, NAME, T, EXPR)
#define BINARY_LOOP_FOR(CLONES, NAME, T, EXPR)                                               \
    CLONES static void NAME(int64_t n, char **d, const int64_t *s) {                         \
        T *o = (T *)d[0];                                                                    \
        const T *x = (const T *)d[1], *y = (const T *)d[2];                                  \
        if (s[0] == 1 && s[1] == 1 && s[2] == 1) {                                           \
            for (int64_t i = 0; i < n; i++) { T a = x[i], b = y[i]; o[i] = (EXPR); }         \
        } else if (s[0] == 1 && s[1] == 1 && s[2] == 0) {                                    \
            const T b = *y;                                                                  \
            for (int64_t i = 0; i < n; i++) { T a = x[i]; o[i] = (EXPR); }                   \
        } else if (s[0] == 1 && s[1] == 0 && s[2] == 1) {                                    \
            const T a = *x;                                                                  \
            for (int64_t i = 0; i < n; i++) { T b = y[i]; o[i] = (EXPR); }                   \
        } else if (s[1] == 0 && s[2] == 0) { /* a broadcast gradient over a count: a mean's */ \
            const T a = *x, b = *y, r = (EXPR);                                              \
            for (int64_t i = 0; i < n; i++) o[i * s[0]] = r;                                 \
        } else {                                                                             \
            for (int64_t i = 0; i < n; i++) {                                                \
                T a = x[i * s[1]], b = y[i * s[2]];                                          \
                o[i * s[0]] = (EXPR);                                                        \
            }                                                                                \
        }                                                                                    \
    }

#define UNARY_LOOP(NAME, T, EXPR)                                                            \
    VECTOR_CLONES static void NAME(int64_t n, char **d, const int64_t *s) {                  \
        T *o = (T *)d[0];                                                                    \
        const T *x = (const T *)d[1];                                                        \
        if (s[0] == 1 && s[1] == 1) {                                                        \
            for (int64_t i = 0; i < n; i++) { T a = x[i]; o[i] = (EXPR); }                   \
        } else {                                                                             \
            for (int64_t i = 0; i < n; i++) { T a = x[i * s[1]]; o[i * s[0]] = (EXPR); }     \
        }                                                                                    \
    }

/* Per-dtype math: F(exp) is expf for float, exp for double. */
#define M_f32(fn) fn##f
#define M_f64(fn) fn

#define FLOAT_BINARY(NAME, EXPR_F32, EXPR_F64)                                               \
    BINARY_LOOP(NAME##_f32, float, EXPR_F32)                                                 \
    BINARY_LOOP(NAME##_f64, double, EXPR_F64)
#define FLOAT_UNARY(NAME, EXPR_F32, EXPR_F64)                                                \
    UNARY_LOOP(NAME##_f32, float, EXPR_F32)                                                  \
    UNARY_LOOP(NAME##_f64, double, EXPR_F64)
#define SAME_FLOAT_BINARY(NAME, EXPR) FLOAT_BINARY(NAME, EXPR, EXPR)
#define SAME_FLOAT_UNARY(NAME, EXPR) FLOAT_UNARY(NAME, EXPR, EXPR)

/* ---- binary ---------------------------------------------------------------------- */

/* EXPR(C) spells the op with each operand wrapped in C: integer results wrap
 * on overflow, as PyTorch's do, by computing in uint64_t. */
#define AS_IS(x) (x)
#define AS_U64(x) ((uint64_t)(x))
#define NUM_BINARY(NAME, EXPR)                                                               \
    SAME_FLOAT_BINARY(NAME, EXPR(AS_IS))                                                     \
    BINARY_LOOP(NAME##_i64, int64_t, (int64_t)(EXPR(AS_U64)))
#define ADD(C) C(a) + C(b)
#define SUB(C) C(a) - C(b)
#define MUL(C) C(a) * C(b)

NUM_BINARY(add, ADD)
NUM_BINARY(sub, SUB)
NUM_BINARY(mul, MUL)
BINARY_LOOP(add_b8, uint8_t, a | b)
BINARY_LOOP(mul_b8, uint8_t, a & b)
SAME_FLOAT_BINARY(div, a / b)
FLOAT_BINARY(pow, powf(a, b), pow(a, b))
/* Integer powers by squaring, wrapping on overflow as PyTorch does; a negative
 * exponent gives 0 except for the bases 1 and -1. */
static inline int64_t pow_int64(int64_t a, int64_t b) {
    if (b < 0) return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
    uint64_t r = 1, x = (uint64_t)a;
    for (; b; b >>= 1, x *= x)
        if (b & 1) r *= x;
    return (int64_t)r;
}
BINARY_LOOP(pow_i64, int64_t, pow_int64(a, b))
/* Intel cores take a microcode assist, about a hundred cycles a vector, for
 * each multiply that reads a subnormal float or rounds to one, and a
 * gradient sent back through many tanh or sigmoid steps (an RNN's) shrinks
 * into that range. There their float32 backward loops take each product
 * through float64, where the product of two floats is exact: rounded once,
 * it is IEEE's float32 product, bit for bit, but no multiply meets a
 * subnormal. fma(x, y, -0.0) is x * y, signed zeros included; as a
 * multiply, the compiler would shorten it back to float32. The way costs
 * about four times the plain loop's arithmetic, so a dense loop takes it
 * only for a run of SMALL_RUN elements that holds a small enough operand,
 * found by a scan of that run. */
#define MUL_F32_WIDE(x, y) ((float)fma((double)(x), (double)(y), -0.0))
#define SMALL_RUN 1024

/* Whether x[0..n) holds a nonzero magnitude below the float32 whose bits
 * are `below`. */
static inline bool holds_small(const float *x, int64_t n, uint32_t below) {
    return cg_least_bits((const uint32_t *)x, n, UINT32_MAX, 0) < below - 1u;
}

/* 1 - y * y is 0 or at least 2^-24, so g * (1 - y * y) meets a subnormal
 * only for |g| < 2^-102; y * y, only for |y| < 2^-63, which a run of
 * tanh's outputs seldom holds, and stays in float32. */
#define TANH_BWD_WIDE(a, b) MUL_F32_WIDE(a, 1 - (b) * (b))
#define TANH_SMALL(g, y, n) holds_small(g, n, 0x0c800000u /* 2^-102 */)
/* (g * (1 - y)) * y: with |g| and |y| at least 2^-50, the first product is
 * 0 or at least 2^-74, the second 0 or at least 2^-124. */
#define SIGMOID_BWD_WIDE(a, b) MUL_F32_WIDE(MUL_F32_WIDE(a, 1 - (b)), b)
#define SIGMOID_SMALL(g, y, n) (holds_small(g, n, 0x26800000u /* 2^-50 */) || holds_small(y, n, 0x26800000u))
#define NEAR_SUBNORMAL_LOOP(NAME, EXPR, WIDE, SMALL)                                         \
    BINARY_LOOP_FOR(FMA_CLONES, NAME##_wide, float, WIDE(a, b))                              \
    FMA_CLONES static void NAME(int64_t n, char **d, const int64_t *s) {                     \
        if (s[0] != 1 || s[1] != 1 || s[2] != 1) {                                          \
            NAME##_wide(n, d, s);                                                            \
            return;                                                                          \
        }                                                                                    \
        float *o = (float *)d[0];                                                            \
        const float *x = (const float *)d[1], *y = (const float *)d[2];                      \
        for (int64_t i = 0; i < n; i += SMALL_RUN) {                                         \
            int64_t m = n - i < SMALL_RUN ? n - i : SMALL_RUN;                               \
            if (SMALL(x + i, y + i, m))                                                      \
                for (int64_t j = i; j < i + m; j++) { float a = x[j], b = y[j]; o[j] = WIDE(a, b); } \
            else                                                                             \
                for (int64_t j = i; j < i + m; j++) { float a = x[j], b = y[j]; o[j] = (EXPR); } \
        }                                                                                    \
    }
NEAR_SUBNORMAL_LOOP(tanh_bwd_f32, CG_TANH_BWD(a, b), TANH_BWD_WIDE, TANH_SMALL)
BINARY_LOOP(tanh_bwd_f64, double, CG_TANH_BWD(a, b))
NEAR_SUBNORMAL_LOOP(sigmoid_bwd_f32, CG_SIGMOID_BWD(a, b), SIGMOID_BWD_WIDE, SIGMOID_SMALL)
BINARY_LOOP(sigmoid_bwd_f64, double, CG_SIGMOID_BWD(a, b))
SAME_FLOAT_BINARY(relu_bwd, CG_RELU_BWD(a, b))
SAME_FLOAT_BINARY(add_twice, (a + b) + b)

#define ROW4(name) {name##_f32, name##_f64, NULL, NULL}
static const cg_loop binary_loops[CG_NUM_BINOPS][CG_NUM_DTYPES] = {
    [CG_BIN_ADD] = {add_f32, add_f64, add_i64, add_b8},
    [CG_BIN_SUB] = {sub_f32, sub_f64, sub_i64, NULL},
    [CG_BIN_MUL] = {mul_f32, mul_f64, mul_i64, mul_b8},
    [CG_BIN_DIV] = ROW4(div),
    [CG_BIN_POW] = {pow_f32, pow_f64, pow_i64, NULL},
    [CG_BIN_TANH_BWD] = ROW4(tanh_bwd),
    [CG_BIN_SIGMOID_BWD] = ROW4(sigmoid_bwd),
    [CG_BIN_RELU_BWD] = ROW4(relu_bwd),
    [CG_BIN_ADD_TWICE] = ROW4(add_twice),
};

/* PyTorch's kernel names, as its dtype errors quote them */
static const char *binary_names[CG_NUM_BINOPS] = {
    "add_cpu", "sub_cpu", "mul_cpu", "div_cpu", "pow", "tanh_backward_cpu", "sigmoid_backward_cpu",
    "threshold_backward_cpu", "add_cpu",
};

cg_loop cg_binary_loop(cg_binop op, cg_dtype dtype) {
    cg_loop loop = binary_loops[op][dtype];
    if (!loop)
        cg_error_set(CG_ERR_NOTIMPL, "\"%s\" not implemented for '%s'", binary_names[op],
                     cg_dtype_torch_name(dtype));
    return loop;
}

/* ---- unary ------------------------------------------------------------------------ */

#define NUM_UNARY(NAME, EXPR)                                                                \
    SAME_FLOAT_UNARY(NAME, EXPR(AS_IS))                                                      \
    UNARY_LOOP(NAME##_i64, int64_t, (int64_t)(EXPR(AS_U64)))
#define NEG(C) -C(a)
#define SQUARE(C) C(a) * C(a)
#define CUBE(C) C(a) * C(a) * C(a)
#define COPY(C) C(a)

NUM_UNARY(neg, NEG)
NUM_UNARY(square, SQUARE)
NUM_UNARY(cube, CUBE)
NUM_UNARY(copy, COPY)
UNARY_LOOP(copy_b8, uint8_t, a)
/* exp, log, tanh, sigmoid: the vectorised array functions of vmath.c */
#define VMATH_LOOP(NAME, T, FN)                                                              \
    static void NAME(int64_t n, char **d, const int64_t *s) { FN(n, (const T *)d[1], s[1], (T *)d[0], s[0]); }
#define VMATH(NAME)                                                                          \
    VMATH_LOOP(NAME##_f32, float, cg_v##NAME##_f32)                                          \
    VMATH_LOOP(NAME##_f64, double, cg_v##NAME##_f64)
VMATH(exp)
VMATH(log)
VMATH(tanh)
VMATH(sigmoid)
SAME_FLOAT_UNARY(relu, a < 0 ? 0 : a) /* NaN and -0.0 pass through, as in PyTorch */
UNARY_LOOP(relu_i64, int64_t, a > 0 ? a : 0)
FLOAT_UNARY(sqrt, sqrtf(a), sqrt(a))
FLOAT_UNARY(rsqrt, 1 / sqrtf(a), 1 / sqrt(a))
SAME_FLOAT_UNARY(reciprocal, 1 / a)

static const cg_loop unary_loops[CG_NUM_UNOPS][CG_NUM_DTYPES] = {
    [CG_UN_NEG] = {neg_f32, neg_f64, neg_i64, NULL},
    [CG_UN_EXP] = ROW4(exp),
    [CG_UN_LOG] = ROW4(log),
    [CG_UN_TANH] = ROW4(tanh),
    [CG_UN_SIGMOID] = ROW4(sigmoid),
    [CG_UN_RELU] = {relu_f32, relu_f64, relu_i64, NULL},
    [CG_UN_SQUARE] = {square_f32, square_f64, square_i64, NULL},
    [CG_UN_CUBE] = {cube_f32, cube_f64, cube_i64, NULL},
    [CG_UN_SQRT] = ROW4(sqrt),
    [CG_UN_RSQRT] = ROW4(rsqrt),
    [CG_UN_RECIPROCAL] = ROW4(reciprocal),
    [CG_UN_COPY] = {copy_f32, copy_f64, copy_i64, copy_b8},
};

static const char *unary_names[CG_NUM_UNOPS] = {
    "neg", "exp", "log", "tanh", "sigmoid", "relu", "square", "pow", "sqrt", "rsqrt", "reciprocal", "copy",
};

cg_loop cg_unary_loop(cg_unop op, cg_dtype dtype) {
    cg_loop loop = unary_loops[op][dtype];
    if (!loop)
        cg_error_set(CG_ERR_NOTIMPL, "\"%s_cpu\" not implemented for '%s'", unary_names[op],
                     cg_dtype_torch_name(dtype));
    return loop;
}

/* ---- casts -------------------------------------------------------------------------- */

#define CAST_LOOP(NAME, TO, FROM, EXPR)                                                      \
    static void NAME(int64_t n, char **d, const int64_t *s) {                                \
        TO *o = (TO *)d[0];                                                                  \
        const FROM *x = (const FROM *)d[1];                                                  \
        for (int64_t i = 0; i < n; i++) { FROM a = x[i * s[1]]; o[i * s[0]] = (TO)(EXPR); }   \
    }
#define CAST_FROM(FROM, SUFFIX)                                                              \
    CAST_LOOP(cast_f32_##SUFFIX, float, FROM, a)                                             \
    CAST_LOOP(cast_f64_##SUFFIX, double, FROM, a)                                            \
    CAST_LOOP(cast_i64_##SUFFIX, int64_t, FROM, a)                                           \
    CAST_LOOP(cast_b8_##SUFFIX, uint8_t, FROM, a != 0)
CAST_FROM(float, f32)
CAST_FROM(double, f64)
CAST_FROM(int64_t, i64)
CAST_FROM(uint8_t, b8)

static const cg_loop cast_loops[CG_NUM_DTYPES][CG_NUM_DTYPES] = {
    {cast_f32_f32, cast_f32_f64, cast_f32_i64, cast_f32_b8},
    {cast_f64_f32, cast_f64_f64, cast_f64_i64, cast_f64_b8},
    {cast_i64_f32, cast_i64_f64, cast_i64_i64, cast_i64_b8},
    {cast_b8_f32, cast_b8_f64, cast_b8_i64, cast_b8_b8},
};

cg_loop cg_cast_loop(cg_dtype dst, cg_dtype src) {
    if (dst == src) return unary_loops[CG_UN_COPY][dst];
    return cast_loops[dst][src];
}

/* ---- fill ------------------------------------------------------------------------------ */

#define FILL_LOOP(NAME, T)                                                                   \
    static void NAME(int64_t n, char **d, const int64_t *s) {                                \
        T *o = (T *)d[0];                                                                    \
        const T v = *(const T *)d[1];                                                        \
        if (s[0] == 1)                                                                       \
            for (int64_t i = 0; i < n; i++) o[i] = v;                                        \
        else                                                                                 \
            for (int64_t i = 0; i < n; i++) o[i * s[0]] = v;                                 \
    }
FILL_LOOP(fill_f32, float)
FILL_LOOP(fill_f64, double)
FILL_LOOP(fill_i64, int64_t)
FILL_LOOP(fill_b8, uint8_t)
static const cg_loop fill_loops[CG_NUM_DTYPES] = {fill_f32, fill_f64, fill_i64, fill_b8};

/* value in dtype, as a fill writes it */
static void fill_value(cg_dtype dtype, double value, void *out) {
    switch (dtype) {
    case CG_FLOAT32: *(float *)out = (float)value; break;
    case CG_FLOAT64: *(double *)out = value; break;
    case CG_INT64: *(int64_t *)out = (int64_t)value; break;
    case CG_BOOL: *(uint8_t *)out = value != 0; break;
    }
}

/* While recording, the value is a constant tensor, so the fill is an
 * element-wise loop like any other. */
static void record_fill(cg_tensor *t, double value) {
    cg_tensor *v = cg_empty(NULL, 0, (cg_dtype)t->dtype);
    if (!v) {
        cg_tape_break("out of memory while recording");
        return;
    }
    fill_value((cg_dtype)t->dtype, value, cg_ptr(v));
    cg_tape_constant(v);
    cg_run_loop(fill_loops[t->dtype], t, &v, 1);
    cg_tensor_release(v);
}

void cg_fill_raw(cg_tensor *t, double value) {
    if (CG_RECORDING()) {
        record_fill(t, value);
        return;
    }
    union {
        float f;
        double d;
        int64_t i;
        uint8_t b;
    } v;
    fill_value((cg_dtype)t->dtype, value, &v);
    cg_storage tmp_storage = {.refcount = 1, .data = &v};
    cg_tensor tmp = {.refcount = 1, .storage = &tmp_storage, .numel = 1, .dtype = t->dtype};
    cg_tensor *ins[1] = {&tmp};
    cg_run_loop(fill_loops[t->dtype], t, ins, 1);
}
