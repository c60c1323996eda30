"""What the MODE notebook claims, on the numbers its solution recorded, for SEED 0, 1 and 2.

``SEED`` picks a block of four seeds (0-3, 4-7, 8-11): one weak starting model per seed
(labels 2, 5 and 8 starved of training data), then the same 3 x 120 pool inputs spent four
ways: MODE ranking by cosine, MODE ranked the wrong way round, MODE at the last hidden layer
instead of the layer its probes chose, MODE's labels without its ranking, and uniform random
draws. An under-trained model per seed (starved labels with 30 images, 2 epochs) checks that
MODE's underfitting branch runs, and what one round of it gives against the opposite
direction. A second, already good model for the block's first three seeds checks the Bonus
claim that MODE then gains less. Scores are test-set accuracies; the
test set takes part in no decision. Every paired test runs within one block, so each claim is
checked on three disjoint blocks of seeds.

SEED 0 runs the notebook as students see it; SEEDs 1 and 2 skip the other eight measures of
Part 6, which no claim below reads.
"""

from __future__ import annotations

import numpy as np
import pytest
from lesson_harness import every_record_asserted, exercise_runs_untouched, lesson_fixture

pytestmark = pytest.mark.lesson

NOTEBOOK = "advanced/mode_debugging/solution.ipynb"
ONLY_THE_CLAIMS = {"ALL_MEASURES": False}
lesson = lesson_fixture(NOTEBOOK, parameters={1: ONLY_THE_CLAIMS, 2: ONLY_THE_CLAIMS})

ALPHA = 0.05
AGREEMENT = 0.9  # the notebook's saturation threshold
USUAL_THRESHOLD = 0.8  # a label under this validation accuracy is buggy
LOOKS_AT_SIZE = ["l1", "l2", "minkowski3", "wasserstein"]


def test_the_weak_model_starts_weak_and_its_bugs_are_the_starved_labels(lesson):
    assert all(buggy == [2, 5, 8] for buggy in lesson["seed_buggy_labels"])
    assert all(0.70 <= accuracy <= 0.85 for accuracy in lesson["seed_start_test_accuracy"])
    assert all(diagnoses == ["overfitting"] for diagnoses in lesson["seed_diagnoses"])


def test_the_first_hidden_layer_is_already_saturated(lesson):
    assert all(layer == "relu1" for layer in lesson["seed_target_layer"])
    assert all(agreement >= AGREEMENT for agreement in lesson["seed_first_agreement"])


def test_starved_labels_are_missed_rather_than_claimed(lesson):
    counts = lesson["heat_map_counts"]
    assert sorted(counts) == ["2", "5", "8"]
    for label in counts.values():
        assert label["false_negative"] > label["false_positive"]


def test_dot_agrees_with_cosine_while_the_distances_rank_by_feature_size(lesson):
    overlap, correlation = lesson["overlap_with_cosine"], lesson["norm_correlation"]
    assert overlap["dot"] > 0.8 and overlap["bray_curtis"] > 0.5
    for name in [*LOOKS_AT_SIZE, "chebyshev"]:
        assert overlap[name] < 0.5
    for name in LOOKS_AT_SIZE:
        assert correlation[name] > 0.75  # seed 10: minkowski3 0.797, l2 0.812


@pytest.mark.parametrize("key", ["buggy", "overall"])
def test_mode_beats_random_selection_in_most_seeds(lesson, key):
    # The notebook claims a rate, not every seed: in seeds 10-14 one seed gains less from MODE
    # than from random data; blocks 0-3, 4-7 and 8-11 happen to be all wins.
    seeds = lesson["seeds"]
    assert len(seeds) >= 4  # a paired test over fewer seeds would prove little
    result = lesson["cosine_vs_random"][key]
    assert result["wins"] >= len(seeds) - 1
    assert result["pvalue"] < ALPHA


def test_most_of_the_gain_comes_from_choosing_the_label(lesson):
    assert lesson["label_random_vs_random_pvalue"] < ALPHA
    assert lesson["ranking_gain"] < lesson["targeting_gain"]


def test_ranking_the_wrong_way_round_throws_the_targeting_away(lesson):
    assert lesson["right_vs_wrong_pvalue"] < ALPHA
    end = lesson["buggy_end"]
    assert end["wrong_way"] < end["label_random"]
    assert abs(end["wrong_way"] - end["random"]) < (end["label_random"] - end["random"]) / 2


def test_the_layer_choice_changes_little_next_to_choosing_the_labels(lesson):
    choice = lesson["layer_choice"]
    assert len(choice["chosen"]) == len(choice["last"]) == len(lesson["seeds"])
    difference = np.mean(choice["chosen"]) - np.mean(choice["last"])
    assert abs(difference) < lesson["targeting_gain"] / 4  # the notebook's word "small"


def test_the_underfitting_branch_runs_and_does_not_beat_the_opposite_direction(lesson):
    # Every seed's under-trained model has labels diagnosed as underfitting ...
    assert all(count >= 1 for count in lesson["underfitting_labels"])
    rounds = lesson["underfit_round"]
    assert len(rounds["diagnosis"]) == len(lesson["seeds"])
    # ... one round of either direction lifts them well above where they started ...
    for name in ("diagnosis", "dissimilar"):
        assert np.mean(rounds[name]) > np.mean(rounds["start"]) + 0.1
    # ... and MODE's rule (most similar first) ends below the most dissimilar inputs.
    assert np.mean(rounds["diagnosis"]) < np.mean(rounds["dissimilar"])


def test_on_a_good_model_mode_gains_less(lesson):
    assert lesson["good_start_accuracy"] > 0.85
    buggy = lesson["good_buggy_labels"]
    assert len(buggy) == 3  # the Bonus runs three seeds
    for labels in buggy:
        assert 1 <= len(labels) <= 5  # seed 44 has five at 0.9
    # no bug at the usual threshold
    assert all(low >= USUAL_THRESHOLD for low in lesson["good_lowest_validation_accuracy"])
    # smaller, not "much" smaller: seeds 10-12 gain +0.015 against the weak model's +0.021
    assert lesson["good_gain"] < lesson["weak_gain"]


test_every_recorded_number_is_asserted = every_record_asserted(NOTEBOOK)
test_the_exercise_runs_untouched = exercise_runs_untouched("advanced/mode_debugging/exercise.ipynb")
