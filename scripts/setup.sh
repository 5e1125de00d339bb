#!/usr/bin/env bash
# One command from a fresh machine to a result: installs the Debian packages, builds the `vdiv`
# tool, and runs the main job on a small built-in default:
#   1. generate 64 non-iconic scenes from real Fashion-MNIST items (COCO-format boxes),
#   2. sample and draw view pairs of the paper's configs,
#   3. score every view config's EMD diversity with a ResNet-18 patch encoder (random weights,
#      TorchScript) and write the report (JSON + PNG).
# Output lands in ./demo (override with VDIV_DEMO_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build_dir=${VDIV_BUILD_DIR:-build}
demo=${VDIV_DEMO_DIR:-demo}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j "${VDIV_JOBS:-2}" --target vdiv_cli vdiv_python
bash scripts/python-path.sh "$build_dir"   # `import vdiv` for /usr/bin/python3
vdiv="$build_dir/bin/vdiv"
mkdir -p "$demo"

echo "== vdiv make-scenes: 64 non-iconic 640x480 scenes"
"$vdiv" make-scenes --out "$demo/scenes" --count 64 --seed 0

echo "== vdiv sample: 3 zero_overlap pairs of a 640x480 image with two boxes"
"$vdiv" sample --preset coco:zero_overlap --width 640 --height 480 \
  --boxes "100,80,260,300;380,200,600,460" --count 3 --seed 0

echo "== vdiv viz: instance_vs_background pairs drawn on the first scene and its true boxes"
read -r first_image first_boxes < <(/usr/bin/python3 - "$demo/scenes/instances.json" <<'PY'
import json, sys
coco = json.load(open(sys.argv[1]))
image = coco["images"][0]
boxes = [a["bbox"] for a in coco["annotations"] if a["image_id"] == image["id"]]
print(image["file_name"], ";".join(f"{x:g},{y:g},{x + w:g},{y + h:g}" for x, y, w, h in boxes))
PY
)
"$vdiv" viz --preset coco:instance_vs_background --image "$demo/scenes/images/$first_image" \
  --boxes "$first_boxes" --pairs 4 --seed 0 --out "$demo/viz.png"

echo "== vdiv score: EMD similarity of all 8 view configs, 64 pairs each"
/usr/bin/python3 examples/estimator/make_encoder.py --arch resnet18 --out "$demo/encoder.pt"
"$vdiv" score --data scenes "$demo/scenes" --configs all --encoder "$demo/encoder.pt" \
  --pairs 64 --seed 0 --out "$demo/report.json"
echo "done: $demo/report.json, $demo/report.png, $demo/viz.png"
