"""One table per model: which shortcuts did it take, by behaviour and by maps?

:func:`shortcut_report` gives one row per tainted class (accuracy with and without the artifact,
both directions of the behavioural test, the artifact mass of chosen attribution methods);
:func:`compare_models` puts one of its columns side by side for several models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from failure_modes.data.corruptions import check_corruptions
from failure_modes.data.taint import Corruption
from failure_modes.data.tensors import black_baseline, classification_tensors
from failure_modes.explain.attribution import (
    METHODS,
    accepts_baselines,
    artifact_mass,
    attribute,
    chance_level,
)
from failure_modes.models.evaluation import predict
from failure_modes.tracks.clever_hans.behaviour import (
    EXPLOIT_DROP,
    FLIP_THRESHOLD,
    behavioural_test,
)
from failure_modes.tracks.clever_hans.explanations import LOCAL_SHARE, MASS_FACTOR
from failure_modes.tracks.clever_hans.zoo import check_aligned, tainted_index
from failure_modes.utils.validation import (
    check_choice,
    check_instance,
    check_labels_present,
    check_model,
    check_non_empty,
    check_not_none,
    check_number,
    check_positive_int,
    check_probability,
)

__all__ = ["compare_models", "shortcut_report", "wide"]


def shortcut_report(
    model: nn.Module,
    clean_test: object,
    tainted_test: object,
    corruptions: Mapping[int, Corruption],
    *,
    methods: Sequence[str] = ("integrated_gradients",),
    n_explain: int = 64,
    baselines: float | None = None,
    threshold: float = FLIP_THRESHOLD,
    batch_size: int = 1000,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per tainted label: did the model take that shortcut, by behaviour and by maps?

    Parameters
    ----------
    model : nn.Module
        The classifier trained on tainted data.
    clean_test : torchvision dataset
        Clean test images.
    tainted_test : torchvision dataset
        The same images with the artifacts, ``taint_dataset(clean_test, corruptions)``.
    corruptions : mapping of int to Corruption
        The artifact planted on each label.
    methods : sequence of str, default ("integrated_gradients",)
        Attribution methods whose artifact mass goes in the table (keys of ``METHODS``).
    n_explain : int, default 64
        Tainted images per label to explain (the first ones); attributions cost far more than
        predictions.
    baselines : float, optional
        Reference input of the methods that take one; default
        :func:`~failure_modes.data.tensors.black_baseline`.
    threshold : float, default FLIP_THRESHOLD
        Of the behavioural test.
    batch_size : int, default 1000
        Images per forward pass.
    progress : bool, default True
        Show a progress bar over the labels.

    Returns
    -------
    pandas.DataFrame
        Columns: ``label``, ``artifact``; ``acc_tainted`` and ``acc_clean`` (accuracy on that
        class's tainted images and on the same images without the artifact) and their
        difference ``drop``; ``exploited`` (``drop >= EXPLOIT_DROP``); ``flip_removed`` (share
        of the tainted images predicted ``label`` that change their prediction once the
        artifact is removed); ``flip_added``, ``acc_disagree`` and ``behaviour_flag`` from
        :func:`behavioural_test`; ``share`` (of the image the mask covers) and ``local``
        (``share <= LOCAL_SHARE``); ``mass_<method>`` for each method; ``ig_flag`` (IG's mass
        above ``MASS_FACTOR`` times the share; None for global artifacts or without IG).
    """
    check_model(model)
    check_aligned(clean_test, tainted_test)
    check_corruptions(corruptions)
    check_not_none(methods, "methods", "a sequence of method names (() for none)")
    for name in methods:
        check_choice(name, METHODS, "methods")
    check_positive_int(n_explain, "n_explain")
    check_probability(threshold, "threshold")
    check_labels_present(corruptions.keys(), torch.as_tensor(clean_test.targets))
    if baselines is None:
        baselines = black_baseline(clean_test)
    baselines = check_number(baselines, "baselines")
    clean_pred = predict(model, clean_test, batch_size=batch_size)[0]
    tainted_pred = predict(model, tainted_test, batch_size=batch_size)[0]
    inputs, _ = classification_tensors(tainted_test)
    rows = []
    for label, corruption in tqdm(
        sorted(corruptions.items()), desc="labels", disable=not progress, leave=False
    ):
        index = tainted_index(clean_test, tainted_test, label).numpy()
        if len(index) == 0:
            raise ValueError(f"no image of label {label} carries an artifact in tainted_test.")
        acc_tainted = float((tainted_pred[index] == label).mean())
        acc_clean = float((clean_pred[index] == label).mean())
        followed = index[tainted_pred[index] == label]
        flip_removed = (
            float((clean_pred[followed] != label).mean()) if len(followed) else float("nan")
        )
        behaviour = behavioural_test(
            model,
            clean_test,
            corruption,
            label,
            threshold=threshold,
            batch_size=batch_size,
        )
        mask = corruption.mask(*clean_test.data.shape[-2:])
        share = float(chance_level(mask))
        row: dict[str, Any] = {
            "label": int(label),
            "artifact": type(corruption).__name__,
            "acc_tainted": acc_tainted,
            "acc_clean": acc_clean,
            "drop": acc_tainted - acc_clean,
            "exploited": acc_tainted - acc_clean >= EXPLOIT_DROP,
            "flip_removed": flip_removed,
            "flip_added": behaviour["flip_to"],
            "acc_disagree": behaviour["acc_disagree"],
            "behaviour_flag": behaviour["flagged"],
            "share": share,
            "local": share <= LOCAL_SHARE,
        }
        explained = torch.as_tensor(index[:n_explain])
        for name in methods:
            options = {"baselines": baselines} if accepts_baselines(name) else {}
            maps = attribute(model, inputs[explained], label, name, **options)
            row[f"mass_{name}"] = float(artifact_mass(maps, mask).mean())
        ig = row.get("mass_integrated_gradients")
        row["ig_flag"] = None if ig is None or not row["local"] else bool(ig > MASS_FACTOR * share)
        rows.append(row)
    # object dtype keeps ig_flag's None apart from False (a bool column would cast it).
    return pd.DataFrame(rows).astype({"ig_flag": object})


def compare_models(
    models: Mapping[str, nn.Module],
    clean_test: object,
    tainted_test: object,
    corruptions: Mapping[int, Corruption],
    *,
    value: str = "drop",
) -> pd.DataFrame:
    """One row per model, one column per artifact: a column of :func:`shortcut_report`.

    Parameters
    ----------
    models : mapping of str to nn.Module
        Models to compare, by name.
    clean_test, tainted_test, corruptions
        As in :func:`shortcut_report`.
    value : str, default "drop"
        The report column to show, e.g. ``"drop"`` or ``"flip_added"``.

    Returns
    -------
    pandas.DataFrame
        Column ``model``, then one column per artifact (named by its class).
    """
    check_not_none(models, "models", "a mapping of name to model")
    check_instance(models, Mapping, "models", "a mapping of name to model")
    check_non_empty(models, "models")
    for name, net in models.items():
        check_model(net, f"models[{name!r}]")
    rows = []
    for name, net in models.items():
        report = shortcut_report(
            net, clean_test, tainted_test, corruptions, methods=(), progress=False
        )
        check_choice(value, list(report.columns), "value")
        rows.append({"model": name, **dict(zip(report["artifact"], report[value], strict=True))})
    return pd.DataFrame(rows)


def wide(table: pd.DataFrame, index: str, columns: str, values: str) -> pd.DataFrame:
    """``table.pivot(...)`` with rows and columns in the order they first appear, not sorted.

    Parameters
    ----------
    table : pandas.DataFrame
        A long table, e.g. a randomisation check or a visibility sweep.
    index, columns, values : str
        Column names, as in :meth:`pandas.DataFrame.pivot`.

    Returns
    -------
    pandas.DataFrame
        One row per ``index`` value, one column per ``columns`` value.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}.")
    for name, column in (("index", index), ("columns", columns), ("values", values)):
        check_choice(column, list(table.columns), name)
    pivoted = table.pivot(index=index, columns=columns, values=values)
    return pivoted.reindex(index=pd.unique(table[index]), columns=pd.unique(table[columns]))
