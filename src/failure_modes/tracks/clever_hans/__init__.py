"""Which shortcuts did a model take? Behavioural tests, explanation scores and their sanity checks.

The Clever Hans zoo plants a different artifact on each of several classes and asks two
questions per class:

* **Behaviour** (intervention): remove the artifact from that class's images, add it to the
  other classes' images; does the prediction follow the artifact rather than the digit?
* **Explanation**: how much of each attribution method's relevance lands on the artifact, how
  that compares with the share of the image it covers, and whether the map still "finds" the
  artifact once the model's weights are randomised (then it was never about the model).

One module per concern; every public name is re-exported here:

=================  ==========================================================================
``zoo``            the artifacts per class, the sweep's watermark, seeded training
``cues``           taking a cue away: ``RemoveRamp``, random lightness augmentation
``behaviour``      the behavioural test and its thresholds
``explanations``   artifact mass per method, detection and false-alarm rates
``report``         :func:`shortcut_report` per model, :func:`compare_models` across models
``randomization``  the cascading model-parameter randomisation check
``sweep``          the watermark visibility sweep
=================  ==========================================================================

The results are pandas DataFrames. The experiment's settings (seed, epochs, images explained,
opacities) live in the notebook's ``parameters`` cell; the thresholds that define a verdict
(:data:`FLIP_THRESHOLD`, :data:`EXPLOIT_DROP`, :data:`MASS_FACTOR`, :data:`LOCAL_SHARE`) live
here.
"""

from failure_modes.data.tensors import black_baseline
from failure_modes.tracks.clever_hans.behaviour import (
    EXPLOIT_DROP,
    FLIP_THRESHOLD,
    behavioural_test,
)
from failure_modes.tracks.clever_hans.cues import RemoveRamp, augment, random_lightness, with_images
from failure_modes.tracks.clever_hans.explanations import (
    LOCAL_SHARE,
    MASS_FACTOR,
    explain_inputs,
    explain_local,
    flag_rates,
)
from failure_modes.tracks.clever_hans.randomization import (
    randomization_check,
    rank_correlation_within,
)
from failure_modes.tracks.clever_hans.report import compare_models, shortcut_report, wide
from failure_modes.tracks.clever_hans.sweep import visibility_sweep
from failure_modes.tracks.clever_hans.zoo import (
    check_aligned,
    sweep_watermark,
    tainted_index,
    train_dense,
    zoo,
)

__all__ = [
    "EXPLOIT_DROP",
    "FLIP_THRESHOLD",
    "LOCAL_SHARE",
    "MASS_FACTOR",
    "RemoveRamp",
    "augment",
    "behavioural_test",
    "black_baseline",
    "check_aligned",
    "compare_models",
    "explain_inputs",
    "explain_local",
    "flag_rates",
    "random_lightness",
    "randomization_check",
    "rank_correlation_within",
    "shortcut_report",
    "sweep_watermark",
    "tainted_index",
    "train_dense",
    "visibility_sweep",
    "wide",
    "with_images",
    "zoo",
]
