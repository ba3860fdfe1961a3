/* saliency_eval.c: `darknet saliency eval`, heatmap-to-image agreement and top-1 accuracy of a
   classifier on a held-out list (saliency-methods.md, "heatmap-to-image agreement"): the table that
   tells whether regularized training made explanations look more like the image, and what it cost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "darknet.h"
#include "option_list.h"
#include "saliency_util.h"
#include "engine.h"
#include "evaluate.h"

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

void saliency_eval(int argc, char **argv)
{
    if(argc < 6){
        fprintf(stderr, "usage: darknet saliency eval <data cfg> <cfg> <weights> [-n N] [-batch B] [-formulation onehot|loss|spectreg]\n");
        exit(1);
    }
    char *datacfg = argv[3], *cfg = argv[4], *weights = argv[5];
    int i;
    for(i = 6; i < argc; i += 2){
        if(strcmp(argv[i], "-n") && strcmp(argv[i], "-batch") && strcmp(argv[i], "-formulation") && strcmp(argv[i], "-seed"))
            sal_die("unknown option '%s'", argv[i]);
        if(i + 1 >= argc) sal_die("%s needs a value", argv[i]);
    }
    int nmax = find_int_arg(argc, argv, "-n", 500);
    int batch = find_int_arg(argc, argv, "-batch", 32);
    char *formname = find_char_arg(argc, argv, "-formulation", "onehot");
    uint64_t rng = (uint64_t)find_int_arg(argc, argv, "-seed", 1);
    eng_form form;
    if(eng_form_parse(formname, &form)) sal_die("-formulation %s: allowed: %s", formname, eng_form_names());
    if(nmax < 1 || batch < 1) sal_die("-n and -batch must be >= 1");

    sal_need_file(datacfg, "data cfg");
    list *options = read_data_cfg(datacfg);
    char *listfile = option_find(options, "valid");
    if(!listfile) listfile = option_find(options, "test");
    if(!listfile) sal_die("data cfg '%s' has no valid= (or test=) list", datacfg);
    char *labelfile = option_find(options, "labels");
    if(!labelfile) sal_die("data cfg '%s' has no labels= file", datacfg);
    sal_need_file(listfile, "image list (valid= of the data cfg)");
    sal_need_file(labelfile, "labels file (labels= of the data cfg)");
    list *llist = get_paths(labelfile);
    int nlab = llist->size;
    char **labels = (char **)list_to_array(llist);
    list *plist = get_paths(listfile);
    char **paths = (char **)list_to_array(plist);
    int n = plist->size < nmax ? plist->size : nmax;
    if(n == 0) sal_die("image list '%s' is empty", listfile);

    network *net = sal_load_network(cfg, weights, 0);
    /* darknet's buffers are made for the cfg's batch: smaller batches only */
    if(batch > net->batch) batch = net->batch;
    if(batch > n) batch = n;
    set_batch_network(net, batch);
    char err[512];
    eng *e = eng_init_for(net, 1, err, sizeof(err));
    if(!e) sal_die("cfg '%s': %s", cfg, err);
    int K = eng_classes(e), top = eng_top(e);
    if(nlab < K) sal_die("labels file '%s' has %d labels, cfg '%s' has %d classes", labelfile, nlab, cfg, K);
    if(net->h < 11 || net->w < 11) sal_die("cfg '%s': the agreement metrics need an input of at least 11x11", cfg);

    int m = net->inputs;
    float *x = calloc((size_t)m*batch, sizeof(float));
    float *g = calloc((size_t)m*batch, sizeof(float));
    float *truth = calloc((size_t)K*batch, sizeof(float));
    int *y = calloc(batch, sizeof(int));
    eval_mean mean = {{0, 0, 0, 0}, 0};
    int correct = 0, done = 0;
    double t0 = what_time_is_it_now();
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
        eng_heatmap(e, x, truth, form, 0, &rng, g);
        float *p = net->layers[top].output;
        for(b = 0; b < nb; ++b){
            if(max_index(p + b*K, K) == y[b]) ++correct;
            eval_agreement a;
            eval_agreement_of(g + (size_t)b*m, x + (size_t)b*m, net->c, net->h, net->w, &a);
            eval_mean_add(&mean, &a);
        }
        done += nb;
        double el = what_time_is_it_now() - t0;
        fprintf(stderr, "\r%d/%d images, %.1f images/s, %.0f s left   ", done, n, done/el, (n - done)/(done/el));
    }
    fprintf(stderr, "\n");
    eval_agreement r = eval_mean_get(&mean);
    printf("weights: %s\n", weights);
    printf("images %d  top-1 %.4f  ssim %.4f  1/psnr %.4f  sobel %.4f  pearson %.4f  (%s heatmaps vs images, N_mm)\n",
           n, (double)correct/n, r.ssim, r.inv_psnr, r.sobel, r.pearson, eng_form_name(form));
    free(x); free(g); free(truth); free(y);
    sal_free_strings(paths, plist->size);
    sal_free_strings(labels, nlab);
    free_list(plist);
    free_list(llist);
    sal_free_data_cfg(options);
    eng_free(e);
    free_network(net);
}
