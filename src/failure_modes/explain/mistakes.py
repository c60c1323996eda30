"""A model's real mistakes: which items of a dataset it gets wrong, and how sure it was.

``misclassified`` runs a classifier over a dataset and returns :class:`Mistakes`, the wrong
predictions with their labels and confidences; the contrastive notebook explains them
(:mod:`failure_modes.explain.contrastive` re-exports both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from failure_modes.models.evaluation import predict_proba
from failure_modes.utils.validation import check_positive_int, check_seed

__all__ = ["Mistakes", "misclassified"]


def _class_names(dataset: object, num_classes: int) -> tuple[str, ...]:
    # Follow Subset.dataset down to a torchvision dataset that knows its class names.
    inner = dataset
    while not hasattr(inner, "classes") and hasattr(inner, "dataset"):
        inner = inner.dataset
    names = getattr(inner, "classes", None)
    if names is not None and len(names) >= num_classes:
        return tuple(str(name) for name in names)
    return tuple(str(k) for k in range(num_classes))


@dataclass(frozen=True)
class Mistakes:
    """The wrong predictions of a model on a dataset, one entry per mistake, in dataset order.

    Attributes
    ----------
    index : ndarray of int
        Position of each mistaken item in the dataset.
    predicted, true : ndarray of int
        The model's label and the annotated label.
    confidence : ndarray of float
        Softmax probability of the predicted label.
    true_probability : ndarray of float
        Softmax probability the model gave the true label.
    class_names : tuple of str
        Name of each label (from ``dataset.classes`` when it has them).
    total : int
        Number of items evaluated (mistakes and correct ones).
    """

    index: np.ndarray
    predicted: np.ndarray
    true: np.ndarray
    confidence: np.ndarray
    true_probability: np.ndarray
    class_names: tuple[str, ...]
    total: int

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: Any) -> Mistakes:
        """A subset of the mistakes: a slice, an index array or a boolean mask."""
        pick = np.arange(len(self))[item]
        pick = np.atleast_1d(pick)
        return Mistakes(
            self.index[pick],
            self.predicted[pick],
            self.true[pick],
            self.confidence[pick],
            self.true_probability[pick],
            self.class_names,
            self.total,
        )

    def sample(self, n: int, seed: int | None = None) -> Mistakes:
        """``n`` mistakes: the first ``n`` (``seed=None``) or ``n`` drawn at random, in order.

        Raises
        ------
        ValueError
            If there are fewer than ``n`` mistakes.
        """
        check_positive_int(n, "n")
        check_seed(seed, "seed", optional=True)
        if n > len(self):
            raise ValueError(f"asked for {n} mistakes, but there are only {len(self)}.")
        if seed is None:
            return self[:n]
        # numpy takes no negative seed: torch's range is folded onto numpy's, one to one
        chosen = np.random.default_rng(seed % 2**64).choice(len(self), size=n, replace=False)
        return self[np.sort(chosen)]

    @property
    def error_rate(self) -> float:
        """Share of the evaluated items that are mistakes."""
        return len(self) / self.total if self.total else 0.0

    def pairs(self) -> list[tuple[str, str, int]]:
        """``(true name, predicted name, count)`` for every confusion, most frequent first."""
        keys, counts = np.unique(np.stack([self.true, self.predicted]), axis=1, return_counts=True)
        order = np.lexsort((keys[1], keys[0], -counts))
        return [
            (self.class_names[keys[0, k]], self.class_names[keys[1, k]], int(counts[k]))
            for k in order
        ]

    def to_text(self, limit: int = 10) -> str:
        """The first ``limit`` mistakes as an aligned text table, with a one-line summary."""
        head = f"{len(self)} mistakes out of {self.total} items ({100 * self.error_rate:.1f} %)"
        rows = [("index", "predicted", "true", "confidence", "p(true)")]
        for k in range(min(limit, len(self))):
            rows.append(
                (
                    str(self.index[k]),
                    self.class_names[self.predicted[k]],
                    self.class_names[self.true[k]],
                    f"{self.confidence[k]:.3f}",
                    f"{self.true_probability[k]:.3f}",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
        more = [f"... {len(self) - limit} more"] if len(self) > limit else []
        return "\n".join([head, *(line.rstrip() for line in lines), *more])

    def __repr__(self) -> str:
        return self.to_text()


def misclassified(
    model: nn.Module,
    dataset: object,
    *,
    batch_size: int = 1000,
) -> Mistakes:
    """The items of ``dataset`` that ``model`` gets wrong, with labels and confidences.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits.
    dataset : Dataset or tuple of tensors
        As accepted by :func:`failure_modes.models.evaluation.predict`; class names come from its
        ``classes`` attribute (followed through ``Subset``), else the labels are numbered.
    batch_size : int, default 1000
        Images per forward pass.

    Returns
    -------
    Mistakes
        One entry per wrong prediction, in dataset order.

    Examples
    --------
    >>> mistakes = misclassified(model, test_set)  # doctest: +SKIP
    >>> mistakes.pairs()[:3]  # doctest: +SKIP
    [('Shirt', 'T-shirt/top', 152), ...]
    """
    proba, true = predict_proba(model, dataset, batch_size=batch_size)
    predicted = proba.argmax(axis=1)
    wrong = np.flatnonzero(predicted != true)
    return Mistakes(
        index=wrong,
        predicted=predicted[wrong],
        true=true[wrong].astype(np.int64),
        confidence=proba[wrong, predicted[wrong]],
        true_probability=proba[wrong, true[wrong]],
        class_names=_class_names(dataset, proba.shape[1]),
        total=len(true),
    )
