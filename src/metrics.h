// metrics.h: image metrics with analytic gradients on plain float arrays (no darknet types).
//
// Images are planar (C, H, W) floats, one image per call. A metric of a against b returns its value
// and, when da is not NULL, adds ∂metric/∂a to da (+=). b is the reference and is treated as a
// constant (PSNR-HVS-M takes its masking from b only). Sums run in double. Definitions:
// ../shared/spec/regularizers.md and ../shared/spec/psnr-hvs.md; the regularizers built on these
// live in reg.h.
#ifndef SALIENCY_METRICS_H
#define SALIENCY_METRICS_H

#include <stddef.h>

// Return codes of the metrics that can fail.
enum { MET_OK = 0, MET_ESIZE = 1, MET_ENOMEM = 2 };

// The sizes and thresholds the definitions fix, one place each.
#define MET_SSIM_WIN 11      // SSIM_gauss's window (sigma 1.5): images need at least this many rows and columns
#define MET_BLOCK 8          // SSIM_box's blocks and PSNR-HVS's DCT blocks
#define MET_SD_MIN 1e-12     // a standard deviation below this is a constant channel (spec decision)

// mean and population standard deviation of t (n)
void met_mean_sd(const float *t, int n, double *mu, double *sd);

// ---- scratch memory -------------------------------------------------------------------------------
// The metrics and regularizers need a few image-sized buffers per call. Fresh multi-megabyte
// allocations are page-faulted in on every call (as much time as the math for PSNR-HVS), so each
// thread keeps its buffers: slot MET_SLOT_REG for reg.c, MET_SLOT_MET for the metric called inside.
// Contents are undefined (not zeroed). NULL when out of memory.
enum { MET_SLOT_REG = 0, MET_SLOT_MET = 1, MET_NSLOTS = 2 };
void *met_scratch(int slot, size_t bytes);

// ---- normalisations ---------------------------------------------------------------------------

// What the backward of N_mm needs: the first argmin/argmax and max - min (0 = degenerate).
typedef struct { int imin, imax; float lo, range; } mm_info;

// out (n) = (t - min t)/(max t - min t) over all n values (all channels together). When
// max - min < 1e-12 * max(1, |max|) the map is 0 and its gradient is 0 (spec decision).
void mm_forward(const float *t, int n, float *out, mm_info *info);
// dt (n) += scale * J^T dout, J the Jacobian of N_mm at t, including the min/max terms that go to
// the argmin/argmax entries. out (n) is what mm_forward wrote.
void mm_backward(const float *out, int n, const mm_info *info, const float *dout, float scale, float *dt);

// out (C, HW) = (t - mu_c)/sigma_c per channel, population variance; sigma (C) receives sigma_c.
// A channel with sigma_c < 1e-12 is 0 (spec decision).
void std_forward(const float *t, int c, int hw, float *out, float *sigma);
// dt (C, HW) += J^T dout; out and sigma from std_forward. Channels with sigma_c < 1e-12 get 0.
void std_backward(const float *out, const float *sigma, int c, int hw, const float *dout, float *dt);

// ---- pointwise ------------------------------------------------------------------------------------

// mean over n of (a - b)^2
double mse_metric(const float *a, const float *b, int n, float *da);
// 10 log10(1/mse) for mse > 0 (callers decide what mse = 0 means); PSNR-HVS's too
double psnr_db(double mse);

// ---- finite differences and edges ---------------------------------------------------------------

// anisotropic TV of t (C, H, W): sum of |forward differences| down and across, valid ones only,
// summed over channels. d|.|/d. at 0 is 0.
double tv_metric(const float *t, int c, int h, int w, float *dt);
// s = sum over c, i, j of (Dy a - Dy b)^2 + (Dx a - Dx b)^2, D the forward difference (0 on the
// last row/column). The regularizer takes sqrt(s + 1e-12).
double graddiff_metric(const float *a, const float *b, int c, int h, int w, float *da);
// ky, kx (C, H, W) = Ky * t and Kx * t, cross-correlation with Ky = [[-1,-2,-1],[0,0,0],[1,2,1]],
// Kx = Ky^T, after 1-pixel REFLECT padding (-1 -> 1, H -> H-2). Needs h, w >= 2.
int sobel_forward(const float *t, int c, int h, int w, float *ky, float *kx);
// sum over c, i, j of (Ky*a - Ky*b)^2 + (Kx*a - Kx*b)^2; MET_ESIZE when h or w < 2.
int sobel_metric(const float *a, const float *b, int c, int h, int w, double *value, float *da);

// rho (C) = Pearson correlation of a and b per channel, i.e. mean of Standardise(a)*Standardise(b);
// 0 for a channel where either sigma < 1e-12.
void pearson_forward(const float *a, const float *b, int c, int hw, double *rho);
// da (C, HW) += sum_c drho[c] * ∂rho_c/∂a (0 on the degenerate channels)
void pearson_backward(const float *a, const float *b, int c, int hw, const double *drho, float *da);

// ---- SSIM (ssim.c) ------------------------------------------------------------------------------

// SSIM with an 11x11 Gaussian window (sigma 1.5, sum 1), stride 1, VALID, K1 = 0.01, K2 = 0.03,
// L = 1, biased moments: the mean over all window positions and channels. Separable filtering of
// the five moment maps; the backward goes through the moments. MET_ESIZE when h or w < 11.
int ssim_gauss(const float *a, const float *b, int c, int h, int w, double *value, float *da);
// The same SSIM formula on 8x8 non-overlapping blocks (VALID, remainder dropped), C1 = 0.01^2,
// C2 = 0.03^2 * 63/64, biased block moments; mean over blocks and channels. MET_ESIZE when < 8.
int ssim_box(const float *a, const float *b, int c, int h, int w, double *value, float *da);

// ---- PSNR-HVS and PSNR-HVS-M (psnr_hvs.c) -----------------------------------------------------------

// S, the CSF-weighted DCT-domain MSE of a (distorted) against b (reference): 8x8 orthonormal DCT
// blocks, step 7, border remainder dropped; with masking != 0 the contrast masking of PSNR-HVS-M
// taken from b alone (a constant for the gradient). 3 channels: full-range BT.601 Y'CbCr and
// S = 0.8 S_Y + 0.1 S_Cb + 0.1 S_Cr; 1 channel: luma table; otherwise the mean over channels with
// the luma table. MET_ESIZE when h or w < 8.
int hvs_error(const float *a, const float *b, int c, int h, int w, int masking, double *s, float *da);
// 10 log10(1/S), capped at 100 dB when S <= 1e-10
double hvs_db(double s);

#endif
