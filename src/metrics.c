// metrics.c: the simple image metrics and normalisations of metrics.h (N_mm, standardisation,
// MSE/PSNR, total variation, gradient difference, Sobel edges, Pearson correlation), each forward
// directly above its backward. SSIM is in ssim.c, PSNR-HVS(-M) in psnr_hvs.c.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"

// ---- scratch memory -----------------------------------------------------------------------------

static _Thread_local void *met_buf[MET_NSLOTS];
static _Thread_local size_t met_cap[MET_NSLOTS];

void *met_scratch(int slot, size_t bytes)
{
    if (bytes > met_cap[slot]) {
        free(met_buf[slot]);
        met_buf[slot] = malloc(bytes);
        met_cap[slot] = met_buf[slot] ? bytes : 0;
    }
    return met_buf[slot];
}

// ---- normalisations ---------------------------------------------------------------------------

void mm_forward(const float *t, int n, float *out, mm_info *info)
{
    // t (n), out (n). The extremes first (a branch-free sweep), then their first positions.
    float lo = t[0], hi = t[0];
    for (int i = 1; i < n; i++) {
        lo = t[i] < lo ? t[i] : lo;
        hi = t[i] > hi ? t[i] : hi;
    }
    int imin = 0, imax = 0;
    while (t[imin] != lo) imin++;
    while (t[imax] != hi) imax++;
    double range = (double)hi - lo;
    double ahi = fabs(hi) > 1.0 ? fabs(hi) : 1.0;
    info->imin = imin;
    info->imax = imax;
    info->lo = lo;
    if (!(range >= 1e-12 * ahi)) {
        info->range = 0;
        memset(out, 0, (size_t)n * sizeof(float));
        return;
    }
    info->range = (float)range;
    // in float: N_mm's rounding is then what any float pipeline has, and the loop vectorises
    float inv = (float)(1.0 / range);
    for (int i = 0; i < n; i++) out[i] = (t[i] - lo) * inv;
}

void mm_backward(const float *out, int n, const mm_info *info, const float *dout, float scale, float *dt)
{
    // out (n), dout (n), dt (n)
    if (info->range == 0) return;
    // out_i = (t_i - m)/r: d/dt_i = 1/r, d/dm = (out_i - 1)/r, d/dM = -out_i/r
    double inv = 1.0 / info->range;
    double smin = 0, smax = 0;
    float s = (float)(scale * inv);
    for (int i = 0; i < n; i++) {
        smin += (double)dout[i] * (out[i] - 1.0);
        smax -= (double)dout[i] * out[i];
        dt[i] += s * dout[i];
    }
    dt[info->imin] += (float)(scale * smin * inv);
    dt[info->imax] += (float)(scale * smax * inv);
}

void met_mean_sd(const float *t, int n, double *mu, double *sd)
{
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += t[i];
    m /= n;
    for (int i = 0; i < n; i++) v += (t[i] - m) * (t[i] - m);
    *mu = m;
    *sd = sqrt(v / n);
}

void std_forward(const float *t, int c, int hw, float *out, float *sigma)
{
    // t (C, HW), out (C, HW), sigma (C)
    for (int ch = 0; ch < c; ch++) {
        const float *tc = t + (size_t)ch * hw;
        float *oc = out + (size_t)ch * hw;
        double mu, sd;
        met_mean_sd(tc, hw, &mu, &sd);
        sigma[ch] = (float)sd;
        if (!(sd >= MET_SD_MIN)) {
            sigma[ch] = 0;
            memset(oc, 0, (size_t)hw * sizeof(float));
            continue;
        }
        double inv = 1.0 / sd;
        for (int i = 0; i < hw; i++) oc[i] = (float)((tc[i] - mu) * inv);
    }
}

void std_backward(const float *out, const float *sigma, int c, int hw, const float *dout, float *dt)
{
    // out (C, HW), sigma (C), dout (C, HW), dt (C, HW)
    // z = (t - mu)/sigma: dt_j = (dout_j - mean(dout) - z_j * mean(dout * z)) / sigma
    for (int ch = 0; ch < c; ch++) {
        if (!(sigma[ch] >= (float)MET_SD_MIN)) continue;
        const float *z = out + (size_t)ch * hw, *dz = dout + (size_t)ch * hw;
        float *d = dt + (size_t)ch * hw;
        double m = 0, mz = 0;
        for (int i = 0; i < hw; i++) { m += dz[i]; mz += (double)dz[i] * z[i]; }
        m /= hw;
        mz /= hw;
        double inv = 1.0 / sigma[ch];
        for (int i = 0; i < hw; i++) d[i] += (float)((dz[i] - m - z[i] * mz) * inv);
    }
}

// ---- pointwise ------------------------------------------------------------------------------------

double mse_metric(const float *a, const float *b, int n, float *da)
{
    // a (n), b (n), da (n)
    double s = 0;
    for (int i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        s += d * d;
    }
    if (da) {
        float k = 2.0f / n;
        for (int i = 0; i < n; i++) da[i] += k * (a[i] - b[i]);
    }
    return s / n;
}

double psnr_db(double mse)
{
    return -10.0 * log10(mse);
}

// ---- finite differences and edges ---------------------------------------------------------------

static inline float sgnf(float v) { return (float)((v > 0) - (v < 0)); }

double tv_metric(const float *t, int c, int h, int w, float *dt)
{
    // t (C, H, W), dt (C, H, W)
    double s = 0;
    for (int ch = 0; ch < c; ch++) {
        const float *p = t + (size_t)ch * h * w;
        float *d = dt ? dt + (size_t)ch * h * w : 0;
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                int k = i * w + j;
                if (i + 1 < h) {
                    float e = p[k + w] - p[k];
                    s += fabsf(e);
                    if (d) { float g = sgnf(e); d[k + w] += g; d[k] -= g; }
                }
                if (j + 1 < w) {
                    float e = p[k + 1] - p[k];
                    s += fabsf(e);
                    if (d) { float g = sgnf(e); d[k + 1] += g; d[k] -= g; }
                }
            }
        }
    }
    return s;
}

double graddiff_metric(const float *a, const float *b, int c, int h, int w, float *da)
{
    // a (C, H, W), b (C, H, W), da (C, H, W). Dy a - Dy b = Dy (a - b): work on the difference.
    double s = 0;
    for (int ch = 0; ch < c; ch++) {
        size_t o = (size_t)ch * h * w;
        const float *pa = a + o, *pb = b + o;
        float *d = da ? da + o : 0;
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                int k = i * w + j;
                float e0 = pa[k] - pb[k];
                if (i + 1 < h) {
                    float e = (pa[k + w] - pb[k + w]) - e0;
                    s += (double)e * e;
                    if (d) { d[k + w] += 2 * e; d[k] -= 2 * e; }
                }
                if (j + 1 < w) {
                    float e = (pa[k + 1] - pb[k + 1]) - e0;
                    s += (double)e * e;
                    if (d) { d[k + 1] += 2 * e; d[k] -= 2 * e; }
                }
            }
        }
    }
    return s;
}

// REFLECT padding by one pixel: -1 -> 1, n -> n-2
static inline int reflect1(int i, int n) { return i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i); }

// One Sobel pair at (i, j) of plane p (H, W): *gy = Ky * p, *gx = Kx * p.
static inline void sobel_at(const float *p, int h, int w, int i, int j, float *gy, float *gx)
{
    int im = reflect1(i - 1, h), ip = reflect1(i + 1, h);
    int jm = reflect1(j - 1, w), jp = reflect1(j + 1, w);
    const float *rm = p + (size_t)im * w, *r0 = p + (size_t)i * w, *rp = p + (size_t)ip * w;
    *gy = (rp[jm] + 2 * rp[j] + rp[jp]) - (rm[jm] + 2 * rm[j] + rm[jp]);
    *gx = (rm[jp] + 2 * r0[jp] + rp[jp]) - (rm[jm] + 2 * r0[jm] + rp[jm]);
}

int sobel_forward(const float *t, int c, int h, int w, float *ky, float *kx)
{
    // t (C, H, W), ky (C, H, W), kx (C, H, W)
    if (h < 2 || w < 2) return MET_ESIZE;
    for (int ch = 0; ch < c; ch++) {
        size_t o = (size_t)ch * h * w;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
                sobel_at(t + o, h, w, i, j, ky + o + i * w + j, kx + o + i * w + j);
    }
    return MET_OK;
}

// p (H+2, W+2): rows and columns 0 and H+1 / W+1 filled by REFLECT from the interior
static void reflect_pad(float *p, int h, int w)
{
    int wp = w + 2;
    memcpy(p, p + 2 * wp, (size_t)wp * sizeof(float));
    memcpy(p + (size_t)(h + 1) * wp, p + (size_t)(h - 1) * wp, (size_t)wp * sizeof(float));
    for (int r = 0; r < h + 2; r++) {
        p[r * wp] = p[r * wp + 2];
        p[r * wp + w + 1] = p[r * wp + w - 1];
    }
}

// the adjoint of reflect_pad: the border entries of dp (H+2, W+2) are added to their sources
static void reflect_pad_t(float *dp, int h, int w)
{
    int wp = w + 2;
    for (int r = 0; r < h + 2; r++) {
        dp[r * wp + 2] += dp[r * wp];
        dp[r * wp + w - 1] += dp[r * wp + w + 1];
    }
    for (int j = 0; j < wp; j++) {
        dp[2 * wp + j] += dp[j];
        dp[(size_t)(h - 1) * wp + j] += dp[(size_t)(h + 1) * wp + j];
    }
}

int sobel_metric(const float *a, const float *b, int c, int h, int w, double *value, float *da)
{
    // a (C, H, W), b (C, H, W), da (C, H, W). Ky*a - Ky*b = Ky*(a - b): the difference is padded
    // once per channel, then both responses are row sweeps; the backward sweeps the adjoint taps
    // into a padded gradient and folds the padding back.
    if (h < 2 || w < 2) return MET_ESIZE;
    int wp = w + 2;
    size_t np = (size_t)(h + 2) * wp;
    // pad (H+2, W+2), dpad (H+2, W+2), ty, tx (W): one row of responses
    float *buf = met_scratch(MET_SLOT_MET, (2 * np + 2 * (size_t)w) * sizeof(float));
    if (!buf) return MET_ENOMEM;
    float *pad = buf, *dpad = buf + np, *ty = dpad + np, *tx = ty + w;
    double s = 0;
    for (int ch = 0; ch < c; ch++) {
        size_t o = (size_t)ch * h * w;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) pad[(i + 1) * wp + j + 1] = a[o + i * w + j] - b[o + i * w + j];
        reflect_pad(pad, h, w);
        if (da) memset(dpad, 0, np * sizeof(float));
        for (int i = 0; i < h; i++) {
            const float *restrict rm = pad + (size_t)i * wp, *restrict r0 = rm + wp, *restrict rp = r0 + wp;
            float *restrict y = ty, *restrict x = tx;
            for (int j = 0; j < w; j++) {
                y[j] = (rp[j] + 2 * rp[j + 1] + rp[j + 2]) - (rm[j] + 2 * rm[j + 1] + rm[j + 2]);
                x[j] = (rm[j + 2] + 2 * r0[j + 2] + rp[j + 2]) - (rm[j] + 2 * r0[j] + rp[j]);
            }
            for (int j = 0; j < w; j++) s += (double)y[j] * y[j] + (double)x[j] * x[j];
            if (!da) continue;
            // d/d(response) of the squares is 2*response; each tap sends K * that to its source
            float *restrict dm = dpad + (size_t)i * wp, *restrict d0 = dm + wp, *restrict dq = d0 + wp;
            for (int j = 0; j < w; j++) { float gy = 2 * y[j], gx = 2 * x[j]; dm[j] += -gy - gx; }
            for (int j = 0; j < w; j++) dm[j + 1] += -4 * y[j];
            for (int j = 0; j < w; j++) dm[j + 2] += 2 * (x[j] - y[j]);
            for (int j = 0; j < w; j++) d0[j] += -4 * x[j];
            for (int j = 0; j < w; j++) d0[j + 2] += 4 * x[j];
            for (int j = 0; j < w; j++) dq[j] += 2 * (y[j] - x[j]);
            for (int j = 0; j < w; j++) dq[j + 1] += 4 * y[j];
            for (int j = 0; j < w; j++) dq[j + 2] += 2 * (y[j] + x[j]);
        }
        if (!da) continue;
        reflect_pad_t(dpad, h, w);
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) da[o + i * w + j] += dpad[(i + 1) * wp + j + 1];
    }
    *value = s;
    return MET_OK;
}

// ---- Pearson correlation ----------------------------------------------------------------------



void pearson_forward(const float *a, const float *b, int c, int hw, double *rho)
{
    // a (C, HW), b (C, HW), rho (C)
    for (int ch = 0; ch < c; ch++) {
        const float *pa = a + (size_t)ch * hw, *pb = b + (size_t)ch * hw;
        double ma, sa, mb, sb, cov = 0;
        met_mean_sd(pa, hw, &ma, &sa);
        met_mean_sd(pb, hw, &mb, &sb);
        rho[ch] = 0;
        if (!(sa >= MET_SD_MIN) || !(sb >= MET_SD_MIN)) continue;
        for (int i = 0; i < hw; i++) cov += (pa[i] - ma) * (pb[i] - mb);
        rho[ch] = cov / hw / (sa * sb);
    }
}

void pearson_backward(const float *a, const float *b, int c, int hw, const double *drho, float *da)
{
    // a (C, HW), b (C, HW), drho (C), da (C, HW)
    // rho = mean(za zb): d rho/d a_j = (zb_j - rho za_j) / (HW sigma_a)
    for (int ch = 0; ch < c; ch++) {
        if (drho[ch] == 0) continue;
        const float *pa = a + (size_t)ch * hw, *pb = b + (size_t)ch * hw;
        float *d = da + (size_t)ch * hw;
        double ma, sa, mb, sb, cov = 0;
        met_mean_sd(pa, hw, &ma, &sa);
        met_mean_sd(pb, hw, &mb, &sb);
        if (!(sa >= MET_SD_MIN) || !(sb >= MET_SD_MIN)) continue;
        for (int i = 0; i < hw; i++) cov += (pa[i] - ma) * (pb[i] - mb);
        double rho = cov / hw / (sa * sb);
        double k = drho[ch] / (hw * sa);
        for (int i = 0; i < hw; i++) {
            double za = (pa[i] - ma) / sa, zb = (pb[i] - mb) / sb;
            d[i] += (float)(k * (zb - rho * za));
        }
    }
}
