"""vdiv: view diversity for self-supervised learning, from Python.

The C++ library inside (``vdiv._vdiv``), with the same results bit for bit as C++ for the same
keys:

- keyed view samplers - ``PairSampler`` (every paper config, the exact conditioned pair by
  default), ``MultiCropSampler`` (DINO), ``lower_bound_partner``; every crop is a pure function
  of (seed, epoch, index), so it does not depend on DataLoader workers or ranks;
- ``similarity``: batched EMD / Sinkhorn similarity S = <P, 1 - C> on numpy arrays and torch
  tensors (CPU in place; CUDA float32 when the module was built with CUDA);
- patches and crops as the estimator uses them: ``grid_patches``, ``sampling_patches``,
  ``read_image``, ``crop_resize``.

``vdiv.data`` (needs torch) wraps any map-style dataset of (image, boxes) into a Dataset that
returns the keyed views. docs/python-api.md has the API and how it maps to the C++ names.
"""
from . import _vdiv
from ._vdiv import (PairOptions, grid_patches, lower_bound_partner, preset_names,
                    random_resized_crop, random_words, sampling_patches)

__all__ = ["PairOptions", "PairSampler", "MultiCropSampler", "lower_bound_partner",
           "preset_names", "random_resized_crop", "random_words", "grid_patches",
           "sampling_patches",
           "similarity", "read_image", "crop_resize", "has_cuda", "__version__"]

__version__ = _vdiv.version
has_cuda = _vdiv.has_cuda

if _vdiv.has_io:
    from ._vdiv import crop_resize, read_image


def _options(preset_or_options):
    if isinstance(preset_or_options, PairOptions):
        return preset_or_options
    if isinstance(preset_or_options, str):
        return PairOptions(preset_or_options)
    raise TypeError("expected a preset name such as 'coco:zero_overlap' or a vdiv.PairOptions, got "
                    + type(preset_or_options).__name__)


class PairSampler(_vdiv._PairSampler):
    """Positive pairs of one configuration: ``PairSampler("coco:zero_overlap", seed=0)``.

    ``sample(width, height, boxes, epoch, index)`` -> ((left, top, width, height), (...)),
    boxes an (K, 4) array of x0, y0, x1, y1 pixels (or None); ``return_info=True`` adds
    {"fell_back", "attempts"}. lower_bound needs ``second=(width, height, boxes)`` of the image
    ``lower_bound_partner(seed, epoch, index, dataset_size)`` names.
    ``sample_batch(widths, heights, boxes_list, epoch, indices, threads=1)`` -> (crops int32
    (B, 2, 4), fell_back bool (B,), attempts uint32 (B,)).
    """

    def __init__(self, preset, seed=0):
        super().__init__(_options(preset), seed)

    def __repr__(self):
        return "vdiv.PairSampler(%r, seed=%d)" % (self.options, self.seed)


class MultiCropSampler(_vdiv._MultiCropSampler):
    """DINO views: the config's pair as the two global views, plus ``local_crops`` local views
    (scale ``local_scale``; ``local_rule`` "independent" or "follow"). ``sample(...)`` returns the
    list of crops (globals first)."""

    def __init__(self, preset, seed=0, local_crops=0, local_scale=(0.05, 0.4),
                 local_rule="independent", max_local_attempts=1024):
        super().__init__(_options(preset), seed, local_crops, tuple(local_scale), local_rule,
                         max_local_attempts)


def _is_torch(t):
    return type(t).__module__.split(".")[0] == "torch"


def _as_array(t, name):
    """numpy/torch stay as they are (read in place); anything else becomes a numpy array."""
    if hasattr(t, "__dlpack__"):
        return t
    import numpy as np
    try:
        return np.asarray(t, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError("%s must be an array of numbers: %s" % (name, e)) from None


def similarity(x, y, *, weights="uniform", solver="sinkhorn", reg=0.05, iters=10, tol=0.0,
               cross_reference_eps=1e-3, log_fallback=True, return_plan=False, threads=1,
               return_report=False):
    """EMD similarity S = <P, 1 - C> with C = 1 - cos(x_i, y_j), for one pair or a batch.

    x, y: (N, D) / (M, D) or (B, N, D) / (B, M, D), float32 or float64, numpy arrays or torch
    tensors (any strides, read in place; CUDA tensors run the CUDA backend on the current
    stream, float32 only). weights: "uniform", "cross_reference" (DeepEMD) or a pair (a, b) of
    marginals ((N,) / (M,) or batched). solver: "sinkhorn" (POT's ot.sinkhorn), "sinkhorn_log"
    or "exact" (network simplex, as ot.emd). Returns S as a float (one pair) or an array /
    tensor of B values in the input's library and device; with return_plan, also the plans
    (CPU only); with return_report, also the fallback counters (e.g. Sinkhorn numerical stops,
    solved again in the log domain when log_fallback). Bad input raises ValueError naming the
    item and row.
    """
    import numpy as np
    x = _as_array(x, "x")
    y = _as_array(y, "y")
    torch_in = _is_torch(x)
    shape = tuple(x.shape)
    if len(shape) not in (2, 3):
        raise ValueError("x must be N x D or B x N x D features, got shape %s" % (shape,))
    batch = shape[0] if len(shape) == 3 else 1
    stream = 0
    if torch_in:
        import torch
        if not _is_torch(y):
            raise ValueError("x is a torch tensor but y is not: pass both as tensors or both as arrays")
        out = torch.empty(batch, dtype=x.dtype, device=x.device)
        if x.is_cuda:
            stream = torch.cuda.current_stream(x.device).cuda_stream
    else:
        if _is_torch(y):
            raise ValueError("y is a torch tensor but x is not: pass both as tensors or both as arrays")
        out = np.empty(batch, dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float32)
    a = b = None
    if isinstance(weights, (tuple, list)):
        if len(weights) != 2:
            raise ValueError("weights must be 'uniform', 'cross_reference' or a pair (a, b)")
        a, b = weights
        if torch_in:
            a = a.to(dtype=x.dtype).contiguous() if _is_torch(a) else torch.as_tensor(a, dtype=x.dtype)
            b = b.to(dtype=x.dtype).contiguous() if _is_torch(b) else torch.as_tensor(b, dtype=x.dtype)
        else:
            a = np.ascontiguousarray(a, dtype=out.dtype)
            b = np.ascontiguousarray(b, dtype=out.dtype)
        weights = "user"
    plan = None
    if return_plan:
        n, m = shape[-2], tuple(y.shape)[-2]
        if torch_in:
            plan = torch.empty((batch, n, m), dtype=x.dtype)
        else:
            plan = np.empty((batch, n, m), dtype=out.dtype)
    report = _vdiv._similarity(x, y, out, weights, a, b, solver, float(reg), int(iters),
                               float(tol), float(cross_reference_eps), bool(log_fallback), plan,
                               int(threads), int(stream))
    if len(shape) == 2:
        result = float(out[0])
        plan_out = plan[0] if plan is not None else None
    else:
        result = out
        plan_out = plan
    extras = []
    if return_plan:
        extras.append(plan_out)
    if return_report:
        extras.append(report)
    return (result, *extras) if extras else result
