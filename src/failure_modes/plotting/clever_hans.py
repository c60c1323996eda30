"""Figures of the Clever Hans track: the randomisation cascade and the visibility sweep.

Both take the long tables the track computes (one row per step x method, or per opacity x
method) and draw one line per method, in the order the tables list them, so a figure reads
like the table printed above it.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from failure_modes.utils.validation import check_non_empty

__all__ = ["plot_randomization_cascade", "plot_visibility_sweep"]


def _check_table(table: object, name: str, columns: Sequence[str]) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(table).__name__}.")
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(
            f"{name} must have the columns {list(columns)}; {missing} are missing (pass the "
            "table the track's function returned)."
        )
    check_non_empty(table, name)
    return table


def plot_randomization_cascade(
    randomization: pd.DataFrame,
    *,
    columns: Sequence[tuple[str, str]] = (
        ("rank_correlation", "over all pixels"),
        ("rank_correlation_ink", "over the ink only"),
    ),
    title: str = "Model-parameter randomisation: similarity to the trained model's maps",
) -> Figure:
    """Draw each method's similarity to the trained model's maps, step by step of the cascade.

    Parameters
    ----------
    randomization : pandas.DataFrame
        One row per step x method with the columns ``method``, ``randomized`` (layers
        re-initialised, 0 = trained), ``layer`` and the score columns named in ``columns``.
    columns : sequence of (str, str)
        ``(score column, panel title)`` pairs, one panel each, sharing the y axis.
    title : str
        The figure's title.

    Returns
    -------
    Figure
    """
    check_non_empty(columns, "columns")
    needed = ["method", "randomized", "layer", *(column for column, _ in columns)]
    table = _check_table(randomization, "randomization", needed)
    steps = list(pd.unique(table["randomized"]))
    first = table[table["method"] == table["method"].iloc[0]]
    labels = ["trained" if step == 0 else f"+ {layer}" for step, layer in zip(
        first["randomized"], first["layer"], strict=True)]  # fmt: skip
    fig, axes = plt.subplots(
        1, len(columns), figsize=(5 * len(columns), 3.6), sharey=True, squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for ax, (column, panel) in zip(axes[0], columns, strict=True):
        for method in pd.unique(table["method"]):
            rows = table[table["method"] == method]
            ax.plot(rows["randomized"], rows[column], "o-", ms=3, label=method)
        ax.set_xticks(steps, labels)
        ax.set(xlabel="layers re-initialised, from the output", title=panel, ylim=(-0.1, 1.05))
    axes[0, 0].set_ylabel("rank correlation")
    axes[0, -1].legend(fontsize=7, ncols=2, title="method", title_fontsize=7)
    fig.suptitle(title, fontsize=10)
    return fig


def plot_visibility_sweep(
    behaviour: pd.DataFrame,
    sweep: pd.DataFrame,
    *,
    title: str = "Visibility sweep: reliance, behavioural test and detection per opacity",
) -> Figure:
    """Draw the exploitation, the behavioural test and each method's detection rate per opacity.

    The opacities run from left to right in the order of the tables (plainest first), on a
    logarithmic axis.

    Parameters
    ----------
    behaviour : pandas.DataFrame
        One row per opacity with the columns ``alpha``, ``drop`` and ``flip_added``.
    sweep : pandas.DataFrame
        One row per opacity x method with the columns ``alpha``, ``method`` and ``detected``.
    title : str
        The figure's title.

    Returns
    -------
    Figure
    """
    behaviour = _check_table(behaviour, "behaviour", ["alpha", "drop", "flip_added"])
    sweep = _check_table(sweep, "sweep", ["alpha", "method", "detected"])
    alphas = behaviour["alpha"].tolist()
    fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
    ax.plot(alphas, behaviour["drop"], "k-", lw=3, label="accuracy drop (exploitation)")
    ax.plot(alphas, behaviour["flip_added"], "k--", lw=2, label="behavioural test (flip rate)")
    for method in pd.unique(sweep["method"]):
        rows = sweep[sweep["method"] == method]
        ax.plot(rows["alpha"], rows["detected"], "o-", ms=3, label=f"{method} (detection)")
    ax.set(xscale="log", xlabel="watermark opacity (alpha)", ylabel="rate", ylim=(-0.05, 1.05))
    ax.set_xticks(alphas, [str(alpha) for alpha in alphas], minor=False)
    ax.minorticks_off()
    if alphas[0] > alphas[-1]:
        ax.invert_xaxis()  # plainest on the left, as in the tables' first row
    ax.legend(fontsize=7, ncols=2)
    ax.set_title(title, fontsize=10)
    return fig
