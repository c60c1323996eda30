"""Figures of the MODE track: per-label bars, heat-map grids, ranked pool images and accuracy
over rounds of selection.

The functions take plain tables and tensors (pandas DataFrames, mappings of maps), never MODE's
own objects, so this module needs nothing from :mod:`failure_modes.tracks`. Each figure has a
title, and a legend wherever it draws more than one series.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from failure_modes.plotting._arrays import to_numpy
from failure_modes.utils.validation import check_instance, check_non_empty, check_positive_int

__all__ = ["plot_label_bars", "plot_map_grid", "plot_ranked_images", "plot_rounds"]

DIVERGING_CMAP = "RdBu_r"


def _check_table(table: object, name: str) -> pd.DataFrame:
    check_instance(table, pd.DataFrame, name, "a pandas DataFrame")
    if table.empty:
        raise ValueError(f"{name} must hold at least one row and one column, got an empty table.")
    return table


def plot_label_bars(
    table: pd.DataFrame,
    *,
    title: str,
    threshold: float | None = None,
    ylabel: str = "accuracy",
) -> Figure:
    """Grouped bars: one group per row of ``table`` (a label), one bar per column.

    Parameters
    ----------
    table : pandas.DataFrame
        Indexed by label (drawn left to right in the table's row order), one column per series
        (drawn in the table's column order), values in [0, 1].
    title : str
        The figure's title.
    threshold : float, optional
        Draws a dotted line at this value (the buggy-label threshold), named in the legend.
    ylabel : str, default "accuracy"

    Returns
    -------
    Figure
    """
    table = _check_table(table, "table")
    values = table.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(7.5, 2.6), layout="constrained")
    width = 0.8 / values.shape[1]
    positions = np.arange(len(table))
    for column, name in enumerate(table.columns):
        offset = (column - (values.shape[1] - 1) / 2) * width
        ax.bar(positions + offset, values[:, column], width, label=str(name))
    if threshold is not None:
        ax.axhline(threshold, color="black", linestyle=":", label=f"threshold {threshold:g}")
    ax.set(
        xticks=positions,
        xticklabels=[str(label) for label in table.index],
        xlabel=str(table.index.name or "label"),
        ylabel=ylabel,
        ylim=(0, 1.05),
    )
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title)
    return fig


def _as_picture(value: object, name: str) -> np.ndarray:
    """A map as a 2-D array; a 1-D map (layer units) is tiled into a square, NaN padded."""
    array = np.asarray(to_numpy(value, name), dtype=float)
    if array.ndim == 1:
        side = math.isqrt(max(len(array) - 1, 0)) + 1
        padded = np.full(side * side, np.nan)
        padded[: len(array)] = array
        return padded.reshape(side, side)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 1-D or 2-D map, got shape {array.shape}.")
    return array


def plot_map_grid(
    maps: Mapping[str, Mapping[str, object]],
    *,
    title: str,
    diverging: Collection[str] = (),
    size: float = 1.8,
) -> Figure:
    """Heat maps in a grid: one row per outer key, one column per inner key.

    Parameters
    ----------
    maps : mapping of str to mapping of str to Tensor or ndarray
        ``{row name: {panel name: map}}``; every row has the same panels. A map is ``[H, W]``,
        or ``[D]`` (layer units without position, drawn as a square tile). An all-NaN map (an
        empty group) is drawn as an empty panel marked "empty".
    title : str
        The figure's title.
    diverging : collection of str
        Panel names drawn with a diverging colour map symmetric about 0 (differential maps);
        the others are drawn in grey levels.
    size : float, default 1.8
        Inches per panel.

    Returns
    -------
    Figure
    """
    check_instance(maps, Mapping, "maps", "a mapping {row: {panel: map}}")
    check_non_empty(list(maps), "maps")
    panels = list(next(iter(maps.values())))
    check_non_empty(panels, "maps' panels")
    for row, row_maps in maps.items():
        if list(row_maps) != panels:
            raise ValueError(
                f"every row of maps must have the panels {panels}; row {row!r} has "
                f"{list(row_maps)}."
            )
    fig, axes = plt.subplots(
        len(maps), len(panels), figsize=(size * len(panels), (size + 0.2) * len(maps)),
        squeeze=False, layout="constrained",
    )  # fmt: skip
    for r, (row, row_maps) in enumerate(maps.items()):
        for c, panel in enumerate(panels):
            ax = axes[r, c]
            picture = _as_picture(row_maps[panel], f"maps[{row!r}][{panel!r}]")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(str(row), fontsize=8)
            if r == 0:
                ax.set_title(str(panel), fontsize=8)
            if not np.isfinite(picture).any():
                ax.text(0.5, 0.5, "empty", ha="center", va="center", transform=ax.transAxes)
                continue
            if panel in diverging:
                limit = float(np.nanmax(np.abs(picture))) or 1.0
                ax.imshow(picture, cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit)
            else:
                ax.imshow(picture, cmap="gray")
    fig.suptitle(title)
    return fig


def plot_ranked_images(
    images: Mapping[str, object],
    *,
    title: str,
    k: int,
) -> Figure:
    """Pool images as each measure ranks them: the ``k`` it likes most, then the ``k`` least.

    Parameters
    ----------
    images : mapping of str to Tensor or ndarray
        ``{measure: images [2k, H, W]}``: the ``k`` most similar images, most similar first,
        then the ``k`` least similar, least similar last. One row per measure, in the
        mapping's order.
    title : str
        The figure's title.
    k : int
        Images at each end.

    Returns
    -------
    Figure
    """
    check_instance(images, Mapping, "images", "a mapping {measure: images [2k, H, W]}")
    check_non_empty(list(images), "images")
    check_positive_int(k, "k")
    fig, axes = plt.subplots(
        len(images), 2 * k, figsize=(2 * k * 0.75, len(images) * 0.8 + 0.4), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for row, (name, batch) in enumerate(images.items()):
        batch = np.asarray(to_numpy(batch, f"images[{name!r}]"), dtype=float)
        if batch.ndim == 4 and batch.shape[1] == 1:
            batch = batch[:, 0]
        if batch.ndim != 3 or len(batch) != 2 * k:
            raise ValueError(
                f"images[{name!r}] must be {2 * k} images [2k, H, W] (k={k}), got shape "
                f"{batch.shape}."
            )
        for col, picture in enumerate(batch):
            axes[row, col].imshow(picture, cmap="gray")
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
        axes[row, 0].set_ylabel(str(name), rotation=0, ha="right", va="center", fontsize=8)
    axes[0, 0].set_title("most similar", fontsize=8, loc="left")
    axes[0, -1].set_title("least similar", fontsize=8, loc="right")
    fig.suptitle(title)
    return fig


def plot_rounds(
    panels: Mapping[str, pd.DataFrame],
    *,
    title: str,
    dashed: Sequence[str] = (),
    xlabel: str = "pool images added",
) -> Figure:
    """Accuracy over rounds of selection, one panel per table, one line per column.

    Parameters
    ----------
    panels : mapping of str to pandas.DataFrame
        ``{y-axis label: table}``; each table is indexed by the x value (pool images added so
        far) with one column per selection, drawn in the table's column order.
    title : str
        The figure's title.
    dashed : sequence of str
        Columns drawn dashed (the controls), the first in black, the others in grey.
    xlabel : str, default "pool images added"

    Returns
    -------
    Figure
    """
    check_instance(panels, Mapping, "panels", "a mapping {y label: DataFrame}")
    check_non_empty(list(panels), "panels")
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.6 * len(panels), 3), squeeze=False, layout="constrained"
    )
    for ax, (ylabel, table) in zip(axes[0], panels.items(), strict=True):
        table = _check_table(table, f"panels[{ylabel!r}]")
        for name in table.columns:
            style = {}
            if name in dashed:
                style = {"linestyle": "--", "color": "black" if name == dashed[0] else "grey"}
            ax.plot(table.index, table[name], marker="o", label=str(name), **style)
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig
