// explainer.h: the loss of a trained explainer (NN-Explainer, Stalder et al., NeurIPS 2022;
// ../shared/spec/saliency-methods.md) and its gradient with respect to the explainer's mask logits.
// An explainer network E maps an image x (C, H, W) to one mask logit map per class S (K, H, W); a
// frozen classifier F is seen only through two callbacks (its logits of a batch of images, and the
// gradient at its input of a seed on those logits), so this file has no darknet in it.
//
//   m  = sigmoid(max over present classes k of S_k)      the target mask (H, W)
//   n  = sigmoid(max over absent classes k of S_k)       the non-target mask (0 when none is absent)
//   L  = cls(F(m ⊙ x), y)                                BCE with logits, mean over classes (multi-label)
//                                                        or CE of softmax (single-label), mean over images
//      + λ_e · Σ_k p_k log p_k,  p = softmax F((1 − m) ⊙ x)   the negative entropy on the complement
//      + λ_tv · (TV(m) + TV(n))                          TV: mean |horizontal| + mean |vertical| differences
//      + λ_a · Σ_{k present} [max(0, a_lo − A_k) + max(0, A_k − a_hi)],  A_k = mean sigmoid(S_k)
//      + λ_t · mean(m) + λ_nc · mean(n)
// every term a mean over the images of the batch.
#ifndef SALIENCY_EXPLAINER_H
#define SALIENCY_EXPLAINER_H

#include <stddef.h>

typedef struct {
    double lambda_e, lambda_tv, lambda_a, lambda_t, lambda_nc;  // 1, 1, 1, 0.1, 0.3 (the spec's)
    double area_lo, area_hi;                                   // 0.05, 0.30
    int multilabel;                                            // 1: BCE, 0: CE of the softmax
} xpl_opts;

void xpl_defaults(xpl_opts *o);

// The terms of the last xpl_loss (each before its weight) and their weighted sum.
typedef struct { double cls, ent, tv, area, target, nontarget, total; } xpl_terms;

// The frozen classifier: forward(ctx, x (B, C*H*W), z (B, K)) writes the logits; backward(ctx,
// dz (B, K), g (B, C*H*W)) writes g = dz . dz/dx at the point of the last forward.
typedef struct {
    void (*forward)(void *ctx, const float *x, float *z);
    void (*backward)(void *ctx, const float *dz, float *g);
    void *ctx;
} xpl_classifier;

typedef struct xpl xpl;

// Buffers for batches of B images (C, H, W) and K classes; NULL when out of memory.
xpl *xpl_new(int B, int C, int H, int W, int K);
void xpl_free(xpl *w);

// L of the batch: x (B, C, H, W) images, S (B, K, H, W) mask logits, y (B, K) labels (1 present,
// 0 absent; single-label: one 1). dS (B, K, H, W) = dL/dS when not NULL. t (may be NULL) gets the
// terms. Two classifier forwards and, with dS, two backwards.
double xpl_loss(xpl *w, const xpl_opts *o, const xpl_classifier *f, const float *x, const float *S,
                const float *y, float *dS, xpl_terms *t);

// The masks of the last xpl_loss: target m and non-target n (B, H, W), owned by w.
const float *xpl_target_mask(const xpl *w);
const float *xpl_nontarget_mask(const xpl *w);

// ---- the pieces, forward and backward side by side (tested one by one) ----

// m (B, HW) = sigmoid(max_{k: sel(y_k)} S_k), am (B, HW) its argmax (-1 when no class selected:
// m = 0); present = 1 selects y_k > 0.5, present = 0 the others.
void xpl_mask_forward(const float *S, const float *y, int B, int K, int HW, int present, float *m, int *am);
// dS (B, K, HW) += dm * m (1 - m) at the argmax
void xpl_mask_backward(const float *dm, const float *m, const int *am, int B, int K, int HW, float *dS);

// mean over images of the BCE with logits (mean over classes) or of the CE of softmax(z) with
// label argmax y; dz (B, K) = its gradient (may be NULL)
double xpl_cls(const float *z, const float *y, int B, int K, int multilabel, float *dz);
// mean over images of Σ p log p, p = softmax(z); dz its gradient (may be NULL)
double xpl_negent(const float *z, int B, int K, float *dz);
// mean over images of TV(m) (H, W); dm += scale * its gradient (may be NULL)
double xpl_tv(const float *m, int B, int H, int W, float scale, float *dm);
// mean over images of the area band of the present classes; dS += scale * its gradient (may be NULL)
double xpl_area(const float *S, const float *y, int B, int K, int HW, double lo, double hi, float scale, float *dS);

#endif
