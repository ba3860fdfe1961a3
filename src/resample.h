// resample.h: bilinear resampling of one plane (H, W), and its transpose, on plain floats: the
// upsampling of the saliency methods' low-resolution masks (I-GOS's mask, RISE's grids, Grad-CAM's
// maps) to the input's size, and the gradient back to the mask.
//
// Pixel centres are aligned as PyTorch's F.interpolate(mode='bilinear', align_corners=False) and
// OpenCV's resize: output pixel i samples the input at (i + 0.5) * in/out - 0.5, clamped to the
// border.
#ifndef SALIENCY_RESAMPLE_H
#define SALIENCY_RESAMPLE_H

// out (oh, ow) = in (ih, iw) resampled bilinearly
void rs_bilinear(const float *in, int ih, int iw, float *out, int oh, int ow);
// din (ih, iw) += the transpose of rs_bilinear applied to dout (oh, ow): the gradient of a function
// of the output with respect to the input
void rs_bilinear_t(const float *dout, int oh, int ow, float *din, int ih, int iw);

#endif
