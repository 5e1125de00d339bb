#!/usr/bin/env bash
# End-to-end test of `vdiv score`: generated scenes, a scripted random-weight encoder, report
# fields, resume, thread independence, a corrupt image and a malformed annotation file.
set -euo pipefail
vdiv=$1
work=$2
source_dir=$3
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$vdiv" make-scenes --out "$work/scenes" --count 12 --width 160 --height 120 --seed 3 > /dev/null
/usr/bin/python3 "$source_dir/examples/estimator/make_encoder.py" --arch tiny --out "$work/tiny.pt" > /dev/null

run() { "$vdiv" score --data scenes "$work/scenes" --configs baseline,zero_overlap,lower_bound \
          --encoder "$work/tiny.pt" --pairs 10 --seed 5 "$@"; }

run --out "$work/a.json" --threads 1 > "$work/a.txt" 2> "$work/a.err"
grep -q "^baseline " "$work/a.txt" || fail "no baseline row in the table"
[ -s "$work/a.png" ] || fail "no plot written"
/usr/bin/python3 - "$work/a.json" <<'PY' || fail "report fields"
import json, sys
r = json.load(open(sys.argv[1]))
assert [c["config"] for c in r["configs"]] == ["baseline", "zero_overlap", "lower_bound"], r["configs"]
for c in r["configs"]:
    assert c["pairs"] == 10 and c["pairs_skipped"] == 0, c
    assert 0 < c["mean"] <= 1 and c["ci95"][0] <= c["mean"] <= c["ci95"][1], c
    assert c["stability"][0]["fraction"] == 1.0, c
assert r["pairs_scored"] == 30 and r["pairs_resumed"] == 0, r
for key in ("prepare_cpu", "encode", "ot", "total_wall"):
    assert key in r["time_seconds"], key
PY

# Same command again: everything comes from the checkpoint, and the scores are identical.
run --out "$work/a.json" --threads 1 > "$work/b.txt" 2> "$work/b.err"
grep -q "resuming from" "$work/b.err" || fail "second run did not resume"
grep -q "pairs scored 0 (resumed 30)" "$work/b.txt" || fail "second run recomputed pairs"
diff <(grep -E "^(baseline|zero_overlap|lower_bound) " "$work/a.txt" | awk '{print $1,$2,$3}') \
     <(grep -E "^(baseline|zero_overlap|lower_bound) " "$work/b.txt" | awk '{print $1,$2,$3}') \
  || fail "resumed scores differ"

# Another thread count, fresh: the same scores.
run --out "$work/c.json" --threads 2 --chunk 3 > "$work/c.txt" 2>/dev/null
diff <(grep -E "^(baseline|zero_overlap|lower_bound) " "$work/a.txt" | awk '{print $1,$2,$3}') \
     <(grep -E "^(baseline|zero_overlap|lower_bound) " "$work/c.txt" | awk '{print $1,$2,$3}') \
  || fail "scores depend on --threads/--chunk"

# A corrupt image is skipped and counted.
first=$(ls "$work/scenes/images" | head -n 1)
echo "not a jpeg" > "$work/scenes/images/$first"
run --out "$work/d.json" > "$work/d.txt" 2>/dev/null || fail "a corrupt image was fatal"
grep -qE "images skipped 1," "$work/d.txt" || fail "corrupt image not counted: $(tail -2 "$work/d.txt")"

# Malformed annotations and a missing encoder: clear errors, nonzero exit.
mkdir -p "$work/bad" && cp -r "$work/scenes/images" "$work/bad/" && echo '{"images": [' > "$work/bad/instances.json"
if "$vdiv" score --data scenes "$work/bad" --encoder "$work/tiny.pt" --out "$work/e.json" 2> "$work/e.err"; then
  fail "malformed JSON accepted"
fi
grep -q "instances.json" "$work/e.err" || fail "error does not name the file: $(cat "$work/e.err")"
if "$vdiv" score --data scenes "$work/scenes" --encoder "$work/missing.pt" --out "$work/f.json" 2> "$work/f.err"; then
  fail "missing encoder accepted"
fi
grep -q "missing.pt" "$work/f.err" || fail "error does not name the encoder: $(cat "$work/f.err")"

# The preset: the format's default, said and recorded; --preset overrides it; an unknown format
# is refused naming the known ones.
grep -q "^preset: coco (default of --data scenes" "$work/a.txt" || fail "default preset not printed"
run --out "$work/g.json" --preset imagenet100 > "$work/g.txt" 2>/dev/null || fail "--preset imagenet100"
grep -q "^preset: imagenet100 (--preset)" "$work/g.txt" || fail "--preset not printed"
/usr/bin/python3 - "$work/a.json" "$work/g.json" <<'PY' || fail "preset settings"
import json, sys
a, g = (json.load(open(f))["settings"] for f in sys.argv[1:])
assert (a["dataset_format"], a["dataset_preset"], a["dataset_preset_source"]) == ("scenes", "coco", "default of scenes"), a
assert (g["dataset_preset"], g["dataset_preset_source"]) == ("imagenet100", "set"), g
PY
"$vdiv" score --data fashion-mnist - --split test --configs baseline --encoder "$work/tiny.pt" \
  --pairs 4 --out "$work/h.json" > "$work/h.txt" 2>/dev/null || fail "fashion-mnist data"
grep -q "^preset: imagenet100 (default of --data fashion-mnist" "$work/h.txt" || fail "fashion-mnist preset"
if "$vdiv" score --data voc "$work/scenes" --encoder "$work/tiny.pt" --out "$work/i.json" 2> "$work/i.err"; then
  fail "unknown dataset format accepted"
fi
grep -q "expected one of: scenes, coco, folder, fashion-mnist" "$work/i.err" || fail "format error: $(cat "$work/i.err")"
echo "score CLI: all checks passed"
