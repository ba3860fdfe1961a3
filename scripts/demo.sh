#!/usr/bin/env bash
# scripts/demo.sh: the main job (`make demo`, from the repository root after the build). One
# function per part, run in order by main() at the bottom (a new part is a new function there):
#   part_data       Debian's dataset-fashion-mnist as PNGs, lists and a data cfg (saliency prepare)
#   part_baseline   cfg/fashion-small.cfg trained with darknet's own `classifier train` (kept when
#                   results/fashion/fashion-small.weights exists: delete it to train again)
#   part_accuracy   its top-1 on the 10 000 test images (`classifier valid`)
#   part_finetune   two finetunes of it, the same batches: the control (cfg/fashion-small-finetune.cfg,
#                   whose section has weight=0: R is logged, not trained on) and the regularized one
#                   (cfg/fashion-small-ssim.cfg: the recipe `make science` found)
#   part_report     `saliency eval` of the three on the same 2000 held-out test images:
#                   results/demo/report.csv and report.md
#   part_pictures   results/demo/montage.png (one test image per class: input, heat maps and overlays
#                   before and after) and curve.png (loss and R against the step, both finetunes)
#   part_detector   scripts/demo-detector.sh: a YOLO trained on the scenes and its boxes explained,
#                   results/demo/detector/
# DARKNET=path runs another binary (default ./darknet, what `make demo` builds); PARTS="..." runs
# only the parts named (see main).
set -euo pipefail
cd "$(dirname "$0")/.."

DARKNET=${DARKNET:-./darknet}
DATA=results/fashion
OUT=results/demo
CFG=cfg/fashion-small.cfg
WEIGHTS=$DATA/fashion-small.weights
EVAL_N=2000
TOKENS=(tshirt trouser pullover dress coat sandal shirt sneaker bag boot)
NAMES="t-shirt|trouser|pullover|dress|coat|sandal|shirt|sneaker|bag|ankle boot"
# model name, cfg that trained it, weights
MODELS=("baseline $CFG $WEIGHTS"
        "control cfg/fashion-small-finetune.cfg $DATA/fashion-small-finetune.weights"
        "ssim cfg/fashion-small-ssim.cfg $DATA/fashion-small-ssim.weights")

step() { printf '\n== %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

part_data() {
    step "data set: Debian's dataset-fashion-mnist, as PNGs in $DATA/"
    scripts/setup.sh dataset-fashion-mnist ||
        die "the Fashion-MNIST files come from the Debian package dataset-fashion-mnist: run 'make demo' as root, or 'apt-get install dataset-fashion-mnist' as root first"
    "$DARKNET" saliency prepare fashion-mnist "$DATA" 2>&1 | tr '\r' '\n' | grep -v '^train: [0-9]*/\|^test: [0-9]*/\|^ *$' || true
    [ -s "$DATA/fashion.data" ] || die "saliency prepare wrote no $DATA/fashion.data"
}

part_baseline() {
    step "train $CFG"
    if [ -s "$WEIGHTS" ]; then echo "kept $WEIGHTS (delete it to train again)"; return; fi
    rm -f "$DATA/backup/fashion-small.weights"
    local start=$(date +%s)
    echo "darknet classifier train $DATA/fashion.data $CFG (every 100th batch shown; all in $DATA/train.log)"
    # darknet's matrices are small: OpenBLAS is faster on one thread, and the other core loads the next batch
    OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} \
    "$DARKNET" classifier train "$DATA/fashion.data" "$CFG" 2>&1 | tee "$DATA/train.log" |
        awk -F, '/ avg, / && $1 % 100 == 0 { print; fflush() }'
    grep -q "Too many or too few labels" "$DATA/train.log" && die "darknet could not read a class from some image paths (see $DATA/train.log)"
    [ -s "$DATA/backup/fashion-small.weights" ] || die "training wrote no $DATA/backup/fashion-small.weights (see $DATA/train.log)"
    mv "$DATA/backup/fashion-small.weights" "$WEIGHTS"
    echo "trained in $(( $(date +%s) - start )) seconds: $WEIGHTS"
}

part_accuracy() {
    step "test accuracy"
    "$DARKNET" classifier valid "$DATA/fashion.data" "$CFG" "$WEIGHTS" > "$DATA/valid.log" 2>&1 ||
        { tail -5 "$DATA/valid.log" >&2; die "classifier valid failed (see $DATA/valid.log)"; }
    # darknet's last line: "<i>: top 1: <accuracy>, top 1: <accuracy>"
    awk -F'[:,]' '/top 1:/ { n = $1 + 1; acc = $3 } END { if (n) printf "top-1 accuracy on %d test images: %.2f%%\n", n, 100*acc; else exit 1 }' \
        "$DATA/valid.log" || die "no accuracy in $DATA/valid.log"
}

part_finetune() {
    step "finetuning: the control and the regularized model, the same batches from $WEIGHTS"
    local m name cfg w base
    for m in "${MODELS[@]:1}"; do
        read -r name cfg w <<< "$m"
        base=$(basename "$cfg" .cfg)
        if [ -s "$w" ]; then echo "kept $w (delete it to train again)"; continue; fi
        rm -f "$DATA/backup/$base.weights"
        local start=$(date +%s)
        OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} \
        "$DARKNET" classifier train "$DATA/fashion.data" "$cfg" "$WEIGHTS" -clear > "$DATA/train-$name.log" 2>&1 ||
            { tail -3 "$DATA/train-$name.log" >&2; die "finetuning $cfg failed (see $DATA/train-$name.log)"; }
        [ -s "$DATA/backup/$base.weights" ] || die "finetuning wrote no weights (see $DATA/train-$name.log)"
        mv "$DATA/backup/$base.weights" "$w"
        echo "$name: $cfg, $(awk -F= '/^max_batches/ { print $2 }' "$cfg") batches in $(( $(date +%s) - start )) s ($DATA/train-$name.log)"
        grep '^saliency: batch' "$DATA/train-$name.log" | tail -1 | sed 's/^/  last line: /'
    done
}

part_report() {
    step "$OUT/report.csv: saliency eval on the first $EVAL_N test images"
    mkdir -p "$OUT"
    local m name cfg w line
    {
        echo "model,top1,ssim,psnr_inv,sobel_edges,cor"
        for m in "${MODELS[@]}"; do
            read -r name cfg w <<< "$m"
            line=$("$DARKNET" saliency eval "$DATA/fashion.data" "$CFG" "$w" -n "$EVAL_N" 2>>"$OUT/eval.log" | grep '^images') ||
                die "saliency eval of $w failed (see $OUT/eval.log)"
            # "images N  top-1 A  ssim S  1/psnr P  sobel E  pearson R  (...)"
            echo "$line" | awk -v m="$name" '{ printf "%s,%s,%s,%s,%s,%s\n", m, $4, $6, $8, $10, $12 }'
        done
    } > "$OUT/report.csv.tmp"
    mv "$OUT/report.csv.tmp" "$OUT/report.csv"
    column -s, -t < "$OUT/report.csv"
    write_report_md
}

write_report_md() {
    local ssim_cfg=cfg/fashion-small-ssim.cfg
    {
        echo "# make demo: Fashion-MNIST, heatmaps before and after regularized finetuning"
        echo
        echo "Generated by scripts/demo.sh on $(date -u '+%Y-%m-%d %H:%M UTC'); $EVAL_N held-out test images, onehot (true-class logit)"
        echo "vanilla heatmaps against the images, both normalised to [0, 1] (N_mm)."
        echo
        echo "| model | top-1 | ssim ↑ | 1/psnr ↓ | sobel ↓ | pearson ↑ |"
        echo "|---|---|---|---|---|---|"
        awk -F, 'NR > 1 { printf "| %s | %.4f | %.4f | %.4f | %.3f | %.4f |\n", $1, $2, $3, $4, $5, $6 }' "$OUT/report.csv"
        echo
        awk -F, 'NR > 1 { t[$1] = $2; s[$1] = $3 } END {
            printf "ssim against the baseline: %+.4f SSIM at %+.2f points of top-1 (against the control: %+.4f at %+.2f).\n",
                s["ssim"] - s["baseline"], 100 * (t["ssim"] - t["baseline"]), s["ssim"] - s["control"], 100 * (t["ssim"] - t["control"]) }' "$OUT/report.csv"
        echo
        echo "- baseline: \`$CFG\` trained by darknet's \`classifier train\` ($(awk -F= '/^max_batches/ { print $2 }' "$CFG") batches of 128)."
        echo "- control: the baseline finetuned by \`cfg/fashion-small-finetune.cfg\` (a section with weight=0: R logged only)."
        echo "- ssim: the baseline finetuned by \`$ssim_cfg\`: $(awk '/^\[saliency\]/ { s = 1; next } s && /=/ { printf "%s ", $0 }' "$ssim_cfg")"
        echo "  ($(awk -F= '/^max_batches/ { b = $2 } /^learning_rate/ { l = $2 } END { printf "%s batches of 128 at learning rate %s", b, l }' "$ssim_cfg"))."
        echo
        echo "Commands:"
        echo
        echo '```sh'
        echo "./darknet saliency prepare fashion-mnist $DATA"
        echo "./darknet classifier train $DATA/fashion.data $CFG"
        echo "./darknet classifier train $DATA/fashion.data cfg/fashion-small-finetune.cfg $WEIGHTS -clear"
        echo "./darknet classifier train $DATA/fashion.data $ssim_cfg $WEIGHTS -clear"
        echo "./darknet saliency eval $DATA/fashion.data $CFG <weights> -n $EVAL_N"
        echo "./darknet saliency map $DATA/fashion.data $CFG <weights> <image> -method vanilla -formulation onehot -out <prefix>"
        echo '```'
        echo
        echo "![montage](montage.png)"
        echo
        echo "![curves](curve.png)"
        echo
        echo "montage.png: one test image per class; the vanilla onehot heat maps (N_mm, grey) and their overlays, of the"
        echo "baseline and of the ssim model. curve.png: darknet's running average of the training loss (lambda * R included,"
        echo "so the ssim run's is lower by about lambda * SSIM) and R = -SSIM(N_mm(g), N_mm(x)) from the section's progress"
        echo "lines (at most one a second), for the control (weight=0: R only logged) and the ssim finetune."
    } > "$OUT/report.md.tmp"
    mv "$OUT/report.md.tmp" "$OUT/report.md"
    echo "wrote $OUT/report.md"
}

part_pictures() {
    step "$OUT/montage.png and $OUT/curve.png"
    mkdir -p "$OUT/maps"
    : > "$OUT/map.log"
    local k tok img m name cfg w
    local inputs=() heats=() overs=()
    for k in "${!TOKENS[@]}"; do
        tok=${TOKENS[$k]}
        img=$(grep -m1 "_$tok\.png\$" "$DATA/test.list") || die "no test image of class $tok"
        inputs+=("$img")
        for m in "${MODELS[0]}" "${MODELS[2]}"; do
            read -r name cfg w <<< "$m"
            "$DARKNET" saliency map "$DATA/fashion.data" "$CFG" "$w" "$img" -method vanilla -formulation onehot \
                -out "$OUT/maps/$k-$tok-$name" >> "$OUT/map.log" 2>&1 || die "saliency map of $img failed (see $OUT/map.log)"
        done
    done
    local files=("${inputs[@]}")
    for name in baseline ssim; do for k in "${!TOKENS[@]}"; do files+=("$OUT/maps/$k-${TOKENS[$k]}-${name}_heat.png"); done; done
    for name in baseline ssim; do for k in "${!TOKENS[@]}"; do files+=("$OUT/maps/$k-${TOKENS[$k]}-${name}_overlay.png"); done; done
    "$DARKNET" saliency montage "$OUT/montage.png" "${files[@]}" -cols 10 -height 84 -captions "$NAMES" \
        -rows "input|baseline heat|ssim heat|baseline overlay|ssim overlay"
    # the curves: darknet's running average of the loss (with lambda * R) every batch, R of the
    # section's progress lines (at most one a second)
    {
        echo "step,loss,R,run"
        for name in control ssim; do
            awk -F'[ ,:/]+' -v run="$name" '
                /^saliency: batch / { r[$3] = $8 }
                / avg, / && $1 ~ /^[0-9]+$/ { b = $1; avg[b] = $4; if (b > last) last = b }
                END { for (b = 1; b <= last; b++) if (b in avg) printf "%d,%s,%s,%s\n", b, avg[b], (b in r) ? r[b] : "", run }' \
                "$DATA/train-$name.log"
        done
    } > "$OUT/curve.csv"
    "$DARKNET" saliency chart "$OUT/curve.csv" "$OUT/curve.png" -x step -y loss,R -group run \
        -title "finetuning from the baseline" -xlabel "batch" -width 800 -height 480
}

# the detector: YOLO trained by darknet on the scenes, the methods for its boxes (scripts/demo-detector.sh)
part_detector() {
    step "the detector part (scripts/demo-detector.sh)"
    DARKNET="$DARKNET" scripts/demo-detector.sh
}

# the parts in order; PARTS="report pictures" scripts/demo.sh runs only those (their inputs kept)
PARTS=${PARTS:-data baseline accuracy finetune report pictures detector}

main() {
    [ -x "$DARKNET" ] || die "no darknet binary at '$DARKNET' (run 'make demo', which builds it)"
    local t0=$(date +%s) p
    for p in $PARTS; do
        declare -F "part_$p" > /dev/null || die "no part '$p' (parts: $(declare -F | awk '/ part_/ { sub("part_", "", $3); printf "%s ", $3 }'))"
        "part_$p"
    done
    step "done in $(( $(date +%s) - t0 )) seconds"
    echo "report: $OUT/report.md ($OUT/report.csv), pictures: $OUT/montage.png $OUT/curve.png, maps: $OUT/maps/"
    echo "data: $DATA/  weights: $WEIGHTS  logs: $DATA/train*.log $DATA/valid.log"
}

main "$@"
