"""Task 5.1 of the MODE notebook: one round of MODE against the random control."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from failure_modes.course.checks.feedback import call, check
from failure_modes.models.nets import DenseModel
from failure_modes.models.training import train_classifier
from failure_modes.tracks import mode
from failure_modes.utils.seeding import seeded

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
