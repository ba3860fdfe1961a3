// bench_train.c: times darknet's plain training step (forward, backward, weight update:
// train_network_datum) on one fixed random batch, so no data loading is measured. Prints one
// RESULT line (median/min/max wall seconds per step after warm-up, median process CPU seconds per
// step, peak RSS) for scripts/bench.sh. CPU time is the figure that survives a busy machine.
// One configuration per process: peak RSS (getrusage ru_maxrss) belongs to that configuration.
//
// usage: bench_train CFG [-steps N] [-warmup W] [-threads T] [-seed S]
//                        [-reg tv|ssim -method exact|finite -lambda L]
//   batch, width and height come from CFG ([net] batch, subdivisions=1, width, height).
//   -reg times the regularized step instead: darknet's own step of CFG with a [saliency] section
//   appended (onehot formulation, the regularizer, lambda, method exact, finite or central).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>
#include <sys/resource.h>
#include <unistd.h>
#include "darknet.h"
#include "gemm.h"   // gemm_backend, gemm_set_threads (patch 0011)
#include "waitpolicy.h"

static double clock_sec(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;   // Linux: kilobytes
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if(argc < 2){
        fprintf(stderr, "usage: %s CFG [-steps N] [-warmup W] [-threads T] [-seed S]\n", argv[0]);
        return 2;
    }
    // OpenMP's wait policy as darknet itself chooses it (patch 0056): restarts once, argv unchanged
    wait_apply(argc, argv, 1);
    int steps = find_int_arg(argc, argv, "-steps", 10);
    int warmup = find_int_arg(argc, argv, "-warmup", 2);
    int threads = find_int_arg(argc, argv, "-threads", 1);
    int seed = find_int_arg(argc, argv, "-seed", 1);
    char *cfg = argv[1];
    char *reg = find_char_arg(argc, argv, "-reg", 0);
    char *method = find_char_arg(argc, argv, "-method", "exact");
    float lambda = find_float_arg(argc, argv, "-lambda", 0.5f);
    if(steps < 1 || warmup < 0 || threads < 1){
        fprintf(stderr, "bench_train: -steps must be >= 1, -warmup >= 0, -threads >= 1\n");
        return 2;
    }

    if(reg && strcmp(method, "exact") && strcmp(method, "finite") && strcmp(method, "central")){
        fprintf(stderr, "bench_train: -method %s: exact, finite or central\n", method);
        return 2;
    }
    gemm_set_threads(threads);
    srand(seed);
    double base_mb = peak_rss_mb();
    // the regularized step is darknet's own step of the cfg with a [saliency] section appended
    char regcfg[4096];
    if(reg){
        snprintf(regcfg, sizeof(regcfg), "/tmp/bench_train_%d.cfg", (int)getpid());
        FILE *in = fopen(cfg, "r"), *out = fopen(regcfg, "w");
        if(!in || !out){ fprintf(stderr, "bench_train: cannot read %s or write %s\n", cfg, regcfg); return 2; }
        int ch;
        while((ch = fgetc(in)) != EOF) fputc(ch, out);
        fprintf(out, "\n[saliency]\nregularizer=%s\nformulation=onehot\nweight=%g\nmethod=%s\n", reg, lambda, method);
        fclose(in);
        fclose(out);
        cfg = regcfg;
    }
    network *net = load_network(cfg, 0, 1);
    if(reg) remove(regcfg);
    if(net->subdivisions != 1){
        fprintf(stderr, "bench_train: %s: [net] subdivisions=%d, want 1 (a step is one batch)\n", cfg, net->subdivisions);
        return 2;
    }

    // One random batch: pixels in [0, 1), one random class per image (one-hot truth).
    int B = net->batch;
    for(int i = 0; i < net->inputs * B; ++i) net->input[i] = rand() / (RAND_MAX + 1.0f);
    memset(net->truth, 0, sizeof(float) * net->truths * B);
    for(int b = 0; b < B; ++b) net->truth[b * net->truths + rand() % net->truths] = 1;

    double *t = calloc(steps, sizeof(double));
    double *cpu = calloc(steps, sizeof(double));
    float loss = 0;
    for(int i = 0; i < warmup + steps; ++i){
        double t0 = clock_sec(CLOCK_MONOTONIC), c0 = clock_sec(CLOCK_PROCESS_CPUTIME_ID);
        loss = train_network_datum(net);
        if(i >= warmup){
            t[i - warmup] = clock_sec(CLOCK_MONOTONIC) - t0;
            cpu[i - warmup] = clock_sec(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
    }
    qsort(t, steps, sizeof(double), cmp_double);
    qsort(cpu, steps, sizeof(double), cmp_double);
    double median = (steps % 2) ? t[steps / 2] : 0.5 * (t[steps / 2 - 1] + t[steps / 2]);
    double cpu_median = (steps % 2) ? cpu[steps / 2] : 0.5 * (cpu[steps / 2 - 1] + cpu[steps / 2]);

    char wait[64];   // one word in the RESULT line: "spin_1000", "passive"
    snprintf(wait, sizeof(wait), "%s", wait_name());
    for(char *q = wait; *q; ++q) if(*q == ' ') *q = '_';
    char mode[64];
    snprintf(mode, sizeof(mode), "%s%s%s", reg ? method : "plain", reg ? "-" : "", reg ? reg : "");
    printf("RESULT system=darknet mode=%s gemm=%s threads=%d batch=%d size=%dx%d steps=%d warmup=%d "
           "median_s=%.4f min_s=%.4f max_s=%.4f cpu_s=%.4f peak_rss_mb=%.0f base_rss_mb=%.0f loss=%g wait=%s\n",
           mode, gemm_backend(), threads, B, net->w, net->h, steps, warmup,
           median, t[0], t[steps - 1], cpu_median, peak_rss_mb(), base_mb, loss, wait);
    if(!isfinite(loss)) fprintf(stderr, "bench_train: warning: loss is %g\n", loss);
    free(t);
    free(cpu);
    free_network(net);
    return 0;
}
