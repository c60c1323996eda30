"""Nine ways to compare feature maps: which candidates are most like a reference?

MODE's input selection (:mod:`failure_modes.tracks.mode.selection`) ranks candidate inputs by how
alike their features are to a differential heat map. The original paper used one similarity; a
public replication compared several. Each :class:`Measure` in :data:`MEASURES` is a function
``(candidates [N, D], reference [D]) -> [N]`` and its kind: a *similarity* (dot product, cosine:
larger is more alike) or a *distance* (Minkowski with p = 1, 2, 3, Chebyshev, Wasserstein,
Canberra, Bray-Curtis: smaller is more alike). :func:`rank` orients them all the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from failure_modes.utils.validation import check_choice, check_finite

__all__ = ["Measure", "MEASURES", "scores", "rank"]


def _dot(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return candidates @ reference


def _cosine(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    norms = candidates.norm(dim=1) * reference.norm()
    return (candidates @ reference) / norms.clamp_min(1e-12)


def _minkowski(p: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def distance(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return (candidates - reference).abs().pow(p).sum(dim=1).pow(1.0 / p)

    return distance


def _chebyshev(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return (candidates - reference).abs().amax(dim=1)


def _wasserstein(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    # Between two equally weighted samples of the same size, the 1-D earth mover's distance is
    # the mean gap between their sorted values; it compares value histograms, not positions.
    return (candidates.sort(dim=1).values - reference.sort().values).abs().mean(dim=1)


def _canberra(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    gap = (candidates - reference).abs()
    scale = candidates.abs() + reference.abs()
    # 0/0 terms (both values zero) count as no difference, as in scipy.
    return torch.where(scale > 0, gap / scale.clamp_min(1e-300), torch.zeros_like(gap)).sum(dim=1)


def _bray_curtis(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    gap = (candidates - reference).abs().sum(dim=1)
    total = (candidates + reference).abs().sum(dim=1)
    infinite = torch.where(gap > 0, math.inf, 0.0).to(gap)
    return torch.where(total > 0, gap / total.clamp_min(1e-300), infinite)


@dataclass(frozen=True)
class Measure:
    """How to compare candidates with a reference map.

    Attributes
    ----------
    function : callable
        ``function(candidates [N, D], reference [D]) -> [N]`` in float64.
    kind : {"similarity", "distance"}
        Whether a larger value means more alike (similarity) or less alike (distance).
    """

    function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    kind: Literal["similarity", "distance"]

    def similarity(self, candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Return scores oriented so that larger always means more alike."""
        values = self.function(candidates, reference)
        return values if self.kind == "similarity" else -values


MEASURES: dict[str, Measure] = {
    "dot": Measure(_dot, "similarity"),
    "cosine": Measure(_cosine, "similarity"),
    "l1": Measure(_minkowski(1.0), "distance"),
    "l2": Measure(_minkowski(2.0), "distance"),
    "minkowski3": Measure(_minkowski(3.0), "distance"),
    "chebyshev": Measure(_chebyshev, "distance"),
    "wasserstein": Measure(_wasserstein, "distance"),
    "canberra": Measure(_canberra, "distance"),
    "bray_curtis": Measure(_bray_curtis, "distance"),
}
"""The nine ways to compare a candidate's features with a reference map, by name."""


def _as_matrix(candidates: object, reference: object) -> tuple[torch.Tensor, torch.Tensor]:
    for value, name in ((candidates, "candidates"), (reference, "reference")):
        if not isinstance(value, (torch.Tensor, np.ndarray, list, tuple)):
            raise TypeError(
                f"{name} must be a tensor of feature values, got {type(value).__name__}."
            )
    candidates = torch.as_tensor(candidates).detach().cpu().double()
    reference = torch.as_tensor(reference).detach().cpu().double()
    # flatten(1) keeps an empty [0, D] batch (a label the pool has run out of) as it is.
    candidates = candidates.flatten(1) if candidates.ndim > 1 else candidates.reshape(-1, 1)
    reference = reference.reshape(-1)
    if candidates.shape[1] != reference.numel():
        raise ValueError(
            f"each candidate must have as many values as reference ({reference.numel()}), got "
            f"{candidates.shape[1]}."
        )
    check_finite(candidates, "candidates")
    check_finite(reference, "reference")
    return candidates, reference


def scores(candidates: torch.Tensor, reference: torch.Tensor, measure: str) -> torch.Tensor:
    """Raw value of ``measure`` between each candidate and ``reference``.

    Parameters
    ----------
    candidates : Tensor
        ``[N, ...]``: one feature map (or image) per candidate; flattened.
    reference : Tensor
        One map with as many values as a candidate.
    measure : str
        A key of :data:`MEASURES`.

    Returns
    -------
    Tensor
        ``[N]`` float64: a similarity for ``"dot"``/``"cosine"``, a distance for the others.
    """
    check_choice(measure, MEASURES, "measure")
    matrix, reference = _as_matrix(candidates, reference)
    return MEASURES[measure].function(matrix, reference)


def rank(
    candidates: torch.Tensor,
    reference: torch.Tensor,
    measure: str,
    *,
    most_similar: bool = True,
) -> torch.Tensor:
    """Order candidates by how alike they are to ``reference``.

    Parameters
    ----------
    candidates, reference, measure
        As in :func:`scores`.
    most_similar : bool, default True
        Most alike first (underfitting); ``False`` puts the most different first (overfitting).

    Returns
    -------
    Tensor
        ``[N]`` int64 indices into ``candidates``; ties keep their original order.

    Examples
    --------
    >>> reference = torch.tensor([1.0, 0.0])
    >>> rank(torch.tensor([[0.0, 1.0], [1.0, 0.1]]), reference, "l2")
    tensor([1, 0])
    """
    check_choice(measure, MEASURES, "measure")
    matrix, reference = _as_matrix(candidates, reference)
    alike = MEASURES[measure].similarity(matrix, reference)
    return torch.sort(alike, descending=most_similar, stable=True).indices
