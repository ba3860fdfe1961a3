// gradcheck.h: are the engine's gradients right on *this* network? The engine's results against
// central differences in double precision, layer by layer, for any cfg:
//   input-grad  the input-gradient sweep's adjoint at each layer's input (at layer 0 the heatmap
//               g = dS/dx) against central differences of S over a sample of that layer's input
//               values, darknet's forward rerun from the layer to the top;
//   param-grad  the regularizer's parameter gradient of double backprop (eng_reg_step; darknet's
//               update buffers hold -gradient) against central differences of
//               lambda * sum_b R(g_b(theta), x_b), g recomputed at theta +- eps.
// Everything runs in inference mode: batch norm is the affine map of the rolling statistics,
// dropout the identity (shared/spec/double-backprop.md §1: the statistics are constants of g).
// A network with a layer the engine has no exact rule for is checked through darknet's own
// backward instead (eng_init_for(net, 0): the heatmap at the input, and the finite-difference
// double backprop). Kinks (ReLU, leaky, maxpool, |.|, min/max) are found by step halving and
// skipped. The module never prints; gc_run fills a result per layer and kind.
#ifndef SALIENCY_GRADCHECK_H
#define SALIENCY_GRADCHECK_H

#include <stdint.h>
#include "darknet.h"
#include "engine.h"
#include "reg.h"

// ---- the primitive ---------------------------------------------------------------------------

typedef double (*gc_fn)(void *ctx);

typedef struct {
    double est;   // the derivative estimate (NAN for a kink)
    int kink;     // 1: no step agreed, a kink lies within the steps; est is not to be used
    int evals;    // calls of f it took
    double step;  // the step of the estimate (as float arithmetic really took it)
} gc_diff;

// d f / d *p by central differences c_j at steps eps, eps/2, eps/4, eps/8 (each the step the
// float really took: (float)(v + h) - v). The first pair of neighbours c_{j-1}, c_j that agrees
// within `agree`, and whose larger step's one-sided differences show no kink (forward and
// backward differences within 4 * agree of each other, or their gap about halving with the step
// as curvature makes it: a kink right next to v makes neighbouring central differences agree on
// the mean of its two slopes, but the one-sided ones then differ by the jump at every step; a kink
// between the two steps widens only the larger step's gap), gives the
// estimate, extrapolated (Richardson, (4 c_j - c_{j-1}) / 3: the h^2 terms cancel). No pair
// agrees: a kink. f0 is f at the unperturbed point (NAN: computed here). The smaller steps are
// only evaluated when needed; *p is restored bit for bit.
gc_diff gc_central(gc_fn f, void *ctx, float *p, double eps, double agree, double f0);

// The error measure: |num - ana| / (|ana| + floor * M), M the largest |analytic| of the buffer
// (a layer's input, or its weights, biases or scales: entries whose gradient is tiny beside the
// buffer's largest are held to an absolute part).
double gc_rel(double num, double ana, double M, double floor);

// ---- tolerances (a check passes when gc_rel <= rtol) -----------------------------------------
// Measured with a right engine: the worst gc_rel over 7919 checks on cfg/resnet18-64.cfg (3
// formulations, 6 seeds, ssim) was 4.1e-3 for input gradients and 9.6e-3 for parameter gradients
// (mse, tv: below 1e-2), on cfg/fashion-small.cfg (24 runs) 1.4e-3 and 3.0e-3: float32 rounding in
// the forwards and in R, over the step. The tolerances leave three to five times that. An error e
// at the buffer's largest gradient shows as gc_rel = e / (1 + floor): a rule 5% off (engine.h
// eng_test_break) fails.
#define GC_RTOL_INPUT 2e-2
#define GC_FLOOR_INPUT 5e-2
#define GC_RTOL_PARAM 3e-2
#define GC_FLOOR_PARAM 5e-2
// method=finite/central: the engine's gradient is itself a difference (of grad_theta s along u,
// step h_b = step * |x_b| / |u_b|): its own truncation and rounding error, and on ReLU/maxpool
// networks the kinks its step of h*u crosses, which no halving here can avoid. Checked looser.
#define GC_RTOL_FINITE 0.1
#define GC_FLOOR_FINITE 0.1
// Step sizes of the central differences: input values eps = GC_EPS_INPUT * max(|v|, rms of the
// buffer), parameters eps = GC_EPS_PARAM * max(|v|, rms of the array). Large, because the
// activation pattern is held (gc_cfg.hold: no ReLU/maxpool kink within any step) and the
// extrapolation removes the curvature; rounding noise falls with the step.
#define GC_EPS_INPUT 0.1
#define GC_EPS_PARAM 0.2

// ---- whole-network check ---------------------------------------------------------------------

typedef enum { GC_INPUT, GC_PARAM } gc_kind;

typedef struct {
    eng_form form;          // the formulation of S
    const reg_def *reg;     // the regularizer of the param-grad checks
    float lambda;           // its weight
    eng_method method;      // the double backprop method whose gradient is checked
    float step;             // method finite/central: their relative step
    int samples;            // values sampled per layer and kind (a kink draws another, at most
                            // as many again)
    int cls;                // the class of onehot/loss; -1: each image's predicted class
    uint64_t seed;          // sample positions and spectreg's projection
    int hold;               // 1: hold the reference point's relu/leaky/ramp slopes and maxpool choices
                            // in the differences (as BN its statistics); 0: darknet's plain forward
    // called after each sample (NULL: not called); done of total
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
} gc_cfg;

typedef struct {
    int layer;              // index in the network
    const char *type;       // darknet's name of its type
    gc_kind kind;
    int checked, kinks, failed;
    double worst_rel;       // largest gc_rel over the checked samples (0 when none)
    double rtol;            // the tolerance they were held to
    // the worst sample: which buffer ("input", "weights", "biases", "scales"), position, values
    const char *worst_what;
    int worst_index;
    double worst_num, worst_ana;
} gc_result;

typedef struct {
    gc_result *r;           // input-grad and param-grad results in layer order
    int n;
    int exact;              // 1: the engine's rules; 0: darknet's own backward (why says why)
    char why[512];          // eng_init's message naming the layer without an exact rule
    eng_method method;      // the double backprop method that was checked
    int cls0;               // the class of image 0
    double s0;              // S at the reference point (sum over the batch)
    double r0;              // lambda * sum_b R there
    int u_held;             // 1: the regularizer has a kink at every pixel pair (tv, tv_abs,
                            // tv_abs_unscaled); the param-grad checks differentiate its
                            // linearisation lambda * sum_b u_b . g_b at the reference point
                            // (u = dR/dg held, as the pattern: the same gradient there)
    int checks, kinks, failed;
    int worst;              // index into r of the largest worst_rel / rtol (-1: none)
    int highest_failed;     // index into r of where a wrong rule sits (-1: none failed): the
                            // failing input-grad of the highest layer (the sweep is right above
                            // it), or without those the failing param-grad of the highest layer
} gc_report;

// Runs every check for the network (its batch B as it is) and the images x (B, C*H*W), in
// inference mode; leaves weights as they were (updates and outputs are overwritten). c->method
// ENG_EXACT on a network without exact rules is checked as ENG_FINITE_CENTRAL. 0 on success
// (whether or not checks failed: see rep); -1 and err for what stops the checks (no softmax, a
// regularizer error, layer types even darknet's backward path cannot take).
int gc_run(network *net, const float *x, const gc_cfg *c, gc_report *rep, char *err, int errlen);
void gc_report_free(gc_report *rep);

// ---- inputs for a network without weights or images ------------------------------------------

// Random weights (uniform, variance 1/fan-in), biases in [-0.2, 0.2], BN scales in [0.6, 1.4],
// from seed; then the rolling statistics of each batch norm are those of a training-mode forward
// of x (B, C*H*W) at the net's batch, so every normalised channel has the scale its BN says
// (random ones, mean [-0.2, 0.2] and variance [0.5, 1.5], where the batch has one value per channel).
void gc_random_network(network *net, const float *x, uint64_t seed);

// A smooth random image (C, H, W) in [0, 1]: per channel three sinusoids of 0.5-3 cycles across
// the image and three Gaussian blobs, from seed, scaled to [0, 1] as a whole.
void gc_smooth_image(float *x, int c, int h, int w, uint64_t seed);

#endif
