// reg.h: the perceptual saliency regularizers by name: for a heatmap g and an image x (both planar
// (C, H, W) floats, no darknet types) the value R(g, x) and its gradient u = ∂R/∂g, per image and
// batched (batch value = mean over images of R). Definitions: ../shared/spec/regularizers.md and
// ../shared/spec/psnr-hvs.md; the image metrics underneath are in metrics.h.
//
//   l2               mean of g²                                  (x unused)
//   tv               TV(g), anisotropic L1                        (x unused)
//   tv_abs           TV(sum_c |g_c|) * sum_c 1/sigma_c(x)         (channels with sigma_c < 1e-12 add 0)
//   tv_abs_unscaled  TV(sum_c |g_c|)                              (x unused)
//   mse              MSE(ĝ, x̂)                                    ĝ = N_mm(g), x̂ = N_mm(x)
//   cor              1 - mean_c rho_c(g, x)²                      (raw g and x)
//   grad_diff        sqrt(sum (Dĝ - Dx̂)² + 1e-12)
//   sobel_edges      sum (Ky*ĝ - Ky*x̂)² + (Kx*ĝ - Kx*x̂)², REFLECT padding
//   psnr             1/PSNR(ĝ, x̂); MSE = 0 -> 0; PSNR < 0.01 dB -> 100 (zero gradient)
//   psnr_hvs         1/PSNR-HVS(ĝ, x̂); S <= 1e-10 -> 0.01; PSNR < 0.01 dB -> 100
//   psnr_hvsm        1/PSNR-HVS-M(ĝ, x̂), masking from x̂; same guards
//   ssim             -SSIM_gauss(ĝ, x̂), 11x11 window, sigma 1.5
//   ssim_unfiltered  -SSIM_box(ĝ, x̂), 8x8 blocks
//
// The calls keep image-sized scratch buffers per thread between calls (met_scratch in metrics.h).
#ifndef SALIENCY_REG_H
#define SALIENCY_REG_H

#include <stddef.h>

// Return codes; reg_strerror names them, the err buffers of the calls below say more.
enum {
    REG_OK = 0,
    REG_ESIZE = 1,    // the image is too small for the regularizer (ssim: 11x11, psnr_hvs*/ssim_unfiltered: 8x8, sobel: 2x2)
    REG_ENOMEM = 2,
    REG_EINPUT = 3,   // NaN or Inf in g or x, or x missing where it is needed
    REG_EUNKNOWN = 4  // no regularizer of that name
};

// Value and gradient of one regularizer for one image: *value = R(g, x); when dg is not NULL,
// dg (C, H, W) += scale * ∂R/∂g. g, x (C, H, W); x may be NULL when the regularizer does not use it.
typedef int (*reg_fn)(const float *g, const float *x, int c, int h, int w, double *value, float *dg, float scale);

typedef struct {
    const char *name;
    reg_fn fn;
    int needs_x;   // 1 when R depends on the image
    int min_size;  // the smallest H and W it accepts
} reg_def;

// The regularizer called name, or NULL; then err (when not NULL) says so and lists the valid names.
const reg_def *reg_lookup(const char *name, char *err, size_t errlen);
// "l2, tv, ..." (a static string)
const char *reg_names(void);
// the number of regularizers and the i-th, for loops over all of them
int reg_count(void);
const reg_def *reg_at(int i);
// a short name for a return code
const char *reg_strerror(int code);

// One image: checks the inputs (finite, large enough) and calls r->fn. On an error err (when not
// NULL) says what and where, e.g. "heatmap has NaN at c=0 y=3 x=5"; *value and dg are untouched.
int reg_eval(const reg_def *r, const float *g, const float *x, int c, int h, int w,
             double *value, float *dg, float scale, char *err, size_t errlen);
// A batch: g, x, dg (B, C, H, W). *value = mean over images of R; dg += scale * ∂(*value)/∂g, i.e.
// each image's gradient times scale/B. All images are checked before any gradient is added.
int reg_eval_batch(const reg_def *r, const float *g, const float *x, int batch, int c, int h, int w,
                   double *value, float *dg, float scale, char *err, size_t errlen);

#endif
