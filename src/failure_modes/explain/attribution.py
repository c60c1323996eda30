"""Attribution: Captum's methods behind one entry point, scores against a mask, comparisons.

The public names of four modules, in one place (the README's ``failure_modes.attribution``):

- :mod:`~failure_modes.explain.methods`: :data:`METHODS`, :func:`attribute`, batch sizes;
- :mod:`~failure_modes.explain.scores`: :func:`artifact_mass` (the share of absolute
  attribution on a planted artifact), chance level, rank accuracy, pointing game;
- :mod:`~failure_modes.explain.comparison`: :func:`compare_methods` and its result;
- :mod:`~failure_modes.explain.randomization`: the model-parameter randomisation check.
"""

from __future__ import annotations

from failure_modes.explain.comparison import MethodComparison, compare_methods
from failure_modes.explain.methods import (
    METHODS,
    ROWS_PER_PASS,
    Method,
    accepts_baselines,
    attribute,
    default_batch_size,
)
from failure_modes.explain.randomization import (
    parameter_layers,
    randomize_layers,
    rank_correlation,
    structural_similarity,
)
from failure_modes.explain.scores import (
    artifact_mass,
    chance_level,
    mask_share,
    pointing_game,
    relevance,
    relevance_rank_accuracy,
)

__all__ = [
    "Method",
    "METHODS",
    "ROWS_PER_PASS",
    "default_batch_size",
    "attribute",
    "artifact_mass",
    "mask_share",
    "relevance",
    "chance_level",
    "relevance_rank_accuracy",
    "pointing_game",
    "accepts_baselines",
    "MethodComparison",
    "compare_methods",
    "parameter_layers",
    "randomize_layers",
    "rank_correlation",
    "structural_similarity",
]
