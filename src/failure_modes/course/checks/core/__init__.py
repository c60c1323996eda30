"""Checkers for the coding tasks of the core notebook (``notebooks/core.py``).

The taint checkers compare the student's images with the library's artifacts on the notebook's
own digits; the Captum checker (Task 4.1) reuses the notebook's images and model. The
function checkers run the student's function on a small probe of their own, compare what it
gives with what the typical mistakes would give, and return it when right, else the library's.

:mod:`.taints` checks Part 1, :mod:`.training` Part 2, :mod:`.integrated_gradients` Part 4's
maps and Riemann sum, :mod:`.measures` the artifact share and the PSNR.
"""

from failure_modes.course.checks.core.integrated_gradients import (
    integrated_gradients,
    library_integrated_gradients,
    riemann_integrated_gradients,
)
from failure_modes.course.checks.core.measures import artifact_mass, peak_snr
from failure_modes.course.checks.core.taints import grid_taint, pixel_taint
from failure_modes.course.checks.core.training import training_step

__all__ = [
    "artifact_mass",
    "grid_taint",
    "integrated_gradients",
    "library_integrated_gradients",
    "riemann_integrated_gradients",
    "peak_snr",
    "pixel_taint",
    "training_step",
]
