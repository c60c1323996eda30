"""Checkers for the coding tasks of the error-detection notebook (``advanced/error_detection``).

Each checker runs the student's answer on a small probe built here, where every typical mistake
gives a different result, and, where it is cheap, on the notebook's own tensors; it returns what
the notebook goes on with (see :mod:`failure_modes.course.checks`): the student's function or
tensor when it is correct, else the library's own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
from torch import nn

from failure_modes.course.checks.feedback import call, check, first_mistake, tensor_mismatch
from failure_modes.tracks import error_detection as library

__all__ = [
    "change_rate",
    "logit_rise",
    "negated_copy",
    "ranking_auroc",
    "reference_detector",
    "risk_coverage_curve",
    "standardised_detector",
]

# Task 2.1's probe: three wrong and four right predictions, with ties inside and across groups,
# so that counting ties as wins, as losses or as halves gives three different areas.
PROBE_SCORES = torch.tensor([0.8, 0.4, 0.4, 0.1, 0.4, 0.9, 0.6])
PROBE_WRONG = torch.tensor([True, True, False, False, False, False, True])
# Task 6.1's probe: distinct confidences, so every way of sorting gives one answer.
CURVE_CONFIDENCE = torch.tensor([0.9, 0.2, 0.6, 0.99, 0.4, 0.7, 0.3])
CURVE_WRONG = torch.tensor([False, True, False, False, True, True, False])


def _as_float(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().reshape(()).item()
    return float(value)


def _pair_shares(scores: torch.Tensor, wrong: torch.Tensor) -> tuple[float, float, float]:
    """Shares of (wrong, right) pairs where the wrong one scores higher, the same, lower."""
    difference = scores[wrong][:, None] - scores[~wrong][None, :]
    pairs = difference.numel()
    return tuple(
        float(part.sum()) / pairs for part in (difference > 0, difference == 0, difference < 0)
    )


# Task 2.1: AUROC by ranking ----------------------------------------------------------------


def _diagnose_auroc(function: Callable, scores: torch.Tensor, wrong: torch.Tensor) -> str | None:
    higher, tied, lower = _pair_shares(PROBE_SCORES, PROBE_WRONG)
    expected = higher + tied / 2
    got = _as_float(call(function, PROBE_SCORES.clone(), PROBE_WRONG.clone()))
    mistake = first_mistake(
        got,
        [
            (
                lambda a: np.isclose(a, higher + tied),
                f"tied pairs count as wins in your area ({got:.3f} instead of {expected:.3f} on "
                "a test input): a tie between a wrong and a right prediction counts one half.",
            ),
            (
                lambda a: np.isclose(a, higher),
                f"tied pairs count as losses in your area ({got:.3f} instead of {expected:.3f} on "
                "a test input): a tie between a wrong and a right prediction counts one half.",
            ),
            (
                lambda a: np.isclose(a, 1 - expected),
                f"you get 1 − AUROC ({got:.3f} instead of {expected:.3f} on a test input): either "
                "the labels are swapped (the positives are the *wrong* predictions) or the "
                "ranking goes the wrong way (a wrong prediction should score *higher*).",
            ),
            (
                lambda a: not np.isclose(a, expected),
                f"on a test input your area is {got:.3f}, but the share of (wrong, right) pairs "
                f"where the wrong one scores higher, ties counting half, is {expected:.3f}.",
            ),
        ],
    )
    if mistake is not None:
        return mistake
    got = _as_float(call(function, scores.clone(), wrong.clone()))
    reference = roc_auc_score(wrong.numpy(), scores.double().numpy())
    # A float32 answer is as good as its precision allows.
    if not np.isclose(got, reference, rtol=0, atol=1e-6):
        return f"on the test set your area is {got:.6f}, scikit-learn's {reference:.6f}."
    return None


def ranking_auroc(function: Callable, scores: torch.Tensor, is_error: torch.Tensor) -> Callable:
    """Check Task 2.1: the AUROC as the share of (wrong, right) pairs ranked right, ties half.

    Parameters
    ----------
    function : callable
        The student's ``ranking_auroc(scores, is_error) -> float``.
    scores : Tensor
        ``[N]`` suspicion scores of the notebook (``1 - confidence``), compared with
        scikit-learn's ``roc_auc_score`` once the probe passes.
    is_error : Tensor
        ``[N]`` booleans, True where the prediction is wrong.

    Returns
    -------
    callable
        ``function`` if it is correct, else the library's
        :func:`~failure_modes.tracks.error_detection.auroc`.
    """
    return check("2.1", function, lambda f: _diagnose_auroc(f, scores, is_error), library.auroc)


# Task 3.1: what the conductances add up to --------------------------------------------------


def _diagnose_rise(
    answer: Any, logits: torch.Tensor, baseline: torch.Tensor, labels: torch.Tensor
) -> str | None:
    expected = library.logit_rise(logits, baseline)
    rows = torch.arange(len(logits))
    predicted = logits.argmax(dim=1)
    probabilities, baseline_probabilities = logits.softmax(dim=1), baseline.softmax(dim=1)
    mistake = first_mistake(
        answer,
        [
            (
                lambda a: a.shape == logits.shape,
                f"`expected` has shape {list(logits.shape)}, one value per class: keep only the "
                "predicted class's logit of each image (`logits_test[rows, predicted]`).",
            ),
            (
                lambda a: torch.allclose(a, logits[rows, predicted], atol=1e-5),
                "`expected` is the predicted logit itself: the conductances add up to its *rise* "
                "from the baseline, so subtract the same class's logit at the baseline.",
            ),
            (
                lambda a: torch.allclose(a, logits[rows, labels] - baseline[0, labels], atol=1e-5),
                "you used the true label's logit: the conductance follows the *predicted* class "
                "(`logits_test.argmax(dim=1)`), right or wrong.",
            ),
            (
                lambda a: torch.allclose(a, -expected, atol=1e-5),
                "`expected` has the wrong sign: the logit of the image minus the logit at the "
                "baseline, not the other way round.",
            ),
            (
                lambda a: torch.allclose(
                    a,
                    probabilities[rows, predicted] - baseline_probabilities[0, predicted],
                    atol=1e-5,
                ),
                "you used softmax probabilities: the conductances add up to a change of the "
                "*logit*, the model's output before the softmax.",
            ),
        ],
    )
    return mistake or tensor_mismatch(answer, expected, "expected", atol=1e-5, rtol=1e-5)


def logit_rise(
    expected: Any, logits: torch.Tensor, baseline_logits: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Check Task 3.1: per image, the predicted logit minus the same logit at the baseline.

    Parameters
    ----------
    expected : Tensor
        The student's ``[N]`` answer.
    logits : Tensor
        ``[N, classes]`` logits of the images.
    baseline_logits : Tensor
        ``[1, classes]`` logits of the baseline input.
    labels : Tensor
        ``[N]`` true labels (to recognise an answer that follows them instead).

    Returns
    -------
    Tensor
        ``expected`` if it is correct, else the library's
        :func:`~failure_modes.tracks.error_detection.logit_rise`.
    """
    return check(
        "3.1",
        expected,
        lambda a: _diagnose_rise(a, logits, baseline_logits, labels),
        library.logit_rise(logits, baseline_logits),
    )


# Task 4.1: one NAI mutant by hand -----------------------------------------------------------


def _changed(before: nn.Module, after: nn.Module) -> list[str]:
    theirs = dict(after.named_parameters())
    return [
        name
        for name, value in before.named_parameters()
        if name not in theirs or not torch.equal(value, theirs[name])
    ]


def _diagnose_negation(
    function: Callable, model: nn.Module, layer: str, units: torch.Tensor
) -> str | None:
    probe = copy.deepcopy(model)
    mutant = call(function, probe, layer, units.clone())
    if mutant is probe or _changed(model, probe):
        return (
            "your function changed the model it was given: copy it first "
            "(`copy.deepcopy(model)`) and negate the units of the copy."
        )
    if not isinstance(mutant, nn.Module):
        return f"your function should return a network, but it returned a {type(mutant).__name__}."
    expected = library.negated_copy(model, layer, units)
    wanted = {f"{layer}.weight", f"{layer}.bias"}
    original = model.get_submodule(layer)
    theirs = mutant.get_submodule(layer)
    mistake = first_mistake(
        mutant,
        [
            (
                lambda m: set(_changed(model, m)) - wanted,
                f"you changed {sorted(set(_changed(model, mutant)) - wanted)}: only the layer "
                f"`{layer}` (its weight and bias) should differ from the model.",
            ),
            (
                lambda m: torch.equal(theirs.weight, -original.weight),
                f"you negated all {original.weight.shape[0]} units of `{layer}`: negate only the "
                "rows `units` of its weight (and those entries of its bias).",
            ),
            (
                lambda m: (theirs.weight[units] == 0).all(),
                "the chosen units are zeroed: an NAI mutant *negates* them (multiply by -1), "
                "so their activation flips sign instead of vanishing.",
            ),
            (
                lambda m: (
                    torch.equal(theirs.weight, expected.get_submodule(layer).weight)
                    and torch.equal(theirs.bias, original.bias)
                ),
                "the weights are negated but the bias is not: negate both, so that the unit's "
                "whole pre-activation flips sign.",
            ),
            (
                lambda m: _changed(expected, m),
                f"the network differs from a copy with units {units.tolist()} of `{layer}` "
                f"negated in {_changed(expected, mutant)}.",
            ),
        ],
    )
    return mistake


def negated_copy(function: Callable, model: nn.Module, layer: str, units: torch.Tensor) -> Callable:
    """Check Task 4.1: a copy of ``model`` whose output ``units`` of ``layer`` are negated.

    The student's function runs on a deep copy of ``model``, so ``model`` stays as it is even
    when the function changes what it is given.

    Parameters
    ----------
    function : callable
        The student's ``negated_copy(model, layer, units) -> nn.Module``.
    model : nn.Module
        The notebook's model.
    layer : str
        Name of a Linear or Conv2d layer of ``model``.
    units : Tensor
        Indices of the units (rows of the weight) to negate.

    Returns
    -------
    callable
        ``function`` if it is correct, else the library's
        :func:`~failure_modes.tracks.error_detection.negated_copy`.
    """
    return check(
        "4.1",
        function,
        lambda f: _diagnose_negation(f, model, layer, torch.as_tensor(units).long()),
        library.negated_copy,
    )


# Task 4.2: the label change rate from predictions --------------------------------------------


def _diagnose_rate(
    function: Callable, original: torch.Tensor, mutated: torch.Tensor, labels: torch.Tensor
) -> str | None:
    answer = call(function, original.clone(), mutated.clone())
    expected = library.change_rate(original, mutated)
    if not isinstance(answer, torch.Tensor):
        return f"your function should return a tensor, but it returned a {type(answer).__name__}."
    mistake = first_mistake(
        answer,
        [
            (
                lambda a: a.shape == (len(mutated),),
                f"you get one number per mutant (shape {list(answer.shape)}): the LCR is one "
                "number per *image*, the mean over the mutants (dim=0).",
            ),
            (
                lambda a: torch.allclose(a.double(), (mutated != labels).double().mean(dim=0)),
                "you compared the mutants with the true labels: the LCR counts mutants that "
                "disagree with the *original model's* prediction, right or wrong.",
            ),
            (
                lambda a: torch.allclose(a.double(), (mutated != original).double().sum(dim=0)),
                f"you return counts (up to {len(mutated)}): divide by the number of mutants to "
                "get a rate in [0, 1].",
            ),
        ],
    )
    return mistake or tensor_mismatch(answer.float(), expected, "the LCR", atol=1e-6)


def change_rate(
    function: Callable, original: torch.Tensor, mutated: torch.Tensor, labels: torch.Tensor
) -> Callable:
    """Check Task 4.2: per image, the share of mutants whose prediction differs from the model's.

    Parameters
    ----------
    function : callable
        The student's ``change_rate(original, mutated) -> Tensor``.
    original : Tensor
        ``[N]`` classes predicted by the model.
    mutated : Tensor
        ``[M, N]`` classes predicted by the mutants.
    labels : Tensor
        ``[N]`` true labels (to recognise an answer that compares with them).

    Returns
    -------
    callable
        ``function`` if it is correct, else the library's
        :func:`~failure_modes.tracks.error_detection.change_rate`.
    """
    return check(
        "4.2",
        function,
        lambda f: _diagnose_rate(f, original, mutated, labels),
        library.change_rate,
    )


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
