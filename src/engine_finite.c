// engine_finite.c: double backprop by finite differences (../shared/spec/double-backprop.md §2b)
// through darknet's own layer forward and backward functions, so it works for any layer type:
// ∇θ s at x + h u and at x (or x − h u), batch statistics and dropout draws held, rolling
// statistics untouched; and the heatmap through darknet's backward for engines without every rule.
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"
#include "dk.h"
#include "blas.h"
#include "network.h"

// ----------------------------------------------------------------------------------------------
// snapshots

void eng_snap_add(eng_snap *s, void *p, size_t bytes)
{
    if (!p || !bytes) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->at = realloc(s->at, s->cap * sizeof(void *));
        s->copy = realloc(s->copy, s->cap * sizeof(void *));
        s->bytes = realloc(s->bytes, s->cap * sizeof(size_t));
    }
    s->at[s->n] = p;
    s->copy[s->n] = malloc(bytes);
    memcpy(s->copy[s->n], p, bytes);
    s->bytes[s->n++] = bytes;
}

void eng_snap_restore(eng_snap *s)
{
    for (int i = 0; i < s->n; i++) {
        memcpy(s->at[i], s->copy[i], s->bytes[i]);
        free(s->copy[i]);
    }
    free(s->at); free(s->copy); free(s->bytes);
    memset(s, 0, sizeof *s);
}

void eng_snap_rolling(eng_snap *s, network *net)
{
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        if (!eng_has_bn(l) || !l->rolling_mean) continue;
        eng_snap_add(s, l->rolling_mean, l->out_c * sizeof(float));
        eng_snap_add(s, l->rolling_variance, l->out_c * sizeof(float));
    }
}

// Training mode: inference-mode batch norm normalises with rolling_*, so lend it the last
// forward's batch statistics (the rolling ones go into s, to be restored). Nothing in inference mode.
void eng_lend_batch_stats(eng *e, eng_snap *s)
{
    network *net = e->net;
    if (!net->train) return;
    eng_snap_rolling(s, net);
    for (int k = 0; k <= e->top; k++) {
        layer *l = &net->layers[k];
        if (!eng_has_bn(l)) continue;
        memcpy(l->rolling_mean, l->mean, l->out_c * sizeof(float));
        memcpy(l->rolling_variance, l->variance, l->out_c * sizeof(float));
    }
}

// darknet's layer forwards up to the top softmax in inference mode, each layer with a random draw
// (dropout, crop) reusing it when the net is in training mode (batch statistics already lent)
void eng_forward_frozen(eng *e)
{
    network *net = e->net;
    int was_train = net->train;
    float *input = net->input;
    for (int i = 0; i <= e->top; ++i) {
        layer l = net->layers[i];
        const eng_rule *r = eng_rule_of(l.type);
        if (l.delta) fill_cpu(l.outputs * l.batch, 0, l.delta, 1);
        if (was_train && r && r->held) r->held(&l, input, l.output);
        else dk_layer_forward(net, i, input, 0);
        input = l.output;
    }
}

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
    // layer 0 passes into netp->delta: the caller's input-gradient buffer, or NULL
    for (int i = e->top; i >= 0; --i) {
        layer l = netp->layers[i];
        float *in = i == 0 ? netp->input : netp->layers[i - 1].output;
        float *delta = i == 0 ? netp->delta : netp->layers[i - 1].delta;
        if (l.type == DROPOUT && !netp->train) continue;   // inference: the identity (darknet's backward applies an old draw)
        dk_layer_backward(netp, i, in, delta, 0);
    }
}

// g = +dS/dx through darknet's own backward (any layer type): frozen forward at the current input,
// the seed at the softmax, the stock backward into g; the update buffers it touched are restored.
int eng_stock_input_grad(eng *e, eng_form form, const float *truth, const float *r, float *g, char *err, int errlen)
{
    network *net = e->net;
    int top = e->top, B = net->batch;
    size_t nb = (size_t)net->inputs * B;
    for (int k = 0; k <= top; k++) {
        size_t n[3];
        if (eng_update_sizes(&net->layers[k], n)) {
            snprintf(err, errlen, "layer %d (%s): keeps its weights in sub-layers; not supported by method=finite", k, get_layer_string(net->layers[k].type));
            return -1;
        }
    }
    // what the stock backward touches besides g: the update buffers and the softmax's delta
    eng_snap snap = {0};
    for (int k = 0; k <= top; k++) {
        layer *l = &net->layers[k];
        size_t n[3];
        eng_update_sizes(l, n);
        eng_snap_add(&snap, l->weight_updates, n[0] * sizeof(float));
        eng_snap_add(&snap, l->bias_updates, n[1] * sizeof(float));
        eng_snap_add(&snap, l->scale_updates, n[2] * sizeof(float));
    }
    eng_snap_add(&snap, net->layers[top].delta, (size_t)e->classes * B * sizeof(float));
    eng_lend_batch_stats(e, &snap);
    int train = net->train;
    eng_forward_frozen(e);
    float *fac = malloc(B * sizeof(float));
    for (int b = 0; b < B; b++) fac[b] = 1;
    memset(g, 0, nb * sizeof(float));
    float *old = net->delta;
    net->delta = g;
    stock_backward(e, form, truth, r, fac);
    net->delta = old;
    int zero = 1;
    for (size_t i = 0; i < nb; i++) { g[i] = -g[i]; if (g[i] != 0) zero = 0; }
    // a heatmap zero for the whole batch: how far down the gradient came, before the deltas go
    e->stock_low = -1;
    if (zero) {
        e->stock_low = top;
        for (int k = top - 1; k >= 0; k--) {
            const layer *l = &net->layers[k];
            size_t n = (size_t)l->outputs * B;
            for (size_t i = 0; l->delta && i < n && e->stock_low != k; i++)
                if (l->delta[i] != 0) e->stock_low = k;
        }
    }
    free(fac);
    zero_deltas(e);
    net->train = train;
    eng_snap_restore(&snap);
    return 0;
}

// What darknet's backward reads of the layers up to the top softmax (outputs, batch norm's x and
// x_norm, maxpool's choices) into s, for networks whose layer types that is all: 0; -1 otherwise.
int eng_snap_state(eng *e, eng_snap *s)
{
    network *net = e->net;
    int top = e->top, B = net->batch;
    for (int k = 0; k <= top; k++) {
        LAYER_TYPE t = net->layers[k].type;
        const eng_rule *r = eng_rule_of(t);
        if ((!r || !r->lin) && t != SOFTMAX) return -1;
    }
    // in layer order: a dropout shares its output with the layer before it and comes after it
    for (int k = 0; k <= top; k++) {
        layer *l = &net->layers[k];
        size_t n = (size_t)l->outputs * B;
        eng_snap_add(s, l->output, n * sizeof(float));
        if (eng_has_bn(l)) {
            eng_snap_add(s, l->x, n * sizeof(float));
            eng_snap_add(s, l->x_norm, n * sizeof(float));
        }
        const eng_rule *r = eng_rule_of(l->type);
        if (r && r->snap_indexes) eng_snap_add(s, l->indexes, n * sizeof(int));
    }
    return 0;
}

void eng_finite_step(eng *e, const eng_reg_cfg *c, const float *truth, const float *r)
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
    eng_snap snap = {0};
    eng_snap_add(&snap, net->layers[e->top].delta, (size_t)e->classes * B * sizeof(float));
    // darknet's backward adds -fac * dS/dtheta: at x + hu with +fac, at x (or x - hu) with -fac
    eng_lend_batch_stats(e, &snap);
    int train = net->train;
    if (c->method == ENG_FINITE_CENTRAL) {
        for (int i = 0; i < n * B; i++) net->input[i] = x0[i] + h[i / n] * e->u[i];
        eng_forward_frozen(e);
        stock_backward(e, c->form, truth, r, fac);
        for (int i = 0; i < n * B; i++) net->input[i] = x0[i] - h[i / n] * e->u[i];
        eng_forward_frozen(e);
        stock_backward(e, c->form, truth, r, neg);
        memcpy(net->input, x0, nb * sizeof(float));
        eng_forward_frozen(e);   // the layers as darknet's forward left them
    } else {
        // at x first, on the state darknet's forward left (the frozen forward computes the same
        // numbers); kept aside and put back after x + hu instead of a third forward
        eng_snap state = {0};
        int kept = eng_snap_state(e, &state) == 0;
        stock_backward(e, c->form, truth, r, neg);
        for (int i = 0; i < n * B; i++) net->input[i] = x0[i] + h[i / n] * e->u[i];
        eng_forward_frozen(e);
        stock_backward(e, c->form, truth, r, fac);
        memcpy(net->input, x0, nb * sizeof(float));
        if (kept) eng_snap_restore(&state); else { eng_snap_restore(&state); eng_forward_frozen(e); }
        zero_deltas(e);
    }
    net->train = train;
    eng_snap_restore(&snap);
    free(x0); free(fac); free(neg); free(h);
}
