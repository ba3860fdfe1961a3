// bench_reg.c: value + gradient throughput of every regularizer of reg.h on a batch of 32
// 224x224x3 images, in megapixels (H*W per image) per second, and the ratio of its time to one
// plain MSE pass over the same batch (value only, no normalisation). Plain C, no darknet.
// Usage: bench_reg [batch] [size] [min seconds per regularizer]
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "reg.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static uint64_t bench_rng = 0x9e3779b97f4a7c15ull;
static float uniform(void)
{
    bench_rng ^= bench_rng << 13;
    bench_rng ^= bench_rng >> 7;
    bench_rng ^= bench_rng << 17;
    return (float)((bench_rng >> 40) * (1.0 / 16777216.0));
}

// the time of one plain MSE pass over the batch
static double mse_pass(const float *a, const float *b, size_t n, double *sink)
{
    double t0 = now(), s = 0;
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    *sink += s / n;
    return now() - t0;
}

int main(int argc, char **argv)
{
    int batch = argc > 1 ? atoi(argv[1]) : 32;
    int size = argc > 2 ? atoi(argv[2]) : 224;
    double min_s = argc > 3 ? atof(argv[3]) : 0.5;
    int c = 3, h = size, w = size;
    size_t n = (size_t)batch * c * h * w;
    float *g = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float)), *dg = malloc(n * sizeof(float));
    if (!g || !x || !dg) { fprintf(stderr, "bench_reg: out of memory for %zu floats\n", 3 * n); return 1; }
    // a smooth image plus noise, and a heatmap loosely following it
    for (size_t i = 0; i < n; i++) {
        size_t p = i % ((size_t)h * w);
        float v = 0.5f + 0.3f * (float)((p / w) % 37) / 37 - 0.2f * (float)((p % w) % 23) / 23;
        x[i] = v + 0.1f * uniform();
        g[i] = 0.3f * v + uniform() - 0.5f;
    }
    double sink = 0, t_mse = 1e30;
    for (int r = 0; r < 20; r++) {
        double t = mse_pass(g, x, n, &sink);
        if (t < t_mse) t_mse = t;
    }
    double mpix = (double)batch * h * w / 1e6;
    printf("# bench_reg: batch %d of %dx%dx%d, value + gradient per regularizer (best of the runs)\n", batch, c, h, w);
    printf("# plain MSE pass: %.3f ms (%.1f Mpixel/s)\n", 1e3 * t_mse, mpix / t_mse);
    printf("%-16s %10s %12s %12s %10s\n", "regularizer", "ms/batch", "ms/image", "Mpixel/s", "x MSE");
    for (int k = 0; k < reg_count(); k++) {
        const reg_def *r = reg_at(k);
        double best = 1e30, spent = 0, v = 0;
        char err[256];
        for (int rep = 0; rep < 3 || spent < min_s; rep++) {
            memset(dg, 0, n * sizeof(float));
            double t0 = now();
            if (reg_eval_batch(r, g, x, batch, c, h, w, &v, dg, 1, err, sizeof err)) {
                fprintf(stderr, "bench_reg: %s\n", err);
                return 1;
            }
            double t = now() - t0;
            spent += t;
            if (t < best) best = t;
            if (rep > 100) break;
        }
        sink += v;
        printf("%-16s %10.2f %12.3f %12.2f %10.1f\n", r->name, 1e3 * best, 1e3 * best / batch, mpix / best, best / t_mse);
    }
    if (sink == 12345.678) printf("\n"); // keep the work observable
    free(g); free(x); free(dg);
    return 0;
}
