#!/usr/bin/env bash
# Installs dependencies (if missing), builds everything (library tests, benches, CUDA sources
# when nvcc is present, the vdiv tool and the LibTorch examples) and runs the whole test suite.
# GPU tests skip cleanly on machines without a CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build_dir=${VDIV_BUILD_DIR:-build}
jobs=${VDIV_JOBS:-2}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j "$jobs"
cd "$build_dir"
ctest --output-on-failure -j "$jobs" --timeout 1500
