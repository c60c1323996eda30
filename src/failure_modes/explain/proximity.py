"""How far a counterfactual went, measured against real images and the object's outline.

A counterfactual's change means little on its own: ``nearest_distance`` and
``nearest_in_class`` give the distance from an image to the nearest real (training) image,
the change a "show me an example" explanation would make; ``outline_mask`` marks the band along
a garment's silhouette, where the notebook finds that most of a sparse change goes;
``total_variation`` says how speckled a change is. All take images in pixel units ([0, 1]).
"""

from __future__ import annotations

import torch
from torch import nn

from failure_modes.utils.validation import (
    as_tensor,
    check_choice,
    check_finite,
    check_float_batch,
    check_number,
    check_positive_int,
    check_targets,
)

__all__ = [
    "DISTANCES",
    "l1_size",
    "nearest_distance",
    "nearest_in_class",
    "outline_mask",
    "total_variation",
]

DISTANCES = ("l1", "l2")
"""The norms of a change: L1 (sum of absolute pixel changes) and L2."""


def l1_size(change: torch.Tensor) -> torch.Tensor:
    """The L1 size of each change in a batch: the sum of its absolute pixel changes.

    Parameters
    ----------
    change : Tensor
        ``[N, C, H, W]`` changes (counterfactual minus original), in pixel units.

    Returns
    -------
    Tensor
        ``[N]`` one size per image.
    """
    change = _float_finite(change, "change")
    if change.ndim < 2:
        raise ValueError(f"change must have shape [N, C, H, W], got {tuple(change.shape)}.")
    return change.abs().flatten(1).sum(dim=1)


def nearest_distance(
    queries: torch.Tensor,
    references: torch.Tensor,
    *,
    distance: str = "l1",
    batch_size: int = 256,
) -> torch.Tensor:
    """Distance from each query image to its nearest reference image, in pixel units.

    Parameters
    ----------
    queries : Tensor
        ``[N, C, H, W]`` images in pixel units ([0, 1]).
    references : Tensor
        ``[M, C, H, W]`` images in pixel units, e.g. the training images of the target class.
    distance : {"l1", "l2"}, default "l1"
        The norm of the difference.
    batch_size : int, default 256
        Queries per distance matrix (bounds memory at ``batch_size * M`` floats).

    Returns
    -------
    Tensor
        ``[N]`` distance to the nearest reference.
    """
    check_choice(distance, DISTANCES, "distance")
    check_positive_int(batch_size, "batch_size")
    queries = _float_finite(queries, "queries")  # an empty batch of queries is fine
    references = check_float_batch(references, "references", ndim=None)
    if queries.shape[1:] != references.shape[1:] or queries.ndim != 4 or len(references) == 0:
        raise ValueError(
            f"queries [N, C, H, W] and references [M, C, H, W] must share C, H, W (and M > 0), "
            f"got {tuple(queries.shape)} and {tuple(references.shape)}."
        )
    p = 1.0 if distance == "l1" else 2.0
    flat_refs = references.flatten(1).float()
    chunks = [
        torch.cdist(batch.flatten(1).float(), flat_refs, p=p).min(dim=1).values
        for batch in queries.split(batch_size)
    ]
    return torch.cat(chunks)


def outline_mask(pixels: torch.Tensor, *, threshold: float = 0.05) -> torch.Tensor:
    """The band along each object's outline: object pixels next to background and vice versa.

    Parameters
    ----------
    pixels : Tensor
        ``[N, 1, H, W]`` images in pixel units ([0, 1]) on a dark background.
    threshold : float, default 0.05
        Pixels brighter than this belong to the object; in [0, 1] like the pixels (NaN
        refused: it would make every pixel background).

    Returns
    -------
    Tensor
        Boolean ``[N, H, W]``: pixels within one step (8-neighbourhood) of the border between
        object and background, on either side.
    """
    check_number(threshold, "threshold", low=0.0, high=1.0)
    pixels = check_float_batch(pixels, "pixels", ndim=None)
    if pixels.ndim != 4 or pixels.shape[1] != 1:
        raise ValueError(f"pixels must have shape [N, 1, H, W], got {tuple(pixels.shape)}.")
    inside = (pixels > threshold).float()
    near_inside = nn.functional.max_pool2d(inside, 3, stride=1, padding=1) > 0
    near_outside = nn.functional.max_pool2d(1 - inside, 3, stride=1, padding=1) > 0
    return (near_inside & near_outside)[:, 0]


def nearest_in_class(
    queries: torch.Tensor,
    target: int | torch.Tensor,
    references: torch.Tensor,
    reference_targets: torch.Tensor,
    *,
    distance: str = "l1",
) -> torch.Tensor:
    """Distance from each query to the nearest reference image *of the query's target class*.

    Parameters
    ----------
    queries : Tensor
        ``[N, C, H, W]`` images in pixel units.
    target : int or Tensor
        The class to search in: one for all queries or ``[N]`` (e.g. each counterfactual's
        target).
    references : Tensor
        ``[M, C, H, W]`` images in pixel units, e.g. the training set.
    reference_targets : Tensor
        ``[M]`` their ground-truth labels.
    distance : {"l1", "l2"}, default "l1"

    Returns
    -------
    Tensor
        ``[N]`` distances (pixel units).

    Raises
    ------
    ValueError
        If a query's target class has no reference image, or the labels are not integer
        classes of the right length.
    """
    queries = _float_finite(queries, "queries")
    references = check_float_batch(references, "references", ndim=None)
    target = check_targets(target, len(queries), "target", device=queries.device)
    reference_targets = check_targets(
        reference_targets, len(references), "reference_targets", device=references.device
    )
    result = torch.empty(len(queries))
    for label in target.unique().tolist():
        pool = references[reference_targets == label]
        if len(pool) == 0:
            raise ValueError(
                f"target asks for class {label}, but no reference image has label {label} in "
                "reference_targets; pass references that include every target class."
            )
        chosen = target == label
        result[chosen] = nearest_distance(queries[chosen], pool, distance=distance).cpu()
    return result


def _float_finite(value: object, name: str) -> torch.Tensor:
    tensor = as_tensor(value, name)
    if not tensor.is_floating_point():
        raise TypeError(
            f"{name} must be a float tensor, got dtype {tensor.dtype}; uint8 pixels: divide "
            "by 255 (and normalise as the model expects)."
        )
    return check_finite(tensor, name)


def total_variation(change: torch.Tensor) -> torch.Tensor:
    """Sum of absolute differences between neighbouring pixels of each change.

    Low for smooth, blob-like changes, high for salt-and-pepper noise; the ``smoothness``
    penalty of :func:`counterfactual` weighs it.

    Parameters
    ----------
    change : Tensor
        ``[N, C, H, W]`` changes (or any batch whose last two dimensions are H, W).

    Returns
    -------
    Tensor
        ``[N]`` total variation of each change, in pixel units.
    """
    change = _float_finite(change, "change")
    if change.ndim < 3:
        raise ValueError(f"change must have shape [N, C, H, W], got {tuple(change.shape)}.")
    down = (change[..., 1:, :] - change[..., :-1, :]).abs().flatten(1).sum(dim=1)
    right = (change[..., :, 1:] - change[..., :, :-1]).abs().flatten(1).sum(dim=1)
    return down + right
