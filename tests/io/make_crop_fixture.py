#!/usr/bin/python3
"""Writes the crop_resize reference fixture: torchvision's resized_crop (tensor path, bilinear,
antialias=False) of skimage's astronaut photo for a few crops and output sizes.

Run with Debian's python3 (python3-torchvision 0.14, python3-skimage):
    /usr/bin/python3 tests/io/make_crop_fixture.py
Writes tests/io/data/crop_fixture.txt and tests/io/data/crop_*.png (committed).
"""
import os

import numpy as np
import skimage.io
import torch
import torchvision
from torchvision.transforms import InterpolationMode
import torchvision.transforms.functional as F

SOURCE = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# (left, top, width, height, out_w, out_h): down-, up- and anisotropic scaling, an identity,
# and one crop reaching outside the image (torchvision pads with zeros).
CASES = [
    (0, 0, 512, 512, 224, 224),
    (100, 60, 300, 250, 224, 224),
    (37, 211, 97, 131, 224, 224),
    (250, 10, 200, 400, 84, 84),
    (5, 300, 40, 30, 96, 96),
    (120, 80, 64, 64, 64, 64),
    (400, 400, 200, 150, 120, 90),
]


def main():
    image = skimage.io.imread(SOURCE)[:, :, :3]
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()
    lines = [
        "# torchvision %s, torch %s: F.resized_crop(uint8 CHW tensor, top, left, height, width,"
        " [out_h, out_w], BILINEAR, antialias=False)" % (torchvision.__version__, torch.__version__),
        "# source %s %dx%d pixel_sum %d" % (SOURCE, image.shape[1], image.shape[0], int(image.astype(np.int64).sum())),
        "# left top width height out_w out_h file",
    ]
    for k, (left, top, width, height, out_w, out_h) in enumerate(CASES):
        out = F.resized_crop(tensor, top, left, height, width, [out_h, out_w],
                             interpolation=InterpolationMode.BILINEAR, antialias=False)
        name = "crop_%d.png" % k
        skimage.io.imsave(os.path.join(HERE, name), out.permute(1, 2, 0).numpy(), check_contrast=False)
        lines.append("%d %d %d %d %d %d %s" % (left, top, width, height, out_w, out_h, name))
    with open(os.path.join(HERE, "crop_fixture.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
