#!/usr/bin/env bash
# The estimator on the CPU against its encoder-only floor, same run: `vdiv score` on generated
# 640x480 scenes (grid strategy, ResNet-18 TorchScript encoder at 84 px, --threads T) and then
# bench_encoder_floor, the same patches through the same module in a tight loop on the same
# threads. Goal (issue 18): pairs/s >= 90% of the floor. The two alternate --repeats times, each
# timed in wall-clock pairs/s and in CPU seconds per pair (user + system, from /usr/bin/time):
# on a shared machine the wall figures of runs a minute apart differ by up to 2x, the CPU cost
# much less. Both run under OMP_WAIT_POLICY=PASSIVE, vdiv score's own default.
#
#   bench/torch/run_estimator_bench.sh --bin build/bin --bench build/bench/torch [--pairs 200]
#       [--repeats 3] [--threads 2] [--arch resnet18] [--work DIR]
set -euo pipefail
BIN=""; BENCH=""; PAIRS=200; REPEATS=3; THREADS=2; ARCH=resnet18; WORK=""
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
PY=${PYTHON:-/usr/bin/python3}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;; --bench) BENCH="$2"; shift 2 ;; --pairs) PAIRS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;; --arch) ARCH="$2"; shift 2 ;; --work) WORK="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n "$BIN" && -n "$BENCH" ]] || { echo "--bin DIR (vdiv) and --bench DIR (bench_encoder_floor) are required" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-$(mktemp -d)}
[[ -f "$WORK/scenes/instances.json" ]] || "$BIN/vdiv" make-scenes --out "$WORK/scenes" --count "$PAIRS" --seed 0 >/dev/null
[[ -f "$WORK/enc.pt" ]] || "$PY" "$HERE/../../examples/estimator/make_encoder.py" --arch "$ARCH" --out "$WORK/enc.pt" >/dev/null
echo "$PAIRS pairs of 640x480 scenes, grid strategy, $ARCH at 84 px, $THREADS threads, $REPEATS repeats; OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
# "<wall s> <user s> <sys s>" of a command whose own output goes to $WORK/out.txt
timed() { /usr/bin/time -f "%e %U %S" -o "$WORK/time.txt" "$@" >"$WORK/out.txt" 2>/dev/null; cat "$WORK/time.txt"; }
results=()
for r in $(seq "$REPEATS"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  read -r _ su ss < <(timed "$BIN/vdiv" score --data scenes "$WORK/scenes" --configs baseline --pairs "$PAIRS" \
      --encoder "$WORK/enc.pt" --seed 0 --threads "$THREADS" --fresh --out "$WORK/report.json")
  [[ $r == 1 ]] && grep '^runtime' "$WORK/out.txt"
  run=$(grep '^pairs scored' "$WORK/out.txt" | sed -E 's/.* ([0-9.]+) pairs\/s.*/\1/')
  scored=$(grep '^pairs scored' "$WORK/out.txt" | sed -E 's/^pairs scored ([0-9]+).*/\1/')
  secs=$("$PY" -c "print(max(10.0, $scored / $run / 2))")
  read -r _ fu fs < <(timed "$BENCH/bench_encoder_floor" --encoder "$WORK/enc.pt" --threads "$THREADS" --seconds "$secs")
  fl=$(grep '^encoder floor' "$WORK/out.txt" | sed -E 's/^encoder floor: ([0-9.]+) pairs\/s.*/\1/')
  chunks=$(grep '^encoder floor' "$WORK/out.txt" | sed -E 's/.* ([0-9]+) chunks in.*/\1/')
  line=$("$PY" -c "
run, fl = $run, $fl
cpu_run = ($su + $ss) / $scored
cpu_fl = ($fu + $fs) / (($chunks + 2) * 8)  # timed and warm-up chunks; both sides pay a model load
print(f'{run / fl:.3f} {cpu_fl / cpu_run:.3f} run {run:.2f} pairs/s, floor {fl:.2f} pairs/s: {100 * run / fl:.1f}%; '
      f'CPU {cpu_run:.3f} s/pair against the floor\'s {cpu_fl:.3f}: {100 * cpu_fl / cpu_run:.1f}% (load {$load})')")
  echo "repeat $r: ${line#* * }"
  results+=("${line%% *} $(cut -d' ' -f2 <<<"$line")")
done
"$PY" -c "
import statistics, sys
wall = [float(x.split()[0]) for x in sys.argv[1:]]; cpu = [float(x.split()[1]) for x in sys.argv[1:]]
w, c = statistics.median(wall), statistics.median(cpu)
print(f'median: vdiv score at {100 * w:.1f}% of the encoder-only floor in pairs/s, {100 * c:.1f}% in CPU per pair; '
      f'goal >= 90%: ' + ('met' if w >= 0.9 else 'NOT met'))" "${results[@]}"
