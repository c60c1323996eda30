"""shortcuts: behavioural test, shortcut report, randomisation check, cue removal, sweep.

Unit tests on the tiny synthetic datasets of conftest.py, with hand-built models whose
reliance on an artifact is known exactly: a "cheater" that answers from one pixel only, and
an "honest" model that never looks there.
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from failure_modes.data.taint import Gradient, Pixel, Square, taint_dataset
from failure_modes.explain.attribution import rank_correlation
from failure_modes.models import DenseModel
from failure_modes.tracks.clever_hans import (
    RemoveRamp,
    augment,
    behavioural_test,
    compare_models,
    explain_inputs,
    explain_local,
    flag_rates,
    random_lightness,
    randomization_check,
    rank_correlation_within,
    shortcut_report,
    sweep_watermark,
    train_dense,
    visibility_sweep,
    wide,
    with_images,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SETTINGS = settings(max_examples=20, deadline=None)
ARTIFACT = Square(row=0, col=0, size=2)  # the fixture's images never have ink in this corner


class Cheater(nn.Module):
    """Predicts ``label`` when the top-left corner is bright, else ``fallback``."""

    def __init__(self, label: int, fallback: int = 0) -> None:
        super().__init__()
        self.label, self.fallback = label, fallback
        self.scale = nn.Parameter(torch.tensor(10.0))  # gives the model a device and a gradient

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        corner = x[:, 0, :2, :2].mean(dim=(1, 2))
        logits = torch.zeros(len(x), 10, device=x.device)
        logits[:, self.fallback] = 0.5
        return logits.index_add(1, torch.tensor([self.label]), (self.scale * corner)[:, None])


class Honest(nn.Module):
    """Recognises each image of ``dataset`` by its centre (where the "digit" is); ignores corners."""

    def __init__(self, dataset) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.table = {
            self._key(image.float() / 255): int(label)
            for image, label in zip(dataset.data, dataset.targets, strict=True)
        }

    @staticmethod
    def _key(image: torch.Tensor) -> bytes:
        return bytes((image[7:21, 7:21] * 255).round().to(torch.uint8).flatten().tolist())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        labels = torch.tensor([self.table.get(self._key(image[0]), 0) for image in x])
        return nn.functional.one_hot(labels, 10).float() + 0 * self.weight


class Blind(nn.Module):
    """A differentiable model that reads the centre only: the corner gets no relevance."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.linspace(-1, 1, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0, 7:21, 7:21].mean(dim=(1, 2))[:, None] * self.weight


@pytest.fixture
def dataset(make_dataset):
    return make_dataset(n_per_class=6)


# --- behavioural_test -----------------------------------------------------------------------


def test_behavioural_test_flags_a_model_that_follows_the_artifact(dataset):
    result = behavioural_test(Cheater(label=1), dataset, ARTIFACT, 1)
    assert result["flip_to"] == 1.0 and result["flagged"]
    assert result["acc_disagree"] == 0.0


def test_behavioural_test_does_not_flag_a_model_that_ignores_it(dataset):
    honest = Honest(dataset)
    result = behavioural_test(honest, dataset, ARTIFACT, 1)
    assert result["flip_to"] == 0.0 and not result["flagged"]
    assert result["acc_disagree"] == result["acc_other_clean"] == 1.0


def test_behavioural_test_leaves_the_dataset_alone(dataset):
    before = dataset.data.clone()
    behavioural_test(Cheater(label=1), dataset, ARTIFACT, 1)
    assert torch.equal(dataset.data, before)


def test_behavioural_test_rejects_bad_input(dataset, make_dataset):
    with pytest.raises(TypeError, match="Corruption"):
        behavioural_test(Cheater(1), dataset, "square", 1)
    with pytest.raises(ValueError, match=r"label \[11\]"):
        behavioural_test(Cheater(1), dataset, ARTIFACT, 11)
    with pytest.raises(ValueError, match="threshold"):
        behavioural_test(Cheater(1), dataset, ARTIFACT, 1, threshold=1.5)
    with pytest.raises(ValueError, match="other classes"):
        behavioural_test(Cheater(1), make_dataset(labels=(1,)), ARTIFACT, 1)


# --- shortcut_report ------------------------------------------------------------------------


def test_report_says_which_shortcut_was_taken(dataset):
    corruptions = {1: ARTIFACT, 2: Pixel(row=27, col=27)}
    tainted = taint_dataset(dataset, corruptions)
    report = shortcut_report(
        Cheater(label=1, fallback=2), dataset, tainted, corruptions,
        methods=("integrated_gradients", "saliency"), baselines=0.0, progress=False,
    )  # fmt: skip
    assert report["label"].tolist() == [1, 2]
    square, pixel = report.to_dict("records")
    assert square["acc_tainted"] == 1.0 and square["acc_clean"] == 0.0
    assert square["exploited"] and square["behaviour_flag"] and square["flip_removed"] == 1.0
    assert square["local"] and square["share"] == pytest.approx(4 / 784)
    # The cheater's relevance lies entirely on the corner it reads.
    assert square["mass_integrated_gradients"] == pytest.approx(1.0)
    assert square["mass_saliency"] == pytest.approx(1.0)
    assert square["ig_flag"] is True
    # Class 2 is predicted from the fallback logit whatever the pixel does: no shortcut.
    assert pixel["drop"] == 0.0 and not pixel["exploited"] and not pixel["behaviour_flag"]
    assert pixel["ig_flag"] is False


def test_report_marks_global_artifacts_and_skips_attribution_without_methods(dataset):
    corruptions = {3: Gradient()}
    tainted = taint_dataset(dataset, corruptions)
    report = shortcut_report(
        Honest(dataset), dataset, tainted, corruptions, methods=(), progress=False
    )
    row = report.iloc[0]
    assert not row["local"] and row["ig_flag"] is None
    assert not any(name.startswith("mass_") for name in report.columns)


def test_report_rejects_misaligned_or_unknown_input(dataset, make_dataset):
    corruptions = {1: ARTIFACT}
    tainted = taint_dataset(dataset, corruptions)
    other = taint_dataset(make_dataset(n_per_class=5), corruptions)
    with pytest.raises(ValueError, match="taint_dataset"):
        shortcut_report(Cheater(1), dataset, other, corruptions)
    with pytest.raises(ValueError, match="Unknown method"):
        shortcut_report(Cheater(1), dataset, tainted, corruptions, methods=("lime",))
    with pytest.raises(ValueError, match=r"\[12\]"):
        shortcut_report(Cheater(1), dataset, tainted, {12: ARTIFACT})
    with pytest.raises(ValueError, match="n_explain"):
        shortcut_report(Cheater(1), dataset, tainted, corruptions, n_explain=0)


# --- explanations ---------------------------------------------------------------------------


def test_explain_inputs_picks_tainted_images_of_the_label(dataset):
    tainted = taint_dataset(dataset, {4: ARTIFACT}, fraction=0.5, seed=1)
    inputs, index = explain_inputs(tainted, 4, n=10)
    assert len(inputs) == 3 and inputs.shape[1:] == (1, 28, 28)
    assert bool(tainted.tainted[index].all()) and bool((tainted.targets[index] == 4).all())


def test_explain_local_and_flag_rates_tell_the_cheater_from_a_blind_model(dataset):
    corruptions = {1: ARTIFACT}
    tainted = taint_dataset(dataset, corruptions)
    rates, comparisons, clean = explain_local(
        Cheater(1), Blind(), tainted, corruptions, labels=(1,),
        methods=("saliency",), baselines=0.0, progress=False,
    )  # fmt: skip
    (row,) = rates[(rates["label"] == 1) & (rates["method"] == "saliency")].to_dict("records")
    assert row["detected"] == 1.0 and row["mass"] == pytest.approx(1.0)
    assert row["false_alarm"] == 0.0 and row["mass_clean"] == 0.0
    assert flag_rates(comparisons[1]).to_dict("records") == [{"method": "saliency", "flagged": 1.0}]
    assert flag_rates(clean[1]).to_dict("records") == [{"method": "saliency", "flagged": 0.0}]


def test_randomization_check_has_one_row_per_step_and_method():
    torch.manual_seed(0)
    model = DenseModel(hidden_sizes=(8,)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    inputs = torch.rand(3, 1, 28, 28)
    mask = ARTIFACT.mask(28, 28)
    table = randomization_check(
        model, inputs, 2, mask, methods=("saliency", "guided_backprop"), progress=False
    )
    assert len(table) == 3 * 2  # trained, head, fc1
    assert table["layer"].tolist()[::2] == ["-", "head", "fc1"]
    trained = table[table["randomized"] == 0]
    for column in ("rank_correlation", "rank_correlation_ink", "ssim"):
        assert trained[column].tolist() == pytest.approx([1.0, 1.0])
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_rank_correlation_within_ignores_the_zeros_both_maps_share():
    first, second = torch.zeros(1, 28, 28), torch.zeros(1, 28, 28)
    first[0, 0, :10] = torch.arange(1.0, 11.0)
    second[0, 0, :10] = torch.arange(10.0, 0.0, -1.0)
    ink = torch.zeros(28, 28, dtype=torch.bool)
    ink[0, :10] = True
    # Over all pixels the 774 shared zeros make two opposite rankings look alike.
    assert float(rank_correlation(first, second)) > 0.9
    assert rank_correlation_within(first, second, ink).tolist() == pytest.approx([-1.0])
    assert rank_correlation_within(first, first, ink[None]).tolist() == pytest.approx([1.0])
    one = torch.zeros_like(ink)
    one[0, 0] = True
    assert rank_correlation_within(first, second, one).tolist() == [0.0]  # 1 vs 10: differ
    assert rank_correlation_within(first, first, one).tolist() == [1.0]


def test_rank_correlation_within_rejects_bad_pixels():
    maps = torch.rand(2, 1, 28, 28)
    with pytest.raises(TypeError, match="boolean"):
        rank_correlation_within(maps, maps, torch.ones(28, 28))
    with pytest.raises(ValueError, match="shape"):
        rank_correlation_within(maps, maps, torch.ones(3, 28, 28, dtype=torch.bool))


def test_wide_keeps_the_order_rows_and_columns_first_appear():
    table = pd.DataFrame(
        {"method": ["b", "a", "b", "a"], "layer": ["-", "-", "head", "head"], "v": [1, 2, 3, 4]}
    )
    pivoted = wide(table, "method", "layer", "v")
    assert list(pivoted.index) == ["b", "a"] and list(pivoted.columns) == ["-", "head"]
    assert pivoted.loc["a", "head"] == 4


# --- removing the cue -----------------------------------------------------------------------


@SETTINGS
@given(
    amplitude=st.floats(1.0, 120.0),
    corner=st.sampled_from(["top-left", "top-right", "bottom-left", "bottom-right"]),
    offset=st.floats(-2.0, 2.0),
    seed=st.integers(0, 2**31),
)
def test_remove_ramp_erases_any_brightness_plane(amplitude, corner, offset, seed):
    layer = RemoveRamp()
    images = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    plane = Gradient(amplitude=amplitude, corner=corner).ramp(28, 28) / 255 + offset
    torch.testing.assert_close(layer(images + plane), layer(images), atol=1e-4, rtol=0)


def test_remove_ramp_keeps_what_is_not_a_plane():
    images = torch.zeros(1, 1, 28, 28)
    images[0, 0, 10:14, 10:14] = 1.0
    out = RemoveRamp()(images)
    assert out.shape == images.shape
    assert float(out[0, 0, 12, 12]) > 0.9 and abs(float(out.mean())) < 1e-5


@SETTINGS
@given(seed=st.integers(0, 2**31), max_amplitude=st.floats(1.0, 255.0))
def test_random_lightness_brightens_seeded_and_leaves_input_alone(seed, max_amplitude):
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    before = images.clone()
    out = random_lightness(images, max_amplitude=max_amplitude, seed=seed)
    assert out.dtype == torch.uint8 and out.shape == images.shape
    assert bool((out >= images).all())
    assert int((out.int() - images.int()).max()) <= round(max_amplitude)
    assert torch.equal(out, random_lightness(images, max_amplitude=max_amplitude, seed=seed))
    assert torch.equal(images, before)


def test_random_lightness_varies_direction_between_images():
    out = random_lightness(torch.zeros(64, 28, 28, dtype=torch.uint8), seed=0)
    corners = out[:, [0, 0, 27, 27], [0, 27, 0, 27]]
    assert set(corners.argmax(dim=1).tolist()) == {0, 1, 2, 3}


def test_random_lightness_rejects_bad_input():
    with pytest.raises(ValueError, match="max_amplitude"):
        random_lightness(torch.zeros(1, 28, 28, dtype=torch.uint8), max_amplitude=0)
    with pytest.raises(TypeError, match="uint8"):
        random_lightness(torch.zeros(1, 28, 28))


def test_augment_stacks_copies_and_keeps_the_dataset(dataset):
    before = dataset.data.clone()
    augmented = augment(dataset, copies=3, seed=2)
    assert len(augmented.data) == 3 * len(dataset.data)
    assert torch.equal(augmented.targets, dataset.targets.repeat(3))
    assert type(augmented) is type(dataset) and augmented.transform is dataset.transform
    assert not torch.equal(
        augmented.data[: len(before)], augmented.data[len(before) :][: len(before)]
    )
    assert torch.equal(dataset.data, before)
    with pytest.raises(ValueError, match="copies"):
        augment(dataset, copies=0)


def test_with_images_makes_an_independent_copy(dataset):
    images = torch.zeros(3, 28, 28, dtype=torch.uint8)
    copy = with_images(dataset, images, torch.tensor([0, 1, 2]))
    assert copy is not dataset and len(copy.data) == 3 and len(dataset.data) == 60
    assert copy.data.data_ptr() != images.data_ptr()
    with pytest.raises(ValueError, match="targets"):
        with_images(dataset, images)
    with pytest.raises(TypeError, match="uint8"):
        with_images(dataset, images.float())


# --- training helpers and the sweep (tiny, one epoch) ---------------------------------------


def test_train_dense_is_repeatable_and_adds_remove_ramp(dataset):
    first = train_dense(dataset, seed=3, epochs=1, progress=False)
    again = train_dense(dataset, seed=3, epochs=1, progress=False)
    assert all(
        torch.equal(a, b) for a, b in zip(first.parameters(), again.parameters(), strict=True)
    )
    ramped = train_dense(dataset, seed=3, epochs=1, remove_ramp=True, progress=False)
    assert isinstance(ramped[0], RemoveRamp) and isinstance(ramped[1], DenseModel)
    decayed = train_dense(dataset, seed=3, epochs=1, weight_decay=0.5, progress=False)
    assert not torch.equal(decayed.head.weight, first.head.weight)


def test_train_dense_leaves_the_callers_random_state_alone(dataset):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    train_dense(dataset, seed=3, epochs=1, progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_compare_models_has_one_row_per_model(dataset):
    corruptions = {1: ARTIFACT}
    tainted = taint_dataset(dataset, corruptions)
    table = compare_models(
        {"cheater": Cheater(1, 2), "honest": Honest(dataset)}, dataset, tainted, corruptions
    )
    assert table.to_dict("records") == [
        {"model": "cheater", "Square": 1.0},
        {"model": "honest", "Square": 0.0},
    ]


def test_visibility_sweep_table_and_errors(make_dataset):
    train, test = make_dataset(n_per_class=4, seed=0), make_dataset(n_per_class=2, seed=1)
    sweep = visibility_sweep(
        train, test, 5, [1.0, 0.0], seed=0, methods=("saliency",), n_explain=2, epochs=1,
        progress=False,
    )  # fmt: skip
    assert sweep["alpha"].tolist() == [1.0, 0.0]
    assert list(sweep.columns[:5]) == ["alpha", "drop", "exploited", "flip_added", "behaviour_flag"]
    invisible = sweep.iloc[1]
    # alpha 0 changes no pixel: nothing to exploit, nothing to flip.
    assert invisible["drop"] == 0.0 and invisible["flip_added"] == 0.0
    assert invisible["share"] == pytest.approx(
        float(sweep_watermark(0.0).mask(28, 28).float().mean())
    )
    with pytest.raises(ValueError, match="alphas"):
        visibility_sweep(train, test, 5, [1.5], methods=("saliency",))
    with pytest.raises(ValueError, match="Unknown method"):
        visibility_sweep(train, test, 5, [0.5], methods=("lime",))
