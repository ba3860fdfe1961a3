// check_occlusion.c: occlusion (src/occlusion.c) against a brute-force loop written here (every
// patch position by its own rule, the fills computed here, the blur by blur_gauss_naive, one
// eng_predict per occluded image, each pixel's covering patches counted), batched and one image at
// a time; the defaults; bad values in-process and through the binary.
#include "cam_testutil.h"
#include "blur.h"
#include "saliency_util.h"

static const char *CFG =
    "[net]\nbatch=1\nwidth=10\nheight=12\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nfilters=4\nsize=1\nactivation=linear\n"
    "[avgpool]\n[softmax]\n";

// a patch may start at p along an axis of length L: on the stride's lattice, or flush with the border
static int starts_at(int p, int L, int win, int stride)
{
    return p >= 0 && p <= L - win && (p % stride == 0 || p == L - win);
}

// the oracle; *patches = how many occluded images it scored
static void brute_occlusion(eng *e, const float *x, int cls, int win, int stride, const char *fill, float *map, int *patches)
{
    int C, H, W;
    eng_input_shape(e, &C, &H, &W);
    int hw = H * W, n = C * hw, K = eng_classes(e);
    float *f = malloc(sizeof(float) * n), *img = malloc(sizeof(float) * n), *p = malloc(sizeof(float) * K);
    if (!strcmp(fill, "blur")) ck_assert_int_eq(blur_gauss_naive(x, C, H, W, 11, 5, f), 0);
    for (int c = 0; c < C && strcmp(fill, "blur"); c++) {
        double s = 0;
        for (int i = 0; i < hw; i++) s += x[c * hw + i];
        for (int i = 0; i < hw; i++) f[c * hw + i] = !strcmp(fill, "mean") ? (float)(s / hw) : 0;
    }
    double *sum = calloc(hw, sizeof(double));
    int *cnt = calloc(hw, sizeof(int));
    eng_predict(e, x, 1, NULL, p);
    double p0 = p[cls];
    *patches = 0;
    for (int y0 = 0; y0 < H; y0++)
        for (int x0 = 0; x0 < W; x0++) {
            if (!starts_at(y0, H, win, stride) || !starts_at(x0, W, win, stride)) continue;
            memcpy(img, x, sizeof(float) * n);
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int xx = 0; xx < W; xx++)
                        if (y >= y0 && y < y0 + win && xx >= x0 && xx < x0 + win) img[c * hw + y * W + xx] = f[c * hw + y * W + xx];
            eng_predict(e, img, 1, NULL, p);
            (*patches)++;
            for (int y = y0; y < y0 + win; y++)
                for (int xx = x0; xx < x0 + win; xx++) { sum[y * W + xx] += p0 - p[cls]; cnt[y * W + xx]++; }
        }
    for (int c = 0; c < C; c++)
        for (int i = 0; i < hw; i++) map[c * hw + i] = cnt[i] ? (float)(sum[i] / cnt[i]) : 0;
    free(f); free(img); free(p); free(sum); free(cnt);
}

START_TEST(occlusion_equals_brute_force_at_every_batch)
{
    network *n1 = cam_net(CFG, "occ1.cfg", 1, 7, 2, 4), *n4 = cam_net(CFG, "occ4.cfg", 4, 7, 2, 4),
            *n32 = cam_net(CFG, "occ32.cfg", 32, 7, 2, 4);
    char err[512];
    eng *es[3] = {eng_init(n1, err, sizeof err), eng_init(n4, err, sizeof err), eng_init(n32, err, sizeof err)};
    int n = eng_inputs(es[0]), hw = 120;
    float *x = malloc(sizeof(float) * n), *want = malloc(sizeof(float) * n), *map = malloc(sizeof(float) * n);
    uint64_t rng = 23;
    tu_fill(x, n, 0, 1, &rng);
    // the two likeliest classes (a class of probability ~0 has a map of ~0: no teeth)
    float p[4];
    eng_predict(es[0], x, 1, NULL, p);
    int c1 = 0, c2 = -1;
    for (int k = 1; k < 4; k++) if (p[k] > p[c1]) c1 = k;
    for (int k = 0; k < 4; k++) if (k != c1 && (c2 < 0 || p[k] > p[c2])) c2 = k;
    // (window, stride): overlapping, a last patch off the lattice, stride 1, gaps (stride > window),
    // one patch over the whole shorter side, 1x1 patches
    struct { int win, stride; } ws[] = {{3, 2}, {4, 3}, {2, 1}, {2, 5}, {10, 4}, {1, 1}};
    const char *fills[] = {"black", "blur", "mean"};
    for (int t = 0; t < (int)(sizeof ws / sizeof ws[0]); t++)
        for (int fi = 0; fi < 3; fi++) {
            int cls = (t + fi) % 2 ? c2 : c1, patches;
            brute_occlusion(es[0], x, cls, ws[t].win, ws[t].stride, fills[fi], want, &patches);
            double top = cam_maxabs(want, n);
            ck_assert_msg(top > 1e-3, "window %d stride %d fill %s: the map is %g at most", ws[t].win, ws[t].stride, fills[fi], top);
            mth_opts o;
            mth_defaults(&o);
            o.window = ws[t].win;
            o.stride = ws[t].stride;
            o.fill = fills[fi];
            for (int b = 0; b < 3; b++) {
                mth_info info = {"", 0};
                ck_assert_int_eq(mth_occlusion(es[b], x, cls, &o, map, &info, err, sizeof err), 0);
                ck_assert_int_eq(info.evaluations, patches + 1);
                // the probabilities are floats about 0.3 whose last bits follow the batch's gemm
                // blocking (batch 32 against 1: 2.4e-7 seen): a floor of 5e-7 beside the relative part
                double d = cam_maxdiff(map, want, n);
                ck_assert_msg(d <= 1e-5 * top + 5e-7, "window %d stride %d fill %s, batch %d: |occlusion - brute force| %g of %g",
                              ws[t].win, ws[t].stride, fills[fi], eng_batch(es[b]), d, top);
            }
            if (ws[t].stride > ws[t].win) {   // the gaps: exactly 0, and there are some
                int zeros = 0;
                for (int i = 0; i < hw; i++) zeros += map[i] == 0;
                ck_assert_int_ge(zeros, 30);
            }
        }
    free(x); free(want); free(map);
    for (int b = 0; b < 3; b++) eng_free(es[b]);
    dk_free(n1); dk_free(n4); dk_free(n32);
}
END_TEST

// window and stride 0: W = max(1, min(H, W)/8), S = max(1, W/2): on 12 x 10, 1 and 1 (120
// patches); on 64 x 48, 6 and 3 (21 x 15 patches: 0, 3, ..., 57 and 58 down, 0, 3, ..., 39 and 42 across)
START_TEST(occlusion_defaults_follow_the_input_size)
{
    const char *cfg64 =
        "[net]\nbatch=8\nwidth=48\nheight=64\nchannels=3\n"
        "[convolutional]\nfilters=2\nsize=3\nstride=4\npad=1\nactivation=leaky\n"
        "[avgpool]\n[softmax]\n";
    struct { const char *cfg, *name, *line; int evaluations; } cases[] = {
        {CFG, "occ_def.cfg", "120 patches of 1x1, stride 1, fill black", 121},
        {cfg64, "occ_def64.cfg", "315 patches of 6x6, stride 3, fill black", 316},
    };
    for (int t = 0; t < 2; t++) {
        network *net = cam_net(cases[t].cfg, cases[t].name, 0, 3, -1, 1);
        char err[512];
        eng *e = eng_init(net, err, sizeof err);
        int n = eng_inputs(e);
        float *x = malloc(sizeof(float) * n), *map = malloc(sizeof(float) * n);
        uint64_t rng = 5;
        tu_fill(x, n, 0, 1, &rng);
        mth_opts o;
        mth_defaults(&o);
        mth_info info = {"", 0};
        ck_assert_int_eq(mth_occlusion(e, x, 0, &o, map, &info, err, sizeof err), 0);
        ck_assert_msg(strstr(info.line, cases[t].line), "'%s' does not say '%s'", info.line, cases[t].line);
        ck_assert_int_eq(info.evaluations, cases[t].evaluations);
        free(x); free(map);
        eng_free(e);
        dk_free(net);
    }
}
END_TEST

START_TEST(occlusion_refuses_bad_values)
{
    network *net = cam_net(CFG, "occ_bad.cfg", 2, 3, -1, 1);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    int n = eng_inputs(e);
    float *x = calloc(n, sizeof(float)), *map = calloc(n, sizeof(float));
    struct { int win, stride; const char *fill, *want; } bad[] = {
        {3, 2, "foo", "-fill foo: allowed: black, blur, mean"},
        {11, 2, "black", "-window 11: allowed: 1..10 (the shorter side; the input is 10 wide, 12 high)"},
        {-1, 2, "black", "-window -1: allowed"},
        {3, -2, "black", "-stride -2: allowed: 1 or more"},
    };
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        mth_opts o;
        mth_defaults(&o);
        o.window = bad[i].win;
        o.stride = bad[i].stride;
        o.fill = bad[i].fill;
        mth_info info = {"", 0};
        err[0] = 0;
        ck_assert_int_eq(mth_occlusion(e, x, 0, &o, map, &info, err, sizeof err), -1);
        ck_assert_msg(strstr(err, bad[i].want), "'%s' does not say '%s'", err, bad[i].want);
        ck_assert_int_eq(info.evaluations, 0);
    }
    free(x); free(map);
    eng_free(e);
    dk_free(net);
}
END_TEST

// through the binary: -window -stride -fill -batch reach the method (the raw map equals the
// brute-force one), and bad values are errors naming them, exit 1
START_TEST(occlusion_through_the_binary)
{
    cam_files f = cam_cli_files("occ", CFG, 10, 12, 4, 41);
    char out[16384], err[512], args[1024];
    snprintf(args, sizeof args, "-method occlusion -class 3 -window 4 -stride 3 -fill mean -batch 5 -raw %s", f.raw);
    int rc = cam_map(&f, args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "12 patches of 4x4, stride 3, fill mean") && strstr(out, "13 images through the network"), "%s", out);
    network *net = cam_cli_net(&f);
    eng *e = eng_init(net, err, sizeof err);
    image im;
    ck_assert_int_eq(sal_read_image(f.image, 10, 12, 3, &im, err, sizeof err), 0);
    int n = eng_inputs(e), patches;
    float *want = malloc(sizeof(float) * n), *raw = cam_read_raw(f.raw, n);
    ck_assert_msg(raw != NULL, "%s: not %d floats", f.raw, n);
    brute_occlusion(e, im.data, 3, 4, 3, "mean", want, &patches);
    ck_assert_int_eq(patches, 12);
    double d = cam_maxdiff(raw, want, n), top = cam_maxabs(want, n);
    ck_assert_msg(d <= 1e-5 * top + 5e-7 && top > 0, "|binary - brute force| %g of %g", d, top);
    free(want); free(raw);
    free_image(im);
    eng_free(e);
    dk_free(net);
    cam_expect_error(&f, "-method occlusion -fill foo", (const char *[]){"-fill foo", "black, blur, mean", NULL});
    cam_expect_error(&f, "-method occlusion -window 11", (const char *[]){"-window 11", "1..10", NULL});
    cam_expect_error(&f, "-method occlusion -stride 0", (const char *[]){"-stride 0", NULL});
}
END_TEST

Suite *make_occlusion_suite(void)
{
    Suite *s = suite_create("occlusion");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, occlusion_equals_brute_force_at_every_batch);
    tcase_add_test(tc, occlusion_defaults_follow_the_input_size);
    tcase_add_test(tc, occlusion_refuses_bad_values);
    tcase_add_test(tc, occlusion_through_the_binary);
    suite_add_tcase(s, tc);
    return s;
}
