// fool.h: fooling images (../shared/spec/saliency-methods.md, "Fooling image"): normalised
// gradient ascent on a target class's logit, x <- clamp(x + lr g / ||g||_2, 0, 1) with
// g = dz_target/dx, until the network predicts the target or the step budget runs out.
// Core code: no printing; errors come back as text.
#ifndef SALIENCY_FOOL_H
#define SALIENCY_FOOL_H

#include "engine.h"

// The defaults of `darknet saliency fool`: the step budget (the spec's) and the step length in
// the L2 norm of the whole image (docs/methods.md says why 0.25).
#define FOOL_STEPS 100
#define FOOL_LR 0.25

typedef struct {
    int steps;              // ascent steps taken
    int reached;            // 1: the fooling image is predicted as the target
    int orig, pred;         // the class predicted on x and on the fooling image
    float p_orig, p_target; // the fooling image's probabilities of orig and of the target
    float p_pred;           // and of pred
    double l2, linf;        // ||x_fool - x||_2 and ||x_fool - x||_inf
    long evaluations;       // images through the network
} fool_result;

// xf (C, H, W) = the fooling image of x (C, H, W) for class target (0 <= target < classes), after
// at most budget >= 0 steps of length lr > 0; x itself (0 steps) when it is already predicted as
// the target. 0 (r->reached says whether the target was reached), or -1 with err (bad arguments,
// a zero gradient, memory, an engine without the gradient). progress (may be NULL) is called
// after every step with the steps done and the budget.
int fool_run(eng *e, const float *x, int target, int budget, double lr, float *xf, fool_result *r,
             void (*progress)(void *ctx, int done, int total), void *progress_ctx, char *err, int errlen);

// out (n) = |xf - x| scaled to [0, 1] by its largest value (all 0 when xf = x): the magnified
// difference picture
void fool_diff(const float *x, const float *xf, int n, float *out);

#endif
