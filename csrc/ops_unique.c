/* ops_unique.c -- unique: the distinct elements of a tensor, or its distinct
 * slices along a dim, in ascending order, with where each element (slice) went
 * and how often each value came.
 *
 * The elements (slices: the rows of a dense copy with the dim moved first) are
 * sorted by a stable merge sort of their positions; a slice orders as the
 * sequence of its elements. NaN orders after every number and equals nothing,
 * not even another NaN, so each NaN is a value of its own, in the order the
 * NaNs came; -0.0 and 0.0 are one value, the one seen first. The result's size
 * depends on the data: a recording that meets unique breaks.
 */
#include <math.h>

#include "internal.h"

typedef struct rows {
    const char *data;
    int64_t len; /* elements per row */
    cg_dtype dtype;
} rows;

/* <0, 0, >0: row i against row j, element by element; NaN after numbers, NaNs tied. */
static int compare_rows(const rows *r, int64_t i, int64_t j) {
    for (int64_t k = 0; k < r->len; k++) {
        int64_t a = i * r->len + k, b = j * r->len + k;
        switch (r->dtype) {
        case CG_FLOAT32:
        case CG_FLOAT64: {
            double x = r->dtype == CG_FLOAT32 ? ((const float *)r->data)[a] : ((const double *)r->data)[a];
            double y = r->dtype == CG_FLOAT32 ? ((const float *)r->data)[b] : ((const double *)r->data)[b];
            bool nx = isnan(x), ny = isnan(y);
            if (nx || ny) {
                if (nx != ny) return nx ? 1 : -1;
                continue;
            }
            if (x != y) return x < y ? -1 : 1;
            break;
        }
        case CG_INT64: {
            int64_t x = ((const int64_t *)r->data)[a], y = ((const int64_t *)r->data)[b];
            if (x != y) return x < y ? -1 : 1;
            break;
        }
        default: {
            uint8_t x = ((const uint8_t *)r->data)[a] != 0, y = ((const uint8_t *)r->data)[b] != 0;
            if (x != y) return x < y ? -1 : 1;
        }
        }
    }
    return 0;
}

/* Whether rows i and j hold the same values (NaN equals nothing). */
static bool same_rows(const rows *r, int64_t i, int64_t j) {
    if (compare_rows(r, i, j) != 0) return false;
    if (r->dtype != CG_FLOAT32 && r->dtype != CG_FLOAT64) return true;
    for (int64_t k = 0; k < r->len; k++) {
        int64_t a = i * r->len + k;
        double x = r->dtype == CG_FLOAT32 ? ((const float *)r->data)[a] : ((const double *)r->data)[a];
        if (isnan(x)) return false;
    }
    return true;
}

/* Sorts idx[0..n) by row, stably, with tmp as room for n more. */
static void merge_sort(const rows *r, int64_t *idx, int64_t *tmp, int64_t n) {
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi) tmp[o++] = compare_rows(r, idx[b], idx[a]) < 0 ? idx[b++] : idx[a++];
            while (a < mid) tmp[o++] = idx[a++];
            while (b < hi) tmp[o++] = idx[b++];
        }
        memcpy(idx, tmp, (size_t)n * sizeof(int64_t));
    }
}

/* The distinct rows of src (n rows of len, dense) in ascending order into
 * values' first rows, each row's place among them into inverse, and each
 * one's count into counts; *n_unique: how many there are. */
static int unique_rows(const cg_tensor *src, int64_t n, int64_t len, cg_tensor *values, cg_tensor *inverse,
                       cg_tensor *counts, int64_t *n_unique) {
    int64_t *idx = malloc((size_t)(2 * n + 1) * sizeof(int64_t));
    if (!idx) {
        cg_oom(n * 16);
        return -1;
    }
    rows r = {cg_ptr(src), len, (cg_dtype)src->dtype};
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    merge_sort(&r, idx, idx + n, n);
    size_t row_bytes = (size_t)(len * cg_dtype_size(r.dtype));
    char *out = values->storage->data;
    int64_t *inv = inverse->storage->data, *cnt = counts->storage->data, u = -1;
    for (int64_t k = 0; k < n; k++) {
        if (k == 0 || !same_rows(&r, idx[k - 1], idx[k])) {
            u++;
            memcpy(out + (size_t)u * row_bytes, r.data + (size_t)idx[k] * row_bytes, row_bytes);
            cnt[u] = 0;
        }
        inv[idx[k]] = u;
        cnt[u]++;
    }
    free(idx);
    *n_unique = u + 1;
    return 0;
}

/* i[0]: which function's node (0 unique, 1 unique with dim, 2 unique_consecutive) */
static int no_derivative(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)gout, (void)gin;
    static const char *const names[] = {"_unique2", "unique_dim", "unique_consecutive"};
    cg_error_set(CG_ERR_NOTIMPL, "the derivative for '%s' is not implemented.", names[n->i[0]]);
    return -1;
}
static const cg_op unique_op = {"Unique2Backward0", no_derivative, NULL};
static const cg_op unique_dim_op = {"UniqueDimBackward0", no_derivative, NULL};
static const cg_op unique_consecutive_op = {"UniqueConsecutiveBackward0", no_derivative, NULL};

/* values, made from a, takes the node of which (0, 1, 2 as in no_derivative):
 * as in PyTorch, history whose backward fails. -1 on error. */
static int no_derivative_history(cg_tensor *values, cg_tensor *a, int which) {
    static const cg_op *const ops[] = {&unique_op, &unique_dim_op, &unique_consecutive_op};
    if (!cg_any_requires_grad(&a, 1)) return 0;
    cg_node *node = cg_node_new(ops[which], &a, 1, 1);
    if (!node) return -1;
    node->i[0] = which;
    cg_set_history(values, node, 0);
    cg_node_release(node);
    return 0;
}

int cg_unique_consecutive_history(cg_tensor *values, cg_tensor *a) { return no_derivative_history(values, a, 2); }

/* The first n rows of t (a view). */
static cg_tensor *first_rows(cg_tensor *t, int64_t n, const int64_t *shape, int ndim) {
    int64_t s[CG_MAX_DIMS];
    memcpy(s, shape, sizeof(int64_t) * (size_t)ndim);
    if (ndim) s[0] = n;
    return cg_tensor_make(t->storage, (cg_dtype)t->dtype, s, NULL, ndim, 0);
}

int cg_unique(cg_tensor *a, int has_dim, int64_t dim, cg_tensor **values, cg_tensor **inverse, cg_tensor **counts) {
    *values = *inverse = *counts = NULL;
    int64_t d = 0;
    if (has_dim) {
        if (a->ndim == 0) {
            cg_error_set(CG_ERR_INDEX, "Dimension specified as %lld but tensor has no dimensions", (long long)dim);
            return -1;
        }
        if (cg_wrap_dim(dim, a->ndim, &d)) return -1;
        for (int k = 0; k < a->ndim; k++)
            if (k != d && a->shape[k] == 0) {
                cg_error_set(CG_ERR_RUNTIME, "There are 0 sized dimensions, and they aren't selected, so unique cannot be applied");
                return -1;
            }
    }
    if (CG_RECORDING()) cg_tape_break("unique: the output shape depends on the data");
    /* the rows: a itself when there is no dim, else a with dim first, dense */
    int64_t shape[CG_MAX_DIMS], n = has_dim ? a->shape[d] : a->numel, len = has_dim && n ? a->numel / n : 1;
    int ndim = has_dim ? a->ndim : 1;
    int64_t perm[CG_MAX_DIMS];
    if (has_dim) {
        perm[0] = d;
        for (int k = 0, j = 1; k < a->ndim; k++)
            if (k != d) perm[j++] = k;
        for (int k = 0; k < ndim; k++) shape[k] = a->shape[perm[k]];
    } else {
        shape[0] = n;
    }
    cg_tensor *moved = has_dim ? cg_permute(a, perm, a->ndim) : cg_reshape(a, shape, 1);
    cg_tensor *src = moved ? cg_empty(shape, ndim, (cg_dtype)a->dtype) : NULL;
    cg_tensor *all = src ? cg_empty(shape, ndim, (cg_dtype)a->dtype) : NULL;
    cg_tensor *inv = all ? cg_empty(has_dim ? &n : a->shape, has_dim ? 1 : a->ndim, CG_INT64) : NULL;
    cg_tensor *cnt = inv ? cg_empty(&n, 1, CG_INT64) : NULL;
    int64_t m = 0;
    int rc = !cnt || cg_copy_data(src, moved) || unique_rows(src, n, len, all, inv, cnt, &m) ? -1 : 0;
    cg_tensor *vals = rc ? NULL : first_rows(all, m, shape, ndim);
    cg_tensor *counted = vals ? first_rows(cnt, m, &m, 1) : NULL;
    if (vals && has_dim && d != 0) { /* the dim back in its place */
        int64_t back[CG_MAX_DIMS];
        for (int k = 0; k < ndim; k++) back[perm[k]] = k;
        cg_tensor *p = cg_permute(vals, back, ndim);
        cg_tensor *c = p ? cg_contiguous(p) : NULL;
        cg_tensor_release(p);
        cg_tensor_release(vals);
        vals = c;
    }
    cg_tensor_release(moved);
    cg_tensor_release(src);
    cg_tensor_release(all);
    cg_tensor_release(cnt);
    if (!vals || !counted) {
        cg_tensor_release(vals);
        cg_tensor_release(counted);
        cg_tensor_release(inv);
        return -1;
    }
    if (no_derivative_history(vals, a, has_dim ? 1 : 0)) {
        cg_tensor_release(vals);
        cg_tensor_release(counted);
        cg_tensor_release(inv);
        return -1;
    }
    *values = vals, *inverse = inv, *counts = counted;
    return 0;
}
