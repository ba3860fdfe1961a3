/* saliency_map.c: `darknet saliency map`: explain one image's prediction with a gradient heatmap
   (vanilla or gradient x input), written as pictures and, with -raw, as float32 numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "darknet.h"
#include "saliency_util.h"
#include "engine.h"
#include "colormap.h"

void saliency_map(int argc, char **argv)
{
    static const char *flags[] = {"-method", "-formulation", "-class", "-out", "-raw", "-seed", 0};
    if(argc < 7){ saliency_usage_of("map"); exit(1); }
    char *datacfg = argv[3], *cfg = argv[4], *weights = argv[5], *path = argv[6];
    sal_check_flags(argc, argv, 7, flags);
    char *method = sal_flag_str(argc, argv, "-method", "vanilla");
    char *prefix = sal_flag_str(argc, argv, "-out", "saliency");
    char *raw = sal_flag_str(argc, argv, "-raw", 0);
    int cls = sal_flag_int(argc, argv, "-class", -1, 0, 1 << 30);
    uint64_t rng = sal_flag_u64(argc, argv, "-seed", 1);
    eng_form form = sal_flag_form(argc, argv, "onehot");
    if(strcmp(method, "vanilla") && strcmp(method, "gradxinput")) sal_die("-method %s: allowed: vanilla, gradxinput", method);

    int nnames = 0;
    char **names = sal_class_names(datacfg, &nnames);
    sal_need_file(path, "image");
    network *net = sal_load_network(cfg, weights, 0);
    set_batch_network(net, 1);
    if(net->w <= 0 || net->h <= 0) sal_die("cfg '%s': [net] width=%d height=%d: an image classifier needs both > 0", cfg, net->w, net->h);
    if(net->c != 1 && net->c != 3) sal_die("cfg '%s': [net] channels=%d does not fit an image (1 or 3 channels)", cfg, net->c);
    if(net->inputs != net->w*net->h*net->c) sal_die("cfg '%s': [net] inputs=%d does not fit width*height*channels=%d", cfg, net->inputs, net->w*net->h*net->c);

    char err[512];
    eng *e = eng_init(net, err, sizeof(err));
    if(!e) sal_die("cfg '%s': %s", cfg, err);
    int K = eng_classes(e);
    if(nnames != K) sal_die("data cfg '%s' names %d classes, cfg '%s' has %d outputs", datacfg, nnames, cfg, K);

    image im = sal_load_image(path, net->w, net->h, net->c);
    net->train = 0;
    float *p = network_predict(net, im.data);
    int pred = max_index(p, K);
    float ppred = p[pred];
    if(cls < 0) cls = pred;
    if(cls >= K) sal_die("-class %d: the network has classes 0..%d", cls, K - 1);

    float *truth = calloc(K, sizeof(float));
    truth[cls] = 1;
    int n = net->inputs;
    float *g = calloc(n, sizeof(float));
    if(eng_heatmap(e, im.data, truth, form, 0, &rng, g)) sal_die("cfg '%s': the engine cannot take the heatmap of this network", cfg);

    image heat = make_image(net->w, net->h, 1);
    if(!strcmp(method, "vanilla")) cmap_abs_max(g, net->c, net->h, net->w, heat.data);
    else cmap_gradxinput(g, im.data, net->c, net->h, net->w, heat.data);
    image over = make_image(net->w, net->h, 3);
    cmap_overlay(heat.data, im.data, net->c, net->h, net->w, 0.5f, over.data);

    char buf[4096];
    snprintf(buf, sizeof(buf), "%s_heat", prefix);
    sal_save_png(heat, buf);
    snprintf(buf, sizeof(buf), "%s_overlay", prefix);
    sal_save_png(over, buf);
    if(raw) sal_write_file(raw, g, sizeof(float)*n);

    printf("predicted: %d %s %.6f\n", pred, names[pred], ppred);
    printf("explained: %d %s (%s, %s)\n", cls, names[cls], method, eng_form_name(form));
    printf("wrote: %s_heat.png %s_overlay.png%s%s\n", prefix, prefix, raw ? " " : "", raw ? raw : "");

    free(truth); free(g);
    free_image(heat); free_image(over); free_image(im);
    sal_free_strings(names, nnames);
    eng_free(e);
    free_network(net);
}
