/* Factorizations and solvers over LAPACK: cholesky, triangular and general
 * solves, lu (factor, unpack, solve), eigh, qr and svd of batches of
 * matrices, each one node whose backward formula is PyTorch's, written with
 * recorded ops so that a higher order follows.
 *
 * LAPACK is column-major: each matrix goes in as a contiguous copy of its
 * transpose (col_major) and comes back transposed (row_major). The routines
 * are declared on void * so that one call site serves float and double. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void scipy_spotrf_(const char *uplo, int *n, void *a, int *lda, int *info, size_t);
void scipy_dpotrf_(const char *uplo, int *n, void *a, int *lda, int *info, size_t);
void scipy_sgetrf_(int *m, int *n, void *a, int *lda, int *ipiv, int *info);
void scipy_dgetrf_(int *m, int *n, void *a, int *lda, int *ipiv, int *info);
void scipy_sgetrs_(const char *trans, int *n, int *nrhs, void *a, int *lda, int *ipiv, void *b, int *ldb, int *info,
                   size_t);
void scipy_dgetrs_(const char *trans, int *n, int *nrhs, void *a, int *lda, int *ipiv, void *b, int *ldb, int *info,
                   size_t);
void scipy_ssytrf_(const char *uplo, int *n, void *a, int *lda, int *ipiv, void *work, int *lwork, int *info, size_t);
void scipy_dsytrf_(const char *uplo, int *n, void *a, int *lda, int *ipiv, void *work, int *lwork, int *info, size_t);
void scipy_ssytrs_(const char *uplo, int *n, int *nrhs, void *a, int *lda, int *ipiv, void *b, int *ldb, int *info,
                   size_t);
void scipy_dsytrs_(const char *uplo, int *n, int *nrhs, void *a, int *lda, int *ipiv, void *b, int *ldb, int *info,
                   size_t);
void scipy_ssyevd_(const char *jobz, const char *uplo, int *n, void *a, int *lda, void *w, void *work, int *lwork,
                   int *iwork, int *liwork, int *info, size_t, size_t);
void scipy_dsyevd_(const char *jobz, const char *uplo, int *n, void *a, int *lda, void *w, void *work, int *lwork,
                   int *iwork, int *liwork, int *info, size_t, size_t);
void scipy_sgeqrf_(int *m, int *n, void *a, int *lda, void *tau, void *work, int *lwork, int *info);
void scipy_dgeqrf_(int *m, int *n, void *a, int *lda, void *tau, void *work, int *lwork, int *info);
void scipy_sorgqr_(int *m, int *n, int *k, void *a, int *lda, void *tau, void *work, int *lwork, int *info);
void scipy_dorgqr_(int *m, int *n, int *k, void *a, int *lda, void *tau, void *work, int *lwork, int *info);
void scipy_sgesdd_(const char *jobz, int *m, int *n, void *a, int *lda, void *s, void *u, int *ldu, void *vt,
                   int *ldvt, void *work, int *lwork, int *iwork, int *info, size_t);
void scipy_dgesdd_(const char *jobz, int *m, int *n, void *a, int *lda, void *s, void *u, int *ldu, void *vt,
                   int *ldvt, void *work, int *lwork, int *iwork, int *info, size_t);

/* ---- temporaries ----------------------------------------------------------------------------- */

/* The tensors a formula makes, released together: K(expr) keeps expr's
 * result, and after one failure evaluates nothing more (so no op sees a NULL). */
#define POOL_MAX 64
typedef struct pool {
    cg_tensor *t[POOL_MAX];
    int n;
    bool bad;
} pool;

static cg_tensor *keep(pool *p, cg_tensor *t) {
    if (t && p->n == POOL_MAX) {
        cg_tensor_release(t);
        cg_error_set(CG_ERR_RUNTIME, "linalg: too many temporaries");
        t = NULL;
    }
    if (!t) p->bad = true;
    else p->t[p->n++] = t;
    return t;
}
#define K(expr) (P.bad ? NULL : keep(&P, (expr)))

static void drop(pool *p) {
    for (int i = 0; i < p->n; i++) cg_tensor_release(p->t[i]);
    p->n = 0;
}

/* t as a new reference when the pool holds no failure (NULL otherwise); drops the pool */
static cg_tensor *give(pool *p, cg_tensor *t) {
    if (p->bad || !t) t = NULL;
    else cg_tensor_retain(t);
    drop(p);
    return t;
}

/* ---- layout and checks ----------------------------------------------------------------------- */

static int64_t batch_count(const cg_tensor *a) {
    int64_t b = 1;
    for (int d = 0; d < a->ndim - 2; d++) b *= a->shape[d];
    return b;
}

static int64_t rows(const cg_tensor *a) { return a->shape[a->ndim - 2]; }
static int64_t cols(const cg_tensor *a) { return a->shape[a->ndim - 1]; }

/* A new contiguous tensor holding each matrix of a transposed: column-major A, LAPACK's to overwrite. */
static cg_tensor *col_major(cg_tensor *a) {
    cg_tensor *t = cg_mT(a), *c = t ? cg_empty(t->shape, t->ndim, (cg_dtype)a->dtype) : NULL;
    if (c && cg_copy_data(c, t)) {
        cg_tensor_release(c);
        c = NULL;
    }
    cg_tensor_release(t);
    return c;
}

/* The contiguous row-major tensor of the column-major matrices of c. */
static cg_tensor *row_major(cg_tensor *c) {
    cg_tensor *t = cg_mT(c), *r = t ? cg_contiguous(t) : NULL;
    cg_tensor_release(t);
    return r;
}

static void *mat_at(const cg_tensor *c, int64_t k, int64_t size) {
    return (char *)c->storage->data + k * size * (int64_t)cg_elem_size((cg_dtype)c->dtype);
}

static int check_matrix(const cg_tensor *a, const char *fname, const char *name, bool square, bool floating) {
    if (a->ndim < 2)
        return cg_error_set(CG_ERR_RUNTIME, "%s: The input tensor %s must have at least 2 dimensions.", fname, name),
               -1;
    if (square && rows(a) != cols(a))
        return cg_error_set(CG_ERR_RUNTIME, "%s: A must be batches of square matrices, but they are %lld by %lld "
                            "matrices", fname, (long long)rows(a), (long long)cols(a)), -1;
    if (floating && a->dtype != CG_FLOAT32 && a->dtype != CG_FLOAT64)
        return cg_error_set(CG_ERR_RUNTIME, "%s: Expected a floating point or complex tensor as input. Got %s", fname,
                            cg_dtype_torch_name((cg_dtype)a->dtype)), -1;
    if (rows(a) > 46340 || cols(a) > 46340) /* m * n must fit LAPACK's 32-bit ints */
        return cg_error_set(CG_ERR_RUNTIME, "%s: matrices of %lld by %lld are too large", fname, (long long)rows(a),
                            (long long)cols(a)), -1;
    return 0;
}

/* "(Batch element k): " for a batch, as PyTorch prefixes its errors */
static const char *batch_note(bool batched, int64_t k, char *buf, size_t size) {
    if (batched) snprintf(buf, size, "(Batch element %lld): ", (long long)k);
    else buf[0] = 0;
    return buf;
}

/* A 0-filled int64 tensor of a's batch shape (LAPACK's info per matrix). */
static cg_tensor *info_like(const cg_tensor *a) { return cg_zeros(a->shape, a->ndim - 2, CG_INT64); }

/* a and b expanded to their broadcast batch shape, as a (.., ra, ca) and b (.., rb, cb) */
static int broadcast_batch(cg_tensor *a, cg_tensor *b, cg_tensor **ea, cg_tensor **eb) {
    int64_t out[CG_MAX_DIMS], sa[CG_MAX_DIMS], sb[CG_MAX_DIMS];
    int nb;
    if (cg_broadcast_shapes(a->shape, a->ndim - 2, b->shape, b->ndim - 2, out, &nb)) return -1;
    memcpy(sa, out, sizeof(int64_t) * (size_t)nb), memcpy(sb, out, sizeof(int64_t) * (size_t)nb);
    sa[nb] = rows(a), sa[nb + 1] = cols(a), sb[nb] = rows(b), sb[nb + 1] = cols(b);
    *ea = cg_expand(a, sa, nb + 2);
    *eb = *ea ? cg_expand(b, sb, nb + 2) : NULL;
    if (!*eb) cg_tensor_release(*ea);
    return *eb ? 0 : -1;
}

/* Records out[i] (NULL: none) as output i of one node of op over inputs, saving save[j] in slot j
 * (is_out[j]: it is one of the outputs) and ints in n->i. Nothing when no input requires grad. */
static int record(const cg_op *op, cg_tensor **inputs, int n_in, cg_tensor **out, int n_out, cg_tensor **save,
                  const bool *is_out, int n_save, const int64_t *ints, int n_ints) {
    if (!cg_any_requires_grad(inputs, n_in)) return 0;
    cg_node *n = cg_node_new(op, inputs, n_in, (uint32_t)n_out);
    if (!n) return -1;
    int rc = 0;
    for (int i = 0; i < n_out; i++) /* first: a saved output keeps its output_nr */
        if (out[i]) cg_set_history(out[i], n, (uint32_t)i);
    for (int j = 0; j < n_save && !rc; j++) rc = cg_save(n, j, save[j], is_out[j]);
    for (int i = 0; i < n_ints; i++) n->i[i] = ints[i];
    cg_node_release(n);
    return rc;
}

static double work_size(const void *w, bool f32) { return f32 ? *(const float *)w : *(const double *)w; }

/* gin[i] = g[i] summed to input i's shape, for each input wanted; drops the pool */
static int give_grads(cg_node *n, pool *p, cg_tensor **gin, cg_tensor *g0, cg_tensor *g1) {
    cg_tensor *g[2] = {g0, g1};
    bool ok = !p->bad;
    for (int i = 0; i < 2 && ok; i++)
        if (g[i] && cg_wants(n, i)) {
            cg_tensor_retain(g[i]);
            ok = (gin[i] = cg_reduce_grad(n, i, g[i])) != NULL;
        }
    drop(p);
    return ok ? 0 : -1;
}

/* ---- triangular solve ----------------------------------------------------------------------- */

/* Solves op(A) X = B (left) or X A = B in place of contiguous row-major b, batch by batch. */
static void trsm_all(cg_tensor *a, cg_tensor *x, bool upper, bool left, bool unit) {
    int m = (int)rows(x), nn = (int)cols(x), na = (int)rows(a);
    int64_t batch = batch_count(x);
    for (int64_t k = 0; k < batch && m > 0 && nn > 0; k++) {
        void *pa = mat_at(a, k, (int64_t)na * na), *px = mat_at(x, k, (int64_t)m * nn);
        CBLAS_SIDE side = left ? CblasLeft : CblasRight;
        CBLAS_UPLO uplo = upper ? CblasUpper : CblasLower;
        CBLAS_DIAG diag = unit ? CblasUnit : CblasNonUnit;
        if (a->dtype == CG_FLOAT32)
            scipy_cblas_strsm(CblasRowMajor, side, uplo, CblasNoTrans, diag, m, nn, 1.0f, pa, na, px, nn);
        else
            scipy_cblas_dtrsm(CblasRowMajor, side, uplo, CblasNoTrans, diag, m, nn, 1.0, pa, na, px, nn);
    }
}

static int solve_triangular_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* X = A^-1 B: gB = A^-T g, gA = -gB X^T kept to A's triangle (X = B A^-1: gB = g A^-T, gA = -X^T gB);
     * A in slot 0, X in 1, i[] = upper, left, unitriangular */
    pool P = {0};
    bool upper = n->i[0], left = n->i[1], unit = n->i[2];
    cg_tensor *a = K(cg_unpack(n, 0)), *x = K(cg_unpack(n, 1)), *at = K(cg_mT(a));
    cg_tensor *gb = K(cg_linalg_solve_triangular(at, gout[0], !upper, left, unit));
    cg_tensor *xt = K(cg_mT(x)), *prod = left ? K(cg_matmul(gb, xt)) : K(cg_matmul(xt, gb));
    cg_tensor *tri = K(cg_triangle(prod, upper ? (unit ? 1 : 0) : (unit ? -1 : 0), !upper)), *ga = K(cg_neg(tri));
    return give_grads(n, &P, gin, ga, gb);
}
static const cg_op solve_triangular_op = {"LinalgSolveTriangularBackward0", solve_triangular_backward, NULL};

cg_tensor *cg_linalg_solve_triangular(cg_tensor *a, cg_tensor *b, int upper, int left, int unitriangular) {
    const char *f = "linalg.solve_triangular";
    if (check_matrix(a, f, "A", false, false) || check_matrix(b, f, "B", false, false) ||
        check_matrix(a, f, "A", true, true))
        return NULL;
    if (a->dtype != b->dtype)
        return cg_error_set(CG_ERR_RUNTIME, "%s: Expected A and B to have the same dtype, but found A of type %s and B "
                            "of type %s instead", f, cg_dtype_torch_name((cg_dtype)a->dtype),
                            cg_dtype_torch_name((cg_dtype)b->dtype)), NULL;
    if ((left ? rows(b) : cols(b)) != rows(a))
        return cg_error_set(CG_ERR_RUNTIME, "%s: Incompatible shapes of A and B for the equation %s = B (%lldx%lld and "
                            "%lldx%lld)", f, left ? "AX" : "XA", (long long)rows(a), (long long)cols(a),
                            (long long)rows(b), (long long)cols(b)), NULL;
    cg_tensor *ea = NULL, *eb = NULL;
    if (broadcast_batch(a, b, &ea, &eb)) return NULL;
    int on = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    cg_tensor *ca = cg_contiguous(ea), *x = ca ? cg_clone(eb) : NULL, *xc = x ? cg_contiguous(x) : NULL;
    cg_set_grad_enabled(on);
    if (xc) trsm_all(ca, xc, upper, left, unitriangular);
    cg_tensor_release(ea), cg_tensor_release(eb), cg_tensor_release(ca), cg_tensor_release(x);
    cg_tensor *in[2] = {a, b}, *save[2] = {a, xc};
    int64_t ints[3] = {upper, left, unitriangular};
    if (xc && record(&solve_triangular_op, in, 2, &xc, 1, save, (bool[]){false, true}, 2, ints, 3)) {
        cg_tensor_release(xc);
        return NULL;
    }
    return xc;
}

/* Runs the statement with grad mode off: the raw kernels below record nothing. */
#define NO_GRAD(...)                         \
    do {                                     \
        int on_ = cg_is_grad_enabled();      \
        cg_set_grad_enabled(0);              \
        __VA_ARGS__;                         \
        cg_set_grad_enabled(on_);            \
    } while (0)

static bool f32_of(const cg_tensor *a) { return a->dtype == CG_FLOAT32; }

/* The first k whose info is not 0 (-1: none) */
static int64_t first_failed(const cg_tensor *info) {
    const int64_t *p = (const int64_t *)info->storage->data;
    for (int64_t k = 0; k < info->numel; k++)
        if (p[k]) return k;
    return -1;
}

/* ---- cholesky ------------------------------------------------------------------------------- */

/* L (or U = L^T) of each matrix, the other triangle zeroed, and LAPACK's info per matrix. */
static int cholesky_raw(cg_tensor *a, bool upper, cg_tensor **l, cg_tensor **info) {
    pool P = {0};
    int n = (int)rows(a), lda = n > 0 ? n : 1;
    cg_tensor *c = K(col_major(a)), *inf = K(info_like(a));
    for (int64_t k = 0; !P.bad && n > 0 && k < batch_count(a); k++) {
        int in = 0;
        (f32_of(a) ? scipy_spotrf_ : scipy_dpotrf_)(upper ? "U" : "L", &n, mat_at(c, k, (int64_t)n * n), &lda, &in, 1);
        ((int64_t *)inf->storage->data)[k] = in;
    }
    cg_tensor *r = K(row_major(c)), *t = K(cg_triangle(r, 0, !upper));
    *info = !P.bad ? (cg_tensor_retain(inf), inf) : NULL;
    *l = give(&P, t);
    if (!*l) cg_tensor_release(*info);
    return *l ? 0 : -1;
}

static int cholesky_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* A = L L^T: gA = L^-T Phi L^-1, Phi = tril(L^T gL) made symmetric with its diagonal halved, as
     * PyTorch's (L in slot 0; i[0] = upper, the factor being U = L^T) */
    pool P = {0};
    bool upper = n->i[0];
    cg_tensor *l0 = K(cg_unpack(n, 0)), *l = upper ? K(cg_mT(l0)) : l0, *g = upper ? K(cg_mT(gout[0])) : gout[0];
    cg_tensor *lt = K(cg_mT(l)), *phi = K(cg_matmul(lt, g)), *low = K(cg_triangle(phi, 0, 1));
    cg_tensor *strict = K(cg_triangle(low, -1, 1)), *st = K(cg_mT(strict)), *sum = K(cg_add(low, st));
    cg_tensor *half = K(cg_scalar_tensor(0.5, CG_FLOAT64, sum)), *s = K(cg_mul(sum, half));
    cg_tensor *y = K(cg_linalg_solve_triangular(lt, s, 1, 1, 0));
    cg_tensor *ga = K(cg_linalg_solve_triangular(l, y, 0, 0, 0));
    return give_grads(n, &P, gin, ga, NULL);
}
static const cg_op cholesky_op = {"LinalgCholeskyExBackward0", cholesky_backward, NULL};

int cg_linalg_cholesky_ex(cg_tensor *a, int upper, const char *check_name, cg_tensor **l, cg_tensor **info) {
    if (check_matrix(a, "linalg.cholesky", "A", true, true)) return -1;
    int rc;
    NO_GRAD(rc = cholesky_raw(a, upper, l, info));
    if (rc) return -1;
    int64_t k = check_name ? first_failed(*info) : -1;
    if (k >= 0) {
        char note[48];
        cg_error_set(CG_ERR_LINALG, "%s: %sThe factorization could not be completed because the input is not "
                     "positive-definite (the leading minor of order %lld is not positive-definite).", check_name,
                     batch_note(a->ndim > 2, k, note, sizeof note), (long long)((int64_t *)(*info)->storage->data)[k]);
    }
    int64_t ints[1] = {upper};
    if (k >= 0 || record(&cholesky_op, &a, 1, l, 1, l, (bool[]){true}, 1, ints, 1)) {
        cg_tensor_release(*l), cg_tensor_release(*info);
        return -1;
    }
    return 0;
}

/* ---- LU ------------------------------------------------------------------------------------- */

/* LAPACK's LU of each m x n matrix of a: the factors column-major in *c (.., n, m), the 1-based
 * pivots (.., min(m, n)) and info as int64. */
static int lu_raw(cg_tensor *a, cg_tensor **c, cg_tensor **piv, cg_tensor **info) {
    pool P = {0};
    int m = (int)rows(a), n = (int)cols(a), k = m < n ? m : n, lda = m > 0 ? m : 1;
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    shape[a->ndim - 2] = k;
    cg_tensor *cm = K(col_major(a)), *pv = K(cg_zeros(shape, a->ndim - 1, CG_INT64)), *inf = K(info_like(a));
    int *ip = malloc(sizeof(int) * (size_t)(k + 1));
    if (!ip) cg_error_set(CG_ERR_MEMORY, "out of memory"), P.bad = true;
    for (int64_t b = 0; !P.bad && k > 0 && b < batch_count(a); b++) {
        int in = 0;
        (f32_of(a) ? scipy_sgetrf_ : scipy_dgetrf_)(&m, &n, mat_at(cm, b, (int64_t)m * n), &lda, ip, &in);
        for (int i = 0; i < k; i++) ((int64_t *)pv->storage->data)[b * k + i] = ip[i];
        ((int64_t *)inf->storage->data)[b] = in;
    }
    free(ip);
    if (!P.bad) *piv = (cg_tensor_retain(pv), pv), *info = (cg_tensor_retain(inf), inf);
    *c = give(&P, cm);
    return *c ? 0 : -1;
}

/* The (.., m, m) permutation matrices P of the 1-based pivots (.., k): A = P L U. */
static cg_tensor *pivots_to_p(cg_tensor *piv, int64_t m, cg_dtype dtype) {
    int64_t shape[CG_MAX_DIMS], k = piv->shape[piv->ndim - 1], batch = piv->numel / (k ? k : 1);
    memcpy(shape, piv->shape, sizeof(int64_t) * (size_t)piv->ndim);
    shape[piv->ndim - 1] = m, shape[piv->ndim] = m;
    cg_tensor *pc = cg_contiguous(piv), *p = pc ? cg_zeros(shape, piv->ndim + 1, dtype) : NULL;
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)(m + 1));
    if (p && !perm) cg_error_set(CG_ERR_MEMORY, "out of memory");
    for (int64_t b = 0; p && perm && b < (k ? batch : batch_count(p)); b++) {
        const int64_t *pb = (const int64_t *)cg_ptr(pc) + b * k;
        for (int64_t i = 0; i < m; i++) perm[i] = i;
        for (int64_t i = 0; i < k; i++) { /* row i was swapped with row pb[i] - 1 */
            int64_t j = pb[i] - 1 >= 0 && pb[i] - 1 < m ? pb[i] - 1 : i, t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        for (int64_t i = 0; i < m; i++) { /* (P^T A)[i] = A[perm[i]] */
            int64_t at = b * m * m + perm[i] * m + i;
            if (dtype == CG_FLOAT32) ((float *)p->storage->data)[at] = 1;
            else ((double *)p->storage->data)[at] = 1;
        }
    }
    if (!perm) cg_tensor_release(p), p = NULL;
    free(perm);
    cg_tensor_release(pc);
    return p;
}

/* L (m x k, unit diagonal) and U (k x n) packed in lu (m x n), recorded. */
static int unpack_lu(cg_tensor *lu, cg_tensor **l, cg_tensor **u) {
    pool P = {0};
    int64_t m = rows(lu), n = cols(lu), k = m < n ? m : n;
    cg_tensor *low = K(cg_triangle(lu, -1, 1)), *lk = K(cg_narrow(low, -1, 0, k)), *eye = K(cg_eye(m, k, lu->dtype));
    cg_tensor *lo = K(cg_add(lk, eye)), *up = K(cg_triangle(lu, 0, 0)), *uk = K(cg_narrow(up, -2, 0, k));
    *u = !P.bad ? (cg_tensor_retain(uk), uk) : NULL;
    *l = give(&P, lo);
    if (!*l) cg_tensor_release(*u);
    return *l ? 0 : -1;
}

/* gA of A = P L U from gL (m x k) and gU (k x n), either NULL for none: PyTorch's linalg_lu_backward
 * (for m = n: P L^-T [tril(L^T gL, -1) + triu(gU U^T)] U^-T; the wide and tall cases also
 * carry the rectangular block). Recorded. */
static cg_tensor *lu_grad(cg_tensor *gl, cg_tensor *gu, cg_tensor *p, cg_tensor *l, cg_tensor *u) {
    pool P = {0};
    int64_t m = rows(l), n = cols(u), k = cols(l);
    cg_tensor *lt = K(cg_mT(l)), *ut = K(cg_mT(u)), *ga = NULL;
    if (m == n) {
        cg_tensor *x = gl ? K(cg_triangle(K(cg_matmul(lt, gl)), -1, 1)) : NULL;
        cg_tensor *y = gu ? K(cg_triangle(K(cg_matmul(gu, ut)), 0, 0)) : NULL;
        cg_tensor *s = x && y ? K(cg_add(x, y)) : x ? x : y;
        cg_tensor *r = K(cg_linalg_solve_triangular(ut, s, 0, 0, 0));
        ga = K(cg_linalg_solve_triangular(lt, r, 1, 1, 1));
    } else if (m < n) { /* wide: U = [U1 | U2] */
        cg_tensor *u1 = K(cg_narrow(u, -1, 0, k)), *u1t = K(cg_mT(u1));
        cg_tensor *x = gl ? K(cg_matmul(lt, gl)) : NULL;
        cg_tensor *y = gu ? K(cg_matmul(K(cg_triangle(gu, 0, 0)), ut)) : NULL;
        cg_tensor *s = x && y ? K(cg_sub(x, y)) : x ? x : K(cg_neg(y));
        cg_tensor *r = K(cg_linalg_solve_triangular(u1t, K(cg_triangle(s, -1, 1)), 0, 0, 0)), *full;
        if (gu) {
            cg_tensor *parts[2] = {K(cg_add(r, K(cg_triangle(K(cg_narrow(gu, -1, 0, k)), 0, 0)))),
                                   K(cg_narrow(gu, -1, k, n - k))};
            full = P.bad ? NULL : K(cg_cat(parts, 2, -1));
        } else full = r;
        ga = K(cg_linalg_solve_triangular(lt, full, 1, 1, 1));
        if (!gu) {
            cg_tensor *u2 = K(cg_narrow(u, -1, k, n - k)), *z = K(cg_zeros(u2->shape, u2->ndim, u2->dtype));
            cg_tensor *parts[2] = {ga, z};
            ga = P.bad ? NULL : K(cg_cat(parts, 2, -1));
        }
    } else { /* tall: L = [L1; L2] */
        cg_tensor *l1 = K(cg_narrow(l, -2, 0, k)), *l1t = K(cg_mT(l1));
        cg_tensor *x = gu ? K(cg_matmul(gu, ut)) : NULL;
        cg_tensor *y = gl ? K(cg_matmul(lt, K(cg_triangle(gl, -1, 1)))) : NULL;
        cg_tensor *s = x && y ? K(cg_sub(x, y)) : x ? x : K(cg_neg(y));
        cg_tensor *r = K(cg_linalg_solve_triangular(l1t, K(cg_triangle(s, 0, 0)), 1, 1, 1)), *full;
        if (gl) {
            cg_tensor *parts[2] = {K(cg_add(r, K(cg_triangle(K(cg_narrow(gl, -2, 0, k)), -1, 1)))),
                                   K(cg_narrow(gl, -2, k, m - k))};
            full = P.bad ? NULL : K(cg_cat(parts, 2, -2));
        } else full = r;
        ga = K(cg_linalg_solve_triangular(ut, full, 0, 0, 0));
        if (!gl) {
            cg_tensor *l2 = K(cg_narrow(l, -2, k, m - k)), *z = K(cg_zeros(l2->shape, l2->ndim, l2->dtype));
            cg_tensor *parts[2] = {ga, z};
            ga = P.bad ? NULL : K(cg_cat(parts, 2, -2));
        }
    }
    return give(&P, K(cg_matmul(p, ga)));
}

static int lu_factor_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* through the unpacked factors: gL = tril(g, -1), gU = triu(g) (LU in slot 0, pivots in 1) */
    pool P = {0};
    cg_tensor *lu = K(cg_unpack(n, 0)), *piv = K(cg_unpack(n, 1)), *l = NULL, *u = NULL;
    if (!P.bad && unpack_lu(lu, &l, &u)) P.bad = true;
    K(l), K(u);
    int64_t k = P.bad ? 0 : cols(l);
    cg_tensor *p = P.bad ? NULL : K(pivots_to_p(piv, rows(lu), lu->dtype));
    cg_tensor *gl = K(cg_narrow(K(cg_triangle(gout[0], -1, 1)), -1, 0, k));
    cg_tensor *gu = K(cg_narrow(K(cg_triangle(gout[0], 0, 0)), -2, 0, k));
    cg_tensor *ga = P.bad ? NULL : K(lu_grad(gl, gu, p, l, u));
    return give_grads(n, &P, gin, ga, NULL);
}
static const cg_op lu_factor_op = {"LinalgLuFactorExBackward0", lu_factor_backward, NULL};

int cg_linalg_lu_factor_ex(cg_tensor *a, cg_tensor **lu, cg_tensor **piv, cg_tensor **info) {
    if (check_matrix(a, "linalg.lu_factor", "A", false, true)) return -1;
    cg_tensor *c = NULL;
    int rc;
    NO_GRAD(rc = lu_raw(a, &c, piv, info); *lu = rc ? NULL : row_major(c));
    cg_tensor_release(c);
    if (!rc && !*lu) cg_tensor_release(*piv), cg_tensor_release(*info);
    if (!*lu) return -1;
    cg_tensor *save[2] = {*lu, *piv};
    if (record(&lu_factor_op, &a, 1, lu, 1, save, (bool[]){true, false}, 2, NULL, 0)) {
        cg_tensor_release(*lu), cg_tensor_release(*piv), cg_tensor_release(*info);
        return -1;
    }
    return 0;
}

static int lu_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* PyTorch's linalg_lu_backward (P, L, U in slots 0, 1, 2) */
    pool P = {0};
    cg_tensor *p = K(cg_unpack(n, 0)), *l = K(cg_unpack(n, 1)), *u = K(cg_unpack(n, 2));
    cg_tensor *ga = P.bad ? NULL : K(lu_grad(gout[1], gout[2], p, l, u));
    return give_grads(n, &P, gin, ga, NULL);
}
static const cg_op lu_op = {"LinalgLuBackward0", lu_backward, NULL};

int cg_linalg_lu(cg_tensor *a, cg_tensor **p, cg_tensor **l, cg_tensor **u) {
    if (check_matrix(a, "linalg.lu", "A", false, true)) return -1;
    pool P = {0};
    cg_tensor *c = NULL, *piv = NULL, *info = NULL, *lu = NULL, *lo = NULL, *up = NULL, *uc = NULL;
    int rc;
    NO_GRAD(rc = lu_raw(a, &c, &piv, &info); if (!rc) K(c), K(piv), K(info), lu = K(row_major(c));
            if (!P.bad && unpack_lu(lu, &lo, &up)) P.bad = true; K(lo), K(up); uc = K(cg_clone(up)));
    if (rc) return drop(&P), -1;
    cg_tensor *pm = K(pivots_to_p(piv, rows(a), a->dtype)), *outs[3] = {NULL, lo, uc}, *save[3] = {pm, lo, uc};
    if (!P.bad && record(&lu_op, &a, 1, outs, 3, save, (bool[]){false, true, true}, 3, NULL, 0)) P.bad = true;
    if (!P.bad) cg_tensor_retain(lo), cg_tensor_retain(uc), *l = lo, *u = uc;
    *p = give(&P, pm);
    return *p ? 0 : -1;
}

/* Solves op(A) X = B for the column-major LU factors c (.., n, n) with int64 pivots piv (.., n) and the
 * column-major right-hand sides x (.., k, n), in place; all of one batch shape. */
static int getrs_all(cg_tensor *c, cg_tensor *piv, cg_tensor *x, bool trans) {
    int n = (int)cols(c), k = (int)rows(x), ld = n > 0 ? n : 1, info = 0;
    int *ip = malloc(sizeof(int) * (size_t)(n + 1));
    if (!ip) return cg_error_set(CG_ERR_MEMORY, "out of memory"), -1;
    const int64_t *pv = (const int64_t *)cg_ptr(piv);
    for (int64_t b = 0; n > 0 && k > 0 && b < batch_count(c); b++) {
        for (int i = 0; i < n; i++) ip[i] = (int)pv[b * n + i];
        (f32_of(c) ? scipy_sgetrs_ : scipy_dgetrs_)(trans ? "T" : "N", &n, &k, mat_at(c, b, (int64_t)n * n), &ld, ip,
                                                    mat_at(x, b, (int64_t)n * k), &ld, &info, 1);
    }
    free(ip);
    return 0;
}

/* ---- solve ---------------------------------------------------------------------------------- */

static int solve_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* X = A^-1 B: gB = A^-T g, gA = -gB X^T (X = B A^-1: gB = g A^-T, gA = -X^T gB); A in slot 0,
     * X in 1, i[] = left, B a vector */
    pool P = {0};
    bool left = n->i[0], vec = n->i[1];
    cg_tensor *a = K(cg_unpack(n, 0)), *x = K(cg_unpack(n, 1)), *g = gout[0], *gb = NULL, *info = NULL;
    if (vec) x = K(cg_unsqueeze(x, -1)), g = K(cg_unsqueeze(g, -1));
    cg_tensor *at = K(cg_mT(a)), *xt = K(cg_mT(x));
    if (!P.bad && cg_linalg_solve_ex(at, g, left, "torch.linalg.solve", &gb, &info)) P.bad = true;
    K(gb), K(info);
    cg_tensor *ga = K(cg_neg(left ? K(cg_matmul(gb, xt)) : K(cg_matmul(xt, gb))));
    if (vec) gb = K(cg_squeeze(gb, (int64_t[]){-1}, 1));
    return give_grads(n, &P, gin, ga, gb);
}
static const cg_op solve_op = {"LinalgSolveExBackward0", solve_backward, NULL};

/* X of A X = B for a (.., n, n) and b (.., n, k) of one batch shape, and LAPACK's info per matrix */
static int solve_raw(cg_tensor *a, cg_tensor *b, cg_tensor **x, cg_tensor **info) {
    pool P = {0};
    cg_tensor *c = NULL, *piv = NULL;
    if (lu_raw(a, &c, &piv, info)) return -1;
    K(c), K(piv);
    cg_tensor *xc = K(col_major(b));
    if (!P.bad && getrs_all(c, piv, xc, false)) P.bad = true;
    *x = give(&P, K(row_major(xc)));
    if (!*x) cg_tensor_release(*info);
    return *x ? 0 : -1;
}

int cg_linalg_solve_ex(cg_tensor *a, cg_tensor *b, int left, const char *check_name, cg_tensor **x,
                       cg_tensor **info) {
    const char *f = "linalg.solve";
    if (check_matrix(a, f, "A", true, true)) return -1;
    if (a->dtype != b->dtype)
        return cg_error_set(CG_ERR_RUNTIME, "%s: Expected A and B to have the same dtype, but found A of type %s and B "
                            "of type %s instead", f, cg_dtype_torch_name((cg_dtype)a->dtype),
                            cg_dtype_torch_name((cg_dtype)b->dtype)), -1;
    /* B is a vector (or a batch of them) when it has one dim less than A and A's shape otherwise */
    bool vec = b->ndim == 1 || (b->ndim == a->ndim - 1 && cg_shape_eq(b->shape, b->ndim, a->shape, a->ndim - 1));
    pool P = {0};
    cg_tensor *bm = vec ? K(cg_unsqueeze(b, -1)) : b;
    if (!P.bad && bm->ndim < 2)
        return drop(&P), cg_error_set(CG_ERR_RUNTIME, "%s: The input tensor B must have at least 2 dimensions.", f), -1;
    if (!P.bad && (left ? rows(bm) : cols(bm)) != rows(a)) {
        cg_error_set(CG_ERR_RUNTIME, "%s: Incompatible shapes of A and B for the equation %s = B (%lldx%lld and "
                     "%lldx%lld)", f, left ? "AX" : "XA", (long long)rows(a), (long long)cols(a), (long long)rows(bm),
                     (long long)cols(bm));
        return drop(&P), -1;
    }
    cg_tensor *ea = NULL, *eb = NULL, *xs = NULL, *out = NULL;
    NO_GRAD(cg_tensor *al = left ? a : K(cg_mT(a)), *bl = left ? bm : K(cg_mT(bm));
            if (!P.bad && broadcast_batch(al, bl, &ea, &eb)) P.bad = true; K(ea), K(eb);
            if (!P.bad && solve_raw(ea, eb, &xs, info)) P.bad = true; K(xs);
            cg_tensor *xl = left ? xs : K(cg_contiguous(K(cg_mT(xs))));
            out = vec ? K(cg_clone(K(cg_squeeze(xl, (int64_t[]){-1}, 1)))) : xl);
    if (P.bad) return drop(&P), -1;
    int64_t k = check_name ? first_failed(*info) : -1;
    if (k >= 0) {
        char note[48];
        cg_error_set(CG_ERR_LINALG, "%s: %sThe solver failed because the input matrix is singular.", check_name,
                     batch_note((*info)->ndim > 0, k, note, sizeof note));
    }
    cg_tensor *in[2] = {a, b}, *save[2] = {a, out};
    int64_t ints[2] = {left, vec};
    if (k >= 0 || record(&solve_op, in, 2, &out, 1, save, (bool[]){false, true}, 2, ints, 2)) {
        cg_tensor_release(*info);
        return drop(&P), -1;
    }
    *x = give(&P, out);
    return 0;
}

/* ---- lu_solve ------------------------------------------------------------------------------- */

static int lu_solve_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* gB solves the adjoint system; gA as for a solve (X = A^-1 B: -gB X^T, X = A^-T B: -X gB^T,
     * X = B A^-1: -X^T gB, X = B A^-T: -gB^T X), then through A = P L U: gLU = tril(P^T gA U^T, -1)
     * + triu(L^T P^T gA). LU in slot 0, pivots in 1, X in 2; i[] = left, adjoint */
    pool P = {0};
    bool left = n->i[0], adj = n->i[1];
    cg_tensor *lu = K(cg_unpack(n, 0)), *piv = K(cg_unpack(n, 1)), *x = K(cg_unpack(n, 2)), *glu = NULL;
    cg_tensor *gb = P.bad ? NULL : K(cg_linalg_lu_solve(lu, piv, gout[0], left, !adj));
    if (!P.bad && cg_wants(n, 0)) {
        cg_tensor *xt = K(cg_mT(x)), *gbt = K(cg_mT(gb));
        cg_tensor *prod = left ? (adj ? K(cg_matmul(x, gbt)) : K(cg_matmul(gb, xt)))
                               : (adj ? K(cg_matmul(gbt, x)) : K(cg_matmul(xt, gb)));
        cg_tensor *ga = K(cg_neg(prod)), *l = NULL, *u = NULL;
        if (!P.bad && unpack_lu(lu, &l, &u)) P.bad = true;
        K(l), K(u);
        cg_tensor *p = P.bad ? NULL : K(pivots_to_p(piv, rows(lu), lu->dtype));
        cg_tensor *pta = K(cg_matmul(K(cg_mT(p)), ga));
        cg_tensor *gl = K(cg_triangle(K(cg_matmul(pta, K(cg_mT(u)))), -1, 1));
        cg_tensor *gu = K(cg_triangle(K(cg_matmul(K(cg_mT(l)), pta)), 0, 0));
        glu = K(cg_add(gl, gu));
    }
    return give_grads(n, &P, gin, glu, gb);
}
static const cg_op lu_solve_op = {"LinalgLuSolveBackward0", lu_solve_backward, NULL};

cg_tensor *cg_linalg_lu_solve(cg_tensor *lu, cg_tensor *piv, cg_tensor *b, int left, int adjoint) {
    const char *f = "linalg.lu_solve";
    if (check_matrix(lu, f, "LU", true, true) || check_matrix(b, f, "B", false, false)) return NULL;
    if (lu->dtype != b->dtype)
        return cg_error_set(CG_ERR_RUNTIME, "%s: Expected LU and B to have the same dtype, but found LU of type %s and "
                            "B of type %s instead", f, cg_dtype_torch_name((cg_dtype)lu->dtype),
                            cg_dtype_torch_name((cg_dtype)b->dtype)), NULL;
    if (piv->dtype != CG_INT64 || piv->ndim != lu->ndim - 1 || !cg_shape_eq(piv->shape, piv->ndim - 1, lu->shape,
                                                                            lu->ndim - 2) ||
        piv->shape[piv->ndim - 1] != rows(lu))
        return cg_error_set(CG_ERR_RUNTIME, "%s: Expected pivots to be an int64 tensor of LU's batch shape and LU's "
                            "number of rows", f), NULL;
    if ((left ? rows(b) : cols(b)) != rows(lu))
        return cg_error_set(CG_ERR_RUNTIME, "%s: Incompatible shapes of A and B for the equation %s = B (%lldx%lld and "
                            "%lldx%lld)", f, left ? "AX" : "XA", (long long)rows(lu), (long long)cols(lu),
                            (long long)rows(b), (long long)cols(b)), NULL;
    /* X A = B is A^T X^T = B^T: the other op(A) on B^T */
    pool P = {0};
    cg_tensor *out = NULL;
    NO_GRAD(cg_tensor *bl = left ? b : K(cg_mT(b)), *elu = NULL, *eb = NULL;
            if (!P.bad && broadcast_batch(lu, bl, &elu, &eb)) P.bad = true; K(elu), K(eb);
            int64_t ps[CG_MAX_DIMS];
            if (!P.bad) memcpy(ps, elu->shape, sizeof(int64_t) * (size_t)(elu->ndim - 1));
            cg_tensor *ep = P.bad ? NULL : K(cg_contiguous(K(cg_expand(piv, ps, elu->ndim - 1))));
            cg_tensor *c = K(col_major(elu)), *xc = K(col_major(eb));
            if (!P.bad && getrs_all(c, ep, xc, left == adjoint)) P.bad = true;
            cg_tensor *xs = K(row_major(xc)); out = left ? xs : K(cg_contiguous(K(cg_mT(xs)))));
    cg_tensor *in[2] = {lu, b}, *save[3] = {lu, piv, out};
    int64_t ints[2] = {left, adjoint};
    if (!P.bad && record(&lu_solve_op, in, 2, &out, 1, save, (bool[]){false, false, true}, 3, ints, 2)) P.bad = true;
    return give(&P, out);
}

/* ---- eigh ----------------------------------------------------------------------------------- */

/* The (.., n, n) matrices E[i, j] = w[j] - w[i], with 1 on the diagonal (where E is 0). Recorded. */
static cg_tensor *gaps(cg_tensor *w) {
    pool P = {0};
    int64_t n = w->shape[w->ndim - 1];
    cg_tensor *e = K(cg_sub(K(cg_unsqueeze(w, -2)), K(cg_unsqueeze(w, -1))));
    return give(&P, K(cg_add(e, K(cg_eye(n, n, (cg_dtype)w->dtype)))));
}

static int eigh_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* A = V diag(w) V^T: gA = V (diag(gw) + skew(V^T gV) / E) V^T, E[i, j] = w[j] - w[i], skew(X) =
     * (X - X^T) / 2, as PyTorch's; V diag(gw) V^T alone for eigenvalues only (w in slot 0, V in 1) */
    pool P = {0};
    cg_tensor *w = K(cg_unpack(n, 0)), *v = K(cg_unpack(n, 1)), *vt = K(cg_mT(v)), *mid = NULL;
    if (gout[1]) {
        cg_tensor *x = K(cg_matmul(vt, gout[1])), *d = K(cg_sub(x, K(cg_mT(x))));
        cg_tensor *sk = K(cg_mul(d, K(cg_scalar_tensor(0.5, CG_FLOAT64, d))));
        mid = K(cg_div(sk, K(gaps(w))));
        if (gout[0]) mid = K(cg_add(mid, K(cg_diag_embed(gout[0], 0, -2, -1))));
    } else {
        mid = K(cg_diag_embed(gout[0], 0, -2, -1));
    }
    cg_tensor *ga = K(cg_matmul(K(cg_matmul(v, mid)), vt));
    return give_grads(n, &P, gin, ga, NULL);
}
static const cg_op eigh_op = {"LinalgEighBackward0", eigh_backward, NULL};

/* The ascending eigenvalues w (.., n) of each symmetric matrix (its upper or lower triangle read), the
 * eigenvectors column-major in c when vectors. */
static int eigh_raw(cg_tensor *a, bool upper, bool vectors, cg_tensor **w, cg_tensor **c) {
    pool P = {0};
    int n = (int)rows(a), lda = n > 0 ? n : 1, lwork = -1, liwork = -1, info = 0, iq = 0;
    bool f32 = f32_of(a);
    const char *jobz = vectors ? "V" : "N", *uplo = upper ? "U" : "L";
    cg_tensor *cm = K(col_major(a)), *ws = K(cg_empty(a->shape, a->ndim - 1, (cg_dtype)a->dtype));
    double q = 0;
    if (!P.bad && n > 0)
        (f32 ? scipy_ssyevd_ : scipy_dsyevd_)(jobz, uplo, &n, cg_ptr(cm), &lda, cg_ptr(ws), &q, &lwork, &iq, &liwork,
                                              &info, 1, 1);
    lwork = (int)work_size(&q, f32) + 1, liwork = iq + 1;
    void *work = malloc((size_t)lwork * (f32 ? 4 : 8));
    int *iwork = malloc(sizeof(int) * (size_t)liwork);
    if (!work || !iwork) cg_error_set(CG_ERR_MEMORY, "out of memory"), P.bad = true;
    for (int64_t b = 0; !P.bad && n > 0 && b < batch_count(a); b++) {
        (f32 ? scipy_ssyevd_ : scipy_dsyevd_)(jobz, uplo, &n, mat_at(cm, b, (int64_t)n * n), &lda,
                                              mat_at(ws, b, n), work, &lwork, iwork, &liwork, &info, 1, 1);
        if (info) {
            char note[48];
            cg_error_set(CG_ERR_LINALG, "linalg.eigh: %sThe algorithm failed to converge because the input matrix is "
                         "ill-conditioned or has too many repeated eigenvalues (error code: %d).",
                         batch_note(a->ndim > 2, b, note, sizeof note), info);
            P.bad = true;
        }
    }
    free(work), free(iwork);
    *c = !P.bad ? (cg_tensor_retain(cm), cm) : NULL;
    *w = give(&P, ws);
    if (!*w) cg_tensor_release(*c);
    return *w ? 0 : -1;
}

int cg_linalg_eigh(cg_tensor *a, int upper, int vectors, cg_tensor **w, cg_tensor **v) {
    if (check_matrix(a, "linalg.eigh", "A", true, true)) return -1;
    bool grad = cg_any_requires_grad(&a, 1); /* the gradient needs the eigenvectors */
    cg_tensor *c = NULL;
    int rc;
    *v = NULL;
    NO_GRAD(rc = eigh_raw(a, upper, vectors || grad, w, &c); if (!rc && (vectors || grad)) *v = row_major(c));
    cg_tensor_release(c);
    if (!rc && (vectors || grad) && !*v) cg_tensor_release(*w), rc = -1;
    /* the eigenvectors are an output even when not returned, so that a second order flows through them */
    cg_tensor *outs[2] = {*w, *v};
    if (!rc && record(&eigh_op, &a, 1, outs, 2, outs, (bool[]){true, true}, 2, NULL, 0))
        cg_tensor_release(*w), cg_tensor_release(*v), rc = -1;
    if (!rc && !vectors) cg_tensor_release(*v), *v = NULL;
    return rc;
}

/* ---- qr ------------------------------------------------------------------------------------- */

/* A = Q R for m >= n (Q m x n, R n x n): gA = (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q,
 * copyltu(M) = tril(M) + tril(M, -1)^T. gQ or gR may be NULL. Recorded. */
static cg_tensor *qr_grad_tall(cg_tensor *gq, cg_tensor *gr, cg_tensor *q, cg_tensor *r) {
    pool P = {0};
    cg_tensor *m1 = gr ? K(cg_matmul(r, K(cg_mT(gr)))) : NULL, *m2 = gq ? K(cg_matmul(K(cg_mT(gq)), q)) : NULL;
    cg_tensor *m = m1 && m2 ? K(cg_sub(m1, m2)) : m1 ? m1 : K(cg_neg(m2));
    cg_tensor *cp = K(cg_add(K(cg_triangle(m, 0, 1)), K(cg_mT(K(cg_triangle(m, -1, 1))))));
    cg_tensor *b = K(cg_matmul(q, cp));
    if (gq) b = K(cg_add(b, gq));
    return give(&P, K(cg_linalg_solve_triangular(K(cg_mT(r)), b, 0, 0, 0)));
}

static int qr_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* qr_grad_tall for m >= n; for m < n, A = [X | Y], R = [U | V] with X = Q U and V = Q^T Y: gY = Q gV
     * and X's formula with gQ + Y gV^T (Q in slot 0, R in 1; i[0] = mode: 0 reduced, 1 complete, 2 r) */
    if (n->i[0] == 2)
        return cg_error_set(CG_ERR_RUNTIME, "The derivative of linalg.qr depends on Q, which is not computed when "
                            "mode='r'. Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
                            "through linalg.qr."), -1;
    pool P = {0};
    cg_tensor *q = K(cg_unpack(n, 0)), *r = K(cg_unpack(n, 1)), *ga = NULL;
    int64_t m = P.bad ? 0 : rows(q), nn = P.bad ? 0 : cols(r);
    if (!P.bad && n->i[0] == 1 && m > nn)
        return drop(&P), cg_error_set(CG_ERR_RUNTIME, "The QR decomposition is not differentiable when mode='complete' "
                                      "and nrows > ncols."), -1;
    if (!P.bad && m >= nn) {
        ga = K(qr_grad_tall(gout[0], gout[1], q, r));
    } else if (!P.bad) {
        cg_tensor *a = K(cg_matmul(q, r)), *y = K(cg_narrow(a, -1, m, nn - m)), *u = K(cg_narrow(r, -1, 0, m));
        cg_tensor *gu = gout[1] ? K(cg_narrow(gout[1], -1, 0, m)) : NULL;
        cg_tensor *gv = gout[1] ? K(cg_narrow(gout[1], -1, m, nn - m)) : NULL, *gq = gout[0];
        if (gv) gq = gq ? K(cg_add(gq, K(cg_matmul(y, K(cg_mT(gv)))))) : K(cg_matmul(y, K(cg_mT(gv))));
        cg_tensor *gx = K(qr_grad_tall(gq, gu, q, u));
        cg_tensor *gy = gv ? K(cg_matmul(q, gv)) : K(cg_zeros(y->shape, y->ndim, (cg_dtype)y->dtype));
        cg_tensor *parts[2] = {gx, gy};
        ga = P.bad ? NULL : K(cg_cat(parts, 2, -1));
    }
    return give_grads(n, &P, gin, ga, NULL);
}
static const cg_op qr_op = {"LinalgQrBackward0", qr_backward, NULL};

/* geqrf then orgqr, batch by batch: Householder factors in c (.., n, m), Q's columns in q (.., qc, m),
 * both column-major; q is NULL for mode 'r'. */
static int qr_raw(cg_tensor *c, cg_tensor *q, int m, int n) {
    bool f32 = f32_of(c);
    int k = m < n ? m : n, lda = m > 0 ? m : 1, lwork = -1, info = 0, qc = q ? (int)rows(q) : 0;
    double w1 = 0, w2 = 0;
    size_t es = f32 ? 4 : 8;
    if (m == 0) return 0; /* n == 0 still makes Q: the identity */
    (f32 ? scipy_sgeqrf_ : scipy_dgeqrf_)(&m, &n, cg_ptr(c), &lda, &w1, &w1, &lwork, &info);
    if (q) (f32 ? scipy_sorgqr_ : scipy_dorgqr_)(&m, &qc, &k, cg_ptr(q), &lda, &w1, &w2, &lwork, &info);
    lwork = (int)fmax(work_size(&w1, f32), q ? work_size(&w2, f32) : 0) + 1;
    void *work = malloc((size_t)lwork * es), *tau = malloc((size_t)(k + 1) * es);
    if (!work || !tau) return free(work), free(tau), cg_error_set(CG_ERR_MEMORY, "out of memory"), -1;
    for (int64_t b = 0; b < batch_count(c); b++) {
        void *cb = mat_at(c, b, (int64_t)m * n);
        (f32 ? scipy_sgeqrf_ : scipy_dgeqrf_)(&m, &n, cb, &lda, tau, work, &lwork, &info);
        if (!q) continue;
        void *qb = mat_at(q, b, (int64_t)m * qc);
        memcpy(qb, cb, (size_t)m * (size_t)(qc < n ? qc : n) * es); /* the reflectors, as many columns as fit */
        (f32 ? scipy_sorgqr_ : scipy_dorgqr_)(&m, &qc, &k, qb, &lda, tau, work, &lwork, &info);
    }
    free(work), free(tau);
    return 0;
}

int cg_linalg_qr(cg_tensor *a, int mode, cg_tensor **q, cg_tensor **r) {
    if (check_matrix(a, "linalg.qr", "A", false, true)) return -1;
    pool P = {0};
    int64_t m = rows(a), n = cols(a), k = m < n ? m : n, qs[CG_MAX_DIMS];
    int64_t qc = mode == 1 ? m : k, rr = mode == 1 ? m : k;
    memcpy(qs, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    qs[a->ndim - 2] = qc, qs[a->ndim - 1] = m;
    cg_tensor *qt = NULL, *rt = NULL;
    NO_GRAD(cg_tensor *c = K(col_major(a)), *qb = mode == 2 ? NULL : K(cg_zeros(qs, a->ndim, (cg_dtype)a->dtype));
            if (!P.bad && qr_raw(c, qb, (int)m, (int)n)) P.bad = true;
            rt = K(cg_contiguous(K(cg_triangle(K(cg_narrow(K(cg_mT(c)), -2, 0, rr)), 0, 0))));
            qt = mode == 2 ? K(cg_empty((int64_t[]){0}, 1, (cg_dtype)a->dtype)) : K(row_major(qb)));
    cg_tensor *outs[2] = {mode == 2 ? NULL : qt, rt}, *save[2] = {qt, rt};
    int64_t ints[1] = {mode};
    if (!P.bad && record(&qr_op, &a, 1, outs, 2, save, (bool[]){mode != 2, true}, 2, ints, 1)) P.bad = true;
    if (!P.bad) cg_tensor_retain(rt), *r = rt;
    *q = give(&P, qt);
    return *q ? 0 : -1;
}

/* ---- geqrf: LAPACK's Householder factors, as they come --------------------------------------------- */

/* PyTorch defines no derivative for geqrf: its node refuses backward */
static int geqrf_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n, (void)gout, (void)gin;
    cg_error_set(CG_ERR_NOTIMPL, "the derivative for 'geqrf' is not implemented.");
    return -1;
}
static const cg_op geqrf_op = {"GeqrfBackward0", geqrf_backward, NULL};

/* geqrf on each column-major matrix of c (.., n, m), tau (.., k) filled */
static int geqrf_raw(cg_tensor *c, cg_tensor *tau, int m, int n) {
    bool f32 = f32_of(c);
    int k = m < n ? m : n, lda = m > 0 ? m : 1, lwork = -1, info = 0;
    double w1 = 0;
    size_t es = f32 ? 4 : 8;
    if (k == 0) return 0;
    (f32 ? scipy_sgeqrf_ : scipy_dgeqrf_)(&m, &n, cg_ptr(c), &lda, &w1, &w1, &lwork, &info);
    lwork = (int)work_size(&w1, f32) + 1;
    void *work = malloc((size_t)lwork * es);
    if (!work) return cg_error_set(CG_ERR_MEMORY, "out of memory"), -1;
    for (int64_t b = 0; b < batch_count(c); b++)
        (f32 ? scipy_sgeqrf_ : scipy_dgeqrf_)(&m, &n, mat_at(c, b, (int64_t)m * n), &lda,
                                              (char *)cg_ptr(tau) + b * k * (int64_t)es, work, &lwork, &info);
    free(work);
    return 0;
}

int cg_geqrf(cg_tensor *a, cg_tensor **qr, cg_tensor **tau) {
    if (a->ndim < 2) return cg_error_set(CG_ERR_RUNTIME, "torch.geqrf: input must have at least 2 dimensions."), -1;
    if (check_matrix(a, "geqrf", "input", false, true)) return -1;
    pool P = {0};
    int64_t m = rows(a), n = cols(a), ts[CG_MAX_DIMS];
    memcpy(ts, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    ts[a->ndim - 2] = m < n ? m : n;
    cg_tensor *ft = NULL, *tt = NULL;
    NO_GRAD(cg_tensor *c = K(col_major(a)); tt = K(cg_zeros(ts, a->ndim - 1, (cg_dtype)a->dtype));
            if (!P.bad && geqrf_raw(c, tt, (int)m, (int)n)) P.bad = true;
            ft = K(row_major(c)));
    cg_tensor *outs[2] = {ft, tt};
    if (!P.bad && record(&geqrf_op, &a, 1, outs, 2, NULL, NULL, 0, NULL, 0)) P.bad = true;
    if (!P.bad) cg_tensor_retain(tt), *tau = tt;
    *qr = give(&P, ft);
    return *qr ? 0 : -1;
}

/* ---- svd ------------------------------------------------------------------------------------ */

static int svd_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* PyTorch's svd_backward: with E[i, j] = S[j]^2 - S[i]^2 (1 on the diagonal) and skew(X) = X - X^T,
     * gA = U [(skew(U^T gU) S + S skew(Vh gVh^T)) / E + diag(gS)] Vh, plus for m > n the part of gU
     * outside U's span, (I - U U^T) gU S^-1 Vh (for m < n, of gVh: U S^-1 gVh (I - V Vh)). Full
     * matrices are cut to their first k columns (rows of Vh) first. U, S, Vh in slots 0, 1, 2 */
    pool P = {0};
    cg_tensor *u = K(cg_unpack(n, 0)), *s = K(cg_unpack(n, 1)), *vh = K(cg_unpack(n, 2));
    cg_tensor *gu = gout[0], *gs = gout[1], *gvh = gout[2], *ga = NULL;
    if (P.bad) return drop(&P), -1;
    int64_t m = rows(u), nn = cols(vh), k = s->shape[s->ndim - 1];
    if (n->i[0]) { /* full_matrices */
        u = K(cg_narrow(u, -1, 0, k)), vh = K(cg_narrow(vh, -2, 0, k));
        if (gu) gu = K(cg_narrow(gu, -1, 0, k));
        if (gvh) gvh = K(cg_narrow(gvh, -2, 0, k));
    }
    cg_tensor *s_row = K(cg_unsqueeze(s, -2)), *s_col = K(cg_unsqueeze(s, -1));
    if (!gu && !gvh) {
        ga = m >= nn ? K(cg_matmul(u, K(cg_mul(K(cg_unsqueeze(gs, -1)), vh))))
                     : K(cg_matmul(K(cg_mul(u, K(cg_unsqueeze(gs, -2)))), vh));
        return give_grads(n, &P, gin, ga, NULL);
    }
    cg_tensor *e = K(gaps(K(cg_mul(s, s)))), *uhgu = NULL, *vhgv = NULL;
    if (gu) {
        cg_tensor *x = K(cg_matmul(K(cg_mT(u)), gu));
        uhgu = K(cg_sub(x, K(cg_mT(x))));
    }
    if (gvh) {
        cg_tensor *x = K(cg_matmul(vh, K(cg_mT(gvh))));
        vhgv = K(cg_sub(x, K(cg_mT(x))));
    }
    if (gu && gvh) ga = K(cg_div(K(cg_add(K(cg_mul(uhgu, s_row)), K(cg_mul(s_col, vhgv)))), e));
    else if (gu) ga = K(cg_mul(K(cg_div(uhgu, e)), s_row));
    else ga = K(cg_mul(s_col, K(cg_div(vhgv, e))));
    if (gs) ga = K(cg_add(ga, K(cg_diag_embed(gs, 0, -2, -1))));
    if (m > nn && gu) {
        cg_tensor *gus = K(cg_div(gu, s_row));
        ga = K(cg_add(K(cg_matmul(u, ga)), gus));
        ga = K(cg_matmul(K(cg_sub(ga, K(cg_matmul(u, K(cg_matmul(K(cg_mT(u)), gus)))))), vh));
    } else if (m < nn && gvh) {
        cg_tensor *sg = K(cg_div(gvh, s_col));
        ga = K(cg_add(K(cg_matmul(ga, vh)), sg));
        ga = K(cg_matmul(u, K(cg_sub(ga, K(cg_matmul(K(cg_matmul(sg, K(cg_mT(vh)))), vh))))));
    } else {
        ga = K(cg_matmul(u, K(cg_matmul(ga, vh))));
    }
    return give_grads(n, &P, gin, ga, NULL);
}
static const cg_op svd_op = {"LinalgSvdBackward0", svd_backward, NULL};

static int svd_failed(int info, bool batched, int64_t b) {
    char note[48];
    batch_note(batched, b, note, sizeof note);
    if (info < 0)
        cg_error_set(CG_ERR_LINALG, "linalg.svd: %sThe algorithm failed to converge because the input matrix "
                     "contained non-finite values.", note);
    else
        cg_error_set(CG_ERR_LINALG, "linalg.svd: %sThe algorithm failed to converge because the input matrix is "
                     "ill-conditioned or has too many repeated singular values (error code: %d).", note, info);
    return -1;
}

/* 1 on the diagonal of each square matrix of the contiguous t */
static void eye_fill(cg_tensor *t) {
    int64_t n = cols(t);
    for (int64_t b = 0; b < batch_count(t); b++)
        for (int64_t i = 0; i < n; i++) {
            if (f32_of(t)) ((float *)mat_at(t, b, n * n))[i * n + i] = 1;
            else ((double *)mat_at(t, b, n * n))[i * n + i] = 1;
        }
}

/* gesdd batch by batch on the column-major c (.., n, m): S (.., k) in s, and with ub (.., uc, m) and vb
 * (.., n, vr) (NULL: values only) U and V^T column-major. */
static int svd_raw(cg_tensor *c, cg_tensor *s, cg_tensor *ub, cg_tensor *vb, int m, int n, bool full) {
    bool f32 = f32_of(c), batched = c->ndim > 2;
    int k = m < n ? m : n, lda = m > 0 ? m : 1, lwork = -1, info = 0;
    int uc = ub ? (int)rows(ub) : 1, vr = vb ? (int)cols(vb) : 1, ldu = m > 0 ? m : 1, ldv = vr > 0 ? vr : 1;
    const char *jobz = !ub ? "N" : full ? "A" : "S";
    double q = 0;
    if (k == 0) { /* no singular values: full U and Vh are identities, as PyTorch's */
        if (ub && full) eye_fill(ub), eye_fill(vb);
        return 0;
    }
    int *iwork = malloc(sizeof(int) * (size_t)(8 * k + 1));
    if (!iwork) return cg_error_set(CG_ERR_MEMORY, "out of memory"), -1;
    void *du = ub ? cg_ptr(ub) : NULL, *dv = vb ? cg_ptr(vb) : NULL;
    (f32 ? scipy_sgesdd_ : scipy_dgesdd_)(jobz, &m, &n, cg_ptr(c), &lda, cg_ptr(s), du, &ldu, dv, &ldv, &q, &lwork,
                                          iwork, &info, 1);
    lwork = (int)work_size(&q, f32) + 1;
    void *work = malloc((size_t)lwork * (f32 ? 4 : 8));
    int rc = work ? 0 : (cg_error_set(CG_ERR_MEMORY, "out of memory"), -1);
    for (int64_t b = 0; !rc && b < batch_count(c); b++) {
        (f32 ? scipy_sgesdd_ : scipy_dgesdd_)(jobz, &m, &n, mat_at(c, b, (int64_t)m * n), &lda, mat_at(s, b, k),
                                              ub ? mat_at(ub, b, (int64_t)uc * m) : NULL, &ldu,
                                              vb ? mat_at(vb, b, (int64_t)n * vr) : NULL, &ldv, work, &lwork, iwork,
                                              &info, 1);
        if (info) rc = svd_failed(info, batched, b);
    }
    free(work), free(iwork);
    return rc;
}

int cg_linalg_svd(cg_tensor *a, int full_matrices, int compute_uv, cg_tensor **u, cg_tensor **s, cg_tensor **vh) {
    if (check_matrix(a, "linalg.svd", "A", false, true)) return -1;
    bool grad = cg_any_requires_grad(&a, 1), vectors = compute_uv || grad; /* the gradient needs U and Vh */
    bool full = compute_uv && full_matrices;
    pool P = {0};
    int64_t m = rows(a), n = cols(a), k = m < n ? m : n, us[CG_MAX_DIMS], vs[CG_MAX_DIMS], ss[CG_MAX_DIMS];
    int nd = a->ndim;
    memcpy(us, a->shape, sizeof(int64_t) * (size_t)nd), memcpy(vs, us, sizeof us), memcpy(ss, us, sizeof us);
    us[nd - 2] = full ? m : k, us[nd - 1] = m, vs[nd - 2] = n, vs[nd - 1] = full ? n : k, ss[nd - 2] = k;
    cg_tensor *uo = NULL, *so = NULL, *vo = NULL;
    NO_GRAD(cg_tensor *c = K(col_major(a)), *sb = K(cg_zeros(ss, nd - 1, (cg_dtype)a->dtype));
            cg_tensor *ub = vectors ? K(cg_zeros(us, nd, (cg_dtype)a->dtype)) : NULL;
            cg_tensor *vb = vectors ? K(cg_zeros(vs, nd, (cg_dtype)a->dtype)) : NULL;
            if (!P.bad && svd_raw(c, sb, ub, vb, (int)m, (int)n, full)) P.bad = true; so = sb;
            if (vectors) uo = K(row_major(ub)), vo = K(row_major(vb)));
    /* U and Vh are outputs even when not returned, so that a second order flows through them */
    cg_tensor *outs[3] = {uo, so, vo};
    int64_t ints[1] = {full};
    if (!P.bad && record(&svd_op, &a, 1, outs, 3, outs, (bool[]){true, true, true}, 3, ints, 1)) P.bad = true;
    if (!P.bad) {
        *u = compute_uv ? (cg_tensor_retain(uo), uo) : NULL;
        *vh = compute_uv ? (cg_tensor_retain(vo), vo) : NULL;
    }
    *s = give(&P, so);
    return *s ? 0 : -1;
}

/* ---- ldl_factor, ldl_solve (no derivative: PyTorch defines none) -------------------------------------- */

/* sytrf's work size for n by n matrices of a's dtype (its workspace query). */
static int sytrf_lwork(const cg_tensor *a, int n) {
    int lwork = -1, info = 0, lda = n > 0 ? n : 1;
    double q[2] = {0, 0}; /* room for a float or a double */
    (f32_of(a) ? scipy_ssytrf_ : scipy_dsytrf_)("L", &n, NULL, &lda, NULL, q, &lwork, &info, 1);
    int size = f32_of(a) ? (int)*(float *)q : (int)q[0];
    return size > n ? size : (n > 0 ? n : 1);
}

int cg_linalg_ldl_factor_ex(cg_tensor *a, cg_tensor **ld, cg_tensor **piv, cg_tensor **info) {
    if (check_matrix(a, "torch.linalg.ldl_factor_ex", "A", true, true)) return -1;
    pool P = {0};
    int n = (int)cols(a), lda = n > 0 ? n : 1, lwork = sytrf_lwork(a, n);
    /* LAPACK reads the lower triangle of column-major A: A's own lower triangle */
    cg_tensor *cm = K(col_major(a)), *pv = K(cg_zeros(a->shape, a->ndim - 1, CG_INT64)), *inf = K(info_like(a));
    int *ip = malloc(sizeof(int) * (size_t)(n + 1));
    void *work = malloc((size_t)lwork * cg_elem_size((cg_dtype)a->dtype));
    if (!ip || !work) cg_error_set(CG_ERR_MEMORY, "out of memory"), P.bad = true;
    for (int64_t b = 0; !P.bad && n > 0 && b < batch_count(a); b++) {
        int in = 0;
        (f32_of(a) ? scipy_ssytrf_ : scipy_dsytrf_)("L", &n, mat_at(cm, b, (int64_t)n * n), &lda, ip, work, &lwork,
                                                    &in, 1);
        for (int i = 0; i < n; i++) ((int64_t *)pv->storage->data)[b * n + i] = ip[i];
        ((int64_t *)inf->storage->data)[b] = in;
    }
    free(ip);
    free(work);
    cg_tensor *r = K(row_major(cm));
    cg_tensor *out = P.bad ? NULL : cg_triangle(r, 0, 1); /* sytrf leaves A's upper triangle; PyTorch's LD: 0 */
    if (out) *piv = (cg_tensor_retain(pv), pv), *info = (cg_tensor_retain(inf), inf);
    drop(&P);
    *ld = out;
    return out ? 0 : -1;
}

cg_tensor *cg_linalg_ldl_solve(cg_tensor *ld, cg_tensor *pivots, cg_tensor *b) {
    const char *f = "torch.linalg.ldl_solve";
    if (check_matrix(ld, f, "LD", true, true) || check_matrix(b, f, "B", false, true)) return NULL;
    int n = (int)cols(ld), k = (int)cols(b), ldn = n > 0 ? n : 1, info = 0;
    pool P = {0};
    cg_tensor *c = K(col_major(ld)), *x = K(col_major(b)), *pc = K(cg_contiguous(pivots));
    int *ip = malloc(sizeof(int) * (size_t)(n + 1));
    if (!ip) cg_error_set(CG_ERR_MEMORY, "out of memory"), P.bad = true;
    for (int64_t m = 0; !P.bad && n > 0 && k > 0 && m < batch_count(ld); m++) {
        const int64_t *pm = (const int64_t *)cg_ptr(pc) + m * n;
        for (int i = 0; i < n && !P.bad; i++) {
            if (pm[i] == 0 || pm[i] > n || pm[i] < -n) /* LAPACK would index rows by them */
                cg_error_set(CG_ERR_RUNTIME, "%s: pivot %lld out of range for matrices of size %d", f,
                             (long long)pm[i], n), P.bad = true;
            ip[i] = (int)pm[i];
        }
        if (P.bad) break;
        (f32_of(ld) ? scipy_ssytrs_ : scipy_dsytrs_)("L", &n, &k, mat_at(c, m, (int64_t)n * n), &ldn, ip,
                                                    mat_at(x, m, (int64_t)n * k), &ldn, &info, 1);
    }
    free(ip);
    return give(&P, K(row_major(x)));
}
