// colormap.c: heatmap -> picture helpers (abs-max and gradient*input maps, jet overlay).
#include <math.h>
#include "colormap.h"

static void scale_to_unit(float *v, int n)
{
    float m = 0;
    for (int i = 0; i < n; i++) if (v[i] > m) m = v[i];
    for (int i = 0; i < n; i++) v[i] = m > 0 ? v[i] / m : 0;
}

void cmap_abs_max(const float *g, int c, int h, int w, float *out)
{
    int n = h * w;
    for (int i = 0; i < n; i++) {
        float m = 0;
        for (int k = 0; k < c; k++) { float a = fabsf(g[k * n + i]); if (a > m) m = a; }
        out[i] = m;
    }
    scale_to_unit(out, n);
}

void cmap_gradxinput(const float *g, const float *x, int c, int h, int w, float *out)
{
    int n = h * w;
    for (int i = 0; i < n; i++) {
        float s = 0;
        for (int k = 0; k < c; k++) s += g[k * n + i] * x[k * n + i];
        out[i] = fabsf(s);
    }
    scale_to_unit(out, n);
}

void cmap_jet(float v, float rgb[3])
{
    if (!(v >= 0)) v = 0;
    if (v > 1) v = 1;
    float r = 1.5f - fabsf(4 * v - 3), g = 1.5f - fabsf(4 * v - 2), b = 1.5f - fabsf(4 * v - 1);
    rgb[0] = r < 0 ? 0 : r > 1 ? 1 : r;
    rgb[1] = g < 0 ? 0 : g > 1 ? 1 : g;
    rgb[2] = b < 0 ? 0 : b > 1 ? 1 : b;
}

void cmap_overlay(const float *heat, const float *image, int c, int h, int w, float alpha, float *out)
{
    int n = h * w;
    for (int i = 0; i < n; i++) {
        float rgb[3];
        cmap_jet(heat[i], rgb);
        for (int k = 0; k < 3; k++) {
            float px = image[(c == 3 ? k : 0) * n + i];
            out[k * n + i] = alpha * rgb[k] + (1 - alpha) * px;
        }
    }
}
