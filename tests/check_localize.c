// check_localize.c: maps against ground-truth masks (src/localize.h): every score of a small case
// by hand, the AUC against the all-pairs oracle on random maps with ties, the empty-map and
// empty-mask cases, the saliency metric's floor.
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "localize.h"
#include "rng.h"

START_TEST(scores_by_hand)
{
    // 2 x 3: the object is the left column pair {0, 3}; the map peaks there and leaks into 1
    const float heat[6] = {1.0f, 0.6f, 0.0f, 0.8f, 0.2f, -0.5f};
    const unsigned char gt[6] = {1, 0, 0, 1, 0, 0};
    unsigned char bin[6];
    loc_scores s;
    ck_assert_int_eq(loc_score(heat, gt, 6, 0.5, &s, bin), 0);
    // B = {0, 1, 3} (>= 0.5): inter 2, union 3
    ck_assert(bin[0] && bin[1] && !bin[2] && bin[3] && !bin[4] && !bin[5]);
    ck_assert_double_eq_tol(s.iou, 2.0 / 3, 1e-12);
    ck_assert_double_eq_tol(s.f1, 4.0 / 5, 1e-12);
    ck_assert_double_eq_tol(s.area, 3.0 / 6, 1e-12);
    // continuous IoU: m = (1, .6, 0, .8, .2, 0); min with gt = 1 + .8, max = 1 + .6 + 0 + 1 + .2 + 0
    ck_assert_double_eq_tol(s.ciou, 1.8 / 2.8, 1e-6);
    // pointing: (1 + .8) / (1 + .6 + .8 + .2)
    ck_assert_double_eq_tol(s.pointing, 1.8 / 2.6, 1e-6);
    // AUC: positives 1, .8 against negatives .6, 0, .2, 0: every pair ranked right
    ck_assert_double_eq_tol(s.auc, 1.0, 1e-12);
    // a map that prefers the background
    const float inv[6] = {0, 1, 1, 0, 1, 1};
    ck_assert_int_eq(loc_score(inv, gt, 6, 0.5, &s, NULL), 0);
    ck_assert_double_eq_tol(s.iou, 0, 1e-12);
    ck_assert_double_eq_tol(s.auc, 0, 1e-12);
    ck_assert_double_eq_tol(s.pointing, 0, 1e-12);
}
END_TEST

START_TEST(auc_against_all_pairs)
{
    uint64_t r = 9;
    for (int t = 0; t < 20; t++) {
        int HW = 50 + t * 7;
        float *h = malloc(HW * sizeof(float));
        unsigned char *g = malloc(HW);
        g[0] = 1; g[1] = 0;
        for (int i = 0; i < HW; i++) {
            h[i] = (float)((int)(rng_uniform(&r) * 6) - 1) / 4;   // ties, and negatives (counted as 0)
            if (i > 1) g[i] = rng_uniform(&r) < 0.3;
        }
        loc_scores s;
        ck_assert_int_eq(loc_score(h, g, HW, 0.5, &s, NULL), 0);
        ck_assert_double_eq_tol(s.auc, loc_auc_naive(h, g, HW), 1e-12);
        free(h);
        free(g);
    }
}
END_TEST

START_TEST(degenerate_cases)
{
    const float zero[4] = {0, 0, 0, 0};
    const unsigned char gt[4] = {0, 1, 0, 0}, none[4] = {0}, all[4] = {1, 1, 1, 1};
    loc_scores s;
    ck_assert_int_eq(loc_score(zero, gt, 4, 0.5, &s, NULL), 0);
    ck_assert(s.iou == 0 && s.f1 == 0 && s.ciou == 0 && s.pointing == 0 && s.area == 0);
    ck_assert_double_eq_tol(s.auc, 0.5, 1e-12);
    ck_assert_int_eq(loc_score(zero, none, 4, 0.5, &s, NULL), -1);
    ck_assert_int_eq(loc_score(zero, all, 4, 0.5, &s, NULL), -1);
    // the saliency metric: area floored at 0.05, p at 1e-30
    ck_assert_double_eq_tol(loc_saliency_metric(0.01, 0.5), log(0.05) - log(0.5), 1e-12);
    ck_assert_double_eq_tol(loc_saliency_metric(0.3, 1), log(0.3), 1e-12);
    ck_assert_double_eq_tol(loc_saliency_metric(0.3, 0), log(0.3) - log(1e-30), 1e-9);
}
END_TEST

// the centre baseline: 1 at the centre, exp(-1/2) one sigma = min(H, W)/4 away, mirror-symmetric
START_TEST(center_map_is_the_centred_gaussian)
{
    enum { H = 9, W = 17 };
    float m[H * W];
    loc_center_map(m, H, W);
    ck_assert_float_eq_tol(m[4 * W + 8], 1.0f, 1e-6f);
    double sigma = H / 4.0;   // 2.25: rows 4 +- 2.25 fall between pixels; columns 8 +- 9/4 too
    ck_assert_float_eq_tol(m[4 * W + 10], (float)exp(-4.0 / (2 * sigma * sigma)), 1e-6f);
    ck_assert_float_eq_tol(m[0], (float)exp(-(16.0 + 64.0) / (2 * sigma * sigma)), 1e-6f);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            ck_assert_float_eq_tol(m[y * W + x], m[(H - 1 - y) * W + (W - 1 - x)], 1e-7f);
            ck_assert(m[y * W + x] <= m[4 * W + 8]);
        }
}
END_TEST

Suite *make_localize_suite(void)
{
    Suite *s = suite_create("localize");
    TCase *tc = tcase_create("scores");
    tcase_add_test(tc, scores_by_hand);
    tcase_add_test(tc, auc_against_all_pairs);
    tcase_add_test(tc, degenerate_cases);
    tcase_add_test(tc, center_map_is_the_centred_gaussian);
    suite_add_tcase(s, tc);
    return s;
}
