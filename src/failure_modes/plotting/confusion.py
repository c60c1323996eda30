"""Confusion matrices: one number per cell (the row's percentage or a count), colour by share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from failure_modes.models.evaluation import confusion
from failure_modes.plotting._arrays import to_numpy
from failure_modes.utils.validation import check_choice, check_positive_int

__all__ = ["plot_confusion", "plot_confusions"]


VALUES = ("percent", "count")
"""What a confusion matrix's cells may show: the share of the row, or the number of images."""


def plot_confusion(
    predictions: np.ndarray,
    targets: np.ndarray,
    *,
    num_classes: int = 10,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    values: str = "percent",
    ax: Axes | None = None,
) -> Axes:
    """Draw a confusion matrix with one number in every cell: the row's percentage or a count.

    Rows are the true labels and columns the predicted ones. The colour is always the share of
    the row, so the diagonal is each class's recall; the cells show it in whole percent (or the
    number of images, ``values="count"``), in a font that stays legible at notebook width.
    Empty cells are left blank, so the errors stand out.

    Parameters
    ----------
    predictions, targets : array-like of int, shape (N,)
        The model's classes and the true ones.
    num_classes : int, default 10
        Number of classes (rows and columns).
    class_names : sequence of str, optional
        Tick labels; default the class indices.
    title : str, optional
        Axes title; the overall accuracy is appended.
    values : {"percent", "count"}, default "percent"
        What the cells show: the share of the row in percent, or the number of images.
    ax : Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    Axes
        The axes holding the heat map.

    Examples
    --------
    >>> ax = plot_confusion(np.array([0, 1, 1]), np.array([0, 1, 0]), num_classes=2)
    >>> [text.get_text() for text in ax.texts]
    ['50', '50', '', '100']
    >>> ax = plot_confusion(np.array([0, 1, 1]), np.array([0, 1, 0]), num_classes=2,
    ...                     values="count")
    >>> [text.get_text() for text in ax.texts]
    ['1', '1', '', '1']
    """
    check_choice(values, VALUES, "values")
    matrix = confusion(
        to_numpy(predictions, "predictions"),
        to_numpy(targets, "targets"),
        check_positive_int(num_classes, "num_classes"),
    )
    names = [str(c) for c in range(num_classes)] if class_names is None else list(class_names)
    if len(names) != num_classes:
        raise ValueError(
            f"class_names must have {num_classes} entries (num_classes), got {len(names)}."
        )
    support = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(support > 0, matrix / support, 0.0)
    shown = np.rint(100 * share).astype(int) if values == "percent" else matrix
    annotations = np.where(matrix > 0, shown.astype(str), "")
    if ax is None:
        size = 0.4 * num_classes + 1.3
        _, ax = plt.subplots(figsize=(size, size), layout="constrained")
    sns.heatmap(
        100 * share,
        annot=annotations,
        fmt="",
        cmap="Blues",
        vmin=0,
        vmax=100,
        cbar=False,
        square=True,
        linewidths=0.5,
        annot_kws={"fontsize": 9},
        xticklabels=names,
        yticklabels=names,
        ax=ax,
    )
    unit = "% of the row" if values == "percent" else "number of images"
    ax.set_xlabel(f"predicted  (cells: {unit})")
    ax.set_ylabel("true")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    heading = f"accuracy {100 * accuracy:.1f}%"
    ax.set_title(heading if title is None else f"{title}\n{heading}")
    return ax


def plot_confusions(
    results: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    ncols: int = 2,
    num_classes: int = 10,
    class_names: Sequence[str] | None = None,
    values: str = "percent",
) -> Figure:
    """Draw several confusion matrices side by side, one per named ``(predictions, targets)`` pair.

    Parameters
    ----------
    results : mapping of str to (predictions, targets)
        e.g. ``{"clean model on tainted test": (predictions, targets), ...}``; the key is the
        title.
    ncols : int, default 2
        Matrices per row.
    num_classes, class_names, values
        As in :func:`plot_confusion`.

    Returns
    -------
    Figure
    """
    check_positive_int(ncols, "ncols")
    check_positive_int(num_classes, "num_classes")
    if not results:
        raise ValueError("results must name at least one (predictions, targets) pair.")
    nrows = -(-len(results) // ncols)
    size = 0.4 * num_classes + 1.3
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(size * ncols, (size + 0.3) * nrows),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat[len(results) :]:
        ax.set_axis_off()
    for ax, (name, (predictions, targets)) in zip(axes.flat, results.items(), strict=False):
        plot_confusion(
            predictions,
            targets,
            num_classes=num_classes,
            class_names=class_names,
            title=name,
            values=values,
            ax=ax,
        )
    return fig
