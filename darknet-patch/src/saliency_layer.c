/* saliency_layer.c: parse, forward and backward of the [saliency] layer (darknet layer glue).
   In training (net.train with labels) its forward runs the regularizer's share of the step
   (eng_reg_step): -lambda * dR/dtheta lands in darknet's update buffers, lambda * R in the loss
   darknet prints. Otherwise it passes the probabilities through and costs nothing.
   Nothing to save or load: weights files of a cfg with and without the section are the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saliency_layer.h"
#include "option_list.h"
#include "blas.h"
#include "utils.h"
#include "engine.h"
#include "reg.h"

typedef struct {
    eng_reg_cfg rc;
    network *net;
    eng *eng;
    uint64_t rng;
    char file[512];
    int index;
} saliency_state;

static char *opt_or(list *options, char *key, char *def)
{
    char *v = option_find(options, key);
    return v ? v : def;
}

static void cfg_fail(const char *file, int index, const char *key, const char *val, const char *allowed)
{
    fprintf(stderr, "%s: [saliency] (layer %d): %s=%s is not valid; %s\n", file, index, key, val, allowed);
    exit(1);
}

static float opt_float(list *options, char *key, char *def, const char *file, int index, float min, int strict)
{
    char *v = opt_or(options, key, def);
    char *end;
    float x = strtof(v, &end);
    if(*end || end == v || !(strict ? x > min : x >= min)) cfg_fail(file, index, key, v, strict ? "a number > 0" : "a number >= 0");
    return x;
}

layer parse_saliency(list *options, int batch, int inputs, network *net, int index, char *filename)
{
    static const char *keys[] = {"regularizer", "formulation", "weight", "method", "step", "seed", 0};
    node *n;
    for(n = options->front; n; n = n->next){
        kvp *p = (kvp *)n->val;
        int i, ok = 0;
        for(i = 0; keys[i]; ++i) if(!strcmp(p->key, keys[i])) ok = 1;
        if(!ok) cfg_fail(filename, index, p->key, p->val, "keys: regularizer, formulation, weight, method, step, seed");
    }
    if(index == 0 || net->layers[index-1].type != SOFTMAX){
        fprintf(stderr, "%s: [saliency] (layer %d) must come right after the network's [softmax]\n", filename, index);
        exit(1);
    }
    saliency_state *c = calloc(1, sizeof(*c));
    snprintf(c->file, sizeof(c->file), "%s", filename);
    c->index = index;
    c->net = net;

    char *reg = opt_or(options, "regularizer", "l2");
    char err[512];
    c->rc.reg = reg_lookup(reg, err, sizeof(err));
    if(!c->rc.reg) cfg_fail(filename, index, "regularizer", reg, err);
    char *form = opt_or(options, "formulation", "onehot");
    if(eng_form_parse(form, &c->rc.form)) cfg_fail(filename, index, "formulation", form, "allowed: " ENG_FORM_NAMES);
    c->rc.lambda = opt_float(options, "weight", "0.5", filename, index, 0, 0);
    char *method = opt_or(options, "method", "exact");
    if(!strcmp(method, "exact")) c->rc.method = ENG_EXACT;
    else if(!strcmp(method, "finite")) c->rc.method = ENG_FINITE;
    else if(!strcmp(method, "central")) c->rc.method = ENG_FINITE_CENTRAL;
    else cfg_fail(filename, index, "method", method, "allowed: exact, finite, central");
    c->rc.step = opt_float(options, "step", "0.01", filename, index, 0, 1);
    c->rng = (uint64_t)opt_float(options, "seed", "1", filename, index, 0, 0);

    fprintf(stderr, "saliency   %-12s %-8s lambda %-6g %-7s                 %4d\n",
            c->rc.reg->name, eng_form_name(c->rc.form), c->rc.lambda, method, inputs);
    layer l = {0};
    l.type = SALIENCY;
    l.batch = batch;
    l.inputs = inputs;
    l.outputs = inputs;
    l.output = calloc(inputs*batch, sizeof(float));
    l.delta = calloc(inputs*batch, sizeof(float));
    l.forward = forward_saliency_layer;
    l.backward = backward_saliency_layer;
    l.saliency = c;
    return l;
}

void forward_saliency_layer(const layer l, network net)
{
    copy_cpu(l.outputs*l.batch, net.input, 1, l.output, 1);
    saliency_state *c = (saliency_state *)l.saliency;
    if(!net.train || !net.truth || !c) return;
    char err[512];
    if(!c->eng){
        c->eng = eng_init_for(c->net, c->rc.method == ENG_EXACT, err, sizeof(err));
        if(!c->eng){
            fprintf(stderr, "%s: [saliency] (layer %d): %s\n", c->file, c->index, err);
            exit(1);
        }
    }
    double t0 = what_time_is_it_now();
    eng_reg_report rep;
    if(eng_reg_step(c->eng, &c->rc, net.truth, &c->rng, &rep, err, sizeof(err))){
        fprintf(stderr, "%s: [saliency] (layer %d): %s\n", c->file, c->index, err);
        exit(1);
    }
    /* the loss darknet prints is sum_b CE_b (the softmax's cost) per image: add lambda * sum_b R_b */
    layer sm = net.layers[c->index - 1];
    if(sm.cost) sm.cost[0] += c->rc.lambda * rep.r_mean * l.batch;
    fprintf(stderr, "saliency: R %f (%s, %s), lambda*R %f, mean |g| %g, %.3f s\n",
            rep.r_mean, c->rc.reg->name, eng_form_name(c->rc.form), c->rc.lambda * rep.r_mean,
            rep.g_abs_mean, what_time_is_it_now() - t0);
}

void backward_saliency_layer(const layer l, network net)
{
    if(net.delta) axpy_cpu(l.outputs*l.batch, 1, l.delta, 1, net.delta, 1);
}
