/* A C-only test of the element-wise math, comparison and logic ops: every op
 * forward, backward and double backward, in place, and on its error paths,
 * with no Python. Built with AddressSanitizer/LeakSanitizer/UBSan by
 * tests/test_c_math.py, so a leaked temporary or an overflow fails it. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "cgrad.h"

static int failures;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond, \
                    cg_error_message());                                               \
            failures++;                                                                \
        }                                                                              \
    } while (0)

typedef cg_tensor *(*unary)(cg_tensor *);
typedef cg_tensor *(*binary)(cg_tensor *, cg_tensor *);

static const int64_t S22[2] = {2, 2}, S2[1] = {2}, S4[1] = {4};

static cg_tensor *leaf(const double *v, const int64_t *shape, int ndim) {
    cg_tensor *t = cg_from_data(v, shape, ndim, CG_FLOAT64);
    cg_tensor_set_requires_grad(t, 1);
    return t;
}

static double at(const cg_tensor *t, int i) { return ((const double *)cg_tensor_data(t))[i]; }

/* d/dx sum(f(x)) with create_graph, then d/dx of the sum of that gradient. */
static void check_unary(unary f, const double *v) {
    cg_tensor *x = leaf(v, S22, 2);
    cg_tensor *y = f(x);
    CHECK(y != NULL);
    cg_tensor *loss = y ? cg_sum(y, NULL, 0, 0) : NULL, *g = NULL, *gg = NULL;
    CHECK(loss && cg_grad(&loss, NULL, 1, &x, 1, 1, 1, 0, &g) == 0);
    if (g && g->requires_grad) {
        cg_tensor *l2 = cg_sum(g, NULL, 0, 0);
        CHECK(cg_grad(&l2, NULL, 1, &x, 1, 0, 0, 1, &gg) == 0);
        cg_tensor_release(l2);
    }
    cg_tensor *z = cg_mul(x, x), *r = cg_apply_(z, f), *l3 = r ? cg_sum(r, NULL, 0, 0) : NULL;
    CHECK(r == z && l3 && cg_backward(&l3, NULL, 1, 0, 0) == 0);
    cg_tensor *objs[] = {l3, r, z, gg, g, loss, y, x};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) cg_tensor_release(objs[i]);
    cg_error_clear();
}

/* Both gradients of sum(f(a, b)) with create_graph, then the gradients of their sums. */
static void check_binary(binary f, const double *va, const double *vb) {
    cg_tensor *a = leaf(va, S22, 2), *b = leaf(vb, S2, 1), *ins[2] = {a, b};
    cg_tensor *y = f(a, b), *g[2] = {NULL, NULL}, *h[2] = {NULL, NULL};
    CHECK(y != NULL);
    cg_tensor *loss = y ? cg_sum(y, NULL, 0, 0) : NULL;
    CHECK(loss && cg_grad(&loss, NULL, 1, ins, 2, 1, 1, 1, g) == 0);
    cg_tensor *s0 = g[0] ? cg_sum(g[0], NULL, 0, 0) : NULL, *s1 = g[1] ? cg_sum(g[1], NULL, 0, 0) : NULL;
    cg_tensor *t = s0 && s1 ? cg_add(s0, s1) : NULL;
    if (t && t->requires_grad) CHECK(cg_grad(&t, NULL, 1, ins, 2, 0, 0, 1, h) == 0);
    cg_tensor *objs[] = {g[0], g[1], h[0], h[1], t, s0, s1, loss, y, a, b};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) cg_tensor_release(objs[i]);
    cg_error_clear();
}

static cg_tensor *number(double v, cg_tensor *like) { return cg_scalar_tensor(v, CG_FLOAT64, like); }

static cg_tensor *lerp_number(cg_tensor *a, cg_tensor *b) { return cg_lerp_scalar(a, b, 0.3); }
static cg_tensor *lerp_tensor(cg_tensor *a, cg_tensor *b) {
    cg_tensor *w = cg_sigmoid(b), *r = cg_lerp(a, a, w);
    cg_tensor_release(w);
    return r;
}
static cg_tensor *where_greater(cg_tensor *a, cg_tensor *b) {
    cg_tensor *c = cg_gt(a, b), *r = cg_where(c, a, b);
    cg_tensor_release(c);
    return r;
}
static cg_tensor *clamp_tensors(cg_tensor *a, cg_tensor *b) {
    cg_tensor *hi = cg_exp(b), *r = cg_clamp(a, b, hi);
    cg_tensor_release(hi);
    return r;
}
static cg_tensor *clamp_numbers(cg_tensor *a, cg_tensor *b) {
    cg_tensor *lo = number(-0.5, a), *hi = number(0.5, a), *c = cg_clamp(a, lo, hi), *r = cg_mul(c, b);
    cg_tensor_release(lo);
    cg_tensor_release(hi);
    cg_tensor_release(c);
    return r;
}
static cg_tensor *crossed_clamp(cg_tensor *a, cg_tensor *b) { /* min > max */
    cg_tensor *lo = number(0.5, a), *hi = number(-0.5, a), *c = cg_clamp(a, lo, hi), *r = cg_mul(c, b);
    cg_tensor_release(lo);
    cg_tensor_release(hi);
    cg_tensor_release(c);
    return r;
}
static cg_tensor *clamp_in_place(cg_tensor *a, cg_tensor *b) {
    cg_tensor *z = cg_mul(a, b), *hi = number(0.5, a), *r = cg_clamp_(z, b, hi);
    CHECK(r == z);
    cg_tensor_release(hi);
    cg_tensor_release(r);
    return z;
}

/* Values where PyTorch's conventions matter: ties, Python's rounding, wrapping. */
static void check_values(void) {
    double a[2] = {2.0, 1.0}, b[2] = {2.0, 3.0};
    cg_tensor *x = leaf(a, S2, 1), *y = leaf(b, S2, 1), *m = cg_maximum(x, y);
    cg_tensor *s = cg_sum(m, NULL, 0, 0);
    CHECK(cg_backward(&s, NULL, 1, 0, 0) == 0);
    CHECK(at(x->grad, 0) == 0.5 && at(y->grad, 0) == 0.5 && at(x->grad, 1) == 0.0 && at(y->grad, 1) == 1.0);
    cg_tensor *objs[] = {s, m, x, y};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) cg_tensor_release(objs[i]);

    int64_t iv[4] = {7, -7, INT64_MIN, 3}, id[4] = {2, 2, -1, -2};
    cg_tensor *p = cg_from_data(iv, S4, 1, CG_INT64), *q = cg_from_data(id, S4, 1, CG_INT64);
    cg_tensor *fd = cg_floor_divide(p, q), *rm = cg_remainder(p, q);
    const int64_t *f = cg_tensor_data(fd), *r = cg_tensor_data(rm);
    CHECK(f[0] == 3 && f[1] == -4 && f[2] == INT64_MIN && f[3] == -2);
    CHECK(r[0] == 1 && r[1] == 1 && r[2] == 0 && r[3] == -1);
    cg_tensor *fd0 = cg_floor_divide(q, p); /* no zero divisor: fine */
    CHECK(fd0 != NULL);
    int64_t zero[1] = {0};
    cg_tensor *z = cg_from_data(zero, (int64_t[]){1}, 1, CG_INT64), *bad = cg_floor_divide(p, z);
    CHECK(!bad && cg_error_kind() == CG_ERR_RUNTIME);
    cg_error_clear();
    cg_tensor *objs2[] = {z, fd0, fd, rm, p, q};
    for (size_t i = 0; i < sizeof objs2 / sizeof *objs2; i++) cg_tensor_release(objs2[i]);
}

/* Ops without gradients, integer and bool operands, and the error paths. */
static void check_no_grad_ops(void) {
    int64_t iv[4] = {7, -7, 0, INT64_MIN}, id[4] = {2, -2, 3, -1};
    cg_tensor *a = cg_from_data(iv, S4, 1, CG_INT64), *b = cg_from_data(id, S4, 1, CG_INT64);
    binary bs[] = {cg_floor_divide, cg_remainder, cg_eq, cg_ne, cg_lt, cg_le, cg_gt, cg_ge, cg_logical_and,
                   cg_logical_or, cg_logical_xor, cg_bitwise_and, cg_bitwise_or, cg_bitwise_xor, cg_maximum,
                   cg_minimum, cg_pow, cg_atan2, cg_add, cg_sub, cg_mul, cg_div};
    for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) {
        cg_tensor *r = bs[i](a, b);
        CHECK(r != NULL);
        cg_tensor_release(r);
    }
    unary us[] = {cg_abs, cg_sign, cg_square, cg_isnan, cg_isinf, cg_isfinite, cg_logical_not, cg_bitwise_not,
                  cg_sqrt, cg_neg, cg_relu};
    for (size_t i = 0; i < sizeof us / sizeof *us; i++) {
        cg_tensor *r = us[i](a);
        CHECK(r != NULL);
        cg_tensor_release(r);
    }
    double fv[4] = {0.5, -1.0, 2.0, 0.0};
    cg_tensor *f = cg_from_data(fv, S4, 1, CG_FLOAT64), *r;
    CHECK(!(r = cg_floor_divide(b, a)) && cg_error_kind() == CG_ERR_RUNTIME); /* a holds a 0 */
    CHECK(!(r = cg_bitwise_and(a, f)) && cg_error_kind() == CG_ERR_NOTIMPL);
    CHECK(!(r = cg_where(f, f, f)) && cg_error_kind() == CG_ERR_RUNTIME);
    CHECK(!(r = cg_clamp(f, NULL, NULL)) && cg_error_kind() == CG_ERR_RUNTIME);
    CHECK(!(r = cg_apply_(a, cg_sqrt)) && cg_error_kind() == CG_ERR_RUNTIME);
    CHECK(!(r = cg_lerp(f, a, f)) && cg_error_kind() == CG_ERR_RUNTIME);
    cg_tensor *lf = leaf(fv, S4, 1);
    CHECK(!(r = cg_apply_(lf, cg_sin)) && cg_error_kind() == CG_ERR_RUNTIME); /* a leaf that requires grad */
    cg_error_clear();
    cg_tensor_release(lf);
    cg_tensor_release(f);
    cg_tensor_release(a);
    cg_tensor_release(b);
}

int main(void) {
    double v[4] = {0.3, -0.6, 0.2, 0.7}, pos[4] = {0.5, 1.5, 2.0, 0.7}, w[2] = {0.4, -0.2};
    unary any[] = {cg_abs, cg_sign, cg_exp2, cg_expm1, cg_sin, cg_cos, cg_tan, cg_sinh, cg_cosh, cg_asin,
                   cg_acos, cg_atan, cg_erf, cg_reciprocal, cg_square};
    for (size_t i = 0; i < sizeof any / sizeof *any; i++) check_unary(any[i], v);
    unary positive[] = {cg_log2, cg_log1p, cg_sqrt, cg_rsqrt};
    for (size_t i = 0; i < sizeof positive / sizeof *positive; i++) check_unary(positive[i], pos);
    binary bs[] = {cg_atan2, cg_maximum, cg_minimum, cg_remainder, lerp_number, lerp_tensor, where_greater,
                   clamp_tensors, clamp_numbers, crossed_clamp, cg_clamp_min, cg_clamp_max, clamp_in_place};
    for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) check_binary(bs[i], v, w);
    check_values();
    check_no_grad_ops();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all C math tests passed\n");
    return 0;
}
