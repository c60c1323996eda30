"""Task 1.1 of the MODE notebook: per-label accuracy and the buggy labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from failure_modes.course.checks.feedback import call, check, first_mistake
from failure_modes.models.evaluation import per_class_accuracy
from failure_modes.tracks import mode

NUM_CLASSES = 10
# Task 1.1's probe: label l has four inputs, RIGHT[l] of them predicted right and the rest
# taken for label l + 1, so recall, precision and overall accuracy all differ; labels 2 and 6
# sit exactly on PROBE_THRESHOLD.
RIGHT = (4, 3, 2, 1, 0, 4, 2, 3, 4, 1)
PROBE_THRESHOLD = 0.5


# Task 1.1: per-label accuracy and the buggy labels -------------------------------------------


def _accuracy_and_buggy(
    pred: np.ndarray, true: np.ndarray, threshold: float
) -> tuple[np.ndarray, list[int]]:
    accuracy = per_class_accuracy(np.asarray(pred), np.asarray(true), NUM_CLASSES)
    return accuracy, mode.buggy_labels(accuracy, threshold)


def _probe_predictions() -> tuple[np.ndarray, np.ndarray]:
    true = np.repeat(np.arange(NUM_CLASSES), 4)
    pred = true.copy()
    for label, right in enumerate(RIGHT):
        pred[4 * label + right : 4 * label + 4] = (label + 1) % NUM_CLASSES
    return pred, true


def _precision(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    return per_class_accuracy(true, pred, NUM_CLASSES)  # recall with the roles swapped


def _as_accuracy_and_labels(answer: Any) -> tuple[np.ndarray, list[int]]:
    accuracy, labels = answer
    accuracy = np.asarray(torch.as_tensor(accuracy).detach().cpu(), dtype=float)
    return accuracy, sorted(int(label) for label in labels)


def _buggy_mismatch(
    answer: tuple[np.ndarray, list[int]], expected: tuple, where: str
) -> str | None:
    accuracy, labels = answer
    if accuracy.shape != expected[0].shape:
        return (
            f"{where}, the accuracy should have one value per label, shape "
            f"{list(expected[0].shape)}, but it has shape {list(accuracy.shape)}."
        )
    if not np.allclose(accuracy, expected[0], atol=1e-9, equal_nan=True):
        return f"{where}, the per-label accuracy should be {np.round(expected[0], 3).tolist()}."
    if labels != expected[1]:
        return f"{where}, the buggy labels should be {expected[1]}, but you found {labels}."
    return None


def _diagnose_buggy(
    function: Callable, pred: np.ndarray, true: np.ndarray, threshold: float
) -> str | None:
    probe_pred, probe_true = _probe_predictions()
    answer = _as_accuracy_and_labels(
        call(function, probe_pred.copy(), probe_true.copy(), PROBE_THRESHOLD)
    )
    expected = _accuracy_and_buggy(probe_pred, probe_true, PROBE_THRESHOLD)
    overall = float((probe_pred == probe_true).mean())
    at_or_above = [int(label) for label in np.flatnonzero(expected[0] >= PROBE_THRESHOLD)]
    above = [int(label) for label in np.flatnonzero(expected[0] > PROBE_THRESHOLD)]
    at_or_under = [int(label) for label in np.flatnonzero(expected[0] <= PROBE_THRESHOLD)]
    mistake = first_mistake(
        answer,
        [
            (
                lambda a: np.allclose(a[0], overall),
                f"your accuracy is the same for every label: it is the overall accuracy "
                f"({overall:.2f} on a test input); compute it separately over the inputs of "
                "each label.",
            ),
            (
                lambda a: np.allclose(a[0], _precision(probe_pred, probe_true), equal_nan=True),
                "you divided by how often each label was *predicted* (precision); a label's "
                "accuracy is the share of the inputs that truly have the label that are "
                "predicted right (group by the true label).",
            ),
            (
                lambda a: a[1] in (at_or_above, above),
                "you listed the labels at or above the threshold, the good ones: a buggy "
                "label's accuracy is *under* the threshold.",
            ),
            (
                lambda a: a[1] == at_or_under,
                f"a label whose accuracy equals the threshold exactly (labels "
                f"{sorted(set(at_or_under) - set(expected[1]))} of a test input, at "
                f"{PROBE_THRESHOLD}) is not buggy: compare with <, as mode.buggy_labels does.",
            ),
        ],
    )
    if mistake is not None:
        return mistake
    problem = _buggy_mismatch(answer, expected, "On a test input")
    if problem is not None:
        return problem
    answer = _as_accuracy_and_labels(call(function, pred.copy(), true.copy(), threshold))
    return _buggy_mismatch(
        answer, _accuracy_and_buggy(pred, true, threshold), "On the validation split"
    )


def buggy_labels(function: Any, pred: np.ndarray, true: np.ndarray, threshold: float) -> list[int]:
    """Check Task 1.1, ``function(pred, true, threshold) -> (accuracy, buggy)``.

    Parameters
    ----------
    function : callable or ``...``
        The student's function: per-label accuracy (shape ``[10]``) from predicted and true
        labels, and the labels whose accuracy is under ``threshold``.
    pred, true : ndarray of shape (N,)
        The starting model's predictions on the validation split and the true labels.
    threshold : float
        The buggy-label threshold (``CONFIG.threshold``).

    Returns
    -------
    list of int
        The buggy labels, from the student's function when it is right, else from
        :func:`~failure_modes.tracks.mode.buggy_labels`.
    """
    chosen = check(
        "1.1",
        function,
        lambda f: _diagnose_buggy(f, pred, true, threshold),
        _accuracy_and_buggy,
    )
    return _as_accuracy_and_labels(chosen(pred.copy(), true.copy(), threshold))[1]
