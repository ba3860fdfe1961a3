// check_zoo.c: the model zoo. Every classifier cfg of the darknet tree being built (its cfg/*.cfg
// with a [softmax], minus the exclusions below, each with its reason) resized small (64x64, or its
// own size when smaller; 4 classes; batch 2), a [saliency] section appended (after the softmax, or
// after the [cost] that follows it), and one step of darknet's own training (train_network_datum,
// in-process: no image loading, no process start) with method=exact and with method=finite:
// R finite, every image's heatmap finite and not zero (and zero outside a [crop]'s window), the
// parameters finite after the update. Where a method is refused by design (darknet's backward of a
// [crop] is empty: method=finite; a hierarchical softmax: both), the refusal names the layer.
// ZOO_TIMES=1 prints each step's time; ZOO_CFG_DIR overrides the directory (the Makefile sets it).
#include <check.h>
#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "engine.h"
#include "engine_internal.h"
#include "parser.h"
#include "option_list.h"
#include "list.h"
#include "saliency_layer.h"
#include "saliency_util.h"
#include "testutil.h"
#include "utils.h"

#ifndef ZOO_CFG_DIR
#define ZOO_CFG_DIR "build/darknet/cfg"
#endif

// cfgs with a [softmax] that are not image classifiers to explain, and why
static const struct { const char *cfg, *why; } EXCLUDED[] = {
    {"go.cfg", "a Go policy net: a 19x19 one-channel board in, 361 moves out through a [reorg]; not an image classifier"},
    {"go.test.cfg", "the same Go net, for play"},
    {"gru.cfg", "recurrent: a character model over time steps ([gru]; weights in sub-layers, an empty CPU backward)"},
    {"rnn.cfg", "recurrent: a character model over time steps ([rnn]; weights in sub-layers)"},
    {"rnn.train.cfg", "recurrent: the rnn.cfg model for training"},
#ifdef DK_FORK_AB
    // AlexeyAB's tree (the pruned archive's cfg/: its 23 classifier cfgs)
    {"resnet50.cfg", "AlexeyAB's parser takes no shortcut whose from-layer has another size than the shortcut "
                     "(parse_shortcut: an assertion, an error naming it since patch 0020); this cfg's stride-2 "
                     "convolution sits inside the residual branch (../shared/spec/alexeyab.md 2, 4.9)"},
    {"resnet101.cfg", "the same shortcut of two sizes as resnet50.cfg"},
    {"resnet152.cfg", "the same shortcut of two sizes as resnet50.cfg"},
    {"resnext152-32x4d.cfg", "the same shortcut of two sizes as resnet50.cfg"},
    {"darknet53_448_xnor.cfg", "xnor=1 convolutions (binary weights and inputs): the engine has no rule for them, and "
                               "AlexeyAB's CPU training forward of this cfg crashes (a segmentation fault in darknet)"},
    {"efficientnet-lite3.cfg", "activation=relu6: AlexeyAB's CPU activate() has no case for it and returns 0, so every "
                               "output is 0 and darknet's backward (method=finite) gives a zero heatmap (spec 1)"},
#endif
};
#define N_EXCLUDED ((int)(sizeof EXCLUDED / sizeof EXCLUDED[0]))

#define ZOO_SIZE 64       // width and height (a [crop]'s window), or the cfg's own when smaller
#define ZOO_CROP_MARGIN 8 // a [crop]'s input is its window + this: the training draw has 9x9 offsets
#define ZOO_CLASSES 4
#define ZOO_BATCH 2
// exact rules vs darknet's backward: the heatmaps' relative L2 distance (measured at most 1.9e-6, resnet152.cfg)
#define ZOO_HEATMAP_RTOL 1e-4

static const char *cfg_dir(void)
{
    const char *d = getenv("ZOO_CFG_DIR");
    return d && *d ? d : ZOO_CFG_DIR;
}

// ----------------------------------------------------------------------------------------------
// the cfgs of the tree

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc(n + 1);
    if (fread(s, 1, n, f) != (size_t)n) n = 0;
    s[n] = 0;
    fclose(f);
    return s;
}

static int has_section(const char *text, const char *header)
{
    size_t n = strlen(header);
    for (const char *p = text; (p = strstr(p, header)); p += n)
        if (p == text || p[-1] == '\n') return 1;
    return 0;
}

static const char *excluded(const char *name)
{
    for (int i = 0; i < N_EXCLUDED; i++)
        if (!strcmp(EXCLUDED[i].cfg, name)) return EXCLUDED[i].why;
    return NULL;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// the classifier cfgs of the tree (a [softmax] section), sorted, exclusions included; NULL-terminated
static char **zoo_cfgs(int *count)
{
    static char **names;
    static int n;
    if (names) { *count = n; return names; }
    names = calloc(512, sizeof(char *));
    DIR *d = opendir(cfg_dir());
    for (struct dirent *ent; d && (ent = readdir(d)) && n < 511;) {
        size_t len = strlen(ent->d_name);
        if (len < 5 || strcmp(ent->d_name + len - 4, ".cfg")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", cfg_dir(), ent->d_name);
        char *text = read_text(path);
        if (text && has_section(text, "[softmax]")) names[n++] = strdup(ent->d_name);
        free(text);
    }
    if (d) closedir(d);
    qsort(names, n, sizeof(char *), cmp_names);
    *count = n;
    return names;
}

// ----------------------------------------------------------------------------------------------
// the cfg rewritten small: sections of key=value lines, edited, written back

typedef struct { char *head; char **lines; int n; } section;

static void trim(char *s)
{
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    char *b = s;
    while (isspace((unsigned char)*b)) b++;
    memmove(s, b, strlen(b) + 1);
}

static section *parse_sections(const char *text, int *count)
{
    section *s = calloc(2048, sizeof(section));
    int n = 0;
    char *copy = strdup(text);
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        trim(line);
        if (!line[0] || line[0] == '#' || line[0] == ';') continue;
        if (line[0] == '[') { s[n].head = strdup(line); s[n].lines = calloc(256, sizeof(char *)); n++; continue; }
        if (n && s[n - 1].n < 255) s[n - 1].lines[s[n - 1].n++] = strdup(line);
    }
    free(copy);
    *count = n;
    return s;
}

static char *get(section *s, const char *key)
{
    size_t k = strlen(key);
    for (int i = 0; i < s->n; i++)
        if (!strncmp(s->lines[i], key, k) && s->lines[i][k] == '=') return s->lines[i] + k + 1;
    return NULL;
}

// key=value in s: replaces the key's line, or adds one
static void set(section *s, const char *key, const char *fmt, ...)
{
    char val[1024], line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "%s=%s", key, val);
    size_t k = strlen(key);
    for (int i = 0; i < s->n; i++)
        if (!strncmp(s->lines[i], key, k) && s->lines[i][k] == '=') { free(s->lines[i]); s->lines[i] = strdup(line); return; }
    s->lines[s->n++] = strdup(line);
}

typedef struct {
    int crop;     // has a [crop]
    int tree;     // its top softmax is hierarchical (tree=)
    int size;     // the network's input width and height
    const char *ab_refused;   // AlexeyAB: what the engine refuses there by name (an option, an activation), or NULL
    int ab_exact_only;        // ... for method=exact only (darknet's own backward, method=finite, has the activation)
} zoo_info;

// The cfg text of name, resized: [net] size x size (a crop's window size, its input + the margin),
// batch 2, the classifier head (the last convolutional or connected layer before the top softmax)
// with 4 outputs (not a hierarchical softmax: its tree fixes the classes; its path made absolute),
// then the [saliency] section with method.
static char *zoo_text(const char *name, const char *method, zoo_info *info)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", cfg_dir(), name);
    char *text = read_text(path);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    int n;
    section *s = parse_sections(text, &n);
    free(text);
    memset(info, 0, sizeof *info);
    int top = -1, net = -1;
    for (int i = 0; i < n; i++) {
        if (!strcmp(s[i].head, "[softmax]")) top = i;
        if (!strcmp(s[i].head, "[net]") || !strcmp(s[i].head, "[network]")) net = i;
    }
    ck_assert_msg(net == 0 && top > 0, "%s: no [net] first or no [softmax]", name);
    int w = get(&s[net], "width") ? atoi(get(&s[net], "width")) : ZOO_SIZE;
    int size = w < ZOO_SIZE ? w : ZOO_SIZE;
    for (int i = 0; i < n; i++) {
        if (strcmp(s[i].head, "[crop]")) continue;
        int cw = get(&s[i], "crop_width") ? atoi(get(&s[i], "crop_width")) : ZOO_SIZE;
        int c = cw < ZOO_SIZE ? cw : ZOO_SIZE;
        set(&s[i], "crop_width", "%d", c);
        set(&s[i], "crop_height", "%d", c);
        size = c + ZOO_CROP_MARGIN;
        info->crop = 1;
    }
    info->size = size;
#ifdef DK_FORK_AB
    // what dk_alexeyab.c's dk_layer_refusal names: [crop] (both methods: the exact one refuses the
    // type there, the finite one stops at its empty backward), a softmax temperature (both), an
    // activation only AlexeyAB has (method=exact)
    static const char *ab_acts[] = {"relu6", "swish", "mish", "hard_mish", "gelu", "revleaky", "normalize_channels"};
    static char ab_why[64];
    if (info->crop) info->ab_refused = "this fork's crop keeps no record of its window";
    if (!info->ab_refused && get(&s[top], "temperature") && atof(get(&s[top], "temperature")) != 1) info->ab_refused = "temperature=";
    for (int i = 0; i < n && !info->ab_refused; i++)
        for (size_t a = 0; a < sizeof ab_acts / sizeof ab_acts[0]; a++)
            if (get(&s[i], "activation") && !strcmp(get(&s[i], "activation"), ab_acts[a])) {
                snprintf(ab_why, sizeof ab_why, "activation=%s", ab_acts[a]);
                info->ab_refused = ab_why;
                info->ab_exact_only = 1;
            }
#endif
    set(&s[net], "width", "%d", size);
    set(&s[net], "height", "%d", size);
    set(&s[net], "batch", "%d", ZOO_BATCH);
    set(&s[net], "subdivisions", "1");
    const char *tree = get(&s[top], "tree");
    if (tree) {
        char t[1024];
        snprintf(t, sizeof t, "%s", tree);
        set(&s[top], "tree", "%s/../%s", cfg_dir(), t);   // darknet reads it from the working directory
        info->tree = 1;
    } else {
        int head = -1;
        for (int i = top - 1; i > net && head < 0; i--)
            if (!strcmp(s[i].head, "[convolutional]") || !strcmp(s[i].head, "[connected]")) head = i;
        ck_assert_msg(head > 0, "%s: no convolutional or connected layer before the [softmax]", name);
        set(&s[head], !strcmp(s[head].head, "[connected]") ? "output" : "filters", "%d", ZOO_CLASSES);
    }
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    for (int i = 0; i < n; i++) {
        len += snprintf(out + len, cap - len, "%s\n", s[i].head);
        for (int j = 0; j < s[i].n; j++) { len += snprintf(out + len, cap - len, "%s\n", s[i].lines[j]); free(s[i].lines[j]); }
        len += snprintf(out + len, cap - len, "\n");
        free(s[i].head);
        free(s[i].lines);
    }
    free(s);
    snprintf(out + len, cap - len, "[saliency]\nregularizer=ssim\nformulation=loss\nweight=0.5\nmethod=%s\n", method);
    return out;
}

// ----------------------------------------------------------------------------------------------
// one step

// smooth random images in [0, 1] (sinusoids, as tu_dataset draws them) and one-hot labels b % K
static void fill_batch(network *net, uint64_t seed)
{
    uint64_t rng = seed;
    int w = net->w, h = net->h, c = net->c;
    for (int b = 0; b < net->batch; b++) {
        float fx = 0.2f + tu_uniform(&rng), fy = 0.2f + tu_uniform(&rng), ph = 6.3f * tu_uniform(&rng);
        for (int k = 0; k < c; k++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    net->input[((size_t)(b * c + k) * h + y) * w + x] = 0.5f + 0.4f * sinf(fx * x + fy * y + ph + k + b);
    }
    memset(net->truth, 0, (size_t)net->truths * net->batch * sizeof(float));
    for (int b = 0; b < net->batch; b++) net->truth[b * net->truths + b % net->truths] = 1;
}

static const char *METHODS[] = {"exact", "finite"};

// what a refused case's message must hold, or NULL when the step must run
static const char *refusal(const zoo_info *in, int m, const char **second)
{
    *second = NULL;
    if (in->tree) { *second = "no tree"; return "only a plain softmax"; }
    if (in->crop && m == 1) { *second = "method=exact"; return "layer 0 (crop)"; }
    if (in->ab_refused && (m == 0 || !in->ab_exact_only)) return in->ab_refused;   // AlexeyAB's build only
    return NULL;
}

// darknet's training step, its stderr (the section's progress line) to /dev/null
static void quiet_step(network *net)
{
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    srand(2);   // the crop's and the dropouts' draws: the same for both methods
    dk_train_datum(net);
    fclose(stderr);
    stderr = saved;
}

// A refused case: the training step in a child (the section ends the process with exit 1 and the
// message; its stderr into a file).
static void expect_refusal(const char *what, network *net, const char *m1, const char *m2)
{
    char errp[512];
    tu_path(errp, sizeof errp, "zoo-refused.err");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        tu_after_fork();
        if (!freopen(errp, "w", stderr)) _exit(99);
        srand(2);
        dk_train_datum(net);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    char *out = read_text(errp);
    const char *tail = out ? (strlen(out) > 600 ? out + strlen(out) - 600 : out) : "";
    tu_check_sanitizer(what, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out ? out : "");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: status %d (want exit 1, a refusal): %s", what, st, tail);
    const char *msg = out ? strstr(out, ".cfg: [saliency] (layer ") : NULL;
    ck_assert_msg(msg && strstr(msg, m1) && (!m2 || strstr(msg, m2)), "%s: the refusal should name '%s'%s%s: %s",
                  what, m1, m2 ? " and " : "", m2 ? m2 : "", tail);
    free(out);
}

// The [saliency] layer (the last) replaced by one with method m, as darknet's parser makes it.
static void set_method(network *net, int m)
{
    char line[64];
    snprintf(line, sizeof line, "method=%s", METHODS[m]);
    list *options = make_list();
    const char *keys[] = {"regularizer=ssim", "formulation=loss", "weight=0.5", line};
    for (int i = 0; i < 4; i++) read_option(strdup(keys[i]), options);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");   // its line of darknet's layer table
    layer l = parse_saliency(options, net->batch, net->layers[net->n - 1].inputs, net, net->n - 1, "zoo.cfg");
    fclose(stderr);
    stderr = saved;
    sal_free_data_cfg(options);
    free_layer(net->layers[net->n - 1]);
    net->layers[net->n - 1] = l;
}

// What a training step changes besides layer outputs: parameters, rolling statistics, update
// buffers (momentum keeps them), darknet's count of images seen (the learning rate's policy).
static void snap_params(network *net, eng_snap *s)
{
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        size_t n[3];
        if (eng_update_sizes(l, n)) continue;
        eng_snap_add(s, l->weights, n[0] * sizeof(float));
        eng_snap_add(s, l->weight_updates, n[0] * sizeof(float));
        eng_snap_add(s, l->biases, n[1] * sizeof(float));
        eng_snap_add(s, l->bias_updates, n[1] * sizeof(float));
        eng_snap_add(s, l->scales, n[2] * sizeof(float));
        eng_snap_add(s, l->scale_updates, n[2] * sizeof(float));
        if (l->rolling_mean) eng_snap_add(s, l->rolling_mean, n[1] * sizeof(float));
        if (l->rolling_variance) eng_snap_add(s, l->rolling_variance, n[1] * sizeof(float));
    }
    eng_snap_add(s, net->seen, sizeof *net->seen);
}

// One step of method m: the section's report, every image's heatmap finite and not zero (zero
// outside a crop's window), the parameters finite after the update. The heatmaps (batch, inputs)
// into g; 0, or 1 for a case refused (the refusal checked, g untouched).
static int zoo_step(network *net, const zoo_info *in, const char *name, int m, float *g)
{
    double t0 = what_time_is_it_now();
    char what[256];
    snprintf(what, sizeof what, "%s (%dx%d%s, method=%s)", name, in->size, in->size, in->crop ? ", a [crop]" : "", METHODS[m]);
    const char *m2, *m1 = refusal(in, m, &m2);
    if (m1) {
        expect_refusal(what, net, m1, m2);
        if (getenv("ZOO_TIMES")) printf("zoo: %-52s refused as it should be, %.2f s\n", what, what_time_is_it_now() - t0);
        return 1;
    }
    layer *sl = &net->layers[net->n - 1];
    quiet_step(net);
    eng_reg_report rep;
    ck_assert_msg(sal_layer_report(sl, &rep) == 1, "%s: the section took no step", what);
    const eng *e = sal_layer_engine(sl);
    ck_assert_msg(isfinite(rep.r_mean), "%s: R is %g", what, rep.r_mean);
    ck_assert_msg(rep.g_abs_mean > 0, "%s: mean |g| is %g", what, rep.g_abs_mean);
    int n1 = net->inputs, B = net->batch;
    memcpy(g, eng_last_heatmap(e), (size_t)n1 * B * sizeof(float));
    for (int b = 0; b < B; b++) {
        double sum = 0;
        for (int i = 0; i < n1; i++) sum += fabsf(g[(size_t)b * n1 + i]);
        ck_assert_msg(isfinite(sum) && sum > 0, "%s: image %d's heatmap: sum |g| = %g", what, b, sum);
    }
    if (in->crop) {
        // the gradient of the uncropped input: zero where that step's window did not read
        const layer *c = &net->layers[0];
        ck_assert(c->type == CROP);
        char *read = calloc((size_t)n1 * B, 1);
        for (int i = 0; i < c->outputs * c->batch; i++) read[c->indexes[i]] = 1;
        for (int i = 0; i < n1 * B; i++)
            ck_assert_msg(read[i] || g[i] == 0, "%s: heatmap %g at input %d, outside the crop's window", what, g[i], i);
        free(read);
    }
    char err[512];
    ck_assert_msg(eng_check_finite(e, 0, err, sizeof err) == 0, "%s: after the update: %s", what, err);
    if (getenv("ZOO_TIMES"))
        printf("zoo: %-52s R %-10.4g mean |g| %-9.3g step %.2f s\n", what, rep.r_mean, rep.g_abs_mean, what_time_is_it_now() - t0);
    return 0;
}

// Both methods on one cfg, parsed once: a step with method=exact, the parameters put back, a step
// with method=finite. Their heatmaps come from the same weights and images, by the engine's rules
// and by darknet's own backward: they must agree, a check of the rules against darknet on every
// network of the tree.
START_TEST(zoo_cfg_one_regularized_step)
{
    int n;
    char **names = zoo_cfgs(&n);
    const char *name = names[_i];
    if (excluded(name)) return;   // listed, with its reason, in EXCLUDED (and checked by the listing test)
    double t0 = what_time_is_it_now();
    zoo_info in;
    char *text = zoo_text(name, METHODS[0], &in);
    srand(1);   // darknet's random weights
    network *net = tu_net(text);
    free(text);
    ck_assert_msg(net->layers[net->n - 1].type == SALIENCY, "%s: the last layer is not the [saliency] section", name);
    double t1 = what_time_is_it_now();
    fill_batch(net, 7);
    size_t len = (size_t)net->inputs * net->batch;
    float *g0 = malloc(len * sizeof(float)), *g1 = malloc(len * sizeof(float));
    eng_snap before = {0};
    snap_params(net, &before);
    int r0 = zoo_step(net, &in, name, 0, g0);
    eng_snap_restore(&before);
    set_method(net, 1);
    int r1 = zoo_step(net, &in, name, 1, g1);
    if (!r0 && !r1) {
        double d = 0, a = 0;
        for (size_t i = 0; i < len; i++) { d += ((double)g0[i] - g1[i]) * ((double)g0[i] - g1[i]); a += (double)g0[i] * g0[i]; }
        double rel = sqrt(d / a);
        ck_assert_msg(rel <= ZOO_HEATMAP_RTOL, "%s: the exact rules' heatmap and darknet's backward's differ by %.3g (relative L2)", name, rel);
        if (getenv("ZOO_TIMES")) printf("zoo: %-52s heatmaps, exact vs darknet's backward: relative L2 %.3g\n", name, rel);
    }
    free(g0);
    free(g1);
    dk_free(net);
    if (getenv("ZOO_TIMES")) printf("zoo: %-52s parse %.2f s, all %.2f s\n", name, t1 - t0, what_time_is_it_now() - t0);
}
END_TEST

// The listing itself: the tree has classifier cfgs (a wrong directory would test nothing), every
// cfg is either stepped or excluded with a reason, and the cfgs the zoo suite exists for are in it.
START_TEST(zoo_lists_the_classifier_cfgs_of_the_tree)
{
    int n;
    char **names = zoo_cfgs(&n);
    ck_assert_msg(n >= 10, "only %d cfgs with a [softmax] in %s", n, cfg_dir());
    int stepped = 0;
    for (int i = 0; i < n; i++) stepped += !excluded(names[i]);
    ck_assert_msg(stepped >= 10, "only %d of %d cfgs are stepped", stepped, n);
    for (int i = 0; i < N_EXCLUDED; i++) ck_assert_msg(strlen(EXCLUDED[i].why) > 10, "%s: no reason", EXCLUDED[i].cfg);
    if (getenv("ZOO_TIMES")) {
        printf("zoo: %d classifier cfgs in %s, %d stepped; excluded:\n", n, cfg_dir(), stepped);
        for (int i = 0; i < n; i++) if (excluded(names[i])) printf("zoo:   %s: %s\n", names[i], excluded(names[i]));
    }
}
END_TEST

Suite *make_zoo_suite(void)
{
    Suite *s = suite_create("zoo");
    TCase *tc = tcase_create("classifier_cfgs");
    tcase_set_timeout(tc, 300);
    int n;
    zoo_cfgs(&n);
    tcase_add_test(tc, zoo_lists_the_classifier_cfgs_of_the_tree);
    tcase_add_loop_test(tc, zoo_cfg_one_regularized_step, 0, n);
    suite_add_tcase(s, tc);
    return s;
}
