#!/usr/bin/env bash
# The paper's experiment (Qin et al., TMLR 2025, Tables 2 / B / K, Figure 4) at small scale, with
# seeds, confidence intervals and an independent scoring encoder:
#   for every seed: generate scenes; for every view config (and random init) pre-train MoCo-v2
#   with the config's exact pairs, evaluate the frozen backbone on the full Fashion-MNIST test set
#   (linear probe + k-NN); score every config's EMD similarity S with an encoder independent of
#   the configs (a supervised Fashion-MNIST CNN, at its training resolution) and with the seed's
#   baseline backbone; then the stability rows (Table K) and the analysis (analyze.py).
#
#   examples/experiment/run_experiment.sh --bin build/bin --out runs/exp            # full (hours)
#   examples/experiment/run_experiment.sh --bin build/bin --out runs/smoke --smoke  # < 1 minute
#
# Options: --configs a,b,c (default: all 8), --seeds 0,1,2, --epochs E, --scenes N, --pairs P
# (pairs per config and seed for the S estimates, default 500), --lr LR (MoCo-v2 base lr),
# --results DIR (where results.csv / analysis.md / plots are copied; default: --out).
# A rerun with the same --out resumes: finished steps are kept, an interrupted training resumes
# from its last epoch checkpoint; results.csv is rewritten after every finished step.
set -euo pipefail
# One compound command: bash parses all of it before running any, so editing or updating this file
# (git pull) while a run of many hours is in progress cannot change or break that run.
{

BIN=""
OUT="experiment_out"
RESULTS=""
SMOKE=0
CONFIGS=""
SEEDS="0,1,2"
EPOCHS=""
SCENES=""
PAIRS=""
LR=""
PY=${PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --results) RESULTS="$2"; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --configs) CONFIGS="$2"; shift 2 ;;
    --seeds) SEEDS="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    --scenes) SCENES="$2"; shift 2 ;;
    --pairs) PAIRS="$2"; shift 2 ;;
    --lr) LR="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
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
"$VDIV" --help 2>/dev/null | grep -qE "^ +score( |$)" ||
  { echo "run_experiment.sh: $VDIV has no score command (build the vdiv tool with LibTorch)" >&2; exit 2; }

if [[ $SMOKE == 1 ]]; then
  : "${CONFIGS:=baseline,zero_overlap,lower_bound}"
  : "${SCENES:=40}"; : "${EPOCHS:=1}"; : "${PAIRS:=6}"
  [[ $SEEDS == "0,1,2" ]] && SEEDS="0,1"
  SCENE_ARGS=(--width 96 --height 72 --size-min 16 --size-max 40)
  MOCO_ARGS=(--arch resnet18 --width 8 --small-stem --size 32 --batch 16 --queue 64 --workers 1)
  EVAL_ARGS=(--size 32 --train-limit 300 --test-limit 200 --linear-epochs 5)
  CLASSIFIER_ARGS=(--epochs 1 --limit 1000 --test-limit 500 --width 8)
  STABILITY_CONFIGS="baseline"
else
  : "${CONFIGS:=baseline,zero_overlap,instance_vs_background,only_background,lower_bound,smaller_crop,larger_crop,smaller_crop_zero_overlap}"
  : "${SCENES:=4000}"; : "${EPOCHS:=40}"; : "${PAIRS:=500}"
  SCENE_ARGS=(--width 160 --height 120 --size-min 24 --size-max 72)
  MOCO_ARGS=(--arch resnet18 --width 16 --small-stem --size 32 --batch 32 --queue 1024 --workers 2)
  # the full test set (10,000 images), our linear-probe schedule (cosine, 100 epochs)
  EVAL_ARGS=(--size 32 --train-limit 10000 --test-limit 0 --linear-epochs 100)
  CLASSIFIER_ARGS=(--epochs 4)
  STABILITY_CONFIGS="baseline,zero_overlap,only_background,lower_bound"
  # The official 0.03 * batch / 256 = 0.00375 learns nothing in 40 epochs at this size; 0.1 does.
  : "${LR:=0.1}"
fi
[[ -n "$LR" ]] && MOCO_ARGS+=(--lr "$LR")
: "${RESULTS:=$OUT}"

mkdir -p "$OUT" "$RESULTS"
LOG="$OUT/run.log"
START=$(date +%s)
say() { echo "[$(date -u +%FT%TZ) +$(($(date +%s) - START))s] $*" | tee -a "$LOG"; }
IFS=',' read -r -a LIST <<<"$CONFIGS"
IFS=',' read -r -a SEED_LIST <<<"$SEEDS"
ROWS=(random_init "${LIST[@]}")

# The independent encoder, trained once.
if [[ ! -f "$OUT/classifier.pt" ]]; then
  say "training the independent scoring encoder (supervised Fashion-MNIST CNN)"
  "$PY" "$HERE/train_classifier.py" --out "$OUT/classifier.pt" "${CLASSIFIER_ARGS[@]}" >>"$LOG" 2>&1
fi

collect() {  # results.csv from whatever has finished, then the analysis
  "$PY" - "$OUT" "$RESULTS" "$SEEDS" "${ROWS[@]}" <<'EOF'
import csv, json, os, sys
out, results, seeds, rows = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4:]
def scores(path):
    if not os.path.exists(path):
        return {}
    return {c["config"].split(":")[-1]: c for c in json.load(open(path)).get("configs", [])}
with open(os.path.join(results, "results.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["config", "seed", "linear_acc", "knn_acc", "s", "s_ci_low", "s_ci_high", "s_pairs",
                "s_fell_back", "s_ssl", "s_ssl_ci_low", "s_ssl_ci_high", "train_seconds", "test_images"])
    for seed in seeds:
        d = os.path.join(out, "seed%s" % seed)
        ind = scores(os.path.join(d, "score_independent.json"))
        ssl = scores(os.path.join(d, "score_ssl.json"))
        for r in rows:
            ev_path = os.path.join(d, "runs", r, "eval.json")
            if not os.path.exists(ev_path):
                continue
            ev = json.load(open(ev_path))
            # The trainer's own per-epoch times: a training resumed across interruptions counts
            # every epoch once (the wall time of the last invocation would count only its part).
            log_path = os.path.join(d, "runs", r, "log.csv")
            secs = ""
            if os.path.exists(log_path):
                epochs = [float(e["seconds"]) for e in csv.DictReader(open(log_path))]
                if epochs:
                    secs = "%.0f" % sum(epochs)
            s = ind.get(r, {})
            ci = s.get("ci95") or [None, None]
            ssl_ci = ssl.get(r, {}).get("ci95") or ["", ""]
            w.writerow([r, seed, ev["linear_acc"], ev["knn_acc"], s.get("mean", ""), ci[0] if ci[0] is not None else "",
                        ci[1] if ci[1] is not None else "", s.get("pairs", ""), s.get("pairs_fell_back", ""),
                        ssl.get(r, {}).get("mean", ""), ssl_ci[0], ssl_ci[1], secs, ev.get("test", "")])
EOF
  "$PY" "$HERE/analyze.py" "$RESULTS/results.csv" --out "$RESULTS/analysis.md" \
        --plot "$RESULTS/accuracy_vs_s.png" >/dev/null 2>>"$LOG" || say "analysis: not enough results yet"
}

for seed in "${SEED_LIST[@]}"; do
  SD="$OUT/seed$seed"
  mkdir -p "$SD"
  # A seed changes the scenes, the initial weights and the batch order.
  if [[ ! -f "$SD/scenes/instances.json" ]]; then
    say "seed $seed: making $SCENES scenes"
    "$VDIV" make-scenes --out "$SD/scenes" --count "$SCENES" --seed "$seed" "${SCENE_ARGS[@]}" >>"$LOG" 2>&1
  fi
  for cfg in "${ROWS[@]}"; do
    dir="$SD/runs/$cfg"
    mkdir -p "$dir"
    if [[ ! -f "$dir/backbone.pt" ]]; then
      if [[ $cfg == random_init ]]; then
        say "seed $seed: random init (the untrained backbone)"
        "$MOCO" --data "$SD/scenes" --views coco:baseline --out "$dir" --epochs 0 --seed "$seed" "${MOCO_ARGS[@]}" >>"$dir/train.log" 2>&1
      else
        say "seed $seed: pre-training MoCo-v2 on coco:$cfg for $EPOCHS epochs"
        "$MOCO" --data "$SD/scenes" --views "coco:$cfg" --out "$dir" --epochs "$EPOCHS" --seed "$seed" "${MOCO_ARGS[@]}" >>"$dir/train.log" 2>&1
      fi
    fi
    if [[ ! -f "$dir/eval.json" ]]; then
      say "seed $seed: evaluating $cfg (k-NN + linear probe on Fashion-MNIST)"
      "$EVAL" --encoder "$dir/backbone.pt" --out "$dir/eval.json" --seed "$seed" "${EVAL_ARGS[@]}" >>"$dir/eval.log" 2>&1
    fi
    collect
  done
  # S of every config: the independent encoder at its 32 px, and the seed's baseline backbone.
  for which in independent ssl; do
    enc="$OUT/classifier.pt"
    [[ $which == ssl ]] && enc="$SD/runs/baseline/backbone.pt"
    [[ -f "$enc" ]] || continue
    if [[ ! -f "$SD/score_$which.json" ]]; then
      say "seed $seed: scoring $CONFIGS with the $which encoder ($PAIRS pairs each)"
      "$VDIV" score --data scenes "$SD/scenes" --configs "$CONFIGS" --encoder "$enc" --seed "$seed" \
        --pairs "$PAIRS" --patch-size 32 --out "$SD/score_$which.json" >>"$LOG" 2>&1
    fi
  done
  collect
done

# Table K: S on all of seed 0's scenes, one pair per image, and on nested fractions of them.
S0="$OUT/seed${SEED_LIST[0]}"
if [[ ! -f "$OUT/stability.json" ]]; then
  say "stability rows: $STABILITY_CONFIGS on all scenes of seed ${SEED_LIST[0]}, one pair per image"
  "$VDIV" score --data scenes "$S0/scenes" --configs "$STABILITY_CONFIGS" --encoder "$OUT/classifier.pt" \
    --seed "${SEED_LIST[0]}" --patch-size 32 --out "$OUT/stability.json" >>"$LOG" 2>&1
fi
"$PY" - "$OUT/stability.json" "$RESULTS/stability.md" <<'EOF'
import json, sys
rep = json.load(open(sys.argv[1]))
lines = ["| config | " + " | ".join("%g%% of the scenes" % (100 * r["fraction"]) for r in rep["configs"][0]["stability"]) + " |",
         "|---|" + "---|" * len(rep["configs"][0]["stability"])]
for c in rep["configs"]:
    cells = []
    for r in c["stability"]:
        lo, hi = r.get("ci95") or [None, None]
        cells.append("%.4f [%s, %s] (%d)" % (r["mean"], "%.4f" % lo if lo is not None else "-",
                                             "%.4f" % hi if hi is not None else "-", r["pairs"]))
    lines.append("| %s | %s |" % (c["config"], " | ".join(cells)))
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
[[ -f "$OUT/stability.json.png" ]] && cp "$OUT/stability.json.png" "$RESULTS/stability.png"
collect
cat "$RESULTS/analysis.md"
say "done: $RESULTS/results.csv, $RESULTS/analysis.md, $RESULTS/accuracy_vs_s.png, $RESULTS/stability.md, $RESULTS/stability.png"
exit 0
}
