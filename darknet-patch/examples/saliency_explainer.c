/* saliency_explainer.c: `darknet saliency explainer init|train|map`: NN-Explainer (Stalder et al.
   2022), a second network trained to give class masks of a frozen classifier in one forward pass.
   init writes an explainer cfg matched to a classifier; train runs darknet's own forward, backward and
   update on the explainer with the loss of src/explainer.h (the classifier only through the engine's
   inference forward and input gradient: its weights and statistics never move); map writes the masks
   of an image. The loss weights are the keys of the cfg's [explainer] section, which darknet's parser
   never sees (it parses a copy with that section commented out, line numbers kept). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <unistd.h>
#include <sys/stat.h>

#include "darknet.h"
#include "option_list.h"
#include "saliency_util.h"
#include "engine.h"
#include "explainer.h"
#include "explainer_eng.h"
#include "explainer_glue.h"
#include "colormap.h"
#include "numparse.h"
#include "rng.h"

/* the frozen classifier, batch images at a time, and its engine */
/* the batches the explainer has seen (darknet's get_current_batch; AB's takes the network by value) */
static size_t xpl_batch(network *E)
{
#ifdef DK_FORK_AB
    return get_current_batch(*E);
#else
    return get_current_batch(E);
#endif
}

static network *xpl_classifier_load(char *ccfg, char *cweights, int batch, eng **e)
{
    char err[1024];
    network *F = sal_load_network_batch(ccfg, cweights, 0, batch);
    *e = eng_init(F, err, sizeof(err));
    if(!*e) sal_die("classifier cfg '%s': %s", ccfg, err);
    return F;
}

static int xpl_multilabel(eng *e, network *F)
{
    return F->layers[eng_top(e)].type == LOGXENT;
}

/* ---- init --------------------------------------------------------------------------------- */

static void explainer_init(int argc, char **argv)
{
    static const char *flags[] = {0};
    if(argc < 5){ saliency_usage_of("explainer"); exit(1); }
    char *ccfg = argv[3], *out = argv[4];
    sal_check_flags(argc, argv, 5, flags);
    eng *e;
    network *F = xpl_classifier_load(ccfg, NULL, 1, &e);
    int K = eng_classes(e), W = F->w, H = F->h, C = F->c;
    int levels = 0;
    while(levels < 3 && W % (2 << levels) == 0 && H % (2 << levels) == 0 && W >> (levels + 1) >= 4 && H >> (levels + 1) >= 4) ++levels;
    char buf[16384];
    int n = snprintf(buf, sizeof(buf),
        "# An explainer (NN-Explainer) for %s: %dx%dx%d images -> %d mask logit maps (one per class) at input\n"
        "# resolution. An encoder-decoder of darknet layers: %d levels of conv + maxpool down, upsample + route\n"
        "# (the encoder's map of the same size) + conv up, a 1x1 conv to the class maps. Written by\n"
        "# `darknet saliency explainer init`; train it with `darknet saliency explainer train`.\n"
        "[net]\nbatch=16\nsubdivisions=1\nwidth=%d\nheight=%d\nchannels=%d\n"
        "# the spec's optimiser: Adam, learning rate 1e-5 (a few thousand steps on 2 cores want more: 1e-3)\n"
        "adam=1\nB1=0.9\nB2=0.999\neps=0.00000001\nlearning_rate=0.00001\nmomentum=0.9\ndecay=0.0005\n"
        "policy=constant\nmax_batches=2000\n\n"
        "# the loss weights and the area band (the spec's defaults)\n"
        "[explainer]\nlambda_e=1\nlambda_tv=1\nlambda_a=1\nlambda_t=0.1\nlambda_nc=0.3\narea_min=0.05\narea_max=0.30\n\n",
        ccfg, W, H, C, K, levels, W, H, C);
    int filters[4] = {16, 32, 64, 64}, idx = 0, enc[4], l;
    /* encoder: conv (kept for the skip), maxpool */
    for(l = 0; l < levels; ++l){
        n += snprintf(buf + n, sizeof(buf) - n, "[convolutional]\nbatch_normalize=1\nfilters=%d\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
                      "[maxpool]\nsize=2\nstride=2\n\n", filters[l]);
        enc[l] = idx;
        idx += 2;
    }
    n += snprintf(buf + n, sizeof(buf) - n, "[convolutional]\nbatch_normalize=1\nfilters=%d\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n", filters[levels]);
    ++idx;
    /* decoder: upsample, route with the encoder's conv of that size, conv */
    for(l = levels - 1; l >= 0; --l){
        n += snprintf(buf + n, sizeof(buf) - n, "[upsample]\nstride=2\n\n[route]\nlayers=-1,%d\n\n"
                      "[convolutional]\nbatch_normalize=1\nfilters=%d\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n", enc[l], filters[l]);
        idx += 3;
    }
    n += snprintf(buf + n, sizeof(buf) - n, "# one mask logit map per class\n[convolutional]\nfilters=%d\nsize=1\nstride=1\nactivation=linear\n", K);
    sal_write_file(out, buf, n);
    printf("wrote: %s (explainer for %d classes at %dx%dx%d, %d levels)\n", out, K, W, H, C, levels);
    eng_free(e);
    dk_free(F);
}

/* ---- train -------------------------------------------------------------------------------- */

/* the truth of path: 1 for every label found in it (darknet's fill_truth, without its message) */
static void xpl_truth(const char *path, char **labels, int K, int multilabel, float *y)
{
    int k, count = 0;
    for(k = 0; k < K; ++k){ y[k] = strstr(path, labels[k]) != NULL; count += y[k] != 0; }
    if(count == 0) sal_die("image '%s' has none of the labels of the data cfg in its path", path);
    if(!multilabel && count > 1) sal_die("image '%s' has %d labels in its path, the classifier is single-label ([softmax])", path, count);
}

static void explainer_train(int argc, char **argv)
{
    static const char *flags[] = {"-max_batches", "-seed", "-save_every", "-clear", 0};
    if(argc < 7){ saliency_usage_of("explainer"); exit(1); }
    char *datacfg = argv[3], *ecfg = argv[4], *ccfg = argv[5], *cweights = argv[6];
    sal_check_flags(argc, argv, 7, flags);
    uint64_t seed = sal_flag_u64(argc, argv, "-seed", 1);
    int save_every = sal_flag_int(argc, argv, "-save_every", 100, 1, 100000000);
    int clear = sal_flag_int(argc, argv, "-clear", 0, 0, 1);
    sal_need_file(cweights, "classifier weights");

    xpl_cfg x;
    xpl_cfg_read(ecfg, &x);
    sal_need_file(datacfg, "data cfg");
    list *options = read_data_cfg(datacfg);
    char *train_list = option_find(options, "train");
    char *backup = option_find(options, "backup");
    if(!train_list) sal_die("data cfg '%s' has no train= key", datacfg);
    if(!backup) sal_die("data cfg '%s' has no backup= key (where the explainer's weights go)", datacfg);
    struct stat st;
    if(stat(backup, &st) != 0 || !S_ISDIR(st.st_mode)) sal_die("backup=%s of data cfg '%s' is not a directory", backup, datacfg);
    sal_need_file(train_list, "training list (train= of the data cfg)");
    list *plist = get_paths(train_list);
    char **paths = (char **)list_to_array(plist);
    int N = plist->size;
    if(N == 0) sal_die("training list '%s' is empty", train_list);
    int nl = 0;
    char **labels = sal_class_labels(datacfg, &nl);

    /* the explainer first (its batch), then the classifier at that batch */
    network *E0 = sal_load_network_batch(x.parsed, NULL, 0, 0);
    int B = E0->batch;
    dk_free(E0);
    eng *e;
    network *F = xpl_classifier_load(ccfg, cweights, B, &e);
    int K = eng_classes(e), multilabel = xpl_multilabel(e, F);
    if(nl != K) sal_die("data cfg '%s' has %d labels, classifier cfg '%s' %d classes", datacfg, nl, ccfg, K);
    x.o.multilabel = multilabel;

    char *base = basecfg(ecfg), ckpt[4096], final[4096];
    snprintf(ckpt, sizeof(ckpt), "%s/%s.backup", backup, base);
    snprintf(final, sizeof(final), "%s/%s.weights", backup, base);
    int resume = !clear && access(ckpt, R_OK) == 0;
    network *E = xpl_load(&x, resume ? ckpt : NULL, F, ccfg, K, B);
    int max_batches = sal_flag_int(argc, argv, "-max_batches", E->max_batches > 0 ? E->max_batches : 1000, 1, 100000000);
    if(resume) printf("resuming from %s at step %zu\n", ckpt, xpl_batch(E));
    printf("explainer %s for %s (%s, %d classes), %d images of %s, batch %d, %d steps, lambda_e %g lambda_tv %g lambda_a %g "
           "lambda_t %g lambda_nc %g, area %g-%g, %s learning rate %g\n",
           ecfg, ccfg, multilabel ? "multi-label, BCE" : "single-label, CE", K, N, train_list, B, max_batches,
           x.o.lambda_e, x.o.lambda_tv, x.o.lambda_a, x.o.lambda_t, x.o.lambda_nc, x.o.area_lo, x.o.area_hi,
           E->adam ? "Adam," : "SGD,", E->learning_rate);

    int n = E->inputs, HW = E->w*E->h, i, b;
    float *xb = calloc((size_t)B*n, sizeof(float)), *y = calloc((size_t)B*K, sizeof(float));
    float *dS = calloc((size_t)B*K*HW, sizeof(float));
    xpl *w = xpl_new(B, E->c, E->h, E->w, K);
    if(!xb || !y || !dS || !w) sal_die("out of memory for a batch of %d images", B);
    xpl_classifier f = xpl_engine_classifier(e);
    layer *top = &E->layers[E->n - 1];

    sal_progress prog;
    char what[512] = "explainer";
    long start = (long)xpl_batch(E);
    sal_progress_init(&prog, what, "steps", max_batches - start);
    double t0 = what_time_is_it_now(), avg = 0;
    fflush(stdout);
    xpl_terms t = {0};
    while((long)xpl_batch(E) < max_batches){
        long step = (long)xpl_batch(E);
        uint64_t rng = seed*0x9E3779B97F4A7C15ull + (uint64_t)step + 1;   /* the step's draw: resumed runs draw the same */
        for(b = 0; b < B; ++b){
            int j = (int)(rng_uniform(&rng)*N);
            image im = sal_load_image(paths[j], E->w, E->h, E->c);
            memcpy(xb + (size_t)b*n, im.data, sizeof(float)*n);
            free_image(im);
            xpl_truth(paths[j], labels, K, multilabel, y + (size_t)b*K);
        }
        *E->seen += B;
        E->train = 1;
        memcpy(E->input, xb, sizeof(float)*(size_t)B*n);
        dk_forward(E);
        double L = xpl_loss(w, &x.o, &f, xb, top->output, y, dS, &t);
        if(!num_finite(L)) sal_die("step %ld: the explainer's loss is %g (diverged; lower learning_rate in '%s'); last checkpoint: %s", step, L, ecfg, ckpt);
        /* darknet's delta is the negative gradient of the loss summed over the batch */
        for(i = 0; i < B*K*HW; ++i) top->delta[i] = -(float)B*dS[i];
        dk_backward(E);
#ifdef DK_FORK_AB
        update_network(*E);   /* AB's takes the network by value */
#else
        update_network(E);
#endif
        avg = step == start ? L : .9*avg + .1*L;
        snprintf(what, sizeof(what), "step %ld: loss %.4f (avg %.4f; cls %.4f ent %.4f tv %.4f area %.4f target %.3f nontarget %.3f)",
                 step + 1, L, avg, t.cls, t.ent, t.tv, t.area, t.target, t.nontarget);
        sal_progress_update(&prog, step + 1 - start);
        if((step + 1) % save_every == 0 && step + 1 < max_batches) dk_save_weights(E, ckpt);
    }
    sal_progress_done(&prog);
    double secs = what_time_is_it_now() - t0;
    printf("%s\n", what);
    printf("%ld steps in %.1f s (%.1f images/s)\n", (long)xpl_batch(E) - start, secs,
           secs > 0 ? (xpl_batch(E) - start)*B/secs : 0);
    dk_save_weights(E, ckpt);
    dk_save_weights(E, final);
    printf("wrote: %s %s\n", final, ckpt);
    xpl_free(w);
    free(xb); free(y); free(dS); free(base);
    free_ptrs((void **)paths, N);
    free_list(plist);
    sal_free_strings(labels, nl);
    sal_free_data_cfg(options);
    eng_free(e);
    dk_free(F);
    dk_free(E);
    xpl_cfg_done(&x);
}

/* ---- map ---------------------------------------------------------------------------------- */

static void explainer_map(int argc, char **argv)
{
    static const char *flags[] = {"-class", "-out", "-raw", 0};
    if(argc < 9){ saliency_usage_of("explainer"); exit(1); }
    char *datacfg = argv[3], *ecfg = argv[4], *eweights = argv[5], *ccfg = argv[6], *cweights = argv[7], *path = argv[8];
    sal_check_flags(argc, argv, 9, flags);
    int cls = sal_flag_int(argc, argv, "-class", -1, 0, 1000000);
    char *prefix = sal_flag_str(argc, argv, "-out", "explainer");
    char *raw = sal_flag_str(argc, argv, "-raw", 0);
    sal_need_file(eweights, "explainer weights");
    sal_need_file(cweights, "classifier weights");
    sal_need_file(path, "image");
    int nnames = 0, k;
    char **names = sal_class_names(datacfg, &nnames);
    xpl_cfg x;
    xpl_cfg_read(ecfg, &x);
    eng *e;
    network *F = xpl_classifier_load(ccfg, cweights, 1, &e);
    int K = eng_classes(e);
    if(nnames != K) sal_die("data cfg '%s' names %d classes, classifier cfg '%s' has %d", datacfg, nnames, ccfg, K);
    if(cls >= K) sal_die("-class %d: the classifier has classes 0..%d", cls, K - 1);
    network *E = xpl_load(&x, eweights, F, ccfg, K, 1);
    int HW = E->w*E->h;
    image im = sal_load_image(path, E->w, E->h, E->c);
    float *p = calloc(K, sizeof(float)), *masks = calloc((size_t)K*HW, sizeof(float));
    eng_predict(e, im.data, 1, NULL, p);
    double t0 = what_time_is_it_now();
    const float *S = xpl_forward(E, im.data);
    for(k = 0; k < K*HW; ++k) masks[k] = 1.f/(1.f + expf(-S[k]));
    printf("one explainer forward: %.4f s\n", what_time_is_it_now() - t0);
    char buf[4200];
    for(k = 0; k < K; ++k){
        double area = 0;
        int i;
        for(i = 0; i < HW; ++i) area += masks[(size_t)k*HW + i];
        printf("class %d %s: p %.6f, mask area %.4f\n", k, names[k], p[k], area/HW);
        if(cls >= 0 && k != cls) continue;
        image h1 = make_image(E->w, E->h, 1);
        memcpy(h1.data, masks + (size_t)k*HW, HW*sizeof(float));
        image over = make_image(E->w, E->h, 3);
        cmap_overlay(h1.data, im.data, E->c, E->h, E->w, 0.5f, over.data);
        snprintf(buf, sizeof(buf), "%s_%d_mask", prefix, k);
        sal_save_png(h1, buf);
        snprintf(buf, sizeof(buf), "%s_%d_overlay", prefix, k);
        sal_save_png(over, buf);
        free_image(h1);
        free_image(over);
    }
    if(raw) sal_write_file(raw, cls >= 0 ? masks + (size_t)cls*HW : masks, sizeof(float)*(cls >= 0 ? 1 : K)*HW);
    printf("wrote: %s_<class>_mask.png %s_<class>_overlay.png (%s)%s%s\n", prefix, prefix, cls >= 0 ? "one class" : "every class",
           raw ? " " : "", raw ? raw : "");
    free(p); free(masks);
    free_image(im);
    sal_free_strings(names, nnames);
    eng_free(e);
    dk_free(F);
    dk_free(E);
    xpl_cfg_done(&x);
}

void saliency_explainer(int argc, char **argv)
{
    if(argc < 4){ saliency_usage_of("explainer"); exit(1); }
    if(!strcmp(argv[3], "init")){ explainer_init(argc - 1, argv + 1); return; }
    if(!strcmp(argv[3], "train")){ explainer_train(argc - 1, argv + 1); return; }
    if(!strcmp(argv[3], "map")){ explainer_map(argc - 1, argv + 1); return; }
    sal_die("explainer: unknown step '%s' (known: init, train, map)", argv[3]);
}
