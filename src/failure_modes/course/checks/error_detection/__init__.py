"""Checkers for the coding tasks of the error-detection notebook (``advanced/error_detection``).

Each checker runs the student's answer on a small probe built here, where every typical mistake
gives a different result, and, where it is cheap, on the notebook's own tensors; it returns what
the notebook goes on with (see :mod:`failure_modes.course.checks`): the student's function or
tensor when it is correct, else the library's own. :mod:`.signals` checks the tasks on the
AUROC, conductance and mutants (Tasks 2.1 to 4.2), :mod:`.detector` those on the detector and
the risk-coverage curve (5.1, 6.1).
"""

from failure_modes.course.checks.error_detection.detector import (
    reference_detector,
    risk_coverage_curve,
    standardised_detector,
)
from failure_modes.course.checks.error_detection.signals import (
    change_rate,
    logit_rise,
    negated_copy,
    ranking_auroc,
)

__all__ = [
    "change_rate",
    "logit_rise",
    "negated_copy",
    "ranking_auroc",
    "reference_detector",
    "risk_coverage_curve",
    "standardised_detector",
]
