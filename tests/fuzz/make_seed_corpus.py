#!/usr/bin/python3
"""Writes the small seed corpora of the fuzz targets (corpus/<target>/): valid inputs of each
format plus a few near misses, so fuzzing starts from every branch of the readers. Deterministic
(seed 0); rerun after changing a format, then commit corpus/. Needs numpy and PIL (Debian)."""
import gzip
import io
import json
import os
import struct
import sys

import numpy as np
from PIL import Image

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
rng = np.random.default_rng(0)


def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy(a, fortran=False, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, np.asfortranarray(a) if fortran else a)
    else:
        np.lib.format.write_array(buf, a, version=version)
    return buf.getvalue()


# .npy
a = rng.standard_normal((2, 3, 4)).astype(np.float32)
put("npy", "batch.npy", npy(a))
put("npy", "matrix.npy", npy(a[0]))
put("npy", "fortran.npy", npy(a[0], fortran=True))
put("npy", "version2.npy", npy(a[0], version=(2, 0)))
put("npy", "float64.npy", npy(a[0].astype(np.float64)))
put("npy", "empty.npy", npy(np.zeros((0, 4), np.float32)))
put("npy", "truncated.npy", npy(a[0])[:-4])
put("npy", "big_endian.npy", npy(a[0].astype(">f4")))


# IDX (MNIST format)
def idx(dims, payload, dtype=8):
    return bytes([0, 0, dtype, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


images = idx([2, 3, 3], bytes(range(18)))
put("idx", "images.idx", images)
put("idx", "images.idx.gz", gzip.compress(images, mtime=0))
put("idx", "labels.idx.gz", gzip.compress(idx([4], bytes([0, 9, 3, 1])), mtime=0))
put("idx", "two_members.gz", gzip.compress(images[:10], mtime=0) + gzip.compress(images[10:], mtime=0))
put("idx", "short.idx", images[:-1])
put("idx", "int_type.idx", idx([2], bytes(8), dtype=0x0C))

# COCO instances JSON
coco = {
    "info": {"description": "seed"},
    "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
               {"id": 2, "file_name": "b.jpg", "width": 32.0, "height": 32}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 3, "bbox": [4, 5, 20, 10], "iscrowd": 0, "area": 200},
        {"id": 2, "image_id": 1, "category_id": 3, "bbox": [50, 40, 30, 30], "iscrowd": 1,
         "segmentation": {"counts": [1, 2], "size": [48, 64]}},
        {"id": 3, "image_id": 2, "category_id": 1, "bbox": [-3, 2, 0, 5], "iscrowd": 0},
        {"id": 4, "image_id": 9, "category_id": 1, "bbox": [1, 1, 2, 2]},
        {"id": 5, "image_id": 2, "category_id": 7, "bbox": [1.5, 2.5, 3.25, 4]}],
    "categories": [{"id": 1, "name": "shirt"}, {"id": 3, "name": "bag", "supercategory": "x"}],
}
put("coco", "instances.json", json.dumps(coco))
put("coco", "no_annotations.json", json.dumps({"images": coco["images"]}))
put("coco", "compact.json", json.dumps(coco, separators=(",", ":")))
put("coco", "syntax_error.json", json.dumps(coco)[:-20])
put("coco", "wrong_type.json", json.dumps({"images": [{"id": "1", "file_name": 2, "width": 1, "height": 1}]}))

# Pseudo-box JSON of ImageFolder datasets
put("pseudo_boxes", "boxes.json", json.dumps({"a/1.jpg": [[1, 2, 30, 40], [0, 0, 5, 5]],
                                              "b/x.png": [], "a/2.jpg": [[1, 1, 2, 2]] * 5,
                                              "c/none.jpg": [[0, 0, 1, 1]]}))
put("pseudo_boxes", "invalid_boxes.json", '{"a/1.jpg": [[5, 5, 1, 1], [0, 0, 1e39, 3], [1, 2, 3]]}')
put("pseudo_boxes", "not_object.json", "[[1, 2, 3, 4]]")


# Images
def encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


pixels = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
rgb = Image.fromarray(pixels, "RGB")
put("image", "rgb.jpg", encode(rgb, "JPEG", quality=80))
put("image", "progressive.jpg", encode(rgb, "JPEG", quality=60, progressive=True))
put("image", "grey.jpg", encode(rgb.convert("L"), "JPEG"))
put("image", "cmyk.jpg", encode(rgb.convert("CMYK"), "JPEG"))
put("image", "rgb.png", encode(rgb, "PNG"))
put("image", "rgba.png", encode(rgb.convert("RGBA"), "PNG"))
put("image", "palette.png", encode(rgb.convert("P"), "PNG"))
put("image", "grey16.png", encode(Image.fromarray((pixels[..., 0].astype(np.uint16) * 257), "I;16"), "PNG"))
put("image", "truncated.jpg", encode(rgb, "JPEG")[:-30])
put("image", "truncated.png", encode(rgb, "PNG")[:-10])

# --boxes text
for i, text in enumerate(["100,80,260,300;380,200,600,460", "0,0,640,480", " 1.5 , 2 ,3,4 ;",
                          "10,10,20,20;10,10,20,20;30,30,40,40;50,50,600,470", "1e3,0,2,2", "",
                          "5,5,5,5", "nan,1,2,3"]):
    put("boxes", "boxes_%d.txt" % i, text)

# Score checkpoints
header = json.dumps({"vdiv_score_checkpoint": 2, "run": {"seed": "0", "configs": "baseline"}})
lines = [json.dumps({"config": "baseline", "index": 0, "similarity": 0.5}),
         json.dumps({"config": "baseline", "index": 1, "skipped": "corrupt image"}),
         json.dumps({"config": "zero_overlap", "index": 4, "similarity": 0.25, "fell_back": True})]
put("checkpoint", "good.jsonl", "\n".join([header] + lines) + "\n")
put("checkpoint", "torn.jsonl", "\n".join([header] + lines) + "\n" + lines[0][:17])
put("checkpoint", "old_format.jsonl", json.dumps({"vdiv_score_checkpoint": 1, "run": "abc"}) + "\n")
put("checkpoint", "damaged.jsonl", header + "\n" + json.dumps({"config": "baseline", "index": -1, "similarity": 1}) + "\n")
print("seed corpora written to", root, file=sys.stderr)
