/* Writes to the file named by its argument the inputs, then what each of
 * vmath.c's array functions returns over them: ordinary values, random bit
 * patterns (NaNs, infinities and subnormals among them) and the far ranges
 * where exp overflows and underflows. tests/test_vmath.py builds it at each
 * vector width and compares the outputs, with each other and with cgrad's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*loop_f32)(int64_t, const float *, int64_t, float *, int64_t);
typedef void (*loop_f64)(int64_t, const double *, int64_t, double *, int64_t);
void cg_vexp_f32(int64_t, const float *, int64_t, float *, int64_t);
void cg_vlog_f32(int64_t, const float *, int64_t, float *, int64_t);
void cg_vtanh_f32(int64_t, const float *, int64_t, float *, int64_t);
void cg_vsigmoid_f32(int64_t, const float *, int64_t, float *, int64_t);
void cg_vexp_f64(int64_t, const double *, int64_t, double *, int64_t);
void cg_vlog_f64(int64_t, const double *, int64_t, double *, int64_t);
void cg_vtanh_f64(int64_t, const double *, int64_t, double *, int64_t);
void cg_vsigmoid_f64(int64_t, const double *, int64_t, double *, int64_t);

#define N 200003 /* odd: the loops' scalar tails run too */

int main(int argc, char **argv) {
    FILE *out = argc == 2 ? fopen(argv[1], "wb") : NULL;
    if (!out) return 2;
    float *xf = malloc(N * sizeof(float)), *yf = malloc(N * sizeof(float));
    double *xd = malloc(N * sizeof(double)), *yd = malloc(N * sizeof(double));
    if (!xf || !yf || !xd || !yd) return 1;
    uint64_t s = 88172645463325252ull;
    for (int64_t i = 0; i < N; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift */
        uint32_t b = (uint32_t)s;
        if (i % 3 == 0) { /* any bit pattern */
            memcpy(&xf[i], &b, sizeof b);
            memcpy(&xd[i], &s, sizeof s);
        } else if (i % 3 == 1) { /* ordinary values in [-21.5, 21.5] */
            xf[i] = (float)(int32_t)b / 1e8f;
            xd[i] = (double)(int64_t)s / 4.3e17;
        } else { /* the far ranges: exp's overflow and underflow, log's wide span */
            xf[i] = (float)(int32_t)b / 2e7f;
            xd[i] = (double)(int64_t)s / 1.2e16;
        }
    }
    const loop_f32 f32[] = {cg_vexp_f32, cg_vlog_f32, cg_vtanh_f32, cg_vsigmoid_f32};
    const loop_f64 f64[] = {cg_vexp_f64, cg_vlog_f64, cg_vtanh_f64, cg_vsigmoid_f64};
    fwrite(xf, sizeof(float), N, out);
    fwrite(xd, sizeof(double), N, out);
    for (int k = 0; k < 4; k++) { /* exp, log, tanh, sigmoid */
        f32[k](N, xf, 1, yf, 1);
        fwrite(yf, sizeof(float), N, out);
        f64[k](N, xd, 1, yd, 1);
        fwrite(yd, sizeof(double), N, out);
    }
    free(xf), free(yf), free(xd), free(yd);
    return fclose(out) == 0 ? 0 : 3;
}
