// detect.c: a YOLO detector's detections and the score of one of them (detect.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"

// ---- the layout of a [yolo] head: per image (n anchors, 4 + 1 + classes entries, h, w) ------------

static const float *entry(const layer *l, int b, int a, int e, int loc)
{
    int wh = l->w * l->h;
    return l->output + (size_t)b * l->outputs + (size_t)a * wh * (5 + l->classes) + (size_t)e * wh + loc;
}

static size_t entry_at(const layer *l, int b, int a, int e, int loc)
{
    int wh = l->w * l->h;
    return (size_t)b * l->outputs + (size_t)a * wh * (5 + l->classes) + (size_t)e * wh + loc;
}

// the box of anchor a at cell (i, j), as darknet's get_yolo_box (normalised to the network input)
static det_box yolo_box(const network *net, const layer *l, int b, int a, int i, int j)
{
    int loc = j * l->w + i, m = l->mask ? l->mask[a] : a;
    det_box r;
    r.x = (i + *entry(l, b, a, 0, loc)) / l->w;
    r.y = (j + *entry(l, b, a, 1, loc)) / l->h;
    r.w = expf(*entry(l, b, a, 2, loc)) * l->biases[2 * m] / net->w;
    r.h = expf(*entry(l, b, a, 3, loc)) * l->biases[2 * m + 1] / net->h;
    return r;
}

int det_heads(const network *net, int *classes)
{
    int n = 0;
    for (int k = 0; k < net->n; k++)
        if (net->layers[k].type == YOLO) {
            if (!n && classes) *classes = net->layers[k].classes;
            n++;
        }
    return n;
}

static float overlap(float c1, float w1, float c2, float w2)
{
    float lo = fmaxf(c1 - w1 / 2, c2 - w2 / 2), hi = fminf(c1 + w1 / 2, c2 + w2 / 2);
    return hi - lo;
}

float det_iou(det_box a, det_box b)
{
    float w = overlap(a.x, a.w, b.x, b.w), h = overlap(a.y, a.h, b.y, b.h);
    if (w <= 0 || h <= 0) return 0;
    float inter = w * h, uni = a.w * a.h + b.w * b.h - inter;
    return uni > 0 ? inter / uni : 0;
}

det_box det_unletterbox(det_box b, int im_w, int im_h, int net_w, int net_h)
{
    int new_w, new_h;
    if ((float)net_w / im_w < (float)net_h / im_h) {
        new_w = net_w;
        new_h = (im_h * net_w) / im_w;
    } else {
        new_h = net_h;
        new_w = (im_w * net_h) / im_h;
    }
    det_box r;
    r.x = (b.x - (net_w - new_w) / 2.0f / net_w) / ((float)new_w / net_w);
    r.y = (b.y - (net_h - new_h) / 2.0f / net_h) / ((float)new_h / net_h);
    r.w = b.w * (float)net_w / new_w;
    r.h = b.h * (float)net_h / new_h;
    return r;
}

// ---- decoding and non-maximum suppression -----------------------------------------------------

typedef struct { det_detection d; float *prob; } candidate;   // d without cls/prob; prob (classes)

static int by_prob_of;   // the class the candidates are being sorted by (qsort has no context)

static int cmp_candidate(const void *pa, const void *pb)
{
    const candidate *a = pa, *b = pb;
    float x = a->prob[by_prob_of], y = b->prob[by_prob_of];
    return (x < y) - (x > y);   // decreasing; stable enough: ties keep no order darknet promises either
}

static int cmp_detection(const void *pa, const void *pb)
{
    const det_detection *a = pa, *b = pb;
    if (a->prob != b->prob) return (a->prob < b->prob) - (a->prob > b->prob);
    int ka[5] = {a->layer, a->anchor, a->j, a->i, a->cls}, kb[5] = {b->layer, b->anchor, b->j, b->i, b->cls};
    for (int i = 0; i < 5; i++)
        if (ka[i] != kb[i]) return ka[i] < kb[i] ? -1 : 1;
    return 0;
}

int det_decode(const network *net, int b, float thresh, float nms, det_detection **out)
{
    int ncand = 0, cap = 16, classes = 0;
    candidate *c = malloc(cap * sizeof *c);
    for (int k = 0; k < net->n; k++) {
        const layer *l = &net->layers[k];
        if (l->type != YOLO) continue;
        if (!classes) classes = l->classes;
        for (int a = 0; a < l->n; a++)
            for (int j = 0; j < l->h; j++)
                for (int i = 0; i < l->w; i++) {
                    int loc = j * l->w + i;
                    float obj = *entry(l, b, a, 4, loc);
                    if (obj <= thresh) continue;
                    if (ncand == cap) c = realloc(c, (cap *= 2) * sizeof *c);
                    candidate *q = &c[ncand++];
                    memset(&q->d, 0, sizeof q->d);
                    q->d.layer = k; q->d.anchor = a; q->d.i = i; q->d.j = j;
                    q->d.obj = obj;
                    q->d.box = yolo_box(net, l, b, a, i, j);
                    q->prob = calloc(l->classes, sizeof(float));
                    for (int m = 0; m < l->classes; m++) {
                        float p = obj * *entry(l, b, a, 5 + m, loc);
                        q->prob[m] = p > thresh ? p : 0;
                    }
                }
    }
    if (nms > 0)
        for (int m = 0; m < classes; m++) {
            by_prob_of = m;
            qsort(c, ncand, sizeof *c, cmp_candidate);
            for (int i = 0; i < ncand; i++) {
                if (c[i].prob[m] == 0) continue;
                for (int j = i + 1; j < ncand; j++)
                    if (det_iou(c[i].d.box, c[j].d.box) > nms) c[j].prob[m] = 0;
            }
        }
    int n = 0;
    det_detection *d = malloc((ncand * (size_t)(classes > 0 ? classes : 1) + 1) * sizeof *d);
    for (int i = 0; i < ncand; i++) {
        for (int m = 0; m < classes; m++)
            if (c[i].prob[m] > 0) {
                d[n] = c[i].d;
                d[n].cls = m;
                d[n++].prob = c[i].prob[m];
            }
        free(c[i].prob);
    }
    free(c);
    qsort(d, n, sizeof *d, cmp_detection);
    *out = d;
    return n;
}

// ---- the score ------------------------------------------------------------------------------------

static const struct { const char *name; det_kind kind; } KINDS[] = {
    {"score", DET_SCORE}, {"objectness", DET_OBJECTNESS}, {"class", DET_CLASS}, {"box", DET_BOX},
};
#define N_KINDS ((int)(sizeof KINDS / sizeof KINDS[0]))

int det_kind_parse(const char *name, det_kind *kind)
{
    for (int i = 0; i < N_KINDS; i++)
        if (!strcmp(name, KINDS[i].name)) { *kind = KINDS[i].kind; return 0; }
    return -1;
}

const char *det_kind_names(void) { return "score, objectness, class, box"; }

const char *det_kind_name(det_kind kind)
{
    for (int i = 0; i < N_KINDS; i++)
        if (KINDS[i].kind == kind) return KINDS[i].name;
    return "?";
}

// the target's own entry: the score and (d not NULL) its gradient into d[layer]
static float own_score(const det_target *t, const network *net, int b, float **d)
{
    const layer *l = &net->layers[t->d.layer];
    int a = t->d.anchor, loc = t->d.j * l->w + t->d.i;
    float obj = *entry(l, b, a, 4, loc), cp = *entry(l, b, a, 5 + t->d.cls, loc);
    float *g = d ? d[t->d.layer] : NULL;
    switch (t->kind) {
    case DET_OBJECTNESS:
        if (g) g[entry_at(l, b, a, 4, loc)] += 1;
        return obj;
    case DET_CLASS:
        if (g) g[entry_at(l, b, a, 5 + t->d.cls, loc)] += 1;
        return cp;
    case DET_BOX: {
        det_box r = yolo_box(net, l, b, a, t->d.i, t->d.j);
        if (g) {
            g[entry_at(l, b, a, 0, loc)] += 2 * r.x / l->w;
            g[entry_at(l, b, a, 1, loc)] += 2 * r.y / l->h;
            g[entry_at(l, b, a, 2, loc)] += 2 * r.w * r.w;   // dw/dt = w
            g[entry_at(l, b, a, 3, loc)] += 2 * r.h * r.h;
        }
        return r.x * r.x + r.y * r.y + r.w * r.w + r.h * r.h;
    }
    default:
        if (g) {
            g[entry_at(l, b, a, 4, loc)] += cp;
            g[entry_at(l, b, a, 5 + t->d.cls, loc)] += obj;
        }
        return obj * cp;
    }
}

// D-RISE's similarity of proposal (l, a, loc) to the target: IoU x objectness x cos(onehot, scores)
static float similarity(const det_target *t, const network *net, const layer *l, int b, int a, int i, int j,
                        float *iou_out, float *norm_out)
{
    int loc = j * l->w + i;
    float iou = det_iou(t->d.box, yolo_box(net, l, b, a, i, j));
    *iou_out = iou;
    if (iou <= 0 || t->d.cls >= l->classes) return 0;
    double ss = 0;
    for (int m = 0; m < l->classes; m++) {
        float p = *entry(l, b, a, 5 + m, loc);
        ss += (double)p * p;
    }
    float norm = (float)sqrt(ss);
    *norm_out = norm;
    if (norm <= 0) return 0;
    return iou * *entry(l, b, a, 4, loc) * *entry(l, b, a, 5 + t->d.cls, loc) / norm;
}

static float match_score(const det_target *t, const network *net, int b, float **d)
{
    float best = 0, best_iou = 0, best_norm = 0;
    int bk = -1, ba = 0, bi = 0, bj = 0;
    for (int k = 0; k < net->n; k++) {
        const layer *l = &net->layers[k];
        if (l->type != YOLO) continue;
        for (int a = 0; a < l->n; a++)
            for (int j = 0; j < l->h; j++)
                for (int i = 0; i < l->w; i++) {
                    float iou, norm = 0, s = similarity(t, net, l, b, a, i, j, &iou, &norm);
                    if (s > best) { best = s; best_iou = iou; best_norm = norm; bk = k; ba = a; bi = i; bj = j; }
                }
    }
    if (d && bk >= 0) {   // the gradient at the best proposal, its IoU held
        const layer *l = &net->layers[bk];
        int loc = bj * l->w + bi, c = t->d.cls;
        float obj = *entry(l, b, ba, 4, loc), pc = *entry(l, b, ba, 5 + c, loc), n3 = best_norm * best_norm * best_norm;
        float *g = d[bk];
        g[entry_at(l, b, ba, 4, loc)] += best_iou * pc / best_norm;
        for (int m = 0; m < l->classes; m++) {
            float pm = *entry(l, b, ba, 5 + m, loc);
            g[entry_at(l, b, ba, 5 + m, loc)] += best_iou * obj * ((m == c) / best_norm - pc * pm / n3);
        }
    }
    return best;
}

int det_cam_layer(const network *net, int k)
{
    const layer *p = k > 0 ? &net->layers[k - 1] : NULL;
    int pred = p && p->type == CONVOLUTIONAL && p->size == 1 && p->activation == LINEAR &&
               p->n == net->layers[k].n * (5 + net->layers[k].classes);
    return k - (pred && k > 1 ? 2 : 1);
}

int det_method_matches(const char *method)
{
    static const char *names[] = {"rise", "occlusion", "igos", "igos++"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(method, names[i])) return 1;
    return 0;
}

float det_score(void *ctx, const network *net, int b, float **d)
{
    const det_target *t = ctx;
    if (t->d.layer < 0 || t->d.layer >= net->n || net->layers[t->d.layer].type != YOLO) return 0;   // no target yet
    return t->match ? match_score(t, net, b, d) : own_score(t, net, b, d);
}

// ---- recall and average precision -------------------------------------------------------------

static const det_scored *sort_base;

static int cmp_scored(const void *pa, const void *pb)
{
    const det_scored *a = &sort_base[*(const int *)pa], *b = &sort_base[*(const int *)pb];
    if (a->prob != b->prob) return (a->prob < b->prob) - (a->prob > b->prob);
    return *(const int *)pa - *(const int *)pb;
}

det_quality det_evaluate(const det_scored *d, int nd, const det_truth *t, int nt, int classes, float iou,
                         float recall_thresh, double *ap)
{
    det_quality q = {0, 0, nt, 0};
    int *order = malloc((nd + 1) * sizeof(int)), *used = calloc(nt + 1, sizeof(int));
    double *prec = malloc((nd + 1) * sizeof(double)), *rec = malloc((nd + 1) * sizeof(double));
    for (int i = 0; i < nd; i++) order[i] = i;
    sort_base = d;
    qsort(order, nd, sizeof(int), cmp_scored);
    double sum = 0;
    for (int c = 0; c < classes; c++) {
        int npos = 0;
        for (int j = 0; j < nt; j++) if (t[j].cls == c) npos++;
        if (!npos) { ap[c] = -1; continue; }
        memset(used, 0, (nt + 1) * sizeof(int));
        int tp = 0, fp = 0, n = 0;
        for (int k = 0; k < nd; k++) {
            const det_scored *x = &d[order[k]];
            if (x->cls != c) continue;
            int best = -1;
            float bi = iou;
            for (int j = 0; j < nt; j++) {
                if (t[j].cls != c || t[j].image != x->image || used[j]) continue;
                float v = det_iou(x->box, t[j].box);
                if (v >= bi) { bi = v; best = j; }
            }
            if (best >= 0) { used[best] = 1; tp++; } else fp++;
            prec[n] = (double)tp / (tp + fp);
            rec[n++] = (double)tp / npos;
        }
        // the area under the monotone envelope of precision, over recall from 0
        double a = 0, r_prev = 0;
        for (int k = 0; k < n; k++) {
            double pmax = 0;
            for (int m = k; m < n; m++) if (prec[m] > pmax) pmax = prec[m];
            a += (rec[k] - r_prev) * pmax;
            r_prev = rec[k];
        }
        ap[c] = a;
        sum += a;
        q.classes_seen++;
    }
    q.map = q.classes_seen ? sum / q.classes_seen : 0;
    int matched = 0;
    for (int j = 0; j < nt; j++) {
        int hit = 0;
        for (int k = 0; k < nd && !hit; k++)
            hit = d[k].image == t[j].image && d[k].cls == t[j].cls && d[k].prob >= recall_thresh && det_iou(d[k].box, t[j].box) >= iou;
        matched += hit;
    }
    q.recall = nt ? (double)matched / nt : 0;
    free(order); free(used); free(prec); free(rec);
    return q;
}
