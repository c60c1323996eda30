"""Probe recipes for the tracks callables: valid arguments and the role of each parameter.

``ROLES`` adds bad values for roles the kit lacks; ``RECIPES`` maps a callable's home
(``module.name``) to (valid arguments, {parameter: role}), as in test_probe; ``SKIPS`` maps a
callable that cannot have a recipe to the reason (and where else it is tested).

The MODE and Clever Hans pipelines train models, so their valid arguments are tiny (3 labels,
a few 8x8 images, one epoch, one iteration) and what several recipes share (a seed's start, an
experiment's results) is built once.
"""

from __future__ import annotations

import copy
import functools
import math

import pandas as pd
import torch
from probe_kit import N, _flags, _images, _labels, _lazy, _Mnistish, _model, _scores
from torch import nn

SPLIT = {
    "validation_per_label": 2, "train_per_label": 2, "pool_per_label": 2,
    "starved_labels": (1,), "starved_count": 1,
}  # fmt: skip


class _Digits28(_Mnistish):
    """The kit's dataset at MNIST's 28x28 (DenseModel's input, the sweep watermark's room)."""

    def __init__(self, n=N):
        super().__init__(n, n)
        generator = torch.Generator().manual_seed(5)
        self.data = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=generator)


def _pixel():
    return _lazy("failure_modes.data.corruptions.Pixel")()(row=1, col=1)


def _report_args(**extra):
    clean = _Mnistish()
    corruptions = {1: _pixel()}
    tainted = _lazy("failure_modes.data.taint.taint_dataset")()(clean, corruptions)
    return dict(clean_test=clean, tainted_test=tainted, corruptions=corruptions, **extra)


def _mode_data():
    generator = torch.Generator().manual_seed(6)
    targets = torch.arange(3).repeat_interleave(6)
    inputs = torch.rand(len(targets), 1, 8, 8, generator=generator)
    inputs[torch.arange(len(targets)), 0, 0, targets] += 1.0  # a learnable cue per label
    return inputs, targets


def _config():
    return _lazy("failure_modes.tracks.mode.loop.ModeConfig")()(
        size=2, iterations=1, epochs=1, threshold=0.9
    )


@functools.cache
def _start():
    return _lazy("failure_modes.tracks.mode.experiment.setup_seed")()(
        _mode_data(), seed=0, config=_config(), split_options=SPLIT, start_epochs=1,
        progress=False,
    )  # fmt: skip


@functools.cache
def _results():
    return _lazy("failure_modes.tracks.mode.experiment.run_experiment")()(
        _mode_data(), _mode_data(), seeds=[0, 1], selections=["random", "label_random"],
        config=_config(), split_options=SPLIT, start_epochs=1, progress=False,
    )  # fmt: skip


def _retrain(model, data):
    _lazy("failure_modes.models.training.train_classifier")()(
        model, data, epochs=1, seed=0, progress=False
    )


def _training_step():
    model = _model()
    # lr 0: the step runs in full (loss, backward, update) but leaves the weights as they were,
    # so the probe's check that the call changed no argument applies to the model too.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    return dict(
        model=model, optimizer=optimizer, loss_function=nn.CrossEntropyLoss(), x=_images(),
        y=_labels(),
    )  # fmt: skip


def _start_args(**extra):
    start = _start()
    return dict(model=copy.deepcopy(start.model), **extra)


ROLES: dict = {
    "optimizer": {"none": lambda: None, "wrong_type": lambda: "adam"},
    "callable": {"none": lambda: None, "not_callable": lambda: 3},
    "label_list": {
        "none": lambda: None,
        "empty": lambda: [],
        "negative": lambda: [-1],
        "float": lambda: [1.5],
        "too_large": lambda: [99],
    },
    "corruption_map": {
        "none": lambda: None,
        "empty": lambda: {},
        "not_corruption": lambda: {1: "square"},
    },
    "model_map": {"none": lambda: None, "empty": lambda: {}, "not_module": lambda: {"a": None}},
    "method_list": {"none": lambda: None, "unknown": lambda: ["nope"]},  # () is no method
    "baseline": {"nan": lambda: math.nan, "text": lambda: "black"},  # None: black_baseline
    "methods_or_default": {"unknown": lambda: ["nope"]},  # None: every method
    "alphas": {
        "none": lambda: None,
        "empty": lambda: [],
        "nan": lambda: [math.nan],
        "too_large": lambda: [1.5],
    },
    "model_or_default": {"not_module": lambda: "model"},  # None: one is trained here
    "seeds": {"none": lambda: None, "empty": lambda: [], "float": lambda: [2.5]},
    "selections": {"none": lambda: None, "empty": lambda: [], "unknown": lambda: ["nope"]},
    "mode_config": {"wrong_type": lambda: {"size": 2}},  # None: ModeConfig()
    "split_options": {"unknown": lambda: {"nope": 1}, "wrong_type": lambda: [1]},  # None: {}
    "seed_results": {"none": lambda: None, "empty": lambda: [], "wrong_type": lambda: [1]},
    "summary": {"none": lambda: None, "empty": lambda: {}, "wrong_type": lambda: {"a": 1}},
    "splits": {"none": lambda: None, "wrong_type": lambda: (_images(), _labels())},
    "lr": {
        "zero": lambda: 0.0,
        "negative": lambda: -1.0,
        "nan": lambda: math.nan,
        "none": lambda: None,
    },
    "widths": {"negative": lambda: (-1,), "float": lambda: (2.5,), "none": lambda: None},
    "indices": {
        "none": lambda: None,
        "float": lambda: [0.5],
        "negative": lambda: [-1],
        "too_large": lambda: [99],
        "repeated": lambda: [0, 0],
    },
    "labels_or_none": {  # () starves no label
        "none": lambda: None,
        "negative": lambda: [-1],
        "float": lambda: [1.5],
        "too_large": lambda: [99],
    },
    "pair_or_none": {  # None: no test set
        "nan": lambda: (_images() * math.nan, _labels()),
        "float_labels": lambda: (_images(), _labels().double() + 0.5),
        "mismatched": lambda: (_images(), _labels()[:2]),
        "empty": lambda: (torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long)),
        "uint8": lambda: ((_images() * 255).to(torch.uint8), _labels()),
    },
    "layer_or_default": {"unknown": lambda: "nope"},  # None: found by target_layer
}

MODE = "failure_modes.tracks.mode."
HANS = "failure_modes.tracks.clever_hans."
RECIPES: dict = {
    "failure_modes.tracks.error_detection._model.check_labelled": (
        lambda: dict(model=_model(), inputs=_images(), targets=_labels(), name="validation"),
        {"model": "model", "inputs": "images", "targets": "labels"},
    ),
    "failure_modes.models.training.training_step": (
        _training_step,
        {
            "model": "model",
            "optimizer": "optimizer",
            "loss_function": "callable",
            "x": "images",
            "y": "labels",
        },
    ),  # fmt: skip
    f"{HANS}explanations.explain_local": (
        lambda: dict(
            model=_model(),
            clean_model=_model(),
            labels=[1],
            methods=["saliency"],
            baselines=0.0,
            n_explain=2,
            progress=False,
            **{k: v for k, v in _report_args().items() if k != "clean_test"},
        ),  # fmt: skip
        {
            "model": "model",
            "clean_model": "model",
            "tainted_test": "dataset",
            "corruptions": "corruption_map",
            "labels": "label_list",
            "methods": "methods_or_default",
            "baselines": "baseline",
            "n_explain": "count",
        },
    ),
    f"{HANS}randomization.randomize_layer": (
        lambda: dict(model=_model(), name="0"),
        {"model": "model", "name": "method", "seed": "seed"},
    ),
    f"{HANS}report.shortcut_report": (
        lambda: _report_args(
            model=_model(), methods=("saliency",), n_explain=2, baselines=0.0, progress=False
        ),
        {  # device: being removed from the computing functions (the lead's change)
            "model": "model",
            "clean_test": "dataset",
            "tainted_test": "dataset",
            "corruptions": "corruption_map",
            "methods": "method_list",
            "n_explain": "count",
            "baselines": "baseline",
            "threshold": "config_fraction",
            "batch_size": "count",
        },
    ),
    f"{HANS}report.compare_models": (
        lambda: _report_args(models={"a": _model(), "b": _model()}),
        {
            "models": "model_map",
            "clean_test": "dataset",
            "tainted_test": "dataset",
            "corruptions": "corruption_map",
            "value": "method",
        },
    ),
    f"{HANS}sweep.visibility_sweep": (
        lambda: dict(
            train=_Digits28(),
            test=_Digits28(),
            label=1,
            alphas=[1.0],
            methods=("saliency",),
            n_explain=2,
            epochs=1,
            clean_model=_lazy("failure_modes.models.nets.DenseModel")()(),
            progress=False,
        ),  # fmt: skip
        {
            "train": "dataset",
            "test": "dataset",
            "label": "label",
            "alphas": "alphas",
            "seed": "seed",
            "methods": "method_list",
            "n_explain": "count",
            "fraction": "fraction",
            "epochs": "count",
            "clean_model": "model_or_default",
            "threshold": "config_fraction",
        },
    ),
    f"{HANS}zoo.train_dense": (
        lambda: dict(dataset=_Digits28(), seed=0, epochs=1, progress=False),
        {
            "dataset": "dataset",
            "seed": "seed",
            "epochs": "count",
            "weight_decay": "factor",
            "device": "device",
        },
    ),
    "failure_modes.data.corruptions.check_corruptions": (
        lambda: dict(corruptions={1: _pixel()}),
        {"corruptions": "corruption_map"},
    ),
    f"{MODE}splits.check_splits": (
        lambda: dict(splits=_start().splits),
        {"splits": "splits"},
    ),
    f"{MODE}loop.check_config": (
        lambda: dict(config=_config()),
        {"config": "mode_config"},
    ),
    f"{MODE}experiment.run_experiment": (
        lambda: dict(
            data=_mode_data(),
            test=_mode_data(),
            seeds=[0],
            selections=["random"],
            config=_config(),
            split_options=SPLIT,
            start_epochs=1,
            progress=False,
        ),  # fmt: skip
        {
            "data": "pair",
            "test": "pair",
            "seeds": "seeds",
            "selections": "selections",
            "config": "mode_config",
            "split_options": "split_options",
            "start_epochs": "count",
        },
    ),
    f"{MODE}experiment.setup_seed": (
        lambda: dict(
            data=_mode_data(),
            seed=0,
            config=_config(),
            split_options=SPLIT,
            start_epochs=1,
            progress=False,
        ),  # fmt: skip
        {
            "data": "pair",
            "seed": "seed",
            "config": "mode_config",
            "split_options": "split_options",
            "start_epochs": "count",
        },
    ),
    f"{MODE}experiment.summarise": (
        lambda: dict(results=_results()),
        {"results": "seed_results", "split": "method"},
    ),
    f"{MODE}experiment.summary_table": (
        lambda: dict(summary=_lazy(f"{MODE}experiment.summarise")()(_results())),
        {"summary": "summary", "key": "method"},
    ),
    f"{MODE}layers.probe_layers": (
        lambda: _start_args(
            train=_start().splits.train,
            validation=_start().splits.validation,
            epochs=1,
            progress=False,
        ),  # fmt: skip
        {
            "model": "model",
            "train": "pair",
            "validation": "pair",
            "epochs": "count",
            "lr": "lr",
            "batch_size": "count",
            "seed": "seed",
        },
    ),
    f"{MODE}layers.target_layer": (
        lambda: _start_args(splits=_start().splits, progress=False),
        {"model": "model", "splits": "splits", "agreement": "fraction", "seed": "seed"},
    ),
    f"{MODE}loop.debug_model": (
        lambda: _start_args(
            splits=_start().splits,
            selection="label_random",
            seed=0,
            config=_config(),
            test=_mode_data(),
            progress=False,
        ),  # fmt: skip
        {
            "model": "model",
            "splits": "splits",
            "selection": "method",
            "seed": "seed",
            "config": "mode_config",
            "layer": "layer_or_default",
            "test": "pair_or_none",
        },
    ),
    f"{MODE}loop.round_against_random": (
        lambda: _start_args(
            train=_start().splits.train,
            pool=_start().splits.pool,
            chosen=[0, 1],
            validation=_start().splits.validation,
            retrain=_retrain,
            seed=0,
        ),  # fmt: skip
        {
            "model": "model",
            "train": "pair_or_empty",  # no training set: the round trains on the picks alone
            "pool": "pair",
            "chosen": "indices",
            "validation": "pair",
            "retrain": "callable",
            "seed": "seed",
        },
    ),
    f"{MODE}splits.make_splits": (
        lambda: dict(data=_mode_data(), **SPLIT),
        {
            "data": "pair",
            "validation_per_label": "count",
            "train_per_label": "count",
            "pool_per_label": "count",
            "starved_labels": "labels_or_none",
            "starved_count": "count",
            "seed": "seed",
        },
    ),
    f"{MODE}splits.train_starting_model": (
        lambda: dict(train=_mode_data(), seed=0, epochs=1, hidden_sizes=(4,), progress=False),
        {
            "train": "pair",
            "seed": "seed",
            "epochs": "count",
            "lr": "lr",
            "batch_size": "count",
            "hidden_sizes": "widths",
            "device": "device",
        },
    ),
}
# The MODE figures (plotting.mode) take plain tables and mappings.
_TABLE = {"a": [0.1, 0.5], "b": [0.2, 0.4]}
RECIPES.update(
    {
        "failure_modes.plotting.mode.plot_label_bars": (
            lambda: dict(table=pd.DataFrame(_TABLE), title="t", threshold=0.3),
            {"table": "table"},
        ),
        "failure_modes.plotting.mode.plot_map_grid": (
            lambda: dict(maps={"row": {"panel": _images()[0, 0]}}, title="t"),
            {"maps": "histories"},
        ),
        "failure_modes.plotting.mode.plot_ranked_images": (
            lambda: dict(images={"cosine": _images()[:2]}, k=1, title="t"),
            {"images": "histories", "k": "count"},
        ),
        "failure_modes.plotting.mode.plot_rounds": (
            lambda: dict(panels={"accuracy": pd.DataFrame(_TABLE)}, title="t"),
            {"panels": "histories"},
        ),
    }
)
# The Clever Hans figures take the track's tables; the contrastive figures take images and classes.
_CASCADE = pd.DataFrame(
    {
        "method": ["saliency", "saliency"],
        "randomized": [0, 1],
        "layer": ["-", "head"],
        "rank_correlation": [1.0, 0.4],
        "rank_correlation_ink": [1.0, 0.3],
    }
)
_SWEEP = pd.DataFrame(
    {"alpha": [0.6, 0.1], "method": ["saliency"] * 2, "detected": [0.9, 0.2], "drop": [0.8, 0.1]}
)
_BEHAVIOUR = pd.DataFrame({"alpha": [0.6, 0.1], "drop": [0.8, 0.1], "flip_added": [0.5, 0.0]})
_CLASSES = [str(label) for label in range(10)]
RECIPES.update(
    {
        "failure_modes.plotting.clever_hans.plot_randomization_cascade": (
            lambda: dict(randomization=_CASCADE.copy(), title="t"),
            {"randomization": "table"},
        ),
        "failure_modes.plotting.clever_hans.plot_visibility_sweep": (
            lambda: dict(behaviour=_BEHAVIOUR.copy(), sweep=_SWEEP.copy(), title="t"),
            {"behaviour": "table", "sweep": "table"},
        ),
        "failure_modes.plotting.contrastive.plot_mistakes": (
            lambda: dict(
                images=_images(), predicted=_labels(), true=_labels(), class_names=_CLASSES
            ),
            {"images": "images_2d", "predicted": "labels_any", "true": "labels_any"},
        ),
        "failure_modes.plotting.contrastive.plot_counterfactuals": (
            lambda: dict(
                pixels=_images(),
                change=torch.zeros_like(_images()),
                prediction=_labels(),
                class_names=_CLASSES,
            ),
            {"pixels": "images_2d", "prediction": "labels_any"},
        ),
    }
)
# The error-detection figures take scores, error flags and curves.
_COVERAGE = torch.linspace(0.2, 1.0, 5)
RECIPES.update(
    {
        "failure_modes.plotting.error_detection.plot_conductance_profiles": (
            lambda: dict(
                total=_scores(),
                is_error=_flags(),
                right_profile=torch.rand(4),
                wrong_profile=torch.rand(4),
                class_name="Shirt",
            ),
            {"total": "scores", "is_error": "flags"},
        ),
        "failure_modes.plotting.error_detection.plot_detector_rocs": (
            lambda: dict(scores={"confidence": _scores()}, is_error=_flags()),
            {"scores": "histories", "is_error": "flags"},
        ),
        "failure_modes.plotting.error_detection.plot_kept_accuracy": (
            lambda: dict(curves={"both": (_COVERAGE, 1 - _COVERAGE / 10)}, cancelled=0.2),
            {"curves": "histories"},
        ),
    }
)
SKIPS: dict[str, str] = {}
