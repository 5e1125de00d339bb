#!/usr/bin/env bash
# Installs every Debian package vdiv's build, tests, benches and examples need.
# Idempotent: when all are present it only checks, so the test script can call it every time.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git clang-15 libclang-common-15-dev
  libeigen3-dev xtensor-dev xtl-dev doctest-dev libbenchmark-dev libcli11-dev
  nlohmann-json3-dev libsimdjson-dev libturbojpeg0-dev libpng-dev libopencv-dev libtorch-dev libgloo-dev
  python3 python3-numpy python3-pot python3-torch python3-torchvision python3-opencv
  python3-matplotlib python3-skimage dataset-fashion-mnist
  python3-dev pybind11-dev libdlpack-dev python3-pytest python3-scipy python3-pil
  # OpenBLAS's OpenMP build: takes over libblas.so.3 / liblapack.so.3 (see select_blas below)
  libopenblas0-openmp
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

# LibTorch, numpy and OpenCV call BLAS through Debian's libblas.so.3 / liblapack.so.3 links,
# which must resolve to OpenBLAS's OpenMP build: on the netlib reference BLAS vdiv-dino ran 6x
# slower, and OpenBLAS's pthreads build keeps a second thread pool beside LibTorch's OpenMP
# threads (bench/README.md, "What runs on what"). Only those two are replaced; another
# optimised BLAS chosen on purpose (MKL, BLIS) is kept. `vdiv doctor` shows the result.
select_blas() {
  local arch lib target now
  arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
  for lib in libblas.so.3 liblapack.so.3; do
    target=/usr/lib/$arch/openblas-openmp/$lib
    [ -e "$target" ] || continue
    now=$(readlink -f "/usr/lib/$arch/$lib" || true)
    case "$now" in
      */blas/* | */lapack/* | */openblas-pthread/* | "")
        echo "install-deps: $lib -> $target (was ${now:-missing})"
        $sudo update-alternatives --set "$lib-$arch" "$target" ;;
    esac
  done
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  select_blas
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
select_blas
