// evaluate.c: heatmap-to-image agreement, built from the image metrics of metrics.h.
#include <stdlib.h>
#include "evaluate.h"
#include "metrics.h"

int eval_agreement_of(const float *g, const float *x, int c, int h, int w, eval_agreement *out)
{
    int n = c * h * w;
    if (h < MET_SSIM_WIN || w < MET_SSIM_WIN) return -1;
    float *gn = malloc(n * sizeof(float)), *xn = malloc(n * sizeof(float));
    mm_info info;
    mm_forward(g, n, gn, &info);
    mm_forward(x, n, xn, &info);
    ssim_gauss(gn, xn, c, h, w, &out->ssim, NULL);
    double mse = mse_metric(gn, xn, n, NULL);
    out->inv_psnr = mse > 0 ? 1.0 / psnr_db(mse) : 0;
    double s = 0;
    sobel_metric(gn, xn, c, h, w, &s, NULL);
    out->sobel = s / (h * w);
    double *rho = calloc(c, sizeof(double));
    pearson_forward(g, x, c, h * w, rho);
    out->pearson = 0;
    for (int k = 0; k < c; k++) out->pearson += rho[k] / c;
    free(rho);
    free(gn);
    free(xn);
    return 0;
}

void eval_mean_add(eval_mean *m, const eval_agreement *a)
{
    m->sum.ssim += a->ssim;
    m->sum.inv_psnr += a->inv_psnr;
    m->sum.sobel += a->sobel;
    m->sum.pearson += a->pearson;
    m->n++;
}

eval_agreement eval_mean_get(const eval_mean *m)
{
    eval_agreement r = {0, 0, 0, 0};
    if (m->n == 0) return r;
    r.ssim = m->sum.ssim / m->n;
    r.inv_psnr = m->sum.inv_psnr / m->n;
    r.sobel = m->sum.sobel / m->n;
    r.pearson = m->sum.pearson / m->n;
    return r;
}
