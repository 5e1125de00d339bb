#!/usr/bin/python3
"""vdiv's samplers against torchvision 0.14's RandomResizedCrop.get_params, in the same run.

Speed (default mode):
  /usr/bin/python3 bench/sampling/compare_torchvision.py BENCH_SAMPLING
Python side (one core, torch.set_num_threads(1)): get_params per call (scale (0.08, 1) and
(0.2, 1), 640x480 image tensor), a baseline pair (two calls), and a zero_overlap pair by
brute-force rejection - two crops drawn until they share no pixel, unbounded: the definition
of the config's pair, the way a Python trainer would draw it. vdiv side: the matching Google
Benchmark cases of BENCH_SAMPLING (median CPU time of 5 repetitions; BM_pair/coco:zero_overlap
is the exact sampler). Prints per-item times and the ratio python / vdiv.

Distribution (cross-check with torchvision's own code):
  /usr/bin/python3 bench/sampling/compare_torchvision.py --distribution N --vdiv VDIV_CLI
draws N zero_overlap pairs of a 640x480 image by brute-force rejection with get_params and
N * 10 pairs with `vdiv sample` (exact, and /fast), and compares each view's area, aspect
ratio and centre and the summed area with two-sample KS tests (scipy). Exits 1 if the exact
sampler differs from torchvision's rejection at alpha = 1e-4 per statistic, or if /fast does
not (the test must be able to tell them apart).
"""
import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from scipy.stats import ks_2samp
from torchvision.transforms import RandomResizedCrop

torch.set_num_threads(1)
W, H = 640, 480
IMG = torch.empty(3, H, W)
RATIO = [3 / 4, 4 / 3]
SCALE = [0.2, 1.0]


def per_call(fn, n, repeats=5):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def zero_overlap_pair():
    """Brute-force rejection: (top, left, height, width) of two disjoint crops, and the tries."""
    tries = 0
    while True:
        tries += 1
        a = RandomResizedCrop.get_params(IMG, SCALE, RATIO)
        b = RandomResizedCrop.get_params(IMG, SCALE, RATIO)
        (t1, l1, h1, w1), (t2, l2, h2, w2) = a, b
        if l1 + w1 <= l2 or l2 + w2 <= l1 or t1 + h1 <= t2 or t2 + h2 <= t1:
            return a, b, tries


def vdiv_times(binary, names):
    flt = "|".join("^" + n.replace("(", "\\(").replace(")", "\\)") + "$" for n in names)
    out = subprocess.run([binary, "--benchmark_filter=" + flt, "--benchmark_format=json",
                          "--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True).stdout
    result = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3}[b["time_unit"]]
            result[b["run_name"]] = b["cpu_time"] * unit
    return result


def speed(binary):
    torch.manual_seed(0)
    rows = [
        ("crop, scale (0.08,1)", lambda: RandomResizedCrop.get_params(IMG, [0.08, 1.0], RATIO), 20000,
         "BM_random_resized_crop/8"),
        ("crop, scale (0.2,1)", lambda: RandomResizedCrop.get_params(IMG, SCALE, RATIO), 20000,
         "BM_random_resized_crop/20"),
        ("baseline pair", lambda: (RandomResizedCrop.get_params(IMG, SCALE, RATIO),
                                   RandomResizedCrop.get_params(IMG, SCALE, RATIO)), 10000,
         "BM_pair/coco:baseline"),
        ("zero_overlap pair (rejection)", zero_overlap_pair, 40, "BM_pair/coco:zero_overlap"),
    ]
    py = {name: per_call(fn, n) for name, fn, n, _ in rows}
    vd = vdiv_times(binary, [b for *_, b in rows])
    print("%-32s %14s %14s %10s" % ("item", "python us", "vdiv us", "ratio"))
    for name, _, _, bench in rows:
        print("%-32s %14.3f %14.4f %9.0fx" % (name, py[name] * 1e6, vd[bench] * 1e6, py[name] / vd[bench]))


def statistics_of(pairs):
    """pairs: array (n, 2, 4) of (left, top, width, height) -> dict of 1-D samples."""
    p = np.asarray(pairs, dtype=np.float64)
    out = {}
    for v in range(2):
        left, top, w, h = p[:, v, 0], p[:, v, 1], p[:, v, 2], p[:, v, 3]
        out["v%d area" % (v + 1)] = w * h / (W * H)
        out["v%d aspect" % (v + 1)] = w / h
        out["v%d centre x" % (v + 1)] = (left + w / 2) / W
        out["v%d centre y" % (v + 1)] = (top + h / 2) / H
    out["summed area"] = out["v1 area"] + out["v2 area"]
    return out


def vdiv_pairs(vdiv, preset, count, seed):
    text = subprocess.run([vdiv, "sample", "--preset", preset, "--width", str(W), "--height", str(H),
                           "--count", str(count), "--seed", str(seed), "--threads", "0"],
                          check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in text.splitlines()]
    assert all(r["status"] == "ok" for r in rows), "a pair fell back"
    return [r["views"] for r in rows]


def distribution(n, vdiv):
    torch.manual_seed(1234)
    t0 = time.perf_counter()
    brute, tries = [], 0
    for _ in range(n):
        (t1, l1, h1, w1), (t2, l2, h2, w2), k = zero_overlap_pair()
        brute.append([[l1, t1, w1, h1], [l2, t2, w2, h2]])
        tries += k
    seconds = time.perf_counter() - t0
    print("torchvision brute force: %d pairs, acceptance %.5f, %.1f s (%.2f ms per pair)"
          % (n, n / tries, seconds, 1e3 * seconds / n))
    reference = statistics_of(brute)
    ok = True
    for preset, must_pass in (("coco:zero_overlap", True), ("coco:zero_overlap/fast", False)):
        sample = statistics_of(vdiv_pairs(vdiv, preset, 10 * n, 5))
        results = {k: ks_2samp(sample[k], reference[k]) for k in reference}
        worst = min(results, key=lambda k: results[k].pvalue)
        passed = all(r.pvalue > 1e-4 for r in results.values())
        print("%-24s worst: %-12s KS %.4f p %.2g -> %s" % (
            preset, worst, results[worst].statistic, results[worst].pvalue,
            "same distribution" if passed else "differs"))
        for k, r in results.items():
            print("    %-12s KS %.4f p %.3g" % (k, r.statistic, r.pvalue))
        ok = ok and passed == must_pass
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bench", nargs="?", default="build/bench/sampling/bench_sampling")
    parser.add_argument("--distribution", type=int, default=0, metavar="N")
    parser.add_argument("--vdiv", default="build/bin/vdiv")
    args = parser.parse_args()
    if args.distribution:
        sys.exit(distribution(args.distribution, args.vdiv))
    speed(args.bench)


if __name__ == "__main__":
    main()
