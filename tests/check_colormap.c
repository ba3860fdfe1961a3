// check_colormap.c: the heatmap picture helpers.
#include <check.h>
#include "colormap.h"

START_TEST(abs_max_takes_largest_channel_and_scales)
{
    // (C=2, H=1, W=3)
    float g[6] = {1, -4, 0.5f, -2, 1, 0};
    float out[3];
    cmap_abs_max(g, 2, 1, 3, out);
    ck_assert_float_eq_tol(out[0], 0.5f, 1e-6);
    ck_assert_float_eq_tol(out[1], 1.0f, 1e-6);
    ck_assert_float_eq_tol(out[2], 0.125f, 1e-6);
}
END_TEST

START_TEST(zero_gradient_gives_zero_map)
{
    float g[4] = {0}, out[4] = {1, 1, 1, 1};
    cmap_abs_max(g, 1, 2, 2, out);
    for (int i = 0; i < 4; i++) ck_assert_float_eq(out[i], 0);
}
END_TEST

START_TEST(jet_ends)
{
    float rgb[3];
    cmap_jet(0, rgb);
    ck_assert(rgb[2] > 0.4f && rgb[0] == 0);
    cmap_jet(1, rgb);
    ck_assert(rgb[0] > 0.4f && rgb[2] == 0);
}
END_TEST

Suite *make_colormap_suite(void)
{
    Suite *s = suite_create("colormap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, abs_max_takes_largest_channel_and_scales);
    tcase_add_test(tc, zero_gradient_gives_zero_map);
    tcase_add_test(tc, jet_ends);
    suite_add_tcase(s, tc);
    return s;
}
