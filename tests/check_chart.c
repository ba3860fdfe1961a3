// check_chart.c: the pictures of `make science` and `make demo`: sal_plot_xy (axes, curves, the
// clipping), `darknet saliency chart` (a CSV's columns, grouped) and `darknet saliency montage`.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "saliency_plot.h"
#include "saliency_util.h"
#include "testutil.h"

// pixels of im within 0.02 of colour rgb: their count, mean column and mean row
static int find_colour(image im, const float *rgb, double *cx, double *cy, int x_below)
{
    int n = 0;
    double sx = 0, sy = 0;
    for (int y = 0; y < im.h; y++)
        for (int x = 0; x < im.w && x < x_below; x++) {
            int ok = 1;
            for (int k = 0; k < 3; k++) ok &= fabsf(im.data[(k * im.h + y) * im.w + x] - rgb[k]) < 0.02f;
            if (ok) { n++; sx += x; sy += y; }
        }
    *cx = n ? sx / n : -1;
    *cy = n ? sy / n : -1;
    return n;
}

// two horizontal lines at y = 0.75 and y = 0.25 on [0, 1]: the first is above the second by half the
// plot's height; a third curve entirely outside the axes draws nothing inside the picture but its legend
START_TEST(plot_xy_puts_curves_where_their_values_say)
{
    double xs[] = {0, 1, 0, 1, 5, 6}, ys[] = {0.75, 0.75, 0.25, 0.25, 5, 6};
    int npts[] = {2, 2, 2};
    float rgb[3][3];
    for (int i = 0; i < 3; i++) sal_plot_color(i, rgb[i]);
    const char *legend[] = {"a", "b", "c"};
    sal_axes ax = {0, 1, 0, 1, 0, 0, 0};
    image im = sal_plot_xy("t", "x", "y", xs, ys, npts, 3, legend, (const float (*)[3])rgb, ax, 800, 500);
    ck_assert_int_eq(im.w, 800);
    ck_assert_int_eq(im.h, 500);
    // the legend sits right of the plot: look left of it (the plot is at most 80% of the width)
    int xmax = (int)(0.8 * im.w);
    double ax0, ay0, ax1, ay1, ax2, ay2;
    int n0 = find_colour(im, rgb[0], &ax0, &ay0, xmax), n1 = find_colour(im, rgb[1], &ax1, &ay1, xmax);
    int n2 = find_colour(im, rgb[2], &ax2, &ay2, xmax);
    ck_assert_msg(n0 > 200 && n1 > 200, "curve pixels: %d and %d", n0, n1);
    ck_assert_msg(n2 == 0, "a curve outside the axes drew %d pixels inside", n2);
    ck_assert_msg(ay0 < ay1, "y = 0.75 at row %g, y = 0.25 at row %g: higher values must be higher up", ay0, ay1);
    // half the plot's height apart: the plot's height is between 60% and 90% of the picture's, or
    // without darknet's letters (data/labels: AB's pruned archive has none) the picture less the
    // margins' 44 rows that hold no text then
    double d = ay1 - ay0;
    if (sal_letters())
        ck_assert_msg(d > 0.3 * im.h && d < 0.45 * im.h, "0.5 apart on the axis, %g rows apart in a %d-row picture", d, im.h);
    else
        ck_assert_msg(fabs(d - 0.5 * (im.h - 44)) < 3, "0.5 apart on the axis, %g rows apart in a %d-row picture without text", d, im.h);
    ck_assert_msg(fabs(ax0 - ax1) < 3, "the same x range drawn at columns %g and %g", ax0, ax1);
    free_image(im);
    // axes around points: every point inside, with a margin
    double px[] = {-1, 2, NAN}, py[] = {10, 30, 99};
    sal_axes a = sal_axes_around(px, py, 3);
    ck_assert(a.x0 < -1 && a.x1 > 2 && a.y0 < 10 && a.y1 > 30 && a.y1 < 99);
}
END_TEST

static int run(const char *args, char *out, int n) { return tu_saliency(NULL, args, out, n); }

START_TEST(chart_draws_a_csv_and_names_bad_input)
{
    char csv[512], png[600], args[2048], out[8192];
    tu_path(csv, sizeof csv, "chart.csv");
    snprintf(png, sizeof png, "%s.png", csv);
    tu_write_text(csv, "step,loss,R,run\n1,2.0,0.1,up\n2,1.5,0.2,up\n3,1.0,0.3,up\n1,2.0,0.3,down\n2,1.0,,down\n3,0.5,0.1,down\n");
    snprintf(args, sizeof args, "chart %s %s -x step -y loss,R -group run -points 1 -width 600 -height 400", csv, png);
    int rc = run(args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "6 rows, 2 curves, 2 panels"), "%s", out);
    image im = load_image_color(png, 0, 0);
    ck_assert_msg(im.w >= 1200 && im.h >= 400, "%dx%d: two panels of 600x400", im.w, im.h);
    float rgb[3];
    sal_plot_color(0, rgb);
    double cx, cy;
    ck_assert_msg(find_colour(im, rgb, &cx, &cy, im.w) > 100, "the first group's colour is missing");
    free_image(im);
    // an unknown column, a short row, a missing file: exit 1 naming them
    snprintf(args, sizeof args, "chart %s %s -x step -y lost", csv, png);
    rc = run(args, out, sizeof out);
    ck_assert_msg(rc == 1 && strstr(out, "no column 'lost'") && strstr(out, "loss, R"), "exit %d: %s", rc, out);
    char bad[512];
    tu_path(bad, sizeof bad, "bad.csv");
    tu_write_text(bad, "a,b\n1,2\n3\n");
    snprintf(args, sizeof args, "chart %s %s -x a -y b", bad, png);
    rc = run(args, out, sizeof out);
    ck_assert_msg(rc == 1 && strstr(out, "line 3 has 1 values"), "exit %d: %s", rc, out);
    snprintf(args, sizeof args, "chart %s/none.csv %s -x a -y b", tu_tmpdir(), png);
    rc = run(args, out, sizeof out);
    ck_assert_msg(rc == 1 && strstr(out, "none.csv"), "exit %d: %s", rc, out);
}
END_TEST

START_TEST(montage_puts_pictures_in_rows)
{
    char p[4][512], outp[512], args[4096], out[8192];
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "mont%d", i);
        tu_path(p[i], sizeof p[i], name);
        image im = make_image(10, 10, 3);
        fill_image(im, i / 4.0f);
        save_image_options(im, p[i], PNG, 0);
        free_image(im);
    }
    tu_path(outp, sizeof outp, "montage.png");
    snprintf(args, sizeof args, "montage %s %s.png %s.png %s.png %s.png -cols 2 -height 50 -rows 'one|two'", outp, p[0], p[1], p[2], p[3]);
    int rc = run(args, out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "4 pictures, 2 rows of 2"), "exit %d: %s", rc, out);
    image im = load_image_color(outp, 0, 0);
    ck_assert_msg(im.h >= 100 && im.w >= 100, "%dx%d", im.w, im.h);
    // picture 3 (value 0.75) is in the second row, right column: somewhere there is its grey
    int found = 0;
    for (int y = im.h / 2; y < im.h && !found; y++)
        for (int x = im.w / 2; x < im.w && !found; x++)
            found = fabsf(im.data[y * im.w + x] - 0.75f) < 0.01f;
    ck_assert_msg(found, "the fourth picture is not in the lower right");
    free_image(im);
    snprintf(args, sizeof args, "montage %s %s/none.png", outp, tu_tmpdir());
    rc = run(args, out, sizeof out);
    ck_assert_msg(rc == 1 && strstr(out, "none.png"), "exit %d: %s", rc, out);
}
END_TEST

Suite *make_chart_suite(void)
{
    Suite *s = suite_create("chart");
    TCase *tc = tcase_create("chart");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, plot_xy_puts_curves_where_their_values_say);
    tcase_add_test(tc, chart_draws_a_csv_and_names_bad_input);
    tcase_add_test(tc, montage_puts_pictures_in_rows);
    suite_add_tcase(s, tc);
    return s;
}
