"""MODE's parts: measures and their ranking direction, splits, heat maps, selection, the loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from scipy.spatial import distance

from failure_modes.models import DenseModel
from failure_modes.tracks import mode
from failure_modes.tracks.mode import CONTROLS, MEASURES, ModeConfig, Probe

SCIPY_METRICS = {
    "l1": {"metric": "cityblock"},
    "l2": {"metric": "euclidean"},
    "minkowski3": {"metric": "minkowski", "p": 3},
    "chebyshev": {"metric": "chebyshev"},
    "canberra": {"metric": "canberra"},
    "bray_curtis": {"metric": "braycurtis"},
}


def _random(shape: tuple[int, ...], seed: int = 0, low: float = 0.0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=generator, dtype=torch.float64) + low


# --- measures -------------------------------------------------------------------------------


def test_there_are_nine_measures_of_both_kinds():
    assert len(MEASURES) == 9
    assert {name for name, m in MEASURES.items() if m.kind == "similarity"} == {"dot", "cosine"}


@pytest.mark.parametrize("name", sorted(SCIPY_METRICS))
def test_distances_agree_with_scipy(name: str):
    candidates, reference = _random((6, 20), 1), _random((20,), 2) - 0.3
    expected = distance.cdist(candidates.numpy(), reference.numpy()[None], **SCIPY_METRICS[name])
    assert np.allclose(mode.scores(candidates, reference, name).numpy(), expected[:, 0])


def test_similarities_and_wasserstein_agree_with_scipy():
    candidates, reference = _random((6, 20), 3) - 0.5, _random((20,), 4) - 0.5
    c, r = candidates.numpy(), reference.numpy()
    assert np.allclose(mode.scores(candidates, reference, "dot").numpy(), c @ r)
    cosine = 1 - distance.cdist(c, r[None], metric="cosine")[:, 0]
    assert np.allclose(mode.scores(candidates, reference, "cosine").numpy(), cosine)
    emd = [stats.wasserstein_distance(row, r) for row in c]
    assert np.allclose(mode.scores(candidates, reference, "wasserstein").numpy(), emd)


def _towards_another_map() -> tuple[torch.Tensor, torch.Tensor]:
    # Candidates slide from the reference itself to a map on disjoint pixels with other values:
    # every measure that looks at positions must rank them in the order they were made.
    reference = torch.zeros(40, dtype=torch.float64)
    reference[:10] = torch.linspace(1.0, 2.0, 10, dtype=torch.float64)
    other = torch.zeros(40, dtype=torch.float64)
    other[20:40] = 0.75
    steps = torch.linspace(0, 1, 5, dtype=torch.float64)[:, None]
    return (1 - steps) * reference + steps * other, reference


def _shrinking_copies() -> tuple[torch.Tensor, torch.Tensor]:
    # Candidates are the reference scaled by 1, 0.75, ..., 0: alike in direction, not in size.
    reference = _random((30,), 5, low=0.1)
    return torch.linspace(1, 0, 5, dtype=torch.float64)[:, None] * reference, reference


KNOWN_ORDER = [
    *[(name, _towards_another_map) for name in MEASURES if name != "wasserstein"],
    # Cosine ignores scale, so shrinking copies all tie for it; every other measure ranks them.
    *[(name, _shrinking_copies) for name in MEASURES if name != "cosine"],
]


@pytest.mark.parametrize(("name", "case"), KNOWN_ORDER)
def test_ranking_direction_on_a_known_order(name: str, case):
    candidates, reference = case()
    expected = torch.arange(len(candidates))
    assert torch.equal(mode.rank(candidates, reference, name), expected)
    assert torch.equal(mode.rank(candidates, reference, name, most_similar=False), expected.flip(0))


def test_wasserstein_is_blind_to_where_values_sit():
    reference = _random((50,), 6)
    shuffled = reference[torch.randperm(50, generator=torch.Generator().manual_seed(0))]
    assert mode.scores(shuffled[None], reference, "wasserstein").item() == pytest.approx(0.0)
    assert mode.scores(shuffled[None], reference, "l2").item() > 0.5


def test_cosine_is_blind_to_scale():
    reference = _random((10,), 7)
    values = mode.scores(torch.stack([reference, 3 * reference]), reference, "cosine")
    assert torch.allclose(values, torch.ones(2, dtype=torch.float64))


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (4, 12), elements=st.floats(-10, 10)), st.sampled_from(sorted(MEASURES)))
def test_distances_vanish_at_the_reference_and_rank_is_a_permutation(values, name):
    candidates = torch.from_numpy(values)
    reference = candidates[0]
    order = mode.rank(candidates, reference, name)
    assert sorted(order.tolist()) == [0, 1, 2, 3]
    if MEASURES[name].kind == "distance":
        raw = mode.scores(candidates, reference, name)
        assert raw[0].item() == pytest.approx(0.0, abs=1e-9)
        assert bool((raw >= 0).all())


def test_unknown_measure_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match="Unknown measure 'manhattan'.*cosine"):
        mode.rank(torch.zeros(2, 3), torch.zeros(3), "manhattan")


def test_mismatched_reference_is_rejected():
    with pytest.raises(ValueError, match="as many values as reference"):
        mode.scores(torch.zeros(2, 3), torch.zeros(4), "l2")


def test_a_label_the_pool_has_run_out_of_ranks_to_nothing():
    assert mode.rank(torch.zeros(0, 3), torch.ones(3), "cosine").tolist() == []


def test_nan_reference_is_rejected():
    with pytest.raises(ValueError, match="NaN"):
        mode.rank(torch.zeros(2, 3), torch.tensor([0.0, float("nan"), 1.0]), "l1")


# --- splits, diagnosis ------------------------------------------------------------------------


def _digits(per_label: int = 30, size: int = 6, seed: int = 0) -> mode.Data:
    # Separable toy "digits": each label lights its own pixel, plus noise.
    generator = torch.Generator().manual_seed(seed)
    targets = torch.arange(10).repeat_interleave(per_label)
    inputs = 0.3 * torch.randn(len(targets), 1, size, size, generator=generator)
    inputs.view(len(targets), -1)[torch.arange(len(targets)), targets * 3] += 2.0
    return inputs, targets


SMALL_SPLIT = {"validation_per_label": 8, "train_per_label": 10, "pool_per_label": 10}


def test_splits_are_disjoint_and_sized_as_asked():
    data = _digits()
    before = data[0].clone()
    splits = mode.make_splits(data, starved_labels=(2, 5), starved_count=2, seed=3, **SMALL_SPLIT)
    assert torch.equal(data[0], before)
    counts = {
        name: getattr(splits, name)[1].bincount(minlength=10)
        for name in ("train", "pool", "validation")
    }
    assert counts["validation"].tolist() == [8] * 10
    assert counts["pool"].tolist() == [10] * 10
    assert counts["train"].tolist() == [10, 10, 2, 10, 10, 2, 10, 10, 10, 10]
    rows = torch.cat([splits.train[0], splits.pool[0], splits.validation[0]]).flatten(1)
    assert len(torch.unique(rows, dim=0)) == len(rows)


def test_splits_depend_on_the_seed_only():
    data = _digits()
    a, b = (mode.make_splits(data, seed=1, **SMALL_SPLIT) for _ in range(2))
    c = mode.make_splits(data, seed=2, **SMALL_SPLIT)
    assert torch.equal(a.pool[0], b.pool[0]) and not torch.equal(a.pool[0], c.pool[0])


def test_splits_reject_labels_without_enough_inputs():
    with pytest.raises(ValueError, match="label 0 has 30 inputs"):
        mode.make_splits(_digits(), validation_per_label=20, train_per_label=10)
    with pytest.raises(ValueError, match="starved_labels"):
        mode.make_splits(_digits(), starved_labels=(11,), **SMALL_SPLIT)


def test_float_or_misshaped_targets_are_rejected_with_the_argument_name():
    inputs, targets = _digits()
    with pytest.raises(TypeError, match="data: targets must hold integer class labels"):
        mode.make_splits((inputs, targets.double()), **SMALL_SPLIT)
    with pytest.raises(ValueError, match="train: targets must have shape"):
        mode.train_starting_model((inputs, targets[:-1]), seed=0, progress=False)


def test_buggy_labels_and_diagnosis():
    validation = np.array([0.9, 0.5, 0.79, 0.8, np.nan])
    train = np.array([1.0, 0.55, 1.0, 0.9, 1.0])
    assert mode.buggy_labels(validation, 0.8) == [1, 2]
    assert mode.diagnose(train, validation, [1, 2], gap=0.1) == {
        1: "underfitting",
        2: "overfitting",
    }


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.2, 1.5])
def test_thresholds_outside_the_open_unit_interval_are_rejected(threshold: float):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        mode.buggy_labels([0.5, 0.9], threshold)
    with pytest.raises(ValueError, match="threshold"):
        ModeConfig(threshold=threshold)
    with pytest.raises(ValueError, match="gap"):
        mode.diagnose([1.0], [0.5], [0], gap=threshold)


def test_config_rejects_bad_settings():
    with pytest.raises(TypeError, match="size"):
        ModeConfig(size=2.5)
    with pytest.raises(ValueError, match="mix"):
        ModeConfig(mix=1.5)
    with pytest.raises(ValueError, match="lr"):
        ModeConfig(lr=0)
    with pytest.raises(TypeError, match="lr"):
        ModeConfig(lr=None)
    with pytest.raises(TypeError, match="config must be a ModeConfig"):
        mode.check_config({"size": 2})


# --- layer targeting -----------------------------------------------------------------------


def test_probe_points_are_the_hidden_activations():
    model = DenseModel(input_shape=(6, 6), hidden_sizes=(8, 7, 5))
    assert mode.probe_points(model) == {"relu1": 3, "relu2": 5, "relu3": 7}
    with pytest.raises(TypeError, match="nn.Sequential"):
        mode.probe_points(torch.nn.Linear(3, 2))


def test_layer_features_are_the_prefix_output():
    torch.manual_seed(0)
    model = DenseModel(input_shape=(6, 6), hidden_sizes=(8, 7))
    inputs = torch.randn(5, 1, 6, 6)
    expected = model.relu2(model.fc2(model.relu1(model.fc1(inputs.flatten(1)))))
    assert torch.allclose(mode.layer_features(model, "relu2", inputs, batch_size=2), expected)
    assert mode.layer_features(model, "input", inputs).shape == (5, 36)
    with pytest.raises(ValueError, match="Unknown layer 'fc9'"):
        mode.layer_features(model, "fc9", inputs)


def _probe(layer: str, predictions: list[int]) -> Probe:
    return Probe(layer, np.array(predictions), 0.5)


def test_saturation_is_the_first_layer_whose_next_probe_agrees():
    probes = [
        _probe("a", [0, 1, 2, 3]),
        _probe("b", [0, 1, 1, 1]),
        _probe("c", [0, 1, 1, 2]),
        _probe("d", [0, 1, 1, 2]),
    ]
    layer, agreements = mode.saturation_layer(probes, agreement=0.75)
    assert layer == "b" and agreements == [0.5, 0.75, 1.0]
    assert mode.saturation_layer(probes, agreement=0.99)[0] == "c"
    assert mode.saturation_layer(probes[:2], agreement=0.9)[0] == "b"  # none: the last
    with pytest.raises(ValueError, match="probes is empty"):
        mode.saturation_layer([])


def test_probe_layers_leave_the_model_unchanged():
    data = _digits()
    model = DenseModel(input_shape=(6, 6), hidden_sizes=(16, 8))
    before = [p.clone() for p in model.parameters()]
    probes = mode.probe_layers(model, data, data, epochs=2, progress=False)
    assert [p.layer for p in probes] == ["relu1", "relu2"]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(len(p.predictions) == len(data[1]) and 0 <= p.accuracy <= 1 for p in probes)


# --- heat maps ----------------------------------------------------------------------------------


def test_heat_maps_average_each_group():
    features = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 4.0], [0.0, 2.0], [5.0, 5.0]])
    true = [1, 1, 1, 0, 0]
    pred = [1, 1, 0, 1, 0]
    maps = mode.heat_maps(features, pred, true, label=1)
    assert maps.correct.tolist() == [2.0, 0.0]
    assert maps.false_negative.tolist() == [0.0, 4.0]
    assert maps.false_positive.tolist() == [0.0, 2.0]
    assert maps.counts == {"correct": 2, "false_positive": 1, "false_negative": 1, "label_mean": 3}
    assert maps.minus_false_negative.tolist() == [2.0, -4.0]
    assert maps.reference.tolist() == [2.0, -3.0]  # correct minus the mean of both error maps


def test_heat_maps_of_an_empty_group_are_nan_and_left_out_of_the_reference():
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]])
    maps = mode.heat_maps(features, [1, 0, 0], [1, 1, 0], label=1)
    assert bool(maps.false_positive.isnan().all())
    assert maps.reference.tolist() == [-2.0, -2.0]
    nothing_right = mode.heat_maps(features, [0, 0, 0], [1, 1, 0], label=1)
    assert nothing_right.reference.tolist() == [0.0, 0.0]  # label mean minus false negatives
    with pytest.raises(ValueError, match="one entry per item"):
        mode.heat_maps(features, [1, 0], [1, 1, 0], label=1)
    with pytest.raises(ValueError, match="not present"):
        mode.heat_maps(features, [1, 0, 0], [1, 1, 0], label=7)


# --- selection ----------------------------------------------------------------------------------


def _pool(per_label: int = 20) -> mode.Data:
    return _digits(per_label, seed=9)


def test_take_splits_without_touching_the_pool():
    pool = _pool()
    before = (pool[0].clone(), pool[1].clone())
    chosen, rest = mode.take(pool, [3, 0, 7])
    assert torch.equal(pool[0], before[0]) and torch.equal(pool[1], before[1])
    assert torch.equal(chosen[1], pool[1][[3, 0, 7]])
    assert len(rest[1]) == len(pool[1]) - 3
    with pytest.raises(ValueError, match="repeat"):
        mode.take(pool, [1, 1])
    with pytest.raises(ValueError, match="indices must lie"):
        mode.take(pool, [len(pool[1])])
    with pytest.raises(TypeError, match="chosen must be integer positions"):
        mode.take(pool, [0.5, 2.0], name="chosen")  # 0.5 is no position, not input 0
    assert len(mode.take(pool, [])[0][1]) == 0


def test_empty_pool_and_too_small_pool_are_rejected():
    empty = (torch.zeros(0, 1, 6, 6), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="pool is empty"):
        mode.random_inputs(empty, 5, seed=0)
    with pytest.raises(ValueError, match="pool holds 200 inputs but size=201"):
        mode.random_inputs(_pool(), 201, seed=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        mode.random_inputs(_pool(), 5, seed=2.5)  # not truncated to seed 2
    with pytest.raises(TypeError, match="seed must be an int"):
        mode.select_inputs(_pool()[1], {1: "underfitting"}, size=5, seed=2.5)
    with pytest.raises(ValueError, match="pool holds 200 inputs but size=300"):
        mode.select_inputs(_pool()[1], {1: "underfitting"}, size=300)


def test_selection_shares_the_labels_and_ranks_within_each():
    pool = _pool()
    features = pool[0].flatten(1)
    references = {label: features[pool[1] == label].mean(0) for label in (2, 5)}
    diagnoses = {2: "underfitting", 5: "overfitting"}
    index = mode.select_inputs(
        pool[1], diagnoses, size=20, measure="l2", pool_features=features,
        references=references, mix=0.25, seed=0,
    )  # fmt: skip
    labels = pool[1][index]
    assert labels[:8].tolist() == [2] * 8 and labels[8:15].tolist() == [5] * 7
    assert not bool(torch.isin(labels[15:], torch.tensor([2, 5])).any())
    for label, picked, most_similar in [(2, index[:8], True), (5, index[8:15], False)]:
        candidates = torch.nonzero(pool[1] == label).flatten()
        order = mode.rank(features[candidates], references[label], "l2", most_similar=most_similar)
        assert picked.tolist() == candidates[order[: len(picked)]].tolist()


def test_label_random_selection_needs_no_features_and_a_short_label_hands_on_its_share():
    pool = _pool(per_label=5)
    index = mode.select_inputs(pool[1], {4: "overfitting"}, size=12, mix=0.0, seed=1)
    labels = pool[1][index]
    assert (labels == 4).sum() == 5 and len(index) == 12 and len(index.unique()) == 12


def test_selection_rejects_missing_parts():
    pool = _pool()
    with pytest.raises(ValueError, match="needs pool_features and references"):
        mode.select_inputs(pool[1], {1: "underfitting"}, size=4, measure="dot")
    with pytest.raises(ValueError, match="diagnoses is empty"):
        mode.select_inputs(pool[1], {}, size=4)
    with pytest.raises(ValueError, match="Unknown measure"):
        mode.select_inputs(
            pool[1], {1: "underfitting"}, size=4, measure="emd",
            pool_features=pool[0].flatten(1), references={1: torch.zeros(36)},
        )  # fmt: skip


# --- the loop -----------------------------------------------------------------------------------

TINY = ModeConfig(size=12, iterations=2, epochs=2, threshold=0.9)


@pytest.fixture(scope="module")
def tiny_setup():
    data = _digits(per_label=40)
    splits = mode.make_splits(data, starved_labels=(3,), starved_count=2, seed=0, **SMALL_SPLIT)
    model = mode.train_starting_model(
        splits.train, seed=0, epochs=3, hidden_sizes=(16, 8), progress=False
    )
    return splits, model


def test_starting_model_and_probes_leave_the_callers_random_state_alone():
    data = _digits()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    model = mode.train_starting_model(data, seed=0, epochs=1, hidden_sizes=(8,), progress=False)
    mode.probe_layers(model, data, data, epochs=1, progress=False)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("selection", ["cosine", *CONTROLS])
def test_debug_model_adds_the_same_data_and_changes_nothing_it_was_given(tiny_setup, selection):
    splits, model = tiny_setup
    weights = [p.clone() for p in model.parameters()]
    pool = splits.pool[1].clone()
    run = mode.debug_model(
        model, splits, selection=selection, seed=0, config=TINY, test=splits.validation,
        progress=False,
    )  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters(), strict=True))
    assert torch.equal(splits.pool[1], pool)
    assert run.name == selection
    assert run.validation.shape == run.test.shape == (3, 10)
    assert run.selected.shape == (2, 10) and run.selected.sum(axis=1).tolist() == [12, 12]
    assert np.allclose(run.validation, run.test)  # test given as the validation split here


def test_debug_model_is_repeatable_and_rejects_unknown_selections(tiny_setup):
    splits, model = tiny_setup
    runs = [
        mode.debug_model(model, splits, selection="dot", seed=4, config=TINY, progress=False)
        for _ in "ab"
    ]
    assert np.array_equal(runs[0].validation, runs[1].validation)
    assert np.isnan(runs[0].test).all()
    with pytest.raises(ValueError, match="Unknown selection 'best'"):
        mode.debug_model(model, splits, selection="best", seed=0)


def test_experiment_and_summary(tiny_setup):
    data = _digits(per_label=40)
    results = mode.run_experiment(
        data, data, seeds=[0, 1], selections=["canberra", *CONTROLS], config=TINY,
        split_options={**SMALL_SPLIT, "starved_labels": (3,), "starved_count": 2},
        start_epochs=3, progress=False,
    )  # fmt: skip
    assert [r.seed for r in results] == [0, 1]
    summary = mode.summarise(results)
    assert set(summary) == {"canberra", *CONTROLS}
    assert set(summary["canberra"]["against"]) == set(CONTROLS)
    assert set(summary["random"]["against"]) == {"label_random"}
    assert len(summary["canberra"]["buggy"]) == 2
    assert set(results[0].start.diagnoses) == set(results[0].buggy)
    assert results[0].start.validation_accuracy.shape == (10,)
    table = mode.summary_table(summary)
    assert list(table.index) == ["canberra", *CONTROLS]
    assert (
        table.loc["canberra", "wins vs random"]
        == summary["canberra"]["against"]["random"]["buggy"]["wins"]
    )
    with pytest.raises(ValueError, match="seeds is empty"):
        mode.run_experiment(data, data, seeds=[])


# --- the paired test ----------------------------------------------------------------------------


def test_paired_test_is_scipys_one_sided_t_test():
    treated, control = [0.8, 0.85, 0.9, 0.7, 0.95], [0.7, 0.8, 0.85, 0.72, 0.8]
    result = mode.paired_test(treated, control)
    expected = stats.ttest_rel(treated, control, alternative="greater")
    assert result["pvalue"] == pytest.approx(expected.pvalue)
    assert result["statistic"] == pytest.approx(expected.statistic)
    assert result["wins"] == 4 and result["mean_difference"] == pytest.approx(0.066)
    with pytest.raises(ValueError, match="equal length"):
        mode.paired_test([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="at least 2 seeds"):
        mode.paired_test([1.0], [0.5])
