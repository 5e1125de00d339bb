#!/usr/bin/env bash
# Runs one libFuzzer target for a while:  bash scripts/fuzz.sh TARGET MINUTES [libFuzzer flags]
# TARGET: npy idx coco pseudo_boxes image boxes checkpoint (tests/fuzz/fuzz_TARGET.cpp).
# Builds the clang-15 libFuzzer binaries with ASan + UBSan in build-fuzz (override with
# VDIV_FUZZ_BUILD_DIR), fuzzes a working copy of tests/fuzz/corpus/TARGET in one process on one
# core, and leaves crashing inputs in <build>/work/TARGET-artifacts/ (add them to
# tests/fuzz/crashers/TARGET/ once fixed). Prints libFuzzer's final stats (execs, coverage).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz.sh TARGET MINUTES [libFuzzer flags]}
minutes=${2:?usage: fuzz.sh TARGET MINUTES [libFuzzer flags]}
shift 2
build=${VDIV_FUZZ_BUILD_DIR:-build-fuzz}
cxx=${VDIV_FUZZ_CXX:-clang++-15}
command -v "$cxx" > /dev/null || { echo "fuzz.sh: $cxx not found (apt-get install clang-15 libclang-common-15-dev)" >&2; exit 1; }
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVDIV_FUZZ=ON \
    -DVDIV_TORCH=OFF -DVDIV_CUDA=OFF -DVDIV_BUILD_EXAMPLES=OFF -DVDIV_BUILD_BENCH=OFF \
    "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" > /dev/null
fi
cmake --build "$build" -j "${VDIV_JOBS:-2}" --target "fuzz_$target"
work="$build/work/$target"
mkdir -p "$work" "$build/work/$target-artifacts"
exec "$build/tests/fuzz/fuzz_$target" -max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=2560 \
  -print_final_stats=1 -artifact_prefix="$build/work/$target-artifacts/" "$@" \
  "$work" "tests/fuzz/corpus/$target"
