"""Task 3.1 of the MODE notebook: the differential heat map, correct minus false negative."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from failure_modes.course.checks.feedback import call, check, close, first_mistake, tensor_mismatch
from failure_modes.tracks import mode

# Task 3.1: the differential heat map correct - false negative --------------------------------


def _minus_false_negative(
    features: torch.Tensor, pred: np.ndarray, true: np.ndarray, label: int
) -> torch.Tensor:
    return mode.heat_maps(features, pred, true, label).minus_false_negative


def _probe_maps() -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    # Label 0: three right, two missed (false negatives), one impostor (false positive).
    features = torch.rand(8, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    true = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    pred = np.array([0, 0, 0, 1, 1, 0, 1, 1])
    return features, pred, true


def _as_map(answer: Any) -> torch.Tensor:
    return torch.as_tensor(answer).detach().cpu().double()


def _diagnose_map(
    function: Callable, features: torch.Tensor, pred: np.ndarray, true: np.ndarray, label: int
) -> str | None:
    probe, probe_pred, probe_true = _probe_maps()
    answer = _as_map(call(function, probe.clone(), probe_pred.copy(), probe_true.copy(), 0))
    maps = mode.heat_maps(probe, probe_pred, probe_true, 0)
    correct = (probe_true == 0) & (probe_pred == 0)
    missed = (probe_true == 0) & (probe_pred != 0)
    sums = probe[correct].sum(dim=0) - probe[missed].sum(dim=0)
    mistake = first_mistake(
        answer,
        [
            (
                lambda a: close(a, -maps.minus_false_negative, atol=1e-9),
                "your map has the sign reversed (missed minus correct): MODE takes correct "
                "minus false negative, so that red marks what the right answers have.",
            ),
            (
                lambda a: close(a, sums, atol=1e-9),
                f"your map subtracts sums, so it grows with the group sizes (here "
                f"{int(correct.sum())} correct and {int(missed.sum())} missed inputs): take the "
                "mean of each group.",
            ),
            (
                lambda a: close(a, maps.minus_false_positive, atol=1e-9),
                "you subtracted the false positives (other labels' inputs predicted as the "
                "label); the false negatives are the label's own inputs predicted as something "
                "else.",
            ),
            (
                lambda a: close(a, maps.label_mean - maps.false_negative, atol=1e-9),
                "your first map averages every input of the label; take only those predicted "
                "right (true == label and pred == label).",
            ),
        ],
    )
    if mistake is not None:
        return mistake
    problem = tensor_mismatch(answer, maps.minus_false_negative, "map (test input)", atol=1e-9)
    if problem is not None:
        return problem
    answer = _as_map(call(function, features.clone(), pred.copy(), true.copy(), label))
    expected = _minus_false_negative(features, pred, true, label)
    return tensor_mismatch(answer, expected, f"map of label {label}", atol=1e-5)


def differential_map(
    function: Any, features: torch.Tensor, pred: np.ndarray, true: np.ndarray, label: int
) -> torch.Tensor:
    """Check Task 3.1, ``function(features, pred, true, label)``: correct minus false negative.

    Parameters
    ----------
    function : callable or ``...``
        The student's function: the mean features of the label's inputs predicted right minus
        the mean features of its inputs predicted as something else.
    features : Tensor
        ``[N, ...]`` features or images of the validation split.
    pred, true : ndarray of shape (N,)
        Predicted and true labels of the same inputs.
    label : int
        The label to map.

    Returns
    -------
    Tensor
        The map of ``label`` in float64, from the student's function when it is right, else
        :attr:`~failure_modes.tracks.mode.HeatMaps.minus_false_negative`.
    """
    chosen = check(
        "3.1",
        function,
        lambda f: _diagnose_map(f, features, pred, true, label),
        _minus_false_negative,
    )
    return _as_map(chosen(features.clone(), pred.copy(), true.copy(), label))
