// methods.h: the saliency methods (../shared/spec/saliency-methods.md), by name. Each explains
// class cls of one image x (C, H, W) with a map (C, H, W) and evaluates its many images through the
// engine's batches (engine.h: eng_predict, eng_logit_grad), never one network call per image.
// Core code: no printing, no darknet CLI types; errors come back as text.
//
// One file a method (src/<method>.c), one entry each in the table of methods.c. A method whose map
// is H x W writes it into every channel, so every map (and every -raw file) has the input's shape.
#ifndef SALIENCY_METHODS_H
#define SALIENCY_METHODS_H

#include <stddef.h>
#include <stdint.h>
#include "engine.h"

// Every method's options, with the defaults of mth_defaults(); each method reads its own.
typedef struct {
    eng_form form;          // vanilla, gradxinput: the score whose gradient is the map (onehot)
    uint64_t seed;          // noise, masks, baselines, spectreg's projection
    int steps;              // integrated: K points of the path (32); fool: the step budget (100)
    const char *baseline;   // integrated: black | blur | mean | noise
    const char *rule;       // integrated: right | left | middle | trapezoid | gausslegendre
    int samples;            // smoothgrad: N (25)
    double sigma;           // smoothgrad: noise sd as a fraction of max - min of x (0.15)
    const char *variant;    // smoothgrad: mean | squared | vargrad
    const char *of;         // smoothgrad: the method it wraps: vanilla | gradxinput | integrated
    int mask_size;          // igos: the mask's side (0: the input side / 8)
    int iterations;         // igos: 15
    int points;             // igos: K points of the integrated gradient (20)
    double lambda1, lambda2;// igos: weights of the L1 and TV terms (1, 20)
    double noise;           // igos: sd of the pixel noise at each point (0.2, the input's units)
    double alpha;           // igos: the line search's first step (0: the default, 200)
    int layer;              // gradcam: the layer (-1: the last convolutional before the global pool)
    int masks;              // rise: N (4000)
    int cells;              // rise: s (7)
    double p1;              // rise: the probability a cell is kept (0.5)
    int window, stride;     // occlusion: the patch and its stride (0: from the input's size, occlusion.c)
    const char *fill;       // occlusion: black | blur | mean
    double lr;              // fool: the step size of the normalised ascent
    int target;             // fool: the class to reach
    // explainer: the mask (H*W) of class cls of a trained explainer, set up by the verb from
    // -explainer CFG -explainer_weights W (darknet-patch/src/explainer_glue.h); NULL: none given
    int (*explain)(void *ctx, eng *e, const float *x, int cls, float *mask, char *err, int errlen);
    void *explain_ctx;
} mth_opts;

void mth_defaults(mth_opts *o);

// What a method reports, for the verb to print: a line of its own numbers (e.g. "32 steps,
// completeness gap 1.2e-04"), the class explained and the network evaluations it made.
// An iterative method (igos) also hands each iteration's line (objective, step) to log, when set.
typedef struct {
    char line[512];
    long evaluations;       // images through the network
    void (*log)(void *ctx, const char *line);   // optional
    void *log_ctx;
} mth_info;

// map (C, H, W) of class cls for x (C, H, W). 0, or -1 with err.
typedef int (*mth_fn)(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info,
                      char *err, int errlen);

// How a map becomes a heat picture (colormap.h): the largest |value| over channels, the |sum| over
// channels, (maps that are already one non-negative plane in every channel) the plane itself, or
// the plane from its minimum to its maximum (RISE: its map sits on an offset, about the mean score
// of the masked images, that says nothing about where; RISE's notebooks show it so, imshow's range).
typedef enum { MTH_HEAT_ABS_MAX, MTH_HEAT_ABS_SUM, MTH_HEAT_PLANE, MTH_HEAT_RANGE } mth_heat;

typedef struct {
    const char *name;
    mth_fn fn;
    mth_heat heat;
    const char *what;       // one line for the usage
} mth_def;

// the method called name, or NULL (then err lists the names)
const mth_def *mth_lookup(const char *name, char *err, size_t errlen);
// the methods of -method all (every entry but the explainer, which needs a trained network)
int mth_count(void);
const mth_def *mth_at(int i);
// "vanilla, gradxinput, ...": the names, from the one table
const char *mth_names(void);

// out (H*W) in [0, 1]: the heat picture of map (C, H, W) for the method's kind
void mth_heat_of(const mth_def *m, const float *map, int c, int h, int w, float *out);

// ---- the methods ---------------------------------------------------------------------------------
int mth_vanilla(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen);
int mth_gradxinput(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen);
int mth_integrated(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen);
int mth_smoothgrad(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen);
int mth_gradcam(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen);
int mth_rise(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen);
int mth_occlusion(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen);
int mth_igos(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen);
int mth_explainer(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen);
int mth_igospp(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen);

#endif
