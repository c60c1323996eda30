"""Contrastive explanations: a classifier's mistakes, and their counterfactual inputs.

Both figures label each image with what the model answers, so that a reader sees the mistake
(or its correction) without a table beside the picture.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from failure_modes.plotting._arrays import as_batch
from failure_modes.plotting.images import plot_images
from failure_modes.utils.validation import check_non_empty, check_same_length, check_targets

__all__ = ["plot_counterfactuals", "plot_mistakes"]


def _names(labels: Sequence[int], class_names: Sequence[str], name: str) -> list[str]:
    """The class name of each label; whole class indices in range only, or an error naming ``name``."""
    checked = check_targets(labels, len(labels), name, num_classes=len(class_names))
    return [class_names[index] for index in checked.tolist()]


def plot_mistakes(
    images: object,
    predicted: Sequence[int],
    true: Sequence[int],
    class_names: Sequence[str],
    *,
    ncols: int = 8,
    title: str = "Mistakes: predicted label (true label)",
) -> Figure:
    """Draw misclassified images, each titled with its predicted and its true class.

    Parameters
    ----------
    images : Tensor or ndarray
        ``[N, H, W]`` or ``[N, 1, H, W]``, uint8 or float.
    predicted, true : sequence of int
        The model's answer and the right answer, one per image.
    class_names : sequence of str
        The name of each class index.
    ncols : int, default 8
        Images per row.
    title : str
        The figure's title.

    Returns
    -------
    Figure
    """
    check_non_empty(class_names, "class_names")
    batch = as_batch(images)
    check_same_length(batch, predicted, "images", "predicted")
    check_same_length(batch, true, "images", "true")
    titles = [
        f"{p}\n(is {t})"
        for p, t in zip(
            _names(predicted, class_names, "predicted"),
            _names(true, class_names, "true"),
            strict=True,
        )
    ]
    figure = plot_images(images, ncols=ncols, titles=titles)
    figure.suptitle(title, fontsize=10)
    return figure


def plot_counterfactuals(
    pixels: object,
    change: object,
    prediction: Sequence[int],
    class_names: Sequence[str],
    *,
    titles: Sequence[str] | None = None,
    title: str = "Top: the images; bottom: their counterfactuals (→ new prediction)",
) -> Figure:
    """Draw images in the top row and the changed images (counterfactuals) below them.

    Parameters
    ----------
    pixels : Tensor or ndarray
        ``[N, H, W]`` or ``[N, 1, H, W]`` images in pixel units (0 black, 1 white).
    change : Tensor or ndarray
        The counterfactual change of each image, same shape and units as ``pixels``.
    prediction : sequence of int
        The model's answer for each changed image.
    class_names : sequence of str
        The name of each class index.
    titles : sequence of str, optional
        One title per original image (e.g. "predicted (is true)").
    title : str
        The figure's title.

    Returns
    -------
    Figure
    """
    check_non_empty(class_names, "class_names")
    originals, changes = as_batch(pixels, "pixels"), as_batch(change, "change")
    if originals.shape != changes.shape:
        raise ValueError(
            f"change must have the shape of pixels {originals.shape}, got {changes.shape}; pass "
            "the change of each image in pixel units (result.change)."
        )
    check_same_length(originals, prediction, "pixels", "prediction")
    if titles is None:
        titles = [""] * len(originals)
    check_same_length(originals, titles, "pixels", "titles")
    below = [f"→ {name}" for name in _names(prediction, class_names, "prediction")]
    figure = plot_images(
        np.concatenate([originals, originals + changes]),
        ncols=len(originals),
        vmin=0,
        vmax=1,
        titles=[*titles, *below],
    )
    figure.suptitle(title, fontsize=10)
    return figure
