/* saliency_plot.h: line plots as darknet images (darknet layer glue), e.g. the mean insertion and
   deletion curves of `saliency insdel -plot`. Text in darknet's own label letters (sal_letters);
   without them the plot has no text. */
#ifndef SALIENCY_PLOT_H
#define SALIENCY_PLOT_H

#include "darknet.h"

/* the colour of curve i (matplotlib's tab10, then its colours darker, then lighter, then again) */
void sal_plot_color(int i, float rgb[3]);

/* A width x height picture on white: m curves ys (m, npts) over xs (npts), both axes from 0 to 1
   with ticks at every 0.25 (labelled, a light grid), the x axis named xlabel (below it), the y axis ylabel (above it), title above, and on
   the right a legend: for each curve a line in its colour rgb[i] and its text legend[i]. */
image sal_plot(const char *title, const char *xlabel, const char *ylabel, const double *xs, const double *ys, int m, int npts,
               const char *const *legend, const float (*rgb)[3], int width, int height);

/* The axes of sal_plot_xy: the ranges shown (x0 < x1, y0 < y1), the distance between ticks (0: a
   1, 2 or 5 times a power of ten that gives about 5 ticks), and whether each point gets a marker. */
typedef struct { double x0, x1, y0, y1, xtick, ytick; int markers; } sal_axes;

/* sal_axes around the points (xs, ys) (n of them, NaN skipped), a twentieth of each range added on
   both sides; a range of one value is widened to one unit around it. */
sal_axes sal_axes_around(const double *xs, const double *ys, int n);

/* The same picture as sal_plot on any axes: curve i has npts[i] points, xs and ys hold the curves one
   after the other; the lines x = 0 and y = 0 are drawn when they fall inside; points outside are
   clipped; a NaN point is skipped (the curve joins its neighbours). With ax.markers each point is a small
   square. */
image sal_plot_xy(const char *title, const char *xlabel, const char *ylabel, const double *xs, const double *ys,
                  const int *npts, int m, const char *const *legend, const float (*rgb)[3], sal_axes ax, int width, int height);

#endif
