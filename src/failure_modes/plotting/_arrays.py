"""What every figure needs (private to the package): tensors and arrays as numpy images, grids of blank axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from failure_modes.utils.validation import check_finite


def to_numpy(value: object, name: str) -> np.ndarray:
    """A tensor (detached, on the CPU), an array or a list as a numpy array."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(value).__name__}.")


def as_image(image: object, name: str = "image") -> np.ndarray:
    """Return one single-channel image as a float ``[H, W]`` array (accepts ``[1, H, W]``)."""
    array = to_numpy(image, name)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a single-channel image [H, W] or [1, H, W], got shape {array.shape}."
        )
    check_finite(array, name)
    return array.astype(np.float64)


def as_batch(images: object, name: str = "images") -> np.ndarray:
    """Return a batch of single-channel images as ``[N, H, W]`` (accepts ``[N, 1, H, W]``)."""
    array = to_numpy(images, name)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(
            f"{name} must be single-channel images [N, H, W] or [N, 1, H, W], got shape "
            f"{array.shape}."
        )
    check_finite(array, name)
    return array.astype(np.float64)


def grid(nrows: int, ncols: int, size: float = 1.6) -> tuple[Figure, np.ndarray]:
    """A figure of ``nrows x ncols`` axes, ``size`` inches each, all axes off until drawn on."""
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.set_axis_off()
    return fig, axes


def new_square_axes(ax: Axes | None) -> Axes:
    """``ax``, or the axes of a new figure sized for a curve in the unit square."""
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.4), layout="constrained")
    return ax
