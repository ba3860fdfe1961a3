// resample.c: bilinear resampling and its transpose (resample.h).
#include "resample.h"

// the two input indices and the weight of the second for output index i of n from m
static void taps(int i, int n, int m, int *a, int *b, float *t)
{
    double s = (i + 0.5) * m / n - 0.5;
    if (s < 0) s = 0;
    int lo = (int)s;
    if (lo > m - 1) lo = m - 1;
    *a = lo;
    *b = lo + 1 < m ? lo + 1 : m - 1;
    *t = (float)(s - lo);
    if (*b == *a) *t = 0;
}

void rs_bilinear(const float *in, int ih, int iw, float *out, int oh, int ow)
{
    for (int y = 0; y < oh; y++) {
        int y0, y1;
        float ty;
        taps(y, oh, ih, &y0, &y1, &ty);
        for (int x = 0; x < ow; x++) {
            int x0, x1;
            float tx;
            taps(x, ow, iw, &x0, &x1, &tx);
            float top = in[y0 * iw + x0] * (1 - tx) + in[y0 * iw + x1] * tx;
            float bot = in[y1 * iw + x0] * (1 - tx) + in[y1 * iw + x1] * tx;
            out[y * ow + x] = top * (1 - ty) + bot * ty;
        }
    }
}

void rs_bilinear_t(const float *dout, int oh, int ow, float *din, int ih, int iw)
{
    for (int y = 0; y < oh; y++) {
        int y0, y1;
        float ty;
        taps(y, oh, ih, &y0, &y1, &ty);
        for (int x = 0; x < ow; x++) {
            int x0, x1;
            float tx;
            taps(x, ow, iw, &x0, &x1, &tx);
            float d = dout[y * ow + x];
            din[y0 * iw + x0] += d * (1 - ty) * (1 - tx);
            din[y0 * iw + x1] += d * (1 - ty) * tx;
            din[y1 * iw + x0] += d * ty * (1 - tx);
            din[y1 * iw + x1] += d * ty * tx;
        }
    }
}
