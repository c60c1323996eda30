"""Figures for the exercises: confusion matrices, loss curves, image grids, attribution
overlays, denoising rows, ROC and risk-coverage curves, and each advanced track's own figures.

Every function draws with the object-oriented matplotlib API and returns what it drew on (a
``Figure``, or the ``Axes`` when one was given): nothing calls ``plt.show``, so the functions
work under the non-interactive Agg backend (tests, headless runs) exactly as in a notebook,
where the inline backend shows the figure at the end of the cell.

The figures live in modules by what they show: :mod:`~failure_modes.plotting.images` (image
grids, attribution overlays, denoising rows), :mod:`~failure_modes.plotting.confusion` and
:mod:`~failure_modes.plotting.curves` (losses, ROC, risk-coverage), plus one module per advanced
track (:mod:`~failure_modes.plotting.clever_hans`, :mod:`~failure_modes.plotting.contrastive`,
:mod:`~failure_modes.plotting.error_detection`, :mod:`~failure_modes.plotting.mode`); every
public name is here too.
"""

# The facade re-exports each module's public names; the lists live in the modules.
from failure_modes.plotting import clever_hans as _clever_hans
from failure_modes.plotting import confusion as _confusion
from failure_modes.plotting import contrastive as _contrastive
from failure_modes.plotting import curves as _curves
from failure_modes.plotting import error_detection as _error_detection
from failure_modes.plotting import images as _images
from failure_modes.plotting import mode as _mode
from failure_modes.plotting.clever_hans import *  # noqa: F403
from failure_modes.plotting.confusion import *  # noqa: F403
from failure_modes.plotting.contrastive import *  # noqa: F403
from failure_modes.plotting.curves import *  # noqa: F403
from failure_modes.plotting.error_detection import *  # noqa: F403
from failure_modes.plotting.images import *  # noqa: F403
from failure_modes.plotting.mode import *  # noqa: F403

__all__ = [
    *_images.__all__,
    *_confusion.__all__,
    *_curves.__all__,
    *_clever_hans.__all__,
    *_contrastive.__all__,
    *_error_detection.__all__,
    *_mode.__all__,
]
