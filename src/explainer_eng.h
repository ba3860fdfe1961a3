// explainer_eng.h: the frozen classifier of the explainer's loss (explainer.h) as the saliency
// engine sees it: logits by eng_predict in inference mode (BN on its rolling statistics), input
// gradients by eng_input_grad. Neither touches a weight, an update buffer or a rolling statistic.
#ifndef SALIENCY_EXPLAINER_ENG_H
#define SALIENCY_EXPLAINER_ENG_H

#include "engine.h"
#include "explainer.h"

// e's network must run batches of exactly the explainer's B images (its batch).
xpl_classifier xpl_engine_classifier(eng *e);

#endif
