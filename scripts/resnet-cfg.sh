#!/usr/bin/env bash
# scripts/resnet-cfg.sh: writes cfg/resnet{18,34,50}-224.cfg, darknet's ResNet layouts (the layer
# order, sizes and activations of darknet's cfg/resnet18.cfg, resnet34.cfg, resnet50.cfg, so
# darknet's published resnet*.weights load into them: tests/check_cfgs.c compares them layer by
# layer) at 224x224 with the reference's finetuning settings and a [saliency] section.
# Run from the repository root; the cfgs are committed, this says how they were made.
set -euo pipefail
cd "$(dirname "$0")/.."

conv() { # filters size stride activation [bn]
    printf '[convolutional]\n'
    [ "${5:-1}" = 1 ] && printf 'batch_normalize=1\n'
    printf 'filters=%s\nsize=%s\nstride=%s\npad=1\nactivation=%s\n\n' "$1" "$2" "$3" "$4"
}

header() { # depth blocks-description
    cat <<HDR
# ResNet-$1 for finetuning with a perceptual regularizer (written by scripts/resnet-cfg.sh).
# darknet's own cfg/resnet$1.cfg layer for layer ($2), so darknet's published
# resnet$1.weights load into it; tests/check_cfgs.c checks that and steps it with the section.
# What differs from darknet's resnet$1.cfg: the [net] block and the [saliency] section.
#   224x224 input (min_crop=max_crop=224: darknet's classifier training resizes and crops to it);
#   the reference's finetuning settings (google-research optimizing_interpretability, a
#   ResNet-50 checkpoint finetuned): learning rate 2e-4 constant, momentum 0.9, decay 1e-4,
#   lambda 0.5, 500 steps. darknet has no Nesterov momentum, no label smoothing (its
#   classifier's label smoothing is data-cfg side, none here) and decays BN scales too; no
#   burn_in; no colour or angle augmentation (the reference crops and flips only).
#   batch=64 subdivisions=8 (8 images per forward): the reference's 512 does not fit a CPU; darknet
#   updates once per 64 images, so max_batches=500 is 500 updates of 64 images.
#   The reference standardises each channel with ImageNet's mean/std before the net; darknet feeds
#   [0,1] pixels, which darknet's published weights were trained on: nothing to change.
# Run (an ImageNet-layout data cfg: cfg/imagenet1k-finetune.data):
#   ./darknet classifier train cfg/imagenet1k-finetune.data cfg/resnet$1-224.cfg resnet$1.weights -clear
# -clear: darknet's seen count starts at 0, so the 500 steps are counted from the checkpoint.
[net]
batch=64
subdivisions=8
height=224
width=224
channels=3
min_crop=224
max_crop=224

learning_rate=0.0002
policy=constant
max_batches=500
momentum=0.9
decay=0.0001

HDR
}

footer() {
    cat <<'FTR'
[avgpool]

[convolutional]
filters=1000
size=1
stride=1
pad=1
activation=linear

[softmax]
groups=1

# The regularizer (docs/training.md, "The [saliency] section"; docs/regularizers.md lists them).
# The reference's default is spectreg with l2 (a random projection of the logits); ssim of the
# onehot heatmap against the image is what makes explanations look like the image. Delete the
# section for plain finetuning (the weights files are the same either way).
# regularizer: any regularizer name (the reference's own default: l2 with formulation=spectreg)
# formulation: onehot | loss | spectreg;  weight: lambda (the reference's reg_scale)
# method: exact double backprop (forward-over-reverse); finite | central: by differences
# seed: spectreg's projections and the noise draws
# Noise (commented out): input_noise=0.15 takes the heatmap at x + N(0, (0.15 range x)^2)
# (SmoothGrad-like, exact method only), input_noise_samples=N averages N draws,
# heatmap_noise=0.1 evaluates R on g + N(0, (0.1 range g)^2).
[saliency]
regularizer=ssim
formulation=onehot
weight=0.5
method=exact
seed=1
#input_noise=0.15
#input_noise_samples=1
#heatmap_noise=0.1
FTR
}

basic() { # depth counts...
    local depth=$1; shift
    local f=64 first=1 n
    {
        header "$depth" "basic blocks, $* per stage"
        conv 64 7 2 leaky
        printf '[maxpool]\nsize=2\nstride=2\n\n'
        for n in "$@"; do
            local i
            for ((i = 0; i < n; i++)); do
                local s=1
                [ $i = 0 ] && [ $first = 0 ] && s=2
                printf '# Residual Block\n'
                conv $f 3 $s leaky
                conv $f 3 1 linear
                printf '[shortcut]\nactivation=leaky\nfrom=-3\n\n'
            done
            first=0; f=$((f * 2))
        done
        footer
    } > "cfg/resnet$depth-224.cfg.tmp"
    mv "cfg/resnet$depth-224.cfg.tmp" "cfg/resnet$depth-224.cfg"
}

bottleneck() { # depth counts...
    local depth=$1; shift
    local f=64 first=1 n
    {
        header "$depth" "bottleneck blocks, $* per stage"
        conv 64 7 2 leaky
        printf '[maxpool]\nsize=2\nstride=2\n\n'
        for n in "$@"; do
            local i
            for ((i = 0; i < n; i++)); do
                local s=1
                [ $i = 0 ] && [ $first = 0 ] && s=2
                printf '# Residual Block\n'
                conv $f 1 1 leaky
                conv $f 3 $s leaky
                conv $((f * 4)) 1 1 linear
                printf '[shortcut]\nfrom=-4\nactivation=leaky\n\n'
            done
            first=0; f=$((f * 2))
        done
        footer
    } > "cfg/resnet$depth-224.cfg.tmp"
    mv "cfg/resnet$depth-224.cfg.tmp" "cfg/resnet$depth-224.cfg"
}

basic 18 2 2 2 2
basic 34 3 4 6 3
bottleneck 50 3 4 6 3
