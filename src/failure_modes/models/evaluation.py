"""Batched prediction, per-class accuracy and confusion-matrix data."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from failure_modes.models.training import classification_tensors, device_of, model_on
from failure_modes.utils.validation import check_positive_int

__all__ = ["predict", "predict_proba", "accuracy", "per_class_accuracy", "confusion"]


@torch.no_grad()
def predict_proba(
    model: nn.Module,
    dataset: object,
    *,
    batch_size: int = 1000,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities of ``model`` on every item of ``dataset``, in batches.

    Returns
    -------
    proba : ndarray of shape (N, num_classes)
    true : ndarray of shape (N,)
    """
    check_positive_int(batch_size, "batch_size")
    inputs, targets = classification_tensors(dataset)
    model = model_on(model, device)
    device = device_of(model)
    chunks = [model(batch.to(device)).softmax(dim=1).cpu() for batch in inputs.split(batch_size)]
    return torch.cat(chunks).numpy(), targets.numpy()


def predict(
    model: nn.Module,
    dataset: object,
    *,
    batch_size: int = 1000,
    device: str | torch.device | None = None,
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
    device : str or torch.device, optional
        Where to compute; default: where the model is (the model given is never moved).

    Returns
    -------
    pred, true : ndarray of shape (N,)
    """
    proba, true = predict_proba(model, dataset, batch_size=batch_size, device=device)
    return proba.argmax(axis=1), true


def _check_labels(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, true = np.asarray(pred), np.asarray(true)
    if pred.shape != true.shape or pred.ndim != 1:
        raise ValueError(
            f"pred and true must be 1-D arrays of equal length, got shapes {pred.shape} and "
            f"{true.shape}."
        )
    return pred.astype(np.int64), true.astype(np.int64)


def accuracy(pred: np.ndarray, true: np.ndarray) -> float:
    """Share of predictions equal to the true label."""
    pred, true = _check_labels(pred, true)
    return float((pred == true).mean())


def confusion(pred: np.ndarray, true: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Confusion matrix of counts: rows are true labels, columns predicted labels."""
    pred, true = _check_labels(pred, true)
    check_positive_int(num_classes, "num_classes")
    if len(pred) and (
        min(pred.min(), true.min()) < 0 or max(pred.max(), true.max()) >= num_classes
    ):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}.")
    return np.bincount(true * num_classes + pred, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def per_class_accuracy(pred: np.ndarray, true: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Recall of each class: the share of its images predicted correctly (NaN if absent)."""
    matrix = confusion(pred, true, num_classes)
    support = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(matrix) / support, np.nan)
