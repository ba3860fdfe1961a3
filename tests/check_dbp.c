// check_dbp.c: double backprop. The engine's parameter gradient of lambda * sum_b R(g_b, x_b)
// against central differences of that sum with g recomputed at each theta +- eps (BN statistics
// held, as the spec defines), per layer type and for a small ResNet, every formulation; exact and
// finite-difference methods against each other.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "reg.h"
#include "testutil.h"

#define NET TU_NET

// the networks of testutil's table this suite checks: one per layer type and variant
static const char *NETS[] = {
    "conv",
    "conv_bn",
    "conv_stride2_groups",
    "conv_1x1_logistic",
    "conv_tanh",
    "connected_leaky",
    "connected_bn_tanh",
    "conv_maxpool",
    "avgpool",
    "shortcut",
    "route_linear",
    "dropout_03",
    "activation_batchnorm",
    "shortcut_fewer_channels_alpha_beta",
    "crop",
    "crop_noadjust",
    "conv_ramp",
    "upsample",
    "upsample_reverse",
};
#define N_NETS ((int)(sizeof NETS / sizeof NETS[0]))

static const char *RESNET = "[net]\nbatch=2\nwidth=12\nheight=12\nchannels=2\n" TU_RESNET_BODY;

// every parameter array of the layers below the top: (pointer, update buffer, size)
typedef struct { float *p, *upd; int n, layer; const char *what; } param_ref;

#define MAX_PARAMS 64

static int params_of(network *net, int top, param_ref *out)
{
    int c = 0;
    for (int k = 0; k < top; k++) {
        ck_assert_msg(c + 3 <= MAX_PARAMS, "more than %d parameter arrays: raise MAX_PARAMS", MAX_PARAMS);
        layer *l = &net->layers[k];
        if (l->type == CONVOLUTIONAL) {
            out[c++] = (param_ref){l->weights, l->weight_updates, l->nweights, k, "weights"};
            out[c++] = (param_ref){l->biases, l->bias_updates, l->n, k, "biases"};
            if (l->batch_normalize) out[c++] = (param_ref){l->scales, l->scale_updates, l->n, k, "scales"};
        } else if (l->type == CONNECTED) {
            out[c++] = (param_ref){l->weights, l->weight_updates, l->inputs * l->outputs, k, "weights"};
            out[c++] = (param_ref){l->biases, l->bias_updates, l->outputs, k, "biases"};
            if (l->batch_normalize) out[c++] = (param_ref){l->scales, l->scale_updates, l->outputs, k, "scales"};
        } else if (l->type == BATCHNORM) {
            out[c++] = (param_ref){l->biases, l->bias_updates, l->c, k, "biases"};
            out[c++] = (param_ref){l->scales, l->scale_updates, l->c, k, "scales"};
        }
    }
    return c;
}

static void zero_updates(param_ref *p, int np)
{
    for (int i = 0; i < np; i++) memset(p[i].upd, 0, p[i].n * sizeof(float));
}

// sum_b R(g_b, x_b) at the current parameters, BN statistics and dropout draws frozen
static double reg_sum(network *net, eng *e, tu_frozen *fz, const eng_reg_cfg *c, const float *truth, uint64_t rng)
{
    tu_frozen_forward(net, fz);
    int B = net->batch, n = net->inputs, K = eng_classes(e);
    float *seed = malloc(B * K * sizeof(float)), *g = malloc(B * n * sizeof(float));
    eng_seed(e, c->form, truth, &rng, seed);
    eng_input_grad(e, seed, g);
    double s = 0;
    for (int b = 0; b < B; b++) {
        double r;
        char err[256];
        int rc = reg_eval(c->reg, g + b * n, net->input + b * n, net->c, net->h, net->w, &r, NULL, 1, err, sizeof err);
        ck_assert_msg(rc == 0, "reg_eval: %s", err);
        s += r;
    }
    free(seed); free(g);
    return s;
}

typedef tu_fd_stats stats;

// lambda * sum_b R at the current parameters (the checker perturbs one of them)
typedef struct { network *net; eng *e; tu_frozen *fz; const eng_reg_cfg *c; const float *truth; uint64_t rng; } reg_sum_ctx;

static double reg_sum_at(void *p)
{
    reg_sum_ctx *k = p;
    return k->c->lambda * reg_sum(k->net, k->e, k->fz, k->c, k->truth, k->rng);
}

// The engine's update buffers after eng_reg_step against central differences of lambda*sum R.
static stats second_order_check(const char *name, const char *cfg, eng_form form, const char *regname,
                                uint64_t seed, int samples)
{
    stats st = {0, 0, 0};
    network *net = tu_net(cfg);
    tu_randomize(net, seed);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert_msg(e != NULL, "%s: %s", name, err);
    int B = net->batch, K = eng_classes(e), n = net->inputs * B;
    uint64_t rng = seed * 13 + 5;
    tu_fill(net->input, n, 0, 1, &rng);
    float *truth = calloc(B * K, sizeof(float));
    for (int b = 0; b < B; b++) truth[b * K + (b * 5 + (int)seed) % K] = 1;
    eng_reg_cfg c = { reg_lookup(regname, NULL, 0), form, 0.7f, ENG_EXACT, 0.01f };
    ck_assert(c.reg != NULL);
    param_ref P[MAX_PARAMS];
    int np = params_of(net, eng_top(e), P);
    free(net->truth);   // the forward computes no cost (the buffer freed, not dropped: a leak)
    net->truth = 0;
    net->train = 1;
    srand(11);   // the same dropout draws in every run of the case
    dk_forward(net);
    zero_updates(P, np);
    uint64_t r_rng = rng, step_rng = rng;   // spectreg's draw: the same r at every evaluation
    eng_reg_report rep;
    int rc = eng_reg_step(e, &c, truth, &step_rng, &rep, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", name, err);
    tu_frozen *fz = tu_freeze(net);
    double r0 = reg_sum(net, e, fz, &c, truth, r_rng);
    ck_assert_msg(fabs(r0 / B - rep.r_mean) <= 1e-4 * (1 + fabs(r0)), "%s: R %g vs engine %g", name, r0 / B, rep.r_mean);
    for (int s = 0; s < samples; s++) {
        param_ref *p = &P[(int)(tu_uniform(&rng) * np) % np];
        int i = (int)(tu_uniform(&rng) * p->n) % p->n;
        // central differences with eps, eps/2, eps/4, eps/8: the first two neighbours that agree give
        // the estimate; a kink (ReLU, maxpool, |.|, min/max of N_mm) lies within the larger steps
        float v = p->p[i];
        double ana = -p->upd[i];   // darknet's updates hold -gradient
        tu_fd_opts o = {1e-3 * (fabs(v) > 0.3 ? fabs(v) : 0.3), 4, 0, 1e-3 * (1 + fabs(r0)), 0, 3e-2, 0.015};
        reg_sum_ctx k = {net, e, fz, &c, truth, r_rng};
        double num;
        if (tu_fd_one(reg_sum_at, &k, &p->p[i], ana, 0, o, &num)) { st.skipped++; continue; }
        if (getenv("DBP_DEBUG")) fprintf(stderr, "%s %s %s L%d %s[%d] num %g ana %g\n", name, eng_form_name(form), regname, p->layer, p->what, i, num, ana);
        char op[200];
        snprintf(op, sizeof op, "second order %s %s %s layer %d %s", name, eng_form_name(form), regname, p->layer, p->what);
        tu_fd_compare(op, i, num, ana, 0, o, &st);
    }
    tu_unfreeze(net, fz);
    free(truth);
    eng_free(e);
    dk_free(net);
    return st;
}

static void expect_ok(stats st, const char *name, eng_form form, const char *reg, int samples)
{
    ck_assert_msg(st.failed == 0, "%s %s %s: %d of %d parameter gradients differ from central differences",
                  name, eng_form_name(form), reg, st.failed, st.checked);
    ck_assert_msg(st.checked >= samples / 2, "%s %s %s: only %d of %d samples away from kinks",
                  name, eng_form_name(form), reg, st.checked, samples);
}

START_TEST(each_layer_type_second_order)
{
    static const char *regs[] = {"l2", "tv", "mse"};
    int idx = _i / 3;
    eng_form form = (eng_form)(_i % 3);
    const char *reg = regs[(idx + _i) % 3];
    if (tu_fork_skip(NETS[idx])) return;   // not on this fork, and why (testutil.h)
    stats st = second_order_check(NETS[idx], tu_testnet(NETS[idx]), form, reg, 1 + idx, getenv("DBP_N") ? atoi(getenv("DBP_N")) : 16);
    expect_ok(st, NETS[idx], form, reg, 16);
}
END_TEST

START_TEST(resnet_second_order)
{
    static const char *regs[] = {"l2", "tv", "mse", "ssim"};
    eng_form form = (eng_form)(_i % 3);
    const char *reg = regs[_i % 4];
    stats st = second_order_check("resnet", RESNET, form, reg, 1 + _i, 16);
    expect_ok(st, "resnet", form, reg, 16);
}
END_TEST

// ----------------------------------------------------------------------------------------------

// the engine's parameter gradient (all update buffers, flattened) for a method
static float *reg_gradient(const char *cfg, eng_form form, const char *regname, eng_method method, float step,
                           uint64_t seed, int *len, int exact_rules)
{
    network *net = tu_net(cfg);
    tu_randomize(net, seed);
    char err[512];
    eng *e = eng_init_for(net, exact_rules, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    int B = net->batch, K = eng_classes(e), n = net->inputs * B;
    uint64_t rng = seed * 3 + 1;
    tu_fill(net->input, n, 0, 1, &rng);
    float *truth = calloc(B * K, sizeof(float));
    for (int b = 0; b < B; b++) truth[b * K + (b + 1) % K] = 1;
    memcpy(net->truth, truth, B * K * sizeof(float));
    param_ref P[MAX_PARAMS];
    int np = params_of(net, eng_top(e), P);
    net->train = 1;
    srand(11);   // the same dropout draws in every run of the case
    dk_forward(net);
    // what darknet's backward will read must survive the engine's work
    const layer *sm = &net->layers[eng_top(e)];
    float *smdelta = malloc(B * K * sizeof(float)), *out0 = malloc(net->layers[0].outputs * B * sizeof(float));
    memcpy(smdelta, sm->delta, B * K * sizeof(float));
    memcpy(out0, net->layers[0].output, net->layers[0].outputs * B * sizeof(float));
    zero_updates(P, np);
    eng_reg_cfg c = { reg_lookup(regname, NULL, 0), form, 1.0f, method, step };
    eng_reg_report rep;
    ck_assert_msg(eng_reg_step(e, &c, truth, &rng, &rep, err, sizeof err) == 0, "%s", err);
    ck_assert(memcmp(smdelta, sm->delta, B * K * sizeof(float)) == 0);
    for (int i = 0; i < net->layers[0].outputs * B; i++)
        ck_assert_float_eq_tol(out0[i], net->layers[0].output[i], 1e-6f);
    int total = 0;
    for (int i = 0; i < np; i++) total += P[i].n;
    float *gout = malloc(total * sizeof(float));
    int off = 0;
    for (int i = 0; i < np; i++) { memcpy(gout + off, P[i].upd, P[i].n * sizeof(float)); off += P[i].n; }
    *len = total;
    free(truth); free(smdelta); free(out0);
    eng_free(e);
    dk_free(net);
    return gout;
}

// How many ReLU/leaky units or maxpool choices differ between the frozen forward at x and at
// x + h u (h_b = step |x_b| / |u_b|, as the finite method takes it): a kink between the two points.
static int kinks_crossed(const char *cfg, eng_form form, const char *regname, float step, uint64_t seed)
{
    network *net = tu_net(cfg);
    tu_randomize(net, seed);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    int B = net->batch, K = eng_classes(e), n1 = net->inputs, n = n1 * B;
    uint64_t rng = seed * 3 + 1;
    tu_fill(net->input, n, 0, 1, &rng);
    float *truth = calloc(B * K, sizeof(float));
    for (int b = 0; b < B; b++) truth[b * K + (b + 1) % K] = 1;
    memcpy(net->truth, truth, B * K * sizeof(float));
    net->train = 1;
    srand(11);   // the same dropout draws in every run of the case
    dk_forward(net);
    eng_reg_cfg c = { reg_lookup(regname, NULL, 0), form, 0, ENG_EXACT, step };
    ck_assert(eng_reg_step(e, &c, truth, &rng, NULL, err, sizeof err) == 0);
    float *u = calloc(n, sizeof(float)), *x0 = malloc(n * sizeof(float));
    for (int b = 0; b < B; b++) {
        double r;
        reg_eval(c.reg, eng_last_heatmap(e) + b * n1, net->input + b * n1, net->c, net->h, net->w, &r, u + b * n1, 1, NULL, 0);
    }
    memcpy(x0, net->input, n * sizeof(float));
    tu_frozen *fz = tu_freeze(net);
    int top = eng_top(e), changed = 0;
    float **sign = calloc(top, sizeof(float *));
    for (int pass = 0; pass < 2; pass++) {
        for (int b = 0; b < B; b++) {
            double xn = 0, un = 0;
            for (int i = 0; i < n1; i++) { xn += x0[b * n1 + i] * x0[b * n1 + i]; un += u[b * n1 + i] * u[b * n1 + i]; }
            double h = un > 0 ? step * sqrt(xn) / sqrt(un) : 0;
            for (int i = 0; i < n1; i++) net->input[b * n1 + i] = x0[b * n1 + i] + (pass ? h * u[b * n1 + i] : 0);
        }
        tu_frozen_forward(net, fz);
        for (int k = 0; k < top; k++) {
            layer *l = &net->layers[k];
            int m = l->outputs * B;
            int relu = (l->type == CONVOLUTIONAL || l->type == CONNECTED || l->type == SHORTCUT || l->type == ACTIVE) &&
                       (l->activation == RELU || l->activation == LEAKY);
            if (!relu && l->type != MAXPOOL) continue;
            if (!sign[k]) sign[k] = malloc(m * sizeof(float));
            for (int i = 0; i < m; i++) {
                float v = l->type == MAXPOOL ? (float)l->indexes[i] : (l->output[i] > 0);
                if (pass && v != sign[k][i]) changed++;
                sign[k][i] = v;
            }
        }
    }
    tu_unfreeze(net, fz);
    for (int k = 0; k < top; k++) free(sign[k]);
    free(sign); free(u); free(x0); free(truth);
    eng_free(e);
    dk_free(net);
    return changed;
}

// exact against finite for one case; returns 0 when a kink lies within the step (not compared)
static int compare_methods(const char *name, const char *cfg, eng_form form, const char *reg, eng_method method, double rel_tol, int exact_rules)
{
    const float step = 1e-3f;
    if (kinks_crossed(cfg, form, reg, method == ENG_FINITE_CENTRAL ? -step : step, 7) ||
        kinks_crossed(cfg, form, reg, step, 7))
        return 0;
    int n1, n2;
    float *a = reg_gradient(cfg, form, reg, ENG_EXACT, 0, 7, &n1, 1);
    float *b = reg_gradient(cfg, form, reg, method, step, 7, &n2, exact_rules);
    ck_assert_int_eq(n1, n2);
    double dn = 0, an = 0;
    for (int i = 0; i < n1; i++) { dn += (double)(a[i] - b[i]) * (a[i] - b[i]); an += (double)a[i] * a[i]; }
    ck_assert_msg(an > 0, "exact gradient is zero");
    ck_assert_msg(sqrt(dn / an) < rel_tol, "%s %s %s %s: exact and finite differ by %.3g (relative L2)",
                  name, eng_form_name(form), reg, method == ENG_FINITE ? "forward" : "central", sqrt(dn / an));
    free(a); free(b);
    return 1;
}

// piecewise-linear networks: forward differences of grad_theta s along u are exact off kinks
START_TEST(exact_and_finite_agree)
{
    static const char *names[] = {"conv", "conv_bn", "conv_maxpool", "shortcut", "route_linear", "dropout_03", "resnet"};
    int compared = 0, cases = 0;
    for (int c = 0; c < 7; c++) {
        const char *cfg = strcmp(names[c], "resnet") ? tu_testnet(names[c]) : RESNET;
        compared += compare_methods(names[c], cfg, ENG_ONEHOT, "tv", ENG_FINITE, 2e-2, 1);
        compared += compare_methods(names[c], cfg, ENG_SPECTREG, "l2", ENG_FINITE, 2e-2, 1);
        compared += compare_methods(names[c], cfg, ENG_LOSS, "mse", ENG_FINITE_CENTRAL, 2e-2, 1);
        // the finite method through darknet's own backward only (heatmap included)
        compared += compare_methods(names[c], cfg, ENG_ONEHOT, "l2", ENG_FINITE, 2e-2, 0);
        cases += 4;
    }
    ck_assert_msg(compared >= cases / 2, "only %d of %d cases free of kinks within the step", compared, cases);
}
END_TEST

START_TEST(finite_method_runs_on_layers_without_exact_rules)
{
    const char *cfg = NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=elu\n[connected]\noutput=3\nactivation=linear\n");
    network *net = tu_net(cfg);
    char err[512];
    ck_assert(eng_init(net, err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "method=finite"), "the refusal should suggest method=finite: %s", err);
    dk_free(net);
    int n;
    float *g = reg_gradient(cfg, ENG_ONEHOT, "l2", ENG_FINITE, 1e-3f, 3, &n, 0);
    double s = 0;
    for (int i = 0; i < n; i++) s += fabsf(g[i]);
    ck_assert(s > 0 && isfinite(s));
    free(g);
}
END_TEST

START_TEST(nan_input_is_an_error)
{
    tu_case t = tu_case_new(tu_testnet("conv"), 1, 1);
    t.net->input[3] = NAN;   // the image the regularizer compares with
    eng_reg_cfg c = { reg_lookup("mse", NULL, 0), ENG_ONEHOT, 1, ENG_EXACT, 0.01f };
    char err[512] = "";
    uint64_t rng = 1;
    ck_assert(eng_reg_step(t.e, &c, t.truth, &rng, NULL, err, sizeof err) != 0);
    ck_assert_msg(strstr(err, "mse") && strstr(err, "image 0"), "message: %s", err);
    tu_case_free(&t);
}
END_TEST

// spectreg draws a fresh projection r at every training step from the section's generator: two
// steps on the same batch use different r (different heatmaps), and the same seed repeats them.
START_TEST(spectreg_draws_afresh_every_step)
{
    tu_case t = tu_case_new(tu_testnet("conv"), 4, 1);
    eng_reg_cfg c = { reg_lookup("l2", NULL, 0), ENG_SPECTREG, 0.5f, ENG_EXACT, 0.01f };
    float *g[3];
    char err[512];
    uint64_t rng = 7;
    for (int step = 0; step < 3; step++) {
        if (step == 2) rng = 7;   // the same seed again
        ck_assert_msg(eng_reg_step(t.e, &c, t.truth, &rng, NULL, err, sizeof err) == 0, "%s", err);
        g[step] = malloc(t.n * sizeof(float));
        memcpy(g[step], eng_last_heatmap(t.e), t.n * sizeof(float));
    }
    ck_assert_msg(memcmp(g[0], g[1], t.n * sizeof(float)) != 0, "the second step reused the first step's projection");
    ck_assert_msg(memcmp(g[0], g[2], t.n * sizeof(float)) == 0, "the same seed gave another projection");
    for (int i = 0; i < 3; i++) free(g[i]);
    tu_case_free(&t);
}
END_TEST

// ----------------------------------------------------------------------------------------------
// darknet's backward stopping short, and heatmaps that are zero for the whole batch

// a crop as the first layer: the finite methods of an exact engine (heatmap by the rules, the
// parameter gradient through darknet's backward, which needs nothing below the crop) hold its
// draw in their frozen forwards and agree with the exact method
#ifndef DK_FORK_AB   // AlexeyAB's [crop] keeps no record of its window: the engine refuses it there (dk_alexeyab.c)
START_TEST(crop_exact_and_finite_agree)
{
    int compared = 0;
    compared += compare_methods("crop", tu_testnet("crop"), ENG_ONEHOT, "tv", ENG_FINITE, 2e-2, 1);
    compared += compare_methods("crop", tu_testnet("crop"), ENG_SPECTREG, "l2", ENG_FINITE, 2e-2, 1);
    compared += compare_methods("crop", tu_testnet("crop"), ENG_LOSS, "mse", ENG_FINITE_CENTRAL, 2e-2, 1);
    ck_assert_msg(compared >= 2, "only %d of 3 cases free of kinks within the step", compared);
}
END_TEST
#endif

// a crop above a layer with parameters: darknet's backward (empty for a crop) would give that layer
// no gradient, so the finite methods refuse, naming both; the exact method trains it
#ifndef DK_FORK_AB   // AlexeyAB's [crop] keeps no record of its window: the engine refuses it there (dk_alexeyab.c)
START_TEST(finite_method_cut_off_by_a_crop_is_refused)
{
    tu_case t = tu_case_new(NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n[crop]\ncrop_height=4\ncrop_width=4\nflip=1\n"
                                "[connected]\noutput=3\nactivation=linear\n"), 2, 1);
    char err[512] = "";
    uint64_t rng = 1;
    for (int m = ENG_FINITE; m <= ENG_FINITE_CENTRAL; m++) {
        eng_reg_cfg c = { reg_lookup("l2", NULL, 0), ENG_ONEHOT, 1, (eng_method)m, 0.01f };
        ck_assert_int_eq(eng_reg_step(t.e, &c, t.truth, &rng, NULL, err, sizeof err), -1);
        ck_assert_msg(strstr(err, "layer 1 (crop)") && strstr(err, "layer 0 (convolutional)") && strstr(err, "method=exact"),
                      "message: %s", err);
    }
    eng_reg_cfg c = { reg_lookup("l2", NULL, 0), ENG_ONEHOT, 1, ENG_EXACT, 0.01f };
    ck_assert_msg(eng_reg_step(t.e, &c, t.truth, &rng, NULL, err, sizeof err) == 0, "%s", err);
    tu_case_free(&t);
}
END_TEST
#endif

// A relu that is off for every unit of the batch (its biases far below zero): the heatmap is zero
// for every image, and the step is an error (-2) naming that layer, by the engine's rules and by
// darknet's backward alike. A seed that is itself zero (a softmax saturated on the label, `loss`)
// gives a zero heatmap honestly: no error.
static void dead_relu(network *net)
{
    layer *l = &net->layers[1];
    for (int i = 0; i < l->n; i++) l->biases[i] = -100;
}

START_TEST(zero_heatmap_names_the_layer_where_the_gradient_stopped)
{
    const char *cfg = NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=relu\n"
                          "[connected]\noutput=4\nactivation=linear\n");
    for (int exact = 1; exact >= 0; exact--)
        for (int m = ENG_EXACT; m <= ENG_FINITE_CENTRAL; m++) {
            if (!exact && m == ENG_EXACT) continue;
            network *net = tu_net(cfg);
            tu_randomize(net, 3);
            dead_relu(net);
            char err[512] = "";
            eng *e = eng_init_for(net, exact, err, sizeof err);
            ck_assert_msg(e != NULL, "%s", err);
            int B = net->batch, K = eng_classes(e);
            uint64_t rng = 5;
            tu_fill(net->input, net->inputs * B, 0, 1, &rng);
            float *truth = calloc(B * K, sizeof(float));
            for (int b = 0; b < B; b++) truth[b * K + b % K] = 1;
            net->train = 1;
            dk_forward(net);
            eng_reg_cfg c = { reg_lookup("l2", NULL, 0), ENG_ONEHOT, 1, (eng_method)m, 0.01f };
            int rc = eng_reg_step(e, &c, truth, &rng, NULL, err, sizeof err);
            ck_assert_msg(rc == -2, "%s engine, method %s: rc %d (%s)", exact ? "exact" : "darknet-backward", eng_method_name(c.method), rc, err);
            ck_assert_msg(strstr(err, "zero for every image") && strstr(err, "layer 1 (convolutional)") && strstr(err, "relu"),
                          "%s engine, method %s: %s", exact ? "exact" : "darknet-backward", eng_method_name(c.method), err);
            free(truth);
            eng_free(e);
            dk_free(net);
        }
    // a saturated softmax on the label: p = t exactly, the `loss` seed p - t is zero
    network *net = tu_net(cfg);
    tu_randomize(net, 3);
    net->layers[2].biases[0] = 1e4f;
    char err[512] = "";
    eng *e = eng_init(net, err, sizeof err);
    int B = net->batch, K = eng_classes(e);
    uint64_t rng = 5;
    tu_fill(net->input, net->inputs * B, 0, 1, &rng);
    float *truth = calloc(B * K, sizeof(float));
    for (int b = 0; b < B; b++) truth[b * K] = 1;
    net->train = 1;
    dk_forward(net);
    eng_reg_cfg c = { reg_lookup("l2", NULL, 0), ENG_LOSS, 1, ENG_EXACT, 0.01f };
    eng_reg_report rep;
    ck_assert_msg(eng_reg_step(e, &c, truth, &rng, &rep, err, sizeof err) == 0, "%s", err);
    ck_assert(rep.g_abs_mean == 0 && rep.r_mean == 0);
    free(truth);
    eng_free(e);
    dk_free(net);
}
END_TEST

// ----------------------------------------------------------------------------------------------
// noise (regularizers.md, "Noise utilities"): input_noise (the mean heatmap over draws at x + e,
// batch statistics of the clean batch held) and heatmap_noise (R of g + e, e scaled to g's range).
// The engine's parameter gradient against central differences of lambda * sum_b R with the draws
// held: the numeric side runs eng_reg_step itself (lambda 0: R only) from the same generator state
// at each theta +- eps, on the frozen forward.

typedef struct { network *net; eng *e; tu_frozen *fz; eng_reg_cfg c; const float *truth; uint64_t rng; float lambda; } noisy_ctx;

static double noisy_sum_at(void *p)
{
    noisy_ctx *k = p;
    tu_frozen_forward(k->net, k->fz);
    uint64_t rng = k->rng;
    eng_reg_report rep;
    char err[512];
    int rc = eng_reg_step(k->e, &k->c, k->truth, &rng, &rep, err, sizeof err);
    ck_assert_msg(rc == 0, "eng_reg_step: %s", err);
    return k->lambda * rep.r_mean * k->net->batch;
}

static stats noise_check(const char *name, const char *cfg, eng_form form, const char *regname, float input_noise,
                         int nsamp, float heatmap_noise, uint64_t seed, int samples, double *r_noisy, double *r_clean)
{
    stats st = {0, 0, 0};
    network *net = tu_net(cfg);
    tu_randomize(net, seed);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert_msg(e != NULL, "%s: %s", name, err);
    int B = net->batch, K = eng_classes(e), n = net->inputs * B;
    uint64_t rng = seed * 17 + 3;
    tu_fill(net->input, n, 0, 1, &rng);
    float *truth = calloc(B * K, sizeof(float));
    for (int b = 0; b < B; b++) truth[b * K + (b * 3 + (int)seed) % K] = 1;
    eng_reg_cfg c = { reg_lookup(regname, NULL, 0), form, 0.7f, ENG_EXACT, 0.01f, input_noise, nsamp, heatmap_noise };
    ck_assert(c.reg != NULL);
    param_ref P[MAX_PARAMS];
    int np = params_of(net, eng_top(e), P);
    free(net->truth);
    net->truth = 0;
    net->train = 1;
    srand(11);
    dk_forward(net);
    zero_updates(P, np);
    uint64_t r0 = rng, step_rng = rng;
    eng_reg_report rep;
    int rc = eng_reg_step(e, &c, truth, &step_rng, &rep, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", name, err);
    ck_assert_msg(step_rng != r0, "%s: the noise drew nothing from the generator", name);
    tu_frozen *fz = tu_freeze(net);
    noisy_ctx k = {net, e, fz, c, truth, r0, c.lambda};
    k.c.lambda = 0;
    double R0 = noisy_sum_at(&k);
    // the same draws give the same R (seedable), and the step's R is that one
    ck_assert_msg(fabs(R0 / c.lambda / B - rep.r_mean) <= 1e-5 * (1 + fabs(rep.r_mean)), "%s: R %g, again from the same state %g",
                  name, rep.r_mean, R0 / c.lambda / B);
    if (r_noisy) *r_noisy = rep.r_mean;
    if (r_clean) {
        noisy_ctx k0 = k;
        k0.c.input_noise = 0;
        k0.c.heatmap_noise = 0;
        *r_clean = noisy_sum_at(&k0) / c.lambda / B;
    }
    for (int s = 0; s < samples; s++) {
        param_ref *p = &P[(int)(tu_uniform(&rng) * np) % np];
        int i = (int)(tu_uniform(&rng) * p->n) % p->n;
        float v = p->p[i];
        double ana = -p->upd[i];
        tu_fd_opts o = {1e-3 * (fabs(v) > 0.3 ? fabs(v) : 0.3), 4, 0, 1e-3 * (1 + fabs(R0)), 0, 3e-2, 0.015};
        double num;
        if (tu_fd_one(noisy_sum_at, &k, &p->p[i], ana, 0, o, &num)) { st.skipped++; continue; }
        char op[240];
        if (getenv("DBP_DEBUG")) fprintf(stderr, "noise %s L%d %s[%d] num %g ana %g\n", name, p->layer, p->what, i, num, ana);
        snprintf(op, sizeof op, "noise %s %s %s input_noise %g x%d heatmap_noise %g layer %d %s", name, eng_form_name(form), regname,
                 input_noise, nsamp, heatmap_noise, p->layer, p->what);
        tu_fd_compare(op, i, num, ana, 0, o, &st);
    }
    tu_unfreeze(net, fz);
    free(truth);
    eng_free(e);
    dk_free(net);
    return st;
}

// input_noise (1 and 3 draws), heatmap_noise, both; onehot and loss (whose seed and second-order
// stream depend on the noisy point); a conv+BN net and the ResNet
START_TEST(noise_second_order)
{
    static const struct { float in; int n; float hm; } NZ[] = {{0.1f, 1, 0}, {0.1f, 3, 0}, {0, 1, 0.2f}, {0.1f, 2, 0.2f}};
    static const char *regs[2][4] = {{"mse", "tv", "l2", "grad_diff"}, {"ssim", "mse", "tv", "ssim"}};   // ssim: 11x11 at least
    int z = _i % 4;
    eng_form form = _i / 4 % 2 ? ENG_LOSS : ENG_ONEHOT;
    int res = _i / 8;
    const char *name = res ? "resnet" : "conv_bn";
    const char *cfg = res ? RESNET : tu_testnet("conv_bn");
    double rn, rc;
    stats st = noise_check(name, cfg, form, regs[res][(_i + res) % 4], NZ[z].in, NZ[z].n, NZ[z].hm, 5 + _i, 12, &rn, &rc);
    ck_assert_msg(st.failed == 0, "%s %s: %d of %d parameter gradients differ from central differences (noise %d)",
                  name, eng_form_name(form), st.failed, st.checked, z);
    ck_assert_msg(st.checked >= 6, "%s: only %d of 12 samples away from kinks", name, st.checked);
    // the noise changes R (a noise that did nothing would pass the gradient check too)
    ck_assert_msg(fabs(rn - rc) > 1e-6 * (1 + fabs(rc)), "%s: R %g with the noise, %g without", name, rn, rc);
}
END_TEST

// zero noise is the plain step (the same update buffers, bit for bit), and input_noise is refused
// by the finite methods
START_TEST(noise_zero_is_the_plain_step_and_finite_refuses_input_noise)
{
    float *upd[2];
    int len = 0;
    for (int pass = 0; pass < 2; pass++) {
        network *net = tu_net(RESNET);
        tu_randomize(net, 3);
        char err[512];
        eng *e = eng_init(net, err, sizeof err);
        int B = net->batch, K = eng_classes(e), n = net->inputs * B;
        uint64_t rng = 9;
        tu_fill(net->input, n, 0, 1, &rng);
        float *truth = calloc(B * K, sizeof(float));
        for (int b = 0; b < B; b++) truth[b * K + b % K] = 1;
        eng_reg_cfg c = { reg_lookup("ssim", NULL, 0), ENG_LOSS, 0.7f, ENG_EXACT, 0.01f };
        if (pass) { c.input_noise = 0; c.input_noise_samples = 5; c.heatmap_noise = 0; }
        param_ref P[MAX_PARAMS];
        int np = params_of(net, eng_top(e), P);
        free(net->truth);
        net->truth = 0;
        net->train = 1;
        dk_forward(net);
        zero_updates(P, np);
        eng_reg_report rep;
        ck_assert_msg(eng_reg_step(e, &c, truth, &rng, &rep, err, sizeof err) == 0, "%s", err);
        len = 0;
        for (int i = 0; i < np; i++) len += P[i].n;
        upd[pass] = malloc(len * sizeof(float));
        for (int i = 0, o = 0; i < np; o += P[i].n, i++) memcpy(upd[pass] + o, P[i].upd, P[i].n * sizeof(float));
        if (pass) {
            c.input_noise = 0.1f;
            c.method = ENG_FINITE;
            dk_forward(net);
            int rc = eng_reg_step(e, &c, truth, &rng, &rep, err, sizeof err);
            ck_assert_msg(rc == -1 && strstr(err, "input_noise needs method=exact"), "finite with input_noise: %d %s", rc, err);
        }
        free(truth);
        eng_free(e);
        dk_free(net);
    }
    ck_assert_msg(memcmp(upd[0], upd[1], len * sizeof(float)) == 0, "noise 0 changed the step");
    free(upd[0]); free(upd[1]);
}
END_TEST

Suite *make_dbp_suite(void)
{
    Suite *s = suite_create("dbp");
    TCase *tc = tcase_create("double_backprop");
    tcase_set_timeout(tc, 180);
    tcase_add_loop_test(tc, each_layer_type_second_order, 0, N_NETS * 3);
    tcase_add_loop_test(tc, resnet_second_order, 0, 6);
    tcase_add_test(tc, exact_and_finite_agree);
    tcase_add_test(tc, finite_method_runs_on_layers_without_exact_rules);
    tcase_add_test(tc, nan_input_is_an_error);
    tcase_add_test(tc, spectreg_draws_afresh_every_step);
#ifndef DK_FORK_AB
    tcase_add_test(tc, crop_exact_and_finite_agree);
#endif
#ifndef DK_FORK_AB
    tcase_add_test(tc, finite_method_cut_off_by_a_crop_is_refused);
#endif
    tcase_add_test(tc, zero_heatmap_names_the_layer_where_the_gradient_stopped);
    tcase_add_loop_test(tc, noise_second_order, 0, 16);
    tcase_add_test(tc, noise_zero_is_the_plain_step_and_finite_refuses_input_noise);
    suite_add_tcase(s, tc);
    return s;
}
