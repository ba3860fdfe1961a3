// check_cfgs.c: the cfgs of cfg/ that users finetune with a [saliency] section.
//  - cfg/resnet{18,34,50}-224.cfg: darknet's own cfg/resnet*.cfg layer for layer (type, filters,
//    size, stride, activation, batch norm, output shape, weights count), so darknet's published
//    weights load into them; the reference's finetuning settings in [net]; a [saliency] section
//    with method=exact that the engine accepts on every layer; one regularized training step at
//    64x64, batch 2 (darknet's own train_network_datum): R finite, heatmaps non-zero, parameters
//    finite.
//  - cfg/fashion-resnet.cfg: one step with each regularizer of the library appended; its shortcuts
//    add maps of one size (both forks).
//  On AlexeyAB's tree the ResNet-224 cfgs are refused naming their first downsampling [shortcut]
//  (AB ships no resnet18/34.cfg, and its parser takes no shortcut of two sizes, its own resnet50.cfg's
//  included).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "reg.h"
#include "parser.h"
#include "saliency_layer.h"
#include "saliency_util.h"
#include "testutil.h"

#ifndef CFGS_DARKNET_DIR
#define CFGS_DARKNET_DIR "build/darknet/cfg"
#endif

static const int DEPTHS[] = {18, 34, 50};
#define N_DEPTHS ((int)(sizeof DEPTHS / sizeof DEPTHS[0]))

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc(n + 1);
    ck_assert(fread(s, 1, n, f) == (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

// the cfg text with [net]'s width, height, batch, subdivisions replaced (the other lines as they are;
// size 0 keeps width and height), and `extra` appended
static char *resized(const char *text, int size, int batch, const char *extra)
{
    size_t cap = strlen(text) + strlen(extra) + 256, len = 0;
    char *out = malloc(cap), *copy = strdup(text), *save = NULL;
    int in_net = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '[') in_net = !strcmp(line, "[net]");
        if (in_net && size && (!strncmp(line, "width=", 6) || !strncmp(line, "height=", 7))) {
            len += snprintf(out + len, cap - len, "%.*s%d\n", (int)(strchr(line, '=') - line + 1), line, size);
        } else if (in_net && !strncmp(line, "batch=", 6)) {
            len += snprintf(out + len, cap - len, "batch=%d\n", batch);
        } else if (in_net && !strncmp(line, "subdivisions=", 13)) {
            len += snprintf(out + len, cap - len, "subdivisions=1\n");
        } else {
            len += snprintf(out + len, cap - len, "%s\n", line);
        }
    }
    snprintf(out + len, cap - len, "%s", extra);
    free(copy);
    return out;
}

static network *quiet_net(const char *text)
{
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");   // darknet's layer table
    network *net = tu_net(text);
    fclose(stderr);
    stderr = saved;
    return net;
}

// smooth images in [0, 1] and one-hot labels b * 7 % K
static void fill_batch(network *net)
{
    int w = net->w, h = net->h, c = net->c;
    for (int b = 0; b < net->batch; b++)
        for (int k = 0; k < c; k++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    net->input[((size_t)(b * c + k) * h + y) * w + x] = 0.5f + 0.4f * sinf(0.3f * x + 0.2f * y * (b + 1) + k);
    memset(net->truth, 0, (size_t)net->truths * net->batch * sizeof(float));
    for (int b = 0; b < net->batch; b++) net->truth[b * net->truths + (b * 7) % net->truths] = 1;
}

// One step of darknet's training with the net's [saliency] section (the last layer): the section
// ran, R finite, every image's heatmap non-zero and finite, parameters finite after the update.
static void one_step(network *net, const char *what)
{
    layer *sl = &net->layers[net->n - 1];
    ck_assert_msg(sl->type == SALIENCY, "%s: the last layer is not a [saliency] section", what);
    fill_batch(net);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");   // the section's progress line
    srand(3);
    dk_train_datum(net);
    fclose(stderr);
    stderr = saved;
    eng_reg_report rep;
    ck_assert_msg(sal_layer_report(sl, &rep) == 1, "%s: the section took no step", what);
    ck_assert_msg(isfinite(rep.r_mean), "%s: R is %g", what, rep.r_mean);
    const eng *e = sal_layer_engine(sl);
    const float *g = eng_last_heatmap(e);
    int n = net->inputs;
    for (int b = 0; b < net->batch; b++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += fabsf(g[(size_t)b * n + i]);
        ck_assert_msg(isfinite(s) && s > 0, "%s: image %d: sum |g| = %g", what, b, s);
    }
    char err[512];
    ck_assert_msg(eng_check_finite(e, 0, err, sizeof err) == 0, "%s: after the update: %s", what, err);
}

#ifndef DK_FORK_AB   // pjreddie's tree: its resnet18/34/50.cfg, and shortcuts of two sizes
// darknet's layout: every layer of ours as darknet's own cfg has it, both parsed at 224x224, batch 1
START_TEST(resnet_cfg_is_darknets_layout)
{
    int depth = DEPTHS[_i];
    char path[512], dk[512];
    snprintf(path, sizeof path, "cfg/resnet%d-224.cfg", depth);
    snprintf(dk, sizeof dk, "%s/resnet%d.cfg", CFGS_DARKNET_DIR, depth);
    char *ours = read_text(path), *theirs = read_text(dk);
    // ours without its section (compared below the softmax), theirs resized to 224
    char *cut = strstr(ours, "\n[saliency]");
    ck_assert_msg(cut != NULL, "%s: no [saliency] section", path);
    ck_assert_msg(strstr(cut, "\nmethod=exact\n") && strstr(cut, "\nregularizer="), "%s: the section should say method=exact and a regularizer", path);
    *cut = 0;
    char *t1 = resized(ours, 0, 1, ""), *t2 = resized(theirs, 224, 1, "");
    srand(1);
    network *a = quiet_net(t1), *b = quiet_net(t2);
    ck_assert_int_eq(a->w, 224);
    ck_assert_int_eq(a->h, 224);
    ck_assert_int_eq(a->n, b->n);
    for (int k = 0; k < a->n; k++) {
        layer *x = &a->layers[k], *y = &b->layers[k];
        ck_assert_msg(x->type == y->type && x->n == y->n && x->size == y->size && x->stride == y->stride &&
                      x->activation == y->activation && x->batch_normalize == y->batch_normalize &&
                      x->nweights == y->nweights && x->out_c == y->out_c && x->out_h == y->out_h && x->out_w == y->out_w,
                      "%s: layer %d (%s) differs from %s's", path, k, get_layer_string(x->type), dk);
    }
    long wa = sal_weights_bytes(a), wb = sal_weights_bytes(b);
    ck_assert_msg(wa > 0 && wa == wb, "%s: a weights file of %ld bytes, darknet's cfg takes %ld", path, wa, wb);
    // the reference's finetuning settings (the whole [net], batch 64 in 8 subdivisions)
    dk_free(a);
    a = quiet_net(ours);
    ck_assert_int_eq(a->batch * a->subdivisions, 64);
    ck_assert_int_eq(a->policy, CONSTANT);
    ck_assert_int_eq(a->max_batches, 500);
    ck_assert_double_eq_tol(a->learning_rate, 2e-4, 1e-9);
    ck_assert_double_eq_tol(a->momentum, 0.9, 1e-6);
    ck_assert_double_eq_tol(a->decay, 1e-4, 1e-9);
    dk_free(a);
    dk_free(b);
    free(t1); free(t2); free(ours); free(theirs);
}
END_TEST

// the engine takes every layer with method=exact, and a regularized step runs (64x64, batch 2)
START_TEST(resnet_cfg_one_regularized_step)
{
    int depth = DEPTHS[_i];
    char path[512], what[600];
    snprintf(path, sizeof path, "cfg/resnet%d-224.cfg", depth);
    char *text = read_text(path), *small = resized(text, 64, 2, "");
    srand(1);
    network *net = quiet_net(small);
    char err[512];
    eng *e = eng_init_for(net, 1, err, sizeof err);
    ck_assert_msg(e != NULL, "%s: the engine refuses a layer for method=exact: %s", path, err);
    eng_free(e);
    snprintf(what, sizeof what, "%s at 64x64, batch 2", path);
    one_step(net, what);
    dk_free(net);
    free(text); free(small);
}
END_TEST

#endif

// the small Fashion-MNIST ResNet, with every regularizer of the library, and plainly
START_TEST(fashion_resnet_every_regularizer)
{
    char *text = read_text("cfg/fashion-resnet.cfg");
    ck_assert_msg(!strstr(text, "\n[saliency]"), "cfg/fashion-resnet.cfg is the plain net (the script appends the section)");
    char *plain = resized(text, 0, 2, "");
    srand(1);
    network *net = quiet_net(plain);
    ck_assert_int_eq(net->w, 28);
    fill_batch(net);
    dk_train_datum(net);
    ck_assert(isfinite(*net->cost));
    dk_free(net);
    free(plain);
    ck_assert_int_ge(reg_count(), 13);
    for (int i = 0; i < reg_count(); i++) {
        const reg_def *r = reg_at(i);
        char sec[256], what[300];
        snprintf(sec, sizeof sec, "\n[saliency]\nregularizer=%s\nformulation=onehot\nweight=0.5\nmethod=exact\n", r->name);
        char *t = resized(text, 0, 2, sec);
        srand(1);
        net = quiet_net(t);
        snprintf(what, sizeof what, "cfg/fashion-resnet.cfg with regularizer=%s", r->name);
        one_step(net, what);
        dk_free(net);
        free(t);
    }
    // the noise keys through the section: a step with input and heatmap noise
    char *t = resized(text, 0, 2, "\n[saliency]\nregularizer=ssim\nweight=0.5\ninput_noise=0.1\ninput_noise_samples=2\nheatmap_noise=0.1\nseed=3\n");
    srand(1);
    net = quiet_net(t);
    one_step(net, "cfg/fashion-resnet.cfg with input and heatmap noise");
    dk_free(net);
    free(t);
    free(text);
}
END_TEST

// the small ResNet's shortcuts add maps of one size (projections on the downsampling blocks), so
// the cfg means the same on both forks: pjreddie's subsampling and AB's refusal never come in
START_TEST(fashion_resnet_shortcuts_add_equal_sizes)
{
    char *text = read_text("cfg/fashion-resnet.cfg"), *plain = resized(text, 0, 1, "");
    network *net = quiet_net(plain);
    int shortcuts = 0, projections = 0;
    for (int k = 0; k < net->n; k++) {
        layer *l = &net->layers[k];
        if (l->type != SHORTCUT) continue;
        layer *from = &net->layers[l->index], *prev = &net->layers[k - 1];
        ck_assert_msg(from->out_w == prev->out_w && from->out_h == prev->out_h && from->out_c == prev->out_c,
                      "layer %d: [shortcut] adds %dx%dx%d to %dx%dx%d", k, from->out_w, from->out_h, from->out_c,
                      prev->out_w, prev->out_h, prev->out_c);
        shortcuts++;
        projections += prev->type == CONVOLUTIONAL && prev->size == 1 && prev->stride == 2;
    }
    ck_assert_int_eq(shortcuts, 3);
    ck_assert_int_eq(projections, 2);
    dk_free(net);
    free(plain);
    free(text);
}
END_TEST

#ifdef DK_FORK_AB
// AB's parser takes no shortcut of two sizes (patch alexeyab/0020: an error, not an abort): the
// ResNet cfgs (darknet's layout, pjreddie's subsampling shortcut) are refused naming the section
START_TEST(resnet_cfg_refused_naming_the_shortcut)
{
    char args[512], out[8192], want[256];
    snprintf(args, sizeof args, "gradcheck cfg/resnet%d-224.cfg", DEPTHS[_i]);
    int rc = tu_saliency(NULL, args, out, sizeof out);
    ck_assert_msg(rc == 1, "%s: exit %d (want 1): %s", args, rc, out);
    snprintf(want, sizeof want, "cfg/resnet%d-224.cfg: [shortcut] (layer ", DEPTHS[_i]);
    ck_assert_msg(strstr(out, want) && strstr(out, "): from=-") && strstr(out, "'s output is ") && strstr(out, "equal width and height only"),
                  "%s: the message does not name the cfg, the section and the sizes: %s", args, out);
}
END_TEST
#endif

// scripts/science.sh's runs: the control, every regularizer of the library at 3 weights or more
// (exact), ssim and tv also with method=finite
START_TEST(science_runs_every_regularizer)
{
    char out[65536];
    int rc = tu_run("scripts/science.sh --list", out, sizeof out);
    ck_assert_msg(rc == 0, "science.sh --list: exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "none none 0 none\n") == out, "the control first: %.200s", out);
    for (int i = 0; i < reg_count(); i++) {
        const char *name = reg_at(i)->name;
        int exact = 0, finite = 0;
        char pat[128];
        for (const char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            snprintf(pat, sizeof pat, " %s ", name);
            const char *sp = strchr(line, ' ');
            if (!sp || strncmp(sp, pat, strlen(pat))) continue;
            const char *nl = strchr(line, '\n');
            int len = nl ? (int)(nl - line) : (int)strlen(line);
            if (len > 7 && !strncmp(line + len - 6, " exact", 6)) exact++;
            if (len > 8 && !strncmp(line + len - 7, " finite", 7)) finite++;
        }
        ck_assert_msg(exact >= 3, "science.sh runs %s at %d weights (exact), want 3 or more", name, exact);
        if (!strcmp(name, "ssim") || !strcmp(name, "tv")) ck_assert_msg(finite >= 1, "science.sh runs %s with method=finite %d times", name, finite);
    }
}
END_TEST

Suite *make_cfgs_suite(void)
{
    Suite *s = suite_create("cfgs");
    TCase *tc = tcase_create("cfgs");
    tcase_set_timeout(tc, 120);
#ifdef DK_FORK_AB
    tcase_add_loop_test(tc, resnet_cfg_refused_naming_the_shortcut, 0, N_DEPTHS);
#else
    tcase_add_loop_test(tc, resnet_cfg_is_darknets_layout, 0, N_DEPTHS);
    tcase_add_loop_test(tc, resnet_cfg_one_regularized_step, 0, N_DEPTHS);
#endif
    tcase_add_test(tc, fashion_resnet_every_regularizer);
    tcase_add_test(tc, fashion_resnet_shortcuts_add_equal_sizes);
    tcase_add_test(tc, science_runs_every_regularizer);
    suite_add_tcase(s, tc);
    return s;
}
