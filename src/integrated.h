// integrated.h: integrated gradients (../shared/spec/saliency-methods.md), the pieces that
// smoothgrad reuses: the quadrature rules of the path, the baselines, and the maps of many images
// at once with every path point of every image pooled into the engine's batches.
//
//   map = (x - x0) ⊙ sum_j w_j dz_c/dx (x0 + t_j (x - x0)),   sum_j w_j = 1
//
// The registered method is mth_integrated (methods.h); these are for other methods and the tests.
#ifndef SALIENCY_INTEGRATED_H
#define SALIENCY_INTEGRATED_H

#include "methods.h"

typedef enum { IG_RIGHT, IG_LEFT, IG_MIDDLE, IG_TRAPEZOID, IG_GAUSSLEGENDRE } ig_rule;
typedef enum { IG_BLACK, IG_BLUR, IG_MEAN, IG_NOISE } ig_baseline;

// "right" ... -> rule (0), or -1 with err naming the value and the allowed ones
int ig_rule_parse(const char *name, ig_rule *rule, char *err, int errlen);
int ig_baseline_parse(const char *name, ig_baseline *b, char *err, int errlen);
const char *ig_rule_names(void);       // "right, left, middle, trapezoid, gausslegendre"
const char *ig_baseline_names(void);   // "black, blur, mean, noise"

// the number of path points of a rule with K steps (K + 1 for trapezoid, K for the others)
int ig_points(ig_rule rule, int K);
// t (J), w (J) = the nodes in [0, 1] and weights (summing to 1) of the rule, J = ig_points(rule, K)
void ig_nodes(ig_rule rule, int K, double *t, double *w);

// the blur baseline's kernel for an input of side min(H, W): I-GOS's 51 x 51, sigma 50 (the
// spec's, for inputs under 500 px) scaled by side / 224 (odd, at least 3; capped at 51 / 50)
void ig_blur_kernel(int h, int w, int *size, double *sigma);

// x0 (C, H, W) = the baseline of x (C, H, W); noise draws uniform [0, 1) from seed. 0 or -1 (memory).
int ig_baseline_of(ig_baseline b, const float *x, int c, int h, int w, uint64_t seed, float *x0);

// map (nimg, C*H*W) = the integrated gradients of class cls for nimg images x (nimg, C*H*W), each
// with its own baseline (o->baseline of that image; noise: the same draw from o->seed for every
// image), o->steps and o->rule. Every path point of every
// image goes through eng_logit_grad, eng_batch(e) points a call. When not NULL, zx (nimg) and
// z0 (nimg) are z_c(x) and z_c(x0) (from the path's end points when the rule has them, else from one
// eng_predict). *evaluations += the images through the network. 0, or -1 with err.
int ig_maps(eng *e, const float *x, int nimg, int cls, const mth_opts *o, float *map, double *zx, double *z0,
            long *evaluations, char *err, int errlen);

#endif
