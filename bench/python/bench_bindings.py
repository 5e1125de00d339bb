#!/usr/bin/python3
"""The Python bindings against C++ and against Python peers, in the same run, one thread.

  /usr/bin/python3 bench/python/bench_bindings.py --build build

Sampling: PairSampler.sample_batch of 65,536 pairs (coco:baseline and coco:zero_overlap, 640x480)
against the C++ core (bench_sampling's BM_pair median) - goal >= 50% of C++ pairs/s - and
against the same config drawn in Python with torchvision's get_params (two calls per pair;
zero_overlap by brute-force rejection) - goal >= 100x.
All times are CPU time of one thread (process_time here, cpu_time in Google Benchmark).
OT: vdiv.similarity on a (4096, 13, 2048) float32 torch tensor and on the C++ benchmark's hot
16-pair pool, per pair, against bench_ot's BM_vdiv_sinkhorn_batch16/13 (goal: within 1.2x), POT
0.8 (ot.sinkhorn + numpy cosine cost, per pair) and bench/ot/torch_sinkhorn.py (batched
PyTorch, same BLAS).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import ot
import torch
from torchvision.transforms import RandomResizedCrop

import vdiv

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "ot"))
import torch_sinkhorn  # noqa: E402


def median_time(fn, repeats=5):
    # CPU time of this process, as Google Benchmark's cpu_time on the C++ side: on a shared
    # machine wall time counts the other processes' turns (at load 8 on 2 cores, ~4x).
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def gbench(binary, names):
    flt = "|".join("^%s$" % n for n in names)
    out = subprocess.run([binary, "--benchmark_filter=" + flt, "--benchmark_format=json",
                          "--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3}[b["time_unit"]]
            res[b["run_name"]] = b["cpu_time"] * unit
            if "us_per_pair" in b:  # an inverted rate counter: JSON holds seconds per pair
                res[b["run_name"] + ":us_per_pair"] = b["us_per_pair"]
    return res


def sampling(build):
    n = 65536
    widths = np.full(n, 640)
    heights = np.full(n, 480)
    boxes = [None] * n
    indices = np.arange(n, dtype=np.uint32)
    cpp = gbench(os.path.join(build, "bench", "sampling", "bench_sampling"),
                 ["BM_pair/coco:baseline", "BM_pair/coco:zero_overlap"])
    img = torch.empty(3, 480, 640)
    ratio = [3 / 4, 4 / 3]

    def tv_baseline():
        RandomResizedCrop.get_params(img, [0.2, 1.0], ratio)
        RandomResizedCrop.get_params(img, [0.2, 1.0], ratio)

    def tv_zero_overlap():
        while True:
            t1, l1, h1, w1 = RandomResizedCrop.get_params(img, [0.2, 1.0], ratio)
            t2, l2, h2, w2 = RandomResizedCrop.get_params(img, [0.2, 1.0], ratio)
            if l1 + w1 <= l2 or l2 + w2 <= l1 or t1 + h1 <= t2 or t2 + h2 <= t1:
                return

    print("%-24s %14s %14s %9s %16s %9s" % ("sampling, per pair", "python us", "C++ us", "py/C++",
                                             "torchvision us", "tv/py"))
    for preset, tv, tv_n in (("coco:baseline", tv_baseline, 5000), ("coco:zero_overlap", tv_zero_overlap, 30)):
        sampler = vdiv.PairSampler(preset, seed=7)
        count = n if preset == "coco:baseline" else n // 8
        t = median_time(lambda: sampler.sample_batch(widths[:count], heights[:count], boxes[:count], 0,
                                                     indices[:count], threads=1), repeats=3) / count
        t_tv = median_time(lambda: [tv() for _ in range(tv_n)], repeats=3) / tv_n
        c = cpp["BM_pair/" + preset]
        print("%-24s %14.3f %14.3f %8.2fx %16.1f %8.0fx" % (preset, t * 1e6, c * 1e6, t / c, t_tv * 1e6, t_tv / t))


def similarity(build):
    rng = np.random.default_rng(20251125)
    b, n, d = 4096, 13, 2048
    x = torch.from_numpy(rng.standard_normal((b, n, d), dtype=np.float32) + 0.1)
    y = torch.from_numpy(rng.standard_normal((b, n, d), dtype=np.float32) + 0.1)
    hot_x, hot_y = x[:16].clone(), y[:16].clone()
    t_big = median_time(lambda: vdiv.similarity(x, y), repeats=3) / b
    t_hot = median_time(lambda: [vdiv.similarity(hot_x, hot_y) for _ in range(64)]) / (64 * 16)
    cpp = gbench(os.path.join(build, "bench", "ot", "bench_ot"), ["BM_vdiv_sinkhorn_batch16/13"])
    c = cpp["BM_vdiv_sinkhorn_batch16/13:us_per_pair"]
    xs, ys = x[:64].numpy().astype(np.float64), y[:64].numpy().astype(np.float64)
    a = np.full(n, 1.0 / n)

    def pot():
        for k in range(64):
            xn = xs[k] / np.linalg.norm(xs[k], axis=1, keepdims=True)
            yn = ys[k] / np.linalg.norm(ys[k], axis=1, keepdims=True)
            cost = 1.0 - xn @ yn.T
            p = ot.sinkhorn(a, a, cost, 0.05, numItermax=10, stopThr=0)
            float((p * (1.0 - cost)).sum())

    import warnings
    warnings.filterwarnings("ignore", message="Sinkhorn did not converge")
    t_pot = median_time(pot, repeats=3) / 64
    t_torch = median_time(lambda: torch_sinkhorn.similarity(x[:1024], y[:1024]), repeats=3) / 1024
    print()
    print("OT, N = 13, D = 2048, per pair, one thread")
    print("  vdiv.similarity, (4096, 13, 2048) tensor  %8.2f us" % (t_big * 1e6))
    print("  vdiv.similarity, hot 16-pair pool         %8.2f us  (%.2fx the C++ batch16 %.2f us)"
          % (t_hot * 1e6, t_hot / c, c * 1e6))
    print("  POT ot.sinkhorn + numpy cost             %8.2f us  (%.1fx vdiv's tensor time)" % (t_pot * 1e6, t_pot / t_big))
    print("  PyTorch batched (torch_sinkhorn.py)      %8.2f us  (%.1fx)" % (t_torch * 1e6, t_torch / t_big))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    print("vdiv %s from %s; numpy %s, torch %s; torch threads %d" % (
        vdiv.__version__, vdiv.__file__, np.__version__, torch.__version__, torch.get_num_threads()))
    sampling(args.build)
    similarity(args.build)


if __name__ == "__main__":
    main()
