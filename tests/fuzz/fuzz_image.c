// fuzz_image.c: the image path of `saliency map` and `compare` (sal_read_image: our magic-byte
// check, then darknet's loader, OpenCV's imread in this build, and its resize).
// Byte 0: bit 0 = 3 channels (else 1, as map loads a grey cfg); bit 1 = resized to w x h with
// w = byte 1 % 64 + 1 and h = byte 2 % 64 + 1 (as map does; else the file's own size, as compare
// does). The rest is the file. A success must be an image of the asked channels (and size), with
// every value in [0, 1].
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "saliency_util.h"
#include "cmp.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if(size < 3) return 0;
    int c = data[0] & 1 ? 3 : 1;
    int resize = (data[0] & 2) != 0;
    int w = resize ? data[1] % 64 + 1 : 0, h = resize ? data[2] % 64 + 1 : 0;
    const char *path = fz_file("input", data + 3, size - 3);
    image im;
    char err[9000];
    memset(err, 0, sizeof(err));
    if(sal_read_image(path, w, h, c, &im, err, sizeof(err))){
        FZ_CHECK_ERR(err);
        fprintf(stderr, "refused: %s\n", err);
        FZ_CHECK(strstr(err, path) != NULL, "message does not name the file: %s", err);
        return 0;
    }
    FZ_CHECK(im.c == c, "%d channels, asked for %d", im.c, c);
    FZ_CHECK(im.w > 0 && im.h > 0, "%d x %d", im.w, im.h);
    if(resize) FZ_CHECK(im.w == w && im.h == h, "%d x %d, asked for %d x %d", im.w, im.h, w, h);
    size_t i, n = (size_t)im.w*im.h*im.c;
    for(i = 0; i < n; ++i) FZ_CHECK(im.data[i] >= 0 && im.data[i] <= 1, "value %g at %zu", im.data[i], i);
    if(c == 3) (void)cmp_is_grey(im.data, im.w*im.h);
    free_image(im);
    return 0;
}
