// check_rise.c: RISE (src/rise.c) against a brute-force loop written here from the protocol
// (RISE's generate_masks: the grid, the shift, the upsampling, the crop; one eng_predict per masked
// image), batched and one image at a time; bad values in-process and through the binary.
#include "cam_testutil.h"
#include "rng.h"
#include "saliency_util.h"

// 12 x 10 input (not square: H and W are not mixed up), 4 classes; the head's weights x 4
static const char *CFG =
    "[net]\nbatch=1\nwidth=10\nheight=12\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nfilters=4\nsize=1\nactivation=linear\n"
    "[avgpool]\n[softmax]\n";

// the oracle: map (C, H, W) = sum_n p_c(x * m_n) m_n / (N p1), mask by mask, one image per call
static void brute_rise(eng *e, const float *x, int cls, int N, int s, double p1, uint64_t seed, float *map)
{
    int C, H, W;
    eng_input_shape(e, &C, &H, &W);
    int hw = H * W, K = eng_classes(e);
    int ch = (H + s - 1) / s, cw = (W + s - 1) / s, uh = (s + 1) * ch, uw = (s + 1) * cw;
    float *grid = malloc(sizeof(float) * s * s), *up = malloc(sizeof(float) * uh * uw), *m = malloc(sizeof(float) * hw);
    float *xm = malloc(sizeof(float) * C * hw), *p = malloc(sizeof(float) * K);
    double *acc = calloc(hw, sizeof(double));
    uint64_t rng = seed;
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < s * s; i++) grid[i] = rng_uniform(&rng) < p1;
        int dy = (int)(rng_uniform(&rng) * ch), dx = (int)(rng_uniform(&rng) * cw);
        cam_bilinear(grid, s, s, up, uh, uw);
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) m[y * W + xx] = up[(y + dy) * uw + xx + dx];
        for (int c = 0; c < C; c++)
            for (int i = 0; i < hw; i++) xm[c * hw + i] = x[c * hw + i] * m[i];
        eng_predict(e, xm, 1, NULL, p);
        for (int i = 0; i < hw; i++) acc[i] += p[cls] * m[i];
    }
    for (int c = 0; c < C; c++)
        for (int i = 0; i < hw; i++) map[c * hw + i] = (float)(acc[i] / (N * p1));
    free(grid); free(up); free(m); free(xm); free(p); free(acc);
}

// the same maps as the brute-force loop, at batch 1, a batch that divides N and one that leaves a
// short batch; the same seed twice the same map, another seed another
START_TEST(rise_equals_brute_force_at_every_batch)
{
    network *n1 = cam_net(CFG, "rise1.cfg", 1, 7, 2, 4), *n5 = cam_net(CFG, "rise5.cfg", 5, 7, 2, 4),
            *n8 = cam_net(CFG, "rise8.cfg", 8, 7, 2, 4);
    char err[512];
    eng *e1 = eng_init(n1, err, sizeof err), *e5 = eng_init(n5, err, sizeof err), *e8 = eng_init(n8, err, sizeof err);
    int n = eng_inputs(e1);
    float *x = malloc(sizeof(float) * n), *want = malloc(sizeof(float) * n), *map = malloc(sizeof(float) * n);
    uint64_t rng = 17;
    tu_fill(x, n, 0, 1, &rng);
    struct { int N, s; double p1; uint64_t seed; } cases[] = {{40, 3, 0.5, 1}, {37, 4, 0.3, 99}, {25, 7, 0.8, 5}, {10, 10, 0.5, 2}};
    for (int t = 0; t < (int)(sizeof cases / sizeof cases[0]); t++) {
        mth_opts o;
        mth_defaults(&o);
        o.masks = cases[t].N;
        o.cells = cases[t].s;
        o.p1 = cases[t].p1;
        o.seed = cases[t].seed;
        int cls = t % 4;
        brute_rise(e1, x, cls, o.masks, o.cells, o.p1, o.seed, want);
        double top = cam_maxabs(want, n);
        ck_assert_msg(top > 1e-3, "case %d: the map is %g at most", t, top);
        eng *es[3] = {e1, e5, e8};
        for (int b = 0; b < 3; b++) {
            mth_info info = {"", 0};
            ck_assert_int_eq(mth_rise(es[b], x, cls, &o, map, &info, err, sizeof err), 0);
            ck_assert_int_eq(info.evaluations, o.masks);
            double d = cam_maxdiff(map, want, n);
            ck_assert_msg(d <= 1e-5 * top + 5e-7, "case %d (N %d, s %d, p1 %g), batch %d: |rise - brute force| %g of %g",
                          t, o.masks, o.cells, o.p1, eng_batch(es[b]), d, top);
        }
        // another seed, other masks
        o.seed += 1000;
        mth_info info = {"", 0};
        ck_assert_int_eq(mth_rise(e8, x, cls, &o, map, &info, err, sizeof err), 0);
        ck_assert_msg(cam_maxdiff(map, want, n) > 1e-3 * top, "case %d: another seed, the same map", t);
    }
    free(x); free(want); free(map);
    eng_free(e1); eng_free(e5); eng_free(e8);
    dk_free(n1); dk_free(n5); dk_free(n8);
}
END_TEST

// what RISE's estimator promises: for a score that does not depend on the image (a net whose
// every weight is 0: p_c = 1/K for every masked image), map = (1/K) * mean_n m_n / p1 -> 1/K,
// since E[m] = p1 at every pixel: the 1/(N p1) normalisation
START_TEST(rise_of_a_constant_score_is_flat)
{
    network *net = cam_net(CFG, "rise_flat.cfg", 16, 1, -1, 1);
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        if (l->weights) memset(l->weights, 0, sizeof(float) * l->nweights);
        if (l->biases) memset(l->biases, 0, sizeof(float) * l->n);
    }
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    int n = eng_inputs(e), hw = 120;
    float *x = malloc(sizeof(float) * n), *map = malloc(sizeof(float) * n);
    uint64_t rng = 2;
    tu_fill(x, n, 0, 1, &rng);
    mth_opts o;
    mth_defaults(&o);
    o.masks = 4000;
    o.cells = 3;
    mth_info info = {"", 0};
    ck_assert_int_eq(mth_rise(e, x, 0, &o, map, &info, err, sizeof err), 0);
    double mean = 0, worst = 0;
    for (int i = 0; i < hw; i++) {
        mean += map[i] / hw;
        if (fabs(map[i] - 0.25) > worst) worst = fabs(map[i] - 0.25);
    }
    // per pixel the mean of 4000 masks: sd of a mask value <= 0.5, so sd of the mean <= 0.008, x 0.25/p1
    ck_assert_msg(fabs(mean - 0.25) < 0.01, "mean of the map %g, want 0.25", mean);
    ck_assert_msg(worst < 0.05, "a pixel %g from 0.25", worst);
    free(x); free(map);
    eng_free(e);
    dk_free(net);
}
END_TEST

// rise's heat picture spans its map's range (the offset of the mean score carries no place)
START_TEST(rise_heat_is_the_range)
{
    char err[256];
    const mth_def *m = mth_lookup("rise", err, sizeof err);
    ck_assert(m && m->heat == MTH_HEAT_RANGE);
    float map[2 * 4] = {0.30f, 0.50f, 0.40f, 0.35f, 9, 9, 9, 9}, out[4];   // (C 2, H 2, W 2): the first plane
    mth_heat_of(m, map, 2, 2, 2, out);
    float want[4] = {0, 1, 0.5f, 0.25f};
    for (int i = 0; i < 4; i++) ck_assert_float_eq_tol(out[i], want[i], 1e-6f);
    float flat[4] = {0.2f, 0.2f, 0.2f, 0.2f};
    mth_heat_of(m, flat, 1, 2, 2, out);
    for (int i = 0; i < 4; i++) ck_assert_float_eq(out[i], 0);
}
END_TEST

START_TEST(rise_refuses_bad_values)
{
    network *net = cam_net(CFG, "rise_bad.cfg", 2, 3, -1, 1);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    int n = eng_inputs(e);
    float *x = calloc(n, sizeof(float)), *map = calloc(n, sizeof(float));
    struct { int masks, cells; double p1; const char *want; } bad[] = {
        {0, 7, 0.5, "-masks 0: allowed: 1 or more"},
        {10, 11, 0.5, "-cells 11: allowed: 1..10"},
        {10, 0, 0.5, "-cells 0: allowed: 1..10"},
        {10, 3, 0, "-p1 0: allowed"},
        {10, 3, 1.5, "-p1 1.5: allowed"},
    };
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        mth_opts o;
        mth_defaults(&o);
        o.masks = bad[i].masks;
        o.cells = bad[i].cells;
        o.p1 = bad[i].p1;
        mth_info info = {"", 0};
        err[0] = 0;
        ck_assert_int_eq(mth_rise(e, x, 0, &o, map, &info, err, sizeof err), -1);
        ck_assert_msg(strstr(err, bad[i].want), "'%s' does not say '%s'", err, bad[i].want);
        ck_assert_int_eq(info.evaluations, 0);
    }
    free(x); free(map);
    eng_free(e);
    dk_free(net);
}
END_TEST

// through the binary: -masks -cells -p1 -seed -batch reach the method (the raw map equals the
// in-process one at batch 1), and bad values are errors naming them, exit 1
START_TEST(rise_through_the_binary)
{
    cam_files f = cam_cli_files("rise", CFG, 10, 12, 4, 31);
    char out[16384], err[512], args[1024];
    snprintf(args, sizeof args, "-method rise -class 2 -masks 30 -cells 4 -p1 0.3 -seed 77 -batch 7 -raw %s", f.raw);
    int rc = cam_map(&f, args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "30 masks of 4x4 cells (3x3 px each), p1 0.3, seed 77") && strstr(out, "30 images through the network"), "%s", out);
    network *net = cam_cli_net(&f);
    eng *e = eng_init(net, err, sizeof err);
    image im;
    ck_assert_int_eq(sal_read_image(f.image, 10, 12, 3, &im, err, sizeof err), 0);
    int n = eng_inputs(e);
    float *want = malloc(sizeof(float) * n), *raw = cam_read_raw(f.raw, n);
    ck_assert_msg(raw != NULL, "%s: not %d floats", f.raw, n);
    brute_rise(e, im.data, 2, 30, 4, 0.3, 77, want);
    double d = cam_maxdiff(raw, want, n), top = cam_maxabs(want, n);
    ck_assert_msg(d <= 1e-5 * top + 5e-7 && top > 0, "|binary - brute force| %g of %g", d, top);
    free(want); free(raw);
    free_image(im);
    eng_free(e);
    dk_free(net);
    cam_expect_error(&f, "-method rise -masks 0", (const char *[]){"-masks 0", "1 ... 10000000", NULL});
    cam_expect_error(&f, "-method rise -cells 11", (const char *[]){"-cells 11", "allowed: 1..10", "10 wide, 12 high", NULL});
    cam_expect_error(&f, "-method rise -p1 0", (const char *[]){"-p1 0", NULL});
}
END_TEST

Suite *make_rise_suite(void)
{
    Suite *s = suite_create("rise");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rise_equals_brute_force_at_every_batch);
    tcase_add_test(tc, rise_of_a_constant_score_is_flat);
    tcase_add_test(tc, rise_heat_is_the_range);
    tcase_add_test(tc, rise_refuses_bad_values);
    tcase_add_test(tc, rise_through_the_binary);
    suite_add_tcase(s, tc);
    return s;
}
