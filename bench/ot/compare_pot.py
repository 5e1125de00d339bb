#!/usr/bin/python3
"""Side-by-side: POT 0.8 (ot.sinkhorn per pair + numpy cosine cost, the DESIGN anchor) and
vdiv's CPU engine (bench_ot, Google Benchmark, which also times cv::EMD and the machine's
floors), in the same run.

  /usr/bin/python3 bench/ot/compare_pot.py --bench build-ot/bench/ot/bench_ot [--reps 200]

Prints medians in microseconds per pair, vdiv against the machine's floor for features -> S
(max of the memory floor, a vectorised read of the pair's feature bytes, and the compute
floor, OpenBLAS sgemm of the same Gram shape; goal <= 1.3x) and against the peers. One thread
everywhere (OMP/OPENBLAS/MKL threads are pinned to 1 for numpy). The first lines say which BLAS
numpy and bench_ot run on: a peer on the reference BLAS would flatter vdiv's ratios."""
import argparse
import json
import os
import subprocess
import time

for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[v] = "1"

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import ot  # noqa: E402

D = 2048
POOL = 16


def pool(n, rng):
    x = np.maximum(rng.standard_normal((POOL, n, D)), 0).astype(np.float32)
    y = np.maximum(0.5 * rng.standard_normal((POOL, n, D)) + 0.5 * x, 0).astype(np.float32)
    x[:, :, 0] += 0.01
    y[:, :, 0] += 0.01
    return x, y


def pot_features_to_s(x, y, reg=0.05, iters=10):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    c = 1.0 - xn @ yn.T
    n, m = c.shape
    p = ot.sinkhorn(np.full(n, 1.0 / n), np.full(m, 1.0 / m), c, reg, numItermax=iters, stopThr=0, warn=False)
    return float(np.sum(p * (1.0 - c)))


def median_us(fn, reps):
    ts = []
    for r in range(reps):
        t0 = time.perf_counter()
        fn(r)
        ts.append(time.perf_counter() - t0)
    return 1e6 * float(np.median(ts))


def numpy_blas():
    """The BLAS numpy runs on: the library file loaded in this process (Debian's libblas.so.3
    is an alternatives link; pip wheels bundle OpenBLAS)."""
    a = np.ones((64, 64), dtype=np.float32)
    _ = a @ a
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            base = os.path.basename(path)
            if base.startswith("lib") and any(k in base for k in ("blas", "mkl", "blis")) and "lapack" not in base:
                libs.add(os.path.realpath(path))
    names = []
    for lib in sorted(libs):
        kind = ("OpenBLAS" if "openblas" in lib else "MKL" if "mkl" in lib else "BLIS" if "blis" in lib
                else "netlib reference BLAS (unoptimised)" if "/blas/" in lib else "?")
        names.append("%s [%s]" % (kind, lib))
    return "; ".join(names) or "none found"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="path to bench_ot")
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(20251125)
    pot = {}
    for n in (9, 13, 49):
        x, y = pool(n, rng)
        pot[("sinkhorn", n)] = median_us(lambda r: pot_features_to_s(x[r % POOL], y[r % POOL]), args.reps)
        xn = x / np.linalg.norm(x, axis=2, keepdims=True)
        yn = y / np.linalg.norm(y, axis=2, keepdims=True)
        costs = [(1.0 - xn[k] @ yn[k].T).astype(np.float64) for k in range(POOL)]
        a = np.full(n, 1.0 / n)
        pot[("emd_solve", n)] = median_us(lambda r: ot.emd2(a, a, costs[r % POOL]), args.reps)
        w = np.full((n, 1), 1.0 / n, dtype=np.float32)
        c32 = [c.astype(np.float32) for c in costs]
        pot[("cv2_emd_solve_py", n)] = median_us(lambda r: cv2.EMD(w, w, cv2.DIST_USER, cost=c32[r % POOL]), args.reps)
    out = subprocess.run([args.bench, "--benchmark_format=json", "--benchmark_repetitions=5",
                          "--benchmark_report_aggregates_only=true", "--benchmark_min_time=0.2"],
                         capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    ctx = report["context"]
    print("numpy %s on %s; POT %s; OpenCV %s; OPENBLAS_NUM_THREADS=%s" % (
        np.__version__, numpy_blas(), ot.__version__, cv2.__version__, os.environ["OPENBLAS_NUM_THREADS"]))
    print("bench_ot runtime: %s" % ctx.get("runtime", "?"))
    print("load average at the start of bench_ot: %s" % ", ".join("%.2f" % v for v in ctx.get("load_avg", [])))
    vd = {}
    for b in report["benchmarks"]:
        if b.get("aggregate_name") == "median":
            name = b["run_name"]
            vd[name] = b["cpu_time"] / 1e3 if b["time_unit"] == "ns" else b["cpu_time"]
    print("median us per pair, one thread, D = 2048 (vdiv: CPU time, Google Benchmark median of 5)")
    print()
    print("features -> S against the machine's floor (goal: vdiv <= 1.3x max(memory, compute)):")
    print("| N | memory floor (read) | compute floor (OpenBLAS sgemm, hot) | OpenBLAS sgemm, cycled pool "
          "| vdiv Gram + norms + cost | vdiv sinkhorn (features->S) | vdiv / floor | goal |")
    print("|---|---|---|---|---|---|---|---|")
    for n in (9, 13, 49):
        mem, comp = vd["BM_read_floor/%d" % n], vd["BM_sgemm_floor/%d" % n]
        floor = max(mem, comp)
        vs = vd["BM_vdiv_sinkhorn/%d" % n]
        print("| %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.2fx | %s |" % (
            n, mem, comp, vd["BM_sgemm_cycled/%d" % n], vd["BM_gram/%d" % n], vs, vs / floor,
            "met" if vs <= 1.3 * floor else "NOT met"))
    print()
    print("against the peers (POT + numpy on the BLAS above, cv::EMD of OpenCV):")
    print("| N | POT sinkhorn+numpy cost | vdiv sinkhorn (features->S) | ratio "
          "| vdiv exact (features->S) | cv::EMD (features->S) | vdiv exact solve | cv::EMD solve | ratio | POT ot.emd2 solve |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in (9, 13, 49):
        ps = pot[("sinkhorn", n)]
        vs = vd["BM_vdiv_sinkhorn/%d" % n]
        es = vd["BM_vdiv_exact_solve/%d" % n]
        cs = vd["BM_cv_emd_solve/%d" % n]
        print("| %d | %.1f | %.1f | %.1fx | %.1f | %.1f | %.1f | %.1f | %.1fx | %.1f |" % (
            n, ps, vs, ps / vs, vd["BM_vdiv_exact/%d" % n], vd["BM_cv_emd/%d" % n],
            es, cs, cs / es, pot[("emd_solve", n)]))
    print("python cv2.EMD solve (incl. binding overhead): " +
          ", ".join("N=%d %.1f us" % (n, pot[("cv2_emd_solve_py", n)]) for n in (9, 13, 49)))
    for k in ("BM_vdiv_sinkhorn_xref/13", "BM_vdiv_sinkhorn_log/13"):
        print("%s: %.1f us" % (k, vd[k]))


if __name__ == "__main__":
    main()
