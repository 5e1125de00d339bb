#!/usr/bin/env bash
# Puts the vdiv Python package built in <build>/python on /usr/bin/python3's path, with a .pth
# file in its site-packages (idempotent; `pip install --no-build-isolation .` is the
# alternative that copies the package instead).
#   bash scripts/python-path.sh [build dir, default build]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=$(cd "${1:-build}" && pwd)
if [ ! -d "$build_dir/python/vdiv" ]; then
  echo "python-path: $build_dir/python/vdiv does not exist (is pybind11-dev installed? see CMake's 'vdiv: Python module' line)" >&2
  exit 1
fi
site=$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo mkdir -p "$site"
echo "$build_dir/python" | $sudo tee "$site/vdiv-build.pth" > /dev/null
/usr/bin/python3 -c 'import vdiv; print("python-path: vdiv", vdiv.__version__, "from", vdiv.__file__)'
