// fool.c: fooling images by normalised gradient ascent on the target logit (fool.h).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fool.h"

static int argmax(const float *p, int K)
{
    int best = 0;
    for (int k = 1; k < K; k++) if (p[k] > p[best]) best = k;
    return best;
}

int fool_run(eng *e, const float *x, int target, int budget, double lr, float *xf, fool_result *r,
             void (*progress)(void *ctx, int done, int total), void *progress_ctx, char *err, int errlen)
{
    // x (n), xf (n)
    int K = eng_classes(e), n = eng_inputs(e);
    memset(r, 0, sizeof *r);
    if (target < 0 || target >= K) { snprintf(err, errlen, "-target %d: the network has classes 0..%d", target, K - 1); return -1; }
    if (budget < 0) { snprintf(err, errlen, "-steps %d: allowed: a whole number >= 0", budget); return -1; }
    if (!(lr > 0) || !isfinite(lr)) { snprintf(err, errlen, "-lr %g: allowed: a finite number > 0", lr); return -1; }
    float *g = malloc((size_t)n * sizeof(float)), *p = malloc((size_t)K * sizeof(float));
    if (!g || !p) { free(g); free(p); snprintf(err, errlen, "out of memory for an image of %d values", n); return -1; }
    memcpy(xf, x, (size_t)n * sizeof(float));
    int rc = -1;
    // each round: the gradient and the prediction of the current image in one pass; stop on the
    // target, else step (the last round's gradient is not used)
    for (int s = 0;; s++) {
        if (eng_logit_grad(e, xf, 1, &target, g, NULL, p)) {
            snprintf(err, errlen, "the engine cannot take this network's gradient (a layer type without a rule)");
            goto done;
        }
        r->evaluations++;
        int pred = argmax(p, K);
        if (s == 0) r->orig = pred;
        r->steps = s;
        r->pred = pred;
        r->p_orig = p[r->orig];
        r->p_target = p[target];
        r->p_pred = p[pred];
        r->reached = pred == target;
        if (r->reached || s == budget) break;
        double gn = 0;
        for (int i = 0; i < n; i++) gn += (double)g[i] * g[i];
        gn = sqrt(gn);
        if (!(gn > 0) || !isfinite(gn)) {
            snprintf(err, errlen, "the gradient of logit %d is %s at step %d: no direction to climb", target, gn > 0 ? "not finite" : "zero", s + 1);
            goto done;
        }
        double a = lr / gn;
        for (int i = 0; i < n; i++) {
            float v = xf[i] + (float)(a * g[i]);
            xf[i] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
        if (progress) progress(progress_ctx, s + 1, budget);
    }
    for (int i = 0; i < n; i++) {
        double d = fabs((double)xf[i] - x[i]);
        r->l2 += d * d;
        if (d > r->linf) r->linf = d;
    }
    r->l2 = sqrt(r->l2);
    rc = 0;
done:
    free(g);
    free(p);
    return rc;
}

void fool_diff(const float *x, const float *xf, int n, float *out)
{
    float top = 0;
    for (int i = 0; i < n; i++) {
        out[i] = fabsf(xf[i] - x[i]);
        if (out[i] > top) top = out[i];
    }
    for (int i = 0; i < n; i++) out[i] = top > 0 ? out[i] / top : 0;
}
