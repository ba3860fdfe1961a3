/* saliency_layer.c: parse, forward and backward of the [saliency] layer (darknet layer glue).
   In training (net.train with labels) its forward runs the regularizer's share of the step
   (eng_reg_step): -lambda * dR/dtheta lands in darknet's update buffers, lambda * R in the loss
   darknet prints. Otherwise it passes the probabilities through and costs nothing.
   Every step it also checks that training has not diverged (parameters, the network's outputs,
   heatmap, R and updates finite); when it has, it stops with status 1 naming the batch, the bad value and the
   last checkpoint written.
   Nothing to save or load: weights files of a cfg with and without the section are the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saliency_layer.h"
#include "saliency_util.h"
#include "option_list.h"
#include "blas.h"
#include "utils.h"
#include "engine.h"
#include "numparse.h"
#include "reg.h"
#include "dk.h"

typedef struct {
    sal_section sec;
    network *net;        /* the network the engine reads: darknet's own, or view (dk.h's sal_layer_view) */
    network view;
    eng *eng;
    uint64_t rng;
    char file[512];
    int index;
    int softmax;         /* the [softmax] it follows (index - 1, or index - 2 after a [cost]) */
    eng_reg_report report; /* the last step's report; steps = how many steps ran */
    int steps;
    double t0, last;     /* the progress line: first step, last line printed */
    size_t seen0;        /* darknet's seen before the first step */
} saliency_state;

/* The section's keys, their defaults and what each allows: the one list of them. */
enum { KEY_REGULARIZER, KEY_FORMULATION, KEY_WEIGHT, KEY_METHOD, KEY_STEP, KEY_SEED,
       KEY_INPUT_NOISE, KEY_INPUT_NOISE_SAMPLES, KEY_HEATMAP_NOISE, N_KEYS };
static const struct { const char *key, *def, *allowed; const char *(*names)(void); } KEYS[] = {
    [KEY_REGULARIZER] = {"regularizer", "l2", NULL, reg_names},
    [KEY_FORMULATION] = {"formulation", "onehot", NULL, eng_form_names},
    [KEY_WEIGHT]      = {"weight", "0.5", "a finite number >= 0"},
    [KEY_METHOD]      = {"method", "exact", NULL, eng_method_names},
    [KEY_STEP]        = {"step", "0.01", "a number > 0 and <= 1"},
    [KEY_SEED]        = {"seed", "1", "a whole number 0 ... 18446744073709551615"},
    [KEY_INPUT_NOISE] = {"input_noise", "0", "a number >= 0 and <= 10 (the noise's std over the image's range; 0: none)"},
    [KEY_INPUT_NOISE_SAMPLES] = {"input_noise_samples", "1", "a whole number 1 ... 1000"},
    [KEY_HEATMAP_NOISE] = {"heatmap_noise", "0", "a number >= 0 and <= 10 (the noise's std over the heatmap's range; 0: none)"},
};
_Static_assert(sizeof KEYS / sizeof KEYS[0] == N_KEYS, "one entry per key");

/* what key k allows: a range, or the names of its table */
static const char *allowed(int k)
{
    return KEYS[k].names ? KEYS[k].names() : KEYS[k].allowed;
}

static int bad_value(const char *key, const char *val, const char *why, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s=%s is not valid (%s); allowed: %s", key, val, why, what);
    return -1;
}

int sal_section_read(list *options, sal_section *out, char *err, size_t errlen)
{
    const char *val[N_KEYS] = {0};
    node *n;
    for(n = options->front; n; n = n->next){
        kvp *p = (kvp *)n->val;
        int k;
        for(k = 0; k < N_KEYS && strcmp(p->key, KEYS[k].key); ++k);
        if(k == N_KEYS){
            char keys[256] = "";
            for(k = 0; k < N_KEYS; ++k) snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s%s", k ? ", " : "", KEYS[k].key);
            snprintf(err, errlen, "%s=%s is not a key of this section; keys: %s", p->key, p->val ? p->val : "", keys);
            return -1;
        }
        if(val[k]){
            snprintf(err, errlen, "%s is given twice (%s=%s, then %s=%s); give it once", p->key, p->key, val[k], p->key, p->val);
            return -1;
        }
        p->used = 1;   /* darknet's option_unused() would call it unused */
        val[k] = p->val ? p->val : "";
        if(!val[k][0]) return bad_value(p->key, "", "empty", allowed(k), err, errlen);
    }
    int k;
    for(k = 0; k < N_KEYS; ++k) if(!val[k]) val[k] = KEYS[k].def;

    char why[256];
    memset(out, 0, sizeof(*out));
    out->rc.reg = reg_lookup(val[KEY_REGULARIZER], NULL, 0);
    if(!out->rc.reg) return bad_value("regularizer", val[KEY_REGULARIZER], "unknown", allowed(KEY_REGULARIZER), err, errlen);
    if(eng_form_parse(val[KEY_FORMULATION], &out->rc.form))
        return bad_value("formulation", val[KEY_FORMULATION], "unknown", allowed(KEY_FORMULATION), err, errlen);
    if(eng_method_parse(val[KEY_METHOD], &out->rc.method))
        return bad_value("method", val[KEY_METHOD], "unknown", allowed(KEY_METHOD), err, errlen);
    double x;
    if(num_parse_real(val[KEY_WEIGHT], 0, 0, 3.4e38, 0, &x, why, sizeof(why)))
        return bad_value("weight", val[KEY_WEIGHT], why, allowed(KEY_WEIGHT), err, errlen);
    out->rc.lambda = (float)x;
    if(num_parse_real(val[KEY_STEP], 0, 1, 1, 0, &x, why, sizeof(why)))
        return bad_value("step", val[KEY_STEP], why, allowed(KEY_STEP), err, errlen);
    out->rc.step = (float)x;
    /* a double above 0 can be 0 as a float (step=1e-50): finite differences with h = 0 */
    if(!(out->rc.step > 0))
        return bad_value("step", val[KEY_STEP], "too small: 0 as a float", allowed(KEY_STEP), err, errlen);
    if(num_parse_u64(val[KEY_SEED], &out->seed, why, sizeof(why)))
        return bad_value("seed", val[KEY_SEED], why, allowed(KEY_SEED), err, errlen);
    if(num_parse_real(val[KEY_INPUT_NOISE], 0, 0, 10, 0, &x, why, sizeof(why)))
        return bad_value("input_noise", val[KEY_INPUT_NOISE], why, allowed(KEY_INPUT_NOISE), err, errlen);
    out->rc.input_noise = (float)x;
    uint64_t ns;
    if(num_parse_u64(val[KEY_INPUT_NOISE_SAMPLES], &ns, why, sizeof(why)))
        return bad_value("input_noise_samples", val[KEY_INPUT_NOISE_SAMPLES], why, allowed(KEY_INPUT_NOISE_SAMPLES), err, errlen);
    if(ns < 1 || ns > 1000)
        return bad_value("input_noise_samples", val[KEY_INPUT_NOISE_SAMPLES], "out of range", allowed(KEY_INPUT_NOISE_SAMPLES), err, errlen);
    out->rc.input_noise_samples = (int)ns;
    if(num_parse_real(val[KEY_HEATMAP_NOISE], 0, 0, 10, 0, &x, why, sizeof(why)))
        return bad_value("heatmap_noise", val[KEY_HEATMAP_NOISE], why, allowed(KEY_HEATMAP_NOISE), err, errlen);
    out->rc.heatmap_noise = (float)x;
    /* the heatmaps at x + e come from the engine's rules */
    if(out->rc.input_noise > 0 && out->rc.method != ENG_EXACT){
        snprintf(err, errlen, "input_noise=%s needs method=exact (method=%s takes no heatmap at a noisy input)",
                 val[KEY_INPUT_NOISE], val[KEY_METHOD]);
        return -1;
    }
    return 0;
}

layer parse_saliency(list *options, int batch, int inputs, network *net, int index, char *filename)
{
    char err[1024];
    sal_section sec;
    if(sal_section_read(options, &sec, err, sizeof(err))) sal_fail("%s: [saliency] (layer %d): %s", filename, index, err);
    /* right after the softmax, or after a [cost] that follows it (resnet101.cfg, AlexeyAB's cfgs) */
    int sm = index - 1;
    if(sm >= 1 && net->layers[sm].type == COST) --sm;
    if(sm < 0 || net->layers[sm].type != SOFTMAX)
        sal_fail("%s: [saliency] (layer %d) must come right after the network's [softmax] (or after a [cost] that follows it)", filename, index);
    saliency_state *c = calloc(1, sizeof(*c));
    snprintf(c->file, sizeof(c->file), "%s", filename);
    c->index = index;
    c->softmax = sm;
    c->net = net;
    c->sec = sec;
    c->rng = sec.seed;

    char noise[96] = "";
    if(sec.rc.input_noise > 0) snprintf(noise, sizeof(noise), " input_noise %g x%d", sec.rc.input_noise, sec.rc.input_noise_samples);
    if(sec.rc.heatmap_noise > 0) snprintf(noise + strlen(noise), sizeof(noise) - strlen(noise), " heatmap_noise %g", sec.rc.heatmap_noise);
    fprintf(stderr, "saliency   %-12s %-8s lambda %-6g %-7s                 %4d%s\n",
            sec.rc.reg->name, eng_form_name(sec.rc.form), sec.rc.lambda, eng_method_name(sec.rc.method), inputs, noise);
    layer l = {0};
    l.type = SALIENCY;
    l.batch = batch;
    l.inputs = inputs;
    l.outputs = inputs;
    l.output = calloc(inputs*batch, sizeof(float));
    l.delta = calloc(inputs*batch, sizeof(float));
    dk_saliency_callbacks(&l);   /* forward/backward_saliency_layer in the fork's signature */
    l.saliency = c;
    return l;
}

/* Stops a diverged run: the batch, what went bad, and the checkpoint to resume from. */
static void diverged(const saliency_state *c, network net, const char *what)
{
    size_t per = (size_t)net.batch*net.subdivisions, seen = 0;
    size_t batch = (*net.seen + per - 1)/per;
    const char *last = dk_last_saved_weights(&seen);
    char ck[4200];
    if(last) snprintf(ck, sizeof(ck), "the last checkpoint written: %s (batch %zu)", last, seen/per);
    else snprintf(ck, sizeof(ck), "no checkpoint was written by this run");
    sal_fail("%s: [saliency] (layer %d): training diverged at batch %zu: %s (regularizer=%s, weight=%g); stopped, %s",
             c->file, c->index, batch, what, c->sec.rc.reg->name, c->sec.rc.lambda, ck);
}

/* The progress line: the first step, then at most once a second: batch, loss per image (with
   lambda * R), R, images per second and time left over darknet's max_batches. */
static void report(saliency_state *c, network net, const eng_reg_report *rep, double loss, double step_s)
{
    double now = what_time_is_it_now();
    size_t per = (size_t)net.batch*net.subdivisions, batch = (*net.seen + per - 1)/per;
    if(!c->t0){ c->t0 = now; c->seen0 = *net.seen - net.batch; }
    if(c->last && now - c->last < 1) return;
    c->last = now;
    double rate = now > c->t0 ? (*net.seen - c->seen0)/(now - c->t0) : 0;
    char speed[96] = "";
    if(rate > 0) snprintf(speed, sizeof(speed), ", %.0f images/s", rate);
    if(rate > 0 && net.max_batches > 0 && (size_t)net.max_batches > batch)
        snprintf(speed + strlen(speed), sizeof(speed) - strlen(speed), ", %.0f s left", (double)(net.max_batches - batch)*per/rate);
    fprintf(stderr, "saliency: batch %zu/%d, loss %f, R %f (%s, %s), lambda*R %f, mean |g| %g, %.3f s%s\n",
            batch, net.max_batches, loss, rep->r_mean, c->sec.rc.reg->name, eng_form_name(c->sec.rc.form),
            c->sec.rc.lambda*rep->r_mean, rep->g_abs_mean, step_s, speed);
}

void forward_saliency_layer(const layer l, network net)
{
    saliency_state *c = (saliency_state *)l.saliency;
    /* the probabilities, also after a [cost] (whose output is its per-value error) */
    copy_cpu(l.outputs*l.batch, c ? net.layers[c->softmax].output : net.input, 1, l.output, 1);
    if(!net.train || !net.truth || !c) return;
    char err[512], what[600];
    if(!c->eng){
        c->eng = eng_init_for(c->net, c->sec.rc.method == ENG_EXACT, err, sizeof(err));
        if(!c->eng) sal_fail("%s: [saliency] (layer %d): %s", c->file, c->index, err);
    }
    /* the last update, then this forward's outputs, before the regularizer builds on them. Not the
       loss: darknet's cross-entropy is +inf whenever a label's probability underflows to 0, which
       a healthy early step can do (its gradient p - t stays finite) */
    if(eng_check_finite(c->eng, 0, err, sizeof(err))){
        snprintf(what, sizeof(what), "%s after the last update", err);
        diverged(c, net, what);
    }
    layer sm = net.layers[c->softmax];
    int i;
    for(i = 0; i < sm.outputs*sm.batch; ++i){
        if(num_finite_f(sm.output[i])) continue;
        snprintf(what, sizeof(what), "the network's output %d (image %d) is %g", i % sm.outputs, i / sm.outputs, sm.output[i]);
        diverged(c, net, what);
    }
    double t0 = what_time_is_it_now();
    eng_reg_report rep;
    int rc = eng_reg_step(c->eng, &c->sec.rc, net.truth, &c->rng, &rep, err, sizeof(err));
    /* -2: the gradient stops at a layer (a zero heatmap): not divergence, and no step to take */
    if(rc == -2) sal_fail("%s: [saliency] (layer %d): %s; stopped", c->file, c->index, err);
    if(rc) diverged(c, net, err);
    if(eng_check_finite(c->eng, 1, err, sizeof(err))){
        snprintf(what, sizeof(what), "the regularizer's update: %s", err);
        diverged(c, net, what);
    }
    /* the loss darknet prints is sum_b CE_b (the softmax's cost) per image: add lambda * sum_b R_b */
    if(sm.cost) sm.cost[0] += c->sec.rc.lambda * rep.r_mean * l.batch;
    c->report = rep;
    ++c->steps;
    report(c, net, &rep, sm.cost ? sm.cost[0] / l.batch : 0, what_time_is_it_now() - t0);
}

void backward_saliency_layer(const layer l, network net)
{
    if(net.delta) axpy_cpu(l.outputs*l.batch, 1, l.delta, 1, net.delta, 1);
}

void sal_layer_view(const layer *l, network net)
{
    saliency_state *c = l->type == SALIENCY ? (saliency_state *)l->saliency : NULL;
    if(!c) return;
    c->view = net;
    c->net = &c->view;
}

const eng *sal_layer_engine(const layer *l)
{
    const saliency_state *c = l->type == SALIENCY ? (const saliency_state *)l->saliency : NULL;
    return c ? c->eng : NULL;
}

int sal_layer_report(const layer *l, eng_reg_report *out)
{
    const saliency_state *c = l->type == SALIENCY ? (const saliency_state *)l->saliency : NULL;
    if(!c || !c->steps) return -1;
    *out = c->report;
    return c->steps;
}

void free_saliency_layer(layer l)
{
    saliency_state *c = (saliency_state *)l.saliency;
    if(!c) return;
    eng_free(c->eng);
    free(c);
}
