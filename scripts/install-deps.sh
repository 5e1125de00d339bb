#!/usr/bin/env bash
# Installs every Debian package vdiv's build, tests, benches and examples need.
# Idempotent: when all are present it only checks, so the test script can call it every time.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libeigen3-dev xtensor-dev xtl-dev doctest-dev libbenchmark-dev libcli11-dev
  nlohmann-json3-dev libsimdjson-dev libturbojpeg0-dev libpng-dev libopencv-dev libtorch-dev libgloo-dev
  python3 python3-numpy python3-pot python3-torch python3-torchvision python3-opencv
  python3-matplotlib python3-skimage dataset-fashion-mnist
  python3-dev pybind11-dev libdlpack-dev python3-pytest python3-scipy python3-pil
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
