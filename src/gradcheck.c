// gradcheck.c: the engine's input-gradient sweep and double backprop against central differences
// on a whole network, per layer (gradcheck.h). The network input is perturbed or a layer's output
// in place and darknet's own forwards are rerun from the layer above; every perturbed value is
// put back bit for bit.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "network.h"
#include "dk.h"

// ----------------------------------------------------------------------------------------------
// the primitive

gc_diff gc_central(gc_fn f, void *ctx, float *p, double eps, double agree, double f0)
{
    gc_diff d = {NAN, 1, 0, 0};
    const float v = *p;
    if (isnan(f0)) { f0 = f(ctx); d.evals++; }
    double c[4], fw[4], bw[4], step[4];
    for (int j = 0; j < 4; j++) {
        double h = eps / (1 << j);
        float vp = (float)(v + h), vm = (float)(v - h);
        double hp = (double)vp - v, hm = v - (double)vm;   // the steps float arithmetic took
        if (!(hp > 0) || !(hm > 0)) break;
        *p = vp;
        double sp = f(ctx);
        *p = vm;
        double sm = f(ctx);
        *p = v;
        d.evals += 2;
        c[j] = (sp - sm) / (hp + hm);
        step[j] = (hp + hm) / 2;
        fw[j] = (sp - f0) / hp;
        bw[j] = (f0 - sm) / hm;
        // the one-sided asymmetry: h f'' for a smooth f (halves with the step), the jump of the
        // slope for a kink right next to v (stays), or more at the larger step than curvature
        // gives when a kink lies between the two steps (drops by more than half)
        double a0 = fabs(fw[j - (j > 0)] - bw[j - (j > 0)]), a1 = fabs(fw[j] - bw[j]);
        int smooth = a0 <= 4 * agree || (a1 >= 0.3 * a0 && a1 <= 0.7 * a0);
        if (j > 0 && fabs(c[j - 1] - c[j]) <= agree && smooth) {
            // Richardson: the h^2 terms of the two steps cancel (smooth activations, the loss)
            d.est = (4 * c[j] - c[j - 1]) / 3;
            d.kink = 0;
            d.step = step[j];
            return d;
        }
    }
    *p = v;
    return d;
}

double gc_rel(double num, double ana, double M, double floor)
{
    double den = fabs(ana) + floor * M;
    double diff = fabs(num - ana);
    if (diff == 0) return 0;
    return den > 0 ? diff / den : INFINITY;
}

// ----------------------------------------------------------------------------------------------
// random inputs

static double gc_uniform(uint64_t *rng)
{
    uint64_t x = *rng ? *rng : 0x853C49E6748FEA9Bull;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *rng = x;
    return ((x * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

static void fill_uniform(float *x, size_t n, double lo, double hi, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * gc_uniform(rng));
}

static int is_bn(const layer *l)
{
    return ((l->type == CONVOLUTIONAL || l->type == CONNECTED || l->type == DECONVOLUTIONAL) && l->batch_normalize) ||
           l->type == BATCHNORM;
}

void gc_random_network(network *net, const float *x, uint64_t seed)
{
    uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        int fan = 0, nw = 0, nb = 0;
        if (l->type == CONVOLUTIONAL || l->type == DECONVOLUTIONAL) { fan = l->size * l->size * l->c / (l->groups > 0 ? l->groups : 1); nw = l->nweights; nb = l->n; }
        else if (l->type == CONNECTED) { fan = l->inputs; nw = l->inputs * l->outputs; nb = l->outputs; }
        else if (l->type == LOCAL) { fan = l->size * l->size * l->c; nw = l->c * l->n * l->size * l->size * l->out_w * l->out_h; nb = l->outputs; }
        else if (l->type == BATCHNORM) nb = l->c;
        else continue;
        double a = fan > 0 ? sqrt(3.0 / fan) : 0;
        if (l->weights && nw) fill_uniform(l->weights, nw, -a, a, &rng);
        if (l->biases && nb) fill_uniform(l->biases, nb, -0.2, 0.2, &rng);
        if (l->scales && is_bn(l)) fill_uniform(l->scales, nb, 0.6, 1.4, &rng);
        if (l->rolling_mean && is_bn(l)) fill_uniform(l->rolling_mean, l->out_c, -0.2, 0.2, &rng);
        if (l->rolling_variance && is_bn(l)) fill_uniform(l->rolling_variance, l->out_c, 0.5, 1.5, &rng);
    }
    // the statistics a training-mode forward of x measures, layer by layer
    int train = net->train;
    float *truth = net->truth;
    net->train = 1;
    net->truth = 0;
    memcpy(net->input, x, sizeof(float) * (size_t)net->inputs * net->batch);
    float **rm = calloc(net->n, sizeof(float *)), **rv = calloc(net->n, sizeof(float *));
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        if (!is_bn(l) || !l->rolling_mean) continue;
        rm[k] = malloc(l->out_c * sizeof(float));
        rv[k] = malloc(l->out_c * sizeof(float));
        memcpy(rm[k], l->rolling_mean, l->out_c * sizeof(float));
        memcpy(rv[k], l->rolling_variance, l->out_c * sizeof(float));
    }
    dk_forward(net);
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        if (!rm[k]) continue;
        int per_channel = l->out_w * l->out_h * l->batch;
        for (int f = 0; f < l->out_c; f++) {
            if (per_channel > 1 && l->variance[f] > 1e-8f) {
                l->rolling_mean[f] = l->mean[f];
                l->rolling_variance[f] = l->variance[f];
            } else {
                l->rolling_mean[f] = rm[k][f];
                l->rolling_variance[f] = rv[k][f];
            }
        }
        free(rm[k]);
        free(rv[k]);
    }
    free(rm);
    free(rv);
    net->train = train;
    net->truth = truth;
}

void gc_smooth_image(float *x, int c, int h, int w, uint64_t seed)
{
    uint64_t rng = seed * 0xD1B54A32D192ED03ull + 7;
    size_t n = (size_t)c * h * w;
    for (int ch = 0; ch < c; ch++) {
        double fx[3], fy[3], ph[3], amp[3], bx[3], by[3], bs[3], ba[3];
        for (int j = 0; j < 3; j++) {
            double cyc = 0.5 + 2.5 * gc_uniform(&rng), ang = 6.283185307179586 * gc_uniform(&rng);
            fx[j] = cyc * cos(ang) / w;
            fy[j] = cyc * sin(ang) / h;
            ph[j] = 6.283185307179586 * gc_uniform(&rng);
            amp[j] = 0.3 + 0.7 * gc_uniform(&rng);
            bx[j] = w * gc_uniform(&rng);
            by[j] = h * gc_uniform(&rng);
            bs[j] = (0.1 + 0.2 * gc_uniform(&rng)) * (w > h ? w : h);
            ba[j] = 2 * gc_uniform(&rng) - 1;
        }
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < w; xx++) {
                double v = 0;
                for (int j = 0; j < 3; j++) {
                    v += amp[j] * sin(6.283185307179586 * (fx[j] * xx + fy[j] * y) + ph[j]);
                    double dx = xx - bx[j], dy = y - by[j];
                    v += ba[j] * exp(-(dx * dx + dy * dy) / (2 * bs[j] * bs[j]));
                }
                x[((size_t)ch * h + y) * w + xx] = (float)v;
            }
    }
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) { if (x[i] < lo) lo = x[i]; if (x[i] > hi) hi = x[i]; }
    for (size_t i = 0; i < n; i++) x[i] = hi > lo ? (x[i] - lo) / (hi - lo) : 0.5f;
}

// ----------------------------------------------------------------------------------------------
// the scalar S and the regularizer's sum, as functions of one perturbed float

typedef struct {
    network *net;
    eng *e;
    const gc_cfg *c;
    int top, B, K;
    const float *x;        // (B, inputs) the images
    const float *truth;    // (B, K)
    const float *seed;     // (B, K) dS/dz of onehot and spectreg (S = sum seed . z)
    uint64_t rng;          // spectreg's state before its draw
    int exact;             // the engine has every rule
    int from;              // input checks: the layer the forward reruns from
    float *g;              // (B, inputs) scratch heatmaps
    float *sd;             // (B, K) scratch seed
    float *u0;             // (B, inputs) lambda dR/dg at the reference point, or NULL (kink_dense)
    // the activation pattern of the reference forward, held (c->hold): per layer below the top
    float **ref_out;       // relu/leaky/ramp layers: their outputs (the masks are their signs)
    int **ref_idx;         // maxpool layers: their choices
    char err[256];         // set when an evaluation fails
} gc_ctx;

// Layer types whose forward applies l.activation to its output.
static int applies_act(LAYER_TYPE t)
{
    return t == CONVOLUTIONAL || t == CONNECTED || t == SHORTCUT || t == ACTIVE || t == LOCAL || t == DECONVOLUTIONAL;
}

// darknet's forward of layers from..to in inference mode, from the buffers as they are. With the
// pattern held, a relu/leaky/ramp layer runs its forward with a linear activation and then applies
// the slopes of the reference point (1, or 0 / 0.1 where the reference output was <= 0; ramp 1.1 or
// 0.1), and a maxpool
// takes the inputs it chose there: within a step the network stays on the reference point's
// linear piece, as batch norm keeps its statistics.
static void held_forward(gc_ctx *q, int from, int to)
{
    network *netp = q->net;
    float *input = from == 0 ? netp->input : netp->layers[from - 1].output;
    for (int i = from; i <= to; ++i) {
        layer l = netp->layers[i];
        size_t n = (size_t)l.outputs * l.batch;
        if (q->ref_idx && q->ref_idx[i]) {
            for (size_t j = 0; j < n; j++) l.output[j] = input[q->ref_idx[i][j]];
        } else if (q->ref_out && q->ref_out[i]) {
            ACTIVATION a = l.activation;
            netp->layers[i].activation = LINEAR;   // for this forward only
            dk_layer_forward(netp, i, input, 0);
            netp->layers[i].activation = a;
            const float *r = q->ref_out[i];
            // as darknet's leaky_activate and ramp_activate (x*(x>0) + .1*x) round them: .1*x in double
            for (size_t j = 0; j < n; j++) {
                float y = l.output[j];
                if (a == RAMP) l.output[j] = r[j] > 0 ? y + .1 * y : .1 * y;
                else if (!(r[j] > 0)) l.output[j] = a == LEAKY ? .1 * y : 0;
            }
        } else {
            dk_layer_forward(netp, i, input, 0);
        }
        input = l.output;
    }
}

// the outputs the backward reads its relu/leaky/ramp slopes from: the reference point's
static void put_ref_outputs(gc_ctx *q)
{
    if (!q->ref_out) return;
    for (int k = 0; k < q->top; k++) {
        layer *l = &q->net->layers[k];
        if (q->ref_out[k]) memcpy(l->output, q->ref_out[k], sizeof(float) * (size_t)l->outputs * l->batch);
    }
}

// g = +dS/dx through darknet's own layer backward functions (the path of eng_init_for(net, 0)),
// seeded with dS/dz at the softmax; the update buffers it adds to are not read afterwards
static void darknet_input_grad(gc_ctx *q, const float *seed, float *g)
{
    network *netp = q->net;
    int top = q->top;
    size_t nin = (size_t)netp->inputs * q->B;
    for (int k = 0; k < top; k++) {
        layer *l = &netp->layers[k];
        if (l->delta) memset(l->delta, 0, sizeof(float) * (size_t)l->outputs * l->batch);
    }
    layer *sm = &netp->layers[top];
    for (int i = 0; i < q->B * q->K; i++) sm->delta[i] = -seed[i];   // darknet's delta: -gradient
    memset(g, 0, nin * sizeof(float));
    for (int i = top; i >= 0; --i) {
        layer l = netp->layers[i];
        float *in = i == 0 ? netp->input : netp->layers[i - 1].output;
        float *delta = i == 0 ? g : netp->layers[i - 1].delta;
        if (l.type == DROPOUT) continue;   // inference: the identity (darknet's backward applies an old draw)
        dk_layer_backward(netp, i, in, delta, 0);
    }
    for (size_t i = 0; i < nin; i++) g[i] = -g[i];
}

// S = sum_b s_b in double from the logits z (the input of the top softmax)
static double score(gc_ctx *q)
{
    network *net = q->net;
    const layer *sm = &net->layers[q->top];
    const float *z = q->top == 0 ? net->input : net->layers[q->top - 1].output;
    int K = q->K;
    double S = 0;
    for (int b = 0; b < q->B; b++) {
        const float *zb = z + (size_t)b * K, *t = q->truth + (size_t)b * K;
        if (q->c->form == ENG_LOSS) {
            double T = sm->temperature, m = zb[0];
            for (int i = 1; i < K; i++) if (zb[i] > m) m = zb[i];
            double sum = 0;
            for (int i = 0; i < K; i++) sum += exp((zb[i] - m) / T);
            double lse = log(sum);
            for (int i = 0; i < K; i++) if (t[i] != 0) S -= t[i] * ((zb[i] - m) / T - lse);
        } else {
            const float *s = q->seed + (size_t)b * K;
            for (int i = 0; i < K; i++) S += (double)s[i] * zb[i];
        }
    }
    return S;
}

static double f_input(void *ctx)
{
    gc_ctx *q = ctx;
    held_forward(q, q->from, q->top - 1);
    return score(q);
}

// lambda * sum_b R(g_b, x_b) of heatmaps g (B, inputs); dg (NULL: not wanted) += lambda dR/dg
static double reg_sum(gc_ctx *q, const float *g, float *dg)
{
    network *net = q->net;
    int n = net->inputs;
    double s = 0;
    for (int b = 0; b < q->B; b++) {
        double r = 0;
        char why[200] = "";
        int rc = reg_eval(q->c->reg, g + (size_t)b * n, q->x + (size_t)b * n, net->c, net->h, net->w,
                          &r, dg ? dg + (size_t)b * n : NULL, q->c->lambda, why, sizeof why);
        if (rc) {
            snprintf(q->err, sizeof q->err, "regularizer %s, image %d: %s", q->c->reg->name, b, why[0] ? why : reg_strerror(rc));
            return NAN;
        }
        s += r;
    }
    return q->c->lambda * s;
}

// lambda * sum_b R(g_b, x_b), g the heatmaps of the engine's sweep (or, without exact rules, of
// darknet's own backward) at the current parameters, the pattern held; spectreg draws the same r.
// With u0 (a regularizer with a kink at every pixel pair): lambda * sum_b u0_b . g_b, its
// linearisation at the reference point, which has the same parameter gradient there.
static double f_param(void *ctx)
{
    gc_ctx *q = ctx;
    network *net = q->net;
    uint64_t rng = q->rng;
    size_t n = (size_t)net->inputs * q->B;
    memcpy(net->input, q->x, sizeof(float) * n);
    held_forward(q, 0, q->top);
    put_ref_outputs(q);
    eng_seed(q->e, q->c->form, q->truth, &rng, q->sd);
    if (q->exact) eng_input_grad(q->e, q->sd, q->g);
    else darknet_input_grad(q, q->sd, q->g);
    if (!q->u0) return reg_sum(q, q->g, NULL);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)q->u0[i] * q->g[i];
    return s;
}

// Regularizers with a |.| at every pixel pair (total variation): as theta moves, thousands of the
// differences in them cross zero within any usable step, and a central difference of R averages
// the slopes in between. Their parameter gradient is checked on u0 . g (gc_cfg in gradcheck.h).
static int kink_dense(const reg_def *r)
{
    return !strcmp(r->name, "tv") || !strcmp(r->name, "tv_abs") || !strcmp(r->name, "tv_abs_unscaled");
}

// ----------------------------------------------------------------------------------------------
// parameters

typedef struct { float *p, *upd; int n; const char *what; } gc_array;

// the parameter arrays of a layer (weights, biases, BN scales) and their update buffers
static int arrays_of(layer *l, gc_array a[3])
{
    int n = 0, nw = 0, nb = 0;
    switch (l->type) {
    case CONVOLUTIONAL: case DECONVOLUTIONAL: nw = l->nweights; nb = l->n; break;
    case CONNECTED: nw = l->inputs * l->outputs; nb = l->outputs; break;
    case LOCAL: nw = l->c * l->n * l->size * l->size * l->out_w * l->out_h; nb = l->outputs; break;
    case BATCHNORM: nb = l->c; break;
    default: return 0;
    }
    if (nw && l->weights && l->weight_updates) a[n++] = (gc_array){l->weights, l->weight_updates, nw, "weights"};
    if (nb && l->biases && l->bias_updates) a[n++] = (gc_array){l->biases, l->bias_updates, nb, "biases"};
    if (nb && is_bn(l) && l->scales && l->scale_updates) a[n++] = (gc_array){l->scales, l->scale_updates, nb, "scales"};
    return n;
}

// ----------------------------------------------------------------------------------------------
// one layer's samples

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

static double rms(const float *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    return n ? sqrt(s / n) : 0;
}

// a position in [0, n) for a buffer's s-th sample: the largest |ana| of eight uniform draws for
// even s (a rule wrong by a factor shows best where the gradient is large; most of a maxpool's
// inputs have none), uniform for odd s
static size_t pick(const float *ana, size_t n, int s, uint64_t *rng)
{
    size_t best = (size_t)(gc_uniform(rng) * n) % n;
    if (s % 2 == 1) return best;
    for (int j = 0; j < 7; j++) {
        size_t i = (size_t)(gc_uniform(rng) * n) % n;
        if (fabs(ana[i]) > fabs(ana[best])) best = i;
    }
    return best;
}

typedef struct {
    float *val;            // the values to perturb, with their analytic gradients
    const float *ana;
    size_t n;
    const char *what;
    double M, scale;       // largest |ana| of the buffer, value scale for the steps
} gc_target;

// samples (with replacements for kinks, up to as many again) of one result
static void check_targets(gc_ctx *q, gc_fn f, double f0, gc_target *t, int nt, double eps_rel,
                          double agree_rtol, double agree_floor, double rtol, double floor,
                          gc_result *r, uint64_t *rng, int *done, int total)
{
    const gc_cfg *c = q->c;
    r->rtol = rtol;
    if (isnan(f0)) f0 = f(q);   // the unperturbed point as f computes it
    for (int s = 0; s < 2 * c->samples && r->checked < c->samples; s++) {
        gc_target *tg = &t[s % nt];
        size_t i = pick(tg->ana, tg->n, s / nt, rng);
        double v = tg->val[i], ana = tg->ana[i];
        double eps = eps_rel * (fabs(v) > tg->scale ? fabs(v) : tg->scale);
        if (eps <= 0) eps = eps_rel;
        double agree = 0.5 * agree_rtol * (fabs(ana) + agree_floor * tg->M);
        if (agree <= 0) agree = 1e-12;
        gc_diff d = gc_central(f, q, &tg->val[i], eps, agree, f0);
        if (q->err[0]) return;
        if (d.kink) r->kinks++;
        else {
            r->checked++;
            double rel = gc_rel(d.est, ana, tg->M, floor);
            if (rel > rtol) r->failed++;
            if (r->checked == 1 || rel > r->worst_rel) {
                r->worst_rel = rel;
                r->worst_what = tg->what;
                r->worst_index = (int)i;
                r->worst_num = d.est;
                r->worst_ana = ana;
            }
        }
        int used = r->checked + r->kinks;
        if (c->progress) c->progress(c->progress_ctx, *done + (used < c->samples ? used : c->samples), total);
    }
    *done += c->samples;
}

// ----------------------------------------------------------------------------------------------

// what gc_run allocates, freed in one place
typedef struct {
    int top, nchk;
    float *truth, *seed, *g, *sg, *sd, *u0;
    float **adj;           // (nchk) the analytic adjoint at each checked layer's input
    float ***pana;         // (top, 3) the analytic parameter gradients
    float **ref_out;
    int **ref_idx;
    gc_result *inres, *pres;
} gc_mem;

static void gc_mem_free(gc_mem *m)
{
    for (int k = 0; k < m->top; k++) {
        if (m->pana && m->pana[k]) { for (int j = 0; j < 3; j++) free(m->pana[k][j]); free(m->pana[k]); }
        if (m->ref_out) free(m->ref_out[k]);
        if (m->ref_idx) free(m->ref_idx[k]);
    }
    for (int k = 0; k < m->nchk && m->adj; k++) free(m->adj[k]);
    free(m->pana); free(m->ref_out); free(m->ref_idx); free(m->adj);
    free(m->truth); free(m->seed); free(m->g); free(m->sg); free(m->sd); free(m->u0);
    free(m->inres); free(m->pres);
}

// the summary over the results
static void summarize(gc_report *rep)
{
    double worst = -1;
    for (int i = 0; i < rep->n; i++) {
        gc_result *r = &rep->r[i];
        if (r->checked == 0 && r->kinks > 0) r->failed = 1;   // nothing verified: not a pass
        rep->checks += r->checked;
        rep->kinks += r->kinks;
        rep->failed += r->failed;
        double w = r->checked ? r->worst_rel / r->rtol : r->failed ? INFINITY : 0;
        if (w > worst) { worst = w; rep->worst = i; }
    }
    // where a wrong rule sits: the input-grad check of layer k covers the sweep from the top down
    // to k's input, so the highest failing one; every param-grad check depends on the whole
    // heatmap, so only without input-grad failures the highest failing param-grad
    for (int kind = GC_INPUT; kind <= GC_PARAM && rep->highest_failed < 0; kind++)
        for (int i = 0; i < rep->n; i++)
            if (rep->r[i].failed && (int)rep->r[i].kind == kind &&
                (rep->highest_failed < 0 || rep->r[i].layer >= rep->r[rep->highest_failed].layer))
                rep->highest_failed = i;
}

static void init_result(gc_result *r, int k, const layer *l, gc_kind kind)
{
    memset(r, 0, sizeof *r);
    r->layer = k;
    r->type = get_layer_string(l->type);
    r->kind = kind;
    r->worst_what = "";
    r->worst_index = -1;
}

int gc_run(network *net, const float *x, const gc_cfg *c, gc_report *rep, char *err, int errlen)
{
    memset(rep, 0, sizeof *rep);
    rep->worst = rep->highest_failed = -1;
    if (c->samples < 1) { snprintf(err, errlen, "samples must be >= 1"); return -1; }
    if (!c->reg) { snprintf(err, errlen, "no regularizer"); return -1; }
    eng *e = eng_init(net, rep->why, sizeof rep->why);
    rep->exact = e != NULL;
    if (!e) {
        char why2[512];
        e = eng_init_for(net, 0, why2, sizeof why2);
        if (!e) { snprintf(err, errlen, "%s", why2); return -1; }
    } else {
        rep->why[0] = 0;
    }
    rep->method = rep->exact ? c->method : (c->method == ENG_EXACT ? ENG_FINITE_CENTRAL : c->method);
    if (eng_top(e) == 0) {
        snprintf(err, errlen, "nothing to check: the [softmax] is the network's first layer");
        eng_free(e);
        return -1;
    }
    int top = eng_top(e), K = eng_classes(e), B = net->batch, rc = -1;
    size_t nin = (size_t)net->inputs * B;
    int nchk = rep->exact ? top : (top > 0 ? 1 : 0);   // darknet's backward only gives g
    float *old_truth = net->truth;
    int old_train = net->train;
    net->truth = 0;
    net->train = 0;

    gc_mem m = {0};
    m.top = top;
    m.nchk = nchk;
    m.truth = calloc((size_t)B * K, sizeof(float));
    m.seed = calloc((size_t)B * K, sizeof(float));
    m.sd = calloc((size_t)B * K, sizeof(float));
    m.g = calloc(nin, sizeof(float));
    m.sg = calloc(nin, sizeof(float));
    m.adj = calloc(nchk + 1, sizeof(float *));
    m.pana = calloc(top + 1, sizeof(float **));
    m.inres = calloc(top + 1, sizeof(gc_result));
    m.pres = calloc(top + 1, sizeof(gc_result));
    rep->r = calloc(2 * (size_t)top + 1, sizeof(gc_result));

    gc_ctx q = {0};
    q.net = net; q.e = e; q.c = c; q.top = top; q.B = B; q.K = K; q.x = x; q.exact = rep->exact;
    q.rng = c->seed * 0x9E3779B97F4A7C15ull + 12345;
    q.truth = m.truth; q.seed = m.seed; q.g = m.sg; q.sd = m.sd;

    // the reference point: an inference forward, each image's class, the seed
    memcpy(net->input, x, nin * sizeof(float));
    dk_forward(net);
    const float *p = net->layers[top].output;
    for (int b = 0; b < B; b++) {
        int y = c->cls;
        if (y < 0 || y >= K) { y = 0; for (int i = 1; i < K; i++) if (p[b * K + i] > p[b * K + y]) y = i; }
        m.truth[b * K + y] = 1;
        if (b == 0) rep->cls0 = y;
    }
    uint64_t rng = q.rng;
    eng_seed(e, c->form, m.truth, &rng, m.seed);
    rep->s0 = score(&q);
    // its activation pattern
    if (c->hold) {
        m.ref_out = calloc(top + 1, sizeof(float *));
        m.ref_idx = calloc(top + 1, sizeof(int *));
        for (int k = 0; k < top; k++) {
            layer *l = &net->layers[k];
            size_t n = (size_t)l->outputs * l->batch;
            if (l->type == MAXPOOL) {
                m.ref_idx[k] = malloc(n * sizeof(int));
                memcpy(m.ref_idx[k], l->indexes, n * sizeof(int));
            } else if (applies_act(l->type) && (l->activation == RELU || l->activation == LEAKY || l->activation == RAMP)) {
                m.ref_out[k] = malloc(n * sizeof(float));
                memcpy(m.ref_out[k], l->output, n * sizeof(float));
            }
        }
        q.ref_out = m.ref_out;
        q.ref_idx = m.ref_idx;
    }

    // the analytic adjoint at each checked layer's input (k = 0: the heatmap)
    if (rep->exact) {
        eng_input_grad(e, m.seed, m.g);
        for (int k = 0; k < nchk; k++) {
            size_t n = (size_t)(k == 0 ? net->inputs : net->layers[k - 1].outputs) * B;
            m.adj[k] = malloc(n * sizeof(float));
            memcpy(m.adj[k], k == 0 ? m.g : eng_adjoint(e, k - 1), n * sizeof(float));
        }
    } else if (nchk) {
        rng = q.rng;
        if (eng_heatmap(e, x, m.truth, c->form, 0, &rng, m.g)) {
            snprintf(err, errlen, "the heatmap through darknet's own backward failed: a layer type that keeps its weights in sub-layers (rnn, lstm, gru, crnn)");
            goto out;
        }
        m.adj[0] = malloc(nin * sizeof(float));
        memcpy(m.adj[0], m.g, nin * sizeof(float));
    }

    // the analytic parameter gradient of lambda * sum_b R: eng_reg_step after the forward
    int nparam = 0;
    for (int k = 0; k < top; k++) {
        gc_array a[3];
        int na = arrays_of(&net->layers[k], a);
        for (int j = 0; j < na; j++) memset(a[j].upd, 0, a[j].n * sizeof(float));
        if (na) nparam++;
    }
    if (nparam) {
        eng_reg_cfg rcfg = { c->reg, c->form, c->lambda, rep->method, c->step };
        eng_reg_report rr;
        rng = q.rng;
        memcpy(net->input, x, nin * sizeof(float));
        dk_forward(net);
        if (eng_reg_step(e, &rcfg, m.truth, &rng, &rr, err, errlen)) goto out;
        for (int k = 0; k < top; k++) {
            gc_array a[3];
            int na = arrays_of(&net->layers[k], a);
            if (!na) continue;
            m.pana[k] = calloc(3, sizeof(float *));
            for (int j = 0; j < na; j++) {
                m.pana[k][j] = malloc(a[j].n * sizeof(float));
                for (int i = 0; i < a[j].n; i++) m.pana[k][j][i] = -a[j].upd[i];   // updates hold -gradient
            }
        }
    }

    int total = (nchk + nparam) * c->samples, done = 0;
    uint64_t srng = c->seed * 0xBF58476D1CE4E5B9ull + 99;
    // input-grad checks from the top down: each reruns the forward from its layer up, so the
    // layers below it (which routes and shortcuts above may read) stay as the reference left them
    memcpy(net->input, x, nin * sizeof(float));
    dk_forward(net);
    for (int k = nchk - 1; k >= 0; k--) {
        gc_result *r = &m.inres[k];
        init_result(r, k, &net->layers[k], GC_INPUT);
        float *a = k == 0 ? net->input : net->layers[k - 1].output;
        size_t n = (size_t)(k == 0 ? net->inputs : net->layers[k - 1].outputs) * B;
        gc_target t = { a, m.adj[k], n, "input", max_abs(m.adj[k], n), rms(a, n) };
        q.from = k;
        check_targets(&q, f_input, NAN, &t, 1, GC_EPS_INPUT, GC_RTOL_INPUT, GC_FLOOR_INPUT, GC_RTOL_INPUT, GC_FLOOR_INPUT,
                      r, &srng, &done, total);
    }

    // param-grad checks
    double rt = rep->method == ENG_EXACT ? GC_RTOL_PARAM : GC_RTOL_FINITE;
    double fl = rep->method == ENG_EXACT ? GC_FLOOR_PARAM : GC_FLOOR_FINITE;
    if (nparam) {
        rep->r0 = reg_sum(&q, m.g, NULL);
        if (kink_dense(c->reg)) {
            m.u0 = calloc(nin, sizeof(float));
            reg_sum(&q, m.g, m.u0);
            q.u0 = m.u0;
            rep->u_held = 1;
        }
    }
    for (int k = 0; k < top && !q.err[0]; k++) {
        gc_array a[3];
        int na = arrays_of(&net->layers[k], a);
        if (!na) continue;
        gc_result *r = &m.pres[k];
        init_result(r, k, &net->layers[k], GC_PARAM);
        gc_target t[3];
        // the floor per array: a bias or BN scale gradient sums over every position, a weight's not
        for (int j = 0; j < na; j++)
            t[j] = (gc_target){ a[j].p, m.pana[k][j], (size_t)a[j].n, a[j].what, max_abs(m.pana[k][j], a[j].n), rms(a[j].p, a[j].n) };
        check_targets(&q, f_param, NAN, t, na, GC_EPS_PARAM, GC_RTOL_PARAM, GC_FLOOR_PARAM, rt, fl, r, &srng, &done, total);
    }
    if (q.err[0]) { snprintf(err, errlen, "%s", q.err); goto out; }

    // in layer order, input-grad before param-grad
    for (int k = 0; k < top; k++) {
        if (k < nchk) rep->r[rep->n++] = m.inres[k];
        if (m.pres[k].type) rep->r[rep->n++] = m.pres[k];   // a layer with parameters
    }
    summarize(rep);
    rc = 0;
out:
    // the layers as a forward at x leaves them
    memcpy(net->input, x, nin * sizeof(float));
    dk_forward(net);
    net->truth = old_truth;
    net->train = old_train;
    gc_mem_free(&m);
    eng_free(e);
    if (rc) gc_report_free(rep);
    return rc;
}

void gc_report_free(gc_report *rep)
{
    free(rep->r);
    rep->r = NULL;
    rep->n = 0;
}
