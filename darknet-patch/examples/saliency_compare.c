/* saliency_compare.c: `darknet saliency compare <image a> <image b> [-metric NAME|all]`.
   Loads two images of the same size with darknet's loader (values in [0,1], colour; grey files as
   one channel)
   and prints one "NAME VALUE" line per image metric of src/cmp.h: the metric values themselves,
   on the raw images (no min-max normalisation), not the 1/x or -x forms the regularizers use.
   psnr_hvsm takes its contrast masking from image b (the reference). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "saliency_util.h"
#include "metrics.h"
#include "cmp.h"

void saliency_compare(int argc, char **argv)
{
    static const char *flags[] = {"-metric", 0};
    int i;
    if(argc < 5){
        saliency_usage_of("compare");
        fprintf(stderr, "  NAME: %s\n", cmp_names());
        exit(1);
    }
    sal_check_flags(argc, argv, 5, flags);
    char *metric = sal_flag_str(argc, argv, "-metric", "all");
    int all = !strcmp(metric, "all");
    if(!all){
        for(i = 0; i < cmp_count() && strcmp(metric, cmp_name(i)); ++i);
        if(i == cmp_count()) sal_die("-metric %s: allowed: %s", metric, cmp_names());
    }
    /* 3 channels, not the file's own: darknet's OpenCV loader swaps channels 0 and 2 of every image
       (rgbgr_image), which for a 1-channel file reads and writes past the data. Grey files come back
       as three equal planes and are compared as one channel. */
    image a = sal_load_image(argv[3], 0, 0, 3);
    image b = sal_load_image(argv[4], 0, 0, 3);
    if(a.c == 3 && b.c == 3 && a.w == b.w && a.h == b.h && cmp_is_grey(a.data, a.w*a.h) && cmp_is_grey(b.data, b.w*b.h)) a.c = b.c = 1;
    if(a.w != b.w || a.h != b.h || a.c != b.c){
        sal_die("images differ in size: '%s' is %dx%d with %d channels, '%s' is %dx%d with %d channels",
                argv[3], a.w, a.h, a.c, argv[4], b.w, b.h, b.c);
    }
    int failed = 0;
    for(i = 0; i < cmp_count(); ++i){
        const char *name = cmp_name(i);
        if(!all && strcmp(metric, name)) continue;
        double v = 0;
        char err[256];
        if(cmp_metric(name, a.data, b.data, a.c, a.h, a.w, &v, err, sizeof(err))){
            if(!all) sal_die("%s", err);
            fprintf(stderr, "darknet saliency: %s\n", err);
            failed = 1;
            continue;
        }
        /* identical images: PSNR is infinite (darknet builds with -Ofast: no isinf) */
        if(!strcmp(name, "psnr") && mse_metric(a.data, b.data, a.c*a.h*a.w, 0) == 0) printf("%s inf\n", name);
        else printf("%s %.9g\n", name, v);
    }
    free_image(a);
    free_image(b);
    if(failed) exit(1);
}
