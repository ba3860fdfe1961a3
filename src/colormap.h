// colormap.h: heatmap -> picture helpers on plain float arrays (no darknet types).
#ifndef SALIENCY_COLORMAP_H
#define SALIENCY_COLORMAP_H

// out (H*W) = max over channels of |g| (C, H, W), scaled so the largest value is 1 (all 0 if g is 0)
void cmap_abs_max(const float *g, int c, int h, int w, float *out);
// out (H*W) = |sum over channels of g*x| (C, H, W), scaled to [0, 1]
void cmap_gradxinput(const float *g, const float *x, int c, int h, int w, float *out);
// out (3, H, W) = alpha*jet(heat) + (1 - alpha)*image; image (c, H, W) with c = 1 or 3, heat (H*W) in [0,1]
void cmap_overlay(const float *heat, const float *image, int c, int h, int w, float alpha, float *out);
// the jet colour of v in [0,1]
void cmap_jet(float v, float rgb[3]);

#endif
