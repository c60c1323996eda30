"""Where a MODE model is buggy: per-label accuracy, the labels under a threshold, and whether
each one underfits or overfits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
from torch import nn

from failure_modes.models.evaluation import per_class_accuracy, predict
from failure_modes.tracks.mode.splits import Data, check_data
from failure_modes.utils.validation import (
    check_index,
    check_not_none,
    check_numbers,
    check_open_unit,
    check_same_shape,
)

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


def _accuracies(value: object, name: str) -> np.ndarray:
    """Per-label accuracies as a 1-D float array in [0, 1]; NaN (a label no input reached)
    passes, for the caller to decide."""
    array = check_numbers(value, name, "one accuracy per label (label_accuracy's result)")
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one accuracy per label, got shape {array.shape}.")
    outside = array[~np.isnan(array) & ((array < 0) | (array > 1))]
    if len(outside):
        raise ValueError(
            f"{name} must lie in [0, 1] (NaN for a label without inputs), got "
            f"{outside[:3].tolist()}; pass accuracies, not percentages or counts."
        )
    return array


def buggy_labels(accuracy: Sequence[float] | np.ndarray, threshold: float = 0.8) -> list[int]:
    """Labels whose accuracy lies under ``threshold``.

    Parameters
    ----------
    accuracy : array-like of shape (num_classes,)
        Per-label accuracy on the validation split, each in [0, 1]. NaN, which
        :func:`label_accuracy` gives a label without inputs, is accepted on purpose and never
        buggy (there is nothing to fix); text, other numbers or shapes are refused.
    threshold : float, default 0.8
        Strictly between 0 and 1 (NaN refused).

    Returns
    -------
    list of int
        Buggy labels in increasing order.
    """
    check_open_unit(threshold, "threshold")
    _accuracies(accuracy, "accuracy")
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
        Per-label accuracy on the training set and on the validation split, each in [0, 1].
        NaN (a label without inputs) is accepted only for labels not diagnosed.
    labels : iterable of int
        The buggy labels: indices into the accuracies (``0 <= label < num_classes``).
    gap : float, default 0.1
        A label whose training accuracy exceeds its validation accuracy by more than ``gap``
        (strictly between 0 and 1) overfits; otherwise it underfits.

    Returns
    -------
    dict
        ``{label: "underfitting" | "overfitting"}``.
    """
    check_open_unit(gap, "gap")
    check_not_none(labels, "labels", "the buggy labels (buggy_labels' result)")
    labels = [check_index(label, "labels") for label in labels]
    for name, values in (
        ("train_accuracy", train_accuracy),
        ("validation_accuracy", validation_accuracy),
    ):
        array = _accuracies(values, name)
        for label in labels:
            if label >= len(array):
                raise ValueError(
                    f"labels must index {name} (0..{len(array) - 1}), got label {label}."
                )
            if np.isnan(array[label]):
                raise ValueError(
                    f"{name} is NaN for label {label} (no input of it): a label without data "
                    "cannot be diagnosed; leave it out of labels or give it inputs."
                )
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
