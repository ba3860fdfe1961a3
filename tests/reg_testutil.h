// reg_testutil.h: what check_metrics.c and check_reg.c share: a reader for the golden-value files of
// tests/fixtures/ (made by make_reg_fixtures.py), the gradient checker set up for them (testutil.h's
// tu_fd_check), and small input generators. Static functions: each test file includes it once.
#ifndef REG_TESTUTIL_H
#define REG_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"

// ---- fixture files: `key count v1 ... vcount` per line, '#' comments ------------------------------

typedef struct { char key[64]; int n; double *v; } fx_rec;
typedef struct { fx_rec *r; int n; char path[256]; } fx_file;

static void fx_load(fx_file *f, const char *name)
{
    const char *dirs[] = {"tests/fixtures/", "../tests/fixtures/", "../../tests/fixtures/"};
    FILE *fp = 0;
    for (int i = 0; i < 3 && !fp; i++) {
        snprintf(f->path, sizeof f->path, "%s%s", dirs[i], name);
        fp = fopen(f->path, "r");
    }
    ck_assert_msg(fp != 0, "fixture %s not found under tests/fixtures/ (run the tests from the repo root)", name);
    f->r = 0;
    f->n = 0;
    char key[64];
    while (fscanf(fp, "%63s", key) == 1) {
        if (key[0] == '#') {
            int ch;
            while ((ch = fgetc(fp)) != EOF && ch != '\n') {}
            continue;
        }
        fx_rec rec;
        memset(&rec, 0, sizeof rec);
        strcpy(rec.key, key);
        ck_assert_msg(fscanf(fp, "%d", &rec.n) == 1 && rec.n > 0, "%s: record '%s' has no count", f->path, key);
        rec.v = malloc((size_t)rec.n * sizeof(double));
        for (int i = 0; i < rec.n; i++)
            ck_assert_msg(fscanf(fp, "%lf", &rec.v[i]) == 1, "%s: record '%s' is short (%d of %d values)", f->path, key, i, rec.n);
        f->r = realloc(f->r, (size_t)(f->n + 1) * sizeof(fx_rec));
        f->r[f->n++] = rec;
    }
    fclose(fp);
}

// the record called key; fails the test when it is missing or has another size (n < 0: any)
static const fx_rec *fx_get(const fx_file *f, const char *key, int n)
{
    for (int i = 0; i < f->n; i++) {
        if (strcmp(f->r[i].key, key)) continue;
        ck_assert_msg(n < 0 || f->r[i].n == n, "%s: record '%s' has %d values, expected %d", f->path, key, f->r[i].n, n);
        return &f->r[i];
    }
    ck_abort_msg("%s: no record '%s'", f->path, key);
    return 0;
}

// a float copy of a record's values (the inputs were float32, so this is exact)
static float *fx_floats(const fx_file *f, const char *key, int n)
{
    const fx_rec *r = fx_get(f, key, n);
    float *t = malloc((size_t)n * sizeof(float));
    for (int i = 0; i < n; i++) t[i] = (float)r->v[i];
    return t;
}

static void fx_free(fx_file *f)
{
    for (int i = 0; i < f->n; i++) free(f->r[i].v);
    free(f->r);
}

// ---- inputs -----------------------------------------------------------------------------------

// the suites' one generator (testutil.h), one stream for the regularizer and metric tests
static uint64_t rt_rng = 88172645463325252ull;
static double rt_uniform(void) { return tu_uniform(&rt_rng); }
static void rt_fill_uniform(float *t, int n, double lo, double hi)
{
    for (int i = 0; i < n; i++) t[i] = (float)(lo + (hi - lo) * rt_uniform());
}

// A structured plane set (C, H, W): a smooth ramp, a vertical edge at W/2, and a constant patch
// that takes the maximum value (a tie at the max, kinks of |.| inside it). kind varies the mix.
static void rt_fill_structured(float *t, int c, int h, int w, int kind)
{
    float top = -1e30f;
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                float v = (kind ? 0.07f : 0.03f) * j + 0.05f * i * (ch + 1) + (j >= w / 2 ? (kind ? 0.8f : -0.6f) : 0);
                if (kind == 2) v = 0.3f * sinf(0.9f * j + ch) * cosf(0.7f * i);
                t[(ch * h + i) * w + j] = v;
                if (v > top) top = v;
            }
    // the patch: rows 1..3, cols 1..3 of channel 0 set to the maximum
    for (int i = 1; i < h && i < 4; i++)
        for (int j = 1; j < w && j < 4; j++) t[i * w + j] = top;
}

// ---- central differences ------------------------------------------------------------------------

// The regularizer and metric checks: steps h and h/2 and the one-sided slopes (testutil.h's
// checker); max_checks elements at most, spread evenly (0: all).
static tu_fd_stats rt_fd_check(const char *op, tu_fn fn, void *ctx, float *t, int n, const float *u,
                               double h, double rtol, double atol, int max_checks)
{
    tu_fd_opts o = {h, 2, 1, 1e-12, atol, rtol, 0.01};
    int stride = (max_checks > 0 && n > max_checks) ? (n + max_checks - 1) / max_checks : 1;
    return tu_fd_check(op, fn, ctx, t, n, u, NULL, 0, stride, o);
}

#endif
