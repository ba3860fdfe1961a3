/* saliency_eval.c: `darknet saliency eval`, heatmap-to-image agreement and top-1 accuracy of a
   classifier on a held-out list (saliency-methods.md, "heatmap-to-image agreement"): the table that
   tells whether regularized training made explanations look more like the image, and what it cost.
   -input_noise s takes each heatmap (and the prediction) at x + e, e ~ N(0, (s range x)^2), and
   -heatmap_noise s compares g + e, e ~ N(0, (s range g)^2), with the clean image: how robust the
   agreement numbers are (regularizers.md, "Noise utilities"; draws from -seed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "darknet.h"
#include "option_list.h"
#include "saliency_util.h"
#include "engine.h"
#include "evaluate.h"
#include "metrics.h"
#include "rng.h"

/* the one label of labels[] that is a substring of path, as darknet's fill_truth decides it */
static int label_of(char *path, char **labels, int k)
{
    int i, found = -1;
    for(i = 0; i < k; ++i){
        if(strstr(path, labels[i])){
            if(found >= 0) sal_die("image '%s' matches two labels, '%s' and '%s'", path, labels[found], labels[i]);
            found = i;
        }
    }
    if(found < 0) sal_die("image '%s' matches none of the labels", path);
    return found;
}

/* a += N(0, (s (max a_b - min a_b))^2) per value, for each of the nb rows of m values */
static void add_noise(float *a, int nb, int m, double s, uint64_t *rng)
{
    int b, i;
    for(b = 0; b < nb; ++b){
        float *v = a + (size_t)b*m, lo = v[0], hi = v[0];
        for(i = 1; i < m; ++i){ if(v[i] < lo) lo = v[i]; if(v[i] > hi) hi = v[i]; }
        double sc = s*(hi - lo);
        for(i = 0; i < m; ++i) v[i] += (float)(sc*rng_normal(rng));
    }
}

void saliency_eval(int argc, char **argv)
{
    static const char *flags[] = {"-n", "-batch", "-formulation", "-seed", "-input_noise", "-heatmap_noise", 0};
    if(argc < 6){ saliency_usage_of("eval"); exit(1); }
    char *datacfg = argv[3], *cfg = argv[4], *weights = argv[5];
    sal_check_flags(argc, argv, 6, flags);
    int nmax = sal_flag_int(argc, argv, "-n", 500, 1, 100000000);
    int batch = sal_flag_int(argc, argv, "-batch", 32, 1, 65536);
    eng_form form = sal_flag_form(argc, argv, "onehot");
    uint64_t rng = sal_flag_u64(argc, argv, "-seed", 1);
    double in_noise = sal_flag_real(argc, argv, "-input_noise", 0, 0, 0, 10, 0);
    double hm_noise = sal_flag_real(argc, argv, "-heatmap_noise", 0, 0, 0, 10, 0);

    int nlab = 0, npaths = 0;
    char **labels = sal_class_labels(datacfg, &nlab);
    char **paths = sal_data_images(datacfg, &npaths);
    int n = npaths < nmax ? npaths : nmax;
    if(n == 0) sal_die("data cfg '%s': its image list (valid= or test=) is empty", datacfg);

    network *net = sal_load_network(cfg, weights, 0);
    /* darknet's buffers are made for the cfg's batch: smaller batches only */
    if(batch > net->batch) batch = net->batch;
    if(batch > n) batch = n;
    set_batch_network(net, batch);
    char err[512];
    eng *e = eng_init_for(net, 1, err, sizeof(err));
    if(!e) sal_die("cfg '%s': %s", cfg, err);
    int K = eng_classes(e), top = eng_top(e);
    if(nlab < K) sal_die("data cfg '%s' has %d labels, cfg '%s' has %d classes", datacfg, nlab, cfg, K);
    if(net->h < MET_SSIM_WIN || net->w < MET_SSIM_WIN)
        sal_die("cfg '%s': the agreement metrics need an input of at least %dx%d", cfg, MET_SSIM_WIN, MET_SSIM_WIN);

    int m = net->inputs;
    float *x = calloc((size_t)m*batch, sizeof(float));
    float *xn = calloc((size_t)m*batch, sizeof(float));
    float *g = calloc((size_t)m*batch, sizeof(float));
    float *truth = calloc((size_t)K*batch, sizeof(float));
    int *y = calloc(batch, sizeof(int));
    eval_mean mean = {{0, 0, 0, 0}, 0};
    int correct = 0, done = 0;
    sal_progress prog;
    sal_progress_init(&prog, "eval", "images", n);
    net->train = 0;
    while(done < n){
        int b, nb = n - done < batch ? n - done : batch;
        memset(truth, 0, sizeof(float)*K*batch);
        for(b = 0; b < batch; ++b){
            /* a short last batch repeats its last image; only nb are counted */
            char *path = paths[done + (b < nb ? b : nb - 1)];
            image im = sal_load_image(path, net->w, net->h, net->c);
            memcpy(x + (size_t)b*m, im.data, sizeof(float)*m);
            free_image(im);
            y[b] = label_of(path, labels, K);
            truth[b*K + y[b]] = 1;
        }
        /* the noise: per image, scaled to its range (of x, then of g) */
        memcpy(xn, x, sizeof(float)*m*batch);
        if(in_noise > 0) add_noise(xn, batch, m, in_noise, &rng);
        if(eng_heatmap(e, xn, truth, form, 0, &rng, g)) sal_die("cfg '%s': the engine cannot take the heatmap of this network", cfg);
        if(hm_noise > 0) add_noise(g, batch, m, hm_noise, &rng);
        float *p = net->layers[top].output;
        for(b = 0; b < nb; ++b){
            if(max_index(p + b*K, K) == y[b]) ++correct;
            eval_agreement a;
            eval_agreement_of(g + (size_t)b*m, x + (size_t)b*m, net->c, net->h, net->w, &a);
            eval_mean_add(&mean, &a);
        }
        done += nb;
        sal_progress_update(&prog, done);
    }
    sal_progress_done(&prog);
    eval_agreement r = eval_mean_get(&mean);
    printf("weights: %s\n", weights);
    char noise[128] = "";
    if(in_noise > 0) snprintf(noise, sizeof(noise), ", heatmaps and top-1 at x + noise %g", in_noise);
    if(hm_noise > 0) snprintf(noise + strlen(noise), sizeof(noise) - strlen(noise), ", heatmap noise %g", hm_noise);
    printf("images %d  top-1 %.4f  ssim %.4f  1/psnr %.4f  sobel %.4f  pearson %.4f  (%s heatmaps vs images, N_mm%s)\n",
           n, (double)correct/n, r.ssim, r.inv_psnr, r.sobel, r.pearson, eng_form_name(form), noise);
    free(x); free(xn); free(g); free(truth); free(y);
    sal_free_strings(paths, npaths);
    sal_free_strings(labels, nlab);
    eng_free(e);
    dk_free(net);
}
