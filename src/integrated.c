// integrated.c: integrated gradients (Sundararajan et al. 2017; integrated.h). The path integral
// of dz_c/dx from a baseline x0 to x by a quadrature rule, every point of the path through the
// engine's batches, and the completeness check sum map = z_c(x) - z_c(x0) reported as the gap.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "integrated.h"
#include "blur.h"
#include "rng.h"

static const char *RULES[] = {"right", "left", "middle", "trapezoid", "gausslegendre"};
static const char *BASELINES[] = {"black", "blur", "mean", "noise"};

static int parse_name(const char *what, const char *name, const char **names, int n, const char *list, int *out,
                      char *err, int errlen)
{
    for (int i = 0; name && i < n; i++)
        if (!strcmp(name, names[i])) { *out = i; return 0; }
    snprintf(err, errlen, "-%s %s: allowed: %s", what, name ? name : "(none)", list);
    return -1;
}

const char *ig_rule_names(void) { return "right, left, middle, trapezoid, gausslegendre"; }
const char *ig_baseline_names(void) { return "black, blur, mean, noise"; }

int ig_rule_parse(const char *name, ig_rule *rule, char *err, int errlen)
{
    int i;
    if (parse_name("rule", name, RULES, 5, ig_rule_names(), &i, err, errlen)) return -1;
    *rule = (ig_rule)i;
    return 0;
}

int ig_baseline_parse(const char *name, ig_baseline *b, char *err, int errlen)
{
    int i;
    if (parse_name("baseline", name, BASELINES, 4, ig_baseline_names(), &i, err, errlen)) return -1;
    *b = (ig_baseline)i;
    return 0;
}

// ---- the quadrature rules --------------------------------------------------------------------

int ig_points(ig_rule rule, int K) { return rule == IG_TRAPEZOID ? K + 1 : K; }

// K-point Gauss-Legendre on [-1, 1]: the roots of P_K by Newton from Tricomi's guess, weights
// 2 / ((1 - u^2) P_K'(u)^2); then mapped to [0, 1] (t = (u + 1) / 2, w / 2)
static void gauss_legendre(int K, double *t, double *w)
{
    for (int i = 0; i < K; i++) {
        double u = cos(M_PI * (i + 0.75) / (K + 0.5)), dp = 1;
        for (int it = 0; it < 100; it++) {
            double p0 = 1, p1 = u;   // P_0, P_1; recurrence (k+1) P_{k+1} = (2k+1) u P_k - k P_{k-1}
            for (int k = 1; k < K; k++) {
                double p2 = ((2 * k + 1) * u * p1 - k * p0) / (k + 1);
                p0 = p1;
                p1 = p2;
            }
            dp = K * (u * p1 - p0) / (u * u - 1);   // P_K' from P_K and P_{K-1}
            double du = p1 / dp;
            u -= du;
            if (fabs(du) < 1e-15) break;
        }
        // recompute P_K' at the converged root for the weight
        double p0 = 1, p1 = u;
        for (int k = 1; k < K; k++) {
            double p2 = ((2 * k + 1) * u * p1 - k * p0) / (k + 1);
            p0 = p1;
            p1 = p2;
        }
        dp = K * (u * p1 - p0) / (u * u - 1);
        t[K - 1 - i] = (u + 1) / 2;   // ascending in t
        w[K - 1 - i] = 1 / ((1 - u * u) * dp * dp);   // 2 / (...) halved by the map to [0, 1]
    }
}

void ig_nodes(ig_rule rule, int K, double *t, double *w)
{
    switch (rule) {
    case IG_RIGHT: for (int k = 0; k < K; k++) { t[k] = (k + 1.0) / K; w[k] = 1.0 / K; } break;
    case IG_LEFT: for (int k = 0; k < K; k++) { t[k] = (double)k / K; w[k] = 1.0 / K; } break;
    case IG_MIDDLE: for (int k = 0; k < K; k++) { t[k] = (k + 0.5) / K; w[k] = 1.0 / K; } break;
    case IG_TRAPEZOID:
        for (int k = 0; k <= K; k++) { t[k] = (double)k / K; w[k] = (k == 0 || k == K ? 0.5 : 1.0) / K; }
        break;
    case IG_GAUSSLEGENDRE: gauss_legendre(K, t, w); break;
    }
}

// ---- the baselines ---------------------------------------------------------------------------

void ig_blur_kernel(int h, int w, int *size, double *sigma)
{
    int side = h < w ? h : w;
    if (side >= 224) { *size = 51; *sigma = 50; return; }
    double s = side / 224.0;
    *size = 2 * (int)floor(51 * s / 2) + 1;
    if (*size < 3) *size = 3;
    *sigma = 50 * s;
}

int ig_baseline_of(ig_baseline b, const float *x, int c, int h, int w, uint64_t seed, float *x0)
{
    // x (C, H, W), x0 (C, H, W)
    int hw = h * w, n = c * hw;
    if (b == IG_BLACK) { memset(x0, 0, (size_t)n * sizeof(float)); return 0; }
    if (b == IG_BLUR) {
        int size;
        double sigma;
        ig_blur_kernel(h, w, &size, &sigma);
        return blur_gauss(x, c, h, w, size, sigma, x0);
    }
    if (b == IG_MEAN) {
        for (int k = 0; k < c; k++) {
            double s = 0;
            for (int i = 0; i < hw; i++) s += x[k * hw + i];
            for (int i = 0; i < hw; i++) x0[k * hw + i] = (float)(s / hw);
        }
        return 0;
    }
    uint64_t rng = seed;
    for (int i = 0; i < n; i++) x0[i] = (float)rng_uniform(&rng);
    return 0;
}

// ---- the maps --------------------------------------------------------------------------------

int ig_maps(eng *e, const float *x, int nimg, int cls, const mth_opts *o, float *map, double *zx, double *z0,
            long *evaluations, char *err, int errlen)
{
    // x (nimg, n), map (nimg, n), zx (nimg), z0 (nimg)
    ig_rule rule;
    ig_baseline base;
    if (ig_rule_parse(o->rule, &rule, err, errlen) || ig_baseline_parse(o->baseline, &base, err, errlen)) return -1;
    if (o->steps < 1) { snprintf(err, errlen, "-steps %d: allowed: a whole number >= 1", o->steps); return -1; }
    int K = eng_classes(e), n = eng_inputs(e), B = eng_batch(e), c, h, w;
    if (cls < 0 || cls >= K) { snprintf(err, errlen, "class %d: the network has classes 0..%d", cls, K - 1); return -1; }
    eng_input_shape(e, &c, &h, &w);
    int J = ig_points(rule, o->steps);
    long P = (long)nimg * J;
    double *t = malloc(J * sizeof(double)), *wt = malloc(J * sizeof(double));
    double *acc = calloc((size_t)nimg * n, sizeof(double));
    float *x0 = malloc((size_t)nimg * n * sizeof(float)), *pts = malloc((size_t)B * n * sizeof(float));
    float *g = malloc((size_t)B * n * sizeof(float)), *z = malloc((size_t)B * K * sizeof(float));
    int *cl = malloc(B * sizeof(int)), *have = calloc(2 * (size_t)nimg, sizeof(int));   // have[2i]: z0, [2i+1]: zx
    double *zz = calloc(2 * (size_t)nimg, sizeof(double));
    long *miss = malloc(2 * (size_t)nimg * sizeof(long));
    int rc = -1;
    if (!t || !wt || !acc || !x0 || !pts || !g || !z || !cl || !have || !zz || !miss) {
        snprintf(err, errlen, "out of memory for %d images x %d path points", nimg, J);
        goto done;
    }
    ig_nodes(rule, o->steps, t, wt);
    for (int i = 0; i < nimg; i++)
        if (ig_baseline_of(base, x + (size_t)i * n, c, h, w, o->seed, x0 + (size_t)i * n)) {
            snprintf(err, errlen, "out of memory for the %s baseline", o->baseline);
            goto done;
        }
    for (int b = 0; b < B; b++) cl[b] = cls;

    // every (image, node) pair, B at a time
    for (long p0 = 0; p0 < P; p0 += B) {
        int nb = P - p0 < B ? (int)(P - p0) : B;
        #pragma omp parallel for if (nb > 1 && (long)nb * n >= 32768)
        for (int q = 0; q < nb; q++) {
            long p = p0 + q;
            int i = (int)(p / J), j = (int)(p % J);
            const float *xi = x + (size_t)i * n, *bi = x0 + (size_t)i * n;
            float *d = pts + (size_t)q * n;
            if (t[j] == 1) memcpy(d, xi, (size_t)n * sizeof(float));
            else if (t[j] == 0) memcpy(d, bi, (size_t)n * sizeof(float));
            else for (int k = 0; k < n; k++) d[k] = bi[k] + (float)t[j] * (xi[k] - bi[k]);
        }
        if (eng_logit_grad(e, pts, nb, cl, g, z, NULL)) {
            snprintf(err, errlen, "the engine cannot take this network's gradient (a layer type without a rule)");
            goto done;
        }
        *evaluations += nb;
        // the weighted sum, pixels in threads: several points of an image add to one pixel, in the
        // points' order
        #pragma omp parallel for if ((long)nb * n >= 32768)
        for (int k = 0; k < n; k++)
            for (int q = 0; q < nb; q++) {
                long p = p0 + q;
                acc[(size_t)(p / J) * n + k] += wt[p % J] * g[(size_t)q * n + k];
            }
        for (int q = 0; q < nb; q++) {
            long p = p0 + q;
            int i = (int)(p / J), j = (int)(p % J);
            if (t[j] == 0 || t[j] == 1) {
                int s = 2 * i + (t[j] == 1);
                zz[s] = z[q * K + cls];
                have[s] = 1;
            }
        }
    }

    // the end points the rule lacks (right: x0; left: x; middle, gausslegendre: both), forward only
    if (zx || z0) {
        long m = 0;
        for (long s = 0; s < 2L * nimg; s++)
            if (!have[s]) miss[m++] = s;
        for (long q0 = 0; q0 < m; q0 += B) {
            int nb = m - q0 < B ? (int)(m - q0) : B;
            for (int q = 0; q < nb; q++) {
                long s = miss[q0 + q];
                memcpy(pts + (size_t)q * n, (s & 1 ? x : x0) + (size_t)(s / 2) * n, (size_t)n * sizeof(float));
            }
            eng_predict(e, pts, nb, z, NULL);
            *evaluations += nb;
            for (int q = 0; q < nb; q++) zz[miss[q0 + q]] = z[q * K + cls];
        }
        for (int i = 0; i < nimg; i++) {
            if (z0) z0[i] = zz[2 * i];
            if (zx) zx[i] = zz[2 * i + 1];
        }
    }

    for (size_t k = 0; k < (size_t)nimg * n; k++) map[k] = (float)((x[k] - x0[k]) * acc[k]);
    rc = 0;
done:
    free(t); free(wt); free(acc); free(x0); free(pts); free(g); free(z); free(cl); free(have); free(zz); free(miss);
    return rc;
}

// ---- the method ------------------------------------------------------------------------------

int mth_integrated(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen)
{
    double zx, z0;
    if (ig_maps(e, x, 1, cls, o, map, &zx, &z0, &info->evaluations, err, errlen)) return -1;
    double s = 0;
    int n = eng_inputs(e);
    for (int k = 0; k < n; k++) s += map[k];
    snprintf(info->line, sizeof info->line, "%d steps (%s rule, %s baseline), completeness gap %.2e of z_c(x) - z_c(x0) = %.4g",
             o->steps, o->rule, o->baseline, s - (zx - z0), zx - z0);
    return 0;
}
