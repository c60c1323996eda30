"""``failure_modes.similarity``, the name the README gives: the module is :mod:`failure_modes.tracks.mode.similarity`.

Kept so that instructors' own material keeps importing it by that name; it is the same module
object, so every name (and every patch a test makes) is shared.
"""

import sys

from failure_modes.tracks.mode import similarity

sys.modules[__name__] = similarity
