// insdel.h: insertion and deletion curves (the RISE protocol, Petsiuk et al. 2018;
// ../shared/spec/saliency-methods.md "Evaluation: insertion and deletion") on plain planar floats.
// The network that scores the images is a callback, so this file knows nothing of darknet.
//
//   pixels ranked by decreasing saliency of an H x W map (ties: the lower index first), all
//   channels of a pixel together, `step` pixels per step: n = ceil(H*W/step) steps, n + 1 images
//   deletion:  from x towards a substrate (zero, or the blurred x)
//   insertion: from the blurred x towards x
//   AUC = (sum - first/2 - last/2) / n   (the normalised trapezoid; lower deletion, higher insertion
//   are better)
#ifndef SALIENCY_INSDEL_H
#define SALIENCY_INSDEL_H

// order (H*W) = pixel indices by decreasing map value (H*W), ties by increasing index; NaN in the
// map ranks last. 0, or -1 when out of memory.
int insdel_order(const float *map, int hw, int *order);

// n, the number of steps of hw pixels at step per step (step >= 1)
int insdel_steps(int hw, int step);

// The scores of nb images (nb, C, H*W): 0 on success, nonzero stops the curve with that value.
typedef int (*insdel_score_fn)(void *ctx, const float *images, int nb, double *scores);

// curve (n + 1) = the scores of start with the first min(k*step, H*W) pixels of order taken from
// end, k = 0..n; the images go to score() at most batch at a time. start, end (C, H*W).
int insdel_curve(const float *start, const float *end, int c, int hw, const int *order, int step, int batch,
                 insdel_score_fn score, void *ctx, double *curve);

// (sum - first/2 - last/2) / n of the n + 1 points of curve
double insdel_auc(const double *curve, int n);

#endif
