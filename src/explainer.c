// explainer.c: NN-Explainer's loss and its gradient at the mask logits (explainer.h). Each term's
// forward with its backward beside it; xpl_loss puts them together around the frozen classifier.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "explainer.h"

struct xpl {
    int B, C, H, W, K;
    float *m, *n;           // (B, HW) target, non-target masks
    int *am, *an;           // (B, HW) their argmax classes
    float *dm, *dn;         // (B, HW)
    float *xin;             // (B, C, HW) the masked image, then the complement
    float *g;               // (B, C, HW) the classifier's input gradient
    float *z, *dz;          // (B, K)
};

void xpl_defaults(xpl_opts *o)
{
    o->lambda_e = 1;
    o->lambda_tv = 1;
    o->lambda_a = 1;
    o->lambda_t = 0.1;
    o->lambda_nc = 0.3;
    o->area_lo = 0.05;
    o->area_hi = 0.30;
    o->multilabel = 1;
}

xpl *xpl_new(int B, int C, int H, int W, int K)
{
    xpl *w = calloc(1, sizeof(xpl));
    if (!w) return NULL;
    size_t hw = (size_t)B * H * W, chw = hw * C, bk = (size_t)B * K;
    w->B = B; w->C = C; w->H = H; w->W = W; w->K = K;
    w->m = malloc(hw * sizeof(float));
    w->n = malloc(hw * sizeof(float));
    w->am = malloc(hw * sizeof(int));
    w->an = malloc(hw * sizeof(int));
    w->dm = malloc(hw * sizeof(float));
    w->dn = malloc(hw * sizeof(float));
    w->xin = malloc(chw * sizeof(float));
    w->g = malloc(chw * sizeof(float));
    w->z = malloc(bk * sizeof(float));
    w->dz = malloc(bk * sizeof(float));
    if (!w->m || !w->n || !w->am || !w->an || !w->dm || !w->dn || !w->xin || !w->g || !w->z || !w->dz) {
        xpl_free(w);
        return NULL;
    }
    return w;
}

void xpl_free(xpl *w)
{
    if (!w) return;
    free(w->m); free(w->n); free(w->am); free(w->an); free(w->dm); free(w->dn);
    free(w->xin); free(w->g); free(w->z); free(w->dz);
    free(w);
}

const float *xpl_target_mask(const xpl *w) { return w->m; }
const float *xpl_nontarget_mask(const xpl *w) { return w->n; }

static float xpl_sigmoid(float v) { return 1.f / (1.f + expf(-v)); }

// ---------------------------------------------------------------------------------------------
// masks

void xpl_mask_forward(const float *S, const float *y, int B, int K, int HW, int present, float *m, int *am) // S (B, K, HW), y (B, K) -> m, am (B, HW)
{
    for (int b = 0; b < B; b++)
        for (int p = 0; p < HW; p++) {
            int best = -1;
            float v = 0;
            for (int k = 0; k < K; k++) {
                if ((y[b * K + k] > 0.5f) != (present != 0)) continue;
                float s = S[((size_t)b * K + k) * HW + p];
                if (best < 0 || s > v) { best = k; v = s; }
            }
            am[(size_t)b * HW + p] = best;
            m[(size_t)b * HW + p] = best < 0 ? 0.f : xpl_sigmoid(v);
        }
}

void xpl_mask_backward(const float *dm, const float *m, const int *am, int B, int K, int HW, float *dS) // dm, m, am (B, HW) -> dS (B, K, HW)
{
    for (int b = 0; b < B; b++)
        for (int p = 0; p < HW; p++) {
            size_t i = (size_t)b * HW + p;
            if (am[i] < 0) continue;
            dS[((size_t)b * K + am[i]) * HW + p] += dm[i] * m[i] * (1 - m[i]);
        }
}

// ---------------------------------------------------------------------------------------------
// the classifier's terms

double xpl_cls(const float *z, const float *y, int B, int K, int multilabel, float *dz) // z, y, dz (B, K)
{
    double sum = 0;
    for (int b = 0; b < B; b++) {
        const float *zb = z + b * K, *yb = y + b * K;
        if (multilabel) {
            for (int k = 0; k < K; k++) {
                double v = zb[k];
                sum += (v > 0 ? v : 0) - v * yb[k] + log1p(exp(-fabs(v)));
                if (dz) dz[b * K + k] = (float)((1 / (1 + exp(-v)) - yb[k]) / ((double)B * K));
            }
        } else {
            int lab = 0;
            double mx = zb[0], se = 0;
            for (int k = 1; k < K; k++) { if (yb[k] > yb[lab]) lab = k; if (zb[k] > mx) mx = zb[k]; }
            for (int k = 0; k < K; k++) se += exp(zb[k] - mx);
            sum += mx + log(se) - zb[lab];
            if (dz) for (int k = 0; k < K; k++) dz[b * K + k] = (float)((exp(zb[k] - mx) / se - (k == lab)) / B);
        }
    }
    return multilabel ? sum / ((double)B * K) : sum / B;
}

double xpl_negent(const float *z, int B, int K, float *dz) // z, dz (B, K)
{
    double sum = 0;
    for (int b = 0; b < B; b++) {
        const float *zb = z + b * K;
        double mx = zb[0], se = 0, f = 0;
        for (int k = 1; k < K; k++) if (zb[k] > mx) mx = zb[k];
        for (int k = 0; k < K; k++) se += exp(zb[k] - mx);
        double lse = mx + log(se);
        for (int k = 0; k < K; k++) { double lp = zb[k] - lse; f += exp(lp) * lp; }
        sum += f;
        // d/dz_i sum_j p_j log p_j = p_i (log p_i - f)
        if (dz) for (int k = 0; k < K; k++) { double lp = zb[k] - lse; dz[b * K + k] = (float)(exp(lp) * (lp - f) / B); }
    }
    return sum / B;
}

// ---------------------------------------------------------------------------------------------
// the masks' terms

double xpl_tv(const float *m, int B, int H, int W, float scale, float *dm) // m, dm (B, H, W)
{
    double sum = 0;
    double nx = W > 1 ? (double)H * (W - 1) : 0, ny = H > 1 ? (double)(H - 1) * W : 0;
    for (int b = 0; b < B; b++) {
        const float *mb = m + (size_t)b * H * W;
        float *db = dm ? dm + (size_t)b * H * W : NULL;
        double sx = 0, sy = 0;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                if (j + 1 < W) {
                    float d = mb[i * W + j + 1] - mb[i * W + j];
                    sx += fabsf(d);
                    if (db && d != 0) {
                        float s = (float)(scale * (d > 0 ? 1 : -1) / (nx * B));
                        db[i * W + j + 1] += s;
                        db[i * W + j] -= s;
                    }
                }
                if (i + 1 < H) {
                    float d = mb[(i + 1) * W + j] - mb[i * W + j];
                    sy += fabsf(d);
                    if (db && d != 0) {
                        float s = (float)(scale * (d > 0 ? 1 : -1) / (ny * B));
                        db[(i + 1) * W + j] += s;
                        db[i * W + j] -= s;
                    }
                }
            }
        sum += (nx > 0 ? sx / nx : 0) + (ny > 0 ? sy / ny : 0);
    }
    return sum / B;
}

double xpl_area(const float *S, const float *y, int B, int K, int HW, double lo, double hi, float scale, float *dS) // S, dS (B, K, HW), y (B, K)
{
    double sum = 0;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++) {
            if (y[b * K + k] <= 0.5f) continue;
            const float *s = S + ((size_t)b * K + k) * HW;
            double a = 0;
            for (int p = 0; p < HW; p++) a += xpl_sigmoid(s[p]);
            a /= HW;
            double da = 0;
            if (a < lo) { sum += lo - a; da = -1; }
            if (a > hi) { sum += a - hi; da = 1; }
            if (!dS || da == 0) continue;
            float *d = dS + ((size_t)b * K + k) * HW;
            for (int p = 0; p < HW; p++) {
                float sg = xpl_sigmoid(s[p]);
                d[p] += (float)(scale * da * sg * (1 - sg) / ((double)HW * B));
            }
        }
    return sum / B;
}

// ---------------------------------------------------------------------------------------------

double xpl_loss(xpl *w, const xpl_opts *o, const xpl_classifier *f, const float *x, const float *S,
                const float *y, float *dS, xpl_terms *t) // x (B, C, H, W), S, dS (B, K, H, W), y (B, K)
{
    int B = w->B, C = w->C, K = w->K, HW = w->H * w->W;
    size_t bhw = (size_t)B * HW;
    xpl_mask_forward(S, y, B, K, HW, 1, w->m, w->am);
    xpl_mask_forward(S, y, B, K, HW, 0, w->n, w->an);
    if (dS) {
        memset(dS, 0, sizeof(float) * bhw * K);
        memset(w->dm, 0, sizeof(float) * bhw);
        memset(w->dn, 0, sizeof(float) * bhw);
    }
    xpl_terms r;
    // the masked image through the classifier
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < HW; p++) {
                size_t i = ((size_t)b * C + c) * HW + p;
                w->xin[i] = w->m[(size_t)b * HW + p] * x[i];
            }
    f->forward(f->ctx, w->xin, w->z);
    r.cls = xpl_cls(w->z, y, B, K, o->multilabel, dS ? w->dz : NULL);
    if (dS) {
        f->backward(f->ctx, w->dz, w->g);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++)
                for (int p = 0; p < HW; p++) {
                    size_t i = ((size_t)b * C + c) * HW + p;
                    w->dm[(size_t)b * HW + p] += x[i] * w->g[i];
                }
    }
    // the complement: the classifier should be left without an answer
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < HW; p++) {
                size_t i = ((size_t)b * C + c) * HW + p;
                w->xin[i] = (1 - w->m[(size_t)b * HW + p]) * x[i];
            }
    f->forward(f->ctx, w->xin, w->z);
    r.ent = xpl_negent(w->z, B, K, dS ? w->dz : NULL);
    if (dS && o->lambda_e != 0) {
        for (int i = 0; i < B * K; i++) w->dz[i] *= (float)o->lambda_e;
        f->backward(f->ctx, w->dz, w->g);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++)
                for (int p = 0; p < HW; p++) {
                    size_t i = ((size_t)b * C + c) * HW + p;
                    w->dm[(size_t)b * HW + p] -= x[i] * w->g[i];
                }
    }
    r.tv = xpl_tv(w->m, B, w->H, w->W, (float)o->lambda_tv, dS ? w->dm : NULL)
         + xpl_tv(w->n, B, w->H, w->W, (float)o->lambda_tv, dS ? w->dn : NULL);
    r.area = xpl_area(S, y, B, K, HW, o->area_lo, o->area_hi, (float)o->lambda_a, dS);
    double sm = 0, sn = 0;
    for (size_t i = 0; i < bhw; i++) { sm += w->m[i]; sn += w->n[i]; }
    r.target = sm / bhw;
    r.nontarget = sn / bhw;
    if (dS) {
        for (size_t i = 0; i < bhw; i++) {
            w->dm[i] += (float)(o->lambda_t / bhw);
            w->dn[i] += (float)(o->lambda_nc / bhw);
        }
        xpl_mask_backward(w->dm, w->m, w->am, B, K, HW, dS);
        xpl_mask_backward(w->dn, w->n, w->an, B, K, HW, dS);
    }
    r.total = r.cls + o->lambda_e * r.ent + o->lambda_tv * r.tv + o->lambda_a * r.area
            + o->lambda_t * r.target + o->lambda_nc * r.nontarget;
    if (t) *t = r;
    return r.total;
}
