"""Every claim of the error-detection notebook (notebooks/error_detection.py), over three seeds.

The model is the shipped reference CNN and the test set is fixed; a seed draws what the
notebook's ``SEED`` draws: the split of the validation images into detector-train and
detector-validation, and the mutants. Seed 0 is exactly the notebook's run. Conductance does not
depend on the seed and is computed once. Each assertion checks a sentence of the notebook's
text or of a model answer, with the numbers the notebook prints.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from failure_modes.data import to_tensors
from failure_modes.models import load_reference_model
from failure_modes.models.reference import reference_splits
from failure_modes.tracks.error_detection import (
    auroc,
    choose_threshold,
    compare_feature_sets,
    fit_detector,
    label_change_rate,
    layer_conductance,
    make_mutants,
    risk_coverage,
)

pytestmark = [pytest.mark.lesson, pytest.mark.filterwarnings("ignore::UserWarning")]

SEEDS = (0, 1, 2)
SHARES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.27, 0.3, 0.4)
PAPER = {"LCR": 0.887, "conductance": 0.927, "both": 0.933, "kept": 0.968}


@pytest.fixture(scope="module")
def setting() -> SimpleNamespace:
    splits = reference_splits()
    model = load_reference_model(retrain_if_missing=False)
    x_val, y_val = to_tensors(splits["validation"])
    x_test, y_test = to_tensors(splits["test"])
    with torch.no_grad():
        logits_val, logits_test = model(x_val), model(x_test)
        baseline_logits = model(torch.zeros(1, *x_test.shape[1:]))
    rule = {"n_steps": 1, "method": "riemann_trapezoid"}
    return SimpleNamespace(
        model=model,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        logits_test=logits_test,
        baseline_logits=baseline_logits,
        wrong_val=logits_val.argmax(dim=1) != y_val,
        wrong_test=logits_test.argmax(dim=1) != y_test,
        confidence_val=logits_val.softmax(dim=1).amax(dim=1),
        confidence_test=logits_test.softmax(dim=1).amax(dim=1),
        conductance_val=layer_conductance(model, x_val, "relu3", **rule),
        conductance_test=layer_conductance(model, x_test, "relu3", **rule),
        names=splits["test"].classes,
    )


def _mutants(s: SimpleNamespace, fit_index: torch.Tensor, layer: str, mode: str, seed: int):
    return make_mutants(
        s.model,
        validation=(s.x_val[fit_index[:2000]], s.y_val[fit_index[:2000]]),
        n=100,
        fraction=0.1,
        mode=mode,
        layers=layer,
        seed=seed,
    )


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def lesson(request, setting) -> SimpleNamespace:
    s, seed = setting, request.param
    order = torch.randperm(len(s.x_val), generator=torch.Generator().manual_seed(seed))
    fit_index, check_index = order[:5000], order[5000:]
    mutants = _mutants(s, fit_index, "fc1", "NAI", seed)
    lcr_val = label_change_rate(s.model, mutants, s.x_val)
    lcr_test = label_change_rate(s.model, mutants, s.x_test)
    kinds = {}
    for layer in ("conv2", "fc1"):
        for mode in ("NAI", "GF"):
            variant = (
                mutants
                if (layer, mode) == ("fc1", "NAI")
                else _mutants(s, fit_index, layer, mode, seed)
            )
            lcr = lcr_test if variant is mutants else label_change_rate(s.model, variant, s.x_test)
            kinds[layer, mode] = SimpleNamespace(
                tried=variant.tried,
                accuracy=float(variant.accuracy.mean()),
                lcr=float(lcr.mean()),
                auroc=auroc(lcr, s.wrong_test),
            )
    train = {
        "conductance": s.conductance_val[fit_index],
        "LCR": lcr_val[fit_index],
        "confidence": s.confidence_val[fit_index],
    }
    test = {"conductance": s.conductance_test, "LCR": lcr_test, "confidence": s.confidence_test}
    sets = {
        "conductance": ["conductance"],
        "LCR": ["LCR"],
        "both": ["conductance", "LCR"],
        "both + confidence": ["conductance", "LCR", "confidence"],
    }
    table, _ = compare_feature_sets(
        train, s.wrong_val[fit_index], test, s.wrong_test, sets, seed=seed
    )
    richer = {name: sets[name] for name in ("both", "both + confidence")}
    boosted, _ = compare_feature_sets(
        train, s.wrong_val[fit_index], test, s.wrong_test, richer, kind="boosting", seed=seed
    )
    both = fit_detector(
        torch.cat([s.conductance_val[fit_index], lcr_val[fit_index, None]], dim=1),
        s.wrong_val[fit_index],
        seed=seed,
    )
    score_check = both.score(
        torch.cat([s.conductance_val[check_index], lcr_val[check_index, None]], dim=1)
    )
    threshold = choose_threshold(score_check, s.wrong_val[check_index])
    score_test = both.score(torch.cat([s.conductance_test, lcr_test[:, None]], dim=1))
    cancelled = torch.as_tensor(score_test >= threshold)
    return SimpleNamespace(
        mutants=mutants,
        lcr_test=lcr_test,
        kinds=kinds,
        aurocs={row["features"]: row["auroc"] for row in table.rows},
        boosted={row["features"]: row["auroc"] for row in boosted.rows},
        cancelled=cancelled,
        coverage_both=risk_coverage(score_test, s.wrong_test, SHARES),
        coverage_confidence=risk_coverage(1 - s.confidence_test, s.wrong_test, SHARES),
    )


def test_part0_the_model_makes_enough_real_mistakes(setting):
    # "test accuracy" printed in Part 0; the detector learns from a few hundred mistakes.
    accuracy = 1 - setting.wrong_test.float().mean().item()
    assert 0.89 <= accuracy <= 0.92
    assert 800 <= int(setting.wrong_val.sum()) <= 1200


def test_part1_confidence_is_a_strong_but_imperfect_baseline(setting):
    # Task 1.1: "about nine pairs out of ten"; sure-but-wrong share "far from zero".
    s = setting
    assert 0.88 <= auroc(1 - s.confidence_test, s.wrong_test) <= 0.93
    assert (s.confidence_test[s.wrong_test] > 0.9).float().mean() >= 0.1


def test_part2_one_trapezoid_step_is_exact_for_the_last_hidden_layer(setting):
    # Task 2.2: "the completeness gap ... is at the level of float rounding".
    s = setting
    predicted = s.logits_test.argmax(dim=1)
    rows = torch.arange(len(predicted))
    expected = s.logits_test[rows, predicted] - s.baseline_logits[0, predicted]
    assert (s.conductance_test.sum(dim=1) - expected).abs().max() < 1e-4
    assert s.conductance_test.shape == (len(predicted), 128)


def test_part2_wrong_answers_collect_less_and_different_conductance(setting):
    # Task 2.2: lower total conductance for wrong answers; the units that carry right "Shirt"
    # answers carry less for wrong ones (most of the top 20).
    s = setting
    total = s.conductance_test.sum(dim=1)
    assert total[s.wrong_test].median() < total[~s.wrong_test].median() - 1
    predicted = s.logits_test.argmax(dim=1)
    is_shirt = predicted == s.names.index("Shirt")
    right = s.conductance_test[is_shirt & ~s.wrong_test].mean(dim=0)
    wrong = s.conductance_test[is_shirt & s.wrong_test].mean(dim=0)
    top = right.argsort(descending=True)[:20]
    assert (right[top] > wrong[top]).float().mean() >= 0.8


def test_part3_wrong_answers_are_fragile_under_mutation(setting, lesson):
    # Part 3 prints: median LCR right 0, wrong well above; most right answers never change.
    wrong = setting.wrong_test
    assert lesson.lcr_test[~wrong].median() == 0
    assert lesson.lcr_test[wrong].median() >= 0.15
    assert (lesson.lcr_test[~wrong] == 0).float().mean() >= 0.5
    assert len(lesson.mutants) == 100 and lesson.mutants.tried >= 100
    assert bool((lesson.mutants.accuracy >= 0.9 * lesson.mutants.original_accuracy).all())


def test_part3_negating_fc1_neurons_separates_best(lesson):
    # Task 3.2: fc1 NAI has the highest LCR AUROC; conv2 NAI needs more tries and keeps less
    # accurate mutants; Gaussian fuzz keeps mutants close to the original, changes fewer
    # answers and separates worse.
    kinds = lesson.kinds
    best = kinds["fc1", "NAI"].auroc
    assert all(best > k.auroc for key, k in kinds.items() if key != ("fc1", "NAI"))
    assert kinds["conv2", "NAI"].tried > kinds["fc1", "NAI"].tried
    assert kinds["conv2", "NAI"].accuracy < kinds["fc1", "NAI"].accuracy
    original = lesson.mutants.original_accuracy
    for layer in ("conv2", "fc1"):
        assert kinds[layer, "GF"].accuracy > kinds[layer, "NAI"].accuracy
        assert kinds[layer, "GF"].accuracy > original - 0.015
        assert kinds[layer, "GF"].lcr < kinds[layer, "NAI"].lcr
        assert kinds[layer, "GF"].auroc < kinds[layer, "NAI"].auroc


def test_part4_both_beats_each_part_and_confidence_narrowly(setting, lesson):
    # Task 4.1: "both" above 0.90, above conductance, LCR and confidence; the margin over
    # confidence is smaller than the gap between LCR and conductance; adding confidence
    # changes little.
    a = lesson.aurocs
    baseline = auroc(1 - setting.confidence_test, setting.wrong_test)
    assert a["both"] >= 0.90
    assert a["both"] > max(a["conductance"], a["LCR"], baseline)
    margin = a["both"] - baseline
    assert 0 < margin < abs(a["conductance"] - a["LCR"])
    assert abs(a["both + confidence"] - a["both"]) < 0.005


def test_part4_a_richer_detector_moves_the_auroc_by_less_than_a_hundredth(setting, lesson):
    baseline = auroc(1 - setting.confidence_test, setting.wrong_test)
    for name, boosted in lesson.boosted.items():
        assert abs(boosted - lesson.aurocs[name]) < 0.01, (name, boosted, lesson.aurocs[name])
        assert boosted > baseline


def test_part4_comparison_with_the_paper(lesson):
    # Task 4.1: "our LCR lands near the paper's; our conductance is weaker".
    assert abs(lesson.aurocs["LCR"] - PAPER["LCR"]) < 0.02
    assert lesson.aurocs["conductance"] < PAPER["conductance"]
    assert lesson.aurocs["both"] < PAPER["both"]


def test_part5_the_validation_threshold_lifts_kept_accuracy(setting, lesson):
    # Task 5.1: the threshold cancels a share well above the error rate (most cancelled
    # answers are right), catches most errors, and lifts the kept accuracy.
    wrong = setting.wrong_test
    share = lesson.cancelled.float().mean().item()
    error_rate = wrong.float().mean().item()
    assert 0.12 <= share <= 0.35
    assert share > 2 * error_rate
    kept_accuracy = 1 - wrong[~lesson.cancelled].float().mean().item()
    assert kept_accuracy >= 0.97
    assert (lesson.cancelled & wrong).sum() / wrong.sum() >= 0.75


def test_part5_risk_coverage_beside_the_paper(setting, lesson):
    # Part 5 / Task 5.1: cancelling 27 % keeps predictions more accurate than the paper's 96.8 %;
    # the combined detector and confidence keep nearly the same accuracy at every share.
    both, confidence = lesson.coverage_both, lesson.coverage_confidence
    assert both.row(cancelled=0.27)["kept_accuracy"] > PAPER["kept"]
    kept = both.column("kept_accuracy")
    assert (kept[1:] >= kept[:-1]).all()
    assert abs(kept[0] - (1 - setting.wrong_test.float().mean().item())) < 1e-9
    gaps = kept - confidence.column("kept_accuracy")
    assert (abs(gaps) < 0.01).all()
