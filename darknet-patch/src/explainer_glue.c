/* explainer_glue.c: the explainer's cfg and network for the verbs (explainer_glue.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <errno.h>
#include <unistd.h>
#include <math.h>

#include "darknet.h"
#include "saliency_util.h"
#include "explainer_glue.h"
#include "numparse.h"

static const struct { const char *key; size_t off; double lo, hi; } XPL_KEYS[] = {
    {"lambda_e", offsetof(xpl_opts, lambda_e), 0, 1e6},
    {"lambda_tv", offsetof(xpl_opts, lambda_tv), 0, 1e6},
    {"lambda_a", offsetof(xpl_opts, lambda_a), 0, 1e6},
    {"lambda_t", offsetof(xpl_opts, lambda_t), 0, 1e6},
    {"lambda_nc", offsetof(xpl_opts, lambda_nc), 0, 1e6},
    {"area_min", offsetof(xpl_opts, area_lo), 0, 1},
    {"area_max", offsetof(xpl_opts, area_hi), 0, 1},
};
#define XPL_NKEYS ((int)(sizeof XPL_KEYS / sizeof XPL_KEYS[0]))

/* Reads cfg: the [explainer] section's keys into o (the spec's defaults for the others), and a copy
   for darknet's parser with that section's lines commented out into x->parsed. */
void xpl_cfg_read(const char *cfg, xpl_cfg *x)
{
    xpl_defaults(&x->o);
    snprintf(x->cfg, sizeof(x->cfg), "%s", cfg);
    sal_need_file(cfg, "explainer cfg");
    FILE *in = fopen(cfg, "r");
    if(!in) sal_die("cannot open explainer cfg '%s': %s", cfg, strerror(errno));
    strcpy(x->tmpdir, "/tmp/saliency-explainer-XXXXXX");
    if(!mkdtemp(x->tmpdir)) sal_die("cannot create a temporary directory: %s", strerror(errno));
    const char *base = strrchr(cfg, '/');
    snprintf(x->parsed, sizeof(x->parsed), "%s/%s", x->tmpdir, base ? base + 1 : cfg);
    FILE *out = fopen(x->parsed, "w");
    if(!out) sal_die("cannot write '%s': %s", x->parsed, strerror(errno));
    char line[4096];
    int in_section = 0, lineno = 0, seen = 0, i;
    while(fgets(line, sizeof(line), in)){
        ++lineno;
        char *s = line;
        while(*s == ' ' || *s == '\t') ++s;
        if(*s == '['){
            in_section = !strncmp(s, "[explainer]", 11);
            if(in_section && seen++) sal_fail("%s:%d: a second [explainer] section", cfg, lineno);
        }
        if(!in_section){ fputs(line, out); continue; }
        fputc('#', out);
        fputs(line, out);
        if(*s == '[' || *s == '#' || *s == ';' || *s == '\n' || *s == '\r' || *s == 0) continue;
        char *eq = strchr(s, '=');
        char *end = s + strcspn(s, "\r\n");
        *end = 0;
        if(!eq) sal_fail("%s:%d: [explainer]: '%s' is not key=value", cfg, lineno, s);
        *eq = 0;
        char *key = s, *val = eq + 1, *k = eq;
        while(k > key && (k[-1] == ' ' || k[-1] == '\t')) *--k = 0;
        while(*val == ' ' || *val == '\t') ++val;
        for(i = 0; i < XPL_NKEYS; ++i) if(!strcmp(key, XPL_KEYS[i].key)) break;
        if(i == XPL_NKEYS)
            sal_fail("%s:%d: [explainer]: unknown key '%s' (known: lambda_e lambda_tv lambda_a lambda_t lambda_nc area_min area_max)", cfg, lineno, key);
        double v;
        char why[256];
        if(num_parse_real(val, XPL_KEYS[i].lo, 0, XPL_KEYS[i].hi, 0, &v, why, sizeof(why)))
            sal_fail("%s:%d: [explainer] %s=%s: %s (allowed: %g to %g)", cfg, lineno, key, val, why, XPL_KEYS[i].lo, XPL_KEYS[i].hi);
        *(double *)((char *)&x->o + XPL_KEYS[i].off) = v;
    }
    fclose(in);
    if(fclose(out) != 0) sal_die("cannot write '%s'", x->parsed);
    if(!(x->o.area_lo < x->o.area_hi))
        sal_fail("%s: [explainer] area_min=%g must be below area_max=%g", cfg, x->o.area_lo, x->o.area_hi);
}

void xpl_cfg_done(xpl_cfg *x)
{
    remove(x->parsed);
    rmdir(x->tmpdir);
}

/* The explainer (cfg x, weights may be NULL) for the classifier F (cfg ccfg): same input, K maps at
   input resolution at the top; dies naming both cfgs otherwise. batch 0: the explainer cfg's. */
network *xpl_load(xpl_cfg *x, char *weights, network *F, const char *ccfg, int K, int batch)
{
    network *E = sal_load_network_batch(x->parsed, weights, 0, batch);
    if(E->w != F->w || E->h != F->h || E->c != F->c)
        sal_die("explainer cfg '%s' takes %dx%dx%d images, classifier cfg '%s' %dx%dx%d", x->cfg, E->w, E->h, E->c, ccfg, F->w, F->h, F->c);
    layer *top = &E->layers[E->n - 1];
    if(top->out_c != K || top->out_w != E->w || top->out_h != E->h)
        sal_die("explainer cfg '%s' ends in %d maps of %dx%d, the classifier cfg '%s' needs %d (one per class) of %dx%d: "
                "set filters=%d in its last [convolutional] (`saliency explainer init` writes a matching cfg)",
                x->cfg, top->out_c, top->out_w, top->out_h, ccfg, K, E->w, E->h, K);
    return E;
}

/* the explainer's mask logits (K, H, W) of x, in inference mode, batch 1 */
const float *xpl_forward(network *E, const float *x)
{
    int train = E->train;
    E->train = 0;
    memcpy(E->input, x, sizeof(float)*E->inputs);
    dk_forward(E);
    E->train = train;
    return E->layers[E->n - 1].output;
}


/* ---- -method explainer ---------------------------------------------------------------------- */

typedef struct { xpl_cfg x; network *E; int checked; } xpl_method_ctx;

static int xpl_method_explain(void *ctx, eng *e, const float *x, int cls, float *mask, char *err, int errlen)
{
    xpl_method_ctx *m = ctx;
    int c, h, w, K = eng_classes(e), i;
    eng_input_shape(e, &c, &h, &w);
    if(!m->checked){
        layer *top = &m->E->layers[m->E->n - 1];
        m->checked = 1;
        if(m->E->w != w || m->E->h != h || m->E->c != c || top->out_c != K || top->out_w != w || top->out_h != h){
            snprintf(err, errlen, "explainer cfg '%s' takes %dx%dx%d images to %d maps of %dx%d; the classifier takes %dx%dx%d images of %d classes",
                     m->x.cfg, m->E->w, m->E->h, m->E->c, top->out_c, top->out_w, top->out_h, w, h, c, K);
            return -1;
        }
    }
    const float *S = xpl_forward(m->E, x);
    for(i = 0; i < h*w; ++i) mask[i] = 1.f/(1.f + expf(-S[(size_t)cls*h*w + i]));
    return 0;
}

/* the explainers of this process, freed at exit (a verb's options live until it returns) */
static xpl_method_ctx *xpl_methods[8];
static int xpl_nmethods;

static void xpl_methods_free(void)
{
    int i;
    for(i = 0; i < xpl_nmethods; ++i){ dk_free(xpl_methods[i]->E); free(xpl_methods[i]); }
    xpl_nmethods = 0;
}

void xpl_method_options(mth_opts *o, char *cfg, char *weights)
{
    if(xpl_nmethods == 8) sal_die("-explainer: at most 8 explainers in one process");
    xpl_method_ctx *m = calloc(1, sizeof(xpl_method_ctx));
    if(!m) sal_die("out of memory");
    xpl_cfg_read(cfg, &m->x);
    sal_need_file(weights, "explainer weights (-explainer_weights)");
    m->E = sal_load_network_batch(m->x.parsed, weights, 0, 1);
    xpl_cfg_done(&m->x);
    if(!xpl_nmethods) atexit(xpl_methods_free);
    xpl_methods[xpl_nmethods++] = m;
    o->explain = xpl_method_explain;
    o->explain_ctx = m;
}
