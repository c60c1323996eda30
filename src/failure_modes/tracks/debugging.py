"""MODE: debugging a classifier by state differential analysis and targeted input selection.

MODE (Ma et al., FSE 2018) fixes a model's weak labels with data chosen for them, in steps:

1. :func:`make_splits` cuts a training set, a reserved *bug-fixing pool* and a validation split
   out of the training data; every decision below looks at the validation split only, so a test
   set stays untouched until the final report. :func:`train_starting_model` trains a
   deliberately weak model (a few labels are starved of examples) so that there are bugs to fix.
2. :func:`label_accuracy` and :func:`buggy_labels` find the labels under a threshold;
   :func:`diagnose` calls each one underfitting (train and validation accuracy both low) or
   overfitting (train accuracy well above validation accuracy).
3. :func:`probe_layers` trains a fresh linear head on the frozen output of every hidden layer;
   :func:`saturation_layer` picks the first layer after which the probes' predictions stop
   changing: the layer MODE targets.
4. :func:`heat_maps` averages the target layer's features (or the pixels) of the inputs a
   label gets right, its false positives and its false negatives; the differences between
   these means are the differential heat maps, and :attr:`HeatMaps.reference` is the one that
   drives selection.
5. :func:`select_inputs` ranks the pool's inputs of each buggy label by one of the nine
   :data:`MEASURES` against that reference (most similar for underfitting, most dissimilar for
   overfitting), mixes in random inputs of the other labels, and :func:`take` moves them out of
   the pool.
6. :func:`debug_model` repeats selection and retraining. The :data:`CONTROLS` run the same
   loop with the same number of pool inputs and the same optimiser policy: ``"random"`` draws
   uniformly from the pool, ``"label_random"`` targets the same buggy labels but ignores the
   ranking. :mod:`failure_modes.tracks.mode_experiment` compares them over seeds with paired tests.

The nine measures themselves live in :mod:`failure_modes.tracks.similarity` (re-exported here).

Datasets are ``(inputs, targets)`` tensor pairs throughout; no function changes its arguments.

Examples
--------
>>> from failure_modes import data, debugging
>>> x, y = data.to_tensors(data.load_mnist(train=True))                 # doctest: +SKIP
>>> splits = debugging.make_splits((x, y), seed=0)                        # doctest: +SKIP
>>> model = debugging.train_starting_model(splits.train, seed=0)          # doctest: +SKIP
>>> run = debugging.debug_model(model, splits, selection="cosine", seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from failure_modes.models.evaluation import per_class_accuracy, predict
from failure_modes.models.nets import DenseModel
from failure_modes.models.training import classification_tensors, seed_everything, train_classifier
from failure_modes.tracks.similarity import MEASURES, Measure, rank, scores
from failure_modes.utils.validation import (
    check_choice,
    check_labels_present,
    check_positive_int,
    check_probability,
)

__all__ = [
    "Data",
    "Measure",
    "MEASURES",
    "Splits",
    "ModeConfig",
    "Probe",
    "HeatMaps",
    "Trajectory",
    "make_splits",
    "train_starting_model",
    "label_accuracy",
    "buggy_labels",
    "diagnose",
    "probe_points",
    "layer_features",
    "probe_layers",
    "saturation_layer",
    "heat_maps",
    "scores",
    "rank",
    "take",
    "CONTROLS",
    "DIRECTIONS",
    "select_inputs",
    "random_inputs",
    "target_layer",
    "debug_model",
]

Data = tuple[torch.Tensor, torch.Tensor]
"""A dataset as ``(inputs float [N, C, H, W], targets int64 [N])``."""

Diagnosis = Literal["underfitting", "overfitting"]


# --------------------------------------------------------------------------- data
def _check_data(data: object, name: str) -> Data:
    try:
        inputs, targets = classification_tensors(data)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{name}: {error}") from None
    return inputs, targets


def _check_open_unit(value: float, name: str) -> float:
    # Thresholds of exactly 0 or 1 would make every label buggy or none, so both ends are out.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number strictly between 0 and 1, got {value!r}.")
    if not 0 < value < 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}.")
    return float(value)


def _subset(data: Data, index: torch.Tensor) -> Data:
    return data[0][index], data[1][index]


def _concat(*parts: Data) -> Data:
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


@dataclass(frozen=True)
class Splits:
    """Disjoint parts of the training data: what the model trains on, the reserved bug-fixing
    pool MODE draws from, and the validation split that every decision looks at."""

    train: Data
    pool: Data
    validation: Data


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
    inputs, targets = _check_data(data, "data")
    for value, name in [
        (validation_per_label, "validation_per_label"),
        (train_per_label, "train_per_label"),
        (pool_per_label, "pool_per_label"),
        (starved_count, "starved_count"),
    ]:
        check_positive_int(value, name)
    starved = {int(label) for label in starved_labels}
    check_labels_present(starved, targets, "starved_labels")
    generator = torch.Generator().manual_seed(int(seed))
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
    progress: bool = False,
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
    inputs, targets = _check_data(train, "train")
    seed_everything(seed)
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


# --------------------------------------------------------------------------- diagnosis
def label_accuracy(
    model: nn.Module,
    data: Data,
    *,
    num_classes: int = 10,
    batch_size: int = 1000,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Accuracy of ``model`` on each label of ``data`` (NaN for a label with no input).

    Returns
    -------
    ndarray of shape (num_classes,)
    """
    pred, true = predict(model, _check_data(data, "data"), batch_size=batch_size, device=device)
    return per_class_accuracy(pred, true, num_classes)


def buggy_labels(accuracy: Sequence[float] | np.ndarray, threshold: float = 0.8) -> list[int]:
    """Labels whose accuracy lies under ``threshold``.

    Parameters
    ----------
    accuracy : array-like of shape (num_classes,)
        Per-label accuracy on the validation split (NaN labels are ignored).
    threshold : float, default 0.8
        Strictly between 0 and 1.

    Returns
    -------
    list of int
        Buggy labels in increasing order.
    """
    _check_open_unit(threshold, "threshold")
    accuracy = np.asarray(accuracy, dtype=float)
    return [int(label) for label in np.flatnonzero(accuracy < threshold)]


def diagnose(
    train_accuracy: Sequence[float] | np.ndarray,
    validation_accuracy: Sequence[float] | np.ndarray,
    labels: Iterable[int],
    *,
    gap: float = 0.1,
) -> dict[int, Diagnosis]:
    """Call each buggy label underfitting or overfitting from its train–validation gap.

    Parameters
    ----------
    train_accuracy, validation_accuracy : array-like of shape (num_classes,)
        Per-label accuracy on the training set and on the validation split.
    labels : iterable of int
        The buggy labels.
    gap : float, default 0.1
        A label whose training accuracy exceeds its validation accuracy by more than ``gap``
        (strictly between 0 and 1) overfits; otherwise it underfits.

    Returns
    -------
    dict
        ``{label: "underfitting" | "overfitting"}``.
    """
    _check_open_unit(gap, "gap")
    train_accuracy = np.asarray(train_accuracy, dtype=float)
    validation_accuracy = np.asarray(validation_accuracy, dtype=float)
    if train_accuracy.shape != validation_accuracy.shape:
        raise ValueError(
            "train_accuracy and validation_accuracy must have the same shape, got "
            f"{train_accuracy.shape} and {validation_accuracy.shape}."
        )
    return {
        int(label): (
            "overfitting"
            if train_accuracy[label] - validation_accuracy[label] > gap
            else "underfitting"
        )
        for label in labels
    }


# --------------------------------------------------------------------------- layer targeting
def probe_points(model: nn.Module) -> dict[str, int]:
    """Hidden layers a probe can read: each activation module of a sequential model.

    Returns
    -------
    dict
        ``{layer name: k}``, where ``model[:k]`` computes that layer's output.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Sequential`` (a prefix needs one).
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(
            f"model must be an nn.Sequential so that model[:k] is a prefix, got "
            f"{type(model).__name__}."
        )
    return {
        name: index + 1
        for index, (name, module) in enumerate(model.named_children())
        if isinstance(module, nn.ReLU)
    }


@torch.no_grad()
def layer_features(
    model: nn.Module, layer: str, inputs: torch.Tensor, *, batch_size: int = 1000
) -> torch.Tensor:
    """Output of ``layer`` for every input, flattened to ``[N, D]``, on the CPU.

    Parameters
    ----------
    model : nn.Sequential
        The classifier.
    layer : str
        A key of :func:`probe_points`, or ``"input"`` for the (flattened) inputs themselves.
    inputs : Tensor
        ``[N, C, H, W]`` float inputs.
    batch_size : int, default 1000
        Inputs per forward pass.
    """
    if layer == "input":
        return inputs.detach().reshape(len(inputs), -1).cpu()
    points = probe_points(model)
    check_choice(layer, points, "layer")
    check_positive_int(batch_size, "batch_size")
    prefix = model[: points[layer]].eval()  # shares the trained layers, copies nothing
    device = next(model.parameters()).device
    chunks = [prefix(batch.to(device)).flatten(1).cpu() for batch in inputs.split(batch_size)]
    return torch.cat(chunks) if chunks else inputs.new_zeros(0, 0)


@dataclass(frozen=True)
class Probe:
    """A linear probe on one frozen layer: its validation predictions and accuracy."""

    layer: str
    predictions: np.ndarray
    accuracy: float


def probe_layers(
    model: nn.Module,
    train: Data,
    validation: Data,
    *,
    epochs: int = 10,
    lr: float = 1e-2,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = False,
) -> list[Probe]:
    """Train a fresh linear head on the frozen output of every hidden layer of ``model``.

    The model itself is not changed: features are computed once with the prefix frozen, and
    only the new head learns.

    Parameters
    ----------
    model : nn.Sequential
        The classifier to inspect.
    train : tuple of Tensor
        Data the heads are trained on.
    validation : tuple of Tensor
        Data the heads are judged on.
    epochs, lr, batch_size, seed, progress
        Training of each head (as in :func:`failure_modes.models.training.train_classifier`).

    Returns
    -------
    list of Probe
        One per layer of :func:`probe_points`, from the input side to the output side.
    """
    x_train, y_train = _check_data(train, "train")
    x_val, y_val = _check_data(validation, "validation")
    num_classes = int(torch.cat([y_train, y_val]).max()) + 1
    probes = []
    for layer in tqdm(probe_points(model), desc="layer probes", disable=not progress, leave=False):
        features = layer_features(model, layer, x_train)
        torch.manual_seed(seed)
        head = nn.Linear(features.shape[1], num_classes)
        train_classifier(
            head, (features, y_train), epochs=epochs, lr=lr, batch_size=batch_size,
            seed=seed, device="cpu", progress=False,
        )  # fmt: skip
        pred, true = predict(head, (layer_features(model, layer, x_val), y_val), device="cpu")
        probes.append(Probe(layer, pred, float((pred == true).mean())))
    return probes


def saturation_layer(probes: Sequence[Probe], *, agreement: float = 0.9) -> tuple[str, list[float]]:
    """The first layer after which the probes' predictions stop changing.

    Parameters
    ----------
    probes : sequence of Probe
        From :func:`probe_layers`, input side first.
    agreement : float, default 0.9
        Share of validation inputs on which a probe and the next must agree for the layer to
        count as saturated (strictly between 0 and 1).

    Returns
    -------
    layer : str
        The first saturated layer, or the last probed layer when none saturates.
    agreements : list of float
        Agreement between each probe and the next (one fewer than the probes).
    """
    _check_open_unit(agreement, "agreement")
    if not probes:
        raise ValueError("probes is empty; run probe_layers on a model with hidden layers.")
    shares = [
        float((a.predictions == b.predictions).mean())
        for a, b in zip(probes[:-1], probes[1:], strict=True)
    ]
    for probe, share in zip(probes[:-1], shares, strict=True):
        if share >= agreement:
            return probe.layer, shares
    return probes[-1].layer, shares


# --------------------------------------------------------------------------- heat maps
@dataclass(frozen=True)
class HeatMaps:
    """Mean features of one label's inputs, split by what the model did with them.

    A map is NaN where its group is empty (for example a label with no false positive).

    Attributes
    ----------
    label : int
    correct : Tensor
        Inputs of the label predicted as the label.
    false_positive : Tensor
        Inputs of other labels predicted as the label.
    false_negative : Tensor
        Inputs of the label predicted as something else.
    label_mean : Tensor
        All inputs of the label.
    counts : dict
        Number of inputs behind each map.
    """

    label: int
    correct: torch.Tensor
    false_positive: torch.Tensor
    false_negative: torch.Tensor
    label_mean: torch.Tensor
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def minus_false_positive(self) -> torch.Tensor:
        """Differential map: what the label's correct inputs have and its impostors lack."""
        return self.correct - self.false_positive

    @property
    def minus_false_negative(self) -> torch.Tensor:
        """Differential map: what the label's correct inputs have and its missed inputs lack."""
        return self.correct - self.false_negative

    @property
    def reference(self) -> torch.Tensor:
        """The differential map that selection compares candidates with.

        The correct map minus the mean of the error maps that exist; the label mean stands in
        for the correct map when the model gets no input of the label right, and the correct
        map is used as it is when the label has no error at all.
        """
        good = self.correct if self.counts.get("correct", 0) else self.label_mean
        errors = [
            m
            for m, key in [
                (self.false_positive, "false_positive"),
                (self.false_negative, "false_negative"),
            ]
            if self.counts.get(key, 0)
        ]
        return good - torch.stack(errors).mean(dim=0) if errors else good


def heat_maps(
    features: torch.Tensor,
    pred: Sequence[int] | np.ndarray,
    true: Sequence[int] | np.ndarray,
    label: int,
) -> HeatMaps:
    """Heat maps of one label from features (or images) and the model's predictions.

    Parameters
    ----------
    features : Tensor
        ``[N, ...]``: layer features from :func:`layer_features`, or images.
    pred, true : array-like of shape (N,)
        Predicted and true labels of the same inputs.
    label : int
        The label to map.

    Returns
    -------
    HeatMaps
        Maps of the shape of one feature row.
    """
    features = torch.as_tensor(features).detach().cpu().double()
    pred, true = torch.as_tensor(np.asarray(pred)), torch.as_tensor(np.asarray(true))
    if not (len(features) == len(pred) == len(true)):
        raise ValueError(
            f"features, pred and true must have the same length, got {len(features)}, "
            f"{len(pred)} and {len(true)}."
        )
    check_labels_present([label], true, "label")
    groups = {
        "correct": (true == label) & (pred == label),
        "false_positive": (true != label) & (pred == label),
        "false_negative": (true == label) & (pred != label),
        "label_mean": true == label,
    }
    nan = torch.full(features.shape[1:], math.nan, dtype=torch.float64)
    maps = {
        name: features[mask].mean(dim=0) if bool(mask.any()) else nan.clone()
        for name, mask in groups.items()
    }
    counts = {name: int(mask.sum()) for name, mask in groups.items()}
    return HeatMaps(label=int(label), counts=counts, **maps)


# --------------------------------------------------------------------------- selection
def _check_pool(pool: object, size: int) -> Data:
    inputs, targets = _check_data(pool, "pool")
    check_positive_int(size, "size")
    if len(targets) == 0:
        raise ValueError("pool is empty; there is nothing left to select. Reserve a larger pool.")
    if len(targets) < size:
        raise ValueError(
            f"pool holds {len(targets)} inputs but size={size} were requested; ask for at most "
            f"{len(targets)}."
        )
    return inputs, targets


def take(pool: Data, indices: torch.Tensor | Sequence[int]) -> tuple[Data, Data]:
    """Split ``pool`` into the selected inputs and the rest; ``pool`` itself is unchanged.

    Returns
    -------
    selected, rest : tuple of Tensor
    """
    inputs, targets = _check_data(pool, "pool")
    index = torch.as_tensor(indices, dtype=torch.long).flatten()
    if len(index) and (int(index.min()) < 0 or int(index.max()) >= len(targets)):
        raise ValueError(f"indices must lie in 0..{len(targets) - 1}.")
    if len(index.unique()) != len(index):
        raise ValueError("indices must not repeat; an input can leave the pool only once.")
    keep = torch.ones(len(targets), dtype=torch.bool)
    keep[index] = False
    return _subset((inputs, targets), index), _subset((inputs, targets), keep)


def random_inputs(pool: Data, size: int, *, seed: int) -> torch.Tensor:
    """Indices of ``size`` inputs drawn uniformly from ``pool`` without replacement."""
    _, targets = _check_pool(pool, size)
    generator = torch.Generator().manual_seed(int(seed))
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
        For an unknown measure, an empty or too small pool, no buggy label, or features or
        references missing for a measure.
    """
    pool_targets = torch.as_tensor(pool_targets)
    check_probability(mix, "mix")
    _check_pool((torch.zeros(len(pool_targets), 1), pool_targets), size)
    labels = sorted(int(label) for label in diagnoses)
    if not labels:
        raise ValueError("diagnoses is empty; with no buggy label use random_inputs instead.")
    if measure is not None:
        check_choice(measure, MEASURES, "measure")
        if pool_features is None or references is None:
            raise ValueError(f"measure {measure!r} needs pool_features and references.")
        missing = sorted(set(labels) - set(references))
        if missing:
            raise ValueError(f"references has no map for buggy labels {missing}.")
        if len(pool_features) != len(pool_targets):
            raise ValueError(
                f"pool_features has {len(pool_features)} rows but the pool {len(pool_targets)}."
            )
    generator = torch.Generator().manual_seed(int(seed))
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


# --------------------------------------------------------------------------- the MODE loop
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
        _check_open_unit(self.threshold, "threshold")
        _check_open_unit(self.gap, "gap")
        _check_open_unit(self.agreement, "agreement")
        check_probability(self.mix, "mix")
        for name in ("size", "iterations", "epochs", "batch_size"):
            check_positive_int(getattr(self, name), name)
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}.")


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


def _retrain(model: nn.Module, train: Data, config: ModeConfig, seed: int) -> nn.Module:
    retrained = copy.deepcopy(model)
    train_classifier(
        retrained, train, epochs=config.epochs, lr=config.lr, batch_size=config.batch_size,
        seed=seed, progress=False,
    )  # fmt: skip
    return retrained


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


def target_layer(
    model: nn.Module, splits: Splits, *, agreement: float = 0.9, seed: int = 0
) -> tuple[str, list[float]]:
    """Layer targeting in one call: :func:`probe_layers` then :func:`saturation_layer`.

    Returns
    -------
    layer : str
    agreements : list of float
    """
    probes = probe_layers(model, splits.train, splits.validation, seed=seed)
    return saturation_layer(probes, agreement=agreement)


def debug_model(
    model: nn.Module,
    splits: Splits,
    *,
    selection: str,
    seed: int,
    config: ModeConfig | None = None,
    layer: str | None = None,
    test: Data | None = None,
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

    Returns
    -------
    Trajectory
    """
    config = ModeConfig() if config is None else config
    check_choice(selection, [*MEASURES, *CONTROLS], "selection")
    train, pool = _check_data(splits.train, "splits.train"), _check_data(splits.pool, "splits.pool")
    num_classes = int(torch.cat([train[1], splits.validation[1], pool[1]]).max()) + 1
    measure = selection if selection in MEASURES else None
    if measure is not None and layer is None:
        layer = target_layer(model, splits, agreement=config.agreement, seed=seed)[0]

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
    for iteration in range(config.iterations):
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
