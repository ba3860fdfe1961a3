/* saliency_fool.c: `darknet saliency fool`: a fooling image (src/fool.h): normalised gradient
   ascent on a target class's logit until the network predicts it, written as a picture, the
   magnified difference and, with -raw, float32 numbers (C x H x W, little-endian, no header).
   Exit 1 when the step budget runs out first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "saliency_util.h"
#include "engine.h"
#include "fool.h"

/* the core's progress callback, through the verbs' progress line */
static void show_progress(void *ctx, int done, int total)
{
    sal_progress *p = ctx;
    p->total = total;
    sal_progress_update(p, done);
}

void saliency_fool(int argc, char **argv)
{
    static const char *flags[] = {"-target", "-steps", "-lr", "-out", "-raw", 0};
    if(argc < 7){ saliency_usage_of("fool"); exit(1); }
    char *datacfg = argv[3], *cfg = argv[4], *weights = argv[5], *path = argv[6];
    sal_check_flags(argc, argv, 7, flags);
    int target = sal_flag_int(argc, argv, "-target", -1, 0, 1 << 30);
    if(target < 0) sal_die("-target N is required: the class the fooling image should be predicted as");
    int steps = sal_flag_int(argc, argv, "-steps", FOOL_STEPS, 1, 10000000);
    double lr = sal_flag_real(argc, argv, "-lr", FOOL_LR, 0, 1, 1e6, 0);
    char *prefix = sal_flag_str(argc, argv, "-out", "saliency");
    char *raw = sal_flag_str(argc, argv, "-raw", 0);

    int nnames = 0;
    char **names = sal_class_names(datacfg, &nnames);
    sal_need_file(path, "image");
    network *net = sal_load_network_batch(cfg, weights, 0, 1);
    if(net->w <= 0 || net->h <= 0) sal_die("cfg '%s': [net] width=%d height=%d: an image classifier needs both > 0", cfg, net->w, net->h);
    if(net->c != 1 && net->c != 3) sal_die("cfg '%s': [net] channels=%d does not fit an image (1 or 3 channels)", cfg, net->c);
    if(net->inputs != net->w*net->h*net->c) sal_die("cfg '%s': [net] inputs=%d does not fit width*height*channels=%d", cfg, net->inputs, net->w*net->h*net->c);
    char err[1024];
    eng *e = eng_init(net, err, sizeof(err));
    if(!e) sal_die("cfg '%s': %s", cfg, err);
    int K = eng_classes(e), n = net->inputs;
    if(nnames != K) sal_die("data cfg '%s' names %d classes, cfg '%s' has %d outputs", datacfg, nnames, cfg, K);
    if(target >= K) sal_die("-target %d: the network has classes 0..%d", target, K - 1);

    image im = sal_load_image(path, net->w, net->h, net->c);
    float *p0 = calloc(K, sizeof(float));
    eng_predict(e, im.data, 1, NULL, p0);
    int orig = max_index(p0, K);
    printf("predicted: %d %s %.6f\n", orig, names[orig], p0[orig]);

    image xf = make_image(net->w, net->h, net->c);
    fool_result r;
    sal_progress prog;
    sal_progress_init(&prog, "fool", "steps", steps);
    double t0 = what_time_is_it_now();
    if(fool_run(e, im.data, target, steps, lr, xf.data, &r, show_progress, &prog, err, sizeof(err))) sal_die("fool: %s", err);
    sal_progress_done(&prog);
    printf("%s: %d %s -> %d %s in %d step%s (lr %g, %.3f s): p(%d %s) %.6f -> %.6f, p(%d %s) %.6f -> %.6f; "
           "|delta|_2 %.6f, |delta|_inf %.6f\n", r.reached ? "fooled" : "not fooled", orig, names[orig], r.pred, names[r.pred],
           r.steps, r.steps == 1 ? "" : "s", lr, what_time_is_it_now() - t0, orig, names[orig], p0[orig], r.p_orig, target, names[target], p0[target],
           r.p_target, r.l2, r.linf);
    fflush(stdout);
    if(!r.reached)
        sal_die("fool: -target %d %s not reached in %d step%s of %g (the network still predicts %d %s, p %.4f; target p %.4f): "
                "allow more -steps or a larger -lr; nothing written", target, names[target], steps, steps == 1 ? "" : "s", lr, r.pred, names[r.pred],
                r.p_pred, r.p_target);

    char buf[4096];
    image diff = make_image(net->w, net->h, net->c);
    fool_diff(im.data, xf.data, n, diff.data);
    snprintf(buf, sizeof(buf), "%s_fool", prefix);
    sal_save_png(xf, buf);
    snprintf(buf, sizeof(buf), "%s_diff", prefix);
    sal_save_png(diff, buf);
    if(raw) sal_write_file(raw, xf.data, sizeof(float)*n);
    printf("wrote: %s_fool.png %s_diff.png%s%s\n", prefix, prefix, raw ? " " : "", raw ? raw : "");
    free_image(diff);
    free_image(xf);
    free_image(im);
    free(p0);
    sal_free_strings(names, nnames);
    eng_free(e);
    dk_free(net);
}
