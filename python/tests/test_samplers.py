"""The Python samplers give the C++ crops bit for bit (checked against `vdiv sample`), and bad
input raises ValueError naming the input."""
import json
import subprocess

import numpy as np
import pytest

import vdiv
from conftest import SEED

BOXES = [[10, 20, 200, 300], [300, 40, 600, 400], [50, 350, 120, 470]]
BOXES_TEXT = ";".join(",".join(str(v) for v in b) for b in BOXES)
PRESETS = vdiv.preset_names() + ["coco:zero_overlap/fast", "coco:only_background/fast",
                                 "coco:instance_vs_background/fast"]


def cli_pairs(cli, preset, count, seed, epoch, dataset_size=None):
    cmd = [cli, "sample", "--preset", preset, "--width", "640", "--height", "480", "--boxes", BOXES_TEXT,
           "--count", str(count), "--seed", str(seed), "--epoch", str(epoch)]
    if dataset_size:
        cmd += ["--dataset-size", str(dataset_size)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize("preset", PRESETS)
def test_same_crops_as_vdiv_sample(vdiv_cli, preset):
    sampler = vdiv.PairSampler(preset, seed=SEED % 1000)
    expected = cli_pairs(vdiv_cli, preset, 40, SEED % 1000, 3, dataset_size=40)
    for row in expected:
        i = row["index"]
        second = None
        if sampler.needs_second_image:
            # `vdiv sample` cuts both views from the one image it knows
            assert row["partner"] == vdiv.lower_bound_partner(sampler.seed, 3, i, 40)
            second = (640, 480, BOXES)
        views, info = sampler.sample(640, 480, BOXES, 3, i, second=second, return_info=True)
        assert [list(v) for v in views] == row["views"], (preset, i)
        assert info["fell_back"] == (row["status"] == "fallback")
        assert info["attempts"] == row["attempts"]


@pytest.mark.parametrize("preset", ["coco:zero_overlap", "coco:only_background", "coco:baseline",
                                    "imagenet100:smaller_crop_zero_overlap"])
def test_sample_batch_equals_sample_for_any_threads(preset):
    rng = np.random.default_rng(SEED)
    n = 300
    widths = rng.integers(64, 800, n)
    heights = rng.integers(64, 800, n)
    boxes = []
    for w, h in zip(widths, heights):
        k = rng.integers(0, 6)
        x0 = rng.uniform(0, w * 0.7, k)
        y0 = rng.uniform(0, h * 0.7, k)
        boxes.append(np.stack([x0, y0, x0 + rng.uniform(1, w * 0.3, k), y0 + rng.uniform(1, h * 0.3, k)], 1))
    indices = rng.integers(0, 1 << 31, n).astype(np.uint32)
    sampler = vdiv.PairSampler(preset, seed=7)
    crops, fell_back, attempts = sampler.sample_batch(widths, heights, boxes, 2, indices, threads=1)
    assert crops.shape == (n, 2, 4) and crops.dtype == np.int32
    for threads in (2, 3):
        c2, f2, a2 = sampler.sample_batch(widths, heights, boxes, 2, indices, threads=threads)
        assert np.array_equal(crops, c2) and np.array_equal(fell_back, f2) and np.array_equal(attempts, a2)
    for i in range(0, n, 17):
        views, info = sampler.sample(int(widths[i]), int(heights[i]), boxes[i], 2, int(indices[i]),
                                     return_info=True)
        assert np.array_equal(np.asarray(views), crops[i])
        assert info["fell_back"] == fell_back[i]


def test_lower_bound_needs_and_uses_the_second_image():
    sampler = vdiv.PairSampler("coco:lower_bound", seed=1)
    assert sampler.needs_second_image
    with pytest.raises(ValueError, match="lower_bound"):
        sampler.sample(640, 480, None, 0, 0)
    v1, v2 = sampler.sample(640, 480, None, 0, 0, second=(50, 60, None))
    assert v2[0] + v2[2] <= 50 and v2[1] + v2[3] <= 60
    partners = [vdiv.lower_bound_partner(1, 0, i, 10) for i in range(10)]
    assert all(p != i and 0 <= p < 10 for i, p in enumerate(partners))
    with pytest.raises(ValueError, match="at least 2"):
        vdiv.lower_bound_partner(1, 0, 0, 1)


def test_multi_crop_globals_are_the_pair():
    for preset in ("coco:baseline", "coco:zero_overlap", "coco:only_background"):
        pair = vdiv.PairSampler(preset, seed=4)
        multi = vdiv.MultiCropSampler(preset, seed=4, local_crops=3, local_rule="follow")
        for i in range(30):
            views = multi.sample(640, 480, BOXES, 1, i)
            assert len(views) == 5
            assert tuple(views[:2]) == pair.sample(640, 480, BOXES, 1, i)


def test_options_every_field_and_errors():
    o = vdiv.PairOptions("coco:zero_overlap")
    assert o.relation == "disjoint" and o.method == "exact" and o.view1_scale == pytest.approx((0.2, 1.0))
    o.view1_scale = (0.1, 0.3)
    o.view2_rule = "avoid_all"
    o.view2_threshold = 0.1
    s = vdiv.PairSampler(o, seed=0)
    v1, v2 = s.sample(640, 480, BOXES, 0, 0)
    assert v1[2] * v1[3] <= 0.3 * 640 * 480 * 1.01
    custom = vdiv.PairOptions(view1_scale=(0.05, 0.4), view2_scale=(0.05, 0.4), relation="iou_at_least",
                              relation_threshold=0.3)
    a, b = vdiv.PairSampler(custom).sample(640, 480)
    assert custom.relation == "iou_at_least"
    with pytest.raises(ValueError, match="unknown box rule"):
        vdiv.PairOptions(view1_rule="nope")
    with pytest.raises(ValueError, match="scale"):
        vdiv.PairOptions(view1_scale=(0.5, 0.1))
    with pytest.raises(ValueError, match="unknown view config"):
        vdiv.PairSampler("coco:nope")
    assert vdiv.PairOptions("coco:zero_overlap/fast").method == "constructive"


@pytest.mark.parametrize("width,height,boxes,match", [
    (0, 480, None, "size must be positive"),
    (640, 480, [[10, 10, 5, 20]], "degenerate"),
    (640, 480, [[10, 10, 700, 20]], "outside"),
    (640, 480, [[10, 10, float("nan"), 20]], "non-finite"),
    (640, 480, [[1, 2, 3]], r"\(K, 4\)"),
])
def test_bad_images(width, height, boxes, match):
    with pytest.raises(ValueError, match=match):
        vdiv.PairSampler("coco:zero_overlap").sample(width, height, boxes, 0, 0)


def test_patches_and_crops_match_the_estimator_helpers():
    assert len(vdiv.grid_patches((0, 0, 224, 224))) == 13
    a = vdiv.sampling_patches((0, 0, 224, 224), seed=1, epoch=2, index=3, view_id=1)
    assert a == vdiv.sampling_patches((0, 0, 224, 224), seed=1, epoch=2, index=3, view_id=1)
    assert len(a) == 9
    c = vdiv.random_resized_crop(640, 480, (0.2, 1.0), seed=1, index=5)
    assert c == vdiv.random_resized_crop(640, 480, (0.2, 1.0), seed=1, index=5)
    if vdiv._vdiv.has_io:
        img = (np.arange(40 * 30 * 3) % 251).astype(np.uint8).reshape(30, 40, 3)
        out = vdiv.crop_resize(img, (5, 5, 20, 10), 8, 8)
        assert out.shape == (8, 8, 3) and out.dtype == np.uint8


def test_pair_images_is_the_one_rule():
    """PairSampler/MultiCropSampler.pair_images: (index, index), or lower_bound's partner."""
    lower = vdiv.PairSampler("coco:lower_bound", seed=4)
    base = vdiv.PairSampler("coco:baseline", seed=4)
    multi = vdiv.MultiCropSampler("coco:lower_bound", seed=4)
    for i in range(20):
        assert base.pair_images(1, i, 20) == (i, i)
        assert lower.pair_images(1, i, 20) == (i, vdiv.lower_bound_partner(4, 1, i, 20))
        assert multi.pair_images(1, i, 20) == lower.pair_images(1, i, 20)
    with pytest.raises(ValueError):
        lower.pair_images(0, 0, 1)
