/* saliency_map.c: `darknet saliency map`: explain one image's prediction with a saliency method
   (src/methods.h), written as pictures (heat map, overlay; with -method all one captioned grid of
   every method) and, with -raw, as float32 numbers (C x H x W, little-endian, no header). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "darknet.h"
#include "saliency_util.h"
#include "engine.h"
#include "methods.h"
#include "colormap.h"

/* an iterative method's line per iteration (mth_info.log) */
static void print_line(void *ctx, const char *line)
{
    printf("  %s: %s\n", (const char *)ctx, line);
    fflush(stdout);
}

void saliency_map(int argc, char **argv)
{
    /* the verb's own flags; the methods' options (sal_method_flags) come with them */
    static const char *own[] = {"-method", "-class", "-out", "-raw", "-batch", 0};
    if(argc < 7){ saliency_usage_of("map"); exit(1); }
    char *datacfg = argv[3], *cfg = argv[4], *weights = argv[5], *path = argv[6];
    sal_check_method_flags(argc, argv, 7, own);
    char *method = sal_flag_str(argc, argv, "-method", "vanilla");
    char *prefix = sal_flag_str(argc, argv, "-out", "saliency");
    char *raw = sal_flag_str(argc, argv, "-raw", 0);
    int cls = sal_flag_int(argc, argv, "-class", -1, 0, 1 << 30);
    mth_opts o;
    sal_method_options(argc, argv, &o);
    int all = !strcmp(method, "all");
    char err[1024];
    const mth_def *one = all ? NULL : mth_lookup(method, err, sizeof(err));
    if(!all && !one) sal_die("-method %s: allowed: %s, all", method, mth_names());
    if(all && raw) sal_die("-raw goes with one method, not -method all");
    int batch = sal_flag_int(argc, argv, "-batch", sal_default_batch(cfg), 1, 4096);

    int nnames = 0;
    char **names = sal_class_names(datacfg, &nnames);
    sal_need_file(path, "image");
    network *net = sal_load_network_batch(cfg, weights, 0, batch);
    if(net->w <= 0 || net->h <= 0) sal_die("cfg '%s': [net] width=%d height=%d: an image classifier needs both > 0", cfg, net->w, net->h);
    if(net->c != 1 && net->c != 3) sal_die("cfg '%s': [net] channels=%d does not fit an image (1 or 3 channels)", cfg, net->c);
    if(net->inputs != net->w*net->h*net->c) sal_die("cfg '%s': [net] inputs=%d does not fit width*height*channels=%d", cfg, net->inputs, net->w*net->h*net->c);
    eng *e = eng_init(net, err, sizeof(err));
    if(!e) sal_die("cfg '%s': %s", cfg, err);
    int K = eng_classes(e), n = net->inputs, hw = net->w*net->h;
    if(nnames != K) sal_die("data cfg '%s' names %d classes, cfg '%s' has %d outputs", datacfg, nnames, cfg, K);

    image im = sal_load_image(path, net->w, net->h, net->c);
    float *p = calloc(K, sizeof(float));
    eng_predict(e, im.data, 1, NULL, p);
    int pred = max_index(p, K);
    if(cls < 0) cls = pred;
    if(cls >= K) sal_die("-class %d: the network has classes 0..%d", cls, K - 1);
    printf("predicted: %d %s %.6f\n", pred, names[pred], p[pred]);

    int first = all ? 0 : (int)(one - mth_at(0)), last = all ? mth_count() - 1 : first;
    image *pics = calloc(mth_count() + 1, sizeof(image));
    const char **caps = calloc(mth_count() + 1, sizeof(char *));
    pics[0] = copy_image(im);
    caps[0] = "input";
    float *map = calloc(n, sizeof(float)), *heat = calloc(hw, sizeof(float));
    char buf[4096];
    int i, npics = 1;
    for(i = first; i <= last; ++i){
        const mth_def *m = mth_at(i);
        mth_info info = {"", 0};
        info.log = print_line;
        info.log_ctx = (void *)m->name;
        double t0 = what_time_is_it_now();
        if(m->fn(e, im.data, cls, &o, map, &info, err, sizeof(err))) sal_die("-method %s: %s", m->name, err);
        mth_heat_of(m, map, net->c, net->h, net->w, heat);
        printf("explained: %d %s (%s, %s): %s; %ld images through the network, %.3f s\n", cls, names[cls], m->name,
               eng_form_name(o.form), info.line, info.evaluations, what_time_is_it_now() - t0);
        if(all){
            pics[npics] = sal_heat_image(heat, net->h, net->w);
            caps[npics++] = m->name;
            continue;
        }
        image h1 = make_image(net->w, net->h, 1);
        memcpy(h1.data, heat, hw*sizeof(float));
        image over = make_image(net->w, net->h, 3);
        cmap_overlay(heat, im.data, net->c, net->h, net->w, 0.5f, over.data);
        snprintf(buf, sizeof(buf), "%s_heat", prefix);
        sal_save_png(h1, buf);
        snprintf(buf, sizeof(buf), "%s_overlay", prefix);
        sal_save_png(over, buf);
        if(raw) sal_write_file(raw, map, sizeof(float)*n);
        printf("wrote: %s_heat.png %s_overlay.png%s%s\n", prefix, prefix, raw ? " " : "", raw ? raw : "");
        free_image(h1);
        free_image(over);
    }
    if(all){
        image grid = sal_montage(pics, caps, npics, net->h < 112 ? 112 : net->h);
        snprintf(buf, sizeof(buf), "%s_all", prefix);
        sal_save_png(grid, buf);
        printf("wrote: %s_all.png (the input and %d methods)\n", prefix, npics - 1);
        free_image(grid);
    }
    for(i = 0; i < npics; ++i) free_image(pics[i]);
    free(pics); free(caps); free(map); free(heat); free(p);
    free_image(im);
    sal_free_strings(names, nnames);
    eng_free(e);
    dk_free(net);
}
