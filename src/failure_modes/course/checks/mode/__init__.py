"""Checkers for the coding tasks of the MODE notebook (``advanced/mode_debugging``).

Each checker runs the student's function on a small probe built here, where every typical
mistake gives a different answer, then on the notebook's own tensors, and returns what the
notebook goes on with (see :mod:`failure_modes.course.checks`). None of them draws from
torch's global random stream, so the notebook's numbers do not depend on the answers.
"""

from failure_modes.course.checks.mode.labels import buggy_labels
from failure_modes.course.checks.mode.maps import differential_map
from failure_modes.course.checks.mode.picking import picks
from failure_modes.course.checks.mode.ranking import cosine, ranking
from failure_modes.course.checks.mode.retraining import round_against_random

__all__ = [
    "buggy_labels",
    "cosine",
    "differential_map",
    "picks",
    "ranking",
    "round_against_random",
]
