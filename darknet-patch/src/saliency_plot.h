/* saliency_plot.h: line plots as darknet images (darknet layer glue), e.g. the mean insertion and
   deletion curves of `saliency insdel -plot`. Text in darknet's own label letters (sal_letters);
   without them the plot has no text. */
#ifndef SALIENCY_PLOT_H
#define SALIENCY_PLOT_H

#include "darknet.h"

/* the colour of curve i (a fixed palette of 10 colours, then again) */
void sal_plot_color(int i, float rgb[3]);

/* A width x height picture on white: m curves ys (m, npts) over xs (npts), both axes from 0 to 1
   with ticks at every 0.25 (labelled, a light grid), the x axis named xlabel (below it), the y axis ylabel (above it), title above, and on
   the right a legend: for each curve a line in its colour rgb[i] and its text legend[i]. */
image sal_plot(const char *title, const char *xlabel, const char *ylabel, const double *xs, const double *ys, int m, int npts,
               const char *const *legend, const float (*rgb)[3], int width, int height);

#endif
