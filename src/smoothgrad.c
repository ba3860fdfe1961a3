// smoothgrad.c: SmoothGrad (Smilkov et al. 2017) and its squared and VarGrad (Adebayo et al. 2018)
// variants around a gradient method: the wrapped method's map m(x + eps_n) for N noisy copies of
// x, eps_n ~ N(0, (sigma (max x - min x))^2) per value, aggregated over n as
//   mean: (1/N) sum m_n     squared: (1/N) sum m_n^2     vargrad: (1/N) sum (m_n - mean)^2
// The noisy copies go through the engine's batches (integrated: their path points, pooled).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "integrated.h"
#include "rng.h"

typedef enum { SG_MEAN, SG_SQUARED, SG_VARGRAD } sg_variant;
typedef enum { SG_VANILLA, SG_GRADXINPUT, SG_INTEGRATED } sg_of;

static const char *VARIANTS[] = {"mean", "squared", "vargrad"};
static const char *OFS[] = {"vanilla", "gradxinput", "integrated"};

static int find(const char *name, const char **names, int n)
{
    for (int i = 0; name && i < n; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

// The noise stream: the seed mixed with a constant, so that it is not the stream the integrated
// gradients' noise baseline draws from the same seed.
static uint64_t noise_stream(uint64_t seed) { return seed ^ 0x736d6f6f74686772ull; }

static long gcd(long a, long b) { while (b) { long t = a % b; a = b; b = t; } return a; }

int mth_smoothgrad(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen)
{
    // x (C, H, W), map (C, H, W)
    int variant = find(o->variant, VARIANTS, 3), of = find(o->of, OFS, 3);
    if (variant < 0) { snprintf(err, errlen, "-variant %s: allowed: mean, squared, vargrad", o->variant ? o->variant : "(none)"); return -1; }
    if (of < 0) { snprintf(err, errlen, "-of %s: allowed: vanilla, gradxinput, integrated", o->of ? o->of : "(none)"); return -1; }
    if (o->samples < 1) { snprintf(err, errlen, "-samples %d: allowed: a whole number >= 1", o->samples); return -1; }
    if (!(o->sigma >= 0) || !isfinite(o->sigma)) { snprintf(err, errlen, "-sigma %g: allowed: a finite number >= 0", o->sigma); return -1; }
    int J = 1;
    if (of == SG_INTEGRATED) {
        ig_rule r;
        ig_baseline b;
        if (ig_rule_parse(o->rule, &r, err, errlen) || ig_baseline_parse(o->baseline, &b, err, errlen)) return -1;
        if (o->steps < 1) { snprintf(err, errlen, "-steps %d: allowed: a whole number >= 1", o->steps); return -1; }
        J = ig_points(r, o->steps);
    }
    int n = eng_inputs(e), K = eng_classes(e), B = eng_batch(e), N = o->samples;
    if (cls < 0 || cls >= K) { snprintf(err, errlen, "class %d: the network has classes 0..%d", cls, K - 1); return -1; }
    // images a round: a batch of noisy copies, or for integrated as many as make whole batches of
    // path points (B / gcd(B, J) copies = lcm(B, J) points)
    int chunk = of == SG_INTEGRATED ? (int)(B / gcd(B, J)) : B;
    if (chunk > N) chunk = N;
    float lo = x[0], hi = x[0];
    for (int k = 1; k < n; k++) { if (x[k] < lo) lo = x[k]; if (x[k] > hi) hi = x[k]; }
    double sd = o->sigma * ((double)hi - lo);

    float *xs = malloc((size_t)chunk * n * sizeof(float)), *ms = malloc((size_t)chunk * n * sizeof(float));
    double *mean = calloc(n, sizeof(double)), *m2 = calloc(n, sizeof(double));
    int *cl = malloc(chunk * sizeof(int));
    int rc = -1;
    if (!xs || !ms || !mean || !m2 || !cl) { snprintf(err, errlen, "out of memory for %d noisy images", chunk); goto done; }
    for (int b = 0; b < chunk; b++) cl[b] = cls;
    uint64_t rng = noise_stream(o->seed), frng = o->seed;   // frng: spectreg's projections
    for (int s0 = 0; s0 < N; s0 += chunk) {
        int nb = N - s0 < chunk ? N - s0 : chunk;
        // the draws in sample order, whatever the chunk: the map does not depend on the batch
        for (size_t k = 0; k < (size_t)nb * n; k++) xs[k] = x[k % n] + (float)(sd * rng_normal(&rng));
        if (of == SG_INTEGRATED) {
            if (ig_maps(e, xs, nb, cls, o, ms, NULL, NULL, &info->evaluations, err, errlen)) goto done;
        } else {
            if (eng_grad(e, xs, nb, cl, o->form, &frng, ms, NULL, NULL)) {
                snprintf(err, errlen, "the engine cannot take this network's gradient (a layer type without a rule)");
                goto done;
            }
            info->evaluations += nb;
            if (of == SG_GRADXINPUT) {
                #pragma omp parallel for if ((long)nb * n >= 32768)
                for (size_t k = 0; k < (size_t)nb * n; k++) ms[k] *= xs[k];
            }
        }
        // Welford's running mean and sum of squared deviations (exactly 0 for equal samples); the
        // squared variant's mean of squares in m2
        // pixels in threads, each pixel's samples in their order
        #pragma omp parallel for if ((long)nb * n >= 32768)
        for (int k = 0; k < n; k++)
            for (int b = 0; b < nb; b++) {
                float m = ms[(size_t)b * n + k];
                double cnt = s0 + b + 1;
                if (variant == SG_SQUARED) { m2[k] += ((double)m * m - m2[k]) / cnt; continue; }
                double d = m - mean[k];
                mean[k] += d / cnt;
                m2[k] += d * (m - mean[k]);
            }
    }
    for (int k = 0; k < n; k++)
        map[k] = (float)(variant == SG_MEAN ? mean[k] : variant == SG_SQUARED ? m2[k] : m2[k] / N);
    char what[160];
    if (of == SG_INTEGRATED) snprintf(what, sizeof what, "integrated: %d steps, %s rule, %s baseline", o->steps, o->rule, o->baseline);
    else snprintf(what, sizeof what, "%s", o->of);
    snprintf(info->line, sizeof info->line, "%d samples (%s of %s), noise sd %g x (max - min) %.4g = %.4g, seed %llu",
             N, o->variant, what, o->sigma, (double)hi - lo, sd, (unsigned long long)o->seed);
    rc = 0;
done:
    free(xs); free(ms); free(mean); free(m2); free(cl);
    return rc;
}
