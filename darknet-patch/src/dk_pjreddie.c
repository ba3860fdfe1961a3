/* dk_pjreddie.c: the fork adapter (dk.h) for pjreddie's darknet with patches/pjreddie/.
   Its network already has the contract dk.h states (input, truth, delta and train in the struct,
   layer callbacks taking a network by value), so most entries are darknet's own calls. */
#ifndef DK_FORK_AB
#include <math.h>

#include "dk.h"
#include "blas.h"
#include "saliency_layer.h"

const char *dk_fork = "pjreddie";

network *dk_parse(char *cfg, int batch)
{
    return parse_network_cfg_custom(cfg, batch);   /* patch 0022 */
}

void dk_free(network *net)
{
    free_network(net);
}

void dk_save_weights(network *net, char *file)
{
    save_weights(net, file);
}

float dk_train_datum(network *net)
{
    return train_network_datum(net);
}

float *dk_predict(network *net, float *x)
{
    return network_predict(net, x);
}

void dk_forward(network *net)
{
    forward_network(net);
}

void dk_backward(network *net)
{
    backward_network(net);
}

void dk_layer_forward(network *net, int k, float *input, int train)
{
    network n = *net;
    layer l = n.layers[k];
    n.index = k;
    n.input = input;
    n.truth = 0;
    n.train = train;
    l.forward(l, n);
}

void dk_layer_backward(network *net, int k, float *input, float *delta, int train)
{
    network n = *net;
    layer l = n.layers[k];
    n.index = k;
    n.input = input;
    n.delta = delta;
    n.train = train;
    l.backward(l, n);
}

/* normalize_cpu: (x - mean)/(sqrt(var) + .000001f) */
float dk_bn_inv_sigma(float var)
{
    return 1.0f / (sqrtf(var) + .000001f);
}

/* batchnorm_layer.c:forward_batchnorm_layer, not training: x written (the input of the
   normalisation), x_norm not */
int dk_bn_inference_writes_x_norm(void)
{
    return 0;
}

const char *dk_layer_refusal(const layer *l, char *buf, size_t n)
{
    (void)l; (void)buf; (void)n;
    return NULL;
}

/* y (already the previous output) = alpha*prev + beta*from, resampled where sizes differ, as
   forward_shortcut_layer computes it */
void dk_shortcut_lin(const network *net, const layer *l, float **from, float *y)
{
    (void)net;
    shortcut_cpu(l->batch, l->w, l->h, l->c, from[l->index], l->out_w, l->out_h, l->out_c, l->alpha, l->beta, y);
}

/* The transpose. The forward scales by alpha only the values it adds to (the channels and pixels
   the two layers share), so the previous layer gets alpha t there and t elsewhere: t is copied and
   scaled by shortcut_cpu itself, with the forward's geometry (beta 0 adds nothing; patch 0018
   makes darknet's backward do the same). */
void dk_shortcut_lin_t(const network *net, const layer *l, const float *t, float **dfrom, float *dprev, float *scaled)
{
    int n = l->outputs * l->batch;
    shortcut_cpu(l->batch, l->out_w, l->out_h, l->out_c, (float *)t, l->w, l->h, l->c, 1, l->beta, dfrom[l->index]);
    if (!dprev) return;
    if (l->alpha == 1) { axpy_cpu(n, 1, (float *)t, 1, dprev, 1); return; }
    copy_cpu(n, (float *)t, 1, scaled, 1);
    shortcut_cpu(l->batch, l->w, l->h, l->c, net->layers[l->index].output, l->out_w, l->out_h, l->out_c, l->alpha, 0, scaled);
    axpy_cpu(n, 1, scaled, 1, dprev, 1);
}

int dk_shortcut_needs_scratch(const layer *l)
{
    return l->type == SHORTCUT && l->alpha != 1;
}

long dk_weights_extra_floats(const layer *l)
{
    (void)l;
    return 0;
}

void dk_saliency_callbacks(layer *l)
{
    l->forward = forward_saliency_layer;
    l->backward = backward_saliency_layer;
}

image dk_load_image(char *path, int w, int h, int c)
{
    return load_image_checked(path, w, h, c);      /* patch 0031 */
}

const char *dk_last_saved_weights(size_t *seen)
{
    return last_saved_weights(seen);               /* patch 0016 */
}
#endif
