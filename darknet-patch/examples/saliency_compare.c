/* saliency_compare.c: `darknet saliency compare <image a> <image b> [-metric NAME|all]`.
   Loads two images of the same size with darknet's loader (values in [0,1], colour; grey files as
   one channel)
   and prints one "NAME VALUE" line per image metric of src/metrics.h: the metric values themselves,
   on the raw images (no min-max normalisation), not the 1/x or -x forms the regularizers use.
   psnr_hvsm takes its contrast masking from image b (the reference). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "saliency_util.h"
#include "metrics.h"

static const char *compare_names[] = {"ssim", "ssim_unfiltered", "psnr", "psnr_hvs", "psnr_hvsm", "mse", "cor",
                                      "grad_diff", "sobel_edges", "tv", 0};
#define COMPARE_NAME_LIST "ssim, ssim_unfiltered, psnr, psnr_hvs, psnr_hvsm, mse, cor, grad_diff, sobel_edges, tv, all"

/* the metric called name of a against b (C, H, W) into *v; 0 on success, else a message in err */
static int compare_metric(const char *name, const float *a, const float *b, int c, int h, int w, double *v, char *err, size_t n)
{
    int e = MET_OK;
    size_t i, total = (size_t)c*h*w;
    if(!strcmp(name, "ssim")) e = ssim_gauss(a, b, c, h, w, v, 0);
    else if(!strcmp(name, "ssim_unfiltered")) e = ssim_box(a, b, c, h, w, v, 0);
    else if(!strcmp(name, "psnr")){
        double m = mse_metric(a, b, (int)total, 0);
        *v = m > 0 ? psnr_db(m) : HUGE_VAL; /* printed as "inf" */
    }
    else if(!strcmp(name, "psnr_hvs") || !strcmp(name, "psnr_hvsm")){
        double s = 0;
        e = hvs_error(a, b, c, h, w, !strcmp(name, "psnr_hvsm"), &s, 0);
        if(e == MET_OK) *v = hvs_db(s);
    }
    else if(!strcmp(name, "mse")) *v = mse_metric(a, b, (int)total, 0);
    else if(!strcmp(name, "cor")){
        double *rho = calloc(c, sizeof(double));
        pearson_forward(a, b, c, h*w, rho);
        *v = 0;
        for(i = 0; i < (size_t)c; ++i) *v += rho[i]/c;
        free(rho);
    }
    else if(!strcmp(name, "grad_diff")) *v = sqrt(graddiff_metric(a, b, c, h, w, 0));
    else if(!strcmp(name, "sobel_edges")) e = sobel_metric(a, b, c, h, w, v, 0);
    else if(!strcmp(name, "tv")){
        float *d = calloc(total, sizeof(float));
        if(!d) sal_die("out of memory for a %dx%dx%d difference image", w, h, c);
        for(i = 0; i < total; ++i) d[i] = a[i] - b[i];
        *v = tv_metric(d, c, h, w, 0);
        free(d);
    }
    else { snprintf(err, n, "unknown metric '%s': allowed: %s", name, COMPARE_NAME_LIST); return -1; }
    if(e == MET_ESIZE){
        int need = !strcmp(name, "ssim") ? 11 : !strcmp(name, "sobel_edges") ? 2 : 8;
        snprintf(err, n, "%s needs images of at least %dx%d pixels, these are %dx%d", name, need, need, w, h);
        return -1;
    }
    if(e != MET_OK){ snprintf(err, n, "%s: out of memory", name); return -1; }
    return 0;
}

/* 1 when the three planes of im are equal */
static int compare_is_grey(image im)
{
    int i, n = im.w*im.h;
    for(i = 0; i < n; ++i){
        if(im.data[i] != im.data[n + i] || im.data[i] != im.data[2*n + i]) return 0;
    }
    return 1;
}

void saliency_compare(int argc, char **argv)
{
    char *metric = "all";
    int i;
    if(argc < 5){
        fprintf(stderr, "usage: darknet saliency compare <image a> <image b> [-metric NAME|all]\n"
                        "  NAME: " COMPARE_NAME_LIST "\n");
        exit(1);
    }
    for(i = 5; i < argc; ++i){
        if(strcmp(argv[i], "-metric")) sal_die("compare: unknown option '%s' (allowed: -metric NAME|all)", argv[i]);
        if(i + 1 >= argc) sal_die("-metric needs a value: one of %s", COMPARE_NAME_LIST);
        metric = argv[++i];
    }
    int all = !strcmp(metric, "all");
    if(!all){
        for(i = 0; compare_names[i]; ++i) if(!strcmp(metric, compare_names[i])) break;
        if(!compare_names[i]) sal_die("-metric %s: allowed: %s", metric, COMPARE_NAME_LIST);
    }
    /* 3 channels, not the file's own: darknet's OpenCV loader swaps channels 0 and 2 of every image
       (rgbgr_image), which for a 1-channel file reads and writes past the data. Grey files come back
       as three equal planes and are compared as one channel. */
    image a = sal_load_image(argv[3], 0, 0, 3);
    image b = sal_load_image(argv[4], 0, 0, 3);
    if(a.c == 3 && b.c == 3 && a.w == b.w && a.h == b.h && compare_is_grey(a) && compare_is_grey(b)) a.c = b.c = 1;
    if(a.w != b.w || a.h != b.h || a.c != b.c){
        sal_die("images differ in size: '%s' is %dx%d with %d channels, '%s' is %dx%d with %d channels",
                argv[3], a.w, a.h, a.c, argv[4], b.w, b.h, b.c);
    }
    int failed = 0;
    for(i = 0; compare_names[i]; ++i){
        if(!all && strcmp(metric, compare_names[i])) continue;
        double v = 0;
        char err[256];
        if(compare_metric(compare_names[i], a.data, b.data, a.c, a.h, a.w, &v, err, sizeof(err))){
            if(!all) sal_die("%s", err);
            fprintf(stderr, "darknet saliency: %s\n", err);
            failed = 1;
            continue;
        }
        /* identical images: PSNR is infinite (darknet builds with -Ofast: no isinf) */
        if(!strcmp(compare_names[i], "psnr") && mse_metric(a.data, b.data, a.c*a.h*a.w, 0) == 0) printf("%s inf\n", compare_names[i]);
        else printf("%s %.9g\n", compare_names[i], v);
    }
    free_image(a);
    free_image(b);
    if(failed) exit(1);
}
