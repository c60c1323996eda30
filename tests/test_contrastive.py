"""Mistake tables, contrastive saliency for several methods, and attribution mass on a mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Subset

from failure_modes.explain.contrastive import (
    KINDS,
    LogitContrast,
    Mistakes,
    contrastive_saliency,
    mass_in_mask,
    misclassified,
)
from failure_modes.models import SmallCNN
from failure_modes.models.evaluation import predict_proba

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:captum.*")

SIZE = 8
# Methods whose map is linear in the explained output: contrast == difference.
LINEAR = ["saliency", "input_x_gradient", "integrated_gradients", "deep_lift", "occlusion"]


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    cnn = SmallCNN(num_classes=4, channels=(3, 6), hidden=12, image_size=SIZE).eval()
    with torch.no_grad():
        cnn.head.weight.mul_(20)  # an untrained net barely depends on its input otherwise
    return cnn


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(5, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def labels(model, images):
    with torch.no_grad():
        predicted = model(images).argmax(dim=1)
    return predicted, (predicted + 1) % 4


# --- misclassified ----------------------------------------------------------------------------


class _Named(torch.utils.data.Dataset):
    classes = ["zero", "one", "two", "three"]

    def __init__(self, x, y):
        self.data, self.targets = x, y


def test_misclassified_lists_exactly_the_wrong_predictions(model, images):
    y = torch.tensor([0, 1, 2, 3, 0])
    mistakes = misclassified(model, (images, y))
    proba, _ = predict_proba(model, (images, y))
    wrong = np.flatnonzero(proba.argmax(axis=1) != y.numpy())
    np.testing.assert_array_equal(mistakes.index, wrong)
    np.testing.assert_array_equal(mistakes.predicted, proba.argmax(axis=1)[wrong])
    np.testing.assert_array_equal(mistakes.true, y.numpy()[wrong])
    np.testing.assert_allclose(mistakes.confidence, proba[wrong].max(axis=1))
    np.testing.assert_allclose(mistakes.true_probability, proba[wrong, y.numpy()[wrong]])
    assert mistakes.total == 5 and mistakes.error_rate == len(wrong) / 5
    assert mistakes.class_names == ("0", "1", "2", "3")
    assert sum(count for *_, count in mistakes.pairs()) == len(mistakes)


def test_class_names_come_from_the_dataset_through_subsets(model, make_dataset):
    dataset = make_dataset(n_per_class=3, labels=range(4), size=SIZE)
    dataset.classes = _Named.classes
    mistakes = misclassified(model, Subset(dataset, list(range(0, 12, 2))))
    assert mistakes.class_names == tuple(_Named.classes)
    assert mistakes.total == 6
    text = mistakes.to_text()
    assert text.startswith(f"{len(mistakes)} mistakes out of 6 items")
    for k in range(len(mistakes)):
        assert _Named.classes[mistakes.true[k]] in text


def test_mistakes_select_like_arrays_and_print_a_readable_table():
    mistakes = Mistakes(
        index=np.arange(30),
        predicted=np.zeros(30, dtype=int),
        true=np.array([1] * 20 + [2] * 10),
        confidence=np.linspace(0.4, 0.9, 30),
        true_probability=np.full(30, 0.1),
        class_names=("a", "b", "c"),
        total=100,
    )
    assert len(mistakes[:5]) == 5 and len(mistakes[mistakes.true == 2]) == 10
    assert mistakes[3].index.tolist() == [3]
    assert mistakes.pairs() == [("b", "a", 20), ("c", "a", 10)]
    text = repr(mistakes)
    assert "30 mistakes out of 100 items (30.0 %)" in text
    assert "... 20 more" in text and len(text.splitlines()) == 1 + 1 + 10 + 1


def test_a_perfect_model_has_no_mistakes(model, images):
    with torch.no_grad():
        predicted = model(images).argmax(dim=1)
    mistakes = misclassified(model, (images, predicted))
    assert len(mistakes) == 0 and mistakes.pairs() == []
    assert mistakes.to_text().startswith("0 mistakes out of 5 items")


# --- contrastive saliency ---------------------------------------------------------------------


def test_logit_contrast_is_the_difference_of_two_logits(model, images, labels):
    predicted, true = labels
    wrapped = LogitContrast(model)
    with torch.no_grad():
        logits = model(images)
        out = wrapped(images, predicted, true)
    assert out.shape == (5, 1)
    expected = logits[torch.arange(5), predicted] - logits[torch.arange(5), true]
    torch.testing.assert_close(out[:, 0], expected)
    # The wrapper reuses the model's own ReLU modules: DeepLift and Guided Backprop hook them.
    assert [m for m in wrapped.modules() if isinstance(m, torch.nn.ReLU)] == [
        m for m in model.modules() if isinstance(m, torch.nn.ReLU)
    ]


@pytest.mark.parametrize("method", LINEAR)
def test_contrast_equals_difference_for_methods_linear_in_the_output(model, images, labels, method):
    predicted, true = labels
    before = images.clone()
    maps = contrastive_saliency(model, images, predicted, true, methods=[method])[method]
    assert set(maps) == set(KINDS)
    for kind in KINDS:
        assert maps[kind].shape == images.shape and maps[kind].device.type == "cpu"
    torch.testing.assert_close(maps["difference"], maps["predicted"] - maps["true"])
    scale = float(maps["contrast"].abs().max())
    assert scale > 0
    torch.testing.assert_close(maps["contrast"], maps["difference"], atol=1e-4 * scale, rtol=0)
    assert torch.equal(images, before)


def test_guided_backprop_contrast_is_not_the_difference(model, images, labels):
    predicted, true = labels
    maps = contrastive_saliency(model, images, predicted, true, methods=["guided_backprop"])
    gbp = maps["guided_backprop"]
    gap = (gbp["contrast"] - gbp["difference"]).abs().max() / gbp["contrast"].abs().max()
    assert float(gap) > 0.05


def test_saliency_is_signed(model, images, labels):
    predicted, true = labels
    maps = contrastive_saliency(model, images, predicted, true, methods=["saliency"])["saliency"]
    assert bool((maps["predicted"] < 0).any()) and bool((maps["predicted"] > 0).any())
    # The signed gradient, as autograd gives it.
    x = images.clone().requires_grad_(True)
    logit = model(x)[torch.arange(5), predicted].sum()
    (gradient,) = torch.autograd.grad(logit, x)
    torch.testing.assert_close(maps["predicted"], gradient)


def test_batching_and_single_images_give_the_same_maps(model, images, labels):
    predicted, true = labels
    methods = ["integrated_gradients", "deep_lift"]
    whole = contrastive_saliency(model, images, predicted, true, methods=methods, batch_size=5)
    split = contrastive_saliency(model, images, predicted, true, methods=methods, batch_size=2)
    one = contrastive_saliency(model, images[2], int(predicted[2]), int(true[2]), methods=methods)
    for method in methods:
        for kind in KINDS:
            torch.testing.assert_close(
                split[method][kind], whole[method][kind], atol=1e-5, rtol=1e-4
            )
            torch.testing.assert_close(
                one[method][kind][0], whole[method][kind][2], atol=1e-5, rtol=1e-4
            )


def test_only_the_kinds_asked_for_are_returned(model, images, labels):
    predicted, true = labels
    maps = contrastive_saliency(
        model, images, predicted, true, methods=["saliency"], kinds=["contrast"]
    )
    assert list(maps["saliency"]) == ["contrast"]


def test_baselines_reach_the_methods_that_take_them(model, images, labels):
    predicted, true = labels
    zero = contrastive_saliency(
        model, images, predicted, true, methods=["integrated_gradients", "saliency"]
    )
    black = contrastive_saliency(
        model, images, predicted, true, methods=["integrated_gradients", "saliency"], baselines=-1.0
    )
    assert not torch.allclose(
        zero["integrated_gradients"]["contrast"], black["integrated_gradients"]["contrast"]
    )
    torch.testing.assert_close(zero["saliency"]["contrast"], black["saliency"]["contrast"])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"methods": ["nope"]}, ValueError, "method"),
        ({"kinds": ["sum"]}, ValueError, "kind"),
        ({"predicted": 4}, ValueError, r"0\.\.3"),
        ({"true": -1}, ValueError, r"0\.\.3"),
        ({"true": torch.tensor([0, 1])}, ValueError, r"shape \[5\]"),
        ({"true": 1.0}, TypeError, "integer"),
        ({"true": True}, TypeError, "integer"),
        ({"predicted": [0.5] * 5}, TypeError, "integer"),
        ({"inputs": torch.zeros(SIZE, SIZE)}, ValueError, r"\[N, C, H, W\]"),
        ({"options": {"deep_lift": {}}}, ValueError, "deep_lift"),
        ({"batch_size": 0}, ValueError, "batch_size"),
    ],
)
def test_bad_input_is_refused(model, images, kwargs, error, match):
    call = {"inputs": images, "predicted": 0, "true": 1, "methods": ["saliency"], **kwargs}
    with pytest.raises(error, match=match):
        contrastive_saliency(
            model, call.pop("inputs"), call.pop("predicted"), call.pop("true"), **call
        )


def test_the_model_keeps_its_train_flag(model, images):
    model.train()
    try:
        contrastive_saliency(model, images, 0, 1, methods=["saliency"], kinds=["contrast"])
        assert model.training
    finally:
        model.eval()


# --- mass in a mask ---------------------------------------------------------------------------


def test_mass_in_mask_against_chance():
    maps = torch.zeros(3, 1, 4, 4)
    maps[0] = 1.0  # spread evenly: share equals chance
    maps[1, 0, 0, 0] = -2.0  # all on one masked pixel, sign ignored
    mask = torch.zeros(3, 4, 4, dtype=torch.bool)
    mask[:, 0, :2] = True
    share, chance = mass_in_mask(maps, mask)
    torch.testing.assert_close(chance, torch.full((3,), 2 / 16))
    assert float(share[0]) == pytest.approx(2 / 16) and float(share[1]) == 1.0
    assert torch.isnan(share[2])  # an all-zero map has no mass to place
    empty = mass_in_mask(maps, torch.zeros(3, 4, 4, dtype=torch.bool))[0]
    assert bool(torch.isnan(empty).all())
    with pytest.raises(ValueError, match="mask must be boolean"):
        mass_in_mask(maps, mask.float())
    with pytest.raises(ValueError, match="mask must be boolean"):
        mass_in_mask(maps, mask[:2])


def test_sample_takes_the_first_or_a_seeded_random_subset():
    mistakes = Mistakes(
        index=np.arange(50) * 3,
        predicted=np.zeros(50, dtype=int),
        true=np.ones(50, dtype=int),
        confidence=np.full(50, 0.9),
        true_probability=np.full(50, 0.1),
        class_names=("a", "b"),
        total=200,
    )
    assert mistakes.sample(5).index.tolist() == [0, 3, 6, 9, 12]
    drawn = mistakes.sample(10, seed=1)
    assert drawn.index.tolist() == mistakes.sample(10, seed=1).index.tolist()
    assert drawn.index.tolist() != mistakes.sample(10, seed=2).index.tolist()
    assert list(drawn.index) == sorted(set(drawn.index)) and set(drawn.index) <= set(mistakes.index)
    with pytest.raises(ValueError, match="only 50"):
        mistakes.sample(51)
