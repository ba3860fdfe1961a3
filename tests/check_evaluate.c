// check_evaluate.c: heatmap-to-image agreement (src/evaluate.c) on cases with known answers.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include "evaluate.h"
#include "testutil.h"

START_TEST(identical_up_to_scale_agrees_fully)
{
    int c = 2, h = 13, w = 15, n = c * h * w;
    float *x = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    uint64_t rng = 3;
    tu_fill(x, n, 0, 1, &rng);
    for (int i = 0; i < n; i++) g[i] = 3 * x[i] - 7;   // N_mm and Pearson do not see a*x + b
    eval_agreement a;
    ck_assert_int_eq(eval_agreement_of(g, x, c, h, w, &a), 0);
    ck_assert_double_eq_tol(a.ssim, 1, 1e-5);
    ck_assert(a.inv_psnr < 0.01);   // PSNR over 100 dB: equal up to float rounding
    ck_assert_double_eq_tol(a.sobel, 0, 1e-8);
    ck_assert_double_eq_tol(a.pearson, 1, 1e-5);
    free(x); free(g);
}
END_TEST

START_TEST(noise_agrees_less_than_a_noisy_copy)
{
    int c = 1, h = 16, w = 16, n = h * w;
    float *x = malloc(n * sizeof(float)), *near = malloc(n * sizeof(float)), *far = malloc(n * sizeof(float));
    uint64_t rng = 5;
    for (int i = 0; i < n; i++) x[i] = (float)((i % w) + (i / w)) / (h + w);   // a ramp
    for (int i = 0; i < n; i++) near[i] = x[i] + 0.05f * (tu_uniform(&rng) - 0.5f);
    tu_fill(far, n, 0, 1, &rng);
    eval_agreement an, af;
    eval_agreement_of(near, x, c, h, w, &an);
    eval_agreement_of(far, x, c, h, w, &af);
    ck_assert(an.ssim > af.ssim);
    ck_assert(an.inv_psnr < af.inv_psnr);
    ck_assert(an.sobel < af.sobel);
    ck_assert(an.pearson > af.pearson);
    ck_assert(fabs(af.pearson) < 0.3);
    eval_mean m = {{0, 0, 0, 0}, 0};
    eval_mean_add(&m, &an);
    eval_mean_add(&m, &af);
    eval_agreement r = eval_mean_get(&m);
    ck_assert_double_eq_tol(r.ssim, (an.ssim + af.ssim) / 2, 1e-12);
    ck_assert_int_eq(eval_agreement_of(x, x, 1, 10, 25, &an), -1);   // under 11x11
    free(x); free(near); free(far);
}
END_TEST

Suite *make_evaluate_suite(void)
{
    Suite *s = suite_create("evaluate");
    TCase *tc = tcase_create("agreement");
    tcase_add_test(tc, identical_up_to_scale_agrees_fully);
    tcase_add_test(tc, noise_agrees_less_than_a_noisy_copy);
    suite_add_tcase(s, tc);
    return s;
}
