"""Curves: training losses, ROC curves with their AUROC, accuracy over coverage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

from failure_modes.plotting._arrays import new_square_axes, to_numpy
from failure_modes.utils.validation import check_finite, check_flags, check_positive_int

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


def plot_losses(
    histories: Mapping[str, Sequence[float]],
    *,
    smooth: int = 10,
    steps_per_epoch: int | None = None,
    log_scale: bool = False,
) -> Figure:
    """Draw training-loss curves side by side (shared y axis) and overlaid in a last panel.

    Parameters
    ----------
    histories : mapping of str to sequence of float
        Loss per step of each run, e.g. ``{"clean": losses_clean, "tainted": losses_tainted}``.
    smooth : int, default 10
        Width of a running mean drawn over the raw (faint) curve; 1 draws the raw curve only.
    steps_per_epoch : int, optional
        When given, dotted vertical lines mark the epoch boundaries.
    log_scale : bool, default False
        Logarithmic loss axis.

    Returns
    -------
    Figure
    """
    if not histories:
        raise ValueError("histories must hold at least one named loss curve.")
    check_positive_int(smooth, "smooth")
    n = len(histories)
    fig, axes = plt.subplots(
        1, n + 1, figsize=(3.6 * (n + 1), 3.0), sharey=True, squeeze=False, layout="constrained"
    )
    overlay = axes[0, -1]
    for index, (ax, (name, losses)) in enumerate(zip(axes[0], histories.items(), strict=False)):
        values = to_numpy(list(losses), f"histories[{name!r}]").astype(np.float64)
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
    overlay.legend()
    axes[0, 0].set_ylabel("training loss")
    for ax in axes[0]:
        if log_scale:
            ax.set_yscale("log")
        if steps_per_epoch:
            longest = max(len(h) for h in histories.values())
            for boundary in range(steps_per_epoch, longest, steps_per_epoch):
                ax.axvline(boundary, color="grey", linestyle=":", linewidth=0.8)
    return fig


def plot_roc(
    fpr: object,
    tpr: object,
    *,
    label: str | None = None,
    ax: Axes | None = None,
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

    Returns
    -------
    Axes
    """
    fpr, tpr = to_numpy(fpr, "fpr"), to_numpy(tpr, "tpr")
    check_finite(fpr, "fpr")
    check_finite(tpr, "tpr")
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
    if label is not None:
        ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_roc_from_scores(
    scores: object,
    is_error: object,
    *,
    name: str | None = None,
    ax: Axes | None = None,
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
    return plot_roc(fpr, tpr, label=label, ax=ax)


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
    xlabel, title : str
        Axis label and title.
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
    if title is not None:
        ax.set_title(title)
    return figure


def plot_risk_coverage(
    coverage: object,
    accuracy: object,
    *,
    label: str | None = None,
    ax: Axes | None = None,
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

    Returns
    -------
    Axes
    """
    coverage, accuracy = to_numpy(coverage, "coverage"), to_numpy(accuracy, "accuracy")
    check_finite(coverage, "coverage")
    check_finite(accuracy, "accuracy")
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
    if label is not None:
        ax.legend(loc="lower left", fontsize=8)
    return ax
