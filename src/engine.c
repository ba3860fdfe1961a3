// engine.c: the gradient-of-input pass (double-backprop.md §1), one rule per darknet layer type.
//
// Each layer k gets a buffer d[k] (batch, outputs) holding +dS/d(output of k). The sweep seeds
// d[top-1] (the logits) and walks down; a rule reads d[k] and adds into the buffers of k's inputs
// (d[k-1], a shortcut's or route's source layers, or g for layer 0). Batch norm uses the
// statistics of the last forward as constants: x -> scale*(x - mean)/(sqrt(var) + 1e-6) + bias,
// exactly the forward darknet runs (normalize_cpu), so the sweep is the gradient of that forward.
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "blas.h"
#include "gemm.h"
#include "im2col.h"
#include "col2im.h"
#include "activations.h"
#include "network.h"

struct eng {
    network *net;
    int top;          // index of the top [softmax]
    int classes;      // its inputs per image
    float **d;        // (top) buffers, d[k]: (batch, outputs of k)
    float *tmp;       // (batch, max outputs): a layer's delta after the activation derivative
    float *ws;        // im2col/col2im workspace, (max workspace) floats
};

int eng_form_parse(const char *name, eng_form *form)
{
    if (!name) return -1;
    if (!strcmp(name, "loss") || !strcmp(name, "datagrad")) { *form = ENG_LOSS; return 0; }
    if (!strcmp(name, "onehot")) { *form = ENG_ONEHOT; return 0; }
    if (!strcmp(name, "spectreg")) { *form = ENG_SPECTREG; return 0; }
    return -1;
}

const char *eng_form_name(eng_form form)
{
    return form == ENG_LOSS ? "loss" : form == ENG_ONEHOT ? "onehot" : "spectreg";
}

float eng_randn(uint64_t *rng)
{
    // xorshift64*, two uniforms in (0,1), Box-Muller
    double u[2];
    for (int i = 0; i < 2; i++) {
        uint64_t x = *rng ? *rng : 0x9E3779B97F4A7C15ull;
        x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
        *rng = x;
        u[i] = ((x * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
        if (u[i] <= 0) u[i] = 1e-300;
    }
    return (float)(sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]));
}

// ----------------------------------------------------------------------------------------------
// helpers

static int act_supported(ACTIVATION a)
{
    return a == LINEAR || a == RELU || a == LEAKY || a == LOGISTIC || a == TANH;
}

// The buffer that receives the gradient of layer k's input: d[k-1], or g for layer 0.
static float *in_grad(eng *e, int k, float *g)
{
    return k == 0 ? g : e->d[k - 1];
}

// t = dy * act'(output), then for BN the per-channel factor scale/(sqrt(var)+1e-6) of the statistics
// the last forward used. Returns t (batch, outputs) in e->tmp.
static float *through_act_bn(eng *e, const layer *l, const float *dy)
{
    int n = l->outputs * l->batch;
    copy_cpu(n, (float *)dy, 1, e->tmp, 1);
    if (l->type != BATCHNORM) gradient_array(l->output, n, l->activation, e->tmp);   // [batchnorm] has none
    if (l->batch_normalize || l->type == BATCHNORM) {
        const float *var = e->net->train ? l->variance : l->rolling_variance;
        int spatial = l->out_w * l->out_h;
        for (int b = 0; b < l->batch; b++)
            for (int f = 0; f < l->out_c; f++) {
                float s = l->scales[f] / (sqrtf(var[f]) + .000001f);
                float *t = e->tmp + (b * l->out_c + f) * spatial;
                for (int i = 0; i < spatial; i++) t[i] *= s;
            }
    }
    return e->tmp;
}

// ----------------------------------------------------------------------------------------------
// backward-data rules: dx += J^T dy, one per layer type

// dy (batch, out_c, out_h, out_w) -> dx (batch, c, h, w)
static void bwd_convolutional(eng *e, int k, const float *dy, float *dx)
{
    const layer *l = &e->net->layers[k];
    float *t = through_act_bn(e, l, dy);
    int m = l->n / l->groups;                     // filters per group
    int n = l->size * l->size * l->c / l->groups; // rows of the column matrix
    int sp = l->out_w * l->out_h;
    int direct = l->size == 1 && l->stride == 1 && l->pad == 0;
    for (int b = 0; b < l->batch; b++)
        for (int j = 0; j < l->groups; j++) {
            float *w = l->weights + j * l->nweights / l->groups;        // (m, n)
            float *tb = t + (b * l->groups + j) * m * sp;                // (m, sp)
            float *imd = dx + (b * l->groups + j) * l->c / l->groups * l->h * l->w;
            if (direct) {
                gemm(1, 0, n, sp, m, 1, w, n, tb, sp, 1, imd, sp);
            } else {
                gemm(1, 0, n, sp, m, 1, w, n, tb, sp, 0, e->ws, sp);
                col2im_cpu(e->ws, l->c / l->groups, l->h, l->w, l->size, l->stride, l->pad, imd);
            }
        }
}

// dy (batch, outputs) -> dx (batch, inputs); weights (outputs, inputs)
static void bwd_connected(eng *e, int k, const float *dy, float *dx)
{
    const layer *l = &e->net->layers[k];
    float *t = through_act_bn(e, l, dy);
    gemm(0, 0, l->batch, l->inputs, l->outputs, 1, t, l->outputs, l->weights, l->inputs, 1, dx, l->inputs);
}

static void bwd_batchnorm(eng *e, int k, const float *dy, float *dx)
{
    const layer *l = &e->net->layers[k];
    float *t = through_act_bn(e, l, dy);
    axpy_cpu(l->outputs * l->batch, 1, t, 1, dx, 1);
}

static void bwd_activation(eng *e, int k, const float *dy, float *dx)
{
    const layer *l = &e->net->layers[k];
    float *t = through_act_bn(e, l, dy);
    axpy_cpu(l->outputs * l->batch, 1, t, 1, dx, 1);
}

// indexes[i] is the flat (batch-wide) input index of output i's maximum
static void bwd_maxpool(eng *e, int k, const float *dy, float *dx)
{
    const layer *l = &e->net->layers[k];
    int n = l->out_h * l->out_w * l->c * l->batch;
    for (int i = 0; i < n; i++) dx[l->indexes[i]] += dy[i];
}

// global average: dy (batch, c) -> dx (batch, c, h, w)
static void bwd_avgpool(eng *e, int k, const float *dy, float *dx)
{
    const layer *l = &e->net->layers[k];
    int sp = l->h * l->w;
    for (int b = 0; b < l->batch; b++)
        for (int c = 0; c < l->c; c++) {
            float v = dy[c + b * l->c] / sp;
            float *p = dx + sp * (c + b * l->c);
            for (int i = 0; i < sp; i++) p[i] += v;
        }
}

// out = act(alpha*prev + beta*from): prev gets alpha*t, from gets beta*t (resampled as darknet does)
static void bwd_shortcut(eng *e, int k, const float *dy, float *dx)
{
    const layer *l = &e->net->layers[k];
    float *t = through_act_bn(e, l, dy);
    axpy_cpu(l->outputs * l->batch, l->alpha, t, 1, dx, 1);
    shortcut_cpu(l->batch, l->out_w, l->out_h, l->out_c, t, l->w, l->h, l->c, 1, l->beta, e->d[l->index]);
}

// concatenation per image of the listed layers' outputs
static void bwd_route(eng *e, int k, const float *dy, float *dx)
{
    const layer *l = &e->net->layers[k];
    (void)dx;
    int offset = 0;
    for (int i = 0; i < l->n; i++) {
        int size = l->input_sizes[i];
        float *d = e->d[l->input_layers[i]];
        for (int b = 0; b < l->batch; b++)
            axpy_cpu(size, 1, (float *)dy + offset + b * l->outputs, 1, d + b * size, 1);
        offset += size;
    }
}

// in training mode the forward zeroed or scaled each input by its stored draw
static void bwd_dropout(eng *e, int k, const float *dy, float *dx)
{
    const layer *l = &e->net->layers[k];
    int n = l->batch * l->inputs;
    if (!e->net->train) { axpy_cpu(n, 1, (float *)dy, 1, dx, 1); return; }
    for (int i = 0; i < n; i++)
        if (l->rand[i] >= l->probability) dx[i] += dy[i] * l->scale;
}

// ----------------------------------------------------------------------------------------------
// the table: one entry per layer type

typedef void (*bwd_fn)(eng *e, int k, const float *dy, float *dx);

typedef struct {
    LAYER_TYPE type;
    const char *name;
    bwd_fn bwd;       // data gradient, first order
} eng_rule;

static const eng_rule RULES[] = {
    { CONVOLUTIONAL, "convolutional", bwd_convolutional },
    { CONNECTED,     "connected",     bwd_connected },
    { BATCHNORM,     "batchnorm",     bwd_batchnorm },
    { ACTIVE,        "activation",    bwd_activation },
    { MAXPOOL,       "maxpool",       bwd_maxpool },
    { AVGPOOL,       "avgpool",       bwd_avgpool },
    { SHORTCUT,      "shortcut",      bwd_shortcut },
    { ROUTE,         "route",         bwd_route },
    { DROPOUT,       "dropout",       bwd_dropout },
};

static const eng_rule *rule_of(LAYER_TYPE t)
{
    for (size_t i = 0; i < sizeof RULES / sizeof RULES[0]; i++)
        if (RULES[i].type == t) return &RULES[i];
    return NULL;
}

// ----------------------------------------------------------------------------------------------

eng *eng_init(network *net, char *err, int errlen)
{
    int top = -1;
    for (int k = net->n - 1; k >= 0; k--)
        if (net->layers[k].type == SOFTMAX) { top = k; break; }
    if (top < 0) {
        snprintf(err, errlen, "the network has no [softmax] layer: the heatmap is the gradient of a class score at the softmax input");
        return NULL;
    }
    const layer *sm = &net->layers[top];
    if (sm->softmax_tree || sm->groups != 1) {
        snprintf(err, errlen, "layer %d [softmax]: only a plain softmax (groups=1, no tree) is supported", top);
        return NULL;
    }
    for (int k = 0; k < top; k++) {
        const layer *l = &net->layers[k];
        if (!rule_of(l->type)) {
            snprintf(err, errlen, "layer %d (%s): no gradient-of-input rule for this layer type; supported: "
                     "convolutional, connected, batchnorm, activation, maxpool, avgpool, shortcut, route, dropout, softmax",
                     k, get_layer_string(l->type));
            return NULL;
        }
        int has_act = l->type == CONVOLUTIONAL || l->type == CONNECTED || l->type == SHORTCUT || l->type == ACTIVE;
        if (has_act && !act_supported(l->activation)) {
            snprintf(err, errlen, "layer %d (%s): activation %s is not supported; supported: linear, relu, leaky, logistic, tanh",
                     k, get_layer_string(l->type), get_activation_string(l->activation));
            return NULL;
        }
        if (l->type == CONVOLUTIONAL && (l->xnor || l->binary)) {
            snprintf(err, errlen, "layer %d (convolutional): binary/xnor convolutions are not supported", k);
            return NULL;
        }
    }
    eng *e = calloc(1, sizeof *e);
    e->net = net;
    e->top = top;
    e->classes = sm->inputs;
    e->d = calloc(top > 0 ? top : 1, sizeof(float *));
    size_t maxout = 1, maxws = 1;
    for (int k = 0; k < top; k++) {
        const layer *l = &net->layers[k];
        e->d[k] = calloc((size_t)l->outputs * l->batch, sizeof(float));
        if ((size_t)l->outputs * l->batch > maxout) maxout = (size_t)l->outputs * l->batch;
        if (l->workspace_size / sizeof(float) + 1 > maxws) maxws = l->workspace_size / sizeof(float) + 1;
    }
    e->tmp = calloc(maxout, sizeof(float));
    e->ws = calloc(maxws, sizeof(float));
    return e;
}

void eng_free(eng *e)
{
    if (!e) return;
    for (int k = 0; k < e->top; k++) free(e->d[k]);
    free(e->d);
    free(e->tmp);
    free(e->ws);
    free(e);
}

int eng_top(const eng *e) { return e->top; }
int eng_classes(const eng *e) { return e->classes; }

void eng_seed(eng *e, eng_form form, const float *truth, uint64_t *rng, float *seed)
{
    const layer *sm = &e->net->layers[e->top];
    int K = e->classes;
    for (int b = 0; b < sm->batch; b++) {
        const float *t = truth + b * K;
        const float *p = sm->output + b * K;
        float *s = seed + b * K;
        if (form == ENG_LOSS) {
            // CE = -sum t log softmax(z/T): dCE/dz = (p - t)/T
            for (int i = 0; i < K; i++) s[i] = (p[i] - t[i]) / sm->temperature;
        } else if (form == ENG_ONEHOT) {
            int y = 0;
            for (int i = 1; i < K; i++) if (t[i] > t[y]) y = i;
            for (int i = 0; i < K; i++) s[i] = i == y;
        } else {
            for (int i = 0; i < K; i++) s[i] = eng_randn(rng);
        }
    }
}

void eng_input_grad(eng *e, const float *seed, float *g)
{
    network *net = e->net;
    int B = net->batch;
    memset(g, 0, sizeof(float) * (size_t)net->inputs * B);
    for (int k = 0; k < e->top; k++)
        memset(e->d[k], 0, sizeof(float) * (size_t)net->layers[k].outputs * B);
    float *logits = in_grad(e, e->top, g);
    memcpy(logits, seed, sizeof(float) * (size_t)e->classes * B);
    for (int k = e->top - 1; k >= 0; k--)
        rule_of(net->layers[k].type)->bwd(e, k, e->d[k], in_grad(e, k, g));
}

// ----------------------------------------------------------------------------------------------

typedef struct { float *mean, *var; } bn_saved;

void eng_heatmap(eng *e, const float *x, const float *truth, eng_form form, int train,
                 uint64_t *rng, float *g)
{
    network *net = e->net;
    int nl = net->n;
    bn_saved *saved = calloc(nl, sizeof *saved);
    if (train) {
        for (int k = 0; k < nl; k++) {
            layer *l = &net->layers[k];
            if (!(l->batch_normalize || l->type == BATCHNORM) || !l->rolling_mean) continue;
            int c = l->out_c;
            saved[k].mean = malloc(c * sizeof(float));
            saved[k].var = malloc(c * sizeof(float));
            memcpy(saved[k].mean, l->rolling_mean, c * sizeof(float));
            memcpy(saved[k].var, l->rolling_variance, c * sizeof(float));
        }
    }
    int old_train = net->train;
    float *old_truth = net->truth;
    net->truth = 0;   // no cost layers' work, and nothing for them to read
    net->train = train;
    memcpy(net->input, x, sizeof(float) * (size_t)net->inputs * net->batch);
    forward_network(net);
    float *seed = malloc(sizeof(float) * (size_t)e->classes * net->batch);
    eng_seed(e, form, truth, rng, seed);
    eng_input_grad(e, seed, g);
    free(seed);
    net->train = old_train;
    net->truth = old_truth;
    for (int k = 0; k < nl; k++) {
        if (!saved[k].mean) continue;
        layer *l = &net->layers[k];
        memcpy(l->rolling_mean, saved[k].mean, l->out_c * sizeof(float));
        memcpy(l->rolling_variance, saved[k].var, l->out_c * sizeof(float));
        free(saved[k].mean);
        free(saved[k].var);
    }
    free(saved);
}
