#!/usr/bin/env python3
"""A small reimplementation of the MoCo-v2 recipe (Chen et al. 2020) in python torch/torchvision,
used as the throughput baseline of vdiv's LibTorch trainer (bench/torch/run_moco_bench.sh).

Same work per step as `vdiv-moco-v2 --views coco:baseline`: two RandomResizedCrop(scale 0.2-1)
views per image with the "aug_plus" augmentations (colour jitter 0.4/0.4/0.4/0.1 p=0.8, grayscale
p=0.2, PIL Gaussian blur sigma 0.1-2 p=0.5, flip), ImageNet normalisation, a torchvision
ResNet-18 with MoCo's MLP head (hidden = 512, dim 128), key encoder by momentum 0.999, queue of K
negatives, InfoNCE at T=0.2, SGD 0.9 / wd 1e-4 with cosine lr. Data: a COCO-format folder
(`vdiv make-scenes` output) read with PIL through a torch DataLoader with worker processes.

Prints 'throughput: X img/s' measured over the steps after --warmup steps.
"""
import argparse
import json
import math
import os
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T
from PIL import Image, ImageFilter


class PilBlur:
    """MoCo-v2's blur: PIL GaussianBlur with a radius drawn in [0.1, 2]."""

    def __init__(self, sigma=(0.1, 2.0)):
        self.sigma = sigma

    def __call__(self, img):
        return img.filter(ImageFilter.GaussianBlur(radius=random.uniform(*self.sigma)))


class Scenes(torch.utils.data.Dataset):
    def __init__(self, root, transform):
        with open(os.path.join(root, "instances.json")) as f:
            meta = json.load(f)
        self.files = [os.path.join(root, "images", im["file_name"]) for im in meta["images"]]
        self.transform = transform

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        img = Image.open(self.files[i]).convert("RGB")
        return self.transform(img), self.transform(img)


class MoCo(nn.Module):
    def __init__(self, dim=128, k=65536, m=0.999, t=0.2):
        super().__init__()
        self.k, self.m, self.t = k, m, t

        def encoder():
            net = torchvision.models.resnet18(num_classes=dim)
            hidden = net.fc.weight.shape[1]
            net.fc = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, dim))
            return net

        self.encoder_q, self.encoder_k = encoder(), encoder()
        for pq, pk in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            pk.data.copy_(pq.data)
            pk.requires_grad = False
        self.register_buffer("queue", F.normalize(torch.randn(dim, k), dim=0))
        self.ptr = 0

    @torch.no_grad()
    def _momentum_update(self):
        for pq, pk in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            pk.data.mul_(self.m).add_(pq.data, alpha=1.0 - self.m)

    @torch.no_grad()
    def _enqueue(self, keys):
        n = keys.shape[0]
        idx = (torch.arange(n) + self.ptr) % self.k
        self.queue[:, idx] = keys.T
        self.ptr = (self.ptr + n) % self.k

    def forward(self, im_q, im_k):
        q = F.normalize(self.encoder_q(im_q), dim=1)
        with torch.no_grad():
            self._momentum_update()
            # single process: shuffling BN has no effect; shuffle anyway to do the same work
            perm = torch.randperm(im_k.shape[0])
            k = self.encoder_k(im_k[perm])
            k = F.normalize(k[torch.argsort(perm)], dim=1)
        l_pos = (q * k).sum(1, keepdim=True)
        l_neg = q @ self.queue.clone().detach()
        logits = torch.cat([l_pos, l_neg], 1) / self.t
        loss = F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long))
        self._enqueue(k)
        return loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--queue", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    normalize = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    aug = T.Compose([
        T.RandomResizedCrop(args.size, scale=(0.2, 1.0)),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([PilBlur()], p=0.5),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        normalize,
    ])
    data = Scenes(args.data, aug)
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, shuffle=True, drop_last=True,
                                         num_workers=args.workers, persistent_workers=args.workers > 0)
    model = MoCo(k=args.queue)
    lr = 0.03 * args.batch / 256
    opt = torch.optim.SGD(model.encoder_q.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    model.train()
    step, t0, images = 0, None, 0
    while step < args.steps:
        for v1, v2 in loader:
            for g in opt.param_groups:
                g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / args.steps))
            loss = model(v1, v2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step == args.warmup:
                t0 = time.perf_counter()
            elif step > args.warmup:
                images += v1.shape[0]
            print(f"step {step} loss {loss.item():.4f}", flush=True)
            if step >= args.steps:
                break
    secs = time.perf_counter() - t0
    print(f"throughput: {images / secs:.2f} img/s ({images} images in {secs:.1f} s after {args.warmup} warm-up steps)")


if __name__ == "__main__":
    main()
