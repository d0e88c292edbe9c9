#!/usr/bin/env bash
# Builds, here, the two git-ignored folders a device call carries (DEVELOPERS.md, "Training on a lent GPU"), so that
# a session lent a GPU spends its minutes on training, not on set-up:
#   .devdata/  the data sets the training reads (`--data-dir .devdata`): `../shared` does not travel
#   .whl/      the wheels of what daekit needs and the device image lacks (pydantic and its three dependencies),
#              for the device's Python 3.12, in the versions installed here
#
#   bash tools/device_prep.sh [color|gray] [DATA]     # DATA: default $DAEKIT_DATA, else ../shared/data
#
# color (the default; issue 16's runs, tools/gpu_photo.sh): cbsd432 (training), polyu and the first 12 CBSD68 photos
# (scored on the device); gray (tools/train_budget.py on configs/photo-gray*.yaml): bsd400, set12, bsd68. Not both:
# everything carried, with the working tree, must stay under 64 MiB (the script prints the total).
# .devdata is rebuilt from scratch: write anything else it should carry (tools/deepen.py's checkpoint) after this.
# Then: run(command="bash tools/gpu_photo.sh ...", carry=[".devdata", ".whl"], timeout_s=590)
set -euo pipefail
WHAT=${1:-color}
DATA=${2:-${DAEKIT_DATA:-../shared/data}}
PY=${PYTHON:-python3}
SCORED=12  # CBSD68 photos carried for scoring on the device (the whole set does not fit)
[ -f pyproject.toml ] && [ -d src/daekit ] || { echo "device_prep: run it from the checkout's root" >&2; exit 2; }

swap_in() {  # swap_in NEW DEST: the last good DEST is set aside until NEW is in place, so a kill leaves one of them
    rm -rf "$2.old"
    if [ -e "$2" ]; then mv "$2" "$2.old"; fi
    mv "$1" "$2"
    rm -rf "$2.old"
}
for d in .devdata .whl; do  # a kill between swap_in's two renames: the last good copy comes back
    if [ ! -e "$d" ] && [ -e "$d.old" ]; then mv "$d.old" "$d"; fi
done
case "$WHAT" in
    color) SETS=(cbsd432 polyu) ; NEEDED=(cbsd432 polyu cbsd68) ;;
    gray) SETS=(bsd400 set12 bsd68) ; NEEDED=("${SETS[@]}") ;;
    *) echo "device_prep: unknown set '$WHAT' (color or gray)" >&2; exit 2 ;;
esac
[ -d "$DATA" ] || { echo "device_prep: no data folder $DATA (pass it, or set DAEKIT_DATA)" >&2; exit 2; }
for s in "${NEEDED[@]}"; do [ -d "$DATA/$s" ] || { echo "device_prep: $DATA/$s is missing" >&2; exit 2; }; done

rm -rf .devdata.tmp && mkdir -p .devdata.tmp  # built aside, then swapped in: a kill leaves the last good copy
for s in "${SETS[@]}"; do cp -r "$DATA/$s" .devdata.tmp/; done
if [ "$WHAT" = color ]; then
    mkdir -p .devdata.tmp/cbsd68
    find "$DATA/cbsd68" -maxdepth 1 -type f \( -name '*.png' -o -name '*.jpg' \) | sort | head -n "$SCORED" |
        while read -r f; do cp "$f" .devdata.tmp/cbsd68/; done
fi
swap_in .devdata.tmp .devdata

# pydantic and its dependencies, pinned to what is installed here (one version of each: two stop the install)
pins=$("$PY" - <<'EOF'
from importlib.metadata import version
print(" ".join(f"{n}=={version(n)}" for n in ("pydantic", "pydantic-core", "annotated-types", "typing-inspection")))
EOF
)
rm -rf .whl.tmp && mkdir -p .whl.tmp
for pin in $pins; do
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl.tmp "$pin"
done
swap_in .whl.tmp .whl

tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f 1)
carried=$(du -sb .devdata .whl | awk '{s += $1} END {print s}')
total=$(( (tree + carried) / 1048576 ))
echo "device_prep: .devdata ($WHAT: ${SETS[*]}$([ "$WHAT" = color ] && echo " cbsd68/$SCORED")) and .whl ($pins)"
echo "device_prep: working tree + carried = ${total} MiB of 64"
[ "$total" -lt 64 ] || { echo "device_prep: over the 64 MiB a call carries" >&2; exit 1; }
