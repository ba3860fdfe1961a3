// check_localize.c: the pointing game and the mask IoU (src/localize.c) by hand.
#include <check.h>

#include "localize.h"

START_TEST(pointing_game_by_hand)
{
    float heat[6] = {0.1f, 0.9f, 0.3f, 0.9f, 0.2f, 0.0f};
    unsigned char on1[6] = {0, 1, 0, 0, 0, 0}, on3[6] = {0, 0, 0, 1, 0, 0};
    ck_assert_int_eq(loc_point_hit(heat, on1, 6), 1);   // the tie goes to the lower index, 1
    ck_assert_int_eq(loc_point_hit(heat, on3, 6), 0);
}
END_TEST

START_TEST(mask_iou_by_hand)
{
    float heat[6] = {5, 4, 3, 2, 1, 0};
    unsigned char mask[6] = {1, 0, 1, 0, 0, 0}, none[6] = {0};
    // k = 2: the hottest {0, 1}; with the mask {0, 2}: 1 in common of 3
    ck_assert_double_eq_tol(loc_mask_iou(heat, mask, 6), 1.0 / 3, 1e-12);
    unsigned char top[6] = {1, 1, 0, 0, 0, 0};
    ck_assert_double_eq_tol(loc_mask_iou(heat, top, 6), 1.0, 1e-12);
    ck_assert_double_eq_tol(loc_mask_iou(heat, none, 6), 0.0, 1e-12);
}
END_TEST

Suite *make_localize_suite(void)
{
    Suite *s = suite_create("localize");
    TCase *tc = tcase_create("localize");
    tcase_add_test(tc, pointing_game_by_hand);
    tcase_add_test(tc, mask_iou_by_hand);
    suite_add_tcase(s, tc);
    return s;
}
