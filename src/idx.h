// idx.h: IDX files of unsigned bytes (MNIST, Fashion-MNIST), plain or gzip-compressed: images
// (magic 2051, then n, rows, cols) and labels (magic 2049, then n), big-endian 32-bit header
// fields. No darknet types; never prints: every error names the file and says what is wrong.
//
// gzip-compressed files (first two bytes 1f 8b) are read through `gzip -dc` (no zlib dependency).
#ifndef SALIENCY_IDX_H
#define SALIENCY_IDX_H

#include <stddef.h>

enum { IDX_LABELS = 0, IDX_IMAGES = 1 };

typedef struct {
    char path[4096];        // the file read (for messages)
    int n, rows, cols;      // images (or labels) and their size; rows = cols = 0 for labels
    unsigned char *raw;     // the whole decompressed file (idx_free releases it)
    unsigned char *data;    // raw + header: (n, rows, cols) bytes, or (n) labels
} idx_file;

// The whole content of path (through `gzip -dc` when it starts with gzip's magic bytes) into a
// malloc'ed *buf of *n bytes. 0, or -1 with err ("cannot open '<path>': ...", "'<path>' is not a
// whole gzip file (...)", out of memory) and *buf NULL.
int idx_slurp(const char *path, unsigned char **buf, size_t *n, char *err, size_t errlen);

// Checks the decompressed bytes buf (len) of the file path as an IDX file of kind (IDX_IMAGES or
// IDX_LABELS): magic, 1 to 100000000 items, 1 to 4096 rows and columns, exactly the announced data
// and nothing after it. On success out->raw = buf (owned by out from then on). 0 / -1 with err;
// buf is never freed here.
int idx_parse(unsigned char *buf, size_t len, const char *path, int kind, idx_file *out, char *err, size_t errlen);

// idx_slurp + idx_parse. 0, or -1 with err and nothing allocated.
int idx_read(const char *path, int kind, idx_file *out, char *err, size_t errlen);

// Every label of a labels file below classes (of the data set called dataset, for the message).
// 0 / -1 with err naming the file, index and value.
int idx_check_labels(const idx_file *x, int classes, const char *dataset, char *err, size_t errlen);

void idx_free(idx_file *x);

#endif
