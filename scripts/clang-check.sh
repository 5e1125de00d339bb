#!/usr/bin/env bash
# The clang job (run by .ci/run): vdiv must build warning-free with clang as well as GCC.
#   1. A consumer that pulls vdiv in with add_subdirectory (so vdiv's headers are NOT system
#      headers) and compiles every public header that needs neither LibTorch, OpenCV nor CUDA
#      with -Wall -Wextra -Wpedantic -Werror, under clang++-15 and under g++.
#   2. The library tests of core, sampling, ot and io built with clang++-15 (no LibTorch, no
#      CUDA, no examples or benchmarks) and run by ctest. The slowest sampling tests, which
#      test the sampler's statistics rather than the compiler, run in the main job only.
# `scripts/clang-check.sh --consumer-only` runs step 1 alone (a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${VDIV_JOBS:-2}
build=${VDIV_CLANG_BUILD_DIR:-build-clang}
clangxx=${VDIV_CLANG:-clang++-15}
if ! command -v "$clangxx" > /dev/null; then
  echo "clang-check.sh: $clangxx not found (scripts/install-deps.sh installs clang-15)" >&2
  exit 1
fi

# 1. add_subdirectory consumer, -Werror, both compilers.
consumer=$(mktemp -d)
trap 'rm -rf "$consumer"' EXIT
cat > "$consumer/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(vdiv_warning_consumer CXX)
set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
add_subdirectory("$root" vdiv)
add_executable(consumer consumer.cpp)
target_link_libraries(consumer PRIVATE vdiv::vdiv \$<TARGET_NAME_IF_EXISTS:vdiv::io>
                      \$<TARGET_NAME_IF_EXISTS:vdiv::estimator>)
target_compile_options(consumer PRIVATE -Wall -Wextra -Wpedantic -Werror)
EOF
{
  echo '// Every public header without LibTorch, OpenCV or CUDA.'
  for h in include/vdiv/vdiv.hpp include/vdiv/sampling.hpp include/vdiv/core/*.hpp \
           include/vdiv/sampling/*.hpp include/vdiv/ot/*.hpp include/vdiv/ot/cpu/*.hpp \
           include/vdiv/io/*.hpp include/vdiv/estimator/*.hpp; do
    case "$h" in
      include/vdiv/core/cuda_check.hpp) continue ;;  # needs the CUDA runtime headers
    esac
    if grep -qE '#include <(torch|opencv2|cuda)' "$h"; then continue; fi
    echo "#include <${h#include/}>"
  done
  echo 'int main() {'
  echo '  const vdiv::pair_sampler sampler(vdiv::parse_preset("coco:zero_overlap"));'
  echo '  const std::vector<vdiv::box> boxes{{100, 80, 260, 300}};'
  echo '  const auto s = sampler.sample({.width = 640, .height = 480, .boxes = boxes}, {.seed = 7, .epoch = 0, .index = 0});'
  echo '  std::vector<float> x(2 * 13 * 8, 1.0f), y(2 * 13 * 8, 0.5f);'
  echo '  for (std::size_t i = 0; i < x.size(); ++i) x[i] += float(i % 7);'
  echo '  const auto sim = vdiv::similarity(vdiv::cpu{.threads = 2}, vdiv::features(x.data(), 2, 13, 8),'
  echo '                                    vdiv::features(y.data(), 2, 13, 8));'
  echo '  return s.views[0].width > 0 && sim.size() == 2 ? 0 : 1;'
  echo '}'
} > "$consumer/consumer.cpp"
for cxx in "$clangxx" g++; do
  echo "clang-check.sh: add_subdirectory consumer, -Wall -Wextra -Wpedantic -Werror, $cxx"
  cmake -S "$consumer" -B "$consumer/build-$cxx" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release \
    -DVDIV_TORCH=OFF -DVDIV_CUDA=OFF > "$consumer/configure-$cxx.log" ||
    { cat "$consumer/configure-$cxx.log"; exit 1; }
  cmake --build "$consumer/build-$cxx" -j "$jobs" --target consumer
  "$consumer/build-$cxx/consumer"
done

[ "${1:-}" = "--consumer-only" ] && exit 0

# 2. The library tests with clang.
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$clangxx" -DCMAKE_BUILD_TYPE=Release \
  -DVDIV_TORCH=OFF -DVDIV_CUDA=OFF -DVDIV_BUILD_EXAMPLES=OFF -DVDIV_BUILD_BENCH=OFF -DVDIV_PYTHON=OFF
slow='^(test_sampling_placement|test_sampling_pair_sampler|test_sampling_exact)$'
mapfile -t targets < <(cd "$build" && ctest -N -L '^(core|sampling|ot|io)$' -E "$slow" |
                       sed -n 's/^ *Test *#[0-9]*: \(test_[a-z0-9_]*\)$/\1/p')
# sampling_fma_contraction runs the two FMA probe programs rather than a test_* binary.
mapfile -t probes < <(cmake --build "$build" --target help | sed -n 's/^\.\.\. \(fma_probe_[a-z]*\)$/\1/p')
args=()
for t in "${targets[@]}" "${probes[@]}"; do args+=(--target "$t"); done
cmake --build "$build" -j "$jobs" "${args[@]}"
(cd "$build" && ctest --output-on-failure -j "$jobs" -L '^(core|sampling|ot|io)$' -E "$slow")
