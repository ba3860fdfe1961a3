#!/bin/sh
# bench.sh (`make bench`): ResNet-18 training steps, darknet with its naive gemm and with OpenBLAS
# against PyTorch, on this machine, in one run; prints a table and writes bench/results.md.
# Never part of `make test`: it takes minutes.
#
# Each measurement is its own process (so its peak RSS is its own): bench_train (bench/bench_train.c,
# linked against libdarknet.a) or bench/torch_resnet.py under Debian's /usr/bin/python3.
# Every row of one configuration runs back to back, same batch, same thread count.
#
# Environment:
#   BUILD          make's build directory for the OpenBLAS darknet (default build); the naive one
#                  is built in $BUILD-naive (OPENMP=1, so darknet's gemm loops get the same threads)
#   BENCH_CONFIGS  "SIZE:BATCH:THREADS ..." (default "64:16:1 64:16:2 224:4:1 224:4:2")
#   BENCH_STEPS    timed steps per measurement (default 5); BENCH_WARMUP steps before (default 2)
#   BENCH_NAIVE=0  skip the naive darknet;  BENCH_REG=0 skip the regularized rows
#   BENCH_METHODS=0 skip the saliency methods (BENCH_ALL_METHODS=0 only the every-method table);
#                  BENCH_METHOD_CONFIGS "SIZE:BATCH:THREADS ..."
#                  (default "64:32:1 64:32:2 224:8:1 224:8:2")
#   BENCH_OUT      the report (default bench/results.md)
#   BENCH_SERIAL=0 skip the OPENMP=0 build ($BUILD-serial) of the 1-thread rows (no regression at 1 thread)
#   BENCH_PROFILE=0 skip the perf profile of the 2-thread steps (when perf is installed)
#   BENCH_KEEP_CORETYPE=1 keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE of the environment (default: unset
#                  for every command once one regularized step gives the same loss either way)
# The OpenBLAS build is the default one (OPENMP=1, Debian's OpenMP OpenBLAS: docs/build.md, Threads).
set -eu
cd "$(dirname "$0")/.."
unset MAKEFLAGS MFLAGS MAKELEVEL 2>/dev/null || true

BUILD=${BUILD:-build}
# OpenMP's wait policy: each darknet binary chooses it at start as darknet does (patch 0056,
# src/waitpolicy.c: a short spin when each thread has an idle core, else sleeping; the RESULT
# lines say which), PyTorch runs with libgomp's default (spin, then sleep). OMP_WAIT_POLICY or
# GOMP_SPINCOUNT set for make bench applies to both.
CONFIGS=${BENCH_CONFIGS:-"64:16:1 64:16:2 224:4:1 224:4:2"}
STEPS=${BENCH_STEPS:-5}
WARMUP=${BENCH_WARMUP:-2}
NAIVE=${BENCH_NAIVE:-1}
REG=${BENCH_REG:-1}
OUT=${BENCH_OUT:-bench/results.md}
PY=/usr/bin/python3
CFG=cfg/resnet18-64.cfg
LAMBDA=0.5
# The learning rate of every timed step (darknet cfg and PyTorch alike). 0 by default: the weights
# stay where they are, so every step times the same computation (the update arithmetic still runs)
# and no run drifts into overflow (a regularized step on random data at lr 0.01 diverges within a
# few steps, and inf/NaN arithmetic would be timed instead).
LR=${BENCH_LR:-0}
BLASB=$BUILD
[ "${BLAS:-1}" = 0 ] && BLASB=$BUILD-blas     # `make bench BLAS=0`: keep the OpenBLAS build apart
NAIVEB=$BUILD-naive
SERIAL=${BENCH_SERIAL:-1}
SERIALB=$BUILD-serial
PROFILE=${BENCH_PROFILE:-1}

# ---- what the benchmark needs --------------------------------------------------------------
if ! $PY -c 'import torch, torchvision' 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        echo "bench: apt-get install python3-torch python3-torchvision"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-torchvision >/dev/null
    else
        echo "bench: $PY lacks torch/torchvision (run as root: apt-get install python3-torch python3-torchvision)" >&2
        exit 1
    fi
fi

echo "bench: building darknet with OpenBLAS ($BLASB, OPENMP=1), without OpenMP ($SERIALB) and with its naive gemm ($NAIVEB)"
make --no-print-directory BUILD="$BLASB" BLAS=1 OPENMP=1 "$BLASB/bench_train" >/dev/null
[ "$SERIAL" = 0 ] || make --no-print-directory BUILD="$SERIALB" BLAS=1 OPENMP=0 "$SERIALB/bench_train" >/dev/null
[ "$NAIVE" = 0 ] || make --no-print-directory BUILD="$NAIVEB" BLAS=0 OPENMP=1 "$NAIVEB/bench_train" >/dev/null

TMP=$(mktemp -d /tmp/darknet-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
RES=$TMP/results.txt
: > "$RES"

# resnet_cfg SIZE BATCH OUT: $CFG at SIZE x SIZE, batch BATCH, one subdivision, learning rate $LR
resnet_cfg() {
    sed -e "s/^width=.*/width=$1/" -e "s/^height=.*/height=$1/" -e "s/^batch=.*/batch=$2/" \
        -e "s/^subdivisions=.*/subdivisions=1/" -e "s/^learning_rate=.*/learning_rate=$LR/" $CFG > "$3"
}

# ---- the machine ---------------------------------------------------------------------------
cores=$(nproc)
cpumodel=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(sse4_2|avx|avx2|fma|f16c|avx512f|avx512bw|avx512vl|avx512_vnni|avx512_bf16|avx_vnni)$' | tr '\n' ' ' | sed 's/ $//')
# OpenBLAS's kernel. Some machines' environments force one (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE:
# older OpenBLAS builds crashed or computed wrong results on their CPUs); a user's machine runs the
# kernel OpenBLAS picks for its CPU. So the bench unsets both for every command, darknet and
# PyTorch alike, once one regularized step (forward, backward, the engine's passes) gives the same
# loss with and without them; BENCH_KEEP_CORETYPE=1 keeps them. Tests and CI never change them.
coremsg=""
if [ -n "${OPENBLAS_CORETYPE:-}${OPENBLAS_L2_SIZE:-}" ]; then
    forced="OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-}"
    if [ "${BENCH_KEEP_CORETYPE:-0}" = 1 ]; then
        coremsg="this machine's environment sets $forced; kept (BENCH_KEEP_CORETYPE=1)"
    else
        ccfg=$TMP/coretype.cfg
        resnet_cfg 64 4 "$ccfg"
        closs() { "$@" "$BLASB/bench_train" "$ccfg" -steps 1 -warmup 0 -threads 1 -reg tv -method exact 2>/dev/null |
                  sed -n 's/.* loss=\([^ ]*\).*/\1/p'; }
        la=$(closs env)
        lb=$(closs env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
        if awk -v a="$la" -v b="$lb" 'BEGIN { d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a; exit !(a != "" && b != "" && d <= 1e-4 * m) }'; then
            coremsg="this machine's environment sets $forced; unset for every command of the bench (one regularized step: loss $la with them, $lb without)"
            unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
        else
            coremsg="this machine's environment sets $forced; kept, since one regularized step differs without them (loss $la with, $lb without)"
        fi
    fi
    echo "bench: $coremsg"
fi
blascore=$(OPENBLAS_VERBOSE=2 "$BLASB/bench_train" 2>&1 | sed -n 's/^Core: //p' | head -n 1)
blasver="$(dpkg-query -W -f='${Version}' libopenblas0-openmp 2>/dev/null || echo "?"), OpenMP variant"
torchver=$($PY -c 'import torch, torchvision; print(torch.__version__, "/ torchvision", torchvision.__version__)')
load0=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
echo "bench: $cores cores, $cpumodel; flags: $flags; OpenBLAS $blasver core ${blascore:-?}; torch $torchver; load $load0"

# run TAG CMD...: one measurement; its RESULT line goes to $RES prefixed by TAG, TODO if the
# command answers exit status 3 (not implemented yet), FAIL otherwise.
run() {
    tag=$1; shift
    printf 'bench: %-28s ' "$tag"
    set +e
    line=$("$@" 2>"$TMP/err" | grep '^RESULT ')
    rc=$?
    set -e
    if [ -n "$line" ]; then
        echo "$tag $line" >> "$RES"
        echo "$line" | sed 's/.*median_s=\([^ ]*\).*cpu_s=\([^ ]*\).*peak_rss_mb=\([^ ]*\).*/median \1 s, cpu \2 s, peak \3 MB/'
    elif grep -q 'not wired in yet' "$TMP/err"; then
        echo "$tag TODO" >> "$RES"; echo "TODO (not implemented yet)"
    else
        echo "$tag FAIL" >> "$RES"; echo "FAILED (exit $rc):"; tail -n 3 "$TMP/err" >&2
    fi
}

for c in $CONFIGS; do
    size=${c%%:*}; rest=${c#*:}; batch=${rest%%:*}; th=${rest#*:}
    cfg=$TMP/resnet18-$size-b$batch.cfg
    resnet_cfg "$size" "$batch" "$cfg"
    export OPENBLAS_NUM_THREADS="$th" OMP_NUM_THREADS="$th"
    k="$size:$batch:$th"
    dk="-steps $STEPS -warmup $WARMUP -threads $th"
    pt="--size $size --batch $batch --threads $th --steps $STEPS --warmup $WARMUP --lr $LR"
    echo "bench: ---- ResNet-18 ${size}x$size, batch $batch, $th thread(s); load $(cut -d' ' -f1 /proc/loadavg)"
    # shellcheck disable=SC2086
    {
        [ "$NAIVE" = 0 ] || run "$k dk-naive" "$NAIVEB/bench_train" "$cfg" $dk
        run "$k dk-blas" "$BLASB/bench_train" "$cfg" $dk
        # the same step without OpenMP at 1 thread: the threading must not slow one thread down
        if [ "$SERIAL" != 0 ] && [ "$th" = 1 ]; then
            run "$k dk-serial" "$SERIALB/bench_train" "$cfg" $dk
            [ "$REG" = 0 ] || run "$k dk-serial-exact-tv" "$SERIALB/bench_train" "$cfg" $dk -reg tv -method exact -lambda $LAMBDA
        fi
        run "$k pt-plain" $PY bench/torch_resnet.py $pt --mode plain
        if [ "$REG" != 0 ]; then
            # Regularized step, onehot formulation, lambda 0.5: darknet's own step of the cfg with a
            # [saliency] section (bench_train -reg), against PyTorch's double backprop.
            for m in exact finite; do for r in tv ssim; do
                run "$k dk-$m-$r" "$BLASB/bench_train" "$cfg" $dk -reg $r -method $m -lambda $LAMBDA
            done; done
            run "$k pt-dbp-tv" $PY bench/torch_resnet.py $pt --mode dbp-tv
            run "$k pt-dbp-ssim" $PY bench/torch_resnet.py $pt --mode dbp-ssim
        fi
    }
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- a profile of the 2-thread step: what stays serial ----------------------------------------
# perf (when installed) over 2-thread steps (64x64 batch 16 plain, 224x224 batch 4 exact tv);
# bench/perf_split.py splits the CPU samples by thread: the parallel share and Amdahl's projection.
profout=""
if [ "$PROFILE" != 0 ] && command -v perf >/dev/null 2>&1; then
    for pc in "64:16:plain" "224:4:tv"; do
        size=${pc%%:*}; rest=${pc#*:}; batch=${rest%%:*}; mode=${rest#*:}
        pcfg=$TMP/profile-$size.cfg
        resnet_cfg "$size" "$batch" "$pcfg"
        extra=""; [ "$mode" = plain ] || extra="-reg $mode -method exact -lambda $LAMBDA"
        echo "bench: perf profile, ${size}x$size batch $batch, $mode, 2 threads"
        # shellcheck disable=SC2086
        # passive: a waiting thread takes no samples, so the second thread's samples are its work
        if OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 perf record -q -o "$TMP/perf-$size.data" \
                "$BLASB/bench_train" "$pcfg" -steps 12 -warmup 0 -threads 2 $extra >/dev/null 2>&1; then
            profout="$profout
### ${size}×$size, batch $batch, $mode step, 2 threads

\`\`\`
$($PY bench/perf_split.py "$TMP/perf-$size.data" 14)
\`\`\`
"
        fi
    done
fi

# ---- saliency methods: integrated gradients (K = 32) and SmoothGrad (N = 25) per image ---------
# darknet (bench/bench_methods.c: the methods' batched path, and one call a point) against PyTorch
# (bench/torch_methods.py: the same ResNet-18, batched autograd.grad), the same batch and threads.
METHODS=${BENCH_METHODS:-1}
METHOD_CONFIGS=${BENCH_METHOD_CONFIGS:-"64:32:1 64:32:2 224:8:1 224:8:2"}
methout=""
if [ "$METHODS" != 0 ]; then
    make --no-print-directory BUILD="$BLASB" "$BLASB/bench_methods" >/dev/null
    methout="| size | batch | threads | method | darknet CPU s/image | one call a point | PyTorch CPU s/image | darknet/PyTorch | darknet wall s/image | PyTorch wall s/image | wall darknet/PyTorch |
|---|---|---|---|---|---|---|---|---|---|---|"
    for c in $METHOD_CONFIGS; do
        size=${c%%:*}; rest=${c#*:}; batch=${rest%%:*}; th=${rest#*:}
        export OPENBLAS_NUM_THREADS="$th" OMP_NUM_THREADS="$th"
        echo "bench: ---- methods ${size}x$size, batch $batch, $th thread(s)"
        dkl=$("$BLASB/bench_methods" $CFG -size "$size" -batch "$batch" -threads "$th" -reps 3 2>/dev/null | grep '^RESULT' || true)
        for m in integrated smoothgrad; do
            d=$(echo "$dkl" | grep "method=$m " | sed -n 's/.*batch='"$batch"' wall_s=[^ ]* cpu_s=\([^ ]*\).*/\1/p')
            one=$(echo "$dkl" | grep "method=$m " | sed -n 's/.*| batch=1 wall_s=[^ ]* cpu_s=\([^ ]*\).*/\1/p')
            dw=$(echo "$dkl" | grep "method=$m " | sed -n 's/.*batch='"$batch"' wall_s=\([^ ]*\) .*/\1/p')
            tl=$($PY bench/torch_methods.py --method $m --size "$size" --batch "$batch" --threads "$th" --images 3 2>/dev/null)
            t=$(echo "$tl" | sed -n 's/.*cpu_s=\([^ ]*\).*/\1/p')
            tw=$(echo "$tl" | sed -n 's/.*median_s=\([^ ]*\).*/\1/p')
            r=$(awk -v a="$d" -v b="$t" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "—" }')
            rw=$(awk -v a="$dw" -v b="$tw" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "—" }')
            echo "bench: $m ${size}x$size b$batch t$th: darknet ${d:-?} s (wall ${dw:-?}), one call a point ${one:-?} s, PyTorch ${t:-?} s (wall ${tw:-?}): $r (wall $rw)"
            methout="$methout
| $size | $batch | $th | $m | ${d:-—} | ${one:-—} | ${t:-—} | $r | ${dw:-—} | ${tw:-—} | $rw |"
        done
    done
fi

# ---- every saliency method per image: darknet's batch against one call per image -----------------
# bench/bench_methods.c -methods all on the Fashion-MNIST model (its trained weights and a test image
# when make demo has made them, else random weights and noise) and on ResNet-18 at 64x64 (batched and
# one network call an image, same maps) and 224x224 (batched only; RISE with 1000 masks and igos/igos++
# with 5 iterations there, the defaults take minutes an image: time is about linear in both).
ALLM=${BENCH_ALL_METHODS:-$METHODS}
allout=""
if [ "$ALLM" != 0 ]; then
    make --no-print-directory BUILD="$BLASB" "$BLASB/bench_methods" >/dev/null
    fw=""; fi_=""
    if [ -f results/fashion/fashion-small.weights ] && [ -f results/fashion/test.list ]; then
        fw="-weights results/fashion/fashion-small.weights"; fi_="-image $(head -n 1 results/fashion/test.list)"
    fi
    allout="| model | threads | method | what ran | batched CPU s/image | images through the net | one call an image CPU s | speed-up | max rel. difference |
|---|---|---|---|---|---|---|---|---|"
    for th in 1 2; do
        export OPENBLAS_NUM_THREADS="$th" OMP_NUM_THREADS="$th"
        for c in "fashion-small 28x28 (b32)|cfg/fashion-small.cfg -batch 32 $fw $fi_ -methods all" \
                 "ResNet-18 64x64 (b32)|$CFG -size 64 -batch 32 -methods all" \
                 "ResNet-18 224x224 (b8)|$CFG -size 224 -batch 8 -single 0 -reps 1 -methods vanilla,gradxinput,integrated,smoothgrad,gradcam,occlusion" \
                 "ResNet-18 224x224 (b8)|$CFG -size 224 -batch 8 -single 0 -reps 1 -warmup 0 -masks 1000 -iterations 5 -methods rise,igos,igos++"; do
            model=${c%%|*}; args=${c#*|}
            echo "bench: ---- every method: $model, $th thread(s)"
            # shellcheck disable=SC2086
            "$BLASB/bench_methods" $args -threads "$th" 2>/dev/null | grep '^RESULT' > "$TMP/allm" || true
            while IFS= read -r l; do
                m=$(echo "$l" | sed -n 's/^RESULT method=\([^ ]*\) .*/\1/p')
                cpu=$(echo "$l" | sed -n 's/^RESULT [^|]* cpu_s=\([^ ]*\) .*/\1/p')
                ev=$(echo "$l" | sed -n 's/^RESULT [^|]* evals=\([^ ]*\).*/\1/p')
                one=$(echo "$l" | sed -n 's/.*| batch=1 wall_s=[^ ]* cpu_s=\([^ ]*\).*/\1/p')
                sp=$(echo "$l" | sed -n 's/.*speedup_cpu=\([^ ]*\).*/\1/p')
                df=$(echo "$l" | sed -n 's/.*max_rel_diff=\([^ ]*\).*/\1/p')
                what=$(echo "$l" | sed 's/.*| //' | cut -c1-90)
                echo "bench: $m: ${cpu} s/image batched, ${one:-—} one call an image"
                allout="$allout
| $model | $th | $m | $what | $cpu | $ev | ${one:-—} | ${sp:-—} | ${df:-—} |"
            done < "$TMP/allm"
        done
    done
fi

# ---- regularizer throughput (bench/bench_reg.c, the regularizer library's own benchmark) -----
regout=""
if [ -f bench/bench_reg.c ] && [ "$REG" != 0 ]; then
    if make --no-print-directory BUILD="$BLASB" "$BLASB/bench_reg" >/dev/null 2>"$TMP/err"; then
        regout=$("$BLASB/bench_reg" 2>&1 || true)
    else
        regout="(bench_reg did not build: $(tail -n 1 "$TMP/err"))"
    fi
fi

# ---- the report ----------------------------------------------------------------------------
M_CORES="$cores" M_CPU="$cpumodel" M_FLAGS="$flags" M_BLAS="$blasver (core ${blascore:-?})" \
M_TORCH="$torchver" M_LOAD0="$load0" M_LOAD1="$load1" M_DATE="$started" M_STEPS="$STEPS" \
M_WARMUP="$WARMUP" M_REGOUT="$regout" M_LR="$LR" M_METHODS="$methout" M_ALLMETHODS="$allout" M_PROFILE="$profout" \
M_CORETYPE="$coremsg" M_WAIT="$(if [ -n "${OMP_WAIT_POLICY:-}${GOMP_SPINCOUNT:-}" ]; then echo "set for the run: OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-}, darknet and PyTorch alike"; fi)" \
$PY - "$RES" > "$OUT" <<'PYEOF'
import os, sys

rows = {}   # (config, tag) -> dict of RESULT fields, or "TODO"/"FAIL"
order = []
for line in open(sys.argv[1]):
    parts = line.split()
    key, tag = parts[0], parts[1]
    if key not in order:
        order.append(key)
    rows[(key, tag)] = parts[2] if len(parts) == 3 else dict(p.split("=", 1) for p in parts[3:])

def get(k, tag, field="median_s"):
    r = rows.get((k, tag))
    if r is None:
        return None
    if isinstance(r, str):
        return r
    return float(r[field])

def cell(k, tag):
    v = get(k, tag)
    if v is None:
        return "—"
    if isinstance(v, str):
        return "**TODO**" if v == "TODO" else v
    return "%.3f (%.3f)" % (v, get(k, tag, "cpu_s"))

def ratio(k, a, b, field="median_s"):
    x, y = get(k, a, field), get(k, b, field)
    if isinstance(x, str) or isinstance(y, str):
        return "**TODO**" if "TODO" in (x, y) else "—"
    if x is None or y is None:
        return "—"
    return "%.2f" % (x / y)

def ratios(k, a, b):  # wall-time ratio (CPU-time ratio)
    w, c = ratio(k, a, b), ratio(k, a, b, "cpu_s")
    return w if w in ("—", "**TODO**") else "%s (%s)" % (w, c)

def mem(k, tag):
    r = rows.get((k, tag))
    if r is None:
        return "—"
    if isinstance(r, str):
        return "**TODO**" if r == "TODO" else r
    return "%s (%s)" % (r["peak_rss_mb"], r["base_rss_mb"])

def name(k):
    s, b, t = k.split(":")
    return "%s×%s, batch %s, %s thr" % (s, s, b, t)

e = os.environ
out = []
w = out.append
w("# Benchmark: ResNet-18 training step, darknet vs PyTorch")
w("")
w("Written by `make bench` (scripts/bench.sh) on %s. Re-run it to refresh; numbers from a busy" % e["M_DATE"])
w("machine are only comparable within one run.")
w("")
w("**Machine:** %s cores, %s; CPU flags: %s." % (e["M_CORES"], e["M_CPU"], e["M_FLAGS"]))
w("OpenBLAS %s; PyTorch %s (Debian); load average %s at the start, %s at the end."
  % (e["M_BLAS"], e["M_TORCH"], e["M_LOAD0"], e["M_LOAD1"]))
if e.get("M_CORETYPE"):
    w("OpenBLAS's kernel: %s." % e["M_CORETYPE"])
w("")
# busy: the load of other processes, at the start (half the cores or more) or at the end (the bench's own
# runs keep up to one load point per core in the 1-minute average: more than that and half a core)
busy = (float(e["M_LOAD0"].split()[0]) >= 0.5 * int(e["M_CORES"])
        or float(e["M_LOAD1"].split()[0]) >= 1.25 * int(e["M_CORES"]))
if busy:
    w("**Warning: the machine was busy** (other processes kept the load average at or above half")
    w("the core count). Wall times include waiting for the CPU; 2-thread runs suffer most, since a")
    w("thread that loses its core stalls its partner. Compare CPU times, and the 1-thread rows.")
    w("")
w("**Method:** ResNet-18 as in `cfg/resnet18-64.cfg` = torchvision `resnet18(num_classes=10)`")
w("(7×7/2 stem, 3×3/2 max pool, basic blocks [2,2,2,2], 1×1/2 projections, BN, ReLU, global average")
w("pool, fc 10, softmax cross-entropy; 11,181,642 parameters), random input and labels fixed in")
w("memory (no data loading), SGD with momentum 0.9 and weight decay 5e-4 at learning rate %s (0: the" % e["M_LR"])
w("weights stay put, so every step times the same computation; the update still runs). One step = forward,")
w("backward, weight update (darknet: `train_network_datum`). Each cell is the median of %s steps" % e["M_STEPS"])
w("after %s warm-up steps, in seconds of wall time, with the median process CPU time per step in" % e["M_WARMUP"])
w("parentheses (CPU time sums all threads; it is the figure least disturbed by other load). Every")
w("measurement is a separate process; one configuration's rows run back to back. *naive* is")
w("darknet's own gemm loops (built `BLAS=0 OPENMP=1`, so its `omp parallel for` gets the same thread")
w("count); *BLAS* is patch 0011's `cblas_sgemm` (`BLAS=1`) with Debian's OpenMP OpenBLAS and darknet's")
w("own loops (im2col/col2im, batch norm, activations, pooling, shortcut, the update) and the engine's")
w("passes threaded by OpenMP (`OPENMP=1`, patches 0050-0059; issue 14).")
waits = sorted(set(r.get("wait", "?") for r in rows.values() if isinstance(r, dict) and r.get("system") == "darknet"))
if e["M_WAIT"]:
    w("OpenMP's wait policy: %s." % e["M_WAIT"])
else:
    w("OpenMP's wait policy: darknet's binaries chose theirs at start as `darknet` does (patch 0056:")
    w("a short spin, GOMP_SPINCOUNT=1000, when each thread has an idle core, else sleeping); they got: %s." % ", ".join(waits))
    w("PyTorch ran with libgomp's default (spin up to 300000 rounds, then sleep).")
w("")
w("## Plain training step (s/step)")
w("")
w("| configuration | darknet naive | darknet BLAS | PyTorch | BLAS / PyTorch | naive / BLAS |")
w("|---|---|---|---|---|---|")
for k in order:
    w("| %s | %s | %s | %s | %s | %s |" % (name(k), cell(k, "dk-naive"), cell(k, "dk-blas"),
      cell(k, "pt-plain"), ratios(k, "dk-blas", "pt-plain"), ratios(k, "dk-naive", "dk-blas")))
w("")
w("## Regularized step (s/step): onehot formulation, λ = 0.5")
w("")
w("darknet: the double-backprop engine, exact (forward-over-reverse) and finite difference, BLAS build.")
w("PyTorch: `s = Σ_b z_b[y_b]`, `g = autograd.grad(s, x, create_graph=True)`, loss = CE + 0.5·R(g),")
w("backward, SGD step; BN differentiated through its batch statistics.")
w("")
w("| configuration | darknet exact tv | darknet exact ssim | darknet finite tv | darknet finite ssim | PyTorch tv | PyTorch ssim |")
w("|---|---|---|---|---|---|---|")
for k in order:
    w("| %s | %s | %s | %s | %s | %s | %s |" % (name(k), cell(k, "dk-exact-tv"), cell(k, "dk-exact-ssim"),
      cell(k, "dk-finite-tv"), cell(k, "dk-finite-ssim"), cell(k, "pt-dbp-tv"), cell(k, "pt-dbp-ssim")))
w("")
w("## Regularized / plain: wall-time ratio (CPU-time ratio)")
w("")
w("| configuration | darknet exact tv | darknet exact ssim | darknet finite tv | darknet finite ssim | PyTorch tv | PyTorch ssim |")
w("|---|---|---|---|---|---|---|")
for k in order:
    w("| %s | %s | %s | %s | %s | %s | %s |" % (name(k), ratios(k, "dk-exact-tv", "dk-blas"),
      ratios(k, "dk-exact-ssim", "dk-blas"), ratios(k, "dk-finite-tv", "dk-blas"),
      ratios(k, "dk-finite-ssim", "dk-blas"), ratios(k, "pt-dbp-tv", "pt-plain"), ratios(k, "pt-dbp-ssim", "pt-plain")))
w("")
w("## Peak memory (MB): peak RSS of the process (RSS before the model was built)")
w("")
w("| configuration | darknet naive | darknet BLAS | darknet exact tv | darknet finite tv | PyTorch plain | PyTorch tv | PyTorch ssim |")
w("|---|---|---|---|---|---|---|---|")
for k in order:
    w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (name(k), mem(k, "dk-naive"), mem(k, "dk-blas"),
      mem(k, "dk-exact-tv"), mem(k, "dk-finite-tv"), mem(k, "pt-plain"), mem(k, "pt-dbp-tv"), mem(k, "pt-dbp-ssim")))
w("")
w("## Against the targets of issue 5")
w("")
w("Judged on both wall time and CPU time; where they disagree the machine was busy.")
w("")

def verdict(r, limit):
    return "—" if r in ("—", "**TODO**") else ("met" if float(r) <= limit else "**not met**")

for k in order:
    rw, rc = ratio(k, "dk-blas", "pt-plain"), ratio(k, "dk-blas", "pt-plain", "cpu_s")
    ex = ratios(k, "dk-exact-tv", "dk-blas")
    below = "**TODO**" if get(k, "dk-exact-tv") == "TODO" else ratios(k, "dk-exact-tv", "pt-dbp-tv")
    w("- %s: darknet plain step within 1.5× of PyTorch's: wall %s (%s×), CPU %s (%s×);"
      " exact regularized/plain ≤ 2.3: %s; regularized step below PyTorch's double-backprop step: %s."
      % (name(k), verdict(rw, 1.5), rw, verdict(rc, 1.5), rc, ex, below))
w("")
if any(v == "TODO" for v in rows.values()):
    w("**TODO:** some rows were not measured (a driver exited with status 3).")
    w("")
def cfgs():   # (size, batch) pairs with both a 1- and a 2-thread run
    seen = []
    for k in order:
        s_, b_, t_ = k.split(":")
        if (s_, b_) not in seen and "%s:%s:1" % (s_, b_) in order and "%s:%s:2" % (s_, b_) in order:
            seen.append((s_, b_))
    return seen

def speedup(s_, b_, tag, field="median_s"):
    a, b = get("%s:%s:1" % (s_, b_), tag, field), get("%s:%s:2" % (s_, b_), tag, field)
    if not isinstance(a, float) or not isinstance(b, float) or b <= 0:
        return None
    return a / b

def amdahl16(sp):   # the serial share s of 1/(s + (1-s)/2) = sp, and 1/(s + (1-s)/16)
    s = min(1.0, max(0.0, 2.0 / sp - 1.0))
    return s, 1.0 / (s + (1.0 - s) / 16.0)

if cfgs():
    w("## Threads: speed-up from 1 to 2 threads (issue 14)")
    w("")
    w("Wall time on 1 thread / wall time on 2 threads, each from this run (CPU-time ratio: CPU seconds on 2")
    w("threads / on 1, the work the second thread added). Target: >= 1.6 for darknet's plain and")
    w("regularized steps. *serial share* s solves 1/(s + (1-s)/2) = speed-up (Amdahl);")
    w("*16 cores* is then 1/(s + (1-s)/16).")
    w("")
    if busy:
        w("**The machine was busy:** with more runnable jobs than cores a second thread mostly waits for a")
        w("core, so these wall-time speed-ups (and the serial shares and projections computed from them)")
        w("measure the scheduler, not the code; PyTorch's rows show the same. The CPU-time ratio (near 1:")
        w("the second thread adds little work) and the profile below (CPU samples per thread) still hold.")
        w("")
    w("| configuration | step | 1 thr (s) | 2 thr (s) | speed-up | CPU 2/1 | serial share | 16 cores (Amdahl) |")
    w("|---|---|---|---|---|---|---|---|")
    steps = [("dk-blas", "darknet plain"), ("dk-exact-tv", "darknet exact tv"), ("dk-exact-ssim", "darknet exact ssim"),
             ("dk-finite-tv", "darknet finite tv"), ("pt-plain", "PyTorch plain"), ("pt-dbp-tv", "PyTorch dbp tv"),
             ("pt-dbp-ssim", "PyTorch dbp ssim")]
    for s_, b_ in cfgs():
        for tag, label in steps:
            sp = speedup(s_, b_, tag)
            if sp is None:
                continue
            c1, c2 = get("%s:%s:1" % (s_, b_), tag, "cpu_s"), get("%s:%s:2" % (s_, b_), tag, "cpu_s")
            sh, a16 = amdahl16(sp)
            w("| %s×%s, batch %s | %s | %.3f | %.3f | %s%.2f%s | %.2f | %.2f | %.1f× |" % (s_, s_, b_, label,
              get("%s:%s:1" % (s_, b_), tag), get("%s:%s:2" % (s_, b_), tag),
              "" if sp >= 1.6 or tag.startswith("pt") else "**", sp, "" if sp >= 1.6 or tag.startswith("pt") else "**",
              c2 / c1 if c1 else 0, sh, a16))
    w("")
    w("At 2 threads, darknet / PyTorch (wall; CPU in parentheses). Targets: plain <= 1.2, the exact")
    w("regularized step <= 0.8 of PyTorch's double-backprop step.")
    w("")
    w("| configuration | plain / PyTorch plain | exact tv / PyTorch dbp tv | exact ssim / PyTorch dbp ssim |")
    w("|---|---|---|---|")
    for s_, b_ in cfgs():
        k = "%s:%s:2" % (s_, b_)
        w("| %s | %s | %s | %s |" % (name(k), ratios(k, "dk-blas", "pt-plain"), ratios(k, "dk-exact-tv", "pt-dbp-tv"),
          ratios(k, "dk-exact-ssim", "pt-dbp-ssim")))
    w("")
if any(t in ("dk-serial", "dk-serial-exact-tv") for (_, t) in rows):
    w("## One thread: the OPENMP=1 build against the OPENMP=0 build")
    w("")
    w("Wall (CPU) time of the default build / the build without OpenMP, both on 1 thread, same run:")
    w("above 1 the threading costs single-thread speed.")
    w("")
    w("| configuration | plain | exact tv |")
    w("|---|---|---|")
    for k in order:
        if (k, "dk-serial") in rows:
            w("| %s | %s | %s |" % (name(k), ratios(k, "dk-blas", "dk-serial"), ratios(k, "dk-exact-tv", "dk-serial-exact-tv")))
    w("")
if e.get("M_PROFILE"):
    w("## Profile of the 2-thread step (perf, bench/perf_split.py)")
    w("")
    w("CPU samples of twelve steps on 2 threads (OMP_WAIT_POLICY=passive: a waiting thread takes no")
    w("samples; the first step's page faults are in them), split by thread; the main thread's model")
    w("building is dropped. The second thread only")
    w("works in parallel regions, so with M and W the two threads' samples the parallel share is")
    w("p = 2W/(M+W), and Amdahl's speed-up on n cores 1/(1 - p + p/n): a projection from CPU samples,")
    w("which a busy machine does not distort the way it distorts wall time (it assumes balanced")
    w("regions, no memory-bandwidth limit and free synchronisation: the measured speed-up above falls")
    w("short of it by what those cost). `*._omp_fn.*` are OpenMP loops, `sgemm_*` OpenBLAS.")
    w(e["M_PROFILE"])
w("## Raw measurements")
w("")
w("```")
for line in open(sys.argv[1]):
    w(line.rstrip("\n"))
w("```")
if e.get("M_METHODS"):
    w("")
    w("## Saliency methods per image (bench/bench_methods.c against bench/torch_methods.py)")
    w("")
    w("Integrated gradients (K = 32, black baseline, right rule) and SmoothGrad (N = 25 of the vanilla")
    w("gradient) of one image of ResNet-18, process CPU seconds and wall seconds per image (the median")
    w("of the repetitions; wall on 1 / wall on 2 threads is the methods' speed-up from the second")
    w("core); target darknet/PyTorch <= 1.0.")
    w("")
    w(e["M_METHODS"])
if e.get("M_ALLMETHODS"):
    w("")
    w("## Every saliency method per image (bench/bench_methods.c -methods all)")
    w("")
    w("Process CPU seconds per explained image through darknet's batch, and (where measured) with the")
    w("network made for one image, one call an image; the speed-up and the largest difference of the")
    w("two maps relative to the map's largest |value|. The gradient methods differ by the gemm's")
    w("rounding (a few 1e-4 where a pre-activation sits at a ReLU's kink); igos and igos++ can differ")
    w("much more: their line search accepts or rejects steps by margins of that size, so rounding")
    w("changes the path (the same holds for a different thread count), not a bug of the batch.")
    w("")
    w(e["M_ALLMETHODS"])
if e.get("M_REGOUT"):
    w("")
    w("## Regularizer throughput (bench/bench_reg.c)")
    w("")
    w("```")
    w(e["M_REGOUT"])
    w("```")
print("\n".join(out))
PYEOF
echo "bench: wrote $OUT"
sed -n '/^## Plain/,/^## Regularized \//p' "$OUT" | sed '$d'
