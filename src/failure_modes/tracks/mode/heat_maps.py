"""Differential heat maps: mean features of a label's right answers, false positives and false
negatives, and the differences that drive MODE's input selection."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from failure_modes.utils.validation import (
    as_tensor,
    check_finite,
    check_index,
    check_labels_present,
    check_not_none,
    check_same_length,
    check_targets,
)

__all__ = ["HeatMaps", "heat_maps"]


@dataclass(frozen=True)
class HeatMaps:
    """Mean features of one label's inputs, split by what the model did with them.

    A map is NaN where its group is empty (for example a label with no false positive).

    Attributes
    ----------
    label : int
    correct : Tensor
        Inputs of the label predicted as the label.
    false_positive : Tensor
        Inputs of other labels predicted as the label.
    false_negative : Tensor
        Inputs of the label predicted as something else.
    label_mean : Tensor
        All inputs of the label.
    counts : dict
        Number of inputs behind each map.
    """

    label: int
    correct: torch.Tensor
    false_positive: torch.Tensor
    false_negative: torch.Tensor
    label_mean: torch.Tensor
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def minus_false_positive(self) -> torch.Tensor:
        """Differential map: what the label's correct inputs have and its impostors lack."""
        return self.correct - self.false_positive

    @property
    def minus_false_negative(self) -> torch.Tensor:
        """Differential map: what the label's correct inputs have and its missed inputs lack."""
        return self.correct - self.false_negative

    @property
    def reference(self) -> torch.Tensor:
        """The differential map that selection compares candidates with.

        The correct map minus the mean of the error maps that exist; the label mean stands in
        for the correct map when the model gets no input of the label right, and the correct
        map is used as it is when the label has no error at all.
        """
        good = self.correct if self.counts.get("correct", 0) else self.label_mean
        errors = [
            m
            for m, key in [
                (self.false_positive, "false_positive"),
                (self.false_negative, "false_negative"),
            ]
            if self.counts.get(key, 0)
        ]
        return good - torch.stack(errors).mean(dim=0) if errors else good


def heat_maps(
    features: torch.Tensor,
    predictions: Sequence[int] | np.ndarray,
    targets: Sequence[int] | np.ndarray,
    label: int,
) -> HeatMaps:
    """Heat maps of one label from features (or images) and the model's predictions.

    Parameters
    ----------
    features : Tensor
        ``[N, ...]``: layer features from :func:`layer_features`, or images.
    predictions, targets : array-like of shape (N,)
        The model's answers and the true labels of the same inputs.
    label : int
        The label to map: a class index present in ``targets``.

    Returns
    -------
    HeatMaps
        Maps of the shape of one feature row.
    """
    check_index(label, "label")
    features = check_finite(as_tensor(features, "features"), "features").detach().cpu().double()
    for value, name in ((predictions, "predictions"), (targets, "targets")):
        check_not_none(value, name, "a sequence of class labels, one per feature row")
        check_same_length(features, value, "features", name)
    pred = check_targets(np.asarray(predictions), len(features), "predictions")
    true = check_targets(np.asarray(targets), len(features), "targets")
    check_labels_present([label], true, "label")
    groups = {
        "correct": (true == label) & (pred == label),
        "false_positive": (true != label) & (pred == label),
        "false_negative": (true == label) & (pred != label),
        "label_mean": true == label,
    }
    nan = torch.full(features.shape[1:], math.nan, dtype=torch.float64)
    maps = {
        name: features[mask].mean(dim=0) if bool(mask.any()) else nan.clone()
        for name, mask in groups.items()
    }
    counts = {name: int(mask.sum()) for name, mask in groups.items()}
    return HeatMaps(label=int(label), counts=counts, **maps)
