"""Checkers for the coding tasks of the MODE notebook (``advanced/mode_debugging``).

Each checker runs the student's function on a small probe built here, where every typical
mistake gives a different answer, then on the notebook's own tensors, and returns what the
notebook goes on with (see :mod:`failure_modes.course.checks`). None of them draws from
torch's global random stream, so the notebook's numbers do not depend on the answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from failure_modes.course.checks.feedback import call, check, first_mistake, tensor_mismatch
from failure_modes.models.evaluation import per_class_accuracy
from failure_modes.models.nets import DenseModel
from failure_modes.models.training import train_classifier
from failure_modes.tracks import mode
from failure_modes.tracks.mode import MEASURES
from failure_modes.utils.seeding import seeded

__all__ = ["buggy_labels", "cosine", "differential_map", "ranking", "round_against_random"]

NUM_CLASSES = 10
# Task 1.1's probe: label l has four inputs, RIGHT[l] of them predicted right and the rest
# taken for label l + 1, so recall, precision and overall accuracy all differ; labels 2 and 6
# sit exactly on PROBE_THRESHOLD.
RIGHT = (4, 3, 2, 1, 0, 4, 2, 3, 4, 1)
PROBE_THRESHOLD = 0.5


# Task 1.1: per-label accuracy and the buggy labels -------------------------------------------


def _accuracy_and_buggy(
    pred: np.ndarray, true: np.ndarray, threshold: float
) -> tuple[np.ndarray, list[int]]:
    accuracy = per_class_accuracy(np.asarray(pred), np.asarray(true), NUM_CLASSES)
    return accuracy, mode.buggy_labels(accuracy, threshold)


def _probe_predictions() -> tuple[np.ndarray, np.ndarray]:
    true = np.repeat(np.arange(NUM_CLASSES), 4)
    pred = true.copy()
    for label, right in enumerate(RIGHT):
        pred[4 * label + right : 4 * label + 4] = (label + 1) % NUM_CLASSES
    return pred, true


def _precision(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    return per_class_accuracy(true, pred, NUM_CLASSES)  # recall with the roles swapped


def _as_accuracy_and_labels(answer: Any) -> tuple[np.ndarray, list[int]]:
    accuracy, labels = answer
    accuracy = np.asarray(torch.as_tensor(accuracy).detach().cpu(), dtype=float)
    return accuracy, sorted(int(label) for label in labels)


def _buggy_mismatch(
    answer: tuple[np.ndarray, list[int]], expected: tuple, where: str
) -> str | None:
    accuracy, labels = answer
    if accuracy.shape != expected[0].shape:
        return (
            f"{where}, the accuracy should have one value per label, shape "
            f"{list(expected[0].shape)}, but it has shape {list(accuracy.shape)}."
        )
    if not np.allclose(accuracy, expected[0], atol=1e-9, equal_nan=True):
        return f"{where}, the per-label accuracy should be {np.round(expected[0], 3).tolist()}."
    if labels != expected[1]:
        return f"{where}, the buggy labels should be {expected[1]}, but you found {labels}."
    return None


def _diagnose_buggy(
    function: Callable, pred: np.ndarray, true: np.ndarray, threshold: float
) -> str | None:
    probe_pred, probe_true = _probe_predictions()
    answer = _as_accuracy_and_labels(
        call(function, probe_pred.copy(), probe_true.copy(), PROBE_THRESHOLD)
    )
    expected = _accuracy_and_buggy(probe_pred, probe_true, PROBE_THRESHOLD)
    overall = float((probe_pred == probe_true).mean())
    at_or_above = [int(label) for label in np.flatnonzero(expected[0] >= PROBE_THRESHOLD)]
    above = [int(label) for label in np.flatnonzero(expected[0] > PROBE_THRESHOLD)]
    at_or_under = [int(label) for label in np.flatnonzero(expected[0] <= PROBE_THRESHOLD)]
    mistake = first_mistake(
        answer,
        [
            (
                lambda a: np.allclose(a[0], overall),
                f"your accuracy is the same for every label: it is the overall accuracy "
                f"({overall:.2f} on a test input); compute it separately over the inputs of "
                "each label.",
            ),
            (
                lambda a: np.allclose(a[0], _precision(probe_pred, probe_true), equal_nan=True),
                "you divided by how often each label was *predicted* (precision); a label's "
                "accuracy is the share of the inputs that truly have the label that are "
                "predicted right (group by the true label).",
            ),
            (
                lambda a: a[1] in (at_or_above, above),
                "you listed the labels at or above the threshold, the good ones: a buggy "
                "label's accuracy is *under* the threshold.",
            ),
            (
                lambda a: a[1] == at_or_under,
                f"a label whose accuracy equals the threshold exactly (labels "
                f"{sorted(set(at_or_under) - set(expected[1]))} of a test input, at "
                f"{PROBE_THRESHOLD}) is not buggy: compare with <, as mode.buggy_labels does.",
            ),
        ],
    )
    if mistake is not None:
        return mistake
    problem = _buggy_mismatch(answer, expected, "On a test input")
    if problem is not None:
        return problem
    answer = _as_accuracy_and_labels(call(function, pred.copy(), true.copy(), threshold))
    return _buggy_mismatch(
        answer, _accuracy_and_buggy(pred, true, threshold), "On the validation split"
    )


def buggy_labels(function: Any, pred: np.ndarray, true: np.ndarray, threshold: float) -> list[int]:
    """Check Task 1.1, ``function(pred, true, threshold) -> (accuracy, buggy)``.

    Parameters
    ----------
    function : callable or ``...``
        The student's function: per-label accuracy (shape ``[10]``) from predicted and true
        labels, and the labels whose accuracy is under ``threshold``.
    pred, true : ndarray of shape (N,)
        The starting model's predictions on the validation split and the true labels.
    threshold : float
        The buggy-label threshold (``CONFIG.threshold``).

    Returns
    -------
    list of int
        The buggy labels, from the student's function when it is right, else from
        :func:`~failure_modes.tracks.mode.buggy_labels`.
    """
    chosen = check(
        "1.1",
        function,
        lambda f: _diagnose_buggy(f, pred, true, threshold),
        _accuracy_and_buggy,
    )
    return _as_accuracy_and_labels(chosen(pred.copy(), true.copy(), threshold))[1]


# Task 3.1: the differential heat map correct - false negative --------------------------------


def _minus_false_negative(
    features: torch.Tensor, pred: np.ndarray, true: np.ndarray, label: int
) -> torch.Tensor:
    return mode.heat_maps(features, pred, true, label).minus_false_negative


def _probe_maps() -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    # Label 0: three right, two missed (false negatives), one impostor (false positive).
    features = torch.rand(8, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    true = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    pred = np.array([0, 0, 0, 1, 1, 0, 1, 1])
    return features, pred, true


def _as_map(answer: Any) -> torch.Tensor:
    return torch.as_tensor(answer).detach().cpu().double()


def _close(answer: torch.Tensor, expected: torch.Tensor) -> bool:
    return answer.shape == expected.shape and torch.allclose(answer, expected, atol=1e-9)


def _diagnose_map(
    function: Callable, features: torch.Tensor, pred: np.ndarray, true: np.ndarray, label: int
) -> str | None:
    probe, probe_pred, probe_true = _probe_maps()
    answer = _as_map(call(function, probe.clone(), probe_pred.copy(), probe_true.copy(), 0))
    maps = mode.heat_maps(probe, probe_pred, probe_true, 0)
    correct = (probe_true == 0) & (probe_pred == 0)
    missed = (probe_true == 0) & (probe_pred != 0)
    sums = probe[correct].sum(dim=0) - probe[missed].sum(dim=0)
    mistake = first_mistake(
        answer,
        [
            (
                lambda a: _close(a, -maps.minus_false_negative),
                "your map has the sign reversed (missed minus correct): MODE takes correct "
                "minus false negative, so that red marks what the right answers have.",
            ),
            (
                lambda a: _close(a, sums),
                f"your map subtracts sums, so it grows with the group sizes (here "
                f"{int(correct.sum())} correct and {int(missed.sum())} missed inputs): take the "
                "mean of each group.",
            ),
            (
                lambda a: _close(a, maps.minus_false_positive),
                "you subtracted the false positives (other labels' inputs predicted as the "
                "label); the false negatives are the label's own inputs predicted as something "
                "else.",
            ),
            (
                lambda a: _close(a, maps.label_mean - maps.false_negative),
                "your first map averages every input of the label; take only those predicted "
                "right (true == label and pred == label).",
            ),
        ],
    )
    if mistake is not None:
        return mistake
    problem = tensor_mismatch(answer, maps.minus_false_negative, "map (test input)", atol=1e-9)
    if problem is not None:
        return problem
    answer = _as_map(call(function, features.clone(), pred.copy(), true.copy(), label))
    expected = _minus_false_negative(features, pred, true, label)
    return tensor_mismatch(answer, expected, f"map of label {label}", atol=1e-5)


def differential_map(
    function: Any, features: torch.Tensor, pred: np.ndarray, true: np.ndarray, label: int
) -> torch.Tensor:
    """Check Task 3.1, ``function(features, pred, true, label)``: correct minus false negative.

    Parameters
    ----------
    function : callable or ``...``
        The student's function: the mean features of the label's inputs predicted right minus
        the mean features of its inputs predicted as something else.
    features : Tensor
        ``[N, ...]`` features or images of the validation split.
    pred, true : ndarray of shape (N,)
        Predicted and true labels of the same inputs.
    label : int
        The label to map.

    Returns
    -------
    Tensor
        The map of ``label`` in float64, from the student's function when it is right, else
        :attr:`~failure_modes.tracks.mode.HeatMaps.minus_false_negative`.
    """
    chosen = check(
        "3.1",
        function,
        lambda f: _diagnose_map(f, features, pred, true, label),
        _minus_false_negative,
    )
    return _as_map(chosen(features.clone(), pred.copy(), true.copy(), label))


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
                lambda a: _close(a, dot),
                "these are dot products: divide each by the norm of its row and by the norm of "
                "the reference.",
            ),
            (
                lambda a: _close(a, dot / probe.norm(dim=1)),
                "you divided by the candidates' norms only; divide by the reference's norm too.",
            ),
            (
                lambda a: _close(a, dot / ref.norm()),
                "you divided by the reference's norm only; divide by each candidate's norm too.",
            ),
            (
                lambda a: _close(a, dot / (probe.norm() * ref.norm())),
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


# Task 5.1: one round of MODE against the random control ---------------------------------------


@dataclass
class _Spy:
    """A ``retrain(model, data)`` that trains a probe model and notes how it was called."""

    start: dict[str, torch.Tensor]
    calls: list[tuple[int, bool]] = field(default_factory=list)  # (inputs, from the start?)

    def __call__(self, model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> None:
        fresh = _same_state(model, self.start)
        self.calls.append((len(data[1]), fresh))
        # One full batch in a fixed order: the result does not depend on how data was joined.
        train_classifier(
            model, data, epochs=30, lr=0.05, batch_size=len(data[1]), seed=0,
            shuffle=False, progress=False,
        )  # fmt: skip


def _same_state(model: nn.Module, state: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(value, state[key]) for key, value in model.state_dict().items())


@dataclass(frozen=True)
class _RoundProbe:
    model: nn.Module
    train: tuple[torch.Tensor, torch.Tensor]
    pool: tuple[torch.Tensor, torch.Tensor]
    chosen: torch.Tensor
    validation: tuple[torch.Tensor, torch.Tensor]
    spy: _Spy


def _round_probe() -> _RoundProbe:
    """A few dozen 2 x 2 "images" of three classes and a tiny model, built afresh each time."""
    inputs = torch.rand(72, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    flat = inputs.flatten(1)
    targets = (flat[:, 0] > flat[:, 1]).long() + (flat[:, 2] > 0.5).long()
    with seeded(0):
        model = DenseModel(input_shape=(2, 2), num_classes=3, hidden_sizes=(6,))
    start = {key: value.clone() for key, value in model.state_dict().items()}
    return _RoundProbe(
        model=model,
        train=(inputs[:8], targets[:8]),
        pool=(inputs[8:48], targets[8:48]),
        chosen=torch.arange(0, 20, 2),
        validation=(inputs[48:], targets[48:]),
        spy=_Spy(start),
    )


def _reference_gains(*, evaluate_on_train: bool = False) -> dict[str, float]:
    probe = _round_probe()
    validation = probe.train if evaluate_on_train else probe.validation
    return mode.round_against_random(
        probe.model, probe.train, probe.pool, probe.chosen, validation, probe.spy, seed=0
    )


def _as_gains(answer: Any) -> dict[str, float]:
    return {key: float(answer[key]) for key in ("mode", "random")}


def _gains_close(answer: dict[str, float], expected: dict[str, float]) -> bool:
    return all(abs(answer[key] - expected[key]) < 1e-9 for key in expected)


def _diagnose_round(function: Callable) -> str | None:
    probe = _round_probe()
    answer = call(
        function, probe.model, probe.train, probe.pool, probe.chosen, probe.validation,
        probe.spy, seed=0,
    )  # fmt: skip
    calls = probe.spy.calls
    if len(calls) != 2:
        return (
            f"retrain was called {len(calls)} times: call it once for MODE's picks and once "
            "for the random control."
        )
    if calls[0][0] != calls[1][0]:
        return (
            f"one retraining set had {calls[0][0]} inputs and the other {calls[1][0]}: the "
            f"random control must get as many pool inputs as MODE (len(chosen)), on top of the "
            "same training set."
        )
    if not all(fresh for _, fresh in calls):
        return (
            "the second retraining started from the model the first one had already improved: "
            "retrain a fresh copy (copy.deepcopy) of the original model for each selection."
        )
    if not _same_state(probe.model, probe.spy.start):
        return (
            "your function changed the model it was given: retrain copies (copy.deepcopy), "
            "so that the starting model stays as it was."
        )
    try:
        gains = _as_gains(answer)
    except Exception:  # any other shape of answer
        return "return a dict {'mode': gain, 'random': gain} of two numbers."
    if _gains_close(gains, _reference_gains(evaluate_on_train=True)):
        return (
            "your gains are measured on the training inputs, which the retraining has seen: "
            "measure the accuracy on `validation`."
        )
    expected = _reference_gains()
    if not _gains_close(gains, expected):
        return (
            f"on a test input the gains should be mode {expected['mode']:+.3f}, random "
            f"{expected['random']:+.3f}, but yours are mode {gains['mode']:+.3f}, random "
            f"{gains['random']:+.3f}: the gain is the validation accuracy after the round minus "
            "before, and the control draws mode.random_inputs(pool, len(chosen), seed=seed)."
        )
    return None


def round_against_random(function: Any) -> Callable:
    """Check Task 5.1, one round of MODE against the random control.

    ``function(model, train, pool, chosen, validation, retrain, *, seed)`` retrains a copy of
    ``model`` on ``train`` plus the pool inputs ``chosen`` and another copy on ``train`` plus as
    many random pool inputs, and returns ``{"mode": gain, "random": gain}``, the validation
    accuracy gains. The check runs it on a tiny model and a few dozen inputs.

    Parameters
    ----------
    function : callable or ``...``
        The student's function.

    Returns
    -------
    callable
        The student's function when it is right, else
        :func:`~failure_modes.tracks.mode.round_against_random`.
    """
    return check("5.1", function, _diagnose_round, mode.round_against_random)
