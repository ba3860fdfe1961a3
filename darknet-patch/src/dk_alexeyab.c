/* dk_alexeyab.c: the fork adapter (dk.h) for AlexeyAB's darknet with patches/alexeyab/.
   Its layers take (layer, network_state) and its CPU code never reads the network's input,
   truth, delta or train: the adapter keeps them in the struct (dk.h's contract) and passes them
   to a network_state on every call. What the engine has no rule for on this fork is refused by
   name (dk_layer_refusal). (../shared/spec/alexeyab.md §4.14, §5.) */
#ifdef DK_FORK_AB
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dk.h"
#include "blas.h"
#include "activations.h"
#include "saliency_layer.h"
#include "stb_image.h"

const char *dk_fork = "alexeyab";

network *dk_parse(char *cfg, int batch)
{
    network *net = calloc(1, sizeof *net);
    if(!net) error("dk_parse: out of memory", DARKNET_LOC);
    *net = parse_network_cfg_train(cfg, batch);    /* patch 0005: training buffers at any batch */
    net->truths = net->outputs;
    net->input = calloc((size_t)net->inputs * net->batch, sizeof(float));
    net->truth = calloc((size_t)net->truths * net->batch, sizeof(float));
    net->cost = calloc(1, sizeof(float));   /* pjreddie's *net->cost: the last forward's loss */
    if(!net->input || !net->truth || !net->cost) error("dk_parse: out of memory for the input and truth buffers", DARKNET_LOC);
    return net;
}

void dk_free(network *net)
{
    if(!net) return;
    free(net->input);
    free(net->truth);
    free(net->cost);
    net->input = net->truth = NULL;
    net->cost = NULL;
    free_network(*net);
    free(net);
}

void dk_save_weights(network *net, char *file)
{
    save_weights(*net, file);
}

/* AlexeyAB's train_network_datum leaves the update to train_network; pjreddie's updates once a
   whole batch (all subdivisions) has been seen: the same here */
float dk_train_datum(network *net)
{
    net->train = 1;
    float loss = train_network_datum(*net, net->input, net->truth);
    if(((*net->seen)/net->batch)%net->subdivisions == 0) update_network(*net);
    return loss;
}

float *dk_predict(network *net, float *x)
{
    return network_predict(*net, x);
}

static network_state state_of(network *net, float *input, float *truth, float *delta, int train, int k)
{
    network_state s = {0};
    s.input = input;
    s.truth = truth;
    s.delta = delta;
    s.train = train;
    s.index = k;
    s.workspace = net->workspace;
    s.net = *net;
    return s;
}

void dk_forward(network *net)
{
    forward_network(*net, state_of(net, net->input, net->truth, NULL, net->train, 0));
    if(net->cost) *net->cost = get_network_cost(*net);
}

void dk_backward(network *net)
{
    backward_network(*net, state_of(net, net->input, net->truth, net->delta, net->train, 0));
}

void dk_layer_forward(network *net, int k, float *input, int train)
{
    layer l = net->layers[k];
    network_state s = state_of(net, input, NULL, NULL, train, k);
    s.net.input = input; s.net.truth = NULL; s.net.train = train;
    l.forward(l, s);
}

void dk_layer_backward(network *net, int k, float *input, float *delta, int train)
{
    layer l = net->layers[k];
    network_state s = state_of(net, input, NULL, delta, train, k);
    s.net.input = input; s.net.truth = NULL; s.net.train = train;
    l.backward(l, s);
}

/* normalize_cpu: (x - mean)/sqrt(var + .00001f) */
float dk_bn_inv_sigma(float var)
{
    return 1.0f / sqrtf(var + .00001f);
}

/* batchnorm_layer.c:forward_batchnorm_layer, not training: x_norm written when allocated, x not */
int dk_bn_inference_writes_x_norm(void)
{
    return 1;
}

/* the activations only this fork has (get_activation_string names several of them "relu") */
static const struct { ACTIVATION a; const char *name; } AB_ONLY_ACT[] = {
    {RELU6, "relu6"}, {SWISH, "swish"}, {MISH, "mish"}, {HARD_MISH, "hard_mish"}, {GELU, "gelu"},
    {REVLEAKY, "revleaky"}, {NORM_CHAN, "normalize_channels"}, {NORM_CHAN_SOFTMAX, "normalize_channels_softmax"},
    {NORM_CHAN_SOFTMAX_MAXVAL, "normalize_channels_softmax_maxval"},
};

const char *dk_layer_refusal(const layer *l, char *buf, size_t n)
{
    if(l->type == CONVOLUTIONAL || l->type == CONNECTED || l->type == SHORTCUT || l->type == ACTIVE){
        for(size_t i = 0; i < sizeof AB_ONLY_ACT / sizeof AB_ONLY_ACT[0]; ++i){
            if(l->activation != AB_ONLY_ACT[i].a) continue;
            snprintf(buf, n, "activation=%s (AlexeyAB's)", AB_ONLY_ACT[i].name);
            return buf;
        }
    }
    switch(l->type){
    case CONVOLUTIONAL:
        if(l->stride_x != l->stride_y){ snprintf(buf, n, "stride_x=%d differs from stride_y=%d", l->stride_x, l->stride_y); return buf; }
        if(l->dilation > 1){ snprintf(buf, n, "dilation=%d", l->dilation); return buf; }
        if(l->antialiasing) return "antialiasing (a hidden blur sub-layer)";
        if(l->sway || l->rotate || l->stretch || l->stretch_sway) return "sway/rotate/stretch/stretch_sway (deformable kernels)";
        if(l->share_layer) return "share_index (weights shared with another layer)";
        if(l->assisted_excitation) return "assisted_excitation";
        if(l->coordconv) return "coordconv";
        return NULL;
    case MAXPOOL:
        if(l->stride_x != l->stride_y){ snprintf(buf, n, "stride_x=%d differs from stride_y=%d", l->stride_x, l->stride_y); return buf; }
        if(l->maxpool_depth) return "maxpool_depth";
        if(l->antialiasing) return "antialiasing (a hidden blur sub-layer)";
        return NULL;
    case SHORTCUT:
        if(l->nweights > 0 || l->weights_type) return "weights_type (a weighted shortcut)";
        return NULL;
    case ROUTE:
        if(l->groups > 1){ snprintf(buf, n, "groups=%d (a channel slice of each input)", l->groups); return buf; }
        return NULL;
    case DROPOUT:
        if(l->dropblock) return "dropblock";
        return NULL;
    case SOFTMAX:
        if(l->temperature != 1){ snprintf(buf, n, "temperature=%g", l->temperature); return buf; }
        return NULL;
    case CROP:
        return "[crop] (this fork's crop keeps no record of its window)";
    default:
        return NULL;
    }
}

/* y (already the previous output) += each from-layer's output, added by flat per-image index only
   while the index is below that layer's size: blas.c:shortcut_multilayer_cpu without weights */
void dk_shortcut_lin(const network *net, const layer *l, float **from, float *y)
{
    (void)net;
    for(int i = 0; i < l->n; ++i){
        int size = l->input_sizes[i], m = size < l->outputs ? size : l->outputs;
        const float *x = from[l->input_layers[i]];
        for(int b = 0; b < l->batch; ++b) axpy_cpu(m, 1, (float *)x + (size_t)b*size, 1, y + (size_t)b*l->outputs, 1);
    }
}

void dk_shortcut_lin_t(const network *net, const layer *l, const float *t, float **dfrom, float *dprev, float *scaled)
{
    (void)net; (void)scaled;
    for(int i = 0; i < l->n; ++i){
        int size = l->input_sizes[i], m = size < l->outputs ? size : l->outputs;
        float *dx = dfrom[l->input_layers[i]];
        for(int b = 0; b < l->batch; ++b) axpy_cpu(m, 1, (float *)t + (size_t)b*l->outputs, 1, dx + (size_t)b*size, 1);
    }
    if(dprev) axpy_cpu(l->outputs*l->batch, 1, (float *)t, 1, dprev, 1);
}

int dk_shortcut_needs_scratch(const layer *l)
{
    (void)l;
    return 0;
}

/* parser.c:load_weights_upto: a shortcut with weights keeps nweights floats; [implicit] too */
long dk_weights_extra_floats(const layer *l)
{
    if(l->type == SHORTCUT && l->nweights > 0) return l->nweights;
    if(l->type == IMPLICIT) return -1;
    return 0;
}

/* The [saliency] layer in this fork's signature. patch 0004 puts the network's input, labels and
   mode in state.net; the layer's engine reads the network through a view refreshed from it on
   every training forward (the parse-time network is a stale copy; only its layers are live). */
static void ab_forward_saliency(layer l, network_state s)
{
    network net = s.net;
    if(s.train && s.truth) sal_layer_view(&l, net);
    forward_saliency_layer(l, net);
}

static void ab_backward_saliency(layer l, network_state s)
{
    network net = s.net;
    net.delta = s.delta;
    backward_saliency_layer(l, net);
}

void dk_saliency_callbacks(layer *l)
{
    l->forward = ab_forward_saliency;
    l->backward = ab_backward_saliency;
}

/* stb's decoder (darknet's image.c holds its implementation) without load_image_stb's printing,
   bad.list and exit: data NULL for a file it cannot decode */
image dk_load_image(char *path, int w, int h, int c)
{
    int iw, ih, ic;
    unsigned char *data = stbi_load(path, &iw, &ih, &ic, c);
    if(!data) return make_empty_image(0, 0, 0);
    if(c) ic = c;
    image im = make_image(iw, ih, ic);
    for(int k = 0; k < ic; ++k)
        for(int j = 0; j < ih; ++j)
            for(int i = 0; i < iw; ++i)
                im.data[i + iw*j + iw*ih*k] = (float)data[k + ic*i + ic*iw*j]/255.f;
    stbi_image_free(data);
    if(w && h && (w != im.w || h != im.h)){
        image r = resize_image(im, w, h);
        free_image(im);
        im = r;
    }
    return im;
}

const char *dk_last_saved_weights(size_t *seen)
{
    (void)seen;
    return NULL;
}
#endif
