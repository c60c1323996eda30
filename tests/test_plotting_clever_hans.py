"""The Clever Hans track's figures: a title, a legend for their several lines, table order."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from failure_modes.plotting import plot_randomization_cascade, plot_visibility_sweep  # noqa: E402

METHODS = ("saliency", "integrated_gradients")
LAYERS = ("-", "head", "hidden")
ALPHAS = (0.6, 0.15, 0.04)


def _randomization() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "method": method,
                "randomized": step,
                "layer": layer,
                "rank_correlation": 1.0 - 0.3 * step,
                "rank_correlation_ink": 1.0 - 0.4 * step,
            }
            for step, layer in enumerate(LAYERS)
            for method in METHODS
        ]
    )


def _sweep() -> tuple[pd.DataFrame, pd.DataFrame]:
    sweep = pd.DataFrame(
        [
            {"alpha": alpha, "method": method, "detected": alpha, "drop": alpha, "flip_added": 0.1}
            for alpha in ALPHAS
            for method in METHODS
        ]
    )
    behaviour = sweep[sweep["method"] == METHODS[0]][["alpha", "drop", "flip_added"]]
    return behaviour.reset_index(drop=True), sweep


def test_the_randomization_cascade_has_a_title_a_legend_and_the_tables_order():
    figure = plot_randomization_cascade(_randomization())
    try:
        assert figure.get_suptitle()
        axes = figure.axes
        assert len(axes) == 2 and all(ax.get_title() for ax in axes)
        legend = axes[-1].get_legend()
        assert [text.get_text() for text in legend.get_texts()] == list(METHODS)
        assert [t.get_text() for t in axes[0].get_xticklabels()] == [
            "trained",
            "+ head",
            "+ hidden",
        ]
    finally:
        plt.close(figure)


def test_the_visibility_sweep_has_a_title_a_legend_and_the_plainest_opacity_first():
    figure = plot_visibility_sweep(*_sweep())
    try:
        ax = figure.axes[0]
        assert ax.get_title()
        assert len(ax.get_legend().get_texts()) == 2 + len(METHODS)
        left, right = ax.get_xlim()
        assert left > right  # the x axis runs from the plainest opacity to the faintest
    finally:
        plt.close(figure)


@pytest.mark.parametrize("bad", [None, pd.DataFrame({"alpha": [0.5]})])
def test_the_sweep_figure_names_a_wrong_table(bad):
    _, sweep = _sweep()
    with pytest.raises((TypeError, ValueError), match="behaviour"):
        plot_visibility_sweep(bad, sweep)
