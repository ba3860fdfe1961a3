// cmp.c: the metrics of `darknet saliency compare` by name (see cmp.h), on metrics.h.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmp.h"
#include "metrics.h"

// ---- the metrics, one function each: a against b, (C, H, W), value into *v --------------------

static int m_ssim(const float *a, const float *b, int c, int h, int w, double *v) { return ssim_gauss(a, b, c, h, w, v, 0); }
static int m_ssim_box(const float *a, const float *b, int c, int h, int w, double *v) { return ssim_box(a, b, c, h, w, v, 0); }

static int m_psnr(const float *a, const float *b, int c, int h, int w, double *v)
{
    double m = mse_metric(a, b, c*h*w, 0);
    *v = m > 0 ? psnr_db(m) : HUGE_VAL;
    return MET_OK;
}

static int hvs_db_of(const float *a, const float *b, int c, int h, int w, int masking, double *v)
{
    double s = 0;
    int e = hvs_error(a, b, c, h, w, masking, &s, 0);
    if(e == MET_OK) *v = hvs_db(s);
    return e;
}
static int m_psnr_hvs(const float *a, const float *b, int c, int h, int w, double *v) { return hvs_db_of(a, b, c, h, w, 0, v); }
static int m_psnr_hvsm(const float *a, const float *b, int c, int h, int w, double *v) { return hvs_db_of(a, b, c, h, w, 1, v); }

static int m_mse(const float *a, const float *b, int c, int h, int w, double *v) { *v = mse_metric(a, b, c*h*w, 0); return MET_OK; }

static int m_cor(const float *a, const float *b, int c, int h, int w, double *v)
{
    double *rho = calloc(c, sizeof(double));
    if(!rho) return MET_ENOMEM;
    pearson_forward(a, b, c, h*w, rho);
    *v = 0;
    for(int i = 0; i < c; ++i) *v += rho[i]/c;
    free(rho);
    return MET_OK;
}

static int m_graddiff(const float *a, const float *b, int c, int h, int w, double *v) { *v = sqrt(graddiff_metric(a, b, c, h, w, 0)); return MET_OK; }
static int m_sobel(const float *a, const float *b, int c, int h, int w, double *v) { return sobel_metric(a, b, c, h, w, v, 0); }

static int m_tv(const float *a, const float *b, int c, int h, int w, double *v)
{
    size_t total = (size_t)c*h*w;
    float *d = calloc(total, sizeof(float));
    if(!d) return MET_ENOMEM;
    for(size_t i = 0; i < total; ++i) d[i] = a[i] - b[i];
    *v = tv_metric(d, c, h, w, 0);
    free(d);
    return MET_OK;
}

// the table, in the order compare prints them; min: the smallest height and width
static const struct { const char *name; int (*fn)(const float *, const float *, int, int, int, double *); int min; } CMP[] = {
    {"ssim", m_ssim, MET_SSIM_WIN}, {"ssim_unfiltered", m_ssim_box, MET_BLOCK}, {"psnr", m_psnr, 1},
    {"psnr_hvs", m_psnr_hvs, MET_BLOCK}, {"psnr_hvsm", m_psnr_hvsm, MET_BLOCK}, {"mse", m_mse, 1}, {"cor", m_cor, 1},
    {"grad_diff", m_graddiff, 1}, {"sobel_edges", m_sobel, 2}, {"tv", m_tv, 1},
};
#define N_CMP ((int)(sizeof CMP / sizeof CMP[0]))

int cmp_count(void) { return N_CMP; }
const char *cmp_name(int i) { return i >= 0 && i < N_CMP ? CMP[i].name : 0; }

const char *cmp_names(void)
{
    static char list[256];
    if(!list[0]){
        for(int i = 0; i < N_CMP; ++i) snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s, ", CMP[i].name);
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "all");
    }
    return list;
}

int cmp_metric(const char *name, const float *a, const float *b, int c, int h, int w, double *v, char *err, size_t errlen)
{
    int i;
    for(i = 0; i < N_CMP && strcmp(name, CMP[i].name); ++i);
    if(i == N_CMP){ snprintf(err, errlen, "unknown metric '%s': allowed: %s", name, cmp_names()); return -1; }
    int e = CMP[i].fn(a, b, c, h, w, v);
    if(e == MET_ESIZE){
        snprintf(err, errlen, "%s needs images of at least %dx%d pixels, these are %dx%d", name, CMP[i].min, CMP[i].min, w, h);
        return -1;
    }
    if(e != MET_OK){ snprintf(err, errlen, "%s: out of memory for %dx%dx%d images", name, w, h, c); return -1; }
    return 0;
}

int cmp_is_grey(const float *x, int hw)
{
    int i;
    for(i = 0; i < hw; ++i){
        if(x[i] != x[hw + i] || x[i] != x[2*hw + i]) return 0;
    }
    return 1;
}
