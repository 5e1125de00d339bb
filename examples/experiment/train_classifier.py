#!/usr/bin/python3
"""The experiment's independent scoring encoder: a small CNN trained supervised on Fashion-MNIST
(Debian's dataset-fashion-mnist, grey replicated to RGB, resized to --size), exported as a
TorchScript feature extractor (N x 3 x size x size in [0, 1] after ImageNet normalisation ->
N x D, the penultimate layer), the way `vdiv score --encoder` reads encoders. Trained once and
independent of the view configs it scores; `vdiv score --patch-size SIZE` feeds it patches at
its training resolution.

  /usr/bin/python3 examples/experiment/train_classifier.py --out runs/exp/classifier.pt
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder, split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(folder, "%s-images-idx3-ubyte.gz" % prefix))
    y = read_idx(os.path.join(folder, "%s-labels-idx1-ubyte.gz" % prefix))
    return torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64))


def to_input(x, size):
    """uint8 (N, 28, 28) -> normalised float (N, 3, size, size), as vdiv score feeds encoders."""
    t = x.float().div(255.0).unsqueeze(1)
    t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return (t.expand(-1, 3, -1, -1) - MEAN) / STD


class Features(nn.Module):
    """Four conv blocks and a global average pool: N x 3 x H x W -> N x width*8."""

    def __init__(self, width=32):
        super().__init__()
        layers, c = [], 3
        for k, out in enumerate([width, width * 2, width * 4, width * 8]):
            layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            if k < 3:
                layers.append(nn.MaxPool2d(2))
            c = out
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x).mean((2, 3))


class Normalised(nn.Module):
    """The exported encoder: vdiv score normalises with ImageNet's mean/std itself."""

    def __init__(self, features):
        super().__init__()
        self.features = features

    def forward(self, x):
        return self.features(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=os.environ.get("VDIV_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images only (0: all 60,000)")
    ap.add_argument("--test-limit", type=int, default=0, help="test on the first N images only (0: all 10,000)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    xtr, ytr = load(args.data, "train")
    xte, yte = load(args.data, "test")
    if args.limit:
        xtr, ytr = xtr[:args.limit], ytr[:args.limit]
    if args.test_limit:
        xte, yte = xte[:args.test_limit], yte[:args.test_limit]
    features = Features(args.width)
    head = nn.Linear(args.width * 8, 10)
    model = nn.Sequential(features, head)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    steps = args.epochs * (len(xtr) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps)
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(args.seed * 1000 + epoch))
        total = 0.0
        for i in range(0, len(perm) - args.batch + 1, args.batch):
            idx = perm[i:i + args.batch]
            x = to_input(xtr[idx], args.size)
            if torch.rand(1).item() < 0.5:
                x = x.flip(3)
            loss = F.cross_entropy(model(x), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        print("epoch %d loss %.4f (%.0f s)" % (epoch, total / (len(perm) // args.batch), time.time() - start), flush=True)
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(xte), 1000):
            correct += (model(to_input(xte[i:i + 1000], args.size)).argmax(1) == yte[i:i + 1000]).sum().item()
    accuracy = correct / len(xte)
    print("test accuracy %.4f" % accuracy)
    scripted = torch.jit.script(Normalised(features).eval())
    scripted.save(args.out)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump({"test_accuracy": accuracy, "size": args.size, "epochs": args.epochs, "width": args.width,
                   "seed": args.seed, "dim": args.width * 8, "seconds": round(time.time() - start, 1)}, f)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
