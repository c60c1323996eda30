"""Figures for the exercises: confusion matrices, loss curves, image grids, attribution
overlays, denoising rows, ROC and risk-coverage curves.

Every function draws with the object-oriented matplotlib API and returns what it drew on (a
``Figure``, or the ``Axes`` when one was given): nothing calls ``plt.show``, so the functions
work under the non-interactive Agg backend (tests, headless runs) exactly as in a notebook,
where the inline backend shows the figure at the end of the cell.

The figures live in three modules by what they show: :mod:`~failure_modes.plotting.images`
(image grids, attribution overlays, denoising rows), :mod:`~failure_modes.plotting.confusion`
and :mod:`~failure_modes.plotting.curves` (losses, ROC, risk-coverage); every public name is
here too.
"""

from __future__ import annotations

from failure_modes.plotting.confusion import plot_confusion, plot_confusions
from failure_modes.plotting.curves import (
    plot_losses,
    plot_risk_coverage,
    plot_roc,
    plot_roc_from_scores,
)
from failure_modes.plotting.images import (
    ATTRIBUTION_CMAP,
    plot_attribution,
    plot_attributions,
    plot_denoising,
    plot_images,
)

__all__ = [
    "ATTRIBUTION_CMAP",
    "plot_confusion",
    "plot_confusions",
    "plot_losses",
    "plot_images",
    "plot_attribution",
    "plot_attributions",
    "plot_denoising",
    "plot_roc",
    "plot_roc_from_scores",
    "plot_risk_coverage",
]
