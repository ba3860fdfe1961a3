#!/usr/bin/env bash
# scripts/demo.sh: the main job (`make demo`, from the repository root after the build).
#  1. Debian's dataset-fashion-mnist (installed as root through scripts/setup.sh),
#  2. `darknet saliency prepare`: its idx files to PNGs, lists and a data cfg in results/fashion/,
#  3. cfg/fashion-small.cfg trained with darknet's own `classifier train` (kept when
#     results/fashion/fashion-small.weights exists: delete it to train again),
#  4. its top-1 accuracy on the test set (`classifier valid`),
#  5. `darknet saliency map` of one test image per class, vanilla and gradient x input, one-hot and
#     loss formulations, in results/demo/.
# DARKNET=path runs another binary (default ./darknet, what `make demo` builds).
set -euo pipefail
cd "$(dirname "$0")/.."

DARKNET=${DARKNET:-./darknet}
DATA=results/fashion
OUT=results/demo
CFG=cfg/fashion-small.cfg
WEIGHTS=$DATA/fashion-small.weights
TOKENS=(tshirt trouser pullover dress coat sandal shirt sneaker bag boot)

step() { printf '\n== %s\n' "$*"; }
t0=$(date +%s)

[ -x "$DARKNET" ] || { echo "demo: no darknet binary at '$DARKNET' (run 'make demo', which builds it)" >&2; exit 1; }

step "data set: Debian's dataset-fashion-mnist"
if ! scripts/setup.sh dataset-fashion-mnist; then
    echo "demo: the Fashion-MNIST files come from the Debian package dataset-fashion-mnist: run 'make demo' as root, or 'apt-get install dataset-fashion-mnist' as root first" >&2
    exit 1
fi

step "prepare: PNGs, lists and a data cfg in $DATA/"
"$DARKNET" saliency prepare fashion-mnist "$DATA"

step "train $CFG"
if [ -s "$WEIGHTS" ]; then
    echo "kept $WEIGHTS (delete it to train again)"
else
    rm -f "$DATA/backup/fashion-small.weights"
    start=$(date +%s)
    echo "darknet classifier train $DATA/fashion.data $CFG (every 100th batch shown; all in $DATA/train.log)"
    # darknet's matrices are small: OpenBLAS (when linked) is faster on one thread, and the other
    # core then loads the next batch
    OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} \
    "$DARKNET" classifier train "$DATA/fashion.data" "$CFG" 2>&1 | tee "$DATA/train.log" |
        awk -F, '/ avg, / && $1 % 100 == 0 { print; fflush() }'
    if grep -q "Too many or too few labels" "$DATA/train.log"; then
        echo "demo: darknet could not read a class from some image paths (see $DATA/train.log)" >&2
        exit 1
    fi
    [ -s "$DATA/backup/fashion-small.weights" ] || { echo "demo: training wrote no $DATA/backup/fashion-small.weights (see $DATA/train.log)" >&2; exit 1; }
    mv "$DATA/backup/fashion-small.weights" "$WEIGHTS"
    echo "trained in $(( $(date +%s) - start )) seconds: $WEIGHTS"
fi

step "test accuracy"
"$DARKNET" classifier valid "$DATA/fashion.data" "$CFG" "$WEIGHTS" > "$DATA/valid.log" 2>&1 ||
    { tail -5 "$DATA/valid.log" >&2; echo "demo: classifier valid failed (see $DATA/valid.log)" >&2; exit 1; }
# darknet's last line: "<i>: top 1: <accuracy>, top 1: <accuracy>"
awk -F'[:,]' '/top 1:/ { n = $1 + 1; acc = $3 } END { if (n) printf "top-1 accuracy on %d test images: %.2f%%\n", n, 100*acc; else exit 1 }' \
    "$DATA/valid.log" || { echo "demo: no accuracy in $DATA/valid.log" >&2; exit 1; }

step "saliency maps in $OUT/"
mkdir -p "$OUT"
: > "$OUT/map.log"
for k in "${!TOKENS[@]}"; do
    tok=${TOKENS[$k]}
    img=$(grep -m1 "_$tok\.png\$" "$DATA/test.list") || { echo "demo: no test image of class $tok" >&2; exit 1; }
    cp "$img" "$OUT/$k-$tok-input.png.tmp" && mv "$OUT/$k-$tok-input.png.tmp" "$OUT/$k-$tok-input.png"
    for method in vanilla gradxinput; do
        for form in onehot loss; do
            log=$("$DARKNET" saliency map "$DATA/fashion.data" "$CFG" "$WEIGHTS" "$img" \
                  -method "$method" -formulation "$form" -out "$OUT/$k-$tok-$method-$form" 2>>"$OUT/map.log") ||
                { tail -3 "$OUT/map.log" >&2; echo "demo: saliency map of $img failed (see $OUT/map.log)" >&2; exit 1; }
        done
    done
    # the prediction (same for every method), e.g. "predicted: 7 sneaker 0.998"
    printf '%-8s %-40s %s\n' "$tok" "$img" "$(echo "$log" | grep '^predicted:')"
done
echo "darknet's sample photos (build/darknet/data/*.jpg) need an ImageNet classifier's weights;"
echo "none is in this repository and the demo downloads nothing, so they are skipped."

step "regularized finetuning: heatmaps that look like the image"
# From the trained weights, 150 more batches each: plainly (the control) and with the [saliency]
# section of cfg/fashion-small-ssim.cfg (lambda * -SSIM(N_mm(heatmap), N_mm(image)), exact double
# backprop). `saliency eval` then measures on 1000 test images how much the onehot heatmaps look
# like their images, and the accuracy.
for kind in finetune ssim; do
    w="$DATA/fashion-small-$kind.weights"
    if [ -s "$w" ]; then
        echo "kept $w (delete it to train again)"
        continue
    fi
    rm -f "$DATA/backup/fashion-small-$kind.weights"
    start=$(date +%s)
    OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} \
    "$DARKNET" classifier train "$DATA/fashion.data" "cfg/fashion-small-$kind.cfg" "$WEIGHTS" -clear \
        > "$DATA/train-$kind.log" 2>&1 || { tail -3 "$DATA/train-$kind.log" >&2; echo "demo: finetuning failed (see $DATA/train-$kind.log)" >&2; exit 1; }
    [ -s "$DATA/backup/fashion-small-$kind.weights" ] || { echo "demo: finetuning wrote no weights (see $DATA/train-$kind.log)" >&2; exit 1; }
    mv "$DATA/backup/fashion-small-$kind.weights" "$w"
    echo "cfg/fashion-small-$kind.cfg: 150 batches in $(( $(date +%s) - start )) seconds ($DATA/train-$kind.log)"
done
grep -m1 '^saliency: batch' "$DATA/train-ssim.log" | sed 's/^/  first step:  /'
grep '^saliency: batch' "$DATA/train-ssim.log" | tail -1 | sed 's/^/  last line:   /'
printf '%-34s %s\n' "model" "agreement of onehot heatmaps with the images (1000 test images)"
for w in "$WEIGHTS" "$DATA/fashion-small-finetune.weights" "$DATA/fashion-small-ssim.weights"; do
    r=$("$DARKNET" saliency eval "$DATA/fashion.data" "$CFG" "$w" -n 1000 2>>"$OUT/map.log" | grep '^images') ||
        { echo "demo: saliency eval of $w failed (see $OUT/map.log)" >&2; exit 1; }
    printf '%-34s %s\n' "$(basename "$w" .weights)" "$r"
done
for k in "${!TOKENS[@]}"; do
    tok=${TOKENS[$k]}
    img=$(grep -m1 "_$tok\.png\$" "$DATA/test.list")
    "$DARKNET" saliency map "$DATA/fashion.data" "$CFG" "$DATA/fashion-small-ssim.weights" "$img" \
        -method vanilla -formulation onehot -out "$OUT/$k-$tok-ssim-vanilla-onehot" >/dev/null 2>>"$OUT/map.log" ||
        { echo "demo: saliency map of $img failed (see $OUT/map.log)" >&2; exit 1; }
done
echo "higher ssim and pearson, lower 1/psnr and sobel: heatmaps more like the image; top-1: what it cost"

step "done in $(( $(date +%s) - t0 )) seconds"
echo "pictures: $OUT/  (28x28, one test image per class)"
echo "  <k>-<class>-input.png                          the test image"
echo "  <k>-<class>-<vanilla|gradxinput>-<onehot|loss>_heat.png     the saliency map"
echo "  <k>-<class>-<vanilla|gradxinput>-<onehot|loss>_overlay.png  the map over the image"
echo "  <k>-<class>-ssim-vanilla-onehot_heat.png      the same after regularized finetuning"
echo "data: $DATA/  weights: $WEIGHTS  logs: $DATA/train.log $DATA/valid.log"

# the detector part: YOLO on the scenes, the methods for its boxes (scripts/demo-detector.sh)
DARKNET="$DARKNET" scripts/demo-detector.sh
