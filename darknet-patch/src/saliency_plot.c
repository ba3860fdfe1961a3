/* saliency_plot.c: line plots with axes, ticks and a legend in darknet's label letters (saliency_plot.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
    /* the second ten darker, the third lighter: up to 30 curves told apart */
    int k, round = (i / 10) % 3;
    memcpy(rgb, tab10[(i % 10 + 10) % 10], 3*sizeof(float));
    for(k = 0; k < 3; ++k) rgb[k] = round == 1 ? 0.55f*rgb[k] : round == 2 ? rgb[k] + 0.5f*(1 - rgb[k]) : rgb[k];
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

/* the tick distance for a range: 1, 2 or 5 times a power of ten, about 5 ticks */
static double nice_tick(double range)
{
    double raw = range/5, p = pow(10, floor(log10(raw))), f = raw/p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10)*p;
}

sal_axes sal_axes_around(const double *xs, const double *ys, int n)
{
    sal_axes ax = {INFINITY, -INFINITY, INFINITY, -INFINITY, 0, 0, 0};
    int i;
    for(i = 0; i < n; ++i){
        if(isnan(xs[i]) || isnan(ys[i])) continue;
        ax.x0 = fmin(ax.x0, xs[i]); ax.x1 = fmax(ax.x1, xs[i]);
        ax.y0 = fmin(ax.y0, ys[i]); ax.y1 = fmax(ax.y1, ys[i]);
    }
    if(!(ax.x0 <= ax.x1)){ ax.x0 = 0; ax.x1 = 1; }
    if(!(ax.y0 <= ax.y1)){ ax.y0 = 0; ax.y1 = 1; }
    if(ax.x1 - ax.x0 < 1e-12){ ax.x0 -= 0.5; ax.x1 += 0.5; }
    if(ax.y1 - ax.y0 < 1e-12){ ax.y0 -= 0.5; ax.y1 += 0.5; }
    double dx = (ax.x1 - ax.x0)/20, dy = (ax.y1 - ax.y0)/20;
    ax.x0 -= dx; ax.x1 += dx; ax.y0 -= dy; ax.y1 += dy;
    return ax;
}

image sal_plot_xy(const char *title, const char *xlabel, const char *ylabel, const double *xs, const double *ys,
                  const int *npts, int m, const char *const *legend, const float (*rgb)[3], sal_axes ax, int width, int height)
{
    static const float black[3] = {0, 0, 0}, grid[3] = {0.85f, 0.85f, 0.85f}, zero[3] = {0.55f, 0.55f, 0.55f};
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
    int left = 16 + 6*th, right = legw + 60, top = tb + th + 20, bottom = 2*th + 24;
    int pw = width - left - right, ph = height - top - bottom;
    if(pw < 50) { pw = 50; width = left + right + pw; }
    if(ph < 50) { ph = 50; height = top + bottom + ph; }
    image im = make_image(width, height, 3);
    fill_image(im, 1);
    double xt = ax.xtick > 0 ? ax.xtick : nice_tick(ax.x1 - ax.x0), yt = ax.ytick > 0 ? ax.ytick : nice_tick(ax.y1 - ax.y0);
#define PX(x) (left + ((x) - ax.x0)/(ax.x1 - ax.x0)*pw)
#define PY(y) (top + (1 - ((y) - ax.y0)/(ax.y1 - ax.y0))*ph)
    char buf[32];
    double v;
    for(v = ceil(ax.x0/xt - 1e-9)*xt; v <= ax.x1 + 1e-9*xt; v += xt){
        double t = fabs(v) < 1e-9*xt ? 0 : v;
        line(im, PX(t), PY(ax.y0), PX(t), PY(ax.y1), 1, t == 0 && ax.x0 < 0 ? zero : grid);
        line(im, PX(t), PY(ax.y0), PX(t), PY(ax.y0) + 5, 1, black);
        snprintf(buf, sizeof(buf), "%g", t);
        if(abc){
            image l = get_label(abc, buf, small);
            text(im, buf, (int)PX(t) - l.w/2, (int)PY(ax.y0) + 8, small, 0);
            free_image(l);
        }
    }
    for(v = ceil(ax.y0/yt - 1e-9)*yt; v <= ax.y1 + 1e-9*yt; v += yt){
        double t = fabs(v) < 1e-9*yt ? 0 : v;
        line(im, PX(ax.x0), PY(t), PX(ax.x1), PY(t), 1, t == 0 && ax.y0 < 0 ? zero : grid);
        line(im, PX(ax.x0) - 5, PY(t), PX(ax.x0), PY(t), 1, black);
        snprintf(buf, sizeof(buf), "%g", t);
        if(abc){
            image l = get_label(abc, buf, small);
            text(im, buf, (int)PX(ax.x0) - 8, (int)PY(t) - l.h/2, small, 1);
            free_image(l);
        }
    }
    line(im, PX(ax.x0), PY(ax.y0), PX(ax.x1), PY(ax.y0), 1, black);
    line(im, PX(ax.x0), PY(ax.y0), PX(ax.x0), PY(ax.y1), 1, black);
    /* the curves, clipped to the plot's box */
    image box = make_image(pw + 1, ph + 1, 3);
    int off = 0;
    for(i = 0; i < m; ++i){
        fill_image(box, -1);
        const double *x = xs + off, *y = ys + off;
        int last = -1;   /* a NaN point is skipped: the curve joins its neighbours */
        for(k = 0; k < npts[i]; ++k){
            if(isnan(x[k]) || isnan(y[k])) continue;
            double px = PX(x[k]) - left, py = PY(y[k]) - top;
            if(last >= 0) line(box, PX(x[last]) - left, PY(y[last]) - top, px, py, 2, rgb[i]);
            if(ax.markers) line(box, px, py, px, py, 7, rgb[i]);
            last = k;
        }
        int bx, by, c;
        for(by = 0; by <= ph; ++by)
            for(bx = 0; bx <= pw; ++bx){
                if(box.data[by*box.w + bx] < 0) continue;
                for(c = 0; c < 3; ++c) im.data[(c*im.h + top + by)*im.w + left + bx] = box.data[(c*box.h + by)*box.w + bx];
            }
        off += npts[i];
    }
    free_image(box);
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
        if(ax.markers) line(im, x + 14, y + th/2, x + 14, y + th/2, 7, rgb[i]);
        text(im, legend[i], x + 36, y, small, 0);
    }
#undef PX
#undef PY
    return im;
}

image sal_plot(const char *title, const char *xlabel, const char *ylabel, const double *xs, const double *ys, int m, int npts,
               const char *const *legend, const float (*rgb)[3], int width, int height)
{
    sal_axes ax = {0, 1, 0, 1, 0.25, 0.25, 0};
    int *n = malloc(sizeof(int)*(m > 0 ? m : 1)), i;
    double *x = malloc(sizeof(double)*(size_t)m*npts + 1);
    for(i = 0; i < m; ++i){ n[i] = npts; memcpy(x + (size_t)i*npts, xs, sizeof(double)*npts); }
    image im = sal_plot_xy(title, xlabel, ylabel, x, ys, n, m, legend, rgb, ax, width, height);
    free(n);
    free(x);
    return im;
}
