/* saliency_detector.c: `darknet saliency detector map`: the saliency methods for a YOLO detector's
   boxes. darknet's detector forward as `detector test` runs it (the image letterboxed into the
   network, objectness and class thresholds, NMS), one line per box, and for each box explained
   (-box K, or every box) a heat map and an overlay with the box drawn. The score explained is the
   box's (src/detect.h), the top of a scored engine, so the methods of src/methods.h run unchanged:
   the gradient methods on the box's own head, anchor and cell; the ones that perturb the image
   (rise / drise, occlusion, igos, igos++) on D-RISE's best match on each perturbed image. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "saliency_util.h"
#include "engine.h"
#include "methods.h"
#include "detect.h"
#include "colormap.h"

static void print_line(void *ctx, const char *line)
{
    printf("  %s: %s\n", (const char *)ctx, line);
    fflush(stdout);
}

/* the box (normalised to the network input) drawn on a picture of the input, with its caption */
static void draw_target(image im, det_box b, const char *caption)
{
    int left = (int)((b.x - b.w/2)*im.w), right = (int)((b.x + b.w/2)*im.w);
    int top = (int)((b.y - b.h/2)*im.h), bot = (int)((b.y + b.h/2)*im.h);
    if(left < 0) left = 0;
    if(top < 0) top = 0;
    if(right > im.w - 1) right = im.w - 1;
    if(bot > im.h - 1) bot = im.h - 1;
    int width = im.h > 200 ? im.h/150 : 1;
    draw_box_width(im, left, top, right, bot, width, 1, 1, 1);
    image **letters = sal_letters();
    if(!letters || im.h < 48) return;
    image label = get_label(letters, (char *)caption, im.h > 300 ? 2 : 1);
    float white[3] = {1, 1, 1};
    draw_label(im, top + width, left, label, white);
    free_image(label);
}

static void detector_map(int argc, char **argv)
{
    static const char *own[] = {"-method", "-out", "-raw", "-batch", "-thresh", "-nms", "-box", "-score", 0};
    if(argc < 8){ saliency_usage_of("detector"); exit(1); }
    char *datacfg = argv[4], *cfg = argv[5], *weights = argv[6], *path = argv[7];
    const char **flags = sal_flags_with_methods(own);
    sal_check_flags(argc, argv, 8, flags);
    free(flags);
    char *method = sal_flag_str(argc, argv, "-method", "vanilla");
    char *prefix = sal_flag_str(argc, argv, "-out", "saliency");
    char *raw = sal_flag_str(argc, argv, "-raw", 0);
    float thresh = sal_flag_real(argc, argv, "-thresh", 0.5, 0, 0, 1, 1);
    float nms = sal_flag_real(argc, argv, "-nms", 0.45, 0, 0, 1, 0);
    int box = sal_flag_int(argc, argv, "-box", -1, 0, 1 << 20);
    char *kind_name = sal_flag_str(argc, argv, "-score", "score");
    det_target target;
    memset(&target, 0, sizeof target);
    if(det_kind_parse(kind_name, &target.kind)) sal_die("-score %s: allowed: %s", kind_name, det_kind_names());
    mth_opts o;
    sal_method_options(argc, argv, &o);
    int layer_given = o.layer >= 0;
    int drise = !strcmp(method, "drise");
    char err[1024];
    const mth_def *m = mth_lookup(drise ? "rise" : method, err, sizeof(err));
    if(!m) sal_die("-method %s: allowed: %s, drise", method, mth_names());
    if(drise){
        /* D-RISE's defaults (Petsiuk et al. 2021): 5000 masks of a 16 x 16 grid, p 0.5, unless given */
        if(!sal_flag_str(argc, argv, "-masks", 0)) o.masks = 5000;
        if(!sal_flag_str(argc, argv, "-cells", 0)) o.cells = 16;
    }
    int batch = sal_flag_int(argc, argv, "-batch", sal_default_batch(cfg), 1, 4096);

    int nnames = 0;
    char **names = sal_class_names(datacfg, &nnames);
    sal_need_file(path, "image");
    network *net = sal_load_network_batch(cfg, weights, 0, batch);
    sal_check_detector(net, cfg, datacfg, nnames);
    eng *e = eng_init_scored(net, det_score, &target, err, sizeof(err));
    if(!e) sal_die("cfg '%s': %s", cfg, err);
    if(raw && box < 0) sal_die("-raw FILE writes the map of one box: give -box K");

    image im = sal_load_image(path, 0, 0, 3);
    image sized = letterbox_image(im, net->w, net->h);
    int n = net->inputs, hw = net->w*net->h;

    int nd, i;
    det_detection *dets = sal_detect(net, sized.data, thresh, nms, &nd);
    for(i = 0; i < nd; ++i){
        det_box r = det_unletterbox(dets[i].box, im.w, im.h, net->w, net->h);
        printf("box %d %s %.6f %.6f %.6f %.6f %.6f\n", i, names[dets[i].cls], dets[i].prob, r.x, r.y, r.w, r.h);
    }
    if(!nd) printf("no box above -thresh %g\n", thresh);
    if(box >= 0 && !nd) sal_die("-box %d: the image has no box above -thresh %g", box, thresh);
    if(box >= nd) sal_die("-box %d: the image has %d box%s above -thresh %g (0..%d)", box, nd, nd == 1 ? "" : "es", thresh, nd - 1);
    fflush(stdout);

    float *map = calloc(n, sizeof(float)), *heat = calloc(hw, sizeof(float));
    char buf[4096], cap[256];
    for(i = box >= 0 ? box : 0; i < (box >= 0 ? box + 1 : nd); ++i){
        target.d = dets[i];
        target.match = det_method_matches(m->name);
        if(!layer_given) o.layer = dets[i].layer - 1;   /* Grad-CAM: the layer feeding the box's head */
        mth_info info = {"", 0};
        info.log = print_line;
        info.log_ctx = (void *)method;
        double t0 = what_time_is_it_now();
        if(m->fn(e, sized.data, 0, &o, map, &info, err, sizeof(err))) sal_die("-method %s, box %d: %s", method, i, err);
        mth_heat_of(m, map, net->c, net->h, net->w, heat);
        printf("explained: box %d %s %.6f (%s, %s%s): %s; %ld images through the network, %.3f s\n", i, names[dets[i].cls],
               dets[i].prob, method, kind_name, target.match ? ", best match" : "", info.line,
               info.evaluations, what_time_is_it_now() - t0);
        image h1 = make_image(net->w, net->h, 1);
        memcpy(h1.data, heat, hw*sizeof(float));
        image over = make_image(net->w, net->h, 3);
        cmap_overlay(heat, sized.data, net->c, net->h, net->w, 0.5f, over.data);
        snprintf(cap, sizeof(cap), "%s %.2f", names[dets[i].cls], dets[i].prob);
        draw_target(over, dets[i].box, cap);
        snprintf(buf, sizeof(buf), "%s_box%d_heat", prefix, i);
        sal_save_png(h1, buf);
        snprintf(buf, sizeof(buf), "%s_box%d_overlay", prefix, i);
        sal_save_png(over, buf);
        if(raw) sal_write_file(raw, map, sizeof(float)*n);
        printf("wrote: %s_box%d_heat.png %s_box%d_overlay.png%s%s\n", prefix, i, prefix, i, raw ? " " : "", raw ? raw : "");
        fflush(stdout);
        free_image(h1);
        free_image(over);
    }
    free(map); free(heat); free(dets);
    free_image(im); free_image(sized);
    eng_free(e);
    free_network(net);
    sal_free_strings(names, nnames);
}

void saliency_insdel_detector(int argc, char **argv);

void saliency_detector(int argc, char **argv)
{
    if(argc < 4){ saliency_usage_of("detector"); exit(1); }
    if(!strcmp(argv[3], "map")) detector_map(argc, argv);
    else if(!strcmp(argv[3], "insdel")) saliency_insdel_detector(argc, argv);
    else {
        fprintf(stderr, "darknet saliency detector: unknown verb '%s'\n", argv[3]);
        saliency_usage_of("detector");
        exit(1);
    }
}
