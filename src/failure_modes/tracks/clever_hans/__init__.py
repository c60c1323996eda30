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

# The facade re-exports each module's public names; the lists live in the modules.
from failure_modes.data.tensors import black_baseline
from failure_modes.tracks.clever_hans import (
    behaviour as _behaviour,
)
from failure_modes.tracks.clever_hans import (
    cues as _cues,
)
from failure_modes.tracks.clever_hans import (
    explanations as _explanations,
)
from failure_modes.tracks.clever_hans import (
    randomization as _randomization,
)
from failure_modes.tracks.clever_hans import (
    report as _report,
)
from failure_modes.tracks.clever_hans import (
    sweep as _sweep,
)
from failure_modes.tracks.clever_hans import (
    zoo as _zoo,
)
from failure_modes.tracks.clever_hans.behaviour import *  # noqa: F403
from failure_modes.tracks.clever_hans.cues import *  # noqa: F403
from failure_modes.tracks.clever_hans.explanations import *  # noqa: F403
from failure_modes.tracks.clever_hans.randomization import *  # noqa: F403
from failure_modes.tracks.clever_hans.report import *  # noqa: F403
from failure_modes.tracks.clever_hans.sweep import *  # noqa: F403
from failure_modes.tracks.clever_hans.zoo import *  # noqa: F403

__all__ = [
    *_zoo.__all__,
    *_cues.__all__,
    *_behaviour.__all__,
    *_explanations.__all__,
    *_report.__all__,
    *_randomization.__all__,
    *_sweep.__all__,
    "black_baseline",
]
