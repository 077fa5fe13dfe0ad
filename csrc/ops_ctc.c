/* ops_ctc.c -- the connectionist temporal classification loss, forward and backward.
 *
 * As PyTorch's CPU kernel: the forward variables alpha are computed in log
 * space over the extended target (blanks between and around the labels),
 * the loss of a sequence is -log(alpha[T-1][S'-1] + alpha[T-1][S'-2]); the
 * backward runs the backward variables beta the same way and, per time step
 * and class, adds alpha * beta over the extended positions holding that class
 * (again in log space). The gradient PyTorch defines, and the one given here,
 * is exp(log_probs) - exp(log(alpha beta) + nll - log_probs): the gradient
 * with respect to log_probs composed with a log_softmax before it.
 *
 * The Python layer checks the arguments and turns the targets into one flat
 * run with a start per sequence; the reduction is ordinary ops after the
 * node, as PyTorch's. The backward is not differentiable again (PyTorch
 * defines no derivative for it either): under create_graph its result gets a
 * node that says so.
 */
#include <math.h>

#include "internal.h"

#define VP(t) ((void *)cg_ptr(t)) /* a tensor's first element, as any pointer type */

/* What both passes read of sequence b. */
typedef struct ctc_seq {
    int64_t il, tl;      /* input and target length */
    const int64_t *tg;   /* its labels */
    int64_t N, C, S2;    /* batch, classes, extended positions per row of alpha */
    int64_t b, blank;
} ctc_seq;

/* The label at extended position s: blank at even s, the (s/2)-th label at odd s. */
static inline int64_t prime(const ctc_seq *q, int64_t s) { return s % 2 == 0 ? q->blank : q->tg[s / 2]; }

static ctc_seq seq_of(const cg_kargs *k, int64_t b, int64_t N, int64_t C, int64_t S2) {
    const int64_t *tg = VP(k->v[0]), *off = VP(k->v[1]), *il = VP(k->v[2]), *tl = VP(k->v[3]);
    return (ctc_seq){il[b], tl[b], tg + off[b], N, C, S2, b, k->i[0]};
}

/* log(exp(a) + exp(b) + exp(c)) as PyTorch spells it, taking the max out first */
#define CTC_LSE3(T, EXP, LOG)                                                                    \
    static inline T lse3_##T(T a, T b, T c) {                                                    \
        T m = a > b ? a : b;                                                                     \
        m = c > m ? c : m;                                                                       \
        if (m == -INFINITY) m = 0;                                                               \
        return LOG(EXP(a - m) + EXP(b - m) + EXP(c - m)) + m;                                    \
    }

/* t = {nll (N), alpha (N, T, S2), log_probs (T, N, C)}; v = {targets, target starts, input
 * lengths, target lengths}; i = {blank} */
#define CTC_FORWARD(T, EXP, LOG)                                                                 \
    static int ctc_forward_##T(const cg_kargs *k) {                                              \
        cg_tensor *alpha = k->t[1], *lpt = k->t[2];                                              \
        int64_t Tm = lpt->shape[0], N = lpt->shape[1], C = lpt->shape[2], S2 = alpha->shape[2];  \
        T *nll = VP(k->t[0]), *al = VP(alpha);                                                   \
        const T *lp = VP(lpt);                                                                   \
        for (int64_t e = 0; e < alpha->numel; e++) al[e] = -INFINITY;                            \
        for (int64_t b = 0; b < N; b++) {                                                        \
            ctc_seq q = seq_of(k, b, N, C, S2);                                                  \
            T *a = al + b * Tm * S2;                                                             \
            if (q.il == 0) { /* nothing read: only the empty target is possible */               \
                nll[b] = q.tl == 0 ? (T)-0.0 : (T)INFINITY;                                      \
                continue;                                                                        \
            }                                                                                    \
            a[0] = lp[b * C + q.blank];                                                          \
            if (q.tl > 0) a[1] = lp[b * C + q.tg[0]];                                            \
            for (int64_t t = 1; t < q.il; t++) {                                                 \
                const T *prev = a + (t - 1) * S2, *lpr = lp + (t * N + b) * C;                   \
                for (int64_t s = 0; s <= 2 * q.tl; s++) {                                        \
                    int64_t c = prime(&q, s);                                                    \
                    T a2 = s > 0 ? prev[s - 1] : (T)-INFINITY;                                   \
                    T a3 = s > 1 && prime(&q, s - 2) != c ? prev[s - 2] : (T)-INFINITY;          \
                    a[t * S2 + s] = lse3_##T(prev[s], a2, a3) + lpr[c];                          \
                }                                                                                \
            }                                                                                    \
            const T *last = a + (q.il - 1) * S2;                                                 \
            nll[b] = q.tl == 0 ? -last[0] : -lse3_##T(last[2 * q.tl], last[2 * q.tl - 1], -INFINITY); \
        }                                                                                        \
        return 0;                                                                                \
    }

/* One sequence's beta (scratch, T x S2) and, in g (its (T, C) slice with stride N * C),
 * log sum over s of alpha beta per class, then the gradient from it. */
#define CTC_BACKWARD_SEQ(T, EXP, LOG)                                                            \
    static void ctc_backward_seq_##T(const ctc_seq *q, T *g, const T *lp, const T *a, T *lb,     \
                                     T nll, T gr, int64_t Tm) {                                  \
        int64_t C = q->C, S2 = q->S2, row = q->N * C, top = 2 * q->tl;                           \
        for (int64_t e = 0; e < Tm * S2; e++) lb[e] = -INFINITY;                                 \
        for (int64_t t = 0; t < q->il; t++)                                                      \
            for (int64_t c = 0; c < C; c++) g[t * row + c] = -INFINITY;                          \
        if (q->il > 0) {                                                                         \
            int64_t t = q->il - 1;                                                               \
            lb[t * S2 + top] = lp[t * row + q->blank];                                           \
            g[t * row + q->blank] = a[t * S2 + top] + lb[t * S2 + top];                          \
            if (q->tl > 0) {                                                                     \
                int64_t c = prime(q, top - 1);                                                   \
                lb[t * S2 + top - 1] = lp[t * row + c];                                          \
                g[t * row + c] = a[t * S2 + top - 1] + lb[t * S2 + top - 1];                     \
            }                                                                                    \
        }                                                                                        \
        for (int64_t t = q->il - 2; t >= 0; t--)                                                 \
            for (int64_t s = top; s >= 0; s--) {                                                 \
                int64_t c = prime(q, s);                                                         \
                const T *next = lb + (t + 1) * S2;                                               \
                T b2 = s < top ? next[s + 1] : (T)-INFINITY;                                     \
                T b3 = s < top - 1 && prime(q, s + 2) != c ? next[s + 2] : (T)-INFINITY;         \
                T v = lse3_##T(next[s], b2, b3) + lp[t * row + c];                               \
                lb[t * S2 + s] = v;                                                              \
                T ab = a[t * S2 + s] + v, *acc = &g[t * row + c];                                \
                *acc = *acc == -INFINITY ? ab : lse3_##T(*acc, ab, -INFINITY);                   \
            }                                                                                    \
        for (int64_t t = 0; t < Tm; t++)                                                         \
            for (int64_t c = 0; c < C; c++) {                                                    \
                T *r = &g[t * row + c], l = lp[t * row + c];                                     \
                *r = t < q->il ? (EXP(l) - EXP(*r + nll - l)) * gr : (T)0;                       \
            }                                                                                    \
    }

/* t = {grad (T, N, C), log_probs, alpha, nll, incoming gradient (N)}; v and i as the forward's,
 * and i[1] = zero_infinity */
#define CTC_BACKWARD(T, EXP, LOG)                                                                \
    static int ctc_backward_##T(const cg_kargs *k) {                                             \
        cg_tensor *grad = k->t[0], *alpha = k->t[2];                                             \
        int64_t Tm = grad->shape[0], N = grad->shape[1], C = grad->shape[2], S2 = alpha->shape[2]; \
        T *g = VP(grad);                                                                         \
        const T *lp = VP(k->t[1]), *al = VP(alpha), *nll = VP(k->t[3]), *gr = VP(k->t[4]);       \
        T *lb = malloc(sizeof(T) * (size_t)(Tm * S2 > 0 ? Tm * S2 : 1));                           \
        if (!lb) return cg_oom((int64_t)sizeof(T) * Tm * S2) ? 0 : -1; /* cg_oom is NULL: -1 */  \
        for (int64_t b = 0; b < N; b++) {                                                        \
            ctc_seq q = seq_of(k, b, N, C, S2);                                                  \
            if (k->i[1] && nll[b] == (T)INFINITY) { /* zero_infinity: no gradient at all */      \
                for (int64_t t = 0; t < Tm; t++) memset(g + (t * N + b) * C, 0, sizeof(T) * (size_t)C); \
                continue;                                                                        \
            }                                                                                    \
            ctc_backward_seq_##T(&q, g + b * C, lp + b * C, al + b * Tm * S2, lb, nll[b], gr[b], Tm); \
        }                                                                                        \
        free(lb);                                                                                \
        return 0;                                                                                \
    }

CTC_LSE3(float, expf, logf)
CTC_LSE3(double, exp, log)
CTC_FORWARD(float, expf, logf)
CTC_FORWARD(double, exp, log)
CTC_BACKWARD_SEQ(float, expf, logf)
CTC_BACKWARD_SEQ(double, exp, log)
CTC_BACKWARD(float, expf, logf)
CTC_BACKWARD(double, exp, log)

/* ---- the node ---------------------------------------------------------------------------- */

/* What the backward reads besides log_probs (saved): the targets and lengths as the kernels
 * take them (v), alpha and the loss itself (a copy: the output is not kept). */
typedef struct ctc_consts {
    cg_tensor *v[4], *alpha, *nll;
} ctc_consts;

static void ctc_consts_free(void *p) {
    ctc_consts *c = p;
    for (int k = 0; k < 4; k++) cg_tensor_release(c->v[k]);
    cg_tensor_release(c->alpha);
    cg_tensor_release(c->nll);
    free(c);
}

static int ctc_backward_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n, (void)gout, (void)gin; /* PyTorch defines no derivative of the CTC gradient */
    cg_error_set(CG_ERR_RUNTIME, "derivative for aten::_ctc_loss_backward is not implemented");
    return -1;
}
static const cg_op ctc_backward_op = {"torch::autograd::NotImplemented", ctc_backward_backward, NULL};

static int ctc_loss_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    const ctc_consts *c = n->extra;
    cg_tensor *lp = cg_unpack(n, 0);
    if (!lp) return -1;
    cg_dtype dt = (cg_dtype)lp->dtype;
    cg_tensor *lpc = cg_contiguous(lp), *gc = lpc ? cg_to_dtype(gout[0], dt) : NULL;
    cg_tensor *gd = gc ? cg_contiguous(gc) : NULL, *out = gd ? cg_empty(lp->shape, 3, dt) : NULL;
    int rc = out ? cg_kernel(dt == CG_FLOAT64 ? ctc_backward_double : ctc_backward_float,
                             &(cg_kargs){.name = "ctc_loss_backward", .t = {out, lpc, c->alpha, c->nll, gd}, .nw = 1,
                                         .v = c->v, .nv = 4, .i = {n->i[0], n->i[1]}})
                 : -1;
    cg_tensor *ins[2] = {gout[0], lp};
    if (!rc && cg_any_requires_grad(ins, 2)) {
        cg_node *bn = cg_node_new(&ctc_backward_op, ins, 2, 1);
        if (bn) {
            cg_set_history(out, bn, 0);
            cg_node_release(bn);
        } else {
            rc = -1;
        }
    }
    cg_tensor_release(lp);
    cg_tensor_release(lpc);
    cg_tensor_release(gc);
    cg_tensor_release(gd);
    if (rc) {
        cg_tensor_release(out);
        return -1;
    }
    gin[0] = out;
    return 0;
}
static const cg_op ctc_loss_op = {"CtcLossBackward0", ctc_loss_backward, ctc_consts_free};

/* ---- forward ------------------------------------------------------------------------------ */

/* The checks PyTorch's kernel leaves to memory: labels and lengths the kernels can read. */
static int check_ctc(const cg_tensor *lp, const cg_tensor *tg, const cg_tensor *off, const cg_tensor *il,
                     const cg_tensor *tl, int64_t blank) {
    int64_t N = lp->ndim == 3 ? lp->shape[1] : -1;
    const cg_tensor *ints[4] = {tg, off, il, tl};
    for (int k = 0; k < 4; k++)
        if (ints[k]->dtype != CG_INT64 || ints[k]->ndim != 1 || !cg_tensor_is_contiguous(ints[k]) ||
            (k > 0 && ints[k]->numel != N)) {
            cg_error_set(CG_ERR_RUNTIME, "ctc_loss: expected 3-D log_probs and 1-D int64 targets, starts and "
                         "lengths of the batch size");
            return -1;
        }
    if (!cg_dtype_is_floating((cg_dtype)lp->dtype)) {
        cg_error_set(CG_ERR_NOTIMPL, "\"ctc_loss_cpu\" not implemented for '%s'",
                     cg_dtype_torch_name((cg_dtype)lp->dtype));
        return -1;
    }
    const int64_t *t = VP(tg), *o = VP(off), *ip = VP(il), *lens = VP(tl);
    for (int64_t b = 0; b < N; b++) {
        if (ip[b] < 0 || ip[b] > lp->shape[0] || lens[b] < 0 || o[b] < 0 || o[b] + lens[b] > tg->numel) {
            cg_error_set(CG_ERR_RUNTIME, "ctc_loss: lengths out of range for sequence %lld", (long long)b);
            return -1;
        }
        for (int64_t s = 0; s < lens[b]; s++)
            if (t[o[b] + s] < 0 || t[o[b] + s] >= lp->shape[2]) {
                cg_error_set(CG_ERR_RUNTIME, "ctc_loss: target label %lld is out of range for %lld classes",
                             (long long)t[o[b] + s], (long long)lp->shape[2]);
                return -1;
            }
    }
    if (blank < 0 || blank >= lp->shape[2]) {
        cg_error_set(CG_ERR_RUNTIME, "blank must be in label range");
        return -1;
    }
    return 0;
}

static int64_t max_target_length(const cg_tensor *tl) {
    int64_t m = 0;
    for (int64_t b = 0; b < tl->numel; b++) m = ((int64_t *)VP(tl))[b] > m ? ((int64_t *)VP(tl))[b] : m;
    return m;
}

cg_tensor *cg_ctc_loss(cg_tensor *log_probs, cg_tensor *targets, cg_tensor *target_starts, cg_tensor *input_lengths,
                       cg_tensor *target_lengths, int64_t blank, int zero_infinity) {
    if (check_ctc(log_probs, targets, target_starts, input_lengths, target_lengths, blank)) return NULL;
    cg_dtype dt = (cg_dtype)log_probs->dtype;
    int64_t N = log_probs->shape[1], ashape[3] = {N, log_probs->shape[0], 2 * max_target_length(target_lengths) + 1};
    cg_tensor *lpc = cg_contiguous(log_probs), *nll = cg_empty(&N, 1, dt), *alpha = cg_empty(ashape, 3, dt);
    cg_tensor *v[4] = {targets, target_starts, input_lengths, target_lengths};
    int rc = lpc && nll && alpha ? cg_kernel(dt == CG_FLOAT64 ? ctc_forward_double : ctc_forward_float,
                                             &(cg_kargs){.name = "ctc_loss", .t = {nll, alpha, lpc}, .nw = 2,
                                                         .v = v, .nv = 4, .i = {blank}})
                                 : -1;
    cg_tensor_release(lpc);
    cg_tensor *out = rc ? NULL : cg_clone(nll); /* the node keeps nll; the caller gets its own copy */
    if (!out || !cg_any_requires_grad(&log_probs, 1)) {
        cg_tensor_release(nll);
        cg_tensor_release(alpha);
        return out;
    }
    cg_node *n = cg_node_new(&ctc_loss_op, &log_probs, 1, 1);
    ctc_consts *c = n ? calloc(1, sizeof *c) : NULL;
    if (!c || cg_save(n, 0, log_probs, false)) {
        if (n && !c) cg_oom((int64_t)sizeof *c);
        free(c);
        cg_node_release(n);
        cg_tensor_release(nll);
        cg_tensor_release(alpha);
        cg_tensor_release(out);
        return NULL;
    }
    for (int k = 0; k < 4; k++) cg_tensor_retain(c->v[k] = v[k]);
    c->alpha = alpha;
    c->nll = nll;
    n->extra = c;
    n->i[0] = blank;
    n->i[1] = zero_infinity;
    cg_set_history(out, n, 0);
    cg_node_release(n);
    return out;
}
