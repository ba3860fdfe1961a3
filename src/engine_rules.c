// engine_rules.c: the engine's layer-rule table (../shared/spec/double-backprop.md §2a), one entry
// per darknet layer type: y = L(inputs), the layer's linear part (convolution/connected without
// bias, pooling, routing, shortcut sum, dropout mask, crop), its transpose (dx += L^T t) and its
// weight gradient, plus what the rest of the engine needs to know of the type (an activation after
// it, batch norm, which arrays are parameters, what darknet's forward draws and its backward
// reads or fails to pass on). Types without an exact rule are listed too, for method=finite
// (their parameter sizes).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"
#include "dk.h"
#include "blas.h"
#include "gemm.h"
#include "im2col.h"
#include "col2im.h"
#include "convolutional_layer.h"

// ----------------------------------------------------------------------------------------------
// the rules: `in` names the inputs: stream[j] for layer j, input for the network input (layer -1)

// Convolutions: y = W * im2col(x) per image and group (the *_naive versions, the oracle), or
// for groups = 1 one gemm over several images' columns side by side (see below).

// tests: 1 runs the per-image convolutions instead of the batched ones
int eng_conv_naive = 0;
int eng_test_break = 0;   // test only (engine.h): 1 breaks the conv transpose, 2 its weight gradient

// (batch, c, h, w) -> (batch, n, out_h, out_w), per image and group: W (m, k) * im2col(x) (k, sp)
static void lin_convolutional_naive(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    const float *x = eng_buf(stream, input, k - 1);
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
    float *dx = eng_buf(stream, input, k - 1);
    if (!dx) return;
    int m = l->n / l->groups, kk = l->size * l->size * l->c / l->groups, sp = l->out_w * l->out_h;
    int direct = l->size == 1 && l->stride == 1 && l->pad == 0;
    for (int b = 0; b < l->batch; b++)
        for (int j = 0; j < l->groups; j++) {
            float *w = l->weights + j * l->nweights / l->groups;
            const float *tb = t + (b * l->groups + j) * m * sp;
            float *imd = dx + (b * l->groups + j) * l->c / l->groups * l->h * l->w;
            if (direct) {
                gemm(1, 0, kk, sp, m, eng_test_break == 1 ? 1.05f : 1, w, kk, (float *)tb, sp, 1, imd, sp);
            } else {
                gemm(1, 0, kk, sp, m, eng_test_break == 1 ? 1.05f : 1, w, kk, (float *)tb, sp, 0, e->ws, sp);
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
// e->ws with image b's at column b*sp, then an (n, nb*sp) matrix (eng_rule_workspace sizes e->ws
// for it): one gemm instead of nb; with the few pixels of a late ResNet stage a per-image gemm is
// mostly OpenBLAS packing its operands. The chunk of images and the matrix layout are darknet's
// own batched convolutions' (patch 0014: conv_batch_chunk, conv_batch_im2col, conv_batch_to_matrix,
// conv_matrix_add_to_batch), so the engine and darknet's layers batch alike.
static int conv_batched(const layer *l) { return l->groups == 1 && !eng_conv_naive; }

static void lin_convolutional(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    if (!conv_batched(l)) { lin_convolutional_naive(e, k, stream, input, y); return; }
    const float *x = eng_buf(stream, input, k - 1);
    int kk = l->size * l->size * l->c, sp = l->out_w * l->out_h, chunk = conv_batch_chunk(*l);
    float *cols = e->ws, *yn = e->ws + (size_t)kk * chunk * sp;
    for (int b = 0; b < l->batch; b += chunk) {
        int nb = l->batch - b < chunk ? l->batch - b : chunk, N = nb * sp;
        conv_batch_im2col(*l, (float *)x + (size_t)b * l->inputs, nb, cols);
        gemm(0, 0, l->n, N, kk, 1, l->weights, kk, cols, N, 0, yn, N);
        memset(y + (size_t)b * l->outputs, 0, (size_t)nb * l->outputs * sizeof(float));
        conv_matrix_add_to_batch(yn, nb, l->n, sp, y + (size_t)b * l->outputs);
    }
}

static void lin_t_convolutional(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    if (!conv_batched(l)) { lin_t_convolutional_naive(e, k, t, stream, input); return; }
    float *dx = eng_buf(stream, input, k - 1);
    if (!dx) return;
    int kk = l->size * l->size * l->c, sp = l->out_w * l->out_h, chunk = conv_batch_chunk(*l);
    int direct = l->size == 1 && l->stride == 1 && l->pad == 0;
    float *cols = e->ws, *tn = e->ws + (size_t)kk * chunk * sp;
    for (int b = 0; b < l->batch; b += chunk) {
        int nb = l->batch - b < chunk ? l->batch - b : chunk, N = nb * sp;
        float *dxb = dx + (size_t)b * l->inputs;
        conv_batch_to_matrix((float *)t + (size_t)b * l->outputs, nb, l->n, sp, tn);
        gemm(1, 0, kk, N, l->n, eng_test_break == 1 ? 1.05f : 1, l->weights, kk, tn, N, 0, cols, N);
        if (direct) conv_matrix_add_to_batch(cols, nb, l->c, sp, dxb);
        else
            for (int i = 0; i < nb; i++)
                col2im_cpu_ld(cols + i * sp, l->c, l->h, l->w, l->size, l->stride, l->pad, dxb + (size_t)i * l->inputs, N);
    }
}

static void wgrad_conv_one(eng *e, const layer *l, const float *t, const float *x, float scale)
{
    if (!t) return;
    if (!conv_batched(l)) { wgrad_conv_one_naive(e, l, t, x, scale); return; }
    int kk = l->size * l->size * l->c, sp = l->out_w * l->out_h, chunk = conv_batch_chunk(*l);
    float *cols = e->ws, *tn = e->ws + (size_t)kk * chunk * sp;
    for (int b = 0; b < l->batch; b += chunk) {
        int nb = l->batch - b < chunk ? l->batch - b : chunk, N = nb * sp;
        conv_batch_to_matrix((float *)t + (size_t)b * l->outputs, nb, l->n, sp, tn);
        conv_batch_im2col(*l, (float *)x + (size_t)b * l->inputs, nb, cols);
        gemm(0, 1, l->n, kk, N, scale, tn, N, cols, N, 1, l->weight_updates, kk);
    }
}

static void wgrad_convolutional(eng *e, int k, const float *that, const float *t, float scale)
{
    const layer *l = &e->net->layers[k];
    if (eng_test_break == 2) scale *= 1.05f;
    wgrad_conv_one(e, l, that, eng_buf(e->dot, e->u, k - 1), scale);
    wgrad_conv_one(e, l, t, k == 0 ? e->net->input : e->net->layers[k - 1].output, scale);
}

// weights (outputs, inputs): y = x W^T
static void lin_connected(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    gemm(0, 1, l->batch, l->outputs, l->inputs, 1, eng_buf(stream, input, k - 1), l->inputs, l->weights, l->inputs, 0, y, l->outputs);
}

static void lin_t_connected(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = eng_buf(stream, input, k - 1);
    if (dx) gemm(0, 0, l->batch, l->inputs, l->outputs, 1, (float *)t, l->outputs, l->weights, l->inputs, 1, dx, l->inputs);
}

static void wgrad_connected(eng *e, int k, const float *that, const float *t, float scale)
{
    const layer *l = &e->net->layers[k];
    const float *xdot = eng_buf(e->dot, e->u, k - 1);
    const float *x = k == 0 ? e->net->input : e->net->layers[k - 1].output;
    gemm(1, 0, l->outputs, l->inputs, l->batch, scale, (float *)that, l->outputs, (float *)xdot, l->inputs, 1, l->weight_updates, l->inputs);
    if (t) gemm(1, 0, l->outputs, l->inputs, l->batch, scale, (float *)t, l->outputs, (float *)x, l->inputs, 1, l->weight_updates, l->inputs);
}

// identity (the [batchnorm] and [activation] layers' linear part)
static void lin_identity(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    copy_cpu(l->outputs * l->batch, eng_buf(stream, input, k - 1), 1, y, 1);
}

static void lin_t_identity(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = eng_buf(stream, input, k - 1);
    if (dx) axpy_cpu(l->outputs * l->batch, 1, (float *)t, 1, dx, 1);
}

// indexes[i] is the flat (batch-wide) input index of output i's maximum
static void lin_maxpool(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    const float *x = eng_buf(stream, input, k - 1);
    int n = l->out_h * l->out_w * l->c * l->batch;
    #pragma omp parallel for if (ENG_OMP(n))
    for (int i = 0; i < n; i++) y[i] = x[l->indexes[i]];
}

static void lin_t_maxpool(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = eng_buf(stream, input, k - 1);
    if (!dx) return;
    // one (image, channel) plane per thread: a plane's maxima lie in the same input plane (as in
    // darknet's backward, patch 0053), each added in the serial order
    int sp = l->out_h * l->out_w, planes = l->c * l->batch;
    #pragma omp parallel for if (ENG_OMP((long)sp * planes))
    for (int p = 0; p < planes; p++)
        for (int i = p * sp; i < (p + 1) * sp; i++) dx[l->indexes[i]] += t[i];
}

// global average: (batch, c, h, w) -> (batch, c)
static void lin_avgpool(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    const float *x = eng_buf(stream, input, k - 1);
    int sp = l->h * l->w;
    #pragma omp parallel for if (ENG_OMP((long)sp * l->batch * l->c))
    for (int i = 0; i < l->batch * l->c; i++) {
        double s = 0;
        for (int j = 0; j < sp; j++) s += x[i * sp + j];
        y[i] = (float)(s / sp);
    }
}

static void lin_t_avgpool(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = eng_buf(stream, input, k - 1);
    if (!dx) return;
    int sp = l->h * l->w;
    #pragma omp parallel for if (ENG_OMP((long)sp * l->batch * l->c))
    for (int i = 0; i < l->batch * l->c; i++) {
        float v = t[i] / sp;
        for (int j = 0; j < sp; j++) dx[i * sp + j] += v;
    }
}

// y = the previous output plus the from-layers, as forward_shortcut_layer computes it: the sum is
// the fork's (dk.h: pjreddie's alpha*prev + beta*resampled from, AlexeyAB's flat multi-input sum)
static void lin_shortcut(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    copy_cpu(l->outputs * l->batch, eng_buf(stream, input, k - 1), 1, y, 1);
    dk_shortcut_lin(e->net, l, stream, y);
}

// its transpose: into the from-layers' adjoints and the previous layer's (dk.h)
static void lin_t_shortcut(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    dk_shortcut_lin_t(e->net, l, t, stream, eng_buf(stream, input, k - 1), e->scaled);
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
    const float *x = eng_buf(stream, input, k - 1);
    int n = l->batch * l->inputs;
    #pragma omp parallel for if (ENG_OMP(n))
    for (int i = 0; i < n; i++) y[i] = !e->net->train ? x[i] : l->rand[i] < l->probability ? 0 : x[i] * l->scale;
}

static void lin_t_dropout(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = eng_buf(stream, input, k - 1);
    if (!dx) return;
    int n = l->batch * l->inputs;
    #pragma omp parallel for if (ENG_OMP(n))
    for (int i = 0; i < n; i++) dx[i] += !e->net->train ? t[i] : l->rand[i] < l->probability ? 0 : t[i] * l->scale;
}

// in place on the previous output (x == y), as darknet's training-mode dropout does
static void held_dropout(const layer *l, const float *x, float *y)
{
    int n = l->batch * l->inputs;
    for (int i = 0; i < n; i++) y[i] = l->rand[i] < l->probability ? 0 : x[i] * l->scale;
}

// [crop]: y[i] = s * x[indexes[i]] + c. darknet's forward draws a flip and an offset per forward
// (the whole batch; inference: the centre, no flip) and maps colours by x -> 2x - 1 (s = 2, c = -1;
// noadjust=1: s = 1, c = 0). Its CPU forward applies no saturation, exposure or angle (only the
// GPU kernel does). Patch 0040 keeps the flat input index of every output in l->indexes, so the
// linear part (s times a selection) and its transpose hold the draw of that forward: the heatmap
// is the gradient with respect to the uncropped input, zero outside the window (docs/engine.md).
static float crop_scale(const layer *l) { return l->noadjust ? 1 : 2; }

static void lin_crop(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    const float *x = eng_buf(stream, input, k - 1);
    float s = crop_scale(l);
    int n = l->outputs * l->batch;
    for (int i = 0; i < n; i++) y[i] = s * x[l->indexes[i]];
}

static void lin_t_crop(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = eng_buf(stream, input, k - 1);
    if (!dx) return;
    float s = crop_scale(l);
    int n = l->outputs * l->batch;
    for (int i = 0; i < n; i++) dx[l->indexes[i]] += s * t[i];
}

// darknet's forward_crop_layer with its last draw: the same float operations, x*scale + trans
static void held_crop(const layer *l, const float *x, float *y)
{
    float s = crop_scale(l), c = l->noadjust ? 0 : -1;
    int n = l->outputs * l->batch;
    for (int i = 0; i < n; i++) y[i] = x[l->indexes[i]] * s + c;
}

// upsample: the small map (B, C, h, w) spread over s x s blocks of the big one (B, C, h*s, w*s)
// times scale, and its transpose, the scaled sum of each block into the small map. darknet's
// [upsample] spreads (stride > 0) or, reversed (stride < 0), sums blocks; both are linear.
static void up_spread(const float *small, int w, int h, int c, int B, int s, float scale, float *big)
{
    for (int i = 0; i < B * c; i++)
        for (int y = 0; y < h * s; y++)
            for (int x = 0; x < w * s; x++)
                big[(size_t)i * w * h * s * s + y * w * s + x] += scale * small[(size_t)i * w * h + (y / s) * w + x / s];
}

static void up_gather(const float *big, int w, int h, int c, int B, int s, float scale, float *small)
{
    for (int i = 0; i < B * c; i++)
        for (int y = 0; y < h * s; y++)
            for (int x = 0; x < w * s; x++)
                small[(size_t)i * w * h + (y / s) * w + x / s] += scale * big[(size_t)i * w * h * s * s + y * w * s + x];
}

static void lin_upsample(eng *e, int k, float **stream, float *input, float *y)
{
    const layer *l = &e->net->layers[k];
    const float *x = eng_buf(stream, input, k - 1);
    memset(y, 0, sizeof(float) * (size_t)l->outputs * l->batch);
    if (l->reverse) up_gather(x, l->out_w, l->out_h, l->c, l->batch, l->stride, l->scale, y);
    else up_spread(x, l->w, l->h, l->c, l->batch, l->stride, l->scale, y);
}

static void lin_t_upsample(eng *e, int k, const float *t, float **stream, float *input)
{
    const layer *l = &e->net->layers[k];
    float *dx = eng_buf(stream, input, k - 1);
    if (!dx) return;
    if (l->reverse) up_spread(t, l->out_w, l->out_h, l->c, l->batch, l->stride, l->scale, dx);
    else up_gather(t, l->w, l->h, l->c, l->batch, l->stride, l->scale, dx);
}

#ifndef DK_FORK_AB
// [yolo]: the output is the input with the logistic applied to x, y, the objectness and the class
// scores of each anchor (w and h pass unchanged): a diagonal map, o(1 - o) or 1, from the output o.
// Per image the layout is (n anchors, 4 + 1 + classes entries, h, w) (darknet's entry_index).
static void yolo_diag(const layer *l, const float *x, float *y, int accumulate)
{
    int wh = l->w * l->h, per = (4 + 1 + l->classes) * wh;
    for (int b = 0; b < l->batch; b++)
        for (int a = 0; a < l->n; a++) {
            size_t base = (size_t)b * l->outputs + (size_t)a * per;
            for (int i = 0; i < per; i++) {
                int entry = i / wh;
                float o = l->output[base + i];
                float d = entry == 2 || entry == 3 ? 1 : o * (1 - o);
                if (accumulate) y[base + i] += d * x[base + i];
                else y[base + i] = d * x[base + i];
            }
        }
}

static void lin_yolo(eng *e, int k, float **stream, float *input, float *y)
{
    yolo_diag(&e->net->layers[k], eng_buf(stream, input, k - 1), y, 0);
}

static void lin_t_yolo(eng *e, int k, const float *t, float **stream, float *input)
{
    float *dx = eng_buf(stream, input, k - 1);
    if (dx) yolo_diag(&e->net->layers[k], t, dx, 1);
}
#endif

// ----------------------------------------------------------------------------------------------
// the table: one entry per layer type (lin = NULL: no exact rule, method=finite only)

static const eng_rule RULES[] = {
    // type          name             lin                lin_t                wgrad                act bn             params           indexes held          dk_stops
    { CONVOLUTIONAL, "convolutional", lin_convolutional, lin_t_convolutional, wgrad_convolutional, 1, ENG_BN_IF_SET, ENG_P_CONV,      0, NULL,         0 },
    { CONNECTED,     "connected",     lin_connected,     lin_t_connected,     wgrad_connected,     1, ENG_BN_IF_SET, ENG_P_CONNECTED, 0, NULL,         0 },
    { BATCHNORM,     "batchnorm",     lin_identity,      lin_t_identity,      NULL,                0, ENG_BN_ALWAYS, ENG_P_BATCHNORM, 0, NULL,         0 },
    { ACTIVE,        "activation",    lin_identity,      lin_t_identity,      NULL,                1, ENG_BN_NONE,   ENG_P_NONE,      0, NULL,         0 },
    { MAXPOOL,       "maxpool",       lin_maxpool,       lin_t_maxpool,       NULL,                0, ENG_BN_NONE,   ENG_P_NONE,      1, NULL,         0 },
    { AVGPOOL,       "avgpool",       lin_avgpool,       lin_t_avgpool,       NULL,                0, ENG_BN_NONE,   ENG_P_NONE,      0, NULL,         0 },
    { SHORTCUT,      "shortcut",      lin_shortcut,      lin_t_shortcut,      NULL,                1, ENG_BN_NONE,   ENG_P_NONE,      0, NULL,         0 },
    { ROUTE,         "route",         lin_route,         lin_t_route,         NULL,                0, ENG_BN_NONE,   ENG_P_NONE,      0, NULL,         0 },
    { DROPOUT,       "dropout",       lin_dropout,       lin_t_dropout,       NULL,                0, ENG_BN_NONE,   ENG_P_NONE,      0, held_dropout, 0 },
    { CROP,          "crop",          lin_crop,          lin_t_crop,          NULL,                0, ENG_BN_NONE,   ENG_P_NONE,      1, held_crop,    1 },
    { UPSAMPLE,      "upsample",      lin_upsample,      lin_t_upsample,      NULL,                0, ENG_BN_NONE,   ENG_P_NONE,      0, NULL,         0 },
#ifndef DK_FORK_AB   // AB's [yolo] (scale_x_y, new_coords) is another map: no rule there, refused by name
    // a detector's head (eng_init_scored; first order: its second derivative has no rule)
    { YOLO,          "yolo",          lin_yolo,          lin_t_yolo,          NULL,                0, ENG_BN_NONE,   ENG_P_NONE,      0, NULL,         0 },
#endif
    // no exact rule: darknet's own backward (method=finite) with these parameters
    { DECONVOLUTIONAL, "deconvolutional", NULL, NULL, NULL, 1, ENG_BN_IF_SET, ENG_P_CONV,      0, NULL, 0 },
    { LOCAL,         "local",         NULL,              NULL,                NULL,                1, ENG_BN_NONE,   ENG_P_LOCAL,     0, NULL,         0 },
    { RNN,           "rnn",           NULL,              NULL,                NULL,                0, ENG_BN_NONE,   ENG_P_SUBLAYERS, 0, NULL,         0 },
    { GRU,           "gru",           NULL,              NULL,                NULL,                0, ENG_BN_NONE,   ENG_P_SUBLAYERS, 0, NULL,         1 },
    { LSTM,          "lstm",          NULL,              NULL,                NULL,                0, ENG_BN_NONE,   ENG_P_SUBLAYERS, 0, NULL,         0 },
    { CRNN,          "crnn",          NULL,              NULL,                NULL,                0, ENG_BN_NONE,   ENG_P_SUBLAYERS, 0, NULL,         0 },
};
#define N_RULES ((int)(sizeof RULES / sizeof RULES[0]))

const eng_rule *eng_rule_of(LAYER_TYPE t)
{
    for (int i = 0; i < N_RULES; i++)
        if (RULES[i].type == t) return &RULES[i];
    return NULL;
}

const char *eng_rule_names(void)
{
    static char names[512];
    if (!names[0]) {
        for (int i = 0; i < N_RULES; i++)
            if (RULES[i].lin)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "", RULES[i].name);
        snprintf(names + strlen(names), sizeof names - strlen(names), ", softmax");
    }
    return names;
}

// ----------------------------------------------------------------------------------------------
// layer properties, from the table

int eng_has_act(const layer *l)
{
    const eng_rule *r = eng_rule_of(l->type);
    return r && r->lin && r->act;
}

const char *eng_dk_stops(const layer *l)
{
    const eng_rule *r = eng_rule_of(l->type);
    if (r && r->dk_stops) return "darknet's backward of this layer type is empty: it passes no gradient to its input";
    if (!l->delta) return "the layer has no gradient buffer (delta): darknet's backward cannot pass a gradient into it";
    return NULL;
}

int eng_has_bn(const layer *l)
{
    const eng_rule *r = eng_rule_of(l->type);
    return r && (r->bn == ENG_BN_ALWAYS || (r->bn == ENG_BN_IF_SET && l->batch_normalize));
}

int eng_is_smooth(ACTIVATION a) { return a == LOGISTIC || a == TANH; }

// piecewise linear (second derivative 0: linear, relu, leaky, ramp = 1.1x or 0.1x) or smooth with
// eng_act_d2 (logistic, tanh); darknet's gradient_array gives the first derivative from the output
int eng_act_supported(ACTIVATION a)
{
    return a == LINEAR || a == RELU || a == LEAKY || a == RAMP || a == LOGISTIC || a == TANH;
}

float eng_act_d2(float a, ACTIVATION act)
{
    if (act == LOGISTIC) return a * (1 - a) * (1 - 2 * a);
    if (act == TANH) return -2 * a * (1 - a * a);
    return 0;
}

float eng_bn_inv_sigma(const eng *e, const layer *l, int f)
{
    const float *var = e->net->train ? l->variance : l->rolling_variance;
    return dk_bn_inv_sigma(var[f]);
}

int eng_update_sizes(const layer *l, size_t n[3])
{
    n[0] = n[1] = n[2] = 0;
    const eng_rule *r = eng_rule_of(l->type);
    switch (r ? r->params : ENG_P_NONE) {
    case ENG_P_CONV: n[0] = l->nweights; n[1] = n[2] = l->n; break;
    case ENG_P_CONNECTED: n[0] = (size_t)l->inputs * l->outputs; n[1] = n[2] = l->outputs; break;
    case ENG_P_BATCHNORM: n[1] = n[2] = l->c; break;
    case ENG_P_LOCAL: n[0] = (size_t)l->c * l->n * l->size * l->size * l->out_w * l->out_h; n[1] = l->outputs; break;
    case ENG_P_SUBLAYERS: return -1;
    default: break;
    }
    if (!l->scale_updates) n[2] = 0;
    if (!l->bias_updates) n[1] = 0;
    if (!l->weight_updates) n[0] = 0;
    return 0;
}

size_t eng_rule_workspace(const layer *l)
{
    size_t n = l->workspace_size / sizeof(float) + 1;
    if (l->type == CONVOLUTIONAL && l->groups == 1) {
        // the batched convolutions: columns (kk, nb*sp) and an (n, nb*sp) matrix
        size_t need = (size_t)(l->size * l->size * l->c + l->n) * conv_batch_chunk(*l) * l->out_w * l->out_h;
        if (need > n) n = need;
    }
    return n;
}
