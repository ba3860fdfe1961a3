// check_smoothgrad.c: SmoothGrad (src/smoothgrad.c): sigma 0 gives the wrapped method, the seed
// fixes the map, the variants on a linear net (every sample's gradient the same: vargrad 0,
// squared g^2) and their identity var = E[m^2] - E[m]^2 on a nonlinear one, the noise scale,
// batched against one image a call, bad values.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "methods.h"
#include "parser.h"
#include "testutil.h"

static const char *CFG_LINEAR = "[net]\nbatch=6\nwidth=5\nheight=4\nchannels=3\n"
                                "[connected]\noutput=4\nactivation=linear\n[softmax]\n";
static const char *CFG_RES = "[net]\nbatch=5\nwidth=12\nheight=12\nchannels=3\n" TU_RESNET_BODY;

static network *net_at(const char *cfg, int batch, uint64_t seed)
{
    static int count;
    char path[512], name[64];
    snprintf(name, sizeof name, "sg%d.cfg", count++);
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

static mth_opts sg(const char *of, const char *variant, int samples, double sigma, uint64_t seed)
{
    mth_opts o;
    mth_defaults(&o);
    o.of = of;
    o.variant = variant;
    o.samples = samples;
    o.sigma = sigma;
    o.seed = seed;
    o.steps = 6;
    return o;
}

static void run(eng *e, const float *x, int cls, const mth_opts *o, float *map)
{
    mth_info info = {"", 0};
    char err[512];
    ck_assert_msg(mth_smoothgrad(e, x, cls, o, map, &info, err, sizeof err) == 0, "%s", err);
}

static const char *OFS[] = {"vanilla", "gradxinput", "integrated"};

// sigma 0: every noisy copy is x, so mean = the wrapped map, squared = its square, vargrad = 0
START_TEST(sigma_zero_gives_the_wrapped_method)
{
    network *net = net_at(CFG_RES, 0, 3);
    eng *e = engine(net);
    int n = eng_inputs(e);
    float *x = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float)), *map = malloc(n * sizeof(float));
    uint64_t rng = 4;
    tu_fill(x, n, 0, 1, &rng);
    const mth_fn fns[] = {mth_vanilla, mth_gradxinput, mth_integrated};
    for (int f = 0; f < 3; f++) {
        mth_opts o = sg(OFS[f], "mean", 7, 0, 1);
        mth_info info = {"", 0};
        char err[512];
        ck_assert_int_eq(fns[f](e, x, 2, &o, want, &info, err, sizeof err), 0);
        run(e, x, 2, &o, map);
        for (int i = 0; i < n; i++) ck_assert_msg(fabsf(map[i] - want[i]) <= 1e-5f * (1 + fabsf(want[i])), "%s [%d]: %g, want %g", OFS[f], i, map[i], want[i]);
        o.variant = "squared";
        run(e, x, 2, &o, map);
        for (int i = 0; i < n; i++) ck_assert_float_eq_tol(map[i], want[i] * want[i], 1e-5f * (1 + want[i] * want[i]));
        o.variant = "vargrad";
        run(e, x, 2, &o, map);
        for (int i = 0; i < n; i++) ck_assert_msg(fabsf(map[i]) <= 1e-10f * (1 + want[i] * want[i]), "%s vargrad [%d]: %g", OFS[f], i, map[i]);
    }
    free(x); free(want); free(map);
    eng_free(e);
    dk_free(net);
}
END_TEST

// the same seed: the same map, bit for bit; another seed: another map
START_TEST(the_seed_fixes_the_map)
{
    network *net = net_at(CFG_RES, 0, 3);
    eng *e = engine(net);
    int n = eng_inputs(e);
    float *x = malloc(n * sizeof(float)), *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    uint64_t rng = 4;
    tu_fill(x, n, 0, 1, &rng);
    for (int f = 0; f < 3; f++) {
        mth_opts o = sg(OFS[f], "mean", 6, 0.15, 42);
        run(e, x, 1, &o, a);
        run(e, x, 1, &o, b);
        ck_assert_msg(!memcmp(a, b, n * sizeof(float)), "%s: seed 42 twice, two maps", OFS[f]);
        o.seed = 43;
        run(e, x, 1, &o, b);
        double d = 0;
        for (int i = 0; i < n; i++) d += fabs(a[i] - b[i]);
        ck_assert_msg(d > 0, "%s: seeds 42 and 43 give the same map", OFS[f]);
    }
    free(x); free(a); free(b);
    eng_free(e);
    dk_free(net);
}
END_TEST

// a linear net: every sample's gradient is the same g, so vanilla's mean = g, squared = g^2,
// vargrad = 0 exactly (Welford's update of equal values adds nothing); gradient x noisy input has
// vargrad g^2 (sigma (max - min))^2 in expectation: the noise has the scale it should
START_TEST(variants_on_a_linear_net)
{
    network *net = net_at(CFG_LINEAR, 0, 7);
    eng *e = engine(net);
    int n = eng_inputs(e);
    float *x = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float)), *map = malloc(n * sizeof(float));
    uint64_t rng = 3;
    tu_fill(x, n, 0.2f, 0.7f, &rng);
    float lo = x[0], hi = x[0];
    for (int i = 0; i < n; i++) { lo = fminf(lo, x[i]); hi = fmaxf(hi, x[i]); }
    int cls = 1;
    ck_assert_int_eq(eng_logit_grad(e, x, 1, &cls, g, NULL, NULL), 0);
    mth_opts o = sg("vanilla", "mean", 25, 0.3, 5);
    run(e, x, cls, &o, map);
    for (int i = 0; i < n; i++) ck_assert_float_eq_tol(map[i], g[i], 1e-6f * (1 + fabsf(g[i])));
    o.variant = "squared";
    run(e, x, cls, &o, map);
    for (int i = 0; i < n; i++) ck_assert_float_eq_tol(map[i], g[i] * g[i], 1e-6f * (1 + g[i] * g[i]));
    o.variant = "vargrad";
    run(e, x, cls, &o, map);
    for (int i = 0; i < n; i++) ck_assert_msg(map[i] == 0, "vargrad [%d] = %g on a linear net", i, map[i]);

    // gradxinput: m_n = g (x + eps_n), so vargrad = g^2 var(eps) (the sample variance of N draws,
    // relative sd sqrt(2/N) = 3% per value at N = 2000; over n values much less)
    const int N = 2000;
    o = sg("gradxinput", "vargrad", N, 0.2, 6);
    run(e, x, cls, &o, map);
    double sd = 0.2 * ((double)hi - lo), num = 0, den = 0;
    for (int i = 0; i < n; i++) { num += map[i]; den += (double)g[i] * g[i] * sd * sd; }
    ck_assert_msg(fabs(num / den - 1) < 0.03, "vargrad of gradxinput / (g^2 sd^2) = %g", num / den);
    // and its mean is g x: the noise has mean 0 (within 4 standard errors)
    o.variant = "mean";
    run(e, x, cls, &o, map);
    for (int i = 0; i < n; i++)
        ck_assert_msg(fabs(map[i] - g[i] * x[i]) <= 4 * fabs(g[i]) * sd / sqrt(N) + 1e-6, "mean [%d] %g, g x %g", i, map[i], g[i] * x[i]);
    free(x); free(g); free(map);
    eng_free(e);
    dk_free(net);
}
END_TEST

// a nonlinear net: vargrad = squared - mean^2 (the same draws for the three variants), and the
// samples differ (vargrad clearly above 0: one noise draw reused for every sample would give 0)
START_TEST(vargrad_is_the_variance)
{
    network *net = net_at(CFG_RES, 0, 9);
    eng *e = engine(net);
    int n = eng_inputs(e);
    float *x = malloc(n * sizeof(float)), *m = malloc(n * sizeof(float)), *sq = malloc(n * sizeof(float)),
          *v = malloc(n * sizeof(float));
    uint64_t rng = 10;
    tu_fill(x, n, 0, 1, &rng);
    for (int f = 0; f < 3; f++) {
        mth_opts o = sg(OFS[f], "mean", 12, 0.15, 77);
        run(e, x, 0, &o, m);
        o.variant = "squared";
        run(e, x, 0, &o, sq);
        o.variant = "vargrad";
        run(e, x, 0, &o, v);
        double vs = 0, ss = 0;
        for (int i = 0; i < n; i++) {
            double want = (double)sq[i] - (double)m[i] * m[i];
            ck_assert_msg(fabs(v[i] - want) <= 1e-4 * sq[i] + 1e-12, "%s [%d]: vargrad %g, squared - mean^2 %g", OFS[f], i, v[i], want);
            ck_assert(v[i] >= 0);
            vs += v[i];
            ss += sq[i];
        }
        ck_assert_msg(vs > 0.05 * ss, "%s: sum vargrad %g, sum squared %g: the samples hardly differ", OFS[f], vs, ss);
    }
    free(x); free(m); free(sq); free(v);
    eng_free(e);
    dk_free(net);
}
END_TEST

// a net made for one image (one call a sample; integrated: a call a path point) and one for 5
// (short batches; integrated pools the points of several samples) give the same map
START_TEST(batched_equals_one_image_a_call)
{
    network *n1 = net_at(CFG_RES, 1, 12), *n5 = net_at(CFG_RES, 5, 12);
    eng *e1 = engine(n1), *e5 = engine(n5);
    int n = eng_inputs(e1);
    float *x = malloc(n * sizeof(float)), *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    uint64_t rng = 13;
    tu_fill(x, n, 0, 1, &rng);
    const char *variants[] = {"mean", "squared", "vargrad"};
    for (int f = 0; f < 3; f++) {
        mth_opts o = sg(OFS[f], variants[f], 7, 0.15, 3);
        o.steps = 4;
        mth_info i1 = {"", 0}, i5 = {"", 0};
        char err[512];
        ck_assert_int_eq(mth_smoothgrad(e1, x, 4, &o, a, &i1, err, sizeof err), 0);
        ck_assert_int_eq(mth_smoothgrad(e5, x, 4, &o, b, &i5, err, sizeof err), 0);
        ck_assert_int_eq(i1.evaluations, f == 2 ? 7 * 4 : 7);
        ck_assert_int_eq(i1.evaluations, i5.evaluations);
        double top = 0;
        for (int i = 0; i < n; i++) top = fmax(top, fabs(a[i]));
        for (int i = 0; i < n; i++)
            ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-5 * top, "%s %s [%d]: %g one a call, %g batched", OFS[f], variants[f], i, a[i], b[i]);
    }
    free(x); free(a); free(b);
    eng_free(e1); eng_free(e5);
    dk_free(n1); dk_free(n5);
}
END_TEST

START_TEST(bad_values_name_them)
{
    network *net = net_at(CFG_LINEAR, 0, 7);
    eng *e = engine(net);
    int n = eng_inputs(e);
    float *x = calloc(n, sizeof(float)), *map = malloc(n * sizeof(float));
    char err[512];
    mth_info info = {"", 0};
    struct { mth_opts o; const char *want; } bad[] = {
        {sg("vanilla", "x", 5, 0.1, 1), "-variant x: allowed: mean, squared, vargrad"},
        {sg("igos", "mean", 5, 0.1, 1), "-of igos: allowed: vanilla, gradxinput, integrated"},
        {sg("vanilla", "mean", 0, 0.1, 1), "-samples 0"},
        {sg("vanilla", "mean", 5, -1, 1), "-sigma -1"},
        {sg("integrated", "mean", 5, 0.1, 1), "-baseline foo"},
    };
    bad[4].o.baseline = "foo";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(mth_smoothgrad(e, x, 0, &bad[i].o, map, &info, err, sizeof err), -1);
        ck_assert_msg(strstr(err, bad[i].want), "got '%s', want '%s'", err, bad[i].want);
    }
    ck_assert_int_eq(info.evaluations, 0);
    free(x); free(map);
    eng_free(e);
    dk_free(net);
}
END_TEST

Suite *make_smoothgrad_suite(void)
{
    Suite *s = suite_create("smoothgrad");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sigma_zero_gives_the_wrapped_method);
    tcase_add_test(tc, the_seed_fixes_the_map);
    tcase_add_test(tc, variants_on_a_linear_net);
    tcase_add_test(tc, vargrad_is_the_variance);
    tcase_add_test(tc, batched_equals_one_image_a_call);
    tcase_add_test(tc, bad_values_name_them);
    suite_add_tcase(s, tc);
    return s;
}
