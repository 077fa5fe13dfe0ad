/* iter.c -- running a 1-D inner loop over broadcast, strided operands.
 *
 * Size-1 dimensions are dropped and adjacent dimensions that are contiguous
 * in every operand are merged, so most work reaches the inner loop as one
 * long run; what remains is walked with an index counter, never recursion.
 */
#include "internal.h"

void cg_iter_init(cg_iter *it, cg_tensor *const *ops, int nops, const int64_t *shape, int ndim) {
    int64_t bstrides[CG_ITER_MAX_OPS][CG_MAX_DIMS];
    it->nops = nops;
    for (int k = 0; k < nops; k++) {
        it->data[k] = cg_ptr(ops[k]);
        it->itemsize[k] = cg_dtype_size((cg_dtype)ops[k]->dtype);
        cg_broadcast_strides(ops[k], shape, ndim, bstrides[k]);
    }
    int nd = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        bool merge = nd > 0;
        for (int k = 0; k < nops && merge; k++)
            merge = it->strides[k][nd - 1] == bstrides[k][d] * shape[d];
        if (merge) {
            it->shape[nd - 1] *= shape[d];
            for (int k = 0; k < nops; k++) it->strides[k][nd - 1] = bstrides[k][d];
            continue;
        }
        it->shape[nd] = shape[d];
        for (int k = 0; k < nops; k++) it->strides[k][nd] = bstrides[k][d];
        nd++;
    }
    if (nd == 0) { /* a single element */
        it->shape[0] = 1;
        for (int k = 0; k < nops; k++) it->strides[k][0] = 0;
        nd = 1;
    }
    it->ndim = nd;
}

void cg_iter_run(const cg_iter *it, cg_loop loop) {
    int nd = it->ndim, nops = it->nops;
    for (int d = 0; d < nd; d++)
        if (it->shape[d] == 0) return;
    char *ptr[CG_ITER_MAX_OPS];
    int64_t inner[CG_ITER_MAX_OPS];
    for (int k = 0; k < nops; k++) {
        ptr[k] = it->data[k];
        inner[k] = it->strides[k][nd - 1];
    }
    int64_t n = it->shape[nd - 1];
    if (nd == 1) {
        loop(n, ptr, inner);
        return;
    }
    /* The rows (dim nd - 2) are walked by a plain counted loop and only the
     * dims above them by the counter: a bias added to a batch is 100 calls
     * of a 16-element loop, and the walk between them must cost less than
     * the calls. Byte steps are computed once. */
    int64_t step[CG_MAX_DIMS - 1][CG_ITER_MAX_OPS], idx[CG_MAX_DIMS - 1] = {0};
    for (int d = 0; d < nd - 1; d++)
        for (int k = 0; k < nops; k++) step[d][k] = it->strides[k][d] * it->itemsize[k];
    const int64_t *row = step[nd - 2], rows = it->shape[nd - 2];
    for (;;) {
        for (int64_t r = 0; r < rows; r++) {
            loop(n, ptr, inner);
            for (int k = 0; k < nops; k++) ptr[k] += row[k];
        }
        for (int k = 0; k < nops; k++) ptr[k] -= row[k] * rows;
        int d = nd - 3;
        for (; d >= 0; d--) { /* advance the counter of the dims above */
            for (int k = 0; k < nops; k++) ptr[k] += step[d][k];
            if (++idx[d] < it->shape[d]) break;
            for (int k = 0; k < nops; k++) ptr[k] -= step[d][k] * it->shape[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}

void cg_loop_plan_init(cg_loop_plan *p, cg_tensor *out, cg_tensor *const *ins, int nin) {
    int64_t n = p->n = out->numel;
    if (n == 0) return;
    p->data[0] = cg_ptr(out);
    p->strides[0] = 1;
    bool flat = n == 1 || cg_tensor_is_contiguous(out);
    for (int k = 0; k < nin && flat; k++) {
        p->data[k + 1] = cg_ptr(ins[k]);
        /* same element count and contiguous: only size-1 dims differ */
        if (ins[k]->numel == 1)
            p->strides[k + 1] = 0;
        else if (ins[k]->numel == n && cg_tensor_is_contiguous(ins[k]))
            p->strides[k + 1] = 1;
        else
            flat = false;
    }
    p->flat = flat;
    if (flat) return;
    cg_tensor *ops[CG_ITER_MAX_OPS] = {out};
    for (int k = 0; k < nin; k++) ops[k + 1] = ins[k];
    cg_iter_init(&p->it, ops, nin + 1, out->shape, out->ndim);
}

void cg_loop_plan_run(const cg_loop_plan *p, cg_loop loop) {
    if (p->n == 0) return;
    if (!p->flat) {
        cg_iter_run(&p->it, loop);
        return;
    }
    char *data[CG_ITER_MAX_OPS];
    memcpy(data, p->data, sizeof data);
    loop(p->n, data, p->strides);
}

void cg_run_loop(cg_loop loop, cg_tensor *out, cg_tensor *const *ins, int nin) {
    if (CG_RECORDING()) cg_tape_loop(loop, out, ins, nin);
    cg_loop_plan p;
    cg_loop_plan_init(&p, out, ins, nin);
    cg_loop_plan_run(&p, loop);
}

void cg_run_iter(cg_loop loop, cg_tensor *const *ops, int nops, int shape_op) {
    if (CG_RECORDING()) cg_tape_iter(loop, ops, nops, shape_op);
    cg_iter it;
    cg_iter_init(&it, ops, nops, ops[shape_op]->shape, ops[shape_op]->ndim);
    cg_iter_run(&it, loop);
}
