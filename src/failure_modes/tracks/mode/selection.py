"""Which pool inputs MODE retrains on: ranked inputs of the buggy labels plus random others,
and the controls that draw without a ranking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import get_args

import torch

from failure_modes.tracks.mode.diagnosis import Diagnosis
from failure_modes.tracks.mode.similarity import MEASURES, rank
from failure_modes.tracks.mode.splits import Data, check_data
from failure_modes.utils.validation import (
    check_choice,
    check_index,
    check_instance,
    check_non_empty,
    check_not_none,
    check_positive_int,
    check_probability,
    check_same_length,
    check_seed,
)

__all__ = ["CONTROLS", "take", "random_inputs", "select_inputs"]

_DIAGNOSES = get_args(Diagnosis)


def _check_pool(pool: object, size: int) -> Data:
    inputs, targets = check_data(pool, "pool")
    check_positive_int(size, "size")
    check_non_empty(targets, "pool")
    if len(targets) < size:
        raise ValueError(
            f"pool holds {len(targets)} inputs but size={size} were requested; ask for at most "
            f"{len(targets)}."
        )
    return inputs, targets


def take(
    pool: Data, indices: torch.Tensor | Sequence[int], *, name: str = "indices"
) -> tuple[Data, Data]:
    """Split ``pool`` into the selected inputs and the rest; ``pool`` itself is unchanged.

    Parameters
    ----------
    pool : tuple of Tensor
        ``(inputs, targets)``.
    indices : Tensor or sequence of int
        Distinct positions in ``pool``.
    name : str, default "indices"
        The argument's name, for messages (``"chosen"`` where a caller's picks are checked).

    Returns
    -------
    selected, rest : tuple of Tensor

    Raises
    ------
    TypeError
        For indices that are none or not integers (0.5 is no position).
    ValueError
        For indices outside the pool, or repeated.
    """
    inputs, targets = check_data(pool, "pool")
    check_not_none(indices, name, "a sequence of pool positions")
    index = torch.as_tensor(indices).flatten()
    if len(index) and (
        index.is_floating_point() or index.is_complex() or index.dtype == torch.bool
    ):
        raise TypeError(f"{name} must be integer positions in the pool, got dtype {index.dtype}.")
    index = index.long()
    if len(index) and (int(index.min()) < 0 or int(index.max()) >= len(targets)):
        got = index[(index < 0) | (index >= len(targets))].tolist()[:5]
        raise ValueError(f"{name} must lie in 0..{len(targets) - 1} (the pool), got {got}.")
    if len(index.unique()) != len(index):
        raise ValueError(f"{name} must not repeat; an input can leave the pool only once.")
    keep = torch.ones(len(targets), dtype=torch.bool)
    keep[index] = False
    return (inputs[index], targets[index]), (inputs[keep], targets[keep])


def random_inputs(pool: Data, size: int, *, seed: int) -> torch.Tensor:
    """Indices of ``size`` inputs drawn uniformly from ``pool`` without replacement."""
    _, targets = _check_pool(pool, size)
    generator = torch.Generator().manual_seed(check_seed(seed))
    return torch.randperm(len(targets), generator=generator)[:size]


def _shares(total: int, labels: Sequence[int]) -> dict[int, int]:
    base, extra = divmod(total, len(labels))
    return {label: base + (i < extra) for i, label in enumerate(labels)}


CONTROLS: tuple[str, ...] = ("random", "label_random")
"""Selections without a measure. ``"random"`` draws uniformly from the pool: the control MODE
must beat. ``"label_random"`` is MODE without its ranking: the same buggy labels and shares,
but inputs drawn at random within each label, which tells the ranking's part from the
label targeting's part."""


def select_inputs(
    pool_targets: torch.Tensor,
    diagnoses: Mapping[int, Diagnosis],
    *,
    size: int,
    measure: str | None = None,
    pool_features: torch.Tensor | None = None,
    references: Mapping[int, torch.Tensor] | None = None,
    mix: float = 0.25,
    seed: int = 0,
) -> torch.Tensor:
    """MODE's choice of pool inputs: ranked inputs of each buggy label plus random others.

    Parameters
    ----------
    pool_targets : Tensor
        ``[N]`` labels of the pool's inputs.
    diagnoses : mapping
        ``{buggy label: "underfitting" | "overfitting"}`` from :func:`diagnose`: the most
        similar inputs are chosen for underfitting, the most dissimilar for overfitting.
    size : int
        Number of inputs to select; ``size - round(mix * size)`` are shared evenly among the
        buggy labels.
    measure : str, optional
        A key of :data:`MEASURES`; ``None`` takes each label's inputs in random order.
    pool_features : Tensor, optional
        ``[N, D]`` target-layer features of the pool's inputs (needed with a measure).
    references : mapping, optional
        ``{buggy label: reference map [D]}`` (:attr:`HeatMaps.reference`; needed with a
        measure).
    mix : float, default 0.25
        Share of ``size`` drawn at random from the other labels, so the fix does not starve
        them in turn (in [0, 1]). When the pool holds fewer inputs of a buggy label than its
        share, all of them are taken and the shortfall is drawn from the others too.
    seed : int, default 0
        Fixes the random parts.

    Returns
    -------
    Tensor
        Indices into the pool, the buggy labels' picks first.

    Raises
    ------
    ValueError
        For an unknown measure, an empty or too small pool, no buggy label, a diagnosis other
        than "underfitting" or "overfitting", or features or references missing for a measure.
    """
    what = "a mapping {buggy label: 'underfitting' or 'overfitting'} (diagnose's result)"
    check_instance(diagnoses, Mapping, "diagnoses", what)
    for label, diagnosis in diagnoses.items():
        check_index(label, "diagnoses' labels")
        check_choice(diagnosis, _DIAGNOSES, f"diagnoses[{label}]")
    check_seed(seed)
    pool_targets = torch.as_tensor(
        check_not_none(pool_targets, "pool_targets", "the pool's labels")
    )
    check_probability(mix, "mix")
    _check_pool((torch.zeros(len(pool_targets), 1, 1, 1), pool_targets), size)
    labels = sorted(int(label) for label in diagnoses)
    check_non_empty(labels, "diagnoses")  # with no buggy label, use random_inputs
    if measure is not None:
        check_choice(measure, MEASURES, "measure")
        if pool_features is None or references is None:
            raise ValueError(f"measure {measure!r} needs pool_features and references.")
        missing = sorted(set(labels) - set(references))
        if missing:
            raise ValueError(f"references has no map for buggy labels {missing}.")
        check_same_length(pool_features, pool_targets, "pool_features", "pool_targets")
    generator = torch.Generator().manual_seed(check_seed(seed))
    n_random = round(mix * size)
    chosen = []
    for label, count in _shares(size - n_random, labels).items():
        candidates = torch.nonzero(pool_targets == label).flatten()
        if measure is None:
            order = torch.randperm(len(candidates), generator=generator)
        else:
            order = rank(
                pool_features[candidates],
                references[label],
                measure,
                most_similar=diagnoses[label] == "underfitting",
            )
        chosen.append(candidates[order[:count]])
    # A buggy label the pool has run short of hands the rest of its share to the random part.
    n_random = size - sum(len(c) for c in chosen)
    others = torch.nonzero(~torch.isin(pool_targets, torch.tensor(labels))).flatten()
    if len(others) < n_random:
        raise ValueError(
            f"the pool holds {len(others)} inputs of non-buggy labels but {n_random} are needed "
            "besides the buggy labels' inputs; lower size or reserve a larger pool."
        )
    chosen.append(others[torch.randperm(len(others), generator=generator)[:n_random]])
    return torch.cat(chosen)
