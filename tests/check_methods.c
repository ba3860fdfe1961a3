// check_methods.c: the saliency methods' substrate and table (src/methods.h): the engine's batches
// (eng_predict, eng_logit_grad) against one image at a time, a network parsed for another batch
// (patch 0022), vanilla and gradient x input, the method names.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "methods.h"
#include "parser.h"
#include "testutil.h"

static const char *CFG = "[net]\nbatch=2\nwidth=12\nheight=12\nchannels=3\n" TU_RESNET_BODY;

static network *parsed(int batch, uint64_t seed)
{
    char path[512];
    tu_path(path, sizeof path, "methods.cfg");
    tu_write_text(path, CFG);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    network *net = dk_parse(path, batch);
    fclose(stderr);
    stderr = saved;
    tu_randomize(net, seed);
    return net;
}

// patch 0022 and the engine's batches: 7 images through a net made for 8 (one short batch), a
// net made for 3 (batches of 3, 3, 1) and the cfg's batch 2, image by image, agree
START_TEST(batches_give_what_one_image_at_a_time_gives)
{
    const int N = 7;
    network *n8 = parsed(8, 5), *n3 = parsed(3, 5), *n2 = parsed(0, 5);
    ck_assert_int_eq(n8->batch, 8);
    ck_assert_int_eq(n3->batch, 3);
    ck_assert_int_eq(n2->batch, 2);   // batch 0: the cfg's
    char err[512];
    eng *e8 = eng_init(n8, err, sizeof err), *e3 = eng_init(n3, err, sizeof err), *e2 = eng_init(n2, err, sizeof err);
    int m = eng_inputs(e8), K = eng_classes(e8);
    float *x = malloc(N * m * sizeof(float));
    uint64_t rng = 9;
    tu_fill(x, N * m, 0, 1, &rng);
    int cls[7] = {0, 1, 2, 3, 4, 0, 2};
    float *g8 = malloc(N * m * sizeof(float)), *g3 = malloc(N * m * sizeof(float)), *g1 = malloc(m * sizeof(float));
    float *p8 = malloc(N * K * sizeof(float)), *p3 = malloc(N * K * sizeof(float)), p1[16], z1[16], z8[7 * 16];
    ck_assert_int_eq(eng_logit_grad(e8, x, N, cls, g8, z8, p8), 0);
    for (int b = 0; b < N; b += 3) {
        int nb = N - b < 3 ? N - b : 3;
        ck_assert_int_eq(eng_logit_grad(e3, x + b * m, nb, cls + b, g3 + b * m, NULL, p3 + b * K), 0);
    }
    ck_assert_int_eq(n3->batch, 3);   // the short batch gave the net its batch back
    for (int b = 0; b < N; b++) {
        ck_assert_int_eq(eng_logit_grad(e2, x + b * m, 1, cls + b, g1, z1, p1), 0);
        for (int i = 0; i < m; i++) {
            ck_assert_float_eq_tol(g8[b * m + i], g1[i], 1e-5f * (1 + fabsf(g1[i])));
            ck_assert_float_eq_tol(g3[b * m + i], g1[i], 1e-5f * (1 + fabsf(g1[i])));
        }
        for (int k = 0; k < K; k++) {
            ck_assert_float_eq_tol(p8[b * K + k], p1[k], 1e-6f);
            ck_assert_float_eq_tol(p3[b * K + k], p1[k], 1e-6f);
            ck_assert_float_eq_tol(z8[b * K + k], z1[k], 1e-5f * (1 + fabsf(z1[k])));
        }
        float p[16];
        eng_predict(e3, x + b * m, 1, NULL, p);
        for (int k = 0; k < K; k++) ck_assert_float_eq_tol(p[k], p1[k], 1e-6f);
    }
    free(x); free(g8); free(g3); free(g1); free(p8); free(p3);
    eng_free(e8); eng_free(e3); eng_free(e2);
    dk_free(n8); dk_free(n3); dk_free(n2);
}
END_TEST

START_TEST(vanilla_and_gradxinput)
{
    network *net = parsed(4, 3);
    char err[512];
    eng *e = eng_init(net, err, sizeof err);
    int m = eng_inputs(e);
    float *x = malloc(m * sizeof(float)), *g = malloc(m * sizeof(float)), *map = malloc(m * sizeof(float));
    uint64_t rng = 4;
    tu_fill(x, m, 0, 1, &rng);
    int cls = 2;
    ck_assert_int_eq(eng_logit_grad(e, x, 1, &cls, g, NULL, NULL), 0);
    mth_opts o;
    mth_defaults(&o);
    mth_info info = {"", 0};
    const mth_def *v = mth_lookup("vanilla", err, sizeof err), *gx = mth_lookup("gradxinput", err, sizeof err);
    ck_assert(v && gx);
    ck_assert_int_eq(v->fn(e, x, cls, &o, map, &info, err, sizeof err), 0);
    for (int i = 0; i < m; i++) ck_assert_float_eq_tol(map[i], g[i], 1e-6f * (1 + fabsf(g[i])));
    ck_assert_int_eq(gx->fn(e, x, cls, &o, map, &info, err, sizeof err), 0);
    for (int i = 0; i < m; i++) ck_assert_float_eq_tol(map[i], g[i] * x[i], 1e-6f * (1 + fabsf(g[i])));
    ck_assert_int_eq(info.evaluations, 2);
    ck_assert(mth_lookup("occlusio", err, sizeof err) == NULL);
    ck_assert_msg(strstr(err, "vanilla") && strstr(err, "gradxinput"), "%s", err);
    free(x); free(g); free(map);
    eng_free(e);
    dk_free(net);
}
END_TEST

Suite *make_methods_suite(void)
{
    Suite *s = suite_create("methods");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, batches_give_what_one_image_at_a_time_gives);
    tcase_add_test(tc, vanilla_and_gradxinput);
    suite_add_tcase(s, tc);
    return s;
}
