#!/usr/bin/env bash
# `vdiv score --device / --ot-device`: the report names the OT backend that ran; bad values and
# a missing GPU give clear errors. On a machine with a GPU and a CUDA LibTorch, also checks that
# --device cuda runs OT on the GPU and agrees with --ot-device cpu on the same GPU features.
set -euo pipefail
vdiv=$1
work=$2
source_dir=$3
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
py=${VDIV_PYTHON:-/usr/bin/python3}  # needs torch (a GPU machine's pip python: VDIV_PYTHON=python3)

"$vdiv" make-scenes --out "$work/scenes" --count 8 --width 160 --height 120 --seed 4 > /dev/null
# make_encoder.py --arch tiny without its torchvision import (absent on some GPU machines)
"$py" - "$work/tiny.pt" <<'PY'
import sys, torch
torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Conv2d(3, 16, 5, stride=2, padding=2), torch.nn.ReLU(),
    torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(32, 64, 3, stride=2, padding=1), torch.nn.ReLU(),
    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
torch.jit.script(model).save(sys.argv[1])
PY
run() { "$vdiv" score --data scenes "$work/scenes" --configs baseline,lower_bound \
          --encoder "$work/tiny.pt" --pairs 6 --seed 2 --fresh "$@"; }
backend() { "$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['settings']['ot_backend'])" "$1"; }

run --out "$work/cpu.json" > /dev/null 2>&1 || fail "CPU run failed"
[ "$(backend "$work/cpu.json")" = cpu ] || fail "CPU run reports ot_backend $(backend "$work/cpu.json")"

if run --out "$work/x.json" --ot-device gpu > /dev/null 2> "$work/x.err"; then fail "--ot-device gpu accepted"; fi
grep -q "ot-device must be cpu or cuda" "$work/x.err" || fail "bad --ot-device message: $(cat "$work/x.err")"
if run --out "$work/y.json" --ot-device cuda > /dev/null 2> "$work/y.err"; then
  fail "--ot-device cuda accepted with the encoder on the CPU"
fi
grep -q "needs --device cuda" "$work/y.err" || fail "bad --ot-device cuda message: $(cat "$work/y.err")"

if run --out "$work/gpu.json" --device cuda > "$work/gpu.txt" 2> "$work/gpu.err"; then
  # A GPU and a CUDA LibTorch: OT ran on the GPU, as it says, and matches the CPU engine on the
  # same features (OT-only tolerance of test_estimator_cuda_ot).
  [ "$(backend "$work/gpu.json")" = cuda ] || fail "--device cuda reports ot_backend $(backend "$work/gpu.json")"
  run --out "$work/gpu_otcpu.json" --device cuda --ot-device cpu > /dev/null 2>&1 || fail "--ot-device cpu failed"
  [ "$(backend "$work/gpu_otcpu.json")" = cpu ] || fail "--ot-device cpu reports $(backend "$work/gpu_otcpu.json")"
  "$py" - "$work/gpu.json.ckpt.jsonl" "$work/gpu_otcpu.json.ckpt.jsonl" <<'PY' || fail "GPU OT differs from CPU OT"
import json, sys
gpu_vs_cpu_similarity_tol = 5e-5
def pairs(f):
    return {(j["config"], j["index"]): j["similarity"] for j in map(json.loads, open(f)) if "similarity" in j}
a, b = pairs(sys.argv[1]), pairs(sys.argv[2])
assert a.keys() == b.keys() and len(a) == 12, (len(a), len(b))
worst = max(abs(a[k] - b[k]) for k in a)
print("max |S_cuda - S_cpu| =", worst)
sys.exit(0 if worst <= gpu_vs_cpu_similarity_tol else 1)
PY
  echo "score device CLI: GPU checks passed"
else
  # No GPU (or a CPU-only LibTorch): a clear error, never a silent CPU run.
  grep -q "no CUDA device" "$work/gpu.err" || fail "--device cuda without a GPU: $(cat "$work/gpu.err")"
  [ ! -s "$work/gpu.json" ] || fail "--device cuda without a GPU wrote a report"
  echo "score device CLI: no GPU here; --device cuda refused clearly"
fi
echo "score device CLI: all checks passed"
