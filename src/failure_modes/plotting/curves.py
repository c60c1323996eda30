"""Curves: training losses, ROC curves with their AUROC, accuracy over coverage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

from failure_modes.plotting._arrays import new_square_axes, to_numpy
from failure_modes.utils.validation import (
    check_finite,
    check_flags,
    check_index,
    check_non_empty,
    check_not_none,
    check_positive_int,
    check_rates,
)

__all__ = [
    "plot_losses",
    "plot_roc",
    "plot_roc_from_scores",
    "plot_risk_coverage",
    "plot_score_histograms",
]


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def _title_once(ax: Axes, title: str | None, default: str) -> None:
    # A curve added to titled axes keeps their title; a new title replaces it.
    if title is not None:
        ax.set_title(title)
    elif not ax.get_title():
        ax.set_title(default)


def plot_losses(
    histories: Mapping[str, Sequence[float]],
    *,
    smooth: int = 10,
    steps_per_epoch: int | None = None,
    log_scale: bool = False,
    marks: Mapping[str, int] | None = None,
    title: str | None = None,
) -> Figure:
    """Draw training-loss curves side by side (shared y axis) and overlaid in a last panel.

    Parameters
    ----------
    histories : mapping of str to sequence of float
        Loss per step of each run, e.g. ``{"clean": losses_clean, "tainted": losses_tainted}``;
        every loss finite (a NaN loss means the run diverged: find out why before plotting).
    smooth : int, default 10
        Width of a running mean drawn over the raw (faint) curve; 1 draws the raw curve only.
    steps_per_epoch : int, optional
        When given, dotted vertical lines mark the epoch boundaries.
    log_scale : bool, default False
        Logarithmic loss axis.
    marks : mapping of str to int, optional
        Events to mark with a labelled dashed vertical line in every panel, e.g.
        ``{"digits → clothes": 125}`` (the step where the training data changes).
    title : str, optional
        The figure's title; each panel is titled with its run's name in any case.

    Returns
    -------
    Figure

    Examples
    --------
    >>> figure = plot_losses({"run": [1.0, 0.5, 0.4, 0.3]}, smooth=1, marks={"switch": 2})
    >>> [ax.get_title() for ax in figure.axes]
    ['run', 'together (smoothed)']
    """
    check_not_none(histories, "histories", "a dict {run name: loss per step}")
    check_non_empty(histories, "histories")
    check_positive_int(smooth, "smooth")
    if steps_per_epoch is not None:
        check_positive_int(steps_per_epoch, "steps_per_epoch")
    curves = {}
    for name, losses in histories.items():
        values = to_numpy(list(losses), f"histories[{name!r}]").astype(np.float64)
        check_non_empty(values, f"histories[{name!r}]")
        check_finite(values, f"histories[{name!r}]")
        curves[name] = values
    longest = max(len(values) for values in curves.values())
    marks = {} if marks is None else dict(marks)
    for label, step in marks.items():
        check_index(step, f"marks[{label!r}]")
        if step > longest:
            raise ValueError(
                f"marks[{label!r}] must be a step of the runs (0..{longest}), got {step}."
            )
    n = len(curves)
    fig, axes = plt.subplots(
        1, n + 1, figsize=(3.6 * (n + 1), 3.0), sharey=True, squeeze=False, layout="constrained"
    )
    overlay = axes[0, -1]
    for index, (ax, (name, values)) in enumerate(zip(axes[0], curves.items(), strict=False)):
        colour = f"C{index}"
        steps = np.arange(len(values))
        ax.plot(steps, values, color=colour, alpha=0.3, linewidth=0.8)
        smoothed = _smooth(values, smooth)
        offset = (len(values) - len(smoothed)) // 2
        for target in (ax, overlay):
            target.plot(steps[offset : offset + len(smoothed)], smoothed, color=colour, label=name)
        ax.set_title(name)
        ax.set_xlabel("step")
    overlay.set_title("together (smoothed)")
    overlay.set_xlabel("step")
    axes[0, 0].set_ylabel("training loss")
    for ax in axes[0]:
        if log_scale:
            ax.set_yscale("log")
        if steps_per_epoch:
            for boundary in range(steps_per_epoch, longest, steps_per_epoch):
                ax.axvline(boundary, color="grey", linestyle=":", linewidth=0.8)
        for index, (label, step) in enumerate(marks.items()):
            ax.axvline(step, color=f"C{n + index}", linestyle="--", linewidth=1.0, label=label)
    overlay.legend(fontsize=8)
    for ax in axes[0, :-1]:
        if marks:  # the panel's title names its run: the legend names the marks alone
            ax.legend(handles=ax.lines[-len(marks) :], fontsize=8)
    if title is not None:
        fig.suptitle(title)
    return fig


def plot_roc(
    fpr: object,
    tpr: object,
    *,
    label: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw a ROC curve (true-positive rate over false-positive rate) and the chance diagonal.

    Parameters
    ----------
    fpr, tpr : array-like, shape (K,)
        Points of the curve, as returned by ``sklearn.metrics.roc_curve``.
    label : str, optional
        Legend entry.
    ax : Axes, optional
        Where to draw (draw several curves on one axes by passing it again).
    title : str, optional
        Axes title; default "ROC curve" on axes that have none yet.

    Returns
    -------
    Axes
    """
    fpr, tpr = to_numpy(fpr, "fpr"), to_numpy(tpr, "tpr")
    check_rates(fpr, "fpr")
    check_rates(tpr, "tpr")
    if fpr.shape != tpr.shape or fpr.ndim != 1:
        raise ValueError(
            "fpr and tpr must be 1-D arrays of equal length, got shapes "
            f"{fpr.shape} and {tpr.shape}."
        )
    ax = new_square_axes(ax)
    if not any(line.get_label() == "chance" for line in ax.lines):
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax.plot(fpr, tpr, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    _title_once(ax, title, "ROC curve")
    if label is not None:
        ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_roc_from_scores(
    scores: object,
    is_error: object,
    *,
    name: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Compute a ROC curve from scores and error flags, and draw it with its AUROC.

    Parameters
    ----------
    scores : array-like, shape (N,)
        Higher means "more likely positive".
    is_error : array-like of bool or {0, 1}, shape (N,)
        True where the model erred (the positive class); both values must occur.
    name : str, optional
        Legend entry; the AUROC is appended.
    ax : Axes, optional
        Where to draw.
    title : str, optional
        As in :func:`plot_roc`.

    Returns
    -------
    Axes
    """
    scores, is_error = to_numpy(scores, "scores"), to_numpy(is_error, "is_error")
    check_finite(scores, "scores")
    if scores.shape != is_error.shape or scores.ndim != 1:
        raise ValueError(
            f"scores and is_error must be 1-D arrays of equal length, got shapes {scores.shape} "
            f"and {is_error.shape}."
        )
    if len(np.unique(is_error)) != 2:
        raise ValueError(
            "is_error must contain both values (errors and correct answers), got values "
            f"{np.unique(is_error).tolist()}."
        )
    fpr, tpr, _ = roc_curve(is_error, scores)
    auroc = roc_auc_score(is_error, scores)
    label = f"AUROC {auroc:.3f}" if name is None else f"{name} (AUROC {auroc:.3f})"
    return plot_roc(fpr, tpr, label=label, ax=ax, title=title)


def plot_score_histograms(
    scores: object,
    is_error: object,
    *,
    bins: int = 40,
    xlabel: str = "score",
    title: str | None = None,
    log_scale: bool = False,
) -> Figure:
    """Overlay the distributions of a score over right and over wrong predictions.

    Parameters
    ----------
    scores : array-like, shape (N,)
        Values in [0, 1] (a confidence, a label change rate).
    is_error : array-like of bool, shape (N,)
        True where the model erred.
    bins : int, default 40
        Equal-width bins over [0, 1].
    xlabel : str, default "score"
        Axis label.
    title : str, optional
        Axes title; default "<xlabel> of right and wrong predictions".
    log_scale : bool, default False
        A logarithmic density axis, for scores that are 0 for most predictions.

    Returns
    -------
    Figure
    """
    scores = to_numpy(scores, "scores")
    check_finite(scores, "scores")
    is_error = to_numpy(is_error, "is_error")
    if scores.shape != is_error.shape or scores.ndim != 1:
        raise ValueError(
            f"scores and is_error must be 1-D arrays of equal length, got shapes {scores.shape} "
            f"and {is_error.shape}."
        )
    is_error = check_flags(is_error, "is_error", len(scores))
    edges = np.linspace(0, 1, check_positive_int(bins, "bins") + 1)
    figure, ax = plt.subplots(figsize=(6, 3), layout="constrained")
    for name, chosen in (("right", ~is_error), ("wrong", is_error)):
        ax.hist(scores[chosen], bins=edges, density=True, alpha=0.6, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    if log_scale:
        ax.set_yscale("log")
    ax.legend()
    ax.set_title(f"{xlabel} of right and wrong predictions" if title is None else title)
    return figure


def plot_risk_coverage(
    coverage: object,
    accuracy: object,
    *,
    label: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw accuracy over coverage: how accurate the kept predictions are when some are refused.

    Parameters
    ----------
    coverage : array-like, shape (K,)
        Share of predictions kept, in [0, 1].
    accuracy : array-like, shape (K,)
        Accuracy of the kept predictions at each coverage.
    label : str, optional
        Legend entry.
    ax : Axes, optional
        Where to draw (pass it again to compare several selectors).
    title : str, optional
        Axes title; default "accuracy of the kept predictions over coverage" on axes that
        have none yet.

    Returns
    -------
    Axes
    """
    coverage, accuracy = to_numpy(coverage, "coverage"), to_numpy(accuracy, "accuracy")
    check_rates(coverage, "coverage")
    check_rates(accuracy, "accuracy")
    if coverage.shape != accuracy.shape or coverage.ndim != 1:
        raise ValueError(
            "coverage and accuracy must be 1-D arrays of equal length, got shapes "
            f"{coverage.shape} and {accuracy.shape}."
        )
    ax = new_square_axes(ax)
    ax.plot(coverage, accuracy, marker=".", markersize=3, label=label)
    ax.set_xlim(0, 1.01)
    ax.set_xlabel("coverage (share of predictions kept)")
    ax.set_ylabel("accuracy of kept predictions")
    _title_once(ax, title, "accuracy of the kept predictions over coverage")
    if label is not None:
        ax.legend(loc="lower left", fontsize=8)
    return ax
