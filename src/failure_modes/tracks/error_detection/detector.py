"""The error detector and how to judge it: features in, a suspicion score out.

:func:`fit_detector` trains a scikit-learn pipeline (a ``StandardScaler`` fitted on the
detector's own training data, then a logistic regression or gradient-boosted trees) that
predicts from per-prediction features whether the model's answer is wrong.
:func:`compare_feature_sets` does so once per feature set; :func:`auroc`,
:func:`choose_threshold` and :func:`risk_coverage` say how well a score separates right from
wrong predictions and what cancelling the flagged ones buys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from failure_modes.utils.validation import (
    check_choice,
    check_finite,
    check_flags,
    check_non_empty,
    check_not_none,
    check_probability,
    check_seed,
)

__all__ = [
    "DETECTORS",
    "LOGISTIC_SETTINGS",
    "ErrorDetector",
    "fit_detector",
    "compare_feature_sets",
    "auroc",
    "choose_threshold",
    "risk_coverage",
    "risk_coverage_curve",
]

DETECTORS = {
    "logistic": "L2-penalised logistic regression (C=0.1) on standardised features",
    "boosting": "gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier)",
}
"""Known detector kinds for :func:`fit_detector`."""

LOGISTIC_SETTINGS = {"C": 0.1, "solver": "newton-cholesky", "tol": 1e-10, "max_iter": 100}
"""Arguments of the ``"logistic"`` detector's ``LogisticRegression``.

``C=0.1`` is a strong L2 penalty: a few hundred errors and ~100 features overfit a weak one.
The solver runs to the optimum. With scikit-learn's default (lbfgs, ``tol=1e-4``) it stopped
after 36 iterations, its probabilities up to 1.2e-2 from the exact optimum on the notebook's
"both" features (5,000 x 129, seed 0), which moved the test AUROC by 1e-4; lbfgs with
``tol=1e-8`` stalls 1.7e-6 away. Newton-Cholesky with ``tol=1e-10`` gets within 1e-12 of a
``tol=1e-14`` newton-cg fit in 9 iterations, for 75 ms per fit instead of 34 ms (median of 5
fits, one thread, 2-core CPU).
"""


def _as_errors(is_error: object, length: int | None = None) -> np.ndarray:
    return check_flags(is_error, "is_error", length)


def _as_features(features: object, name: str = "features") -> np.ndarray:
    check_not_none(features, name, "a numeric [N, D] array (or [N] scores)")
    array = np.asarray(features.cpu() if isinstance(features, torch.Tensor) else features)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be a numeric [N, D] array, got shape {array.shape}.")
    check_finite(torch.from_numpy(array.astype(np.float64)), name)
    return array.astype(np.float64)


@dataclass(frozen=True)
class ErrorDetector:
    """A trained detector: a scikit-learn pipeline that scores how likely a prediction is wrong.

    Attributes
    ----------
    kind : str
        A key of :data:`DETECTORS`.
    pipeline : sklearn.pipeline.Pipeline
        ``standardise`` (a fitted ``StandardScaler``), then ``classify``.
    """

    kind: str
    pipeline: Pipeline

    @property
    def mean(self) -> np.ndarray:
        """Per-feature mean of the detector's training data."""
        return self.pipeline.named_steps["standardise"].mean_

    @property
    def scale(self) -> np.ndarray:
        """Per-feature standard deviation of the training data (1 for a constant feature)."""
        return self.pipeline.named_steps["standardise"].scale_

    @property
    def classifier(self) -> LogisticRegression | HistGradientBoostingClassifier:
        """The fitted classifier, the pipeline's last step."""
        return self.pipeline.named_steps["classify"]

    def score(self, features: object) -> np.ndarray:
        """Probability that each prediction is wrong, ``[N]`` (higher: more suspicious).

        Raises
        ------
        ValueError
            For NaN or infinite features, or another number of columns than in training.
        """
        array = _as_features(features)
        if array.shape[1] != len(self.mean):
            raise ValueError(
                f"features must have {len(self.mean)} columns like the training data, got "
                f"{array.shape[1]}."
            )
        return self.pipeline.predict_proba(array)[:, 1]


def _pipeline(kind: str, seed: int | None) -> Pipeline:
    if kind == "logistic":
        classifier = LogisticRegression(**LOGISTIC_SETTINGS)
    else:
        classifier = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=seed
        )
    # StandardScaler gives a constant feature the scale 1: it carries nothing and stays finite.
    return Pipeline([("standardise", StandardScaler()), ("classify", classifier)])


def fit_detector(
    features: object,
    is_error: object,
    *,
    kind: str = "logistic",
    seed: int | None = None,
) -> ErrorDetector:
    """Train a detector that tells wrong predictions from right ones.

    Parameters
    ----------
    features : array-like
        ``[N, D]`` (or ``[N]``) features of N predictions, e.g. conductances and the label
        change rate side by side.
    is_error : array-like of bool
        ``[N]``: True where the model's prediction was wrong. Both kinds must occur.
    kind : {"logistic", "boosting"}, default "logistic"
        The classifier (see :data:`DETECTORS`); either way the features are first standardised
        with the mean and standard deviation of these training data.
    seed : int, optional
        Seed of the classifier's randomness (the boosted trees' early-stopping split), in
        0..2**32 - 1 (scikit-learn's ``random_state``); None draws a fresh one.

    Returns
    -------
    ErrorDetector
        Its ``score(features)`` is the probability of a wrong prediction.

    Raises
    ------
    ValueError
        For an unknown kind, NaN or infinite features, ``is_error`` of another length or not
        boolean, or without both right and wrong predictions.
    """
    check_seed(seed, "seed", optional=True, unsigned32=True)
    check_choice(kind, DETECTORS, "kind")
    array = _as_features(features)
    errors = _as_errors(is_error, len(array))
    if errors.all() or not errors.any():
        raise ValueError("is_error must contain both right and wrong predictions to learn from.")
    return ErrorDetector(kind, _pipeline(kind, seed).fit(array, errors))


def compare_feature_sets(
    train: Mapping[str, object],
    train_errors: object,
    test: Mapping[str, object],
    test_errors: object,
    sets: Mapping[str, Sequence[str]],
    *,
    kind: str = "logistic",
    seed: int | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Train one detector per feature set and measure each one's AUROC on held-out data.

    Parameters
    ----------
    train, test : mapping of str to array-like
        Named features (``[N]`` or ``[N, D]`` each) of the detector's training predictions and
        of the predictions it is judged on, with the same names.
    train_errors, test_errors : array-like of bool
        True where the model's prediction was wrong.
    sets : mapping of str to sequence of str
        Feature set name to the features it joins side by side, e.g.
        ``{"both": ["conductance", "lcr"]}``.
    kind, seed
        As in :func:`fit_detector`.

    Returns
    -------
    table : pandas.DataFrame
        Indexed by set name (``features``), in the order of ``sets``: ``columns`` (number of
        features) and ``auroc``.
    scores : dict of str to ndarray
        Each set's detector scores on ``test`` (for ROC curves and risk-coverage tables).
    """
    check_not_none(train, "train", "a dict {feature name: [N] or [N, D] features}")
    check_not_none(test, "test", "a dict {feature name: [N] or [N, D] features}")
    rows, scores = [], {}
    for name, members in sets.items():
        if isinstance(members, str) or not members:
            raise ValueError(f"set {name!r} must list feature names, got {members!r}.")
        missing = [m for m in members if m not in train or m not in test]
        if missing:
            raise ValueError(
                f"set {name!r} uses {missing}, not present in both train and test; known "
                f"features are {sorted(set(train) & set(test))}."
            )
        x_train = np.hstack([_as_features(train[m], f"train[{m!r}]") for m in members])
        x_test = np.hstack([_as_features(test[m], f"test[{m!r}]") for m in members])
        check_flags(train_errors, "train_errors", len(x_train))
        check_flags(test_errors, "test_errors", len(x_test))
        detector = fit_detector(x_train, train_errors, kind=kind, seed=seed)
        scores[name] = detector.score(x_test)
        rows.append(
            {
                "features": name,
                "columns": x_train.shape[1],
                "auroc": auroc(scores[name], test_errors),
            }
        )
    return pd.DataFrame(rows).set_index("features"), scores


def auroc(scores: object, is_error: object) -> float:
    """Area under the ROC curve of ``scores`` for finding the wrong predictions.

    1 means every wrong prediction scores higher than every right one; 0.5 is chance.
    """

    scores = _as_features(scores, "scores")
    if scores.shape[1] != 1:
        raise ValueError(f"scores must be one number per prediction, got shape {scores.shape}.")
    errors = _as_errors(is_error, len(scores))
    if errors.all() or not errors.any():
        raise ValueError(
            "AUROC needs both right and wrong predictions; is_error has only one kind."
        )
    return float(roc_auc_score(errors, scores[:, 0]))


def choose_threshold(scores: object, is_error: object) -> float:
    """The score above which a prediction is cancelled, chosen on validation data.

    Takes the threshold that maximises Youden's J (share of errors caught minus share of right
    predictions cancelled): it weighs a missed error and a wrongly cancelled prediction by how
    rare each kind is.

    Returns
    -------
    float
        Cancel a prediction when its score is at least this value.
    """

    scores = _as_features(scores, "scores")[:, 0]
    errors = _as_errors(is_error, len(scores))
    if errors.all() or not errors.any():
        raise ValueError("choosing a threshold needs both right and wrong predictions.")
    fpr, tpr, thresholds = roc_curve(errors, scores)
    best = int(np.argmax(tpr - fpr))
    return float(min(thresholds[best], np.max(scores)))


def risk_coverage(
    scores: object,
    is_error: object,
    cancelled: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5),
) -> pd.DataFrame:
    """Accuracy of the kept predictions when the most suspicious ones are cancelled.

    Parameters
    ----------
    scores : array-like
        ``[N]`` suspicion scores (higher: more likely wrong).
    is_error : array-like of bool
        ``[N]`` True where the prediction is wrong.
    cancelled : sequence of float, default (0, 0.05, ..., 0.5)
        Shares of predictions to cancel, each in [0, 1); at least one.

    Returns
    -------
    pandas.DataFrame
        Indexed by the share ``cancelled``, in the order given: ``coverage`` (share kept),
        ``kept_accuracy`` and ``errors_caught`` (share of all wrong predictions among the
        cancelled ones). ``table.loc[0.2, "kept_accuracy"]`` reads one number.
    """
    check_non_empty(check_not_none(scores, "scores", "[N] suspicion scores"), "scores")
    check_not_none(cancelled, "cancelled", "shares of predictions to cancel, each in [0, 1)")
    check_non_empty(cancelled, "cancelled")
    scores = _as_features(scores, "scores")[:, 0]
    errors = _as_errors(is_error, len(scores))
    # Most suspicious first; ties keep the data order, so the table is deterministic.
    order = np.argsort(-scores, kind="stable")
    rows = []
    for share in cancelled:
        share = check_probability(share, "cancelled")
        if share >= 1:
            raise ValueError("cancelled shares must be below 1: something must be kept.")
        dropped = int(math.floor(share * len(scores) + 0.5))
        kept = errors[order[dropped:]]
        rows.append(
            {
                "cancelled": share,
                "coverage": len(kept) / len(scores),
                "kept_accuracy": float(1 - kept.mean()),
                "errors_caught": float(errors[order[:dropped]].sum() / max(errors.sum(), 1)),
            }
        )
    return pd.DataFrame(rows).set_index("cancelled")


def risk_coverage_curve(confidence: object, is_error: object) -> tuple[np.ndarray, np.ndarray]:
    """Risk and coverage when only the ``k`` most confident predictions are kept, for every ``k``.

    Parameters
    ----------
    confidence : array-like
        ``[N]`` how much each prediction is trusted (higher: more likely right).
    is_error : array-like of bool
        ``[N]`` True where the prediction is wrong.

    Returns
    -------
    coverage, risk : ndarray
        ``[N]`` each: for ``k = 1 .. N`` kept, the share kept ``k / N`` and the error rate
        among the kept ones. Ties keep the data order.
    """
    confidence = _as_features(confidence, "confidence")[:, 0]
    errors = _as_errors(is_error, len(confidence))
    order = np.argsort(-confidence, kind="stable")
    kept = np.arange(1, len(confidence) + 1)
    return kept / len(confidence), np.cumsum(errors[order]) / kept
