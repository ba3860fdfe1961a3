// engine_internal.h: what the engine's three files share (not for callers: they use engine.h).
//   engine_rules.c   the layer-rule table: per darknet layer type, its linear map, transpose, weight
//                    gradient and properties (activation, batch norm, parameters, snapshot needs)
//   engine.c         the engine's state, the gradient-of-input sweep, exact double backprop (§2a)
//   engine_finite.c  double backprop by finite differences through darknet's own backward (§2b)
#ifndef SALIENCY_ENGINE_INTERNAL_H
#define SALIENCY_ENGINE_INTERNAL_H

#include <stddef.h>
#include "engine.h"

struct eng {
    network *net;
    int top;          // index of the top [softmax]
    int classes;      // its inputs per image
    int batch;        // the batch the buffers were made for
    int smooth;       // some layer below top has a logistic/tanh activation
    int exact;        // every layer below top has a rule (else only darknet's own backward is used)
    float **d, **dot, **pre, **dd;   // (top) per-layer buffers, (batch, outputs); pre/dd may be NULL
    float *g, *u;     // (batch, inputs): heatmap and dR/dg
    float *seed;      // (batch, classes)
    float *tmp, *tmp2;// (batch, max outputs)
    float *scaled;    // (batch, max outputs): a shortcut's alpha-scaled transpose; NULL without one
    float *ws;        // im2col/col2im workspace (the batched convolutions': for their chunk of images)
    int dk_stop;      // the highest layer below top where darknet's backward stops (eng_dk_stops), or -1
    int dk_stop_below;// the highest layer with parameters that the stop cuts off from the gradient, or -1
    eng_score_fn score;   // a scored engine (eng_init_scored): the top is this score of the outputs, not a
    void *score_ctx;      // softmax; top = net->n, classes = 1 (NULL: a classifier's engine)
    int stock_low;    // after eng_stock_input_grad with a heatmap zero for the whole batch: the lowest
                      // layer whose delta the gradient reached (top: only the softmax's); else -1
};

// ---- the layer-rule table (engine_rules.c) -----------------------------------------------------

// `in` names a layer's inputs: stream[j] for layer j, input for the network input (layer -1).
typedef void (*eng_lin_fn)(eng *e, int k, float **stream, float *input, float *y);
typedef void (*eng_lin_t_fn)(eng *e, int k, const float *t, float **stream, float *input);
typedef void (*eng_wgrad_fn)(eng *e, int k, const float *that, const float *t, float scale);
// y = the layer's training-mode forward of x with the random draw of the last forward held
typedef void (*eng_held_fn)(const layer *l, const float *x, float *y);

enum { ENG_BN_NONE, ENG_BN_IF_SET, ENG_BN_ALWAYS };   // batch norm after the linear part
// which of a layer's arrays are parameters with update buffers (weights, biases, scales)
enum { ENG_P_CONV, ENG_P_CONNECTED, ENG_P_BATCHNORM, ENG_P_LOCAL, ENG_P_NONE, ENG_P_SUBLAYERS };

typedef struct {
    LAYER_TYPE type;
    const char *name;       // darknet's section name, for messages
    eng_lin_fn lin;         // tangent forward of the linear part; NULL: no exact rule (method=finite only)
    eng_lin_t_fn lin_t;     // its transpose: both adjoint streams
    eng_wgrad_fn wgrad;     // weight gradient, NULL for layers without weights
    int act;                // an activation follows (l->activation)
    int bn;                 // ENG_BN_*
    int params;             // ENG_P_*
    int snap_indexes;       // l->indexes holds the forward's choices (maxpool's maxima, crop's window), which
                            // the rules and darknet's backward read and darknet's forward rewrites
    eng_held_fn held;       // training mode: the forward with the last forward's draw held (dropout's mask,
                            // crop's window and flip); NULL: darknet's inference-mode forward computes it
    int dk_stops;           // darknet's backward of this type passes nothing to its input (crop: an empty
                            // backward_crop_layer), so the gradient stops there on darknet's backward
} eng_rule;

// The entry of a layer type, or NULL when the table does not know it at all.
const eng_rule *eng_rule_of(LAYER_TYPE t);
// "convolutional, connected, ..." of the types with an exact rule (a static string)
const char *eng_rule_names(void);

int eng_has_act(const layer *l);
// darknet's backward passes no gradient to layer l's input (its type's dk_stops) or into it (no delta
// buffer for the layer above to add to): a static string saying why, or NULL when it does pass
const char *eng_dk_stops(const layer *l);
int eng_has_bn(const layer *l);
int eng_is_smooth(ACTIVATION a);
int eng_act_supported(ACTIVATION a);
// second derivative of the activation, from its output a
float eng_act_d2(float a, ACTIVATION act);
// 1/sigma of the statistics the last forward normalised with, by the fork's formula (dk.h:
// dk_bn_inv_sigma, as its normalize_cpu: pjreddie 1/(sqrt(var) + 1e-6), AlexeyAB 1/sqrt(var + 1e-5))
float eng_bn_inv_sigma(const eng *e, const layer *l, int f);
// The sizes of a layer's weights, biases and scales (0 where it has none or no update buffer);
// -1 when darknet keeps them in sub-layers the engine does not know (rnn, gru, lstm, crnn).
int eng_update_sizes(const layer *l, size_t n[3]);
// the workspace (floats) the layer's rules need for the engine's batch
size_t eng_rule_workspace(const layer *l);

// A loop of n elements runs in OpenMP threads (OPENMP=1; the one thread count of gemm_set_threads)
// from this size on; below it a parallel region costs more than it saves. darknet's patches
// 0050-0055 use the same threshold. Every threaded loop keeps each sum in the serial order.
#define ENG_OMP(n) ((long)(n) >= 32768)

// The buffer of layer j's output in a stream (d, dot or dd); j = -1 is the network input.
static inline float *eng_buf(float **stream, float *input, int j) { return j < 0 ? input : stream[j]; }

// ---- shared between engine.c and engine_finite.c -------------------------------------------------

// A snapshot of buffers, the one way the engine puts back state it borrows: each buffer added
// is copied at once; eng_snap_restore copies them all back in the order they were added and frees
// the copies. A zeroed eng_snap is empty.
typedef struct { int n, cap; void **at, **copy; size_t *bytes; } eng_snap;
void eng_snap_add(eng_snap *s, void *p, size_t bytes);
void eng_snap_restore(eng_snap *s);
// adds every batch-norm layer's rolling statistics (training-mode forwards move them)
void eng_snap_rolling(eng_snap *s, network *net);

// Training mode: lends the last forward's batch statistics to inference-mode batch norm (the
// rolling ones into s, to be restored). Nothing in inference mode.
void eng_lend_batch_stats(eng *e, eng_snap *s);
// darknet's layer forwards up to the top softmax in inference mode (statistics lent), each layer
// with a random draw reusing it when the net is in training mode
void eng_forward_frozen(eng *e);
// What darknet's backward and the rules read of the layers up to the top softmax (outputs, batch
// norm's x and x_norm, maxpool's choices) into s: 0; -1 for a layer type without an exact rule.
int eng_snap_state(eng *e, eng_snap *s);
// g = +dS/dx through darknet's own backward (any layer type); see engine_finite.c
int eng_stock_input_grad(eng *e, eng_form form, const float *truth, const float *r, float *g, char *err, int errlen);
// -lambda * d(sum_b u_b . g_b)/dtheta into darknet's update buffers, by finite differences (§2b)
void eng_finite_step(eng *e, const eng_reg_cfg *c, const float *truth, const float *r);

#endif
