/* saliency_summarize.c: `darknet saliency summarize <csv>...`: the shard CSVs of `saliency insdel
   -csv -shard k/n` merged into insdel's summary lines, one per map, `<name> deletion <auc>
   insertion <auc>`: the means over every image of every file, the same numbers one run over all
   the images prints (src/insdel_table.h keeps each AUC as the CSV's millionths and sums them
   exactly). Refuses a file with another header, a row given twice (in one file or two), an image
   without a row for some map. */
#include <stdio.h>
#include <stdlib.h>

#include "darknet.h"
#include "saliency_util.h"
#include "insdel_table.h"

void saliency_summarize(int argc, char **argv)
{
    if(argc < 4){ saliency_usage_of("summarize"); exit(1); }
    char err[9000], line[1024];
    itab *t = itab_new();
    if(!t) sal_die("out of memory for the table of AUCs");
    int i;
    for(i = 3; i < argc; ++i)
        if(itab_read(t, argv[i], err, sizeof(err))) sal_die("%s", err);
    if(!itab_images(t)) sal_die("the CSVs hold no rows (only headers)");
    if(itab_check(t, err, sizeof(err))) sal_die("%s", err);
    printf("summarize: %d images from %d CSV file%s, %d maps\n", itab_images(t), argc - 3, argc - 3 == 1 ? "" : "s", itab_maps(t));
    for(i = 0; i < itab_maps(t); ++i){
        itab_line(t, i, line, sizeof(line));
        printf("%s\n", line);
    }
    itab_free(t);
}
