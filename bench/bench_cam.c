// bench_cam.c: time per explained image of the perturbation methods (RISE, occlusion; Grad-CAM for
// scale) through darknet's batch against one network call per image (the same network parsed for
// batch 1), and the largest difference of their maps (the batching must not change the numbers).
// Weights: darknet's own random init from one seed (srand), batch-norm rolling statistics set to
// mean 0, variance 1 so inference mode is sane; the image: a smooth pattern. Not part of make
// bench (scripts/bench.sh); build against a tree made by `make` (one command, on one line):
//
//   cc -O2 -std=gnu11 -Ibuild/darknet/include -Ibuild/darknet/src -Isrc -Idarknet-patch/src
//      bench/bench_cam.c -o build/bench_cam build/darknet/libdarknet.a -lstdc++ -lopenblas -lm
//      -pthread $(pkg-config --libs opencv4)
//   OPENBLAS_NUM_THREADS=1 build/bench_cam cfg/resnet18-64.cfg [-batch 32] [-masks 4000]
//          [-methods rise,occlusion,gradcam] [-width W -height H]
//
// One RESULT line per method and batch (wall and process CPU seconds per explained image, network
// images per second), one SAME line per method (max |batched - batch 1| and the map's max).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "darknet.h"
#include "gemm.h"
#include "engine.h"
#include "methods.h"

static double clock_sec(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// the cfg for batch images, width x height when both > 0, darknet's init from seed
static network *bench_net(char *cfg, int batch, int w, int h, int seed)
{
    srand(seed);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    network *net;
    if (w > 0 && h > 0) {
        // a copy of the cfg with the size rewritten after [net]
        char tmp[256];
        snprintf(tmp, sizeof tmp, "/tmp/bench_cam_%d.cfg", (int)getpid());
        FILE *in = fopen(cfg, "r"), *out = fopen(tmp, "w");
        char line[4096];
        int in_net = 0;
        while (fgets(line, sizeof line, in)) {
            if (line[0] == '[') in_net = !strncmp(line, "[net]", 5);
            if (in_net && (!strncmp(line, "width=", 6) || !strncmp(line, "height=", 7))) continue;
            fputs(line, out);
            if (!strncmp(line, "[net]", 5)) fprintf(out, "width=%d\nheight=%d\n", w, h);
        }
        fclose(in);
        fclose(out);
        net = parse_network_cfg_custom(tmp, batch);
        remove(tmp);
    } else {
        net = parse_network_cfg_custom(cfg, batch);
    }
    fclose(stderr);
    stderr = saved;
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        int nb = l->type == CONNECTED ? l->outputs : l->n;
        if (l->rolling_mean) for (int i = 0; i < nb; i++) l->rolling_mean[i] = 0;
        if (l->rolling_variance) for (int i = 0; i < nb; i++) l->rolling_variance[i] = 1;
    }
    return net;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CFG [-batch B] [-masks N] [-methods rise,occlusion,gradcam] [-width W -height H]\n", argv[0]);
        return 2;
    }
    char *cfg = argv[1];
    int batch = find_int_arg(argc, argv, "-batch", 32);
    int masks = find_int_arg(argc, argv, "-masks", 4000);
    int w = find_int_arg(argc, argv, "-width", 0), h = find_int_arg(argc, argv, "-height", 0);
    char *methods = find_char_arg(argc, argv, "-methods", "rise,occlusion,gradcam");
    gemm_set_threads(1);
    network *nets[2] = {bench_net(cfg, batch, w, h, 1), bench_net(cfg, 1, w, h, 1)};
    char err[1024];
    eng *es[2];
    for (int i = 0; i < 2; i++)
        if (!(es[i] = eng_init(nets[i], err, sizeof err))) { fprintf(stderr, "bench_cam: %s: %s\n", cfg, err); return 2; }
    int C, H, W, n = eng_inputs(es[0]), K = eng_classes(es[0]);
    eng_input_shape(es[0], &C, &H, &W);
    float *x = malloc(sizeof(float) * n), *p = malloc(sizeof(float) * K);
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++)
                x[(c * H + y) * W + xx] = 0.5f + 0.4f * sinf(0.3f * (c + 1) * xx) * cosf(0.2f * y + c);
    eng_predict(es[0], x, 1, NULL, p);
    int cls = 0;
    for (int k = 1; k < K; k++) if (p[k] > p[cls]) cls = k;
    printf("# %s: %dx%dx%d, %d classes, class %d p %.4f, gemm %s, 1 thread\n", cfg, C, H, W, K, cls, p[cls], gemm_backend());
    float *maps[2] = {malloc(sizeof(float) * n), malloc(sizeof(float) * n)};
    char list[256];
    snprintf(list, sizeof list, "%s", methods);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        const mth_def *m = mth_lookup(name, err, sizeof err);
        if (!m) { fprintf(stderr, "bench_cam: %s\n", err); return 2; }
        mth_opts o;
        mth_defaults(&o);
        o.masks = masks;
        for (int i = 0; i < 2; i++) {
            mth_info info = {"", 0};
            double t0 = clock_sec(CLOCK_MONOTONIC), c0 = clock_sec(CLOCK_PROCESS_CPUTIME_ID);
            if (m->fn(es[i], x, cls, &o, maps[i], &info, err, sizeof err)) { fprintf(stderr, "bench_cam: %s: %s\n", name, err); return 2; }
            double t = clock_sec(CLOCK_MONOTONIC) - t0, cpu = clock_sec(CLOCK_PROCESS_CPUTIME_ID) - c0;
            printf("RESULT method=%s size=%dx%d batch=%d s_per_image=%.3f cpu_s=%.3f evaluations=%ld images_per_s=%.1f  (%s)\n",
                   name, W, H, eng_batch(es[i]), t, cpu, info.evaluations, info.evaluations / t, info.line);
            fflush(stdout);
        }
        double d = 0, top = 0;
        for (int i = 0; i < n; i++) {
            if (fabs(maps[0][i] - maps[1][i]) > d) d = fabs(maps[0][i] - maps[1][i]);
            if (fabs(maps[1][i]) > top) top = fabs(maps[1][i]);
        }
        printf("SAME method=%s max|batched - batch 1| %.3g of max %.4g\n", name, d, top);
    }
    free(x); free(p); free(maps[0]); free(maps[1]);
    for (int i = 0; i < 2; i++) { eng_free(es[i]); free_network(nets[i]); }
    return 0;
}
