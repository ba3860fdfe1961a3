// cmp.h: the image metrics of `darknet saliency compare` by name, on two planar (C, H, W)
// float images: the metric values themselves (no min-max normalisation, data range 1), not the
// 1/x or -x forms the regularizers use. No darknet types; never prints.
#ifndef SALIENCY_CMP_H
#define SALIENCY_CMP_H

#include <stddef.h>

// The metrics in the order compare prints them: their count, the i-th name, and "ssim, ..., all"
// (a static string, from the one table).
int cmp_count(void);
const char *cmp_name(int i);
const char *cmp_names(void);

// The metric called name of a against b (reference), both (C, H, W), into *v: psnr of identical
// images is +inf, psnr_hvs(m) are in dB (capped at 100), cor is the mean over channels of Pearson's
// rho, grad_diff the sqrt of the summed squared gradient differences, tv = TV(a - b).
// 0, or -1 with err: an unknown name, an image too small for the metric, out of memory.
int cmp_metric(const char *name, const float *a, const float *b, int c, int h, int w, double *v, char *err, size_t errlen);

// 1 when the three planes of x (3, hw) are equal (a grey image loaded as colour)
int cmp_is_grey(const float *x, int hw);

#endif
