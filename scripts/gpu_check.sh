#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one call, into one results folder.
#
#   bash scripts/gpu_check.sh [--dry-run] [--out DIR] [--wheelhouse DIR[:DIR…]] [--bundle]
#   bash scripts/gpu_check.sh --assemble DEST [--wheelhouse DIR[:DIR…]]
#
# Run it from the repository root on a machine with a GPU (benchmarks/results/gpu/README.md).
# What it needs and the machine lacks (Ray, Optuna, …) it installs first from a wheelhouse made
# by scripts/gpu_wheelhouse.py: the folders of --wheelhouse (or $TUNER_WHEELHOUSE; default
# those of .whl .whl1 .whl2 … that exist), whose NAME.whl.part-aa, -ab, … are joined back into
# NAME.whl, then `pip install --no-index --no-deps --target /tmp/tuner-site`. The repository
# root is put on PYTHONPATH (the project need not be pip-installed there).
#
# --dry-run prints the install and each step, the command and why, and runs nothing. Without a
# GPU it stops with one line (exit 2): the figures would be CPU figures. Each step has its own
# time limit; with the install the whole fits in 8 minutes. --bundle leaves three files in
# DIR (summary.txt with every step's tables, logs.txt, results.tar.gz with everything) for a
# transfer that takes few files. --assemble DEST only joins the wheelhouse into DEST.
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
BUNDLE=0
ASSEMBLE=""
OUT="benchmarks/results/gpu/$(date +%Y-%m-%d_%H%M)"
WHEELHOUSE="${TUNER_WHEELHOUSE:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --bundle) BUNDLE=1 ;;
    --out) OUT="$2"; shift ;;
    --wheelhouse) WHEELHOUSE="$2"; shift ;;
    --assemble) ASSEMBLE="$2"; shift ;;
    *) echo "gpu_check: unknown argument $1 (use --dry-run, --out DIR, --wheelhouse DIRS," \
            "--bundle, --assemble DEST)" >&2; exit 2 ;;
  esac
  shift
done
PY="${PYTHON:-python3}"  # on the GPU image python3 is the one with CUDA torch
SITE=/tmp/tuner-site
WHEELS=/tmp/tuner-wheels
NEEDS="ray optuna hyperopt mnist1d tensorboardX"  # imported at run time, not all in a GPU image
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [ -z "$WHEELHOUSE" ]; then
  for d in .whl .whl[0-9]; do [ -d "$d" ] && WHEELHOUSE="${WHEELHOUSE:+$WHEELHOUSE:}$d"; done
fi

# Join the wheelhouse folders' wheels and parts into $1 (one NAME.whl per wheel); a wheel
# whose parts do not make a readable zip is named and the function fails.
assemble() {
  local dest="$1" dir f whl
  rm -rf "$dest" && mkdir -p "$dest" || return 1
  IFS=':' read -ra dirs <<< "$WHEELHOUSE"
  for dir in "${dirs[@]}"; do
    for f in "$dir"/*.whl; do [ -e "$f" ] && cp "$f" "$dest/"; done
  done
  # parts of one wheel may lie in several folders: order them by suffix, not by folder
  for whl in $(for dir in "${dirs[@]}"; do ls "$dir" 2>/dev/null; done \
               | sed -n 's/\.part-[a-z]*$//p' | sort -u); do
    for dir in "${dirs[@]}"; do ls "$dir"/"$whl".part-* 2>/dev/null; done \
      | awk -F'.part-' '{print $NF "\t" $0}' | sort | cut -f2- \
      | while read -r f; do cat "$f"; done > "$dest/$whl"
  done
  for whl in "$dest"/*.whl; do
    [ -e "$whl" ] || continue
    "$PY" -m zipfile -t "$whl" > /dev/null 2>&1 \
      || { echo "gpu_check: $(basename "$whl") does not join into a readable wheel (a part missing?)" >&2; return 1; }
  done
  echo "assembled $(ls "$dest" | grep -c '\.whl$') wheels from ${WHEELHOUSE} into $dest"
}

INSTALL="assemble $WHEELS from ${WHEELHOUSE:-(no wheelhouse folder here)}, then $PY -m pip install -q --no-index --no-deps --no-compile --upgrade --target $SITE $WHEELS/*.whl; PYTHONPATH=$SITE:$PWD"

if [ -n "$ASSEMBLE" ]; then
  [ -n "$WHEELHOUSE" ] || { echo "gpu_check: no wheelhouse folder (--wheelhouse DIR[:DIR…])" >&2; exit 2; }
  assemble "$ASSEMBLE"; exit $?
fi

# the data-parallel trial: two workers on half a GPU each, or on a GPU each where there are two
NGPU=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
DP_GPUS=0.5
[ "${NGPU:-0}" -ge 2 ] && DP_GPUS=1

# name | seconds allowed | why | command
STEPS=(
  "environment|20|what ran the figures: GPU model, driver, CUDA, torch, Ray|nvidia-smi; $PY -c 'import torch, ray; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, torch.cuda.get_device_name(0)); print(\"ray\", ray.__version__)'"
  "gpu-tests|100|the tests that skip without a GPU: mixed precision, channels-last, torch.compile, exact resume on CUDA, the packed CNN on CUDA|$PY -m pytest -p no:cacheprovider -m gpu -rs tests/trainables"
  "packing|60|trials per hour of k packed members against k separate trials in one process on one GPU, with peak GPU memory (no Ray)|$PY -m benchmarks.packing --device cuda --ks 8,16,32 --models mlp,cnn --datasets digits --epochs 1 --out $OUT/packing"
  "ray-trials|160|the same 32 HPO trials under Ray one per GPU, four per GPU (fractional) and packed k = 8, 16, 32: trials per hour, the ratios (goals at k >= 8: >= 3x vs one per GPU, >= 1.5x vs fractional), GPU memory per trial|$PY -m benchmarks.gpu_ray --device cuda --trials 32 --epochs 30 --ks 8,16,32 --out $OUT/ray-trials"
  "data-parallel|90|one data-parallel trial under Ray: 2 workers x 0.5 GPU on one GPU (2 GPUs where there are two)|$PY -m benchmarks.data_parallel --device cuda --workers 2 --gpus-per-worker $DP_GPUS --out $OUT/data-parallel"
)
INSTALL_LIMIT=50  # steps 430 s + install 50 s = 8 min

missing_modules() {
  "$PY" - $NEEDS <<'EOF' 2>/dev/null
import importlib.util, sys
print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))
EOF
}

if [ "$DRY" -eq 1 ]; then
  bundled=""
  [ "$BUNDLE" -eq 1 ] && bundled=", then bundle it into summary.txt, logs.txt, results.tar.gz"
  echo "gpu_check --dry-run: would write $OUT/ with one log per step$bundled"
  echo "PYTHONPATH=$PYTHONPATH (the repository root; $SITE goes first after an install)"
  printf '\ninstall (at most %s s): only if one of %s does not import: what the GPU image lacks\n  %s\n' \
    "$INSTALL_LIMIT" "$NEEDS" "$INSTALL"
  missing=$(missing_modules)
  echo "  (here: ${missing:-nothing} missing)"
  for step in "${STEPS[@]}"; do
    IFS='|' read -r name limit why cmd <<< "$step"
    printf '\n%s (at most %s s): %s\n  %s\n' "$name" "$limit" "$why" "$cmd"
  done
  exit 0
fi

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "gpu_check: no CUDA GPU visible to torch here; run it on a GPU machine (--dry-run shows the steps)" >&2
  exit 2
fi

mkdir -p "$OUT"
status=0
missing=$(missing_modules)
if [ -n "$missing" ]; then
  start=$(date +%s)
  if [ -z "$WHEELHOUSE" ]; then
    echo "install: $missing missing and no wheelhouse folder (--wheelhouse); steps that need them fail" | tee -a "$OUT/summary.txt"
  else
    echo "== install: $missing missing; from $WHEELHOUSE"
    ( assemble "$WHEELS" && timeout "$INSTALL_LIMIT" "$PY" -m pip install -q --no-index --no-deps \
        --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl ) > "$OUT/install.log" 2>&1
    rc=$?
    export PYTHONPATH="$SITE:$PYTHONPATH"
    echo "install: exit $rc in $(( $(date +%s) - start )) s, still missing: $(missing_modules)" | tee -a "$OUT/summary.txt"
    [ "$rc" -eq 0 ] || status=1
  fi
fi

for step in "${STEPS[@]}"; do
  IFS='|' read -r name limit why cmd <<< "$step"
  echo "== $name: $why"
  start=$(date +%s)
  timeout "$limit" bash -c "$cmd" > "$OUT/$name.log" 2>&1
  rc=$?
  echo "$name: exit $rc in $(( $(date +%s) - start )) s (log: $OUT/$name.log)" | tee -a "$OUT/summary.txt"
  [ "$rc" -eq 0 ] || status=1
done

if [ "$BUNDLE" -eq 1 ]; then
  # few files for a capped transfer: the tables in summary.txt, the logs in one file
  for f in "$OUT"/*/results.md "$OUT"/*/table.md; do
    [ -e "$f" ] && printf '\n==> %s\n%s\n' "${f#"$OUT"/}" "$(cat "$f")" >> "$OUT/summary.txt"
  done
  for f in "$OUT"/*.log; do printf '\n==> %s\n' "${f#"$OUT"/}"; cat "$f"; done > "$OUT/logs.txt"
  tar -czf "/tmp/gpu-check-results.tar.gz" -C "$OUT" . && mv /tmp/gpu-check-results.tar.gz "$OUT/results.tar.gz"
  for f in "$OUT"/*; do
    case "${f##*/}" in summary.txt|logs.txt|results.tar.gz) ;; *) rm -rf "$f" ;; esac
  done
fi
exit "$status"
