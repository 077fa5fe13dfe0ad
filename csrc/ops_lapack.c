/* Linear algebra over LAPACK: inverse, det and slogdet of (batches of)
 * square matrices.
 *
 * LAPACK is column-major; each matrix is handed over as a contiguous copy
 * of its transpose, so the factorisation is of A itself (P A = L U) and a
 * singular matrix reports the pivot PyTorch reports. The LAPACK is
 * scipy-openblas32's, whose Fortran symbols carry a scipy_ prefix. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void scipy_sgetrf_(int *m, int *n, float *a, int *lda, int *ipiv, int *info);
void scipy_dgetrf_(int *m, int *n, double *a, int *lda, int *ipiv, int *info);
void scipy_sgesv_(int *n, int *nrhs, float *a, int *lda, int *ipiv, float *b, int *ldb, int *info);
void scipy_dgesv_(int *n, int *nrhs, double *a, int *lda, int *ipiv, double *b, int *ldb, int *info);

/* ---- checks and layout -------------------------------------------------------------------- */

/* PyTorch's checks of a batch of square floating matrices, in its order. */
static int check_square(const cg_tensor *a, const char *fname) {
    if (a->ndim < 2) {
        cg_error_set(CG_ERR_RUNTIME, "%s: The input tensor A must have at least 2 dimensions.", fname);
        return -1;
    }
    int64_t r = a->shape[a->ndim - 2], c = a->shape[a->ndim - 1];
    if (r != c) {
        cg_error_set(CG_ERR_RUNTIME, "%s: A must be batches of square matrices, but they are %lld by %lld matrices",
                     fname, (long long)r, (long long)c);
        return -1;
    }
    if (a->dtype != CG_FLOAT32 && a->dtype != CG_FLOAT64) {
        cg_error_set(CG_ERR_RUNTIME, "%s: Expected a floating point or complex tensor as input. Got %s", fname,
                     cg_dtype_torch_name((cg_dtype)a->dtype));
        return -1;
    }
    if (c > 46340) { /* n * n must fit LAPACK's 32-bit ints */
        cg_error_set(CG_ERR_RUNTIME, "%s: matrices of size %lld are too large", fname, (long long)c);
        return -1;
    }
    return 0;
}

/* A new contiguous tensor holding each matrix of a transposed: column-major A. */
static cg_tensor *column_major(cg_tensor *a) {
    cg_tensor *t = cg_mT(a);
    cg_tensor *c = t ? cg_empty(t->shape, t->ndim, (cg_dtype)a->dtype) : NULL;
    if (c && cg_copy_data(c, t)) {
        cg_tensor_release(c);
        c = NULL;
    }
    cg_tensor_release(t);
    return c;
}

/* The number of matrices in a batch of n x n matrices of shape. */
static int64_t batch_of(const cg_tensor *a) {
    int64_t b = 1;
    for (int d = 0; d < a->ndim - 2; d++) b *= a->shape[d];
    return b;
}

static void singular_error(const cg_tensor *a, int64_t k, int info) {
    if (a->ndim > 2)
        cg_error_set(CG_ERR_LINALG, "linalg.inv: (Batch element %lld): The diagonal element %d is zero, the inversion "
                     "could not be completed because the input matrix is singular.", (long long)k, info);
    else
        cg_error_set(CG_ERR_LINALG, "linalg.inv: The diagonal element %d is zero, the inversion could not be "
                     "completed because the input matrix is singular.", info);
}

/* ---- inverse ------------------------------------------------------------------------------- */

/* Whether the n x n matrix at p (float or double) holds a NaN */
static bool matrix_has_nan(const void *p, bool f32, int64_t nn) {
    for (int64_t i = 0; i < nn; i++)
        if (f32 ? isnan(((const float *)p)[i]) : isnan(((const double *)p)[i])) return true;
    return false;
}

/* Solves A X = I for each matrix; X lands column-major in x (contiguous,
 * zeroed, a's shape), all NaN for a matrix holding a NaN, as PyTorch's.
 * Errors on a singular matrix. */
static int solve_identity(const cg_tensor *a, cg_tensor *c, cg_tensor *x) {
    int n = (int)a->shape[a->ndim - 1], info = 0;
    int64_t batch = batch_of(a), nn = (int64_t)n * n;
    int *piv = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!piv) return cg_error_set(CG_ERR_MEMORY, "out of memory"), -1;
    bool f32 = a->dtype == CG_FLOAT32;
    for (int64_t k = 0; k < batch && info == 0; k++) {
        int m = n, nrhs = n, lda = n > 0 ? n : 1, ldb = lda;
        char *ck = c->storage->data + k * nn * (f32 ? 4 : 8), *xk = x->storage->data + k * nn * (f32 ? 4 : 8);
        bool nan = matrix_has_nan(ck, f32, nn);
        for (int64_t i = 0; i < nn; i++) /* the identity, or NaN */
            if (nan || i % (n + 1) == 0) {
                if (f32) ((float *)xk)[i] = nan ? NAN : 1.0f;
                else ((double *)xk)[i] = nan ? NAN : 1.0;
            }
        if (!nan && f32) scipy_sgesv_(&m, &nrhs, (float *)ck, &lda, piv, (float *)xk, &ldb, &info);
        if (!nan && !f32) scipy_dgesv_(&m, &nrhs, (double *)ck, &lda, piv, (double *)xk, &ldb, &info);
        if (info > 0) singular_error(a, k, info);
    }
    free(piv);
    return info == 0 ? 0 : -1;
}

/* Gives out, made from a, a node of op that keeps s0 and s1 (NULL: nothing)
 * in slots 0 and 1; out is NULL, released, when that fails. */
static cg_tensor *record_one(const cg_op *op, cg_tensor *out, cg_tensor *a, cg_tensor *s0, cg_tensor *s1) {
    if (!out || !cg_any_requires_grad(&a, 1)) return out;
    cg_node *n = cg_node_new(op, &a, 1, 1);
    if (!n || cg_save(n, 0, s0, s0 == out) || (s1 && cg_save(n, 1, s1, s1 == out))) {
        cg_tensor_release(out);
        cg_node_release(n);
        return NULL;
    }
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* A^-1 of each matrix of a, without recording. */
static cg_tensor *inverse_raw(cg_tensor *a) {
    cg_tensor *c = column_major(a);
    cg_tensor *x = c ? cg_zeros(a->shape, a->ndim, (cg_dtype)a->dtype) : NULL, *out = NULL;
    if (x && !solve_identity(a, c, x)) { /* x holds X^T row-major */
        cg_tensor *xt = cg_mT(x);
        out = xt ? cg_contiguous(xt) : NULL;
        cg_tensor_release(xt);
    }
    cg_tensor_release(c);
    cg_tensor_release(x);
    return out;
}

static int inverse_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d(A^-1) = -A^-1 dA A^-1, so dL/dA = -A^-T g A^-T (the output saved in slot 0) */
    cg_tensor *x = cg_unpack(n, 0), *xt = x ? cg_mT(x) : NULL;
    cg_tensor *l = xt ? cg_matmul(xt, gout[0]) : NULL, *r = l ? cg_matmul(l, xt) : NULL;
    gin[0] = r ? cg_neg(r) : NULL;
    cg_tensor_release(x);
    cg_tensor_release(xt);
    cg_tensor_release(l);
    cg_tensor_release(r);
    return gin[0] ? 0 : -1;
}
static const cg_op inverse_op = {"LinalgInvExBackward0", inverse_backward, NULL};

cg_tensor *cg_linalg_inv(cg_tensor *a) {
    if (check_square(a, "linalg.inv")) return NULL;
    int on = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    cg_tensor *out = inverse_raw(a);
    cg_set_grad_enabled(on);
    return record_one(&inverse_op, out, a, out, NULL);
}

/* ---- det / slogdet --------------------------------------------------------------------------- */

/* The det, its sign and log|det| of one LU-factored column-major n x n
 * matrix (float or double at p): det(A) = +-prod(diag U), the sign that of
 * the row swaps. */
static void lu_slogdet(const void *p, bool f32, int n, const int *piv, double out[3]) {
    double d = 1, s = 1, l = 0;
    for (int i = 0; i < n; i++) {
        double u = f32 ? ((const float *)p)[(int64_t)i * n + i] : ((const double *)p)[(int64_t)i * n + i];
        if (piv[i] != i + 1) d = -d, s = -s;
        d *= u;
        s = u < 0 ? -s : u > 0 ? s : 0; /* 0 for NaN too, as PyTorch */
        l += log(fabs(u));
    }
    out[0] = d, out[1] = s, out[2] = l;
}

/* For each matrix of a: its det in *det, or its sign and log|det|; the
 * results of a's batch shape, without recording. */
static int det_raw(cg_tensor *a, cg_tensor **det, cg_tensor **sign, cg_tensor **logabs) {
    int n = (int)a->shape[a->ndim - 1];
    int64_t batch = batch_of(a), nn = (int64_t)n * n;
    bool f32 = a->dtype == CG_FLOAT32;
    cg_tensor *c = column_major(a), *outs[2] = {NULL, NULL};
    int nout = det ? 1 : 2;
    for (int k = 0; c && k < nout; k++) outs[k] = cg_empty(a->shape, a->ndim - 2, (cg_dtype)a->dtype);
    int *piv = malloc(sizeof(int) * (size_t)(n ? n : 1));
    int rc = c && outs[0] && (nout == 1 || outs[1]) && piv ? 0 : -1;
    if (!piv) cg_error_set(CG_ERR_MEMORY, "out of memory");
    for (int64_t k = 0; rc == 0 && k < batch; k++) {
        int m = n, lda = n > 0 ? n : 1, info = 0;
        char *p = c->storage->data + k * nn * (f32 ? 4 : 8);
        if (n > 0 && f32) scipy_sgetrf_(&m, &m, (float *)p, &lda, piv, &info);
        if (n > 0 && !f32) scipy_dgetrf_(&m, &m, (double *)p, &lda, piv, &info);
        double v[3];
        lu_slogdet(p, f32, n, piv, v);
        if (!det) v[0] = v[1], v[1] = v[2]; /* sign, log|det| */
        for (int j = 0; j < nout; j++) {
            if (f32) ((float *)outs[j]->storage->data)[k] = (float)v[j];
            else ((double *)outs[j]->storage->data)[k] = v[j];
        }
    }
    free(piv);
    cg_tensor_release(c);
    if (rc) {
        cg_tensor_release(outs[0]);
        cg_tensor_release(outs[1]);
        return -1;
    }
    if (det) *det = outs[0];
    else *sign = outs[0], *logabs = outs[1];
    return 0;
}

/* (A with each matrix where the batch-shaped mask z is true replaced by I)^-T,
 * recorded: A^-T where it exists, and a finite stand-in where it may not. */
static cg_tensor *inverse_t_where(cg_tensor *a, cg_tensor *z) {
    int64_t n = a->shape[a->ndim - 1];
    cg_tensor *z1 = cg_unsqueeze(z, -1), *z2 = z1 ? cg_unsqueeze(z1, -1) : NULL;
    cg_tensor *eye = z2 ? cg_eye(n, n, (cg_dtype)a->dtype) : NULL;
    cg_tensor *safe = eye ? cg_where(z2, eye, a) : NULL, *inv = safe ? cg_linalg_inv(safe) : NULL;
    cg_tensor *out = inv ? cg_mT(inv) : NULL;
    cg_tensor *tmp[5] = {z1, z2, eye, safe, inv};
    for (int k = 0; k < 5; k++) cg_tensor_release(tmp[k]);
    return out;
}

/* |v| < bound, elementwise (bound 0: v == 0) */
static cg_tensor *below(cg_tensor *v, double bound) {
    cg_tensor *b = cg_scalar_tensor(bound, CG_FLOAT64, v), *av = b && bound > 0 ? cg_abs(v) : NULL;
    cg_tensor *out = b ? (bound > 0 ? (av ? cg_lt(av, b) : NULL) : cg_eq(v, b)) : NULL;
    cg_tensor_release(b);
    cg_tensor_release(av);
    return out;
}

/* v[..., None, None] * m */
static cg_tensor *scale_matrices(cg_tensor *v, cg_tensor *m) {
    cg_tensor *v1 = cg_unsqueeze(v, -1), *v2 = v1 ? cg_unsqueeze(v1, -1) : NULL;
    cg_tensor *out = v2 ? cg_mul(v2, m) : NULL;
    cg_tensor_release(v1);
    cg_tensor_release(v2);
    return out;
}

static cg_tensor *det_exact(cg_tensor *a);

/* The int64 (n, n - 1) table whose row i lists 0..n-1 without i, flattened. */
static cg_tensor *others_of(int64_t n) {
    int64_t len = n * (n - 1);
    cg_tensor *t = cg_empty(&len, 1, CG_INT64);
    for (int64_t i = 0; t && i < n; i++)
        for (int64_t p = 0; p < n - 1; p++) ((int64_t *)t->storage->data)[i * (n - 1) + p] = p < i ? p : p + 1;
    return t;
}

/* The (n, n) signs (-1)^(i+j) of the cofactors, in dtype */
static cg_tensor *checkerboard(int64_t n, cg_dtype dtype) {
    int64_t shape[2] = {n, n};
    cg_tensor *t = cg_empty(shape, 2, dtype);
    for (int64_t i = 0; t && i < n * n; i++) {
        double v = (i / n + i % n) % 2 ? -1.0 : 1.0;
        if (dtype == CG_FLOAT32) ((float *)t->storage->data)[i] = (float)v;
        else ((double *)t->storage->data)[i] = v;
    }
    return t;
}

/* The cofactors of each matrix of a: C_ij = (-1)^(i+j) det(A without row i
 * and column j), recorded. They are det(A) A^-T where A is invertible and
 * stay exact (and differentiable) where it is not. n^2 determinants of
 * order n - 1: O(n^5), taken only for (nearly) singular matrices. */
static cg_tensor *cofactors(cg_tensor *a) {
    int64_t n = a->shape[a->ndim - 1], m = n - 1, b = batch_of(a); /* n > 0 */
    int64_t flat[3] = {b, n, n}, ipjq[5] = {b, n, m, n, m}, perm[5] = {0, 1, 3, 2, 4}; /* to [b, i, j, p, q] */
    cg_tensor *idx = others_of(n), *a3 = idx ? cg_reshape(a, flat, 3) : NULL;
    cg_tensor *rows = a3 ? cg_index_select(a3, 1, idx) : NULL, *r4 = rows ? cg_view(rows, ipjq, 4) : NULL;
    cg_tensor *cols = r4 ? cg_index_select(r4, 3, idx) : NULL, *m5 = cols ? cg_view(cols, ipjq, 5) : NULL;
    cg_tensor *mp = m5 ? cg_permute(m5, perm, 5) : NULL, *minors = mp ? det_exact(mp) : NULL;
    cg_tensor *sign = minors ? checkerboard(n, (cg_dtype)a->dtype) : NULL, *c = sign ? cg_mul(minors, sign) : NULL;
    cg_tensor *out = c ? cg_reshape(c, a->shape, a->ndim) : NULL;
    cg_tensor *tmp[10] = {idx, a3, rows, r4, cols, m5, mp, minors, sign, c};
    for (int k = 0; k < 10; k++) cg_tensor_release(tmp[k]);
    return out;
}

/* g det(A) A^-T, for matrices whose det is not 0 */
static cg_tensor *det_grad_invertible(cg_tensor *a, cg_tensor *d, cg_tensor *g, cg_tensor *singular) {
    cg_tensor *it = inverse_t_where(a, singular), *gd = it ? cg_mul(g, d) : NULL;
    cg_tensor *out = gd ? scale_matrices(gd, it) : NULL;
    cg_tensor_release(it);
    cg_tensor_release(gd);
    return out;
}

/* g times the cofactors of the matrices of a that the nb index tensors idx
 * pick (nb < 0: of all of them) */
static cg_tensor *cofactor_grad(cg_tensor *a, cg_tensor *g, cg_tensor *const *idx, int nb) {
    cg_tensor *part = nb >= 0 ? cg_index(a, idx, nb) : (cg_tensor_retain(a), a);
    cg_tensor *gp = part ? (nb >= 0 ? cg_index(g, idx, nb) : (cg_tensor_retain(g), g)) : NULL;
    cg_tensor *cof = gp ? cofactors(part) : NULL, *out = cof ? scale_matrices(gp, cof) : NULL;
    cg_tensor_release(part);
    cg_tensor_release(gp);
    cg_tensor_release(cof);
    return out;
}

/* The gradient of det at each matrix of a, recorded for a higher order: g
 * det(A) A^-T where |det A| >= 100 eps, g times the cofactors where it is
 * smaller; a batch with both kinds is assembled by index_put. */
static cg_tensor *det_grad_graph(cg_tensor *a, cg_tensor *d, cg_tensor *g) {
    double eps = a->dtype == CG_FLOAT32 ? FLT_EPSILON : DBL_EPSILON;
    cg_tensor *sing = below(d, 100 * eps), *nz = sing ? cg_nonzero(sing) : NULL, *out = NULL;
    int64_t k = nz ? nz->shape[0] : 0;
    int nb = nz ? (int)nz->shape[1] : 0, ok = nz != NULL;
    if (nz && k == 0) out = det_grad_invertible(a, d, g, sing);
    else if (nz && k == d->numel) out = cofactor_grad(a, g, NULL, -1);
    else if (nz) {
        cg_tensor *idx[CG_MAX_DIMS] = {NULL}, *inv = det_grad_invertible(a, d, g, sing), *cof = NULL;
        for (int j = 0; j < nb && ok; j++) ok = (idx[j] = cg_select(nz, 1, j)) != NULL;
        cof = ok && inv ? cofactor_grad(a, g, idx, nb) : NULL;
        out = cof ? cg_index_put(inv, idx, nb, cof, 0) : NULL;
        cg_tensor_release(inv);
        cg_tensor_release(cof);
        for (int j = 0; j < nb; j++) cg_tensor_release(idx[j]);
    }
    cg_tensor_release(sing);
    cg_tensor_release(nz);
    return out;
}

/* d det(A)/dA = det(A) A^-T, the cofactors of A. Only computed (neither
 * create_graph nor exact): 0 where det(A) is 0, as PyTorch; otherwise the
 * cofactors themselves where A is (nearly) singular (A in slot 0, det in 1) */
static int det_grad(cg_node *n, cg_tensor **gout, cg_tensor **gin, bool exact) {
    cg_tensor *a = cg_unpack(n, 0), *d = a ? cg_unpack(n, 1) : NULL, *z = NULL;
    if (d && (exact || cg_is_grad_enabled())) gin[0] = det_grad_graph(a, d, gout[0]);
    else if (d && (z = below(d, 0))) gin[0] = det_grad_invertible(a, d, gout[0], z);
    cg_tensor_release(a);
    cg_tensor_release(d);
    cg_tensor_release(z);
    return gin[0] ? 0 : -1;
}

static int det_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) { return det_grad(n, gout, gin, false); }
static const cg_op det_op = {"LinalgDetBackward0", det_backward, NULL};

/* The minors of a cofactor matrix differentiate exactly even when only
 * computed, so that det's second order is exact at singular matrices. */
static int det_exact_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) { return det_grad(n, gout, gin, true); }
static const cg_op det_exact_op = {"LinalgDetBackward0", det_exact_backward, NULL};

static cg_tensor *det_recorded(cg_tensor *a, const cg_op *op) {
    cg_tensor *out = NULL;
    if (check_square(a, "linalg.det") || det_raw(a, &out, NULL, NULL)) return NULL;
    return record_one(op, out, a, a, out);
}

cg_tensor *cg_linalg_det(cg_tensor *a) { return det_recorded(a, &det_op); }

static cg_tensor *det_exact(cg_tensor *a) { return det_recorded(a, &det_exact_op); }

static int slogdet_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d log|det A|/dA = A^-T; not finite where A is singular. The sign's
     * gradient is 0, none at all when it alone has one, as PyTorch's
     * (A in slot 0, the sign in 1) */
    if (!gout[1]) return 0;
    cg_tensor *a = cg_unpack(n, 0), *s = a ? cg_unpack(n, 1) : NULL, *z = s ? below(s, 0) : NULL;
    cg_tensor *it = z ? inverse_t_where(a, z) : NULL, *as = it ? cg_abs(s) : NULL;
    cg_tensor *gs = as ? cg_div(gout[1], as) : NULL; /* g / 0 where singular */
    gin[0] = gs ? scale_matrices(gs, it) : NULL;
    cg_tensor *tmp[6] = {a, s, z, it, as, gs};
    for (int k = 0; k < 6; k++) cg_tensor_release(tmp[k]);
    return gin[0] ? 0 : -1;
}
static const cg_op slogdet_op = {"LinalgSlogdetBackward0", slogdet_backward, NULL};

/* One node for both results, as PyTorch's: the sign is output 0, log|det| 1. */
static int record_slogdet(cg_tensor *a, cg_tensor *sign, cg_tensor *logabsdet) {
    cg_node *n = cg_node_new(&slogdet_op, &a, 1, 2);
    if (!n) return -1;
    cg_set_history(sign, n, 0);
    cg_set_history(logabsdet, n, 1);
    int rc = cg_save(n, 0, a, false) || cg_save(n, 1, sign, true) ? -1 : 0;
    cg_node_release(n);
    return rc;
}

int cg_linalg_slogdet(cg_tensor *a, cg_tensor **sign, cg_tensor **logabsdet) {
    cg_tensor *s = NULL, *l = NULL;
    if (check_square(a, "linalg.slogdet") || det_raw(a, NULL, &s, &l)) return -1;
    if (cg_any_requires_grad(&a, 1) && record_slogdet(a, s, l)) {
        cg_tensor_release(s);
        cg_tensor_release(l);
        return -1;
    }
    *sign = s;
    *logabsdet = l;
    return 0;
}

/* ---- pinverse ------------------------------------------------------------------------------ */

void scipy_sgesdd_(const char *jobz, int *m, int *n, float *a, int *lda, float *s, float *u, int *ldu, float *vt,
                   int *ldvt, float *work, int *lwork, int *iwork, int *info, size_t jobz_len);
void scipy_dgesdd_(const char *jobz, int *m, int *n, double *a, int *lda, double *s, double *u, int *ldu,
                   double *vt, int *ldvt, double *work, int *lwork, int *iwork, int *info, size_t jobz_len);

/* The pseudo-inverse of one matrix by its SVD: a row-major m x n A is a
 * column-major B = A^T (r = n rows, c = m columns); with B = U S V^T, pinv(B)
 * = V S^+ U^T (c x r, column-major) reads row-major as pinv(A). S^+ inverts
 * the singular values above max(atol, rtol * max(S)) and zeroes the others. `a` is
 * overwritten; `ws` holds r*k + k*c + k elements, k = min(r, c). */
#define CG_PINV_ONE(T, gesdd)                                                                          \
    static int pinv_one_##T(T *a, int r, int c, double atol, double rtol, T *out, T *ws, int *iwork) { \
        int k = r < c ? r : c, lda = r, ldu = r, ldvt = k, lwork = -1, info = 0;                      \
        T *u = ws, *vt = u + (int64_t)r * k, *s = vt + (int64_t)k * c, query;                          \
        gesdd("S", &r, &c, a, &lda, s, u, &ldu, vt, &ldvt, &query, &lwork, iwork, &info, 1);           \
        lwork = (int)query + 1;                                                                        \
        T *work = malloc(sizeof(T) * (size_t)lwork);                                                   \
        if (!work) return cg_error_set(CG_ERR_MEMORY, "out of memory"), -1;                            \
        gesdd("S", &r, &c, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork, &info, 1);             \
        free(work);                                                                                    \
        if (info != 0) return svd_error(info);                                                         \
        double cut = fmax(atol, rtol * (k > 0 ? s[0] : 0)); /* s is sorted, largest first */           \
        for (int l = 0; l < k; l++) s[l] = (double)s[l] > cut ? (T)1 / s[l] : 0;                       \
        for (int j = 0; j < r; j++)                                                                    \
            for (int i = 0; i < c; i++) { /* pinv(B)[i, j] = sum_l V[i, l] S^+[l] U[j, l] */           \
                T acc = 0;                                                                             \
                for (int l = 0; l < k; l++) acc += vt[l + (int64_t)i * k] * s[l] * u[j + (int64_t)l * r]; \
                out[i + (int64_t)j * c] = acc;                                                         \
            }                                                                                          \
        return 0;                                                                                      \
    }

/* gesdd's info as PyTorch reports it: < 0 is LAPACK's complaint about a NaN */
static int svd_error(int info) {
    if (info < 0)
        cg_error_set(CG_ERR_LINALG, "linalg.svd: The algorithm failed to converge because the input matrix "
                     "contained non-finite values.");
    else
        cg_error_set(CG_ERR_LINALG, "linalg.svd: The algorithm failed to converge because the input matrix is "
                     "ill-conditioned or has too many repeated singular values (error code: %d).", info);
    return -1;
}

CG_PINV_ONE(float, scipy_sgesdd_)
CG_PINV_ONE(double, scipy_dgesdd_)

/* pinv of each m x n matrix of a (n x m results), without recording. */
static cg_tensor *pinv_raw(cg_tensor *a, double atol, double rtol) {
    int m = (int)a->shape[a->ndim - 2], n = (int)a->shape[a->ndim - 1], k = m < n ? m : n;
    int64_t batch = batch_of(a), mn = (int64_t)m * n;
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    shape[a->ndim - 2] = n, shape[a->ndim - 1] = m;
    bool f32 = a->dtype == CG_FLOAT32;
    size_t es = f32 ? 4 : 8;
    cg_tensor *c = cg_contiguous(a), *copy = c ? cg_clone(c) : NULL; /* LAPACK overwrites it */
    cg_tensor *out = copy ? cg_zeros(shape, a->ndim, (cg_dtype)a->dtype) : NULL;
    void *ws = malloc(es * (size_t)((int64_t)m * k + (int64_t)k * n + k + 1));
    int *iwork = malloc(sizeof(int) * (size_t)(8 * k + 1));
    int rc = out && ws && iwork ? 0 : -1;
    if (out && (!ws || !iwork)) cg_error_set(CG_ERR_MEMORY, "out of memory");
    for (int64_t b = 0; rc == 0 && k > 0 && b < batch; b++) {
        char *src = cg_ptr(copy) + b * mn * (int64_t)es, *dst = (char *)out->storage->data + b * mn * (int64_t)es;
        rc = f32 ? pinv_one_float((float *)src, n, m, atol, rtol, (float *)dst, ws, iwork)
                 : pinv_one_double((double *)src, n, m, atol, rtol, (double *)dst, ws, iwork);
    }
    free(ws);
    free(iwork);
    cg_tensor_release(c);
    cg_tensor_release(copy);
    if (rc) {
        cg_tensor_release(out);
        return NULL;
    }
    return out;
}

/* (x @ y) with x, y new references released; NULL if either is */
static cg_tensor *mm_take(cg_tensor *x, cg_tensor *y) {
    cg_tensor *r = x && y ? cg_matmul(x, y) : NULL;
    cg_tensor_release(x);
    cg_tensor_release(y);
    return r;
}

static cg_tensor *matmul_ref(cg_tensor *x, cg_tensor *y) { return x && y ? cg_matmul(x, y) : NULL; }

static cg_tensor *sub_take(cg_tensor *x, cg_tensor *y) {
    cg_tensor *r = x && y ? cg_sub(x, y) : NULL;
    cg_tensor_release(x);
    cg_tensor_release(y);
    return r;
}

/* The gradient of pinv for m <= n, with P = pinv(A), G = g^T, K = G P:
 * -(P K)^T + K P^T - A P K P^T + P^T P (G - K A). The m > n case is this
 * one for A^T (pinv(A^T) = P^T), transposed. */
static cg_tensor *pinv_grad_wide(cg_tensor *a, cg_tensor *p, cg_tensor *g) {
    cg_tensor *gt = cg_mT(g), *pt = cg_mT(p);
    cg_tensor *k = matmul_ref(gt, p), *kpt = matmul_ref(k, pt);
    cg_tensor *pk = matmul_ref(p, k), *pkt = pk ? cg_mT(pk) : NULL;
    cg_tensor *t1 = sub_take(kpt ? (cg_tensor_retain(kpt), kpt) : NULL, pkt);  /* K P^T - (P K)^T */
    cg_tensor *t2 = mm_take(matmul_ref(a, p), kpt ? (cg_tensor_retain(kpt), kpt) : NULL); /* A P K P^T */
    cg_tensor *t3 = mm_take(matmul_ref(pt, p), sub_take(gt ? (cg_tensor_retain(gt), gt) : NULL, matmul_ref(k, a)));
    cg_tensor *out = sub_take(t1, t2), *r = out && t3 ? cg_add(out, t3) : NULL;
    cg_tensor *tmp[8] = {gt, pt, k, kpt, pk, out, t3, NULL};
    for (int i = 0; i < 8; i++) cg_tensor_release(tmp[i]);
    return r;
}

static int pinv_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* d pinv(A) for a constant rank: see pinv_grad_wide (A in slot 0, pinv(A) in 1) */
    cg_tensor *a = cg_unpack(n, 0), *p = a ? cg_unpack(n, 1) : NULL;
    if (p && a->shape[a->ndim - 2] <= a->shape[a->ndim - 1]) {
        gin[0] = pinv_grad_wide(a, p, gout[0]);
    } else if (p) {
        cg_tensor *at = cg_mT(a), *ptr = cg_mT(p), *gt = cg_mT(gout[0]);
        cg_tensor *r = at && ptr && gt ? pinv_grad_wide(at, ptr, gt) : NULL;
        gin[0] = r ? cg_mT(r) : NULL;
        cg_tensor *tmp[4] = {at, ptr, gt, r};
        for (int i = 0; i < 4; i++) cg_tensor_release(tmp[i]);
    }
    cg_tensor_release(a);
    cg_tensor_release(p);
    return gin[0] ? 0 : -1;
}
static const cg_op pinv_op = {"LinalgPinvBackward0", pinv_backward, NULL};

cg_tensor *cg_linalg_pinv(cg_tensor *a, double atol, double rtol) {
    if (a->ndim < 2 || (a->dtype != CG_FLOAT32 && a->dtype != CG_FLOAT64)) {
        char shape[160];
        cg_error_set(CG_ERR_RUNTIME, "linalg.pinv(%s{%s}): expected a tensor with 2 or more dimensions of float, "
                     "double, cfloat or cdouble types", cg_dtype_torch_name((cg_dtype)a->dtype),
                     cg_shape_str(a->shape, a->ndim, shape, sizeof shape));
        return NULL;
    }
    if (a->shape[a->ndim - 1] > INT32_MAX / 64 || a->shape[a->ndim - 2] > INT32_MAX / 64) {
        cg_error_set(CG_ERR_RUNTIME, "linalg.pinv: matrices too large");
        return NULL;
    }
    int on = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    cg_tensor *out = pinv_raw(a, atol, rtol);
    cg_set_grad_enabled(on);
    return record_one(&pinv_op, out, a, a, out);
}
