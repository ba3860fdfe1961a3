// check_insdel.c: the Gaussian blurs (blur.h) against the direct 2-D convolution, the
// insertion/deletion curves (insdel.h): ranking with ties, the composed images, batching, AUC, and
// the table of AUCs (insdel_table.h): CSV rows, exact sums in any order, refusals.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blur.h"
#include "insdel.h"
#include "insdel_table.h"
#include "resample.h"
#include "testutil.h"

START_TEST(blur_separable_matches_naive)
{
    // the protocol's 11x11 sigma 5; I-GOS's 51x51 sigma 50 on an image smaller than the kernel
    const int cases[][5] = {{2, 13, 17, 11, 5}, {3, 20, 30, 51, 50}, {1, 1, 1, 11, 5}, {1, 4, 9, 3, 1}};
    for (int t = 0; t < 4; t++) {
        int c = cases[t][0], h = cases[t][1], w = cases[t][2], size = cases[t][3];
        int n = c * h * w;
        float *x = malloc(n * sizeof(float)), *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
        uint64_t rng = 3 + t;
        tu_fill(x, n, 0, 1, &rng);
        ck_assert_int_eq(blur_gauss(x, c, h, w, size, cases[t][4], a), 0);
        ck_assert_int_eq(blur_gauss_naive(x, c, h, w, size, cases[t][4], b), 0);
        for (int i = 0; i < n; i++) ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-5f, "case %d index %d: %g vs %g", t, i, a[i], b[i]);
        free(x); free(a); free(b);
    }
}
END_TEST

START_TEST(blur_weights_sum_to_one_and_pad_with_zero)
{
    int h = 25, w = 25, n = h * w;
    float *x = malloc(n * sizeof(float)), *o = malloc(n * sizeof(float));
    for (int i = 0; i < n; i++) x[i] = 0.8f;
    ck_assert_int_eq(blur_gauss(x, 1, h, w, 11, 5, o), 0);
    ck_assert_float_eq_tol(o[12 * w + 12], 0.8f, 1e-6f);   // the window inside: a constant stays
    ck_assert(o[0] < 0.5f && o[0] > 0.1f);                    // a corner sees about a quarter of it
    ck_assert_int_eq(blur_gauss(x, 1, h, w, 10, 5, o), -1);   // even sizes are refused
    ck_assert_int_eq(blur_gauss(x, 1, h, w, 11, 0, o), -1);
    free(x); free(o);
}
END_TEST

START_TEST(order_is_by_decreasing_saliency_ties_lower_index_first)
{
    const float map[8] = {0.5f, 0.9f, 0.5f, NAN, 0.9f, -1, 0.5f, 2};
    const int want[8] = {7, 1, 4, 0, 2, 6, 5, 3};
    int order[8];
    ck_assert_int_eq(insdel_order(map, 8, order), 0);
    for (int i = 0; i < 8; i++) ck_assert_int_eq(order[i], want[i]);
}
END_TEST

START_TEST(auc_of_hand_made_curves)
{
    const double down[] = {1, 0.5, 0}, flat[] = {0.7, 0.7, 0.7, 0.7}, tri[] = {0, 1, 0};
    ck_assert_double_eq_tol(insdel_auc(down, 2), 0.5, 1e-12);
    ck_assert_double_eq_tol(insdel_auc(flat, 3), 0.7, 1e-12);
    ck_assert_double_eq_tol(insdel_auc(tri, 2), 0.5, 1e-12);
    ck_assert_int_eq(insdel_steps(10, 3), 4);
    ck_assert_int_eq(insdel_steps(9, 3), 3);
}
END_TEST

// a linear "network": the score is the sum of channel 0 plus twice channel 1
typedef struct { int c, hw, calls, most; } lin_ctx;

static int lin_score(void *p, const float *img, int nb, double *s)
{
    lin_ctx *k = p;
    k->calls++;
    if (nb > k->most) k->most = nb;
    for (int b = 0; b < nb; b++) {
        s[b] = 0;
        for (int i = 0; i < k->hw; i++) s[b] += img[(size_t)b * k->c * k->hw + i] + 2.0 * img[((size_t)b * k->c + 1) * k->hw + i];
    }
    return 0;
}

START_TEST(curves_take_pixels_in_order_all_channels_together)
{
    int c = 2, hw = 10, step = 3, n = insdel_steps(hw, step);
    float x[20], zero[20] = {0}, map[10];
    for (int i = 0; i < hw; i++) { x[i] = 1; x[hw + i] = 0.5f; map[i] = (float)(i % 4); }
    int order[10];
    insdel_order(map, hw, order);
    double del[5], del1[5];
    lin_ctx k = {c, hw, 0, 0};
    ck_assert_int_eq(insdel_curve(x, zero, c, hw, order, step, 3, lin_score, &k, del), 0);
    ck_assert_int_eq(k.calls, 2);   // 5 images, at most 3 at a time
    ck_assert_int_eq(k.most, 3);
    // each pixel is worth 1 + 2 * 0.5 = 2: deleting 3, 6, 9, 10 pixels
    const double want[5] = {20, 14, 8, 2, 0};
    for (int i = 0; i <= n; i++) ck_assert_double_eq_tol(del[i], want[i], 1e-9);
    lin_ctx k1 = {c, hw, 0, 0};
    insdel_curve(x, zero, c, hw, order, step, 1, lin_score, &k1, del1);
    ck_assert_int_eq(k1.calls, n + 1);
    for (int i = 0; i <= n; i++) ck_assert_double_eq(del[i], del1[i]);   // batching changes nothing
    // insertion is the same walk the other way
    double ins[5];
    insdel_curve(zero, x, c, hw, order, step, 4, lin_score, &k1, ins);
    for (int i = 0; i <= n; i++) ck_assert_double_eq_tol(ins[i], 20 - want[i], 1e-9);
}
END_TEST

// the AUC table: 6-decimal rows (quoted when needed), exact sums in any order, duplicates and
// class changes refused naming the source, a CSV read back to the same lines
START_TEST(table_rows_sums_and_refusals)
{
    char row[256], err[512];
    ck_assert_int_eq(itab_micro(0.1234565001), 123457);
    ck_assert_int_eq(itab_micro(0.0000004), 0);
    ck_assert_int_eq(itab_micro(1), 1000000);
    int n = itab_row(row, sizeof row, "a,b\"c.png", 3, "vanilla", 123457, 1000000);
    ck_assert_str_eq(row, "\"a,b\"\"c.png\",3,vanilla,0.123457,1.000000\n");
    ck_assert_int_eq(n, (int)strlen(row));
    ck_assert_int_eq(itab_row(row, 10, "long-name.png", 0, "vanilla", 1, 2), -1);
    ck_assert_str_eq(ITAB_HEADER, "image,class,name,deletion,insertion");
    // 500 images x 2 maps in two orders: the same means, exactly
    itab *a = itab_new(), *b = itab_new();
    uint64_t rng = 5;
    long long d[1000], s[1000];
    for (int i = 0; i < 1000; i++) { d[i] = itab_micro(tu_uniform(&rng)); s[i] = itab_micro(tu_uniform(&rng)); }
    char img[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(img, sizeof img, "%d.png", i / 2);
        ck_assert_int_eq(itab_add(a, img, i / 2 % 3, i % 2 ? "random" : "vanilla", d[i], s[i], "a.csv", err, sizeof err), 0);
        int j = 999 - i;
        snprintf(img, sizeof img, "%d.png", j / 2);
        ck_assert_int_eq(itab_add(b, img, j / 2 % 3, j % 2 ? "random" : "vanilla", d[j], s[j], "b.csv", err, sizeof err), 0);
    }
    ck_assert_int_eq(itab_images(a), 500);
    ck_assert_int_eq(itab_maps(a), 2);
    ck_assert_str_eq(itab_name(a, 0), "vanilla");
    ck_assert_str_eq(itab_name(b, 0), "random");   // the order rows first came in
    ck_assert_int_eq(itab_check(a, err, sizeof err), 0);
    double da, ia, db, ib;
    itab_mean(a, 0, &da, &ia);
    itab_mean(b, 1, &db, &ib);
    ck_assert(da == db && ia == ib);
    long long want = 0;
    for (int i = 0; i < 1000; i += 2) want += d[i];
    ck_assert_double_eq_tol(da, (double)want / 1e6 / 500, 1e-15);
    char la[128], lb[128];
    itab_line(a, 1, la, sizeof la);
    itab_line(b, 0, lb, sizeof lb);
    ck_assert_str_eq(la, lb);
    ck_assert(!strncmp(la, "random deletion 0.", 18) && strstr(la, " insertion 0."));
    // refusals
    ck_assert_int_eq(itab_add(a, "7.png", 7 % 3, "vanilla", 1, 1, "c.csv", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "c.csv: a second row of image '7.png' and map 'vanilla' (the first is in a.csv)"), "%s", err);
    ck_assert_int_eq(itab_add(a, "7.png", 2, "center", 1, 1, "c.csv", err, sizeof err), -1);
    ck_assert_msg(strstr(err, "c.csv: image '7.png' has class 2, but class"), "%s", err);
    ck_assert_int_eq(itab_add(a, "new.png", 0, "vanilla", 1, 1, "c.csv", err, sizeof err), 0);
    ck_assert_int_eq(itab_check(a, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "map 'random' has 500 rows for 501 images: image 'new.png' (c.csv) has none"), "%s", err);
    itab_free(a);
    itab_free(b);
    // a CSV read back: quoted names, blank lines, CRLF
    char path[512];
    tu_path(path, sizeof path, "table.csv");
    tu_write_text(path, "image,class,name,deletion,insertion\r\n\"x,1.png\",0,vanilla,0.5,0.25\r\n\n"
                        "y.png,1,vanilla,0.000001,1.000000\n");
    itab *t = itab_new();
    ck_assert_msg(itab_read(t, path, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(itab_images(t), 2);
    itab_line(t, 0, la, sizeof la);
    ck_assert_str_eq(la, "vanilla deletion 0.2500 insertion 0.6250");
    itab_free(t);
    const char *bad[] = {"image,class,name,deletion,insertion\nx.png,0,vanilla,0.5\n",
                         "image,class,name,deletion,insertion\nx.png,-1,vanilla,0.5,0.5\n",
                         "image,class,name,deletion,insertion\nx.png,0,vanilla,nan,0.5\n",
                         "image,class,name,deletion,insertion\n\"x.png,0,vanilla,0.5,0.5\n"};
    for (int i = 0; i < 4; i++) {
        tu_write_text(path, bad[i]);
        t = itab_new();
        ck_assert_int_eq(itab_read(t, path, err, sizeof err), -1);
        ck_assert_msg(strstr(err, "table.csv' line 2: not a row"), "%d: %s", i, err);
        itab_free(t);
    }
    tu_write_text(path, "");
    t = itab_new();
    ck_assert_int_eq(itab_read(t, path, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "is empty"), "%s", err);
    itab_free(t);
}
END_TEST

// bilinear resampling: a constant stays constant, a 2x2 -> 4x4 upsampling has PyTorch's
// align_corners=False values, and the transpose is the adjoint (<R a, b> = <a, R^T b>)
START_TEST(bilinear_resampling_and_its_transpose)
{
    const float c[6] = {0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f};
    float o[35];
    rs_bilinear(c, 2, 3, o, 5, 7);
    for (int i = 0; i < 35; i++) ck_assert_float_eq_tol(o[i], 0.3f, 1e-6f);
    // F.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=4, mode='bilinear', align_corners=False)
    const float in[4] = {0, 1, 2, 3}, want[16] = {0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f,
                                                   1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f, 2.75f, 3};
    float up[16];
    rs_bilinear(in, 2, 2, up, 4, 4);
    for (int i = 0; i < 16; i++) ck_assert_float_eq_tol(up[i], want[i], 1e-6f);
    int ih = 3, iw = 5, oh = 11, ow = 8;
    float a[15], b[88], ra[88], rtb[15] = {0};
    uint64_t rng = 12;
    tu_fill(a, ih * iw, -1, 1, &rng);
    tu_fill(b, oh * ow, -1, 1, &rng);
    rs_bilinear(a, ih, iw, ra, oh, ow);
    rs_bilinear_t(b, oh, ow, rtb, ih, iw);
    double l = 0, r = 0;
    for (int i = 0; i < oh * ow; i++) l += (double)ra[i] * b[i];
    for (int i = 0; i < ih * iw; i++) r += (double)a[i] * rtb[i];
    ck_assert_double_eq_tol(l, r, 1e-5);
}
END_TEST

Suite *make_insdel_suite(void)
{
    Suite *s = suite_create("insdel");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, blur_separable_matches_naive);
    tcase_add_test(tc, blur_weights_sum_to_one_and_pad_with_zero);
    tcase_add_test(tc, order_is_by_decreasing_saliency_ties_lower_index_first);
    tcase_add_test(tc, auc_of_hand_made_curves);
    tcase_add_test(tc, curves_take_pixels_in_order_all_channels_together);
    tcase_add_test(tc, table_rows_sums_and_refusals);
    tcase_add_test(tc, bilinear_resampling_and_its_transpose);
    suite_add_tcase(s, tc);
    return s;
}
