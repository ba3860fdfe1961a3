// igos.c: I-GOS and iGOS++ (igos.h): the regularisers (plain floats), the objective and the
// integrated-gradient direction through the engine's batches, the backtracking line search with
// the modified Armijo condition, the lambda1 schedule, and the two saliency methods' entries.
//
// The gradient of the probability: the engine's loss formulation gives dCE/dx for CE = -log p_c,
// so dp_c/dx = -p_c dCE/dx, exact, one backward sweep per image (the K logit gradients of
// p_c (dz_c/dx - sum_j p_j dz_j/dx) would take K sweeps).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "igos.h"
#include "blur.h"
#include "resample.h"
#include "rng.h"

#define IGOS_BETA 1e-4       // the Armijo constant: accept when L' <= L - beta alpha |d|^2
#define IGOS_DECAY 0.2       // alpha <- 0.2 alpha
#define IGOS_MIN_STEP 1e-5   // no candidate step below
#define IGOS_LS_CHUNK 4      // line-search candidates per engine call, at most

// One score term of the objective: S of the deletion (ins = 0) or insertion image of a mask
// (0, 1, or 2 = the product of masks 0 and 1), weighted by w.
typedef struct { int ins; double w; int mask; } igos_term;
static const igos_term TERMS_IGOS[] = {{0, 1.0, 0}};
static const igos_term TERMS_PP[] = {{0, 0.5, 0}, {1, -0.5, 1}, {0, 0.5, 2}, {1, -0.5, 2}};

struct igos {
    eng *e;
    igos_cfg cfg;
    const float *x, *b;     // (C, H, W)
    int cls, c, h, w, hw, n, classes, nm, cells, batch, nterms;
    const igos_term *terms;
    float *xb;              // (C, H, W) x - b
    float *wv, *wh;         // iGOS++: bilateral weights (H-1, W), (H, W-1)
    float *u;               // (3, H, W) up M0, up M1, their product
    float *gu;              // (nterms, H, W) d/d(each term's full-size mask)
    float *imgs, *g, *p;    // (batch, C*H*W) images, their gradients; (batch, classes) probabilities
    int *cl;                // (batch) cls
    float *pm, *dpm;        // (cells) the product mask and its gradient
    float *up, *dup, *tmp;  // (H, W) scratch
    float *d, *cand;        // (nm, cells) the direction; (IGOS_LS_CHUNK, nm, cells) line-search candidates
    long forwards, grads;   // images through the network: forward only, forward and backward
};

// ---- regularisers ------------------------------------------------------------------------------

// mean |1 - m| over n values
static double l1_forward(const float *m, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += fabs(1.0 - m[i]);
    return s / n;
}

// dm (n) += scale * d/dm mean |1 - m|, with sign(0) = 0 (PyTorch's abs)
static void l1_backward(const float *m, int n, double scale, float *dm)
{
    for (int i = 0; i < n; i++) {
        double r = 1.0 - m[i];
        dm[i] += (float)(scale * (r > 0 ? -1.0 : r < 0 ? 1.0 : 0.0) / n);
    }
}

// m (h, w): the mean over the (h-1) w vertical pairs of wv * (difference)^2 plus the mean over the
// h (w-1) horizontal pairs of wh * (difference)^2; wv (h-1, w) and wh (h, w-1), NULL = weights 1.
// TV2 with no weights; the bilateral TV with the image's.
static double tv_forward(const float *m, int h, int w, const float *wv, const float *wh)
{
    double a = 0, b = 0;
    for (int i = 0; i < h - 1; i++)
        for (int j = 0; j < w; j++) {
            double d = (double)m[(i + 1) * w + j] - m[i * w + j];
            a += (wv ? wv[i * w + j] : 1.0) * d * d;
        }
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w - 1; j++) {
            double d = (double)m[i * w + j + 1] - m[i * w + j];
            b += (wh ? wh[i * (w - 1) + j] : 1.0) * d * d;
        }
    return a / ((h - 1) * w) + b / (h * (w - 1));
}

// dm (h, w) += scale * d tv_forward / dm
static void tv_backward(const float *m, int h, int w, const float *wv, const float *wh, double scale, float *dm)
{
    double sa = 2 * scale / ((h - 1) * w), sb = 2 * scale / (h * (w - 1));
    for (int i = 0; i < h - 1; i++)
        for (int j = 0; j < w; j++) {
            double d = (double)m[(i + 1) * w + j] - m[i * w + j];
            float gv = (float)(sa * (wv ? wv[i * w + j] : 1.0) * d);
            dm[(i + 1) * w + j] += gv;
            dm[i * w + j] -= gv;
        }
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w - 1; j++) {
            double d = (double)m[i * w + j + 1] - m[i * w + j];
            float gh = (float)(sb * (wh ? wh[i * (w - 1) + j] : 1.0) * d);
            dm[i * w + j + 1] += gh;
            dm[i * w + j] -= gh;
        }
}

// R(masks) = lambda1 mean|1 - P| + lambda2 TV2(P) (I-GOS, P = M) or lambda2 BTV(P) (iGOS++,
// P = Md * Mi); d (nm, cells) += dR/dmasks when d is not NULL
static double reg(igos *g, const float *masks, double lambda1, float *d)
{
    int mh = g->cfg.mh, mw = g->cfg.mw, cells = g->cells;
    double l2 = g->cfg.lambda2;
    const float *P = masks;
    if (g->nm == 2) {
        for (int i = 0; i < cells; i++) g->pm[i] = masks[i] * masks[cells + i];
        P = g->pm;
    }
    double r = lambda1 * l1_forward(P, cells);
    if (!g->cfg.plus) r += l2 * tv_forward(P, mh, mw, NULL, NULL);
    else {
        rs_bilinear(P, mh, mw, g->up, g->h, g->w);
        r += l2 * 0.5 * (tv_forward(P, mh, mw, NULL, NULL) + tv_forward(g->up, g->h, g->w, g->wv, g->wh));
    }
    if (!d) return r;
    float *dP = d;
    if (g->nm == 2) { dP = g->dpm; memset(dP, 0, cells * sizeof(float)); }
    l1_backward(P, cells, lambda1, dP);
    if (!g->cfg.plus) tv_backward(P, mh, mw, NULL, NULL, l2, dP);
    else {
        tv_backward(P, mh, mw, NULL, NULL, 0.5 * l2, dP);
        memset(g->dup, 0, g->hw * sizeof(float));
        tv_backward(g->up, g->h, g->w, g->wv, g->wh, 0.5 * l2, g->dup);
        rs_bilinear_t(g->dup, g->h, g->w, dP, mh, mw);
    }
    if (g->nm == 2)
        for (int i = 0; i < cells; i++) {
            d[i] += dP[i] * masks[cells + i];
            d[cells + i] += dP[i] * masks[i];
        }
    return r;
}

// ---- images of the objective and its paths ---------------------------------------------------

// g->u = the full-size masks of one mask set (nm, mh, mw): up M0 (and up M1, up M0 * up M1)
static void ups(igos *g, const float *masks)
{
    int hw = g->hw;
    rs_bilinear(masks, g->cfg.mh, g->cfg.mw, g->u, g->h, g->w);
    if (g->nm < 2) return;
    rs_bilinear(masks + g->cells, g->cfg.mh, g->cfg.mw, g->u + hw, g->h, g->w);
    for (int i = 0; i < hw; i++) g->u[2 * hw + i] = g->u[i] * g->u[hw + i];
}

// out (C, H, W) = the term's image at point t of its path, from g->u
static void compose(const igos *g, const igos_term *tm, float t, float *out)
{
    const float *m = g->u + tm->mask * g->hw;
    for (int ch = 0; ch < g->c; ch++) {
        const float *x = g->x + ch * g->hw, *b = g->b + ch * g->hw, *xb = g->xb + ch * g->hw;
        float *o = out + ch * g->hw;
        for (int i = 0; i < g->hw; i++) {
            float a = t * m[i];
            o[i] = tm->ins ? x[i] - a * xb[i] : b[i] + a * xb[i];
        }
    }
}

void igos_objective(igos *g, const float *masks, int n, double lambda1, double *L, double *s)
{
    int nt = g->nterms, total = n * nt, set = g->nm * g->cells, cur = -1;
    double *sc = s ? s : L;   // the scores accumulate here
    if (!sc) return;
    for (int k = 0; k < n; k++) sc[k] = 0;
    for (int j0 = 0; j0 < total; j0 += g->batch) {
        int nb = total - j0 < g->batch ? total - j0 : g->batch;
        for (int q = 0; q < nb; q++) {
            int j = j0 + q;
            if (j / nt != cur) { cur = j / nt; ups(g, masks + cur * set); }
            compose(g, &g->terms[j % nt], 1, g->imgs + (size_t)q * g->n);
        }
        eng_predict(g->e, g->imgs, nb, NULL, g->p);
        g->forwards += nb;
        for (int q = 0; q < nb; q++) sc[(j0 + q) / nt] += g->terms[(j0 + q) % nt].w * g->p[q * g->classes + g->cls];
    }
    if (L)
        for (int k = 0; k < n; k++) L[k] = sc[k] + reg(g, masks + k * set, lambda1, NULL);
}

int igos_direction(igos *g, const float *masks, int points, double noise, double lambda1, uint64_t *rng, float *d)
{
    int hw = g->hw, total = g->nterms * points;
    ups(g, masks);
    memset(g->gu, 0, (size_t)g->nterms * hw * sizeof(float));
    for (int j0 = 0; j0 < total; j0 += g->batch) {
        int nb = total - j0 < g->batch ? total - j0 : g->batch;
        // the points of the paths in order (term by term, k = 1..K), each with fresh noise
        for (int q = 0; q < nb; q++) {
            int j = j0 + q;
            float *img = g->imgs + (size_t)q * g->n;
            compose(g, &g->terms[j / points], (float)(j % points + 1) / points, img);
            if (noise > 0)
                for (int i = 0; i < g->n; i++) img[i] += (float)(noise * rng_normal(rng));
        }
        if (eng_grad(g->e, g->imgs, nb, g->cl, ENG_LOSS, NULL, g->g, NULL, g->p)) return -1;
        g->grads += nb;
        for (int q = 0; q < nb; q++) {
            int j = j0 + q;
            const igos_term *tm = &g->terms[j / points];
            float t = (float)(j % points + 1) / points;
            // dS/dm = sum over channels of dS/dx * dx/dm; dS/dx = -p_c dCE/dx; dx/dm = t (x - b) for
            // deletion, -t (x - b) for insertion; the term's weight and 1/K
            double coef = tm->w / points * -g->p[q * g->classes + g->cls] * t * (tm->ins ? -1 : 1);
            float *gut = g->gu + (j / points) * hw;
            const float *gq = g->g + (size_t)q * g->n;
            for (int ch = 0; ch < g->c; ch++)
                for (int i = 0; i < hw; i++) gut[i] += (float)(coef * g->xb[ch * hw + i] * gq[ch * hw + i]);
        }
    }
    // back through the products and the up-sampling to the masks
    memset(d, 0, (size_t)g->nm * g->cells * sizeof(float));
    for (int k = 0; k < g->nterms; k++) {
        const float *gut = g->gu + k * hw;
        int m = g->terms[k].mask;
        if (m < 2) { rs_bilinear_t(gut, g->h, g->w, d + m * g->cells, g->cfg.mh, g->cfg.mw); continue; }
        for (int i = 0; i < hw; i++) g->tmp[i] = gut[i] * g->u[hw + i];
        rs_bilinear_t(g->tmp, g->h, g->w, d, g->cfg.mh, g->cfg.mw);
        for (int i = 0; i < hw; i++) g->tmp[i] = gut[i] * g->u[i];
        rs_bilinear_t(g->tmp, g->h, g->w, d + g->cells, g->cfg.mh, g->cfg.mw);
    }
    reg(g, masks, lambda1, d);
    return 0;
}

// ---- the optimisation --------------------------------------------------------------------------

// The backtracking line search from masks along -d: candidates clamp(masks - a d, 0, 1) for
// a = alpha, 0.2 alpha, ... down to 1e-5, a few per engine call; the first (largest) a with
// L' <= L0 - beta a |d|^2 wins, as one at a time. masks, *L, *s become the winner's; returns the
// step (0: none) and the candidates evaluated in *tried.
static double line_search(igos *g, float *masks, const float *d, double dn2, double lambda1, double *L, double *s, int *tried)
{
    int set = g->nm * g->cells;
    int chunk = g->batch / g->nterms;
    if (chunk < 1) chunk = 1;
    if (chunk > IGOS_LS_CHUNK) chunk = IGOS_LS_CHUNK;
    float *cand = g->cand;
    double Lc[IGOS_LS_CHUNK], sc[IGOS_LS_CHUNK], ac[IGOS_LS_CHUNK], won = 0;
    double a = g->cfg.alpha, L0 = *L;
    *tried = 0;
    while (!won && a >= IGOS_MIN_STEP) {
        int nc = 0;
        for (; nc < chunk && a >= IGOS_MIN_STEP; nc++, a *= IGOS_DECAY) {
            ac[nc] = a;
            for (int i = 0; i < set; i++) {
                float v = masks[i] - (float)a * d[i];
                cand[nc * set + i] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
        }
        igos_objective(g, cand, nc, lambda1, Lc, sc);
        *tried += nc;
        for (int k = 0; k < nc; k++) {
            if (!(Lc[k] <= L0 - IGOS_BETA * ac[k] * dn2)) continue;
            memcpy(masks, cand + k * set, set * sizeof(float));
            *L = Lc[k];
            *s = sc[k];
            won = ac[k];
            break;
        }
    }
    return won;
}

int igos_run(igos *g, float *masks, igos_iter *trace, mth_info *info, char *err, int errlen)
{
    const igos_cfg *c = &g->cfg;
    int set = g->nm * g->cells, T = c->iterations, taken = 0;
    for (int i = 0; i < set; i++) masks[i] = 1;
    float *d = g->d;
    double lambda1 = c->lambda1, L, s;
    igos_objective(g, masks, 1, lambda1, &L, &s);
    double s0 = s, L0 = L;
    uint64_t rng = c->seed;
    for (int it = 0; it < T; it++) {
        // the schedule of the I-GOS code: lambda1 falls when the score has hardly moved by the middle
        // (and again by four fifths) of the run; the iGOS++ code has none
        if (!c->plus && T > 3 && it == T / 2 && fabs(s - s0) <= 0.001) lambda1 /= 10;
        else if (!c->plus && T > 3 && it == (int)(T / 1.25) && fabs(s - s0) <= 0.01) lambda1 /= 5;
        L = s + reg(g, masks, lambda1, NULL);
        igos_iter r = {L, L, s, s, lambda1, 0, 0, 0};
        if (igos_direction(g, masks, c->points, c->noise, lambda1, &rng, d)) {
            snprintf(err, errlen, "the engine cannot take this network's gradient (a layer type without a rule)");
            return -1;
        }
        for (int i = 0; i < set; i++) r.dnorm2 += (double)d[i] * d[i];
        if (r.dnorm2 > 0) r.alpha = line_search(g, masks, d, r.dnorm2, lambda1, &L, &s, &r.tried);
        r.after = L;
        r.s_after = s;
        taken += r.alpha > 0;
        if (trace) trace[it] = r;
        if (info && info->log) {
            char line[256];
            if (r.alpha > 0) snprintf(line, sizeof line, "iteration %d/%d: L %.6g -> %.6g, score %.6g -> %.6g, step %.4g (%d tried), lambda1 %g",
                                      it + 1, T, r.before, r.after, r.s_before, r.s_after, r.alpha, r.tried, lambda1);
            else snprintf(line, sizeof line, "iteration %d/%d: L %.6g, score %.6g, no step (%d tried), lambda1 %g",
                          it + 1, T, r.before, r.s_before, r.tried, lambda1);
            info->log(info->log_ctx, line);
        }
    }
    if (info)
        snprintf(info->line, sizeof info->line, "%d iterations (%d steps taken), mask %dx%d, %d points, noise %g, "
                 "L %.4g -> %.4g, score %.4g -> %.4g, lambda1 %g -> %g; %ld gradients, %ld forwards",
                 T, taken, c->mh, c->mw, c->points, c->noise, L0, L, s0, s, c->lambda1, lambda1, g->grads, g->forwards);
    return 0;
}

void igos_heat(igos *g, const float *masks, float *map)
{
    // map (C, H, W)
    const float *P = masks;
    if (g->nm == 2) {
        for (int i = 0; i < g->cells; i++) g->pm[i] = masks[i] * masks[g->cells + i];
        P = g->pm;
    }
    rs_bilinear(P, g->cfg.mh, g->cfg.mw, g->up, g->h, g->w);
    for (int ch = 0; ch < g->c; ch++)
        for (int i = 0; i < g->hw; i++) map[ch * g->hw + i] = 1 - g->up[i];
}

// ---- set-up --------------------------------------------------------------------------------------

void igos_defaults(igos_cfg *c, int plus, int mh, int mw)
{
    memset(c, 0, sizeof *c);
    c->plus = plus;
    c->mh = mh;
    c->mw = mw;
    c->iterations = 15;
    c->points = 20;
    c->noise = 0.2;
    c->lambda1 = 1;
    c->lambda2 = 20;
    c->alpha = 200;
    c->sigma = 0.01;
    c->seed = 1;
}

int igos_baseline(const float *x, int c, int h, int w, float *b)
{
    int side = h > w ? h : w, hw = h * w;
    int size = side >= 800 ? 201 : side >= 500 ? 151 : 51;
    float *one = malloc(hw * sizeof(float)), *mass = malloc(hw * sizeof(float));
    int rc = -1;
    if (one && mass) {
        for (int i = 0; i < hw; i++) one[i] = 1;
        rc = blur_gauss(x, c, h, w, size, size - 1, b) || blur_gauss(one, 1, h, w, size, size - 1, mass) ? -1 : 0;
    }
    if (!rc)
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < hw; i++) b[ch * hw + i] /= mass[i];
    free(one);
    free(mass);
    return rc;
}

static int bad_real(double v, double lo, int lo_open)
{
    return !isfinite(v) || v < lo || (lo_open && v == lo);
}

igos *igos_new(eng *e, const float *x, const float *b, int cls, const igos_cfg *cfg, char *err, int errlen)
{
    int c, h, w;
    eng_input_shape(e, &c, &h, &w);
    if (cfg->mh < 2 || cfg->mw < 2 || cfg->mh > h || cfg->mw > w) {
        snprintf(err, errlen, "-mask_size %d: the mask needs 2 to %d cells a side (the input is %dx%d)",
                 cfg->mh < 2 || cfg->mh > h ? cfg->mh : cfg->mw, h < w ? h : w, w, h);
        return NULL;
    }
    const char *what = NULL;
    double v = 0;
    if (cfg->iterations < 1) { what = "-iterations"; v = cfg->iterations; }
    else if (cfg->points < 1) { what = "-points"; v = cfg->points; }
    else if (bad_real(cfg->lambda1, 0, 0)) { what = "-lambda1"; v = cfg->lambda1; }
    else if (bad_real(cfg->lambda2, 0, 0)) { what = "-lambda2"; v = cfg->lambda2; }
    else if (bad_real(cfg->noise, 0, 0)) { what = "-noise"; v = cfg->noise; }
    if (what) { snprintf(err, errlen, "%s %g: must be %s", what, v, what[1] == 'i' || what[1] == 'p' ? "at least 1" : "a finite number >= 0"); return NULL; }
    if (bad_real(cfg->alpha, 0, 1)) { snprintf(err, errlen, "-alpha %g: the first step must be a finite number > 0", cfg->alpha); return NULL; }
    if (bad_real(cfg->sigma, 0, 1)) { snprintf(err, errlen, "bilateral sigma %g: must be a finite number > 0", cfg->sigma); return NULL; }
    if (cls < 0 || cls >= eng_classes(e)) { snprintf(err, errlen, "class %d: the network has classes 0..%d", cls, eng_classes(e) - 1); return NULL; }

    igos *g = calloc(1, sizeof *g);
    if (!g) { snprintf(err, errlen, "out of memory"); return NULL; }
    g->e = e;
    g->cfg = *cfg;
    g->x = x;
    g->b = b;
    g->cls = cls;
    g->c = c; g->h = h; g->w = w;
    g->hw = h * w;
    g->n = eng_inputs(e);
    g->classes = eng_classes(e);
    g->nm = cfg->plus ? 2 : 1;
    g->cells = cfg->mh * cfg->mw;
    g->batch = eng_batch(e);
    g->terms = cfg->plus ? TERMS_PP : TERMS_IGOS;
    g->nterms = cfg->plus ? 4 : 1;
    size_t hw = g->hw, n = g->n, B = g->batch;
    g->xb = malloc(n * sizeof(float));
    g->u = malloc(3 * hw * sizeof(float));
    g->gu = malloc(g->nterms * hw * sizeof(float));
    g->imgs = malloc(B * n * sizeof(float));
    g->g = malloc(B * n * sizeof(float));
    g->p = malloc(B * g->classes * sizeof(float));
    g->cl = malloc(B * sizeof(int));
    g->pm = malloc(g->cells * sizeof(float));
    g->dpm = malloc(g->cells * sizeof(float));
    g->up = malloc(hw * sizeof(float));
    g->dup = malloc(hw * sizeof(float));
    g->tmp = malloc(hw * sizeof(float));
    g->d = malloc(g->nm * g->cells * sizeof(float));
    g->cand = malloc(IGOS_LS_CHUNK * g->nm * g->cells * sizeof(float));
    if (cfg->plus) {
        g->wv = malloc((h - 1) * w * sizeof(float));
        g->wh = malloc(h * (w - 1) * sizeof(float));
    }
    if (!g->xb || !g->u || !g->gu || !g->imgs || !g->g || !g->p || !g->cl || !g->pm || !g->dpm || !g->up || !g->dup ||
        !g->tmp || !g->d || !g->cand || (cfg->plus && (!g->wv || !g->wh))) {
        igos_free(g);
        snprintf(err, errlen, "out of memory for igos's buffers (batch %d of %dx%dx%d images)", (int)B, c, h, w);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) g->xb[i] = x[i] - b[i];
    for (size_t i = 0; i < B; i++) g->cl[i] = cls;
    if (cfg->plus) {
        // the bilateral weights: exp(-(difference of the image)^2 / sigma), each channel's, their mean
        for (int i = 0; i < h - 1; i++)
            for (int j = 0; j < w; j++) {
                double s = 0;
                for (int ch = 0; ch < c; ch++) {
                    double dx = (double)x[ch * hw + (i + 1) * w + j] - x[ch * hw + i * w + j];
                    s += exp(-dx * dx / cfg->sigma);
                }
                g->wv[i * w + j] = (float)(s / c);
            }
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w - 1; j++) {
                double s = 0;
                for (int ch = 0; ch < c; ch++) {
                    double dx = (double)x[ch * hw + i * w + j + 1] - x[ch * hw + i * w + j];
                    s += exp(-dx * dx / cfg->sigma);
                }
                g->wh[i * (w - 1) + j] = (float)(s / c);
            }
    }
    return g;
}

void igos_free(igos *g)
{
    if (!g) return;
    free(g->xb); free(g->wv); free(g->wh); free(g->u); free(g->gu); free(g->imgs); free(g->g); free(g->p);
    free(g->cl); free(g->pm); free(g->dpm); free(g->up); free(g->dup); free(g->tmp); free(g->d); free(g->cand);
    free(g);
}

int igos_nmasks(const igos *g) { return g->nm; }
long igos_evaluations(const igos *g) { return g->forwards + g->grads; }

// ---- the saliency methods ------------------------------------------------------------------------

static int run_method(int plus, eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen)
{
    int c, h, w;
    eng_input_shape(e, &c, &h, &w);
    int mh = o->mask_size ? o->mask_size : h / 8 < 2 ? 2 : h / 8;
    int mw = o->mask_size ? o->mask_size : w / 8 < 2 ? 2 : w / 8;
    igos_cfg cfg;
    igos_defaults(&cfg, plus, mh, mw);
    cfg.iterations = o->iterations;
    cfg.points = o->points;
    cfg.noise = o->noise;
    cfg.lambda1 = o->lambda1;
    cfg.lambda2 = o->lambda2;
    if (o->alpha != 0) cfg.alpha = o->alpha;
    cfg.seed = o->seed;
    int n = eng_inputs(e), rc = -1;
    float *b = malloc(n * sizeof(float)), *masks = malloc(2 * (size_t)mh * mw * sizeof(float));
    igos *g = NULL;
    if (!b || !masks || igos_baseline(x, c, h, w, b)) snprintf(err, errlen, "out of memory for the baseline");
    else if ((g = igos_new(e, x, b, cls, &cfg, err, errlen)) && !(rc = igos_run(g, masks, NULL, info, err, errlen)))
        igos_heat(g, masks, map);
    if (g) info->evaluations += igos_evaluations(g);
    igos_free(g);
    free(b);
    free(masks);
    return rc;
}

int mth_igos(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen)
{
    return run_method(0, e, x, cls, o, map, info, err, errlen);
}

int mth_igospp(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen)
{
    return run_method(1, e, x, cls, o, map, info, err, errlen);
}
