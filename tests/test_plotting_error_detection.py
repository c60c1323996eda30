"""The error-detection track's figures: each has a title, legends where lines share an axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from failure_modes.plotting import (
    plot_conductance_profiles,
    plot_detector_rocs,
    plot_kept_accuracy,
)

WRONG = torch.tensor([True, False, False, True, False, False, False, True])
SCORES = torch.tensor([0.9, 0.1, 0.4, 0.7, 0.2, 0.3, 0.6, 0.5])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [text.get_text() for text in legend.get_texts()]


def test_conductance_profiles_have_a_title_and_both_legends():
    total = torch.linspace(-1.0, 5.0, len(WRONG))
    figure = plot_conductance_profiles(
        total, WRONG, torch.rand(20), torch.rand(20), class_name="Shirt"
    )
    assert figure.get_suptitle()
    left, right = figure.axes
    assert left.get_title() and right.get_title()
    assert _legend_texts(left) == ["right", "wrong"]
    assert _legend_texts(right) == ["right 'Shirt'", "wrong 'Shirt'"]


def test_conductance_profiles_refuse_profiles_of_different_lengths():
    with pytest.raises(
        ValueError, match="right_profile and wrong_profile must have the same shape"
    ):
        plot_conductance_profiles(
            torch.ones(len(WRONG)), WRONG, torch.rand(20), torch.rand(19), class_name="Shirt"
        )


def test_detector_rocs_keep_the_given_order_and_a_title():
    figure = plot_detector_rocs({"confidence": SCORES, "both": 1 - SCORES}, WRONG)
    (ax,) = figure.axes
    assert ax.get_title() == "ROC curves of the error detectors on the test set"
    labels = _legend_texts(ax)
    assert labels[0] == "chance"
    assert labels[1].startswith("confidence (AUROC") and labels[2].startswith("both (AUROC")


def test_detector_rocs_refuse_an_empty_mapping():
    with pytest.raises(ValueError, match="scores is empty"):
        plot_detector_rocs({}, WRONG)
    with pytest.raises(TypeError, match="scores must be a non-empty dict"):
        plot_detector_rocs([SCORES], WRONG)


def test_kept_accuracy_runs_from_full_coverage_with_a_title_and_a_legend():
    coverage = np.linspace(0.1, 1.0, 10)
    figure = plot_kept_accuracy(
        {"both": (coverage, 1 - coverage / 10), "confidence": (coverage, 1 - coverage / 8)},
        cancelled=0.2,
        lowest=0.85,
    )
    ax = figure.axes[0]
    assert ax.get_title()
    left, right = ax.get_xlim()
    assert left > right  # full coverage (nothing cancelled) first, as in the table
    assert _legend_texts(ax) == ["both", "confidence", "chosen threshold"]
    assert ax.get_ylim()[0] == pytest.approx(0.85)


def test_kept_accuracy_refuses_a_share_outside_zero_one():
    with pytest.raises(ValueError, match="cancelled"):
        plot_kept_accuracy({"both": (np.ones(3), np.ones(3))}, cancelled=1.5)
