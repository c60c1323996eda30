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

# The facade re-exports each module's public names; the lists live in the modules.
from failure_modes.tracks.error_detection import (
    conductance as _conductance,
)
from failure_modes.tracks.error_detection import (
    detector as _detector,
)
from failure_modes.tracks.error_detection import (
    mutants as _mutants,
)
from failure_modes.tracks.error_detection.conductance import *  # noqa: F403
from failure_modes.tracks.error_detection.detector import *  # noqa: F403
from failure_modes.tracks.error_detection.mutants import *  # noqa: F403

__all__ = [*_conductance.__all__, *_mutants.__all__, *_detector.__all__]
