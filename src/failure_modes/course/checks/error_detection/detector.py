"""Checkers of the tasks on the detector: the standardised logistic detector (Task 5.1) and the
risk-coverage curve of what cancelling its flagged predictions buys (6.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from failure_modes.course.checks.feedback import call, check, first_mistake
from failure_modes.tracks import error_detection as library

__all__ = ["reference_detector", "risk_coverage_curve", "standardised_detector"]

# Task 6.1's probe: distinct confidences, so every way of sorting gives one answer.
CURVE_CONFIDENCE = torch.tensor([0.9, 0.2, 0.6, 0.99, 0.4, 0.7, 0.3])
CURVE_WRONG = torch.tensor([False, True, False, False, True, True, False])


# Task 5.1: the standardised logistic detector ------------------------------------------------


def _detector_probe() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train and test features on very different scales, the test set shifted and rescaled.

    Scaling fitted on the test set, on train and test together or not at all, and a weaker
    penalty each give scores visibly different from the right ones (checked in the tests).
    """
    generator = np.random.default_rng(0)
    scale, offset = np.array([50.0, 1.0, 0.02]), np.array([10.0, 0.0, -3.0])
    latent = generator.normal(size=(300, 3))
    odds = latent @ np.array([1.5, -1.0, 2.0]) - 1.0
    wrong = generator.random(300) < 1 / (1 + np.exp(-odds))
    test = generator.normal(size=(200, 3)) * np.array([2.0, 0.5, 3.0]) + np.array([1.0, -0.5, 0.5])
    return latent * scale + offset, wrong, test * scale + offset


DETECTOR_TRAIN, DETECTOR_WRONG, DETECTOR_TEST = _detector_probe()


def _logistic(train: np.ndarray, wrong: np.ndarray, test: np.ndarray, **settings) -> np.ndarray:
    """P(wrong) of a LogisticRegression fitted on ``train`` and applied to ``test`` as given."""
    classifier = LogisticRegression(**{**library.LOGISTIC_SETTINGS, **settings})
    return classifier.fit(train, wrong).predict_proba(test)[:, 1]


def _standardised(fit_on: np.ndarray, train: np.ndarray, wrong: np.ndarray, test: np.ndarray):
    scaler = StandardScaler().fit(fit_on)
    return _logistic(scaler.transform(train), wrong, scaler.transform(test))


def _as_scores(answer: Any, length: int) -> np.ndarray | str:
    if isinstance(answer, torch.Tensor):
        answer = answer.detach().cpu().numpy()
    answer = np.asarray(answer, dtype=np.float64)
    if answer.ndim == 2 and answer.shape[1:] == (2,):
        return (
            f"your function returns both columns of predict_proba (shape {list(answer.shape)}): "
            "keep column 1, the probability of the class True (a wrong prediction)."
        )
    if answer.shape != (length,):
        return (
            f"your function should return one score per test row, shape [{length}], but it "
            f"returned shape {list(answer.shape)}."
        )
    return answer


# How close to the reference optimum a right answer comes (the same convex problem: any solver
# run to a tight tolerance lands here), and how far one stopped early can be.
_SAME_OPTIMUM, _STOPPED_EARLY = 1e-5, 2e-2


def _diagnose_detector(
    function: Callable,
    train: np.ndarray,
    wrong: np.ndarray,
    test: np.ndarray,
    reference: np.ndarray,
) -> str | None:
    probe = (DETECTOR_TRAIN.copy(), DETECTOR_WRONG.copy(), DETECTOR_TEST.copy())
    answer = _as_scores(call(function, *probe), len(DETECTOR_TEST))
    if isinstance(answer, str):
        return answer
    if not np.array_equal(probe[0], DETECTOR_TRAIN) or not np.array_equal(probe[2], DETECTOR_TEST):
        return (
            "your function changed the features it was given: let the pipeline standardise "
            "copies (StandardScaler.transform returns new arrays) and leave the inputs alone."
        )
    expected = library.fit_detector(DETECTOR_TRAIN, DETECTOR_WRONG).score(DETECTOR_TEST)

    def near(other: np.ndarray, tolerance: float = 1e-3) -> Callable[[np.ndarray], bool]:
        return lambda a: np.abs(a - other).max() < tolerance

    gap = float(np.abs(answer - expected).max())
    mistake = first_mistake(
        answer,
        [
            (
                lambda a: np.isin(a, (0.0, 1.0)).all(),
                "your scores are only 0 and 1: predict gives the detector's yes/no decision at "
                "a threshold of 0.5, which ranks all 'yes' answers alike; the AUROC needs the "
                "probability, predict_proba(test_features)[:, 1].",
            ),
            (
                near(1 - expected),
                "your scores are the probability of a *right* prediction (1 minus the expected "
                "one): a high score must mean 'likely wrong', so fit on train_wrong as it is and "
                "take column 1 of predict_proba (the class True).",
            ),
            (
                near(_standardised(DETECTOR_TEST, *probe)),
                "the test features are standardised with their own mean and spread: that "
                "leaks the test set into the detector and moves every test score; fit the "
                "scaler on the training features only and reuse it (a Pipeline does that).",
            ),
            (
                near(_standardised(np.vstack([DETECTOR_TRAIN, DETECTOR_TEST]), *probe)),
                "the scaler has seen the test features (fitted on train and test together): "
                "that leaks the test set into the detector; fit it on the training features "
                "only.",
            ),
            (
                near(_logistic(*probe)),
                "the features are not standardised: the L2 penalty then punishes the weights "
                "of features on a small scale far more than those on a large one; put a "
                "StandardScaler before the LogisticRegression.",
            ),
            (
                near(_default_penalty()),
                "your LogisticRegression uses scikit-learn's default C=1.0: pass the library's "
                "settings, LogisticRegression(**LOGISTIC_SETTINGS), i.e. C=0.1.",
            ),
            (
                lambda a: _SAME_OPTIMUM <= gap < _STOPPED_EARLY,
                f"your probabilities differ from the optimum by up to {gap:.1e}: the solver "
                "stopped early (scikit-learn's default tol=1e-4); pass "
                "LogisticRegression(**LOGISTIC_SETTINGS), whose tol reaches the optimum.",
            ),
            (
                lambda a: gap >= _SAME_OPTIMUM,
                f"on a test input your scores differ from a StandardScaler + LogisticRegression("
                f"**LOGISTIC_SETTINGS) pipeline fitted on the training features by up to {gap:.3f}.",
            ),
        ],
    )
    if mistake is not None or train is None:
        return mistake
    mine = _as_scores(call(function, train.copy(), wrong.copy(), test.copy()), len(test))
    if isinstance(mine, str):
        return mine
    gap = float(np.abs(mine - reference).max())
    if gap >= _SAME_OPTIMUM:
        return (
            f"on the notebook's features your probabilities differ from the library's detector "
            f"by up to {gap:.1e}; pass LogisticRegression(**LOGISTIC_SETTINGS) so that the "
            "solver reaches the optimum."
        )
    return None


def _default_penalty() -> np.ndarray:
    scaler = StandardScaler().fit(DETECTOR_TRAIN)
    return _logistic(
        scaler.transform(DETECTOR_TRAIN), DETECTOR_WRONG, scaler.transform(DETECTOR_TEST), C=1.0
    )


def standardised_detector(
    function: Callable,
    train_features: object = None,
    train_wrong: object = None,
    test_features: object = None,
    reference: object = None,
) -> Callable:
    """Check Task 5.1: StandardScaler + LogisticRegression fitted on the training features.

    The function runs on a small probe built here first (features on very different scales, a
    test set shifted against the training set), where fitting the scaler on the test set,
    skipping it, flipping the class, using ``predict`` and stopping the solver early each give
    different scores; then, if given, on the notebook's own features, against ``reference``.

    Parameters
    ----------
    function : callable
        The student's ``standardised_detector(train_features, train_wrong, test_features)``
        returning ``[M]`` probabilities that each test prediction is wrong.
    train_features, train_wrong, test_features : array-like, optional
        The notebook's ``[N, D]`` training features, ``[N]`` error flags, ``[M, D]`` test
        features.
    reference : array-like, optional
        ``[M]`` scores of the library's detector on ``test_features``.

    Returns
    -------
    callable
        ``function`` if it is correct, else :func:`reference_detector`, the library's own.
    """
    given = [train_features, train_wrong, test_features, reference]
    if any(value is None for value in given) and not all(value is None for value in given):
        raise ValueError(
            "pass all of train_features, train_wrong, test_features and reference, or none."
        )
    arrays = [None if v is None else np.asarray(torch.as_tensor(v).cpu()) for v in given]
    return check(
        "5.1",
        function,
        lambda f: _diagnose_detector(f, *arrays),
        reference_detector,
    )


def reference_detector(
    train_features: object, train_wrong: object, test_features: object
) -> np.ndarray:
    """The library's answer to Task 5.1: :func:`~failure_modes.tracks.error_detection.fit_detector`
    on the training features, scored on the test features."""
    return library.fit_detector(train_features, train_wrong).score(test_features)


# Task 6.1: the risk-coverage curve ----------------------------------------------------------


def _as_numpy(value: Any) -> np.ndarray:
    return np.asarray(torch.as_tensor(value).detach().double().cpu())


def _diagnose_curve(function: Callable) -> str | None:
    answer = call(function, CURVE_CONFIDENCE.clone(), CURVE_WRONG.clone())
    coverage, risk = (_as_numpy(part) for part in answer)
    expected_coverage, expected_risk = library.risk_coverage_curve(CURVE_CONFIDENCE, CURVE_WRONG)
    n = len(CURVE_WRONG)
    errors = CURVE_WRONG.numpy()
    ascending = np.cumsum(errors[np.argsort(CURVE_CONFIDENCE.numpy())])
    descending = np.cumsum(errors[np.argsort(-CURVE_CONFIDENCE.numpy())])
    if risk.shape != (n,) or coverage.shape != (n,):
        return (
            f"on a test input of {n} predictions, coverage and risk should have {n} values each "
            f"(k = 1 .. {n} kept), but they have shapes {list(coverage.shape)} and "
            f"{list(risk.shape)}."
        )
    mistake = first_mistake(
        (coverage, risk),
        [
            (
                lambda a: np.allclose(a[1], ascending / np.arange(1, n + 1)),
                "you keep the *least* confident predictions first (sorted ascending): sort by "
                "confidence in descending order, so the kept ones are the most confident.",
            ),
            (
                lambda a: np.allclose(a[1], descending / n) or np.allclose(a[1], errors.mean()),
                "your risk divides by all images: it is the error rate among the *kept* ones, "
                "errors among the first k divided by k.",
            ),
            (
                lambda a: (
                    np.allclose(a[0], np.arange(n) / n)
                    or np.allclose(a[0], np.arange(2, n + 2) / n)
                ),
                f"your coverage is off by one: with k predictions kept it is k / N, from 1/{n} "
                "to 1.",
            ),
            (
                lambda a: not np.allclose(a[1], expected_risk),
                f"on a test input the risk should be {np.round(expected_risk, 3).tolist()}, but "
                f"yours is {np.round(risk, 3).tolist()}.",
            ),
            (
                lambda a: not np.allclose(a[0], expected_coverage),
                f"on a test input the coverage should be {np.round(expected_coverage, 3).tolist()}"
                f", but yours is {np.round(coverage, 3).tolist()}.",
            ),
        ],
    )
    return mistake


def risk_coverage_curve(function: Callable) -> Callable:
    """Check Task 6.1: coverage and risk when the ``k`` most confident predictions are kept.

    Parameters
    ----------
    function : callable
        The student's ``risk_coverage_curve(confidence, is_error) -> (coverage, risk)``.

    Returns
    -------
    callable
        ``function`` if it is correct, else the library's
        :func:`~failure_modes.tracks.error_detection.risk_coverage_curve`.
    """
    return check("6.1", function, _diagnose_curve, library.risk_coverage_curve)
