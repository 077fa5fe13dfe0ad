/* A C-only test of the core: graphs built and differentiated with no Python.
 * Built with AddressSanitizer/LeakSanitizer by tests/test_c_core.py. */
#include <math.h>
#include <stdio.h>
#include <string.h>

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

static cg_tensor *leaf(const double *values, const int64_t *shape, int ndim) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    cg_tensor *t = cg_from_data(values, shape, ndim, CG_FLOAT64);
    (void)n;
    cg_tensor_set_requires_grad(t, 1);
    return t;
}

static double at(const cg_tensor *t, int i) { return ((const double *)cg_tensor_data(t))[i]; }

/* z = x*x + x*x at x = 3: dz/dx = 4x = 12 */
static void test_square(void) {
    double v = 3.0;
    int64_t shape[1] = {1};
    cg_tensor *x = leaf(&v, shape, 1);
    cg_tensor *y = cg_mul(x, x);
    cg_tensor *z = cg_add(y, y);
    CHECK(z && fabs(cg_tensor_item(z) - 18.0) < 1e-12);
    CHECK(cg_backward(&z, NULL, 1, 0, 0) == 0);
    CHECK(x->grad && fabs(cg_tensor_item(x->grad) - 12.0) < 1e-12);
    cg_tensor_release(z);
    cg_tensor_release(y);
    cg_tensor_release(x);
}

/* sum(tanh(A @ B + c)), c broadcast over rows: checks a broadcast gradient */
static void test_matmul_broadcast(void) {
    double a[6] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, b[6] = {1, -1, 0.5, 2, 0, 1}, c[2] = {0.01, -0.02};
    int64_t sa[2] = {2, 3}, sb[2] = {3, 2}, sc[1] = {2};
    cg_tensor *A = leaf(a, sa, 2), *B = leaf(b, sb, 2), *C = leaf(c, sc, 1);
    cg_tensor *m = cg_matmul(A, B);
    cg_tensor *s = cg_add(m, C);
    cg_tensor *t = cg_tanh(s);
    cg_tensor *loss = cg_sum(t, NULL, 0, 0);
    CHECK(cg_backward(&loss, NULL, 1, 0, 0) == 0);
    /* dloss/dc[j] = sum_i (1 - t[i,j]^2) */
    for (int j = 0; j < 2; j++) {
        double want = 0;
        for (int i = 0; i < 2; i++) want += 1 - at(t, i * 2 + j) * at(t, i * 2 + j);
        CHECK(fabs(at(C->grad, j) - want) < 1e-12);
    }
    CHECK(C->grad->ndim == 1 && C->grad->shape[0] == 2);
    CHECK(A->grad->shape[0] == 2 && A->grad->shape[1] == 3);
    cg_tensor *all[] = {loss, t, s, m, A, B, C};
    for (int i = 0; i < 7; i++) cg_tensor_release(all[i]);
}

static void test_errors(void) {
    int64_t s3[1] = {3}, s4[1] = {4};
    cg_tensor *a = cg_zeros(s3, 1, CG_FLOAT32), *b = cg_zeros(s4, 1, CG_FLOAT32);
    CHECK(cg_add(a, b) == NULL && cg_error_kind() == CG_ERR_RUNTIME);
    CHECK(strstr(cg_error_message(), "must match the size of tensor b (4)") != NULL);
    cg_tensor_release(a);
    cg_tensor_release(b);

    double v = 2.0;
    int64_t one[1] = {1};
    cg_tensor *x = leaf(&v, one, 1);
    cg_tensor *y = cg_exp(x);
    cg_tensor *z = cg_sum(y, NULL, 0, 0);
    CHECK(cg_backward(&z, NULL, 1, 0, 0) == 0);
    CHECK(cg_backward(&z, NULL, 1, 0, 0) == -1);
    CHECK(strstr(cg_error_message(), "backward through the graph a second time") != NULL);
    cg_tensor_release(z);
    cg_tensor_release(y);

    cg_tensor *w = cg_tanh(x);
    cg_tensor *loss = cg_sum(w, NULL, 0, 0);
    cg_tensor *two = cg_scalar_tensor(2.0, CG_FLOAT64, w);
    cg_tensor_release(cg_mul_(w, two)); /* modifies tanh's saved output */
    CHECK(cg_backward(&loss, NULL, 1, 0, 0) == -1);
    CHECK(strstr(cg_error_message(), "modified by an inplace operation") != NULL);
    CHECK(cg_mul_(x, two) == NULL && strstr(cg_error_message(), "leaf Variable") != NULL);
    cg_tensor_release(two);
    cg_tensor_release(loss);
    cg_tensor_release(w);
    cg_tensor_release(x);
}

/* scatter_reduce's raw loops: prod, amax, amin into a copy; a NaN already there
 * stays, one from src wins; bad arguments fail with an error, not a crash. */
static void test_scatter_reduce_raw(void) {
    int64_t s3[1] = {3}, s4[1] = {4};
    double av[3] = {1.0, NAN, 3.0}, sv[4] = {5.0, 2.0, 1.0, 4.0}, nv[4] = {NAN, 2.0, 1.0, 4.0};
    int64_t iv[4] = {0, 0, 2, 1}, bad[4] = {0, 3, 2, 1};
    cg_tensor *a = cg_from_data(av, s3, 1, CG_FLOAT64), *src = cg_from_data(sv, s4, 1, CG_FLOAT64);
    cg_tensor *nsrc = cg_from_data(nv, s4, 1, CG_FLOAT64), *index = cg_from_data(iv, s4, 1, CG_INT64);
    cg_tensor *bad_index = cg_from_data(bad, s4, 1, CG_INT64);
    cg_tensor *prod = cg_scatter_reduce_raw(a, 0, index, src, 0), *amax = cg_scatter_reduce_raw(a, 0, index, src, 1);
    cg_tensor *amin = cg_scatter_reduce_raw(a, 0, index, src, 2), *nmax = cg_scatter_reduce_raw(a, 0, index, nsrc, 1);
    CHECK(prod && at(prod, 0) == 10.0 && isnan(at(prod, 1)) && at(prod, 2) == 3.0);
    CHECK(amax && at(amax, 0) == 5.0 && isnan(at(amax, 1)) && at(amax, 2) == 3.0);
    CHECK(amin && at(amin, 0) == 1.0 && isnan(at(amin, 1)) && at(amin, 2) == 1.0);
    CHECK(nmax && isnan(at(nmax, 0)) && at(nmax, 2) == 3.0);
    CHECK(at(a, 0) == 1.0 && !a->grad_fn); /* a copy: a is untouched */
    CHECK(cg_scatter_reduce_raw(a, 0, index, src, 3) == NULL && cg_error_kind() == CG_ERR_VALUE);
    CHECK(cg_scatter_reduce_raw(a, 0, bad_index, src, 1) == NULL && cg_error_kind() == CG_ERR_RUNTIME);
    CHECK(strstr(cg_error_message(), "index 3 is out of bounds") != NULL);
    cg_error_clear();
    cg_tensor *objs[] = {a, src, nsrc, index, bad_index, prod, amax, amin, nmax};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) cg_tensor_release(objs[i]);
}

/* A chain of 10^5 nodes builds, backprops and frees without recursion. */
static void test_deep_chain(void) {
    double v = 1.0;
    int64_t one[1] = {1};
    cg_tensor *x = leaf(&v, one, 1);
    cg_tensor *k = cg_scalar_tensor(1.0001, CG_FLOAT64, x);
    cg_tensor *y = x;
    cg_tensor_retain(y);
    for (int i = 0; i < 100000; i++) {
        cg_tensor *next = cg_mul(y, k);
        cg_tensor_release(y);
        y = next;
    }
    CHECK(cg_backward(&y, NULL, 1, 0, 0) == 0);
    CHECK(fabs(cg_tensor_item(x->grad) - pow(1.0001, 100000)) < 1e-6 * pow(1.0001, 100000));
    cg_tensor_release(y);
    cg_tensor_release(k);
    cg_tensor_release(x);
}

/* retain_graph keeps saved tensors: a second backward accumulates */
static void test_retain_graph(void) {
    double v = 0.5;
    int64_t one[1] = {1};
    cg_tensor *x = leaf(&v, one, 1);
    cg_tensor *y = cg_sigmoid(x);
    CHECK(cg_backward(&y, NULL, 1, 1, 0) == 0);
    double g1 = cg_tensor_item(x->grad);
    CHECK(cg_backward(&y, NULL, 1, 0, 0) == 0);
    CHECK(fabs(cg_tensor_item(x->grad) - 2 * g1) < 1e-15);
    cg_tensor_release(y);
    cg_tensor_release(x);
}

/* grad of grad: d2/dx2 x^3 = 6x */
static void test_second_order(void) {
    double v = 2.0;
    int64_t one[1] = {1};
    cg_tensor *x = leaf(&v, one, 1);
    cg_tensor *y = cg_pow_scalar(x, 3.0);
    cg_tensor *dx = NULL;
    CHECK(cg_grad(&y, NULL, 1, &x, 1, 1, 1, 0, &dx) == 0);
    CHECK(dx && fabs(cg_tensor_item(dx) - 12.0) < 1e-12);
    cg_tensor *d2 = NULL;
    CHECK(cg_grad(&dx, NULL, 1, &x, 1, 0, 0, 0, &d2) == 0);
    CHECK(d2 && fabs(cg_tensor_item(d2) - 12.0) < 1e-12);
    cg_tensor_release(d2);
    cg_tensor_release(dx);
    cg_tensor_release(y);
    cg_tensor_release(x);
}

int main(void) {
    test_square();
    test_matmul_broadcast();
    test_errors();
    test_deep_chain();
    test_retain_graph();
    test_second_order();
    test_scatter_reduce_raw();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("all C core tests passed\n");
    return 0;
}
