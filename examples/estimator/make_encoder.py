#!/usr/bin/env python3
"""Writes a TorchScript patch encoder for `vdiv score`.

A torchvision ResNet (random weights by default, or a state dict with --weights) with its
classifier removed, so it maps N x 3 x H x W images to N x D pooled features. Scripted with
torch.jit.script, loadable from C++ by torch::jit::load. Deterministic: --seed fixes the weights.

Example: /usr/bin/python3 examples/estimator/make_encoder.py --arch resnet18 --out encoder.pt
"""
import argparse

import torch
import torchvision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18",
                        choices=["resnet18", "resnet34", "resnet50", "tiny"])
    parser.add_argument("--weights", help="optional state_dict (.pt/.pth) to load")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    if args.arch == "tiny":
        # A few-layer CNN for fast tests: same interface, 64-d features.
        model = torch.nn.Sequential(
            torch.nn.Conv2d(3, 16, 5, stride=2, padding=2), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(32, 64, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    else:
        model = getattr(torchvision.models, args.arch)(weights=None)
        model.fc = torch.nn.Identity()
    if args.weights:
        state = torch.load(args.weights, map_location="cpu")
        missing, unexpected = model.load_state_dict(state, strict=False)
        print(f"loaded {args.weights}: missing={list(missing)} unexpected={list(unexpected)}")
    model.eval()
    scripted = torch.jit.script(model)
    with torch.no_grad():
        dim = scripted(torch.zeros(2, 3, 84, 84)).shape[1]
    scripted.save(args.out)
    print(f"wrote {args.out}: {args.arch}, 84x84 -> {dim}-d features")


if __name__ == "__main__":
    main()
