/* ops_bag.c -- embedding_bag: the sum, mean or maximum of each bag of embedding rows.
 *
 * A bag is a run indices[bounds[b] .. bounds[b + 1]); the Python layer turns
 * PyTorch's offsets (or a 2-D input) into those B + 1 bounds. One kernel
 * reduces every bag and notes, per index, which bag it fell in and the factor
 * its row was taken with (1, a per-sample weight, 1 / bag size, 0 for
 * padding_idx); in max mode, per output element, which row won.
 *
 * The node, EmbeddingBagBackward0 as PyTorch's, has edges to weight and
 * per_sample_weights. Its backward is written with index_select, index_add
 * and scatter_add, so the gradients are differentiable again.
 */
#include <math.h>

#include "internal.h"

#define VP(t) ((void *)cg_ptr(t)) /* a tensor's first element, as any pointer type */

enum { BAG_SUM = 0, BAG_MEAN = 1, BAG_MAX = 2 };

/* What the backward reads. scale: per index, the factor its row's gradient
 * takes (max mode: per output element, 1 where a row won); aux: per index, 1
 * unless padding (sum with per-sample weights), or the winning rows (max). */
typedef struct bag_consts {
    cg_tensor *idx, *bag_of, *scale, *aux;
} bag_consts;

static void bag_consts_free(void *p) {
    bag_consts *c = p;
    cg_tensor_release(c->idx);
    cg_tensor_release(c->bag_of);
    cg_tensor_release(c->scale);
    cg_tensor_release(c->aux);
    free(c);
}

/* ---- forward kernel ------------------------------------------------------------------ */

/* The error for index i holding v, not a row of N: PyTorch's float32 sum and mean kernel
 * (FBGEMM, without padding_idx) words it its own way. */
static int bad_index(const cg_kargs *k, int64_t i, int64_t v, int64_t N, bool f32) {
    if (f32 && k->i[0] != BAG_MAX && k->i[1] < 0)
        cg_error_set(CG_ERR_RUNTIME, "Index %lld of input takes value %lld which is not in the valid range [0, %lld)",
                     (long long)i, (long long)v, (long long)N);
    else
        cg_error_set(CG_ERR_RUNTIME, "embedding_bag: Expected idx >= 0 && idx < num_embeddings but found idx to "
                     "be %lld", (long long)v);
    return -1;
}

/* scale_grad_by_freq: each index's factor divided by a count of its row, as PyTorch's CPU
 * kernel divides: the k-th distinct row (ascending) by the count of the row at position k
 * of the sorted indices (which is not always its own count). */
static int scale_by_freq(const int64_t *ip, int64_t n, int64_t N, void *scale, bool f64) {
    int64_t *freq = calloc((size_t)(N + 1), sizeof(int64_t)), *div = calloc((size_t)(N + 1), sizeof(int64_t));
    if (!freq || !div) {
        free(freq);
        free(div);
        cg_oom((int64_t)(N + 1) * 16);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) freq[ip[i]]++;
    int64_t k = 0, row_at = 0, seen = 0; /* row_at: the row at sorted position k */
    for (int64_t r = 0; r < N; r++) {
        if (!freq[r]) continue;
        while (seen + freq[row_at] <= k) seen += freq[row_at++];
        div[r] = freq[row_at];
        k++;
    }
    for (int64_t i = 0; i < n; i++) {
        if (f64)
            ((double *)scale)[i] /= (double)div[ip[i]];
        else
            ((float *)scale)[i] /= (float)div[ip[i]];
    }
    free(freq);
    free(div);
    return 0;
}

/* t = {out (B, D), bag_of, scale, aux, weight, idx}, v = {bounds, psw or NULL};
 * i = {mode, padding_idx, scale_grad_by_freq} */
#define BAG_KERNEL(NAME, T)                                                                        \
    static int NAME(const cg_kargs *k) {                                                           \
        cg_tensor *out = k->t[0], *w = k->t[4], *idx = k->t[5], *bounds = k->v[0], *psw = k->v[1];   \
        int64_t mode = k->i[0], pad = k->i[1], N = w->shape[0], D = w->shape[1];                   \
        int64_t B = out->shape[0], n = idx->numel;                                                 \
        const int64_t *ip = VP(idx), *bp = VP(bounds);                                             \
        int64_t *bag_of = VP(k->t[1]), *arg = mode == BAG_MAX ? VP(k->t[3]) : NULL;                \
        T *o = VP(out), *scale = VP(k->t[2]), *keep = mode == BAG_MAX ? NULL : VP(k->t[3]);        \
        const T *wp = VP(w), *pp = psw ? VP(psw) : NULL;                                           \
        for (int64_t i = 0; i < n; i++)                                                            \
            if (ip[i] < 0 || ip[i] >= N) return bad_index(k, i, ip[i], N, sizeof(T) == sizeof(float)); \
        memset(o, 0, sizeof(T) * (size_t)(B * D));                                                 \
        for (int64_t b = 0; b < B; b++) {                                                          \
            int64_t count = 0;                                                                     \
            T *ob = o + b * D;                                                                     \
            if (arg)                                                                               \
                for (int64_t d = 0; d < D; d++) arg[b * D + d] = -1;                               \
            for (int64_t i = bp[b]; i < bp[b + 1]; i++) {                                          \
                const T *row = wp + ip[i] * D;                                                     \
                bag_of[i] = b;                                                                     \
                if (mode != BAG_MAX) keep[i] = ip[i] != pad;                                       \
                if (ip[i] == pad) continue;                                                        \
                T f = pp ? pp[i] : (T)1;                                                           \
                if (arg) {                                                                         \
                    for (int64_t d = 0; d < D; d++)                                                \
                        if (count == 0 || row[d] > ob[d]) {                                        \
                            ob[d] = row[d];                                                        \
                            arg[b * D + d] = ip[i];                                                \
                        }                                                                          \
                } else {                                                                           \
                    for (int64_t d = 0; d < D; d++) ob[d] += f * row[d];                           \
                }                                                                                  \
                count++;                                                                           \
            }                                                                                      \
            if (mode == BAG_MEAN && count > 0)                                                     \
                for (int64_t d = 0; d < D; d++) ob[d] /= (T)count;                                 \
            if (mode != BAG_MAX)                                                                   \
                for (int64_t i = bp[b]; i < bp[b + 1]; i++)                                        \
                    scale[i] = !keep[i] ? (T)0 : mode == BAG_MEAN ? (T)1 / (T)count : (T)1;        \
        }                                                                                          \
        for (int64_t i = bp[B]; i < n; i++) { /* past the last bag: in no bag */                   \
            bag_of[i] = 0;                                                                         \
            if (mode != BAG_MAX) scale[i] = keep[i] = 0;                                           \
        }                                                                                          \
        if (mode == BAG_MAX) /* scale: 1 where a row won, aux: that row (0 where none did) */       \
            for (int64_t e = 0; e < B * D; e++) {                                                  \
                scale[e] = arg[e] >= 0;                                                            \
                if (arg[e] < 0) arg[e] = 0;                                                        \
            }                                                                                      \
        if (k->i[2] && mode != BAG_MAX && scale_by_freq(ip, n, N, scale, sizeof(T) == sizeof(double))) return -1; \
        return 0;                                                                                  \
    }
BAG_KERNEL(bag_kernel_f32, float)
BAG_KERNEL(bag_kernel_f64, double)

/* ---- backward --------------------------------------------------------------------------- */

/* rows (n, D) times the per-row factor s (n) */
static cg_tensor *scale_rows(cg_tensor *rows, cg_tensor *s) {
    cg_tensor *col = cg_unsqueeze(s, 1), *r = col ? cg_mul(rows, col) : NULL;
    cg_tensor_release(col);
    return r;
}

/* d/dweight: each index's row gets its bag's gradient times the row's factor;
 * max mode: each output element's gradient goes to the row that won it. */
static cg_tensor *bag_weight_grad(cg_node *n, const bag_consts *c, cg_tensor *g) {
    int64_t shape[2] = {n->i[1], g->shape[1]};
    cg_tensor *zeros = cg_zeros(shape, 2, (cg_dtype)g->dtype), *r = NULL;
    if (!zeros) return NULL;
    if (n->i[0] == BAG_MAX) {
        cg_tensor *src = cg_mul(g, c->scale);
        r = src ? cg_scatter_add(zeros, 0, c->aux, src) : NULL;
        cg_tensor_release(src);
    } else {
        cg_tensor *psw = n->i[2] ? cg_unpack(n, 1) : NULL, *s = psw ? cg_mul(psw, c->scale) : c->scale;
        cg_tensor *rows = s ? cg_index_select(g, 0, c->bag_of) : NULL;
        cg_tensor *src = rows ? scale_rows(rows, s) : NULL;
        r = src ? cg_index_add(zeros, 0, c->idx, src, 1.0) : NULL;
        if (psw) {
            cg_tensor_release(psw);
            cg_tensor_release(s);
        }
        cg_tensor_release(rows);
        cg_tensor_release(src);
    }
    cg_tensor_release(zeros);
    return r;
}

/* d/dper_sample_weights[i] = <gradient of i's bag, weight row of i>, 0 for padding */
static cg_tensor *bag_psw_grad(cg_node *n, const bag_consts *c, cg_tensor *g) {
    int64_t dim = 1;
    cg_tensor *w = cg_unpack(n, 0);
    cg_tensor *rows = w ? cg_index_select(g, 0, c->bag_of) : NULL, *wr = rows ? cg_index_select(w, 0, c->idx) : NULL;
    cg_tensor *prod = wr ? cg_mul(rows, wr) : NULL, *dot = prod ? cg_sum(prod, &dim, 1, 0) : NULL;
    cg_tensor *r = dot ? cg_mul(dot, c->aux) : NULL;
    cg_tensor_release(w);
    cg_tensor_release(rows);
    cg_tensor_release(wr);
    cg_tensor_release(prod);
    cg_tensor_release(dot);
    return r;
}

static int bag_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    const bag_consts *c = n->extra;
    if (cg_wants(n, 0) && !(gin[0] = bag_weight_grad(n, c, gout[0]))) return -1;
    if (cg_wants(n, 1) && !(gin[1] = bag_psw_grad(n, c, gout[0]))) return -1;
    return 0;
}
static const cg_op bag_op = {"EmbeddingBagBackward0", bag_backward, bag_consts_free};

/* ---- forward ----------------------------------------------------------------------------- */

static int check_bag(const cg_tensor *w, const cg_tensor *idx, const cg_tensor *bounds, const cg_tensor *psw) {
    if (idx->dtype != CG_INT64) {
        cg_error_set(CG_ERR_RUNTIME, "Expected tensor for argument #1 'indices' to have one of the following scalar "
                     "types: Long, Int; but got %s instead (while checking arguments for embedding_bag)",
                     cg_dtype_tensor_name((cg_dtype)idx->dtype));
        return -1;
    }
    if (!cg_dtype_is_floating((cg_dtype)w->dtype) || w->ndim != 2) {
        cg_error_set(CG_ERR_RUNTIME, "embedding_bag: weight must be a 2-D floating tensor");
        return -1;
    }
    if (idx->ndim != 1 || bounds->ndim != 1 || bounds->dtype != CG_INT64 || bounds->numel < 1) {
        cg_error_set(CG_ERR_RUNTIME, "embedding_bag: expected 1-D int64 indices and bag bounds");
        return -1;
    }
    if (psw && (psw->dtype != w->dtype || psw->numel != idx->numel)) {
        cg_error_set(CG_ERR_RUNTIME, "expected scalar type %s but found %s",
                     cg_dtype_torch_name((cg_dtype)w->dtype), cg_dtype_torch_name((cg_dtype)psw->dtype));
        return -1;
    }
    return 0;
}

static cg_tensor *contiguous_or_null(cg_tensor *t) { return t ? cg_contiguous(t) : NULL; }

cg_tensor *cg_embedding_bag(cg_tensor *weight, cg_tensor *indices, cg_tensor *bounds, cg_tensor *per_sample_weights,
                            int mode, int64_t padding_idx, int scale_grad_by_freq) {
    if (check_bag(weight, indices, bounds, per_sample_weights)) return NULL;
    cg_dtype dt = (cg_dtype)weight->dtype;
    int64_t B = bounds->numel - 1, n = indices->numel, D = weight->shape[1];
    int64_t oshape[2] = {B, D}, *sshape = mode == BAG_MAX ? oshape : &n;
    int snd = mode == BAG_MAX ? 2 : 1;
    cg_tensor *w = cg_contiguous(weight), *ic = cg_contiguous(indices), *bc = cg_contiguous(bounds);
    cg_tensor *pc = contiguous_or_null(per_sample_weights);
    cg_tensor *out = cg_empty(oshape, 2, dt), *bag_of = cg_empty(&n, 1, CG_INT64);
    cg_tensor *scale = cg_empty(sshape, snd, dt), *aux = mode == BAG_MAX ? cg_empty(oshape, 2, CG_INT64)
                                                                         : cg_empty(&n, 1, dt);
    int rc = (!w || !ic || !bc || (per_sample_weights && !pc) || !out || !bag_of || !scale || !aux) ? -1 : 0;
    if (!rc)
        rc = cg_kernel(dt == CG_FLOAT64 ? bag_kernel_f64 : bag_kernel_f32,
                       &(cg_kargs){.name = "embedding_bag", .t = {out, bag_of, scale, aux, w, ic}, .nw = 4,
                                   .v = (cg_tensor *[]){bc, pc}, .nv = 2,
                                   .i = {mode, padding_idx, scale_grad_by_freq}});
    cg_tensor *ins[2] = {weight, per_sample_weights};
    cg_node *node = NULL;
    bag_consts *c = NULL;
    if (!rc && cg_any_requires_grad(ins, 2)) {
        node = cg_node_new(&bag_op, ins, 2, 1); /* an edge for per_sample_weights even when none, as PyTorch's */
        c = node ? calloc(1, sizeof *c) : NULL;
        rc = !c || (per_sample_weights && (cg_save(node, 0, weight, false) || cg_save(node, 1, per_sample_weights,
                                                                                       false))) ? -1 : 0;
        if (node && !c) cg_oom((int64_t)sizeof *c);
    }
    if (c) {
        *c = (bag_consts){ic, bag_of, scale, aux};
        ic = bag_of = scale = aux = NULL;
        node->extra = c;
        node->i[0] = mode;
        node->i[1] = weight->shape[0];
        node->i[2] = per_sample_weights != NULL;
    }
    cg_tensor_release(w);
    cg_tensor_release(ic);
    cg_tensor_release(bc);
    cg_tensor_release(pc);
    cg_tensor_release(bag_of);
    cg_tensor_release(scale);
    cg_tensor_release(aux);
    if (rc) {
        cg_node_release(node);
        cg_tensor_release(out);
        return NULL;
    }
    if (node) {
        cg_set_history(out, node, 0);
        cg_node_release(node);
    }
    return out;
}
