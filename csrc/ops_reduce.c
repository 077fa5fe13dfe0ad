/* ops_reduce.c -- reductions over dimensions: forward and backward.
 *
 * Value reductions (sum, prod, amax, amin) run one kernel over the input with
 * the output seen in the input's shape, stride 0 along the reduced dims: the
 * inner loop either folds a run into one output element or folds a whole
 * row into a row of outputs. Reductions that also give indices (max/min
 * along a dim, argmax, argmin) see the input as [outer, len, inner] and keep
 * the first best element of every slice. Composite reductions (mean, var,
 * std, logsumexp, norm) chain raw kernels in the forward pass; every backward
 * formula is written with the differentiable ops, so create_graph works.
 */
#include <math.h>

#include "internal.h"

CG_NO_FP_CONTRACT /* no fused products: VECTOR_CLONES */

/* ---- planning ------------------------------------------------------------------ */

/* Bit d of the result: dimension d is reduced. No dims: all of them. */
static int reduce_mask(const cg_tensor *a, const int64_t *dims, int ndims, uint32_t *mask) {
    *mask = 0;
    if (!dims || ndims == 0) {
        *mask = a->ndim ? (1u << a->ndim) - 1 : 0;
        return 0;
    }
    bool seen0 = false; /* dim 0 / -1 of a 0-d tensor is itself, named at most once */
    for (int k = 0; k < ndims; k++) {
        int64_t d;
        if (cg_wrap_dim(dims[k], a->ndim, &d)) return -1;
        if (a->ndim == 0 ? seen0 : (*mask & (1u << d)) != 0) {
            cg_error_set(CG_ERR_RUNTIME, "dim %lld appears multiple times in the list of dims", (long long)d);
            return -1;
        }
        if (a->ndim == 0) seen0 = true;
        else *mask |= 1u << d;
    }
    return 0;
}

/* Output shape of a reduction, with or without the reduced dims. */
static int reduced_shape(const int64_t *in, int ndim, uint32_t mask, bool keepdim, int64_t *shape) {
    int nd = 0;
    for (int d = 0; d < ndim; d++) {
        if (!(mask & (1u << d)))
            shape[nd++] = in[d];
        else if (keepdim)
            shape[nd++] = 1;
    }
    return nd;
}

/* How many input elements fold into one output element. */
static double reduced_count(const cg_tensor *a, uint32_t mask) {
    double count = 1;
    for (int d = 0; d < a->ndim; d++)
        if (mask & (1u << d)) count *= (double)a->shape[d];
    return count;
}

/* The reduced dims as a list; returns how many. */
static int mask_dims(uint32_t mask, int ndim, int64_t *dims) {
    int n = 0;
    for (int d = 0; d < ndim; d++)
        if (mask & (1u << d)) dims[n++] = d;
    return n;
}

static int64_t size_at(const cg_tensor *t, int64_t d) { return t->ndim ? t->shape[d] : 1; }

/* a itself when contiguous, else a contiguous copy (no autograd). */
static cg_tensor *contiguous_raw(cg_tensor *a) {
    if (cg_tensor_is_contiguous(a)) {
        cg_tensor_retain(a);
        return a;
    }
    cg_tensor *c = cg_empty_like(a);
    if (c) cg_copy_data(c, a);
    return c;
}

/* ---- temporaries of a formula -------------------------------------------------------- */

/* Tensors made along a formula, released together. T(expr) evaluates expr
 * only while every earlier step succeeded, so a formula reads as a list of
 * steps with one error check at its end (scope_end). */
typedef struct scope {
    cg_tensor *t[24];
    int n;
    bool failed;
} scope;

static cg_tensor *scope_add(scope *s, cg_tensor *t) {
    if (!t || s->n == 24) {
        s->failed = true;
        cg_tensor_release(t);
        return NULL;
    }
    return s->t[s->n++] = t;
}
#define T(expr) (S.failed ? NULL : scope_add(&S, (expr)))

/* result (a new reference, or NULL) once the temporaries are released. */
static cg_tensor *scope_end(scope *s, cg_tensor *result) {
    if (s->failed) result = NULL;
    if (result) cg_tensor_retain(result);
    for (int k = 0; k < s->n; k++) cg_tensor_release(s->t[k]);
    return result;
}

static cg_tensor *num(double v, cg_tensor *like) { return cg_scalar_tensor(v, CG_FLOAT64, like); }

/* ---- raw element-wise helpers (constants of the backward formulas) ------------------ */

typedef enum { MAP_ABS, MAP_SGN, MAP_FINITE_OR_ZERO, NUM_MAPS } map_op;
typedef enum { CMP_EQ, CMP_EQ_NAN, CMP_EQ_OR_NAN, CMP_NE, NUM_CMPS } cmp_op;

#define MAP_LOOP(NAME, T, EXPR)                                                              \
    static void NAME(int64_t n, char **d, const int64_t *s) {                                \
        T *o = (T *)d[0];                                                                    \
        const T *x = (const T *)d[1];                                                        \
        for (int64_t i = 0; i < n; i++) { T a = x[i * s[1]]; o[i * s[0]] = (EXPR); }         \
    }
#define CMP_LOOP(NAME, T, EXPR)                                                              \
    static void NAME(int64_t n, char **d, const int64_t *s) {                                \
        uint8_t *o = (uint8_t *)d[0];                                                        \
        const T *x = (const T *)d[1], *y = (const T *)d[2];                                  \
        for (int64_t i = 0; i < n; i++) { T a = x[i * s[1]], b = y[i * s[2]]; o[i * s[0]] = (EXPR); } \
    }
#define FLOAT_LOOPS(MAKER, NAME, EXPR) MAKER(NAME##_f32, float, EXPR) MAKER(NAME##_f64, double, EXPR)
FLOAT_LOOPS(MAP_LOOP, map_abs, a < 0 ? -a : a)
FLOAT_LOOPS(MAP_LOOP, map_sgn, (a > 0) - (a < 0))
FLOAT_LOOPS(MAP_LOOP, map_finite, isinf(a) ? 0 : a)
FLOAT_LOOPS(CMP_LOOP, cmp_eq, a == b)
FLOAT_LOOPS(CMP_LOOP, cmp_eq_nan, a == b || (a != a && b != b))
FLOAT_LOOPS(CMP_LOOP, cmp_eq_or_nan, a == b || a != a)
FLOAT_LOOPS(CMP_LOOP, cmp_ne, a != b)

static const cg_loop map_loops[NUM_MAPS][2] = {
    {map_abs_f32, map_abs_f64}, {map_sgn_f32, map_sgn_f64}, {map_finite_f32, map_finite_f64}};
static const cg_loop cmp_loops[NUM_CMPS][2] = {{cmp_eq_f32, cmp_eq_f64},
                                               {cmp_eq_nan_f32, cmp_eq_nan_f64},
                                               {cmp_eq_or_nan_f32, cmp_eq_or_nan_f64},
                                               {cmp_ne_f32, cmp_ne_f64}};

/* op(a) for a floating a, no autograd. */
static cg_tensor *map_raw(map_op op, cg_tensor *a) {
    cg_tensor *out = cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype);
    if (out) cg_run_loop(map_loops[op][a->dtype], out, &a, 1);
    return out;
}

/* a op b as a bool tensor (broadcasting; b cast to a's floating dtype), no autograd. */
static cg_tensor *cmp_raw(cmp_op op, cg_tensor *a, cg_tensor *b) {
    int64_t shape[CG_MAX_DIMS];
    int nd;
    if (cg_broadcast_shapes(a->shape, a->ndim, b->shape, b->ndim, shape, &nd)) return NULL;
    cg_tensor *cb = cg_cast_raw(b, (cg_dtype)a->dtype);
    cg_tensor *out = cb ? cg_empty(shape, nd, CG_BOOL) : NULL;
    if (out) {
        cg_tensor *ins[2] = {a, cb};
        cg_run_loop(cmp_loops[op][a->dtype], out, ins, 2);
    }
    cg_tensor_release(cb);
    return out;
}

/* a op number, as a bool tensor. */
static cg_tensor *cmp_num(cmp_op op, cg_tensor *a, double v) {
    cg_tensor *s = num(v, a);
    cg_tensor *r = s ? cmp_raw(op, a, s) : NULL;
    cg_tensor_release(s);
    return r;
}

/* Whether any element of a bool tensor is set. */
static bool any_raw(cg_tensor *m) {
    if (CG_RECORDING()) cg_tape_break("the gradient of prod depends on whether its input holds zeros");
    cg_tensor *c = contiguous_raw(m);
    bool any = false;
    const uint8_t *p = c ? (const uint8_t *)cg_ptr(c) : NULL;
    for (int64_t i = 0; p && i < c->numel && !any; i++) any = p[i] != 0;
    cg_tensor_release(c);
    return any;
}

/* ---- value reductions ------------------------------------------------------------ */

typedef enum { RED_SUM, RED_PROD, RED_MAX, RED_MIN, NUM_REDS } red_op;

/* Pairwise summation of n elements at stride s: error grows with log n. */
#define PAIRWISE(NAME, T)                                                                    \
    static T NAME(const T *x, int64_t n, int64_t s) {                                        \
        if (n <= 64) {                                                                       \
            T acc[8] = {0};                                                                  \
            int64_t i = 0;                                                                   \
            if (s == 1) /* the same sums, in vectors */                                      \
                for (; i + 8 <= n; i += 8)                                                   \
                    for (int k = 0; k < 8; k++) acc[k] += x[i + k];                          \
            for (; i + 8 <= n; i += 8)                                                       \
                for (int k = 0; k < 8; k++) acc[k] += x[(i + k) * s];                        \
            T r = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])); \
            for (; i < n; i++) r += x[i * s];                                                \
            return r;                                                                        \
        }                                                                                    \
        int64_t half = (n / 2 + 7) & ~(int64_t)7;                                            \
        return NAME(x, half, s) + NAME(x + half * s, n - half, s);                           \
    }
PAIRWISE(pairwise_f32, float)
PAIRWISE(pairwise_f64, double)
#define PLAIN_ADD(a, b) ((a) + (b))
static int64_t pairwise_i64(const int64_t *x, int64_t n, int64_t s) { /* wraps, as PyTorch's */
    int64_t r = 0;
    for (int64_t i = 0; i < n; i++) r = cg_wrap_add(r, x[i * s]);
    return r;
}

/* out (stride 0 along reduced dims) += x: a row-sum when the inner dim is
 * reduced, a vector accumulation otherwise. */
#define SUM_LOOP(NAME, T, PAIR, ADD)                                                         \
    VECTOR_CLONES static void NAME(int64_t n, char **d, const int64_t *s) {                  \
        T *o = (T *)d[0];                                                                    \
        const T *x = (const T *)d[1];                                                        \
        if (s[0] == 0) {                                                                     \
            *o = ADD(*o, PAIR(x, n, s[1]));                                                  \
        } else if (s[0] == 1 && s[1] == 1) {                                                 \
            for (int64_t i = 0; i < n; i++) o[i] = ADD(o[i], x[i]);                          \
        } else {                                                                             \
            for (int64_t i = 0; i < n; i++) o[i * s[0]] = ADD(o[i * s[0]], x[i * s[1]]);     \
        }                                                                                    \
    }
SUM_LOOP(sum_f32, float, pairwise_f32, PLAIN_ADD)
SUM_LOOP(sum_f64, double, pairwise_f64, PLAIN_ADD)
SUM_LOOP(sum_i64, int64_t, pairwise_i64, cg_wrap_add)

/* out = C(out, x), folding runs (s[0] == 0) or rows; NaN wins max and min. */
#define FOLD_LOOP(NAME, T, C)                                                                \
    static void NAME(int64_t n, char **d, const int64_t *s) {                                \
        T *o = (T *)d[0];                                                                    \
        const T *x = (const T *)d[1];                                                        \
        if (s[0] == 0) {                                                                     \
            T acc = *o;                                                                      \
            for (int64_t i = 0; i < n; i++) acc = C(acc, x[i * s[1]]);                       \
            *o = acc;                                                                        \
        } else if (s[0] == 1 && s[1] == 1) {                                                 \
            for (int64_t i = 0; i < n; i++) o[i] = C(o[i], x[i]);                            \
        } else {                                                                             \
            for (int64_t i = 0; i < n; i++) o[i * s[0]] = C(o[i * s[0]], x[i * s[1]]);       \
        }                                                                                    \
    }
#define MUL_C(a, b) ((a) * (b))
#define FMAX_C(a, b) ((b) > (a) || (b) != (b) ? (b) : (a))
#define FMIN_C(a, b) ((b) < (a) || (b) != (b) ? (b) : (a))
#define IMAX_C(a, b) ((b) > (a) ? (b) : (a))
#define IMIN_C(a, b) ((b) < (a) ? (b) : (a))
FOLD_LOOP(prod_f32, float, MUL_C)
FOLD_LOOP(prod_f64, double, MUL_C)
FOLD_LOOP(prod_i64, int64_t, cg_wrap_mul)
FOLD_LOOP(max_f32, float, FMAX_C)
FOLD_LOOP(max_f64, double, FMAX_C)
FOLD_LOOP(max_i64, int64_t, IMAX_C)
FOLD_LOOP(max_b8, uint8_t, IMAX_C)
FOLD_LOOP(min_f32, float, FMIN_C)
FOLD_LOOP(min_f64, double, FMIN_C)
FOLD_LOOP(min_i64, int64_t, IMIN_C)
FOLD_LOOP(min_b8, uint8_t, IMIN_C)

static const cg_loop fold_loops[NUM_REDS][CG_NUM_DTYPES] = {
    [RED_SUM] = {sum_f32, sum_f64, sum_i64, NULL},
    [RED_PROD] = {prod_f32, prod_f64, prod_i64, NULL},
    [RED_MAX] = {max_f32, max_f64, max_i64, max_b8},
    [RED_MIN] = {min_f32, min_f64, min_i64, min_b8},
};

/* The column sums of a dense rows x n block: a bias's gradient, a batch
 * summed over its first dims. The same sums as the loop over rows (from 0,
 * a row at a time), but the loop's set-up for each row of a few dozen
 * elements cost as much as its adds: the columns are summed a block at a
 * time, held in vector registers down the rows of a chunk of x that stays
 * in cache (16 KB), then down the next chunk's. */
#define COLUMN_SUMS(NAME, T)                                                                 \
    VECTOR_CLONES static void NAME(T *restrict o, const T *restrict x, int64_t rows, int64_t n) { \
        enum { B = 128 / sizeof(T) };                                                        \
        int64_t chunk = (int64_t)(16384 / sizeof(T)) / n;                                    \
        if (chunk < 1) chunk = 1;                                                            \
        for (int64_t c = 0; c < n; c++) o[c] = 0;                                            \
        for (int64_t r0 = 0; r0 < rows; r0 += chunk) {                                       \
            int64_t r1 = rows - r0 > chunk ? r0 + chunk : rows, j = 0;                       \
            for (; j + B <= n; j += B) {                                                     \
                T acc[B];                                                                    \
                for (int c = 0; c < B; c++) acc[c] = o[j + c];                               \
                for (int64_t r = r0; r < r1; r++)                                            \
                    for (int c = 0; c < B; c++) acc[c] += x[r * n + j + c];                  \
                for (int c = 0; c < B; c++) o[j + c] = acc[c];                               \
            }                                                                                \
            for (int64_t r = r0; r < r1 && j < n; r++)                                       \
                for (int64_t c = j; c < n; c++) o[c] += x[r * n + c];                        \
        }                                                                                    \
    }
COLUMN_SUMS(column_sums_f32, float)
COLUMN_SUMS(column_sums_f64, double)

/* t = {out (n), x (dense, rows x n)} */
static int column_sums_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *x = k->t[1];
    int64_t n = out->numel, rows = x->numel / n;
    if (x->dtype == CG_FLOAT64)
        column_sums_f64((double *)cg_ptr(out), (const double *)cg_ptr(x), rows, n);
    else
        column_sums_f32((float *)cg_ptr(out), (const float *)cg_ptr(x), rows, n);
    return 0;
}

/* Whether a sum over mask is a dense a's column sums: the leading dims
 * reduced, the rest kept, more than one row and column, and rows of at most
 * 4 KB (longer ones lose nothing to the loop's set-up, and go as fast there). */
static bool sums_columns(const cg_tensor *a, uint32_t mask) {
    if (!cg_dtype_is_floating((cg_dtype)a->dtype) || !cg_tensor_is_contiguous(a) || a->ndim < 2) return false;
    int lead = 0;
    while (lead < a->ndim && (mask >> lead) & 1u) lead++;
    if (lead == 0 || lead == a->ndim || mask >> lead) return false;
    int64_t rows = 1;
    for (int d = 0; d < lead; d++) rows *= a->shape[d];
    if (rows < 2) return false;
    int64_t n = a->numel / rows;
    return n > 1 && n * cg_dtype_size((cg_dtype)a->dtype) <= 4096;
}

/* out (fresh, contiguous) = the identity of op. */
static void fill_identity(cg_tensor *out, red_op op) {
    bool big = op == RED_MIN;
    if (op == RED_SUM) {
        memset(cg_ptr(out), 0, (size_t)(out->numel * cg_dtype_size((cg_dtype)out->dtype)));
    } else if (op == RED_PROD) {
        cg_fill_raw(out, 1.0);
    } else if (out->dtype == CG_INT64) {
        int64_t *p = (int64_t *)cg_ptr(out);
        for (int64_t i = 0; i < out->numel; i++) p[i] = big ? INT64_MAX : INT64_MIN;
    } else {
        cg_fill_raw(out, out->dtype == CG_BOOL ? big : big ? INFINITY : -INFINITY);
    }
}

static int identity_kernel(const cg_kargs *k) {
    fill_identity(k->t[0], (red_op)k->i[0]);
    return 0;
}

/* op of a over the masked dims, as a new tensor (no autograd). Sums and
 * products of integers and bools are int64. */
static cg_tensor *reduce_raw(red_op op, cg_tensor *a, uint32_t mask, bool keepdim) {
    bool widen = (op == RED_SUM || op == RED_PROD) && !cg_dtype_is_floating((cg_dtype)a->dtype);
    cg_dtype dtype = widen ? CG_INT64 : (cg_dtype)a->dtype;
    int64_t shape[CG_MAX_DIMS], kshape[CG_MAX_DIMS];
    int nd = reduced_shape(a->shape, a->ndim, mask, keepdim, shape);
    reduced_shape(a->shape, a->ndim, mask, true, kshape);
    cg_tensor *src = cg_cast_raw(a, dtype);
    cg_tensor *out = src ? cg_empty(shape, nd, dtype) : NULL;
    if (out && op == RED_SUM && sums_columns(src, mask)) {
        cg_kernel(column_sums_kernel, &(cg_kargs){.name = "a sum", .t = {out, src}, .nw = 1});
        cg_tensor_release(src);
        return out;
    }
    cg_tensor *kview = out ? cg_tensor_make(out->storage, dtype, kshape, NULL, a->ndim, 0) : NULL;
    if (kview) {
        cg_kernel(identity_kernel, &(cg_kargs){.name = "a reduction's start", .t = {out}, .nw = 1, .i = {op}});
        cg_tensor *ops[2] = {kview, src};
        cg_run_iter(fold_loops[op][dtype], ops, 2, 1);
    } else {
        cg_tensor_release(out);
        out = NULL;
    }
    cg_tensor_release(kview);
    cg_tensor_release(src);
    return out;
}

static cg_tensor *sum_raw(cg_tensor *a, uint32_t mask, bool keepdim) { return reduce_raw(RED_SUM, a, mask, keepdim); }

/* ---- reductions with indices ------------------------------------------------------- */

typedef enum { ARG_MAX, ARG_MIN } arg_op;
typedef void (*arg_kernel)(const void *x, int64_t outer, int64_t len, int64_t inner, void *val, int64_t *idx);

/* x seen as [outer, len, inner]: val/idx [outer, inner] get the first best
 * element of each slice along len and its position. */
#define ARG_KERNEL(NAME, T, BETTER)                                                          \
    static void NAME(const void *xv, int64_t outer, int64_t len, int64_t inner, void *vv, int64_t *idx) { \
        const T *x = (const T *)xv;                                                          \
        T *val = (T *)vv;                                                                    \
        for (int64_t o = 0; o < outer; o++, x += len * inner, val += inner, idx += inner) {  \
            for (int64_t i = 0; i < inner; i++) {                                            \
                val[i] = x[i];                                                               \
                idx[i] = 0;                                                                  \
            }                                                                                \
            for (int64_t l = 1; l < len; l++) {                                              \
                const T *r = x + l * inner;                                                  \
                for (int64_t i = 0; i < inner; i++)                                          \
                    if (BETTER(r[i], val[i])) {                                              \
                        val[i] = r[i];                                                       \
                        idx[i] = l;                                                          \
                    }                                                                        \
            }                                                                                \
        }                                                                                    \
    }
#define FGT(a, b) ((a) > (b) || ((a) != (a) && (b) == (b)))
#define FLT(a, b) ((a) < (b) || ((a) != (a) && (b) == (b)))
#define IGT(a, b) ((a) > (b))
#define ILT(a, b) ((a) < (b))
ARG_KERNEL(argmax_f32, float, FGT)
ARG_KERNEL(argmax_f64, double, FGT)
ARG_KERNEL(argmax_i64, int64_t, IGT)
ARG_KERNEL(argmax_b8, uint8_t, IGT)
ARG_KERNEL(argmin_f32, float, FLT)
ARG_KERNEL(argmin_f64, double, FLT)
ARG_KERNEL(argmin_i64, int64_t, ILT)
ARG_KERNEL(argmin_b8, uint8_t, ILT)
static const arg_kernel arg_kernels[2][CG_NUM_DTYPES] = {
    {argmax_f32, argmax_f64, argmax_i64, argmax_b8},
    {argmin_f32, argmin_f64, argmin_i64, argmin_b8},
};

/* t = {values, indices, contiguous input}, i = {op, outer, len, inner} */
static int arg_kernel_run(const cg_kargs *k) {
    arg_kernels[k->i[0]][k->t[2]->dtype](cg_ptr(k->t[2]), k->i[1], k->i[2], k->i[3], cg_ptr(k->t[0]),
                                         (int64_t *)cg_ptr(k->t[1]));
    return 0;
}

/* The shape of a result along dim of a (dim < 0: over all of a, flattened),
 * as its number of dims, and a's sizes before dim, after it, and along it. */
static int along_dim(const cg_tensor *a, int64_t dim, bool keepdim, int64_t *shape, int64_t *outer, int64_t *inner,
                     int64_t *len) {
    int nd = 0;
    *outer = *inner = 1;
    *len = dim < 0 ? a->numel : size_at(a, dim);
    for (int d = 0; d < a->ndim; d++) {
        if (dim >= 0 && d != dim) shape[nd++] = a->shape[d];
        else if (keepdim) shape[nd++] = 1;
        if (dim >= 0 && d < dim) *outer *= a->shape[d];
        if (dim >= 0 && d > dim) *inner *= a->shape[d];
    }
    return nd;
}

/* Best values and their indices along dim (dim < 0: over all of a, flattened). */
static int arg_raw(arg_op op, cg_tensor *a, int64_t dim, bool keepdim, cg_tensor **values, cg_tensor **indices) {
    int64_t shape[CG_MAX_DIMS], outer, inner, len;
    int nd = along_dim(a, dim, keepdim, shape, &outer, &inner, &len);
    cg_tensor *c = contiguous_raw(a);
    *values = c ? cg_empty(shape, nd, (cg_dtype)a->dtype) : NULL;
    *indices = *values ? cg_empty(shape, nd, CG_INT64) : NULL;
    if (*indices)
        cg_kernel(arg_kernel_run, &(cg_kargs){.name = "an arg-reduction", .t = {*values, *indices, c}, .nw = 2,
                                             .i = {op, outer, len, inner}});
    cg_tensor_release(c);
    if (*indices) return 0;
    cg_tensor_release(*values);
    return -1;
}

/* ---- recording and the shared parts of backward ------------------------------------- */

#define SAVE_IN 1u
#define SAVE_OUT 2u

/* out with a node for op over a: i[0] the reduced dims, i[1] keepdim, i[2]
 * whether dims were given, f[0] an op scalar, f[1] the reduced count; a in
 * slot 0 and out in slot 1 when `save` says so. */
static cg_tensor *record(const cg_op *op, cg_tensor *out, cg_tensor *a, uint32_t mask, bool keepdim, bool dims,
                         double f, unsigned save) {
    if (!out || !cg_any_requires_grad(&a, 1)) return out;
    cg_node *n = cg_node_new(op, &a, 1, 1);
    if (!n || ((save & SAVE_IN) && cg_save(n, 0, a, false)) || ((save & SAVE_OUT) && cg_save(n, 1, out, true))) {
        cg_node_release(n);
        cg_tensor_release(out);
        return NULL;
    }
    n->i[0] = mask;
    n->i[1] = keepdim;
    n->i[2] = dims;
    n->f[0] = f;
    n->f[1] = reduced_count(a, mask);
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* The input's shape with the reduced dims kept as 1. */
static int keep_shape(const cg_node *n, int64_t *kshape) {
    const cg_shape *in = &n->in_shape[0];
    return reduced_shape(in->d, in->ndim, (uint32_t)n->i[0], true, kshape);
}

/* t (a result-shaped tensor) reshaped to keep the reduced dims, differentiably. */
static cg_tensor *to_keep(const cg_node *n, cg_tensor *t) {
    int64_t kshape[CG_MAX_DIMS];
    int nd = keep_shape(n, kshape);
    if (n->i[1] || cg_shape_eq(t->shape, t->ndim, kshape, nd)) {
        cg_tensor_retain(t);
        return t;
    }
    return cg_reshape(t, kshape, nd);
}

/* The gradient of a reduction, broadcast back over the input's shape. */
static cg_tensor *expand_back(cg_node *n, cg_tensor *g) {
    const cg_shape *in = &n->in_shape[0];
    cg_tensor *u = to_keep(n, g);
    cg_tensor *e = u ? cg_expand(u, in->d, in->ndim) : NULL;
    cg_tensor_release(u);
    return e;
}

static cg_tensor *unpack_keep_raw(cg_node *n, int slot) {
    int64_t kshape[CG_MAX_DIMS];
    int nd = keep_shape(n, kshape);
    cg_tensor *t = cg_unpack(n, slot);
    cg_tensor *v = t ? cg_view_raw(t, kshape, nd) : NULL;
    cg_tensor_release(t);
    return v;
}

/* ---- sum and mean ------------------------------------------------------------------ */

static int sum_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(sum a)/da = 1 for every element */
    return (gin[0] = expand_back(n, gout[0])) ? 0 : -1;
}
static const cg_op sum_all_op = {"SumBackward0", sum_backward, NULL};
static const cg_op sum_dim_op = {"SumBackward1", sum_backward, NULL};

static int mean_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(mean a)/da = 1/count for every element */
    cg_tensor *e = expand_back(n, gout[0]);
    cg_tensor *c = e ? num(n->f[1], e) : NULL;
    gin[0] = c ? cg_div(e, c) : NULL;
    cg_tensor_release(e);
    cg_tensor_release(c);
    return gin[0] ? 0 : -1;
}
static const cg_op mean_all_op = {"MeanBackward0", mean_backward, NULL};
static const cg_op mean_dim_op = {"MeanBackward1", mean_backward, NULL};

cg_tensor *cg_sum(cg_tensor *a, const int64_t *dims, int ndims, int keepdim) {
    uint32_t mask;
    if (reduce_mask(a, dims, ndims, &mask)) return NULL;
    const cg_op *op = dims ? &sum_dim_op : &sum_all_op;
    return record(op, sum_raw(a, mask, keepdim), a, mask, keepdim, dims != NULL, 0, 0);
}

static cg_tensor *mean_raw(cg_tensor *a, uint32_t mask, bool keepdim) {
    cg_tensor *s = sum_raw(a, mask, keepdim);
    cg_tensor *c = s ? num(reduced_count(a, mask), s) : NULL;
    cg_tensor *out = c ? cg_binary_raw(CG_BIN_DIV, s, c, (cg_dtype)s->dtype) : NULL;
    cg_tensor_release(s);
    cg_tensor_release(c);
    return out;
}

cg_tensor *cg_mean(cg_tensor *a, const int64_t *dims, int ndims, int keepdim) {
    if (!cg_dtype_is_floating((cg_dtype)a->dtype)) {
        cg_error_set(CG_ERR_RUNTIME,
                     "mean(): could not infer output dtype. Input dtype must be either a floating point or "
                     "complex dtype. Got: %s", cg_dtype_torch_name((cg_dtype)a->dtype));
        return NULL;
    }
    uint32_t mask;
    if (reduce_mask(a, dims, ndims, &mask)) return NULL;
    const cg_op *op = dims ? &mean_dim_op : &mean_all_op;
    return record(op, mean_raw(a, mask, keepdim), a, mask, keepdim, dims != NULL, 0, 0);
}

/* ---- nansum ---------------------------------------------------------------------------- */

static int nansum_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(nansum a)/da = [a is not NaN]: a product, so an infinite g gives NaN
     * at the NaNs, as PyTorch's */
    cg_tensor *a = cg_unpack(n, 0), *e = a ? expand_back(n, gout[0]) : NULL;
    cg_tensor *nan = e ? cg_isnan(a) : NULL, *number = nan ? cg_logical_not(nan) : NULL;
    gin[0] = number ? cg_mul(e, number) : NULL;
    cg_tensor *tmp[4] = {a, e, nan, number};
    for (int k = 0; k < 4; k++) cg_tensor_release(tmp[k]);
    return gin[0] ? 0 : -1;
}
static const cg_op nansum_op = {"NansumBackward0", nansum_backward, NULL};

/* The sum of a's elements that are not NaN: a with its NaNs made 0, summed. */
static cg_tensor *nansum_raw(cg_tensor *a, uint32_t mask, bool keepdim) {
    int on = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    cg_tensor *nan = cg_isnan(a), *zero = nan ? num(0.0, a) : NULL;
    cg_tensor *numbers = zero ? cg_where(nan, zero, a) : NULL;
    cg_set_grad_enabled(on);
    cg_tensor *out = numbers ? sum_raw(numbers, mask, keepdim) : NULL;
    cg_tensor *tmp[3] = {nan, zero, numbers};
    for (int k = 0; k < 3; k++) cg_tensor_release(tmp[k]);
    return out;
}

cg_tensor *cg_nansum(cg_tensor *a, const int64_t *dims, int ndims, int keepdim) {
    if (!cg_dtype_is_floating((cg_dtype)a->dtype)) return cg_sum(a, dims, ndims, keepdim);
    uint32_t mask;
    if (reduce_mask(a, dims, ndims, &mask)) return NULL;
    return record(&nansum_op, nansum_raw(a, mask, keepdim), a, mask, keepdim, dims != NULL, 0, SAVE_IN);
}

cg_tensor *cg_sum_to(cg_tensor *a, const int64_t *shape, int ndim) {
    int lead = a->ndim - ndim;
    if (lead < 0) {
        cg_error_set(CG_ERR_RUNTIME, "sum_to: cannot sum a %d-d tensor to %d dimensions", a->ndim, ndim);
        return NULL;
    }
    int64_t dims[CG_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < a->ndim; d++)
        if (d < lead || (shape[d - lead] == 1 && a->shape[d] != 1)) dims[nd++] = d;
    if (nd == 0 && lead == 0) {
        cg_tensor_retain(a);
        return a;
    }
    cg_tensor *s = nd ? cg_sum(a, dims, nd, 1) : a;
    if (!nd) cg_tensor_retain(a);
    if (!s) return NULL;
    cg_tensor *r = cg_reshape(s, shape, ndim);
    cg_tensor_release(s);
    return r;
}

/* ---- prod ----------------------------------------------------------------------------- */

/* prod_{j != i} a_j along the reduced dims when a has zeros. With y = a where
 * the zeros are 1 and Q = prod(y), it is Q / y_i times the product of the
 * slice's other zeros: 1 when there are none, the one other zero itself when
 * there is exactly one (0, but its derivative counts), else 0. Exact to first
 * order, so second derivatives are right too. */
static cg_tensor *prod_others(cg_node *n, cg_tensor *a, cg_tensor *zero) {
    scope S = {0};
    int64_t dims[CG_MAX_DIMS];
    int nd = mask_dims((uint32_t)n->i[0], a->ndim, dims);
    cg_dtype dt = (cg_dtype)a->dtype;
    cg_tensor *zf = T(cg_cast_raw(zero, dt));
    cg_tensor *nz = T(sum_raw(zf, (uint32_t)n->i[0], true));
    cg_tensor *others = T(cg_binary_raw(CG_BIN_SUB, nz, zf, dt)); /* zeros in the slice besides a_i */
    cg_tensor *none_b = T(cmp_num(CMP_EQ, others, 0.0));
    cg_tensor *one_b = T(cmp_num(CMP_EQ, others, 1.0));
    cg_tensor *none = T(cg_cast_raw(none_b, dt));
    cg_tensor *one = T(cg_cast_raw(one_b, dt));
    cg_tensor *c1 = T(num(1.0, a));
    cg_tensor *y = T(cg_masked_fill(a, zero, c1));
    cg_tensor *py = T(cg_prod(y, dims, nd, 1));
    cg_tensor *q = T(cg_div(py, y));
    cg_tensor *az = T(cg_mul(a, zf));
    cg_tensor *sz = T(cg_sum(az, dims, nd, 1));
    cg_tensor *other_zero = T(cg_sub(sz, az));
    cg_tensor *oz = T(cg_mul(one, other_zero));
    cg_tensor *zeros_prod = T(cg_add(none, oz));
    return scope_end(&S, T(cg_mul(q, zeros_prod)));
}

static int prod_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d/da_i prod(a) = prod_{j != i} a_j, which is prod(a) / a_i when no a_j is 0 */
    if (n->in_shape[0].ndim == 0) {
        cg_tensor_retain(gin[0] = gout[0]);
        return 0;
    }
    scope S = {0};
    cg_tensor *a = T(cg_unpack(n, 0));
    cg_tensor *zero = T(cmp_num(CMP_EQ, a, 0.0));
    cg_tensor *gk = T(to_keep(n, gout[0]));
    cg_tensor *others = NULL;
    if (!S.failed && any_raw(zero)) {
        others = T(prod_others(n, a, zero));
    } else {
        cg_tensor *r = T(cg_unpack(n, 1));
        cg_tensor *rk = T(to_keep(n, r));
        others = T(cg_div(rk, a));
    }
    return (gin[0] = scope_end(&S, T(cg_mul(gk, others)))) ? 0 : -1;
}
static const cg_op prod_all_op = {"ProdBackward0", prod_backward, NULL};
static const cg_op prod_dim_op = {"ProdBackward1", prod_backward, NULL};

cg_tensor *cg_prod(cg_tensor *a, const int64_t *dims, int ndims, int keepdim) {
    uint32_t mask;
    if (reduce_mask(a, dims, ndims, &mask)) return NULL;
    const cg_op *op = dims ? &prod_dim_op : &prod_all_op;
    return record(op, reduce_raw(RED_PROD, a, mask, keepdim), a, mask, keepdim, dims != NULL, 0, SAVE_IN | SAVE_OUT);
}

/* ---- amax, amin, max, min ---------------------------------------------------------------- */

/* The gradient split evenly among the elements equal to the result. */
static cg_tensor *share_among_ties(cg_node *n, cg_tensor *g, bool nan_equal) {
    scope S = {0};
    cg_tensor *a = T(cg_unpack(n, 0));
    cg_tensor *r = T(unpack_keep_raw(n, 1));
    cg_tensor *hit_b = T(cmp_raw(nan_equal ? CMP_EQ_NAN : CMP_EQ, a, r));
    cg_tensor *hit = T(cg_cast_raw(hit_b, (cg_dtype)g->dtype));
    cg_tensor *count = T(sum_raw(hit, (uint32_t)n->i[0], true));
    cg_tensor *gk = T(to_keep(n, g));
    cg_tensor *share = T(cg_div(gk, count));
    return scope_end(&S, T(cg_mul(share, hit)));
}

static int amax_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d amax(a)/da_i = 1/k for the k elements equal to the result, else 0 */
    return (gin[0] = share_among_ties(n, gout[0], false)) ? 0 : -1;
}
static int max_all_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* as amax, where a NaN result is shared among the NaNs */
    return (gin[0] = share_among_ties(n, gout[0], true)) ? 0 : -1;
}
static const cg_op amax_op = {"AmaxBackward0", amax_backward, NULL};
static const cg_op amin_op = {"AminBackward0", amax_backward, NULL};
static const cg_op max_all_op = {"MaxBackward1", max_all_backward, NULL};
static const cg_op min_all_op = {"MinBackward1", max_all_backward, NULL};

/* PyTorch's errors for a max-like reduction of an empty slice. */
static int check_nonempty(const cg_tensor *a, uint32_t mask, bool all, const char *name) {
    if (a->numel != 0) return 0;
    if (all) {
        cg_error_set(CG_ERR_RUNTIME, "%s(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                     "the reduction dim with the 'dim' argument.", name);
        return -1;
    }
    for (int d = 0; d < a->ndim; d++)
        if ((mask & (1u << d)) && a->shape[d] == 0) {
            cg_error_set(CG_ERR_INDEX, "%s(): Expected reduction dim %d to have non-zero size.", name, d);
            return -1;
        }
    return 0;
}

/* 1 and the first of the given dims (as given) that is empty in *empty, 0 when
 * none is, -1 for a dim out of range: PyTorch checks this, dim by dim, before it
 * looks for repeated dims. */
static int first_empty_dim(const cg_tensor *a, const int64_t *dims, int ndims, int64_t *empty) {
    for (int k = 0; k < ndims && a->numel == 0; k++) {
        int64_t d;
        if (cg_wrap_dim(dims[k], a->ndim, &d)) return -1;
        if (a->ndim && a->shape[d] == 0) {
            *empty = dims[k];
            return 1;
        }
    }
    return 0;
}

static cg_tensor *amax_amin(red_op op, cg_tensor *a, const int64_t *dims, int ndims, int keepdim) {
    uint32_t mask;
    int64_t empty;
    const char *name = op == RED_MAX ? "amax" : "amin";
    int found = dims ? first_empty_dim(a, dims, ndims, &empty) : 0;
    if (found < 0) return NULL;
    if (found) {
        cg_error_set(CG_ERR_INDEX, "%s(): Expected reduction dim %lld to have non-zero size.", name, (long long)empty);
        return NULL;
    }
    if (reduce_mask(a, dims, ndims, &mask) || check_nonempty(a, mask, !dims || !ndims, name)) return NULL;
    const cg_op *node_op = op == RED_MAX ? &amax_op : &amin_op;
    return record(node_op, reduce_raw(op, a, mask, keepdim), a, mask, keepdim, dims != NULL, 0, SAVE_IN | SAVE_OUT);
}

cg_tensor *cg_amax(cg_tensor *a, const int64_t *dims, int ndims, int keepdim) {
    return amax_amin(RED_MAX, a, dims, ndims, keepdim);
}
cg_tensor *cg_amin(cg_tensor *a, const int64_t *dims, int ndims, int keepdim) {
    return amax_amin(RED_MIN, a, dims, ndims, keepdim);
}

static cg_tensor *max_min_all(red_op op, cg_tensor *a) {
    uint32_t mask;
    if (reduce_mask(a, NULL, 0, &mask) || check_nonempty(a, mask, true, op == RED_MAX ? "max" : "min")) return NULL;
    const cg_op *node_op = op == RED_MAX ? &max_all_op : &min_all_op;
    return record(node_op, reduce_raw(op, a, mask, false), a, mask, false, false, 0, SAVE_IN | SAVE_OUT);
}

cg_tensor *cg_max(cg_tensor *a) { return max_min_all(RED_MAX, a); }
cg_tensor *cg_min(cg_tensor *a) { return max_min_all(RED_MIN, a); }

static int max_dim_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d max(a, dim)/da = 1 at the selected index, else 0 */
    const cg_shape *in = &n->in_shape[0];
    if (in->ndim == 0) {
        cg_tensor_retain(gin[0] = gout[0]);
        return 0;
    }
    scope S = {0};
    cg_tensor *index = T(cg_unpack(n, 0));
    cg_tensor *gk = n->i[1] ? gout[0] : T(cg_unsqueeze(gout[0], n->i[0]));
    cg_tensor *ik = n->i[1] ? index : T(cg_unsqueeze(index, n->i[0]));
    cg_tensor *z = T(cg_zeros(in->d, in->ndim, (cg_dtype)gout[0]->dtype));
    return (gin[0] = scope_end(&S, T(cg_scatter_(z, n->i[0], ik, gk)))) ? 0 : -1;
}
static const cg_op max_dim_op = {"MaxBackward0", max_dim_backward, NULL};
static const cg_op min_dim_op = {"MinBackward0", max_dim_backward, NULL};

/* values picked along dim d of a, with history when a requires grad: a node
 * of op saving the picked positions (i = {d, keepdim}). On failure both
 * results are released and *indices cleared. */
static cg_tensor *with_picks(const cg_op *op, cg_tensor *a, int64_t d, int keepdim, cg_tensor *values,
                             cg_tensor **indices) {
    if (!cg_any_requires_grad(&a, 1)) return values;
    cg_node *n = cg_node_new(op, &a, 1, 1);
    if (!n || cg_save(n, 0, *indices, false)) {
        cg_node_release(n);
        cg_tensor_release(values);
        cg_tensor_release(*indices);
        *indices = NULL;
        return NULL;
    }
    n->i[0] = d;
    n->i[1] = keepdim;
    cg_set_history(values, n, 0);
    cg_node_release(n);
    return values;
}

static cg_tensor *max_min_dim(arg_op op, cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices) {
    int64_t d;
    const char *name = op == ARG_MAX ? "max" : "min";
    *indices = NULL;
    if (cg_wrap_dim(dim, a->ndim, &d) || check_nonempty(a, a->ndim ? 1u << d : 0, false, name)) return NULL;
    cg_tensor *values;
    if (arg_raw(op, a, d, keepdim, &values, indices)) return NULL;
    return with_picks(op == ARG_MAX ? &max_dim_op : &min_dim_op, a, d, keepdim, values, indices);
}

cg_tensor *cg_max_dim(cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices) {
    return max_min_dim(ARG_MAX, a, dim, keepdim, indices);
}
cg_tensor *cg_min_dim(cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices) {
    return max_min_dim(ARG_MIN, a, dim, keepdim, indices);
}

/* ---- kthvalue, median, mode -------------------------------------------------------- */

typedef enum { PICK_KTH, PICK_MEDIAN, PICK_MODE } pick_op;
static const char *const pick_names[] = {"kthvalue", "median", "mode"};

/* x seen as [outer, len, inner]: val/idx [outer, inner] get one element of
 * each slice and its position, chosen in the slice's sorted order (ascending,
 * NaN last, equal values by position, as a stable sort leaves them):
 *   PICK_KTH     the k-th (from 1);
 *   PICK_MEDIAN  the lower middle one, or the first NaN when there is one;
 *   PICK_MODE    the last of the longest run of equal values, the smallest
 *                value among runs of one length (a NaN equals nothing).
 * work holds len pairs. */
#define PICK_KERNEL(NAME, T)                                                                 \
    typedef struct {                                                                         \
        T v;                                                                                 \
        int64_t i;                                                                           \
    } NAME##_pair;                                                                           \
    static int NAME##_cmp(const void *pa, const void *pb) {                                  \
        const NAME##_pair *a = pa, *b = pb;                                                  \
        bool an = a->v != a->v, bn = b->v != b->v;                                           \
        if (an != bn) return an ? 1 : -1;                                                    \
        if (!an && a->v != b->v) return a->v < b->v ? -1 : 1;                                \
        return (a->i > b->i) - (a->i < b->i);                                                \
    }                                                                                        \
    static void NAME(const void *xv, int64_t outer, int64_t len, int64_t inner, void *vv, int64_t *idx, \
                     pick_op op, int64_t k, void *work) {                                    \
        const T *x = xv;                                                                     \
        T *val = vv;                                                                         \
        NAME##_pair *p = work;                                                               \
        for (int64_t o = 0; o < outer; o++)                                                  \
            for (int64_t j = 0; j < inner; j++) {                                            \
                const T *xr = x + o * len * inner + j;                                       \
                for (int64_t m = 0; m < len; m++) p[m] = (NAME##_pair){xr[m * inner], m};    \
                qsort(p, (size_t)len, sizeof *p, NAME##_cmp);                                \
                int64_t at = k - 1;                                                          \
                if (op == PICK_MEDIAN) {                                                     \
                    at = p[len - 1].v != p[len - 1].v ? len - 1 : (len - 1) / 2;             \
                    while (at > 0 && p[at - 1].v != p[at - 1].v) at--;                       \
                } else if (op == PICK_MODE) {                                                \
                    for (int64_t m = 0, start = 0, best = 0; m < len; m++)                   \
                        if (m == len - 1 || !(p[m].v == p[m + 1].v)) {                       \
                            if (m - start + 1 > best) best = m - start + 1, at = m;          \
                            start = m + 1;                                                   \
                        }                                                                    \
                }                                                                            \
                val[o * inner + j] = p[at].v;                                                \
                idx[o * inner + j] = p[at].i;                                                \
            }                                                                                \
    }
PICK_KERNEL(pick_f32, float)
PICK_KERNEL(pick_f64, double)
PICK_KERNEL(pick_i64, int64_t)
PICK_KERNEL(pick_b8, uint8_t)

/* t = {values, indices, contiguous input}, i = {op, outer, len, inner, k} */
static int pick_kernel_run(const cg_kargs *k) {
    int64_t len = k->i[2];
    size_t pair = sizeof(pick_f64_pair); /* the largest of the pair types */
    void *work = malloc((size_t)len * pair + 1);
    if (!work) {
        cg_oom(len * (int64_t)pair);
        return -1;
    }
    const void *x = cg_ptr(k->t[2]);
    void *val = cg_ptr(k->t[0]);
    int64_t *idx = (int64_t *)cg_ptr(k->t[1]), o = k->i[1], in = k->i[3], kk = k->i[4];
    pick_op op = (pick_op)k->i[0];
    switch (k->t[2]->dtype) {
    case CG_FLOAT32: pick_f32(x, o, len, in, val, idx, op, kk, work); break;
    case CG_FLOAT64: pick_f64(x, o, len, in, val, idx, op, kk, work); break;
    case CG_INT64: pick_i64(x, o, len, in, val, idx, op, kk, work); break;
    default: pick_b8(x, o, len, in, val, idx, op, kk, work); break;
    }
    free(work);
    return 0;
}

/* The picked values and their indices along dim (dim < 0: over all of a, flattened). */
static int pick_raw(pick_op op, cg_tensor *a, int64_t dim, bool keepdim, int64_t k, cg_tensor **values,
                    cg_tensor **indices) {
    int64_t shape[CG_MAX_DIMS], outer, inner, len;
    int nd = along_dim(a, dim, keepdim, shape, &outer, &inner, &len);
    cg_tensor *c = contiguous_raw(a);
    *values = c ? cg_empty(shape, nd, (cg_dtype)a->dtype) : NULL;
    *indices = *values ? cg_empty(shape, nd, CG_INT64) : NULL;
    int rc = *indices ? 0 : -1;
    if (!rc && len && (*values)->numel)
        rc = cg_kernel(pick_kernel_run, &(cg_kargs){.name = pick_names[op], .t = {*values, *indices, c}, .nw = 2,
                                                   .i = {op, outer, len, inner, k}});
    cg_tensor_release(c);
    if (!rc) return 0;
    cg_tensor_release(*values);
    cg_tensor_release(*indices);
    *values = *indices = NULL;
    return -1;
}

/* PyTorch's error for bool input (its kernels' names differ) */
static int pick_dtype_ok(pick_op op, const cg_tensor *a, bool all) {
    if (op == PICK_MODE || a->dtype != CG_BOOL) return 0;
    const char *kernel = op == PICK_KTH ? "kthvalue_cpu" : all ? "median_cpu" : "median_out";
    cg_error_set(CG_ERR_NOTIMPL, "\"%s\" not implemented for 'Bool'", kernel);
    return -1;
}

/* d kthvalue, median(dim), mode: 1 at the selected index, as max(dim) */
static const cg_op kthvalue_op = {"KthvalueBackward0", max_dim_backward, NULL};
static const cg_op median_dim_op = {"MedianBackward1", max_dim_backward, NULL};
static const cg_op mode_op = {"ModeBackward0", max_dim_backward, NULL};
static const cg_op *const pick_ops[] = {&kthvalue_op, &median_dim_op, &mode_op};

static cg_tensor *pick_dim(pick_op op, cg_tensor *a, int64_t k, int64_t dim, int keepdim, cg_tensor **indices) {
    int64_t d;
    *indices = NULL;
    if (pick_dtype_ok(op, a, false) || cg_wrap_dim(dim, a->ndim, &d) ||
        check_nonempty(a, a->ndim ? 1u << d : 0, false, pick_names[op]))
        return NULL;
    if (op == PICK_KTH && (k < 1 || k > size_at(a, d))) {
        cg_error_set(CG_ERR_RUNTIME, "kthvalue(): selected number k out of range for dimension %lld", (long long)d);
        return NULL;
    }
    cg_tensor *values;
    if (pick_raw(op, a, d, keepdim, k, &values, indices)) return NULL;
    return with_picks(pick_ops[op], a, d, keepdim, values, indices);
}

cg_tensor *cg_kthvalue(cg_tensor *a, int64_t k, int64_t dim, int keepdim, cg_tensor **indices) {
    return pick_dim(PICK_KTH, a, k, dim, keepdim, indices);
}
cg_tensor *cg_median_dim(cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices) {
    return pick_dim(PICK_MEDIAN, a, 0, dim, keepdim, indices);
}
cg_tensor *cg_mode(cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices) {
    return pick_dim(PICK_MODE, a, 0, dim, keepdim, indices);
}

/* d median(a)/da_i = 1/k for the k elements equal to the result (NaNs when it is NaN), as max() */
static const cg_op median_all_op = {"MedianBackward0", max_all_backward, NULL};

cg_tensor *cg_median(cg_tensor *a) {
    uint32_t mask;
    cg_tensor *values, *indices;
    if (pick_dtype_ok(PICK_MEDIAN, a, true) || reduce_mask(a, NULL, 0, &mask) ||
        pick_raw(PICK_MEDIAN, a, -1, false, 0, &values, &indices))
        return NULL;
    cg_tensor_release(indices);
    if (a->numel == 0) /* as PyTorch: NaN, which an int64 result holds as its least value */
        cg_fill_raw(values, values->dtype == CG_INT64 ? (double)INT64_MIN : NAN);
    return record(&median_all_op, values, a, mask, false, false, 0, SAVE_IN | SAVE_OUT);
}

static cg_tensor *arg_max_min(arg_op op, cg_tensor *a, const int64_t *dim, int keepdim) {
    const char *name = op == ARG_MAX ? "argmax" : "argmin";
    int64_t d = -1;
    if (a->dtype == CG_BOOL) {
        cg_error_set(CG_ERR_RUNTIME, "%s(): does not support bool input", name);
        return NULL;
    }
    if (!dim && a->numel == 0) {
        cg_error_set(CG_ERR_INDEX, "%s(): Expected reduction dim to be specified for input.numel() == 0.", name);
        return NULL;
    }
    if (dim && (cg_wrap_dim(*dim, a->ndim, &d) || check_nonempty(a, a->ndim ? 1u << d : 0, false, name)))
        return NULL;
    cg_tensor *values, *indices;
    if (arg_raw(op, a, d, keepdim, &values, &indices)) return NULL;
    cg_tensor_release(values);
    return indices;
}

cg_tensor *cg_argmax(cg_tensor *a, const int64_t *dim, int keepdim) { return arg_max_min(ARG_MAX, a, dim, keepdim); }
cg_tensor *cg_argmin(cg_tensor *a, const int64_t *dim, int keepdim) { return arg_max_min(ARG_MIN, a, dim, keepdim); }

/* ---- var and std ----------------------------------------------------------------------- */

/* sum((a - mean)^2) / max(0, count - correction), and its square root for std. */
static cg_tensor *var_raw(cg_tensor *a, uint32_t mask, bool keepdim, double correction, bool root) {
    scope S = {0};
    double count = reduced_count(a, mask);
    cg_tensor *mean = T(mean_raw(a, mask, true));
    cg_tensor *dev = T(cg_binary_raw(CG_BIN_SUB, a, mean, (cg_dtype)a->dtype));
    cg_tensor *sq = T(cg_unary_raw(CG_UN_SQUARE, dev));
    cg_tensor *ss = T(sum_raw(sq, mask, keepdim));
    cg_tensor *dof = T(num(fmax(0.0, count - correction), a));
    cg_tensor *var = T(cg_binary_raw(CG_BIN_DIV, ss, dof, (cg_dtype)a->dtype));
    return scope_end(&S, root ? T(cg_unary_raw(CG_UN_SQRT, var)) : var);
}

/* d var/da for the gradient g of var (result-shaped). */
static cg_tensor *var_grad(cg_node *n, cg_tensor *g) {
    /* d var/da_i = 2 (a_i - mean) / (count - correction) */
    scope S = {0};
    int64_t dims[CG_MAX_DIMS];
    double dof = n->f[1] - n->f[0];
    cg_tensor *a = T(cg_unpack(n, 0));
    cg_tensor *gk = T(to_keep(n, g));
    if (!S.failed && (!n->i[2] || a->ndim == 0) && dof <= 0) {
        /* 2 / dof is infinite: NaN where a is its mean (inf * 0), inf elsewhere */
        cg_tensor *mean = T(mean_raw(a, (uint32_t)n->i[0], true));
        cg_tensor *at_mean = T(cmp_raw(CMP_EQ, a, mean));
        cg_tensor *inf = T(cg_full(a->shape, a->ndim, INFINITY, (cg_dtype)a->dtype));
        cg_tensor *nan = T(num(NAN, a));
        cg_tensor *scale = T(cg_masked_fill(inf, at_mean, nan));
        return scope_end(&S, T(cg_mul(gk, scale)));
    }
    int nd = mask_dims((uint32_t)n->i[0], n->in_shape[0].ndim, dims);
    cg_tensor *mean = T(cg_mean(a, dims, nd, 1));
    cg_tensor *dev = T(cg_sub(a, mean));
    cg_tensor *k = T(num(2.0 / dof, a));
    cg_tensor *gs = T(cg_mul(gk, k));
    return scope_end(&S, T(cg_mul(gs, dev)));
}

static int var_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    return (gin[0] = var_grad(n, gout[0])) ? 0 : -1;
}
static const cg_op var_op = {"VarBackward0", var_backward, NULL};

static int std_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d std = d var / (2 std), taken as 0 where std is 0 */
    scope S = {0};
    cg_tensor *std = T(cg_unpack(n, 1));
    cg_tensor *two = T(num(2.0, std));
    cg_tensor *std2 = T(cg_mul(std, two));
    cg_tensor *gv = T(cg_div(gout[0], std2));
    cg_tensor *at_zero = T(cmp_num(CMP_EQ, std, 0.0));
    cg_tensor *zero = T(num(0.0, gv));
    cg_tensor *gvar = T(cg_masked_fill(gv, at_zero, zero));
    return (gin[0] = scope_end(&S, T(var_grad(n, gvar)))) ? 0 : -1;
}
static const cg_op std_op = {"StdBackward0", std_backward, NULL};

static cg_tensor *var_std(cg_tensor *a, const int64_t *dims, int ndims, double correction, int keepdim, bool root) {
    if (!cg_dtype_is_floating((cg_dtype)a->dtype)) {
        cg_error_set(CG_ERR_RUNTIME, "std and var only support floating point and complex dtypes");
        return NULL;
    }
    uint32_t mask;
    if (reduce_mask(a, dims, ndims, &mask)) return NULL;
    cg_tensor *out = var_raw(a, mask, keepdim, correction, root);
    unsigned save = SAVE_IN | (root ? SAVE_OUT : 0);
    return record(root ? &std_op : &var_op, out, a, mask, keepdim, dims != NULL, correction, save);
}

cg_tensor *cg_var(cg_tensor *a, const int64_t *dims, int ndims, double correction, int keepdim) {
    return var_std(a, dims, ndims, correction, keepdim, false);
}
cg_tensor *cg_std(cg_tensor *a, const int64_t *dims, int ndims, double correction, int keepdim) {
    return var_std(a, dims, ndims, correction, keepdim, true);
}

/* ---- logsumexp ------------------------------------------------------------------------- */

/* log(sum(exp(a - m))) + m with m the slice's max (0 where it is infinite). */
static cg_tensor *logsumexp_raw(cg_tensor *a, uint32_t mask, bool keepdim) {
    scope S = {0};
    int64_t shape[CG_MAX_DIMS];
    int nd = reduced_shape(a->shape, a->ndim, mask, keepdim, shape);
    cg_tensor *max = T(reduce_raw(RED_MAX, a, mask, true));
    cg_tensor *m = T(map_raw(MAP_FINITE_OR_ZERO, max));
    cg_tensor *shifted = T(cg_binary_raw(CG_BIN_SUB, a, m, (cg_dtype)a->dtype));
    cg_tensor *e = T(cg_unary_raw(CG_UN_EXP, shifted));
    cg_tensor *s = T(sum_raw(e, mask, true));
    cg_tensor *l = T(cg_unary_raw(CG_UN_LOG, s));
    cg_tensor *out = T(cg_binary_raw(CG_BIN_ADD, l, m, (cg_dtype)a->dtype));
    return scope_end(&S, keepdim ? out : T(cg_view_raw(out, shape, nd)));
}

static int logsumexp_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d logsumexp(a)/da_i = exp(a_i - logsumexp(a)), the softmax of a */
    scope S = {0};
    cg_tensor *a = T(cg_unpack(n, 0));
    cg_tensor *r = T(cg_unpack(n, 1));
    cg_tensor *rk = T(to_keep(n, r));
    cg_tensor *d = T(cg_sub(a, rk));
    cg_tensor *w = T(cg_exp(d));
    cg_tensor *gk = T(to_keep(n, gout[0]));
    return (gin[0] = scope_end(&S, T(cg_mul(gk, w)))) ? 0 : -1;
}
static const cg_op logsumexp_op = {"LogsumexpBackward0", logsumexp_backward, NULL};

cg_tensor *cg_logsumexp(cg_tensor *a, const int64_t *dims, int ndims, int keepdim) {
    uint32_t mask;
    if (reduce_mask(a, dims, ndims, &mask)) return NULL;
    bool fl = cg_dtype_is_floating((cg_dtype)a->dtype);
    cg_tensor *f = cg_cast_raw(a, fl ? (cg_dtype)a->dtype : cg_get_default_dtype());
    cg_tensor *out = f ? logsumexp_raw(f, mask, keepdim) : NULL;
    cg_tensor_release(f);
    return record(&logsumexp_op, out, a, mask, keepdim, dims != NULL, 0, SAVE_IN | SAVE_OUT);
}

/* ---- norm ----------------------------------------------------------------------------------- */

/* The vector p-norm of a over the masked dims (no autograd). A norm of one
 * element is |a| itself, with no power to overflow or underflow, as in PyTorch,
 * except for a 0-d tensor over a dim named (PyTorch computes that one). */
static cg_tensor *norm_raw(cg_tensor *a, double p, uint32_t mask, bool keepdim, bool named_dims) {
    scope S = {0};
    cg_dtype dt = (cg_dtype)a->dtype;
    if (p != 0 && reduced_count(a, mask) == 1 && !(a->ndim == 0 && named_dims)) {
        cg_tensor *abs = T(map_raw(MAP_ABS, a));
        return scope_end(&S, T(sum_raw(abs, mask, keepdim)));
    }
    if (p == 2) {
        cg_tensor *sq = T(cg_unary_raw(CG_UN_SQUARE, a));
        cg_tensor *s = T(sum_raw(sq, mask, keepdim));
        return scope_end(&S, T(cg_unary_raw(CG_UN_SQRT, s)));
    }
    if (p == 0) {
        cg_tensor *nz = T(cmp_num(CMP_NE, a, 0.0));
        cg_tensor *nzf = T(cg_cast_raw(nz, dt));
        return scope_end(&S, T(sum_raw(nzf, mask, keepdim)));
    }
    cg_tensor *abs = T(map_raw(MAP_ABS, a));
    if (p == 1) return scope_end(&S, T(sum_raw(abs, mask, keepdim)));
    if (isinf(p)) return scope_end(&S, T(reduce_raw(p > 0 ? RED_MAX : RED_MIN, abs, mask, keepdim)));
    cg_tensor *pe = T(num(p, a)), *re = T(num(1.0 / p, a));
    cg_tensor *pw = T(cg_binary_raw(CG_BIN_POW, abs, pe, dt));
    cg_tensor *s = T(sum_raw(pw, mask, keepdim));
    return scope_end(&S, T(cg_binary_raw(CG_BIN_POW, s, re, dt)));
}

/* The p-norm's derivative times g, for 0 < p < inf other than 1 and 2. */
static cg_tensor *norm_p_grad(double p, cg_tensor *a, cg_tensor *sgn, cg_tensor *norm, cg_tensor *g) {
    scope S = {0};
    cg_tensor *abs = T(cg_mul(a, sgn)); /* |a| with d|a|/da = sgn(a) */
    cg_tensor *zero = T(num(0.0, a));
    if (p < 1) { /* sgn(a) |a|^(p-1) (0 at a = 0) * g * norm^(1-p) */
        cg_tensor *pw = T(cg_pow_scalar(abs, p - 1));
        cg_tensor *at_zero = T(cmp_num(CMP_EQ, a, 0.0));
        cg_tensor *pwz = T(cg_masked_fill(pw, at_zero, zero));
        cg_tensor *scaled = T(cg_mul(sgn, pwz));
        cg_tensor *sg = T(cg_mul(scaled, g));
        cg_tensor *np = T(cg_pow_scalar(norm, 1 - p));
        return scope_end(&S, T(cg_mul(sg, np)));
    }
    /* sgn(a) |a|^(p-1) * g / norm^(p-1), 0 where the norm is 0 */
    cg_tensor *pw = T(cg_pow_scalar(abs, p < 2 ? p - 1 : p - 2));
    cg_tensor *scaled = T(cg_mul(p < 2 ? sgn : a, pw));
    cg_tensor *np = T(cg_pow_scalar(norm, p - 1));
    cg_tensor *v = T(cg_div(g, np));
    cg_tensor *at_zero = T(cmp_num(CMP_EQ, norm, 0.0));
    cg_tensor *vz = T(cg_masked_fill(v, at_zero, zero));
    return scope_end(&S, T(cg_mul(scaled, vz)));
}

/* The inf-norm's derivative times g: sgn(a), shared among the maximal |a| (and NaNs). */
static cg_tensor *norm_inf_grad(uint32_t mask, cg_tensor *a, cg_tensor *sgn, cg_tensor *norm, cg_tensor *g) {
    scope S = {0};
    cg_tensor *abs = T(map_raw(MAP_ABS, a));
    cg_tensor *hit_b = T(cmp_raw(CMP_EQ_OR_NAN, abs, norm));
    cg_tensor *hit = T(cg_cast_raw(hit_b, (cg_dtype)a->dtype));
    cg_tensor *count = T(sum_raw(hit, mask, true));
    cg_tensor *share = T(cg_div(g, count));
    cg_tensor *sh = T(cg_mul(share, hit));
    return scope_end(&S, T(cg_mul(sgn, sh)));
}

/* The p-norm's (p != 0) derivative at a times g, over the masked dims; norm
 * and g have those dims kept (or are 0-d). */
static cg_tensor *norm_grad(double p, uint32_t mask, cg_tensor *a, cg_tensor *norm, cg_tensor *g) {
    /* d ||a||_p / da_i = sgn(a_i) |a_i|^(p-1) / ||a||_p^(p-1) */
    scope S = {0};
    cg_tensor *sgn = T(map_raw(MAP_SGN, a));
    cg_tensor *r = NULL;
    if (S.failed) {
        r = NULL;
    } else if (p == 1) {
        r = T(cg_mul(sgn, g));
    } else if (p == 2) { /* g * a / norm, 0 where the norm is 0 */
        cg_tensor *q = T(cg_div(a, norm));
        cg_tensor *at_zero = T(cmp_num(CMP_EQ, norm, 0.0));
        cg_tensor *zero = T(num(0.0, a));
        cg_tensor *qz = T(cg_masked_fill(q, at_zero, zero));
        r = T(cg_mul(g, qz));
    } else if (isinf(p)) {
        r = T(norm_inf_grad(mask, a, sgn, norm, g));
    } else {
        r = T(norm_p_grad(p, a, sgn, norm, g));
    }
    return scope_end(&S, r);
}

static int norm_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    double p = n->f[0];
    if (p == 0) return 0; /* a count: no gradient at all, as PyTorch */
    scope S = {0};
    cg_tensor *a = T(cg_unpack(n, 0));
    cg_tensor *g = T(to_keep(n, gout[0]));
    cg_tensor *result = T(cg_unpack(n, 1));
    cg_tensor *norm = T(to_keep(n, result));
    return (gin[0] = scope_end(&S, T(norm_grad(p, (uint32_t)n->i[0], a, norm, g)))) ? 0 : -1;
}
static const cg_op norm_op = {"LinalgVectorNormBackward0", norm_backward, NULL};

/* The inf norms have no identity: PyTorch's errors for an empty reduction. */
static int check_norm_nonempty(const cg_tensor *a, double p, uint32_t mask, bool all) {
    if (!isinf(p) || a->numel != 0) return 0;
    const char *ord = p > 0 ? "inf" : "-inf";
    if (all) {
        cg_error_set(CG_ERR_RUNTIME, "linalg.vector_norm cannot compute the %s norm on an empty tensor because the "
                     "operation does not have an identity", ord);
        return -1;
    }
    for (int d = 0; d < a->ndim; d++)
        if ((mask & (1u << d)) && a->shape[d] == 0) {
            cg_error_set(CG_ERR_RUNTIME, "linalg.vector_norm cannot compute the %s norm on the dimension %d"
                         "because this dimension is empty and the operation does not have an identity", ord, d);
            return -1;
        }
    return 0;
}

cg_tensor *cg_norm(cg_tensor *a, double p, const int64_t *dims, int ndims, int keepdim) {
    if (!cg_dtype_is_floating((cg_dtype)a->dtype)) {
        cg_error_set(CG_ERR_RUNTIME, "linalg.vector_norm: Expected a floating point or complex tensor as input. Got %s",
                     cg_dtype_torch_name((cg_dtype)a->dtype));
        return NULL;
    }
    uint32_t mask;
    int64_t empty;
    int found = isinf(p) && dims ? first_empty_dim(a, dims, ndims, &empty) : 0;
    if (found < 0) return NULL;
    if (found) {
        cg_error_set(CG_ERR_RUNTIME, "linalg.vector_norm cannot compute the %s norm on the dimension %lld"
                     "because this dimension is empty and the operation does not have an identity",
                     p > 0 ? "inf" : "-inf", (long long)empty);
        return NULL;
    }
    if (reduce_mask(a, dims, ndims, &mask) || check_norm_nonempty(a, p, mask, !dims || !ndims)) return NULL;
    cg_tensor *out = norm_raw(a, p, mask, keepdim, dims && ndims);
    return record(&norm_op, out, a, mask, keepdim, dims != NULL, p, SAVE_IN | SAVE_OUT);
}

/* ---- dist ------------------------------------------------------------------------------------ */

static int dist_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d ||a - b||_p / da = the p-norm's derivative at a - b, d/db = minus it (p in f[0]) */
    double p = n->f[0];
    if (p == 0) { /* PyTorch's gradient of a count is undefined, which b's negation refuses */
        if (!cg_wants(n, 1)) return 0;
        cg_error_set(CG_ERR_RUNTIME, "Expected a proper Tensor but got None (or an undefined Tensor in C++) for "
                     "argument #0 'self'");
        return -1;
    }
    scope S = {0};
    cg_tensor *a = T(cg_unpack(n, 0));
    cg_tensor *b = T(cg_unpack(n, 1));
    cg_tensor *norm = T(cg_unpack(n, 2));
    cg_tensor *d = T(cg_sub(a, b));
    uint32_t all = d ? (uint32_t)((1ull << d->ndim) - 1) : 0u;
    cg_tensor *r = T(norm_grad(p, all, d, norm, gout[0]));
    if (r && cg_wants(n, 0)) gin[0] = cg_reduce_grad(n, 0, (cg_tensor_retain(r), r));
    if (r && cg_wants(n, 1)) gin[1] = cg_reduce_grad(n, 1, cg_neg(r));
    bool ok = r && (!cg_wants(n, 0) || gin[0]) && (!cg_wants(n, 1) || gin[1]);
    scope_end(&S, NULL);
    return ok ? 0 : -1;
}
static const cg_op dist_op = {"DistBackward0", dist_backward, NULL};

cg_tensor *cg_dist(cg_tensor *a, cg_tensor *b, double p) {
    int on = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    cg_tensor *d = cg_sub(a, b);
    cg_tensor *out = d ? cg_norm(d, p, NULL, 0, 0) : NULL;
    cg_set_grad_enabled(on);
    cg_tensor_release(d);
    cg_tensor *ins[2] = {a, b};
    if (!out || !cg_any_requires_grad(ins, 2)) return out;
    cg_node *n = cg_node_new(&dist_op, ins, 2, 1);
    if (!n || cg_save(n, 0, a, false) || cg_save(n, 1, b, false) || cg_save(n, 2, out, true)) {
        cg_node_release(n);
        cg_tensor_release(out);
        return NULL;
    }
    n->f[0] = p;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}
