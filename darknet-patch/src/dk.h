/* dk.h: the fork adapter, what differs between the darknet forks the extension builds into
   (pjreddie's and AlexeyAB's), behind one small interface; one file per fork implements it
   (dk_pjreddie.c, dk_alexeyab.c: the build picks one, -DDK_FORK_AB from AB's patch 0001).
   The engine, the methods and the CLI verbs call these and read like there is only one darknet.
   The contract is pjreddie's: a network on the heap whose input, truth, delta and train fields
   say what the next forward or backward runs on (AlexeyAB's CPU code never reads them: the
   adapter passes them to its network_state). */
#ifndef SALIENCY_DK_H
#define SALIENCY_DK_H

#include <stddef.h>
#include "darknet.h"
#ifdef DK_FORK_AB
/* what pjreddie's darknet.h declares and AlexeyAB's keeps in its own headers */
#include "utils.h"
#include "list.h"
#include "data.h"
#include "image.h"
#include "option_list.h"
#include "parser.h"
#include "network.h"
/* defined in AlexeyAB's image.c, declared nowhere */
image get_label(image **characters, char *string, int size);
void save_image_options(image im, const char *name, IMTYPE f, int quality);
#endif

/* "pjreddie" or "alexeyab": the fork this build is for */
extern const char *dk_fork;

/* A network with every training buffer (deltas, updates, batch-norm statistics, maxpool
   indexes), made for batch images at a time (subdivisions 1; batch 0 keeps the cfg's), with its
   input and truth buffers allocated; unfused batch norm. dk_free gives it all back. */
network *dk_parse(char *cfg, int batch);
void dk_free(network *net);

/* darknet's weights writer (save_weights) */
void dk_save_weights(network *net, char *file);
/* darknet's training forward and backward of one batch (train_network_datum) on net->input with
   the labels net->truth: the loss; then update_network once a whole batch (every subdivision) has
   been seen (pjreddie's train_network_datum) */
float dk_train_datum(network *net);
/* darknet's inference forward of x (the net's batch of images): its output (network_predict) */
float *dk_predict(network *net, float *x);

/* darknet's forward of the whole network on net->input, with net->truth and net->train */
void dk_forward(network *net);
/* darknet's backward of the whole network; layer 0 passes its gradient into net->delta (or
   nowhere when it is NULL) */
void dk_backward(network *net);
/* darknet's forward of layer k alone on input (the layer's batch of images), truth 0, in
   training mode or not */
void dk_layer_forward(network *net, int k, float *input, int train);
/* darknet's backward of layer k alone: input is what its forward read, delta where the gradient
   of that input goes (NULL: nowhere) */
void dk_layer_backward(network *net, int k, float *input, float *delta, int train);

/* the factor batch norm normalises with, 1/sigma, for a variance var: 1/(sqrt(var) + 1e-6) on
   pjreddie's, 1/sqrt(var + 1e-5) on AlexeyAB's */
float dk_bn_inv_sigma(float var);

/* what an inference-mode batch norm forward leaves in a layer's buffers: 1 when x_norm is written
   (AlexeyAB's, when the buffer exists), 0 when only x, the input of the normalisation (pjreddie's) */
int dk_bn_inference_writes_x_norm(void);

/* What the engine has no rule for in layer l (an option or activation only this fork has): NULL
   when there is none, else a static or buf-held message naming it, e.g. "activation=mish". */
const char *dk_layer_refusal(const layer *l, char *buf, size_t n);

/* the shortcut's linear part y += from-layers (y holds the previous layer's output, times alpha
   where pjreddie's forward scales it) and its transpose into the from-layers' adjoints dfrom[]
   (indexed by layer) and the previous layer's dprev (may be NULL); scaled (l->outputs * batch) is
   scratch when the fork scales prev */
void dk_shortcut_lin(const network *net, const layer *l, float **from, float *y);
void dk_shortcut_lin_t(const network *net, const layer *l, const float *t, float **dfrom, float *dprev, float *scaled);
/* 1 when the engine needs scratch for the shortcut transpose (dk_shortcut_lin_t's scaled) */
int dk_shortcut_needs_scratch(const layer *l);

/* extra floats a layer of this fork keeps in a weights file beyond pjreddie's records
   (AlexeyAB's shortcut weights); 0 elsewhere */
long dk_weights_extra_floats(const layer *l);

/* the [saliency] layer's callbacks, in this fork's signature (darknet-patch/src/saliency_layer.c
   holds their body) */
void dk_saliency_callbacks(layer *l);

/* an image file decoded, resized to w x h when both are set, c channels (0: the file's); data
   NULL when it cannot be decoded */
image dk_load_image(char *path, int w, int h, int c);

/* the weights file this process saved last (NULL if none, or the fork keeps no record) and the
   seen count in it */
const char *dk_last_saved_weights(size_t *seen);

#endif
