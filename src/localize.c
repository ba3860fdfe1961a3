// localize.c: the pointing game and the mask IoU of a saliency map (localize.h).
#include <stdlib.h>

#include "localize.h"
#include "insdel.h"   // insdel_order: pixels by decreasing value, ties by index

int loc_point_hit(const float *heat, const unsigned char *mask, int hw)
{
    int best = 0;
    for (int i = 1; i < hw; i++)
        if (heat[i] > heat[best]) best = i;
    return hw > 0 && mask[best] != 0;
}

double loc_mask_iou(const float *heat, const unsigned char *mask, int hw)
{
    int k = 0;
    for (int i = 0; i < hw; i++) k += mask[i] != 0;
    if (!k) return 0;
    int *order = malloc(hw * sizeof(int));
    if (!order || insdel_order(heat, hw, order)) { free(order); return -1; }
    int inter = 0;
    for (int i = 0; i < k; i++) inter += mask[order[i]] != 0;
    free(order);
    return (double)inter / (2 * k - inter);
}
