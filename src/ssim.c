// ssim.c: SSIM of a against b in two parts: the moments (means of a, b, a², b², ab under a window)
// and then the formula; the backward goes through the moments. The Gaussian window is separable,
// so each moment map costs two 1-D passes of 11 taps (cost linear in the window width); the block
// version (8x8, non-overlapping) sums directly. See metrics.h for the definitions.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"

#define SSIM_WIN 11
#define SSIM_SIGMA 1.5

// The SSIM formula at one window and its partial derivatives with respect to the moments of a:
// ma = E[a], mb = E[b], maa = E[a²], mbb = E[b²], mab = E[ab] (biased). Writes dS/dma, dS/dmaa,
// dS/dmab. B1, B2 >= C1, C2 > 0, so nothing here divides by zero.
static inline double ssim_formula(double ma, double mb, double maa, double mbb, double mab,
                                  double c1, double c2, double *d_ma, double *d_maa, double *d_mab)
{
    double va = maa - ma * ma, vb = mbb - mb * mb, cov = mab - ma * mb;
    double a1 = 2 * ma * mb + c1, b1 = ma * ma + mb * mb + c1;
    double a2 = 2 * cov + c2, b2 = va + vb + c2;
    double den = b1 * b2, s = a1 * a2 / den;
    if (d_ma) {
        // dA1/dma = 2mb, dB1/dma = 2ma, dA2/dma = -2mb, dB2/dma = -2ma
        *d_ma = 2 * mb * (a2 - a1) / den - 2 * ma * s * (b2 - b1) / den;
        *d_maa = -s / b2;
        *d_mab = 2 * a1 / den;
    }
    return s;
}

// ---- Gaussian window ---------------------------------------------------------------------------

static void gauss_taps(double *k)
{
    double s = 0, t[SSIM_WIN];
    for (int i = 0; i < SSIM_WIN; i++) {
        double x = i - SSIM_WIN / 2;
        t[i] = exp(-x * x / (2 * SSIM_SIGMA * SSIM_SIGMA));
        s += t[i];
    }
    for (int i = 0; i < SSIM_WIN; i++) k[i] = t[i] / s;
}

// dst (H, W-10) = src (H, W) filtered along rows, VALID
static void hpass(const double *restrict src, int h, int w, const double *restrict k, double *restrict dst)
{
    int wv = w - SSIM_WIN + 1;
    for (int i = 0; i < h; i++) {
        const double *restrict r = src + (size_t)i * w;
        double *restrict o = dst + (size_t)i * wv;
        memset(o, 0, (size_t)wv * sizeof(double));
        for (int t = 0; t < SSIM_WIN; t++) {
            double kt = k[t];
            for (int x = 0; x < wv; x++) o[x] += kt * r[x + t];
        }
    }
}

// dst (H, W) += the adjoint of hpass applied to src (H, W-10)
static void hpass_t(const double *restrict src, int h, int w, const double *restrict k, double *restrict dst)
{
    int wv = w - SSIM_WIN + 1;
    for (int i = 0; i < h; i++) {
        const double *restrict r = src + (size_t)i * wv;
        double *restrict o = dst + (size_t)i * w;
        for (int t = 0; t < SSIM_WIN; t++) {
            double kt = k[t];
            for (int x = 0; x < wv; x++) o[x + t] += kt * r[x];
        }
    }
}

// dst (H-10, WV) = src (H, WV) filtered along columns, VALID
static void vpass(const double *restrict src, int h, int wv, const double *restrict k, double *restrict dst)
{
    int hv = h - SSIM_WIN + 1;
    for (int y = 0; y < hv; y++) {
        double *restrict o = dst + (size_t)y * wv;
        memset(o, 0, (size_t)wv * sizeof(double));
        for (int t = 0; t < SSIM_WIN; t++) {
            const double *restrict r = src + (size_t)(y + t) * wv;
            double kt = k[t];
            for (int x = 0; x < wv; x++) o[x] += kt * r[x];
        }
    }
}

// dst (H, WV) += the adjoint of vpass applied to src (H-10, WV)
static void vpass_t(const double *restrict src, int h, int wv, const double *restrict k, double *restrict dst)
{
    int hv = h - SSIM_WIN + 1;
    for (int y = 0; y < hv; y++) {
        const double *restrict r = src + (size_t)y * wv;
        for (int t = 0; t < SSIM_WIN; t++) {
            double *restrict o = dst + (size_t)(y + t) * wv;
            double kt = k[t];
            for (int x = 0; x < wv; x++) o[x] += kt * r[x];
        }
    }
}

int ssim_gauss(const float *a, const float *b, int c, int h, int w, double *value, float *da)
{
    // a (C, H, W), b (C, H, W), da (C, H, W). The maps are double: SSIM differences of one pixel
    // are far below float resolution of E[a²] - E[a]² (and finite differences must see them).
    if (h < SSIM_WIN || w < SSIM_WIN) return MET_ESIZE;
    int hv = h - SSIM_WIN + 1, wv = w - SSIM_WIN + 1;
    size_t hw = (size_t)h * w, hwv = (size_t)h * wv, vv = (size_t)hv * wv;
    // sig: a, b, a², b², ab (5, H, W); hor: row-filtered (5, H, WV); mom: moment maps (5, HV, WV)
    double *buf = malloc((5 * hw + 5 * hwv + 5 * vv) * sizeof(double));
    if (!buf) return MET_ENOMEM;
    double *sig = buf, *hor = sig + 5 * hw, *mom = hor + 5 * hwv;
    double k[SSIM_WIN];
    gauss_taps(k);
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
    double q = (double)c * hv * wv, total = 0;

    for (int ch = 0; ch < c; ch++) {
        const float *pa = a + ch * hw, *pb = b + ch * hw;
        for (size_t i = 0; i < hw; i++) {
            double va = pa[i], vb = pb[i];
            sig[i] = va;
            sig[hw + i] = vb;
            sig[2 * hw + i] = va * va;
            sig[3 * hw + i] = vb * vb;
            sig[4 * hw + i] = va * vb;
        }
        for (int m = 0; m < 5; m++) {
            hpass(sig + m * hw, h, w, k, hor + m * hwv);
            vpass(hor + m * hwv, h, wv, k, mom + m * vv);
        }
        double *m0 = mom, *m1 = mom + vv, *m2 = mom + 2 * vv, *m3 = mom + 3 * vv, *m4 = mom + 4 * vv;
        double sum = 0;
        for (size_t p = 0; p < vv; p++) {
            double g0 = 0, g2 = 0, g4 = 0;
            sum += ssim_formula(m0[p], m1[p], m2[p], m3[p], m4[p], c1, c2, da ? &g0 : 0, &g2, &g4);
            if (da) {
                // the moment maps are not needed any more: keep dS/dmoment / Q in their place
                m0[p] = g0 / q;
                m2[p] = g2 / q;
                m4[p] = g4 / q;
            }
        }
        total += sum;
        if (!da) continue;
        // back through the window: dS/d(E[a], E[a²], E[ab]) -> (H, W) maps, then the products
        double *back[3] = {m0, m2, m4};
        memset(hor, 0, 3 * hwv * sizeof(double));
        memset(sig, 0, 3 * hw * sizeof(double));
        for (int m = 0; m < 3; m++) {
            vpass_t(back[m], h, wv, k, hor + m * hwv);
            hpass_t(hor + m * hwv, h, w, k, sig + m * hw);
        }
        float *d = da + ch * hw;
        for (size_t i = 0; i < hw; i++)
            d[i] += (float)(sig[i] + 2.0 * pa[i] * sig[hw + i] + (double)pb[i] * sig[2 * hw + i]);
    }
    free(buf);
    *value = total / q;
    return MET_OK;
}

// ---- 8x8 blocks ----------------------------------------------------------------------------------

int ssim_box(const float *a, const float *b, int c, int h, int w, double *value, float *da)
{
    // a (C, H, W), b (C, H, W), da (C, H, W)
    if (h < 8 || w < 8) return MET_ESIZE;
    int by = h / 8, bx = w / 8;
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03 * 63.0 / 64.0;
    double q = (double)c * by * bx, total = 0;
    for (int ch = 0; ch < c; ch++) {
        size_t o = (size_t)ch * h * w;
        const float *pa = a + o, *pb = b + o;
        for (int yb = 0; yb < by; yb++) {
            for (int xb = 0; xb < bx; xb++) {
                double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
                for (int y = 0; y < 8; y++) {
                    size_t r = (size_t)(yb * 8 + y) * w + xb * 8;
                    for (int x = 0; x < 8; x++) {
                        double va = pa[r + x], vb = pb[r + x];
                        sa += va; sb += vb; saa += va * va; sbb += vb * vb; sab += va * vb;
                    }
                }
                double g0 = 0, g2 = 0, g4 = 0;
                total += ssim_formula(sa / 64, sb / 64, saa / 64, sbb / 64, sab / 64, c1, c2,
                                      da ? &g0 : 0, &g2, &g4);
                if (!da) continue;
                // d moment / d a_p = (1, 2 a_p, b_p) / 64
                double k = 1.0 / (64 * q);
                for (int y = 0; y < 8; y++) {
                    size_t r = (size_t)(yb * 8 + y) * w + xb * 8;
                    for (int x = 0; x < 8; x++)
                        da[o + r + x] += (float)(k * (g0 + 2 * pa[r + x] * g2 + pb[r + x] * g4));
                }
            }
        }
    }
    *value = total / q;
    return MET_OK;
}
