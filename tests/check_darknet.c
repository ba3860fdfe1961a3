// check_darknet.c: darknet's own backward against central differences, one test per bug that
// patches/pjreddie/ or patches/alexeyab/ fixes (each fails on that fork unpatched: the comments
// name the pjreddie patch, then AB's). The same tests run on both forks; the few that only
// concern one fork say why where they are left out.
#include <check.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "testutil.h"

// sum_b CE_b after darknet's real forward at the current input
typedef struct { network *net; const float *truth; int n; } ce_ctx;

static double ce_at(void *p)
{
    ce_ctx *k = p;
    dk_forward(k->net);
    const layer *sm = &k->net->layers[k->net->n - 1];
    double ce = 0;
    for (int i = 0; i < k->n; i++) if (k->truth[i] != 0) ce -= k->truth[i] * log(sm->output[i]);
    return ce;
}

// darknet's stock input gradient of sum_b CE_b (negated back to +dCE/dx) against central
// differences of the real forward (training mode recomputes the batch statistics, as darknet's
// training does). Returns the number of mismatches among the sampled inputs.
static int stock_fd(const char *cfg, int train, uint64_t seed, int samples, const char *what)
{
    network *net = tu_net(cfg);
    tu_randomize(net, seed);
    int B = net->batch, n = net->inputs * B, K = net->outputs;
    uint64_t rng = seed * 31 + 7;
    tu_fill(net->input, n, -1, 1, &rng);
    float *truth = calloc(B * K, sizeof(float));
    for (int b = 0; b < B; b++) truth[b * K + (b + (int)seed) % K] = 1;
    memcpy(net->truth, truth, B * K * sizeof(float));
    float *delta = calloc(n, sizeof(float));
    net->train = train;
    net->delta = delta;
    dk_forward(net);
    dk_backward(net);
    net->delta = 0;
    int *idx = malloc(samples * sizeof(int));
    for (int s = 0; s < samples; s++) idx[s] = (int)(tu_uniform(&rng) * n) % n;
    for (int i = 0; i < n; i++) delta[i] = -delta[i];   // +dCE/dx
    ce_ctx k = {net, truth, B * K};
    tu_fd_opts o = {2e-3, 2, 0, 2e-3, 0, 1e-2, 0.01};
    tu_fd_stats st = tu_fd_check(what, ce_at, &k, net->input, n, delta, idx, samples, 0, o);
    int bad = st.failed, checked = st.checked;
    free(idx);
    ck_assert_msg(checked >= samples / 2, "%s: only %d samples away from kinks", what, checked);
    free(delta); free(truth);
    dk_free(net);
    return bad;
}

#define NET(batch, body) "[net]\nbatch=" #batch "\nwidth=6\nheight=6\nchannels=2\n" body

// (a) patch 0004 (AB: 0010, every convolution): the first 1x1 convolution of a bottleneck
// overwrote the skip gradient.
START_TEST(bottleneck_keeps_skip_gradient)
{
    const char *cfg = NET(2,
        "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
        "[convolutional]\nfilters=2\nsize=1\nactivation=leaky\n"
        "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n"
        "[convolutional]\nfilters=4\nsize=1\nactivation=linear\n"
        "[shortcut]\nfrom=-4\nactivation=leaky\n"
        "[avgpool]\n[connected]\noutput=3\nactivation=linear\n[softmax]\n");
    for (int seed = 1; seed <= 3; seed++)
        ck_assert_int_eq(stock_fd(cfg, 1, seed, 30, "bottleneck"), 0);
}
END_TEST

// patch 0005: a strided 1x1 convolution reads every stride-th pixel.
START_TEST(strided_1x1_convolution_forward)
{
    network *net = tu_net("[net]\nbatch=1\nwidth=5\nheight=5\nchannels=2\n"
                          "[convolutional]\nfilters=3\nsize=1\nstride=2\nactivation=linear\n[softmax]\n");
    tu_randomize(net, 4);
    uint64_t rng = 5;
    tu_fill(net->input, net->inputs, -1, 1, &rng);
    net->train = 0;
    dk_forward(net);
    const layer *l = &net->layers[0];
    ck_assert_int_eq(l->out_w, 3);
    for (int f = 0; f < 3; f++)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++) {
                double v = l->biases[f];
                for (int c = 0; c < 2; c++) v += l->weights[f * 2 + c] * net->input[c * 25 + (2 * y) * 5 + 2 * x];
                ck_assert_float_eq_tol(l->output[f * 9 + y * 3 + x], v, 1e-5);
            }
    dk_free(net);
}
END_TEST

START_TEST(strided_1x1_convolution_backward)
{
    const char *cfg = "[net]\nbatch=2\nwidth=5\nheight=5\nchannels=2\n"
                      "[convolutional]\nfilters=3\nsize=1\nstride=2\nactivation=leaky\n[connected]\noutput=3\nactivation=linear\n[softmax]\n";
    ck_assert_int_eq(stock_fd(cfg, 1, 2, 30, "conv 1x1 stride 2"), 0);
}
END_TEST

// (b) patch 0006 (AB: 0011): training-mode batch norm backward is the gradient of its forward, small batch.
START_TEST(training_batchnorm_backward_is_exact)
{
    const char *cfg = "[net]\nbatch=2\nwidth=3\nheight=3\nchannels=2\n"
        "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\npad=1\nactivation=linear\n"
        "[connected]\noutput=4\nactivation=linear\n[softmax]\n";
    for (int seed = 1; seed <= 3; seed++)
        ck_assert_int_eq(stock_fd(cfg, 1, seed, 30, "conv+BN train"), 0);
    const char *cfg2 = "[net]\nbatch=3\nwidth=3\nheight=3\nchannels=1\n"
        "[connected]\nbatch_normalize=1\noutput=4\nactivation=leaky\n[connected]\noutput=3\nactivation=linear\n[softmax]\n";
    ck_assert_int_eq(stock_fd(cfg2, 1, 7, 20, "connected+BN train"), 0);
}
END_TEST

// (c) patch 0007 (AB: 0012): inference-mode batch norm backward uses the rolling statistics as constants.
START_TEST(inference_batchnorm_backward_is_exact)
{
    const char *cfg = "[net]\nbatch=2\nwidth=4\nheight=4\nchannels=2\n"
        "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\npad=1\nactivation=leaky\n"
        "[connected]\noutput=4\nactivation=linear\n[softmax]\n";
    for (int seed = 1; seed <= 3; seed++)
        ck_assert_int_eq(stock_fd(cfg, 0, seed, 30, "conv+BN inference"), 0);
}
END_TEST

// (d) patch 0008 (AB: 0014, 0015; AB's 0007 for the net without a convolution): these layers as layer 0, where net.delta is NULL, must not crash.
START_TEST(layer_zero_without_net_delta)
{
    const char *cfgs[] = {
        "[net]\nbatch=2\nwidth=4\nheight=4\nchannels=1\n[maxpool]\nsize=2\nstride=2\n[connected]\noutput=3\nactivation=linear\n[softmax]\n",
        "[net]\nbatch=2\nwidth=4\nheight=4\nchannels=3\n[avgpool]\n[softmax]\n",
        "[net]\nbatch=2\nwidth=2\nheight=2\nchannels=1\n[softmax]\n",
        "[net]\nbatch=2\nwidth=2\nheight=2\nchannels=1\n[activation]\nactivation=leaky\n[softmax]\n",
        "[net]\nbatch=2\nwidth=2\nheight=2\nchannels=1\n[batchnorm]\n[softmax]\n",
    };
    for (int c = 0; c < 5; c++) {
        network *net = tu_net(cfgs[c]);
        tu_randomize(net, 1);
        uint64_t rng = 2;
        tu_fill(net->input, net->inputs * net->batch, 0, 1, &rng);
        net->truth[0] = 1;
        net->truth[net->outputs] = 1;
        net->train = 1;
        net->delta = 0;
        dk_forward(net);
        dk_backward(net);   // crashed before the patch
        ck_assert(isfinite(*net->cost));
        dk_free(net);
    }
}
END_TEST

// patch 0009 (AB: 0015): an [activation] layer added to net.delta instead of overwriting a shortcut's share.
START_TEST(activation_layer_keeps_skip_gradient)
{
    const char *cfg = NET(2,
        "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n"
        "[activation]\nactivation=leaky\n"
        "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n"
        "[shortcut]\nfrom=-3\nactivation=linear\n"
        "[connected]\noutput=3\nactivation=linear\n[softmax]\n");
    ck_assert_int_eq(stock_fd(cfg, 1, 3, 30, "activation+shortcut"), 0);
}
END_TEST

// A whole small ResNet (basic and bottleneck blocks, BN, training mode) through darknet's backward.
// patch 0018 (pjreddie only: AB's shortcut has no alpha and beta): with alpha != 1 the shortcut's forward scales only the values both layers have; its
// backward scaled all of them (here the third channel, which the from layer lacks).
#ifndef DK_FORK_AB
START_TEST(shortcut_alpha_beta_backward)
{
    const char *cfg = NET(2,
        "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n"
        "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n"
        "[shortcut]\nfrom=-2\nalpha=0.6\nbeta=1.4\nactivation=linear\n"
        "[avgpool]\n[connected]\noutput=3\nactivation=linear\n[softmax]\n");
    for (int seed = 1; seed <= 3; seed++)
        ck_assert_int_eq(stock_fd(cfg, 0, seed, 30, "shortcut alpha/beta"), 0);
}
END_TEST
#endif

// AB's patch 0013: with batch norm the shift's gradient (bias_updates) was never filled, in a
// convolution or a [batchnorm] layer: -bias_updates against central differences of sum_b CE_b in
// the biases (training mode, batch statistics recomputed by each forward).
START_TEST(batchnorm_bias_updates_are_filled)
{
    const char *cfg = NET(3,
        "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\npad=1\nactivation=leaky\n"
        "[batchnorm]\n[connected]\noutput=4\nactivation=linear\n[softmax]\n");
    for (int L = 0; L <= 1; L++) {
        network *net = tu_net(cfg);
        tu_randomize(net, 4);
        int B = net->batch, n = net->inputs * B, K = net->outputs;
        uint64_t rng = 9;
        tu_fill(net->input, n, -1, 1, &rng);
        float *truth = calloc(B * K, sizeof(float));
        for (int b = 0; b < B; b++) truth[b * K + b % K] = 1;
        memcpy(net->truth, truth, B * K * sizeof(float));
        net->train = 1;
        net->delta = 0;
        layer *l = &net->layers[L];
        int c = l->out_c;
        memset(l->bias_updates, 0, c * sizeof(float));
        dk_forward(net);
        dk_backward(net);
        float *ana = malloc(c * sizeof(float));
        for (int f = 0; f < c; f++) ana[f] = -l->bias_updates[f];   // darknet's updates: -dCE/dbeta
        ce_ctx k = {net, truth, B * K};
        tu_fd_opts o = {2e-3, 2, 0, 2e-3, 0, 1e-2, 0.01};
        tu_fd_stats st = tu_fd_check(L ? "batchnorm layer bias_updates" : "conv+BN bias_updates", ce_at, &k, l->biases, c, ana, NULL, 0, 1, o);
        ck_assert_msg(st.failed == 0 && st.checked >= c / 2, "layer %d: %d of %d shifts wrong", L, st.failed, st.checked);
        free(ana); free(truth);
        dk_free(net);
    }
}
END_TEST

// AB's patch 0016: layers without l.train (all but convolution, maxpool, batchnorm) kept their
// delta from one step to the next and a [connected] layer never updated. Two backward passes at
// the same input give the same input gradient, and a training step changes the connected weights.
START_TEST(second_step_repeats_the_first_and_connected_updates)
{
    network *net = tu_net(NET(2,
        "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=leaky\n"
        "[avgpool]\n[connected]\noutput=3\nactivation=linear\n[softmax]\n"));
    tu_randomize(net, 6);
    int n = net->inputs * net->batch;
    uint64_t rng = 3;
    tu_fill(net->input, n, -1, 1, &rng);
    net->truth[0] = 1;
    net->truth[net->outputs + 1] = 1;
    net->train = 1;
    float *d1 = calloc(n, sizeof(float)), *d2 = calloc(n, sizeof(float));
    net->delta = d1;
    dk_forward(net);
    dk_backward(net);
    net->delta = d2;
    dk_forward(net);
    dk_backward(net);
    net->delta = 0;
    double diff = 0, norm = 0;
    for (int i = 0; i < n; i++) { diff += fabs(d1[i] - d2[i]); norm += fabs(d1[i]); }
    ck_assert_msg(norm > 0 && diff <= 1e-5 * norm, "the second backward's input gradient differs from the first by %g (of %g)", diff, norm);
    layer *fc = &net->layers[2];
    float w0 = fc->weights[0], b0 = fc->biases[0];
    for (int i = 0; i < fc->inputs * fc->outputs; i++) fc->weight_updates[i] = 0;
    dk_train_datum(net);
    ck_assert_msg(fc->weights[0] != w0 && fc->biases[0] != b0, "a training step left the connected layer as it was (w %g, b %g)", w0, b0);
    free(d1); free(d2);
    dk_free(net);
}
END_TEST

START_TEST(resnet_backward_matches_central_differences)
{
    const char *cfg = "[net]\nbatch=2\nwidth=8\nheight=8\nchannels=3\n" TU_RESNET_BODY;
    for (int seed = 1; seed <= 2; seed++)
        ck_assert_int_eq(stock_fd(cfg, 1, seed, 30, "resnet train"), 0);
}
END_TEST

// patches 0020, 0003, 0040, 0041: dk_free() frees everything a parsed network allocated
// (net->seen, t, cost, workspace, the policy's steps and scales, a softmax's loss, a crop's indexes,
// a [saliency] layer's state and the engine its first training step made). SANITIZE=1: LeakSanitizer checks it at the test's exit. Plain builds: glibc's count
// of allocated bytes (mallinfo2; it does not see ASan's heap) over many parse/train/free cycles.
// It climbs for a few cycles while glibc's per-thread cache of freed chunks fills (up to 7 a
// size, counted as allocated), then stays put: a leak makes it grow every cycle.
#ifndef DK_FORK_AB
START_TEST(free_network_frees_everything)
{
    const char *cfg = "[net]\nbatch=2\nwidth=8\nheight=8\nchannels=2\npolicy=steps\nsteps=10,20\nscales=.1,.1\n"
        "[crop]\ncrop_height=6\ncrop_width=6\nflip=1\n"
        "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
        "[maxpool]\nsize=2\nstride=2\n"
        "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=linear\n"
        "[shortcut]\nfrom=-2\nactivation=leaky\n"
        "[route]\nlayers=-1\n"
        "[batchnorm]\n[activation]\nactivation=tanh\n[dropout]\nprobability=.2\n"
        "[connected]\nbatch_normalize=1\noutput=5\nactivation=leaky\n"
        "[connected]\noutput=3\nactivation=linear\n"
        "[softmax]\n[saliency]\nregularizer=tv\nweight=0.5\n";
    enum { CYCLES = 40, STEADY = 10 };
    size_t at[CYCLES];
    for (int cycle = 0; cycle < CYCLES; cycle++) {
        network *net = tu_net(cfg);
        tu_randomize(net, 5);
        uint64_t rng = 6;
        tu_fill(net->input, net->inputs * net->batch, 0, 1, &rng);
        net->truth[1] = 1;
        net->truth[net->outputs + 2] = 1;
        net->train = 1;
        FILE *saved = stderr;   // the [saliency] layer prints its regularizer per step
        stderr = fopen("/dev/null", "w");
        dk_forward(net);   // the [saliency] layer makes its engine
        dk_backward(net);
        fclose(stderr);
        stderr = saved;
        ck_assert(isfinite(*net->cost));
        dk_free(net);
        at[cycle] = mallinfo2().uordblks;
    }
    long grew = (long)(at[CYCLES - 1] - at[CYCLES - 1 - STEADY]);
    ck_assert_msg(grew == 0, "%ld more bytes allocated after the last %d cycles (%ld after the first)",
                  grew, STEADY, (long)(at[CYCLES - 1] - at[0]));
}
END_TEST
#endif

Suite *make_darknet_suite(void)
{
    Suite *s = suite_create("darknet");
    TCase *tc = tcase_create("patches");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bottleneck_keeps_skip_gradient);
    tcase_add_test(tc, strided_1x1_convolution_forward);
    tcase_add_test(tc, strided_1x1_convolution_backward);
    tcase_add_test(tc, training_batchnorm_backward_is_exact);
    tcase_add_test(tc, inference_batchnorm_backward_is_exact);
    tcase_add_test(tc, layer_zero_without_net_delta);
    tcase_add_test(tc, activation_layer_keeps_skip_gradient);
    tcase_add_test(tc, resnet_backward_matches_central_differences);
    tcase_add_test(tc, batchnorm_bias_updates_are_filled);
    tcase_add_test(tc, second_step_repeats_the_first_and_connected_updates);
#ifndef DK_FORK_AB
    // pjreddie only: AB's shortcut has no alpha/beta; AB's free_network (no series patch yet)
    // leaves what the pjreddie series' 0020/0041 free, and AB has no [crop] window record
    tcase_add_test(tc, shortcut_alpha_beta_backward);
    tcase_add_test(tc, free_network_frees_everything);
#endif
    suite_add_tcase(s, tc);
    return s;
}
