/* saliency_insdel.c: `darknet saliency insdel`: how faithful saliency maps are, by the insertion and
   deletion curves of the RISE protocol (../shared/spec/saliency-methods.md, "Evaluation: insertion
   and deletion"; src/insdel.h) on one image or a list, for the methods of the table (src/methods.h),
   a map from a file, and beside them, always, a random and a centred Gaussian map.
   Per image and map: the pixels ranked by decreasing heat (mth_heat_of), the curves' n + 1 images
   batched through eng_predict, their AUCs; then the means (src/insdel_table.h, which
   `saliency summarize` shares, so shards merge to the same numbers), a CSV and a plot.
   `darknet saliency detector insdel` is the same for a YOLO detector's boxes: the image letterboxed
   as `detector test` does, every box above -thresh (or -box K) explained and scored, at every step
   of the curves, by D-RISE's similarity of the best match to the box (src/detect.h); the CSV's
   image column is then "<path>#<box>" and its class the box's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>

#include "darknet.h"
#include "saliency_util.h"
#include "saliency_plot.h"
#include "engine.h"
#include "methods.h"
#include "blur.h"
#include "insdel.h"
#include "insdel_table.h"
#include "numparse.h"
#include "rng.h"
#include "detect.h"
#include "localize.h"

enum { MAP_METHOD, MAP_FILE, MAP_RANDOM, MAP_CENTER };
typedef struct { const char *name; int kind; const mth_def *m; } insdel_map;

/* the softmax probability of one class for each image of a curve (insdel_curve's callback): the
   curve's images go through the engine's batch, never one call per image */
typedef struct { eng *e; int cls, K; float *p; long evaluations; } scorer;

static int score_class(void *ctx, const float *images, int nb, double *scores)
{
    scorer *s = ctx;
    int b;
    eng_predict(s->e, images, nb, NULL, s->p);
    for(b = 0; b < nb; ++b) scores[b] = s->p[b*s->K + s->cls];
    s->evaluations += nb;
    return 0;
}

/* -shard k/n: 0 <= k < n */
static void read_shard(int argc, char **argv, int *k, int *n)
{
    char *v = sal_flag_str(argc, argv, "-shard", 0);
    *k = 0; *n = 1;
    if(!v) return;
    char a[64] = "", b[64] = "", why[128];
    const char *slash = strchr(v, '/');
    long kk, nn;
    if(slash && slash - v < 63 && strlen(slash + 1) < 63){
        memcpy(a, v, slash - v);
        strcpy(b, slash + 1);
    }
    if(!slash || num_parse_long(b, 1, 1 << 30, &nn, why, sizeof(why)) || num_parse_long(a, 0, nn - 1, &kk, why, sizeof(why)))
        sal_die("-shard %s: allowed: k/n, n shards numbered from 0 (0 <= k < n): -shard 0/4 ... -shard 3/4", v);
    *k = (int)kk; *n = (int)nn;
}

/* the maps: -method a,b,... (or all) or -map FILE, then random and center */
static insdel_map *read_maps(char *methods, char *mapfile, int *count)
{
    insdel_map *maps = calloc(mth_count() + 3, sizeof(insdel_map));
    int n = 0, i;
    char err[1024];
    if(mapfile) maps[n++] = (insdel_map){"map", MAP_FILE, 0};
    else if(!strcmp(methods, "all")){
        for(i = 0; i < mth_count(); ++i) maps[n++] = (insdel_map){mth_at(i)->name, MAP_METHOD, mth_at(i)};
    } else {
        char *list = strdup(methods), *save = 0, *tok;
        for(tok = strtok_r(list, ",", &save); tok; tok = strtok_r(0, ",", &save)){
            const mth_def *m = mth_lookup(tok, err, sizeof(err));
            if(!m) sal_die("-method %s: %s, all (a comma list: -method vanilla,gradxinput)", methods, err);
            for(i = 0; i < n; ++i) if(maps[i].m == m) sal_die("-method %s: %s is given twice", methods, tok);
            maps[n++] = (insdel_map){m->name, MAP_METHOD, m};
        }
        free(list);
        if(!n) sal_die("-method '%s': no method named; allowed: %s, all", methods, mth_names());
    }
    maps[n++] = (insdel_map){"random", MAP_RANDOM, 0};
    maps[n++] = (insdel_map){"center", MAP_CENTER, 0};
    *count = n;
    return maps;
}

/* -map FILE: float32 H x W, little-endian (this machine's order), no header */
static float *read_map_file(const char *path, int h, int w)
{
    struct stat st;
    sal_need_file(path, "-map file");
    long want = (long)h*w*sizeof(float);
    if(stat(path, &st) || st.st_size != want)
        sal_die("-map '%s' has %ld bytes; a float32 map of this network's %dx%d pixels (H x W) has %ld bytes",
                path, (long)st.st_size, h, w, want);
    float *map = calloc((size_t)h*w, sizeof(float));
    FILE *f = fopen(path, "rb");
    if(!f || fread(map, sizeof(float), (size_t)h*w, f) != (size_t)h*w) sal_die("cannot read -map '%s'", path);
    fclose(f);
    int i;
    for(i = 0; i < h*w; ++i)
        if(!isfinite(map[i])) sal_die("-map '%s': value %d (row %d, column %d) is %g; a map needs finite numbers", path, i, i/w, i%w, map[i]);
    return map;
}

/* the image list: darknet's .list (one path a line; blank lines skipped), with line numbers */
static char **read_list(char *path, int **lines, int *n)
{
    list *l = get_paths(path);
    char **all = (char **)list_to_array(l);
    int i, k = 0, total = l->size;
    char **out = calloc(total + 1, sizeof(char *));
    *lines = calloc(total + 1, sizeof(int));
    for(i = 0; i < total; ++i){
        if(!all[i][strspn(all[i], " \t\r")]){ free(all[i]); continue; }
        (*lines)[k] = i + 1;
        out[k++] = all[i];
    }
    free(all);
    free_list(l);
    *n = k;
    return out;
}

/* the random map of image `index` of the list: uniform, from -seed and the index alone, so every
   shard draws what one run draws */
static void random_map(uint64_t seed, long index, float *heat, int hw)
{
    uint64_t s = seed*0x9E3779B97F4A7C15ull + (uint64_t)index*0xD1B54A32D192ED03ull + 1;
    int i;
    for(i = 0; i < 4; ++i) rng_next(&s);
    for(i = 0; i < hw; ++i) heat[i] = (float)rng_uniform(&s);
}

/* a growing text (the CSV) */
typedef struct { char *s; size_t n, cap; } text;
static void text_add(text *t, const char *s, size_t n)
{
    if(t->n + n + 1 > t->cap){
        t->cap = 2*(t->n + n + 1);
        t->s = realloc(t->s, t->cap);
        if(!t->s) sal_die("out of memory for the CSV");
    }
    memcpy(t->s + t->n, s, n);
    t->n += n;
    t->s[t->n] = 0;
}

static void write_plot(const char *file, const insdel_map *maps, int nmaps, const double *sum_del, const double *sum_ins,
                       int npts, int hw, int step, long nimages, const char *substrate, const itab *t, const char *ylabel)
{
    char prefix[4096], title[2][256], leg[64][96];
    snprintf(prefix, sizeof(prefix), "%s", file);
    size_t len = strlen(prefix);
    if(len > 4 && !strcmp(prefix + len - 4, ".png")) prefix[len - 4] = 0;
    int i, k, panel;
    double *xs = calloc(npts, sizeof(double)), *ys = calloc((size_t)nmaps*npts, sizeof(double));
    float (*rgb)[3] = calloc(nmaps, sizeof(*rgb));
    const char **legend = calloc(nmaps, sizeof(char *));
    for(k = 0; k < npts; ++k) xs[k] = (double)(k*step < hw ? k*step : hw)/hw;
    int method = 0;
    for(i = 0; i < nmaps; ++i){
        if(maps[i].kind == MAP_RANDOM){ rgb[i][0] = rgb[i][1] = rgb[i][2] = 0.55f; }
        else if(maps[i].kind == MAP_CENTER){ rgb[i][0] = rgb[i][1] = rgb[i][2] = 0.1f; }
        else sal_plot_color(method++, rgb[i]);
    }
    snprintf(title[0], sizeof(title[0]), "deletion to %s, %ld image%s", substrate, nimages, nimages == 1 ? "" : "s");
    snprintf(title[1], sizeof(title[1]), "insertion from the blur, %ld image%s", nimages, nimages == 1 ? "" : "s");
    image panels[2];
    for(panel = 0; panel < 2; ++panel){
        const double *sum = panel ? sum_ins : sum_del;
        for(i = 0; i < nmaps && i < 64; ++i){
            double del, ins;
            itab_mean(t, i, &del, &ins);
            snprintf(leg[i], sizeof(leg[i]), "%s  AUC %.3f", maps[i].name, panel ? ins : del);
            legend[i] = leg[i];
            for(k = 0; k < npts; ++k) ys[(size_t)i*npts + k] = sum[(size_t)i*npts + k]/nimages;
        }
        panels[panel] = sal_plot(title[panel], "fraction of the pixels moved (most salient first)", ylabel, xs, ys,
                                 nmaps < 64 ? nmaps : 64, npts, legend, (const float (*)[3])rgb, 640, 440);
    }
    image both = sal_montage(panels, NULL, 2, panels[0].h);
    sal_save_png(both, prefix);
    free_image(both);
    free_image(panels[0]);
    free_image(panels[1]);
    free(xs); free(ys); free(rgb); free(legend);
}

/* det: `saliency detector insdel` (the arguments one further on) */
static void insdel_main(int argc, char **argv, int det)
{
    static const char *own[] = {"-method", "-map", "-substrate", "-step", "-csv", "-plot", "-shard", "-batch", "-n", 0};
    static const char *own_det[] = {"-method", "-map", "-substrate", "-step", "-csv", "-plot", "-shard", "-batch", "-n",
                                    "-thresh", "-nms", "-box", "-score", 0};
    int a0 = det ? 4 : 3;
    if(argc < a0 + 4){ saliency_usage_of(det ? "detector" : "insdel"); exit(1); }
    char *datacfg = argv[a0], *cfg = argv[a0 + 1], *weights = argv[a0 + 2], *input = argv[a0 + 3];
    sal_check_method_flags(argc, argv, a0 + 4, det ? own_det : own);
    float thresh = 0.5f, nms = 0.45f;
    int want_box = -1;
    det_target target;
    memset(&target, 0, sizeof target);
    if(det){
        thresh = sal_flag_real(argc, argv, "-thresh", 0.5, 0, 0, 1, 1);
        nms = sal_flag_real(argc, argv, "-nms", 0.45, 0, 0, 1, 0);
        want_box = sal_flag_int(argc, argv, "-box", -1, 0, 1 << 20);
        target.kind = sal_flag_score(argc, argv);
    }
    char *methods = sal_flag_str(argc, argv, "-method", 0);
    char *mapfile = sal_flag_str(argc, argv, "-map", 0);
    if(methods && mapfile) sal_die("-method and -map: give one (a -map FILE is scored beside random and center)");
    if(!methods) methods = "vanilla";
    char *substrate = sal_flag_str(argc, argv, "-substrate", "zero");
    if(strcmp(substrate, "zero") && strcmp(substrate, "blur")) sal_die("-substrate %s: allowed: zero, blur", substrate);
    int step = sal_flag_int(argc, argv, "-step", 0, 1, 1 << 30);
    char *csv = sal_flag_str(argc, argv, "-csv", 0);
    char *plot = sal_flag_str(argc, argv, "-plot", 0);
    int shard, shards;
    read_shard(argc, argv, &shard, &shards);
    int nmax = sal_flag_int(argc, argv, "-n", 1 << 30, 1, 1 << 30);
    mth_opts o;
    if(det) sal_detector_method_options(argc, argv, &o);
    else sal_method_options(argc, argv, &o);
    int layer_given = o.layer >= 0;
    if(det && mapfile) sal_die("-map goes with `saliency insdel` (a classifier's map); a detector's boxes are explained by -method");
    int nmaps;
    char *mlist = strdup(methods), *dr;
    /* a detector's rise is D-RISE: named so, and `drise` taken for it */
    while(det && (dr = strstr(mlist, "drise")) && (dr == mlist || dr[-1] == ',') && (dr[5] == ',' || !dr[5])) memmove(dr, dr + 1, strlen(dr));
    insdel_map *maps = read_maps(mlist, mapfile, &nmaps);
    free(mlist);
    for(int q = 0; det && q < nmaps; ++q) if(!strcmp(maps[q].name, "rise")) maps[q].name = "drise";
    int batch = sal_flag_int(argc, argv, "-batch", sal_default_batch(cfg), 1, 4096);

    /* the images: one, or the list's first N, every shards-th from the shard-th */
    sal_need_file(input, "image or image list");
    int one = sal_is_image_file(input), npaths = 1, *lines = 0, i;
    char **paths = one ? &input : read_list(input, &lines, &npaths);
    if(!npaths) sal_die("'%s' is not an image (PNG, JPEG, BMP, PNM, GIF, TIFF) and, read as a list of image paths, names none", input);
    if(one && (shards > 1 || sal_flag_str(argc, argv, "-n", 0))) sal_die("-shard and -n go with a list of images; '%s' is one image", input);
    if(!one && mapfile) sal_die("-map goes with one image; '%s' is a list of images", input);
    int total = npaths < nmax ? npaths : nmax, count = 0;
    for(i = shard; i < total; i += shards){
        FILE *f = one ? 0 : fopen(paths[i], "rb");
        if(!one && !f) sal_die("'%s' is not an image, so it is read as a list of image paths: line %d: cannot open image '%s'",
                       input, lines[i], paths[i]);
        if(f) fclose(f);
        ++count;
    }
    if(!count) sal_die("-shard %d/%d of %d images is empty: use at most %d shards", shard, shards, total, total);

    int nnames = 0;
    char **names = sal_class_names(datacfg, &nnames);
    network *net = sal_load_network_batch(cfg, weights, 0, batch);
    if(det) sal_check_detector(net, cfg, datacfg, nnames);
    if(net->w <= 0 || net->h <= 0) sal_die("cfg '%s': [net] width=%d height=%d: an image classifier needs both > 0", cfg, net->w, net->h);
    if(net->c != 1 && net->c != 3) sal_die("cfg '%s': [net] channels=%d does not fit an image (1 or 3 channels)", cfg, net->c);
    if(net->inputs != net->w*net->h*net->c) sal_die("cfg '%s': [net] inputs=%d does not fit width*height*channels=%d", cfg, net->inputs, net->w*net->h*net->c);
    char err[1024];
    /* a -map alone needs only the forward pass */
    eng *e = det ? eng_init_scored(net, det_score, &target, err, sizeof(err)) : eng_init_for(net, !mapfile, err, sizeof(err));
    if(!e) sal_die("cfg '%s': %s", cfg, err);
    int K = eng_classes(e), c = net->c, h = net->h, w = net->w, hw = h*w, m = net->inputs;
    if(!det && nnames != K) sal_die("data cfg '%s' names %d classes, cfg '%s' has %d outputs", datacfg, nnames, cfg, K);
    if(!step) step = (hw + 49)/50;
    int nsteps = insdel_steps(hw, step), npts = nsteps + 1;
    float *file_map = mapfile ? read_map_file(mapfile, h, w) : 0;

    float *blurred = calloc(m, sizeof(float)), *zero = calloc(m, sizeof(float)), *map = calloc(m, sizeof(float));
    float *heat = calloc(hw, sizeof(float)), *center = calloc(hw, sizeof(float));
    int *order = calloc(hw, sizeof(int));
    double *del = calloc(npts, sizeof(double)), *ins = calloc(npts, sizeof(double));
    double *sum_del = calloc((size_t)nmaps*npts, sizeof(double)), *sum_ins = calloc((size_t)nmaps*npts, sizeof(double));
    loc_center_map(center, h, w);   /* the order: by distance from the centre */
    scorer sc = {e, 0, K, calloc((size_t)K*eng_batch(e), sizeof(float)), 0};
    itab *t = itab_new();
    text rows = {0, 0, 0};
    text_add(&rows, ITAB_HEADER "\n", strlen(ITAB_HEADER) + 1);
    long method_evals = 0;
    sal_progress prog;
    sal_progress_init(&prog, "insdel", "images", count);
    double t0 = what_time_is_it_now();
    int done = 0, j;
    int ntargets = 0, noboxes = 0;
    for(i = shard; i < total; i += shards){
        image im = det ? sal_load_image(paths[i], 0, 0, 3) : sal_load_image(paths[i], w, h, c);
        image sized = det ? letterbox_image(im, w, h) : im;
        const float *x = sized.data;
        /* the targets: the predicted class, or a detector's boxes */
        int cls = 0, nd = 1, d0 = 0, d1 = 1, bx;
        det_detection *dets = 0;
        if(det){
            dets = sal_detect(net, x, thresh, nms, &nd);
            sc.evaluations++;
            d0 = want_box >= 0 ? want_box : 0;
            d1 = want_box >= 0 ? (want_box < nd ? want_box + 1 : 0) : nd;
            if(d1 <= d0) ++noboxes;
            for(bx = d0; one && bx < d1; ++bx){
                det_box r = det_unletterbox(dets[bx].box, im.w, im.h, w, h);
                printf("box %d %s %.6f %.6f %.6f %.6f %.6f\n", bx, names[dets[bx].cls], dets[bx].prob, r.x, r.y, r.w, r.h);
            }
        } else {
            eng_predict(e, x, 1, NULL, sc.p);
            sc.evaluations++;
            cls = max_index(sc.p, K);
            if(one) printf("predicted: %d %s %.6f\n", cls, names[cls], sc.p[cls]);
        }
        sc.cls = cls;
        if(blur_gauss(x, c, h, w, 11, 5, blurred)) sal_die("out of memory for the blurred image");
        const float *sub = strcmp(substrate, "blur") ? zero : blurred;
        for(bx = d0; bx < d1; ++bx){
            char key[4200];
            snprintf(key, sizeof(key), det ? "%s#%d" : "%s", paths[i], bx);
            int row_cls = det ? dets[bx].cls : cls;
            if(det){
                target.d = dets[bx];
                if(!layer_given) o.layer = det_cam_layer(net, dets[bx].layer);
            }
            ++ntargets;
            for(j = 0; j < nmaps; ++j){
                const insdel_map *mp = &maps[j];
                if(mp->kind == MAP_METHOD){
                    mth_info info = {"", 0};
                    target.match = det_method_matches(mp->name);
                    if(mp->m->fn(e, x, cls, &o, map, &info, err, sizeof(err))) sal_die("-method %s on '%s': %s", mp->name, paths[i], err);
                    mth_heat_of(mp->m, map, c, h, w, heat);
                    method_evals += info.evaluations;
                    if(one && det) printf("explained: box %d %s (%s): %s; %ld images through the network\n", bx, names[row_cls],
                                          mp->name, info.line, info.evaluations);
                    else if(one) printf("explained: %d %s (%s): %s; %ld images through the network\n", cls, names[cls], mp->name,
                                        info.line, info.evaluations);
                }
                else if(mp->kind == MAP_FILE) memcpy(heat, file_map, hw*sizeof(float));
                else if(mp->kind == MAP_RANDOM) random_map(o.seed, i, heat, hw);
                else memcpy(heat, center, hw*sizeof(float));
                if(insdel_order(heat, hw, order)) sal_die("out of memory for the pixel order");
                target.match = 1;   /* a detector's curves: the best match on each perturbed image */
                if(insdel_curve(x, sub, c, hw, order, step, eng_batch(e), score_class, &sc, del) ||
                   insdel_curve(blurred, x, c, hw, order, step, eng_batch(e), score_class, &sc, ins))
                    sal_die("out of memory for the curves' images");
                double da = insdel_auc(del, nsteps), ia = insdel_auc(ins, nsteps);
                if(!isfinite(da) || !isfinite(ia)) sal_die("'%s', map %s: the network gave a non-finite probability (AUC %g, %g)", paths[i], mp->name, da, ia);
                long long dm = itab_micro(da), imc = itab_micro(ia);
                if(itab_add(t, key, row_cls, mp->name, dm, imc, "this run", err, sizeof(err))) sal_die("%s", err);
                char row[8192];
                int len = itab_row(row, sizeof(row), key, row_cls, mp->name, dm, imc);
                if(len < 0) sal_die("image path '%s' is too long for a CSV row", paths[i]);
                text_add(&rows, row, len);
                int k;
                for(k = 0; k < npts; ++k){ sum_del[(size_t)j*npts + k] += del[k]; sum_ins[(size_t)j*npts + k] += ins[k]; }
            }
        }
        free(dets);
        if(det) free_image(sized);
        free_image(im);
        sal_progress_update(&prog, ++done);
    }
    sal_progress_done(&prog);
    double secs = what_time_is_it_now() - t0;

    if(det && !ntargets) sal_die("no box above -thresh %g%s in %d image%s: nothing to score", thresh,
                                 want_box >= 0 ? " with that -box index" : "", done, done == 1 ? "" : "s");
    if(csv){
        sal_write_file(csv, rows.s, rows.n);
        printf("wrote: %s (%d rows)\n", csv, ntargets*nmaps);
    }
    if(plot){
        write_plot(plot, maps, nmaps, sum_del, sum_ins, npts, hw, step, ntargets, substrate, t, det ? "match to the box" : "p(class)");
        printf("wrote: %s%s\n", plot, strlen(plot) > 4 && !strcmp(plot + strlen(plot) - 4, ".png") ? "" : ".png");
    }
    if(one) printf("insdel: '%s', ", input);
    else if(shards > 1) printf("insdel: %d images (shard %d/%d of the first %d of '%s'), ", done, shard, shards, total, input);
    else printf("insdel: %d images (the first %d of '%s'), ", done, total, input);
    if(det) printf("%d boxes (%d image%s without one), ", ntargets, noboxes, noboxes == 1 ? "" : "s");
    printf("substrate %s, step %d pixels (%d steps, %d images a curve), score: %s\n", substrate, step, nsteps, npts,
           det ? "D-RISE's similarity of the best match to the box" : "p of the predicted class");
    printf("insdel: %ld images through the network (%ld for the methods' maps), batch %d, %.1f s, %.2f images/s\n",
           sc.evaluations + method_evals, method_evals, eng_batch(e), secs, secs > 0 ? done/secs : 0);
    char line[1024];
    for(j = 0; j < itab_maps(t); ++j){
        itab_line(t, j, line, sizeof(line));
        printf("%s\n", line);
    }
    itab_free(t);
    free(rows.s);
    free(sc.p); free(blurred); free(zero); free(map); free(heat); free(center); free(order);
    free(del); free(ins); free(sum_del); free(sum_ins); free(file_map); free(maps);
    if(!one){ for(i = 0; i < npaths; ++i) free(paths[i]); free(paths); free(lines); }
    sal_free_strings(names, nnames);
    eng_free(e);
    dk_free(net);
}

void saliency_insdel(int argc, char **argv) { insdel_main(argc, argv, 0); }
void saliency_insdel_detector(int argc, char **argv) { insdel_main(argc, argv, 1); }
