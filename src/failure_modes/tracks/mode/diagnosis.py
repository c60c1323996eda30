"""Where a MODE model is buggy: per-label accuracy, the labels under a threshold, and whether
each one underfits or overfits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
from torch import nn

from failure_modes.models.evaluation import per_class_accuracy, predict
from failure_modes.tracks.mode.splits import Data, check_data
from failure_modes.utils.validation import check_not_none, check_open_unit, check_same_shape

__all__ = ["Diagnosis", "check_open_unit", "label_accuracy", "buggy_labels", "diagnose"]

Diagnosis = Literal["underfitting", "overfitting"]


def label_accuracy(
    model: nn.Module,
    data: Data,
    *,
    num_classes: int = 10,
    batch_size: int = 1000,
) -> np.ndarray:
    """Accuracy of ``model`` on each label of ``data`` (NaN for a label with no input).

    Returns
    -------
    ndarray of shape (num_classes,)
    """
    pred, true = predict(model, check_data(data, "data"), batch_size=batch_size)
    return per_class_accuracy(pred, true, num_classes)


def buggy_labels(accuracy: Sequence[float] | np.ndarray, threshold: float = 0.8) -> list[int]:
    """Labels whose accuracy lies under ``threshold``.

    Parameters
    ----------
    accuracy : array-like of shape (num_classes,)
        Per-label accuracy on the validation split (NaN labels are ignored).
    threshold : float, default 0.8
        Strictly between 0 and 1.

    Returns
    -------
    list of int
        Buggy labels in increasing order.
    """
    check_open_unit(threshold, "threshold")
    check_not_none(accuracy, "accuracy", "one accuracy per label (label_accuracy's result)")
    accuracy = np.asarray(accuracy, dtype=float)
    if accuracy.ndim != 1:
        raise ValueError(
            f"accuracy must be 1-D, one accuracy per label, got shape {accuracy.shape}."
        )
    return [int(label) for label in np.flatnonzero(accuracy < threshold)]


def diagnose(
    train_accuracy: Sequence[float] | np.ndarray,
    validation_accuracy: Sequence[float] | np.ndarray,
    labels: Iterable[int],
    *,
    gap: float = 0.1,
) -> dict[int, Diagnosis]:
    """Call each buggy label underfitting or overfitting from its train–validation gap.

    Parameters
    ----------
    train_accuracy, validation_accuracy : array-like of shape (num_classes,)
        Per-label accuracy on the training set and on the validation split.
    labels : iterable of int
        The buggy labels.
    gap : float, default 0.1
        A label whose training accuracy exceeds its validation accuracy by more than ``gap``
        (strictly between 0 and 1) overfits; otherwise it underfits.

    Returns
    -------
    dict
        ``{label: "underfitting" | "overfitting"}``.
    """
    check_open_unit(gap, "gap")
    train_accuracy = np.asarray(train_accuracy, dtype=float)
    validation_accuracy = np.asarray(validation_accuracy, dtype=float)
    check_same_shape(train_accuracy, validation_accuracy, "train_accuracy", "validation_accuracy")
    return {
        int(label): (
            "overfitting"
            if train_accuracy[label] - validation_accuracy[label] > gap
            else "underfitting"
        )
        for label in labels
    }
