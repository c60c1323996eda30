"""The MODE figures: every one has a title, several series get a legend, and the axes follow
the order of the tables they draw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from failure_modes import plotting
from failure_modes.plotting.mode import (
    plot_label_bars,
    plot_map_grid,
    plot_ranked_images,
    plot_rounds,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [text.get_text() for text in legend.get_texts()] if legend else []


def test_the_facade_exports_the_mode_figures():
    assert plotting.plot_rounds is plot_rounds


def test_label_bars_have_a_title_a_legend_and_the_tables_order():
    table = pd.DataFrame(
        {"train": np.linspace(0.1, 1, 10), "validation": np.linspace(0.05, 0.9, 10)},
        index=pd.Index(range(10), name="label"),
    )
    figure = plot_label_bars(table, title="Accuracy of each label", threshold=0.8)
    (ax,) = figure.axes
    assert ax.get_title() == "Accuracy of each label"
    assert set(_legend_texts(ax)) == {"train", "validation", "threshold 0.8"}
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(k) for k in range(10)]
    assert ax.get_xlabel() == "label"
    # the first column's bars come first, left of the second's, in the table's row order
    heights = [bar.get_height() for bar in ax.patches[:10]]
    assert heights == pytest.approx(table["train"].tolist())


def test_label_bars_refuse_an_empty_table():
    with pytest.raises(ValueError, match="empty"):
        plot_label_bars(pd.DataFrame(), title="nothing")


def test_map_grid_has_a_title_and_names_rows_and_panels():
    maps = {
        f"label {label}": {
            "correct": torch.rand(28, 28),
            "false positive": torch.full((28, 28), float("nan")),  # an empty group
            "correct − false pos.": torch.randn(28, 28),
        }
        for label in (2, 5)
    }
    figure = plot_map_grid(maps, title="Heat maps", diverging=["correct − false pos."])
    assert figure.get_suptitle() == "Heat maps"
    axes = np.array(figure.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == list(maps["label 2"])
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["label 2", "label 5"]
    assert axes[0, 1].texts[0].get_text() == "empty"
    low, high = axes[0, 2].images[0].get_clim()
    assert low == pytest.approx(-high)


def test_map_grid_tiles_layer_units_into_a_square():
    figure = plot_map_grid({"reference": {"label 2": torch.randn(250)}}, title="Units")
    assert figure.axes[0].images[0].get_array().shape == (16, 16)


def test_map_grid_refuses_rows_with_other_panels():
    with pytest.raises(ValueError, match="panels"):
        plot_map_grid(
            {"a": {"x": torch.zeros(2, 2)}, "b": {"y": torch.zeros(2, 2)}}, title="mismatch"
        )


def test_ranked_images_have_a_title_and_one_row_per_measure():
    images = {name: torch.rand(4, 28, 28) for name in ("cosine", "l2", "dot")}
    figure = plot_ranked_images(images, k=2, title="Ranked pool images")
    assert figure.get_suptitle() == "Ranked pool images"
    axes = np.array(figure.axes).reshape(3, 4)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["cosine", "l2", "dot"]
    assert axes[0, 0].get_title(loc="left") == "most similar"
    assert axes[0, -1].get_title(loc="right") == "least similar"


def test_ranked_images_refuse_the_wrong_number_of_images():
    with pytest.raises(ValueError, match="2k"):
        plot_ranked_images({"cosine": torch.rand(3, 28, 28)}, k=2, title="odd")


def test_rounds_have_a_title_and_a_legend_in_every_panel():
    index = pd.Index([0, 120, 240], name="pool images added")
    table = pd.DataFrame(
        {"cosine": [0.2, 0.5, 0.7], "random": [0.2, 0.3, 0.4], "label_random": [0.2, 0.5, 0.6]},
        index=index,
    )
    figure = plot_rounds(
        {"buggy labels": table, "all labels": table + 0.1},
        title="Accuracy over rounds",
        dashed=["random", "label_random"],
    )
    assert figure.get_suptitle() == "Accuracy over rounds"
    assert len(figure.axes) == 2
    for ax, ylabel in zip(figure.axes, ["buggy labels", "all labels"], strict=True):
        assert ax.get_ylabel() == ylabel
        assert ax.get_xlabel() == "pool images added"
        assert _legend_texts(ax) == ["cosine", "random", "label_random"]
        styles = [line.get_linestyle() for line in ax.get_lines()]
        assert styles == ["-", "--", "--"]
