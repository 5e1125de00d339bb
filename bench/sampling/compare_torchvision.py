#!/usr/bin/python3
"""Side-by-side: torchvision 0.14 RandomResizedCrop.get_params vs vdiv, timed in the same run.

Usage: /usr/bin/python3 bench/sampling/compare_torchvision.py build-sampling/bench/sampling/bench_sampling

Python side (one core, torch.set_num_threads(1)):
  - get_params per call (scale (0.08, 1) and (0.2, 1), 640x480 image tensor)
  - a baseline pair (two get_params calls)
  - a zero_overlap pair the way a Python trainer would do it: draw two crops until they share
    no pixel (at most 64 tries)
vdiv side: the matching Google Benchmark cases (median CPU time of 5 repetitions).
Prints per-item times and the ratio python / vdiv.
"""
import json
import statistics
import subprocess
import sys
import time

import torch
from torchvision.transforms import RandomResizedCrop

torch.set_num_threads(1)
IMG = torch.empty(3, 480, 640)
RATIO = [3 / 4, 4 / 3]


def per_call(fn, n, repeats=5):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def zero_overlap_pair():
    for _ in range(64):
        t1, l1, h1, w1 = RandomResizedCrop.get_params(IMG, [0.2, 1.0], RATIO)
        t2, l2, h2, w2 = RandomResizedCrop.get_params(IMG, [0.2, 1.0], RATIO)
        if l1 + w1 <= l2 or l2 + w2 <= l1 or t1 + h1 <= t2 or t2 + h2 <= t1:
            return True
    return False


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


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build-sampling/bench/sampling/bench_sampling"
    torch.manual_seed(0)
    rows = [
        ("crop, scale (0.08,1)", lambda: RandomResizedCrop.get_params(IMG, [0.08, 1.0], RATIO), 20000,
         "BM_random_resized_crop/8"),
        ("crop, scale (0.2,1)", lambda: RandomResizedCrop.get_params(IMG, [0.2, 1.0], RATIO), 20000,
         "BM_random_resized_crop/20"),
        ("baseline pair", lambda: (RandomResizedCrop.get_params(IMG, [0.2, 1.0], RATIO),
                                   RandomResizedCrop.get_params(IMG, [0.2, 1.0], RATIO)), 10000,
         "BM_pair/coco:baseline"),
        ("zero_overlap pair (rejection)", zero_overlap_pair, 1000, "BM_pair/coco:zero_overlap"),
    ]
    py = {name: per_call(fn, n) for name, fn, n, _ in rows}
    vd = vdiv_times(binary, [b for *_, b in rows])
    print("%-32s %14s %14s %10s" % ("item", "python us", "vdiv us", "ratio"))
    for name, _, _, bench in rows:
        print("%-32s %14.3f %14.4f %9.0fx" % (name, py[name] * 1e6, vd[bench] * 1e6, py[name] / vd[bench]))


if __name__ == "__main__":
    main()
