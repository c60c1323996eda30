"""``failure_modes.shortcuts``, the name the README gives: the package is :mod:`failure_modes.tracks.clever_hans`.

Kept so that instructors' own material keeps importing it by that name; it is the same module
object, so every name (and every patch a test makes) is shared.
"""

import sys

from failure_modes.tracks import clever_hans

sys.modules[__name__] = clever_hans
