/* saliency_montage.c: `darknet saliency montage`, pictures (PNG files, e.g. the heat maps and
   overlays of `saliency map`) as a grid enlarged so a person can see them: -cols pictures a row,
   each scaled by the nearest pixel to -height, columns captioned (-captions, on the first row) and
   rows named on the left (-rows), in darknet's own letters (sal_montage, sal_letters). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "image.h"
#include "saliency_util.h"

/* s split at '|' into at most max strings (s modified); their count */
static int split_bar(char *s, char **out, int max)
{
    int n = 0;
    if(!s || !s[0]) return 0;
    for(char *p = s;; ){
        if(n == max) return n;
        out[n++] = p;
        char *b = strchr(p, '|');
        if(!b) break;
        *b = 0;
        p = b + 1;
    }
    return n;
}

void saliency_montage(int argc, char **argv)
{
    static const char *flags[] = {"-cols", "-height", "-captions", "-rows", 0};
    if(argc < 5){ saliency_usage_of("montage"); exit(1); }
    char *out = argv[3];
    /* the pictures: every argument from argv[4] on that is not a flag or a flag's value */
    int first = 4, i, npics = 0;
    char **files = calloc(argc, sizeof(char *));
    for(i = first; i < argc; ++i){
        if(argv[i][0] == '-' && argv[i][1] && i + 1 < argc){ ++i; continue; }
        files[npics++] = argv[i];
    }
    /* sal_check_flags on the flags only */
    char **fl = calloc(argc + 1, sizeof(char *));
    int nf = 0;
    for(i = 0; i < first; ++i) fl[nf++] = argv[i];
    for(i = first; i < argc; ++i){
        if(argv[i][0] == '-' && argv[i][1] && i + 1 < argc){ fl[nf++] = argv[i]; fl[nf++] = argv[i+1]; ++i; }
    }
    sal_check_flags(nf, fl, first, flags);
    int cols = sal_flag_int(nf, fl, "-cols", npics > 0 ? npics : 1, 1, 1000);
    int height = sal_flag_int(nf, fl, "-height", 112, 8, 2000);
    char *caps = sal_flag_str(nf, fl, "-captions", ""), *rows = sal_flag_str(nf, fl, "-rows", "");
    if(npics == 0) sal_die("montage: no pictures given");
    int nrows = (npics + cols - 1)/cols;
    char *capbuf = strdup(caps), *rowbuf = strdup(rows);
    char **capv = calloc(cols, sizeof(char *)), **rowv = calloc(nrows, sizeof(char *));
    split_bar(capbuf, capv, cols);
    split_bar(rowbuf, rowv, nrows);

    image **abc = sal_letters();
    image *strip = calloc(nrows, sizeof(image)), *name = calloc(nrows, sizeof(image));
    int r, left = 0, total_h = 0, width = 0;
    for(r = 0; r < nrows; ++r){
        int n = npics - r*cols < cols ? npics - r*cols : cols;
        image *pics = calloc(n, sizeof(image));
        for(i = 0; i < n; ++i) pics[i] = sal_load_image(files[r*cols + i], 0, 0, 3);
        strip[r] = sal_montage(pics, r == 0 ? (const char *const *)capv : NULL, n, height);
        for(i = 0; i < n; ++i) free_image(pics[i]);
        free(pics);
        if(abc && rowv[r]){
            name[r] = get_label(abc, rowv[r], 20);
            if(name[r].w + 12 > left) left = name[r].w + 12;
        }
        total_h += strip[r].h;
        if(strip[r].w > width) width = strip[r].w;
    }
    image all = make_image(left + width, total_h, 3);
    fill_image(all, 1);
    int y0 = 0, x, y, k;
    for(r = 0; r < nrows; ++r){
        image s = strip[r];
        for(k = 0; k < 3; ++k)
            for(y = 0; y < s.h; ++y)
                for(x = 0; x < s.w; ++x) all.data[(k*all.h + y0 + y)*all.w + left + x] = s.data[(k*s.h + y)*s.w + x];
        if(name[r].data){
            const float white[3] = {1, 1, 1};
            /* beside the pictures (below the captions of the first row) */
            int mid = y0 + s.h - height/2 - name[r].h/2 - 6;
            draw_label(all, mid + name[r].h, 6, name[r], white);
            free_image(name[r]);
        }
        y0 += s.h;
        free_image(s);
    }
    char prefix[4096];
    snprintf(prefix, sizeof(prefix), "%s", out);
    size_t L = strlen(prefix);
    if(L > 4 && !strcmp(prefix + L - 4, ".png")) prefix[L - 4] = 0;
    sal_save_png(all, prefix);
    printf("montage: %s.png (%d pictures, %d rows of %d, %dx%d)\n", prefix, npics, nrows, cols, all.w, all.h);
    free_image(all);
    free(strip); free(name); free(capv); free(rowv); free(capbuf); free(rowbuf); free(files); free(fl);
}
