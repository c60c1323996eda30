"""Every claim of the error-detection notebook (notebooks/error_detection.py), over three seeds.

The solution notebook itself runs once per seed (``tests/lesson_harness.py``); the model is the
shipped reference CNN and the test set is fixed, so a seed draws what the notebook's ``SEED``
draws: the split of the validation images into detector-train and detector-validation, and the
mutants. Each assertion checks a sentence of the notebook's text or of a model answer, on the
number the notebook recorded beside its printed one.
"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_harness import every_record_asserted, exercise_runs_untouched, lesson_fixture

pytestmark = [pytest.mark.lesson, pytest.mark.filterwarnings("ignore::UserWarning")]

NOTEBOOK = "advanced/error_detection/solution.ipynb"
# Wu, Michel and Briot (2019, arXiv:1910.00387), CIFAR-10, as the notebook quotes them (read off
# section 2, "Experimental results", of the authors' repository).
PAPER = {"LCR": 0.887, "conductance": 0.927, "both": 0.933, "kept": 0.968}

lesson = lesson_fixture(NOTEBOOK)


def test_part1_the_model_makes_enough_real_mistakes(lesson):
    # "test accuracy" printed in Part 1; the detector learns from a few hundred mistakes.
    assert 0.89 <= lesson["test_accuracy"] <= 0.92
    assert 800 <= lesson["wrong_validation_count"] <= 1200


def test_part2_confidence_is_a_strong_but_imperfect_baseline(lesson):
    # Task 2.2: about nine pairs out of ten (printed); sure-but-wrong share "far from zero".
    assert 0.88 <= lesson["auroc_confidence"] <= 0.93
    assert lesson["sure_and_wrong_share"] >= 0.1


def test_part3_one_trapezoid_step_is_exact_for_the_last_hidden_layer(lesson):
    # Task 3.2: "the completeness gap ... is at the level of float rounding".
    assert lesson["completeness_gap"] < 1e-4
    assert lesson["conductance_shape"] == [lesson["test_size"], 128]


def test_part3_wrong_answers_collect_less_and_different_conductance(lesson):
    # Task 3.2: lower total conductance for wrong answers; the units that carry right "Shirt"
    # answers carry less for wrong ones (most of the top 20).
    right = lesson["median_total_conductance_right"]
    assert lesson["median_total_conductance_wrong"] < right - 1
    assert lesson["shirt_top_units_weaker_when_wrong"] >= 0.8


def test_part4_wrong_answers_are_fragile_under_mutation(lesson):
    # Part 4 prints: median LCR right 0, wrong well above; most right answers never change.
    assert lesson["median_lcr_right"] == 0
    assert lesson["median_lcr_wrong"] >= 0.15
    assert lesson["right_share_no_mutant_changes"] >= 0.5
    assert lesson["mutants_kept"] == 100 and lesson["mutants_tried"] >= 100
    assert lesson["mutants_lowest_accuracy"] >= 0.9 * lesson["original_filter_accuracy"]


def test_part4_negating_fc1_neurons_separates_best(lesson):
    # Task 4.3: fc1 NAI has the highest LCR AUROC; conv2 NAI needs more tries and keeps less
    # accurate mutants; Gaussian fuzz keeps mutants close to the original, changes fewer
    # answers and separates worse.
    kinds = lesson["mutation_kinds"]
    best = kinds["fc1 NAI"]["LCR AUROC"]
    assert all(best > k["LCR AUROC"] for key, k in kinds.items() if key != "fc1 NAI")
    assert kinds["conv2 NAI"]["tried"] > kinds["fc1 NAI"]["tried"]
    assert kinds["conv2 NAI"]["mean mutant accuracy"] < kinds["fc1 NAI"]["mean mutant accuracy"]
    original = lesson["original_filter_accuracy"]
    for layer in ("conv2", "fc1"):
        fuzz, negated = kinds[f"{layer} GF"], kinds[f"{layer} NAI"]
        assert fuzz["mean mutant accuracy"] > negated["mean mutant accuracy"]
        assert fuzz["mean mutant accuracy"] > original - 0.015
        assert fuzz["mean LCR"] < negated["mean LCR"]
        assert fuzz["LCR AUROC"] < negated["LCR AUROC"]


def test_part4_the_vectorised_mutants_are_the_loop_and_leave_the_model_alone(lesson):
    # Task 4.3 (model answer), on the loop of Part 4: "exactly the loop's predictions, leaves
    # the original untouched".
    assert lesson["loop_equals_together"] is True
    assert lesson["original_unchanged"] is True


def test_part5_both_beats_each_part_and_confidence_narrowly(lesson):
    # Task 5.2: "both" above 0.90, above conductance, LCR and confidence; the margin over
    # confidence is smaller than the gap between LCR and conductance; adding confidence
    # changes little.
    a = lesson["detector_aurocs"]
    baseline = lesson["auroc_confidence"]
    assert a["both"] >= 0.90
    assert a["both"] > max(a["conductance"], a["LCR"], baseline)
    margin = a["both"] - baseline
    assert 0 < margin < abs(a["conductance"] - a["LCR"])
    assert abs(a["both + confidence"] - a["both"]) < 0.005


def test_part5_the_students_detector_is_the_librarys(lesson):
    # Task 5.1 (model answer): its probabilities are the library's "both" detector's (both run
    # the logistic regression to its optimum, LOGISTIC_SETTINGS).
    assert lesson["your_detector_gap"] < 1e-5


def test_part5_the_baseline_of_the_conductance_hardly_matters(lesson):
    # Part 5, "Back to the baseline of Part 3" and Task 5.2: the black-baseline conductances are
    # exact (completeness from the black image) and move the detectors' AUROC by a few
    # thousandths at most, less than the gap between the conductance and the LCR detectors.
    assert lesson["completeness_gap_black"] < 1e-4
    grey, black = lesson["detector_aurocs"], lesson["black_baseline_aurocs"]
    assert sorted(black) == ["both", "conductance"]
    moved = max(abs(black[name] - grey[name]) for name in black)
    assert moved < 0.01
    assert moved < abs(grey["conductance"] - grey["LCR"])


def test_part5_a_richer_detector_moves_the_auroc_by_less_than_a_hundredth(lesson):
    aurocs, baseline = lesson["detector_aurocs"], lesson["auroc_confidence"]
    boosted_aurocs = lesson["boosted_aurocs"]
    assert sorted(boosted_aurocs) == ["both", "both + confidence"]
    for name, boosted in boosted_aurocs.items():
        assert abs(boosted - aurocs[name]) < 0.01, (name, boosted, aurocs[name])
        assert boosted > baseline


def test_part5_comparison_with_the_paper(lesson):
    # Task 5.2: "our LCR lands near the paper's; our conductance is weaker".
    aurocs = lesson["detector_aurocs"]
    assert abs(aurocs["LCR"] - PAPER["LCR"]) < 0.02
    assert aurocs["conductance"] < PAPER["conductance"]
    assert aurocs["both"] < PAPER["both"]


def test_part6_the_validation_threshold_lifts_kept_accuracy(lesson):
    # Task 6.2: the threshold cancels a share well above the error rate (most cancelled
    # answers are right), catches most errors, and lifts the kept accuracy.
    share = lesson["cancelled_share"]
    error_rate = 1 - lesson["test_accuracy"]
    assert 0.12 <= share <= 0.35
    assert share > 2 * error_rate
    assert lesson["kept_accuracy"] >= 0.97
    assert lesson["errors_caught"] >= 0.75


def test_part6_risk_coverage_beside_the_paper(lesson):
    # Part 6 / Task 6.2: cancelling 27 % keeps predictions more accurate than the paper's 96.8 %;
    # the combined detector and confidence keep nearly the same accuracy at every share.
    assert lesson["kept_accuracy_at_27_percent"] > PAPER["kept"]
    assert lesson["risk_coverage_shares"][0] == 0
    kept = np.array(lesson["kept_accuracy_both"])
    assert (kept[1:] >= kept[:-1]).all()
    assert abs(kept[0] - lesson["test_accuracy"]) < 1e-9
    gaps = kept - np.array(lesson["kept_accuracy_confidence"])
    assert (abs(gaps) < 0.01).all()


test_every_recorded_number_is_asserted = every_record_asserted(NOTEBOOK)
test_the_exercise_runs_untouched = exercise_runs_untouched(
    "advanced/error_detection/exercise.ipynb"
)
