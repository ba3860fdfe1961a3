// localize.h: how well a saliency map points at an object whose pixels are known (a ground-truth
// mask): the pointing game (Zhang et al. 2016: a hit when the map's largest value lies on the
// object) and the mask IoU (the IoU of the object with the k hottest pixels of the map, k its area).
// Plain arrays, no darknet.
#ifndef SALIENCY_LOCALIZE_H
#define SALIENCY_LOCALIZE_H

// 1 when the largest value of heat (hw; ties: the lowest index) is a pixel of mask (nonzero), else 0
int loc_point_hit(const float *heat, const unsigned char *mask, int hw);

// |top_k(heat) ∩ mask| / |top_k(heat) ∪ mask| with k = |mask| (the hottest k pixels, ties: the lower
// index first); 0 for an empty mask. -1 when out of memory.
double loc_mask_iou(const float *heat, const unsigned char *mask, int hw);

#endif
