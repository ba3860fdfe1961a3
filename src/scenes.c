// scenes.c: the geometry of `prepare fashion-scenes` (scenes.h): backgrounds, garment resampling,
// placement under the overlap limit, masks and boxes. Bytes in, bytes out: the PNGs hold exactly
// these values.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "scenes.h"

scn_opts scn_defaults(int size)
{
    scn_opts o;
    o.size = size;
    o.min_objects = 1;
    o.max_objects = 3;
    o.scale_lo = 0.8;
    o.scale_hi = 1.6;
    o.max_overlap = 0.25;
    o.threshold = 26;
    o.attempts = 100;
    return o;
}

int scn_check(const scn_opts *o, char *err, size_t errlen)
{
    if (o->size < 8 || o->size > 1024) { snprintf(err, errlen, "scene size %d: give 8 to 1024 pixels", o->size); return -1; }
    if (o->min_objects < 1 || o->max_objects > SCN_MAX_OBJECTS || o->min_objects > o->max_objects) {
        snprintf(err, errlen, "objects %d:%d: give MIN:MAX with 1 <= MIN <= MAX <= %d", o->min_objects, o->max_objects, SCN_MAX_OBJECTS);
        return -1;
    }
    if (!(o->scale_lo > 0 && o->scale_lo <= o->scale_hi)) { snprintf(err, errlen, "scales %g:%g: give 0 < lo <= hi", o->scale_lo, o->scale_hi); return -1; }
    if (!(o->max_overlap >= 0 && o->max_overlap < 1)) { snprintf(err, errlen, "overlap limit %g: give 0 <= limit < 1", o->max_overlap); return -1; }
    if (o->threshold < 1 || o->threshold > 255) { snprintf(err, errlen, "threshold %d: give 1 to 255", o->threshold); return -1; }
    if (o->attempts < 1) { snprintf(err, errlen, "attempts %d: give at least 1", o->attempts); return -1; }
    return 0;
}

// splitmix64's finaliser: neighbouring (seed, set, index) give unrelated states
static uint64_t scn_mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t scn_seed(uint64_t seed, int set, int index)
{
    return scn_mix(scn_mix(seed) ^ ((uint64_t)(unsigned)set << 40) ^ (uint64_t)(unsigned)index);
}

static unsigned char scn_byte(double v)
{
    v = floor(v * 255.0 + 0.5);
    return (unsigned char)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

void scn_background(int S, uint64_t *rng, unsigned char *rgb) // rgb (3, S, S)
{
    double c0[3], c1[3];
    for (int c = 0; c < 3; c++) c0[c] = 0.7 * rng_uniform(rng);
    for (int c = 0; c < 3; c++) c1[c] = 0.7 * rng_uniform(rng);
    double th = 6.283185307179586 * rng_uniform(rng);
    double dx = cos(th), dy = sin(th);
    double noise = 0.08 * rng_uniform(rng);
    // t = the projection on the direction, 0 .. 1 over the image
    double lo = 0, hi = 0;
    double corner[4] = {0, dx * (S - 1), dy * (S - 1), dx * (S - 1) + dy * (S - 1)};
    for (int i = 0; i < 4; i++) { if (corner[i] < lo) lo = corner[i]; if (corner[i] > hi) hi = corner[i]; }
    double span = hi - lo > 0 ? hi - lo : 1;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double t = (dx * x + dy * y - lo) / span;
            for (int c = 0; c < 3; c++)
                rgb[(size_t)c * S * S + y * S + x] = scn_byte(c0[c] + (c1[c] - c0[c]) * t + noise * rng_normal(rng));
        }
}

void scn_resample(const unsigned char *src, int rows, int cols, unsigned char *dst, int dh, int dw)
{
    for (int y = 0; y < dh; y++) {
        double sy = (y + 0.5) * rows / dh - 0.5;
        if (sy < 0) sy = 0;
        if (sy > rows - 1) sy = rows - 1;
        int y0 = (int)sy, y1 = y0 + 1 < rows ? y0 + 1 : y0;
        double fy = sy - y0;
        for (int x = 0; x < dw; x++) {
            double sx = (x + 0.5) * cols / dw - 0.5;
            if (sx < 0) sx = 0;
            if (sx > cols - 1) sx = cols - 1;
            int x0 = (int)sx, x1 = x0 + 1 < cols ? x0 + 1 : x0;
            double fx = sx - x0;
            double v = (1 - fy) * ((1 - fx) * src[y0 * cols + x0] + fx * src[y0 * cols + x1])
                     + fy * ((1 - fx) * src[y1 * cols + x0] + fx * src[y1 * cols + x1]);
            dst[y * dw + x] = (unsigned char)floor(v + 0.5);
        }
    }
}

// ---------------------------------------------------------------------------------------------

// One try at a whole scene; 0 when every garment found a place.
static int scn_try(const scn_opts *o, const unsigned char *src, const unsigned char *labels, int count,
                   int rows, int cols, uint64_t *rng, int nobj, unsigned char *rgb, unsigned char *mask,
                   unsigned char *inst, unsigned char *patch, scn_scene *out)
{
    int S = o->size;
    scn_background(S, rng, rgb);
    memset(mask, 0, (size_t)S * S);
    memset(inst, 0, (size_t)S * S);
    out->n = 0;
    int visible[SCN_MAX_OBJECTS] = {0};
    for (int k = 0; k < nobj; k++) {
        int placed = 0;
        for (int a = 0; a < o->attempts && !placed; a++) {
            int g = (int)(rng_uniform(rng) * count);
            double scale = o->scale_lo + (o->scale_hi - o->scale_lo) * rng_uniform(rng);
            int dw = (int)floor(cols * scale * S / 64.0 + 0.5), dh = (int)floor(rows * scale * S / 64.0 + 0.5);
            if (dw < 1) dw = 1;
            if (dh < 1) dh = 1;
            if (dw > S) dw = S;
            if (dh > S) dh = S;
            int x0 = (int)(rng_uniform(rng) * (S - dw + 1)), y0 = (int)(rng_uniform(rng) * (S - dh + 1));
            double tint[3];
            for (int c = 0; c < 3; c++) tint[c] = 0.35 + 0.65 * rng_uniform(rng);
            scn_resample(src + (size_t)g * rows * cols, rows, cols, patch, dh, dw);
            // its drawn pixels and what they would cover
            int own = 0, over = 0, covered[SCN_MAX_OBJECTS] = {0};
            for (int y = 0; y < dh; y++)
                for (int x = 0; x < dw; x++) {
                    if (patch[y * dw + x] < o->threshold) continue;
                    ++own;
                    int j = inst[(y0 + y) * S + x0 + x];
                    if (j) { ++over; ++covered[j - 1]; }
                }
            if (own == 0 || over > o->max_overlap * own) continue;
            int ok = 1;
            for (int j = 0; j < k; j++) if (covered[j] > o->max_overlap * visible[j]) ok = 0;
            if (!ok) continue;
            for (int y = 0; y < dh; y++)
                for (int x = 0; x < dw; x++) {
                    int v = patch[y * dw + x];
                    if (v < o->threshold) continue;
                    size_t p = (size_t)(y0 + y) * S + x0 + x;
                    int j = inst[p];
                    if (j) --visible[j - 1];
                    inst[p] = (unsigned char)(k + 1);
                    mask[p] = (unsigned char)(labels[g] + 1);
                    for (int c = 0; c < 3; c++) rgb[(size_t)c * S * S + p] = scn_byte(tint[c] * (0.3 + 0.7 * v / 255.0));
                }
            visible[k] = own;
            out->obj[k].cls = labels[g];
            out->obj[k].src = g;
            placed = 1;
        }
        if (!placed) return -1;
        out->n = k + 1;
    }
    // the boxes of what stayed visible
    for (int k = 0; k < out->n; k++) {
        int xmin = S, ymin = S, xmax = -1, ymax = -1, n = 0;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                if (inst[y * S + x] != k + 1) continue;
                ++n;
                if (x < xmin) xmin = x;
                if (x > xmax) xmax = x;
                if (y < ymin) ymin = y;
                if (y > ymax) ymax = y;
            }
        out->obj[k].pixels = n;
        out->obj[k].x = (float)((xmin + xmax + 1) / 2.0 / S);
        out->obj[k].y = (float)((ymin + ymax + 1) / 2.0 / S);
        out->obj[k].w = (float)((double)(xmax - xmin + 1) / S);
        out->obj[k].h = (float)((double)(ymax - ymin + 1) / S);
    }
    return 0;
}

int scn_compose(const scn_opts *o, const unsigned char *src, const unsigned char *labels, int count,
                int rows, int cols, int classes, uint64_t seed, unsigned char *rgb, unsigned char *mask,
                unsigned char *inst, scn_scene *out, char *err, size_t errlen)
{
    if (scn_check(o, err, errlen)) return -1;
    if (count < 1 || rows < 1 || cols < 1) { snprintf(err, errlen, "no garments to draw (%d images of %dx%d)", count, cols, rows); return -1; }
    if (classes < 1 || classes > 254) { snprintf(err, errlen, "%d classes: a mask byte holds 1 to 254", classes); return -1; }
    for (int i = 0; i < count; i++)
        if (labels[i] >= classes) { snprintf(err, errlen, "garment %d has class %d, not below %d", i, labels[i], classes); return -1; }
    int S = o->size;
    int pw = (int)ceil(cols * o->scale_hi * S / 64.0) + 1, ph = (int)ceil(rows * o->scale_hi * S / 64.0) + 1;
    if (pw > S) pw = S;
    if (ph > S) ph = S;
    unsigned char *patch = malloc((size_t)pw * ph);
    if (!patch) { snprintf(err, errlen, "out of memory for a %dx%d garment", pw, ph); return -1; }
    uint64_t rng = seed ? seed : 1;
    int nobj = o->min_objects + (int)(rng_uniform(&rng) * (o->max_objects - o->min_objects + 1));
    int rc = -1;
    for (int restart = 0; restart < 20 && rc; restart++)
        rc = scn_try(o, src, labels, count, rows, cols, &rng, nobj, rgb, mask, inst, patch, out);
    free(patch);
    if (rc) snprintf(err, errlen, "cannot place %d garments in a %dx%d scene with at most %g overlap (20 restarts of %d tries each):"
                     " give fewer objects or a larger size", nobj, S, S, o->max_overlap, o->attempts);
    return rc;
}
