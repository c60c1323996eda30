"""The contrastive notebook's figures: a title, one labelled panel per image, checked arguments."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from failure_modes.plotting.contrastive import plot_counterfactuals, plot_mistakes

NAMES = ["T-shirt/top", "Trouser", "Pullover"]


def test_mistakes_have_a_title_and_name_both_classes_per_image():
    figure = plot_mistakes(torch.rand(3, 1, 28, 28), [0, 2, 1], [2, 0, 0], NAMES, title="wrong")
    assert figure.get_suptitle() == "wrong"
    titles = [ax.get_title() for ax in figure.axes if ax.images]
    assert titles == [
        "T-shirt/top\n(is Pullover)",
        "Pullover\n(is T-shirt/top)",
        "Trouser\n(is T-shirt/top)",
    ]


def test_mistakes_have_a_default_title():
    assert plot_mistakes(torch.rand(2, 28, 28), [0, 1], [1, 0], NAMES).get_suptitle()


def test_counterfactuals_show_originals_above_changed_images_with_a_title():
    pixels = torch.full((2, 1, 28, 28), 0.5)
    change = torch.zeros_like(pixels)
    change[1, 0, 0, 0] = 0.25
    figure = plot_counterfactuals(pixels, change, [2, 0], NAMES, titles=["a", "b"])
    assert figure.get_suptitle()
    drawn = [ax for ax in figure.axes if ax.images]
    assert [ax.get_title() for ax in drawn] == ["a", "b", "→ Pullover", "→ T-shirt/top"]
    assert drawn[3].images[0].get_array()[0, 0] == pytest.approx(0.75)
    assert drawn[3].images[0].get_clim() == (0, 1)


def test_arguments_are_checked_with_a_message_that_names_them():
    with pytest.raises(ValueError, match="predicted"):
        plot_mistakes(torch.rand(2, 28, 28), [0], [1, 0], NAMES)
    with pytest.raises(ValueError, match="true must lie in 0..2"):
        plot_mistakes(torch.rand(2, 28, 28), [0, 1], [1, 7], NAMES)
    with pytest.raises(ValueError, match="change must have the shape"):
        plot_counterfactuals(torch.rand(2, 28, 28), torch.rand(3, 28, 28), [0, 1], NAMES)
