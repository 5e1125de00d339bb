"""vdiv.data's Dataset wrappers: the crops are a pure function of (seed, epoch, index), the same
for any DataLoader worker count and any rank split."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

import vdiv
from vdiv.data import MultiCropDataset, PairDataset
from conftest import SEED


class Scenes(torch.utils.data.Dataset):
    """Random (H, W, 3) uint8 images with a few boxes, a pure function of the index."""

    def __len__(self):
        return 24

    def __getitem__(self, i):
        rng = np.random.default_rng(SEED + i)
        h, w = int(rng.integers(48, 90)), int(rng.integers(48, 120))
        image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        k = int(rng.integers(0, 4))
        x0, y0 = rng.uniform(0, w / 2, k), rng.uniform(0, h / 2, k)
        boxes = np.stack([x0, y0, x0 + rng.uniform(2, w / 2, k), y0 + rng.uniform(2, h / 2, k)], 1)
        return image, boxes


def collect(dataset, workers, sampler=None):
    loader = DataLoader(dataset, batch_size=5, num_workers=workers, sampler=sampler)
    crops, pixels, index = [], [], []
    for (v1, v2), info in loader:
        crops.append(info["crops"])
        pixels.append(torch.stack([v1, v2], 1))
        index.append(info["index"])
    order = torch.cat(index).argsort()
    return torch.cat(crops)[order], torch.cat(pixels)[order], torch.cat(index)[order]


@pytest.mark.parametrize("preset", ["coco:zero_overlap", "coco:only_background", "coco:lower_bound"])
def test_same_views_for_any_worker_count(preset):
    ds = PairDataset(Scenes(), preset, size=32, seed=3, return_info=True)
    ds.set_epoch(2)
    reference = collect(ds, 0)
    for workers in (2, 3):
        got = collect(ds, workers)
        assert torch.equal(got[0], reference[0]) and torch.equal(got[1], reference[1])
    # the crops are the sampler's for (seed, epoch, index)
    sampler = vdiv.PairSampler(preset, seed=3)
    for i in range(len(ds)):
        image, boxes = Scenes()[i]
        second = None
        if sampler.needs_second_image:
            p = vdiv.lower_bound_partner(3, 2, i, len(ds))
            im2, b2 = Scenes()[p]
            second = (im2.shape[1], im2.shape[0], b2)
        assert tuple(map(tuple, reference[0][i].tolist())) == sampler.sample(
            image.shape[1], image.shape[0], boxes, 2, i, second=second)
    # another epoch draws other crops
    ds.set_epoch(3)
    assert not torch.equal(collect(ds, 0)[0], reference[0])


def test_same_views_for_any_rank_split():
    ds = PairDataset(Scenes(), "coco:zero_overlap", size=32, seed=5, return_info=True)
    whole = collect(ds, 0)
    parts = [collect(ds, 2, DistributedSampler(ds, num_replicas=3, rank=r, shuffle=True, seed=1))
             for r in range(3)]
    for crops, _, index in parts:
        assert torch.equal(crops, whole[0][index])


def test_user_transform_and_multi_crop():
    ds = PairDataset(Scenes(), "coco:baseline", size=24, transform=lambda v: v.float() / 255)
    v1, v2 = ds[0]
    assert v1.shape == (3, 24, 24) and v1.dtype == torch.float32 and float(v1.max()) <= 1.0
    mc = MultiCropDataset(Scenes(), "coco:zero_overlap", size=32, local_size=16, local_crops=2,
                          return_info=True)
    views, info = mc[3]
    assert [tuple(v.shape) for v in views] == [(3, 32, 32)] * 2 + [(3, 16, 16)] * 2
    pair = vdiv.PairSampler("coco:zero_overlap").sample(*Scenes()[3][0].shape[1::-1], Scenes()[3][1], 0, 3)
    assert tuple(map(tuple, info["crops"][:2].tolist())) == pair


def test_images_of_every_kind():
    """PIL images, (H, W, 3) arrays and (3, H, W) tensors give the same views."""
    from PIL import Image
    from torchvision.transforms import functional as F
    image, boxes = Scenes()[0]
    forms = [image, torch.from_numpy(image).permute(2, 0, 1), Image.fromarray(image)]

    class Kinds(torch.utils.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, k):
            return forms[k], boxes

    ds = PairDataset(Kinds(), "coco:baseline", size=16, return_info=True)
    tensor = torch.from_numpy(image).permute(2, 0, 1)
    for k in range(3):
        (v1, v2), info = ds[k]
        for view, (left, top, w, h) in zip((v1, v2), info["crops"].tolist()):
            assert torch.equal(view, F.resized_crop(tensor, top, left, h, w, [16, 16], antialias=False))
