#!/usr/bin/python3
"""PyTorch batched Sinkhorn baseline for the CUDA benchmark (the goal: vdiv's fused kernel
>= 3x this on the same GPU). Same math as vdiv / POT: C = 1 - cos (bmm on
normalised features), uniform marginals, u = 1/N, v = 1/M, T times {v = b / K^T u;
u = 1 / (diag(1/a) K v)}, S = <P, 1 - C>.

  python3 bench/ot/torch_sinkhorn.py --device cuda [--batch 65536] [--rows 13] [--dim 2048]
  python3 bench/ot/torch_sinkhorn.py --device cpu --batch 64 --check build-ot/bin/vdiv

--check runs `vdiv ot` on the same features and prints the largest |S_torch - S_vdiv|.
Features are generated on the device in chunks (fp32); timing uses CUDA events and counts
only the similarity computation (features already resident), like bench_ot_cuda.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import torch


def similarity(x, y, reg=0.05, iters=10):
    xn = x / x.norm(dim=2, keepdim=True)
    yn = y / y.norm(dim=2, keepdim=True)
    c = 1.0 - torch.bmm(xn, yn.transpose(1, 2))
    bsz, n, m = c.shape
    k = torch.exp(c / -reg)
    a = torch.full((bsz, n), 1.0 / n, device=x.device, dtype=x.dtype)
    b = torch.full((bsz, m), 1.0 / m, device=x.device, dtype=x.dtype)
    kp = k / a[:, :, None]
    u = torch.full((bsz, n), 1.0 / n, device=x.device, dtype=x.dtype)
    for _ in range(iters):
        v = b / torch.bmm(k.transpose(1, 2), u[:, :, None])[:, :, 0]
        u = 1.0 / torch.bmm(kp, v[:, :, None])[:, :, 0]
    p = u[:, :, None] * k * v[:, None, :]
    return (p * (1.0 - c)).sum(dim=(1, 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=65536)
    ap.add_argument("--rows", type=int, default=13)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--chunk", type=int, default=0, help="pairs per torch call (0: all; lower if OOM)")
    ap.add_argument("--check", default="", help="path to vdiv: compare with `vdiv ot` (small batches)")
    args = ap.parse_args()
    dev = torch.device(args.device)
    g = torch.Generator(device=dev).manual_seed(20251125)
    shape = (args.batch, args.rows, args.dim)
    x = torch.relu(torch.randn(shape, device=dev, generator=g)) + 0.01
    y = torch.relu(torch.randn(shape, device=dev, generator=g)) + 0.01
    chunk = args.chunk or args.batch

    def run():
        return torch.cat([similarity(x[i:i + chunk], y[i:i + chunk]) for i in range(0, args.batch, chunk)])

    s = run()  # warm-up
    times = []
    for _ in range(args.reps):
        if dev.type == "cuda":
            t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            t0.record()
            run()
            t1.record()
            torch.cuda.synchronize()
            times.append(t0.elapsed_time(t1))
        else:
            t0 = time.perf_counter()
            run()
            times.append(1e3 * (time.perf_counter() - t0))
    times.sort()
    med = times[len(times) // 2]
    gb = 2 * x.numel() * 4 / 1e9
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print("torch %s on %s: B=%d N=%d D=%d, median %.3f ms, %.0f GB/s effective (features read %.2f GB)" % (
        torch.__version__, name, args.batch, args.rows, args.dim, med, gb / (med * 1e-3), gb))
    if args.check:
        with tempfile.TemporaryDirectory() as d:
            import numpy as np
            xp, yp = os.path.join(d, "x.npy"), os.path.join(d, "y.npy")
            np.save(xp, x.cpu().numpy().astype(np.float32))
            np.save(yp, y.cpu().numpy().astype(np.float32))
            r = subprocess.run([args.check, "ot", "--x", xp, "--y", yp], capture_output=True, text=True, check=True)
            sv = torch.tensor(json.loads(r.stdout)["similarity"])
            print("max |S_torch - S_vdiv| = %.3g" % float((s.cpu() - sv).abs().max()))


if __name__ == "__main__":
    main()
