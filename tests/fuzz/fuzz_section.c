// fuzz_section.c: the [saliency] section parser (sal_section_read, darknet-patch/src/saliency_layer.c).
// Bytes -> the lines of a section body, read the way darknet's read_cfg reads them (strip, skip
// empty/#/; lines, key=value by read_option; a line read_cfg refuses is dropped here, as read_cfg
// stops there) -> sal_section_read. Either an error message or a section within its documented
// ranges.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "list.h"
#include "option_list.h"
#include "utils.h"
#include "saliency_layer.h"
#include "numparse.h"
#include "reg.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *lines[256];
    int nl = 0;
    list *options = make_list();
    size_t start = 0, i;
    for(i = 0; i <= size && nl < 256; ++i){
        if(i < size && data[i] != '\n') continue;
        size_t n = i - start;
        char *line = malloc(n + 1);
        memcpy(line, data + start, n);
        line[n] = 0;               // a NUL byte in the line ends it early, as with fgetl
        start = i + 1;
        strip(line);
        if(line[0] == 0 || line[0] == '#' || line[0] == ';' || line[0] == '['){ free(line); continue; }
        lines[nl++] = line;
        if(!read_option(line, options)) free(lines[--nl]);   // read_cfg stops on it (patch 0017)
    }
    sal_section sec;
    char err[1024];
    memset(err, 0, sizeof(err));
    if(sal_section_read(options, &sec, err, sizeof(err))){
        FZ_CHECK_ERR(err);
    } else {
        FZ_CHECK(sec.rc.reg != NULL, "no regularizer");
        FZ_CHECK(num_finite_f(sec.rc.lambda) && sec.rc.lambda >= 0, "weight %g", sec.rc.lambda);
        FZ_CHECK(num_finite_f(sec.rc.step) && sec.rc.step > 0 && sec.rc.step <= 1, "step %g", sec.rc.step);
    }
    free_list_contents(options);
    free_list(options);
    for(i = 0; i < (size_t)nl; ++i) free(lines[i]);
    return 0;
}
