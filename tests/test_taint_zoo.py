"""The Clever Hans zoo's corruptions: Square, Text, Watermark, Gradient.

The properties every corruption shares (dtype, shape, 0..255, input untouched, only chosen
labels, changes inside the mask) run on these too, through ``CORRUPTIONS`` in test_taint.py;
this file checks what each one promises of its own, and its errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from failure_modes.data.taint import Gradient, Square, Text, Watermark, taint_dataset

SETTINGS = settings(max_examples=25, deadline=None)
BLACK = torch.zeros(1, 28, 28, dtype=torch.uint8)


def _noise(seed: int, n: int = 3) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))


# --- Square -----------------------------------------------------------------------------------


@SETTINGS
@given(
    row=st.integers(0, 27),
    col=st.integers(0, 27),
    size=st.integers(1, 28),
    value=st.integers(0, 255),
    seed=st.integers(0, 2**32 - 1),
)
def test_square_paints_exactly_its_block(row, col, size, value, seed):
    square = Square(row=row, col=col, size=size, value=value)
    images = _noise(seed)
    if row + size > 28 or col + size > 28:
        with pytest.raises(ValueError, match="outside"):
            square(images)
        return
    out = square(images)
    block = torch.zeros(28, 28, dtype=torch.bool)
    block[row : row + size, col : col + size] = True
    assert torch.equal(square.mask(28, 28), block)
    assert bool((out[:, block] == value).all())
    assert torch.equal(out[:, ~block], images[:, ~block])


def test_square_rejects_bad_parameters():
    with pytest.raises(ValueError, match=r"row \+ size <= 28"):
        Square(row=26, size=4)(BLACK)
    with pytest.raises(ValueError, match="outside"):
        Square(col=25, size=4).mask(28, 28)
    with pytest.raises(ValueError, match="size"):
        Square(size=0)
    with pytest.raises(ValueError, match="non-negative"):
        Square(row=-1)
    with pytest.raises(ValueError, match="value"):
        Square(value=300)
    with pytest.raises(TypeError, match="value"):
        Square(value=1.5)
    with pytest.raises(TypeError, match="size"):
        Square(size=2.0)


# --- Text -------------------------------------------------------------------------------------


def test_text_draws_bright_ink_inside_its_mask_only():
    stamp = Text("12:07", row=1, col=11, size=6)
    out = stamp(BLACK)[0]
    mask = stamp.mask(28, 28)
    assert int(out.max()) > 128  # small glyphs are anti-aliased: few pixels fully covered
    assert (
        int(Text("A", row=None, col=None, size=20)(BLACK).max()) == 255
    )  # fully covered pixels get the value
    assert bool((out[~mask] == 0).all())
    assert bool((out[mask] > 0).all())
    # The ink starts at the requested corner.
    rows, cols = torch.nonzero(mask, as_tuple=True)
    assert (int(rows.min()), int(cols.min())) == (1, 11)


def test_text_is_readable_and_different_texts_differ():
    assert not torch.equal(Text("12:07").mask(28, 28), Text("08:15").mask(28, 28))
    bigger = Text("12:07", size=8, row=0, col=0).mask(28, 28).sum()
    assert int(bigger) > int(Text("12:07", size=6, row=0, col=0).mask(28, 28).sum())


def test_text_with_no_position_is_centred():
    mask = Text("A", row=None, col=None, size=20).mask(28, 28)
    rows, cols = torch.nonzero(mask, as_tuple=True)
    centre = ((rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2)
    assert abs(float(centre[0]) - 13.5) <= 1 and abs(float(centre[1]) - 13.5) <= 1


@SETTINGS
@given(
    text=st.text(alphabet="0123456789:-ABC", min_size=1, max_size=8),
    size=st.integers(3, 30),
    row=st.integers(0, 27),
    col=st.integers(0, 27),
)
def test_text_either_fits_and_stays_in_its_mask_or_says_it_does_not_fit(text, size, row, col):
    stamp = Text(text, row=row, col=col, size=size)
    images = _noise(0, n=2)
    try:
        out = stamp(images)
    except ValueError as error:
        assert "does not fit" in str(error)
        height, width = stamp.coverage().shape
        assert row + height > 28 or col + width > 28
        return
    changed = (out != images).any(dim=0)
    assert not bool((changed & ~stamp.mask(28, 28)).any())


def test_text_that_does_not_fit_is_rejected_with_the_fix():
    with pytest.raises(ValueError, match=r"'a long time stamp'.*does not fit a 28x28 image"):
        Text("a long time stamp", size=8)(BLACK)
    with pytest.raises(ValueError, match="smaller size"):
        Text("12:07", row=26)(BLACK)
    with pytest.raises(ValueError, match="does not fit"):
        Text("W", size=60, row=None, col=None).mask(28, 28)


def test_text_rejects_empty_or_invisible_text_and_bad_parameters():
    for text in ("", "   "):
        with pytest.raises(ValueError, match="text"):
            Text(text)
    with pytest.raises(ValueError, match="size"):
        Text(size=0)
    with pytest.raises(ValueError, match="row"):
        Text(row=-2)
    with pytest.raises(ValueError, match="value"):
        Text(value=-1)


# --- Watermark --------------------------------------------------------------------------------


@SETTINGS
@given(alpha=st.floats(0.0, 1.0))
def test_watermark_blends_with_its_alpha(alpha):
    mark = Watermark(alpha=alpha)
    out = mark(BLACK)[0].float()
    # The same arithmetic as the blend on a black image: 255 * (alpha * coverage).
    expected = (255 * (alpha * mark._layer(28, 28))).round()
    assert torch.equal(out, expected)


def test_watermark_alpha_zero_changes_nothing_and_one_is_an_opaque_stamp():
    images = _noise(1)
    assert torch.equal(Watermark(alpha=0.0)(images), images)
    opaque = Watermark(alpha=1.0, text="FM", size=10, row=2, col=2)
    assert torch.equal(opaque(images), Text("FM", size=10, row=2, col=2)(images))


def test_watermark_is_fainter_than_a_stamp_and_grows_with_alpha():
    faint, strong = Watermark(alpha=0.1)(BLACK), Watermark(alpha=0.6)(BLACK)
    assert int(faint.max()) <= 26 < int(strong.max())
    assert bool((strong >= faint).all())


@pytest.mark.parametrize("alpha", [-0.01, 1.01, 2, float("inf")])
def test_watermark_alpha_outside_zero_one_is_rejected(alpha):
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        Watermark(alpha=alpha)


def test_watermark_alpha_must_be_a_number():
    with pytest.raises(TypeError, match="alpha"):
        Watermark(alpha="0.5")


# --- Gradient ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("corner", "start", "end"),
    [
        ("top-left", (0, 0), (27, 27)),
        ("top-right", (0, 27), (27, 0)),
        ("bottom-left", (27, 0), (0, 27)),
        ("bottom-right", (27, 27), (0, 0)),
    ],
)
def test_gradient_ramps_from_its_corner_to_the_opposite_one(corner, start, end):
    ramp = Gradient(amplitude=100.0, corner=corner)
    out = ramp(BLACK)[0]
    assert int(out[start]) == 0 and int(out[end]) == 100
    # Halfway along the diagonal: half the amplitude.
    assert float(ramp.ramp(28, 28)[start[0] // 2 + end[0] // 2, start[1] // 2 + end[1] // 2]) == (
        pytest.approx(50.0, abs=4.0)
    )
    assert not bool(ramp.mask(28, 28)[start])
    assert bool(ramp.mask(28, 28)[end])


@SETTINGS
@given(amplitude=st.floats(1.0, 255.0), seed=st.integers(0, 2**32 - 1))
def test_gradient_adds_its_ramp_and_saturates(amplitude, seed):
    ramp = Gradient(amplitude=amplitude)
    images = _noise(seed)
    out = ramp(images)
    expected = (images.float() + ramp.ramp(28, 28)).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(out, expected)
    assert bool((out >= images).all())


def test_gradient_works_on_one_pixel_wide_images():
    assert Gradient()(torch.zeros(1, 1, 5, dtype=torch.uint8)).shape == (1, 1, 5)


def test_gradient_rejects_bad_parameters():
    with pytest.raises(ValueError, match="corner.*top-left"):
        Gradient(corner="middle")
    for amplitude in (0, -5, 300):
        with pytest.raises(ValueError, match="amplitude"):
            Gradient(amplitude=amplitude)


# --- several labels at once -------------------------------------------------------------------


def test_taint_dataset_puts_each_label_its_own_artifact(make_dataset):
    dataset = make_dataset(n_per_class=10)
    zoo = {1: Square(), 3: Text(row=1, col=11), 5: Watermark(alpha=0.3), 8: Gradient()}
    before = dataset.data.clone()
    tainted = taint_dataset(dataset, zoo, fraction=0.8, seed=3)
    assert torch.equal(dataset.data, before)
    for label, artifact in zoo.items():
        chosen = (dataset.targets == label) & tainted.tainted
        assert int(chosen.sum()) == 8
        assert torch.equal(tainted.data[chosen], artifact(before[chosen]))
        spared = (dataset.targets == label) & ~tainted.tainted
        assert torch.equal(tainted.data[spared], before[spared])
    others = ~torch.isin(dataset.targets, torch.tensor(list(zoo)))
    assert torch.equal(tainted.data[others], before[others])
