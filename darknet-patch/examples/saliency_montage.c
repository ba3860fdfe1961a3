/* saliency_montage.c: `darknet saliency montage`, pictures (PNG files, e.g. the heat maps and
   overlays of `saliency map`) as a grid enlarged so a person can see them: -cols pictures a row,
   each scaled by the nearest pixel to -height, columns captioned (-captions, above the first row) and
   rows named on the left (-rows), in darknet's own letters (sal_letters); every column as wide as its
   widest picture or caption, so the rows line up. */
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

    /* one grid: every column as wide as its widest picture or caption, every row as high as -height */
    image **abc = sal_letters();
    const int gap = 6;
    image *pics = calloc(npics, sizeof(image)), *cap = calloc(cols, sizeof(image)), *name = calloc(nrows, sizeof(image));
    int *colw = calloc(cols, sizeof(int)), *pw = calloc(npics, sizeof(int));
    int r, c, left = 0, top = 0;
    for(i = 0; i < npics; ++i){
        pics[i] = sal_load_image(files[i], 0, 0, 3);
        pw[i] = (pics[i].w*height + pics[i].h - 1)/pics[i].h;
        if(pw[i] > colw[i % cols]) colw[i % cols] = pw[i];
    }
    for(c = 0; abc && c < cols; ++c){
        if(!capv[c]) continue;
        cap[c] = get_label(abc, capv[c], 20);
        if(cap[c].w > colw[c]) colw[c] = cap[c].w;
        if(cap[c].h + gap > top) top = cap[c].h + gap;
    }
    for(r = 0; abc && r < nrows; ++r){
        if(!rowv[r]) continue;
        name[r] = get_label(abc, rowv[r], 20);
        if(name[r].w + 2*gap > left) left = name[r].w + 2*gap;
    }
    int width = left + gap;
    for(c = 0; c < cols; ++c) width += colw[c] + gap;
    image all = make_image(width, top + gap + nrows*(height + gap), 3);
    fill_image(all, 1);
    const float white[3] = {1, 1, 1};   /* darknet's letters: black on a box of this colour */
    int x0 = left + gap, x, y, k;
    for(c = 0; c < cols; ++c){
        if(cap[c].data){ draw_label(all, gap, x0 + (colw[c] - cap[c].w)/2, cap[c], white); free_image(cap[c]); }
        for(r = 0; r < nrows && r*cols + c < npics; ++r){
            image p = pics[r*cols + c];
            int w = pw[r*cols + c], px = x0 + (colw[c] - w)/2, py = top + gap + r*(height + gap);
            for(k = 0; k < 3; ++k)
                for(y = 0; y < height; ++y)
                    for(x = 0; x < w; ++x)
                        all.data[(k*all.h + py + y)*all.w + px + x] = p.data[(k*p.h + y*p.h/height)*p.w + x*p.w/w];
        }
        x0 += colw[c] + gap;
    }
    for(r = 0; r < nrows; ++r){
        if(!name[r].data) continue;
        int mid = top + gap + r*(height + gap) + height/2 + name[r].h/2;
        draw_label(all, mid, gap, name[r], white);
        free_image(name[r]);
    }
    for(i = 0; i < npics; ++i) free_image(pics[i]);
    free(pics); free(cap); free(colw); free(pw);
    char prefix[4096];
    snprintf(prefix, sizeof(prefix), "%s", out);
    size_t L = strlen(prefix);
    if(L > 4 && !strcmp(prefix + L - 4, ".png")) prefix[L - 4] = 0;
    sal_save_png(all, prefix);
    printf("montage: %s.png (%d pictures, %d rows of %d, %dx%d)\n", prefix, npics, nrows, cols, all.w, all.h);
    free_image(all);
    free(name); free(capv); free(rowv); free(capbuf); free(rowbuf); free(files); free(fl);
}
