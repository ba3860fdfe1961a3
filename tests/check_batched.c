// check_batched.c: the convolutions batched over the batch (darknet's: pjreddie's patch 0014,
// AlexeyAB's 0022; the engine's lin/lin_t/wgrad for groups = 1) against plain per-image versions,
// on every combination of stride 1/2, padding 0/1, size 1/3, groups 1/2, batch 1/3 with random
// sizes, and on two layers large enough to be cut into chunks of images.
//   darknet: forward_/backward_convolutional_layer against a direct convolution loop here; on
//            AlexeyAB's also the options its batched path leaves to its own loop (stride_x !=
//            stride_y, dilation 2, one channel and one filter).
//   engine:  heatmap and regularizer weight gradients with eng_conv_naive = 1 (its per-image loops).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "convolutional_layer.h"
#include "testutil.h"


// stride_y, dilation: AlexeyAB's options (0: stride_y = stride, dilation 1); stride is stride_x there
typedef struct { int stride, pad, size, groups, batch, c, n, h, w, stride_y, dilation; } conv_shape;

// case i (0..31) -> the combination; channels, filters and sizes drawn from rng. Cases 32, 33:
// batch 3 with about 400k floats of columns per image, so gemms of 2 images and then 1 (the
// chunks of patch 0014 and the engine hold about 1M floats), 3x3 and 1x1.
// Cases 34..36 (AlexeyAB's only, the darknet test): stride_x 2 with stride_y 1, dilation 2, and a
// 1-channel 1-filter convolution (groups = c = n = 1, as AB's antialiasing blur): AB's own loop.
#define N_SHAPES 34
#ifdef DK_FORK_AB
#define N_DARKNET_SHAPES (N_SHAPES + 3)
#else
#define N_DARKNET_SHAPES N_SHAPES
#endif
static conv_shape shape_of(int i, uint64_t *rng)
{
    conv_shape s = {0};
    if (i >= N_SHAPES) {
        conv_shape ab[3] = {{2, 1, 3, 1, 3, 3, 4, 7, 9, 1, 0}, {1, 1, 3, 1, 3, 2, 3, 8, 8, 0, 2}, {2, 1, 3, 1, 3, 1, 1, 7, 6, 0, 0}};
        return ab[i - N_SHAPES];
    }
    if (i >= 32) {
        conv_shape big = {1, i == 32, i == 32 ? 3 : 1, 1, 3, i == 32 ? 40 : 400, 4, 32, 32};
        return big;
    }
    s.stride = 1 + (i & 1);
    s.pad = (i >> 1) & 1;
    s.size = (i >> 2) & 1 ? 3 : 1;
    s.groups = 1 + ((i >> 3) & 1);
    s.batch = (i >> 4) & 1 ? 3 : 1;
    s.c = s.groups * (1 + (int)(tu_uniform(rng) * 3));
    s.n = s.groups * (1 + (int)(tu_uniform(rng) * 3));
    s.h = 4 + (int)(tu_uniform(rng) * 4);
    s.w = 4 + (int)(tu_uniform(rng) * 4);
    return s;
}

static char *shape_cfg(const conv_shape *s, const char *act, int bn, const char *tail)
{
    char *cfg = malloc(2048), ab[128] = "";
    if (s->stride_y) snprintf(ab, sizeof ab, "stride_x=%d\nstride_y=%d\n", s->stride, s->stride_y);
    if (s->dilation) snprintf(ab + strlen(ab), sizeof ab - strlen(ab), "dilation=%d\n", s->dilation);
    snprintf(cfg, 2048,
             "[net]\nbatch=%d\nwidth=%d\nheight=%d\nchannels=%d\n"
             "[convolutional]\nbatch_normalize=%d\nfilters=%d\ngroups=%d\nsize=%d\nstride=%d\npadding=%d\nactivation=%s\n"
             "%s%s",
             s->batch, s->w, s->h, s->c, bn, s->n, s->groups, s->size, s->stride, s->pad, act, ab, tail);
    return cfg;
}

static void shape_name(const conv_shape *s, char *out, int n)
{
    snprintf(out, n, "stride %d pad %d size %d groups %d batch %d c %d n %d %dx%d stride_y %d dilation %d",
             s->stride, s->pad, s->size, s->groups, s->batch, s->c, s->n, s->h, s->w,
             s->stride_y ? s->stride_y : s->stride, s->dilation ? s->dilation : 1);
}

static void assert_close(const float *a, const float *ref, int n, double tol, const char *what, const char *name)
{
    for (int i = 0; i < n; i++)
        ck_assert_msg(fabs(a[i] - ref[i]) <= tol * (1 + fabs(ref[i])), "%s (%s): index %d: %g, per-image %g",
                      what, name, i, a[i], ref[i]);
}

// ----------------------------------------------------------------------------------------------
// darknet's layer against a direct convolution: y[b,f,oy,ox] = sum_{ch,ky,kx} W[f,ch,ky,kx] x[b,g*cg+ch,iy,ix]
// (pjreddie's patch 0014, AlexeyAB's 0022, and AlexeyAB's own loop for what 0022 leaves to it)

// input pixel of output (oy, ox) and kernel offset (ky, kx), or -1 outside (zero padding); AB's
// dilation d spreads the kernel taps d apart and pads by pad*d (its im2col_cpu_ext call)
static int in_index(const layer *l, int b, int ch, int oy, int ox, int ky, int kx)
{
#ifdef DK_FORK_AB
    int d = l->dilation;
    int iy = oy * l->stride_y + (ky - l->pad) * d, ix = ox * l->stride_x + (kx - l->pad) * d;
#else
    int iy = oy * l->stride + ky - l->pad, ix = ox * l->stride + kx - l->pad;
#endif
    if (iy < 0 || ix < 0 || iy >= l->h || ix >= l->w) return -1;
    return ((b * l->c + ch) * l->h + iy) * l->w + ix;
}

// calls f(out index, weight index, input index) for every term of the convolution
#define FOR_EACH_TERM(l, BODY)                                                                            \
    for (int b = 0; b < (l)->batch; b++)                                                                  \
        for (int f = 0; f < (l)->n; f++) {                                                                \
            int cg = (l)->c / (l)->groups, g = f / ((l)->n / (l)->groups);                                \
            for (int oy = 0; oy < (l)->out_h; oy++)                                                       \
                for (int ox = 0; ox < (l)->out_w; ox++)                                                   \
                    for (int ch = 0; ch < cg; ch++)                                                       \
                        for (int ky = 0; ky < (l)->size; ky++)                                            \
                            for (int kx = 0; kx < (l)->size; kx++) {                                      \
                                int io = ((b * (l)->n + f) * (l)->out_h + oy) * (l)->out_w + ox;          \
                                int iw = ((f * cg + ch) * (l)->size + ky) * (l)->size + kx;               \
                                int ii = in_index((l), b, g * cg + ch, oy, ox, ky, kx);                   \
                                if (ii >= 0) { BODY; }                                                    \
                            }                                                                             \
        }

// a against a double-precision reference: float rounding grows with mag, the sum of |terms|
static void assert_near(const float *a, const double *ref, const double *mag, int n, const char *what, const char *name)
{
    for (int i = 0; i < n; i++)
        ck_assert_msg(fabs(a[i] - ref[i]) <= 1e-6 * (1 + mag[i]), "%s (%s): index %d: %g, direct %g",
                      what, name, i, a[i], ref[i]);
}

static void ref_init(double *ref, double *mag, const float *x, int n)
{
    for (int i = 0; i < n; i++) { ref[i] = x[i]; mag[i] = fabs(x[i]); }
}

#define ADD_TERM(ref, mag, i, v) do { double v_ = (v); (ref)[i] += v_; (mag)[i] += fabs(v_); } while (0)

START_TEST(darknet_layer_matches_direct_convolution)
{
    uint64_t rng = 1000 + _i;
    conv_shape s = shape_of(_i, &rng);
    char name[160];
    shape_name(&s, name, sizeof name);
    char *cfg = shape_cfg(&s, "linear", 0, "[connected]\noutput=3\nactivation=linear\n[softmax]\n");
    network *net = tu_net(cfg);
    free(cfg);
    tu_randomize(net, 7 + _i);
    layer *l = &net->layers[0];
    int nin = l->inputs * l->batch, nout = l->outputs * l->batch;
    tu_fill(net->input, nin, -1, 1, &rng);
    double *y = malloc(nout * sizeof(double)), *ymag = malloc(nout * sizeof(double));
    double *dx_ref = malloc(nin * sizeof(double)), *dxmag = malloc(nin * sizeof(double));
    double *wu_ref = malloc(l->nweights * sizeof(double)), *wumag = malloc(l->nweights * sizeof(double));

    // forward: W*x + bias (the fork's forward_convolutional_layer through the adapter)
    dk_layer_forward(net, 0, net->input, 1);
    for (int i = 0; i < nout; i++) { y[i] = l->biases[i % l->outputs / (l->out_h * l->out_w)]; ymag[i] = fabs(y[i]); }
    FOR_EACH_TERM(l, ADD_TERM(y, ymag, io, (double)l->weights[iw] * net->input[ii]));
    assert_near(l->output, y, ymag, nout, "forward", name);

    // backward: weight_updates += delta (x) x, net.delta += W^T delta (adding to what is there)
    tu_fill(l->delta, nout, -1, 1, &rng);
    tu_fill(l->weight_updates, l->nweights, -1, 1, &rng);
    float *dx = malloc(nin * sizeof(float));
    tu_fill(dx, nin, -1, 1, &rng);
    ref_init(dx_ref, dxmag, dx, nin);
    ref_init(wu_ref, wumag, l->weight_updates, l->nweights);
    FOR_EACH_TERM(l, {
        ADD_TERM(wu_ref, wumag, iw, (double)l->delta[io] * net->input[ii]);
        ADD_TERM(dx_ref, dxmag, ii, (double)l->weights[iw] * l->delta[io]);
    });
    dk_layer_backward(net, 0, net->input, dx, 1);
    assert_near(l->weight_updates, wu_ref, wumag, l->nweights, "weight_updates", name);
    assert_near(dx, dx_ref, dxmag, nin, "net.delta", name);

    // and without net.delta (the first layer)
    ref_init(wu_ref, wumag, l->weight_updates, l->nweights);
    FOR_EACH_TERM(l, ADD_TERM(wu_ref, wumag, iw, (double)l->delta[io] * net->input[ii]));
    dk_layer_backward(net, 0, net->input, NULL, 1);
    assert_near(l->weight_updates, wu_ref, wumag, l->nweights, "weight_updates, no net.delta", name);

    free(y); free(ymag); free(dx); free(dx_ref); free(dxmag); free(wu_ref); free(wumag);
    dk_free(net);
}
END_TEST

// ----------------------------------------------------------------------------------------------
// the engine: batched against its per-image loops

// every layer's weight/bias/scale updates, concatenated into out; with out NULL, zeroes them.
// Returns their count.
static int collect_updates(network *net, int top, float *out)
{
    int n = 0;
    for (int k = 0; k < top; k++) {
        layer *l = &net->layers[k];
        int nw = l->type == CONVOLUTIONAL ? l->nweights : l->type == CONNECTED ? l->inputs * l->outputs : 0;
        int nb = l->type == CONVOLUTIONAL ? l->n : l->type == CONNECTED ? l->outputs : 0;
        if (out) {
            memcpy(out + n, l->weight_updates, nw * sizeof(float));
            memcpy(out + n + nw, l->bias_updates, nb * sizeof(float));
            if (l->scale_updates) memcpy(out + n + nw + nb, l->scale_updates, nb * sizeof(float));
            else memset(out + n + nw + nb, 0, nb * sizeof(float));
        } else {
            if (l->weight_updates) memset(l->weight_updates, 0, nw * sizeof(float));
            if (l->bias_updates) memset(l->bias_updates, 0, nb * sizeof(float));
            if (l->scale_updates) memset(l->scale_updates, 0, nb * sizeof(float));
        }
        n += nw + 2 * nb;
    }
    return n;
}

START_TEST(engine_batched_matches_per_image)
{
    uint64_t rng = 2000 + _i;
    conv_shape s = shape_of(_i, &rng);
    char name[160];
    shape_name(&s, name, sizeof name);
    // the shape under test first (its lin_t writes the heatmap, its wgrad reads the input), then a
    // BN conv of the same shape behind it (lin_t into a stream), a smooth activation for the
    // second adjoint stream
    char tail[1024];
    snprintf(tail, sizeof tail,
             "[convolutional]\nbatch_normalize=1\nfilters=%d\ngroups=%d\nsize=%d\nstride=%d\npadding=%d\nactivation=leaky\n"
             "[connected]\noutput=4\nactivation=linear\n[softmax]\n",
             s.n, s.groups, s.size, 1, s.size == 3 ? 1 : s.pad);
    char *cfg = shape_cfg(&s, "tanh", 0, tail);
    network *net = tu_net(cfg);
    free(cfg);
    tu_randomize(net, 31 + _i);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert_msg(e != NULL, "%s: %s", name, err);
    int B = net->batch, K = eng_classes(e), nin = net->inputs * B, top = eng_top(e);
    tu_fill(net->input, nin, 0, 1, &rng);
    float *truth = calloc(B * K, sizeof(float));
    for (int b = 0; b < B; b++) truth[b * K + b % K] = 1;
    free(net->truth);   // the forward computes no cost (the buffer freed, not dropped: a leak)
    net->truth = 0;
    net->train = 0;   // rolling statistics: a batch of one 1x1 image has no variance to train with
    dk_forward(net);

    int nu = collect_updates(net, top, NULL);
    float *g[2], *upd[2];
    for (int naive = 0; naive < 2; naive++) {
        eng_conv_naive = naive;
        g[naive] = malloc(nin * sizeof(float));
        upd[naive] = malloc(nu * sizeof(float));
        float *seed = malloc(B * K * sizeof(float));
        eng_seed(e, ENG_LOSS, truth, NULL, seed);
        eng_input_grad(e, seed, g[naive]);
        free(seed);
        collect_updates(net, top, NULL);
        eng_reg_cfg c = { reg_lookup("tv", NULL, 0), ENG_LOSS, 0.7f, ENG_EXACT, 0.01f };
        ck_assert(c.reg != NULL);
        int rc = eng_reg_step(e, &c, truth, NULL, NULL, err, sizeof err);
        ck_assert_msg(rc == 0, "%s: %s", name, err);
        collect_updates(net, top, upd[naive]);
    }
    eng_conv_naive = 0;
    assert_close(g[0], g[1], nin, 1e-4, "heatmap", name);
    assert_close(upd[0], upd[1], nu, 1e-4, "regularizer updates", name);
    for (int i = 0; i < 2; i++) { free(g[i]); free(upd[i]); }
    free(truth);
    eng_free(e);
    dk_free(net);
}
END_TEST

Suite *make_batched_suite(void)
{
    Suite *s = suite_create("batched");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, darknet_layer_matches_direct_convolution, 0, N_DARKNET_SHAPES);
    tcase_add_loop_test(tc, engine_batched_matches_per_image, 0, N_SHAPES);
    suite_add_tcase(s, tc);
    return s;
}
