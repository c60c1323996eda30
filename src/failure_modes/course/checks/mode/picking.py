"""Task 4.4 of the MODE notebook: the pool inputs MODE picks for one buggy label, in the
direction its diagnosis sets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from failure_modes.course.checks.feedback import call, check, first_mistake
from failure_modes.tracks import mode

# The probe pool: the label's inputs (PROBE_LABEL) sit between inputs of other labels, so that
# positions in the label's own subset differ from positions in the pool; the other labels hold
# the pool's most and least similar inputs of all, so ranking the whole pool picks them; two
# pairs of identical rows tie, one among the most similar and one among the least similar.
PROBE_LABEL = 1
PROBE_COUNT = 3
PROBE_TARGETS = torch.tensor([0, 1, 2, 1, 1, 0, 1, 2, 1, 1, 0, 2])
PROBE_FEATURES = torch.tensor(
    [
        [5.0, 0.0, 0.0],  # 0, other label: the most similar of all
        [0.0, 1.0, 0.0],  # 1, cosine 0
        [-3.0, 0.1, 0.0],  # 2, other label: the least similar of all
        [1.0, 1.0, 0.0],  # 3, cosine 0.71, tied with 6
        [-1.0, 1.0, 0.0],  # 4, cosine -0.71, tied with 9
        [0.0, 0.0, 1.0],  # 5, other label
        [1.0, 1.0, 0.0],  # 6, tied with 3
        [0.0, 2.0, 1.0],  # 7, other label
        [1.0, 0.1, 0.0],  # 8, cosine 0.995: the label's most similar
        [-1.0, 1.0, 0.0],  # 9, tied with 4
        [1.0, 1.0, 1.0],  # 10, other label
        [0.5, -2.0, 0.0],  # 11, other label
    ],
    dtype=torch.float64,
)
PROBE_REFERENCE = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
DIAGNOSES = ("underfitting", "overfitting")
_OTHER = {"underfitting": "overfitting", "overfitting": "underfitting"}
_WANTED = {"underfitting": "most similar", "overfitting": "most dissimilar"}


def _pick_for_label(
    pool_features: torch.Tensor,
    pool_targets: torch.Tensor,
    label: int,
    diagnosis: str,
    reference: torch.Tensor,
    count: int,
) -> torch.Tensor:
    """The library's answer: :func:`~failure_modes.tracks.mode.select_inputs` with no mix."""
    return mode.select_inputs(
        pool_targets, {label: diagnosis}, size=count, measure="cosine",
        pool_features=pool_features, references={label: reference}, mix=0.0,
    )  # fmt: skip


def _as_indices(answer: Any) -> torch.Tensor:
    return torch.as_tensor(answer).detach().cpu().flatten()


def _probe_answers(function: Callable) -> dict[str, torch.Tensor]:
    return {
        diagnosis: _as_indices(
            call(
                function,
                PROBE_FEATURES.clone(),
                PROBE_TARGETS.clone(),
                PROBE_LABEL,
                diagnosis,
                PROBE_REFERENCE.clone(),
                PROBE_COUNT,
            )  # fmt: skip
        )
        for diagnosis in DIAGNOSES
    }


def _probe(diagnosis: str, count: int = PROBE_COUNT) -> torch.Tensor:
    return _pick_for_label(
        PROBE_FEATURES, PROBE_TARGETS, PROBE_LABEL, diagnosis, PROBE_REFERENCE, count
    )


def _in_subset(diagnosis: str) -> torch.Tensor:
    """The right picks as positions among the label's own inputs, not in the pool."""
    candidates = torch.nonzero(PROBE_TARGETS == PROBE_LABEL).flatten()
    return torch.searchsorted(candidates, _probe(diagnosis))


def _whole_pool(diagnosis: str) -> torch.Tensor:
    """The picks when the whole pool is ranked, every label's inputs included."""
    order = mode.rank(
        PROBE_FEATURES, PROBE_REFERENCE, "cosine", most_similar=diagnosis == "underfitting"
    )
    return order[:PROBE_COUNT]


def _ties_reversed(diagnosis: str) -> torch.Tensor:
    """The picks when the other direction's order is flipped: tied inputs come out reversed."""
    candidates = torch.nonzero(PROBE_TARGETS == PROBE_LABEL).flatten()
    order = mode.rank(
        PROBE_FEATURES[candidates], PROBE_REFERENCE, "cosine",
        most_similar=diagnosis != "underfitting",
    )  # fmt: skip
    return candidates[order.flip(0)[:PROBE_COUNT]]


def _each(answers: dict[str, torch.Tensor], expected: Callable[[str], torch.Tensor]) -> bool:
    return all(torch.equal(answers[d], expected(d)) for d in DIAGNOSES)


def _wrong_direction(answers: dict[str, torch.Tensor]) -> str | None:
    for diagnosis in DIAGNOSES:
        if torch.equal(answers[diagnosis], _probe(_OTHER[diagnosis])):
            return diagnosis
    return None


def _mismatch(answer: torch.Tensor, expected: torch.Tensor, targets: torch.Tensor,
              label: int, count: int, where: str) -> str | None:  # fmt: skip
    if answer.dtype.is_floating_point or answer.dtype == torch.bool:
        return (
            f"{where}, you returned values of dtype {answer.dtype}: return pool positions "
            "(integers), not similarities."
        )
    if len(answer) != count:
        return f"{where}, you returned {len(answer)} positions; take exactly count={count}."
    if len(answer) and (int(answer.min()) < 0 or int(answer.max()) >= len(targets)):
        return (
            f"{where}, some positions lie outside the pool (0..{len(targets) - 1}): pick from "
            "the pool given, not from another split."
        )
    if len(answer) and bool((targets[answer] != label).any()):
        return f"{where}, some of your picks are inputs of labels other than {label}."
    if set(answer.tolist()) != set(expected.tolist()):
        return f"{where}, your picks should be the pool positions {sorted(expected.tolist())}."
    if not torch.equal(answer, expected):
        return (
            f"{where}, you picked the right inputs but in another order: keep the ranking's "
            f"order, {expected.tolist()}."
        )
    return None


def _diagnose_picks(
    function: Callable,
    pool_features: torch.Tensor,
    pool_targets: torch.Tensor,
    references: dict[int, torch.Tensor],
    diagnoses: dict[int, str],
    count: int,
) -> str | None:
    answers = _probe_answers(function)
    flipped = _wrong_direction(answers)
    direction = (
        f"your picks for an {flipped} label are the {_WANTED[_OTHER[flipped]]} inputs; MODE "
        f"takes the {_WANTED[flipped]} ones first for an {flipped} label."
        if flipped is not None
        else ""
    )
    mistake = first_mistake(
        answers,
        [
            (
                lambda a: any(a[d].dtype.is_floating_point for d in DIAGNOSES),
                "you returned similarities (floats): return the pool positions of the picked "
                "inputs (argsort gives positions, sort gives values).",
            ),
            (
                lambda a: torch.equal(a["underfitting"], a["overfitting"]),
                "your picks do not depend on the diagnosis: take the most similar inputs first "
                "for an underfitting label and the most dissimilar first for an overfitting one.",
            ),
            (lambda a: flipped is not None, direction),
            (
                lambda a: _each(a, _whole_pool),
                "you ranked the whole pool, so inputs of other labels got picked: rank only the "
                "pool inputs whose label is the buggy label.",
            ),
            (
                lambda a: _each(a, _in_subset),
                "your positions count among the label's inputs only; map them back to positions "
                "in the pool (index the label's pool positions with them).",
            ),
            (
                lambda a: any(len(a[d]) != PROBE_COUNT for d in DIAGNOSES),
                f"you took {len(answers['underfitting'])} and {len(answers['overfitting'])} "
                f"inputs where count={PROBE_COUNT} were asked for (on a test pool): take "
                "exactly count.",
            ),
            (
                lambda a: _each(a, _ties_reversed),
                "tied inputs come out in reverse pool order: flipping a sort reverses its ties; "
                "sort in the direction you need with stable=True (as mode.rank does).",
            ),
            (
                lambda a: all(torch.equal(a[d], _probe(d).sort().values) for d in DIAGNOSES),
                "you sorted your picks by pool position: keep them in ranked order, best first.",
            ),
        ],
    )
    if mistake is not None:
        return mistake
    for diagnosis in DIAGNOSES:
        problem = _mismatch(
            answers[diagnosis], _probe(diagnosis), PROBE_TARGETS, PROBE_LABEL, PROBE_COUNT,
            f"On a test pool ({diagnosis})",
        )  # fmt: skip
        if problem is not None:
            return problem
    for label, diagnosis in diagnoses.items():
        answer = _as_indices(
            call(
                function,
                pool_features.clone(),
                pool_targets.clone(),
                label,
                diagnosis,
                references[label].clone(),
                count,
            )  # fmt: skip
        )
        expected = _pick_for_label(
            pool_features, pool_targets, label, diagnosis, references[label], count
        )
        problem = _mismatch(
            answer, expected, pool_targets, label, count, f"On the pool, label {label}"
        )
        if problem is not None:
            return problem
    return None


def picks(
    function: Any,
    pool_features: torch.Tensor,
    pool_targets: torch.Tensor,
    references: dict[int, torch.Tensor],
    diagnoses: dict[int, str],
    count: int,
) -> Callable:
    """Check Task 4.4, ``function(pool_features, pool_targets, label, diagnosis, reference,
    count)``: the ``count`` pool positions MODE takes for one buggy label, best first.

    Parameters
    ----------
    function : callable or ``...``
        The student's function: among the pool inputs of ``label``, the ``count`` most similar
        to ``reference`` by cosine (``diagnosis == "underfitting"``) or the ``count`` most
        dissimilar (``"overfitting"``), as positions in the pool, in ranked order (ties in pool
        order).
    pool_features : Tensor
        ``[N, D]`` target-layer features of the pool.
    pool_targets : Tensor
        ``[N]`` labels of the pool.
    references : dict
        ``{buggy label: reference map [D]}``.
    diagnoses : dict
        ``{buggy label: "underfitting" | "overfitting"}``; each is checked on the pool.
    count : int
        Picks per label.

    Returns
    -------
    callable
        The student's function when it is right, else the library's
        (:func:`~failure_modes.tracks.mode.select_inputs` with ``mix=0``).
    """
    return check(
        "4.4",
        function,
        lambda f: _diagnose_picks(f, pool_features, pool_targets, references, diagnoses, count),
        _pick_for_label,
    )
