"""The MODE notebook's task checkers: right answers pass, each typical mistake is named, and an
untouched task falls back to the library's answer."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from failure_modes.course.checks import mode as checks
from failure_modes.course.checks.mode import retraining
from failure_modes.models.evaluation import accuracy, per_class_accuracy, predict
from failure_modes.tracks import mode


def _untouched(*args, **kwargs):
    return ...


# Task 1.1 -------------------------------------------------------------------------------------

PRED = np.array([0, 0, 1, 1, 2, 1, 2, 2, 0, 3, 3, 3])
TRUE = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])


def _right(pred, true, threshold):
    accuracy = np.array([(pred[true == k] == k).mean() for k in range(10)])
    return accuracy, [k for k in range(10) if accuracy[k] < threshold]


def _overall(pred, true, threshold):
    overall = (pred == true).mean()
    return np.full(10, overall), [k for k in range(10) if overall < threshold]


def _precision(pred, true, threshold):
    accuracy = np.array([(true[pred == k] == k).mean() for k in range(10)])
    return accuracy, [k for k in range(10) if accuracy[k] < threshold]


def _wrong_side(pred, true, threshold):
    accuracy, _ = _right(pred, true, threshold)
    return accuracy, [k for k in range(10) if accuracy[k] > threshold]


def _at_threshold(pred, true, threshold):
    accuracy, _ = _right(pred, true, threshold)
    return accuracy, [k for k in range(10) if accuracy[k] <= threshold]


# Every label present, so that the plain formula has no 0 / 0.
PRED_ALL = np.repeat(np.arange(10), 3)
PRED_ALL[[1, 4, 5]] = 9
TRUE_ALL = np.repeat(np.arange(10), 3)


def test_buggy_labels_accepts_a_right_answer(capsys):
    labels = checks.buggy_labels(_right, PRED_ALL, TRUE_ALL, 0.8)
    assert labels == mode.buggy_labels(per_class_accuracy(PRED_ALL, TRUE_ALL, 10), 0.8) == [0, 1]
    assert "Task 1.1: correct." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_overall, "the overall accuracy"),
        (_precision, "(precision)"),
        (_wrong_side, "the good ones"),
        (_at_threshold, "equals the threshold exactly"),
    ],
)
def test_buggy_labels_names_each_mistake(answer, phrase, capsys):
    labels = checks.buggy_labels(answer, PRED_ALL, TRUE_ALL, 0.8)
    out = capsys.readouterr().out
    assert "✗ Task 1.1" in out and phrase in out
    assert labels == [0, 1]


@pytest.mark.parametrize("answer", [..., _untouched])
def test_buggy_labels_falls_back_when_untouched(answer, capsys):
    assert checks.buggy_labels(answer, PRED_ALL, TRUE_ALL, 0.8) == [0, 1]
    assert "not done yet" in capsys.readouterr().out


# Task 3.1 -------------------------------------------------------------------------------------

FEATURES = torch.rand(12, 2, 2, generator=torch.Generator().manual_seed(1))


def _map(features, pred, true, label):
    correct = torch.as_tensor((true == label) & (pred == label))
    missed = torch.as_tensor((true == label) & (pred != label))
    return features[correct].mean(dim=0) - features[missed].mean(dim=0)


def _reversed_map(features, pred, true, label):
    return -_map(features, pred, true, label)


def _summed_map(features, pred, true, label):
    correct = torch.as_tensor((true == label) & (pred == label))
    missed = torch.as_tensor((true == label) & (pred != label))
    return features[correct].sum(dim=0) - features[missed].sum(dim=0)


def test_differential_map_accepts_a_right_answer(capsys):
    result = checks.differential_map(_map, FEATURES, PRED, TRUE, 0)
    assert "Task 3.1: correct." in capsys.readouterr().out
    expected = mode.heat_maps(FEATURES, PRED, TRUE, 0).minus_false_negative
    assert torch.allclose(result, expected)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [(_reversed_map, "sign reversed"), (_summed_map, "take the mean of each group")],
)
def test_differential_map_names_each_mistake(answer, phrase, capsys):
    result = checks.differential_map(answer, FEATURES, PRED, TRUE, 0)
    out = capsys.readouterr().out
    assert "✗ Task 3.1" in out and phrase in out
    assert torch.equal(result, mode.heat_maps(FEATURES, PRED, TRUE, 0).minus_false_negative)


@pytest.mark.parametrize("answer", [..., _untouched])
def test_differential_map_falls_back_when_untouched(answer, capsys):
    result = checks.differential_map(answer, FEATURES, PRED, TRUE, 1)
    assert "not done yet" in capsys.readouterr().out
    assert torch.equal(result, mode.heat_maps(FEATURES, PRED, TRUE, 1).minus_false_negative)


# Tasks 4.1 and 4.2 ----------------------------------------------------------------------------

CANDIDATES = torch.rand(7, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
REFERENCE = torch.tensor([0.5, -1.0, 2.0, 0.1], dtype=torch.float64)


def _cosine(candidates, reference):
    return (candidates @ reference) / (candidates.norm(dim=1) * reference.norm())


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda c, r: c @ r, "these are dot products"),
        (lambda c, r: (c @ r) / c.norm(dim=1), "the candidates' norms only"),
        (lambda c, r: (c @ r) / (c.norm() * r.norm()), "whole candidates matrix"),
    ],
)
def test_cosine_names_each_mistake(answer, phrase, capsys):
    kept = checks.cosine(answer, CANDIDATES, REFERENCE)
    out = capsys.readouterr().out
    assert "✗ Task 4.1" in out and phrase in out
    assert torch.equal(kept(CANDIDATES, REFERENCE), mode.scores(CANDIDATES, REFERENCE, "cosine"))


def test_cosine_accepts_a_right_answer_and_falls_back_when_untouched(capsys):
    assert checks.cosine(_cosine, CANDIDATES, REFERENCE) is _cosine
    assert "Task 4.1: correct." in capsys.readouterr().out
    kept = checks.cosine(_untouched, CANDIDATES, REFERENCE)
    assert "not done yet" in capsys.readouterr().out
    assert torch.equal(kept(CANDIDATES, REFERENCE), mode.scores(CANDIDATES, REFERENCE, "cosine"))


def _ranking(candidates, reference):
    return torch.argsort(_cosine(candidates, reference), descending=True)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda c, r: torch.argsort(_cosine(c, r)), "starts with the least similar"),
        (lambda c, r: torch.argsort(c @ r, descending=True), "the ranking by dot"),
        (lambda c, r: torch.argsort((c - r).norm(dim=1)), "the ranking by l1 or l2"),
        (lambda c, r: _cosine(c, r).sort(descending=True).values, "the similarities themselves"),
    ],
)
def test_ranking_names_each_mistake(answer, phrase, capsys):
    order = checks.ranking(answer, CANDIDATES, REFERENCE)
    out = capsys.readouterr().out
    assert "✗ Task 4.2" in out and phrase in out
    assert torch.equal(order, mode.rank(CANDIDATES, REFERENCE, "cosine"))


@pytest.mark.parametrize("answer", [..., _untouched])
def test_ranking_falls_back_when_untouched(answer, capsys):
    order = checks.ranking(answer, CANDIDATES, REFERENCE)
    assert "not done yet" in capsys.readouterr().out
    assert torch.equal(order, mode.rank(CANDIDATES, REFERENCE, "cosine"))


def test_ranking_accepts_a_right_answer(capsys):
    order = checks.ranking(_ranking, CANDIDATES, REFERENCE)
    assert "Task 4.2: correct." in capsys.readouterr().out
    assert torch.equal(order, mode.rank(CANDIDATES, REFERENCE, "cosine"))


# Task 4.4 -------------------------------------------------------------------------------------

# A pool of 40 inputs, four labels interleaved, eight features: every label has ten inputs.
POOL_TARGETS = torch.arange(40) % 4
POOL_FEATURES = torch.randn(40, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
POOL_REFERENCES = {
    label: torch.randn(8, generator=torch.Generator().manual_seed(10 + label), dtype=torch.float64)
    for label in (1, 2)
}
POOL_DIAGNOSES = {1: "overfitting", 2: "underfitting"}


def _picks_right(features, targets, label, diagnosis, reference, count):
    positions = torch.nonzero(targets == label).flatten()
    order = mode.rank(
        features[positions], reference, "cosine", most_similar=diagnosis == "underfitting"
    )
    return positions[order[:count]]


def _picks_flipped(features, targets, label, diagnosis, reference, count):
    other = "overfitting" if diagnosis == "underfitting" else "underfitting"
    return _picks_right(features, targets, label, other, reference, count)


def _picks_always_similar(features, targets, label, diagnosis, reference, count):
    return _picks_right(features, targets, label, "underfitting", reference, count)


def _picks_whole_pool(features, targets, label, diagnosis, reference, count):
    order = mode.rank(features, reference, "cosine", most_similar=diagnosis == "underfitting")
    return order[:count]


def _picks_in_subset(features, targets, label, diagnosis, reference, count):
    positions = torch.nonzero(targets == label).flatten()
    order = mode.rank(
        features[positions], reference, "cosine", most_similar=diagnosis == "underfitting"
    )
    return order[:count]


def _picks_scores(features, targets, label, diagnosis, reference, count):
    positions = torch.nonzero(targets == label).flatten()
    return (
        mode.scores(features[positions], reference, "cosine")
        .sort(descending=diagnosis == "underfitting")
        .values[:count]
    )


def _picks_one_too_many(features, targets, label, diagnosis, reference, count):
    return _picks_right(features, targets, label, diagnosis, reference, count + 1)


def _picks_ties_reversed(features, targets, label, diagnosis, reference, count):
    positions = torch.nonzero(targets == label).flatten()
    similarity = mode.scores(features[positions], reference, "cosine")
    order = torch.sort(similarity, descending=diagnosis != "underfitting", stable=True).indices
    return positions[order.flip(0)[:count]]


def _picks_pool_order(features, targets, label, diagnosis, reference, count):
    return _picks_right(features, targets, label, diagnosis, reference, count).sort().values


def _check_picks(answer):
    return checks.picks(answer, POOL_FEATURES, POOL_TARGETS, POOL_REFERENCES, POOL_DIAGNOSES, 4)


def _library_picks(function):
    return {
        label: function(POOL_FEATURES, POOL_TARGETS, label, d, POOL_REFERENCES[label], 4)
        for label, d in POOL_DIAGNOSES.items()
    }


def _expected_picks():
    return {
        label: mode.select_inputs(
            POOL_TARGETS,
            {label: d},
            size=4,
            measure="cosine",
            pool_features=POOL_FEATURES,
            references={label: POOL_REFERENCES[label]},
            mix=0.0,
        )  # fmt: skip
        for label, d in POOL_DIAGNOSES.items()
    }


def test_picks_accepts_a_right_answer(capsys):
    chosen = _check_picks(_picks_right)
    assert "Task 4.4: correct." in capsys.readouterr().out
    assert chosen is _picks_right
    for label, expected in _expected_picks().items():
        assert torch.equal(_library_picks(chosen)[label], expected)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_picks_flipped, "MODE takes the most similar ones first for an underfitting label"),
        (_picks_always_similar, "do not depend on the diagnosis"),
        (_picks_whole_pool, "ranked the whole pool"),
        (_picks_in_subset, "count among the label's inputs only"),
        (_picks_scores, "returned similarities"),
        (_picks_one_too_many, "take exactly count"),
        (_picks_ties_reversed, "reverse pool order"),
        (_picks_pool_order, "sorted your picks by pool position"),
    ],
)
def test_picks_names_each_mistake(answer, phrase, capsys):
    chosen = _check_picks(answer)
    out = capsys.readouterr().out
    assert "✗ Task 4.4" in out and phrase in out
    for label, expected in _expected_picks().items():
        assert torch.equal(_library_picks(chosen)[label], expected)


@pytest.mark.parametrize("answer", [..., _untouched])
def test_picks_falls_back_when_untouched(answer, capsys):
    chosen = _check_picks(answer)
    assert "not done yet" in capsys.readouterr().out
    for label, expected in _expected_picks().items():
        assert torch.equal(_library_picks(chosen)[label], expected)


def test_picks_checks_the_notebooks_pool_too(capsys):
    def wrong_on_label_2(features, targets, label, diagnosis, reference, count):
        picks = _picks_right(features, targets, label, diagnosis, reference, count)
        return picks.flip(0) if label == 2 and len(targets) == 40 else picks

    _check_picks(wrong_on_label_2)
    out = capsys.readouterr().out
    assert "✗ Task 4.4" in out and "On the pool, label 2" in out


# Task 5.1 -------------------------------------------------------------------------------------


def _join(train, picked):
    return torch.cat([train[0], picked[0]]), torch.cat([train[1], picked[1]])


def _round(model, train, pool, chosen, validation, retrain, *, seed, budget=None,
           in_place=False, on=None):  # fmt: skip
    before = accuracy(*predict(model, on or validation))
    control = mode.random_inputs(pool, budget or len(chosen), seed=seed)
    gains = {}
    for name, index in {"mode": chosen, "random": control}.items():
        new = model if in_place else copy.deepcopy(model)
        retrain(new, _join(train, mode.take(pool, index)[0]))
        gains[name] = accuracy(*predict(new, on or validation)) - before
    return gains


def _right_round(model, train, pool, chosen, validation, retrain, *, seed):
    return _round(model, train, pool, chosen, validation, retrain, seed=seed)


def _other_budget(model, train, pool, chosen, validation, retrain, *, seed):
    return _round(model, train, pool, chosen, validation, retrain, seed=seed, budget=5)


def _in_place(model, train, pool, chosen, validation, retrain, *, seed):
    return _round(model, train, pool, chosen, validation, retrain, seed=seed, in_place=True)


def _on_train(model, train, pool, chosen, validation, retrain, *, seed):
    return _round(model, train, pool, chosen, validation, retrain, seed=seed, on=train)


def test_round_against_random_accepts_a_right_answer(capsys):
    assert checks.round_against_random(_right_round) is _right_round
    assert "Task 5.1: correct." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (_other_budget, "as many pool inputs as MODE"),
        (_in_place, "already improved"),
        (_on_train, "measured on the training inputs"),
    ],
)
def test_round_against_random_names_each_mistake(answer, phrase, capsys):
    assert checks.round_against_random(answer) is mode.round_against_random
    out = capsys.readouterr().out
    assert "✗ Task 5.1" in out and phrase in out


@pytest.mark.parametrize("answer", [..., _untouched])
def test_round_against_random_falls_back_when_untouched(answer, capsys):
    assert checks.round_against_random(answer) is mode.round_against_random
    assert "not done yet" in capsys.readouterr().out


def test_the_checks_leave_the_global_random_stream_alone():
    state = torch.random.get_rng_state()
    checks.round_against_random(_right_round)
    checks.differential_map(_map, FEATURES, PRED, TRUE, 0)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_the_reference_round_retrains_copies_with_the_same_budget():
    probe = retraining._round_probe()
    gains = mode.round_against_random(
        probe.model, probe.train, probe.pool, probe.chosen, probe.validation, probe.spy, seed=0
    )
    assert set(gains) == {"mode", "random"}
    assert probe.spy.calls == [(len(probe.chosen) + len(probe.train[1]), True)] * 2
    assert retraining._same_state(probe.model, probe.spy.start)
