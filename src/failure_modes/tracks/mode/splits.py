"""MODE's data: a training set that was collected badly, a bug-fixing pool, a validation split,
and the weak model trained on the first.

Datasets are ``(inputs, targets)`` tensor pairs (:data:`Data`); :func:`check_data` is the one
check every MODE function runs on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from failure_modes.data.tensors import classification_tensors
from failure_modes.models.nets import DenseModel
from failure_modes.models.training import train_classifier
from failure_modes.utils.seeding import seeded
from failure_modes.utils.validation import (
    check_index,
    check_labels_present,
    check_non_empty,
    check_not_none,
    check_number,
    check_positive_int,
    check_seed,
)

__all__ = ["Data", "Splits", "check_data", "check_splits", "make_splits", "train_starting_model"]

Data = tuple[torch.Tensor, torch.Tensor]
"""A dataset as ``(inputs float [N, C, H, W], targets int64 [N])``."""


def check_data(data: object, name: str) -> Data:
    """Check a MODE dataset and return it as ``(inputs float [N, C, H, W], targets int64 [N])``.

    Parameters
    ----------
    data : tuple of Tensor or dataset
        ``(inputs, targets)``, or a dataset :func:`~failure_modes.data.tensors.to_tensors` reads.
    name : str
        The argument's name, which every message starts with.

    Raises
    ------
    TypeError
        For float inputs missing, or targets that are not integer class labels.
    ValueError
        For targets of another length than the inputs.
    """
    try:
        inputs, targets = classification_tensors(data)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{name}: {error}") from None
    return inputs, targets


def _subset(data: Data, index: torch.Tensor) -> Data:
    return data[0][index], data[1][index]


@dataclass(frozen=True)
class Splits:
    """Disjoint parts of the training data: what the model trains on, the reserved bug-fixing
    pool MODE draws from, and the validation split that every decision looks at."""

    train: Data
    pool: Data
    validation: Data


def check_splits(splits: object, name: str = "splits") -> Splits:
    """Raise ``TypeError`` unless ``splits`` is a :class:`Splits` (from :func:`make_splits`).

    Parameters
    ----------
    splits : Splits
        The training set, pool and validation split.
    name : str, default "splits"
        The argument's name, for messages.

    Returns
    -------
    Splits
        ``splits`` itself.
    """
    if not isinstance(splits, Splits):
        raise TypeError(
            f"{name} must be a Splits (make_splits(data)), got {type(splits).__name__}; a bare "
            "(inputs, targets) pair has no pool or validation split."
        )
    return splits


def make_splits(
    data: Data,
    *,
    validation_per_label: int = 100,
    train_per_label: int = 150,
    pool_per_label: int = 130,
    starved_labels: Sequence[int] = (2, 5, 8),
    starved_count: int = 10,
    seed: int = 0,
) -> Splits:
    """Cut training data into a class-imbalanced training set, a balanced pool and a validation
    split.

    The training set was "collected badly": a few labels are starved of examples. The pool and
    the validation split look like the world, every label equally often; inputs left over are
    not used.

    Parameters
    ----------
    data : tuple of Tensor
        ``(inputs, targets)`` of the training data (never the test set).
    validation_per_label : int, default 100
        Validation inputs drawn for each label.
    train_per_label : int, default 150
        Training inputs for each label that is not starved.
    pool_per_label : int, default 130
        Pool inputs for each label.
    starved_labels : sequence of int, default (2, 5, 8)
        Labels that get only ``starved_count`` training inputs: the bugs to be found.
    starved_count : int, default 10
        Training inputs of each starved label.
    seed : int, default 0
        Fixes which inputs go where.

    Returns
    -------
    Splits

    Raises
    ------
    ValueError
        If a label has fewer inputs than its validation, training and pool shares need.
    """
    inputs, targets = check_data(data, "data")
    check_non_empty(targets, "data")
    for value, name in [
        (validation_per_label, "validation_per_label"),
        (train_per_label, "train_per_label"),
        (pool_per_label, "pool_per_label"),
        (starved_count, "starved_count"),
    ]:
        check_positive_int(value, name)
    check_not_none(starved_labels, "starved_labels", "a sequence of labels (() for none)")
    starved = {check_index(label, "starved_labels") for label in starved_labels}
    check_labels_present(starved, targets, "starved_labels")
    generator = torch.Generator().manual_seed(check_seed(seed))
    parts: dict[str, list[torch.Tensor]] = {"validation": [], "train": [], "pool": []}
    for label in targets.unique().tolist():
        index = torch.nonzero(targets == label).flatten()
        index = index[torch.randperm(len(index), generator=generator)]
        sizes = {
            "validation": validation_per_label,
            "train": starved_count if label in starved else train_per_label,
            "pool": pool_per_label,
        }
        if len(index) < sum(sizes.values()):
            raise ValueError(
                f"label {label} has {len(index)} inputs but validation, training and pool need "
                f"{sum(sizes.values())} ({sizes}); lower train_per_label or pool_per_label."
            )
        drawn = index[: sum(sizes.values())].split(list(sizes.values()))
        for name, part in zip(sizes, drawn, strict=True):
            parts[name].append(part)
    chosen = {name: torch.cat(ids).sort().values for name, ids in parts.items()}
    return Splits(**{name: _subset((inputs, targets), ids) for name, ids in chosen.items()})


def train_starting_model(
    train: Data,
    *,
    seed: int,
    epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 64,
    hidden_sizes: Sequence[int] = (256, 120, 84),
    device: str | torch.device | None = None,
    progress: bool = True,
) -> DenseModel:
    """Train a fresh :class:`~failure_modes.models.DenseModel` on ``train``.

    Parameters
    ----------
    train : tuple of Tensor
        The (class-imbalanced) training set from :func:`make_splits`.
    seed : int
        Fixes the initial weights and the batch order.
    epochs, lr, batch_size, device, progress
        As in :func:`failure_modes.models.training.train_classifier`.
    hidden_sizes : sequence of int, default (256, 120, 84)
        Widths of the model's hidden layers.

    Returns
    -------
    DenseModel
        The trained model, in eval mode.
    """
    inputs, targets = check_data(train, "train")
    check_non_empty(targets, "train")
    check_number(lr, "lr")
    check_not_none(hidden_sizes, "hidden_sizes", "a sequence of layer widths such as (256, 120)")
    with seeded(seed):  # the initial weights, without touching the caller's random state
        model = DenseModel(tuple(inputs.shape[-2:]), int(targets.max()) + 1, hidden_sizes)
    train_classifier(
        model,
        (inputs, targets),
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        device=device,
        progress=progress,
    )
    return model
