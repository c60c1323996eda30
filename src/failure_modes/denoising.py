"""``failure_modes.denoising``, the name the README gives: the module is :mod:`failure_modes.models.denoising`.

Kept so that instructors' own material keeps importing it by that name; it is the same module
object, so every name (and every patch a test makes) is shared.
"""

import sys

from failure_modes.models import denoising

sys.modules[__name__] = denoising
