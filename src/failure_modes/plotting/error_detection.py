"""Figures of the error-detection track: conductance profiles, ROC curves, kept accuracy.

Each function draws one figure of ``advanced/error_detection`` from numbers the notebook has
already computed (it computes none of its own) and returns the ``Figure``, titled.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from failure_modes.plotting._arrays import new_square_axes, to_numpy
from failure_modes.plotting.curves import plot_risk_coverage, plot_roc_from_scores
from failure_modes.utils.validation import (
    check_finite,
    check_flags,
    check_instance,
    check_non_empty,
    check_not_none,
    check_probability,
    check_same_shape,
)

__all__ = ["plot_conductance_profiles", "plot_detector_rocs", "plot_kept_accuracy"]


def _vector(value: object, name: str) -> np.ndarray:
    check_not_none(value, name, "a 1-D tensor or array of numbers")
    array = to_numpy(value, name).astype(np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}; pass one number per item.")
    check_non_empty(array, name)
    check_finite(array, name)
    return array


def plot_conductance_profiles(
    total: object,
    is_error: object,
    right_profile: object,
    wrong_profile: object,
    *,
    class_name: str,
) -> Figure:
    """Total conductance of right and wrong predictions, and one class's strongest units.

    Parameters
    ----------
    total : array-like, shape (N,)
        Per prediction, the sum of a layer's conductances (the rise of the predicted logit).
    is_error : array-like of bool, shape (N,)
        True where the prediction is wrong; both kinds must occur.
    right_profile, wrong_profile : array-like, shape (K,)
        Mean conductance of K chosen units over the right and over the wrong predictions of
        ``class_name``, in the same unit order (e.g. strongest for right answers first).
    class_name : str
        The predicted class the profiles belong to.

    Returns
    -------
    Figure
        Two panels: overlaid histograms (left), paired bars per unit (right); a title above.
    """
    total = _vector(total, "total")
    is_error = check_flags(is_error, "is_error", len(total))
    if is_error.all() or not is_error.any():
        raise ValueError("is_error must contain both right and wrong predictions.")
    right_profile = _vector(right_profile, "right_profile")
    wrong_profile = _vector(wrong_profile, "wrong_profile")
    check_same_shape(right_profile, wrong_profile, "right_profile", "wrong_profile")
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained")
    bins = np.linspace(total.min(), total.max(), 50)
    for name, chosen in (("right", ~is_error), ("wrong", is_error)):
        left.hist(total[chosen], bins=bins, density=True, alpha=0.6, label=name)
    left.set_xlabel("total conductance (rise of the predicted logit)")
    left.set_ylabel("density")
    left.set_title("All test predictions")
    left.legend()
    positions = np.arange(len(right_profile))
    right.bar(positions - 0.2, right_profile, width=0.4, label=f"right '{class_name}'")
    right.bar(positions + 0.2, wrong_profile, width=0.4, label=f"wrong '{class_name}'")
    right.set_xlabel(f"the {len(positions)} units strongest for right '{class_name}' answers")
    right.set_ylabel("mean conductance")
    right.set_xticks([])
    right.set_title(f"Predictions '{class_name}'")
    right.legend()
    figure.suptitle("Conductance of the last hidden layer, right and wrong predictions")
    return figure


def plot_detector_rocs(
    scores: Mapping[str, object],
    is_error: object,
    *,
    title: str = "ROC curves of the error detectors on the test set",
) -> Figure:
    """ROC curves of several suspicion scores on the same predictions, each with its AUROC.

    Parameters
    ----------
    scores : mapping of str to array-like
        Name (legend entry, in this order) to ``[N]`` scores, higher meaning more suspicious.
    is_error : array-like of bool, shape (N,)
        True where the prediction is wrong.
    title : str
        The figure's title.

    Returns
    -------
    Figure
    """
    check_instance(scores, Mapping, "scores", "a non-empty dict {name: [N] suspicion scores}")
    check_non_empty(scores, "scores")
    ax = new_square_axes(None)
    for name, values in scores.items():
        plot_roc_from_scores(values, is_error, name=name, ax=ax)
    ax.set_title(title)
    ax.figure.set_size_inches(5, 4.5)
    return ax.figure


def plot_kept_accuracy(
    curves: Mapping[str, tuple[object, object]],
    *,
    cancelled: float | None = None,
    lowest: float | None = None,
    title: str = "Accuracy of the kept test predictions",
) -> Figure:
    """Accuracy of the kept predictions over coverage, most coverage (nothing cancelled) left.

    The x axis runs from full coverage down, in the order of a risk-coverage table that lists
    the cancelled share from 0 upwards; a second axis on top reads the cancelled share.

    Parameters
    ----------
    curves : mapping of str to (coverage, accuracy)
        Name (legend entry) to ``[K]`` coverages and the ``[K]`` accuracies of the kept ones.
    cancelled : float, optional
        A share of cancelled predictions to mark (the chosen threshold), in [0, 1).
    lowest : float, optional
        Lower limit of the accuracy axis (default: matplotlib's choice).
    title : str
        The figure's title.

    Returns
    -------
    Figure
    """
    check_instance(curves, Mapping, "curves", "a non-empty dict {name: (coverage, accuracy)}")
    check_non_empty(curves, "curves")
    ax = new_square_axes(None)
    for name, (coverage, accuracy) in curves.items():
        plot_risk_coverage(coverage, accuracy, label=name, ax=ax)
    if cancelled is not None:
        share = check_probability(cancelled, "cancelled")
        ax.axvline(1 - share, color="grey", linestyle=":", label="chosen threshold")
    ax.set_xlim(1.0, 0.4)
    if lowest is not None:
        ax.set_ylim(float(lowest), 1.0005)
    top = ax.secondary_xaxis("top", functions=(lambda c: 1 - c, lambda s: 1 - s))
    top.set_xlabel("share cancelled")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    ax.figure.set_size_inches(5, 4.3)
    return ax.figure
