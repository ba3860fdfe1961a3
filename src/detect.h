// detect.h: a YOLO detector's detections and the score of one of them, the top of a scored engine
// (engine.h eng_init_scored) so that every saliency method explains a box as it explains a class.
//
// The detections are decoded from darknet's [yolo] heads as darknet's get_network_boxes and
// do_nms_sort decode them (objectness above the threshold, class probability = objectness x the
// class's logistic score, kept above the threshold, non-maximum suppression per class), but each
// keeps where it came from: the head, the anchor and the cell, so its score has a gradient.
#ifndef SALIENCY_DETECT_H
#define SALIENCY_DETECT_H

#include "darknet.h"

typedef struct { float x, y, w, h; } det_box;   // centre and size, normalised to the network input

typedef struct {
    int layer, anchor, i, j;   // the [yolo] layer, the anchor (0..n-1 of that layer), the cell (column, row)
    int cls;                   // the class
    float prob;                // objectness x class probability
    float obj;                 // objectness
    det_box box;
} det_detection;

// The detections of image b of the net's last forward, sorted by decreasing prob (ties: lower
// layer, anchor, row, column, class first): every class of every cell and anchor whose prob passes
// thresh after NMS at IoU nms (nms <= 0: none). *out is malloc'd (free it); returns the count.
int det_decode(const network *net, int b, float thresh, float nms, det_detection **out);

// the number of [yolo] layers of the net (0: not a YOLO detector) and the classes of the first
int det_heads(const network *net, int *classes);

float det_iou(det_box a, det_box b);

// a box of the network input mapped to the image letterboxed into it (darknet's correct_yolo_boxes:
// letterbox_image keeps the aspect ratio and centres the image), normalised to the image
det_box det_unletterbox(det_box b, int im_w, int im_h, int net_w, int net_h);

// What the score of a target detection is:
//   DET_SCORE       objectness x class probability (darknet's prob), the default
//   DET_OBJECTNESS  the objectness alone
//   DET_CLASS       the class's logistic score alone
//   DET_BOX         x^2 + y^2 + w^2 + h^2 of the predicted box (its localisation)
typedef enum { DET_SCORE, DET_OBJECTNESS, DET_CLASS, DET_BOX } det_kind;

// "score" | "objectness" | "class" | "box" -> kind: 0, or -1 for an unknown name
int det_kind_parse(const char *name, det_kind *kind);
const char *det_kind_names(void);
// the name det_kind_parse reads for kind
const char *det_kind_name(det_kind kind);

typedef struct {
    det_detection d;   // the detection explained (on the unperturbed image)
    det_kind kind;
    // 0: the score of d's own head, anchor and cell on every image (exact gradient);
    // 1: D-RISE's similarity on a perturbed image: the largest over every proposal j of
    //    IoU(d.box, box_j) x objectness_j x cos(onehot(d.cls), class scores_j) (Petsiuk et al.
    //    2021, the target's objectness 1), for the methods that only evaluate (rise, occlusion,
    //    insertion/deletion); its gradient is the one at the best proposal with its IoU held
    int match;
} det_target;

// Grad-CAM's default layer for a box of the [yolo] layer k: the features its prediction convolution
// reads (the 1x1 linear [convolutional] of n x (5 + classes) filters just below the head), or the
// layer below the head when that is not such a convolution
int det_cam_layer(const network *net, int k);

// 1 for the saliency methods that evaluate perturbed images (rise, occlusion, igos, igos++): they
// score the target by its best match (match = 1); the gradient methods score its own entry
int det_method_matches(const char *method);

// The score of image b of the last forward (an eng_score_fn; ctx is a det_target *): with d not
// NULL it adds ds/d(output of the head) into d[head] (the engine's adjoint buffers).
float det_score(void *ctx, const network *net, int b, float **d);

// ---- how good the detector is: recall and VOC average precision -----------------------------------

typedef struct { int image, cls; float prob; det_box box; } det_scored;   // a detection of image `image`
typedef struct { int image, cls; det_box box; } det_truth;                // a ground-truth box

typedef struct {
    double map;       // mean over the classes with truths of their AP
    double recall;    // truths matched by a detection with prob >= recall_thresh
    int truths, classes_seen;
} det_quality;

// Average precision per class (VOC2010+: all points of the precision-recall curve, precision made
// monotone): detections by decreasing prob, a true positive when its IoU with an unmatched truth of
// its class and image is >= iou (the best such truth), else a false positive. ap (classes) gets -1
// for a class without truths. Recall: each truth matched (IoU >= iou, same class) by some detection
// with prob >= recall_thresh.
det_quality det_evaluate(const det_scored *d, int nd, const det_truth *t, int nt, int classes, float iou,
                         float recall_thresh, double *ap);

#endif
