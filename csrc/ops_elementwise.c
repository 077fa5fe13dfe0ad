/* ops_elementwise.c -- element-wise ops: forward and backward side by side.
 *
 * Each op computes its result with a raw kernel, then, when grad mode is on
 * and an input requires grad, records a node saving what its derivative
 * needs. Backward formulas are written with these same op functions, so with
 * create_graph they record nodes too and higher-order gradients come free.
 */
#include <math.h>

#include "internal.h"

CG_NO_FP_CONTRACT /* the scalar backward formulas round as the loops do */

/* An op's backward on one float or double (Note [Scalar gradients] in
 * engine.c), its body written once: it reads g and the saved values it names
 * with SAVED (returning false when one is not one element of g's dtype), and
 * sets gin[i], computing in g's type as the general backward does. A float
 * passes through a double exactly. */
#define SCALAR_BACKWARD(NAME, ...)                                                          \
    static bool NAME##_scalar(const cg_node *n, bool f32, double g_in, double *gin_out) {   \
        (void)n;                                                                            \
        if (f32) {                                                                          \
            const float g = (float)g_in;                                                    \
            float gin[2] = {0, 0};                                                          \
            __VA_ARGS__                                                                     \
            gin_out[0] = gin[0], gin_out[1] = gin[1];                                       \
            return true;                                                                    \
        }                                                                                   \
        const double g = g_in;                                                              \
        double *gin = gin_out;                                                              \
        __VA_ARGS__                                                                         \
        return true;                                                                        \
    }
#define SAVED(NAME, SLOT)                                                                   \
    __typeof__(+g) NAME;                                                                    \
    if (!cg_saved_scalar(n, SLOT, f32, &NAME)) return false;

/* ---- raw results ---------------------------------------------------------------- */

cg_tensor *cg_cast_raw(cg_tensor *a, cg_dtype dtype) {
    if (a->dtype == dtype) {
        cg_tensor_retain(a);
        return a;
    }
    cg_tensor *out = cg_new_tensor(a->shape, a->ndim, dtype);
    if (out) cg_run_loop(cg_cast_loop(dtype, (cg_dtype)a->dtype), out, &a, 1);
    if (out && a->is_wrapped) out->is_wrapped = 1;
    return out;
}

int cg_copy_data(cg_tensor *dst, const cg_tensor *src) {
    int64_t shape[CG_MAX_DIMS];
    int nd;
    if (cg_broadcast_shapes(dst->shape, dst->ndim, src->shape, src->ndim, shape, &nd)) return -1;
    if (!cg_shape_eq(shape, nd, dst->shape, dst->ndim)) {
        char b1[160], b2[160];
        cg_error_set(CG_ERR_RUNTIME, "output with shape %s doesn't match the broadcast shape %s",
                     cg_shape_str(dst->shape, dst->ndim, b1, sizeof b1), cg_shape_str(shape, nd, b2, sizeof b2));
        return -1;
    }
    cg_tensor *ins[1] = {(cg_tensor *)src};
    cg_run_loop(cg_cast_loop((cg_dtype)dst->dtype, (cg_dtype)src->dtype), dst, ins, 1);
    return 0;
}

/* out (rows x n) = a op b, where one of a and b is a dense batch of rows
 * (its step: n) and the other one row of n broadcast down them (step 0): a
 * bias added to a batch. The loops walk it a row at a time, and for a row of
 * a few dozen elements a loop's set-up cost as much as its arithmetic; a row
 * here goes in blocks of B elements, in vector registers. A row of exactly
 * one block is a loop of fixed length, the broadcast row held in registers;
 * a shorter row is repeated side by side into a run of k rows (ROW_RUN
 * bytes), and the batch goes k rows at a time as one run. The same values:
 * one op per element, as in the loops. */
#define ROW_RUN 1024
#define ROW_OP_RUN(o, a, b, len, OP)                                                         \
    do {                                                                                     \
        int64_t j = 0;                                                                       \
        for (; j + B <= (len); j += B)                                                       \
            for (int c = 0; c < B; c++) (o)[j + c] = OP((a)[j + c], (b)[j + c]);             \
        for (; j < (len); j++) (o)[j] = OP((a)[j], (b)[j]);                                  \
    } while (0)
#define ROW_OP(NAME, T, OP)                                                                  \
    VECTOR_CLONES static void NAME(T *restrict o, const T *restrict a, const T *restrict b, int64_t rows, \
                                   int64_t n, int64_t a_step, int64_t b_step) {              \
        enum { B = 128 / sizeof(T), RUN = ROW_RUN / sizeof(T) };                             \
        int64_t r = 0;                                                                       \
        if (n == B) {                                                                        \
            for (; r < rows; r++, o += B, a += a_step, b += b_step)                          \
                for (int c = 0; c < B; c++) o[c] = OP(a[c], b[c]);                           \
            return;                                                                          \
        }                                                                                    \
        if (n < B && rows >= 2) {                                                            \
            T rep[RUN];                                                                      \
            const T *row = a_step ? b : a;                                                   \
            int64_t k = RUN / n, len = k * n;                                                \
            for (int64_t q = 0; q < len; q += n)                                             \
                for (int64_t c = 0; c < n; c++) rep[q + c] = row[c];                          \
            const T *ra = a_step ? a : rep, *rb = b_step ? b : rep;                          \
            int64_t sa = a_step ? len : 0, sb = b_step ? len : 0;                            \
            for (; r + k <= rows; r += k, o += len, ra += sa, rb += sb) ROW_OP_RUN(o, ra, rb, len, OP); \
            a += r * a_step, b += r * b_step;                                                \
        }                                                                                    \
        for (; r < rows; r++, o += n, a += a_step, b += b_step) ROW_OP_RUN(o, a, b, n, OP);  \
    }
#define ROW_ADD(a, b) ((a) + (b))
#define ROW_SUB(a, b) ((a) - (b))
#define ROW_MUL(a, b) ((a) * (b))
#define ROW_DIV(a, b) ((a) / (b))
ROW_OP(row_add_f32, float, ROW_ADD)
ROW_OP(row_add_f64, double, ROW_ADD)
ROW_OP(row_sub_f32, float, ROW_SUB)
ROW_OP(row_sub_f64, double, ROW_SUB)
ROW_OP(row_mul_f32, float, ROW_MUL)
ROW_OP(row_mul_f64, double, ROW_MUL)
ROW_OP(row_div_f32, float, ROW_DIV)
ROW_OP(row_div_f64, double, ROW_DIV)

/* t = {out, a, b}, i = {op, the row's index in t (1 or 2)} */
static int row_op_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *a = k->t[1], *b = k->t[2];
    int64_t n = k->t[k->i[1]]->numel, rows = out->numel / n;
    int64_t a_step = k->i[1] == 1 ? 0 : n, b_step = k->i[1] == 2 ? 0 : n;
    if (out->dtype == CG_FLOAT64) {
        static void (*const f64[4])(double *, const double *, const double *, int64_t, int64_t, int64_t, int64_t) = {
            row_add_f64, row_sub_f64, row_mul_f64, row_div_f64};
        f64[k->i[0]]((double *)cg_ptr(out), (const double *)cg_ptr(a), (const double *)cg_ptr(b), rows, n, a_step,
                     b_step);
    } else {
        static void (*const f32[4])(float *, const float *, const float *, int64_t, int64_t, int64_t, int64_t) = {
            row_add_f32, row_sub_f32, row_mul_f32, row_div_f32};
        f32[k->i[0]]((float *)cg_ptr(out), (const float *)cg_ptr(a), (const float *)cg_ptr(b), rows, n, a_step,
                     b_step);
    }
    return 0;
}

/* Whether v is one dense row of out's last dims, broadcast down the rows of
 * x, dense and of out's size. */
static bool is_row_of(const cg_tensor *out, const cg_tensor *x, const cg_tensor *v) {
    if (x->numel != out->numel || v->numel < 2 || out->numel / v->numel < 2 || !cg_tensor_is_contiguous(x) ||
        !cg_tensor_is_contiguous(v))
        return false;
    int vd = v->ndim;
    while (vd > 0 && v->shape[v->ndim - vd] == 1) vd--; /* leading 1s */
    if (vd > out->ndim) return false;
    for (int d = 1; d <= vd; d++)
        if (v->shape[v->ndim - d] != out->shape[out->ndim - d]) return false;
    return true;
}

cg_tensor *cg_binary_raw(cg_binop op, cg_tensor *a, cg_tensor *b, cg_dtype dtype) {
    cg_loop loop = cg_binary_loop(op, dtype);
    if (!loop) return NULL;
    if (a->numel == 1 && b->numel == 1 && a->dtype == dtype && b->dtype == dtype) {
        cg_prefetch_input(a);
        cg_prefetch_input(b);
        const cg_tensor *big = a->ndim >= b->ndim ? a : b; /* 1-element fast path */
        cg_tensor *out = cg_new_tensor(big->shape, big->ndim, dtype);
        if (!out) return NULL;
        char *data[3] = {out->storage->data, cg_ptr(a), cg_ptr(b)};
        if (dtype == CG_FLOAT64 && op <= CG_BIN_DIV && !CG_RECORDING()) { /* the loop's one step, without its call */
            double x = *(const double *)data[1], y = *(const double *)data[2];
            *(double *)data[0] = op == CG_BIN_ADD ? x + y : op == CG_BIN_SUB ? x - y : op == CG_BIN_MUL ? x * y : x / y;
            return out;
        }
        static const int64_t ones[3] = {1, 1, 1};
        if (CG_RECORDING()) cg_tape_loop1(loop, out, a, b);
        loop(1, data, ones);
        return out;
    }
    int64_t shape[CG_MAX_DIMS];
    int nd;
    if (cg_broadcast_shapes(a->shape, a->ndim, b->shape, b->ndim, shape, &nd)) return NULL;
    cg_tensor *ca = cg_cast_raw(a, dtype);
    cg_tensor *cb = ca ? cg_cast_raw(b, dtype) : NULL;
    cg_tensor *out = cb ? cg_new_tensor(shape, nd, dtype) : NULL;
    bool rows = out && op <= CG_BIN_DIV && (dtype == CG_FLOAT32 || dtype == CG_FLOAT64);
    int row = !rows ? 0 : is_row_of(out, ca, cb) ? 2 : is_row_of(out, cb, ca) ? 1 : 0;
    if (row) {
        cg_kernel(row_op_kernel, &(cg_kargs){.name = "an element-wise op", .t = {out, ca, cb}, .nw = 1, .i = {op, row}});
    } else if (out) {
        cg_tensor *ins[2] = {ca, cb};
        cg_run_loop(loop, out, ins, 2);
    }
    cg_tensor_release(ca);
    cg_tensor_release(cb);
    return out;
}

cg_tensor *cg_unary_raw(cg_unop op, cg_tensor *a) {
    cg_loop loop = cg_unary_loop(op, (cg_dtype)a->dtype);
    if (!loop) return NULL;
    cg_tensor *out = cg_new_tensor(a->shape, a->ndim, (cg_dtype)a->dtype);
    if (out && a->numel == 1 && !CG_RECORDING()) { /* 1-element fast path */
        char *data[2] = {out->storage->data, cg_ptr(a)};
        static const int64_t ones[2] = {1, 1};
        loop(1, data, ones);
    } else if (out) {
        cg_run_loop(loop, out, &a, 1);
    }
    return out;
}

int cg_add_into(cg_tensor *dst, cg_tensor *src) {
    cg_loop loop = cg_binary_loop(CG_BIN_ADD, (cg_dtype)dst->dtype);
    if (!loop) return -1;
    cg_tensor *s = cg_cast_raw(src, (cg_dtype)dst->dtype);
    if (!s) return -1;
    cg_tensor *ins[2] = {dst, s};
    cg_run_loop(loop, dst, ins, 2);
    cg_tensor_release(s);
    cg_bump_version(dst);
    return 0;
}

/* ---- recording ------------------------------------------------------------------------ */

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

/* Saves inputs by slot: bit k of `which` saves ins[k] (k < 2), bit 2 the output. */
static cg_tensor *record(const cg_op *op, cg_tensor *out, cg_tensor *a, cg_tensor *b, unsigned which) {
    cg_tensor *ins[2] = {a, b};
    int nin = b ? 2 : 1;
    if (!out || !cg_any_requires_grad(ins, nin)) return out;
    cg_node *n = cg_node_new(op, ins, nin, 1);
    if (!n) return fail(out, NULL);
    for (int k = 0; k < nin; k++)
        if (((which >> k) & 1) && cg_save(n, k, ins[k], false)) return fail(out, n);
    if (((which >> 2) & 1) && cg_save(n, 2, out, true)) return fail(out, n);
    return finish(out, n);
}
#define SAVE_A 1u
#define SAVE_B 2u
#define SAVE_OUT 4u

/* g op saved[slot], consuming nothing; NULL on error. */
static cg_tensor *with_saved(cg_tensor *(*fn)(cg_tensor *, cg_tensor *), cg_tensor *g, cg_node *n, int slot) {
    cg_tensor *t = cg_unpack(n, slot);
    if (!t) return NULL;
    cg_tensor *r = fn(g, t);
    cg_tensor_release(t);
    return r;
}

/* Note [Gradients computed in place]
 * With no graph being built, an element-wise backward formula g op saved
 * may write its result over g when nothing else can see g: its node's input
 * buffer holds the only reference, and no view, wrapper, hook or retained
 * .grad shares it (a gradient sent down two edges, or kept by a hook, has
 * more). The result is then g itself, with a new reference, and the buffer
 * lets go of its own after the node's backward. Down a long chain, each
 * node's gradient is the one it received, rewritten: no tensor made per
 * node, and no new memory brought into cache. The values are those of the
 * formula's own op, computed by the same kernel. A recording (compile.c)
 * takes the ops as usual. buffer_add in engine.c sums gradients in place on
 * the same condition. */
static cg_tensor *in_place_with_saved(cg_binop op, cg_tensor *(*fn)(cg_tensor *, cg_tensor *), cg_tensor *g,
                                      cg_node *n, int slot) {
    if (cg_is_grad_enabled() || CG_RECORDING() || !cg_is_unique(g) || !cg_tensor_is_contiguous(g))
        return with_saved(fn, g, n, slot);
    char *t;
    int64_t ts;
    int rc = cg_saved_operand(n, slot, g, &t, &ts);
    cg_loop loop = rc > 0 ? cg_binary_loop(op, (cg_dtype)g->dtype) : NULL;
    if (!loop) return rc < 0 ? NULL : with_saved(fn, g, n, slot);
    char *data[3] = {cg_ptr(g), cg_ptr(g), t};
    const int64_t strides[3] = {1, 1, ts};
    loop(g->numel, data, strides);
    cg_bump_version(g);
    cg_tensor_retain(g);
    return g;
}

static cg_tensor *number(double v, cg_tensor *like) { return cg_scalar_tensor(v, CG_FLOAT64, like); }

/* fn(a, number v) */
static cg_tensor *with_number(cg_tensor *(*fn)(cg_tensor *, cg_tensor *), cg_tensor *a, double v) {
    cg_tensor *s = number(v, a);
    cg_tensor *r = s ? fn(a, s) : NULL;
    cg_tensor_release(s);
    return r;
}

/* ---- add, sub, neg ------------------------------------------------------------------------ */

static int add_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(a+b)/da = d(a+b)/db = 1 */
    for (int i = 0; i < 2; i++) {
        if (!cg_wants(n, i)) continue;
        cg_tensor_retain(gout[0]);
        if (!(gin[i] = cg_reduce_grad(n, i, gout[0]))) return -1;
    }
    return 0;
}
SCALAR_BACKWARD(add, gin[0] = gin[1] = g;)
static const cg_op add_op = {"AddBackward0", add_backward, .no_ints = true, .backward_scalar = add_scalar};

cg_tensor *cg_add(cg_tensor *a, cg_tensor *b) {
    return record(&add_op, cg_binary_raw(CG_BIN_ADD, a, b, cg_result_type(a, b)), a, b, 0);
}

static int sub_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(a-b)/da = 1, d(a-b)/db = -1 */
    if (cg_wants(n, 0)) {
        cg_tensor_retain(gout[0]);
        if (!(gin[0] = cg_reduce_grad(n, 0, gout[0]))) return -1;
    }
    if (cg_wants(n, 1) && !(gin[1] = cg_reduce_grad(n, 1, cg_neg(gout[0])))) return -1;
    return 0;
}
SCALAR_BACKWARD(sub, gin[0] = g; gin[1] = -g;)
static const cg_op sub_op = {"SubBackward0", sub_backward, .no_ints = true, .backward_scalar = sub_scalar};

static int check_sub_dtypes(const cg_tensor *a, const cg_tensor *b) {
    if (a->dtype == CG_BOOL && b->dtype == CG_BOOL) {
        cg_error_set(CG_ERR_RUNTIME,
                     "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                     "`logical_xor()` operator instead.");
        return -1;
    }
    if (a->dtype == CG_BOOL || b->dtype == CG_BOOL) {
        cg_error_set(CG_ERR_RUNTIME,
                     "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
                     "invert a mask, use the `~` or `logical_not()` operator instead.");
        return -1;
    }
    return 0;
}

cg_tensor *cg_sub(cg_tensor *a, cg_tensor *b) {
    if (check_sub_dtypes(a, b)) return NULL;
    return record(&sub_op, cg_binary_raw(CG_BIN_SUB, a, b, cg_result_type(a, b)), a, b, 0);
}

/* ---- add and sub with alpha ------------------------------------------------------------- */

/* PyTorch's rules for alpha, a wrapped number: no floating alpha for an
 * integral (or bool) result, and a bool one for a bool result only. */
static int check_alpha(cg_dtype result, const cg_tensor *alpha) {
    if (!cg_dtype_is_floating(result) && cg_dtype_is_floating((cg_dtype)alpha->dtype)) {
        cg_error_set(CG_ERR_RUNTIME, "For integral input tensors, argument alpha must not be a floating point number.");
        return -1;
    }
    if (alpha->dtype == CG_BOOL && result != CG_BOOL) {
        cg_error_set(CG_ERR_RUNTIME, "Boolean alpha only supported for Boolean results.");
        return -1;
    }
    return 0;
}

/* a + alpha b, rounded once as PyTorch's kernel rounds it: fma(alpha, b, a)
 * in dtype d, alpha cast to d first (sub: negated after the cast). Written
 * into out when given (a itself, of dtype d: in place), else into a new
 * tensor of the broadcast shape. A bool result is a or (alpha and b). */
static cg_tensor *scaled_add_raw(cg_tensor *out, cg_tensor *a, cg_tensor *b, cg_tensor *alpha, bool sub, cg_dtype d) {
    if (d == CG_BOOL && !out) {
        cg_tensor *ab = cg_binary_raw(CG_BIN_MUL, alpha, b, d);
        cg_tensor *r = ab ? cg_binary_raw(CG_BIN_ADD, a, ab, d) : NULL;
        cg_tensor_release(ab);
        return r;
    }
    int64_t shape[CG_MAX_DIMS];
    int nd;
    cg_loop loop = cg_math_loop(CG_M_FMA, d);
    if (!loop || cg_broadcast_shapes(a->shape, a->ndim, b->shape, b->ndim, shape, &nd)) return NULL;
    cg_tensor *al = cg_cast_raw(alpha, d);
    if (al && sub) {
        cg_tensor *neg = cg_unary_raw(CG_UN_NEG, al);
        cg_tensor_release(al);
        al = neg;
    }
    cg_tensor *ca = al ? cg_cast_raw(a, d) : NULL, *cb = ca ? cg_cast_raw(b, d) : NULL;
    if (cb && out)
        cg_tensor_retain(out);
    else if (cb)
        out = cg_new_tensor(shape, nd, d);
    if (out) {
        cg_tensor *ins[3] = {al, cb, ca};
        cg_run_loop(loop, out, ins, 3);
    }
    cg_tensor_release(al);
    cg_tensor_release(ca);
    cg_tensor_release(cb);
    return cb ? out : NULL;
}

/* d(a + alpha b)/da = 1, d/db = alpha; f[0] holds alpha, negated for sub. */
static int scaled_add_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    if (cg_wants(n, 0)) {
        cg_tensor_retain(gout[0]);
        if (!(gin[0] = cg_reduce_grad(n, 0, gout[0]))) return -1;
    }
    if (cg_wants(n, 1) && !(gin[1] = cg_reduce_grad(n, 1, with_number(cg_mul, gout[0], n->f[0])))) return -1;
    return 0;
}
SCALAR_BACKWARD(scaled_add, gin[0] = g; gin[1] = g * (__typeof__(g))n->f[0];)
static const cg_op add_alpha_op = {"AddBackward0", scaled_add_backward, .no_ints = true,
                                   .backward_scalar = scaled_add_scalar};
static const cg_op sub_alpha_op = {"SubBackward0", scaled_add_backward, .no_ints = true,
                                   .backward_scalar = scaled_add_scalar};

static void keep_alpha(cg_node *n, const cg_tensor *alpha, bool sub) {
    double v = cg_tensor_item(alpha);
    if (n) n->f[0] = sub ? -v : v;
}

static cg_tensor *scaled_add(cg_tensor *a, cg_tensor *b, cg_tensor *alpha, bool sub) {
    cg_dtype d = cg_result_type(a, b);
    if ((sub && check_sub_dtypes(a, b)) || check_alpha(d, alpha)) return NULL;
    cg_tensor *out = record(sub ? &sub_alpha_op : &add_alpha_op, scaled_add_raw(NULL, a, b, alpha, sub, d), a, b, 0);
    if (out && out->grad_fn && out->grad_fn->op == (sub ? &sub_alpha_op : &add_alpha_op))
        keep_alpha(out->grad_fn, alpha, sub);
    return out;
}

cg_tensor *cg_add_alpha(cg_tensor *a, cg_tensor *b, cg_tensor *alpha) { return scaled_add(a, b, alpha, false); }
cg_tensor *cg_sub_alpha(cg_tensor *a, cg_tensor *b, cg_tensor *alpha) { return scaled_add(a, b, alpha, true); }

static int rsub_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* rsub(a, b) = b - a: d/da = -1, d/db = 1 */
    if (cg_wants(n, 0) && !(gin[0] = cg_reduce_grad(n, 0, cg_neg(gout[0])))) return -1;
    if (n->n_next > 1 && cg_wants(n, 1)) {
        cg_tensor_retain(gout[0]);
        if (!(gin[1] = cg_reduce_grad(n, 1, gout[0]))) return -1;
    }
    return 0;
}
SCALAR_BACKWARD(rsub, gin[0] = -g; gin[1] = g;)
static const cg_op rsub_op = {"RsubBackward1", rsub_backward, .no_ints = true, .backward_scalar = rsub_scalar};

/* number - a: a wrapped number b is no input of the node, as in PyTorch's
 * overload for a number (RsubBackward1 has one edge). */
cg_tensor *cg_rsub(cg_tensor *a, cg_tensor *b) {
    if (check_sub_dtypes(a, b)) return NULL;
    return record(&rsub_op, cg_binary_raw(CG_BIN_SUB, b, a, cg_result_type(a, b)), a, b->is_wrapped ? NULL : b, 0);
}

static int neg_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n; /* d(-a)/da = -1 */
    return (gin[0] = cg_neg(gout[0])) ? 0 : -1;
}
SCALAR_BACKWARD(neg, gin[0] = -g;)
static const cg_op neg_op = {"NegBackward0", neg_backward, .no_ints = true, .backward_scalar = neg_scalar};

cg_tensor *cg_neg(cg_tensor *a) {
    if (a->dtype == CG_BOOL) {
        cg_error_set(CG_ERR_RUNTIME,
                     "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                     "invert a mask, use the `~` or `logical_not()` operator instead.");
        return NULL;
    }
    return record(&neg_op, cg_unary_raw(CG_UN_NEG, a), a, NULL, 0);
}

/* ---- mul, div ---------------------------------------------------------------------------- */

static int mul_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(a*b)/da = b, d(a*b)/db = a */
    const cg_saved *s = n->saved;
    if (s[0].data && s[0].data == s[1].data && !s[0].bare && !s[1].bare && cg_wants(n, 0) && cg_wants(n, 1) &&
        !cg_is_grad_enabled()) { /* a * a: both are g * a, computed once (the same values, a pass fewer) */
        if (!(gin[0] = cg_reduce_grad(n, 0, in_place_with_saved(CG_BIN_MUL, cg_mul, gout[0], n, 1)))) return -1;
        cg_tensor_retain(gin[0]);
        gin[1] = gin[0];
        return 0;
    }
    if (cg_wants(n, 0)) { /* g may be rewritten only by the last formula that reads it */
        cg_tensor *g = cg_wants(n, 1) ? with_saved(cg_mul, gout[0], n, 1)
                                      : in_place_with_saved(CG_BIN_MUL, cg_mul, gout[0], n, 1);
        if (!(gin[0] = cg_reduce_grad(n, 0, g))) return -1;
    }
    if (cg_wants(n, 1) && !(gin[1] = cg_reduce_grad(n, 1, in_place_with_saved(CG_BIN_MUL, cg_mul, gout[0], n, 0))))
        return -1;
    return 0;
}
SCALAR_BACKWARD(mul,
    if (cg_wants(n, 0)) { SAVED(b, 1); gin[0] = g * b; }
    if (cg_wants(n, 1)) { SAVED(a, 0); gin[1] = g * a; })
static const cg_op mul_op = {"MulBackward0", mul_backward, .no_ints = true, .backward_scalar = mul_scalar};

cg_tensor *cg_mul(cg_tensor *a, cg_tensor *b) {
    unsigned which = (b->requires_grad ? SAVE_A : 0) | (a->requires_grad ? SAVE_B : 0);
    return record(&mul_op, cg_binary_raw(CG_BIN_MUL, a, b, cg_result_type(a, b)), a, b, which);
}

/* -g * ((a / b) / b) */
static cg_tensor *div_other_grad(cg_tensor *g, cg_tensor *a, cg_tensor *b) {
    cg_tensor *q = cg_div(a, b);
    cg_tensor *q2 = q ? cg_div(q, b) : NULL;
    cg_tensor *ng = q2 ? cg_neg(g) : NULL;
    cg_tensor *r = ng ? cg_mul(ng, q2) : NULL;
    cg_tensor_release(q);
    cg_tensor_release(q2);
    cg_tensor_release(ng);
    return r;
}

static int div_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 */
    if (cg_wants(n, 0)) { /* g may be rewritten only by the last formula that reads it */
        cg_tensor *g = cg_wants(n, 1) ? with_saved(cg_div, gout[0], n, 1)
                                      : in_place_with_saved(CG_BIN_DIV, cg_div, gout[0], n, 1);
        if (!(gin[0] = cg_reduce_grad(n, 0, g))) return -1;
    }
    if (cg_wants(n, 1)) {
        cg_tensor *a = cg_unpack(n, 0), *b = a ? cg_unpack(n, 1) : NULL;
        gin[1] = b ? cg_reduce_grad(n, 1, div_other_grad(gout[0], a, b)) : NULL;
        cg_tensor_release(a);
        cg_tensor_release(b);
        if (!gin[1]) return -1;
    }
    return 0;
}
SCALAR_BACKWARD(div, SAVED(b, 1);
    if (cg_wants(n, 0)) gin[0] = g / b;
    if (cg_wants(n, 1)) { SAVED(a, 0); gin[1] = -g * ((a / b) / b); }) /* as div_other_grad */
static const cg_op div_op = {"DivBackward0", div_backward, .no_ints = true, .backward_scalar = div_scalar};

static cg_dtype div_dtype(const cg_tensor *a, const cg_tensor *b) {
    cg_dtype d = cg_result_type(a, b);
    return cg_dtype_is_floating(d) ? d : cg_get_default_dtype();
}

cg_tensor *cg_div(cg_tensor *a, cg_tensor *b) {
    unsigned which = (b->requires_grad ? SAVE_A | SAVE_B : 0) | (a->requires_grad ? SAVE_B : 0);
    return record(&div_op, cg_binary_raw(CG_BIN_DIV, a, b, div_dtype(a, b)), a, b, which);
}

/* ---- pow ---------------------------------------------------------------------------------- */

static cg_tensor *pow_raw(cg_tensor *a, double e) {
    cg_unop op = e == 2 ? CG_UN_SQUARE : e == 3 ? CG_UN_CUBE : e == 0.5 ? CG_UN_SQRT
               : e == -0.5 ? CG_UN_RSQRT : e == -1 ? CG_UN_RECIPROCAL : e == 1 ? CG_UN_COPY : CG_NUM_UNOPS;
    if (!cg_dtype_is_floating((cg_dtype)a->dtype)) { /* a floating exponent: compute in floating point */
        cg_tensor *f = cg_cast_raw(a, cg_get_default_dtype());
        cg_tensor *r = f ? pow_raw(f, e) : NULL;
        cg_tensor_release(f);
        return r;
    }
    if (e == 0) return cg_ones(a->shape, a->ndim, (cg_dtype)a->dtype);
    if (op != CG_NUM_UNOPS) return cg_unary_raw(op, a);
    cg_tensor *s = number(e, a);
    cg_tensor *r = s ? cg_binary_raw(CG_BIN_POW, a, s, cg_result_type(a, s)) : NULL;
    cg_tensor_release(s);
    return r;
}

static int pow_scalar_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(a^e)/da = e * a^(e-1) */
    double e = n->f[0];
    if (e == 0) return (gin[0] = cg_zeros(n->in_shape[0].d, n->in_shape[0].ndim, (cg_dtype)gout[0]->dtype)) ? 0 : -1;
    cg_tensor *a = cg_unpack(n, 0);
    /* a^1 is a: a square, the common case, skips a copy, unless the graph
     * of this derivative is being built (PyTorch's has the pow in it) */
    bool square = e == 2 && !cg_is_grad_enabled();
    if (a && square) cg_tensor_retain(a);
    cg_tensor *p = !a ? NULL : square ? a : cg_pow_scalar(a, e - 1);
    cg_tensor *d = p ? with_number(cg_mul, p, e) : NULL;
    gin[0] = d ? cg_mul(gout[0], d) : NULL;
    cg_tensor_release(a);
    cg_tensor_release(p);
    cg_tensor_release(d);
    return gin[0] ? 0 : -1;
}
static const cg_op pow_scalar_op = {"PowBackward0", pow_scalar_backward, .no_ints = true};

cg_tensor *cg_pow_scalar(cg_tensor *a, double exponent) {
    cg_tensor *out = pow_raw(a, exponent);
    if (!out || !cg_any_requires_grad(&a, 1)) return out;
    cg_node *n = cg_node_new(&pow_scalar_op, &a, 1, 1);
    if (!n || cg_save(n, 0, a, false)) return fail(out, n);
    n->f[0] = exponent;
    return finish(out, n);
}

/* where(mask, 0, v) with a 0-d zero of v's dtype, as PyTorch writes its
 * derivatives' special points; consumes mask and v. */
static cg_tensor *zero_where(cg_tensor *mask, cg_tensor *v) {
    cg_tensor *z = mask && v ? cg_zeros(NULL, 0, (cg_dtype)v->dtype) : NULL;
    cg_tensor *r = z ? cg_where(mask, z, v) : NULL;
    cg_tensor_release(z);
    cg_tensor_release(mask);
    cg_tensor_release(v);
    return r;
}

/* d(a^b)/db = a^b * log(a), and 0 where a == 0 and b >= 0 (by continuity) */
static cg_tensor *pow_exponent_grad(cg_tensor *g, cg_tensor *a, cg_tensor *b, cg_tensor *result) {
    cg_tensor *a0 = with_number(cg_eq, a, 0.0), *bpos = with_number(cg_ge, b, 0.0);
    cg_tensor *mask = a0 && bpos ? cg_logical_and(a0, bpos) : NULL;
    cg_tensor *af = a->dtype == result->dtype ? a : cg_to_dtype(a, (cg_dtype)result->dtype);
    if (af == a) cg_tensor_retain(a);
    cg_tensor *la = af ? cg_log(af) : NULL;
    cg_tensor *d = zero_where(mask, la ? cg_mul(result, la) : NULL);
    cg_tensor *r = d ? cg_mul(g, d) : NULL;
    cg_tensor_release(a0);
    cg_tensor_release(bpos);
    cg_tensor_release(af);
    cg_tensor_release(la);
    cg_tensor_release(d);
    return r;
}

/* d(a^b)/da = b * a^(b-1), and 0 where b == 0; an integer b less one stays an
 * integer, so that a^(b-1) keeps a's precision when a is a 0-d float64 */
static cg_tensor *pow_self_grad(cg_tensor *g, cg_tensor *a, cg_tensor *b) {
    cg_tensor *one = cg_scalar_tensor(1.0, cg_dtype_is_floating((cg_dtype)b->dtype) ? CG_FLOAT64 : CG_INT64, b);
    cg_tensor *bm1 = one ? cg_sub(b, one) : NULL;
    cg_tensor_release(one);
    cg_tensor *p = bm1 ? cg_pow(a, bm1) : NULL;
    cg_tensor *d = p ? cg_mul(b, p) : NULL;
    cg_tensor *r = zero_where(with_number(cg_eq, b, 0.0), d ? cg_mul(g, d) : NULL);
    cg_tensor_release(bm1);
    cg_tensor_release(p);
    cg_tensor_release(d);
    return r;
}

static int pow_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *a = cg_unpack(n, 0), *b = a ? cg_unpack(n, 1) : NULL;
    int rc = b ? 0 : -1;
    if (rc == 0 && cg_wants(n, 0) && !(gin[0] = cg_reduce_grad(n, 0, pow_self_grad(gout[0], a, b)))) rc = -1;
    if (rc == 0 && cg_wants(n, 1)) {
        cg_tensor *result = cg_unpack(n, 2);
        gin[1] = result ? cg_reduce_grad(n, 1, pow_exponent_grad(gout[0], a, b, result)) : NULL;
        cg_tensor_release(result);
        if (!gin[1]) rc = -1;
    }
    cg_tensor_release(a);
    cg_tensor_release(b);
    return rc;
}
static const cg_op pow_op = {"PowBackward1", pow_backward, .no_ints = true};

cg_tensor *cg_pow(cg_tensor *a, cg_tensor *b) {
    cg_dtype dtype = cg_result_type(a, b);
    if (b->is_wrapped && cg_dtype_is_floating(dtype)) return cg_pow_scalar(a, cg_tensor_item(b));
    if (b->is_wrapped && cg_tensor_item(b) < 0) {
        cg_error_set(CG_ERR_RUNTIME, "Integers to negative integer powers are not allowed.");
        return NULL;
    }
    if (b->is_wrapped && cg_tensor_item(b) <= 1) /* x ** 0 and x ** 1 exist for bool too */
        return cg_tensor_item(b) == 0 ? cg_ones(a->shape, a->ndim, dtype) : cg_to_dtype(a, dtype);
    unsigned which = SAVE_A | SAVE_B | (b->requires_grad ? SAVE_OUT : 0);
    return record(&pow_op, cg_binary_raw(CG_BIN_POW, a, b, dtype), a, b, which);
}

static int rpow_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(c^e)/de = c^e * log(c), and 0 where e >= 0 when c == 0 */
    cg_tensor *result = cg_unpack(n, 2);
    cg_tensor *d = result ? with_number(cg_mul, result, log(n->f[0])) : NULL;
    if (d && n->f[0] == 0) {
        cg_tensor *e = cg_unpack(n, 0);
        d = zero_where(e ? with_number(cg_ge, e, 0.0) : NULL, d);
        cg_tensor_release(e);
    }
    gin[0] = d ? cg_mul(gout[0], d) : NULL;
    cg_tensor_release(result);
    cg_tensor_release(d);
    return gin[0] ? 0 : -1;
}
static const cg_op rpow_op = {"PowBackward2", rpow_backward, .no_ints = true};

cg_tensor *cg_rpow_scalar(double base, cg_tensor *e) {
    cg_tensor *s = number(base, e);
    if (!s) return NULL;
    cg_tensor *out = cg_binary_raw(CG_BIN_POW, s, e, cg_result_type(s, e));
    cg_tensor_release(s);
    if (!out || !cg_any_requires_grad(&e, 1)) return out;
    cg_node *n = cg_node_new(&rpow_op, &e, 1, 1);
    if (!n || cg_save(n, 0, e, false) || cg_save(n, 2, out, true)) return fail(out, n);
    n->f[0] = base;
    return finish(out, n);
}

/* ---- exp, log ------------------------------------------------------------------------------ */

static cg_tensor *floating(cg_tensor *a) {
    return cg_cast_raw(a, cg_dtype_is_floating((cg_dtype)a->dtype) ? (cg_dtype)a->dtype : cg_get_default_dtype());
}

/* An op on the floating version of a (integers promote to the default dtype). */
static cg_tensor *float_unary(cg_unop op, cg_tensor *a) {
    cg_tensor *f = floating(a);
    cg_tensor *out = f ? cg_unary_raw(op, f) : NULL;
    cg_tensor_release(f);
    return out;
}

static int exp_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da exp(a) = exp(a) */
    return (gin[0] = in_place_with_saved(CG_BIN_MUL, cg_mul, gout[0], n, 2)) ? 0 : -1;
}
SCALAR_BACKWARD(exp, SAVED(y, 2); gin[0] = g * y;)
static const cg_op exp_op = {"ExpBackward0", exp_backward, .no_ints = true, .backward_scalar = exp_scalar};

cg_tensor *cg_exp(cg_tensor *a) { return record(&exp_op, float_unary(CG_UN_EXP, a), a, NULL, SAVE_OUT); }

static int log_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da log(a) = 1/a */
    return (gin[0] = in_place_with_saved(CG_BIN_DIV, cg_div, gout[0], n, 0)) ? 0 : -1;
}
SCALAR_BACKWARD(log, SAVED(a, 0); gin[0] = g / a;)
static const cg_op log_op = {"LogBackward0", log_backward, .no_ints = true, .backward_scalar = log_scalar};

cg_tensor *cg_log(cg_tensor *a) { return record(&log_op, float_unary(CG_UN_LOG, a), a, NULL, SAVE_A); }

/* ---- tanh, sigmoid, relu and their fused derivatives ------------------------------------- */

static cg_tensor *tanh_backward(cg_tensor *g, cg_tensor *y);
static cg_tensor *sigmoid_backward(cg_tensor *g, cg_tensor *y);
static cg_tensor *relu_backward(cg_tensor *g, cg_tensor *y);

static int tanh_op_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da tanh(a) = 1 - tanh(a)^2 */
    return (gin[0] = in_place_with_saved(CG_BIN_TANH_BWD, tanh_backward, gout[0], n, 2)) ? 0 : -1;
}
SCALAR_BACKWARD(tanh, SAVED(y, 2); gin[0] = CG_TANH_BWD(g, y);)
static const cg_op tanh_op = {"TanhBackward0", tanh_op_backward, .no_ints = true, .backward_scalar = tanh_scalar};

cg_tensor *cg_tanh(cg_tensor *a) { return record(&tanh_op, float_unary(CG_UN_TANH, a), a, NULL, SAVE_OUT); }

static int sigmoid_op_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da sigmoid(a) = (1 - sigmoid(a)) * sigmoid(a) */
    return (gin[0] = in_place_with_saved(CG_BIN_SIGMOID_BWD, sigmoid_backward, gout[0], n, 2)) ? 0 : -1;
}
SCALAR_BACKWARD(sigmoid, SAVED(y, 2); gin[0] = CG_SIGMOID_BWD(g, y);)
static const cg_op sigmoid_op = {"SigmoidBackward0", sigmoid_op_backward, .no_ints = true,
                                 .backward_scalar = sigmoid_scalar};

cg_tensor *cg_sigmoid(cg_tensor *a) {
    return record(&sigmoid_op, float_unary(CG_UN_SIGMOID, a), a, NULL, SAVE_OUT);
}

static int relu_op_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da relu(a) = a > 0 */
    return (gin[0] = in_place_with_saved(CG_BIN_RELU_BWD, relu_backward, gout[0], n, 2)) ? 0 : -1;
}
SCALAR_BACKWARD(relu, SAVED(y, 2); gin[0] = CG_RELU_BWD(g, y);)
static const cg_op relu_op = {"ReluBackward0", relu_op_backward, .no_ints = true, .backward_scalar = relu_scalar};

cg_tensor *cg_relu(cg_tensor *a) {
    if (a->dtype == CG_BOOL) {
        cg_error_set(CG_ERR_RUNTIME, "Boolean inputs not supported for relu");
        return NULL;
    }
    return record(&relu_op, cg_unary_raw(CG_UN_RELU, a), a, NULL, SAVE_OUT);
}

/* tanh_backward(g, y) = g * (1 - y^2); d/dg = 1 - y^2, d/dy = -2 y g */
static int tanh_bwd_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *g = cg_unpack(n, 0), *y = g ? cg_unpack(n, 1) : NULL;
    int rc = y ? 0 : -1;
    if (rc == 0 && cg_wants(n, 0) && !(gin[0] = tanh_backward(gout[0], y))) rc = -1;
    if (rc == 0 && cg_wants(n, 1)) {
        cg_tensor *gy = cg_mul(g, y);
        cg_tensor *m2 = gy ? with_number(cg_mul, gy, -2.0) : NULL;
        gin[1] = m2 ? cg_mul(gout[0], m2) : NULL;
        cg_tensor_release(gy);
        cg_tensor_release(m2);
        if (!gin[1]) rc = -1;
    }
    cg_tensor_release(g);
    cg_tensor_release(y);
    return rc;
}
static const cg_op tanh_bwd_op = {"TanhBackwardBackward0", tanh_bwd_backward, .no_ints = true};

static cg_tensor *tanh_backward(cg_tensor *g, cg_tensor *y) {
    cg_dtype d = cg_result_type(g, y);
    return record(&tanh_bwd_op, cg_binary_raw(CG_BIN_TANH_BWD, g, y, d), g, y, SAVE_A | SAVE_B);
}

/* sigmoid_backward(g, y) = g * (1 - y) * y; d/dg = (1 - y) y, d/dy = g (1 - 2y) */
static int sigmoid_bwd_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    cg_tensor *g = cg_unpack(n, 0), *y = g ? cg_unpack(n, 1) : NULL;
    int rc = y ? 0 : -1;
    if (rc == 0 && cg_wants(n, 0) && !(gin[0] = sigmoid_backward(gout[0], y))) rc = -1;
    if (rc == 0 && cg_wants(n, 1)) {
        cg_tensor *y2 = with_number(cg_mul, y, -2.0);
        cg_tensor *one_m = y2 ? with_number(cg_add, y2, 1.0) : NULL;
        cg_tensor *d = one_m ? cg_mul(g, one_m) : NULL;
        gin[1] = d ? cg_mul(gout[0], d) : NULL;
        cg_tensor_release(y2);
        cg_tensor_release(one_m);
        cg_tensor_release(d);
        if (!gin[1]) rc = -1;
    }
    cg_tensor_release(g);
    cg_tensor_release(y);
    return rc;
}
static const cg_op sigmoid_bwd_op = {"SigmoidBackwardBackward0", sigmoid_bwd_backward, .no_ints = true};

static cg_tensor *sigmoid_backward(cg_tensor *g, cg_tensor *y) {
    cg_dtype d = cg_result_type(g, y);
    return record(&sigmoid_bwd_op, cg_binary_raw(CG_BIN_SIGMOID_BWD, g, y, d), g, y, SAVE_A | SAVE_B);
}

/* relu_backward(g, y) = y <= 0 ? 0 : g; d/dg = !(y <= 0), d/dy = 0 almost everywhere */
static int relu_bwd_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    if (!cg_wants(n, 0)) return 0;
    return (gin[0] = with_saved(relu_backward, gout[0], n, 1)) ? 0 : -1;
}
static const cg_op relu_bwd_op = {"ThresholdBackwardBackward0", relu_bwd_backward, .no_ints = true};

static cg_tensor *relu_backward(cg_tensor *g, cg_tensor *y) {
    cg_dtype d = cg_result_type(g, y);
    return record(&relu_bwd_op, cg_binary_raw(CG_BIN_RELU_BWD, g, y, d), g, y, SAVE_B);
}

/* ---- dtype casts ---------------------------------------------------------------------------- */

static int to_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* a cast's derivative is the cast back; a copy into another layout passes the gradient on as it is */
    cg_dtype d = (cg_dtype)n->in_dtype[0];
    if (gout[0]->dtype == d) {
        cg_tensor_retain(gout[0]);
        gin[0] = gout[0];
        return 0;
    }
    return (gin[0] = cg_to_dtype_format(gout[0], d, CG_PRESERVE_FORMAT)) ? 0 : -1;
}
static const cg_op to_op = {"ToCopyBackward0", to_backward, .no_ints = true};

cg_tensor *cg_to_dtype(cg_tensor *a, cg_dtype dtype) { return cg_to_dtype_format(a, dtype, CG_CONTIGUOUS_FORMAT); }

cg_tensor *cg_to_dtype_format(cg_tensor *a, cg_dtype dtype, cg_memory_format f) {
    if ((unsigned)dtype >= CG_NUM_DTYPES) {
        cg_error_set(CG_ERR_TYPE, "unknown dtype %d", (int)dtype);
        return NULL;
    }
    cg_tensor *out = f == CG_CONTIGUOUS_FORMAT ? cg_new_tensor(a->shape, a->ndim, dtype)
                                               : cg_empty_like_format(a, dtype, f);
    if (out) cg_run_loop(cg_cast_loop(dtype, (cg_dtype)a->dtype), out, &a, 1);
    if (!out || !cg_dtype_is_floating(dtype)) return out;
    return record(&to_op, out, a, NULL, 0);
}

/* ---- in place ------------------------------------------------------------------------------- */

static int check_inplace_dtype(const cg_tensor *a, const cg_tensor *b, cg_dtype common) {
    (void)b;
    cg_dtype d = (cg_dtype)a->dtype;
    bool ok = common == d || cg_dtype_is_floating(d) || (d == CG_INT64 && common == CG_BOOL);
    if (!ok) {
        cg_error_set(CG_ERR_RUNTIME, "result type %s can't be cast to the desired output type %s",
                     cg_dtype_torch_name(common), cg_dtype_torch_name(d));
        return -1;
    }
    return 0;
}

static int check_inplace_shape(const cg_tensor *a, const cg_tensor *b) {
    int64_t shape[CG_MAX_DIMS];
    int nd;
    if (cg_broadcast_shapes(a->shape, a->ndim, b->shape, b->ndim, shape, &nd)) return -1;
    if (!cg_shape_eq(shape, nd, a->shape, a->ndim)) {
        char b1[160], b2[160];
        cg_error_set(CG_ERR_RUNTIME, "output with shape %s doesn't match the broadcast shape %s",
                     cg_shape_str(a->shape, a->ndim, b1, sizeof b1), cg_shape_str(shape, nd, b2, sizeof b2));
        return -1;
    }
    return 0;
}

/* The node of an in-place op on a, made before a changes: edge 0 is a's old
 * history. SAVE_A saves a copy of a's old value. */
static cg_node *inplace_node(const cg_op *op, cg_tensor *a, cg_tensor *b, unsigned which) {
    cg_tensor *ins[2] = {a, b};
    cg_node *n = cg_node_new(op, ins, b ? 2 : 1, 1);
    cg_tensor *orig = n && (which & SAVE_A) ? cg_clone(a) : NULL;
    bool ok = n && (!(which & SAVE_A) || (orig && !cg_save(n, 0, orig, false))) &&
              (!(which & SAVE_B) || !cg_save(n, 1, b, false));
    cg_tensor_release(orig);
    if (!ok) {
        cg_node_release(n);
        return NULL;
    }
    return n;
}

/* a op= b, computed in the dtype a and b promote to (float32 a, float64 b: in
 * float64, then rounded once into a), with PyTorch's order of errors */
static cg_tensor *inplace(cg_binop op, const cg_op *node_op, cg_tensor *a, cg_tensor *b, unsigned which) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype common = op == CG_BIN_DIV ? div_dtype(a, b) : cg_result_type(a, b);
    cg_inplace ip;
    if (cg_inplace_begin(&ip, a, ins, 2)) return NULL;
    if (op == CG_BIN_SUB && check_sub_dtypes(a, b)) return cg_inplace_abort(&ip);
    if (check_inplace_shape(a, b) || check_inplace_dtype(a, b, common)) return cg_inplace_abort(&ip);
    bool own = common == a->dtype || !cg_dtype_is_floating(common);
    cg_loop loop = cg_binary_loop(op, own ? (cg_dtype)a->dtype : common);
    if (!loop) return cg_inplace_abort(&ip);
    if (ip.records && !(ip.node = inplace_node(node_op, a, b, which))) return cg_inplace_abort(&ip);
    if (!own) {
        cg_tensor *r = cg_binary_raw(op, a, b, common);
        bool ok = r && !cg_copy_data(a, r);
        cg_tensor_release(r);
        return ok ? cg_inplace_finish(&ip) : cg_inplace_abort(&ip);
    }
    cg_tensor *cb = cg_cast_raw(b, (cg_dtype)a->dtype);
    if (!cb) return cg_inplace_abort(&ip);
    cg_tensor *operands[2] = {a, cb};
    cg_run_loop(loop, a, operands, 2);
    cg_tensor_release(cb);
    return cg_inplace_finish(&ip);
}

cg_tensor *cg_add_(cg_tensor *a, cg_tensor *b) { return inplace(CG_BIN_ADD, &add_op, a, b, 0); }
cg_tensor *cg_sub_(cg_tensor *a, cg_tensor *b) { return inplace(CG_BIN_SUB, &sub_op, a, b, 0); }

/* a += alpha b (sub: -=), computed in the dtype a and b promote to, then
 * written into a: in place when that is a's own. */
static cg_tensor *scaled_add_(cg_tensor *a, cg_tensor *b, cg_tensor *alpha, bool sub) {
    cg_tensor *ins[2] = {a, b};
    cg_dtype common = cg_result_type(a, b);
    if (check_inplace_dtype(a, b, common) || check_inplace_shape(a, b)) return NULL;
    if ((sub && check_sub_dtypes(a, b)) || check_alpha(common, alpha)) return NULL;
    cg_inplace ip;
    if (cg_inplace_begin(&ip, a, ins, 2)) return NULL;
    if (ip.records && !(ip.node = inplace_node(sub ? &sub_alpha_op : &add_alpha_op, a, b, 0)))
        return cg_inplace_abort(&ip);
    keep_alpha(ip.node, alpha, sub);
    bool own = common == a->dtype && common != CG_BOOL;
    cg_tensor *r = scaled_add_raw(own ? a : NULL, a, b, alpha, sub, common);
    bool ok = r && (own || !cg_copy_data(a, r));
    cg_tensor_release(r);
    return ok ? cg_inplace_finish(&ip) : cg_inplace_abort(&ip);
}

cg_tensor *cg_add_alpha_(cg_tensor *a, cg_tensor *b, cg_tensor *alpha) { return scaled_add_(a, b, alpha, false); }
cg_tensor *cg_sub_alpha_(cg_tensor *a, cg_tensor *b, cg_tensor *alpha) { return scaled_add_(a, b, alpha, true); }

cg_tensor *cg_mul_(cg_tensor *a, cg_tensor *b) {
    unsigned which = (b->requires_grad ? SAVE_A : 0) | (a->requires_grad ? SAVE_B : 0);
    return inplace(CG_BIN_MUL, &mul_op, a, b, which);
}

cg_tensor *cg_div_(cg_tensor *a, cg_tensor *b) {
    unsigned which = (b->requires_grad ? SAVE_A | SAVE_B : 0) | (a->requires_grad ? SAVE_B : 0);
    return inplace(CG_BIN_DIV, &div_op, a, b, which);
}

/* Overwritten values pass no gradient back: zeros for the old history. */
static int overwrite_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)gout;
    if (cg_wants(n, 0) &&
        !(gin[0] = cg_zeros(n->in_shape[0].d, n->in_shape[0].ndim, (cg_dtype)n->in_dtype[0])))
        return -1;
    if (n->n_next > 1 && cg_wants(n, 1)) { /* copy_: d(dst)/d(src) = 1, summed to src's shape */
        cg_tensor_retain(gout[0]);
        if (!(gin[1] = cg_reduce_grad(n, 1, gout[0]))) return -1;
    }
    return 0;
}
static const cg_op fill_op = {"FillBackward2", overwrite_backward, .no_ints = true};
static const cg_op fill_tensor_op = {"FillBackward3", overwrite_backward, .no_ints = true}; /* the value's sum */
static const cg_op zero_op = {"ZeroBackward0", overwrite_backward, .no_ints = true};
static const cg_op copy_op = {"CopyBackwards", overwrite_backward, .no_ints = true};

static cg_tensor *fill_inplace(const cg_op *op, cg_tensor *a, double value) {
    cg_inplace ip;
    if (cg_inplace_begin_fill(&ip, a, &a, 1)) return NULL;
    if (ip.records && !(ip.node = inplace_node(op, a, NULL, 0))) return cg_inplace_abort(&ip);
    cg_fill_raw(a, value);
    return cg_inplace_finish(&ip);
}

cg_tensor *cg_zero_(cg_tensor *a) { return fill_inplace(&zero_op, a, 0.0); }
cg_tensor *cg_fill_(cg_tensor *a, double value) { return fill_inplace(&fill_op, a, value); }

/* t = {a, value (one element)}: a filled with value, read when it runs (a
 * replayed step reads the value of that step), before the write (value may
 * be one of a's elements). */
static int fill_from_kernel(const cg_kargs *k) {
    cg_fill_raw(k->t[0], cg_tensor_item(k->t[1]));
    return 0;
}

cg_tensor *cg_fill_tensor_(cg_tensor *a, cg_tensor *value) {
    if (value->ndim != 0) {
        cg_error_set(CG_ERR_RUNTIME, "fill_ only supports 0-dimension value tensor but got tensor with %d dimensions.",
                     value->ndim);
        return NULL;
    }
    cg_tensor *ins[2] = {a, value};
    cg_inplace ip;
    if (cg_inplace_begin_fill(&ip, a, ins, 2)) return NULL;
    if (ip.records && !(ip.node = inplace_node(&fill_tensor_op, a, value, 0))) return cg_inplace_abort(&ip);
    if (cg_kernel(fill_from_kernel, &(cg_kargs){.name = "fill_", .t = {a, value}, .nw = 1})) return cg_inplace_abort(&ip);
    return cg_inplace_finish(&ip);
}

cg_tensor *cg_copy_(cg_tensor *dst, cg_tensor *src) {
    cg_tensor *ins[2] = {dst, src};
    cg_inplace ip;
    if (check_inplace_shape(dst, src) || cg_inplace_begin(&ip, dst, ins, 2)) return NULL;
    if (ip.records && !(ip.node = inplace_node(&copy_op, dst, src, 0))) return cg_inplace_abort(&ip);
    if (cg_copy_data(dst, src)) return cg_inplace_abort(&ip);
    return cg_inplace_finish(&ip);
}
