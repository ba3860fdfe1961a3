// rise.c: RISE, randomized input sampling for explanation (Petsiuk et al. 2018;
// ../shared/spec/saliency-methods.md). N random masks m_n (H, W) in [0, 1], each the same for every
// channel; map = sum_n p_c(x * m_n) * m_n / (N * p1), written into every channel.
//
// A mask, as RISE's generate_masks: a binary s x s grid, each cell kept (1) with probability p1,
// bilinearly upsampled to (s+1)*ch x (s+1)*cw with ch = ceil(H/s), cw = ceil(W/s), and the H x W
// window at a random shift (dy, dx) in [0, ch) x [0, cw) cut out of it (the shift moves the cell
// borders off a fixed lattice; the extra cell keeps the window inside). Upsampling is rs_bilinear
// (PyTorch's align_corners=False, the border clamped; the RISE notebook's skimage resize reflects
// at the border instead, which changes only the outer half cell of the upsampled grid).
//
// Draws from the one generator (rng.h), seeded with o->seed, mask after mask: the s*s cells row by
// row (kept when rng_uniform < p1), then dy = floor(rng_uniform * ch), then dx = floor(rng_uniform
// * cw). The same seed gives the same masks at every batch size.
//
// The masked images go through eng_predict eng_batch(e) at a time, and the masks are made batch by
// batch: memory is one batch of masks and images, never N masks.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "resample.h"
#include "rng.h"

// mask (H, W) from the generator; grid (s, s) and up ((s+1)*ch, (s+1)*cw) are workspace
static void rise_mask(uint64_t *rng, int s, double p1, int H, int W, float *grid, float *up, float *mask)
{
    int ch = (H + s - 1) / s, cw = (W + s - 1) / s, uh = (s + 1) * ch, uw = (s + 1) * cw;
    for (int i = 0; i < s * s; i++) grid[i] = rng_uniform(rng) < p1 ? 1.0f : 0.0f;
    int dy = (int)(rng_uniform(rng) * ch), dx = (int)(rng_uniform(rng) * cw);
    rs_bilinear(grid, s, s, up, uh, uw);
    for (int y = 0; y < H; y++) memcpy(mask + (size_t)y * W, up + (size_t)(y + dy) * uw + dx, sizeof(float) * W);
}

int mth_rise(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen)
{
    int C, H, W;
    eng_input_shape(e, &C, &H, &W);
    int N = o->masks, s = o->cells, side = H < W ? H : W;
    if (N < 1) { snprintf(err, errlen, "-masks %d: allowed: 1 or more", N); return -1; }
    if (s < 1 || s > side) {
        snprintf(err, errlen, "-cells %d: allowed: 1..%d (a cell is at least a pixel; the input is %d wide, %d high)", s, side, W, H);
        return -1;
    }
    if (!(o->p1 > 0 && o->p1 <= 1)) {
        snprintf(err, errlen, "-p1 %g: allowed: more than 0, at most 1 (the probability a cell is kept)", o->p1);
        return -1;
    }
    int B = eng_batch(e), K = eng_classes(e), hw = H * W, n = C * hw;
    int ch = (H + s - 1) / s, cw = (W + s - 1) / s;
    float *grid = malloc(sizeof(float) * s * s), *up = malloc(sizeof(float) * (s + 1) * ch * (s + 1) * cw);
    float *masks = malloc(sizeof(float) * (size_t)B * hw);   // (B, H, W)
    float *imgs = malloc(sizeof(float) * (size_t)B * n);     // (B, C, H, W)
    float *p = malloc(sizeof(float) * (size_t)B * K);        // (B, K)
    double *acc = calloc(hw, sizeof(double));                // (H, W)
    if (!grid || !up || !masks || !imgs || !p || !acc) {
        snprintf(err, errlen, "out of memory for a batch of %d masks of %dx%d", B, H, W);
        free(grid); free(up); free(masks); free(imgs); free(p); free(acc);
        return -1;
    }
    uint64_t rng = o->seed;
    double psum = 0;
    for (int n0 = 0; n0 < N; n0 += B) {
        int nb = N - n0 < B ? N - n0 : B;
        for (int b = 0; b < nb; b++) {
            float *m = masks + (size_t)b * hw, *xm = imgs + (size_t)b * n;
            rise_mask(&rng, s, o->p1, H, W, grid, up, m);
            for (int c = 0; c < C; c++)
                for (int i = 0; i < hw; i++) xm[c * hw + i] = x[c * hw + i] * m[i];
        }
        eng_predict(e, imgs, nb, NULL, p);
        for (int b = 0; b < nb; b++) {
            double pc = p[b * K + cls];
            const float *m = masks + (size_t)b * hw;
            for (int i = 0; i < hw; i++) acc[i] += pc * m[i];
            psum += pc;
        }
    }
    double scale = 1.0 / (N * o->p1);
    for (int i = 0; i < hw; i++) map[i] = (float)(acc[i] * scale);
    for (int c = 1; c < C; c++) memcpy(map + (size_t)c * hw, map, sizeof(float) * hw);
    info->evaluations += N;
    snprintf(info->line, sizeof info->line, "%d masks of %dx%d cells (%dx%d px each), p1 %g, seed %llu; mean p_c of the masked images %.4g",
             N, s, s, ch, cw, o->p1, (unsigned long long)o->seed, psum / N);
    free(grid); free(up); free(masks); free(imgs); free(p); free(acc);
    return 0;
}
