"""Hypothesis properties of every shared validator: exactly the good values pass, unchanged, and
every refusal names the argument.

The label, finiteness, unit-interval, length and seed checks have their properties in
test_hardening; the path and plain-argument checks in test_arguments.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from failure_modes.utils import validation as v

NOT_INTEGERS = st.one_of(
    st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=3), st.just([1])
)
REALS = st.floats(allow_nan=False, allow_infinity=False, width=64)
PROPERTY = settings(max_examples=60, deadline=None)


# --- scalars -------------------------------------------------------------------------------
@PROPERTY
@given(st.integers(-(10**6), 10**6))
def test_check_positive_int_keeps_exactly_the_counts_from_one(value):
    if value >= 1:
        assert v.check_positive_int(value, "epochs") == value
        assert v.check_positive_int(np.int32(value), "epochs") == value
    else:
        with pytest.raises(ValueError, match=rf"^epochs must be at least 1, got {value}"):
            v.check_positive_int(value, "epochs")


@PROPERTY
@given(NOT_INTEGERS)
def test_integer_checks_refuse_every_non_integer_naming_the_argument(value):
    for check in (v.check_positive_int, v.check_index, v.check_grey_level):
        with pytest.raises(TypeError, match=r"^size must be"):
            check(value, "size")


@PROPERTY
@given(st.integers(-(10**6), 10**6))
def test_check_index_keeps_exactly_the_non_negative_integers(value):
    if value >= 0:
        assert v.check_index(value, "row") == value
    else:
        with pytest.raises(ValueError, match=rf"^row must be non-negative, got {value}"):
            v.check_index(value, "row")
    assert v.check_index(None, "row", optional=True) is None


@PROPERTY
@given(st.integers(-1000, 1000))
def test_check_grey_level_keeps_exactly_0_to_255(value):
    if 0 <= value <= 255:
        assert v.check_grey_level(value, "value") == value
    else:
        with pytest.raises(ValueError, match=r"^value must be an integer in 0\.\.255"):
            v.check_grey_level(value, "value")


@PROPERTY
@given(REALS, REALS, REALS)
def test_check_number_keeps_exactly_the_numbers_between_its_bounds(value, a, b):
    low, high = min(a, b), max(a, b)
    if low <= value <= high:
        assert v.check_number(value, "lr", low=low, high=high) == value
    else:
        with pytest.raises(ValueError, match=r"^lr must lie in \["):
            v.check_number(value, "lr", low=low, high=high)


@PROPERTY
@given(st.one_of(st.booleans(), st.none(), st.text(max_size=3)))
def test_check_number_refuses_non_numbers_and_nan(value):
    with pytest.raises(TypeError, match=r"^lr must be a number"):
        v.check_number(value, "lr")
    with pytest.raises(ValueError, match=r"^lr must be a number, got NaN"):
        v.check_number(math.nan, "lr")


INTERVALS = [
    (v.check_fraction, lambda x: 0 < x <= 1),
    (v.check_probability, lambda x: 0 <= x <= 1),
    (v.check_open_unit, lambda x: 0 < x < 1),
    (v.check_amplitude, lambda x: 0 < x <= 255),
    (v.check_positive, lambda x: 0 < x < math.inf),
]


@pytest.mark.parametrize(("check", "inside"), INTERVALS, ids=lambda c: getattr(c, "__name__", ""))
@PROPERTY
@given(value=st.one_of(REALS, st.sampled_from([0.0, 1.0, 255.0, -0.0, 1e-300])))
def test_interval_checks_keep_exactly_their_interval(check, inside, value):
    if inside(value):
        assert check(value, "alpha") == value
    else:
        with pytest.raises(ValueError, match=r"^alpha must (lie|be a positive)"):
            check(value, "alpha")


@pytest.mark.parametrize(("check", "inside"), INTERVALS, ids=lambda c: getattr(c, "__name__", ""))
def test_interval_checks_refuse_nan_and_non_numbers(check, inside):
    with pytest.raises(ValueError, match=r"^alpha must"):
        check(math.nan, "alpha")
    for value in (None, "0.5", True):
        with pytest.raises(TypeError, match=r"^alpha must be a number"):
            check(value, "alpha")


@PROPERTY
@given(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=5, unique=True), st.text())
def test_check_choice_keeps_the_known_and_lists_them_otherwise(choices, value):
    if value in choices:
        assert v.check_choice(value, choices, "method") == value
    else:
        with pytest.raises(ValueError, match=r"^Unknown method .*expected one of"):
            v.check_choice(value, choices, "method")


# --- objects -------------------------------------------------------------------------------
@PROPERTY
@given(st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=3)))
def test_check_not_none_passes_everything_but_none(value):
    assert v.check_not_none(value, "baselines", "a number") is value
    with pytest.raises(TypeError, match=r"^baselines must be a number, got None"):
        v.check_not_none(None, "baselines", "a number")


@PROPERTY
@given(st.one_of(st.none(), st.integers(), st.text(max_size=3), st.just(torch.zeros(2))))
def test_check_model_keeps_exactly_the_modules(value):
    model = nn.Linear(2, 2)
    assert v.check_model(model) is model
    with pytest.raises(TypeError, match=r"^model must be a torch.nn.Module"):
        v.check_model(value)


@PROPERTY
@given(st.integers(0, 6))
def test_check_non_empty_refuses_exactly_the_empty(n):
    for value in ([0] * n, torch.zeros(n, 2), np.zeros(n)):
        if n:
            assert v.check_non_empty(value, "inputs") is value
        else:
            with pytest.raises(ValueError, match=r"^inputs is empty"):
                v.check_non_empty(value, "inputs")


@PROPERTY
@given(hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(max_dims=3, max_side=3)))
def test_as_tensor_wraps_every_numpy_array_it_can_and_refuses_lists(array):
    try:
        tensor = v.as_tensor(array, "images")
    except TypeError as error:  # dtypes torch has no tensor for: strings, datetimes, big-endian
        assert str(error).startswith("images must be a numpy array of numbers or booleans")
    else:
        assert tuple(tensor.shape) == array.shape
    with pytest.raises(TypeError, match=r"^images must be a torch.Tensor or numpy array"):
        v.as_tensor(array.tolist(), "images")


# --- batches and masks ---------------------------------------------------------------------
FLOAT_BATCHES = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=1, max_dims=5, min_side=1, max_side=3),
    elements=st.floats(-10, 10, width=32),
)


@PROPERTY
@given(FLOAT_BATCHES)
def test_check_float_batch_keeps_exactly_finite_float_batches_of_four_axes(array):
    tensor = torch.from_numpy(array)
    if tensor.ndim == 4:
        assert v.check_float_batch(tensor, "inputs") is tensor
    else:
        with pytest.raises(ValueError, match=r"^inputs must have shape \[N, C, H, W\]"):
            v.check_float_batch(tensor, "inputs")
    with pytest.raises(TypeError, match=r"^inputs must be a float tensor"):
        v.check_float_batch(tensor.to(torch.uint8), "inputs")


@PROPERTY
@given(st.lists(st.integers(1, 3), min_size=0, max_size=5), st.booleans())
def test_check_image_axes_keeps_exactly_four_axes_and_names_the_missing_one(shape, features):
    tensor = torch.zeros(shape)
    if len(shape) == 4 or (features and len(shape) == 2):
        assert v.check_image_axes(tensor, "inputs", features=features) is tensor
        return
    with pytest.raises(ValueError, match=r"^inputs must have shape .*\[N, C, H, W\]") as error:
        v.check_image_axes(tensor, "inputs", features=features)
    hint = {3: r"inputs\[:, None\]", 2: r"inputs\[None, None\]"}.get(len(shape))
    if hint and not (features and len(shape) == 2):
        assert re.search(hint, str(error.value))


@PROPERTY
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3))
def test_check_image_or_batch_makes_one_image_a_batch_and_refuses_a_batch_without_channels(
    channels, n, side
):
    conv = nn.Sequential(nn.Conv2d(channels, 1, 1))
    image = torch.zeros(channels, side, side)
    assert v.check_image_or_batch(conv, image).shape == (1, channels, side, side)
    batch = torch.zeros(n, channels, side, side)
    assert v.check_image_or_batch(conv, batch) is batch
    if n != channels:
        with pytest.raises(ValueError, match=r"x\[:, None\]"):
            v.check_image_or_batch(conv, torch.zeros(n, side, side), "x")
    dense = nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, 2))
    assert v.check_image_or_batch(dense, image).shape == (1, channels, side, side)


@PROPERTY
@given(st.one_of(hnp.arrays(np.float64, st.integers(0, 4)), hnp.arrays(np.int32, 3)))
def test_check_numbers_keeps_every_real_array_as_float64(array):
    result = v.check_numbers(array, "values")
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, array.astype(np.float64))


@PROPERTY
@given(st.one_of(st.none(), st.just(["a", "b"]), st.just([True, False]), st.just([[1], [1, 2]])))
def test_check_numbers_refuses_what_is_no_number_naming_it(value):
    with pytest.raises(TypeError, match=r"^values must hold"):
        v.check_numbers(value, "values")


@PROPERTY
@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 5))
def test_check_uint8_images_keeps_exactly_uint8_batches_of_three_axes(n, h, w):
    images = torch.zeros(n, h, w, dtype=torch.uint8)
    assert v.check_uint8_images(images) is images
    with pytest.raises(TypeError, match=r"^images must have dtype uint8"):
        v.check_uint8_images(images.float())
    with pytest.raises(ValueError, match=r"^images must have shape \[N, H, W\]"):
        v.check_uint8_images(images[0])


@PROPERTY
@given(hnp.arrays(np.bool_, st.tuples(st.integers(1, 4), st.integers(1, 4))))
def test_check_mask_keeps_boolean_masks_of_the_image_shape(array):
    mask = torch.from_numpy(array)
    shape = tuple(mask.shape)
    if mask.any():
        assert v.check_mask(mask, shape) is mask
    else:
        with pytest.raises(ValueError, match=r"^mask covers no pixel"):
            v.check_mask(mask, shape)
        assert v.check_mask(mask, shape, allow_empty=True) is mask
    with pytest.raises(TypeError, match=r"^mask must be a boolean mask"):
        v.check_mask(mask.float(), shape)
    with pytest.raises(ValueError, match=r"^mask must have shape"):
        v.check_mask(mask, (shape[0] + 1, shape[1]))


@PROPERTY
@given(
    hnp.array_shapes(max_dims=3, max_side=3, min_side=0),
    hnp.array_shapes(max_dims=3, max_side=3, min_side=0),
)
def test_check_same_shape_refuses_exactly_different_shapes(a, b):
    if a == b:
        v.check_same_shape(torch.zeros(a), torch.zeros(b), "images", "clean")
    else:
        with pytest.raises(ValueError, match=r"^images and clean must have the same shape"):
            v.check_same_shape(torch.zeros(a), torch.zeros(b), "images", "clean")


# --- labels, flags, datasets ---------------------------------------------------------------
@PROPERTY
@given(st.sets(st.integers(0, 9), max_size=5), st.lists(st.integers(0, 9), min_size=1))
def test_check_labels_present_refuses_exactly_the_absent_labels(labels, targets):
    missing = sorted(labels - set(targets))
    if missing:
        with pytest.raises(ValueError, match=rf"^labels {re.escape(str(missing))} are not present"):
            v.check_labels_present(labels, torch.tensor(targets))
    else:
        v.check_labels_present(labels, torch.tensor(targets))


@PROPERTY
@given(st.lists(st.booleans(), min_size=1, max_size=8), st.integers(0, 9))
def test_check_flags_keeps_booleans_and_refuses_scores_and_wrong_lengths(flags, length):
    kept = v.check_flags(flags, "is_error")
    assert kept.dtype == bool and kept.tolist() == flags
    assert v.check_flags(torch.tensor(flags).long(), "is_error").tolist() == flags
    if length != len(flags):
        with pytest.raises(ValueError, match=r"^is_error must be 1-D, one entry per"):
            v.check_flags(flags, "is_error", length=length)
    with pytest.raises(ValueError, match=r"^is_error must hold booleans"):
        v.check_flags([*flags, 0.5], "is_error")


class _Arrays:
    def __init__(self, n_data, n_targets):
        self.data, self.targets = torch.zeros(n_data, 2, 2), torch.zeros(n_targets)


@PROPERTY
@given(st.integers(0, 5), st.integers(0, 5))
def test_check_dataset_arrays_keeps_exactly_aligned_torchvision_like_datasets(n, m):
    dataset = _Arrays(n, m)
    if n == m:
        assert v.check_dataset_arrays(dataset) is dataset
    else:
        with pytest.raises(ValueError, match=r"^dataset.data and dataset.targets must have one"):
            v.check_dataset_arrays(dataset)
    with pytest.raises(TypeError, match=r"^dataset must have .data and .targets"):
        v.check_dataset_arrays(torch.zeros(n, 2))


def test_check_same_device_accepts_the_models_device_and_names_the_fix():
    model = nn.Linear(2, 2)
    v.check_same_device(model, torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"inputs are on meta but the model is on cpu; move"):
        v.check_same_device(model, torch.zeros(1, 2, device="meta"))
