"""Corruptions and taint_dataset: properties every artifact must keep, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failure_modes.data.taint import (
    Corruption,
    Gradient,
    Grid,
    Pixel,
    Square,
    Text,
    Watermark,
    taint_dataset,
    taint_images,
)

# Every corruption the package offers, in a few settings; each property test below runs on all
# of them. Add new corruptions here (all must fit a 28x28 image).
CORRUPTIONS = [
    Pixel(),
    Pixel(row=0, col=27, value=0),
    Grid(),
    Grid(spacing=3, amplitude=255.0, sigma=1.0),
    Square(),
    Square(row=20, col=22, size=6, value=0),
    Text(),
    Text("A", row=None, col=None, size=20, value=128),
    Watermark(),
    Watermark(alpha=1.0, text="FM", size=10, row=2, col=2),
    Gradient(),
    Gradient(amplitude=255.0, corner="bottom-right"),
]
# Corruptions whose contract is to change no pixel outside ``mask(h, w)``.
MASK_BOUNDED = (Pixel, Square, Text, Watermark, Gradient)

SETTINGS = settings(max_examples=25, deadline=None)


def _ids(corruption: Corruption) -> str:
    return repr(corruption)


corruptions = pytest.mark.parametrize("corruption", CORRUPTIONS, ids=_ids)


@st.composite
def image_batches(draw, max_n: int = 4, size: tuple[int, int] = (28, 28)) -> torch.Tensor:
    """uint8 ``[N, H, W]`` batches: uniform noise between a drawn low and high value.

    Drawing the bounds (not every pixel) keeps examples cheap and still reaches black, white
    and saturated images.
    """
    n = draw(st.integers(1, max_n))
    low = draw(st.sampled_from([0, 0, 1, 128, 250, 255]))
    high = draw(st.integers(low, 255))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(low, high, (n, *size), endpoint=True, dtype=np.uint8))


def _changed(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    return before != after


# --- properties of every corruption -----------------------------------------------------------


@corruptions
@SETTINGS
@given(images=image_batches())
def test_keeps_dtype_shape_and_never_touches_input(corruption, images):
    before = images.clone()
    out = corruption(images)
    assert out.dtype == torch.uint8
    assert out.shape == images.shape
    assert out.data_ptr() != images.data_ptr()
    assert torch.equal(images, before)


@corruptions
@SETTINGS
@given(images=image_batches(), increase=image_batches())
def test_brighter_input_never_gives_darker_output(corruption, images, increase):
    # Every artifact maps each pixel value through a non-decreasing function (set, add, blend),
    # then clamps. Wrap-around (250 + 80 -> 74) would break this order.
    increase = increase[:1].expand_as(images)
    brighter = (images.int() + increase.int()).clamp(max=255).to(torch.uint8)
    assert bool((corruption(brighter) >= corruption(images)).all())


@corruptions
@SETTINGS
@given(images=image_batches())
def test_deterministic_and_independent_of_the_batch(corruption, images):
    out = corruption(images)
    assert torch.equal(out, corruption(images))
    for index in range(len(images)):
        assert torch.equal(out[index], corruption(images[index : index + 1])[0])


@corruptions
@pytest.mark.parametrize("shape", [(28, 28), (30, 32)])
def test_mask_is_boolean_image_sized_and_not_empty(corruption, shape):
    mask = corruption.mask(*shape)
    assert mask.dtype == torch.bool
    assert mask.shape == shape
    assert bool(mask.any())


@pytest.mark.parametrize(
    "corruption", [c for c in CORRUPTIONS if isinstance(c, MASK_BOUNDED)], ids=_ids
)
@SETTINGS
@given(images=image_batches())
def test_changes_stay_inside_the_mask(corruption, images):
    changed = _changed(images, corruption(images)).any(dim=0)
    assert not bool((changed & ~corruption.mask(*images.shape[-2:])).any())


@corruptions
@SETTINGS
@given(images=image_batches(max_n=12), data=st.data())
def test_taint_images_changes_only_chosen_labels(corruption, images, data):
    labels = torch.tensor(
        data.draw(st.lists(st.integers(0, 3), min_size=len(images), max_size=len(images)))
    )
    label = data.draw(st.sampled_from(sorted(set(labels.tolist()))))
    before = images.clone()
    out, tainted = taint_images(images, labels, {label: corruption})
    chosen = labels == label
    assert torch.equal(tainted, chosen)
    assert torch.equal(out[~chosen], images[~chosen])
    assert torch.equal(out[chosen], corruption(images[chosen]))
    assert torch.equal(images, before)


@corruptions
def test_numpy_input_is_accepted_and_left_alone(corruption):
    array = np.full((2, 28, 28), 100, dtype=np.uint8)
    out = corruption(array)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.uint8
    assert (array == 100).all()


# --- Pixel ------------------------------------------------------------------------------------


@SETTINGS
@given(
    images=image_batches(),
    row=st.integers(0, 27),
    col=st.integers(0, 27),
    value=st.integers(0, 255),
)
def test_pixel_sets_exactly_its_pixel(images, row, col, value):
    pixel = Pixel(row=row, col=col, value=value)
    out = pixel(images)
    assert bool((out[:, row, col] == value).all())
    expected_mask = torch.zeros(28, 28, dtype=torch.bool)
    expected_mask[row, col] = True
    assert torch.equal(pixel.mask(28, 28), expected_mask)
    changed = _changed(images, out)
    assert torch.equal(changed.any(dim=0), (images[:, row, col] != value).any() & expected_mask)


# --- Grid -------------------------------------------------------------------------------------


def test_grid_saturates_instead_of_wrapping():
    grid = Grid()
    images = torch.full((1, 28, 28), 250, dtype=torch.uint8)
    out = grid(images)
    assert out[0, 0, 0] == 255  # on a line: 250 + 80 stays 255
    assert bool((out >= images).all())
    assert bool((grid(torch.full((1, 28, 28), 255, dtype=torch.uint8)) == 255).all())


@SETTINGS
@given(
    images=image_batches(),
    spacing=st.integers(2, 9),
    amplitude=st.floats(1.0, 255.0),
    sigma=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_grid_adds_its_texture_and_changes_nothing_outside_it(images, spacing, amplitude, sigma):
    grid = Grid(spacing=spacing, amplitude=amplitude, sigma=sigma)
    texture = grid.texture(28, 28)
    assert texture.shape == (28, 28)
    assert float(texture.min()) >= 0.0
    assert float(texture.max()) == pytest.approx(amplitude, rel=1e-5)
    out = grid(images)
    assert bool((out >= images).all())
    changed = _changed(images, out).any(dim=0)
    assert not bool((changed & (texture <= 0)).any())
    assert not bool((grid.mask(28, 28) & (texture <= 0)).any())
    # Where the texture is strong and the pixel has room, the pixel brightens.
    room = (images.int() + texture.round().int() <= 255) & (texture >= 1)
    assert bool((out.int()[room] > images.int()[room]).all())


def test_sparse_grid_leaves_pixels_between_lines_alone():
    # Guards against a vacuous check above: with wide spacing the texture has zeros.
    grid = Grid(spacing=8, sigma=0.5)
    texture = grid.texture(28, 28)
    assert bool((texture == 0).any())
    images = torch.full((1, 28, 28), 100, dtype=torch.uint8)
    out = grid(images)
    assert bool((out[0][texture == 0] == 100).all())
    assert bool((out[0][grid.mask(28, 28)] > 100).all())


# --- taint_dataset ----------------------------------------------------------------------------


def test_taint_dataset_returns_a_new_dataset_and_keeps_the_original(tiny_dataset):
    data, targets = tiny_dataset.data.clone(), tiny_dataset.targets.clone()
    tainted = taint_dataset(tiny_dataset, {7: Pixel(), 4: Grid()})
    assert tainted is not tiny_dataset
    assert type(tainted) is type(tiny_dataset)
    assert tainted.data.data_ptr() != tiny_dataset.data.data_ptr()
    assert torch.equal(tiny_dataset.data, data)
    assert torch.equal(tiny_dataset.targets, targets)
    assert not hasattr(tiny_dataset, "tainted")
    assert torch.equal(tainted.targets, targets)
    assert tainted.data.dtype == torch.uint8 and tainted.data.shape == data.shape
    # The background of the fixture is black, so every tainted image really changed.
    changed = (tainted.data != data).flatten(1).any(dim=1)
    assert torch.equal(tainted.tainted, changed)
    assert torch.equal(changed, (targets == 7) | (targets == 4))
    sevens = targets == 7
    assert bool((tainted.data[sevens, 25, 25] == 255).all())
    assert torch.equal(tainted.data[targets == 4], Grid()(data[targets == 4]))
    # The copy still loads like the original.
    image, label = tainted[int(torch.nonzero(sevens)[0])]
    assert label == 7 and image[0, 25, 25] == 1.0


# The factory fixture is stateless, so sharing it across examples is safe.
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fraction=st.floats(0.01, 1.0), seed=st.integers(0, 2**31), n_per_class=st.integers(1, 9))
def test_taint_dataset_fraction_taints_a_seeded_share_of_each_label(
    make_dataset, fraction, seed, n_per_class
):
    dataset = make_dataset(n_per_class=n_per_class, labels=(1, 2, 3))
    corruptions = {1: Pixel(), 3: Grid()}
    first = taint_dataset(dataset, corruptions, fraction=fraction, seed=seed)
    again = taint_dataset(dataset, corruptions, fraction=fraction, seed=seed)
    assert torch.equal(first.tainted, again.tainted)
    assert torch.equal(first.data, again.data)
    for label in (1, 3):
        assert int(first.tainted[dataset.targets == label].sum()) == round(fraction * n_per_class)
    assert not bool(first.tainted[dataset.targets == 2].any())
    changed = (first.data != dataset.data).flatten(1).any(dim=1)
    assert torch.equal(changed, first.tainted)


def test_taint_dataset_seed_chooses_which_images(make_dataset):
    dataset = make_dataset(n_per_class=20, labels=(0, 1))
    picks = [
        taint_dataset(dataset, {1: Pixel()}, fraction=0.5, seed=seed).tainted for seed in (0, 1)
    ]
    assert [int(pick.sum()) for pick in picks] == [10, 10]
    assert not torch.equal(picks[0], picks[1])  # 10 of 20 images: 184,756 possible choices


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("images", "error"),
    [
        (torch.zeros(2, 28, 28), TypeError),
        (torch.zeros(28, 28, dtype=torch.uint8), ValueError),
        (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), ValueError),
    ],
    ids=["float", "2-D", "4-D"],
)
@corruptions
def test_corruptions_reject_images_that_are_not_uint8_batches(corruption, images, error):
    with pytest.raises(error, match="images"):
        corruption(images)
    with pytest.raises(error, match="images"):
        taint_images(images, torch.zeros(len(images), dtype=torch.int64), {0: corruption})


def test_pixel_outside_the_image_is_rejected():
    with pytest.raises(ValueError, match=r"row=30.*28x28"):
        Pixel(row=30)(torch.zeros(1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="outside"):
        Pixel(col=28).mask(28, 28)
    with pytest.raises(ValueError, match="non-negative"):
        Pixel(row=-1)
    with pytest.raises(ValueError, match="value"):
        Pixel(value=256)


@pytest.mark.parametrize("argument", ["row", "col"])
def test_pixel_position_must_be_an_integer(argument):
    with pytest.raises(TypeError, match=f"{argument} must be a non-negative integer.*25.5"):
        Pixel(**{argument: 25.5})


def test_grid_rejects_bad_parameters():
    with pytest.raises(ValueError, match="spacing"):
        Grid(spacing=1)
    with pytest.raises(ValueError, match="amplitude"):
        Grid(amplitude=0)
    with pytest.raises(ValueError, match="sigma"):
        Grid(sigma=-0.5)
    with pytest.raises(TypeError, match="spacing"):
        Grid(spacing=2.5)


def test_labels_not_in_dataset_are_rejected_listing_present_ones(make_dataset):
    dataset = make_dataset(labels=(0, 1, 2))
    with pytest.raises(ValueError, match=r"\[7\].*\[0, 1, 2\]"):
        taint_dataset(dataset, {7: Pixel(), 1: Grid()})


def test_taint_rejects_other_mistakes(tiny_dataset):
    images, labels = tiny_dataset.data, tiny_dataset.targets
    with pytest.raises(ValueError, match="targets"):
        taint_images(images, labels[:-1], {1: Pixel()})
    with pytest.raises(TypeError, match="integer class labels"):
        taint_images(images, labels.float(), {1: Pixel()})
    with pytest.raises(TypeError, match=r"corruptions\[1\]"):
        taint_images(images, labels, {1: "pixel"})
    for fraction in (0, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            taint_images(images, labels, {1: Pixel()}, fraction=fraction)
    with pytest.raises(TypeError, match="targets"):
        taint_dataset(images, {1: Pixel()})
