// reg.c: the regularizer table of reg.h: each name maps to one function that computes R(g, x) and
// adds scale * ∂R/∂g, built from the metrics of metrics.h. The regularizers on normalised inputs
// share one path: ĝ = N_mm(g), x̂ = N_mm(x), metric m(ĝ, x̂) with ∂m/∂ĝ, R = f(m), and the chain
// f'(m) ∂m/∂ĝ back through N_mm.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "reg.h"

// ---- helpers ----------------------------------------------------------------------------------

// -1 when every value is finite, else the first index that is not. Bit test: darknet builds with
// -Ofast, under which isfinite() may be folded to 1.
static long first_nonfinite(const float *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &t[i], sizeof u);
        if ((u & 0x7f800000u) == 0x7f800000u) return (long)i;
    }
    return -1;
}

static int met_to_reg(int e) { return e == MET_OK ? REG_OK : e == MET_ESIZE ? REG_ESIZE : REG_ENOMEM; }

// R = f(m) for a metric value m; *dr = f'(m)
typedef double (*reg_outer)(double m, double *dr);
// m(a, b) and, when da is not NULL, da += ∂m/∂a
typedef int (*reg_metric)(const float *a, const float *b, int c, int h, int w, double *m, float *da);

static int reg_normalised(const float *g, const float *x, int c, int h, int w, reg_metric metric,
                          reg_outer outer, double *value, float *dg, float scale)
{
    // g, x, dg (C, H, W)
    size_t n = (size_t)c * h * w;
    float *buf = met_scratch(MET_SLOT_REG, 3 * n * sizeof(float));
    if (!buf) return REG_ENOMEM;
    float *gh = buf, *xh = buf + n, *dgh = buf + 2 * n;
    mm_info ig, ix;
    mm_forward(g, (int)n, gh, &ig);
    mm_forward(x, (int)n, xh, &ix);
    if (dg) memset(dgh, 0, n * sizeof(float));
    double m = 0, dr = 0;
    int e = metric(gh, xh, c, h, w, &m, dg ? dgh : 0);
    if (e == MET_OK) {
        *value = outer(m, &dr);
        if (dg && dr != 0) mm_backward(gh, (int)n, &ig, dgh, (float)(scale * dr), dg);
    }
    return met_to_reg(e);
}

// ---- standalone regularizers ------------------------------------------------------------------

static int reg_l2(const float *g, const float *x, int c, int h, int w, double *value, float *dg, float scale)
{
    (void)x;
    size_t n = (size_t)c * h * w;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    *value = s / n;
    if (dg) {
        float k = (float)(2.0 * scale / n);
        for (size_t i = 0; i < n; i++) dg[i] += k * g[i];
    }
    return REG_OK;
}

static int reg_tv(const float *g, const float *x, int c, int h, int w, double *value, float *dg, float scale)
{
    (void)x;
    size_t n = (size_t)c * h * w;
    float *d = 0;
    if (dg) {
        if (!(d = met_scratch(MET_SLOT_REG, n * sizeof(float)))) return REG_ENOMEM;
        memset(d, 0, n * sizeof(float));
    }
    *value = tv_metric(g, c, h, w, d);
    if (d)
        for (size_t i = 0; i < n; i++) dg[i] += scale * d[i];
    return REG_OK;
}

// TV(sum_c |g_c|) * k, adding scale * k * ∂/∂g
static int tv_abs_scaled(const float *g, int c, int h, int w, double k, double *value, float *dg, float scale)
{
    size_t hw = (size_t)h * w;
    float *buf = met_scratch(MET_SLOT_REG, 2 * hw * sizeof(float));
    if (!buf) return REG_ENOMEM;
    memset(buf, 0, 2 * hw * sizeof(float));
    float *m = buf, *dm = buf + hw;
    for (int ch = 0; ch < c; ch++)
        for (size_t i = 0; i < hw; i++) m[i] += fabsf(g[ch * hw + i]);
    *value = k * tv_metric(m, 1, h, w, dg ? dm : 0);
    if (dg) {
        float s = (float)(scale * k);
        for (int ch = 0; ch < c; ch++)
            for (size_t i = 0; i < hw; i++) {
                float v = g[ch * hw + i];
                dg[ch * hw + i] += s * dm[i] * (float)((v > 0) - (v < 0));
            }
    }
    return REG_OK;
}

static int reg_tv_abs(const float *g, const float *x, int c, int h, int w, double *value, float *dg, float scale)
{
    // sum over channels of 1/sigma_c(x), population std; constant channels add 0
    size_t hw = (size_t)h * w;
    double k = 0;
    for (int ch = 0; ch < c; ch++) {
        double mu, sd;
        met_mean_sd(x + ch * hw, (int)hw, &mu, &sd);
        if (sd >= MET_SD_MIN) k += 1.0 / sd;
    }
    return tv_abs_scaled(g, c, h, w, k, value, dg, scale);
}

static int reg_tv_abs_unscaled(const float *g, const float *x, int c, int h, int w, double *value, float *dg, float scale)
{
    (void)x;
    return tv_abs_scaled(g, c, h, w, 1.0, value, dg, scale);
}

// ---- cor: raw g and x -----------------------------------------------------------------------------

static int reg_cor(const float *g, const float *x, int c, int h, int w, double *value, float *dg, float scale)
{
    // rho (C), drho (C)
    double *rho = malloc(2 * (size_t)c * sizeof(double));
    if (!rho) return REG_ENOMEM;
    double *drho = rho + c;
    int hw = h * w;
    pearson_forward(g, x, c, hw, rho);
    double s = 0;
    for (int ch = 0; ch < c; ch++) {
        s += rho[ch] * rho[ch];
        drho[ch] = -2.0 * scale * rho[ch] / c;
    }
    *value = 1.0 - s / c;
    if (dg) pearson_backward(g, x, c, hw, drho, dg);
    free(rho);
    return REG_OK;
}

// ---- reference-point regularizers on N_mm inputs ------------------------------------------------

static int met_mse(const float *a, const float *b, int c, int h, int w, double *m, float *da)
{
    *m = mse_metric(a, b, c * h * w, da);
    return MET_OK;
}

static int met_graddiff(const float *a, const float *b, int c, int h, int w, double *m, float *da)
{
    *m = graddiff_metric(a, b, c, h, w, da);
    return MET_OK;
}

static int met_hvs(const float *a, const float *b, int c, int h, int w, double *m, float *da)
{
    return hvs_error(a, b, c, h, w, 0, m, da);
}

static int met_hvsm(const float *a, const float *b, int c, int h, int w, double *m, float *da)
{
    return hvs_error(a, b, c, h, w, 1, m, da);
}

static double out_id(double m, double *dr) { *dr = 1; return m; }
static double out_neg(double m, double *dr) { *dr = -1; return -m; }
static double out_sqrt(double m, double *dr)
{
    double r = sqrt(m + 1e-12);
    *dr = 0.5 / r;
    return r;
}

// 1/PSNR for an MSE-like error m, with the guards of the spec: m = 0 -> 0, PSNR < 0.01 dB -> 100
static double inv_psnr(double m, double *dr)
{
    *dr = 0;
    if (!(m > 0)) return 0;
    double p = psnr_db(m);
    if (!(p >= 0.01)) return 100;
    *dr = 10.0 / (p * p * m * log(10.0));
    return 1.0 / p;
}
static double out_psnr(double m, double *dr) { return inv_psnr(m, dr); }
// PSNR-HVS: S <= 1e-10 is capped at 100 dB (R = 0.01, gradient 0)
static double out_hvs(double s, double *dr)
{
    if (s <= 1e-10) { *dr = 0; return 0.01; }
    return inv_psnr(s, dr);
}

#define REG_NORMALISED(fname, metric, outer) \
    static int fname(const float *g, const float *x, int c, int h, int w, double *value, float *dg, float scale) \
    { return reg_normalised(g, x, c, h, w, metric, outer, value, dg, scale); }

REG_NORMALISED(reg_mse, met_mse, out_id)
REG_NORMALISED(reg_graddiff, met_graddiff, out_sqrt)
REG_NORMALISED(reg_sobel, sobel_metric, out_id)
REG_NORMALISED(reg_psnr, met_mse, out_psnr)
REG_NORMALISED(reg_psnr_hvs, met_hvs, out_hvs)
REG_NORMALISED(reg_psnr_hvsm, met_hvsm, out_hvs)
REG_NORMALISED(reg_ssim, ssim_gauss, out_neg)
REG_NORMALISED(reg_ssim_box, ssim_box, out_neg)

// ---- the table ------------------------------------------------------------------------------------

static const reg_def reg_table[] = {
    {"l2", reg_l2, 0, 1},
    {"tv", reg_tv, 0, 1},
    {"tv_abs", reg_tv_abs, 1, 1},
    {"tv_abs_unscaled", reg_tv_abs_unscaled, 0, 1},
    {"mse", reg_mse, 1, 1},
    {"cor", reg_cor, 1, 1},
    {"grad_diff", reg_graddiff, 1, 1},
    {"sobel_edges", reg_sobel, 1, 2},
    {"psnr", reg_psnr, 1, 1},
    {"psnr_hvs", reg_psnr_hvs, 1, MET_BLOCK},
    {"psnr_hvsm", reg_psnr_hvsm, 1, MET_BLOCK},
    {"ssim", reg_ssim, 1, MET_SSIM_WIN},
    {"ssim_unfiltered", reg_ssim_box, 1, MET_BLOCK},
};
#define REG_N ((int)(sizeof reg_table / sizeof reg_table[0]))

// "l2, tv, ...": the names of the table, made once
const char *reg_names(void)
{
    static char list[512];
    if (!list[0])
        for (int i = 0; i < REG_N; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", reg_table[i].name);
    return list;
}
int reg_count(void) { return REG_N; }
const reg_def *reg_at(int i) { return i >= 0 && i < REG_N ? &reg_table[i] : 0; }

const reg_def *reg_lookup(const char *name, char *err, size_t errlen)
{
    for (int i = 0; name && i < REG_N; i++)
        if (!strcmp(name, reg_table[i].name)) return &reg_table[i];
    if (err && errlen) snprintf(err, errlen, "unknown regularizer '%s': valid names are %s", name ? name : "(null)", reg_names());
    return 0;
}

const char *reg_strerror(int code)
{
    switch (code) {
    case REG_OK: return "ok";
    case REG_ESIZE: return "image too small";
    case REG_ENOMEM: return "out of memory";
    case REG_EINPUT: return "NaN or Inf in the input";
    case REG_EUNKNOWN: return "unknown regularizer";
    }
    return "unknown error";
}

// checks one image's inputs; fills err (prefixed with the image index when batch >= 0)
static int reg_check(const reg_def *r, const float *g, const float *x, int c, int h, int w, int image,
                     char *err, size_t errlen)
{
    char where[32] = "";
    if (image >= 0) snprintf(where, sizeof where, "image %d: ", image);
    if (!r) {
        if (err && errlen) snprintf(err, errlen, "no regularizer given: valid names are %s", reg_names());
        return REG_EUNKNOWN;
    }
    if (c < 1 || h < r->min_size || w < r->min_size) {
        if (err && errlen) snprintf(err, errlen, "%s%s needs at least %dx%d pixels and 1 channel, got C=%d H=%d W=%d",
                                    where, r->name, r->min_size, r->min_size, c, h, w);
        return REG_ESIZE;
    }
    if (r->needs_x && !x) {
        if (err && errlen) snprintf(err, errlen, "%s%s needs the image, got none", where, r->name);
        return REG_EINPUT;
    }
    size_t hw = (size_t)h * w, n = (size_t)c * hw;
    for (int k = 0; k < 2; k++) {
        const float *t = k ? x : g;
        if (!t) continue;
        long i = first_nonfinite(t, n);
        if (i < 0) continue;
        if (err && errlen) {
            uint32_t u;
            memcpy(&u, &t[i], sizeof u);
            snprintf(err, errlen, "%s%s: %s has %s at c=%ld y=%ld x=%ld", where, r->name, k ? "image" : "heatmap",
                     (u & 0x007fffffu) ? "NaN" : "Inf", i / (long)hw, (i % (long)hw) / w, i % w);
        }
        return REG_EINPUT;
    }
    return REG_OK;
}

int reg_eval(const reg_def *r, const float *g, const float *x, int c, int h, int w,
             double *value, float *dg, float scale, char *err, size_t errlen)
{
    int e = reg_check(r, g, x, c, h, w, -1, err, errlen);
    if (e) return e;
    double v = 0;
    e = r->fn(g, x, c, h, w, &v, dg, scale);
    if (e) {
        if (err && errlen) snprintf(err, errlen, "%s: %s", r->name, reg_strerror(e));
        return e;
    }
    *value = v;
    return REG_OK;
}

int reg_eval_batch(const reg_def *r, const float *g, const float *x, int batch, int c, int h, int w,
                   double *value, float *dg, float scale, char *err, size_t errlen)
{
    // g, x, dg (B, C, H, W); every image is checked before any gradient is added
    size_t n = (size_t)c * h * w;
    for (int b = 0; b < batch; b++) {
        int e = reg_check(r, g + b * n, x ? x + b * n : 0, c, h, w, b, err, errlen);
        if (e) return e;
    }
    double total = 0;
    float s = batch > 0 ? scale / batch : 0;
    // one image per thread (OPENMP=1; the metrics keep their scratch per thread): the values are
    // summed and the first failing image reported in the batch's order, as a serial loop would
    double *v = calloc(batch > 0 ? batch : 1, sizeof(double));
    int *rc = calloc(batch > 0 ? batch : 1, sizeof(int));
    if (!v || !rc) { free(v); free(rc); return REG_ENOMEM; }
    #pragma omp parallel for schedule(dynamic) if (batch > 1 && (long)n * batch >= 32768)
    for (int b = 0; b < batch; b++)
        rc[b] = r->fn(g + b * n, x ? x + b * n : 0, c, h, w, &v[b], dg ? dg + b * n : 0, s);
    for (int b = 0; b < batch; b++) {
        if (rc[b]) {
            int e = rc[b];
            if (err && errlen) snprintf(err, errlen, "image %d: %s: %s", b, r->name, reg_strerror(e));
            free(v); free(rc);
            return e;
        }
        total += v[b];
    }
    free(v); free(rc);
    *value = batch > 0 ? total / batch : 0;
    return REG_OK;
}
