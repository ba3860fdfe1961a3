// psnr_hvs.c: PSNR-HVS and PSNR-HVS-M error S of a (distorted) against b (reference) and its
// gradient with respect to a, as decided in ../shared/spec/psnr-hvs.md: 8x8 orthonormal DCT-II
// blocks at step 7, Daala/libvpx CSF tables, masking M = (kappa T)^2 taken from b alone,
// soft-threshold AC errors, S = mean over blocks of sum (T Delta)^2 / 64.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"

#define HVS_STEP 7

static const double csf_y[64] = {
    1.6193873005, 2.2901594831, 2.08509755623, 1.48366094411, 1.00227514334, 0.678296995242, 0.466224900598, 0.3265091542,
    2.2901594831, 1.94321815382, 2.04793073064, 1.68731108984, 1.2305666963, 0.868920337363, 0.61280991668, 0.436405793551,
    2.08509755623, 2.04793073064, 1.34329019223, 1.09205635862, 0.875748795257, 0.670882927016, 0.501731932449, 0.372504254596,
    1.48366094411, 1.68731108984, 1.09205635862, 0.772819797575, 0.605636379554, 0.48309405692, 0.380429446972, 0.295774038565,
    1.00227514334, 1.2305666963, 0.875748795257, 0.605636379554, 0.448996256676, 0.352889268808, 0.283006984131, 0.226951348204,
    0.678296995242, 0.868920337363, 0.670882927016, 0.48309405692, 0.352889268808, 0.27032073436, 0.215017739696, 0.17408067321,
    0.466224900598, 0.61280991668, 0.501731932449, 0.380429446972, 0.283006984131, 0.215017739696, 0.168869545842, 0.136153931001,
    0.3265091542, 0.436405793551, 0.372504254596, 0.295774038565, 0.226951348204, 0.17408067321, 0.136153931001, 0.109083846276};

static const double csf_cb[64] = {
    1.91113096927, 2.46074210438, 1.18284184739, 1.14982565193, 1.05017074788, 0.898018824055, 0.74725392039, 0.615105596242,
    2.46074210438, 1.58529308355, 1.21363250036, 1.38190029285, 1.33100189972, 1.17428548929, 0.996404342439, 0.830890433625,
    1.18284184739, 1.21363250036, 0.978712413627, 1.02624506078, 1.03145147362, 0.960060382087, 0.849823426169, 0.731221236837,
    1.14982565193, 1.38190029285, 1.02624506078, 0.861317501629, 0.801821139099, 0.751437590932, 0.685398513368, 0.608694761374,
    1.05017074788, 1.33100189972, 1.03145147362, 0.801821139099, 0.676555426187, 0.605503172737, 0.55002013668, 0.495804539034,
    0.898018824055, 1.17428548929, 0.960060382087, 0.751437590932, 0.605503172737, 0.514674450957, 0.454353482512, 0.407050308965,
    0.74725392039, 0.996404342439, 0.849823426169, 0.685398513368, 0.55002013668, 0.454353482512, 0.389234902883, 0.342353999733,
    0.615105596242, 0.830890433625, 0.731221236837, 0.608694761374, 0.495804539034, 0.407050308965, 0.342353999733, 0.295530605237};

static const double csf_cr[64] = {
    2.03871978502, 2.62502345193, 1.26180942886, 1.11019789803, 1.01397751469, 0.867069376285, 0.721500455585, 0.593906509971,
    2.62502345193, 1.69112867013, 1.17180569821, 1.3342742857, 1.28513006198, 1.13381474809, 0.962064122248, 0.802254508198,
    1.26180942886, 1.17180569821, 0.944981930573, 0.990876405848, 0.995903384143, 0.926972725286, 0.820534991409, 0.706020324706,
    1.11019789803, 1.3342742857, 0.990876405848, 0.831632933426, 0.77418706195, 0.725539939514, 0.661776842059, 0.587716619023,
    1.01397751469, 1.28513006198, 0.995903384143, 0.77418706195, 0.653238524286, 0.584635025748, 0.531064164893, 0.478717061273,
    0.867069376285, 1.13381474809, 0.926972725286, 0.725539939514, 0.584635025748, 0.496936637883, 0.438694579826, 0.393021669543,
    0.721500455585, 0.962064122248, 0.820534991409, 0.661776842059, 0.531064164893, 0.438694579826, 0.375820256136, 0.330555063063,
    0.593906509971, 0.802254508198, 0.706020324706, 0.587716619023, 0.478717061273, 0.393021669543, 0.330555063063, 0.285345396658};

static const double hvs_kappa = 0.3885746225901003;

// The 8-point orthonormal DCT-II, C[k][i] = a_k cos(pi (2i+1) k / 16), split by symmetry: even k
// see s_i = x_i + x_(7-i), odd k see d_i = x_i - x_(7-i), i < 4, so each 1-D transform is two 4x4
// products. ev (4, 4) holds rows k = 0, 2, 4, 6 of C (columns i < 4), od rows k = 1, 3, 5, 7.
typedef struct { double ev[16], od[16]; } hvs_dct;

static void dct_init(hvs_dct *d)
{
    for (int m = 0; m < 4; m++)
        for (int i = 0; i < 4; i++) {
            int ke = 2 * m, ko = 2 * m + 1;
            d->ev[m * 4 + i] = (ke ? 0.5 : sqrt(1.0 / 8)) * cos(M_PI * (2 * i + 1) * ke / 16);
            d->od[m * 4 + i] = 0.5 * cos(M_PI * (2 * i + 1) * ko / 16);
        }
}

// out[k*so] = sum_i C[k][i] in[i*si], k, i < 8
static inline void dct1(const hvs_dct *d, const double *in, int si, double *out, int so)
{
    double s[4], t[4];
    for (int i = 0; i < 4; i++) {
        s[i] = in[i * si] + in[(7 - i) * si];
        t[i] = in[i * si] - in[(7 - i) * si];
    }
    for (int m = 0; m < 4; m++) {
        const double *e = d->ev + m * 4, *o = d->od + m * 4;
        out[2 * m * so] = e[0] * s[0] + e[1] * s[1] + e[2] * s[2] + e[3] * s[3];
        out[(2 * m + 1) * so] = o[0] * t[0] + o[1] * t[1] + o[2] * t[2] + o[3] * t[3];
    }
}

// out[i*so] = sum_k C[k][i] in[k*si], the transpose: x_i = e_i + o_i, x_(7-i) = e_i - o_i
static inline void idct1(const hvs_dct *d, const double *in, int si, double *out, int so)
{
    for (int i = 0; i < 4; i++) {
        double e = 0, o = 0;
        for (int m = 0; m < 4; m++) {
            e += d->ev[m * 4 + i] * in[2 * m * si];
            o += d->od[m * 4 + i] * in[(2 * m + 1) * si];
        }
        out[i * so] = e + o;
        out[(7 - i) * so] = e - o;
    }
}

// f (8, 8) = C x C^T: columns, then rows
static void dct8(const hvs_dct *d, const double *x, double *f)
{
    double t[64];
    for (int j = 0; j < 8; j++) dct1(d, x + j, 8, t + j, 8);
    for (int k = 0; k < 8; k++) dct1(d, t + k * 8, 1, f + k * 8, 1);
}

// x (8, 8) = C^T f C, the adjoint (and inverse) of dct8
static void idct8(const hvs_dct *d, const double *f, double *x)
{
    double t[64];
    for (int k = 0; k < 8; k++) idct1(d, f + k * 8, 1, t + k * 8, 1);
    for (int j = 0; j < 8; j++) idct1(d, t + j, 8, x + j, 8);
}

// sum of squared deviations from the mean over rows y0.., cols x0.. of an 8x8 block, n x n
static double block_ss(const double *x, int y0, int x0, int n)
{
    double m = 0, s = 0;
    for (int y = 0; y < n; y++)
        for (int i = 0; i < n; i++) m += x[(y0 + y) * 8 + x0 + i];
    m /= n * n;
    for (int y = 0; y < n; y++)
        for (int i = 0; i < n; i++) {
            double d = x[(y0 + y) * 8 + x0 + i] - m;
            s += d * d;
        }
    return s;
}

// The masking level E_m of a reference block x (8, 8) with coefficients f and masking table m.
static double hvs_mask(const double *x, const double *f, const double *m)
{
    double ew = 0;
    for (int i = 1; i < 64; i++) ew += m[i] * f[i] * f[i];
    double v = block_ss(x, 0, 0, 8) * 64.0 / 63.0;
    if (!(v > 0)) return 0; // delta = 0 on flat blocks
    double vq = (block_ss(x, 0, 0, 4) + block_ss(x, 0, 4, 4) + block_ss(x, 4, 0, 4) + block_ss(x, 4, 4, 4)) * 16.0 / 15.0;
    return sqrt(ew * (vq / v)) / 32;
}

// S of one plane of a against b (H, W) with table csf, times weight; da (H, W) += weight * dS/da.
static double hvs_plane(const float *a, const float *b, int h, int w, const double *csf, int masking,
                        double weight, const hvs_dct *cm, float *da)
{
    int ny = (h - 8) / HVS_STEP + 1, nx = (w - 8) / HVS_STEP + 1;
    double norm = weight / (64.0 * ny * nx);
    double mask[64], imask[64], t2[64];
    for (int i = 0; i < 64; i++) {
        mask[i] = (hvs_kappa * csf[i]) * (hvs_kappa * csf[i]);
        imask[i] = 1.0 / mask[i];
        t2[i] = csf[i] * csf[i];
    }
    double total = 0;
    for (int by = 0; by < ny; by++) {
        for (int bx = 0; bx < nx; bx++) {
            int y0 = by * HVS_STEP, x0 = bx * HVS_STEP;
            double xb[64], xd[64], fd[64], fb[64], g[64], gx[64];
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++) {
                    size_t k = (size_t)(y0 + y) * w + x0 + x;
                    xb[y * 8 + x] = b[k];
                    xd[y * 8 + x] = (double)b[k] - a[k];
                }
            dct8(cm, xd, fd); // F^b - F^a
            double em = 0;
            if (masking) {
                dct8(cm, xb, fb);
                em = hvs_mask(xb, fb, mask);
            }
            double s = 0;
            for (int i = 0; i < 64; i++) {
                double e = fabs(fd[i]), thr = i ? em * imask[i] : 0;
                double del = e > thr ? e - thr : 0;
                s += t2[i] * del * del;
                // d (T del)^2 / d F^a = -2 T^2 del sign(F^b - F^a)
                g[i] = fd[i] > 0 ? -2 * t2[i] * del : (fd[i] < 0 ? 2 * t2[i] * del : 0);
            }
            total += s;
            if (!da) continue;
            for (int i = 0; i < 64; i++) g[i] *= norm;
            idct8(cm, g, gx);
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++)
                    da[(size_t)(y0 + y) * w + x0 + x] += (float)gx[y * 8 + x];
        }
    }
    return total * norm;
}

// full-range BT.601 (JFIF) without the offsets, rows Y, Cb, Cr
static const float ycc[3][3] = {{0.299f, 0.587f, 0.114f},
                                {-0.168736f, -0.331264f, 0.5f},
                                {0.5f, -0.418688f, -0.081312f}};

int hvs_error(const float *a, const float *b, int c, int h, int w, int masking, double *s, float *da)
{
    // a (C, H, W), b (C, H, W), da (C, H, W)
    if (h < 8 || w < 8) return MET_ESIZE;
    hvs_dct cm;
    dct_init(&cm);
    size_t hw = (size_t)h * w;
    if (c != 3) {
        double total = 0, wt = c == 1 ? 1.0 : 1.0 / c;
        for (int ch = 0; ch < c; ch++)
            total += hvs_plane(a + ch * hw, b + ch * hw, h, w, csf_y, masking, wt, &cm, da ? da + ch * hw : 0);
        *s = total;
        return MET_OK;
    }
    // planes: a's Y'CbCr (3, H, W), b's (3, H, W), the gradient with respect to a's (3, H, W)
    float *buf = met_scratch(MET_SLOT_MET, 9 * hw * sizeof(float));
    if (!buf) return MET_ENOMEM;
    float *ya = buf, *yb = buf + 3 * hw, *dy = buf + 6 * hw;
    if (da) memset(dy, 0, 3 * hw * sizeof(float));
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; i < hw; i++) {
            ya[p * hw + i] = ycc[p][0] * a[i] + ycc[p][1] * a[hw + i] + ycc[p][2] * a[2 * hw + i];
            yb[p * hw + i] = ycc[p][0] * b[i] + ycc[p][1] * b[hw + i] + ycc[p][2] * b[2 * hw + i];
        }
    static const double wt[3] = {0.8, 0.1, 0.1};
    const double *tab[3] = {csf_y, csf_cb, csf_cr};
    double total = 0;
    for (int p = 0; p < 3; p++)
        total += hvs_plane(ya + p * hw, yb + p * hw, h, w, tab[p], masking, wt[p], &cm, da ? dy + p * hw : 0);
    if (da) {
        // the transpose of the colour matrix
        for (int ch = 0; ch < 3; ch++)
            for (size_t i = 0; i < hw; i++)
                da[ch * hw + i] += ycc[0][ch] * dy[i] + ycc[1][ch] * dy[hw + i] + ycc[2][ch] * dy[2 * hw + i];
    }
    *s = total;
    return MET_OK;
}

double hvs_db(double s)
{
    if (s <= 1e-10) return 100.0;
    return psnr_db(s);
}
