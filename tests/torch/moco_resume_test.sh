#!/usr/bin/env bash
# vdiv-moco-v2 resumes only the same run from an intact checkpoint:
#   - a run stopped after epoch 0 (--max-steps) resumes with the same command;
#   - other settings (--views, --lr) are refused, naming each difference;
#   - a checkpoint with 4,000 bytes flipped in the middle is refused as corrupt, exit 1;
#   - restored, it resumes again.
# usage: moco_resume_test.sh TRAINER SCENES WORKDIR
set -euo pipefail
trainer=$1
scenes=$2
work=$3
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.log; do echo "== $f" >&2; cat "$f" >&2; done; exit 1; }
args=(--data "$scenes" --out "$work/run" --width 8 --small-stem --size 32 --batch 8 --queue 32
      --epochs 2 --workers 1 --threads 1)

# 24 scenes in batches of 8: 3 steps per epoch; step 4 stops inside epoch 1, after epoch 0's
# checkpoint.
"$trainer" "${args[@]}" --views coco:zero_overlap --max-steps 4 --no-resume > "$work/first.log" 2>&1 ||
  fail "first run"
[ -s "$work/run/checkpoint.pt" ] || fail "no checkpoint after epoch 0"
cp "$work/run/checkpoint.pt" "$work/good.pt"

if "$trainer" "${args[@]}" --views coco:baseline > "$work/views.log" 2>&1; then fail "--views change accepted"; fi
grep -q -- "--views: checkpoint coco:zero_overlap, now coco:baseline" "$work/views.log" ||
  fail "the --views difference is not named"
if "$trainer" "${args[@]}" --views coco:zero_overlap --lr 0.5 > "$work/lr.log" 2>&1; then fail "--lr change accepted"; fi
grep -q -- "--lr: checkpoint" "$work/lr.log" || fail "the --lr difference is not named"
cmp -s "$work/run/checkpoint.pt" "$work/good.pt" || fail "a refused run changed the checkpoint"

/usr/bin/python3 - "$work/run/checkpoint.pt" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
mid = len(data) // 2 - 2000
for i in range(mid, mid + 4000):
    data[i] ^= 0x5A
open(path, "wb").write(data)
PY
set +e
"$trainer" "${args[@]}" --views coco:zero_overlap > "$work/corrupt.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a corrupt checkpoint gave exit $rc, expected 1"
grep -qE "corrupt|cannot read" "$work/corrupt.log" || fail "the corrupt checkpoint is not named"

cp "$work/good.pt" "$work/run/checkpoint.pt"
"$trainer" "${args[@]}" --views coco:zero_overlap > "$work/resume.log" 2>&1 || fail "resume"
grep -q "resumed from .* at epoch 1" "$work/resume.log" || fail "did not resume at epoch 1"
grep -q "^exported " "$work/resume.log" || fail "did not export"
echo "PASS: same run resumed; other settings and a corrupt checkpoint refused"
