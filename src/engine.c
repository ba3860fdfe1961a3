// engine.c: gradient-of-input pass and double backprop (../shared/spec/double-backprop.md),
// one table entry per darknet layer type.
//
// A layer k is seen as  y = L_k(inputs)  (its linear part: convolution/connected without bias,
// pooling, routing, shortcut sum, dropout mask), then for layers that have them batch norm with the
// statistics of the last forward held constant, o = scale*(y - mean)/(sqrt(var) + 1e-6) + bias
// (exactly the forward darknet runs, normalize_cpu), and an activation, a = act(o).
// The table gives L_k, its transpose and the weight gradient; the rest is shared:
//   d[k]    +dS/da_k, the gradient-of-input sweep (the tangent adjoint stream of §2a)
//   dot[k]  the tangent a_k' (§2a step 3), seeded with u at the input
//   pre[k]  the tangent before batch norm's scale (n' = y'/sigma) or, without BN, o'
//   dd[k]   +dPhi/da_k, the primal adjoint stream of §2a (needed for `loss` and smooth activations)
// Weight gradients of Phi = sum_b u_b . g_b:  dW = t (x) a_in + t^ (x) a'_in  (t, t^ at y).
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "numparse.h"
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
    int batch;        // the batch the buffers were made for
    int smooth;       // some layer below top has a logistic/tanh activation
    int exact;        // every layer below top has a rule (else only darknet's own backward is used)
    float **d, **dot, **pre, **dd;   // (top) per-layer buffers, (batch, outputs); pre/dd may be NULL
    float *g, *u;     // (batch, inputs): heatmap and dR/dg
    float *seed;      // (batch, classes)
    float *tmp, *tmp2;// (batch, max outputs)
    float *scaled;    // (batch, max outputs): a shortcut's alpha-scaled transpose; NULL without one
    float *ws;        // im2col/col2im workspace (the batched convolutions': for conv_chunk images)
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

int eng_method_parse(const char *name, eng_method *method)
{
    if (!name) return -1;
    if (!strcmp(name, "exact")) { *method = ENG_EXACT; return 0; }
    if (!strcmp(name, "finite")) { *method = ENG_FINITE; return 0; }
    if (!strcmp(name, "central")) { *method = ENG_FINITE_CENTRAL; return 0; }
    return -1;
}

const char *eng_method_name(eng_method method)
{
    return method == ENG_EXACT ? "exact" : method == ENG_FINITE ? "finite" : "central";
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
// layer properties

static int has_act(const layer *l)
{
    return l->type == CONVOLUTIONAL || l->type == CONNECTED || l->type == SHORTCUT || l->type == ACTIVE;
}

static int has_bn(const layer *l)
{
    return ((l->type == CONVOLUTIONAL || l->type == CONNECTED) && l->batch_normalize) || l->type == BATCHNORM;
}

static int is_smooth(ACTIVATION a) { return a == LOGISTIC || a == TANH; }

static int act_supported(ACTIVATION a)
{
    return a == LINEAR || a == RELU || a == LEAKY || a == LOGISTIC || a == TANH;
}

// second derivative of the activation, from its output a
static float act_d2(float a, ACTIVATION act)
{
    if (act == LOGISTIC) return a * (1 - a) * (1 - 2 * a);
    if (act == TANH) return -2 * a * (1 - a * a);
    return 0;
}

// 1/(sqrt(var) + 1e-6) of the statistics the last forward normalised with
static float bn_inv_sigma(const eng *e, const layer *l, int f)
{
    const float *var = e->net->train ? l->variance : l->rolling_variance;
    return 1.0f / (sqrtf(var[f]) + .000001f);
}

// The buffer of layer j's output in a stream (d, dot or dd); j = -1 is the network input.
static float *buf(float **stream, float *input, int j) { return j < 0 ? input : stream[j]; }

// ----------------------------------------------------------------------------------------------
// The table: y = L(inputs) (lin), its transpose (lin_t: dx += L^T t), the weight gradient.
// `in` names the inputs: stream[j] for layer j, input for the network input (layer -1).

// Convolutions: y = W * im2col(x) per image and group (the *_naive versions, the oracle), or
// for groups = 1 one gemm over several images' columns side by side (see below).

// tests: 1 runs the per-image convolutions instead of the batched ones
int eng_conv_naive = 0;

// (batch, c, h, w) -> (batch, n, out_h, out_w), per image and group: W (m, k) * im2col(x) (k, sp)
static void lin_convolutional_naive(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    const float *x = buf(stream, input, k - 1);
    int m = l->n / l->groups, kk = l->size * l->size * l->c / l->groups, sp = l->out_w * l->out_h;
    int direct = l->size == 1 && l->stride == 1 && l->pad == 0;
    for (int b = 0; b < l->batch; b++)
        for (int j = 0; j < l->groups; j++) {
            float *w = l->weights + j * l->nweights / l->groups;
            float *im = (float *)x + (b * l->groups + j) * l->c / l->groups * l->h * l->w;
            float *col = im;
            if (!direct) { im2col_cpu(im, l->c / l->groups, l->h, l->w, l->size, l->stride, l->pad, e->ws); col = e->ws; }
            gemm(0, 0, m, sp, kk, 1, w, kk, col, sp, 0, y + (b * l->groups + j) * m * sp, sp);
        }
}

static void lin_t_convolutional_naive(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = buf(stream, input, k - 1);
    if (!dx) return;
    int m = l->n / l->groups, kk = l->size * l->size * l->c / l->groups, sp = l->out_w * l->out_h;
    int direct = l->size == 1 && l->stride == 1 && l->pad == 0;
    for (int b = 0; b < l->batch; b++)
        for (int j = 0; j < l->groups; j++) {
            float *w = l->weights + j * l->nweights / l->groups;
            const float *tb = t + (b * l->groups + j) * m * sp;
            float *imd = dx + (b * l->groups + j) * l->c / l->groups * l->h * l->w;
            if (direct) {
                gemm(1, 0, kk, sp, m, 1, w, kk, (float *)tb, sp, 1, imd, sp);
            } else {
                gemm(1, 0, kk, sp, m, 1, w, kk, (float *)tb, sp, 0, e->ws, sp);
                col2im_cpu(e->ws, l->c / l->groups, l->h, l->w, l->size, l->stride, l->pad, imd);
            }
        }
}

// weight_updates (n, kk) += scale * sum_b t_b (m, sp) * im2col(x_b)^T   (t may be NULL)
static void wgrad_conv_one_naive(eng *e, const layer *l, const float *t, const float *x, float scale)
{
    if (!t) return;
    int m = l->n / l->groups, kk = l->size * l->size * l->c / l->groups, sp = l->out_w * l->out_h;
    int direct = l->size == 1 && l->stride == 1 && l->pad == 0;
    for (int b = 0; b < l->batch; b++)
        for (int j = 0; j < l->groups; j++) {
            float *im = (float *)x + (b * l->groups + j) * l->c / l->groups * l->h * l->w;
            float *col = im;
            if (!direct) { im2col_cpu(im, l->c / l->groups, l->h, l->w, l->size, l->stride, l->pad, e->ws); col = e->ws; }
            gemm(0, 1, m, kk, sp, scale, (float *)t + (b * l->groups + j) * m * sp, sp, col, sp, 1,
                 l->weight_updates + j * l->nweights / l->groups, kk);
        }
}

// Batched (groups = 1): nb images at a time, their columns side by side, cols (kk, nb*sp) in
// e->ws with image b's at column b*sp, then an (n, nb*sp) matrix (eng_alloc sizes e->ws for it):
// one gemm instead of nb; with the few pixels of a late ResNet stage a per-image gemm is mostly
// OpenBLAS packing its operands. nb as patch 0014 picks it for darknet's layers: the whole batch,
// or as many images as keep the columns within about 4 MB (larger ones fall out of cache
// between im2col and gemm).
static int conv_batched(const layer *l) { return l->groups == 1 && !eng_conv_naive; }

static int conv_chunk(const layer *l)
{
    size_t cols = (size_t)l->out_w * l->out_h * l->size * l->size * l->c;
    size_t nb = (1 << 20) / (cols ? cols : 1);
    return nb < 1 ? 1 : nb > (size_t)l->batch ? l->batch : (int)nb;
}

// x (nb, rows, sp) -> y (rows, nb*sp)
static void conv_to_matrix(const float *x, int nb, int rows, int sp, float *y)
{
    for (int b = 0; b < nb; b++)
        for (int r = 0; r < rows; r++)
            memcpy(y + ((size_t)r * nb + b) * sp, x + ((size_t)b * rows + r) * sp, sp * sizeof(float));
}

// y (rows, nb*sp) -> x (nb, rows, sp), overwriting or adding
static void conv_from_matrix(const float *y, int nb, int rows, int sp, float *x, int add)
{
    for (int b = 0; b < nb; b++)
        for (int r = 0; r < rows; r++) {
            const float *src = y + ((size_t)r * nb + b) * sp;
            float *dst = x + ((size_t)b * rows + r) * sp;
            if (add) for (int i = 0; i < sp; i++) dst[i] += src[i];
            else memcpy(dst, src, sp * sizeof(float));
        }
}

// cols (kk, nb*sp) of x (nb, c, h, w)
static void conv_cols(const layer *l, const float *x, int nb, float *cols)
{
    int sp = l->out_w * l->out_h;
    if (l->size == 1 && l->stride == 1 && l->pad == 0) { conv_to_matrix(x, nb, l->c, sp, cols); return; }
    for (int b = 0; b < nb; b++)
        im2col_cpu_ld((float *)x + (size_t)b * l->inputs, l->c, l->h, l->w, l->size, l->stride, l->pad, cols + b * sp, nb * sp);
}

static void lin_convolutional(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    if (!conv_batched(l)) { lin_convolutional_naive(e, k, stream, input, y); return; }
    const float *x = buf(stream, input, k - 1);
    int kk = l->size * l->size * l->c, sp = l->out_w * l->out_h, chunk = conv_chunk(l);
    float *cols = e->ws, *yn = e->ws + (size_t)kk * chunk * sp;
    for (int b = 0; b < l->batch; b += chunk) {
        int nb = l->batch - b < chunk ? l->batch - b : chunk, N = nb * sp;
        conv_cols(l, x + (size_t)b * l->inputs, nb, cols);
        gemm(0, 0, l->n, N, kk, 1, l->weights, kk, cols, N, 0, yn, N);
        conv_from_matrix(yn, nb, l->n, sp, y + (size_t)b * l->outputs, 0);
    }
}

static void lin_t_convolutional(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    if (!conv_batched(l)) { lin_t_convolutional_naive(e, k, t, stream, input); return; }
    float *dx = buf(stream, input, k - 1);
    if (!dx) return;
    int kk = l->size * l->size * l->c, sp = l->out_w * l->out_h, chunk = conv_chunk(l);
    int direct = l->size == 1 && l->stride == 1 && l->pad == 0;
    float *cols = e->ws, *tn = e->ws + (size_t)kk * chunk * sp;
    for (int b = 0; b < l->batch; b += chunk) {
        int nb = l->batch - b < chunk ? l->batch - b : chunk, N = nb * sp;
        float *dxb = dx + (size_t)b * l->inputs;
        conv_to_matrix(t + (size_t)b * l->outputs, nb, l->n, sp, tn);
        gemm(1, 0, kk, N, l->n, 1, l->weights, kk, tn, N, 0, cols, N);
        if (direct) conv_from_matrix(cols, nb, l->c, sp, dxb, 1);
        else
            for (int i = 0; i < nb; i++)
                col2im_cpu_ld(cols + i * sp, l->c, l->h, l->w, l->size, l->stride, l->pad, dxb + (size_t)i * l->inputs, N);
    }
}

static void wgrad_conv_one(eng *e, const layer *l, const float *t, const float *x, float scale)
{
    if (!t) return;
    if (!conv_batched(l)) { wgrad_conv_one_naive(e, l, t, x, scale); return; }
    int kk = l->size * l->size * l->c, sp = l->out_w * l->out_h, chunk = conv_chunk(l);
    float *cols = e->ws, *tn = e->ws + (size_t)kk * chunk * sp;
    for (int b = 0; b < l->batch; b += chunk) {
        int nb = l->batch - b < chunk ? l->batch - b : chunk, N = nb * sp;
        conv_to_matrix(t + (size_t)b * l->outputs, nb, l->n, sp, tn);
        conv_cols(l, x + (size_t)b * l->inputs, nb, cols);
        gemm(0, 1, l->n, kk, N, scale, tn, N, cols, N, 1, l->weight_updates, kk);
    }
}

static void wgrad_convolutional(eng *e, int k, const float *that, const float *t, float scale)
{
    const layer *l = &e->net->layers[k];
    wgrad_conv_one(e, l, that, buf(e->dot, e->u, k - 1), scale);
    wgrad_conv_one(e, l, t, k == 0 ? e->net->input : e->net->layers[k - 1].output, scale);
}

// weights (outputs, inputs): y = x W^T
static void lin_connected(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    gemm(0, 1, l->batch, l->outputs, l->inputs, 1, buf(stream, input, k - 1), l->inputs, l->weights, l->inputs, 0, y, l->outputs);
}

static void lin_t_connected(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = buf(stream, input, k - 1);
    if (dx) gemm(0, 0, l->batch, l->inputs, l->outputs, 1, (float *)t, l->outputs, l->weights, l->inputs, 1, dx, l->inputs);
}

static void wgrad_connected(eng *e, int k, const float *that, const float *t, float scale)
{
    const layer *l = &e->net->layers[k];
    const float *xdot = buf(e->dot, e->u, k - 1);
    const float *x = k == 0 ? e->net->input : e->net->layers[k - 1].output;
    gemm(1, 0, l->outputs, l->inputs, l->batch, scale, (float *)that, l->outputs, (float *)xdot, l->inputs, 1, l->weight_updates, l->inputs);
    if (t) gemm(1, 0, l->outputs, l->inputs, l->batch, scale, (float *)t, l->outputs, (float *)x, l->inputs, 1, l->weight_updates, l->inputs);
}

// identity (the [batchnorm] and [activation] layers' linear part)
static void lin_identity(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    copy_cpu(l->outputs * l->batch, buf(stream, input, k - 1), 1, y, 1);
}

static void lin_t_identity(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = buf(stream, input, k - 1);
    if (dx) axpy_cpu(l->outputs * l->batch, 1, (float *)t, 1, dx, 1);
}

// indexes[i] is the flat (batch-wide) input index of output i's maximum
static void lin_maxpool(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    const float *x = buf(stream, input, k - 1);
    int n = l->out_h * l->out_w * l->c * l->batch;
    for (int i = 0; i < n; i++) y[i] = x[l->indexes[i]];
}

static void lin_t_maxpool(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = buf(stream, input, k - 1);
    if (!dx) return;
    int n = l->out_h * l->out_w * l->c * l->batch;
    for (int i = 0; i < n; i++) dx[l->indexes[i]] += t[i];
}

// global average: (batch, c, h, w) -> (batch, c)
static void lin_avgpool(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    const float *x = buf(stream, input, k - 1);
    int sp = l->h * l->w;
    for (int i = 0; i < l->batch * l->c; i++) {
        double s = 0;
        for (int j = 0; j < sp; j++) s += x[i * sp + j];
        y[i] = (float)(s / sp);
    }
}

static void lin_t_avgpool(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = buf(stream, input, k - 1);
    if (!dx) return;
    int sp = l->h * l->w;
    for (int i = 0; i < l->batch * l->c; i++) {
        float v = t[i] / sp;
        for (int j = 0; j < sp; j++) dx[i * sp + j] += v;
    }
}

// y = alpha*prev + beta*from (resampled where sizes differ), as forward_shortcut_layer computes it
static void lin_shortcut(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    copy_cpu(l->outputs * l->batch, buf(stream, input, k - 1), 1, y, 1);
    shortcut_cpu(l->batch, l->w, l->h, l->c, stream[l->index], l->out_w, l->out_h, l->out_c, l->alpha, l->beta, y);
}

// The transpose. The forward scales by alpha only the values it adds to (the channels and pixels
// the two layers share), so the previous layer gets alpha t there and t elsewhere: t is copied and
// scaled by shortcut_cpu itself, with the forward's geometry (beta 0 adds nothing; patch 0018
// makes darknet's backward do the same).
static void lin_t_shortcut(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = buf(stream, input, k - 1);
    int n = l->outputs * l->batch;
    shortcut_cpu(l->batch, l->out_w, l->out_h, l->out_c, (float *)t, l->w, l->h, l->c, 1, l->beta, stream[l->index]);
    if (!dx) return;
    if (l->alpha == 1) { axpy_cpu(n, 1, (float *)t, 1, dx, 1); return; }
    copy_cpu(n, (float *)t, 1, e->scaled, 1);
    shortcut_cpu(l->batch, l->w, l->h, l->c, e->net->layers[l->index].output, l->out_w, l->out_h, l->out_c, l->alpha, 0, e->scaled);
    axpy_cpu(n, 1, e->scaled, 1, dx, 1);
}

// per image, the concatenation of the listed layers' outputs
static void lin_route(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    (void)input;
    int offset = 0;
    for (int i = 0; i < l->n; i++) {
        int size = l->input_sizes[i];
        const float *x = stream[l->input_layers[i]];
        for (int b = 0; b < l->batch; b++) memcpy(y + offset + b * l->outputs, x + b * size, size * sizeof(float));
        offset += size;
    }
}

static void lin_t_route(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    (void)input;
    int offset = 0;
    for (int i = 0; i < l->n; i++) {
        int size = l->input_sizes[i];
        float *dx = stream[l->input_layers[i]];
        for (int b = 0; b < l->batch; b++) axpy_cpu(size, 1, (float *)t + offset + b * l->outputs, 1, dx + b * size, 1);
        offset += size;
    }
}

// in training mode the forward zeroed or scaled each input by its stored draw
static void lin_dropout(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    const float *x = buf(stream, input, k - 1);
    int n = l->batch * l->inputs;
    for (int i = 0; i < n; i++) y[i] = !e->net->train ? x[i] : l->rand[i] < l->probability ? 0 : x[i] * l->scale;
}

static void lin_t_dropout(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = buf(stream, input, k - 1);
    if (!dx) return;
    int n = l->batch * l->inputs;
    for (int i = 0; i < n; i++) dx[i] += !e->net->train ? t[i] : l->rand[i] < l->probability ? 0 : t[i] * l->scale;
}

typedef void (*lin_fn)(eng *e, int k, float **stream, float *input, float *y);
typedef void (*lin_t_fn)(eng *e, int k, const float *t, float **stream, float *input);
typedef void (*wgrad_fn)(eng *e, int k, const float *that, const float *t, float scale);

typedef struct {
    LAYER_TYPE type;
    const char *name;
    lin_fn lin;         // tangent forward of the linear part
    lin_t_fn lin_t;     // its transpose: both adjoint streams
    wgrad_fn wgrad;     // weight gradient, NULL for layers without weights
} eng_rule;

static const eng_rule RULES[] = {
    { CONVOLUTIONAL, "convolutional", lin_convolutional, lin_t_convolutional, wgrad_convolutional },
    { CONNECTED,     "connected",     lin_connected,     lin_t_connected,     wgrad_connected },
    { BATCHNORM,     "batchnorm",     lin_identity,      lin_t_identity,      NULL },
    { ACTIVE,        "activation",    lin_identity,      lin_t_identity,      NULL },
    { MAXPOOL,       "maxpool",       lin_maxpool,       lin_t_maxpool,       NULL },
    { AVGPOOL,       "avgpool",       lin_avgpool,       lin_t_avgpool,       NULL },
    { SHORTCUT,      "shortcut",      lin_shortcut,      lin_t_shortcut,      NULL },
    { ROUTE,         "route",         lin_route,         lin_t_route,         NULL },
    { DROPOUT,       "dropout",       lin_dropout,       lin_t_dropout,       NULL },
};

static const eng_rule *rule_of(LAYER_TYPE t)
{
    for (size_t i = 0; i < sizeof RULES / sizeof RULES[0]; i++)
        if (RULES[i].type == t) return &RULES[i];
    return NULL;
}

// ----------------------------------------------------------------------------------------------
// the shared parts: activation and batch norm around the linear part

// First order: t = dy * act'(a), then * scale/sigma for BN. Returns t in e->tmp.
static float *through_act_bn(eng *e, const layer *l, const float *dy)
{
    int n = l->outputs * l->batch;
    copy_cpu(n, (float *)dy, 1, e->tmp, 1);
    if (has_act(l)) gradient_array(l->output, n, l->activation, e->tmp);
    if (has_bn(l)) {
        int sp = l->out_w * l->out_h;
        for (int b = 0; b < l->batch; b++)
            for (int f = 0; f < l->out_c; f++) {
                float s = l->scales[f] * bn_inv_sigma(e, l, f);
                float *t = e->tmp + (b * l->out_c + f) * sp;
                for (int i = 0; i < sp; i++) t[i] *= s;
            }
    }
    return e->tmp;
}

// Tangent: y' (in y) -> pre[k] (n' = y'/sigma, or o' without BN) -> o' -> a' = act'(a) o'.
static void tangent_act_bn(eng *e, int k, float *y, float *out)
{
    const layer *l = &e->net->layers[k];
    int n = l->outputs * l->batch;
    if (has_bn(l)) {
        int sp = l->out_w * l->out_h;
        for (int b = 0; b < l->batch; b++)
            for (int f = 0; f < l->out_c; f++) {
                float is = bn_inv_sigma(e, l, f);
                float *p = y + (b * l->out_c + f) * sp, *q = e->pre[k] + (b * l->out_c + f) * sp;
                for (int i = 0; i < sp; i++) { q[i] = p[i] * is; p[i] = q[i] * l->scales[f]; }
            }
    } else if (e->pre[k]) {
        copy_cpu(n, y, 1, e->pre[k], 1);
    }
    if (y != out) copy_cpu(n, y, 1, out, 1);
    if (has_act(l)) gradient_array(l->output, n, l->activation, out);
}

// Reverse of one layer for both streams at its output (d[k], dd[k]): returns t^ (adjoint of y',
// in e->tmp) and sets *t to the adjoint of y (e->tmp2) or NULL when that stream is zero here.
// Batch norm's scale and bias gradients are added on the way (scale -lambda: darknet's sign).
static float *reverse_act_bn(eng *e, int k, float scale, float **t)
{
    layer *l = &e->net->layers[k];
    int n = l->outputs * l->batch;
    float *that = e->tmp, *tt = NULL;
    copy_cpu(n, e->d[k], 1, that, 1);
    if (has_act(l)) gradient_array(l->output, n, l->activation, that);
    int second = has_act(l) && is_smooth(l->activation);
    if (e->dd || second) {
        tt = e->tmp2;
        if (e->dd) {
            copy_cpu(n, e->dd[k], 1, tt, 1);
            if (has_act(l)) gradient_array(l->output, n, l->activation, tt);
        } else {
            fill_cpu(n, 0, tt, 1);
        }
        if (second) {
            // + act''(o) * o' * d: o' = scale*n' with BN, pre[k] without
            int sp = l->out_w * l->out_h;
            for (int i = 0; i < n; i++) {
                float od = e->pre[k][i];
                if (has_bn(l)) od *= l->scales[(i / sp) % l->out_c];
                tt[i] += act_d2(l->output[i], l->activation) * od * e->d[k][i];
            }
        }
    }
    if (has_bn(l)) {
        int sp = l->out_w * l->out_h;
        for (int f = 0; f < l->out_c; f++) {
            double ds = 0, db = 0;
            for (int b = 0; b < l->batch; b++) {
                int o = (b * l->out_c + f) * sp;
                for (int i = 0; i < sp; i++) {
                    ds += (double)that[o + i] * e->pre[k][o + i];
                    if (tt) { ds += (double)tt[o + i] * l->x_norm[o + i]; db += tt[o + i]; }
                }
            }
            l->scale_updates[f] += scale * (float)ds;
            l->bias_updates[f] += scale * (float)db;
            float s = l->scales[f] * bn_inv_sigma(e, l, f);
            for (int b = 0; b < l->batch; b++) {
                int o = (b * l->out_c + f) * sp;
                for (int i = 0; i < sp; i++) { that[o + i] *= s; if (tt) tt[o + i] *= s; }
            }
        }
    } else if (tt && (l->type == CONVOLUTIONAL || l->type == CONNECTED)) {
        int nb = l->type == CONNECTED ? l->outputs : l->n;
        int sp = l->type == CONNECTED ? 1 : l->out_w * l->out_h;
        for (int b = 0; b < l->batch; b++)
            for (int f = 0; f < nb; f++) {
                double s = 0;
                for (int i = 0; i < sp; i++) s += tt[(b * nb + f) * sp + i];
                l->bias_updates[f] += scale * (float)s;
            }
    }
    *t = tt;
    return that;
}

// ----------------------------------------------------------------------------------------------

static float **alloc_stream(network *net, int top)
{
    float **s = calloc(top > 0 ? top : 1, sizeof(float *));
    for (int k = 0; k < top; k++) s[k] = calloc((size_t)net->layers[k].outputs * net->layers[k].batch, sizeof(float));
    return s;
}

static void free_stream(float **s, int top)
{
    if (!s) return;
    for (int k = 0; k < top; k++) free(s[k]);
    free(s);
}

static void eng_alloc(eng *e)
{
    network *net = e->net;
    int top = e->top;
    e->batch = net->batch;
    e->d = alloc_stream(net, top);
    e->dot = alloc_stream(net, top);
    e->pre = calloc(top > 0 ? top : 1, sizeof(float *));
    size_t maxout = 1, maxws = 1;
    for (int k = 0; k < top; k++) {
        const layer *l = &net->layers[k];
        size_t n = (size_t)l->outputs * l->batch;
        if (has_bn(l) || (has_act(l) && is_smooth(l->activation))) e->pre[k] = calloc(n, sizeof(float));
        if (n > maxout) maxout = n;
        if (l->workspace_size / sizeof(float) + 1 > maxws) maxws = l->workspace_size / sizeof(float) + 1;
        if (l->type == CONVOLUTIONAL && l->groups == 1) {
            // the batched convolutions: columns (kk, nb*sp) and an (n, nb*sp) matrix
            size_t need = (size_t)(l->size * l->size * l->c + l->n) * conv_chunk(l) * l->out_w * l->out_h;
            if (need > maxws) maxws = need;
        }
    }
    size_t nin = (size_t)net->inputs * net->batch;
    e->g = calloc(nin, sizeof(float));
    e->u = calloc(nin, sizeof(float));
    e->seed = calloc((size_t)e->classes * net->batch, sizeof(float));
    e->tmp = calloc(maxout, sizeof(float));
    e->tmp2 = calloc(maxout, sizeof(float));
    for (int k = 0; k < top; k++)
        if (net->layers[k].type == SHORTCUT && net->layers[k].alpha != 1 && !e->scaled) e->scaled = calloc(maxout, sizeof(float));
    e->ws = calloc(maxws, sizeof(float));
}

static void eng_release(eng *e)
{
    free_stream(e->d, e->top);
    free_stream(e->dot, e->top);
    free_stream(e->pre, e->top);
    free_stream(e->dd, e->top);
    e->d = e->dot = e->pre = e->dd = NULL;
    free(e->g); free(e->u); free(e->seed); free(e->tmp); free(e->tmp2); free(e->scaled); free(e->ws);
    e->scaled = NULL;
}

// darknet's set_batch_network may have changed the batch since the buffers were made
static void eng_fit_batch(eng *e)
{
    if (e->batch == e->net->batch) return;
    eng_release(e);
    eng_alloc(e);
}

eng *eng_init(network *net, char *err, int errlen)
{
    return eng_init_for(net, 1, err, errlen);
}

eng *eng_init_for(network *net, int exact, char *err, int errlen)
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
    int smooth = 0;
    for (int k = 0; k < top && exact; k++) {
        const layer *l = &net->layers[k];
        if (!rule_of(l->type)) {
            snprintf(err, errlen, "layer %d (%s): no exact gradient rule for this layer type; supported: "
                     "convolutional, connected, batchnorm, activation, maxpool, avgpool, shortcut, route, dropout, softmax "
                     "(for regularized training use method=finite, which works with any layer type)",
                     k, get_layer_string(l->type));
            return NULL;
        }
        if (has_act(l) && !act_supported(l->activation)) {
            snprintf(err, errlen, "layer %d (%s): activation %s is not supported; supported: linear, relu, leaky, logistic, tanh "
                     "(for regularized training method=finite works with any activation)",
                     k, get_layer_string(l->type), get_activation_string(l->activation));
            return NULL;
        }
        if (l->type == CONVOLUTIONAL && (l->xnor || l->binary)) {
            snprintf(err, errlen, "layer %d (convolutional): binary/xnor convolutions are not supported", k);
            return NULL;
        }
        if (has_act(l) && is_smooth(l->activation)) smooth = 1;
    }
    eng *e = calloc(1, sizeof *e);
    e->net = net;
    e->top = top;
    e->classes = sm->inputs;
    e->smooth = smooth;
    e->exact = exact;
    eng_alloc(e);
    return e;
}

void eng_free(eng *e)
{
    if (!e) return;
    eng_release(e);
    free(e);
}

int eng_top(const eng *e) { return e->top; }
int eng_classes(const eng *e) { return e->classes; }
const float *eng_last_heatmap(const eng *e) { return e->g; }

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
    eng_fit_batch(e);
    int B = net->batch;
    memset(g, 0, sizeof(float) * (size_t)net->inputs * B);
    for (int k = 0; k < e->top; k++) memset(e->d[k], 0, sizeof(float) * (size_t)net->layers[k].outputs * B);
    memcpy(buf(e->d, g, e->top - 1), seed, sizeof(float) * (size_t)e->classes * B);
    for (int k = e->top - 1; k >= 0; k--) {
        const layer *l = &net->layers[k];
        const float *t = has_act(l) || has_bn(l) ? through_act_bn(e, l, e->d[k]) : e->d[k];
        rule_of(l->type)->lin_t(e, k, t, e->d, g);
    }
}

// ----------------------------------------------------------------------------------------------

typedef struct { float *mean, *var; } bn_saved;
static int stock_input_grad(eng *e, eng_form form, const float *truth, const float *r, float *g, char *err, int errlen);

static bn_saved *save_rolling(network *net)
{
    bn_saved *s = calloc(net->n, sizeof *s);
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        if (!has_bn(l) || !l->rolling_mean) continue;
        int c = l->out_c;
        s[k].mean = malloc(c * sizeof(float));
        s[k].var = malloc(c * sizeof(float));
        memcpy(s[k].mean, l->rolling_mean, c * sizeof(float));
        memcpy(s[k].var, l->rolling_variance, c * sizeof(float));
    }
    return s;
}

static void restore_rolling(network *net, bn_saved *s)
{
    for (int k = 0; k < net->n; k++) {
        if (!s[k].mean) continue;
        layer *l = &net->layers[k];
        memcpy(l->rolling_mean, s[k].mean, l->out_c * sizeof(float));
        memcpy(l->rolling_variance, s[k].var, l->out_c * sizeof(float));
        free(s[k].mean);
        free(s[k].var);
    }
    free(s);
}

int eng_heatmap(eng *e, const float *x, const float *truth, eng_form form, int train,
                uint64_t *rng, float *g)
{
    network *net = e->net;
    eng_fit_batch(e);
    bn_saved *saved = train ? save_rolling(net) : NULL;   // only a training-mode forward moves them
    int old_train = net->train;
    float *old_truth = net->truth;
    net->truth = 0;   // no cost layers' work, and nothing for them to read
    net->train = train;
    memcpy(net->input, x, sizeof(float) * (size_t)net->inputs * net->batch);
    forward_network(net);
    eng_seed(e, form, truth, rng, e->seed);
    int rc = 0;
    if (e->exact) {
        eng_input_grad(e, e->seed, g);
    } else {
        char err[256];
        rc = stock_input_grad(e, form, truth, e->seed, g, err, sizeof err);
        if (rc) memset(g, 0, sizeof(float) * (size_t)net->inputs * net->batch);
    }
    if (g != e->g) memcpy(e->g, g, sizeof(float) * (size_t)net->inputs * net->batch);
    net->train = old_train;
    net->truth = old_truth;
    if (saved) restore_rolling(net, saved);
    return rc;
}

// Training mode: inference-mode batch norm normalises with rolling_*, so lend it the last
// forward's batch statistics (restore_rolling gives the rolling ones back). NULL in inference mode.
static bn_saved *lend_batch_stats(eng *e)
{
    network *net = e->net;
    if (!net->train) return NULL;
    bn_saved *saved = save_rolling(net);
    for (int k = 0; k <= e->top; k++) {
        layer *l = &net->layers[k];
        if (!has_bn(l)) continue;
        memcpy(l->rolling_mean, l->mean, l->out_c * sizeof(float));
        memcpy(l->rolling_variance, l->variance, l->out_c * sizeof(float));
    }
    return saved;
}

// darknet's layer forwards up to the top softmax in inference mode, each dropout reusing its
// draw when the net is in training mode (batch statistics already lent)
static void forward_frozen(eng *e)
{
    network net = *e->net;
    int was_train = net.train;
    net.train = 0;
    net.truth = 0;
    for (int i = 0; i <= e->top; ++i) {
        net.index = i;
        layer l = net.layers[i];
        if (l.delta) fill_cpu(l.outputs * l.batch, 0, l.delta, 1);
        if (l.type == DROPOUT) {
            // in place on the previous output, as darknet's training-mode dropout does
            if (was_train)
                for (int j = 0; j < l.batch * l.inputs; j++)
                    net.input[j] = l.rand[j] < l.probability ? 0 : net.input[j] * l.scale;
        } else {
            l.forward(l, net);
        }
        net.input = l.output;
    }
}

void eng_forward_frozen(eng *e)
{
    bn_saved *saved = lend_batch_stats(e);
    forward_frozen(e);
    if (saved) restore_rolling(e->net, saved);
}

// ----------------------------------------------------------------------------------------------
// double backprop, exact (§2a)

// u . g per image and the regularizer: e->g holds the heatmaps; writes e->u, returns the R sum
static int penalty(eng *e, const eng_reg_cfg *c, double *rsum, char *err, int errlen)
{
    network *net = e->net;
    int B = net->batch, n = net->inputs;
    memset(e->u, 0, sizeof(float) * (size_t)n * B);
    *rsum = 0;
    for (int b = 0; b < B; b++) {
        double r = 0;
        char why[256] = "";
        int rc = reg_eval(c->reg, e->g + (size_t)b * n, net->input + (size_t)b * n, net->c, net->h, net->w,
                          &r, e->u + (size_t)b * n, 1.0f, why, sizeof why);
        if (rc) {
            snprintf(err, errlen, "regularizer %s, image %d of the batch: %s", c->reg->name, b, why[0] ? why : reg_strerror(rc));
            return -1;
        }
        *rsum += r;
    }
    return 0;
}

static void reg_exact(eng *e, eng_form form, float lambda)
{
    network *net = e->net;
    int top = e->top, B = net->batch;
    if (top == 0) return;   // no parameters below the softmax
    // tangent forward, a'_0 = u
    for (int k = 0; k < top; k++) {
        const layer *l = &net->layers[k];
        float *y = has_act(l) || has_bn(l) ? e->tmp : e->dot[k];
        rule_of(l->type)->lin(e, k, e->dot, e->u, y);
        if (y != e->dot[k]) tangent_act_bn(e, k, y, e->dot[k]);
    }
    // the primal adjoint stream: seeded with d2s/dz2 z' (only `loss` has one), or smooth activations
    int need_dd = form == ENG_LOSS || e->smooth;
    if (need_dd && !e->dd) e->dd = alloc_stream(net, top);
    if (!need_dd) { free_stream(e->dd, top); e->dd = NULL; }
    if (e->dd) {
        for (int k = 0; k < top; k++) memset(e->dd[k], 0, sizeof(float) * (size_t)net->layers[k].outputs * B);
        if (form == ENG_LOSS) {
            const layer *sm = &net->layers[top];
            int K = e->classes;
            float T2 = sm->temperature * sm->temperature;
            for (int b = 0; b < B; b++) {
                const float *p = sm->output + b * K, *zd = e->dot[top - 1] + b * K;
                float *dd = e->dd[top - 1] + b * K;
                double pv = 0;
                for (int i = 0; i < K; i++) pv += (double)p[i] * zd[i];
                for (int i = 0; i < K; i++) dd[i] = (float)((p[i] * zd[i] - p[i] * pv) / T2);
            }
        }
    }
    // reverse: both streams, weight gradients; darknet's updates hold -gradient
    float scale = -lambda;
    for (int k = top - 1; k >= 0; k--) {
        const layer *l = &net->layers[k];
        const eng_rule *r = rule_of(l->type);
        float *that, *t;
        if (has_act(l) || has_bn(l)) {
            that = reverse_act_bn(e, k, scale, &t);
        } else {
            that = e->d[k];
            t = e->dd ? e->dd[k] : NULL;
        }
        if (r->wgrad) r->wgrad(e, k, that, t, scale);
        if (t && e->dd) r->lin_t(e, k, t, e->dd, NULL);
    }
}

// ----------------------------------------------------------------------------------------------
// double backprop by finite differences (§2b): darknet's own backward at x + h u and x

// the layers' deltas below the top as darknet's forward leaves them: zero
static void zero_deltas(eng *e)
{
    for (int k = 0; k < e->top; k++) {
        layer *l = &e->net->layers[k];
        if (l->delta) fill_cpu(l->outputs * l->batch, 0, l->delta, 1);
    }
}

// darknet's own backward from the top softmax down, seeded with -scale_b * dS_b/dz_b at the softmax
// (the frozen forward just ran, so deltas are zero and batch norm is affine).
static void stock_backward(eng *e, eng_form form, const float *truth, const float *r, const float *fac)
{
    network *netp = e->net;
    layer *sm = &netp->layers[e->top];
    int K = e->classes;
    if (form == ENG_SPECTREG) { if (r != e->seed) memcpy(e->seed, r, sizeof(float) * (size_t)K * netp->batch); }
    else eng_seed(e, form, truth, NULL, e->seed);
    for (int b = 0; b < netp->batch; b++)
        for (int i = 0; i < K; i++) sm->delta[b * K + i] = -fac[b] * e->seed[b * K + i];
    network net = *netp;
    network orig = net;
    net.train = 0;
    orig.train = 0;   // orig.delta: the caller's input-gradient buffer, or NULL
    for (int i = e->top; i >= 0; --i) {
        layer l = net.layers[i];
        if (i == 0) {
            net = orig;
        } else {
            net.input = net.layers[i - 1].output;
            net.delta = net.layers[i - 1].delta;
        }
        net.index = i;
        l.backward(l, net);
    }
}

// Bytes of a layer's update buffers (weights, biases, scales), or -1 when darknet keeps them in
// sub-layers this engine does not know (rnn, gru, lstm, crnn).
static int update_sizes(const layer *l, size_t n[3])
{
    n[0] = n[1] = n[2] = 0;
    switch (l->type) {
    case CONVOLUTIONAL: case DECONVOLUTIONAL: n[0] = l->nweights; n[1] = n[2] = l->n; break;
    case CONNECTED: n[0] = (size_t)l->inputs * l->outputs; n[1] = n[2] = l->outputs; break;
    case BATCHNORM: n[1] = n[2] = l->c; break;
    case LOCAL: n[0] = (size_t)l->c * l->n * l->size * l->size * l->out_w * l->out_h; n[1] = l->outputs; break;
    case RNN: case GRU: case LSTM: case CRNN: return -1;
    default: break;
    }
    if (!l->scale_updates) n[2] = 0;
    if (!l->bias_updates) n[1] = 0;
    if (!l->weight_updates) n[0] = 0;
    return 0;
}

// g = +dS/dx through darknet's own backward (any layer type): frozen forward at the current input,
// the seed at the softmax, the stock backward into g; the update buffers it touched are restored.
static int stock_input_grad(eng *e, eng_form form, const float *truth, const float *r, float *g, char *err, int errlen)
{
    network *net = e->net;
    int top = e->top, B = net->batch;
    size_t nb = (size_t)net->inputs * B;
    float **saved = calloc(3 * (top + 1), sizeof(float *));
    for (int k = 0; k <= top; k++) {
        layer *l = &net->layers[k];
        size_t n[3];
        if (update_sizes(l, n)) {
            snprintf(err, errlen, "layer %d (%s): keeps its weights in sub-layers; not supported by method=finite", k, get_layer_string(l->type));
            for (int i = 0; i < 3 * (top + 1); i++) free(saved[i]);
            free(saved);
            return -1;
        }
        float *arr[3] = {l->weight_updates, l->bias_updates, l->scale_updates};
        for (int a = 0; a < 3; a++)
            if (n[a]) { saved[3 * k + a] = malloc(n[a] * sizeof(float)); memcpy(saved[3 * k + a], arr[a], n[a] * sizeof(float)); }
    }
    layer *sm = &net->layers[top];
    size_t nk = (size_t)e->classes * B;
    float *smdelta = malloc(nk * sizeof(float));
    memcpy(smdelta, sm->delta, nk * sizeof(float));
    bn_saved *stats = lend_batch_stats(e);
    int train = net->train;
    forward_frozen(e);
    float *fac = malloc(B * sizeof(float));
    for (int b = 0; b < B; b++) fac[b] = 1;
    memset(g, 0, nb * sizeof(float));
    float *old = net->delta;
    net->delta = g;
    stock_backward(e, form, truth, r, fac);
    net->delta = old;
    for (size_t i = 0; i < nb; i++) g[i] = -g[i];
    free(fac);
    zero_deltas(e);
    net->train = train;
    if (stats) restore_rolling(net, stats);
    memcpy(sm->delta, smdelta, nk * sizeof(float));
    free(smdelta);
    for (int k = 0; k <= top; k++) {
        layer *l = &net->layers[k];
        size_t n[3];
        update_sizes(l, n);
        float *arr[3] = {l->weight_updates, l->bias_updates, l->scale_updates};
        for (int a = 0; a < 3; a++) if (saved[3 * k + a]) { memcpy(arr[a], saved[3 * k + a], n[a] * sizeof(float)); free(saved[3 * k + a]); }
    }
    free(saved);
    return 0;
}

int eng_check_finite(const eng *e, int updates, char *err, int errlen)
{
    for (int k = 0; k <= e->top; k++) {
        const layer *l = &e->net->layers[k];
        size_t n[3];
        if (update_sizes(l, n)) continue;   // sub-layers: darknet's own business
        const float *arr[5] = {updates ? l->weight_updates : l->weights, updates ? l->bias_updates : l->biases,
                               updates ? l->scale_updates : l->scales, updates ? NULL : l->rolling_mean,
                               updates ? NULL : l->rolling_variance};
        static const char *names[2][5] = {{"weights", "biases", "scales", "rolling_mean", "rolling_variance"},
                                          {"weight_updates", "bias_updates", "scale_updates", "", ""}};
        size_t len[5] = {n[0], n[1], n[2], has_bn(l) ? (size_t)l->out_c : 0, has_bn(l) ? (size_t)l->out_c : 0};
        for (int a = 0; a < 5; a++) {
            if (!arr[a]) continue;
            for (size_t i = 0; i < len[a]; i++)
                if (!num_finite_f(arr[a][i])) {
                    snprintf(err, errlen, "layer %d (%s) %s[%zu] is %s", k, get_layer_string(l->type), names[updates][a], i,
                             arr[a][i] != arr[a][i] ? "nan" : arr[a][i] > 0 ? "inf" : "-inf");
                    return -1;
                }
        }
    }
    return 0;
}

// What darknet's backward reads of the layers up to the top softmax (outputs, batch norm's x and
// x_norm, maxpool's choices), for the layer types whose state that is all; NULL otherwise.
typedef struct { int n; float **out, **x, **xn; int **idx; } state_snap;

static state_snap *snapshot(eng *e)
{
    network *net = e->net;
    int top = e->top, B = net->batch;
    if (top < 0) return NULL;
    for (int k = 0; k <= top; k++) {
        LAYER_TYPE t = net->layers[k].type;
        if (!rule_of(t) && t != SOFTMAX) return NULL;
    }
    state_snap *s = calloc(1, sizeof *s);
    s->n = top + 1;
    size_t nl = (size_t)top + 1;
    s->out = calloc(nl, sizeof(float *));
    s->x = calloc(nl, sizeof(float *));
    s->xn = calloc(nl, sizeof(float *));
    s->idx = calloc(nl, sizeof(int *));
    for (int k = 0; k <= top; k++) {
        layer *l = &net->layers[k];
        size_t n = (size_t)l->outputs * B;
        s->out[k] = malloc(n * sizeof(float));
        memcpy(s->out[k], l->output, n * sizeof(float));
        if (has_bn(l)) {
            s->x[k] = malloc(n * sizeof(float));
            s->xn[k] = malloc(n * sizeof(float));
            memcpy(s->x[k], l->x, n * sizeof(float));
            memcpy(s->xn[k], l->x_norm, n * sizeof(float));
        }
        if (l->type == MAXPOOL) {
            s->idx[k] = malloc(n * sizeof(int));
            memcpy(s->idx[k], l->indexes, n * sizeof(int));
        }
    }
    return s;
}

static void restore_snapshot(eng *e, state_snap *s)
{
    network *net = e->net;
    int B = net->batch;
    // in order: a dropout shares its output with the layer before it and comes after it
    for (int k = 0; k < s->n; k++) {
        layer *l = &net->layers[k];
        size_t n = (size_t)l->outputs * B;
        memcpy(l->output, s->out[k], n * sizeof(float));
        if (s->x[k]) { memcpy(l->x, s->x[k], n * sizeof(float)); memcpy(l->x_norm, s->xn[k], n * sizeof(float)); }
        if (s->idx[k]) memcpy(l->indexes, s->idx[k], n * sizeof(int));
        free(s->out[k]); free(s->x[k]); free(s->xn[k]); free(s->idx[k]);
    }
    free(s->out); free(s->x); free(s->xn); free(s->idx);
    free(s);
}

static void reg_finite(eng *e, const eng_reg_cfg *c, const float *truth, const float *r)
{
    network *net = e->net;
    int B = net->batch, n = net->inputs;
    size_t nb = (size_t)n * B;
    float *x0 = malloc(nb * sizeof(float));
    float *fac = malloc(B * sizeof(float)), *neg = malloc(B * sizeof(float));
    memcpy(x0, net->input, nb * sizeof(float));
    // per-example step h_b = step |x_b| / |u_b|; weight lambda/h_b (central: lambda/2h_b)
    float *h = malloc(B * sizeof(float));
    for (int b = 0; b < B; b++) {
        double xn = 0, un = 0;
        for (int i = 0; i < n; i++) { xn += (double)x0[b * n + i] * x0[b * n + i]; un += (double)e->u[b * n + i] * e->u[b * n + i]; }
        h[b] = un > 0 ? (float)(c->step * (xn > 0 ? sqrt(xn) : 1.0) / sqrt(un)) : 0;
        fac[b] = h[b] > 0 ? c->lambda / (c->method == ENG_FINITE_CENTRAL ? 2 * h[b] : h[b]) : 0;
        neg[b] = -fac[b];
    }
    // keep the primal softmax delta (darknet's CE delta, truth - p) for darknet's backward
    layer *sm = &net->layers[e->top];
    size_t nk = (size_t)e->classes * B;
    float *smdelta = malloc(nk * sizeof(float));
    memcpy(smdelta, sm->delta, nk * sizeof(float));
    // darknet's backward adds -fac * dS/dtheta: at x + hu with +fac, at x (or x - hu) with -fac
    bn_saved *saved = lend_batch_stats(e);
    int train = net->train;
    if (c->method == ENG_FINITE_CENTRAL) {
        for (int i = 0; i < n * B; i++) net->input[i] = x0[i] + h[i / n] * e->u[i];
        forward_frozen(e);
        stock_backward(e, c->form, truth, r, fac);
        for (int i = 0; i < n * B; i++) net->input[i] = x0[i] - h[i / n] * e->u[i];
        forward_frozen(e);
        stock_backward(e, c->form, truth, r, neg);
        memcpy(net->input, x0, nb * sizeof(float));
        forward_frozen(e);   // the layers as darknet's forward left them
    } else {
        // at x first, on the state darknet's forward left (the frozen forward computes the same
        // numbers); kept aside and put back after x + hu instead of a third forward
        state_snap *snap = snapshot(e);
        stock_backward(e, c->form, truth, r, neg);
        for (int i = 0; i < n * B; i++) net->input[i] = x0[i] + h[i / n] * e->u[i];
        forward_frozen(e);
        stock_backward(e, c->form, truth, r, fac);
        memcpy(net->input, x0, nb * sizeof(float));
        if (snap) restore_snapshot(e, snap); else forward_frozen(e);
        zero_deltas(e);
    }
    net->train = train;
    if (saved) restore_rolling(net, saved);
    memcpy(sm->delta, smdelta, nk * sizeof(float));
    free(x0); free(fac); free(neg); free(h); free(smdelta);
}

int eng_reg_step(eng *e, const eng_reg_cfg *c, const float *truth, uint64_t *rng,
                 eng_reg_report *out, char *err, int errlen)
{
    network *net = e->net;
    eng_fit_batch(e);
    int B = net->batch;
    size_t nb = (size_t)net->inputs * B;
    // the heatmap: the sweep seeded with dS/dz at the training-mode forward's point
    eng_seed(e, c->form, truth, rng, e->seed);
    float *r = NULL;
    if (c->form == ENG_SPECTREG) {
        r = malloc(sizeof(float) * (size_t)e->classes * B);
        memcpy(r, e->seed, sizeof(float) * (size_t)e->classes * B);
    }
    if (e->exact) {
        eng_input_grad(e, e->seed, e->g);
    } else if (stock_input_grad(e, c->form, truth, e->seed, e->g, err, errlen)) {
        free(r);
        return -1;
    }
    double gabs = 0;
    for (size_t i = 0; i < nb; i++) gabs += fabsf(e->g[i]);
    if (!num_finite(gabs)) {
        snprintf(err, errlen, "the heatmap has NaN or Inf (the network's activations have diverged)");
        free(r);
        return -1;
    }
    double rsum;
    if (penalty(e, c, &rsum, err, errlen)) { free(r); return -1; }
    if (!num_finite(rsum)) {
        snprintf(err, errlen, "the regularizer %s is %s", c->reg->name, rsum != rsum ? "nan" : "inf");
        free(r);
        return -1;
    }
    if (c->lambda != 0) {
        if (c->method == ENG_EXACT && !e->exact) {
            snprintf(err, errlen, "method=exact needs a rule for every layer; this engine was made for method=finite");
            free(r);
            return -1;
        }
        if (c->method == ENG_EXACT) reg_exact(e, c->form, c->lambda);
        else reg_finite(e, c, truth, r);
    }
    free(r);
    if (out) {
        out->r_mean = rsum / B;
        out->g_abs_mean = gabs / nb;
    }
    return 0;
}
