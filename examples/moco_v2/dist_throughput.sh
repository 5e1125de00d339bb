#!/usr/bin/env bash
# Side-by-side throughput of 1 process vs 2 data-parallel processes (Gloo, FileStore) at the
# same total batch, the same total torch threads and loader threads, alternating the two setups REPEATS times
# and printing each setup's median steady-state images/s (all ranks' images / rank 0's clock).
#   usage: dist_throughput.sh BUILD_DIR SCENES [REPEATS=3] [moco|dino]
# e.g.  build/bin/vdiv make-scenes --out /tmp/big --count 480 --width 96 --height 72
#       examples/moco_v2/dist_throughput.sh build /tmp/big 3 moco
set -euo pipefail
build=$1
scenes=$2
repeats=${3:-3}
kind=${4:-moco}
total_batch=32
steps=14
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$kind" = moco ]; then
  bin=$build/bin/vdiv-moco-v2
  args=(--views coco:baseline --width 16 --small-stem --size 32 --queue 1024 --bench-warmup 4)
else
  bin=$build/bin/vdiv-dino
  args=(--views coco:baseline --size 32 --local-size 16 --local-crops 2 --out-dim 1024 --warmup-epochs 1)
fi
common=(--data "$scenes" --epochs 1 --max-steps "$steps" --no-resume)

# DINO prints no throughput line: its epoch line's images/s (first steps included).
rate() {
  if [ "$kind" = moco ]; then sed -n 's/^throughput: \([0-9.]*\) img\/s.*/\1/p' "$1"
  else sed -n 's/^epoch 0 .* \([0-9.]*\) img\/s .*/\1/p' "$1"; fi
}

one=() two=()
for i in $(seq "$repeats"); do
  "$bin" "${common[@]}" "${args[@]}" --out "$work/one" --batch $total_batch --threads 2 --workers 2 > "$work/one.log" 2>&1
  one+=("$(rate "$work/one.log")")
  rm -f "$work/store"
  "$bin" "${common[@]}" "${args[@]}" --out "$work/two" --batch $((total_batch / 2)) --threads 1 --workers 1 \
    --rank 1 --world-size 2 --dist-file "$work/store" > "$work/two1.log" 2>&1 &
  "$bin" "${common[@]}" "${args[@]}" --out "$work/two" --batch $((total_batch / 2)) --threads 1 --workers 1 \
    --rank 0 --world-size 2 --dist-file "$work/store" > "$work/two0.log" 2>&1
  wait
  two+=("$(rate "$work/two0.log")")
  echo "round $i: 1 rank ${one[-1]} img/s, 2 ranks ${two[-1]} img/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m1=$(median "${one[@]}")
m2=$(median "${two[@]}")
echo "$kind, total batch $total_batch, $steps steps: median 1 rank x 2 threads $m1 img/s," \
     "2 ranks x 1 thread $m2 img/s, ratio $(awk -v a="$m2" -v b="$m1" 'BEGIN{printf "%.2f", a/b}')"
