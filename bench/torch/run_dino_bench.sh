#!/usr/bin/env bash
# Side-by-side DINO training throughput on the same generated scenes, model, batch, views,
# threads and loader workers: bench/torch/dino_reference.py (python3-torch/torchvision,
# DataLoader worker processes + PIL) against vdiv-dino (LibTorch, keyed C++ loader threads).
#
#   bench/torch/run_dino_bench.sh --bin build/bin [--steps 12] [--batch 32] [--size 32]
#       [--local-size 16] [--local-crops 2] [--out-dim 1024] [--threads 2] [--workers 2] [--repeats 1]
# Both run vit_tiny (patch 8, dim 128, depth 4) with the DINO head (hidden 512, bottleneck 128),
# coco:baseline global views. Prints the runtime line of each side first (BLAS, threads), then
# per repeat both throughputs, the ratio and vdiv-dino's achieved model FLOP/s.
set -euo pipefail
BIN=""; STEPS=12; BATCH=32; SIZE=32; LOCAL_SIZE=16; LOCAL_CROPS=2; OUT_DIM=1024; THREADS=2; WORKERS=2
REPEATS=1; WORK=""
PY=${PYTHON:-/usr/bin/python3}
# Both sides under the same OpenMP wait policy (vdiv-dino would set PASSIVE for itself).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;; --steps) STEPS="$2"; shift 2 ;; --batch) BATCH="$2"; shift 2 ;;
    --size) SIZE="$2"; shift 2 ;; --local-size) LOCAL_SIZE="$2"; shift 2 ;;
    --local-crops) LOCAL_CROPS="$2"; shift 2 ;; --out-dim) OUT_DIM="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;; --workers) WORKERS="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;; --work) WORK="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n "$BIN" ]] || { echo "--bin DIR (with vdiv and vdiv-dino) is required" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-$(mktemp -d)}
COUNT=$(( BATCH * (STEPS + 2) ))   # one epoch covers every step: no checkpoint inside the timing
[[ -f "$WORK/scenes/instances.json" ]] || "$BIN/vdiv" make-scenes --out "$WORK/scenes" --count "$COUNT" \
    --width 160 --height 120 --size-min 24 --size-max 72 >/dev/null
echo "OMP_WAIT_POLICY=$OMP_WAIT_POLICY; scenes: $COUNT images 160x120 in $WORK/scenes; vit_tiny, batch $BATCH, size $SIZE, $LOCAL_CROPS local crops of $LOCAL_SIZE, out-dim $OUT_DIM, threads $THREADS, workers $WORKERS, $STEPS steps (2 warm-up); load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN/vdiv" doctor | sed -n '1p;/^numpy/p'
for r in $(seq "$REPEATS"); do
  py=$("$PY" "$HERE/dino_reference.py" --data "$WORK/scenes" --size "$SIZE" --local-size "$LOCAL_SIZE" \
        --local-crops "$LOCAL_CROPS" --out-dim "$OUT_DIM" --batch "$BATCH" --steps "$STEPS" --warmup 2 \
        --workers "$WORKERS" --threads "$THREADS" | grep '^throughput' | awk '{print $2}')
  out=$("$BIN/vdiv-dino" --data "$WORK/scenes" --views coco:baseline --out "$WORK/cxx" --no-resume \
        --arch vit_tiny --size "$SIZE" --local-size "$LOCAL_SIZE" --local-crops "$LOCAL_CROPS" \
        --out-dim "$OUT_DIM" --batch "$BATCH" --epochs 1000 --max-steps "$STEPS" --bench-warmup 2 \
        --workers "$WORKERS" --threads "$THREADS")
  cxx=$(grep '^throughput' <<<"$out" | awk '{print $2}')
  ratio=$("$PY" -c "print(f'{$cxx / $py:.2f}')")
  echo "run $r: python reference $py img/s, vdiv-dino $cxx img/s, ratio vdiv/python $ratio"
  grep '^flops' <<<"$out" | sed 's/^/  vdiv-dino /'
done
