#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one call, into one results folder.
#
#   bash scripts/gpu_check.sh [--dry-run] [--out DIR]
#
# Run it from the repository root on a machine with a GPU (benchmarks/results/gpu/README.md
# says how to bring Ray and a CUDA build of torch there). --dry-run prints each step, the
# command and why, and runs nothing. Without a GPU it stops with one line (exit 2): the
# figures would be CPU figures. Each step has its own time limit so the whole fits in 8 min.
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
OUT="benchmarks/results/gpu/$(date +%Y-%m-%d_%H%M)"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --out) OUT="$2"; shift ;;
    *) echo "gpu_check: unknown argument $1 (use --dry-run, --out DIR)" >&2; exit 2 ;;
  esac
  shift
done
PY="${PYTHON:-python}"

# name | seconds allowed | why | command
STEPS=(
  "environment|30|what ran the figures: GPU model, driver, CUDA, torch, Ray|nvidia-smi; $PY -c 'import torch, ray; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, torch.cuda.get_device_name(0)); print(\"ray\", ray.__version__)'"
  "gpu-tests|240|the tests that skip without a GPU: mixed precision, channels-last, torch.compile, exact resume on CUDA, the packed CNN on CUDA|$PY -m pytest -p no:cacheprovider -m gpu -rs tests/trainables"
  "packing|180|trials per hour of k packed members against k separate trials on one GPU, with peak GPU memory|$PY -m benchmarks.packing --device cuda --ks 1,8,16,32 --models mlp,cnn --datasets digits --epochs 1 --out $OUT/packing"
)
# Not here yet (issue 22): GPU trials under Ray (one and four per GPU), a data-parallel
# trial, packing against fractional GPUs under Ray.

if [ "$DRY" -eq 1 ]; then
  echo "gpu_check --dry-run: would write $OUT/ with one log per step"
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
for step in "${STEPS[@]}"; do
  IFS='|' read -r name limit why cmd <<< "$step"
  echo "== $name: $why"
  start=$(date +%s)
  timeout "$limit" bash -c "$cmd" > "$OUT/$name.log" 2>&1
  rc=$?
  echo "$name: exit $rc in $(( $(date +%s) - start )) s (log: $OUT/$name.log)" | tee -a "$OUT/summary.txt"
  [ "$rc" -eq 0 ] || status=1
done
exit "$status"
