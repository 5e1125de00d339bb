#!/usr/bin/env bash
# The estimator on the CPU against its encoder-only floor, same run: `vdiv score` on generated
# 640x480 scenes (grid strategy, ResNet-18 TorchScript encoder at 84 px, --threads T) and then
# bench_encoder_floor, the same patches through the same module in a tight loop on the same
# threads. Goal (issue 18): pairs/s >= 90% of the floor.
#
#   bench/torch/run_estimator_bench.sh --bin build/bin --bench build/bench/torch [--pairs 1000]
#       [--threads 2] [--arch resnet18] [--work DIR]
set -euo pipefail
BIN=""; BENCH=""; PAIRS=1000; THREADS=2; ARCH=resnet18; WORK=""
PY=${PYTHON:-/usr/bin/python3}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;; --bench) BENCH="$2"; shift 2 ;; --pairs) PAIRS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;; --arch) ARCH="$2"; shift 2 ;; --work) WORK="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n "$BIN" && -n "$BENCH" ]] || { echo "--bin DIR (vdiv) and --bench DIR (bench_encoder_floor) are required" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-$(mktemp -d)}
[[ -f "$WORK/scenes/instances.json" ]] || "$BIN/vdiv" make-scenes --out "$WORK/scenes" --count "$PAIRS" --seed 0 >/dev/null
[[ -f "$WORK/enc.pt" ]] || "$PY" "$HERE/../../examples/estimator/make_encoder.py" --arch "$ARCH" --out "$WORK/enc.pt" >/dev/null
echo "$PAIRS pairs of 640x480 scenes, grid strategy, $ARCH at 84 px, $THREADS threads; load: $(cut -d' ' -f1-3 /proc/loadavg)"
score=$("$BIN/vdiv" score --data scenes "$WORK/scenes" --configs baseline --pairs "$PAIRS" --encoder "$WORK/enc.pt" \
          --seed 0 --threads "$THREADS" --fresh --out "$WORK/report.json")
grep -E '^runtime|^pairs scored' <<<"$score"
floor=$("$BENCH/bench_encoder_floor" --encoder "$WORK/enc.pt" --threads "$THREADS" --seconds 20)
grep '^encoder floor' <<<"$floor"
run=$(grep '^pairs scored' <<<"$score" | sed -E 's/.* ([0-9.]+) pairs\/s.*/\1/')
fl=$(grep '^encoder floor' <<<"$floor" | sed -E 's/^encoder floor: ([0-9.]+) pairs\/s.*/\1/')
"$PY" -c "r=$run/$fl; print(f'vdiv score {$run:.2f} pairs/s = {100*r:.1f}% of the encoder-only floor ({$fl:.2f} pairs/s): goal >= 90% ' + ('met' if r >= 0.9 else 'NOT met'))"
