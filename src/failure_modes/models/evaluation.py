"""Batched prediction, per-class accuracy and confusion-matrix data."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from failure_modes.data.tensors import classification_tensors
from failure_modes.utils.devices import device_of, evaluating
from failure_modes.utils.validation import (
    check_non_empty,
    check_positive_int,
    check_same_length,
    check_targets,
)

__all__ = ["predict", "predict_proba", "accuracy", "per_class_accuracy", "confusion"]


@torch.no_grad()
def predict_proba(
    model: nn.Module,
    dataset: object,
    *,
    batch_size: int = 1000,
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities of ``model`` on every item of ``dataset``, in batches.

    Returns
    -------
    proba : ndarray of shape (N, num_classes)
    targets : ndarray of shape (N,)
    """
    check_positive_int(batch_size, "batch_size")
    inputs, targets = classification_tensors(dataset)
    check_non_empty(inputs, "dataset")
    device = device_of(model)  # computed where the model is; it is never moved
    with evaluating(model) as net:
        chunks = [net(batch.to(device)).softmax(dim=1).cpu() for batch in inputs.split(batch_size)]
    proba = torch.cat(chunks)
    # A label the model has no output for is no class of its: refused, like in training.
    check_targets(targets, len(targets), "targets", num_classes=proba.shape[1])
    return proba.numpy(), targets.numpy()


def predict(
    model: nn.Module,
    dataset: object,
    *,
    batch_size: int = 1000,
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true labels of every item of ``dataset``, computed in batches.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits.
    dataset : Dataset or tuple of tensors
        As accepted by :func:`failure_modes.models.training.train_classifier`.
    batch_size : int, default 1000
        Images per forward pass (never one at a time).

    Returns
    -------
    predictions, targets : ndarray of shape (N,)
    """
    proba, targets = predict_proba(model, dataset, batch_size=batch_size)
    return proba.argmax(axis=1), targets


def _labels_array(value: object) -> np.ndarray:
    array = np.asarray(value)
    # An empty list comes out as float64; no item means no fractional label either.
    return array.astype(np.int64) if array.size == 0 and array.dtype == np.float64 else array


def _check_labels(
    predictions: object, targets: object, num_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    predictions, targets = _labels_array(predictions), _labels_array(targets)
    check_same_length(predictions, targets, "predictions", "targets")
    n = len(predictions)
    return (
        check_targets(predictions, n, "predictions", num_classes=num_classes).numpy(),
        check_targets(targets, n, "targets", num_classes=num_classes).numpy(),
    )


def accuracy(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Share of predictions equal to the true label (of at least one prediction)."""
    predictions, targets = _check_labels(predictions, targets)
    check_non_empty(predictions, "predictions")
    return float((predictions == targets).mean())


def confusion(predictions: np.ndarray, targets: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Confusion matrix of counts: rows are true labels, columns predicted labels."""
    check_positive_int(num_classes, "num_classes")
    predictions, targets = _check_labels(predictions, targets, num_classes)
    return np.bincount(targets * num_classes + predictions, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def per_class_accuracy(
    predictions: np.ndarray, targets: np.ndarray, num_classes: int = 10
) -> np.ndarray:
    """Recall of each class: the share of its images predicted correctly (NaN if absent)."""
    matrix = confusion(predictions, targets, num_classes)
    support = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(matrix) / support, np.nan)
