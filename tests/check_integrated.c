// check_integrated.c: integrated gradients (src/integrated.h): the quadrature rules against exact
// integrals, gradient x (x - x0) on a linear net, the completeness gap as K grows, the batched
// path against one point at a time; `darknet saliency map -method integrated|smoothgrad` end to
// end and its errors on bad option values.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"
#include "methods.h"
#include "integrated.h"
#include "parser.h"
#include "testutil.h"

// the logits are linear in x: dz/dx is the same everywhere
static const char *CFG_LINEAR = "[net]\nbatch=4\nwidth=5\nheight=4\nchannels=3\n"
                            "[connected]\noutput=4\nactivation=linear\n[softmax]\n";
// piecewise linear (relu, maxpool): the integrand jumps at every kink
static const char *CFG_RELU = "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=3\n"
                          "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=relu\n"
                          "[maxpool]\nsize=2\nstride=2\n"
                          "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=relu\n"
                          "[connected]\noutput=3\nactivation=linear\n[softmax]\n";
// smooth: the integrand is analytic along the path
static const char *CFG_TANH = "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=3\n"
                          "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=tanh\n"
                          "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=tanh\n"
                          "[connected]\noutput=3\nactivation=linear\n[softmax]\n";

// a network from cfg text parsed for batch images (patch 0022; 0: the cfg's), random weights
static network *net_at(const char *cfg, int batch, uint64_t seed)
{
    static int count;
    char path[512], name[64];
    snprintf(name, sizeof name, "ig%d.cfg", count++);
    tu_path(path, sizeof path, name);
    tu_write_text(path, cfg);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    network *net = dk_parse(path, batch);
    fclose(stderr);
    stderr = saved;
    tu_randomize(net, seed);
    return net;
}

static eng *engine(network *net)
{
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    return e;
}

static mth_opts opts(int steps, const char *rule, const char *baseline)
{
    mth_opts o;
    mth_defaults(&o);
    o.steps = steps;
    o.rule = rule;
    o.baseline = baseline;
    return o;
}

// the gap sum map - (z_c(x) - z_c(x0)) of one image
static double gap_of(eng *e, const float *x, int cls, const mth_opts *o, double *dz)
{
    int n = eng_inputs(e);
    float *map = malloc(n * sizeof(float));
    double zx, z0, s = 0;
    long ev = 0;
    char err[512];
    ck_assert_msg(ig_maps(e, x, 1, cls, o, map, &zx, &z0, &ev, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < n; i++) s += map[i];
    free(map);
    if (dz) *dz = zx - z0;
    return s - (zx - z0);
}

static const char *RULES[] = {"right", "left", "middle", "trapezoid", "gausslegendre"};

// ---- the rules -------------------------------------------------------------------------------

// every rule's weights sum to 1 and its nodes lie in [0, 1]; K-point Gauss-Legendre integrates
// t^d exactly for d <= 2K - 1 (and not d = 2K); the midpoint rule t and 1 exactly
START_TEST(rules_integrate_what_they_should)
{
    double t[70], w[70];
    for (int r = 0; r < 5; r++)
        for (int K = 1; K <= 64; K = K < 8 ? K + 1 : K * 2) {
            ig_rule rule;
            char err[128];
            ck_assert_int_eq(ig_rule_parse(RULES[r], &rule, err, sizeof err), 0);
            int J = ig_points(rule, K);
            ck_assert_int_eq(J, rule == IG_TRAPEZOID ? K + 1 : K);
            ig_nodes(rule, K, t, w);
            double s = 0;
            for (int j = 0; j < J; j++) {
                ck_assert(t[j] >= 0 && t[j] <= 1);
                ck_assert(j == 0 || t[j] > t[j - 1]);
                s += w[j];
            }
            ck_assert_double_eq_tol(s, 1, 1e-13);
            if (rule == IG_GAUSSLEGENDRE)
                for (int d = 0; d <= 2 * K; d++) {
                    double q = 0;
                    for (int j = 0; j < J; j++) q += w[j] * pow(t[j], d);
                    if (d < 2 * K) ck_assert_msg(fabs(q - 1.0 / (d + 1)) < 1e-13, "K %d: int t^%d = %.17g", K, d, q);
                    else if (K <= 4) ck_assert_msg(fabs(q - 1.0 / (d + 1)) > 1e-8, "K %d: t^%d should not be exact", K, d);
                }
            if (rule == IG_MIDDLE || rule == IG_TRAPEZOID) {
                double q = 0;
                for (int j = 0; j < J; j++) q += w[j] * t[j];
                ck_assert_double_eq_tol(q, 0.5, 1e-13);
            }
        }
    ig_nodes(IG_RIGHT, 4, t, w);
    ck_assert(t[0] == 0.25 && t[3] == 1);
    ig_nodes(IG_LEFT, 4, t, w);
    ck_assert(t[0] == 0 && t[3] == 0.75);
    ig_nodes(IG_TRAPEZOID, 4, t, w);
    ck_assert(w[0] == 0.125 && w[1] == 0.25 && w[4] == 0.125);
    int size;
    double sigma;
    ig_blur_kernel(224, 224, &size, &sigma);
    ck_assert(size == 51 && sigma == 50);
    ig_blur_kernel(64, 64, &size, &sigma);
    ck_assert_int_eq(size, 15);
    ig_blur_kernel(28, 28, &size, &sigma);
    ck_assert_int_eq(size, 7);
    ig_blur_kernel(4, 5, &size, &sigma);
    ck_assert_int_eq(size, 3);
}
END_TEST

// ---- linear net: integrated gradients = gradient x (x - x0) -----------------------------------

START_TEST(linear_net_gives_gradient_times_input)
{
    network *net = net_at(CFG_LINEAR, 0, 7);
    eng *e = engine(net);
    int n = eng_inputs(e), c, h, w;
    eng_input_shape(e, &c, &h, &w);
    float *x = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float)), *map = malloc(n * sizeof(float));
    float *x0 = malloc(n * sizeof(float));
    uint64_t rng = 3;
    tu_fill(x, n, 0, 1, &rng);
    int cls = 2;
    ck_assert_int_eq(eng_logit_grad(e, x, 1, &cls, g, NULL, NULL), 0);
    const char *bases[] = {"black", "blur", "mean", "noise"};
    for (int r = 0; r < 5; r++)
        for (int b = 0; b < 4; b++) {
            mth_opts o = opts(r == 4 ? 3 : 5, RULES[r], bases[b]);
            mth_info info = {"", 0};
            char err[512];
            ck_assert_msg(mth_integrated(e, x, cls, &o, map, &info, err, sizeof err) == 0, "%s", err);
            ig_baseline base;
            ck_assert_int_eq(ig_baseline_parse(bases[b], &base, err, sizeof err), 0);
            ck_assert_int_eq(ig_baseline_of(base, x, c, h, w, o.seed, x0), 0);
            double gap = 0;
            for (int i = 0; i < n; i++) {
                // black: the gradient x input itself, without the baseline helper
                float want = b == 0 ? g[i] * x[i] : g[i] * (x[i] - x0[i]);
                ck_assert_msg(fabsf(map[i] - want) <= 1e-5f * (1 + fabsf(want)), "%s rule, %s baseline, [%d]: %g, want %g",
                              RULES[r], bases[b], i, map[i], want);
                gap += map[i];
            }
            ck_assert_msg(fabs(gap_of(e, x, cls, &o, NULL)) < 1e-4, "%s/%s: gap %g", RULES[r], bases[b], gap_of(e, x, cls, &o, NULL));
            ck_assert_msg(strstr(info.line, "completeness gap") && strstr(info.line, RULES[r]) && strstr(info.line, bases[b]),
                          "%s", info.line);
            // the path's points, plus the end points the rule lacks (forward only)
            int J = r == 3 ? o.steps + 1 : o.steps, extra = r == 0 || r == 1 ? 1 : r == 3 ? 0 : 2;
            ck_assert_int_eq(info.evaluations, J + extra);
        }
    // the baselines themselves
    mth_opts o = opts(4, "right", "mean");
    ig_baseline_of(IG_MEAN, x, c, h, w, 1, x0);
    for (int k = 0; k < c; k++) {
        double s = 0;
        for (int i = 0; i < h * w; i++) s += x[k * h * w + i];
        for (int i = 0; i < h * w; i++) ck_assert_float_eq_tol(x0[k * h * w + i], s / (h * w), 1e-6);
    }
    ig_baseline_of(IG_NOISE, x, c, h, w, 5, x0);
    float lo = 1, hi = 0;
    for (int i = 0; i < n; i++) { lo = fminf(lo, x0[i]); hi = fmaxf(hi, x0[i]); }
    ck_assert(lo >= 0 && hi < 1 && hi - lo > 0.5f);
    (void)o;
    free(x); free(g); free(map); free(x0);
    eng_free(e);
    dk_free(net);
}
END_TEST

// ---- the completeness gap as K grows ----------------------------------------------------------

// On a piecewise linear net the integrand jumps at every kink the path crosses, so every rule
// converges about as O(1/K) and not monotonically (one K can land luckily): compare the mean over
// four images of the worst gap at K = 4, 8 with that at K = 256, 512. Measured (seed 11): the ratio
// is 70-90 for every rule, the large-K gap 0.2-0.4% of |z_c(x) - z_c(x0)|.
START_TEST(gap_shrinks_as_k_grows)
{
    network *net = net_at(CFG_RELU, 0, 11);
    eng *e = engine(net);
    int n = eng_inputs(e);
    float *x = malloc(n * sizeof(float));
    const int Ks[] = {4, 8, 256, 512};
    for (int r = 0; r < 5; r++) {
        double small = 0, large = 0, dzs = 0;
        for (int img = 0; img < 4; img++) {
            uint64_t rng = 5 + img;
            tu_fill(x, n, 0, 1, &rng);
            double gap[4], dz = 0;
            for (int k = 0; k < 4; k++) {
                mth_opts o = opts(Ks[k], RULES[r], "black");
                gap[k] = fabs(gap_of(e, x, img % 3, &o, &dz));
            }
            small += fmax(gap[0], gap[1]) / 4;
            large += fmax(gap[2], gap[3]) / 4;
            dzs += fabs(dz) / 4;
        }
        ck_assert_msg(large < small / 10 && large < 1e-2 * dzs, "relu net, %s rule: mean worst gap %g at K = 4, 8 and %g at K = 256, 512 (mean |dz| %g)",
                      RULES[r], small, large, dzs);
    }
    free(x);
    eng_free(e);
    dk_free(net);
}
END_TEST

START_TEST(gausslegendre_is_far_better_on_a_smooth_net)
{
    network *net = net_at(CFG_TANH, 0, 13);
    eng *e = engine(net);
    int n = eng_inputs(e);
    float *x = malloc(n * sizeof(float));
    uint64_t rng = 6;
    tu_fill(x, n, 0, 1, &rng);
    int cls = 0;
    double g[5][3], dz = 0;
    const int Ks[] = {4, 8, 16};
    for (int r = 0; r < 5; r++)
        for (int k = 0; k < 3; k++) {
            mth_opts o = opts(Ks[k], RULES[r], "black");
            g[r][k] = fabs(gap_of(e, x, cls, &o, &dz));
        }
    // right/left: O(1/K); middle/trapezoid: O(1/K^2); Gauss-Legendre: geometric, down to float
    // noise. Measured (seed 13; K = 4, 8, 16): right 1.6e-2 6.7e-3 3.1e-3, left 7.6e-3 4.8e-3 2.7e-3,
    // middle 2.0e-3 4.8e-4 1.2e-4, trapezoid 3.9e-3 9.6e-4 2.4e-4, gausslegendre 1.4e-4 8.6e-9 2.4e-8
    // of |dz| 0.37
    for (int r = 0; r < 4; r++) {
        double p = r < 2 ? 1 : 2, want = pow(2, p) * 0.7;   // halving the step at least
        ck_assert_msg(g[r][1] < g[r][0] / want && g[r][2] < g[r][1] / want, "tanh net, %s rule: gaps %g %g %g",
                      RULES[r], g[r][0], g[r][1], g[r][2]);
    }
    for (int r = 0; r < 4; r++)
        ck_assert_msg(g[4][1] < g[r][1] / 100, "gausslegendre gap %g not 100 x below %s's %g at K = 8", g[4][1], RULES[r], g[r][1]);
    ck_assert_msg(g[4][1] < 1e-6 * fabs(dz) + 1e-6, "gausslegendre at K = 8: gap %g of %g", g[4][1], dz);
    free(x);
    eng_free(e);
    dk_free(net);
}
END_TEST

// ---- batches -----------------------------------------------------------------------------------

// a net made for one image (one call a point) and one for 7 (points of several images in one call,
// a short last batch) give the same maps and end-point logits; three images at once = one at a time
START_TEST(batched_equals_one_point_at_a_time)
{
    network *n1 = net_at(CFG_RELU, 1, 17), *n7 = net_at(CFG_RELU, 7, 17);
    eng *e1 = engine(n1), *e7 = engine(n7);
    ck_assert_int_eq(eng_batch(e1), 1);
    ck_assert_int_eq(eng_batch(e7), 7);
    int n = eng_inputs(e1);
    float *x = malloc(3 * n * sizeof(float)), *m1 = malloc(3 * n * sizeof(float)), *m7 = malloc(3 * n * sizeof(float));
    uint64_t rng = 8;
    tu_fill(x, 3 * n, 0, 1, &rng);
    const char *bases[] = {"black", "blur", "noise", "mean"};
    for (int r = 0; r < 5; r++) {
        mth_opts o = opts(r == 4 ? 6 : 10, RULES[r], bases[r % 4]);
        double zx1[3], z01[3], zx7[3], z07[3];
        long ev1 = 0, ev7 = 0;
        char err[512];
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(ig_maps(e1, x + i * n, 1, 2, &o, m1 + i * n, zx1 + i, z01 + i, &ev1, err, sizeof err), 0);
        ck_assert_int_eq(ig_maps(e7, x, 3, 2, &o, m7, zx7, z07, &ev7, err, sizeof err), 0);
        ck_assert_int_eq(ev1, ev7);
        for (int i = 0; i < 3 * n; i++)
            ck_assert_msg(fabsf(m1[i] - m7[i]) <= 2e-5f * (1 + fabsf(m1[i])), "%s rule [%d]: %g one at a time, %g batched",
                          RULES[r], i, m1[i], m7[i]);
        for (int i = 0; i < 3; i++) {
            ck_assert_double_eq_tol(zx1[i], zx7[i], 1e-5 * (1 + fabs(zx1[i])));
            ck_assert_double_eq_tol(z01[i], z07[i], 1e-5 * (1 + fabs(z01[i])));
        }
    }
    ck_assert_int_eq(n1->batch, 1);
    ck_assert_int_eq(n7->batch, 7);
    free(x); free(m1); free(m7);
    eng_free(e1); eng_free(e7);
    dk_free(n1); dk_free(n7);
}
END_TEST

// ---- bad option values in-process ---------------------------------------------------------------

START_TEST(bad_options_name_the_value)
{
    network *net = net_at(CFG_LINEAR, 0, 7);
    eng *e = engine(net);
    int n = eng_inputs(e);
    float *x = calloc(n, sizeof(float)), *map = malloc(n * sizeof(float));
    char err[512];
    mth_info info = {"", 0};
    mth_opts o = opts(4, "right", "foo");
    ck_assert_int_eq(mth_integrated(e, x, 0, &o, map, &info, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "-baseline foo") && strstr(err, "black, blur, mean, noise"), "%s", err);
    o = opts(4, "bar", "black");
    ck_assert_int_eq(mth_integrated(e, x, 0, &o, map, &info, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "-rule bar") && strstr(err, "gausslegendre"), "%s", err);
    o = opts(0, "right", "black");
    ck_assert_int_eq(mth_integrated(e, x, 0, &o, map, &info, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "-steps 0"), "%s", err);
    o = opts(4, "right", "black");
    ck_assert_int_eq(mth_integrated(e, x, 9, &o, map, &info, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "class 9"), "%s", err);
    ck_assert_int_eq(info.evaluations, 0);
    free(x); free(map);
    eng_free(e);
    dk_free(net);
}
END_TEST

// ---- the map verb ---------------------------------------------------------------------------

static char P_CFG[512], P_W[512], P_DATA[512], P_IMG[512];

static void cli_setup(void)
{
    static int done;
    if (done) return;
    done = 1;
    tu_path(P_CFG, sizeof P_CFG, "igcli.cfg");
    tu_path(P_W, sizeof P_W, "igcli.weights");
    tu_path(P_DATA, sizeof P_DATA, "igcli.data");
    tu_path(P_IMG, sizeof P_IMG, "igimg.png");
    tu_write_text(P_CFG, CFG_RELU);
    network *net = net_at(CFG_RELU, 0, 19);
    FILE *saved = stderr;   // "Saving weights to ..."
    stderr = fopen("/dev/null", "w");
    dk_save_weights(net, P_W);
    fclose(stderr);
    stderr = saved;
    dk_free(net);
    char names[512], data[1024];
    tu_path(names, sizeof names, "igcli.names");
    tu_write_text(names, "a\nb\nc\n");
    snprintf(data, sizeof data, "classes=3\nnames=%s\n", names);
    tu_write_text(P_DATA, data);
    image im = make_image(8, 8, 3);
    uint64_t rng = 4;
    tu_fill(im.data, 8 * 8 * 3, 0, 1, &rng);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/igimg", tu_tmpdir());
    save_image_options(im, prefix, PNG, 0);
    free_image(im);
}

static int map_run(const char *opts_text, char *out, int outlen)
{
    char args[8192];
    snprintf(args, sizeof args, "map %s %s %s %s %s", P_DATA, P_CFG, P_W, P_IMG, opts_text);
    return tu_saliency("OPENBLAS_NUM_THREADS=1", args, out, outlen);
}

// the raw file of -method integrated and smoothgrad is the map the core makes in-process; the
// printed line has the gap and the steps
START_TEST(map_verb_writes_the_core_map)
{
    cli_setup();
    char out[16384], o[2048], raw[512], prefix[512];
    tu_path(raw, sizeof raw, "ig.f32");
    tu_path(prefix, sizeof prefix, "igout");
    const char *runs[] = {"-method integrated -steps 16 -rule trapezoid -baseline blur",
                          "-method smoothgrad -samples 5 -of integrated -steps 4 -variant squared -batch 3 -seed 9"};
    for (int k = 0; k < 2; k++) {
        snprintf(o, sizeof o, "%s -class 1 -out %s -raw %s", runs[k], prefix, raw);
        int rc = map_run(o, out, sizeof out);
        ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
        if (k == 0) ck_assert_msg(strstr(out, "16 steps (trapezoid rule, blur baseline), completeness gap "), "%s", out);
        else ck_assert_msg(strstr(out, "5 samples (squared of integrated: 4 steps"), "%s", out);
        int n = 8 * 8 * 3;
        float *fm = malloc(n * sizeof(float)), *map = malloc(n * sizeof(float));
        FILE *f = fopen(raw, "rb");
        ck_assert(f && fread(fm, sizeof(float), n + 1, f) == (size_t)n);
        fclose(f);
        FILE *saved = stderr;
        stderr = fopen("/dev/null", "w");
        network *net = sal_load_network(P_CFG, P_W, 0);
        fclose(stderr);
        stderr = saved;
        eng *e = engine(net);
        image im = load_image(P_IMG, 8, 8, 3);
        mth_opts op = k == 0 ? opts(16, "trapezoid", "blur") : opts(4, "right", "black");
        if (k == 1) { op.samples = 5; op.of = "integrated"; op.variant = "squared"; op.seed = 9; }
        mth_info info = {"", 0};
        char err[512];
        ck_assert_int_eq((k == 0 ? mth_integrated : mth_smoothgrad)(e, im.data, 1, &op, map, &info, err, sizeof err), 0);
        for (int i = 0; i < n; i++) ck_assert_msg(fabsf(fm[i] - map[i]) <= 1e-5f * (1 + fabsf(map[i])), "[%d] %g %g", i, fm[i], map[i]);
        free(fm); free(map);
        free_image(im);
        eng_free(e);
        dk_free(net);
    }
}
END_TEST

START_TEST(map_verb_bad_values_exit_1)
{
    cli_setup();
    struct { const char *opts, *want1, *want2; } bad[] = {
        {"-method integrated -baseline foo", "-baseline foo", "black, blur, mean, noise"},
        {"-method integrated -rule bar", "-rule bar", "right, left, middle, trapezoid, gausslegendre"},
        {"-method integrated -steps 0", "-steps 0", "allowed"},
        {"-method integrated -steps x", "-steps x", "allowed"},
        {"-method smoothgrad -variant x", "-variant x", "mean, squared, vargrad"},
        {"-method smoothgrad -of igos", "-of igos", "vanilla, gradxinput, integrated"},
        {"-method smoothgrad -of integrated -rule bar", "-rule bar", "trapezoid"},
        {"-method smoothgrad -samples 0", "-samples 0", "allowed"},
        {"-method smoothgrad -sigma -1", "-sigma -1", "allowed"},
        {"-method integrall", "-method integrall", "integrated"},
    };
    char out[16384];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = map_run(bad[i].opts, out, sizeof out);
        ck_assert_msg(rc == 1, "%s: exit %d: %s", bad[i].opts, rc, out);
        ck_assert_msg(strstr(out, bad[i].want1) && strstr(out, bad[i].want2), "%s: %s", bad[i].opts, out);
    }
}
END_TEST

Suite *make_integrated_suite(void)
{
    Suite *s = suite_create("integrated");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rules_integrate_what_they_should);
    tcase_add_test(tc, linear_net_gives_gradient_times_input);
    tcase_add_test(tc, gap_shrinks_as_k_grows);
    tcase_add_test(tc, gausslegendre_is_far_better_on_a_smooth_net);
    tcase_add_test(tc, batched_equals_one_point_at_a_time);
    tcase_add_test(tc, bad_options_name_the_value);
    suite_add_tcase(s, tc);
    TCase *cli = tcase_create("cli");
    tcase_set_timeout(cli, 120);
    tcase_add_test(cli, map_verb_writes_the_core_map);
    tcase_add_test(cli, map_verb_bad_values_exit_1);
    suite_add_tcase(s, cli);
    return s;
}
