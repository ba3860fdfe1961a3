/* explainer_glue.h: the explainer's cfg and network for the verbs (darknet layer glue): the
   [explainer] section's keys (the loss weights of src/explainer.h) read and validated, the copy of
   the cfg darknet parses, the explainer checked against its classifier, its inference forward. */
#ifndef SALIENCY_EXPLAINER_GLUE_H
#define SALIENCY_EXPLAINER_GLUE_H

#include "darknet.h"
#include "explainer.h"
#include "methods.h"

typedef struct {
    char cfg[4096];         /* the user's cfg */
    char tmpdir[64];        /* where the copy darknet parses is */
    char parsed[4200];      /* that copy: the [explainer] section commented out, line numbers kept */
    xpl_opts o;             /* its keys, the spec's defaults for the others */
} xpl_cfg;

/* reads cfg (dies naming the file, line, key and value on a bad key) and writes the copy */
void xpl_cfg_read(const char *cfg, xpl_cfg *x);
/* removes the copy */
void xpl_cfg_done(xpl_cfg *x);
/* the explainer (weights may be NULL) for the classifier F (cfg ccfg, K classes): the same input and
   K maps at input resolution at its top, or it dies naming both cfgs. batch 0: the cfg's. */
network *xpl_load(xpl_cfg *x, char *weights, network *F, const char *ccfg, int K, int batch);
/* the mask logits (K, H, W) of one image x in inference mode (E's batch 1), owned by E */
const float *xpl_forward(network *E, const float *x);

/* -method explainer (src/methods.h): sets o->explain to the masks of the explainer cfg/weights,
   loaded (and checked against the classifier's input and classes) at its first call */
void xpl_method_options(mth_opts *o, char *cfg, char *weights);

#endif
