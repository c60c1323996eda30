"""The visibility sweep: fade a watermark until neither behaviour nor maps see that the model
uses it.

One model per opacity, trained from the same weights on the same batches; per opacity the
behavioural verdicts and, per attribution method, the detection rate on the watermarked model
beside the false-alarm rate on a clean one.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from failure_modes.data.taint import taint_dataset
from failure_modes.data.tensors import black_baseline, classification_tensors
from failure_modes.explain.attribution import (
    METHODS,
    accepts_baselines,
    artifact_mass,
    attribute,
    chance_level,
)
from failure_modes.models.evaluation import predict
from failure_modes.tracks.clever_hans.behaviour import (
    EXPLOIT_DROP,
    FLIP_THRESHOLD,
    behavioural_test,
)
from failure_modes.tracks.clever_hans.explanations import MASS_FACTOR
from failure_modes.tracks.clever_hans.zoo import sweep_watermark, tainted_index, train_dense
from failure_modes.utils.validation import (
    check_choice,
    check_dataset_arrays,
    check_fraction,
    check_index,
    check_labels_present,
    check_model,
    check_non_empty,
    check_not_none,
    check_positive_int,
    check_probability,
    check_seed,
)

__all__ = ["visibility_sweep"]


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
    epochs: int = 5,
    clean_model: nn.Module | None = None,
    threshold: float = FLIP_THRESHOLD,
    progress: bool = True,
) -> pd.DataFrame:
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
    epochs : int, default 5
        Training epochs per model.
    clean_model : nn.Module, optional
        A model trained on clean ``train``; trained here (with ``seed``) when None.
    threshold : float, default FLIP_THRESHOLD
        Of the behavioural test.
    progress : bool, default True
        Show a progress bar over the opacities.

    Returns
    -------
    pandas.DataFrame
        One row per alpha x method: ``alpha``, ``drop``, ``exploited``, ``flip_added``,
        ``behaviour_flag``, ``method``, ``mass`` (mean artifact mass, watermarked model),
        ``detected`` (share of images flagged on it), ``mass_clean`` and ``false_alarm`` (the
        same on the clean model), ``share``.
    """
    check_dataset_arrays(train, "train")
    check_dataset_arrays(test, "test")
    check_not_none(methods, "methods", "a sequence of method names")
    for name in methods:
        check_choice(name, METHODS, "methods")
    check_fraction(fraction, "fraction")
    check_positive_int(n_explain, "n_explain")
    check_positive_int(epochs, "epochs")
    check_probability(threshold, "threshold")
    check_seed(seed)
    if clean_model is not None:
        check_model(clean_model, "clean_model")
    label = check_index(label, "label")
    check_labels_present([label], torch.as_tensor(test.targets), name="label")
    check_not_none(alphas, "alphas", "a sequence of opacities in [0, 1]")
    check_non_empty(alphas, "alphas")
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
        index = tainted_index(test, marked, label)
        acc_marked = float((predict(model, marked)[0][index] == label).mean())
        acc_clean = float((predict(model, test)[0][index] == label).mean())
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
    return pd.DataFrame(rows)
