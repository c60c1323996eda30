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

from failure_modes.tracks.mode.diagnosis import (
    Diagnosis,
    buggy_labels,
    check_open_unit,
    diagnose,
    label_accuracy,
)
from failure_modes.tracks.mode.experiment import (
    SeedResult,
    Start,
    paired_test,
    run_experiment,
    setup_seed,
    summarise,
    summary_table,
)
from failure_modes.tracks.mode.heat_maps import HeatMaps, heat_maps
from failure_modes.tracks.mode.layers import (
    Probe,
    layer_features,
    probe_layers,
    probe_points,
    saturation_layer,
    target_layer,
)
from failure_modes.tracks.mode.loop import DIRECTIONS, ModeConfig, Trajectory, debug_model
from failure_modes.tracks.mode.selection import CONTROLS, random_inputs, select_inputs, take
from failure_modes.tracks.mode.similarity import MEASURES, Measure, rank, scores
from failure_modes.tracks.mode.splits import (
    Data,
    Splits,
    check_data,
    make_splits,
    train_starting_model,
)

__all__ = [
    "CONTROLS",
    "DIRECTIONS",
    "MEASURES",
    "Data",
    "Diagnosis",
    "HeatMaps",
    "Measure",
    "ModeConfig",
    "Probe",
    "SeedResult",
    "Splits",
    "Start",
    "Trajectory",
    "buggy_labels",
    "check_data",
    "check_open_unit",
    "debug_model",
    "diagnose",
    "heat_maps",
    "label_accuracy",
    "layer_features",
    "make_splits",
    "paired_test",
    "probe_layers",
    "probe_points",
    "random_inputs",
    "rank",
    "run_experiment",
    "saturation_layer",
    "scores",
    "select_inputs",
    "setup_seed",
    "summarise",
    "summary_table",
    "take",
    "target_layer",
    "train_starting_model",
]
