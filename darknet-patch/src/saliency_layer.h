/* saliency_layer.h: the [saliency] cfg section (darknet layer glue).
   Appended after a classifier's [softmax] (or after a [cost] that follows it), it passes the
   probabilities through unchanged; in training it adds lambda * R(heatmap, input) to the
   objective (double-backprop.md §2). */
#ifndef SALIENCY_LAYER_H
#define SALIENCY_LAYER_H

#include <stddef.h>
#include <stdint.h>
#include "darknet.h"
#include "list.h"
#include "engine.h"

/* What a [saliency] section says. */
typedef struct {
    eng_reg_cfg rc;    /* regularizer, formulation, weight (lambda), method, step */
    uint64_t seed;     /* spectreg's generator */
} sal_section;

/* Reads a section's options (darknet's key=value list) strictly: every key known and given at most
   once, no empty value, names from their tables, numbers finite and in range. 0, or -1 and err says
   "key=value is not valid (why); allowed: ..." (without the file and section, which the caller adds). */
int sal_section_read(list *options, sal_section *out, char *err, size_t errlen);

layer parse_saliency(list *options, int batch, int inputs, network *net, int index, char *filename);
void forward_saliency_layer(const layer l, network net);
void backward_saliency_layer(const layer l, network net);
/* For a fork whose layers get a copy of the network (AlexeyAB's network_state.net): the network
   the layer's engine reads from now on, its input, truth and train those of this forward. */
void sal_layer_view(const layer *l, network net);
/* A [saliency] layer's engine (NULL before its first training step) and its last step's report:
   the number of steps so far, or -1 before the first (for tests and tools). */
const eng *sal_layer_engine(const layer *l);
int sal_layer_report(const layer *l, eng_reg_report *out);
/* the layer's state and engine (free_layer calls it, patch 0003) */
void free_saliency_layer(layer l);

#endif
