/* saliency_util.h: what the CLI verbs share (darknet layer glue): loading a network and its weights
   with checks darknet does not make, images, atomic output files, errors that name the input. */
#ifndef SALIENCY_UTIL_H
#define SALIENCY_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "darknet.h"
#include "dk.h"
#include "engine.h"
#include "methods.h"
#include "detect.h"

/* prints "darknet saliency: <message>" to stderr and exits 1 (stdout and stderr flushed, no
   atexit handlers or static destructors: safe while darknet's loader thread runs) */
void sal_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* the same without the prefix: for messages that name their own place (a cfg file and section) */
void sal_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* dies naming what the file is for unless it can be opened for reading */
void sal_need_file(const char *path, const char *what);

/* Bytes a weights file for this network must have (header included), or -1 when the network has
   layer types whose size this check does not know. */
long sal_weights_bytes(network *net);

/* The weights-size check of sal_load_network: weights (a file) must have exactly the bytes net
   (parsed from cfg, named in messages) needs, for the header's version. 0, or -1 with err
   ("weights file '<path>' is truncated: ...", "... does not fit cfg ...", "cannot open ..."). */
int sal_check_weights(network *net, const char *cfg, const char *weights, char *err, size_t errlen);

/* parse_network_cfg + sal_check_weights + load_weights, dying with a clear message on a missing file, a weights file
   that is truncated or made for another cfg. weights may be NULL or "" (fresh weights). */
network *sal_load_network(char *cfg, char *weights, int clear);
/* the same, the network made for batch images at a time (patch 0022; 0: the cfg's batch) */
network *sal_load_network_batch(char *cfg, char *weights, int clear, int batch);
/* the batch the saliency methods use by default: as many images as keep the network's buffers
   (darknet's and the engine's, about 8 floats per layer output value) within about 1 GiB, 1 to 64 */
int sal_default_batch(char *cfg);

/* darknet's loader (values in [0,1], planar C x H x W), resized to w x h when both are > 0,
   after a check of the file's magic bytes. 0 and *out, or -1 with err naming the file (missing,
   not an image format darknet's loader reads, undecodable). */
int sal_read_image(const char *path, int w, int h, int c, image *out, char *err, size_t errlen);
/* 1 when the file's first bytes are those of an image format sal_read_image takes (PNG, JPEG, BMP,
   PNM, GIF, TIFF), 0 otherwise (also when it cannot be opened): what tells an image from a list */
int sal_is_image_file(const char *path);
/* sal_read_image, dying with its message */
image sal_load_image(char *path, int w, int h, int c);

/* writes im to path (".png" appended by darknet) through a temporary file and a rename */
void sal_save_png(image im, const char *prefix);
/* writes n bytes to path through path.tmp and a rename; dies on failure */
void sal_write_file(const char *path, const void *data, size_t n);

/* the names of a data cfg's classes (names= or labels=), their count in *n: for printing */
char **sal_class_names(char *datacfg, int *n);
/* its labels (labels= or names=): the substrings of image paths darknet's classifier finds the
   class by (fill_truth) */
char **sal_class_labels(char *datacfg, int *n);
/* its held-out image list (valid= or test=) */
char **sal_data_images(char *datacfg, int *n);
/* what read_data_cfg() returns (darknet has no free for it: keys and values share fgetl's lines) */
void sal_free_data_cfg(list *options);
/* n strings and their array (sal_class_names, list_to_array of get_paths) */
void sal_free_strings(char **s, int n);

/* the usage line of a verb (saliency.c's table of verbs) */
void saliency_usage_of(const char *verb);

/* ---- flags of the verbs (numbers read strictly, src/numparse.h; each dies naming the flag, the
   value and what is allowed) ---- */
/* the value of "-flag" (def when absent; dies when the flag has no value) */
char *sal_flag_str(int argc, char **argv, const char *flag, char *def);
/* a whole number in [lo, hi] */
long sal_flag_long(int argc, char **argv, const char *flag, long def, long lo, long hi);
int sal_flag_int(int argc, char **argv, const char *flag, int def, int lo, int hi);
/* a whole number 0 ... 2^64 - 1 (seeds) */
uint64_t sal_flag_u64(int argc, char **argv, const char *flag, uint64_t def);
/* a finite number between lo and hi (the open ends strict) */
double sal_flag_real(int argc, char **argv, const char *flag, double def, double lo, int lo_open, double hi, int hi_open);
/* -formulation and -method by their tables (engine.h) */
eng_form sal_flag_form(int argc, char **argv, const char *def);
eng_method sal_flag_method(int argc, char **argv, const char *def);
/* every method's options (methods.h) from their flags, the defaults of mth_defaults(): the verbs that
   run methods (map, insdel) read them here, so a new option is added once */
void sal_method_options(int argc, char **argv, mth_opts *o);
/* the flags sal_method_options reads, NULL-terminated */
extern const char *const sal_method_flags[];
/* dies on an argument from argv[first] on that is not one of known (the flags that take a value)
   followed by its value, or a flag given twice */
void sal_check_flags(int argc, char **argv, int first, const char **known);
/* sal_check_flags with a verb's own flags followed by sal_method_flags (a verb that runs methods) */
void sal_check_method_flags(int argc, char **argv, int first, const char *const *own);

/* ---- detectors ---- */
/* darknet's detector forward of one image x (the network input, letterboxed as `detector test`
   does) at batch 1, the net's batch put back: its detections (detect.h det_decode), malloc'd, their
   count in *n */
det_detection *sal_detect(network *net, const float *x, float thresh, float nms, int *n);
/* a detector's [yolo] layers and classes checked against the data cfg (names) and an image input:
   dies naming the cfg otherwise */
void sal_check_detector(network *net, const char *cfg, const char *datacfg, int nnames);
/* sal_method_options for the detector verbs: rise (D-RISE there) with D-RISE's defaults, 5000 masks
   of a 16 x 16 grid, unless -masks / -cells are given */
void sal_detector_method_options(int argc, char **argv, mth_opts *o);
/* the detector verbs' -score (default score): which score of a box the methods explain */
det_kind sal_flag_score(int argc, char **argv);

/* ---- pictures ---- */
/* A montage: n pictures (1 or 3 channels, any sizes) side by side on white, each scaled by
   the nearest pixel to a height of `height` and captioned above with its text in darknet's own
   label letters (data/labels of the darknet tree, found at $DARKNET_LABELS, the tree this binary
   was built in, or /usr/share/darknet/data/labels; without them, no captions). */
image sal_montage(const image *pics, const char *const *captions, int n, int height);
/* darknet's label letters (the ones sal_montage captions with) for get_label/draw_label, or NULL
   when none are found */
image **sal_letters(void);
/* a heat map (H*W, values in [0, 1]) as a jet-coloured picture */
image sal_heat_image(const float *heat, int h, int w);

/* ---- progress of long work: at most once a second, on stderr, one line rewritten:
   "<what>: <done>/<total> <unit>, <rate> <unit>/s, <seconds> s left" ---- */
typedef struct { const char *what, *unit; long total; double t0, last; int shown; } sal_progress;
void sal_progress_init(sal_progress *p, const char *what, const char *unit, long total);
void sal_progress_update(sal_progress *p, long done);
/* ends the line, if one was shown */
void sal_progress_done(sal_progress *p);

#endif
