"""Confusion matrices with the per-class recall the lessons quote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from failure_modes.models.evaluation import confusion
from failure_modes.plotting._arrays import to_numpy
from failure_modes.utils.validation import check_positive_int

__all__ = ["plot_confusion", "plot_confusions"]


def plot_confusion(
    predictions: np.ndarray,
    targets: np.ndarray,
    *,
    num_classes: int = 10,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw a confusion matrix with the percentage and the count in every cell.

    Rows are the true labels and columns the predicted ones; percentages are shares of the row
    (so the diagonal is each class's recall). The right-hand axis repeats each class's recall
    and number of images, the per-class numbers the lessons quote.

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
    ax : Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    Axes
        The axes holding the heat map.

    Examples
    --------
    >>> ax = plot_confusion(np.array([0, 1, 1]), np.array([0, 1, 0]), num_classes=2)
    >>> ax.texts[0].get_text()
    '50.0%\\n(1)'
    """
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
    annotations = np.array(
        [
            [f"{100 * s:.1f}%\n({n})" for s, n in zip(srow, nrow, strict=True)]
            for srow, nrow in zip(share, matrix, strict=True)
        ]
    )
    if ax is None:
        size = 0.75 * num_classes + 2
        _, ax = plt.subplots(figsize=(size + 1, size), layout="constrained")
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
        annot_kws={"fontsize": 7},
        xticklabels=names,
        yticklabels=names,
        ax=ax,
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    _annotate_recall(ax, matrix)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    heading = f"accuracy {100 * accuracy:.1f}%"
    ax.set_title(heading if title is None else f"{title}\n{heading}")
    return ax


def _annotate_recall(ax: Axes, matrix: np.ndarray) -> None:
    # Text beside the last column instead of a twin axis: a twin axis fights the square cells.
    num_classes = len(matrix)
    ax.text(num_classes + 0.15, -0.15, "recall", fontsize=8, va="bottom")
    for row, count in enumerate(matrix.sum(axis=1)):
        text = f"{100 * matrix[row, row] / count:.0f}% of {count}" if count else "absent"
        ax.text(num_classes + 0.15, row + 0.5, text, fontsize=7, va="center", clip_on=False)


def plot_confusions(
    results: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    ncols: int = 2,
    num_classes: int = 10,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """Draw several confusion matrices side by side, one per named ``(predictions, targets)`` pair.

    Parameters
    ----------
    results : mapping of str to (predictions, targets)
        e.g. ``{"clean model on tainted test": (predictions, targets), ...}``; the key is the
        title.
    ncols : int, default 2
        Matrices per row.
    num_classes, class_names
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
    size = 0.75 * num_classes + 2
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=((size + 1) * ncols, size * nrows),
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
            ax=ax,
        )
    return fig
