#!/usr/bin/env bash
# Issue 16's next GPU run in one device call (DEVELOPERS.md, "Training on a lent GPU"): photo-color alone for
# its whole recipe, then photo-real fine-tuned from it, each to a wall-clock budget.
# Runs on the device machine from the checkout root, with .devdata (cbsd432, cbsd68, polyu) and .whl carried:
#   run(command="bash tools/gpu_photo.sh 300 170", carry=[".devdata", ".whl"], timeout_s=590)
# COLOR_S = 0 skips photo-color (photo-real then starts from REAL_INIT, default the shipped photo-color).
# REAL_CONFIG (default configs/photo-real.yaml, stage 1 of photo-real's recipe) is the config each photo-real
# run trains, e.g. REAL_CONFIG=configs/photo-real-stage4.yaml REAL_INIT=photo-real. REAL_NOISES, noise
# specs separated by ';', trains one photo-real per spec (photo-real-1, photo-real-2, ..., each for REAL_S
# seconds, one after the other) instead of the one of REAL_CONFIG: a recipe comparison at full
# scale (DEVELOPERS.md gives the next run's two), e.g. REAL_NOISES='camera|gaussian:0..50;camera:chroma=1..5|...' ... 0 230.
# REAL_ZOOMS, ';'-separated like REAL_NOISES, gives each of those runs its data.zoom (default: REAL_CONFIG's).
# Each run folder is packed into $OUT/<name>.tar as soon as it ends (a device call returns at most 8 files,
# and only what is under $OUT when it stops), the log into $OUT/log.txt. Then, here:
#   tar -xf <files_at>/photo-color.tar -C runs && tar -xf <files_at>/photo-real.tar -C runs
#   python tools/ship_model.py runs/photo-color photo-color --init photo-gray   (and photo-real --init <its init>)
#   (a whole photo-color run is a one-stage recipe again: remove configs/photo-color-stage2.yaml, the CPU anneal
#   of the cut GPU run, and set configs/photo-color.yaml's out back to runs/photo-color; tests/test_configs.py checks)
# A shipped model's recipe must stay in configs/ as a chain of stages that ends in it (tests/test_configs.py): a
# photo-real trained from REAL_INIT=photo-real (since the twenty-sixth session the mean of stages 4 and 5)
# is a new last stage (configs/photo-real-stage6.yaml, init runs/photo-real-soup.safetensors, out runs/photo-real;
# stage 5's out becomes runs/photo-real-stage5).
#   python bench/real.py --polyu-limit 10 --cbsd68-limit 20   # ship only what improves on docs/benchmarks.md
#   python bench/real_variants.py                              # and the rows of photos with little noise
set -euo pipefail
COLOR_S=${1:-300}   # seconds of training for photo-color (37 epochs alone on an H200: ~350 s); 0 = skip
REAL_S=${2:-170}    # seconds for each photo-real
DEVICE=${DEVICE:-cuda}
DATA=${DATA:-.devdata}
REAL_CONFIG=${REAL_CONFIG:-configs/photo-real.yaml}
read -r -a SETS <<< "${SETS:-}"   # extra train_budget options (a CPU smoke test: "--set data.patches_per_epoch=128 ...")
IFS=';' read -r -a NOISES <<< "${REAL_NOISES:-}"
IFS=';' read -r -a ZOOMS <<< "${REAL_ZOOMS:-}"
: "${OUT:?OUT must name the folder whose files come back}"
python3 -c "import pydantic" 2>/dev/null || python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:src PYTHONUNBUFFERED=1
runs=/tmp/gpu-runs
mkdir -p "$runs"
pack() {  # the best checkpoint and the run's record; not last.* (resume state, 3x the size)
    rm -f "$runs/$1/checkpoints/last."*
    tar -cf "$OUT/$1.tar" -C "$runs" "$1"
}
real() {  # real NAME [train_budget options]: photo-real's recipe from $init, for REAL_S seconds
    local name=$1
    shift
    python3 tools/train_budget.py "$REAL_CONFIG" --budget-s "$REAL_S" --data-dir "$DATA" \
        --out "$runs/$name" --device "$DEVICE" --set "train.init=$init" "$@" "${SETS[@]}"
    pack "$name"
}
{
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    init=${REAL_INIT:-photo-color}
    if [ "$COLOR_S" != 0 ]; then
        python3 tools/train_budget.py configs/photo-color.yaml --budget-s "$COLOR_S" --data-dir "$DATA" \
            --out "$runs/photo-color" --device "$DEVICE" "${SETS[@]}"
        pack photo-color
        init=$runs/photo-color
    fi
    if [ ${#NOISES[@]} = 0 ]; then
        real photo-real
    else
        for k in "${!NOISES[@]}"; do
            zoom=()
            [ -n "${ZOOMS[$k]:-}" ] && zoom=(--set "data.zoom=${ZOOMS[$k]}")
            echo "photo-real-$((k + 1)): noise ${NOISES[$k]} ${zoom[*]}"
            real "photo-real-$((k + 1))" --set "noise=${NOISES[$k]}" "${zoom[@]}"
        done
    fi
} 2>&1 | tee "$OUT/log.txt"
