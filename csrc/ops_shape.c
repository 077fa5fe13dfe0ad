/* ops_shape.c -- views and copies that change a tensor's shape.
 *
 * Views share their base's storage (and so its version counter); their
 * backward formulas are the inverse movement of the gradient.
 */
#include "internal.h"

static cg_tensor *finish_view(const cg_op *op, cg_tensor *out, cg_tensor *a) {
    if (!out || !cg_any_requires_grad(&a, 1)) return out;
    cg_node *n = cg_node_new(op, &a, 1, 1);
    if (!n) {
        cg_tensor_release(out);
        return NULL;
    }
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

cg_tensor *cg_node_with_ints(const cg_op *op, cg_tensor *out, cg_tensor *a, const int64_t *ints, int k) {
    if (!out || !cg_any_requires_grad(&a, 1)) return out;
    cg_node *n = cg_node_new(op, &a, 1, 1);
    if (!n) {
        cg_tensor_release(out);
        return NULL;
    }
    if (k) memcpy(n->i, ints, (size_t)k * sizeof(int64_t));
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}

/* ---- view / reshape ---------------------------------------------------------------- */

/* Resolves one -1 in shape against numel. */
static int infer_size(const int64_t *shape, int ndim, int64_t numel, int64_t *out) {
    int infer = -1;
    int64_t known = 1;
    char buf[160];
    if (ndim > CG_MAX_DIMS) return cg_check_shape(shape, ndim);
    for (int i = 0; i < ndim; i++) {
        out[i] = shape[i];
        if (shape[i] == -1) {
            if (infer >= 0) {
                cg_error_set(CG_ERR_RUNTIME, "only one dimension can be inferred");
                return -1;
            }
            infer = i;
        } else if (shape[i] < 0) {
            cg_error_set(CG_ERR_RUNTIME, "invalid shape dimension %lld at index %d of shape %s", (long long)shape[i],
                         i, cg_shape_str(shape, ndim, buf, sizeof buf));
            return -1;
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0 && known != 0 && numel % known == 0) {
        out[infer] = numel / known;
        return 0;
    }
    if (infer < 0 && known == numel) return 0;
    if (infer >= 0 && known == 0 && numel == 0) {  /* any size fits: PyTorch refuses to guess */
        cg_error_set(CG_ERR_RUNTIME, "cannot reshape tensor of 0 elements into shape %s because the unspecified "
                     "dimension size -1 can be any value and is ambiguous", cg_shape_str(shape, ndim, buf, sizeof buf));
        return -1;
    }
    cg_error_set(CG_ERR_RUNTIME, "shape '%s' is invalid for input of size %lld",
                 cg_shape_str(shape, ndim, buf, sizeof buf), (long long)numel);
    return -1;
}

/* Strides that view a's memory with `shape`, as PyTorch's computeStride:
 * walk a's dims from the inside, grouping those that are contiguous with
 * each other into chunks a new shape may split or merge. */
static bool view_strides(const cg_tensor *a, const int64_t *shape, int ndim, int64_t *strides) {
    if (a->numel == 0 || cg_tensor_is_contiguous(a)) {
        cg_contiguous_strides(shape, ndim, strides);
        return true;
    }
    int view_d = ndim - 1;
    int64_t chunk_base = a->strides[a->ndim - 1], tensor_numel = 1, view_numel = 1;
    for (int d = a->ndim - 1; d >= 0; d--) {
        tensor_numel *= a->shape[d];
        if (d == 0 || (a->shape[d - 1] != 1 && a->strides[d - 1] != tensor_numel * chunk_base)) {
            while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
                strides[view_d] = view_numel * chunk_base;
                view_numel *= shape[view_d];
                view_d--;
            }
            if (view_numel != tensor_numel) return false;
            if (d > 0) {
                chunk_base = a->strides[d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    return view_d == -1;
}

cg_tensor *cg_view_raw(cg_tensor *a, const int64_t *shape, int ndim) {
    int64_t strides[CG_MAX_DIMS];
    if (!view_strides(a, shape, ndim, strides)) return NULL;
    return cg_alias(a, shape, strides, ndim, a->offset);
}

static int reshape_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* a view only moves values: reshape the gradient back */
    return (gin[0] = cg_reshape(gout[0], n->in_shape[0].d, n->in_shape[0].ndim)) ? 0 : -1;
}
static const cg_op view_op = {"ViewBackward0", reshape_backward, NULL};
static const cg_op unsafe_view_op = {"UnsafeViewBackward0", reshape_backward, NULL};

static cg_tensor *view_as(const cg_op *op, cg_tensor *a, const int64_t *shape, int ndim, bool may_copy) {
    int64_t sizes[CG_MAX_DIMS];
    if (infer_size(shape, ndim, a->numel, sizes) || cg_check_shape(sizes, ndim)) return NULL;
    cg_tensor *out = cg_view_raw(a, sizes, ndim);
    if (out) return finish_view(op, out, a);
    if (!may_copy) {
        cg_error_set(CG_ERR_RUNTIME,
                     "view size is not compatible with input tensor's size and stride (at least one "
                     "dimension spans across two contiguous subspaces). Use .reshape(...) instead.");
        return NULL;
    }
    cg_tensor *c = cg_clone(a);
    out = c ? cg_view_raw(c, sizes, ndim) : NULL;
    if (out) { /* the copy is private: not a view of anything */
        cg_tensor_release(out->base);
        out->base = NULL;
    }
    out = finish_view(&unsafe_view_op, out, c);
    cg_tensor_release(c);
    return out;
}

cg_tensor *cg_view(cg_tensor *a, const int64_t *shape, int ndim) {
    return view_as(&view_op, a, shape, ndim, false);
}

cg_tensor *cg_reshape(cg_tensor *a, const int64_t *shape, int ndim) {
    return view_as(&view_op, a, shape, ndim, true);
}

/* A view with a given backward name (matmul reports its folds as
 * UnsafeViewBackward0, as PyTorch does). */
cg_tensor *cg_unsafe_view(cg_tensor *a, const int64_t *shape, int ndim) {
    return view_as(&unsafe_view_op, a, shape, ndim, true);
}

/* ---- transpose / permute --------------------------------------------------------------- */

static int transpose_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* swapping two dims back is the same swap */
    return (gin[0] = cg_transpose(gout[0], n->i[0], n->i[1])) ? 0 : -1;
}
static const cg_op transpose_op = {"TransposeBackward0", transpose_backward, NULL};

static cg_tensor *transposed(const cg_op *op, cg_tensor *a, int64_t d0, int64_t d1) {
    int64_t dims[2];
    if (cg_wrap_dim(d0, a->ndim, &dims[0]) || cg_wrap_dim(d1, a->ndim, &dims[1])) return NULL;
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    memcpy(strides, a->strides, sizeof strides);
    if (a->ndim > 0) {
        shape[dims[0]] = a->shape[dims[1]];
        shape[dims[1]] = a->shape[dims[0]];
        strides[dims[0]] = a->strides[dims[1]];
        strides[dims[1]] = a->strides[dims[0]];
    }
    cg_tensor *out = cg_alias(a, shape, strides, a->ndim, a->offset);
    return cg_node_with_ints(op, out, a, dims, 2);
}

cg_tensor *cg_transpose(cg_tensor *a, int64_t d0, int64_t d1) { return transposed(&transpose_op, a, d0, d1); }

static int t_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n; /* t's own transpose, as PyTorch writes it */
    return (gin[0] = cg_t(gout[0])) ? 0 : -1;
}
static const cg_op t_op = {"TBackward0", t_backward, NULL};

cg_tensor *cg_t(cg_tensor *a) {
    if (a->ndim > 2) {
        cg_error_set(CG_ERR_RUNTIME, "t() expects a tensor with <= 2 dimensions, but self is %dD", a->ndim);
        return NULL;
    }
    return transposed(&t_op, a, 0, a->ndim < 2 ? 0 : 1);
}

static int permute_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* the inverse permutation */
    int nd = n->in_shape[0].ndim;
    int64_t inv[CG_MAX_DIMS];
    for (int d = 0; d < nd; d++) inv[n->i[d]] = d;
    return (gin[0] = cg_permute(gout[0], inv, nd)) ? 0 : -1;
}
static const cg_op permute_op = {"PermuteBackward0", permute_backward, NULL};

cg_tensor *cg_permute(cg_tensor *a, const int64_t *dims, int ndim) {
    if (ndim != a->ndim) {
        cg_error_set(CG_ERR_RUNTIME,
                     "permute(sparse_coo): number of dimensions in the tensor input does not match the length "
                     "of the desired ordering of dimensions i.e. input.dim() = %d is not equal to len(dims) = %d",
                     a->ndim, ndim);
        return NULL;
    }
    int64_t wrapped[CG_MAX_DIMS], shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    uint32_t seen = 0;
    for (int d = 0; d < ndim; d++) {
        if (cg_wrap_dim(dims[d], ndim, &wrapped[d])) return NULL;
        if (seen & (1u << wrapped[d])) {
            cg_error_set(CG_ERR_RUNTIME, "permute(): duplicate dims are not allowed.");
            return NULL;
        }
        seen |= 1u << wrapped[d];
        shape[d] = a->shape[wrapped[d]];
        strides[d] = a->strides[wrapped[d]];
    }
    cg_tensor *out = cg_alias(a, shape, strides, ndim, a->offset);
    return cg_node_with_ints(&permute_op, out, a, wrapped, ndim);
}

cg_tensor *cg_mT(cg_tensor *a) {
    if (a->ndim < 2) {
        cg_error_set(CG_ERR_RUNTIME, "tensor.mT is only supported on matrices or batches of matrices. Got %d-D tensor.",
                     a->ndim);
        return NULL;
    }
    return cg_transpose(a, -2, -1);
}

/* The in-place forms (Note [In-place view ops] in inplace.c) */
static const cg_op transpose_inplace_op = {"TransposeBackward1", transpose_backward, NULL};
static const cg_op t_inplace_op = {"TBackward1", t_backward, NULL};

cg_tensor *cg_transpose_(cg_tensor *a, int64_t d0, int64_t d1) {
    return cg_become_view_(a, cg_transpose(a, d0, d1), &transpose_inplace_op);
}

cg_tensor *cg_t_(cg_tensor *a) {
    if (a->ndim > 2) {
        cg_error_set(CG_ERR_RUNTIME, "t_() expects a tensor with <= 2 dimensions, but self is %dD", a->ndim);
        return NULL;
    }
    return cg_become_view_(a, cg_transpose(a, 0, a->ndim < 2 ? 0 : 1), &t_inplace_op);
}

/* ---- unsqueeze / squeeze ------------------------------------------------------------------ */

static int unsqueeze_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* drop the inserted dim */
    int64_t d = n->i[0];
    return (gin[0] = cg_squeeze(gout[0], &d, 1)) ? 0 : -1;
}
static const cg_op unsqueeze_op = {"UnsqueezeBackward0", unsqueeze_backward, NULL};

cg_tensor *cg_unsqueeze(cg_tensor *a, int64_t dim) {
    int64_t d;
    if (cg_wrap_dim(dim, a->ndim + 1, &d)) return NULL;
    if (a->ndim + 1 > CG_MAX_DIMS) {
        cg_check_shape(a->shape, a->ndim + 1); /* sets the error */
        return NULL;
    }
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    for (int i = 0, j = 0; i <= a->ndim; i++) {
        if (i == d) {
            shape[i] = 1;
            strides[i] = d < a->ndim ? a->strides[d] * a->shape[d] : 1;
            continue;
        }
        shape[i] = a->shape[j];
        strides[i] = a->strides[j++];
    }
    cg_tensor *out = cg_alias(a, shape, strides, a->ndim + 1, a->offset);
    return cg_node_with_ints(&unsqueeze_op, out, a, &d, 1);
}

static const cg_op squeeze_all_op = {"SqueezeBackward0", reshape_backward, NULL};
static const cg_op squeeze_dim_op = {"SqueezeBackward1", reshape_backward, NULL};
static const cg_op squeeze_dims_op = {"SqueezeBackward2", reshape_backward, NULL};
static const cg_op squeeze_matmul_op = {"SqueezeBackward4", reshape_backward, NULL};

static cg_tensor *squeeze_with(const cg_op *op, cg_tensor *a, const int64_t *dims, int ndims) {
    uint32_t drop = 0;
    for (int k = 0; k < ndims; k++) {
        int64_t d;
        if (cg_wrap_dim(dims[k], a->ndim, &d)) return NULL;
        if (a->ndim && a->shape[d] == 1) drop |= 1u << d;
    }
    if (!dims)
        for (int d = 0; d < a->ndim; d++)
            if (a->shape[d] == 1) drop |= 1u << d;
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (drop & (1u << d)) continue;
        shape[nd] = a->shape[d];
        strides[nd++] = a->strides[d];
    }
    return finish_view(op, cg_alias(a, shape, strides, nd, a->offset), a);
}

cg_tensor *cg_squeeze(cg_tensor *a, const int64_t *dims, int ndims) {
    const cg_op *op = !dims ? &squeeze_all_op : ndims == 1 ? &squeeze_dim_op : &squeeze_dims_op;
    return squeeze_with(op, a, dims, ndims);
}

static const cg_op unsqueeze_inplace_op = {"UnsqueezeBackward1", unsqueeze_backward, NULL};
static const cg_op squeeze_all_inplace_op = {"SqueezeBackward3", reshape_backward, NULL};
static const cg_op squeeze_dim_inplace_op = {"SqueezeBackward4", reshape_backward, NULL};
static const cg_op squeeze_dims_inplace_op = {"SqueezeBackward5", reshape_backward, NULL};

cg_tensor *cg_unsqueeze_(cg_tensor *a, int64_t dim) {
    return cg_become_view_(a, cg_unsqueeze(a, dim), &unsqueeze_inplace_op);
}

cg_tensor *cg_squeeze_(cg_tensor *a, const int64_t *dims, int ndims) {
    const cg_op *op = !dims ? &squeeze_all_inplace_op : ndims == 1 ? &squeeze_dim_inplace_op : &squeeze_dims_inplace_op;
    return cg_become_view_(a, cg_squeeze(a, dims, ndims), op);
}

/* matmul's 1-D @ 2-D result, named as PyTorch names it */
cg_tensor *cg_squeeze_matmul(cg_tensor *a, int64_t dim) { return squeeze_with(&squeeze_matmul_op, a, &dim, 1); }

/* ---- expand ------------------------------------------------------------------------------------- */

static int expand_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* each input element fed every copy: sum them */
    return (gin[0] = cg_sum_to(gout[0], n->in_shape[0].d, n->in_shape[0].ndim)) ? 0 : -1;
}
static const cg_op expand_op = {"ExpandBackward0", expand_backward, NULL};

cg_tensor *cg_expand(cg_tensor *a, const int64_t *shape, int ndim) {
    char b1[160], b2[160];
    if (ndim < a->ndim) {
        /* PyTorch names the tensor's type as its legacy class, a bool one as its CPU type */
        const char *type = a->dtype == CG_BOOL ? "CPUBoolType" : cg_dtype_tensor_name((cg_dtype)a->dtype);
        cg_error_set(CG_ERR_RUNTIME,
                     "expand(%s{%s}, size=%s): the number of sizes provided (%d) must be greater "
                     "or equal to the number of dimensions in the tensor (%d)", type,
                     cg_shape_str(a->shape, a->ndim, b1, sizeof b1), cg_shape_str(shape, ndim, b2, sizeof b2),
                     ndim, a->ndim);
        return NULL;
    }
    if (ndim > CG_MAX_DIMS) {
        cg_check_shape(shape, ndim); /* sets the error */
        return NULL;
    }
    int64_t sizes[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    int lead = ndim - a->ndim;
    for (int i = ndim - 1; i >= 0; i--) { /* from the last dim, as PyTorch checks them */
        int j = i - lead;
        int64_t want = shape[i];
        if (j < 0) {
            if (want < 0) {
                cg_error_set(CG_ERR_RUNTIME,
                             "The expanded size of the tensor (%lld) isn't allowed in a leading, non-existing dimension %d",
                             (long long)want, i);
                return NULL;
            }
            sizes[i] = want;
            strides[i] = 0;
            continue;
        }
        if (want == -1) want = a->shape[j];
        if (a->shape[j] == want) {
            sizes[i] = want;
            strides[i] = a->strides[j];
        } else if (a->shape[j] == 1 && want >= 0) {
            sizes[i] = want;
            strides[i] = 0;
        } else {
            cg_error_set(CG_ERR_RUNTIME,
                         "The expanded size of the tensor (%lld) must match the existing size (%lld) at "
                         "non-singleton dimension %d.  Target sizes: %s.  Tensor sizes: %s",
                         (long long)want, (long long)a->shape[j], i, cg_shape_str(shape, ndim, b1, sizeof b1),
                         cg_shape_str(a->shape, a->ndim, b2, sizeof b2));
            return NULL;
        }
    }
    if (cg_check_shape(sizes, ndim)) return NULL;
    return finish_view(&expand_op, cg_alias(a, sizes, strides, ndim, a->offset), a);
}

/* ---- copies ---------------------------------------------------------------------------------------- */

static int clone_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n; /* a copy passes its gradient through */
    cg_tensor_retain(gout[0]);
    gin[0] = gout[0];
    return 0;
}
static const cg_op clone_op = {"CloneBackward0", clone_backward, NULL};
static const cg_op alias_op = {"AliasBackward0", clone_backward, NULL}; /* the same pass-through */

cg_tensor *cg_alias_view(cg_tensor *a) {
    cg_tensor *out = cg_alias(a, a->shape, a->strides, a->ndim, a->offset);
    return cg_node_with_ints(&alias_op, out, a, NULL, 0);
}

/* A real tensor is its own conjugate, so nothing is written; PyTorch still treats conj_physical_ as an
 * in-place op, and its node passes the gradient through. */
static const cg_op conj_physical_op = {"ConjPhysicalBackward1", clone_backward, NULL};

cg_tensor *cg_conj_physical_(cg_tensor *a) {
    cg_inplace ip;
    if (cg_inplace_begin_fill(&ip, a, &a, 1)) return NULL; /* an expanded tensor is fine: nothing is written */
    if (ip.records && !(ip.node = cg_node_new(&conj_physical_op, &a, 1, 1))) return cg_inplace_abort(&ip);
    return cg_inplace_finish(&ip);
}

cg_tensor *cg_clone(cg_tensor *a) { return cg_clone_format(a, CG_CONTIGUOUS_FORMAT); }

cg_tensor *cg_clone_format(cg_tensor *a, cg_memory_format f) {
    cg_tensor *out = f == CG_CONTIGUOUS_FORMAT ? cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype)
                                               : cg_empty_like_format(a, (cg_dtype)a->dtype, f);
    if (out) cg_run_loop(cg_cast_loop((cg_dtype)a->dtype, (cg_dtype)a->dtype), out, &a, 1);
    return finish_view(&clone_op, out, a);
}

cg_tensor *cg_contiguous(cg_tensor *a) {
    if (cg_tensor_is_contiguous(a)) {
        cg_tensor_retain(a);
        return a;
    }
    return cg_clone(a);
}

/* ---- copies of views ------------------------------------------------------------------------------ */

/* Note [Copies of views]: PyTorch's view_copy, transpose_copy, ... copy the view's values and record
 * the view's own formula under the name "<view node>_copy". The view's node serves as it is, renamed
 * through an op made once per (op, name) and kept for the life of the process. */
#define CG_COPY_OPS 64
static struct {
    const cg_op *of;
    cg_op op;
    char name[64];
} copy_ops[CG_COPY_OPS];
static int n_copy_ops;

static const cg_op *copy_op(const cg_op *of, const char *name) {
    const cg_op *found = NULL;
    cg_graph_lock();
    for (int i = 0; i < n_copy_ops && !found; i++)
        if (copy_ops[i].of == of && !strcmp(copy_ops[i].name, name)) found = &copy_ops[i].op;
    if (!found && n_copy_ops < CG_COPY_OPS && strlen(name) < sizeof copy_ops[0].name) {
        int i = n_copy_ops++;
        copy_ops[i].of = of;
        copy_ops[i].op = *of;
        strcpy(copy_ops[i].name, name);
        copy_ops[i].op.name = copy_ops[i].name;
        found = &copy_ops[i].op;
    }
    cg_graph_unlock();
    if (!found) cg_error_set(CG_ERR_RUNTIME, "copy_as: no room for the node name '%s'", name);
    return found;
}

static cg_tensor *clone_without_history(cg_tensor *a) {
    int was = cg_is_grad_enabled();
    cg_set_grad_enabled(0);
    cg_tensor *out = cg_clone(a);
    cg_set_grad_enabled(was);
    return out;
}

cg_tensor *cg_copy_as(cg_tensor *v, const char *name) {
    cg_tensor *out = clone_without_history(v);
    cg_node *n = v->grad_fn;
    if (!out || !n) return out;
    if (strcmp(n->op->name, name)) { /* the pieces of a split share one node, renamed once */
        const cg_op *op = copy_op(n->op, name);
        if (!op) {
            cg_tensor_release(out);
            return NULL;
        }
        n->op = op;
    }
    cg_set_history(out, n, v->output_nr);
    return out;
}

cg_tensor *cg_view_copy(cg_tensor *a, const int64_t *shape, int ndim) {
    int64_t sizes[CG_MAX_DIMS];
    if (infer_size(shape, ndim, a->numel, sizes) || cg_check_shape(sizes, ndim)) return NULL;
    const cg_op *op = copy_op(&view_op, "ViewBackward0_copy");
    cg_tensor *c = op ? clone_without_history(a) : NULL; /* contiguous, so any shape views it */
    cg_tensor *out = c ? cg_view_raw(c, sizes, ndim) : NULL;
    if (out) { /* the copy is private: not a view of anything */
        cg_tensor_release(out->base);
        out->base = NULL;
    }
    cg_tensor_release(c);
    return finish_view(op, out, a);
}
