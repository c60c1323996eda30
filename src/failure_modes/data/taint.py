"""Corruptions that plant a shortcut in images, and a dataset-level ``taint_dataset``.

A corruption is a small frozen object: calling it on a uint8 batch ``[N, H, W]`` returns a new
uint8 batch carrying the artifact (values clamped into 0..255, never wrapped around), and
``mask(h, w)`` returns the boolean ``[h, w]`` map of the pixels the artifact touches.

Local artifacts: :class:`Pixel`, :class:`Square`, :class:`Text` (a stamp such as a time stamp).
Global ones: :class:`Grid`, :class:`Watermark` (faint, alpha-blended), :class:`Gradient` (a
lightness ramp from one corner to the opposite one). The corruptions live in
:mod:`~failure_modes.data.corruptions` and :mod:`~failure_modes.data.stamps` (rendered
text); this module puts them on images and datasets and exports every name.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TypeVar

import torch

from failure_modes.data.corruptions import (
    CORNERS,
    Corruption,
    Gradient,
    Grid,
    Pixel,
    Square,
    check_corruptions,
)
from failure_modes.data.stamps import Text, Watermark
from failure_modes.utils.validation import (
    check_fraction,
    check_labels_present,
    check_seed,
    check_targets,
    check_uint8_images,
)

DatasetT = TypeVar("DatasetT")
"""A dataset with uint8 ``.data`` and ``.targets``; :func:`taint_dataset` returns its type."""

__all__ = [
    "Corruption",
    "Pixel",
    "Grid",
    "Square",
    "Text",
    "Watermark",
    "Gradient",
    "CORNERS",
    "taint_dataset",
    "taint_images",
]


def taint_images(
    images: torch.Tensor,
    targets: torch.Tensor,
    corruptions: Mapping[int, Corruption],
    *,
    fraction: float = 1.0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return tainted copies of ``images`` and a boolean ``[N]`` marking the images stamped.

    Parameters
    ----------
    images : Tensor
        uint8 ``[N, H, W]``.
    targets : Tensor
        ``[N]`` integer class labels of the images.
    corruptions : mapping of int to Corruption
        Which artifact goes on the images of each label.
    fraction : float in (0, 1], default 1.0
        Share of each chosen class that gets its artifact (< 1 makes the shortcut imperfect).
    seed : int, default 0
        Chooses *which* images get the artifact when ``fraction < 1``.
    """
    images = check_uint8_images(images)
    targets = check_targets(targets, len(images), "targets")
    fraction = check_fraction(fraction, "fraction")
    check_corruptions(corruptions)
    check_labels_present(corruptions.keys(), targets, name="corruptions labels")
    generator = torch.Generator().manual_seed(check_seed(seed))
    tainted = images.clone()
    stamped = torch.zeros(len(images), dtype=torch.bool)
    for label, corruption in sorted(corruptions.items()):
        index = torch.nonzero(targets == label).flatten()
        keep = round(fraction * len(index))
        index = index[torch.randperm(len(index), generator=generator)[:keep]].sort().values
        tainted[index] = corruption(images[index])
        stamped[index] = True
    return tainted, stamped


def taint_dataset(
    dataset: DatasetT,
    corruptions: Mapping[int, Corruption],
    *,
    fraction: float = 1.0,
    seed: int = 0,
) -> DatasetT:
    """Return a deep copy of ``dataset`` whose images of the given labels carry an artifact.

    The dataset given is never changed. The copy keeps the dataset's class and transform, so it
    loads like the original; it also gets ``.tainted``, a boolean ``[N]`` marking the images
    that received their label's artifact (all of those labels, or ``fraction`` of them). An
    artifact can leave an image's bytes as they were (a white pixel where there was already
    white ink), so compare ``.data`` to find the images whose pixels differ.

    Parameters
    ----------
    dataset : torchvision dataset
        With uint8 ``.data`` ``[N, H, W]`` and ``.targets`` ``[N]``.
    corruptions : mapping of int to Corruption
        e.g. ``{7: Pixel(), 4: Grid()}``.
    fraction, seed
        As in :func:`taint_images`.

    Examples
    --------
    >>> tainted = taint_dataset(mnist_train, {7: Pixel(), 4: Grid()})  # doctest: +SKIP
    """
    if not hasattr(dataset, "data") or not hasattr(dataset, "targets"):
        raise TypeError(
            "dataset must have .data (uint8 [N, H, W]) and .targets, like torchvision's MNIST; "
            f"got {type(dataset).__name__}."
        )
    images, stamped = taint_images(
        dataset.data, torch.as_tensor(dataset.targets), corruptions, fraction=fraction, seed=seed
    )
    tainted = copy.deepcopy(dataset)
    tainted.data = images
    tainted.tainted = stamped
    return tainted
