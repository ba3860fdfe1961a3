// methods.c: the table of saliency methods (methods.h), their defaults and heat pictures, and the
// two plain gradient methods.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "colormap.h"

void mth_defaults(mth_opts *o)
{
    memset(o, 0, sizeof *o);
    o->form = ENG_ONEHOT;
    o->seed = 1;
    o->steps = 32;
    o->baseline = "black";
    o->rule = "right";
    o->samples = 25;
    o->sigma = 0.15;
    o->variant = "mean";
    o->of = "vanilla";
    o->iterations = 15;
    o->points = 20;
    o->lambda1 = 1;
    o->lambda2 = 20;
    o->noise = 0.2;
    o->layer = -1;
    o->masks = 4000;
    o->cells = 7;
    o->p1 = 0.5;
    o->fill = "black";
    o->lr = 0.25;
    o->target = -1;
}

static const mth_def METHODS[] = {
    {"vanilla", mth_vanilla, MTH_HEAT_ABS_MAX, "the gradient of the class score (max |g| over channels)"},
    {"gradxinput", mth_gradxinput, MTH_HEAT_ABS_SUM, "gradient x input (|sum over channels|)"},
    {"integrated", mth_integrated, MTH_HEAT_ABS_SUM, "integrated gradients from a baseline (|sum over channels|)"},
    {"smoothgrad", mth_smoothgrad, MTH_HEAT_ABS_MAX, "the wrapped gradient method averaged over noisy copies (max |.| over channels)"},
    {"gradcam", mth_gradcam, MTH_HEAT_PLANE, "Grad-CAM: ReLU(sum_k alpha_k A_k) of a layer's maps, upsampled (-layer)"},
    {"rise", mth_rise, MTH_HEAT_RANGE, "RISE: random masks weighted by the class probability (-masks -cells -p1 -seed)"},
    {"occlusion", mth_occlusion, MTH_HEAT_PLANE, "the probability drop under a sliding patch (-window -stride -fill)"},
    {"igos", mth_igos, MTH_HEAT_PLANE, "I-GOS: a deletion mask optimised along integrated gradients (1 - mask)"},
    {"igos++", mth_igospp, MTH_HEAT_PLANE, "iGOS++: deletion x insertion masks, bilateral TV (1 - mask)"},
    // last: not one of -method all (mth_count), it needs a trained explainer
    {"explainer", mth_explainer, MTH_HEAT_PLANE, "NN-Explainer: a trained explainer's mask of the class (-explainer CFG -explainer_weights W)"},
};
#define N_METHODS ((int)(sizeof METHODS / sizeof METHODS[0]))

int mth_count(void) { return N_METHODS - 1; }
const mth_def *mth_at(int i) { return i >= 0 && i < N_METHODS ? &METHODS[i] : NULL; }

const char *mth_names(void)
{
    static char list[512];
    if (!list[0])
        for (int i = 0; i < N_METHODS; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", METHODS[i].name);
    return list;
}

const mth_def *mth_lookup(const char *name, char *err, size_t errlen)
{
    for (int i = 0; name && i < N_METHODS; i++)
        if (!strcmp(name, METHODS[i].name)) return &METHODS[i];
    if (err && errlen) snprintf(err, errlen, "unknown method '%s': allowed: %s", name ? name : "(null)", mth_names());
    return NULL;
}

void mth_heat_of(const mth_def *m, const float *map, int c, int h, int w, float *out)
{
    // map (C, H, W), out (H*W)
    if (m->heat == MTH_HEAT_ABS_MAX) { cmap_abs_max(map, c, h, w, out); return; }
    int n = h * w;
    float top = 0;
    if (m->heat == MTH_HEAT_RANGE) {
        float lo = map[0], hi = map[0];
        for (int i = 1; i < n; i++) { if (map[i] < lo) lo = map[i]; if (map[i] > hi) hi = map[i]; }
        for (int i = 0; i < n; i++) out[i] = hi > lo ? (map[i] - lo) / (hi - lo) : 0;
        return;
    }
    for (int i = 0; i < n; i++) {
        float s = 0;
        if (m->heat == MTH_HEAT_ABS_SUM) { for (int k = 0; k < c; k++) s += map[k * n + i]; s = fabsf(s); }
        else s = map[i] > 0 ? map[i] : 0;
        out[i] = s;
        if (s > top) top = s;
    }
    for (int i = 0; i < n; i++) out[i] = top > 0 ? out[i] / top : 0;
}

// ---- vanilla and gradient x input --------------------------------------------------------------

// g (C, H, W) = ds/dx of the formulation, for class cls (the label of loss and onehot)
static int score_grad(eng *e, const float *x, int cls, const mth_opts *o, float *g, mth_info *info, char *err, int errlen)
{
    uint64_t rng = o->seed;
    info->evaluations += 1;
    if (!eng_grad(e, x, 1, &cls, o->form, &rng, g, NULL, NULL)) return 0;
    snprintf(err, errlen, "the engine cannot take this network's gradient (a layer type without a rule)");
    return -1;
}

int mth_vanilla(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen)
{
    if (score_grad(e, x, cls, o, map, info, err, errlen)) return -1;
    snprintf(info->line, sizeof info->line, "%s gradient", eng_form_name(o->form));
    return 0;
}

int mth_gradxinput(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen)
{
    if (score_grad(e, x, cls, o, map, info, err, errlen)) return -1;
    int n = eng_inputs(e);
    for (int i = 0; i < n; i++) map[i] *= x[i];
    snprintf(info->line, sizeof info->line, "%s gradient x input", eng_form_name(o->form));
    return 0;
}

// ----------------------------------------------------------------------------------------------
// the explainer: one forward pass of a network trained for it (saliency explainer train)

int mth_explainer(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen)
{
    if (!o->explain) {
        snprintf(err, errlen, "-method explainer needs -explainer <explainer cfg> and -explainer_weights <weights> (saliency explainer train)");
        return -1;
    }
    int c, h, w;
    eng_input_shape(e, &c, &h, &w);
    if (o->explain(o->explain_ctx, e, x, cls, map, err, errlen)) return -1;
    for (int k = 1; k < c; k++) memcpy(map + (size_t)k * h * w, map, sizeof(float) * (size_t)h * w);
    if (info) { snprintf(info->line, sizeof info->line, "the mask of class %d, one explainer forward", cls); info->evaluations = 0; }
    return 0;
}
