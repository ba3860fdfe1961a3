// occlusion.c: occlusion sensitivity (Zeiler & Fergus 2014; ../shared/spec/saliency-methods.md).
// A W x W patch of a fill value slides over the image with stride S, all channels at once; the map
// at a pixel is the mean, over the patches covering it, of p_c(x) - p_c(x occluded) (the drop of
// the class probability), 0 where no patch covers it; written into every channel. Positive: hiding
// the pixel's neighbourhood lowers p_c; negative values (hiding raised p_c) stay in the map.
//
// Patch positions along an axis of length L: 0, S, 2S, ... below L - W, and L - W last, so the
// patches cover the image to its border whatever S (a stride larger than the window leaves gaps
// between patches, whose pixels get 0).
// Defaults (o->window, o->stride 0): W = max(1, min(H, W_img) / 8) and S = max(1, W / 2): a patch of
// an eighth of the side hides an object part, not the object, and the half-window stride covers
// every pixel away from the border by 2 x 2 patches, about 15 x 15 = 225 patches at any size
// (3 and 1 at 28 px: 676 patches).
// Fill: black (0), mean (each channel's mean over x) or blur (x blurred 11x11, sigma 5: the
// substrate of insertion/deletion, so a patch loses its detail but keeps its colour).
// The occluded images go through eng_predict eng_batch(e) at a time.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "blur.h"

// the patch starts (at most L) along an axis of length L; returns their count
static int occ_starts(int L, int win, int stride, int *out)
{
    int n = 0;
    for (int p = 0; p < L - win; p += stride) out[n++] = p;
    out[n++] = L - win;
    return n;
}

// fill (C, H, W) for a known name (black, blur, mean); -1 when the blur runs out of memory
static int occ_fill(const char *name, const float *x, int C, int H, int W, float *fill)
{
    int hw = H * W;
    if (!strcmp(name, "black")) { memset(fill, 0, sizeof(float) * C * hw); return 0; }
    if (!strcmp(name, "blur")) return blur_gauss(x, C, H, W, 11, 5, fill);
    if (!strcmp(name, "mean")) {
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int i = 0; i < hw; i++) s += x[c * hw + i];
            for (int i = 0; i < hw; i++) fill[c * hw + i] = (float)(s / hw);
        }
        return 0;
    }
    return -1;
}

int mth_occlusion(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen)
{
    int C, H, W;
    eng_input_shape(e, &C, &H, &W);
    int side = H < W ? H : W;
    int win = o->window > 0 ? o->window : (side / 8 > 1 ? side / 8 : 1);
    int stride = o->stride > 0 ? o->stride : (win / 2 > 1 ? win / 2 : 1);
    if (o->window < 0 || win > side) {
        snprintf(err, errlen, "-window %d: allowed: 1..%d (the shorter side; the input is %d wide, %d high)", o->window, side, W, H);
        return -1;
    }
    if (o->stride < 0) { snprintf(err, errlen, "-stride %d: allowed: 1 or more", o->stride); return -1; }
    const char *fname = o->fill ? o->fill : "black";
    if (strcmp(fname, "black") && strcmp(fname, "blur") && strcmp(fname, "mean")) {
        snprintf(err, errlen, "-fill %s: allowed: black, blur, mean", fname);
        return -1;
    }
    int hw = H * W, n = C * hw, B = eng_batch(e), K = eng_classes(e);
    int *ys = malloc(sizeof(int) * H), *xs = malloc(sizeof(int) * W);
    float *fill = malloc(sizeof(float) * n), *imgs = malloc(sizeof(float) * (size_t)B * n), *p = malloc(sizeof(float) * (size_t)B * K);
    double *sum = calloc(hw, sizeof(double));
    int *cnt = calloc(hw, sizeof(int));
    int rc = -1;
    if (!ys || !xs || !fill || !imgs || !p || !sum || !cnt) {
        snprintf(err, errlen, "out of memory for a batch of %d occluded %dx%dx%d images", B, C, H, W);
        goto done;
    }
    if (occ_fill(fname, x, C, H, W, fill)) {
        snprintf(err, errlen, "-fill %s: blurring the image failed (out of memory)", fname);
        goto done;
    }
    int ny = occ_starts(H, win, stride, ys), nx = occ_starts(W, win, stride, xs), np = ny * nx;
    eng_predict(e, x, 1, NULL, p);
    double p0 = p[cls], drop_max = 0;
    for (int j0 = 0; j0 < np; j0 += B) {
        int nb = np - j0 < B ? np - j0 : B;
        for (int b = 0; b < nb; b++) {
            int y0 = ys[(j0 + b) / nx], x0 = xs[(j0 + b) % nx];
            float *img = imgs + (size_t)b * n;
            memcpy(img, x, sizeof(float) * n);
            for (int c = 0; c < C; c++)
                for (int y = y0; y < y0 + win; y++)
                    memcpy(img + c * hw + y * W + x0, fill + c * hw + y * W + x0, sizeof(float) * win);
        }
        eng_predict(e, imgs, nb, NULL, p);
        for (int b = 0; b < nb; b++) {
            int y0 = ys[(j0 + b) / nx], x0 = xs[(j0 + b) % nx];
            double d = p0 - p[b * K + cls];
            if (d > drop_max) drop_max = d;
            for (int y = y0; y < y0 + win; y++)
                for (int xx = x0; xx < x0 + win; xx++) { sum[y * W + xx] += d; cnt[y * W + xx]++; }
        }
    }
    for (int i = 0; i < hw; i++) map[i] = cnt[i] ? (float)(sum[i] / cnt[i]) : 0;
    for (int c = 1; c < C; c++) memcpy(map + (size_t)c * hw, map, sizeof(float) * hw);
    info->evaluations += np + 1;
    snprintf(info->line, sizeof info->line, "%d patches of %dx%d, stride %d, fill %s; p_c(x) %.4g, largest drop %.4g",
             np, win, win, stride, fname, p0, drop_max);
    rc = 0;
done:
    free(ys); free(xs); free(fill); free(imgs); free(p); free(sum); free(cnt);
    return rc;
}
