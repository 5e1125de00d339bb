"""torch Dataset wrappers that give a training pipeline vdiv's keyed views.

A plain torchvision transform never sees the item's index, so it cannot draw the crops that are
a pure function of (seed, epoch, index). These wrappers take any map-style dataset whose items
are ``(image, boxes)`` (image: PIL image, (H, W, 3) uint8 array or (3, H, W) tensor; boxes: an
(K, 4) array-like of x0, y0, x1, y1 pixels, possibly empty), draw the views with a vdiv sampler,
crop and resize them (torchvision's ``resized_crop``), then apply the user's own transform to
each view. The crops do not depend on ``num_workers``, on a DistributedSampler's rank split or
on the batch an item lands in. Call ``set_epoch(e)`` before each epoch (as with
DistributedSampler; with ``persistent_workers=True`` the workers keep the epoch they started
with, so leave it off or rebuild the DataLoader).
"""
import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import functional as F

from . import MultiCropSampler, PairSampler

__all__ = ["PairDataset", "MultiCropDataset", "as_tensor_image"]


def as_tensor_image(image):
    """(3, H, W) uint8 tensor of a PIL image, an (H, W, 3) array or a (3, H, W) tensor."""
    if isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] not in (1, 3):
            raise ValueError("image tensors must be (C, H, W) with C = 1 or 3, got %s" % (tuple(image.shape),))
        return image
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3:
            raise ValueError("image arrays must be (H, W) or (H, W, C), got %s" % (image.shape,))
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    return F.pil_to_tensor(image.convert("RGB"))


def _boxes(boxes):
    b = np.asarray(boxes if boxes is not None else [], dtype=np.float64)
    return b.reshape(-1, 4)


class _ViewDataset(Dataset):
    def __init__(self, base, sampler, size, transform, return_info):
        self.base = base
        self.sampler = sampler
        self.size = size
        self.transform = transform
        self.return_info = return_info
        self.epoch = 0

    def __len__(self):
        return len(self.base)

    def set_epoch(self, epoch):
        """Views of epoch `epoch` from now on (call before each epoch)."""
        self.epoch = int(epoch)

    def _item(self, index):
        image, boxes = self.base[index]
        image = as_tensor_image(image)
        return image, _boxes(boxes)

    def _second(self, index):
        """lower_bound's other image: (image, (width, height, boxes), its index)."""
        _, partner = self.sampler.pair_images(self.epoch, index, len(self.base))
        image, boxes = self._item(partner)
        return image, (image.shape[2], image.shape[1], boxes), partner

    def _render(self, image, crop, size):
        left, top, width, height = crop
        view = F.resized_crop(image, top, left, height, width, [size, size], antialias=False)
        return self.transform(view) if self.transform is not None else view


class PairDataset(_ViewDataset):
    """Items ``(view1, view2)`` of a config's pair (``((view1, view2), info)`` with
    return_info: info = {"index", "epoch", "crops", "fell_back", "partner"}).

    sampler: a vdiv.PairSampler or a preset name (then ``seed`` is its seed). size: the output
    side of both views. transform: applied to each (3, size, size) uint8 view tensor.
    """

    def __init__(self, base, sampler, *, size=224, transform=None, seed=0, return_info=False):
        if isinstance(sampler, str):
            sampler = PairSampler(sampler, seed=seed)
        super().__init__(base, sampler, size, transform, return_info)

    def __getitem__(self, index):
        image, boxes = self._item(index)
        partner = None
        second = None
        image2 = image
        if self.sampler.needs_second_image:
            image2, second, partner = self._second(index)
        views, info = self.sampler.sample(image.shape[2], image.shape[1], boxes, self.epoch, index,
                                          second=second, return_info=True)
        out = (self._render(image, views[0], self.size), self._render(image2, views[1], self.size))
        if not self.return_info:
            return out
        return out, {"index": index, "epoch": self.epoch, "crops": torch.tensor(views, dtype=torch.int32),
                     "fell_back": info["fell_back"], "partner": -1 if partner is None else partner}


class MultiCropDataset(_ViewDataset):
    """Items: the list of views (2 global views of side ``size``, then the local views of side
    ``local_size``), DINO's multi-crop; with return_info, ``(views, info)``.

    sampler: a vdiv.MultiCropSampler or a preset name (then seed, local_crops, local_scale and
    local_rule configure it). transform / local_transform: applied to global / local views."""

    def __init__(self, base, sampler, *, size=224, local_size=96, transform=None,
                 local_transform=None, seed=0, local_crops=0, local_scale=(0.05, 0.4),
                 local_rule="independent", return_info=False):
        if isinstance(sampler, str):
            sampler = MultiCropSampler(sampler, seed=seed, local_crops=local_crops,
                                       local_scale=local_scale, local_rule=local_rule)
        super().__init__(base, sampler, size, transform, return_info)
        self.local_size = local_size
        self.local_transform = local_transform if local_transform is not None else transform

    def __getitem__(self, index):
        image, boxes = self._item(index)
        partner = None
        second = None
        image2 = image
        if self.sampler.needs_second_image:
            image2, second, partner = self._second(index)
        crops, info = self.sampler.sample(image.shape[2], image.shape[1], boxes, self.epoch, index,
                                          second=second, return_info=True)
        views = []
        for v, crop in enumerate(crops):
            # view 1 and the odd local views come from the second image (lower_bound)
            from_second = v == 1 or (v >= 2 and (v - 2) % 2 == 1)
            source = image2 if from_second else image
            if v < 2:
                views.append(self._render(source, crop, self.size))
            else:
                left, top, width, height = crop
                view = F.resized_crop(source, top, left, height, width, [self.local_size] * 2,
                                      antialias=False)
                views.append(self.local_transform(view) if self.local_transform is not None else view)
        if not self.return_info:
            return views
        return views, {"index": index, "epoch": self.epoch,
                       "crops": torch.tensor(crops, dtype=torch.int32),
                       "fell_back": info["fell_back"], "partner": -1 if partner is None else partner}
