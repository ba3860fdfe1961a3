// check_train.c: the [saliency] cfg section inside darknet's own training step
// (train_network_datum): the weight change, the printed loss, rolling statistics, weights files,
// a short run that lowers the regularizer, and the section's errors.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <signal.h>

#include <sys/stat.h>

#include "engine.h"
#include "reg.h"
#include "parser.h"
#include "option_list.h"
#include "saliency_layer.h"
#include "saliency_util.h"
#include "testutil.h"

#define HEAD "[net]\nbatch=4\nwidth=12\nheight=12\nchannels=2\nlearning_rate=0.05\nmomentum=0\ndecay=0\npolicy=constant\nmax_batches=100\n"
#define BODY \
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n" \
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=linear\n" \
    "[shortcut]\nfrom=-2\nactivation=leaky\n" \
    "[maxpool]\nsize=2\nstride=2\n" \
    "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n" \
    "[avgpool]\n[softmax]\n"
#define SAL(reg, form, method) "[saliency]\nregularizer=" reg "\nformulation=" form "\nweight=0.8\nmethod=" method "\n"

static network *quiet_net(const char *cfg)
{
    network *net = tu_net(cfg);
    tu_randomize(net, 21);
    return net;
}

static void fill_batch(network *net, uint64_t seed)
{
    uint64_t rng = seed;
    tu_fill(net->input, net->inputs * net->batch, 0, 1, &rng);
    memset(net->truth, 0, net->truths * net->batch * sizeof(float));
    for (int b = 0; b < net->batch; b++) net->truth[b * net->truths + (b * 2 + 1) % net->truths] = 1;
}

typedef struct { float *p; int n; } arr;

static int params(network *net, arr *out)
{
    int c = 0;
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        if (l->type != CONVOLUTIONAL) continue;
        out[c++] = (arr){l->weights, l->nweights};
        out[c++] = (arr){l->biases, l->n};
        if (l->batch_normalize) {
            out[c++] = (arr){l->scales, l->n};
            out[c++] = (arr){l->rolling_mean, l->n};
            out[c++] = (arr){l->rolling_variance, l->n};
        }
    }
    return c;
}

static float *flat(network *net, int *len)
{
    arr a[32];
    int na = params(net, a), n = 0;
    for (int i = 0; i < na; i++) n += a[i].n;
    float *v = malloc(n * sizeof(float));
    n = 0;
    for (int i = 0; i < na; i++) { memcpy(v + n, a[i].p, a[i].n * sizeof(float)); n += a[i].n; }
    *len = n;
    return v;
}

// One step of darknet's training with the section = the plain step + lr/batch * (-lambda dR/dtheta).
static void one_step_case(const char *sal, eng_form form, const char *regname, eng_method method)
{
    char cfg_plain[4096], cfg_reg[4096];
    snprintf(cfg_plain, sizeof cfg_plain, "%s%s", HEAD, BODY);
    snprintf(cfg_reg, sizeof cfg_reg, "%s%s%s", HEAD, BODY, sal);
    network *a = quiet_net(cfg_plain), *b = quiet_net(cfg_reg), *c = quiet_net(cfg_plain);
    int n0, na, nb;
    float *w0 = flat(a, &n0);
    // the regularizer's update alone, from the engine on a third copy
    fill_batch(c, 5);
    c->train = 1;
    dk_forward(c);
    char err[512];
    eng *e = eng_init(c, err, sizeof err);
    eng_reg_cfg rc = { reg_lookup(regname, NULL, 0), form, 0.8f, method, 0.01f };
    uint64_t rng = 1;   // the section's default seed
    eng_reg_report rep;
    ck_assert_msg(eng_reg_step(e, &rc, c->truth, &rng, &rep, err, sizeof err) == 0, "%s", err);
    float *ureg = calloc(n0, sizeof(float));
    {
        arr u[32], p[32];
        int np = params(c, p), k = 0, off = 0;
        for (int l = 0; l < c->n; l++) {
            layer *L = &c->layers[l];
            if (L->type != CONVOLUTIONAL) continue;
            u[k++] = (arr){L->weight_updates, L->nweights};
            u[k++] = (arr){L->bias_updates, L->n};
            if (L->batch_normalize) { u[k++] = (arr){L->scale_updates, L->n}; u[k++] = (arr){NULL, L->n}; u[k++] = (arr){NULL, L->n}; }
        }
        ck_assert_int_eq(k, np);
        for (int i = 0; i < np; i++) { if (u[i].p) memcpy(ureg + off, u[i].p, u[i].n * sizeof(float)); off += p[i].n; }
    }
    // darknet's own steps
    fill_batch(a, 5);
    fill_batch(b, 5);
    float loss_a = dk_train_datum(a);
    float loss_b = dk_train_datum(b);
    float *wa = flat(a, &na), *wb = flat(b, &nb);
    ck_assert_int_eq(na, n0);
    ck_assert_int_eq(nb, n0);
    float lr_over_b = 0.05f / 4;
    double dn = 0, rn = 0;
    for (int i = 0; i < n0; i++) {
        double want = wa[i] + lr_over_b * ureg[i];
        dn += (wb[i] - want) * (wb[i] - want);
        rn += (double)lr_over_b * ureg[i] * lr_over_b * ureg[i];
    }
    ck_assert_msg(rn > 0, "the regularizer moved nothing");
    ck_assert_msg(sqrt(dn) <= 1e-3 * sqrt(rn) + 1e-7, "weights after the step differ from plain + regularizer: |diff| %g, |reg step| %g",
                  sqrt(dn), sqrt(rn));
    // the loss darknet returns includes lambda * mean R (per image)
    ck_assert_msg(fabs((loss_b - loss_a) - 0.8 * rep.r_mean * 4) <= 1e-3 * (1 + fabs(loss_b)),
                  "loss %g, plain %g, lambda*R*batch %g", loss_b, loss_a, 0.8 * rep.r_mean * 4);
    free(w0); free(wa); free(wb); free(ureg);
    eng_free(e);
    dk_free(a); dk_free(b); dk_free(c);
}

START_TEST(one_step_is_plain_plus_regularizer)
{
    one_step_case(SAL("tv", "onehot", "exact"), ENG_ONEHOT, "tv", ENG_EXACT);
    one_step_case(SAL("ssim", "loss", "exact"), ENG_LOSS, "ssim", ENG_EXACT);
    one_step_case(SAL("mse", "spectreg", "finite"), ENG_SPECTREG, "mse", ENG_FINITE);
}
END_TEST

// Rolling statistics move exactly once per step (the extra passes hold them).
START_TEST(rolling_statistics_move_once)
{
    network *a = quiet_net(HEAD BODY), *b = quiet_net(HEAD BODY SAL("l2", "loss", "central"));
    fill_batch(a, 9);
    fill_batch(b, 9);
    dk_train_datum(a);
    dk_train_datum(b);
    for (int k = 0; k < a->n; k++) {
        layer *la = &a->layers[k], *lb = &b->layers[k];
        if (!la->batch_normalize) continue;
        ck_assert(memcmp(la->rolling_mean, lb->rolling_mean, la->n * sizeof(float)) == 0);
        ck_assert(memcmp(la->rolling_variance, lb->rolling_variance, la->n * sizeof(float)) == 0);
    }
    dk_free(a); dk_free(b);
}
END_TEST

// Weights files: a cfg with the section and the same cfg without it read each other's weights,
// and predict the same.
START_TEST(weights_round_trip_with_and_without_the_section)
{
    char pw[512], pw2[512];
    tu_path(pw, sizeof pw, "with.weights");
    tu_path(pw2, sizeof pw2, "without.weights");
    network *b = quiet_net(HEAD BODY SAL("tv", "onehot", "exact"));
    fill_batch(b, 3);
    dk_train_datum(b);
    dk_save_weights(b, pw);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", pw);
    ck_assert_msg(access(pw, R_OK) == 0 && access(tmp, F_OK) != 0, "patch 0015: saved through %s and renamed", tmp);
    network *a = tu_net(HEAD BODY);
    load_weights(a, pw);
    dk_save_weights(a, pw2);
    network *b2 = tu_net(HEAD BODY SAL("tv", "onehot", "exact"));
    load_weights(b2, pw2);
    int n1, n2, n3;
    float *w1 = flat(b, &n1), *w2 = flat(a, &n2), *w3 = flat(b2, &n3);
    ck_assert_int_eq(n1, n2);
    ck_assert(memcmp(w1, w2, n1 * sizeof(float)) == 0);
    ck_assert(memcmp(w1, w3, n1 * sizeof(float)) == 0);
    // inference: the section passes the probabilities through
    fill_batch(a, 4);
    fill_batch(b2, 4);
    a->train = b2->train = 0;
    float *pa = dk_predict(a, a->input), *pb = dk_predict(b2, b2->input);
    for (int i = 0; i < a->outputs * a->batch; i++) ck_assert_float_eq(pa[i], pb[i]);
    free(w1); free(w2); free(w3);
    dk_free(a); dk_free(b); dk_free(b2);
}
END_TEST

static double batch_r(network *net, const char *regname)
{
    char err[256];
    eng *e = eng_init(net, err, sizeof err);
    int n = net->inputs;
    float *g = malloc(n * net->batch * sizeof(float));
    uint64_t rng = 1;
    eng_heatmap(e, net->input, net->truth, ENG_ONEHOT, 1, &rng, g);
    double s = 0;
    for (int b = 0; b < net->batch; b++) {
        double r;
        reg_eval(reg_lookup(regname, NULL, 0), g + b * n, net->input + b * n, net->c, net->h, net->w, &r, NULL, 1, NULL, 0);
        s += r;
    }
    free(g);
    eng_free(e);
    return s / net->batch;
}

// An honest learning test: 40 regularized steps on one batch lower R clearly; without the
// section the same steps do not.
START_TEST(short_run_lowers_the_regularizer)
{
    network *b = quiet_net(HEAD BODY "[saliency]\nregularizer=tv\nformulation=onehot\nweight=0.05\nmethod=exact\n");
    network *a = quiet_net(HEAD BODY);
    fill_batch(b, 7);
    fill_batch(a, 7);
    double r0 = batch_r(b, "tv");
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");   // the section prints a progress line per step
    for (int i = 0; i < 40; i++) { dk_train_datum(b); dk_train_datum(a); }
    fclose(stderr);
    stderr = saved;
    double rb = batch_r(b, "tv"), ra = batch_r(a, "tv");
    ck_assert_msg(rb < 0.6 * r0, "tv went from %g to %g with the regularizer", r0, rb);
    ck_assert_msg(rb < 0.7 * ra, "with the regularizer %g, without %g", rb, ra);
    dk_free(a); dk_free(b);
}
END_TEST

// Runs fn in a child with stderr captured; returns its exit status and the message in out.
static int child_status(const char *cfg_text, int train, char *out, int outlen)
{
    char path[512], cfgp[512];
    tu_path(path, sizeof path, "child.err");
    tu_path(cfgp, sizeof cfgp, "bad.cfg");
    tu_write_text(cfgp, cfg_text);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        tu_after_fork();
        if (!freopen(path, "w", stderr)) _exit(99);
        network *net = dk_parse(cfgp, 0);
        if (train) { fill_batch(net, 1); dk_train_datum(net); }
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    FILE *f = fopen(path, "r");
    int n = f ? (int)fread(out, 1, outlen - 1, f) : 0;
    out[n > 0 ? n : 0] = 0;
    if (f) fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(section_errors_name_file_key_and_value)
{
    // pj: the case needs a pjreddie-series patch AlexeyAB's has no counterpart of (0017: cfg lines
    // with no value or before any section are errors naming the line; AB drops or accepts them)
    struct { const char *cfg; const char *expect[3]; int train, pj; } cases[] = {
        {HEAD BODY "[saliency]\nregularizer=sharpness\n", {"regularizer=sharpness", "ssim_unfiltered", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nformulation=logit\n", {"formulation=logit", "spectreg", "[saliency]"}, 0},
        {HEAD BODY "[saliency]\nweight=-1\n", {"weight=-1", ">= 0", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nmethod=exact\nstep=0\n", {"step=0", "> 0", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nmethod=numeric\n", {"method=numeric", "exact, finite", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nlambda=0.5\n", {"lambda=0.5", "keys:", "bad.cfg"}, 0},
        {HEAD "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n[saliency]\n[avgpool]\n[softmax]\n", {"after", "[softmax]", "bad.cfg"}, 0},
        {HEAD "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=elu\n[avgpool]\n[softmax]\n[saliency]\n", {"elu", "method=finite", "bad.cfg"}, 1},
        // numbers: finite, in range, whole where whole (the reliability issue's list)
        {HEAD BODY "[saliency]\nweight=nan\n", {"weight=nan", "finite number >= 0", "[saliency]"}, 0},
        {HEAD BODY "[saliency]\nweight=inf\n", {"weight=inf", "not finite", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nweight=-inf\n", {"weight=-inf", "not finite", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nweight=1e39\n", {"weight=1e39", "float", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nweight=0x10\n", {"weight=0x10", "decimal", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nweight=1.5e\n", {"weight=1.5e", "not a number", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nstep=nan\n", {"step=nan", "> 0 and <= 1", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nstep=inf\n", {"step=inf", "> 0 and <= 1", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nstep=1.5\n", {"step=1.5", "> 0 and <= 1", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nseed=1.5\n", {"seed=1.5", "18446744073709551615", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nseed=99999999999999999999\n", {"seed=99999999999999999999", "above", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nseed=-1\n", {"seed=-1", "whole number", "bad.cfg"}, 0},
        // the noise keys
        {HEAD BODY "[saliency]\ninput_noise=-0.1\n", {"input_noise=-0.1", ">= 0 and <= 10", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\ninput_noise=nan\n", {"input_noise=nan", "not finite", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\ninput_noise_samples=0\n", {"input_noise_samples=0", "1 ... 1000", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\ninput_noise_samples=2.5\n", {"input_noise_samples=2.5", "1 ... 1000", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nheatmap_noise=11\n", {"heatmap_noise=11", ">= 0 and <= 10", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nmethod=finite\ninput_noise=0.1\n", {"input_noise=0.1 needs method=exact", "method=finite", "bad.cfg: [saliency]"}, 0},
        // an empty value (patch 0017: darknet dropped the line), a key without '=', a key given twice
        {HEAD BODY "[saliency]\nweight=\n", {"'weight=' has no value", "in [saliency]", "bad.cfg: line "}, 0, 1},
        {HEAD BODY "[saliency]\nweight\n", {"weight=", "empty", "bad.cfg"}, 0},
        {HEAD BODY "[saliency]\nweight=0.5\nweight=2\n", {"weight is given twice", "weight=2", "bad.cfg"}, 0},
        {"weight=1\n" HEAD BODY "[saliency]\n", {"line 1", "before any [section]", "bad.cfg"}, 0, 1},
        // darknet's backward_crop_layer is empty: method=finite (the heatmap through darknet's
        // backward) refuses a crop by name instead of training on a zero heatmap (issue 15)
        {HEAD "[crop]\ncrop_height=8\ncrop_width=8\nflip=1\n" BODY "[saliency]\nmethod=finite\n", {"layer 0 (crop)", "method=exact", "bad.cfg: [saliency]"}, 1},
        {HEAD BODY "[cost]\ntype=sse\n[cost]\ntype=sse\n[saliency]\n", {"after", "[cost]", "bad.cfg"}, 0},
        // a section darknet has no layer for (patches pjreddie/0045, alexeyab/0021: it crashed;
        // [logistic] is pjreddie's only)
        {HEAD "[convolutinal]\nfilters=3\nsize=1\n" BODY, {"bad.cfg: [convolutinal] (layer 0)", "no layer of that name", ""}, 0},
        // patch 0023: darknet's error() exits 1 (it aborted)
        {"[convolutional]\nfilters=3\n" HEAD BODY, {"First section must be [net]", "", ""}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[8192];
        if (cases[i].pj && strcmp(dk_fork, "pjreddie")) continue;
        int rc = child_status(cases[i].cfg, cases[i].train, out, sizeof out);
        ck_assert_msg(rc == 1, "case %d: exit %d (want 1): %s", (int)i, rc, out);
        for (int j = 0; j < 3; j++)
            ck_assert_msg(strstr(out, cases[i].expect[j]), "case %d: message lacks '%s': %s", (int)i, cases[i].expect[j], out);
    }
}
END_TEST

// A relu that is off for every unit of the batch gives a zero heatmap: training stops with status 1
// and a message naming the layer (not a divergence, not a silent step).
START_TEST(zero_heatmap_stops_training_naming_the_layer)
{
    const char *methods[] = {"exact", "finite"};
    for (int m = 0; m < 2; m++) {
        char path[512], cfgp[512], text[4096], out[8192];
        tu_path(path, sizeof path, "zero.err");
        tu_path(cfgp, sizeof cfgp, "zero.cfg");
        snprintf(text, sizeof text, "%s[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=relu\n[connected]\noutput=3\nactivation=linear\n[softmax]\n"
                 "[saliency]\nregularizer=l2\nmethod=%s\n", HEAD, methods[m]);
        tu_write_text(cfgp, text);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
        tu_after_fork();
            if (!freopen(path, "w", stderr)) _exit(99);
            network *net = dk_parse(cfgp, 0);
            for (int i = 0; i < net->layers[0].n; i++) net->layers[0].biases[i] = -100;
            fill_batch(net, 1);
            dk_train_datum(net);
            _exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        FILE *f = fopen(path, "r");
        int n = f ? (int)fread(out, 1, sizeof out - 1, f) : 0;
        out[n > 0 ? n : 0] = 0;
        if (f) fclose(f);
        const char *msg = strstr(out, "zero.cfg: [saliency]");
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: status %d: %s", methods[m], st, out);
        ck_assert_msg(msg && strstr(msg, "zero for every image") && strstr(msg, "layer 0 (convolutional)") && strstr(msg, "relu"),
                      "%s: %s", methods[m], out);
        ck_assert_msg(!strstr(msg, "diverged"), "%s: not a divergence: %s", methods[m], msg);
    }
}
END_TEST

// After [softmax] then [cost] (resnet101.cfg; AlexeyAB's cfgs): the section finds the softmax,
// trains, and passes the probabilities on (not the cost's per-value errors).
START_TEST(section_after_a_cost_layer)
{
    network *net = quiet_net(HEAD BODY "[cost]\ntype=sse\n" SAL("ssim", "loss", "exact"));
    int top = net->n - 3;
    ck_assert_int_eq(net->layers[top].type, SOFTMAX);
    ck_assert_int_eq(net->layers[net->n - 1].type, SALIENCY);
    fill_batch(net, 2);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    float loss = dk_train_datum(net);
    fclose(stderr);
    stderr = saved;
    eng_reg_report rep;
    ck_assert_int_eq(sal_layer_report(&net->layers[net->n - 1], &rep), 1);
    ck_assert_msg(isfinite(rep.r_mean) && rep.g_abs_mean > 0 && isfinite(loss), "R %g, mean |g| %g, loss %g", rep.r_mean, rep.g_abs_mean, loss);
    ck_assert_int_eq(eng_top(sal_layer_engine(&net->layers[net->n - 1])), top);
    net->train = 0;
    float *p = dk_predict(net, net->input);
    for (int i = 0; i < net->outputs * net->batch; i++) ck_assert_float_eq(p[i], net->layers[top].output[i]);
    double sum = 0;
    for (int i = 0; i < net->outputs; i++) sum += p[i];
    ck_assert_double_eq_tol(sum, 1, 1e-5);
    dk_free(net);
}
END_TEST

// The section's values reach the engine exactly: a seed above 2^24 keeps every digit (it was read
// as a float), the largest seed is taken, defaults fill what is not given.
START_TEST(section_values_are_exact)
{
    struct { const char *text; uint64_t seed; float weight, step; const char *reg; eng_method m; } cases[] = {
        {"seed=16777217\nweight=0.25\nstep=1\n", 16777217ull, 0.25f, 1.0f, "l2", ENG_EXACT},
        {"seed=18446744073709551615\nregularizer=ssim\nmethod=central\n", 18446744073709551615ull, 0.5f, 0.01f, "ssim", ENG_FINITE_CENTRAL},
        {"seed=0\nweight=0\n", 0, 0.0f, 0.01f, "l2", ENG_EXACT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512], text[512];
        snprintf(text, sizeof text, "%s", cases[i].text);
        list *options = make_list();   // as darknet's read_cfg makes it: key=value lines, in order
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) ck_assert(read_option(strdup(line), options));
        sal_section out;
        ck_assert_msg(sal_section_read(options, &out, err, sizeof err) == 0, "case %d: %s", (int)i, err);
        ck_assert_msg(out.seed == cases[i].seed, "case %d: seed %llu", (int)i, (unsigned long long)out.seed);
        ck_assert(out.rc.lambda == cases[i].weight && out.rc.step == cases[i].step);
        ck_assert_str_eq(out.rc.reg->name, cases[i].reg);
        ck_assert_int_eq(out.rc.method, cases[i].m);
        sal_free_data_cfg(options);
    }
}
END_TEST

// The bad values above are refused by the shipped binary too (darknet's -Ofast build: its NaN and
// Inf tests are not folded away), through darknet's own `classifier train`.
START_TEST(shipped_binary_refuses_nan_and_inf)
{
    char dir[512], data[1024], cfg[512], cmd[4096], out[16384];
    tu_path(dir, sizeof dir, "refuse");
    tu_dataset(dir, 8, 12, 12, 3, data, sizeof data);
    tu_path(cfg, sizeof cfg, "refuse.cfg");
    static const char *bad[] = {"weight=nan", "weight=inf", "weight=1e39", "step=nan", "step=inf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[4096];
        snprintf(text, sizeof text, "%s%s[saliency]\n%s\n", HEAD, BODY, bad[i]);
        memcpy(strstr(text, "channels=2"), "channels=3", 10);
        tu_write_text(cfg, text);
        snprintf(cmd, sizeof cmd, "%s classifier train %s %s", tu_darknet(), data, cfg);
        int rc = tu_run(cmd, out, sizeof out);
        ck_assert_msg(rc == 1, "%s: exit %d: %s", bad[i], rc, out);
        ck_assert_msg(strstr(out, bad[i]) && strstr(out, "refuse.cfg: [saliency]"), "%s: %s", bad[i], out);
    }
}
END_TEST

#ifndef DK_FORK_AB   // used by the pjreddie-only tests below (patch 0016)
static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static int weights_finite(const char *cfg_text, const char *weights)
{
    network *net = tu_net(cfg_text);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    load_weights(net, (char *)weights);
    fclose(stderr);
    stderr = saved;
    char err[256];
    eng *e = eng_init_for(net, 0, err, sizeof err);
    int ok = e && eng_check_finite(e, 0, err, sizeof err) == 0;
    eng_free(e);
    dk_free(net);
    return ok;
}
#endif

// A run that diverges (the learning rate multiplied by 1e30 after batch 4) stops with status 1, not a
// signal, naming the batch, what went bad and the last checkpoint; that checkpoint is whole and
// finite, and no checkpoint with NaN or Inf was written (patch 0016).
#ifndef DK_FORK_AB   // checks pjreddie's patch 0016 (no NaN checkpoint, the last one named); AlexeyAB's series has no counterpart yet
START_TEST(diverging_run_stops_cleanly)
{
    char dir[512], data[1024], cfg[512], cmd[4096], out[65536];
    tu_path(dir, sizeof dir, "diverge");
    tu_dataset(dir, 8, 12, 12, 3, data, sizeof data);   // batch 4: a checkpoint (epoch) every 2 batches
    tu_path(cfg, sizeof cfg, "diverge.cfg");
    char text[4096];
    snprintf(text, sizeof text, "%s%s%s", HEAD, BODY, SAL("tv", "onehot", "exact"));
    memcpy(strstr(text, "channels=2"), "channels=3", 10);
    memcpy(strstr(text, "learning_rate=0.05"), "learning_rate=.001", 18);   // stable until the jump
    char *pol = strstr(text, "policy=constant");
    ck_assert(pol);
    const char *steps = "policy=steps\nsteps=4\nscales=1e30\n";
    char text2[4096];
    snprintf(text2, sizeof text2, "%.*s%s%s", (int)(pol - text), text, steps, pol + strlen("policy=constant\n"));
    tu_write_text(cfg, text2);
    snprintf(cmd, sizeof cmd, "%s classifier train %s %s", tu_darknet(), data, cfg);
    int rc = tu_run(cmd, out, sizeof out);
    ck_assert_msg(rc == 1, "exit %d (want 1, not a signal): %s", rc, out + (strlen(out) > 2000 ? strlen(out) - 2000 : 0));
    const char *msg = strstr(out, "training diverged at batch ");
    ck_assert_msg(msg, "no divergence message: %s", out + (strlen(out) > 2000 ? strlen(out) - 2000 : 0));
    ck_assert_msg(strstr(msg, "diverge.cfg") || strstr(out, "diverge.cfg: [saliency]"), "%s", msg);
    int batch = atoi(msg + strlen("training diverged at batch "));
    ck_assert_msg(batch >= 5, "diverged at batch %d, before the learning rate jumped: %s", batch, msg);
    const char *ck = strstr(msg, "the last checkpoint written: ");
    ck_assert_msg(ck, "no checkpoint named: %s", msg);
    char last[1024];
    ck_assert(sscanf(ck + strlen("the last checkpoint written: "), "%1023s", last) == 1);
    ck_assert_msg(access(last, R_OK) == 0, "checkpoint %s is not there", last);
    ck_assert_msg(weights_finite(text, last), "checkpoint %s has NaN or Inf", last);
    ck_assert_msg(count_lines_with(out, "Not saving") == 0 || strstr(out, "keeps the last weights"), "%s", out);
    free(NULL);
}
END_TEST
#endif

// Patch 0016: weights with a NaN are not saved over a good file; last_saved_weights names the file.
#ifndef DK_FORK_AB   // pjreddie's patch 0016 (diverged weights are not saved); AlexeyAB's series has no equivalent yet
START_TEST(nan_weights_are_not_saved)
{
    char good[512], out[8192];
    tu_path(good, sizeof good, "good.weights");
    network *net = quiet_net(HEAD BODY);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    dk_save_weights(net, good);
    fclose(stderr);
    stderr = saved;
    size_t seen = 99;
    ck_assert_str_eq(last_saved_weights(&seen), good);
    ck_assert_int_eq(seen, *net->seen);
    struct stat st0;
    ck_assert(stat(good, &st0) == 0);
    char path[512];
    tu_path(path, sizeof path, "save.err");
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        tu_after_fork();
        if (!freopen(path, "w", stderr)) _exit(99);
        net->layers[0].weights[3] = NAN;
        dk_save_weights(net, good);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    FILE *f = fopen(path, "r");
    int n = f ? (int)fread(out, 1, sizeof out - 1, f) : 0;
    out[n > 0 ? n : 0] = 0;
    if (f) fclose(f);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d: %s", status, out);
    ck_assert_msg(strstr(out, "Not saving") && strstr(out, "NaN or Inf"), "%s", out);
    ck_assert(weights_finite(HEAD BODY, good));
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", good);
    ck_assert_msg(access(tmp, F_OK) != 0, "the temporary file is left behind");
    dk_free(net);
}
END_TEST
#endif

// a whole file's bytes and its length, or NULL
static char *file_bytes(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc(*n + 1);
    if (fread(s, 1, *n, f) != (size_t)*n) *n = -1;
    fclose(f);
    return s;
}

// pjreddie's patch 0015, AlexeyAB's 0018: a weights save that cannot be completed leaves the file it
// replaces whole (darknet wrote into it directly: the old weights were gone). The save runs in a
// child that may write at most 64 bytes to a file (RLIMIT_FSIZE, SIGXFSZ ignored: the write fails).
START_TEST(failed_save_keeps_the_old_weights)
{
    char good[512], tmp[600];
    tu_path(good, sizeof good, "keep.weights");
    snprintf(tmp, sizeof tmp, "%s.tmp", good);
    network *net = quiet_net(HEAD BODY);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    dk_save_weights(net, good);
    fclose(stderr);
    stderr = saved;
    long n0;
    char *before = file_bytes(good, &n0);
    ck_assert(before && n0 > 64);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(99);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit r = {64, 64};
        setrlimit(RLIMIT_FSIZE, &r);
        net->layers[0].weights[0] += 1;
        dk_save_weights(net, good);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    long n1;
    char *after = file_bytes(good, &n1);
    ck_assert_msg(after && n1 == n0 && !memcmp(before, after, n0), "the old weights file changed (%ld bytes, was %ld)", n1, n0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "the failed save: status %d (want exit 1)", status);
    ck_assert_msg(access(tmp, F_OK) != 0, "the temporary file is left behind");
    free(before); free(after);
    dk_free(net);
}
END_TEST

Suite *make_train_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("saliency_section");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, one_step_is_plain_plus_regularizer);
    tcase_add_test(tc, rolling_statistics_move_once);
    tcase_add_test(tc, weights_round_trip_with_and_without_the_section);
    tcase_add_test(tc, short_run_lowers_the_regularizer);
    tcase_add_test(tc, failed_save_keeps_the_old_weights);
    tcase_add_test(tc, section_errors_name_file_key_and_value);
    tcase_add_test(tc, section_values_are_exact);
    tcase_add_test(tc, zero_heatmap_stops_training_naming_the_layer);
    tcase_add_test(tc, section_after_a_cost_layer);
    tcase_add_test(tc, shipped_binary_refuses_nan_and_inf);
#ifndef DK_FORK_AB
    tcase_add_test(tc, diverging_run_stops_cleanly);
#endif
#ifndef DK_FORK_AB
    tcase_add_test(tc, nan_weights_are_not_saved);
#endif
    suite_add_tcase(s, tc);
    return s;
}
