// check_omp.c: darknet's CPU loops threaded with OpenMP (patches 0050-0055) against the serial
// loop. Each op runs on 1 thread (OpenMP's `if` keeps it in one thread: darknet's loop as it was)
// and on 2 and 3 threads (an uneven split), on inputs above the patches' 32768-element threshold
// so the threaded path runs; every patch keeps each output's sum in darknet's order, so the
// results must agree bit for bit. im2col and col2im are also checked against a serial reference
// written here; the engine's exact regularized step (its threaded passes, issue 14) is the same on
// 1, 2 and 3 threads. In an OPENMP=0 build every op is serial and only the references are checked.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "engine.h"
#include "reg.h"
#include "activations.h"
#include "avgpool_layer.h"
#include "batchnorm_layer.h"
#include "blas.h"
#include "col2im.h"
#include "convolutional_layer.h"
#include "gemm.h"
#include "im2col.h"
#include "maxpool_layer.h"
#include "testutil.h"

#ifndef DK_FORK_AB   // patches/pjreddie 0050-0056 (OpenMP in pjreddie's loops); AB threads its own loops

// ----------------------------------------------------------------------------------------------
// running an op on 1, 2 and 3 threads

// op(ctx, out): writes its result (n floats) to out from the inputs in ctx (never changed)
typedef void (*omp_op)(void *ctx, float *out);

static float *randv(size_t n, uint64_t *rng, float lo, float hi)
{
    float *x = malloc(n * sizeof(float));
    tu_fill(x, n, lo, hi, rng);
    return x;
}

// the first index where a and b differ (as bits), or -1
static long first_diff(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(float))) return (long)i;
    return -1;
}

// op on 2 and 3 threads equals op on 1 thread, bit for bit; returns the 1-thread result (free it)
static float *same_on_threads(const char *name, omp_op op, void *ctx, size_t n)
{
    float *one = calloc(n, sizeof(float)), *many = calloc(n, sizeof(float));
    gemm_set_threads(1);
    op(ctx, one);
    for (int t = 2; t <= 3; t++) {
        memset(many, 0, n * sizeof(float));
        gemm_set_threads(t);
        op(ctx, many);
        long i = first_diff(one, many, n);
        ck_assert_msg(i < 0, "%s: %d threads differ from 1 at [%ld]: %.9g vs %.9g", name, t, i, i < 0 ? 0 : many[i], i < 0 ? 0 : one[i]);
    }
    gemm_set_threads(1);
    free(many);
    return one;
}

static void assert_close(const char *name, const float *a, const float *ref, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(a[i] - ref[i]) <= tol * (1 + fabs(ref[i])), "%s: [%zu] %.9g, reference %.9g", name, i, a[i], ref[i]);
}

// ----------------------------------------------------------------------------------------------
// im2col / col2im (patches 0050, 0057)

typedef struct { int c, h, w, k, s, p, oh, ow; float *im, *col; } conv_ctx;

static void conv_geometry(conv_ctx *x, int c, int h, int w, int k, int s, int p)
{
    x->c = c; x->h = h; x->w = w; x->k = k; x->s = s; x->p = p;
    x->oh = (h + 2 * p - k) / s + 1;
    x->ow = (w + 2 * p - k) / s + 1;
}

static void op_im2col(void *ctx, float *out)
{
    conv_ctx *x = ctx;
    size_t n = (size_t)x->c * x->k * x->k * x->oh * x->ow;
    for (size_t i = 0; i < n; i++) out[i] = 7;   // im2col writes every column, zeros included
    im2col_cpu(x->im, x->c, x->h, x->w, x->k, x->s, x->p, out);
}

static void op_col2im(void *ctx, float *out)
{
    conv_ctx *x = ctx;
    col2im_cpu(x->col, x->c, x->h, x->w, x->k, x->s, x->p, out);
}

// the serial reference: column row (ci, ky, kx), output pixel (oy, ox) reads image pixel
// (ci, oy*s + ky - p, ox*s + kx - p), 0 outside
static void im2col_ref(const conv_ctx *x, float *col, int transpose, float *im)
{
    int sp = x->oh * x->ow;
    for (int ci = 0; ci < x->c; ci++)
        for (int ky = 0; ky < x->k; ky++)
            for (int kx = 0; kx < x->k; kx++)
                for (int oy = 0; oy < x->oh; oy++)
                    for (int ox = 0; ox < x->ow; ox++) {
                        int r = (ci * x->k + ky) * x->k + kx;
                        int iy = oy * x->s + ky - x->p, ix = ox * x->s + kx - x->p;
                        int inside = iy >= 0 && iy < x->h && ix >= 0 && ix < x->w;
                        float *c = col + (size_t)r * sp + oy * x->ow + ox;
                        if (!transpose) *c = inside ? x->im[(ci * x->h + iy) * x->w + ix] : 0;
                        else if (inside) im[(ci * x->h + iy) * x->w + ix] += *c;
                    }
}

START_TEST(im2col_col2im_equal_serial)
{
    // 3x3 pad 1, 3x3/2 pad 1, 1x1/2 (ResNet's projections), 7x7/2 pad 3 (the stem); patch 0057's
    // edges: 5x5/3 pad 2, 3x3/2 pad 3 (whole rows and columns in the padding), 3x3 pad 0, and a
    // 5x5/2 pad 2 kernel wider than its 3-pixel-wide image, a 7x7/4 pad 3 one whose first columns
    // never reach the image
    static const int g[][6] = {{16, 21, 19, 3, 1, 1}, {24, 25, 23, 3, 2, 1}, {128, 40, 38, 1, 2, 0}, {3, 64, 62, 7, 2, 3},
                               {160, 9, 7, 5, 3, 2}, {80, 10, 11, 3, 2, 3}, {48, 12, 11, 3, 1, 0}, {400, 9, 3, 5, 2, 2},
                               {1200, 5, 2, 7, 4, 3}};
    uint64_t rng = 11;
    for (unsigned i = 0; i < sizeof g / sizeof g[0]; i++) {
        conv_ctx x;
        conv_geometry(&x, g[i][0], g[i][1], g[i][2], g[i][3], g[i][4], g[i][5]);
        size_t nim = (size_t)x.c * x.h * x.w, ncol = (size_t)x.c * x.k * x.k * x.oh * x.ow;
        ck_assert_msg(ncol >= 32768, "case %u is below the threaded size", i);
        x.im = randv(nim, &rng, -1, 1);
        x.col = randv(ncol, &rng, -1, 1);
        char name[64];
        snprintf(name, sizeof name, "im2col case %u", i);
        float *col = same_on_threads(name, op_im2col, &x, ncol);
        float *ref = calloc(ncol, sizeof(float));
        im2col_ref(&x, ref, 0, NULL);
        assert_close(name, col, ref, ncol, 0);
        snprintf(name, sizeof name, "col2im case %u", i);
        float *im = same_on_threads(name, op_col2im, &x, nim);
        float *imref = calloc(nim, sizeof(float));
        im2col_ref(&x, x.col, 1, imref);
        assert_close(name, im, imref, nim, 1e-6);
        free(col); free(ref); free(im); free(imref); free(x.im); free(x.col);
    }
}
END_TEST

// im2col_cpu_batch / col2im_cpu_batch (patch 0057): nb images in one call, image b's columns at
// b*out_h*out_w of each row, equal bit for bit to one im2col_cpu / col2im_cpu call an image
typedef struct { conv_ctx g; int nb; float *ims, *cols; } batch_ctx;

static void op_im2col_batch(void *ctx, float *out)
{
    batch_ctx *x = ctx;
    const conv_ctx *g = &x->g;
    size_t n = (size_t)g->c * g->k * g->k * g->oh * g->ow * x->nb;
    for (size_t i = 0; i < n; i++) out[i] = 7;   // every column is written, zeros included
    im2col_cpu_batch(x->ims, x->nb, (size_t)g->c * g->h * g->w, g->c, g->h, g->w, g->k, g->s, g->p, out,
                     x->nb * g->oh * g->ow);
}

static void op_col2im_batch(void *ctx, float *out)
{
    batch_ctx *x = ctx;
    const conv_ctx *g = &x->g;
    col2im_cpu_batch(x->cols, x->nb, g->c, g->h, g->w, g->k, g->s, g->p, out, (size_t)g->c * g->h * g->w,
                     x->nb * g->oh * g->ow);
}

START_TEST(im2col_col2im_batch_equal_one_image_at_a_time)
{
    // 3x3 pad 1 on 9x7 and on 4x4, 3x3/2 pad 1, 7x7/4 pad 3 (columns that never reach the image)
    static const int g[][6] = {{16, 9, 7, 3, 1, 1}, {64, 4, 4, 3, 1, 1}, {40, 9, 8, 3, 2, 1}, {96, 5, 2, 7, 4, 3}};
    uint64_t rng = 13;
    for (unsigned i = 0; i < sizeof g / sizeof g[0]; i++) {
        batch_ctx x;
        conv_geometry(&x.g, g[i][0], g[i][1], g[i][2], g[i][3], g[i][4], g[i][5]);
        x.nb = 5;
        int sp = x.g.oh * x.g.ow, rows = x.g.c * x.g.k * x.g.k;
        size_t nim = (size_t)x.g.c * x.g.h * x.g.w, ncol = (size_t)rows * sp * x.nb;
        ck_assert_msg(ncol >= 32768, "case %u is below the threaded size", i);
        x.ims = randv(nim * x.nb, &rng, -1, 1);
        x.cols = randv(ncol, &rng, -1, 1);
        char name[64];
        snprintf(name, sizeof name, "im2col batch case %u", i);
        float *col = same_on_threads(name, op_im2col_batch, &x, ncol);
        snprintf(name, sizeof name, "col2im batch case %u", i);
        float *ims = same_on_threads(name, op_col2im_batch, &x, nim * x.nb);
        float *one = malloc((size_t)rows * sp * sizeof(float)), *cimg = malloc((size_t)rows * sp * sizeof(float));
        float *im = calloc(nim, sizeof(float));
        for (int b = 0; b < x.nb; b++) {
            im2col_cpu(x.ims + b * nim, x.g.c, x.g.h, x.g.w, x.g.k, x.g.s, x.g.p, one);
            for (int r = 0; r < rows; r++) {
                long d = first_diff(col + (size_t)r * sp * x.nb + b * sp, one + (size_t)r * sp, sp);
                ck_assert_msg(d < 0, "im2col batch case %u: image %d row %d column %ld: %g, one image %g", i, b, r, d,
                              col[(size_t)r * sp * x.nb + b * sp + (d < 0 ? 0 : d)], one[(size_t)r * sp + (d < 0 ? 0 : d)]);
                memcpy(cimg + (size_t)r * sp, x.cols + (size_t)r * sp * x.nb + b * sp, sp * sizeof(float));
            }
            memset(im, 0, nim * sizeof(float));
            col2im_cpu(cimg, x.g.c, x.g.h, x.g.w, x.g.k, x.g.s, x.g.p, im);
            long d = first_diff(ims + b * nim, im, nim);
            ck_assert_msg(d < 0, "col2im batch case %u: image %d pixel %ld: %g, one image %g", i, b, d,
                          ims[b * nim + (d < 0 ? 0 : d)], im[d < 0 ? 0 : d]);
        }
        free(col); free(one); free(im); free(cimg); free(ims); free(x.ims); free(x.cols);
    }
}
END_TEST

// the batched layout of patch 0014: (batch, rows, n) <-> (rows, batch*n)
typedef struct { int b, rows, n; float *x, *y; } layout_ctx;

static void op_to_matrix(void *ctx, float *out)
{
    layout_ctx *l = ctx;
    conv_batch_to_matrix(l->x, l->b, l->rows, l->n, out);
}

static void op_add_to_batch(void *ctx, float *out)
{
    layout_ctx *l = ctx;
    size_t n = (size_t)l->b * l->rows * l->n;
    memcpy(out, l->x, n * sizeof(float));
    conv_matrix_add_to_batch(l->y, l->b, l->rows, l->n, out);
}

START_TEST(batched_layout_equal_serial)
{
    uint64_t rng = 12;
    layout_ctx l = {5, 67, 113, NULL, NULL};
    size_t n = (size_t)l.b * l.rows * l.n;
    l.x = randv(n, &rng, -1, 1);
    l.y = randv(n, &rng, -1, 1);
    float *m = same_on_threads("conv_batch_to_matrix", op_to_matrix, &l, n);
    for (int i = 0; i < l.b; i++)
        for (int r = 0; r < l.rows; r++)
            ck_assert(!memcmp(m + (size_t)r * l.b * l.n + i * l.n, l.x + ((size_t)i * l.rows + r) * l.n, l.n * sizeof(float)));
    free(same_on_threads("conv_matrix_add_to_batch", op_add_to_batch, &l, n));
    free(m); free(l.x); free(l.y);
}
END_TEST

// ----------------------------------------------------------------------------------------------
// batch norm (patch 0051): the statistics, normalisation and the backward's sums

typedef struct { int b, f, sp; float *x, *d, *mean, *var, *md, *vd, *scales; } bn_ctx;

static void op_mean(void *ctx, float *out) { bn_ctx *c = ctx; mean_cpu(c->x, c->b, c->f, c->sp, out); }
static void op_variance(void *ctx, float *out) { bn_ctx *c = ctx; variance_cpu(c->x, c->mean, c->b, c->f, c->sp, out); }
static void op_mean_delta(void *ctx, float *out) { bn_ctx *c = ctx; mean_delta_cpu(c->d, c->var, c->b, c->f, c->sp, out); }
static void op_variance_delta(void *ctx, float *out) { bn_ctx *c = ctx; variance_delta_cpu(c->x, c->d, c->mean, c->var, c->b, c->f, c->sp, out); }
static void op_backward_scale(void *ctx, float *out) { bn_ctx *c = ctx; backward_scale_cpu(c->x, c->d, c->b, c->f, c->sp, out); }
static void op_backward_bias(void *ctx, float *out) { bn_ctx *c = ctx; backward_bias(out, c->d, c->b, c->f, c->sp); }

static void op_normalize(void *ctx, float *out)
{
    bn_ctx *c = ctx;
    size_t n = (size_t)c->b * c->f * c->sp;
    memcpy(out, c->x, n * sizeof(float));
    normalize_cpu(out, c->mean, c->var, c->b, c->f, c->sp);
    scale_bias(out, c->scales, c->b, c->f, c->sp);
    add_bias(out, c->mean, c->b, c->f, c->sp);
}

static void op_normalize_delta(void *ctx, float *out)
{
    bn_ctx *c = ctx;
    size_t n = (size_t)c->b * c->f * c->sp;
    memcpy(out, c->d, n * sizeof(float));
    normalize_delta_cpu(c->x, c->mean, c->var, c->md, c->vd, c->b, c->f, c->sp, out);
}

// darknet's batch norm loops as they were before patch 0058 (sums in the output array, pow, the
// filter's terms per element, each sum in serial order): the patched ones sum in a register, which
// darknet's -Ofast vectorizes, so the order of a sum's terms changes: within float rounding
static void old_mean_var(const bn_ctx *c, float *mean, float *var)
{
    for (int i = 0; i < c->f; i++) {
        mean[i] = 0;
        for (int j = 0; j < c->b; j++) for (int k = 0; k < c->sp; k++) mean[i] += c->x[j * c->f * c->sp + i * c->sp + k];
        mean[i] *= (float)(1. / (c->b * c->sp));
    }
    for (int i = 0; i < c->f; i++) {
        var[i] = 0;
        for (int j = 0; j < c->b; j++)
            for (int k = 0; k < c->sp; k++) var[i] += pow((c->x[j * c->f * c->sp + i * c->sp + k] - mean[i]), 2);
        var[i] *= (float)(1. / (c->b * c->sp - 1));
    }
}

static void old_deltas(const bn_ctx *c, float *md, float *vd, float *delta)
{
    int n = c->b * c->sp;
    for (int i = 0; i < c->f; i++) {
        md[i] = 0;
        for (int j = 0; j < c->b; j++) for (int k = 0; k < c->sp; k++) md[i] += c->d[j * c->f * c->sp + i * c->sp + k];
        md[i] *= (-1. / (sqrt(c->var[i]) + .000001f));
        vd[i] = 0;
        if (c->var[i] <= 0) continue;
        for (int j = 0; j < c->b; j++)
            for (int k = 0; k < c->sp; k++) {
                int index = j * c->f * c->sp + i * c->sp + k;
                vd[i] += c->d[index] * (c->x[index] - c->mean[i]);
            }
        double sd = sqrt(c->var[i]);
        vd[i] *= -.5 / ((sd + .000001f) * (sd + .000001f) * sd);
    }
    memcpy(delta, c->d, (size_t)n * c->f * sizeof(float));
    for (int j = 0; j < c->b; j++)
        for (int f = 0; f < c->f; f++)
            for (int k = 0; k < c->sp; k++) {
                int index = j * c->f * c->sp + f * c->sp + k;
                delta[index] = delta[index] * 1. / (sqrt(c->var[f]) + .000001f) +
                               (n > 1 ? c->vd[f] * 2. * (c->x[index] - c->mean[f]) / (n - 1) : 0) + c->md[f] / n;
            }
}

START_TEST(batchnorm_equal_serial)
{
    uint64_t rng = 13;
    bn_ctx c = {3, 13, 31 * 29};
    size_t n = (size_t)c.b * c.f * c.sp;
    c.x = randv(n, &rng, -2, 3);
    c.d = randv(n, &rng, -1, 1);
    c.scales = randv(c.f, &rng, 0.5, 2);
    c.mean = same_on_threads("mean_cpu", op_mean, &c, c.f);
    c.var = same_on_threads("variance_cpu", op_variance, &c, c.f);
    // against a double-precision reference (the order of float sums is darknet's; a loose tolerance)
    for (int f = 0; f < c.f; f++) {
        double m = 0, v = 0;
        for (int b = 0; b < c.b; b++) for (int i = 0; i < c.sp; i++) m += c.x[(b * c.f + f) * c.sp + i];
        m /= (double)c.b * c.sp;
        for (int b = 0; b < c.b; b++) for (int i = 0; i < c.sp; i++) v += pow(c.x[(b * c.f + f) * c.sp + i] - m, 2);
        v /= (double)c.b * c.sp - 1;
        ck_assert_msg(fabs(c.mean[f] - m) <= 1e-4 && fabs(c.var[f] - v) <= 1e-4 * v, "filter %d: mean %g (%g), variance %g (%g)", f, c.mean[f], m, c.var[f], v);
    }
    float *om = malloc(c.f * sizeof(float)), *ov = malloc(c.f * sizeof(float));
    old_mean_var(&c, om, ov);
    assert_close("mean_cpu against darknet's loop before patch 0058", c.mean, om, c.f, 1e-5);
    assert_close("variance_cpu against darknet's loop before patch 0058", c.var, ov, c.f, 1e-5);
    c.md = same_on_threads("mean_delta_cpu", op_mean_delta, &c, c.f);
    c.vd = same_on_threads("variance_delta_cpu", op_variance_delta, &c, c.f);
    float *od = malloc(n * sizeof(float));
    old_deltas(&c, om, ov, od);
    assert_close("mean_delta_cpu against darknet's loop before patch 0058", c.md, om, c.f, 1e-4);
    assert_close("variance_delta_cpu against darknet's loop before patch 0058", c.vd, ov, c.f, 1e-4);
    float *nd = same_on_threads("normalize_delta_cpu", op_normalize_delta, &c, n);
    assert_close("normalize_delta_cpu against darknet's loop before patch 0058", nd, od, n, 1e-6);
    float *nx = malloc(n * sizeof(float));
    memcpy(nx, c.x, n * sizeof(float));
    memcpy(od, c.x, n * sizeof(float));
    normalize_cpu(nx, c.mean, c.var, c.b, c.f, c.sp);
    for (int b = 0; b < c.b; b++)
        for (int f = 0; f < c.f; f++)
            for (int i = 0; i < c.sp; i++) {
                int index = b * c.f * c.sp + f * c.sp + i;
                od[index] = (od[index] - c.mean[f]) / (sqrt(c.var[f]) + .000001f);
            }
    assert_close("normalize_cpu against darknet's loop before patch 0058", nx, od, n, 1e-6);
    free(nx);
    free(om); free(ov); free(od); free(nd);
    free(same_on_threads("backward_scale_cpu", op_backward_scale, &c, c.f));
    float *bb = same_on_threads("backward_bias", op_backward_bias, &c, c.f);
    for (int f = 0; f < c.f; f++) {
        double s = 0;
        for (int b = 0; b < c.b; b++) for (int i = 0; i < c.sp; i++) s += c.d[(b * c.f + f) * c.sp + i];
        ck_assert_msg(fabs(bb[f] - s) <= 1e-3, "backward_bias[%d] %g, reference %g", f, bb[f], s);
    }
    free(bb);
    free(same_on_threads("normalize_cpu, scale_bias, add_bias", op_normalize, &c, n));
    free(c.x); free(c.d); free(c.scales); free(c.mean); free(c.var); free(c.md); free(c.vd);
}
END_TEST

// a [batchnorm] layer's backward in inference mode (patch 0007's loop) and training mode
typedef struct { layer l; float *in, *delta; int train; } bnl_ctx;

static void op_bn_layer(void *ctx, float *out)
{
    bnl_ctx *c = ctx;
    size_t n = (size_t)c->l.outputs * c->l.batch;
    network net = {0};
    net.train = c->train;
    net.input = c->in;
    net.delta = out;
    fill_cpu(c->l.out_c, 0, c->l.bias_updates, 1);
    fill_cpu(c->l.out_c, 0, c->l.scale_updates, 1);
    forward_batchnorm_layer(c->l, net);
    memcpy(c->l.delta, c->delta, n * sizeof(float));
    backward_batchnorm_layer(c->l, net);
}

START_TEST(batchnorm_layer_equal_serial)
{
    uint64_t rng = 14;
    for (int train = 0; train <= 1; train++) {
        bnl_ctx c;
        c.l = make_batchnorm_layer(2, 27, 25, 24);
        size_t n = (size_t)c.l.outputs * c.l.batch;
        c.in = randv(n, &rng, -1, 2);
        c.delta = randv(n, &rng, -1, 1);
        c.train = train;
        tu_fill(c.l.scales, c.l.out_c, 0.5, 1.5, &rng);
        tu_fill(c.l.rolling_variance, c.l.out_c, 0.5, 1.5, &rng);
        free(same_on_threads(train ? "[batchnorm] training backward" : "[batchnorm] inference backward", op_bn_layer, &c, n));
        free(c.in); free(c.delta);
        free_layer(c.l);
    }
}
END_TEST

// ----------------------------------------------------------------------------------------------
// activations (patches 0052, 0059)

typedef struct { int n; ACTIVATION a; float *x, *d; } act_ctx;

static void op_activate(void *ctx, float *out)
{
    act_ctx *c = ctx;
    memcpy(out, c->x, c->n * sizeof(float));
    activate_array(out, c->n, c->a);
}

static void op_gradient(void *ctx, float *out)
{
    act_ctx *c = ctx;
    memcpy(out, c->d, c->n * sizeof(float));
    gradient_array(c->x, c->n, c->a, out);
}

START_TEST(activations_equal_serial)
{
    // every value against activate()/gradient() element by element (patch 0059 writes ReLU's and
    // linear's loops out): long arrays (threaded) and short ones, NaN, -0 and 0 among them. Equal as
    // floats: darknet's -Ofast (no signed zeros) may make delta*0 a +0 where the test's -O2 gives -0
    // (threads against one thread stay bit for bit). A NaN input stays NaN through activate_array.
    static const ACTIVATION acts[] = {LINEAR, RELU, LEAKY, RAMP, LOGISTIC, TANH, ELU};
    static const int sizes[] = {50001, 1001};
    for (unsigned z = 0; z < 2; z++) {
        uint64_t rng = 15;
        act_ctx c = {sizes[z]};
        c.x = randv(c.n, &rng, -3, 3);
        c.d = randv(c.n, &rng, -1, 1);
        c.x[3] = NAN; c.x[4] = -0.0f; c.x[5] = 0.0f; c.d[6] = NAN; c.d[7] = -0.0f;
        for (unsigned i = 0; i < sizeof acts / sizeof acts[0]; i++) {
            c.a = acts[i];
            char name[64];
            snprintf(name, sizeof name, "activate_array %s (%d)", get_activation_string(c.a), c.n);
            float *y = same_on_threads(name, op_activate, &c, c.n);
            // ReLU and linear (patch 0059) at every element, the others (darknet's switch in -Ofast
            // against the test's -O2 build of the same functions) at every 997th
            int every = c.a == RELU || c.a == LINEAR ? 1 : 997;
            for (int j = 0; j < c.n; j += every) {
                float want = activate(c.x[j], c.a);
                ck_assert_msg(y[j] == want || (isnan(y[j]) && isnan(want)),
                              "%s: [%d] of %g: %g, activate() %g", name, j, c.x[j], y[j], want);
            }
            free(y);
            snprintf(name, sizeof name, "gradient_array %s (%d)", get_activation_string(c.a), c.n);
            float *g = same_on_threads(name, op_gradient, &c, c.n);
            for (int j = 0; j < c.n && every == 1; j++) {
                float want = c.d[j];
                want *= gradient(c.x[j], c.a);
                // a NaN delta where ReLU is off: darknet's gradient() kept the NaN (NaN * 0), the
                // written-out loop under -Ofast may give 0, as PyTorch's threshold_backward does
                int relu_masked_nan = c.a == RELU && isnan(want) && !(c.x[j] > 0) && g[j] == 0;
                // a NaN input x: -Ofast's comparisons assume no NaN, so the written-out loop may
                // let the delta through (as PyTorch's x <= 0 ? 0 : delta does) or mask it
                int relu_nan_x = c.a == RELU && isnan(c.x[j]) && (g[j] == c.d[j] || g[j] == 0 || isnan(g[j]));
                ck_assert_msg(g[j] == want || (isnan(g[j]) && isnan(want)) || relu_masked_nan || relu_nan_x,
                              "%s: [%d] of %g, delta %g: %g, gradient() %g", name, j, c.x[j], c.d[j], g[j], want);
            }
            free(g);
        }
        free(c.x); free(c.d);
    }
}
END_TEST

// ----------------------------------------------------------------------------------------------
// pooling (patch 0053)

typedef struct { layer l; float *in, *delta; int back; } pool_ctx;

static void op_pool(void *ctx, float *out)
{
    pool_ctx *c = ctx;
    network net = {0};
    net.input = c->in;
    if (!c->back) {
        c->l.forward(c->l, net);
        memcpy(out, c->l.output, (size_t)c->l.outputs * c->l.batch * sizeof(float));
        return;
    }
    net.delta = out;
    c->l.forward(c->l, net);
    memcpy(c->l.delta, c->delta, (size_t)c->l.outputs * c->l.batch * sizeof(float));
    c->l.backward(c->l, net);
}

START_TEST(pooling_equal_serial)
{
    uint64_t rng = 16;
    for (int i = 0; i < 3; i++) {
        pool_ctx c;
        // ResNet's 3x3/2 with padding (overlapping windows), 2x2/2, global average
        if (i == 0) c.l = make_maxpool_layer(2, 33, 31, 16, 3, 2, 2);
        else if (i == 1) c.l = make_maxpool_layer(3, 32, 30, 20, 2, 2, 0);
        else c.l = make_avgpool_layer(4, 15, 13, 200);
        size_t nin = (size_t)c.l.inputs * c.l.batch, nout = (size_t)c.l.outputs * c.l.batch;
        c.in = randv(nin, &rng, -1, 1);
        c.delta = randv(nout, &rng, -1, 1);
        char name[64];
        for (c.back = 0; c.back <= 1; c.back++) {
            snprintf(name, sizeof name, "%s %s, case %d", i < 2 ? "maxpool" : "avgpool", c.back ? "backward" : "forward", i);
            free(same_on_threads(name, op_pool, &c, c.back ? nin : nout));
        }
        free(c.in); free(c.delta);
        free_layer(c.l);
    }
}
END_TEST

// ----------------------------------------------------------------------------------------------
// shortcut (patch 0054)

typedef struct { int b, w1, h1, c1, w2, h2, c2; float *add, *out0; } sc_ctx;

static void op_shortcut(void *ctx, float *out)
{
    sc_ctx *c = ctx;
    memcpy(out, c->out0, (size_t)c->b * c->w2 * c->h2 * c->c2 * sizeof(float));
    shortcut_cpu(c->b, c->w1, c->h1, c->c1, c->add, c->w2, c->h2, c->c2, 0.75f, 1.25f, out);
}

START_TEST(shortcut_equal_serial)
{
    // same size, a strided `from` (twice the size), an upsampled one (half), fewer channels
    static const int g[][6] = {{40, 30, 32, 40, 30, 32}, {40, 30, 32, 20, 15, 32}, {20, 15, 64, 40, 30, 64}, {40, 30, 16, 40, 30, 24}};
    uint64_t rng = 17;
    for (unsigned i = 0; i < sizeof g / sizeof g[0]; i++) {
        sc_ctx c = {3, g[i][0], g[i][1], g[i][2], g[i][3], g[i][4], g[i][5]};
        size_t n2 = (size_t)c.b * c.w2 * c.h2 * c.c2;
        c.add = randv((size_t)c.b * c.w1 * c.h1 * c.c1, &rng, -1, 1);
        c.out0 = randv(n2, &rng, -1, 1);
        char name[64];
        snprintf(name, sizeof name, "shortcut_cpu case %u", i);
        free(same_on_threads(name, op_shortcut, &c, n2));
        free(c.add); free(c.out0);
    }
}
END_TEST

// ----------------------------------------------------------------------------------------------
// vector ops: the SGD update (patch 0055)

typedef struct { int n, inc; float *x, *y; } vec_ctx;

static void op_update(void *ctx, float *out)
{
    vec_ctx *c = ctx;
    size_t n = (size_t)c->n * c->inc;
    float *w = out, *dw = out + n;
    memcpy(w, c->x, n * sizeof(float));
    memcpy(dw, c->y, n * sizeof(float));
    // update_convolutional_layer's sequence: decay, step, momentum, then a fill and a copy
    axpy_cpu(c->n, -0.0005f * 16, w, c->inc, dw, c->inc);
    axpy_cpu(c->n, 0.01f / 16, dw, c->inc, w, c->inc);
    scal_cpu(c->n, 0.9f, dw, c->inc);
    fill_cpu(c->n, 0.5f, out + 2 * n, c->inc);
    copy_cpu(c->n, w, c->inc, out + 3 * n, c->inc);
}

START_TEST(vector_ops_equal_serial)
{
    uint64_t rng = 18;
    for (int inc = 1; inc <= 2; inc++) {
        vec_ctx c = {100003, inc};
        size_t n = (size_t)c.n * inc;
        c.x = randv(n, &rng, -1, 1);
        c.y = randv(n, &rng, -1, 1);
        float *r = same_on_threads(inc == 1 ? "axpy/scal/fill/copy, stride 1" : "axpy/scal/fill/copy, stride 2", op_update, &c, 4 * n);
        for (size_t i = 0; i < n; i += 1009 * inc) {
            float dw = c.y[i] + -0.0005f * 16 * c.x[i], w = c.x[i] + 0.01f / 16 * dw;
            ck_assert_msg(fabsf(r[i] - w) <= 1e-6f && fabsf(r[n + i] - 0.9f * dw) <= 1e-6f && r[2 * n + i] == 0.5f && r[3 * n + i] == r[i],
                          "update [%zu]: %g %g", i, r[i], r[n + i]);
        }
        free(r); free(c.x); free(c.y);
    }
}
END_TEST

// ----------------------------------------------------------------------------------------------
// the engine's threaded passes (issue 14): one exact regularized step on 1, 2 and 3 threads

// conv + BN + leaky, maxpool 3x3/2 (overlapping), conv + BN, shortcut, a logistic conv, avgpool:
// every threaded rule and pass above the threshold (batch 4 of 3x40x40)
static const char *OMP_NET =
    "[net]\nbatch=4\nwidth=40\nheight=40\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=3\nstride=2\npadding=1\n"
    "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=relu\n"
    "[shortcut]\nfrom=-2\nactivation=linear\n"
    "[convolutional]\nfilters=12\nsize=3\nstride=1\npad=1\nactivation=logistic\n"
    "[avgpool]\n[connected]\noutput=5\nactivation=linear\n[softmax]\n";

typedef struct { const char *reg; } eng_ctx;

// the heatmap, then every layer's weight, bias and scale updates after the step
static void op_reg_step(void *ctx, float *out)
{
    eng_ctx *x = ctx;
    tu_case c = tu_case_new(OMP_NET, 21, 1);
    char err[512];
    eng_reg_cfg rc = {reg_lookup(x->reg, err, sizeof err), ENG_ONEHOT, 0.5f, ENG_EXACT, 0};
    uint64_t rng = 3;
    eng_reg_report rep;
    ck_assert_msg(eng_reg_step(c.e, &rc, c.truth, &rng, &rep, err, sizeof err) == 0, "%s", err);
    memcpy(out, eng_last_heatmap(c.e), (size_t)c.n * sizeof(float));
    size_t o = c.n;
    for (int k = 0; k < c.net->n; k++) {
        layer *l = &c.net->layers[k];
        if (l->weight_updates) { memcpy(out + o, l->weight_updates, l->nweights * sizeof(float)); o += l->nweights; }
        if (l->bias_updates) { memcpy(out + o, l->bias_updates, l->n * sizeof(float)); o += l->n; }
        if (l->scale_updates) { memcpy(out + o, l->scale_updates, l->n * sizeof(float)); o += l->n; }
    }
    out[o] = (float)rep.r_mean;
    tu_case_free(&c);
}

START_TEST(engine_step_same_on_threads)
{
    static const char *regs[] = {"tv", "ssim"};
    // the size of op_reg_step's output, from one network of the cfg
    tu_case c = tu_case_new(OMP_NET, 21, 1);
    size_t n = c.n + 1;
    for (int k = 0; k < c.net->n; k++) {
        layer *l = &c.net->layers[k];
        n += (l->weight_updates ? l->nweights : 0) + (l->bias_updates ? l->n : 0) + (l->scale_updates ? l->n : 0);
    }
    tu_case_free(&c);
    for (int i = 0; i < 2; i++) {
        eng_ctx x = {regs[i]};
        // OpenBLAS's gemm may split its sums differently on another thread count: a tolerance
        float *one = calloc(n, sizeof(float)), *many = calloc(n, sizeof(float));
        gemm_set_threads(1);
        op_reg_step(&x, one);
        double norm = 0;
        for (size_t j = 0; j < n; j++) norm += fabs(one[j]);
        ck_assert_msg(norm > 0, "%s: a zero step", x.reg);
        for (int t = 2; t <= 3; t++) {
            gemm_set_threads(t);
            op_reg_step(&x, many);
            char name[64];
            snprintf(name, sizeof name, "exact %s step, %d threads", x.reg, t);
            assert_close(name, many, one, n, 1e-5);
        }
        gemm_set_threads(1);
        free(one); free(many);
    }
}
END_TEST

#endif   // DK_FORK_AB

Suite *make_omp_suite(void)
{
    Suite *s = suite_create("omp");
    TCase *tc = tcase_create("core");
#ifndef DK_FORK_AB
    tcase_add_test(tc, im2col_col2im_equal_serial);
    tcase_add_test(tc, im2col_col2im_batch_equal_one_image_at_a_time);
    tcase_add_test(tc, batched_layout_equal_serial);
    tcase_add_test(tc, batchnorm_equal_serial);
    tcase_add_test(tc, batchnorm_layer_equal_serial);
    tcase_add_test(tc, activations_equal_serial);
    tcase_add_test(tc, pooling_equal_serial);
    tcase_add_test(tc, shortcut_equal_serial);
    tcase_add_test(tc, vector_ops_equal_serial);
    tcase_add_test(tc, engine_step_same_on_threads);
#endif
    suite_add_tcase(s, tc);
    return s;
}
