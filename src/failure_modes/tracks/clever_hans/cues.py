"""Taking a shortcut away: a layer that deletes a lightness cue, and augmentations that dilute it.

:class:`RemoveRamp` subtracts from each image the plane that fits it best, so a lightness ramp
carries no information at all; :func:`random_lightness` and :func:`augment` add random ramps
to every class instead, which only dilutes a ramp that one class always carries.
:func:`with_images` makes the new datasets.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from failure_modes.data.taint import Gradient
from failure_modes.utils.validation import (
    check_amplitude,
    check_dataset_arrays,
    check_positive_int,
    check_same_length,
    check_seed,
    check_targets,
    check_uint8_images,
)

__all__ = ["RemoveRamp", "augment", "random_lightness", "with_images"]

_CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


class RemoveRamp(nn.Module):
    """Preprocessing layer: subtract from each image its best-fitting plane ``a + b*row + c*col``.

    A least-squares fit removes exactly the part of an image that a constant brightness and a
    linear lightness ramp could explain, so a :class:`~failure_modes.data.taint.Gradient` added
    to an image leaves the output unchanged (up to pixels clamped at white). Put in front of a
    model, it makes the gradient shortcut invisible at training and at test time alike.

    Parameters
    ----------
    h, w : int, default 28
        Image size.
    """

    def __init__(self, h: int = 28, w: int = 28) -> None:
        super().__init__()
        h, w = check_positive_int(h, "h"), check_positive_int(w, "w")
        rows, cols = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
        planes = torch.stack([torch.ones(h * w), rows.flatten(), cols.flatten()], dim=1)
        basis, _ = torch.linalg.qr(planes)  # orthonormal columns spanning all planes
        self.register_buffer("basis", basis)
        self.shape = (h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` less its best-fitting plane, per image and channel.

        Parameters
        ----------
        x : Tensor
            ``[..., H, W]`` float inputs.

        Returns
        -------
        Tensor
            The same shape.
        """
        flat = x.flatten(-2)
        return (flat - (flat @ self.basis) @ self.basis.T).view_as(x)


def with_images(dataset: object, images: torch.Tensor, targets: torch.Tensor | None = None):
    """Return a deep copy of ``dataset`` holding ``images`` (and ``targets``) instead of its own.

    The copy keeps the dataset's class and transform, so it normalises like the original.

    Parameters
    ----------
    dataset : torchvision dataset
        uint8 ``.data``, ``.targets``; never changed.
    images : Tensor
        uint8 ``[N, H, W]``; copied.
    targets : Tensor, optional
        int ``[N]``; default the dataset's own (then ``N`` must match).

    Returns
    -------
    Dataset
        The copy, without the ``.tainted`` flags of the original.
    """
    images = check_uint8_images(images)
    check_dataset_arrays(dataset)
    if targets is None:
        check_same_length(images, dataset.targets, "images", "dataset.targets")
    targets = check_targets(dataset.targets if targets is None else targets, len(images))
    # Copy without the (possibly large) arrays, then attach the new ones.
    shell = copy.copy(dataset)
    shell.data, shell.targets = None, None
    copied = copy.deepcopy(shell)
    copied.data, copied.targets = images.clone(), targets.clone()
    if hasattr(copied, "tainted"):
        del copied.tainted
    return copied


def random_lightness(
    images: torch.Tensor, *, max_amplitude: float = 120.0, seed: int = 0
) -> torch.Tensor:
    """Augmentation: add a lightness ramp of random direction and strength to every image.

    Each image gets a :class:`~failure_modes.data.taint.Gradient` from a random corner with an
    amplitude drawn uniformly from ``[0, max_amplitude]``. Once every class carries random
    ramps, a ramp no longer tells one class from another, so a model cannot use one.

    Parameters
    ----------
    images : Tensor
        uint8 ``[N, H, W]``; never changed.
    max_amplitude : float, default 120
        Largest ramp added (0..255 scale).
    seed : int, default 0
        Seeds the random corners and strengths.

    Returns
    -------
    Tensor
        uint8 ``[N, H, W]``.
    """
    images = check_uint8_images(images)
    max_amplitude = check_amplitude(max_amplitude, "max_amplitude")
    generator = torch.Generator().manual_seed(check_seed(seed))
    h, w = images.shape[-2:]
    ramps = torch.stack([Gradient(1.0, corner).ramp(h, w) for corner in _CORNERS])
    corner = torch.randint(len(_CORNERS), (len(images),), generator=generator)
    amplitude = torch.rand(len(images), generator=generator) * max_amplitude
    lighter = images.float() + amplitude[:, None, None] * ramps[corner]
    return lighter.round().clamp(0, 255).to(torch.uint8)


def augment(dataset: object, *, copies: int = 2, seed: int = 0, **options: Any):
    """Return a new dataset of ``copies`` differently augmented copies of ``dataset``.

    Training one epoch on ``copies`` stacked copies is training ``copies`` epochs with fresh
    augmentation each time, with plain tensors (no per-item transform).

    Parameters
    ----------
    dataset : torchvision dataset
        uint8 ``.data``, ``.targets``; never changed.
    copies : int, default 2
        How many augmented copies to stack.
    seed : int, default 0
        Copy ``k`` is augmented with seed ``seed + k``.
    **options
        Passed to :func:`random_lightness`: only ``max_amplitude``; any other name is a
        ``TypeError`` that says so.

    Returns
    -------
    Dataset
        ``copies * len(dataset)`` images (:func:`with_images`).
    """
    unknown = sorted(set(options) - {"max_amplitude"})
    if unknown:
        raise TypeError(
            f"augment got unknown option(s) {unknown} in **options; the options are passed to "
            "random_lightness, which takes only max_amplitude."
        )
    check_seed(seed)
    check_positive_int(copies, "copies")
    check_dataset_arrays(dataset)
    images = torch.cat(
        [random_lightness(dataset.data, seed=seed + k, **options) for k in range(copies)]
    )
    targets = torch.as_tensor(dataset.targets).repeat(copies)
    return with_images(dataset, images, targets)
