// scenes.h: scenes with ground truth for localisation (`saliency prepare fashion-scenes`): S x S
// colour images of 1 to 3 garments (Fashion-MNIST bytes, scaled and tinted) pasted on a smooth
// random gradient with noise, each with its class mask and the boxes of the visible garments.
// Pure code: byte arrays and sizes, no darknet types, never prints.
#ifndef SALIENCY_SCENES_H
#define SALIENCY_SCENES_H

#include <stddef.h>
#include <stdint.h>

#define SCN_MAX_OBJECTS 8

typedef struct {
    int size;               // S: scenes are S x S (8 .. 1024)
    int min_objects;        // garments per scene, drawn uniformly in [min, max] (1 .. SCN_MAX_OBJECTS)
    int max_objects;
    double scale_lo;        // a garment of cols x rows source pixels is drawn round(cols * scale * S / 64)
    double scale_hi;        // wide, scale uniform in [lo, hi] (0.8, 1.6: 22 to 45 pixels of a 64 x 64 scene)
    double max_overlap;     // a new garment may cover at most this share of its own pixels' with
                            // garments already there, and of each earlier garment's visible pixels (0.25)
    int threshold;          // a source byte below this is not drawn (26: Fashion-MNIST's near-black rim)
    int attempts;           // placements tried per garment before starting the scene again (100)
} scn_opts;

// The defaults above for scenes of size S.
scn_opts scn_defaults(int size);
// 0, or -1 with err naming the bad field and what is allowed.
int scn_check(const scn_opts *o, char *err, size_t errlen);

typedef struct {
    int cls;                // the garment's class (its source label)
    int src;                // the source image's index
    float x, y, w, h;       // darknet's box of its visible pixels: centre and size, divided by S
    int pixels;             // its visible pixels
} scn_object;

typedef struct {
    int n;                  // objects, in drawing order (later ones on top)
    scn_object obj[SCN_MAX_OBJECTS];
} scn_scene;

// The seed of scene index of set (0 train, 1 test) from the user's seed: scene i is the same
// whatever the number of scenes asked for.
uint64_t scn_seed(uint64_t seed, int set, int index);

// The background alone (what scn_compose starts from, the same draws): a linear gradient between
// two random colours in a random direction plus Gaussian noise. rgb (3, S, S) bytes. Advances rng.
void scn_background(int S, uint64_t *rng, unsigned char *rgb);

// Garment src (rows, cols) bytes resampled bilinearly to (dh, dw) bytes.
void scn_resample(const unsigned char *src, int rows, int cols, unsigned char *dst, int dh, int dw);

// Composes one scene from seed: count source images src (count, rows, cols) with their labels
// (count, each < classes). Writes rgb (3, S, S), mask (S, S) with class + 1 of the garment on top
// at each pixel and 0 for background, inst (S, S) with the object index + 1 (0 background), and
// out. A pixel is non-zero in mask exactly where a garment was drawn over the background.
// 0, or -1 with err (no placement within the overlap limit after many tries, bad sizes).
int scn_compose(const scn_opts *o, const unsigned char *src, const unsigned char *labels, int count,
                int rows, int cols, int classes, uint64_t seed, unsigned char *rgb, unsigned char *mask,
                unsigned char *inst, scn_scene *out, char *err, size_t errlen);

#endif
