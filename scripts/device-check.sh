#!/usr/bin/env bash
# GPU-machine check of vdiv, run from the repository root on a machine with nvcc, CMake and a
# pip PyTorch (LibTorch) but no Debian packages and no network: configures a build against the
# deps packed by scripts/pack-device-deps.sh (.device-deps/) and PyTorch's LibTorch, builds the
# CUDA tests, bench_ot_cuda and the vdiv tool, runs `ctest -L gpu`, the CUDA OT benchmark beside
# the PyTorch batched baseline, and `vdiv score --device cuda` against `--device cpu`. Every
# output goes under $OUT (default ./device-check-out); summary.txt lists each step's result.
# A failing step is recorded and the script goes on; the exit status is 1 if any step failed.
#
#   scripts/device-check.sh [--deps DIR] [--build DIR] [--out DIR] [--jobs N]
#                           [--cpu-only] [--no-torch] [--no-run] [--hide-system]
#                           [--bench-args "--batch 65536 --rows 13 --dim 2048"]
#                           [--steps build,test,bench,score]
#
#   --cpu-only     VDIV_CUDA=OFF: configure and build the CPU parts only (a machine without nvcc)
#   --no-torch     do not look for LibTorch (no `vdiv score`)
#   --no-run       configure and build only
#   --steps LIST   run only these stages (default all). The run tool allows 10 minutes a
#                  command: e.g. `--steps build` in one call, `--steps test,bench,score` in the
#                  next (the build folder stays while the machine is warm)
#   --hide-system  ignore the system's CMake packages and libraries (to test the packed deps on
#                  a machine that also has the Debian packages)
# Environment: TORCH_PREFIX (LibTorch's CMake prefix; default from `python3 -c "import torch;
# print(torch.utils.cmake_prefix_path)"`), PYTHON (default python3), CUDA_ARCH (default 90).
set -uo pipefail

root=$(pwd)
[ -f "$root/include/vdiv/vdiv.hpp" ] || { echo "run from the vdiv repository root" >&2; exit 2; }
deps=$root/.device-deps
build=$root/build-device
out=${OUT:-$root/device-check-out}
jobs=$(nproc 2>/dev/null || echo 2)
cpu_only=0 use_torch=1 run=1 hide=0
bench_args="--batch 65536 --rows 13 --dim 2048"
python=${PYTHON:-python3}
steps=build,test,bench,score
while [ $# -gt 0 ]; do
  case $1 in
    --deps) deps=$(cd "$2" && pwd); shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --cpu-only) cpu_only=1; shift ;;
    --no-torch) use_torch=0; shift ;;
    --no-run) run=0; shift ;;
    --hide-system) hide=1; shift ;;
    --bench-args) bench_args=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    -h|--help) sed -n 2,26p "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
summary=$out/summary.txt
: > "$summary"
want() { [[ ",$steps," == *",$1,"* ]]; }
failed=0
record() {  # record STATUS STEP [DETAIL]
  printf '%-5s %-28s %s\n' "$1" "$2" "${3:-}" | tee -a "$summary"
  [ "$1" = FAIL ] && failed=1
  return 0
}
# step NAME LOGFILE CMD...: runs CMD with output to LOGFILE, records PASS/FAIL (77: SKIP)
step() {
  local name=$1 log=$2
  shift 2
  "$@" > "$log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ]; then record PASS "$name"
  elif [ $rc -eq 77 ]; then record SKIP "$name" "(exit 77: no device)"
  else record FAIL "$name" "(exit $rc, see $(basename "$log"))"; fi
  return $rc
}

# --- environment ------------------------------------------------------------------------------
{
  echo "date: $(date -u +%FT%TZ)  host: $(hostname)  git: $(git rev-parse --short HEAD 2>/dev/null)"
  command -v nvidia-smi > /dev/null && nvidia-smi
  command -v nvcc > /dev/null && nvcc --version | tail -2
  cmake --version | head -1
  "$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())" 2>&1
  [ -f "$deps/MANIFEST.txt" ] && cat "$deps/MANIFEST.txt"
} > "$out/env.txt" 2>&1
[ -d "$deps/lib/cmake" ] || record WARN deps "no $deps (run scripts/pack-device-deps.sh where the Debian packages are)"
export LD_LIBRARY_PATH="$deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# --- configure --------------------------------------------------------------------------------
if want build; then
torch_prefix=
if [ $use_torch = 1 ]; then
  torch_prefix=${TORCH_PREFIX:-$("$python" -c "import torch; print(torch.utils.cmake_prefix_path)" 2>/dev/null)}
  [ -n "$torch_prefix" ] || record WARN torch "no LibTorch (python3 has no torch; set TORCH_PREFIX): no vdiv score"
fi
cmake_args=(-S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$deps${torch_prefix:+;$torch_prefix}"
            "-DVDIV_CUDA_ARCHITECTURES=${CUDA_ARCH:-90}")
[ $cpu_only = 1 ] && cmake_args+=(-DVDIV_CUDA=OFF) || cmake_args+=(-DVDIV_CUDA=ON)
# A fresh build folder uses Ninja when there is one (pip's ninja), else make; neither: say so.
if [ ! -f "$build/CMakeCache.txt" ]; then
  if command -v ninja > /dev/null; then
    cmake_args+=(-G Ninja)
  elif ! command -v make > /dev/null; then
    record FAIL configure "neither ninja nor make on PATH (pip install ninja, or carry a ninja binary)"
    exit 1
  fi
fi
if [ $hide = 1 ]; then
  # Only the packed deps (and LibTorch) are visible to find_package / find_library.
  # (tools are still found on PATH; the compilers' own include path still has /usr/include,
  # which the packed include folder precedes).
  cmake_args+=(-DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
               -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF "-DCMAKE_IGNORE_PREFIX_PATH=/usr;/usr/local;/")
fi
if [ -n "$torch_prefix" ] && cmake "${cmake_args[@]}" -DVDIV_TORCH=ON > "$out/configure.log" 2>&1; then
  record PASS "configure (LibTorch)"
else
  if [ -n "$torch_prefix" ]; then
    mv "$out/configure.log" "$out/configure-torch.log"
    record WARN configure "with LibTorch failed (configure-torch.log); again without it"
  fi
  rm -rf "$build"
  step "configure (no LibTorch)" "$out/configure.log" cmake "${cmake_args[@]}" -DVDIV_TORCH=OFF || {
    echo "configure failed: see $out/configure.log" >&2
    exit 1
  }
fi
grep -E "^-- (vdiv|OpenCV)" "$out/configure.log" > "$out/configure-summary.txt"
fi
[ -f "$build/CMakeCache.txt" ] || { echo "no configured build in $build: run --steps build first" >&2; exit 1; }

# --- build ------------------------------------------------------------------------------------
gpu_tests=$(ctest --test-dir "$build" -L gpu -N 2>/dev/null | awk '/Test +#/ {print $3}')
if [ $cpu_only = 1 ]; then
  targets="test_estimator_ot_backend test_estimator_score test_ot_similarity vdiv_cli"
else
  targets="$gpu_tests bench_ot_cuda vdiv_cli"
fi
built=""
want build && for t in $targets; do
  if step "build $t" "$out/build-$t.log" cmake --build "$build" --target "$t" -j "$jobs"; then
    built="$built $t"
  fi
done
[ $run = 1 ] || { echo "built:$built (--no-run)"; exit $failed; }

# --- tests ------------------------------------------------------------------------------------
if ! want test; then
  :
elif [ $cpu_only = 1 ]; then
  step "ctest cpu (subset)" "$out/ctest.log" ctest --test-dir "$build" --output-on-failure \
    -R "^(test_estimator_ot_backend|test_estimator_score|test_ot_similarity)$"
else
  # A test whose target did not build shows as "Not Run" (a failure) in the log.
  step "ctest -L gpu" "$out/ctest-gpu.log" ctest --test-dir "$build" -L gpu --output-on-failure
  # `vdiv score --device cuda` vs `--ot-device cpu` and the report's ot_backend (CLI test).
  if [[ $(ctest --test-dir "$build" -N -R '^cli_score_device$' 2>/dev/null) == *"cli_score_device"* ]]; then
    export VDIV_PYTHON=$python
    step "ctest cli_score_device" "$out/ctest-cli-score-device.log" \
      ctest --test-dir "$build" -R '^cli_score_device$' --output-on-failure
  fi
  ctest --test-dir "$build" -L gpu -N > "$out/ctest-gpu-list.txt" 2>&1
  record INFO "ctest -L gpu" "$(grep -E "tests passed" "$out/ctest-gpu.log"), $(grep -c '\*\*\*Skipped' "$out/ctest-gpu.log") skipped"
fi

# --- CUDA OT benchmark beside PyTorch's batched Sinkhorn (bench/ot/README.md) ----------------
bench=$build/bench/ot/bench_ot_cuda
if want bench && [ $cpu_only = 0 ] && [ -x "$bench" ]; then
  # shellcheck disable=SC2086
  step "bench_ot_cuda uniform" "$out/bench_ot_cuda.txt" "$bench" $bench_args --reps 20
  # shellcheck disable=SC2086
  step "bench_ot_cuda xref+log" "$out/bench_ot_cuda_xref_log.txt" "$bench" $bench_args --reps 20 \
    --weights cross_reference --solver sinkhorn_log
  # shellcheck disable=SC2086
  step "torch_sinkhorn.py cuda" "$out/torch_sinkhorn.txt" "$python" bench/ot/torch_sinkhorn.py \
    --device cuda $bench_args --reps 20
  vdiv_ms=$(sed -n 's/.*median \([0-9.]*\) ms.*/\1/p' "$out/bench_ot_cuda.txt" | head -1)
  torch_ms=$(sed -n 's/.*median \([0-9.]*\) ms.*/\1/p' "$out/torch_sinkhorn.txt" | head -1)
  peak=$(sed -n 's/.*= \([0-9.]*\)% of peak.*/\1/p' "$out/bench_ot_cuda.txt" | head -1)
  if [ -n "$vdiv_ms" ] && [ -n "$torch_ms" ]; then
    "$python" - "$vdiv_ms" "$torch_ms" "${peak:-0}" > "$out/bench_summary.txt" <<'PY'
import sys
v, t, p = map(float, sys.argv[1:])
goal = "MET" if (p >= 70 and v <= 6.6 and t / v >= 3) else "NOT MET"
print(f"vdiv fused kernel {v:.3f} ms ({p:.1f}% of HBM peak), PyTorch batched {t:.3f} ms: "
      f"{t / v:.2f}x. Goal (>= 70% roofline, <= 6.6 ms on H100, >= 3x PyTorch): {goal}")
PY
    record INFO bench "$(cat "$out/bench_summary.txt")"
  fi
fi

# --- vdiv score: OT on the GPU vs the CPU, same pairs -------------------------------------------
vdiv=$build/bin/vdiv
if ! want score; then
  :
elif [ -x "$vdiv" ] && [[ $("$vdiv" --help 2>&1) == *$'\n  score '* ]]; then
  work=$out/score
  rm -rf "$work" && mkdir -p "$work"
  step "make-scenes" "$work/make-scenes.log" "$vdiv" make-scenes --out "$work/scenes" --count 64 --seed 1
  step "encoder (TorchScript)" "$work/encoder.log" "$python" - "$work/encoder.pt" <<'PY'
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
  common=(score --data scenes "$work/scenes" --configs baseline,zero_overlap,lower_bound
          --encoder "$work/encoder.pt" --pairs 32 --seed 3 --chunk 32 --threads 4 --fresh)
  step "score --device cpu" "$work/cpu.log" "$vdiv" "${common[@]}" --device cpu --out "$work/cpu.json"
  step "score cuda, OT on cpu" "$work/cuda_otcpu.log" "$vdiv" "${common[@]}" --device cuda \
    --ot-device cpu --out "$work/cuda_otcpu.json"
  step "score --device cuda" "$work/cuda.log" "$vdiv" "${common[@]}" --device cuda --out "$work/cuda.json"
  [ -f "$work/cuda.json" ] && [ -f "$work/cuda_otcpu.json" ] &&
  step "score OT cuda vs cpu" "$work/compare.txt" "$python" - "$work/cuda_otcpu.json" "$work/cuda.json" \
    "$work/cpu.json" <<'PY'
import json, sys
def pairs(report):
    out = {}
    for line in open(report + ".ckpt.jsonl"):
        j = json.loads(line)
        if "similarity" in j:
            out[(j["config"], j["index"])] = j["similarity"]
    return out
# Same GPU features, OT on the CPU engine vs the CUDA backend: the OT-only bound of
# test_estimator_cuda_ot and tests/ot/test_cuda_similarity.cu.
gpu_vs_cpu_similarity_tol = 5e-5
ref, gpu, cpu = (pairs(f) for f in sys.argv[1:])
settings = [json.load(open(f))["settings"]["ot_backend"] for f in sys.argv[1:]]
diff = max(abs(ref[k] - gpu[k]) for k in ref)
ok = settings == ["cpu", "cuda", "cpu"] and ref.keys() == gpu.keys() and diff <= gpu_vs_cpu_similarity_tol
print(f"ot_backend {settings}, {len(ref)} pairs, OT cuda vs cpu on the same features: "
      f"max |dS| = {diff:.3g} (tol {gpu_vs_cpu_similarity_tol})")
# Encoder on the GPU (cuDNN, TF32 allowed) vs the CPU changes the features as well: reported only.
both = [k for k in cpu if k in gpu]
if both:
    print(f"whole pipeline --device cuda vs --device cpu: max |dS| = "
          f"{max(abs(cpu[k] - gpu[k]) for k in both):.3g} (information only)")
for f in sys.argv[1:]:
    r = json.load(open(f))
    print(f, r["time_seconds"], [(c["config"], round(c["mean"], 5)) for c in r["configs"]])
sys.exit(0 if ok else 1)
PY
  [ -f "$work/compare.txt" ] && record INFO score "$(head -2 "$work/compare.txt" | tr '\n' ' ')"
else
  record SKIP "vdiv score --device cuda" "(no LibTorch or vdiv tool)"
fi

echo "outputs in $out; summary:"
cat "$summary"
exit $failed
