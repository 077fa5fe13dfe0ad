/* random.c -- xoshiro256** generators, uniform and normal samples. */
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
    if (dtype == CG_FLOAT32 && draw == uniform) { /* 24 bits: never rounds up to 1 */
        float *p = t->storage->data;
        for (int64_t i = 0; i < t->numel; i++) p[i] = (float)(cg_rng_next(g) >> 40) * 0x1.0p-24f;
    } else if (dtype == CG_FLOAT32) {
        float *p = t->storage->data;
        for (int64_t i = 0; i < t->numel; i++) p[i] = (float)draw(g);
    } else {
        double *p = t->storage->data;
        for (int64_t i = 0; i < t->numel; i++) p[i] = draw(g);
    }
    return t;
}

cg_tensor *cg_rand(const int64_t *shape, int ndim, cg_dtype dtype, cg_generator *g) {
    return sample(shape, ndim, dtype, g, uniform);
}

cg_tensor *cg_randn(const int64_t *shape, int ndim, cg_dtype dtype, cg_generator *g) {
    return sample(shape, ndim, dtype, g, normal);
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
    uint64_t range = (uint64_t)(high - low);
    int64_t *p = t->storage->data;
    for (int64_t i = 0; i < t->numel; i++) {
        /* multiply-shift maps 64 random bits onto [0, range) without a division */
        p[i] = low + (int64_t)(((unsigned __int128)cg_rng_next(g) * range) >> 64);
    }
    if (dtype == CG_INT64) return t;
    cg_tensor *c = cg_cast_raw(t, dtype);
    cg_tensor_release(t);
    return c;
}
