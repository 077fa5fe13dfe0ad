/* creation.c -- tensors made from ranges: arange, linspace, eye. */
#include <math.h>

#include "internal.h"

/* linspace in float32 computes in float32 with fused multiply-adds, as
 * PyTorch's kernel does, so both give the same values */
static void linspace_f32(float *out, float start, float end, int64_t steps) {
    float step = steps > 1 ? (end - start) / (float)(steps - 1) : 0;
    int64_t half = steps > 1 ? steps / 2 : steps; /* one step: start, as PyTorch */
    for (int64_t i = 0; i < steps; i++)
        out[i] = i < half ? fmaf(step, (float)i, start) : fmaf(-step, (float)(steps - i - 1), end);
}

/* Writes f(i) for i < n into a contiguous tensor of any dtype. */
static void fill_with(cg_tensor *t, double start, double step, double end, int64_t steps, bool symmetric) {
    int64_t n = t->numel, half = steps > 1 ? steps / 2 : steps; /* one step: start, as PyTorch */
    for (int64_t i = 0; i < n; i++) {
        /* linspace fills from both ends, as PyTorch does, so the last value is exactly end */
        double v = !symmetric || i < half ? fma(step, (double)i, start) : fma(-step, (double)(steps - i - 1), end);
        switch ((cg_dtype)t->dtype) {
        case CG_FLOAT32: ((float *)t->storage->data)[i] = (float)v; break;
        case CG_FLOAT64: ((double *)t->storage->data)[i] = v; break;
        case CG_INT64: ((int64_t *)t->storage->data)[i] = (int64_t)v; break;
        case CG_BOOL: ((uint8_t *)t->storage->data)[i] = v != 0; break;
        }
    }
}

cg_tensor *cg_arange(double start, double end, double step, cg_dtype dtype) {
    if (step == 0) {
        cg_error_set(CG_ERR_RUNTIME, "step must be nonzero");
        return NULL;
    }
    if (!isfinite(start) || !isfinite(end)) {
        cg_error_set(CG_ERR_RUNTIME, "unsupported range: %g -> %g", start, end);
        return NULL;
    }
    if ((step > 0 && end < start) || (step < 0 && end > start)) {
        cg_error_set(CG_ERR_RUNTIME, "upper bound and lower bound inconsistent with step sign");
        return NULL;
    }
    double len = ceil((end - start) / step);
    if (len > 9.2e18) {
        cg_error_set(CG_ERR_RUNTIME, "arange: the range is too large to be allocated");
        return NULL;
    }
    int64_t n = (int64_t)len;
    cg_tensor *t = cg_empty(&n, 1, dtype);
    if (t) fill_with(t, start, step, end, n, false);
    if (t && CG_RECORDING()) cg_tape_constant(t);
    return t;
}

cg_tensor *cg_linspace(double start, double end, int64_t steps, cg_dtype dtype) {
    if (steps < 0) {
        cg_error_set(CG_ERR_RUNTIME, "number of steps must be non-negative");
        return NULL;
    }
    cg_tensor *t = cg_empty(&steps, 1, dtype);
    if (!t) return NULL;
    double step = steps > 1 ? (end - start) / (double)(steps - 1) : 0;
    if (dtype == CG_FLOAT32)
        linspace_f32(t->storage->data, (float)start, (float)end, steps);
    else
        fill_with(t, start, step, end, steps, true);
    if (CG_RECORDING()) cg_tape_constant(t);
    return t;
}

cg_tensor *cg_eye(int64_t n, int64_t m, cg_dtype dtype) {
    if (n < 0 || m < 0) {
        cg_error_set(CG_ERR_RUNTIME, "%s must be greater or equal to 0, got %lld", n < 0 ? "n" : "m",
                     (long long)(n < 0 ? n : m));
        return NULL;
    }
    int64_t shape[2] = {n, m};
    cg_tape *tp = cg_tape_pause(); /* the whole matrix is one constant */
    cg_tensor *t = cg_zeros(shape, 2, dtype), *one = t ? cg_ones(NULL, 0, dtype) : NULL;
    cg_tape_resume(tp);
    if (!one) {
        cg_tensor_release(t);
        return NULL;
    }
    int64_t isz = cg_dtype_size(dtype), k = n < m ? n : m;
    for (int64_t i = 0; i < k; i++) memcpy((char *)t->storage->data + (i * m + i) * isz, one->storage->data, (size_t)isz);
    cg_tensor_release(one);
    if (CG_RECORDING()) cg_tape_constant(t);
    return t;
}
