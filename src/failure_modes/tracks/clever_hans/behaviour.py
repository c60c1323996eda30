"""The behavioural test: add a class's artifact to the other classes' images; does the
prediction follow the artifact rather than the digit?

An intervention needs no access to the model's insides, only a cue one can name. The two
thresholds that turn its numbers into verdicts are :data:`FLIP_THRESHOLD` and
:data:`EXPLOIT_DROP`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from failure_modes.data.taint import Corruption, taint_dataset
from failure_modes.models.evaluation import predict
from failure_modes.utils.validation import (
    check_dataset_arrays,
    check_index,
    check_labels_present,
    check_model,
    check_probability,
)

__all__ = ["EXPLOIT_DROP", "FLIP_THRESHOLD", "behavioural_test"]

FLIP_THRESHOLD = 0.15
"""The behavioural test flags an artifact when at least this share of the other classes'
images switch to the artifact's label once it is added."""

EXPLOIT_DROP = 0.2
"""A model *exploits* an artifact when its accuracy on that class falls by at least this much
(20 points) once the artifact is removed."""


def behavioural_test(
    model: nn.Module,
    dataset: object,
    corruption: Corruption,
    label: int,
    *,
    threshold: float = FLIP_THRESHOLD,
    batch_size: int = 1000,
) -> dict[str, Any]:
    """Add ``label``'s artifact to every image of the other classes: does the prediction follow?

    Parameters
    ----------
    model : nn.Module
        The classifier under test.
    dataset : torchvision dataset
        Clean images (uint8 ``.data``, ``.targets``), e.g. the test split.
    corruption : Corruption
        The artifact suspected of being a shortcut to ``label``.
    label : int
        The class the artifact was planted on.
    threshold : float, default FLIP_THRESHOLD
        Flag the artifact when at least this share of images switch to ``label``.
    batch_size : int, default 1000
        Images per forward pass.

    Returns
    -------
    dict
        ``flip_to``: share of the other classes' images *not* predicted ``label`` before that
        are predicted ``label`` once the artifact is added; ``acc_disagree``: accuracy on those
        images with the artifact (the artifact says ``label``, the digit says otherwise);
        ``acc_other_clean``: accuracy on the same images without it; ``flagged``.
    """
    if not isinstance(corruption, Corruption):
        raise TypeError(f"corruption must be a Corruption, got {type(corruption).__name__}.")
    threshold = check_probability(threshold, "threshold")
    check_model(model)
    label = check_index(label, "label")
    targets = torch.as_tensor(check_dataset_arrays(dataset).targets)
    check_labels_present([label], targets, name="label")
    others = [int(k) for k in targets.unique().tolist() if k != label]
    if not others:
        raise ValueError(f"dataset holds only label {label}; the test needs other classes.")
    stamped = taint_dataset(dataset, dict.fromkeys(others, corruption))
    before = predict(model, dataset, batch_size=batch_size)[0]
    after = predict(model, stamped, batch_size=batch_size)[0]
    true = targets.numpy()
    other = true != label
    candidates = other & (before != label)
    flip_to = float((after[candidates] == label).mean()) if candidates.any() else float("nan")
    return {
        "flip_to": flip_to,
        "acc_disagree": float((after[other] == true[other]).mean()),
        "acc_other_clean": float((before[other] == true[other]).mean()),
        "flagged": bool(flip_to >= threshold),
    }
