#!/usr/bin/env bash
# ctest driver for `vdiv sample` and `vdiv viz`: output format, --threads independence,
# determinism, and clear errors with non-zero exit codes for bad arguments.
# Usage: cli_sample_test.sh <path to vdiv> <scratch dir>
set -u
VDIV=$1
WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "FAIL: $*" >&2; exit 1; }
run_fails() {  # expected-text args...
  local expected=$1; shift
  if "$VDIV" "$@" >"$WORK/out" 2>"$WORK/err"; then fail "expected non-zero exit: $*"; fi
  grep -qF -- "$expected" "$WORK/err" "$WORK/out" || fail "error for '$*' does not mention '$expected': $(cat "$WORK/err")"
}
image=(--width 640 --height 480 --boxes "10,20,200,300;300,40,600,400;50,350,120,470")
line_re='^\{"index":[0-9]+,"status":"(ok|fallback)","attempts":[1-9][0-9]*,"views":\[\[[0-9]+,[0-9]+,[1-9][0-9]*,[1-9][0-9]*\],\[[0-9]+,[0-9]+,[1-9][0-9]*,[1-9][0-9]*\]\](,"partner":[0-9]+)?\}$'
for dataset in coco imagenet100; do
  for config in baseline zero_overlap instance_vs_background only_background lower_bound \
                smaller_crop larger_crop smaller_crop_zero_overlap zero_overlap/fast \
                only_background/fast; do
    p=$dataset:$config
    "$VDIV" sample --preset "$p" "${image[@]}" --count 100 --seed 7 --epoch 2 --threads 1 >"$WORK/t1" || fail "$p exit"
    "$VDIV" sample --preset "$p" "${image[@]}" --count 100 --seed 7 --epoch 2 --threads 2 >"$WORK/t2" || fail "$p exit"
    "$VDIV" sample --preset "$p" "${image[@]}" --count 100 --seed 7 --epoch 2 --threads 0 >"$WORK/t0" || fail "$p exit"
    cmp -s "$WORK/t1" "$WORK/t2" && cmp -s "$WORK/t1" "$WORK/t0" || fail "$p: output depends on --threads"
    [ "$(wc -l <"$WORK/t1")" -eq 100 ] || fail "$p: expected 100 lines"
    bad=$(grep -Evc "$line_re" "$WORK/t1")
    [ "$bad" -eq 0 ] || fail "$p: $bad malformed lines, e.g. $(grep -Ev "$line_re" "$WORK/t1" | head -1)"
    idx=$(sed -E 's/^\{"index":([0-9]+),.*/\1/' "$WORK/t1" | tr '\n' ' ')
    [ "$idx" = "$(seq -s ' ' 0 99) " ] || fail "$p: indices are not 0..N-1"
    if [ "$config" = lower_bound ]; then grep -q '"partner"' "$WORK/t1" || fail "lower_bound without partner"; fi
  done
done
# seeds: same seed same crops, another seed other crops
a=$("$VDIV" sample --preset coco:zero_overlap "${image[@]}" --count 20 --seed 1)
b=$("$VDIV" sample --preset coco:zero_overlap "${image[@]}" --count 20 --seed 2)
c=$("$VDIV" sample --preset coco:zero_overlap "${image[@]}" --count 20 --seed 1)
[ "$a" = "$c" ] && [ "$a" != "$b" ] || fail "seed handling"
# bad arguments
run_fails "unknown view config" sample --preset coco:nope "${image[@]}"
run_fails "<coco|imagenet100>" sample --preset zero_overlap "${image[@]}"
run_fails "unknown dataset" sample --preset cifar:baseline "${image[@]}"
run_fails "--width" sample --preset coco:baseline --height 480
run_fails "box 2" sample --preset coco:baseline --width 640 --height 480 --boxes "0,0,10,10;600,0,700,50"
run_fails "outside" sample --preset coco:baseline --width 640 --height 480 --boxes "0,0,10,10;600,0,700,50"
run_fails "degenerate" sample --preset coco:baseline --width 640 --height 480 --boxes "50,50,40,60"
run_fails "4 finite numbers" sample --preset coco:baseline --width 640 --height 480 --boxes "1,2,3"
run_fails "4 finite numbers" sample --preset coco:baseline --width 640 --height 480 --boxes "1,2,x,4"
run_fails "--width" sample --preset coco:baseline --width 0 --height 480
run_fails "--count" sample --preset coco:baseline "${image[@]}" --count 0
run_fails "--threads" sample --preset coco:baseline "${image[@]}" --threads -1
run_fails "lower_bound" sample --preset coco:lower_bound "${image[@]}" --count 1
run_fails "the only variant is /fast" sample --preset coco:zero_overlap/slow "${image[@]}"
run_fails "exceeds the constructive sampler's limit" sample --preset coco:zero_overlap/fast "${image[@]}" --max-attempts 40000
# exact and /fast draw different pairs, both valid
[ "$("$VDIV" sample --preset coco:zero_overlap "${image[@]}" --count 5)" != \
  "$("$VDIV" sample --preset coco:zero_overlap/fast "${image[@]}" --count 5)" ] || fail "/fast is the exact sampler"
# viz writes a PNG; bad viz arguments fail clearly
"$VDIV" viz --preset coco:instance_vs_background "${image[@]}" --pairs 3 --seed 1 --out "$WORK/ivb.png" || fail "viz exit"
[ "$(head -c 8 "$WORK/ivb.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "viz did not write a PNG"
run_fails "--image" viz --preset coco:baseline --out "$WORK/x.png"
run_fails "cannot read image" viz --preset coco:baseline --image "$WORK/missing.jpg" --out "$WORK/x.png"
echo "cli_sample: all checks passed"
