/* saliency_plot.c: line plots with axes, ticks and a legend in darknet's label letters (saliency_plot.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "saliency_plot.h"
#include "saliency_util.h"
#include "image.h"

void sal_plot_color(int i, float rgb[3])
{
    /* matplotlib's tab10 */
    static const float tab10[10][3] = {{0.122f, 0.467f, 0.706f}, {1.000f, 0.498f, 0.055f}, {0.173f, 0.627f, 0.173f},
                                       {0.839f, 0.153f, 0.157f}, {0.580f, 0.404f, 0.741f}, {0.549f, 0.337f, 0.294f},
                                       {0.890f, 0.467f, 0.761f}, {0.498f, 0.498f, 0.498f}, {0.737f, 0.741f, 0.133f},
                                       {0.090f, 0.745f, 0.812f}};
    memcpy(rgb, tab10[(i % 10 + 10) % 10], 3*sizeof(float));
}

static void put(image im, int x, int y, const float *rgb)
{
    int k;
    if(x < 0 || y < 0 || x >= im.w || y >= im.h) return;
    for(k = 0; k < 3; ++k) im.data[(k*im.h + y)*im.w + x] = rgb[k];
}

/* a line t pixels thick from (x0, y0) to (x1, y1) */
static void line(image im, double x0, double y0, double x1, double y1, int t, const float *rgb)
{
    double dx = x1 - x0, dy = y1 - y0;
    int steps = (int)ceil(fmax(fabs(dx), fabs(dy))) + 1, s, i, j;
    for(s = 0; s <= steps; ++s){
        double x = x0 + dx*s/steps, y = y0 + dy*s/steps;
        for(i = 0; i < t; ++i)
            for(j = 0; j < t; ++j) put(im, (int)lround(x) + i - t/2, (int)lround(y) + j - t/2, rgb);
    }
}

/* text with its top-left corner at (x, y) (darknet's letters: black on a white box); size as
   get_label's (0..79); the width drawn, 0 without letters */
static int text(image im, const char *s, int x, int y, int size, int right)
{
    static const float white[3] = {1, 1, 1};
    image **abc = sal_letters();
    if(!abc || !s[0]) return 0;
    image l = get_label(abc, (char *)s, size);
    int w = l.w;
    if(right) x -= l.w;
    /* draw_label puts the label above row r when it fits there: ask for its bottom row */
    if(y >= 0) draw_label(im, y + l.h, x, l, white);
    free_image(l);
    return w;
}

static int text_height(int size)
{
    image **abc = sal_letters();
    if(!abc) return 0;
    image l = get_label(abc, "0", size);
    int h = l.h;
    free_image(l);
    return h;
}

image sal_plot(const char *title, const char *xlabel, const char *ylabel, const double *xs, const double *ys, int m, int npts,
               const char *const *legend, const float (*rgb)[3], int width, int height)
{
    static const float black[3] = {0, 0, 0}, grid[3] = {0.85f, 0.85f, 0.85f};
    const int small = 0, big = 10;   /* get_label sizes: 11 and 22 pixel letters */
    int th = text_height(small), tb = text_height(big);
    int i, k, legw = 0;
    /* the legend's width: its longest text and a line */
    image **abc = sal_letters();
    for(i = 0; abc && i < m; ++i){
        image l = get_label(abc, (char *)legend[i], small);
        if(l.w > legw) legw = l.w;
        free_image(l);
    }
    int left = 16 + 4*th, right = legw + 60, top = tb + th + 20, bottom = 2*th + 24;
    int pw = width - left - right, ph = height - top - bottom;
    if(pw < 50) { pw = 50; width = left + right + pw; }
    if(ph < 50) { ph = 50; height = top + bottom + ph; }
    image im = make_image(width, height, 3);
    fill_image(im, 1);
#define PX(x) (left + (x)*pw)
#define PY(y) (top + (1 - (y))*ph)
    char buf[32];
    for(k = 0; k <= 4; ++k){
        double v = k/4.0;
        line(im, PX(v), PY(0), PX(v), PY(1), 1, grid);
        line(im, PX(0), PY(v), PX(1), PY(v), 1, grid);
        line(im, PX(v), PY(0), PX(v), PY(0) + 5, 1, black);
        line(im, PX(0) - 5, PY(v), PX(0), PY(v), 1, black);
        snprintf(buf, sizeof(buf), "%g", v);
        if(abc){
            image l = get_label(abc, buf, small);
            text(im, buf, (int)PX(v) - l.w/2, (int)PY(0) + 8, small, 0);
            text(im, buf, (int)PX(0) - 8, (int)PY(v) - l.h/2, small, 1);
            free_image(l);
        }
    }
    line(im, PX(0), PY(0), PX(1), PY(0), 1, black);
    line(im, PX(0), PY(0), PX(0), PY(1), 1, black);
    for(i = 0; i < m; ++i)
        for(k = 1; k < npts; ++k)
            line(im, PX(xs[k-1]), PY(ys[i*npts + k-1]), PX(xs[k]), PY(ys[i*npts + k]), 2, rgb[i]);
    if(abc){
        image l = get_label(abc, (char *)title, big);
        text(im, title, left + (pw - l.w)/2, 6, big, 0);
        free_image(l);
        l = get_label(abc, (char *)xlabel, small);
        text(im, xlabel, left + (pw - l.w)/2, height - th - 8, small, 0);
        free_image(l);
        text(im, ylabel, 4, top - th - 6, small, 0);
    }
    for(i = 0; i < m; ++i){
        int y = top + 6 + i*(th + 8), x = left + pw + 16;
        line(im, x, y + th/2, x + 28, y + th/2, 3, rgb[i]);
        text(im, legend[i], x + 36, y, small, 0);
    }
#undef PX
#undef PY
    return im;
}
