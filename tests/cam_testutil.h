// cam_testutil.h: what the suites of Grad-CAM, RISE and occlusion share (check_gradcam.c,
// check_rise.c, check_occlusion.c): a quiet network for a batch, the plain bilinear resampling of
// their oracles, and the files of a `darknet saliency map` run (cfg, weights, data, image).
#ifndef SALIENCY_CAM_TESTUTIL_H
#define SALIENCY_CAM_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "engine.h"
#include "methods.h"
#include "testutil.h"

// cfg text parsed for batch images at a time (patch 0022; 0: the cfg's), random weights from seed,
// the weights of layer `sharpen` (-1: none) times `gain` (a peakier softmax: the maps have teeth)
static inline network *cam_net(const char *cfg, const char *name, int batch, uint64_t seed, int sharpen, float gain)
{
    char path[512];
    tu_path(path, sizeof path, name);
    tu_write_text(path, cfg);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    network *net = dk_parse(path, batch);
    fclose(stderr);
    stderr = saved;
    tu_randomize(net, seed);
    if (sharpen >= 0) {
        layer *l = &net->layers[sharpen];
        for (int i = 0; i < l->nweights; i++) l->weights[i] *= gain;
    }
    return net;
}

// out (oh, ow) = in (ih, iw) bilinearly, pixel centres aligned (PyTorch align_corners=False):
// written here from the definition, the oracle's own
static inline void cam_bilinear(const float *in, int ih, int iw, float *out, int oh, int ow)
{
    for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++) {
            double sy = (i + 0.5) * ih / oh - 0.5, sx = (j + 0.5) * iw / ow - 0.5;
            if (sy < 0) sy = 0;
            if (sx < 0) sx = 0;
            if (sy > ih - 1) sy = ih - 1;
            if (sx > iw - 1) sx = iw - 1;
            int y0 = (int)sy, x0 = (int)sx, y1 = y0 + 1 < ih ? y0 + 1 : y0, x1 = x0 + 1 < iw ? x0 + 1 : x0;
            double fy = sy - y0, fx = sx - x0;
            out[i * ow + j] = (float)((1 - fy) * ((1 - fx) * in[y0 * iw + x0] + fx * in[y0 * iw + x1]) +
                                      fy * ((1 - fx) * in[y1 * iw + x0] + fx * in[y1 * iw + x1]));
        }
}

// the largest |a - b| over n values
static inline double cam_maxdiff(const float *a, const float *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++) if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
    return d;
}

static inline double cam_maxabs(const float *a, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

// ---- a `darknet saliency map` run ----------------------------------------------------------------

typedef struct { char cfg[512], weights[512], data[512], image[512], raw[512]; } cam_files;

// tag names the files (one set per suite, in tu_tmpdir); cfg with batch=1 in its [net]; the weights
// from tu_randomize(seed); the image (w, h, 3) uniform from seed + 1 as a PNG (exactly the net's
// size: the loader's values are x quantised to 1/255, as the in-process check reads it back)
static inline cam_files cam_cli_files(const char *tag, const char *cfg, int w, int h, int classes, uint64_t seed)
{
    cam_files f;
    char name[128], names[512], text[1024];
    snprintf(name, sizeof name, "%s.cfg", tag);
    tu_path(f.cfg, sizeof f.cfg, name);
    snprintf(name, sizeof name, "%s.weights", tag);
    tu_path(f.weights, sizeof f.weights, name);
    snprintf(name, sizeof name, "%s.data", tag);
    tu_path(f.data, sizeof f.data, name);
    snprintf(name, sizeof name, "%s.names", tag);
    tu_path(names, sizeof names, name);
    snprintf(name, sizeof name, "%s_img.png", tag);
    tu_path(f.image, sizeof f.image, name);
    snprintf(name, sizeof name, "%s.f32", tag);
    tu_path(f.raw, sizeof f.raw, name);
    tu_write_text(f.cfg, cfg);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    network *net = dk_parse(f.cfg, 0);
    tu_randomize(net, seed);
    dk_save_weights(net, f.weights);
    fclose(stderr);
    stderr = saved;
    dk_free(net);
    text[0] = 0;
    for (int k = 0; k < classes; k++) snprintf(text + strlen(text), sizeof text - strlen(text), "class%d\n", k);
    tu_write_text(names, text);
    snprintf(text, sizeof text, "classes=%d\nnames=%s\n", classes, names);
    tu_write_text(f.data, text);
    image im = make_image(w, h, 3);
    uint64_t rng = seed + 1;
    tu_fill(im.data, w * h * 3, 0, 1, &rng);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s", f.image);
    prefix[strlen(prefix) - 4] = 0;   // darknet appends ".png"
    save_image_options(im, prefix, PNG, 0);
    free_image(im);
    return f;
}

// the run's network (batch 1, the weights file) and image (darknet's loader), in-process
static inline network *cam_cli_net(const cam_files *f)
{
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    network *net = dk_parse((char *)f->cfg, 0);
    load_weights(net, (char *)f->weights);
    fclose(stderr);
    stderr = saved;
    return net;
}

// n floats of a raw file, or NULL when it has not exactly 4n bytes
static inline float *cam_read_raw(const char *path, int n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    float *v = malloc(sizeof(float) * (n + 1));
    size_t got = fread(v, sizeof(float), n + 1, fp);
    fclose(fp);
    if ((int)got != n) { free(v); return NULL; }
    return v;
}

// runs map with args after the files (and -out <tmpdir>/<tag>); out holds stdout + stderr; the exit status
static inline int cam_map(const cam_files *f, const char *args, char *out, int outlen)
{
    char cmd[4096], prefix[512];
    snprintf(prefix, sizeof prefix, "%s", f->raw);
    prefix[strlen(prefix) - 4] = 0;   // the pictures beside the raw file, never in the working directory
    snprintf(cmd, sizeof cmd, "map %s %s %s %s -out %s %s", f->data, f->cfg, f->weights, f->image, prefix, args);
    return tu_saliency("OPENBLAS_NUM_THREADS=1", cmd, out, outlen);
}

// Each bad value: exit status 1 and a message naming it (every expected piece in out).
static inline void cam_expect_error(const cam_files *f, const char *args, const char *const *expect)
{
    char out[16384];
    int rc = cam_map(f, args, out, sizeof out);
    ck_assert_msg(rc == 1, "map ... %s: exit %d (want 1): %s", args, rc, out);
    for (int i = 0; expect[i]; i++)
        ck_assert_msg(strstr(out, expect[i]) != NULL, "map ... %s: the message does not name '%s': %s", args, expect[i], out);
}

#endif
