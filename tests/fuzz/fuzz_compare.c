// fuzz_compare.c: every metric of `saliency compare` (src/cmp.c on src/metrics.h) on arbitrary
// sizes and values.
// Bytes 0-2: c = b0 % 4 + 1 channels, h = b1 % 48 + 1, w = b2 % 48 + 1; byte 3 bit 0: values are the
// remaining bytes / 255 (what darknet's loader gives compare), or the remaining bytes as float32
// (anything: NaN, Inf, huge, denormal). Image a takes the first c*h*w values, b the next c*h*w, the
// values repeating when the input is shorter. Each metric must succeed when the image is large
// enough for it, fail with a message otherwise; on [0, 1] values its result is in its range.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmp.h"
#include "fuzz_util.h"

static int min_size(const char *name)
{
    if(!strcmp(name, "ssim")) return 11;
    if(!strcmp(name, "ssim_unfiltered") || !strncmp(name, "psnr_hvs", 8)) return 8;
    if(!strcmp(name, "sobel_edges")) return 2;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if(size < 4) return 0;
    int c = data[0] % 4 + 1, h = data[1] % 48 + 1, w = data[2] % 48 + 1, raw = data[3] & 1;
    const uint8_t *src = data + 4;
    size_t nsrc = raw ? (size - 4)/4 : size - 4, total = (size_t)c*h*w, i;
    float *a = malloc(2*total*sizeof(float)), *b = a + total;
    for(i = 0; i < 2*total; ++i){
        if(!nsrc){ a[i] = 0; continue; }
        if(raw) memcpy(a + i, src + 4*(i % nsrc), 4);
        else a[i] = src[i % nsrc]/255.f;
    }
    int k;
    for(k = 0; k < cmp_count(); ++k){
        const char *name = cmp_name(k);
        double v = 0;
        char err[256];
        memset(err, 0, sizeof(err));
        int rc = cmp_metric(name, a, b, c, h, w, &v, err, sizeof(err));
        int big = h >= min_size(name) && w >= min_size(name);
        FZ_CHECK(rc == 0 || !big, "%s failed on %dx%dx%d: %s", name, c, h, w, err);
        if(rc){ FZ_CHECK_ERR(err); continue; }
        if(raw) continue;
        FZ_CHECK(!isnan(v), "%s is NaN on [0, 1] images (%dx%dx%d)", name, c, h, w);
        double eps = 1e-6;
        if(!strncmp(name, "ssim", 4) || !strcmp(name, "cor")) FZ_CHECK(v >= -1 - eps && v <= 1 + eps, "%s %g", name, v);
        else if(!strcmp(name, "mse")) FZ_CHECK(v >= 0 && v <= 1 + eps, "%s %g", name, v);
        else if(!strcmp(name, "psnr")) FZ_CHECK(v >= -eps, "%s %g", name, v);
        else if(!strncmp(name, "psnr_hvs", 8)) FZ_CHECK(isfinite(v) && v <= 100, "%s %g", name, v);
        else FZ_CHECK(isfinite(v) && v >= 0, "%s %g", name, v);
    }
    double v;
    char err[256];
    FZ_CHECK(cmp_metric("nosuch", a, b, c, h, w, &v, err, sizeof(err)) == -1, "an unknown name passed");
    if(c == 3) (void)cmp_is_grey(a, h*w);
    free(a);
    return 0;
}
