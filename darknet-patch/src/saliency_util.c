/* saliency_util.c: network/weights/image loading with checks, atomic outputs (darknet layer glue). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "saliency_util.h"
#include "explainer_glue.h"
#include "parser.h"
#include "option_list.h"

#include "utils.h"
#include "numparse.h"
#include "colormap.h"

static char *opt_or(list *options, char *key, char *def)
{
    char *v = option_find(options, key);
    return v ? v : def;
}

/* _exit, not exit: darknet's data loader thread may be inside OpenCV while exit() would run
   OpenCV's static destructors (a SIGSEGV instead of status 1). Outputs are written to temporary
   files and renamed, so nothing half-written is left under a real name. */
static void stop(void) __attribute__((noreturn));
static void stop(void)
{
    fflush(stdout);
    fflush(stderr);
    _exit(1);
}

void sal_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    stop();
}

void sal_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "darknet saliency: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    stop();
}

void sal_need_file(const char *path, const char *what)
{
    FILE *f = fopen(path, "rb");
    if(!f) sal_die("cannot open %s '%s': %s", what, path, strerror(errno));
    fclose(f);
}

long sal_weights_bytes(network *net)
{
    /* load_weights: major, minor, revision (int32), seen (size_t for version >= 0.2), then per layer */
    long n = 3*sizeof(int) + sizeof(size_t);
    int i;
    for(i = 0; i < net->n; ++i){
        layer l = net->layers[i];
        if(l.dontload) continue;
        if(l.type == CONVOLUTIONAL || l.type == DECONVOLUTIONAL){
            int f = l.numload ? l.numload : l.n;
            n += sizeof(float)*((long)f + (long)l.c/l.groups*f*l.size*l.size);
            if(l.batch_normalize && !l.dontloadscales) n += sizeof(float)*3L*f;
        } else if(l.type == CONNECTED){
            n += sizeof(float)*((long)l.outputs + (long)l.outputs*l.inputs);
            if(l.batch_normalize && !l.dontloadscales) n += sizeof(float)*3L*l.outputs;
        } else if(l.type == BATCHNORM){
            n += sizeof(float)*3L*l.c;
        } else if(l.type == CRNN || l.type == RNN || l.type == LSTM || l.type == GRU || l.type == LOCAL){
            return -1;
        }
        long extra = dk_weights_extra_floats(&l);   /* what the fork's loader reads besides (AB's shortcut weights) */
        if(extra < 0) return -1;
        n += sizeof(float)*extra;
    }
    return n;
}

int sal_check_weights(network *net, const char *cfg, const char *weights, char *err, size_t errlen)
{
    FILE *fp = fopen(weights, "rb");
    if(!fp){
        snprintf(err, errlen, "cannot open weights file '%s': %s", weights, strerror(errno));
        return -1;
    }
    struct stat st;
    if(fstat(fileno(fp), &st) != 0){
        snprintf(err, errlen, "cannot stat weights file '%s': %s", weights, strerror(errno));
        fclose(fp);
        return -1;
    }
    long want = sal_weights_bytes(net);
    int major = 0, minor = 0, revision = 0;
    size_t got = fread(&major, sizeof(int), 1, fp) + fread(&minor, sizeof(int), 1, fp) + fread(&revision, sizeof(int), 1, fp);
    fclose(fp);
    if(got != 3){
        snprintf(err, errlen, "weights file '%s' is truncated: %ld bytes, not even a header", weights, (long)st.st_size);
        return -1;
    }
    /* files before version 0.2 store seen as an int: load_weights' test, in long like patch 0033
       (major*10 overflowed for |major| > 214748364) */
    if(want > 0 && !(((long)major*10 + minor) >= 2 && major < 1000 && minor < 1000)) want -= sizeof(size_t) - sizeof(int);
    if(want > 0 && st.st_size < want){
        snprintf(err, errlen, "weights file '%s' is truncated: %ld bytes, cfg '%s' needs %ld", weights, (long)st.st_size, cfg, want);
        return -1;
    }
    if(want > 0 && st.st_size > want){
        snprintf(err, errlen, "weights file '%s' does not fit cfg '%s': %ld bytes, the cfg needs %ld (saved from another cfg?)",
                 weights, cfg, (long)st.st_size, want);
        return -1;
    }
    return 0;
}

network *sal_load_network(char *cfg, char *weights, int clear)
{
    return sal_load_network_batch(cfg, weights, clear, 0);
}

int sal_default_batch(char *cfg)
{
    sal_need_file(cfg, "cfg");
    FILE *saved = stderr;   /* darknet prints the layer table of every parse */
    stderr = fopen("/dev/null", "w");
    network *net = dk_parse(cfg, 1);
    fclose(stderr);
    stderr = saved;
    double per = 0;
    int i;
    for(i = 0; i < net->n; ++i) per += 8.0*sizeof(float)*net->layers[i].outputs;
    dk_free(net);
    double b = (1u << 30)/(per > 0 ? per : 1);
    return b < 1 ? 1 : b > 64 ? 64 : (int)b;
}

network *sal_load_network_batch(char *cfg, char *weights, int clear, int batch)
{
    char err[9000];
    sal_need_file(cfg, "cfg");
    network *net = dk_parse(cfg, batch);
    if(weights && weights[0]){
        if(sal_check_weights(net, cfg, weights, err, sizeof(err))) sal_die("%s", err);
        load_weights(net, weights);
    }
    if(clear) *net->seen = 0;
    return net;
}

int sal_is_image_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if(!f) return 0;
    unsigned char magic[8] = {0};
    size_t n = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    return n >= 4 && ((magic[0] == 0x89 && magic[1] == 'P' && magic[2] == 'N' && magic[3] == 'G') ||
                      (magic[0] == 0xFF && magic[1] == 0xD8) || (magic[0] == 'B' && magic[1] == 'M') ||
                      (magic[0] == 'P' && magic[1] >= '1' && magic[1] <= '6') ||
                      (magic[0] == 'G' && magic[1] == 'I' && magic[2] == 'F') ||
                      (magic[0] == 'I' && magic[1] == 'I') || (magic[0] == 'M' && magic[1] == 'M'));
}

int sal_read_image(const char *path, int w, int h, int c, image *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if(!f){
        snprintf(err, errlen, "cannot open image '%s': %s", path, strerror(errno));
        return -1;
    }
    fclose(f);
    /* a quick refusal with a clear message; dk_load_image says whether OpenCV
       decoded the rest (darknet's load_image returns a blank 10x10 image for what it cannot) */
    if(!sal_is_image_file(path)){
        snprintf(err, errlen, "image '%s' is not a PNG, JPEG, BMP, PNM, GIF or TIFF file", path);
        return -1;
    }
    image im = dk_load_image((char *)path, w, h, c);
    if(!im.data || im.w <= 0 || im.h <= 0){
        free_image(im);
        snprintf(err, errlen, "image '%s' could not be decoded", path);
        return -1;
    }
    *out = im;
    return 0;
}

image sal_load_image(char *path, int w, int h, int c)
{
    char err[9000];
    image im;
    if(sal_read_image(path, w, h, c, &im, err, sizeof(err))) sal_die("%s", err);
    return im;
}

void sal_write_file(const char *path, const void *data, size_t n)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if(!f) sal_die("cannot write '%s': %s", tmp, strerror(errno));
    if(fwrite(data, 1, n, f) != n || fclose(f) != 0){
        remove(tmp);
        sal_die("writing '%s' failed: %s", tmp, strerror(errno));
    }
    if(rename(tmp, path) != 0) sal_die("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
}

void sal_save_png(image im, const char *prefix)
{
    char tmp[4096], tmppng[4100], dst[4100];
    if(strlen(prefix) > 200) sal_die("output name '%s' is too long for darknet's image writer (200 characters at most)", prefix);
    snprintf(tmp, sizeof(tmp), "%s.tmp", prefix);
    snprintf(tmppng, sizeof(tmppng), "%s.png", tmp);
    snprintf(dst, sizeof(dst), "%s.png", prefix);
    save_image_options(im, tmp, PNG, 80);
    FILE *f = fopen(tmppng, "rb");
    if(!f) sal_die("cannot write '%s'", dst);
    fclose(f);
    if(rename(tmppng, dst) != 0) sal_die("cannot rename '%s' to '%s': %s", tmppng, dst, strerror(errno));
}

/* the lines of the file a data cfg names under key (or, without it, under other) */
static char **data_cfg_lines(char *datacfg, const char *key, const char *other, const char *what, int *n)
{
    sal_need_file(datacfg, "data cfg");
    list *options = read_data_cfg(datacfg);
    const char *used = key;
    char *file = opt_or(options, (char *)key, 0);
    if(!file){ used = other; file = opt_or(options, (char *)other, 0); }
    if(!file) sal_die("data cfg '%s' has no %s= (or %s=) key", datacfg, key, other);
    char need[256];
    snprintf(need, sizeof(need), "%s file (%s= of the data cfg)", what, used);
    sal_need_file(file, need);
    list *l = get_paths(file);
    sal_free_data_cfg(options);
    *n = l->size;
    char **out = (char **)list_to_array(l);
    free_list(l);
    return out;
}

char **sal_class_names(char *datacfg, int *n)
{
    return data_cfg_lines(datacfg, "names", "labels", "class names", n);
}

char **sal_class_labels(char *datacfg, int *n)
{
    return data_cfg_lines(datacfg, "labels", "names", "labels", n);
}

char **sal_data_images(char *datacfg, int *n)
{
    return data_cfg_lines(datacfg, "valid", "test", "image list", n);
}

void sal_free_data_cfg(list *options)
{
    node *n;
    for(n = options->front; n; n = n->next){
        kvp *p = (kvp *)n->val;
        free(p->key);    /* the line fgetl() read; the value points into it */
        free(p);
    }
    free_list(options);
}

void sal_free_strings(char **s, int n)
{
    int i;
    for(i = 0; i < n; ++i) free(s[i]);
    free(s);
}

/* the value of "-flag" as a string, dying when the flag has no value */
// ---- flags -------------------------------------------------------------------------------------

char *sal_flag_str(int argc, char **argv, const char *flag, char *def)
{
    int i;
    for(i = 0; i < argc; ++i){
        if(strcmp(argv[i], flag)) continue;
        if(i + 1 >= argc) sal_die("%s needs a value", flag);
        return argv[i+1];
    }
    return def;
}

long sal_flag_long(int argc, char **argv, const char *flag, long def, long lo, long hi)
{
    char *v = sal_flag_str(argc, argv, flag, 0);
    if(!v) return def;
    long x;
    char why[128];
    if(num_parse_long(v, lo, hi, &x, why, sizeof(why))) sal_die("%s %s: %s; allowed: a whole number %ld ... %ld", flag, v, why, lo, hi);
    return x;
}

int sal_flag_int(int argc, char **argv, const char *flag, int def, int lo, int hi)
{
    return (int)sal_flag_long(argc, argv, flag, def, lo, hi);
}

uint64_t sal_flag_u64(int argc, char **argv, const char *flag, uint64_t def)
{
    char *v = sal_flag_str(argc, argv, flag, 0);
    if(!v) return def;
    uint64_t x;
    char why[128];
    if(num_parse_u64(v, &x, why, sizeof(why))) sal_die("%s %s: %s; allowed: a whole number 0 ... 18446744073709551615", flag, v, why);
    return x;
}

double sal_flag_real(int argc, char **argv, const char *flag, double def, double lo, int lo_open, double hi, int hi_open)
{
    char *v = sal_flag_str(argc, argv, flag, 0);
    if(!v) return def;
    double x;
    char why[128];
    if(num_parse_real(v, lo, lo_open, hi, hi_open, &x, why, sizeof(why)))
        sal_die("%s %s: %s; allowed: a number %s %g and %s %g", flag, v, why, lo_open ? ">" : ">=", lo, hi_open ? "<" : "<=", hi);
    return x;
}

eng_form sal_flag_form(int argc, char **argv, const char *def)
{
    char *v = sal_flag_str(argc, argv, "-formulation", (char *)def);
    eng_form f;
    if(eng_form_parse(v, &f)) sal_die("-formulation %s: allowed: %s", v, eng_form_names());
    return f;
}

eng_method sal_flag_method(int argc, char **argv, const char *def)
{
    char *v = sal_flag_str(argc, argv, "-method", (char *)def);
    eng_method m;
    if(eng_method_parse(v, &m)) sal_die("-method %s: allowed: %s", v, eng_method_names());
    return m;
}

/* dies on a "-flag" that the verb does not know or that is given twice; known lists the flags
   that take a value */
void sal_check_flags(int argc, char **argv, int first, const char **known)
{
    int i, j, k;
    for(i = first; i < argc; ++i){
        if(argv[i][0] != '-') sal_die("unexpected argument '%s'", argv[i]);
        for(j = 0; known[j]; ++j) if(!strcmp(argv[i], known[j])) break;
        if(!known[j]) sal_die("unknown option '%s'", argv[i]);
        for(k = first; k < i; k += 2) if(!strcmp(argv[k], argv[i])) sal_die("%s is given twice; give it once", argv[i]);
        ++i;
    }
}

// ---- the methods' options ---------------------------------------------------------------------

const char *const sal_method_flags[] = {"-formulation", "-seed", "-steps", "-baseline", "-rule", "-samples", "-sigma",
                                        "-variant", "-of", "-mask_size", "-iterations", "-layer", "-masks", "-cells",
                                        "-p1", "-window", "-stride", "-fill", "-points", "-lambda1", "-lambda2",
                                        "-noise", "-alpha", "-explainer", "-explainer_weights", 0};

void sal_method_options(int argc, char **argv, mth_opts *o)
{
    mth_defaults(o);
    o->form = sal_flag_form(argc, argv, "onehot");
    o->seed = sal_flag_u64(argc, argv, "-seed", o->seed);
    o->steps = sal_flag_int(argc, argv, "-steps", o->steps, 1, 100000);
    o->baseline = sal_flag_str(argc, argv, "-baseline", (char *)o->baseline);
    o->rule = sal_flag_str(argc, argv, "-rule", (char *)o->rule);
    o->samples = sal_flag_int(argc, argv, "-samples", o->samples, 1, 1000000);
    o->sigma = sal_flag_real(argc, argv, "-sigma", o->sigma, 0, 0, 100, 0);
    o->variant = sal_flag_str(argc, argv, "-variant", (char *)o->variant);
    o->of = sal_flag_str(argc, argv, "-of", (char *)o->of);
    o->mask_size = sal_flag_int(argc, argv, "-mask_size", o->mask_size, 1, 4096);
    o->iterations = sal_flag_int(argc, argv, "-iterations", o->iterations, 1, 100000);
    o->points = sal_flag_int(argc, argv, "-points", o->points, 1, 100000);
    o->lambda1 = sal_flag_real(argc, argv, "-lambda1", o->lambda1, 0, 0, 1e6, 0);
    o->lambda2 = sal_flag_real(argc, argv, "-lambda2", o->lambda2, 0, 0, 1e6, 0);
    o->noise = sal_flag_real(argc, argv, "-noise", o->noise, 0, 0, 100, 0);
    o->alpha = sal_flag_real(argc, argv, "-alpha", o->alpha, 0, 1, 1e12, 0);
    o->layer = sal_flag_int(argc, argv, "-layer", o->layer, 0, 1 << 20);
    o->masks = sal_flag_int(argc, argv, "-masks", o->masks, 1, 10000000);
    o->cells = sal_flag_int(argc, argv, "-cells", o->cells, 1, 4096);
    o->p1 = sal_flag_real(argc, argv, "-p1", o->p1, 0, 1, 1, 0);
    o->window = sal_flag_int(argc, argv, "-window", o->window, 1, 1 << 16);
    o->stride = sal_flag_int(argc, argv, "-stride", o->stride, 1, 1 << 16);
    o->fill = sal_flag_str(argc, argv, "-fill", (char *)o->fill);
    char *ecfg = sal_flag_str(argc, argv, "-explainer", 0), *eweights = sal_flag_str(argc, argv, "-explainer_weights", 0);
    if(!ecfg != !eweights) sal_die("-explainer and -explainer_weights go together (the explainer's cfg and its trained weights)");
    if(ecfg) xpl_method_options(o, ecfg, eweights);
}

void sal_check_method_flags(int argc, char **argv, int first, const char *const *own)
{
    int n = 0, m = 0, i;
    while(own[n]) ++n;
    while(sal_method_flags[m]) ++m;
    const char **all = calloc(n + m + 1, sizeof(char *));
    for(i = 0; i < n; ++i) all[i] = own[i];
    for(i = 0; i < m; ++i) all[n + i] = sal_method_flags[i];
    sal_check_flags(argc, argv, first, all);
    free(all);
}

// ---- progress --------------------------------------------------------------------------------

void sal_progress_init(sal_progress *p, const char *what, const char *unit, long total)
{
    memset(p, 0, sizeof(*p));
    p->what = what;
    p->unit = unit;
    p->total = total;
    p->t0 = what_time_is_it_now();
}

void sal_progress_update(sal_progress *p, long done)
{
    double now = what_time_is_it_now();
    if(now - p->t0 < 1 || now - p->last < 1) return;
    p->last = now;
    p->shown = 1;
    double rate = done/(now - p->t0);
    fprintf(stderr, "\r%s: %ld/%ld %s, %.1f %s/s, %.0f s left   ", p->what, done, p->total, p->unit, rate, p->unit,
            rate > 0 ? (p->total - done)/rate : 0);
}

void sal_progress_done(sal_progress *p)
{
    if(p->shown) fprintf(stderr, "\n");
    p->shown = 0;
}

// ---- pictures --------------------------------------------------------------------------------

#ifndef SAL_DARKNET_DIR
#define SAL_DARKNET_DIR "."
#endif

/* darknet's label letters, alphabet[size][char] for sizes 0..7, from the first directory that has
   them; NULL when none does (then pictures go without captions) */
static image **letters(void)
{
    static image **alphabet;
    static int tried;
    if(tried) return alphabet;
    tried = 1;
    const char *env = getenv("DARKNET_LABELS");
    const char *dirs[3] = {env && env[0] ? env : 0, SAL_DARKNET_DIR "/data/labels", "/usr/share/darknet/data/labels"};
    int d, i, j;
    for(d = 0; d < 3 && !alphabet; ++d){
        if(!dirs[d]) continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%d_%d.png", dirs[d], 'A', 0);
        FILE *f = fopen(path, "rb");
        if(!f) continue;
        fclose(f);
        alphabet = calloc(8, sizeof(image *));
        for(j = 0; j < 8; ++j){
            alphabet[j] = calloc(128, sizeof(image));
            for(i = 32; i < 127; ++i){
                snprintf(path, sizeof(path), "%s/%d_%d.png", dirs[d], i, j);
                alphabet[j][i] = dk_load_image(path, 0, 0, 3);
                if(!alphabet[j][i].data) alphabet[j][i] = make_image(1, 1, 3);
            }
        }
    }
    return alphabet;
}

image **sal_letters(void)
{
    return letters();
}

image sal_heat_image(const float *heat, int h, int w)
{
    image im = make_image(w, h, 3);
    int i;
    for(i = 0; i < h*w; ++i){
        float rgb[3];
        cmap_jet(heat[i], rgb);
        im.data[i] = rgb[0]; im.data[h*w + i] = rgb[1]; im.data[2*h*w + i] = rgb[2];
    }
    return im;
}

image sal_montage(const image *pics, const char *const *captions, int n, int height)
{
    image **abc = letters();
    const int gap = 6;
    int i, x, y, k, width = gap, top = 0;
    image *labels = calloc(n, sizeof(image));
    int *colw = calloc(n, sizeof(int));
    for(i = 0; i < n; ++i){
        if(abc && captions && captions[i]){
            labels[i] = get_label(abc, (char *)captions[i], 20);
            if(labels[i].h + gap > top) top = labels[i].h + gap;
        }
        int w = (pics[i].w*height + pics[i].h - 1)/pics[i].h;
        colw[i] = labels[i].w > w ? labels[i].w : w;
        width += colw[i] + gap;
    }
    image out = make_image(width, height + top + 2*gap, 3);
    fill_image(out, 1);
    int left = gap;
    for(i = 0; i < n; ++i){
        const image *p = &pics[i];
        int w = (p->w*height + p->h - 1)/p->h, x0 = left + (colw[i] - w)/2;
        for(k = 0; k < 3; ++k)
            for(y = 0; y < height; ++y)
                for(x = 0; x < w; ++x){
                    int sx = x*p->w/w, sy = y*p->h/height, sc = p->c == 3 ? k : 0;
                    out.data[(k*out.h + y + top + gap)*out.w + x0 + x] = p->data[(sc*p->h + sy)*p->w + sx];
                }
        if(labels[i].data){
            const float white[3] = {1, 1, 1};   /* darknet's letters: black on a box of this colour */
            draw_label(out, gap, left + (colw[i] - labels[i].w)/2, labels[i], white);
            free_image(labels[i]);
        }
        left += colw[i] + gap;
    }
    free(labels);
    free(colw);
    return out;
}

// ---- detectors ---------------------------------------------------------------------------------

det_detection *sal_detect(network *net, const float *x, float thresh, float nms, int *n)
{
    int b0 = net->batch, train = net->train;
    set_batch_network(net, 1);
    net->train = 0;
    memcpy(net->input, x, net->inputs*sizeof(float));
    dk_forward(net);
    det_detection *d;
    *n = det_decode(net, 0, thresh, nms, &d);
    set_batch_network(net, b0);
    net->train = train;
    return d;
}

void sal_check_detector(network *net, const char *cfg, const char *datacfg, int nnames)
{
    int classes = 0;
    if(!det_heads(net, &classes)) sal_die("cfg '%s': no [yolo] layer: `saliency detector` explains YOLO detections (use `saliency map` for a classifier)", cfg);
    if(nnames != classes) sal_die("data cfg '%s' names %d classes, cfg '%s' has %d in its [yolo] layers", datacfg, nnames, cfg, classes);
    if(net->c != 3) sal_die("cfg '%s': [net] channels=%d: a detector explained here reads colour images (channels=3)", cfg, net->c);
}

det_kind sal_flag_score(int argc, char **argv)
{
    char *name = sal_flag_str(argc, argv, "-score", "score");
    det_kind kind;
    if(det_kind_parse(name, &kind)) sal_die("-score %s: allowed: %s", name, det_kind_names());
    return kind;
}

void sal_detector_method_options(int argc, char **argv, mth_opts *o)
{
    sal_method_options(argc, argv, o);
    /* rise on a detector is D-RISE: its defaults (Petsiuk et al. 2021), 5000 masks of a 16 x 16 grid */
    if(!sal_flag_str(argc, argv, "-masks", 0)) o->masks = 5000;
    if(!sal_flag_str(argc, argv, "-cells", 0)) o->cells = 16;
}
