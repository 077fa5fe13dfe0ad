/* random.c -- xoshiro256** generators, uniform and normal samples. */
#include <float.h>
#include <math.h>
#include <pthread.h>

#include "internal.h"

static cg_generator default_gen;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cg_generator_seed(cg_generator *g, uint64_t seed) {
    for (int i = 0; i < 4; i++) g->s[i] = splitmix64(&seed);
    g->has_spare = 0;
}

/* Sets g's state through cg_kernel, so that a recorded step that seeds a
 * generator or restores its state does so again on every replay (the draws
 * after it depend on it). i: g, the four words, has_spare, whether to set
 * the spare normal draw (f[0]) too. */
static int set_state_kernel(const cg_kargs *k) {
    cg_generator *g = (cg_generator *)(uintptr_t)k->i[0];
    for (int i = 0; i < 4; i++) g->s[i] = (uint64_t)k->i[1 + i];
    g->has_spare = (int)k->i[5];
    if (k->i[6]) g->spare_normal = k->f[0];
    return 0;
}

static int set_state(cg_generator *g, const uint64_t *s, int has_spare, int set_spare, double spare_normal) {
    cg_kargs k = {.name = "setting a generator's state",
                  .i = {(int64_t)(uintptr_t)g, (int64_t)s[0], (int64_t)s[1], (int64_t)s[2], (int64_t)s[3],
                        has_spare != 0, set_spare},
                  .f = {spare_normal}};
    return cg_kernel(set_state_kernel, &k);
}

int cg_generator_manual_seed(cg_generator *g, uint64_t seed) {
    cg_generator fresh;
    cg_generator_seed(&fresh, seed);
    return set_state(g, fresh.s, 0, 0, 0.0);
}

int cg_generator_set_state(cg_generator *g, const uint64_t *s, int has_spare, double spare_normal) {
    return set_state(g, s, has_spare, 1, spare_normal);
}

static void default_init(void) { cg_generator_seed(&default_gen, 67280421310721ULL); }

cg_generator *cg_default_generator(void) {
    pthread_once(&default_once, default_init);
    return &default_gen;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t cg_rng_next(cg_generator *g) {
    uint64_t *s = g->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* uniform in [0, 1) with 53 random bits */
static double uniform(cg_generator *g) { return (double)(cg_rng_next(g) >> 11) * 0x1.0p-53; }

/* Box-Muller: two normals per pair of uniforms */
static double normal(cg_generator *g) {
    if (g->has_spare) {
        g->has_spare = 0;
        return g->spare_normal;
    }
    double u1 = uniform(g), u2 = uniform(g);
    double r = sqrt(-2.0 * log(1.0 - u1)), theta = 2.0 * M_PI * u2;
    g->spare_normal = r * sin(theta);
    g->has_spare = 1;
    return r * cos(theta);
}

/* t = {out}, i = {normal, generator}: draws from the generator (a replay draws new numbers) */
static int sample_kernel(const cg_kargs *k) {
    cg_tensor *t = k->t[0];
    cg_generator *g = (cg_generator *)(uintptr_t)k->i[1];
    double (*draw)(cg_generator *) = k->i[0] ? normal : uniform;
    if (t->dtype == CG_FLOAT32 && draw == uniform) { /* 24 bits: never rounds up to 1 */
        float *p = t->storage->data;
        for (int64_t i = 0; i < t->numel; i++) p[i] = (float)(cg_rng_next(g) >> 40) * 0x1.0p-24f;
    } else if (t->dtype == CG_FLOAT32) {
        float *p = t->storage->data;
        for (int64_t i = 0; i < t->numel; i++) p[i] = (float)draw(g);
    } else {
        double *p = t->storage->data;
        for (int64_t i = 0; i < t->numel; i++) p[i] = draw(g);
    }
    return 0;
}

static cg_tensor *sample(const int64_t *shape, int ndim, cg_dtype dtype, cg_generator *g,
                         double (*draw)(cg_generator *)) {
    if (!cg_dtype_is_floating(dtype)) {
        cg_error_set(CG_ERR_RUNTIME, "\"%s\" not implemented for '%s'", draw == normal ? "normal_kernel_cpu" : "uniform_kernel_cpu",
                     cg_dtype_torch_name(dtype));
        return NULL;
    }
    cg_tensor *t = cg_empty(shape, ndim, dtype);
    if (!t) return NULL;
    if (!g) g = cg_default_generator();
    cg_kernel(sample_kernel, &(cg_kargs){.name = "random sampling", .t = {t}, .nw = 1,
                                         .i = {draw == normal, (int64_t)(uintptr_t)g}});
    return t;
}

cg_tensor *cg_rand(const int64_t *shape, int ndim, cg_dtype dtype, cg_generator *g) {
    return sample(shape, ndim, dtype, g, uniform);
}

cg_tensor *cg_randn(const int64_t *shape, int ndim, cg_dtype dtype, cg_generator *g) {
    return sample(shape, ndim, dtype, g, normal);
}

/* t = {out (int64)}, i = {low, high, generator} */
static int randint_kernel(const cg_kargs *k) {
    cg_tensor *t = k->t[0];
    cg_generator *g = (cg_generator *)(uintptr_t)k->i[2];
    int64_t low = k->i[0];
    uint64_t range = (uint64_t)(k->i[1] - low);
    int64_t *p = t->storage->data;
    for (int64_t i = 0; i < t->numel; i++) {
        /* multiply-shift maps 64 random bits onto [0, range) without a division */
        p[i] = low + (int64_t)(((unsigned __int128)cg_rng_next(g) * range) >> 64);
    }
    return 0;
}

cg_tensor *cg_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, cg_dtype dtype, cg_generator *g) {
    if (low >= high) {
        cg_error_set(CG_ERR_RUNTIME, "random_ expects 'from' to be less than 'to', but got from=%lld >= to=%lld",
                     (long long)low, (long long)high);
        return NULL;
    }
    cg_tensor *t = cg_empty(shape, ndim, CG_INT64);
    if (!t) return NULL;
    if (!g) g = cg_default_generator();
    cg_kernel(randint_kernel, &(cg_kargs){.name = "random sampling", .t = {t}, .nw = 1,
                                          .i = {low, high, (int64_t)(uintptr_t)g}});
    if (dtype == CG_INT64) return t;
    cg_tensor *c = cg_cast_raw(t, dtype);
    cg_tensor_release(t);
    return c;
}

/* ---- randperm, bernoulli, multinomial ---------------------------------------------------- */

/* t = {out (n)}, i = {generator}: a permutation of 0..n-1, shuffled by Fisher and Yates. */
static int randperm_kernel(const cg_kargs *k) {
    cg_tensor *t = k->t[0];
    cg_generator *g = (cg_generator *)(uintptr_t)k->i[0];
    int64_t n = t->numel, *p = t->storage->data;
    for (int64_t i = 0; i < n; i++) p[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(((unsigned __int128)cg_rng_next(g) * (uint64_t)(i + 1)) >> 64);
        int64_t v = p[i];
        p[i] = p[j];
        p[j] = v;
    }
    return 0;
}

cg_tensor *cg_randperm(int64_t n, cg_dtype dtype, cg_generator *g) {
    if (dtype == CG_BOOL) {
        cg_error_set(CG_ERR_NOTIMPL, "\"randperm\" not implemented for 'Bool'");
        return NULL;
    }
    cg_tensor *t = cg_empty(&n, 1, CG_INT64);
    if (!t) return NULL;
    if (!g) g = cg_default_generator();
    cg_kernel(randperm_kernel, &(cg_kargs){.name = "random sampling", .t = {t}, .nw = 1, .i = {(int64_t)(uintptr_t)g}});
    if (dtype == CG_INT64) return t;
    cg_tensor *c = cg_cast_raw(t, dtype);
    cg_tensor_release(t);
    return c;
}

/* Draws carry no gradient: a node of theirs gives each input zeros. */
static int draw_backward(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    for (int i = 0; i < n->n_next; i++) {
        if (!cg_wants(n, i)) continue;
        if (!(gin[i] = cg_zeros(n->in_shape[i].d, n->in_shape[i].ndim, (cg_dtype)n->in_dtype[i]))) return -1;
    }
    (void)gout;
    return 0;
}
static const cg_op bernoulli_op = {"BernoulliBackward0", draw_backward, NULL};   /* bernoulli(p tensor) */
static const cg_op bernoulli_t_op = {"BernoulliBackward1", draw_backward, NULL}; /* bernoulli_(p tensor) */
static const cg_op bernoulli_p_op = {"BernoulliBackward2", draw_backward, NULL}; /* bernoulli_(number p) */

static int no_derivative(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n, (void)gout, (void)gin; /* bernoulli(a, p): PyTorch defines no derivative */
    cg_error_set(CG_ERR_RUNTIME, "derivative for aten::bernoulli is not implemented");
    return -1;
}
static const cg_op bernoulli_like_op = {"torch::autograd::NotImplemented", no_derivative, NULL};

/* t, in float64, as a new dense tensor of `like`'s shape (t broadcast to it). */
static cg_tensor *dense_f64(const cg_tensor *t, const cg_tensor *like) {
    cg_tensor *d = cg_empty(like->shape, like->ndim, CG_FLOAT64);
    if (d && cg_copy_data(d, t)) {
        cg_tensor_release(d);
        return NULL;
    }
    return d;
}

/* t = {out, p (or NULL)}, i = {generator}, f = {p}: out = 1 with probability p, else 0. */
static int bernoulli_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *p = k->t[1];
    cg_generator *g = (cg_generator *)(uintptr_t)k->i[0];
    cg_tensor *pd = p ? dense_f64(p, out) : NULL, *draws = cg_empty(out->shape, out->ndim, CG_FLOAT64);
    int rc = (p && !pd) || !draws ? -1 : 0;
    const double *pv = pd ? (const double *)pd->storage->data : NULL;
    for (int64_t i = 0; rc == 0 && pv && i < out->numel; i++)
        if (!(pv[i] >= 0 && pv[i] <= 1)) {
            cg_error_set(CG_ERR_RUNTIME, "Expected p_in >= 0 && p_in <= 1 to be true, but got false.");
            rc = -1;
        }
    if (rc == 0) {
        double *d = draws->storage->data;
        for (int64_t i = 0; i < out->numel; i++) d[i] = uniform(g) < (pv ? pv[i] : k->f[0]) ? 1.0 : 0.0;
        rc = cg_copy_data(out, draws);
    }
    cg_tensor_release(draws);
    cg_tensor_release(pd);
    return rc;
}

static int draw_bernoulli(cg_tensor *out, cg_tensor *p, double pv, cg_generator *g) {
    if (!g) g = cg_default_generator();
    return cg_kernel(bernoulli_kernel, &(cg_kargs){.name = "random sampling", .t = {out, p}, .nw = 1,
                                                   .i = {(int64_t)(uintptr_t)g}, .f = {pv}});
}

static int check_p(double p) {
    if (p >= 0 && p <= 1) return 0;
    cg_error_set(CG_ERR_RUNTIME, "bernoulli_ expects p to be in [0, 1], but got p=%g", p);
    return -1;
}

/* A draw the shape and dtype of a (p: a's elements, or the number p when
 * a is only its template), into a new tensor or into a. */
static cg_tensor *bernoulli(cg_tensor *a, cg_tensor *p, double pv, cg_generator *g, bool inplace) {
    if (!p && check_p(pv)) return NULL;
    if (p == a && !cg_dtype_is_floating((cg_dtype)a->dtype)) {
        cg_error_set(CG_ERR_NOTIMPL, "\"bernoulli_tensor_cpu_p_\" not implemented for '%s'",
                     cg_dtype_torch_name((cg_dtype)a->dtype));
        return NULL;
    }
    cg_tensor *pe = NULL;
    if (p && p != a && !(pe = cg_expand(p, a->shape, a->ndim))) return NULL;
    cg_tensor *src = p == a ? a : pe;
    cg_tensor *ins[2] = {a, p};
    int nin = p && p != a ? 2 : 1;
    const cg_op *op = p == a ? &bernoulli_op : p ? &bernoulli_t_op : inplace ? &bernoulli_p_op : &bernoulli_like_op;
    cg_tensor *out = NULL;
    bool failed = false;
    if (inplace) {
        cg_inplace ip;
        if (cg_inplace_begin(&ip, a, ins, nin)) {
            failed = true;
        } else {
            if (ip.records && !(ip.node = cg_node_new(op, ins, nin, 1))) failed = true;
            if (failed || draw_bernoulli(a, src, pv, g)) {
                cg_inplace_abort(&ip);
                failed = true;
            } else {
                out = cg_inplace_finish(&ip);
            }
        }
    } else {
        out = cg_empty(a->shape, a->ndim, (cg_dtype)a->dtype);
        cg_node *n = NULL;
        failed = !out || draw_bernoulli(out, src, pv, g) ||
                 (cg_any_requires_grad(ins, nin) && !(n = cg_node_new(op, ins, nin, 1)));
        if (n) {
            cg_set_history(out, n, 0);
            cg_node_release(n);
        }
    }
    cg_tensor_release(pe);
    if (failed) {
        if (!inplace) cg_tensor_release(out);
        return NULL;
    }
    return out;
}

cg_tensor *cg_bernoulli(cg_tensor *p, cg_generator *g) { return bernoulli(p, p, 0, g, false); }
cg_tensor *cg_bernoulli_p(cg_tensor *a, double p, cg_generator *g) { return bernoulli(a, NULL, p, g, false); }
cg_tensor *cg_bernoulli_(cg_tensor *a, cg_tensor *p, double pv, cg_generator *g) { return bernoulli(a, p, pv, g, true); }

/* ---- normal_ and uniform_ -------------------------------------------------------------- */

static const cg_op normal_op = {"NormalBackward0", draw_backward, .no_ints = true};
static const cg_op uniform_op = {"UniformBackward0", draw_backward, .no_ints = true};

/* The target of ip = draws * scale + shift (draws stolen), recorded by op,
 * which passes no gradient back to the target's old history. */
static cg_tensor *fill_draws(cg_inplace *ip, const cg_op *op, cg_tensor *draws, double scale, double shift) {
    cg_tensor *k = draws ? cg_scalar_tensor(scale, CG_FLOAT64, draws) : NULL;
    cg_tensor *c = k ? cg_scalar_tensor(shift, CG_FLOAT64, draws) : NULL;
    cg_tensor *scaled = c ? cg_mul(draws, k) : NULL;
    cg_tensor *v = scaled ? cg_add(scaled, c) : NULL;
    cg_tensor_release(draws);
    cg_tensor_release(k);
    cg_tensor_release(c);
    cg_tensor_release(scaled);
    if (v && ip->records && !(ip->node = cg_node_new(op, &ip->target, 1, 1))) {
        cg_tensor_release(v);
        v = NULL;
    }
    return cg_inplace_take(ip, v);
}

/* As PyTorch: a leaf that requires grad is refused before the arguments are
 * checked; numbers print as C++ streams print them (%g, a NaN's sign too). */
cg_tensor *cg_normal_(cg_tensor *t, double mean, double std, cg_generator *g) {
    cg_inplace ip;
    if (cg_inplace_begin(&ip, t, &t, 1)) return NULL;
    if (!(std >= 0)) {
        cg_error_set(CG_ERR_RUNTIME, "normal expects std >= 0.0, but found std %g", std);
        return NULL;
    }
    if (!cg_dtype_is_floating((cg_dtype)t->dtype)) {
        cg_error_set(CG_ERR_NOTIMPL, "\"normal_kernel_cpu\" not implemented for '%s'",
                     cg_dtype_torch_name((cg_dtype)t->dtype));
        return NULL;
    }
    return fill_draws(&ip, &normal_op, cg_randn(t->shape, t->ndim, (cg_dtype)t->dtype, g), std, mean);
}

/* from and to within t's dtype, in order, and to - from within it too, as PyTorch checks them */
static int check_uniform_bounds(const cg_tensor *t, double from, double to) {
    cg_dtype d = (cg_dtype)t->dtype;
    double max = d == CG_FLOAT32 ? FLT_MAX : DBL_MAX;
    if (!(from >= -max && from <= max) || !(to >= -max && to <= max)) {
        cg_error_set(CG_ERR_RUNTIME, "%s is out of bounds for %s", from >= -max && from <= max ? "to" : "from",
                     cg_dtype_c_name(d));
        return -1;
    }
    if (from > to) {
        cg_error_set(CG_ERR_RUNTIME, "uniform_ expects to return a [from, to) range, but found from=%g > to=%g", from,
                     to);
        return -1;
    }
    if (to - from > max) {
        cg_error_set(CG_ERR_RUNTIME,
                     "uniform_ expects to-from <= std::numeric_limits<%s>::max(), but found to=%g and from=%g which "
                     "result in to-from to exceed the limit",
                     cg_dtype_torch_name(d), to, from);
        return -1;
    }
    return 0;
}

cg_tensor *cg_uniform_(cg_tensor *t, double from, double to, cg_generator *g) {
    cg_inplace ip;
    if (cg_inplace_begin(&ip, t, &t, 1)) return NULL;
    if (!cg_dtype_is_floating((cg_dtype)t->dtype)) {
        cg_error_set(CG_ERR_NOTIMPL, "\"check_uniform_bounds\" not implemented for '%s'",
                     cg_dtype_torch_name((cg_dtype)t->dtype));
        return NULL;
    }
    if (check_uniform_bounds(t, from, to)) return NULL;
    return fill_draws(&ip, &uniform_op, cg_rand(t->shape, t->ndim, (cg_dtype)t->dtype, g), to - from, from);
}

/* One weighted draw among w[0..cats) (taken ones are negative), total their
 * positive sum > 0: the category whose share of [0, total) holds it. */
static int64_t weighted_pick(cg_generator *g, const double *w, int64_t cats, double total) {
    double u = uniform(g) * total, run = 0;
    int64_t pick = -1;
    for (int64_t c = 0; c < cats; c++) {
        if (!(w[c] > 0)) continue;
        run += w[c];
        pick = c; /* the last weighted one, should rounding leave u at the end */
        if (u < run) break;
    }
    return pick;
}

/* One uniform draw among the categories not taken (w >= 0). */
static int64_t uniform_pick(cg_generator *g, const double *w, int64_t cats, int64_t left) {
    int64_t j = (int64_t)(((unsigned __int128)cg_rng_next(g) * (uint64_t)left) >> 64);
    for (int64_t c = 0; c < cats; c++)
        if (w[c] >= 0 && j-- == 0) return c;
    return -1;
}

/* t = {out (rows x n, int64), w (rows x cats, float64, dense; overwritten)}, i = {replacement, generator}:
 * each row's n draws of a category, with probabilities its weights over their sum. Without
 * replacement a drawn category leaves the draw; once only unweighted ones are left, they are
 * drawn uniformly. */
static int multinomial_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0], *wt = k->t[1];
    bool replacement = k->i[0];
    cg_generator *g = (cg_generator *)(uintptr_t)k->i[1];
    int64_t cats = wt->shape[wt->ndim - 1], rows = wt->numel / (cats ? cats : 1), n = out->shape[out->ndim - 1];
    int64_t *o = out->storage->data;
    for (int64_t r = 0; r < rows; r++) {
        double *w = (double *)wt->storage->data + r * cats, total = 0;
        for (int64_t c = 0; c < cats; c++) {
            if (!(w[c] >= 0) || isinf(w[c])) {
                cg_error_set(CG_ERR_RUNTIME, "probability tensor contains either `inf`, `nan` or element < 0");
                return -1;
            }
            total += w[c];
        }
        if (!(total > 0)) {
            cg_error_set(CG_ERR_RUNTIME, "invalid multinomial distribution (sum of probabilities <= 0)");
            return -1;
        }
        for (int64_t s = 0; s < n; s++) {
            int64_t pick = total > 0 ? weighted_pick(g, w, cats, total) : uniform_pick(g, w, cats, cats - s);
            o[r * n + s] = pick;
            if (replacement) continue;
            w[pick] = -1;
            total = 0; /* summed again: subtracting would leave rounding behind */
            for (int64_t c = 0; c < cats; c++) total += w[c] > 0 ? w[c] : 0;
        }
    }
    return 0;
}

cg_tensor *cg_multinomial(cg_tensor *p, int64_t n, int replacement, cg_generator *g) {
    if (p->ndim < 1 || p->ndim > 2) {
        cg_error_set(CG_ERR_RUNTIME, "prob_dist must be 1 or 2 dim");
        return NULL;
    }
    if (!cg_dtype_is_floating((cg_dtype)p->dtype)) {
        cg_error_set(CG_ERR_RUNTIME, "multinomial only supports floating-point dtypes for input, got: %s",
                     cg_dtype_torch_name((cg_dtype)p->dtype));
        return NULL;
    }
    if (n <= 0) {
        cg_error_set(CG_ERR_RUNTIME, "cannot sample n_sample <= 0 samples");
        return NULL;
    }
    int64_t cats = p->shape[p->ndim - 1];
    if (!replacement && n > cats) {
        cg_error_set(CG_ERR_RUNTIME, "cannot sample n_sample > prob_dist.size(-1) samples without replacement");
        return NULL;
    }
    if (cats == 0 && (p->ndim == 1 || p->shape[0] > 0)) { /* no category to draw */
        cg_error_set(CG_ERR_RUNTIME, "invalid multinomial distribution (sum of probabilities <= 0)");
        return NULL;
    }
    int64_t shape[2] = {p->shape[0], n};
    if (p->ndim == 1) shape[0] = n;
    cg_tensor *out = cg_empty(shape, p->ndim, CG_INT64), *w = out ? dense_f64(p, p) : NULL;
    if (!g) g = cg_default_generator();
    if (!w || (out->numel && cg_kernel(multinomial_kernel, &(cg_kargs){.name = "random sampling", .t = {out, w}, .nw = 2,
                                                                        .i = {replacement != 0, (int64_t)(uintptr_t)g}}))) {
        cg_tensor_release(w);
        cg_tensor_release(out);
        return NULL;
    }
    cg_tensor_release(w);
    return out;
}

/* ---- poisson and binomial ------------------------------------------------------------- */

static const cg_op poisson_op = {"PoissonBackward0", draw_backward, NULL};

static int binomial_no_derivative(cg_node *n, cg_tensor **gout, cg_tensor **gin) {
    (void)n, (void)gout, (void)gin; /* PyTorch defines none */
    cg_error_set(CG_ERR_RUNTIME, "derivative for aten::binomial is not implemented");
    return -1;
}
static const cg_op binomial_op = {"torch::autograd::NotImplemented", binomial_no_derivative, NULL};

/* Poisson(lambda): below 10, how many uniforms keep their running product above
 * e^-lambda; from 10, Hormann's transformed rejection with squeeze (PTRS, 1993). */
static double poisson_draw(cg_generator *g, double lambda) {
    if (lambda >= 10) {
        double b = 0.931 + 2.53 * sqrt(lambda), a = -0.059 + 0.02483 * b;
        double log_inv_alpha = log(1.1239 + 1.1328 / (b - 3.4)), v_r = 0.9277 - 3.6224 / (b - 2);
        for (;;) {
            double u = uniform(g) - 0.5, v = uniform(g), us = 0.5 - fabs(u);
            double k = floor((2 * a / us + b) * u + lambda + 0.43);
            if (us >= 0.07 && v <= v_r) return k;
            if (k < 0 || (us < 0.013 && v > us)) continue;
            if (log(v) + log_inv_alpha - log(a / (us * us) + b) <= -lambda + k * log(lambda) - lgamma(k + 1)) return k;
        }
    }
    double limit = exp(-lambda), prod = 1.0, k = -1;
    if (lambda == 0) return 0;
    do {
        prod *= uniform(g);
        k += 1;
    } while (prod > limit);
    return k;
}

/* Binomial(n, p <= 1/2) for n p < 10: the geometric waiting times for a success that fit in n trials. */
static double binomial_inversion(cg_generator *g, double n, double p) {
    double log_q = log1p(-p), trials = 0, k = 0;
    for (;;) {
        trials += ceil(log(uniform(g)) / log_q);
        if (trials > n) return k;
        k += 1;
    }
}

/* Binomial(n, p <= 1/2) for n p >= 10: Hormann's transformed rejection with squeeze (BTRS, 1993). */
static double binomial_btrs(cg_generator *g, double n, double p) {
    double spq = sqrt(n * p * (1 - p)), b = 1.15 + 2.53 * spq, a = -0.0873 + 0.0248 * b + 0.01 * p;
    double c = n * p + 0.5, v_r = 0.92 - 4.2 / b, alpha = (2.83 + 5.1 / b) * spq, log_pq = log(p / (1 - p));
    double m = floor((n + 1) * p), h = lgamma(m + 1) + lgamma(n - m + 1);
    for (;;) {
        double u = uniform(g) - 0.5, v = uniform(g), us = 0.5 - fabs(u);
        double k = floor((2 * a / us + b) * u + c);
        if (k < 0 || k > n) continue;
        if (us >= 0.07 && v <= v_r) return k;
        v = log(v * alpha / (a / (us * us) + b));
        if (v <= h - lgamma(k + 1) - lgamma(n - k + 1) + (k - m) * log_pq) return k;
    }
}

/* Binomial(n, p), drawn for the smaller of p and 1 - p; n <= 0 or p <= 0 gives 0, p >= 1 n, NaN NaN. */
static double binomial_draw(cg_generator *g, double n, double p) {
    if (isnan(n) || isnan(p)) return NAN;
    if (n <= 0 || p <= 0) return 0;
    if (p >= 1 || isinf(n)) return n;
    double q = p <= 0.5 ? p : 1 - p;
    double k = n * q >= 10 ? binomial_btrs(g, n, q) : binomial_inversion(g, n, q);
    return p <= 0.5 ? k : n - k;
}

/* t = {out, rates or counts, NULL or probabilities} (broadcast to out), i = {generator} */
static int counts_kernel(const cg_kargs *k) {
    cg_tensor *out = k->t[0];
    cg_generator *g = (cg_generator *)(uintptr_t)k->i[0];
    cg_tensor *first = dense_f64(k->t[1], out), *prob = k->t[2] ? dense_f64(k->t[2], out) : NULL;
    cg_tensor *draws = cg_empty(out->shape, out->ndim, CG_FLOAT64);
    int rc = !first || (k->t[2] && !prob) || !draws ? -1 : 0;
    const double *x = rc ? NULL : first->storage->data, *p = prob ? (const double *)prob->storage->data : NULL;
    double *d = rc ? NULL : draws->storage->data;
    for (int64_t i = 0; rc == 0 && i < out->numel; i++) {
        if (!p && !(x[i] >= 0)) {
            cg_error_set(CG_ERR_RUNTIME, "invalid Poisson rate, expected rate to be non-negative");
            rc = -1;
        } else {
            d[i] = p ? binomial_draw(g, x[i], p[i]) : poisson_draw(g, x[i]);
        }
    }
    if (rc == 0) rc = cg_copy_data(out, draws);
    cg_tensor_release(draws);
    cg_tensor_release(first);
    cg_tensor_release(prob);
    return rc;
}

/* out (of ins[0]'s dtype, the shape of ins broadcast) drawn by counts_kernel, recorded by op. */
static cg_tensor *draw_counts(const cg_op *op, cg_tensor **ins, int nin, cg_generator *g) {
    int64_t shape[CG_MAX_DIMS];
    int nd = ins[0]->ndim;
    memcpy(shape, ins[0]->shape, sizeof(int64_t) * (size_t)nd);
    if (nin == 2 && cg_broadcast_shapes(ins[0]->shape, ins[0]->ndim, ins[1]->shape, ins[1]->ndim, shape, &nd))
        return NULL;
    cg_tensor *out = cg_empty(shape, nd, (cg_dtype)ins[0]->dtype);
    if (!g) g = cg_default_generator();
    int rc = out ? 0 : -1;
    if (rc == 0 && out->numel)
        rc = cg_kernel(counts_kernel, &(cg_kargs){.name = "random sampling",
                                                  .t = {out, ins[0], nin == 2 ? ins[1] : NULL}, .nw = 1,
                                                  .i = {(int64_t)(uintptr_t)g}});
    cg_node *n = NULL;
    if (rc == 0 && cg_any_requires_grad(ins, nin) && !(n = cg_node_new(op, ins, nin, 1))) rc = -1;
    if (rc) {
        cg_tensor_release(out);
        return NULL;
    }
    if (n) {
        cg_set_history(out, n, 0);
        cg_node_release(n);
    }
    return out;
}

cg_tensor *cg_poisson(cg_tensor *rates, cg_generator *g) {
    if (!cg_dtype_is_floating((cg_dtype)rates->dtype)) {
        cg_error_set(CG_ERR_NOTIMPL, "\"poisson_cpu\" not implemented for '%s'",
                     cg_dtype_torch_name((cg_dtype)rates->dtype));
        return NULL;
    }
    return draw_counts(&poisson_op, &rates, 1, g);
}

cg_tensor *cg_binomial(cg_tensor *count, cg_tensor *prob, cg_generator *g) {
    cg_tensor *ins[2] = {count, prob};
    for (int k = 0; k < 2; k++)
        if (!cg_dtype_is_floating((cg_dtype)ins[k]->dtype)) {
            cg_error_set(CG_ERR_VALUE, "binomial only supports floating-point dtypes for %s, got: %s",
                         k ? "prob" : "count", cg_dtype_torch_name((cg_dtype)ins[k]->dtype));
            return NULL;
        }
    if (prob->dtype != count->dtype) {
        cg_error_set(CG_ERR_RUNTIME, "Found dtype %s but expected %s", cg_dtype_torch_name((cg_dtype)prob->dtype),
                     cg_dtype_torch_name((cg_dtype)count->dtype));
        return NULL;
    }
    return draw_counts(&binomial_op, ins, 2, g);
}
