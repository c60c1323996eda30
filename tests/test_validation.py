"""The shared argument checks: what they accept, and errors that name the argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from failure_modes.utils import validation as v


def test_as_tensor_wraps_numpy_without_copy_and_rejects_lists():
    array = np.zeros((2, 3), dtype=np.uint8)
    tensor = v.as_tensor(array, "images")
    tensor[0, 0] = 7
    assert array[0, 0] == 7  # shares memory: wrapping costs nothing
    same = torch.ones(2)
    assert v.as_tensor(same, "x") is same
    with pytest.raises(TypeError, match="images"):
        v.as_tensor([[1, 2]], "images")


def test_check_uint8_images_accepts_uint8_batches():
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    assert v.check_uint8_images(images) is images
    from_numpy = v.check_uint8_images(np.zeros((1, 5, 4), dtype=np.uint8))
    assert isinstance(from_numpy, torch.Tensor) and from_numpy.shape == (1, 5, 4)


@pytest.mark.parametrize(
    ("images", "error"),
    [
        (torch.zeros(2, 28, 28), TypeError),  # normalised floats instead of raw pixels
        (torch.zeros(2, 28, 28, dtype=torch.int64), TypeError),
        (torch.zeros(28, 28, dtype=torch.uint8), ValueError),  # a single image
        (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), ValueError),  # with a channel axis
        ("not an image", TypeError),
    ],
)
def test_check_uint8_images_rejects_wrong_dtype_and_rank(images, error):
    with pytest.raises(error, match="images"):
        v.check_uint8_images(images)
    with pytest.raises(error, match="pictures"):
        v.check_uint8_images(images, name="pictures")


def test_check_mask_accepts_2d_and_per_image_masks():
    mask = torch.zeros(4, 5, dtype=torch.bool)
    mask[1, 2] = True
    assert v.check_mask(mask, (4, 5)) is mask
    assert v.check_mask(mask.expand(3, 4, 5), (4, 5)).shape == (3, 4, 5)


@pytest.mark.parametrize(
    ("mask", "error", "words"),
    [
        (torch.ones(4, 5), TypeError, "boolean"),
        (torch.ones(5, 4, dtype=torch.bool), ValueError, r"\(4, 5\)"),
        (torch.ones(4, dtype=torch.bool), ValueError, "shape"),
        (torch.ones(1, 1, 4, 5, dtype=torch.bool), ValueError, "shape"),
        (torch.zeros(4, 5, dtype=torch.bool), ValueError, "no pixel"),
    ],
)
def test_check_mask_rejects_bad_masks(mask, error, words):
    with pytest.raises(error, match="mask") as info:
        v.check_mask(mask, (4, 5))
    assert info.match(words)


def test_check_mask_accepts_an_empty_mask_only_when_asked():
    empty = torch.zeros(2, 4, 5, dtype=torch.bool)
    assert v.check_mask(empty, (4, 5), allow_empty=True) is empty
    with pytest.raises(ValueError, match="covers no pixel"):
        v.check_mask(empty, (4, 5))


def test_check_same_shape_names_both_arguments():
    v.check_same_shape(torch.zeros(2, 3), torch.ones(2, 3), "a", "b")
    with pytest.raises(ValueError, match=r"attributions and inputs .*\(2, 3\) and \(3, 2\)"):
        v.check_same_shape(torch.zeros(2, 3), torch.zeros(3, 2), "attributions", "inputs")


def test_check_labels_present_lists_the_present_labels():
    targets = torch.tensor([0, 1, 1, 4])
    v.check_labels_present([1, 4], targets)
    with pytest.raises(ValueError, match=r"\[7, 9\].*\[0, 1, 4\]"):
        v.check_labels_present([9, 1, 7], targets)


@pytest.mark.parametrize("value", [0.5, 1, 1.0, 1e-9])
def test_check_fraction_accepts_values_in_half_open_interval(value):
    assert v.check_fraction(value, "fraction") == pytest.approx(value)


@pytest.mark.parametrize(
    ("value", "error"),
    [(0, ValueError), (-0.1, ValueError), (1.5, ValueError), ("1", TypeError), (True, TypeError)],
)
def test_check_fraction_rejects(value, error):
    with pytest.raises(error, match="fraction"):
        v.check_fraction(value, "fraction")


def test_check_probability_is_closed_interval():
    assert v.check_probability(0, "p") == 0.0
    assert v.check_probability(1, "p") == 1.0
    for bad, error in [(-0.01, ValueError), (1.01, ValueError), (None, TypeError)]:
        with pytest.raises(error, match="p must"):
            v.check_probability(bad, "p")


def test_check_choice_lists_known_choices():
    assert v.check_choice("b", ["a", "b"], "method") == "b"
    with pytest.raises(ValueError, match=r"method 'c'.*\['a', 'b'\]"):
        v.check_choice("c", ["a", "b"], "method")


def test_check_positive_int():
    assert v.check_positive_int(3, "epochs") == 3
    assert v.check_positive_int(np.int64(2), "epochs") == 2
    for bad, error in [(0, ValueError), (-1, ValueError), (2.0, TypeError), (True, TypeError)]:
        with pytest.raises(error, match="epochs"):
            v.check_positive_int(bad, "epochs")


def test_check_same_device_says_how_to_move():
    model = nn.Linear(2, 2)
    v.check_same_device(model, torch.zeros(1, 2))
    v.check_same_device(
        nn.ReLU(), torch.zeros(1, 2, device="meta")
    )  # no parameters: nothing to check
    with pytest.raises(ValueError, match=r"inputs are on meta.*inputs\.to\('cpu'\)"):
        v.check_same_device(model, torch.zeros(1, 2, device="meta"))


# --------------------------------------------------------------------------- check_targets
@given(st.integers(0, 9), st.integers(1, 20))
def test_one_int_stands_for_every_item(label, n):
    targets = v.check_targets(label, n, num_classes=10)
    assert targets.dtype == torch.int64 and targets.tolist() == [label] * n


@given(st.lists(st.integers(0, 9), min_size=1, max_size=30))
def test_a_label_per_item_is_kept_as_int64(labels):
    assert v.check_targets(labels, len(labels), num_classes=10).tolist() == labels
    assert v.check_targets(np.array(labels), len(labels)).tolist() == labels


@pytest.mark.parametrize("value", [3.5, [3.0, 1.0], torch.tensor([0.5]), True, [True, False]])
def test_non_integer_labels_are_refused(value):
    with pytest.raises(TypeError, match="integer class labels"):
        v.check_targets(value, 1 if not isinstance(value, list) else len(value), name="target")


@pytest.mark.parametrize("value", [-1, 10, [0, 10]])
def test_labels_out_of_range_are_refused(value):
    n = len(value) if isinstance(value, list) else 1
    with pytest.raises(ValueError, match=r"0\.\.9"):
        v.check_targets(value, n, num_classes=10)


def test_a_wrong_number_of_labels_is_refused():
    with pytest.raises(ValueError, match=r"shape \[200\]"):
        v.check_targets(list(range(10)), 200)
