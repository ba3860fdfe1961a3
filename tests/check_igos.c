// check_igos.c: I-GOS and iGOS++ (src/igos.h): the objective against a plain oracle, the descent
// direction against central differences (the gradient of L, and the integrated gradient without
// noise as the gradient of the path-averaged score), the line search's steps, the baseline, the
// region a synthetic network reads found by both methods, batched against batch 1, bad options
// (in-process and through `darknet saliency map`).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "methods.h"
#include "igos.h"
#include "blur.h"
#include "resample.h"
#include "parser.h"
#include "testutil.h"

static network *parsed(const char *cfg, int batch)
{
    char path[512];
    static int count;
    char name[64];
    snprintf(name, sizeof name, "igos%d.cfg", count++);
    tu_path(path, sizeof path, name);
    tu_write_text(path, cfg);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    network *net = dk_parse(path, batch);
    fclose(stderr);
    stderr = saved;
    return net;
}

// ---- a tiny smooth network (no kinks for central differences) -----------------------------------

static const char *SMOOTH_CFG =
    "[net]\nbatch=4\nwidth=8\nheight=6\nchannels=3\n"
    "[convolutional]\nfilters=3\nsize=3\nstride=1\npad=1\nactivation=tanh\n"
    "[connected]\noutput=4\nactivation=linear\n"
    "[softmax]\n";

typedef struct {
    eng *e;
    igos *g;
    const float *x, *b;
    float *masks;           // (nm, mh, mw), perturbed by the checker
    int plus, K, cls, c, h, w, mh, mw;
    double lambda1;
} fd_ctx;

static double objective_fn(void *p)
{
    fd_ctx *c = p;
    double L;
    igos_objective(c->g, c->masks, 1, c->lambda1, &L, NULL);
    return L;
}

// the plain oracle of one score term image: del/ins of a full-size mask m at t
static void oracle_image(const fd_ctx *c, const float *m, int ins, double t, float *out)
{
    int hw = c->h * c->w;
    for (int ch = 0; ch < c->c; ch++)
        for (int i = 0; i < hw; i++) {
            double a = t * m[i], x = c->x[ch * hw + i], b = c->b[ch * hw + i];
            out[ch * hw + i] = (float)(ins ? b * a + x * (1 - a) : x * a + b * (1 - a));
        }
}

static double oracle_p(const fd_ctx *c, const float *img)
{
    float p[16];
    eng_predict(c->e, img, 1, NULL, p);
    return p[c->cls];
}

// the path-averaged score of every term, one image at a time: sum_terms w (1/K) sum_k S(.(m, k/K))
static double oracle_path_score(const fd_ctx *c, const float *masks, int K)
{
    int hw = c->h * c->w, cells = c->mh * c->mw;
    float *u0 = malloc(hw * sizeof(float)), *u1 = malloc(hw * sizeof(float)), *u01 = malloc(hw * sizeof(float));
    float *img = malloc(c->c * hw * sizeof(float));
    rs_bilinear(masks, c->mh, c->mw, u0, c->h, c->w);
    if (c->plus) {
        rs_bilinear(masks + cells, c->mh, c->mw, u1, c->h, c->w);
        for (int i = 0; i < hw; i++) u01[i] = u0[i] * u1[i];
    }
    double s = 0;
    for (int k = 1; k <= K; k++) {
        double t = (double)k / K;
        if (!c->plus) { oracle_image(c, u0, 0, t, img); s += oracle_p(c, img) / K; continue; }
        oracle_image(c, u0, 0, t, img);  s += 0.5 * oracle_p(c, img) / K;
        oracle_image(c, u1, 1, t, img);  s -= 0.5 * oracle_p(c, img) / K;
        oracle_image(c, u01, 0, t, img); s += 0.5 * oracle_p(c, img) / K;
        oracle_image(c, u01, 1, t, img); s -= 0.5 * oracle_p(c, img) / K;
    }
    free(u0); free(u1); free(u01); free(img);
    return s;
}

static double sq(double v) { return v * v; }

// the regularisers written out plainly (igos.h's definitions)
static double oracle_reg(const fd_ctx *c, const float *masks, double lambda2, double sigma)
{
    int mh = c->mh, mw = c->mw, cells = mh * mw, h = c->h, w = c->w, hw = h * w;
    float *P = malloc(cells * sizeof(float)), *U = malloc(hw * sizeof(float));
    for (int i = 0; i < cells; i++) P[i] = c->plus ? masks[i] * masks[cells + i] : masks[i];
    double l1 = 0, tv_v = 0, tv_h = 0;
    for (int i = 0; i < cells; i++) l1 += fabs(1 - P[i]) / cells;
    for (int i = 0; i + 1 < mh; i++) for (int j = 0; j < mw; j++) tv_v += sq(P[(i + 1) * mw + j] - P[i * mw + j]) / ((mh - 1) * mw);
    for (int i = 0; i < mh; i++) for (int j = 0; j + 1 < mw; j++) tv_h += sq(P[i * mw + j + 1] - P[i * mw + j]) / (mh * (mw - 1));
    double r = c->lambda1 * l1;
    if (!c->plus) r += lambda2 * (tv_v + tv_h);
    else {
        rs_bilinear(P, mh, mw, U, h, w);
        double bv = 0, bh = 0;
        for (int i = 0; i + 1 < h; i++)
            for (int j = 0; j < w; j++) {
                double wt = 0;
                for (int ch = 0; ch < c->c; ch++) wt += exp(-sq(c->x[ch * hw + (i + 1) * w + j] - c->x[ch * hw + i * w + j]) / sigma) / c->c;
                bv += wt * sq(U[(i + 1) * w + j] - U[i * w + j]) / ((h - 1) * w);
            }
        for (int i = 0; i < h; i++)
            for (int j = 0; j + 1 < w; j++) {
                double wt = 0;
                for (int ch = 0; ch < c->c; ch++) wt += exp(-sq(c->x[ch * hw + i * w + j + 1] - c->x[ch * hw + i * w + j]) / sigma) / c->c;
                bh += wt * sq(U[i * w + j + 1] - U[i * w + j]) / (h * (w - 1));
            }
        r += lambda2 * 0.5 * (tv_v + tv_h + bv + bh);
    }
    free(P); free(U);
    return r;
}

// the path objective the integrated gradient without noise is the gradient of
static double path_fn(void *p)
{
    fd_ctx *c = p;
    double L, s;
    igos_objective(c->g, c->masks, 1, c->lambda1, &L, &s);
    return oracle_path_score(c, c->masks, c->K) + (L - s);
}

typedef struct { network *net; eng *e; float *x, *b; int c, h, w, n; } smooth_net;

static smooth_net smooth_new(uint64_t seed)
{
    smooth_net s;
    s.net = parsed(SMOOTH_CFG, 0);
    tu_randomize(s.net, seed);
    // larger weights than tu_randomize's: probabilities away from 1/K, gradients of some size
    for (int k = 0; k < s.net->n; k++) {
        layer *l = &s.net->layers[k];
        int nw = l->type == CONNECTED ? l->inputs * l->outputs : l->nweights;
        for (int i = 0; l->weights && i < nw; i++) l->weights[i] *= 3;
    }
    char err[256];
    s.e = eng_init(s.net, err, sizeof err);
    ck_assert_msg(s.e != NULL, "%s", err);
    eng_input_shape(s.e, &s.c, &s.h, &s.w);
    s.n = eng_inputs(s.e);
    s.x = malloc(s.n * sizeof(float));
    s.b = malloc(s.n * sizeof(float));
    uint64_t rng = seed + 11;
    tu_fill(s.x, s.n, 0, 1, &rng);
    ck_assert_int_eq(igos_baseline(s.x, s.c, s.h, s.w, s.b), 0);
    return s;
}

static void smooth_free(smooth_net *s)
{
    free(s->x); free(s->b);
    eng_free(s->e);
    dk_free(s->net);
}

static const tu_fd_opts FD = {.h = 1e-2, .levels = 3, .curvature = 0, .afloor = 2e-6, .atol = 2e-3, .rtol = 1e-2, .agree = 2e-2};

// ---- the objective, the gradient, the integrated gradient ---------------------------------------

START_TEST(objective_is_the_plain_formula)
{
    for (int plus = 0; plus < 2; plus++) {
        smooth_net s = smooth_new(3);
        igos_cfg cfg;
        igos_defaults(&cfg, plus, 3, 4);
        char err[256];
        igos *g = igos_new(s.e, s.x, s.b, 2, &cfg, err, sizeof err);
        ck_assert_msg(g != NULL, "%s", err);
        int set = igos_nmasks(g) * 12;
        ck_assert_int_eq(set, plus ? 24 : 12);
        // three mask sets at once (a batch of 4 holds them short or split), against one at a time
        float masks[3 * 24];
        uint64_t rng = 5;
        tu_fill(masks, 3 * set, 0.05f, 0.95f, &rng);
        fd_ctx c = {s.e, g, s.x, s.b, NULL, plus, 1, 2, s.c, s.h, s.w, 3, 4, 0.7};
        double L[3], S[3];
        igos_objective(g, masks, 3, c.lambda1, L, S);
        for (int k = 0; k < 3; k++) {
            double so = oracle_path_score(&c, masks + k * set, 1), ro = oracle_reg(&c, masks + k * set, cfg.lambda2, cfg.sigma);
            ck_assert_msg(fabs(S[k] - so) < 1e-6, "plus %d set %d: score %.9g, oracle %.9g", plus, k, S[k], so);
            ck_assert_msg(fabs(L[k] - S[k] - ro) < 1e-6 * (1 + ro), "plus %d set %d: R %.9g, oracle %.9g", plus, k, L[k] - S[k], ro);
        }
        ck_assert_int_eq(igos_evaluations(g), 3 * (plus ? 4 : 1));
        igos_free(g);
        smooth_free(&s);
    }
}
END_TEST

// The direction with K = 1 and no noise is dL/dM; with K = 3 and no noise, the gradient of the
// path-averaged score (plus the regularisers'): both against central differences, every cell of
// every mask, through the up-sampling, the blending, the products and the softmax probability;
// once without the regularisers (their gradients are larger and would hide the score's in the
// tolerance), once with them.
START_TEST(direction_against_central_differences)
{
    for (int plus = 0; plus < 2; plus++)
        for (int regs = 0; regs < 2; regs++)
            for (int K = 1; K <= 3; K += 2) {
                smooth_net s = smooth_new(7 + plus);
                igos_cfg cfg;
                igos_defaults(&cfg, plus, 3, 4);
                cfg.lambda2 = regs ? 20 : 0;
                char err[256];
                int cls = 1;
                igos *g = igos_new(s.e, s.x, s.b, cls, &cfg, err, sizeof err);
                ck_assert_msg(g != NULL, "%s", err);
                int set = igos_nmasks(g) * 12;
                float masks[24], d[24];
                uint64_t rng = 17;
                tu_fill(masks, set, 0.1f, 0.9f, &rng);   // away from the kink of |1 - M| at 1
                fd_ctx c = {s.e, g, s.x, s.b, masks, plus, K, cls, s.c, s.h, s.w, 3, 4, regs ? 0.7 : 0};
                ck_assert_int_eq(igos_direction(g, masks, K, 0, c.lambda1, &rng, d), 0);
                double dmax = 0;
                for (int i = 0; i < set; i++) dmax = fmax(dmax, fabs(d[i]));
                ck_assert_msg(dmax > 1e-3, "plus %d K %d: a direction of %g tests nothing", plus, K, dmax);
                char op[64];
                snprintf(op, sizeof op, "%s K=%d%s", plus ? "igos++" : "igos", K, regs ? " with regularisers" : "");
                tu_fd_stats st = tu_fd_check(op, K == 1 ? objective_fn : path_fn, &c, masks, set, d, NULL, 0, 1, FD);
                ck_assert_msg(st.failed == 0 && st.checked >= set - 1, "%s: %d checked, %d skipped, %d failed",
                              op, st.checked, st.skipped, st.failed);
                igos_free(g);
                smooth_free(&s);
            }
}
END_TEST

// The noise: the same seed, the same direction; another seed, another; its mean over seeds tends
// to the direction without noise only in expectation, so just: finite and different.
START_TEST(noise_is_seeded)
{
    smooth_net s = smooth_new(9);
    igos_cfg cfg;
    igos_defaults(&cfg, 0, 3, 4);
    char err[256];
    igos *g = igos_new(s.e, s.x, s.b, 0, &cfg, err, sizeof err);
    float masks[12], d1[12], d2[12], d3[12];
    for (int i = 0; i < 12; i++) masks[i] = 0.5f;
    uint64_t r1 = 4, r2 = 4, r3 = 5;
    igos_direction(g, masks, 5, 0.2, 1, &r1, d1);
    igos_direction(g, masks, 5, 0.2, 1, &r2, d2);
    igos_direction(g, masks, 5, 0.2, 1, &r3, d3);
    ck_assert(r1 == r2 && r1 != 4);
    double diff = 0;
    for (int i = 0; i < 12; i++) {
        ck_assert(isfinite(d1[i]));
        ck_assert_float_eq(d1[i], d2[i]);
        diff += fabs(d1[i] - d3[i]);
    }
    ck_assert(diff > 0);
    igos_free(g);
    smooth_free(&s);
}
END_TEST

// ---- the baseline -------------------------------------------------------------------------------

START_TEST(baseline_keeps_a_flat_image_flat)
{
    // a constant image stays constant (the kernel's mass inside the image normalises: no dark
    // border, unlike the zero-padded blur), and the baseline is blur_gauss / blur_gauss(1)
    int c = 2, h = 28, w = 20, hw = h * w;
    float *x = malloc(c * hw * sizeof(float)), *b = malloc(c * hw * sizeof(float)), *z = malloc(c * hw * sizeof(float));
    for (int i = 0; i < c * hw; i++) x[i] = i < hw ? 0.25f : 0.75f;
    ck_assert_int_eq(igos_baseline(x, c, h, w, b), 0);
    for (int i = 0; i < c * hw; i++) ck_assert_float_eq_tol(b[i], x[i], 1e-6f);
    ck_assert_int_eq(blur_gauss(x, c, h, w, 51, 50, z), 0);
    ck_assert_float_lt(z[0], 0.5f * x[0]);   // zero padding alone darkens the corner
    uint64_t rng = 3;
    tu_fill(x, c * hw, 0, 1, &rng);
    ck_assert_int_eq(igos_baseline(x, c, h, w, b), 0);
    ck_assert_int_eq(blur_gauss(x, c, h, w, 51, 50, z), 0);
    float *one = malloc(hw * sizeof(float)), *m = malloc(hw * sizeof(float));
    for (int i = 0; i < hw; i++) one[i] = 1;
    blur_gauss(one, 1, h, w, 51, 50, m);
    for (int i = 0; i < c * hw; i++) ck_assert_float_eq_tol(b[i], z[i] / m[i % hw], 1e-6f);
    free(x); free(b); free(z); free(one); free(m);
}
END_TEST

// ---- a network that reads one region ------------------------------------------------------------
// 224x224x3 (the size the defaults are made for: a 28x28 mask of 8-pixel cells, the 51x51 blur)
// -> a texture detector: relu of a 4-neighbour Laplacian over the channels (the blurred baseline has
// no texture) -> class 0 logit = 20 (mean of the detector over the patch - 0.2), class 1 logit = 0.
// The patch: rows 56..111, columns 112..191 (7x10 cells) holds a pixel checkerboard (0.2 / 0.9,
// the detector's mean 0.35: p = 0.95; on the baseline p = 0.02); a distractor with the same
// checkerboard (rows 140..195, columns 20..99) the network ignores; elsewhere a smooth background.

#define RH 224
#define RW 224
static const char *REGION_CFG =
    "[net]\nbatch=8\nwidth=224\nheight=224\nchannels=3\n"
    "[convolutional]\nfilters=1\nsize=3\nstride=1\npad=1\nactivation=relu\n"
    "[connected]\noutput=2\nactivation=linear\n"
    "[softmax]\n";

static int in_patch(int y, int x) { return y >= 56 && y < 112 && x >= 112 && x < 192; }
static int in_distractor(int y, int x) { return y >= 140 && y < 196 && x >= 20 && x < 100; }

static network *region_net(int batch)
{
    network *net = parsed(REGION_CFG, batch);
    layer *cv = &net->layers[0], *fc = &net->layers[1];
    // per channel (3x3): centre 1/3, the four edge neighbours -1/12, the corners 0
    for (int i = 0; i < cv->nweights; i++) cv->weights[i] = i % 9 == 4 ? 1.0f / 3 : (i % 9) % 2 ? -1.0f / 12 : 0;
    cv->biases[0] = 0;
    int area = 56 * 80;
    memset(fc->weights, 0, fc->inputs * fc->outputs * sizeof(float));
    for (int y = 0; y < RH; y++)
        for (int x = 0; x < RW; x++)
            if (in_patch(y, x)) fc->weights[y * RW + x] = 20.0f / area;
    fc->biases[0] = -20 * 0.2f;
    fc->biases[1] = 0;
    return net;
}

static void region_image(float *img)
{
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < RH; y++)
            for (int x = 0; x < RW; x++) {
                float v = 0.3f + 0.1f * sinf(x / 30.0f + ch) * cosf(y / 40.0f);
                if (in_patch(y, x) || in_distractor(y, x)) v = (x + y) % 2 ? 0.2f : 0.9f;
                img[ch * RH * RW + y * RW + x] = v;
            }
}

// IoU of the heat picture thresholded at half its maximum with the patch
static double region_iou(const mth_def *m, const float *map)
{
    float *heat = malloc(RH * RW * sizeof(float));
    mth_heat_of(m, map, 3, RH, RW, heat);
    int inter = 0, uni = 0;
    for (int y = 0; y < RH; y++)
        for (int x = 0; x < RW; x++) {
            int a = heat[y * RW + x] >= 0.5f, t = in_patch(y, x);
            inter += a && t;
            uni += a || t;
        }
    free(heat);
    return uni ? (double)inter / uni : 0;
}

static int lines;
static void count_line(void *ctx, const char *line) { (void)ctx; if (getenv("IGOS_TRACE")) fprintf(stderr, "%s\n", line); lines++; }

// Bound: the ideal mask (0 on the patch's six cells, 1 elsewhere) thresholds to exactly the patch
// (the bilinear half-way point falls on the cell border), IoU 1; the patch grown or shrunk by one
// pixel on every side gives 96/140 = 0.69 or 60/96 = 0.63. IoU > 0.6 = the region found to about a
// pixel; the distractor marked as well would give at most 96/160 = 0.6, a random map of the same
// area about 0.05.
START_TEST(finds_the_region_the_network_reads)
{
    network *net = region_net(0);
    char err[256];
    eng *e = eng_init(net, err, sizeof err);
    ck_assert_msg(e != NULL, "%s", err);
    float *x = malloc(3 * RH * RW * sizeof(float)), *map = malloc(3 * RH * RW * sizeof(float)), p[2];
    region_image(x);
    eng_predict(e, x, 1, NULL, p);
    ck_assert_msg(p[0] > 0.9f, "the synthetic network's class 0: p %g", p[0]);
    const char *names[] = {"igos", "igos++"};
    for (int k = 0; k < 2; k++) {
        const mth_def *m = mth_lookup(names[k], err, sizeof err);
        ck_assert_msg(m != NULL, "%s", err);
        ck_assert_int_eq(m->heat, MTH_HEAT_PLANE);
        mth_opts o;
        mth_defaults(&o);
        mth_info info = {"", 0};
        info.log = count_line;
        lines = 0;
        ck_assert_msg(m->fn(e, x, 0, &o, map, &info, err, sizeof err) == 0, "%s: %s", names[k], err);
        double iou = region_iou(m, map);
        fprintf(stderr, "%s on the region network: IoU %.3f; %s\n", names[k], iou, info.line);
        ck_assert_msg(iou > 0.6, "%s: IoU %.3f with the patch (%s)", names[k], iou, info.line);
        ck_assert_int_eq(lines, 15);
        ck_assert(info.evaluations > 15 * 20 * (k ? 4 : 1));
        for (int i = 0; i < 3 * RH * RW; i++) ck_assert(map[i] >= 0 && map[i] <= 1);
    }
    free(x); free(map);
    eng_free(e);
    dk_free(net);
}
END_TEST

// Every accepted step satisfies the Armijo condition and so lowers L; no step leaves L as it was;
// each iteration starts from the last one's score; the masks stay in [0, 1].
START_TEST(line_search_steps_lower_the_objective)
{
    network *net = region_net(0);
    smooth_net s = smooth_new(13);
    char err[256];
    eng *e = eng_init(net, err, sizeof err);
    float *x = malloc(3 * RH * RW * sizeof(float)), *b = malloc(3 * RH * RW * sizeof(float));
    region_image(x);
    ck_assert_int_eq(igos_baseline(x, 3, RH, RW, b), 0);
    for (int net_k = 0; net_k < 2; net_k++)
        for (int plus = 0; plus < 2; plus++) {
            eng *en = net_k ? s.e : e;
            igos_cfg cfg;
            igos_defaults(&cfg, plus, net_k ? 3 : 28, net_k ? 4 : 28);
            cfg.iterations = 12;
            cfg.points = 6;
            igos *g = igos_new(en, net_k ? s.x : x, net_k ? s.b : b, net_k ? 3 : 0, &cfg, err, sizeof err);
            ck_assert_msg(g != NULL, "%s", err);
            float masks[2 * 784];
            igos_iter tr[12];
            mth_info info = {"", 0};
            ck_assert_int_eq(igos_run(g, masks, tr, &info, err, sizeof err), 0);
            int taken = 0;
            for (int it = 0; it < cfg.iterations; it++) {
                if (tr[it].alpha > 0) {
                    taken++;
                    ck_assert_msg(tr[it].after <= tr[it].before - 1e-4 * tr[it].alpha * tr[it].dnorm2 && tr[it].after < tr[it].before,
                                  "net %d plus %d iteration %d: L %.9g -> %.9g with step %g, |d|^2 %g", net_k, plus, it,
                                  tr[it].before, tr[it].after, tr[it].alpha, tr[it].dnorm2);
                } else {
                    ck_assert(tr[it].after == tr[it].before && tr[it].s_after == tr[it].s_before);
                }
                if (it) ck_assert(tr[it].s_before == tr[it - 1].s_after);
                ck_assert(tr[it].tried <= 12 && (tr[it].tried >= 1 || tr[it].dnorm2 == 0));
            }
            ck_assert_msg(taken >= 3, "net %d plus %d: %d steps taken of %d (%s)", net_k, plus, taken, cfg.iterations, info.line);
            ck_assert_msg(tr[cfg.iterations - 1].s_after < tr[0].s_before, "net %d plus %d: the score did not fall (%s)", net_k, plus, info.line);
            for (int i = 0; i < igos_nmasks(g) * cfg.mh * cfg.mw; i++) ck_assert(masks[i] >= 0 && masks[i] <= 1);
            igos_free(g);
        }
    free(x); free(b);
    eng_free(e);
    dk_free(net);
    smooth_free(&s);
}
END_TEST

// The lambda1 schedule: a class whose score the mask cannot move (a network that ignores its
// input) divides lambda1 by 10 at iteration 7 of 15 and by 5 more at iteration 12; iGOS++ keeps it.
START_TEST(lambda1_schedule)
{
    network *net = region_net(0);
    memset(net->layers[1].weights, 0, 2 * RH * RW * sizeof(float));
    char err[256];
    eng *e = eng_init(net, err, sizeof err);
    float *x = malloc(3 * RH * RW * sizeof(float)), *b = malloc(3 * RH * RW * sizeof(float));
    region_image(x);
    igos_baseline(x, 3, RH, RW, b);
    igos_cfg cfg;
    igos_defaults(&cfg, 0, 4, 4);
    cfg.points = 2;
    igos *g = igos_new(e, x, b, 0, &cfg, err, sizeof err);
    float masks[16];
    igos_iter tr[15];
    ck_assert_int_eq(igos_run(g, masks, tr, NULL, err, sizeof err), 0);
    for (int it = 0; it < 15; it++) {
        double want = it < 7 ? 1 : it < 12 ? 0.1 : 0.02;
        ck_assert_msg(fabs(tr[it].lambda1 - want) < 1e-12, "iteration %d: lambda1 %g, want %g", it, tr[it].lambda1, want);
    }
    for (int i = 0; i < 16; i++) ck_assert_float_eq(masks[i], 1);   // nothing to explain: the mask stays 1
    igos_free(g);
    igos_defaults(&cfg, 1, 4, 4);
    cfg.points = 2;
    g = igos_new(e, x, b, 0, &cfg, err, sizeof err);
    float masks2[32];
    ck_assert_int_eq(igos_run(g, masks2, tr, NULL, err, sizeof err), 0);
    for (int it = 0; it < 15; it++) ck_assert_msg(tr[it].lambda1 == 1, "igos++ iteration %d: lambda1 %g", it, tr[it].lambda1);
    igos_free(g);
    free(x); free(b);
    eng_free(e);
    dk_free(net);
}
END_TEST

// The same seed through a network made for 8 images and one made for 1: the same masks (the noise
// is drawn in path order, the line search takes the first candidate that passes either way).
START_TEST(batched_equals_batch_1)
{
    network *n8 = region_net(8), *n1 = region_net(1);
    ck_assert_int_eq(n8->batch, 8);
    ck_assert_int_eq(n1->batch, 1);
    char err[256];
    eng *e8 = eng_init(n8, err, sizeof err), *e1 = eng_init(n1, err, sizeof err);
    float *x = malloc(3 * RH * RW * sizeof(float));
    float *m8 = malloc(3 * RH * RW * sizeof(float)), *m1 = malloc(3 * RH * RW * sizeof(float));
    region_image(x);
    const char *names[] = {"igos", "igos++"};
    for (int k = 0; k < 2; k++) {
        const mth_def *m = mth_lookup(names[k], err, sizeof err);
        mth_opts o;
        mth_defaults(&o);
        o.iterations = 6;
        o.points = 5;
        o.seed = 77;
        mth_info i8 = {"", 0}, i1 = {"", 0};
        ck_assert_int_eq(m->fn(e8, x, 0, &o, m8, &i8, err, sizeof err), 0);
        ck_assert_int_eq(m->fn(e1, x, 0, &o, m1, &i1, err, sizeof err), 0);
        double dmax = 0, spread = 0;
        for (int i = 0; i < 3 * RH * RW; i++) {
            dmax = fmax(dmax, fabs(m8[i] - m1[i]));
            spread = fmax(spread, m8[i]);
        }
        ck_assert_msg(dmax < 1e-5, "%s: batch 8 and batch 1 differ by %g", names[k], dmax);
        ck_assert_msg(spread > 0.1, "%s: the map is flat (%g): the comparison tests nothing", names[k], spread);
        ck_assert_msg(i1.evaluations <= i8.evaluations, "%s: batch 1 %ld images, batch 8 %ld", names[k], i1.evaluations, i8.evaluations);
    }
    free(x); free(m8); free(m1);
    eng_free(e8); eng_free(e1);
    dk_free(n8); dk_free(n1);
}
END_TEST

// ---- bad options ------------------------------------------------------------------------------

START_TEST(bad_options_are_errors_naming_the_value)
{
    smooth_net s = smooth_new(5);
    const mth_def *m = mth_lookup("igos", NULL, 0), *pp = mth_lookup("igos++", NULL, 0);
    ck_assert(m && pp);
    struct { const char *want; int mask_size, points, iterations; double lambda1, lambda2, noise, alpha; } cases[] = {
        {"-mask_size 1", 1, 20, 15, 1, 20, 0.2, 0},
        {"-mask_size 7", 7, 20, 15, 1, 20, 0.2, 0},     // more cells than the 6 rows
        {"-points 0", 3, 0, 15, 1, 20, 0.2, 0},
        {"-iterations 0", 3, 20, 0, 1, 20, 0.2, 0},
        {"-lambda1 -1", 3, 20, 15, -1, 20, 0.2, 0},
        {"-lambda2 nan", 3, 20, 15, 1, NAN, 0.2, 0},
        {"-noise -0.5", 3, 20, 15, 1, 20, -0.5, 0},
        {"-alpha -3", 3, 20, 15, 1, 20, 0.2, -3},
    };
    float *map = malloc(s.n * sizeof(float));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int k = 0; k < 2; k++) {
            mth_opts o;
            mth_defaults(&o);
            o.mask_size = cases[i].mask_size;
            o.points = cases[i].points;
            o.iterations = cases[i].iterations;
            o.lambda1 = cases[i].lambda1;
            o.lambda2 = cases[i].lambda2;
            o.noise = cases[i].noise;
            o.alpha = cases[i].alpha;
            mth_info info = {"", 0};
            char err[512] = "";
            int rc = (k ? pp : m)->fn(s.e, s.x, 0, &o, map, &info, err, sizeof err);
            ck_assert_msg(rc == -1 && strstr(err, cases[i].want), "%s: rc %d, err '%s', want '%s'", k ? "igos++" : "igos", rc, err, cases[i].want);
        }
    free(map);
    smooth_free(&s);
}
END_TEST

// `darknet saliency map -method igos|igos++`: one line per iteration, the pictures, a raw map in
// [0, 1] of the input's shape; a bad value: exit 1 and a message naming it
START_TEST(map_verb_runs_and_refuses_bad_values)
{
    char cfgp[512], wp[512], datap[512], namesp[512], imgp[512], prefix[512], raw[512];
    tu_path(cfgp, sizeof cfgp, "igos_cli.cfg");
    tu_path(wp, sizeof wp, "igos_cli.weights");
    tu_path(datap, sizeof datap, "igos_cli.data");
    tu_path(namesp, sizeof namesp, "igos_cli.names");
    tu_path(imgp, sizeof imgp, "igos_cli");
    tu_path(prefix, sizeof prefix, "igos_out");
    tu_path(raw, sizeof raw, "igos_out.f32");
    tu_write_text(cfgp, SMOOTH_CFG);
    network *net = parsed(SMOOTH_CFG, 0);
    tu_randomize(net, 2);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    dk_save_weights(net, wp);
    fclose(stderr);
    stderr = saved;
    dk_free(net);
    tu_write_text(namesp, "a\nb\nc\nd\n");
    char data[1024];
    snprintf(data, sizeof data, "classes=4\nnames=%s\n", namesp);
    tu_write_text(datap, data);
    image im = make_image(8, 6, 3);
    uint64_t rng = 3;
    tu_fill(im.data, 8 * 6 * 3, 0, 1, &rng);
    save_image_options(im, imgp, PNG, 0);
    free_image(im);
    char args[4096], out[32768];
    const char *names[] = {"igos", "igos++"};
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "map %s %s %s %s.png -method %s -mask_size 3 -iterations 3 -points 4 -out %s -raw %s",
                 datap, cfgp, wp, imgp, names[k], prefix, raw);
        int rc = tu_saliency(NULL, args, out, sizeof out);
        tu_check_sanitizer(args, rc, out);
        ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
        ck_assert_msg(strstr(out, "iteration 1/3: ") && strstr(out, "iteration 3/3: ") && strstr(out, "3 iterations"), "%s", out);
        FILE *f = fopen(raw, "rb");
        ck_assert(f != NULL);
        float v[8 * 6 * 3 + 1];
        ck_assert_int_eq(fread(v, sizeof(float), 8 * 6 * 3 + 1, f), 8 * 6 * 3);
        fclose(f);
        for (int i = 0; i < 8 * 6 * 3; i++) ck_assert(v[i] >= 0 && v[i] <= 1 && v[i] == v[i % 48]);
    }
    struct { const char *flags, *want; } bad[] = {
        {"-method igos -mask_size 1", "-mask_size 1"},
        {"-method igos++ -mask_size 9", "-mask_size 9"},
        {"-method igos -points 0", "-points"},
        {"-method igos -lambda1 -2", "-lambda1"},
        {"-method igos -noise x", "-noise"},
        {"-method igos++ -alpha 0", "-alpha"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "map %s %s %s %s.png %s -out %s", datap, cfgp, wp, imgp, bad[i].flags, prefix);
        int rc = tu_saliency(NULL, args, out, sizeof out);
        tu_check_sanitizer(args, rc, out);
        ck_assert_msg(rc == 1 && strstr(out, bad[i].want), "%s: exit %d, output: %s", bad[i].flags, rc, out);
    }
}
END_TEST

Suite *make_igos_suite(void)
{
    Suite *s = suite_create("igos");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, objective_is_the_plain_formula);
    tcase_add_test(tc, direction_against_central_differences);
    tcase_add_test(tc, noise_is_seeded);
    tcase_add_test(tc, baseline_keeps_a_flat_image_flat);
    tcase_add_test(tc, lambda1_schedule);
    tcase_add_test(tc, bad_options_are_errors_naming_the_value);
    tcase_add_test(tc, map_verb_runs_and_refuses_bad_values);
    suite_add_tcase(s, tc);
    // whole runs at 224x224 (under the sanitizers several times slower)
    TCase *runs = tcase_create("runs");
    tcase_set_timeout(runs, 600);
    tcase_add_test(runs, finds_the_region_the_network_reads);
    tcase_add_test(runs, line_search_steps_lower_the_objective);
    tcase_add_test(runs, batched_equals_batch_1);
    suite_add_tcase(s, runs);
    return s;
}
