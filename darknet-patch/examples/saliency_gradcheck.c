/* saliency_gradcheck.c: `darknet saliency gradcheck`, the engine's gradients on your network
   against central differences (src/gradcheck.h): flags, loading, printing.
   SALIENCY_TEST_BREAK=1|2 in the environment breaks one engine rule on purpose (engine.h
   eng_test_break; for the test suite only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <math.h>

#include "darknet.h"
#include "saliency_util.h"
#include "engine.h"
#include "reg.h"
#include "gradcheck.h"
#include "numparse.h"

/* the core's progress callback, through the verbs' progress line */
static void show_progress(void *ctx, int done, int total)
{
    sal_progress *p = ctx;
    p->total = total;
    sal_progress_update(p, done);
}

static const char *kind_name(gc_kind k) { return k == GC_INPUT ? "input-grad" : "param-grad"; }

void saliency_gradcheck(int argc, char **argv)
{
    static const char *flags[] = {"-formulation", "-regularizer", "-method", "-samples", "-seed", "-image", "-step", 0};
    if(argc < 4 || argv[3][0] == '-'){ saliency_usage_of("gradcheck"); exit(1); }
    char *cfg = argv[3];
    char *weights = argc > 4 && argv[4][0] != '-' ? argv[4] : 0;
    sal_check_flags(argc, argv, weights ? 5 : 4, flags);
    char *regname = sal_flag_str(argc, argv, "-regularizer", 0);
    char *imagepath = sal_flag_str(argc, argv, "-image", 0);
    int samples = sal_flag_int(argc, argv, "-samples", 8, 1, 1000000);
    uint64_t seed = sal_flag_u64(argc, argv, "-seed", 1);
    double step = sal_flag_real(argc, argv, "-step", 1e-4, 0, 1, 1, 0);
    eng_form form = sal_flag_form(argc, argv, "onehot");
    eng_method method = sal_flag_method(argc, argv, "exact");
    if(imagepath) sal_need_file(imagepath, "image");
    const char *brk = getenv("SALIENCY_TEST_BREAK");
    long brkv = 0;
    char why[128];
    if(brk && brk[0] && num_parse_long(brk, 0, 2, &brkv, why, sizeof(why))) sal_die("SALIENCY_TEST_BREAK=%s: %s; allowed: 0, 1, 2", brk, why);
    eng_test_break = (int)brkv;

    network *net = sal_load_network(cfg, weights, 0);
    set_batch_network(net, 1);
    if(net->w <= 0 || net->h <= 0) sal_die("cfg '%s': [net] width=%d height=%d: an image classifier needs both > 0", cfg, net->w, net->h);
    if(net->c < 1) sal_die("cfg '%s': [net] channels=%d: must be >= 1", cfg, net->c);
    if(net->inputs != net->w*net->h*net->c) sal_die("cfg '%s': [net] inputs=%d does not fit width*height*channels=%d", cfg, net->inputs, net->w*net->h*net->c);
    if(!regname) regname = net->w >= 11 && net->h >= 11 ? "ssim" : "l2";
    char err[1024];
    const reg_def *reg = reg_lookup(regname, err, sizeof(err));
    if(!reg) sal_die("-regularizer %s: %s", regname, err);
    if(net->w < reg->min_size || net->h < reg->min_size)
        sal_die("-regularizer %s needs an input of at least %dx%d; cfg '%s' has %dx%d", regname, reg->min_size, reg->min_size, cfg, net->w, net->h);

    int n = net->inputs;
    float *x = calloc(n, sizeof(float));
    if(imagepath){
        if(net->c != 1 && net->c != 3) sal_die("cfg '%s': [net] channels=%d: -image needs a 1- or 3-channel input", cfg, net->c);
        image im = sal_load_image(imagepath, net->w, net->h, net->c);
        memcpy(x, im.data, n*sizeof(float));
        free_image(im);
    } else {
        gc_smooth_image(x, net->c, net->h, net->w, (uint64_t)seed);
    }
    if(!weights) gc_random_network(net, x, (uint64_t)seed);

    sal_progress prog;
    sal_progress_init(&prog, "gradcheck", "samples", 0);
    gc_cfg c = {0};
    c.form = form;
    c.reg = reg;
    c.lambda = 1;
    c.method = method;
    c.step = (float)step;
    c.samples = samples;
    c.cls = -1;
    c.seed = (uint64_t)seed;
    c.hold = 1;
    c.progress = show_progress;
    c.progress_ctx = &prog;
    gc_report rep;
    int rc = gc_run(net, x, &c, &rep, err, sizeof(err));
    sal_progress_done(&prog);
    if(rc) sal_die("gradcheck on cfg '%s': %s", cfg, err);

    printf("gradcheck %s: ", cfg);
    if(weights) printf("weights %s, ", weights);
    else printf("random weights (seed %llu), ", (unsigned long long)seed);
    if(imagepath) printf("image %s", imagepath);
    else printf("smooth random image (seed %llu)", (unsigned long long)seed);
    printf(" %dx%dx%d, class %d; S (%s) %.6g, lambda*R (%s, lambda 1) %.6g; method %s",
           net->w, net->h, net->c, rep.cls0, eng_form_name(form), rep.s0, reg->name, rep.r0, eng_method_name(rep.method));
    if(rep.method != ENG_EXACT) printf(" (step %g)", step);
    printf("; inference mode; %d samples a layer\n", samples);
    if(!rep.exact){
        printf("no exact rule: %s\n", rep.why);
        printf("checking darknet's own backward instead: the heatmap at the input (layer 0 input-grad) and double backprop by method %s\n",
               eng_method_name(rep.method));
    }
    if(rep.u_held)
        printf("regularizer %s has a kink at every pixel pair: its param-grad is checked on lambda * u . g, u = dR/dg held at the point\n", reg->name);
    printf("tolerance: |numeric - analytic| <= rtol * (|analytic| + floor * largest |analytic| of the buffer: input, weights, biases, scales); "
           "input-grad rtol %g floor %g, param-grad rtol %g floor %g\n",
           GC_RTOL_INPUT, GC_FLOOR_INPUT, rep.method == ENG_EXACT ? GC_RTOL_PARAM : GC_RTOL_FINITE,
           rep.method == ENG_EXACT ? GC_FLOOR_PARAM : GC_FLOOR_FINITE);
    int i;
    for(i = 0; i < rep.n; ++i){
        gc_result *r = &rep.r[i];
        printf("layer %3d %-14s %s worst-rel %.2e checked %d kinks %d\n", r->layer, r->type, kind_name(r->kind),
               r->worst_rel, r->checked, r->kinks);
    }
    /* what failed, with the values */
    for(i = 0; i < rep.n; ++i){
        gc_result *r = &rep.r[i];
        if(r->failed && r->checked)
            printf("failed: layer %d %s %s: %d of %d outside tolerance; worst %s[%d]: numeric %.6g analytic %.6g (rel %.2e > %g)\n",
                   r->layer, r->type, kind_name(r->kind), r->failed, r->checked, r->worst_what, r->worst_index,
                   r->worst_num, r->worst_ana, r->worst_rel, r->rtol);
        else if(r->failed)
            printf("failed: layer %d %s %s: every one of %d samples at a kink, nothing verified\n",
                   r->layer, r->type, kind_name(r->kind), r->kinks);
    }
    if(rep.failed == 0){
        printf("gradcheck: PASS (%d checks, %d kinks skipped)\n", rep.checks, rep.kinks);
    } else {
        gc_result *w = &rep.r[rep.worst], *h = &rep.r[rep.highest_failed];
        printf("gradcheck: FAIL (%d of %d checks outside tolerance; worst: layer %d %s %s worst-rel %.2e; highest failing: layer %d %s %s)\n",
               rep.failed, rep.checks, w->layer, w->type, kind_name(w->kind), w->worst_rel, h->layer, h->type, kind_name(h->kind));
    }
    int failed = rep.failed;
    gc_report_free(&rep);
    free(x);
    dk_free(net);
    exit(failed ? 1 : 0);
}
