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
#include "localize.h"
#include "rng.h"

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
    sal_check_method_flags(argc, argv, 8, own);
    char *method = sal_flag_str(argc, argv, "-method", "vanilla");
    char *prefix = sal_flag_str(argc, argv, "-out", "saliency");
    char *raw = sal_flag_str(argc, argv, "-raw", 0);
    float thresh = sal_flag_real(argc, argv, "-thresh", 0.5, 0, 0, 1, 1);
    float nms = sal_flag_real(argc, argv, "-nms", 0.45, 0, 0, 1, 0);
    int box = sal_flag_int(argc, argv, "-box", -1, 0, 1 << 20);
    det_target target;
    memset(&target, 0, sizeof target);
    target.kind = sal_flag_score(argc, argv);
    mth_opts o;
    sal_detector_method_options(argc, argv, &o);
    int layer_given = o.layer >= 0;
    int all = !strcmp(method, "all");
    char err[1024];
    const mth_def *m = all ? NULL : mth_lookup(!strcmp(method, "drise") ? "rise" : method, err, sizeof(err));
    if(!all && !m) sal_die("-method %s: allowed: %s, drise, all", method, mth_names());
    if(all && raw) sal_die("-raw goes with one method, not -method all");
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
    int first = all ? 0 : (int)(m - mth_at(0)), last = all ? mth_count() - 1 : first, j;
    int size = net->h < 160 ? 160 : net->h;   /* the montages: small inputs enlarged to be seen */
    image *pics = calloc(mth_count() + 1 > nd + 1 ? mth_count() + 1 : nd + 1, sizeof(image));
    const char **caps = calloc(mth_count() + 1 > nd + 1 ? mth_count() + 1 : nd + 1, sizeof(char *));
    char (*capbuf)[64] = calloc(nd + 1, sizeof(*capbuf));
    /* every box on the input: PREFIX_boxes.png */
    if(nd){
        image big = resize_image(sized, size*net->w/net->h, size);
        for(i = 0; i < nd; ++i){
            snprintf(capbuf[i], sizeof(capbuf[i]), "%d %s %.2f", i, names[dets[i].cls], dets[i].prob);
            draw_target(big, dets[i].box, capbuf[i]);
        }
        snprintf(buf, sizeof(buf), "%s_boxes", prefix);
        sal_save_png(big, buf);
        printf("wrote: %s_boxes.png\n", prefix);
        free_image(big);
    }
    for(i = box >= 0 ? box : 0; i < (box >= 0 ? box + 1 : nd); ++i){
        target.d = dets[i];
        if(!layer_given) o.layer = det_cam_layer(net, dets[i].layer);
        int npics = 0;
        snprintf(cap, sizeof(cap), "%s %.2f", names[dets[i].cls], dets[i].prob);
        if(all){
            pics[npics] = resize_image(sized, size*net->w/net->h, size);
            draw_target(pics[npics], dets[i].box, cap);
            caps[npics++] = "input";
        }
        for(j = first; j <= last; ++j){
            const mth_def *mj = mth_at(j);
            const char *shown = !strcmp(mj->name, "rise") ? "drise" : mj->name;
            target.match = det_method_matches(mj->name);
            mth_info info = {"", 0};
            info.log = print_line;
            info.log_ctx = (void *)shown;
            double t0 = what_time_is_it_now();
            if(mj->fn(e, sized.data, 0, &o, map, &info, err, sizeof(err))) sal_die("-method %s, box %d: %s", shown, i, err);
            mth_heat_of(mj, map, net->c, net->h, net->w, heat);
            printf("explained: box %d %s %.6f (%s, %s%s): %s; %ld images through the network, %.3f s\n", i, names[dets[i].cls],
                   dets[i].prob, shown, det_kind_name(target.kind), target.match ? ", best match" : "", info.line,
                   info.evaluations, what_time_is_it_now() - t0);
            image over = make_image(net->w, net->h, 3);
            cmap_overlay(heat, sized.data, net->c, net->h, net->w, 0.5f, over.data);
            if(all){
                pics[npics] = resize_image(over, size*net->w/net->h, size);
                draw_target(pics[npics], dets[i].box, "");
                caps[npics++] = shown;
                free_image(over);
                continue;
            }
            draw_target(over, dets[i].box, cap);
            image h1 = make_image(net->w, net->h, 1);
            memcpy(h1.data, heat, hw*sizeof(float));
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
        if(all){
            image grid = sal_montage(pics, caps, npics, size);
            snprintf(buf, sizeof(buf), "%s_box%d_all", prefix, i);
            sal_save_png(grid, buf);
            printf("wrote: %s_box%d_all.png (the input and %d methods)\n", prefix, i, npics - 1);
            fflush(stdout);
            free_image(grid);
            for(j = 0; j < npics; ++j) free_image(pics[j]);
        }
    }
    free(pics); free(caps); free(capbuf);
    free(map); free(heat); free(dets);
    free_image(im); free_image(sized);
    eng_free(e);
    dk_free(net);
    sal_free_strings(names, nnames);
}


/* darknet's label file of an image (fill_truth_detection's find_replace chain) read as truths of
   image `index`, boxes normalised to the image; dies naming the file when it is missing */
static det_truth *read_truths(char *path, int index, int *n)
{
    char lp[4096];
    find_replace(path, "images", "labels", lp);
    find_replace(lp, "JPEGImages", "labels", lp);
    find_replace(lp, "raw", "labels", lp);
    find_replace(lp, ".jpg", ".txt", lp);
    find_replace(lp, ".png", ".txt", lp);
    find_replace(lp, ".JPG", ".txt", lp);
    find_replace(lp, ".JPEG", ".txt", lp);
    sal_need_file(lp, "label file (darknet's class x y w h per box)");
    int count = 0, i;
    box_label *b = read_boxes(lp, &count);
    det_truth *t = calloc(count + 1, sizeof(det_truth));
    for(i = 0; i < count; ++i){
        t[i].image = index;
        t[i].cls = b[i].id;
        t[i].box = (det_box){b[i].x, b[i].y, b[i].w, b[i].h};
    }
    free(b);
    *n = count;
    return t;
}

/* the data cfg's held-out list (*total paths, for sal_free_strings), the first n of it */
static char **held_out(char *datacfg, int *n, int *total_out)
{
    int total = 0;
    char **paths = sal_data_images(datacfg, &total);
    *total_out = total;
    if(*n > total) *n = total;
    if(!*n) sal_die("data cfg '%s': its valid= (or test=) list names no image", datacfg);
    return paths;
}

/* saliency detector eval: recall and mAP@IoU of the detector on the held-out list */
static void detector_eval(int argc, char **argv)
{
    static const char *own[] = {"-n", "-thresh", "-nms", "-iou", "-recall_thresh", 0};
    if(argc < 7){ saliency_usage_of("detector"); exit(1); }
    char *datacfg = argv[4], *cfg = argv[5], *weights = argv[6];
    sal_check_flags(argc, argv, 7, (const char **)own);
    int n = sal_flag_int(argc, argv, "-n", 1 << 30, 1, 1 << 30);
    float thresh = sal_flag_real(argc, argv, "-thresh", 0.005, 0, 0, 1, 1);
    float nms = sal_flag_real(argc, argv, "-nms", 0.45, 0, 0, 1, 0);
    float iou = sal_flag_real(argc, argv, "-iou", 0.5, 0, 1, 1, 0);
    float rthresh = sal_flag_real(argc, argv, "-recall_thresh", 0.5, 0, 0, 1, 1);
    int nnames = 0, total = 0, i, k;
    char **names = sal_class_names(datacfg, &nnames);
    char **paths = held_out(datacfg, &n, &total);
    network *net = sal_load_network_batch(cfg, weights, 0, 1);
    sal_check_detector(net, cfg, datacfg, nnames);
    int nd = 0, cap = 256, nt = 0, tcap = 256;
    det_scored *d = malloc(cap*sizeof(det_scored));
    det_truth *t = malloc(tcap*sizeof(det_truth));
    sal_progress prog;
    sal_progress_init(&prog, "detector eval", "images", n);
    double t0 = what_time_is_it_now();
    for(i = 0; i < n; ++i){
        image im = sal_load_image(paths[i], 0, 0, 3), sized = letterbox_image(im, net->w, net->h);
        int m, mt;
        det_detection *dets = sal_detect(net, sized.data, thresh, nms, &m);
        det_truth *ti = read_truths(paths[i], i, &mt);
        if(nd + m > cap){ cap = 2*(nd + m); d = realloc(d, cap*sizeof(det_scored)); }
        if(nt + mt > tcap){ tcap = 2*(nt + mt); t = realloc(t, tcap*sizeof(det_truth)); }
        for(k = 0; k < m; ++k) d[nd++] = (det_scored){i, dets[k].cls, dets[k].prob, det_unletterbox(dets[k].box, im.w, im.h, net->w, net->h)};
        for(k = 0; k < mt; ++k){
            if(ti[k].cls < 0 || ti[k].cls >= nnames) sal_die("labels of '%s': box %d has class %d; the data cfg names %d", paths[i], k, ti[k].cls, nnames);
            t[nt++] = ti[k];
        }
        free(dets); free(ti);
        free_image(im); free_image(sized);
        sal_progress_update(&prog, i + 1);
    }
    sal_progress_done(&prog);
    double *ap = calloc(nnames, sizeof(double));
    det_quality q = det_evaluate(d, nd, t, nt, nnames, iou, rthresh, ap);
    for(k = 0; k < nnames; ++k){
        if(ap[k] < 0) printf("class %d %s: no truth\n", k, names[k]);
        else printf("class %d %s: AP %.4f\n", k, names[k], ap[k]);
    }
    printf("detector eval: %d images, %d truths, %d detections above %g: mAP@%.2f %.4f, recall %.4f (IoU >= %.2f, prob >= %.2f), %.1f s\n",
           n, nt, nd, thresh, iou, q.map, q.recall, iou, rthresh, what_time_is_it_now() - t0);
    free(ap); free(d); free(t);
    sal_free_strings(paths, total);
    dk_free(net);
    sal_free_strings(names, nnames);
}

/* the ground-truth mask beside a scene (`prepare fashion-scenes`: <name>_mask.png, pixel = class + 1) */
static image read_mask(const char *path, int w, int h)
{
    char mp[4200];
    snprintf(mp, sizeof(mp), "%s", path);
    char *dot = strrchr(mp, '.');
    if(!dot) sal_die("image '%s': no extension to find its _mask.png by", path);
    snprintf(dot, sizeof(mp) - (dot - mp), "_mask.png");
    image m = sal_load_image(mp, 0, 0, 1);
    if(m.w != w || m.h != h) sal_die("mask '%s' is %dx%d; its image is %dx%d", mp, m.w, m.h, w, h);
    return m;
}

/* saliency detector point: for every ground-truth object the detector finds (a box of its class at
   IoU >= -iou), each method's map of that box against the object's pixels (src/localize.h, the
   spec's localisation measures: IoU and F1 of the map thresholded at -threshold of its maximum,
   the continuous IoU, the pixel ROC-AUC, the energy pointing game), beside a random and a centred
   map; `saliency localize` is the classifier's counterpart */
static void detector_point(int argc, char **argv)
{
    static const char *own[] = {"-method", "-n", "-thresh", "-nms", "-iou", "-batch", "-score", "-threshold", 0};
    if(argc < 7){ saliency_usage_of("detector"); exit(1); }
    char *datacfg = argv[4], *cfg = argv[5], *weights = argv[6];
    sal_check_method_flags(argc, argv, 7, own);
    char *methods = sal_flag_str(argc, argv, "-method", "vanilla,gradcam");
    int n = sal_flag_int(argc, argv, "-n", 200, 1, 1 << 30);
    float thresh = sal_flag_real(argc, argv, "-thresh", 0.5, 0, 0, 1, 1);
    float nms = sal_flag_real(argc, argv, "-nms", 0.45, 0, 0, 1, 0);
    float iou = sal_flag_real(argc, argv, "-iou", 0.5, 0, 1, 1, 0);
    double frac = sal_flag_real(argc, argv, "-threshold", 0.5, 0, 1, 1, 0);
    det_target target;
    memset(&target, 0, sizeof target);
    target.kind = sal_flag_score(argc, argv);
    mth_opts o;
    sal_detector_method_options(argc, argv, &o);
    int layer_given = o.layer >= 0;
    /* the methods, then random and center */
    const mth_def *ms[64];
    int nm = 0, i, j, k;
    char err[1024], *list = strdup(methods), *save = 0, *tok;
    for(tok = strtok_r(list, ",", &save); tok && nm < 62; tok = strtok_r(0, ",", &save)){
        if(!(ms[nm++] = mth_lookup(!strcmp(tok, "drise") ? "rise" : tok, err, sizeof(err)))) sal_die("-method %s: %s, drise", methods, err);
    }
    if(!nm) sal_die("-method '%s': no method named; allowed: %s", methods, mth_names());
    int nmaps = nm + 2;
    int batch = sal_flag_int(argc, argv, "-batch", sal_default_batch(cfg), 1, 4096);
    int nnames = 0, total = 0;
    char **names = sal_class_names(datacfg, &nnames);
    char **paths = held_out(datacfg, &n, &total);
    network *net = sal_load_network_batch(cfg, weights, 0, batch);
    sal_check_detector(net, cfg, datacfg, nnames);
    eng *e = eng_init_scored(net, det_score, &target, err, sizeof(err));
    if(!e) sal_die("cfg '%s': %s", cfg, err);
    int hw = net->w*net->h, c = net->c;
    float *map = calloc(net->inputs, sizeof(float)), *heat = calloc(hw, sizeof(float)), *center = calloc(hw, sizeof(float));
    unsigned char *obj = calloc(hw, 1);
    loc_center_map(center, net->h, net->w);
    loc_scores *sum = calloc(nmaps, sizeof(loc_scores));
    int objects = 0, found = 0;
    uint64_t rng = o.seed*0x9E3779B97F4A7C15ull + 7;
    sal_progress prog;
    sal_progress_init(&prog, "detector point", "images", n);
    double t0 = what_time_is_it_now();
    for(i = 0; i < n; ++i){
        image im = sal_load_image(paths[i], 0, 0, 3);
        if(im.w != net->w || im.h != net->h)
            sal_die("image '%s' is %dx%d: detector point compares maps with masks pixel by pixel, so its images have the network's size %dx%d",
                    paths[i], im.w, im.h, net->w, net->h);
        image mask = read_mask(paths[i], im.w, im.h);
        int nd, nt;
        det_detection *dets = sal_detect(net, im.data, thresh, nms, &nd);
        det_truth *t = read_truths(paths[i], i, &nt);
        for(j = 0; j < nt; ++j){
            ++objects;
            int best = -1;
            float bi = iou;
            for(k = 0; k < nd; ++k){
                float v = dets[k].cls == t[j].cls ? det_iou(dets[k].box, t[j].box) : 0;
                if(v >= bi){ bi = v; best = k; }
            }
            if(best < 0) continue;
            ++found;
            /* the object: pixels of its class inside its box */
            int area = 0;
            for(k = 0; k < hw; ++k){
                float y = (k/im.w + 0.5f)/im.h, x = (k%im.w + 0.5f)/im.w;
                int inside = fabsf(x - t[j].box.x) <= t[j].box.w/2 && fabsf(y - t[j].box.y) <= t[j].box.h/2;
                obj[k] = inside && (int)lroundf(mask.data[k]*255) == t[j].cls + 1;
                area += obj[k];
            }
            if(!area) sal_die("mask of '%s': box %d (class %d) covers no pixel of value %d", paths[i], j, t[j].cls, t[j].cls + 1);
            target.d = dets[best];
            if(!layer_given) o.layer = det_cam_layer(net, dets[best].layer);
            for(k = 0; k < nmaps; ++k){
                if(k < nm){
                    mth_info info = {"", 0};
                    target.match = det_method_matches(ms[k]->name);
                    if(ms[k]->fn(e, im.data, 0, &o, map, &info, err, sizeof(err))) sal_die("-method %s on '%s': %s", ms[k]->name, paths[i], err);
                    mth_heat_of(ms[k], map, c, net->h, net->w, heat);
                } else if(k == nm){
                    int q;
                    for(q = 0; q < hw; ++q) heat[q] = (float)rng_uniform(&rng);
                } else memcpy(heat, center, hw*sizeof(float));
                loc_scores sc;
                if(loc_score(heat, obj, hw, frac, &sc, NULL)) sal_die("mask of '%s': box %d covers every pixel", paths[i], j);
                sum[k].iou += sc.iou; sum[k].f1 += sc.f1; sum[k].ciou += sc.ciou; sum[k].auc += sc.auc; sum[k].pointing += sc.pointing;
            }
        }
        free(dets); free(t);
        free_image(im); free_image(mask);
        sal_progress_update(&prog, i + 1);
    }
    sal_progress_done(&prog);
    printf("detector point: %d images, %d objects, %d found by the detector (a box of the class at IoU >= %.2f, prob >= %.2f), %.1f s\n",
           n, objects, found, iou, thresh, what_time_is_it_now() - t0);
    if(!found) sal_die("the detector found none of the %d objects: nothing to point at", objects);
    printf("the maps thresholded at %g of their maximum; means over the found objects\n", frac);
    for(k = 0; k < nmaps; ++k)
        printf("%s iou %.4f f1 %.4f ciou %.4f auc %.4f pointing %.4f\n",
               k < nm ? (!strcmp(ms[k]->name, "rise") ? "drise" : ms[k]->name) : k == nm ? "random" : "center",
               sum[k].iou/found, sum[k].f1/found, sum[k].ciou/found, sum[k].auc/found, sum[k].pointing/found);
    free(list); free(map); free(heat); free(center); free(obj); free(sum);
    sal_free_strings(paths, total);
    eng_free(e);
    dk_free(net);
    sal_free_strings(names, nnames);
}

void saliency_insdel_detector(int argc, char **argv);

void saliency_detector(int argc, char **argv)
{
    if(argc < 4){ saliency_usage_of("detector"); exit(1); }
    if(!strcmp(argv[3], "map")) detector_map(argc, argv);
    else if(!strcmp(argv[3], "insdel")) saliency_insdel_detector(argc, argv);
    else if(!strcmp(argv[3], "eval")) detector_eval(argc, argv);
    else if(!strcmp(argv[3], "point")) detector_point(argc, argv);
    else {
        fprintf(stderr, "darknet saliency detector: unknown verb '%s'\n", argv[3]);
        saliency_usage_of("detector");
        exit(1);
    }
}
