// check_engine.c: the gradient-of-input pass against central differences of the score, per layer
// type and for a small ResNet, all three formulations, inference and training mode; and the
// promise that the pass changes no weights, updates or rolling statistics.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine_internal.h"
#include "testutil.h"

#define NET TU_NET

// the networks of testutil's table this suite checks: one per layer type and variant
static const char *NETS[] = {
    "conv",
    "conv_bn",
    "conv_stride2_nopad",
    "conv_groups",
    "conv_1x1",
    "conv_1x1_stride2",
    "connected",
    "connected_bn",
    "maxpool",
    "maxpool_overlap",
    "avgpool",
    "shortcut",
    "shortcut_downsample",
    "route",
    "dropout",
    "activation",
    "batchnorm",
    "softmax_only",
    "shortcut_alpha_beta",
    "shortcut_fewer_channels",
    "crop",
    "crop_noadjust",
    "conv_ramp",
    "upsample",
    "upsample_reverse",
};
#define N_NETS ((int)(sizeof NETS / sizeof NETS[0]))

static const char *RESNET = "[net]\nbatch=2\nwidth=8\nheight=8\nchannels=3\n" TU_RESNET_BODY;

// S at the current input: the forward (BN statistics frozen in training mode), then the score
typedef struct { network *net; eng *e; tu_frozen *frozen; int loss; const float *seed, *truth; } score_ctx;

static double score_at(void *p)
{
    score_ctx *k = p;
    if (k->frozen) tu_frozen_forward(k->net, k->frozen); else dk_forward(k->net);
    return tu_score(k->net, eng_top(k->e), k->loss, k->seed, k->truth);
}

// g against central differences of S over a sample of input entries (kinks: ReLU/maxpool pattern
// changes between the steps, skipped)
static tu_fd_stats fd_check(network *net, eng *e, tu_frozen *frozen, eng_form form, const float *seed,
                            const float *truth, const float *g, int samples, uint64_t *rng, const char *what)
{
    int n = net->inputs * net->batch;
    int *idx = malloc(samples * sizeof(int));
    for (int s = 0; s < samples; s++) idx[s] = (int)(tu_uniform(rng) * n) % n;
    score_ctx k = {net, e, frozen, form == ENG_LOSS, seed, truth};
    char op[160];
    snprintf(op, sizeof op, "%s %s input", what, eng_form_name(form));
    tu_fd_opts o = {2e-3, 2, 0, 2e-3, 0, 1e-2, 0.01};
    tu_fd_stats st = tu_fd_check(op, score_at, &k, net->input, n, g, idx, samples, 0, o);
    free(idx);
    return st;
}

// One network, one formulation, one mode: g against central differences. tweak (may be NULL)
// changes the random network before the check.
static void check_net_with(const char *name, const char *cfg, eng_form form, int train, uint64_t seed, int samples,
                           void (*tweak)(network *))
{
    network *net = tu_net(cfg);
    tu_randomize(net, seed);
    if (tweak) tweak(net);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert_msg(e != NULL, "%s: %s", name, err);
    int B = net->batch, K = eng_classes(e), n = net->inputs * B;
    uint64_t rng = seed + 17;
    tu_fill(net->input, n, -1, 1, &rng);
    float *truth = calloc(B * K, sizeof(float));
    for (int b = 0; b < B; b++) truth[b * K + (b * 7 + (int)seed) % K] = 1;
    free(net->truth);   // the forward computes no cost (the buffer freed, not dropped: a leak)
    net->truth = 0;
    net->train = train;
    dk_forward(net);
    float *seedv = malloc(B * K * sizeof(float));
    float *g = malloc(n * sizeof(float));
    eng_seed(e, form, truth, &rng, seedv);
    eng_input_grad(e, seedv, g);
    tu_frozen *fz = train ? tu_freeze(net) : NULL;
    char what[128];
    snprintf(what, sizeof what, "%s(%s, seed %d)", name, train ? "train" : "infer", (int)seed);
    tu_fd_stats st = fd_check(net, e, fz, form, seedv, truth, g, samples, &rng, what);
    if (fz) tu_unfreeze(net, fz);
    ck_assert_msg(st.failed == 0, "%s %s: %d of %d sampled input gradients differ from central differences",
                  what, eng_form_name(form), st.failed, st.checked);
    ck_assert_msg(st.checked >= samples / 2, "%s %s: only %d of %d samples away from kinks",
                  what, eng_form_name(form), st.checked, samples);
    double gn = 0;
    for (int i = 0; i < n; i++) gn += fabs(g[i]);
    ck_assert_msg(gn > 0, "%s: the heatmap is identically zero", what);
    free(truth); free(seedv); free(g);
    eng_free(e);
    dk_free(net);
}

static void check_net(const char *name, const char *cfg, eng_form form, int train, uint64_t seed, int samples)
{
    check_net_with(name, cfg, form, train, seed, samples, NULL);
}

// Channels with a small rolling variance, where darknet's 1/(sqrt(var) + 1e-6) and the other form
// 1/sqrt(var + 1e-6) differ by orders of magnitude (AlexeyAB's fork uses the other one).
static void tiny_variance(network *net)
{
    layer *l = &net->layers[0];
    l->rolling_variance[0] = 1e-9f;
    l->rolling_variance[1] = 4e-8f;
}

START_TEST(batchnorm_small_variance_matches_central_differences)
{
    const char *cfg = NET("[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\npad=1\nactivation=linear\n[connected]\noutput=4\nactivation=linear\n");
    for (int form = 0; form < 3; form++) check_net_with("bn_small_variance", cfg, (eng_form)form, 0, 3, 24, tiny_variance);
}
END_TEST

START_TEST(each_layer_type_matches_central_differences)
{
    int idx = _i / 6, combo = _i % 6;
    eng_form form = (eng_form)(combo % 3);
    int train = combo / 3;
    if (tu_fork_skip(NETS[idx])) return;   // not on this fork, and why (testutil.h)
    check_net(NETS[idx], tu_testnet(NETS[idx]), form, train, 1 + idx, 24);
}
END_TEST

START_TEST(small_resnet_matches_central_differences)
{
    int seed = 1 + _i / 6, combo = _i % 6;
    check_net("resnet", RESNET, (eng_form)(combo % 3), combo / 3, seed, 30);
}
END_TEST

// ----------------------------------------------------------------------------------------------

typedef struct { float *buf; size_t n; } snap;

static void snap_layer_arrays(network *net, snap *out, int *count, int take)
{
    int c = 0;
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        int nb = l->type == CONNECTED ? l->outputs : l->type == BATCHNORM ? l->c : l->n;
        float *arrs[8] = {l->weights, l->biases, l->scales, l->rolling_mean, l->rolling_variance,
                          l->weight_updates, l->bias_updates, l->scale_updates};
        size_t sizes[8] = {(size_t)(l->nweights ? l->nweights : l->inputs * l->outputs), nb, nb, nb, nb,
                           (size_t)(l->nweights ? l->nweights : l->inputs * l->outputs), nb, nb};
        for (int a = 0; a < 8; a++) {
            if (!arrs[a] || (l->type != CONVOLUTIONAL && l->type != CONNECTED && l->type != BATCHNORM)) continue;
            if (take) {
                out[c].n = sizes[a];
                out[c].buf = malloc(sizes[a] * sizeof(float));
                memcpy(out[c].buf, arrs[a], sizes[a] * sizeof(float));
            } else {
                ck_assert_msg(memcmp(out[c].buf, arrs[a], sizes[a] * sizeof(float)) == 0,
                              "layer %d array %d changed by the gradient-of-input pass", k, a);
                free(out[c].buf);
            }
            c++;
        }
    }
    *count = c;
}

START_TEST(pass_changes_no_weights_updates_or_rolling_statistics)
{
    network *net = tu_net(RESNET);
    tu_randomize(net, 5);
    uint64_t rng = 3;
    // non-zero updates, as in the middle of darknet's training, must survive untouched
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        if (l->weight_updates) tu_fill(l->weight_updates, l->nweights, -1, 1, &rng);
        if (l->bias_updates) tu_fill(l->bias_updates, l->n, -1, 1, &rng);
        if (l->scale_updates) tu_fill(l->scale_updates, l->n, -1, 1, &rng);
    }
    char err[256];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert(e != NULL);
    snap s[256];
    int c1, c2;
    snap_layer_arrays(net, s, &c1, 1);
    size_t seen = *net->seen;
    int n = net->inputs * net->batch, K = eng_classes(e);
    float *x = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    float *truth = calloc(net->batch * K, sizeof(float));
    truth[1] = 1; truth[K + 3] = 1;
    tu_fill(x, n, 0, 1, &rng);
    for (int train = 0; train < 2; train++)
        for (int f = 0; f < 3; f++) eng_heatmap(e, x, truth, (eng_form)f, train, &rng, g);
    snap_layer_arrays(net, s, &c2, 0);
    ck_assert_int_eq(c1, c2);
    ck_assert(c1 > 10);
    ck_assert(*net->seen == seen);
    free(x); free(g); free(truth);
    eng_free(e);
    dk_free(net);
}
END_TEST

// In training mode the heatmap of image 0 must not depend on image 1 (BN statistics constant).
START_TEST(training_mode_heatmap_is_per_example)
{
    network *net = tu_net(RESNET);
    tu_randomize(net, 9);
    char err[256];
    eng *e = eng_init(net, err, sizeof err);
    int n1 = net->inputs, K = eng_classes(e);
    uint64_t rng = 11;
    float *x = malloc(2 * n1 * sizeof(float)), *g = malloc(2 * n1 * sizeof(float)), *g2 = malloc(2 * n1 * sizeof(float));
    float *truth = calloc(2 * K, sizeof(float));
    truth[2] = 1; truth[K + 4] = 1;
    tu_fill(x, 2 * n1, 0, 1, &rng);
    // the same forward statistics, then a different image 1: run the sweep on both batches with
    // the first batch's statistics held (inference mode with rolling := batch statistics)
    net->train = 1;
    memcpy(net->input, x, 2 * n1 * sizeof(float));
    dk_forward(net);
    tu_frozen *fz = tu_freeze(net);
    float *seed = malloc(2 * K * sizeof(float));
    eng_seed(e, ENG_ONEHOT, truth, &rng, seed);
    eng_input_grad(e, seed, g);
    for (int i = 0; i < n1; i++) x[n1 + i] = 1 - x[n1 + i];
    memcpy(net->input, x, 2 * n1 * sizeof(float));
    tu_frozen_forward(net, fz);
    net->train = 0;
    eng_input_grad(e, seed, g2);
    tu_unfreeze(net, fz);
    for (int i = 0; i < n1; i++) ck_assert_float_eq_tol(g[i], g2[i], 1e-5f * (1 + fabsf(g[i])));
    int differ = 0;
    for (int i = 0; i < n1; i++) differ += fabsf(g[n1 + i] - g2[n1 + i]) > 1e-4f;
    ck_assert_msg(differ > 0, "image 1 changed but its heatmap did not");
    free(x); free(g); free(g2); free(truth); free(seed);
    eng_free(e);
    dk_free(net);
}
END_TEST

START_TEST(spectreg_is_seedable)
{
    network *net = tu_net(tu_testnet("conv"));
    tu_randomize(net, 2);
    char err[256];
    eng *e = eng_init(net, err, sizeof err);
    int n = net->inputs * net->batch, K = eng_classes(e);
    float *x = malloc(n * sizeof(float)), *g1 = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float));
    float *truth = calloc(net->batch * K, sizeof(float));
    uint64_t r0 = 99;
    tu_fill(x, n, 0, 1, &r0);
    uint64_t a = 42, b = 42, c = 43;
    eng_heatmap(e, x, truth, ENG_SPECTREG, 0, &a, g1);
    eng_heatmap(e, x, truth, ENG_SPECTREG, 0, &b, g2);
    ck_assert(memcmp(g1, g2, n * sizeof(float)) == 0);
    eng_heatmap(e, x, truth, ENG_SPECTREG, 0, &c, g2);
    ck_assert(memcmp(g1, g2, n * sizeof(float)) != 0);
    // a fresh draw every call: the state moved on
    eng_heatmap(e, x, truth, ENG_SPECTREG, 0, &a, g2);
    ck_assert(memcmp(g1, g2, n * sizeof(float)) != 0);
    free(x); free(g1); free(g2); free(truth);
    eng_free(e);
    dk_free(net);
}
END_TEST

START_TEST(unsupported_layer_is_named)
{
    network *net = tu_net(NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n[normalization]\n[connected]\noutput=3\nactivation=linear\n"));
    char err[512] = "";
    eng *e = eng_init(net, err, sizeof err);
    ck_assert(e == NULL);
    ck_assert_msg(strstr(err, "layer 1") && strstr(err, "normalization"), "message was: %s", err);
    dk_free(net);
    network *net2 = tu_net(NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=elu\n"));
    e = eng_init(net2, err, sizeof err);
    ck_assert(e == NULL);
    ck_assert_msg(strstr(err, "elu"), "message was: %s", err);
    dk_free(net2);
    network *net3 = tu_net("[net]\nbatch=1\nwidth=4\nheight=4\nchannels=1\n[connected]\noutput=3\nactivation=linear\n");
    e = eng_init(net3, err, sizeof err);
    ck_assert(e == NULL);
    ck_assert_msg(strstr(err, "softmax"), "message was: %s", err);
    dk_free(net3);
}
END_TEST

START_TEST(formulation_names)
{
    eng_form f;
    ck_assert_int_eq(eng_form_parse("loss", &f), 0); ck_assert_int_eq(f, ENG_LOSS);
    ck_assert_int_eq(eng_form_parse("onehot", &f), 0); ck_assert_int_eq(f, ENG_ONEHOT);
    ck_assert_int_eq(eng_form_parse("spectreg", &f), 0); ck_assert_int_eq(f, ENG_SPECTREG);
    ck_assert_int_eq(eng_form_parse("logit", &f), -1);
}
END_TEST

// Every rule's transpose is the transpose of its linear map: <L x, t> = <x, L^T t> on random x and t,
// for every layer of every test network (and the ResNet), inference and training mode.
static double dot(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static void adjoint_case(const char *name, const char *cfg, int train)
{
    network *net = tu_net(cfg);
    tu_randomize(net, 13);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert_msg(e != NULL, "%s: %s", name, err);
    int top = eng_top(e), B = net->batch;
    uint64_t rng = 21;
    tu_fill(net->input, net->inputs * B, 0, 1, &rng);
    net->train = train;
    dk_forward(net);   // maxpool's choices, dropout's draws, the BN statistics
    float **x = calloc(top, sizeof(float *)), **xt = calloc(top, sizeof(float *));
    for (int j = 0; j < top; j++) {
        int m = net->layers[j].outputs * B;
        x[j] = malloc(m * sizeof(float));
        xt[j] = malloc(m * sizeof(float));
    }
    int nin = net->inputs * B;
    float *xin = malloc(nin * sizeof(float)), *xint = malloc(nin * sizeof(float));
    for (int k = 0; k < top; k++) {
        const layer *l = &net->layers[k];
        const eng_rule *r = eng_rule_of(l->type);
        ck_assert(r && r->lin);
        int m = l->outputs * B;
        float *y = malloc(m * sizeof(float)), *t = malloc(m * sizeof(float));
        for (int j = 0; j < top; j++) { tu_fill(x[j], net->layers[j].outputs * B, -1, 1, &rng); memset(xt[j], 0, net->layers[j].outputs * B * sizeof(float)); }
        tu_fill(xin, nin, -1, 1, &rng);
        memset(xint, 0, nin * sizeof(float));
        tu_fill(t, m, -1, 1, &rng);
        r->lin(e, k, x, xin, y);
        r->lin_t(e, k, t, xt, xint);
        double lhs = dot(y, t, m), rhs = dot(xin, xint, nin), scale = fabs(lhs);
        for (int j = 0; j < k; j++) rhs += dot(x[j], xt[j], net->layers[j].outputs * B);
        for (int j = 0; j < top; j++) scale += 1e-3 * sqrt(dot(x[j], x[j], net->layers[j].outputs * B));
        ck_assert_msg(fabs(lhs - rhs) <= 1e-5 * (scale + 1), "%s layer %d (%s, %s): <Lx, t> = %.9g, <x, L^T t> = %.9g",
                      name, k, r->name, train ? "train" : "infer", lhs, rhs);
        free(y); free(t);
    }
    for (int j = 0; j < top; j++) { free(x[j]); free(xt[j]); }
    free(x); free(xt); free(xin); free(xint);
    eng_free(e);
    dk_free(net);
}

START_TEST(every_rule_transpose_is_adjoint)
{
    for (int i = 0; i < N_NETS; i++)
        for (int train = 0; train < 2 && !tu_fork_skip(NETS[i]); train++) adjoint_case(NETS[i], tu_testnet(NETS[i]), train);
    adjoint_case("resnet", RESNET, 1);
    eng_conv_naive = 1;   // the per-image convolutions too
    adjoint_case("resnet (naive convolutions)", RESNET, 0);
    adjoint_case("conv_groups (naive)", tu_testnet("conv_groups"), 0);
    eng_conv_naive = 0;
}
END_TEST

// ----------------------------------------------------------------------------------------------
// [crop]: the heatmap of an image seen through the crop is the gradient with respect to the
// uncropped input: zero outside the window of that forward's draw, the flip and the colour scale
// (2, or 1 with noadjust) held. Training-mode forwards draw afresh: seeds of rand() are tried until
// both a flipped and an unflipped draw, and a window off the centre, have been checked.

#ifndef DK_FORK_AB   // AlexeyAB's [crop] keeps no record of its window: the engine refuses it there (dk_alexeyab.c)
// the window of the last forward from l->indexes (patch 0040): offsets and whether it flipped
static void crop_draw(const layer *l, int *dh, int *dw, int *flip)
{
    int first = l->indexes[0], w = l->w;
    *flip = l->out_w > 1 && l->indexes[1] < first;
    *dh = first / w % l->h;
    *dw = *flip ? w - 1 - first % w : first % w;
}

static void crop_case(const char *name, unsigned seed, int train, int *flipped, int *unflipped, int *offcentre)
{
    network *net = tu_net(tu_testnet(name));
    tu_randomize(net, 4);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert_msg(e != NULL, "%s: %s", name, err);
    int B = net->batch, K = eng_classes(e), n1 = net->inputs, n = n1 * B;
    uint64_t rng = 31 + seed;
    tu_fill(net->input, n, 0, 1, &rng);
    float *truth = calloc(B * K, sizeof(float));
    for (int b = 0; b < B; b++) truth[b * K + b % K] = 1;
    free(net->truth);
    net->truth = 0;
    net->train = train;
    srand(seed);
    dk_forward(net);
    const layer *l = &net->layers[0];
    ck_assert(l->type == CROP);
    int dh, dw, flip;
    crop_draw(l, &dh, &dw, &flip);
    if (!train) ck_assert_msg(!flip && dh == (l->h - l->out_h) / 2 && dw == (l->w - l->out_w) / 2,
                              "%s: inference crop not the centre: dh %d dw %d flip %d", name, dh, dw, flip);
    *flipped += flip;
    *unflipped += !flip;
    *offcentre += dh != (l->h - l->out_h) / 2 || dw != (l->w - l->out_w) / 2;
    // the darknet forward's output is the rule's map of the input plus the colour offset
    float s = l->noadjust ? 1 : 2, c = l->noadjust ? 0 : -1;
    for (int b = 0; b < B; b++)
        for (int ch = 0; ch < l->c; ch++)
            for (int i = 0; i < l->out_h; i++)
                for (int j = 0; j < l->out_w; j++) {
                    int col = flip ? l->w - dw - j - 1 : j + dw;
                    float x = net->input[((b * l->c + ch) * l->h + i + dh) * l->w + col];
                    ck_assert_float_eq(l->output[((b * l->c + ch) * l->out_h + i) * l->out_w + j], x * s + c);
                }
    float *seedv = malloc(B * K * sizeof(float)), *g = malloc(n * sizeof(float));
    eng_seed(e, ENG_LOSS, truth, &rng, seedv);
    eng_input_grad(e, seedv, g);
    // zero outside the window, non-zero inside for every image
    for (int b = 0; b < B; b++) {
        double inside = 0;
        for (int ch = 0; ch < l->c; ch++)
            for (int y = 0; y < l->h; y++)
                for (int x = 0; x < l->w; x++) {
                    float v = g[b * n1 + (ch * l->h + y) * l->w + x];
                    int x0 = flip ? l->w - dw - l->out_w : dw;   // darknet's dw counts from the right when flipped
                    int in = y >= dh && y < dh + l->out_h && x >= x0 && x < x0 + l->out_w;
                    if (in) inside += fabs(v);
                    else ck_assert_msg(v == 0, "%s image %d: heatmap %g at (%d, %d, %d), outside the window at (%d, %d)",
                                       name, b, v, ch, y, x, dh, dw);
                }
        ck_assert_msg(inside > 0, "%s image %d: the heatmap is zero inside the window", name, b);
    }
    // and it is the gradient: central differences with the draw held (tu_frozen_forward)
    tu_frozen *fz = train ? tu_freeze(net) : NULL;
    char what[128];
    snprintf(what, sizeof what, "%s(%s, rand seed %u, flip %d, dh %d, dw %d)", name, train ? "train" : "infer", seed, flip, dh, dw);
    // every input (72 per image); a leaky unit right at its kink biases both steps alike: curvature
    score_ctx k = {net, e, fz, 1, seedv, truth};
    tu_fd_opts o = {2e-3, 2, 1, 2e-3, 0, 1e-2, 0.01};
    tu_fd_stats st = tu_fd_check(what, score_at, &k, net->input, n, g, NULL, 0, 1, o);
    if (fz) tu_unfreeze(net, fz);
    ck_assert_msg(st.failed == 0 && st.checked >= n / 2, "%s: %d of %d differ from central differences (%d kinks)",
                  what, st.failed, st.checked, st.skipped);
    free(truth); free(seedv); free(g);
    eng_free(e);
    dk_free(net);
}

START_TEST(crop_heatmap_is_the_gradient_of_the_uncropped_input)
{
    int flipped = 0, unflipped = 0, off = 0;
    for (unsigned seed = 1; seed <= 12; seed++) crop_case("crop", seed, 1, &flipped, &unflipped, &off);
    ck_assert_msg(flipped > 0 && unflipped > 0 && off > 0, "draws: %d flipped, %d not, %d off the centre", flipped, unflipped, off);
    int f2 = 0, u2 = 0, o2 = 0;
    for (unsigned seed = 1; seed <= 4; seed++) crop_case("crop_noadjust", seed, 1, &f2, &u2, &o2);
    ck_assert_msg(f2 == 0 && o2 > 0, "crop_noadjust (flip=0): %d flipped, %d off the centre", f2, o2);
    for (unsigned sd = 1; sd <= 6; sd++) crop_case("crop", sd, 0, &f2, &u2, &o2);
    crop_case("crop_noadjust", 1, 0, &f2, &u2, &o2);
}
END_TEST
#endif

// darknet's backward_crop_layer is empty: the heatmap through darknet's own backward (the engine
// without exact rules, method=finite's path) would be zero, so that engine refuses the layer by name
#ifndef DK_FORK_AB   // AlexeyAB's [crop] keeps no record of its window: the engine refuses it there (dk_alexeyab.c)
START_TEST(darknet_backward_through_crop_is_refused_by_name)
{
    network *net = tu_net(tu_testnet("crop"));
    char err[512] = "";
    ck_assert(eng_init_for(net, 0, err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "layer 0 (crop)") && strstr(err, "empty") && strstr(err, "method=exact"), "message: %s", err);
    dk_free(net);
    // a layer without a delta buffer, anywhere below the softmax: a crop after a convolution
    net = tu_net(NET("[convolutional]\nfilters=2\nsize=1\nactivation=leaky\n[crop]\ncrop_height=4\ncrop_width=4\n[connected]\noutput=3\nactivation=linear\n"));
    ck_assert(eng_init_for(net, 0, err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "layer 1 (crop)"), "message: %s", err);
    eng *e = eng_init(net, err, sizeof err);   // the exact rules are fine with it
    ck_assert_msg(e != NULL, "%s", err);
    eng_free(e);
    dk_free(net);
}
END_TEST
#endif

Suite *make_engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("input_gradient");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, each_layer_type_matches_central_differences, 0, N_NETS * 6);
    tcase_add_loop_test(tc, small_resnet_matches_central_differences, 0, 3 * 6);
    tcase_add_test(tc, pass_changes_no_weights_updates_or_rolling_statistics);
    tcase_add_test(tc, training_mode_heatmap_is_per_example);
    tcase_add_test(tc, spectreg_is_seedable);
    tcase_add_test(tc, batchnorm_small_variance_matches_central_differences);
    tcase_add_test(tc, unsupported_layer_is_named);
    tcase_add_test(tc, formulation_names);
    tcase_add_test(tc, every_rule_transpose_is_adjoint);
#ifndef DK_FORK_AB
    tcase_add_test(tc, crop_heatmap_is_the_gradient_of_the_uncropped_input);
#endif
#ifndef DK_FORK_AB
    tcase_add_test(tc, darknet_backward_through_crop_is_refused_by_name);
#endif
    suite_add_tcase(s, tc);
    return s;
}
