"""The probe: bad inputs of every kind over the public functions, and argument mutation.

Every public callable (the ``__all__`` of every library module) is enumerated. Those with a
recipe below get one valid call (checked for argument mutation: the model's weights, flags and
device, and every tensor passed, are unchanged) and then one call per bad input of every kind
that fits the parameter: NaN/inf, float/negative/too-large labels, None, wrong dtype or shape,
empty, mismatched lengths, an unavailable device, uint8 where 0..1 floats are expected.

Each outcome is classified: ``clear`` (our TypeError/ValueError raised inside failure_modes,
naming the argument), ``deep`` (an error raised inside torch/numpy/captum), ``silent``
(accepted), ``hang`` (over the time limit). The test asserts silent 0, mutating 0 and hangs 0
and prints the counts, each deep error, and the callables without a recipe yet.

No deep error is left: path arguments are checked by ``check_path`` (a missing file is our
``MissingPathError``, both a ``FileNotFoundError`` and a ``ValueError``). Recipes live here and in
``probe_recipes_data`` / ``probe_recipes_tracks``; the fakes and the bad values in ``probe_kit``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import signal
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import probe_recipes_data
import probe_recipes_tracks
import pytest
import torch
from probe_kit import (
    BAD,
    CLASSES,
    FIELDS,
    PACKAGE,
    SIDE,
    TIMEOUT_S,
    TMP,
    N,
    _comparison,
    _flags,
    _idx_file,
    _images,
    _labels,
    _lazy,
    _logits,
    _maps,
    _mask,
    _Mnistish,
    _model,
    _probes,
    _scores,
    _table,
    _with_mutants,
)
from torch import nn

import failure_modes

R = {
    "failure_modes.models.evaluation.predict": (
        lambda: dict(model=_model(), dataset=(_images(), _labels())),
        {"model": "model", "dataset": "model_pair", "batch_size": "count"},
    ),
    "failure_modes.models.evaluation.predict_proba": (
        lambda: dict(model=_model(), dataset=(_images(), _labels())),
        {"model": "model", "dataset": "model_pair", "batch_size": "count"},
    ),
    "failure_modes.models.evaluation.accuracy": (
        lambda: dict(predictions=_labels(), targets=_labels()),
        {"predictions": "labels_any", "targets": "labels_any"},
    ),
    "failure_modes.models.evaluation.confusion": (
        lambda: dict(predictions=_labels(), targets=_labels(), num_classes=CLASSES),
        {"predictions": "labels", "targets": "labels", "num_classes": "count"},
    ),
    "failure_modes.models.evaluation.per_class_accuracy": (
        lambda: dict(predictions=_labels(), targets=_labels(), num_classes=CLASSES),
        {"predictions": "labels", "targets": "labels", "num_classes": "count"},
    ),
    "failure_modes.models.training.train_classifier": (
        lambda: dict(model=_model(), dataset=(_images(), _labels()), progress=False, seed=0),
        {
            "model": "model",
            "dataset": "model_pair",
            "seed": "seed_or_none",
            "device": "device",
            "epochs": "count",
            "batch_size": "count",
        },
    ),  # fmt: skip
    "failure_modes.models.training.train_denoiser": (
        lambda: dict(model=nn.Conv2d(1, 1, 3, padding=1), dataset=_images(), progress=False),
        {
            "dataset": "unit_images",
            "device": "device",
            "epochs": "count",
            "model": "model",
            "batch_size": "count",
            "seed": "seed_or_none",
        },
    ),
    "failure_modes.utils.devices.pick_device": (
        lambda: dict(device="cpu"),
        {"device": "device"},
    ),
    "failure_modes.models.denoising.denoise": (
        lambda: dict(model=nn.Conv2d(1, 1, 3, padding=1), images=_images()),
        {"images": "images", "model": "model", "batch_size": "count"},
    ),
    "failure_modes.models.denoising.add_noise": (
        lambda: dict(images=_images()),
        {"images": "unit_elementwise"},
    ),
    "failure_modes.models.denoising.psnr": (
        lambda: dict(images=_images(), clean=_images()),
        {"images": "images", "clean": "unit_images"},
    ),
    "failure_modes.explain.methods.attribute": (
        lambda: dict(model=_model(), inputs=_images(), target=1, method="saliency"),
        {
            "model": "model",
            "inputs": "images",
            "target": "target",
            "batch_size": "count_or_default",
            "nope": "option",
        },
    ),  # fmt: skip
    "failure_modes.explain.scores.artifact_mass": (
        lambda: dict(attributions=_maps(), mask=_mask()),
        {"attributions": "maps", "mask": "mask"},
    ),
    "failure_modes.explain.scores.mask_share": (
        lambda: dict(attributions=_maps(), mask=_mask()),
        {"attributions": "maps", "mask": "mask_or_empty"},  # an empty mask gives NaN by design
    ),
    "failure_modes.explain.scores.relevance": (
        lambda: dict(attributions=_maps()),
        {"attributions": "maps"},
    ),
    "failure_modes.explain.counterfactual.counterfactual": (
        lambda: dict(model=_model(), inputs=_images()[:2], target=1, steps=2),
        {"model": "model", "inputs": "images", "target": "target", "steps": "count"},
    ),
    "failure_modes.explain.contrastive.contrastive_saliency": (
        lambda: dict(model=_model(), inputs=_images(), predicted=0, true=1, methods=["saliency"]),
        {
            "model": "model",
            "inputs": "images",
            "predicted": "target",
            "true": "target",
            "batch_size": "count",
        },
    ),
    "failure_modes.tracks.mode.layers.layer_features": (
        lambda: dict(model=_model(), layer="1", inputs=_images()),
        {"model": "model", "inputs": "images", "batch_size": "count"},
    ),
    "failure_modes.tracks.error_detection.conductance.max_softmax": (
        lambda: dict(model=_model(), inputs=_images()),
        {"model": "model", "inputs": "images", "batch_size": "count"},
    ),
    "failure_modes.tracks.mode.similarity.rank": (
        lambda: dict(candidates=_maps(), reference=_maps()[0], measure="l2"),
        {"candidates": "maps", "reference": "maps"},
    ),
    "failure_modes.tracks.mode.similarity.scores": (
        lambda: dict(candidates=_maps(), reference=_maps()[0], measure="l2"),
        {"candidates": "maps", "reference": "maps"},
    ),
    "failure_modes.data.tensors.to_tensors": (
        lambda: dict(dataset=_Mnistish()),
        {"dataset": "dataset"},
    ),
    "failure_modes.data.tensors.normalization": (
        lambda: dict(dataset=_Mnistish()),
        {"dataset": "transform_of"},
    ),
    "failure_modes.data.tensors.black_baseline": (
        lambda: dict(dataset=_Mnistish()),
        {"dataset": "transform_of"},
    ),
    "failure_modes.data.tensors.classification_tensors": (
        lambda: dict(dataset=(_images(), _labels())),
        {"dataset": "pair_or_empty"},
    ),
    "failure_modes.data.tensors.image_tensors": (
        lambda: dict(dataset=_images()),
        {"dataset": "unit_elementwise"},
    ),
    "failure_modes.explain.scores.pointing_game": (
        lambda: dict(attributions=_maps(), mask=_mask()),
        {"attributions": "maps", "mask": "mask"},
    ),
    "failure_modes.explain.scores.relevance_rank_accuracy": (
        lambda: dict(attributions=_maps(), mask=_mask()),
        {"attributions": "maps", "mask": "mask"},
    ),
    "failure_modes.explain.scores.chance_level": (
        lambda: dict(mask=_mask()),
        {"mask": "mask_or_empty"},
    ),
    "failure_modes.explain.randomization.rank_correlation": (
        lambda: dict(first=_maps(), second=_maps().flip(0)),
        {"first": "maps", "second": "maps"},
    ),
    "failure_modes.explain.randomization.randomize_layers": (
        lambda: dict(model=_model(), n_layers=1),
        {"model": "model", "n_layers": "layer_count", "seed": "seed"},
    ),
    "failure_modes.tracks.mode.diagnosis.label_accuracy": (
        lambda: dict(model=_model(), data=(_images(), _labels()), num_classes=CLASSES),
        {"model": "model", "data": "model_pair", "num_classes": "count", "batch_size": "count"},
    ),
    "failure_modes.tracks.mode.selection.random_inputs": (
        lambda: dict(pool=(_images(), _labels()), size=2, seed=0),
        {"pool": "pair", "size": "count", "seed": "seed"},
    ),
    "failure_modes.tracks.mode.heat_maps.heat_maps": (
        lambda: dict(
            features=_maps().flatten(1), predictions=_labels(), targets=_labels(), label=1
        ),
        {
            "features": "maps",
            "predictions": "labels_any",
            "targets": "labels_any",
            "label": "label_in_range",
        },
    ),
    "failure_modes.tracks.error_detection.conductance.layer_conductance": (
        lambda: dict(model=_model(), inputs=_images(), layer="0", n_steps=2, progress=False),
        {
            "model": "model",
            "inputs": "images",
            "target": "target_or_predicted",
            "n_steps": "count",
            "batch_size": "count",
        },  # fmt: skip
    ),
    "failure_modes.models.denoising.evaluate_denoiser": (
        lambda: dict(model=nn.Conv2d(1, 1, 3, padding=1), datasets={"test": _images()}),
        {"model": "model", "batch_size": "count", "datasets": "denoise_sets", "seed": "seed"},
    ),
    "failure_modes.data.taint.taint_images": (
        lambda: dict(
            images=(_images()[:, 0] * 255).to(torch.uint8),
            targets=_labels(),
            corruptions={1: _lazy("failure_modes.data.corruptions.Pixel")()(row=1, col=1)},
        ),
        {"images": "uint8_images", "targets": "labels_any", "seed": "seed", "fraction": "alpha"},
    ),
    "failure_modes.data.corruptions.Pixel": (
        lambda: dict(row=1, col=1, value=255),
        {"value": "grey"},  # row/col are checked against the image when applied
    ),
    "failure_modes.data.corruptions.Square": (
        lambda: dict(row=1, col=1, size=2, value=255),
        {"value": "grey", "size": "count"},
    ),
    "failure_modes.data.corruptions.Grid": (
        lambda: dict(spacing=2, amplitude=80.0),
        {"amplitude": "amplitude", "spacing": "count"},
    ),
    "failure_modes.explain.proximity.nearest_distance": (
        lambda: dict(queries=_images(), references=_images()),
        {"queries": "images_or_empty", "references": "images", "batch_size": "count"},
    ),
    "failure_modes.explain.proximity.total_variation": (
        lambda: dict(change=_images()),
        {"change": "images_or_empty"},
    ),
    "failure_modes.explain.randomization.structural_similarity": (
        lambda: dict(first=_maps(), second=_maps().flip(0), window=3),
        {"first": "maps", "second": "maps", "window": "count"},
    ),
    "failure_modes.explain.contrastive.mass_in_mask": (
        lambda: dict(attributions=_maps(), mask=_mask().expand(N, SIDE, SIDE).clone()),
        {"attributions": "maps", "mask": "mask"},
    ),
    "failure_modes.models.nets.count_parameters": (
        lambda: dict(model=_model()),
        {"model": "model"},
    ),
    "failure_modes.models.nets.DenseModel": (
        lambda: dict(input_shape=(SIDE, SIDE), num_classes=CLASSES, hidden_sizes=(4,)),
        {"num_classes": "count", "input_shape": "image_shape", "hidden_sizes": "sizes"},
    ),
    "failure_modes.models.nets.UNet": (
        lambda: dict(depth=1, num_fmaps=2),
        {
            "depth": "count",
            "num_fmaps": "count",
            "in_channels": "count",
            "out_channels": "count",
            "fmap_inc_factor": "count",
            "downsample_factor": "count",
            "kernel_size": "kernel_size",
            "final_activation": "activation",
        },
    ),
    "failure_modes.models.nets.SmallCNN": (
        lambda: dict(image_size=SIDE),
        {
            "image_size": "count",
            "num_classes": "count",
            "in_channels": "count",
            "channels": "channel_pair",
            "hidden": "count",
        },
    ),
    "failure_modes.explain.contrastive.logit_contrast": (
        lambda: dict(logits=_logits(), predicted=_labels(), true=_labels().flip(0)),
        {"logits": "logits", "predicted": "labels", "true": "labels"},
    ),
    "failure_modes.explain.contrastive.relative_gap": (
        lambda: dict(maps={"predicted": _maps(), "true": _maps().flip(0), "contrast": _maps()}),
        {"maps": "map_dict"},
    ),
    "failure_modes.explain.proximity.l1_size": (
        lambda: dict(change=_images()),
        {"change": "images_or_empty"},
    ),
    "failure_modes.explain.proximity.nearest_in_class": (
        lambda: dict(
            queries=_images(), target=1, references=_images(), reference_targets=_labels()
        ),
        {
            "queries": "images_or_empty",  # no query, no distance
            "target": "target",
            "references": "images",
            "reference_targets": "labels_any",
        },
    ),
    "failure_modes.explain.proximity.outline_mask": (
        lambda: dict(pixels=_images()),
        {"pixels": "images", "threshold": "threshold"},
    ),
    "failure_modes.explain.mistakes.misclassified": (
        lambda: dict(model=_model(), dataset=(_images(), _labels())),
        {"model": "model", "dataset": "model_pair", "batch_size": "count"},
    ),
    "failure_modes.explain.randomization.parameter_layers": (
        lambda: dict(model=_model()),
        {"model": "model"},
    ),
    "failure_modes.explain.comparison.compare_methods": (
        lambda: dict(
            model=_model(),
            inputs=_images(),
            target=1,
            masks=_mask().expand(N, SIDE, SIDE).clone(),
            methods=["saliency"],
            progress=False,
        ),
        {
            "model": "model",
            "inputs": "images",
            "target": "target",
            "masks": "mask",
            "batch_size": "count_or_default",
        },
    ),
    "failure_modes.tracks.error_detection.detector.auroc": (
        lambda: dict(scores=_scores(), is_error=_flags()),
        {"scores": "scores", "is_error": "flags"},
    ),
    "failure_modes.tracks.error_detection.detector.choose_threshold": (
        lambda: dict(scores=_scores(), is_error=_flags()),
        {"scores": "scores", "is_error": "flags"},
    ),
    "failure_modes.tracks.error_detection.detector.risk_coverage": (
        lambda: dict(scores=_scores(), is_error=_flags()),
        {"scores": "scores", "is_error": "flags", "cancelled": "cancelled"},
    ),
    "failure_modes.tracks.error_detection.detector.risk_coverage_curve": (
        lambda: dict(confidence=_scores(), is_error=_flags()),
        {"confidence": "scores", "is_error": "flags"},
    ),
    "failure_modes.tracks.error_detection.detector.fit_detector": (
        lambda: dict(features=_scores(), is_error=_flags(), seed=0),
        {"features": "scores", "is_error": "flags", "seed": "seed_or_none"},
    ),
    "failure_modes.tracks.error_detection.mutants.change_rate": (
        lambda: dict(original=_labels(), mutated=_labels().expand(2, N).clone()),
        {"original": "labels_any"},
    ),
    "failure_modes.tracks.error_detection.conductance.logit_rise": (
        lambda: dict(logits=_logits(), baseline_logits=_logits().flip(0)),
        {"logits": "logits", "baseline_logits": "logits"},
    ),
    "failure_modes.tracks.clever_hans.cues.random_lightness": (
        lambda: dict(images=(_images()[:, 0] * 255).to(torch.uint8)),
        {"images": "uint8_images", "max_amplitude": "amplitude", "seed": "seed"},
    ),
    "failure_modes.tracks.clever_hans.randomization.rank_correlation_within": (
        lambda: dict(first=_maps(), second=_maps().flip(0), pixels=_mask()),
        {"first": "maps", "second": "maps", "pixels": "mask_or_empty"},
    ),
    "failure_modes.tracks.mode.selection.take": (
        lambda: dict(pool=(_images(), _labels()), indices=[0, 2]),
        {"pool": "pair"},
    ),
    "failure_modes.tracks.mode.layers.probe_points": (
        lambda: dict(model=_lazy("failure_modes.models.nets.SmallCNN")()(image_size=SIDE)),
        {"model": "model"},
    ),
    "failure_modes.tracks.mode.diagnosis.buggy_labels": (
        lambda: dict(accuracy=[0.9, 0.5, 1.0]),
        {"accuracy": "per_label", "threshold": "threshold"},
    ),
    "failure_modes.data.taint.taint_dataset": (
        lambda: dict(
            dataset=_Mnistish(),
            corruptions={1: _lazy("failure_modes.data.corruptions.Pixel")()(row=1, col=1)},
        ),
        {"dataset": "dataset", "fraction": "alpha", "seed": "seed"},
    ),
    "failure_modes.data.corruptions.Gradient": (
        lambda: dict(amplitude=60.0),
        {"amplitude": "amplitude"},
    ),
    "failure_modes.data.stamps.Text": (
        lambda: dict(text="1", row=1, col=1, size=4),
        {"value": "grey", "size": "count"},
    ),
    "failure_modes.data.stamps.Watermark": (
        lambda: dict(size=4, row=1, col=1),
        {"value": "grey", "size": "count", "alpha": "alpha"},
    ),
    "failure_modes.plotting.images.attribution_limit": (
        lambda: dict(attributions=_maps()),
        {"attributions": "values"},  # any shape: a quantile of magnitudes
    ),
    "failure_modes.plotting.images.plot_images": (
        lambda: dict(images=_images()),
        {"images": "images_2d"},
    ),
    "failure_modes.plotting.images.plot_attribution": (
        lambda: dict(image=_images()[0], attribution=_maps()[0]),
        {"image": "images_2d", "attribution": "maps", "limit": "limit"},
    ),
    "failure_modes.plotting.images.plot_attributions": (
        lambda: dict(images=_images(), attributions={"saliency": _maps()}),
        {"images": "images_2d", "attributions": "map_dict"},
    ),
    "failure_modes.plotting.curves.plot_roc_from_scores": (
        lambda: dict(scores=_scores(), is_error=_flags()),
        {"scores": "scores", "is_error": "flags"},
    ),
    "failure_modes.plotting.curves.plot_score_histograms": (
        lambda: dict(scores=_scores(), is_error=_flags()),
        {"scores": "scores", "is_error": "flags", "bins": "count"},
    ),
    "failure_modes.plotting.curves.plot_roc": (
        lambda: dict(fpr=_scores().sort().values, tpr=_scores().sort().values),
        {"fpr": "rates", "tpr": "rates"},
    ),
    "failure_modes.plotting.curves.plot_risk_coverage": (
        lambda: dict(coverage=_scores(), accuracy=_scores()),
        {"coverage": "rates", "accuracy": "rates"},
    ),
    "failure_modes.plotting.curves.plot_losses": (
        lambda: dict(histories={"a": [1.0, 0.5, 0.2]}, smooth=1),
        {"histories": "histories", "smooth": "count", "steps_per_epoch": "count_or_default"},
    ),
    "failure_modes.plotting.confusion.plot_confusion": (
        lambda: dict(predictions=_labels(), targets=_labels(), num_classes=CLASSES),
        {"predictions": "labels", "targets": "labels", "num_classes": "count"},
    ),
    "failure_modes.models.reference.split_indices": (
        lambda: dict(targets=_labels().repeat(4), every=2),
        {"targets": "labels_alone", "every": "count"},
    ),
    "failure_modes.utils.devices.check_device": (
        lambda: dict(device="cpu"),
        {"device": "device"},
    ),
    "failure_modes.utils.devices.device_of": (
        lambda: dict(model=_model()),
        {"model": "model"},
    ),
    "failure_modes.tracks.clever_hans.cues.with_images": (
        lambda: dict(dataset=_Mnistish(), images=(_images()[:, 0] * 255).to(torch.uint8)),
        {"dataset": "dataset", "images": "uint8_images", "targets": "labels_opt"},
    ),
    "failure_modes.tracks.clever_hans.cues.augment": (
        lambda: dict(dataset=_Mnistish(), copies=1),
        {"dataset": "dataset", "copies": "count", "seed": "seed", "nope": "option"},
    ),
    "failure_modes.tracks.clever_hans.cues.RemoveRamp": (
        lambda: dict(h=SIDE, w=SIDE),
        {"h": "count", "w": "count"},
    ),
    "failure_modes.tracks.clever_hans.zoo.check_aligned": (
        lambda: dict(clean=_Mnistish(), tainted=_Mnistish()),
        {"clean": "dataset", "tainted": "dataset"},
    ),
    "failure_modes.tracks.clever_hans.zoo.tainted_index": (
        lambda: dict(clean=_Mnistish(), tainted=_Mnistish(), label=1),
        {"clean": "dataset", "tainted": "dataset", "label": "label"},
    ),
    "failure_modes.tracks.clever_hans.zoo.sweep_watermark": (
        lambda: dict(alpha=0.2),
        {"alpha": "alpha"},
    ),
    "failure_modes.tracks.error_detection._model.check_inputs": (
        lambda: dict(model=_model(), inputs=_images()),
        {"model": "model", "inputs": "images"},
    ),
    "failure_modes.tracks.mode.diagnosis.diagnose": (
        lambda: dict(
            train_accuracy=[0.9, 0.5, 1.0], validation_accuracy=[0.7, 0.4, 1.0], labels=[0, 1]
        ),
        {
            "train_accuracy": "accuracies",
            "validation_accuracy": "accuracies",
            "labels": "label_indices",
            "gap": "threshold",
        },
    ),  # fmt: skip
    "failure_modes.tracks.mode.experiment.paired_test": (
        lambda: dict(treated=[0.5, 0.6, 0.8], control=[0.4, 0.6, 0.5]),
        {"treated": "series", "control": "series"},
    ),
    "failure_modes.tracks.mode.selection.select_inputs": (
        lambda: dict(pool_targets=_labels(), diagnoses={1: "underfitting"}, size=2),
        {
            "pool_targets": "labels_alone",
            "size": "count",
            "diagnoses": "diagnoses",
            "seed": "seed",
            "mix": "alpha",
        },
    ),
    "failure_modes.tracks.mode.splits.check_data": (
        lambda: dict(data=(_images(), _labels()), name="data"),
        {"data": "pair_or_empty"},  # a pool may run out
    ),
    "failure_modes.explain.methods.accepts_baselines": (
        lambda: dict(method="integrated_gradients"),
        {"method": "method"},
    ),
    "failure_modes.explain.methods.default_batch_size": (
        lambda: dict(method="integrated_gradients"),
        {"method": "method", "n_steps": "step_options", "nt_samples": "step_options"},
    ),
    "failure_modes.plotting.confusion.plot_confusions": (
        lambda: dict(results={"a": (_labels(), _labels())}, num_classes=CLASSES),
        {"results": "results", "num_classes": "count", "ncols": "count"},
    ),
    "failure_modes.plotting.images.plot_denoising": (
        lambda: dict(domains={"a": (_images(), _images(), _images())}, n=2),
        {"domains": "domains", "n": "count"},
    ),
    "failure_modes.data.idx.idx_nbytes": (
        lambda: dict(shape=(2, 3)),
        {"shape": "shape"},
    ),
    "failure_modes.utils.seeding.seed_everything": (
        lambda: dict(seed=0),
        {"seed": "seed"},
    ),
    "failure_modes.data.sources.describe": (
        lambda: dict(dataset=_Mnistish()),
        {"dataset": "describable"},  # any Dataset (a Subset, a ConcatDataset, a TensorDataset)
    ),
    "failure_modes.tracks.error_detection.mutants.make_mutants": (
        lambda: dict(
            model=_model(),
            validation=(_images(), _labels()),
            n=2,
            fraction=0.5,
            seed=0,
            progress=False,
            min_accuracy_ratio=0.0,
        ),
        {
            "model": "model",
            "validation": "model_pair",
            "seed": "seed_or_none",
            "n": "count",
            "fraction": "fraction",
            "batch_size": "count",
        },
    ),  # fmt: skip
    "failure_modes.tracks.error_detection.mutants.mutant_predictions": (
        _with_mutants,
        {"model": "model", "inputs": "images", "batch_size": "count"},
    ),
    "failure_modes.tracks.error_detection.mutants.label_change_rate": (
        _with_mutants,
        {"model": "model", "inputs": "images", "batch_size": "count"},
    ),
    "failure_modes.tracks.error_detection.mutants.negated_copy": (
        lambda: dict(model=_model(), layer="0", units=[0]),
        {"model": "model", "units": "units"},
    ),
    "failure_modes.tracks.clever_hans.explanations.explain_inputs": (
        lambda: dict(dataset=_Mnistish(), label=1, n=2),
        {"dataset": "dataset", "label": "label", "n": "count"},
    ),
    "failure_modes.tracks.clever_hans.behaviour.behavioural_test": (
        lambda: dict(
            model=_model(),
            dataset=_Mnistish(),
            corruption=_lazy("failure_modes.data.corruptions.Pixel")()(row=1, col=1),
            label=1,
        ),
        {
            "model": "model",
            "dataset": "dataset",
            "label": "label",
            "threshold": "config_fraction",
            "batch_size": "count",
        },
    ),
    "failure_modes.tracks.clever_hans.zoo.zoo": (lambda: {}, {}),
    "failure_modes.tracks.mode.layers.saturation_layer": (
        lambda: dict(probes=_probes()),
        {"probes": "probes", "agreement": "fraction"},
    ),
    "failure_modes.models.reference.metadata_path": (
        lambda: dict(path=str(TMP / "model.pt")),
        {"path": "anything"},
    ),
    "failure_modes.utils.files.sha256_file": (
        lambda: dict(path=_idx_file()),
        {"path": "path"},
    ),
    "failure_modes.data.idx.read_idx": (
        lambda: dict(path=_idx_file()),
        {"path": "path"},
    ),
    "failure_modes.data.idx.read_idx_shape": (
        lambda: dict(path=_idx_file()),
        {"path": "path"},
    ),
    "failure_modes.data.idx.write_idx": (
        lambda: dict(path=TMP / "written.idx", array=_Mnistish().data.numpy()),
        {"array": "array", "path": "output_path"},  # a missing folder is made
    ),
    "failure_modes.tracks.clever_hans.explanations.flag_rate": (
        lambda: dict(attributions=_maps(), mask=_mask()),
        {"attributions": "maps", "mask": "mask", "factor": "factor"},
    ),
    "failure_modes.tracks.clever_hans.explanations.flag_rates": (
        lambda: dict(comparison=_comparison()),
        {"comparison": "comparison", "factor": "factor"},
    ),
    "failure_modes.tracks.clever_hans.report.wide": (
        lambda: dict(table=_table(), index="m", columns="label", values="drop"),
        {"table": "table", "index": "method", "columns": "method", "values": "method"},
    ),
    "failure_modes.tracks.error_detection.detector.compare_feature_sets": (
        lambda: dict(
            train={"a": _scores()},
            train_errors=_flags(),
            test={"a": _scores().flip(0)},
            test_errors=_flags(),
            sets={"only a": ["a"]},
        ),
        {
            "train": "feature_map",
            "test": "feature_map",
            "train_errors": "flags",
            "test_errors": "flags",
            "seed": "seed_or_none",
        },
    ),  # fmt: skip
    "failure_modes.tracks.mode.loop.ModeConfig": (
        lambda: dict(),
        {
            "threshold": "config_fraction",
            "gap": "config_fraction",
            "mix": "config_fraction",
            "size": "count",
            "iterations": "count",
            "epochs": "count",
            "batch_size": "count",
        },
    ),  # fmt: skip
    "failure_modes.tracks.clever_hans.randomization.randomization_check": (
        lambda: dict(
            model=_model(),
            inputs=_images(),
            target=1,
            mask=_mask(),
            methods=["saliency"],
            progress=False,
        ),
        {
            "model": "model",
            "inputs": "images",
            "target": "target",
            "mask": "mask",
            "seed": "seed",
        },
    ),  # fmt: skip
}

for _recipes in (probe_recipes_data, probe_recipes_tracks):
    assert not set(_recipes.RECIPES) & set(R), "a callable with two recipes"
    assert not set(_recipes.ROLES) & set(BAD), "a role defined twice"
    R.update(_recipes.RECIPES)
    BAD.update(_recipes.ROLES)


RECORD = "a frozen record the library builds and returns; its inputs are probed where it is built"
SKIP = {
    "builtins.tuple": "the type alias splits.Data (tuple[Tensor, Tensor]), not a function",
    "typing.Literal": "the type alias diagnosis.Diagnosis, not a function",
    "failure_modes.data.sources.DataUnavailableError": "an exception class",
    "failure_modes.data.corruptions.Corruption": "the abstract base of the corruptions",
    "failure_modes.tracks.error_detection._propagation.MutatedFilters": "a typing Protocol",
    "failure_modes.explain.methods.Method": "a registry entry of METHODS, not built by callers",
    "failure_modes.tracks.mode.similarity.Measure": "a registry entry of the MEASURES",
    "failure_modes.explain.contrastive.LogitContrast": (
        "an nn.Module wrapper whose forward is logit_contrast, probed above"
    ),
    "failure_modes.utils.devices.evaluating": (
        "a context manager: a call without `with` does nothing; every function that uses it "
        "is mutation-checked above"
    ),
    "failure_modes.utils.seeding.seeded": "a context manager (see evaluating)",
    "failure_modes.tracks.error_detection._model.logits": (
        "private module: its callers validate with check_inputs (probed) first"
    ),
    "failure_modes.tracks.error_detection._model.resolve_layer": (
        "private module: its callers check the model first"
    ),
    "failure_modes.tracks.error_detection._propagation.predictions": (
        "private module: called by mutant_predictions after its checks"
    ),
    "failure_modes.tracks.error_detection._propagation.stacked_parameters": (
        "private module: called by mutant_predictions after its checks"
    ),
    **{
        f"failure_modes.{name}": RECORD
        for name in (
            "data.fetchers.DatasetSpec",
            "explain.comparison.MethodComparison",
            "explain.counterfactual.CounterfactualResult",
            "explain.mistakes.Mistakes",
            "tracks.error_detection.detector.ErrorDetector",
            "tracks.error_detection.mutants.Mutants",
            "tracks.mode.experiment.SeedResult",
            "tracks.mode.experiment.Start",
            "tracks.mode.heat_maps.HeatMaps",
            "tracks.mode.layers.Probe",
            "tracks.mode.loop.Trajectory",
            "tracks.mode.splits.Splits",
        )
    },
    **probe_recipes_data.SKIPS,
    **probe_recipes_tracks.SKIPS,
}
"""Public callables without a recipe, each for a stated reason; the validators themselves
(``failure_modes.utils.validation``) are property-tested in test_validation and test_hardening."""
VALIDATORS = (
    "failure_modes.utils.validation.",
    "failure_modes.utils.scalars.",
    "failure_modes.utils.arrays.",
)


def _public_callables() -> dict[str, Callable]:
    found: dict[int, str] = {}
    objects: dict[str, Callable] = {}
    for info in pkgutil.walk_packages(failure_modes.__path__, "failure_modes."):
        if ".course" in info.name or info.name.endswith("__main__"):
            continue  # the command line is probed in test_cli / test_runner
        module = importlib.import_module(info.name)
        for attr in getattr(module, "__all__", []):
            value = getattr(module, attr, None)
            if not callable(value) or id(value) in found:
                continue
            home = f"{getattr(value, '__module__', info.name)}.{getattr(value, '__name__', attr)}"
            found[id(value)] = home
            objects[home] = value
    return objects


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


def _outcome(function: Callable, kwargs: dict, names: set[str]) -> tuple[str, str]:
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        function(**kwargs)
    except _Hang:
        return "hang", ""
    except Exception as error:  # noqa: BLE001 - classified below
        frames = traceback.extract_tb(error.__traceback__)
        raised_in = frames[-1].filename if frames else ""
        ours = str(PACKAGE) in raised_in
        named = any(name in str(error) for name in names | FIELDS)
        if ours and isinstance(error, (TypeError, ValueError)) and named:
            return "clear", ""
        return "deep", f"{type(error).__name__} from {Path(raised_in).name}: {str(error)[:120]}"
    else:
        return "silent", ""
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return "silent", ""


def _snapshot(kwargs: dict) -> dict:
    shot = {}
    for key, value in kwargs.items():
        if isinstance(value, nn.Module):
            shot[key] = (
                [m.training for m in value.modules()],
                {k: v.detach().clone() for k, v in value.state_dict().items()},
            )
        elif isinstance(value, torch.Tensor):
            shot[key] = value.clone()
        elif isinstance(value, tuple) and all(isinstance(v, torch.Tensor) for v in value):
            shot[key] = tuple(v.clone() for v in value)
    return shot


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, tuple) and len(a) == 2 and isinstance(a[1], dict):
        return a[0] == b[0] and all(torch.equal(v, b[1][k]) for k, v in a[1].items())
    return all(_same(x, y) for x, y in zip(a, b, strict=True))


TRAINS_IN_PLACE = {"failure_modes.models.training.train_classifier",
                   "failure_modes.models.training.train_denoiser"}  # fmt: skip


@pytest.mark.filterwarnings("ignore")
def test_probe_finds_no_silent_acceptance_no_mutation_and_no_hang(capsys):
    callables = _public_callables()
    counts: Counter[str] = Counter()
    deep: list[str] = []
    silent: list[str] = []
    mutating: list[str] = []
    for name, (valid, roles) in R.items():
        function = _lazy(name)()
        kwargs = valid()
        before = _snapshot(kwargs)
        function(**kwargs)
        after = _snapshot(kwargs)
        for key, value in before.items():
            if name in TRAINS_IN_PLACE and key == "model":
                continue  # training changes the weights by design
            if not _same(value, after[key]):
                mutating.append(f"{name}({key}=...)")
        counts["valid calls"] += 1
        names = set(inspect.signature(function).parameters)
        for parameter, role in roles.items():
            for kind, make in BAD[role].items():
                if role == "device" and kind == "unavailable" and torch.cuda.device_count() > 7:
                    continue
                kwargs = valid()
                kwargs[parameter] = make()
                # A keyword option (**options) is named by its own name.
                outcome, detail = _outcome(function, kwargs, names | {parameter})
                counts[outcome] += 1
                label = f"{name.rsplit('.', 1)[1]}({parameter}={kind})"
                if outcome == "deep":
                    deep.append(f"{label}: {detail}")
                elif outcome in ("silent", "hang"):
                    silent.append(f"{label}: {outcome}")
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")  # the plotting recipes' figures
    assert not set(R) & set(SKIP), "a recipe for a skipped callable"
    assert set(R) <= set(callables), sorted(set(R) - set(callables))
    skipped = {n for n in callables if n in SKIP or n.startswith(VALIDATORS)}
    unprobed = sorted(set(callables) - set(R) - skipped)
    with capsys.disabled():
        print(
            f"\nprobe: {len(R)} callables probed of {len(callables)} public; "
            f"{counts['clear'] + counts['deep'] + counts['silent'] + counts['hang']} bad inputs: "
            f"clear {counts['clear']}, deep {counts['deep']}, silent {counts['silent']}, "
            f"hangs {counts['hang']}; {counts['valid calls']} valid calls, mutating "
            f"{len(mutating)}; {len(skipped)} skipped with a reason ({len(SKIP)} listed, "
            f"{len(skipped) - len(SKIP)} validators)"
        )
        for line in deep:
            print(f"  deep: {line}")
        for line in silent:
            print(f"  silent: {line}")
        print(f"  without a recipe yet ({len(unprobed)}): {', '.join(unprobed)}")
    assert not unprobed, f"public callables without a recipe or a reason: {unprobed}"
    assert not mutating, mutating
    assert not silent, silent
    assert counts["hang"] == 0


BUILDS_OR_TRAINS = {
    "failure_modes.models.training.train_classifier",
    "failure_modes.models.training.train_denoiser",
    "failure_modes.models.reference.train_reference",
    "failure_modes.tracks.clever_hans.zoo.train_dense",
    "failure_modes.tracks.mode.splits.train_starting_model",
}
"""The only callables that take ``device=``: they build or train a model, so they place it."""
DEVICE_TOOLS = {
    "failure_modes.utils.devices.check_device",
    "failure_modes.utils.devices.pick_device",
    "failure_modes.utils.validation.check_targets",  # puts the checked labels beside the inputs
}


def test_only_functions_that_build_or_train_a_model_take_a_device():
    """One device rule: everything else computes where the model is and never moves it."""
    taking = {
        name for name, function in _public_callables().items() if "device" in _parameters(function)
    }
    assert taking - DEVICE_TOOLS == BUILDS_OR_TRAINS


def _parameters(function: Callable) -> set[str]:
    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):  # builtins and typing aliases have no signature
        return set()
