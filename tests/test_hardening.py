"""Bad input is refused at the public boundary with a message naming the argument; the shared
validators behind those messages, with hypothesis properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import TensorDataset

from failure_modes import data
from failure_modes.attribution import artifact_mass, attribute
from failure_modes.counterfactual import counterfactual
from failure_modes.data.tensors import black_baseline, normalization
from failure_modes.denoising import add_noise, psnr
from failure_modes.evaluation import accuracy, predict
from failure_modes.models import SmallCNN
from failure_modes.models.training import pick_device, train_classifier, train_denoiser
from failure_modes.tracks.mode.similarity import rank
from failure_modes.utils import validation as v

finite_floats = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)


@settings(max_examples=40, deadline=None)
@given(st.lists(finite_floats, min_size=1, max_size=20))
def test_check_finite_accepts_every_finite_tensor(values):
    tensor = torch.tensor(values)
    assert v.check_finite(tensor, "x") is tensor


@settings(max_examples=40, deadline=None)
@given(
    st.lists(finite_floats, min_size=1, max_size=20),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(0, 19),
)
def test_check_finite_refuses_any_nan_or_inf_naming_the_argument(values, bad, where):
    tensor = torch.tensor(values)
    tensor[where % len(values)] = bad
    with pytest.raises(ValueError, match=r"pixels must be finite, got 1 NaN"):
        v.check_finite(tensor, "pixels")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=20), st.integers(1, 20))
def test_check_targets_keeps_labels_in_range_and_refuses_the_rest(labels, num_classes):
    tensor = torch.tensor(labels)
    if max(labels) < num_classes:
        assert torch.equal(v.check_targets(tensor, len(labels), num_classes=num_classes), tensor)
    else:
        with pytest.raises(ValueError, match=rf"targets must lie in 0..{num_classes - 1}"):
            v.check_targets(tensor, len(labels), num_classes=num_classes)


@settings(max_examples=40, deadline=None)
@given(st.floats(-100, 100, allow_nan=False).filter(lambda x: x != int(x)))
def test_check_targets_refuses_every_fractional_label(label):
    with pytest.raises(TypeError, match="integer class labels"):
        v.check_targets([label], 1)


@settings(max_examples=40, deadline=None)
@given(st.integers(-100, -1))
def test_check_targets_refuses_negative_labels_even_without_num_classes(label):
    with pytest.raises(ValueError, match="negative labels"):
        v.check_targets([label, 0], 2)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=20))
def test_check_unit_interval_accepts_exactly_the_values_in_0_1(values):
    tensor = torch.tensor(values, dtype=torch.float64)
    if min(values) >= 0 and max(values) <= 1:
        assert v.check_unit_interval(tensor) is tensor
    else:
        with pytest.raises(ValueError, match=r"images must lie in \[0, 1\]"):
            v.check_unit_interval(tensor)


def test_check_unit_interval_refuses_uint8_with_the_fix():
    with pytest.raises(TypeError, match=r"/ 255"):
        v.check_unit_interval(torch.zeros(2, dtype=torch.uint8))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 5), st.integers(0, 5))
def test_check_same_length_refuses_exactly_unequal_lengths(a, b):
    if a == b:
        v.check_same_length([0] * a, [0] * b, "x", "y")
    else:
        with pytest.raises(ValueError, match=rf"x and y must have one entry per item, got {a}"):
            v.check_same_length([0] * a, [0] * b, "x", "y")


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.floats(allow_nan=False)))
def test_check_same_length_refuses_what_has_no_items_naming_it(value):
    with pytest.raises(TypeError, match=r"^x must be a sequence, array or tensor"):
        v.check_same_length(value, [0], "x", "y")
    with pytest.raises(TypeError, match=r"^y must be a sequence"):
        v.check_same_length([0], np.asarray(value), "x", "y")


@settings(max_examples=50, deadline=None)
@given(st.integers(-(2**62), 2**62))
def test_check_seed_keeps_every_whole_number(seed):
    assert v.check_seed(seed) == seed
    assert v.check_seed(np.int64(seed)) == seed


@settings(max_examples=50, deadline=None)
@given(st.one_of(st.floats(), st.booleans(), st.none(), st.text(max_size=3)))
def test_check_seed_refuses_everything_that_is_not_a_whole_number(value):
    with pytest.raises(TypeError, match=r"^seed must be an int, got .*such as 0"):
        v.check_seed(value)


def test_check_non_empty_and_float_batch():
    with pytest.raises(ValueError, match="inputs is empty"):
        v.check_non_empty(torch.zeros(0, 3), "inputs")
    with pytest.raises(ValueError, match=r"inputs is empty"):
        v.check_float_batch(torch.zeros(0, 1, 4, 4))
    with pytest.raises(TypeError, match="divide by 255"):
        v.check_float_batch(torch.zeros(1, 1, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        v.check_float_batch(torch.zeros(4, 4))


# --- the public boundary -------------------------------------------------------------------


def _nan_images(n=4):
    images = torch.rand(n, 1, 28, 28)
    images[0, 0, 3, 3] = math.nan
    return images


def test_nan_images_are_refused_by_training_prediction_attribution_and_counterfactuals():
    labels = torch.zeros(4, dtype=torch.long)
    for call in (
        lambda: train_classifier(SmallCNN(), (_nan_images(), labels), progress=False),
        lambda: predict(SmallCNN(), (_nan_images(), labels)),
        lambda: attribute(SmallCNN(), _nan_images(), 0, method="saliency"),
        lambda: counterfactual(SmallCNN(), _nan_images(), 1, steps=1),
    ):
        with pytest.raises(ValueError, match="inputs must be finite"):
            call()


def test_a_nan_map_has_no_artifact_mass_and_a_nan_row_is_not_ranked():
    maps = torch.ones(2, 4, 4)
    maps[1, 0, 0] = math.nan
    with pytest.raises(ValueError, match="attributions must be finite"):
        artifact_mass(maps, torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="candidates must be finite"):
        rank(torch.tensor([[math.nan, 0.0], [1.0, 0.0]]), torch.tensor([1.0, 0.0]), "l2")


def test_labels_are_whole_numbers_in_range():
    with pytest.raises(TypeError, match="predictions must hold integer"):
        accuracy([3.5], [3])
    with pytest.raises(ValueError, match="negative"):
        accuracy([-1], [3])
    with pytest.raises(ValueError, match=r"target must lie in 0..9"):
        attribute(SmallCNN(), torch.rand(2, 1, 28, 28), 10, method="saliency")
    with pytest.raises(ValueError, match=r"target must lie in 0..9"):
        attribute(SmallCNN(), torch.rand(2, 1, 28, 28), -1, method="saliency")


def test_defaults_that_would_hide_a_mistake_are_refused():
    with pytest.raises(TypeError, match="dataset must be a Dataset"):
        normalization(None)
    with pytest.raises(TypeError, match="dataset must be a Dataset"):
        black_baseline(None)
    with pytest.raises(ValueError, match="image_size must be at least 1"):
        SmallCNN(image_size=-4)


def test_pixels_in_0_1_are_required_where_clean_images_are_expected():
    uint8 = torch.randint(0, 256, (2, 1, 4, 4), dtype=torch.uint8)
    with pytest.raises(TypeError, match="images must be float"):
        psnr(uint8, uint8)
    normalised = torch.randn(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\]"):
        add_noise(normalised)
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\]"):
        train_denoiser(nn.Identity(), normalised, progress=False)


class _Mnistish(TensorDataset):
    def __init__(self, n_images, n_targets):
        super().__init__(torch.zeros(n_images))
        self.data = torch.zeros(n_images, 28, 28, dtype=torch.uint8)
        self.targets = torch.zeros(n_targets, dtype=torch.long)
        self.transform = None


def test_to_tensors_refuses_targets_of_another_length():
    with pytest.raises(ValueError, match=r"dataset.data and dataset.targets .* got 200 and 10"):
        data.to_tensors(_Mnistish(200, 10))


def test_empty_inputs_are_refused():
    empty = (torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="dataset is empty"):
        predict(SmallCNN(), empty)
    with pytest.raises(ValueError, match="dataset is empty"):
        train_classifier(SmallCNN(), empty, progress=False)
    with pytest.raises(ValueError, match="inputs is empty"):
        attribute(SmallCNN(), empty[0], 0, method="saliency")


def test_an_unavailable_device_is_refused_with_our_message():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        pick_device("cuda")
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        train_classifier(
            SmallCNN(),
            (torch.rand(2, 1, 28, 28), torch.zeros(2, dtype=torch.long)),
            device="cuda",
            progress=False,
        )
