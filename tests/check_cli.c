// check_cli.c: `darknet saliency map` end to end (the binary named by $DARKNET), its outputs
// against the engine called in-process, and its errors on bad input.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "darknet.h"
#include "engine.h"
#include "testutil.h"

static const char *CFG =
    "[net]\nbatch=1\nwidth=16\nheight=12\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n"
    "[avgpool]\n[softmax]\n";
static const char *OTHER_CFG =
    "[net]\nbatch=1\nwidth=16\nheight=12\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=5\nsize=3\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n"
    "[avgpool]\n[softmax]\n";

static char P_CFG[512], P_OTHER[512], P_W[512], P_WOTHER[512], P_WTRUNC[512], P_DATA[512], P_NAMES[512],
            P_IMG[512], P_TXT[512], P_CFG4[512];

static void write_weights(const char *cfg_path, const char *w_path, uint64_t seed)
{
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    network *net = dk_parse((char *)cfg_path, 0);
    tu_randomize(net, seed);
    dk_save_weights(net, (char *)w_path);
    fclose(stderr);
    stderr = saved;
    dk_free(net);
}

static void setup(void)
{
    static int done;
    if (done) return;
    done = 1;
    tu_path(P_CFG, sizeof P_CFG, "cli.cfg");
    tu_path(P_OTHER, sizeof P_OTHER, "other.cfg");
    tu_path(P_CFG4, sizeof P_CFG4, "four.cfg");
    tu_path(P_W, sizeof P_W, "cli.weights");
    tu_path(P_WOTHER, sizeof P_WOTHER, "other.weights");
    tu_path(P_WTRUNC, sizeof P_WTRUNC, "trunc.weights");
    tu_path(P_DATA, sizeof P_DATA, "cli.data");
    tu_path(P_NAMES, sizeof P_NAMES, "cli.names");
    tu_path(P_IMG, sizeof P_IMG, "img.png");
    tu_path(P_TXT, sizeof P_TXT, "notimage.png");
    tu_write_text(P_CFG, CFG);
    tu_write_text(P_OTHER, OTHER_CFG);
    char four[512];
    snprintf(four, sizeof four, "%s", CFG);
    memcpy(strstr(four, "channels=3"), "channels=4", 10);
    tu_write_text(P_CFG4, four);
    write_weights(P_CFG, P_W, 3);
    write_weights(P_OTHER, P_WOTHER, 4);
    // a truncated copy: the last 10 bytes missing
    FILE *f = fopen(P_W, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n);
    ck_assert(fread(buf, 1, n, f) == (size_t)n);
    fclose(f);
    f = fopen(P_WTRUNC, "wb");
    fwrite(buf, 1, n - 10, f);
    fclose(f);
    free(buf);
    tu_write_text(P_NAMES, "alpha\nbeta\ngamma\n");
    char data[1024];
    snprintf(data, sizeof data, "classes=3\nnames=%s\n", P_NAMES);
    tu_write_text(P_DATA, data);
    tu_write_text(P_TXT, "this is not an image\n");
    image im = make_image(20, 15, 3);   // another size than the net: the loader resizes
    uint64_t rng = 8;
    tu_fill(im.data, 20 * 15 * 3, 0, 1, &rng);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/img", tu_tmpdir());
    save_image_options(im, prefix, PNG, 0);
    free_image(im);
}

// runs "$DARKNET saliency <args>", output (stdout+stderr) into out; returns the exit status
static int run(const char *args, char *out, int outlen)
{
    return tu_saliency(NULL, args, out, outlen);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

START_TEST(map_writes_pictures_and_the_true_gradient)
{
    setup();
    char args[4096], out[16384], prefix[512], raw[512];
    snprintf(prefix, sizeof prefix, "%s/out", tu_tmpdir());
    snprintf(raw, sizeof raw, "%s/g.f32", tu_tmpdir());
    for (int form = 0; form < 3; form++) {
        snprintf(args, sizeof args, "map %s %s %s %s -formulation %s -class 1 -out %s -raw %s",
                 P_DATA, P_CFG, P_W, P_IMG, eng_form_name((eng_form)form), prefix, raw);
        int rc = run(args, out, sizeof out);
        ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
        ck_assert_msg(strstr(out, "predicted: ") && strstr(out, "explained: 1 beta"), "output: %s", out);
        char heat[600], over[600];
        snprintf(heat, sizeof heat, "%s_heat.png", prefix);
        snprintf(over, sizeof over, "%s_overlay.png", prefix);
        ck_assert(file_size(heat) > 0 && file_size(over) > 0);
        int n = 16 * 12 * 3;
        ck_assert_int_eq(file_size(raw), n * 4);
        // the same image, network and class in-process: the raw file is +dS/dx
        FILE *saved = stderr;
        stderr = fopen("/dev/null", "w");
        network *net = sal_load_network(P_CFG, P_W, 0);
        fclose(stderr);
        stderr = saved;
        set_batch_network(net, 1);
        image im = load_image(P_IMG, 16, 12, 3);
        char err[256];
        eng *e = eng_init(net, err, sizeof err);
        float truth[3] = {0, 1, 0};
        float *g = malloc(n * sizeof(float)), *gf = malloc(n * sizeof(float));
        uint64_t rng = 1;   // the CLI's default -seed
        eng_heatmap(e, im.data, truth, (eng_form)form, 0, &rng, g);
        FILE *f = fopen(raw, "rb");
        ck_assert(fread(gf, sizeof(float), n, f) == (size_t)n);
        fclose(f);
        double gn = 0;
        for (int i = 0; i < n; i++) {
            ck_assert_msg(fabsf(g[i] - gf[i]) <= 1e-5f * (1 + fabsf(g[i])), "%s: raw[%d] %g, engine %g",
                          eng_form_name((eng_form)form), i, gf[i], g[i]);
            gn += fabsf(g[i]);
        }
        ck_assert(gn > 0);
        free(g); free(gf); free_image(im);
        eng_free(e);
        dk_free(net);
    }
}
END_TEST

START_TEST(map_gradxinput_and_defaults)
{
    setup();
    char args[4096], out[16384], prefix[512];
    snprintf(prefix, sizeof prefix, "%s/gxi", tu_tmpdir());
    snprintf(args, sizeof args, "map %s %s %s %s -method gradxinput -out %s", P_DATA, P_CFG, P_W, P_IMG, prefix);
    int rc = run(args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    // without -class the predicted class is explained
    int pred = -1, expl = -2;
    char *p = strstr(out, "predicted: "), *q = strstr(out, "explained: ");
    ck_assert(p && q);
    sscanf(p, "predicted: %d", &pred);
    sscanf(q, "explained: %d", &expl);
    ck_assert_int_eq(pred, expl);
}
END_TEST

// Each bad input: a non-zero exit and a message that names the culprit.
START_TEST(map_errors_name_the_bad_input)
{
    setup();
    char missing[512];
    tu_path(missing, sizeof missing, "nothere.cfg");
    struct { char args[4096]; const char *expect; } cases[12];
    int nc = 0;
#define CASE(expect_, ...) do { snprintf(cases[nc].args, sizeof cases[nc].args, __VA_ARGS__); cases[nc].expect = expect_; nc++; } while (0)
    CASE("nothere.cfg", "map %s %s %s %s", P_DATA, missing, P_W, P_IMG);
    CASE("nothere.cfg", "map %s %s %s %s", P_DATA, P_CFG, missing, P_IMG);
    CASE("truncated", "map %s %s %s %s", P_DATA, P_CFG, P_WTRUNC, P_IMG);
    CASE("does not fit cfg", "map %s %s %s %s", P_DATA, P_CFG, P_WOTHER, P_IMG);
    CASE("nothere.cfg", "map %s %s %s %s", P_DATA, P_CFG, P_W, missing);
    CASE("notimage.png", "map %s %s %s %s", P_DATA, P_CFG, P_W, P_TXT);
    CASE("channels=4", "map %s %s '' %s", P_DATA, P_CFG4, P_IMG);
    CASE("-formulation logit", "map %s %s %s %s -formulation logit", P_DATA, P_CFG, P_W, P_IMG);
    CASE("-method", "map %s %s %s %s -method occlusio", P_DATA, P_CFG, P_W, P_IMG);
    CASE("-class 7", "map %s %s %s %s -class 7", P_DATA, P_CFG, P_W, P_IMG);
    CASE("unknown option '-clas'", "map %s %s %s %s -clas 1", P_DATA, P_CFG, P_W, P_IMG);
    CASE("unknown verb", "frobnicate");
#undef CASE
    for (int i = 0; i < nc; i++) {
        char out[16384];
        int rc = run(cases[i].args, out, sizeof out);
        ck_assert_msg(rc != 0 && rc < 128, "'%s': exit %d (want an error exit, not success or a crash): %s", cases[i].args, rc, out);
        ck_assert_msg(strstr(out, cases[i].expect) != NULL, "'%s': message does not name '%s': %s", cases[i].args, cases[i].expect, out);
    }
}
END_TEST

// The verbs' flags are read strictly (numbers whole and in range, seeds 0 ... 2^64-1, a flag once),
// through the one set of helpers: a typo is an error, not darknet's atoi 0.
START_TEST(flags_are_read_strictly)
{
    setup();
    struct { char args[4096]; const char *expect; } cases[12];
    int nc = 0;
#define CASE(expect_, ...) do { snprintf(cases[nc].args, sizeof cases[nc].args, __VA_ARGS__); cases[nc].expect = expect_; nc++; } while (0)
    CASE("-threads 0: not a thread count", "map %s %s %s %s -threads 0", P_DATA, P_CFG, P_W, P_IMG);
    CASE("-threads two: not a thread count", "eval %s %s %s -threads two", P_DATA, P_CFG, P_W);
    CASE("-seed -1: not a whole number 0 or more", "map %s %s %s %s -seed -1", P_DATA, P_CFG, P_W, P_IMG);
    CASE("-seed 1.5", "map %s %s %s %s -seed 1.5", P_DATA, P_CFG, P_W, P_IMG);
    CASE("-class 2x: not a whole number", "map %s %s %s %s -class 2x", P_DATA, P_CFG, P_W, P_IMG);
    CASE("-seed is given twice", "map %s %s %s %s -seed 1 -seed 2", P_DATA, P_CFG, P_W, P_IMG);
    CASE("-n 0: out of range", "eval %s %s %s -n 0", P_DATA, P_CFG, P_W);
    CASE("-batch ten: not a whole number", "eval %s %s %s -batch ten", P_DATA, P_CFG, P_W);
    CASE("-train 0: out of range", "prepare fashion-mnist %s/prep -train 0", tu_tmpdir());
    CASE("unknown option '-metrik'", "compare %s %s -metrik ssim", P_IMG, P_IMG);
    CASE("-step 0: too small", "gradcheck %s -step 0", P_CFG);
#undef CASE
    for (int i = 0; i < nc; i++) {
        char out[16384];
        int rc = run(cases[i].args, out, sizeof out);
        ck_assert_msg(rc == 1, "'%s': exit %d (want 1): %s", cases[i].args, rc, out);
        ck_assert_msg(strstr(out, cases[i].expect) != NULL, "'%s': message does not name '%s': %s", cases[i].args, cases[i].expect, out);
    }
}
END_TEST

// One heatmap whatever the thread count (-threads 1 and 2) and OpenMP's wait policy: unset, darknet
// restarts itself once with a short spin or passive set (patch 0056, check_wait), same arguments.
START_TEST(map_same_on_threads_and_wait_policies)
{
    setup();
    static const char *envs[] = {"OMP_WAIT_POLICY=passive", "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT", "OMP_WAIT_POLICY=active"};
    int n = 16 * 12 * 3;
    float *ref = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    for (int i = 0; i < 6; i++) {
        char args[4096], out[16384], raw[512];
        snprintf(raw, sizeof raw, "%s/t%d.f32", tu_tmpdir(), i);
        snprintf(args, sizeof args, "map %s %s %s %s -class 1 -out %s/t%d -raw %s -threads %d",
                 P_DATA, P_CFG, P_W, P_IMG, tu_tmpdir(), i, raw, 1 + i % 2);
        int rc = tu_saliency(envs[i / 2], args, out, sizeof out);
        ck_assert_msg(rc == 0, "%s %s: exit %d: %s", envs[i / 2], args, rc, out);
        ck_assert_msg(strstr(out, "explained: 1 beta"), "%s: output: %s", envs[i / 2], out);
        FILE *f = fopen(raw, "rb");
        ck_assert(f && fread(i ? g : ref, sizeof(float), n, f) == (size_t)n);
        fclose(f);
        for (int k = 0; i && k < n; k++)
            ck_assert_msg(fabsf(g[k] - ref[k]) <= 1e-6f * (1 + fabsf(ref[k])), "%s, -threads %d: raw[%d] %g, want %g",
                          envs[i / 2], 1 + i % 2, k, g[k], ref[k]);
    }
    free(ref); free(g);
}
END_TEST

START_TEST(eval_reports_accuracy_and_agreement)
{
    setup();
    char list[512], labels[512], data[512], text[4096] = "", out[16384], args[4096];
    tu_path(list, sizeof list, "eval.list");
    tu_path(labels, sizeof labels, "eval.labels");
    tu_path(data, sizeof data, "eval.data");
    const char *names[3] = {"alpha", "beta", "gamma"};
    for (int i = 0; i < 5; i++) {
        image im = make_image(16, 12, 3);
        uint64_t rng = 40 + i;
        tu_fill(im.data, 16 * 12 * 3, 0, 1, &rng);
        char prefix[512];
        snprintf(prefix, sizeof prefix, "%s/e%d_%s", tu_tmpdir(), i, names[i % 3]);
        save_image_options(im, prefix, PNG, 0);
        free_image(im);
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s.png\n", prefix);
    }
    tu_write_text(list, text);
    tu_write_text(labels, "alpha\nbeta\ngamma\n");
    snprintf(text, sizeof text, "classes=3\nvalid=%s\nlabels=%s\n", list, labels);
    tu_write_text(data, text);
    snprintf(args, sizeof args, "eval %s %s %s -batch 2", data, P_CFG, P_W);
    int rc = run(args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    double top1 = -1, ssim = -2;
    char *p = strstr(out, "images 5  top-1 ");
    ck_assert_msg(p != NULL, "output: %s", out);
    ck_assert_int_eq(sscanf(p, "images 5  top-1 %lf  ssim %lf", &top1, &ssim), 2);
    ck_assert(top1 >= 0 && top1 <= 1 && ssim >= -1 && ssim <= 1);
    // the noise flags: the numbers move, the same -seed gives the same numbers, a bad value is refused
    double s1 = -2, s2 = -2, t;
    snprintf(args, sizeof args, "eval %s %s %s -batch 2 -input_noise 0.2 -heatmap_noise 0.5 -seed 4", data, P_CFG, P_W);
    for (int k = 0; k < 2; k++) {
        rc = run(args, out, sizeof out);
        ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
        p = strstr(out, "images 5  top-1 ");
        ck_assert_msg(p && strstr(p, "at x + noise 0.2") && strstr(p, "heatmap noise 0.5"), "output: %s", out);
        ck_assert_int_eq(sscanf(p, "images 5  top-1 %lf  ssim %lf", &t, k ? &s2 : &s1), 2);
    }
    ck_assert_msg(s1 == s2, "the same -seed, ssim %g then %g", s1, s2);
    ck_assert_msg(fabs(s1 - ssim) > 1e-4, "noise 0.2/0.5 left ssim at %g", ssim);
    snprintf(args, sizeof args, "eval %s %s %s -heatmap_noise -1", data, P_CFG, P_W);
    rc = run(args, out, sizeof out);
    ck_assert_msg(rc == 1 && strstr(out, "-heatmap_noise"), "exit %d: %s", rc, out);
    snprintf(args, sizeof args, "eval %s %s %s", P_DATA, P_CFG, P_W);   // no valid= list
    rc = run(args, out, sizeof out);
    ck_assert_msg(rc == 1 && strstr(out, "valid="), "exit %d: %s", rc, out);
}
END_TEST

// a grey image comes back as itself through darknet's loader: pjreddie's swapped planes 0 and 2
// of it (its patch 0013); AlexeyAB's load_image_mat reads 1 channel and converts only 3 or 4 (no
// patch needed, this is the check)
START_TEST(grey_image_loads_as_itself)
{
    image im = make_image(7, 5, 1);
    for (int i = 0; i < 35; i++) im.data[i] = (i * 7 % 35) / 34.0f;
    char prefix[512], path[600];
    snprintf(prefix, sizeof prefix, "%s/grey", tu_tmpdir());
    snprintf(path, sizeof path, "%s.png", prefix);
    save_image_options(im, prefix, PNG, 0);
    image back = load_image(path, 0, 0, 1);
    ck_assert_int_eq(back.c, 1);
    ck_assert_int_eq(back.w, 7);
    for (int i = 0; i < 35; i++) ck_assert_float_eq_tol(back.data[i], im.data[i], 1.0f / 255);
    free_image(im);
    free_image(back);
}
END_TEST

Suite *make_cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("map");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, map_writes_pictures_and_the_true_gradient);
    tcase_add_test(tc, map_gradxinput_and_defaults);
    tcase_add_test(tc, map_errors_name_the_bad_input);
    tcase_add_test(tc, grey_image_loads_as_itself);
    tcase_add_test(tc, flags_are_read_strictly);
    tcase_add_test(tc, map_same_on_threads_and_wait_policies);
    tcase_add_test(tc, eval_reports_accuracy_and_agreement);
    suite_add_tcase(s, tc);
    return s;
}
