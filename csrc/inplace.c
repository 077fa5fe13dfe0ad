/* inplace.c -- writing into a tensor that autograd may be watching.
 *
 * An in-place op checks PyTorch's rules first (no leaf that requires grad,
 * no view of one), bumps the storage version afterwards (so saved copies of
 * the old value are detected), and makes its node the tensor's new history,
 * with edge 0 pointing at the old one.
 *
 * Note [In-place on views]
 *   Writing into a view changes its base too. As PyTorch does, the base's
 *   history becomes a CopySlices node: its gradient is the incoming one,
 *   except in the view's region, where the op's own backward decides (given
 *   the region of the gradient). The view itself then becomes a strided view
 *   of the base's new history. Other views of the same base made earlier get
 *   theirs remade when next used (Note [Stale views]).
 */
#include "internal.h"

/* PyTorch's name of the op that made the view t, when that op returns several views of one
 * tensor (unbind, split, chunk): their outputs may not be written in place. */
static const char *multi_view_op(const cg_tensor *t) {
    static const char *const ops[][2] = {
        {"UnbindBackward0", "Unbind"}, {"SplitBackward0", "Split"}, {"SplitWithSizesBackward0", "SplitWithSizes"}};
    if (!t->base || !t->grad_fn) return NULL;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(t->grad_fn->op->name, ops[i][0])) return ops[i][1];
    return NULL;
}

/* Note [Views made in no_grad]
 *   A view made in no_grad mode has no history, though its base may have
 *   one. Writing into it in grad mode would have to decide whether the
 *   write is part of the base's history: recording it would reach back
 *   through a view autograd never saw made, and not recording it would
 *   leave the base's gradient that of its old values. PyTorch refuses the
 *   write when it would be recorded (some input, or the base, requires
 *   grad), and so does cgrad. A view of such a view is refused too. A view
 *   given a history afterwards (the outputs of split, or of a custom
 *   Function, made with grad mode off inside the op) is one autograd saw:
 *   cg_set_history clears the mark. */
static int check_view_made_in_no_grad(const cg_tensor *t, bool records) {
    if (!t->base || !t->view_no_grad || !cg_is_grad_enabled() || !(records || t->base->requires_grad)) return 0;
    static const char tail[] =
        "created in no_grad mode and is being modified inplace with grad mode enabled. Given that this use case is "
        "ambiguous and error-prone, it is forbidden. You can clarify your code by moving both the view and the "
        "inplace either both inside the no_grad block (if you don't want the inplace to be tracked) or both outside "
        "(if you want the inplace to be tracked).";
    /* PyTorch names the view op in the second form ("Output 0 of Slice ..."); a view without a
     * history does not know it */
    if (t->view_no_grad == 2)
        cg_error_set(CG_ERR_RUNTIME, "Output 0 of a view op is a view of a view which was %s", tail);
    else
        cg_error_set(CG_ERR_RUNTIME, "A view was %s", tail);
    return -1;
}

static int check_writable(cg_tensor *t) {
    if (!cg_is_grad_enabled()) return 0;
    if (!t->grad_fn && t->requires_grad) {
        cg_error_set(CG_ERR_RUNTIME, "a leaf Variable that requires grad is being used in an in-place operation.");
        return -1;
    }
    if (check_view_made_in_no_grad(t, false)) return -1;
    const char *multi = multi_view_op(t);
    if (multi) {
        cg_error_set(CG_ERR_RUNTIME,
                     "Output %u of %s is a view and is being modified inplace. This view is the output of a function "
                     "that returns multiple views. Such functions do not allow the output views to be modified "
                     "inplace. You should replace the inplace operation by an out-of-place one.",
                     (unsigned)t->output_nr, multi);
        return -1;
    }
    if (t->base && !t->base->grad_fn && t->base->requires_grad) {
        cg_error_set(CG_ERR_RUNTIME,
                     "a view of a leaf Variable that requires grad is being used in an in-place operation.");
        return -1;
    }
    return 0;
}

/* An expanded view has elements that share one memory location: writing
 * into it would write that location several times. PyTorch refuses. */
static int check_no_internal_overlap(const int64_t *shape, const int64_t *strides, int ndim) {
    for (int d = 0; d < ndim; d++)
        if (shape[d] == 0) return 0; /* nothing is written */
    for (int d = 0; d < ndim; d++) {
        if (shape[d] > 1 && strides[d] == 0) {
            cg_error_set(CG_ERR_RUNTIME,
                         "unsupported operation: more than one element of the written-to tensor refers to a "
                         "single memory location. Please clone() the tensor before performing the operation.");
            return -1;
        }
    }
    return 0;
}

int cg_inplace_begin(cg_inplace *ip, cg_tensor *t, cg_tensor *const *ins, int n) {
    if (check_no_internal_overlap(t->shape, t->strides, t->ndim)) return -1;
    return cg_inplace_begin_fill(ip, t, ins, n);
}

int cg_inplace_begin_fill(cg_inplace *ip, cg_tensor *t, cg_tensor *const *ins, int n) {
    ip->target = t;
    ip->node = NULL;
    ip->records = cg_any_requires_grad(ins, n);
    if (check_view_made_in_no_grad(t, ip->records) || check_writable(t)) return -1;
    cg_geom g;
    if (ip->records && t->base && cg_view_geom(t, &g)) {
        cg_error_set(CG_ERR_NOTIMPL,
                     "an in-place operation recorded for autograd on a view of a tensor whose own layout is "
                     "not contiguous is not supported; apply it to a .clone()");
        return -1;
    }
    return 0;
}

int cg_inplace_begin_untracked(cg_inplace *ip, cg_tensor *t) {
    ip->target = t;
    ip->node = NULL;
    ip->records = false;
    return check_no_internal_overlap(t->shape, t->strides, t->ndim);
}

cg_tensor *cg_inplace_take(cg_inplace *ip, cg_tensor *r) {
    bool ok = r && !cg_copy_data(ip->target, r);
    if (ok && r->grad_fn) {
        ip->node = r->grad_fn;
        cg_node_retain(ip->node);
    }
    cg_tensor_release(r);
    return ok ? cg_inplace_finish(ip) : cg_inplace_abort(ip);
}

cg_tensor *cg_inplace_abort(cg_inplace *ip) {
    cg_node_release(ip->node);
    ip->node = NULL;
    return NULL;
}

/* A copy of a's current value carrying a's history: the op runs on it, so its
 * node's edge 0 is a's old history and what it saves is never overwritten. */
cg_tensor *cg_snapshot(cg_tensor *a) {
    cg_tensor *c = cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype);
    if (c && cg_copy_data(c, a)) {
        cg_tensor_release(c);
        return NULL;
    }
    if (c && a->grad_fn) cg_set_history(c, a->grad_fn, a->output_nr);
    return c;
}

cg_tensor *cg_inplace_source(cg_inplace *ip) {
    if (ip->records) return cg_snapshot(ip->target);
    cg_tensor_retain(ip->target);
    return ip->target;
}

/* ---- CopySlices ------------------------------------------------------------------- */

typedef struct copy_slices {
    cg_geom region; /* the view, in the base's logical layout */
    cg_node *fn;    /* the op applied to the view (owned; not in the graph itself) */
} copy_slices;

static void copy_slices_free(void *extra) {
    copy_slices *cs = extra;
    cg_node_release(cs->fn);
    free(cs);
}

/* Runs the view op's backward on the gradient's region. */
static int run_fn(cg_node *n, const copy_slices *cs, cg_tensor *g, cg_tensor **fn_gin) {
    cg_node *fn = cs->fn;
    cg_tensor *region = cg_as_strided(g, &cs->region);
    if (!region) return -1;
    fn->need_mask = cg_wants(n, 0) ? 1u : 0u;
    for (int i = 1; i < fn->n_next && i < 32; i++)
        if (cg_wants(n, i)) fn->need_mask |= 1u << i;
    cg_tensor *gout[1] = {region};
    int rc = fn->op->backward(fn, gout, fn_gin);
    fn->need_mask = ~0u;
    cg_tensor_release(region);
    return rc;
}

static int copy_slices_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    /* the base's gradient outside the view; inside it, what the op passes back */
    const copy_slices *cs = n->extra;
    cg_tensor *small[8] = {0};
    cg_tensor **fn_gin = cs->fn->n_next <= 8 ? small : calloc((size_t)cs->fn->n_next, sizeof(cg_tensor *));
    if (!fn_gin) {
        cg_oom(8);
        return -1;
    }
    /* writing the view's gradient into an expanded region: refused, as by
     * PyTorch's CopySlices (fill ops such as zero_ may write there forward) */
    const cg_geom *r = &cs->region;
    int rc = cg_wants(n, 0) && check_no_internal_overlap(r->shape, r->strides, r->ndim) ? -1
                                                                                          : run_fn(n, cs, gout[0], fn_gin);
    if (rc == 0 && cg_wants(n, 0)) {
        cg_tensor *inner = fn_gin[0];
        if (!inner) inner = cg_zeros(cs->region.shape, cs->region.ndim, (cg_dtype)gout[0]->dtype);
        else cg_tensor_retain(inner);
        gin[0] = inner ? cg_as_strided_scatter(gout[0], inner, &cs->region) : NULL;
        cg_tensor_release(inner);
        if (!gin[0]) rc = -1;
    }
    for (int i = 1; i < cs->fn->n_next; i++) {
        if (rc == 0) {
            gin[i] = fn_gin[i];
            fn_gin[i] = NULL;
        }
    }
    for (int i = 0; i < cs->fn->n_next; i++) cg_tensor_release(fn_gin[i]);
    if (fn_gin != small) free(fn_gin);
    return rc;
}
static const cg_op copy_slices_op = {"CopySlices", copy_slices_backward, copy_slices_free};

/* A CopySlices node for base: edge 0 its old history, then fn's other edges. */
static cg_node *copy_slices_new(cg_tensor *base, cg_node *fn, const cg_geom *region) {
    copy_slices *cs = malloc(sizeof *cs);
    cg_node *n = cs ? cg_node_new(&copy_slices_op, &base, 1, 1) : cg_oom((int64_t)sizeof *cs);
    if (!n) {
        free(cs);
        return NULL;
    }
    if (fn->n_next > CG_NODE_INLINE_EDGES) {
        cg_edge *edges = calloc((size_t)fn->n_next, sizeof(cg_edge));
        if (!edges) {
            free(cs);
            cg_node_release(n);
            return cg_oom((int64_t)fn->n_next * 16);
        }
        edges[0] = n->next[0];
        n->next = edges;
    }
    n->n_next = fn->n_next > 0 ? fn->n_next : 1;
    for (int i = 1; i < fn->n_next; i++) {
        n->next[i] = fn->next[i];
        if (n->next[i].node) cg_node_retain(n->next[i].node);
    }
    cs->region = *region;
    cs->fn = fn;
    cg_node_retain(fn);
    n->extra = cs;
    return n;
}

/* The view's new history: its region of the base's (new) history. */
static int reattach_view(cg_tensor *view, cg_tensor *base, const cg_geom *region) {
    int grad_mode = cg_is_grad_enabled();
    cg_set_grad_enabled(1);
    cg_tensor *v = cg_as_strided(base, region);
    cg_set_grad_enabled(grad_mode);
    if (!v) return -1;
    if (v->grad_fn) cg_set_history(view, v->grad_fn, 0);
    cg_tensor_release(v);
    view->view_version = view->storage->version;
    return 0;
}

/* Note [Stale views]
 *   A view's grad_fn describes the base's history when the view was made. An
 *   in-place write into the base or into another of its views since (the
 *   storage version moved) makes that history stale: as PyTorch does, the
 *   view's history is remade as its region of the base's current history the
 *   next time it is used in a recorded op. Views that were not differentiable
 *   (made under no_grad of a leaf) stay so. */
void cg_view_refresh(cg_tensor *t) {
    cg_tensor *base = t->base;
    t->view_version = t->storage->version;
    if (!base->requires_grad) return;
    if (!t->grad_fn && !(base->grad_fn && base->grad_fn->op == &copy_slices_op)) return;
    cg_geom region;
    if (cg_view_geom(t, &region)) return; /* a layout as_strided cannot name: keep the old history */
    if (reattach_view(t, base, &region)) cg_error_clear();
}

cg_tensor *cg_inplace_finish(cg_inplace *ip) {
    cg_tensor *t = ip->target;
    if (CG_RECORDING()) cg_tape_check_wrote(t, "an in-place operation");
    cg_bump_version(t);
    cg_node *fn = ip->node;
    ip->node = NULL;
    if (fn && !t->base) {
        cg_set_history(t, fn, 0);
    } else if (fn) {
        cg_geom region;
        cg_tensor *base = t->base;
        cg_node *cs = cg_view_geom(t, &region) == 0 ? copy_slices_new(base, fn, &region) : NULL;
        if (!cs) {
            cg_node_release(fn);
            return NULL;
        }
        cg_set_history(base, cs, 0);
        cg_node_release(cs);
        if (reattach_view(t, base, &region)) {
            cg_node_release(fn);
            return NULL;
        }
    }
    cg_node_release(fn);
    cg_tensor_retain(t);
    return t;
}

/* ---- in-place view ops ---------------------------------------------------------------- */

/* Note [In-place view ops]
 *   t_, transpose_, squeeze_ and unsqueeze_ give t itself the layout of a
 *   view of it. As in PyTorch, that is recorded like an in-place op: refused
 *   for a leaf that requires grad (or a view of one) in grad mode, the
 *   version bumped, and t's history becomes the view's node (edge 0 t's old
 *   history), named as PyTorch names the in-place form. t stays a view of
 *   what it viewed before, if anything. */
cg_tensor *cg_become_view_(cg_tensor *t, cg_tensor *v, const cg_op *op) {
    if (!v) return NULL;
    if (check_writable(t)) {
        cg_tensor_release(v);
        return NULL;
    }
    if (CG_RECORDING()) cg_tape_break("an in-place view op (t_, squeeze_, ...) changes a tensor's layout");
    t->ndim = v->ndim;
    t->offset = v->offset;
    t->numel = v->numel; /* as_strided_ may change it */
    memcpy(t->shape, v->shape, sizeof t->shape);
    memcpy(t->strides, v->strides, sizeof t->strides);
    if (v->grad_fn) {
        v->grad_fn->op = op; /* the node v's op just made: nobody else sees it */
        cg_set_history(t, v->grad_fn, 0);
    }
    cg_tensor_release(v);
    cg_bump_version(t);
    t->view_version = t->storage->version; /* its new history is current */
    cg_tensor_retain(t);
    return t;
}
