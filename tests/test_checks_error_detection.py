"""The error-detection notebook's task checkers: right answers pass, each mistake is named."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from failure_modes.course.checks import error_detection as checks
from failure_modes.tracks import error_detection as library

# Task 2.1 ------------------------------------------------------------------------------------


def _ranking(scores, wrong, tie=0.5, flip=False):
    difference = scores[wrong][:, None] - scores[~wrong][None, :]
    area = ((difference > 0).double() + tie * (difference == 0).double()).mean().item()
    return 1 - area if flip else area


SCORES = torch.tensor([0.3, 0.3, 0.9, 0.1, 0.5, 0.5, 0.7, 0.2])
WRONG = torch.tensor([True, False, True, False, False, True, False, False])


def test_a_ranking_auroc_passes(capsys):
    assert checks.ranking_auroc(_ranking, SCORES, WRONG) is _ranking
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda s, w: _ranking(s, w, tie=1.0), "tied pairs count as wins"),
        (lambda s, w: _ranking(s, w, tie=0.0), "tied pairs count as losses"),
        (lambda s, w: _ranking(s, w, flip=True), "1 − AUROC"),
        (lambda s, w: _ranking(s, ~w), "1 − AUROC"),
        (lambda s, w: 0.5, "on a test input your area is 0.500"),
    ],
)
def test_each_auroc_mistake_is_named(capsys, answer, phrase):
    assert checks.ranking_auroc(answer, SCORES, WRONG) is library.auroc
    assert phrase in capsys.readouterr().out


def test_an_untouched_auroc_is_not_done(capsys):
    assert checks.ranking_auroc(lambda s, w: ..., SCORES, WRONG) is library.auroc
    assert "not done" in capsys.readouterr().out


# Task 3.1 ------------------------------------------------------------------------------------

LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.3, 3.0], [1.0, 4.0, 0.0], [0.2, 0.1, 0.0]])
BASELINE = torch.tensor([[0.5, -0.2, 0.3]])
LABELS = torch.tensor([0, 1, 1, 2])
ROWS = torch.arange(4)
PREDICTED = LOGITS.argmax(dim=1)


def test_the_logit_rise_passes(capsys):
    answer = LOGITS[ROWS, PREDICTED] - BASELINE[0, PREDICTED]
    assert checks.logit_rise(answer, LOGITS, BASELINE, LABELS) is answer
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (LOGITS - BASELINE, "one value per class"),
        (LOGITS[ROWS, PREDICTED], "subtract the same class's logit at the baseline"),
        (LOGITS[ROWS, LABELS] - BASELINE[0, LABELS], "true label's logit"),
        (BASELINE[0, PREDICTED] - LOGITS[ROWS, PREDICTED], "wrong sign"),
        (
            LOGITS.softmax(1)[ROWS, PREDICTED] - BASELINE.softmax(1)[0, PREDICTED],
            "softmax probabilities",
        ),
        (torch.zeros(4), "differs from the reference in 4 of 4"),
    ],
)
def test_each_logit_rise_mistake_is_named(capsys, answer, phrase):
    kept = checks.logit_rise(answer, LOGITS, BASELINE, LABELS)
    assert torch.equal(kept, library.logit_rise(LOGITS, BASELINE))
    assert phrase in capsys.readouterr().out


def test_an_untouched_logit_rise_falls_back():
    assert torch.equal(
        checks.logit_rise(..., LOGITS, BASELINE, LABELS), library.logit_rise(LOGITS, BASELINE)
    )


# Task 4.1 ------------------------------------------------------------------------------------

UNITS = torch.tensor([1, 3])


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))


def _negate(model, layer, units, weight=-1.0, bias=-1.0, other=None, copy_first=True):
    mutant = copy.deepcopy(model) if copy_first else model
    module = mutant.get_submodule(other or layer)
    with torch.no_grad():
        rows = slice(None) if units is None else units
        module.weight[rows] *= weight
        module.bias[rows] *= bias
    return mutant


def test_a_negated_copy_passes(capsys):
    model = _model()
    before = copy.deepcopy(model.state_dict())
    assert checks.negated_copy(_negate, model, "0", UNITS) is _negate
    assert "correct" in capsys.readouterr().out
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (
            lambda m, name, u: _negate(m, name, u, copy_first=False),
            "changed the model it was given",
        ),
        (
            lambda m, name, u: _negate(m, name, torch.tensor([0, 1]), other="2"),
            "only the layer `0`",
        ),
        (lambda m, name, u: _negate(m, name, None), "negated all 5 units"),
        (lambda m, name, u: _negate(m, name, u, weight=0.0, bias=0.0), "zeroed"),
        (lambda m, name, u: _negate(m, name, u, bias=1.0), "the bias is not"),
        (lambda m, name, u: _negate(m, name, u[:1]), "negated in ['0.weight', '0.bias']"),
        (lambda m, name, u: 3, "returned a int"),
    ],
)
def test_each_negation_mistake_is_named(capsys, answer, phrase):
    model = _model()
    before = copy.deepcopy(model.state_dict())
    assert checks.negated_copy(answer, model, "0", UNITS) is library.negated_copy
    assert phrase in capsys.readouterr().out
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_the_library_negation_is_one_materialised_nai_mutant():
    model = _model()
    mutant = library.negated_copy(model, "0", UNITS)
    assert torch.equal(mutant[0].weight[UNITS], -model[0].weight[UNITS])
    assert torch.equal(mutant[0].bias[[0, 2, 4]], model[0].bias[[0, 2, 4]])
    assert checks.negated_copy(lambda m, name, u: ..., model, "0", UNITS) is library.negated_copy


# Task 4.2 ------------------------------------------------------------------------------------

ORIGINAL = torch.tensor([0, 1, 2, 3])
MUTATED = torch.tensor([[0, 1, 2, 0], [1, 1, 2, 3], [0, 2, 2, 3]])
TRUE = torch.tensor([0, 1, 0, 3])


def test_a_change_rate_passes(capsys):
    def rate(original, mutated):
        return (mutated != original).float().mean(dim=0)

    assert checks.change_rate(rate, ORIGINAL, MUTATED, TRUE) is rate
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda o, m: (m != TRUE).float().mean(dim=0), "true labels"),
        (lambda o, m: (m != o).float().sum(dim=0), "you return counts"),
        (lambda o, m: (m != o).float().mean(dim=1), "one number per mutant"),
        (lambda o, m: torch.zeros(4), "differs from the reference"),
    ],
)
def test_each_change_rate_mistake_is_named(capsys, answer, phrase):
    assert checks.change_rate(answer, ORIGINAL, MUTATED, TRUE) is library.change_rate
    assert phrase in capsys.readouterr().out


def test_an_untouched_change_rate_is_not_done(capsys):
    assert checks.change_rate(..., ORIGINAL, MUTATED, TRUE) is library.change_rate
    assert "not done" in capsys.readouterr().out


# Task 5.1 ------------------------------------------------------------------------------------


def _detector(scale_on=None, standardise=True, column=1, method="predict_proba", **settings):
    """A StandardScaler + LogisticRegression detector, right or with one chosen mistake."""

    def detector(train, wrong, test):
        if standardise:
            scaler = StandardScaler().fit(train if scale_on is None else scale_on(train, test))
            train, test = scaler.transform(train), scaler.transform(test)
        model = LogisticRegression(**{**library.LOGISTIC_SETTINGS, **settings}).fit(train, wrong)
        if method == "predict":
            return model.predict(test).astype(float)
        return model.predict_proba(test)[:, column]

    return detector


def _pipeline(train, wrong, test):
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(**library.LOGISTIC_SETTINGS))
    return pipeline.fit(train, wrong).predict_proba(test)[:, 1]


def _in_place(train, wrong, test):
    train -= train.mean(axis=0)
    return _pipeline(train, wrong, test)


@pytest.mark.parametrize(
    "answer",
    [_pipeline, _detector(), _detector(solver="newton-cg", tol=1e-12, max_iter=10_000)],
)
def test_a_standardised_detector_passes(capsys, answer):
    assert checks.standardised_detector(answer) is answer
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_detector(scale_on=lambda train, test: test), "leaks the test set"),
        (
            _detector(scale_on=lambda train, test: np.vstack([train, test])),
            "train and test together",
        ),
        (_detector(standardise=False), "not standardised"),
        (_detector(column=0), "probability of a *right* prediction"),
        (lambda train, wrong, test: _pipeline(train, ~wrong, test), "probability of a *right*"),
        (_detector(method="predict"), "only 0 and 1"),
        (_detector(C=1.0), "default C=1.0"),
        (_detector(solver="lbfgs", tol=1e-4, max_iter=100), "stopped early"),
        (lambda train, wrong, test: _pipeline(train, wrong, test) ** 2, "differ from a"),
        (lambda train, wrong, test: _pipeline(train, wrong, test)[:5], "one score per test row"),
        (
            lambda train, wrong, test: (
                make_pipeline(StandardScaler(), LogisticRegression())
                .fit(train, wrong)
                .predict_proba(test)
            ),
            "both columns",
        ),
        (_in_place, "changed the features"),
    ],
)
def test_each_detector_mistake_is_named(capsys, answer, phrase):
    assert checks.standardised_detector(answer) is checks.reference_detector
    assert phrase in capsys.readouterr().out


def test_an_untouched_detector_is_not_done(capsys):
    assert checks.standardised_detector(lambda a, b, c: ...) is checks.reference_detector
    assert "not done" in capsys.readouterr().out


def test_the_detector_is_also_checked_on_the_notebooks_features(capsys):
    rng = np.random.default_rng(1)
    train, test = rng.normal(size=(400, 4)) * [1, 10, 0.1, 3], rng.normal(size=(100, 4))
    wrong = rng.random(400) < 0.3
    reference = checks.reference_detector(train, wrong, test)
    assert checks.standardised_detector(_pipeline, train, wrong, test, reference) is _pipeline
    assert "correct" in capsys.readouterr().out
    off = reference + 1e-3
    result = checks.standardised_detector(_pipeline, train, wrong, test, off)
    assert result is checks.reference_detector
    assert "on the notebook's features" in capsys.readouterr().out
    with pytest.raises(ValueError, match="or none"):
        checks.standardised_detector(_pipeline, train, wrong, test)


# Task 6.1 ------------------------------------------------------------------------------------


def _curve(confidence, wrong, descending=True, over_all=False, shift=0):
    order = confidence.argsort(descending=descending)
    kept = torch.arange(1, len(confidence) + 1)
    errors = wrong[order].double().cumsum(0)
    risk = errors / (len(confidence) if over_all else kept)
    return (kept + shift) / len(confidence), risk


def test_a_risk_coverage_curve_passes(capsys):
    assert checks.risk_coverage_curve(_curve) is _curve
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda c, w: _curve(c, w, descending=False), "least* confident"),
        (lambda c, w: _curve(c, w, over_all=True), "divides by all images"),
        (lambda c, w: _curve(c, w, shift=-1), "off by one"),
        (lambda c, w: _curve(c, w, shift=1), "off by one"),
        (lambda c, w: (torch.ones(3), torch.ones(3)), "7 values each"),
    ],
)
def test_each_curve_mistake_is_named(capsys, answer, phrase):
    assert checks.risk_coverage_curve(answer) is library.risk_coverage_curve
    assert phrase in capsys.readouterr().out


def test_the_library_curve_meets_the_risk_coverage_table():
    torch.manual_seed(0)
    scores, wrong = torch.rand(200), torch.rand(200) < 0.2
    coverage, risk = library.risk_coverage_curve(1 - scores, wrong)
    table = library.risk_coverage(scores, wrong, (0.0, 0.1, 0.25))
    for share, row in table.iterrows():
        kept = round((1 - share) * 200)
        assert coverage[kept - 1] == row["coverage"]
        assert 1 - risk[kept - 1] == pytest.approx(row["kept_accuracy"], abs=1e-12)
    assert checks.risk_coverage_curve(...) is library.risk_coverage_curve
