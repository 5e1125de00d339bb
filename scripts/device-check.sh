#!/usr/bin/env bash
# The GPU check of vdiv: ONE command for a bare GPU machine (nvcc, CMake and a pip PyTorch; no
# Debian packages, no network), run from the repository root with the deps packed by
# scripts/pack-device-deps.sh (.device-deps/, carried along). It configures and builds every
# CUDA target in one `cmake --build -j16` under /tmp, then runs, most valuable first and each
# under its own timeout within a total time budget:
#   1. the fused OT kernel vs the CPU engine (test_ot_cuda_similarity)
#   2. bench_ot_cuda at B = 65536, N = 13, D = 2048: uniform (prefetch sweep), then
#      cross_reference + sinkhorn_log
#   3. compute-sanitizer racecheck, synccheck, memcheck, initcheck on the kernel's small shapes
#   4. the other gpu-labelled tests (CUDA sampler, estimator with CUDA OT)
#   5. PyTorch's batched Sinkhorn on the same problem (the >= 3x goal)
#   6. `vdiv score`: the cli_score_device test, then CPU / GPU encoder + CPU OT / all GPU
#   7. the trainers on the GPU (tiny scenes): MoCo-v2 and DINO with --device cuda (images/s,
#      GPU utilisation sampled by nvidia-smi), the loss of their first 5 steps against the same
#      runs with --device cpu (relative difference <= 2e-2: TF32 convolutions and matmuls on the
#      GPU), MoCo-v2 --amp fp16 and DINO --amp bf16, and a 2-process NCCL MoCo-v2 run (torchrun's
#      environment variables) when two GPUs exist
# A skipped GPU test is a FAILURE here (VDIV_REQUIRE_GPU=1 makes the test binaries fail without
# a device and print why), as is any step that could not run. Everything is written under the
# work folder; $OUT (default ./device-check-out) receives exactly two files: summary.txt (one
# line per step, with the figures) and logs.tar.gz (every log, < 16 MiB). The summary is printed
# last. Exit status 1 if any step failed.
#
#   scripts/device-check.sh [--deps DIR] [--work DIR] [--jobs N] [--budget SECONDS] [--no-torch]
#                           [--build-limit SECONDS] [--build-only] [--hide-system]
#
#   --budget S     total seconds for the whole script (default 540: the run tool allows 600 a
#                  command); a step that would start past it is recorded FAIL (no time left)
#   --build-limit S  seconds for the build step (default 330; raise it on a slow machine)
#   --no-torch     do not look for LibTorch (no vdiv tool with `score`, no steps 6 and 7)
#   --build-only   configure and build, then stop (to check a build against .device-deps here)
#   --hide-system  only .device-deps (and LibTorch) visible to CMake's find_package/find_library
# Environment: TORCH_PREFIX (LibTorch's CMake prefix; default from python3's torch), PYTHON
# (default python3), CUDA_ARCH (default 90).
set -uo pipefail

root=$(pwd)
[ -f "$root/include/vdiv/vdiv.hpp" ] || { echo "run from the vdiv repository root" >&2; exit 2; }
start=$(date +%s)
deps=$root/.device-deps
work=/tmp/vdiv-device-check
jobs=16
budget=540
build_limit=330
use_torch=1 build_only=0 hide=0
python=${PYTHON:-python3}
while [ $# -gt 0 ]; do
  case $1 in
    --deps) deps=$(cd "$2" && pwd); shift 2 ;;
    --work) work=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --build-limit) build_limit=$2; shift 2 ;;
    --no-torch) use_torch=0; shift ;;
    --build-only) build_only=1; shift ;;
    --hide-system) hide=1; shift ;;
    -h|--help) sed -n 2,31p "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
out=${OUT:-$root/device-check-out}
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
rm -rf "$work" && mkdir -p "$work/logs" || exit 2
build=$work/build
logs=$work/logs
summary=$work/summary.txt
: > "$summary"
failed=0
export VDIV_REQUIRE_GPU=1  # a GPU test that finds no device fails (and says why)
export PYTHONUNBUFFERED=1
export LD_LIBRARY_PATH="$deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

left() { echo $(( budget - ($(date +%s) - start) )); }
record() {  # record STATUS STEP [DETAIL]
  printf '%-4s %-34s %s\n' "$1" "$2" "${3:-}" >> "$summary"
  printf '%-4s %-34s %s\n' "$1" "$2" "${3:-}"
  [ "$1" = FAIL ] && failed=1
  return 0
}
# Why a log failed: the lines that say so (doctest, ctest, CUDA errors), else its last line.
reason() {
  local r
  r=$(grep -E "no usable CUDA|ERROR|error:|FAILED|Failed|Not Run|Skipped|WRONG|out of memory|not found|No such" "$1" 2>/dev/null |
      sed -E 's/^[0-9]+: //' | awk '!seen[$0]++' | head -n 2 | cut -c1-160 | tr '\n' ' ')
  [ -n "$r" ] || r=$(tail -n 1 "$1" 2>/dev/null | cut -c1-160)
  echo "$r"
}
# step NAME LIMIT LOG CMD...: CMD under `timeout` (at most LIMIT seconds, less when the budget is
# nearly spent), output to LOG; PASS on exit 0, else FAIL with the reason. Returns CMD's status.
step() {
  local name=$1 limit=$2 log=$3
  shift 3
  local remain
  remain=$(( $(left) - 20 ))  # 20 s kept for packing the results
  if [ "$remain" -lt 10 ]; then
    record FAIL "$name" "not run: the ${budget} s budget is spent"
    return 124
  fi
  [ "$limit" -gt "$remain" ] && limit=$remain
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$log" 2>&1
  local rc=$?
  local took=$(( SECONDS - t0 ))
  if [ $rc -eq 0 ]; then
    record PASS "$name" "(${took} s)"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    record FAIL "$name" "timed out after ${limit} s: $(reason "$log")"
  else
    record FAIL "$name" "exit $rc (${took} s): $(reason "$log")"
  fi
  return $rc
}
# ctest_step NAME LIMIT LOG ARGS...: ctest with a per-test timeout; a skipped test, a test that
# did not run, or no test at all is a failure.
ctest_step() {
  local name=$1 limit=$2 log=$3
  shift 3
  step "$name" "$limit" "$log" ctest --test-dir "$build" --output-on-failure --timeout "$limit" "$@"
  local rc=$?
  if [ $rc -eq 0 ]; then
    if grep -qE "\*\*\*Skipped|Not Run|Disabled" "$log"; then
      sed -i '$d' "$summary"
      record FAIL "$name" "a test was skipped or did not run: $(reason "$log")"
      return 1
    fi
    if grep -q "No tests were found" "$log"; then
      sed -i '$d' "$summary"
      record FAIL "$name" "no test ran"
      return 1
    fi
  fi
  return $rc
}
finish() {
  # One summary and one archive come back; the summary is printed last.
  cp "$summary" "$logs/summary.txt"
  tar -czf "$out/logs.tar.gz" -C "$work" logs 2> /dev/null
  if [ "$(stat -c %s "$out/logs.tar.gz" 2> /dev/null || echo 0)" -gt $((15 * 1024 * 1024)) ]; then
    find "$logs" -type f -size +1M -exec sh -c 'tail -c 1000000 "$1" > "$1.tail" && mv "$1.tail" "$1"' _ {} \;
    tar -czf "$out/logs.tar.gz" -C "$work" logs
  fi
  cp "$summary" "$out/summary.txt"
  echo
  echo "=== vdiv device check: $(date -u +%FT%TZ), $(( $(date +%s) - start )) s; $out/summary.txt, $out/logs.tar.gz ==="
  cat "$summary"
  exit $failed
}

# --- environment ------------------------------------------------------------------------------
{
  echo "date: $(date -u +%FT%TZ)  host: $(hostname)  git: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (modified)')"
  command -v nvidia-smi > /dev/null && nvidia-smi
  command -v nvcc > /dev/null && nvcc --version | tail -2
  cmake --version | head -1
  command -v ninja > /dev/null && echo "ninja $(ninja --version)"
  "$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())" 2>&1
  [ -f "$deps/MANIFEST.txt" ] && cat "$deps/MANIFEST.txt"
} > "$logs/env.txt" 2>&1
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader 2>/dev/null | head -1)
record INFO "machine" "${gpu:-no nvidia-smi}; git $(git rev-parse --short HEAD 2>/dev/null)"
[ -d "$deps/lib/cmake" ] || record FAIL deps "no $deps (run scripts/pack-device-deps.sh where the Debian packages are, and carry .device-deps)"

# --- configure and build ------------------------------------------------------------------------
torch_prefix=
if [ $use_torch = 1 ]; then
  torch_prefix=${TORCH_PREFIX:-$("$python" -c "import torch; print(torch.utils.cmake_prefix_path)" 2>/dev/null)}
  [ -n "$torch_prefix" ] || record FAIL torch "no LibTorch (python3 has no torch; set TORCH_PREFIX or use --no-torch)"
fi
cmake_args=(-S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$deps${torch_prefix:+;$torch_prefix}"
            "-DVDIV_CUDA_ARCHITECTURES=${CUDA_ARCH:-90}" -DVDIV_CUDA=ON -DVDIV_PYTHON=OFF)
keep_going=(-k)
if command -v ninja > /dev/null; then
  cmake_args+=(-G Ninja)
  keep_going=(-k 0)
elif ! command -v make > /dev/null; then
  record FAIL configure "neither ninja nor make on PATH"
  finish
fi
if [ $hide = 1 ]; then
  cmake_args+=(-DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
               -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF "-DCMAKE_IGNORE_PREFIX_PATH=/usr;/usr/local;/")
fi
have_torch=0
if [ -n "$torch_prefix" ] && step "configure (LibTorch)" 150 "$logs/configure.log" cmake "${cmake_args[@]}" -DVDIV_TORCH=ON; then
  have_torch=1
else
  rm -rf "$build"
  step "configure (no LibTorch)" 90 "$logs/configure.log" cmake "${cmake_args[@]}" -DVDIV_TORCH=OFF || finish
fi
grep -E "^-- (vdiv|OpenCV)" "$logs/configure.log" > "$logs/configure-summary.txt"
# Every CUDA target (the gpu-labelled tests, the benchmark, the vdiv tool with its CUDA commands)
# and the CPU emulation test, in one parallel build that keeps going past a failing target.
gpu_tests=$(ctest --test-dir "$build" -L gpu -N 2>/dev/null | awk '/Test +#/ {print $3}')
trainer_targets=
[ $have_torch = 1 ] && trainer_targets="vdiv_moco_v2 vdiv_dino vdiv_eval"
read -r -d "" -a targets <<< "$gpu_tests test_ot_cuda_kernel_math bench_ot_cuda vdiv_cli $trainer_targets"
step "build (${#targets[@]} targets, -j$jobs)" "$build_limit" "$logs/build.log" \
  cmake --build "$build" -j "$jobs" --target "${targets[@]}" -- "${keep_going[@]}"
vdiv=$build/bin/vdiv
for t in "${targets[@]}"; do
  case $t in
    vdiv_cli) built=$vdiv ;;
    vdiv_moco_v2|vdiv_dino|vdiv_eval) built=$build/bin/$(echo "${t#vdiv_}" | sed 's/^/vdiv-/; s/_/-/') ;;
    *) built=$(find "$build" -name "$t" -type f -perm -u+x 2>/dev/null | head -1) ;;
  esac
  [ -x "${built:-/nonexistent}" ] ||
    record FAIL "build $t" "not built: $(grep -m 2 -E "error" "$logs/build.log" | cut -c1-140 | tr '\n' ' ')"
done
[ $build_only = 1 ] && finish

# --- 1. the OT kernel against the CPU engine --------------------------------------------------
ctest_step "test_ot_cuda_similarity" 150 "$logs/ctest-ot.log" -R '^test_ot_cuda_similarity$' -V
msg=$(grep -m 1 -o "largest |dS|: GPU vs CPU engine.*" "$logs/ctest-ot.log")
[ -n "$msg" ] && record INFO "OT kernel accuracy" "$msg"

# --- 2. the roofline benchmark ----------------------------------------------------------------
bench=$build/bench/ot/bench_ot_cuda
shape=(--batch 65536 --rows 13 --dim 2048)
step "bench_ot_cuda uniform" 120 "$logs/bench_ot_cuda.txt" "$bench" "${shape[@]}" --reps 20 --prefetch 0,2,4,8,16
grep -E "^(device|B=|prefetch)" "$logs/bench_ot_cuda.txt" | sed 's/^/     /' >> "$summary"
res=$(grep -m 1 "^RESULT" "$logs/bench_ot_cuda.txt")
[ -n "$res" ] && record INFO "bench uniform" "${res#RESULT }"
step "bench_ot_cuda xref+log" 90 "$logs/bench_ot_cuda_xref_log.txt" "$bench" "${shape[@]}" --reps 10 --prefetch 4 \
  --weights cross_reference --solver sinkhorn_log
res=$(grep -m 1 "^RESULT" "$logs/bench_ot_cuda_xref_log.txt")
[ -n "$res" ] && record INFO "bench xref+log" "${res#RESULT }"

# --- 3. compute-sanitizer on the kernel's small shapes -----------------------------------------
sanitizer=$(command -v compute-sanitizer ||
            find /usr/local/cuda*/bin /opt/nvidia -name compute-sanitizer -type f 2>/dev/null | head -1)
ot_test=$(find "$build" -name test_ot_cuda_similarity -type f | head -1)
for tool in racecheck synccheck memcheck initcheck; do
  if [ -z "$sanitizer" ]; then
    record FAIL "compute-sanitizer $tool" "compute-sanitizer not found"
    continue
  fi
  step "compute-sanitizer $tool" 120 "$logs/sanitizer-$tool.log" "$sanitizer" --tool "$tool" --error-exitcode 3 \
    "$ot_test" -tc="sanitizer shapes*"
  s=$(grep -m 1 -o "ERROR SUMMARY.*" "$logs/sanitizer-$tool.log")
  [ -n "$s" ] && record INFO "  $tool" "$s"
done

# --- 4. the other GPU tests ---------------------------------------------------------------------
ctest_step "ctest -L gpu (others)" 180 "$logs/ctest-gpu.log" -L gpu -E '^test_ot_cuda_similarity$'
ctest_step "test_ot_cuda_kernel_math (CPU)" 60 "$logs/ctest-kernel-math.log" -R '^test_ot_cuda_kernel_math$'

# --- 5. PyTorch's batched Sinkhorn, same problem ----------------------------------------------
if step "torch_sinkhorn.py cuda" 120 "$logs/torch_sinkhorn.txt" "$python" "$root/bench/ot/torch_sinkhorn.py" \
     --device cuda "${shape[@]}" --reps 10; then
  torch_ms=$(sed -n 's/.*median \([0-9.]*\) ms.*/\1/p' "$logs/torch_sinkhorn.txt" | head -1)
  vdiv_ms=$(sed -n 's/^RESULT.*median \([0-9.]*\) ms.*/\1/p' "$logs/bench_ot_cuda.txt" | head -1)
  if [ -n "$torch_ms" ] && [ -n "$vdiv_ms" ]; then
    record INFO "vdiv vs PyTorch" "$(awk -v t="$torch_ms" -v v="$vdiv_ms" 'BEGIN {
      printf "PyTorch %.3f ms, vdiv %.3f ms: %.2fx (goal >= 3x: %s)", t, v, t / v, (t / v >= 3 ? "MET" : "NOT MET") }')"
  fi
fi

# --- 6. vdiv score on the GPU -----------------------------------------------------------------
if [ $have_torch = 0 ]; then
  record FAIL "vdiv score --device cuda" "not run: no LibTorch build"
elif [ ! -x "$vdiv" ]; then
  record FAIL "vdiv score --device cuda" "not run: the vdiv tool did not build"
else
  export VDIV_PYTHON=$python
  ctest_step "ctest cli_score_device" 150 "$logs/ctest-cli-score-device.log" -R '^cli_score_device$'
  sw=$work/score
  mkdir -p "$sw"
  step "make-scenes" 60 "$logs/score-make-scenes.log" "$vdiv" make-scenes --out "$sw/scenes" --count 64 --seed 1
  step "encoder (ResNet-50 TorchScript)" 90 "$logs/score-encoder.log" "$python" - "$sw/encoder.pt" <<'PY'
import sys, torch
torch.manual_seed(0)
try:  # a ResNet-50 trunk (D = 2048, as in the paper) when torchvision is there
    import torchvision
    model = torchvision.models.resnet50(weights=None)
    model.fc = torch.nn.Identity()
except ImportError:
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 64, 5, stride=2, padding=2), torch.nn.ReLU(),
        torch.nn.Conv2d(64, 256, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(256, 2048, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
model.eval()
torch.jit.script(model).save(sys.argv[1])
print("wrote", sys.argv[1])
PY
  # shellcheck disable=SC2054  # (commas inside one argument)
  common=(score --data scenes "$sw/scenes" --configs baseline,zero_overlap,lower_bound
          --encoder "$sw/encoder.pt" --pairs 16 --seed 3 --chunk 16 --threads 16 --fresh)
  step "score --device cuda" 120 "$logs/score-cuda.log" "$vdiv" "${common[@]}" --device cuda --out "$sw/cuda.json"
  step "score cuda, OT on cpu" 120 "$logs/score-cuda-otcpu.log" "$vdiv" "${common[@]}" --device cuda --ot-device cpu \
    --out "$sw/cuda_otcpu.json"
  step "score --device cpu" 150 "$logs/score-cpu.log" "$vdiv" "${common[@]}" --device cpu --out "$sw/cpu.json"
  if [ -f "$sw/cuda.json" ] && [ -f "$sw/cuda_otcpu.json" ]; then
    step "score OT cuda vs cpu" 30 "$logs/score-compare.txt" "$python" - "$sw/cuda_otcpu.json" "$sw/cuda.json" "$sw/cpu.json" <<'PY'
import json, os, sys
def pairs(report):
    out = {}
    for line in open(report + ".ckpt.jsonl"):
        j = json.loads(line)
        if "similarity" in j:
            out[(j["config"], j["index"])] = j["similarity"]
    return out
# Same GPU features, OT on the CPU engine vs the CUDA backend: the OT-only bound of
# test_estimator_cuda_ot and tests/ot/fused_cases.hpp.
gpu_vs_cpu_similarity_tol = 5e-5
ref, gpu = pairs(sys.argv[1]), pairs(sys.argv[2])
settings = [json.load(open(f))["settings"]["ot_backend"] for f in sys.argv[1:3]]
diff = max(abs(ref[k] - gpu[k]) for k in ref)
ok = settings == ["cpu", "cuda"] and ref.keys() == gpu.keys() and diff <= gpu_vs_cpu_similarity_tol
print(f"ot_backend {settings}, {len(ref)} pairs, OT cuda vs cpu on the same features: "
      f"max |dS| = {diff:.3g} (tol {gpu_vs_cpu_similarity_tol})")
if os.path.exists(sys.argv[3]):  # GPU encoder (cuDNN, TF32 allowed) vs CPU: information only
    cpu = pairs(sys.argv[3])
    both = [k for k in cpu if k in gpu]
    if both:
        print(f"whole pipeline --device cuda vs --device cpu: max |dS| = "
              f"{max(abs(cpu[k] - gpu[k]) for k in both):.3g} (information only)")
for f in sys.argv[1:]:
    if os.path.exists(f):
        r = json.load(open(f))
        print(os.path.basename(f), "%.1f s" % r["time_seconds"], [(c["config"], round(c["mean"], 5)) for c in r["configs"]])
sys.exit(0 if ok else 1)
PY
    [ -f "$logs/score-compare.txt" ] && record INFO "score" "$(head -2 "$logs/score-compare.txt" | tr '\n' ' ')"
  fi
fi

# --- 7. the trainers on the GPU -----------------------------------------------------------------
# Same tiny run on the GPU and on the CPU: the same initial weights (built on the CPU from the
# seed), the same batches (CPU loader), so the first steps' losses differ by arithmetic only
# (TF32 allowed on the GPU, cuDNN's algorithms): relative tolerance trainer_loss_tol.
trainer_loss_tol=2e-2
moco=$build/bin/vdiv-moco-v2
dino=$build/bin/vdiv-dino
# util_start LOG / util_stop: nvidia-smi samples GPU utilisation (%) every 200 ms meanwhile.
util_start() { nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader,nounits -lms 200 > "$1" 2>/dev/null & util_pid=$!; }
util_stop() { kill "$util_pid" 2>/dev/null; wait "$util_pid" 2>/dev/null; }
util_mean() { awk -F', *' '$1 == 0 {s += $2; n++; if ($3 > m) m = $3} END {if (n) printf "GPU 0 utilisation mean %.0f%% over %d samples, max memory %d MiB", s / n, n, m; else printf "no nvidia-smi samples"}' "$1"; }
# The "step i loss x" lines of the GPU log (1st file) and the CPU log (2nd) within the tolerance.
compare_losses_awk='
  FNR == 1 { f++ }
  /^step [0-9]+ loss / { v[f, $2] = $4; if (f == 1) steps[$2] = 1 }
  END {
    n = 0; worst = 0; ok = 1
    for (s in steps) {
      if (!((2, s) in v)) { ok = 0; continue }
      g = v[1, s]; c = v[2, s]; d = g - c; if (d < 0) d = -d; r = d / (c < 0 ? -c : c)
      if (r > worst) worst = r
      if (r > tol) ok = 0
      n++
    }
    printf "%d steps, max relative |loss gpu - loss cpu| = %.3g (tol %s)\n", n, worst, tol
    exit (ok && n > 0) ? 0 : 1
  }'
if [ $have_torch = 0 ]; then
  record FAIL "trainers --device cuda" "not run: no LibTorch build"
elif [ ! -x "$moco" ] || [ ! -x "$dino" ] || [ ! -x "$vdiv" ]; then
  record FAIL "trainers --device cuda" "not run: a trainer or the vdiv tool did not build"
else
  tw=$work/trainers
  mkdir -p "$tw"
  step "trainers: make-scenes" 60 "$logs/trainers-scenes.log" "$vdiv" make-scenes --out "$tw/scenes" --count 512 \
    --width 160 --height 120 --seed 5
  moco_args=(--data "$tw/scenes" --views coco:zero_overlap --arch resnet18 --width 64 --size 64 --batch 64
             --queue 4096 --epochs 4 --workers 12 --threads 4 --seed 11 --no-resume --log-steps 5)
  dino_args=(--data "$tw/scenes" --views coco:zero_overlap --arch vit_tiny --size 64 --local-size 32
             --local-crops 2 --out-dim 4096 --batch 64 --epochs 4 --workers 12 --threads 4 --seed 11 --no-resume
             --log-steps 5)
  for t in moco dino; do
    if [ $t = moco ]; then bin=$moco; args=("${moco_args[@]}"); else bin=$dino; args=("${dino_args[@]}"); fi
    util_start "$logs/trainers-$t-util.csv"
    step "$t --device cuda (24 steps)" 90 "$logs/trainers-$t-cuda.log" "$bin" "${args[@]}" --out "$tw/$t-cuda" \
      --device cuda --max-steps 24
    util_stop
    record INFO "  $t cuda" "$(grep -m 1 -o '^throughput: .*' "$logs/trainers-$t-cuda.log"); $(util_mean "$logs/trainers-$t-util.csv")"
    step "$t --device cpu (5 steps, reference)" 90 "$logs/trainers-$t-cpu.log" "$bin" "${args[@]}" --out "$tw/$t-cpu" \
      --device cpu --max-steps 5 --threads 16
    if [ -f "$logs/trainers-$t-cuda.log" ] && [ -f "$logs/trainers-$t-cpu.log" ]; then
      step "$t loss gpu vs cpu" 10 "$logs/trainers-$t-compare.txt" awk -v tol="$trainer_loss_tol" "$compare_losses_awk" \
        "$logs/trainers-$t-cuda.log" "$logs/trainers-$t-cpu.log"
      record INFO "  $t gpu vs cpu" "$(head -1 "$logs/trainers-$t-compare.txt")"
    fi
  done
  step "moco --amp fp16 (12 steps)" 60 "$logs/trainers-moco-fp16.log" "$moco" "${moco_args[@]}" --out "$tw/moco-fp16" \
    --device cuda --amp fp16 --max-steps 12
  record INFO "  moco fp16" "$(grep -E -m 1 -o '^(throughput|amp fp16): .*' "$logs/trainers-moco-fp16.log")"
  step "dino --amp bf16 (12 steps)" 60 "$logs/trainers-dino-bf16.log" "$dino" "${dino_args[@]}" --out "$tw/dino-bf16" \
    --device cuda --amp bf16 --max-steps 12
  ngpu=$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | wc -l)
  if [ "${ngpu:-0}" -ge 2 ]; then
    # torchrun's environment, one process per GPU; both ranks must end with the same state.
    {
      echo 'pids=() rc=0'
      echo 'for r in 0 1; do'
      printf '  RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=29533 %q' "$moco"
      printf ' %q' "${moco_args[@]}" --out "$tw/moco-nccl" --device cuda --max-steps 10
      printf ' > %q' "$logs/trainers-nccl-rank"
      echo '$r.log 2>&1 &'
      echo '  pids+=($!)'
      echo 'done'
      echo 'for p in "${pids[@]}"; do wait "$p" || rc=1; done'
      printf 'grep -h backend= %q\n' "$logs/trainers-nccl-rank0.log"
      printf 'sums=$(grep -h -o "state checksum rank [01]: [0-9a-f]*" %q %q | awk "{print \\$NF}" | sort -u | wc -l)\n' \
        "$logs/trainers-nccl-rank0.log" "$logs/trainers-nccl-rank1.log"
      echo 'echo "distinct final state checksums over the 2 ranks: $sums (want 1)"'
      echo '[ $rc = 0 ] && [ "$sums" = 1 ]'
    } > "$tw/nccl2.sh"
    step "moco 2-process NCCL" 90 "$logs/trainers-nccl.log" bash "$tw/nccl2.sh"
    record INFO "  nccl" "$(tail -1 "$logs/trainers-nccl.log")"
  else
    record INFO "moco 2-process NCCL" "not run: ${ngpu:-0} GPU(s) (needs 2)"
  fi
fi
finish
