// testutil.c: networks from cfg text, random weights, frozen-statistics forward, scores.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"
#include "gemm.h"
#include "engine.h"
#include "blas.h"
#include "engine_internal.h"
#include "rng.h"
#include "parser.h"

float tu_uniform(uint64_t *rng)
{
    return (rng_next(rng) >> 40) * (1.0f / 16777216.0f);   // 24 bits: [0, 1) exactly as a float
}

void tu_fill(float *x, int n, float lo, float hi, uint64_t *rng)
{
    for (int i = 0; i < n; i++) x[i] = lo + (hi - lo) * tu_uniform(rng);
}

static char tmpdir[256];
static pid_t tmpdir_owner;

static void remove_tmpdir(void)
{
    if (getpid() != tmpdir_owner) return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

const char *tu_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/saliency-test-XXXXXX");
        if (!mkdtemp(tmpdir)) { perror("mkdtemp"); exit(2); }
        tmpdir_owner = getpid();
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

void tu_path(char *out, int n, const char *name)
{
    snprintf(out, n, "%s/%s", tu_tmpdir(), name);
}

void tu_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); exit(2); }
    fputs(text, f);
    fclose(f);
}

network *tu_net(const char *cfg_text)
{
    static int count;
    char path[512], name[64];
    snprintf(name, sizeof name, "net%d.cfg", count++);
    tu_path(path, sizeof path, name);
    tu_write_text(path, cfg_text);
    FILE *saved = stderr;   // darknet prints the layer table: keep the test log readable
    stderr = fopen("/dev/null", "w");
    network *net = dk_parse(path, 0);
    fclose(stderr);
    stderr = saved;
    return net;
}

static void fill_layer(layer *l, uint64_t *rng)
{
    if (l->type == YOLO) return;   // its "biases" are the anchors of the cfg, not parameters
    int fan = 0;
    if (l->type == CONVOLUTIONAL) fan = l->size * l->size * l->c / l->groups;
    if (l->type == CONNECTED) fan = l->inputs;
    float w = fan ? sqrtf(3.0f / fan) : 0;
    if (l->weights) tu_fill(l->weights, l->nweights ? l->nweights : l->inputs * l->outputs, -w, w, rng);
    int nb = l->type == CONNECTED ? l->outputs : l->type == BATCHNORM ? l->c : l->n;
    if (l->biases) tu_fill(l->biases, nb, -0.2f, 0.2f, rng);
    if (l->scales) tu_fill(l->scales, nb, 0.6f, 1.4f, rng);
    if (l->rolling_mean) tu_fill(l->rolling_mean, nb, -0.2f, 0.2f, rng);
    if (l->rolling_variance) tu_fill(l->rolling_variance, nb, 0.5f, 1.5f, rng);
}

void tu_randomize(network *net, uint64_t seed)
{
    uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int k = 0; k < net->n; k++) fill_layer(&net->layers[k], &rng);
}

// ----------------------------------------------------------------------------------------------

struct tu_frozen {
    int n;
    float **rm, **rv;   // saved rolling statistics per layer
};

static int has_bn(const layer *l)
{
    return (l->batch_normalize || l->type == BATCHNORM) && l->rolling_mean;
}

tu_frozen *tu_freeze(network *net)
{
    tu_frozen *f = calloc(1, sizeof *f);
    f->n = net->n;
    f->rm = calloc(net->n, sizeof(float *));
    f->rv = calloc(net->n, sizeof(float *));
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        if (!has_bn(l)) continue;
        int c = l->out_c;
        f->rm[k] = malloc(c * sizeof(float));
        f->rv[k] = malloc(c * sizeof(float));
        memcpy(f->rm[k], l->rolling_mean, c * sizeof(float));
        memcpy(f->rv[k], l->rolling_variance, c * sizeof(float));
        // inference-mode forward normalises with rolling_*: make them the batch statistics
        memcpy(l->rolling_mean, l->mean, c * sizeof(float));
        memcpy(l->rolling_variance, l->variance, c * sizeof(float));
    }
    return f;
}

void tu_frozen_forward(network *netp, tu_frozen *f)
{
    // the statistics are the ones tu_freeze lent to this network's inference mode
    if (!f || f->n != netp->n) { fprintf(stderr, "tu_frozen_forward: not frozen by tu_freeze for this network\n"); abort(); }
    float *input = netp->input;
    for (int i = 0; i < netp->n; ++i) {
        layer l = netp->layers[i];
        if (l.delta) fill_cpu(l.outputs * l.batch, 0, l.delta, 1);
        // a layer with a random draw (dropout's mask, crop's window and flip) keeps the last one
        const eng_rule *r = eng_rule_of(l.type);
        if (r && r->held) r->held(&l, input, l.output);
        else dk_layer_forward(netp, i, input, 0);
        input = l.output;
    }
}

void tu_unfreeze(network *net, tu_frozen *f)
{
    for (int k = 0; k < f->n; k++) {
        if (!f->rm[k]) continue;
        layer *l = &net->layers[k];
        memcpy(l->rolling_mean, f->rm[k], l->out_c * sizeof(float));
        memcpy(l->rolling_variance, f->rv[k], l->out_c * sizeof(float));
        free(f->rm[k]);
        free(f->rv[k]);
    }
    free(f->rm);
    free(f->rv);
    free(f);
}

double tu_score(network *net, int top, int loss, const float *seed, const float *truth)
{
    const layer *sm = &net->layers[top];
    int K = sm->inputs;
    const float *z = top == 0 ? net->input : net->layers[top - 1].output;
    double S = 0;
    for (int b = 0; b < net->batch; b++) {
        const float *zb = z + b * K;
        if (loss) {
            double m = zb[0];
            for (int i = 1; i < K; i++) if (zb[i] > m) m = zb[i];
            double sum = 0;
            for (int i = 0; i < K; i++) sum += exp((zb[i] - m) / sm->temperature);
            double lse = log(sum);
            for (int i = 0; i < K; i++)
                if (truth[b * K + i] != 0) S -= truth[b * K + i] * ((zb[i] - m) / sm->temperature - lse);
        } else {
            for (int i = 0; i < K; i++) S += (double)seed[b * K + i] * zb[i];
        }
    }
    return S;
}

// ----------------------------------------------------------------------------------------------

const char *tu_darknet(void)
{
    const char *d = getenv("DARKNET");
    return d && *d ? d : "./darknet";
}

void tu_after_fork(void)
{
    gemm_set_threads(1);
}

int tu_run(const char *cmd, char *out, int outlen)
{
    size_t flen = strlen(cmd) + 8;
    char *full = malloc(flen);
    snprintf(full, flen, "%s 2>&1", cmd);
    fflush(stdout);
    fflush(stderr);
    FILE *p = popen(full, "r");
    free(full);
    if (!p) { perror(cmd); exit(2); }
    int len = 0, c;
    while ((c = fgetc(p)) != EOF) if (len < outlen - 1) out[len++] = (char)c;
    out[len] = 0;
    int st = pclose(p);
    // popen's shell reports a child killed by signal s as exit status 128 + s
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    tu_check_sanitizer(cmd, rc, out);
    return rc;
}

int tu_saliency(const char *env, const char *args, char *out, int outlen)
{
    size_t len = strlen(args) + (env ? strlen(env) : 0) + strlen(tu_darknet()) + 16;
    char *cmd = malloc(len);
    snprintf(cmd, len, "%s %s saliency %s", env ? env : "", tu_darknet(), args);
    int rc = tu_run(cmd, out, outlen);
    free(cmd);
    return rc;
}

void tu_dataset(const char *dir, int n, int w, int h, int classes, char *data, int datalen)
{
    char path[1024], list[1024], labels[1024], backup[1024];
    mkdir(dir, 0755);
    snprintf(list, sizeof list, "%s/train.list", dir);
    snprintf(labels, sizeof labels, "%s/labels.txt", dir);
    snprintf(backup, sizeof backup, "%s/backup", dir);
    mkdir(backup, 0755);
    FILE *fl = fopen(list, "w"), *fb = fopen(labels, "w");
    if (!fl || !fb) { perror(dir); exit(2); }
    for (int k = 0; k < classes; k++) fprintf(fb, "_lab%d.\n", k);   // unique substrings of the paths
    uint64_t rng = 77;
    for (int i = 0; i < n; i++) {
        image im = make_image(w, h, 3);
        float fx = 0.2f + tu_uniform(&rng), fy = 0.2f + tu_uniform(&rng), ph = 6.3f * tu_uniform(&rng);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    im.data[(c * h + y) * w + x] = 0.5f + 0.4f * sinf(fx * x + fy * y + ph + c + (i % classes));
        snprintf(path, sizeof path, "%s/img%03d_lab%d", dir, i, i % classes);
        save_image_options(im, path, PNG, 0);
        free_image(im);
        fprintf(fl, "%s.png\n", path);
    }
    fclose(fl);
    fclose(fb);
    snprintf(data, datalen, "%s/tiny.data", dir);
    char text[8192];
    snprintf(text, sizeof text, "classes=%d\ntrain=%s\nvalid=%s\nlabels=%s\nnames=%s\nbackup=%s\ntop=1\n",
             classes, list, list, labels, labels, backup);
    tu_write_text(data, text);
}

// ----------------------------------------------------------------------------------------------
// central differences

static double fd_tol(tu_fd_opts o, double num, double ana, double amax)
{
    return o.afloor + o.atol * amax + o.rtol * fmax(fabs(num), fabs(ana));
}

int tu_fd_one(tu_fn f, void *ctx, float *p, double ana, double amax, tu_fd_opts o, double *num)
{
    float v = *p;
    double est[4], fp[4], fm[4], dp[4], dm[4];
    int levels = o.levels < 2 ? 2 : o.levels > 4 ? 4 : o.levels;
    double abs = o.afloor + o.atol * amax;
    for (int j = 0; j < levels; j++) {
        double h = o.h / (1 << j);
        *p = (float)(v + h); dp[j] = (double)*p - v; fp[j] = f(ctx);
        *p = (float)(v - h); dm[j] = v - (double)*p; fm[j] = f(ctx);
        *p = v;
        est[j] = (fp[j] - fm[j]) / (dp[j] + dm[j]);
        if (j == 0) continue;
        double scale = fmax(fmax(fabs(est[j - 1]), fabs(est[j])), fabs(ana));
        if (fabs(est[j - 1] - est[j]) > o.agree * scale + abs) continue;
        if (o.curvature && j == 1) {
            // one-sided slopes: their difference is about h f'' when smooth, a jump at a kink
            double f0 = f(ctx);
            double s1 = (fp[0] - f0) / dp[0] - (f0 - fm[0]) / dm[0];
            double s2 = (fp[1] - f0) / dp[1] - (f0 - fm[1]) / dm[1];
            if (fabs(s1 - 2 * s2) > o.agree * scale + abs) return 1;
        }
        *num = est[j];
        return 0;
    }
    return 1;
}

int tu_fd_compare(const char *op, long index, double num, double ana, double amax, tu_fd_opts o, tu_fd_stats *st)
{
    static int printed;
    st->checked++;
    if (fabs(num - ana) <= fd_tol(o, num, ana, amax)) return 0;
    st->failed++;
    if (printed++ < 8)
        fprintf(stderr, "gradient check failed: op %s index %ld numeric %.9g analytic %.9g (|diff| %.3g, tolerance %.3g)\n",
                op, index, num, ana, fabs(num - ana), fd_tol(o, num, ana, amax));
    return 1;
}

tu_fd_stats tu_fd_check(const char *op, tu_fn f, void *ctx, float *t, int n, const float *analytic,
                        const int *idx, int nidx, int stride, tu_fd_opts o)
{
    tu_fd_stats st = {0, 0, 0};
    double amax = 0;
    for (int i = 0; i < n; i++) amax = fmax(amax, fabs(analytic[i]));
    int count = idx ? nidx : (n + (stride > 0 ? stride : 1) - 1) / (stride > 0 ? stride : 1);
    for (int c = 0; c < count; c++) {
        int i = idx ? idx[c] : c * (stride > 0 ? stride : 1);
        double num;
        if (tu_fd_one(f, ctx, &t[i], analytic[i], amax, o, &num)) { st.skipped++; continue; }
        tu_fd_compare(op, i, num, analytic[i], amax, o, &st);
    }
    return st;
}

// ----------------------------------------------------------------------------------------------
// the test networks

static const struct { const char *name, *cfg; } TESTNETS[] = {
    {"conv", TU_NET("[convolutional]\nfilters=3\nsize=3\nstride=1\npad=1\nactivation=leaky\n[connected]\noutput=4\nactivation=linear\n")},
    {"conv_bn", TU_NET("[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\nstride=1\npad=1\nactivation=relu\n[connected]\noutput=4\nactivation=linear\n")},
    {"conv_stride2_nopad", TU_NET("[convolutional]\nfilters=4\nsize=3\nstride=2\npad=0\nactivation=linear\n[connected]\noutput=3\nactivation=linear\n")},
    {"conv_groups", TU_NET("[convolutional]\nfilters=4\ngroups=2\nsize=3\nstride=1\npad=1\nactivation=tanh\n[connected]\noutput=3\nactivation=linear\n")},
    {"conv_1x1", TU_NET("[convolutional]\nbatch_normalize=1\nfilters=3\nsize=1\nstride=1\nactivation=logistic\n[connected]\noutput=3\nactivation=linear\n")},
    {"conv_1x1_stride2", TU_NET("[convolutional]\nfilters=3\nsize=1\nstride=2\nactivation=linear\n[connected]\noutput=3\nactivation=linear\n")},
    {"connected", TU_NET("[connected]\noutput=5\nactivation=logistic\n[connected]\noutput=4\nactivation=linear\n")},
    {"connected_bn", TU_NET("[connected]\nbatch_normalize=1\noutput=5\nactivation=leaky\n[connected]\noutput=4\nactivation=linear\n")},
    {"maxpool", TU_NET("[maxpool]\nsize=2\nstride=2\n")},
    {"maxpool_overlap", TU_NET("[convolutional]\nfilters=2\nsize=1\nactivation=linear\n[maxpool]\nsize=3\nstride=2\n[connected]\noutput=3\nactivation=linear\n")},
    {"avgpool", TU_NET("[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\n[avgpool]\n")},
    {"shortcut", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n[shortcut]\nfrom=-2\nactivation=leaky\n[connected]\noutput=3\nactivation=linear\n")},
    {"shortcut_downsample", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n[convolutional]\nfilters=2\nsize=3\nstride=2\npad=1\nactivation=linear\n[shortcut]\nfrom=-2\nactivation=linear\n[connected]\noutput=3\nactivation=linear\n")},
    {"upsample", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n[maxpool]\nsize=2\nstride=2\n"
                        "[upsample]\nstride=2\nscale=0.7\n[route]\nlayers=-1,-3\n[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
                        "[connected]\noutput=3\nactivation=linear\n")},
    {"upsample_reverse", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n[upsample]\nstride=-2\nscale=0.5\n"
                                "[connected]\noutput=3\nactivation=linear\n")},
    {"route", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n[convolutional]\nfilters=3\nsize=1\nactivation=tanh\n[route]\nlayers=-1,-2\n[connected]\noutput=3\nactivation=linear\n")},
    {"dropout", TU_NET("[connected]\noutput=8\nactivation=relu\n[dropout]\nprobability=.4\n[connected]\noutput=3\nactivation=linear\n")},
    {"activation", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n[activation]\nactivation=tanh\n[connected]\noutput=3\nactivation=linear\n")},
    {"batchnorm", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n[batchnorm]\n[connected]\noutput=3\nactivation=linear\n")},
    {"softmax_only", TU_NET("")},
    // alpha and beta other than darknet's default 1 (the transpose must not swap them), and a from
    // layer with fewer channels, whose non-overlapping values the forward does not scale by alpha
    {"shortcut_alpha_beta", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n[shortcut]\nfrom=-2\nalpha=0.7\nbeta=1.3\nactivation=leaky\n[connected]\noutput=3\nactivation=linear\n")},
    {"shortcut_fewer_channels", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n[shortcut]\nfrom=-2\nalpha=0.6\nbeta=1.4\nactivation=linear\n[connected]\noutput=3\nactivation=linear\n")},
    {"conv_stride2_groups", TU_NET("[convolutional]\nfilters=4\ngroups=2\nsize=3\nstride=2\npad=1\nactivation=leaky\n[connected]\noutput=3\nactivation=linear\n")},
    {"conv_1x1_logistic", TU_NET("[convolutional]\nbatch_normalize=1\nfilters=3\nsize=1\nstride=1\nactivation=logistic\n[connected]\noutput=3\nactivation=linear\n")},
    {"conv_tanh", TU_NET("[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=tanh\n[connected]\noutput=3\nactivation=linear\n")},
    {"connected_leaky", TU_NET("[connected]\noutput=5\nactivation=leaky\n[connected]\noutput=4\nactivation=linear\n")},
    {"connected_bn_tanh", TU_NET("[connected]\nbatch_normalize=1\noutput=5\nactivation=tanh\n[connected]\noutput=4\nactivation=linear\n")},
    {"conv_maxpool", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n[maxpool]\nsize=2\nstride=2\n[connected]\noutput=3\nactivation=linear\n")},
    {"route_linear", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n[convolutional]\nfilters=3\nsize=1\nactivation=linear\n[route]\nlayers=-1,-2\n[connected]\noutput=3\nactivation=linear\n")},
    {"dropout_03", TU_NET("[connected]\noutput=8\nactivation=relu\n[dropout]\nprobability=.3\n[connected]\noutput=3\nactivation=linear\n")},
    {"activation_batchnorm", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n[batchnorm]\n[activation]\nactivation=logistic\n[connected]\noutput=3\nactivation=linear\n")},
    // [crop]: a 4x4 window of the 6x6 input (training: drawn, with flip=1 mirrored half the time;
    // inference: the centre), colours 2x - 1, or with noadjust=1 unchanged
    // ramp (strided.cfg): 1.1x above zero, 0.1x below
    {"conv_ramp", TU_NET("[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=ramp\n[connected]\noutput=4\nactivation=ramp\n[connected]\noutput=3\nactivation=linear\n")},
    {"crop", TU_NET("[crop]\ncrop_height=4\ncrop_width=4\nflip=1\n[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=leaky\n[connected]\noutput=4\nactivation=linear\n")},
    {"crop_noadjust", TU_NET("[crop]\ncrop_height=3\ncrop_width=5\nnoadjust=1\n[connected]\noutput=4\nactivation=tanh\n[connected]\noutput=3\nactivation=linear\n")},
    {"shortcut_fewer_channels_alpha_beta", TU_NET("[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=leaky\n[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n[shortcut]\nfrom=-2\nalpha=0.6\nbeta=1.4\nactivation=leaky\n[connected]\noutput=3\nactivation=linear\n")},
};

const char *tu_testnet(const char *name)
{
    for (size_t i = 0; i < sizeof TESTNETS / sizeof TESTNETS[0]; i++)
        if (!strcmp(TESTNETS[i].name, name)) return TESTNETS[i].cfg;
    fprintf(stderr, "tu_testnet: no test network called '%s'\n", name);
    abort();
}

void tu_check_sanitizer(const char *cmd, int status, const char *out)
{
    if (status != TU_SANITIZER_STATUS) return;
    fprintf(stderr, "---- %s: exit %d, the sanitizer's report:\n%s\n---- end of the report\n", cmd, status, out);
    ck_abort_msg("sanitizer report (exit %d, printed above) from: %.300s", status, cmd);
}

// ----------------------------------------------------------------------------------------------

tu_case tu_case_new(const char *cfg, uint64_t seed, int train)
{
    tu_case c;
    c.net = tu_net(cfg);
    tu_randomize(c.net, seed);
    char err[512];
    c.e = eng_init(c.net, err, sizeof err);
    if (!c.e) { fprintf(stderr, "tu_case_new: %s\n", err); abort(); }
    c.B = c.net->batch;
    c.K = eng_classes(c.e);
    c.n = c.net->inputs * c.B;
    c.truth = calloc((size_t)c.B * c.K, sizeof(float));
    for (int b = 0; b < c.B; b++) c.truth[b * c.K + b % c.K] = 1;
    uint64_t rng = seed + 1;
    tu_fill(c.net->input, c.n, 0, 1, &rng);
    c.net->train = train;
    dk_forward(c.net);
    return c;
}

void tu_case_free(tu_case *c)
{
    free(c->truth);
    eng_free(c->e);
    dk_free(c->net);
}

const char *tu_fork_skip(const char *name)
{
#ifdef DK_FORK_AB
    if (!strncmp(name, "crop", 4)) return "AlexeyAB's [crop] keeps no record of its window: the engine refuses it there";
    if (!strcmp(name, "shortcut_downsample")) return "AlexeyAB's parser takes no shortcut whose from-layer has another size (patch 0020: an error naming it)";
#endif
    (void)name;
    return NULL;
}
