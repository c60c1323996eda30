"""Figures a student can read: symmetric diverging limits, a colour bar, the image outlined."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import inspect
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import failure_modes.plotting as plot
from failure_modes.course import build
from failure_modes.plotting import plot_attributions
from failure_modes.plotting.images import COLORBAR_LABEL, MARK_COLOUR, attribution_limit


def test_one_extreme_pixel_does_not_wash_out_the_map():
    maps = torch.linspace(-1, 1, 2 * 28 * 28).reshape(2, 28, 28)
    maps[0, 0, 0] = 1000.0
    assert attribution_limit(maps) == pytest.approx(np.quantile(maps.abs().numpy(), 0.99))
    assert attribution_limit(torch.zeros(3, 3)) == 1.0


def test_attribution_limit_refuses_nan():
    with pytest.raises(ValueError, match="finite"):
        attribution_limit(torch.tensor([1.0, float("nan")]))


def test_each_row_has_a_symmetric_scale_a_colour_bar_and_the_figure_a_title():
    images = torch.rand(3, 1, 28, 28)
    maps = {"model A": torch.randn(3, 1, 28, 28), "model B": 5 * torch.randn(3, 1, 28, 28)}
    figure = plot_attributions(images, maps, titles=["a", "b", "c"], title="what it shows")
    assert figure.get_suptitle() == "what it shows"
    colorbars = [ax for ax in figure.axes if ax.get_ylabel() == COLORBAR_LABEL]
    assert len(colorbars) == 2
    drawn = [ax.images[0] for ax in figure.axes[3:9]]
    for picture in drawn:
        low, high = picture.norm.vmin, picture.norm.vmax
        assert low == pytest.approx(-high) and high > 0
    assert all(ax.collections for ax in figure.axes[3:9])  # the image's outline, as a contour


# --------------------------------------------------------------------------- every figure a title
def _labels(n=12, classes=3):
    return torch.arange(n) % classes


def _unit_images(n=3):
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0))


FIGURE_RECIPES = {
    "plot_images": lambda: plot.plot_images(_unit_images()),
    "plot_attribution": lambda: plot.plot_attribution(_unit_images()[0], torch.randn(1, 8, 8)),
    "plot_attributions": lambda: plot.plot_attributions(
        _unit_images(), {"saliency": torch.randn(3, 1, 8, 8)}
    ),
    "plot_denoising": lambda: plot.plot_denoising(
        {"MNIST": (_unit_images(), _unit_images(), _unit_images())}, n=3
    ),
    "plot_confusion": lambda: plot.plot_confusion(_labels(), _labels(), num_classes=3),
    "plot_confusions": lambda: plot.plot_confusions(
        {"a": (_labels(), _labels()), "b": (_labels(), _labels())}, num_classes=3
    ),
    "plot_losses": lambda: plot.plot_losses({"a": [1.0, 0.5, 0.2], "b": [1.0, 0.8, 0.6]}),
    "plot_roc": lambda: plot.plot_roc(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.8, 1.0])),
    "plot_roc_from_scores": lambda: plot.plot_roc_from_scores(
        np.array([0.1, 0.9, 0.4, 0.6]), np.array([False, True, False, True])
    ),
    "plot_risk_coverage": lambda: plot.plot_risk_coverage(
        np.array([0.5, 0.8, 1.0]), np.array([1.0, 0.95, 0.9])
    ),
    "plot_score_histograms": lambda: plot.plot_score_histograms(
        np.array([0.1, 0.9, 0.4, 0.6]), np.array([False, True, False, True])
    ),
    # The tracks' figures, with their default titles where they have one.
    "plot_randomization_cascade": lambda: plot.plot_randomization_cascade(
        pd.DataFrame(
            {
                "method": ["saliency", "saliency"],
                "randomized": [0, 1],
                "layer": ["-", "head"],
                "rank_correlation": [1.0, 0.4],
                "rank_correlation_ink": [1.0, 0.3],
            }
        )
    ),
    "plot_visibility_sweep": lambda: plot.plot_visibility_sweep(
        pd.DataFrame({"alpha": [0.6, 0.1], "drop": [0.8, 0.1], "flip_added": [0.5, 0.0]}),
        pd.DataFrame({"alpha": [0.6, 0.1], "method": ["saliency"] * 2, "detected": [0.9, 0.2]}),
    ),
    "plot_mistakes": lambda: plot.plot_mistakes(_unit_images(), [0, 1, 2], [1, 2, 0], "abc"),
    "plot_counterfactuals": lambda: plot.plot_counterfactuals(
        _unit_images(), torch.zeros(3, 1, 8, 8), [0, 1, 2], "abc"
    ),
    "plot_conductance_profiles": lambda: plot.plot_conductance_profiles(
        np.array([0.1, 0.9, 0.4, 0.6]),
        np.array([False, True, False, True]),
        np.array([0.3, 0.2]),
        np.array([0.1, 0.4]),
        class_name="Shirt",
    ),
    "plot_detector_rocs": lambda: plot.plot_detector_rocs(
        {"confidence": np.array([0.1, 0.9, 0.4, 0.6])}, np.array([False, True, False, True])
    ),
    "plot_kept_accuracy": lambda: plot.plot_kept_accuracy(
        {"both": (np.array([0.5, 0.8, 1.0]), np.array([1.0, 0.95, 0.9]))}
    ),
    "plot_label_bars": lambda: plot.plot_label_bars(
        pd.DataFrame({"start": [0.5, 0.9], "end": [0.7, 0.9]}), title="accuracy per label"
    ),
    "plot_map_grid": lambda: plot.plot_map_grid(
        {"label 3": {"correct": torch.rand(8, 8)}}, title="heat maps"
    ),
    "plot_ranked_images": lambda: plot.plot_ranked_images(
        {"cosine": _unit_images()[:2]}, title="picked", k=1
    ),
    "plot_rounds": lambda: plot.plot_rounds(
        {"accuracy": pd.DataFrame({"cosine": [0.5, 0.7], "random": [0.5, 0.6]})}, title="rounds"
    ),
}
"""One small valid call per public plotting function, by name.

A track that adds a plotting module adds one entry here per public function it draws with.
"""

NOT_FIGURES = {"attribution_limit"}
"""Public functions of ``failure_modes.plotting`` that compute a number and draw nothing."""


def _public_functions() -> set[str]:
    return {
        name
        for name in plot.__all__
        if inspect.isfunction(getattr(plot, name)) or inspect.isclass(getattr(plot, name))
    }


def test_every_public_plotting_function_has_a_recipe():
    missing = _public_functions() - set(FIGURE_RECIPES) - NOT_FIGURES
    assert not missing, f"add a recipe to FIGURE_RECIPES for {sorted(missing)}"
    assert set(FIGURE_RECIPES) <= _public_functions(), set(FIGURE_RECIPES) - _public_functions()


def _figure_of(drawn) -> Figure:
    if isinstance(drawn, Figure):
        return drawn
    if isinstance(drawn, Axes):
        return drawn.figure
    return drawn.axes.figure  # an artist: an AxesImage


def _drawn_axes(figure: Figure) -> list[Axes]:
    """The axes a reader looks at: visible, with something drawn, colour bars left out."""
    return [
        ax
        for ax in figure.axes
        if ax.get_visible()
        and not hasattr(ax, "_colorbar")
        and (ax.images or ax.lines or ax.collections or ax.patches)
    ]


ROOT = build.find_root(Path(__file__).resolve().parent)
# Drawing by hand in a notebook: pyplot or a figure's own drawing methods, outside the library.
_HAND_DRAWN = re.compile(
    r"\bmatplotlib\b|\bplt\.|\.(plot|bar|barh|scatter|imshow|hist|set_title|subplots)\("
)


@pytest.mark.parametrize("source", build.discover_sources(ROOT), ids=lambda path: path.stem)
def test_notebooks_draw_every_figure_through_the_plotting_library(source: Path):
    """So the title test below covers every figure a notebook draws."""
    hand_drawn = [
        f"line {number}: {line.strip()}"
        for number, line in enumerate(source.read_text().splitlines(), start=1)
        if not line.startswith("#") and _HAND_DRAWN.search(line)
    ]
    assert not hand_drawn, (
        f"{source.name} draws figures by hand: {hand_drawn}; add a function with a title to "
        "failure_modes.plotting and a recipe to FIGURE_RECIPES"
    )


@pytest.mark.parametrize("name", sorted(FIGURE_RECIPES))
def test_every_figure_has_a_title(name):
    figure = _figure_of(FIGURE_RECIPES[name]())
    try:
        suptitle = figure.get_suptitle()
        untitled = [ax for ax in _drawn_axes(figure) if not ax.get_title()]
        assert suptitle or not untitled, (
            f"{name} draws {len(untitled)} axes without a title and no figure title"
        )
        assert _drawn_axes(figure), f"{name} draws nothing"
    finally:
        plt.close(figure)


# --------------------------------------------------------------------------- what the figures show
def test_confusion_cells_show_one_number_and_no_recall_column():
    targets = torch.tensor([0, 0, 0, 1, 1, 1, 1, 2])
    predictions = torch.tensor([0, 0, 1, 1, 1, 1, 1, 2])
    ax = plot.plot_confusion(predictions, targets, num_classes=3)
    texts = [text.get_text() for text in ax.texts]
    assert texts == ["67", "33", "", "", "100", "", "", "", "100"]
    assert all(text.get_fontsize() >= 9 for text in ax.texts)
    counts = plot.plot_confusion(predictions, targets, num_classes=3, values="count")
    assert [text.get_text() for text in counts.texts][:3] == ["2", "1", ""]
    with pytest.raises(ValueError, match="values"):
        plot.plot_confusion(predictions, targets, num_classes=3, values="both")
    plt.close("all")


def test_loss_marks_draw_a_labelled_line_in_every_panel_on_a_log_axis():
    figure = plot.plot_losses(
        {"a": [1.0, 0.5, 0.2, 0.9], "b": [1.0, 0.8, 0.6, 0.5]},
        smooth=1,
        log_scale=True,
        marks={"digits → clothes": 2},
        title="losses",
    )
    assert figure.get_suptitle() == "losses"
    for ax in figure.axes:
        assert ax.get_yscale() == "log"
        marked = [line for line in ax.lines if line.get_label() == "digits → clothes"]
        assert len(marked) == 1 and list(marked[0].get_xdata()) == [2, 2]
    plt.close(figure)


def test_the_artifact_is_circled_on_every_panel():
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[6, 6] = True
    figure = plot.plot_attributions(_unit_images(), {"IG": torch.randn(3, 1, 8, 8)}, mark=mask)
    circles = [p for ax in figure.axes for p in ax.patches if p.get_edgecolor()[:3] != (0, 0, 0)]
    assert len(circles) == 6  # three images, three maps
    assert all(circle.center == (6.0, 6.0) and circle.radius >= 2 for circle in circles)
    colorbar = next(ax for ax in figure.axes if ax.get_ylabel() == COLORBAR_LABEL)
    assert colorbar.yaxis.label.get_fontsize() >= 8
    assert MARK_COLOUR
    plt.close(figure)


def test_denoising_rows_are_labelled_and_titled():
    images = _unit_images()
    figure = plot.plot_denoising({"MNIST": (images, images, images)}, n=3, title="UNet: 20 dB")
    assert figure.get_suptitle() == "UNet: 20 dB"
    labels = [ax.get_ylabel() for ax in figure.axes if ax.get_ylabel()]
    assert labels == ["MNIST\nclean", "MNIST\nnoisy", "MNIST\ndenoised"]
    plt.close(figure)


# --------------------------------------------------------------------------- boundaries
@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: plot.plot_losses({"a": [1.0, float("nan"), 0.5]}), r"histories\['a'\]"),
        (lambda: plot.plot_losses({"a": []}), r"histories\['a'\]"),
        (lambda: plot.plot_losses({"a": [1.0, 0.5]}, steps_per_epoch=0), "steps_per_epoch"),
        (lambda: plot.plot_losses({"a": [1.0, 0.5]}, marks={"x": 9}), r"marks\['x'\]"),
        (lambda: plot.plot_roc(np.array([0.0, 1.5]), np.array([0.0, 1.0])), "fpr"),
        (lambda: plot.plot_roc(np.array([0.0, 1.0]), np.array([-0.1, 1.0])), "tpr"),
        (lambda: plot.plot_risk_coverage(np.array([0.5, 1.0]), np.array([90, 95])), "accuracy"),
        (lambda: plot.plot_risk_coverage(np.array([0.5, 2.0]), np.array([0.9, 0.9])), "coverage"),
        (
            lambda: plot.plot_denoising({"M": (_unit_images(3), _unit_images(2), _unit_images(3))}),
            r"domains\['M'\] noisy",
        ),
        (
            lambda: plot.plot_denoising(
                {"M": (_unit_images(3), _unit_images(3), torch.rand(3, 1, 6, 6))}
            ),
            r"domains\['M'\] denoised",
        ),
        (
            lambda: plot.plot_attribution(_unit_images()[0], torch.randn(1, 8, 8), limit=-1.0),
            "limit",
        ),
        (
            lambda: plot.plot_attributions(
                _unit_images(), {"IG": torch.randn(3, 1, 8, 8)}, mark=torch.zeros(8, 8)
            ),
            "mark",
        ),
        (lambda: plot.attribution_limit(torch.randn(3, 3), quantile=1.5), "quantile"),
        (lambda: plot.plot_images(torch.zeros(0, 1, 8, 8)), "images"),
    ],
    ids=[
        "nan_loss",
        "empty_loss",
        "zero_steps_per_epoch",
        "mark_past_the_end",
        "fpr_above_1",
        "tpr_negative",
        "accuracy_in_percent",
        "coverage_above_1",
        "triple_of_different_lengths",
        "triple_of_different_shapes",
        "negative_colour_limit",
        "float_mark",
        "quantile_above_1",
        "no_image",
    ],
)
def test_bad_plotting_arguments_are_refused_by_name(call, named):
    with pytest.raises((ValueError, TypeError), match=named):
        call()
    plt.close("all")
