// igos.h: I-GOS (Qi, Khorram, Li Fuxin, AAAI 2020) and iGOS++ (Khorram, Lawson, Li Fuxin, ACM-CHIL
// 2021): a low-resolution mask, initialised to 1, optimised by descent along the integrated gradient
// of the class probability with a backtracking line search (../shared/spec/saliency-methods.md,
// docs/methods.md). The saliency methods are mth_igos and mth_igospp (methods.h); this header opens
// their parts to the tests: the objective, the descent direction, one run and its trace.
//
// Notation: x (C, H, W) the image, b (C, H, W) the baseline, M (mh, mw) a mask, up = rs_bilinear to
// (H, W), S = the softmax probability of class cls, t in (0, 1] a point of the path.
//   deletion image   del(m, t) = x * t m + b * (1 - t m)      (m = 1 keeps x)
//   insertion image  ins(m, t) = b * t m + x * (1 - t m)      (m = 1 shows the baseline)
//   I-GOS    L(M) = S(del(up M, 1)) + l1 mean|1 - M| + l2 TV2(M)
//   iGOS++   L(Md, Mi) = 1/2 [S(del(up Md)) - S(ins(up Mi)) + S(del(up Md up Mi)) - S(ins(up Md up Mi))]
//                        + l1 mean|1 - P| + l2 BTV(P),  P = Md * Mi
// TV2(M) = mean of squared vertical + mean of squared horizontal differences; BTV(P) = 1/2 [TV2(P) +
// the bilateral TV of up P]: squared differences of up P weighted by exp(-(dx)^2 / sigma) of the
// image's differences dx (per channel, the weights' mean over channels).
// The descent direction replaces each S(.(m, 1)) by its integrated gradient along the path:
//   (1/K) sum_{k=1..K} d/dM S(.(m, k/K) + eps_k), eps_k ~ N(0, noise^2) i.i.d. per value, fresh each k,
// and adds the regularisers' gradient (d|1 - M|/dM = -sign(1 - M), sign(0) = 0 as PyTorch's).
// I-GOS only: lambda1 /= 10 at iteration T/2 when S has moved by <= 0.001 since the start, /= 5 at
// T/1.25 when by <= 0.01 (T > 3).
#ifndef SALIENCY_IGOS_H
#define SALIENCY_IGOS_H

#include <stdint.h>
#include "engine.h"
#include "methods.h"

typedef struct {
    int plus;               // 0: I-GOS (one deletion mask); 1: iGOS++ (a deletion and an insertion mask)
    int mh, mw;             // the mask's cells (each >= 2)
    int iterations;         // 15
    int points;             // K (20)
    double noise;           // the sd of eps (0.2)
    double lambda1, lambda2;// 1, 20
    double alpha;           // the line search's first step (200)
    double sigma;           // iGOS++: the bilateral weights' range parameter (0.01)
    uint64_t seed;          // the noise
} igos_cfg;

// defaults for plus = 0 or 1 and a mask of mh x mw
void igos_defaults(igos_cfg *c, int plus, int mh, int mw);

// One iteration of igos_run. L and S with the iteration's lambda1.
typedef struct {
    double before, after;   // L at the start and after the step (equal when no step was accepted)
    double s_before, s_after;   // the score part of L (I-GOS: S of the deletion image)
    double lambda1;
    double alpha;           // the accepted step; 0 when none was (or the direction was 0)
    double dnorm2;          // |d|^2 of the direction
    int tried;              // line-search candidates evaluated (a batch may hold more than needed)
} igos_iter;

typedef struct igos igos;

// x and b (C, H, W) of the engine's input shape, kept by pointer until igos_free. NULL with err
// for a bad configuration (the message names the option: "-mask_size 1: ...") or no memory.
igos *igos_new(eng *e, const float *x, const float *b, int cls, const igos_cfg *cfg, char *err, int errlen);
void igos_free(igos *g);
int igos_nmasks(const igos *g);          // 1 or 2: masks are (nmasks, mh, mw), deletion first
long igos_evaluations(const igos *g);    // images through the network so far

// L[j] and its score part s[j] (either may be NULL) of n mask sets masks (n, nmasks, mh, mw),
// all their images through the engine in batches.
void igos_objective(igos *g, const float *masks, int n, double lambda1, double *L, double *s);
// d (nmasks, mh, mw) = the descent direction at masks (one set): the integrated gradient with
// points and noise (draws from *rng) plus the regularisers' gradient. With points = 1 and noise = 0
// it is the gradient of L. 0, or -1 when the engine cannot take the network's gradient.
int igos_direction(igos *g, const float *masks, int points, double noise, double lambda1, uint64_t *rng, float *d);

// The optimisation from masks = 1: masks (nmasks, mh, mw) the result, trace (iterations) when not
// NULL, each iteration's line to info->log when set, the summary in info->line. 0, or -1 with err.
int igos_run(igos *g, float *masks, igos_iter *trace, mth_info *info, char *err, int errlen);

// map (C, H, W) = 1 - up(M) (iGOS++: 1 - up(Md * Mi)) in every channel
void igos_heat(igos *g, const float *masks, float *map);

// b (C, H, W): x blurred as I-GOS's baseline: a Gaussian of 51 x 51, sigma 50 (151/150 from 500 px,
// 201/200 from 800 px on the longer side, as the iGOS++ code), each channel alone, normalised by the
// kernel's mass inside the image (no dark border). 0, or -1 when out of memory.
int igos_baseline(const float *x, int c, int h, int w, float *b);

#endif
