// explainer_eng.c: the engine as the explainer's frozen classifier (explainer_eng.h).
#include "explainer_eng.h"

static void xpl_eng_forward(void *ctx, const float *x, float *z)
{
    eng *e = ctx;
    eng_predict(e, x, eng_batch(e), z, NULL);
}

static void xpl_eng_backward(void *ctx, const float *dz, float *g)
{
    eng_input_grad((eng *)ctx, dz, g);
}

xpl_classifier xpl_engine_classifier(eng *e)
{
    xpl_classifier f = {xpl_eng_forward, xpl_eng_backward, e};
    return f;
}
