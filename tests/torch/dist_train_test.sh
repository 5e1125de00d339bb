#!/usr/bin/env bash
# Data-parallel training with 2 real processes (Gloo over a FileStore) on tiny generated scenes:
#   - both ranks end with bit-identical state (printed checksum of parameters, buffers, queue /
#     center), the loss is finite, only rank 0 writes the outputs;
#   - the same 2 ranks with --no-sync (sharding only) end with different states, and rank 0's
#     differs from the synced run's, so the equality comes from the sync;
#   - a synced run stopped inside epoch 1 (--max-steps) resumes both ranks from rank 0's
#     epoch-0 checkpoint with the same command and ends identical again.
# usage: dist_train_test.sh moco|dino TRAINER SCENES WORKDIR
set -euo pipefail
kind=$1
trainer=$2
scenes=$3
work=$4
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.log; do echo "== $f" >&2; cat "$f" >&2; done; exit 1; }

case $kind in
  moco) args=(--views coco:zero_overlap --width 8 --small-stem --size 32 --batch 4 --queue 32 --workers 1) ;;
  dino) args=(--views coco:zero_overlap --size 32 --local-size 16 --local-crops 2 --out-dim 256 --batch 4
              --warmup-epochs 1 --workers 1) ;;
  *) echo "unknown kind $kind" >&2; exit 2 ;;
esac

# run NAME EPOCHS [extra args]: starts ranks 0 and 1 and waits for both; logs NAME_0.log, NAME_1.log
run() {
  local name=$1 epochs=$2
  shift 2
  local pids=()
  rm -f "$work/$name.store"
  for r in 0 1; do
    "$trainer" --data "$scenes" --out "$work/$name" --epochs "$epochs" --threads 1 "${args[@]}" \
      --rank $r --world-size 2 --dist-file "$work/$name.store" --dist-timeout 60 "$@" \
      > "$work/${name}_$r.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail "$name: a rank exited with an error"; done
}
checksum() { sed -n 's/^state checksum rank [0-9]*: //p' "$work/$1.log"; }

# 24 scenes, 2 ranks x batch 4: 3 steps per epoch; step 4 stops inside epoch 1.
run sync 2 --no-resume --max-steps 4
a=$(checksum sync_0)
b=$(checksum sync_1)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "synced ranks differ: rank 0 $a, rank 1 $b"
grep -q "gradients averaged over the ranks" "$work/sync_0.log" || fail "rank 0 did not report the sync"
grep -q "^exported " "$work/sync_0.log" || fail "rank 0 did not export"
grep -q "^exported \|^epoch " "$work/sync_1.log" && fail "rank 1 logged or exported"
[ -s "$work/sync/checkpoint.pt" ] && [ -s "$work/sync/backbone.pt" ] || fail "no checkpoint / backbone"
loss=$(sed -n 's/^epoch 0 loss \([^ ]*\) .*/\1/p' "$work/sync_0.log")
awk -v l="$loss" 'BEGIN { exit !(l != "" && l == l + 0 && l > 0 && l < 1e6) }' || fail "loss not finite: '$loss'"

run nosync 2 --no-resume --no-sync --max-steps 4
c=$(checksum nosync_0)
d=$(checksum nosync_1)
[ -n "$c" ] && [ "$c" != "$d" ] || fail "unsynced ranks are identical ($c): the test cannot see the sync"
[ "$c" != "$a" ] || fail "the synced run equals the unsynced one"

run sync 2
grep -q "resumed from .* at epoch 1" "$work/sync_0.log" || fail "rank 0 did not resume"
e=$(checksum sync_0)
f=$(checksum sync_1)
[ -n "$e" ] && [ "$e" = "$f" ] || fail "resumed ranks differ: rank 0 $e, rank 1 $f"
[ "$e" != "$a" ] || fail "the resumed epoch changed nothing"
echo "PASS $kind: synced $a, unsynced $c / $d, resumed $e"
