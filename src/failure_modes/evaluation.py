"""``failure_modes.evaluation``, the name the README gives: the module is :mod:`failure_modes.models.evaluation`.

Kept so that instructors' own material keeps importing it by that name; it is the same module
object, so every name (and every patch a test makes) is shared.
"""

import sys

from failure_modes.models import evaluation

sys.modules[__name__] = evaluation
