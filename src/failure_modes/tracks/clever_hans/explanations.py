"""Explanations against a mask: how much relevance each method puts on an artifact, for a model
that took the shortcut and for one that never saw it.

A map *flags* an image when its artifact mass exceeds :data:`MASS_FACTOR` times the share of
the image the artifact covers; on a model that exploits the artifact the share of flagged
images is the method's detection rate, on a clean model its false-alarm rate
(:func:`flag_rates`, :func:`explain_local`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from failure_modes.data.corruptions import check_corruptions
from failure_modes.data.taint import Corruption
from failure_modes.data.tensors import black_baseline, classification_tensors
from failure_modes.explain.attribution import (
    METHODS,
    MethodComparison,
    artifact_mass,
    chance_level,
    compare_methods,
)
from failure_modes.tracks.clever_hans.zoo import tainted_index
from failure_modes.utils.validation import (
    check_choice,
    check_dataset_arrays,
    check_index,
    check_labels_present,
    check_model,
    check_non_empty,
    check_not_none,
    check_number,
    check_positive_int,
)

__all__ = [
    "LOCAL_SHARE",
    "MASS_FACTOR",
    "explain_inputs",
    "explain_local",
    "flag_rate",
    "flag_rates",
]

MASS_FACTOR = 3.0
"""An attribution map flags a local artifact when its artifact mass exceeds this multiple of the
share of the image the artifact covers (what a map blind to the artifact would score)."""

LOCAL_SHARE = 0.1
"""Artifacts covering at most this share of the image count as *local*; for larger (global)
ones a mask says little, and only the behavioural test is used."""


def explain_inputs(dataset: object, label: int, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Model inputs of the first ``n`` images of ``label`` that carry an artifact, and their index.

    Parameters
    ----------
    dataset : torchvision dataset
        A tainted dataset (``.tainted`` marks the changed images; without it, every image of
        ``label`` counts).
    label : int
        The class.
    n : int, default 64
        At most this many images.

    Returns
    -------
    inputs : Tensor
        ``[n, 1, H, W]`` normalised as the dataset's transform would.
    index : Tensor
        Their positions in ``dataset``.
    """
    check_positive_int(n, "n")
    label = check_index(label, "label")
    check_dataset_arrays(dataset)
    check_labels_present([label], torch.as_tensor(dataset.targets), name="label")
    index = tainted_index(dataset, dataset, label)[:n]
    return classification_tensors(dataset)[0][index], index


def _flagged(mass, chance, factor: float):
    """The flag rule, for tensors and table columns alike: mass above ``factor`` x chance."""
    return mass > factor * chance


def flag_rate(attributions: torch.Tensor, mask: torch.Tensor, factor: float = MASS_FACTOR) -> float:
    """The share of ``attributions`` (maps) whose artifact mass on ``mask`` exceeds ``factor`` times chance.

    Parameters
    ----------
    attributions : Tensor
        ``[N, H, W]`` or ``[N, C, H, W]`` attribution maps.
    mask : Tensor
        Boolean mask of the artifact's pixels, broadcastable to one map.
    factor : float, default MASS_FACTOR
        The multiple of the chance level above which a map is flagged.

    Returns
    -------
    float
        The flagged share, in [0, 1]; :func:`flag_rates` applies the same rule per method.
    """
    factor = check_number(factor, "factor", low=0.0)
    flagged = _flagged(artifact_mass(attributions, mask), chance_level(mask), factor)
    return float(flagged.float().mean())


def flag_rates(comparison: MethodComparison, factor: float = MASS_FACTOR) -> pd.DataFrame:
    """Per method, the share of images whose artifact mass exceeds ``factor`` times chance.

    On a model that exploits the artifact this is the method's detection rate; on a model
    trained on clean data, its false-alarm rate.

    Parameters
    ----------
    comparison : MethodComparison
        From :func:`~failure_modes.explain.attribution.compare_methods`.
    factor : float, default MASS_FACTOR
        The multiple of the chance level above which an image is flagged.

    Returns
    -------
    pandas.DataFrame
        Columns ``method`` (in the order the methods were run) and ``flagged``.
    """
    if not isinstance(comparison, MethodComparison):
        got = type(comparison).__name__
        raise TypeError(f"comparison must be a MethodComparison (compare_methods), got {got}.")
    factor = check_number(factor, "factor", low=0.0)
    table = comparison.table
    flagged = _flagged(table["artifact_mass"], table["chance"], factor).astype(float)
    rates = flagged.groupby(table["method"], sort=False).mean()
    return rates.rename("flagged").rename_axis("method").reset_index()


def explain_local(
    model: nn.Module,
    clean_model: nn.Module,
    tainted_test: object,
    corruptions: Mapping[int, Corruption],
    labels: Sequence[int],
    *,
    methods: Sequence[str] | None = None,
    baselines: float | None = None,
    n_explain: int = 64,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict[int, MethodComparison], dict[int, MethodComparison]]:
    """Score every method on the tainted images of each label, for a tainted and a clean model.

    Parameters
    ----------
    model, clean_model : nn.Module
        Trained on tainted and on clean data.
    tainted_test : torchvision dataset
        Test images with the artifacts (``taint_dataset(test, corruptions)``).
    corruptions : mapping of int to Corruption
        The artifact of each label (its mask scores the maps).
    labels : sequence of int
        The labels to explain, usually those with a local artifact.
    methods : sequence of str, optional
        Default every method of ``METHODS``.
    baselines : float, optional
        Default :func:`~failure_modes.data.tensors.black_baseline`.
    n_explain : int, default 64
        Images per label.
    progress : bool, default True
        Show a progress bar over the labels.

    Returns
    -------
    rates : pandas.DataFrame
        One row per label x method: ``mass`` and ``mass_clean`` (mean artifact mass on each
        model), ``detected`` and ``false_alarm`` (:func:`flag_rates` on each model).
    comparisons, clean_comparisons : dict of int to MethodComparison
        The maps and per-image scores, per label.
    """
    check_model(model)
    check_model(clean_model, "clean_model")
    check_dataset_arrays(tainted_test, "tainted_test")
    check_corruptions(corruptions)
    check_not_none(labels, "labels", "a sequence of the labels to explain")
    check_non_empty(labels, "labels")
    labels = [check_index(label, "labels") for label in labels]
    check_labels_present(labels, torch.as_tensor(list(corruptions)), "labels")
    check_positive_int(n_explain, "n_explain")
    for name in METHODS if methods is None else methods:
        check_choice(name, METHODS, "methods")
    if baselines is None:
        baselines = black_baseline(tainted_test)
    baselines = check_number(baselines, "baselines")
    comparisons, clean_comparisons, parts = {}, {}, []
    for label in tqdm(labels, desc="labels", disable=not progress, leave=False):
        inputs, _ = explain_inputs(tainted_test, label, n_explain)
        mask = corruptions[label].mask(*tainted_test.data.shape[-2:])
        kwargs = {"methods": methods, "baselines": baselines, "progress": False}
        comparisons[label] = compare_methods(model, inputs, label, mask, **kwargs)
        clean_comparisons[label] = compare_methods(clean_model, inputs, label, mask, **kwargs)
        part = pd.DataFrame(
            {
                "mass": comparisons[label].summary()["artifact_mass"],
                "mass_clean": clean_comparisons[label].summary()["artifact_mass"],
                "detected": flag_rates(comparisons[label]).set_index("method")["flagged"],
                "false_alarm": flag_rates(clean_comparisons[label]).set_index("method")["flagged"],
            }
        )
        parts.append(part.rename_axis("method").reset_index().assign(label=int(label)))
    columns = ["label", "method", "mass", "mass_clean", "detected", "false_alarm"]
    return pd.concat(parts, ignore_index=True)[columns], comparisons, clean_comparisons
