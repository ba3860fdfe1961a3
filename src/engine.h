// engine.h: the gradient-of-input pass over a darknet network (double-backprop.md §1).
//
// After a forward pass, eng_input_grad() sweeps a seed dS/dz (z = the logits, the input of the
// network's top [softmax]) back to the network input, one heatmap g_b = dS_b/dx_b per image. Batch
// norm is the affine map of the statistics the forward used (batch statistics in training mode,
// rolling ones in inference mode), so g_b depends on image b alone. The pass has buffers of its
// own: no layer's delta, weight/bias/scale updates or rolling statistics are touched.
// Signs: g is the true gradient (+dS/dx), not darknet's negated delta.
#ifndef SALIENCY_ENGINE_H
#define SALIENCY_ENGINE_H

#include <stdint.h>
#include "darknet.h"

typedef enum { ENG_LOSS, ENG_ONEHOT, ENG_SPECTREG } eng_form;

// "loss" | "onehot" | "spectreg" -> form; 0 on success, -1 for an unknown name.
int eng_form_parse(const char *name, eng_form *form);
const char *eng_form_name(eng_form form);
#define ENG_FORM_NAMES "loss, onehot, spectreg"

typedef struct eng eng;

// Checks that every layer below the top [softmax] has a rule; on failure returns NULL and writes
// a message naming the layer (index, type, activation) into err.
eng *eng_init(network *net, char *err, int errlen);
void eng_free(eng *e);

int eng_top(const eng *e);      // index of the top [softmax] layer
int eng_classes(const eng *e);  // K, the number of logits

// The seed dS_b/dz_b (B, K) for each image of the last forward: truth (B, K) is darknet's label
// vector (one-hot or smoothed); onehot takes y_b = argmax truth_b; spectreg draws r_b ~ N(0, I)
// from *rng (advanced; same state, same draw).
void eng_seed(eng *e, eng_form form, const float *truth, uint64_t *rng, float *seed);

// g (B, C*H*W) = the seed swept back to the input through the layers of the last forward.
void eng_input_grad(eng *e, const float *seed, float *g);

// Convenience for callers outside training: copies x (B, C*H*W) into the net, runs darknet's forward
// in training (train=1) or inference mode, restores the BN rolling statistics the forward moved,
// and returns the heatmaps of the formulation in g (B, C*H*W).
void eng_heatmap(eng *e, const float *x, const float *truth, eng_form form, int train,
                 uint64_t *rng, float *g);

// A seedable normal generator (xorshift64* + Box-Muller), shared by spectreg and the noise methods.
float eng_randn(uint64_t *rng);

#endif
