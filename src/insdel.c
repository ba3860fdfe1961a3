// insdel.c: insertion and deletion curves and their AUC (insdel.h).
#include <stdlib.h>
#include <string.h>

#include "insdel.h"

typedef struct { float v; int i; } ranked;

// decreasing value, then increasing index; NaN after every number
static int by_rank(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    int na = a->v != a->v, nb = b->v != b->v;
    if (na != nb) return na - nb;
    if (!na && a->v != b->v) return a->v > b->v ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

int insdel_order(const float *map, int hw, int *order)
{
    ranked *r = malloc((size_t)hw * sizeof(ranked));
    if (!r) return -1;
    for (int i = 0; i < hw; i++) r[i] = (ranked){map[i], i};
    qsort(r, hw, sizeof(ranked), by_rank);
    for (int i = 0; i < hw; i++) order[i] = r[i].i;
    free(r);
    return 0;
}

int insdel_steps(int hw, int step) { return (hw + step - 1) / step; }

int insdel_curve(const float *start, const float *end, int c, int hw, const int *order, int step, int batch,
                 insdel_score_fn score, void *ctx, double *curve)
{
    // work (C, HW): the image of step k; imgs (batch, C, HW): the images waiting to be scored
    int n = insdel_steps(hw, step);
    size_t m = (size_t)c * hw;
    if (batch < 1) batch = 1;
    float *work = malloc(m * sizeof(float)), *imgs = malloc((size_t)batch * m * sizeof(float));
    if (!work || !imgs) { free(work); free(imgs); return -1; }
    memcpy(work, start, m * sizeof(float));
    int rc = 0, queued = 0, first = 0;
    for (int k = 0; k <= n && !rc; k++) {
        if (k > 0)
            for (int p = (k - 1) * step; p < k * step && p < hw; p++)
                for (int ch = 0; ch < c; ch++) work[(size_t)ch * hw + order[p]] = end[(size_t)ch * hw + order[p]];
        memcpy(imgs + (size_t)queued * m, work, m * sizeof(float));
        if (++queued == batch || k == n) {
            rc = score(ctx, imgs, queued, curve + first);
            first += queued;
            queued = 0;
        }
    }
    free(work);
    free(imgs);
    return rc;
}

double insdel_auc(const double *curve, int n)
{
    if (n < 1) return 0;
    double s = 0;
    for (int k = 0; k <= n; k++) s += curve[k];
    return (s - curve[0] / 2 - curve[n] / 2) / n;
}
