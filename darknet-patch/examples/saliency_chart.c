/* saliency_chart.c: `darknet saliency chart`, a line chart of a CSV's columns as a PNG (the Pareto
   frontier of `make science`, the training curves of `make demo`): one panel per -y column, side by
   side, one curve per value of the -group column (in the order they first appear), in darknet's
   own letters (saliency_plot.h). Plain CSV: a header line of names, comma-separated values, no
   quoting; an empty or non-numeric value is skipped (its curve joins the points around it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "saliency_util.h"
#include "saliency_plot.h"

#define CHART_MAX_COLS 64
#define CHART_MAX_PANELS 4
#define CHART_MAX_GROUPS 40

typedef struct { char **cell; int ncols; } row;

/* splits line (modified) at commas into at most max cells */
static int split(char *line, char **cells, int max)
{
    int n = 0;
    char *p = line;
    for(;;){
        if(n == max) return -1;
        cells[n++] = p;
        char *c = strchr(p, ',');
        if(!c) break;
        *c = 0;
        p = c + 1;
    }
    char *end = cells[n-1] + strlen(cells[n-1]);
    while(end > cells[n-1] && (end[-1] == '\n' || end[-1] == '\r')) *--end = 0;
    return n;
}

static int column(char **head, int nh, const char *name, const char *csv)
{
    int i;
    for(i = 0; i < nh; ++i) if(!strcmp(head[i], name)) return i;
    char cols[1024] = "";
    for(i = 0; i < nh; ++i) snprintf(cols + strlen(cols), sizeof(cols) - strlen(cols), "%s%s", i ? ", " : "", head[i]);
    sal_die("chart: '%s' has no column '%s' (its columns: %s)", csv, name, cols);
}

static double number(const char *s)
{
    char *end;
    if(!s[0]) return NAN;
    double v = strtod(s, &end);
    return *end || !isfinite(v) ? NAN : v;
}

void saliency_chart(int argc, char **argv)
{
    static const char *flags[] = {"-x", "-y", "-group", "-title", "-xlabel", "-ylabel", "-width", "-height", "-points", "-xlim", "-ylim", 0};
    if(argc < 5){ saliency_usage_of("chart"); exit(1); }
    char *csv = argv[3], *out = argv[4];
    sal_check_flags(argc, argv, 5, flags);
    char *xcol = sal_flag_str(argc, argv, "-x", NULL), *ycols = sal_flag_str(argc, argv, "-y", NULL);
    if(!xcol || !ycols) sal_die("chart: -x and -y name the columns to draw");
    char *gcol = sal_flag_str(argc, argv, "-group", NULL);
    char *title = sal_flag_str(argc, argv, "-title", "");
    char *xlabel = sal_flag_str(argc, argv, "-xlabel", xcol);
    char *ylabel = sal_flag_str(argc, argv, "-ylabel", NULL);
    int width = sal_flag_int(argc, argv, "-width", 900, 200, 8000);
    int height = sal_flag_int(argc, argv, "-height", 560, 150, 8000);
    int points = sal_flag_int(argc, argv, "-points", 0, 0, 1);
    double lim[2][2];
    int haslim[2] = {0, 0}, a;
    for(a = 0; a < 2; ++a){
        char *v = sal_flag_str(argc, argv, a ? "-ylim" : "-xlim", NULL);
        if(!v) continue;
        char *end;
        lim[a][0] = strtod(v, &end);
        if(*end != ':') sal_die("chart: %s %s: want LO:HI, two numbers", a ? "-ylim" : "-xlim", v);
        char *b = end + 1;
        lim[a][1] = strtod(b, &end);
        if(*end || end == b || !isfinite(lim[a][0]) || !isfinite(lim[a][1]) || !(lim[a][0] < lim[a][1]))
            sal_die("chart: %s %s: want LO:HI, two finite numbers with LO < HI", a ? "-ylim" : "-xlim", v);
        haslim[a] = 1;
    }

    FILE *f = fopen(csv, "r");
    if(!f) sal_die("chart: cannot open '%s'", csv);
    char line[8192], *head[CHART_MAX_COLS], headbuf[8192];
    if(!fgets(headbuf, sizeof(headbuf), f)) sal_die("chart: '%s' is empty (no header line)", csv);
    int nh = split(headbuf, head, CHART_MAX_COLS);
    if(nh < 0) sal_die("chart: '%s' has more than %d columns", csv, CHART_MAX_COLS);
    int xi = column(head, nh, xcol, csv), gi = gcol ? column(head, nh, gcol, csv) : -1;
    char ybuf[1024], *ynames[CHART_MAX_PANELS];
    snprintf(ybuf, sizeof(ybuf), "%s", ycols);
    int ny = split(ybuf, ynames, CHART_MAX_PANELS), yi[CHART_MAX_PANELS], p;
    if(ny < 0) sal_die("chart: -y %s: at most %d columns", ycols, CHART_MAX_PANELS);
    for(p = 0; p < ny; ++p) yi[p] = column(head, nh, ynames[p], csv);

    /* the rows, grouped */
    char *groups[CHART_MAX_GROUPS];
    int ng = 0, nrows = 0, cap = 256, lineno = 1;
    int *grp = malloc(sizeof(int)*cap);
    double *x = malloc(sizeof(double)*cap), *y = malloc(sizeof(double)*cap*CHART_MAX_PANELS);
    while(fgets(line, sizeof(line), f)){
        ++lineno;
        char *cells[CHART_MAX_COLS];
        if(line[0] == '\n' || line[0] == '\r' || line[0] == 0) continue;
        int n = split(line, cells, CHART_MAX_COLS);
        if(n != nh) sal_die("chart: '%s' line %d has %d values, its header %d", csv, lineno, n, nh);
        const char *g = gi >= 0 ? cells[gi] : "";
        int k;
        for(k = 0; k < ng && strcmp(groups[k], g); ++k);
        if(k == ng){
            if(ng == CHART_MAX_GROUPS) sal_die("chart: '%s': more than %d values of -group %s", csv, CHART_MAX_GROUPS, gcol);
            groups[ng++] = strdup(g);
        }
        if(nrows == cap){
            cap *= 2;
            grp = realloc(grp, sizeof(int)*cap);
            x = realloc(x, sizeof(double)*cap);
            y = realloc(y, sizeof(double)*cap*CHART_MAX_PANELS);
        }
        grp[nrows] = k;
        x[nrows] = number(cells[xi]);
        for(p = 0; p < ny; ++p) y[(size_t)nrows*CHART_MAX_PANELS + p] = number(cells[yi[p]]);
        ++nrows;
    }
    fclose(f);
    if(nrows == 0) sal_die("chart: '%s' has no rows", csv);

    /* per panel: the curves one after the other, in the order of their rows */
    image panels[CHART_MAX_PANELS];
    float (*rgb)[3] = malloc(sizeof(float[3])*ng);
    int *npts = calloc(ng, sizeof(int)), g, r;
    for(g = 0; g < ng; ++g) sal_plot_color(g, rgb[g]);
    double *xs = malloc(sizeof(double)*nrows), *ys = malloc(sizeof(double)*nrows);
    for(p = 0; p < ny; ++p){
        int o = 0;
        for(g = 0; g < ng; ++g){
            npts[g] = 0;
            for(r = 0; r < nrows; ++r){
                if(grp[r] != g) continue;
                xs[o] = x[r];
                ys[o] = y[(size_t)r*CHART_MAX_PANELS + p];
                ++o;
                ++npts[g];
            }
        }
        sal_axes ax = sal_axes_around(xs, ys, nrows);
        if(haslim[0]){ ax.x0 = lim[0][0]; ax.x1 = lim[0][1]; }
        if(haslim[1]){ ax.y0 = lim[1][0]; ax.y1 = lim[1][1]; }
        ax.markers = points;
        char t[512];
        snprintf(t, sizeof(t), "%s%s%s", title, title[0] && ny > 1 ? ": " : "", ny > 1 || !title[0] ? ynames[p] : "");
        panels[p] = sal_plot_xy(t, xlabel, ylabel ? ylabel : ynames[p], xs, ys, npts, ng, (const char *const *)groups,
                                (const float (*)[3])rgb, ax, width, height);
    }
    image all = ny == 1 ? panels[0] : sal_montage(panels, NULL, ny, panels[0].h);
    /* sal_save_png appends ".png" */
    char prefix[4096];
    snprintf(prefix, sizeof(prefix), "%s", out);
    size_t L = strlen(prefix);
    if(L > 4 && !strcmp(prefix + L - 4, ".png")) prefix[L - 4] = 0;
    sal_save_png(all, prefix);
    printf("chart: %s.png (%d rows, %d curves, %d panels)\n", prefix, nrows, ng, ny);
    if(ny > 1) free_image(all);
    for(p = 0; p < ny; ++p) free_image(panels[p]);
    for(g = 0; g < ng; ++g) free(groups[g]);
    free(rgb); free(npts); free(xs); free(ys); free(grp); free(x); free(y);
}
