"""Figures a student can read: symmetric diverging limits, a colour bar, the image outlined."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from failure_modes.plotting import plot_attributions
from failure_modes.plotting.images import COLORBAR_LABEL, attribution_limit


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
