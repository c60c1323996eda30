"""Batched prediction, confusion matrices and per-class accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from failure_modes.models import DenseModel
from failure_modes.models.evaluation import (
    accuracy,
    confusion,
    per_class_accuracy,
    predict,
    predict_proba,
)


class _Spy(nn.Module):
    """Wraps a model and records the size of every batch it is called on."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.batch_sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(len(x))
        return self.model(x)


def _data(n: int = 25) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(n, 1, 6, 6, generator=generator), torch.arange(n) % 3


@pytest.mark.parametrize(("n", "batch_size"), [(25, 10), (25, 25), (25, 1000), (7, 3)])
def test_predict_runs_in_batches_and_matches_one_forward_pass(n, batch_size):
    torch.manual_seed(0)
    x, y = _data(n)
    model = _Spy(DenseModel(input_shape=(6, 6), num_classes=3, hidden_sizes=(8,)))
    pred, true = predict(model, (x, y), batch_size=batch_size)
    assert len(model.batch_sizes) == math.ceil(n / batch_size)
    assert max(model.batch_sizes) == min(batch_size, n)
    with torch.no_grad():
        expected = model.model(x).argmax(dim=1).numpy()
    assert isinstance(pred, np.ndarray) and isinstance(true, np.ndarray)
    assert pred.shape == (n,) and np.array_equal(pred, expected)
    assert np.array_equal(true, y.numpy())


def test_predict_default_batch_is_never_one_image():
    x, y = _data(30)
    model = _Spy(DenseModel(input_shape=(6, 6), num_classes=3, hidden_sizes=(8,)))
    predict(model, (x, y))
    assert model.batch_sizes == [30]


def test_predict_proba_rows_are_distributions_and_grad_free():
    x, y = _data(12)
    model = DenseModel(input_shape=(6, 6), num_classes=3, hidden_sizes=(8,))
    proba, true = predict_proba(model, (x, y), batch_size=5)
    assert proba.shape == (12, 3)
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-6) and (proba >= 0).all()
    assert all(p.grad is None for p in model.parameters())
    assert model.training  # the caller's flag comes back (evaluated in eval mode)


def test_predict_rejects_bad_batch_size_and_data():
    model = DenseModel(input_shape=(6, 6), num_classes=3, hidden_sizes=(8,))
    with pytest.raises(ValueError, match="batch_size"):
        predict(model, _data(4), batch_size=0)
    x, y = _data(4)
    with pytest.raises(ValueError, match="targets"):
        predict(model, (x, y[:3]))


def test_confusion_rows_are_true_columns_are_predicted():
    true = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 2, 2])
    expected = np.array(
        [
            [1, 2, 0],
            [0, 1, 1],
            [0, 0, 1],
        ]
    )
    assert np.array_equal(confusion(pred, true, num_classes=3), expected)
    assert accuracy(pred, true) == pytest.approx(3 / 6)
    assert np.allclose(per_class_accuracy(pred, true, num_classes=3), [1 / 3, 1 / 2, 1])


def test_per_class_accuracy_is_nan_for_a_missing_class():
    true = np.array([0, 0, 2, 2])
    pred = np.array([0, 1, 1, 2])
    result = per_class_accuracy(pred, true, num_classes=3)
    assert result[0] == 0.5 and result[2] == 0.5
    assert np.isnan(result[1])


def test_accuracy_of_nothing_is_refused_and_an_empty_confusion_is_all_zeros():
    with pytest.raises(ValueError, match="predictions is empty"):
        accuracy([], [])
    assert confusion([], [], num_classes=2).tolist() == [[0, 0], [0, 0]]


def test_confusion_rejects_bad_labels():
    with pytest.raises(ValueError, match="0..2"):
        confusion(np.array([0, 3]), np.array([0, 1]), num_classes=3)
    with pytest.raises(ValueError, match="0..2"):
        confusion(np.array([0, 1]), np.array([-1, 1]), num_classes=3)
    with pytest.raises(ValueError, match="one entry per item"):
        confusion(np.array([0, 1]), np.array([0, 1, 2]), num_classes=3)
    with pytest.raises(ValueError, match="one label per item"):
        accuracy(np.zeros((2, 2), dtype=int), np.zeros((2, 2), dtype=int))
    with pytest.raises(TypeError, match="targets must hold integer"):
        accuracy(np.array([0, 1]), np.array([0.0, 1.5]))


@st.composite
def label_pairs(draw, num_classes: int = 10):
    n = draw(st.integers(0, 60))
    labels = st.lists(st.integers(0, num_classes - 1), min_size=n, max_size=n)
    return np.array(draw(labels), dtype=np.int64), np.array(draw(labels), dtype=np.int64)


@settings(max_examples=60, deadline=None)
@given(pair=label_pairs())
def test_confusion_counts_every_pair_once(pair):
    pred, true = pair
    matrix = confusion(pred, true)
    assert matrix.shape == (10, 10)
    assert matrix.sum() == len(true)
    assert np.array_equal(matrix.sum(axis=1), np.bincount(true, minlength=10))
    assert np.array_equal(matrix.sum(axis=0), np.bincount(pred, minlength=10))
    for t, p in zip(true[:5], pred[:5], strict=True):
        assert matrix[t, p] == np.sum((true == t) & (pred == p))
    if len(true):
        assert accuracy(pred, true) == pytest.approx(np.trace(matrix) / len(true))
        recall = per_class_accuracy(pred, true)
        present = np.bincount(true, minlength=10) > 0
        assert np.array_equal(np.isnan(recall), ~present)
        assert ((recall[present] >= 0) & (recall[present] <= 1)).all()
