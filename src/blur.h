// blur.h: the Gaussian blurs the saliency methods and their evaluation use, on plain planar
// (C, H, W) floats, each channel alone, zero padding (values beyond the border count as 0), the
// kernel normalised to sum 1 over its full size (so the border darkens, as the protocols do).
//   insertion/deletion (RISE): 11x11, sigma 5        blur_gauss(x, c, h, w, 11, 5, out)
//   I-GOS's baseline (inputs under 500 px): 51x51, sigma 50
// Separable: two 1-D passes (the kernel is the product of two 1-D Gaussians).
#ifndef SALIENCY_BLUR_H
#define SALIENCY_BLUR_H

// out (C, H, W) = x blurred with a size x size Gaussian of sigma (size odd, >= 1). 0 on success,
// -1 for a bad size or sigma, or when out of memory. out may not alias x.
int blur_gauss(const float *x, int c, int h, int w, int size, double sigma, float *out);

// the direct 2-D convolution (the oracle of blur_gauss's separable passes)
int blur_gauss_naive(const float *x, int c, int h, int w, int size, double sigma, float *out);

#endif
