#!/usr/bin/env bash
# Side-by-side MoCo-v2 training throughput on the same generated scenes, model, batch, input
# size, threads and loader workers: bench/torch/moco_reference.py (python3-torch/torchvision,
# DataLoader worker processes + PIL) against vdiv-moco-v2 (LibTorch, keyed C++ loader threads).
#
#   bench/torch/run_moco_bench.sh --bin build/bin [--steps 12] [--batch 32] [--size 64]
#                                 [--threads 2] [--workers 2] [--width 64] [--repeats 1]
# Both run ResNet-18 (64 wide, standard stem), MLP head, queue 4096, coco:baseline views.
set -euo pipefail
BIN=""; STEPS=12; BATCH=32; SIZE=64; THREADS=2; WORKERS=2; WIDTH=64; REPEATS=1; WORK=""
PY=${PYTHON:-/usr/bin/python3}
# Both sides under the same OpenMP wait policy (vdiv-moco-v2 would set PASSIVE for itself).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;; --steps) STEPS="$2"; shift 2 ;; --batch) BATCH="$2"; shift 2 ;;
    --size) SIZE="$2"; shift 2 ;; --threads) THREADS="$2"; shift 2 ;; --workers) WORKERS="$2"; shift 2 ;;
    --width) WIDTH="$2"; shift 2 ;; --repeats) REPEATS="$2"; shift 2 ;; --work) WORK="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n "$BIN" ]] || { echo "--bin DIR (with vdiv and vdiv-moco-v2) is required" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-$(mktemp -d)}
COUNT=$(( BATCH * (STEPS + 2) ))   # one epoch covers every step: no checkpoint inside the timing
[[ -f "$WORK/scenes/instances.json" ]] || "$BIN/vdiv" make-scenes --out "$WORK/scenes" --count "$COUNT" \
    --width 160 --height 120 --size-min 24 --size-max 72 >/dev/null
echo "OMP_WAIT_POLICY=$OMP_WAIT_POLICY; scenes: $COUNT images 160x120 in $WORK/scenes; batch $BATCH, size $SIZE, ResNet-18 width $WIDTH, threads $THREADS, workers $WORKERS, $STEPS steps (2 warm-up); load: $(cut -d' ' -f1-3 /proc/loadavg)"
# What both sides run on: LibTorch's and numpy's BLAS (python3-torch uses the same libblas.so.3).
"$BIN/vdiv" doctor | sed -n '1p;/^numpy/p'
for r in $(seq "$REPEATS"); do
  py=$("$PY" "$HERE/moco_reference.py" --data "$WORK/scenes" --size "$SIZE" --batch "$BATCH" --queue 4096 \
        --steps "$STEPS" --warmup 2 --workers "$WORKERS" --threads "$THREADS" | grep '^throughput' | awk '{print $2}')
  out=$("$BIN/vdiv-moco-v2" --data "$WORK/scenes" --views coco:baseline --out "$WORK/cxx" --no-resume \
        --arch resnet18 --width "$WIDTH" --size "$SIZE" --batch "$BATCH" --queue 4096 --epochs 1000 \
        --max-steps "$STEPS" --bench-warmup 2 --workers "$WORKERS" --threads "$THREADS")
  cxx=$(grep '^throughput' <<<"$out" | awk '{print $2}')
  ratio=$("$PY" -c "print(f'{$cxx / $py:.2f}')")
  echo "run $r: python reference $py img/s, vdiv-moco-v2 $cxx img/s, ratio vdiv/python $ratio"
  grep '^flops' <<<"$out" | sed 's/^/  vdiv-moco-v2 /'
done
