#!/usr/bin/env bash
# scripts/demo-detector.sh: the detector part of `make demo` (scripts/demo.sh runs it last; alone:
# `scripts/demo-detector.sh` after `make`). docs/detector.md says what each step shows.
#  1. `darknet saliency prepare fashion-scenes results/scenes`: 64x64 scenes of 1-3 Fashion-MNIST
#     garments with darknet's box labels and ground-truth masks (kept when already there),
#  2. cfg/yolo-scenes.cfg trained by darknet's own `detector train` (kept when
#     results/scenes/yolo-scenes.weights exists: delete it to train again),
#  3. `saliency detector eval`: its mAP@0.5 and recall on the test scenes,
#  4. `saliency detector map -method all` of a few test scenes: every box, every method,
#  5. `saliency detector point`: each method's map of every found garment against its mask,
#  6. `saliency detector insdel`: the boxes' insertion/deletion AUCs,
# into results/demo/detector/ (eval.txt, point.txt, insdel.txt and .csv/.png, scene<k>_*.png).
# Environment: DARKNET (default ./darknet), DEMO_POINT_N (scenes for point, default 200),
# DEMO_INSDEL_N (default 100), DEMO_MASKS (D-RISE's masks in point and insdel, default 1000).
set -euo pipefail
cd "$(dirname "$0")/.."

DARKNET=${DARKNET:-./darknet}
SC=results/scenes
DATA=$SC/scenes.data
CFG=cfg/yolo-scenes.cfg
WEIGHTS=$SC/yolo-scenes.weights
OUT=results/demo/detector
POINT_N=${DEMO_POINT_N:-200}
INSDEL_N=${DEMO_INSDEL_N:-100}
MASKS=${DEMO_MASKS:-1000}

step() { printf '\n== %s\n' "$*"; }
t0=$(date +%s)
[ -x "$DARKNET" ] || { echo "demo-detector: no darknet binary at '$DARKNET' (run 'make')" >&2; exit 1; }
mkdir -p "$OUT"

step "scenes: garments on backgrounds, with boxes and masks, in $SC/"
"$DARKNET" saliency prepare fashion-scenes "$SC"

step "train $CFG (darknet's detector train)"
if [ -s "$WEIGHTS" ]; then
    echo "kept $WEIGHTS (delete it to train again)"
else
    rm -f "$SC"/backup/yolo-scenes*.weights "$SC"/backup/yolo-scenes.backup
    start=$(date +%s)
    # darknet prints a line per iteration: the log keeps them, the screen every 100th
    "$DARKNET" detector train "$DATA" "$CFG" 2> "$SC/yolo-train.err" |
        tee "$SC/yolo-train.log" | awk -F'[:,]' '/ avg, / { if ($1 % 100 == 0) { printf "  iteration %s: loss %s\n", $1, $3; fflush() } }'
    [ -s "$SC/backup/yolo-scenes_final.weights" ] || { echo "demo-detector: training left no $SC/backup/yolo-scenes_final.weights (see $SC/yolo-train.log, $SC/yolo-train.err)" >&2; exit 1; }
    cp "$SC/backup/yolo-scenes_final.weights" "$WEIGHTS.tmp"
    mv "$WEIGHTS.tmp" "$WEIGHTS"
    echo "trained in $(( $(date +%s) - start )) s: $WEIGHTS"
fi

step "how good the detector is: mAP@0.5 and recall on the test scenes"
"$DARKNET" saliency detector eval "$DATA" "$CFG" "$WEIGHTS" 2>/dev/null | tee "$OUT/eval.txt" | tail -n 1

step "every box of three test scenes, every method"
k=0
while IFS= read -r img && [ "$k" -lt 3 ]; do
    "$DARKNET" saliency detector map "$DATA" "$CFG" "$WEIGHTS" "$img" -method all -masks "$MASKS" -out "$OUT/scene$((k + 1))" \
        > "$OUT/scene$((k + 1)).txt" 2>>"$OUT/map.log" || { echo "demo-detector: detector map of $img failed (see $OUT/map.log)" >&2; exit 1; }
    grep -q '^box ' "$OUT/scene$((k + 1)).txt" || continue   # a scene without a box above 0.5: the next one
    k=$((k + 1))
    grep '^box ' "$OUT/scene$k.txt" | sed "s|^|  $img: |"
done < "$SC/test.list"

step "localisation: each method's map of every found garment against its mask ($POINT_N scenes)"
"$DARKNET" saliency detector point "$DATA" "$CFG" "$WEIGHTS" -n "$POINT_N" -masks "$MASKS" \
    -method vanilla,gradxinput,integrated,smoothgrad,gradcam,drise,occlusion 2>/dev/null | tee "$OUT/point.txt"

step "faithfulness: insertion and deletion of the boxes ($INSDEL_N scenes)"
head -n "$INSDEL_N" "$SC/test.list" > "$OUT/insdel.list"
"$DARKNET" saliency detector insdel "$DATA" "$CFG" "$WEIGHTS" "$OUT/insdel.list" -masks "$MASKS" \
    -method vanilla,gradcam,drise -csv "$OUT/insdel.csv" -plot "$OUT/insdel.png" 2>/dev/null | tee "$OUT/insdel.txt" | tail -n 5

# montage.png: the first scene's first box by every method
[ -s "$OUT/scene1_box0_all.png" ] && cp "$OUT/scene1_box0_all.png" "$OUT/montage.png"

step "detector part done in $(( $(date +%s) - t0 )) seconds"
echo "pictures: $OUT/scene<k>_boxes.png (the boxes), $OUT/scene<k>_box<j>_all.png (every method for box j), $OUT/insdel.png"
echo "tables: $OUT/eval.txt $OUT/point.txt $OUT/insdel.txt"
