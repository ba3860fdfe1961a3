// ssim.c: SSIM of a against b in two parts: the moments (means of a, b, a², b², ab under a window)
// and then the formula; the backward goes through the moments. The Gaussian window is separable,
// so each moment map costs two 1-D passes of 11 taps (cost linear in the window width, not its
// area); the block version (8x8, non-overlapping) sums directly. See metrics.h for the definitions.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"

#define SSIM_WIN MET_SSIM_WIN
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

// The window is symmetric (k[t] = k[10-t]), so the adjoint of a VALID pass is a VALID pass over the
// input padded with 10 zeros on each side: the backward reuses the forward's two filters.

// o (N) = VALID 11-tap filter of r (N+10): one output per x, taps paired by symmetry
static void filt_row(const double *restrict r, int n, const double *restrict k, double *restrict o)
{
    double k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5];
    for (int x = 0; x < n; x++)
        o[x] = k0 * (r[x] + r[x + 10]) + k1 * (r[x + 1] + r[x + 9]) + k2 * (r[x + 2] + r[x + 8]) +
               k3 * (r[x + 3] + r[x + 7]) + k4 * (r[x + 4] + r[x + 6]) + k5 * r[x + 5];
}

// dst (H-10, W) = VALID 11-tap filter down the columns of src (H, W)
static void filt_cols(const double *restrict src, int h, int w, const double *restrict k, double *restrict dst)
{
    double k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5];
    for (int y = 0; y + SSIM_WIN <= h; y++) {
        const double *r = src + (size_t)y * w;
        const double *r0 = r, *r1 = r + w, *r2 = r + 2 * w, *r3 = r + 3 * w, *r4 = r + 4 * w, *r5 = r + 5 * w;
        const double *r6 = r + 6 * w, *r7 = r + 7 * w, *r8 = r + 8 * w, *r9 = r + 9 * w, *r10 = r + 10 * w;
        double *restrict o = dst + (size_t)y * w;
        for (int x = 0; x < w; x++)
            o[x] = k0 * (r0[x] + r10[x]) + k1 * (r1[x] + r9[x]) + k2 * (r2[x] + r8[x]) +
                   k3 * (r3[x] + r7[x]) + k4 * (r4[x] + r6[x]) + k5 * r5[x];
    }
}

int ssim_gauss(const float *a, const float *b, int c, int h, int w, double *value, float *da)
{
    // a (C, H, W), b (C, H, W), da (C, H, W). The maps are double: the change one pixel makes to a
    // window's moments through the window's tails is below float resolution of E[a²] - E[a]² (and
    // finite differences must see it).
    if (h < SSIM_WIN || w < SSIM_WIN) return MET_ESIZE;
    const int P = SSIM_WIN - 1;
    int hv = h - P, wv = w - P;
    size_t hwv = (size_t)h * wv, vv = (size_t)hv * wv, pv = (size_t)(hv + 2 * P) * wv;
    // row: one row of each signal a, b, a², b², ab (5, W), or a zero-padded row (W + 10);
    // hor: row-filtered signals (5, H, WV); mom: moment maps, then their gradients, with P zero
    // rows above and below (5, HV + 2P, WV); back: column-filtered gradient (H, WV); drow: one row (W)
    size_t nrow = 5 * (size_t)w;
    double *buf = met_scratch(MET_SLOT_MET, (nrow + 5 * hwv + 5 * pv + hwv + (size_t)w) * sizeof(double));
    if (!buf) return MET_ENOMEM;
    double *row = buf, *hor = row + nrow, *mom = hor + 5 * hwv, *back = mom + 5 * pv, *drow = back + hwv;
    for (int m = 0; m < 5; m++) { // the zero rows around each moment map
        memset(mom + m * pv, 0, (size_t)P * wv * sizeof(double));
        memset(mom + m * pv + (size_t)(P + hv) * wv, 0, (size_t)P * wv * sizeof(double));
    }
    double k[SSIM_WIN];
    gauss_taps(k);
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
    double q = (double)c * hv * wv, total = 0;

    for (int ch = 0; ch < c; ch++) {
        const float *pa = a + ch * (size_t)h * w, *pb = b + ch * (size_t)h * w;
        for (int i = 0; i < h; i++) {
            const float *ra = pa + (size_t)i * w, *rb = pb + (size_t)i * w;
            for (int j = 0; j < w; j++) {
                double va = ra[j], vb = rb[j];
                row[j] = va; row[w + j] = vb; row[2 * w + j] = va * va; row[3 * w + j] = vb * vb; row[4 * w + j] = va * vb;
            }
            for (int m = 0; m < 5; m++) filt_row(row + m * w, wv, k, hor + m * hwv + (size_t)i * wv);
        }
        // the moment maps sit in the interior rows of their padded buffers
        for (int m = 0; m < 5; m++) filt_cols(hor + m * hwv, h, wv, k, mom + m * pv + (size_t)P * wv);
        double *m0 = mom + (size_t)P * wv, *m1 = m0 + pv, *m2 = m1 + pv, *m3 = m2 + pv, *m4 = m3 + pv;
        double sum = 0;
        for (size_t p = 0; p < vv; p++) {
            double g0 = 0, g2 = 0, g4 = 0;
            sum += ssim_formula(m0[p], m1[p], m2[p], m3[p], m4[p], c1, c2, da ? &g0 : 0, &g2, &g4);
            if (da) {
                // the moments are not needed any more: keep dS/dmoment / Q in their place
                m0[p] = g0 / q;
                m2[p] = g2 / q;
                m4[p] = g4 / q;
            }
        }
        total += sum;
        if (!da) continue;
        // back through the window: dS/d(E[a], E[a²], E[ab]) -> (H, W) maps, filtered as padded VALID
        // passes; then da += g0 + 2 a g2 + b g4, one row at a time
        double *grad[3] = {m0 - (size_t)P * wv, m2 - (size_t)P * wv, m4 - (size_t)P * wv};
        float *d = da + ch * (size_t)h * w;
        for (int m = 0; m < 3; m++) {
            filt_cols(grad[m], hv + 2 * P, wv, k, back);
            for (int i = 0; i < h; i++) {
                for (int t = 0; t < P; t++) row[t] = row[P + wv + t] = 0;
                memcpy(row + P, back + (size_t)i * wv, (size_t)wv * sizeof(double));
                filt_row(row, w, k, drow);
                const float *ra = pa + (size_t)i * w, *rb = pb + (size_t)i * w;
                float *di = d + (size_t)i * w;
                if (m == 0) for (int j = 0; j < w; j++) di[j] += (float)drow[j];
                else if (m == 1) for (int j = 0; j < w; j++) di[j] += (float)(2.0 * ra[j] * drow[j]);
                else for (int j = 0; j < w; j++) di[j] += (float)((double)rb[j] * drow[j]);
            }
        }
    }
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
