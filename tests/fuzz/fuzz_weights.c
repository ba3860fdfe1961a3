// fuzz_weights.c: the weights-size check and the loader path of the CLI (sal_check_weights, then
// darknet's load_weights, as sal_load_network does) on fixed small cfgs.
// Byte 0 picks the cfg (mod the number of cfgs below); the rest is the weights file. When the
// check passes and the cfg's size is known, load_weights must have read the file exactly as the
// check measured it: the first bias and the last weight of the network are the file's bytes at
// the offsets the check implies.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "darknet.h"
#include "saliency_util.h"
#include "fuzz_util.h"

static const char *CFGS[] = {
    // the CLI tests' classifier: conv+BN, maxpool, 1x1 conv, avgpool, softmax
    "[net]\nbatch=1\nwidth=8\nheight=6\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n"
    "[avgpool]\n[softmax]\n",
    // connected layers, with and without BN
    "[net]\nbatch=1\nwidth=3\nheight=3\nchannels=1\n"
    "[connected]\noutput=5\nbatch_normalize=1\nactivation=relu\n"
    "[connected]\noutput=3\nactivation=linear\n"
    "[softmax]\n",
    // grouped convolution, a [batchnorm] layer, a shortcut
    "[net]\nbatch=1\nwidth=6\nheight=6\nchannels=4\n"
    "[convolutional]\nfilters=4\ngroups=2\nsize=3\npad=1\nactivation=leaky\n"
    "[batchnorm]\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=1\nactivation=linear\n"
    "[shortcut]\nfrom=-3\nactivation=linear\n"
    "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n"
    "[avgpool]\n[softmax]\n",
    // a layer type whose size the check does not know (sal_weights_bytes -1: darknet reads what is there)
    "[net]\nbatch=1\nwidth=5\nheight=5\nchannels=1\n"
    "[local]\nsize=3\nfilters=2\nstride=1\npad=0\nactivation=leaky\n"
    "[connected]\noutput=2\nactivation=linear\n"
    "[softmax]\n",
};
#define NCFG (int)(sizeof(CFGS)/sizeof(CFGS[0]))

static network *nets[NCFG];
static char cfg_paths[NCFG][600];

static void load_nets(void)
{
    int i;
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");    // darknet's layer table
    for(i = 0; i < NCFG; ++i){
        char name[32];
        snprintf(name, sizeof(name), "net%d.cfg", i);
        snprintf(cfg_paths[i], sizeof(cfg_paths[i]), "%s", fz_file(name, CFGS[i], strlen(CFGS[i])));
        nets[i] = dk_parse(cfg_paths[i], 0);
    }
    fclose(stderr);
    stderr = saved;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if(size < 1) return 0;
    if(!nets[0]) load_nets();
    int k = data[0] % NCFG;
    network *net = nets[k];
    const uint8_t *w = data + 1;
    size_t n = size - 1;
    const char *path = fz_file("input.weights", w, n);
    char err[9000];
    memset(err, 0, sizeof(err));
    if(sal_check_weights(net, cfg_paths[k], path, err, sizeof(err))){
        FZ_CHECK_ERR(err);
        fprintf(stderr, "refused: %s\n", err);
        FZ_CHECK(strstr(err, path) != NULL, "message does not name the file: %s", err);
        return 0;
    }
    load_weights(net, (char *)path);
    long want = sal_weights_bytes(net);
    if(want < 0) return 0;
    FZ_CHECK(n >= 16, "a %zu-byte file passed the check", n);
    // the first layer with weights is a conv or connected layer: its first bias follows the header
    layer f = net->layers[0], l = net->layers[net->n - 1];
    int i;
    for(i = net->n - 1; i >= 0 && l.type != CONVOLUTIONAL && l.type != CONNECTED; --i) l = net->layers[i];
    size_t head = (size_t)want == n ? 20 : 16;   // seen as size_t, or as int (files before 0.2)
    FZ_CHECK(!memcmp(f.biases, w + head, sizeof(float)), "first bias not at byte %zu", head);
    int nw = l.type == CONVOLUTIONAL ? l.nweights : l.inputs*l.outputs;
    FZ_CHECK(!memcmp(l.weights + nw - 1, w + n - sizeof(float), sizeof(float)), "last weight not at the end");
    return 0;
}
