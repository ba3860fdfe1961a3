// check_fool.c: fooling images (src/fool.h, `darknet saliency fool`) on a small classifier trained
// here: the target reached within the budget, pixels kept in [0, 1], every step at most lr long,
// the verb's pictures and raw file (C x H x W floats, the core's image), a budget of one step
// that is not enough (exit 1 and the message), bad flags.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"
#include "fool.h"
#include "testutil.h"

#define S 8
#define CLASSES 3
// class k: a bright 3 x 3 patch at one of three places, in channel k, on a noisy grey ground
static const char *CFG_NET =
    "[net]\nbatch=16\nwidth=8\nheight=8\nchannels=3\nlearning_rate=0.1\nmomentum=0.9\ndecay=0\n"
    "policy=constant\nmax_batches=1000\n"
    "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[connected]\noutput=3\nactivation=linear\n[softmax]\n";

static void sample(float *x, int k, uint64_t *rng)
{
    // x (3, S, S)
    for (int i = 0; i < 3 * S * S; i++) x[i] = 0.3f + 0.2f * tu_uniform(rng);
    int y0 = 1 + 2 * k, x0 = 1 + 2 * k;
    for (int y = y0; y < y0 + 3; y++)
        for (int xx = x0; xx < x0 + 3; xx++) x[(k * S + y) * S + xx] = 0.9f + 0.1f * tu_uniform(rng);
}

static char P_CFG[512], P_W[512], P_DATA[512], P_IMG[512];

// trains the net (300 batches of 16: a few seconds at most), writes cfg, weights, data cfg and a
// class 0 test image
static void setup(void)
{
    static int done;
    if (done) return;
    done = 1;
    tu_path(P_CFG, sizeof P_CFG, "fool.cfg");
    tu_path(P_W, sizeof P_W, "fool.weights");
    tu_path(P_DATA, sizeof P_DATA, "fool.data");
    tu_path(P_IMG, sizeof P_IMG, "foolimg.png");
    tu_write_text(P_CFG, CFG_NET);
    network *net = tu_net(CFG_NET);
    tu_randomize(net, 31);
    uint64_t rng = 32;
    for (int it = 0; it < 300; it++) {
        memset(net->truth, 0, net->batch * CLASSES * sizeof(float));
        for (int b = 0; b < net->batch; b++) {
            int k = (b + it) % CLASSES;
            sample(net->input + b * net->inputs, k, &rng);
            net->truth[b * CLASSES + k] = 1;
        }
        dk_train_datum(net);
    }
    FILE *saved = stderr;   // "Saving weights to ..."
    stderr = fopen("/dev/null", "w");
    dk_save_weights(net, P_W);
    fclose(stderr);
    stderr = saved;
    dk_free(net);
    char names[512], data[1024];
    tu_path(names, sizeof names, "fool.names");
    tu_write_text(names, "first\nsecond\nthird\n");
    snprintf(data, sizeof data, "classes=3\nnames=%s\n", names);
    tu_write_text(P_DATA, data);
    image im = make_image(S, S, 3);
    rng = 99;
    sample(im.data, 0, &rng);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/foolimg", tu_tmpdir());
    save_image_options(im, prefix, PNG, 0);
    free_image(im);
}

static network *trained(void)
{
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    network *net = sal_load_network(P_CFG, P_W, 0);
    fclose(stderr);
    stderr = saved;
    set_batch_network(net, 1);
    return net;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

// in-process: the trained net is sure of the test image; ascent reaches each other class within
// the budget, pixels in [0, 1], each step at most lr in L2, the result predicted as the target
START_TEST(fool_reaches_the_target)
{
    setup();
    network *net = trained();
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    int n = eng_inputs(e);
    image im = load_image(P_IMG, S, S, 3);
    float p[CLASSES], *xf = malloc(n * sizeof(float)), *d = malloc(n * sizeof(float));
    eng_predict(e, im.data, 1, NULL, p);
    ck_assert_msg(p[0] > 0.9f, "the trained net: p(0) = %g on a class 0 image", p[0]);
    for (int target = 0; target < CLASSES; target++) {
        fool_result r;
        ck_assert_msg(fool_run(e, im.data, target, FOOL_STEPS, FOOL_LR, xf, &r, NULL, NULL, err, sizeof err) == 0, "%s", err);
        ck_assert_msg(r.reached && r.pred == target, "target %d: not reached in %d steps (p %g)", target, r.steps, r.p_target);
        ck_assert_int_eq(r.orig, 0);
        ck_assert_int_eq(r.steps == 0, target == 0);
        ck_assert_int_eq(r.evaluations, r.steps + 1);
        double l2 = 0, linf = 0;
        for (int i = 0; i < n; i++) {
            ck_assert_msg(xf[i] >= 0 && xf[i] <= 1, "target %d: pixel %d = %g", target, i, xf[i]);
            double di = fabs(xf[i] - im.data[i]);
            l2 += di * di;
            linf = fmax(linf, di);
        }
        ck_assert_double_eq_tol(sqrt(l2), r.l2, 1e-6);
        ck_assert_double_eq_tol(linf, r.linf, 1e-7);
        ck_assert(r.l2 <= r.steps * FOOL_LR + 1e-6);
        eng_predict(e, xf, 1, NULL, p);
        ck_assert_int_eq(max_index(p, CLASSES), target);
        ck_assert_float_eq_tol(p[target], r.p_target, 1e-6);
        if (target) ck_assert(r.p_target > r.p_orig);
        fool_diff(im.data, xf, n, d);
        float top = 0;
        for (int i = 0; i < n; i++) { ck_assert(d[i] >= 0 && d[i] <= 1); top = fmaxf(top, d[i]); }
        ck_assert(target == 0 ? top == 0 : top == 1);
    }
    // one short step is not enough: not reached, no error, the numbers of the last image
    fool_result r;
    ck_assert_int_eq(fool_run(e, im.data, 2, 1, FOOL_LR, xf, &r, NULL, NULL, err, sizeof err), 0);
    ck_assert(!r.reached && r.steps == 1 && r.pred == 0 && r.l2 > 0 && r.l2 <= FOOL_LR + 1e-6);
    ck_assert_int_eq(fool_run(e, im.data, 3, 10, FOOL_LR, xf, &r, NULL, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "-target 3") && strstr(err, "0..2"), "%s", err);
    ck_assert_int_eq(fool_run(e, im.data, 1, 10, 0, xf, &r, NULL, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "-lr 0"), "%s", err);
    free(xf); free(d);
    free_image(im);
    eng_free(e);
    dk_free(net);
}
END_TEST

static int fool_cli(const char *opts, char *out, int outlen)
{
    char args[8192];
    snprintf(args, sizeof args, "fool %s %s %s %s %s", P_DATA, P_CFG, P_W, P_IMG, opts);
    return tu_saliency("OPENBLAS_NUM_THREADS=1", args, out, outlen);
}

START_TEST(verb_writes_the_fooling_image)
{
    setup();
    char out[16384], o[2048], prefix[512], raw[512], f1[600], f2[600];
    tu_path(prefix, sizeof prefix, "fooled");
    tu_path(raw, sizeof raw, "fool.f32");
    snprintf(f1, sizeof f1, "%s_fool.png", prefix);
    snprintf(f2, sizeof f2, "%s_diff.png", prefix);
    snprintf(o, sizeof o, "-target 2 -out %s -raw %s", prefix, raw);
    int rc = fool_cli(o, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "predicted: 0 first") && strstr(out, "fooled: 0 first -> 2 third in ") && strstr(out, "|delta|_2 ") &&
                  strstr(out, "|delta|_inf ") && strstr(out, "p(2 third) "), "%s", out);
    ck_assert(file_size(f1) > 0 && file_size(f2) > 0);
    int n = 3 * S * S;
    ck_assert_int_eq(file_size(raw), n * (long)sizeof(float));
    float *xr = malloc(n * sizeof(float)), *xf = malloc(n * sizeof(float));
    FILE *f = fopen(raw, "rb");
    ck_assert(f && fread(xr, sizeof(float), n, f) == (size_t)n);
    fclose(f);
    // the core's image, in-process from the same files
    network *net = trained();
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    image im = load_image(P_IMG, S, S, 3);
    fool_result r;
    ck_assert_int_eq(fool_run(e, im.data, 2, FOOL_STEPS, FOOL_LR, xf, &r, NULL, NULL, err, sizeof err), 0);
    char steps[64];
    snprintf(steps, sizeof steps, "in %d step", r.steps);
    ck_assert_msg(strstr(out, steps), "%s: %s", steps, out);
    for (int i = 0; i < n; i++) {
        ck_assert(xr[i] >= 0 && xr[i] <= 1);
        ck_assert_float_eq_tol(xr[i], xf[i], 1e-6);
    }
    // the fooling picture holds the raw image to 8 bits (darknet truncates 255 v)
    image fp = load_image(f1, 0, 0, 3);
    ck_assert(fp.w == S && fp.h == S);
    for (int i = 0; i < n; i++) ck_assert_float_eq_tol(fp.data[i], xf[i], 1.0f / 255 + 1e-6f);
    free_image(fp);
    free(xr); free(xf);
    free_image(im);
    eng_free(e);
    dk_free(net);
}
END_TEST

START_TEST(verb_exits_1_when_the_budget_runs_out_or_a_flag_is_bad)
{
    setup();
    char out[16384], o[2048], prefix[512], f1[600];
    tu_path(prefix, sizeof prefix, "notfooled");
    snprintf(f1, sizeof f1, "%s_fool.png", prefix);
    snprintf(o, sizeof o, "-target 2 -steps 1 -out %s", prefix);
    int rc = fool_cli(o, out, sizeof out);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "-target 2 third not reached in 1 step") && strstr(out, "-steps"), "%s", out);
    ck_assert_int_eq(file_size(f1), -1);   // nothing written
    struct { const char *opts, *want; } bad[] = {
        {"", "-target N is required"},
        {"-target 3", "-target 3: the network has classes 0..2"},
        {"-target 1 -steps 0", "-steps 0"},
        {"-target 1 -lr 0", "-lr 0"},
        {"-target 1 -lr x", "-lr x"},
        {"-target 1 -steps 5 -steps 6", "-steps"},
        {"-target 1 -method vanilla", "-method"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = fool_cli(bad[i].opts, out, sizeof out);
        ck_assert_msg(rc == 1, "%s: exit %d: %s", bad[i].opts, rc, out);
        ck_assert_msg(strstr(out, bad[i].want), "%s: %s", bad[i].opts, out);
    }
}
END_TEST

Suite *make_fool_suite(void)
{
    Suite *s = suite_create("fool");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fool_reaches_the_target);
    tcase_add_test(tc, verb_writes_the_fooling_image);
    tcase_add_test(tc, verb_exits_1_when_the_budget_runs_out_or_a_flag_is_bad);
    suite_add_tcase(s, tc);
    return s;
}
