#!/usr/bin/python3
"""MoCo-v2 in plain PyTorch on `vdiv make-scenes` scenes, with any view config of the paper
through vdiv.data.PairDataset: the crops are vdiv's keyed pair (the exact conditioned pair of the
config), the same for any DataLoader worker count; everything else is the usual PyTorch recipe
(torchvision ResNet-18 with a small stem, MoCo-v2 augmentations, queue, EMA key encoder, InfoNCE).
CPU-sized by default: a few minutes on 2 cores.

  build/bin/vdiv make-scenes --out /tmp/scenes --count 512 --width 160 --height 120 \\
      --size-min 24 --size-max 72
  /usr/bin/python3 examples/python/moco_v2.py --scenes /tmp/scenes --views coco:zero_overlap \\
      --epochs 2 --out /tmp/moco_zo.pt
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as nnf
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

import vdiv
from vdiv.data import PairDataset


class Scenes(Dataset):
    """(PIL image, boxes (K, 4) x0 y0 x1 y1) of a COCO-format folder (instances.json + images/)."""

    def __init__(self, folder):
        with open(os.path.join(folder, "instances.json")) as f:
            coco = json.load(f)
        boxes = {im["id"]: [] for im in coco["images"]}
        for a in coco.get("annotations", []):
            x, y, w, h = a["bbox"]
            boxes[a["image_id"]].append([x, y, x + w, y + h])
        self.items = [(os.path.join(folder, "images", im["file_name"]),
                       np.asarray(boxes[im["id"]], np.float64).reshape(-1, 4)) for im in coco["images"]]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, boxes = self.items[i]
        return Image.open(path).convert("RGB"), boxes


def augment(size):
    """MoCo-v2's augmentations after the (vdiv) crop: colour jitter, grey, blur, flip."""
    return T.Compose([
        T.ConvertImageDtype(torch.float32),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([T.GaussianBlur(3 if size < 64 else 23, (0.1, 2.0))], p=0.5),
        T.RandomHorizontalFlip(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])


def small_resnet18(dim):
    net = torchvision.models.resnet18(num_classes=dim)
    net.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)  # 32-96 px inputs
    net.maxpool = torch.nn.Identity()
    hidden = net.fc.in_features
    net.fc = torch.nn.Sequential(torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, dim))
    return net


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", required=True)
    ap.add_argument("--views", default="coco:zero_overlap", help="any vdiv preset, e.g. coco:baseline")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--queue", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="moco_v2_python.pt")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)

    data = PairDataset(Scenes(args.scenes), vdiv.PairSampler(args.views, seed=args.seed), size=args.size,
                       transform=augment(args.size), return_info=True)
    query, key = small_resnet18(128), small_resnet18(128)
    key.load_state_dict(query.state_dict())
    for p in key.parameters():
        p.requires_grad = False
    queue = nnf.normalize(torch.randn(args.queue, 128), dim=1)
    opt = torch.optim.SGD(query.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    steps = args.epochs * (len(data) // args.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    ptr, step = 0, 0
    for epoch in range(args.epochs):
        data.set_epoch(epoch)
        loader = DataLoader(data, batch_size=args.batch, shuffle=True, drop_last=True,
                            num_workers=args.workers, generator=torch.Generator().manual_seed(epoch))
        start, losses, fell_back = time.time(), [], 0
        for (v1, v2), info in loader:
            fell_back += int(info["fell_back"].sum())
            q = nnf.normalize(query(v1), dim=1)
            with torch.no_grad():
                for pq, pk in zip(query.parameters(), key.parameters()):
                    pk.mul_(0.999).add_(pq.detach(), alpha=0.001)
                k = nnf.normalize(key(v2), dim=1)
            logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.t()], 1) / 0.2
            loss = nnf.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            n = len(k)
            idx = (torch.arange(n) + ptr) % args.queue
            queue[idx] = k
            ptr = (ptr + n) % args.queue
            losses.append(loss.item())
            step += 1
        seconds = time.time() - start
        print("epoch %d loss %.4f %.1f img/s, %d pairs fell back" % (
            epoch, float(np.mean(losses)), len(losses) * args.batch / seconds, fell_back))
    torch.save(query.state_dict(), args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
