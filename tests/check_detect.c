// check_detect.c: detections and their scores (src/detect.c) and the scored engine over a YOLO
// net (engine.h eng_init_scored): the decoded detections against darknet's own get_network_boxes +
// do_nms_sort; every score kind's input gradient against central differences (both heads, both
// images of the batch, a cell of the upsampled scale); the D-RISE match; IoU and the letterbox by
// hand; refusals by name.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "darknet.h"
#include "engine.h"
#include "detect.h"
#include "testutil.h"
#include "cam_testutil.h"
#include "dk.h"

#ifndef DK_FORK_AB   // the detector verbs and rules are pjreddie's; AB's [yolo] is refused (engine.c)

// a two-scale YOLOv3-tiny in miniature: 16x16x3, 2 classes, 3 anchors a head
static const char *YOLO_NET =
    "[net]\nbatch=2\nwidth=16\nheight=16\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"        // 0: 16x16
    "[maxpool]\nsize=2\nstride=2\n"                                                          // 1: 8x8
    "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\npad=1\nactivation=leaky\n"        // 2
    "[maxpool]\nsize=2\nstride=2\n"                                                          // 3: 4x4
    "[convolutional]\nfilters=6\nsize=3\npad=1\nactivation=leaky\n"                           // 4
    "[maxpool]\nsize=2\nstride=1\n"                                                          // 5: 4x4 (stride 1)
    "[convolutional]\nfilters=21\nsize=1\nactivation=linear\n"                                // 6
    "[yolo]\nmask=3,4,5\nanchors=2,3, 4,5, 6,4, 8,9, 10,7, 12,14\nclasses=2\nnum=6\n"        // 7
    "[route]\nlayers=-4\n"                                                                   // 8: layer 4
    "[upsample]\nstride=2\n"                                                                 // 9: 8x8
    "[route]\nlayers=-1,2\n"                                                                 // 10: 12 channels
    "[convolutional]\nfilters=21\nsize=1\nactivation=linear\n"                                // 11
    "[yolo]\nmask=0,1,2\nanchors=2,3, 4,5, 6,4, 8,9, 10,7, 12,14\nclasses=2\nnum=6\n";       // 12

typedef struct { network *net; eng *e; det_target t; } det_case;

// (the engine keeps a pointer to c->t: c stays where it is)
static void det_case_init(det_case *c, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->net = tu_net(YOLO_NET);
    tu_randomize(c->net, seed);
    c->net->train = 0;
    char err[512];
    c->e = eng_init_scored(c->net, det_score, &c->t, err, sizeof err);
    ck_assert_msg(c->e != NULL, "%s", err);
}

static void det_case_free(det_case *c)
{
    eng_free(c->e);
    dk_free(c->net);
}

// sum over the batch of the target's score at the net's current input (inference forward)
static double score_sum(void *p)
{
    det_case *c = p;
    dk_forward(c->net);
    double s = 0;
    for (int b = 0; b < c->net->batch; b++) s += det_score(&c->t, c->net, b, NULL);
    return s;
}

START_TEST(decode_matches_darknet_get_network_boxes)
{
    det_case c;
    det_case_init(&c, 3);
    // batch 1, as darknet's detector test runs (with a batch of 2 darknet's get_yolo_detections
    // averages image 0 with a flipped image 1, its test-time augmentation)
    set_batch_network(c.net, 1);
    uint64_t rng = 9;
    float *x = malloc(sizeof(float) * c.net->inputs * c.net->batch);
    tu_fill(x, c.net->inputs * c.net->batch, 0, 1, &rng);
    memcpy(c.net->input, x, sizeof(float) * c.net->inputs * c.net->batch);
    dk_forward(c.net);
    int classes = 0;
    ck_assert_int_eq(det_heads(c.net, &classes), 2);
    ck_assert_int_eq(classes, 2);
    float thresh = 0.3f, nms = 0.45f;
    det_detection *d;
    int n = det_decode(c.net, 0, thresh, nms, &d);
    // darknet's own decoding of image 0 (get_network_boxes reads image 0), boxes relative to the input
    int nd = 0;
    detection *dets = get_network_boxes(c.net, c.net->w, c.net->h, thresh, 0.5f, 0, 1, &nd);
    do_nms_sort(dets, nd, classes, nms);
    int want = 0, found = 0;
    for (int i = 0; i < nd; i++)
        for (int m = 0; m < classes; m++) {
            if (dets[i].prob[m] <= 0) continue;
            want++;
            for (int k = 0; k < n; k++)
                if (d[k].cls == m && fabsf(d[k].prob - dets[i].prob[m]) < 1e-6f && fabsf(d[k].box.x - dets[i].bbox.x) < 1e-5f &&
                    fabsf(d[k].box.y - dets[i].bbox.y) < 1e-5f && fabsf(d[k].box.w - dets[i].bbox.w) < 1e-5f &&
                    fabsf(d[k].box.h - dets[i].bbox.h) < 1e-5f) { found++; break; }
        }
    ck_assert_msg(want >= 3, "darknet kept only %d detections: the case does not test NMS", want);
    ck_assert_int_eq(n, want);
    ck_assert_int_eq(found, want);
    for (int k = 1; k < n; k++) ck_assert(d[k - 1].prob >= d[k].prob);
    // without NMS there are more (the case has overlapping boxes)
    det_detection *all;
    int nall = det_decode(c.net, 0, thresh, 0, &all);
    ck_assert_msg(nall > n, "NMS removed nothing (%d vs %d)", nall, n);
    free(all);
    free_detections(dets, nd);
    free(d);
    free(x);
    det_case_free(&c);
}
END_TEST

// every kind's gradient by central differences, for a detection of each head, on both images
START_TEST(score_gradient_matches_central_differences)
{
    det_case c;
    det_case_init(&c, 5);
    int n = c.net->inputs, B = c.net->batch;
    float *x = malloc(sizeof(float) * n * B), *g = malloc(sizeof(float) * n * B);
    uint64_t rng = 17;
    tu_fill(x, n * B, 0, 1, &rng);
    memcpy(c.net->input, x, sizeof(float) * n * B);
    dk_forward(c.net);
    det_detection *d;
    int nd = det_decode(c.net, 1, 0.05f, 0, &d);
    int heads[2] = {7, 12}, picked[2] = {-1, -1};
    for (int k = 0; k < nd; k++)
        for (int h = 0; h < 2; h++)
            if (picked[h] < 0 && d[k].layer == heads[h]) picked[h] = k;
    ck_assert_msg(picked[0] >= 0 && picked[1] >= 0, "no detection on one of the heads");
    tu_fd_opts o = {1e-2, 3, 1, 1e-6, 2e-3, 2e-2, 0.05};
    static const det_kind kinds[] = {DET_SCORE, DET_OBJECTNESS, DET_CLASS, DET_BOX};
    for (int h = 0; h < 2; h++)
        for (int q = 0; q < 4; q++) {
            c.t.d = d[picked[h]];
            c.t.kind = kinds[q];
            c.t.match = 0;
            int cls[2] = {0, 0};
            float z[2];
            ck_assert_int_eq(eng_logit_grad(c.e, x, B, cls, g, z, NULL), 0);
            memcpy(c.net->input, x, sizeof(float) * n * B);
            ck_assert_double_eq_tol(z[1], score_sum(&c) - det_score(&c.t, c.net, 0, NULL), 1e-6);
            double amax = 0;
            for (int i = 0; i < n * B; i++) amax = fmax(amax, fabs(g[i]));
            ck_assert_msg(amax > 0, "head %d kind %d: zero gradient", heads[h], q);
            tu_fd_stats st = tu_fd_check("detection score", score_sum, &c, c.net->input, n * B, g, NULL, 0, 7, o);
            ck_assert_msg(st.failed == 0 && st.checked > 80, "head %d kind %d: %d of %d differ (%d kinks)", heads[h], q,
                          st.failed, st.checked, st.skipped);
        }
    free(d);
    free(x);
    free(g);
    det_case_free(&c);
}
END_TEST

// D-RISE's match: on the unperturbed image the target's own proposal is its best match
// (IoU 1 x objectness x cos); the similarity is at most the target's when only it overlaps
START_TEST(match_score_finds_the_target_again)
{
    det_case c;
    det_case_init(&c, 7);
    int n = c.net->inputs, B = c.net->batch;
    uint64_t rng = 23;
    tu_fill(c.net->input, n * B, 0, 1, &rng);
    dk_forward(c.net);
    det_detection *d;
    int nd = det_decode(c.net, 0, 0.2f, 0.45f, &d);
    ck_assert(nd > 0);
    c.t.d = d[0];
    c.t.match = 1;
    float s = det_score(&c.t, c.net, 0, NULL);
    const layer *l = &c.net->layers[d[0].layer];
    int loc = d[0].j * l->w + d[0].i, wh = l->w * l->h;
    const float *p = l->output + (size_t)d[0].anchor * wh * (5 + l->classes);
    double ss = 0;
    for (int m = 0; m < l->classes; m++) ss += p[(5 + m) * wh + loc] * p[(5 + m) * wh + loc];
    float own = d[0].obj * p[(5 + d[0].cls) * wh + loc] / (float)sqrt(ss);
    ck_assert_msg(s >= own - 1e-6f, "match %g below the target's own similarity %g", s, own);
    ck_assert(s <= 1.0f);
    // a box nowhere near any proposal: no match
    c.t.d.box = (det_box){5, 5, 0.01f, 0.01f};
    ck_assert_float_eq(det_score(&c.t, c.net, 0, NULL), 0);
    free(d);
    det_case_free(&c);
}
END_TEST

START_TEST(iou_and_letterbox_by_hand)
{
    det_box a = {0.5f, 0.5f, 0.4f, 0.4f}, b = {0.7f, 0.5f, 0.4f, 0.4f};
    // overlap 0.2 x 0.4 = 0.08; union 0.16 + 0.16 - 0.08 = 0.24
    ck_assert_double_eq_tol(det_iou(a, b), 0.08 / 0.24, 1e-6);
    ck_assert_double_eq_tol(det_iou(a, a), 1, 1e-6);
    ck_assert_float_eq(det_iou(a, (det_box){0.9f, 0.9f, 0.1f, 0.1f}), 0);
    // a 200x100 image letterboxed into 100x100: 100x50, centred (rows 25..75)
    det_box r = det_unletterbox((det_box){0.5f, 0.25f, 0.2f, 0.1f}, 200, 100, 100, 100);
    ck_assert_double_eq_tol(r.x, 0.5, 1e-6);
    ck_assert_double_eq_tol(r.y, 0.0, 1e-6);
    ck_assert_double_eq_tol(r.w, 0.2, 1e-6);
    ck_assert_double_eq_tol(r.h, 0.2, 1e-6);
    det_kind k;
    ck_assert_int_eq(det_kind_parse("objectness", &k), 0);
    ck_assert_int_eq(k, DET_OBJECTNESS);
    ck_assert_int_eq(det_kind_parse("prob", &k), -1);
}
END_TEST

START_TEST(refusals_name_the_layer)
{
    char err[512];
    // a classifier is not a detector
    network *net = tu_net(tu_testnet("conv"));
    det_target t;
    memset(&t, 0, sizeof t);
    ck_assert(eng_init_scored(net, det_score, &t, err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "[softmax]"), "%s", err);
    dk_free(net);
    // a layer without a rule ([reorg], YOLOv2's passthrough) is named
    net = tu_net("[net]\nbatch=1\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
                 "[reorg]\nstride=2\n[convolutional]\nfilters=21\nsize=1\nactivation=linear\n"
                 "[yolo]\nmask=0,1,2\nanchors=1,1, 2,2, 3,3\nclasses=2\nnum=3\n");
    ck_assert(eng_init_scored(net, det_score, &t, err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "layer 1 (reorg)"), "%s", err);
    dk_free(net);
    // a [yolo] below a softmax: no second-order rule for it
    net = tu_net("[net]\nbatch=1\nwidth=4\nheight=4\nchannels=3\n[convolutional]\nfilters=7\nsize=1\nactivation=linear\n"
                 "[yolo]\nmask=0\nanchors=1,1\nclasses=2\nnum=1\n[connected]\noutput=3\nactivation=linear\n[softmax]\n");
    ck_assert(eng_init(net, err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "layer 1 [yolo]"), "%s", err);
    dk_free(net);
    // the scored engine offers no regularized training
    det_case c;
    det_case_init(&c, 1);
    eng_reg_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    ck_assert_int_eq(eng_reg_step(c.e, &cfg, NULL, NULL, NULL, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "classifier"), "%s", err);
    det_case_free(&c);
}
END_TEST


// VOC AP by hand: class 0 has two truths, a detection on an image without that class, a duplicate
// and a miss; class 1 one truth found. Recall at 0.65 misses the 0.6 detection.
START_TEST(average_precision_by_hand)
{
    det_box A = {0.3f, 0.3f, 0.2f, 0.2f}, B = {0.7f, 0.7f, 0.2f, 0.2f}, C = {0.5f, 0.5f, 0.3f, 0.3f}, far = {0.1f, 0.9f, 0.1f, 0.1f};
    det_truth t[3] = {{0, 0, A}, {0, 0, B}, {1, 1, C}};
    det_scored d[6] = {{0, 0, 0.9f, A}, {0, 0, 0.8f, far}, {0, 0, 0.7f, B}, {1, 1, 0.6f, C}, {1, 0, 0.95f, C}, {0, 0, 0.85f, A}};
    double ap[3];
    det_quality q = det_evaluate(d, 6, t, 3, 3, 0.5f, 0.65f, ap);
    // class 0: FP TP FP FP TP -> precision 0 .5 .33 .25 .4 at recall 0 .5 .5 .5 1: AP .5*.5 + .5*.4
    ck_assert_double_eq_tol(ap[0], 0.45, 1e-9);
    ck_assert_double_eq_tol(ap[1], 1.0, 1e-9);
    ck_assert_double_eq_tol(ap[2], -1, 1e-9);
    ck_assert_double_eq_tol(q.map, 0.725, 1e-9);
    ck_assert_int_eq(q.classes_seen, 2);
    ck_assert_double_eq_tol(q.recall, 2.0 / 3, 1e-9);
}
END_TEST

// Fashion-MNIST's idx layout with n synthetic 28x28 "garments" (a filled ellipse, labels 0..9 in turn)
// in dir/<base>-images-idx3-ubyte and -labels-idx1-ubyte: the scenes need no installed data set
static void write_idx_set(const char *dir, const char *base, int n, uint64_t seed)
{
    char path[1200];
    unsigned char hdr[16];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, base);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "%s", path);
    unsigned v[4] = {2051, (unsigned)n, 28, 28};
    for (int k = 0; k < 4; k++) for (int b = 0; b < 4; b++) hdr[4 * k + b] = (unsigned char)(v[k] >> (24 - 8 * b));
    fwrite(hdr, 1, 16, f);
    for (int i = 0; i < n; i++) {
        float ry = 5 + 8 * tu_uniform(&seed), rx = 4 + 8 * tu_uniform(&seed);
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) {
                float dy = (y - 13.5f) / ry, dx = (x - 13.5f) / rx;
                fputc(dy * dy + dx * dx <= 1 ? 120 + (int)(100 * tu_uniform(&seed)) : 0, f);
            }
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, base);
    f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "%s", path);
    unsigned w[2] = {2049, (unsigned)n};
    for (int k = 0; k < 2; k++) for (int b = 0; b < 4; b++) hdr[4 * k + b] = (unsigned char)(w[k] >> (24 - 8 * b));
    fwrite(hdr, 1, 8, f);
    for (int i = 0; i < n; i++) fputc(i % 10, f);
    fclose(f);
}

// every `from` in text (n bytes) replaced by `to`
static void replace_all(char *text, size_t n, const char *from, const char *to)
{
    size_t lf = strlen(from), lt = strlen(to);
    for (char *p = strstr(text, from); p; p = strstr(p + lt, from)) {
        ck_assert(strlen(text) + lt - lf < n);
        memmove(p + lt, p + lf, strlen(p + lf) + 1);
        memcpy(p, to, lt);
    }
}

// darknet's own YOLOv3 cfgs (the tree being built) small (96x96, the big ones 64x64), random weights: every layer has a
// rule, and a box of each head is explained as darknet's own backward explains it. The oracle is
// darknet's backward_network seeded at the head (its [yolo] backward passes the delta on as it is,
// so the seed is taken through the logistic here), with batch norm left out of the cfg: darknet's
// batch-norm backward is the training-mode one even in inference mode (tests/check_engine.c checks
// the engine's inference-mode rule by central differences). Central differences cannot be the
// oracle here: at float32 these deep random nets are too rough (kinks below 1e-3, rounding above).
#ifndef ZOO_CFG_DIR
#define ZOO_CFG_DIR "build/darknet/cfg"
#endif

static void yolo_cfg_case(const char *name, int size)
{
    char src[1024], text[200000];
    snprintf(src, sizeof src, "%s/%s", ZOO_CFG_DIR, name);
    FILE *f = fopen(src, "r");
    ck_assert_msg(f != NULL, "cannot read %s", src);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    // [net] at batch 1, 96x96 (the first width/height/batch/subdivisions lines are [net]'s)
    char side[16];
    snprintf(side, sizeof side, "%d", size);
    const char *keys[] = {"\nwidth=", "\nheight=", "\nbatch=", "\nsubdivisions="}, *vals[] = {side, side, "1", "1"};
    for (int k = 0; k < 4; k++) {
        char *p = strstr(text, keys[k]);
        ck_assert_msg(p != NULL, "%s: no %s", name, keys[k] + 1);
        p += strlen(keys[k]);
        char *e = p + strcspn(p, "\n");
        memmove(p + strlen(vals[k]), e, strlen(e) + 1);
        memcpy(p, vals[k], strlen(vals[k]));
    }
    replace_all(text, sizeof text, "batch_normalize=1", "batch_normalize=0");
    network *net = tu_net(text);
    ck_assert_int_eq(net->w, size);
    tu_randomize(net, 11);
    det_target t;
    memset(&t, 0, sizeof t);
    char err[512];
    eng *e = eng_init_scored(net, det_score, &t, err, sizeof err);
    ck_assert_msg(e != NULL, "%s: %s", name, err);
    int in = net->inputs;
    ck_assert_msg(det_heads(net, NULL) >= 2, "%s: %d heads", name, det_heads(net, NULL));
    float *x = malloc(sizeof(float) * in), *g = malloc(sizeof(float) * in), *dk = calloc(in, sizeof(float));
    uint64_t rng = 3;
    tu_fill(x, in, 0, 1, &rng);
    memcpy(net->input, x, sizeof(float) * in);
    net->train = 0;
    dk_forward(net);
    det_detection *d;
    int nd = det_decode(net, 0, 0.01f, 0, &d);
    int checked = 0;
    char *seen = calloc(net->n, 1);
    for (int k = 0; k < nd; k++) {
        if (seen[d[k].layer]) continue;   // the first (best) box of each head
        seen[d[k].layer] = 1;
        t.d = d[k];
        int cls = 0;
        ck_assert_int_eq(eng_logit_grad(e, x, 1, &cls, g, NULL, NULL), 0);
        // darknet: the same forward, every delta zero, the head's seed through its logistic, backward
        memcpy(net->input, x, sizeof(float) * in);
        dk_forward(net);
        for (int j = 0; j < net->n; j++)
            if (net->layers[j].delta) memset(net->layers[j].delta, 0, sizeof(float) * net->layers[j].outputs * net->layers[j].batch);
        layer *hl = &net->layers[d[k].layer];
        float **adj = calloc(net->n, sizeof(float *));
        adj[d[k].layer] = hl->delta;
        det_score(&t, net, 0, adj);   // ds/d(head output) into its delta
        int wh = hl->w * hl->h;
        for (int i = 0; i < hl->outputs; i++) {
            int entry = (i % (wh * (5 + hl->classes))) / wh;
            float o = hl->output[i];
            if (entry != 2 && entry != 3) hl->delta[i] *= o * (1 - o);
        }
        free(adj);
        memset(dk, 0, sizeof(float) * in);
        float *saved = net->delta;
        net->delta = dk;
        dk_backward(net);
        net->delta = saved;
        double top = 0, diff = 0;
        for (int i = 0; i < in; i++) { top = fmax(top, fabs(dk[i])); diff = fmax(diff, fabs(dk[i] - g[i])); }
        ck_assert_msg(top > 0, "%s head %d: darknet's backward gives a zero map", name, d[k].layer);
        ck_assert_msg(diff <= 1e-4 * top, "%s head %d: the engine's map differs from darknet's backward by %g (max %g)", name,
                      d[k].layer, diff, top);
        checked++;
    }
    ck_assert_msg(checked >= 2, "%s: boxes on %d heads", name, checked);
    free(seen); free(d); free(x); free(g); free(dk);
    eng_free(e);
    dk_free(net);
}

START_TEST(darknet_yolov3_cfgs_explain_their_boxes)
{
    yolo_cfg_case("yolov3-tiny.cfg", 96);
    yolo_cfg_case("yolov3.cfg", 64);
    yolo_cfg_case("yolov3-spp.cfg", 64);
}
END_TEST

// Grad-CAM of a box's objectness on a linear head: features A (4 x 4 x 4) -> a 1x1 linear prediction
// convolution -> [yolo]. s = sigmoid(z), z = sum_k W[obj][k] A_k(cell) + b, so alpha_k = s(1 - s)
// W[obj][k] / (h w) and the map is ReLU(sum_k alpha_k A_k) upsampled: computed here from the weights
START_TEST(gradcam_closed_form_on_a_linear_head)
{
    static const char *cfg =
        "[net]\nbatch=1\nwidth=8\nheight=8\nchannels=3\n"
        "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
        "[maxpool]\nsize=2\nstride=2\n"
        "[convolutional]\nfilters=21\nsize=1\nactivation=linear\n"
        "[yolo]\nmask=0,1,2\nanchors=2,3, 4,5, 6,4\nclasses=2\nnum=3\n";
    network *net = tu_net(cfg);
    tu_randomize(net, 21);
    det_target t;
    memset(&t, 0, sizeof t);
    char err[512];
    eng *e = eng_init_scored(net, det_score, &t, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    ck_assert_int_eq(det_cam_layer(net, 3), 1);   // the features the prediction convolution reads
    int n = net->inputs, hw = 16;
    float *x = malloc(sizeof(float) * n), *map = malloc(sizeof(float) * n), *want = malloc(sizeof(float) * n);
    uint64_t rng = 8;
    tu_fill(x, n, 0, 1, &rng);
    mth_opts o;
    mth_defaults(&o);
    o.layer = 1;
    int positive = 0, clipped = 0;
    for (int a = 0; a < 3; a++)
        for (int cell = 0; cell < hw; cell += 5) {
            t.d.layer = 3; t.d.anchor = a; t.d.i = cell % 4; t.d.j = cell / 4; t.d.cls = 0;
            t.kind = DET_OBJECTNESS;
            mth_info info = {"", 0};
            ck_assert_int_eq(mth_gradcam(e, x, 0, &o, map, &info, err, sizeof err), 0);
            // the closed form from the forward gradcam made
            const layer *A = &net->layers[1], *P = &net->layers[2], *Y = &net->layers[3];
            float s = Y->output[(size_t)a * hw * 7 + 4 * hw + cell];
            float cam[16];
            for (int p = 0; p < hw; p++) {
                double v = 0;
                for (int k = 0; k < 4; k++) v += s * (1 - s) * P->weights[(a * 7 + 4) * 4 + k] / hw * A->output[k * hw + p];
                cam[p] = v > 0 ? (float)v : 0;
                positive += v > 0;
                clipped += v < 0;
            }
            cam_bilinear(cam, 4, 4, want, 8, 8);
            for (int c = 1; c < 3; c++) memcpy(want + c * 64, want, sizeof(float) * 64);
            double top = cam_maxabs(want, n), d = cam_maxdiff(map, want, n);
            ck_assert_msg(d <= 1e-5 * top + 1e-9, "anchor %d cell %d: |gradcam - closed form| %g (max %g)", a, cell, d, top);
        }
    ck_assert_msg(positive > 10 && clipped > 10, "%d positive, %d clipped", positive, clipped);
    free(x); free(map); free(want);
    eng_free(e);
    dk_free(net);
}
END_TEST

// ---- the binary: saliency detector map --------------------------------------------------------

static char P_CFG[1024], P_W[1024], P_DATA[1024], P_IMG[1100], P_CLS[1024];

// the tiny YOLO with random weights, a 24x18 image (letterboxed into 16x16), two class names
static void cli_files(void)
{
    if (P_CFG[0]) return;
    tu_path(P_CFG, sizeof P_CFG, "det.cfg");
    tu_path(P_W, sizeof P_W, "det.weights");
    tu_path(P_DATA, sizeof P_DATA, "det.data");
    tu_path(P_CLS, sizeof P_CLS, "cls.cfg");
    char names[1024], text[2048];
    tu_path(names, sizeof names, "det.names");
    tu_write_text(P_CFG, YOLO_NET);
    tu_write_text(P_CLS, tu_testnet("conv"));
    tu_write_text(names, "shirt\nshoe\n");
    snprintf(text, sizeof text, "classes=2\nnames=%s\n", names);
    tu_write_text(P_DATA, text);
    network *net = tu_net(YOLO_NET);
    tu_randomize(net, 3);
    dk_save_weights(net, P_W);
    dk_free(net);
    image im = make_image(24, 18, 3);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 18; y++)
            for (int x = 0; x < 24; x++) im.data[(c * 18 + y) * 24 + x] = 0.5f + 0.4f * sinf(0.5f * x + c) * cosf(0.4f * y);
    char prefix[1024];
    tu_path(prefix, sizeof prefix, "det_img");
    save_image_options(im, prefix, PNG, 0);
    snprintf(P_IMG, sizeof P_IMG, "%s.png", prefix);
    free_image(im);
}

// the raw map of box 0 equals the engine's gradient of the same box in-process, and the printed
// box is darknet's own (get_network_boxes for the image's size, letterbox corrected)
START_TEST(cli_map_is_the_engine_gradient_of_the_box)
{
    cli_files();
    char out[16384], raw[1024], prefix[1024], args[8192];
    tu_path(raw, sizeof raw, "det_box0.raw");
    tu_path(prefix, sizeof prefix, "det_out");
    snprintf(args, sizeof args, "detector map %s %s %s %s -thresh 0.3 -box 0 -out %s -raw %s", P_DATA, P_CFG, P_W, P_IMG, prefix, raw);
    ck_assert_msg(tu_saliency(NULL, args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "explained: box 0 "), "%s", out);
    // in-process: the same image, net, box
    network *net = tu_net(YOLO_NET);
    load_weights(net, P_W);
    set_batch_network(net, 1);
    image im = load_image_color(P_IMG, 0, 0), sized = letterbox_image(im, net->w, net->h);
    ck_assert_int_eq(im.w, 24);
    memcpy(net->input, sized.data, sizeof(float) * net->inputs);
    net->train = 0;
    dk_forward(net);
    det_detection *d;
    int nd = det_decode(net, 0, 0.3f, 0.45f, &d);
    ck_assert(nd > 0);
    int ndk = 0;
    detection *dets = get_network_boxes(net, im.w, im.h, 0.3f, 0.5f, 0, 1, &ndk);
    do_nms_sort(dets, ndk, 2, 0.45f);
    int seen = 0;
    for (int i = 0; i < ndk; i++)
        if (dets[i].prob[d[0].cls] > 0 && fabsf(dets[i].prob[d[0].cls] - d[0].prob) < 1e-6f) {
            char line[256];
            snprintf(line, sizeof line, "box 0 %s %.6f %.6f %.6f %.6f %.6f", d[0].cls ? "shoe" : "shirt", d[0].prob, dets[i].bbox.x,
                     dets[i].bbox.y, dets[i].bbox.w, dets[i].bbox.h);
            ck_assert_msg(strstr(out, line), "want '%s' in\n%s", line, out);
            seen = 1;
        }
    ck_assert(seen);
    det_target t;
    memset(&t, 0, sizeof t);
    t.d = d[0];
    char err[512];
    eng *e = eng_init_scored(net, det_score, &t, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    int n = net->inputs, cls = 0;
    float *g = malloc(sizeof(float) * n), *r = malloc(sizeof(float) * n);
    ck_assert_int_eq(eng_logit_grad(e, sized.data, 1, &cls, g, NULL, NULL), 0);
    FILE *f = fopen(raw, "rb");
    ck_assert(f != NULL);
    ck_assert_int_eq(fread(r, sizeof(float), n, f), n);
    ck_assert_int_eq(fgetc(f), EOF);
    fclose(f);
    double top = 0, diff = 0;
    for (int i = 0; i < n; i++) { top = fmax(top, fabs(g[i])); diff = fmax(diff, fabs(g[i] - r[i])); }
    ck_assert_msg(top > 0 && diff <= 1e-5 * top, "raw map differs from the engine's gradient by %g (max %g)", diff, top);
    char png[1200];
    snprintf(png, sizeof png, "%s_box0_overlay.png", prefix);
    ck_assert(access(png, R_OK) == 0);
    free(g); free(r); free(d);
    free_detections(dets, ndk);
    free_image(im); free_image(sized);
    eng_free(e);
    dk_free(net);
}
END_TEST

// every method runs on a box (the perturbing ones on the best match), a heat map per box
START_TEST(cli_every_method_runs)
{
    cli_files();
    static const char *methods[] = {"gradxinput", "integrated -steps 4", "smoothgrad -samples 3", "gradcam", "drise -masks 64",
                                    "occlusion -window 4 -stride 4", "igos -iterations 2 -points 3"};
    for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
        char out[16384], prefix[1024], args[8192], png[1200];
        snprintf(prefix, sizeof prefix, "%s/detm%zu", tu_tmpdir(), k);
        snprintf(args, sizeof args, "detector map %s %s %s %s -thresh 0.3 -box 1 -out %s -method %s", P_DATA, P_CFG, P_W, P_IMG,
                 prefix, methods[k]);
        ck_assert_msg(tu_saliency(NULL, args, out, sizeof out) == 0, "%s: %s", methods[k], out);
        ck_assert_msg(strstr(out, "explained: box 1 "), "%s: %s", methods[k], out);
        snprintf(png, sizeof png, "%s_box1_heat.png", prefix);
        ck_assert_msg(access(png, R_OK) == 0, "%s: no %s", methods[k], png);
    }
}
END_TEST

START_TEST(cli_bad_input_names_it)
{
    cli_files();
    char out[16384], args[8192];
    snprintf(args, sizeof args, "detector map %s %s %s %s -thresh 0.3 -box 999", P_DATA, P_CFG, P_W, P_IMG);
    ck_assert_int_eq(tu_saliency(NULL, args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "-box 999"), "%s", out);
    snprintf(args, sizeof args, "detector map %s %s %s %s -score area", P_DATA, P_CFG, P_W, P_IMG);
    ck_assert_int_eq(tu_saliency(NULL, args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "-score area") && strstr(out, "objectness"), "%s", out);
    snprintf(args, sizeof args, "detector map %s %s \"\" %s", P_DATA, P_CLS, P_IMG);
    ck_assert_int_eq(tu_saliency(NULL, args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "no [yolo] layer"), "%s", out);
    snprintf(args, sizeof args, "detector map %s %s %s %s -raw %s/x.raw", P_DATA, P_CFG, P_W, P_IMG, tu_tmpdir());
    ck_assert_int_eq(tu_saliency(NULL, args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "-box K"), "%s", out);
    snprintf(args, sizeof args, "detector fly %s", P_DATA);
    ck_assert_int_eq(tu_saliency(NULL, args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "unknown verb 'fly'"), "%s", out);
}
END_TEST

// detector insdel: the box's curves for a method beside random and center, one image and a list
START_TEST(cli_insdel_scores_boxes)
{
    cli_files();
    char out[16384], args[8192], csv[1024], lst[1024], img2[1100];
    tu_path(csv, sizeof csv, "det_insdel.csv");
    snprintf(args, sizeof args, "detector insdel %s %s %s %s -thresh 0.3 -box 0 -method vanilla,drisk -csv %s", P_DATA, P_CFG,
             P_W, P_IMG, csv);
    ck_assert_int_eq(tu_saliency(NULL, args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "-method vanilla,drisk"), "%s", out);
    // a detector's rise is D-RISE, by either name
    snprintf(args, sizeof args, "detector insdel %s %s %s %s -thresh 0.3 -box 0 -method vanilla,drise -masks 64 -csv %s", P_DATA, P_CFG,
             P_W, P_IMG, csv);
    ck_assert_msg(tu_saliency(NULL, args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "box 0 ") && strstr(out, "explained: box 0 "), "%s", out);
    ck_assert_msg(strstr(out, "1 boxes (0 images without one)"), "%s", out);
    const char *names[] = {"vanilla", "drise", "random", "center"};
    for (int k = 0; k < 4; k++) {
        char want[64];
        snprintf(want, sizeof want, "\n%s deletion ", names[k]);
        const char *at = strstr(out, want);
        ck_assert_msg(at, "no line for %s in\n%s", names[k], out);
        double del = -1, ins = -1;
        ck_assert_int_eq(sscanf(strstr(at, "deletion"), "deletion %lf insertion %lf", &del, &ins), 2);
        ck_assert_msg(del >= 0 && del <= 1 && ins >= 0 && ins <= 1, "%s: %g %g", names[k], del, ins);
    }
    FILE *f = fopen(csv, "r");
    ck_assert(f != NULL);
    char line[4096];
    int rows = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "det_img.png#0,")) rows++;
    fclose(f);
    ck_assert_int_eq(rows, 4);
    // a list: the image twice (a copy), every box of each
    tu_path(img2, sizeof img2, "det_img2.png");
    snprintf(args, sizeof args, "cp %s %s", P_IMG, img2);
    ck_assert_int_eq(system(args), 0);
    tu_path(lst, sizeof lst, "det.list");
    snprintf(line, sizeof line, "%s\n%s\n", P_IMG, img2);
    tu_write_text(lst, line);
    snprintf(args, sizeof args, "detector insdel %s %s %s %s -thresh 0.3 -method gradxinput", P_DATA, P_CFG, P_W, lst);
    ck_assert_msg(tu_saliency(NULL, args, out, sizeof out) == 0, "%s", out);
    int nbox = -1;
    const char *b = strstr(out, "boxes (");
    ck_assert_msg(b, "%s", out);
    while (b > out && b[-1] != ' ') b--;
    while (b > out && b[-1] == ' ') b--;
    while (b > out && b[-1] >= '0' && b[-1] <= '9') b--;
    ck_assert_int_eq(sscanf(b, "%d boxes", &nbox), 1);
    ck_assert_msg(nbox >= 2 && nbox % 2 == 0, "%d boxes for two copies of one image:\n%s", nbox, out);
    snprintf(args, sizeof args, "detector insdel %s %s %s %s -thresh 0.999999", P_DATA, P_CFG, P_W, P_IMG);
    ck_assert_int_eq(tu_saliency(NULL, args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "no box above -thresh"), "%s", out);
}
END_TEST

// detector eval and point on a few real scenes (prepare fashion-scenes, 32x32) with the tiny YOLO
// made for 10 classes at 32x32 (random weights: the numbers are only checked for form and range)
START_TEST(cli_eval_and_point_on_scenes)
{
    char dir[1024], cmd[8192], out[32768], cfg[1024], w[1024], data[1100];
    char src[1024];
    tu_path(dir, sizeof dir, "scenes");
    tu_path(src, sizeof src, "scenes-src");
    mkdir(src, 0755);
    write_idx_set(src, "train", 20, 5);
    write_idx_set(src, "t10k", 20, 6);
    snprintf(cmd, sizeof cmd, "prepare fashion-scenes %s -n 4 -test 6 -size 32 -src %s", dir, src);
    ck_assert_msg(tu_saliency(NULL, cmd, out, sizeof out) == 0, "%s", out);
    snprintf(data, sizeof data, "%s/scenes.data", dir);
    // the tiny YOLO for 10 classes and 32x32
    char text[4096];
    snprintf(text, sizeof text, "%s", YOLO_NET);
    replace_all(text, sizeof text, "classes=2\n", "classes=10\n");
    replace_all(text, sizeof text, "filters=21\n", "filters=45\n");   // 3 anchors x (5 + 10)
    replace_all(text, sizeof text, "width=16\nheight=16", "width=32\nheight=32");
    tu_path(cfg, sizeof cfg, "scenes-yolo.cfg");
    tu_path(w, sizeof w, "scenes-yolo.weights");
    tu_write_text(cfg, text);
    network *net = tu_net(text);
    ck_assert_int_eq(net->w, 32);
    ck_assert_int_eq(net->layers[net->n - 1].classes, 10);
    tu_randomize(net, 5);
    dk_save_weights(net, w);
    dk_free(net);
    snprintf(cmd, sizeof cmd, "detector eval %s %s %s", data, cfg, w);
    ck_assert_msg(tu_saliency(NULL, cmd, out, sizeof out) == 0, "%s", out);
    // every truth of the label files is counted
    int truths = 0;
    for (int i = 0; i < 6; i++) {
        char lst[1100], line[4096];
        snprintf(lst, sizeof lst, "%s/test.list", dir);
        FILE *f = fopen(lst, "r");
        for (int k = 0; k <= i && fgets(line, sizeof line, f); k++) {}
        fclose(f);
        line[strcspn(line, "\n")] = 0;
        char *dot = strrchr(line, '.');
        strcpy(dot, ".txt");
        f = fopen(line, "r");
        ck_assert_msg(f != NULL, "%s", line);
        while (fgets(text, sizeof text, f)) truths++;
        fclose(f);
    }
    char want[128];
    snprintf(want, sizeof want, "detector eval: 6 images, %d truths, ", truths);
    ck_assert_msg(strstr(out, want), "want '%s' in\n%s", want, out);
    double map = -1, rec = -1;
    const char *m = strstr(out, "mAP@0.50 ");
    ck_assert_msg(m && sscanf(m, "mAP@0.50 %lf, recall %lf", &map, &rec) == 2, "%s", out);
    ck_assert_msg(map >= 0 && map <= 1 && rec >= 0 && rec <= 1, "%s", out);
    // point: every found object scored by each map, or no object found (random weights)
    snprintf(cmd, sizeof cmd, "detector point %s %s %s -thresh 0.05 -iou 0.3 -method vanilla,gradcam", data, cfg, w);
    int rc = tu_saliency(NULL, cmd, out, sizeof out);
    if (rc == 0) {
        const char *names[] = {"vanilla", "gradcam", "random", "center"};
        for (int k = 0; k < 4; k++) {
            snprintf(want, sizeof want, "\n%s iou ", names[k]);
            const char *at = strstr(out, want);
            double iou = -1, f1 = -1, ciou = -1, auc = -1, pt = -1;
            ck_assert_msg(at && sscanf(at + strlen(want), "%lf f1 %lf ciou %lf auc %lf pointing %lf", &iou, &f1, &ciou, &auc, &pt) == 5,
                          "%s: %s", names[k], out);
            ck_assert(iou >= 0 && iou <= 1 && f1 >= 0 && f1 <= 1 && ciou >= 0 && ciou <= 1 && auc >= 0 && auc <= 1 && pt >= 0 && pt <= 1);
        }
    } else {
        ck_assert_msg(rc == 1 && strstr(out, "found none"), "%s", out);
    }
    // another detector's classes: named
    cli_files();
    snprintf(cmd, sizeof cmd, "detector point %s %s %s", data, P_CFG, P_W);
    ck_assert_int_eq(tu_saliency(NULL, cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "names 10 classes") || strstr(out, "network's size"), "%s", out);
}
END_TEST

#endif   // DK_FORK_AB

// AlexeyAB's [yolo] (scale_x_y, new_coords, its own logistic) has no rule: a detector is refused by name
START_TEST(scored_engine_on_this_fork)
{
    network *net = tu_net("[net]\nbatch=1\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=7\nsize=1\nactivation=linear\n"
                          "[yolo]\nmask=0\nanchors=1,1\nclasses=2\nnum=1\n");
    det_target t;
    memset(&t, 0, sizeof t);
    char err[512] = "";
    eng *e = eng_init_scored(net, det_score, &t, err, sizeof err);
#ifdef DK_FORK_AB
    ck_assert_msg(e == NULL && strstr(err, "layer 1 (yolo)"), "%s", err);
#else
    ck_assert_msg(e != NULL, "%s", err);
    eng_free(e);
#endif
    dk_free(net);
}
END_TEST

Suite *make_detect_suite(void)
{
    Suite *s = suite_create("detect");
    TCase *tc = tcase_create("detect");
    tcase_add_test(tc, scored_engine_on_this_fork);
#ifndef DK_FORK_AB
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, decode_matches_darknet_get_network_boxes);
    tcase_add_test(tc, score_gradient_matches_central_differences);
    tcase_add_test(tc, match_score_finds_the_target_again);
    tcase_add_test(tc, iou_and_letterbox_by_hand);
    tcase_add_test(tc, refusals_name_the_layer);
    tcase_add_test(tc, average_precision_by_hand);
    tcase_add_test(tc, gradcam_closed_form_on_a_linear_head);
    tcase_add_test(tc, darknet_yolov3_cfgs_explain_their_boxes);
    suite_add_tcase(s, tc);
    TCase *cli = tcase_create("detect_cli");
    tcase_set_timeout(cli, 240);
    tcase_add_test(cli, cli_map_is_the_engine_gradient_of_the_box);
    tcase_add_test(cli, cli_every_method_runs);
    tcase_add_test(cli, cli_bad_input_names_it);
    tcase_add_test(cli, cli_insdel_scores_boxes);
    tcase_add_test(cli, cli_eval_and_point_on_scenes);
    suite_add_tcase(s, cli);
#else
    suite_add_tcase(s, tc);
#endif
    return s;
}
