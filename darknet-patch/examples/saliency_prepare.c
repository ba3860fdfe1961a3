/* saliency_prepare.c: `darknet saliency prepare fashion-mnist <out dir>`: turns the IDX files of
   Fashion-MNIST (Debian's dataset-fashion-mnist, gzipped or not) into what `darknet classifier`
   reads: one PNG per image whose name carries its class, train/test lists, labels, names and a
   data cfg. The headers and sizes are checked first; every output is written through a temporary
   file and a rename, and files already there are kept, so an interrupted run just runs again.
   `darknet saliency prepare fashion-scenes <out dir>`: scenes of 1-3 garments with ground truth
   (src/scenes.h): per scene the PNG, its class mask, darknet's detection labels beside it, and
   the lists and data cfg that `darknet classifier train` (multi-label, the classes in the file
   name) and `darknet detector train` read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "darknet.h"
#include "saliency_util.h"
#include "idx.h"
#include "numparse.h"
#include "scenes.h"

#define PREP_SRC "/usr/share/datasets/fashion-mnist"
#define PREP_CLASSES 10

/* Fashion-MNIST's classes in label order. The token is what a file name carries; darknet finds an
   image's class by strstr(path, label), so the labels are "_<token>." : no label is a part of
   another ("shirt" is a part of "tshirt", "_shirt." is not a part of "_tshirt.") nor of a
   directory name. */
static const char *prep_token[PREP_CLASSES] = {
    "tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"
};
static const char *prep_name[PREP_CLASSES] = {
    "t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"
};

static void prep_usage(void)
{
    saliency_usage_of("prepare");
    fprintf(stderr,
        "  -train N, -test N  the first N images of each set (default: all)\n"
        "  -size S            PNGs resized to S x S pixels (default: the native 28 x 28)\n"
        "  -src DIR           where the idx files are (default " PREP_SRC ")\n"
        "fashion-scenes:\n"
        "  -n N               training scenes (default 5000), from Fashion-MNIST's training images\n"
        "  -test M            test scenes (default N/5), from its test images\n"
        "  -size S            scenes of S x S pixels (default 64)\n"
        "  -objects MIN:MAX   garments per scene (default 1:3)\n"
        "  -seed K            the scenes drawn (default 1); the same K, the same files\n"
        "  -src DIR           as above\n");
}

static uint32_t prep_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* <dir>/<base>.gz, or <dir>/<base> when only that exists */
static void prep_find(char *dst, size_t size, const char *dir, const char *base)
{
    snprintf(dst, size, "%s/%s.gz", dir, base);
    if(access(dst, R_OK) == 0) return;
    snprintf(dst, size, "%s/%s", dir, base);
    if(access(dst, R_OK) == 0) return;
    sal_die("cannot read '%s/%s.gz' (nor '%s'): install Debian's dataset-fashion-mnist or give -src DIR",
            dir, base, dst);
}

/* An IDX file of unsigned bytes (src/idx.h): magic 2051 with (n, rows, cols) for images, 2049
   with (n) for labels. Dies on a wrong magic, an odd size, a file cut short or with bytes after
   the data, a label that is not a Fashion-MNIST class. */
static idx_file prep_load_idx(const char *dir, const char *base, int images)
{
    idx_file x;
    char path[4096], err[8400];
    prep_find(path, sizeof(path), dir, base);
    if(idx_read(path, images ? IDX_IMAGES : IDX_LABELS, &x, err, sizeof(err))) sal_die("%s", err);
    if(!images && idx_check_labels(&x, PREP_CLASSES, "Fashion-MNIST", err, sizeof(err))) sal_die("%s", err);
    return x;
}

static void prep_mkdir(const char *path)
{
    char buf[4096];
    size_t i, len = strlen(path);
    if(len >= sizeof(buf)) sal_die("directory name '%s' is too long", path);
    strcpy(buf, path);
    for(i = 1; i <= len; ++i){
        if(buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if(mkdir(buf, 0777) != 0 && errno != EEXIST) sal_die("cannot create directory '%s': %s", buf, strerror(errno));
        buf[i] = c;
    }
    struct stat st;
    if(stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) sal_die("'%s' is not a directory", path);
}

/* 1 when path is a PNG of w x h pixels (a file kept from an earlier run with the same -size) */
static int prep_png_is(const char *path, int w, int h)
{
    unsigned char b[24];
    FILE *f = fopen(path, "rb");
    if(!f) return 0;
    size_t n = fread(b, 1, sizeof(b), f);
    fclose(f);
    if(n != sizeof(b) || memcmp(b, "\x89PNG\r\n\x1a\n", 8) || memcmp(b + 12, "IHDR", 4)) return 0;
    return (int)prep_be32(b + 16) == w && (int)prep_be32(b + 20) == h;
}

/* A growing text buffer for the lists. */
typedef struct {
    char *s;
    size_t len, cap;
} prep_text;

static void prep_append(prep_text *t, const char *line)
{
    size_t n = strlen(line);
    if(t->len + n + 2 > t->cap){
        t->cap = 2*(t->len + n + 2) + 4096;
        t->s = realloc(t->s, t->cap);
        if(!t->s) sal_die("out of memory building a list");
    }
    memcpy(t->s + t->len, line, n);
    t->len += n;
    t->s[t->len++] = '\n';
    t->s[t->len] = 0;
}

/* darknet's fill_truth must find exactly the right class in path: checked here, so that an output
   directory whose name holds a label token is refused rather than trained on with wrong classes. */
static void prep_check_label(const char *path, const char *outdir, int cls)
{
    char label[64];
    int i, count = 0, found = -1;
    for(i = 0; i < PREP_CLASSES; ++i){
        snprintf(label, sizeof(label), "_%s.", prep_token[i]);
        if(strstr(path, label)){ ++count; found = i; }
    }
    if(count != 1 || found != cls)
        sal_die("darknet would read the class of '%s' wrongly (labels are matched anywhere in the path): "
                "choose an output directory whose name has no '_<class>.' in it, not '%s'", path, outdir);
}

/* Writes the first count images of imgs (with their labels) as <out>/<set>/NNNNN_<token>.png
   (size x size pixels, or the native size when size is 0),
   keeping PNGs of the right size already there, and returns the list of their paths. */
static prep_text prep_write_set(idx_file *imgs, idx_file *labs, int count, int size, const char *outdir, const char *set)
{
    char dir[512], prefix[1024], path[1100];
    snprintf(dir, sizeof(dir), "%s/%s", outdir, set);
    prep_mkdir(dir);
    prep_text list = {0};
    int i, j, written = 0;
    int w = imgs->cols, h = imgs->rows;
    int ow = size > 0 ? size : w, oh = size > 0 ? size : h;
    double start = what_time_is_it_now();
    sal_progress prog;
    sal_progress_init(&prog, set, "images", count);
    image im = make_image(w, h, 1);
    for(i = 0; i < count; ++i){
        int cls = labs->data[i];
        snprintf(prefix, sizeof(prefix), "%s/%05d_%s", dir, i, prep_token[cls]);
        snprintf(path, sizeof(path), "%s.png", prefix);
        prep_check_label(path, outdir, cls);
        prep_append(&list, path);
        if(!prep_png_is(path, ow, oh)){
            const unsigned char *px = imgs->data + (size_t)i*w*h;
            for(j = 0; j < w*h; ++j) im.data[j] = px[j]/255.f;
            if(ow == w && oh == h){
                sal_save_png(im, prefix);
            } else {
                image r = resize_image(im, ow, oh);
                /* to the nearest byte value: darknet's writer truncates */
                for(j = 0; j < ow*oh; ++j){
                    float v = floorf(r.data[j]*255.f + .5f)/255.f;
                    r.data[j] = v < 0 ? 0 : (v > 1 ? 1 : v);
                }
                sal_save_png(r, prefix);
                free_image(r);
            }
            ++written;
        }
        sal_progress_update(&prog, i + 1);
    }
    sal_progress_done(&prog);
    printf("%s: %d/%d images, %d written, %d already there, %f seconds\n",
           set, count, count, written, count - written, what_time_is_it_now() - start);
    free_image(im);
    return list;
}

static void prepare_scenes(int argc, char **argv);

static void prep_write_data_cfg(const char *outdir, const char *file, const char *train, const char *valid,
                                char delim, int keep_same, char *path, char *labels, char *names);

void saliency_prepare(int argc, char **argv)
{
    static const char *flags[] = {"-train", "-test", "-size", "-src", 0};
    int i;
    if(argc < 5){ prep_usage(); exit(1); }
    char *dataset = argv[3], *outdir = argv[4];
    if(!strcmp(dataset, "fashion-scenes")){ prepare_scenes(argc, argv); return; }
    if(strcmp(dataset, "fashion-mnist")) sal_die("prepare: unknown data set '%s' (known: fashion-mnist, fashion-scenes)", dataset);
    sal_check_flags(argc, argv, 5, flags);
    char *src = sal_flag_str(argc, argv, "-src", PREP_SRC);
    int ntrain = sal_flag_int(argc, argv, "-train", -1, 1, 100000000);
    int ntest = sal_flag_int(argc, argv, "-test", -1, 1, 100000000);
    int size = sal_flag_int(argc, argv, "-size", 0, 1, 1024);
    size_t outlen = strlen(outdir);
    while(outlen > 1 && outdir[outlen-1] == '/') outdir[--outlen] = 0;
    if(outlen == 0 || outlen > 150) sal_die("output directory '%s': give a name of 1 to 150 characters", outdir);

    const char *sets[2] = {"train", "test"};
    const char *bases[2] = {"train", "t10k"};
    int counts[2] = {ntrain, ntest};
    prep_text lists[2];
    prep_mkdir(outdir);
    for(i = 0; i < 2; ++i){
        char b[64];
        snprintf(b, sizeof(b), "%s-images-idx3-ubyte", bases[i]);
        idx_file imgs = prep_load_idx(src, b, 1);
        snprintf(b, sizeof(b), "%s-labels-idx1-ubyte", bases[i]);
        idx_file labs = prep_load_idx(src, b, 0);
        if(imgs.n != labs.n) sal_die("'%s' has %d images but '%s' has %d labels", imgs.path, imgs.n, labs.path, labs.n);
        if(counts[i] < 0) counts[i] = imgs.n;
        if(counts[i] > imgs.n) sal_die("-%s %d: '%s' holds %d images", sets[i], counts[i], imgs.path, imgs.n);
        printf("%s: %d of %d images of %dx%d from %s -> %s/%s/ (%dx%d PNGs)\n", sets[i], counts[i], imgs.n,
               imgs.cols, imgs.rows, imgs.path, outdir, sets[i], size > 0 ? size : imgs.cols, size > 0 ? size : imgs.rows);
        lists[i] = prep_write_set(&imgs, &labs, counts[i], size, outdir, sets[i]);
        idx_free(&imgs);
        idx_free(&labs);
    }

    char path[4096], trainlist[4096], testlist[4096], labels[4096], names[4096];
    snprintf(trainlist, sizeof(trainlist), "%s/train.list", outdir);
    snprintf(testlist, sizeof(testlist), "%s/test.list", outdir);
    sal_write_file(trainlist, lists[0].s, lists[0].len);
    sal_write_file(testlist, lists[1].s, lists[1].len);
    free(lists[0].s);
    free(lists[1].s);
    prep_write_data_cfg(outdir, "fashion.data", trainlist, testlist, '_', 0, path, labels, names);
    printf("wrote: %s %s %s %s %s (%d train, %d test images)\n", path, trainlist, testlist, labels, names, counts[0], counts[1]);
}

/* ---- fashion-scenes ------------------------------------------------------------------------- */

/* An image path's classes for darknet's classifier: the file name carries ".<token>." for each
   class of the scene (fill_truth's strstr gives the multi-hot truth a [logistic] output trains on).
   Checked: exactly the scene's classes are found in the whole path. */
static void scn_check_classes(const char *path, const char *outdir, const int *has)
{
    char label[64];
    int i;
    for(i = 0; i < PREP_CLASSES; ++i){
        snprintf(label, sizeof(label), ".%s.", prep_token[i]);
        if(!strstr(path, label) != !has[i])
            sal_die("darknet would read the classes of '%s' wrongly (labels are matched anywhere in the path): "
                    "choose an output directory whose name has no '.<class>.' in it, not '%s'", path, outdir);
    }
}

/* darknet's detector reads the boxes of an image from the path fill_truth_detection (data.c) makes
   by find_replace: images, JPEGImages and raw become labels, the first .jpg/.png/.JPG/.JPEG .txt.
   The labels are written beside the image, so that path must be ours: checked here. */
static void scn_check_label_path(const char *png, const char *txt, const char *outdir)
{
    /* the same replacements in the same order, between two buffers (find_replace copies its input
       to its output: in place, that copy overlaps) */
    static char *const from[] = {"images", "JPEGImages", "raw", ".jpg", ".png", ".JPG", ".JPEG"};
    static char *const to[] = {"labels", "labels", "labels", ".txt", ".txt", ".txt", ".txt"};
    char a[4096], b[4096], *p = a, *q = b, *t;
    int i;
    snprintf(a, sizeof(a), "%s", png);
    for(i = 0; i < 7; ++i){ find_replace(p, from[i], to[i], q); t = p; p = q; q = t; }
    if(strcmp(p, txt))
        sal_die("darknet's detector would look for the labels of '%s' in '%s', not beside it: choose an output "
                "directory whose name has none of 'images', 'JPEGImages', 'raw', '.jpg', '.png', '.JPG', '.JPEG', not '%s'",
                png, p, outdir);
}

/* 1 when path holds exactly these bytes */
static int scn_file_is(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "rb");
    if(!f) return 0;
    int same = 1;
    size_t i;
    for(i = 0; i < n && same; ++i) if(fgetc(f) != (unsigned char)data[i]) same = 0;
    if(same && fgetc(f) != EOF) same = 0;
    fclose(f);
    return same;
}

/* 1 when path is a PNG of c channels holding exactly the bytes px (c, h, w) */
static int scn_png_is(const char *path, const unsigned char *px, int w, int h, int c)
{
    image im;
    char err[8400];
    if(!prep_png_is(path, w, h)) return 0;
    if(sal_read_image(path, 0, 0, c, &im, err, sizeof(err))) return 0;
    int same = im.w == w && im.h == h && im.c == c;
    size_t i;
    for(i = 0; same && i < (size_t)w*h*c; ++i) if((int)floorf(im.data[i]*255.f + .5f) != px[i]) same = 0;
    free_image(im);
    return same;
}

/* writes px (c, h, w) bytes as <prefix>.png unless it already holds them; 1 when written */
static int scn_put_png(const char *prefix, const unsigned char *px, int w, int h, int c)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s.png", prefix);
    if(scn_png_is(path, px, w, h, c)) return 0;
    image im = make_image(w, h, c);
    size_t i;
    for(i = 0; i < (size_t)w*h*c; ++i) im.data[i] = px[i]/255.f;
    sal_save_png(im, prefix);
    free_image(im);
    return 1;
}

static int scn_put_text(const char *path, const char *data, size_t n)
{
    if(scn_file_is(path, data, n)) return 0;
    sal_write_file(path, data, n);
    return 1;
}

/* writes data unless keep_same and path already holds exactly it */
static void prep_put(const char *path, const char *data, size_t n, int keep_same)
{
    if(!keep_same || !scn_file_is(path, data, n)) sal_write_file(path, data, n);
}

/* what both datasets' data cfg names beside the lists: labels.txt (each class's token between
   delim and '.': darknet reads an image's classes from its path), names.txt, backup/, and
   <outdir>/<file> itself; keep_same: a file already holding its bytes is not written again.
   path, labels, names (4096 bytes each): the data cfg's, labels.txt's and names.txt's paths. */
static void prep_write_data_cfg(const char *outdir, const char *file, const char *train, const char *valid,
                                char delim, int keep_same, char *path, char *labels, char *names)
{
    char backup[4096];
    snprintf(labels, 4096, "%s/labels.txt", outdir);
    snprintf(names, 4096, "%s/names.txt", outdir);
    snprintf(backup, sizeof(backup), "%s/backup", outdir);
    prep_text t = {0}, nm = {0};
    int i;
    for(i = 0; i < PREP_CLASSES; ++i){
        char line[64];
        snprintf(line, sizeof(line), "%c%s.", delim, prep_token[i]);
        prep_append(&t, line);
        prep_append(&nm, prep_name[i]);
    }
    char data[32768];
    int n = snprintf(data, sizeof(data),
                     "classes=%d\ntrain=%s\nvalid=%s\nlabels=%s\nnames=%s\nbackup=%s\ntop=1\n",
                     PREP_CLASSES, train, valid, labels, names, backup);
    snprintf(path, 4096, "%s/%s", outdir, file);
    prep_put(labels, t.s, t.len, keep_same);
    prep_put(names, nm.s, nm.len, keep_same);
    prep_mkdir(backup);
    prep_put(path, data, n, keep_same);
    free(t.s);
    free(nm.s);
}

/* The scenes of one set into <out>/<set>/: NNNNN.<token>[.<token>...].png, NNNNN...._mask.png,
   NNNNN....txt. Returns the image list; the tag lines ("<path> <class> ...") in *tags. */
static prep_text scn_write_set(const scn_opts *o, idx_file *imgs, idx_file *labs, int count, uint64_t seed,
                               int set, const char *outdir, const char *setname, prep_text *tags, int *objects)
{
    char dir[512], prefix[1024], path[1100], mpre[1100], txt[1100], err[1024];
    snprintf(dir, sizeof(dir), "%s/%s", outdir, setname);
    prep_mkdir(dir);
    prep_text list = {0};
    int S = o->size, i, k, written = 0;
    unsigned char *rgb = malloc((size_t)3*S*S), *mask = malloc((size_t)S*S), *inst = malloc((size_t)S*S);
    if(!rgb || !mask || !inst) sal_die("out of memory for a %dx%d scene", S, S);
    double start = what_time_is_it_now();
    sal_progress prog;
    sal_progress_init(&prog, setname, "scenes", count);
    for(i = 0; i < count; ++i){
        scn_scene sc;
        if(scn_compose(o, imgs->data, labs->data, imgs->n, imgs->rows, imgs->cols, PREP_CLASSES,
                       scn_seed(seed, set, i), rgb, mask, inst, &sc, err, sizeof(err)))
            sal_die("%s scene %d: %s", setname, i, err);
        int has[PREP_CLASSES] = {0};
        for(k = 0; k < sc.n; ++k) has[sc.obj[k].cls] = 1;
        int len = snprintf(prefix, sizeof(prefix), "%s/%05d", dir, i);
        for(k = 0; k < PREP_CLASSES; ++k) if(has[k]) len += snprintf(prefix + len, sizeof(prefix) - len, ".%s", prep_token[k]);
        snprintf(path, sizeof(path), "%s.png", prefix);
        snprintf(mpre, sizeof(mpre), "%s_mask", prefix);
        snprintf(txt, sizeof(txt), "%s.txt", prefix);
        scn_check_classes(path, outdir, has);
        scn_check_label_path(path, txt, outdir);
        prep_append(&list, path);

        char line[2048], boxes[1024];
        int bl = 0, tl = snprintf(line, sizeof(line), "%s", path);
        for(k = 0; k < PREP_CLASSES; ++k) if(has[k]) tl += snprintf(line + tl, sizeof(line) - tl, " %d", k);
        prep_append(tags, line);
        for(k = 0; k < sc.n; ++k)
            bl += snprintf(boxes + bl, sizeof(boxes) - bl, "%d %.6f %.6f %.6f %.6f\n",
                           sc.obj[k].cls, sc.obj[k].x, sc.obj[k].y, sc.obj[k].w, sc.obj[k].h);
        *objects += sc.n;

        int w = scn_put_png(prefix, rgb, S, S, 3);
        w |= scn_put_png(mpre, mask, S, S, 1);
        w |= scn_put_text(txt, boxes, bl);
        written += w;
        sal_progress_update(&prog, i + 1);
    }
    sal_progress_done(&prog);
    printf("%s: %d scenes, %d written, %d already there, %f seconds\n",
           setname, count, written, count - written, what_time_is_it_now() - start);
    free(rgb);
    free(mask);
    free(inst);
    return list;
}

static void prepare_scenes(int argc, char **argv)
{
    static const char *flags[] = {"-n", "-test", "-size", "-objects", "-seed", "-src", 0};
    char *outdir = argv[4];
    sal_check_flags(argc, argv, 5, flags);
    char *src = sal_flag_str(argc, argv, "-src", PREP_SRC);
    int ntrain = sal_flag_int(argc, argv, "-n", 5000, 1, 10000000);
    int ntest = sal_flag_int(argc, argv, "-test", ntrain/5 > 0 ? ntrain/5 : 1, 1, 10000000);
    scn_opts o = scn_defaults(sal_flag_int(argc, argv, "-size", 64, 8, 1024));
    uint64_t seed = sal_flag_u64(argc, argv, "-seed", 1);
    char *objects = sal_flag_str(argc, argv, "-objects", "1:3");
    {
        char a[64], why[256], *colon = strchr(objects, ':');
        long lo, hi;
        if(!colon || colon - objects >= (long)sizeof(a)) sal_die("-objects '%s': give MIN:MAX, e.g. 1:3", objects);
        memcpy(a, objects, colon - objects);
        a[colon - objects] = 0;
        if(num_parse_long(a, 1, SCN_MAX_OBJECTS, &lo, why, sizeof(why)) || num_parse_long(colon + 1, 1, SCN_MAX_OBJECTS, &hi, why, sizeof(why)) || lo > hi)
            sal_die("-objects '%s': give MIN:MAX with 1 <= MIN <= MAX <= %d", objects, SCN_MAX_OBJECTS);
        o.min_objects = (int)lo;
        o.max_objects = (int)hi;
    }
    char err[1024];
    if(scn_check(&o, err, sizeof(err))) sal_die("%s", err);
    size_t outlen = strlen(outdir);
    while(outlen > 1 && outdir[outlen-1] == '/') outdir[--outlen] = 0;
    if(outlen == 0 || outlen > 150) sal_die("output directory '%s': give a name of 1 to 150 characters", outdir);

    const char *sets[2] = {"train", "test"};
    const char *bases[2] = {"train", "t10k"};
    int counts[2] = {ntrain, ntest}, objs[2] = {0, 0}, i;
    prep_text lists[2], tags[2] = {{0}, {0}};
    prep_mkdir(outdir);
    for(i = 0; i < 2; ++i){
        char b[64];
        snprintf(b, sizeof(b), "%s-images-idx3-ubyte", bases[i]);
        idx_file imgs = prep_load_idx(src, b, 1);
        snprintf(b, sizeof(b), "%s-labels-idx1-ubyte", bases[i]);
        idx_file labs = prep_load_idx(src, b, 0);
        if(imgs.n != labs.n) sal_die("'%s' has %d images but '%s' has %d labels", imgs.path, imgs.n, labs.path, labs.n);
        printf("%s: %d scenes of %dx%d, %d:%d garments of %s, seed %llu -> %s/%s/\n", sets[i], counts[i], o.size, o.size,
               o.min_objects, o.max_objects, imgs.path, (unsigned long long)seed, outdir, sets[i]);
        lists[i] = scn_write_set(&o, &imgs, &labs, counts[i], seed, i, outdir, sets[i], &tags[i], &objs[i]);
        idx_free(&imgs);
        idx_free(&labs);
    }

    char path[4096], list_path[2][4096], labels[4096], names[4096];
    for(i = 0; i < 2; ++i){
        snprintf(list_path[i], sizeof(list_path[i]), "%s/%s.list", outdir, sets[i]);
        scn_put_text(list_path[i], lists[i].s, lists[i].len);
        snprintf(path, sizeof(path), "%s/%s.tags", outdir, sets[i]);
        scn_put_text(path, tags[i].s, tags[i].len);
        free(lists[i].s);
        free(tags[i].s);
    }
    prep_write_data_cfg(outdir, "scenes.data", list_path[0], list_path[1], '.', 1, path, labels, names);
    printf("wrote: %s %s %s %s %s (%d train scenes with %d garments, %d test scenes with %d garments)\n",
           path, list_path[0], list_path[1], labels, names, counts[0], objs[0], counts[1], objs[1]);
}
