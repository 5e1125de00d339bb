#!/usr/bin/python3
"""Runs the bad-input table (cases.tsv): every row's command must exit with the row's status
and print the row's message fragment. Builds the shared fixtures first (malformed .npy, COCO
and IDX files, generated scenes, a tiny TorchScript encoder). Rows whose needs are not met are
skipped and listed (e.g. `score` under a vdiv built without LibTorch).

usage: run_bad_inputs.py --vdiv PATH --work DIR [--moco PATH] [--dino PATH] [--only NAME,...]
Prints one line per row; exits 1 if any row fails."""
import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
FMNIST = os.environ.get("VDIV_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
SEED = 12  # every random fixture derives from it
print("bad-input table, fixture seed %d" % SEED)


def npy_with_header(header, payload):
    header = header + " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def save(path, array):
    np.save(path, array)


def make_npy_fixtures(fx):
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((13, 64)).astype(np.float32)
    save(os.path.join(fx, "x.npy"), x)
    save(os.path.join(fx, "y.npy"), rng.standard_normal((13, 64)).astype(np.float32))
    save(os.path.join(fx, "batch.npy"), rng.standard_normal((2, 13, 64)).astype(np.float32))
    save(os.path.join(fx, "vector.npy"), rng.standard_normal(64).astype(np.float32))
    save(os.path.join(fx, "wrong_dim.npy"), rng.standard_normal((13, 32)).astype(np.float32))
    save(os.path.join(fx, "f64.npy"), x.astype(np.float64))
    save(os.path.join(fx, "big_endian.npy"), x.astype(">f4"))
    nan = x.copy()
    nan[3, 5] = np.nan
    save(os.path.join(fx, "nan.npy"), nan)
    good = open(os.path.join(fx, "x.npy"), "rb").read()
    open(os.path.join(fx, "cut4.npy"), "wb").write(good[:-4])
    open(os.path.join(fx, "cut1000.npy"), "wb").write(good[:-1000])
    open(os.path.join(fx, "trailing.npy"), "wb").write(good + b"\0" * 8)
    open(os.path.join(fx, "not_npy.npy"), "wb").write(b"hello, not an array\n")
    open(os.path.join(fx, "bad_header.npy"), "wb").write(
        npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (13 64), }", good[128:]))
    open(os.path.join(fx, "huge_shape.npy"), "wb").write(
        npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387905, 8), }",
                        b"\0" * 64))
    open(os.path.join(fx, "corrupt.jpg"), "wb").write(b"\xff\xd8\xff\xe0 not really a JPEG")


def make_idx_fixtures(fx):
    cut = os.path.join(fx, "fmnist_cut")
    os.makedirs(cut, exist_ok=True)
    images = bytes([0, 0, 8, 3]) + struct.pack(">III", 60000, 28, 28) + bytes(1000)
    labels = bytes([0, 0, 8, 1]) + struct.pack(">I", 60000) + bytes(60000)
    open(os.path.join(cut, "train-images-idx3-ubyte.gz"), "wb").write(gzip.compress(images, mtime=0))
    open(os.path.join(cut, "train-labels-idx1-ubyte.gz"), "wb").write(gzip.compress(labels, mtime=0))
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        open(os.path.join(cut, name), "wb").write(gzip.compress(labels[:8], mtime=0))


def make_json_fixtures(fx):
    open(os.path.join(fx, "malformed.json"), "w").write('{"images": [{"id": 1,, "file_name": "a.jpg"}]}')
    json.dump({"images": [{"id": 1, "file_name": 7, "width": 10, "height": 10}]},
              open(os.path.join(fx, "wrong_type.json"), "w"))
    json.dump({"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10},
                          {"id": 1, "file_name": "b.jpg", "width": 10, "height": 10}]},
              open(os.path.join(fx, "duplicate_id.json"), "w"))
    folder = os.path.join(fx, "folder", "cls")
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, "a.jpg"), "wb").write(b"\xff\xd8\xff")
    json.dump({"cls/a.jpg": [[1, 2, 3]]}, open(os.path.join(fx, "bad_pseudo_boxes.json"), "w"))


def make_scene_fixtures(fx, vdiv):
    scenes = os.path.join(fx, "scenes")
    subprocess.run([vdiv, "make-scenes", "--out", scenes, "--count", "16", "--width", "96",
                    "--height", "72", "--size-min", "16", "--size-max", "40", "--seed", str(SEED)],
                   check=True, stdout=subprocess.DEVNULL)
    coco = json.load(open(os.path.join(scenes, "instances.json")))
    no_annotations = dict(coco)
    no_annotations.pop("annotations")
    json.dump(no_annotations, open(os.path.join(fx, "no_annotations.json"), "w"))
    bad = dict(coco)
    extra = [{"id": 9001, "image_id": 999, "category_id": 1, "bbox": [1, 1, 5, 5]},    # unknown image
             {"id": 9002, "image_id": 1, "category_id": 1, "bbox": [4, 4, -3, 5]},    # invalid
             {"id": 9003, "image_id": 1, "category_id": 1, "bbox": [500, 4, 10, 5]}]  # outside
    bad["annotations"] = coco["annotations"] + extra
    json.dump(bad, open(os.path.join(fx, "bad_boxes.json"), "w"))


def make_encoder(fx):
    subprocess.run(["/usr/bin/python3", os.path.join(SOURCE, "examples/estimator/make_encoder.py"),
                    "--arch", "tiny", "--out", os.path.join(fx, "tiny.pt")],
                   check=True, stdout=subprocess.DEVNULL)


def read_cases():
    rows = []
    for line in open(os.path.join(HERE, "cases.tsv")):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        name, needs, status, fragment, command = line.split("\t")
        rows.append((name, [n for n in needs.split(",") if n != "-"], int(status), fragment, command))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vdiv", required=True)
    ap.add_argument("--moco")
    ap.add_argument("--dino")
    ap.add_argument("--work", required=True)
    ap.add_argument("--only")
    args = ap.parse_args()
    vdiv = os.path.abspath(args.vdiv)
    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    fx = os.path.join(work, "fixtures")
    os.makedirs(fx)

    help_text = subprocess.run([vdiv, "--help"], capture_output=True, text=True).stdout
    have = {"score": "\n  score " in help_text,
            "fmnist": os.path.exists(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")),
            "moco": bool(args.moco) and os.path.exists(args.moco),
            "dino": bool(args.dino) and os.path.exists(args.dino)}
    rows = read_cases()
    if args.only:
        wanted = set(args.only.split(","))
        rows = [r for r in rows if r[0] in wanted]
    runnable = [r for r in rows if all(have.get(n, False) for n in r[1])]

    make_npy_fixtures(fx)
    make_idx_fixtures(fx)
    make_json_fixtures(fx)
    needs = {n for r in runnable for n in r[1]}
    if "fmnist" in needs:
        make_scene_fixtures(fx, vdiv)
    if "score" in needs:
        make_encoder(fx)

    failures, skipped = [], [r[0] for r in rows if r not in runnable]
    for name, _, status, fragment, command in runnable:
        w = os.path.join(work, name)
        os.makedirs(w)
        subst = {"{vdiv}": vdiv, "{moco}": os.path.abspath(args.moco or ""),
                 "{dino}": os.path.abspath(args.dino or ""), "{fx}": fx, "{w}": w}
        for key, value in subst.items():
            command = command.replace(key, value)
            fragment = fragment.replace(key, value)
        try:
            r = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300,
                               errors="replace")
            out, code = r.stdout + r.stderr, r.returncode
        except subprocess.TimeoutExpired:
            out, code = "timed out after 300 s (a hang)", None
        ok = code == status and fragment in out
        print("%-40s %s  exit %s (want %d)" % (name, "ok  " if ok else "FAIL", code, status))
        if not ok:
            failures.append(name)
            print("    command:  %s\n    expected: %r\n    output:   %s" %
                  (command, fragment, out.strip().replace("\n", "\n              ")[-1500:]))
    print("%d rows: %d passed, %d failed, %d skipped%s" %
          (len(rows), len(runnable) - len(failures), len(failures), len(skipped),
           (" (needs not met: %s)" % ", ".join(skipped)) if skipped else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
