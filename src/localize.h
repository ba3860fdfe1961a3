// localize.h: a saliency map against a ground-truth object mask (../shared/spec/saliency-methods.md,
// "Localisation against ground-truth masks"). Plain arrays, no darknet, never prints.
#ifndef SALIENCY_LOCALIZE_H
#define SALIENCY_LOCALIZE_H

typedef struct {
    double iou;         // |B ∧ G| / |B ∨ G|, B = the map thresholded at frac of its maximum
    double f1;          // 2 |B ∧ G| / (|B| + |G|)
    double ciou;        // Σ min(m, G) / Σ max(m, G), m = the map over its maximum (in [0, 1])
    double auc;         // pixel ROC-AUC of the map against G (ties count a half)
    double pointing;    // energy pointing game: Σ m G / Σ m
    double area;        // |B| / HW
} loc_scores;

// heat (HW): the map, negative values counted as 0; gt (HW): non-zero inside the object. bin (HW,
// may be NULL) gets B as 0/1. A map that is 0 everywhere scores 0 on every measure but the AUC
// (0.5). Returns -1 (and scores nothing) when gt is empty or holds every pixel.
int loc_score(const float *heat, const unsigned char *gt, int HW, double frac, loc_scores *s, unsigned char *bin);

// Dabkowski & Gal's saliency metric: log(max(area, 0.05)) - log p (p the class probability of the
// image kept only inside B; p below 1e-30 counts as 1e-30). Lower is better.
double loc_saliency_metric(double area, double p);

// The centre baseline of the evaluations (insdel, detector point): a Gaussian around the image's
// centre, sigma = min(H, W)/4, into heat (H*W)
void loc_center_map(float *heat, int h, int w);

// The naive AUC (every positive against every negative pixel): the oracle of loc_score's.
double loc_auc_naive(const float *heat, const unsigned char *gt, int HW);

#endif
