"""The model-parameter randomisation test: do a method's maps change when the model's weights
are replaced by random ones, layer by layer from the output?

A map that still looks the same once the model knows nothing cannot be explaining what the
model learned. One trap in measuring "looks the same": methods that multiply by the input's
difference from a black baseline (Integrated Gradients, DeepLift) or that occlude black with
black give exactly zero on the background *for every model*. Those shared zeros are tied
ranks that agree whatever the model, so a rank correlation over all pixels stays near 1 while
the maps on the digit change completely. :func:`randomization_check` therefore reports the
rank correlation over all pixels and over the *ink* (the pixels where the input differs from
the baseline), computed by :func:`rank_correlation_within`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata
from torch import nn
from tqdm.auto import tqdm

from failure_modes.explain.attribution import (
    compare_methods,
    parameter_layers,
    randomize_layers,
    rank_correlation,
    structural_similarity,
)
from failure_modes.utils.seeding import seeded
from failure_modes.utils.validation import (
    check_finite,
    check_mask,
    check_same_shape,
)

__all__ = ["randomization_check", "randomize_layer", "rank_correlation_within"]


def _relevance(maps: torch.Tensor, name: str) -> torch.Tensor:
    maps = check_finite(maps, name).detach()
    if maps.ndim == 4:
        return maps.abs().sum(dim=1)
    if maps.ndim == 3:
        return maps.abs()
    raise ValueError(f"{name} must have shape [N, H, W] or [N, C, H, W], got {tuple(maps.shape)}.")


def randomize_layer(model: nn.Module, name: str, seed: int = 0) -> nn.Module:
    """Independent randomisation: a copy of ``model`` with the one layer ``name`` re-initialised.

    Every other layer keeps its trained weights (the cascading version,
    :func:`~failure_modes.explain.attribution.randomize_layers`, re-initialises every layer
    above too); for the output layer both give the same model.

    Parameters
    ----------
    model : nn.Module
        A trained model (never changed).
    name : str
        One of :func:`~failure_modes.explain.attribution.parameter_layers` ``(model)``.
    seed : int, default 0
        Seeds the new weights; the global random state is left as it was.

    Returns
    -------
    nn.Module
        A new model, in eval mode.
    """
    layers = parameter_layers(model)
    if name not in layers:
        raise ValueError(f"name must be one of the layers with parameters {layers}, got {name!r}.")
    randomized = copy.deepcopy(model)
    with seeded(seed):
        dict(randomized.named_modules())[name].reset_parameters()
    return randomized.eval()


def rank_correlation_within(
    first: torch.Tensor, second: torch.Tensor, pixels: torch.Tensor
) -> torch.Tensor:
    """Spearman rank correlation of two sets of maps' absolute relevance over chosen pixels.

    Parameters
    ----------
    first, second : Tensor
        Maps of the same shape, ``[N, H, W]`` or ``[N, C, H, W]``.
    pixels : Tensor
        Boolean ``[N, H, W]`` (or ``[H, W]`` for all images): the pixels compared.

    Returns
    -------
    Tensor
        ``[N]`` values in [-1, 1]. Where fewer than two pixels are chosen or a map is constant
        on them, 1 if both maps agree there and 0 otherwise (as
        :func:`~failure_modes.explain.attribution.rank_correlation` does for constant maps).
    """
    a, b = _relevance(first, "first"), _relevance(second, "second")
    check_same_shape(a, b, "first", "second")
    pixels = check_mask(pixels, a.shape[1:], "pixels", allow_empty=True)
    if pixels.ndim == 3:
        check_same_shape(pixels, a, "pixels", "the maps")
    pixels = pixels.expand_as(a).flatten(1).cpu().numpy()
    values_a, values_b = a.flatten(1).cpu().numpy(), b.flatten(1).cpu().numpy()
    result = []
    for x, y, keep in zip(values_a, values_b, pixels, strict=True):
        x, y = x[keep], y[keep]
        same = float(np.array_equal(x, y))
        if len(x) < 2:
            result.append(same)
            continue
        # Average ranks for ties, as rank_correlation does over all pixels.
        ranks_x, ranks_y = rankdata(x), rankdata(y)
        ranks_x, ranks_y = ranks_x - ranks_x.mean(), ranks_y - ranks_y.mean()
        norm = np.linalg.norm(ranks_x) * np.linalg.norm(ranks_y)
        result.append(float(ranks_x @ ranks_y / norm) if norm > 0 else same)
    return torch.tensor(result)


def randomization_check(
    model: nn.Module,
    inputs: torch.Tensor,
    target: int | torch.Tensor,
    mask: torch.Tensor,
    *,
    methods: Sequence[str] | None = None,
    baselines: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Cascading model-parameter randomisation: how much do the maps change, layer by layer?

    The top layer is re-initialised first, then the next one down, until every layer is random
    (:func:`~failure_modes.explain.attribution.randomize_layers`).

    Parameters
    ----------
    model : nn.Module
        The trained model (never changed).
    inputs : Tensor
        ``[N, C, H, W]`` model inputs to explain.
    target : int or Tensor
        The class to explain.
    mask : Tensor
        Boolean ``[H, W]`` mask of the artifact, for the artifact mass.
    methods : sequence of str, optional
        Default all of ``METHODS``.
    baselines : float, optional
        As in :func:`~failure_modes.explain.attribution.compare_methods`; also defines the ink
        (pixels where some channel of the input differs from it; from zero when None).
    seed : int, default 0
        Seeds the random weights.
    progress : bool, default True
        Show a progress bar over the steps.

    Returns
    -------
    pandas.DataFrame
        One row per step x method: ``randomized`` (number of layers re-initialised, 0 for the
        trained model), ``layer`` (the last one re-initialised), ``method``, the mean
        ``rank_correlation`` with the trained model's maps over all pixels and
        ``rank_correlation_ink`` over the ink, the mean ``ssim``, and the mean
        ``artifact_mass``.
    """
    layers = parameter_layers(model)
    kwargs = {"methods": methods, "baselines": baselines, "progress": False}
    trained = compare_methods(model, inputs, target, mask, **kwargs)
    ink = (inputs != (0.0 if baselines is None else baselines)).any(dim=1)
    rows = []
    for step in tqdm(range(len(layers) + 1), desc="randomise", disable=not progress, leave=False):
        result = (
            trained
            if step == 0
            else compare_methods(
                randomize_layers(model, step, seed), inputs, target, mask, **kwargs
            )
        )
        mass = result.summary()["artifact_mass"]
        for name, maps in result.maps.items():
            before = trained.maps[name]
            rows.append(
                {
                    "randomized": step,
                    "layer": "-" if step == 0 else layers[step - 1],
                    "method": name,
                    "rank_correlation": float(rank_correlation(before, maps).mean()),
                    "rank_correlation_ink": float(
                        rank_correlation_within(before, maps, ink).mean()
                    ),
                    "ssim": float(structural_similarity(before, maps).mean()),
                    "artifact_mass": float(mass[name]),
                }
            )
    return pd.DataFrame(rows)
