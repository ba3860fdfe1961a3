// cmp.c: the metrics of `darknet saliency compare` by name (see cmp.h), on metrics.h.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmp.h"
#include "metrics.h"

const char *const cmp_names[] = {"ssim", "ssim_unfiltered", "psnr", "psnr_hvs", "psnr_hvsm", "mse", "cor",
                                 "grad_diff", "sobel_edges", "tv", 0};

int cmp_metric(const char *name, const float *a, const float *b, int c, int h, int w, double *v, char *err, size_t errlen)
{
    int e = MET_OK;
    size_t i, total = (size_t)c*h*w;
    if(!strcmp(name, "ssim")) e = ssim_gauss(a, b, c, h, w, v, 0);
    else if(!strcmp(name, "ssim_unfiltered")) e = ssim_box(a, b, c, h, w, v, 0);
    else if(!strcmp(name, "psnr")){
        double m = mse_metric(a, b, (int)total, 0);
        *v = m > 0 ? psnr_db(m) : HUGE_VAL;
    }
    else if(!strcmp(name, "psnr_hvs") || !strcmp(name, "psnr_hvsm")){
        double s = 0;
        e = hvs_error(a, b, c, h, w, !strcmp(name, "psnr_hvsm"), &s, 0);
        if(e == MET_OK) *v = hvs_db(s);
    }
    else if(!strcmp(name, "mse")) *v = mse_metric(a, b, (int)total, 0);
    else if(!strcmp(name, "cor")){
        double *rho = calloc(c, sizeof(double));
        if(!rho) e = MET_ENOMEM;
        else {
            pearson_forward(a, b, c, h*w, rho);
            *v = 0;
            for(i = 0; i < (size_t)c; ++i) *v += rho[i]/c;
            free(rho);
        }
    }
    else if(!strcmp(name, "grad_diff")) *v = sqrt(graddiff_metric(a, b, c, h, w, 0));
    else if(!strcmp(name, "sobel_edges")) e = sobel_metric(a, b, c, h, w, v, 0);
    else if(!strcmp(name, "tv")){
        float *d = calloc(total, sizeof(float));
        if(!d) e = MET_ENOMEM;
        else {
            for(i = 0; i < total; ++i) d[i] = a[i] - b[i];
            *v = tv_metric(d, c, h, w, 0);
            free(d);
        }
    }
    else { snprintf(err, errlen, "unknown metric '%s': allowed: %s", name, CMP_NAME_LIST); return -1; }
    if(e == MET_ESIZE){
        int need = !strcmp(name, "ssim") ? 11 : !strcmp(name, "sobel_edges") ? 2 : 8;
        snprintf(err, errlen, "%s needs images of at least %dx%d pixels, these are %dx%d", name, need, need, w, h);
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
