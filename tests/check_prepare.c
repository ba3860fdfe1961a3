// check_prepare.c: `darknet saliency prepare fashion-mnist` on tiny synthetic idx files (gzipped
// with gzip, as Debian ships them): PNG pixels, lists darknet's own fill_truth reads back
// correctly, labels/names/data cfg, re-runs that keep files, and damaged inputs that must fail
// with a message naming the file. Runs the binary named by $DARKNET (default ./darknet).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include "darknet.h"
#include "data.h"
#include "saliency_util.h"
#include "testutil.h"

#define NTRAIN 5
#define NTEST 3
#define ROWS 3
#define COLS 4

static const unsigned char train_labels[NTRAIN] = {0, 6, 9, 3, 7};
static const unsigned char test_labels[NTEST] = {8, 5, 6};
static const char *tokens[10] = {"tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"};

static char tmp[256];   // this test's directory, made fresh for each test

// the pixel byte of image i at (y, x): distinct per image and position, covering 0 and 255
static unsigned char pixel(int set, int i, int y, int x)
{
    if (i == 0 && y == 0 && x == 0) return 0;
    if (i == 0 && y == ROWS - 1 && x == COLS - 1) return 255;
    return (unsigned char)(set*101 + i*37 + y*COLS*5 + x*7 + 3);
}

static void put32(FILE *f, unsigned v)
{
    unsigned char b[4] = {v >> 24, v >> 16, v >> 8, v};
    fwrite(b, 1, 4, f);
}

// writes <tmp>/src/<base>-images-idx3-ubyte with a header announcing n_head images and n_data
// images of data, and the matching labels file; gzips both unless plain
static void write_idx(const char *base, int set, int n_head, int n_data, const unsigned char *labels, unsigned magic)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/src/%s-images-idx3-ubyte", tmp, base);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    put32(f, magic);
    put32(f, n_head);
    put32(f, ROWS);
    put32(f, COLS);
    for (int i = 0; i < n_data; i++)
        for (int y = 0; y < ROWS; y++)
            for (int x = 0; x < COLS; x++) fputc(pixel(set, i, y, x), f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/src/%s-labels-idx1-ubyte", tmp, base);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    put32(f, 2049);
    put32(f, n_head);
    fwrite(labels, 1, n_head, f);
    fclose(f);
}

static void gzip_src(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "gzip -f %s/src/*-ubyte", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static void make_good_src(void)
{
    write_idx("train", 0, NTRAIN, NTRAIN, train_labels, 2051);
    write_idx("t10k", 1, NTEST, NTEST, test_labels, 2051);
    gzip_src();
}

// runs darknet saliency prepare DATASET tmp/OUTDIR -src tmp/src EXTRA; the exit status, its output
// in out
static int prepare_dataset(const char *dataset, const char *outdir, const char *extra, char *out, size_t n)
{
    char args[2048];
    snprintf(args, sizeof(args), "prepare %s %s/%s -src %s/src %s", dataset, tmp, outdir, tmp, extra);
    return tu_saliency(NULL, args, out, (int)n);
}

static int prepare(const char *outdir, const char *extra, char *out, size_t n)
{
    return prepare_dataset("fashion-mnist", outdir, extra, out, n);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void setup(void)
{
    strcpy(tmp, "/tmp/check_prepare.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/src", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    if (strncmp(tmp, "/tmp/check_prepare.", 19) == 0) ck_assert_int_eq(system(cmd), 0);
}

// ---------------------------------------------------------------------------------------------

START_TEST(writes_pngs_lists_and_data_cfg)
{
    char out[8192], path[512];
    make_good_src();
    ck_assert_msg(prepare("out", "", out, sizeof(out)) == 0, "prepare failed: %s", out);

    // the lists: one path per image, in order, its class in its name
    snprintf(path, sizeof(path), "%s/out/train.list", tmp);
    char *txt = slurp(path);
    ck_assert_ptr_nonnull(txt);
    char want[4096] = "";
    for (int i = 0; i < NTRAIN; i++) {
        char line[512];
        snprintf(line, sizeof(line), "%s/out/train/%05d_%s.png\n", tmp, i, tokens[train_labels[i]]);
        strcat(want, line);
    }
    ck_assert_str_eq(txt, want);
    snprintf(path, sizeof(path), "%s/out/test.list", tmp);
    txt = slurp(path);
    ck_assert_ptr_nonnull(txt);
    want[0] = 0;
    for (int i = 0; i < NTEST; i++) {
        char line[512];
        snprintf(line, sizeof(line), "%s/out/test/%05d_%s.png\n", tmp, i, tokens[test_labels[i]]);
        strcat(want, line);
    }
    ck_assert_str_eq(txt, want);

    snprintf(path, sizeof(path), "%s/out/labels.txt", tmp);
    ck_assert_str_eq(slurp(path), "_tshirt.\n_trouser.\n_pullover.\n_dress.\n_coat.\n_sandal.\n_shirt.\n_sneaker.\n_bag.\n_boot.\n");
    snprintf(path, sizeof(path), "%s/out/names.txt", tmp);
    ck_assert_str_eq(slurp(path), "t-shirt\ntrouser\npullover\ndress\ncoat\nsandal\nshirt\nsneaker\nbag\nankle-boot\n");

    // the data cfg, read back the way darknet reads it
    snprintf(path, sizeof(path), "%s/out/fashion.data", tmp);
    list *opts = read_data_cfg(path);
    ck_assert_int_eq(option_find_int(opts, "classes", 0), 10);
    char expect[512];
    snprintf(expect, sizeof(expect), "%s/out/train.list", tmp);
    ck_assert_str_eq(option_find_str(opts, "train", ""), expect);
    snprintf(expect, sizeof(expect), "%s/out/test.list", tmp);
    ck_assert_str_eq(option_find_str(opts, "valid", ""), expect);
    snprintf(expect, sizeof(expect), "%s/out/backup", tmp);
    ck_assert_str_eq(option_find_str(opts, "backup", ""), expect);
    ck_assert_int_eq(access(expect, W_OK), 0);
    char **labels = get_labels(option_find_str(opts, "labels", ""));

    // every path gets exactly its class through darknet's fill_truth; every PNG has the pixels
    // (loaded as colour, as darknet's training does: a grey PNG gives three equal planes, plane 0
    // is checked; a 1-channel load needs patch 0013)
    for (int i = 0; i < NTRAIN; i++) {
        snprintf(path, sizeof(path), "%s/out/train/%05d_%s.png", tmp, i, tokens[train_labels[i]]);
        float truth[10];
        fill_truth(path, labels, 10, truth);
        for (int k = 0; k < 10; k++) ck_assert_msg(truth[k] == (k == train_labels[i]), "%s: class %d", path, k);
        image im = load_image(path, 0, 0, 3);
        ck_assert_int_eq(im.w, COLS);
        ck_assert_int_eq(im.h, ROWS);
        for (int y = 0; y < ROWS; y++)
            for (int x = 0; x < COLS; x++)
                // within a float's rounding: AlexeyAB's OpenCV loader scales by 1/255 (a multiply)
                ck_assert_msg(fabsf(im.data[y*COLS + x] - pixel(0, i, y, x)/255.f) <= 1e-6f, "%s (%d,%d): %f, want %d/255",
                              path, y, x, im.data[y*COLS + x], pixel(0, i, y, x));
        free_image(im);
    }
    snprintf(path, sizeof(path), "%s/out/test/00002_shirt.png", tmp);
    image im = load_image(path, 0, 0, 3);
    ck_assert_float_eq_tol(im.data[5], pixel(1, 2, 1, 1)/255.f, 1e-6f);
    free_image(im);
    sal_free_strings(labels, 10);
    sal_free_data_cfg(opts);
}
END_TEST

START_TEST(rerun_keeps_files_and_counts_resize)
{
    char out[8192], path[512];
    make_good_src();
    ck_assert_msg(prepare("out", "-train 2 -test 1", out, sizeof(out)) == 0, "%s", out);
    ck_assert_msg(strstr(out, "2 written") != NULL, "%s", out);
    ck_assert_msg(prepare("out", "-train 2 -test 1", out, sizeof(out)) == 0, "%s", out);
    ck_assert_msg(strstr(out, "0 written, 2 already there") != NULL, "second run rewrote files: %s", out);
    snprintf(path, sizeof(path), "%s/out/train.list", tmp);
    char *txt = slurp(path);
    ck_assert_ptr_nonnull(txt);
    int lines = 0;
    for (char *p = txt; *p; p++) lines += *p == '\n';
    ck_assert_int_eq(lines, 2);

    // another -size rewrites the kept files at the new size
    ck_assert_msg(prepare("out", "-train 2 -test 1 -size 8", out, sizeof(out)) == 0, "%s", out);
    ck_assert_msg(strstr(out, "2 written") != NULL, "%s", out);
    snprintf(path, sizeof(path), "%s/out/train/00001_shirt.png", tmp);
    image im = load_image(path, 0, 0, 3);
    ck_assert_int_eq(im.w, 8);
    ck_assert_int_eq(im.h, 8);
    free_image(im);

    // more images than the file has
    ck_assert_int_ne(prepare("out", "-train 6", out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "train-images-idx3-ubyte.gz' holds 5 images") != NULL, "%s", out);
}
END_TEST

START_TEST(truncated_image_file_fails_naming_it)
{
    char out[8192];
    write_idx("train", 0, NTRAIN, NTRAIN - 1, train_labels, 2051);  // header says 5, data holds 4
    write_idx("t10k", 1, NTEST, NTEST, test_labels, 2051);
    gzip_src();
    ck_assert_int_eq(prepare("out", "", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "/src/train-images-idx3-ubyte.gz' is cut short") != NULL, "%s", out);
}
END_TEST

START_TEST(damaged_gzip_fails_naming_it)
{
    char out[8192], cmd[2048];
    make_good_src();
    // keep the first 30 bytes of the gzip stream only
    snprintf(cmd, sizeof(cmd), "head -c 30 %s/src/t10k-labels-idx1-ubyte.gz > %s/cut && mv %s/cut %s/src/t10k-labels-idx1-ubyte.gz",
             tmp, tmp, tmp, tmp);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(prepare("out", "", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "/src/t10k-labels-idx1-ubyte.gz' is not a whole gzip file") != NULL, "%s", out);
}
END_TEST

START_TEST(wrong_magic_and_missing_files_fail)
{
    char out[8192];
    write_idx("train", 0, NTRAIN, NTRAIN, train_labels, 2049);  // a label magic on an image file
    write_idx("t10k", 1, NTEST, NTEST, test_labels, 2051);
    gzip_src();
    ck_assert_int_eq(prepare("out", "", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "train-images-idx3-ubyte.gz' is not an idx image file: magic number 2049, expected 2051") != NULL, "%s", out);

    // no source files at all
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -f %s/src/*", tmp);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(prepare("out", "", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "train-images-idx3-ubyte.gz' (nor") != NULL, "%s", out);
}
END_TEST

START_TEST(plain_idx_files_are_read_too)
{
    char out[8192], path[512];
    write_idx("train", 0, NTRAIN, NTRAIN, train_labels, 2051);
    write_idx("t10k", 1, NTEST, NTEST, test_labels, 2051);
    ck_assert_msg(prepare("out", "", out, sizeof(out)) == 0, "%s", out);
    snprintf(path, sizeof(path), "%s/out/train/00004_sneaker.png", tmp);
    ck_assert_int_eq(access(path, R_OK), 0);
}
END_TEST

START_TEST(out_dir_holding_a_label_is_refused)
{
    char out[8192];
    make_good_src();
    // "x_bag.d/" holds "_bag.": darknet would see two classes in every path
    ck_assert_int_eq(prepare("x_bag.d", "", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "darknet would read the class of") != NULL, "%s", out);
}
END_TEST


// ---- fashion-scenes ---------------------------------------------------------------------------

#define GSZ 12

// darknet's reader of an image's boxes (data.c: load_data_detection's, in no header): AB's rows
// are truth_size floats (x y w h id track_id), boxes under one pixel of the net's size dropped
#ifdef DK_FORK_AB
int fill_truth_detection(const char *path, int num_boxes, int truth_size, float *truth, int classes, int flip,
                         float dx, float dy, float sx, float sy, int net_w, int net_h);
#else
void fill_truth_detection(char *path, int num_boxes, float *truth, int classes, int flip, float dx, float dy, float sx, float sy);
#endif

// Fashion-MNIST-like idx files of n garments GSZ x GSZ (a bright blob on black) with labels
// i % 10, gzipped, as <tmp>/src/<base>-*-idx*-ubyte.gz
static void write_garments(const char *base, int n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/src/%s-images-idx3-ubyte", tmp, base);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    put32(f, 2051);
    put32(f, n);
    put32(f, GSZ);
    put32(f, GSZ);
    for (int i = 0; i < n; i++)
        for (int y = 0; y < GSZ; y++)
            for (int x = 0; x < GSZ; x++) {
                int in = y >= 2 && y < GSZ - 2 && x >= 1 + i % 3 && x < GSZ - 1;
                fputc(in ? 60 + (i*31 + y*7 + x*5) % 190 : 0, f);
            }
    fclose(f);
    snprintf(path, sizeof(path), "%s/src/%s-labels-idx1-ubyte", tmp, base);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    put32(f, 2049);
    put32(f, n);
    for (int i = 0; i < n; i++) fputc(i % 10, f);
    fclose(f);
}

static void make_garments(void)
{
    write_garments("train", 20);
    write_garments("t10k", 10);
    gzip_src();
}

static int scenes(const char *outdir, const char *extra, char *out, size_t n)
{
    return prepare_dataset("fashion-scenes", outdir, extra, out, n);
}

// darknet's detector training reads an image's boxes: fill_truth_detection with no crop, no flip;
// rows of x y w h id
static void read_truth_boxes(const char *path, int nmax, float *boxes)
{
#ifdef DK_FORK_AB
    float rows[6 * 8] = {0};
    ck_assert(nmax <= 8);
    fill_truth_detection(path, nmax, 6, rows, 10, 0, 0, 0, 1, 1, 32, 32);
    for (int k = 0; k < nmax; k++) memcpy(boxes + 5 * k, rows + 6 * k, 5 * sizeof(float));
#else
    fill_truth_detection((char *)path, nmax, boxes, 10, 0, 0, 0, 1, 1);
#endif
}

START_TEST(scenes_masks_labels_and_lists)
{
    char out[8192], path[512];
    make_garments();
    ck_assert_msg(scenes("sc", "-n 12 -test 4 -size 32 -seed 5", out, sizeof(out)) == 0, "%s", out);

    snprintf(path, sizeof(path), "%s/sc/scenes.data", tmp);
    list *opts = read_data_cfg(path);
    ck_assert_int_eq(option_find_int(opts, "classes", 0), 10);
    char **labels = get_labels(option_find_str(opts, "labels", ""));
    ck_assert_str_eq(labels[0], ".tshirt.");
    ck_assert_str_eq(labels[9], ".boot.");
    char expect[512];
    snprintf(expect, sizeof(expect), "%s/sc/backup", tmp);
    ck_assert_int_eq(access(expect, W_OK), 0);

    const char *sets[2] = {"train", "test"};
    int counts[2] = {12, 4}, several = 0;
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof(path), "%s/sc/%s.tags", tmp, sets[s]);
        FILE *tf = fopen(path, "r");
        ck_assert_ptr_nonnull(tf);
        list *plist = get_paths(s ? option_find_str(opts, "valid", "") : option_find_str(opts, "train", ""));
        char **paths = (char **)list_to_array(plist);
        ck_assert_int_eq(plist->size, counts[s]);
        for (int i = 0; i < counts[s]; i++) {
            // the tag line: the path, then its classes
            char line[1024], *tok;
            ck_assert_ptr_nonnull(fgets(line, sizeof(line), tf));
            line[strcspn(line, "\n")] = 0;
            tok = strtok(line, " ");
            ck_assert_str_eq(tok, paths[i]);
            float tags[10] = {0};
            int ntags = 0;
            while ((tok = strtok(NULL, " "))) { tags[atoi(tok)] = 1; ++ntags; }
            several += ntags > 1;
            // darknet's classifier reads the same classes from the path (multi-hot)
            float truth[10];
            fill_truth(paths[i], labels, 10, truth);
            for (int k = 0; k < 10; k++) ck_assert_msg(truth[k] == tags[k], "%s: class %d", paths[i], k);
            // darknet's detector finds the boxes (beside the image) and reads them; their
            // classes are the tags
            float boxes[5 * 8] = {0};
            read_truth_boxes(paths[i], 8, boxes);
            int nb = 0;
            for (int k = 0; k < 8 && boxes[5 * k + 2] > 0; k++, nb++) {
                int id = (int)boxes[5 * k + 4];
                ck_assert_msg(tags[id] == 1, "%s: box of class %d not in its tags", paths[i], id);
                ck_assert(boxes[5 * k] > 0 && boxes[5 * k] < 1 && boxes[5 * k + 3] > 0 && boxes[5 * k + 3] <= 1);
            }
            ck_assert_int_ge(nb, ntags);
            ck_assert_int_le(nb, 3);
            // the image and its mask: 32 x 32, mask values the tags' classes + 1 and 0, each
            // tagged class present, and the box of each class covers its mask pixels
            image im = load_image(paths[i], 0, 0, 3);
            ck_assert_int_eq(im.w, 32);
            ck_assert_int_eq(im.h, 32);
            free_image(im);
            char mpath[600];
            snprintf(mpath, sizeof(mpath), "%.*s_mask.png", (int)strlen(paths[i]) - 4, paths[i]);
            image m = load_image(mpath, 0, 0, 1);
            ck_assert_int_eq(m.c, 1);
            ck_assert_int_eq(m.w * m.h, 32 * 32);
            int present[11] = {0};
            for (int p = 0; p < 32 * 32; p++) {
                int v = (int)(m.data[p] * 255 + .5f);
                ck_assert_msg(v == 0 || (v <= 10 && tags[v - 1] == 1), "%s pixel %d: %d", mpath, p, v);
                present[v] = 1;
                if (!v) continue;
                int x = p % 32, y = p / 32, inside = 0;
                for (int k = 0; k < nb; k++) {
                    float *b = boxes + 5 * k;
                    if ((int)b[4] == v - 1 && fabsf(x + .5f - b[0] * 32) <= b[2] * 16 + 1e-3f && fabsf(y + .5f - b[1] * 32) <= b[3] * 16 + 1e-3f) inside = 1;
                }
                ck_assert_msg(inside, "%s: mask pixel (%d, %d) of class %d outside its boxes", mpath, x, y, v - 1);
            }
            ck_assert_int_eq(present[0], 1);
            for (int k = 0; k < 10; k++) ck_assert_int_eq(present[k + 1], (int)tags[k]);
            free_image(m);
        }
        fclose(tf);
        free_ptrs((void **)paths, plist->size);
        free_list(plist);
    }
    ck_assert_int_gt(several, 0);
    sal_free_strings(labels, 10);
    sal_free_data_cfg(opts);
}
END_TEST

START_TEST(scenes_rerun_keeps_files_seed_rewrites)
{
    char out[8192], path[512];
    make_garments();
    ck_assert_msg(scenes("sc", "-n 6 -test 2 -size 24", out, sizeof(out)) == 0, "%s", out);
    ck_assert_msg(strstr(out, "train: 6 scenes, 6 written") != NULL, "%s", out);
    snprintf(path, sizeof(path), "%s/sc/train.list", tmp);
    char first[8192];
    strcpy(first, slurp(path));
    ck_assert_msg(scenes("sc", "-n 6 -test 2 -size 24", out, sizeof(out)) == 0, "%s", out);
    ck_assert_msg(strstr(out, "train: 6 scenes, 0 written, 6 already there") != NULL, "second run rewrote files: %s", out);
    ck_assert_str_eq(slurp(path), first);
    // fewer scenes: the first ones are the same scenes (kept)
    ck_assert_msg(scenes("sc", "-n 3 -test 2 -size 24", out, sizeof(out)) == 0, "%s", out);
    ck_assert_msg(strstr(out, "train: 3 scenes, 0 written, 3 already there") != NULL, "%s", out);
    ck_assert_msg(scenes("sc", "-n 6 -test 2 -size 24 -seed 2", out, sizeof(out)) == 0, "%s", out);
    ck_assert_msg(strstr(out, "train: 6 scenes, 0 written") == NULL, "another seed kept every file: %s", out);
    ck_assert_msg(scenes("sc", "-n 6 -test 2 -size 24 -objects 2:2", out, sizeof(out)) == 0, "%s", out);
    ck_assert_msg(strstr(out, "12 garments") != NULL, "%s", out);
}
END_TEST

START_TEST(scenes_bad_input_fails)
{
    char out[8192];
    make_garments();
    ck_assert_int_eq(scenes("sc", "-objects 3:1", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "-objects '3:1': give MIN:MAX") != NULL, "%s", out);
    ck_assert_int_eq(scenes("sc", "-objects two", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "-objects 'two'") != NULL, "%s", out);
    ck_assert_int_eq(scenes("sc", "-size 4", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "-size") != NULL, "%s", out);
    ck_assert_int_eq(scenes("sc", "-n 0", out, sizeof(out)), 1);
    ck_assert_int_eq(scenes("sc", "-depth 3", out, sizeof(out)), 1);
    // an output directory darknet's detector would map elsewhere, or holding a class label
    ck_assert_int_eq(scenes("my_images", "-n 2", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "darknet's detector would look for the labels of") != NULL, "%s", out);
    ck_assert_int_eq(scenes("x.bag.d", "-n 2", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "darknet would read the classes of") != NULL, "%s", out);
    // no source
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -f %s/src/t10k*", tmp);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(scenes("sc", "-n 2", out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "t10k-images-idx3-ubyte.gz' (nor") != NULL, "%s", out);
}
END_TEST

Suite *make_prepare_suite(void)
{
    Suite *s = suite_create("prepare");
    TCase *tc = tcase_create("fashion-mnist");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, writes_pngs_lists_and_data_cfg);
    tcase_add_test(tc, rerun_keeps_files_and_counts_resize);
    tcase_add_test(tc, truncated_image_file_fails_naming_it);
    tcase_add_test(tc, damaged_gzip_fails_naming_it);
    tcase_add_test(tc, wrong_magic_and_missing_files_fail);
    tcase_add_test(tc, plain_idx_files_are_read_too);
    tcase_add_test(tc, out_dir_holding_a_label_is_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("fashion-scenes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, scenes_masks_labels_and_lists);
    tcase_add_test(tc, scenes_rerun_keeps_files_seed_rewrites);
    tcase_add_test(tc, scenes_bad_input_fails);
    suite_add_tcase(s, tc);
    return s;
}
