// check_explainer.c: NN-Explainer's loss (src/explainer.h): each term against a hand computation,
// the gradient of the whole loss with respect to the mask logits against central differences
// through a frozen darknet classifier (multi-label [logistic] and single-label [softmax] tops), and
// the classifier's weights and rolling statistics unchanged byte for byte by all of it.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "engine.h"
#include "explainer.h"
#include "explainer_eng.h"
#include "testutil.h"
#include "saliency_util.h"
#include "rng.h"

START_TEST(masks_by_hand)
{
    // B = 1, K = 3, HW = 2; classes 0 and 2 present
    const float S[6] = {1, -2, 3, 0, -1, 5}, y[3] = {1, 0, 1};
    float m[2], n[2];
    int am[2], an[2];
    xpl_mask_forward(S, y, 1, 3, 2, 1, m, am);
    xpl_mask_forward(S, y, 1, 3, 2, 0, n, an);
    ck_assert_int_eq(am[0], 0);
    ck_assert_int_eq(am[1], 2);
    ck_assert_double_eq_tol(m[0], 1 / (1 + exp(-1.0)), 1e-6);
    ck_assert_double_eq_tol(m[1], 1 / (1 + exp(-5.0)), 1e-6);
    ck_assert_int_eq(an[0], 1);
    ck_assert_double_eq_tol(n[0], 1 / (1 + exp(-3.0)), 1e-6);
    ck_assert_double_eq_tol(n[1], 0.5, 1e-7);
    // every class present: the non-target mask is empty
    const float all[3] = {1, 1, 1};
    xpl_mask_forward(S, all, 1, 3, 2, 0, n, an);
    ck_assert(n[0] == 0 && n[1] == 0 && an[0] == -1);
    // the backward reaches only the argmax: dm * m (1 - m)
    float dS[6] = {0}, dm[2] = {2, 3};
    xpl_mask_backward(dm, m, am, 1, 3, 2, dS);
    ck_assert_double_eq_tol(dS[0], 2 * m[0] * (1 - m[0]), 1e-7);
    ck_assert_double_eq_tol(dS[5], 3 * m[1] * (1 - m[1]), 1e-7);
    ck_assert(dS[1] == 0 && dS[2] == 0 && dS[3] == 0 && dS[4] == 0);
}
END_TEST

START_TEST(classifier_terms_by_hand)
{
    const float z[2] = {0.5f, -1}, y[2] = {1, 0};
    float dz[3];
    // BCE: log(1 + e^-0.5) and log(1 + e^-1), their mean
    ck_assert_double_eq_tol(xpl_cls(z, y, 1, 2, 1, dz), (log1p(exp(-0.5)) + log1p(exp(-1.0))) / 2, 1e-7);
    ck_assert_double_eq_tol(dz[0], (1 / (1 + exp(-0.5)) - 1) / 2, 1e-7);
    // CE of softmax: log(e + e^2 + 1) - 2
    const float z3[3] = {1, 2, 0}, y3[3] = {0, 1, 0};
    ck_assert_double_eq_tol(xpl_cls(z3, y3, 1, 3, 0, dz), log(exp(1.0) + exp(2.0) + 1) - 2, 1e-7);
    ck_assert_double_eq_tol(dz[1], exp(2.0) / (exp(1.0) + exp(2.0) + 1) - 1, 1e-7);
    // negative entropy: -log 2 for two equal logits, and 0 gradient there
    const float zz[2] = {0, 0};
    ck_assert_double_eq_tol(xpl_negent(zz, 1, 2, dz), -log(2.0), 1e-7);
    ck_assert_double_eq_tol(dz[0], 0, 1e-7);
    // p = (0.2689, 0.7311): p log p summed
    const float z2[2] = {0, 1};
    double p0 = 1 / (1 + exp(1.0)), p1 = 1 - p0;
    ck_assert_double_eq_tol(xpl_negent(z2, 1, 2, dz), p0 * log(p0) + p1 * log(p1), 1e-7);
}
END_TEST

START_TEST(mask_terms_by_hand)
{
    // TV of [[0, 1], [1, 1]]: horizontal |1 - 0| / 2, vertical |1 - 0| / 2
    const float m[4] = {0, 1, 1, 1};
    float dm[4] = {0};
    ck_assert_double_eq_tol(xpl_tv(m, 1, 2, 2, 1, dm), 1.0, 1e-7);
    ck_assert_double_eq_tol(dm[0], -1.0, 1e-7);    // -1/2 from each direction
    ck_assert_double_eq_tol(dm[1], 0.5, 1e-7);
    ck_assert_double_eq_tol(dm[3], 0.0, 1e-7);
    // area band: all logits 0 give A = 0.5, 0.2 above 0.3; all -10 give A = sigmoid(-10), below 0.05
    float S[8], y[2] = {1, 0}, dS[8] = {0};
    for (int i = 0; i < 8; i++) S[i] = 0;
    ck_assert_double_eq_tol(xpl_area(S, y, 1, 2, 4, 0.05, 0.3, 1, dS), 0.2, 1e-7);
    ck_assert_double_eq_tol(dS[0], 0.25 / 4, 1e-7);
    ck_assert(dS[4] == 0);   // an absent class has no area term
    for (int i = 0; i < 8; i++) S[i] = -10;
    ck_assert_double_eq_tol(xpl_area(S, y, 1, 2, 4, 0.05, 0.3, 1, NULL), 0.05 - 1 / (1 + exp(10.0)), 1e-7);
    for (int i = 0; i < 8; i++) S[i] = -1.4f;   // A = 0.198: inside the band
    ck_assert_double_eq_tol(xpl_area(S, y, 1, 2, 4, 0.05, 0.3, 1, NULL), 0, 1e-9);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// the whole loss through a darknet classifier

#define B 2
#define C 3
#define H 6
#define W 6
#define K 3

static const char *CLS_BODY =
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=tanh\n"
    "[connected]\noutput=3\nactivation=linear\n";

typedef struct { xpl *w; xpl_opts o; xpl_classifier f; const float *x, *y; float *S; } loss_ctx;

static double loss_at(void *p)
{
    loss_ctx *k = p;
    return xpl_loss(k->w, &k->o, &k->f, k->x, k->S, k->y, NULL, NULL);
}

// every parameter and rolling statistic of net, concatenated (to compare byte for byte)
static size_t snapshot(network *net, float *out)
{
    size_t n = 0;
    for (int i = 0; i < net->n; i++) {
        layer *l = &net->layers[i];
        float *arr[5] = {l->weights, l->biases, l->scales, l->rolling_mean, l->rolling_variance};
        size_t len[5] = {(size_t)l->nweights, (size_t)l->nbiases, l->batch_normalize ? (size_t)l->n : 0,
                         l->batch_normalize ? (size_t)l->n : 0, l->batch_normalize ? (size_t)l->n : 0};
        if (l->type == CONNECTED) len[1] = l->outputs;
        for (int a = 0; a < 5; a++) {
            if (!arr[a]) continue;
            if (out) memcpy(out + n, arr[a], len[a] * sizeof(float));
            n += len[a];
        }
    }
    return n;
}

static void check_loss_gradient(const char *top, int multilabel, uint64_t seed)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "[net]\nbatch=%d\nwidth=%d\nheight=%d\nchannels=%d\n%s%s", B, W, H, C, CLS_BODY, top);
    network *net = tu_net(cfg);
    tu_randomize(net, seed);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    size_t np = snapshot(net, NULL);
    float *before = malloc(np * sizeof(float)), *after = malloc(np * sizeof(float));
    snapshot(net, before);

    uint64_t rng = seed + 7;
    float x[B * C * H * W], S[B * K * H * W], dS[B * K * H * W];
    tu_fill(x, B * C * H * W, 0, 1, &rng);
    tu_fill(S, B * K * H * W, -3, 3, &rng);
    // image 0: classes 0 and 2 (multi-label) or 2; image 1: class 1
    float y[B * K] = {multilabel, 0, 1, 0, 1, 0};
    loss_ctx k = {xpl_new(B, C, H, W, K), {0}, xpl_engine_classifier(e), x, y, S};
    xpl_defaults(&k.o);
    k.o.multilabel = multilabel;
    k.o.lambda_a = 3;   // the area band active for some classes: logits in [-3, 3] give A near 0.5
    xpl_terms t;
    xpl_loss(k.w, &k.o, &k.f, x, S, y, dS, &t);
    ck_assert(t.cls > 0 && t.ent < 0 && t.tv > 0 && t.area > 0 && t.target > 0 && t.nontarget > 0);
    ck_assert_double_eq_tol(t.total, t.cls + t.ent + t.tv + 3 * t.area + 0.1 * t.target + 0.3 * t.nontarget, 1e-9);

    // the loss is a max of sigmoids and absolute differences: kinks where the argmax class or a
    // difference's sign changes between the steps, detected and skipped
    tu_fd_opts o = {1e-2, 3, 1, 1e-6, 2e-3, 2e-2, 2e-2};
    char op[128];
    snprintf(op, sizeof op, "explainer loss (%.*s) dS", (int)strcspn(top, "\n"), top);
    tu_fd_stats st = tu_fd_check(op, loss_at, &k, S, B * K * H * W, dS, NULL, 0, 1, o);
    ck_assert_msg(st.failed == 0, "%s: %d of %d failed", op, st.failed, st.checked);
    ck_assert_msg(st.checked > B * K * H * W / 2, "%s: only %d checked (%d skipped)", op, st.checked, st.skipped);

    // the classifier was run forwards and backwards many times: not one of its bytes moved
    snapshot(net, after);
    ck_assert_msg(memcmp(before, after, np * sizeof(float)) == 0, "the frozen classifier's parameters changed");
    xpl_free(k.w);
    free(before);
    free(after);
    eng_free(e);
    dk_free(net);
}


#ifndef DK_FORK_AB   // AlexeyAB's darknet has no [logistic] layer (its parser refuses the name)
// The engine with a [logistic] top (a multi-label classifier): the loss formulation's heatmap is
// the gradient of the summed BCE, against central differences of the input.
typedef struct { network *net; const float *t; } bce_ctx;

static double bce_at(void *p)
{
    bce_ctx *k = p;
    network *net = k->net;
    net->train = 0;
    dk_forward(net);
    const layer *top = &net->layers[net->n - 1];
    const float *z = net->layers[net->n - 2].output;
    double s = 0;
    for (int i = 0; i < top->outputs * net->batch; i++) {
        double v = z[i];
        s += (v > 0 ? v : 0) - v * k->t[i] + log1p(exp(-fabs(v)));
    }
    return s;
}

START_TEST(engine_logistic_top_loss)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "[net]\nbatch=%d\nwidth=%d\nheight=%d\nchannels=%d\n%s[logistic]\n", B, W, H, C, CLS_BODY);
    network *net = tu_net(cfg);
    tu_randomize(net, 21);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    int n = net->inputs * B;
    float *x = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    uint64_t rng = 5;
    tu_fill(x, n, 0, 1, &rng);
    const float t[B * K] = {1, 0, 1, 0, 1, 0};
    ck_assert_int_eq(eng_heatmap(e, x, t, ENG_LOSS, 0, &rng, g), 0);
    memcpy(net->input, x, n * sizeof(float));
    bce_ctx k = {net, t};
    tu_fd_opts o = {2e-3, 3, 1, 1e-6, 1e-3, 1e-2, 1e-2};
    tu_fd_stats st = tu_fd_check("bce heatmap ([logistic] top)", bce_at, &k, net->input, n, g, NULL, 0, 1, o);
    ck_assert_msg(st.failed == 0 && st.checked > n / 2, "%d failed, %d checked, %d skipped", st.failed, st.checked, st.skipped);
    free(x);
    free(g);
    eng_free(e);
    dk_free(net);
}
END_TEST

START_TEST(loss_gradient_multilabel)
{
    check_loss_gradient("[logistic]\n", 1, 11);
}
END_TEST
#endif

START_TEST(loss_gradient_singlelabel)
{
    check_loss_gradient("[softmax]\n", 0, 12);
}
END_TEST


// ---------------------------------------------------------------------------------------------
// the verbs: init, train (the classifier's weights file byte for byte, checkpoints, resume), map,
// and bad input

#define GS 10

// a scenes data set in <tmp>/<dir>: synthetic garments (idx files, plain) through prepare
static void scenes_data(const char *dir, char *data, int datalen)
{
    char src[512], path[600], args[2048], out[8192];
    snprintf(src, sizeof src, "%s/%s-src", tu_tmpdir(), dir);
    mkdir(src, 0777);
    const char *bases[2] = {"train", "t10k"};
    for (int s = 0; s < 2; s++) {
        int n = 10;
        snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", src, bases[s]);
        FILE *f = fopen(path, "wb");
        unsigned char hdr[16] = {0, 0, 8, 3, 0, 0, 0, (unsigned char)n, 0, 0, 0, GS, 0, 0, 0, GS};
        fwrite(hdr, 1, 16, f);
        for (int i = 0; i < n; i++)
            for (int p = 0; p < GS * GS; p++) fputc((p / GS) % (2 + i % 3) ? 200 : 0, f);
        fclose(f);
        snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", src, bases[s]);
        f = fopen(path, "wb");
        unsigned char lh[8] = {0, 0, 8, 1, 0, 0, 0, (unsigned char)n};
        fwrite(lh, 1, 8, f);
        for (int i = 0; i < n; i++) fputc(i % 10, f);
        fclose(f);
    }
    snprintf(args, sizeof args, "prepare fashion-scenes %s/%s -n 24 -test 4 -size 16 -src %s", tu_tmpdir(), dir, src);
    int rc = tu_saliency(NULL, args, out, sizeof out);
    ck_assert_msg(rc == 0, "%s", out);
    snprintf(data, datalen, "%s/%s/scenes.data", tu_tmpdir(), dir);
}

// a 16x16 multi-label classifier of `classes` outputs with random weights: its cfg and weights
static void tiny_classifier(const char *name, int classes, char *cfg, char *weights, int n)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[net]\nbatch=1\nwidth=16\nheight=16\nchannels=3\n"
             "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
             "[maxpool]\nsize=2\nstride=2\n"
             "[convolutional]\nfilters=%d\nsize=1\nstride=1\nactivation=linear\n"
             "[maxpool]\nsize=8\nstride=8\n[logistic]\n", classes);
    snprintf(cfg, n, "%s/%s.cfg", tu_tmpdir(), name);
    snprintf(weights, n, "%s/%s.weights", tu_tmpdir(), name);
    tu_write_text(cfg, text);
    network *net = tu_net(text);
    tu_randomize(net, 3);
    dk_save_weights(net, weights);
    dk_free(net);
}

static char *slurp_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(n + 1);
    *len = fread(b, 1, n, f);
    b[*len] = 0;
    fclose(f);
    return b;
}

static int run(const char *args, char *out, int outlen)
{
    int rc = tu_saliency("OPENBLAS_NUM_THREADS=1", args, out, outlen);
    tu_check_sanitizer(args, rc, out);
    return rc;
}

START_TEST(init_train_resume_map)
{
    static char out[1 << 16];
    char data[600], ccfg[600], cw[600], ecfg[600], args[4096], path[700];
    scenes_data("sc", data, sizeof data);
    tiny_classifier("cls", 10, ccfg, cw, sizeof ccfg);
    snprintf(ecfg, sizeof ecfg, "%s/xpl.cfg", tu_tmpdir());
    snprintf(args, sizeof args, "explainer init %s %s", ccfg, ecfg);
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "explainer for 10 classes at 16x16x3, 2 levels") != NULL, "%s", out);
    size_t n0, n1;
    char *before = slurp_file(cw, &n0);
    ck_assert_ptr_nonnull(before);

    // 3 steps, then resumed to 5; the classifier's file never changes
    snprintf(args, sizeof args, "explainer train %s %s %s %s -max_batches 3", data, ecfg, ccfg, cw);
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "step 3: loss") != NULL && strstr(out, "multi-label, BCE, 10 classes") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "lambda_e 1 lambda_tv 1 lambda_a 1 lambda_t 0.1 lambda_nc 0.3, area 0.05-0.3, Adam, learning rate 1e-05") != NULL, "%s", out);
    snprintf(path, sizeof path, "%s/sc/backup/xpl.backup", tu_tmpdir());
    ck_assert_int_eq(access(path, R_OK), 0);
    snprintf(args, sizeof args, "explainer train %s %s %s %s -max_batches 5", data, ecfg, ccfg, cw);
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "at step 3") != NULL && strstr(out, "2 steps in") != NULL, "%s", out);
    char *after = slurp_file(cw, &n1);
    ck_assert(n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);

    // the masks of one image
    char img[700];
    snprintf(path, sizeof path, "%s/sc/test.list", tu_tmpdir());
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(fgets(img, sizeof img, f));
    fclose(f);
    img[strcspn(img, "\n")] = 0;
    snprintf(args, sizeof args, "explainer map %s %s %s/sc/backup/xpl.weights %s %s %s -out %s/m -class 2 -raw %s/m.raw",
             data, ecfg, tu_tmpdir(), ccfg, cw, img, tu_tmpdir(), tu_tmpdir());
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    snprintf(path, sizeof path, "%s/m_2_mask.png", tu_tmpdir());
    image m = load_image(path, 0, 0, 1);
    ck_assert_int_eq(m.w, 16);
    free_image(m);
    snprintf(path, sizeof path, "%s/m.raw", tu_tmpdir());
    char *raw = slurp_file(path, &n0);
    ck_assert_int_eq(n0, 16 * 16 * sizeof(float));
    for (int i = 0; i < 256; i++) { float v; memcpy(&v, raw + 4 * i, 4); ck_assert_msg(v >= 0 && v <= 1, "mask value %d: %g", i, v); }
    free(raw);

    // localize: a method and the explainer by the same protocol, a CSV row per (scene, class, method)
    snprintf(args, sizeof args, "localize %s %s %s -method vanilla,explainer -explainer %s -explainer_weights %s/sc/backup/xpl.weights -n 3 -csv %s/loc.csv",
             data, ccfg, cw, ecfg, tu_tmpdir(), tu_tmpdir());
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "classifier on 3 scenes: labels right") != NULL && strstr(out, "\nexplainer ") != NULL, "%s", out);
    snprintf(path, sizeof path, "%s/loc.csv", tu_tmpdir());
    char *csv = slurp_file(path, &n0);
    ck_assert_ptr_nonnull(csv);
    const char *head = "image,class,method,iou,f1,ciou,auc,pointing,area,p_kept,saliency\n";
    ck_assert_msg(strncmp(csv, head, strlen(head)) == 0, "%.300s", csv);
    int rows = 0, xrows = 0;
    for (char *q = csv; (q = strchr(q, '\n')); q++) rows++;
    for (char *q = csv; (q = strstr(q, ",explainer,")); q++) xrows++;
    ck_assert_int_ge(xrows, 3);
    ck_assert_int_eq(rows - 1, 2 * xrows);
    free(csv);
    // -method explainer in map and insdel, the same masks by the same protocol as every method
    snprintf(args, sizeof args, "map %s %s %s %s -method explainer -explainer %s -explainer_weights %s/sc/backup/xpl.weights -class 2 -out %s/mm -raw %s/mm.raw",
             data, ccfg, cw, img, ecfg, tu_tmpdir(), tu_tmpdir(), tu_tmpdir());
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "(explainer, onehot): the mask of class 2") != NULL, "%s", out);
    snprintf(path, sizeof path, "%s/mm.raw", tu_tmpdir());
    char *raw3 = slurp_file(path, &n1);
    snprintf(path, sizeof path, "%s/m.raw", tu_tmpdir());
    char *raw1 = slurp_file(path, &n0);
    ck_assert_int_eq(n1, 3 * n0);   // the mask in every channel, the same as explainer map's
    for (int c = 0; c < 3; c++) ck_assert(memcmp(raw3 + c * n0, raw1, n0) == 0);
    free(raw1);
    free(raw3);
    snprintf(args, sizeof args, "insdel %s %s %s %s -method vanilla,explainer -explainer %s -explainer_weights %s/sc/backup/xpl.weights -step 16",
             data, ccfg, cw, img, ecfg, tu_tmpdir());
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "\nexplainer deletion ") != NULL, "%s", out);
    snprintf(args, sizeof args, "map %s %s %s %s -method explainer", data, ccfg, cw, img);
    ck_assert_int_eq(run(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "-method explainer needs -explainer") != NULL, "%s", out);

    snprintf(args, sizeof args, "localize %s %s %s -method explainer -n 3", data, ccfg, cw);
    ck_assert_int_eq(run(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "-method explainer needs -explainer") != NULL, "%s", out);
}
END_TEST

START_TEST(bad_input_is_named)
{
    static char out[1 << 16];
    char data[600], ccfg[600], cw[600], c5[600], w5[600], ecfg[600], bad[600], args[4096];
    scenes_data("sb", data, sizeof data);
    tiny_classifier("cls10", 10, ccfg, cw, sizeof ccfg);
    tiny_classifier("cls5", 5, c5, w5, sizeof c5);
    snprintf(ecfg, sizeof ecfg, "%s/xpl10.cfg", tu_tmpdir());
    snprintf(args, sizeof args, "explainer init %s %s", ccfg, ecfg);
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    // an explainer of 10 maps for a classifier of 5 classes
    snprintf(args, sizeof args, "explainer train %s %s %s %s -max_batches 1", data, ecfg, c5, w5);
    ck_assert_int_eq(run(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "has 10 labels, classifier cfg") != NULL || strstr(out, "ends in 10 maps") != NULL, "%s", out);
    // missing classifier weights
    snprintf(args, sizeof args, "explainer train %s %s %s %s/none.weights", data, ecfg, ccfg, tu_tmpdir());
    ck_assert_int_eq(run(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "classifier weights") != NULL && strstr(out, "none.weights") != NULL, "%s", out);
    // a bad key and a bad value of [explainer], named with the file and line
    size_t n;
    char *text = slurp_file(ecfg, &n);
    char *mod = malloc(n + 64);
    snprintf(bad, sizeof bad, "%s/bad.cfg", tu_tmpdir());
    char *at = strstr(text, "lambda_tv=1");
    ck_assert_ptr_nonnull(at);
    snprintf(mod, n + 64, "%.*slambda_x=1%s", (int)(at - text), text, at + strlen("lambda_tv=1"));
    tu_write_text(bad, mod);
    snprintf(args, sizeof args, "explainer train %s %s %s %s", data, bad, ccfg, cw);
    ck_assert_int_eq(run(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "bad.cfg:") != NULL && strstr(out, "unknown key 'lambda_x'") != NULL, "%s", out);
    snprintf(mod, n + 64, "%.*slambda_tv=-2%s", (int)(at - text), text, at + strlen("lambda_tv=1"));
    tu_write_text(bad, mod);
    ck_assert_int_eq(run(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "[explainer] lambda_tv=-2") != NULL, "%s", out);
    free(text);
    free(mod);
}
END_TEST


// A short training run learns: 16x16 black scenes with a red and/or a green square, a classifier
// made by hand (a 1x1 conv reading the red and the green channel, a global max pool, [logistic]:
// p_k high exactly when a square of colour k is visible), the explainer trained 150 steps: its masks'
// IoU with the squares (saliency localize) rises above the initial masks'.
static void square_scenes(const char *dir, int n, uint64_t seed)
{
    char path[800], list[700], text[1 << 15];
    int len = 0;
    snprintf(path, sizeof path, "%s/%s", tu_tmpdir(), dir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s/backup", tu_tmpdir(), dir);
    mkdir(path, 0777);
    uint64_t r = seed;
    for (int i = 0; i < n; i++) {
        int has[2] = {i % 3 != 1, i % 3 != 0};   // red, green, both
        image im = make_image(16, 16, 3), mk = make_image(16, 16, 1);
        for (int k = 0; k < 2; k++) {
            if (!has[k]) continue;
            int s = 4 + (int)(rng_uniform(&r) * 3), x0, y0, ok = 0;
            while (!ok) {   // no overlap with the other square
                x0 = (int)(rng_uniform(&r) * (16 - s + 1)); y0 = (int)(rng_uniform(&r) * (16 - s + 1));
                ok = 1;
                for (int y = y0; y < y0 + s; y++) for (int x = x0; x < x0 + s; x++) if (mk.data[y * 16 + x] > 0) ok = 0;
            }
            for (int y = y0; y < y0 + s; y++)
                for (int x = x0; x < x0 + s; x++) { im.data[k * 256 + y * 16 + x] = 1; mk.data[y * 16 + x] = (k + 1) / 255.f; }
        }
        char prefix[700];
        snprintf(prefix, sizeof prefix, "%s/%s/%03d%s%s", tu_tmpdir(), dir, i, has[0] ? ".red" : "", has[1] ? ".green" : "");
        sal_save_png(im, prefix);
        snprintf(path, sizeof path, "%s_mask", prefix);
        sal_save_png(mk, path);
        len += snprintf(text + len, sizeof text - len, "%s.png\n", prefix);
        free_image(im);
        free_image(mk);
    }
    snprintf(list, sizeof list, "%s/%s/list", tu_tmpdir(), dir);
    tu_write_text(list, text);
    snprintf(path, sizeof path, "%s/%s/labels", tu_tmpdir(), dir);
    tu_write_text(path, ".red.\n.green.\n");
    snprintf(text, sizeof text, "classes=2\ntrain=%s\nvalid=%s\nlabels=%s/%s/labels\nnames=%s/%s/labels\nbackup=%s/%s/backup\n",
             list, list, tu_tmpdir(), dir, tu_tmpdir(), dir, tu_tmpdir(), dir);
    snprintf(path, sizeof path, "%s/%s/sq.data", tu_tmpdir(), dir);
    tu_write_text(path, text);
}

static double explainer_iou(const char *out)
{
    const char *at = strstr(out, "\nexplainer ");
    ck_assert_msg(at != NULL, "%s", out);
    return atof(at + strlen("\nexplainer "));
}

START_TEST(training_raises_iou)
{
    static char out[1 << 16];
    char ccfg[600], cw[600], ecfg[600], data[600], args[4096];
    square_scenes("sq", 48, 4);
    snprintf(data, sizeof data, "%s/sq/sq.data", tu_tmpdir());
    const char *text = "[net]\nbatch=1\nwidth=16\nheight=16\nchannels=3\n"
                       "[convolutional]\nfilters=2\nsize=1\nstride=1\nactivation=linear\n"
                       "[maxpool]\nsize=16\nstride=16\n[logistic]\n";
    snprintf(ccfg, sizeof ccfg, "%s/sqcls.cfg", tu_tmpdir());
    snprintf(cw, sizeof cw, "%s/sqcls.weights", tu_tmpdir());
    tu_write_text(ccfg, text);
    network *net = tu_net(text);
    layer *l = &net->layers[0];
    memset(l->weights, 0, l->nweights * sizeof(float));
    l->weights[0 * 3 + 0] = 8;   // filter 0 reads red, filter 1 green
    l->weights[1 * 3 + 1] = 8;
    l->biases[0] = l->biases[1] = -4;
    dk_save_weights(net, cw);
    dk_free(net);
    snprintf(ecfg, sizeof ecfg, "%s/sqx.cfg", tu_tmpdir());
    snprintf(args, sizeof args, "explainer init %s %s", ccfg, ecfg);
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    size_t n;
    char *t = slurp_file(ecfg, &n), *lr = strstr(t, "learning_rate=0.00001\n");
    ck_assert_ptr_nonnull(lr);
    char *mod = malloc(n + 16);
    snprintf(mod, n + 16, "%.*slearning_rate=0.003\n%s", (int)(lr - t), t, lr + strlen("learning_rate=0.00001\n"));
    tu_write_text(ecfg, mod);
    free(t);
    free(mod);
    double iou[2];
    int steps[2] = {1, 150};
    for (int r = 0; r < 2; r++) {
        snprintf(args, sizeof args, "explainer train %s %s %s %s -max_batches %d -save_every 1000", data, ecfg, ccfg, cw, steps[r]);
        ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
        snprintf(args, sizeof args, "localize %s %s %s -method explainer -explainer %s -explainer_weights %s/sq/backup/sqx.weights -n 48",
                 data, ccfg, cw, ecfg, tu_tmpdir());
        ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
        iou[r] = explainer_iou(out);
    }
    ck_assert_msg(iou[1] > iou[0] + 0.1, "mask IoU %.4f after 1 step, %.4f after 150", iou[0], iou[1]);
}
END_TEST

Suite *make_explainer_suite(void)
{
    Suite *s = suite_create("explainer");
    TCase *tc = tcase_create("loss");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, masks_by_hand);
    tcase_add_test(tc, classifier_terms_by_hand);
    tcase_add_test(tc, mask_terms_by_hand);
#ifndef DK_FORK_AB
    tcase_add_test(tc, loss_gradient_multilabel);
    tcase_add_test(tc, engine_logistic_top_loss);
#endif
    tcase_add_test(tc, loss_gradient_singlelabel);
    suite_add_tcase(s, tc);
#ifndef DK_FORK_AB   // the verbs' tests train on a multi-label [logistic] classifier: AB has no such layer
    tc = tcase_create("verbs");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, init_train_resume_map);
    tcase_add_test(tc, bad_input_is_named);
    tcase_add_test(tc, training_raises_iou);
    suite_add_tcase(s, tc);
#endif
    return s;
}
