/* saliency_layer.h: the [saliency] cfg section (darknet layer glue).
   Appended after a classifier's [softmax], it passes the probabilities through unchanged; in
   training it adds lambda * R(heatmap, input) to the objective (double-backprop.md §2). */
#ifndef SALIENCY_LAYER_H
#define SALIENCY_LAYER_H

#include "darknet.h"
#include "list.h"

layer parse_saliency(list *options, int batch, int inputs, network *net, int index, char *filename);
void forward_saliency_layer(const layer l, network net);
void backward_saliency_layer(const layer l, network net);

#endif
