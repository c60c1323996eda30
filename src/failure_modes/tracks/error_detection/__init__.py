"""Predicting a classifier's own mistakes: conductance, mutation stability and an error detector.

Two signals are computed for every prediction, and a small detector learns from them which
predictions are likely wrong:

* **Conductance** (:mod:`.conductance`): how much each channel of a hidden layer carried the
  logit of the predicted class along the straight path from a zero input to the image; and the
  model's confidence, the baseline to beat.
* **Label change rate** (:mod:`.mutants`): the share of slightly mutated copies of the model
  whose answer differs from the original's, all mutants evaluated together.
* **The detector** (:mod:`.detector`): a scikit-learn pipeline from those features to the
  probability of a wrong answer; AUROC, a threshold, and the risk–coverage table (a DataFrame).

Every public name of the three modules is importable from here.
"""

from failure_modes.tracks.error_detection.conductance import (
    INTEGRATION_RULES,
    layer_conductance,
    max_softmax,
)
from failure_modes.tracks.error_detection.detector import (
    DETECTORS,
    ErrorDetector,
    auroc,
    choose_threshold,
    compare_feature_sets,
    fit_detector,
    risk_coverage,
)
from failure_modes.tracks.error_detection.mutants import (
    MODES,
    STRATEGIES,
    Mutants,
    label_change_rate,
    make_mutants,
    mutant_predictions,
)

__all__ = [
    "MODES",
    "STRATEGIES",
    "DETECTORS",
    "INTEGRATION_RULES",
    "layer_conductance",
    "Mutants",
    "make_mutants",
    "mutant_predictions",
    "label_change_rate",
    "max_softmax",
    "ErrorDetector",
    "fit_detector",
    "compare_feature_sets",
    "auroc",
    "choose_threshold",
    "risk_coverage",
]
