"""MODE: debugging a classifier by state differential analysis and targeted input selection.

MODE (Ma et al., FSE 2018) fixes a model's weak labels with data chosen for them, in steps,
one module each:

1. :mod:`~failure_modes.tracks.mode.splits`: :func:`make_splits` cuts a training set, a reserved
   *bug-fixing pool* and a validation split out of the training data; every decision below
   looks at the validation split only, so a test set stays untouched until the final report.
   :func:`train_starting_model` trains a deliberately weak model (a few labels are starved of
   examples) so that there are bugs to fix.
2. :mod:`~failure_modes.tracks.mode.diagnosis`: :func:`label_accuracy` and :func:`buggy_labels`
   find the labels under a threshold; :func:`diagnose` calls each one underfitting (train and
   validation accuracy both low) or overfitting (train accuracy well above validation accuracy).
3. :mod:`~failure_modes.tracks.mode.layers`: :func:`probe_layers` trains a fresh linear head on
   the frozen output of every hidden layer; :func:`saturation_layer` picks the first layer after
   which the probes' predictions stop changing: the layer MODE targets.
4. :mod:`~failure_modes.tracks.mode.heat_maps`: :func:`heat_maps` averages the target layer's
   features (or the pixels) of the inputs a label gets right, its false positives and its false
   negatives; the differences between these means are the differential heat maps, and
   :attr:`HeatMaps.reference` is the one that drives selection.
5. :mod:`~failure_modes.tracks.mode.selection`: :func:`select_inputs` ranks the pool's inputs of
   each buggy label by one of the nine :data:`MEASURES`
   (:mod:`~failure_modes.tracks.mode.similarity`) against that reference (most similar for
   underfitting, most dissimilar for overfitting), mixes in random inputs of the other labels,
   and :func:`take` moves them out of the pool.
6. :mod:`~failure_modes.tracks.mode.loop`: :func:`debug_model` repeats selection and retraining.
   The :data:`CONTROLS` run the same loop with the same number of pool inputs and the same
   optimiser policy: ``"random"`` draws uniformly from the pool, ``"label_random"`` targets the
   same buggy labels but ignores the ranking.
7. :mod:`~failure_modes.tracks.mode.experiment`: :func:`run_experiment` compares them over seeds
   and :func:`summarise` with paired tests.

Datasets are ``(inputs, targets)`` tensor pairs throughout; no function changes its arguments.

Examples
--------
>>> from failure_modes.data import load_mnist, to_tensors
>>> from failure_modes.tracks import mode
>>> x, y = to_tensors(load_mnist(train=True))                         # doctest: +SKIP
>>> splits = mode.make_splits((x, y), seed=0)                          # doctest: +SKIP
>>> model = mode.train_starting_model(splits.train, seed=0)            # doctest: +SKIP
>>> run = mode.debug_model(model, splits, selection="cosine", seed=0)  # doctest: +SKIP
"""

# The facade re-exports each module's public names; the lists live in the modules.
from failure_modes.tracks.mode import (
    diagnosis as _diagnosis,
)
from failure_modes.tracks.mode import (
    experiment as _experiment,
)
from failure_modes.tracks.mode import (
    heat_maps as _heat_maps,
)
from failure_modes.tracks.mode import (
    layers as _layers,
)
from failure_modes.tracks.mode import (
    loop as _loop,
)
from failure_modes.tracks.mode import (
    selection as _selection,
)
from failure_modes.tracks.mode import (
    similarity as _similarity,
)
from failure_modes.tracks.mode import (
    splits as _splits,
)
from failure_modes.tracks.mode.diagnosis import *  # noqa: F403
from failure_modes.tracks.mode.experiment import *  # noqa: F403
from failure_modes.tracks.mode.heat_maps import *  # noqa: F403
from failure_modes.tracks.mode.layers import *  # noqa: F403
from failure_modes.tracks.mode.loop import *  # noqa: F403
from failure_modes.tracks.mode.selection import *  # noqa: F403
from failure_modes.tracks.mode.similarity import *  # noqa: F403
from failure_modes.tracks.mode.splits import *  # noqa: F403

__all__ = [
    *_splits.__all__,
    *_diagnosis.__all__,
    *_layers.__all__,
    *_heat_maps.__all__,
    *_similarity.__all__,
    *_selection.__all__,
    *_loop.__all__,
    *_experiment.__all__,
]
