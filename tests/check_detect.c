// check_detect.c: detections and their scores (src/detect.c) and the scored engine over a YOLO
// net (engine.h eng_init_scored): the decoded detections against darknet's own get_network_boxes +
// do_nms_sort; every score kind's input gradient against central differences (both heads, both
// images of the batch, a cell of the upsampled scale); the D-RISE match; IoU and the letterbox by
// hand; refusals by name.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "engine.h"
#include "detect.h"
#include "testutil.h"

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
    free_network(c->net);
}

// sum over the batch of the target's score at the net's current input (inference forward)
static double score_sum(void *p)
{
    det_case *c = p;
    forward_network(c->net);
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
    forward_network(c.net);
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
    forward_network(c.net);
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
    forward_network(c.net);
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
    free_network(net);
    // a layer without a rule ([reorg], YOLOv2's passthrough) is named
    net = tu_net("[net]\nbatch=1\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
                 "[reorg]\nstride=2\n[convolutional]\nfilters=21\nsize=1\nactivation=linear\n"
                 "[yolo]\nmask=0,1,2\nanchors=1,1, 2,2, 3,3\nclasses=2\nnum=3\n");
    ck_assert(eng_init_scored(net, det_score, &t, err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "layer 1 (reorg)"), "%s", err);
    free_network(net);
    // a [yolo] below a softmax: no second-order rule for it
    net = tu_net("[net]\nbatch=1\nwidth=4\nheight=4\nchannels=3\n[convolutional]\nfilters=7\nsize=1\nactivation=linear\n"
                 "[yolo]\nmask=0\nanchors=1,1\nclasses=2\nnum=1\n[connected]\noutput=3\nactivation=linear\n[softmax]\n");
    ck_assert(eng_init(net, err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "layer 1 [yolo]"), "%s", err);
    free_network(net);
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

Suite *make_detect_suite(void)
{
    Suite *s = suite_create("detect");
    TCase *tc = tcase_create("detect");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, decode_matches_darknet_get_network_boxes);
    tcase_add_test(tc, score_gradient_matches_central_differences);
    tcase_add_test(tc, match_score_finds_the_target_again);
    tcase_add_test(tc, iou_and_letterbox_by_hand);
    tcase_add_test(tc, refusals_name_the_layer);
    suite_add_tcase(s, tc);
    return s;
}
