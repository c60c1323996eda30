"""The MODE loop: select, retrain, repeat, with the same optimiser policy for MODE and its
controls."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from failure_modes.models.evaluation import accuracy, per_class_accuracy, predict
from failure_modes.models.training import train_classifier
from failure_modes.tracks.mode.diagnosis import (
    buggy_labels,
    check_open_unit,
    diagnose,
    label_accuracy,
)
from failure_modes.tracks.mode.heat_maps import heat_maps
from failure_modes.tracks.mode.layers import layer_features, probe_points, target_layer
from failure_modes.tracks.mode.selection import CONTROLS, random_inputs, select_inputs, take
from failure_modes.tracks.mode.similarity import MEASURES
from failure_modes.tracks.mode.splits import Data, Splits, check_data, check_splits
from failure_modes.utils.validation import (
    check_callable,
    check_choice,
    check_instance,
    check_model,
    check_non_empty,
    check_positive,
    check_positive_int,
    check_probability,
    check_seed,
)

__all__ = [
    "DIRECTIONS",
    "ModeConfig",
    "Trajectory",
    "check_config",
    "debug_model",
    "round_against_random",
]


DIRECTIONS = ("diagnosis", "similar", "dissimilar")


@dataclass(frozen=True)
class ModeConfig:
    """Settings of one debugging run, shared by MODE and its random control.

    Attributes
    ----------
    threshold : float
        Labels under this validation accuracy are buggy.
    gap : float
        Train–validation gap above which a buggy label counts as overfitting.
    size : int
        Pool inputs added per iteration.
    mix : float
        Share of each MODE selection drawn at random from the non-buggy labels.
    iterations : int
        Rounds of selection and retraining.
    epochs, lr, batch_size : int, float, int
        The optimiser policy of every retraining (Adam on train + everything selected so far,
        continuing from the current weights).
    agreement : float
        Saturation threshold of :func:`saturation_layer`.
    direction : {"diagnosis", "similar", "dissimilar"}
        ``"diagnosis"`` is MODE's rule (most similar inputs for underfitting, most dissimilar
        for overfitting); the others force one direction for every buggy label, to see what
        ranking the wrong way round costs.
    """

    threshold: float = 0.8
    gap: float = 0.1
    size: int = 120
    mix: float = 0.25
    iterations: int = 3
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 64
    agreement: float = 0.9
    direction: Literal["diagnosis", "similar", "dissimilar"] = "diagnosis"

    def __post_init__(self) -> None:
        check_choice(self.direction, DIRECTIONS, "direction")
        check_open_unit(self.threshold, "threshold")
        check_open_unit(self.gap, "gap")
        check_open_unit(self.agreement, "agreement")
        check_probability(self.mix, "mix")
        for name in ("size", "iterations", "epochs", "batch_size"):
            check_positive_int(getattr(self, name), name)
        check_positive(self.lr, "lr")


def check_config(config: object) -> ModeConfig:
    """``config`` as a :class:`ModeConfig`: ``ModeConfig()`` for None, else it must be one.

    Parameters
    ----------
    config : ModeConfig or None
        The settings of a run.

    Returns
    -------
    ModeConfig

    Raises
    ------
    TypeError
        For anything else (a dict of settings: pass ``ModeConfig(**settings)``).
    """
    if config is None:
        return ModeConfig()
    what = "a ModeConfig or None (for a dict of settings pass ModeConfig(**settings))"
    return check_instance(config, ModeConfig, "config", what)


@dataclass(frozen=True)
class Trajectory:
    """Per-label accuracy of one run after each iteration (row 0: the starting model).

    Attributes
    ----------
    name : str
        The selection: a key of :data:`MEASURES` or of :data:`CONTROLS`.
    validation, test : ndarray of shape (iterations + 1, num_classes)
        Per-label accuracy; ``test`` is all NaN when no test set was given.
    validation_overall, test_overall : ndarray of shape (iterations + 1,)
        Accuracy over all inputs.
    buggy : list of list of int
        The buggy labels each iteration found on the validation split (empty for
        ``"random"``, which does not look).
    selected : ndarray of shape (iterations, num_classes)
        How many inputs of each label each iteration took from the pool.
    """

    name: str
    validation: np.ndarray
    test: np.ndarray
    validation_overall: np.ndarray
    test_overall: np.ndarray
    buggy: list[list[int]]
    selected: np.ndarray


def _concat(*parts: Data) -> Data:
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _retrain(model: nn.Module, train: Data, config: ModeConfig, seed: int) -> nn.Module:
    retrained = copy.deepcopy(model)
    train_classifier(
        retrained, train, epochs=config.epochs, lr=config.lr, batch_size=config.batch_size,
        seed=seed, progress=False,
    )  # fmt: skip
    return retrained


def round_against_random(
    model: nn.Module,
    train: Data,
    pool: Data,
    chosen: torch.Tensor | Sequence[int],
    validation: Data,
    retrain: Callable[[nn.Module, Data], object],
    *,
    seed: int,
) -> dict[str, float]:
    """One round of MODE's fix against the random control, from the same starting model.

    A copy of ``model`` is retrained on ``train`` plus the pool inputs ``chosen``, another copy
    on ``train`` plus as many pool inputs drawn at random (:func:`random_inputs`): the same
    budget, the same starting state, the same ``retrain``. ``model`` is left unchanged.

    Parameters
    ----------
    model : nn.Module
        The starting model.
    train, pool, validation : tuple of Tensor
        The training set, the bug-fixing pool and the split the gains are measured on.
    chosen : Tensor or sequence of int
        MODE's picks, indices into ``pool`` (:func:`select_inputs`).
    retrain : callable
        ``retrain(model, data)`` trains ``model`` in place on ``data``.
    seed : int
        Fixes the random control's draw.

    Returns
    -------
    dict
        ``{"mode": gain, "random": gain}``: validation accuracy after the round minus before.
    """
    check_model(model)
    train, validation = check_data(train, "train"), check_data(validation, "validation")
    check_non_empty(validation[1], "validation")
    check_callable(retrain, "retrain", "callable as retrain(model, data)")
    seed = check_seed(seed)
    mode_picks, _ = take(pool, chosen, name="chosen")
    random_picks, _ = take(pool, random_inputs(pool, len(mode_picks[1]), seed=seed))
    before = accuracy(*predict(model, validation))
    gains = {}
    for name, selected in {"mode": mode_picks, "random": random_picks}.items():
        retrained = copy.deepcopy(model)
        retrain(retrained, _concat(train, selected))
        gains[name] = accuracy(*predict(retrained, validation)) - before
    return gains


def _mode_selection(
    model: nn.Module, splits: Splits, pool: Data, train: Data, layer: str | None,
    measure: str | None, config: ModeConfig, seed: int,
) -> tuple[torch.Tensor, list[int]]:  # fmt: skip
    val_accuracy = label_accuracy(model, splits.validation)
    labels = buggy_labels(val_accuracy, config.threshold)
    if not labels:
        # Nothing to fix: draw like the control so both runs still see the same amount of data.
        return random_inputs(pool, config.size, seed=seed), labels
    diagnoses = diagnose(label_accuracy(model, train), val_accuracy, labels, gap=config.gap)
    if config.direction != "diagnosis":
        # The diagnosis only sets the ranking direction, so forcing one means relabelling.
        forced = "underfitting" if config.direction == "similar" else "overfitting"
        diagnoses = dict.fromkeys(labels, forced)
    features = references = None
    if measure is not None:
        pred, true = predict(model, splits.validation)
        val_features = layer_features(model, layer, splits.validation[0])
        references = {
            label: heat_maps(val_features, pred, true, label).reference for label in labels
        }
        features = layer_features(model, layer, pool[0])
    index = select_inputs(
        pool[1], diagnoses, size=config.size, measure=measure, pool_features=features,
        references=references, mix=config.mix, seed=seed,
    )  # fmt: skip
    return index, labels


def debug_model(
    model: nn.Module,
    splits: Splits,
    *,
    selection: str,
    seed: int,
    config: ModeConfig | None = None,
    layer: str | None = None,
    test: Data | None = None,
    progress: bool = True,
) -> Trajectory:
    """Run MODE, or one of its :data:`CONTROLS`, for ``config.iterations`` rounds.

    Each round selects ``config.size`` pool inputs, removes them from the pool and retrains a
    copy of the current model on the training set plus everything selected so far, with the
    same optimiser policy for every selection. ``model`` and ``splits`` are left unchanged.

    Parameters
    ----------
    model : nn.Sequential
        The starting model.
    splits : Splits
        From :func:`make_splits`.
    selection : str
        A key of :data:`MEASURES` (MODE ranking by that measure), ``"random"`` or
        ``"label_random"`` (see :data:`CONTROLS`).
    seed : int
        Fixes the random draws and the batch order (use the same seed for every selection).
    config : ModeConfig, optional
        Defaults to ``ModeConfig()``.
    layer : str, optional
        Target layer of a measure; by default found on the starting model by
        :func:`target_layer`.
    test : tuple of Tensor, optional
        Held-out data evaluated after each round for the report only; no decision uses it.
    progress : bool, default True
        A progress bar over the rounds.

    Returns
    -------
    Trajectory
    """
    check_model(model)
    config = check_config(config)
    check_choice(selection, [*MEASURES, *CONTROLS], "selection")
    seed = check_seed(seed)
    check_splits(splits)
    if layer is not None:
        check_choice(layer, [*probe_points(model), "input"], "layer")
    if test is not None:
        check_non_empty(check_data(test, "test")[1], "test")
    train, pool = check_data(splits.train, "splits.train"), check_data(splits.pool, "splits.pool")
    num_classes = int(torch.cat([train[1], splits.validation[1], pool[1]]).max()) + 1
    measure = selection if selection in MEASURES else None
    if measure is not None and layer is None:
        layer = target_layer(
            model, splits, agreement=config.agreement, seed=seed, progress=progress
        )[0]

    def evaluate(current: nn.Module) -> tuple[np.ndarray, float, np.ndarray, float]:
        pred, true = predict(current, splits.validation)
        row = (per_class_accuracy(pred, true, num_classes), float((pred == true).mean()))
        if test is None:
            return (*row, np.full(num_classes, np.nan), math.nan)
        pred, true = predict(current, test)
        return (*row, per_class_accuracy(pred, true, num_classes), float((pred == true).mean()))

    rows = [evaluate(model)]
    buggy, selected = [], []
    current = model
    rounds = tqdm(range(config.iterations), desc=f"MODE ({selection})", disable=not progress)
    for iteration in rounds:
        round_seed = seed * 1000 + iteration
        if selection == "random":
            index, labels = random_inputs(pool, config.size, seed=round_seed), []
        else:
            index, labels = _mode_selection(
                current, splits, pool, train, layer, measure, config, round_seed
            )
        chosen, pool = take(pool, index)
        train = _concat(train, chosen)
        current = _retrain(current, train, config, round_seed)
        rows.append(evaluate(current))
        buggy.append(labels)
        selected.append(np.bincount(chosen[1].numpy(), minlength=num_classes))
    return Trajectory(
        name=selection,
        validation=np.stack([r[0] for r in rows]),
        test=np.stack([r[2] for r in rows]),
        validation_overall=np.array([r[1] for r in rows]),
        test_overall=np.array([r[3] for r in rows]),
        buggy=buggy,
        selected=np.stack(selected),
    )
