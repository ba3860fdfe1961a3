// check_scenes.c: the geometry of `prepare fashion-scenes` (src/scenes.h): the mask is non-zero
// exactly where a garment was drawn (elsewhere the pixels are the background's), the boxes are the
// visible pixels' extents, the overlap limit holds, object counts stay in range, the resampler's
// values by hand, the seed decides everything, impossible scenes are refused with a message.
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "scenes.h"

#define S 64
#define GR 7
#define GC 6

// n solid garments (every byte 255: a drawn garment is a whole rectangle), classes i % classes
static unsigned char *solid(int n, unsigned char *labels, int classes)
{
    unsigned char *g = malloc((size_t)n * GR * GC);
    memset(g, 255, (size_t)n * GR * GC);
    for (int i = 0; i < n; i++) labels[i] = (unsigned char)(i % classes);
    return g;
}

// garments with a shape: a bright blob with a dark rim (bytes below the threshold are not drawn)
static unsigned char *shaped(int n, unsigned char *labels, int classes)
{
    unsigned char *g = malloc((size_t)n * GR * GC);
    uint64_t r = 5;
    for (int i = 0; i < n; i++) {
        labels[i] = (unsigned char)((i * 3) % classes);
        for (int y = 0; y < GR; y++)
            for (int x = 0; x < GC; x++) {
                int rim = y == 0 || x == 0 || y == GR - 1 || x == GC - 1;
                g[(size_t)i * GR * GC + y * GC + x] = rim ? (unsigned char)(rng_next(&r) % 26) : (unsigned char)(40 + rng_next(&r) % 216);
            }
    }
    return g;
}

typedef struct { unsigned char rgb[3 * S * S], mask[S * S], inst[S * S]; scn_scene sc; } scene_buf;

START_TEST(mask_nonzero_exactly_where_drawn)
{
    unsigned char labels[12];
    unsigned char *g = shaped(12, labels, 10);
    scn_opts o = scn_defaults(S);
    o.scale_lo = 4; o.scale_hi = 6;   // 24 to 36 pixels wide
    o.max_overlap = 0.9;              // the first try always places everything: one background drawn
    static scene_buf b;
    unsigned char bg[3 * S * S];
    char err[512];
    for (uint64_t seed = 1; seed <= 30; seed++) {
        ck_assert_msg(scn_compose(&o, g, labels, 12, GR, GC, 10, seed, b.rgb, b.mask, b.inst, &b.sc, err, sizeof(err)) == 0, "%s", err);
        // the same draws as scn_compose's first try: the object count, then the background
        uint64_t r = seed;
        (void)rng_uniform(&r);
        scn_background(S, &r, bg);
        int drawn = 0;
        for (int p = 0; p < S * S; p++) {
            int differs = 0;
            for (int c = 0; c < 3; c++) differs |= b.rgb[c * S * S + p] != bg[c * S * S + p];
            // a garment pixel's colour is tint * (0.3 + 0.7 v) >= 0.105: it may equal the
            // background in every channel only by chance; none does for these seeds
            ck_assert_msg(differs == (b.mask[p] != 0), "seed %d pixel %d: mask %d, image %s the background",
                          (int)seed, p, b.mask[p], differs ? "differs from" : "equals");
            ck_assert_int_eq(b.mask[p] != 0, b.inst[p] != 0);
            if (b.inst[p]) {
                ck_assert_int_le(b.inst[p], b.sc.n);
                ck_assert_int_eq(b.mask[p], b.sc.obj[b.inst[p] - 1].cls + 1);
                ++drawn;
            }
        }
        ck_assert_int_gt(drawn, 0);
    }
    free(g);
}
END_TEST

START_TEST(boxes_are_the_visible_extents)
{
    unsigned char labels[12];
    unsigned char *g = shaped(12, labels, 10);
    scn_opts o = scn_defaults(S);
    o.scale_lo = 3; o.scale_hi = 6;
    static scene_buf b;
    char err[512];
    for (uint64_t seed = 100; seed < 130; seed++) {
        ck_assert_msg(scn_compose(&o, g, labels, 12, GR, GC, 10, seed, b.rgb, b.mask, b.inst, &b.sc, err, sizeof(err)) == 0, "%s", err);
        for (int k = 0; k < b.sc.n; k++) {
            int xmin = S, xmax = -1, ymin = S, ymax = -1, n = 0;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                    if (b.inst[y * S + x] == k + 1) {
                        ++n;
                        if (x < xmin) xmin = x;
                        if (x > xmax) xmax = x;
                        if (y < ymin) ymin = y;
                        if (y > ymax) ymax = y;
                    }
            ck_assert_int_gt(n, 0);
            ck_assert_int_eq(n, b.sc.obj[k].pixels);
            ck_assert_int_eq(b.sc.obj[k].cls, labels[b.sc.obj[k].src]);
            ck_assert_float_eq_tol(b.sc.obj[k].x, (xmin + xmax + 1) / 2.0 / S, 1e-6);
            ck_assert_float_eq_tol(b.sc.obj[k].y, (ymin + ymax + 1) / 2.0 / S, 1e-6);
            ck_assert_float_eq_tol(b.sc.obj[k].w, (xmax - xmin + 1.0) / S, 1e-6);
            ck_assert_float_eq_tol(b.sc.obj[k].h, (ymax - ymin + 1.0) / S, 1e-6);
        }
    }
    free(g);
}
END_TEST

// No overlap allowed and solid garments: every garment stays a whole rectangle, fully visible.
START_TEST(overlap_limit_holds)
{
    unsigned char labels[4];
    unsigned char *g = solid(4, labels, 4);
    scn_opts o = scn_defaults(S);
    o.max_overlap = 0;
    o.min_objects = 3; o.max_objects = 3;
    o.scale_lo = 3; o.scale_hi = 5;
    static scene_buf b;
    char err[512];
    for (uint64_t seed = 1; seed <= 40; seed++) {
        ck_assert_msg(scn_compose(&o, g, labels, 4, GR, GC, 4, seed, b.rgb, b.mask, b.inst, &b.sc, err, sizeof(err)) == 0, "%s", err);
        ck_assert_int_eq(b.sc.n, 3);
        for (int k = 0; k < 3; k++) {
            double area = b.sc.obj[k].w * S * b.sc.obj[k].h * S;
            ck_assert_msg(b.sc.obj[k].pixels == (int)(area + 0.5), "seed %d object %d: %d visible pixels in a %gx%g box",
                          (int)seed, k, b.sc.obj[k].pixels, b.sc.obj[k].w * S, b.sc.obj[k].h * S);
            ck_assert_int_ge((int)(b.sc.obj[k].w * S + 0.5), (int)(GC * 3 + 0.5));
        }
    }
    // with the default limit (a quarter), garments may touch: each keeps at least 3/4 of what it
    // covered when drawn, checked through the visible pixels of the solid rectangles
    o = scn_defaults(S);
    o.scale_lo = o.scale_hi = 4;      // every garment 24 x 28 = 672 pixels
    o.min_objects = o.max_objects = 3;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        ck_assert_msg(scn_compose(&o, g, labels, 4, GR, GC, 4, seed, b.rgb, b.mask, b.inst, &b.sc, err, sizeof(err)) == 0, "%s", err);
        for (int k = 0; k < 3; k++) ck_assert_int_ge(b.sc.obj[k].pixels, (int)(0.75 * 0.75 * 672) - 1);
        ck_assert_int_eq(b.sc.obj[2].pixels, 672);   // the last one is on top of everything
    }
    free(g);
}
END_TEST

START_TEST(object_counts_in_range)
{
    unsigned char labels[10];
    unsigned char *g = shaped(10, labels, 10);
    scn_opts o = scn_defaults(S);
    o.min_objects = 2; o.max_objects = 4;
    static scene_buf b;
    char err[512];
    int seen[SCN_MAX_OBJECTS + 1] = {0};
    for (uint64_t seed = 1; seed <= 200; seed++) {
        ck_assert_msg(scn_compose(&o, g, labels, 10, GR, GC, 10, scn_seed(seed, 0, 0), b.rgb, b.mask, b.inst, &b.sc, err, sizeof(err)) == 0, "%s", err);
        ck_assert_int_ge(b.sc.n, 2);
        ck_assert_int_le(b.sc.n, 4);
        seen[b.sc.n]++;
    }
    ck_assert_int_gt(seen[2], 30);
    ck_assert_int_gt(seen[3], 30);
    ck_assert_int_gt(seen[4], 30);
    free(g);
}
END_TEST

START_TEST(seed_decides_everything)
{
    unsigned char labels[10];
    unsigned char *g = shaped(10, labels, 10);
    scn_opts o = scn_defaults(S);
    static scene_buf a, b;
    char err[512];
    ck_assert_int_eq(scn_compose(&o, g, labels, 10, GR, GC, 10, scn_seed(7, 0, 3), a.rgb, a.mask, a.inst, &a.sc, err, sizeof(err)), 0);
    ck_assert_int_eq(scn_compose(&o, g, labels, 10, GR, GC, 10, scn_seed(7, 0, 3), b.rgb, b.mask, b.inst, &b.sc, err, sizeof(err)), 0);
    ck_assert(memcmp(a.rgb, b.rgb, sizeof(a.rgb)) == 0 && memcmp(a.mask, b.mask, sizeof(a.mask)) == 0);
    ck_assert_int_eq(scn_compose(&o, g, labels, 10, GR, GC, 10, scn_seed(7, 1, 3), b.rgb, b.mask, b.inst, &b.sc, err, sizeof(err)), 0);
    ck_assert(memcmp(a.rgb, b.rgb, sizeof(a.rgb)) != 0);
    ck_assert(scn_seed(7, 0, 3) != scn_seed(7, 0, 4) && scn_seed(7, 0, 3) != scn_seed(8, 0, 3) && scn_seed(7, 0, 3) != scn_seed(7, 1, 3));
    free(g);
}
END_TEST

START_TEST(backgrounds_vary)
{
    unsigned char bg[3 * S * S];
    double lo = 1e9, hi = -1e9;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        uint64_t r = seed;
        scn_background(S, &r, bg);
        double mean = 0, var = 0;
        for (int i = 0; i < 3 * S * S; i++) mean += bg[i];
        mean /= 3 * S * S;
        for (int i = 0; i < 3 * S * S; i++) var += (bg[i] - mean) * (bg[i] - mean);
        var /= 3 * S * S;
        ck_assert_double_gt(var, 1.0);   // never one flat colour
        if (mean < lo) lo = mean;
        if (mean > hi) hi = mean;
    }
    ck_assert_double_gt(hi - lo, 20);     // and not the same colour each time
    ck_assert_double_gt(hi, 40);          // nor simply black
}
END_TEST

START_TEST(resample_by_hand)
{
    const unsigned char src[4] = {0, 100, 200, 40};   // 2 x 2
    unsigned char dst[16];
    scn_resample(src, 2, 2, dst, 2, 2);
    ck_assert(memcmp(src, dst, 4) == 0);
    scn_resample(src, 2, 2, dst, 4, 4);
    // x = 0.5 -> source 0.75 ... the corners stay (clamped), the second column of row 0:
    // sx = (1 + 0.5) * 2/4 - 0.5 = 0.25: 0.75 * 0 + 0.25 * 100 = 25
    ck_assert_int_eq(dst[0], 0);
    ck_assert_int_eq(dst[1], 25);
    ck_assert_int_eq(dst[2], 75);
    ck_assert_int_eq(dst[3], 100);
    ck_assert_int_eq(dst[15], 40);
    // row 1 (sy = 0.25), column 0: 0.75 * 0 + 0.25 * 200 = 50
    ck_assert_int_eq(dst[4], 50);
    unsigned char flat[6] = {9, 9, 9, 9, 9, 9}, big[35];
    scn_resample(flat, 2, 3, big, 5, 7);
    for (int i = 0; i < 35; i++) ck_assert_int_eq(big[i], 9);
}
END_TEST

START_TEST(bad_options_and_impossible_scenes)
{
    char err[512];
    scn_opts o = scn_defaults(4);
    ck_assert_int_eq(scn_check(&o, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "scene size 4") != NULL, "%s", err);
    o = scn_defaults(S);
    o.min_objects = 3; o.max_objects = 2;
    ck_assert_int_eq(scn_check(&o, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "objects 3:2") != NULL, "%s", err);
    o = scn_defaults(S);
    o.max_overlap = 1;
    ck_assert_int_eq(scn_check(&o, err, sizeof(err)), -1);

    // two garments as large as the scene with no overlap allowed cannot be placed
    unsigned char labels[2];
    unsigned char *g = solid(2, labels, 2);
    static scene_buf b;
    o = scn_defaults(16);
    o.scale_lo = o.scale_hi = 20;
    o.max_overlap = 0;
    o.min_objects = o.max_objects = 2;
    o.attempts = 5;
    ck_assert_int_eq(scn_compose(&o, g, labels, 2, GR, GC, 2, 3, b.rgb, b.mask, b.inst, &b.sc, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "cannot place 2 garments in a 16x16 scene") != NULL, "%s", err);
    // a label out of range
    labels[1] = 5;
    o.min_objects = o.max_objects = 1;
    ck_assert_int_eq(scn_compose(&o, g, labels, 2, GR, GC, 2, 3, b.rgb, b.mask, b.inst, &b.sc, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "garment 1 has class 5") != NULL, "%s", err);
    free(g);
}
END_TEST

Suite *make_scenes_suite(void)
{
    Suite *s = suite_create("scenes");
    TCase *tc = tcase_create("geometry");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, mask_nonzero_exactly_where_drawn);
    tcase_add_test(tc, boxes_are_the_visible_extents);
    tcase_add_test(tc, overlap_limit_holds);
    tcase_add_test(tc, object_counts_in_range);
    tcase_add_test(tc, seed_decides_everything);
    tcase_add_test(tc, backgrounds_vary);
    tcase_add_test(tc, resample_by_hand);
    tcase_add_test(tc, bad_options_and_impossible_scenes);
    suite_add_tcase(s, tc);
    return s;
}
