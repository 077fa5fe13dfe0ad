/* optim.c -- fused optimizer steps: one call updates every parameter of a group.
 *
 * Note [Bit-exact optimizer steps]
 *   Each update replays the floating-point operations of PyTorch's
 *   single-tensor (foreach=False) CPU implementation in the same order, so
 *   trajectories agree bit for bit. On CPU, PyTorch's add(other, alpha) and
 *   addcmul(t1, t2, value) are fused multiply-adds (fma(other, alpha, self),
 *   fma(value * t1, t2, self)), addcdiv is self + (value * t1) / t2, and lerp
 *   is an fma around the nearer end. Scalars that PyTorch computes in Python
 *   (bias corrections, step sizes) are computed here in double, in the same
 *   order, then cast to the parameter's dtype as a Scalar argument would be.
 *   Nothing else may be contracted into an fma, hence CG_NO_FP_CONTRACT below.
 *   One exception: the square root here is IEEE-754's, correctly rounded,
 *   while PyTorch's CPU sqrt of a contiguous tensor goes through MKL's vector
 *   math library, which is off by one ulp in about 1% of results; so Adam,
 *   AdamW, RMSprop, Adagrad, NAdam, RAdam and Adadelta match PyTorch bit for
 *   bit where its square roots are correctly rounded (tests/test_optim.py
 *   and tests/test_optim_more.py compare them with PyTorch's swapped for the
 *   IEEE-754 one). Values PyTorch reads from 0-d state tensors with .item()
 *   (step counters, NAdam's mu_product, ASGD's eta and mu) are read here from
 *   the same tensors, so a recorded step replays them as they change.
 */
#include <math.h>
#include <stdio.h>

#include "internal.h"

#define VP(t) ((void *)cg_ptr(t)) /* a tensor's first element, as any pointer type */

CG_NO_FP_CONTRACT

/* ---- operands ------------------------------------------------------------------------ */

/* The elements of a parameter or state tensor as one contiguous array: its
 * own memory, or a copy that rw_end writes back. */
typedef struct rw {
    cg_tensor *t, *copy;
    void *data;
} rw;

static int rw_begin(rw *r, cg_tensor *t) {
    r->t = t;
    r->copy = NULL;
    if (!cg_tensor_is_contiguous(t)) {
        if (!(r->copy = cg_empty(t->shape, t->ndim, (cg_dtype)t->dtype)) || cg_copy_data(r->copy, t)) return -1;
    }
    r->data = VP(r->copy ? r->copy : t);
    return 0;
}

static int rw_end(rw *r) {
    int rc = r->copy ? cg_copy_data(r->t, r->copy) : 0;
    cg_tensor_release(r->copy);
    r->copy = NULL;
    cg_bump_version(r->t);
    return rc;
}

/* The gradient of p, contiguous and in p's dtype (new reference). */
static cg_tensor *grad_of(cg_tensor *p) {
    cg_tensor *g = p->grad;
    if (g->dtype == p->dtype && cg_tensor_is_contiguous(g)) {
        cg_tensor_retain(g);
        return g;
    }
    cg_tensor *c = cg_empty(p->shape, p->ndim, (cg_dtype)p->dtype);
    if (c && cg_copy_data(c, g)) {
        cg_tensor_release(c);
        return NULL;
    }
    return c;
}

static int check_param(cg_tensor *p, cg_tensor *const *state, int nstate) {
    if (!cg_dtype_is_floating((cg_dtype)p->dtype)) {
        cg_error_set(CG_ERR_RUNTIME, "optimizer: parameters must be floating point, got %s", cg_dtype_name((cg_dtype)p->dtype));
        return -1;
    }
    for (int k = 0; k < nstate; k++) {
        if (!state[k]) continue;
        if (state[k]->dtype != p->dtype || !cg_same_shape(state[k], p)) {
            char b1[160], b2[160];
            cg_error_set(CG_ERR_RUNTIME, "optimizer state of shape %s and dtype %s does not match its parameter "
                         "(shape %s, dtype %s)", cg_shape_str(state[k]->shape, state[k]->ndim, b1, sizeof b1),
                         cg_dtype_name((cg_dtype)state[k]->dtype), cg_shape_str(p->shape, p->ndim, b2, sizeof b2),
                         cg_dtype_name((cg_dtype)p->dtype));
            return -1;
        }
    }
    return 0;
}

/* step += 1 on a 0-d step tensor (float32 or float64, as PyTorch keeps it); the new value. */
static double bump_step(cg_tensor *step) {
    void *p = VP(step);
    double v;
    if (step->dtype == CG_FLOAT32)
        v = *(float *)p = *(float *)p + 1.0f;
    else if (step->dtype == CG_FLOAT64)
        v = *(double *)p = *(double *)p + 1.0;
    else
        v = (double)(*(int64_t *)p += 1);
    cg_bump_version(step);
    return v;
}

/* Calls fn on each of the n parameters that have a gradient. states[k][i] is
 * the k-th state tensor of parameter i (states[k] NULL: none); the first
 * nopen are element-wise state, opened as contiguous arrays St[k]; the rest
 * (step counters) are passed as tensors. */
#define MAX_STATE 4
typedef int (*param_fn)(const void *args, cg_tensor *p, void *P, const void *G, void **St, int64_t n,
                        cg_tensor **state);

static int update_one(cg_tensor *p, cg_tensor **st, int nopen, param_fn fn, const void *args) {
    rw rp = {0}, rs[MAX_STATE] = {{0}};
    void *sd[MAX_STATE] = {NULL};
    cg_tensor *g = grad_of(p);
    int rc = g && !rw_begin(&rp, p) ? 0 : -1;
    for (int k = 0; rc == 0 && k < nopen; k++)
        if (st[k] && !(rc = rw_begin(&rs[k], st[k]))) sd[k] = rs[k].data;
    if (rc == 0) rc = fn(args, p, rp.data, VP(g), sd, p->numel, st);
    if (rp.t && rw_end(&rp)) rc = -1;
    for (int k = 0; k < nopen; k++)
        if (rs[k].t && rw_end(&rs[k])) rc = -1;
    cg_tensor_release(g);
    return rc;
}

static int for_each_param(cg_tensor *const *params, cg_tensor **const *states, int nopen, int nstate, int n,
                          param_fn fn, const void *args) {
    for (int i = 0; i < n; i++) {
        cg_tensor *p = params[i], *st[MAX_STATE] = {NULL};
        if (!p->grad) continue;
        for (int k = 0; k < nstate; k++) st[k] = states[k] ? states[k][i] : NULL;
        for (int k = nopen; k < nstate; k++) {
            if (states[k] && !st[k]) {
                cg_error_set(CG_ERR_RUNTIME, "optimizer: parameter %d has a gradient but no step counter", i);
                return -1;
            }
            if (st[k] && st[k]->numel != 1) {
                cg_error_set(CG_ERR_RUNTIME, "optimizer: a scalar state of parameter %d has %lld elements, expected 1",
                             i, (long long)st[k]->numel);
                return -1;
            }
        }
        if (check_param(p, st, nopen) || update_one(p, st, nopen, fn, args)) return -1;
    }
    return 0;
}

/* PyTorch's lerp: an fma around whichever end the weight is nearer */
#define LERP(FMA, start, end, w) (fabs((double)(w)) < 0.5 ? FMA((w), (end) - (start), (start)) : FMA((w) - 1, (end) - (start), (end)))

/* Instantiates NAME##_f32 / _f64 from BODY(FMA, SQRT), which sees T, P, G, St, n and a. */
#define PER_DTYPE(NAME, ARGS, BODY)                                                          \
    static void NAME##_f32(const ARGS *a, float *P, const float *G, void **St, int64_t n) {  \
        typedef float T;                                                                     \
        BODY(fmaf, sqrtf)                                                                    \
    }                                                                                        \
    static void NAME##_f64(const ARGS *a, double *P, const double *G, void **St, int64_t n) { \
        typedef double T;                                                                    \
        BODY(fma, sqrt)                                                                      \
    }

/* ---- recording ------------------------------------------------------------------------- */

/* A group step as one tape entry (or, while refreshing, the new hyper-parameters
 * of the entry it recorded): v holds the params, then each of the nstate state
 * arrays; the entry's f[] is re-read before every replay. */
static int record_step(cg_kernel_fn fn, cg_tensor *const *params, cg_tensor **const *states, int nstate, int n,
                       const int64_t *flags, int nflags, const double *f, int nf) {
    cg_kargs k = {.name = "an optimizer step", .i = {n}};
    memcpy(k.i + 1, flags, (size_t)nflags * sizeof(int64_t));
    memcpy(k.f, f, (size_t)nf * sizeof(double));
    cg_tensor **v = malloc(((size_t)n * (size_t)(nstate + 1) + 1) * sizeof(cg_tensor *));
    if (!v) {
        cg_oom((int64_t)n * 8);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        v[i] = params[i];
        for (int s = 0; s < nstate; s++) v[(s + 1) * n + i] = states[s] ? states[s][i] : NULL;
        if (CG_RECORDING()) cg_tape_note_grad(params[i]);
        for (int s = 0; s < nstate && params[i]->grad && CG_RECORDING(); s++)
            if (states[s] && !states[s][i]) cg_tape_break("an optimizer made its state during the step");
    }
    k.v = v;
    k.nv = k.vw = n * (nstate + 1);
    int rc = cg_tape_refresh(fn, &k) ? 0 : cg_kernel_refreshed(fn, &k);
    free(v);
    return rc;
}

#define STATE(k, s) ((cg_tensor **)(k)->v + ((s) + 1) * (k)->i[0]) /* state array s of a recorded step */
#define STATE_OR_NULL(k, s, on) ((on) ? STATE(k, s) : NULL)

/* ---- SGD -------------------------------------------------------------------------------- */

typedef struct sgd_args {
    double lr, momentum, dampening, weight_decay;
    int nesterov, maximize, fresh;
} sgd_args;

/* grad (+ wd param); buf = grad on the first step, buf momentum + (1 - dampening) grad after */
#define SGD_BODY(FMA, SQRT)                                                                        \
    T *B = St[0], wd = (T)a->weight_decay, mom = (T)a->momentum, damp = (T)(1 - a->dampening); \
    T neglr = (T)(-a->lr);                                                                   \
    for (int64_t i = 0; i < n; i++) {                                                        \
        T g = a->maximize ? -G[i] : G[i];                                                    \
        if (a->weight_decay != 0) g = FMA(P[i], wd, g);                                      \
        if (a->momentum != 0) {                                                              \
            T b = a->fresh ? g : FMA(g, damp, B[i] * mom);                                   \
            B[i] = b;                                                                        \
            g = a->nesterov ? FMA(b, mom, g) : b;                                            \
        }                                                                                    \
        P[i] = FMA(g, neglr, P[i]);                                                          \
    }
PER_DTYPE(sgd, sgd_args, SGD_BODY)

static int sgd_param(const void *args, cg_tensor *p, void *P, const void *G, void **St, int64_t n, cg_tensor **st) {
    (void)st;
    if (p->dtype == CG_FLOAT64)
        sgd_f64(args, P, G, St, n);
    else
        sgd_f32(args, P, G, St, n);
    return 0;
}

/* bufs[i] NULL: parameter i has no momentum buffer yet; its first step makes
 * one (a new reference stored in bufs[i]). */
static int sgd_run(cg_tensor *const *params, cg_tensor **bufs, int n, double lr, double momentum, double dampening,
                   double weight_decay, int nesterov, int maximize) {
    for (int i = 0; i < n; i++) {
        cg_tensor *p = params[i];
        if (!p->grad) continue;
        sgd_args a = {lr, momentum, dampening, weight_decay, nesterov, maximize, momentum != 0 && !bufs[i]};
        if (a.fresh && !(bufs[i] = cg_zeros(p->shape, p->ndim, (cg_dtype)p->dtype))) return -1;
        cg_tensor **states[1] = {momentum != 0 ? bufs + i : NULL};
        if (for_each_param(params + i, states, 1, 1, 1, sgd_param, &a)) return -1;
    }
    return 0;
}

static int sgd_kernel(const cg_kargs *k) {
    return sgd_run(k->v, STATE_OR_NULL(k, 0, k->i[3]), (int)k->i[0], k->f[0], k->f[1], k->f[2], k->f[3],
                   (int)k->i[1], (int)k->i[2]);
}

int cg_sgd_step(cg_tensor *const *params, cg_tensor **bufs, int n, double lr, double momentum, double dampening,
                double weight_decay, int nesterov, int maximize) {
    if (CG_LIKELY(!CG_RECORDING() && !cg_tape_refreshing()))
        return sgd_run(params, bufs, n, lr, momentum, dampening, weight_decay, nesterov, maximize);
    cg_tensor **const states[1] = {momentum != 0 ? bufs : NULL};
    return record_step(sgd_kernel, params, states, 1, n, (int64_t[]){nesterov, maximize, momentum != 0}, 3,
                       (double[]){lr, momentum, dampening, weight_decay}, 4);
}

/* ---- Adam, AdamW -------------------------------------------------------------------------- */

typedef struct adam_args {
    double lr, beta1, beta2, eps, weight_decay;
    int amsgrad, maximize, decoupled;
    double step_size, bias_correction2_sqrt; /* per parameter */
} adam_args;

/* The step of Adam and its kin, up to the moments: g the (maximized) gradient
 * with L2 decay, or the parameter decayed (decoupled), then m and v updated,
 * in PyTorch's order. Reads M, V, wd, decay, w1, w2, b2 and i. */
#define ADAM_MOMENTS(FMA)                                  \
    T g = a->maximize ? -G[i] : G[i];                      \
    if (a->weight_decay != 0) {                            \
        if (a->decoupled)                                  \
            P[i] = P[i] * decay;                           \
        else                                               \
            g = FMA(P[i], wd, g);                          \
    }                                                      \
    T m = M[i] = LERP(FMA, M[i], g, w1);                   \
    T v = V[i] = FMA(w2 * g, g, V[i] * b2)

#define ADAM_BODY(FMA, SQRT)                                                                       \
    T *M = St[0], *V = St[1], *Vmax = St[2];                                                 \
    T wd = (T)a->weight_decay, decay = (T)(1 - a->lr * a->weight_decay), w1 = (T)(1 - a->beta1); \
    T b2 = (T)a->beta2, w2 = (T)(1 - a->beta2), bc2s = (T)a->bias_correction2_sqrt;         \
    T eps = (T)a->eps, negstep = (T)(-a->step_size);                                         \
    for (int64_t i = 0; i < n; i++) {                                                        \
        ADAM_MOMENTS(FMA);                                                                    \
        if (a->amsgrad) v = Vmax[i] = (Vmax[i] != Vmax[i] || Vmax[i] > v) ? Vmax[i] : v;     \
        T denom = SQRT(v) / bc2s + eps;                                                      \
        P[i] = P[i] + (negstep * m) / denom;                                                 \
    }
PER_DTYPE(adam, adam_args, ADAM_BODY)

static int adam_param(const void *args, cg_tensor *p, void *P, const void *G, void **St, int64_t n, cg_tensor **st) {
    adam_args a = *(const adam_args *)args;
    double step = bump_step(st[3]);
    double bias_correction1 = 1 - pow(a.beta1, step), bias_correction2 = 1 - pow(a.beta2, step);
    a.step_size = a.lr / bias_correction1;
    a.bias_correction2_sqrt = pow(bias_correction2, 0.5);
    if (p->dtype == CG_FLOAT64)
        adam_f64(&a, P, G, St, n);
    else
        adam_f32(&a, P, G, St, n);
    return 0;
}

static int check_states(cg_tensor *const *params, int n, cg_tensor **const *states, int nstate, const char *what) {
    for (int i = 0; i < n; i++) {
        if (!params[i]->grad) continue;
        for (int k = 0; k < nstate; k++)
            if (states[k] && !states[k][i]) {
                cg_error_set(CG_ERR_RUNTIME, "%s: parameter %d has a gradient but no optimizer state", what, i);
                return -1;
            }
    }
    return 0;
}

static int adam_run(cg_tensor *const *params, cg_tensor **steps, cg_tensor **exp_avgs, cg_tensor **exp_avg_sqs,
                    cg_tensor **max_exp_avg_sqs, int n, double lr, double beta1, double beta2, double eps,
                    double weight_decay, int amsgrad, int maximize, int decoupled_weight_decay) {
    adam_args a = {lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay, 0, 0};
    cg_tensor **const states[4] = {exp_avgs, exp_avg_sqs, amsgrad ? max_exp_avg_sqs : NULL, steps};
    if (check_states(params, n, states, 4, "adam")) return -1;
    return for_each_param(params, states, 3, 4, n, adam_param, &a);
}

static int adam_kernel(const cg_kargs *k) {
    return adam_run(k->v, STATE(k, 0), STATE(k, 1), STATE(k, 2), STATE_OR_NULL(k, 3, k->i[1]), (int)k->i[0], k->f[0],
                    k->f[1], k->f[2], k->f[3], k->f[4], (int)k->i[1], (int)k->i[2], (int)k->i[3]);
}

int cg_adam_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **exp_avgs, cg_tensor **exp_avg_sqs,
                 cg_tensor **max_exp_avg_sqs, int n, double lr, double beta1, double beta2, double eps,
                 double weight_decay, int amsgrad, int maximize, int decoupled_weight_decay) {
    if (CG_LIKELY(!CG_RECORDING() && !cg_tape_refreshing()))
        return adam_run(params, steps, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, n, lr, beta1, beta2, eps, weight_decay,
                        amsgrad, maximize, decoupled_weight_decay);
    if (check_states(params, n, (cg_tensor **const[]){steps, exp_avgs, exp_avg_sqs, amsgrad ? max_exp_avg_sqs : NULL},
                     4, "adam"))
        return -1;
    cg_tensor **const states[4] = {steps, exp_avgs, exp_avg_sqs, amsgrad ? max_exp_avg_sqs : NULL};
    return record_step(adam_kernel, params, states, 4, n, (int64_t[]){amsgrad, maximize, decoupled_weight_decay}, 3,
                       (double[]){lr, beta1, beta2, eps, weight_decay}, 5);
}

/* ---- RMSprop ------------------------------------------------------------------------------ */

typedef struct rmsprop_args {
    double lr, alpha, eps, weight_decay, momentum;
    int centered, maximize;
} rmsprop_args;

/* square_avg = alpha sq + (1 - alpha) g^2; avg = sqrt(square_avg - grad_avg^2) + eps */
#define RMSPROP_BODY(FMA, SQRT)                                                                    \
    T *SQ = St[0], *GA = St[1], *B = St[2], wd = (T)a->weight_decay, al = (T)a->alpha;       \
    T w = (T)(1 - a->alpha), eps = (T)a->eps, mom = (T)a->momentum, neglr = (T)(-a->lr);     \
    for (int64_t i = 0; i < n; i++) {                                                        \
        T g = a->maximize ? -G[i] : G[i];                                                    \
        if (a->weight_decay != 0) g = FMA(P[i], wd, g);                                      \
        T sq = SQ[i] = FMA(w * g, g, SQ[i] * al), avg;                                       \
        if (a->centered) {                                                                   \
            T ga = GA[i] = LERP(FMA, GA[i], g, w);                                           \
            avg = SQRT(FMA((T)-1 * ga, ga, sq));                                             \
        } else {                                                                             \
            avg = SQRT(sq);                                                                  \
        }                                                                                    \
        avg = avg + eps;                                                                     \
        if (a->momentum > 0) {                                                               \
            T b = B[i] = B[i] * mom + ((T)1 * g) / avg;                                      \
            P[i] = FMA(b, neglr, P[i]);                                                      \
        } else {                                                                             \
            P[i] = P[i] + (neglr * g) / avg;                                                 \
        }                                                                                    \
    }
PER_DTYPE(rmsprop, rmsprop_args, RMSPROP_BODY)

static int rmsprop_param(const void *args, cg_tensor *p, void *P, const void *G, void **St, int64_t n,
                         cg_tensor **st) {
    bump_step(st[3]);
    if (p->dtype == CG_FLOAT64)
        rmsprop_f64(args, P, G, St, n);
    else
        rmsprop_f32(args, P, G, St, n);
    return 0;
}

static int rmsprop_run(cg_tensor *const *params, cg_tensor **steps, cg_tensor **square_avgs, cg_tensor **grad_avgs,
                       cg_tensor **momentum_buffers, int n, double lr, double alpha, double eps, double weight_decay,
                       double momentum, int centered, int maximize) {
    rmsprop_args a = {lr, alpha, eps, weight_decay, momentum, centered, maximize};
    cg_tensor **const states[4] = {square_avgs, centered ? grad_avgs : NULL, momentum > 0 ? momentum_buffers : NULL,
                                   steps};
    if (check_states(params, n, states, 4, "rmsprop")) return -1;
    return for_each_param(params, states, 3, 4, n, rmsprop_param, &a);
}

static int rmsprop_kernel(const cg_kargs *k) {
    return rmsprop_run(k->v, STATE(k, 0), STATE(k, 1), STATE_OR_NULL(k, 2, k->i[1]), STATE_OR_NULL(k, 3, k->i[3]),
                       (int)k->i[0], k->f[0], k->f[1], k->f[2], k->f[3], k->f[4], (int)k->i[1], (int)k->i[2]);
}

int cg_rmsprop_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **square_avgs, cg_tensor **grad_avgs,
                    cg_tensor **momentum_buffers, int n, double lr, double alpha, double eps, double weight_decay,
                    double momentum, int centered, int maximize) {
    if (CG_LIKELY(!CG_RECORDING() && !cg_tape_refreshing()))
        return rmsprop_run(params, steps, square_avgs, grad_avgs, momentum_buffers, n, lr, alpha, eps, weight_decay,
                           momentum, centered, maximize);
    cg_tensor **const states[4] = {steps, square_avgs, centered ? grad_avgs : NULL,
                                   momentum > 0 ? momentum_buffers : NULL};
    if (check_states(params, n, states, 4, "rmsprop")) return -1;
    return record_step(rmsprop_kernel, params, states, 4, n, (int64_t[]){centered, maximize, momentum > 0}, 3,
                       (double[]){lr, alpha, eps, weight_decay, momentum}, 5);
}

/* ---- Adagrad ------------------------------------------------------------------------------- */

typedef struct adagrad_args {
    double lr, lr_decay, weight_decay, eps;
    int maximize;
    double clr; /* per parameter */
} adagrad_args;

/* sum += g^2; param -= clr g / (sqrt(sum) + eps) */
#define ADAGRAD_BODY(FMA, SQRT)                                                                    \
    T *SUM = St[0], wd = (T)a->weight_decay, eps = (T)a->eps, negclr = (T)(-a->clr);         \
    for (int64_t i = 0; i < n; i++) {                                                        \
        T g = a->maximize ? -G[i] : G[i];                                                    \
        if (a->weight_decay != 0) g = FMA(P[i], wd, g);                                      \
        T s = SUM[i] = FMA((T)1 * g, g, SUM[i]);                                             \
        P[i] = P[i] + (negclr * g) / (SQRT(s) + eps);                                        \
    }
PER_DTYPE(adagrad, adagrad_args, ADAGRAD_BODY)

static int adagrad_param(const void *args, cg_tensor *p, void *P, const void *G, void **St, int64_t n,
                         cg_tensor **st) {
    adagrad_args a = *(const adagrad_args *)args;
    double step = bump_step(st[1]);
    a.clr = a.lr / (1 + (step - 1) * a.lr_decay);
    if (p->dtype == CG_FLOAT64)
        adagrad_f64(&a, P, G, St, n);
    else
        adagrad_f32(&a, P, G, St, n);
    return 0;
}

static int adagrad_run(cg_tensor *const *params, cg_tensor **steps, cg_tensor **sums, int n, double lr,
                       double lr_decay, double weight_decay, double eps, int maximize) {
    adagrad_args a = {lr, lr_decay, weight_decay, eps, maximize, 0};
    cg_tensor **const states[2] = {sums, steps};
    if (check_states(params, n, states, 2, "adagrad")) return -1;
    return for_each_param(params, states, 1, 2, n, adagrad_param, &a);
}

static int adagrad_kernel(const cg_kargs *k) {
    return adagrad_run(k->v, STATE(k, 0), STATE(k, 1), (int)k->i[0], k->f[0], k->f[1], k->f[2], k->f[3], (int)k->i[1]);
}

int cg_adagrad_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **sums, int n, double lr, double lr_decay,
                    double weight_decay, double eps, int maximize) {
    if (CG_LIKELY(!CG_RECORDING() && !cg_tape_refreshing()))
        return adagrad_run(params, steps, sums, n, lr, lr_decay, weight_decay, eps, maximize);
    cg_tensor **const states[2] = {steps, sums};
    if (check_states(params, n, states, 2, "adagrad")) return -1;
    return record_step(adagrad_kernel, params, states, 2, n, (int64_t[]){maximize}, 1,
                       (double[]){lr, lr_decay, weight_decay, eps}, 4);
}

/* ---- the optimizers below: one entry point each ---------------------------------------------- */

/* A 0-d state tensor takes v, rounded to its dtype (NAdam's mu_product, ASGD's eta and mu). */
static void set_scalar(cg_tensor *t, double v) {
    void *p = VP(t);
    if (t->dtype == CG_FLOAT32)
        *(float *)p = (float)v;
    else if (t->dtype == CG_FLOAT64)
        *(double *)p = v;
    else
        *(int64_t *)p = (int64_t)v;
    cg_bump_version(t);
}

/* v rounded to the default dtype: PyTorch's ASGD writes its new eta and mu
 * through torch.as_tensor(v), which rounds there before the state's dtype. */
static double as_default_dtype(double v) { return cg_get_default_dtype() == CG_FLOAT32 ? (double)(float)v : v; }

/* A group step's hyper-parameters: i = the flags, f = the floats, as one tape entry records them. */
typedef int (*group_run)(cg_tensor *const *params, cg_tensor **const *states, int n, const int64_t *i,
                         const double *f);

/* Runs a group step now, or records it as one tape entry (whose f[] is refreshed
 * before every replay). states[0..nstate) are parallel to params, in the order
 * run and kernel take them. */
static int group_step(group_run run, cg_kernel_fn kernel, cg_tensor *const *params, cg_tensor **const *states,
                      int nstate, int n, const int64_t *i, int ni, const double *f, int nf, const char *what) {
    if (check_states(params, n, states, nstate, what)) return -1;
    if (CG_LIKELY(!CG_RECORDING() && !cg_tape_refreshing())) return run(params, states, n, i, f);
    return record_step(kernel, params, states, nstate, n, i, ni, f, nf);
}

/* Replays a group step recorded by group_step. */
static int replay_group(const cg_kargs *k, group_run run, int nstate) {
    cg_tensor **states[MAX_STATE];
    for (int s = 0; s < nstate; s++) states[s] = STATE(k, s);
    return run(k->v, states, (int)k->i[0], k->i + 1, k->f);
}

/* p's dtype picks NAME##_f32 or NAME##_f64 */
#define RUN_PER_DTYPE(NAME, a, p, P, G, St, n)   \
    do {                                         \
        if ((p)->dtype == CG_FLOAT64)            \
            NAME##_f64((a), (P), (G), (St), (n)); \
        else                                     \
            NAME##_f32((a), (P), (G), (St), (n)); \
    } while (0)

/* ---- Adamax ---------------------------------------------------------------------------------- */

typedef struct adamax_args {
    double lr, beta1, beta2, eps, weight_decay;
    int maximize;
    double clr; /* per parameter */
} adamax_args;

/* exp_inf = max(beta2 exp_inf, |g| + eps), NaN-propagating as torch.maximum */
#define ADAMAX_BODY(FMA, SQRT)                                                                        \
    T *M = St[0], *U = St[1], wd = (T)a->weight_decay, w1 = (T)(1 - a->beta1), b2 = (T)a->beta2; \
    T eps = (T)a->eps, negclr = (T)(-a->clr);                                                   \
    for (int64_t i = 0; i < n; i++) {                                                           \
        T g = a->maximize ? -G[i] : G[i];                                                       \
        if (a->weight_decay != 0) g = FMA(P[i], wd, g);                                         \
        T m = M[i] = LERP(FMA, M[i], g, w1);                                                    \
        T decayed = U[i] * b2, bound = (T)fabs(g) + eps;                                        \
        T u = U[i] = (decayed != decayed || decayed > bound) ? decayed : bound;                 \
        P[i] = P[i] + (negclr * m) / u;                                                         \
    }
PER_DTYPE(adamax, adamax_args, ADAMAX_BODY)

static int adamax_param(const void *args, cg_tensor *p, void *P, const void *G, void **St, int64_t n, cg_tensor **st) {
    adamax_args a = *(const adamax_args *)args;
    a.clr = a.lr / (1 - pow(a.beta1, bump_step(st[2])));
    RUN_PER_DTYPE(adamax, &a, p, P, G, St, n);
    return 0;
}

/* states = {exp_avgs, exp_infs, steps}; i = {maximize}; f = {lr, beta1, beta2, eps, weight_decay} */
static int adamax_run(cg_tensor *const *params, cg_tensor **const *states, int n, const int64_t *i, const double *f) {
    adamax_args a = {f[0], f[1], f[2], f[3], f[4], (int)i[0], 0};
    return for_each_param(params, states, 2, 3, n, adamax_param, &a);
}

static int adamax_kernel(const cg_kargs *k) { return replay_group(k, adamax_run, 3); }

int cg_adamax_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **exp_avgs, cg_tensor **exp_infs, int n,
                   double lr, double beta1, double beta2, double eps, double weight_decay, int maximize) {
    cg_tensor **const states[3] = {exp_avgs, exp_infs, steps};
    return group_step(adamax_run, adamax_kernel, params, states, 3, n, (int64_t[]){maximize}, 1,
                      (double[]){lr, beta1, beta2, eps, weight_decay}, 5, "adamax");
}

/* ---- NAdam ------------------------------------------------------------------------------------ */

typedef struct nadam_args {
    double lr, beta1, beta2, eps, weight_decay, momentum_decay;
    int decoupled, maximize;
    double bias_correction2, grad_coef, avg_coef; /* per parameter */
} nadam_args;

/* param += grad_coef g / denom + avg_coef exp_avg / denom, denom = sqrt(exp_avg_sq / bc2) + eps */
#define NADAM_BODY(FMA, SQRT)                                                                          \
    T *M = St[0], *V = St[1], wd = (T)a->weight_decay, decay = (T)(1 - a->lr * a->weight_decay);  \
    T w1 = (T)(1 - a->beta1), b2 = (T)a->beta2, w2 = (T)(1 - a->beta2), eps = (T)a->eps;          \
    T bc2 = (T)a->bias_correction2, kg = (T)a->grad_coef, km = (T)a->avg_coef;                    \
    for (int64_t i = 0; i < n; i++) {                                                            \
        ADAM_MOMENTS(FMA);                                                                        \
        T denom = SQRT(v / bc2) + eps;                                                           \
        P[i] = P[i] + (kg * g) / denom;                                                          \
        P[i] = P[i] + (km * m) / denom;                                                          \
    }
PER_DTYPE(nadam, nadam_args, NADAM_BODY)

/* The momentum coefficient of step t: beta1 (1 - 0.96^(t momentum_decay) / 2). */
static double nadam_mu(const nadam_args *a, double t) { return a->beta1 * (1.0 - 0.5 * pow(0.96, t * a->momentum_decay)); }

static int nadam_param(const void *args, cg_tensor *p, void *P, const void *G, void **St, int64_t n, cg_tensor **st) {
    nadam_args a = *(const nadam_args *)args;
    double step = bump_step(st[2]), mu = nadam_mu(&a, step), mu_next = nadam_mu(&a, step + 1);
    double mu_product = cg_tensor_item(st[3]); /* mu_product *= mu, in the 0-d tensor's dtype */
    mu_product = st[3]->dtype == CG_FLOAT32 ? (double)((float)mu_product * (float)mu) : mu_product * mu;
    set_scalar(st[3], mu_product);
    a.bias_correction2 = 1 - pow(a.beta2, step);
    a.grad_coef = -a.lr * (1.0 - mu) / (1.0 - mu_product);
    a.avg_coef = (-a.lr * mu_next) / (1.0 - mu_product * mu_next);
    RUN_PER_DTYPE(nadam, &a, p, P, G, St, n);
    return 0;
}

/* states = {exp_avgs, exp_avg_sqs, steps, mu_products}; i = {decoupled_weight_decay, maximize};
 * f = {lr, beta1, beta2, eps, weight_decay, momentum_decay} */
static int nadam_run(cg_tensor *const *params, cg_tensor **const *states, int n, const int64_t *i, const double *f) {
    nadam_args a = {f[0], f[1], f[2], f[3], f[4], f[5], (int)i[0], (int)i[1], 0, 0, 0};
    return for_each_param(params, states, 2, 4, n, nadam_param, &a);
}

static int nadam_kernel(const cg_kargs *k) { return replay_group(k, nadam_run, 4); }

int cg_nadam_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **mu_products, cg_tensor **exp_avgs,
                  cg_tensor **exp_avg_sqs, int n, double lr, double beta1, double beta2, double eps, double weight_decay,
                  double momentum_decay, int decoupled_weight_decay, int maximize) {
    cg_tensor **const states[4] = {exp_avgs, exp_avg_sqs, steps, mu_products};
    return group_step(nadam_run, nadam_kernel, params, states, 4, n, (int64_t[]){decoupled_weight_decay, maximize}, 2,
                      (double[]){lr, beta1, beta2, eps, weight_decay, momentum_decay}, 6, "nadam");
}

/* ---- RAdam ------------------------------------------------------------------------------------ */

typedef struct radam_args {
    double lr, beta1, beta2, eps, weight_decay;
    int decoupled, maximize;
    double bias_correction1, bias_correction2_sqrt, rect; /* per parameter; rect 0: no adaptive term */
} radam_args;

/* param -= exp_avg / bc1 * lr (* sqrt(bc2) / (sqrt(exp_avg_sq) + eps) * rect, once the variance is tractable) */
#define RADAM_BODY(FMA, SQRT)                                                                          \
    T *M = St[0], *V = St[1], wd = (T)a->weight_decay, decay = (T)(1 - a->lr * a->weight_decay);  \
    T w1 = (T)(1 - a->beta1), b2 = (T)a->beta2, w2 = (T)(1 - a->beta2), eps = (T)a->eps;          \
    T bc1 = (T)a->bias_correction1, bc2s = (T)a->bias_correction2_sqrt, lr = (T)a->lr;            \
    T rect = (T)a->rect;                                                                         \
    for (int64_t i = 0; i < n; i++) {                                                            \
        ADAM_MOMENTS(FMA);                                                                        \
        T update = (m / bc1) * lr;                                                               \
        if (a->rect != 0) update = update * (((T)1 / (SQRT(v) + eps)) * bc2s) * rect;            \
        P[i] = P[i] - update;                                                                    \
    }
PER_DTYPE(radam, radam_args, RADAM_BODY)

static int radam_param(const void *args, cg_tensor *p, void *P, const void *G, void **St, int64_t n, cg_tensor **st) {
    radam_args a = *(const radam_args *)args;
    double step = bump_step(st[2]);
    double bias_correction2 = 1 - pow(a.beta2, step);
    double rho_inf = 2 / (1 - a.beta2) - 1, rho_t = rho_inf - 2 * step * pow(a.beta2, step) / bias_correction2;
    a.bias_correction1 = 1 - pow(a.beta1, step);
    a.bias_correction2_sqrt = pow(bias_correction2, 0.5);
    a.rect = rho_t > 5.0 ? pow((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5) : 0;
    RUN_PER_DTYPE(radam, &a, p, P, G, St, n);
    return 0;
}

/* states = {exp_avgs, exp_avg_sqs, steps}; i = {decoupled_weight_decay, maximize};
 * f = {lr, beta1, beta2, eps, weight_decay} */
static int radam_run(cg_tensor *const *params, cg_tensor **const *states, int n, const int64_t *i, const double *f) {
    radam_args a = {f[0], f[1], f[2], f[3], f[4], (int)i[0], (int)i[1], 0, 0, 0};
    return for_each_param(params, states, 2, 3, n, radam_param, &a);
}

static int radam_kernel(const cg_kargs *k) { return replay_group(k, radam_run, 3); }

int cg_radam_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **exp_avgs, cg_tensor **exp_avg_sqs, int n,
                  double lr, double beta1, double beta2, double eps, double weight_decay, int decoupled_weight_decay,
                  int maximize) {
    cg_tensor **const states[3] = {exp_avgs, exp_avg_sqs, steps};
    return group_step(radam_run, radam_kernel, params, states, 3, n, (int64_t[]){decoupled_weight_decay, maximize}, 2,
                      (double[]){lr, beta1, beta2, eps, weight_decay}, 5, "radam");
}

/* ---- Adadelta --------------------------------------------------------------------------------- */

typedef struct adadelta_args {
    double lr, rho, eps, weight_decay;
    int maximize;
} adadelta_args;

/* delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) g; both averages decay by rho */
#define ADADELTA_BODY(FMA, SQRT)                                                                       \
    T *SQ = St[0], *AD = St[1], wd = (T)a->weight_decay, rho = (T)a->rho, w = (T)(1 - a->rho);    \
    T eps = (T)a->eps, neglr = (T)(-a->lr);                                                      \
    for (int64_t i = 0; i < n; i++) {                                                            \
        T g = a->maximize ? -G[i] : G[i];                                                        \
        if (a->weight_decay != 0) g = FMA(P[i], wd, g);                                          \
        T sq = SQ[i] = FMA(w * g, g, SQ[i] * rho);                                               \
        T std = SQRT(sq + eps), delta = SQRT(AD[i] + eps);                                       \
        delta = (delta / std) * g;                                                               \
        AD[i] = FMA(w * delta, delta, AD[i] * rho);                                              \
        P[i] = FMA(delta, neglr, P[i]);                                                          \
    }
PER_DTYPE(adadelta, adadelta_args, ADADELTA_BODY)

static int adadelta_param(const void *args, cg_tensor *p, void *P, const void *G, void **St, int64_t n,
                          cg_tensor **st) {
    bump_step(st[2]);
    RUN_PER_DTYPE(adadelta, args, p, P, G, St, n);
    return 0;
}

/* states = {square_avgs, acc_deltas, steps}; i = {maximize}; f = {lr, rho, eps, weight_decay} */
static int adadelta_run(cg_tensor *const *params, cg_tensor **const *states, int n, const int64_t *i,
                        const double *f) {
    adadelta_args a = {f[0], f[1], f[2], f[3], (int)i[0]};
    return for_each_param(params, states, 2, 3, n, adadelta_param, &a);
}

static int adadelta_kernel(const cg_kargs *k) { return replay_group(k, adadelta_run, 3); }

int cg_adadelta_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **square_avgs, cg_tensor **acc_deltas,
                     int n, double lr, double rho, double eps, double weight_decay, int maximize) {
    cg_tensor **const states[3] = {square_avgs, acc_deltas, steps};
    return group_step(adadelta_run, adadelta_kernel, params, states, 3, n, (int64_t[]){maximize}, 1,
                      (double[]){lr, rho, eps, weight_decay}, 4, "adadelta");
}

/* ---- Rprop ------------------------------------------------------------------------------------ */

typedef struct rprop_args {
    double etaminus, etaplus, step_size_min, step_size_max;
    int maximize;
} rprop_args;

/* PyTorch's sign: 0 for zeros and NaN */
#define SIGN(x) ((x) > 0 ? (T)1 : (x) < 0 ? (T)-1 : (T)0)

/* step_size *= etaplus / etaminus / 1 as grad agrees with, flips against or meets a zero of the previous
 * grad, then clamped; a flipped grad counts as 0 (no move now, no flip next time) */
#define RPROP_BODY(FMA, SQRT)                                                                          \
    T *PREV = St[0], *SS = St[1], up = (T)a->etaplus, down = (T)a->etaminus;                      \
    T lo = (T)a->step_size_min, hi = (T)a->step_size_max;                                        \
    for (int64_t i = 0; i < n; i++) {                                                            \
        T g = a->maximize ? -G[i] : G[i], agree = g * PREV[i];                                   \
        T factor = agree > 0 ? up : agree < 0 ? down : (T)1;                                     \
        T s = SS[i] * factor;                                                                    \
        if (s == s) s = s < lo ? lo : s; /* clamp as PyTorch's: min(max(s, lo), hi), NaN kept */ \
        if (s == s) s = s > hi ? hi : s;                                                         \
        SS[i] = s;                                                                               \
        if (factor == down) g = 0;                                                               \
        P[i] = FMA((T)-1 * SIGN(g), s, P[i]);                                                    \
        PREV[i] = g;                                                                             \
    }
PER_DTYPE(rprop, rprop_args, RPROP_BODY)

static int rprop_param(const void *args, cg_tensor *p, void *P, const void *G, void **St, int64_t n, cg_tensor **st) {
    bump_step(st[2]);
    RUN_PER_DTYPE(rprop, args, p, P, G, St, n);
    return 0;
}

/* states = {prevs, step_sizes, steps}; i = {maximize}; f = {etaminus, etaplus, step_size_min, step_size_max} */
static int rprop_run(cg_tensor *const *params, cg_tensor **const *states, int n, const int64_t *i, const double *f) {
    rprop_args a = {f[0], f[1], f[2], f[3], (int)i[0]};
    return for_each_param(params, states, 2, 3, n, rprop_param, &a);
}

static int rprop_kernel(const cg_kargs *k) { return replay_group(k, rprop_run, 3); }

int cg_rprop_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **prevs, cg_tensor **step_sizes, int n,
                  double etaminus, double etaplus, double step_size_min, double step_size_max, int maximize) {
    cg_tensor **const states[3] = {prevs, step_sizes, steps};
    return group_step(rprop_run, rprop_kernel, params, states, 3, n, (int64_t[]){maximize}, 1,
                      (double[]){etaminus, etaplus, step_size_min, step_size_max}, 4, "rprop");
}

/* ---- ASGD ------------------------------------------------------------------------------------- */

typedef struct asgd_args {
    double lr, lambd, alpha, t0, weight_decay;
    int maximize;
    double eta, mu; /* per parameter, the values its state held before this step */
} asgd_args;

/* param = param (1 - lambd eta) - eta g; ax averages the params once mu drops below 1 */
#define ASGD_BODY(FMA, SQRT)                                                                           \
    T *AX = St[0], wd = (T)a->weight_decay, decay = (T)(1 - a->lambd * a->eta), negeta = (T)(-a->eta); \
    T mu = (T)a->mu;                                                                             \
    for (int64_t i = 0; i < n; i++) {                                                            \
        T g = a->maximize ? -G[i] : G[i];                                                        \
        if (a->weight_decay != 0) g = FMA(P[i], wd, g);                                          \
        T p = P[i] = FMA(g, negeta, P[i] * decay);                                               \
        AX[i] = a->mu != 1 ? AX[i] + (p - AX[i]) * mu : p;                                       \
    }
PER_DTYPE(asgd, asgd_args, ASGD_BODY)

static int asgd_param(const void *args, cg_tensor *p, void *P, const void *G, void **St, int64_t n, cg_tensor **st) {
    asgd_args a = *(const asgd_args *)args;
    double step = bump_step(st[1]);
    a.eta = cg_tensor_item(st[2]);
    a.mu = cg_tensor_item(st[3]);
    RUN_PER_DTYPE(asgd, &a, p, P, G, St, n);
    set_scalar(st[2], as_default_dtype(a.lr / pow(1 + a.lambd * a.lr * step, a.alpha)));
    set_scalar(st[3], as_default_dtype(1 / (step - a.t0 > 1 ? step - a.t0 : 1)));
    return 0;
}

/* states = {axs, steps, etas, mus}; i = {maximize}; f = {lr, lambd, alpha, t0, weight_decay} */
static int asgd_run(cg_tensor *const *params, cg_tensor **const *states, int n, const int64_t *i, const double *f) {
    asgd_args a = {f[0], f[1], f[2], f[3], f[4], (int)i[0], 0, 0};
    return for_each_param(params, states, 1, 4, n, asgd_param, &a);
}

static int asgd_kernel(const cg_kargs *k) { return replay_group(k, asgd_run, 4); }

int cg_asgd_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **etas, cg_tensor **mus, cg_tensor **axs,
                 int n, double lr, double lambd, double alpha, double t0, double weight_decay, int maximize) {
    cg_tensor **const states[4] = {axs, steps, etas, mus};
    return group_step(asgd_run, asgd_kernel, params, states, 4, n, (int64_t[]){maximize}, 1,
                      (double[]){lr, lambd, alpha, t0, weight_decay}, 5, "asgd");
}

/* ---- gradient clipping ----------------------------------------------------------------------- */

/* The norm of order p of t's elements, accumulated in double. */
static double tensor_norm(cg_tensor *t, double p) {
    cg_tensor *c = cg_empty(t->shape, t->ndim, CG_FLOAT64);
    if (!c || cg_copy_data(c, t)) {
        cg_tensor_release(c);
        return NAN;
    }
    const double *x = VP(c);
    double acc = 0;
    for (int64_t i = 0; i < c->numel; i++) {
        double a = fabs(x[i]);
        if (isinf(p))
            acc = (a > acc || isnan(a)) ? a : acc;
        else if (p == 2)
            acc += a * a;
        else if (p == 1)
            acc += a;
        else if (p == 0)
            acc += a != 0;
        else
            acc += pow(a, p);
    }
    cg_tensor_release(c);
    return acc;
}

/* Combines the per-tensor sums/maxima of tensor_norm into the norm. */
static double finish_norm(double acc, double p) {
    if (isinf(p) || p == 1 || p == 0) return acc;
    return p == 2 ? sqrt(acc) : pow(acc, 1.0 / p);
}

static cg_tensor *fail_clip(cg_tensor *out) {
    cg_tensor_release(out);
    return NULL;
}

/* t = {the total norm (0-d)}, v = params, i = {error_if_nonfinite}, f = {max_norm, norm_type} */
/* v as Python's repr of a float writes it (2.0, 0.5, inf): the shortest %g that reads back as v, with ".0" added
 * to a whole number, so messages that name a float argument read as PyTorch's. */
static const char *py_float_repr(double v, char *buf, size_t size) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (!isfinite(v) || strtod(buf, NULL) == v) break;
    }
    if (isfinite(v) && !strpbrk(buf, ".e")) strncat(buf, ".0", size - strlen(buf) - 1);
    return buf;
}

static int clip_norm_kernel(const cg_kargs *k) {
    cg_tensor *const *params = k->v, *out = k->t[0];
    double acc = 0, max_norm = k->f[0], norm_type = k->f[1];
    for (int i = 0; i < k->nv; i++) {
        cg_tensor *g = params[i]->grad;
        if (!g) continue;
        double a = tensor_norm(g, norm_type);
        if (isnan(a) && cg_error_kind() != CG_OK) return -1;
        acc = isinf(norm_type) ? ((a > acc || isnan(a)) ? a : acc) : acc + a;
    }
    double total = finish_norm(acc, norm_type);
    if (k->i[0] && !isfinite(total)) {
        cg_error_set(CG_ERR_RUNTIME, "The total norm of order %s for gradients from `parameters` is non-finite, so it "
                     "cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, "
                     "set `error_if_nonfinite=False`", py_float_repr(norm_type, (char[40]){0}, 40));
        return -1;
    }
    cg_fill_raw(out, total);
    double coef = max_norm / (cg_tensor_item(out) + 1e-6);
    if (!(coef < 1.0) && !isnan(coef)) return 0; /* clamp(coef, max=1): multiplying by 1 changes nothing */
    for (int i = 0; i < k->nv; i++) {
        cg_tensor *g = params[i]->grad;
        if (!g) continue;
        cg_tensor *c = cg_scalar_tensor(coef, CG_FLOAT64, g);
        cg_tensor *r = c ? cg_mul_(g, c) : NULL;
        cg_tensor_release(c);
        if (!r) return -1;
        cg_tensor_release(r);
    }
    return 0;
}

cg_tensor *cg_clip_grad_norm_(cg_tensor *const *params, int n, double max_norm, double norm_type,
                              int error_if_nonfinite) {
    cg_dtype dtype = cg_get_default_dtype();
    for (int i = n - 1; i >= 0; i--) {
        if (params[i]->grad) dtype = (cg_dtype)params[i]->grad->dtype;
        if (CG_RECORDING()) cg_tape_note_grad(params[i]);
    }
    cg_tensor *out = cg_empty(NULL, 0, dtype);
    cg_kargs k = {.name = "clip_grad_norm_", .t = {out}, .nw = 1, .i = {error_if_nonfinite}, .f = {max_norm, norm_type},
                  .v = params, .nv = n};
    if (out && cg_kernel(clip_norm_kernel, &k)) return fail_clip(out);
    return out;
}

/* v = params, f = {clip_value} */
static int clip_value_kernel(const cg_kargs *k) {
    cg_tensor *const *params = k->v;
    double clip_value = k->f[0];
    for (int i = 0; i < k->nv; i++) {
        cg_tensor *g = params[i]->grad;
        if (!g) continue;
        rw r;
        if (rw_begin(&r, g)) return -1;
        for (int64_t k = 0; k < g->numel; k++) {
            if (g->dtype == CG_FLOAT64) {
                double *x = (double *)r.data + k;
                *x = *x < -clip_value ? -clip_value : *x > clip_value ? clip_value : *x;
            } else {
                float *x = (float *)r.data + k, lo = (float)-clip_value, hi = (float)clip_value;
                *x = *x < lo ? lo : *x > hi ? hi : *x;
            }
        }
        if (rw_end(&r)) return -1;
    }
    return 0;
}

int cg_clip_grad_value_(cg_tensor *const *params, int n, double clip_value) {
    for (int i = 0; CG_RECORDING() && i < n; i++) cg_tape_note_grad(params[i]);
    return cg_kernel(clip_value_kernel, &(cg_kargs){.name = "clip_grad_value_", .f = {clip_value}, .v = params, .nv = n});
}

/* ---- zero_grad ------------------------------------------------------------------------------ */

int cg_zero_grad(cg_tensor *const *params, int n, int set_to_none) {
    for (int i = 0; i < n; i++) {
        cg_tensor *g = params[i]->grad;
        if (!g) continue;
        if (set_to_none) {
            if (cg_tensor_set_grad(params[i], NULL)) return -1;
            continue;
        }
        if (g->grad_fn ? cg_detach_(g) : cg_tensor_set_requires_grad(g, 0)) return -1;
        cg_fill_raw(g, 0.0);
        cg_bump_version(g);
    }
    return 0;
}
