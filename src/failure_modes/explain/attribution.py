"""Attribution: Captum's methods behind one entry point, scores against a mask, comparisons.

The public names of four modules, in one place (the README's ``failure_modes.attribution``):

- :mod:`~failure_modes.explain.methods`: :data:`METHODS`, :func:`attribute`, batch sizes;
- :mod:`~failure_modes.explain.scores`: :func:`artifact_mass` (the share of absolute
  attribution on a planted artifact), chance level, rank accuracy, pointing game;
- :mod:`~failure_modes.explain.comparison`: :func:`compare_methods` and its result;
- :mod:`~failure_modes.explain.randomization`: the model-parameter randomisation check.
"""

# The facade re-exports each module's public names; the lists live in the modules.
from failure_modes.explain import (
    comparison as _comparison,
)
from failure_modes.explain import (
    methods as _methods,
)
from failure_modes.explain import (
    randomization as _randomization,
)
from failure_modes.explain import (
    scores as _scores,
)
from failure_modes.explain.comparison import *  # noqa: F403
from failure_modes.explain.methods import *  # noqa: F403
from failure_modes.explain.randomization import *  # noqa: F403
from failure_modes.explain.scores import *  # noqa: F403

__all__ = [*_methods.__all__, *_scores.__all__, *_comparison.__all__, *_randomization.__all__]
