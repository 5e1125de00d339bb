#!/usr/bin/env python3
"""A small reimplementation of the DINO recipe (Caron et al. 2021) in python torch/torchvision,
used as the throughput baseline of vdiv's LibTorch trainer (bench/torch/run_dino_bench.sh).

Same work per step as `vdiv-dino --views coco:baseline --arch vit_tiny`: the same ViT (patch 8,
dim 128, depth 4, 4 heads, MLP ratio 4, LayerNorm eps 1e-6, GELU, CLS token, position embedding
bicubically resized for local crops) and DINO head (3-layer GELU MLP to a bottleneck, L2
normalisation, weight-normalised last layer with its norm fixed to 1), written as vdiv's
examples/common/models.hpp writes them; two global views (RandomResizedCrop scale 0.2-1, the
config's pair) and K local views (scale 0.05-0.4) with DINO's augmentations (jitter
0.4/0.4/0.2/0.1 p=0.8, grayscale 0.2, PIL Gaussian blur 1.0 / 0.1 / 0.5, solarisation 0.2 on
the second global view, flip); student on all views grouped by resolution, EMA teacher on the
globals, centred and sharpened cross-entropy, AdamW (weights decayed, biases and norms not),
per-parameter gradient clipping at 3, last layer frozen in the first epoch, teacher EMA and
centre update every step. Data: a COCO-format folder (`vdiv make-scenes` output) read with PIL
through a torch DataLoader with worker processes.

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
import torchvision.transforms as T
from PIL import Image, ImageFilter, ImageOps


class PilBlur:
    def __init__(self, p, sigma=(0.1, 2.0)):
        self.p, self.sigma = p, sigma

    def __call__(self, img):
        if random.random() >= self.p:
            return img
        return img.filter(ImageFilter.GaussianBlur(radius=random.uniform(*self.sigma)))


class Solarize:
    def __init__(self, p):
        self.p = p

    def __call__(self, img):
        return ImageOps.solarize(img) if random.random() < self.p else img


class MultiCrop:
    """DINO's DataAugmentationDINO with the config's global scale."""

    def __init__(self, size, local_size, local_crops, global_scale=(0.2, 1.0), local_scale=(0.05, 0.4)):
        flip_jitter = T.Compose([
            T.RandomHorizontalFlip(p=0.5),
            T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
            T.RandomGrayscale(p=0.2),
        ])
        norm = T.Compose([T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
        bicubic = T.InterpolationMode.BICUBIC
        self.global1 = T.Compose([T.RandomResizedCrop(size, scale=global_scale, interpolation=bicubic),
                                  flip_jitter, PilBlur(1.0), norm])
        self.global2 = T.Compose([T.RandomResizedCrop(size, scale=global_scale, interpolation=bicubic),
                                  flip_jitter, PilBlur(0.1), Solarize(0.2), norm])
        self.local = T.Compose([T.RandomResizedCrop(local_size, scale=local_scale, interpolation=bicubic),
                                flip_jitter, PilBlur(0.5), norm])
        self.local_crops = local_crops

    def __call__(self, img):
        return [self.global1(img), self.global2(img)] + [self.local(img) for _ in range(self.local_crops)]


class Scenes(torch.utils.data.Dataset):
    def __init__(self, root, transform):
        with open(os.path.join(root, "instances.json")) as f:
            meta = json.load(f)
        self.files = [os.path.join(root, "images", im["file_name"]) for im in meta["images"]]
        self.transform = transform

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return self.transform(Image.open(self.files[i]).convert("RGB"))


def trunc_normal_(t, std):
    with torch.no_grad():
        return t.normal_(0.0, std).clamp_(-2 * std, 2 * std)


def linear(i, o):
    layer = nn.Linear(i, o)
    trunc_normal_(layer.weight, 0.02)
    nn.init.zeros_(layer.bias)
    return layer


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = linear(dim, 3 * dim)
        self.proj = linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = linear(dim, dim * mlp_ratio)
        self.fc2 = linear(dim * mlp_ratio, dim)

    def forward(self, x):
        b, n, c = x.shape
        t = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = t[0], t[1], t[2]
        attn = torch.softmax(q @ k.transpose(-2, -1) * (1.0 / math.sqrt(c // self.heads)), -1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, image_size, patch=8, dim=128, depth=4, heads=4, mlp_ratio=4):
        super().__init__()
        self.grid, self.dim = image_size // patch, dim
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls = nn.Parameter(trunc_normal_(torch.zeros(1, 1, dim), 0.02))
        self.pos = nn.Parameter(trunc_normal_(torch.zeros(1, 1 + self.grid ** 2, dim), 0.02))
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def position(self, gh, gw):
        if gh == self.grid and gw == self.grid:
            return self.pos
        p = self.pos[:, 1:].reshape(1, self.grid, self.grid, self.dim).permute(0, 3, 1, 2)
        p = F.interpolate(p, size=(gh, gw), mode="bicubic", align_corners=False)
        return torch.cat([self.pos[:, :1], p.permute(0, 2, 3, 1).reshape(1, gh * gw, self.dim)], 1)

    def forward(self, x):
        b = x.shape[0]
        x = self.patch_embed(x)
        gh, gw = x.shape[2], x.shape[3]
        x = torch.cat([self.cls.expand(b, -1, -1), x.flatten(2).transpose(1, 2)], 1) + self.position(gh, gw)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)[:, 0]


class DinoHead(nn.Module):
    def __init__(self, in_dim, out_dim, hidden=512, bottleneck=128):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = linear(in_dim, hidden), linear(hidden, hidden), linear(hidden, bottleneck)
        self.last_v = nn.Parameter(trunc_normal_(torch.empty(out_dim, bottleneck), 0.02))
        self.last_g = nn.Parameter(torch.ones(out_dim, 1), requires_grad=False)  # norm_last_layer

    def forward(self, x):
        h = F.normalize(self.fc3(F.gelu(self.fc2(F.gelu(self.fc1(x))))), dim=-1, p=2)
        return h @ (self.last_g * self.last_v / self.last_v.norm(2, dim=1, keepdim=True)).t()


class DinoNet(nn.Module):
    def __init__(self, size, out_dim):
        super().__init__()
        self.backbone, self.head = ViT(size), DinoHead(128, out_dim)

    def forward(self, views):
        feats, i = [], 0
        while i < len(views):  # grouped by resolution: one backbone call per group
            j = i
            while j < len(views) and views[j].shape[-1] == views[i].shape[-1]:
                j += 1
            feats.append(self.backbone(torch.cat(views[i:j], 0)))
            i = j
        return self.head(torch.cat(feats, 0))


def dino_loss(student, teacher, center, views, student_temp, teacher_temp):
    s = (student / student_temp).chunk(views)
    t = torch.softmax((teacher - center) / teacher_temp, -1).detach().chunk(2)
    total, terms = 0.0, 0
    for iq in range(2):
        for v in range(views):
            if v == iq:
                continue
            total = total + (-t[iq] * F.log_softmax(s[v], -1)).sum(-1).mean()
            terms += 1
    return total / terms


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--local-size", type=int, default=16)
    ap.add_argument("--local-crops", type=int, default=2)
    ap.add_argument("--out-dim", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    data = Scenes(args.data, MultiCrop(args.size, args.local_size, args.local_crops))
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, shuffle=True, drop_last=True,
                                         num_workers=args.workers, persistent_workers=args.workers > 0)
    student, teacher = DinoNet(args.size, args.out_dim), DinoNet(args.size, args.out_dim)
    teacher.load_state_dict(student.state_dict())
    for p in teacher.parameters():
        p.requires_grad = False
    center = torch.zeros(1, args.out_dim)
    decayed = [p for p in student.parameters() if p.requires_grad and p.dim() > 1]
    plain = [p for p in student.parameters() if p.requires_grad and p.dim() == 1]
    lr = 0.0005 * args.batch / 256
    opt = torch.optim.AdamW([{"params": decayed}, {"params": plain, "weight_decay": 0.0}], lr=lr)
    nviews = 2 + args.local_crops
    step, t0, images = 0, None, 0
    while step < args.steps:
        for views in loader:
            frac = step / max(1, args.steps)
            for g, group in enumerate(opt.param_groups):  # cosine lr and weight decay, as vdiv-dino
                group["lr"] = 1e-6 + (lr - 1e-6) * 0.5 * (1 + math.cos(math.pi * frac))
                group["weight_decay"] = (0.4 + (0.04 - 0.4) * 0.5 * (1 + math.cos(math.pi * frac))) if g == 0 else 0.0
            with torch.no_grad():
                t_out = teacher(views[:2])
            s_out = student(views)
            loss = dino_loss(s_out, t_out, center, nviews, 0.1, 0.04)
            opt.zero_grad()
            loss.backward()
            with torch.no_grad():
                for p in student.parameters():  # DINO's clip_gradients: each parameter on its own
                    if p.grad is not None:
                        coef = 3.0 / (p.grad.norm().item() + 1e-6)
                        if coef < 1:
                            p.grad.mul_(coef)
            student.head.last_v.grad = None  # first epoch: last layer frozen
            opt.step()
            with torch.no_grad():
                m = 1 - (1 - 0.996) * (math.cos(math.pi * frac) + 1) / 2
                for ps, pt in zip(student.parameters(), teacher.parameters()):
                    pt.mul_(m).add_(ps.detach(), alpha=1 - m)
                center.mul_(0.9).add_(t_out.mean(0, keepdim=True), alpha=0.1)
            step += 1
            if step == args.warmup:
                t0 = time.perf_counter()
            elif step > args.warmup:
                images += views[0].shape[0]
            print(f"step {step} loss {loss.item():.4f}", flush=True)
            if step >= args.steps:
                break
    secs = time.perf_counter() - t0
    print(f"throughput: {images / secs:.2f} img/s ({images} images in {secs:.1f} s after {args.warmup} warm-up steps)")


if __name__ == "__main__":
    main()
