// check_compare.c: `darknet saliency compare` end to end (the binary named by $DARKNET): every
// printed metric against metrics.h called in-process on the same decoded images, and its errors.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "darknet.h"
#include "metrics.h"
#include "testutil.h"

static char cmp_dir[64];

// a path in this process's temporary directory
static void cmp_path(char *out, size_t n, const char *name)
{
    if (!cmp_dir[0]) {
        snprintf(cmp_dir, sizeof cmp_dir, "/tmp/check_compare.%d", (int)getpid());
        mkdir(cmp_dir, 0700);
    }
    snprintf(out, n, "%s/%s", cmp_dir, name);
}

// removes the temporary directory after each test (the test runs in its own process)
static void cmp_cleanup(void)
{
    if (!cmp_dir[0]) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cmp_dir);
    if (system(cmd) != 0) fprintf(stderr, "check_compare: could not remove %s\n", cmp_dir);
    cmp_dir[0] = 0;
}

// writes a (C, H, W) image with values from f as PNG; returns the path (with ".png")
static void cmp_write(const char *name, int c, int h, int w, int seed, char *path, size_t n)
{
    image im = make_image(w, h, c);
    for (int i = 0; i < c * h * w; i++) {
        int k = i % (h * w), y = k / w, x = k % w;
        im.data[i] = 0.5f + 0.3f * sinf(0.4f * x + 0.3f * y + seed + i / (h * w)) + 0.1f * ((i * 7919 + seed * 104729) % 13) / 13.0f;
    }
    char base[256];
    cmp_path(base, sizeof base, name);
    save_image_options(im, base, PNG, 0);
    free_image(im);
    ck_assert(strlen(base) + 5 <= n);
    memcpy(path, base, strlen(base));
    strcpy(path + strlen(base), ".png");
}

// runs "$DARKNET saliency compare <args>", stdout and stderr into out; returns the exit status
static int cmp_run(const char *args, char *out, size_t n)
{
    char full[4096];
    snprintf(full, sizeof full, "compare %s", args);
    return tu_saliency(NULL, full, out, (int)n);
}

// the value printed on the line "name VALUE"
static double cmp_value(const char *out, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s ", name);
    char *buf = malloc(strlen(out) + 2);
    buf[0] = '\n';
    strcpy(buf + 1, out);
    const char *p = strstr(buf, key);
    ck_assert_msg(p != 0, "no line '%s VALUE' in:\n%s", name, out);
    double v = strstr(p + strlen(key), "inf") == p + strlen(key) ? INFINITY : atof(p + strlen(key));
    free(buf);
    return v;
}

static void check_all_metrics(const char *out, const float *a, const float *b, int c, int h, int w)
{
    double v, s;
    int n = c * h * w;
    ck_assert_int_eq(ssim_gauss(a, b, c, h, w, &v, 0), MET_OK);
    ck_assert_double_eq_tol(cmp_value(out, "ssim"), v, 1e-7);
    ck_assert_int_eq(ssim_box(a, b, c, h, w, &v, 0), MET_OK);
    ck_assert_double_eq_tol(cmp_value(out, "ssim_unfiltered"), v, 1e-7);
    double m = mse_metric(a, b, n, 0);
    ck_assert_double_eq_tol(cmp_value(out, "mse"), m, 1e-9);
    ck_assert_double_eq_tol(cmp_value(out, "psnr"), psnr_db(m), 1e-6);
    ck_assert_int_eq(hvs_error(a, b, c, h, w, 0, &s, 0), MET_OK);
    ck_assert_double_eq_tol(cmp_value(out, "psnr_hvs"), hvs_db(s), 1e-6);
    ck_assert_int_eq(hvs_error(a, b, c, h, w, 1, &s, 0), MET_OK);
    ck_assert_double_eq_tol(cmp_value(out, "psnr_hvsm"), hvs_db(s), 1e-6);
    double rho[3], r = 0;
    pearson_forward(a, b, c, h * w, rho);
    for (int i = 0; i < c; i++) r += rho[i] / c;
    ck_assert_double_eq_tol(cmp_value(out, "cor"), r, 1e-7);
    ck_assert_double_eq_tol(cmp_value(out, "grad_diff"), sqrt(graddiff_metric(a, b, c, h, w, 0)), 1e-6);
    ck_assert_int_eq(sobel_metric(a, b, c, h, w, &v, 0), MET_OK);
    ck_assert_double_eq_tol(cmp_value(out, "sobel_edges"), v, 1e-6 * v);
    float *d = malloc(n * sizeof(float));
    for (int i = 0; i < n; i++) d[i] = a[i] - b[i];
    v = tv_metric(d, c, h, w, 0);
    ck_assert_double_eq_tol(cmp_value(out, "tv"), v, 1e-6 * v);
    free(d);
}

START_TEST(colour_pair_matches_in_process_metrics)
{
    char pa[512], pb[512], args[1100], out[8192];
    cmp_write("colour_a", 3, 23, 19, 1, pa, sizeof pa);
    cmp_write("colour_b", 3, 23, 19, 2, pb, sizeof pb);
    snprintf(args, sizeof args, "%s %s", pa, pb);
    ck_assert_msg(cmp_run(args, out, sizeof out) == 0, "compare failed:\n%s", out);
    // the decoded images (PNG is 8 bit), as the command sees them
    image a = load_image(pa, 0, 0, 3), b = load_image(pb, 0, 0, 3);
    check_all_metrics(out, a.data, b.data, 3, 23, 19);
    free_image(a);
    free_image(b);
    // one metric; identical images give psnr inf
    snprintf(args, sizeof args, "%s %s -metric psnr", pa, pa);
    ck_assert_int_eq(cmp_run(args, out, sizeof out), 0);
    ck_assert_str_eq(out, "psnr inf\n");
}
END_TEST

START_TEST(grey_pair_is_one_channel)
{
    char pa[512], pb[512], args[1100], out[8192];
    cmp_write("grey_a", 1, 16, 21, 3, pa, sizeof pa);
    cmp_write("grey_b", 1, 16, 21, 4, pb, sizeof pb);
    snprintf(args, sizeof args, "%s %s", pa, pb);
    ck_assert_msg(cmp_run(args, out, sizeof out) == 0, "compare failed:\n%s", out);
    image a = load_image(pa, 0, 0, 3), b = load_image(pb, 0, 0, 3); // plane 0 is the grey value
    check_all_metrics(out, a.data, b.data, 1, 16, 21);
    free_image(a);
    free_image(b);
}
END_TEST

START_TEST(errors_are_clear)
{
    char pa[512], pb[512], ps[512], args[1200], out[8192];
    cmp_write("err_a", 3, 23, 19, 1, pa, sizeof pa);
    cmp_write("err_b", 3, 19, 23, 2, pb, sizeof pb);
    cmp_write("err_small", 3, 9, 10, 2, ps, sizeof ps);
    snprintf(args, sizeof args, "%s %s", pa, pb);
    ck_assert_int_eq(cmp_run(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "differ in size") != 0, "%s", out);
    snprintf(args, sizeof args, "%s %s/none.png", pa, cmp_dir);
    ck_assert_int_eq(cmp_run(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "none.png") != 0, "%s", out);
    snprintf(args, sizeof args, "%s %s -metric ssim_gauss", pa, pa);
    ck_assert_int_eq(cmp_run(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "ssim_gauss") && strstr(out, "sobel_edges"), "%s", out);
    // too small for ssim: the others are printed, ssim is an error, the status is 1
    snprintf(args, sizeof args, "%s %s", ps, ps);
    ck_assert_int_eq(cmp_run(args, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "ssim needs images of at least 11x11") && strstr(out, "\nmse 0\n"), "%s", out);
}
END_TEST

Suite *make_compare_suite(void)
{
    Suite *s = suite_create("compare");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, 0, cmp_cleanup);
    tcase_add_test(tc, colour_pair_matches_in_process_metrics);
    tcase_add_test(tc, grey_pair_is_one_channel);
    tcase_add_test(tc, errors_are_clear);
    suite_add_tcase(s, tc);
    return s;
}
