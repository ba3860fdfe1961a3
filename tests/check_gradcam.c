// check_gradcam.c: Grad-CAM (src/gradcam.c) against its closed form on nets whose last spatial
// layer feeds a linear head (avgpool + connected, avgpool + 1x1 conv): z_c = sum_k W[c][k] mean(A_k)
// + b_c, so alpha_k = W[c][k] / (h w), computed here from the weights; the default layer rule;
// layers refused by name, in-process and through the binary.
#include "cam_testutil.h"
#include "saliency_util.h"

// 8 x 10 input; layer 2 (6 x 4 x 5, leaky) -> avgpool -> connected 5 -> softmax
static const char *CFG_FC =
    "[net]\nbatch=2\nwidth=10\nheight=8\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=leaky\n"
    "[avgpool]\n"
    "[connected]\noutput=5\nactivation=linear\n"
    "[softmax]\n";
// the same body with a 1x1 convolution as the head
static const char *CFG_CONV =
    "[net]\nbatch=2\nwidth=10\nheight=8\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\npad=1\nactivation=relu\n"
    "[avgpool]\n"
    "[convolutional]\nfilters=5\nsize=1\nactivation=linear\n"
    "[softmax]\n";

// the closed form: cam = ReLU(sum_k W[c][k]/(hw) A_k) of layer 2's output after a forward of x,
// upsampled to H x W; head = the index of the linear head (its weights (K, 6))
static void closed_form(network *net, eng *e, const float *x, int cls, int head, float *map, int *clipped, int *positive)
{
    eng_predict(e, x, 1, NULL, NULL);
    const layer *a = &net->layers[2], *hd = &net->layers[head];
    int K = a->out_c, h = a->out_h, w = a->out_w, hw = h * w;
    ck_assert_int_eq(hd->inputs, K);
    float cam[64];
    for (int i = 0; i < hw; i++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += hd->weights[cls * K + k] / (double)hw * a->output[k * hw + i];
        cam[i] = s > 0 ? (float)s : 0;
        if (s < 0) (*clipped)++;
        if (s > 0) (*positive)++;
    }
    cam_bilinear(cam, h, w, map, net->h, net->w);
    for (int c = 1; c < net->c; c++) memcpy(map + c * net->h * net->w, map, sizeof(float) * net->h * net->w);
}

static void check_closed_form(const char *cfg, const char *name, int head)
{
    network *net = cam_net(cfg, name, 0, 11, -1, 1);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    int n = eng_inputs(e), K = eng_classes(e);
    float *x = malloc(sizeof(float) * n), *map = malloc(sizeof(float) * n), *want = malloc(sizeof(float) * n);
    mth_opts o;
    mth_defaults(&o);
    int clipped = 0, positive = 0;
    for (int img = 0; img < 3; img++) {
        uint64_t rng = 100 + img;
        tu_fill(x, n, 0, 1, &rng);
        for (int cls = 0; cls < K; cls++) {
            mth_info info = {"", 0};
            ck_assert_int_eq(mth_gradcam(e, x, cls, &o, map, &info, err, sizeof err), 0);
            ck_assert_int_eq(info.evaluations, 1);
            ck_assert_msg(strstr(info.line, "layer 2 (convolutional, 6x4x5)"), "%s", info.line);
            closed_form(net, e, x, cls, head, want, &clipped, &positive);
            double top = cam_maxabs(want, n), d = cam_maxdiff(map, want, n);
            ck_assert_msg(d <= 1e-5 * top + 1e-7, "%s image %d class %d: |gradcam - closed form| %g (max %g)", name, img, cls, d, top);
        }
    }
    // the ReLU had work to do (some sums negative, some positive): a map without it differs
    ck_assert_msg(clipped > 20 && positive > 20, "%s: %d sums clipped, %d positive", name, clipped, positive);
    free(x); free(map); free(want);
    eng_free(e);
    dk_free(net);
}

START_TEST(gradcam_equals_closed_form_connected_head)
{
    check_closed_form(CFG_FC, "gcam_fc.cfg", 4);
}
END_TEST

START_TEST(gradcam_equals_closed_form_conv_head)
{
    check_closed_form(CFG_CONV, "gcam_conv.cfg", 4);
}
END_TEST

// the default on the test ResNet: layer 8, the last block's [shortcut] (before the avgpool); the
// same as -layer 8; 1x1 and out-of-range layers refused, naming them
START_TEST(gradcam_default_layer_and_refusals)
{
    network *net = cam_net("[net]\nbatch=1\nwidth=12\nheight=12\nchannels=3\n" TU_RESNET_BODY, "gcam_res.cfg", 0, 5, -1, 1);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    int n = eng_inputs(e);
    float *x = malloc(sizeof(float) * n), *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    uint64_t rng = 3;
    tu_fill(x, n, 0, 1, &rng);
    mth_opts o;
    mth_defaults(&o);
    mth_info info = {"", 0};
    ck_assert_int_eq(mth_gradcam(e, x, 1, &o, a, &info, err, sizeof err), 0);
    ck_assert_msg(strstr(info.line, "layer 8 (shortcut, 4x6x6)"), "%s", info.line);
    o.layer = 8;
    ck_assert_int_eq(mth_gradcam(e, x, 1, &o, b, &info, err, sizeof err), 0);
    ck_assert(cam_maxdiff(a, b, n) == 0);
    ck_assert(cam_maxabs(a, n) > 0);
    o.layer = 2;   // an earlier layer is allowed
    ck_assert_int_eq(mth_gradcam(e, x, 1, &o, b, &info, err, sizeof err), 0);
    ck_assert_msg(strstr(info.line, "layer 2 (convolutional, 4x6x6)"), "%s", info.line);
    struct { int layer; const char *want; } bad[] = {
        {9, "-layer 9 (avgpool): its output is 4x1x1, 1x1 maps"},
        {10, "-layer 10 (convolutional): its output is 5x1x1"},
        {11, "-layer 11: out of range: the layers below the top [softmax] (layer 11) are 0..10"},
        {999, "-layer 999: out of range"},
        {-2, "-layer -2: out of range"},
    };
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        o.layer = bad[i].layer;
        err[0] = 0;
        ck_assert_int_eq(mth_gradcam(e, x, 1, &o, b, &info, err, sizeof err), -1);
        ck_assert_msg(strstr(err, bad[i].want), "layer %d: '%s' does not say '%s'", bad[i].layer, err, bad[i].want);
    }
    free(x); free(a); free(b);
    eng_free(e);
    dk_free(net);
}
END_TEST

// a network with no spatial layer at all: refused with the reason
START_TEST(gradcam_needs_a_spatial_layer)
{
    network *net = cam_net("[net]\nbatch=1\nwidth=1\nheight=1\nchannels=3\n[connected]\noutput=4\nactivation=leaky\n"
                           "[connected]\noutput=3\nactivation=linear\n[softmax]\n", "gcam_flat.cfg", 0, 5, -1, 1);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    float x[3] = {0.1f, 0.5f, 0.9f}, map[3];
    mth_opts o;
    mth_defaults(&o);
    mth_info info = {"", 0};
    ck_assert_int_eq(mth_gradcam(e, x, 0, &o, map, &info, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "no layer below the top [softmax] (layer 2) has a spatial output"), "%s", err);
    eng_free(e);
    dk_free(net);
}
END_TEST

// through the binary: -layer reaches the method (the raw map equals the in-process one), and the
// bad layers are errors naming them, exit 1
START_TEST(gradcam_through_the_binary)
{
    const char *cfg =
        "[net]\nbatch=1\nwidth=10\nheight=8\nchannels=3\n"
        "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
        "[maxpool]\nsize=2\nstride=2\n"
        "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n"
        "[avgpool]\n[softmax]\n";
    cam_files f = cam_cli_files("gcam", cfg, 10, 8, 3, 21);
    char args[1024], out[16384], err[512];
    for (int layer = -1; layer <= 0; layer++) {
        snprintf(args, sizeof args, "-method gradcam -class 1 -raw %s%s", f.raw, layer == 0 ? " -layer 0" : "");
        int rc = cam_map(&f, args, out, sizeof out);
        ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
        ck_assert_msg(strstr(out, layer == 0 ? "layer 0 (convolutional, 4x8x10)" : "layer 2 (convolutional, 3x4x5)"), "%s", out);
        network *net = cam_cli_net(&f);
        eng *e = eng_init(net, err, sizeof err);
        image im;
        ck_assert_int_eq(sal_read_image(f.image, 10, 8, 3, &im, err, sizeof err), 0);
        mth_opts o;
        mth_defaults(&o);
        o.layer = layer;
        mth_info info = {"", 0};
        int n = eng_inputs(e);
        float *map = malloc(sizeof(float) * n), *raw = cam_read_raw(f.raw, n);
        ck_assert_msg(raw != NULL, "%s: not %d floats", f.raw, n);
        ck_assert_int_eq(mth_gradcam(e, im.data, 1, &o, map, &info, err, sizeof err), 0);
        double d = cam_maxdiff(map, raw, n), top = cam_maxabs(map, n);
        ck_assert_msg(d <= 1e-6 * top && top > 0, "layer %d: |binary - in-process| %g of %g", layer, d, top);
        free(map); free(raw);
        free_image(im);
        eng_free(e);
        dk_free(net);
    }
    cam_expect_error(&f, "-method gradcam -layer 999", (const char *[]){"-layer 999", "out of range", "0..3", NULL});
    cam_expect_error(&f, "-method gradcam -layer 3", (const char *[]){"-layer 3 (avgpool)", "1x1", "the default is layer 2", NULL});
}
END_TEST

Suite *make_gradcam_suite(void)
{
    Suite *s = suite_create("gradcam");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, gradcam_equals_closed_form_connected_head);
    tcase_add_test(tc, gradcam_equals_closed_form_conv_head);
    tcase_add_test(tc, gradcam_default_layer_and_refusals);
    tcase_add_test(tc, gradcam_needs_a_spatial_layer);
    tcase_add_test(tc, gradcam_through_the_binary);
    suite_add_tcase(s, tc);
    return s;
}
