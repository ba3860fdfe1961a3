// evaluate.h: how much a heatmap looks like its image (saliency-methods.md, "heatmap-to-image
// agreement"): SSIM, 1/PSNR, Sobel-edge loss and Pearson correlation between N_mm(heatmap) and
// N_mm(image), on plain float arrays (no darknet types).
#ifndef SALIENCY_EVALUATE_H
#define SALIENCY_EVALUATE_H

typedef struct {
    double ssim;       // SSIM_gauss(N_mm(g), N_mm(x)), higher = more alike (needs H, W >= 11)
    double inv_psnr;   // 1/PSNR in dB (0 when the two are equal), lower = more alike
    double sobel;      // summed squared Sobel-edge differences per pixel, lower = more alike
    double pearson;    // mean over channels of the correlation of g and x, higher = more alike
} eval_agreement;

// g, x (C, H, W). 0 on success, -1 when the image is smaller than 11x11.
int eval_agreement_of(const float *g, const float *x, int c, int h, int w, eval_agreement *out);

// running means of a set of agreements
typedef struct { eval_agreement sum; int n; } eval_mean;
void eval_mean_add(eval_mean *m, const eval_agreement *a);
eval_agreement eval_mean_get(const eval_mean *m);

#endif
