// check_metrics.c: the image metrics of metrics.h against closed forms, a naive 2-D SSIM oracle,
// scikit-image golden values (tests/fixtures/reg_*.txt) and central differences for the
// normalisations.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "reg_testutil.h"

static const char *fixture_cases[] = {"reg_rand3_23x19.txt", "reg_struct1_16x16.txt", "reg_rand3_16x13.txt"};

// ---- naive oracle ---------------------------------------------------------------------------------

// SSIM with the full 11x11 window in double, position by position: the plain loop the separable
// version must agree with.
static double ssim_gauss_naive(const float *a, const float *b, int c, int h, int w)
{
    double k[11], s = 0;
    for (int i = 0; i < 11; i++) { k[i] = exp(-(i - 5.0) * (i - 5.0) / (2 * 1.5 * 1.5)); s += k[i]; }
    for (int i = 0; i < 11; i++) k[i] /= s;
    double total = 0;
    int hv = h - 10, wv = w - 10;
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < hv; y++)
            for (int x = 0; x < wv; x++) {
                double ma = 0, mb = 0, maa = 0, mbb = 0, mab = 0;
                for (int i = 0; i < 11; i++)
                    for (int j = 0; j < 11; j++) {
                        double wt = k[i] * k[j];
                        double va = a[(ch * h + y + i) * w + x + j], vb = b[(ch * h + y + i) * w + x + j];
                        ma += wt * va; mb += wt * vb; maa += wt * va * va; mbb += wt * vb * vb; mab += wt * va * vb;
                    }
                double c1 = 1e-4, c2 = 9e-4;
                total += (2 * ma * mb + c1) * (2 * (mab - ma * mb) + c2) /
                         ((ma * ma + mb * mb + c1) * (maa - ma * ma + mbb - mb * mb + c2));
            }
    return total / ((double)c * hv * wv);
}

START_TEST(ssim_separable_matches_naive)
{
    int c = 3, h = 23, w = 19, n = c * h * w;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    rt_fill_uniform(a, n, 0, 1);
    for (int i = 0; i < n; i++) b[i] = 0.6f * a[i] + 0.4f * (float)rt_uniform();
    double v;
    ck_assert_int_eq(ssim_gauss(a, b, c, h, w, &v, 0), MET_OK);
    ck_assert_double_eq_tol(v, ssim_gauss_naive(a, b, c, h, w), 2e-6);
    free(a);
    free(b);
}
END_TEST

// the padded row-sweep Sobel metric against the plain per-pixel maps (sobel_forward, reflect by index)
START_TEST(sobel_metric_matches_maps)
{
    const int sizes[][3] = {{1, 2, 2}, {2, 3, 5}, {3, 17, 10}};
    for (int k = 0; k < 3; k++) {
        int c = sizes[k][0], h = sizes[k][1], w = sizes[k][2], n = c * h * w;
        float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *d = malloc(n * sizeof(float));
        float *ky = malloc(n * sizeof(float)), *kx = malloc(n * sizeof(float));
        rt_fill_uniform(a, n, 0, 1);
        rt_fill_uniform(b, n, 0, 1);
        for (int i = 0; i < n; i++) d[i] = a[i] - b[i];
        ck_assert_int_eq(sobel_forward(d, c, h, w, ky, kx), MET_OK);
        double ref = 0, v;
        for (int i = 0; i < n; i++) ref += (double)ky[i] * ky[i] + (double)kx[i] * kx[i];
        ck_assert_int_eq(sobel_metric(a, b, c, h, w, &v, 0), MET_OK);
        ck_assert_double_eq_tol(v, ref, 1e-5 * ref + 1e-9); // 2x2: every response is 0
        free(a); free(b); free(d); free(ky); free(kx);
    }
}
END_TEST

// ---- closed forms ---------------------------------------------------------------------------------

START_TEST(ssim_of_image_with_itself_is_one)
{
    int c = 3, h = 17, w = 21, n = c * h * w;
    float *a = malloc(n * sizeof(float)), *da = calloc(n, sizeof(float));
    rt_fill_uniform(a, n, 0, 1);
    double v;
    ck_assert_int_eq(ssim_gauss(a, a, c, h, w, &v, da), MET_OK);
    ck_assert_double_eq_tol(v, 1.0, 1e-6);
    ck_assert_int_eq(ssim_box(a, a, c, h, w, &v, da), MET_OK);
    ck_assert_double_eq_tol(v, 1.0, 1e-6);
    // SSIM(., x) has its maximum at x: the gradient there is 0
    for (int i = 0; i < n; i++) ck_assert_float_eq_tol(da[i], 0, 1e-5);
    free(a);
    free(da);
}
END_TEST

START_TEST(psnr_of_known_mse)
{
    int n = 3 * 9 * 10;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    rt_fill_uniform(a, n, 0, 0.5);
    for (int i = 0; i < n; i++) b[i] = a[i] + ((i & 1) ? 0.125f : -0.125f); // |a - b| = 1/8 exactly
    double m = mse_metric(a, b, n, 0);
    ck_assert_double_eq_tol(m, 1.0 / 64, 1e-9);
    ck_assert_double_eq_tol(psnr_db(m), 10 * log10(64.0), 1e-6);
    free(a);
    free(b);
}
END_TEST

START_TEST(tv_of_a_step)
{
    // (C=2, H=5, W=7): a step of 0.75 between columns 3 and 4, flat elsewhere: TV = 0.75 * H per channel
    int c = 2, h = 5, w = 7;
    float t[70];
    for (int i = 0; i < c * h * w; i++) t[i] = (i % w) >= 4 ? 1.0f : 0.25f;
    ck_assert_double_eq_tol(tv_metric(t, c, h, w, 0), 2 * 0.75 * 5, 1e-6);
    // and a horizontal step in channel 1 only: + 0.5 * W
    for (int j = 0; j < w; j++) for (int i = 3; i < h; i++) t[(h + i) * w + j] += 0.5f;
    ck_assert_double_eq_tol(tv_metric(t, c, h, w, 0), 2 * 0.75 * 5 + 0.5 * 7, 1e-6);
}
END_TEST

START_TEST(correlation_of_affine_copy)
{
    int c = 3, hw = 97;
    float *x = malloc(c * hw * sizeof(float)), *y = malloc(c * hw * sizeof(float));
    rt_fill_uniform(x, c * hw, -1, 2);
    const float k[3] = {2.5f, -0.3f, 7.0f}, d[3] = {1.0f, 4.0f, -3.0f};
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < hw; i++) y[ch * hw + i] = k[ch] * x[ch * hw + i] + d[ch];
    double rho[3];
    pearson_forward(x, y, c, hw, rho);
    ck_assert_double_eq_tol(rho[0], 1.0, 1e-6);
    ck_assert_double_eq_tol(rho[1], -1.0, 1e-6);
    ck_assert_double_eq_tol(rho[2], 1.0, 1e-6);
    // a constant channel correlates with nothing: 0 by decision
    for (int i = 0; i < hw; i++) y[i] = 3.0f;
    pearson_forward(x, y, c, hw, rho);
    ck_assert_double_eq(rho[0], 0.0);
    free(x);
    free(y);
}
END_TEST

START_TEST(psnr_hvs_of_a_constant_offset)
{
    // a flat difference d has only a DC coefficient 8d per block: S = T_00^2 d^2 (luma), masking or not
    int h = 15, w = 22, n = h * w;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    rt_fill_uniform(b, n, 0.2, 0.8);
    for (int i = 0; i < n; i++) a[i] = b[i] + 0.0625f;
    double s, sm, t00 = 1.6193873005;
    ck_assert_int_eq(hvs_error(a, b, 1, h, w, 0, &s, 0), MET_OK);
    ck_assert_int_eq(hvs_error(a, b, 1, h, w, 1, &sm, 0), MET_OK);
    ck_assert_double_eq_tol(s, t00 * t00 * 0.0625 * 0.0625, 1e-8);
    ck_assert_double_eq_tol(sm, s, 1e-8);
    ck_assert_double_eq_tol(hvs_db(s), -10 * log10(t00 * t00 * 0.0625 * 0.0625), 1e-5);
    // masking only lowers the error, and identical images are capped at 100 dB
    rt_fill_uniform(a, n, 0, 1);
    ck_assert_int_eq(hvs_error(a, b, 1, h, w, 0, &s, 0), MET_OK);
    ck_assert_int_eq(hvs_error(a, b, 1, h, w, 1, &sm, 0), MET_OK);
    ck_assert(sm < s && sm > 0);
    ck_assert_int_eq(hvs_error(b, b, 1, h, w, 1, &s, 0), MET_OK);
    ck_assert_double_eq(hvs_db(s), 100.0);
    ck_assert_int_eq(hvs_error(b, b, 1, 7, 30, 1, &s, 0), MET_ESIZE);
    free(a);
    free(b);
}
END_TEST

START_TEST(minmax_of_constant_is_zero)
{
    float t[12], out[12], dt[12] = {0}, dout[12];
    for (int i = 0; i < 12; i++) { t[i] = 1e6f; dout[i] = 1; }
    mm_info info;
    mm_forward(t, 12, out, &info);
    mm_backward(out, 12, &info, dout, 1, dt);
    for (int i = 0; i < 12; i++) { ck_assert_float_eq(out[i], 0); ck_assert_float_eq(dt[i], 0); }
}
END_TEST

START_TEST(small_sizes_are_errors)
{
    float a[3 * 10 * 12] = {0};
    double v;
    ck_assert_int_eq(ssim_gauss(a, a, 3, 10, 12, &v, 0), MET_ESIZE);
    ck_assert_int_eq(ssim_box(a, a, 1, 12, 7, &v, 0), MET_ESIZE);
    ck_assert_int_eq(sobel_metric(a, a, 1, 1, 12, &v, 0), MET_ESIZE);
}
END_TEST

// ---- scikit-image golden values -------------------------------------------------------------------

START_TEST(matches_scikit_image)
{
    fx_file f;
    fx_load(&f, fixture_cases[_i]);
    const fx_rec *dims = fx_get(&f, "dims", 3);
    int c = (int)dims->v[0], h = (int)dims->v[1], w = (int)dims->v[2], n = c * h * w;
    float *a = fx_floats(&f, "a", n), *b = fx_floats(&f, "b", n);
    double v;
    if (h >= 11 && w >= 11) {
        ck_assert_int_eq(ssim_gauss(a, b, c, h, w, &v, 0), MET_OK);
        ck_assert_double_eq_tol(v, fx_get(&f, "sk_ssim_gauss", 1)->v[0], 2e-6);
    }
    double m = mse_metric(a, b, n, 0);
    ck_assert_double_eq_tol(m, fx_get(&f, "sk_mse", 1)->v[0], 1e-9);
    ck_assert_double_eq_tol(psnr_db(m), fx_get(&f, "sk_psnr", 1)->v[0], 1e-5);
    float *ky = malloc(n * sizeof(float)), *kx = malloc(n * sizeof(float));
    ck_assert_int_eq(sobel_forward(a, c, h, w, ky, kx), MET_OK);
    const fx_rec *ry = fx_get(&f, "sk_sobel_ky", n), *rx = fx_get(&f, "sk_sobel_kx", n);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(fabs(ky[i] - ry->v[i]) < 2e-6 && fabs(kx[i] - rx->v[i]) < 2e-6,
                      "%s: sobel at %d: ky %.9g (skimage %.9g) kx %.9g (skimage %.9g)", f.path, i, ky[i], ry->v[i], kx[i], rx->v[i]);
    }
    free(a); free(b); free(ky); free(kx);
    fx_free(&f);
}
END_TEST

// ---- central differences of the normalisations --------------------------------------------------

typedef struct { int c, hw, n; const float *r; float *out; float *sig; int which; const float *t; } norm_ctx;

// a random linear functional of the normalised map, so every output element matters
static double norm_value(void *p)
{
    norm_ctx *k = p;
    const float *t = k->t;
    mm_info info;
    if (k->which == 0) mm_forward(t, k->n, k->out, &info);
    else std_forward(t, k->c, k->hw, k->out, k->sig);
    double s = 0;
    for (int i = 0; i < k->n; i++) s += (double)k->r[i] * k->out[i];
    return s;
}

START_TEST(normalisation_gradients)
{
    int c = 3, hw = 7 * 9, n = c * hw;
    float *t = malloc(n * sizeof(float)), *r = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
    float *u = calloc(n, sizeof(float)), sig[3];
    rt_fill_uniform(r, n, -1, 1);
    // float outputs: a step large enough that their rounding stays far below the differences
    for (int which = 0; which < 2; which++) {
        for (int kind = 0; kind < 2; kind++) {
            if (kind == 0) rt_fill_uniform(t, n, -2, 3);
            else rt_fill_structured(t, c, 7, 9, 0);
            norm_ctx k = {c, hw, n, r, out, sig, which, t};
            memset(u, 0, n * sizeof(float));
            mm_info info;
            if (which == 0) {
                mm_forward(t, n, out, &info);
                mm_backward(out, n, &info, r, 1, u);
            } else {
                std_forward(t, c, hw, out, sig);
                std_backward(out, sig, c, hw, r, u);
            }
            tu_fd_stats st = rt_fd_check(which ? "standardise" : "minmax", norm_value, &k, t, n, u, 1e-2, 2e-3, 1e-4, 0);
            int fails = st.failed, checked = st.checked;
            ck_assert_msg(fails == 0, "%s (%s input): %d gradient failures", which ? "standardise" : "minmax",
                          kind ? "structured" : "random", fails);
            ck_assert_msg(checked >= n / 2, "%s: only %d of %d elements checked", which ? "standardise" : "minmax", checked, n);
        }
    }
    free(t); free(r); free(out); free(u);
}
END_TEST

Suite *make_metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ssim_separable_matches_naive);
    tcase_add_test(tc, sobel_metric_matches_maps);
    tcase_add_test(tc, ssim_of_image_with_itself_is_one);
    tcase_add_test(tc, psnr_of_known_mse);
    tcase_add_test(tc, tv_of_a_step);
    tcase_add_test(tc, correlation_of_affine_copy);
    tcase_add_test(tc, psnr_hvs_of_a_constant_offset);
    tcase_add_test(tc, minmax_of_constant_is_zero);
    tcase_add_test(tc, small_sizes_are_errors);
    tcase_add_loop_test(tc, matches_scikit_image, 0, 3);
    tcase_add_test(tc, normalisation_gradients);
    suite_add_tcase(s, tc);
    return s;
}
