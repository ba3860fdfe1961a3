// check_gradcheck.c: `darknet saliency gradcheck` end to end (the binary named by $DARKNET) on the
// repository's cfgs; a deliberately broken engine rule (SALIENCY_TEST_BREAK, engine.h) must fail
// and be named; a layer without an exact rule is named and darknet's own backward checked; bad
// input exits 1 with a message. And the central-difference primitive (gradcheck.h) on functions
// whose derivatives and kinks are known.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gradcheck.h"
#include "testutil.h"

// the end of an output, for failure messages (Check limits their length; the verdict is last)
#define TAIL(s) (strlen(s) > 3000 ? (s) + strlen(s) - 3000 : (s))

// runs "[env] $DARKNET saliency gradcheck <args>", stdout and stderr into out; the exit status
static int run(const char *env, const char *args, char *out, int outlen)
{
    char e[1024], full[40000];
    snprintf(e, sizeof e, "%s OPENBLAS_NUM_THREADS=1", env ? env : "");
    snprintf(full, sizeof full, "gradcheck %s", args);
    return tu_saliency(e, full, out, outlen);
}

// the per-layer result lines of the output
typedef struct { int layer; char type[32], kind[16]; double rel; int checked, kinks; } line;

static int parse_lines(const char *out, line *l, int max)
{
    int n = 0;
    for (const char *p = out; p && *p && n < max; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, "layer ", 6)) continue;
        if (sscanf(p, "layer %d %31s %15s worst-rel %lf checked %d kinks %d", &l[n].layer, l[n].type, l[n].kind,
                   &l[n].rel, &l[n].checked, &l[n].kinks) == 6)
            n++;
    }
    return n;
}

static const line *find(const line *l, int n, int layer, const char *kind)
{
    for (int i = 0; i < n; i++) if (l[i].layer == layer && !strcmp(l[i].kind, kind)) return &l[i];
    return NULL;
}

// the tolerances the output states
static void tolerances(const char *out, double *rin, double *rparam)
{
    const char *p = strstr(out, "input-grad rtol ");
    ck_assert_msg(p != NULL, "no tolerance line: %s", TAIL(out));
    double f1, f2;
    ck_assert_int_eq(sscanf(p, "input-grad rtol %lf floor %lf, param-grad rtol %lf", rin, &f1, rparam), 3);
    (void)f2;
}

// fashion-small: conv, maxpool, conv, maxpool, conv, connected, softmax
static const char *FASHION_TYPES[] = {"convolutional", "maxpool", "convolutional", "maxpool", "convolutional", "connected"};

START_TEST(fashion_small_passes_every_layer)
{
    static const char *forms[] = {"onehot", "loss", "spectreg"};
    char out[65536], args[256];
    snprintf(args, sizeof args, "cfg/fashion-small.cfg -samples 3 -formulation %s -seed %d", forms[_i], 1 + _i);
    int rc = run(NULL, args, out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "gradcheck: PASS ("), "exit %d: %s", rc, TAIL(out));
    line l[64];
    int n = parse_lines(out, l, 64);
    ck_assert_msg(n == 10, "%d result lines: %s", n, TAIL(out));
    for (int k = 0; k < 6; k++) {
        const line *in = find(l, n, k, "input-grad"), *pa = find(l, n, k, "param-grad");
        ck_assert_msg(in && !strcmp(in->type, FASHION_TYPES[k]) && in->checked > 0, "layer %d input-grad: %s", k, TAIL(out));
        int params = k == 0 || k == 2 || k == 4 || k == 5;
        ck_assert_msg(params ? pa && pa->checked > 0 : !pa, "layer %d param-grad: %s", k, TAIL(out));
    }
}
END_TEST

// a [crop] (its rule: the centre window in inference mode, colours 2x - 1) below batch norm,
// leaky, maxpool and ramp (strided.cfg's activation, held like leaky): every layer passes
#ifndef DK_FORK_AB   // AlexeyAB's [crop] keeps no record of its window: the engine refuses it there (dk_alexeyab.c)
START_TEST(crop_and_ramp_cfg_passes)
{
    static const char *forms[] = {"onehot", "loss", "spectreg"};
    char cfg[512], out[65536], args[1024];
    tu_path(cfg, sizeof cfg, "crop-ramp.cfg");
    tu_write_text(cfg, "[net]\nbatch=1\nwidth=20\nheight=20\nchannels=3\n"
                       "[crop]\ncrop_height=16\ncrop_width=16\nflip=1\n"
                       "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
                       "[maxpool]\nsize=2\nstride=2\n"
                       "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=ramp\n"
                       "[avgpool]\n[connected]\noutput=5\nactivation=linear\n[softmax]\n");
    snprintf(args, sizeof args, "%s -samples 4 -formulation %s -seed %d", cfg, forms[_i], 1 + _i);
    int rc = run(NULL, args, out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "gradcheck: PASS ("), "exit %d: %s", rc, TAIL(out));
    line l[64];
    int n = parse_lines(out, l, 64);
    const line *c = find(l, n, 0, "input-grad");
    ck_assert_msg(n == 9 && c && !strcmp(c->type, "crop") && c->checked > 0, "%d lines: %s", n, TAIL(out));
}
END_TEST
#endif

START_TEST(resnet18_passes)
{
    char out[65536];
    int rc = run(NULL, "cfg/resnet18-64.cfg -samples 1 -regularizer tv", out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "gradcheck: PASS ("), "exit %d: %s", rc, TAIL(out));
    line l[128];
    int n = parse_lines(out, l, 128);
    // 34 layers below the softmax, 21 of them with parameters (20 convolutions and the connected)
    ck_assert_msg(n == 34 + 21, "%d result lines: %s", n, TAIL(out));
    ck_assert(find(l, n, 4, "input-grad") && !strcmp(find(l, n, 4, "input-grad")->type, "shortcut"));
    ck_assert(find(l, n, 10, "input-grad") && !strcmp(find(l, n, 10, "input-grad")->type, "route"));
}
END_TEST

// The convolution's transpose 5% off: the topmost convolution's input gradient is the first
// wrong one (the layers above it are right), the verdict names it, exit 1.
START_TEST(broken_transpose_fails_at_its_layer)
{
    char out[65536];
    int rc = run("SALIENCY_TEST_BREAK=1", "cfg/fashion-small.cfg -samples 3", out, sizeof out);
    ck_assert_msg(rc == 1 && strstr(out, "gradcheck: FAIL ("), "exit %d: %s", rc, TAIL(out));
    ck_assert_msg(strstr(out, "highest failing: layer 4 convolutional input-grad"), "%s", TAIL(out));
    double rin, rparam;
    tolerances(out, &rin, &rparam);
    line l[64];
    int n = parse_lines(out, l, 64);
    ck_assert_msg(find(l, n, 5, "input-grad")->rel <= rin, "layer 5 is above the broken rule: %s", TAIL(out));
    // the convolutions at and below it (a maxpool's sampled inputs may all be ones it did not choose)
    for (int k = 0; k <= 4; k += 2)
        ck_assert_msg(find(l, n, k, "input-grad")->rel > rin, "layer %d is at or below the broken rule: %s", k, TAIL(out));
    ck_assert_msg(strstr(out, "numeric") && strstr(out, "analytic"), "a failure line names the values: %s", TAIL(out));
}
END_TEST

// The convolution's weight gradient 5% off: every input gradient right, the param-grad lines of
// the convolutions wrong.
START_TEST(broken_weight_gradient_fails_in_param_grad)
{
    char out[65536];
    int rc = run("SALIENCY_TEST_BREAK=2", "cfg/fashion-small.cfg -samples 4", out, sizeof out);
    ck_assert_msg(rc == 1 && strstr(out, "gradcheck: FAIL ("), "exit %d: %s", rc, TAIL(out));
    double rin, rparam;
    tolerances(out, &rin, &rparam);
    line l[64];
    int n = parse_lines(out, l, 64);
    for (int k = 0; k < 6; k++) ck_assert_msg(find(l, n, k, "input-grad")->rel <= rin, "layer %d input-grad: %s", k, TAIL(out));
    ck_assert_msg(find(l, n, 5, "param-grad")->rel <= rparam, "the connected layer is not broken: %s", TAIL(out));
    int bad = 0;
    for (int k = 0; k <= 4; k += 2) bad += find(l, n, k, "param-grad")->rel > rparam;
    ck_assert_msg(bad >= 2, "the convolutions' param-grad should fail: %s", TAIL(out));
    ck_assert_msg(strstr(out, "convolutional param-grad"), "%s", TAIL(out));
}
END_TEST

// A layer type and an activation the engine has no exact rule for: named, and darknet's own
// backward is checked instead (the heatmap at the input, central-difference double backprop).
START_TEST(layer_without_exact_rule_checks_darknets_backward)
{
    static const char *cfgs[][2] = {
        {"[net]\nwidth=12\nheight=12\nchannels=2\n"
         "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\npad=1\nactivation=elu\n"
         "[maxpool]\nsize=2\nstride=2\n[connected]\noutput=4\nactivation=linear\n[softmax]\n", "elu"},
        {"[net]\nwidth=8\nheight=8\nchannels=2\n"
         "[local]\nfilters=2\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
         "[connected]\noutput=3\nactivation=linear\n[softmax]\n", "(local)"},
        // patch 0016 (the local layer's workspace) and the engine's inference-mode dropout
        {"[net]\nwidth=8\nheight=8\nchannels=2\n"
         "[local]\nfilters=2\nsize=3\nstride=1\npad=1\nactivation=leaky\n[dropout]\nprobability=.3\n"
         "[connected]\noutput=3\nactivation=linear\n[softmax]\n", "(local)"},
    };
    char path[512], out[65536], args[1024];
    snprintf(path, sizeof path, "%s/norule%d.cfg", tu_tmpdir(), _i);
    tu_write_text(path, cfgs[_i][0]);
    snprintf(args, sizeof args, "%s -samples 4 -regularizer l2", path);
    int rc = run(NULL, args, out, sizeof out);
    ck_assert_msg(strstr(out, "no exact rule: layer 0") && strstr(out, cfgs[_i][1]), "%s", TAIL(out));
    ck_assert_msg(strstr(out, "darknet's own backward") && strstr(out, "method central"), "%s", TAIL(out));
    ck_assert_msg(rc == 0 && strstr(out, "gradcheck: PASS ("), "exit %d: %s", rc, TAIL(out));
    line l[16];
    int n = parse_lines(out, l, 16);
    ck_assert_msg(find(l, n, 0, "input-grad") && find(l, n, 0, "input-grad")->checked > 0, "%s", TAIL(out));
    ck_assert_msg(find(l, n, 0, "param-grad") && find(l, n, 0, "param-grad")->checked > 0, "%s", TAIL(out));
    ck_assert_msg(!find(l, n, 1, "input-grad"), "only the heatmap is checked without exact rules: %s", TAIL(out));
}
END_TEST

// method finite/central on a small smooth network (tanh, no maxpool), where their difference
// along u crosses no kink: inside their tolerance
START_TEST(finite_methods_are_checked)
{
    static const char *methods[] = {"finite", "central"};
    char path[512], out[65536], args[1024];
    snprintf(path, sizeof path, "%s/smooth.cfg", tu_tmpdir());
    tu_write_text(path, "[net]\nwidth=12\nheight=12\nchannels=3\n"
                        "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=tanh\n"
                        "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=logistic\n"
                        "[connected]\noutput=5\nactivation=linear\n[softmax]\n");
    snprintf(args, sizeof args, "%s -samples 4 -method %s", path, methods[_i]);
    int rc = run(NULL, args, out, sizeof out);
    char want[64];
    snprintf(want, sizeof want, "method %s (step 0.0001)", methods[_i]);
    ck_assert_msg(rc == 0 && strstr(out, want) && strstr(out, "gradcheck: PASS ("), "exit %d: %s", rc, TAIL(out));
}
END_TEST

// weights from a file and an image from a file
static const char *FILES_CFG =
    "[net]\nwidth=16\nheight=12\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n[convolutional]\nfilters=3\nsize=1\nactivation=linear\n"
    "[avgpool]\n[softmax]\n";

START_TEST(weights_and_image_files)
{
    char cfg[512], weights[512], prefix[512], args[2048], out[65536];
    snprintf(cfg, sizeof cfg, "%s/files.cfg", tu_tmpdir());
    snprintf(weights, sizeof weights, "%s/files.weights", tu_tmpdir());
    snprintf(prefix, sizeof prefix, "%s/files", tu_tmpdir());
    tu_write_text(cfg, FILES_CFG);
    network *net = tu_net(FILES_CFG);
    tu_randomize(net, 5);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");   // darknet's "Saving weights" line
    dk_save_weights(net, weights);
    fclose(stderr);
    stderr = saved;
    dk_free(net);
    image im = make_image(20, 15, 3);   // another size than the net: the loader resizes
    gc_smooth_image(im.data, 3, 15, 20, 9);
    save_image_options(im, prefix, PNG, 0);
    free_image(im);
    snprintf(args, sizeof args, "%s %s -image %s.png -samples 4 -formulation loss -regularizer ssim", cfg, weights, prefix);
    int rc = run(NULL, args, out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "gradcheck: PASS ("), "exit %d: %s", rc, TAIL(out));
    ck_assert_msg(strstr(out, "weights ") && strstr(out, "files.weights, image ") && strstr(out, "16x12x3"), "%s", TAIL(out));
}
END_TEST

START_TEST(bad_input_exits_1_with_a_message)
{
    char small[512], text[512], bad[512];
    snprintf(small, sizeof small, "%s/small.cfg", tu_tmpdir());
    tu_write_text(small, "[net]\nwidth=8\nheight=8\nchannels=1\n[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=relu\n"
                         "[connected]\noutput=3\nactivation=linear\n[softmax]\n");
    snprintf(text, sizeof text, "%s/notimage.png", tu_tmpdir());
    tu_write_text(text, "not an image\n");
    snprintf(bad, sizeof bad, "%s/bad.weights", tu_tmpdir());
    tu_write_text(bad, "0123456789");
    struct { char args[2048]; const char *expect; } cases[16];
    int nc = 0;
#define CASE(expect_, ...) do { snprintf(cases[nc].args, sizeof cases[nc].args, __VA_ARGS__); cases[nc].expect = expect_; nc++; } while (0)
    CASE("nothere.cfg", "%s/nothere.cfg", tu_tmpdir());
    CASE("-method", "%s -method adjoint", small);
    CASE("-formulation", "%s -formulation logit", small);
    CASE("unknown regularizer", "%s -regularizer nope", small);
    CASE("needs an input of at least 11x11", "%s -regularizer ssim", small);
    CASE("-samples 0", "%s -samples 0", small);
    CASE("not a whole number", "%s -samples many", small);
    CASE("unknown option '-sample'", "%s -sample 3", small);
    CASE("needs a value", "%s -seed", small);
    CASE("notimage.png", "%s -image %s", small, text);
    CASE("nothere.png", "%s -image %s/nothere.png", small, tu_tmpdir());
    CASE("bad.weights", "%s %s", small, bad);
    CASE("usage", "%s", "");
#undef CASE
    for (int i = 0; i < nc; i++) {
        char out[16384];
        int rc = run(NULL, cases[i].args, out, sizeof out);
        ck_assert_msg(rc == 1, "'%s': exit %d (want 1): %s", cases[i].args, rc, TAIL(out));
        ck_assert_msg(strstr(out, cases[i].expect) != NULL, "'%s': message does not name '%s': %s", cases[i].args, cases[i].expect, TAIL(out));
    }
}
END_TEST

// ----------------------------------------------------------------------------------------------
// the primitive

typedef struct { float x; int kind; double kink_at; } fctx;

static double fn(void *ctx)
{
    fctx *c = ctx;
    double x = c->x;
    if (c->kind == 0) return sin(3 * x) + x * x;
    return fabs(x - c->kink_at) + 0.5 * x;   // slopes -0.5 and 1.5
}

START_TEST(central_difference_estimates_and_finds_kinks)
{
    // smooth: the derivative within the agreement tolerance
    fctx c = {0.3f, 0, 0};
    gc_diff d = gc_central(fn, &c, &c.x, 1e-2, 1e-4, NAN);
    ck_assert(!d.kink);
    ck_assert_double_eq_tol(d.est, 3 * cos(3 * 0.3f) + 2 * 0.3f, 2e-4);
    ck_assert(c.x == 0.3f);
    // a kink right at the point, or within the steps: flagged, never a wrong estimate
    for (int j = 0; j < 40; j++) {
        double at = 0.3f + (j - 20) * 1e-3 / 17;   // within +-1.2e-3 of the point, steps 1e-2 .. 1.25e-3
        fctx k = {0.3f, 1, at};
        d = gc_central(fn, &k, &k.x, 1e-2, 1e-3, NAN);
        double slope = 0.3f > at ? 1.5 : -0.5;
        ck_assert_msg(d.kink || fabs(d.est - slope) <= 2e-3, "kink at %+.2e from the point: estimate %g, slope %g",
                      at - 0.3f, d.est, slope);
        ck_assert(k.x == 0.3f);
    }
    // a kink far outside the steps: no kink
    fctx far = {0.3f, 1, 0.5};
    d = gc_central(fn, &far, &far.x, 1e-2, 1e-3, NAN);
    ck_assert(!d.kink);
    ck_assert_double_eq_tol(d.est, -0.5, 1e-6);
    // gc_rel: the floor of the layer's largest gradient
    ck_assert_double_eq_tol(gc_rel(1.01, 1.0, 10, 0.01), 0.01 / 1.1, 1e-12);
    ck_assert(gc_rel(0, 0, 0, 0.01) == 0);
}
END_TEST

Suite *make_gradcheck_suite(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *tc = tcase_create("gradcheck");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, central_difference_estimates_and_finds_kinks);
    tcase_add_loop_test(tc, fashion_small_passes_every_layer, 0, 3);
    tcase_add_test(tc, resnet18_passes);
#ifndef DK_FORK_AB
    tcase_add_loop_test(tc, crop_and_ramp_cfg_passes, 0, 3);
#endif
    tcase_add_test(tc, broken_transpose_fails_at_its_layer);
    tcase_add_test(tc, broken_weight_gradient_fails_in_param_grad);
    tcase_add_loop_test(tc, layer_without_exact_rule_checks_darknets_backward, 0, 3);
    tcase_add_loop_test(tc, finite_methods_are_checked, 0, 2);
    tcase_add_test(tc, weights_and_image_files);
    tcase_add_test(tc, bad_input_exits_1_with_a_message);
    suite_add_tcase(s, tc);
    return s;
}
