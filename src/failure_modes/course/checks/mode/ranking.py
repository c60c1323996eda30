"""Tasks 4.1 and 4.2 of the MODE notebook: cosine similarity, and the pool ranked by it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from failure_modes.course.checks.feedback import call, check, close, first_mistake, tensor_mismatch
from failure_modes.course.checks.mode.maps import _as_map
from failure_modes.tracks import mode
from failure_modes.tracks.mode import MEASURES

# Task 4.1: cosine similarity ------------------------------------------------------------------

# Rows of different lengths and a reference of length other than one, so that every way of
# getting the normalisation wrong gives different numbers, and every other measure (either way
# round) ranks them in another order than cosine does.
PROBE_CANDIDATES = torch.tensor(
    [[1.0, 0.5, -1.5], [0.0, -1.5, 0.5], [2.0, -1.5, 0.5], [1.5, 1.5, -2.0], [-0.5, -0.5, -0.5]],
    dtype=torch.float64,
)
PROBE_REFERENCE = torch.tensor([2.0, 1.0, -0.5], dtype=torch.float64)


def _cosine(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return mode.scores(candidates, reference, "cosine")


def _diagnose_cosine(
    function: Callable, candidates: torch.Tensor, reference: torch.Tensor
) -> str | None:
    probe, ref = PROBE_CANDIDATES, PROBE_REFERENCE
    answer = _as_map(call(function, probe.clone(), ref.clone()))
    dot = probe @ ref
    mistake = first_mistake(
        answer,
        [
            (
                lambda a: close(a, dot, atol=1e-9),
                "these are dot products: divide each by the norm of its row and by the norm of "
                "the reference.",
            ),
            (
                lambda a: close(a, dot / probe.norm(dim=1), atol=1e-9),
                "you divided by the candidates' norms only; divide by the reference's norm too.",
            ),
            (
                lambda a: close(a, dot / ref.norm(), atol=1e-9),
                "you divided by the reference's norm only; divide by each candidate's norm too.",
            ),
            (
                lambda a: close(a, dot / (probe.norm() * ref.norm()), atol=1e-9),
                "you divided by the norm of the whole candidates matrix; take one norm per row "
                "(norm(dim=1)).",
            ),
        ],
    )
    if mistake is not None:
        return mistake
    problem = tensor_mismatch(answer, _cosine(probe, ref), "cosine (test input)", atol=1e-9)
    if problem is not None:
        return problem
    # Rows of zeros have no direction; the library gives them 0, a plain formula NaN.
    rows = candidates.norm(dim=1) > 0
    answer = _as_map(call(function, candidates.clone(), reference.clone()))
    return tensor_mismatch(
        answer[rows], _cosine(candidates, reference)[rows], "cosine of the pool images", atol=1e-9
    )


def cosine(function: Any, candidates: torch.Tensor, reference: torch.Tensor) -> Callable:
    """Check Task 4.1, ``function(candidates [N, D], reference [D]) -> [N]`` cosine similarity.

    Parameters
    ----------
    function : callable or ``...``
        The student's cosine similarity between each row of ``candidates`` and ``reference``.
    candidates, reference : Tensor
        The pool features of a buggy label and its reference map, to compare on.

    Returns
    -------
    callable
        The student's function when it is right, else the library's
        (:func:`~failure_modes.tracks.mode.scores` with ``"cosine"``).
    """
    return check("4.1", function, lambda f: _diagnose_cosine(f, candidates, reference), _cosine)


# Task 4.2: ranking the pool by cosine similarity ----------------------------------------------


def _rank_by_cosine(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return mode.rank(candidates, reference, "cosine")


def _as_order(answer: Any) -> torch.Tensor:
    return torch.as_tensor(answer).detach().cpu().flatten()


def _other_measures(order: torch.Tensor, probe: torch.Tensor, ref: torch.Tensor) -> list[str]:
    """The measures other than cosine that rank ``probe`` in ``order`` (either way round)."""
    return [
        name
        for name in MEASURES
        if name != "cosine"
        and any(
            torch.equal(order, mode.rank(probe, ref, name, most_similar=most_similar))
            for most_similar in (True, False)
        )
    ]


def _order_mismatch(
    order: torch.Tensor, candidates: torch.Tensor, reference: torch.Tensor, where: str
) -> str | None:
    if order.dtype.is_floating_point or order.dtype == torch.bool:
        return (
            f"{where}, you returned values of dtype {order.dtype}: return the candidates' "
            "indices, most similar first (argsort), not their similarities."
        )
    if not torch.equal(order.sort().values, torch.arange(len(candidates))):
        return f"{where}, the order should hold each of the {len(candidates)} indices once."
    similarity = _cosine(candidates, reference)[order]
    if bool((similarity[1:] > similarity[:-1] + 1e-12).any()):
        return f"{where}, the cosine similarity should never rise along your order."
    return None


def _diagnose_ranking(
    function: Callable, candidates: torch.Tensor, reference: torch.Tensor
) -> str | None:
    probe, ref = PROBE_CANDIDATES, PROBE_REFERENCE
    answer = _as_order(call(function, probe.clone(), ref.clone()))
    similarity = _cosine(probe, ref)
    mistake = first_mistake(
        answer,
        [
            (
                lambda a: a.dtype.is_floating_point,
                "you returned the similarities themselves (or sorted them): return the indices "
                "of the candidates in that order (argsort), most similar first.",
            ),
            (
                lambda a: torch.equal(a, mode.rank(probe, ref, "cosine", most_similar=False)),
                "your order starts with the least similar candidate: sort the similarities in "
                f"descending order (highest first; on a test input it starts at "
                f"{float(similarity.min()):.2f} instead of {float(similarity.max()):.2f}).",
            ),
            (
                lambda a: _other_measures(a, probe, ref),
                f"your order is the ranking by {' or '.join(_other_measures(answer, probe, ref))}, "
                "not by cosine similarity.",
            ),
        ],
    )
    if mistake is not None:
        return mistake
    problem = _order_mismatch(answer, probe, ref, "On a test input")
    if problem is not None:
        return problem
    answer = _as_order(call(function, candidates.clone(), reference.clone()))
    return _order_mismatch(answer, candidates, reference, "On the pool images")


def ranking(function: Any, candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Check Task 4.2, ``function(candidates, reference)``: indices by cosine, highest first.

    Parameters
    ----------
    function : callable or ``...``
        The student's ranking of the rows of ``candidates`` ([N, D]) by their cosine
        similarity to ``reference`` ([D]), most similar first.
    candidates, reference : Tensor
        The pool features of a buggy label and its reference map.

    Returns
    -------
    Tensor
        ``[N]`` indices into ``candidates``, from the student's function when it is right,
        else :func:`~failure_modes.tracks.mode.rank` with ``"cosine"``.
    """
    chosen = check(
        "4.2", function, lambda f: _diagnose_ranking(f, candidates, reference), _rank_by_cosine
    )
    return _as_order(chosen(candidates.clone(), reference.clone()))
