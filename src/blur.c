// blur.c: separable Gaussian blur with zero padding (blur.h).
#include <math.h>
#include <stdlib.h>

#include "blur.h"

// k (size) = the normalised 1-D Gaussian; its outer product is the 2-D kernel normalised to sum 1
static double *kernel(int size, double sigma)
{
    if (size < 1 || !(size % 2) || !(sigma > 0)) return NULL;
    double *k = malloc(size * sizeof(double)), s = 0;
    if (!k) return NULL;
    for (int i = 0; i < size; i++) {
        double d = i - size / 2;
        k[i] = exp(-d * d / (2 * sigma * sigma));
        s += k[i];
    }
    for (int i = 0; i < size; i++) k[i] /= s;
    return k;
}

int blur_gauss(const float *x, int c, int h, int w, int size, double sigma, float *out)
{
    // x (C, H, W), out (C, H, W); rows first into t (H, W) per channel, then columns
    double *k = kernel(size, sigma);
    float *t = malloc((size_t)h * w * sizeof(float));
    if (!k || !t) { free(k); free(t); return -1; }
    int r = size / 2;
    for (int ch = 0; ch < c; ch++) {
        const float *p = x + (size_t)ch * h * w;
        float *o = out + (size_t)ch * h * w;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                double s = 0;
                int a = j - r < 0 ? r - j : 0, b = j + r >= w ? r + (w - 1 - j) : size - 1;
                for (int q = a; q <= b; q++) s += k[q] * p[i * w + j - r + q];
                t[i * w + j] = (float)s;
            }
        for (int i = 0; i < h; i++) {
            int a = i - r < 0 ? r - i : 0, b = i + r >= h ? r + (h - 1 - i) : size - 1;
            for (int j = 0; j < w; j++) {
                double s = 0;
                for (int q = a; q <= b; q++) s += k[q] * t[(i - r + q) * w + j];
                o[i * w + j] = (float)s;
            }
        }
    }
    free(k);
    free(t);
    return 0;
}

int blur_gauss_naive(const float *x, int c, int h, int w, int size, double sigma, float *out)
{
    double *k = kernel(size, sigma);
    if (!k) return -1;
    int r = size / 2;
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                double s = 0;
                for (int u = -r; u <= r; u++)
                    for (int v = -r; v <= r; v++) {
                        int y = i + u, z = j + v;
                        if (y < 0 || y >= h || z < 0 || z >= w) continue;
                        s += k[u + r] * k[v + r] * x[((size_t)ch * h + y) * w + z];
                    }
                out[((size_t)ch * h + i) * w + j] = (float)s;
            }
    free(k);
    return 0;
}
