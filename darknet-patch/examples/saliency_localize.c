/* saliency_localize.c: `darknet saliency localize`: how well each method's map finds the object,
   on scenes with ground-truth masks (`prepare fashion-scenes`): for every garment class present in
   a test scene, the method's map of that class against the class's mask (src/localize.h): IoU and
   F1 at half the map's maximum, the continuous IoU, the pixel ROC-AUC, the energy pointing game and
   Dabkowski & Gal's saliency metric (the classifier's probability of the image kept inside the
   thresholded map). The explainer (-method explainer, given -explainer CFG and -explainer_weights W,
   as in map and insdel) runs the same protocol. Also the classifier's multi-label accuracy on those scenes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "darknet.h"
#include "saliency_util.h"
#include "engine.h"
#include "methods.h"
#include "localize.h"

#define LOC_MAXM 16

static void loc_usage(void)
{
    saliency_usage_of("localize");
}

void saliency_localize(int argc, char **argv)
{
    static const char *own[] = {"-method", "-n", "-csv", "-batch", "-threshold", 0};
    if(argc < 6){ loc_usage(); exit(1); }
    char *datacfg = argv[3], *cfg = argv[4], *weights = argv[5];
    sal_check_method_flags(argc, argv, 6, own);
    char *methods = sal_flag_str(argc, argv, "-method", "vanilla");
    int nmax = sal_flag_int(argc, argv, "-n", 500, 1, 100000000);
    char *csv = sal_flag_str(argc, argv, "-csv", 0);
    double frac = sal_flag_real(argc, argv, "-threshold", 0.5, 0, 1, 1, 0);
    int batch = sal_flag_int(argc, argv, "-batch", sal_default_batch(cfg), 1, 4096);
    mth_opts o;
    sal_method_options(argc, argv, &o);
    sal_need_file(weights, "weights");

    /* the methods, by name */
    char list[1024], err[1024], *save = 0, *tok;
    const mth_def *defs[LOC_MAXM];
    const char *mnames[LOC_MAXM];
    int M = 0, m;
    snprintf(list, sizeof(list), "%s", methods);
    for(tok = strtok_r(list, ",", &save); tok; tok = strtok_r(0, ",", &save)){
        if(M == LOC_MAXM) sal_die("-method: at most %d methods", LOC_MAXM);
        if(!(defs[M] = mth_lookup(tok, err, sizeof(err)))) sal_die("-method %s: allowed: %s", tok, mth_names());
        if(defs[M]->fn == mth_explainer && !o.explain)
            sal_die("-method explainer needs -explainer <explainer cfg> and -explainer_weights <weights> (saliency explainer train)");
        mnames[M++] = strdup(tok);
    }

    network *net = sal_load_network_batch(cfg, weights, 0, batch);
    eng *e = eng_init(net, err, sizeof(err));
    if(!e) sal_die("cfg '%s': %s", cfg, err);
    int K = eng_classes(e), n = net->inputs, HW = net->w*net->h, C = net->c;
    int multilabel = net->layers[eng_top(e)].type == LOGXENT;
    int nimg = 0, nl = 0;
    char **paths = sal_data_images(datacfg, &nimg);
    char **labels = sal_class_labels(datacfg, &nl);
    if(nl != K) sal_die("data cfg '%s' has %d labels, cfg '%s' %d classes", datacfg, nl, cfg, K);
    if(nimg < nmax) nmax = nimg;

    FILE *out = 0;
    char tmp[4200], csvtmp[4200];
    if(csv){
        snprintf(csvtmp, sizeof(csvtmp), "%s.tmp", csv);
        out = fopen(csvtmp, "w");
        if(!out) sal_die("cannot write '%s'", csvtmp);
        fprintf(out, "image,class,method,iou,f1,ciou,auc,pointing,area,p_kept,saliency\n");
    }
    double sum[LOC_MAXM][7] = {{0}};
    long cnt = 0;
    long lab_right = 0, lab_total = 0, exact = 0, tp = 0, fp = 0, fn = 0;
    float *map = calloc(n, sizeof(float)), *heat = calloc(HW, sizeof(float)), *p = calloc(K, sizeof(float));
    float *kept = calloc(n, sizeof(float)), *pk = calloc(K, sizeof(float));
    unsigned char *gt = calloc(HW, 1), *bin = calloc(HW, 1), *mask = calloc(HW, 1);
    sal_progress prog;
    sal_progress_init(&prog, "localize", "images", nmax);
    int i, k, j;
    for(i = 0; i < nmax; ++i){
        image im = sal_load_image(paths[i], net->w, net->h, C);
        size_t len = strlen(paths[i]);
        if(len < 5 || strcmp(paths[i] + len - 4, ".png")) sal_die("image '%s': the scenes of `prepare fashion-scenes` are .png files", paths[i]);
        snprintf(tmp, sizeof(tmp), "%.*s_mask.png", (int)len - 4, paths[i]);
        image mk = sal_load_image(tmp, 0, 0, 1);
        if(mk.w != net->w || mk.h != net->h) sal_die("mask '%s' is %dx%d, the network takes %dx%d", tmp, mk.w, mk.h, net->w, net->h);
        int present[256] = {0};
        for(j = 0; j < HW; ++j){
            int v = (int)floorf(mk.data[j]*255.f + .5f);
            if(v > K) sal_die("mask '%s' pixel %d is %d: classes are 1..%d (0 background)", tmp, j, v, K);
            mask[j] = (unsigned char)v;
            if(v) present[v - 1] = 1;
        }
        free_image(mk);
        eng_predict(e, im.data, 1, NULL, p);
        /* the classifier's answer: p > 0.5 per class (multi-label), the argmax otherwise */
        int all_right = 1, pred = max_index(p, K);
        for(k = 0; k < K; ++k){
            int say = multilabel ? p[k] > 0.5f : k == pred;
            lab_right += say == present[k];
            all_right &= say == present[k];
            tp += say && present[k];
            fp += say && !present[k];
            fn += !say && present[k];
        }
        lab_total += K;
        exact += all_right;
        for(k = 0; k < K; ++k){
            if(!present[k]) continue;
            for(j = 0; j < HW; ++j) gt[j] = mask[j] == k + 1;
            for(m = 0; m < M; ++m){
                mth_info info = {"", 0};
                if(defs[m]->fn(e, im.data, k, &o, map, &info, err, sizeof(err))) sal_die("-method %s, image '%s': %s", mnames[m], paths[i], err);
                mth_heat_of(defs[m], map, C, net->h, net->w, heat);
                loc_scores s;
                if(loc_score(heat, gt, HW, frac, &s, bin)) continue;
                int c2, q;
                for(c2 = 0; c2 < C; ++c2) for(q = 0; q < HW; ++q) kept[c2*HW + q] = bin[q] ? im.data[c2*HW + q] : 0;
                eng_predict(e, kept, 1, NULL, pk);
                double sm = loc_saliency_metric(s.area, pk[k]);
                double v[7] = {s.iou, s.f1, s.ciou, s.auc, s.pointing, sm, s.area};
                for(q = 0; q < 7; ++q) sum[m][q] += v[q];
                if(out) fprintf(out, "%s,%d,%s,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f\n", paths[i], k, mnames[m],
                                s.iou, s.f1, s.ciou, s.auc, s.pointing, s.area, pk[k], sm);
            }
            ++cnt;
        }
        free_image(im);
        sal_progress_update(&prog, i + 1);
    }
    sal_progress_done(&prog);
    if(out){
        if(fclose(out) != 0) sal_die("writing '%s' failed", csvtmp);
        if(rename(csvtmp, csv) != 0) sal_die("cannot rename '%s' to '%s'", csvtmp, csv);
    }
    printf("classifier on %d scenes: labels right %.4f, scenes all right %.4f, precision %.4f, recall %.4f (%s)\n",
           nmax, lab_total ? (double)lab_right/lab_total : 0, nmax ? (double)exact/nmax : 0,
           tp + fp ? (double)tp/(tp + fp) : 0, tp + fn ? (double)tp/(tp + fn) : 0,
           multilabel ? "p > 0.5 per class" : "the argmax");
    printf("%ld objects (scene, class) in %d scenes, map thresholded at %g of its maximum\n", cnt, nmax, frac);
    printf("%-12s %7s %7s %7s %7s %9s %9s %7s\n", "method", "iou", "f1", "ciou", "auc", "pointing", "saliency", "area");
    for(m = 0; m < M; ++m){
        double c = cnt > 0 ? cnt : 1;
        printf("%-12s %7.4f %7.4f %7.4f %7.4f %9.4f %9.4f %7.4f\n", mnames[m], sum[m][0]/c, sum[m][1]/c, sum[m][2]/c,
               sum[m][3]/c, sum[m][4]/c, sum[m][5]/c, sum[m][6]/c);
    }
    if(csv) printf("wrote: %s\n", csv);
    free(map); free(heat); free(p); free(kept); free(pk); free(gt); free(bin); free(mask);
    for(m = 0; m < M; ++m) free((char *)mnames[m]);
    sal_free_strings(paths, nimg);
    sal_free_strings(labels, nl);
    eng_free(e);
    dk_free(net);
}
