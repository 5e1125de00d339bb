#!/usr/bin/python3
"""The estimator's core loop in Python: pairs of views -> patches -> any torch encoder ->
vdiv.similarity. For the same scenes, encoder and seed it gives the scores `vdiv score` gives
(the pair keys, image selection, crops, patches and resizing are vdiv's own, through the vdiv
module; only the encoder call and the batching are Python's).

  /usr/bin/python3 examples/python/estimator.py --scenes demo/scenes --encoder demo/encoder.pt \\
      --configs baseline,zero_overlap --pairs 16 --seed 0
"""
import argparse
import json
import os

import numpy as np
import torch

import vdiv

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def load_scenes(folder):
    """(image path, boxes (K, 4) x0 y0 x1 y1) per image, in the order of instances.json."""
    with open(os.path.join(folder, "instances.json")) as f:
        coco = json.load(f)
    boxes = {im["id"]: [] for im in coco["images"]}
    for a in coco.get("annotations", []):
        x, y, w, h = a["bbox"]
        boxes[a["image_id"]].append([x, y, x + w, y + h])
    return [(os.path.join(folder, "images", im["file_name"]), np.asarray(boxes[im["id"]], np.float32).reshape(-1, 4))
            for im in coco["images"]]


def select_images(count, fraction, seed):
    """vdiv's keyed shuffle of the dataset (estimator::select_images): a uniform prefix."""
    order = []
    for i in range(count):
        w = vdiv.random_words(seed=seed, epoch=0xFFFFFFFF, index=i, view=0, stream=0x5E1, counter=0)
        order.append(((w[0] << 32) | w[1], i))
    order.sort()
    keep = max(1, int(round(fraction * count)))
    return [i for _, i in order[:keep]]


def pair_patches(sampler, data, selected, pair, seed, strategy, view_size, patch_size):
    """The 2 x P patches of pair `pair` as float32 (2P, 3, s, s) in [0, 1], or None if it fell back."""
    epoch, index = divmod(pair, len(selected))
    first, second = (selected[i] for i in sampler.pair_images(epoch, index, len(selected)))
    images = [vdiv.read_image(data[first][0])]
    images.append(vdiv.read_image(data[second][0]) if second != first else images[0])
    other = (images[1].shape[1], images[1].shape[0], data[second][1]) if sampler.needs_second_image else None
    views, info = sampler.sample(images[0].shape[1], images[0].shape[0], data[first][1], epoch, index,
                                 second=other, return_info=True)
    if info["fell_back"]:
        return None
    out = []
    for v in range(2):
        view = vdiv.crop_resize(images[v], views[v], view_size, view_size)
        whole = (0, 0, view_size, view_size)
        patches = vdiv.grid_patches(whole) if strategy == "grid" else vdiv.sampling_patches(
            whole, seed=seed, epoch=epoch, index=index, view_id=v, stream=1)
        for p in patches:
            out.append(vdiv.crop_resize(view, p, patch_size, patch_size))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float().div_(255.0)


def score(scenes, encoder, configs, pairs=None, seed=0, fraction=1.0, strategy="grid", view_size=224,
          patch_size=84, reg=0.05, iters=10, dataset="coco", chunk=8):
    """{config: (pair indices, S)} for the scored pairs, as `vdiv score` computes them (pairs
    whose sampler fell back are skipped, as its default)."""
    data = load_scenes(scenes)
    selected = select_images(len(data), fraction, seed)
    pairs = pairs or len(selected)
    module = torch.jit.optimize_for_inference(torch.jit.load(encoder).eval())
    results = {}
    for config in configs:
        sampler = vdiv.PairSampler("%s:%s" % (dataset, config), seed=seed)
        scores, indices = [], []
        for start in range(0, pairs, chunk):
            prepared = [(p, pair_patches(sampler, data, selected, p, seed, strategy, view_size, patch_size))
                        for p in range(start, min(pairs, start + chunk))]
            indices.extend(p for p, b in prepared if b is not None)
            batch = [b for _, b in prepared if b is not None]
            if not batch:
                continue
            with torch.no_grad():
                features = module((torch.cat(batch) - MEAN) / STD)
            if features.dim() == 4:
                features = features.mean((2, 3))
            per_view = features.shape[0] // (2 * len(batch))
            f = features.float().reshape(len(batch), 2, per_view, -1)
            s = vdiv.similarity(f[:, 0].contiguous(), f[:, 1].contiguous(), reg=reg, iters=iters)
            scores.extend(s.tolist())
        results[config] = (np.asarray(indices), np.asarray(scores))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", required=True)
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--configs", default="baseline,zero_overlap")
    ap.add_argument("--pairs", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strategy", default="grid", choices=["grid", "sampling"])
    args = ap.parse_args()
    torch.set_num_threads(2)
    for config, (_, s) in score(args.scenes, args.encoder, args.configs.split(","), args.pairs,
                                args.seed, strategy=args.strategy).items():
        print("%-28s mean S %.4f over %d pairs" % (config, s.mean(), len(s)))


if __name__ == "__main__":
    main()
