"""Counterfactual search: validity, proximity, batching, stopping, and clear errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import failure_modes.counterfactual as readme_name
from failure_modes.explain.counterfactual import (
    CHANGE_THRESHOLD,
    counterfactual,
    nearest_distance,
    nearest_in_class,
    outline_mask,
    total_variation,
)
from failure_modes.models import SmallCNN

SIZE = 8
NORM = (0.3, 0.4)  # mean, std: the inputs below are normalised with these
# A modest margin keeps the small test models' searches short.
FAST = {"normalization": NORM, "margin": 0.5}


def _linear(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(SIZE * SIZE, 4))


def _cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = SmallCNN(num_classes=4, channels=(4, 8), hidden=16, image_size=SIZE).eval()
    with torch.no_grad():
        # A freshly initialised small CNN barely depends on its input (logits differ by ~0.01);
        # a larger head gives it the input sensitivity of a trained one.
        model.head.weight.mul_(50)
    return model


def _images(n: int, seed: int = 0) -> torch.Tensor:
    pixels = torch.rand(n, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))
    return (pixels - NORM[0]) / NORM[1]


def _other_targets(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return (model(x).argmax(dim=1) + 1) % 4


@pytest.fixture(scope="module")
def batch():
    model = _cnn()
    x = _images(6)
    return model, x, _other_targets(model, x)


def test_reaches_the_target_inside_the_valid_pixel_range(batch):
    model, x, target = batch
    result = counterfactual(model, x, target, **FAST, weight=0.01, steps=300)
    assert bool(result.success.all())
    with torch.no_grad():
        assert torch.equal(model(result.images).argmax(dim=1), target)
    pixels = result.images * NORM[1] + NORM[0]
    assert float(pixels.min()) >= -1e-5 and float(pixels.max()) <= 1 + 1e-5
    # The change is reported in pixel units: counterfactual minus original.
    torch.testing.assert_close(pixels - (x * NORM[1] + NORM[0]), result.change)
    assert torch.equal(result.original_prediction, (target + 3) % 4)
    assert bool((result.l1 > 0).all()) and bool((result.steps > 0).all())


def test_batched_equals_one_at_a_time(batch):
    model, x, target = batch
    together = counterfactual(model, x, target, **FAST)
    for k in range(len(x)):
        alone = counterfactual(model, x[k], int(target[k]), **FAST)
        assert int(alone.steps[0]) == int(together.steps[k])
        torch.testing.assert_close(alone.change[0], together.change[k], atol=1e-5, rtol=0)


def test_target_equal_to_prediction_returns_at_once_unchanged():
    model, x = _cnn(), _images(5)
    with torch.no_grad():
        own = model(x).argmax(dim=1)
    result = counterfactual(model, x, own, **FAST)
    assert torch.equal(result.images, x) and bool((result.change == 0).all())
    assert bool(result.success.all()) and bool((result.steps == 0).all())
    assert result.loss_history.shape == (0, 5)
    # Mixed batch: the images already at their target stay untouched.
    mixed = own.clone()
    mixed[::2] = (own[::2] + 1) % 4
    result = counterfactual(model, x, mixed, **FAST)
    assert bool((result.change[1::2] == 0).all()) and bool((result.steps[1::2] == 0).all())
    assert bool((result.steps[::2] > 0).all())


def test_inputs_and_model_are_left_as_they_were(batch):
    model, x, target = batch
    x_before, target_before = x.clone(), target.clone()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    counterfactual(model, x, target, **FAST, steps=5)
    assert model.training  # mode restored
    model.eval()
    assert torch.equal(x, x_before) and torch.equal(target, target_before)
    assert not x.requires_grad
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())
    assert all(p.grad is None for p in model.parameters())


def test_l1_changes_fewer_pixels_than_l2(batch):
    model, x, target = batch
    sparse = counterfactual(model, x, target, **FAST, distance="l1", weight=0.3)
    spread = counterfactual(model, x, target, **FAST, distance="l2", weight=0.3)
    assert bool(sparse.success.all()) and bool(spread.success.all())
    assert float(sparse.changed_share.median()) < float(spread.changed_share.median())
    # The L1 proximal step sets untouched pixels exactly to zero.
    assert float((sparse.change == 0).float().mean()) > 0.3


def test_a_larger_penalty_gives_smaller_changes():
    model = _linear()
    x = _images(16, seed=3)
    target = _other_targets(model, x)
    small = counterfactual(model, x, target, **FAST, weight=0.01)
    large = counterfactual(model, x, target, **FAST, weight=0.3)
    both = small.success & large.success
    assert int(both.sum()) >= 8
    assert float(large.l1[both].median()) < float(small.l1[both].median())


def test_patience_only_ever_shrinks_the_change(batch):
    model, x, target = batch
    first = counterfactual(model, x, target, **FAST, patience=0)
    longer = counterfactual(model, x, target, **FAST, patience=30)
    # With patience 0 the first valid iterate is returned; more patience keeps the smallest
    # valid one seen, and the first valid one is among those.
    assert bool((longer.l1 <= first.l1 + 1e-5).all())
    assert bool((longer.steps >= first.steps).all())
    assert bool((first.steps < 200).all())


def test_margin_asks_for_a_confident_target(batch):
    model, x, target = batch
    result = counterfactual(model, x, target, normalization=NORM, margin=3.0, steps=400)
    with torch.no_grad():
        logits = model(result.images)
    chosen = logits.gather(1, target[:, None]).squeeze(1)
    others = logits.scatter(1, target[:, None], float("-inf")).max(dim=1).values
    # Images that stopped early reached the target with the margin; any others ran out of steps.
    reached = result.steps < 400
    assert int(reached.sum()) >= 4
    assert bool((chosen - others)[reached].min() >= 3.0 - 1e-4)


def test_loss_history_is_per_image_and_stops_with_the_image(batch):
    model, x, target = batch
    result = counterfactual(model, x, target, **FAST)
    history = result.loss_history
    assert history.shape == (int(result.steps.max()), len(x))
    for k in range(len(x)):
        taken = int(result.steps[k])
        assert bool(torch.isfinite(history[:taken, k]).all())
        assert bool(torch.isnan(history[taken:, k]).all())


def test_total_variation_sums_neighbour_differences():
    change = torch.zeros(2, 1, 3, 3)
    change[0, 0, 1, 1] = 1.0  # one bright pixel: four neighbours differ by 1
    change[1] = 0.5  # a flat change has none
    torch.testing.assert_close(total_variation(change), torch.tensor([4.0, 0.0]))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        total_variation(torch.zeros(3, 3))


def test_smoothness_makes_the_change_less_speckled(batch):
    model, x, target = batch

    def roughness(change):
        return total_variation(change).sum()

    plain = counterfactual(model, x, target, **FAST, distance="l2", weight=0.01)
    smooth = counterfactual(
        model, x, target, normalization=NORM, distance="l2", weight=0.01, smoothness=0.5
    )
    assert float(roughness(smooth.change) / smooth.l1.sum()) < float(
        roughness(plain.change) / plain.l1.sum()
    )


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 4),
    distance=st.sampled_from(["l1", "l2"]),
    weight=st.floats(0.0, 1.0),
)
def test_any_result_is_a_valid_picture_and_consistent(seed, n, distance, weight):
    model = _linear(seed % 3)
    x = _images(n, seed=seed)
    target = torch.randint(0, 4, (n,), generator=torch.Generator().manual_seed(seed))
    result = counterfactual(
        model, x, target, normalization=NORM, distance=distance, weight=weight, steps=20
    )
    pixels = result.images * NORM[1] + NORM[0]
    assert float(pixels.min()) >= -1e-5 and float(pixels.max()) <= 1 + 1e-5
    with torch.no_grad():
        assert torch.equal(model(result.images).argmax(dim=1), result.prediction)
    assert torch.equal(result.success, result.prediction == target)
    expected = (result.change.abs() > CHANGE_THRESHOLD).flatten(1).float().mean(dim=1)
    torch.testing.assert_close(result.changed_share, expected)
    torch.testing.assert_close(result.l2, result.change.flatten(1).norm(dim=1))


def test_summary_and_repr_report_the_numbers(batch):
    model, x, target = batch
    result = counterfactual(model, x, target, **FAST)
    summary = result.summary()
    assert summary["images"] == len(x) and summary["validity"] == 1.0
    assert summary["median_l1"] == pytest.approx(float(result.l1.median()))
    assert summary["seconds_per_image"] > 0
    assert "validity=1" in repr(result) and len(result) == len(x)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"target": 4}, ValueError, r"0\.\.3"),
        ({"target": -1}, ValueError, r"0\.\.3"),
        ({"target": torch.tensor([0, 1])}, ValueError, r"shape \[3\]"),
        ({"target": 1.5}, TypeError, "integer"),
        ({"target": True}, TypeError, "target"),
        ({"inputs": torch.zeros(SIZE, SIZE)}, ValueError, r"\[N, C, H, W\]"),
        ({"inputs": torch.zeros(2, 3, 1, SIZE, SIZE)}, ValueError, r"\[N, C, H, W\]"),
        ({"inputs": torch.zeros(3, 1, SIZE, SIZE, dtype=torch.uint8)}, TypeError, "float"),
        ({"inputs": torch.zeros(0, 1, SIZE, SIZE)}, ValueError, "empty"),
        ({"distance": "l0"}, ValueError, "distance"),
        ({"steps": 0}, ValueError, "steps"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"weight": -1.0}, ValueError, "weight"),
        ({"weight": float("inf")}, ValueError, "weight"),
        ({"margin": float("nan")}, ValueError, "margin"),
        ({"smoothness": -0.1}, ValueError, "smoothness"),
        ({"patience": -1}, ValueError, "patience"),
        ({"patience": 2.5}, TypeError, "patience"),
        ({"normalization": (0.0, 1.0)}, ValueError, "normalization"),
        ({"normalization": (0.3, 0.0)}, ValueError, "std"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(kwargs, error, match):
    call = {"inputs": _images(3), "target": 1, "normalization": NORM, **kwargs}
    inputs, target = call.pop("inputs"), call.pop("target")
    with pytest.raises(error, match=match):
        counterfactual(_cnn(), inputs, target, **call)


def test_model_must_be_a_module():
    with pytest.raises(TypeError, match="nn.Module"):
        counterfactual(lambda x: x, _images(1), 0, normalization=NORM)


# --- nearest training image and outline -------------------------------------------------------


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_nearest_distance_matches_brute_force(distance):
    generator = torch.Generator().manual_seed(0)
    queries = torch.rand(7, 1, 5, 5, generator=generator)
    references = torch.rand(11, 1, 5, 5, generator=generator)
    p = 1 if distance == "l1" else 2
    expected = torch.tensor([min(float((q - r).norm(p=p)) for r in references) for q in queries])
    found = nearest_distance(queries, references, distance=distance, batch_size=3)
    torch.testing.assert_close(found, expected, rtol=1e-4, atol=1e-5)
    assert bool((nearest_distance(references, references, distance=distance) < 1e-3).all())
    with pytest.raises(ValueError, match="share C, H, W"):
        nearest_distance(queries, references[:, :, :4], distance=distance)


def test_outline_is_the_ring_around_an_object():
    image = torch.zeros(1, 1, 9, 9)
    image[..., 3:6, 3:6] = 1.0
    ring = outline_mask(image)[0]
    expected = torch.zeros(9, 9, dtype=torch.bool)
    expected[2:7, 2:7] = True
    expected[4, 4] = False  # the centre has only object pixels around it
    assert torch.equal(ring, expected)
    assert not bool(outline_mask(torch.zeros(1, 1, 4, 4)).any())
    with pytest.raises(ValueError, match=r"\[N, 1, H, W\]"):
        outline_mask(torch.zeros(4, 4))


def test_first_history_value_is_the_hinge_at_no_change(batch):
    model, x, target = batch
    result = counterfactual(model, x, target, normalization=NORM, margin=0.5)
    with torch.no_grad():
        logits = model(x)
    chosen = logits.gather(1, target[:, None]).squeeze(1)
    others = logits.scatter(1, target[:, None], float("-inf")).max(dim=1).values
    torch.testing.assert_close(result.loss_history[0], (others - chosen + 0.5).clamp_min(0))


def test_nearest_in_class_searches_only_the_given_class():
    generator = torch.Generator().manual_seed(2)
    references = torch.rand(20, 1, 4, 4, generator=generator)
    reference_labels = torch.arange(20) % 2
    queries = references[[0, 1, 2]].clone()  # each is a reference of class 0, 1, 0
    # Searched in its own class, each query finds itself.
    own = nearest_in_class(queries, torch.tensor([0, 1, 0]), references, reference_labels)
    assert bool((own < 1e-4).all())
    other = nearest_in_class(queries, torch.tensor([1, 0, 1]), references, reference_labels)
    expected = torch.stack(
        [
            (references[reference_labels == label] - q).abs().flatten(1).sum(1).min()
            for q, label in zip(queries, [1, 0, 1], strict=True)
        ]
    )
    torch.testing.assert_close(other, expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="no reference image has label 5"):
        nearest_in_class(queries, torch.tensor([5, 0, 0]), references, reference_labels)
    with pytest.raises(TypeError, match="target"):
        nearest_in_class(queries, torch.tensor([0.0, 1.0, 0.0]), references, reference_labels)
    with pytest.raises(ValueError, match="reference_targets"):
        nearest_in_class(queries, 0, references, reference_labels[:5])


def test_the_readme_name_exports_every_public_name():
    for name in readme_name.__all__:
        assert hasattr(readme_name, name), name
    assert readme_name.nearest_in_class.__module__ == "failure_modes.explain.proximity"
