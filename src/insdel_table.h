// insdel_table.h: the per-image table of insertion/deletion AUCs (`saliency insdel -csv`) and its
// summary, one line per map: `<name> deletion <auc> insertion <auc>`, the mean over the images.
// One run and `saliency summarize` of its shards' CSVs build the summary with the same code from
// the same numbers, so they print the same lines.
//
// Every AUC is kept as the CSV writes it: rounded to 6 decimals, as a whole number of millionths.
// Sums of whole numbers are exact in any order, so the mean over shards read in any order is the
// mean of one run, to the last digit.
//
// CSV: the header line ITAB_HEADER, then one row per image and map:
//   image,class,name,deletion,insertion      e.g.  test/00001_pullover.png,2,vanilla,0.104031,0.712200
// A field with a comma, a quote or a line break is quoted (RFC 4180: "..." with "" for a quote).
#ifndef SALIENCY_INSDEL_TABLE_H
#define SALIENCY_INSDEL_TABLE_H

#include <stddef.h>

#define ITAB_HEADER "image,class,name,deletion,insertion"

typedef struct itab itab;

itab *itab_new(void);
void itab_free(itab *t);

// the millionths an AUC is kept as (the CSV's 6 decimals: "%.6f", read back); auc in [-1e12, 1e12]
long long itab_micro(double auc);

// Adds the row of one image and map (AUCs in millionths). `where` names the row's source in
// messages (a file name). 0, or -1 with err: a second row of the same image and map, or another
// class for an image seen before.
int itab_add(itab *t, const char *image, int cls, const char *name, long long del, long long ins,
             const char *where, char *err, size_t errlen);

// The CSV row of one image and map (with its line break) into out: the length, or -1 when it does
// not fit.
int itab_row(char *out, size_t n, const char *image, int cls, const char *name, long long del, long long ins);

// Reads a CSV written by `saliency insdel -csv` (path named in messages) into t. 0, or -1 with err:
// cannot read, another header, a bad row (with its line number), a duplicate row.
int itab_read(itab *t, const char *path, char *err, size_t errlen);

// 0 when every image has a row for every map; -1 with err naming a map and an image without it.
int itab_check(const itab *t, char *err, size_t errlen);

int itab_images(const itab *t);     // distinct images
int itab_maps(const itab *t);       // distinct map names, in the order they first came
const char *itab_name(const itab *t, int i);
// the means over the images of map i's AUCs (from the millionths)
void itab_mean(const itab *t, int i, double *del, double *ins);
// the summary line of map i (no line break): "<name> deletion %.4f insertion %.4f"
void itab_line(const itab *t, int i, char *out, size_t n);

#endif
