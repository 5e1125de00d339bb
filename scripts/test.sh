#!/usr/bin/env bash
# Installs dependencies (if missing), builds everything (library tests, benches, CUDA sources
# when nvcc is present, the vdiv tool, the LibTorch examples and the Python module, which it
# puts on /usr/bin/python3's path) and runs the whole test suite.
# GPU tests skip cleanly on machines without a CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build_dir=${VDIV_BUILD_DIR:-build}
jobs=${VDIV_JOBS:-2}
# sm_90 only: each extra CUDA architecture multiplies nvcc's time (the default builds 80;89;90)
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DVDIV_CUDA_ARCHITECTURES="${VDIV_CUDA_ARCHITECTURES:-90}"
cmake --build "$build_dir" -j "$jobs"
bash scripts/python-path.sh "$build_dir"   # `import vdiv` for /usr/bin/python3
cd "$build_dir"
ctest --output-on-failure -j "$jobs" --timeout 1500
