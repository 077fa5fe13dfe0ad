/* ops_nn.c -- fused neural-network kernels: forward and backward side by side.
 *
 * Each op computes its result with one raw kernel and records one node, named
 * as PyTorch names it. Backward formulas are written with op functions; a
 * first-order backward may itself be a fused op (gelu_backward,
 * nll_loss_backward, embedding_backward) whose own backward is again written
 * with ops, so create_graph gives gradients of any order. Factors that are
 * piecewise constant in the inputs (the slope of leaky_relu, the inside of
 * huber_loss) are computed raw: their derivative is zero almost everywhere.
 */
#include <cblas.h>
#include <float.h>
#include <math.h>

#include "internal.h"

#define VP(t) ((void *)cg_ptr(t)) /* a tensor's first element, as any pointer type */

/* ---- helpers ------------------------------------------------------------------------ */

/* Temporaries of a composite formula, released together. K(e) keeps the new
 * reference e and, once anything has failed, skips evaluating the rest. */
#define NN_TMP_MAX 32
typedef struct tmp {
    cg_tensor *t[NN_TMP_MAX];
    int n;
    bool failed;
} tmp;

static cg_tensor *tmp_keep(tmp *s, cg_tensor *t) {
    if (!t || s->n == NN_TMP_MAX) {
        if (t) cg_error_set(CG_ERR_RUNTIME, "ops_nn: too many temporaries");
        cg_tensor_release(t);
        s->failed = true;
        return NULL;
    }
    s->t[s->n++] = t;
    return t;
}
#define K(e) (S.failed ? NULL : tmp_keep(&S, (e)))

/* Releases the temporaries; returns a new reference to r, or NULL if anything failed. */
static cg_tensor *tmp_end(tmp *s, cg_tensor *r) {
    if (s->failed || !r)
        r = NULL;
    else
        cg_tensor_retain(r);
    for (int k = 0; k < s->n; k++) cg_tensor_release(s->t[k]);
    s->n = 0;
    return r;
}

static cg_tensor *number(double v, cg_tensor *like) { return cg_scalar_tensor(v, CG_FLOAT64, like); }

static cg_tensor *mul_number(cg_tensor *a, double v) {
    cg_tensor *s = number(v, a);
    cg_tensor *r = s ? cg_mul(a, s) : NULL;
    cg_tensor_release(s);
    return r;
}

static cg_tensor *add_number(cg_tensor *a, double v) {
    cg_tensor *s = number(v, a);
    cg_tensor *r = s ? cg_add(a, s) : NULL;
    cg_tensor_release(s);
    return r;
}

/* v - a */
static cg_tensor *rsub_number(cg_tensor *a, double v) {
    cg_tensor *s = number(v, a);
    cg_tensor *r = s ? cg_rsub(a, s) : NULL;
    cg_tensor_release(s);
    return r;
}

static cg_tensor *fail(cg_tensor *out, cg_node *n) {
    cg_tensor_release(out);
    cg_node_release(n);
    return NULL;
}

static cg_tensor *finish(cg_tensor *out, cg_node *n) {
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* Turns grad mode off for a raw computation made of op functions; returns the old mode. */
static int grad_off(void) {
    int on = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    return on;
}

/* Non-differentiable tensors a node keeps: targets, weights, statistics. */
typedef struct consts {
    cg_tensor *t[4];
} consts;

static void consts_free(void *p) {
    consts *c = p;
    for (int k = 0; k < 4; k++) cg_tensor_release(c->t[k]);
    free(c);
}

static int keep_consts(cg_node *n, cg_tensor *a, cg_tensor *b, cg_tensor *c, cg_tensor *d) {
    consts *k = calloc(1, sizeof *k);
    if (!k) {
        cg_oom((int64_t)sizeof *k);
        return -1;
    }
    cg_tensor *src[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++)
        if ((k->t[i] = src[i])) cg_tensor_retain(src[i]);
    n->extra = k;
    return 0;
}

static cg_tensor *konst(const cg_node *n, int k) { return n->extra ? ((consts *)n->extra)->t[k] : NULL; }

/* t broadcast to shape and cast to dtype, contiguous (t itself when it already is). */
static cg_tensor *dense(cg_tensor *t, const int64_t *shape, int nd, cg_dtype dtype) {
    if (t->dtype == dtype && cg_shape_eq(t->shape, t->ndim, shape, nd) && cg_tensor_is_contiguous(t)) {
        cg_tensor_retain(t);
        return t;
    }
    cg_tensor *out = cg_empty(shape, nd, dtype);
    if (out && cg_copy_data(out, t)) {
        cg_tensor_release(out);
        return NULL;
    }
    return out;
}

static cg_tensor *dense_like(cg_tensor *t) { return dense(t, t->shape, t->ndim, (cg_dtype)t->dtype); }

/* The floating dtype an op on a (and b) computes in, or an error naming op. */
static int float_dtype(const char *op, const cg_tensor *a, const cg_tensor *b, cg_dtype *out) {
    cg_dtype d = b ? cg_result_type(a, b) : (cg_dtype)a->dtype;
    if (!cg_dtype_is_floating(d)) {
        cg_error_set(CG_ERR_NOTIMPL, "\"%s\" not implemented for '%s'", op, cg_dtype_torch_name(d));
        return -1;
    }
    *out = d;
    return 0;
}

/* ---- pointwise kernels ------------------------------------------------------------- */

/* out[i] = EXPR of X = x[i], Y = y[i] (0 without y), Z = z[i] (1 without z)
 * and the parameters P0, P1, P2; one loop per floating dtype. */
typedef void (*pw_fn)(int64_t n, void *out, const void *x, const void *y, const void *z, const double *p);

#define PW_LOOP(T, EXPR)                                                                     \
    T *o = out;                                                                              \
    const T *xs = x, *ys = y, *zs = z;                                                       \
    const T P0 = (T)p[0], P1 = (T)p[1], P2 = (T)p[2];                                        \
    (void)P0;                                                                                \
    (void)P1;                                                                                \
    (void)P2;                                                                                \
    for (int64_t i = 0; i < n; i++) {                                                        \
        T X = xs[i], Y = ys ? ys[i] : (T)0, Z = zs ? zs[i] : (T)1;                           \
        (void)Y;                                                                             \
        (void)Z;                                                                             \
        o[i] = (T)(EXPR);                                                                    \
    }
#define PW(NAME, EXPR_F, EXPR_D)                                                             \
    static void NAME##_f32(int64_t n, void *out, const void *x, const void *y, const void *z,  \
                           const double *p) {                                                \
        PW_LOOP(float, EXPR_F)                                                               \
    }                                                                                        \
    static void NAME##_f64(int64_t n, void *out, const void *x, const void *y, const void *z,  \
                           const double *p) {                                                \
        PW_LOOP(double, EXPR_D)                                                              \
    }                                                                                        \
    static const pw_fn NAME[2] = {NAME##_f32, NAME##_f64};

#define SQRT_2_PI 0.79788456080286535588 /* sqrt(2 / pi) */
#define GELU_KAPPA 0.044715

/* d/dx of the tanh approximation 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + k x^3) */
#define GELU_TANH_GRAD(NAME, T, TANH)                                                        \
    static inline T NAME(T x) {                                                              \
        T t = TANH((T)SQRT_2_PI * (x + (T)GELU_KAPPA * x * x * x));                          \
        T right = (T)0.5 * x * (1 - t * t) * (T)SQRT_2_PI * (1 + 3 * (T)GELU_KAPPA * x * x); \
        return (T)0.5 * (1 + t) + right;                                                     \
    }
GELU_TANH_GRAD(gelu_tanh_grad_f, float, tanhf)
GELU_TANH_GRAD(gelu_tanh_grad_d, double, tanh)

PW(leaky_relu_fwd, X > 0 ? X : X * P0, X > 0 ? X : X * P0)
PW(leaky_relu_slope, X > 0 ? 1 : P0, X > 0 ? 1 : P0)
PW(gelu_fwd, 0.5f * X * (1 + erff(X * (float)M_SQRT1_2)), 0.5 * X * (1 + erf(X * M_SQRT1_2)))
PW(gelu_tanh_fwd, 0.5f * X * (1 + tanhf((float)SQRT_2_PI * (X + (float)GELU_KAPPA * X * X * X))),
   0.5 * X * (1 + tanh(SQRT_2_PI * (X + GELU_KAPPA * X * X * X))))
/* gelu'(x) = Phi(x) + x phi(x), times the incoming gradient X; Y is the input */
PW(gelu_bwd, X * (0.5f * (1 + erff(Y * (float)M_SQRT1_2)) + Y * expf(-0.5f * Y * Y) * 0.3989422804f),
   X * (0.5 * (1 + erf(Y * M_SQRT1_2)) + Y * exp(-0.5 * Y * Y) * 0.39894228040143267794))
PW(gelu_tanh_bwd, X * gelu_tanh_grad_f(Y), X * gelu_tanh_grad_d(Y))
PW(mse_fwd, (X - Y) * (X - Y), (X - Y) * (X - Y))
PW(huber_fwd, fabsf(X - Y) < P0 ? 0.5f * (X - Y) * (X - Y) : P0 * (fabsf(X - Y) - 0.5f * P0),
   fabs(X - Y) < P0 ? 0.5 * (X - Y) * (X - Y) : P0 * (fabs(X - Y) - 0.5 * P0))
PW(huber_inside, fabsf(X - Y) <= P0, fabs(X - Y) <= P0)
PW(huber_outside, fabsf(X - Y) <= P0 ? 0 : P0 * ((X > Y) - (X < Y)), fabs(X - Y) <= P0 ? 0 : P0 * ((X > Y) - (X < Y)))
PW(bce_fwd, Z * ((Y - 1) * fmaxf(log1pf(-X), -100.f) - Y * fmaxf(logf(X), -100.f)),
   Z * ((Y - 1) * fmax(log1p(-X), -100.) - Y * fmax(log(X), -100.)))
PW(below_p0, X < P0, X < P0)
PW(below_p0_value, X < P0 ? P0 : 0, X < P0 ? P0 : 0)
PW(bce_logits_fwd, (1 - Y) * X + (1 + (Z - 1) * Y) * (log1pf(expf(-fabsf(X))) + fmaxf(-X, 0.f)),
   (1 - Y) * X + (1 + (Z - 1) * Y) * (log1p(exp(-fabs(X))) + fmax(-X, 0.)))
PW(dropout_scale, X < P0 ? P1 : 0, X < P0 ? P1 : 0)

/* t = {out, x, y, z} (dense, y and z may be NULL), i[0] the loop, f = its parameters */
static int pointwise_kernel(const cg_kargs *k) {
    cg_tensor *const *t = k->t;
    ((pw_fn)(uintptr_t)k->i[0])(t[0]->numel, VP(t[0]), VP(t[1]), t[2] ? VP(t[2]) : NULL, t[3] ? VP(t[3]) : NULL, k->f);
    return 0;
}

/* f over x, y, z (y, z may be NULL) broadcast together, computed in dtype,
 * with the parameters p[0..2]. */
static cg_tensor *pointwise3(const pw_fn *f, cg_dtype dtype, cg_tensor *x, cg_tensor *y, cg_tensor *z,
                             const double *p) {
    int64_t shape[CG_MAX_DIMS], tmp_shape[CG_MAX_DIMS];
    int nd = x->ndim;
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)nd);
    cg_tensor *ops[3] = {x, y, z}, *d[3] = {NULL, NULL, NULL}, *out = NULL;
    for (int k = 1; k < 3; k++) {
        if (!ops[k]) continue;
        if (cg_broadcast_shapes(shape, nd, ops[k]->shape, ops[k]->ndim, tmp_shape, &nd)) return NULL;
        memcpy(shape, tmp_shape, sizeof(int64_t) * (size_t)nd);
    }
    for (int k = 0; k < 3; k++)
        if (ops[k] && !(d[k] = dense(ops[k], shape, nd, dtype))) goto done;
    out = cg_empty(shape, nd, dtype);
    if (out)
        cg_kernel(pointwise_kernel, &(cg_kargs){.name = "a fused element-wise kernel", .t = {out, d[0], d[1], d[2]},
                                               .nw = 1, .i = {(int64_t)(uintptr_t)f[dtype == CG_FLOAT64]},
                                               .f = {p[0], p[1], p[2]}});
done:
    for (int k = 0; k < 3; k++) cg_tensor_release(d[k]);
    return out;
}

static cg_tensor *pointwise(const pw_fn *f, cg_dtype dtype, cg_tensor *x, cg_tensor *y, cg_tensor *z,
                            double p0, double p1) {
    return pointwise3(f, dtype, x, y, z, (const double[3]){p0, p1, 0});
}

/* ---- leaky_relu, gelu ---------------------------------------------------------------- */

static int leaky_relu_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dx leaky_relu(x) = 1 if x > 0 else negative_slope */
    return (gin[0] = cg_mul(gout[0], konst(n, 0))) ? 0 : -1;
}
static const cg_op leaky_relu_op = {"LeakyReluBackward0", leaky_relu_backward, consts_free};

cg_tensor *cg_leaky_relu(cg_tensor *x, double negative_slope) {
    cg_dtype d;
    if (float_dtype("leaky_relu", x, NULL, &d)) return NULL;
    cg_tensor *out = pointwise(leaky_relu_fwd, d, x, NULL, NULL, negative_slope, 0);
    if (!out || !cg_any_requires_grad(&x, 1)) return out;
    cg_tensor *slope = pointwise(leaky_relu_slope, d, x, NULL, NULL, negative_slope, 0);
    cg_node *n = slope ? cg_node_new(&leaky_relu_op, &x, 1, 1) : NULL;
    int rc = n ? keep_consts(n, slope, NULL, NULL, NULL) : -1;
    cg_tensor_release(slope);
    return rc ? fail(out, n) : finish(out, n);
}

static cg_tensor *gelu_backward(cg_tensor *g, cg_tensor *x, int64_t approximate);

/* d/dx gelu'(x): phi(x) (2 - x^2) exactly; for the tanh form, with
 * u = b (x + k x^3) and t = tanh(u): (1 - t^2) (u' + x (u'' - 2 t u'^2) / 2). */
static cg_tensor *gelu_second(cg_tensor *x, int64_t approximate) {
    tmp S = {0};
    cg_tensor *x2 = K(cg_mul(x, x)), *r;
    if (!approximate) {
        cg_tensor *phi = K(mul_number(K(cg_exp(K(mul_number(x2, -0.5)))), 0.39894228040143267794));
        r = K(cg_mul(phi, K(rsub_number(x2, 2.0))));
        return tmp_end(&S, r);
    }
    cg_tensor *x3 = K(cg_mul(x2, x));
    cg_tensor *u = K(mul_number(K(cg_add(x, K(mul_number(x3, GELU_KAPPA)))), SQRT_2_PI));
    cg_tensor *t = K(cg_tanh(u));
    cg_tensor *du = K(mul_number(K(add_number(K(mul_number(x2, 3 * GELU_KAPPA)), 1.0)), SQRT_2_PI));
    cg_tensor *ddu = K(mul_number(x, 6 * GELU_KAPPA * SQRT_2_PI));
    cg_tensor *tdu2 = K(mul_number(K(cg_mul(t, K(cg_mul(du, du)))), 2.0));
    cg_tensor *inner = K(cg_add(du, K(mul_number(K(cg_mul(x, K(cg_sub(ddu, tdu2)))), 0.5))));
    r = K(cg_mul(K(rsub_number(K(cg_mul(t, t)), 1.0)), inner));
    return tmp_end(&S, r);
}

/* gelu_backward(g, x) = g gelu'(x): d/dg = gelu'(x), d/dx = g gelu''(x) */
static int gelu_bwd_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    tmp S = {0};
    cg_tensor *g = K(cg_unpack(n, 0)), *x = K(cg_unpack(n, 1));
    if (!S.failed && cg_wants(n, 0)) gin[0] = gelu_backward(gout[0], x, n->i[0]);
    if (!S.failed && cg_wants(n, 1))
        gin[1] = tmp_end(&S, K(cg_mul(K(cg_mul(gout[0], g)), K(gelu_second(x, n->i[0])))));
    bool bad = S.failed || (cg_wants(n, 0) && !gin[0]);
    tmp_end(&S, NULL);
    return bad ? -1 : 0;
}
static const cg_op gelu_bwd_op = {"GeluBackwardBackward0", gelu_bwd_backward, NULL};

static cg_tensor *gelu_backward(cg_tensor *g, cg_tensor *x, int64_t approximate) {
    cg_tensor *ins[2] = {g, x};
    cg_tensor *out = pointwise(approximate ? gelu_tanh_bwd : gelu_bwd, cg_result_type(g, x), g, x, NULL, 0, 0);
    if (!out || !cg_any_requires_grad(ins, 2)) return out;
    cg_node *n = cg_node_new(&gelu_bwd_op, ins, 2, 1);
    if (!n || cg_save(n, 0, g, false) || cg_save(n, 1, x, false)) return fail(out, n);
    n->i[0] = approximate;
    return finish(out, n);
}

static int gelu_op_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dx x Phi(x) = Phi(x) + x phi(x) */
    cg_tensor *x = cg_unpack(n, 0);
    gin[0] = x ? gelu_backward(gout[0], x, n->i[0]) : NULL;
    cg_tensor_release(x);
    return gin[0] ? 0 : -1;
}
static const cg_op gelu_op = {"GeluBackward0", gelu_op_backward, NULL};

cg_tensor *cg_gelu(cg_tensor *x, int approximate_tanh) {
    cg_dtype d;
    if (float_dtype("GeluKernelImpl", x, NULL, &d)) return NULL;
    cg_tensor *out = pointwise(approximate_tanh ? gelu_tanh_fwd : gelu_fwd, d, x, NULL, NULL, 0, 0);
    if (!out || !cg_any_requires_grad(&x, 1)) return out;
    cg_node *n = cg_node_new(&gelu_op, &x, 1, 1);
    if (!n || cg_save(n, 0, x, false)) return fail(out, n);
    n->i[0] = approximate_tanh;
    return finish(out, n);
}

/* ---- activations: silu, elu/selu/celu, softplus, hardtanh, hardsigmoid, hardswish, mish -- */

/* PyTorch's forward formulas; the comparisons are written so that NaN stays NaN */
PW(silu_fwd, X / (1 + expf(-X)), X / (1 + exp(-X)))
/* P0 = alpha * scale, P1 = scale, P2 = input_scale; expm1 keeps a negative zero */
PW(elu_fwd, X > 0 ? X * P1 : expm1f(X * P2) * P0, X > 0 ? X * P1 : expm1(X * P2) * P0)
/* P0 = beta, P1 = threshold */
PW(softplus_fwd, X * P0 > P1 ? X : log1pf(expf(X * P0)) / P0, X * P0 > P1 ? X : log1p(exp(X * P0)) / P0)
/* P0 = min_val, P1 = max_val */
PW(hardtanh_fwd, X < P0 ? P0 : (X > P1 ? P1 : X), X < P0 ? P0 : (X > P1 ? P1 : X))
PW(hardtanh_slope, X <= P0 || X >= P1 ? 0 : 1, X <= P0 || X >= P1 ? 0 : 1)
#define RELU6_OF(V) ((V) < 0 ? 0 : ((V) > 6 ? 6 : (V)))
PW(hardsigmoid_fwd, RELU6_OF(X + 3) / 6, RELU6_OF(X + 3) / 6)
/* PyTorch's slope is 1/6 rounded to float, in double too */
PW(hardsigmoid_slope, X > -3 && X < 3 ? 1.f / 6 : 0, X > -3 && X < 3 ? (double)(1.f / 6) : 0)
PW(hardswish_fwd, X * RELU6_OF(X + 3) / 6, X * RELU6_OF(X + 3) / 6)
/* hardswish'(x) = c + x m: c = 0, 1/2, 1 below, inside and above (-3, 3); m = 1/3 inside */
PW(hardswish_c, X <= -3 ? 0 : (X < 3 ? 0.5f : 1), X <= -3 ? 0 : (X < 3 ? 0.5 : 1))
PW(hardswish_m, X > -3 && X < 3 ? 1.f / 3 : 0, X > -3 && X < 3 ? 1. / 3 : 0)
PW(mish_fwd, X * tanhf(log1pf(expf(X))), X * tanh(log1p(exp(X))))
PW(glu_fwd, X * (1 / (1 + expf(-Y))), X * (1 / (1 + exp(-Y))))

/* An activation's node saves x and its three parameters: two in n->f, the
 * third in n->i[0] by its bits. */
static double act_param(const cg_node *n, int k) {
    if (k < 2) return n->f[k];
    double v;
    memcpy(&v, &n->i[0], sizeof v);
    return v;
}

/* g f'(x), written with ops so that it is differentiable again */
typedef cg_tensor *(*act_grad_fn)(const cg_node *n, cg_tensor *g, cg_tensor *x);

static int act_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin, act_grad_fn grad) {
    cg_tensor *x = cg_unpack(n, 0);
    gin[0] = x ? grad(n, gout[0], x) : NULL;
    cg_tensor_release(x);
    return gin[0] ? 0 : -1;
}

#define ACT_OP(NAME, NODE_NAME, GRAD)                                                        \
    static int NAME##_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {              \
        return act_backward(n, gout, gin, GRAD);                                             \
    }                                                                                        \
    static const cg_op NAME##_op = {NODE_NAME, NAME##_backward, NULL};

/* f(x) with the parameters p, recording op when x requires grad. */
static cg_tensor *activation(const char *kernel, const pw_fn *f, const cg_op *op, cg_tensor *x, double p0,
                             double p1, double p2) {
    cg_dtype d;
    if (float_dtype(kernel, x, NULL, &d)) return NULL;
    cg_tensor *out = pointwise3(f, d, x, NULL, NULL, (const double[3]){p0, p1, p2});
    if (!out || !cg_any_requires_grad(&x, 1)) return out;
    cg_node *n = cg_node_new(op, &x, 1, 1);
    if (!n || cg_save(n, 0, x, false)) return fail(out, n);
    n->f[0] = p0;
    n->f[1] = p1;
    memcpy(&n->i[0], &p2, sizeof p2);
    return finish(out, n);
}

/* The in-place form: the node, as PyTorch's for these activations, is the
 * out-of-place one, applied to a snapshot of x's old value. */
static cg_tensor *activation_(const char *kernel, const pw_fn *f, const cg_op *op, cg_tensor *x, double p0,
                              double p1) {
    cg_dtype d;
    cg_inplace ip;
    if (float_dtype(kernel, x, NULL, &d) || cg_inplace_begin(&ip, x, &x, 1)) return NULL;
    cg_tensor *src = cg_inplace_source(&ip);
    cg_tensor *r = src ? activation(kernel, f, op, src, p0, p1, 0) : NULL;
    cg_tensor_release(src);
    return cg_inplace_take(&ip, r);
}

/* g times a factor of x that is piecewise constant, so computed raw */
static cg_tensor *times_raw(cg_tensor *g, const pw_fn *f, cg_tensor *x, double p0, double p1) {
    cg_tensor *slope = pointwise(f, (cg_dtype)x->dtype, x, NULL, NULL, p0, p1);
    cg_tensor *r = slope ? cg_mul(g, slope) : NULL;
    cg_tensor_release(slope);
    return r;
}

/* min(t, bound), with a gradient only where t < bound: PyTorch's second
 * derivatives of elu and softplus are 0 at their branch points. bound is a
 * 0-d tensor. */
static cg_tensor *below(cg_tensor *t, cg_tensor *bound) {
    cg_tensor *mask = cg_lt(t, bound);
    cg_tensor *r = mask ? cg_where(mask, t, bound) : NULL;
    cg_tensor_release(mask);
    return r;
}

/* d/dx silu(x) = s (1 + x (1 - s)), s = sigmoid(x) */
static cg_tensor *silu_grad(const cg_node *n, cg_tensor *g, cg_tensor *x) {
    (void)n;
    tmp S = {0};
    cg_tensor *s = K(cg_sigmoid(x));
    cg_tensor *inner = K(add_number(K(cg_mul(x, K(rsub_number(s, 1.0)))), 1.0));
    return tmp_end(&S, K(cg_mul(K(cg_mul(g, s)), inner)));
}
ACT_OP(silu, "SiluBackward0", silu_grad)

/* d/dx elu(x) = scale for x > 0, else alpha scale input_scale exp(x input_scale);
 * the second derivative is 0 at x = 0 */
static cg_tensor *elu_grad(const cg_node *n, cg_tensor *g, cg_tensor *x) {
    double negcoef = act_param(n, 0), scale = act_param(n, 1), in_scale = act_param(n, 2);
    tmp S = {0};
    cg_tensor *zero = K(number(0.0, x));
    cg_tensor *e = K(cg_exp(K(mul_number(K(below(x, zero)), in_scale))));
    cg_tensor *neg = K(cg_mul(K(mul_number(K(mul_number(g, in_scale)), negcoef)), e)); /* PyTorch's order */
    cg_tensor *pos = scale == 1 ? g : K(mul_number(g, scale));
    return tmp_end(&S, K(cg_where(K(cg_gt(x, zero)), pos, neg)));
}
ACT_OP(elu, "EluBackward0", elu_grad)
ACT_OP(celu, "CeluBackward0", elu_grad)

/* d/dx softplus(x) = z / (z + 1), z = exp(beta x); 1 where beta x > threshold */
static cg_tensor *softplus_grad(const cg_node *n, cg_tensor *g, cg_tensor *x) {
    double beta = act_param(n, 0), threshold = act_param(n, 1);
    tmp S = {0};
    cg_tensor *th = K(number(threshold, x));
    cg_tensor *bx = K(mul_number(x, beta));
    cg_tensor *z = K(cg_exp(K(below(bx, th))));
    cg_tensor *soft = K(cg_mul(g, K(cg_div(z, K(add_number(z, 1.0))))));
    return tmp_end(&S, K(cg_where(K(cg_gt(bx, th)), g, soft)));
}
ACT_OP(softplus, "SoftplusBackward0", softplus_grad)

/* d/dx hardtanh(x) = 1 strictly between min_val and max_val, else 0 */
static cg_tensor *hardtanh_grad(const cg_node *n, cg_tensor *g, cg_tensor *x) {
    return times_raw(g, hardtanh_slope, x, act_param(n, 0), act_param(n, 1));
}
ACT_OP(hardtanh, "HardtanhBackward0", hardtanh_grad)

/* d/dx hardsigmoid(x) = 1/6 strictly inside (-3, 3), else 0 */
static cg_tensor *hardsigmoid_grad(const cg_node *n, cg_tensor *g, cg_tensor *x) {
    (void)n;
    return times_raw(g, hardsigmoid_slope, x, 0, 0);
}
ACT_OP(hardsigmoid, "HardsigmoidBackward0", hardsigmoid_grad)

/* d/dx hardswish(x) = 0 up to -3, x / 3 + 1/2 strictly inside (-3, 3), 1 from 3 on */
static cg_tensor *hardswish_grad(const cg_node *n, cg_tensor *g, cg_tensor *x) {
    (void)n;
    tmp S = {0};
    cg_tensor *c = K(pointwise(hardswish_c, (cg_dtype)x->dtype, x, NULL, NULL, 0, 0));
    cg_tensor *m = K(pointwise(hardswish_m, (cg_dtype)x->dtype, x, NULL, NULL, 0, 0));
    return tmp_end(&S, K(cg_mul(g, K(cg_add(c, K(cg_mul(x, m)))))));
}
ACT_OP(hardswish, "HardswishBackward0", hardswish_grad)

/* d/dx mish(x) = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x)) */
static cg_tensor *mish_grad(const cg_node *n, cg_tensor *g, cg_tensor *x) {
    (void)n;
    tmp S = {0};
    cg_tensor *t = K(cg_tanh(K(cg_softplus(x, 1.0, 20.0))));
    cg_tensor *rest = K(cg_mul(K(cg_mul(x, K(cg_sigmoid(x)))), K(rsub_number(K(cg_mul(t, t)), 1.0))));
    return tmp_end(&S, K(cg_mul(g, K(cg_add(t, rest)))));
}
ACT_OP(mish, "MishBackward0", mish_grad)

cg_tensor *cg_silu(cg_tensor *x) { return activation("silu_cpu", silu_fwd, &silu_op, x, 0, 0, 0); }

cg_tensor *cg_elu(cg_tensor *x, double alpha, double scale, double input_scale) {
    return activation("elu_cpu", elu_fwd, &elu_op, x, alpha * scale, scale, input_scale);
}

/* PyTorch's celu forward scales x by 1 / alpha, its backward (derivatives.yaml)
 * by 1 / alpha rounded to float first: the node keeps the latter. */
static double celu_backward_scale(double alpha) { return 1.0 / (double)(float)alpha; }

cg_tensor *cg_celu(cg_tensor *x, double alpha) {
    cg_tensor *out = activation("elu_cpu", elu_fwd, &celu_op, x, alpha, 1.0, 1.0 / alpha);
    if (out && out->grad_fn && out->grad_fn->op == &celu_op) {
        double s = celu_backward_scale(alpha);
        memcpy(&out->grad_fn->i[0], &s, sizeof s);
    }
    return out;
}

/* The in-place elu, selu and celu save their result, as PyTorch's (EluBackward1,
 * CeluBackward1): with r = elu(x), d/dx = scale where r > 0, else
 * input_scale (r + alpha scale); the second derivative (in r) is 0 at r = 0. */
static cg_tensor *elu_result_grad(const cg_node *n, cg_tensor *g, cg_tensor *r) {
    double negcoef = act_param(n, 0), scale = act_param(n, 1), in_scale = act_param(n, 2);
    tmp S = {0};
    cg_tensor *zero = K(number(0.0, r));
    cg_tensor *neg = K(cg_mul(K(mul_number(g, in_scale)), K(add_number(K(below(r, zero)), negcoef))));
    cg_tensor *pos = scale == 1 ? g : K(mul_number(g, scale));
    return tmp_end(&S, K(cg_where(K(cg_le(r, zero)), neg, pos)));
}
ACT_OP(elu_result, "EluBackward1", elu_result_grad)
ACT_OP(celu_result, "CeluBackward1", elu_result_grad)

static cg_tensor *elu_inplace(const cg_op *op, cg_tensor *x, double negcoef, double scale, double in_scale,
                              double backward_in_scale) {
    cg_dtype d;
    cg_inplace ip;
    if (float_dtype("elu_cpu", x, NULL, &d) || cg_inplace_begin(&ip, x, &x, 1)) return NULL;
    cg_tensor *src = cg_inplace_source(&ip);
    cg_tensor *out = src ? pointwise3(elu_fwd, d, src, NULL, NULL, (const double[3]){negcoef, scale, in_scale}) : NULL;
    if (out && ip.records) {
        cg_node *n = cg_node_new(op, &src, 1, 1);
        if (!n || cg_save(n, 0, out, true)) {
            out = fail(out, n);
        } else {
            n->f[0] = negcoef;
            n->f[1] = scale;
            memcpy(&n->i[0], &backward_in_scale, sizeof backward_in_scale);
            out = finish(out, n);
        }
    }
    cg_tensor_release(src);
    return cg_inplace_take(&ip, out);
}

cg_tensor *cg_elu_(cg_tensor *x, double alpha, double scale, double input_scale) {
    return elu_inplace(&elu_result_op, x, alpha * scale, scale, input_scale, input_scale);
}

cg_tensor *cg_celu_(cg_tensor *x, double alpha) {
    return elu_inplace(&celu_result_op, x, alpha, 1.0, 1.0 / alpha, celu_backward_scale(alpha));
}

cg_tensor *cg_softplus(cg_tensor *x, double beta, double threshold) {
    return activation("softplus_cpu", softplus_fwd, &softplus_op, x, beta, threshold, 0);
}

cg_tensor *cg_hardtanh(cg_tensor *x, double min_val, double max_val) {
    return activation("hardtanh_cpu", hardtanh_fwd, &hardtanh_op, x, min_val, max_val, 0);
}

cg_tensor *cg_hardsigmoid(cg_tensor *x) {
    return activation("hardsigmoid_cpu", hardsigmoid_fwd, &hardsigmoid_op, x, 0, 0, 0);
}

cg_tensor *cg_hardswish(cg_tensor *x) {
    return activation("hardswish_cpu", hardswish_fwd, &hardswish_op, x, 0, 0, 0);
}

cg_tensor *cg_mish(cg_tensor *x) { return activation("mish_cpu", mish_fwd, &mish_op, x, 0, 0, 0); }

/* ---- glu --------------------------------------------------------------------------- */

/* half k (0 or 1) of x along dim, a view */
static cg_tensor *glu_half(cg_tensor *x, int64_t dim, int k) {
    int64_t h = x->shape[dim] / 2;
    return cg_narrow(x, dim, k * h, h);
}

/* glu(x) = a sigmoid(b): d/da = sigmoid(b), d/db = a sigmoid(b) (1 - sigmoid(b)) */
static int glu_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    tmp S = {0};
    cg_tensor *x = K(cg_unpack(n, 0));
    cg_tensor *a = K(glu_half(x, n->i[0], 0)), *b = K(glu_half(x, n->i[0], 1));
    cg_tensor *s = K(cg_sigmoid(b));
    cg_tensor *gs = K(cg_mul(gout[0], s));
    cg_tensor *halves[2] = {gs, K(cg_mul(K(cg_mul(gs, a)), K(rsub_number(s, 1.0))))};
    gin[0] = tmp_end(&S, S.failed ? NULL : K(cg_cat(halves, 2, n->i[0])));
    return gin[0] ? 0 : -1;
}
static const cg_op glu_op = {"GluBackward0", glu_backward, NULL};

cg_tensor *cg_glu(cg_tensor *x, int64_t dim) {
    cg_dtype d;
    if (float_dtype("glu_cpu", x, NULL, &d)) return NULL;
    cg_tensor *a = glu_half(x, dim, 0), *b = a ? glu_half(x, dim, 1) : NULL;
    cg_tensor *out = b ? pointwise(glu_fwd, d, a, b, NULL, 0, 0) : NULL;
    cg_tensor_release(a);
    cg_tensor_release(b);
    if (!out || !cg_any_requires_grad(&x, 1)) return out;
    cg_node *n = cg_node_new(&glu_op, &x, 1, 1);
    if (!n || cg_save(n, 0, x, false)) return fail(out, n);
    n->i[0] = dim;
    return finish(out, n);
}

cg_tensor *cg_silu_(cg_tensor *x) { return activation_("silu_cpu", silu_fwd, &silu_op, x, 0, 0); }

cg_tensor *cg_hardtanh_(cg_tensor *x, double min_val, double max_val) {
    return activation_("hardtanh_cpu", hardtanh_fwd, &hardtanh_op, x, min_val, max_val);
}

cg_tensor *cg_hardsigmoid_(cg_tensor *x) {
    return activation_("hardsigmoid_cpu", hardsigmoid_fwd, &hardsigmoid_op, x, 0, 0);
}

cg_tensor *cg_hardswish_(cg_tensor *x) { return activation_("hardswish_cpu", hardswish_fwd, &hardswish_op, x, 0, 0); }

cg_tensor *cg_mish_(cg_tensor *x) { return activation_("mish_cpu", mish_fwd, &mish_op, x, 0, 0); }

/* ---- pointwise losses: mse, huber, binary cross-entropy ---------------------------- */

enum { RED_NONE = 0, RED_MEAN = 1, RED_SUM = 2 }; /* PyTorch's Reduction enum */

static int check_reduction(int reduction) {
    if (reduction < RED_NONE || reduction > RED_SUM) {
        cg_error_set(CG_ERR_VALUE, "%d is not a valid value for reduction", reduction);
        return -1;
    }
    return 0;
}

/* Element-wise loss values (stolen), reduced as asked; *count gets their number. */
static cg_tensor *reduce_loss(cg_tensor *t, int reduction, int64_t *count) {
    if (!t || reduction == RED_NONE) return t;
    *count = t->numel;
    int on = grad_off();
    cg_tensor *r = reduction == RED_MEAN ? cg_mean(t, NULL, 0, 0) : cg_sum(t, NULL, 0, 0);
    cg_set_grad_enabled(on);
    cg_tensor_release(t);
    return r;
}

/* A loss node over (x, y), saving both; c0, c1 are constants it keeps. */
static cg_tensor *record_loss(const cg_op *op, cg_tensor *out, cg_tensor *x, cg_tensor *y, int reduction,
                              int64_t count, double p0, cg_tensor *c0, cg_tensor *c1) {
    cg_tensor *ins[2] = {x, y};
    if (!out || !cg_any_requires_grad(ins, 2)) return out;
    cg_node *n = cg_node_new(op, ins, 2, 1);
    if (!n || cg_save(n, 0, x, false) || cg_save(n, 1, y, false) || keep_consts(n, c0, c1, NULL, NULL))
        return fail(out, n);
    n->i[0] = reduction;
    n->f[0] = (double)count;
    n->f[1] = p0;
    return finish(out, n);
}

/* The loss's incoming gradient as the factor of every element's derivative. */
static cg_tensor *loss_factor(cg_node *n, cg_tensor *g) {
    if (n->i[0] == RED_MEAN) {
        cg_tensor *c = number(n->f[0], g);
        cg_tensor *r = c ? cg_div(g, c) : NULL;
        cg_tensor_release(c);
        return r;
    }
    cg_tensor_retain(g);
    return g;
}

/* gin[0] = ex, gin[1] = ey, summed back to the inputs' shapes (borrowed; NULL: -ex). */
static int loss_grads(cg_node *n, cg_tensor *ex, cg_tensor *ey, cg_tensor **gin) {
    if (!ex) return -1;
    if (cg_wants(n, 0)) {
        cg_tensor_retain(ex);
        if (!(gin[0] = cg_reduce_grad(n, 0, ex))) return -1;
    }
    if (cg_wants(n, 1)) {
        if (ey)
            cg_tensor_retain(ey);
        else
            ey = cg_neg(ex);
        if (!(gin[1] = cg_reduce_grad(n, 1, ey))) return -1;
    }
    return 0;
}

static int mse_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dx (x - y)^2 = 2 (x - y) = -d/dy */
    tmp S = {0};
    cg_tensor *x = K(cg_unpack(n, 0)), *y = K(cg_unpack(n, 1)), *f = K(loss_factor(n, gout[0]));
    cg_tensor *e = K(cg_mul(K(mul_number(K(cg_sub(x, y)), 2.0)), f));
    int rc = S.failed ? -1 : loss_grads(n, e, NULL, gin);
    tmp_end(&S, NULL);
    return rc;
}
static const cg_op mse_op = {"MseLossBackward0", mse_backward, consts_free};

cg_tensor *cg_mse_loss(cg_tensor *x, cg_tensor *y, int reduction) {
    cg_dtype d;
    int64_t count = 0;
    if (check_reduction(reduction) || float_dtype("mse_cpu", x, y, &d)) return NULL;
    cg_tensor *out = reduce_loss(pointwise(mse_fwd, d, x, y, NULL, 0, 0), reduction, &count);
    return record_loss(&mse_op, out, x, y, reduction, count, 0, NULL, NULL);
}

static int huber_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dx huber(x - y) = x - y inside [-delta, delta], delta sign(x - y) outside */
    tmp S = {0};
    double delta = n->f[1];
    cg_tensor *x = K(cg_unpack(n, 0)), *y = K(cg_unpack(n, 1)), *f = K(loss_factor(n, gout[0]));
    cg_dtype d = S.failed ? CG_FLOAT64 : cg_result_type(x, y);
    cg_tensor *in = S.failed ? NULL : K(pointwise(huber_inside, d, x, y, NULL, delta, 0));
    cg_tensor *out = S.failed ? NULL : K(pointwise(huber_outside, d, x, y, NULL, delta, 0));
    cg_tensor *slope = K(cg_add(K(cg_mul(K(cg_sub(x, y)), in)), out));
    int rc = S.failed ? -1 : loss_grads(n, K(cg_mul(slope, f)), NULL, gin);
    tmp_end(&S, NULL);
    return rc;
}
static const cg_op huber_op = {"HuberLossBackward0", huber_backward, consts_free};

cg_tensor *cg_huber_loss(cg_tensor *x, cg_tensor *y, int reduction, double delta) {
    cg_dtype d;
    int64_t count = 0;
    if (check_reduction(reduction) || float_dtype("huber_cpu", x, y, &d)) return NULL;
    if (!(delta > 0)) {
        cg_error_set(CG_ERR_RUNTIME, "huber_loss does not support non-positive values for delta.");
        return NULL;
    }
    cg_tensor *out = reduce_loss(pointwise(huber_fwd, d, x, y, NULL, delta, 0), reduction, &count);
    return record_loss(&huber_op, out, x, y, reduction, count, delta, NULL, NULL);
}

/* max(v, eps) as a differentiable function of v: v where v >= eps, else the constant eps */
static cg_tensor *clamp_min_diff(cg_tensor *v, double eps) {
    tmp S = {0};
    cg_tensor *below = K(pointwise(below_p0, (cg_dtype)v->dtype, v, NULL, NULL, eps, 0));
    cg_tensor *floor_ = S.failed ? NULL : K(pointwise(below_p0_value, (cg_dtype)v->dtype, v, NULL, NULL, eps, 0));
    cg_tensor *r = K(cg_add(K(cg_mul(v, K(rsub_number(below, 1.0)))), floor_));
    return tmp_end(&S, r);
}

static int bce_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dx = w (x - y) / max(x (1 - x), 1e-12), d/dy = w (log(1 - x) - log(x)) */
    tmp S = {0};
    cg_tensor *x = K(cg_unpack(n, 0)), *y = K(cg_unpack(n, 1)), *f = K(loss_factor(n, gout[0]));
    cg_tensor *w = konst(n, 0), *ex = NULL, *ey = NULL;
    cg_tensor *one_m = K(rsub_number(x, 1.0));
    if (cg_wants(n, 0)) {
        cg_tensor *den = K(clamp_min_diff(K(cg_mul(x, one_m)), 1e-12));
        ex = K(cg_mul(K(cg_div(K(cg_sub(x, y)), den)), f));
        if (w) ex = K(cg_mul(ex, w));
    }
    if (cg_wants(n, 1)) {
        ey = K(cg_mul(K(cg_sub(K(cg_log(one_m)), K(cg_log(x)))), f));
        if (w) ey = K(cg_mul(ey, w));
    }
    int rc = S.failed ? -1 : loss_grads(n, ex ? ex : ey, ey, gin);
    tmp_end(&S, NULL);
    return rc;
}
static const cg_op bce_op = {"BinaryCrossEntropyBackward0", bce_backward, consts_free};

/* t[0] dense: an error unless every element is in [0, 1] */
static int probabilities_kernel(const cg_kargs *k) {
    cg_tensor *c = k->t[0];
    bool ok = true;
    for (int64_t i = 0; i < c->numel && ok; i++) {
        double v = c->dtype == CG_FLOAT64 ? ((double *)VP(c))[i] : ((float *)VP(c))[i];
        ok = v >= 0 && v <= 1;
    }
    if (!ok) cg_error_set(CG_ERR_RUNTIME, "all elements of input should be between 0 and 1");
    return ok ? 0 : -1;
}

static int check_probabilities(const cg_tensor *x) {
    cg_tensor *c = dense_like((cg_tensor *)x);
    if (!c) return -1;
    int rc = cg_kernel(probabilities_kernel, &(cg_kargs){.name = "a probability check", .t = {c}});
    cg_tensor_release(c);
    return rc;
}

cg_tensor *cg_binary_cross_entropy(cg_tensor *x, cg_tensor *y, cg_tensor *weight, int reduction) {
    cg_dtype d;
    int64_t count = 0;
    if (check_reduction(reduction) || float_dtype("binary_cross_entropy", x, y, &d) || check_probabilities(x))
        return NULL;
    cg_tensor *out = reduce_loss(pointwise(bce_fwd, d, x, y, weight, 0, 0), reduction, &count);
    return record_loss(&bce_op, out, x, y, reduction, count, 0, weight, NULL);
}

/* softplus(-x) = relu(-x) + log(1 + exp(-|x|)), |x| = relu(x) + relu(-x) */
static cg_tensor *softplus_neg(cg_tensor *x) {
    tmp S = {0};
    cg_tensor *rn = K(cg_relu(K(cg_neg(x))));
    cg_tensor *absx = K(cg_add(K(cg_relu(x)), rn));
    cg_tensor *r = K(cg_add(rn, K(cg_log(K(add_number(K(cg_exp(K(cg_neg(absx)))), 1.0))))));
    return tmp_end(&S, r);
}

static int bce_logits_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* with L = 1 + (pw - 1) y: d/dx = w (L sigmoid(x) - pw y), d/dy = w ((pw - 1) softplus(-x) - x) */
    tmp S = {0};
    cg_tensor *x = K(cg_unpack(n, 0)), *y = K(cg_unpack(n, 1)), *f = K(loss_factor(n, gout[0]));
    cg_tensor *w = konst(n, 0), *pw = konst(n, 1), *ex = NULL, *ey = NULL;
    cg_tensor *pwm1 = pw ? K(add_number(pw, -1.0)) : NULL;
    if (cg_wants(n, 0)) {
        cg_tensor *sig = K(cg_sigmoid(x));
        if (pw)
            ex = K(cg_sub(K(cg_mul(K(add_number(K(cg_mul(pwm1, y)), 1.0)), sig)), K(cg_mul(pw, y))));
        else
            ex = K(cg_sub(sig, y));
        ex = K(cg_mul(ex, f));
        if (w) ex = K(cg_mul(ex, w));
    }
    if (cg_wants(n, 1)) {
        ey = K(cg_neg(x));
        if (pw) ey = K(cg_add(ey, K(cg_mul(pwm1, K(softplus_neg(x))))));
        ey = K(cg_mul(ey, f));
        if (w) ey = K(cg_mul(ey, w));
    }
    int rc = S.failed ? -1 : loss_grads(n, ex ? ex : ey, ey, gin);
    tmp_end(&S, NULL);
    return rc;
}
static const cg_op bce_logits_op = {"BinaryCrossEntropyWithLogitsBackward0", bce_logits_backward, consts_free};

cg_tensor *cg_binary_cross_entropy_with_logits(cg_tensor *x, cg_tensor *y, cg_tensor *weight,
                                               cg_tensor *pos_weight, int reduction) {
    cg_dtype d;
    int64_t count = 0;
    if (check_reduction(reduction) || float_dtype("binary_cross_entropy_with_logits", x, y, &d)) return NULL;
    cg_tensor *out = pointwise(bce_logits_fwd, d, x, y, pos_weight, 0, 0);
    if (out && weight) {
        cg_tensor *wl = cg_binary_raw(CG_BIN_MUL, out, weight, d);
        cg_tensor_release(out);
        out = wl;
    }
    out = reduce_loss(out, reduction, &count);
    return record_loss(&bce_logits_op, out, x, y, reduction, count, 0, weight, pos_weight);
}

/* ---- ops along one dim: softmax, log_softmax, cumsum, sort ----------------------------- */

/* x, non-empty, as a contiguous (outer, len, inner) block around dim d */
static void along(const cg_tensor *x, int64_t d, int64_t *outer, int64_t *len, int64_t *inner) {
    *len = x->ndim ? x->shape[d] : 1;
    *inner = 1;
    for (int k = (int)d + 1; k < x->ndim; k++) *inner *= x->shape[k];
    *outer = x->numel / (*len * *inner);
}

/* Over a contiguous (outer, len, inner) block: y = softmax or log_softmax
 * along the middle axis, shifted by the maximum for stability. */
#define SOFTMAX_KERNEL(NAME, T, EXP, LOG)                                                    \
    static void NAME(const T *x, T *y, int64_t outer, int64_t len, int64_t inner, bool log_) { \
        for (int64_t o = 0; o < outer; o++)                                                  \
            for (int64_t j = 0; j < inner; j++) {                                            \
                const T *xr = x + o * len * inner + j;                                       \
                T *yr = y + o * len * inner + j;                                             \
                T mx = -INFINITY;                                                            \
                for (int64_t k = 0; k < len; k++)                                            \
                    if (xr[k * inner] > mx || isnan(xr[k * inner])) mx = xr[k * inner];      \
                if (isinf(mx) && mx < 0) mx = 0;                                             \
                T sum = 0;                                                                   \
                for (int64_t k = 0; k < len; k++) {                                          \
                    T e = EXP(xr[k * inner] - mx);                                           \
                    if (!log_) yr[k * inner] = e;                                            \
                    sum += e;                                                                \
                }                                                                            \
                if (log_) {                                                                  \
                    T lse = LOG(sum) + mx;                                                   \
                    for (int64_t k = 0; k < len; k++) yr[k * inner] = xr[k * inner] - lse;   \
                } else {                                                                     \
                    for (int64_t k = 0; k < len; k++) yr[k * inner] /= sum;                  \
                }                                                                            \
            }                                                                                \
    }
SOFTMAX_KERNEL(softmax_f32, float, expf, logf)
SOFTMAX_KERNEL(softmax_f64, double, exp, log)

/* t = {y, dense x}, i = {outer, len, inner, log} */
static int softmax_kernel(const cg_kargs *k) {
    if (k->t[0]->dtype == CG_FLOAT64)
        softmax_f64(VP(k->t[1]), VP(k->t[0]), k->i[0], k->i[1], k->i[2], k->i[3]);
    else
        softmax_f32(VP(k->t[1]), VP(k->t[0]), k->i[0], k->i[1], k->i[2], k->i[3]);
    return 0;
}

/* d softmax: g_in = y (g - sum(g y)); d log_softmax: g_in = g - exp(y) sum(g) */
static int softmax_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    tmp S = {0};
    int64_t dim = n->i[0];
    bool log_ = n->i[1];
    cg_tensor *y = K(cg_unpack(n, 0)), *g = gout[0], *r;
    if (log_)
        r = K(cg_sub(g, K(cg_mul(K(cg_exp(y)), K(cg_sum(g, &dim, 1, 1))))));
    else
        r = K(cg_mul(y, K(cg_sub(g, K(cg_sum(K(cg_mul(g, y)), &dim, 1, 1))))));
    return (gin[0] = tmp_end(&S, r)) ? 0 : -1;
}
static const cg_op softmax_op = {"SoftmaxBackward0", softmax_backward, NULL};
static const cg_op log_softmax_op = {"LogSoftmaxBackward0", softmax_backward, NULL};

static cg_tensor *softmax_impl(cg_tensor *x, int64_t dim, bool log_) {
    int64_t d;
    cg_dtype dtype = (cg_dtype)x->dtype;
    if (cg_wrap_dim(dim, x->ndim, &d)) return NULL;
    /* PyTorch names the kernel it would run, and runs none on an empty tensor */
    bool last = x->ndim == 0 || d == x->ndim - 1;
    const char *kernel = log_ ? (last ? "log_softmax_lastdim_kernel_impl" : "log_softmax_kernel_impl")
                              : (last ? "softmax_lastdim_kernel_impl" : "softmax_kernel_impl");
    if (x->numel == 0 && !cg_dtype_is_floating(dtype)) return cg_empty(x->shape, x->ndim, dtype);
    if (float_dtype(kernel, x, NULL, &dtype)) return NULL;
    cg_tensor *c = dense_like(x);
    cg_tensor *out = c ? cg_empty(x->shape, x->ndim, dtype) : NULL;
    if (out && out->numel) {
        int64_t outer, len, inner;
        along(x, d, &outer, &len, &inner);
        cg_kernel(softmax_kernel, &(cg_kargs){.name = "softmax", .t = {out, c}, .nw = 1, .i = {outer, len, inner, log_}});
    }
    cg_tensor_release(c);
    if (!out || !cg_any_requires_grad(&x, 1)) return out;
    cg_node *n = cg_node_new(log_ ? &log_softmax_op : &softmax_op, &x, 1, 1);
    if (!n || cg_save(n, 0, out, true)) return fail(out, n);
    n->i[0] = d;
    n->i[1] = log_;
    return finish(out, n);
}

cg_tensor *cg_softmax(cg_tensor *x, int64_t dim) { return softmax_impl(x, dim, false); }
cg_tensor *cg_log_softmax(cg_tensor *x, int64_t dim) { return softmax_impl(x, dim, true); }

/* Over a contiguous (outer, len, inner) block: y[k] = x[0] OP ... OP x[k]
 * along the middle axis, in order, accumulated in ACC (double for both float
 * dtypes, as PyTorch: float32 results round once per output). */
#define SCAN_KERNEL(NAME, T, ACC, OP, INIT)                                                  \
    static void NAME(const T *x, T *y, int64_t outer, int64_t len, int64_t inner) {          \
        for (int64_t o = 0; o < outer; o++)                                                  \
            for (int64_t j = 0; j < inner; j++) {                                            \
                const T *xr = x + o * len * inner + j;                                       \
                T *yr = y + o * len * inner + j;                                             \
                ACC acc = INIT;                                                              \
                for (int64_t k = 0; k < len; k++) {                                          \
                    acc = OP(acc, (ACC)xr[k * inner]);                                       \
                    yr[k * inner] = (T)acc;                                                  \
                }                                                                            \
            }                                                                                \
    }
#define PLUS(a, b) ((a) + (b))
#define TIMES(a, b) ((a) * (b))
SCAN_KERNEL(cumsum_f32, float, double, PLUS, 0)
SCAN_KERNEL(cumsum_f64, double, double, PLUS, 0)
SCAN_KERNEL(cumsum_i64, int64_t, int64_t, cg_wrap_add, 0)
SCAN_KERNEL(cumprod_f32, float, double, TIMES, 1)
SCAN_KERNEL(cumprod_f64, double, double, TIMES, 1)
SCAN_KERNEL(cumprod_i64, int64_t, int64_t, cg_wrap_mul, 1)

/* t = {y, dense x}, i = {outer, len, inner, product} */
static int scan_kernel(const cg_kargs *k) {
    cg_dtype d = (cg_dtype)k->t[0]->dtype;
    const void *x = VP(k->t[1]);
    void *y = VP(k->t[0]);
    int64_t o = k->i[0], len = k->i[1], in = k->i[2];
    bool prod = k->i[3];
    if (d == CG_FLOAT64)
        (prod ? cumprod_f64 : cumsum_f64)(x, y, o, len, in);
    else if (d == CG_FLOAT32)
        (prod ? cumprod_f32 : cumsum_f32)(x, y, o, len, in);
    else
        (prod ? cumprod_i64 : cumsum_i64)(x, y, o, len, in);
    return 0;
}

/* The running sums (products) of x along dim d: floats in their dtype,
 * integers and bool as int64. */
static cg_tensor *scan_raw(cg_tensor *x, int64_t d, bool prod) {
    cg_dtype dtype = cg_dtype_is_floating((cg_dtype)x->dtype) ? (cg_dtype)x->dtype : CG_INT64;
    cg_tensor *c = dense(x, x->shape, x->ndim, dtype);
    cg_tensor *out = c ? cg_empty(x->shape, x->ndim, dtype) : NULL;
    if (out && out->numel) {
        int64_t outer, len, inner;
        along(x, d, &outer, &len, &inner);
        cg_kernel(scan_kernel, &(cg_kargs){.name = prod ? "cumprod" : "cumsum", .t = {out, c}, .nw = 1,
                                           .i = {outer, len, inner, prod}});
    }
    cg_tensor_release(c);
    return out;
}

/* r[k] = g[k] + ... + g[len - 1] along dim */
static cg_tensor *reverse_cumsum(cg_tensor *g, int64_t dim) {
    tmp S = {0};
    return tmp_end(&S, K(cg_flip(K(cg_cumsum(K(cg_flip(g, &dim, 1)), dim)), &dim, 1)));
}

/* d cumsum: each input is in the sums of its position and all after it,
 * g_in = flip(cumsum(flip(g))) along the dim */
static int cumsum_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *g = gout[0];
    return (gin[0] = g->ndim ? reverse_cumsum(g, n->i[0]) : cg_clone(g)) ? 0 : -1;
}
static const cg_op cumsum_op = {"CumsumBackward0", cumsum_backward, NULL};

cg_tensor *cg_cumsum(cg_tensor *x, int64_t dim) {
    int64_t d;
    if (cg_wrap_dim(dim, x->ndim, &d)) return NULL;
    cg_tensor *out = scan_raw(x, d, false);
    if (!out || !cg_any_requires_grad(&x, 1)) return out;
    cg_node *n = cg_node_new(&cumsum_op, &x, 1, 1);
    if (!n) return fail(out, n);
    n->i[0] = d;
    return finish(out, n);
}

/* The gradient of cumprod at the c-th zero z of each slice (zeros elsewhere):
 * prod_{j < z} x[j] * sum_{k >= z} g[k] prod_{z < j <= k} x[j]. count is the
 * running count of zeros of x along dim. */
static cg_tensor *cumprod_grad_at_zero(cg_tensor *g, cg_tensor *x, cg_tensor *count, cg_tensor *is_zero,
                                       int64_t dim, double c) {
    tmp S = {0};
    cg_tensor *zero = K(number(0, x)), *one = K(number(1, x)), *cnum = K(number(c, x));
    cg_tensor *before = K(cg_lt(count, cnum)), *at = K(cg_logical_and(is_zero, K(cg_eq(count, cnum))));
    cg_tensor *head = K(cg_prod(K(cg_masked_fill(x, K(cg_ge(count, cnum)), one)), &dim, 1, 1));
    cg_tensor *tail = K(cg_cumprod(K(cg_masked_fill(x, K(cg_logical_or(before, at)), one)), dim));
    cg_tensor *tail_sum = K(cg_sum(K(cg_masked_fill(K(cg_mul(g, tail)), before, zero)), &dim, 1, 1));
    return tmp_end(&S, K(cg_where(at, K(cg_mul(head, tail_sum)), zero)));
}

/* d cumprod: g_in[i] = sum_{k >= i} g[k] prod_{j <= k, j != i} x[j].
 * Where x[i] != 0 that is reverse_cumsum(g y)[i] / x[i]; at the zeros,
 * cumprod_grad_at_zero, which is 0 after the first zero of a slice. Each piece
 * is a product of the x themselves, so for second derivatives (create_graph)
 * the second zero counts too; the third and later have none. */
static int cumprod_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    const cg_shape *in = &n->in_shape[0];
    int64_t dim = n->i[0];
    if (in->ndim == 0 || in->d[dim] <= 1) {
        cg_tensor_retain(gin[0] = gout[0]);
        return 0;
    }
    tmp S = {0};
    cg_tensor *g = gout[0], *x = K(cg_unpack(n, 0)), *y = K(cg_unpack(n, 1));
    cg_tensor *zero = K(number(0, x)), *one = K(number(1, x));
    cg_tensor *is_zero = K(cg_eq(x, zero)), *count = K(cg_cumsum(is_zero, dim));
    cg_tensor *q = K(cg_div(K(reverse_cumsum(K(cg_mul(g, y)), dim)), K(cg_masked_fill(x, is_zero, one))));
    cg_tensor *r = K(cg_where(is_zero, K(cumprod_grad_at_zero(g, x, count, is_zero, dim, 1)), q));
    if (cg_is_grad_enabled()) r = K(cg_add(r, K(cumprod_grad_at_zero(g, x, count, is_zero, dim, 2))));
    return (gin[0] = tmp_end(&S, r)) ? 0 : -1;
}
static const cg_op cumprod_op = {"CumprodBackward0", cumprod_backward, NULL};

cg_tensor *cg_cumprod(cg_tensor *x, int64_t dim) {
    int64_t d;
    if (cg_wrap_dim(dim, x->ndim, &d)) return NULL;
    cg_tensor *out = scan_raw(x, d, true);
    if (!out || !cg_any_requires_grad(&x, 1)) return out;
    cg_node *n = cg_node_new(&cumprod_op, &x, 1, 1);
    if (!n || cg_save(n, 0, x, false) || cg_save(n, 1, out, true)) return fail(out, n);
    n->i[0] = d;
    return finish(out, n);
}

/* x = cumsum(x) (cumprod) in place, recorded as the out-of-place node. As
 * PyTorch: dtype (the dtype= argument) must be x's, and bool is refused, its
 * sums being int64; the dim is checked first. */
static cg_tensor *scan_(cg_tensor *x, int64_t dim, cg_dtype dtype, bool prod) {
    cg_inplace ip;
    int64_t d;
    if (cg_inplace_begin(&ip, x, &x, 1) || cg_wrap_dim(dim, x->ndim, &d)) return NULL;
    if (dtype != x->dtype) {
        cg_error_set(CG_ERR_RUNTIME, "Bad in-place call: input tensor dtype %s and output tensor dtype %s should match",
                     cg_dtype_c_name((cg_dtype)x->dtype), cg_dtype_c_name(dtype));
        return NULL;
    }
    if (x->dtype == CG_BOOL) {
        cg_error_set(CG_ERR_NOTIMPL, "\"%s_out_cpu\" not implemented for 'Bool'", prod ? "cumprod" : "cumsum");
        return NULL;
    }
    cg_tensor *src = cg_inplace_source(&ip);
    cg_tensor *r = src ? (prod ? cg_cumprod : cg_cumsum)(src, d) : NULL;
    cg_tensor_release(src);
    return cg_inplace_take(&ip, r);
}

cg_tensor *cg_cumsum_(cg_tensor *x, int64_t dim, cg_dtype dtype) { return scan_(x, dim, dtype, false); }
cg_tensor *cg_cumprod_(cg_tensor *x, int64_t dim, cg_dtype dtype) { return scan_(x, dim, dtype, true); }

/* log(exp(x) + exp(acc)) as PyTorch's CPU scan computes it: a NaN running
 * value stays, and two infinities of one sign give that infinity. */
static inline double log_add_exp(double acc, double x) {
    double lo = isnan(acc) ? acc : (acc < x ? acc : x);
    double hi = isnan(acc) ? acc : (x < acc ? acc : x);
    return lo != hi || isfinite(lo) ? hi + log1p(exp(lo - hi)) : x;
}
SCAN_KERNEL(logcumsumexp_f32, float, double, log_add_exp, -INFINITY)
SCAN_KERNEL(logcumsumexp_f64, double, double, log_add_exp, -INFINITY)

/* t = {y, dense x}, i = {outer, len, inner} */
static int logcumsumexp_kernel(const cg_kargs *k) {
    if (k->t[0]->dtype == CG_FLOAT64)
        logcumsumexp_f64(VP(k->t[1]), VP(k->t[0]), k->i[0], k->i[1], k->i[2]);
    else
        logcumsumexp_f32(VP(k->t[1]), VP(k->t[0]), k->i[0], k->i[1], k->i[2]);
    return 0;
}

static cg_tensor *reverse_logcumsumexp(cg_tensor *x, int64_t dim) {
    tmp S = {0};
    return tmp_end(&S, K(cg_flip(K(cg_logcumsumexp(K(cg_flip(x, &dim, 1)), dim)), &dim, 1)));
}

/* d logcumsumexp: g_in[i] = sum_{k >= i} g[k] exp(x[i] - y[k]), summed in log
 * space, apart for the positive and the negative g, so that nothing overflows:
 * exp(reverse_logcumsumexp(log|g| - y) + x) */
static int logcumsumexp_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *g = gout[0];
    if (g->ndim == 0 || g->numel == 0) {
        cg_tensor_retain(gin[0] = g);
        return 0;
    }
    int64_t dim = n->i[0];
    tmp S = {0};
    cg_tensor *x = K(cg_unpack(n, 0)), *y = K(cg_unpack(n, 1));
    cg_tensor *zero = K(number(0, g)), *lowest = K(number(g->dtype == CG_FLOAT32 ? -FLT_MAX : -DBL_MAX, g));
    cg_tensor *log_abs = K(cg_log(K(cg_abs(g))));
    cg_tensor *pos = K(cg_where(K(cg_gt(g, zero)), log_abs, lowest));
    cg_tensor *neg = K(cg_where(K(cg_lt(g, zero)), log_abs, lowest));
    cg_tensor *gp = K(cg_exp(K(cg_add(K(reverse_logcumsumexp(K(cg_sub(pos, y)), dim)), x))));
    cg_tensor *gn = K(cg_exp(K(cg_add(K(reverse_logcumsumexp(K(cg_sub(neg, y)), dim)), x))));
    return (gin[0] = tmp_end(&S, K(cg_sub(gp, gn)))) ? 0 : -1;
}
static const cg_op logcumsumexp_op = {"LogcumsumexpBackward0", logcumsumexp_backward, NULL};

cg_tensor *cg_logcumsumexp(cg_tensor *x, int64_t dim) {
    int64_t d;
    cg_dtype dtype;
    if (cg_wrap_dim(dim, x->ndim, &d) || float_dtype("logcumsumexp_out_cpu", x, NULL, &dtype)) return NULL;
    cg_tensor *c = dense_like(x);
    cg_tensor *out = c ? cg_empty(x->shape, x->ndim, dtype) : NULL;
    if (out && out->numel) {
        int64_t outer, len, inner;
        along(x, d, &outer, &len, &inner);
        cg_kernel(logcumsumexp_kernel, &(cg_kargs){.name = "logcumsumexp", .t = {out, c}, .nw = 1,
                                                   .i = {outer, len, inner}});
    }
    cg_tensor_release(c);
    if (!out || !cg_any_requires_grad(&x, 1)) return out;
    cg_node *n = cg_node_new(&logcumsumexp_op, &x, 1, 1);
    if (!n || cg_save(n, 0, x, false) || cg_save(n, 1, out, true)) return fail(out, n);
    n->i[0] = d;
    return finish(out, n);
}

/* Over a contiguous (outer, len, inner) block: the running maximum (minimum)
 * along the middle axis and the last position it was reached at. A NaN, once
 * met, stays, and its position moves on to each later NaN, as PyTorch's. */
#define IS_NAN(v) ((v) != (v))
#define CUMMAX_KERNEL(NAME, T)                                                               \
    static void NAME(const T *x, T *y, int64_t *ix, int64_t outer, int64_t len, int64_t inner, bool min) { \
        for (int64_t o = 0; o < outer; o++)                                                  \
            for (int64_t j = 0; j < inner; j++) {                                            \
                int64_t base = o * len * inner + j, at = 0;                                  \
                T best = x[base];                                                            \
                for (int64_t k = 0; k < len; k++) {                                          \
                    T v = x[base + k * inner];                                               \
                    if (IS_NAN(v) || (!IS_NAN(best) && (min ? v <= best : v >= best))) {     \
                        best = v;                                                            \
                        at = k;                                                              \
                    }                                                                        \
                    y[base + k * inner] = best;                                              \
                    ix[base + k * inner] = at;                                               \
                }                                                                            \
            }                                                                                \
    }
CUMMAX_KERNEL(cummax_f32, float)
CUMMAX_KERNEL(cummax_f64, double)
CUMMAX_KERNEL(cummax_i64, int64_t)
CUMMAX_KERNEL(cummax_b8, uint8_t)

/* t = {values, indices, dense x}, i = {outer, len, inner, min} */
static int cummax_kernel(const cg_kargs *k) {
    void *y = VP(k->t[0]);
    int64_t *ix = VP(k->t[1]), o = k->i[0], len = k->i[1], in = k->i[2];
    const void *x = VP(k->t[2]);
    bool min = k->i[3];
    switch (k->t[2]->dtype) {
    case CG_FLOAT32: cummax_f32(x, y, ix, o, len, in, min); break;
    case CG_FLOAT64: cummax_f64(x, y, ix, o, len, in, min); break;
    case CG_INT64: cummax_i64(x, y, ix, o, len, in, min); break;
    default: cummax_b8(x, y, ix, o, len, in, min); break;
    }
    return 0;
}

/* d cummax: each output passes its gradient to the position its value came
 * from, g_in = zeros.scatter_add(dim, indices, g) */
static int cummax_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    const cg_shape *in = &n->in_shape[0];
    if (in->ndim == 0) {
        cg_tensor_retain(gin[0] = gout[0]);
        return 0;
    }
    tmp S = {0};
    cg_tensor *index = K(cg_unpack(n, 0));
    cg_tensor *z = K(cg_zeros(in->d, in->ndim, (cg_dtype)gout[0]->dtype));
    return (gin[0] = tmp_end(&S, K(cg_scatter_add(z, n->i[0], index, gout[0])))) ? 0 : -1;
}
static const cg_op cummax_op = {"CummaxBackward0", cummax_backward, NULL};
static const cg_op cummin_op = {"CumminBackward0", cummax_backward, NULL};

static cg_tensor *cummax_cummin(cg_tensor *x, int64_t dim, bool min, cg_tensor **indices) {
    int64_t d;
    *indices = NULL;
    if (x->ndim == 0 && dim != 0 && dim != -1) {
        cg_error_set(CG_ERR_INDEX, "%s(): Expected reduction dim -1 or 0 for scalar but got %lld",
                     min ? "cummin" : "cummax", (long long)dim);
        return NULL;
    }
    if (cg_wrap_dim(dim, x->ndim, &d)) return NULL;
    cg_tensor *c = dense_like(x);
    cg_tensor *out = c ? cg_empty(x->shape, x->ndim, (cg_dtype)x->dtype) : NULL;
    *indices = out ? cg_empty(x->shape, x->ndim, CG_INT64) : NULL;
    if (*indices && x->numel) {
        int64_t outer, len, inner;
        along(x, d, &outer, &len, &inner);
        cg_kernel(cummax_kernel, &(cg_kargs){.name = min ? "cummin" : "cummax", .t = {out, *indices, c}, .nw = 2,
                                             .i = {outer, len, inner, min}});
    }
    cg_tensor_release(c);
    if (!*indices) return fail(out, NULL);
    if (!cg_any_requires_grad(&x, 1)) return out;
    cg_node *n = cg_node_new(min ? &cummin_op : &cummax_op, &x, 1, 1);
    if (!n || cg_save(n, 0, *indices, false)) {
        cg_tensor_release(*indices);
        *indices = NULL;
        return fail(out, n);
    }
    n->i[0] = d;
    return finish(out, n);
}

cg_tensor *cg_cummax(cg_tensor *x, int64_t dim, cg_tensor **indices) { return cummax_cummin(x, dim, false, indices); }
cg_tensor *cg_cummin(cg_tensor *x, int64_t dim, cg_tensor **indices) { return cummax_cummin(x, dim, true, indices); }

/* Whether a goes strictly before b: ascending puts NaN last, descending
 * first, as PyTorch. For integers the NaN tests fold away. */
#define ASC_BEFORE(a, b) ((a) == (a) && ((b) != (b) || (a) < (b)))
#define DESC_BEFORE(a, b) ((a) != (a) ? (b) == (b) : (b) == (b) && (a) > (b))

/* Over a contiguous (outer, len, inner) block: the positions along the
 * middle axis in sorted order, by a merge sort, which keeps equal elements
 * in their order (PyTorch's stable sort). idx and tmp hold len each. */
#define SORT_KERNEL(NAME, T)                                                                 \
    static void NAME(const T *x, int64_t *out, int64_t outer, int64_t len, int64_t inner, bool desc, \
                     int64_t *idx, int64_t *tmp) {                                           \
        for (int64_t o = 0; o < outer; o++)                                                  \
            for (int64_t j = 0; j < inner; j++) {                                            \
                const T *xr = x + o * len * inner + j;                                       \
                for (int64_t k = 0; k < len; k++) idx[k] = k;                                \
                int64_t *src = idx, *dst = tmp;                                              \
                for (int64_t w = 1; w < len; w *= 2) {                                       \
                    for (int64_t lo = 0; lo < len; lo += 2 * w) {                            \
                        int64_t mid = lo + w < len ? lo + w : len, hi = lo + 2 * w < len ? lo + 2 * w : len; \
                        int64_t a = lo, b = mid, d = lo;                                     \
                        while (a < mid && b < hi) {                                          \
                            T va = xr[src[a] * inner], vb = xr[src[b] * inner];              \
                            bool right = desc ? DESC_BEFORE(vb, va) : ASC_BEFORE(vb, va);    \
                            dst[d++] = right ? src[b++] : src[a++];                          \
                        }                                                                    \
                        while (a < mid) dst[d++] = src[a++];                                 \
                        while (b < hi) dst[d++] = src[b++];                                  \
                    }                                                                        \
                    int64_t *swap = src;                                                     \
                    src = dst, dst = swap;                                                   \
                }                                                                            \
                int64_t *orow = out + o * len * inner + j;                                   \
                for (int64_t k = 0; k < len; k++) orow[k * inner] = src[k];                  \
            }                                                                                \
    }
SORT_KERNEL(sort_f32, float)
SORT_KERNEL(sort_f64, double)
SORT_KERNEL(sort_i64, int64_t)
SORT_KERNEL(sort_b8, uint8_t)

/* t = {indices, dense x}, i = {outer, len, inner, descending} */
static int sort_kernel(const cg_kargs *k) {
    int64_t len = k->i[1];
    int64_t *work = malloc((size_t)(2 * len) * sizeof(int64_t) + 1);
    if (!work) {
        cg_oom(2 * len * (int64_t)sizeof(int64_t));
        return -1;
    }
    int64_t *out = VP(k->t[0]), o = k->i[0], in = k->i[2];
    bool desc = k->i[3];
    const void *x = VP(k->t[1]);
    switch (k->t[1]->dtype) {
    case CG_FLOAT32: sort_f32(x, out, o, len, in, desc, work, work + len); break;
    case CG_FLOAT64: sort_f64(x, out, o, len, in, desc, work, work + len); break;
    case CG_INT64: sort_i64(x, out, o, len, in, desc, work, work + len); break;
    default: sort_b8(x, out, o, len, in, desc, work, work + len); break;
    }
    free(work);
    return 0;
}

cg_tensor *cg_sort_indices(cg_tensor *x, int64_t dim, int descending) {
    int64_t d;
    if (cg_wrap_dim(dim, x->ndim, &d)) return NULL;
    cg_tensor *c = dense_like(x);
    cg_tensor *out = c ? cg_empty(x->shape, x->ndim, CG_INT64) : NULL;
    if (out && out->numel) {
        int64_t outer, len, inner;
        along(x, d, &outer, &len, &inner);
        if (cg_kernel(sort_kernel, &(cg_kargs){.name = "sort", .t = {out, c}, .nw = 1,
                                               .i = {outer, len, inner, descending != 0}})) {
            cg_tensor_release(out);
            out = NULL;
        }
    }
    cg_tensor_release(c);
    return out;
}

/* ---- nll_loss, cross_entropy ---------------------------------------------------------- */

/* Input (N, C, d1, ...) or (C,), target (N, d1, ...) or (): the sizes as
 * (N, C, D) with D = d1 * ..., checked against each other in PyTorch's order
 * and with its messages: the ranks and batch size, the target's shape (a
 * 4-d input is checked as PyTorch's 2-d kernel checks it: its dtype first),
 * the target's dtype, the weight's size, then the weight's dtype. */
static int nll_target_shape(const cg_tensor *x, const cg_tensor *t) {
    char b1[160], b2[160];
    if (x->ndim == 4) {
        if (t->ndim != 3) {
            cg_error_set(CG_ERR_RUNTIME, "only batches of spatial targets supported (3D tensors) but got targets of "
                         "dimension: %d", t->ndim);
            return -1;
        }
    } else if (x->ndim <= 2 && t->ndim > 1) {
        cg_error_set(CG_ERR_RUNTIME, "0D or 1D target tensor expected, multi-target not supported");
        return -1;
    }
    bool ok = x->ndim <= 2 || t->ndim == x->ndim - 1;
    for (int k = 1; ok && x->ndim > 2 && k < t->ndim; k++) ok = t->shape[k] == x->shape[k + 1];
    if (!ok && x->ndim != 4) {
        int64_t want[CG_MAX_DIMS];
        want[0] = x->shape[0];
        for (int k = 2; k < x->ndim; k++) want[k - 1] = x->shape[k];
        cg_error_set(CG_ERR_RUNTIME, "Expected target size %s, got %s", cg_shape_str(want, x->ndim - 1, b1, sizeof b1),
                     cg_shape_str(t->shape, t->ndim, b2, sizeof b2));
        return -1;
    }
    if (t->dtype != CG_INT64) {
        cg_error_set(CG_ERR_RUNTIME, "expected target dtype to be Long or Byte, but got %s",
                     cg_dtype_torch_name((cg_dtype)t->dtype));
        return -1;
    }
    if (!ok) {
        cg_error_set(CG_ERR_RUNTIME, "size mismatch (got input: %s , target: %s",
                     cg_shape_str(x->shape, x->ndim, b1, sizeof b1), cg_shape_str(t->shape, t->ndim, b2, sizeof b2));
        return -1;
    }
    return 0;
}

static int nll_layout(const cg_tensor *x, const cg_tensor *t, const cg_tensor *w, int64_t *N, int64_t *C, int64_t *D) {
    if (x->ndim < 1) {
        cg_error_set(CG_ERR_VALUE, "Expected 1 or more dimensions (got %d)", x->ndim);
        return -1;
    }
    bool batched = x->ndim > 1;
    if (!batched && t->ndim == 1 && t->shape[0] != 1) {
        cg_error_set(CG_ERR_VALUE, "For 1D input, 1D target must have size 1, but got target size: %lld",
                     (long long)t->shape[0]);
        return -1;
    }
    if (batched && (t->ndim ? t->shape[0] : 0) != x->shape[0]) {
        cg_error_set(CG_ERR_VALUE, "Expected input batch_size (%lld) to match target batch_size (%lld).",
                     (long long)x->shape[0], (long long)(t->ndim ? t->shape[0] : 0));
        return -1;
    }
    if (nll_target_shape(x, t)) return -1;
    *N = batched ? x->shape[0] : 1;
    *C = x->shape[batched ? 1 : 0];
    *D = 1;
    for (int k = 2; k < x->ndim; k++) *D *= x->shape[k];
    if (w && (w->ndim != 1 || w->shape[0] != *C)) {
        if (x->ndim > 2)
            cg_error_set(CG_ERR_RUNTIME, "weight tensor should be defined either for all or no classes");
        else
            cg_error_set(CG_ERR_RUNTIME, "weight tensor should be defined either for all %lld classes or no classes "
                         "but got weight tensor of shape: %s", (long long)*C,
                         cg_shape_str(w->shape, w->ndim, (char[160]){0}, 160));
        return -1;
    }
    if (w && w->dtype != x->dtype && cg_dtype_is_floating((cg_dtype)x->dtype)) {
        cg_error_set(CG_ERR_RUNTIME, "expected scalar type %s but found %s", cg_dtype_torch_name((cg_dtype)x->dtype),
                     cg_dtype_torch_name((cg_dtype)w->dtype));
        return -1;
    }
    return 0;
}

/* out[n, d] = -w[t] x[n, t, d] (0 where t == ignore); returns the sum of w[t] or NaN + error. */
#define NLL_KERNEL(NAME, T)                                                                  \
    static double NAME(const T *x, const int64_t *t, const T *w, T *out, int64_t N, int64_t C, \
                       int64_t D, int64_t ignore) {                                          \
        double total = 0;                                                                    \
        for (int64_t i = 0; i < N * D; i++) {                                                \
            int64_t nn = i / D, d = i % D, c = t[i];                                         \
            if (c == ignore) {                                                               \
                out[i] = 0;                                                                  \
                continue;                                                                    \
            }                                                                                \
            if (c < 0 || c >= C) {                                                           \
                cg_error_set(CG_ERR_INDEX, "Target %lld is out of bounds.", (long long)c);   \
                return NAN;                                                                  \
            }                                                                                \
            T wc = w ? w[c] : (T)1;                                                          \
            out[i] = -wc * x[(nn * C + c) * D + d];                                          \
            total += wc;                                                                     \
        }                                                                                    \
        return total;                                                                        \
    }
NLL_KERNEL(nll_f32, float)
NLL_KERNEL(nll_f64, double)

/* t = {losses, total weight (0-d float64), dense x, dense target, dense weight or NULL},
 * i = {N, C, D, ignore_index} */
static int nll_kernel(const cg_kargs *k) {
    cg_tensor *const *t = k->t;
    void *wp = t[4] ? VP(t[4]) : NULL;
    double total = t[0]->dtype == CG_FLOAT64
                       ? nll_f64(VP(t[2]), VP(t[3]), wp, VP(t[0]), k->i[0], k->i[1], k->i[2], k->i[3])
                       : nll_f32(VP(t[2]), VP(t[3]), wp, VP(t[0]), k->i[0], k->i[1], k->i[2], k->i[3]);
    *(double *)VP(t[1]) = total;
    return isnan(total) && cg_error_kind() == CG_ERR_INDEX ? -1 : 0;
}

/* Per-sample losses (shape of t) and, in *total (a new 0-d float64 tensor), the total weight. */
static cg_tensor *nll_raw(cg_tensor *x, cg_tensor *t, cg_tensor *w, int64_t ignore, cg_tensor **total) {
    int64_t N, C, D;
    cg_dtype dtype;
    if (nll_layout(x, t, w, &N, &C, &D) ||
        float_dtype(x->ndim > 2 ? "nll_loss2d_forward_out_frame" : "nll_loss_out_frame", x, NULL, &dtype))
        return NULL;
    cg_tensor *xc = dense_like(x), *tc = xc ? dense_like(t) : NULL;
    cg_tensor *wc = tc && w ? dense(w, w->shape, w->ndim, dtype) : NULL;
    cg_tensor *out = tc && (wc || !w) ? cg_empty(t->shape, t->ndim, dtype) : NULL;
    *total = out ? cg_empty(NULL, 0, CG_FLOAT64) : NULL;
    cg_kargs k = {.name = "nll_loss", .t = {out, *total, xc, tc, wc}, .nw = 2, .i = {N, C, D, ignore}};
    if (!*total || cg_kernel(nll_kernel, &k)) {
        cg_tensor_release(out);
        cg_tensor_release(*total);
        out = *total = NULL;
    }
    cg_tensor_release(xc);
    cg_tensor_release(tc);
    cg_tensor_release(wc);
    return out;
}

static cg_tensor *nll_loss_backward(cg_tensor *g, cg_node *fwd);

static int nll_op_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dx[n, c] = -w[c] [c == target[n]] (divided by the total weight for 'mean') */
    return (gin[0] = nll_loss_backward(gout[0], n)) ? 0 : -1;
}
static const cg_op nll_op = {"NllLossBackward0", nll_op_backward, consts_free};

/* nll_loss_backward is linear in g; its adjoint is nll_loss itself */
static int nll_bwd_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    gin[0] = cg_nll_loss(gout[0], konst(n, 0), konst(n, 1), (int)n->i[0], n->i[1]);
    return gin[0] ? 0 : -1;
}
static const cg_op nll_bwd_op = {"NllLossBackwardBackward0", nll_bwd_backward, consts_free};

static void copy_nll_meta(cg_node *dst, const cg_node *src) {
    dst->i[0] = src->i[0];
    dst->i[1] = src->i[1];
}

/* t = {grad (zeros), g, target, weight (float64) or NULL, total weight}, i = {reduction, ignore, N, C, D} */
static int nll_backward_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *gc = k->t[1], *t = k->t[2], *wc = k->t[3];
    int64_t reduction = k->i[0], ignore = k->i[1], N = k->i[2], C = k->i[3], D = k->i[4];
    double total = *(double *)VP(k->t[4]);
    const int64_t *tp = VP(t);
    for (int64_t i = 0; i < N * D; i++) {
        int64_t c = tp[i], nn = i / D, d = i % D, at = (nn * C + c) * D + d;
        if (c == ignore || c < 0 || c >= C) continue;
        double wv = wc ? ((double *)VP(wc))[c] : 1.0;
        double gv = reduction == RED_NONE ? (gc->dtype == CG_FLOAT64 ? ((double *)VP(gc))[i] : ((float *)VP(gc))[i])
                                          : cg_tensor_item(gc);
        if (reduction == RED_MEAN) gv /= total;
        if (out->dtype == CG_FLOAT64)
            ((double *)VP(out))[at] = -wv * gv;
        else
            ((float *)VP(out))[at] = (float)(-wv * gv);
    }
    return 0;
}

/* A dense gradient of the input shape of fwd, holding -w[t] g at the targets. */
static cg_tensor *nll_loss_backward(cg_tensor *g, cg_node *fwd) {
    cg_tensor *t = konst(fwd, 0), *w = konst(fwd, 1);
    const cg_shape *xs = &fwd->in_shape[0];
    int reduction = (int)fwd->i[0];
    int64_t ignore = fwd->i[1], N = xs->ndim > 1 ? xs->d[0] : 1, C = xs->d[xs->ndim > 1 ? 1 : 0];
    int64_t D = t->numel / (N ? N : 1);
    cg_tensor *gc = dense(g, reduction == RED_NONE ? t->shape : g->shape, reduction == RED_NONE ? t->ndim : g->ndim,
                          (cg_dtype)g->dtype);
    cg_tensor *wc = gc && w ? dense(w, w->shape, w->ndim, CG_FLOAT64) : NULL;
    cg_tensor *out = gc && (wc || !w) ? cg_zeros(xs->d, xs->ndim, (cg_dtype)g->dtype) : NULL;
    if (!out) goto done;
    cg_kernel(nll_backward_kernel, &(cg_kargs){.name = "nll_loss_backward", .t = {out, gc, t, wc, konst(fwd, 2)},
                                               .nw = 1, .i = {reduction, ignore, N, C, D}});
    if (cg_any_requires_grad(&g, 1)) {
        cg_node *n = cg_node_new(&nll_bwd_op, &g, 1, 1);
        if (!n || keep_consts(n, t, w, NULL, NULL)) {
            out = fail(out, n);
            goto done;
        }
        copy_nll_meta(n, fwd);
        out = finish(out, n);
    }
done:
    cg_tensor_release(gc);
    cg_tensor_release(wc);
    return out;
}

/* t = {mean, sum, total weight}: mean = sum / total, divided in double */
static int nll_mean_kernel(const cg_kargs *k) {
    cg_fill_raw(k->t[0], cg_tensor_item(k->t[1]) / *(double *)VP(k->t[2]));
    return 0;
}

cg_tensor *cg_nll_loss(cg_tensor *x, cg_tensor *target, cg_tensor *weight, int reduction, int64_t ignore_index) {
    if (check_reduction(reduction)) return NULL;
    if (x->ndim == 1 && target->ndim == 1 && target->shape[0] == 1) { /* PyTorch takes it for the 0-d target */
        cg_tensor *t0 = cg_view(target, NULL, 0);
        cg_tensor *r = t0 ? cg_nll_loss(x, t0, weight, reduction, ignore_index) : NULL;
        cg_tensor_release(t0);
        return r;
    }
    cg_tensor *total = NULL;
    int64_t count = 0;
    cg_tensor *out = nll_raw(x, target, weight, ignore_index, &total);
    if (out && reduction != RED_NONE) {
        out = reduce_loss(out, RED_SUM, &count);
        if (out && reduction == RED_MEAN) {
            cg_tensor *r = cg_empty(NULL, 0, (cg_dtype)out->dtype);
            if (r) cg_kernel(nll_mean_kernel, &(cg_kargs){.name = "a mean", .t = {r, out, total}, .nw = 1});
            cg_tensor_release(out);
            out = r;
        }
    }
    if (!out || !cg_any_requires_grad(&x, 1)) {
        cg_tensor_release(total);
        return out;
    }
    cg_node *n = cg_node_new(&nll_op, &x, 1, 1);
    int rc = n ? keep_consts(n, target, weight, total, NULL) : -1;
    cg_tensor_release(total);
    if (rc) return fail(out, n);
    n->i[0] = reduction;
    n->i[1] = ignore_index;
    return finish(out, n);
}

cg_tensor *cg_cross_entropy(cg_tensor *x, cg_tensor *target, cg_tensor *weight, int reduction, int64_t ignore_index) {
    cg_tensor *logp = cg_log_softmax(x, x->ndim == 1 ? 0 : 1);
    cg_tensor *out = logp ? cg_nll_loss(logp, target, weight, reduction, ignore_index) : NULL;
    cg_tensor_release(logp);
    return out;
}

/* ---- layer_norm ---------------------------------------------------------------------- */

/* Rows of n elements: y = (x - mean) rstd w + b, with mean and rstd per row
 * (two passes, accumulated in double). */
#define LAYER_NORM_KERNEL(NAME, T)                                                           \
    static void NAME(const T *x, const T *w, const T *b, T *y, T *mean, T *rstd, int64_t rows, \
                     int64_t n, double eps) {                                                \
        for (int64_t r = 0; r < rows; r++) {                                                 \
            const T *xr = x + r * n;                                                         \
            T *yr = y + r * n;                                                               \
            double s = 0, v = 0;                                                             \
            for (int64_t k = 0; k < n; k++) s += xr[k];                                      \
            double mu = s / (double)n;                                                       \
            for (int64_t k = 0; k < n; k++) v += (xr[k] - mu) * (xr[k] - mu);                \
            double rs = 1.0 / sqrt(v / (double)n + eps);                                     \
            mean[r] = (T)mu;                                                                 \
            rstd[r] = (T)rs;                                                                 \
            for (int64_t k = 0; k < n; k++) {                                                \
                T h = (T)((xr[k] - mu) * rs);                                                \
                yr[k] = (w ? h * w[k] : h) + (b ? b[k] : (T)0);                              \
            }                                                                                \
        }                                                                                    \
    }
LAYER_NORM_KERNEL(layer_norm_f32, float)
LAYER_NORM_KERNEL(layer_norm_f64, double)

/* t = {y, mean, rstd, dense x, w, b} (w, b may be NULL), i = {rows, n}, f = {eps} */
static int layer_norm_kernel(const cg_kargs *k) {
    cg_tensor *const *t = k->t;
    void *wp = t[4] ? VP(t[4]) : NULL, *bp = t[5] ? VP(t[5]) : NULL;
    if (t[0]->dtype == CG_FLOAT64)
        layer_norm_f64(VP(t[3]), wp, bp, VP(t[0]), VP(t[1]), VP(t[2]), k->i[0], k->i[1], k->f[0]);
    else
        layer_norm_f32(VP(t[3]), wp, bp, VP(t[0]), VP(t[1]), VP(t[2]), k->i[0], k->i[1], k->f[0]);
    return 0;
}

static cg_tensor *take(cg_tensor *t) {
    if (t) cg_tensor_retain(t);
    return t;
}

/* xhat = (x - mean) rstd; dx = rstd (gw - mean(gw) - xhat mean(gw xhat)) with gw = g w,
 * dw = sum over rows of g xhat, db = sum over rows of g */
static int layer_norm_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    tmp S = {0};
    int k = (int)n->i[0], nd = n->in_shape[0].ndim;
    int64_t dims[CG_MAX_DIMS];
    for (int j = 0; j < k; j++) dims[j] = nd - k + j;
    const int64_t *nshape = n->in_shape[0].d + nd - k;
    cg_tensor *x = K(cg_unpack(n, 0)), *w = n->i[1] ? K(cg_unpack(n, 1)) : NULL, *g = gout[0];
    cg_tensor *mean = konst(n, 0), *rstd = konst(n, 1);
    if (cg_is_grad_enabled()) { /* create_graph: the statistics as functions of x */
        mean = K(cg_mean(x, dims, k, 1));
        cg_tensor *xc = K(cg_sub(x, mean));
        rstd = K(cg_pow_scalar(K(add_number(K(cg_mean(K(cg_mul(xc, xc)), dims, k, 1)), n->f[0])), -0.5));
    }
    cg_tensor *xhat = K(cg_mul(K(cg_sub(x, mean)), rstd));
    if (cg_wants(n, 0)) {
        cg_tensor *gw = w ? K(cg_mul(g, w)) : g;
        cg_tensor *a = K(cg_mean(gw, dims, k, 1)), *b = K(cg_mean(K(cg_mul(gw, xhat)), dims, k, 1));
        gin[0] = take(K(cg_mul(rstd, K(cg_sub(K(cg_sub(gw, a)), K(cg_mul(xhat, b)))))));
    }
    if (cg_wants(n, 1)) gin[1] = take(K(cg_sum_to(K(cg_mul(g, xhat)), nshape, k)));
    if (cg_wants(n, 2)) gin[2] = take(K(cg_sum_to(g, nshape, k)));
    int rc = S.failed ? -1 : 0;
    tmp_end(&S, NULL);
    return rc;
}
static const cg_op layer_norm_op = {"NativeLayerNormBackward0", layer_norm_backward, consts_free};

static int check_layer_norm(cg_tensor *x, const int64_t *nshape, int k, cg_tensor *w, cg_tensor *b) {
    char b1[160], b2[160];
    bool ok = k >= 1 && k <= x->ndim && cg_shape_eq(x->shape + x->ndim - k, k, nshape, k);
    if (!ok) {
        cg_shape_str(nshape, k, b1, sizeof b1);
        cg_error_set(CG_ERR_RUNTIME, "Given normalized_shape=%s, expected input with shape [*%s%.*s, but got input of size%s",
                     b1, k ? ", " : "", (int)strlen(b1) - 1, b1 + 1, cg_shape_str(x->shape, x->ndim, b2, sizeof b2));
        return -1;
    }
    cg_tensor *p[2] = {w, b};
    for (int j = 0; j < 2; j++) {
        if (!p[j]) continue;
        if (!cg_shape_eq(p[j]->shape, p[j]->ndim, nshape, k)) {
            cg_error_set(CG_ERR_RUNTIME, "Expected %s to be of same shape as normalized_shape, but got %s of shape %s "
                         "and normalized_shape = %s", j ? "bias" : "weight", j ? "bias" : "weight",
                         cg_shape_str(p[j]->shape, p[j]->ndim, b2, sizeof b2), cg_shape_str(nshape, k, b1, sizeof b1));
            return -1;
        }
        if (p[j]->dtype != x->dtype) {
            cg_error_set(CG_ERR_RUNTIME, "expected scalar type %s but found %s", cg_dtype_torch_name((cg_dtype)x->dtype),
                         cg_dtype_torch_name((cg_dtype)p[j]->dtype));
            return -1;
        }
    }
    return 0;
}

cg_tensor *cg_layer_norm(cg_tensor *x, const int64_t *normalized_shape, int k, cg_tensor *weight, cg_tensor *bias,
                         double eps) {
    cg_dtype dtype;
    if (float_dtype("LayerNormKernelImpl", x, NULL, &dtype) || check_layer_norm(x, normalized_shape, k, weight, bias))
        return NULL;
    int64_t sshape[CG_MAX_DIMS], n = cg_shape_numel(normalized_shape, k);
    for (int j = 0; j < x->ndim; j++) sshape[j] = j < x->ndim - k ? x->shape[j] : 1;
    tmp S = {0};
    cg_tensor *xc = K(dense_like(x)), *wc = weight ? K(dense_like(weight)) : NULL, *bc = bias ? K(dense_like(bias)) : NULL;
    cg_tensor *out = K(cg_empty(x->shape, x->ndim, dtype));
    cg_tensor *mean = K(cg_empty(sshape, x->ndim, dtype)), *rstd = K(cg_empty(sshape, x->ndim, dtype));
    if (!S.failed && out->numel)
        cg_kernel(layer_norm_kernel, &(cg_kargs){.name = "layer_norm", .t = {out, mean, rstd, xc, wc, bc}, .nw = 3,
                                                .i = {x->numel / n, n}, .f = {eps}});
    cg_tensor *ins[3] = {x, weight, bias};
    if (S.failed || !cg_any_requires_grad(ins, 3)) return tmp_end(&S, out);
    cg_node *node = cg_node_new(&layer_norm_op, ins, 3, 1);
    if (!node || cg_save(node, 0, x, false) || (weight && cg_save(node, 1, weight, false)) ||
        keep_consts(node, mean, rstd, NULL, NULL)) {
        cg_node_release(node);
        return tmp_end(&S, NULL);
    }
    node->i[0] = k;
    node->i[1] = weight != NULL;
    node->f[0] = eps;
    out = tmp_end(&S, out);
    return finish(out, node);
}

/* ---- embedding ------------------------------------------------------------------------- */

static cg_tensor *embedding_impl(cg_tensor *w, cg_tensor *idx, int64_t padding_idx, bool zero_padding);

/* embedding_backward is linear in g; its adjoint is the lookup (padding rows zero) */
static int embedding_bwd_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    return (gin[0] = embedding_impl(gout[0], konst(n, 0), n->i[1], true)) ? 0 : -1;
}
static const cg_op embedding_bwd_op = {"EmbeddingDenseBackwardBackward0", embedding_bwd_backward, consts_free};

/* t = {grad (zeros), dense g, indices}, i = {D, padding_idx}: row r += g at the positions holding r */
static int embedding_backward_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *gc = k->t[1], *idx = k->t[2];
    int64_t D = k->i[0], padding_idx = k->i[1];
    const int64_t *ip = VP(idx);
    for (int64_t i = 0; i < idx->numel; i++) {
        if (ip[i] == padding_idx) continue;
        if (gc->dtype == CG_FLOAT64) {
            double *o = (double *)VP(out) + ip[i] * D, *s = (double *)VP(gc) + i * D;
            for (int64_t j = 0; j < D; j++) o[j] += s[j];
        } else {
            float *o = (float *)VP(out) + ip[i] * D, *s = (float *)VP(gc) + i * D;
            for (int64_t j = 0; j < D; j++) o[j] += s[j];
        }
    }
    return 0;
}

/* The (num_weights, D) gradient of a lookup: row r sums g over the positions holding r. */
static cg_tensor *embedding_backward(cg_tensor *g, cg_tensor *idx, int64_t num_weights, int64_t padding_idx) {
    int64_t D = g->ndim ? g->shape[g->ndim - 1] : 1, shape[2] = {num_weights, D};
    cg_tensor *gc = dense_like(g), *out = gc ? cg_zeros(shape, 2, (cg_dtype)g->dtype) : NULL;
    if (out)
        cg_kernel(embedding_backward_kernel, &(cg_kargs){.name = "embedding_backward", .t = {out, gc, idx}, .nw = 1,
                                                         .i = {D, padding_idx}});
    cg_tensor_release(gc);
    if (!out || !cg_any_requires_grad(&g, 1)) return out;
    cg_node *n = cg_node_new(&embedding_bwd_op, &g, 1, 1);
    if (!n || keep_consts(n, idx, NULL, NULL, NULL)) return fail(out, n);
    n->i[0] = num_weights;
    n->i[1] = padding_idx;
    return finish(out, n);
}

static int embedding_op_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/dW[r] of W[idx] = the sum of the gradients at the positions where idx == r */
    return (gin[0] = embedding_backward(gout[0], konst(n, 0), n->i[0], n->i[1])) ? 0 : -1;
}
static const cg_op embedding_op = {"EmbeddingBackward0", embedding_op_backward, consts_free};

static int check_embedding(const cg_tensor *w, const cg_tensor *idx) {
    if (idx->dtype != CG_INT64) {
        cg_error_set(CG_ERR_RUNTIME, "Expected tensor for argument #1 'indices' to have one of the following scalar "
                     "types: Long, Int; but got %s instead (while checking arguments for embedding)",
                     cg_dtype_tensor_name((cg_dtype)idx->dtype));
        return -1;
    }
    if (w->ndim != 2) {
        cg_error_set(CG_ERR_RUNTIME, "'weight' must be 2-D");
        return -1;
    }
    if (idx->ndim + 1 > CG_MAX_DIMS) return cg_check_shape(idx->shape, idx->ndim + 1);
    return 0;
}

/* t = {rows, dense weight, dense indices}, i = {padding_idx, zero_padding} */
static int embedding_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *wc = k->t[1], *ic = k->t[2];
    int64_t N = wc->shape[0], D = wc->shape[1], isz = cg_dtype_size((cg_dtype)wc->dtype), padding_idx = k->i[0];
    const int64_t *ip = VP(ic);
    for (int64_t i = 0; i < ic->numel; i++) {
        char *dst = cg_ptr(out) + i * D * isz;
        if (ip[i] < 0 || ip[i] >= N) {
            cg_error_set(CG_ERR_INDEX, "index out of range in self");
            return -1;
        }
        if (k->i[1] && ip[i] == padding_idx)
            memset(dst, 0, (size_t)(D * isz));
        else
            memcpy(dst, cg_ptr(wc) + ip[i] * D * isz, (size_t)(D * isz));
    }
    return 0;
}

static cg_tensor *embedding_impl(cg_tensor *w, cg_tensor *idx, int64_t padding_idx, bool zero_padding) {
    if (check_embedding(w, idx)) return NULL;
    int64_t shape[CG_MAX_DIMS], N = w->shape[0], D = w->shape[1];
    memcpy(shape, idx->shape, sizeof(int64_t) * (size_t)idx->ndim);
    shape[idx->ndim] = D;
    tmp S = {0};
    cg_tensor *wc = K(dense_like(w)), *ic = K(dense_like(idx)), *out = K(cg_empty(shape, idx->ndim + 1, (cg_dtype)w->dtype));
    if (!S.failed && cg_kernel(embedding_kernel, &(cg_kargs){.name = "embedding", .t = {out, wc, ic}, .nw = 1,
                                                             .i = {padding_idx, zero_padding}}))
        S.failed = true;
    if (S.failed || !cg_any_requires_grad(&w, 1)) return tmp_end(&S, out);
    cg_node *n = cg_node_new(&embedding_op, &w, 1, 1);
    if (!n || keep_consts(n, ic, NULL, NULL, NULL)) {
        cg_node_release(n);
        return tmp_end(&S, NULL);
    }
    n->i[0] = N;
    n->i[1] = padding_idx;
    out = tmp_end(&S, out);
    return finish(out, n);
}

cg_tensor *cg_embedding(cg_tensor *weight, cg_tensor *indices, int64_t padding_idx) {
    return embedding_impl(weight, indices, padding_idx, false);
}

/* ---- dropout, one_hot -------------------------------------------------------------------- */

cg_tensor *cg_dropout(cg_tensor *x, double p, cg_generator *gen) {
    cg_dtype d;
    if (float_dtype("bernoulli_scalar_cpu_", x, NULL, &d)) return NULL;
    if (!(p >= 0 && p <= 1)) {
        cg_error_set(CG_ERR_VALUE, "dropout probability has to be between 0 and 1, but got %g", p);
        return NULL;
    }
    cg_tensor *u = cg_rand(x->shape, x->ndim, d, gen);
    cg_tensor *mask = u ? pointwise(dropout_scale, d, u, NULL, NULL, 1 - p, p < 1 ? 1 / (1 - p) : 0) : NULL;
    cg_tensor *out = mask ? cg_mul(x, mask) : NULL;
    cg_tensor_release(u);
    cg_tensor_release(mask);
    return out;
}

/* t = {zeros, dense indices}, i = {num_classes} */
static int one_hot_kernel(const cg_kargs *k) {
    const int64_t *ip = VP(k->t[1]);
    for (int64_t i = 0; i < k->t[1]->numel; i++) {
        if (ip[i] < 0 || ip[i] >= k->i[0]) {
            cg_error_set(CG_ERR_RUNTIME, "Class values must be %s.", ip[i] < 0 ? "non-negative" : "smaller than num_classes");
            return -1;
        }
        ((int64_t *)VP(k->t[0]))[i * k->i[0] + ip[i]] = 1;
    }
    return 0;
}

cg_tensor *cg_one_hot(cg_tensor *idx, int64_t num_classes) {
    if (idx->dtype != CG_INT64) {
        cg_error_set(CG_ERR_RUNTIME, "one_hot is only applicable to index tensor of type LongTensor.");
        return NULL;
    }
    cg_tensor *ic = dense_like(idx);
    if (!ic) return NULL;
    const int64_t *ip = VP(ic);
    int64_t lo = 0, hi = -1;
    for (int64_t i = 0; i < ic->numel; i++) {
        lo = i == 0 || ip[i] < lo ? ip[i] : lo;
        hi = i == 0 || ip[i] > hi ? ip[i] : hi;
    }
    const char *err = NULL;
    if (num_classes == -1 && CG_RECORDING())
        cg_tape_break("one_hot without num_classes: the output shape depends on the data");
    if (num_classes == -1 && ic->numel == 0) err = "Can not infer total number of classes from empty tensor.";
    if (num_classes == -1) num_classes = hi + 1;
    if (!err && lo < 0) err = "Class values must be non-negative.";
    if (!err && hi >= num_classes) err = "Class values must be smaller than num_classes.";
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, idx->shape, sizeof(int64_t) * (size_t)idx->ndim);
    shape[idx->ndim] = num_classes;
    cg_tensor *out = err || cg_check_shape(shape, idx->ndim + 1) ? NULL : cg_zeros(shape, idx->ndim + 1, CG_INT64);
    if (err) cg_error_set(CG_ERR_RUNTIME, "%s", err);
    if (out && cg_kernel(one_hot_kernel, &(cg_kargs){.name = "one_hot", .t = {out, ic}, .nw = 1, .i = {num_classes}})) {
        cg_tensor_release(out);
        out = NULL;
    }
    cg_tensor_release(ic);
    return out;
}

/* ---- linear ---------------------------------------------------------------------------- */

/* out (M x N, holding the bias rows) += x (M x K) w^T (w: N x K), any strides. */
#define LINEAR_NAIVE(NAME, T)                                                                \
    static void NAME(const cg_tensor *x, const cg_tensor *w, T *out) {                       \
        const T *xp = (const T *)cg_ptr(x), *wp = (const T *)cg_ptr(w);                      \
        int64_t M = x->shape[0], K = x->shape[1], N = w->shape[0];                           \
        for (int64_t i = 0; i < M; i++)                                                      \
            for (int64_t j = 0; j < N; j++) {                                                \
                T acc = 0;                                                                   \
                for (int64_t k = 0; k < K; k++)                                              \
                    acc += xp[i * x->strides[0] + k * x->strides[1]] * wp[j * w->strides[0] + k * w->strides[1]]; \
                out[i * N + j] += acc;                                                       \
            }                                                                                \
    }
LINEAR_NAIVE(linear_naive_f32, float)
LINEAR_NAIVE(linear_naive_f64, double)

/* How BLAS reads m (rows x cols) in row-major order: as is or transposed; false if neither. */
static bool blas_view(const cg_tensor *m, enum CBLAS_TRANSPOSE *trans, int *ld) {
    int64_t r = m->shape[0], c = m->shape[1], rs = m->strides[0], cs = m->strides[1];
    if ((c == 1 || cs == 1) && (r == 1 || rs >= c) && rs <= INT32_MAX) {
        *trans = CblasNoTrans;
        *ld = (int)(r == 1 || rs < 1 ? (c > 1 ? c : 1) : rs);
        return true;
    }
    if ((r == 1 || rs == 1) && (c == 1 || cs >= r) && cs <= INT32_MAX) {
        *trans = CblasTrans;
        *ld = (int)(c == 1 || cs < 1 ? (r > 1 ? r : 1) : cs);
        return true;
    }
    return false;
}

/* out += x w^T through BLAS; false if a layout does not suit it. */
static bool linear_blas(const cg_tensor *x, const cg_tensor *w, void *out) {
    enum CBLAS_TRANSPOSE tx, tw;
    int ldx, ldw;
    int64_t M = x->shape[0], K = x->shape[1], N = w->shape[0];
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX || !blas_view(x, &tx, &ldx) || !blas_view(w, &tw, &ldw))
        return false;
    /* B = w^T: reading w as is means transposing it */
    enum CBLAS_TRANSPOSE tb = tw == CblasNoTrans ? CblasTrans : CblasNoTrans;
    if (x->dtype == CG_FLOAT64)
        scipy_cblas_dgemm(CblasRowMajor, tx, tb, (int)M, (int)N, (int)K, 1.0, VP(x), ldx, VP(w), ldw, 1.0,
                          out, N > 0 ? (int)N : 1);
    else
        scipy_cblas_sgemm(CblasRowMajor, tx, tb, (int)M, (int)N, (int)K, 1.0f, VP(x), ldx, VP(w), ldw, 1.0f,
                          out, N > 0 ? (int)N : 1);
    return true;
}

/* t = {out (holding the bias rows), x, w}: out += x w^T */
static int addmm_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *x = k->t[1], *w = k->t[2];
    int64_t M = x->shape[0], K = x->shape[1], N = w->shape[0];
    if (M * N * K >= 4096 && linear_blas(x, w, VP(out))) return 0;
    if (M * N * K >= 4096) { /* an odd layout: pack both and retry */
        cg_tensor *xc = dense_like(x), *wc = xc ? dense_like(w) : NULL;
        bool ok = wc && linear_blas(xc, wc, VP(out));
        cg_tensor_release(xc);
        cg_tensor_release(wc);
        if (ok) return 0;
    }
    if (x->dtype == CG_FLOAT64)
        linear_naive_f64(x, w, VP(out));
    else
        linear_naive_f32(x, w, VP(out));
    return 0;
}

static cg_tensor *addmm_raw(cg_tensor *x, cg_tensor *w, cg_tensor *b) {
    int64_t M = x->shape[0], N = w->shape[0], shape[2] = {M, N};
    cg_tensor *out = cg_empty(shape, 2, (cg_dtype)x->dtype);
    if (!out || cg_copy_data(out, b)) {
        cg_tensor_release(out);
        return NULL;
    }
    cg_kernel(addmm_kernel, &(cg_kargs){.name = "linear", .t = {out, x, w}, .nw = 1});
    return out;
}

static int addmm_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* y = x w^T + b: dx = g w, dw = g^T x, db = the column sums of g */
    tmp S = {0};
    cg_tensor *g = gout[0];
    if (cg_wants(n, 0)) gin[0] = take(K(cg_matmul(g, K(cg_unpack(n, 1)))));
    if (cg_wants(n, 1)) gin[1] = take(K(cg_matmul(K(cg_transpose(g, 0, 1)), K(cg_unpack(n, 0)))));
    if (cg_wants(n, 2)) gin[2] = take(K(cg_sum(g, (int64_t[]){0}, 1, 0)));
    int rc = S.failed ? -1 : 0;
    tmp_end(&S, NULL);
    return rc;
}
static const cg_op addmm_op = {"AddmmBackward0", addmm_backward, NULL};

static cg_tensor *addmm(cg_tensor *x, cg_tensor *w, cg_tensor *b) {
    cg_tensor *out = addmm_raw(x, w, b), *ins[3] = {x, w, b};
    if (!out || !cg_any_requires_grad(ins, 3)) return out;
    cg_node *n = cg_node_new(&addmm_op, ins, 3, 1);
    if (!n || (w->requires_grad && cg_save(n, 0, x, false)) || (x->requires_grad && cg_save(n, 1, w, false)))
        return fail(out, n);
    return finish(out, n);
}

static int check_linear(const cg_tensor *x, const cg_tensor *w, const cg_tensor *b) {
    /* with a bias, addmm's messages (the bias is its self); without, matmul's */
    if (b && (x->dtype != w->dtype || b->dtype != w->dtype)) {
        bool self = x->dtype == w->dtype;
        cg_error_set(CG_ERR_RUNTIME, "%s and mat2 must have the same dtype, but got %s and %s", self ? "self" : "mat1",
                     cg_dtype_torch_name((cg_dtype)(self ? b->dtype : x->dtype)), cg_dtype_torch_name((cg_dtype)w->dtype));
        return -1;
    }
    if (x->dtype == CG_BOOL) {
        cg_error_set(CG_ERR_NOTIMPL, "\"addmm_impl_cpu_\" not implemented for 'Bool'");
        return -1;
    }
    if (x->ndim == 0 || w->ndim == 0) {
        cg_error_set(CG_ERR_RUNTIME, "both arguments to linear need to be at least 1D, but they are %dD and %dD",
                     x->ndim, w->ndim);
        return -1;
    }
    if (w->ndim > 2) {
        cg_error_set(CG_ERR_RUNTIME, "t() expects a tensor with <= 2 dimensions, but self is %dD", w->ndim);
        return -1;
    }
    if (w->ndim == 1) { /* a vector weight: matmul's product, and its messages */
        if (b && x->ndim > 1) {
            cg_error_set(CG_ERR_RUNTIME, "mat2 must be a matrix, got 1-D tensor");
            return -1;
        }
        return 0;
    }
    int64_t K = x->shape[x->ndim - 1], rows = x->ndim == 1 ? 1 : x->numel / (K ? K : 1);
    if (K != w->shape[1]) {
        cg_error_set(CG_ERR_RUNTIME, "mat1 and mat2 shapes cannot be multiplied (%lldx%lld and %lldx%lld)",
                     (long long)rows, (long long)K, (long long)w->shape[1], (long long)w->shape[0]);
        return -1;
    }
    if (b && b->ndim == 1 && b->shape[0] != 1 && b->shape[0] != w->shape[0]) { /* addmm expands it to (rows, out) */
        char b1[64], b2[64];
        int64_t target[2] = {rows, w->shape[0]};
        cg_error_set(CG_ERR_RUNTIME, "The expanded size of the tensor (%lld) must match the existing size (%lld) at "
                     "non-singleton dimension 1.  Target sizes: %s.  Tensor sizes: %s", (long long)w->shape[0],
                     (long long)b->shape[0], cg_shape_str(target, 2, b1, sizeof b1),
                     cg_shape_str(b->shape, 1, b2, sizeof b2));
        return -1;
    }
    return 0;
}

cg_tensor *cg_linear(cg_tensor *x, cg_tensor *w, cg_tensor *b) {
    if (check_linear(x, w, b)) return NULL;
    tmp S = {0};
    cg_tensor *wt = w->ndim == 1 ? w : K(cg_transpose(w, 0, 1));
    if (w->ndim == 1 || !b || b->ndim != 1 || b->shape[0] != w->shape[0] || x->dtype == CG_INT64) {
        cg_tensor *y = K(cg_matmul(x, wt));
        return tmp_end(&S, b ? K(cg_add(y, b)) : y);
    }
    if (x->ndim == 2) return tmp_end(&S, K(addmm(x, w, b)));
    int64_t shape[CG_MAX_DIMS], flat[2] = {-1, w->shape[1]};
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[x->ndim - 1] = w->shape[0];
    cg_tensor *y2 = K(addmm(K(cg_reshape(x, flat, 2)), w, b));
    return tmp_end(&S, K(cg_reshape(y2, shape, x->ndim)));
}

/* ---- module support ----------------------------------------------------------------------- */

int cg_tensor_set_data(cg_tensor *t, cg_tensor *src) {
    if (t == src) return 0;
    /* `p.data -= x` assigns p's own data back: nothing to replay */
    if (CG_RECORDING() && !(t->storage == src->storage && t->offset == src->offset && t->dtype == src->dtype &&
                            cg_same_shape(t, src) && !memcmp(t->strides, src->strides, sizeof(int64_t) * (size_t)t->ndim)))
        cg_tape_break("assigning to .data in the step swaps a tensor's memory");
    cg_storage_retain(src->storage);
    cg_storage_release(t->storage);
    t->storage = src->storage;
    t->offset = src->offset;
    t->numel = src->numel;
    t->ndim = src->ndim;
    t->dtype = src->dtype;
    memcpy(t->shape, src->shape, sizeof t->shape);
    memcpy(t->strides, src->strides, sizeof t->strides);
    cg_tensor *base = src->base ? src->base : NULL;
    if (base) cg_tensor_retain(base);
    cg_tensor *old = t->base;
    t->base = base;
    cg_tensor_release(old); /* after: releasing can run a callback */
    return 0;
}

/* ---- BLAS threads ------------------------------------------------------------------------ */

void cg_set_num_threads(int n) { scipy_openblas_set_num_threads(n > 0 ? n : 1); }
int cg_get_num_threads(void) { return scipy_openblas_get_num_threads(); }
