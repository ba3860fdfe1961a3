// check_reg.c: the regularizer table of reg.h: central-difference checks of u = ∂R/∂g for every
// regularizer on random and structured inputs and several sizes, PyTorch-autograd golden values
// (tests/fixtures/reg_*.txt), the batched API, lookup by name, degenerate and bad inputs.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "reg.h"
#include "reg_testutil.h"

// ---- central differences ------------------------------------------------------------------------

typedef struct { const reg_def *r; const float *g, *x; int c, h, w; } reg_ctx;

static double reg_value(void *p)
{
    reg_ctx *k = p;
    const float *g = k->g;
    double v = NAN;
    char err[256];
    int e = reg_eval(k->r, g, k->x, k->c, k->h, k->w, &v, 0, 1, err, sizeof err);
    ck_assert_msg(e == REG_OK, "%s", err);
    return v;
}

static const int fd_sizes[][3] = {{1, 8, 8}, {2, 12, 9}, {3, 11, 11}, {1, 13, 17}, {3, 23, 19}};
#define N_FD_SIZES 5

// all regularizers at one size on random (kind 0) or structured (kind 1, 2) heatmaps and images
static void fd_check_all(int size, int kind)
{
    int c = fd_sizes[size][0], h = fd_sizes[size][1], w = fd_sizes[size][2], n = c * h * w;
    float *g = calloc(n, sizeof(float)), *x = calloc(n, sizeof(float)), *u = calloc(n, sizeof(float));
    if (kind == 0) {
        rt_fill_uniform(g, n, -1, 1);
        rt_fill_uniform(x, n, 0, 1);
    } else {
        rt_fill_structured(g, c, h, w, kind == 1 ? 1 : 2);
        rt_fill_structured(x, c, h, w, 0);
        // a constant patch in the image too (a zero-variance block for the PSNR-HVS-M mask)
        for (int i = h - 8 > 0 ? h - 8 : 0; i < h; i++)
            for (int j = 0; j < 8 && j < w; j++) x[i * w + j] = 0.25f;
    }
    float lo = g[0], hi = g[0];
    for (int i = 0; i < n; i++) { if (g[i] < lo) lo = g[i]; if (g[i] > hi) hi = g[i]; }
    for (int k = 0; k < reg_count(); k++) {
        const reg_def *r = reg_at(k);
        if (h < r->min_size || w < r->min_size) continue;
        memset(u, 0, n * sizeof(float));
        double v;
        char err[256];
        ck_assert_msg(reg_eval(r, g, x, c, h, w, &v, u, 1, err, sizeof err) == REG_OK, "%s", err);
        reg_ctx ctx = {r, g, x, c, h, w};
        tu_fd_stats st = rt_fd_check(r->name, reg_value, &ctx, g, n, u, 1e-3 * (hi - lo), 5e-3, 1e-4, 300);
        int fails = st.failed, checked = st.checked, skipped = st.skipped;
        ck_assert_msg(fails == 0, "%s at C=%d H=%d W=%d (%s input): %d of %d elements fail the gradient check",
                      r->name, c, h, w, kind ? "structured" : "random", fails, checked);
        int tested = checked + skipped;
        ck_assert_msg(checked >= (kind ? tested / 5 : tested * 3 / 4),
                      "%s at C=%d H=%d W=%d (%s input): only %d of %d elements could be checked (kinks)",
                      r->name, c, h, w, kind ? "structured" : "random", checked, tested);
    }
    free(g); free(x); free(u);
}

START_TEST(gradients_random)
{
    fd_check_all(_i, 0);
}
END_TEST

START_TEST(gradients_structured)
{
    fd_check_all(_i % N_FD_SIZES, 1 + _i / N_FD_SIZES);
}
END_TEST

// ---- PyTorch autograd golden values ---------------------------------------------------------------

static const char *fixture_cases[] = {"reg_rand3_23x19.txt", "reg_struct1_16x16.txt", "reg_rand3_16x13.txt"};

START_TEST(matches_torch_autograd)
{
    fx_file f;
    fx_load(&f, fixture_cases[_i]);
    const fx_rec *dims = fx_get(&f, "dims", 3);
    int c = (int)dims->v[0], h = (int)dims->v[1], w = (int)dims->v[2], n = c * h * w;
    float *g = fx_floats(&f, "g", n), *x = fx_floats(&f, "x", n), *u = malloc(n * sizeof(float));
    for (int k = 0; k < reg_count(); k++) {
        const reg_def *r = reg_at(k);
        if (h < r->min_size || w < r->min_size) continue;
        char key[80], err[256];
        snprintf(key, sizeof key, "torch_%s", r->name);
        double ref = fx_get(&f, key, 1)->v[0], v;
        snprintf(key, sizeof key, "torch_u_%s", r->name);
        const fx_rec *ru = fx_get(&f, key, n);
        memset(u, 0, n * sizeof(float));
        ck_assert_msg(reg_eval(r, g, x, c, h, w, &v, u, 1, err, sizeof err) == REG_OK, "%s", err);
        ck_assert_msg(fabs(v - ref) <= 1e-5 * fabs(ref) + 1e-7, "%s: %s = %.9g, torch %.9g", f.path, r->name, v, ref);
        double umax = 0;
        for (int i = 0; i < n; i++) umax = fmax(umax, fabs(ru->v[i]));
        for (int i = 0; i < n; i++)
            ck_assert_msg(fabs(u[i] - ru->v[i]) <= 2e-4 * umax + 1e-3 * fabs(ru->v[i]),
                          "%s: %s u[%d] = %.9g, torch %.9g (max |u| %.3g)", f.path, r->name, i, u[i], ru->v[i], umax);
    }
    free(g); free(x); free(u);
    fx_free(&f);
}
END_TEST

// ---- the API ------------------------------------------------------------------------------------------

START_TEST(lookup_by_name)
{
    char err[512];
    ck_assert_int_eq(reg_count(), 13);
    for (int k = 0; k < reg_count(); k++) {
        const reg_def *r = reg_at(k);
        ck_assert_ptr_eq(reg_lookup(r->name, err, sizeof err), r);
        ck_assert_ptr_nonnull(strstr(reg_names(), r->name));
    }
    ck_assert_ptr_null(reg_lookup("ssim_gauss", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "ssim_gauss"));
    for (int k = 0; k < reg_count(); k++) ck_assert_ptr_nonnull(strstr(err, reg_at(k)->name));
    ck_assert_ptr_null(reg_lookup(0, 0, 0));
}
END_TEST

START_TEST(batch_is_mean_of_images)
{
    int b = 3, c = 3, h = 12, w = 13, n = c * h * w;
    float *g = malloc(b * n * sizeof(float)), *x = malloc(b * n * sizeof(float));
    float *ub = calloc(b * n, sizeof(float)), *u1 = malloc(n * sizeof(float));
    rt_fill_uniform(g, b * n, -1, 1);
    rt_fill_uniform(x, b * n, 0, 1);
    char err[256];
    for (int k = 0; k < reg_count(); k++) {
        const reg_def *r = reg_at(k);
        double vb, v, sum = 0;
        memset(ub, 0, b * n * sizeof(float));
        ck_assert_msg(reg_eval_batch(r, g, x, b, c, h, w, &vb, ub, 0.5f, err, sizeof err) == REG_OK, "%s", err);
        for (int i = 0; i < b; i++) {
            memset(u1, 0, n * sizeof(float));
            ck_assert_int_eq(reg_eval(r, g + i * n, x + i * n, c, h, w, &v, u1, 1, err, sizeof err), REG_OK);
            sum += v;
            for (int j = 0; j < n; j++)
                ck_assert_msg(fabsf(ub[i * n + j] - u1[j] * 0.5f / b) <= 1e-6f * (1 + fabsf(u1[j])),
                              "%s: batch gradient of image %d at %d: %g, expected %g", r->name, i, j, ub[i * n + j], u1[j] * 0.5f / b);
        }
        ck_assert_double_eq_tol(vb, sum / b, 1e-12 * (1 + fabs(vb)));
    }
    free(g); free(x); free(ub); free(u1);
}
END_TEST

// every value finite, every gradient entry finite and, where the spec says so, zero
static void check_degenerate(const float *g, const float *x, int c, int h, int w, const char *what, int zero_grad_normalised)
{
    int n = c * h * w;
    float *u = malloc(n * sizeof(float));
    char err[256];
    for (int k = 0; k < reg_count(); k++) {
        const reg_def *r = reg_at(k);
        double v = NAN;
        for (int i = 0; i < n; i++) u[i] = 0;
        ck_assert_msg(reg_eval(r, g, x, c, h, w, &v, u, 1, err, sizeof err) == REG_OK, "%s: %s", what, err);
        ck_assert_msg(isfinite(v), "%s: %s value %g", what, r->name, v);
        int zero = zero_grad_normalised && strcmp(r->name, "l2") && strncmp(r->name, "tv", 2);
        for (int i = 0; i < n; i++) {
            ck_assert_msg(isfinite(u[i]), "%s: %s u[%d] = %g", what, r->name, i, u[i]);
            if (zero) ck_assert_msg(u[i] == 0, "%s: %s u[%d] = %g, expected 0", what, r->name, i, u[i]);
        }
    }
    free(u);
}

START_TEST(degenerate_inputs_are_finite)
{
    int c = 3, h = 16, w = 12, n = c * h * w;
    float *g = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float)), *k = malloc(n * sizeof(float));
    rt_fill_uniform(x, n, 0, 1);
    for (int i = 0; i < n; i++) g[i] = 0.37f;
    check_degenerate(g, x, c, h, w, "constant heatmap", 1);
    for (int i = 0; i < n; i++) g[i] = 0;
    check_degenerate(g, x, c, h, w, "zero heatmap", 1);
    for (int i = 0; i < n; i++) k[i] = -4.0f;
    rt_fill_uniform(g, n, -1, 1);
    check_degenerate(g, k, c, h, w, "constant image", 0);
    check_degenerate(k, k, c, h, w, "constant heatmap and image", 1);
    // g = x: MSE = 0, so psnr is 0 with zero gradient; grad_diff stays finite
    check_degenerate(x, x, c, h, w, "heatmap equal to the image", 0);
    double v;
    float *u = calloc(n, sizeof(float));
    ck_assert_int_eq(reg_eval(reg_lookup("psnr", 0, 0), x, x, c, h, w, &v, u, 1, 0, 0), REG_OK);
    ck_assert_double_eq(v, 0);
    for (int i = 0; i < n; i++) ck_assert_float_eq(u[i], 0);
    ck_assert_int_eq(reg_eval(reg_lookup("psnr_hvsm", 0, 0), x, x, c, h, w, &v, u, 1, 0, 0), REG_OK);
    ck_assert_double_eq_tol(v, 0.01, 1e-12);
    ck_assert_int_eq(reg_eval(reg_lookup("ssim", 0, 0), x, x, c, h, w, &v, u, 1, 0, 0), REG_OK);
    ck_assert_double_eq_tol(v, -1, 1e-6);
    // zero-variance image channel: tv_abs ignores it (spec decision), cor treats it as rho = 0
    for (int i = 0; i < h * w; i++) x[i] = 0.5f;
    ck_assert_int_eq(reg_eval(reg_lookup("cor", 0, 0), g, x, c, h, w, &v, u, 1, 0, 0), REG_OK);
    ck_assert(isfinite(v) && v > 1.0 / 3 - 1e-9);
    free(g); free(x); free(k); free(u);
}
END_TEST

START_TEST(nonfinite_input_is_an_error)
{
    int c = 3, h = 12, w = 12, n = c * h * w;
    float *g = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float)), *u = calloc(n, sizeof(float));
    rt_fill_uniform(g, n, -1, 1);
    rt_fill_uniform(x, n, 0, 1);
    char err[256];
    double v = 42;
    g[h * w + 2 * w + 5] = NAN;
    for (int k = 0; k < reg_count(); k++) {
        const reg_def *r = reg_at(k);
        ck_assert_int_eq(reg_eval(r, g, x, c, h, w, &v, u, 1, err, sizeof err), REG_EINPUT);
        ck_assert_msg(strstr(err, "heatmap has NaN at c=1 y=2 x=5") != 0, "message: %s", err);
    }
    g[h * w + 2 * w + 5] = 0;
    x[7] = -INFINITY;
    ck_assert_int_eq(reg_eval(reg_lookup("ssim", 0, 0), g, x, c, h, w, &v, u, 1, err, sizeof err), REG_EINPUT);
    ck_assert_msg(strstr(err, "image has Inf at c=0 y=0 x=7") != 0, "message: %s", err);
    // batched: the image index is named and no gradient is written
    float *gb = malloc(2 * n * sizeof(float)), *xb = malloc(2 * n * sizeof(float));
    memcpy(gb, g, n * sizeof(float)); memcpy(gb + n, g, n * sizeof(float));
    rt_fill_uniform(xb, 2 * n, 0, 1);
    gb[n + 3] = INFINITY;
    float *ub = calloc(2 * n, sizeof(float));
    ck_assert_int_eq(reg_eval_batch(reg_lookup("mse", 0, 0), gb, xb, 2, c, h, w, &v, ub, 1, err, sizeof err), REG_EINPUT);
    ck_assert_msg(strstr(err, "image 1") != 0, "message: %s", err);
    for (int i = 0; i < 2 * n; i++) ck_assert_float_eq(ub[i], 0);
    for (int i = 0; i < n; i++) ck_assert_float_eq(u[i], 0);
    ck_assert_double_eq(v, 42);
    // too small, and a missing image
    ck_assert_int_eq(reg_eval(reg_lookup("ssim", 0, 0), g, x, 1, 10, 40, &v, u, 1, err, sizeof err), REG_ESIZE);
    ck_assert_msg(strstr(err, "11x11") != 0, "message: %s", err);
    ck_assert_int_eq(reg_eval(reg_lookup("mse", 0, 0), g, 0, c, h, w, &v, u, 1, err, sizeof err), REG_EINPUT);
    ck_assert_int_eq(reg_eval(reg_lookup("l2", 0, 0), g, 0, c, h, w, &v, u, 1, err, sizeof err), REG_OK);
    free(g); free(x); free(u); free(gb); free(xb); free(ub);
}
END_TEST

Suite *make_reg_suite(void)
{
    Suite *s = suite_create("reg");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, gradients_random, 0, N_FD_SIZES);
    tcase_add_loop_test(tc, gradients_structured, 0, 2 * N_FD_SIZES);
    tcase_add_loop_test(tc, matches_torch_autograd, 0, 3);
    tcase_add_test(tc, lookup_by_name);
    tcase_add_test(tc, batch_is_mean_of_images);
    tcase_add_test(tc, degenerate_inputs_are_finite);
    tcase_add_test(tc, nonfinite_input_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}
