// engine_finite.c: double backprop by finite differences (../shared/spec/double-backprop.md §2b)
// through darknet's own layer forward and backward functions, so it works for any layer type:
// ∇θ s at x + h u and at x (or x − h u), batch statistics and dropout draws held, rolling
// statistics untouched; and the heatmap through darknet's backward for engines without every rule.
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"
#include "blas.h"
#include "network.h"

eng_bn_saved *eng_save_rolling(network *net)
{
    eng_bn_saved *s = calloc(net->n, sizeof *s);
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        if (!eng_has_bn(l) || !l->rolling_mean) continue;
        int c = l->out_c;
        s[k].mean = malloc(c * sizeof(float));
        s[k].var = malloc(c * sizeof(float));
        memcpy(s[k].mean, l->rolling_mean, c * sizeof(float));
        memcpy(s[k].var, l->rolling_variance, c * sizeof(float));
    }
    return s;
}

void eng_restore_rolling(network *net, eng_bn_saved *s)
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

// Training mode: inference-mode batch norm normalises with rolling_*, so lend it the last
// forward's batch statistics (restore_rolling gives the rolling ones back). NULL in inference mode.
static eng_bn_saved *lend_batch_stats(eng *e)
{
    network *net = e->net;
    if (!net->train) return NULL;
    eng_bn_saved *saved = eng_save_rolling(net);
    for (int k = 0; k <= e->top; k++) {
        layer *l = &net->layers[k];
        if (!eng_has_bn(l)) continue;
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
        if (l.type == DROPOUT && !netp->train) continue;   // inference: the identity (darknet's backward applies an old draw)
        l.backward(l, net);
    }
}

// g = +dS/dx through darknet's own backward (any layer type): frozen forward at the current input,
// the seed at the softmax, the stock backward into g; the update buffers it touched are restored.
int eng_stock_input_grad(eng *e, eng_form form, const float *truth, const float *r, float *g, char *err, int errlen)
{
    network *net = e->net;
    int top = e->top, B = net->batch;
    size_t nb = (size_t)net->inputs * B;
    float **saved = calloc(3 * (top + 1), sizeof(float *));
    for (int k = 0; k <= top; k++) {
        layer *l = &net->layers[k];
        size_t n[3];
        if (eng_update_sizes(l, n)) {
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
    eng_bn_saved *stats = lend_batch_stats(e);
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
    if (stats) eng_restore_rolling(net, stats);
    memcpy(sm->delta, smdelta, nk * sizeof(float));
    free(smdelta);
    for (int k = 0; k <= top; k++) {
        layer *l = &net->layers[k];
        size_t n[3];
        eng_update_sizes(l, n);
        float *arr[3] = {l->weight_updates, l->bias_updates, l->scale_updates};
        for (int a = 0; a < 3; a++) if (saved[3 * k + a]) { memcpy(arr[a], saved[3 * k + a], n[a] * sizeof(float)); free(saved[3 * k + a]); }
    }
    free(saved);
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
        const eng_rule *r = eng_rule_of(t);
        if ((!r || !r->lin) && t != SOFTMAX) return NULL;
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
        if (eng_has_bn(l)) {
            s->x[k] = malloc(n * sizeof(float));
            s->xn[k] = malloc(n * sizeof(float));
            memcpy(s->x[k], l->x, n * sizeof(float));
            memcpy(s->xn[k], l->x_norm, n * sizeof(float));
        }
        const eng_rule *r = eng_rule_of(l->type);
        if (r && r->snap_indexes) {
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
    layer *sm = &net->layers[e->top];
    size_t nk = (size_t)e->classes * B;
    float *smdelta = malloc(nk * sizeof(float));
    memcpy(smdelta, sm->delta, nk * sizeof(float));
    // darknet's backward adds -fac * dS/dtheta: at x + hu with +fac, at x (or x - hu) with -fac
    eng_bn_saved *saved = lend_batch_stats(e);
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
    if (saved) eng_restore_rolling(net, saved);
    memcpy(sm->delta, smdelta, nk * sizeof(float));
    free(x0); free(fac); free(neg); free(h); free(smdelta);
}
