// gradcam.c: Grad-CAM (Selvaraju et al. 2017; ../shared/spec/saliency-methods.md). For the output
// A (K, h, w) of one layer: alpha_k = the mean over h x w of dz_c/dA_k (z = the logits, from one
// eng_logit_grad sweep: eng_adjoint is the gradient at every layer's output), cam = ReLU(sum_k
// alpha_k A_k) (h, w), bilinearly upsampled to the input's H x W (rs_bilinear: PyTorch's
// align_corners=False) and written into every channel.
//
// The layer (-layer, o->layer; -1 by default): the last layer below the top [softmax] whose output
// is spatial (h x w > 1), i.e. the one before the [avgpool] or [connected] that reduces the maps to
// 1x1: for a ResNet the last block's [shortcut] (torchvision's layer4), for conv -> avgpool -> head
// the last [convolutional]. A layer with a 1x1 output (its "maps" are single numbers: the map would
// be flat) or out of range is refused.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "methods.h"
#include "resample.h"

// the default layer: the last one below the top with a spatial output, or -1
static int gcam_default_layer(const eng *e)
{
    for (int k = eng_top(e) - 1; k >= 0; k--) {
        int c, h, w;
        if (eng_layer_output(e, k, &c, &h, &w) && h * w > 1) return k;
    }
    return -1;
}

// cam (h, w) = ReLU(sum_k alpha_k A_k), alpha_k = mean of dA_k; A, dA (K, h, w)
static void gcam_plane(const float *A, const float *dA, int K, int h, int w, float *cam)
{
    int hw = h * w;
    double *acc = calloc(hw, sizeof(double));
    for (int k = 0; k < K; k++) {
        double alpha = 0;
        for (int i = 0; i < hw; i++) alpha += dA[k * hw + i];
        alpha /= hw;
        for (int i = 0; i < hw; i++) acc[i] += alpha * A[k * hw + i];
    }
    for (int i = 0; i < hw; i++) cam[i] = acc[i] > 0 ? (float)acc[i] : 0;
    free(acc);
}

int mth_gradcam(eng *e, const float *x, int cls, const mth_opts *o, float *map, mth_info *info, char *err, int errlen)
{
    int top = eng_top(e), C, H, W, K, h, w;
    eng_input_shape(e, &C, &H, &W);
    int def = gcam_default_layer(e);
    if (o->layer >= top || o->layer < -1) {
        snprintf(err, errlen, "-layer %d: out of range: the layers below the top [softmax] (layer %d) are 0..%d%s",
                 o->layer, top, top - 1, def >= 0 ? "" : " and none has a spatial output");
        return -1;
    }
    int k = o->layer >= 0 ? o->layer : def;
    if (k < 0) {
        snprintf(err, errlen, "no layer below the top [softmax] (layer %d) has a spatial output (h x w > 1): "
                 "Grad-CAM needs the maps of a convolutional layer", top);
        return -1;
    }
    if (!eng_layer_output(e, k, &K, &h, &w)) {
        snprintf(err, errlen, "-layer %d (%s): its output has no c x h x w shape darknet describes", k, eng_layer_type(e, k));
        return -1;
    }
    if (h * w <= 1) {
        char alt[128] = "";
        if (def >= 0) {
            int dc, dh, dw;
            eng_layer_output(e, def, &dc, &dh, &dw);
            snprintf(alt, sizeof alt, "; the default is layer %d (%s, %dx%dx%d)", def, eng_layer_type(e, def), dc, dh, dw);
        }
        snprintf(err, errlen, "-layer %d (%s): its output is %dx%dx%d, 1x1 maps: Grad-CAM needs a layer with a spatial "
                 "output (h x w > 1)%s", k, eng_layer_type(e, k), K, h, w, alt);
        return -1;
    }
    float *g = malloc(sizeof(float) * C * H * W), *cam = malloc(sizeof(float) * h * w);
    if (!g || !cam) {
        snprintf(err, errlen, "out of memory for the input gradient (%dx%dx%d)", C, H, W);
        free(g); free(cam);
        return -1;
    }
    info->evaluations += 1;
    int rc = eng_logit_grad(e, x, 1, &cls, g, NULL, NULL);
    // the activations and gradient of image 0 of the sweep just made
    const float *A = eng_layer_output(e, k, &K, &h, &w), *dA = eng_adjoint(e, k);
    if (rc || !dA) {
        snprintf(err, errlen, "the engine cannot take this network's gradient (a layer type without a rule)");
        free(g); free(cam);
        return -1;
    }
    gcam_plane(A, dA, K, h, w, cam);
    rs_bilinear(cam, h, w, map, H, W);
    for (int c = 1; c < C; c++) memcpy(map + (size_t)c * H * W, map, sizeof(float) * H * W);
    float top_v = 0;
    for (int i = 0; i < h * w; i++) if (cam[i] > top_v) top_v = cam[i];
    snprintf(info->line, sizeof info->line, "layer %d (%s, %dx%dx%d), max %.4g", k, eng_layer_type(e, k), K, h, w, top_v);
    free(g); free(cam);
    return 0;
}
