/* memory_format.c -- PyTorch's memory formats: the order in which a new tensor lays out its dims.
 *
 * contiguous_format is row-major; channels_last orders a 4-d NCHW tensor's memory as NHWC (the
 * channels innermost), channels_last_3d a 5-d NCDHW one as NDHWC. preserve_format follows a
 * source tensor: its own strides when it is dense and non-overlapping (a permutation of a
 * contiguous layout), else the dense layout whose dim order its strides suggest (Note [Inferred
 * dim order]). A tensor's values never depend on its format; ops read any strides.
 */
#include "internal.h"

/* NCHW -> the order channels_last walks dims in memory, innermost first (C, W, H, N); 3d likewise. */
static const int cl_order[4] = {1, 3, 2, 0};
static const int cl3d_order[5] = {1, 4, 3, 2, 0};

static int format_rank(cg_memory_format f) {
    return f == CG_CHANNELS_LAST ? 4 : f == CG_CHANNELS_LAST_3D ? 5 : -1;
}

static const int *format_order(cg_memory_format f) {
    return f == CG_CHANNELS_LAST ? cl_order : cl3d_order;
}

static int check_rank(int ndim, cg_memory_format f) {
    int want = format_rank(f);
    if (want < 0 || want == ndim) return 0;
    cg_error_set(CG_ERR_RUNTIME, "required rank %d tensor to use %s format", want,
                 f == CG_CHANNELS_LAST ? "channels_last" : "channels_last_3d");
    return -1;
}

/* Dense strides for `shape` walking dims in `inner_first` order. A size-0 dim steps as a size-1 one
 * in row-major order, and as itself (the dims outside it get stride 0) in the channels-last ones,
 * as PyTorch's strides do. */
static void dense_strides(const int64_t *shape, const int *inner_first, int ndim, bool zero_steps, int64_t *strides) {
    int64_t step = 1;
    for (int k = 0; k < ndim; k++) {
        int d = inner_first[k];
        strides[d] = step;
        step *= shape[d] > 1 || (zero_steps && shape[d] == 0) ? shape[d] : 1;
    }
}

int cg_is_contiguous_as(const cg_tensor *t, cg_memory_format f) {
    if (f == CG_CONTIGUOUS_FORMAT || f == CG_PRESERVE_FORMAT) return t->numel == 0 || cg_tensor_is_contiguous(t);
    if (t->ndim != format_rank(f)) return 0;
    const int *order = format_order(f);
    int64_t expected = 1;
    for (int k = 0; k < t->ndim; k++) {
        int d = order[k];
        if (t->shape[d] == 1) continue; /* any stride serves a dim of one element */
        if (t->strides[d] != expected) return 0;
        expected *= t->shape[d];
    }
    return 1;
}

int cg_is_non_overlapping_and_dense(const cg_tensor *t) {
    int dims[CG_MAX_DIMS], n = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] == 0) return 1;
        if (t->shape[d] == 1) continue;
        int k = n++; /* insertion by stride, smallest first */
        for (; k > 0 && t->strides[dims[k - 1]] > t->strides[d]; k--) dims[k] = dims[k - 1];
        dims[k] = d;
    }
    int64_t expected = 1;
    for (int k = 0; k < n; k++) {
        if (t->strides[dims[k]] != expected) return 0;
        expected *= t->shape[dims[k]];
    }
    return 1;
}

/* Note [Inferred dim order]
 *   A layout that is not dense still suggests an order of its dims: sort them innermost first by
 *   stride, a larger stride further out. A stride of 0 (a broadcast dim) says nothing, so such a
 *   pair keeps its order and the sort goes on past it; equal strides put the larger dim further
 *   out. The sort is an insertion sort from the innermost dim, starting from the row-major order,
 *   so a tensor with no information left keeps that order. */
static int outer_of(const cg_tensor *t, int a, int b) { /* 1: a lies outside b; -1: inside; 0: unknown */
    int64_t sa = t->strides[a], sb = t->strides[b];
    if (sa == 0 || sb == 0) return 0;
    if (sa != sb) return sa > sb ? 1 : -1;
    return t->shape[a] > t->shape[b] ? 1 : 0;
}

static void inferred_order(const cg_tensor *t, int *inner_first) {
    int n = t->ndim;
    for (int k = 0; k < n; k++) inner_first[k] = n - 1 - k;
    for (int i = 1; i < n; i++) {
        int at = i;
        for (int k = i - 1; k >= 0; k--) {
            int c = outer_of(t, inner_first[k], inner_first[at]);
            if (c < 0) break;
            if (c > 0) {
                int tmp = inner_first[k];
                inner_first[k] = inner_first[at];
                inner_first[at] = tmp;
                at = k;
            }
        }
    }
}

void cg_dim_order(const cg_tensor *t, int64_t *order) {
    int inner_first[CG_MAX_DIMS];
    if (cg_is_contiguous_as(t, CG_CONTIGUOUS_FORMAT)) {
        for (int k = 0; k < t->ndim; k++) order[k] = k;
        return;
    }
    inferred_order(t, inner_first);
    for (int k = 0; k < t->ndim; k++) order[k] = inner_first[t->ndim - 1 - k];
}

int cg_format_strides(const int64_t *shape, int ndim, cg_memory_format f, const cg_tensor *like, int64_t *strides) {
    int order[CG_MAX_DIMS];
    if (f == CG_PRESERVE_FORMAT && !like) {
        cg_error_set(CG_ERR_RUNTIME, "unsupported memory format Preserve");
        return -1;
    }
    if (check_rank(ndim, f)) return -1;
    if (f == CG_PRESERVE_FORMAT && cg_is_non_overlapping_and_dense(like)) {
        memcpy(strides, like->strides, (size_t)ndim * sizeof(int64_t));
        return 0;
    }
    if (f == CG_PRESERVE_FORMAT) inferred_order(like, order);
    else if (f == CG_CONTIGUOUS_FORMAT)
        for (int k = 0; k < ndim; k++) order[k] = ndim - 1 - k;
    else memcpy(order, format_order(f), (size_t)ndim * sizeof(int));
    dense_strides(shape, order, ndim, f == CG_CHANNELS_LAST || f == CG_CHANNELS_LAST_3D, strides);
    return 0;
}

cg_tensor *cg_empty_format(const int64_t *shape, int ndim, cg_dtype dtype, cg_memory_format f) {
    int64_t strides[CG_MAX_DIMS];
    if (f == CG_CONTIGUOUS_FORMAT) return cg_empty(shape, ndim, dtype);
    if (cg_check_shape(shape, ndim) || cg_format_strides(shape, ndim, f, NULL, strides)) return NULL;
    return cg_empty_strided(shape, strides, ndim, dtype);
}

cg_tensor *cg_empty_like_format(const cg_tensor *t, cg_dtype dtype, cg_memory_format f) {
    int64_t strides[CG_MAX_DIMS];
    if (cg_format_strides(t->shape, t->ndim, f, t, strides)) return NULL;
    return cg_empty_strided(t->shape, strides, t->ndim, dtype);
}

cg_tensor *cg_contiguous_format(cg_tensor *a, cg_memory_format f) {
    if (cg_is_contiguous_as(a, f)) {
        cg_tensor_retain(a);
        return a;
    }
    if (f == CG_PRESERVE_FORMAT) {
        cg_error_set(CG_ERR_RUNTIME, "preserve memory format is unsupported by the contiguous operator");
        return NULL;
    }
    return cg_clone_format(a, f);
}

/* ---- the layout of a leaf's gradient -------------------------------------------------------- */

/* PyTorch's gradient layout contract: a leaf's .grad is laid out as the leaf when the leaf is dense
 * and non-overlapping (a channels-last weight gets a channels-last gradient), else row-major. */
void cg_grad_strides(const cg_tensor *t, int64_t *strides) {
    if (!cg_tensor_is_contiguous(t) && cg_is_non_overlapping_and_dense(t)) {
        memcpy(strides, t->strides, (size_t)t->ndim * sizeof(int64_t));
        return;
    }
    cg_format_strides(t->shape, t->ndim, CG_CONTIGUOUS_FORMAT, NULL, strides); /* cannot fail */
}

int cg_has_strides(const cg_tensor *t, const int64_t *strides) {
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] > 1 && t->strides[d] != strides[d]) return 0;
    return 1;
}
