// engine.c: the engine's state, the gradient-of-input sweep and exact double backprop
// (../shared/spec/double-backprop.md §1, §2a); the layer rules are in engine_rules.c, the
// finite-difference method in engine_finite.c.
//
// A layer k is seen as  y = L_k(inputs)  (its linear part: convolution/connected without bias,
// pooling, routing, shortcut sum, dropout mask), then for layers that have them batch norm with the
// statistics of the last forward held constant, o = scale*(y - mean)/sigma + bias with the fork's
// sigma (dk_bn_inv_sigma: exactly the forward darknet runs, normalize_cpu), and an activation, a = act(o).
// What differs between darknet forks (calls, the BN constant, the shortcut's sum, refusals) is
// behind darknet-patch/src/dk.h: this file reads like there is one darknet.
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

#include "engine_internal.h"
#include "dk.h"
#include "numparse.h"
#include "rng.h"
#include "blas.h"
#include "activations.h"
#include "network.h"

// ---- names: one table each ---------------------------------------------------------------------

static const char *FORM_NAMES[] = {[ENG_LOSS] = "loss", [ENG_ONEHOT] = "onehot", [ENG_SPECTREG] = "spectreg"};
static const char *METHOD_NAMES[] = {[ENG_EXACT] = "exact", [ENG_FINITE] = "finite", [ENG_FINITE_CENTRAL] = "central"};
_Static_assert(sizeof FORM_NAMES / sizeof FORM_NAMES[0] == ENG_SPECTREG + 1, "a name per formulation");
_Static_assert(sizeof METHOD_NAMES / sizeof METHOD_NAMES[0] == ENG_FINITE_CENTRAL + 1, "a name per method");

// the index of name in names (n of them), or -1
static int name_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

// "a, b, c" of names, into buf (once)
static const char *name_list(const char *const *names, int n, char *buf, size_t len)
{
    if (!buf[0])
        for (int i = 0; i < n; i++) snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? ", " : "", names[i]);
    return buf;
}

#define N_FORMS ((int)(sizeof FORM_NAMES / sizeof FORM_NAMES[0]))
#define N_METHODS ((int)(sizeof METHOD_NAMES / sizeof METHOD_NAMES[0]))

int eng_form_parse(const char *name, eng_form *form)
{
    int i = name && !strcmp(name, "datagrad") ? ENG_LOSS : name_index(FORM_NAMES, N_FORMS, name);   // the reference's name
    if (i < 0) return -1;
    *form = (eng_form)i;
    return 0;
}

const char *eng_form_name(eng_form form) { return form >= 0 && form < N_FORMS ? FORM_NAMES[form] : "?"; }

const char *eng_form_names(void)
{
    static char buf[128];
    return name_list(FORM_NAMES, N_FORMS, buf, sizeof buf);
}

int eng_method_parse(const char *name, eng_method *method)
{
    int i = name_index(METHOD_NAMES, N_METHODS, name);
    if (i < 0) return -1;
    *method = (eng_method)i;
    return 0;
}

const char *eng_method_name(eng_method method) { return method >= 0 && method < N_METHODS ? METHOD_NAMES[method] : "?"; }

const char *eng_method_names(void)
{
    static char buf[128];
    return name_list(METHOD_NAMES, N_METHODS, buf, sizeof buf);
}

float eng_randn(uint64_t *rng) { return (float)rng_normal(rng); }

// ----------------------------------------------------------------------------------------------
// state: per-layer streams and scratch, made for the net's batch

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
        if (eng_has_bn(l) || (eng_has_act(l) && eng_is_smooth(l->activation))) e->pre[k] = calloc(n, sizeof(float));
        if (n > maxout) maxout = n;
        size_t ws = eng_rule_workspace(l);
        if (ws > maxws) maxws = ws;
    }
    size_t nin = (size_t)net->inputs * net->batch;
    e->g = calloc(nin, sizeof(float));
    e->u = calloc(nin, sizeof(float));
    e->seed = calloc((size_t)e->classes * net->batch, sizeof(float));
    e->tmp = calloc(maxout, sizeof(float));
    e->tmp2 = calloc(maxout, sizeof(float));
    for (int k = 0; k < top; k++)
        if (dk_shortcut_needs_scratch(&net->layers[k]) && !e->scaled) e->scaled = calloc(maxout, sizeof(float));
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

// every layer below top has an exact rule and a supported activation: 0, or -1 and err names the
// first that has not; *smooth = 1 when some layer has a logistic/tanh activation
// (hint: what the message suggests instead)
static int check_rules(network *net, int top, int *smooth, const char *hint, char *err, int errlen)
{
    for (int k = 0; k < top; k++) {
        const layer *l = &net->layers[k];
        const eng_rule *r = eng_rule_of(l->type);
        if (!r || !r->lin) {
            snprintf(err, errlen, "layer %d (%s): no exact gradient rule for this layer type; supported: %s%s",
                     k, get_layer_string(l->type), eng_rule_names(), hint);
            return -1;
        }
        char why[256];
        const char *no = dk_layer_refusal(l, why, sizeof why);
        if (no) {
            snprintf(err, errlen, "layer %d (%s): %s is not supported: the engine has no rule for it on %s's darknet",
                     k, get_layer_string(l->type), no, dk_fork);
            return -1;
        }
        if (eng_has_act(l) && !eng_act_supported(l->activation)) {
            snprintf(err, errlen, "layer %d (%s): activation %s is not supported; supported: linear, relu, leaky, ramp, logistic, tanh%s",
                     k, get_layer_string(l->type), get_activation_string(l->activation), hint);
            return -1;
        }
        if (l->type == CONVOLUTIONAL && (l->xnor || l->binary)) {
            snprintf(err, errlen, "layer %d (convolutional): binary/xnor convolutions are not supported", k);
            return -1;
        }
        if (eng_has_act(l) && eng_is_smooth(l->activation)) *smooth = 1;
    }
    return 0;
}

eng *eng_init(network *net, char *err, int errlen)
{
    return eng_init_for(net, 1, err, errlen);
}

eng *eng_init_for(network *net, int exact, char *err, int errlen)
{
    int top = -1;
    // the top: a [softmax] (one class per image), or a [logistic] (independent classes, a
    // multi-label classifier): either way z, its input, holds the logits
    for (int k = net->n - 1; k >= 0; k--)
        if (net->layers[k].type == SOFTMAX || net->layers[k].type == LOGXENT) { top = k; break; }
    if (top < 0) {
        snprintf(err, errlen, "the network has no [softmax] (or [logistic]) layer: the heatmap is the gradient of a class score at its input");
        return NULL;
    }
    const layer *sm = &net->layers[top];
    char why[256];
    const char *no = dk_layer_refusal(sm, why, sizeof why);
    if ((sm->type == SOFTMAX && (sm->softmax_tree || sm->groups != 1)) || no) {
        snprintf(err, errlen, "layer %d [%s]: only a plain softmax (groups=1, no tree) or logistic is supported%s%s", top,
                 get_layer_string(sm->type), no ? "; this one has " : "", no ? no : "");
        return NULL;
    }
    for (int k = 0; k < top; k++)
        if (net->layers[k].type == YOLO) {
            snprintf(err, errlen, "layer %d [yolo] below the [softmax]: a detection head has no second-order rule", k);
            return NULL;
        }
    int smooth = 0;
    if (exact && check_rules(net, top, &smooth, " (for regularized training method=finite works with any layer type and activation)",
                             err, errlen))
        return NULL;
    // darknet's own backward (the heatmap of exact = 0, the finite methods' parameter gradients)
    // stops at a layer whose backward passes nothing on: the heatmap of exact = 0 needs every layer;
    // the finite methods of an exact engine need the layers down to the lowest one with parameters
    int dk_stop = -1, dk_stop_below = -1;
    for (int k = 0; k < top; k++) {
        const layer *l = &net->layers[k];
        const char *why = eng_dk_stops(l);
        if (!why) continue;
        if (!exact) {
            const eng_rule *r = eng_rule_of(l->type);
            snprintf(err, errlen, "layer %d (%s): %s, and method=finite takes the heatmap through darknet's backward "
                     "(it would be zero)%s", k, get_layer_string(l->type), why,
                     r && r->lin ? "; use method=exact, which has a rule for this layer type" : "");
            return NULL;
        }
        dk_stop = k;
    }
    for (int k = 0; k <= dk_stop; k++) {
        size_t n[3];
        // a layer without a delta gets no gradient of its own either; one with an empty backward does
        int cut = k < dk_stop || !net->layers[k].delta;
        if (cut && eng_update_sizes(&net->layers[k], n) == 0 && n[0] + n[1] + n[2] > 0) dk_stop_below = k;
    }
    eng *e = calloc(1, sizeof *e);
    e->net = net;
    e->top = top;
    e->classes = sm->inputs;
    e->smooth = smooth;
    e->exact = exact;
    e->dk_stop = dk_stop;
    e->dk_stop_below = dk_stop_below;
    e->stock_low = -1;
    eng_alloc(e);
    return e;
}

eng *eng_init_scored(network *net, eng_score_fn fn, void *ctx, char *err, int errlen)
{
    for (int k = 0; k < net->n; k++)
        if (net->layers[k].type == SOFTMAX) {
            snprintf(err, errlen, "layer %d is a [softmax]: a classifier's heatmap is the gradient of its class logit "
                     "(saliency map), not of a detection score", k);
            return NULL;
        }
    int smooth = 0;
    if (check_rules(net, net->n, &smooth, "", err, errlen)) return NULL;
    eng *e = calloc(1, sizeof *e);
    e->net = net;
    e->top = net->n;
    e->classes = 1;
    e->smooth = smooth;
    e->exact = 1;
    e->dk_stop = e->dk_stop_below = e->stock_low = -1;
    e->score = fn;
    e->score_ctx = ctx;
    eng_alloc(e);
    return e;
}

void eng_set_score_ctx(eng *e, void *ctx) { e->score_ctx = ctx; }

void eng_free(eng *e)
{
    if (!e) return;
    eng_release(e);
    free(e);
}

int eng_top(const eng *e) { return e->top; }
int eng_classes(const eng *e) { return e->classes; }
const float *eng_last_heatmap(const eng *e) { return e->g; }
const float *eng_adjoint(const eng *e, int k) { return e->exact && k >= 0 && k < e->top ? e->d[k] : NULL; }

const float *eng_layer_output(const eng *e, int k, int *c, int *h, int *w)
{
    if (k < 0 || k >= e->top) return NULL;
    const layer *l = &e->net->layers[k];
    if (l->out_c * l->out_h * l->out_w != l->outputs) return NULL;
    *c = l->out_c; *h = l->out_h; *w = l->out_w;
    return l->output;
}

const char *eng_layer_type(const eng *e, int k)
{
    return k >= 0 && k < e->net->n ? get_layer_string(e->net->layers[k].type) : "?";
}

void eng_seed(eng *e, eng_form form, const float *truth, uint64_t *rng, float *seed)
{
    const layer *sm = &e->net->layers[e->top];
    int K = e->classes;
    for (int b = 0; b < sm->batch; b++) {
        const float *t = truth + b * K;
        const float *p = sm->output + b * K;
        float *s = seed + b * K;
        if (form == ENG_LOSS && sm->type == LOGXENT) {
            // BCE = -sum t log p + (1 - t) log(1 - p), p = sigmoid(z): dBCE/dz = p - t
            for (int i = 0; i < K; i++) s[i] = p[i] - t[i];
        } else if (form == ENG_LOSS) {
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

// ----------------------------------------------------------------------------------------------
// batch norm and activations around each rule's linear part: first order, tangent, reverse

// First order: t = dy * act'(a), then * scale/sigma for BN. Returns t in e->tmp.
static float *through_act_bn(eng *e, const layer *l, const float *dy)
{
    int n = l->outputs * l->batch;
    copy_cpu(n, (float *)dy, 1, e->tmp, 1);
    if (eng_has_act(l)) gradient_array(l->output, n, l->activation, e->tmp);
    if (eng_has_bn(l)) {
        int sp = l->out_w * l->out_h;
        #pragma omp parallel for collapse(2) if (ENG_OMP(n))
        for (int b = 0; b < l->batch; b++)
            for (int f = 0; f < l->out_c; f++) {
                float s = l->scales[f] * eng_bn_inv_sigma(e, l, f);
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
    if (eng_has_bn(l)) {
        int sp = l->out_w * l->out_h;
        #pragma omp parallel for collapse(2) if (ENG_OMP(n))
        for (int b = 0; b < l->batch; b++)
            for (int f = 0; f < l->out_c; f++) {
                float is = eng_bn_inv_sigma(e, l, f);
                float *p = y + (b * l->out_c + f) * sp, *q = e->pre[k] + (b * l->out_c + f) * sp;
                for (int i = 0; i < sp; i++) { q[i] = p[i] * is; p[i] = q[i] * l->scales[f]; }
            }
    } else if (e->pre[k]) {
        copy_cpu(n, y, 1, e->pre[k], 1);
    }
    if (y != out) copy_cpu(n, y, 1, out, 1);
    if (eng_has_act(l)) gradient_array(l->output, n, l->activation, out);
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
    if (eng_has_act(l)) gradient_array(l->output, n, l->activation, that);
    int second = eng_has_act(l) && eng_is_smooth(l->activation);
    if (e->dd || second) {
        tt = e->tmp2;
        if (e->dd) {
            copy_cpu(n, e->dd[k], 1, tt, 1);
            if (eng_has_act(l)) gradient_array(l->output, n, l->activation, tt);
        } else {
            fill_cpu(n, 0, tt, 1);
        }
        if (second) {
            // + act''(o) * o' * d: o' = scale*n' with BN, pre[k] without
            int sp = l->out_w * l->out_h;
            #pragma omp parallel for if (ENG_OMP(n))
            for (int i = 0; i < n; i++) {
                float od = e->pre[k][i];
                if (eng_has_bn(l)) od *= l->scales[(i / sp) % l->out_c];
                tt[i] += eng_act_d2(l->output[i], l->activation) * od * e->d[k][i];
            }
        }
    }
    if (eng_has_bn(l)) {
        int sp = l->out_w * l->out_h;
        // one filter per thread: its sums over the batch in the serial order
        #pragma omp parallel for if (ENG_OMP(n))
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
            float s = l->scales[f] * eng_bn_inv_sigma(e, l, f);
            for (int b = 0; b < l->batch; b++) {
                int o = (b * l->out_c + f) * sp;
                for (int i = 0; i < sp; i++) { that[o + i] *= s; if (tt) tt[o + i] *= s; }
            }
        }
    } else if (tt && (l->type == CONVOLUTIONAL || l->type == CONNECTED)) {
        int nb = l->type == CONNECTED ? l->outputs : l->n;
        int sp = l->type == CONNECTED ? 1 : l->out_w * l->out_h;
        // one bias per thread, its images added in the serial order
        #pragma omp parallel for if (ENG_OMP(n))
        for (int f = 0; f < nb; f++)
            for (int b = 0; b < l->batch; b++) {
                double s = 0;
                for (int i = 0; i < sp; i++) s += tt[(b * nb + f) * sp + i];
                l->bias_updates[f] += scale * (float)s;
            }
    }
    *t = tt;
    return that;
}

// ----------------------------------------------------------------------------------------------

// ----------------------------------------------------------------------------------------------
// the gradient-of-input sweep (§1)

static void clear_adjoints(eng *e, float *g)
{
    network *net = e->net;
    int B = net->batch;
    memset(g, 0, sizeof(float) * (size_t)net->inputs * B);
    for (int k = 0; k < e->top; k++) memset(e->d[k], 0, sizeof(float) * (size_t)net->layers[k].outputs * B);
}

// the adjoints in e->d swept down to g, layer by layer from the top
static void sweep(eng *e, float *g)
{
    network *net = e->net;
    for (int k = e->top - 1; k >= 0; k--) {
        const layer *l = &net->layers[k];
        const float *t = eng_has_act(l) || eng_has_bn(l) ? through_act_bn(e, l, e->d[k]) : e->d[k];
        eng_rule_of(l->type)->lin_t(e, k, t, e->d, g);
    }
}

void eng_input_grad(eng *e, const float *seed, float *g)
{
    eng_fit_batch(e);
    clear_adjoints(e, g);
    memcpy(eng_buf(e->d, g, e->top - 1), seed, sizeof(float) * (size_t)e->classes * e->net->batch);
    sweep(e, g);
}

// a scored engine's sweep: each image's score seeds the layers it reads
static void scored_grad(eng *e, float *g)
{
    eng_fit_batch(e);
    clear_adjoints(e, g);
    for (int b = 0; b < e->net->batch; b++) e->seed[b] = e->score(e->score_ctx, e->net, b, e->d);
    sweep(e, g);
}

// ----------------------------------------------------------------------------------------------

int eng_heatmap(eng *e, const float *x, const float *truth, eng_form form, int train,
                uint64_t *rng, float *g)
{
    network *net = e->net;
    eng_fit_batch(e);
    eng_snap saved = {0};
    if (train) eng_snap_rolling(&saved, net);   // only a training-mode forward moves them
    int old_train = net->train;
    float *old_truth = net->truth;
    net->truth = 0;   // no cost layers' work, and nothing for them to read
    net->train = train;
    memcpy(net->input, x, sizeof(float) * (size_t)net->inputs * net->batch);
    dk_forward(net);
    int rc = 0;
    if (e->score) {
        scored_grad(e, g);
    } else if (eng_seed(e, form, truth, rng, e->seed), e->exact) {
        eng_input_grad(e, e->seed, g);
    } else {
        char err[256];
        rc = eng_stock_input_grad(e, form, truth, e->seed, g, err, sizeof err);
        if (rc) memset(g, 0, sizeof(float) * (size_t)net->inputs * net->batch);
    }
    if (g != e->g) memcpy(e->g, g, sizeof(float) * (size_t)net->inputs * net->batch);
    net->train = old_train;
    net->truth = old_truth;
    eng_snap_restore(&saved);
    return rc;
}

// ----------------------------------------------------------------------------------------------
// batches of images

int eng_batch(const eng *e) { return e->net->batch; }
int eng_inputs(const eng *e) { return e->net->inputs; }
void eng_input_shape(const eng *e, int *c, int *h, int *w) { *c = e->net->c; *h = e->net->h; *w = e->net->w; }

// nb images at a time: darknet's buffers are made for the cfg's batch, a smaller one runs as it is
// (set_batch_network only lowers each layer's batch); put back by end_batch
static int begin_batch(eng *e, int nb)
{
    int b0 = e->net->batch;
    if (nb < b0) set_batch_network(e->net, nb);
    return b0;
}

static void end_batch(eng *e, int b0)
{
    if (e->net->batch != b0) set_batch_network(e->net, b0);
}

static void copy_outputs(eng *e, int nb, float *z, float *p)
{
    network *net = e->net;
    int K = e->classes;
    if (e->score) {
        for (int b = 0; b < nb; b++) {
            float s = e->score(e->score_ctx, net, b, NULL);
            if (z) z[b] = s;
            if (p) p[b] = s;
        }
        return;
    }
    const float *logits = e->top == 0 ? net->input : net->layers[e->top - 1].output;
    if (z) memcpy(z, logits, (size_t)nb * K * sizeof(float));
    if (p) memcpy(p, net->layers[e->top].output, (size_t)nb * K * sizeof(float));
}

void eng_predict(eng *e, const float *x, int nb, float *z, float *p)
{
    network *net = e->net;
    int b0 = begin_batch(e, nb);
    int old_train = net->train;
    float *old_truth = net->truth;
    net->train = 0;
    net->truth = 0;
    memcpy(net->input, x, (size_t)nb * net->inputs * sizeof(float));
    dk_forward(net);
    copy_outputs(e, nb, z, p);
    net->train = old_train;
    net->truth = old_truth;
    end_batch(e, b0);
}

int eng_grad(eng *e, const float *x, int nb, const int *cls, eng_form form, uint64_t *rng, float *g, float *z, float *p)
{
    int b0 = begin_batch(e, nb);
    int K = e->classes;
    float *truth = calloc((size_t)nb * K, sizeof(float));
    for (int b = 0; b < nb; b++) truth[b * K + cls[b]] = 1;
    uint64_t r0 = 1;
    int rc = eng_heatmap(e, x, truth, form, 0, rng ? rng : &r0, g);
    if (!rc) copy_outputs(e, nb, z, p);
    free(truth);
    end_batch(e, b0);
    return rc;
}

int eng_logit_grad(eng *e, const float *x, int nb, const int *cls, float *g, float *z, float *p)
{
    return eng_grad(e, x, nb, cls, ENG_ONEHOT, NULL, g, z, p);
}

// ----------------------------------------------------------------------------------------------
// exact double backprop

// u . g per image and the regularizer: e->g holds the heatmaps; writes e->u, returns the R sum.
// With heatmap_noise s, image b's R is R(g_b + s r_b n_b, x_b), r_b = max g_b - min g_b, n_b ~ N(0, I)
// drawn from rng and held: u_b = u' + s (u' . n_b) (e_argmax - e_argmin), u' = dR/dg at the noisy map.
static int penalty(eng *e, const eng_reg_cfg *c, uint64_t *rng, double *rsum, char *err, int errlen)
{
    network *net = e->net;
    int B = net->batch, n = net->inputs;
    memset(e->u, 0, sizeof(float) * (size_t)n * B);
    *rsum = 0;
    // the noise first, in the batch's order from rng (the draws do not depend on the threads)
    float *gn = NULL, *nz = NULL;
    int *imax = NULL, *imin = NULL;
    if (c->heatmap_noise > 0) {
        gn = malloc(sizeof(float) * (size_t)n * B);
        nz = malloc(sizeof(float) * (size_t)n * B);
        imax = calloc(B, sizeof(int));
        imin = calloc(B, sizeof(int));
        if (!gn || !nz || !imax || !imin) {
            snprintf(err, errlen, "regularizer %s: out of memory for the heatmap noise of a batch of %d", c->reg->name, B);
            free(gn); free(nz); free(imax); free(imin);
            return -1;
        }
        for (int b = 0; b < B; b++) {
            const float *g = e->g + (size_t)b * n;
            float *gb = gn + (size_t)b * n, *zb = nz + (size_t)b * n;
            for (int i = 1; i < n; i++) {
                if (g[i] > g[imax[b]]) imax[b] = i;
                if (g[i] < g[imin[b]]) imin[b] = i;
            }
            float sc = c->heatmap_noise * (g[imax[b]] - g[imin[b]]);
            for (int i = 0; i < n; i++) { zb[i] = eng_randn(rng); gb[i] = g[i] + sc * zb[i]; }
        }
    }
    // one image per thread (the regularizers keep their scratch per thread, metrics.c); the values
    // summed and the first failing image reported in the batch's order, as the serial loop did
    double *r = calloc(B, sizeof(double));
    int *rc = calloc(B, sizeof(int));
    char (*why)[256] = calloc(B, sizeof *why);
    if (!r || !rc || !why) {
        snprintf(err, errlen, "regularizer %s: out of memory for a batch of %d", c->reg->name, B);
        free(r); free(rc); free(why); free(gn); free(nz); free(imax); free(imin);
        return -1;
    }
    const float *gsrc = gn ? gn : e->g;
    #pragma omp parallel for schedule(dynamic) if (B > 1 && ENG_OMP((long)n * B))
    for (int b = 0; b < B; b++) {
        float *u = e->u + (size_t)b * n;
        rc[b] = reg_eval(c->reg, gsrc + (size_t)b * n, net->input + (size_t)b * n, net->c, net->h, net->w,
                         &r[b], u, 1.0f, why[b], sizeof why[b]);
        if (!rc[b] && gn && imax[b] != imin[b]) {
            const float *zb = nz + (size_t)b * n;
            double un = 0;
            for (int i = 0; i < n; i++) un += (double)u[i] * zb[i];
            u[imax[b]] += (float)(c->heatmap_noise * un);
            u[imin[b]] -= (float)(c->heatmap_noise * un);
        }
    }
    int ret = 0;
    for (int b = 0; b < B; b++) {
        if (rc[b]) {
            snprintf(err, errlen, "regularizer %s, image %d of the batch: %s", c->reg->name, b, why[b][0] ? why[b] : reg_strerror(rc[b]));
            ret = -1;
            break;
        }
        *rsum += r[b];
    }
    free(r); free(rc); free(why); free(gn); free(nz); free(imax); free(imin);
    return ret;
}

// -lambda * d(sum_b u_b . g_b)/dtheta into darknet's update buffers: tangent forward, both
// adjoint streams, weight gradients (§2a)
static void exact_step(eng *e, eng_form form, float lambda)
{
    network *net = e->net;
    int top = e->top, B = net->batch;
    if (top == 0) return;   // no parameters below the softmax
    // tangent forward, a'_0 = u
    for (int k = 0; k < top; k++) {
        const layer *l = &net->layers[k];
        float *y = eng_has_act(l) || eng_has_bn(l) ? e->tmp : e->dot[k];
        eng_rule_of(l->type)->lin(e, k, e->dot, e->u, y);
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
            for (int b = 0; b < B && sm->type == LOGXENT; b++) {
                // the BCE's d2/dz2 is diagonal: p (1 - p)
                const float *p = sm->output + b * K, *zd = e->dot[top - 1] + b * K;
                float *dd = e->dd[top - 1] + b * K;
                for (int i = 0; i < K; i++) dd[i] = p[i] * (1 - p[i]) * zd[i];
            }
            for (int b = 0; b < B && sm->type != LOGXENT; b++) {
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
        const eng_rule *r = eng_rule_of(l->type);
        float *that, *t;
        if (eng_has_act(l) || eng_has_bn(l)) {
            that = reverse_act_bn(e, k, scale, &t);
        } else {
            that = e->d[k];
            t = e->dd ? e->dd[k] : NULL;
        }
        if (r->wgrad) r->wgrad(e, k, that, t, scale);
        if (t && e->dd) r->lin_t(e, k, t, e->dd, NULL);
    }
}

// 1 when every value is finite: a scan in threads (11M weights of ResNet-18 every step); the first
// bad index is then found serially
static int all_finite(const float *a, size_t n)
{
    // the exponent bits all ones: Inf or NaN (a bit test, whatever the float flags of the build)
    uint32_t bad = 0;
    #pragma omp parallel for reduction(|: bad) if (ENG_OMP(n))
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, a + i, sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

int eng_check_finite(const eng *e, int updates, char *err, int errlen)
{
    for (int k = 0; k <= e->top && k < e->net->n; k++) {
        const layer *l = &e->net->layers[k];
        size_t n[3];
        if (eng_update_sizes(l, n)) continue;   // sub-layers: darknet's own business
        const float *arr[5] = {updates ? l->weight_updates : l->weights, updates ? l->bias_updates : l->biases,
                               updates ? l->scale_updates : l->scales, updates ? NULL : l->rolling_mean,
                               updates ? NULL : l->rolling_variance};
        static const char *names[2][5] = {{"weights", "biases", "scales", "rolling_mean", "rolling_variance"},
                                          {"weight_updates", "bias_updates", "scale_updates", "", ""}};
        size_t len[5] = {n[0], n[1], n[2], eng_has_bn(l) ? (size_t)l->out_c : 0, eng_has_bn(l) ? (size_t)l->out_c : 0};
        for (int a = 0; a < 5; a++) {
            if (!arr[a]) continue;
            if (all_finite(arr[a], len[a])) continue;
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

// ----------------------------------------------------------------------------------------------
// a heatmap zero for the whole batch although the seed is not: where the gradient stopped

static int all_zero(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) if (a[i] != 0) return 0;
    return 1;
}

// 1 when layer k's activation has slope 0 at every unit of the batch (a relu that is off everywhere)
static int act_dead(eng *e, int k)
{
    const layer *l = &e->net->layers[k];
    if (!eng_has_act(l)) return 0;
    int n = l->outputs * l->batch;
    fill_cpu(n, 1, e->tmp, 1);
    gradient_array(l->output, n, l->activation, e->tmp);
    return all_zero(e->tmp, n);
}

// The layer where the sweep stopped, from the lowest layer `low` the gradient reached: in the
// engine's sweep d[low] is the gradient at low's output, so low stopped it; in darknet's backward
// delta[low] is taken after low's activation, so low's backward passed nothing down, unless the
// layer below has an activation that is off everywhere.
static void stop_message(eng *e, int low, int stock, char *err, int errlen)
{
    network *net = e->net;
    int k = low;
    if (stock && low > 0 && act_dead(e, low - 1)) k = low - 1;
    const layer *l = &net->layers[k];
    char what[160];
    if (act_dead(e, k))
        snprintf(what, sizeof what, "its %s activation has slope 0 at every unit of the batch", get_activation_string(l->activation));
    else
        snprintf(what, sizeof what, "%s passes nothing to its input", stock ? "darknet's backward" : "the engine's rule");
    snprintf(err, errlen, "the heatmap is zero for every image of the batch, though the seed at the [softmax] is not: "
             "the gradient stops at layer %d (%s): %s", k, get_layer_string(l->type), what);
}

// ----------------------------------------------------------------------------------------------
// input noise: the heatmap at x + e (regularizers.md, "Noise utilities")

// batch norm's x_norm of an inference-mode forward in training mode (pjreddie's darknet writes it
// only in training mode, AlexeyAB's in both; the rules of `loss` and smooth activations read it):
// (x - mean) / sigma of the lent batch statistics
static void fix_x_norm(eng *e)
{
    network *net = e->net;
    if (!net->train || dk_bn_inference_writes_x_norm()) return;
    for (int k = 0; k < e->top; k++) {
        layer *l = &net->layers[k];
        if (!eng_has_bn(l) || !l->x_norm) continue;
        int sp = l->out_w * l->out_h;
        for (int b = 0; b < l->batch; b++)
            for (int f = 0; f < l->out_c; f++) {
                float is = eng_bn_inv_sigma(e, l, f), m = l->mean[f];
                size_t o = ((size_t)b * l->out_c + f) * sp;
                for (int i = 0; i < sp; i++) l->x_norm[o + i] = (l->x[o + i] - m) * is;
            }
    }
}

// The net's layers at x0 + eps (batch statistics held), and the seed dS/dz there (spectreg: r)
static void forward_at(eng *e, const eng_reg_cfg *c, const float *x0, const float *eps, const float *truth, const float *r)
{
    network *net = e->net;
    size_t nb = (size_t)net->inputs * net->batch;
    for (size_t i = 0; i < nb; i++) net->input[i] = x0[i] + eps[i];
    eng_forward_frozen(e);
    fix_x_norm(e);
    if (c->form == ENG_SPECTREG) memcpy(e->seed, r, sizeof(float) * (size_t)e->classes * net->batch);
    else eng_seed(e, c->form, truth, NULL, e->seed);
}

// The noisy share of a step: e->g = the mean heatmap over the draws; then (lambda != 0, after
// penalty() wrote e->u at the clean input) -lambda/N * d(u . g(x0 + eps_j))/dtheta per draw.
typedef struct { float *x0, *eps, *gj; int N; eng_snap state; } noise_pass;

static void noise_begin(eng *e, const eng_reg_cfg *c, const float *truth, const float *r, uint64_t *rng, noise_pass *np)
{
    network *net = e->net;
    int B = net->batch, n = net->inputs;
    size_t nb = (size_t)n * B;
    memset(np, 0, sizeof *np);
    np->N = c->input_noise_samples > 1 ? c->input_noise_samples : 1;
    np->x0 = malloc(nb * sizeof(float));
    np->gj = malloc(nb * sizeof(float));
    np->eps = malloc(nb * np->N * sizeof(float));
    memcpy(np->x0, net->input, nb * sizeof(float));
    for (int b = 0; b < B; b++) {
        const float *x = np->x0 + (size_t)b * n;
        float lo = x[0], hi = x[0];
        for (int i = 1; i < n; i++) { if (x[i] < lo) lo = x[i]; if (x[i] > hi) hi = x[i]; }
        float sc = c->input_noise * (hi - lo);
        for (int j = 0; j < np->N; j++)
            for (int i = 0; i < n; i++) np->eps[(size_t)j * nb + (size_t)b * n + i] = sc * eng_randn(rng);
    }
    // what darknet's backward of the clean forward reads, and its CE delta and cost, put back after
    eng_snap_state(e, &np->state);
    eng_snap_add(&np->state, net->layers[e->top].delta, (size_t)e->classes * B * sizeof(float));
    if (net->layers[e->top].cost) eng_snap_add(&np->state, net->layers[e->top].cost, sizeof(float));
    eng_lend_batch_stats(e, &np->state);
    memset(e->g, 0, nb * sizeof(float));
    for (int j = 0; j < np->N; j++) {
        forward_at(e, c, np->x0, np->eps + (size_t)j * nb, truth, r);
        eng_input_grad(e, e->seed, np->gj);
        for (size_t i = 0; i < nb; i++) e->g[i] += np->gj[i] / np->N;
    }
    memcpy(net->input, np->x0, nb * sizeof(float));   // R compares with the clean image
}

static void noise_step(eng *e, const eng_reg_cfg *c, const float *truth, const float *r, noise_pass *np)
{
    size_t nb = (size_t)e->net->inputs * e->net->batch;
    for (int j = 0; j < np->N; j++) {
        forward_at(e, c, np->x0, np->eps + (size_t)j * nb, truth, r);
        eng_input_grad(e, e->seed, np->gj);   // the first-order streams the exact step runs on
        exact_step(e, c->form, c->lambda / np->N);
    }
}

static void noise_end(eng *e, noise_pass *np)
{
    memcpy(e->net->input, np->x0, sizeof(float) * (size_t)e->net->inputs * e->net->batch);
    eng_snap_restore(&np->state);
    free(np->x0); free(np->eps); free(np->gj);
    memset(np, 0, sizeof *np);
}

int eng_reg_step(eng *e, const eng_reg_cfg *c, const float *truth, uint64_t *rng,
                 eng_reg_report *out, char *err, int errlen)
{
    network *net = e->net;
    eng_fit_batch(e);
    int B = net->batch;
    size_t nb = (size_t)net->inputs * B;
    if (e->score) {
        snprintf(err, errlen, "regularized training needs a classifier's [softmax]; this engine explains a score (a detector's)");
        return -1;
    }
    // the heatmap: the sweep seeded with dS/dz at the training-mode forward's point
    eng_seed(e, c->form, truth, rng, e->seed);
    float *r = NULL;
    if (c->form == ENG_SPECTREG) {
        r = malloc(sizeof(float) * (size_t)e->classes * B);
        memcpy(r, e->seed, sizeof(float) * (size_t)e->classes * B);
    }
    noise_pass np = {0};
    int noisy = c->input_noise > 0;
    if (noisy && (c->method != ENG_EXACT || !e->exact)) {
        snprintf(err, errlen, "input_noise needs method=exact (its heatmaps at x + e come from the engine's rules)");
        free(r);
        return -1;
    }
    if (noisy) {
        noise_begin(e, c, truth, r ? r : e->seed, rng, &np);
    } else if (e->exact) {
        eng_input_grad(e, e->seed, e->g);
    } else if (eng_stock_input_grad(e, c->form, truth, e->seed, e->g, err, errlen)) {
        free(r);
        return -1;
    }
#define FAIL(rc) do { if (noisy) noise_end(e, &np); free(r); return (rc); } while (0)
    double gabs = 0;
    // a report (mean |g|) and a NaN test: the order of the sum may change with the threads
    #pragma omp parallel for reduction(+: gabs) if (ENG_OMP(nb))
    for (size_t i = 0; i < nb; i++) gabs += fabsf(e->g[i]);
    if (!num_finite(gabs)) {
        snprintf(err, errlen, "the heatmap has NaN or Inf (the network's activations have diverged)");
        FAIL(-1);
    }
    if (gabs == 0 && !all_zero(e->seed, (size_t)e->classes * B)) {
        int low = -1;
        if (e->exact) {
            for (int k = 0; k < e->top && low < 0; k++)
                if (!all_zero(e->d[k], (size_t)net->layers[k].outputs * B)) low = k;
        } else {
            low = e->stock_low;
        }
        if (low >= 0) stop_message(e, low, !e->exact, err, errlen);
        else snprintf(err, errlen, "the heatmap is zero for every image of the batch, though the seed at the [softmax] is not");
        FAIL(-2);
    }
    if (c->lambda != 0 && c->method != ENG_EXACT && e->exact && e->dk_stop_below >= 0) {
        const layer *l = &net->layers[e->dk_stop];
        snprintf(err, errlen, "method=%s: layer %d (%s): %s, so the parameters of layer %d (%s) and below would get no gradient; use method=exact",
                 eng_method_name(c->method), e->dk_stop, get_layer_string(l->type), eng_dk_stops(l),
                 e->dk_stop_below, get_layer_string(net->layers[e->dk_stop_below].type));
        FAIL(-1);
    }
    double rsum;
    if (penalty(e, c, rng, &rsum, err, errlen)) FAIL(-1);
    if (!num_finite(rsum)) {
        snprintf(err, errlen, "the regularizer %s is %s", c->reg->name, rsum != rsum ? "nan" : "inf");
        FAIL(-1);
    }
    if (c->lambda != 0) {
        if (c->method == ENG_EXACT && !e->exact) {
            snprintf(err, errlen, "method=exact needs a rule for every layer; this engine was made for method=finite");
            FAIL(-1);
        }
        if (noisy) noise_step(e, c, truth, r ? r : e->seed, &np);
        else if (c->method == ENG_EXACT) exact_step(e, c->form, c->lambda);
        else eng_finite_step(e, c, truth, r);
    }
    if (noisy) noise_end(e, &np);
#undef FAIL
    free(r);
    if (out) {
        out->r_mean = rsum / B;
        out->g_abs_mean = gabs / nb;
    }
    return 0;
}
