// testutil.h: helpers shared by the Check suites that need a darknet network.
#ifndef SALIENCY_TESTUTIL_H
#define SALIENCY_TESTUTIL_H

#include <stdint.h>
#include "darknet.h"
#include "dk.h"              // the fork adapter: dk_parse, dk_forward, dk_free... (one test source for both forks)
#include "saliency_util.h"

// A small ResNet below a [net] section: conv+BN+leaky stem, maxpool, a basic block, a bottleneck
// block (1x1, 3x3, 1x1: the skip gradient of patch 0004), global avgpool, 1x1 conv head, softmax.
#define TU_RESNET_BODY \
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n" \
    "[maxpool]\nsize=2\nstride=2\n" \
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n" \
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=linear\n" \
    "[shortcut]\nfrom=-3\nactivation=leaky\n" \
    "[convolutional]\nbatch_normalize=1\nfilters=2\nsize=1\nstride=1\nactivation=leaky\n" \
    "[convolutional]\nbatch_normalize=1\nfilters=2\nsize=3\nstride=1\npad=1\nactivation=leaky\n" \
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=1\nstride=1\nactivation=linear\n" \
    "[shortcut]\nfrom=-4\nactivation=leaky\n" \
    "[avgpool]\n" \
    "[convolutional]\nfilters=5\nsize=1\nstride=1\nactivation=linear\n" \
    "[softmax]\n"

// A network parsed from cfg text (written to a temporary file; darknet's own parser).
network *tu_net(const char *cfg_text);
// Random weights, biases, BN scales and rolling statistics (rolling var in [0.5, 1.5]) from seed.
void tu_randomize(network *net, uint64_t seed);
// A test case: a network from cfg text with random weights (seed), its engine (every rule), inputs
// uniform in [0, 1) (seed + 1), one-hot labels truth[b] = b % K, after a forward in training
// (train = 1) or inference mode. tu_case_free gives it all back.
typedef struct { network *net; struct eng *e; float *truth; int B, K, n; } tu_case;
tu_case tu_case_new(const char *cfg, uint64_t seed, int train);
void tu_case_free(tu_case *c);

// Uniform [lo, hi) values.
void tu_fill(float *x, int n, float lo, float hi, uint64_t *rng);
float tu_uniform(uint64_t *rng);

// darknet's forward with the batch-norm statistics of a previous training-mode forward frozen
// (used as constants: the engine's per-example semantics) and each dropout and crop reusing its
// draw (the rule table's held forward).
// tu_freeze() records the statistics (call it right after a training-mode forward) and lends them
// to inference mode; tu_frozen_forward() runs on them; tu_unfreeze() gives the rolling ones back.
typedef struct tu_frozen tu_frozen;
tu_frozen *tu_freeze(network *net);
void tu_frozen_forward(network *net, tu_frozen *f);
void tu_unfreeze(network *net, tu_frozen *f);

// The scalar S = sum_b s_b of a formulation after a forward: seed (B, K) is dS/dz for onehot and
// spectreg (S linear in z); for loss S = sum_b CE_b with truth (B, K). z = input of layer top.
double tu_score(network *net, int top, int loss, const float *seed, const float *truth);

// Call first in a child of fork() that runs darknet code: one thread from there on. libgomp's
// thread pool does not survive a fork (a child's parallel region would wait for the parent's pool
// threads forever), so the child runs serially (gemm_set_threads(1): OpenMP and OpenBLAS alike).
void tu_after_fork(void);

// Runs a shell command, its stdout and stderr into out (NUL-terminated, cut at outlen - 1); returns
// its exit status, or 128 + the signal that ended it.
int tu_run(const char *cmd, char *out, int outlen);
// The darknet binary under test: $DARKNET, else ./darknet.
const char *tu_darknet(void);
// Runs "<env> <darknet> saliency <args>" (env may be NULL: e.g. "OPENBLAS_NUM_THREADS=1") with tu_run.
int tu_saliency(const char *env, const char *args, char *out, int outlen);

// A tiny classification data set in dir (created): n PNG images w x h x 3 of smooth random
// patterns, labelled round-robin _lab0., _lab1., ... (the label is part of the file name, as darknet's
// classifier expects), train.list, labels.txt, and dir/tiny.data (backup=dir/backup/,
// created). Its path is written to data (datalen bytes).
void tu_dataset(const char *dir, int n, int w, int h, int classes, char *data, int datalen);

// ---- the gradient checker of the suites: central differences --------------------------------
// f at the current inputs: the checker perturbs the float it checks in place and puts it back.
typedef double (*tu_fn)(void *ctx);

typedef struct {
    double h;       // the first step; the step float arithmetic really took is the one divided by
    int levels;     // central estimates at h, h/2, ..., h/2^(levels-1) (2..4): the first adjacent pair
                    // that agrees gives the numeric value; none agrees: a kink, skipped
    int curvature;  // also a kink when the one-sided slopes at h and h/2 jump (|.|, a ReLU, argmax)
    double afloor;  // tolerance: afloor + atol * (largest |analytic| of the call) + rtol * max(|num|, |ana|)
    double atol;
    double rtol;
    double agree;   // two estimates agree within agree * their scale + the absolute part of the tolerance
} tu_fd_opts;

typedef struct { int checked, skipped, failed; } tu_fd_stats;

// One value: *num = the numeric df/dp at *p (0), or 1 for a kink. amax scales the tolerance.
int tu_fd_one(tu_fn f, void *ctx, float *p, double ana, double amax, tu_fd_opts o, double *num);
// Compares and counts one checked value; a failure prints (the first 8 of a process)
// "gradient check failed: op <op> index <i> numeric <n> analytic <a>". 1 on failure.
int tu_fd_compare(const char *op, long index, double num, double ana, double amax, tu_fd_opts o, tu_fd_stats *st);
// analytic (n) = df/dt at t (n): every stride-th element, or the nidx listed in idx when idx is not NULL.
tu_fd_stats tu_fd_check(const char *op, tu_fn f, void *ctx, float *t, int n, const float *analytic,
                        const int *idx, int nidx, int stride, tu_fd_opts o);

// The test networks: one small net per layer type and variants (batch 3, 6x6x2 input, a [softmax]
// on top; e.g. "conv", "conv_bn", "maxpool", "shortcut_alpha_beta", "dropout"): the cfg text of
// the one called name (an unknown name aborts).
const char *tu_testnet(const char *name);
// Why the test net `name` does not run on the fork being built (a static string), or NULL when it
// does: AlexeyAB's [crop] keeps no record of its window (the engine refuses it there) and its
// parser asserts that a shortcut's from-layer has the shortcut's size.
const char *tu_fork_skip(const char *name);
// the table's input and top, around a body of layers
#define TU_NET(body) "[net]\nbatch=3\nwidth=6\nheight=6\nchannels=2\n" body "[softmax]\n"

// A temporary directory (created once per process) and a path inside it.
const char *tu_tmpdir(void);
void tu_path(char *out, int n, const char *name);
void tu_write_text(const char *path, const char *text);

// The exit status of a process a sanitizer stopped, under `make SANITIZE=1 test` (the Makefile's
// ASAN_OPTIONS/UBSAN_OPTIONS exitcode): no darknet command exits with it by itself.
#define TU_SANITIZER_STATUS 86
// For a command the test ran (its exit status and output): a sanitizer's report is printed to
// stderr whole and the test fails. A report is longer than a Check failure message can hold.
void tu_check_sanitizer(const char *cmd, int status, const char *out);

#endif
