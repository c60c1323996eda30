"""Which layer MODE looks at: linear probes on every hidden layer, and where they saturate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from failure_modes.models.evaluation import predict
from failure_modes.models.training import train_classifier
from failure_modes.tracks.mode.diagnosis import check_open_unit
from failure_modes.tracks.mode.splits import Data, Splits, check_data, check_splits
from failure_modes.utils.devices import device_of, evaluating
from failure_modes.utils.seeding import seeded
from failure_modes.utils.validation import (
    check_choice,
    check_float_batch,
    check_non_empty,
    check_not_none,
    check_number,
    check_positive_int,
)

__all__ = [
    "Probe",
    "probe_points",
    "layer_features",
    "probe_layers",
    "saturation_layer",
    "target_layer",
]


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
    inputs = check_float_batch(inputs, "inputs", ndim=4)
    if layer == "input":
        return inputs.detach().reshape(len(inputs), -1).cpu()
    points = probe_points(model)
    check_choice(layer, points, "layer")
    check_positive_int(batch_size, "batch_size")
    prefix = model[: points[layer]]  # shares the trained layers, copies nothing
    device = device_of(model)
    with evaluating(prefix):
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
    progress: bool = True,
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
    x_train, y_train = check_data(train, "train")
    x_val, y_val = check_data(validation, "validation")
    check_non_empty(y_train, "train")
    check_non_empty(y_val, "validation")
    check_number(lr, "lr")
    num_classes = int(torch.cat([y_train, y_val]).max()) + 1
    probes = []
    for layer in tqdm(probe_points(model), desc="layer probes", disable=not progress, leave=False):
        features = layer_features(model, layer, x_train)
        with seeded(seed):  # the head's initial weights; the caller's random state is kept
            head = nn.Linear(features.shape[1], num_classes)
        train_classifier(
            head, (features, y_train), epochs=epochs, lr=lr, batch_size=batch_size,
            seed=seed, device="cpu", progress=False,
        )  # fmt: skip
        pred, true = predict(head, (layer_features(model, layer, x_val), y_val))
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
    check_open_unit(agreement, "agreement")
    check_non_empty(check_not_none(probes, "probes", "a list of Probe (probe_layers)"), "probes")
    shares = [
        float((a.predictions == b.predictions).mean())
        for a, b in zip(probes[:-1], probes[1:], strict=True)
    ]
    for probe, share in zip(probes[:-1], shares, strict=True):
        if share >= agreement:
            return probe.layer, shares
    return probes[-1].layer, shares


def target_layer(
    model: nn.Module,
    splits: Splits,
    *,
    agreement: float = 0.9,
    seed: int = 0,
    progress: bool = True,
) -> tuple[str, list[float]]:
    """Layer targeting in one call: :func:`probe_layers` then :func:`saturation_layer`.

    Parameters
    ----------
    model : nn.Sequential
        The classifier to inspect.
    splits : Splits
        Its training set trains the probes, its validation split judges them.
    agreement, seed, progress
        As in :func:`saturation_layer` and :func:`probe_layers`.

    Returns
    -------
    layer : str
    agreements : list of float
    """
    check_splits(splits)
    check_open_unit(agreement, "agreement")
    probes = probe_layers(model, splits.train, splits.validation, seed=seed, progress=progress)
    return saturation_layer(probes, agreement=agreement)
