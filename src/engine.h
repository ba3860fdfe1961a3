// engine.h: the gradient-of-input pass and double backprop over a darknet network
// (../shared/spec/double-backprop.md).
//
// After a forward pass, eng_input_grad() sweeps a seed dS/dz (z = the logits, the input of the
// network's top [softmax], or [logistic] for a multi-label classifier) back to the network input, one heatmap g_b = dS_b/dx_b per image. Batch
// norm is the affine map of the statistics the forward used (batch statistics in training mode,
// rolling ones in inference mode), so g_b depends on image b alone. The pass has buffers of its
// own: no layer's delta, weight/bias/scale updates or rolling statistics are touched.
// Signs: g is the true gradient (+dS/dx), not darknet's negated delta.
//
// eng_reg_step() is the regularizer's share of a training step: g, R(g, x), u = dR/dg, and
// -lambda * d(sum_b R_b)/dtheta added into darknet's update buffers (darknet's sign and batch
// conventions), exactly (forward-over-reverse, §2a) or by finite differences (§2b).
#ifndef SALIENCY_ENGINE_H
#define SALIENCY_ENGINE_H

#include <stdint.h>
#include "darknet.h"
#include "dk.h"
#include "reg.h"

typedef enum { ENG_LOSS, ENG_ONEHOT, ENG_SPECTREG } eng_form;

// "loss" (or "datagrad") | "onehot" | "spectreg" -> form; 0 on success, -1 for an unknown name.
int eng_form_parse(const char *name, eng_form *form);
const char *eng_form_name(eng_form form);
// "loss, onehot, spectreg": the names, for messages (a static string, from the one table)
const char *eng_form_names(void);

typedef struct eng eng;

// Checks that every layer below the top [softmax] has a rule; on failure returns NULL and writes
// a message naming the layer (index, type, activation) into err.
eng *eng_init(network *net, char *err, int errlen);
// exact = 0: only the top [softmax] is required; heatmaps and double backprop then go through
// darknet's own layer backward functions (eng_reg_step with a finite method only). A layer below
// the softmax that darknet's backward does not pass the gradient through ([crop]: its backward is
// empty; a layer without a delta buffer) is then refused by name, as a heatmap through it is zero.
eng *eng_init_for(network *net, int exact, char *err, int errlen);
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
// and returns the heatmaps of the formulation in g (B, C*H*W). 0 on success; -1 (g zero) only for
// an engine made by eng_init_for(net, 0) on a layer type darknet keeps in sub-layers (rnn, lstm...).
int eng_heatmap(eng *e, const float *x, const float *truth, eng_form form, int train,
                uint64_t *rng, float *g);

// ---- batches of images, for the saliency methods -----------------------------------------------
// The methods (src/methods.h) evaluate many images: they go through darknet's batch, at most
// eng_batch(e) at a time (a short batch runs at its own size), inference mode. Each call leaves
// the net's batch and weights as they were.

int eng_batch(const eng *e);    // the net's batch (darknet's buffers are made for it)
int eng_inputs(const eng *e);   // C*H*W of one image
void eng_input_shape(const eng *e, int *c, int *h, int *w);

// logits z (nb, K) and probabilities p (nb, K) (either may be NULL) of nb <= eng_batch images x.
void eng_predict(eng *e, const float *x, int nb, float *z, float *p);

// g (nb, C*H*W) = dz_{cls[b]}/dx_b, the gradient of each image's class logit, and (when not NULL)
// the logits z (nb, K) and probabilities p (nb, K) of the same forward. 0, or -1 when the engine
// has no exact rules and darknet's backward cannot give it (see eng_heatmap).
int eng_logit_grad(eng *e, const float *x, int nb, const int *cls, float *g, float *z, float *p);
// the same for a formulation (engine.h: the label of loss and onehot is cls[b]; spectreg draws from
// *rng, which may be NULL for the others)
int eng_grad(eng *e, const float *x, int nb, const int *cls, eng_form form, uint64_t *rng, float *g, float *z, float *p);

// ---- scored engines: a detector's box score as the top ------------------------------------------
// A network without a [softmax] (a detector: [yolo] heads) is explained through a score of its
// outputs that the caller defines (detect.h: the score of one detection). For image b of the last
// forward the score function returns s_b; when d is not NULL it also adds ds_b/d(output of layer k)
// into d[k] + b * outputs of k (the engine's adjoint buffers, (batch, outputs) of every layer) for the
// layers s reads. The engine then acts as a classifier's with one logit, the score: eng_classes = 1,
// eng_predict's z and p are s_b, eng_logit_grad / eng_grad (class 0; the formulation is ignored) give
// ds_b/dx_b, eng_top = net->n, eng_adjoint and eng_layer_output for every layer. Every layer needs an
// exact rule ([yolo] has one); double backprop (eng_reg_step) is not offered.
typedef float (*eng_score_fn)(void *ctx, const network *net, int b, float **d);
eng *eng_init_scored(network *net, eng_score_fn fn, void *ctx, char *err, int errlen);
// the ctx of the score (a new target: the next forward uses it)
void eng_set_score_ctx(eng *e, void *ctx);

// ---- double backprop ------------------------------------------------------------------------

typedef enum { ENG_EXACT, ENG_FINITE, ENG_FINITE_CENTRAL } eng_method;

// "exact" | "finite" | "central" -> method; 0 on success, -1 for an unknown name.
int eng_method_parse(const char *name, eng_method *method);
const char *eng_method_name(eng_method method);
const char *eng_method_names(void);

typedef struct {
    const reg_def *reg;     // the regularizer R (reg.h)
    eng_form form;
    float lambda;           // weight of R in the objective
    eng_method method;
    float step;             // finite differences: h_b = step * |x_b| / |u_b|
    // Noise (regularizers.md, "Noise utilities"); 0 = none. Every draw comes from the rng of
    // eng_reg_step (after spectreg's), so the same state gives the same draws.
    float input_noise;      // s: the heatmap is the mean over input_noise_samples draws of the
                            // heatmap at x_b + e, e ~ N(0, (s * (max x_b - min x_b))^2) per value,
                            // fresh every step; BN statistics of the clean batch held; exact only
    int input_noise_samples;// draws averaged per image and step (0 or 1: one)
    float heatmap_noise;    // s: R is evaluated on g_b + e, e ~ N(0, (s * (max g_b - min g_b))^2),
                            // the gradient through the range too (the draw held); any method
} eng_reg_cfg;

typedef struct {
    double r_mean;          // mean over the batch of R_b
    double g_abs_mean;      // mean |g|, to see the heatmap's scale
} eng_reg_report;

// Call after darknet's training-mode forward of the batch (net->input x, truth the labels, as in
// train_network_datum before backward_network). Adds -lambda * d(sum_b R_b)/dtheta to every
// layer's weight/bias/scale updates and leaves every other piece of layer state (outputs, deltas,
// BN statistics, rolling statistics) as the forward left it, so darknet's own backward and update
// run unchanged. 0 on success; -1 and err says what (a regularizer error, NaN in the heatmap, a
// finite method with a layer darknet's backward stops at above layers with parameters, input_noise
// with a method other than exact); -2 when the
// heatmap is zero for every image of the batch although the seed at the softmax is not, and err
// names the layer where the gradient stopped (a relu off everywhere, a layer darknet's backward does
// not pass through): not divergence, but a step that would optimise nothing.
int eng_reg_step(eng *e, const eng_reg_cfg *c, const float *truth, uint64_t *rng,
                 eng_reg_report *out, char *err, int errlen);

// Checks that the parameters of every layer up to the top (weights, biases, BN scales and rolling
// statistics; with updates = 1 their update buffers instead) hold no NaN or Inf: 0, or -1 and err
// names the first bad value, e.g. "layer 3 (convolutional) weights[17] is nan".
int eng_check_finite(const eng *e, int updates, char *err, int errlen);

// The heatmaps of the last eng_reg_step / eng_heatmap (B, C*H*W), owned by the engine.
const float *eng_last_heatmap(const eng *e);

// 1: convolutions run per image and group (the plain loops, the oracle of the batched gemms);
// for tests, 0 by default.
extern int eng_conv_naive;

// After eng_input_grad: the sweep's adjoint +dS/da_k at layer k's output (B, outputs of layer k),
// 0 <= k < top, owned by the engine (the gradient with respect to layer k+1's input; gradcheck.h
// compares it with central differences). NULL for k out of range or an engine without exact rules.
const float *eng_adjoint(const eng *e, int k);

// Layer k's output after the last forward (B, c*h*w) and its shape, 0 <= k < top, owned by the net
// (Grad-CAM's activations, beside eng_adjoint's gradient). NULL for k out of range or a layer whose
// out_c x out_h x out_w is not its outputs.
const float *eng_layer_output(const eng *e, int k, int *c, int *h, int *w);
// darknet's section name of layer k's type ("convolutional", "shortcut"...), "?" out of range
const char *eng_layer_type(const eng *e, int k);

// TEST ONLY: a deliberately wrong rule, to see that the checks catch one. 0 (the default) = every
// rule right; 1 = the convolution's transpose (the input-gradient sweep) scaled by 1.05;
// 2 = the convolution's weight gradient (double backprop) scaled by 1.05. Set by
// `darknet saliency gradcheck` from the environment variable SALIENCY_TEST_BREAK, nowhere else.
extern int eng_test_break;

// A seedable normal generator (rng.h: xorshift64* + Box-Muller), for spectreg's projections.
float eng_randn(uint64_t *rng);

#endif
