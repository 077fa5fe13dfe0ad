/* ops_math.c -- element-wise math, comparisons and logic: forward and backward
 * side by side.
 *
 * Comparisons, logic and bitwise ops give bool or integer results and never
 * record. The math ops record a node when an input requires grad; their
 * backward formulas are written with op functions (through the scratch
 * helpers below), so with create_graph they record too and higher-order
 * gradients come free.
 */
#include <float.h>
#include <math.h>

#include "internal.h"

/* ---- a formula's temporaries ------------------------------------------------------ */

/* A backward formula is a nest of op calls; scratch keeps every intermediate
 * so that one drop() releases them all. The op helpers pass NULL through
 * (an op that failed has set the error), so a formula needs no checks until
 * its end. The helpers are spelled as macros over a `scratch *s` in scope. */
#define SCRATCH_MAX 32
typedef struct scratch {
    cg_tensor *t[SCRATCH_MAX];
    int n;
} scratch;

static cg_tensor *keep(scratch *s, cg_tensor *t) {
    if (t && s->n == SCRATCH_MAX) {
        cg_tensor_release(t);
        cg_error_set(CG_ERR_RUNTIME, "ops_math: too many temporaries in one formula");
        return NULL;
    }
    if (t) s->t[s->n++] = t;
    return t;
}

static void drop(scratch *s) {
    for (int i = 0; i < s->n; i++) cg_tensor_release(s->t[i]);
    s->n = 0;
}

/* r outlives drop(): a new reference, or NULL. */
static cg_tensor *take(cg_tensor *r) {
    if (r) cg_tensor_retain(r);
    return r;
}

typedef cg_tensor *(*fn1)(cg_tensor *);
typedef cg_tensor *(*fn2)(cg_tensor *, cg_tensor *);

static cg_tensor *number(double v, cg_tensor *like) { return cg_scalar_tensor(v, CG_FLOAT64, like); }

static cg_tensor *op1(scratch *s, fn1 f, cg_tensor *a) { return a ? keep(s, f(a)) : NULL; }
static cg_tensor *op2(scratch *s, fn2 f, cg_tensor *a, cg_tensor *b) { return a && b ? keep(s, f(a, b)) : NULL; }
static cg_tensor *opn(scratch *s, fn2 f, cg_tensor *a, double v) {
    return a ? op2(s, f, a, keep(s, number(v, a))) : NULL;
}
static cg_tensor *op3(scratch *s, cg_tensor *(*f)(cg_tensor *, cg_tensor *, cg_tensor *), cg_tensor *a,
                      cg_tensor *b, cg_tensor *c) {
    return a && b && c ? keep(s, f(a, b, c)) : NULL;
}

#define F(fn, a) op1(s, fn, (a))
#define ADD(a, b) op2(s, cg_add, (a), (b))
#define SUB(a, b) op2(s, cg_sub, (a), (b))
#define MUL(a, b) op2(s, cg_mul, (a), (b))
#define DIV(a, b) op2(s, cg_div, (a), (b))
#define NEG(a) op1(s, cg_neg, (a))
#define ADDN(a, v) opn(s, cg_add, (a), (v))
#define MULN(a, v) opn(s, cg_mul, (a), (v))
#define RSUBN(a, v) opn(s, cg_rsub, (a), (v)) /* v - a */
#define EQN(a, v) opn(s, cg_eq, (a), (v))
#define LEN(a, v) opn(s, cg_le, (a), (v))
#define LTN(a, v) opn(s, cg_lt, (a), (v))
#define GTN(a, v) opn(s, cg_gt, (a), (v))
#define OR(a, b) op2(s, cg_logical_or, (a), (b))
#define WHERE(c, a, b) op3(s, cg_where, (c), (a), (b))
#define ZERO(like) keep(s, number(0.0, (like)))
#define UNPACK(slot) keep(s, cg_unpack(n, (slot)))

/* ---- raw results and recording ------------------------------------------------------ */

static cg_dtype floating_dtype(const cg_tensor *a) {
    return cg_dtype_is_floating((cg_dtype)a->dtype) ? (cg_dtype)a->dtype : cg_get_default_dtype();
}

/* PyTorch's result type over three operands, NULL ones skipped: dimensioned
 * tensors decide, then 0-d tensors, then wrapped numbers, a lower class
 * counting only when it holds a higher category (bool < integer < floating). */
static int category(int d) { return d == CG_BOOL ? 0 : d == CG_INT64 ? 1 : 2; }
static int combine(int higher, int lower) {
    if (higher < 0) return lower;
    if (lower < 0) return higher;
    return category(lower) > category(higher) ? lower : higher;
}
static cg_dtype result_type3(const cg_tensor *a, const cg_tensor *b, const cg_tensor *c) {
    const cg_tensor *ts[3] = {a, b, c};
    int cls[3] = {-1, -1, -1}; /* dimensioned, 0-d, wrapped number */
    for (int k = 0; k < 3; k++) {
        if (!ts[k]) continue;
        int d = ts[k]->dtype, which = ts[k]->is_wrapped ? 2 : ts[k]->ndim == 0 ? 1 : 0;
        if (ts[k]->is_wrapped && category(d) == 2) d = cg_get_default_dtype();
        cls[which] = cls[which] < 0 ? d : (int)cg_promote_types((cg_dtype)cls[which], (cg_dtype)d);
    }
    return (cg_dtype)combine(cls[0], combine(cls[1], cls[2]));
}

/* The shape ins[0..n) broadcast to, taken in order (PyTorch's error names
 * the first pair that does not broadcast). */
static int broadcast_all(cg_tensor *const *ins, int n, int64_t *shape, int *nd) {
    int64_t tmp[CG_MAX_DIMS];
    *nd = ins[0]->ndim;
    memcpy(shape, ins[0]->shape, sizeof(int64_t) * (size_t)*nd);
    for (int k = 1; k < n; k++) {
        if (cg_broadcast_shapes(shape, *nd, ins[k]->shape, ins[k]->ndim, tmp, nd)) return -1;
        memcpy(shape, tmp, sizeof(int64_t) * (size_t)*nd);
    }
    return 0;
}

/* op over ins[0..n) broadcast together and cast to dtype (where's condition
 * stays bool), into a new tensor of out_dtype. No autograd. */
static cg_tensor *kernel_raw(cg_mathop op, cg_tensor *const *ins, int n, cg_dtype dtype, cg_dtype out_dtype) {
    cg_loop loop = cg_math_loop(op, dtype);
    int64_t shape[CG_MAX_DIMS];
    int nd;
    if (!loop || broadcast_all(ins, n, shape, &nd)) return NULL;
    cg_tensor *cast[CG_ITER_MAX_OPS] = {NULL}, *out = NULL;
    int k = 0;
    for (; k < n; k++)
        if (!(cast[k] = cg_cast_raw(ins[k], op == CG_M_WHERE && k == 0 ? CG_BOOL : dtype))) break;
    if (k == n && (out = cg_empty(shape, nd, out_dtype))) cg_run_loop(loop, out, cast, n);
    for (int j = 0; j < n; j++) cg_tensor_release(cast[j]);
    return out;
}

static cg_tensor *fail(cg_tensor *out, cg_node *n) {
    cg_tensor_release(out);
    cg_node_release(n);
    return NULL;
}

#define SAVE_IN(k) (1u << (k)) /* slot k: input k */
#define SAVE_OUT 8u            /* slot 2: the output (not with a third saved input) */

/* out (already computed) becomes the result of op over ins, saving what
 * `save` asks for, when grad mode is on and an input requires grad. */
static cg_tensor *record(const cg_op *op, cg_tensor *out, cg_tensor *const *ins, int nin, unsigned save) {
    if (!out || !cg_any_requires_grad(ins, nin)) return out;
    cg_node *n = cg_node_new(op, ins, nin, 1);
    if (!n) return fail(out, NULL);
    for (int k = 0; k < nin; k++)
        if ((save & SAVE_IN(k)) && cg_save(n, k, ins[k], false)) return fail(out, n);
    if ((save & SAVE_OUT) && cg_save(n, 2, out, true)) return fail(out, n);
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* g summed to `shape` and cast to dtype d; steals g. For inputs past the two
 * whose shape and dtype a node records. */
static cg_tensor *reduce_to(cg_tensor *g, const int64_t *shape, int ndim, cg_dtype d) {
    if (!g) return NULL;
    cg_tensor *r = g;
    if (!cg_shape_eq(g->shape, g->ndim, shape, ndim)) {
        r = cg_sum_to(g, shape, ndim);
        cg_tensor_release(g);
        if (!r) return NULL;
    }
    if (r->dtype != d) {
        cg_tensor *c = cg_to_dtype(r, d);
        cg_tensor_release(r);
        r = c;
    }
    return r;
}

static cg_tensor *reduce_like(cg_tensor *g, const cg_tensor *t) {
    return t ? reduce_to(g, t->shape, t->ndim, (cg_dtype)t->dtype) : (cg_tensor_release(g), NULL);
}

/* 0 when every wanted input got its gradient. */
static int check_grads(cg_node *n, cg_tensor **gin) {
    for (int i = 0; i < n->n_next; i++)
        if (cg_wants(n, i) && !gin[i]) return -1;
    return 0;
}

/* ---- unary math --------------------------------------------------------------------- */

/* The gradient of a unary op from the upstream g, its input x and its output y
 * (NULL unless the op saves them). */
typedef cg_tensor *(*unary_grad)(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y);

typedef struct unary_def {
    cg_op op; /* first: the node's op points here */
    unary_grad grad;
    cg_mathop kernel;
    cg_unop core_kernel; /* a kernels.c loop instead, unless CG_NUM_UNOPS */
    unsigned save;       /* SAVE_IN(0) and/or SAVE_OUT */
    bool keeps_integers; /* integer inputs keep their dtype, else they compute in floating point */
} unary_def;

static int unary_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    const unary_def *def = (const unary_def *)n->op;
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *x = def->save & SAVE_IN(0) ? UNPACK(0) : NULL;
    cg_tensor *y = def->save & SAVE_OUT ? UNPACK(2) : NULL;
    bool ok = (x || !(def->save & SAVE_IN(0))) && (y || !(def->save & SAVE_OUT));
    gin[0] = ok ? take(def->grad(s, gout[0], x, y)) : NULL;
    drop(s);
    return gin[0] ? 0 : -1;
}

static cg_tensor *unary_forward(const unary_def *def, cg_tensor *a) {
    cg_dtype d = def->keeps_integers ? (cg_dtype)a->dtype : floating_dtype(a);
    cg_tensor *out;
    if (def->core_kernel == CG_NUM_UNOPS) {
        out = kernel_raw(def->kernel, &a, 1, d, d);
    } else {
        cg_tensor *f = cg_cast_raw(a, d);
        out = f ? cg_unary_raw(def->core_kernel, f) : NULL;
        cg_tensor_release(f);
    }
    return record(&def->op, out, &a, 1, def->save);
}

/* d/dx abs(x) = sign(x) */
static cg_tensor *abs_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, F(cg_sign, x));
}
/* d/dx sign(x) = 0 */
static cg_tensor *sign_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)x, (void)y;
    return keep(s, cg_zeros(g->shape, g->ndim, (cg_dtype)g->dtype));
}
/* floor, ceil, round and trunc are steps: their derivative is 0, as sign's */
#define floor_grad sign_grad
#define ceil_grad sign_grad
#define round_grad sign_grad
#define trunc_grad sign_grad
#define sgn_grad sign_grad /* sgn of a real number is its sign */
/* d/dx (x - trunc(x)) = 1 */
static cg_tensor *frac_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)s, (void)x, (void)y;
    return g;
}
/* d/dx 2^x = 2^x ln 2 */
static cg_tensor *exp2_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)x;
    return MUL(g, MULN(y, M_LN2));
}
/* d/dx log2(x) = 1 / (x ln 2) */
static cg_tensor *log2_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return DIV(g, MULN(x, M_LN2));
}
/* d/dx log10(x) = 1 / (x ln 10) */
static cg_tensor *log10_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return DIV(g, MULN(x, M_LN10));
}
/* d/dx log(1 + x) = 1 / (1 + x) */
static cg_tensor *log1p_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return DIV(g, ADDN(x, 1.0));
}
/* d/dx (e^x - 1) = e^x = y + 1 */
static cg_tensor *expm1_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)x;
    return MUL(g, ADDN(y, 1.0));
}
/* d/dx sqrt(x) = 1 / (2 sqrt(x)) */
static cg_tensor *sqrt_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)x;
    return DIV(g, MULN(y, 2.0));
}
/* d/dx x^(-1/2) = -x^(-3/2) / 2 = -y^3 / 2 */
static cg_tensor *rsqrt_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)x;
    cg_tensor *y3 = y ? keep(s, cg_pow_scalar(y, 3.0)) : NULL;
    return MUL(g, MULN(y3, -0.5));
}
/* d/dx sin(x) = cos(x) */
static cg_tensor *sin_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, F(cg_cos, x));
}
/* d/dx cos(x) = -sin(x) */
static cg_tensor *cos_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return NEG(MUL(g, F(cg_sin, x)));
}
/* d/dx tan(x) = 1 + tan(x)^2 */
static cg_tensor *tan_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)x;
    return MUL(g, ADDN(F(cg_square, y), 1.0));
}
/* d/dx sinh(x) = cosh(x) */
static cg_tensor *sinh_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, F(cg_cosh, x));
}
/* d/dx cosh(x) = sinh(x) */
static cg_tensor *cosh_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, F(cg_sinh, x));
}
/* d/dx asin(x) = 1 / sqrt(1 - x^2) */
static cg_tensor *asin_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, F(cg_rsqrt, RSUBN(F(cg_square, x), 1.0)));
}
/* d/dx acos(x) = -1 / sqrt(1 - x^2) */
static cg_tensor *acos_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return NEG(MUL(g, F(cg_rsqrt, RSUBN(F(cg_square, x), 1.0))));
}
/* d/dx atan(x) = 1 / (1 + x^2) */
static cg_tensor *atan_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return DIV(g, ADDN(F(cg_square, x), 1.0));
}
/* d/dx asinh(x) = 1 / sqrt(x^2 + 1) */
static cg_tensor *asinh_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, F(cg_rsqrt, ADDN(F(cg_square, x), 1.0)));
}
/* d/dx acosh(x) = 1 / sqrt(x^2 - 1), as PyTorch: x^2 - 1, not (x - 1)(x + 1) */
static cg_tensor *acosh_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, F(cg_rsqrt, ADDN(F(cg_square, x), -1.0)));
}
/* d/dx atanh(x) = 1 / (1 - x^2) */
static cg_tensor *atanh_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return DIV(g, RSUBN(F(cg_square, x), 1.0));
}
/* d/dx erf(x) = 2 / sqrt(pi) * exp(-x^2) */
static cg_tensor *erf_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, MULN(F(cg_exp, NEG(F(cg_square, x))), M_2_SQRTPI));
}
/* d/dx erfc(x) = -2 / sqrt(pi) * exp(-x^2) */
static cg_tensor *erfc_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, MULN(F(cg_exp, NEG(F(cg_square, x))), -M_2_SQRTPI));
}
/* d/dx sin(pi x) / (pi x) = (pi x cos(pi x) - sin(pi x)) / (pi x^2), and 0 at x = 0 */
static cg_tensor *sinc_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    cg_tensor *px = MULN(x, M_PI), *pxx = MULN(MUL(x, x), M_PI);
    cg_tensor *d = DIV(MUL(g, SUB(MUL(px, F(cg_cos, px)), F(cg_sin, px))), pxx);
    return WHERE(EQN(pxx, 0.0), ZERO(g), d);
}
/* d/dx erfinv(x) = sqrt(pi) / 2 * exp(erfinv(x)^2), erfinv recomputed from x as PyTorch does */
static cg_tensor *erfinv_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(MULN(F(cg_exp, F(cg_square, F(cg_erfinv, x))), 0.5 * sqrt(M_PI)), g);
}
/* d/dx lgamma(x) = digamma(x) */
static cg_tensor *lgamma_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, F(cg_digamma, x));
}
/* d/dx digamma(x) = polygamma(1, x) */
static cg_tensor *digamma_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, keep(s, cg_polygamma(1, x)));
}
/* d/dx I0(x) = I1(x) */
static cg_tensor *i0_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, F(cg_special_i1, x));
}
/* d/dx I1(x) = I0(x) - I1(x) / x, and 1/2 where |x| <= epsilon (as PyTorch, which
 * also keeps the unused branch finite there, for the gradient of where) */
static cg_tensor *special_i1_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    double eps = x->dtype == CG_FLOAT32 ? FLT_EPSILON : DBL_EPSILON;
    cg_tensor *tiny = LEN(F(cg_abs, x), eps);
    cg_tensor *safe = WHERE(tiny, keep(s, number(eps, x)), x);
    cg_tensor *d = SUB(F(cg_i0, safe), DIV(y, safe));
    return MUL(g, WHERE(tiny, keep(s, number(0.5, x)), d));
}
/* d/dx (1/x) = -1/x^2 = -y^2 */
static cg_tensor *reciprocal_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)x;
    return MUL(NEG(g), F(cg_square, y));
}

#define X SAVE_IN(0)
#define Y SAVE_OUT
#define NONE CG_NUM_UNOPS
#define UNARY(name, torch_name, kernel, core, save, keeps)                                    \
    static const unary_def name##_def = {{torch_name, unary_backward, NULL}, name##_grad, kernel, \
                                         core, save, keeps};                                   \
    cg_tensor *cg_##name(cg_tensor *a) { return unary_forward(&name##_def, a); }

UNARY(abs, "AbsBackward0", CG_M_ABS, NONE, X, true)
UNARY(sign, "SignBackward0", CG_M_SIGN, NONE, 0, true)
UNARY(sgn, "SgnBackward0", CG_M_SIGN, NONE, 0, true)
UNARY(floor, "FloorBackward0", CG_M_FLOOR, NONE, 0, true)
UNARY(ceil, "CeilBackward0", CG_M_CEIL, NONE, 0, true)
UNARY(round, "RoundBackward0", CG_M_ROUND, NONE, 0, true)
UNARY(trunc, "TruncBackward0", CG_M_TRUNC, NONE, 0, true)
UNARY(frac, "FracBackward0", CG_M_FRAC, NONE, 0, true)
UNARY(exp2, "Exp2Backward0", CG_M_EXP2, NONE, Y, false)
UNARY(log2, "Log2Backward0", CG_M_LOG2, NONE, X, false)
UNARY(log10, "Log10Backward0", CG_M_LOG10, NONE, X, false)
UNARY(log1p, "Log1PBackward0", CG_M_LOG1P, NONE, X, false)
UNARY(expm1, "Expm1Backward0", CG_M_EXPM1, NONE, Y, false)
UNARY(sqrt, "SqrtBackward0", CG_NUM_MATHOPS, CG_UN_SQRT, Y, false)
UNARY(rsqrt, "RsqrtBackward0", CG_NUM_MATHOPS, CG_UN_RSQRT, Y, false)
UNARY(sin, "SinBackward0", CG_M_SIN, NONE, X, false)
UNARY(cos, "CosBackward0", CG_M_COS, NONE, X, false)
UNARY(tan, "TanBackward0", CG_M_TAN, NONE, Y, false)
UNARY(sinh, "SinhBackward0", CG_M_SINH, NONE, X, false)
UNARY(cosh, "CoshBackward0", CG_M_COSH, NONE, X, false)
UNARY(asin, "AsinBackward0", CG_M_ASIN, NONE, X, false)
UNARY(acos, "AcosBackward0", CG_M_ACOS, NONE, X, false)
UNARY(atan, "AtanBackward0", CG_M_ATAN, NONE, X, false)
UNARY(asinh, "AsinhBackward0", CG_M_ASINH, NONE, X, false)
UNARY(acosh, "AcoshBackward0", CG_M_ACOSH, NONE, X, false)
UNARY(atanh, "AtanhBackward0", CG_M_ATANH, NONE, X, false)
UNARY(erf, "ErfBackward0", CG_M_ERF, NONE, X, false)
UNARY(erfc, "ErfcBackward0", CG_M_ERFC, NONE, X, false)
UNARY(sinc, "SincBackward0", CG_M_SINC, NONE, X, false)
UNARY(erfinv, "ErfinvBackward0", CG_M_ERFINV, NONE, X, false)
UNARY(lgamma, "LgammaBackward0", CG_M_LGAMMA, NONE, X, false)
UNARY(digamma, "DigammaBackward0", CG_M_DIGAMMA, NONE, X, false)
UNARY(i0, "I0Backward0", CG_M_I0, NONE, X, false)
UNARY(special_i1, "SpecialI1Backward0", CG_M_I1, NONE, X | Y, false)
UNARY(reciprocal, "ReciprocalBackward0", CG_NUM_MATHOPS, CG_UN_RECIPROCAL, Y, false)
#undef X
#undef Y
#undef NONE

/* x^2 is PyTorch's pow(x, 2) (PowBackward0); integers stay integers, bool becomes int64. */
cg_tensor *cg_square(cg_tensor *a) {
    if (cg_dtype_is_floating((cg_dtype)a->dtype)) return cg_pow_scalar(a, 2.0);
    cg_tensor *i = cg_cast_raw(a, CG_INT64);
    cg_tensor *out = i ? cg_unary_raw(CG_UN_SQUARE, i) : NULL;
    cg_tensor_release(i);
    return out;
}

/* ---- comparisons and logic ------------------------------------------------------------ */

static cg_tensor *compare(cg_mathop op, cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    return kernel_raw(op, ins, 2, cg_result_type(a, b), CG_BOOL);
}

cg_tensor *cg_eq(cg_tensor *a, cg_tensor *b) { return compare(CG_M_EQ, a, b); }
cg_tensor *cg_ne(cg_tensor *a, cg_tensor *b) { return compare(CG_M_NE, a, b); }
cg_tensor *cg_lt(cg_tensor *a, cg_tensor *b) { return compare(CG_M_LT, a, b); }
cg_tensor *cg_le(cg_tensor *a, cg_tensor *b) { return compare(CG_M_LE, a, b); }
cg_tensor *cg_gt(cg_tensor *a, cg_tensor *b) { return compare(CG_M_GT, a, b); }
cg_tensor *cg_ge(cg_tensor *a, cg_tensor *b) { return compare(CG_M_GE, a, b); }
cg_tensor *cg_logical_and(cg_tensor *a, cg_tensor *b) { return compare(CG_M_LOGICAL_AND, a, b); }
cg_tensor *cg_logical_or(cg_tensor *a, cg_tensor *b) { return compare(CG_M_LOGICAL_OR, a, b); }
cg_tensor *cg_logical_xor(cg_tensor *a, cg_tensor *b) { return compare(CG_M_LOGICAL_XOR, a, b); }

static cg_tensor *test(cg_mathop op, cg_tensor *a) { return kernel_raw(op, &a, 1, (cg_dtype)a->dtype, CG_BOOL); }

cg_tensor *cg_logical_not(cg_tensor *a) { return test(CG_M_LOGICAL_NOT, a); }
cg_tensor *cg_isnan(cg_tensor *a) { return test(CG_M_ISNAN, a); }
cg_tensor *cg_isinf(cg_tensor *a) { return test(CG_M_ISINF, a); }
cg_tensor *cg_isfinite(cg_tensor *a) { return test(CG_M_ISFINITE, a); }

cg_tensor *cg_bitwise_not(cg_tensor *a) {
    return kernel_raw(CG_M_BITWISE_NOT, &a, 1, (cg_dtype)a->dtype, (cg_dtype)a->dtype);
}

static cg_tensor *bitwise(cg_mathop op, cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    return kernel_raw(op, ins, 2, d, d);
}

cg_tensor *cg_bitwise_and(cg_tensor *a, cg_tensor *b) { return bitwise(CG_M_BITWISE_AND, a, b); }
cg_tensor *cg_bitwise_or(cg_tensor *a, cg_tensor *b) { return bitwise(CG_M_BITWISE_OR, a, b); }
cg_tensor *cg_bitwise_xor(cg_tensor *a, cg_tensor *b) { return bitwise(CG_M_BITWISE_XOR, a, b); }

/* ---- fused derivatives ------------------------------------------------------------------ */

/* pick_grad(kernel, g, x, y): the share of the upstream g that x receives
 * from an op that picks among candidates (maximum, minimum; see
 * kernels_math.c). It is linear in g and piecewise constant in x and y, so
 * its derivative is itself applied to the incoming gradient; x and y are
 * saved, not differentiated. */
static cg_tensor *pick_grad(cg_mathop kernel, cg_tensor *g, cg_tensor *x, cg_tensor *y);

static int pick_grad_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dg pick(g, x, y) = pick(1, x, y) */
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *x = UNPACK(1), *y = UNPACK(2);
    gin[0] = x && y ? cg_reduce_grad(n, 0, pick_grad((cg_mathop)n->i[0], gout[0], x, y)) : NULL;
    drop(s);
    return gin[0] ? 0 : -1;
}
static const cg_op maximum_grad_op = {"MaximumBackwardBackward0", pick_grad_backward, NULL};
static const cg_op minimum_grad_op = {"MinimumBackwardBackward0", pick_grad_backward, NULL};

static cg_tensor *pick_grad(cg_mathop kernel, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    cg_tensor *ins[3] = {g, x, y};
    cg_dtype d = result_type3(g, x, y);
    cg_tensor *out = kernel_raw(kernel, ins, 3, d, d);
    if (!out || !cg_any_requires_grad(&g, 1)) return out;
    const cg_op *op = kernel == CG_M_MAXIMUM_GRAD ? &maximum_grad_op : &minimum_grad_op;
    cg_node *n = cg_node_new(op, &g, 1, 1);
    if (!n || cg_save(n, 1, x, false) || cg_save(n, 2, y, false)) return fail(out, n);
    n->i[0] = kernel;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* ---- atan2, maximum, minimum ---------------------------------------------------------- */

static int atan2_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da atan2(a, b) = b / (a^2 + b^2), d/db = -a / (a^2 + b^2); both 0 where a^2 + b^2 is 0 (the
     * origin, or a square that underflows), as PyTorch takes them */
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *a = UNPACK(0), *b = UNPACK(1), *g = gout[0];
    cg_tensor *d = ADD(F(cg_square, a), F(cg_square, b));
    cg_tensor *r = WHERE(EQN(d, 0.0), ZERO(d), F(cg_reciprocal, d));
    if (cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, take(MUL(g, MUL(b, r))));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(MUL(g, MUL(NEG(a), r))));
    drop(s);
    return check_grads(n, gin);
}
static const cg_op atan2_op = {"Atan2Backward0", atan2_backward, NULL};

cg_tensor *cg_atan2(cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    if (!cg_dtype_is_floating(d)) d = cg_get_default_dtype();
    return record(&atan2_op, kernel_raw(CG_M_ATAN2, ins, 2, d, d), ins, 2, SAVE_IN(0) | SAVE_IN(1));
}

static int extremum_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin);
static const cg_op maximum_op = {"MaximumBackward0", extremum_backward, NULL};
static const cg_op minimum_op = {"MinimumBackward0", extremum_backward, NULL};

static int extremum_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da max(a, b) = [a > b] + [a == b] / 2, and likewise for b and for min */
    scratch sc = {.n = 0}, *s = &sc;
    cg_mathop k = n->op == &maximum_op ? CG_M_MAXIMUM_GRAD : CG_M_MINIMUM_GRAD;
    cg_tensor *a = UNPACK(0), *b = UNPACK(1);
    if (a && b && cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, pick_grad(k, gout[0], a, b));
    if (a && b && cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, pick_grad(k, gout[0], b, a));
    drop(s);
    return check_grads(n, gin);
}

static cg_tensor *extremum(const cg_op *op, cg_mathop kernel, cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    return record(op, kernel_raw(kernel, ins, 2, d, d), ins, 2, SAVE_IN(0) | SAVE_IN(1));
}

cg_tensor *cg_maximum(cg_tensor *a, cg_tensor *b) { return extremum(&maximum_op, CG_M_MAXIMUM, a, b); }
cg_tensor *cg_minimum(cg_tensor *a, cg_tensor *b) { return extremum(&minimum_op, CG_M_MINIMUM, a, b); }

/* ---- floor_divide, remainder ---------------------------------------------------------- */

static int floor_divide_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n, (void)gout, (void)gin; /* piecewise constant, and PyTorch defines no derivative */
    cg_error_set(CG_ERR_RUNTIME, "derivative for aten::floor_divide is not implemented");
    return -1;
}
static const cg_op floor_divide_op = {"torch::autograd::NotImplemented", floor_divide_backward, NULL};

static int rremainder_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n, (void)gout, (void)gin; /* number % tensor: PyTorch defines no derivative */
    cg_error_set(CG_ERR_RUNTIME, "derivative for aten::remainder is not implemented");
    return -1;
}
static const cg_op rremainder_op = {"torch::autograd::NotImplemented", rremainder_backward, NULL};

/* t[0] = a contiguous bool tensor: an error if any element is set */
static int no_zero_divisor(const cg_kargs *k) {
    const cg_tensor *zero = k->t[0];
    if (zero->numel > 0 && memchr(cg_ptr(zero), 1, (size_t)zero->numel) != NULL) {
        cg_error_set(CG_ERR_RUNTIME, "ZeroDivisionError");
        return -1;
    }
    return 0;
}

/* op(a, b) in the promoted dtype; integer division by zero is an error, unless
 * the result is empty (no division is then carried out). */
static cg_tensor *division_raw(cg_mathop op, cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    if (!cg_math_loop(op, d)) return NULL;
    int64_t shape[CG_MAX_DIMS];
    int nd;
    if (cg_broadcast_shapes(a->shape, a->ndim, b->shape, b->ndim, shape, &nd)) return NULL;
    if (!cg_dtype_is_floating(d) && cg_shape_numel(shape, nd) > 0) {
        cg_tensor *zero = cg_logical_not(b);
        int rc = zero ? cg_kernel(no_zero_divisor, &(cg_kargs){.name = "a division check", .t = {zero}}) : -1;
        cg_tensor_release(zero);
        if (rc) return NULL;
    }
    return kernel_raw(op, ins, 2, d, d);
}

cg_tensor *cg_floor_divide(cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    return record(&floor_divide_op, division_raw(CG_M_FLOOR_DIVIDE, a, b), ins, 2, 0);
}

/* A piecewise constant op (div with a rounding mode, round to decimals):
 * zeros for each of its (at most two) operands. */
static int step_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)gout;
    for (int i = 0; i < n->n_next && i < 2; i++)
        if (cg_wants(n, i) && !(gin[i] = cg_zeros(n->in_shape[i].d, n->in_shape[i].ndim, (cg_dtype)n->in_dtype[i])))
            return -1;
    return 0;
}
static const cg_op div_rounded_op = {"DivBackward2", step_backward, NULL};

cg_tensor *cg_div_floor(cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    return record(&div_rounded_op, division_raw(CG_M_FLOOR_DIVIDE, a, b), ins, 2, 0);
}

cg_tensor *cg_div_trunc(cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    return record(&div_rounded_op, division_raw(CG_M_TRUNC_DIVIDE, a, b), ins, 2, 0);
}

/* ---- round to decimals ---------------------------------------------------------------- */

/* t = {out, a}, i = {negative}, f = {10^|decimals|}: PyTorch's rounding, in a's
 * precision: nearbyint(a * p) / p, or nearbyint(a / p) * p for negative decimals. */
static int round_decimals_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *a = k->t[1];
    cg_tensor *src = cg_contiguous(a);
    if (!src) return -1;
    bool neg = k->i[0];
    if (a->dtype == CG_FLOAT32) {
        const float *x = (const float *)cg_ptr(src), p = (float)k->f[0];
        float *o = (float *)cg_ptr(out);
        for (int64_t i = 0; i < a->numel; i++) o[i] = neg ? nearbyintf(x[i] / p) * p : nearbyintf(x[i] * p) / p;
    } else {
        const double *x = (const double *)cg_ptr(src), p = k->f[0];
        double *o = (double *)cg_ptr(out);
        for (int64_t i = 0; i < a->numel; i++) o[i] = neg ? nearbyint(x[i] / p) * p : nearbyint(x[i] * p) / p;
    }
    cg_tensor_release(src);
    return 0;
}

static const cg_op round_decimals_op = {"RoundBackward1", step_backward, NULL};

cg_tensor *cg_round_decimals(cg_tensor *a, int64_t decimals) {
    if (a->dtype != CG_FLOAT32 && a->dtype != CG_FLOAT64) {
        cg_error_set(CG_ERR_NOTIMPL, "\"round_cpu\" not implemented for '%s'", cg_dtype_torch_name((cg_dtype)a->dtype));
        return NULL;
    }
    bool neg = decimals < 0;
    double p = pow(10.0, (double)(neg ? -decimals : decimals));
    cg_tensor *out = cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype);
    if (!out || cg_kernel(round_decimals_kernel,
                          &(cg_kargs){.name = "round", .t = {out, a}, .nw = 1, .i = {neg}, .f = {p}})) {
        cg_tensor_release(out);
        return NULL;
    }
    return cg_node_with_ints(&round_decimals_op, out, a, &decimals, 1);
}

cg_tensor *cg_round_decimals_(cg_tensor *a, int64_t decimals) {
    cg_inplace ip;
    if (cg_inplace_begin(&ip, a, &a, 1)) return NULL;
    return cg_inplace_take(&ip, cg_round_decimals(a, decimals));
}

/* d/da = 1, d/db = -q, q the quotient (piecewise constant): floor(a / b) for
 * remainder, trunc(a / b) for fmod */
static int modulo_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin, bool truncated) {
    if (cg_wants(n, 0)) {
        cg_tensor_retain(gout[0]);
        if (!(gin[0] = cg_reduce_grad(n, 0, gout[0]))) return -1;
    }
    if (n->n_next < 2 || !cg_wants(n, 1)) return 0;
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *a = UNPACK(0), *b = UNPACK(1);
    cg_tensor *q = !a || !b ? NULL : truncated ? F(cg_trunc, DIV(a, b)) : keep(s, division_raw(CG_M_FLOOR_DIVIDE, a, b));
    gin[1] = cg_reduce_grad(n, 1, take(MUL(NEG(gout[0]), q)));
    drop(s);
    return gin[1] ? 0 : -1;
}
static int remainder_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) { return modulo_backward(n, gout, gin, false); }
static const cg_op remainder_op = {"RemainderBackward1", remainder_backward, NULL};
static const cg_op remainder_scalar_op = {"RemainderBackward0", remainder_backward, NULL};

cg_tensor *cg_remainder(cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_tensor *out = division_raw(CG_M_REMAINDER, a, b);
    if (a->is_wrapped) return record(&rremainder_op, out, &b, 1, 0);
    if (b->is_wrapped) return record(&remainder_scalar_op, out, &a, 1, 0);
    return record(&remainder_op, out, ins, 2, b->requires_grad ? SAVE_IN(0) | SAVE_IN(1) : 0);
}

static int fmod_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) { return modulo_backward(n, gout, gin, true); }
static const cg_op fmod_op = {"FmodBackward1", fmod_backward, NULL};
static const cg_op fmod_scalar_op = {"FmodBackward0", fmod_backward, NULL};

cg_tensor *cg_fmod(cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_tensor *out = division_raw(CG_M_FMOD, a, b);
    if (b->is_wrapped) return record(&fmod_scalar_op, out, &a, 1, 0);
    return record(&fmod_op, out, ins, 2, b->requires_grad ? SAVE_IN(0) | SAVE_IN(1) : 0);
}

/* ---- hypot ------------------------------------------------------------------------------ */

static int hypot_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da hypot(a, b) = a / hypot(a, b), d/db = b / hypot(a, b) */
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *y = UNPACK(2);
    if (cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, take(DIV(MUL(g, UNPACK(0)), y)));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(DIV(MUL(g, UNPACK(1)), y)));
    drop(s);
    return check_grads(n, gin);
}
static const cg_op hypot_op = {"HypotBackward0", hypot_backward, NULL};

cg_tensor *cg_hypot(cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    return record(&hypot_op, kernel_raw(CG_M_HYPOT, ins, 2, d, d), ins, 2, SAVE_IN(0) | SAVE_IN(1) | SAVE_OUT);
}

/* ---- logaddexp, logaddexp2 ---------------------------------------------------------------- */

/* d/da log_B(B^a + B^b) = 1 / (1 + B^(b - a)), d/db = 1 / (1 + B^(a - b)),
 * for B = e (logaddexp; power = exp) and B = 2 (logaddexp2; power = exp2) */
static int logaddexp_grads(cg_node *n, cg_tensor **gout, cg_tensor **gin, cg_unary_fn power) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *a = UNPACK(0), *b = UNPACK(1);
    if (cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, take(DIV(g, ADDN(F(power, SUB(b, a)), 1.0))));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(DIV(g, ADDN(F(power, SUB(a, b)), 1.0))));
    drop(s);
    return check_grads(n, gin);
}
static int logaddexp_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    return logaddexp_grads(n, gout, gin, cg_exp);
}
static int logaddexp2_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    return logaddexp_grads(n, gout, gin, cg_exp2);
}
static const cg_op logaddexp_op = {"LogaddexpBackward0", logaddexp_backward, NULL};
static const cg_op logaddexp2_op = {"Logaddexp2Backward0", logaddexp2_backward, NULL};

/* A floating kernel of two operands, both saved (logaddexp, igamma): integer
 * and bool operands are refused, as PyTorch does. */
static cg_tensor *float_pair(const cg_op *op, cg_mathop kernel, cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    return record(op, kernel_raw(kernel, ins, 2, d, d), ins, 2, SAVE_IN(0) | SAVE_IN(1));
}
cg_tensor *cg_logaddexp(cg_tensor *a, cg_tensor *b) { return float_pair(&logaddexp_op, CG_M_LOGADDEXP, a, b); }
cg_tensor *cg_logaddexp2(cg_tensor *a, cg_tensor *b) { return float_pair(&logaddexp2_op, CG_M_LOGADDEXP2, a, b); }

/* ---- xlogy ----------------------------------------------------------------------------- */

/* d/dx x log(y) = log(y): xlogy(g, y), and 0 where x = 0 and y <= 0 (where
 * the forward is 0 whatever x's neighbourhood); d/dy = x / y. A node of a
 * number operand keeps the number in f[0] and its tensor operand in slot 0. */
static int xlogy_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *x = UNPACK(0), *y = UNPACK(1);
    if (cg_wants(n, 0))
        gin[0] = cg_reduce_grad(n, 0, take(WHERE(op2(s, cg_logical_and, EQN(x, 0.0), LEN(y, 0.0)), ZERO(g),
                                                 op2(s, cg_xlogy, g, y))));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(DIV(MUL(g, x), y)));
    drop(s);
    return check_grads(n, gin);
}
static const cg_op xlogy_op = {"XlogyBackward0", xlogy_backward, NULL};

/* xlogy(x, number y): the mask is needed only when y is not > 0 */
static int xlogy_number_y_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *y = keep(s, number(n->f[0], g));
    cg_tensor *d = op2(s, cg_xlogy, g, y);
    if (!(n->f[0] > 0) && d) d = WHERE(EQN(UNPACK(0), 0.0), ZERO(g), d);
    gin[0] = cg_reduce_grad(n, 0, take(d));
    drop(s);
    return gin[0] ? 0 : -1;
}
static const cg_op xlogy_number_y_op = {"XlogyBackward2", xlogy_number_y_backward, NULL};

/* xlogy(number x, y): d/dy = x / y */
static int xlogy_number_x_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    gin[0] = cg_reduce_grad(n, 0, take(DIV(MULN(gout[0], n->f[0]), UNPACK(0))));
    drop(s);
    return gin[0] ? 0 : -1;
}
static const cg_op xlogy_number_x_op = {"XlogyBackward1", xlogy_number_x_backward, NULL};

/* Integer and bool operands compute in the default float dtype. */
cg_tensor *cg_xlogy(cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    if (!cg_dtype_is_floating(d)) d = cg_get_default_dtype();
    cg_tensor *out = kernel_raw(CG_M_XLOGY, ins, 2, d, d);
    if (a->is_wrapped == b->is_wrapped) return record(&xlogy_op, out, ins, 2, SAVE_IN(0) | SAVE_IN(1));
    const cg_op *op = a->is_wrapped ? &xlogy_number_x_op : &xlogy_number_y_op;
    cg_tensor *t = a->is_wrapped ? b : a;
    out = record(op, out, &t, 1, SAVE_IN(0));
    if (out && out->grad_fn && out->grad_fn->op == op) out->grad_fn->f[0] = cg_tensor_item(a->is_wrapped ? a : b);
    return out;
}

/* ---- igamma, igammac ------------------------------------------------------------------- */

/* d/dx P(a, x) = x^(a - 1) e^-x / Gamma(a) = -d/dx Q(a, x), formed as PyTorch forms it (so
 * x = 0 gives its inf or NaN); PyTorch defines no derivative in a. */
static int igamma_grads(cg_node *n, cg_tensor **gout, cg_tensor **gin, bool upper) {
    if (cg_wants(n, 0)) {
        cg_error_set(CG_ERR_NOTIMPL, "the derivative for '%s: input' is not implemented.",
                     upper ? "igammac" : "igamma");
        return -1;
    }
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *a = UNPACK(0), *x = UNPACK(1);
    cg_tensor *density = F(cg_exp, SUB(SUB(MUL(ADDN(a, -1.0), F(cg_log, x)), x), F(cg_lgamma, a)));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(MUL(upper ? NEG(g) : g, density)));
    drop(s);
    return check_grads(n, gin);
}
static int igamma_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) { return igamma_grads(n, gout, gin, false); }
static int igammac_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) { return igamma_grads(n, gout, gin, true); }
static const cg_op igamma_op = {"IgammaBackward0", igamma_backward, NULL};
static const cg_op igammac_op = {"IgammacBackward0", igammac_backward, NULL};

cg_tensor *cg_igamma(cg_tensor *a, cg_tensor *x) { return float_pair(&igamma_op, CG_M_IGAMMA, a, x); }
cg_tensor *cg_igammac(cg_tensor *a, cg_tensor *x) { return float_pair(&igammac_op, CG_M_IGAMMAC, a, x); }

/* ---- signbit, gcd and lcm: no gradient --------------------------------------------------- */

cg_tensor *cg_signbit(cg_tensor *a) { return kernel_raw(CG_M_SIGNBIT, &a, 1, (cg_dtype)a->dtype, CG_BOOL); }

static cg_tensor *integer_only(cg_mathop op, cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    return kernel_raw(op, ins, 2, d, d);
}
cg_tensor *cg_gcd(cg_tensor *a, cg_tensor *b) { return integer_only(CG_M_GCD, a, b); }
cg_tensor *cg_bitwise_left_shift(cg_tensor *a, cg_tensor *b) { return integer_only(CG_M_LSHIFT, a, b); }
cg_tensor *cg_bitwise_right_shift(cg_tensor *a, cg_tensor *b) { return integer_only(CG_M_RSHIFT, a, b); }
cg_tensor *cg_lcm(cg_tensor *a, cg_tensor *b) { return integer_only(CG_M_LCM, a, b); }

/* ---- copysign ------------------------------------------------------------------------------ */

/* d/da copysign(a, b) = copysign(a, b) / a (the sign flip), 0 where a = 0;
 * d/db = 0. The node keeps a in slot 0 and the output in slot 2. */
static int copysign_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *a = UNPACK(0), *y = UNPACK(2);
    if (cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, take(MUL(g, WHERE(EQN(a, 0.0), ZERO(g), DIV(y, a)))));
    if (n->n_next > 1 && cg_wants(n, 1)) /* a constant zero, not g * 0 (NaN where g is) */
        gin[1] = cg_reduce_grad(n, 1, cg_zeros(g->shape, g->ndim, (cg_dtype)g->dtype));
    drop(s);
    return check_grads(n, gin);
}
static const cg_op copysign_op = {"CopysignBackward0", copysign_backward, NULL};
static const cg_op copysign_number_op = {"CopysignBackward1", copysign_backward, NULL};

/* Integer and bool operands compute in the default float dtype; b may be a wrapped number. */
cg_tensor *cg_copysign(cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    if (!cg_dtype_is_floating(d)) d = cg_get_default_dtype();
    cg_tensor *out = kernel_raw(CG_M_COPYSIGN, ins, 2, d, d);
    if (b->is_wrapped) return record(&copysign_number_op, out, ins, 1, SAVE_IN(0) | SAVE_OUT);
    return record(&copysign_op, out, ins, 2, SAVE_IN(0) | SAVE_OUT);
}

/* ---- fmax and fmin --------------------------------------------------------------------------- */

/* The whole gradient goes to a where a won (ties included) or b is NaN, else to b. */
static int fmaxmin_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin, fn2 a_wins) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *a = UNPACK(0), *b = UNPACK(1);
    cg_tensor *to_a = OR(op2(s, a_wins, a, b), F(cg_isnan, b));
    if (cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, take(WHERE(to_a, g, ZERO(g))));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(WHERE(to_a, ZERO(g), g)));
    drop(s);
    return check_grads(n, gin);
}
/* d/da fmax(a, b) = [a >= b or b is NaN], d/db the rest */
static int fmax_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    return fmaxmin_backward(n, gout, gin, cg_ge);
}
/* d/da fmin(a, b) = [a <= b or b is NaN], d/db the rest */
static int fmin_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    return fmaxmin_backward(n, gout, gin, cg_le);
}
static const cg_op fmax_op = {"FmaxBackward0", fmax_backward, NULL};
static const cg_op fmin_op = {"FminBackward0", fmin_backward, NULL};

static cg_tensor *fmaxmin(const cg_op *op, cg_mathop kernel, cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    return record(op, kernel_raw(kernel, ins, 2, d, d), ins, 2, SAVE_IN(0) | SAVE_IN(1));
}
cg_tensor *cg_fmax(cg_tensor *a, cg_tensor *b) { return fmaxmin(&fmax_op, CG_M_FMAX, a, b); }
cg_tensor *cg_fmin(cg_tensor *a, cg_tensor *b) { return fmaxmin(&fmin_op, CG_M_FMIN, a, b); }

/* ---- nextafter and heaviside ------------------------------------------------------------------ */

/* d/da nextafter(a, b) = 1 and d/db = 0, as PyTorch defines them (the result
 * is a, moved by one step) */
static int nextafter_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    if (cg_wants(n, 0)) {
        cg_tensor_retain(gout[0]);
        gin[0] = cg_reduce_grad(n, 0, gout[0]);
    }
    if (cg_wants(n, 1)) gin[1] = cg_zeros(n->in_shape[1].d, n->in_shape[1].ndim, (cg_dtype)n->in_dtype[1]);
    return check_grads(n, gin);
}
static const cg_op nextafter_op = {"NextafterBackward0", nextafter_backward, NULL};

cg_tensor *cg_nextafter(cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    return record(&nextafter_op, kernel_raw(CG_M_NEXTAFTER, ins, 2, d, d), ins, 2, 0);
}

static int heaviside_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n, (void)gout, (void)gin; /* a step, and PyTorch defines no derivative */
    cg_error_set(CG_ERR_RUNTIME, "derivative for aten::heaviside is not implemented");
    return -1;
}
static const cg_op heaviside_op = {"torch::autograd::NotImplemented", heaviside_backward, NULL};

/* Both operands of one dtype, as PyTorch requires. */
cg_tensor *cg_heaviside(cg_tensor *a, cg_tensor *b) {
    if (a->dtype != b->dtype) {
        cg_error_set(CG_ERR_RUNTIME, "heaviside is not yet implemented for tensors with different dtypes.");
        return NULL;
    }
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = (cg_dtype)a->dtype;
    return record(&heaviside_op, kernel_raw(CG_M_HEAVISIDE, ins, 2, d, d), ins, 2, 0);
}

/* ---- ldexp ----------------------------------------------------------------------------------- */

/* d/da a 2^b = 2^b, d/db = a 2^b ln 2 = y ln 2. 2^b is taken in b's dtype, as
 * PyTorch does: an integer b gives an integer power, 0 for b < 0. */
static int ldexp_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *two = keep(s, cg_scalar_tensor(2.0, CG_INT64, NULL));
    if (cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, take(MUL(g, op2(s, cg_pow, two, UNPACK(1)))));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(MULN(MUL(g, UNPACK(2)), M_LN2)));
    drop(s);
    return check_grads(n, gin);
}
static const cg_op ldexp_op = {"LdexpBackward0", ldexp_backward, NULL};

/* Integer and bool operands compute in the default float dtype. */
cg_tensor *cg_ldexp(cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    if (!cg_dtype_is_floating(d)) d = cg_get_default_dtype();
    return record(&ldexp_op, kernel_raw(CG_M_LDEXP, ins, 2, d, d), ins, 2, SAVE_IN(1) | SAVE_OUT);
}

/* ---- polygamma, mvlgamma and logit: a parameter beside the tensor -------------------- */

/* kernel(a, v) with the number v as a broadcast operand, in a's floating dtype;
 * recorded with v in the node's f[0]. */
static cg_tensor *param_op(const cg_op *op, cg_mathop kernel, cg_tensor *a, double v) {
    cg_dtype d = floating_dtype(a);
    cg_tensor *p = cg_scalar_tensor(v, CG_FLOAT64, a);
    if (!p) return NULL;
    cg_tensor *ins[2] = {a, p};
    cg_tensor *out = kernel_raw(kernel, ins, 2, d, d);
    cg_tensor_release(p);
    out = record(op, out, &a, 1, SAVE_IN(0));
    if (out && out->grad_fn && out->grad_fn->op == op) out->grad_fn->f[0] = v;
    return out;
}

/* d/dx polygamma(n, x) = polygamma(n + 1, x) */
static int polygamma_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *x = UNPACK(0);
    gin[0] = take(MUL(gout[0], x ? keep(s, cg_polygamma((int64_t)n->f[0] + 1, x)) : NULL));
    drop(s);
    return gin[0] ? 0 : -1;
}
static const cg_op polygamma_op = {"PolygammaBackward0", polygamma_backward, NULL};

cg_tensor *cg_polygamma(int64_t n, cg_tensor *x) {
    if (n < 0) {
        cg_error_set(CG_ERR_RUNTIME, "polygamma(n, x) does not support negative n.");
        return NULL;
    }
    return param_op(&polygamma_op, CG_M_POLYGAMMA, x, (double)n);
}

/* sum_j digamma(x - j/2) for j = p-1 .. 0, in the order the forward sums; a new reference */
static cg_tensor *digamma_sum(cg_tensor *x, int64_t p) {
    cg_tensor *sum = NULL;
    for (int64_t j = p - 1; j >= 0; j--) {
        scratch sc = {.n = 0}, *s = &sc;
        cg_tensor *d = F(cg_digamma, ADDN(x, -0.5 * (double)j));
        cg_tensor *next = !d ? NULL : sum ? cg_add(sum, d) : take(d);
        drop(s);
        cg_tensor_release(sum);
        if (!(sum = next)) return NULL;
    }
    return sum;
}

/* d/dx mvlgamma(x, p) = sum_j digamma(x - j/2) */
static int mvlgamma_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *x = UNPACK(0);
    gin[0] = take(MUL(gout[0], x ? keep(s, digamma_sum(x, (int64_t)n->f[0])) : NULL));
    drop(s);
    return gin[0] ? 0 : -1;
}
static const cg_op mvlgamma_op = {"MvlgammaBackward0", mvlgamma_backward, NULL};

cg_tensor *cg_mvlgamma(cg_tensor *x, int64_t p) {
    if (p < 1) {
        cg_error_set(CG_ERR_RUNTIME, "p has to be greater than or equal to 1");
        return NULL;
    }
    if (x->dtype == CG_BOOL) { /* PyTorch adds x to a range of offsets, which a bool refuses */
        cg_error_set(CG_ERR_RUNTIME, "The input tensor may not be a boolean tensor.");
        return NULL;
    }
    return param_op(&mvlgamma_op, CG_M_MVLGAMMA, x, (double)p);
}

/* The in-place forms: polygamma_ records PolygammaBackward1, as PyTorch's; the order travels as a number
 * tensor through cg_apply2_, which calls these with the tensor to overwrite's source. */
static const cg_op polygamma_inplace_op = {"PolygammaBackward1", polygamma_backward, NULL};
static cg_tensor *polygamma_with(cg_tensor *x, cg_tensor *n) {
    return param_op(&polygamma_inplace_op, CG_M_POLYGAMMA, x, cg_tensor_item(n));
}
static cg_tensor *mvlgamma_with(cg_tensor *x, cg_tensor *p) { return cg_mvlgamma(x, (int64_t)cg_tensor_item(p)); }

static cg_tensor *apply_order_(cg_tensor *a, int64_t order, cg_binary_fn fn) {
    cg_tensor *k = cg_scalar_tensor((double)order, CG_INT64, NULL), *r = k ? cg_apply2_(a, k, fn) : NULL;
    cg_tensor_release(k);
    return r;
}

cg_tensor *cg_polygamma_(cg_tensor *a, int64_t n) {
    if (n < 0) return cg_error_set(CG_ERR_RUNTIME, "polygamma(n, x) does not support negative n."), NULL;
    return apply_order_(a, n, polygamma_with);
}

cg_tensor *cg_mvlgamma_(cg_tensor *a, int64_t p) {
    if (p < 1) return cg_error_set(CG_ERR_RUNTIME, "p has to be greater than or equal to 1"), NULL;
    return apply_order_(a, p, mvlgamma_with);
}

/* d/dx log(x / (1 - x)) = 1 / (x (1 - x)); NaN outside [0, 1] without eps, and
 * 0 outside [eps, 1 - eps] with it (where the clamp holds the output still) */
static int logit_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *x = UNPACK(0);
    double eps = n->f[0], lo = eps < 0 ? 0 : eps, hi = 1 - lo;
    if (x && x->dtype == CG_FLOAT32) hi = (double)(1.0f - (float)lo);
    cg_tensor *d = DIV(g, MUL(x, RSUBN(x, 1.0)));
    cg_tensor *outside = OR(LTN(x, lo), GTN(x, hi));
    gin[0] = take(WHERE(outside, keep(s, number(eps < 0 ? NAN : 0.0, g)), d));
    drop(s);
    return gin[0] ? 0 : -1;
}
static const cg_op logit_op = {"LogitBackward0", logit_backward, NULL};

cg_tensor *cg_logit(cg_tensor *x, double eps) {
    return param_op(&logit_op, CG_M_LOGIT, x, eps < 0 ? -1.0 : eps);
}

/* ---- lerp ------------------------------------------------------------------------------ */

static int check_same_dtype(const cg_tensor *self, const cg_tensor *t, const char *what) {
    if (t->dtype == self->dtype) return 0;
    cg_error_set(CG_ERR_RUNTIME, "expected dtype %s for `%s` but got dtype %s",
                 cg_dtype_c_name((cg_dtype)self->dtype), what, cg_dtype_c_name((cg_dtype)t->dtype));
    return -1;
}

static int lerp_scalar_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da lerp(a, b, w) = 1 - w, d/db = w */
    scratch sc = {.n = 0}, *s = &sc;
    double w = n->f[0];
    if (cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, take(MULN(gout[0], 1.0 - w)));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(MULN(gout[0], w)));
    drop(s);
    return check_grads(n, gin);
}
static const cg_op lerp_scalar_op = {"LerpBackward0", lerp_scalar_backward, NULL};

cg_tensor *cg_lerp_scalar(cg_tensor *start, cg_tensor *end, double weight) {
    if (check_same_dtype(start, end, "end")) return NULL;
    if (!cg_dtype_is_floating((cg_dtype)start->dtype)) {
        cg_error_set(CG_ERR_NOTIMPL, "\"lerp_kernel_scalar\" not implemented for '%s'",
                     cg_dtype_torch_name((cg_dtype)start->dtype));
        return NULL;
    }
    cg_tensor *w = number(weight, start);
    cg_tensor *ins[3] = {start, end, w};
    cg_tensor *out = w ? kernel_raw(CG_M_LERP, ins, 3, (cg_dtype)start->dtype, (cg_dtype)start->dtype) : NULL;
    cg_tensor_release(w);
    out = record(&lerp_scalar_op, out, ins, 2, 0);
    if (out && out->grad_fn && out->grad_fn->op == &lerp_scalar_op) out->grad_fn->f[0] = weight;
    return out;
}

/* ---- addcmul and addcdiv --------------------------------------------------------------- */

/* A node of three inputs keeps value in f[0] and the third input's ndim,
 * shape and dtype in i[0], i[1..8] and i[9] (the first two are the node's
 * own), to reduce that input's gradient to it. */
static cg_tensor *note_third(cg_tensor *out, const cg_op *op, const cg_tensor *t, double value) {
    if (out && out->grad_fn && out->grad_fn->op == op) {
        cg_node *n = out->grad_fn;
        n->f[0] = value;
        n->i[0] = t->ndim;
        memcpy(&n->i[1], t->shape, sizeof(int64_t) * (size_t)t->ndim);
        n->i[9] = t->dtype;
    }
    return out;
}

static cg_tensor *reduce_to_third(cg_node *n, cg_tensor *g) {
    return reduce_to(g, &n->i[1], (int)n->i[0], (cg_dtype)n->i[9]);
}

/* d/dinput = 1, d/dt1 = t2 * value, d/dt2 = t1 * value */
static int addcmul_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0];
    double v = n->f[0];
    if (cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, take(g));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(MUL(g, MULN(UNPACK(2), v))));
    if (cg_wants(n, 2)) gin[2] = reduce_to_third(n, take(MUL(g, MULN(UNPACK(1), v))));
    drop(s);
    return check_grads(n, gin);
}
static const cg_op addcmul_op = {"AddcmulBackward0", addcmul_backward, NULL};

/* value * t1 in the dtype *d of addcmul's and addcdiv's result, once ins =
 * {input, t1, t2} are found to broadcast (checked in PyTorch's order). */
static cg_tensor *scaled_t1(cg_tensor *const *ins, double value, cg_dtype *d) {
    int64_t shape[CG_MAX_DIMS];
    int nd;
    *d = result_type3(ins[0], ins[1], ins[2]);
    if (broadcast_all(ins, 3, shape, &nd)) return NULL;
    cg_tensor *v = number(value, ins[1]);
    cg_tensor *vt1 = v ? cg_binary_raw(CG_BIN_MUL, v, ins[1], *d) : NULL;
    cg_tensor_release(v);
    return vt1;
}

/* input + value * t1 * t2 as PyTorch computes it: fma(value * t1, t2, input) */
cg_tensor *cg_addcmul(cg_tensor *input, cg_tensor *t1, cg_tensor *t2, double value) {
    cg_tensor *ins[3] = {input, t1, t2};
    cg_dtype d;
    cg_tensor *vt1 = scaled_t1(ins, value, &d);
    cg_tensor *fused[3] = {vt1, t2, input};
    cg_tensor *out = vt1 ? kernel_raw(CG_M_FMA, fused, 3, d, d) : NULL;
    cg_tensor_release(vt1);
    unsigned save = (t2->requires_grad ? SAVE_IN(1) : 0) | (t1->requires_grad ? SAVE_IN(2) : 0);
    return note_third(record(&addcmul_op, out, ins, 3, save), &addcmul_op, t2, value);
}

/* d/dinput = 1, d/dt1 = value / t2, d/dt2 = -value * t1 / (t2 * t2), in PyTorch's order */
static int addcdiv_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0];
    double v = n->f[0];
    cg_tensor *t2 = cg_wants(n, 1) || cg_wants(n, 2) ? UNPACK(2) : NULL;
    if (cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, take(g));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(MUL(g, DIV(t2 ? keep(s, number(v, t2)) : NULL, t2))));
    if (cg_wants(n, 2)) gin[2] = reduce_to_third(n, take(MUL(NEG(g), DIV(MULN(UNPACK(1), v), MUL(t2, t2)))));
    drop(s);
    return check_grads(n, gin);
}
static const cg_op addcdiv_op = {"AddcdivBackward0", addcdiv_backward, NULL};

/* input + value * t1 / t2, rounded in that order as PyTorch's kernel */
cg_tensor *cg_addcdiv(cg_tensor *input, cg_tensor *t1, cg_tensor *t2, double value) {
    if (!cg_dtype_is_floating((cg_dtype)t1->dtype) && !cg_dtype_is_floating((cg_dtype)t2->dtype)) {
        cg_error_set(CG_ERR_RUNTIME,
                     "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will "
                     "perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
                     "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer "
                     "inputs and as (input + value * tensor1 / tensor2) for float inputs. The future addcdiv "
                     "behavior is just the latter implementation: (input + value * tensor1 / tensor2), for all "
                     "dtypes.");
        return NULL;
    }
    cg_tensor *ins[3] = {input, t1, t2};
    cg_dtype d;
    cg_tensor *vt1 = scaled_t1(ins, value, &d);
    cg_tensor *q = vt1 ? cg_binary_raw(CG_BIN_DIV, vt1, t2, d) : NULL;
    cg_tensor *out = q ? cg_binary_raw(CG_BIN_ADD, input, q, d) : NULL;
    cg_tensor_release(vt1);
    cg_tensor_release(q);
    unsigned save = (t2->requires_grad ? SAVE_IN(1) : 0) | (t1->requires_grad || t2->requires_grad ? SAVE_IN(2) : 0);
    return note_third(record(&addcdiv_op, out, ins, 3, save), &addcdiv_op, t2, value);
}

/* ---- deg2rad, rad2deg and nan_to_num --------------------------------------------------- */

/* d/dx (k x) = k; the node keeps k in f[0] */
static int scale_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    gin[0] = take(MULN(gout[0], n->f[0]));
    drop(s);
    return gin[0] ? 0 : -1;
}
static const cg_op deg2rad_op = {"Deg2RadBackward0", scale_backward, .no_ints = true};
static const cg_op rad2deg_op = {"Rad2DegBackward0", scale_backward, .no_ints = true};

/* a * k in a's floating dtype (integers and bool in the default one), as PyTorch */
static cg_tensor *scale(const cg_op *op, cg_tensor *a, double k) {
    cg_tensor *kt = number(k, a);
    cg_tensor *out = kt ? cg_binary_raw(CG_BIN_MUL, a, kt, floating_dtype(a)) : NULL;
    cg_tensor_release(kt);
    out = record(op, out, &a, 1, 0);
    if (out && out->grad_fn && out->grad_fn->op == op) out->grad_fn->f[0] = k;
    return out;
}

cg_tensor *cg_deg2rad(cg_tensor *a) { return scale(&deg2rad_op, a, 0.017453292519943295); /* pi / 180 */ }
cg_tensor *cg_rad2deg(cg_tensor *a) { return scale(&rad2deg_op, a, 57.29577951308232); /* 180 / pi */ }

/* d/dx nan_to_num(x) = 1 where x is finite, 0 where it was replaced */
static int nan_to_num_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    gin[0] = take(MUL(gout[0], F(cg_isfinite, UNPACK(0))));
    drop(s);
    return gin[0] ? 0 : -1;
}
static const cg_op nan_to_num_op = {"NanToNumBackward0", nan_to_num_backward, .no_ints = true};

cg_tensor *cg_nan_to_num(cg_tensor *x, double nan, const double *posinf, const double *neginf) {
    if (!cg_dtype_is_floating((cg_dtype)x->dtype)) return cg_clone(x);
    double big = x->dtype == CG_FLOAT32 ? FLT_MAX : DBL_MAX;
    scratch sc = {.n = 0}, *s = &sc;
    int on = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    cg_tensor *out = WHERE(F(cg_isnan, x), keep(s, number(nan, x)), x);
    out = WHERE(EQN(x, INFINITY), keep(s, number(posinf ? *posinf : big, x)), out);
    out = take(WHERE(EQN(x, -INFINITY), keep(s, number(neginf ? *neginf : -big, x)), out));
    cg_set_grad_enabled(on);
    drop(s);
    return record(&nan_to_num_op, out, &x, 1, SAVE_IN(0));
}

/* LerpBackward1 keeps the weight's ndim, shape and dtype (note_third). */
static int lerp_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da lerp(a, b, w) = 1 - w, d/db = w, d/dw = b - a */
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0];
    cg_tensor *w = cg_wants(n, 0) || cg_wants(n, 1) ? UNPACK(2) : NULL;
    if (cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, take(MUL(g, RSUBN(w, 1.0))));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(MUL(g, w)));
    if (cg_wants(n, 2)) gin[2] = reduce_to_third(n, take(MUL(g, SUB(UNPACK(1), UNPACK(0)))));
    drop(s);
    return check_grads(n, gin);
}
static const cg_op lerp_op = {"LerpBackward1", lerp_backward, NULL};

cg_tensor *cg_lerp(cg_tensor *start, cg_tensor *end, cg_tensor *weight) {
    /* a 0-d weight may have another dtype, as PyTorch allows */
    if (check_same_dtype(start, end, "end") || (weight->ndim > 0 && check_same_dtype(start, weight, "weight")))
        return NULL;
    cg_tensor *ins[3] = {start, end, weight};
    cg_dtype d = (cg_dtype)start->dtype;
    unsigned save = (weight->requires_grad ? SAVE_IN(0) | SAVE_IN(1) : 0) |
                    (start->requires_grad || end->requires_grad ? SAVE_IN(2) : 0);
    return note_third(record(&lerp_op, kernel_raw(CG_M_LERP, ins, 3, d, d), ins, 3, save), &lerp_op, weight, 0.0);
}

/* ---- where ------------------------------------------------------------------------------ */

static int where_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da where(c, a, b) = c, d/db = !c */
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *c = UNPACK(0), *g = gout[0];
    if (cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, take(WHERE(c, g, ZERO(g))));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(WHERE(c, ZERO(g), g)));
    drop(s);
    return check_grads(n, gin);
}
static const cg_op where_op = {"WhereBackward0", where_backward, NULL};

cg_tensor *cg_where(cg_tensor *cond, cg_tensor *a, cg_tensor *b) {
    if (cond->dtype != CG_BOOL) {
        cg_error_set(CG_ERR_RUNTIME, "where expected condition to be a boolean tensor, but got a tensor with dtype %s",
                     cg_dtype_torch_name((cg_dtype)cond->dtype));
        return NULL;
    }
    cg_tensor *ins[3] = {cond, a, b};
    cg_dtype d = cg_result_type(a, b);
    cg_tensor *out = kernel_raw(CG_M_WHERE, ins, 3, d, d);
    if (!out || !cg_any_requires_grad(ins + 1, 2)) return out;
    cg_node *n = cg_node_new(&where_op, ins + 1, 2, 1);
    if (!n || cg_save(n, 0, cond, false)) return fail(out, n);
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* ---- clamp -------------------------------------------------------------------------------- */


#define GE(a, b) op2(s, cg_ge, (a), (b))
#define LE(a, b) op2(s, cg_le, (a), (b))
#define LT(a, b) op2(s, cg_lt, (a), (b))
#define GT(a, b) op2(s, cg_gt, (a), (b))
#define AND(a, b) op2(s, cg_logical_and, (a), (b))
#define OR(a, b) op2(s, cg_logical_or, (a), (b))

/* Node layout: i[0] holds these flags, i[1] and i[2] the input numbers of the
 * tensor bounds lo and hi; f[0] and f[1] the bounds of the Scalar overload.
 * Saved: x in slot 0, tensor bounds lo and hi in slots 1 and 2; as in
 * PyTorch, never the result, which the caller may go on to change in place. */
#define HAS_LO 1
#define HAS_HI 2
#define TENSOR_BOUNDS 4
enum { CLAMP_BOTH, CLAMP_MIN, CLAMP_MAX };

static int clamp_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dx clamp(x, lo, hi) = [lo <= x <= hi], d/dlo = [x < lo and lo < hi], d/dhi = [x > hi or hi < lo] */
    scratch sc = {.n = 0}, *s = &sc;
    int64_t flags = n->i[0];
    bool has_lo = flags & HAS_LO, has_hi = flags & HAS_HI, tensor = flags & TENSOR_BOUNDS;
    cg_tensor *g = gout[0], *x = UNPACK(0), *m;
    cg_tensor *zero = ZERO(g);
    cg_tensor *lo = !has_lo ? NULL : tensor ? UNPACK(1) : x ? keep(s, number(n->f[0], x)) : NULL;
    cg_tensor *hi = !has_hi ? NULL : tensor ? UNPACK(2) : x ? keep(s, number(n->f[1], x)) : NULL;
    if (cg_wants(n, 0)) {
        m = has_lo && has_hi ? AND(GE(x, lo), LE(x, hi)) : has_lo ? GE(x, lo) : LE(x, hi);
        gin[0] = cg_reduce_grad(n, 0, take(WHERE(m, g, zero)));
    }
    int il = (int)n->i[1], ih = (int)n->i[2];
    if (tensor && has_lo && cg_wants(n, il)) {
        m = has_hi ? AND(LT(x, lo), LT(lo, hi)) : LT(x, lo);
        gin[il] = reduce_like(take(WHERE(m, g, zero)), lo);
    }
    if (tensor && has_hi && cg_wants(n, ih)) {
        m = has_lo ? OR(GT(x, hi), LT(hi, lo)) : GT(x, hi);
        gin[ih] = reduce_like(take(WHERE(m, g, zero)), hi);
    }
    drop(s);
    return check_grads(n, gin);
}

/* [kind][tensor bounds]: PyTorch numbers the Tensor and Scalar overloads differently per op. */
static const cg_op clamp_ops[3][2] = {
    {{"ClampBackward1", clamp_backward, NULL}, {"ClampBackward0", clamp_backward, NULL}},
    {{"ClampMinBackward0", clamp_backward, NULL}, {"ClampMinBackward1", clamp_backward, NULL}},
    {{"ClampMaxBackward0", clamp_backward, NULL}, {"ClampMaxBackward1", clamp_backward, NULL}},
};

static cg_tensor *clamp_raw(cg_tensor *a, cg_tensor *lo, cg_tensor *hi) {
    cg_dtype d = result_type3(a, lo, hi);
    cg_tensor *both[3] = {a, lo, hi}, *one[2] = {a, lo ? lo : hi};
    if (lo && hi) return kernel_raw(CG_M_CLAMP, both, 3, d, d);
    return kernel_raw(lo ? CG_M_MAXIMUM : CG_M_MINIMUM, one, 2, d, d);
}

static cg_tensor *clamp(int kind, cg_tensor *a, cg_tensor *lo, cg_tensor *hi) {
    if (!lo && !hi) {
        cg_error_set(CG_ERR_RUNTIME, "torch.clamp: At least one of 'min' or 'max' must not be None");
        return NULL;
    }
    bool tensor = (lo && !lo->is_wrapped) || (hi && !hi->is_wrapped);
    cg_tensor *out = clamp_raw(a, lo, hi);
    /* the node's inputs: x, then the bounds the Tensor overload takes */
    cg_tensor *ins[3] = {a, kind == CLAMP_MAX ? hi : lo, hi};
    int nin = !tensor ? 1 : kind == CLAMP_BOTH ? 3 : 2;
    if (!out || !cg_any_requires_grad(ins, nin)) return out;
    cg_node *n = cg_node_new(&clamp_ops[kind][tensor], ins, nin, 1);
    if (!n || cg_save(n, 0, a, false) || (tensor && lo && cg_save(n, 1, lo, false)) ||
        (tensor && hi && cg_save(n, 2, hi, false)))
        return fail(out, n);
    n->i[0] = (lo ? HAS_LO : 0) | (hi ? HAS_HI : 0) | (tensor ? TENSOR_BOUNDS : 0);
    n->i[1] = lo && tensor ? 1 : -1;
    n->i[2] = hi && tensor ? nin - 1 : -1;
    n->f[0] = lo && !tensor ? cg_tensor_item(lo) : 0.0;
    n->f[1] = hi && !tensor ? cg_tensor_item(hi) : 0.0;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

cg_tensor *cg_clamp(cg_tensor *a, cg_tensor *lo, cg_tensor *hi) { return clamp(CLAMP_BOTH, a, lo, hi); }
cg_tensor *cg_clamp_min(cg_tensor *a, cg_tensor *lo) { return clamp(CLAMP_MIN, a, lo, NULL); }
cg_tensor *cg_clamp_max(cg_tensor *a, cg_tensor *hi) { return clamp(CLAMP_MAX, a, NULL, hi); }

/* ---- in place -------------------------------------------------------------------------- */

/* An in-place result may not fall to a lower category (float -> int, int -> bool). */
static int check_castable(cg_dtype from, cg_dtype to) {
    if (category(from) <= category(to)) return 0;
    cg_error_set(CG_ERR_RUNTIME, "result type %s can't be cast to the desired output type %s",
                 cg_dtype_torch_name(from), cg_dtype_torch_name(to));
    return -1;
}

/* In-place comparisons write 1 and 0 into a: as in PyTorch, a stays in the
 * graph, through a node that passes back zeros (the values are piecewise
 * constant). EqBackward0 for a number, EqBackward1 for a tensor. */
static int compare_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)gout;
    for (int i = 0; i < n->n_next; i++)
        if (cg_wants(n, i) && !(gin[i] = cg_zeros(n->in_shape[i].d, n->in_shape[i].ndim, (cg_dtype)n->in_dtype[i])))
            return -1;
    return 0;
}
#define COMPARE_OPS(Name) {{#Name "Backward0", compare_backward, .no_ints = true}, \
                           {#Name "Backward1", compare_backward, .no_ints = true}}
static const struct {
    cg_binary_fn fn;
    cg_op ops[2];
} compare_nodes[] = {{cg_eq, COMPARE_OPS(Eq)}, {cg_ne, COMPARE_OPS(Ne)}, {cg_lt, COMPARE_OPS(Lt)},
                     {cg_le, COMPARE_OPS(Le)}, {cg_gt, COMPARE_OPS(Gt)}, {cg_ge, COMPARE_OPS(Ge)}};
#undef COMPARE_OPS

/* The zero-gradient node's op for comparison fn with other b; NULL for an
 * op that is not a comparison. */
static const cg_op *compare_op(cg_binary_fn fn, const cg_tensor *b) {
    for (size_t k = 0; k < sizeof compare_nodes / sizeof compare_nodes[0]; k++)
        if (compare_nodes[k].fn == fn) return &compare_nodes[k].ops[!b->is_wrapped];
    return NULL;
}

typedef cg_tensor *(*ternary_fn)(cg_tensor *a, cg_tensor *b, cg_tensor *c);

/* asinh_, acosh_ and atanh_ have a node of their own, whose backward PyTorch
 * leaves undefined: they record it, and a backward through it fails. */
static int inplace_asinh_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n, (void)gout, (void)gin;
    cg_error_set(CG_ERR_NOTIMPL, "the derivative for 'inplace version of asinh' is not implemented.");
    return -1;
}
static int inplace_acosh_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n, (void)gout, (void)gin;
    cg_error_set(CG_ERR_NOTIMPL, "the derivative for 'inplace version of acosh' is not implemented.");
    return -1;
}
static int inplace_atanh_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n, (void)gout, (void)gin;
    cg_error_set(CG_ERR_NOTIMPL, "the derivative for 'inplace version of atanh' is not implemented.");
    return -1;
}
static const cg_op inplace_asinh_op = {"AsinhBackward1", inplace_asinh_backward, .no_ints = true};
static const cg_op inplace_acosh_op = {"AcoshBackward1", inplace_acosh_backward, .no_ints = true};
static const cg_op inplace_atanh_op = {"AtanhBackward1", inplace_atanh_backward, .no_ints = true};

static const cg_op *undefined_inplace_op(cg_unary_fn fn) {
    return fn == cg_asinh ? &inplace_asinh_op : fn == cg_acosh ? &inplace_acosh_op : fn == cg_atanh ? &inplace_atanh_op : NULL;
}

/* One of: op(a), op(a, b), op(a, b, c), op(a, b, c, value). */
typedef struct inplace_op {
    cg_unary_fn unary;
    cg_binary_fn binary;
    ternary_fn ternary;
    cg_tensor *(*scaled)(cg_tensor *a, cg_tensor *b, cg_tensor *c, double value); /* addcmul, addcdiv */
    double value;
} inplace_op;

static cg_tensor *apply_op(inplace_op op, cg_tensor *a, cg_tensor *b, cg_tensor *c) {
    return op.unary    ? op.unary(a)
           : op.binary ? op.binary(a, b)
           : op.ternary ? op.ternary(a, b, c)
                        : op.scaled(a, b, c, op.value);
}

/* PyTorch's logical ops write in place outside autograd: a leaf that
 * requires grad may take them, and no node records them. */
static bool untracked(inplace_op op) {
    return op.unary == cg_logical_not || op.binary == cg_logical_and || op.binary == cg_logical_or ||
           op.binary == cg_logical_xor;
}

/* The integer ops check the cast of the promoted dtype to a's before their
 * kernel could refuse that dtype, as PyTorch orders the two errors. */
static bool casts_first(cg_binary_fn fn) {
    return fn == cg_bitwise_and || fn == cg_bitwise_or || fn == cg_bitwise_xor || fn == cg_gcd || fn == cg_lcm ||
           fn == cg_bitwise_left_shift || fn == cg_bitwise_right_shift;
}

/* The operands broadcast to a's own shape: PyTorch checks it before it looks at dtypes. */
static int check_inplace_broadcast(const cg_tensor *a, const cg_tensor *b, const cg_tensor *c) {
    int64_t shape[CG_MAX_DIMS], next[CG_MAX_DIMS];
    int nd = a->ndim;
    memcpy(shape, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    const cg_tensor *others[2] = {b, c};
    for (int k = 0; k < 2; k++) {
        if (!others[k]) continue;
        if (cg_broadcast_shapes(shape, nd, others[k]->shape, others[k]->ndim, next, &nd)) return -1;
        memcpy(shape, next, sizeof(int64_t) * (size_t)nd);
    }
    if (cg_shape_eq(shape, nd, a->shape, a->ndim)) return 0;
    char b1[160], b2[160];
    cg_error_set(CG_ERR_RUNTIME, "output with shape %s doesn't match the broadcast shape %s",
                 cg_shape_str(a->shape, a->ndim, b1, sizeof b1), cg_shape_str(shape, nd, b2, sizeof b2));
    return -1;
}

/* a = op(a, b, c): computed out of place, then written back; the result's
 * node becomes a's history (see inplace.c). The write-back refuses a result
 * b or c broadcast to a larger shape, with PyTorch's message. */
static cg_tensor *inplace(inplace_op op, cg_tensor *a, cg_tensor *b, cg_tensor *c) {
    cg_tensor *ins[3] = {a, b, c};
    cg_inplace ip;
    if (!untracked(op) && cg_inplace_begin(&ip, a, ins, 3)) return NULL; /* a leaf's error comes first */
    if (check_inplace_broadcast(a, b, c) ||
        (op.binary && casts_first(op.binary) && check_castable(cg_result_type(a, b), (cg_dtype)a->dtype)))
        return untracked(op) ? NULL : cg_inplace_abort(&ip);
    if (untracked(op)) {
        if (cg_inplace_begin_untracked(&ip, a)) return NULL;
        cg_tensor *r = apply_op(op, a, b, c); /* a bool result: no node to take */
        if (r && check_castable((cg_dtype)r->dtype, (cg_dtype)a->dtype)) {
            cg_tensor_release(r);
            r = NULL;
        }
        return cg_inplace_take(&ip, r);
    }
    cg_tensor *src = cg_inplace_source(&ip);
    if (!src) return cg_inplace_abort(&ip);
    cg_tensor *r = apply_op(op, src, b, c);
    bool ok = r && !check_castable((cg_dtype)r->dtype, (cg_dtype)a->dtype) && !cg_copy_data(a, r);
    const cg_op *undefined = op.unary ? undefined_inplace_op(op.unary) : NULL;
    if (ok && r->grad_fn && undefined) {
        ip.node = cg_node_new(undefined, &src, 1, 1);
        ok = ip.node != NULL;
    } else if (ok && r->grad_fn) {
        ip.node = r->grad_fn;
        cg_node_retain(ip.node);
    } else if (ok && ip.records && op.binary && compare_op(op.binary, b)) {
        cg_tensor *edges[2] = {src, b}; /* a number is no input */
        ip.node = cg_node_new(compare_op(op.binary, b), edges, b->is_wrapped ? 1 : 2, 1);
        ok = ip.node != NULL;
    }
    cg_tensor_release(r);
    cg_tensor_release(src);
    return ok ? cg_inplace_finish(&ip) : cg_inplace_abort(&ip);
}

/* lerp with a weight that is a wrapped number takes the Scalar overload (LerpBackward0) */
static cg_tensor *lerp_any(cg_tensor *start, cg_tensor *end, cg_tensor *weight) {
    return weight->is_wrapped ? cg_lerp_scalar(start, end, cg_tensor_item(weight)) : cg_lerp(start, end, weight);
}

cg_tensor *cg_apply_(cg_tensor *a, cg_unary_fn fn) { return inplace((inplace_op){.unary = fn}, a, NULL, NULL); }
cg_tensor *cg_apply2_(cg_tensor *a, cg_tensor *b, cg_binary_fn fn) {
    return inplace((inplace_op){.binary = fn}, a, b, NULL);
}
cg_tensor *cg_lerp_(cg_tensor *a, cg_tensor *end, cg_tensor *weight) {
    return inplace((inplace_op){.ternary = lerp_any}, a, end, weight);
}
cg_tensor *cg_clamp_(cg_tensor *a, cg_tensor *lo, cg_tensor *hi) {
    return inplace((inplace_op){.ternary = cg_clamp}, a, lo, hi);
}
cg_tensor *cg_clamp_min_(cg_tensor *a, cg_tensor *lo) {
    return inplace((inplace_op){.binary = cg_clamp_min}, a, lo, NULL);
}
cg_tensor *cg_clamp_max_(cg_tensor *a, cg_tensor *hi) {
    return inplace((inplace_op){.binary = cg_clamp_max}, a, hi, NULL);
}
cg_tensor *cg_addcmul_(cg_tensor *a, cg_tensor *t1, cg_tensor *t2, double value) {
    return inplace((inplace_op){.scaled = cg_addcmul, .value = value}, a, t1, t2);
}
cg_tensor *cg_addcdiv_(cg_tensor *a, cg_tensor *t1, cg_tensor *t2, double value) {
    return inplace((inplace_op){.scaled = cg_addcdiv, .value = value}, a, t1, t2);
}

cg_tensor *cg_nan_to_num_(cg_tensor *x, double nan, const double *posinf, const double *neginf) {
    cg_inplace ip;
    if (cg_inplace_begin(&ip, x, &x, 1)) return NULL;
    cg_tensor *src = cg_inplace_source(&ip);
    cg_tensor *r = src ? cg_nan_to_num(src, nan, posinf, neginf) : NULL;
    cg_tensor_release(src);
    return cg_inplace_take(&ip, r);
}

/* ---- torch.special (kernels in kernels_special.c) -------------------------------------- */

/* d/dx erfcx(x) = 2x erfcx(x) - 2/sqrt(pi) */
static cg_tensor *special_erfcx_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    return MUL(ADDN(MULN(MUL(x, y), 2.0), -M_2_SQRTPI), g);
}
/* d/dx e^-|x| I0(x) = i1e(x) - sgn(x) i0e(x) */
static cg_tensor *special_i0e_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    return MUL(g, SUB(F(cg_special_i1e, x), MUL(F(cg_sgn, x), y)));
}
/* d/dx e^-|x| I1(x) = i0e(x) - i1e(x) (sgn(x) + 1/x), and 1/2 where |x| <= epsilon (as
 * PyTorch, which also keeps the unused branch finite there, for the gradient of where) */
static cg_tensor *special_i1e_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    double eps = x->dtype == CG_FLOAT32 ? FLT_EPSILON : DBL_EPSILON;
    cg_tensor *tiny = LEN(F(cg_abs, x), eps);
    cg_tensor *safe = WHERE(tiny, keep(s, number(eps, x)), x);
    cg_tensor *d = SUB(F(cg_special_i0e, safe), MUL(y, ADD(F(cg_sgn, safe), F(cg_reciprocal, safe))));
    return MUL(g, WHERE(tiny, keep(s, number(0.5, x)), d));
}
/* d/dp ndtri(p) = sqrt(2 pi) e^(ndtri(p)^2 / 2) */
static cg_tensor *special_ndtri_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)x;
    return MUL(MULN(g, sqrt(2 * M_PI)), F(cg_exp, MULN(F(cg_square, y), 0.5)));
}
/* d/dx log(ndtr(x)) = pdf(x) / ndtr(x) = e^-(log_ndtr(x) + x^2/2) / sqrt(2 pi) */
static cg_tensor *special_log_ndtr_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    return MUL(MULN(g, 1 / sqrt(2 * M_PI)), F(cg_exp, NEG(ADD(y, MULN(F(cg_square, x), 0.5)))));
}
/* d/dx -x log(x) = -(1 + log(x)) */
static cg_tensor *special_entr_grad(scratch *s, cg_tensor *g, cg_tensor *x, cg_tensor *y) {
    (void)y;
    return MUL(g, NEG(ADDN(F(cg_log, x), 1.0)));
}

#define X SAVE_IN(0)
#define Y SAVE_OUT
#define NONE CG_NUM_UNOPS
UNARY(special_erfcx, "SpecialErfcxBackward0", CG_M_ERFCX, NONE, X | Y, false)
UNARY(special_i0e, "SpecialI0EBackward0", CG_M_I0E, NONE, X | Y, false)
UNARY(special_i1e, "SpecialI1EBackward0", CG_M_I1E, NONE, X | Y, false)
UNARY(special_ndtri, "SpecialNdtriBackward0", CG_M_NDTRI, NONE, Y, false)
UNARY(special_log_ndtr, "SpecialLogNdtrBackward0", CG_M_LOG_NDTR, NONE, X | Y, false)
UNARY(special_entr, "SpecialEntrBackward0", CG_M_ENTR, NONE, X, false)
#undef X
#undef Y
#undef NONE

/* The Bessel and Airy functions: PyTorch defines no derivative, and their results never require grad. */
#define SPECIAL_PLAIN(name, kernel)                                                            \
    cg_tensor *cg_special_##name(cg_tensor *a) {                                               \
        cg_dtype d = floating_dtype(a);                                                        \
        return kernel_raw(kernel, &a, 1, d, d);                                                \
    }
SPECIAL_PLAIN(airy_ai, CG_M_AIRY_AI)
SPECIAL_PLAIN(bessel_j0, CG_M_BESSEL_J0)
SPECIAL_PLAIN(bessel_j1, CG_M_BESSEL_J1)
SPECIAL_PLAIN(bessel_y0, CG_M_BESSEL_Y0)
SPECIAL_PLAIN(bessel_y1, CG_M_BESSEL_Y1)
SPECIAL_PLAIN(modified_bessel_k0, CG_M_BESSEL_K0)
SPECIAL_PLAIN(modified_bessel_k1, CG_M_BESSEL_K1)
SPECIAL_PLAIN(scaled_modified_bessel_k0, CG_M_BESSEL_K0E)
SPECIAL_PLAIN(scaled_modified_bessel_k1, CG_M_BESSEL_K1E)
SPECIAL_PLAIN(spherical_bessel_j0, CG_M_SPHERICAL_J0)
#undef SPECIAL_PLAIN

/* The modified Bessel functions I0 and I1 share i0's and i1's kernels, without their nodes. */
cg_tensor *cg_special_modified_bessel_i0(cg_tensor *a) {
    cg_dtype d = floating_dtype(a);
    return kernel_raw(CG_M_I0, &a, 1, d, d);
}
cg_tensor *cg_special_modified_bessel_i1(cg_tensor *a) {
    cg_dtype d = floating_dtype(a);
    return kernel_raw(CG_M_I1, &a, 1, d, d);
}

/* kernel(a, b) in the operands' result type, the default float dtype for integers and bool. No autograd. */
static cg_tensor *special_pair_raw(cg_mathop kernel, cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype d = cg_result_type(a, b);
    if (!cg_dtype_is_floating(d)) d = cg_get_default_dtype();
    return kernel_raw(kernel, ins, 2, d, d);
}

/* The orthogonal polynomials p_n(x): no derivative in PyTorch, no node. */
#define SPECIAL_POLY(name, kernel) \
    cg_tensor *cg_special_##name(cg_tensor *x, cg_tensor *n) { return special_pair_raw(kernel, x, n); }
SPECIAL_POLY(chebyshev_polynomial_t, CG_M_CHEBYSHEV_T)
SPECIAL_POLY(chebyshev_polynomial_u, CG_M_CHEBYSHEV_U)
SPECIAL_POLY(chebyshev_polynomial_v, CG_M_CHEBYSHEV_V)
SPECIAL_POLY(chebyshev_polynomial_w, CG_M_CHEBYSHEV_W)
SPECIAL_POLY(shifted_chebyshev_polynomial_t, CG_M_SHIFTED_CHEBYSHEV_T)
SPECIAL_POLY(shifted_chebyshev_polynomial_u, CG_M_SHIFTED_CHEBYSHEV_U)
SPECIAL_POLY(shifted_chebyshev_polynomial_v, CG_M_SHIFTED_CHEBYSHEV_V)
SPECIAL_POLY(shifted_chebyshev_polynomial_w, CG_M_SHIFTED_CHEBYSHEV_W)
SPECIAL_POLY(hermite_polynomial_h, CG_M_HERMITE_H)
SPECIAL_POLY(hermite_polynomial_he, CG_M_HERMITE_HE)
SPECIAL_POLY(laguerre_polynomial_l, CG_M_LAGUERRE_L)
SPECIAL_POLY(legendre_polynomial_p, CG_M_LEGENDRE_P)
#undef SPECIAL_POLY

/* A binary special op whose node, like xlogy's, has three forms: two tensors (slots 0 and 1),
 * or a number on one side, kept in f[0] with the tensor operand in slot 0. */
static cg_tensor *special_pair(const cg_op *const ops[3], cg_mathop kernel, cg_tensor *a, cg_tensor *b) {
    cg_tensor *ins[2] = {a, b};
    cg_tensor *out = special_pair_raw(kernel, a, b);
    if (a->is_wrapped == b->is_wrapped) return record(ops[0], out, ins, 2, SAVE_IN(0) | SAVE_IN(1));
    const cg_op *op = ops[a->is_wrapped ? 1 : 2];
    cg_tensor *t = a->is_wrapped ? b : a;
    out = record(op, out, &t, 1, SAVE_IN(0));
    if (out && out->grad_fn && out->grad_fn->op == op) out->grad_fn->f[0] = cg_tensor_item(a->is_wrapped ? a : b);
    return out;
}

/* d/dx x log1p(y) = log1p(y): xlog1py(g, y), 0 where x = 0 and y <= -1; d/dy = x / (1 + y) */
static int xlog1py_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *x = UNPACK(0), *y = UNPACK(1);
    if (cg_wants(n, 0))
        gin[0] = cg_reduce_grad(n, 0, take(WHERE(op2(s, cg_logical_and, EQN(x, 0.0), LEN(y, -1.0)), ZERO(g),
                                                 op2(s, cg_special_xlog1py, g, y))));
    if (cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, take(DIV(MUL(g, x), ADDN(y, 1.0))));
    drop(s);
    return check_grads(n, gin);
}
/* xlog1py(number x, y): d/dy = x / (1 + y) */
static int xlog1py_number_x_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    gin[0] = cg_reduce_grad(n, 0, take(DIV(MULN(gout[0], n->f[0]), ADDN(UNPACK(0), 1.0))));
    drop(s);
    return gin[0] ? 0 : -1;
}
/* xlog1py(x, number y): the mask is needed only when y is not > -1 */
static int xlog1py_number_y_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *y = keep(s, number(n->f[0], g));
    cg_tensor *d = op2(s, cg_special_xlog1py, g, y);
    if (!(n->f[0] > -1) && d) d = WHERE(EQN(UNPACK(0), 0.0), ZERO(g), d);
    gin[0] = cg_reduce_grad(n, 0, take(d));
    drop(s);
    return gin[0] ? 0 : -1;
}
static const cg_op xlog1py_op = {"SpecialXlog1PyBackward0", xlog1py_backward, NULL};
static const cg_op xlog1py_number_x_op = {"SpecialXlog1PyBackward1", xlog1py_number_x_backward, NULL};
static const cg_op xlog1py_number_y_op = {"SpecialXlog1PyBackward2", xlog1py_number_y_backward, NULL};

cg_tensor *cg_special_xlog1py(cg_tensor *a, cg_tensor *b) {
    static const cg_op *const ops[3] = {&xlog1py_op, &xlog1py_number_x_op, &xlog1py_number_y_op};
    return special_pair(ops, CG_M_XLOG1PY, a, b);
}

/* d/dq zeta(s, q) = -s zeta(s + 1, q); PyTorch defines no derivative in s */
static int zeta_no_s_grad(void) {
    cg_error_set(CG_ERR_NOTIMPL, "the derivative for 'zeta' is not implemented.");
    return -1;
}
static int zeta_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    if (cg_wants(n, 0)) return zeta_no_s_grad();
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *a = UNPACK(0), *q = UNPACK(1);
    if (cg_wants(n, 1))
        gin[1] = cg_reduce_grad(n, 1, take(MUL(MUL(g, NEG(a)), op2(s, cg_special_zeta, ADDN(a, 1.0), q))));
    drop(s);
    return check_grads(n, gin);
}
/* zeta(number s, q) */
static int zeta_number_s_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    cg_tensor *g = gout[0], *a1 = keep(s, number(n->f[0] + 1, g));
    gin[0] = cg_reduce_grad(n, 0, take(MUL(MULN(g, -n->f[0]), op2(s, cg_special_zeta, a1, UNPACK(0)))));
    drop(s);
    return gin[0] ? 0 : -1;
}
/* zeta(s, number q): only s is an input, and it has no derivative */
static int zeta_number_q_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n, (void)gout, (void)gin;
    return zeta_no_s_grad();
}
static const cg_op zeta_op = {"SpecialZetaBackward0", zeta_backward, NULL};
static const cg_op zeta_number_s_op = {"SpecialZetaBackward1", zeta_number_s_backward, NULL};
static const cg_op zeta_number_q_op = {"SpecialZetaBackward2", zeta_number_q_backward, NULL};

cg_tensor *cg_special_zeta(cg_tensor *a, cg_tensor *b) {
    static const cg_op *const ops[3] = {&zeta_op, &zeta_number_s_op, &zeta_number_q_op};
    return special_pair(ops, CG_M_ZETA, a, b);
}

/* ---- ndtr: PyTorch's composition (1 + erf(x / sqrt 2)) / 2, with its Scalar-overload nodes --------- */

/* d/dx (x * c) = c */
static int mul_number_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    scratch sc = {.n = 0}, *s = &sc;
    gin[0] = take(MULN(gout[0], n->f[0]));
    drop(s);
    return gin[0] ? 0 : -1;
}
/* d/dx (x + c) = 1 */
static int add_number_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n;
    cg_tensor_retain(gout[0]);
    gin[0] = gout[0];
    return 0;
}
static const cg_op mul_number_op = {"MulBackward1", mul_number_backward, NULL};
static const cg_op add_number_op = {"AddBackward1", add_number_backward, NULL};

/* f(a, number v) recorded as op, with v in f[0] (the Tensor-Scalar overloads of mul and add) */
static cg_tensor *with_number(const cg_op *op, fn2 f, cg_tensor *a, double v) {
    cg_tensor *d = cg_detach(a), *c = d ? number(v, a) : NULL;
    cg_tensor *out = c ? f(d, c) : NULL;
    cg_tensor_release(d);
    cg_tensor_release(c);
    out = record(op, out, &a, 1, 0);
    if (out && out->grad_fn && out->grad_fn->op == op) out->grad_fn->f[0] = v;
    return out;
}

cg_tensor *cg_special_ndtr(cg_tensor *a) {
    cg_tensor *t = with_number(&mul_number_op, cg_mul, a, M_SQRT1_2);
    cg_tensor *e = t ? cg_erf(t) : NULL;
    cg_tensor *p = e ? with_number(&add_number_op, cg_add, e, 1.0) : NULL;
    cg_tensor *out = p ? with_number(&mul_number_op, cg_mul, p, 0.5) : NULL;
    cg_tensor_release(t);
    cg_tensor_release(e);
    cg_tensor_release(p);
    return out;
}
