"""Every claim of the Clever Hans zoo notebook (notebooks/clever_hans.py), on three seeds.

The fixture runs the notebook's experiment with the library calls and constants the notebook
uses (``failure_modes.tracks.shortcuts``), so each assertion checks a number the solution prints.
Attribution methods that draw random numbers (GradientShap, smoothed IG) are asserted only
where the claim holds for every method, so the order of calls cannot matter.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from failure_modes.data import load_mnist
from failure_modes.data.taint import taint_dataset
from failure_modes.explain.attribution import METHODS, artifact_mass
from failure_modes.models.evaluation import accuracy, predict
from failure_modes.tracks.shortcuts import (
    ALPHAS,
    EXPLOIT_DROP,
    FLIP_THRESHOLD,
    MASS_FACTOR,
    SWEEP_LABEL,
    WEIGHT_DECAY,
    augment,
    black_baseline,
    compare_models,
    explain_inputs,
    explain_local,
    randomization_check,
    shortcut_report,
    train_dense,
    visibility_sweep,
    zoo,
)

pytestmark = [pytest.mark.lesson, pytest.mark.filterwarnings("ignore::UserWarning")]

SEEDS = (0, 1, 2)
LOCAL = (1, 3)
RANDOMIZED_METHODS = ("integrated_gradients", "saliency", "guided_backprop", "occlusion")
DECOY_DROP = 0.997 - 0.516


@pytest.fixture(scope="module")
def data():
    return load_mnist(train=True), load_mnist(train=False)


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def lesson(request, data) -> SimpleNamespace:
    seed = request.param
    train, test = data
    corruptions = zoo()
    black = black_baseline(test)
    tainted_train = taint_dataset(train, corruptions, seed=seed)
    tainted_test = taint_dataset(test, corruptions)
    model = train_dense(tainted_train, seed=seed, progress=False)
    clean_model = train_dense(train, seed=seed, progress=False)
    kwargs = {"baselines": black, "progress": False}
    report = shortcut_report(model, test, tainted_test, corruptions, **kwargs)
    clean_report = shortcut_report(clean_model, test, tainted_test, corruptions, **kwargs)
    rates, _, _ = explain_local(model, clean_model, tainted_test, corruptions, LOCAL, **kwargs)
    inputs, _ = explain_inputs(tainted_test, 1, 32)
    input_share = artifact_mass((inputs - black).abs(), corruptions[1].mask(28, 28)).mean().item()
    randomization = randomization_check(
        model, inputs, 1, corruptions[1].mask(28, 28), methods=RANDOMIZED_METHODS,
        baselines=black, seed=seed, progress=False,
    )  # fmt: skip
    models = {
        "tainted": model,
        "weight decay": train_dense(tainted_train, seed=seed, weight_decay=WEIGHT_DECAY, progress=False),
        "RemoveRamp": train_dense(tainted_train, seed=seed, remove_ramp=True, progress=False),
        "random ramps": train_dense(
            augment(tainted_train, copies=2, seed=seed), seed=seed, epochs=3, progress=False
        ),
    }  # fmt: skip
    sweep = visibility_sweep(
        train, test, SWEEP_LABEL, ALPHAS, seed=seed, methods=list(METHODS),
        clean_model=clean_model, progress=False,
    )  # fmt: skip
    return SimpleNamespace(
        seed=seed,
        accuracy={
            (name, split): accuracy(*predict(net, dataset))
            for name, net in [("tainted", model), ("clean", clean_model)]
            for split, dataset in [
                ("train", tainted_train),
                ("tainted", tainted_test),
                ("clean", test),
            ]
        },  # fmt: skip
        report=report,
        clean_report=clean_report,
        rates=rates,
        randomization=randomization,
        input_share=input_share,
        drops=compare_models(models, test, tainted_test, corruptions),
        sweep=sweep,
    )


# --- Part 2: a tainted test set rewards the shortcut ----------------------------------------


def test_tainted_model_shines_on_tainted_test_data_only(lesson):
    acc = lesson.accuracy
    assert acc["tainted", "tainted"] >= 0.9
    assert acc["tainted", "clean"] <= acc["clean", "clean"] - 0.2


# --- Part 3: behaviour --------------------------------------------------------------------


def test_every_artifact_is_exploited_and_flagged_by_the_behavioural_test(lesson):
    report = lesson.report
    assert all(report.column("exploited")), report.select("artifact", "drop")
    for row in report.rows:
        assert row["drop"] >= EXPLOIT_DROP
        assert row["behaviour_flag"] and row["flip_added"] >= FLIP_THRESHOLD


def test_exploited_local_artifacts_are_flagged_by_integrated_gradients(lesson):
    for row in lesson.report.rows:
        if row["exploited"] and row["local"]:
            assert row["mass_integrated_gradients"] > MASS_FACTOR * row["share"]
            assert row["ig_flag"] is True
        if not row["local"]:
            assert row["ig_flag"] is None
    assert sum(lesson.report.column("local")) == len(LOCAL)


def test_the_clean_model_is_not_flagged_by_the_behavioural_test(lesson):
    assert not any(lesson.clean_report.column("behaviour_flag"))
    assert max(lesson.clean_report.column("flip_added")) < FLIP_THRESHOLD


def test_drop_is_larger_than_decoy_mnists_and_the_ramp_persuades_most(lesson):
    train_accuracy = lesson.accuracy["tainted", "train"]
    disagree = {row["artifact"]: row["acc_disagree"] for row in lesson.report.rows}
    assert train_accuracy >= 0.97
    assert train_accuracy - min(disagree.values()) > DECOY_DROP
    assert min(disagree, key=disagree.get) == "Gradient"
    assert lesson.report.row(artifact="Gradient")["flip_added"] >= 0.5


# --- Part 4: explanations -----------------------------------------------------------------


def test_methods_detect_the_local_artifacts_on_the_tainted_model(lesson):
    for row in lesson.rates.rows:
        if row["label"] == 1 or row["method"] != "guided_backprop":
            assert row["detected"] >= 0.9, row
    for label in LOCAL:
        ig = lesson.rates.row(label=label, method="integrated_gradients")
        assert ig["mass"] > 3 * ig["mass_clean"]


def test_input_weighted_methods_raise_false_alarms_gradients_do_not(lesson):
    false_alarm = {
        method: max(lesson.rates.row(label=label, method=method)["false_alarm"] for label in LOCAL)
        for method in METHODS
    }
    assert false_alarm["integrated_gradients"] >= 0.1
    assert false_alarm["saliency"] <= 0.02
    assert false_alarm["guided_backprop"] <= 0.02


def test_masks_cannot_separate_the_models_for_global_artifacts(lesson):
    for artifact in ("Gradient", "Watermark"):
        tainted = lesson.report.row(artifact=artifact)
        clean = lesson.clean_report.row(artifact=artifact)
        assert not tainted["local"]
        assert clean["mass_integrated_gradients"] >= 0.75 * tainted["mass_integrated_gradients"]
    ramp = lesson.report.row(artifact="Gradient")
    assert ramp["share"] >= 0.9
    assert ramp["mass_integrated_gradients"] >= 0.95
    assert lesson.clean_report.row(artifact="Gradient")["mass_integrated_gradients"] >= 0.95


# --- Part 5: randomisation ----------------------------------------------------------------


def _step(lesson, method: str, randomized: int) -> dict:
    return lesson.randomization.row(method=method, randomized=randomized)


def test_guided_backprop_barely_changes_while_the_top_layers_are_random(lesson):
    gbp = _step(lesson, "guided_backprop", 1)
    assert gbp["layer"] == "head"
    assert gbp["rank_correlation"] >= 0.75
    for method in RANDOMIZED_METHODS:
        if method != "guided_backprop":
            assert gbp["rank_correlation"] > _step(lesson, method, 1)["rank_correlation"]
    # Only once the first layer is random too does its picture change.
    last = max(lesson.randomization.column("randomized"))
    assert _step(lesson, "guided_backprop", last)["rank_correlation"] <= 0.2


def test_occlusion_follows_the_input_even_for_a_fully_random_model(lesson):
    last = max(lesson.randomization.column("randomized"))
    assert _step(lesson, "occlusion", last)["rank_correlation"] >= 0.6


def test_artifact_mass_collapses_when_every_layer_is_random(lesson):
    last = max(lesson.randomization.column("randomized"))
    trained, random = (
        _step(lesson, "integrated_gradients", 0),
        _step(lesson, "integrated_gradients", last),
    )
    assert random["artifact_mass"] <= 0.5 * trained["artifact_mass"]
    chance = float(zoo()[1].mask(28, 28).float().mean())
    assert _step(lesson, "saliency", last)["artifact_mass"] <= 2 * chance
    assert _step(lesson, "saliency", 0)["artifact_mass"] >= 4 * chance


def test_random_models_ig_mass_is_the_inputs_own_share(lesson):
    # What IG keeps on the square for a random model is its (input - baseline) factor alone.
    last = max(lesson.randomization.column("randomized"))
    random = _step(lesson, "integrated_gradients", last)["artifact_mass"]
    trained = _step(lesson, "integrated_gradients", 0)["artifact_mass"]
    assert abs(random - lesson.input_share) <= 0.05, (random, lesson.input_share)
    assert trained >= 2 * lesson.input_share, (trained, lesson.input_share)


# --- Part 6: removing the cue -------------------------------------------------------------


def test_weight_decay_keeps_the_ramp_shortcut_remove_ramp_removes_only_it(lesson):
    drops = {row["model"]: row for row in lesson.drops.rows}
    assert drops["weight decay"]["Gradient"] >= EXPLOIT_DROP
    assert abs(drops["RemoveRamp"]["Gradient"]) <= 0.1
    for artifact in ("Square", "Text", "Watermark"):
        assert drops["RemoveRamp"][artifact] >= EXPLOIT_DROP


def test_random_ramps_dilute_the_shortcut_without_removing_it(lesson):
    drops = {row["model"]: row for row in lesson.drops.rows}
    assert EXPLOIT_DROP <= drops["random ramps"]["Gradient"] <= 0.6 * drops["tainted"]["Gradient"]


# --- Part 7: the visibility sweep ---------------------------------------------------------


def _sweep_rows(lesson, method: str = "integrated_gradients") -> list[dict]:
    return list(lesson.sweep.where(method=method).rows)


def test_the_plainest_watermark_is_exploited_and_found_the_faintest_is_neither(lesson):
    plain, faint = _sweep_rows(lesson)[0], _sweep_rows(lesson)[-1]
    assert plain["alpha"] == max(ALPHAS) and faint["alpha"] == min(ALPHAS)
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
    assert max(lesson.sweep.column("false_alarm")) <= 0.05
