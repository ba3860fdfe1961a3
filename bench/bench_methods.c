// bench_methods.c: times the saliency methods per explained image (src/methods.h; any of them,
// `-methods all` for every one) on a network made for a batch of B images (the methods' batched
// path) and, with -single 1 (the default), on the same network made for one image (one network
// call a path point, noisy copy, mask or patch), and checks that both give the same map. One RESULT
// line per method: median wall and process CPU seconds per image after a warm-up, the images sent
// through the network, the speed-up, the largest difference of the two maps relative to the
// largest |value| and the L2 norm of the difference relative to the map's (the gemm's rounding
// differs with the batch; where a pre-activation sits within it of a ReLU's kink the gradient
// there changes, so the largest difference of a gradient method is a few 1e-4), and the method's
// own summary (mth_info.line) after `|`.
//
// usage: bench_methods CFG [-size S] [-batch B] [-threads T] [-reps R] [-weights FILE] [-seed S]
//                          [-image FILE] [-methods NAME,NAME...|all] [-single 0|1]
//                          [-masks N] [-iterations N] [-warmup W]
//   -size rewrites [net] width and height in a temporary copy of CFG (default: the cfg's);
//   -batch B (default: the map verb's, sal_default_batch: a 1 GiB budget, at most 64);
//   without -weights the weights are random (fan-in scaled, rolling variance in [0.5, 1.5]);
//   without -image the image is uniform noise in [0, 1];
//   -methods (default integrated,smoothgrad: the methods PyTorch is timed on, bench/torch_methods.py);
//   -masks (RISE) and -iterations (igos, igos++) override the methods' defaults (mth_defaults),
//   for the sizes where the defaults take minutes an image; the RESULT line says what ran;
//   -warmup W untimed calls before the -reps R timed ones (default 1; 0 for the minutes-long ones).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "darknet.h"
#include "parser.h"
#include "gemm.h"   // gemm_set_threads (patch 0011)
#include "engine.h"
#include "methods.h"
#include "rng.h"
#include "saliency_util.h"
#include "waitpolicy.h"

static double clock_sec(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void fill(float *p, int n, float lo, float hi, uint64_t *rng)
{
    for (int i = 0; i < n; i++) p[i] = lo + (hi - lo) * (float)rng_uniform(rng);
}

// random weights as the test suites make them (tests/testutil.c tu_randomize)
static void randomize(network *net, uint64_t seed)
{
    uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        int fan = l->type == CONVOLUTIONAL ? l->size * l->size * l->c / l->groups : l->type == CONNECTED ? l->inputs : 0;
        float w = fan ? sqrtf(3.0f / fan) : 0;
        if (l->weights) fill(l->weights, l->nweights ? l->nweights : l->inputs * l->outputs, -w, w, &rng);
        int nb = l->type == CONNECTED ? l->outputs : l->type == BATCHNORM ? l->c : l->n;
        if (l->biases) fill(l->biases, nb, -0.2f, 0.2f, &rng);
        if (l->scales) fill(l->scales, nb, 0.6f, 1.4f, &rng);
        if (l->rolling_mean) fill(l->rolling_mean, nb, -0.2f, 0.2f, &rng);
        if (l->rolling_variance) fill(l->rolling_variance, nb, 0.5f, 1.5f, &rng);
    }
}

// CFG with width= and height= set to size, in a temporary file (path written to out)
static void resized_cfg(const char *cfg, int size, char *out, int outlen)
{
    snprintf(out, outlen, "/tmp/bench_methods_%d.cfg", (int)getpid());
    FILE *in = fopen(cfg, "r"), *o = fopen(out, "w");
    if (!in || !o) { fprintf(stderr, "bench_methods: cannot read %s or write %s\n", cfg, out); exit(2); }
    char line[4096];
    while (fgets(line, sizeof line, in)) {
        if (!strncmp(line, "width=", 6)) fprintf(o, "width=%d\n", size);
        else if (!strncmp(line, "height=", 7)) fprintf(o, "height=%d\n", size);
        else fputs(line, o);
    }
    fclose(in);
    fclose(o);
}

static network *quiet_parse(const char *cfg, int batch)
{
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    network *net = parse_network_cfg_custom((char *)cfg, batch);
    fclose(stderr);
    stderr = saved;
    return net;
}

typedef struct { double wall, cpu; long evals; } timing;

// the median of reps calls after a warm-up; the last call's summary in info
static int warmup = 1;   // calls before the timed ones (-warmup)

static timing run(eng *e, const mth_def *m, const float *x, int cls, const mth_opts *o, float *map, int reps, mth_info *last)
{
    double *w = calloc(reps, sizeof(double)), *c = calloc(reps, sizeof(double));
    timing t = {0, 0, 0};
    char err[1024];
    for (int r = -warmup; r < reps; r++) {   // r < 0: the warm-up
        mth_info info = {"", 0};
        double w0 = clock_sec(CLOCK_MONOTONIC), c0 = clock_sec(CLOCK_PROCESS_CPUTIME_ID);
        if (m->fn(e, x, cls, o, map, &info, err, sizeof err)) { fprintf(stderr, "bench_methods: %s: %s\n", m->name, err); exit(1); }
        if (r < 0) continue;
        w[r] = clock_sec(CLOCK_MONOTONIC) - w0;
        c[r] = clock_sec(CLOCK_PROCESS_CPUTIME_ID) - c0;
        t.evals = info.evaluations;
        *last = info;
    }
    t.wall = median(w, reps);
    t.cpu = median(c, reps);
    free(w);
    free(c);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CFG [-size S] [-batch B] [-threads T] [-reps R] [-weights FILE] [-seed S] [-image FILE]\n"
                        "       [-methods NAME,...|all] [-single 0|1] [-masks N] [-iterations N] [-warmup W]\n", argv[0]);
        return 2;
    }
    // OpenMP's wait policy as darknet itself chooses it (patch 0056): restarts once, argv unchanged
    wait_apply(argc, argv, 1);
    char *cfg = argv[1], tmp[512] = "";
    int size = find_int_arg(argc, argv, "-size", 0);
    int threads = find_int_arg(argc, argv, "-threads", 1);
    int reps = find_int_arg(argc, argv, "-reps", 3);
    warmup = find_int_arg(argc, argv, "-warmup", 1);
    int seed = find_int_arg(argc, argv, "-seed", 1);
    int single = find_int_arg(argc, argv, "-single", 1);
    int masks = find_int_arg(argc, argv, "-masks", 0), iterations = find_int_arg(argc, argv, "-iterations", 0);
    char *weights = find_char_arg(argc, argv, "-weights", 0), *imgpath = find_char_arg(argc, argv, "-image", 0);
    char *methods = find_char_arg(argc, argv, "-methods", "integrated,smoothgrad");
    if (size > 0) { resized_cfg(cfg, size, tmp, sizeof tmp); cfg = tmp; }
    int batch = find_int_arg(argc, argv, "-batch", sal_default_batch(cfg));
    if (threads < 1 || reps < 1 || batch < 1 || warmup < 0) {
        fprintf(stderr, "bench_methods: -threads, -reps and -batch must be >= 1, -warmup >= 0\n");
        return 2;
    }
    gemm_set_threads(threads);

    network *nb = quiet_parse(cfg, batch), *n1 = single ? quiet_parse(cfg, 1) : NULL;
    if (tmp[0]) remove(tmp);
    if (weights) { load_weights(nb, weights); if (n1) load_weights(n1, weights); }
    else { randomize(nb, seed); if (n1) randomize(n1, seed); }
    char err[1024];
    eng *eb = eng_init(nb, err, sizeof err), *e1 = n1 ? eng_init(n1, err, sizeof err) : NULL;
    if (!eb || (n1 && !e1)) { fprintf(stderr, "bench_methods: %s\n", err); return 1; }
    int n = eng_inputs(eb);
    float *x = malloc(n * sizeof(float)), *ma = malloc(n * sizeof(float)), *m1 = malloc(n * sizeof(float));
    uint64_t rng = seed + 1;
    if (imgpath) {
        image im = sal_load_image(imgpath, nb->w, nb->h, nb->c);
        memcpy(x, im.data, n * sizeof(float));
        free_image(im);
    } else {
        fill(x, n, 0, 1, &rng);
    }
    float p[4096];
    int K = eng_classes(eb);
    eng_predict(eb, x, 1, NULL, p);
    int cls = 0;
    for (int k = 1; k < K && k < 4096; k++) if (p[k] > p[cls]) cls = k;

    char list[1024];
    if (!strcmp(methods, "all")) {
        list[0] = 0;
        for (int i = 0; i < mth_count(); i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", mth_at(i)->name);
    } else {
        snprintf(list, sizeof list, "%s", methods);
    }
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        char e2[256];
        const mth_def *m = mth_lookup(name, e2, sizeof e2);
        if (!m) { fprintf(stderr, "bench_methods: %s\n", e2); return 2; }
        mth_opts o;
        mth_defaults(&o);   // integrated: K = 32, right rule, black; smoothgrad: N = 25 of vanilla, sigma 0.15; ...
        if (masks > 0) o.masks = masks;
        if (iterations > 0) o.iterations = iterations;
        mth_info info = {"", 0};
        timing tb = run(eb, m, x, cls, &o, ma, reps, &info);
        printf("RESULT method=%s size=%dx%d threads=%d batch=%d wall_s=%.4f cpu_s=%.4f evals=%ld", m->name, nb->w, nb->h,
               threads, batch, tb.wall, tb.cpu, tb.evals);
        if (e1) {
            mth_info i1 = {"", 0};
            timing t1 = run(e1, m, x, cls, &o, m1, reps, &i1);
            double top = 0, diff = 0, ss = 0, sd = 0;
            for (int k = 0; k < n; k++) {
                double d = ma[k] - m1[k];
                top = fmax(top, fabs(m1[k]));
                diff = fmax(diff, fabs(d));
                ss += (double)m1[k] * m1[k];
                sd += d * d;
            }
            printf(" | batch=1 wall_s=%.4f cpu_s=%.4f evals=%ld | speedup_wall=%.2f speedup_cpu=%.2f max_rel_diff=%.1e l2_rel_diff=%.1e",
                   t1.wall, t1.cpu, t1.evals, t1.wall / tb.wall, t1.cpu / tb.cpu, top > 0 ? diff / top : diff,
                   ss > 0 ? sqrt(sd / ss) : sqrt(sd));
        }
        printf(" | %s\n", info.line);
        fflush(stdout);
    }
    free(x); free(ma); free(m1);
    eng_free(eb);
    if (e1) eng_free(e1);
    free_network(nb);
    if (n1) free_network(n1);
    return 0;
}
