/* saliency.c: `darknet saliency <verb>`, in the style of `darknet detector`: the table of verbs
   (one file each, saliency_<verb>.c) with their usage lines, and the dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "saliency_util.h"
#include "gemm.h"
#include "waitpolicy.h"

void saliency_map(int argc, char **argv);
void saliency_prepare(int argc, char **argv);
void saliency_compare(int argc, char **argv);
void saliency_eval(int argc, char **argv);
void saliency_gradcheck(int argc, char **argv);
void saliency_insdel(int argc, char **argv);
void saliency_summarize(int argc, char **argv);
void saliency_fool(int argc, char **argv);
void saliency_detector(int argc, char **argv);
void saliency_chart(int argc, char **argv);
void saliency_montage(int argc, char **argv);
void saliency_explainer(int argc, char **argv);
void saliency_localize(int argc, char **argv);

static const struct { const char *verb; void (*run)(int argc, char **argv); const char *usage; } VERBS[] = {
    {"map", saliency_map,
     "map <data cfg> <cfg> <weights> <image> [-method NAME|all] [-formulation onehot|loss|spectreg]\n"
     "      [-class N] [-seed N] [-out PREFIX] [-raw FILE] [-batch B] [the method's options]\n"
     "      NAME: vanilla gradxinput integrated smoothgrad gradcam rise occlusion igos igos++ (docs/methods.md),\n"
     "      explainer (-explainer CFG -explainer_weights W: docs/explainer.md; not in all)"},
    {"insdel", saliency_insdel,
     "insdel <data cfg> <cfg> <weights> <image|list> [-method NAME[,NAME...]|all | -map FILE] [-substrate zero|blur]\n"
     "      [-step P] [-csv FILE] [-plot PNG] [-shard k/n] [-n N] [-batch B] [-seed N] [the methods' options, as map]"},
    {"detector", saliency_detector,
     "detector map <data cfg> <cfg> <weights> <image> [-thresh T] [-nms T] [-box K] [-method NAME|drise]\n"
     "      [-score score|objectness|class|box] [-out PREFIX] [-raw FILE] [-batch B] [the method's options, as map]\n"
     "  detector insdel <data cfg> <cfg> <weights> <image|list> [-thresh T] [-nms T] [-box K] [-method NAME[,NAME...]]\n"
     "      [-substrate zero|blur] [-step P] [-csv FILE] [-plot PNG] [-shard k/n] [-n N] [-batch B] [the methods' options]\n"
     "  detector eval <data cfg> <cfg> <weights> [-n N] [-thresh T] [-nms T] [-iou T] [-recall_thresh T]   (mAP, recall)\n"
     "  detector point <data cfg> <cfg> <weights> [-method NAME[,NAME...]] [-n N] [-thresh T] [-iou T] [-threshold F]\n"
     "      (each method's map of every found object against its mask: IoU, F1, continuous IoU, AUC, pointing)"},
    {"summarize", saliency_summarize, "summarize <csv> [<csv>...]   (the CSVs of insdel -shard k/n: the summary of one run)"},
    {"fool", saliency_fool, "fool <data cfg> <cfg> <weights> <image> -target N [-steps N] [-lr ETA] [-out PREFIX] [-raw FILE]"},
    {"prepare", saliency_prepare, "prepare fashion-mnist <out dir> [-train N] [-test N] [-size S] [-src DIR]\n"
     "      prepare fashion-scenes <out dir> [-n N] [-test M] [-size S] [-objects MIN:MAX] [-seed K] [-src DIR]"},
    {"explainer", saliency_explainer,
     "explainer init <classifier cfg> <out cfg>\n"
     "      explainer train <data> <explainer cfg> <classifier cfg> <classifier weights> [-max_batches N] [-seed K] [-save_every N] [-clear 1]\n"
     "      explainer map <data> <explainer cfg> <explainer weights> <classifier cfg> <classifier weights> <image> [-class N] [-out PREFIX] [-raw FILE]"},
    {"localize", saliency_localize,
     "localize <scenes data> <cfg> <weights> [-method NAME[,NAME...]] [-n N] [-csv FILE] [-threshold F]\n"
     "      [-explainer CFG -explainer_weights W] [-batch B] [the methods' options, as map]   (NAME: map's, or explainer)"},
    {"compare", saliency_compare, "compare <image a> <image b> [-metric NAME|all]"},
    {"eval", saliency_eval, "eval <data cfg> <cfg> <weights> [-n N] [-batch B] [-formulation onehot|loss|spectreg] [-seed N] [-input_noise S] [-heatmap_noise S]"},
    {"chart", saliency_chart,
     "chart <csv> <out.png> -x COL -y COL[,COL...] [-group COL] [-points 0|1] [-title T] [-xlabel T] [-ylabel T]\n"
     "      [-width W] [-height H] [-xlim LO:HI] [-ylim LO:HI]   (one panel per -y column, one curve per -group value)"},
    {"montage", saliency_montage,
     "montage <out.png> <png>... [-cols N] [-height H] [-captions 'a|b|...'] [-rows 'a|b|...']"},
    {"gradcheck", saliency_gradcheck,
     "gradcheck <cfg> [weights] [-formulation loss|onehot|spectreg] [-regularizer NAME] [-method exact|finite|central]\n"
     "      [-samples N] [-seed S] [-image FILE] [-step H]"},
};
#define N_VERBS ((int)(sizeof VERBS / sizeof VERBS[0]))

static void saliency_usage(void)
{
    int i;
    fprintf(stderr, "usage: darknet saliency <verb> ...\n");
    for(i = 0; i < N_VERBS; ++i) fprintf(stderr, "  %s\n", VERBS[i].usage);
    fprintf(stderr, "every verb: -threads N (default: OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else every core)\n");
    fprintf(stderr, "OpenMP's idle threads: a short spin when each thread has an idle core at start, else sleep\n"
                    "  (OMP_WAIT_POLICY or GOMP_SPINCOUNT set: as set). This run: %d thread%s, wait: %s\n",
            gemm_threads(), gemm_threads() == 1 ? "" : "s", wait_name());
}

void saliency_usage_of(const char *verb)
{
    int i;
    for(i = 0; i < N_VERBS; ++i) if(!strcmp(VERBS[i].verb, verb)) fprintf(stderr, "usage: darknet saliency %s\n", VERBS[i].usage);
}

void run_saliency(int argc, char **argv)
{
    int i;
    if(argc < 3){ saliency_usage(); exit(1); }
    for(i = 0; i < N_VERBS; ++i){
        if(strcmp(argv[2], VERBS[i].verb)) continue;
        VERBS[i].run(argc, argv);
        return;
    }
    fprintf(stderr, "darknet saliency: unknown verb '%s'\n", argv[2]);
    saliency_usage();
    exit(1);
}
