"""``failure_modes.error_detection``, the name the README gives: the package is :mod:`failure_modes.tracks.error_detection`.

Kept so that instructors' own material keeps importing it by that name; it is the same module
object, so every name (and every patch a test makes) is shared.
"""

import sys

from failure_modes.tracks import error_detection

sys.modules[__name__] = error_detection
