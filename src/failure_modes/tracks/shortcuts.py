"""Which shortcuts did a model take? Behavioural tests, explanation scores and their sanity checks.

The Clever Hans zoo plants a different artifact on each of several classes and asks two
questions per class:

* **Behaviour** (intervention): remove the artifact from that class's images, add it to the
  other classes' images; does the prediction follow the artifact rather than the digit?
* **Explanation**: how much of each attribution method's relevance lands on the artifact, how
  that compares with the share of the image it covers, and whether the map still "finds" the
  artifact once the model's weights are randomised (then it was never about the model).

:func:`shortcut_report` puts both into one table; :func:`explain_local` scores every
attribution method against a tainted and a clean model, :func:`randomization_check` runs the
model-parameter randomisation test, :func:`visibility_sweep` fades a watermark until nobody sees
it, and :class:`RemoveRamp` (a preprocessing layer that deletes a lightness cue) and
:func:`random_lightness` (an augmentation that only dilutes it) take a shortcut away. The
results are :class:`~failure_modes.utils.table.Table` objects.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from failure_modes.data.taint import Corruption, Gradient, Square, Text, Watermark, taint_dataset
from failure_modes.data.tensors import normalization
from failure_modes.explain.attribution import (
    METHODS,
    MethodComparison,
    accepts_baselines,
    artifact_mass,
    attribute,
    chance_level,
    compare_methods,
    parameter_layers,
    randomize_layers,
    rank_correlation,
    structural_similarity,
)
from failure_modes.models.evaluation import predict
from failure_modes.models.nets import DenseModel
from failure_modes.models.training import classification_tensors, seed_everything, train_classifier
from failure_modes.utils.table import Table
from failure_modes.utils.validation import (
    check_choice,
    check_fraction,
    check_labels_present,
    check_positive_int,
    check_probability,
    check_uint8_images,
)

__all__ = [
    "EPOCHS",
    "FLIP_THRESHOLD",
    "EXPLOIT_DROP",
    "MASS_FACTOR",
    "LOCAL_SHARE",
    "N_EXPLAIN",
    "WEIGHT_DECAY",
    "SWEEP_LABEL",
    "ALPHAS",
    "zoo",
    "RemoveRamp",
    "train_dense",
    "black_baseline",
    "with_images",
    "behavioural_test",
    "explain_inputs",
    "flag_rates",
    "explain_local",
    "compare_models",
    "shortcut_report",
    "randomization_check",
    "random_lightness",
    "augment",
    "sweep_watermark",
    "visibility_sweep",
]

EPOCHS = 5
"""Training epochs of every zoo model (4,000 offline MNIST images: a few seconds on a CPU)."""

FLIP_THRESHOLD = 0.15
"""The behavioural test flags an artifact when at least this share of the other classes'
images switch to the artifact's label once it is added."""

EXPLOIT_DROP = 0.2
"""A model *exploits* an artifact when its accuracy on that class falls by at least this much
(20 points) once the artifact is removed."""

MASS_FACTOR = 3.0
"""An attribution map flags a local artifact when its artifact mass exceeds this multiple of the
share of the image the artifact covers (what a map blind to the artifact would score)."""

LOCAL_SHARE = 0.1
"""Artifacts covering at most this share of the image count as *local*; for larger (global)
ones a mask says little, and only the behavioural test is used."""

N_EXPLAIN = 64
"""Test images per class that the lesson explains with each attribution method."""

WEIGHT_DECAY = 1e-3
"""The L2 penalty of the regularised model in the lesson."""

SWEEP_LABEL = 5
"""The class that carries the watermark in the visibility sweep."""

ALPHAS = (0.6, 0.3, 0.15, 0.08, 0.04)
"""Watermark opacities of the visibility sweep, from plain to nearly invisible."""


def zoo() -> dict[int, Corruption]:
    """The Clever Hans zoo: one artifact per tainted class (a new dict on every call).

    ``1``: a white square in the top-left corner (obvious, local); ``3``: a time stamp in the
    top-right corner (obvious, local); ``5``: a faint centred copyright sign (alpha 0.3,
    global); ``8``: a lightness ramp from the top-left to the bottom-right corner (global).
    """
    return {
        1: Square(row=1, col=1, size=4),
        3: Text("12:07", row=1, col=11, size=6),
        5: Watermark(alpha=0.3),
        8: Gradient(amplitude=60.0, corner="top-left"),
    }


class RemoveRamp(nn.Module):
    """Preprocessing layer: subtract from each image its best-fitting plane ``a + b*row + c*col``.

    A least-squares fit removes exactly the part of an image that a constant brightness and a
    linear lightness ramp could explain, so a :class:`~failure_modes.data.taint.Gradient` added to an
    image leaves the output unchanged (up to pixels clamped at white). Put in front of a model,
    it makes the gradient shortcut invisible at training and at test time alike.

    Parameters
    ----------
    h, w : int, default 28
        Image size.
    """

    def __init__(self, h: int = 28, w: int = 28) -> None:
        super().__init__()
        rows, cols = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
        planes = torch.stack([torch.ones(h * w), rows.flatten(), cols.flatten()], dim=1)
        basis, _ = torch.linalg.qr(planes)  # orthonormal columns spanning all planes
        self.register_buffer("basis", basis)
        self.shape = (h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(-2)
        return (flat - (flat @ self.basis) @ self.basis.T).view_as(x)


def train_dense(
    dataset: object,
    *,
    seed: int,
    epochs: int = EPOCHS,
    weight_decay: float = 0.0,
    remove_ramp: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> nn.Module:
    """Build a :class:`DenseModel` right after ``seed_everything(seed)`` and train it.

    Two calls with the same ``seed`` start from identical weights and see the same batches, so
    models trained on clean, tainted and augmented data differ only by their data.

    Parameters
    ----------
    dataset : Dataset or tuple of tensors
        As accepted by :func:`~failure_modes.models.training.train_classifier`.
    seed : int
        Seeds the initial weights and the batch order.
    epochs : int, default EPOCHS
        Passes over the data.
    weight_decay : float, default 0.0
        L2 penalty on the weights (a regulariser).
    remove_ramp : bool, default False
        Put :class:`RemoveRamp` in front of the network (the model then takes raw inputs
        and removes brightness and lightness ramps itself).
    device : str or torch.device, optional
        Where to train.
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    nn.Module
        The trained :class:`DenseModel` (or ``nn.Sequential(RemoveRamp(), DenseModel())``), in
        eval mode.
    """
    seed_everything(seed)
    model = DenseModel()
    if remove_ramp:
        model = nn.Sequential(RemoveRamp(*model.input_shape), model)
    train_classifier(
        model,
        dataset,
        epochs=epochs,
        seed=seed,
        weight_decay=weight_decay,
        device=device,
        progress=progress,
    )
    return model.eval()


def black_baseline(dataset: object) -> float:
    """The model-input value of a black pixel, computed in float64.

    The lessons of this track were measured with this value, which as a float32 input may
    differ from a black pixel in the last bit; :func:`failure_modes.data.tensors.black_baseline`
    is the bit-exact one, and the randomisation check's rank correlations move with it.
    """
    mean, std = normalization(dataset)
    return float((0.0 - mean) / std)


def with_images(dataset: object, images: torch.Tensor, targets: torch.Tensor | None = None):
    """Return a deep copy of ``dataset`` holding ``images`` (and ``targets``) instead of its own.

    The copy keeps the dataset's class and transform, so it normalises like the original.
    """
    images = check_uint8_images(images)
    if not hasattr(dataset, "data") or not hasattr(dataset, "targets"):
        raise TypeError(
            f"dataset must have .data and .targets like torchvision's MNIST, got "
            f"{type(dataset).__name__}."
        )
    targets = torch.as_tensor(dataset.targets if targets is None else targets).long()
    if targets.shape != images.shape[:1]:
        raise ValueError(
            f"targets must have shape [{len(images)}] to match images, got {tuple(targets.shape)}."
        )
    # Copy without the (possibly large) arrays, then attach the new ones.
    shell = copy.copy(dataset)
    shell.data, shell.targets = None, None
    copied = copy.deepcopy(shell)
    copied.data, copied.targets = images.clone(), targets.clone()
    if hasattr(copied, "tainted"):
        del copied.tainted
    return copied


def _predictions(model: nn.Module, dataset: object, batch_size: int, device) -> np.ndarray:
    return predict(model, dataset, batch_size=batch_size, device=device)[0]


def behavioural_test(
    model: nn.Module,
    dataset: object,
    corruption: Corruption,
    label: int,
    *,
    threshold: float = FLIP_THRESHOLD,
    batch_size: int = 1000,
    device: str | torch.device | None = None,
) -> dict[str, Any]:
    """Add ``label``'s artifact to every image of the other classes: does the prediction follow?

    Parameters
    ----------
    model : nn.Module
        The classifier under test.
    dataset : torchvision dataset
        Clean images (uint8 ``.data``, ``.targets``), e.g. the test split.
    corruption : Corruption
        The artifact suspected of being a shortcut to ``label``.
    label : int
        The class the artifact was planted on.
    threshold : float, default FLIP_THRESHOLD
        Flag the artifact when at least this share of images switch to ``label``.
    batch_size : int, default 1000
        Images per forward pass.
    device : str or torch.device, optional
        Where to predict.

    Returns
    -------
    dict
        ``flip_to``: share of the other classes' images *not* predicted ``label`` before that
        are predicted ``label`` once the artifact is added; ``acc_disagree``: accuracy on those
        images with the artifact (the artifact says ``label``, the digit says otherwise);
        ``acc_other_clean``: accuracy on the same images without it; ``flagged``.
    """
    if not isinstance(corruption, Corruption):
        raise TypeError(f"corruption must be a Corruption, got {type(corruption).__name__}.")
    threshold = check_probability(threshold, "threshold")
    targets = torch.as_tensor(dataset.targets)
    check_labels_present([label], targets, name="label")
    others = [int(k) for k in targets.unique().tolist() if k != label]
    if not others:
        raise ValueError(f"dataset holds only label {label}; the test needs other classes.")
    stamped = taint_dataset(dataset, dict.fromkeys(others, corruption))
    before = _predictions(model, dataset, batch_size, device)
    after = _predictions(model, stamped, batch_size, device)
    true = targets.numpy()
    other = true != label
    candidates = other & (before != label)
    flip_to = float((after[candidates] == label).mean()) if candidates.any() else float("nan")
    return {
        "flip_to": flip_to,
        "acc_disagree": float((after[other] == true[other]).mean()),
        "acc_other_clean": float((before[other] == true[other]).mean()),
        "flagged": bool(flip_to >= threshold),
    }


def explain_inputs(
    dataset: object, label: int, n: int = N_EXPLAIN
) -> tuple[torch.Tensor, torch.Tensor]:
    """Model inputs of the first ``n`` images of ``label`` that carry an artifact, and their index.

    Parameters
    ----------
    dataset : torchvision dataset
        A tainted dataset (``.tainted`` marks the changed images; without it, every image of
        ``label`` counts).
    label : int
        The class.
    n : int, default N_EXPLAIN
        At most this many images.

    Returns
    -------
    inputs : Tensor
        ``[n, 1, H, W]`` normalised as the dataset's transform would.
    index : Tensor
        Their positions in ``dataset``.
    """
    check_positive_int(n, "n")
    check_labels_present([label], torch.as_tensor(dataset.targets), name="label")
    index = _tainted_index(dataset, dataset, label)[:n]
    return classification_tensors(dataset)[0][index], index


def flag_rates(comparison: MethodComparison, factor: float = MASS_FACTOR) -> Table:
    """Per method, the share of images whose artifact mass exceeds ``factor`` times chance.

    On a model that exploits the artifact this is the method's detection rate; on a model
    trained on clean data, its false-alarm rate.
    """
    table = comparison.table
    flagged = table["artifact_mass"].to_numpy() > factor * table["chance"].to_numpy()
    rows = [
        {"method": method, "flagged": float(flagged[(table["method"] == method).to_numpy()].mean())}
        for method in comparison.maps
    ]
    return Table(rows)


def explain_local(
    model: nn.Module,
    clean_model: nn.Module,
    tainted_test: object,
    corruptions: Mapping[int, Corruption],
    labels: Sequence[int],
    *,
    methods: Sequence[str] | None = None,
    baselines: float | None = None,
    n_explain: int = N_EXPLAIN,
    progress: bool = True,
) -> tuple[Table, dict[int, MethodComparison], dict[int, MethodComparison]]:
    """Score every method on the tainted images of each label, for a tainted and a clean model.

    Parameters
    ----------
    model, clean_model : nn.Module
        Trained on tainted and on clean data.
    tainted_test : torchvision dataset
        Test images with the artifacts (``taint_dataset(test, corruptions)``).
    corruptions : mapping of int to Corruption
        The artifact of each label (its mask scores the maps).
    labels : sequence of int
        The labels to explain, usually those with a local artifact.
    methods : sequence of str, optional
        Default every method of ``METHODS``.
    baselines : float, optional
        Default :func:`black_baseline`.
    n_explain : int, default N_EXPLAIN
        Images per label.
    progress : bool, default True
        Show a progress bar over the labels.

    Returns
    -------
    rates : Table
        One row per label x method: ``mass`` and ``mass_clean`` (mean artifact mass on each
        model), ``detected`` and ``false_alarm`` (:func:`flag_rates` on each model).
    comparisons, clean_comparisons : dict of int to MethodComparison
        The maps and per-image scores, per label.
    """
    if baselines is None:
        baselines = black_baseline(tainted_test)
    comparisons, clean_comparisons, rows = {}, {}, []
    for label in tqdm(labels, desc="labels", disable=not progress, leave=False):
        inputs, _ = explain_inputs(tainted_test, label, n_explain)
        mask = corruptions[label].mask(*tainted_test.data.shape[-2:])
        kwargs = {"methods": methods, "baselines": baselines, "progress": False}
        comparisons[label] = compare_methods(model, inputs, label, mask, **kwargs)
        clean_comparisons[label] = compare_methods(clean_model, inputs, label, mask, **kwargs)
        mass = comparisons[label].summary()
        mass_clean = clean_comparisons[label].summary()
        detected = flag_rates(comparisons[label])
        false_alarm = flag_rates(clean_comparisons[label])
        for index, method in enumerate(comparisons[label].maps):
            rows.append(
                {
                    "label": int(label),
                    "method": method,
                    "mass": float(mass["artifact_mass"].iloc[index]),
                    "mass_clean": float(mass_clean["artifact_mass"].iloc[index]),
                    "detected": detected.rows[index]["flagged"],
                    "false_alarm": false_alarm.rows[index]["flagged"],
                }
            )
    return Table(rows), comparisons, clean_comparisons


def compare_models(
    models: Mapping[str, nn.Module],
    clean_test: object,
    tainted_test: object,
    corruptions: Mapping[int, Corruption],
    *,
    value: str = "drop",
) -> Table:
    """One row per model, one column per artifact: a column of :func:`shortcut_report`.

    Parameters
    ----------
    models : mapping of str to nn.Module
        Models to compare, by name.
    clean_test, tainted_test, corruptions
        As in :func:`shortcut_report`.
    value : str, default "drop"
        The report column to show, e.g. ``"drop"`` or ``"flip_added"``.
    """
    rows = []
    for name, net in models.items():
        report = shortcut_report(
            net, clean_test, tainted_test, corruptions, methods=(), progress=False
        )
        rows.append({"model": name, **{r["artifact"]: r[value] for r in report.rows}})
    return Table(rows)


def _tainted_index(clean: object, tainted: object, label: int) -> torch.Tensor:
    targets = torch.as_tensor(clean.targets)
    chosen = targets == label
    changed = getattr(tainted, "tainted", None)
    if changed is not None:
        chosen &= torch.as_tensor(changed)
    return torch.nonzero(chosen).flatten()


def _check_aligned(clean: object, tainted: object) -> None:
    for name, dataset in (("clean_test", clean), ("tainted_test", tainted)):
        if not hasattr(dataset, "data") or not hasattr(dataset, "targets"):
            raise TypeError(
                f"{name} must have .data and .targets like torchvision's MNIST, got "
                f"{type(dataset).__name__}."
            )
    if clean.data.shape != tainted.data.shape or not torch.equal(
        torch.as_tensor(clean.targets), torch.as_tensor(tainted.targets)
    ):
        raise ValueError(
            "tainted_test must be clean_test with artifacts added (same images in the same "
            "order, e.g. taint_dataset(clean_test, corruptions)); their shapes or labels differ."
        )


def shortcut_report(
    model: nn.Module,
    clean_test: object,
    tainted_test: object,
    corruptions: Mapping[int, Corruption],
    *,
    methods: Sequence[str] = ("integrated_gradients",),
    n_explain: int = 64,
    baselines: float | None = None,
    threshold: float = FLIP_THRESHOLD,
    batch_size: int = 1000,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> Table:
    """One row per tainted label: did the model take that shortcut, by behaviour and by maps?

    Parameters
    ----------
    model : nn.Module
        The classifier trained on tainted data.
    clean_test : torchvision dataset
        Clean test images.
    tainted_test : torchvision dataset
        The same images with the artifacts, ``taint_dataset(clean_test, corruptions)``.
    corruptions : mapping of int to Corruption
        The artifact planted on each label.
    methods : sequence of str, default ("integrated_gradients",)
        Attribution methods whose artifact mass goes in the table (keys of ``METHODS``).
    n_explain : int, default 64
        Tainted images per label to explain (the first ones); attributions cost far more than
        predictions.
    baselines : float, optional
        Reference input of the methods that take one; default :func:`black_baseline`.
    threshold : float, default FLIP_THRESHOLD
        Of the behavioural test.
    batch_size : int, default 1000
        Images per forward pass.
    device : str or torch.device, optional
        Where to predict.
    progress : bool, default True
        Show a progress bar over the labels.

    Returns
    -------
    Table
        Columns: ``label``, ``artifact``; ``acc_tainted`` and ``acc_clean`` (accuracy on that
        class's tainted images and on the same images without the artifact) and their
        difference ``drop``; ``exploited`` (``drop >= EXPLOIT_DROP``); ``flip_removed`` (share
        of the tainted images predicted ``label`` that change their prediction once the
        artifact is removed); ``flip_added``, ``acc_disagree`` and ``behaviour_flag`` from
        :func:`behavioural_test`; ``share`` (of the image the mask covers) and ``local``
        (``share <= LOCAL_SHARE``); ``mass_<method>`` for each method; ``ig_flag`` (IG's mass
        above ``MASS_FACTOR`` times the share; None for global artifacts or without IG).
    """
    _check_aligned(clean_test, tainted_test)
    for name in methods:
        check_choice(name, METHODS, "method")
    check_positive_int(n_explain, "n_explain")
    check_labels_present(corruptions.keys(), torch.as_tensor(clean_test.targets))
    if baselines is None:
        baselines = black_baseline(clean_test)
    clean_pred = _predictions(model, clean_test, batch_size, device)
    tainted_pred = _predictions(model, tainted_test, batch_size, device)
    inputs, _ = classification_tensors(tainted_test)
    rows = []
    for label, corruption in tqdm(
        sorted(corruptions.items()), desc="labels", disable=not progress, leave=False
    ):
        index = _tainted_index(clean_test, tainted_test, label).numpy()
        if len(index) == 0:
            raise ValueError(f"no image of label {label} carries an artifact in tainted_test.")
        acc_tainted = float((tainted_pred[index] == label).mean())
        acc_clean = float((clean_pred[index] == label).mean())
        followed = index[tainted_pred[index] == label]
        flip_removed = (
            float((clean_pred[followed] != label).mean()) if len(followed) else float("nan")
        )
        behaviour = behavioural_test(
            model,
            clean_test,
            corruption,
            label,
            threshold=threshold,
            batch_size=batch_size,
            device=device,
        )
        mask = corruption.mask(*clean_test.data.shape[-2:])
        share = float(chance_level(mask))
        row: dict[str, Any] = {
            "label": int(label),
            "artifact": type(corruption).__name__,
            "acc_tainted": acc_tainted,
            "acc_clean": acc_clean,
            "drop": acc_tainted - acc_clean,
            "exploited": acc_tainted - acc_clean >= EXPLOIT_DROP,
            "flip_removed": flip_removed,
            "flip_added": behaviour["flip_to"],
            "acc_disagree": behaviour["acc_disagree"],
            "behaviour_flag": behaviour["flagged"],
            "share": share,
            "local": share <= LOCAL_SHARE,
        }
        explained = torch.as_tensor(index[:n_explain])
        for name in methods:
            options = {"baselines": baselines} if accepts_baselines(name) else {}
            maps = attribute(model, inputs[explained], label, name, **options)
            row[f"mass_{name}"] = float(artifact_mass(maps, mask).mean())
        ig = row.get("mass_integrated_gradients")
        row["ig_flag"] = None if ig is None or not row["local"] else bool(ig > MASS_FACTOR * share)
        rows.append(row)
    return Table(rows)


def randomization_check(
    model: nn.Module,
    inputs: torch.Tensor,
    target: int | torch.Tensor,
    mask: torch.Tensor,
    *,
    methods: Sequence[str] | None = None,
    baselines: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Table:
    """Cascading model-parameter randomisation: how much do the maps change, layer by layer?

    The top layer is re-initialised first, then the next one down, until every layer is random
    (:func:`~failure_modes.explain.attribution.randomize_layers`). A map that still looks the same
    once the model knows nothing cannot be explaining what the model learned.

    Parameters
    ----------
    model : nn.Module
        The trained model (never changed).
    inputs : Tensor
        ``[N, C, H, W]`` model inputs to explain.
    target : int or Tensor
        The class to explain.
    mask : Tensor
        Boolean ``[H, W]`` mask of the artifact, for the artifact mass.
    methods : sequence of str, optional
        Default all of ``METHODS``.
    baselines : float, optional
        As in :func:`~failure_modes.explain.attribution.compare_methods`.
    seed : int, default 0
        Seeds the random weights.
    progress : bool, default True
        Show a progress bar over the steps.

    Returns
    -------
    Table
        One row per step x method: ``randomized`` (number of layers re-initialised, 0 for the
        trained model), ``layer`` (the last one re-initialised), ``method``, the mean
        ``rank_correlation`` and ``ssim`` with the trained model's maps, and the mean
        ``artifact_mass``.
    """
    layers = parameter_layers(model)
    kwargs = {"methods": methods, "baselines": baselines, "progress": False}
    trained = compare_methods(model, inputs, target, mask, **kwargs)
    rows = []
    for step in tqdm(range(len(layers) + 1), desc="randomise", disable=not progress, leave=False):
        result = (
            trained
            if step == 0
            else compare_methods(
                randomize_layers(model, step, seed), inputs, target, mask, **kwargs
            )
        )
        for name, maps in result.maps.items():
            rows.append(
                {
                    "randomized": step,
                    "layer": "-" if step == 0 else layers[step - 1],
                    "method": name,
                    "rank_correlation": float(rank_correlation(trained.maps[name], maps).mean()),
                    "ssim": float(structural_similarity(trained.maps[name], maps).mean()),
                    "artifact_mass": float(
                        result.table.loc[result.table["method"] == name, "artifact_mass"].mean()
                    ),
                }
            )
    return Table(rows)


_CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


def random_lightness(
    images: torch.Tensor, *, max_amplitude: float = 120.0, seed: int = 0
) -> torch.Tensor:
    """Augmentation: add a lightness ramp of random direction and strength to every image.

    Each image gets a :class:`~failure_modes.data.taint.Gradient` from a random corner with an
    amplitude drawn uniformly from ``[0, max_amplitude]``. Once every class carries random
    ramps, a ramp no longer tells one class from another, so a model cannot use one.

    Parameters
    ----------
    images : Tensor
        uint8 ``[N, H, W]``; never changed.
    max_amplitude : float, default 120
        Largest ramp added (0..255 scale).
    seed : int, default 0
        Seeds the random corners and strengths.

    Returns
    -------
    Tensor
        uint8 ``[N, H, W]``.
    """
    images = check_uint8_images(images)
    if not 0 < max_amplitude <= 255:
        raise ValueError(f"max_amplitude must lie in (0, 255], got {max_amplitude}.")
    generator = torch.Generator().manual_seed(seed)
    h, w = images.shape[-2:]
    ramps = torch.stack([Gradient(1.0, corner).ramp(h, w) for corner in _CORNERS])
    corner = torch.randint(len(_CORNERS), (len(images),), generator=generator)
    amplitude = torch.rand(len(images), generator=generator) * max_amplitude
    lighter = images.float() + amplitude[:, None, None] * ramps[corner]
    return lighter.round().clamp(0, 255).to(torch.uint8)


def augment(dataset: object, *, copies: int = 2, seed: int = 0, **options: Any):
    """Return a new dataset of ``copies`` differently augmented copies of ``dataset``.

    Training one epoch on ``copies`` stacked copies is training ``copies`` epochs with fresh
    augmentation each time, with plain tensors (no per-item transform).

    Parameters
    ----------
    dataset : torchvision dataset
        uint8 ``.data``, ``.targets``; never changed.
    copies : int, default 2
        How many augmented copies to stack.
    seed : int, default 0
        Copy ``k`` is augmented with seed ``seed + k``.
    **options
        Passed to :func:`random_lightness`.
    """
    check_positive_int(copies, "copies")
    images = torch.cat(
        [random_lightness(dataset.data, seed=seed + k, **options) for k in range(copies)]
    )
    targets = torch.as_tensor(dataset.targets).repeat(copies)
    return with_images(dataset, images, targets)


def sweep_watermark(alpha: float) -> Watermark:
    """The watermark of the visibility sweep: a copyright sign in the bottom-right corner.

    Smaller than the zoo's centred one, so it is a *local* artifact and its mask says
    something (it covers about a tenth of the image).
    """
    return Watermark(alpha=check_probability(alpha, "alpha"), size=12, row=16, col=16)


def visibility_sweep(
    train: object,
    test: object,
    label: int,
    alphas: Sequence[float],
    *,
    seed: int = 0,
    methods: Sequence[str] = ("integrated_gradients", "saliency", "guided_backprop"),
    n_explain: int = 64,
    fraction: float = 1.0,
    epochs: int = EPOCHS,
    clean_model: nn.Module | None = None,
    threshold: float = FLIP_THRESHOLD,
    progress: bool = True,
) -> Table:
    """Train one model per watermark opacity and ask whether behaviour and maps still detect it.

    For each ``alpha``, the images of ``label`` get :func:`sweep_watermark` (``alpha``) and a
    :class:`DenseModel` is trained (same seed each time). Behaviour: the accuracy drop on
    ``label`` when the mark is removed, and :func:`behavioural_test`. Attribution: the share of
    explained images whose artifact mass exceeds ``MASS_FACTOR`` times the mask's share, on the
    watermarked model (detection) and on a model trained on clean data (false alarm).

    Parameters
    ----------
    train, test : torchvision dataset
        Clean training and test data.
    label : int
        The class that carries the watermark.
    alphas : sequence of float
        Opacities in [0, 1].
    seed : int, default 0
        Seeds every model (identical initial weights and batch order).
    methods : sequence of str
        Attribution methods to score.
    n_explain : int, default 64
        Test images of ``label`` explained per model.
    fraction : float, default 1.0
        Share of ``label``'s training images that carry the watermark.
    epochs : int, default EPOCHS
        Training epochs per model.
    clean_model : nn.Module, optional
        A model trained on clean ``train``; trained here (with ``seed``) when None.
    threshold : float, default FLIP_THRESHOLD
        Of the behavioural test.
    progress : bool, default True
        Show a progress bar over the opacities.

    Returns
    -------
    Table
        One row per alpha x method: ``alpha``, ``drop``, ``exploited``, ``flip_added``,
        ``behaviour_flag``, ``method``, ``mass`` (mean artifact mass, watermarked model),
        ``detected`` (share of images flagged on it), ``mass_clean`` and ``false_alarm`` (the
        same on the clean model), ``share``.
    """
    for name in methods:
        check_choice(name, METHODS, "method")
    check_fraction(fraction, "fraction")
    check_positive_int(n_explain, "n_explain")
    check_labels_present([label], torch.as_tensor(test.targets), name="label")
    alphas = [check_probability(a, "alphas") for a in alphas]
    if clean_model is None:
        clean_model = train_dense(train, seed=seed, epochs=epochs, progress=False)
    baselines = black_baseline(test)
    rows = []
    for alpha in tqdm(alphas, desc="alpha", disable=not progress, leave=False):
        mark = sweep_watermark(alpha)
        model = train_dense(
            taint_dataset(train, {label: mark}, fraction=fraction, seed=seed),
            seed=seed,
            epochs=epochs,
            progress=False,
        )
        marked = taint_dataset(test, {label: mark})
        index = _tainted_index(test, marked, label)
        acc_marked = float((_predictions(model, marked, 1000, None)[index] == label).mean())
        acc_clean = float((_predictions(model, test, 1000, None)[index] == label).mean())
        behaviour = behavioural_test(model, test, mark, label, threshold=threshold)
        inputs = classification_tensors(marked)[0][index[:n_explain]]
        mask = mark.mask(*test.data.shape[-2:])
        share = float(chance_level(mask))
        for name in methods:
            options = {"baselines": baselines} if accepts_baselines(name) else {}
            mass = artifact_mass(attribute(model, inputs, label, name, **options), mask)
            mass_clean = artifact_mass(attribute(clean_model, inputs, label, name, **options), mask)
            rows.append(
                {
                    "alpha": alpha,
                    "drop": acc_marked - acc_clean,
                    "exploited": acc_marked - acc_clean >= EXPLOIT_DROP,
                    "flip_added": behaviour["flip_to"],
                    "behaviour_flag": behaviour["flagged"],
                    "method": name,
                    "mass": float(mass.mean()),
                    "detected": float((mass > MASS_FACTOR * share).float().mean()),
                    "mass_clean": float(mass_clean.mean()),
                    "false_alarm": float((mass_clean > MASS_FACTOR * share).float().mean()),
                    "share": share,
                }
            )
    return Table(rows)
