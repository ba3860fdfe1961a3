// fuzz_idx.c: the IDX reader of `saliency prepare` (src/idx.c), plain and gzip.
// Byte 0: bit 0 = labels (0) or images (1); bit 1 = the rest is gzip-compressed by the harness
// (`gzip -c`) before it is read, so that the gzip path sees whole streams of fuzzed content; without
// it the rest is the file as is (a stream starting with 1f 8b goes through `gzip -dc` as it is:
// damaged streams). The file goes through idx_read (and idx_check_labels for labels with 10
// classes); a success must describe the bytes exactly.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if(size < 1) return 0;
    int kind = data[0] & 1 ? IDX_IMAGES : IDX_LABELS;
    const char *path;
    if(data[0] & 2){
        char cmd[1400];
        const char *plain = fz_file("plain", data + 1, size - 1);
        snprintf(cmd, sizeof(cmd), "gzip -c -n -1 < '%s' > '%s/input'", plain, fz_dir());
        FZ_CHECK(system(cmd) == 0, "gzip -c failed");
        static char p[600];
        snprintf(p, sizeof(p), "%s/input", fz_dir());
        path = p;
    } else {
        path = fz_file("input", data + 1, size - 1);
    }
    idx_file x;
    char err[8400];
    memset(err, 0, sizeof(err));
    if(idx_read(path, kind, &x, err, sizeof(err))){
        FZ_CHECK_ERR(err);
        fprintf(stderr, "refused: %s\n", err);
        FZ_CHECK(strstr(err, path) != NULL, "message does not name the file: %s", err);
        FZ_CHECK(x.raw == NULL, "an error left a buffer");
        return 0;
    }
    size_t head = kind == IDX_IMAGES ? 16 : 8;
    size_t per = kind == IDX_IMAGES ? (size_t)x.rows*x.cols : 1;
    FZ_CHECK(x.n >= 1 && x.data == x.raw + head, "n %d", x.n);
    if(!(data[0] & 2)) FZ_CHECK(head + per*x.n == size - 1 || (size >= 3 && data[1] == 0x1f && data[2] == 0x8b),
                                "%d items of %zu bytes in %zu bytes", x.n, per, size - 1);
    // every byte of the data is readable (ASan checks)
    unsigned sum = 0;
    size_t i;
    for(i = 0; i < per*x.n; ++i) sum += x.data[i];
    if(kind == IDX_LABELS && idx_check_labels(&x, 10, "Fashion-MNIST", err, sizeof(err))) FZ_CHECK_ERR(err);
    idx_free(&x);
    return (int)(sum & 0);
}
