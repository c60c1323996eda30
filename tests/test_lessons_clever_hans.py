"""Every claim of the Clever Hans zoo notebook (notebooks/clever_hans.py), on three seeds.

The harness executes the solution notebook itself once per seed and each test asserts on the
numbers it recorded. Tables are recorded as lists of rows (``DataFrame.to_dict("records")``);
:func:`_row` picks one out. Attribution methods that draw random numbers (GradientShap,
smoothed IG) are asserted only where the claim holds for every method.
"""

from __future__ import annotations

import pytest
from lesson_harness import every_record_asserted, exercise_runs_untouched, lesson_fixture

from failure_modes.explain.attribution import METHODS
from failure_modes.tracks.clever_hans import EXPLOIT_DROP, FLIP_THRESHOLD, MASS_FACTOR

pytestmark = [pytest.mark.lesson, pytest.mark.filterwarnings("ignore::UserWarning")]

NOTEBOOK = "advanced/clever_hans/solution.ipynb"
LOCAL = (1, 3)
DECOY_DROP = 0.45  # Ross, Hughes & Doshi-Velez (IJCAI 2017), Sec. 3.2: about 45 points
# Methods whose maps are exactly zero on a black background for any model.
ZERO_ON_BLACK = ("integrated_gradients", "deep_lift", "occlusion")

lesson = lesson_fixture(NOTEBOOK)

test_the_exercise_runs_untouched = exercise_runs_untouched("advanced/clever_hans/exercise.ipynb")


def _row(rows: list[dict], **match) -> dict:
    found = [row for row in rows if all(row[key] == value for key, value in match.items())]
    assert len(found) == 1, f"{len(found)} rows match {match}"
    return found[0]


# --- Part 1: the zoo ----------------------------------------------------------------------


def test_the_square_is_plain_to_see_the_watermark_and_the_ramp_are_faint(lesson):
    visibility = lesson["visibility"]
    assert _row(visibility, artifact="Square")["largest_change"] == 255
    for artifact in ("Watermark", "Gradient"):
        assert _row(visibility, artifact=artifact)["largest_change"] < 100


# --- Part 2: a tainted test set rewards the shortcut ----------------------------------------


def test_tainted_model_shines_on_tainted_test_data_only(lesson):
    tainted = _row(lesson["accuracy"], model="tainted model")
    clean = _row(lesson["accuracy"], model="clean model")
    assert tainted["tainted test"] >= 0.9
    assert tainted["clean test"] <= clean["clean test"] - 0.2


# --- Part 3: behaviour --------------------------------------------------------------------


def test_task_3_1_measures_what_the_behavioural_test_reports(lesson):
    square = _row(lesson["shortcut_report"], artifact="Square")
    assert lesson["flip_to_one"] == pytest.approx(square["flip_added"])
    assert lesson["flip_to_one"] >= FLIP_THRESHOLD


def test_every_artifact_is_exploited_and_flagged_by_the_behavioural_test(lesson):
    report = lesson["shortcut_report"]
    assert all(row["exploited"] for row in report), [(r["artifact"], r["drop"]) for r in report]
    for row in report:
        assert row["drop"] >= EXPLOIT_DROP
        assert row["behaviour_flag"] and row["flip_added"] >= FLIP_THRESHOLD


def test_exploited_local_artifacts_are_flagged_by_integrated_gradients(lesson):
    report = lesson["shortcut_report"]
    for row in report:
        if row["exploited"] and row["local"]:
            assert row["mass_integrated_gradients"] > MASS_FACTOR * row["share"]
            assert row["ig_flag"] is True
        if not row["local"]:
            assert row["ig_flag"] is None
    assert sum(row["local"] for row in report) == len(LOCAL)


def test_the_clean_model_is_not_flagged_by_the_behavioural_test(lesson):
    clean_report = lesson["clean_shortcut_report"]
    assert not any(row["behaviour_flag"] for row in clean_report)
    assert max(row["flip_added"] for row in clean_report) < FLIP_THRESHOLD


def test_drop_is_larger_than_decoy_mnists_and_the_ramp_persuades_most_digits(lesson):
    # The most persuasive artifact is printed by the notebook (the ramp or the time stamp,
    # depending on the seed: seed 5 gives the stamp); the ramp turns most digits into 8s.
    train_accuracy = _row(lesson["accuracy"], model="tainted model")["tainted train"]
    report = lesson["shortcut_report"]
    disagree = {row["artifact"]: row["acc_disagree"] for row in report}
    assert train_accuracy >= 0.97
    assert train_accuracy - min(disagree.values()) > DECOY_DROP
    assert _row(report, artifact="Gradient")["flip_added"] >= 0.5


# --- Part 4: explanations -----------------------------------------------------------------


def test_methods_detect_the_local_artifacts_on_the_tainted_model(lesson):
    rates = lesson["explanation_rates"]
    for row in rates:
        if row["label"] == 1 or row["method"] != "guided_backprop":
            assert row["detected"] >= 0.9, row
    for label in LOCAL:
        ig = _row(rates, label=label, method="integrated_gradients")
        assert ig["mass"] > 3 * ig["mass_clean"]


def test_input_weighted_methods_raise_false_alarms_gradients_do_not(lesson):
    rates = lesson["explanation_rates"]
    false_alarm = {
        method: max(_row(rates, label=label, method=method)["false_alarm"] for label in LOCAL)
        for method in METHODS
    }
    assert false_alarm["integrated_gradients"] >= 0.1
    assert false_alarm["saliency"] <= 0.02
    assert false_alarm["guided_backprop"] <= 0.02


def test_masks_cannot_separate_the_models_for_global_artifacts(lesson):
    report, clean_report = lesson["shortcut_report"], lesson["clean_shortcut_report"]
    for artifact in ("Gradient", "Watermark"):
        tainted = _row(report, artifact=artifact)
        clean = _row(clean_report, artifact=artifact)
        assert not tainted["local"]
        assert clean["mass_integrated_gradients"] >= 0.75 * tainted["mass_integrated_gradients"]
    ramp = _row(report, artifact="Gradient")
    assert ramp["share"] >= 0.9
    assert ramp["mass_integrated_gradients"] >= 0.95
    assert _row(clean_report, artifact="Gradient")["mass_integrated_gradients"] >= 0.95


# --- Part 5: randomisation ----------------------------------------------------------------


def _step(lesson, method: str, randomized: int) -> dict:
    return _row(lesson["randomization"], method=method, randomized=randomized)


def _last(lesson) -> int:
    return max(row["randomized"] for row in lesson["randomization"])


def test_guided_backprop_barely_changes_while_the_top_layers_are_random(lesson):
    # Over the ink: the background's shared zeros would tie the other methods' ranks.
    gbp = _step(lesson, "guided_backprop", 1)
    assert gbp["layer"] == "head"
    assert gbp["rank_correlation_ink"] >= 0.75
    for method in METHODS:
        if method != "guided_backprop":
            assert gbp["rank_correlation_ink"] > _step(lesson, method, 1)["rank_correlation_ink"]
    # Only once the first layer is random too does its picture change.
    assert _step(lesson, "guided_backprop", _last(lesson))["rank_correlation_ink"] <= 0.2


def test_occlusion_follows_the_input_even_for_a_fully_random_model(lesson):
    assert _step(lesson, "occlusion", _last(lesson))["rank_correlation"] >= 0.6


def test_shared_zeros_on_the_background_inflate_the_rank_correlation(lesson):
    assert lesson["black_share"] >= 0.8
    for method in ZERO_ON_BLACK:
        steps = [_step(lesson, method, step) for step in range(1, _last(lesson) + 1)]
        assert min(row["rank_correlation"] for row in steps) >= 0.95, method
        assert steps[0]["rank_correlation_ink"] <= 0.8, method


def test_artifact_mass_collapses_when_every_layer_is_random(lesson):
    last = _last(lesson)
    trained, random = (
        _step(lesson, "integrated_gradients", 0),
        _step(lesson, "integrated_gradients", last),
    )
    assert random["artifact_mass"] <= 0.5 * trained["artifact_mass"]
    chance = lesson["square_chance"]
    assert _step(lesson, "saliency", last)["artifact_mass"] <= 2 * chance
    assert _step(lesson, "saliency", 0)["artifact_mass"] >= 4 * chance


def test_random_models_ig_mass_is_the_inputs_own_share(lesson):
    # What IG keeps on the square for a random model is its (input - baseline) factor alone.
    random = _step(lesson, "integrated_gradients", _last(lesson))["artifact_mass"]
    trained = _step(lesson, "integrated_gradients", 0)["artifact_mass"]
    input_share = lesson["input_share"]
    assert abs(random - input_share) <= 0.05, (random, input_share)
    assert trained >= 2 * input_share, (trained, input_share)


# --- Part 6: removing the cue -------------------------------------------------------------


def test_weight_decay_keeps_the_ramp_shortcut_remove_ramp_removes_only_it(lesson):
    drops = lesson["cue_removal_drops"]
    assert _row(drops, model="weight decay")["Gradient"] >= EXPLOIT_DROP
    assert abs(_row(drops, model="RemoveRamp")["Gradient"]) <= 0.1
    for artifact in ("Square", "Text", "Watermark"):
        assert _row(drops, model="RemoveRamp")[artifact] >= EXPLOIT_DROP


def test_random_ramps_dilute_the_shortcut_without_removing_it(lesson):
    ramps = _row(lesson["random_ramps_drops"], model="random ramps")["Gradient"]
    tainted = _row(lesson["cue_removal_drops"], model="tainted")["Gradient"]
    assert EXPLOIT_DROP <= ramps <= 0.6 * tainted


# --- Part 7: the visibility sweep ---------------------------------------------------------


def _sweep_rows(lesson, method: str = "integrated_gradients") -> list[dict]:
    return [row for row in lesson["sweep"] if row["method"] == method]


def test_the_plainest_watermark_is_exploited_and_found_the_faintest_is_neither(lesson):
    rows = _sweep_rows(lesson)
    plain, faint = rows[0], rows[-1]
    alphas = [row["alpha"] for row in rows]
    assert plain["alpha"] == max(alphas) and faint["alpha"] == min(alphas)
    assert plain["exploited"] and plain["behaviour_flag"] and plain["detected"] >= 0.9
    assert not faint["exploited"] and not faint["behaviour_flag"] and faint["detected"] <= 0.1
    for column in ("drop", "flip_added", "detected"):
        assert plain[column] > faint[column]


def test_near_the_line_ig_still_flags_images_the_behavioural_test_misses(lesson):
    quiet = [row for row in _sweep_rows(lesson) if not row["behaviour_flag"]]
    assert any(row["detected"] >= 0.25 and row["drop"] > row["flip_added"] for row in quiet)


def test_guided_backprop_never_detects_the_watermark(lesson):
    assert all(row["detected"] <= 0.05 for row in _sweep_rows(lesson, "guided_backprop"))


def test_no_method_raises_more_than_stray_false_alarms_in_the_sweep(lesson):
    assert max(row["false_alarm"] for row in lesson["sweep"]) <= 0.05


test_every_recorded_number_is_asserted = every_record_asserted(NOTEBOOK)
