"""MODE against its controls over several seeds, with paired tests.

:func:`run_experiment` starts every selection of a seed (the nine measures of
:mod:`failure_modes.tracks.mode.similarity` and the :data:`~failure_modes.tracks.mode.CONTROLS`)
from the same weak model (:func:`setup_seed`) and runs
:func:`~failure_modes.tracks.mode.debug_model` for each; :func:`summarise` scores the final
models and compares each selection with each control by :func:`paired_test`, seed against seed;
:func:`summary_table` shows the result.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from torch import nn
from tqdm.auto import tqdm

from failure_modes.tracks.mode.diagnosis import Diagnosis, buggy_labels, diagnose, label_accuracy
from failure_modes.tracks.mode.layers import target_layer
from failure_modes.tracks.mode.loop import ModeConfig, Trajectory, check_config, debug_model
from failure_modes.tracks.mode.selection import CONTROLS
from failure_modes.tracks.mode.similarity import MEASURES
from failure_modes.tracks.mode.splits import (
    Data,
    Splits,
    check_data,
    make_splits,
    train_starting_model,
)
from failure_modes.utils.validation import (
    check_choice,
    check_finite,
    check_instance,
    check_non_empty,
    check_not_none,
    check_numbers,
    check_positive_int,
    check_seed,
)

__all__ = [
    "Start",
    "SeedResult",
    "setup_seed",
    "run_experiment",
    "paired_test",
    "summarise",
    "summary_table",
]


_SPLIT_OPTIONS = [
    name
    for name, parameter in inspect.signature(make_splits).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "seed"
]


def _split_options(split_options: object) -> dict[str, object]:
    """``split_options`` as a dict of :func:`make_splits` keywords (the seed is passed apart)."""
    if split_options is None:
        return {}
    check_instance(split_options, Mapping, "split_options", "a mapping of make_splits keywords")
    for name in split_options:
        check_choice(name, _SPLIT_OPTIONS, "split_options key")
    return dict(split_options)


@dataclass(frozen=True)
class Start:
    """What every selection of one seed starts from.

    Attributes
    ----------
    splits : Splits
    model : DenseModel
        The weak starting model.
    layer : str
        Its target layer.
    agreements : list of float
        Agreement between consecutive layer probes.
    buggy : list of int
        Its buggy labels on the validation split.
    diagnoses : dict
        ``{buggy label: "underfitting" | "overfitting"}``.
    validation_accuracy : ndarray of shape (num_classes,)
        Its per-label accuracy on the validation split.
    """

    splits: Splits
    model: nn.Module
    layer: str
    agreements: list[float]
    buggy: list[int]
    diagnoses: dict[int, Diagnosis]
    validation_accuracy: np.ndarray


def setup_seed(
    data: Data,
    *,
    seed: int,
    config: ModeConfig | None = None,
    split_options: Mapping[str, object] | None = None,
    start_epochs: int = 20,
    progress: bool = True,
) -> Start:
    """Splits, weak starting model, target layer and buggy labels of one seed.

    Parameters
    ----------
    data : tuple of Tensor
        Training data, cut by :func:`make_splits`.
    seed : int
        Fixes the split, the initial weights and the probes.
    config : ModeConfig, optional
        Its ``threshold`` and ``agreement`` are used.
    split_options : mapping, optional
        Extra keyword arguments of :func:`make_splits`.
    start_epochs : int, default 20
        Epochs of the starting model.
    progress : bool, default True
        Progress bars while the starting model and the probes train.

    Returns
    -------
    Start
    """
    config = check_config(config)
    options = _split_options(split_options)
    check_positive_int(start_epochs, "start_epochs")
    splits = make_splits(data, seed=seed, **options)
    model = train_starting_model(splits.train, seed=seed, epochs=start_epochs, progress=progress)
    layer, agreements = target_layer(
        model, splits, agreement=config.agreement, seed=seed, progress=progress
    )
    validation_accuracy = label_accuracy(model, splits.validation)
    buggy = buggy_labels(validation_accuracy, config.threshold)
    diagnoses = diagnose(
        label_accuracy(model, splits.train), validation_accuracy, buggy, gap=config.gap
    )
    return Start(splits, model, layer, agreements, buggy, diagnoses, validation_accuracy)


@dataclass(frozen=True)
class SeedResult:
    """Everything one seed of :func:`run_experiment` produced.

    Attributes
    ----------
    seed : int
    start : Start
        The splits, starting model, target layer and buggy labels every run began from.
    runs : dict
        ``{selection: Trajectory}``.
    """

    seed: int
    start: Start
    runs: dict[str, Trajectory]

    @property
    def layer(self) -> str:
        """The target layer found on the starting model."""
        return self.start.layer

    @property
    def agreements(self) -> list[float]:
        """Agreement between consecutive layer probes of the starting model."""
        return self.start.agreements

    @property
    def buggy(self) -> list[int]:
        """Buggy labels of the starting model on the validation split; reports score these."""
        return self.start.buggy


def run_experiment(
    data: Data,
    test: Data,
    *,
    seeds: Sequence[int],
    selections: Sequence[str] = (*MEASURES, *CONTROLS),
    config: ModeConfig | None = None,
    split_options: Mapping[str, object] | None = None,
    start_epochs: int = 20,
    progress: bool = True,
) -> list[SeedResult]:
    """Every selection from the same weak starting model, for each seed.

    Parameters
    ----------
    data : tuple of Tensor
        Training data, cut by :func:`make_splits` anew for every seed.
    test : tuple of Tensor
        Held-out data, only evaluated.
    seeds : sequence of int
        One split, one weak starting model, one layer targeting and one run per selection for
        each seed.
    selections : sequence of str, default all nine measures and both controls
        Keys of :data:`MEASURES` and :data:`CONTROLS`.
    config : ModeConfig, optional
        Shared by every selection.
    split_options : mapping, optional
        Extra keyword arguments of :func:`make_splits`.
    start_epochs : int, default 20
        Epochs of the starting model.
    progress : bool, default True
        A progress bar over seeds and selections.

    Returns
    -------
    list of SeedResult
    """
    config = check_config(config)
    check_not_none(selections, "selections", "a sequence of measures and controls")
    check_non_empty(selections, "selections")
    for selection in selections:
        check_choice(selection, [*MEASURES, *CONTROLS], "selections")
    check_not_none(seeds, "seeds", "a sequence of int seeds")
    check_non_empty(seeds, "seeds")
    for position, seed in enumerate(seeds):
        check_seed(seed, f"seeds[{position}]")
    _split_options(split_options)
    check_positive_int(start_epochs, "start_epochs")
    test = check_data(test, "test")
    results = []
    with tqdm(total=len(seeds) * len(selections), desc="MODE runs", disable=not progress) as bar:
        for seed in seeds:
            start = setup_seed(
                data, seed=seed, config=config, split_options=split_options,
                start_epochs=start_epochs, progress=False,
            )  # fmt: skip
            splits, model, layer = start.splits, start.model, start.layer
            runs = {}
            for selection in selections:
                runs[selection] = debug_model(
                    model, splits, selection=selection, seed=seed, config=config, layer=layer,
                    test=test, progress=False,
                )  # fmt: skip
                bar.update()
            results.append(SeedResult(seed, start, runs))
    return results


def paired_test(treated: Sequence[float], control: Sequence[float]) -> dict[str, float]:
    """One-sided paired t-test that ``treated`` beats ``control`` (pairs share a seed).

    Parameters
    ----------
    treated, control : sequence of float
        One value per seed each, in the same seed order.

    Returns
    -------
    dict
        ``mean_difference`` (treated minus control), ``wins`` (seeds where treated is higher),
        ``statistic`` and ``pvalue`` of :func:`scipy.stats.ttest_rel` with
        ``alternative="greater"`` (NaN when all differences are equal).
    """
    for name, values in (("treated", treated), ("control", control)):
        check_not_none(values, name, "one result per seed")
        check_numbers(values, name, "one number per seed (an accuracy, a loss)")
    treated, control = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    check_finite(treated, "treated")
    check_finite(control, "control")
    if treated.shape != control.shape or treated.ndim != 1:
        raise ValueError(
            f"treated and control must be 1-D and of equal length, got shapes {treated.shape} "
            f"and {control.shape}."
        )
    if len(treated) < 2:
        raise ValueError(f"a paired test needs at least 2 seeds, got {len(treated)}.")
    result = stats.ttest_rel(treated, control, alternative="greater")
    return {
        "mean_difference": float(np.mean(treated - control)),
        "wins": int(np.sum(treated > control)),
        "statistic": float(result.statistic),
        "pvalue": float(result.pvalue),
    }


def summarise(results: Sequence[SeedResult], *, split: str = "test") -> dict[str, dict]:
    """Final accuracy of every selection per seed, and paired tests against each control.

    Parameters
    ----------
    results : sequence of SeedResult
        From :func:`run_experiment`.
    split : {"test", "validation"}, default "test"
        Which data to score; the test set was never used by a decision.

    Returns
    -------
    dict
        ``{selection: {"buggy": [...], "overall": [...], "start_buggy": [...],
        "start_overall": [...], "against": {control: {"buggy": test, "overall": test}}}}``
        with one value per seed: ``buggy`` is the mean accuracy over the starting model's
        buggy labels, ``overall`` the accuracy over all inputs, after the last round (``start_``:
        before the first). ``against`` holds :func:`paired_test` of the selection against each
        control that was run (with at least two seeds).
    """
    check_choice(split, ["test", "validation"], "split")
    check_not_none(results, "results", "a list of SeedResult (run_experiment)")
    check_non_empty(results, "results")
    for result in results:
        check_instance(result, SeedResult, "results", "a list of SeedResult (run_experiment)")
    summary: dict[str, dict] = {}
    for selection in results[0].runs:
        rows: dict[str, list[float]] = {
            "buggy": [], "overall": [], "start_buggy": [], "start_overall": [],
        }  # fmt: skip
        for result in results:
            run = result.runs[selection]
            per_label = getattr(run, split)
            overall = getattr(run, f"{split}_overall")
            labels = result.buggy or list(range(per_label.shape[1]))
            rows["buggy"].append(float(np.nanmean(per_label[-1, labels])))
            rows["overall"].append(float(overall[-1]))
            rows["start_buggy"].append(float(np.nanmean(per_label[0, labels])))
            rows["start_overall"].append(float(overall[0]))
        summary[selection] = rows
    for selection, rows in summary.items():
        rows["against"] = {
            control: {
                key: paired_test(rows[key], summary[control][key]) for key in ("buggy", "overall")
            }
            for control in CONTROLS
            if control in summary and control != selection and len(results) > 1
        }
    return summary


_SUMMARY_KEYS = {"buggy", "overall", "start_buggy", "start_overall", "against"}


def summary_table(summary: Mapping[str, dict], key: str = "buggy") -> pd.DataFrame:
    """One row per selection: accuracy at the start and at the end, and the paired tests.

    Parameters
    ----------
    summary : mapping
        From :func:`summarise`.
    key : {"buggy", "overall"}, default "buggy"
        Which accuracy the p-values and wins columns compare.

    Returns
    -------
    pandas.DataFrame
        Indexed by selection: ``buggy start``, ``buggy end``, ``overall start``, ``overall end``
        (means over the seeds), then ``p vs <control>`` and ``wins vs <control>`` for each
        control that was run (NaN / missing for a control against itself).
    """
    check_choice(key, ["buggy", "overall"], "key")
    check_not_none(summary, "summary", "a mapping from summarise")
    check_instance(summary, Mapping, "summary", "summarise's mapping")
    check_non_empty(summary, "summary")
    for name, s in summary.items():
        if not isinstance(s, Mapping) or not _SUMMARY_KEYS <= set(s):
            raise TypeError(
                f"summary[{name!r}] must be a mapping with keys {sorted(_SUMMARY_KEYS)} "
                f"(summarise's result), got {type(s).__name__}."
            )
    rows = {}
    for name, s in summary.items():
        row = {
            "buggy start": np.mean(s["start_buggy"]),
            "buggy end": np.mean(s["buggy"]),
            "overall start": np.mean(s["start_overall"]),
            "overall end": np.mean(s["overall"]),
        }
        for control, tests in s["against"].items():
            row[f"p vs {control}"] = tests[key]["pvalue"]
            row[f"wins vs {control}"] = tests[key]["wins"]
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "selection"
    return table
