/* saliency_layer.c: parse, forward and backward of the [saliency] layer (darknet layer glue).
   Nothing to save or load: weights files of a cfg with and without the section are the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saliency_layer.h"
#include "option_list.h"

static char *opt_or(list *options, char *key, char *def)
{
    char *v = option_find(options, key);
    return v ? v : def;
}
#include "blas.h"
#include "utils.h"
#include "engine.h"

typedef struct {
    char regularizer[64];
    eng_form form;
    float weight;
    int finite;
    float step;
} saliency_cfg;

static void cfg_fail(const char *file, int index, const char *key, const char *val, const char *allowed)
{
    fprintf(stderr, "%s: [saliency] (layer %d): %s=%s is not valid; %s\n", file, index, key, val, allowed);
    exit(1);
}

layer parse_saliency(list *options, int batch, int inputs, network *net, int index, char *filename)
{
    static const char *keys[] = {"regularizer", "formulation", "weight", "method", "step", 0};
    node *n;
    for(n = options->front; n; n = n->next){
        kvp *p = (kvp *)n->val;
        int i, ok = 0;
        for(i = 0; keys[i]; ++i) if(!strcmp(p->key, keys[i])) ok = 1;
        if(!ok) cfg_fail(filename, index, p->key, p->val, "keys: regularizer, formulation, weight, method, step");
    }
    if(index == 0 || net->layers[index-1].type != SOFTMAX){
        fprintf(stderr, "%s: [saliency] (layer %d) must come right after the network's [softmax]\n", filename, index);
        exit(1);
    }
    saliency_cfg *c = calloc(1, sizeof(*c));
    char *reg = opt_or(options, "regularizer", "l2");
    if(strlen(reg) >= sizeof(c->regularizer)) cfg_fail(filename, index, "regularizer", reg, "a regularizer name");
    strcpy(c->regularizer, reg);
    char *form = opt_or(options, "formulation", "onehot");
    if(eng_form_parse(form, &c->form)) cfg_fail(filename, index, "formulation", form, "allowed: " ENG_FORM_NAMES);
    char *w = opt_or(options, "weight", "0.5");
    char *end;
    c->weight = strtof(w, &end);
    if(*end || end == w || !(c->weight >= 0)) cfg_fail(filename, index, "weight", w, "a number >= 0");
    char *method = opt_or(options, "method", "exact");
    if(!strcmp(method, "exact")) c->finite = 0;
    else if(!strcmp(method, "finite")) c->finite = 1;
    else cfg_fail(filename, index, "method", method, "allowed: exact, finite");
    char *step = opt_or(options, "step", "0.01");
    c->step = strtof(step, &end);
    if(*end || end == step || !(c->step > 0)) cfg_fail(filename, index, "step", step, "a number > 0");

    fprintf(stderr, "saliency   %-12s %-8s lambda %-6g %s                %4d\n",
            c->regularizer, eng_form_name(c->form), c->weight, c->finite ? "finite" : "exact", inputs);
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
}

void backward_saliency_layer(const layer l, network net)
{
    if(net.delta) axpy_cpu(l.outputs*l.batch, 1, l.delta, 1, net.delta, 1);
}
