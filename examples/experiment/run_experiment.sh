#!/usr/bin/env bash
# The paper's experiment (Qin et al., TMLR 2025, Tables 1-2 / Figure 4) at small scale:
# for each view configuration, pre-train MoCo-v2 on generated non-iconic scenes, evaluate the
# frozen backbone (k-NN + linear probe on Fashion-MNIST), score the configuration's view
# diversity with `vdiv score` (EMD similarity), and write one table (markdown + CSV) with a
# random-init row and the lower_bound row.
#
#   examples/experiment/run_experiment.sh --bin build/bin --out runs/exp            # full (~10 min/config on 2 CPU cores)
#   examples/experiment/run_experiment.sh --bin build/bin --out runs/smoke --smoke  # ~1-2 minutes
#
# Options: --configs a,b,c (default: all 8 of the paper), --seed S, --epochs E, --scenes N,
# --pairs P (pairs per config for vdiv score), --lr LR (MoCo-v2 base learning rate; default
# 0.1 at the full size, the official 0.03 * batch / 256 for --smoke),
# --score-encoder baseline|random (encoder `vdiv score` uses for every config; default: the
# baseline-pretrained backbone, as the paper scored with one pre-trained encoder).
# A rerun with the same --out resumes: finished trainings/evaluations are kept, and an
# interrupted training resumes from its last epoch checkpoint.
set -euo pipefail

BIN=""
OUT="experiment_out"
SMOKE=0
CONFIGS=""
SEED=0
EPOCHS=""
SCENES=""
SCORE_ENCODER="baseline"
PAIRS=""
LR=""
PY=${PYTHON:-/usr/bin/python3}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --configs) CONFIGS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    --scenes) SCENES="$2"; shift 2 ;;
    --score-encoder) SCORE_ENCODER="$2"; shift 2 ;;
    --pairs) PAIRS="$2"; shift 2 ;;
    --lr) LR="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "run_experiment.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z "$BIN" ]]; then
  echo "run_experiment.sh: --bin DIR (folder with vdiv, vdiv-moco-v2, vdiv-eval) is required" >&2
  exit 2
fi
VDIV="$BIN/vdiv"; MOCO="$BIN/vdiv-moco-v2"; EVAL="$BIN/vdiv-eval"
for exe in "$VDIV" "$MOCO" "$EVAL"; do
  [[ -x "$exe" ]] || { echo "run_experiment.sh: $exe not found or not executable (build it first)" >&2; exit 2; }
done

if [[ $SMOKE == 1 ]]; then
  : "${CONFIGS:=baseline,zero_overlap,lower_bound}"
  : "${SCENES:=48}"; : "${EPOCHS:=1}"
  SCENE_ARGS=(--width 96 --height 72 --size-min 16 --size-max 40)
  MOCO_ARGS=(--arch resnet18 --width 8 --small-stem --size 32 --batch 16 --queue 64 --workers 1)
  EVAL_ARGS=(--size 32 --train-limit 300 --test-limit 100 --linear-epochs 5)
  SCORE_ARGS=(--pairs "${PAIRS:-6}")
else
  : "${CONFIGS:=baseline,zero_overlap,instance_vs_background,only_background,lower_bound,smaller_crop,larger_crop,smaller_crop_zero_overlap}"
  : "${SCENES:=4000}"; : "${EPOCHS:=40}"
  SCENE_ARGS=(--width 160 --height 120 --size-min 24 --size-max 72)
  MOCO_ARGS=(--arch resnet18 --width 16 --small-stem --size 32 --batch 32 --queue 1024 --workers 2)
  EVAL_ARGS=(--size 32 --train-limit 5000 --test-limit 1000 --linear-epochs 30)
  SCORE_ARGS=(--pairs "${PAIRS:-100}")
  # The official 0.03 * batch / 256 = 0.00375 learns nothing in 40 epochs at this size
  # (examples/experiment/README.md, "full size"); 0.1 does.
  : "${LR:=0.1}"
fi

[[ -n "$LR" ]] && MOCO_ARGS+=(--lr "$LR")

mkdir -p "$OUT"
LOG="$OUT/run.log"
START=$(date +%s)
say() { echo "[$(($(date +%s) - START))s] $*" | tee -a "$LOG"; }

# 1. Scenes.
if [[ ! -f "$OUT/scenes/instances.json" ]]; then
  say "making $SCENES scenes"
  "$VDIV" make-scenes --out "$OUT/scenes" --count "$SCENES" --seed "$SEED" "${SCENE_ARGS[@]}" >>"$LOG" 2>&1
fi

# 2-3. Pre-train and evaluate each config, plus the random-init backbone.
IFS=',' read -r -a LIST <<<"$CONFIGS"
ROWS=(random_init "${LIST[@]}")
for cfg in "${ROWS[@]}"; do
  dir="$OUT/runs/$cfg"
  mkdir -p "$dir"
  if [[ ! -f "$dir/backbone.pt" ]]; then
    if [[ $cfg == random_init ]]; then
      say "random init: exporting the untrained backbone"
      "$MOCO" --data "$OUT/scenes" --views coco:baseline --out "$dir" --epochs 0 --seed "$SEED" "${MOCO_ARGS[@]}" >>"$dir/train.log" 2>&1
    else
      say "pre-training MoCo-v2 on coco:$cfg for $EPOCHS epochs"
      t0=$(date +%s)
      "$MOCO" --data "$OUT/scenes" --views "coco:$cfg" --out "$dir" --epochs "$EPOCHS" --seed "$SEED" "${MOCO_ARGS[@]}" >>"$dir/train.log" 2>&1
      echo $(($(date +%s) - t0)) >"$dir/train_seconds"
    fi
  fi
  if [[ ! -f "$dir/eval.json" ]]; then
    say "evaluating $cfg (k-NN + linear probe, Fashion-MNIST)"
    "$EVAL" --encoder "$dir/backbone.pt" --out "$dir/eval.json" --seed "$SEED" "${EVAL_ARGS[@]}" >>"$dir/eval.log" 2>&1
  fi
done

# Accuracy CSV (for vdiv score's accuracy-vs-S plot).
"$PY" - "$OUT" "${LIST[@]}" <<'EOF'
import json, sys
out, cfgs = sys.argv[1], sys.argv[2:]
with open(f"{out}/accuracy.csv", "w") as f:
    f.write("config,accuracy\n")
    for c in cfgs:
        f.write(f"{c},{json.load(open(f'{out}/runs/{c}/eval.json'))['linear_acc']}\n")
EOF

# 4. EMD scores.
SCORE_NOTE=""
if "$VDIV" --help 2>/dev/null | grep -qE "^ +score( |$)"; then
  enc="$OUT/runs/baseline/backbone.pt"
  [[ $SCORE_ENCODER == random || ! -f "$enc" ]] && enc="$OUT/runs/random_init/backbone.pt"
  if [[ ! -f "$OUT/score.json" ]]; then
    say "scoring configs with vdiv score (encoder $enc)"
    if ! "$VDIV" score --data scenes "$OUT/scenes" --configs "$CONFIGS" --encoder "$enc" --seed "$SEED" \
        --out "$OUT/score.json" --accuracy "$OUT/accuracy.csv" "${SCORE_ARGS[@]}" >>"$LOG" 2>&1; then
      SCORE_NOTE="vdiv score failed (see $LOG); EMD column left empty"
      rm -f "$OUT/score.json"
    fi
  fi
  SCORE_NOTE=${SCORE_NOTE:-"EMD similarity S from vdiv score with encoder $(basename "$(dirname "$enc")")/backbone.pt"}
else
  SCORE_NOTE="vdiv score is not built here (needs LibTorch in the vdiv tool); EMD column left empty"
fi
say "$SCORE_NOTE"

# 5. Table.
"$PY" - "$OUT" "$SCORE_NOTE" "$SMOKE" "${ROWS[@]}" <<'EOF'
import json, os, sys
out, note, smoke, rows = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
scores = {}
if os.path.exists(f"{out}/score.json"):
    for c in json.load(open(f"{out}/score.json")).get("configs", []):
        name = str(c.get("config", "")).split(":")[-1]
        scores[name] = c.get("mean")
def fmt(v, p=4):
    return "" if v is None else f"{v:.{p}f}"
lines = ["config,emd_score,knn_acc,linear_acc,train_seconds"]
md = ["| config | EMD score S | k-NN acc | linear acc | train s |", "|---|---|---|---|---|"]
for r in rows:
    ev = json.load(open(f"{out}/runs/{r}/eval.json"))
    secs_file = f"{out}/runs/{r}/train_seconds"
    secs = open(secs_file).read().strip() if os.path.exists(secs_file) else ""
    s = scores.get(r)
    lines.append(f"{r},{fmt(s)},{fmt(ev['knn_acc'])},{fmt(ev['linear_acc'])},{secs}")
    md.append(f"| {r} | {fmt(s)} | {fmt(ev['knn_acc'])} | {fmt(ev['linear_acc'])} | {secs} |")
open(f"{out}/results.csv", "w").write("\n".join(lines) + "\n")
md.append("")
md.append(f"{'Smoke size' if smoke == '1' else 'Full size'}; {note}. Accuracies: Fashion-MNIST test subset.")
open(f"{out}/results.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
EOF
say "done: $OUT/results.md, $OUT/results.csv$( [[ -f $OUT/score.png ]] && echo ", $OUT/score.png")"
