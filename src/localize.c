// localize.c: maps against ground-truth masks (localize.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "localize.h"

typedef struct { float v; int pos; } loc_px;

static int loc_cmp(const void *a, const void *b)
{
    float x = ((const loc_px *)a)->v, y = ((const loc_px *)b)->v;
    return x < y ? -1 : x > y;
}

// Mann-Whitney: (Σ ranks of the positives - P(P+1)/2) / (P N), tied values sharing their mean rank
static double loc_auc(const float *m, const unsigned char *gt, int HW, int P)
{
    loc_px *px = malloc(sizeof(loc_px) * (size_t)HW);
    if (!px) return NAN;
    for (int i = 0; i < HW; i++) { px[i].v = m[i]; px[i].pos = gt[i] != 0; }
    qsort(px, HW, sizeof(loc_px), loc_cmp);
    double rsum = 0;
    for (int i = 0; i < HW;) {
        int j = i;
        while (j < HW && px[j].v == px[i].v) j++;
        double rank = (i + 1 + j) / 2.0;   // ranks i+1 .. j
        for (int k = i; k < j; k++) if (px[k].pos) rsum += rank;
        i = j;
    }
    free(px);
    double N = HW - P;
    return (rsum - (double)P * (P + 1) / 2) / ((double)P * N);
}

double loc_auc_naive(const float *heat, const unsigned char *gt, int HW)
{
    double s = 0, n = 0;
    for (int i = 0; i < HW; i++) {
        if (!gt[i]) continue;
        for (int j = 0; j < HW; j++) {
            if (gt[j]) continue;
            float a = heat[i] > 0 ? heat[i] : 0, b = heat[j] > 0 ? heat[j] : 0;
            s += a > b ? 1 : (a == b ? 0.5 : 0);
            n += 1;
        }
    }
    return n > 0 ? s / n : NAN;
}

int loc_score(const float *heat, const unsigned char *gt, int HW, double frac, loc_scores *s, unsigned char *bin)
{
    int P = 0;
    for (int i = 0; i < HW; i++) P += gt[i] != 0;
    if (P == 0 || P == HW) return -1;
    float *m = malloc(sizeof(float) * (size_t)HW);
    if (!m) return -1;
    float mx = 0;
    for (int i = 0; i < HW; i++) { m[i] = heat[i] > 0 ? heat[i] : 0; if (m[i] > mx) mx = m[i]; }
    double inter = 0, uni = 0, nb = 0, smin = 0, smax = 0, in = 0, tot = 0;
    for (int i = 0; i < HW; i++) {
        int g = gt[i] != 0;
        int b = mx > 0 && m[i] >= frac * mx;
        if (bin) bin[i] = (unsigned char)b;
        inter += b && g;
        uni += b || g;
        nb += b;
        double mn = mx > 0 ? m[i] / mx : 0;
        smin += mn < g ? mn : g;
        smax += mn > g ? mn : g;
        in += g ? m[i] : 0;
        tot += m[i];
    }
    s->iou = uni > 0 ? inter / uni : 0;
    s->f1 = nb + P > 0 ? 2 * inter / (nb + P) : 0;
    s->ciou = smax > 0 ? smin / smax : 0;
    s->pointing = tot > 0 ? in / tot : 0;
    s->area = nb / HW;
    s->auc = loc_auc(m, gt, HW, P);
    free(m);
    return 0;
}

double loc_saliency_metric(double area, double p)
{
    return log(area > 0.05 ? area : 0.05) - log(p > 1e-30 ? p : 1e-30);
}

void loc_center_map(float *heat, int h, int w)
{
    double cy = (h - 1) / 2.0, cx = (w - 1) / 2.0, s = (h < w ? h : w) / 4.0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            heat[y * w + x] = (float)exp(-((y - cy) * (y - cy) + (x - cx) * (x - cx)) / (2 * s * s));
}
