/* C-only tests of the engine's callbacks: custom Function nodes, node hooks,
 * hook handles that outlive their owner, anomaly mode. Run under ASan/UBSan
 * by tests/test_autograd_c.py; prints "all autograd C tests passed". */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cgrad.h"

static int failures;
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            printf("FAILED %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, cg_error_message()); \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static cg_tensor *leaf(double v) {
    cg_tensor *t = cg_full((int64_t[]){2}, 1, v, CG_FLOAT64);
    cg_tensor_set_requires_grad(t, 1);
    return t;
}

static double at(cg_tensor *t, int i) { return ((double *)cg_tensor_data(t))[i]; }

/* ---- a custom Function: y = 3x, backward 3g, saving x ---------------------- */

static int released;
static void release_ctx(void *ctx) { released += *(int *)ctx; }

static int triple_backward(void *ctx, cg_node *n, cg_tensor **gout, int n_out, cg_tensor **gin, int n_in) {
    (void)ctx;
    if (n_out != 1 || n_in != 1) return -1;
    cg_tensor *x = NULL;
    if (cg_function_unpack(n, 0, &x)) return -1;
    cg_tensor_release(x);
    cg_tensor *three = cg_full(NULL, 0, 3.0, CG_FLOAT64);
    gin[0] = cg_mul(gout[0], three);
    cg_tensor_release(three);
    return gin[0] ? 0 : -1;
}

static void test_function_node(void) {
    cg_tensor *x = leaf(2.0);
    cg_tensor *three = cg_full(NULL, 0, 3.0, CG_FLOAT64);
    cg_tensor *y = cg_mul(x, three); /* forward value */
    cg_detach_(y);
    static int one = 1;
    released = 0;
    cg_node *n = cg_function_node_new("TripleBackward", &x, 1, 1, triple_backward, &one, release_ctx);
    CHECK(n && strcmp(cg_node_name(n), "TripleBackward") == 0);
    CHECK(cg_function_set_output(n, y, 0) == 0);
    CHECK(cg_function_save(n, &x, 1) == 0 && cg_function_num_saved(n) == 1);
    CHECK(cg_function_ctx(n) == &one && cg_node_needs_input_grad(n, 0));
    cg_node_release(n);
    cg_tensor *s = cg_sum(y, NULL, 0, 0);
    CHECK(cg_backward(&s, NULL, 1, 0, 0) == 0);
    CHECK(x->grad && at(x->grad, 0) == 3.0 && at(x->grad, 1) == 3.0);
    cg_tensor *again = NULL;
    CHECK(cg_function_unpack(y->grad_fn, 0, &again) == -1); /* freed by backward */
    CHECK(strstr(cg_error_message(), "second time") != NULL);
    cg_error_clear();
    cg_tensor_release(s);
    cg_tensor_release(y);
    CHECK(released == 1); /* the node died with y, and released its ctx */
    cg_tensor_release(three);
    cg_tensor_release(x);
}

static int wrong_shape_backward(void *ctx, cg_node *n, cg_tensor **gout, int n_out, cg_tensor **gin, int n_in) {
    (void)ctx, (void)n, (void)gout, (void)n_out, (void)n_in;
    gin[0] = cg_ones((int64_t[]){3}, 1, CG_FLOAT64);
    return 0;
}

static void test_function_gradient_checked(void) {
    cg_tensor *x = leaf(1.0);
    cg_tensor *y = cg_clone(x);
    cg_detach_(y);
    cg_node *n = cg_function_node_new("BadBackward", &x, 1, 1, wrong_shape_backward, NULL, NULL);
    cg_function_set_output(n, y, 0);
    cg_node_release(n);
    cg_tensor *s = cg_sum(y, NULL, 0, 0);
    CHECK(cg_backward(&s, NULL, 1, 0, 0) == -1);
    CHECK(strstr(cg_error_message(), "Function BadBackward returned an invalid gradient at index 0 - got [3] but "
                                     "expected shape compatible with [2]") != NULL);
    cg_error_clear();
    cg_tensor_release(s);
    cg_tensor_release(y);
    cg_tensor_release(x);
}

/* ---- hooks ---------------------------------------------------------------- */

static int doubling(void *ctx, cg_tensor *g, cg_tensor **out) {
    (*(int *)ctx)++;
    cg_tensor *two = cg_full(NULL, 0, 2.0, CG_FLOAT64);
    *out = cg_mul(g, two);
    cg_tensor_release(two);
    return *out ? 0 : -1;
}

static int zero_post(void *ctx, cg_node *n, cg_tensor **grads, int n_grads, cg_tensor **other, int n_other) {
    (void)n, (void)other, (void)n_other;
    (*(int *)ctx)++;
    for (int i = 0; i < n_grads; i++) {
        if (!grads[i]) continue;
        cg_tensor *z = cg_zeros(grads[i]->shape, grads[i]->ndim, (cg_dtype)grads[i]->dtype);
        cg_tensor_release(grads[i]);
        grads[i] = z;
    }
    return 0;
}

static void test_hooks_and_handles(void) {
    int calls = 0, post_calls = 0;
    cg_tensor *x = leaf(1.0);
    cg_tensor *y = cg_mul(x, x);
    cg_hook *h = cg_tensor_register_hook(y, doubling, &calls, NULL);
    CHECK(h && cg_hook_id(h) > 0);
    cg_tensor *s = cg_sum(y, NULL, 0, 0);
    CHECK(cg_backward(&s, NULL, 1, 1, 0) == 0);
    CHECK(calls == 1 && at(x->grad, 0) == 4.0);
    cg_hook_remove(h);
    cg_hook_remove(h);
    CHECK(cg_backward(&s, NULL, 1, 1, 0) == 0);
    CHECK(calls == 1 && at(x->grad, 0) == 6.0);
    cg_hook *p = cg_node_register_hook(y->grad_fn, 1, zero_post, &post_calls, NULL);
    CHECK(cg_backward(&s, NULL, 1, 1, 0) == 0);
    CHECK(post_calls == 1 && at(x->grad, 0) == 6.0);
    /* handles outlive the graph */
    cg_tensor_release(s);
    cg_tensor_release(y);
    cg_hook_remove(p);
    cg_hook_handle_release(p);
    cg_hook_handle_release(h);
    cg_tensor_release(x);
}

/* ---- hooks only one holder keeps alive ---------------------------------------- */

static void forget(void *ctx) { (void)ctx; }
static int count_visit(void *ctx, void *arg) {
    (void)ctx;
    (*(int *)arg)++;
    return 0;
}

static int owned_hooks(cg_tensor *root) {
    int n = 0;
    CHECK(cg_visit_owned_contexts(root, forget, NULL, count_visit, &n) == 0);
    return n;
}

static void test_owned_hooks(void) {
    int calls = 0;
    cg_tensor *x = leaf(1.0);
    cg_tensor *y = cg_mul(x, x);
    cg_hook_handle_release(cg_tensor_register_hook(y, doubling, &calls, forget));
    cg_tensor *z = cg_sum(y, NULL, 0, 0);
    /* x and y are still held here: y's node is z's, and ours through y */
    CHECK(owned_hooks(z) == 0);
    cg_tensor_release(y);
    CHECK(owned_hooks(z) == 1); /* now only z leads to the hook */
    cg_hook *kept = cg_tensor_register_hook(x, doubling, &calls, forget);
    CHECK(owned_hooks(z) == 1); /* x is also ours: its hook is not z's alone */
    CHECK(owned_hooks(x) == 0); /* and z's graph holds x */
    cg_tensor_release(x);
    CHECK(owned_hooks(z) == 2); /* a handle keeps the hook, not what it calls */
    cg_hook_handle_release(kept);
    CHECK(owned_hooks(z) == 2);
    int other = 0;
    CHECK(cg_visit_owned_contexts(z, release_ctx, NULL, count_visit, &other) == 0 && other == 0);
    cg_tensor *w = cg_exp(z); /* another holder of z */
    CHECK(owned_hooks(z) == 0);
    CHECK(owned_hooks(w) == 0); /* z is held from outside w's graph */
    cg_tensor_release(z);
    CHECK(owned_hooks(w) == 2);
    CHECK(cg_backward(&w, NULL, 1, 0, 0) == 0);
    CHECK(calls == 2);
    cg_tensor_release(w);
}

/* ---- anomaly mode ---------------------------------------------------------- */

static int captured, freed, reported;
static const char *reported_name;
static int records[64];

static void *capture(void *parent, const char *parent_name) {
    (void)parent, (void)parent_name;
    return &records[captured++ % 64];
}
static void release_record(void *rec) { (void)rec, freed++; }
static void report(void *rec, const char *name) {
    (void)rec;
    reported++;
    reported_name = name;
}

static void test_anomaly(void) {
    cg_set_anomaly_callbacks(capture, release_record, report);
    cg_set_anomaly_enabled(1, 1);
    cg_tensor *x = cg_zeros((int64_t[]){2}, 1, CG_FLOAT64);
    cg_tensor_set_requires_grad(x, 1);
    cg_tensor *r = cg_pow_scalar(x, 0.5);      /* d/dx = inf at 0 */
    cg_tensor *zero = cg_zeros(NULL, 0, CG_FLOAT64);
    cg_tensor *y = cg_mul(r, zero);            /* upstream 0: 0 * inf = nan */
    cg_tensor *s = cg_sum(y, NULL, 0, 0);
    CHECK(captured == 3 && cg_node_anomaly(r->grad_fn) != NULL);
    CHECK(cg_backward(&s, NULL, 1, 0, 0) == -1);
    CHECK(strcmp(cg_error_message(), "Function 'PowBackward0' returned nan values in its 0th output.") == 0);
    CHECK(reported == 1 && reported_name && strcmp(reported_name, "PowBackward0") == 0);
    cg_error_clear();
    cg_set_anomaly_enabled(0, 1);
    cg_tensor_release(s);
    cg_tensor_release(y);
    cg_tensor_release(r);
    CHECK(freed == captured);
    cg_tensor_release(zero);
    cg_tensor_release(x);
    cg_set_anomaly_callbacks(NULL, NULL, NULL);
}

int main(void) {
    test_function_node();
    test_function_gradient_checked();
    test_hooks_and_handles();
    test_owned_hooks();
    test_anomaly();
    if (failures) {
        printf("%d autograd C test(s) failed\n", failures);
        return 1;
    }
    printf("all autograd C tests passed\n");
    return 0;
}
