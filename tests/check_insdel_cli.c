// check_insdel_cli.c: `darknet saliency insdel` and `summarize` end to end (the binary named by
// $DARKNET) on a network whose decision is known in closed form: one [connected] layer whose class-0
// logit is the sum of a 3x3 patch's pixels (all three channels, weight 1) and whose class-1 logit is
// its bias b = 13.5, so p_0 = 1 / (1 + exp(b - S)), S the patch's sum. The true-region map (1 on the
// patch, 0 elsewhere) must beat the random map on both curves, its AUCs must be the closed form's
// (the protocol computed here from insdel.h and blur.h with that p_0, no darknet), shards and
// summarize must give one run's lines, and bad input must be named.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "darknet.h"
#include "blur.h"
#include "insdel.h"
#include "methods.h"
#include "testutil.h"

enum { W = 10, H = 10, C = 3, HW = W * H, PY = 3, PX = 6, PS = 3 };
static const double BIAS = 13.5;

static const char *NET_CFG = "[net]\nbatch=1\nwidth=10\nheight=10\nchannels=3\n"
                             "[connected]\noutput=2\nactivation=linear\n[softmax]\n";
// a small convolutional net for -method all (every method of the table runs on it)
static const char *CONV_CFG = "[net]\nbatch=1\nwidth=32\nheight=32\nchannels=3\n"
                              "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
                              "[maxpool]\nsize=2\nstride=2\n"
                              "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
                              "[avgpool]\n[softmax]\n";

static char P_CFG[512], P_W[512], P_CONV[512], P_CONVW[512], P_DATA[512], P_IMG[512], P_LIST[512], P_TRUE[512],
            P_SHORT[512];
static float IMG[C * HW];   // the test image as the PNG holds it (8 bits a value)

static int in_patch(int i) { int y = i / W, x = i % W; return y >= PY && y < PY + PS && x >= PX && x < PX + PS; }

// an image with the patch at brightness v and a random background below 0.6, saved as PNG (path
// without .png: the file is path.png); the values as darknet reads them back into out (when not NULL)
static void make_image_file(const char *path, float v, uint64_t seed, float *out)
{
    image im = make_image(W, H, C);
    uint64_t rng = seed;
    for (int k = 0; k < C; k++)
        for (int i = 0; i < HW; i++) im.data[k * HW + i] = in_patch(i) ? v : 0.6f * tu_uniform(&rng);
    save_image_options(im, (char *)path, PNG, 0);
    free_image(im);
    if (out) {
        char png[600];
        snprintf(png, sizeof png, "%s.png", path);
        image back = load_image(png, W, H, C);
        memcpy(out, back.data, sizeof(float) * C * HW);
        free_image(back);
    }
}

static void setup(void)
{
    static int done;
    if (done) return;
    done = 1;
    tu_path(P_CFG, sizeof P_CFG, "insdel.cfg");
    tu_path(P_W, sizeof P_W, "insdel.weights");
    tu_path(P_CONV, sizeof P_CONV, "insdel_conv.cfg");
    tu_path(P_CONVW, sizeof P_CONVW, "insdel_conv.weights");
    tu_path(P_DATA, sizeof P_DATA, "insdel.data");
    tu_path(P_LIST, sizeof P_LIST, "insdel.list");
    tu_path(P_TRUE, sizeof P_TRUE, "true.f32");
    tu_path(P_SHORT, sizeof P_SHORT, "short.f32");
    tu_write_text(P_CFG, NET_CFG);
    tu_write_text(P_CONV, CONV_CFG);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    network *net = dk_parse(P_CFG, 0);
    layer *l = &net->layers[0];
    memset(l->weights, 0, sizeof(float) * l->inputs * l->outputs);
    for (int k = 0; k < C; k++)
        for (int i = 0; i < HW; i++)
            if (in_patch(i)) l->weights[0 * l->inputs + k * HW + i] = 1;
    l->biases[0] = 0;
    l->biases[1] = (float)BIAS;
    dk_save_weights(net, P_W);
    dk_free(net);
    net = dk_parse(P_CONV, 0);
    tu_randomize(net, 21);
    dk_save_weights(net, P_CONVW);
    dk_free(net);
    fclose(stderr);
    stderr = saved;
    char names[512], text[4096];
    tu_path(names, sizeof names, "insdel.names");
    tu_write_text(names, "patch\nrest\n");
    snprintf(text, sizeof text, "classes=2\nnames=%s\n", names);
    tu_write_text(P_DATA, text);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/insdel_img", tu_tmpdir());
    make_image_file(prefix, 1.0f, 5, IMG);
    snprintf(P_IMG, sizeof P_IMG, "%.500s.png", prefix);
    // the list: 7 images, the patch from dim (class 1) to bright (class 0)
    text[0] = 0;
    for (int j = 0; j < 7; j++) {
        snprintf(prefix, sizeof prefix, "%s/insdel_list%d", tu_tmpdir(), j);
        make_image_file(prefix, 0.3f + 0.1f * j, 100 + j, NULL);
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s.png\n", prefix);
    }
    tu_write_text(P_LIST, text);
    // the true-region map and one of the wrong size
    float map[HW];
    for (int i = 0; i < HW; i++) map[i] = in_patch(i) ? 1 : 0;
    FILE *f = fopen(P_TRUE, "wb");
    fwrite(map, sizeof(float), HW, f);
    fclose(f);
    f = fopen(P_SHORT, "wb");
    fwrite(map, sizeof(float), HW - 1, f);
    fclose(f);
}

// ---- the closed form: p_0 of the synthetic network, the protocol from the core --------------------

static double p0_of(const float *x)
{
    double s = 0;
    for (int k = 0; k < C; k++)
        for (int i = 0; i < HW; i++) if (in_patch(i)) s += x[k * HW + i];
    return 1 / (1 + exp(BIAS - s));
}

typedef struct { int cls; } oracle;
static int oracle_score(void *ctx, const float *img, int nb, double *scores)
{
    oracle *o = ctx;
    for (int b = 0; b < nb; b++) {
        double p = p0_of(img + (size_t)b * C * HW);
        scores[b] = o->cls == 0 ? p : 1 - p;
    }
    return 0;
}

// the AUCs of the true-region map on x by the protocol: step pixels, substrate zero or blur
static void oracle_aucs(const float *x, int step, int blur_substrate, double *del, double *ins)
{
    float map[HW], blurred[C * HW], zero[C * HW] = {0};
    int order[HW], n = insdel_steps(HW, step);
    for (int i = 0; i < HW; i++) map[i] = in_patch(i) ? 1 : 0;
    insdel_order(map, HW, order);
    blur_gauss(x, C, H, W, 11, 5, blurred);
    oracle o = {p0_of(x) > 0.5 ? 0 : 1};
    double *cd = malloc((n + 1) * sizeof(double)), *ci = malloc((n + 1) * sizeof(double));
    insdel_curve(x, blur_substrate ? blurred : zero, C, HW, order, step, 7, oracle_score, &o, cd);
    insdel_curve(blurred, x, C, HW, order, step, 7, oracle_score, &o, ci);
    *del = insdel_auc(cd, n);
    *ins = insdel_auc(ci, n);
    free(cd); free(ci);
}

// ---- reading the outputs ---------------------------------------------------------------------------

static int run(const char *args, char *out, int outlen) { return tu_saliency(NULL, args, out, outlen); }

// the summary line of name in out: its two AUCs; 0 when found, and the line must be exactly
// "<name> deletion %.4f insertion %.4f"
static int summary_of(const char *out, const char *name, double *del, double *ins)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s deletion ", name);
    const char *p = strstr(out, key);
    if (!p) return -1;
    p++;
    const char *end = strchr(p, '\n');
    char line[256], again[256];
    int len = end ? (int)(end - p) : (int)strlen(p);
    snprintf(line, sizeof line, "%.*s", len, p);
    char fmt[160];
    snprintf(fmt, sizeof fmt, "%s deletion %%lf insertion %%lf", name);
    if (sscanf(line, fmt, del, ins) != 2) return -1;
    snprintf(again, sizeof again, "%s deletion %.4f insertion %.4f", name, *del, *ins);
    ck_assert_msg(!strcmp(line, again), "summary line '%s' is not '%s'", line, again);
    return 0;
}

// the summary: the lines "<name> deletion ..." at the end of out (in order), into lines
static int summary_lines(const char *out, char lines[][256], int max)
{
    int n = 0;
    const char *p = out;
    while ((p = strstr(p, " deletion ")) && n < max) {
        const char *b = p;
        while (b > out && b[-1] != '\n') b--;
        const char *e = strchr(p, '\n');
        int len = e ? (int)(e - b) : (int)strlen(b);
        if (strstr(b, " insertion ") && strstr(b, " insertion ") < b + len) snprintf(lines[n++], 256, "%.*s", len, b);
        p = e ? e : p + strlen(p);
    }
    return n;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc(n + 1);
    ck_assert(fread(s, 1, n, f) == (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

// ---- the tests ------------------------------------------------------------------------------------

// the true region beats random on both curves, and its AUCs are the closed form's, for both
// substrates and two steps; vanilla's map on this net is the true region (the gradient of the
// class-0 logit is 1 on the patch, 0 elsewhere), so it scores the same
START_TEST(true_region_beats_random_and_matches_the_closed_form)
{
    setup();
    struct { const char *substrate; int step; } cases[] = {{"zero", 0}, {"blur", 0}, {"zero", 1}, {"blur", 7}};
    for (int t = 0; t < 4; t++) {
        char args[4096], out[32768], stepflag[32] = "";
        int step = cases[t].step ? cases[t].step : (HW + 49) / 50;
        if (cases[t].step) snprintf(stepflag, sizeof stepflag, "-step %d", cases[t].step);
        char csv[512];
        tu_path(csv, sizeof csv, "true.csv");
        snprintf(args, sizeof args, "insdel %s %s %s %s -map %s -substrate %s %s -csv %s", P_DATA, P_CFG, P_W, P_IMG, P_TRUE,
                 cases[t].substrate, stepflag, csv);
        int rc = run(args, out, sizeof out);
        ck_assert_msg(rc == 0, "'%s': exit %d: %s", args, rc, out);
        ck_assert_msg(strstr(out, "predicted: 0 patch"), "%s", out);
        double md, mi, rd, ri, cd, ci, od, oi;
        ck_assert_msg(summary_of(out, "map", &md, &mi) == 0, "no map line: %s", out);
        ck_assert_msg(summary_of(out, "random", &rd, &ri) == 0, "no random line: %s", out);
        ck_assert_msg(summary_of(out, "center", &cd, &ci) == 0, "no center line: %s", out);
        ck_assert_msg(md < rd - 0.1 && mi > ri + 0.1, "%s: the true region (%g, %g) does not beat random (%g, %g)",
                      cases[t].substrate, md, mi, rd, ri);
        oracle_aucs(IMG, step, !strcmp(cases[t].substrate, "blur"), &od, &oi);
        ck_assert_msg(fabs(md - od) <= 6e-5 && fabs(mi - oi) <= 6e-5, "%s step %d: map AUCs %.4f %.4f, closed form %.6f %.6f",
                      cases[t].substrate, step, md, mi, od, oi);
        // the CSV's 6 decimals: the closed form to its rounding (and darknet's float sums)
        char *text = slurp(csv), *row = strstr(text, ",0,map,");
        double cd6, ci6;
        ck_assert_msg(row && sscanf(row, ",0,map,%lf,%lf", &cd6, &ci6) == 2, "%s", text);
        ck_assert_msg(fabs(cd6 - od) <= 2e-6 && fabs(ci6 - oi) <= 2e-6, "%s step %d: CSV %.6f %.6f, closed form %.7f %.7f",
                      cases[t].substrate, step, cd6, ci6, od, oi);
        free(text);
        char want[64];
        snprintf(want, sizeof want, "step %d pixels (%d steps, %d images a curve)", step, insdel_steps(HW, step), insdel_steps(HW, step) + 1);
        ck_assert_msg(strstr(out, want), "no '%s': %s", want, out);
        if (t == 0) {
            // vanilla on this net: its heat is the true region
            snprintf(args, sizeof args, "insdel %s %s %s %s -method vanilla", P_DATA, P_CFG, P_W, P_IMG);
            rc = run(args, out, sizeof out);
            ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
            double vd, vi, r2d, r2i;
            ck_assert(summary_of(out, "vanilla", &vd, &vi) == 0);
            ck_assert(summary_of(out, "random", &r2d, &r2i) == 0);
            ck_assert_msg(vd == md && vi == mi, "vanilla %g %g, the true region %g %g", vd, vi, md, mi);
            ck_assert_msg(r2d == rd && r2i == ri, "random differs between runs of the same seed");
            ck_assert_msg(strstr(out, "\nvanilla deletion ") && !strstr(out, "\nmap deletion "), "%s", out);
        }
    }
}
END_TEST

// the CSV (header, one row per image and map, 6 decimals) and the summary lines (the means of its
// rows, "%.4f", one line per map in order, at the end of the output), over the list
START_TEST(csv_and_summary_to_the_letter)
{
    setup();
    char args[4096], out[32768], csv[512];
    tu_path(csv, sizeof csv, "all.csv");
    snprintf(args, sizeof args, "insdel %s %s %s %s -csv %s", P_DATA, P_CFG, P_W, P_LIST, csv);
    int rc = run(args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    char *text = slurp(csv);
    ck_assert(text);
    ck_assert_msg(!strncmp(text, "image,class,name,deletion,insertion\n", 36), "header: %.80s", text);
    const char *names[3] = {"vanilla", "random", "center"};
    long long sum[3][2] = {{0}};   // millionths, as the verb sums them
    int rows = 0, classes[2] = {0, 0};
    char *line = strchr(text, '\n') + 1;
    while (*line) {
        char *nl = strchr(line, '\n');
        ck_assert(nl);
        *nl = 0;
        char img[512], name[64], d[32], i[32];
        int cls;
        ck_assert_msg(sscanf(line, "%511[^,],%d,%63[^,],%31[^,],%31s", img, &cls, name, d, i) == 5, "row '%s'", line);
        ck_assert_msg(strlen(strchr(d, '.')) == 7 && strlen(strchr(i, '.')) == 7, "row '%s': not 6 decimals", line);
        int k = rows % 3;
        ck_assert_str_eq(name, names[k]);
        ck_assert(cls == 0 || cls == 1);
        if (k == 0) classes[cls]++;
        sum[k][0] += llround(atof(d) * 1e6);
        sum[k][1] += llround(atof(i) * 1e6);
        rows++;
        line = nl + 1;
    }
    ck_assert_int_eq(rows, 7 * 3);
    ck_assert_msg(classes[0] > 0 && classes[1] > 0, "the list should hold both classes: %d %d", classes[0], classes[1]);
    char lines[8][256];
    int n = summary_lines(out, lines, 8);
    ck_assert_int_eq(n, 3);
    for (int k = 0; k < 3; k++) {
        char want[256];
        snprintf(want, sizeof want, "%s deletion %.4f insertion %.4f", names[k], (double)sum[k][0] / 1e6 / 7, (double)sum[k][1] / 1e6 / 7);
        ck_assert_str_eq(lines[k], want);
    }
    // the summary is the end of the output
    const char *last = strstr(out, lines[2]);
    ck_assert_msg(!strcmp(last + strlen(lines[2]), "\n"), "output after the summary: %s", last);
    ck_assert(strstr(out, "insdel: 7 images"));
    free(text);
}
END_TEST

// -shard k/n of the list (0-based) merged by summarize: one run's lines, in any file order; -n N
START_TEST(shards_and_summarize_give_one_runs_numbers)
{
    setup();
    char args[8192], out[32768], one[512], sh[3][512], lines1[8][256], lines2[8][256];
    tu_path(one, sizeof one, "one.csv");
    snprintf(args, sizeof args, "insdel %s %s %s %s -method vanilla,gradxinput -substrate blur -csv %s",
             P_DATA, P_CFG, P_W, P_LIST, one);
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    int n1 = summary_lines(out, lines1, 8);
    ck_assert_int_eq(n1, 4);
    ck_assert(strstr(lines1[0], "vanilla deletion ") == lines1[0] && strstr(lines1[1], "gradxinput deletion ") == lines1[1]);
    int rows = 0;
    for (int k = 0; k < 3; k++) {
        tu_path(sh[k], sizeof sh[k], k == 0 ? "s0.csv" : k == 1 ? "s1.csv" : "s2.csv");
        snprintf(args, sizeof args, "insdel %s %s %s %s -method vanilla,gradxinput -substrate blur -csv %s -shard %d/3",
                 P_DATA, P_CFG, P_W, P_LIST, sh[k], k);
        ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
        char want[64];
        snprintf(want, sizeof want, "insdel: %d images (shard %d/3", k == 0 ? 3 : 2, k);
        ck_assert_msg(strstr(out, want), "no '%s': %s", want, out);
        char *t = slurp(sh[k]);
        for (char *p = t; (p = strchr(p, '\n')); p++) rows++;
        rows--;   // the header
        free(t);
    }
    ck_assert_int_eq(rows, 7 * 4);
    const char *orders[2][3] = {{sh[0], sh[1], sh[2]}, {sh[2], sh[0], sh[1]}};
    for (int o = 0; o < 2; o++) {
        snprintf(args, sizeof args, "summarize %s %s %s", orders[o][0], orders[o][1], orders[o][2]);
        ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
        ck_assert_msg(strstr(out, "summarize: 7 images from 3 CSV files, 4 maps"), "%s", out);
        int n2 = summary_lines(out, lines2, 8);
        ck_assert_int_eq(n2, n1);
        for (int k = 0; k < n1; k++) ck_assert_str_eq(lines2[k], lines1[k]);
    }
    snprintf(args, sizeof args, "summarize %s", one);
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    int n2 = summary_lines(out, lines2, 8);
    ck_assert_int_eq(n2, n1);
    for (int k = 0; k < n1; k++) ck_assert_str_eq(lines2[k], lines1[k]);
    // -n 4: the first 4 images; shard 1/2 of them is images 1 and 3
    snprintf(args, sizeof args, "insdel %s %s %s %s -n 4 -shard 1/2", P_DATA, P_CFG, P_W, P_LIST);
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "insdel: 2 images (shard 1/2 of the first 4 of"), "%s", out);
}
END_TEST

// -method all: one line per method of the table (whatever it holds), then random and center; -plot
START_TEST(every_method_of_the_table_and_the_plot)
{
    setup();
    char args[4096], out[65536], plot[512], png[600];
    tu_path(plot, sizeof plot, "curves");
    snprintf(png, sizeof png, "%s.png", plot);
    snprintf(args, sizeof args, "insdel %s %s %s %s -method all -plot %s", P_DATA, P_CONV, P_CONVW, P_IMG, plot);
    int rc = run(args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    char lines[64][256];
    int n = summary_lines(out, lines, 64);
    ck_assert_int_eq(n, mth_count() + 2);
    for (int i = 0; i < n; i++) {
        const char *name = i < mth_count() ? mth_at(i)->name : i == mth_count() ? "random" : "center";
        double d, s;
        ck_assert_msg(summary_of(out, name, &d, &s) == 0, "no line for %s: %s", name, out);
        ck_assert_msg(!strncmp(lines[i], name, strlen(name)) && lines[i][strlen(name)] == ' ', "line %d '%s' is not %s's", i, lines[i], name);
        ck_assert(d >= 0 && d <= 1 && s >= 0 && s <= 1);
    }
    image im = load_image(png, 0, 0, 3);
    ck_assert_msg(im.w > 1000 && im.h > 300, "plot %dx%d", im.w, im.h);
    // not blank: coloured curve pixels
    int coloured = 0;
    for (int i = 0; i < im.w * im.h; i++)
        if (fabsf(im.data[i] - im.data[im.w * im.h + i]) > 0.3f || fabsf(im.data[i] - im.data[2 * im.w * im.h + i]) > 0.3f) coloured++;
    ck_assert_msg(coloured > 200, "%d coloured pixels", coloured);
    free_image(im);
}
END_TEST

// Each bad input: exit 1 and a message naming it.
START_TEST(bad_input_is_named)
{
    setup();
    char missing_list[512], text[4096], other[512], twice[512], partial[512], good[512];
    tu_path(missing_list, sizeof missing_list, "missing.list");
    snprintf(text, sizeof text, "%s\n%s/nothere.png\n", P_IMG, tu_tmpdir());
    tu_write_text(missing_list, text);
    tu_path(other, sizeof other, "other.csv");
    tu_write_text(other, "image,class,method,deletion,insertion\nx.png,0,vanilla,0.1,0.2\n");
    tu_path(good, sizeof good, "good.csv");
    tu_write_text(good, "image,class,name,deletion,insertion\nx.png,0,vanilla,0.1,0.2\nx.png,0,random,0.3,0.4\n"
                        "y.png,1,vanilla,0.1,0.2\ny.png,1,random,0.3,0.4\n");
    tu_path(twice, sizeof twice, "twice.csv");
    tu_write_text(twice, "image,class,name,deletion,insertion\ny.png,1,random,0.3,0.4\n");
    tu_path(partial, sizeof partial, "partial.csv");
    tu_write_text(partial, "image,class,name,deletion,insertion\nz.png,0,vanilla,0.1,0.2\n");
    struct { char args[4096]; const char *expect; } cases[20];
    int nc = 0;
#define CASE(expect_, ...) do { snprintf(cases[nc].args, sizeof cases[nc].args, __VA_ARGS__); cases[nc].expect = expect_; nc++; } while (0)
    CASE("unknown method 'nosuch'", "insdel %s %s %s %s -method nosuch", P_DATA, P_CFG, P_W, P_IMG);
    CASE("vanilla is given twice", "insdel %s %s %s %s -method vanilla,vanilla", P_DATA, P_CFG, P_W, P_IMG);
    CASE("unknown option '-stepz'", "insdel %s %s %s %s -stepz 3", P_DATA, P_CFG, P_W, P_IMG);
    CASE("-step 0: out of range", "insdel %s %s %s %s -step 0", P_DATA, P_CFG, P_W, P_IMG);
    CASE("-substrate grey: allowed: zero, blur", "insdel %s %s %s %s -substrate grey", P_DATA, P_CFG, P_W, P_IMG);
    CASE("-shard 3/3", "insdel %s %s %s %s -shard 3/3", P_DATA, P_CFG, P_W, P_LIST);
    CASE("-shard 1-3", "insdel %s %s %s %s -shard 1-3", P_DATA, P_CFG, P_W, P_LIST);
    CASE("-shard 8/9 of 7 images is empty", "insdel %s %s %s %s -shard 8/9", P_DATA, P_CFG, P_W, P_LIST);
    CASE("has 396 bytes; a float32 map of this network's 10x10 pixels (H x W) has 400 bytes",
         "insdel %s %s %s %s -map %s", P_DATA, P_CFG, P_W, P_IMG, P_SHORT);
    CASE("-method and -map: give one", "insdel %s %s %s %s -map %s -method vanilla", P_DATA, P_CFG, P_W, P_IMG, P_TRUE);
    CASE("-map goes with one image", "insdel %s %s %s %s -map %s", P_DATA, P_CFG, P_W, P_LIST, P_TRUE);
    CASE("line 2: cannot open image", "insdel %s %s %s %s", P_DATA, P_CFG, P_W, missing_list);
    CASE("nothere.png", "insdel %s %s %s %s", P_DATA, P_CFG, P_W, missing_list);
    CASE("cannot open image or image list", "insdel %s %s %s %s/none.list", P_DATA, P_CFG, P_W, tu_tmpdir());
    CASE("-steps 0: out of range", "insdel %s %s %s %s -steps 0", P_DATA, P_CFG, P_W, P_IMG);
    CASE("other.csv': its header 'image,class,method,deletion,insertion' is not 'image,class,name,deletion,insertion'",
         "summarize %s %s", good, other);
    CASE("twice.csv: a second row of image 'y.png' and map 'random' (the first is in", "summarize %s %s", good, twice);
    CASE("good.csv: a second row", "summarize %s %s", good, good);
    CASE("map 'random' has 2 rows for 3 images: image 'z.png'", "summarize %s %s", good, partial);
    CASE("usage: darknet saliency summarize", "summarize");
#undef CASE
    for (int i = 0; i < nc; i++) {
        char out[32768];
        int rc = run(cases[i].args, out, sizeof out);
        ck_assert_msg(rc == 1, "'%s': exit %d (want 1): %s", cases[i].args, rc, out);
        ck_assert_msg(strstr(out, cases[i].expect) != NULL, "'%s': message does not name '%s': %s", cases[i].args, cases[i].expect, out);
    }
}
END_TEST

Suite *make_insdel_cli_suite(void)
{
    Suite *s = suite_create("insdel_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, true_region_beats_random_and_matches_the_closed_form);
    tcase_add_test(tc, csv_and_summary_to_the_letter);
    tcase_add_test(tc, shards_and_summarize_give_one_runs_numbers);
    tcase_add_test(tc, every_method_of_the_table_and_the_plot);
    tcase_add_test(tc, bad_input_is_named);
    suite_add_tcase(s, tc);
    return s;
}
