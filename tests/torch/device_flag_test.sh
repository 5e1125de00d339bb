#!/usr/bin/env bash
# --device / --amp refusals of the trainers and vdiv-eval on a CPU-only LibTorch: each program
# must exit 1 with a message that says why (and nothing must be written to --out):
#   --device cuda           -> "this program was built against a CPU-only LibTorch"
#   --amp fp16 (on the CPU) -> "--amp fp16 needs --device cuda"
# usage: device_flag_test.sh MOCO DINO EVAL SCENES WORKDIR
set -uo pipefail
moco=$1 dino=$2 eval_bin=$3 scenes=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
fails=0
expect() {  # expect NAME EXIT FRAGMENT CMD...
  local name=$1 want=$2 fragment=$3
  shift 3
  "$@" > "$work/$name.log" 2>&1
  local rc=$?
  if [ "$rc" -ne "$want" ] || ! grep -qF -- "$fragment" "$work/$name.log"; then
    echo "FAIL $name: exit $rc (want $want), expected '$fragment' in:"
    sed 's/^/    /' "$work/$name.log" | tail -n 5
    fails=1
  else
    echo "ok   $name: exit $rc, $(grep -m1 -F -- "$fragment" "$work/$name.log" | cut -c1-150)"
  fi
}
tiny=(--data "$scenes" --size 32 --batch 8 --epochs 1 --threads 1 --workers 1 --no-resume)
expect moco_cuda 1 "built against a CPU-only LibTorch" "$moco" "${tiny[@]}" --out "$work/m" --width 8 --small-stem --queue 32 --device cuda
expect dino_cuda 1 "built against a CPU-only LibTorch" "$dino" "${tiny[@]}" --out "$work/d" --out-dim 64 --device cuda
expect eval_cuda 1 "built against a CPU-only LibTorch" "$eval_bin" --encoder "$work/none.pt" --device cuda
expect moco_fp16_cpu 1 "--amp fp16 needs --device cuda" "$moco" "${tiny[@]}" --out "$work/m2" --width 8 --small-stem --queue 32 --amp fp16
expect dino_fp16_cpu 1 "--amp fp16 needs --device cuda" "$dino" "${tiny[@]}" --out "$work/d2" --out-dim 64 --amp fp16
expect eval_fp16_cpu 1 "--amp fp16 needs --device cuda" "$eval_bin" --encoder "$work/none.pt" --amp fp16
expect moco_bad_device 105 "--device" "$moco" "${tiny[@]}" --out "$work/m3" --device tpu
for d in m d m2 d2; do
  if [ -e "$work/$d/checkpoint.pt" ]; then echo "FAIL: a refused run wrote $work/$d/checkpoint.pt"; fails=1; fi
done
[ $fails = 0 ] && echo "PASS: --device cuda and --amp fp16 refused with their reasons on a CPU-only LibTorch"
exit $fails
